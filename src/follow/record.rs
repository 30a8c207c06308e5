//! A delivered dispatch's run(s) on GitHub Actions, as followed: what is recorded on disk in
//! `dispatch/runs/<id>.json` (apart from the 20-entry history, so an unannounced outcome is
//! never trimmed away), and what each of GitHub's statuses and conclusions means to the
//! writer (doc/DESIGN.md, "Following the run").

use serde_json::{json, Map, Value};

use super::matching::Listed;
use crate::say;
use crate::timestamp::{GitHubSecs, LocalMs};

/// The record's format; a newer binary reads older ones, an older one skips newer ones.
pub const VERSION: u64 = 1;

/// One workflow run GitHub started for the dispatch.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Run {
    /// GitHub's run id.
    pub id: u64,
    /// The run's page, as GitHub returned it (on Enterprise the web host is not the API's).
    pub html_url: String,
    /// The workflow's name (from the site repository: control characters stripped).
    pub workflow: String,
    /// The workflow's id, which groups a push's runs (one decides per workflow).
    pub workflow_id: u64,
    /// GitHub's `status`.
    pub status: String,
    /// GitHub's `conclusion`, once completed.
    pub conclusion: Option<String>,
    /// GitHub's `run_attempt` (a re-run is attempt 2 and up).
    pub run_attempt: u64,
    /// When GitHub created it (Unix seconds, GitHub's clock).
    pub created_at: GitHubSecs,
    /// When it started running, if it has.
    pub run_started_at: Option<GitHubSecs>,
    /// GitHub's last change to it.
    pub updated_at: GitHubSecs,
    /// For a failure: the first failed job, and its failed step when there is one.
    pub failed_job: Option<(String, Option<String>)>,
    /// While it runs and someone watches on a terminal: the job running, and its step.
    pub current: Option<(String, Option<String>)>,
}

impl Run {
    /// Reads a run object of GitHub's REST API; `None` when it lacks what we need.
    pub fn from_github(v: &Value) -> Option<Run> {
        let time = |k: &str| {
            v.get(k)
                .and_then(Value::as_str)
                .and_then(crate::timestamp::parse_iso)
        };
        Some(Run {
            id: v.get("id")?.as_u64()?,
            html_url: web_url(v.get("html_url")?.as_str()?)?,
            workflow: say::one_line(v.get("name").and_then(Value::as_str).unwrap_or("")),
            workflow_id: v.get("workflow_id").and_then(Value::as_u64).unwrap_or(0),
            status: token(v.get("status")?.as_str()?)?,
            conclusion: v.get("conclusion").and_then(Value::as_str).and_then(token),
            run_attempt: v.get("run_attempt").and_then(Value::as_u64).unwrap_or(1),
            created_at: GitHubSecs(time("created_at")?),
            run_started_at: time("run_started_at").map(GitHubSecs),
            updated_at: GitHubSecs(time("updated_at").or_else(|| time("created_at"))?),
            failed_job: None,
            current: None,
        })
    }

    /// Whether GitHub is done with it.
    pub fn completed(&self) -> bool {
        self.status == "completed"
    }

    /// Whether it concluded as the writer wanted.
    pub fn ended_well(&self) -> bool {
        ended_well(self.conclusion.as_deref())
    }

    /// How it stands, in words, at `now` on GitHub's clock: `building for 1m12s`,
    /// `succeeded in 48s`, `failed: build / Run astro build`.
    pub fn words(&self, now: GitHubSecs, superseded: bool) -> String {
        let started = self.run_started_at.unwrap_or(self.created_at);
        let took = crate::timestamp::duration(self.updated_at.since(started));
        match (self.status.as_str(), self.conclusion.as_deref()) {
            ("completed", Some("success")) => format!("succeeded in {took}"),
            ("completed", Some("cancelled")) if superseded => {
                "superseded by a newer run".to_string()
            }
            ("completed", Some(conclusion)) => {
                conclusion_words(conclusion).to_string() + &job_words(&self.failed_job)
            }
            ("completed", None) => "completed".to_string(),
            ("in_progress", _) => format!(
                "building for {}{}",
                crate::timestamp::duration(now.since(started)),
                job_words(&self.current)
            ),
            ("waiting", _) => "waiting for approval".to_string(),
            (_, _) => "queued".to_string(),
        }
    }

    /// As stored.
    pub fn to_json(&self) -> Value {
        json!({
            "id": self.id, "html_url": self.html_url, "workflow": self.workflow,
            "workflow_id": self.workflow_id, "status": self.status,
            "conclusion": self.conclusion, "run_attempt": self.run_attempt,
            "created_at": self.created_at.0,
            "run_started_at": self.run_started_at.map(|t| t.0),
            "updated_at": self.updated_at.0,
            "failed_job": self.failed_job.as_ref().map(|(j, _)| j),
            "failed_step": self.failed_job.as_ref().and_then(|(_, s)| s.as_ref()),
            "current_job": self.current.as_ref().map(|(j, _)| j),
            "current_step": self.current.as_ref().and_then(|(_, s)| s.as_ref()),
        })
    }

    /// Reads a stored one back.
    pub fn from_json(v: &Value) -> Option<Run> {
        let s = |k: &str| v.get(k).and_then(Value::as_str).map(str::to_string);
        let n = |k: &str| v.get(k).and_then(Value::as_u64);
        Some(Run {
            id: n("id")?,
            html_url: s("html_url")?,
            workflow: s("workflow").unwrap_or_default(),
            workflow_id: n("workflow_id").unwrap_or(0),
            status: s("status")?,
            conclusion: s("conclusion"),
            run_attempt: n("run_attempt").unwrap_or(1),
            created_at: GitHubSecs(n("created_at")?),
            run_started_at: n("run_started_at").map(GitHubSecs),
            updated_at: GitHubSecs(n("updated_at")?),
            failed_job: s("failed_job").map(|j| (j, s("failed_step"))),
            current: s("current_job").map(|j| (j, s("current_step"))),
        })
    }
}

/// `: build / Run astro build` for a job and its step, `: build` without a step, nothing
/// without a job.
fn job_words(job: &Option<(String, Option<String>)>) -> String {
    match job {
        Some((job, Some(step))) => format!(": {job} / {step}"),
        Some((job, None)) => format!(": {job}"),
        None => String::new(),
    }
}

/// Whether a conclusion (of a run, a job or a step) is what the writer wanted: a success,
/// or nothing to do (`neutral`, `skipped`).
pub fn ended_well(conclusion: Option<&str>) -> bool {
    matches!(conclusion, Some("success" | "neutral" | "skipped"))
}

/// A conclusion in words; the same table as doc/DESIGN.md's.
pub fn conclusion_words(conclusion: &str) -> &'static str {
    match conclusion {
        "success" => "succeeded",
        "failure" => "failed",
        "cancelled" => "cancelled",
        "timed_out" => "timed out",
        "action_required" => "waiting for approval (action required)",
        "startup_failure" => "failed to start",
        "stale" => "stale",
        "neutral" => "finished (neutral)",
        "skipped" => "skipped",
        _ => "completed",
    }
}

/// What became of a followed dispatch, from a fixed set: GitHub's conclusion, or one of
/// ours. It is what `GIT_DISPATCH_OUTCOME` carries and what decides `watch`'s exit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// GitHub's conclusion (one of those it documents).
    Concluded(&'static str),
    /// A run cancelled while a newer followed run of the same target exists.
    Superseded,
    /// No run appeared within the follow bound.
    NoRun,
    /// Runs appeared, but none could be told for ours.
    NotIdentified,
    /// GitHub would not let us follow it (a permission, a revoked token).
    CannotFollow,
    /// Still running when the follow bound passed.
    StillRunning,
    /// Completed without a conclusion GitHub documents (or with none): no success.
    NoConclusion,
}

/// GitHub's documented conclusions, so an outcome is always one of a fixed set.
const CONCLUSIONS: [&str; 9] = [
    "success",
    "failure",
    "cancelled",
    "timed_out",
    "action_required",
    "startup_failure",
    "stale",
    "neutral",
    "skipped",
];

impl Outcome {
    /// The name `GIT_DISPATCH_OUTCOME` and `status --json` use.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Concluded(c) => c,
            Outcome::Superseded => "superseded",
            Outcome::NoRun => "no_run",
            Outcome::NotIdentified => "not_identified",
            Outcome::CannotFollow => "cannot_follow",
            Outcome::StillRunning => "still_running",
            Outcome::NoConclusion => "no_conclusion",
        }
    }

    /// GitHub's conclusion as an outcome; only the conclusions GitHub documents.
    pub fn from_conclusion(conclusion: &str) -> Option<Outcome> {
        CONCLUSIONS
            .iter()
            .find(|c| **c == conclusion)
            .map(|c| Outcome::Concluded(c))
    }

    /// Reads a name back; only names of the fixed set.
    pub fn parse(name: &str) -> Option<Outcome> {
        if let Some(concluded) = Outcome::from_conclusion(name) {
            return Some(concluded);
        }
        Some(match name {
            "superseded" => Outcome::Superseded,
            "no_run" => Outcome::NoRun,
            "not_identified" => Outcome::NotIdentified,
            "cannot_follow" => Outcome::CannotFollow,
            "still_running" => Outcome::StillRunning,
            "no_conclusion" => Outcome::NoConclusion,
            _ => return None,
        })
    }

    /// Whether the site was not rebuilt as asked: a build that concluded badly, or no run
    /// at all (not knowing, as for `cannot_follow`, is not that).
    pub fn is_failed_build(self) -> bool {
        matches!(
            self,
            Outcome::Concluded(_) | Outcome::NoRun | Outcome::NoConclusion
        ) && !self.is_good()
    }

    /// Whether the site is built as the writer wanted (`watch` exits 0).
    pub fn is_good(self) -> bool {
        match self {
            Outcome::Concluded(c) => ended_well(Some(c)),
            other => other == Outcome::Superseded,
        }
    }
}

/// Where following a delivery stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Phase {
    /// Looking for the run the dispatch started.
    Finding,
    /// Polling the run(s) found until they complete.
    Following,
    /// An outcome is recorded.
    Done,
}

impl Phase {
    fn as_str(self) -> &'static str {
        match self {
            Phase::Finding => "finding",
            Phase::Following => "following",
            Phase::Done => "done",
        }
    }

    fn parse(s: &str) -> Option<Phase> {
        Some(match s {
            "finding" => Phase::Finding,
            "following" => Phase::Following,
            "done" => Phase::Done,
            _ => return None,
        })
    }
}

/// How the run was told for the dispatch's.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Match {
    /// The run's title holds the dispatch's `dispatch_id` (the `run-name` line).
    Id,
    /// GitHub returned the run with the dispatch (`return_run_details`).
    RunDetails,
    /// The only new run of the token's user in a listening workflow: matched by time.
    Time,
    /// Netlify named the deploy its build started (`deploy_id`).
    Deploy,
}

impl Match {
    fn as_str(self) -> &'static str {
        match self {
            Match::Id => "dispatch_id",
            Match::RunDetails => "run_details",
            Match::Time => "time",
            Match::Deploy => "deploy_id",
        }
    }

    fn parse(s: &str) -> Option<Match> {
        Some(match s {
            "dispatch_id" => Match::Id,
            "run_details" => Match::RunDetails,
            "time" => Match::Time,
            "deploy_id" => Match::Deploy,
            _ => return None,
        })
    }
}

/// A delivered dispatch being followed (or followed to its end).
#[derive(Clone, Debug)]
pub struct Follow {
    /// The delivered entry's id (also the history's and the file's).
    pub id: String,
    /// The target's name.
    pub target: String,
    /// The site repository, `owner/repo`.
    pub repository: String,
    /// The pushed sha.
    pub sha: String,
    /// `workflow_dispatch` of this workflow; `None`: `repository_dispatch`.
    pub workflow: Option<String>,
    /// The ref a workflow dispatch ran on.
    pub workflow_ref: Option<String>,
    /// The id sent in `client_payload`, when it fitted.
    pub dispatch_id: Option<String>,
    /// GitHub's clock when it took the dispatch (its `Date`).
    pub dispatched_at: GitHubSecs,
    /// GitHub's clock at the last answer, for ages.
    pub github_now: GitHubSecs,
    /// This machine's clock, in milliseconds, when the dispatch was accepted.
    pub recorded_ms: LocalMs,
    /// This machine's wall clock past which following stops (a laptop's sleep counts).
    pub deadline: u64,
    /// This machine's wall clock of the next request.
    pub next_poll: LocalMs,
    /// Where it stands.
    pub phase: Phase,
    /// How the runs were found.
    pub matched: Option<Match>,
    /// The run GitHub returned with the dispatch (`return_run_details`), to fetch.
    pub run_id: Option<u64>,
    /// The run(s) found, one per workflow (the newest of each decides).
    pub runs: Vec<Run>,
    /// A Netlify target's deploy, instead of runs: then `github_now` is Netlify's clock.
    pub deploy: Option<crate::netlify::Deploy>,
    /// While its run is looked for: the list of runs as last read whole, decided on again
    /// when GitHub answers that it has not changed (a 304).
    pub listed: Vec<Listed>,
    /// The outcome, once known.
    pub outcome: Option<Outcome>,
    /// The site's public URL, said with a success (the target's `url`, else GitHub Pages').
    pub site_url: Option<String>,
    /// What the writer should know beside it (no run yet and why; the fix for a 403).
    pub note: Option<String>,
    /// `ETag`s of answers, by URL, for `If-None-Match`.
    pub etags: Map<String, Value>,
    /// Whether the next `git push` has said this outcome.
    pub announced_hook: bool,
    /// Whether `dispatch.notify` has said it.
    pub announced_notify: bool,
}

impl Follow {
    /// As stored, and (without the ETags) as `status --json` shows it.
    pub fn to_json(&self) -> Value {
        json!({
            "version": VERSION,
            "id": self.id, "target": self.target, "repository": self.repository,
            "sha": self.sha, "workflow": self.workflow, "workflow_ref": self.workflow_ref,
            "dispatch_id": self.dispatch_id, "dispatched_at": self.dispatched_at.0,
            "github_now": self.github_now.0, "recorded_ms": self.recorded_ms.0,
            "deadline": self.deadline,
            "next_poll": self.next_poll.0, "phase": self.phase.as_str(),
            "matched": self.matched.map(Match::as_str), "run_id": self.run_id,
            "runs": self.runs.iter().map(Run::to_json).collect::<Vec<_>>(),
            "deploy": self.deploy.as_ref().map(crate::netlify::Deploy::to_json),
            "listed": self.listed.iter().map(Listed::to_json).collect::<Vec<_>>(),
            "outcome": self.outcome.map(Outcome::as_str),
            "note": self.note, "site_url": self.site_url, "etags": self.etags,
            "announced": {"hook": self.announced_hook, "notify": self.announced_notify},
        })
    }

    /// Reads a record; `None` for a newer format or a damaged file.
    pub fn from_json(v: &Value) -> Option<Follow> {
        if v.get("version")?.as_u64()? > VERSION {
            return None;
        }
        let s = |k: &str| v.get(k).and_then(Value::as_str).map(str::to_string);
        let n = |k: &str| v.get(k).and_then(Value::as_u64);
        let announced = |k: &str| {
            v.get("announced")
                .and_then(|a| a.get(k))
                .and_then(Value::as_bool)
                .unwrap_or(false)
        };
        Some(Follow {
            id: s("id")?,
            target: s("target")?,
            repository: s("repository")?,
            sha: s("sha")?,
            workflow: s("workflow"),
            workflow_ref: s("workflow_ref"),
            dispatch_id: s("dispatch_id"),
            dispatched_at: GitHubSecs(n("dispatched_at")?),
            github_now: GitHubSecs(n("github_now").unwrap_or(0)),
            recorded_ms: LocalMs(n("recorded_ms").unwrap_or(0)),
            deadline: n("deadline")?,
            next_poll: LocalMs(n("next_poll").unwrap_or(0)),
            phase: Phase::parse(&s("phase")?)?,
            matched: s("matched").as_deref().and_then(Match::parse),
            run_id: n("run_id"),
            runs: v
                .get("runs")
                .and_then(Value::as_array)
                .map(|a| a.iter().filter_map(Run::from_json).collect())
                .unwrap_or_default(),
            // A Netlify record that cannot be read is damaged, never a GitHub one.
            deploy: match v.get("deploy").filter(|d| !d.is_null()) {
                Some(d) => Some(crate::netlify::Deploy::from_json(d)?),
                None => None,
            },
            listed: v
                .get("listed")
                .and_then(Value::as_array)
                .map(|a| a.iter().filter_map(Listed::from_json).collect())
                .unwrap_or_default(),
            outcome: s("outcome").as_deref().and_then(Outcome::parse),
            note: s("note"),
            site_url: s("site_url").filter(|u| crate::config::validate_site_url(u).is_ok()),
            etags: v
                .get("etags")
                .and_then(Value::as_object)
                .cloned()
                .unwrap_or_default()
                .into_iter()
                // A list's ETag stands for the list kept beside it: a record written
                // before lists were kept has none, and its list is read whole again.
                .filter(|(url, _)| v.get("listed").is_some() || !url.contains("runs?"))
                .collect(),
            announced_hook: announced("hook"),
            announced_notify: announced("notify"),
        })
    }

    /// The owner part of `owner/repo`, whose token follows it.
    pub fn owner(&self) -> &str {
        self.repository.split('/').next().unwrap_or_default()
    }

    /// The run that decided the outcome: the first that did not end well.
    pub fn failed_run(&self) -> Option<&Run> {
        self.runs.iter().find(|r| !r.ended_well())
    }

    /// Whether a build was found for it: a run, or a Netlify deploy.
    pub fn has_build(&self) -> bool {
        !self.runs.is_empty() || self.deploy.is_some()
    }

    /// The page of the build that decided (or of the one followed): a run's, a deploy's.
    pub fn build_url(&self) -> Option<String> {
        match &self.deploy {
            Some(deploy) => deploy.page(),
            None => self
                .failed_run()
                .or(self.runs.first())
                .map(|r| r.html_url.clone()),
        }
    }

    /// A bad outcome as the next push says it: `failed: build / Run astro build (URL)`.
    pub fn failure_words(&self) -> String {
        if let Some(deploy) = &self.deploy {
            let words = deploy.words(self.github_now);
            return match deploy.page() {
                Some(page) => format!("{words} ({page})"),
                None => words,
            };
        }
        match self.failed_run() {
            Some(run) => format!("{} ({})", run.words(self.github_now, false), run.html_url),
            None => self.words(),
        }
    }

    /// An outcome that is no success as the next push says it, after the repository's name:
    /// ` failed: build / Run astro build (URL)`, or `: ` and what went wrong with its fix.
    pub fn push_words(&self) -> String {
        if self.outcome.is_some_and(Outcome::is_failed_build) && self.has_build() {
            return format!(" {}", self.failure_words());
        }
        match &self.note {
            Some(note) => format!(": {note}"),
            None => format!(": {}", self.words()),
        }
    }

    /// How it stands, in one line for `status`: each build's words and URL, or why none.
    /// A success says where the site is before the build's URL (`succeeded in 48s, live at
    /// https://blog.example.com  https://github.com/…/runs/1`), so that a terminal too narrow
    /// for the line puts each URL whole on its own row.
    pub fn words(&self) -> String {
        let live = match (self.outcome, &self.site_url) {
            (Some(Outcome::Concluded("success")), Some(url)) => format!(", live at {url}"),
            _ => String::new(),
        };
        if let Some(deploy) = &self.deploy {
            let page = deploy.page().map(|p| format!("  {p}")).unwrap_or_default();
            let words = match self.outcome {
                Some(Outcome::CannotFollow) => "cannot follow".to_string(),
                Some(Outcome::StillRunning) => {
                    format!("{} when following stopped", deploy.words(self.github_now))
                }
                _ => deploy.words(self.github_now),
            };
            return format!("{words}{live}{page}");
        }
        if self.runs.is_empty() {
            return match (self.outcome, self.phase) {
                (Some(Outcome::NoRun), _) => "no run started".to_string(),
                (Some(Outcome::NotIdentified), _) => "run not identified".to_string(),
                (Some(Outcome::CannotFollow), _) => "cannot follow".to_string(),
                (Some(other), _) => other.as_str().replace('_', " "),
                (None, _) if self.note.is_some() => "no run started yet".to_string(),
                (None, _) => "looking for its run".to_string(),
            };
        }
        let superseded = self.outcome == Some(Outcome::Superseded);
        let words: Vec<String> = self
            .runs
            .iter()
            .map(|r| format!("{}  {}", r.words(self.github_now, superseded), r.html_url))
            .collect();
        match self.runs.as_slice() {
            [run] => format!(
                "{}{live}  {}",
                run.words(self.github_now, superseded),
                run.html_url
            ),
            _ if live.is_empty() => words.join("; "),
            _ => format!("{}; {}", words.join("; "), live.trim_start_matches(", ")),
        }
    }
}

/// GitHub's status and conclusion values are plain words; anything else is not trusted.
fn token(text: &str) -> Option<String> {
    (!text.is_empty()
        && text.len() <= 40
        && text.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'))
    .then(|| text.to_string())
}

/// `url` if it is an https URL without user info or control characters (a run's page).
pub fn web_url(url: &str) -> Option<String> {
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))?;
    let authority = rest.split('/').next()?;
    let clean = !authority.is_empty()
        && !authority.contains('@')
        && url.chars().all(|c| !c.is_control() && !c.is_whitespace());
    clean.then(|| url.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(status: &str, conclusion: Option<&str>) -> Run {
        Run {
            id: 1,
            html_url: "https://github.com/o/s/actions/runs/1".into(),
            workflow: "Build".into(),
            workflow_id: 7,
            status: status.into(),
            conclusion: conclusion.map(str::to_string),
            run_attempt: 1,
            created_at: GitHubSecs(100),
            run_started_at: Some(GitHubSecs(110)),
            updated_at: GitHubSecs(158),
            failed_job: None,
            current: None,
        }
    }

    #[test]
    fn each_status_and_conclusion_reads_as_words() {
        assert_eq!(run("queued", None).words(GitHubSecs(120), false), "queued");
        assert_eq!(
            run("requested", None).words(GitHubSecs(120), false),
            "queued"
        );
        assert_eq!(run("pending", None).words(GitHubSecs(120), false), "queued");
        assert_eq!(
            run("waiting", None).words(GitHubSecs(120), false),
            "waiting for approval"
        );
        assert_eq!(
            run("in_progress", None).words(GitHubSecs(182), false),
            "building for 1m12s"
        );
        let mut watched = run("in_progress", None);
        watched.current = Some(("build".into(), Some("Run astro build".into())));
        assert_eq!(
            watched.words(GitHubSecs(182), false),
            "building for 1m12s: build / Run astro build"
        );
        assert_eq!(
            run("completed", Some("success")).words(GitHubSecs(200), false),
            "succeeded in 48s"
        );
        let mut failed = run("completed", Some("failure"));
        failed.failed_job = Some(("build".into(), Some("Run astro build".into())));
        assert_eq!(
            failed.words(GitHubSecs(200), false),
            "failed: build / Run astro build"
        );
        failed.failed_job = Some(("build".into(), None));
        assert_eq!(failed.words(GitHubSecs(200), false), "failed: build");
        assert_eq!(
            run("completed", Some("cancelled")).words(GitHubSecs(200), true),
            "superseded by a newer run"
        );
        for c in CONCLUSIONS {
            assert_ne!(conclusion_words(c), "completed", "{c}");
            let outcome = Outcome::parse(c).unwrap();
            assert_eq!(outcome.as_str(), c);
            assert_eq!(
                outcome.is_good(),
                matches!(c, "success" | "neutral" | "skipped")
            );
        }
        assert_eq!(Outcome::parse("rm -rf /"), None);
    }

    #[test]
    fn a_record_round_trips_and_a_newer_version_is_skipped() {
        let mut f = Follow {
            id: "a1".into(),
            target: "site".into(),
            repository: "o/s".into(),
            sha: "abc".into(),
            workflow: None,
            workflow_ref: None,
            dispatch_id: Some("gd-a1".into()),
            dispatched_at: GitHubSecs(100),
            github_now: GitHubSecs(120),
            recorded_ms: LocalMs(100_000),
            deadline: 4000,
            next_poll: LocalMs(0),
            phase: Phase::Following,
            matched: Some(Match::Id),
            run_id: None,
            runs: vec![run("in_progress", None)],
            deploy: None,
            listed: Vec::new(),
            outcome: None,
            note: None,
            site_url: None,
            etags: Map::new(),
            announced_hook: false,
            announced_notify: false,
        };
        let back = Follow::from_json(&f.to_json()).unwrap();
        assert_eq!(back.runs, f.runs);
        assert_eq!(back.matched, Some(Match::Id));
        f.outcome = Some(Outcome::Concluded("failure"));
        let mut v = f.to_json();
        assert_eq!(
            Follow::from_json(&v).unwrap().outcome,
            Some(Outcome::Concluded("failure"))
        );
        v["version"] = json!(VERSION + 1);
        assert!(Follow::from_json(&v).is_none());
    }

    #[test]
    fn names_from_the_site_repository_are_cleaned() {
        let v = json!({
            "id": 5, "html_url": "https://github.com/o/s/actions/runs/5",
            "name": "Build\u{1b}[31m\nsite", "workflow_id": 2, "status": "completed",
            "conclusion": "success", "run_attempt": 1,
            "created_at": "2026-12-01T19:00:00Z", "updated_at": "2026-12-01T19:01:00Z",
        });
        let r = Run::from_github(&v).unwrap();
        assert_eq!(r.workflow, "Build [31m site");
        let mut bad = v.clone();
        bad["html_url"] = json!("https://u:p@evil/x");
        assert!(Run::from_github(&bad).is_none());
        bad["html_url"] = v["html_url"].clone();
        bad["status"] = json!("completed; rm -rf /");
        assert!(Run::from_github(&bad).is_none());
    }
}
