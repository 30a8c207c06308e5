//! Sending confirmed entries: one thread per target, each under its target's lock, so
//! targets go out in parallel and no push is sent twice by racing processes.

use std::collections::BTreeMap;

use anyhow::Result;

use crate::config::Settings;
use crate::github::{self, Api, Method, Verdict};
use crate::store::{Delivery, Entry, State, Store};
use crate::token;

/// First retry after this many seconds; doubled per attempt up to `MAX_BACKOFF`.
const FIRST_BACKOFF: u64 = 30;
const MAX_BACKOFF: u64 = 3600;

/// What became of one entry.
#[derive(Clone, Debug)]
pub struct Outcome {
    /// The entry as it was sent.
    pub entry: Entry,
    /// GitHub's verdict, or ours when nothing could be sent.
    pub verdict: Verdict,
}

/// Which entries to send.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Confirmed entries whose backoff has passed (the waiter, the hook).
    Due,
    /// Confirmed and failed entries, now (`retry`).
    All,
}

/// Sends what `mode` selects among `candidates` (ids re-read under the lock) and returns
/// an outcome per entry sent. Older undelivered pushes of the same target and branch are
/// superseded by the newest.
pub fn deliver(
    store: &Store,
    settings: &Settings,
    candidates: &[Entry],
    mode: Mode,
) -> Vec<Outcome> {
    let mut by_target: BTreeMap<&str, Vec<&Entry>> = BTreeMap::new();
    for entry in candidates {
        by_target.entry(&entry.target).or_default().push(entry);
    }
    std::thread::scope(|scope| {
        let handles: Vec<_> = by_target
            .into_iter()
            .map(|(target, entries)| {
                scope.spawn(
                    move || match deliver_target(store, settings, target, &entries, mode) {
                        Ok(outcomes) => outcomes,
                        Err(err) => {
                            store.log("error", None, &format!("target {target}: {err:#}"));
                            Vec::new()
                        }
                    },
                )
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap_or_default())
            .collect()
    })
}

fn deliver_target(
    store: &Store,
    settings: &Settings,
    target: &str,
    candidates: &[&Entry],
    mode: Mode,
) -> Result<Vec<Outcome>> {
    let _lock = store.lock_target(target)?;
    // Re-read under the lock: another process may have delivered or changed them.
    let mut fresh = Vec::new();
    for entry in candidates {
        if let Some(e) = store.reload(&entry.id)? {
            let wanted = match mode {
                Mode::Due => e.state == State::Confirmed && e.next_attempt <= crate::store::now(),
                Mode::All => matches!(e.state, State::Confirmed | State::Failed),
            };
            if wanted {
                fresh.push(e);
            }
        }
    }
    let mut outcomes = Vec::new();
    for entry in supersede(store, fresh)? {
        let verdict = send_one(settings, &entry);
        settle(store, &entry, &verdict)?;
        outcomes.push(Outcome { entry, verdict });
    }
    Ok(outcomes)
}

/// Keeps the newest entry per remote ref; the older ones are removed as superseded.
fn supersede(store: &Store, mut entries: Vec<Entry>) -> Result<Vec<Entry>> {
    entries.sort_by_key(|e| e.seq);
    let mut newest: BTreeMap<String, Entry> = BTreeMap::new();
    for entry in entries {
        if let Some(older) = newest.insert(entry.remote_ref.clone(), entry) {
            store.remove(&older.id)?;
            store.log(
                "superseded",
                Some(&older),
                "a newer push of the same branch replaces it",
            );
        }
    }
    let mut kept: Vec<Entry> = newest.into_values().collect();
    kept.sort_by_key(|e| e.seq);
    Ok(kept)
}

/// One POST; never panics, never returns the token.
fn send_one(settings: &Settings, entry: &Entry) -> Verdict {
    let api = match Api::new(&settings.api_url.value, settings.timeout.value) {
        Ok(api) => api,
        Err(err) => {
            return Verdict::Later {
                reason: format!("{err:#}"),
                after: None,
            }
        }
    };
    let owner = entry.repository.split('/').next().unwrap_or_default();
    let token = match token::find(settings, api.host(), owner) {
        Ok(token) => token,
        Err(err) => {
            return Verdict::Later {
                reason: format!("{err:#}"),
                after: None,
            }
        }
    };
    let url = api.dispatch_url(&entry.repository);
    let answer = api.send(Method::Post, &url, Some(&entry.body), &token);
    github::judge(&answer, &entry.repository)
}

/// Records a verdict: delivered entries leave the store for the history.
fn settle(store: &Store, entry: &Entry, verdict: &Verdict) -> Result<()> {
    let now = crate::store::now();
    match verdict {
        Verdict::Delivered => {
            // Record first, then forget: a crash in between can only send a duplicate,
            // never lose the push.
            store.record_delivery(Delivery {
                id: entry.id.clone(),
                target: entry.target.clone(),
                repository: entry.repository.clone(),
                remote_ref: entry.remote_ref.clone(),
                sha: entry.sha.clone(),
                delivered: now,
            })?;
            store.remove(&entry.id)?;
            store.log("delivered", Some(entry), &entry.repository);
        }
        Verdict::Later { reason, after } => {
            let mut e = entry.clone();
            e.state = State::Confirmed;
            e.attempts += 1;
            let backoff = FIRST_BACKOFF
                .saturating_mul(1 << (e.attempts - 1).min(10))
                .min(MAX_BACKOFF);
            e.next_attempt = now + after.unwrap_or(backoff);
            e.last_error = Some(reason.clone());
            e.updated = now;
            store.save(&e)?;
            store.log("retry-later", Some(&e), reason);
        }
        Verdict::Refused { reason } => {
            let mut e = entry.clone();
            e.state = State::Failed;
            e.attempts += 1;
            e.last_error = Some(reason.clone());
            e.updated = now;
            store.save(&e)?;
            store.log("failed", Some(&e), reason);
        }
    }
    Ok(())
}

/// One line for an outcome, as printed by the hook, `retry` and `send`.
pub fn describe(outcome: &Outcome) -> String {
    let e = &outcome.entry;
    match &outcome.verdict {
        Verdict::Delivered => format!(
            "dispatched to {} ({} {})",
            e.repository,
            e.branch(),
            e.short_sha()
        ),
        Verdict::Later { reason, .. } => format!(
            "dispatch to {} not sent yet, will retry: {reason}",
            e.repository
        ),
        Verdict::Refused { reason } => format!("dispatch to {} failed: {reason}", e.repository),
    }
}
