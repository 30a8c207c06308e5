//! Installing the hook into a clone, and taking it out again.
//!
//! The hook takes one of two forms. In the clone's own git dir with nothing else to run, it
//! is a symbolic link to the binary: git runs us directly, with no shell in between (half a
//! millisecond on every push, bench/). The binary must then be one this user cannot write
//! (so never for root), or a tool writing the hook would write into it. Otherwise (a
//! writable binary, root, a chained foreign `pre-push`, a hooks directory in the work tree,
//! which may be committed, or shared outside the repository) the hook is a small `sh` shim
//! (`hooks/pre-push`, embedded) that finds the binary by `GIT_DISPATCH_BIN`, `PATH` or its install path, and
//! still runs the foreign hook when the binary is gone: git-lfs's upload must not depend on
//! us. Either way the binary's parent is `git push` itself, which the waiter then waits
//! for. A foreign `pre-push` is moved aside, run first by the binary, and restored by
//! `uninstall`.

use std::ffi::OsStr;
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
/// The binary's file name; a link to a file of this name is our hook.
const BINARY: &str = "git-dispatch";

const TEMPLATE: &str = include_str!("../hooks/pre-push");

/// The shim, with the absolute path of `bin` as its last resort.
pub fn hook_text(bin: &Path) -> String {
    TEMPLATE.replace("@BIN@", &sh_quote(&bin.to_string_lossy()))
}

/// Whether `text` is a shim we wrote (any version).
pub fn is_ours(text: &[u8]) -> bool {
    String::from_utf8_lossy(text)
        .lines()
        .take(3)
        .any(|l| l.starts_with(FINGERPRINT))
}

/// `s` as one sh word, single-quoted.
pub fn sh_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// The first shell word of `text` as sh reads it: `'…'` quoted parts and `\x` escapes,
/// up to unquoted white space. Undoes `sh_quote`.
fn sh_unquote(text: &str) -> Option<String> {
    let mut word = String::new();
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        match c {
            '\'' => loop {
                match chars.next()? {
                    '\'' => break,
                    c => word.push(c),
                }
            },
            '\\' => word.push(chars.next()?),
            c if c.is_whitespace() => break,
            c => word.push(c),
        }
    }
    (!word.is_empty()).then_some(word)
}

/// What is at `<hooks>/pre-push`.
#[derive(Debug, PartialEq)]
pub enum Installed {
    /// No file, not even a dangling link.
    Nothing,
    /// A link to a git-dispatch binary (it may be gone): git runs that binary.
    Link(PathBuf),
    /// Our shim, any version; its text.
    Shim(Vec<u8>),
    /// Someone else's hook.
    Foreign,
}

/// Reads what is at `hook` without following a link to a binary.
pub fn installed(hook: &Path) -> Result<Installed> {
    match fs::read_link(hook) {
        Ok(target) if target.file_name() == Some(OsStr::new(BINARY)) => {
            let target = match hook.parent() {
                Some(dir) if target.is_relative() => dir.join(target),
                _ => target,
            };
            return Ok(Installed::Link(target));
        }
        Ok(_) => {}
        // EINVAL: not a link.
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(Installed::Nothing),
        Err(_) => {}
    }
    match fs::read(hook) {
        Ok(text) if is_ours(&text) => Ok(Installed::Shim(text)),
        Ok(_) => Ok(Installed::Foreign),
        // A dangling link to something else: foreign, and moved aside like any other.
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(Installed::Foreign),
        Err(err) => Err(err).with_context(|| format!("reading {}", hook.display())),
    }
}

/// The binary `install` is running as.
pub struct Binary {
    /// Its canonical path.
    pub exe: PathBuf,
    /// The path a link should name: the one the user ran or finds on `PATH`, which outlives
    /// an upgrade that moves the canonical file (Homebrew's Cellar, the Nix store).
    pub link: PathBuf,
    /// Whether this user could write it (see `Why::Writable`).
    pub writable: bool,
    /// Whether this user is root, who can write any file (see `Why::Root`).
    pub root: bool,
}

impl Binary {
    /// This process's binary.
    pub fn current() -> Result<Binary> {
        let exe = std::env::current_exe()
            .and_then(fs::canonicalize)
            .context("finding our own binary")?;
        fs::metadata(&exe).with_context(|| format!("reading {}", exe.display()))?;
        // access(2) alone decides: a distribution's 0755 root-owned binary is safe to link
        // for everyone but root, and root may write even a 0555 file, so root gets the shim.
        let writable = can_write(&exe);
        // SAFETY: geteuid has no preconditions.
        let root = unsafe { libc::geteuid() } == 0;
        let invoked = std::env::args_os()
            .next()
            .map(PathBuf::from)
            .filter(|p| p.components().count() > 1)
            .and_then(|p| {
                // The directory resolved (no `..` left to dangle), the name kept (a link
                // such as Homebrew's bin/git-dispatch is the stable name).
                let name = p.file_name()?.to_owned();
                Some(fs::canonicalize(p.parent()?).ok()?.join(name))
            });
        let on_path: Vec<PathBuf> = std::env::var_os(crate::env::PATH)
            .map(|p| std::env::split_paths(&p).map(|d| d.join(BINARY)).collect())
            .unwrap_or_default();
        let link = invoked
            .into_iter()
            .chain(on_path)
            .find(|p| {
                p.is_absolute() && p.file_name() == Some(OsStr::new(BINARY)) && links_to(p, &exe)
            })
            .unwrap_or_else(|| exe.clone());
        Ok(Binary {
            exe,
            link,
            writable,
            root,
        })
    }
}

/// What `install` writes at `<hooks>/pre-push`.
#[derive(Debug, PartialEq)]
pub enum Form {
    /// A link to the binary: git runs it with no shell in between.
    Link(PathBuf),
    /// The shim's text, and why it is not a link.
    Shim(Vec<u8>, Why),
}

/// Why the hook is the shim rather than a link.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Why {
    /// A foreign hook is chained: the shim still runs it if our binary is gone.
    Chains,
    /// The hooks dir is in the work tree (maybe committed) or shared by other clones: the
    /// shim also finds the binary on `PATH`.
    Portable,
    /// The binary is not named `git-dispatch`, which is how a link is known for ours.
    Renamed,
    /// Root can write every binary, even a read-only one: a link would let a tool writing
    /// the hook write into it.
    Root,
    /// The binary is writable: a tool that writes the hook (`git lfs update --force`, an
    /// editor) would write through a link into the binary every clone runs.
    Writable,
}

/// The form the hook takes in `dir` for `binary`; `chains` when a foreign hook runs first.
pub fn form(repo: &Repo, dir: &Path, binary: &Binary, chains: bool) -> Form {
    let why = if chains {
        Some(Why::Chains)
    } else if !repo.git_dirs_contain(dir) {
        Some(Why::Portable)
    } else if binary.exe.file_name() != Some(OsStr::new(BINARY)) {
        Some(Why::Renamed)
    } else if binary.writable && binary.root {
        Some(Why::Root)
    } else if binary.writable {
        Some(Why::Writable)
    } else {
        None
    };
    match why {
        Some(why) => Form::Shim(hook_text(&binary.exe).into_bytes(), why),
        None => Form::Link(binary.link.clone()),
    }
}

/// What `install` did, line by line.
pub fn install(repo: &Repo, force: bool) -> Result<Vec<String>> {
    let dir = repo.hooks_dir()?;
    // A hooks directory outside the repository serves every repository using it.
    let shared = dir != repo.common_dir().join("hooks") && !repo.contains(&dir);
    if shared && !force {
        bail!(
            "core.hooksPath is {}, outside this repository: a hook there runs for every repository \
             using it. Either install here only with `git config --unset core.hooksPath`, or \
             install there anyway with `git dispatch install --force`",
            dir.display()
        );
    }
    fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let binary = Binary::current()?;
    let hook = dir.join(HOOK);
    let displaced = dir.join(DISPLACED);
    let displaced_exists = fs::symlink_metadata(&displaced).is_ok();
    let current = installed(&hook)?;
    let mut said = Vec::new();

    let chains = current == Installed::Foreign || displaced_exists;
    let form = form(repo, &dir, &binary, chains);
    let current_already = match (&current, &form) {
        // Another spelling of the same binary is current too, except the canonical file
        // where a stable name now exists.
        (Installed::Link(target), Form::Link(want)) => {
            target == want
                || (links_to(target, &binary.exe)
                    && !(*target == binary.exe && *want != binary.exe))
        }
        (Installed::Shim(text), Form::Shim(want, _)) => text == want,
        _ => false,
    };
    if current_already {
        said.push(format!("hook already installed: {}", hook.display()));
        return Ok(said);
    }
    if current == Installed::Foreign {
        if displaced_exists {
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
    match &form {
        Form::Shim(text, _) => write_executable(&hook, text)?,
        Form::Link(target) => write_link(&hook, target)?,
    }
    said.push(format!("installed the pre-push hook: {}", hook.display()));
    if let Form::Shim(_, Why::Root) = form {
        said.push(
            "the hook is a small sh script, not a link to the binary: root can write even a \
             read-only binary, so a tool writing a linked hook would write into it"
                .to_string(),
        );
    }
    if let Form::Shim(_, Why::Writable) = form {
        said.push(format!(
            "the hook is a small sh script, not a link to {}, because that binary is writable \
             and a tool writing the hook would write into it; `chmod a-w` it (./install.sh does) \
             and install again for the faster link",
            binary.exe.display()
        ));
    }
    Ok(said)
}

/// What `uninstall` did, line by line.
pub fn uninstall(repo: &Repo) -> Result<Vec<String>> {
    let dir = repo.hooks_dir()?;
    let hook = dir.join(HOOK);
    let displaced = dir.join(DISPLACED);
    let mut said = Vec::new();
    match installed(&hook)? {
        Installed::Link(_) | Installed::Shim(_) => {
            fs::remove_file(&hook).with_context(|| format!("removing {}", hook.display()))?;
            said.push(format!("removed {}", hook.display()));
        }
        Installed::Foreign => said.push(format!("{} is not ours; left it alone", hook.display())),
        Installed::Nothing => said.push(format!("no git-dispatch hook in {}", dir.display())),
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

/// Whether a hook link's `target` reaches `exe` (our canonical path), by any route.
pub fn links_to(target: &Path, exe: &Path) -> bool {
    fs::canonicalize(target).is_ok_and(|t| t == exe)
}

/// Whether `path` is a file git would run as a hook (executable).
pub fn runnable(path: &Path) -> bool {
    fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// The binary the installed hook would run now, found as the hook finds it.
pub fn hook_binary(repo: &Repo) -> Result<Option<PathBuf>> {
    if let Some(bin) = std::env::var_os(crate::env::BIN).map(PathBuf::from) {
        if runnable(&bin) {
            return Ok(Some(bin));
        }
    }
    let shim = match installed(&repo.hooks_dir()?.join(HOOK))? {
        Installed::Link(target) => return Ok(runnable(&target).then_some(target)),
        Installed::Shim(text) => String::from_utf8_lossy(&text).into_owned(),
        Installed::Nothing | Installed::Foreign => return Ok(None),
    };
    if let Some(path) = std::env::var_os(crate::env::PATH) {
        if let Some(found) = std::env::split_paths(&path)
            .map(|d| d.join(BINARY))
            .find(|p| runnable(p))
        {
            return Ok(Some(found));
        }
    }
    // The absolute path written into the shim at install time, quoted by `sh_quote`.
    let written = shim.lines().find_map(|l| {
        let word = sh_unquote(l.trim().strip_prefix("if [ -x ")?)?;
        Some(PathBuf::from(word))
    });
    Ok(written.filter(|p| runnable(p)))
}

/// Whether this user may open `path` for writing.
fn can_write(path: &Path) -> bool {
    use std::os::unix::ffi::OsStrExt;
    let Ok(c) = std::ffi::CString::new(path.as_os_str().as_bytes()) else {
        return true;
    };
    // SAFETY: `c` is a valid NUL-terminated string that outlives the call.
    unsafe { libc::access(c.as_ptr(), libc::W_OK) == 0 }
}

/// Replaces `path` with a link to `target`, atomically.
fn write_link(path: &Path, target: &Path) -> Result<()> {
    let tmp = temp_beside(path)?;
    let _ = fs::remove_file(&tmp);
    std::os::unix::fs::symlink(target, &tmp)
        .with_context(|| format!("linking {} to {}", tmp.display(), target.display()))?;
    fs::rename(&tmp, path).with_context(|| format!("writing {}", path.display()))
}

fn temp_beside(path: &Path) -> Result<PathBuf> {
    let dir = path.parent().context("hook path without a directory")?;
    Ok(dir.join(format!(".{HOOK}.git-dispatch.{}.tmp", std::process::id())))
}

fn write_executable(path: &Path, bytes: &[u8]) -> Result<()> {
    let tmp = temp_beside(path)?;
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

    #[test]
    fn a_quoted_path_reads_back_as_written() {
        for path in [
            "/opt/it's here/git-dispatch",
            "/a b/'x'/git-dispatch",
            "/plain",
        ] {
            let line = format!("if [ -x {} ]; then", sh_quote(path));
            assert_eq!(
                sh_unquote(line.strip_prefix("if [ -x ").unwrap()).as_deref(),
                Some(path)
            );
        }
    }
}
