//! `git dispatch watch [<name>…]`: follows the latest push's dispatches (waiting for them
//! to be delivered) to the end of their runs, so `git push && git dispatch watch` works in
//! scripts. Exit 0 when every run succeeded or the latest push fired nothing; 1 when a
//! delivery failed or a run did not succeed (or could not be told or followed, or was
//! still running at the bound).

use std::collections::BTreeSet;
use std::io::Write;
use std::time::Duration;

use anyhow::Result;

use crate::config::{Config, Target};
use crate::exit::Code;
use crate::follow::record::{Follow, Phase};
use crate::repo::Repo;
use crate::say;
use crate::store::{Delivery, Entry, State, Store};

/// How often `watch` reads the records the follower writes.
const TICK: Duration = Duration::from_millis(200);
/// Reads in a row that must find nothing for a push before it "fired nothing".
const NOTHING_READS: u32 = 3;
/// How often (in ticks) `watch` asks whether pending pushes landed: each ask may run
/// `git ls-remote` under a target's lock.
const CONFIRM_TICKS: u64 = 15;

/// What one target's latest push has come to, as `watch` sees it.
enum Stage<'a> {
    /// The push fired nothing for it (no entry, no delivery for the branch's head).
    Nothing,
    /// Recorded, not delivered yet.
    Pending,
    /// Refused for good: the send failed.
    Failed(String),
    /// Delivered; the record of its run(s), once there is one.
    Delivered(Option<&'a Follow>),
    /// The latest push (of these branches) fired nothing for it; its latest build is shown
    /// as it stands, not waited for.
    Elsewhere(String, Box<Stage<'a>>),
}

/// `watch [<name>…]`.
pub fn run(names: &[String]) -> Result<Code> {
    let repo = Repo::discover()?;
    let config = Config::load(&repo)?;
    let store = Store::new(repo.common_dir());
    let targets = config.select(names)?;
    // The push `watch` follows is the latest one the hook saw, not the branch's last build.
    let last_push = store.last_push();
    let mut following = config.settings.follow.value;
    if !following {
        say::line("dispatch.follow is false: only the delivery is watched");
    }
    // The latest push of each target: what its remote branch holds now; where no ref tracks
    // it (a push by URL, a remote without a fetch refspec), the newest push recorded for it.
    let entries = store.entries().unwrap_or_default();
    let history = store.history();
    let heads: Vec<(&Target, Option<String>)> = targets
        .iter()
        .map(|t| {
            let remote_ref = format!("refs/heads/{}", t.branches.value[0]);
            let head = repo
                .tracking_ref_name(&t.remote.value, &remote_ref)
                .and_then(|r| repo.ref_sha(&r).ok().flatten())
                .or_else(|| {
                    let entry = entries.iter().rev().find(|e| e.target == t.name);
                    let delivery = history.iter().rev().find(|d| d.target == t.name);
                    match (entry, delivery) {
                        (Some(e), Some(d)) if d.delivered > e.created => Some(d.sha.clone()),
                        (Some(e), _) => Some(e.sha.clone()),
                        (None, d) => d.map(|d| d.sha.clone()),
                    }
                });
            (*t, head)
        })
        .collect();
    // A build that ended may have been re-run since: the follower looks again (one
    // conditional GET per run) and, if so, follows the new attempt; asked only here.
    if following {
        let follows = store.follows();
        for (target, head) in &heads {
            let ended = history
                .iter()
                .rev()
                .find(|d| d.target == target.name && Some(&d.sha) == head.as_ref())
                .and_then(|d| follows.iter().find(|f| f.id == d.id))
                .filter(|f| f.phase == Phase::Done && !f.runs.is_empty());
            if let Some(f) = ended {
                store.ask_recheck(&f.id)?;
            }
        }
    }
    let terminal = unsafe { libc::isatty(1) } == 1;
    // On a terminal the follower also reads which job and step a build is at, for as long
    // as this watch renews its mark (every second; gone when it ends).
    let mut watching = (terminal && following).then(|| Watching::start(&store));
    let mut shown: Vec<String> = vec![String::new(); heads.len()];
    let mut block = crate::terminal::Block::default();
    // A delivered entry leaves the store a moment before it enters the history: "nothing
    // dispatched" is final only once seen on several reads in a row.
    let mut nothing_seen = vec![0u32; heads.len()];
    let mut ticks: u64 = 0;
    let mut noticed = false;
    loop {
        // Confirm what can be (every few seconds), and keep a follower going for what was
        // delivered.
        if ticks.is_multiple_of(CONFIRM_TICKS) {
            let _ = crate::waiter::confirm_pending(&repo, &store, None);
        }
        // What is on disk, read once a tick for every target.
        // The requests to look again are read before the records: the follower saves a
        // reopened record before it clears its request, so none is missed between.
        let rechecks = store.rechecks();
        let seen = Seen {
            rechecks,
            entries: store.entries().unwrap_or_default(),
            history: store.history(),
            follows: store.follows(),
            waiter_alive: store.waiter_alive(),
        };
        // Turned off meanwhile: no follower would end its records (and one started now
        // would exit at once); from here only deliveries are watched.
        ticks += 1;
        if following && ticks.is_multiple_of(25) && !crate::follow::still_on() {
            following = false;
            // Said above the block, which is drawn again below it.
            if terminal {
                block.erase(&mut std::io::stdout().lock())?;
                shown = vec![String::new(); heads.len()];
            }
            say::line("dispatch.follow is now false: only the delivery is watched");
        }
        if following {
            crate::follow::resume_for(&store, &config.settings, &seen.follows, &seen.rechecks);
        }
        let stages: Vec<Stage> = heads
            .iter()
            .map(|(t, head)| {
                // A deploy hook's build is not followed: its delivery is the end.
                let latest = stage(&seen, t, head.as_deref(), following && t.followed());
                // A dispatch since (`send`, a retry) is what is watched.
                let since = |push: &crate::store::LastPush| {
                    seen.entries
                        .iter()
                        .any(|e| e.target == t.name && e.created > push.at)
                        || seen
                            .history
                            .iter()
                            .any(|d| d.target == t.name && d.delivered > push.at)
                };
                // A push to another remote (a backup) is not this target's latest push.
                let ours = |push: &crate::store::LastPush| push.remote == t.remote.value;
                match &last_push {
                    Some(push) if ours(push) && !push.fired.contains(&t.name) && !since(push) => {
                        Stage::Elsewhere(push.branches.join(", "), Box::new(latest))
                    }
                    _ => latest,
                }
            })
            .collect();
        // Before the first draw: which targets' last push fired nothing, and what is shown.
        if !noticed {
            noticed = true;
            for ((target, _), stage) in heads.iter().zip(&stages) {
                if let Stage::Elsewhere(branches, _) = stage {
                    say::line(&elsewhere_notice(target, branches));
                }
            }
        }
        let mut out = std::io::stdout().lock();
        let lines: Vec<String> = heads
            .iter()
            .zip(&stages)
            .zip(&nothing_seen)
            // A delivered entry leaves the store a moment before it enters the history:
            // "nothing dispatched" is said only once it has held for a few reads.
            .map(|(((target, head), stage), seen)| {
                describe(target, head.as_deref(), stage, seen + 1 >= NOTHING_READS)
            })
            .collect();
        if lines != shown || (terminal && block.resized()) {
            if terminal {
                // The block rewritten in place, each line fitted to the terminal's width.
                block.draw(&mut out, &lines)?;
            } else {
                for (line, before) in lines.iter().zip(&shown) {
                    if line != before {
                        writeln!(out, "{line}")?;
                    }
                }
            }
            shown = lines;
        }
        out.flush()?;
        drop(out);
        for (seen, stage) in nothing_seen.iter_mut().zip(&stages) {
            *seen = if matches!(stage, Stage::Nothing) {
                *seen + 1
            } else {
                0
            };
        }
        let settled = nothing_seen
            .iter()
            .zip(&stages)
            .all(|(seen, s)| !matches!(s, Stage::Nothing) || *seen >= NOTHING_READS);
        if settled && stages.iter().all(|s| finished(s, &seen.rechecks)) {
            let good = heads.iter().zip(&stages).all(|((t, _), s)| match s {
                Stage::Nothing | Stage::Elsewhere(..) => true,
                // Not followed: with following off, or a deploy hook (nothing to follow).
                Stage::Delivered(None) => !following || !t.followed(),
                Stage::Delivered(Some(f)) => f.outcome.is_some_and(|o| o.is_good()),
                Stage::Failed(_) | Stage::Pending => false,
            });
            if stages
                .iter()
                .all(|s| matches!(s, Stage::Nothing | Stage::Elsewhere(..)))
            {
                say::line("the latest push fired nothing to watch");
            }
            return Ok(Code::report_if(!good));
        }
        if let Some(w) = &mut watching {
            w.renew();
        }
        std::thread::sleep(TICK);
    }
}

/// The mark that a watch shows builds on a terminal, renewed every second and removed when
/// the watch ends (a killed watch's mark goes stale by itself).
struct Watching<'a> {
    store: &'a Store,
    renewed: std::time::Instant,
}

impl<'a> Watching<'a> {
    fn start(store: &'a Store) -> Watching<'a> {
        store.touch_watching();
        Watching {
            store,
            renewed: std::time::Instant::now(),
        }
    }

    fn renew(&mut self) {
        if self.renewed.elapsed() >= Duration::from_secs(1) {
            self.store.touch_watching();
            self.renewed = std::time::Instant::now();
        }
    }
}

impl Drop for Watching<'_> {
    fn drop(&mut self) {
        self.store.stop_watching();
    }
}

fn finished(stage: &Stage, rechecks: &BTreeSet<String>) -> bool {
    match stage {
        Stage::Nothing | Stage::Failed(_) | Stage::Elsewhere(..) => true,
        Stage::Pending => false,
        Stage::Delivered(None) => true,
        // Asked to look again for a re-run: not until the follower has.
        Stage::Delivered(Some(f)) => f.phase == Phase::Done && !rechecks.contains(&f.id),
    }
}

/// The store as one tick of `watch` read it.
struct Seen {
    entries: Vec<Entry>,
    history: Vec<Delivery>,
    follows: Vec<Follow>,
    rechecks: BTreeSet<String>,
    /// A waiter runs, which sends what GitHub asked to send within a minute.
    waiter_alive: bool,
}

fn stage<'a>(seen: &'a Seen, target: &Target, head: Option<&str>, following: bool) -> Stage<'a> {
    let Some(head) = head else {
        return Stage::Nothing;
    };
    if let Some(e) = seen
        .entries
        .iter()
        .find(|e| e.target == target.name && e.sha == head)
    {
        let now = crate::store::now();
        return match (e.state, &e.last_error) {
            (State::Failed, why) => Stage::Failed(why.clone().unwrap_or_default()),
            // GitHub asked to wait a little (`Retry-After`): a waiter still running sends it
            // then.
            (State::Confirmed, Some(_))
                if e.next_attempt <= now + crate::waiter::MAX_WAIT_OUT.as_secs()
                    && seen.waiter_alive =>
            {
                Stage::Pending
            }
            // Its push ended and the remote cannot say whether it landed: nothing will tell
            // before the next push asks again, so watch says so and ends rather than wait.
            (State::AwaitingPush, Some(why)) => Stage::Failed(format!(
                "not sent: {}; `git dispatch retry` sends it anyway",
                say::one_line(why)
            )),
            // Kept to retry later (a 5xx, the network): nothing retries it before the next
            // push or `retry`, so watch says so and ends rather than wait.
            (State::Confirmed, Some(why)) => Stage::Failed(format!(
                "not delivered yet ({}); `git dispatch retry` sends it now",
                say::one_line(why)
            )),
            _ => Stage::Pending,
        };
    }
    let delivered = seen
        .history
        .iter()
        .rev()
        .find(|d| d.target == target.name && d.sha == head);
    match delivered {
        None => Stage::Nothing,
        Some(d) => {
            // With dispatch.follow = false no follower runs: a record left from before is
            // not waited for (it would never end), only the delivery is watched.
            let follow = seen
                .follows
                .iter()
                .find(|f| f.id == d.id)
                .filter(|_| following);
            // Delivered just now: the record follows the history by a moment.
            if following && follow.is_none() && crate::store::now().saturating_sub(d.delivered) < 5
            {
                return Stage::Pending;
            }
            Stage::Delivered(follow)
        }
    }
}

/// A target's line; `settled`: nothing found has held long enough to be said.
fn describe(target: &Target, head: Option<&str>, stage: &Stage, settled: bool) -> String {
    let short = head.map_or("-", |h| h.get(..7).unwrap_or(h));
    let what = format!("{} -> {} {short}", target.name, target.repository.value);
    // Job and step names and notes come from elsewhere: no escape sequence reaches the screen.
    say::printable(&format!(
        "{what}: {}",
        words(stage, &target.branches.value[0], settled)
    ))
}

/// What a target whose last push fired nothing shows instead, said once.
fn elsewhere_notice(target: &Target, branches: &str) -> String {
    format!(
        "{}: the last push ({branches}) fired nothing here; below is the latest build of {}, \
         not waited for",
        target.name, target.branches.value[0]
    )
}

/// A stage in words, after the line's `target -> repo sha: `.
fn words(stage: &Stage, branch: &str, settled: bool) -> String {
    match stage {
        Stage::Nothing if settled => "nothing dispatched for this push".to_string(),
        Stage::Nothing => "looking for this push's dispatch".to_string(),
        Stage::Pending => "not delivered yet".to_string(),
        Stage::Failed(why) => format!("dispatch failed: {}", say::one_line(why)),
        Stage::Delivered(None) => "delivered".to_string(),
        // Said once above the block (`elsewhere_notice`); the line is the latest build's,
        // short enough for the terminal's fitting to keep its state whole.
        Stage::Elsewhere(_, latest) => match **latest {
            Stage::Nothing => format!("no build of {branch} is known"),
            ref other => words(other, branch, true),
        },
        Stage::Delivered(Some(f)) => {
            let note = f
                .note
                .as_deref()
                .filter(|_| f.phase == Phase::Done || f.runs.is_empty())
                .map(|n| format!(" ({n})"))
                .unwrap_or_default();
            format!("{}{note}", f.words())
        }
    }
}
