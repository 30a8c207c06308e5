//! The follower's life: one per clone (its lock), started in the background by whoever
//! finds a delivery unfinished, stopped by `uninstall`, handed over to a new binary.

use std::collections::BTreeSet;

use super::record::{Follow, Phase};
use crate::config::Settings;
use crate::store::Store;

/// Whether `dispatch.follow` is still true, the repository opened again to read the config
/// as it is now (one that cannot be read now does not stop a follow under way).
pub fn still_on() -> bool {
    settings_now().is_none_or(|s| s.follow.value)
}

/// The settings as the config says now (the repository opened again); `None` when it
/// cannot be read.
pub(super) fn settings_now() -> Option<Settings> {
    crate::repo::Repo::discover()
        .and_then(|repo| crate::config::Config::load(&repo))
        .ok()
        .map(|c| c.settings)
}

/// Starts a follower in the background (`git-dispatch hook follow`, its own session):
/// fork and exec, so it is safe from a process that has threads.
pub fn start_detached() {
    if let Ok(exe) = std::env::current_exe() {
        start_detached_from(&exe);
    }
}

pub(super) fn start_detached_from(exe: &std::path::Path) {
    use std::os::unix::process::CommandExt;
    let mut command = std::process::Command::new(exe);
    command
        .args(["hook", "follow"])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    // SAFETY: setsid, close_range and fcntl are plain syscalls, safe between fork and exec.
    unsafe {
        command.pre_exec(|| {
            libc::setsid();
            // Nothing of git's (pipes to receive-pack) stays open in the follower: the
            // waiter's rule, on every OS.
            crate::child::close_from(3, crate::child::Close::OnExec);
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
pub(super) fn binary_stamp(exe: &std::path::Path) -> Option<(u64, std::time::SystemTime)> {
    let meta = std::fs::metadata(exe).ok()?;
    Some((meta.len(), meta.modified().ok()?))
}

/// Logs `event` when dropped: a follower's end, however it returns.
pub(super) struct LogOnDrop<'a>(pub(super) &'a Store, pub(super) &'static str);

impl Drop for LogOnDrop<'_> {
    fn drop(&mut self) {
        // Not into a state directory that was removed (uninstall, `rm -rf`): logging would
        // make it again.
        if self.0.exists() {
            self.0.log_in_place(self.1, None, "done");
        }
    }
}

/// Whether the lock file this process holds is still the one on disk at `path`: a state
/// directory removed and made again within a poll has a new lock, which another follower
/// may hold.
pub(super) fn still_ours(lock: &std::fs::File, path: &std::path::Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    match (lock.metadata(), std::fs::metadata(path)) {
        (Ok(held), Ok(on_disk)) => (held.dev(), held.ino()) == (on_disk.dev(), on_disk.ino()),
        _ => false,
    }
}
