//! One round for one followed delivery: find its run, poll it, and decide its outcome when
//! it ends; what GitHub refuses becomes the outcome and the fix in words.

use serde_json::Value;

use super::client::{Client, Failed, Got, TokenState};
use super::matching::{self, Ambiguity, Ask, Decision, Listed, User};
use super::record::{Follow, Match, Outcome, Phase, Run};
use crate::answer::Failure;
use crate::api::Api;
use crate::config::Settings;

/// Filtered lists lag behind the dispatch: no run is said to have started only after this
/// many polls.
pub const NO_RUN_AFTER_POLLS: u64 = 24;
/// After that, the run is looked for this many polls apart (GitHub delays events in
/// incidents).
pub const SLOW_POLLS: u64 = 6;
/// The margin before GitHub's `Date` of the dispatch that a run's `created_at` may have.
const CREATED_MARGIN: u64 = 60;
/// For this long after the dispatch a 404 for a run GitHub named is its replicas lagging
/// behind the write, not an answer.
const NAMED_RUN_404_MS: u64 = 30_000;
/// Pages of a jobs list read for the failed job (100 jobs a page).
const JOB_PAGES: usize = 10;
/// Why no run may have started, and what checks it.
const NO_RUN_CAUSES: &str = "is the event in the workflow's `types`, is the workflow on the \
                             default branch, are Actions enabled? (`git dispatch doctor` checks)";

/// The note of a delivery whose run has not started: provisional (`yet`) until the bound.
pub fn no_run_note(yet: bool) -> String {
    let yet = if yet { " yet" } else { "" };
    format!("no run started{yet}: {NO_RUN_CAUSES}")
}

/// What every record's round shares.
pub struct Round<'a> {
    /// The API.
    pub api: &'a Api,
    /// The settings the follower started with.
    pub settings: &'a Settings,
    /// Every record, as read this round.
    pub all: &'a [Follow],
    /// The poll interval, in milliseconds.
    pub poll_ms: u64,
    /// Whether a `watch` on a terminal wants the running job and step.
    pub watched: bool,
}

/// One round for one delivery: one request (a few when a run ends); the milliseconds until
/// its next. `elapsed_ms` is the time since the dispatch on this process's monotonic clock.
pub fn step(round: &Round, tokens: &mut TokenState, follow: &mut Follow, elapsed_ms: u64) -> u64 {
    let poll = round.poll_ms;
    let token = match &tokens.token {
        Ok(token) => token.clone(),
        Err(why) => {
            // A tokenCommand that timed out once may answer the next time: read again
            // after a while, until the bound says "cannot follow".
            follow.note = Some(format!(
                "cannot follow yet: {}",
                crate::say::shorten(&crate::say::one_line(why), 200)
            ));
            *tokens = TokenState::read(round.settings, round.api.host(), follow.owner());
            return SLOW_POLLS * poll;
        }
    };
    let user = match follow.phase {
        Phase::Finding => tokens.user(round.api),
        _ => User::NotYet,
    };
    let result = {
        let client = Client {
            api: round.api,
            token: &token,
            state: tokens,
        };
        match follow.phase {
            Phase::Finding => find(&client, round, &user, follow, elapsed_ms),
            Phase::Following => track(&client, round, follow).map(|()| poll),
            Phase::Done => Ok(poll),
        }
    };
    let failed = match result {
        Ok(wait) => return wait,
        Err(failed) => failed,
    };
    let Failed {
        failure,
        needed,
        status,
    } = failed;
    match failure {
        // A wait GitHub asked for (Retry-After, a rate limit) pauses the whole token in the
        // client; a 5xx or the network is asked again a poll later.
        Failure::Later { .. } => poll,
        // GitHub named this run (with the dispatch, or in a list): a 404 right after is a
        // replica that has not seen it yet.
        Failure::Refused { .. }
            if status == Some(404) && named_a_run(follow) && elapsed_ms < NAMED_RUN_404_MS =>
        {
            poll
        }
        // It was read before, with this token: the run is gone, not out of reach.
        Failure::Refused { .. } if status == Some(404) && !follow.runs.is_empty() => {
            let id = follow.runs[0].id;
            cannot_follow(
                follow,
                format!("cannot follow: GitHub no longer finds run {id} (deleted?); the delivery stands"),
                poll,
            )
        }
        Failure::Refused { reason } if status == Some(401) => {
            if !tokens.reread {
                // The token may have been rotated: read it once more, then give up.
                tokens.reread = true;
                if let Ok(fresh) =
                    crate::token::find(round.settings, round.api.host(), follow.owner())
                {
                    tokens.token = Ok(fresh);
                    return poll;
                }
            }
            let note = format!(
                "cannot follow: the token was refused ({}); the delivery stands; make a new \
                 token and run `git dispatch login`",
                crate::say::shorten(&crate::say::one_line(&reason), 120)
            );
            cannot_follow(follow, note, poll)
        }
        Failure::Refused { reason } => {
            let needs = needed.unwrap_or_else(|| "actions=read".to_string());
            let reason = crate::say::one_line(&reason);
            let note = format!(
                "cannot follow the run: {} ({needs}); give the token Actions: read on {}, or \
                 `git config dispatch.follow false`",
                crate::say::shorten(reason.split(':').next().unwrap_or(&reason), 120),
                follow.repository
            );
            cannot_follow(follow, note, poll)
        }
    }
}

/// Ends following with `cannot_follow` and why; nothing is asked again. Returns `wait`.
pub(super) fn cannot_follow(follow: &mut Follow, note: String, wait: u64) -> u64 {
    follow.note = Some(note);
    follow.outcome = Some(Outcome::CannotFollow);
    follow.phase = Phase::Done;
    wait
}

/// Whether GitHub has named a run for this delivery (returned with it, or listed).
fn named_a_run(follow: &Follow) -> bool {
    follow.run_id.is_some() || !follow.runs.is_empty()
}

type Step<T> = Result<T, Failed>;

/// Looks for the run: by the id GitHub returned, else in the list of runs since the
/// dispatch (`matching::decide`); the milliseconds until the next look.
fn find(
    client: &Client,
    round: &Round,
    user: &User,
    follow: &mut Follow,
    elapsed_ms: u64,
) -> Step<u64> {
    let poll = round.poll_ms;
    let repository = follow.repository.clone();
    if let (Some(Match::RunDetails), Some(id)) = (follow.matched, follow.run_id) {
        match client.get(follow, &format!("/repos/{repository}/actions/runs/{id}")) {
            Got::Json(v, tag) => {
                if let Some(run) = Run::from_github(&v) {
                    tag.keep(follow);
                    follow.runs = vec![run];
                    follow.phase = Phase::Following;
                    track_completed(client, round, follow)?;
                }
            }
            Got::NotModified => {}
            Got::Failed(failed) => return Err(failed),
        }
        return Ok(poll);
    }
    let since = crate::timestamp::format_iso(follow.dispatched_at.minus(CREATED_MARGIN).0);
    let created = format!("%3E%3D{}", since.replace(':', "%3A"));
    let path = match &follow.workflow {
        None => format!(
            "/repos/{repository}/actions/runs?event=repository_dispatch&created={created}&per_page=100"
        ),
        Some(workflow) => format!(
            "/repos/{repository}/actions/workflows/{workflow}/runs?event=workflow_dispatch&created={created}&per_page=100"
        ),
    };
    match client.get(follow, &path) {
        Got::Json(v, tag) => match v.get("workflow_runs").and_then(Value::as_array) {
            Some(runs) => {
                follow.listed = runs.iter().filter_map(Listed::from_github).collect();
                tag.keep(follow);
            }
            None => return Err(Failed::later(format!("GET {path}: no workflow_runs"))),
        },
        // The list is what was last read: decided on again, as time has passed.
        Got::NotModified => {}
        Got::Failed(failed) => return Err(failed),
    }
    let others_in_flight = round
        .all
        .iter()
        .any(|f| f.id != follow.id && f.target == follow.target && f.phase != Phase::Done);
    let ask = Ask {
        dispatch_id: follow.dispatch_id.as_deref(),
        dispatched_at: follow.dispatched_at,
        user,
        others_in_flight,
        elapsed_ms,
        poll_ms: poll,
    };
    match matching::decide(&ask, &follow.listed) {
        Decision::Wait => Ok(waited(follow, poll, elapsed_ms)),
        Decision::Provisional(runs) => {
            follow.matched = Some(Match::Id);
            follow.runs = carry_current(&follow.runs, runs);
            follow.note = None;
            // A watched run's job and step are shown from the poll it is found on.
            if round.watched {
                read_current(client, follow);
            }
            Ok(poll)
        }
        Decision::Found(runs, by) => {
            follow.matched = Some(by);
            follow.runs = carry_current(&follow.runs, runs);
            follow.note = time_note(follow);
            follow.phase = Phase::Following;
            follow.listed = Vec::new();
            follow.etags.remove(&client.api.url(&path));
            track_completed(client, round, follow)?;
            Ok(poll)
        }
        Decision::NotIdentified(why) => {
            let page = follow
                .listed
                .iter()
                .find_map(|l| {
                    l.run
                        .html_url
                        .split_once("/actions/runs/")
                        .map(|(base, _)| format!("{base}/actions"))
                })
                .map(|p| format!(" ({p})"))
                .unwrap_or_default();
            let fix = "add the `run-name` line to the site's workflow (`git dispatch doctor` \
                       shows it) so its title carries the dispatch's id";
            follow.note = Some(match why {
                Ambiguity::Several(n) => {
                    format!("{NOT_IDENTIFIED}: {n} runs started then{page}; {fix}")
                }
                Ambiguity::OtherOfOursInFlight => format!(
                    "{NOT_IDENTIFIED}: one run started then{page}, while another dispatch to \
                     this target was in flight, so it could be either's; {fix}"
                ),
                Ambiguity::UserUnknowable(n) => format!(
                    "{NOT_IDENTIFIED}: {n} run(s) started then{page}, and GitHub does not say \
                     whose the token is, so none can be told for ours by time; {fix}"
                ),
            });
            follow.outcome = Some(Outcome::NotIdentified);
            follow.phase = Phase::Done;
            follow.listed = Vec::new();
            Ok(poll)
        }
    }
}

const NOT_IDENTIFIED: &str = "run not identified";

/// The caveat a run matched by time is said with, and its fix.
fn time_note(follow: &Follow) -> Option<String> {
    (follow.matched == Some(Match::Time)).then(|| {
        "matched by time only: add the `run-name` line to the site's workflow (`git dispatch \
         doctor` shows it) so that its run is told apart by the dispatch's id"
            .to_string()
    })
}

/// `runs` as listed now, each keeping the job and step last read for its attempt while
/// it still runs.
fn carry_current(before: &[Run], runs: Vec<Run>) -> Vec<Run> {
    runs.into_iter()
        .map(|run| {
            let was = before.iter().find(|b| b.id == run.id);
            with_current(run, was)
        })
        .collect()
}

/// `run` as read now, keeping the job and step `before` last read for the same attempt
/// while it still runs (a jobs answer of 304 says nothing new).
fn with_current(mut run: Run, before: Option<&Run>) -> Run {
    if !run.completed() {
        run.current = before
            .filter(|b| b.run_attempt == run.run_attempt)
            .and_then(|b| b.current.clone());
    }
    run
}

/// No run (yet): after two minutes say so, provisionally, and look less often.
fn waited(follow: &mut Follow, poll: u64, elapsed_ms: u64) -> u64 {
    let waited_ms = follow.github_now.since(follow.dispatched_at) * 1000;
    if waited_ms.max(elapsed_ms) < NO_RUN_AFTER_POLLS * poll {
        return poll;
    }
    follow.note = Some(no_run_note(true));
    SLOW_POLLS * poll
}

/// Polls each unfinished run; when all are done, reads the failed jobs and decides. While
/// someone watches on a terminal, a running run's jobs are read too.
fn track(client: &Client, round: &Round, follow: &mut Follow) -> Step<()> {
    let repository = follow.repository.clone();
    for i in 0..follow.runs.len() {
        if follow.runs[i].completed() {
            continue;
        }
        let path = format!("/repos/{repository}/actions/runs/{}", follow.runs[i].id);
        match client.get(follow, &path) {
            Got::Json(v, tag) => {
                // An answer that is not a run is not kept: the next poll reads it whole.
                if let Some(run) = Run::from_github(&v) {
                    tag.keep(follow);
                    follow.runs[i] = with_current(run, Some(&follow.runs[i]));
                }
            }
            Got::NotModified => {}
            Got::Failed(failed) => return Err(failed),
        }
    }
    if round.watched {
        read_current(client, follow);
    } else {
        for run in &mut follow.runs {
            run.current = None;
        }
    }
    track_completed(client, round, follow)
}

/// The job and step each running run is at (a conditional GET: a 304 while no step moved).
fn read_current(client: &Client, follow: &mut Follow) {
    let repository = follow.repository.clone();
    for i in 0..follow.runs.len() {
        let run = &follow.runs[i];
        if run.status != "in_progress" {
            follow.runs[i].current = None;
            continue;
        }
        let path = format!(
            "/repos/{repository}/actions/runs/{}/attempts/{}/jobs?per_page=100",
            run.id, run.run_attempt
        );
        if let Got::Json(v, tag) = client.get(follow, &path) {
            if v.get("jobs").is_some_and(Value::is_array) {
                tag.keep(follow);
                follow.runs[i].current = current_job(&v);
            }
        }
    }
}

/// When every run has completed: the failed job of each that did not end well, and the
/// outcome.
pub fn track_completed(client: &Client, round: &Round, follow: &mut Follow) -> Step<()> {
    if !follow.runs.iter().all(Run::completed) {
        return Ok(());
    }
    let repository = follow.repository.clone();
    for i in 0..follow.runs.len() {
        let run = &follow.runs[i];
        if run.ended_well() {
            continue;
        }
        // The jobs of that attempt, read whole (a jobs answer kept from a watched poll may
        // already be the final one, and a 304 would leave no failed job), page by page.
        let path = format!(
            "/repos/{repository}/actions/runs/{}/attempts/{}/jobs?per_page=100",
            run.id, run.run_attempt
        );
        let mut url = client.api.url(&path);
        follow.etags.remove(&url);
        for _ in 0..JOB_PAGES {
            let Got::Json(v, tag) = client.get_url(follow, url) else {
                break;
            };
            follow.runs[i].failed_job = failed_job(&v);
            match tag.next {
                Some(next) if follow.runs[i].failed_job.is_none() => url = next,
                _ => break,
            }
        }
    }
    // The first run that did not end well decides; if all did, the first run's own.
    let deciding = follow.failed_run().or(follow.runs.first());
    let conclusion = deciding.and_then(|r| r.conclusion.as_deref());
    follow.outcome = Some(match conclusion {
        Some("cancelled") if newer_of_target(round.all, follow) => Outcome::Superseded,
        // Fail closed: a conclusion GitHub did not give, or one it does not document, is
        // no success.
        Some(c) => Outcome::from_conclusion(c).unwrap_or(Outcome::NoConclusion),
        None => Outcome::NoConclusion,
    });
    if follow.outcome == Some(Outcome::Concluded("success")) && follow.site_url.is_none() {
        // GitHub Pages says where the site is, when the token may read it (Pages: read,
        // optional): one request, with nothing lost without it.
        if let Got::Json(v, _) = client.get(follow, &format!("/repos/{repository}/pages")) {
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

/// Asked to look again at an ended delivery (`watch`, `status --refresh`): one GET of each
/// of its runs (a 304 when nothing changed). A new attempt (a re-run), or a run that
/// changed since (one that ended after the bound), reopens it: followed again to the end,
/// its new outcome announced once more on each channel. Whether it was reopened.
pub fn look_again(round: &Round, tokens: &TokenState, follow: &mut Follow) -> bool {
    let Ok(token) = &tokens.token else {
        return false;
    };
    let client = Client {
        api: round.api,
        token,
        state: tokens,
    };
    let repository = follow.repository.clone();
    let mut changed = false;
    for i in 0..follow.runs.len() {
        let path = format!("/repos/{repository}/actions/runs/{}", follow.runs[i].id);
        match client.get(follow, &path) {
            Got::Json(v, tag) => {
                if let Some(fresh) = Run::from_github(&v) {
                    tag.keep(follow);
                    let run = &follow.runs[i];
                    if (fresh.run_attempt, &fresh.status, &fresh.conclusion)
                        != (run.run_attempt, &run.status, &run.conclusion)
                    {
                        changed = true;
                        follow.runs[i] = fresh;
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
    follow.phase = Phase::Following;
    follow.outcome = None;
    follow.note = time_note(follow);
    follow.announced_hook = false;
    follow.announced_notify = false;
    follow.deadline = crate::store::now() + round.settings.follow_for.value;
    follow.next_poll = crate::timestamp::LocalMs(0);
    // A run that had ended meanwhile decides now; a re-run is polled from the next round.
    let _ = track_completed(&client, round, follow);
    true
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
        conclusion.is_some() && !super::record::ended_well(conclusion)
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
