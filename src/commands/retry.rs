//! `git dispatch retry`: send what is pending or failed now, ignoring backoff.

use anyhow::Result;

use crate::config::Config;
use crate::delivery::{self, Mode};
use crate::exit::Code;
use crate::repo::Repo;
use crate::say;
use crate::store::{Entry, State, Store};
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
    let mut problem = false;
    let entries = as_configured_now(&store, &config, entries, &mut problem)?;
    let outcomes = delivery::deliver(&store, &config.settings, &entries, Mode::All);
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

/// The entries as their targets' config says now: a repository corrected since the push
/// (a typo in `add`) is where they go; an entry whose target was removed is not sent.
fn as_configured_now(
    store: &Store,
    config: &Config,
    entries: Vec<Entry>,
    problem: &mut bool,
) -> Result<Vec<Entry>> {
    let mut sendable = Vec::new();
    for entry in entries {
        let Some(target) = config.target(&entry.target) else {
            say::line(&format!(
                "{} ({} {}): its target {:?} is no longer configured, so it is not sent; \
                 `git dispatch drop {}` forgets it",
                entry.id,
                entry.repository,
                entry.short_sha(),
                entry.target,
                entry.id
            ));
            *problem = true;
            continue;
        };
        let now = &target.repository.value;
        let now_hook = target.hook.as_ref().map(|h| h.to_config());
        // A GitHub dispatch and a deploy hook's request have different bodies: an entry
        // of the one kind is never sent as the other.
        if (now_hook.is_some(), target.netlify.is_some())
            != (entry.hook.is_some(), entry.netlify.is_some())
        {
            say::line(&format!(
                "{}: target {:?} is now {now}, another kind than when this push was recorded, \
                 so it is not sent; `git dispatch drop {}` forgets it, `git dispatch send` \
                 sends the current commit",
                entry.id, entry.target, entry.id
            ));
            *problem = true;
            continue;
        }
        if *now == entry.repository && now_hook == entry.hook && target.netlify == entry.netlify {
            sendable.push(entry);
            continue;
        }
        let _lock = store.lock_target(&entry.target)?;
        let Some(mut fresh) = store.reload(&entry.id)? else {
            continue;
        };
        if now_hook.is_some() {
            say::line(&format!(
                "{}: its hook is now the one added last, so that is where it goes",
                entry.target
            ));
        } else {
            say::line(&format!(
                "{}: {} is now {now} in the config, so that is where it goes",
                entry.target, fresh.repository
            ));
        }
        fresh.repository = now.clone();
        fresh.hook = now_hook;
        fresh.netlify = target.netlify.clone();
        store.save(&fresh)?;
        sendable.push(fresh);
    }
    Ok(sendable)
}
