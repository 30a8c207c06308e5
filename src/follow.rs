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

use std::cell::Cell;
use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use anyhow::Result;
use serde_json::Value;

use crate::answer::{self, Answer, Failure};
use crate::api::Api;
use crate::config::Settings;
use crate::run::{Follow, Match, Outcome, Phase, Run};
use crate::store::{self, Entry, Store};
use crate::token::{self, Token};

/// The poll interval while a run is followed: the outcome is known within this of the
/// run's end. 304s cost no primary rate limit, so it stays short.
const POLL: Duration = Duration::from_secs(5);
/// Filtered lists lag behind the dispatch: one empty list is not "no run".
const NO_RUN_AFTER_POLLS: u64 = 24;
/// After that, the run is looked for this many polls apart (GitHub delays events in
/// incidents).
const SLOW_POLLS: u64 = 6;
/// How long (in polls) the list of runs is given to settle before a run is matched by
/// time: another client's run may show before ours.
const TIME_SETTLE_POLLS: u64 = 6;
/// The margin before GitHub's `Date` of the dispatch that a run's `created_at` may have.
const CREATED_MARGIN: u64 = 60;
/// Requests of the primary budget left to dispatches: following stops short of them.
const RESERVE: u64 = 50;
/// Followed deliveries kept once ended and announced.
const KEEP: usize = 20;

/// The poll interval: `GIT_DISPATCH_POLL_MS` (for tests), else five seconds.
fn poll() -> Duration {
    std::env::var(crate::env::POLL_MS)
        .ok()
        .and_then(|v| v.parse::<u64>().ok())
        .filter(|ms| *ms > 0)
        .map_or(POLL, Duration::from_millis)
}

/// A record for a delivery just accepted: GitHub's clock from its `Date`, the run when
/// GitHub returned it (`return_run_details`), the `dispatch_id` the body carries.
pub fn record(
    store: &Store,
    settings: &Settings,
    entry: &Entry,
    answer: Option<&Answer>,
    site_url: Option<String>,
) {
    if !settings.follow.value {
        return;
    }
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
    let follow = Follow {
        id: entry.id.clone(),
        target: entry.target.clone(),
        repository: entry.repository.clone(),
        sha: entry.sha.clone(),
        workflow: entry.workflow.clone(),
        workflow_ref: entry.workflow_ref.clone(),
        dispatch_id,
        dispatched_at: date,
        github_now: date,
        recorded_ms: now_ms(),
        deadline: store::now() + settings.follow_for.value,
        next_poll: 0,
        phase: Phase::Finding,
        matched: run_id.map(|_| Match::RunDetails),
        run_id,
        runs: Vec::new(),
        outcome: None,
        note: None,
        site_url,
        etags: serde_json::Map::new(),
        announced_hook: false,
        announced_notify: false,
    };
    if store.save_follow(&follow).is_err() {
        store.log("error", Some(entry), "could not record the run to follow");
    }
}

/// Whether any followed delivery has not ended.
pub fn unfinished(store: &Store) -> bool {
    store.follows().iter().any(|f| f.phase != Phase::Done)
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
    // Who follows, for `uninstall` (and a test) to stop it.
    {
        use std::io::Write;
        let _ = lock.set_len(0);
        let _ = write!(lock, "{}", std::process::id());
    }
    let api = Api::new(&settings.api_url.value, settings.timeout.value)?;
    let poll_ms = poll().as_millis() as u64;
    // The binary's path as it is now: once an upgrade renames a new file over it,
    // /proc/self/exe names the old one "(deleted)", but this path names the new one.
    let exe = std::env::current_exe().ok();
    let binary = exe.as_deref().and_then(binary_stamp);
    store.log("follower-start", None, "following");
    let _end = LogOnDrop(store, "follower-end");
    // One token per owner for the whole follow: a tokenCommand is not run on every poll.
    let mut tokens: BTreeMap<String, TokenState> = BTreeMap::new();
    // A desktop notifier that cannot run is said once per follower, not per build.
    let mut desktop_said = false;
    let mut rounds: u64 = 0;
    loop {
        if !store.exists() {
            return Ok(());
        }
        rounds += 1;
        if rounds.is_multiple_of(SLOW_POLLS) && !still_on() {
            // Turned off meanwhile: "false" means no request at all; what is unfinished
            // stays on disk, resumed if it is turned on again.
            store.log(
                "follower",
                None,
                "dispatch.follow is false; following stops",
            );
            let _ = lock.set_len(0);
            return Ok(());
        }
        let now_stamp = exe.as_deref().and_then(binary_stamp);
        if let (Some(exe), Some(_)) = (&exe, binary) {
            if now_stamp != binary && now_stamp.is_some() {
                // Upgraded under us: the new binary follows from disk; the lock is
                // released first, so it finds it free.
                store.log("follower", None, "binary replaced; handing over");
                drop(lock);
                start_detached_from(exe);
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
        // The next wake: the earliest poll due, and at most a poll away, when runs/ is read
        // again for deliveries recorded meanwhile.
        let mut next = now_ms() + poll_ms;
        // Someone watches on a terminal: the running job and step are read too.
        let watched = store.watched();
        let open = |f: &&Follow| f.phase != Phase::Done || asked.contains(&f.id);
        // Whether a record is left to poll after this round (else the next read of runs/
        // finds them all ended, at once).
        let mut open_left = false;
        for mut follow in all.iter().filter(open).cloned() {
            let ended_before = follow.phase == Phase::Done;
            if !ended_before && follow.next_poll > now_ms() {
                next = next.min(follow.next_poll);
                open_left = true;
                continue;
            }
            let state = tokens
                .entry(follow.owner().to_string())
                .or_insert_with(|| TokenState::read(settings, api.host(), follow.owner()));
            if state.reserve.get() > now_ms() {
                // Fewer than RESERVE requests of this token's budget are left: they stay
                // for dispatches until it resets. A request to look again cannot be met
                // meanwhile: it is cleared, so `watch` and `status --refresh` do not wait.
                if ended_before {
                    store.clear_recheck(&follow.id);
                    continue;
                }
                next = next.min(state.reserve.get());
                open_left = true;
                continue;
            }
            if ended_before {
                // Asked to look again: only a re-run (or a run that ended after the bound)
                // reopens it; saved once, under the hook's lock, then the request cleared.
                let reopened = look_again(&api, settings, state, &all, &mut follow);
                if !reopened {
                    store.clear_recheck(&follow.id);
                    continue;
                }
                let attempts: Vec<String> = follow
                    .runs
                    .iter()
                    .map(|r| r.run_attempt.to_string())
                    .collect();
                store.log(
                    "follower",
                    None,
                    &format!("{} reopened: attempt {}", follow.id, attempts.join(", ")),
                );
            } else {
                step(&api, settings, state, &all, &mut follow, poll_ms, watched);
                if follow.phase != Phase::Done && store::now() >= follow.deadline {
                    // Past the bound (a laptop may have slept through it): that was the
                    // last request.
                    follow.outcome = Some(match follow.phase {
                        Phase::Following => Outcome::StillRunning,
                        _ => Outcome::NoRun,
                    });
                    follow.phase = Phase::Done;
                }
            }
            if !store.exists() {
                return Ok(());
            }
            // Announced once per channel: the next push says a failure (nothing for a
            // success); a notification says either, at most once: marked said, in the one
            // save that records the outcome, before it is said.
            let done = follow.phase == Phase::Done;
            let bad = follow.outcome.is_some_and(Outcome::is_failed_build);
            let notify = done && !follow.announced_notify;
            if done {
                follow.announced_hook |= !bad;
                follow.announced_notify = true;
            }
            // A reopened record is written under the lock the hook marks outcomes said with,
            // so its older copy, read before, never overwrites this one.
            let saved = if ended_before {
                store.save_reopened(&follow)
            } else {
                store.save_follow(&follow)
            };
            if ended_before {
                store.clear_recheck(&follow.id);
            }
            if let Err(err) = saved {
                if !store.exists() {
                    return Ok(());
                }
                return Err(err);
            }
            if !done {
                next = next.min(follow.next_poll);
                open_left = true;
            } else {
                // The 20 newest ended ones are kept, whatever else is still followed.
                store.trim_follows(KEEP);
            }
            if done {
                if bad {
                    store.mark_unannounced();
                }
                if notify {
                    crate::notify::announce(store, settings, &follow, &mut desktop_said);
                }
                let outcome = follow.outcome.map_or("?", Outcome::as_str);
                store.log(
                    "followed",
                    None,
                    &format!("{} {}: {outcome}", follow.id, follow.repository),
                );
            }
        }
        if !open_left {
            // Every record ended this round: leave now, not a poll later.
            continue;
        }
        std::thread::sleep(Duration::from_millis(next.saturating_sub(now_ms()).max(10)));
    }
}

/// Whether `dispatch.follow` is still true, the repository opened again to read the config
/// as it is now (one that cannot be read now does not stop a follow under way).
pub fn still_on() -> bool {
    crate::repo::Repo::discover()
        .and_then(|repo| crate::config::Config::load(&repo))
        .map_or(true, |c| c.settings.follow.value)
}

/// Starts a follower in the background (`git-dispatch hook follow`, its own session):
/// fork and exec, so it is safe from a process that has threads.
pub fn start_detached() {
    if let Ok(exe) = std::env::current_exe() {
        start_detached_from(&exe);
    }
}

fn start_detached_from(exe: &std::path::Path) {
    use std::os::unix::process::CommandExt;
    let mut command = std::process::Command::new(exe);
    command
        .args(["hook", "follow"])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    // SAFETY: setsid and close_range are plain syscalls, safe between fork and exec.
    unsafe {
        command.pre_exec(|| {
            libc::setsid();
            // Nothing of git's (pipes to receive-pack) stays open in the follower.
            #[cfg(target_os = "linux")]
            libc::syscall(
                libc::SYS_close_range,
                3u32,
                u32::MAX,
                libc::CLOSE_RANGE_CLOEXEC,
            );
            Ok(())
        });
    }
    // Reaped by no one but init once we exit: it outlives us by design.
    let _ = command.spawn();
}

/// Starts a follower when a delivery is left unfinished and none runs.
pub fn resume(store: &Store, settings: &Settings) {
    resume_for(store, settings, &store.follows(), &store.rechecks());
}

/// `resume` for the records `follows` and the requests to look again `asked` that the
/// caller has just read.
pub fn resume_for(
    store: &Store,
    settings: &Settings,
    follows: &[Follow],
    asked: &BTreeSet<String>,
) {
    if settings.follow.value
        && (follows.iter().any(|f| f.phase != Phase::Done) || !asked.is_empty())
        && matches!(store.try_lock("follower"), Ok(Some(_)))
    {
        start_detached();
    }
}

/// Stops this clone's follower, if one runs; its pid. Only a process that holds the lock
/// is signalled: the pid in the file is then the holder's own.
pub fn stop(store: &Store) -> Option<u32> {
    if !matches!(store.try_lock("follower"), Ok(None)) {
        return None;
    }
    let pid: u32 = std::fs::read_to_string(store.lock_path("follower"))
        .ok()?
        .trim()
        .parse()
        .ok()
        .filter(|pid| *pid > 1)?;
    // SAFETY: a plain signal to a process id read from our own lock file.
    (unsafe { libc::kill(pid as libc::pid_t, libc::SIGTERM) } == 0).then_some(pid)
}

/// The binary's identity (size and mtime), to notice an upgrade.
fn binary_stamp(exe: &std::path::Path) -> Option<(u64, std::time::SystemTime)> {
    let meta = std::fs::metadata(exe).ok()?;
    Some((meta.len(), meta.modified().ok()?))
}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// Logs `event` when dropped: a follower's end, however it returns.
struct LogOnDrop<'a>(&'a Store, &'static str);

impl Drop for LogOnDrop<'_> {
    fn drop(&mut self) {
        // Not into a state directory that was removed (uninstall, `rm -rf`): logging would
        // make it again.
        if self.0.exists() {
            self.0.log(self.1, None, "done");
        }
    }
}

/// The token a follower uses for one owner: read once (a tokenCommand is not run on
/// every poll); on a 401 read again once. Its user's login, asked once, tells a run it
/// started from another's.
struct TokenState {
    token: Result<Token, String>,
    reread: bool,
    login: Option<Option<String>>,
    /// Until when (this machine's clock, ms) its primary budget is left to dispatches.
    reserve: Cell<u64>,
}

impl TokenState {
    fn read(settings: &Settings, host: &str, owner: &str) -> TokenState {
        TokenState {
            token: token::find(settings, host, owner).map_err(|err| format!("{err:#}")),
            reread: false,
            login: None,
            reserve: Cell::new(0),
        }
    }

    /// The token's user (`GET /user`); `None` when it cannot be told (then time matching
    /// takes any actor).
    fn user(&mut self, api: &Api) -> Option<String> {
        if let Some(known) = &self.login {
            return known.clone();
        }
        let token = self.token.as_ref().ok()?;
        let login = api
            .send(crate::api::Method::Get, &api.url("/user"), None, token)
            .ok()
            .filter(|a| a.status == 200)
            .and_then(|a| serde_json::from_str::<Value>(&a.body).ok())
            .and_then(|v| v.get("login")?.as_str().map(str::to_string));
        self.login = Some(login.clone());
        login
    }
}

const NOT_IDENTIFIED: &str = "run not identified";

/// The caveat a run matched by time is said with, and its fix.
fn time_note(follow: &Follow) -> Option<String> {
    (follow.matched == Some(Match::Time)).then(|| {
        "matched by time only: add the `run-name` line to the site's workflow (`git dispatch \
         doctor` shows it) so its run can be told for this dispatch's"
            .to_string()
    })
}

/// Asked to look again at an ended delivery (`watch`, `status --refresh`): one GET of each
/// of its runs (a 304 when nothing changed). A new attempt (a re-run), or a run that
/// changed since (one that ended after the bound), reopens it: followed again to the end,
/// its new outcome announced once more on each channel. Whether it was reopened.
fn look_again(
    api: &Api,
    settings: &Settings,
    tokens: &TokenState,
    all: &[Follow],
    follow: &mut Follow,
) -> bool {
    let Ok(token) = &tokens.token else {
        return false;
    };
    let client = Client {
        api,
        token,
        reserve: &tokens.reserve,
    };
    let repository = follow.repository.clone();
    let mut runs = follow.runs.clone();
    let mut changed = false;
    for run in runs.iter_mut() {
        let path = format!("/repos/{repository}/actions/runs/{}", run.id);
        match get(&client, follow, &path) {
            Got::Json(v) => {
                if let Some(fresh) = Run::from_github(&v) {
                    if (fresh.run_attempt, &fresh.status, &fresh.conclusion)
                        != (run.run_attempt, &run.status, &run.conclusion)
                    {
                        changed = true;
                        *run = fresh;
                    }
                }
            }
            Got::NotModified => {}
            Got::Failed(_) => return false,
        }
    }
    if !changed {
        return false;
    }
    follow.runs = runs;
    follow.phase = Phase::Following;
    follow.outcome = None;
    follow.note = time_note(follow);
    follow.announced_hook = false;
    follow.announced_notify = false;
    follow.deadline = store::now() + settings.follow_for.value;
    follow.next_poll = 0;
    // A run that had ended meanwhile decides now; a re-run is polled from the next round.
    let _ = track_completed(&client, all, follow);
    true
}

/// What a GET brought.
enum Got {
    Json(Value),
    NotModified,
    Failed(Failed),
}

/// A GET that did not bring an answer to use: why, and what GitHub said of it.
struct Failed {
    failure: Failure,
    /// `X-Accepted-GitHub-Permissions`: what the token lacks.
    needed: Option<String>,
    /// The HTTP status, when there was an answer.
    status: Option<u16>,
}

impl Failed {
    fn later(reason: String) -> Failed {
        Failed {
            failure: Failure::later(reason),
            needed: None,
            status: None,
        }
    }
}

/// What one round's requests go with: the API, the owner's token, and until when that
/// token's primary budget is left to dispatches.
struct Client<'a> {
    api: &'a Api,
    token: &'a Token,
    reserve: &'a Cell<u64>,
}

fn get(client: &Client, follow: &mut Follow, path: &str) -> Got {
    let (api, token) = (client.api, client.token);
    let url = api.url(path);
    let etag = follow
        .etags
        .get(&url)
        .and_then(Value::as_str)
        .map(str::to_string);
    let answer = api.get_if(&url, etag.as_deref(), token);
    if let Some(date) = answer
        .as_ref()
        .ok()
        .and_then(|a| a.header("date"))
        .and_then(crate::timestamp::parse_http)
    {
        follow.github_now = follow.github_now.max(date);
    }
    match &answer {
        Ok(a) if a.status == 304 => return Got::NotModified,
        Ok(a) if a.status == 200 => {
            let parsed = serde_json::from_str::<Value>(&a.body);
            // The ETag is kept only with a body that parsed: a 304 later must never stand
            // for an answer we could not read.
            if let (Some(tag), Ok(_)) = (a.header("etag"), &parsed) {
                follow.etags.insert(url, Value::from(tag));
            }
            // A reserve of the primary budget is left to dispatches.
            let remaining = a
                .header("x-ratelimit-remaining")
                .and_then(|v| v.trim().parse::<u64>().ok());
            if remaining.is_some_and(|r| r < RESERVE) {
                let reset = a
                    .header("x-ratelimit-reset")
                    .and_then(|v| v.trim().parse::<u64>().ok())
                    .unwrap_or(store::now() + 60);
                // For every record this token follows, not only this one.
                client.reserve.set(client.reserve.get().max(reset * 1000));
            }
            return match parsed {
                Ok(v) => Got::Json(v),
                Err(e) => Got::Failed(Failed::later(format!("GET {path}: {e}"))),
            };
        }
        _ => {}
    }
    let answered = answer.as_ref().ok();
    match answer::judge(&answer, &follow.repository) {
        Err(failure) => Got::Failed(Failed {
            failure,
            needed: answered
                .and_then(|a| a.header("x-accepted-github-permissions"))
                .map(str::to_string),
            status: answered.map(|a| a.status),
        }),
        Ok(()) => Got::Failed(Failed::later(format!("GET {path}: unexpected answer"))),
    }
}

/// One round for one delivery: one request (a few when a run ends).
fn step(
    api: &Api,
    settings: &Settings,
    tokens: &mut TokenState,
    all: &[Follow],
    follow: &mut Follow,
    poll_ms: u64,
    watched: bool,
) {
    let token = match &tokens.token {
        Ok(token) => token.clone(),
        Err(why) => {
            // A tokenCommand that timed out once may answer the next time: read again
            // after a while, until the bound says "cannot follow".
            follow.note = Some(format!("cannot follow yet: {why}"));
            follow.next_poll = now_ms() + SLOW_POLLS * poll_ms;
            *tokens = TokenState::read(settings, api.host(), follow.owner());
            return;
        }
    };
    follow.next_poll = now_ms() + poll_ms;
    let user = match follow.phase {
        Phase::Finding => tokens.user(api),
        _ => None,
    };
    let client = Client {
        api,
        token: &token,
        reserve: &tokens.reserve,
    };
    let result = match follow.phase {
        Phase::Finding => find(&client, &user, all, follow, poll_ms),
        Phase::Following => track(&client, all, follow, watched),
        Phase::Done => Ok(()),
    };
    let Err(Failed {
        failure,
        needed,
        status,
    }) = result
    else {
        return;
    };
    match failure {
        Failure::Later {
            after, at_least, ..
        } => {
            // GitHub's time, else (a secondary rate limit) at least a minute.
            let wait = after.unwrap_or(0).max(at_least) * 1000;
            follow.next_poll = now_ms() + wait.max(poll_ms);
        }
        Failure::Refused { reason } if status == Some(401) => {
            if !tokens.reread {
                // The token may have been rotated: read it once more, then give up.
                tokens.reread = true;
                if let Ok(fresh) = token::find(settings, api.host(), follow.owner()) {
                    tokens.token = Ok(fresh);
                    return;
                }
            }
            follow.note = Some(format!(
                "cannot follow: the token was refused ({reason}); the delivery stands"
            ));
            follow.outcome = Some(Outcome::CannotFollow);
            follow.phase = Phase::Done;
        }
        Failure::Refused { reason } => {
            let needs = needed.unwrap_or_else(|| "actions=read".to_string());
            follow.note = Some(format!(
                "cannot follow the run: {} ({needs}); give the token Actions: read on {}, or \
                 `git config dispatch.follow false`",
                reason.split(':').next().unwrap_or(&reason),
                follow.repository
            ));
            follow.outcome = Some(Outcome::CannotFollow);
            follow.phase = Phase::Done;
        }
    }
}

type Step = Result<(), Failed>;

/// Looks for the run: by the id GitHub returned, by `dispatch_id` in its title, or (only
/// when that cannot be wrong) by time.
fn find(
    client: &Client,
    user: &Option<String>,
    all: &[Follow],
    follow: &mut Follow,
    poll_ms: u64,
) -> Step {
    let repository = follow.repository.clone();
    if follow.matched == Some(Match::RunDetails) {
        if let Some(id) = follow.run_id {
            return match get(
                client,
                follow,
                &format!("/repos/{repository}/actions/runs/{id}"),
            ) {
                Got::Json(v) => {
                    if let Some(run) = Run::from_github(&v) {
                        follow.runs = vec![run];
                        follow.phase = Phase::Following;
                        track_completed(client, all, follow)
                    } else {
                        Ok(())
                    }
                }
                Got::NotModified => Ok(()),
                Got::Failed(failed) => Err(failed),
            };
        }
    }
    let since = crate::timestamp::format_iso(follow.dispatched_at.saturating_sub(CREATED_MARGIN));
    let created = format!("%3E%3D{}", since.replace(':', "%3A"));
    let path = match &follow.workflow {
        None => format!(
            "/repos/{repository}/actions/runs?event=repository_dispatch&created={created}&per_page=100"
        ),
        Some(workflow) => format!(
            "/repos/{repository}/actions/workflows/{workflow}/runs?event=workflow_dispatch&created={created}&per_page=100"
        ),
    };
    // Lists lag: a run of another client, or of another of the site's workflows, may show
    // before ours. Until the list had time to settle it is read whole each time (no ETag:
    // a 304 then would hide what came since), and nothing is decided.
    let settled = now_ms().saturating_sub(follow.recorded_ms) >= TIME_SETTLE_POLLS * poll_ms;
    if !settled {
        follow.etags.remove(&client.api.url(&path));
    }
    let list = match get(client, follow, &path) {
        Got::Json(v) => v,
        // Unchanged since a settled read: what was found by id then is all there is.
        Got::NotModified if !follow.runs.is_empty() => {
            follow.phase = Phase::Following;
            return track_completed(client, all, follow);
        }
        Got::NotModified => return waited(follow, poll_ms),
        Got::Failed(failed) => return Err(failed),
    };
    let runs: Vec<&Value> = list
        .get("workflow_runs")
        .and_then(Value::as_array)
        .map(|a| a.iter().collect())
        .unwrap_or_default();
    // By id: a whole token of the title (`update gd-1` holds gd-1, never gd-10).
    let mut found: Vec<Run> = match &follow.dispatch_id {
        Some(id) => runs
            .iter()
            .filter(|v| title_words(v).any(|w| w == id))
            .filter_map(|v| Run::from_github(v))
            .collect(),
        None => Vec::new(),
    };
    if !found.is_empty() {
        follow.matched = Some(Match::Id);
        // Kept, one per workflow, while another workflow's run may still show; but once
        // every run found has completed, two polls on, the lag has evidently passed for
        // runs created with ours, and waiting out the window would only delay the outcome
        // past its budget (10 s after the run's end) for a build shorter than the window.
        let early = now_ms().saturating_sub(follow.recorded_ms) < 2 * poll_ms;
        if !settled && (early || !found.iter().all(Run::completed)) {
            follow.runs = newest_per_workflow(found);
            return Ok(());
        }
    } else {
        // By time, only where it cannot be wrong but for the caveat said with it: the one
        // new run there is, started by the token's own user, its title carrying no other
        // dispatch's id, with nothing else of ours in flight for this target.
        let login = user.as_deref();
        let fresh: Vec<Run> = runs
            .iter()
            .filter(|v| {
                let actor = v["actor"]["login"].as_str();
                login.is_none_or(|l| actor == Some(l))
            })
            .filter(|v| !title_words(v).any(|w| w.starts_with("gd-")))
            .filter_map(|v| Run::from_github(v))
            // Created with the dispatch or after (GitHub's clock, to the second).
            .filter(|r| r.created_at + 2 >= follow.dispatched_at)
            .collect();
        if !settled {
            return waited(follow, poll_ms);
        }
        let others_in_flight = all
            .iter()
            .any(|f| f.id != follow.id && f.target == follow.target && f.phase != Phase::Done);
        match fresh.len() {
            0 => {}
            1 if !others_in_flight => {
                found = fresh;
                follow.matched = Some(Match::Time);
            }
            n => {
                let page = runs
                    .iter()
                    .find_map(|v| v.get("html_url")?.as_str())
                    .and_then(|u| {
                        u.split_once("/actions/runs/")
                            .map(|(base, _)| format!("{base}/actions"))
                    })
                    .and_then(|u| crate::run::web_url(&u));
                follow.note = Some(format!(
                    "{NOT_IDENTIFIED}: {n} runs started then{}; add the `run-name` line to the \
                     site's workflow (`git dispatch doctor` shows it) so its title carries the \
                     dispatch's id",
                    page.map(|p| format!(" ({p})")).unwrap_or_default()
                ));
                follow.outcome = Some(Outcome::NotIdentified);
                follow.phase = Phase::Done;
                return Ok(());
            }
        }
    }
    if found.is_empty() {
        return waited(follow, poll_ms);
    }
    follow.runs = newest_per_workflow(found);
    follow.note = time_note(follow);
    follow.phase = Phase::Following;
    track_completed(client, all, follow)
}

/// The words of a listed run's title (GitHub's `display_title`, the rendered `run-name`).
fn title_words(run: &Value) -> std::str::SplitWhitespace<'_> {
    run.get("display_title")
        .and_then(Value::as_str)
        .unwrap_or("")
        .split_whitespace()
}

/// GitHub may deliver an event twice, and we may send a push twice: one run per
/// workflow, the newest deciding.
fn newest_per_workflow(found: Vec<Run>) -> Vec<Run> {
    let mut newest: BTreeMap<u64, Run> = BTreeMap::new();
    for run in found {
        match newest.get(&run.workflow_id) {
            Some(kept) if kept.id >= run.id => {}
            _ => {
                newest.insert(run.workflow_id, run);
            }
        }
    }
    newest.into_values().collect()
}

/// No run (yet): after two minutes say so, provisionally, and look less often.
fn waited(follow: &mut Follow, poll_ms: u64) -> Step {
    let waited_ms = follow.github_now.saturating_sub(follow.dispatched_at) * 1000;
    let elapsed_ms = waited_ms.max(now_ms().saturating_sub(follow.recorded_ms));
    if elapsed_ms >= NO_RUN_AFTER_POLLS * poll_ms {
        follow.note = Some(
            "no run started yet: is the event in the workflow's `types`, is the workflow on \
             the default branch, are Actions enabled? (`git dispatch doctor` checks)"
                .to_string(),
        );
        follow.next_poll = now_ms() + SLOW_POLLS * poll_ms;
    }
    Ok(())
}

/// Polls each unfinished run; when all are done, reads the failed jobs and decides. While
/// someone watches on a terminal, a running run's jobs are read too (conditionally: a 304
/// while no step moved), for the job and step it is at.
fn track(client: &Client, all: &[Follow], follow: &mut Follow, watched: bool) -> Step {
    let repository = follow.repository.clone();
    for i in 0..follow.runs.len() {
        if follow.runs[i].completed() {
            continue;
        }
        let path = format!("/repos/{repository}/actions/runs/{}", follow.runs[i].id);
        match get(client, follow, &path) {
            Got::Json(v) => {
                if let Some(mut run) = Run::from_github(&v) {
                    // The step read last still stands while the jobs answer 304.
                    if !run.completed() && run.run_attempt == follow.runs[i].run_attempt {
                        run.current = follow.runs[i].current.take();
                    }
                    follow.runs[i] = run;
                }
            }
            Got::NotModified => {}
            Got::Failed(failed) => return Err(failed),
        }
        let run = &follow.runs[i];
        if !watched || run.status != "in_progress" {
            follow.runs[i].current = None;
            continue;
        }
        let path = format!(
            "/repos/{repository}/actions/runs/{}/attempts/{}/jobs?per_page=100",
            run.id, run.run_attempt
        );
        if let Got::Json(v) = get(client, follow, &path) {
            follow.runs[i].current = current_job(&v);
        }
    }
    track_completed(client, all, follow)
}

fn track_completed(client: &Client, all: &[Follow], follow: &mut Follow) -> Step {
    if !follow.runs.iter().all(Run::completed) {
        return Ok(());
    }
    let repository = follow.repository.clone();
    for i in 0..follow.runs.len() {
        let run = &follow.runs[i];
        if run.ended_well() {
            continue;
        }
        // One request for the jobs of that attempt (a matrix has many: per_page=100).
        let path = format!(
            "/repos/{repository}/actions/runs/{}/attempts/{}/jobs?per_page=100",
            run.id, run.run_attempt
        );
        // Read whole: a jobs answer kept from a watched poll may already be the final one
        // (jobs end a moment before their run), and a 304 would then leave no failed job.
        follow.etags.remove(&client.api.url(&path));
        if let Got::Json(v) = get(client, follow, &path) {
            follow.runs[i].failed_job = failed_job(&v);
        }
    }
    // The first run that did not end well decides; if all did, the first run's own.
    let deciding = follow.failed_run().or(follow.runs.first());
    let conclusion = deciding.and_then(|r| r.conclusion.as_deref());
    follow.outcome = Some(match conclusion {
        Some("cancelled") if newer_of_target(all, follow) => Outcome::Superseded,
        Some(c) => Outcome::from_conclusion(c).unwrap_or(Outcome::Concluded("failure")),
        None => Outcome::Concluded("success"),
    });
    if follow.outcome == Some(Outcome::Concluded("success")) && follow.site_url.is_none() {
        // GitHub Pages says where the site is, when the token may read it (Pages: read,
        // optional): one request, with nothing lost without it.
        if let Got::Json(v) = get(client, follow, &format!("/repos/{repository}/pages")) {
            follow.site_url = v
                .get("html_url")
                .and_then(Value::as_str)
                .filter(|u| crate::config::validate_site_url(u).is_ok())
                .map(str::to_string);
        }
    }
    follow.phase = Phase::Done;
    Ok(())
}

/// Whether a newer dispatch of the same target is followed (a `concurrency` group cancels
/// the older run for it).
fn newer_of_target(all: &[Follow], follow: &Follow) -> bool {
    all.iter().any(|f| {
        f.target == follow.target
            && (f.dispatched_at, f.id.as_str()) > (follow.dispatched_at, follow.id.as_str())
    })
}

/// The first job of a jobs answer that is running, and its running step when there is one.
fn current_job(jobs: &Value) -> Option<(String, Option<String>)> {
    first_job(jobs, |v| {
        v.get("status").and_then(Value::as_str) == Some("in_progress")
    })
}

/// The first failed job of a jobs answer, and its failed step when there is one.
fn failed_job(jobs: &Value) -> Option<(String, Option<String>)> {
    first_job(jobs, |v| {
        let conclusion = v.get("conclusion").and_then(Value::as_str);
        conclusion.is_some() && !crate::run::ended_well(conclusion)
    })
}

/// The first job that `pick` takes, and its first step that `pick` takes, if any; names
/// from the site repository, control characters stripped.
fn first_job(jobs: &Value, pick: impl Fn(&Value) -> bool) -> Option<(String, Option<String>)> {
    let job = jobs.get("jobs")?.as_array()?.iter().find(|j| pick(j))?;
    let name = crate::say::one_line(job.get("name")?.as_str()?);
    let step = job
        .get("steps")
        .and_then(Value::as_array)
        .and_then(|steps| steps.iter().find(|s| pick(s)))
        .and_then(|s| s.get("name")?.as_str())
        .map(crate::say::one_line);
    Some((name, step))
}
