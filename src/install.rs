//! Installing the hook into a clone, and taking it out again.
//!
//! The hook is a small `sh` shim (`hooks/pre-push`, embedded) that `exec`s the binary, so
//! the binary's parent is `git push` itself, which the waiter then waits for. A foreign
//! `pre-push` is moved aside, run first by the binary, and restored by `uninstall`.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};

use crate::repo::Repo;

/// The hook we own.
pub const HOOK: &str = "pre-push";
/// Where a foreign `pre-push` goes; the shim and the binary run it first.
pub const DISPLACED: &str = "pre-push.before-git-dispatch";
/// `DISPLACED` is the hook's own name with this suffix.
pub const DISPLACED_SUFFIX: &str = "before-git-dispatch";
/// The line that marks a file as ours.
pub const FINGERPRINT: &str = "# installed by git-dispatch";

const TEMPLATE: &str = include_str!("../hooks/pre-push");

/// The shim, with the absolute path of `bin` as its last resort.
pub fn hook_text(bin: &Path) -> String {
    TEMPLATE.replace("@BIN@", &sh_quote(&bin.to_string_lossy()))
}

/// Whether `text` is a hook we wrote (any version).
pub fn is_ours(text: &[u8]) -> bool {
    String::from_utf8_lossy(text)
        .lines()
        .take(3)
        .any(|l| l.starts_with(FINGERPRINT))
}

fn sh_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// What `install` did, line by line.
pub fn install(repo: &Repo, force: bool) -> Result<Vec<String>> {
    let dir = repo.hooks_dir()?;
    let default_dir = repo.common_dir().join("hooks");
    if dir != default_dir && !repo.contains(&dir) && !force {
        bail!(
            "core.hooksPath is {}, outside this repository: a hook there runs for every repository \
             using it. Either install here only with `git config --unset core.hooksPath`, or \
             install there anyway with `git dispatch install --force`",
            dir.display()
        );
    }
    fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let exe = std::env::current_exe()
        .and_then(fs::canonicalize)
        .context("finding our own binary")?;
    let text = hook_text(&exe);
    let hook = dir.join(HOOK);
    let displaced = dir.join(DISPLACED);
    let mut said = Vec::new();

    match fs::read(&hook) {
        Ok(current) if current == text.as_bytes() => {
            said.push(format!("hook already installed: {}", hook.display()));
            return Ok(said);
        }
        Ok(current) if is_ours(&current) => {}
        Ok(_) => {
            if displaced.exists() {
                bail!(
                    "{} and {} both exist; merge one into the other, then run install again",
                    hook.display(),
                    displaced.display()
                );
            }
            fs::rename(&hook, &displaced)
                .with_context(|| format!("moving {} aside", hook.display()))?;
            said.push(format!(
                "kept your existing pre-push hook as {}; it runs first on every push",
                displaced.display()
            ));
        }
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
            // A dangling symlink reads as missing but still blocks the write; move it aside.
            if fs::symlink_metadata(&hook).is_ok() {
                fs::rename(&hook, &displaced)
                    .with_context(|| format!("moving {} aside", hook.display()))?;
            }
        }
        Err(err) => return Err(err).with_context(|| format!("reading {}", hook.display())),
    }
    write_executable(&hook, text.as_bytes())?;
    said.push(format!("installed the pre-push hook: {}", hook.display()));
    Ok(said)
}

/// What `uninstall` did, line by line.
pub fn uninstall(repo: &Repo) -> Result<Vec<String>> {
    let dir = repo.hooks_dir()?;
    let hook = dir.join(HOOK);
    let displaced = dir.join(DISPLACED);
    let mut said = Vec::new();
    match fs::read(&hook) {
        Ok(text) if is_ours(&text) => {
            fs::remove_file(&hook).with_context(|| format!("removing {}", hook.display()))?;
            said.push(format!("removed {}", hook.display()));
        }
        Ok(_) => said.push(format!("{} is not ours; left it alone", hook.display())),
        Err(_) => said.push(format!("no git-dispatch hook in {}", dir.display())),
    }
    if fs::symlink_metadata(&displaced).is_ok() {
        if fs::symlink_metadata(&hook).is_ok() {
            said.push(format!(
                "{} left in place because {} exists",
                displaced.display(),
                hook.display()
            ));
        } else {
            fs::rename(&displaced, &hook)
                .with_context(|| format!("restoring {}", hook.display()))?;
            said.push(format!(
                "restored your previous pre-push hook: {}",
                hook.display()
            ));
        }
    }
    Ok(said)
}

/// The displaced foreign hook, if there is one to run.
pub fn displaced_hook(repo: &Repo) -> Result<Option<PathBuf>> {
    let path = repo.hooks_dir()?.join(DISPLACED);
    Ok(runnable(&path).then_some(path))
}

/// Whether `path` is a file git would run as a hook (executable).
pub fn runnable(path: &Path) -> bool {
    fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

fn write_executable(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = path.parent().context("hook path without a directory")?;
    let tmp = dir.join(format!(".{HOOK}.git-dispatch.{}.tmp", std::process::id()));
    fs::write(&tmp, bytes).with_context(|| format!("writing {}", tmp.display()))?;
    fs::set_permissions(&tmp, fs::Permissions::from_mode(0o755))
        .with_context(|| format!("making {} executable", tmp.display()))?;
    fs::rename(&tmp, path).with_context(|| format!("writing {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shim_is_fingerprinted_and_quoted() {
        let text = hook_text(Path::new("/opt/it's here/git-dispatch"));
        assert!(is_ours(text.as_bytes()));
        assert!(text.starts_with("#!/bin/sh\n"));
        assert!(text.contains(r"'/opt/it'\''s here/git-dispatch'"));
        assert!(!text.contains("@BIN@"));
        assert!(!is_ours(b"#!/bin/sh\nexit 0\n"));
    }
}
