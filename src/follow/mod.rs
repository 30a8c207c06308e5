//! The follower: finds the run each delivered dispatch started and follows it to its end,
//! within GitHub's limits (doc/DESIGN.md, "Following the run").
//!
//! ```text
//! delivered ──> runs/<id>.json (finding) ──> list runs since GitHub's Date − 60 s
//!                 title holds dispatch_id? ── yes ──> following: GET the run, If-None-Match
//!                 no run after 2 min: "no run started" (provisional), slower checks      │
//!                 bound passed: no_run / not identified                   completed ──> jobs
//!                                                                           of that attempt
//!                                                                           ──> done: outcome
//! ```
//!
//! One follower per clone: it holds `locks/follower` (`try_lock`, never the delivery locks,
//! which a long follow would stall), works through every unfinished record on disk with
//! serial requests, and exits when none is left, when the state directory is gone, or when
//! its binary was replaced (the new one takes over). Anyone who finds unfinished records
//! and the lock free (the waiter, `send`, `retry`, `status`, `watch`) starts it again, so a
//! follower killed mid-run is resumed from disk.
//!
//! Its parts: `life` (lock, start, stop, hand-over), this file's scheduling loop and
//! announcing, `client` (conditional GETs, ETags, the per-token pause), `matching` (which
//! listed run is ours: a pure function), `outcome` (one round for one record, and the
//! decision), `record` (what is on disk).

mod client;
mod deploy;
mod life;
pub mod matching;
mod outcome;
pub mod record;
mod records;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::{Duration, Instant};

use anyhow::Result;
use serde_json::Value;

use crate::answer::Answer;
use crate::api::Api;
use crate::config::Settings;
use crate::store::{self, Entry, Store};
use crate::timestamp::{GitHubSecs, LocalMs};
use client::TokenState;
pub use life::{resume, resume_for, still_on, stop};
use outcome::Round;
use record::{Follow, Match, Outcome, Phase};

/// The poll interval while a run is followed: the outcome is known within this of the
/// run's end. 304s cost no primary rate limit, so it stays short.
const POLL: Duration = Duration::from_secs(5);
/// The shortest poll a release build takes from `GIT_DISPATCH_POLL_MS` for a real API: a
/// typo must not poll GitHub a thousand times a second.
const MIN_POLL: Duration = Duration::from_secs(1);
/// The longest wait a record's persisted `next_poll` is trusted for when a follower reads
/// it back (a clock stepped back would otherwise stall it).
const MAX_PERSISTED_WAIT_MS: u64 = 120_000;
/// Followed deliveries kept once ended and announced.
const KEEP: usize = 20;

/// The poll interval: `GIT_DISPATCH_POLL_MS` (tests, the bench), else five seconds; at
/// least a second unless the API is on this machine or the build is a debug one.
fn poll(api_host: &str) -> Duration {
    let asked = std::env::var(crate::env::POLL_MS).ok();
    poll_interval(
        asked.as_deref(),
        cfg!(debug_assertions) || crate::proxy::is_loopback(api_host),
    )
}

/// The poll interval `asked` for; below a second only where `unbounded` (a test's API).
fn poll_interval(asked: Option<&str>, unbounded: bool) -> Duration {
    let asked = asked
        .and_then(|v| v.parse::<u64>().ok())
        .filter(|ms| *ms > 0)
        .map_or(POLL, Duration::from_millis);
    if unbounded {
        asked
    } else {
        asked.max(MIN_POLL)
    }
}

/// A record for a delivery just accepted: GitHub's clock from its `Date`, the run when
/// GitHub returned it (`return_run_details`), the `dispatch_id` the body carries.
pub fn open_record(
    store: &Store,
    settings: &Settings,
    entry: &Entry,
    answer: Option<&Answer>,
    site_url: Option<String>,
) {
    if !settings.follow.value || !entry.followed() {
        return;
    }
    // GitHub's clock from its `Date`; an answer without one (a proxy that strips it) leaves
    // this machine's clock as the best guess, the one place the two may meet.
    let date = answer
        .and_then(|a| a.header("date"))
        .and_then(crate::timestamp::parse_http)
        .unwrap_or_else(store::now);
    let dispatch_id = serde_json::from_str::<Value>(&entry.body)
        .ok()
        .and_then(|b| {
            b["client_payload"]["dispatch_id"]
                .as_str()
                .map(str::to_string)
        });
    let run_id = answer.and_then(|a| {
        let v: Value = serde_json::from_str(&a.body).ok()?;
        v.get("workflow_run_id")?.as_u64()
    });
    // A Netlify build names its deploy: followed by that id alone, never looked for. A build
    // whose answer names none is said where the build is shown, never guessed from the
    // site's list of deploys.
    let netlify = entry.netlify.as_ref().map(|site| {
        answer
            .and_then(crate::netlify::deploy_id)
            .map(|id| crate::netlify::Deploy::started(site, &id))
    });
    let unnamed = matches!(netlify, Some(None));
    let deploy = netlify.flatten();
    let follow = Follow {
        id: entry.id.clone(),
        target: entry.target.clone(),
        repository: entry.repository.clone(),
        sha: entry.sha.clone(),
        workflow: entry.workflow.clone(),
        workflow_ref: entry.workflow_ref.clone(),
        dispatch_id,
        dispatched_at: GitHubSecs(date),
        github_now: GitHubSecs(date),
        recorded_ms: LocalMs::now(),
        deadline: store::now() + settings.follow_for.value,
        next_poll: LocalMs(0),
        phase: match (unnamed, &deploy) {
            (true, _) => Phase::Done,
            (false, Some(_)) => Phase::Following,
            (false, None) => Phase::Finding,
        },
        matched: match (&deploy, run_id) {
            (Some(_), _) => Some(Match::Deploy),
            (None, Some(_)) => Some(Match::RunDetails),
            (None, None) => None,
        },
        run_id,
        runs: Vec::new(),
        deploy,
        listed: Vec::new(),
        outcome: unnamed.then_some(Outcome::CannotFollow),
        note: unnamed.then(|| {
            "cannot follow: Netlify's answer to the build named no deploy; the build was \
             started: see the site's Deploys page"
                .to_string()
        }),
        site_url,
        etags: serde_json::Map::new(),
        // An unnamed deploy is no failed build: `status` shows it; no push or notification
        // repeats it.
        announced_hook: unnamed,
        announced_notify: unnamed,
    };
    if store.save_follow(&follow).is_err() {
        store.log_in_place("error", Some(entry), "could not record the run to follow");
    }
}

/// Whether any followed delivery has not ended.
pub fn unfinished(store: &Store) -> bool {
    store.follows().iter().any(|f| f.phase != Phase::Done)
}

/// When each record is next polled, and since when it was recorded, on this process's
/// monotonic clock: a wall clock stepped back would stall polling, one stepped forward
/// would end the settle window early. The persisted `next_poll` and `recorded_ms` seed
/// them once, clamped.
#[derive(Default)]
struct Clock {
    due: HashMap<String, Instant>,
    since: HashMap<String, Instant>,
}

impl Clock {
    /// When `follow` is next due.
    fn due(&mut self, follow: &Follow) -> Instant {
        *self.due.entry(follow.id.clone()).or_insert_with(|| {
            let wait = follow.next_poll.since(LocalMs::now());
            Instant::now() + Duration::from_millis(wait.min(MAX_PERSISTED_WAIT_MS))
        })
    }

    /// `follow` is next due in `wait_ms`; persisted too, for a follower that resumes it.
    fn set(&mut self, follow: &mut Follow, wait_ms: u64) {
        self.due.insert(
            follow.id.clone(),
            Instant::now() + Duration::from_millis(wait_ms),
        );
        follow.next_poll = LocalMs::now().plus(wait_ms);
    }

    /// Milliseconds since `follow` was recorded.
    fn elapsed_ms(&mut self, follow: &Follow) -> u64 {
        let since = *self.since.entry(follow.id.clone()).or_insert_with(|| {
            let before = LocalMs::now().since(follow.recorded_ms).min(86_400_000);
            let now = Instant::now();
            now.checked_sub(Duration::from_millis(before))
                .unwrap_or(now)
        });
        since.elapsed().as_millis() as u64
    }
}

/// Ends `follow` once past its bound (a laptop may have slept through it): that was the
/// last request.
fn past_bound(follow: &mut Follow) {
    if follow.phase == Phase::Done || store::now() < follow.deadline {
        return;
    }
    follow.outcome = Some(match follow.phase {
        Phase::Following => Outcome::StillRunning,
        _ => Outcome::NoRun,
    });
    // The provisional "no run started yet" is now final.
    if follow.note == Some(outcome::no_run_note(true)) {
        follow.note = Some(outcome::no_run_note(false));
    }
    follow.phase = Phase::Done;
}

/// Follows every unfinished delivery to its end, unless another follower does; stops soon
/// after `dispatch.follow` is set to false.
pub fn run(store: &Store, settings: &Settings) -> Result<()> {
    // `dispatch.follow = false`: no request, whatever is left on disk.
    if !settings.follow.value {
        return Ok(());
    }
    let Some(mut lock) = store.try_lock("follower")? else {
        return Ok(());
    };
    let lock_path = store.lock_path("follower");
    // Who follows, for `uninstall` (and a test) to stop it.
    {
        use std::io::Write;
        let _ = lock.set_len(0);
        let _ = write!(lock, "{}", std::process::id());
    }
    // GitHub's API serves GitHub's records only: a clone whose targets are Netlify sites
    // follows them whatever dispatch.apiUrl says.
    let api =
        Api::new(&settings.api_url.value, settings.timeout.value).map_err(|e| format!("{e:#}"));
    let poll_host = match &api {
        Ok(api) => api.host().to_string(),
        Err(_) => crate::netlify::api(settings.timeout.value)
            .map(|a| a.host().to_string())
            .unwrap_or_default(),
    };
    let poll_ms = poll(&poll_host).as_millis() as u64;
    // The binary's path as it is now: once an upgrade renames a new file over it,
    // /proc/self/exe names the old one "(deleted)", but this path names the new one.
    let exe = std::env::current_exe().ok();
    let binary = exe.as_deref().and_then(life::binary_stamp);
    store.log_in_place("follower-start", None, "following");
    let _end = life::LogOnDrop(store, "follower-end");
    // One token per owner for the whole follow: a tokenCommand is not run on every poll.
    let mut tokens: BTreeMap<String, TokenState> = BTreeMap::new();
    // Netlify's API and token, read when a Netlify deploy is first followed.
    let mut netlify: Option<deploy::Session> = None;
    let mut clock = Clock::default();
    // A desktop notifier that cannot run is said once per follower, not per build.
    let mut desktop_said = false;
    let mut rounds: u64 = 0;
    loop {
        // Gone, or made anew under us (another follower may hold the new lock).
        if !store.exists() || !life::still_ours(&lock, &lock_path) {
            return Ok(());
        }
        rounds += 1;
        if rounds.is_multiple_of(outcome::SLOW_POLLS) && !still_on() {
            // Turned off meanwhile: "false" means no request at all; what is unfinished
            // stays on disk, resumed if it is turned on again.
            store.log_in_place(
                "follower",
                None,
                "dispatch.follow is false; following stops",
            );
            let _ = lock.set_len(0);
            return Ok(());
        }
        let now_stamp = exe.as_deref().and_then(life::binary_stamp);
        if let (Some(exe), Some(_)) = (&exe, binary) {
            if now_stamp != binary && now_stamp.is_some() {
                // Upgraded under us: the new binary follows from disk; the lock is
                // released first, so it finds it free.
                store.log_in_place("follower", None, "binary replaced; handing over");
                drop(lock);
                life::start_detached_from(exe);
                return Ok(());
            }
        }
        let all = store.follows();
        // Ended records someone asked to look at again (`watch`, `status --refresh`); a
        // request for a record still followed, or gone, is moot.
        let asked: BTreeSet<String> = store
            .rechecks()
            .into_iter()
            .filter(|id| {
                let ended = all.iter().any(|f| &f.id == id && f.phase == Phase::Done);
                if !ended {
                    store.clear_recheck(id);
                }
                ended
            })
            .collect();
        if asked.is_empty() && all.iter().all(|f| f.phase == Phase::Done) {
            store.trim_follows(KEEP);
            // No pid left for `uninstall` to signal once we are gone; and a delivery
            // recorded while we were leaving (its resume found the lock held) is taken up.
            let _ = lock.set_len(0);
            drop(lock);
            if unfinished(store) || !store.rechecks().is_empty() {
                resume(store, settings);
            }
            return Ok(());
        }
        let round = api.as_ref().ok().map(|api| Round {
            api,
            settings,
            all: &all,
            poll_ms,
            // Someone watches on a terminal: the running job and step are read too.
            watched: store.watched(),
        });
        // The next wake: the earliest poll due, and at most a poll away, when runs/ is read
        // again for deliveries recorded meanwhile.
        let mut next = Instant::now() + Duration::from_millis(poll_ms);
        let open = |f: &&Follow| f.phase != Phase::Done || asked.contains(&f.id);
        // Whether a record is left to poll after this round (else the next read of runs/
        // finds them all ended, at once).
        let mut open_left = false;
        for mut follow in all.iter().filter(open).cloned() {
            let ended_before = follow.phase == Phase::Done;
            let due = clock.due(&follow);
            if !ended_before && due > Instant::now() {
                next = next.min(due);
                open_left = true;
                continue;
            }
            if follow.deploy.is_some() {
                // A Netlify deploy: read by its id on Netlify's token, nothing looked for.
                // An ended one is final (Netlify has no re-run of a deploy).
                if ended_before {
                    store.clear_recheck(&follow.id);
                    continue;
                }
                let session =
                    netlify.get_or_insert_with(|| deploy::Session::open(settings.timeout.value));
                if let Some(until) = session.paused_until() {
                    next = next.min(until);
                    open_left = true;
                    continue;
                }
                let wait = deploy::step(session, &mut follow, poll_ms);
                clock.set(&mut follow, wait);
                past_bound(&mut follow);
            } else if let Some(round) = &round {
                let state = tokens.entry(follow.owner().to_string()).or_insert_with(|| {
                    TokenState::read(settings, round.api.host(), follow.owner())
                });
                if let Some(until) = state.paused_until() {
                    // This token's budget is left to dispatches, or GitHub asked to wait: no
                    // record on it is polled meanwhile. A request to look again cannot be met
                    // then: it is cleared, so `watch` and `status --refresh` do not wait.
                    if ended_before {
                        store.clear_recheck(&follow.id);
                        continue;
                    }
                    next = next.min(until);
                    open_left = true;
                    continue;
                }
                if ended_before {
                    // Asked to look again: only a re-run (or a run that ended after the bound)
                    // reopens it; saved once, under the hook's lock, then the request cleared.
                    if !outcome::look_again(round, state, &mut follow) {
                        store.clear_recheck(&follow.id);
                        continue;
                    }
                    clock.set(&mut follow, 0);
                    let attempts: Vec<String> = follow
                        .runs
                        .iter()
                        .map(|r| r.run_attempt.to_string())
                        .collect();
                    store.log_in_place(
                        "follower",
                        None,
                        &format!("{} reopened: attempt {}", follow.id, attempts.join(", ")),
                    );
                } else {
                    let elapsed = clock.elapsed_ms(&follow);
                    let wait = outcome::step(round, state, &mut follow, elapsed);
                    clock.set(&mut follow, wait);
                    past_bound(&mut follow);
                }
            } else {
                // dispatch.apiUrl was changed to one that cannot be used since it was sent.
                if ended_before {
                    store.clear_recheck(&follow.id);
                    continue;
                }
                let why = api.as_ref().err().cloned().unwrap_or_default();
                let note = format!("cannot follow: dispatch.apiUrl: {why}; the delivery stands");
                outcome::cannot_follow(&mut follow, note, poll_ms);
            }
            if !store.exists() {
                return Ok(());
            }
            // Announced once per channel: the next push says every outcome that is not a
            // success (nothing for one); a notification says either, at most once: marked
            // said, in the one save that records the outcome, before it is said.
            let done = follow.phase == Phase::Done;
            let bad = follow.outcome.is_some_and(|o| !o.is_good());
            let notify = done && !follow.announced_notify;
            if done {
                follow.announced_hook |= !bad;
                follow.announced_notify = true;
                if bad {
                    // Marked before the outcome is saved: a kill between the two leaves a
                    // mark with nothing to say (harmless), never an outcome unsaid.
                    store.mark_unannounced();
                }
            }
            // Under the lock the hook marks outcomes said with (follow/records.rs).
            let saved = store.save_follow(&follow);
            if ended_before {
                store.clear_recheck(&follow.id);
            }
            if let Err(err) = saved {
                if !store.exists() {
                    return Ok(());
                }
                return Err(err);
            }
            if cfg!(debug_assertions)
                && done
                && std::env::var_os(crate::env::DIE_AFTER_OUTCOME).is_some()
            {
                std::process::exit(0);
            }
            if !done {
                next = next.min(clock.due(&follow));
                open_left = true;
                continue;
            }
            // The 20 newest ended ones are kept, whatever else is still followed.
            store.trim_follows(KEEP);
            if notify {
                // Settings as they are now: a `notify` set after the follower started counts.
                let now = life::settings_now();
                let settings = now.as_ref().unwrap_or(settings);
                crate::notify::announce(store, settings, &follow, &mut desktop_said);
            }
            let outcome = follow.outcome.map_or("?", Outcome::as_str);
            store.log_in_place(
                "followed",
                None,
                &format!("{} {}: {outcome}", follow.id, follow.repository),
            );
        }
        if !open_left {
            // Every record ended this round: leave now, not a poll later.
            continue;
        }
        std::thread::sleep(
            next.saturating_duration_since(Instant::now())
                .max(Duration::from_millis(10)),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_poll_interval_below_a_second_holds_only_for_an_api_on_this_machine() {
        assert_eq!(poll_interval(None, false), POLL);
        assert_eq!(poll_interval(Some("0"), false), POLL);
        assert_eq!(poll_interval(Some("junk"), false), POLL);
        assert_eq!(poll_interval(Some("1"), false), MIN_POLL);
        assert_eq!(poll_interval(Some("1"), true), Duration::from_millis(1));
        assert_eq!(poll_interval(Some("9000"), false), Duration::from_secs(9));
    }

    fn record(next_poll: u64, recorded_ms: u64) -> Follow {
        let mut v = serde_json::json!({
            "version": 1, "id": "e1", "target": "site", "repository": "o/s", "sha": "abc",
            "dispatched_at": 1, "deadline": 1, "phase": "finding",
        });
        v["next_poll"] = next_poll.into();
        v["recorded_ms"] = recorded_ms.into();
        Follow::from_json(&v).expect("a record")
    }

    #[test]
    fn a_wall_clock_step_neither_stalls_polling_nor_ends_the_settle_window() {
        let mut clock = Clock::default();
        let before = Instant::now();
        // Saved before the clock stepped back a day: due in at most the clamp, not a day.
        let ahead = record(LocalMs::now().0 + 86_400_000, LocalMs::now().0 + 86_400_000);
        let due = clock.due(&ahead);
        assert!(due <= Instant::now() + Duration::from_millis(MAX_PERSISTED_WAIT_MS));
        assert!(due >= before + Duration::from_millis(MAX_PERSISTED_WAIT_MS - 1_000));
        // Recorded "in the future": no time has passed since, rather than a wrap.
        assert!(clock.elapsed_ms(&ahead) < 1_000);
        // A step forward after reading changes nothing: the clock is the monotonic one.
        let mut later = ahead.clone();
        later.next_poll = LocalMs(0);
        assert_eq!(clock.due(&later), due);
        // Overdue on disk: due now.
        let overdue = record(1, LocalMs::now().0 - 5_000);
        let mut clock = Clock::default();
        assert!(clock.due(&overdue) <= Instant::now());
        assert!((4_000..60_000).contains(&clock.elapsed_ms(&overdue)));
    }
}
