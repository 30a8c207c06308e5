//! What git tells a pre-push hook, and which of it fires a target.
//!
//! Git writes one line per ref it is about to update on the remote:
//!
//! ```text
//! <local ref> SP <local sha> SP <remote ref> SP <remote sha> LF
//! refs/heads/main 3f2a… refs/heads/main 9c1b…      update main
//! (delete)        0000… refs/heads/old  77e0…      deletion: local sha all zeros
//! refs/heads/new  a1b2… refs/heads/new  0000…      new branch: remote sha all zeros
//! ```

use anyhow::{bail, Result};

use crate::config::Target;

/// One ref update of a push.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RefUpdate {
    /// The local ref pushed (`refs/heads/dev`, `HEAD`, `(delete)`).
    pub local_ref: String,
    /// The sha the remote ref will hold; all zeros for a deletion.
    pub new_sha: String,
    /// The remote ref updated (`refs/heads/main`).
    pub remote_ref: String,
    /// The sha the remote ref holds now, as far as we know; all zeros if it is new.
    pub old_sha: String,
}

impl RefUpdate {
    /// Whether this deletes the remote ref.
    pub fn is_deletion(&self) -> bool {
        is_zero(&self.new_sha)
    }
}

/// Whether `sha` is git's null object id.
pub fn is_zero(sha: &str) -> bool {
    sha.bytes().all(|b| b == b'0')
}

/// Longest line we accept; git's are well under 1 KiB even for long ref names.
const MAX_LINE: usize = 4096;

/// Parses the hook's standard input. Anything malformed is an error naming the line.
pub fn parse(input: &[u8]) -> Result<Vec<RefUpdate>> {
    let Ok(text) = std::str::from_utf8(input) else {
        bail!(
            "pre-push input is not UTF-8; git writes `<local ref> <sha> <remote ref> <sha>` lines"
        );
    };
    let mut updates = Vec::new();
    for (number, line) in text.lines().enumerate() {
        let line = line.trim_end_matches('\r');
        if line.is_empty() {
            continue;
        }
        let show = || {
            let mut s: String = line.chars().take(60).collect();
            if s.len() < line.len() {
                s.push('…');
            }
            format!("{s:?}")
        };
        if line.len() > MAX_LINE || line.contains('\0') {
            bail!(
                "pre-push input line {} is not a ref update: {}",
                number + 1,
                show()
            );
        }
        let fields: Vec<&str> = line.split(' ').collect();
        let [local_ref, new_sha, remote_ref, old_sha] = fields.as_slice() else {
            bail!(
                "pre-push input line {} has {} fields, not `<local ref> <sha> <remote ref> <sha>`: {}",
                number + 1,
                fields.len(),
                show()
            );
        };
        for sha in [new_sha, old_sha] {
            if !is_object_id(sha) {
                bail!(
                    "pre-push input line {} has {:?} where a sha belongs",
                    number + 1,
                    sha
                );
            }
        }
        if !remote_ref.starts_with("refs/") {
            bail!(
                "pre-push input line {} names {:?}, not a full ref",
                number + 1,
                remote_ref
            );
        }
        updates.push(RefUpdate {
            local_ref: local_ref.to_string(),
            new_sha: new_sha.to_string(),
            remote_ref: remote_ref.to_string(),
            old_sha: old_sha.to_string(),
        });
    }
    Ok(updates)
}

fn is_object_id(s: &str) -> bool {
    (s.len() == 40 || s.len() == 64) && s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// Whether `update`, pushed to `remote`, fires `target`: the right remote, one of its
/// branches, not a deletion, not up to date.
pub fn fires(target: &Target, remote: &str, update: &RefUpdate) -> bool {
    !update.is_deletion()
        && update.new_sha != update.old_sha
        && target.fires_for(remote, &update.remote_ref)
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: &str = "1111111111111111111111111111111111111111";
    const B: &str = "2222222222222222222222222222222222222222";
    const Z: &str = "0000000000000000000000000000000000000000";

    #[test]
    fn parses_git_lines() {
        let input =
            format!("refs/heads/main {A} refs/heads/main {B}\n(delete) {Z} refs/heads/old {A}\n");
        let updates = parse(input.as_bytes()).unwrap();
        assert_eq!(updates.len(), 2);
        assert_eq!(updates[0].new_sha, A);
        assert_eq!(updates[0].old_sha, B);
        assert!(updates[1].is_deletion());
        assert!(parse(b"").unwrap().is_empty());
    }

    #[test]
    fn rejects_garbage_with_the_line() {
        for bad in [
            "hello".to_string(),
            format!("refs/heads/main {A} refs/heads/main"),
            format!("refs/heads/main xyz refs/heads/main {B}"),
            format!("refs/heads/main {A} main {B}"),
            format!("refs/heads/main {A} refs/heads/m\0ain {B}"),
        ] {
            let err = parse(bad.as_bytes()).unwrap_err().to_string();
            assert!(err.contains("line 1"), "{bad:?}: {err}");
        }
        assert!(parse(&[0xff, 0xfe])
            .unwrap_err()
            .to_string()
            .contains("UTF-8"));
    }

    mod properties {
        use super::super::*;
        use proptest::prelude::*;

        fn sha() -> impl Strategy<Value = String> {
            "[0-9a-f]{40}"
        }

        fn full_ref() -> impl Strategy<Value = String> {
            "refs/(heads|tags)/[A-Za-z0-9._/-]{1,30}"
        }

        proptest! {
            #[test]
            fn never_panics_on_any_bytes(input in proptest::collection::vec(any::<u8>(), 0..600)) {
                let _ = parse(&input);
            }

            #[test]
            fn git_lines_parse_back_exactly(
                updates in proptest::collection::vec((full_ref(), sha(), full_ref(), sha()), 0..8)
            ) {
                let text: String = updates
                    .iter()
                    .map(|(l, n, r, o)| format!("{l} {n} {r} {o}\n"))
                    .collect();
                let parsed = parse(text.as_bytes()).unwrap();
                prop_assert_eq!(parsed.len(), updates.len());
                for (p, (l, n, r, o)) in parsed.iter().zip(&updates) {
                    prop_assert_eq!(&p.local_ref, l);
                    prop_assert_eq!(&p.new_sha, n);
                    prop_assert_eq!(&p.remote_ref, r);
                    prop_assert_eq!(&p.old_sha, o);
                }
            }

            #[test]
            fn any_broken_line_is_named(
                good in (full_ref(), sha(), full_ref(), sha()),
                junk in "[^\n]{0,80}",
            ) {
                let (l, n, r, o) = good;
                let text = format!("{l} {n} {r} {o}\n{junk}\n");
                if let Err(err) = parse(text.as_bytes()) {
                    prop_assert!(err.to_string().contains("line 2"), "{}", err);
                }
            }
        }
    }
}
