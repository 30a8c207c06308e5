//! The follower's files in the state directory, owned here alone: `runs/` (a record per
//! followed delivery), `recheck/` (requests to look again), `watching` and `unannounced`.
//!
//! Every write of a record holds `locks/follows`, and the one read-modify-write of records
//! by another process than the follower (the hook marking done outcomes said) holds it
//! from its read to its writes. The follower reads a record at a round's start and saves
//! it at the end without holding the lock across the network: what it saves is news only
//! of records that are not done, and the hook rewrites only done ones, so neither
//! overwrites the other's news; a record reopened for a re-run is done on disk until the
//! follower's save, which the lock orders after any mark the hook makes.

use std::fs;

use anyhow::{Context, Result};
use serde_json::Value;

use super::record::{Follow, Phase};
use crate::store::{create_dir, write_atomic, write_atomic_in_place, Store};

impl Store {
    /// The followed deliveries on disk (`runs/`), oldest first.
    pub fn follows(&self) -> Vec<Follow> {
        let mut all: Vec<Follow> = fs::read_dir(self.path("runs"))
            .into_iter()
            .flatten()
            .flatten()
            .filter(|e| e.file_name().to_string_lossy().ends_with(".json"))
            .filter_map(|e| fs::read(e.path()).ok())
            .filter_map(|t| serde_json::from_slice::<Value>(&t).ok())
            .filter_map(|v| Follow::from_json(&v))
            .collect();
        all.sort_by_key(|f| f.dispatched_at);
        all
    }

    /// Writes a followed delivery, atomically, under `locks/follows`.
    pub fn save_follow(&self, follow: &Follow) -> Result<()> {
        // A follower whose state directory was removed under it must not make it again:
        // nothing here makes a directory but `runs/` inside one that is still there.
        let gone = || anyhow::anyhow!("{} is gone", self.path("").display());
        if !self.exists() {
            return Err(gone());
        }
        let Some(_guard) = self.lock_in_place("follows")? else {
            return Err(gone());
        };
        self.write_record(follow)
    }

    /// Writes a record; the caller holds `locks/follows`.
    fn write_record(&self, follow: &Follow) -> Result<()> {
        let dir = self.path("runs");
        match fs::create_dir(&dir) {
            Ok(()) => {}
            Err(err) if err.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(err) => {
                return Err(err).with_context(|| format!("creating {}", dir.display()));
            }
        }
        write_atomic_in_place(
            &dir.join(format!("{}.json", follow.id)),
            follow.to_json().to_string().as_bytes(),
        )
    }

    /// Says that `watch` is showing builds on a terminal (renewed every second), so the
    /// follower reads the running job and step too.
    pub fn touch_watching(&self) {
        let _ = fs::write(self.path("watching"), std::process::id().to_string());
    }

    /// `watch` ended: the follower goes back to polling runs alone (unless another watch
    /// renews the mark within a second).
    pub fn stop_watching(&self) {
        let _ = fs::remove_file(self.path("watching"));
    }

    /// Whether a `watch` on a terminal renewed its mark within the last few seconds (one
    /// left by a watch that was killed goes stale by itself).
    pub fn watched(&self) -> bool {
        fs::metadata(self.path("watching"))
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| t.elapsed().ok())
            .is_some_and(|age| age < std::time::Duration::from_secs(3))
    }

    /// Asks the follower to look again at an ended followed delivery (`watch`,
    /// `status --refresh`): a re-run, or a run that ended after the bound.
    pub fn ask_recheck(&self, id: &str) -> Result<()> {
        let dir = self.path("recheck");
        create_dir(&dir)?;
        write_atomic(&dir.join(id), b"")
    }

    /// The ids the follower was asked to look at again.
    pub fn rechecks(&self) -> std::collections::BTreeSet<String> {
        fs::read_dir(self.path("recheck"))
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|e| e.file_name().into_string().ok())
            .filter(|name| !name.starts_with('.'))
            .collect()
    }

    /// The follower looked again at `id`.
    pub fn clear_recheck(&self, id: &str) {
        let _ = fs::remove_file(self.path("recheck").join(id));
    }

    /// Forgets followed deliveries that ended and were announced, beyond the newest
    /// `keep` (an unannounced outcome is never trimmed).
    pub fn trim_follows(&self, keep: usize) {
        let all = self.follows();
        let ended: Vec<&Follow> = all
            .iter()
            .filter(|f| f.phase == Phase::Done && f.announced_hook)
            .collect();
        for f in ended.iter().take(ended.len().saturating_sub(keep)) {
            let _ = fs::remove_file(self.path("runs").join(format!("{}.json", f.id)));
        }
    }

    /// Whether a followed build ended badly and no push has said so yet (one `stat`).
    pub fn has_unannounced(&self) -> bool {
        self.path("unannounced").exists()
    }

    /// Marks that a followed build ended badly, for the next push to say.
    pub fn mark_unannounced(&self) {
        // Never making a removed state directory again (the follower calls it).
        let _ = write_atomic_in_place(&self.path("unannounced"), b"");
    }

    /// The followed deliveries whose outcome is no success and was not said by a push, now
    /// marked said (each outcome is announced once by the hook).
    pub fn take_unannounced(&self) -> Vec<Follow> {
        let Ok(_guard) = self.lock("follows") else {
            return Vec::new();
        };
        let _ = fs::remove_file(self.path("unannounced"));
        let mut said = Vec::new();
        for mut f in self.follows() {
            if f.phase == Phase::Done && !f.announced_hook {
                f.announced_hook = true;
                if self.write_record(&f).is_ok() && f.outcome.is_some_and(|o| !o.is_good()) {
                    said.push(f);
                }
            }
        }
        said
    }
}
