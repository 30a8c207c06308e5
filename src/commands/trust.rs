//! `git dispatch trust`: accept the current `.gitdispatch`.

use anyhow::Result;

use crate::exit::Code;
use crate::repo::Repo;
use crate::say;
use crate::shared::{self, SHARED_FILE};

/// `trust`: accept the current `.gitdispatch`.
pub fn run() -> Result<Code> {
    let repo = Repo::discover()?;
    match shared::trust(&repo)? {
        Some(path) => say::line(&format!(
            "trusted {}; its targets are used until it changes",
            path.display()
        )),
        None => say::line(&format!(
            "no {SHARED_FILE} in this work tree; nothing to trust"
        )),
    }
    Ok(Code::Ok)
}
