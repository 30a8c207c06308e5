//! The after-push waiter: git has no post-push hook, so the pre-push hook starts this
//! detached process, which outlives the hook and waits for `git push` itself to exit.
//!
//! ```text
//! git push ─┬─ pre-push hook (git-dispatch hook pre-push) ── records awaiting-push, spawns ─┐
//!           │  (sends the pack, updates refs/remotes/<remote>/<branch>, exits)               │
//!           ▼                                                                                ▼
//!        exits ──────────────────────────────> waiter (own session, no stdio of git's) wakes
//!                                              tracking ref holds the sha?  yes: confirmed ─> POST
//!                                              no tracking ref: git ls-remote <remote> <ref>
//!                                              otherwise: not landed (rejected, --dry-run) ─> dropped
//! ```

use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};

use crate::answer::Failure;
use crate::config::Config;
use crate::delivery::{self, Mode};
use crate::repo::Repo;
use crate::store::{Entry, State, Store};

/// The longest the waiter waits for `git push` to exit; a push still running then is
/// confirmed by a later run.
const PUSH_BOUND: Duration = Duration::from_secs(3600);
/// How long a push whose landing cannot be told stays awaiting before it is failed, so
/// that the hook reports it.
const UNCONFIRMED_BOUND: Duration = Duration::from_secs(6 * 3600);
/// The longest `retry-after` the waiter waits out itself.
pub const MAX_WAIT_OUT: Duration = Duration::from_secs(60);
/// How long `git ls-remote` may take.
const LS_REMOTE_TIMEOUT: Duration = Duration::from_secs(30);

/// Starts the waiter for the `git push` process `pid`, detached: its own session, and
/// standard streams that are not git's (else `git push | cat` would wait for it). It
/// leaves the entries `leave` alone (the hook sends those itself).
///
/// A plain `fork`, no `exec`: the hook is single-threaded here, and not loading the binary
/// again saves the push about a millisecond (measured in bench/; doc/decisions.md, "The
/// waiter: fork without exec"). The parent returns at once.
pub fn spawn(pid: Option<u32>, leave: &[String]) -> Result<()> {
    // Every caller forks before its first request, so this holds; a debug build checks it,
    // so a change that breaks it fails the tests (the hook turns the panic into a line).
    debug_assert!(
        single_threaded(),
        "the waiter is forked while another thread runs"
    );
    // SAFETY: no other thread runs in the hook at this point (checked above in debug
    // builds), so the child may go on running Rust code: no lock can be held by a thread
    // that the child lacks. It never returns into the hook's code path (it ends with _exit).
    match unsafe { libc::fork() } {
        -1 => Err(std::io::Error::last_os_error()).context("starting the waiter"),
        0 => {
            // SAFETY: plain syscalls on descriptors this process owns.
            unsafe {
                // Detached from git's terminal and process group: Ctrl-C on `git push` after
                // the hook returned does not kill the delivery.
                libc::setsid();
                let null = libc::open(c"/dev/null".as_ptr(), libc::O_RDWR);
                if null >= 0 {
                    for fd in 0..3 {
                        libc::dup2(null, fd);
                    }
                    if null > 2 {
                        libc::close(null);
                    }
                }
                // Nothing of git's stays open in the waiter (pipes to receive-pack, say):
                // whoever waits for their end must not wait for us.
                crate::child::close_from(3, crate::child::Close::Now);
            }
            if let Err(err) = run(pid, leave) {
                if let Ok(repo) = Repo::discover() {
                    Store::new(repo.common_dir()).log("error", None, &format!("waiter: {err:#}"));
                }
            }
            // SAFETY: ends the child without running the hook's exit path (stdio flushes,
            // atexit handlers) a second time.
            unsafe { libc::_exit(0) }
        }
        _ => Ok(()),
    }
}

/// Whether this process runs one thread (Linux: `Threads:` in /proc/self/status; elsewhere
/// assumed, since the callers keep it so).
fn single_threaded() -> bool {
    if !cfg!(target_os = "linux") {
        return true;
    }
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("Threads:"))
                .map(|n| n.trim() == "1")
        })
        .unwrap_or(true)
}

/// The waiter's body: wait for the push, confirm what landed, deliver what is due (but
/// `leave`).
fn run(pid: Option<u32>, leave: &[String]) -> Result<()> {
    if let Some(pid) = pid {
        // Still running after the bound: its entries wait for a later run.
        if !wait_for_exit(pid, PUSH_BOUND) {
            return Ok(());
        }
    }
    let repo = Repo::discover()?;
    let store = Store::new(repo.common_dir());
    let config = Config::load(&repo)?;
    // While held, `watch` keeps an entry GitHub asked to send a little later pending.
    let alive = store.hold_waiter();
    confirm_pending(&repo, &store, pid)?;
    // A short `retry-after` is waited out here; a longer one is left to a later run.
    for round in 0..3 {
        let mut entries = store.entries()?;
        entries.retain(|e| !leave.contains(&e.id));
        let outcomes = delivery::deliver(&store, &config.settings, &entries, Mode::Due);
        let mut wait = None;
        for outcome in &outcomes {
            store.log(
                "waiter",
                Some(&outcome.entry),
                &delivery::describe(outcome, true),
            );
            if let Err(Failure::Later {
                after: Some(after), ..
            }) = outcome.verdict
            {
                if after <= MAX_WAIT_OUT.as_secs() {
                    wait = wait.max(Some(after));
                }
            }
        }
        match wait {
            // Not after the last round: nothing would be sent after the sleep.
            Some(secs) if round < 2 => std::thread::sleep(Duration::from_secs(secs)),
            _ => break,
        }
    }
    drop(alive);
    // The waiter goes on as the clone's follower (if none runs yet): no second process.
    if crate::follow::unfinished(&store) {
        crate::follow::run(&store, &config.settings)?;
    }
    Ok(())
}

/// Decides every `awaiting-push` entry whose `git push` has ended (`exited` is one known to
/// have): confirmed if the push landed, removed if it did not, left as it is if that cannot
/// be told yet.
pub fn confirm_pending(repo: &Repo, store: &Store, exited: Option<u32>) -> Result<()> {
    for entry in store.entries()? {
        let done = exited.is_some_and(|pid| pid == entry.push_pid) || !push_running(&entry);
        if entry.state != State::AwaitingPush || !done {
            continue;
        }
        let _lock = store.lock_target(&entry.target)?;
        let Some(mut entry) = store.reload(&entry.id)? else {
            continue;
        };
        if entry.state != State::AwaitingPush {
            continue;
        }
        match landed(repo, &entry) {
            Landed::Yes => {
                entry.state = State::Confirmed;
                entry.updated = crate::store::now();
                store.save(&entry)?;
                store.log("confirmed", Some(&entry), "the push landed");
            }
            Landed::No(why) => {
                store.remove(&entry.id)?;
                store.log(
                    "dropped",
                    Some(&entry),
                    &format!("the push did not land: {why}"),
                );
            }
            Landed::Unknown(why) => {
                let why = crate::redact::line(&why);
                let now = crate::store::now();
                // Asked after every push and never answered: say so, rather than keep it
                // waiting where the hook never reports it.
                if now.saturating_sub(entry.created) > UNCONFIRMED_BOUND.as_secs() {
                    entry.state = State::Failed;
                    entry.last_error = Some(format!(
                        "cannot tell whether the push landed ({why}) after {}h; `git dispatch \
                         retry` sends it anyway, `git dispatch drop {}` forgets it",
                        UNCONFIRMED_BOUND.as_secs() / 3600,
                        entry.id
                    ));
                } else {
                    let said = format!("cannot tell yet whether the push landed: {why}");
                    // The same answer again changes nothing: neither saved nor logged, so a
                    // `watch` that asks every few seconds does not churn the log.
                    if entry.last_error.as_deref() == Some(said.as_str()) {
                        continue;
                    }
                    entry.last_error = Some(said);
                }
                entry.updated = now;
                store.save(&entry)?;
                store.log("unconfirmed", Some(&entry), &why);
            }
        }
    }
    Ok(())
}

/// Whether the entry's `git push` may still be running.
fn push_running(entry: &Entry) -> bool {
    if entry.push_pid == 0
        || crate::store::now().saturating_sub(entry.created) > PUSH_BOUND.as_secs()
    {
        return false;
    }
    process_alive(entry.push_pid)
}

enum Landed {
    Yes,
    No(String),
    Unknown(String),
}

/// The remote-tracking ref git updates after a successful push tells; with none, the
/// remote itself is asked.
fn landed(repo: &Repo, entry: &Entry) -> Landed {
    // A push by URL moves no remote-tracking ref: only the remote can tell.
    let tracking = match entry.pushed_url {
        Some(_) => None,
        None => repo.tracking_ref_name(&entry.remote, &entry.remote_ref),
    };
    if let Some(tracking) = tracking {
        match repo.ref_sha(&tracking) {
            Ok(Some(sha)) if moved_on(repo, entry, &sha) => return Landed::Yes,
            Ok(Some(sha)) => {
                return Landed::No(format!(
                    "{tracking} holds {}, not {} (rejected, --dry-run, or failed)",
                    &sha[..sha.len().min(7)],
                    entry.short_sha()
                ))
            }
            Ok(None) => {}
            Err(err) => return Landed::Unknown(format!("{err:#}")),
        }
    }
    // For a push by URL, the configured push URL it matched, credentials and all (the
    // entry keeps it without them); else the remote's name. A URL given only on the
    // command line is asked through the remote, which names the same repository.
    let configured = entry.pushed_url.as_deref().and_then(|shown| {
        repo.push_urls(&entry.remote)
            .into_iter()
            .find(|u| crate::repo::same_url(&crate::redact::url(u), shown))
    });
    let ask = configured.as_deref().unwrap_or(&entry.remote);
    match ls_remote(repo, ask, &entry.remote_ref) {
        Ok(Some(sha)) if moved_on(repo, entry, &sha) => Landed::Yes,
        Ok(Some(sha)) => Landed::No(format!(
            "the remote's {} is {}, not {}",
            entry.branch(),
            &sha[..sha.len().min(7)],
            entry.short_sha()
        )),
        Ok(None) => Landed::No(format!("the remote has no {}", entry.remote_ref)),
        Err(err) => Landed::Unknown(format!("{err:#}")),
    }
}

/// Whether the remote ref now at `sha` holds the entry's push: it is the pushed sha, or it
/// moved on from it (fetched or pushed again since). A ref still at `before` did not take
/// it (a --dry-run force push back, say).
fn moved_on(repo: &Repo, entry: &Entry, sha: &str) -> bool {
    sha == entry.sha || (sha != entry.before && repo.is_ancestor(&entry.sha, sha).unwrap_or(false))
}

/// `git ls-remote <remote> <ref>`, never prompting, bounded, without our token.
pub fn ls_remote(repo: &Repo, remote: &str, remote_ref: &str) -> Result<Option<String>> {
    let dir = repo.workdir().unwrap_or(repo.git_dir());
    let mut command = Command::new("git");
    command
        .arg("-C")
        .arg(dir)
        .args(["ls-remote", "--", remote, remote_ref])
        .env("GIT_TERMINAL_PROMPT", "0");
    let what = format!("git ls-remote {}", crate::redact::url(remote));
    let output = crate::child::output_within(&mut command, LS_REMOTE_TIMEOUT, &what)?;
    if !output.status.success() {
        anyhow::bail!("{what} failed: {}", crate::child::first_error_line(&output));
    }
    let text = String::from_utf8_lossy(&output.stdout);
    Ok(text
        .lines()
        .filter_map(|l| l.split_once('\t'))
        .find(|(_, name)| *name == remote_ref)
        .map(|(sha, _)| sha.to_string()))
}

/// Whether a process exists and has not exited (EPERM means it exists, owned by someone
/// else). An exited process its parent has not reaped yet (a zombie) answers `kill` too.
pub fn process_alive(pid: u32) -> bool {
    // SAFETY: signal 0 only checks for existence.
    let rc = unsafe { libc::kill(pid as libc::pid_t, 0) };
    let exists = rc == 0 || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM);
    exists && !is_zombie(pid)
}

#[cfg(target_os = "linux")]
fn is_zombie(pid: u32) -> bool {
    // /proc/<pid>/stat: "pid (comm) S ..."; comm may hold spaces and parentheses.
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| s.rsplit_once(") ").map(|(_, rest)| rest.starts_with('Z')))
        .unwrap_or(false)
}

#[cfg(not(target_os = "linux"))]
fn is_zombie(_pid: u32) -> bool {
    false
}

/// Blocks until `pid` exits or `bound` passes, without spinning where the OS can tell us.
/// Whether it exited (`false`: the bound passed first).
fn wait_for_exit(pid: u32, bound: Duration) -> bool {
    if let Some(exited) = wait_native(pid, bound) {
        return exited;
    }
    let started = Instant::now();
    while process_alive(pid) {
        if started.elapsed() >= bound {
            return false;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    true
}

/// pidfd: a file descriptor that becomes readable when the process exits.
#[cfg(target_os = "linux")]
fn wait_native(pid: u32, bound: Duration) -> Option<bool> {
    // SAFETY: plain syscalls on a descriptor we own and close.
    unsafe {
        let fd = libc::syscall(libc::SYS_pidfd_open, pid as libc::pid_t, 0) as libc::c_int;
        if fd < 0 {
            // ESRCH: already gone. Anything else (old kernel): fall back to polling.
            let gone = std::io::Error::last_os_error().raw_os_error() == Some(libc::ESRCH);
            return gone.then_some(true);
        }
        let mut pfd = libc::pollfd {
            fd,
            events: libc::POLLIN,
            revents: 0,
        };
        let ms = bound.as_millis().min(i32::MAX as u128) as libc::c_int;
        let rc = libc::poll(&mut pfd, 1, ms);
        libc::close(fd);
        match rc {
            0 => Some(false),
            r if r > 0 => Some(true),
            _ => None,
        }
    }
}

/// kqueue's EVFILT_PROC reports the exit of any process we may signal.
#[cfg(any(target_os = "macos", target_os = "freebsd"))]
fn wait_native(pid: u32, bound: Duration) -> Option<bool> {
    // SAFETY: plain syscalls on a descriptor we own and close.
    unsafe {
        let kq = libc::kqueue();
        if kq < 0 {
            return None;
        }
        let mut change: libc::kevent = std::mem::zeroed();
        change.ident = pid as libc::uintptr_t;
        change.filter = libc::EVFILT_PROC;
        change.flags = libc::EV_ADD | libc::EV_ONESHOT;
        change.fflags = libc::NOTE_EXIT;
        let mut event: libc::kevent = std::mem::zeroed();
        let timeout = libc::timespec {
            tv_sec: bound.as_secs() as libc::time_t,
            tv_nsec: 0,
        };
        let rc = libc::kevent(kq, &change, 1, &mut event, 1, &timeout);
        let gone = rc < 0 && std::io::Error::last_os_error().raw_os_error() == Some(libc::ESRCH);
        libc::close(kq);
        match rc {
            _ if gone => Some(true),
            0 => Some(false),
            r if r > 0 => Some(true),
            _ => None,
        }
    }
}

#[cfg(not(any(target_os = "linux", target_os = "macos", target_os = "freebsd")))]
fn wait_native(_pid: u32, _bound: Duration) -> Option<bool> {
    None
}
