//! Path filters (`dispatch.<name>.paths`): which changed files make a push fire a target.
//!
//! Globs as GitHub Actions' `on.push.paths` reads them, so a site owner's habits carry
//! over: `*` and `?` stay within one path segment, `**` crosses segments (`**/` also matches
//! no directory at all), and a leading `!` excludes. Patterns apply in order; the last one
//! that matches a path decides. With only exclusions, everything else is included.

/// An ordered list of include and exclude patterns.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PathFilter {
    patterns: Vec<(bool, String)>,
}

impl PathFilter {
    /// A filter from config values (`content/**`, `!content/drafts/**`); empty ones are skipped.
    pub fn new(values: &[String]) -> PathFilter {
        let patterns = values
            .iter()
            .filter(|v| !v.trim().is_empty())
            .map(|v| match v.trim().strip_prefix('!') {
                Some(rest) => (false, rest.trim_start_matches('/').to_string()),
                None => (true, v.trim().trim_start_matches('/').to_string()),
            })
            .collect();
        PathFilter { patterns }
    }

    /// Whether there is no filter at all (every push fires).
    pub fn is_empty(&self) -> bool {
        self.patterns.is_empty()
    }

    /// Whether `path` (relative to the repository's top, `/`-separated) is selected.
    pub fn selects(&self, path: &str) -> bool {
        let mut selected = !self.patterns.iter().any(|(include, _)| *include);
        for (include, pattern) in &self.patterns {
            if glob(pattern.as_bytes(), path.as_bytes()) {
                selected = *include;
            }
        }
        selected
    }
}

/// Matches `path` against `pattern` (`**`, `*`, `?`; everything else literally).
fn glob(pattern: &[u8], path: &[u8]) -> bool {
    match pattern {
        [] => path.is_empty(),
        [b'*', b'*', b'/', rest @ ..] => {
            // Zero directories, or any number of whole segments.
            glob(rest, path)
                || path
                    .iter()
                    .enumerate()
                    .filter(|(_, c)| **c == b'/')
                    .any(|(i, _)| glob(rest, &path[i + 1..]))
        }
        [b'*', b'*', rest @ ..] => (0..=path.len()).any(|i| glob(rest, &path[i..])),
        [b'*', rest @ ..] => {
            let segment = path.iter().position(|c| *c == b'/').unwrap_or(path.len());
            (0..=segment).any(|i| glob(rest, &path[i..]))
        }
        [b'?', rest @ ..] => matches!(path, [c, tail @ ..] if *c != b'/' && glob(rest, tail)),
        [p, rest @ ..] => matches!(path, [c, tail @ ..] if c == p && glob(rest, tail)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn filter(patterns: &[&str]) -> PathFilter {
        PathFilter::new(&patterns.iter().map(|s| s.to_string()).collect::<Vec<_>>())
    }

    #[test]
    fn globs_follow_actions_paths() {
        let f = filter(&["content/**"]);
        assert!(f.selects("content/post.md"));
        assert!(f.selects("content/2024/a/b.png"));
        assert!(!f.selects("notes.md"));
        assert!(!f.selects("contents/x"));

        let f = filter(&["*.md"]);
        assert!(f.selects("a.md"));
        assert!(!f.selects("dir/a.md"));

        let f = filter(&["**/*.md"]);
        assert!(f.selects("a.md"));
        assert!(f.selects("dir/sub/a.md"));
        assert!(!f.selects("dir/a.txt"));

        let f = filter(&["img/?.png"]);
        assert!(f.selects("img/a.png"));
        assert!(!f.selects("img/ab.png"));
    }

    #[test]
    fn exclusions_apply_in_order() {
        let f = filter(&["content/**", "!content/drafts/**"]);
        assert!(f.selects("content/post.md"));
        assert!(!f.selects("content/drafts/wip.md"));

        let f = filter(&["!drafts/**"]);
        assert!(f.selects("post.md"));
        assert!(!f.selects("drafts/x.md"));

        assert!(filter(&[]).is_empty());
    }

    mod properties {
        use super::super::*;
        use proptest::prelude::*;

        proptest! {
            #[test]
            fn globs_never_panic(pattern in "[a-z*?/!.]{0,20}", path in "[a-z/.]{0,30}") {
                let _ = PathFilter::new(&[pattern]).selects(&path);
            }

            #[test]
            fn a_literal_path_selects_itself_only(path in "[a-z]{1,8}(/[a-z]{1,8}){0,3}", other in "[a-z]{1,8}") {
                let f = PathFilter::new(std::slice::from_ref(&path));
                prop_assert!(f.selects(&path));
                let below = format!("{path}/{other}");
                prop_assert!(!f.selects(&below));
            }

            #[test]
            fn double_star_selects_everything_below(dir in "[a-z]{1,8}", rest in "[a-z]{1,8}(/[a-z]{1,8}){0,3}") {
                let f = PathFilter::new(&[format!("{dir}/**")]);
                let (inside, beside) = (format!("{dir}/{rest}"), format!("{dir}x/{rest}"));
                prop_assert!(f.selects(&inside));
                prop_assert!(!f.selects(&beside));
            }
        }
    }
}
