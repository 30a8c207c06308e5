//! `git dispatch install [--force]`: the hook into this clone, then, in a clone with no
//! target, the guided setup (`setup`).

use anyhow::Result;

use crate::config::Config;
use crate::exit::Code;
use crate::repo::Repo;
use crate::{install, say, setup, shared};

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
    if !config.targets.is_empty() {
        return Ok(Code::Ok);
    }
    let clone = repo.workdir().unwrap_or(repo.git_dir()).to_path_buf();
    if setup::on_terminal() {
        return setup::guided(&clone);
    }
    say::line(&format!("no target yet; {}", setup::finish_words(&clone)));
    Ok(Code::Ok)
}
