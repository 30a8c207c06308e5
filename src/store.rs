//! Pending dispatches on disk, in `dispatch/` under the common git dir (shared by worktrees).
//!
//! ```text
//! dispatch/pending/<id>.json   one entry per pending or failed dispatch (atomic writes)
//! dispatch/locks/target-<name> File::lock per target: one deliverer at a time, targets in parallel
//! dispatch/history.json        the last deliveries
//! dispatch/log.jsonl           what happened, bounded and rotated to log.1.jsonl
//! dispatch/reported            when the hook last said what failed
//! dispatch/default-branches.json  each workflow target's default branch, for a day
//! dispatch/api-hosts.json      API hosts that refuse `return_run_details`, for a week
//! dispatch/runs/<id>.json      each delivery's run(s) as followed, until announced and old
//! ```
//!
//! Entry life: `awaiting-push` (recorded by the hook) -> `confirmed` (the push landed) ->
//! delivered (removed, added to history) or `failed` (refused for good, kept until dropped or
//! retried). A push that did not land, or an older push superseded by a newer one, is removed.

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result};
use serde_json::{json, Value};

/// Where an entry is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum State {
    /// Recorded by the hook; the push may not have landed yet.
    AwaitingPush,
    /// The push landed; to be sent (again, after a failure that may pass).
    Confirmed,
    /// GitHub refused it for good; kept with the fix until dropped or retried.
    Failed,
}

impl State {
    /// The name used in files and `status --json`.
    pub fn as_str(self) -> &'static str {
        match self {
            State::AwaitingPush => "awaiting-push",
            State::Confirmed => "confirmed",
            State::Failed => "failed",
        }
    }

    fn parse(s: &str) -> Option<State> {
        Some(match s {
            "awaiting-push" => State::AwaitingPush,
            "confirmed" => State::Confirmed,
            "failed" => State::Failed,
            _ => return None,
        })
    }
}

/// One dispatch for one (target, push).
#[derive(Clone, Debug, PartialEq)]
pub struct Entry {
    /// Unique id, also the file name.
    pub id: String,
    /// The target's name.
    pub target: String,
    /// The target repository, `owner/repo`.
    pub repository: String,
    /// The remote pushed to.
    pub remote: String,
    /// The remote ref pushed (`refs/heads/main`).
    pub remote_ref: String,
    /// The pushed sha.
    pub sha: String,
    /// The sha the remote ref held before.
    pub before: String,
    /// The request body, fixed when the push was recorded; for a workflow dispatch, its
    /// `inputs` object (the ref may only be known at send time).
    pub body: String,
    /// `workflow_dispatch` of this workflow (file name or id) instead of `repository_dispatch`.
    pub workflow: Option<String>,
    /// The ref a workflow dispatch runs on; `None`: the target's default branch.
    pub workflow_ref: Option<String>,
    /// A deploy hook (`host:id`, as `dispatch.<name>.hook` names it) instead of GitHub; the
    /// body is then the build's title.
    pub hook: Option<String>,
    /// A Netlify site (its id) built through Netlify's API instead of GitHub; the body is
    /// then the build's title.
    pub netlify: Option<String>,
    /// For a push by URL (`git push <url> main`) to `remote`'s repository: that URL, with
    /// no credentials. Git updates no remote-tracking ref then, so the remote is asked.
    pub pushed_url: Option<String>,
    /// The site's public URL (the target's `url`), said with a successful build.
    pub site_url: Option<String>,
    /// Where it is in its life.
    pub state: State,
    /// The `git push` process that pushed it (0 when unknown).
    pub push_pid: u32,
    /// Unix time the hook recorded it.
    pub created: u64,
    /// Nanoseconds since the epoch at creation, to order pushes of the same second.
    pub seq: u128,
    /// Failed sends so far.
    pub attempts: u32,
    /// Unix time before which no automatic retry is made.
    pub next_attempt: u64,
    /// The last failure, in words with a fix.
    pub last_error: Option<String>,
    /// Unix time of the last change.
    pub updated: u64,
}

impl Entry {
    /// Whether it dispatches to GitHub (not a deploy hook, not Netlify).
    pub fn on_github(&self) -> bool {
        self.hook.is_none() && self.netlify.is_none()
    }

    /// Whether its build is followed when `dispatch.follow` is on (a deploy hook's is not:
    /// its host names no build).
    pub fn followed(&self) -> bool {
        self.hook.is_none()
    }

    /// A new `awaiting-push` entry.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        target: &str,
        repository: &str,
        remote: &str,
        remote_ref: &str,
        sha: &str,
        before: &str,
        body: String,
        push_pid: u32,
    ) -> Entry {
        let seq = now_nanos();
        // Two targets recorded in the same microsecond by one process still differ.
        static COUNTER: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let id = format!(
            "{:012x}{:04x}{:02x}",
            seq / 1000 % (1 << 48),
            std::process::id() % 0x10000,
            n % 0x100
        );
        let created = (seq / 1_000_000_000) as u64;
        Entry {
            id,
            target: target.into(),
            repository: repository.into(),
            remote: remote.into(),
            remote_ref: remote_ref.into(),
            sha: sha.into(),
            before: before.into(),
            body,
            workflow: None,
            workflow_ref: None,
            hook: None,
            netlify: None,
            pushed_url: None,
            site_url: None,
            state: State::AwaitingPush,
            push_pid,
            created,
            seq,
            attempts: 0,
            next_attempt: 0,
            last_error: None,
            updated: created,
        }
    }

    /// The entry as stored and as `status --json` shows it.
    pub fn to_json(&self) -> Value {
        json!({
            "id": self.id,
            "target": self.target,
            "repository": self.repository,
            "remote": self.remote,
            "ref": self.remote_ref,
            "sha": self.sha,
            "before": self.before,
            "body": self.body,
            "workflow": self.workflow,
            "workflow_ref": self.workflow_ref,
            "hook": self.hook,
            "netlify": self.netlify,
            "pushed_url": self.pushed_url,
            "site_url": self.site_url,
            "state": self.state.as_str(),
            "push_pid": self.push_pid,
            "created": self.created,
            "seq": self.seq.to_string(),
            "attempts": self.attempts,
            "next_attempt": self.next_attempt,
            "last_error": self.last_error,
            "updated": self.updated,
        })
    }

    fn from_json(v: &Value) -> Option<Entry> {
        let s = |k: &str| v.get(k)?.as_str().map(str::to_string);
        let n = |k: &str| v.get(k).and_then(Value::as_u64).unwrap_or(0);
        Some(Entry {
            id: s("id")?,
            target: s("target")?,
            repository: s("repository")?,
            remote: s("remote")?,
            remote_ref: s("ref")?,
            sha: s("sha")?,
            before: s("before")?,
            body: s("body")?,
            workflow: s("workflow"),
            workflow_ref: s("workflow_ref"),
            hook: s("hook"),
            netlify: s("netlify"),
            pushed_url: s("pushed_url"),
            site_url: s("site_url"),
            state: State::parse(&s("state")?)?,
            push_pid: n("push_pid") as u32,
            created: n("created"),
            seq: s("seq").and_then(|x| x.parse().ok()).unwrap_or(0),
            attempts: n("attempts") as u32,
            next_attempt: n("next_attempt"),
            last_error: s("last_error"),
            updated: n("updated"),
        })
    }

    /// Whether a waiter has work for it at `now`: a push to confirm, or a retry whose
    /// time has come.
    pub fn waiter_due(&self, now: u64) -> bool {
        match self.state {
            State::AwaitingPush => true,
            State::Confirmed => self.next_attempt <= now,
            State::Failed => false,
        }
    }

    /// The first 7 characters of the pushed sha.
    pub fn short_sha(&self) -> &str {
        self.sha.get(..7).unwrap_or(&self.sha)
    }

    /// The branch name of the remote ref.
    pub fn branch(&self) -> &str {
        self.remote_ref
            .strip_prefix("refs/heads/")
            .unwrap_or(&self.remote_ref)
    }
}

/// A delivered dispatch, for `status`.
#[derive(Clone, Debug)]
pub struct Delivery {
    /// The entry's id (or `send` for a manual send).
    pub id: String,
    /// The target's name.
    pub target: String,
    /// `owner/repo`.
    pub repository: String,
    /// The remote ref.
    pub remote_ref: String,
    /// The sha sent.
    pub sha: String,
    /// Unix time of GitHub's answer.
    pub delivered: u64,
    /// The workflow run GitHub started, when it said (workflow dispatches).
    pub run_url: Option<String>,
}

impl Delivery {
    /// As stored and shown by `status --json`.
    pub fn to_json(&self) -> Value {
        json!({
            "id": self.id, "target": self.target, "repository": self.repository,
            "ref": self.remote_ref, "sha": self.sha, "delivered": self.delivered,
            "run_url": self.run_url,
        })
    }

    fn from_json(v: &Value) -> Option<Delivery> {
        let s = |k: &str| v.get(k)?.as_str().map(str::to_string);
        Some(Delivery {
            id: s("id")?,
            target: s("target")?,
            repository: s("repository")?,
            remote_ref: s("ref")?,
            sha: s("sha")?,
            delivered: v.get("delivered")?.as_u64()?,
            run_url: s("run_url"),
        })
    }
}

/// How many deliveries `status` remembers.
const HISTORY_LEN: usize = 20;
/// The log is rotated past this size; one old generation is kept.
const LOG_MAX_BYTES: u64 = 256 * 1024;

/// The state directory.
#[derive(Clone, Debug)]
pub struct Store {
    dir: PathBuf,
}

impl Store {
    /// The store below `common_dir` (created on first write).
    pub fn new(common_dir: &Path) -> Store {
        Store {
            dir: common_dir.join("dispatch"),
        }
    }

    fn pending_dir(&self) -> PathBuf {
        self.dir.join("pending")
    }

    /// Every stored entry, oldest push first. Unreadable files are reported, not dropped.
    pub fn entries(&self) -> Result<Vec<Entry>> {
        let dir = self.pending_dir();
        let read = match fs::read_dir(&dir) {
            Ok(read) => read,
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(err) => return Err(err).with_context(|| format!("reading {}", dir.display())),
        };
        let mut entries = Vec::new();
        for item in read {
            let path = item
                .with_context(|| format!("reading {}", dir.display()))?
                .path();
            if path.extension().is_none_or(|e| e != "json") {
                continue;
            }
            if let Some(entry) = self.read_entry(&path)? {
                entries.push(entry);
            }
        }
        entries.sort_by(|a, b| a.seq.cmp(&b.seq).then_with(|| a.id.cmp(&b.id)));
        Ok(entries)
    }

    fn read_entry(&self, path: &Path) -> Result<Option<Entry>> {
        let text = match fs::read(path) {
            Ok(t) => t,
            // Delivered and removed by another process since we listed the directory.
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            // One unreadable file (a directory, no permission) must not stop every dispatch.
            Err(err) => {
                self.log(
                    "unreadable",
                    None,
                    &format!("{}: {err}; left as it is", path.display()),
                );
                return Ok(None);
            }
        };
        let entry = serde_json::from_slice::<Value>(&text)
            .ok()
            .as_ref()
            .and_then(Entry::from_json);
        if entry.is_none() {
            // One damaged file must not stop every other dispatch: set it aside, keep it.
            let aside = path.with_extension("corrupt");
            let _ = fs::rename(path, &aside);
            self.log(
                "corrupt",
                None,
                &format!(
                    "{} is not a git-dispatch entry; moved to {}",
                    path.display(),
                    aside.display()
                ),
            );
        }
        Ok(entry)
    }

    /// The entry with this id, re-read from disk (`None` once delivered or dropped).
    pub fn reload(&self, id: &str) -> Result<Option<Entry>> {
        self.read_entry(&self.pending_dir().join(format!("{id}.json")))
    }

    /// Writes `entry` atomically and durably.
    pub fn save(&self, entry: &Entry) -> Result<()> {
        let path = self.pending_dir().join(format!("{}.json", entry.id));
        write_atomic(&path, entry.to_json().to_string().as_bytes())
    }

    /// Records a new entry from the hook: atomically, but without waiting for the disk.
    /// The sync cost the push 0.5 ms per target (several ms on macOS, where it is a full
    /// flush); the waiter's `save` when it confirms the push makes the entry durable.
    pub fn record(&self, entry: &Entry) -> Result<()> {
        let path = self.pending_dir().join(format!("{}.json", entry.id));
        write_file(&path, entry.to_json().to_string().as_bytes(), false)
    }

    /// Forgets `entry`.
    pub fn remove(&self, id: &str) -> Result<()> {
        let path = self.pending_dir().join(format!("{id}.json"));
        match fs::remove_file(&path) {
            Err(err) if err.kind() != std::io::ErrorKind::NotFound => {
                Err(err).with_context(|| format!("removing {}", path.display()))
            }
            _ => Ok(()),
        }
    }

    /// Holds the delivery lock of `target` until the returned file is dropped. The OS
    /// releases it if the process dies, so a crash never leaves a target stuck.
    pub fn lock_target(&self, target: &str) -> Result<File> {
        self.lock(&format!("target-{target}"))
    }

    /// Holds lock `name` as `lock` does, but makes no directory: `None` when `locks/` is
    /// gone (the state directory was removed under a running process).
    pub(crate) fn lock_in_place(&self, name: &str) -> Result<Option<File>> {
        let path = self.lock_path(name);
        let file = match OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
        {
            Ok(file) => file,
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(err) => return Err(err).with_context(|| format!("opening {}", path.display())),
        };
        file.lock()
            .with_context(|| format!("locking {}", path.display()))?;
        Ok(Some(file))
    }

    /// Holds lock `name` (a file under `locks/`) until the returned file is dropped.
    pub(crate) fn lock(&self, name: &str) -> Result<File> {
        let (file, path) = self.lock_file(name)?;
        file.lock()
            .with_context(|| format!("locking {}", path.display()))?;
        Ok(file)
    }

    /// Takes the lock `name` if no other process holds it; `None` if one does.
    pub fn try_lock(&self, name: &str) -> Result<Option<File>> {
        let (file, path) = self.lock_file(name)?;
        match file.try_lock() {
            Ok(()) => Ok(Some(file)),
            Err(std::fs::TryLockError::WouldBlock) => Ok(None),
            Err(std::fs::TryLockError::Error(err)) => {
                Err(err).with_context(|| format!("locking {}", path.display()))
            }
        }
    }

    /// Marks a waiter alive until the returned file is dropped (shared: many may run).
    pub fn hold_waiter(&self) -> Option<File> {
        let (file, _) = self.lock_file("waiters").ok()?;
        file.lock_shared().ok()?;
        Some(file)
    }

    /// Whether a waiter runs now, which sends what GitHub asked it to send a little later.
    /// Only reads: asked every tick by `watch`, it must not make the state directory again.
    pub fn waiter_alive(&self) -> bool {
        OpenOptions::new()
            .write(true)
            .open(self.lock_path("waiters"))
            .is_ok_and(|file| matches!(file.try_lock(), Err(std::fs::TryLockError::WouldBlock)))
    }

    /// Lock `name`'s file, opened (created if need be) but not locked.
    fn lock_file(&self, name: &str) -> Result<(File, PathBuf)> {
        let dir = self.dir.join("locks");
        create_dir(&dir)?;
        let path = dir.join(name);
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .with_context(|| format!("opening {}", path.display()))?;
        Ok((file, path))
    }

    /// The file of lock `name`.
    pub fn lock_path(&self, name: &str) -> PathBuf {
        self.dir.join("locks").join(name)
    }

    /// The path of `name` in the state directory.
    pub(crate) fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    /// Whether the state directory still exists (a follower stops when it is gone).
    pub fn exists(&self) -> bool {
        self.dir.is_dir()
    }

    /// The last deliveries, newest last.
    pub fn history(&self) -> Vec<Delivery> {
        let text = fs::read(self.dir.join("history.json")).unwrap_or_default();
        serde_json::from_slice::<Value>(&text)
            .ok()
            .and_then(|v| v.as_array().cloned())
            .unwrap_or_default()
            .iter()
            .filter_map(Delivery::from_json)
            .collect()
    }

    /// Adds a delivery to the history.
    pub fn record_delivery(&self, delivery: Delivery) -> Result<()> {
        let _guard = self.lock("history")?;
        let mut all = self.history();
        all.push(delivery);
        let skip = all.len().saturating_sub(HISTORY_LEN);
        let list: Vec<Value> = all.iter().skip(skip).map(Delivery::to_json).collect();
        write_atomic(
            &self.dir.join("history.json"),
            Value::Array(list).to_string().as_bytes(),
        )
    }

    /// Appends one event to the log. Logging never fails the caller.
    pub fn log(&self, event: &str, entry: Option<&Entry>, message: &str) {
        let _ = create_dir(&self.dir);
        self.log_in_place(event, entry, message);
    }

    /// `log`, but into a state directory that is still there: the follower's lines, which
    /// must not make a removed directory again.
    pub fn log_in_place(&self, event: &str, entry: Option<&Entry>, message: &str) {
        let mut record = json!({ "time": now(), "event": event, "pid": std::process::id() });
        if let Some(e) = entry {
            record["id"] = e.id.clone().into();
            record["target"] = e.target.clone().into();
            record["sha"] = e.sha.clone().into();
        }
        if !message.is_empty() {
            record["message"] = crate::redact::line(message).into();
        }
        let path = self.dir.join("log.jsonl");
        if fs::metadata(&path).is_ok_and(|m| m.len() > LOG_MAX_BYTES) {
            let _ = fs::rename(&path, self.dir.join("log.1.jsonl"));
        }
        if let Ok(mut file) = OpenOptions::new().create(true).append(true).open(&path) {
            // One write per line so concurrent writers' lines do not interleave.
            let _ = file.write_all(format!("{record}\n").as_bytes());
        }
    }

    /// A target's default branch as last read from GitHub, if read within `max_age` seconds.
    pub fn cached_default_branch(&self, repository: &str, max_age: u64) -> Option<String> {
        let entry = self.remembered("default-branches", repository, max_age)?;
        entry.get("branch")?.as_str().map(str::to_string)
    }

    /// Remembers a target's default branch.
    pub fn cache_default_branch(&self, repository: &str, branch: &str) -> Result<()> {
        self.remember("default-branches", repository, json!({ "branch": branch }))
    }

    /// Whether the API at `host` was seen refusing `return_run_details` within `max_age`.
    pub fn lacks_run_details(&self, host: &str, max_age: u64) -> bool {
        self.remembered("api-hosts", host, max_age)
            .is_some_and(|h| h.get("no_run_details").is_some())
    }

    /// Remembers that the API at `host` refuses `return_run_details`, as of now.
    pub fn remember_no_run_details(&self, host: &str) -> Result<()> {
        self.remember("api-hosts", host, json!({ "no_run_details": true }))
    }

    /// What `<name>.json` holds under `key`, if it was written within `max_age` seconds.
    fn remembered(&self, name: &str, key: &str, max_age: u64) -> Option<Value> {
        let text = fs::read(self.dir.join(format!("{name}.json"))).ok()?;
        let all: Value = serde_json::from_slice(&text).ok()?;
        let entry = all.get(key)?;
        let fresh = now().saturating_sub(entry.get("time")?.as_u64()?) <= max_age;
        fresh.then(|| entry.clone())
    }

    /// Writes `fields` and the time under `key` in `<name>.json`, under its own lock.
    fn remember(&self, name: &str, key: &str, mut fields: Value) -> Result<()> {
        let _guard = self.lock(name)?;
        let path = self.dir.join(format!("{name}.json"));
        let mut all: Value = fs::read(&path)
            .ok()
            .and_then(|t| serde_json::from_slice(&t).ok())
            .filter(Value::is_object)
            .unwrap_or_else(|| json!({}));
        fields["time"] = json!(now());
        all[key] = fields;
        write_atomic(&path, all.to_string().as_bytes())
    }

    /// When the hook last reported failures (Unix time; 0 if never).
    pub fn last_reported(&self) -> u64 {
        fs::read_to_string(self.dir.join("reported"))
            .ok()
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or(0)
    }

    /// Remembers that failures up to `time` were reported.
    pub fn set_reported(&self, time: u64) -> Result<()> {
        write_atomic(&self.dir.join("reported"), time.to_string().as_bytes())
    }

    /// Remembers what the latest push was and which targets it fired, for `watch`: a push of
    /// a draft branch must not be taken for the latest build's push. Not fsynced: a hint.
    pub fn note_push(&self, push: &LastPush) {
        let body = json!({
            "remote": push.remote, "branches": push.branches, "fired": push.fired, "at": push.at,
        });
        let _ = write_file(
            &self.dir.join("last-push"),
            body.to_string().as_bytes(),
            false,
        );
    }

    /// The latest push the hook saw in this clone, if one was noted.
    pub fn last_push(&self) -> Option<LastPush> {
        let v: Value = serde_json::from_slice(&fs::read(self.dir.join("last-push")).ok()?).ok()?;
        let strings = |key: &str| -> Vec<String> {
            v.get(key)
                .and_then(Value::as_array)
                .map(|a| {
                    a.iter()
                        .filter_map(|s| s.as_str().map(str::to_string))
                        .collect()
                })
                .unwrap_or_default()
        };
        Some(LastPush {
            remote: v.get("remote")?.as_str()?.to_string(),
            branches: strings("branches"),
            fired: strings("fired"),
            at: v.get("at")?.as_u64()?,
        })
    }

    /// Keeps why a desktop notification could not be shown, for `status` to say once.
    pub fn mark_notify_failed(&self, why: &str) {
        if self.exists() {
            let _ = write_atomic(&self.dir.join("notify-failed"), why.as_bytes());
        }
    }

    /// Why a desktop notification could not be shown, if one could not since last asked.
    pub fn take_notify_failed(&self) -> Option<String> {
        let path = self.dir.join("notify-failed");
        let why = fs::read_to_string(&path).ok()?;
        let _ = fs::remove_file(&path);
        Some(crate::say::shorten(&crate::say::one_line(&why), 200))
    }
}

/// The latest push the hook saw: what it pushed and which targets it fired.
#[derive(Clone, Debug, PartialEq)]
pub struct LastPush {
    /// The remote pushed to, as git named it to the hook (a remote's name, or a URL).
    pub remote: String,
    /// The remote refs pushed, short (`draft`, `main`), deletions included.
    pub branches: Vec<String>,
    /// The names of the targets it recorded a dispatch for.
    pub fired: Vec<String>,
    /// Unix time of the push.
    pub at: u64,
}

/// Writes `bytes` to `path` through a temporary file and a rename, so readers see the old
/// content or the new, never a torn one.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    write_file(path, bytes, true)
}

/// `write_atomic` into a directory that must exist already: a process whose state
/// directory was removed under it gets NotFound rather than making it again.
pub fn write_atomic_in_place(path: &Path, bytes: &[u8]) -> Result<()> {
    write_into(path, bytes, true)
}

fn write_file(path: &Path, bytes: &[u8], durable: bool) -> Result<()> {
    let dir = path.parent().context("a file path without a directory")?;
    create_dir(dir)?;
    write_into(path, bytes, durable)
}

fn write_into(path: &Path, bytes: &[u8], durable: bool) -> Result<()> {
    let dir = path.parent().context("a file path without a directory")?;
    let tmp = dir.join(format!(
        ".{}.{}.tmp",
        path.file_name().and_then(|n| n.to_str()).unwrap_or("file"),
        std::process::id()
    ));
    let mut file = File::create(&tmp).with_context(|| format!("writing {}", tmp.display()))?;
    file.write_all(bytes)
        .and_then(|()| if durable { file.sync_data() } else { Ok(()) })
        .with_context(|| format!("writing {}", tmp.display()))?;
    fs::rename(&tmp, path).with_context(|| format!("replacing {}", path.display()))
}

/// Creates `dir` and its parents, with the path in the error.
pub(crate) fn create_dir(dir: &Path) -> Result<()> {
    fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))
}

/// Seconds since the Unix epoch.
pub fn now() -> u64 {
    (now_nanos() / 1_000_000_000) as u64
}

fn now_nanos() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample_entry() -> Entry {
        Entry::new(
            "site",
            "o/s",
            "origin",
            "refs/heads/main",
            "a",
            "b",
            "{}".into(),
            7,
        )
    }

    #[test]
    fn entries_round_trip_through_disk() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::new(dir.path());
        let mut entry = sample_entry();
        entry.last_error = Some("boom".into());
        store.save(&entry).unwrap();
        assert_eq!(store.entries().unwrap(), vec![entry.clone()]);
        store.remove(&entry.id).unwrap();
        assert!(store.entries().unwrap().is_empty());
        assert!(store.reload(&entry.id).unwrap().is_none());
    }

    #[test]
    fn a_damaged_entry_is_set_aside_not_fatal() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::new(dir.path());
        let good = sample_entry();
        store.save(&good).unwrap();
        let bad = dir.path().join("dispatch/pending/zzz.json");
        fs::write(&bad, b"{not json").unwrap();
        assert_eq!(store.entries().unwrap(), vec![good]);
        assert!(!bad.exists());
        assert_eq!(
            fs::read(bad.with_extension("corrupt")).unwrap(),
            b"{not json"
        );
    }

    #[test]
    fn history_is_bounded() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::new(dir.path());
        for i in 0..25 {
            let d = Delivery {
                id: i.to_string(),
                target: "t".into(),
                repository: "o/r".into(),
                remote_ref: "refs/heads/main".into(),
                sha: "s".into(),
                delivered: i,
                run_url: None,
            };
            store.record_delivery(d).unwrap();
        }
        let h = store.history();
        assert_eq!(h.len(), HISTORY_LEN);
        assert_eq!(h.last().unwrap().id, "24");
    }
}
