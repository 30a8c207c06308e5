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
    Ok(Code::Ok)
}
