//! Following the run a dispatch started, against the fake's simulated GitHub Actions: a
//! run that appears in lists a moment after the dispatch and goes queued -> in_progress ->
//! completed, with ETags and 304s. The follower polls every 50 ms here.

use std::fs;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::support::*;

/// The site's workflow with the `run-name` line the README gives: GitHub renders the
/// dispatch's id into its run's title, and other events keep their own titles.
pub(crate) const SITE_WORKFLOW: &str = "\
name: Build site
run-name: ${{ github.event_name == 'repository_dispatch' && github.event.client_payload.dispatch_id && format('{0} {1}', github.event.action, github.event.client_payload.dispatch_id) || '' }}
on:
  push:
    branches: [main]
  repository_dispatch:
    types: [update]
jobs:
  build:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v4
";

/// A clone that follows its dispatches to owner/site, whose workflow has the run-name line.
pub(crate) fn following() -> (FakeGitHub, TestEnv) {
    following_with(SITE_WORKFLOW, None, &[])
}

/// A clone that follows its dispatches to owner/site, whose build.yml is `yaml` (taking
/// workflow_dispatch with `inputs`), the target added with `add_args`.
pub(crate) fn following_with(
    yaml: &str,
    inputs: Option<&[&str]>,
    add_args: &[&str],
) -> (FakeGitHub, TestEnv) {
    let fake = FakeGitHub::start();
    fake.add_workflow("owner/site", "build.yml", yaml, inputs);
    let mut env = TestEnv::with_fake(&fake);
    env.set_var("GIT_DISPATCH_POLL_MS", "50");
    env.install();
    let mut add = vec!["add", "owner/site"];
    add.extend_from_slice(add_args);
    env.dispatch_ok(&add);
    env.git_ok(&env.clone, &["config", "dispatch.follow", "true"]);
    (fake, env)
}

/// Pushes a post to main and returns its sha.
pub(crate) fn push_post(env: &TestEnv, name: &str) -> String {
    let sha = env.commit(&env.clone, name, "post\n", "post");
    env.push_ok(&["origin", "main"]);
    sha
}

/// `status --json`'s `follow` object of the newest delivery, once it has an outcome.
pub(crate) fn wait_outcome(env: &TestEnv) -> Value {
    let status = env.wait_status(TIMEOUT, "a followed outcome", |s| {
        recent(s)
            .first()
            .is_some_and(|d| d["follow"]["outcome"].is_string())
    });
    recent(&status)[0]["follow"].clone()
}

/// The records in runs/, read from disk: through `status` a follower would be started.
fn records_on_disk(env: &TestEnv) -> Vec<Value> {
    fs::read_dir(env.clone.join(".git/dispatch/runs"))
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| fs::read(e.path()).ok())
        .filter_map(|b| serde_json::from_slice::<Value>(&b).ok())
        .collect()
}

/// Waits for a record on disk that `done` accepts.
fn wait_record_on_disk(env: &TestEnv, what: &str, done: impl Fn(&Value) -> bool) -> Value {
    let start = Instant::now();
    loop {
        if let Some(found) = records_on_disk(env).into_iter().find(|v| done(v)) {
            return found;
        }
        assert!(start.elapsed() < TIMEOUT, "no record {what} on disk");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The pid the running follower wrote into its lock file, once `ready` holds.
fn follower_pid(env: &TestEnv, ready: impl Fn() -> bool) -> i32 {
    let lock = env.clone.join(".git/dispatch/locks/follower");
    let start = Instant::now();
    loop {
        let pid = fs::read_to_string(&lock)
            .unwrap_or_default()
            .trim()
            .parse::<i32>();
        if let (Ok(pid), true) = (pid, ready()) {
            return pid;
        }
        assert!(start.elapsed() < TIMEOUT, "no follower");
        std::thread::sleep(Duration::from_millis(20));
    }
}

pub(crate) fn actions_requests(fake: &FakeGitHub) -> Vec<Request> {
    fake.requests()
        .into_iter()
        .filter(|r| r.path.contains("/actions/"))
        .collect()
}

#[test]
fn a_successful_build_is_followed_to_its_end_with_conditional_requests_and_then_nothing() {
    let (fake, env) = following();
    push_post(&env, "a.md");

    let follow = wait_outcome(&env);
    assert_eq!(follow["outcome"], "success", "{follow:#}");
    assert_eq!(follow["matched"], "dispatch_id", "{follow:#}");
    let run = &follow["runs"][0];
    assert_eq!(run["status"], "completed");
    assert_eq!(run["conclusion"], "success");
    assert_eq!(run["run_attempt"], 1);
    let (id, title) = fake.runs()[0].clone();
    assert_eq!(
        run["html_url"],
        format!("https://github.com/owner/site/actions/runs/{id}")
    );
    let dispatch_id = follow["dispatch_id"].as_str().unwrap();
    assert_eq!(
        title,
        format!("update {dispatch_id}"),
        "GitHub rendered run-name"
    );
    assert_eq!(
        fake.dispatches()[0].body["client_payload"]["dispatch_id"],
        dispatch_id
    );

    // The run was found by listing since GitHub's Date − 60 s, then polled with ETags.
    let actions = actions_requests(&fake);
    let list = &actions[0];
    assert!(
        list.path == "/repos/owner/site/actions/runs"
            && list.query.contains("event=repository_dispatch")
            && list.query.contains("created=%3E%3D"),
        "{list:?}"
    );
    assert!(
        actions.iter().any(|r| r.status == 304),
        "polls of an unchanged run are answered 304\n{}",
        fake.describe()
    );
    assert!(actions
        .iter()
        .filter(|r| r.path.ends_with(&format!("/runs/{id}")))
        .skip(1)
        .all(|r| r.header("if-none-match").is_some()));
    let counted = fake.counted_requests().len();
    assert!(
        counted <= 12,
        "{counted} counted requests\n{}",
        fake.describe()
    );

    // Once it ended: nothing more is sent.
    let before = fake.requests().len();
    std::thread::sleep(Duration::from_millis(400));
    assert_eq!(fake.requests().len(), before, "{}", fake.describe());

    let out = env.dispatch(&["status"]);
    assert_exit(&out, 0, "status after a successful build");
    assert!(
        stdout(&out).contains(&format!(
            "run: succeeded in 0s  https://github.com/owner/site/actions/runs/{id}"
        )) || stdout(&out).contains("run: succeeded in 1s"),
        "{}",
        show(&out)
    );
}

#[test]
fn a_failed_build_names_its_job_and_step_in_status_and_on_the_next_push_once() {
    let (fake, env) = following();
    fake.set_build(
        "owner/site",
        Build {
            conclusion: "failure",
            failed: Some(("build", Some("Run astro \u{1b}[31mbuild\n"))),
            ..Build::default()
        },
    );
    push_post(&env, "a.md");
    let follow = wait_outcome(&env);
    assert_eq!(follow["outcome"], "failure", "{follow:#}");
    assert_eq!(follow["runs"][0]["failed_job"], "build");
    // Names from the site repository are untrusted: no control character survives.
    assert_eq!(follow["runs"][0]["failed_step"], "Run astro [31mbuild");

    let out = env.dispatch(&["status"]);
    assert_exit(&out, 1, "status after a failed build");
    let text = stdout(&out);
    assert!(
        text.contains(
            "run: failed: build / Run astro [31mbuild\n      https://github.com/owner/site/actions/runs/"
        ),
        "{text}"
    );
    assert!(!text.contains('\u{1b}'), "{text:?}");

    // The next push says it, in the one line for what failed since; the one after, not.
    fake.set_build("owner/site", Build::default());
    let sha = env.commit(&env.clone, "b.md", "b\n", "b");
    let out = env.push_ok(&["origin", "main"]);
    assert_push_output(&out);
    let said = stderr(&out);
    assert!(
        said.contains("git-dispatch: the site build for owner/site failed: build / Run astro [31mbuild (https://github.com/owner/site/actions/runs/"),
        "{said}"
    );
    assert!(!said.contains('\u{1b}'), "{said:?}");
    env.wait_status(TIMEOUT, "the second build followed", |s| {
        recent(s)
            .first()
            .is_some_and(|d| d["sha"] == sha.as_str() && d["follow"]["outcome"] == "success")
    });
    env.commit(&env.clone, "c.md", "c\n", "c");
    let out = env.push_ok(&["origin", "main"]);
    assert!(!stderr(&out).contains("site build"), "{}", show(&out));
    wait_outcome(&env);
    env.wait_settled(TIMEOUT);
    assert_exit(&env.dispatch(&["status"]), 0, "the latest build succeeded");
}

#[test]
fn a_run_that_never_starts_is_no_run_with_the_likely_causes() {
    let (fake, env) = following();
    fake.set_build(
        "owner/site",
        Build {
            never: true,
            ..Build::default()
        },
    );
    env.git_ok(&env.clone, &["config", "dispatch.followFor", "3"]);
    push_post(&env, "a.md");

    // Provisional first: one empty list is not "no run".
    let status = env.wait_status(TIMEOUT, "the provisional note", |s| {
        recent(s).first().is_some_and(|d| {
            d["follow"]["note"]
                .as_str()
                .is_some_and(|n| n.contains("no run started yet"))
        })
    });
    assert!(
        recent(&status)[0]["follow"]["outcome"].is_null(),
        "{status:#}"
    );
    let follow = wait_outcome(&env);
    assert_eq!(follow["outcome"], "no_run", "{follow:#}");
    let out = env.dispatch(&["status"]);
    assert_exit(&out, 1, "the site did not rebuild");
    let text = stdout(&out);
    assert!(text.contains("run: no run started"), "{text}");
    assert!(text.contains("`git dispatch doctor` checks"), "{text}");
}

#[test]
fn another_clients_look_alike_run_is_never_taken_for_ours() {
    // The same writer's other clone dispatched at the same moment, with an id that extends
    // ours (`gd-…0`, `gd-…-2`): its failed run starts just before ours, so only the id
    // tells them apart. Beside it, another client's dispatch and a push run.
    for suffix in ["0", "-2"] {
        let (fake, env) = following();
        fake.add_foreign_run(
            "owner/site",
            "repository_dispatch",
            "update gd-someone-else",
            "bot",
        );
        fake.add_foreign_run("owner/site", "push", "Fix typo", "writer");
        fake.set_build(
            "owner/site",
            Build {
                look_alike: Some(suffix),
                ..Build::default()
            },
        );
        push_post(&env, "a.md");
        let follow = wait_outcome(&env);
        let runs = fake.runs();
        let (ours, title) = runs.last().unwrap().clone();
        let (_, alike) = &runs[runs.len() - 2];
        assert_eq!(alike, &format!("{title}{suffix}"), "{runs:?}");
        assert_eq!(follow["outcome"], "success", "{follow:#}");
        assert_eq!(follow["runs"].as_array().unwrap().len(), 1, "{follow:#}");
        assert_eq!(follow["runs"][0]["id"], ours, "{follow:#}");
    }
}

#[test]
fn without_actions_read_the_delivery_stands_and_following_stops_with_the_fix() {
    let (fake, env) = following();
    fake.set_actions_readable(false);
    push_post(&env, "a.md");
    let follow = wait_outcome(&env);
    assert_eq!(follow["outcome"], "cannot_follow", "{follow:#}");
    let note = follow["note"].as_str().unwrap();
    assert!(
        note.contains("actions=read")
            && note.contains("Actions: read")
            && note.contains("dispatch.follow false"),
        "{note}"
    );
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(
        actions_requests(&fake).len(),
        1,
        "no retry loop\n{}",
        fake.describe()
    );
    assert_eq!(fake.dispatches().len(), 1);
    let out = env.dispatch(&["status"]);
    assert_exit(&out, 0, "not knowing is not a failed build");
    assert!(
        stdout(&out).contains("run: cannot follow"),
        "{}",
        show(&out)
    );
}

#[test]
fn a_follower_killed_mid_run_is_resumed_by_status() {
    let (fake, env) = following();
    fake.set_build(
        "owner/site",
        Build {
            ends_ms: 2500,
            ..Build::default()
        },
    );
    push_post(&env, "a.md");
    // The follower writes its pid into its lock file.
    let pid = follower_pid(&env, || {
        actions_requests(&fake)
            .iter()
            .any(|r| r.path.contains("/runs/"))
    });
    // SAFETY: signals a process this test started (through git push).
    unsafe { libc::kill(pid, libc::SIGKILL) };
    std::thread::sleep(Duration::from_millis(200));
    let requests = fake.requests().len();
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(fake.requests().len(), requests, "the follower is dead");

    env.dispatch(&["status"]);
    let follow = wait_outcome(&env);
    assert_eq!(follow["outcome"], "success", "{follow:#}");
}

#[test]
fn a_workflow_dispatch_is_followed_by_the_run_github_returned() {
    let (fake, env) = following_with(
        "name: Build\non:\n  workflow_dispatch:\njobs: {}\n",
        Some(&[]),
        &["--workflow", "build.yml"],
    );
    push_post(&env, "a.md");
    let follow = wait_outcome(&env);
    assert_eq!(follow["outcome"], "success", "{follow:#}");
    assert_eq!(follow["matched"], "run_details");
    assert!(
        !actions_requests(&fake)
            .iter()
            .any(|r| r.path.ends_with("/actions/runs")),
        "no list needed\n{}",
        fake.describe()
    );
}

#[test]
fn follow_false_sends_no_id_and_no_request_after_the_dispatch() {
    let (fake, env) = following();
    env.git_ok(&env.clone, &["config", "dispatch.follow", "false"]);
    push_post(&env, "a.md");
    env.wait_dispatched(&fake, 1);
    env.wait_settled(TIMEOUT);
    std::thread::sleep(Duration::from_millis(300));
    assert!(fake.dispatches()[0].body["client_payload"]
        .get("dispatch_id")
        .is_none());
    assert_eq!(fake.requests().len(), 1, "{}", fake.describe());
}

/// The seed's workflow: no `run-name` line, so the run's title carries no dispatch_id.
pub(crate) const PLAIN_WORKFLOW: &str = "\
name: Build site
on:
  repository_dispatch:
    types: [update]
jobs: {}
";

#[test]
fn without_the_run_name_line_the_one_new_run_is_matched_by_time_and_said_so() {
    let (_fake, env) = following_with(PLAIN_WORKFLOW, None, &[]);
    push_post(&env, "a.md");
    let follow = wait_outcome(&env);
    assert_eq!(follow["outcome"], "success", "{follow:#}");
    assert_eq!(follow["matched"], "time", "{follow:#}");
    assert!(
        follow["note"]
            .as_str()
            .is_some_and(|n| n.contains("matched by time only") && n.contains("run-name")),
        "{follow:#}"
    );
}

#[test]
fn without_the_run_name_line_two_new_runs_are_run_not_identified_never_a_guess() {
    let (fake, env) = following_with(PLAIN_WORKFLOW, None, &[]);
    // Another dispatch by the same user at the same moment, from elsewhere.
    fake.add_foreign_run("owner/site", "repository_dispatch", "Build site", "writer");
    push_post(&env, "a.md");
    let follow = wait_outcome(&env);
    assert_eq!(follow["outcome"], "not_identified", "{follow:#}");
    let note = follow["note"].as_str().unwrap();
    assert!(
        note.contains("2 runs started then")
            && note.contains("(https://github.com/owner/site/actions)")
            && note.contains("run-name"),
        "{note}"
    );
    assert!(follow["runs"].as_array().unwrap().is_empty());
    let out = env.dispatch(&["status"]);
    assert!(
        stdout(&out).contains("run: run not identified"),
        "{}",
        show(&out)
    );
}

#[test]
fn watch_follows_the_latest_push_to_its_end_and_exits_as_the_build_did() {
    let (fake, env) = following();
    push_post(&env, "a.md");
    let out = env.dispatch(&["watch"]);
    assert_exit(&out, 0, "watch of a successful build");
    let text = stdout(&out);
    let last = text.lines().last().unwrap_or_default();
    assert!(
        last.starts_with("site -> owner/site ")
            && last.contains(": succeeded in ")
            && last.contains("https://github.com/owner/site/actions/runs/"),
        "{text}"
    );
    assert!(
        !text.contains('\r'),
        "plain lines when not on a terminal: {text:?}"
    );

    fake.set_build(
        "owner/site",
        Build {
            conclusion: "failure",
            failed: Some(("build", None)),
            ..Build::default()
        },
    );
    push_post(&env, "b.md");
    let out = env.dispatch(&["watch", "site"]);
    assert_exit(&out, 1, "watch of a failed build");
    assert!(
        stdout(&out).contains(": failed: build  https://"),
        "{}",
        show(&out)
    );

    let out = env.dispatch(&["watch", "nope"]);
    assert_exit(&out, 2, "watch of an unknown target");
}

#[test]
fn watch_after_a_push_that_fired_nothing_says_so_and_exits_0() {
    let (fake, env) = following();
    // A push of another branch: main's head has no dispatch of its own.
    env.git_ok(&env.clone, &["checkout", "-q", "-b", "feature"]);
    env.commit(&env.clone, "a.md", "a\n", "a");
    env.push_ok(&["origin", "feature"]);
    let out = env.dispatch(&["watch"]);
    assert_exit(&out, 0, "watch with nothing fired");
    assert!(
        stderr(&out).contains("the latest push fired nothing to watch"),
        "{}",
        show(&out)
    );
    assert!(fake.requests().is_empty());
}

#[test]
fn doctor_checks_the_run_name_line_and_the_tokens_actions_access() {
    let (fake, env) = following();
    let out = env.dispatch(&["doctor"]);
    let report = stdout(&out);
    assert!(
        report.contains(
            "ok   site: .github/workflows/build.yml puts the dispatch's id in its run's title"
        ),
        "{report}"
    );
    assert!(
        report.contains("ok   site: the token may read owner/site's Actions runs"),
        "{report}"
    );

    drop(fake);
    // The seed's workflow, and a token without Actions: read.
    let fresh = FakeGitHub::start();
    fresh.add_workflow("owner/site", "build.yml", PLAIN_WORKFLOW, None);
    fresh.set_actions_readable(false);
    let mut env = env;
    env.set_api_url(Some(&fresh.url()));
    let out = env.dispatch(&["doctor"]);
    assert_exit(&out, 1, "doctor without Actions: read");
    let report = stdout(&out);
    assert!(
        report.contains("note site: .github/workflows/build.yml has no run-name line")
            && report
                .contains("add to it: run-name: ${{ github.event_name == 'repository_dispatch'"),
        "{report}"
    );
    assert!(
        report.contains("FAIL site: the token may not read owner/site's Actions runs")
            && report.contains("it needs actions=read")
            && report.contains("dispatch.follow false"),
        "{report}"
    );
}

#[test]
fn uninstall_stops_the_follower() {
    let (fake, env) = following();
    fake.set_build(
        "owner/site",
        Build {
            ends_ms: 20_000,
            ..Build::default()
        },
    );
    push_post(&env, "a.md");
    let pid = follower_pid(&env, || true);
    let out = env.dispatch_ok(&["uninstall"]);
    assert!(
        stderr(&out).contains(&format!("stopped the follower (pid {pid})")),
        "{}",
        show(&out)
    );
    let start = Instant::now();
    // SAFETY: signal 0 only asks whether the process exists.
    while unsafe { libc::kill(pid, 0) } == 0 && !is_zombie(pid) {
        assert!(start.elapsed() < TIMEOUT, "the follower still runs");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// An exited process not yet reaped by its parent still answers kill(0).
fn is_zombie(pid: i32) -> bool {
    fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| s.rsplit_once(") ").map(|(_, rest)| rest.starts_with('Z')))
        .unwrap_or(false)
}

#[test]
fn notify_command_runs_once_with_validated_values_and_never_the_token() {
    let (_fake, env) = following();
    let log = env.log_notifications();
    let sha = push_post(&env, "a.md");
    wait_outcome(&env);
    let start = Instant::now();
    while !log.exists() {
        assert!(start.elapsed() < TIMEOUT, "the command never ran");
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_millis(300));
    env.dispatch(&["status"]);
    std::thread::sleep(Duration::from_millis(300));
    let text = fs::read_to_string(&log).unwrap();
    assert_eq!(
        text.matches("GIT_DISPATCH_OUTCOME=").count(),
        1,
        "once\n{text}"
    );
    for want in [
        "GIT_DISPATCH_OUTCOME=success".to_string(),
        "GIT_DISPATCH_REPOSITORY=owner/site".to_string(),
        "GIT_DISPATCH_TARGET=site".to_string(),
        format!("GIT_DISPATCH_SHA={sha}"),
        "GIT_DISPATCH_RUN_URL=https://github.com/owner/site/actions/runs/".to_string(),
    ] {
        assert!(text.contains(&want), "{want} in\n{text}");
    }
    assert!(!text.contains("GIT_DISPATCH_TOKEN"), "{text}");
    assert!(find_secret(text.as_bytes(), TOKEN).is_none(), "{text}");
}

#[test]
fn a_notify_command_that_hangs_is_killed_with_what_it_started() {
    let (_fake, env) = following();
    let pid_file = env.home.join("bg.pid");
    env.git_ok(&env.clone, &["config", "dispatch.timeout", "1"]);
    env.git_ok(
        &env.clone,
        &[
            "config",
            "dispatch.notifyCommand",
            &format!(
                "sleep 30 & echo $! > {}; sleep 30",
                sh_quote(pid_file.to_str().unwrap())
            ),
        ],
    );
    push_post(&env, "a.md");
    wait_outcome(&env);
    let start = Instant::now();
    let pid = loop {
        if let Ok(pid) = fs::read_to_string(&pid_file)
            .unwrap_or_default()
            .trim()
            .parse::<i32>()
        {
            break pid;
        }
        assert!(start.elapsed() < TIMEOUT, "the command never ran");
        std::thread::sleep(Duration::from_millis(20));
    };
    // SAFETY: signal 0 only asks whether the process exists.
    while unsafe { libc::kill(pid, 0) } == 0 && !is_zombie(pid) {
        assert!(
            start.elapsed() < TIMEOUT,
            "the command's background child still runs"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let logged = fs::read_to_string(env.clone.join(".git/dispatch/log.jsonl")).unwrap();
    assert!(
        logged.contains("dispatch.notifyCommand took over 1s"),
        "{logged}"
    );
}

#[test]
fn in_pre_push_mode_the_hooks_own_delivery_is_followed_too() {
    let (_fake, env) = following();
    env.git_ok(&env.clone, &["config", "dispatch.when", "pre-push"]);
    push_post(&env, "a.md");
    let record = wait_record_on_disk(&env, "done", |v| v["phase"] == "done");
    assert_eq!(record["outcome"], "success", "{record:#}");
}

#[test]
fn a_success_says_where_the_site_is_from_its_url_or_github_pages() {
    let (fake, env) = following();
    fake.set_pages("owner/site", "https://owner.github.io/site/");
    push_post(&env, "a.md");
    let follow = wait_outcome(&env);
    assert_eq!(
        follow["site_url"], "https://owner.github.io/site/",
        "{follow:#}"
    );
    let out = env.dispatch(&["status"]);
    assert!(
        stdout(&out).contains(", live at https://owner.github.io/site/\n      https://"),
        "{}",
        show(&out)
    );

    // The target's own url wins, from a trusted .gitdispatch too; a bad one is dropped.
    env.git_ok(
        &env.clone,
        &["config", "dispatch.site.url", "https://blog.example.com/"],
    );
    push_post(&env, "b.md");
    env.wait_status(TIMEOUT, "the second build, with the target's url", |s| {
        recent(s).first().is_some_and(|d| {
            d["follow"]["site_url"] == "https://blog.example.com/"
                && d["follow"]["outcome"] == "success"
        })
    });
    env.git_ok(
        &env.clone,
        &[
            "config",
            "dispatch.site.url",
            "http://u:p@blog.example.com/",
        ],
    );
    let out = env.dispatch(&["list"]);
    assert_exit(&out, 1, "list with a bad url");
    assert!(
        // The message, like every line of ours, shows no user info.
        stderr(&out).contains("target \"site\": url \"http://blog.example.com/\" is not an https URL without user info")
            && stderr(&out).contains("fix dispatch.site.url in"),
        "{}",
        show(&out)
    );
}

#[test]
fn concurrent_status_watch_and_pushes_give_one_follower_at_a_time() {
    let (fake, env) = following();
    fake.set_build(
        "owner/site",
        Build {
            ends_ms: 2500,
            ..Build::default()
        },
    );
    push_post(&env, "a.md");
    std::thread::scope(|scope| {
        for _ in 0..6 {
            scope.spawn(|| {
                for _ in 0..5 {
                    env.dispatch(&["status"]);
                }
            });
        }
        scope.spawn(|| env.dispatch(&["watch"]));
        scope.spawn(|| {
            env.commit(&env.clone, "b.md", "b\n", "b");
            env.push_ok(&["origin", "main"]);
        });
    });
    let out = env.dispatch(&["watch"]);
    assert_exit(&out, 0, "both builds succeeded");
    let status = env.status_json();
    for d in recent(&status).iter().take(2) {
        assert_eq!(d["follow"]["outcome"], "success", "{status:#}");
    }
    // The log is appended in order: a follower's start and end never enclose another's.
    let log = fs::read_to_string(env.clone.join(".git/dispatch/log.jsonl")).unwrap();
    let mut running: Vec<u64> = Vec::new();
    let mut starts = 0;
    for line in log.lines() {
        let v: Value = serde_json::from_str(line).unwrap();
        let pid = v["pid"].as_u64().unwrap();
        match v["event"].as_str() {
            Some("follower-start") => {
                starts += 1;
                running.push(pid);
                assert_eq!(
                    running.len(),
                    1,
                    "two followers at once: {running:?}\n{log}"
                );
            }
            Some("follower-end") => running.retain(|p| *p != pid),
            _ => {}
        }
    }
    // Thirty-one commands would each have started one: they found it running instead, and
    // every follower that started ended (watch saw both outcomes first).
    assert!((1..=4).contains(&starts), "{starts} followers\n{log}");
    let ends = || {
        fs::read_to_string(env.clone.join(".git/dispatch/log.jsonl"))
            .unwrap()
            .matches("\"follower-end\"")
            .count()
    };
    let start = Instant::now();
    while ends() < starts {
        assert!(start.elapsed() < TIMEOUT, "a follower never ended\n{log}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn a_follower_whose_binary_is_upgraded_hands_over_to_the_new_one() {
    let (fake, mut env) = following();
    fake.set_build(
        "owner/site",
        Build {
            ends_ms: 2500,
            ..Build::default()
        },
    );
    // This clone's own copy of the binary, so replacing it touches no other test.
    let dir = env.root.join("bin");
    fs::create_dir_all(&dir).unwrap();
    let copy = dir.join("git-dispatch");
    let status = std::process::Command::new("cp")
        .arg(bin())
        .arg(&copy)
        .status()
        .unwrap();
    assert!(status.success());
    env.set_var("GIT_DISPATCH_BIN", &copy);
    expect_success(&mut env.program_cmd(&copy, &env.clone, &["install"]));
    push_post(&env, "a.md");
    let log_path = env.clone.join(".git/dispatch/log.jsonl");
    let start = Instant::now();
    while !fs::read_to_string(&log_path)
        .unwrap_or_default()
        .contains("follower-start")
    {
        assert!(start.elapsed() < TIMEOUT, "no follower");
        std::thread::sleep(Duration::from_millis(20));
    }
    // An upgrade: a new file renamed over the old one.
    let next = dir.join("git-dispatch.new");
    let status = std::process::Command::new("sh")
        .arg("-c")
        .arg(r#"cp "$1" "$2" && printf '\n' >> "$2" && mv -f "$2" "$3""#)
        .arg("sh")
        .arg(bin())
        .arg(&next)
        .arg(&copy)
        .status()
        .unwrap();
    assert!(status.success());
    wait_record_on_disk(&env, "of a success", |v| v["outcome"] == "success");
    let log = fs::read_to_string(&log_path).unwrap_or_default();
    assert!(log.contains("binary replaced; handing over"), "{log}");
    assert!(log.matches("follower-start").count() >= 2, "{log}");
}

#[test]
fn a_run_delivered_twice_is_decided_by_the_newest_of_its_workflow() {
    let (fake, env) = following();
    fake.set_build(
        "owner/site",
        Build {
            twin: Some("failure"),
            ..Build::default()
        },
    );
    push_post(&env, "a.md");
    let follow = wait_outcome(&env);
    let runs = fake.runs();
    assert_eq!(runs.len(), 2, "GitHub started two runs");
    assert_eq!(runs[0].1, runs[1].1, "with one title");
    assert_eq!(follow["outcome"], "success", "{follow:#}");
    assert_eq!(follow["runs"].as_array().unwrap().len(), 1, "{follow:#}");
    assert_eq!(follow["runs"][0]["id"], runs[1].0, "the newest decides");
}

#[test]
fn a_run_cancelled_for_a_newer_push_of_the_same_target_is_superseded() {
    // The site's `concurrency` group cancels the older run when a newer one starts.
    let (fake, env) = following();
    fake.set_build(
        "owner/site",
        Build {
            ends_ms: 1500,
            conclusion: "cancelled",
            ..Build::default()
        },
    );
    let first = push_post(&env, "a.md");
    env.wait_status(TIMEOUT, "the first delivery", |s| {
        recent(s).iter().any(|d| d["sha"] == first.as_str())
    });
    fake.set_build("owner/site", Build::default());
    push_post(&env, "b.md");
    let status = env.wait_status(TIMEOUT, "both outcomes", |s| {
        recent(s).len() >= 2
            && recent(s)
                .iter()
                .take(2)
                .all(|d| d["follow"]["outcome"].is_string())
    });
    let older = recent(&status)
        .iter()
        .find(|d| d["sha"] == first.as_str())
        .unwrap();
    assert_eq!(older["follow"]["outcome"], "superseded", "{status:#}");
    assert_eq!(recent(&status)[0]["follow"]["outcome"], "success");
    let out = env.dispatch(&["status"]);
    assert_exit(&out, 0, "a superseded run is no failure");
    assert!(
        stdout(&out).contains("superseded by a newer run"),
        "{}",
        show(&out)
    );
}

#[test]
fn a_list_of_runs_over_64_kib_is_read_whole_and_ours_found() {
    // A busy site: a page of 100 runs of several KB each is larger than a dispatch's
    // answer ever is. Cut short, it would not parse, and its ETag would hide ours.
    let (fake, env) = following();
    for i in 0..120 {
        fake.add_foreign_run(
            "owner/site",
            "repository_dispatch",
            &format!("update gd-other-{i}"),
            "bot",
        );
    }
    push_post(&env, "a.md");
    let follow = wait_outcome(&env);
    assert_eq!(follow["outcome"], "success", "{follow:#}");
    assert_eq!(follow["matched"], "dispatch_id");
    let list = fake
        .requests()
        .into_iter()
        .find(|r| r.path.ends_with("/actions/runs") && r.status == 200)
        .expect("the list was read");
    assert!(list.query.contains("per_page=100"), "{list:?}");
}

#[test]
fn watch_ends_with_1_when_the_dispatch_is_kept_to_retry_later() {
    let (fake, env) = following();
    fake.respond_with(502);
    push_post(&env, "a.md");
    env.wait_for_error("confirmed", TIMEOUT);
    let out = env.dispatch(&["watch"]);
    assert_exit(&out, 1, "watch of a dispatch kept to retry");
    assert!(
        stdout(&out).contains("not delivered yet (502")
            && stdout(&out).contains("git dispatch retry"),
        "{}",
        show(&out)
    );
}

#[test]
fn a_workflow_dispatch_without_run_details_is_matched_by_time_and_said_so() {
    // GitHub Enterprise Server before 3.21: no return_run_details, so a 204 names no run.
    let (fake, env) = following_with(
        "name: Build\non:\n  workflow_dispatch:\njobs: {}\n",
        Some(&[]),
        &["--workflow", "build.yml"],
    );
    fake.as_old_server();
    push_post(&env, "a.md");
    let follow = wait_outcome(&env);
    assert_eq!(follow["outcome"], "success", "{follow:#}");
    assert_eq!(follow["matched"], "time", "{follow:#}");
    let list = actions_requests(&fake)
        .into_iter()
        .find(|r| r.path == "/repos/owner/site/actions/workflows/build.yml/runs")
        .expect("the workflow's runs were listed");
    assert!(list.query.contains("event=workflow_dispatch"), "{list:?}");
}

#[test]
fn a_token_rotated_mid_follow_is_read_again_once_on_the_401() {
    let (fake, mut env) = following();
    fake.set_build(
        "owner/site",
        Build {
            ends_ms: 2500,
            ..Build::default()
        },
    );
    env.set_token(None);
    let first = env.dispatch_with_stdin(&["login"], &format!("{TOKEN}\n"));
    assert_exit(&first, 0, "login");
    push_post(&env, "a.md");
    follower_pid(&env, || {
        actions_requests(&fake)
            .iter()
            .any(|r| r.path.contains("/runs/"))
    });
    // The writer rotates the token: GitHub now takes only the new one, which is stored.
    // The new token is stored before the old one stops working: no race with the polls.
    let rotated = "github_pat_ROTATED0123456789abcdefghijklmn";
    fake.add_token(rotated, &["owner/site"]);
    let second = env.dispatch_with_stdin(&["login"], &format!("{rotated}\n"));
    assert_exit(&second, 0, "login with the rotated token");
    fake.set_token(rotated);
    let follow = wait_outcome(&env);
    assert_eq!(follow["outcome"], "success", "{follow:#}");
    assert!(
        fake.requests().iter().any(|r| r.status == 401),
        "the old token was refused once\n{}",
        fake.describe()
    );
}

#[test]
fn a_low_rate_limit_pauses_all_following_until_it_resets_while_dispatches_still_go() {
    let (fake, env) = following();
    // 45 requests left, under the follower's reserve of 50, until the budget resets.
    let reset_ms = fake.set_rate_limit(45, Duration::from_secs(5)) * 1000;
    push_post(&env, "a.md");
    // The follower's first look at the runs shows the budget low: it stops there.
    let start = Instant::now();
    while actions_requests(&fake).is_empty() {
        assert!(start.elapsed() < TIMEOUT, "no follower request");
        std::thread::sleep(Duration::from_millis(20));
    }
    // A dispatch still goes at once: the reserve is left for it.
    push_post(&env, "b.md");
    let dispatches = fake.wait_for_dispatches(2, TIMEOUT);
    assert!(
        dispatches[1].request.at_ms < reset_ms,
        "the second dispatch waited for the budget to reset"
    );
    let status = env.wait_status(TIMEOUT, "both builds followed", |s| {
        recent(s).len() == 2
            && recent(s)
                .iter()
                .all(|d| d["follow"]["outcome"] == "success")
    });
    // Nothing of following was asked while the budget was low, for either record.
    let early: Vec<String> = actions_requests(&fake)
        .iter()
        .filter(|r| r.at_ms < reset_ms)
        .map(|r| format!("{} {}?{}", r.method, r.path, r.query))
        .collect();
    assert_eq!(early.len(), 1, "{early:#?}\n{status:#}");
}

/// Waits until no follower holds the clone's lock (it exits once every run has ended).
pub(crate) fn wait_follower_gone(env: &TestEnv) {
    let lock = env.clone.join(".git/dispatch/locks/follower");
    let start = Instant::now();
    while !fs::read_to_string(&lock)
        .unwrap_or_default()
        .trim()
        .is_empty()
    {
        assert!(start.elapsed() < TIMEOUT, "the follower did not exit");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn a_rerun_after_the_outcome_is_followed_only_when_watch_or_status_refresh_asks() {
    let (fake, env) = following();
    let failing = Build::failing();
    fake.set_build("owner/site", failing.clone());
    push_post(&env, "a.md");
    assert_eq!(wait_outcome(&env)["outcome"], "failure");
    wait_follower_gone(&env);
    let out = env.dispatch(&["status"]);
    assert!(
        stdout(&out).contains(
            "re-ran it on GitHub? `git dispatch watch` or `git dispatch status --refresh` follows the re-run"
        ),
        "{}",
        show(&out)
    );

    // Re-run on GitHub, and it passes: nothing follows it unasked.
    let (first_run, _) = fake.runs()[0].clone();
    fake.rerun(first_run, Build::default());
    let asked_before = actions_requests(&fake).len();
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(
        actions_requests(&fake).len(),
        asked_before,
        "followed unasked"
    );
    assert_eq!(wait_outcome(&env)["outcome"], "failure");

    // `watch` asks: it follows attempt 2 to its end and exits as that did.
    let out = env.dispatch(&["watch"]);
    assert_exit(&out, 0, "watch of a re-run that passed");
    assert!(stdout(&out).contains(": succeeded in "), "{}", show(&out));
    let follow = wait_outcome(&env);
    assert_eq!(follow["outcome"], "success", "{follow:#}");
    assert_eq!(follow["runs"][0]["run_attempt"], 2, "{follow:#}");
    // The failure it replaced is no longer the next push's to say.
    let sha = env.commit(&env.clone, "b.md", "b\n", "b");
    fake.set_build("owner/site", Build::default());
    let out = env.push_ok(&["origin", "main"]);
    assert!(!stderr(&out).contains("site build"), "{}", show(&out));
    env.wait_status(TIMEOUT, "the second build followed", |s| {
        recent(s)
            .first()
            .is_some_and(|d| d["sha"] == sha.as_str() && d["follow"]["outcome"] == "success")
    });
    wait_follower_gone(&env);

    // `status --refresh` with nothing re-run: one GET per run, answered 304, nothing
    // reopened.
    let before = fake.requests().len();
    let out = env.dispatch(&["status", "--refresh"]);
    assert_exit(&out, 0, "status --refresh of builds that passed");
    let asked: Vec<Request> = fake.requests().split_off(before);
    assert_eq!(asked.len(), 2, "{asked:#?}");
    for r in &asked {
        assert!(
            r.method == "GET" && r.path.starts_with("/repos/owner/site/actions/runs/"),
            "{r:#?}"
        );
    }
    assert!(asked.iter().any(|r| r.status == 304), "{asked:#?}");

    // Re-run the second, and it fails: `status --refresh` shows it followed again, and
    // the next push says the new failure.
    let (second_run, _) = fake.runs()[1].clone();
    // Long enough to be seen running by the status that asked.
    fake.rerun(
        second_run,
        Build {
            ends_ms: 3000,
            ..failing
        },
    );
    let out = env.dispatch(&["status", "--refresh"]);
    let text = stdout(&out);
    assert!(
        text.contains("run: queued  ") || text.contains("run: building for "),
        "{text}"
    );
    let follow = wait_outcome(&env);
    assert_eq!(follow["outcome"], "failure", "{follow:#}");
    assert_eq!(follow["runs"][0]["run_attempt"], 2);
    assert_eq!(follow["runs"][0]["failed_step"], "Run astro build");
    env.commit(&env.clone, "c.md", "c\n", "c");
    let out = env.push_ok(&["origin", "main"]);
    assert!(
        stderr(&out).contains("the site build for owner/site failed: build / Run astro build"),
        "{}",
        show(&out)
    );
}

#[test]
fn doctor_says_when_the_workflow_or_githubs_actions_are_turned_off() {
    let (fake, env) = following();
    let out = env.dispatch(&["doctor"]);
    assert_exit(&out, 0, "doctor with everything on");
    let report = stdout(&out);
    assert!(
        report.contains("ok   site: .github/workflows/build.yml is enabled on GitHub"),
        "{report}"
    );
    // Whether Actions are on takes Administration: read, which the token lacks: unsaid.
    assert!(!report.contains("GitHub Actions are"), "{report}");

    fake.set_workflow_state("owner/site", "build.yml", "disabled_manually");
    let out = env.dispatch(&["doctor"]);
    assert_exit(&out, 1, "doctor with the workflow disabled");
    let report = stdout(&out);
    assert!(
        report.contains(
            "FAIL site: .github/workflows/build.yml is disabled_manually on GitHub, so a dispatch \
             starts no run; enable it in owner/site's Actions tab, or `gh workflow enable \
             build.yml -R owner/site`"
        ),
        "{report}"
    );

    fake.set_workflow_state("owner/site", "build.yml", "active");
    fake.set_actions_enabled("owner/site", true, true);
    let report = stdout(&env.dispatch(&["doctor"]));
    assert!(
        report.contains("ok   site: GitHub Actions are enabled for owner/site"),
        "{report}"
    );
    fake.set_actions_enabled("owner/site", false, true);
    let out = env.dispatch(&["doctor"]);
    assert_exit(&out, 1, "doctor with Actions off for the site");
    assert!(
        stdout(&out).contains(
            "FAIL site: GitHub Actions are disabled for owner/site, so a dispatch starts no run; \
             allow them in its Settings > Actions > General"
        ),
        "{}",
        show(&out)
    );
}

#[test]
fn turning_follow_off_stops_the_follower_and_leaves_its_records_unwaited_for() {
    let (fake, env) = following();
    // A long build: still running when following is turned off.
    fake.set_build(
        "owner/site",
        Build {
            ends_ms: 600_000,
            ..Build::default()
        },
    );
    push_post(&env, "a.md");
    wait_record_on_disk(&env, "following its run", |v| v["phase"] == "following");
    env.git_ok(&env.clone, &["config", "dispatch.follow", "false"]);
    // The follower reads the setting again within six polls and stops.
    wait_follower_gone(&env);
    let asked = fake.requests().len();

    // `watch` does not wait for a record nothing follows: it watches the delivery alone.
    let mut watch = env.dispatch_cmd(&["watch"]);
    watch
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let mut child = watch.spawn().expect("start watch");
    let start = Instant::now();
    while child.try_wait().expect("wait for watch").is_none() {
        if start.elapsed() > Duration::from_secs(20) {
            let _ = child.kill();
            panic!("watch waited for a record nothing follows");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let out = child.wait_with_output().expect("watch's output");
    assert_exit(&out, 0, "watch with dispatch.follow = false");
    assert!(
        stdout(&out).contains(": delivered")
            && stderr(&out).contains("dispatch.follow is false: only the delivery is watched"),
        "{}",
        show(&out)
    );
    let out = env.dispatch(&["status"]);
    assert!(
        stdout(&out).contains("run: not followed (dispatch.follow is false)"),
        "{}",
        show(&out)
    );
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(fake.requests().len(), asked, "{}", fake.describe());
    assert_eq!(records_on_disk(&env)[0]["phase"], "following");
}

#[test]
fn ended_records_beyond_twenty_are_trimmed_while_another_build_is_still_followed() {
    let (fake, env) = following();
    push_post(&env, "a.md");
    let template = wait_record_on_disk(&env, "ended", |v| v["phase"] == "done");
    let runs = env.clone.join(".git/dispatch/runs");
    // Twenty-one older builds that ended and were said.
    for i in 0..21u64 {
        let mut old = template.clone();
        let id = format!("old{i:02}");
        old["id"] = Value::from(id.as_str());
        old["dispatched_at"] = Value::from(template["dispatched_at"].as_u64().unwrap() - 1000 + i);
        old["announced"] = serde_json::json!({"hook": true, "notify": true});
        fs::write(runs.join(format!("{id}.json")), old.to_string()).unwrap();
    }
    // One build still running, and one that ends meanwhile.
    fake.set_build(
        "owner/site",
        Build {
            ends_ms: 600_000,
            ..Build::default()
        },
    );
    push_post(&env, "b.md");
    wait_record_on_disk(&env, "following its run", |v| v["phase"] == "following");
    fake.set_build("owner/site", Build::default());
    let sha = push_post(&env, "c.md");
    wait_record_on_disk(&env, "of the third push ended", |v| {
        v["sha"] == sha.as_str() && v["phase"] == "done"
    });
    let start = Instant::now();
    let left = loop {
        let left = records_on_disk(&env);
        if left.len() <= 21 || start.elapsed() > TIMEOUT {
            break left;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let mut ids: Vec<&str> = left.iter().filter_map(|v| v["id"].as_str()).collect();
    ids.sort();
    // The 20 newest ended ones stay (the oldest three copies go), and the one still
    // followed.
    assert_eq!(left.len(), 21, "{ids:?}");
    assert!(
        !ids.contains(&"old00") && !ids.contains(&"old01") && !ids.contains(&"old02"),
        "{ids:?}"
    );
    assert!(
        left.iter().any(|v| v["phase"] == "following"),
        "the build still running was trimmed: {ids:?}"
    );
}

#[test]
fn watch_on_a_terminal_shows_the_job_and_step_a_build_is_at_and_only_then_reads_jobs() {
    let (fake, env) = following();
    fake.set_build(
        "owner/site",
        Build {
            ends_ms: 4000,
            ..Build::default()
        },
    );
    push_post(&env, "a.md");
    let (status, screen) = run_on_terminal(&mut env.dispatch_cmd(&["watch"]), TIMEOUT);
    assert_eq!(status.code(), Some(0), "{screen:?}");
    assert!(
        screen.contains(": building for ")
            && screen.contains(": build / Run astro build\r\n  https://"),
        "{screen:?}"
    );
    // One block rewritten in place (up over the rows drawn, cleared to the end of the
    // screen), ending with the outcome.
    assert!(screen.contains("\x1b[2A\r\x1b[J"), "{screen:?}");
    let last = screen
        .trim_end()
        .rsplit("\x1b[J")
        .next()
        .unwrap_or_default();
    assert!(last.contains(": succeeded in "), "{screen:?}");
    // The jobs were read conditionally: a 304 while no step moved.
    let jobs: Vec<Request> = fake
        .requests()
        .into_iter()
        .filter(|r| r.path.ends_with("/jobs"))
        .collect();
    assert!(jobs.iter().any(|r| r.status == 304), "{jobs:#?}");
    assert!(!env.clone.join(".git/dispatch/watching").exists());

    // Not on a terminal, a running build's jobs are not read (and a success needs none).
    push_post(&env, "b.md");
    let out = env.dispatch(&["watch"]);
    assert_exit(&out, 0, "watch off a terminal");
    assert!(
        !stdout(&out).contains(" / Run astro build"),
        "{}",
        show(&out)
    );
    let after = fake
        .requests()
        .into_iter()
        .filter(|r| r.path.ends_with("/jobs"))
        .count();
    assert_eq!(after, jobs.len(), "{}", fake.describe());
}

/// A clone following a build that runs for ten minutes; the follower's pid once it polls
/// the run.
fn following_a_long_build() -> (FakeGitHub, TestEnv, i32) {
    let (fake, env) = following();
    fake.set_build(
        "owner/site",
        Build {
            ends_ms: 600_000,
            ..Build::default()
        },
    );
    push_post(&env, "a.md");
    wait_record_on_disk(&env, "following its run", |v| v["phase"] == "following");
    let pid = follower_pid(&env, || true);
    (fake, env, pid)
}

#[test]
fn a_follower_frozen_past_the_bound_asks_once_more_then_says_still_running() {
    let (fake, mut env) = following();
    // Polls 250 ms apart: frozen 10 ms after one, it is between two even on a loaded
    // machine (the run is settled 1.5 s in, within the 3 s bound).
    env.set_var("GIT_DISPATCH_POLL_MS", "250");
    env.git_ok(&env.clone, &["config", "dispatch.followFor", "3"]);
    fake.set_build(
        "owner/site",
        Build {
            ends_ms: 600_000,
            ..Build::default()
        },
    );
    push_post(&env, "a.md");
    wait_record_on_disk(&env, "following its run", |v| v["phase"] == "following");
    let pid = follower_pid(&env, || true);
    // Frozen between two polls, not with a request on its way: just after one was answered
    // (a poll is one GET of the run, every 250 ms here).
    let asked = fake.requests().len();
    let start = Instant::now();
    while fake.requests().len() == asked {
        assert!(start.elapsed() < TIMEOUT, "the follower does not poll");
        std::thread::sleep(Duration::from_millis(1));
    }
    std::thread::sleep(Duration::from_millis(10));
    // A laptop's sleep freezes the process: SIGSTOP does the same, past the 3 s bound.
    // SAFETY: signals a process this test started (through git push).
    unsafe { libc::kill(pid, libc::SIGSTOP) };
    std::thread::sleep(Duration::from_millis(300));
    let before = fake.requests().len();
    std::thread::sleep(Duration::from_millis(3500));
    assert_eq!(fake.requests().len(), before, "a stopped follower asked");
    // SAFETY: as above.
    unsafe { libc::kill(pid, libc::SIGCONT) };
    let ended = wait_record_on_disk(&env, "ended", |v| v["phase"] == "done");
    assert_eq!(ended["outcome"], "still_running", "{ended:#}");
    std::thread::sleep(Duration::from_millis(300));
    let after: Vec<Request> = fake.requests().split_off(before);
    // One last request on waking, then nothing: the bound is wall-clock time, not the time
    // the process ran.
    assert_eq!(after.len(), 1, "{after:#?}");
    assert!(
        after
            .iter()
            .all(|r| r.path.starts_with("/repos/owner/site/actions/runs/")),
        "{after:#?}"
    );
}

#[test]
fn a_follower_stops_when_the_clones_state_directory_is_gone() {
    let (fake, env, pid) = following_a_long_build();
    // The follower may write a file while the tree is removed (ENOTEMPTY): again until gone.
    let state = env.clone.join(".git/dispatch");
    let start = Instant::now();
    while let Err(err) = fs::remove_dir_all(&state) {
        assert!(
            start.elapsed() < TIMEOUT,
            "cannot remove {}: {err}",
            state.display()
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    // SAFETY: a null signal to a process this test started, to see whether it lives.
    while unsafe { libc::kill(pid, 0) } == 0 && !is_zombie(pid) {
        assert!(start.elapsed() < TIMEOUT, "the follower kept running");
        std::thread::sleep(Duration::from_millis(20));
    }
    let requests = fake.requests().len();
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(fake.requests().len(), requests, "{}", fake.describe());
    assert!(!env.clone.join(".git/dispatch").exists(), "recreated");
}

#[test]
fn a_follower_whose_state_directory_is_made_anew_within_a_poll_leaves_it_to_the_new_one() {
    let (_fake, env, old) = following_a_long_build();
    // The state directory restored from a copy at once (polls are 50 ms apart): the same
    // records, but its lock is another file, which a new follower takes.
    let state = env.clone.join(".git/dispatch");
    let copy = env.clone.join(".git/dispatch.copy");
    let copied = std::process::Command::new("cp")
        .arg("-R")
        .arg(&state)
        .arg(&copy)
        .output()
        .unwrap();
    assert!(copied.status.success(), "{}", show(&copied));
    let start = Instant::now();
    while let Err(err) = fs::remove_dir_all(&state) {
        assert!(start.elapsed() < TIMEOUT, "cannot remove it: {err}");
        std::thread::sleep(Duration::from_millis(1));
    }
    fs::rename(&copy, &state).unwrap();
    fs::write(state.join("locks/follower"), "").unwrap();
    env.dispatch(&["status"]);
    let new = follower_pid(&env, || true);
    // SAFETY: a null signal to a process this test started, to see whether it lives.
    while unsafe { libc::kill(old, 0) } == 0 && !is_zombie(old) {
        assert!(
            start.elapsed() < TIMEOUT,
            "two followers: the old one kept running"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_ne!(new, old);
    // SAFETY: as above.
    assert_eq!(unsafe { libc::kill(new, 0) }, 0, "the new follower runs");
}

#[test]
fn a_secondary_rate_limit_while_following_is_waited_out_not_cannot_follow() {
    let (fake, env, _pid) = following_a_long_build();
    fake.respond_with_reply(
        403,
        1,
        "You have exceeded a secondary rate limit. Please wait a few minutes before you try again.",
        &[],
    );
    let start = Instant::now();
    while !fake.requests().iter().any(|r| r.status == 403) {
        assert!(start.elapsed() < TIMEOUT, "no 403 answered");
        std::thread::sleep(Duration::from_millis(20));
    }
    let after_403 = fake.requests().len();
    // Ten polls: none is sent, since GitHub asks for at least a minute.
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(fake.requests().len(), after_403, "{}", fake.describe());
    let record = &records_on_disk(&env)[0];
    assert_eq!(record["phase"], "following", "{record:#}");
    assert!(record["outcome"].is_null(), "{record:#}");
}

#[test]
fn a_build_shorter_than_the_settle_window_is_decided_when_it_ends_not_after_the_window() {
    let (fake, mut env) = following();
    // Polls 400 ms apart: the window a list is given to settle is six polls (2.4 s); this
    // build is listed, done, at 0.3 s.
    env.set_var("GIT_DISPATCH_POLL_MS", "400");
    fake.set_build(
        "owner/site",
        Build {
            appears_ms: 100,
            starts_ms: 150,
            ends_ms: 300,
            ..Build::default()
        },
    );
    push_post(&env, "a.md");
    let done = wait_record_on_disk(&env, "ended", |v| v["phase"] == "done");
    assert_eq!(done["outcome"], "success", "{done:#}");
    // Decided two polls on, on a list that showed it done, not after the sixth.
    let lists = actions_requests(&fake)
        .iter()
        .filter(|r| r.path == "/repos/owner/site/actions/runs")
        .count();
    assert!(lists <= 4, "{lists} lists read:\n{}", fake.describe());
}
