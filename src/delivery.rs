//! Sending confirmed entries: one thread per target, each under its target's lock, so
//! targets go out in parallel and no push is sent twice by racing processes.

use std::collections::BTreeMap;

use anyhow::Result;

use crate::answer::{self, Answer, Failure, Verdict};
use crate::api::{Api, Method};
use crate::config::Settings;
use crate::payload;
use crate::store::{Delivery, Entry, State, Store};
use crate::token;

/// First retry after this many seconds; doubled per attempt up to `MAX_BACKOFF`.
const FIRST_BACKOFF: u64 = 30;
const MAX_BACKOFF: u64 = 3600;

/// How long a target's default branch (the ref of a workflow dispatch) is cached.
const DEFAULT_BRANCH_MAX_AGE: u64 = 24 * 3600;
/// How long an API host is remembered as refusing `return_run_details`: servers get
/// upgraded, so the key is tried again after this.
const NO_RUN_DETAILS_MAX_AGE: u64 = 7 * 24 * 3600;

/// What became of one entry.
#[derive(Clone, Debug)]
pub struct Outcome {
    /// The entry as it was sent.
    pub entry: Entry,
    /// GitHub's verdict, or ours when nothing could be sent.
    pub verdict: Verdict,
    /// GitHub's answer, when there was one (its `Date` and run details start following).
    pub answer: Option<Answer>,
    /// Older undelivered pushes of the same branch this one replaced (removed from the
    /// store): `strict` puts them back when it stops this push.
    pub superseded: Vec<Entry>,
}

impl Outcome {
    /// The workflow run GitHub started, when its answer said.
    pub fn run_url(&self) -> Option<String> {
        self.answer.as_ref().and_then(Answer::run_url)
    }
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
    // Re-read under the lock: another process may have delivered or changed them. Every
    // undelivered push of the target counts for superseding, whatever its backoff, so an
    // older push is never sent after a newer one.
    let all: Vec<Entry> = store
        .entries()?
        .into_iter()
        .filter(|e| e.target == target && matches!(e.state, State::Confirmed | State::Failed))
        .collect();
    let now = crate::store::now();
    let mut outcomes = Vec::new();
    let (kept, mut replaced) = supersede(store, all)?;
    for entry in kept {
        let wanted = candidates.iter().any(|c| c.id == entry.id)
            && match mode {
                Mode::Due => entry.state == State::Confirmed && entry.next_attempt <= now,
                Mode::All => true,
            };
        if wanted {
            let mut outcome = send_one(store, settings, entry);
            outcome.superseded = replaced.remove(&outcome.entry.id).unwrap_or_default();
            settle(store, settings, &outcome)?;
            outcomes.push(outcome);
        }
    }
    Ok(outcomes)
}

/// Keeps the newest entry per remote ref; the older ones are removed as superseded, and
/// come back keyed by the id of the entry that replaced them.
type Replaced = BTreeMap<String, Vec<Entry>>;

fn supersede(store: &Store, mut entries: Vec<Entry>) -> Result<(Vec<Entry>, Replaced)> {
    entries.sort_by_key(|e| e.seq);
    let mut newest: BTreeMap<String, Entry> = BTreeMap::new();
    let mut replaced = Replaced::new();
    for entry in entries {
        let id = entry.id.clone();
        if let Some(older) = newest.insert(entry.remote_ref.clone(), entry) {
            store.remove(&older.id)?;
            store.log(
                "superseded",
                Some(&older),
                "a newer push of the same branch replaces it",
            );
            let mut chain = replaced.remove(&older.id).unwrap_or_default();
            chain.push(older);
            replaced.insert(id, chain);
        }
    }
    let mut kept: Vec<Entry> = newest.into_values().collect();
    kept.sort_by_key(|e| e.seq);
    Ok((kept, replaced))
}

/// Sends entries that are not stored (`send`), in parallel; deliveries go to the history.
pub fn send_unrecorded(store: &Store, settings: &Settings, entries: Vec<Entry>) -> Vec<Outcome> {
    std::thread::scope(|scope| {
        let handles: Vec<_> = entries
            .into_iter()
            .map(|entry| {
                scope.spawn(move || {
                    let outcome = send_one(store, settings, entry);
                    if outcome.verdict.is_ok() {
                        let _ = store.record_delivery(delivery_of(&outcome));
                        crate::follow::open_record(
                            store,
                            settings,
                            &outcome.entry,
                            outcome.answer.as_ref(),
                            outcome.entry.site_url.clone(),
                        );
                    }
                    outcome
                })
            })
            .collect();
        handles.into_iter().filter_map(|h| h.join().ok()).collect()
    })
}

/// One POST; never panics, never returns the token.
fn send_one(store: &Store, settings: &Settings, entry: Entry) -> Outcome {
    let (verdict, answer) = match request(store, settings, &entry) {
        Ok((verdict, answer)) => (verdict, answer),
        Err(failure) => (Err(failure), None),
    };
    // Reasons are kept and shown: no URL credentials in them.
    let verdict = verdict.map_err(|failure| match failure {
        Failure::Later {
            reason,
            after,
            at_least,
        } => Failure::Later {
            reason: crate::redact::line(&reason),
            after,
            at_least,
        },
        Failure::Refused { reason } => Failure::Refused {
            reason: crate::redact::line(&reason),
        },
    });
    Outcome {
        entry,
        verdict,
        answer,
        superseded: Vec::new(),
    }
}

fn request(
    store: &Store,
    settings: &Settings,
    entry: &Entry,
) -> Result<(Verdict, Option<Answer>), Failure> {
    if let Some(hook) = &entry.hook {
        // A deploy hook: its host's documented request, and no token.
        let hook = crate::deploy_hook::Hook::parse(hook).map_err(|e| Failure::Refused {
            reason: format!("{e:#}"),
        })?;
        // Not stored here: refused, with the fix; unreadable: may pass once fixed.
        let url = match hook.stored_url() {
            Ok(Some(url)) => url,
            Ok(None) => {
                return Err(Failure::Refused {
                    reason: hook.not_stored(),
                })
            }
            Err(e) => return Err(Failure::later(format!("{e:#}"))),
        };
        let (url, body) = crate::deploy_hook::request(hook.host, &url, &entry.body);
        let answer = crate::deploy_hook::send(&url, body, settings.timeout.value);
        // A host's answer names no run of ours: it is judged, not kept.
        return Ok((crate::deploy_hook::judge(hook.host, &answer), None));
    }
    if let Some(site) = &entry.netlify {
        // Netlify's API: the build's answer names its deploy, kept to follow it.
        let api = crate::netlify::api(settings.timeout.value).map_err(|e| Failure::Refused {
            reason: format!("{e:#}; fix {}", crate::env::NETLIFY_API_URL),
        })?;
        let token = crate::netlify::token(&api).map_err(|e| Failure::later(format!("{e:#}")))?;
        let answer = crate::netlify::start_build(&api, site, &entry.body, &token);
        let verdict = crate::netlify::judge(&answer, site);
        return Ok((verdict, answer.ok()));
    }
    let api = Api::new(&settings.api_url.value, settings.timeout.value)
        .map_err(|e| Failure::later(format!("{e:#}")))?;
    let owner = entry.repository.split('/').next().unwrap_or_default();
    let token =
        token::find(settings, api.host(), owner).map_err(|e| Failure::later(format!("{e:#}")))?;
    let (url, body) = match &entry.workflow {
        None => (api.dispatch_url(&entry.repository), entry.body.clone()),
        Some(workflow) => {
            let git_ref = match &entry.workflow_ref {
                Some(r) => r.clone(),
                None => {
                    match store.cached_default_branch(&entry.repository, DEFAULT_BRANCH_MAX_AGE) {
                        Some(branch) => branch,
                        None => {
                            let branch = api.default_branch(&entry.repository, &token)?;
                            let _ = store.cache_default_branch(&entry.repository, &branch);
                            branch
                        }
                    }
                }
            };
            let url = api.workflow_url(&entry.repository, workflow);
            let details = !store.lacks_run_details(api.host(), NO_RUN_DETAILS_MAX_AGE);
            let body = payload::workflow_body(&git_ref, &entry.body, details);
            let answer = api.send(Method::Post, &url, Some(&body), &token);
            if !(details && answer::refuses_run_details(&answer)) {
                return Ok((answer::judge(&answer, &entry.repository), answer.ok()));
            }
            // An older server: the run's URL is a nicety, the dispatch is not. Send it again
            // without the key, and remember the host so the next one goes straight through.
            let _ = store.remember_no_run_details(api.host());
            store.log(
                "fallback",
                Some(entry),
                &format!(
                    "{} does not take return_run_details; sent without it",
                    api.host()
                ),
            );
            (url, payload::workflow_body(&git_ref, &entry.body, false))
        }
    };
    let answer = api.send(Method::Post, &url, Some(&body), &token);
    Ok((answer::judge(&answer, &entry.repository), answer.ok()))
}

/// The URL and body `entry` would be sent with, without asking GitHub anything (a workflow
/// dispatch's ref shows as the cached default branch, or a placeholder).
pub fn preview(store: &Store, api: &Api, entry: &Entry) -> (String, String) {
    match &entry.workflow {
        None => (api.dispatch_url(&entry.repository), entry.body.clone()),
        Some(workflow) => {
            let git_ref = entry
                .workflow_ref
                .clone()
                .or_else(|| store.cached_default_branch(&entry.repository, DEFAULT_BRANCH_MAX_AGE))
                .unwrap_or_else(|| format!("<default branch of {}>", entry.repository));
            let details = !store.lacks_run_details(api.host(), NO_RUN_DETAILS_MAX_AGE);
            (
                api.workflow_url(&entry.repository, workflow),
                payload::workflow_body(&git_ref, &entry.body, details),
            )
        }
    }
}

fn delivery_of(outcome: &Outcome) -> Delivery {
    let entry = &outcome.entry;
    Delivery {
        id: entry.id.clone(),
        target: entry.target.clone(),
        repository: entry.repository.clone(),
        remote_ref: entry.remote_ref.clone(),
        sha: entry.sha.clone(),
        delivered: crate::store::now(),
        run_url: outcome.run_url(),
    }
}

/// Records a verdict: delivered entries leave the store for the history.
fn settle(store: &Store, settings: &Settings, outcome: &Outcome) -> Result<()> {
    let now = crate::store::now();
    let entry = &outcome.entry;
    match &outcome.verdict {
        Ok(()) => {
            // Forget first: after GitHub's 204 nothing is left to lose, and a history that
            // cannot be written must not make us send the push again.
            store.remove(&entry.id)?;
            let _ = store.record_delivery(delivery_of(outcome));
            crate::follow::open_record(
                store,
                settings,
                entry,
                outcome.answer.as_ref(),
                entry.site_url.clone(),
            );
            store.log(
                "delivered",
                Some(entry),
                outcome.run_url().as_deref().unwrap_or(&entry.repository),
            );
        }
        Err(Failure::Later {
            reason,
            after,
            at_least,
        }) => {
            let mut e = entry.clone();
            e.state = State::Confirmed;
            e.attempts += 1;
            let backoff = FIRST_BACKOFF
                .saturating_mul(1 << (e.attempts - 1).min(10))
                .min(MAX_BACKOFF);
            e.next_attempt = now.saturating_add(after.unwrap_or(backoff.max(*at_least)));
            e.last_error = Some(reason.clone());
            e.updated = now;
            store.save(&e)?;
            store.log("retry-later", Some(&e), reason);
        }
        Err(Failure::Refused { reason }) => {
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

/// One line for an outcome, as printed by the hook, `retry` and `send`. `kept`: a failure
/// that may pass stays pending (everything but `send`).
pub fn describe(outcome: &Outcome, kept: bool) -> String {
    let e = &outcome.entry;
    match &outcome.verdict {
        Ok(()) => {
            let run = outcome
                .run_url()
                .map(|u| format!(": {u}"))
                .unwrap_or_default();
            format!(
                "dispatched to {} ({} {}){run}",
                e.repository,
                e.branch(),
                e.short_sha()
            )
        }
        Err(Failure::Later { reason, .. }) if kept => {
            format!(
                "dispatch to {} not sent yet, will retry: {reason}",
                e.repository
            )
        }
        Err(failure) => {
            let reason = failure.reason();
            format!("dispatch to {} failed: {reason}", e.repository)
        }
    }
}
