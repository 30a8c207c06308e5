//! `git dispatch retry`: send what is pending or failed now, ignoring backoff.

use anyhow::Result;

use crate::config::Config;
use crate::delivery::{self, Mode};
use crate::exit::Code;
use crate::repo::Repo;
use crate::say;
use crate::store::{State, Store};
use crate::waiter;

/// `retry`: confirm what can be, then send everything pending or failed, now.
pub fn run() -> Result<Code> {
    let repo = Repo::discover()?;
    let config = Config::load(&repo)?;
    let store = Store::new(repo.common_dir());
    waiter::confirm_pending(&repo, &store, None)?;
    let entries = store.entries()?;
    if entries.is_empty() {
        say::line("nothing to retry");
        return Ok(Code::Ok);
    }
    let outcomes = delivery::deliver(&store, &config.settings, &entries, Mode::All);
    let mut problem = false;
    for outcome in &outcomes {
        problem |= outcome.verdict.is_err();
        say::line(&delivery::describe(outcome, true));
    }
    let waiting = store
        .entries()?
        .iter()
        .filter(|e| e.state == State::AwaitingPush)
        .count();
    if waiting > 0 {
        say::line(&format!("{waiting} push(es) not confirmed yet (still running, or the remote could not be asked); see `git dispatch status`"));
        problem = true;
    }
    // What was delivered is followed in the background.
    crate::follow::resume(&store, &config.settings);
    Ok(Code::report_if(problem))
}
