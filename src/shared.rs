//! The committed `.gitdispatch`: where it is, the id of its content, and whether the user
//! trusts it as it is now. A pull request can change the file, so its targets are used
//! only while its blob id matches `dispatch.trusted` in the clone's own config
//! (doc/decisions.md, "Targets, settings and the trust model for .gitdispatch").

use std::path::PathBuf;

use anyhow::{Context, Result};
use gix::bstr::ByteSlice;
use gix::config::Source;

use crate::repo::Repo;

/// The committed file of shared targets, at the top of the work tree.
pub const SHARED_FILE: &str = ".gitdispatch";

/// `dispatch.trusted` (the clone's own config): the blob id of the `.gitdispatch` the user
/// last accepted with `git dispatch trust`. A changed file's targets are not used until then.
pub const TRUST_KEY: &str = "dispatch.trusted";

/// `dispatch.trusted` from the clone's own config only (a global value must not vouch).
pub fn trusted_id(file: &gix::config::File) -> Option<String> {
    file.sections_by_name("dispatch")
        .into_iter()
        .flatten()
        .filter(|s| s.header().subsection_name().is_none())
        .filter(|s| matches!(s.meta().source, Source::Local | Source::Worktree))
        .filter_map(|s| {
            s.body()
                .values("trusted")
                .last()
                .map(|v| v.to_str_lossy().into_owned())
        })
        .last()
}

/// Whether the `.gitdispatch` as it is now is trusted (no file: nothing to distrust).
pub fn is_trusted(repo: &Repo) -> Result<bool> {
    Ok(match find(repo)? {
        Some((_, id)) => trusted_id(repo.config().plumbing()).as_deref() == Some(id.as_str()),
        None => true,
    })
}

/// The committed `.gitdispatch`, if there is one, with the blob id of its content.
pub fn find(repo: &Repo) -> Result<Option<(PathBuf, String)>> {
    let Some(path) = repo.workdir().map(|w| w.join(SHARED_FILE)) else {
        return Ok(None);
    };
    let bytes = match std::fs::read(&path) {
        Ok(bytes) => bytes,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(err) => return Err(err).with_context(|| format!("reading {}", path.display())),
    };
    let id = gix::objs::compute_hash(gix::hash::Kind::Sha1, gix::objs::Kind::Blob, &bytes)
        .with_context(|| format!("hashing {}", path.display()))?;
    Ok(Some((path, id.to_string())))
}

/// Records the current `.gitdispatch` as trusted in the clone's config; its path, or
/// `None` when there is no such file.
pub fn trust(repo: &Repo) -> Result<Option<PathBuf>> {
    let Some((path, id)) = find(repo)? else {
        return Ok(None);
    };
    crate::config::write(&repo.local_config_path(), &[TRUST_KEY, &id])?;
    Ok(Some(path))
}
