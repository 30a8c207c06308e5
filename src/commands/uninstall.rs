//! `git dispatch uninstall`: remove our hook, restore the one it displaced.

use anyhow::Result;

use crate::exit::Code;
use crate::repo::Repo;
use crate::{install, say};

/// `uninstall`.
pub fn run() -> Result<Code> {
    let repo = Repo::discover()?;
    for line in install::uninstall(&repo)? {
        say::line(&line);
    }
    // Nothing of ours keeps running in this clone: a follower is stopped.
    if let Some(pid) = crate::follow::stop(&crate::store::Store::new(repo.common_dir())) {
        say::line(&format!("stopped the follower (pid {pid})"));
    }
    Ok(Code::Ok)
}
