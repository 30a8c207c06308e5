//! `status`: what is pending, what failed, and what was delivered lately.

use std::io::Write;

use anyhow::Result;
use serde_json::{json, Value};

use std::collections::BTreeMap;

use crate::exit::Code;
use crate::follow::record::{Follow, Outcome};
use crate::repo::Repo;
use crate::say;
use crate::store::{self, Entry, State, Store};

/// Prints the status; exit 1 when anything is pending or failed, or when a target's
/// latest followed build did not succeed.
pub fn run(as_json: bool, refresh: bool) -> Result<Code> {
    let repo = Repo::discover()?;
    let store = Store::new(repo.common_dir());
    let config = crate::config::Config::load(&repo);
    if refresh {
        match &config {
            Ok(config) if config.settings.follow.value => look_again(&store, config)?,
            Ok(_) => say::line("dispatch.follow is false: no build to look at again"),
            Err(err) => return Err(anyhow::anyhow!("{err:#}")),
        }
    }
    let entries = store.entries()?;
    let history = store.history();
    let records = store.follows();
    // A follower that died (kill -9, a reboot) is resumed from disk.
    if let Ok(config) = &config {
        crate::follow::resume_for(&store, &config.settings, &records, &store.rechecks());
    }
    let follows: BTreeMap<String, Follow> =
        records.into_iter().map(|f| (f.id.clone(), f)).collect();
    // With dispatch.follow = false no follower runs: what a record left from before last
    // said is not how its build stands now.
    let following = config.as_ref().map_or(true, |c| c.settings.follow.value);
    // A repository with no target (the git-dispatch checkout, say) has nothing to report
    // but that: exit 1 in text and JSON alike.
    let no_target = config.as_ref().is_ok_and(|c| c.targets.is_empty())
        && entries.is_empty()
        && history.is_empty();
    let problem =
        no_target || !entries.is_empty() || (following && latest_build_failed(&history, &follows));
    // Said once, to a person (`--json` is for scripts): a desktop notification that could
    // not be shown.
    if !as_json {
        if let Some(why) = store.take_notify_failed() {
            say::line(&format!(
                "dispatch.notify = desktop could not notify: {why}; `git dispatch doctor` checks"
            ));
        }
    }
    let mut out = std::io::stdout().lock();
    if as_json {
        let list: Vec<Value> = entries
            .iter()
            .map(|e| {
                let mut v = e.to_json();
                if let Some(map) = v.as_object_mut() {
                    // The body is ours to send, not part of the status contract.
                    map.remove("body");
                    map.remove("seq");
                }
                v
            })
            .collect();
        let recent: Vec<Value> = history
            .iter()
            .rev()
            .map(|d| {
                let mut v = d.to_json();
                if let Some(f) = follows.get(&d.id) {
                    v["follow"] = follow_json(f);
                }
                v
            })
            .collect();
        writeln!(out, "{}", json!({ "entries": list, "recent": recent }))?;
        return Ok(Code::report_if(problem));
    }
    let now = store::now();
    let pending: Vec<&Entry> = entries
        .iter()
        .filter(|e| e.state != State::Failed)
        .collect();
    let failed: Vec<&Entry> = entries
        .iter()
        .filter(|e| e.state == State::Failed)
        .collect();
    // Out of place (the git-dispatch checkout, any other repository): say where, and where
    // to go, rather than "nothing pending".
    if no_target {
        let here = repo
            .workdir()
            .unwrap_or(repo.git_dir())
            .display()
            .to_string();
        writeln!(
            out,
            "no target in {here}: git-dispatch works in your content clone; there, \
             `git dispatch install` sets it up (here: `git dispatch add owner/site`)"
        )?;
        return Ok(Code::Report);
    }
    // Where the eye lands first: what is not delivered yet, then what failed.
    if entries.is_empty() {
        writeln!(out, "nothing pending")?;
    }
    for (title, list) in [("pending", &pending), ("failed", &failed)] {
        if list.is_empty() {
            continue;
        }
        writeln!(out, "{title}:")?;
        for e in list.iter() {
            writeln!(
                out,
                "  {} -> {}  {} {}: {}  [{}]",
                e.target,
                e.repository,
                e.branch(),
                e.short_sha(),
                entry_words(e, now),
                e.id
            )?;
        }
    }
    if !failed.is_empty() {
        writeln!(
            out,
            "fix the cause, then `git dispatch retry`; or forget one with `git dispatch drop <id>`"
        )?;
    }
    if !history.is_empty() {
        writeln!(out, "recent deliveries, newest first:")?;
    }
    // The newest few in full; older ones in a line each. A note or hint said for a newer
    // delivery is not repeated for older ones, so a dozen pushes fit a 24-row screen.
    let mut said: Vec<String> = Vec::new();
    let mut once = |text: String, out: &mut std::io::StdoutLock| -> Result<()> {
        if !said.contains(&text) {
            writeln!(out, "      {text}")?;
            said.push(text);
        }
        Ok(())
    };
    for (i, d) in history.iter().rev().take(SHOWN).enumerate() {
        let short = &d.sha[..d.sha.len().min(7)];
        let branch = d
            .remote_ref
            .strip_prefix("refs/heads/")
            .unwrap_or(&d.remote_ref);
        let what = format!(
            "  {} -> {}  {branch} {short}  {} ago",
            d.target,
            d.repository,
            duration(now.saturating_sub(d.delivered))
        );
        let record = follows.get(&d.id);
        if i >= FULL {
            let words = match record {
                Some(f) if !following && f.phase != crate::follow::record::Phase::Done => {
                    "not followed".to_string()
                }
                Some(f) => say::printable(&brief(f)),
                None => "delivered".to_string(),
            };
            writeln!(out, "{what}: {words}")?;
            continue;
        }
        writeln!(out, "{what}")?;
        match record {
            Some(f) if !following && f.phase != crate::follow::record::Phase::Done => {
                writeln!(out, "      run: not followed (dispatch.follow is false)")?;
            }
            Some(f) => {
                // GitHub's job and step names, and notes from error pages, are text
                // from elsewhere: no escape sequence of theirs reaches the terminal.
                writeln!(out, "{}", run_line(&say::printable(&f.words())))?;
                if let Some(note) = &f.note {
                    once(say::printable(note), &mut out)?;
                }
                if f.outcome.is_some_and(Outcome::is_failed_build) && !f.runs.is_empty() {
                    // A re-run is not followed on its own: only when asked.
                    once(
                        "re-ran it on GitHub? `git dispatch watch` or `git dispatch status --refresh` follows the re-run".to_string(),
                        &mut out,
                    )?;
                }
            }
            None => {
                if let Some(url) = &d.run_url {
                    writeln!(out, "      run: {url}")?;
                }
            }
        }
    }
    Ok(Code::report_if(problem))
}

/// The columns `status` keeps its run lines to: a terminal's usual width.
const COLUMNS: usize = 80;

/// `      run: <words>  <URL>`, on one row when it fits in 80 columns; else each URL (each
/// part after two spaces) on a row of its own, under `run:`, so that none is cut by the
/// terminal's wrap.
fn run_line(words: &str) -> String {
    let line = format!("      run: {words}");
    if line.chars().count() <= COLUMNS {
        return line;
    }
    let mut parts = words.split("  ");
    let mut text = format!("      run: {}", parts.next().unwrap_or_default());
    for part in parts {
        text.push_str(&format!("\n      {part}"));
    }
    text
}

/// How many recent deliveries `status` shows, and `--refresh` looks at again.
const SHOWN: usize = 10;
/// How many of them are shown in full (run URL, notes); older ones get a line each.
const FULL: usize = 3;

/// A pending or failed entry in the writer's words.
fn entry_words(e: &Entry, now: u64) -> String {
    let error = e.last_error.as_deref().map(say::one_line);
    match (e.state, error) {
        (State::AwaitingPush, None) => format!(
            "waiting for the push to land (pushed {} ago)",
            duration(now.saturating_sub(e.created))
        ),
        (State::AwaitingPush, Some(why)) => why,
        (State::Confirmed, None) => "landed; being sent".to_string(),
        (State::Confirmed, Some(why)) if e.next_attempt > now => format!(
            "not delivered yet ({why}); tried again in {} or by `git dispatch retry`",
            duration(e.next_attempt - now)
        ),
        (State::Confirmed, Some(why)) => {
            format!("not delivered yet ({why}); `git dispatch retry` sends it now")
        }
        (State::Failed, why) => format!(
            "failed: {}",
            why.unwrap_or_else(|| "no reason kept".to_string())
        ),
    }
}

/// A followed delivery in a few words: each run's state, without URLs.
fn brief(f: &Follow) -> String {
    if let Some(deploy) = &f.deploy {
        return match f.outcome {
            Some(Outcome::CannotFollow) => "cannot follow".to_string(),
            _ => deploy.words(f.github_now),
        };
    }
    if f.runs.is_empty() {
        return f.words();
    }
    let superseded = f.outcome == Some(Outcome::Superseded);
    f.runs
        .iter()
        .map(|r| r.words(f.github_now, superseded))
        .collect::<Vec<_>>()
        .join("; ")
}

/// `--refresh`: asks the follower to look again at the shown builds that ended (a re-run
/// since is then followed to its end), and waits for it to have looked, within a bound.
fn look_again(store: &Store, config: &crate::config::Config) -> Result<()> {
    let follows = store.follows();
    let asked: Vec<&str> = store
        .history()
        .iter()
        .rev()
        .take(SHOWN)
        .filter_map(|d| follows.iter().find(|f| f.id == d.id))
        .filter(|f| f.phase == crate::follow::record::Phase::Done && !f.runs.is_empty())
        .map(|f| f.id.as_str())
        .collect();
    for id in &asked {
        store.ask_recheck(id)?;
    }
    let requested = asked.iter().map(|id| id.to_string()).collect();
    crate::follow::resume_for(store, &config.settings, &follows, &requested);
    // One GET per run, each bounded by dispatch.timeout; a follower pausing for the rate
    // limit's reset is not waited for.
    let bound = std::time::Duration::from_secs(config.settings.timeout.value + 5);
    let start = std::time::Instant::now();
    while asked.iter().any(|id| store.rechecks().contains(*id)) {
        if start.elapsed() > bound {
            say::line("GitHub has not been asked yet; `git dispatch status` shows it later");
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    Ok(())
}

/// Whether a target's newest delivery was followed to a build that failed (or started no
/// run). An older record never speaks for a newer delivery: with `dispatch.follow` set to
/// false no new records are written, and the last one left would otherwise stay "newest".
fn latest_build_failed(history: &[store::Delivery], follows: &BTreeMap<String, Follow>) -> bool {
    let mut seen = std::collections::BTreeSet::new();
    history
        .iter()
        .rev()
        .filter(|d| seen.insert(d.target.as_str()))
        // Not knowing (cannot follow, not identified, still running) is not a failed build.
        .any(|d| {
            follows
                .get(&d.id)
                .is_some_and(|f| f.outcome.is_some_and(Outcome::is_failed_build))
        })
}

/// A followed delivery as `status --json` shows it: GitHub's own fields, our words.
fn follow_json(f: &Follow) -> Value {
    let runs: Vec<Value> = f
        .runs
        .iter()
        .map(|r| {
            json!({
                "id": r.id, "html_url": r.html_url, "workflow": r.workflow,
                "status": r.status, "conclusion": r.conclusion, "run_attempt": r.run_attempt,
                "failed_job": r.failed_job.as_ref().map(|(j, _)| j),
                "failed_step": r.failed_job.as_ref().and_then(|(_, s)| s.as_ref()),
            })
        })
        .collect();
    json!({
        "state": f.words(),
        "outcome": f.outcome.map(Outcome::as_str),
        "matched": f.to_json()["matched"],
        "dispatch_id": f.dispatch_id,
        "note": f.note,
        "site_url": f.site_url,
        "runs": runs,
        "deploy": f.deploy.as_ref().map(|d| json!({
            "id": d.id, "state": d.state, "error_message": d.error_message,
            "url": d.page(), "ssl_url": d.ssl_url,
        })),
    })
}

/// `42s`, `5m`, `3h`, `2d`.
fn duration(secs: u64) -> String {
    match secs {
        s if s < 60 => format!("{s}s"),
        s if s < 3600 => format!("{}m", s / 60),
        s if s < 86400 => format!("{}h", s / 3600),
        s => format!("{}d", s / 86400),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_run_line_too_wide_for_80_columns_puts_each_url_on_its_own_row() {
        let short = "succeeded in 48s  https://github.com/o/s/actions/runs/1";
        assert_eq!(run_line(short), format!("      run: {short}"));
        let long = "built in 2s, live at https://blog.example.net  \
                    https://app.netlify.com/sites/blog-site/deploys/65a0b1c2d3e4f5a6b7c8d902";
        assert_eq!(
            run_line(long),
            "      run: built in 2s, live at https://blog.example.net\n      \
             https://app.netlify.com/sites/blog-site/deploys/65a0b1c2d3e4f5a6b7c8d902"
        );
        assert!(run_line(long).lines().all(|l| l.chars().count() <= 80));
    }
}
