//! The clone we run in, read with gix: where its state and hooks live, its remotes and refs.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use gix::bstr::ByteSlice;

/// An open repository.
pub struct Repo {
    inner: gix::Repository,
}

impl Repo {
    /// Finds the repository containing the current directory, honouring `GIT_DIR` and friends.
    pub fn discover() -> Result<Repo> {
        // An absolute start gives absolute paths in every message and file we write.
        let cwd = std::env::current_dir().context("reading the current directory")?;
        let inner = match gix::discover_with_environment_overrides(&cwd) {
            Ok(inner) => inner,
            // Said plainly: where we are, and where to go; gix's own words add nothing.
            Err(err) if err.to_string().contains("Could not find a git repository") => {
                anyhow::bail!(
                    "{} is not inside a git repository; run this in your content clone (`cd` \
                     there first)",
                    cwd.display()
                )
            }
            Err(err) => {
                return Err(err).context(
                    "not inside a readable git repository; run this in your content clone",
                )
            }
        };
        Ok(Repo { inner })
    }

    /// The git config as git itself would read it (all sources, includes resolved).
    pub fn config(&self) -> gix::config::Snapshot<'_> {
        self.inner.config_snapshot()
    }

    /// The top of the work tree, if the repository has one.
    pub fn workdir(&self) -> Option<&Path> {
        self.inner.workdir()
    }

    /// The git dir of this worktree (`.git`, or `.git/worktrees/<name>` in a linked one).
    pub fn git_dir(&self) -> &Path {
        self.inner.git_dir()
    }

    /// The git dir shared by all worktrees; our state lives in `dispatch/` below it.
    pub fn common_dir(&self) -> &Path {
        self.inner.common_dir()
    }

    /// `.git/config` of this clone (shared by worktrees), where `add` writes.
    pub fn local_config_path(&self) -> PathBuf {
        self.common_dir().join("config")
    }

    /// Where git looks for hooks: `core.hooksPath` (relative to the work tree top, as git
    /// resolves it for hooks) or `hooks/` in the common git dir.
    pub fn hooks_dir(&self) -> Result<PathBuf> {
        let config = self.config();
        let configured = config
            .trusted_path("core.hooksPath")
            .context("reading core.hooksPath")?;
        let Some(path) = configured else {
            return Ok(self.common_dir().join("hooks"));
        };
        if path.is_absolute() {
            return Ok(path);
        }
        let base = self.workdir().unwrap_or(self.git_dir());
        Ok(base.join(path))
    }

    /// Whether `path` lies inside this repository (its work tree or its git dirs).
    pub fn contains(&self, path: &Path) -> bool {
        let path = normalise(path);
        self.workdir()
            .is_some_and(|top| path.starts_with(normalise(top)))
            || self.git_dirs_contain(&path)
    }

    /// Whether `path` lies inside this repository's git dirs, where nothing is committed.
    pub fn git_dirs_contain(&self, path: &Path) -> bool {
        let path = normalise(path);
        [self.common_dir(), self.git_dir()]
            .iter()
            .any(|root| path.starts_with(normalise(root)))
    }

    /// The remote's configured URL, if `name` is a configured remote.
    pub fn remote_url(&self, name: &str) -> Option<String> {
        self.config_string(&format!("remote.{name}.url"))
    }

    /// The last value of config `key` (`section.subsection.name`), as git reads it.
    pub fn config_string(&self, key: &str) -> Option<String> {
        self.config()
            .string(key)
            .map(|v| v.to_str_lossy().into_owned())
    }

    /// Whether `name` is a configured remote (git passes a URL as the name of a push by URL).
    pub fn is_remote(&self, name: &str) -> bool {
        let config = self.config();
        let found = config
            .plumbing()
            .sections_by_name("remote")
            .into_iter()
            .flatten()
            .any(|s| {
                s.header()
                    .subsection_name()
                    .is_some_and(|n| n == name.as_bytes())
            });
        found
    }

    /// The URLs a push to `remote` goes to, rewritten as git rewrites them: its `pushurl`s
    /// with `insteadOf`, else its `url`s with `pushInsteadOf` (or, with none matching,
    /// `insteadOf`).
    pub fn push_urls(&self, remote: &str) -> Vec<String> {
        let config = self.config();
        let file = config.plumbing();
        let values = |key: &str| -> Vec<String> {
            file.strings(format!("remote.{remote}.{key}").as_str())
                .unwrap_or_default()
                .iter()
                .map(|v| v.to_str_lossy().into_owned())
                .collect()
        };
        let rules = |key: &str| -> Vec<(String, String)> {
            let mut found = Vec::new();
            for section in file.sections_by_name("url").into_iter().flatten() {
                let Some(base) = section.header().subsection_name() else {
                    continue;
                };
                for prefix in section.body().values(key) {
                    found.push((
                        prefix.to_str_lossy().into_owned(),
                        base.to_str_lossy().into_owned(),
                    ));
                }
            }
            found
        };
        let instead_of = rules("insteadOf");
        let push_urls = values("pushurl");
        if !push_urls.is_empty() {
            return push_urls.iter().map(|u| rewrite(u, &instead_of)).collect();
        }
        let push_instead_of = rules("pushInsteadOf");
        values("url")
            .iter()
            .map(|u| {
                let pushed = rewrite(u, &push_instead_of);
                if pushed != *u {
                    pushed
                } else {
                    rewrite(u, &instead_of)
                }
            })
            .collect()
    }

    /// The remote-tracking ref that `remote_ref` on `remote` maps to through the remote's
    /// fetch refspecs (`refs/heads/main` -> `refs/remotes/origin/main`), if any maps it.
    pub fn tracking_ref_name(&self, remote: &str, remote_ref: &str) -> Option<String> {
        let key = format!("remote.{remote}.fetch");
        let config = self.config();
        let specs = config.plumbing().strings(key.as_str()).unwrap_or_default();
        // Git uses the last matching refspec; negative ones (`^…`) only exclude.
        let mut found = None;
        for spec in specs {
            let spec = spec.to_str_lossy();
            let spec = spec.trim_start_matches('+');
            if let Some(negative) = spec.strip_prefix('^') {
                if map_refspec(negative, remote_ref).is_some() {
                    return None;
                }
                continue;
            }
            if let Some((src, dst)) = spec.split_once(':') {
                if let Some(mapped) = map_glob(src, dst, remote_ref) {
                    found = Some(mapped);
                }
            }
        }
        found
    }

    /// The sha a ref holds now, if the ref exists.
    pub fn ref_sha(&self, name: &str) -> Result<Option<String>> {
        let reference = self
            .inner
            .try_find_reference(name)
            .with_context(|| format!("reading {name}"))?;
        Ok(reference.and_then(|r| r.try_id().map(|id| id.to_string())))
    }

    /// Where a new branch `new` pushed to `remote` forked from what the remote already has:
    /// its merge base with the remote's default branch as last fetched
    /// (`refs/remotes/<remote>/HEAD`, else `main` or `master` there). `None` if there is no
    /// such ref or no common commit within `MAX_WALK` commits.
    pub fn fork_point(&self, remote: &str, new: &str) -> Result<Option<String>> {
        let mut theirs = None;
        for name in ["HEAD", "main", "master"] {
            if let Some(r) = self
                .inner
                .try_find_reference(format!("refs/remotes/{remote}/{name}").as_str())?
            {
                theirs = Some(r.into_fully_peeled_id()?.detach());
                break;
            }
        }
        let (Some(theirs), Ok(ours)) = (theirs, gix::ObjectId::from_hex(new.as_bytes())) else {
            return Ok(None);
        };
        // Everything the remote's branch reaches, then our nearest commit among it.
        let mut known = std::collections::HashSet::new();
        self.find_ancestor(theirs, |id| {
            known.insert(*id);
            false
        })?;
        Ok(self
            .find_ancestor(ours, |id| known.contains(id))?
            .map(|id| id.to_string()))
    }

    /// Whether commit `ancestor` is reachable from `descendant` (within `MAX_WALK` commits).
    pub fn is_ancestor(&self, ancestor: &str, descendant: &str) -> Result<bool> {
        let (Ok(a), Ok(d)) = (
            gix::ObjectId::from_hex(ancestor.as_bytes()),
            gix::ObjectId::from_hex(descendant.as_bytes()),
        ) else {
            return Ok(false);
        };
        Ok(self.find_ancestor(d, |id| *id == a)?.is_some())
    }

    /// Walks `start` and its ancestors nearest first, at most `MAX_WALK` commits, and
    /// returns the first for which `found` holds.
    fn find_ancestor(
        &self,
        start: gix::ObjectId,
        mut found: impl FnMut(&gix::ObjectId) -> bool,
    ) -> Result<Option<gix::ObjectId>> {
        let mut queue = std::collections::VecDeque::from([start]);
        let mut seen = std::collections::HashSet::from([start]);
        while let Some(id) = queue.pop_front() {
            if found(&id) {
                return Ok(Some(id));
            }
            if seen.len() > MAX_WALK {
                break;
            }
            for parent in self.parents(id)? {
                if seen.insert(parent) {
                    queue.push_back(parent);
                }
            }
        }
        Ok(None)
    }

    /// The first line of commit `sha`'s message, if we have the commit.
    pub fn subject(&self, sha: &str) -> Option<String> {
        let id = gix::ObjectId::from_hex(sha.as_bytes()).ok()?;
        let commit = self.inner.find_object(id).ok()?.try_into_commit().ok()?;
        let message = commit.message().ok()?;
        Some(message.summary().to_string())
    }

    /// The parents of commit `id` (none if we do not have it).
    fn parents(&self, id: gix::ObjectId) -> Result<Vec<gix::ObjectId>> {
        let Ok(object) = self.inner.find_object(id) else {
            return Ok(Vec::new());
        };
        let commit = object
            .try_into_commit()
            .with_context(|| format!("{id} is not a commit"))?;
        Ok(commit.parent_ids().map(|p| p.detach()).collect())
    }

    /// The files (not directories) that differ between the trees of commits `old` and
    /// `new`; `None` when that cannot be told here (`old` unknown locally, or none: a new
    /// branch), which callers treat as "everything changed".
    pub fn changed_paths(&self, old: &str, new: &str) -> Result<Option<Vec<String>>> {
        let tree_of = |sha: &str| -> Result<Option<gix::Tree<'_>>> {
            let Ok(id) = gix::ObjectId::from_hex(sha.as_bytes()) else {
                return Ok(None);
            };
            if id.is_null() {
                return Ok(None);
            }
            let Ok(object) = self.inner.find_object(id) else {
                return Ok(None);
            };
            let commit = object
                .try_into_commit()
                .with_context(|| format!("{sha} is not a commit"))?;
            Ok(Some(
                commit
                    .tree()
                    .with_context(|| format!("reading the tree of {sha}"))?,
            ))
        };
        let (Some(old_tree), Some(new_tree)) = (tree_of(old)?, tree_of(new)?) else {
            return Ok(None);
        };
        let mut recorder = gix::diff::tree::Recorder::default();
        gix::diff::tree(
            gix::objs::TreeRefIter::from_bytes(&old_tree.data, old_tree.id.kind()),
            gix::objs::TreeRefIter::from_bytes(&new_tree.data, new_tree.id.kind()),
            &mut gix::diff::tree::State::default(),
            &self.inner.objects,
            &mut recorder,
        )
        .context("comparing the pushed trees")?;
        use gix::diff::tree::recorder::Change;
        let paths = recorder
            .records
            .into_iter()
            .filter_map(|change| match change {
                Change::Addition {
                    entry_mode, path, ..
                }
                | Change::Deletion {
                    entry_mode, path, ..
                }
                | Change::Modification {
                    entry_mode, path, ..
                } => (!entry_mode.is_tree()).then(|| path.to_str_lossy().into_owned()),
            })
            .collect();
        Ok(Some(paths))
    }
}

/// How many commits the fork-point search walks on each side before giving up.
const MAX_WALK: usize = 100_000;

/// `refs/heads/*` style match of `name` against the source side of a refspec.
fn map_refspec(src: &str, name: &str) -> Option<String> {
    map_glob(src, src, name)
}

/// `url` with the longest matching prefix of `rules` (prefix, replacement) replaced, as
/// git applies `url.<base>.insteadOf`.
fn rewrite(url: &str, rules: &[(String, String)]) -> String {
    rules
        .iter()
        .filter(|(prefix, _)| !prefix.is_empty() && url.starts_with(prefix.as_str()))
        .max_by_key(|(prefix, _)| prefix.len())
        .map_or_else(
            || url.to_string(),
            |(prefix, base)| format!("{base}{}", &url[prefix.len()..]),
        )
}

/// Whether two remote URLs name the same repository: equal but for a trailing `/`, and for
/// a URL with a host a trailing `.git` (GitHub serves `owner/repo` and `owner/repo.git`
/// alike; on a disk `/srv/c` and `/srv/c.git` are two repositories).
pub fn same_url(a: &str, b: &str) -> bool {
    let norm = |u: &str| -> String {
        let u = u.trim_end_matches('/');
        // `scheme://…` or scp-like `host:path` (a colon before any slash).
        let hosted = u.contains("://") || u.split('/').next().is_some_and(|h| h.contains(':'));
        match u.strip_suffix(".git") {
            Some(bare) if hosted => bare.to_string(),
            _ => u.to_string(),
        }
    };
    norm(a) == norm(b)
}

/// Maps `name` through `src:dst`, each side with at most one `*`.
fn map_glob(src: &str, dst: &str, name: &str) -> Option<String> {
    match src.split_once('*') {
        None => (src == name).then(|| dst.to_string()),
        Some((prefix, suffix)) => {
            let middle = name.strip_prefix(prefix)?.strip_suffix(suffix)?;
            Some(dst.replacen('*', middle, 1))
        }
    }
}

/// `path` with `.` and `..` resolved lexically, and canonical where it exists (temp dirs
/// behind symlinks, like macOS's `/var` -> `/private/var`).
fn normalise(path: &Path) -> PathBuf {
    if let Ok(real) = path.canonicalize() {
        return real;
    }
    let mut out = PathBuf::new();
    for part in path.components() {
        match part {
            std::path::Component::ParentDir => {
                out.pop();
            }
            std::path::Component::CurDir => {}
            other => out.push(other),
        }
    }
    match (out.parent(), out.file_name()) {
        (Some(parent), Some(name)) if parent.exists() => normalise(parent).join(name),
        _ => out,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_rewritten_by_the_longest_prefix_and_compared_without_dot_git() {
        let rules = vec![
            ("gh:".to_string(), "git@github.com:".to_string()),
            ("gh:me/".to_string(), "https://github.com/me/".to_string()),
        ];
        assert_eq!(
            rewrite("gh:me/content", &rules),
            "https://github.com/me/content"
        );
        assert_eq!(rewrite("gh:you/x", &rules), "git@github.com:you/x");
        assert_eq!(rewrite("other", &rules), "other");
        assert!(same_url("git@github.com:me/c.git", "git@github.com:me/c"));
        assert!(same_url("https://h/me/c/", "https://h/me/c.git"));
        assert!(!same_url("https://h/me/c", "https://h/me/d"));
        assert!(
            !same_url("/srv/c", "/srv/c.git"),
            "two repositories on a disk"
        );
        assert!(same_url("/srv/c.git/", "/srv/c.git"));
    }

    #[test]
    fn maps_through_refspecs() {
        assert_eq!(
            map_glob("refs/heads/*", "refs/remotes/origin/*", "refs/heads/main").as_deref(),
            Some("refs/remotes/origin/main")
        );
        assert_eq!(
            map_glob("refs/heads/main", "refs/remotes/o/main", "refs/heads/dev"),
            None
        );
        assert_eq!(
            map_glob("refs/heads/*", "refs/remotes/origin/*", "refs/tags/v1"),
            None
        );
    }
}
