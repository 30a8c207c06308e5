//! `git dispatch install [--force]`: the hook into this clone.

use anyhow::Result;

use crate::config::Config;
use crate::exit::Code;
use crate::repo::Repo;
use crate::{install, say, shared};

/// `install [--force]`.
pub fn run(force: bool) -> Result<Code> {
    let repo = Repo::discover()?;
    for line in install::install(&repo, force)? {
        say::line(&line);
    }
    // What is committed when the user installs is what they chose to install with.
    if let Some(path) = shared::trust(&repo)? {
        say::line(&format!("trusted {} as it is now", path.display()));
    }
    let config = Config::load(&repo)?;
    if config.targets.is_empty() {
        say::line("next: `git dispatch add owner/site`, then `git dispatch login` with a fine-grained token");
    }
    Ok(Code::Ok)
}
