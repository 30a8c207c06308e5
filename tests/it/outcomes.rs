//! What the follower says of a build is right in the setups writers have: each test is a
//! defect that was seen, and fails without its fix.

use crate::follow::{following_with, push_post, wait_outcome, PLAIN_WORKFLOW};
use crate::support::*;
use serde_json::{json, Value};
use std::fs;
use std::time::{Duration, Instant};

/// A workflow whose `run-name` puts the dispatch's id in parentheses.
const PARENS_WORKFLOW: &str = "\
name: Build site
run-name: \"update (${{ github.event.client_payload.dispatch_id }})\"
on:
  repository_dispatch:
    types: [update]
jobs: {}
";

#[test]
fn an_id_in_parentheses_is_matched_by_id_and_doctor_says_so() {
    let (fake, env) = following_with(PARENS_WORKFLOW, None, &[]);
    push_post(&env, "a.md");
    let follow = wait_outcome(&env);
    assert_eq!(follow["outcome"], "success", "{follow:#}");
    assert_eq!(follow["matched"], "dispatch_id", "{follow:#}");
    assert!(follow["note"].is_null(), "{follow:#}");
    let titles: Vec<String> = fake.runs().into_iter().map(|(_, t)| t).collect();
    assert!(titles[0].starts_with("update (gd-"), "{titles:?}");

    let report = stdout(&env.dispatch(&["doctor"]));
    assert!(
        report.contains(
            "ok   site: .github/workflows/build.yml puts the dispatch's id in its run's title"
        ),
        "{report}"
    );

    // A title that glues the id to a word cannot be told apart: doctor says so, and the
    // follower does not take it for an id.
    let glued = PARENS_WORKFLOW.replace(
        "\"update (${{ github.event.client_payload.dispatch_id }})\"",
        "update-${{ github.event.client_payload.dispatch_id }}",
    );
    let (_fake, env) = following_with(&glued, None, &[]);
    let report = stdout(&env.dispatch(&["doctor"]));
    assert!(
        report.contains("has no run-name line that puts the dispatch's id in its run's title"),
        "{report}"
    );
    push_post(&env, "a.md");
    let follow = wait_outcome(&env);
    assert_eq!(follow["matched"], "time", "{follow:#}");
}

#[test]
fn a_build_that_ends_before_the_list_settles_is_matched_by_time_on_the_unchanged_list() {
    let (fake, env) = following_with(PLAIN_WORKFLOW, None, &[]);
    // Shown, run and ended within the first polls: every settled read is a 304.
    fake.set_build(
        "owner/site",
        Build {
            appears_ms: 0,
            starts_ms: 10,
            ends_ms: 40,
            ..Build::default()
        },
    );
    let mut env = env;
    env.set_var("GIT_DISPATCH_POLL_MS", "150");
    push_post(&env, "a.md");
    let follow = wait_outcome(&env);
    assert_eq!(follow["outcome"], "success", "{follow:#}");
    assert_eq!(follow["matched"], "time", "{follow:#}");
    let lists: Vec<Request> = fake
        .requests()
        .into_iter()
        .filter(|r| r.path.ends_with("/actions/runs"))
        .collect();
    assert!(lists.iter().any(|r| r.status == 304), "{}", fake.describe());
}

#[test]
fn without_a_definitive_user_no_run_is_matched_by_time() {
    let (fake, env) = following_with(PLAIN_WORKFLOW, None, &[]);
    // Our dispatch starts nothing; someone else's run starts then. GitHub cannot say whose
    // the token is (a 500): that run must not be taken for ours.
    fake.set_build(
        "owner/site",
        Build {
            never: true,
            ..Build::default()
        },
    );
    fake.set_user_status(500);
    env.git_ok(&env.clone, &["config", "dispatch.followFor", "3"]);
    push_post(&env, "a.md");
    fake.add_foreign_run("owner/site", "repository_dispatch", "Build site", "someone");
    let follow = wait_outcome(&env);
    assert_eq!(follow["outcome"], "no_run", "{follow:#}");
    assert!(follow["runs"].as_array().unwrap().is_empty(), "{follow:#}");
    // Asked again, not once for the follower's life.
    let users = fake.requests().iter().filter(|r| r.path == "/user").count();
    assert!(users >= 2, "{}", fake.describe());
}

#[test]
fn a_run_github_returned_but_briefly_cannot_find_is_followed_not_cannot_follow() {
    let (fake, env) = following_with(
        "name: Build\non:\n  workflow_dispatch:\njobs: {}\n",
        Some(&[]),
        &["--workflow", "build.yml"],
    );
    fake.set_build(
        "owner/site",
        Build {
            lost_ms: 400,
            ..Build::default()
        },
    );
    push_post(&env, "a.md");
    let follow = wait_outcome(&env);
    assert_eq!(follow["outcome"], "success", "{follow:#}");
    assert_eq!(follow["matched"], "run_details");
    assert!(
        fake.requests()
            .iter()
            .any(|r| r.path.contains("/actions/runs/") && r.status == 404),
        "the run was lost for a while\n{}",
        fake.describe()
    );
}

#[test]
fn a_completed_run_without_a_conclusion_is_no_success() {
    let (fake, env) = crate::follow::following();
    fake.set_build(
        "owner/site",
        Build {
            conclusion: "",
            ..Build::default()
        },
    );
    push_post(&env, "a.md");
    let follow = wait_outcome(&env);
    assert_eq!(follow["outcome"], "no_conclusion", "{follow:#}");
    let out = env.dispatch(&["watch"]);
    assert_exit(&out, 1, "watch on a build without a conclusion");
}

#[test]
fn the_next_push_says_a_build_that_started_no_run_with_its_fix_once() {
    let (fake, env) = crate::follow::following();
    fake.set_build(
        "owner/site",
        Build {
            never: true,
            ..Build::default()
        },
    );
    env.git_ok(&env.clone, &["config", "dispatch.followFor", "2"]);
    push_post(&env, "a.md");
    let follow = wait_outcome(&env);
    assert_eq!(follow["outcome"], "no_run", "{follow:#}");
    fake.set_build("owner/site", Build::default());
    env.commit(&env.clone, "b.md", "b\n", "b");
    let out = env.push_ok(&["origin", "main"]);
    let said = stderr(&out);
    assert!(
        said.contains("git-dispatch: the site build for owner/site: no run started: is the event in the workflow's `types`")
            && said.contains("`git dispatch doctor` checks"),
        "{said}"
    );
    // Once.
    env.commit(&env.clone, "c.md", "c\n", "c");
    let out = env.push_ok(&["origin", "main"]);
    assert!(!stderr(&out).contains("no run started"), "{}", show(&out));
}

/// Runs `args` of git-dispatch in the clone inside tmux on an 80x24 terminal, as a writer
/// would; the screen once it has exited, and its exit code.
pub(crate) fn on_a_real_terminal(env: &TestEnv, args: &str) -> Option<(String, i32)> {
    if std::process::Command::new("tmux")
        .arg("-V")
        .output()
        .is_err()
    {
        skip("tmux is not installed (`apt-get install tmux`)", false);
        return None;
    }
    let socket = env.home.join("tmux.sock");
    let tmux = |extra: &[&str]| {
        let mut cmd = std::process::Command::new("tmux");
        cmd.arg("-u")
            .arg("-S")
            .arg(&socket)
            .arg("-f")
            .arg("/dev/null");
        cmd.args(extra);
        env.apply_env(&mut cmd);
        cmd.env("LC_ALL", "C.UTF-8").env("TERM", "xterm-256color");
        cmd.output().expect("tmux runs")
    };
    let line = format!(
        "{} {args}; echo EXIT=$?; sleep 60",
        sh_quote(&built_bin().to_string_lossy())
    );
    let started = tmux(&[
        "new-session",
        "-d",
        "-x",
        "80",
        "-y",
        "24",
        "-c",
        &env.clone.to_string_lossy(),
        &line,
    ]);
    assert!(started.status.success(), "{}", show(&started));
    let start = std::time::Instant::now();
    let screen = loop {
        let shown = tmux(&["capture-pane", "-p", "-t", "0"]);
        let text = String::from_utf8_lossy(&shown.stdout).to_string();
        if text.contains("EXIT=") {
            break text;
        }
        assert!(start.elapsed() < TIMEOUT * 2, "watch did not end:\n{text}");
        std::thread::sleep(std::time::Duration::from_millis(100));
    };
    tmux(&["kill-server"]);
    let code = screen
        .split("EXIT=")
        .nth(1)
        .and_then(|s| s.split_whitespace().next())
        .and_then(|c| c.parse().ok())
        .unwrap_or(-1);
    Some((screen, code))
}

#[test]
fn watch_on_an_80_column_terminal_leaves_no_old_text_behind() {
    const LONG: &str = "owner/a-site-repository-with-a-name-long-enough-to-wrap";
    let fake = FakeGitHub::start();
    fake.add_repo(LONG);
    fake.add_workflow(LONG, "build.yml", crate::follow::SITE_WORKFLOW, None);
    fake.set_build(
        LONG,
        Build {
            ends_ms: 3000,
            ..Build::default()
        },
    );
    let mut env = TestEnv::with_fake(&fake);
    env.set_var("GIT_DISPATCH_POLL_MS", "50");
    env.install();
    env.dispatch_ok(&["add", LONG, "--name", "blog-site-with-a-long-name"]);
    env.git_ok(&env.clone, &["config", "dispatch.follow", "true"]);
    let sha = push_post(&env, "a.md");
    let Some((screen, code)) = on_a_real_terminal(&env, "watch") else {
        return;
    };
    assert_eq!(code, 0, "{screen}");
    let rows: Vec<&str> = screen.lines().filter(|l| !l.trim().is_empty()).collect();
    // The block as last drawn, then the shell's line: nothing of an earlier drawing. The
    // run's URL is wider than the screen: whole, on rows of its own, wrapped by the terminal.
    assert_eq!(rows.len(), 4, "{screen}");
    // Cut within `target -> repo sha`: the name's start, the sha and the state stay whole.
    assert!(
        rows[0].starts_with("blog-site-with-a-long-name -> o")
            && rows[0].contains('…')
            && rows[0].contains(&format!("-to-wrap {}: succeeded in ", &sha[..7])),
        "{screen}"
    );
    let url = format!("{}{}", rows[1], rows[2]);
    assert!(
        url.starts_with(&format!("  https://github.com/{LONG}/actions/runs/400")),
        "{screen}"
    );
    assert!(rows[3].starts_with("EXIT=0"), "{screen}");
    for row in &rows {
        assert!(row.chars().count() <= 80, "{row:?}");
        assert!(
            !row.contains("looking for") && !row.contains("building for"),
            "{screen}"
        );
    }
}

#[test]
fn watch_on_a_terminal_shows_the_step_of_a_build_shorter_than_the_settle_window() {
    let (fake, mut env) = crate::follow::following();
    // 3.9 s of building, all of it inside the list's settle window (6 polls of 1 s): room
    // for a loaded machine to start watch and poll the jobs twice while it builds.
    fake.set_build(
        "owner/site",
        Build {
            starts_ms: 100,
            ends_ms: 4000,
            ..Build::default()
        },
    );
    env.set_var("GIT_DISPATCH_POLL_MS", "1000");
    push_post(&env, "a.md");
    let (status, screen) = run_on_terminal(&mut env.dispatch_cmd(&["watch"]), TIMEOUT);
    assert_eq!(status.code(), Some(0), "{screen:?}");
    assert!(screen.contains(": build / Run astro build"), "{screen:?}");
}

#[test]
fn with_following_turned_off_an_old_failed_build_is_no_status_failure() {
    let (fake, env) = crate::follow::following();
    fake.set_build("owner/site", Build::failing());
    push_post(&env, "a.md");
    assert_eq!(wait_outcome(&env)["outcome"], "failure");
    assert_exit(&env.dispatch(&["status"]), 1, "the newest build failed");

    env.git_ok(&env.clone, &["config", "dispatch.follow", "false"]);
    fake.set_build("owner/site", Build::default());
    push_post(&env, "b.md");
    env.wait_dispatched(&fake, 2);
    env.wait_idle(TIMEOUT);
    let out = env.dispatch(&["status"]);
    assert_exit(
        &out,
        0,
        "nothing pending, and the newest delivery was not followed",
    );
}

#[test]
fn desktop_notifications_are_checked_by_doctor_and_one_that_failed_is_said_once() {
    let (_fake, mut env) = crate::follow::following();
    env.git_ok(&env.clone, &["config", "dispatch.notify", "desktop"]);
    if cfg!(target_os = "linux") {
        // No session bus (ssh, a headless box): doctor says so with the fix, and the one
        // notification that could not be shown is said by the next `status`, once.
        env.remove_var("DBUS_SESSION_BUS_ADDRESS");
        let report = stdout(&env.dispatch(&["doctor"]));
        assert!(
            report.contains("FAIL dispatch.notify = desktop cannot notify: no session bus")
                && report.contains("dispatch.notifyCommand"),
            "{report}"
        );
        push_post(&env, "a.md");
        wait_outcome(&env);
        // The notification is tried a moment after the outcome is saved.
        let start = std::time::Instant::now();
        loop {
            let first = env.dispatch(&["status"]);
            if stderr(&first).contains("dispatch.notify = desktop could not notify: no session bus")
            {
                break;
            }
            assert!(
                start.elapsed() < TIMEOUT,
                "{}\n{}",
                show(&first),
                std::fs::read_to_string(env.clone.join(".git/dispatch/log.jsonl"))
                    .unwrap_or_default()
            );
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        let second = env.dispatch(&["status"]);
        assert!(
            !stderr(&second).contains("could not notify"),
            "{}",
            show(&second)
        );
    }
    // The OS's notifier, stood in for by a script that keeps what it was run with.
    let bin = env.home.join("notifier-bin");
    std::fs::create_dir_all(&bin).unwrap();
    let program = if cfg!(target_os = "macos") {
        "osascript"
    } else {
        "notify-send"
    };
    let kept = env.home.join("notified");
    write_script(
        &bin.join(program),
        &format!(
            "#!/bin/sh\nprintf '%s\\n' \"$@\" > {}\n",
            sh_quote(&kept.to_string_lossy())
        ),
    );
    let path =
        std::env::join_paths(std::iter::once(bin.clone()).chain(std::env::split_paths(&env.path)))
            .unwrap();
    env.set_var("PATH", &path);
    env.set_var("DBUS_SESSION_BUS_ADDRESS", "unix:path=/nonexistent");
    let report = stdout(&env.dispatch(&["doctor"]));
    assert!(
        report.contains(&format!(
            "ok   dispatch.notify = desktop: {program} can run here"
        )),
        "{report}"
    );
    push_post(&env, "b.md");
    let start = std::time::Instant::now();
    let said = loop {
        if let Ok(text) = std::fs::read_to_string(&kept) {
            break text;
        }
        assert!(
            start.elapsed() < TIMEOUT,
            "no notification\n{}",
            std::fs::read_to_string(env.clone.join(".git/dispatch/log.jsonl")).unwrap_or_default()
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    assert!(said.contains("owner/site is built"), "{said}");
    assert!(said.contains("succeeded in"), "{said}");
}

#[test]
fn watch_after_a_draft_branch_push_says_it_fired_nothing_and_which_build_is_latest() {
    let (_fake, env) = following_with(crate::follow::SITE_WORKFLOW, None, &[]);
    let sha = push_post(&env, "a.md");
    assert_eq!(wait_outcome(&env)["outcome"], "success");
    // The writer pushes a draft, then watches: main's build is older than this push.
    env.git_ok(&env.clone, &["checkout", "-q", "-b", "draft"]);
    env.commit(&env.clone, "draft.md", "draft\n", "draft");
    env.push_ok(&["origin", "draft"]);
    let out = env.dispatch(&["watch"]);
    assert_exit(&out, 0, "watch after a push that fired nothing");
    let text = stdout(&out);
    assert!(
        text.contains(&format!("site -> owner/site {}: succeeded in ", &sha[..7])),
        "{}",
        show(&out)
    );
    assert!(
        stderr(&out).contains("site: the last push (draft) fired nothing here; below is the latest build of main, not waited for"),
        "{}",
        show(&out)
    );
    assert!(
        stderr(&out).contains("the latest push fired nothing to watch"),
        "{}",
        show(&out)
    );

    // A push to main again is this push's build, followed as ever.
    env.git_ok(&env.clone, &["checkout", "-q", "main"]);
    let sha = push_post(&env, "b.md");
    let out = env.dispatch(&["watch"]);
    assert_exit(&out, 0, "watch of main's build");
    let last = stdout(&out).lines().last().unwrap_or_default().to_string();
    assert!(
        last.starts_with(&format!("site -> owner/site {}: succeeded in ", &sha[..7])),
        "{}",
        show(&out)
    );
}

#[test]
fn escape_sequences_in_github_names_never_reach_the_terminal() {
    // A job or step name is the workflow author's text; so is an error page's title.
    let (fake, env) = following_with(crate::follow::SITE_WORKFLOW, None, &[]);
    fake.set_build(
        "owner/site",
        Build {
            conclusion: "failure",
            failed: Some(("build\u{1b}]0;owned\u{7}", Some("Run\u{1b}[2J astro"))),
            ..Build::default()
        },
    );
    push_post(&env, "a.md");
    assert_eq!(wait_outcome(&env)["outcome"], "failure");
    for args in [&["status"][..], &["watch"][..]] {
        let out = env.dispatch(args);
        let text = stdout(&out);
        assert!(
            text.contains("failed: build ]0;owned / Run [2J astro"),
            "{args:?}: {}",
            show(&out)
        );
        assert!(
            !text.contains('\u{1b}') && !text.contains('\u{7}'),
            "{args:?}: {text:?}"
        );
    }
    // Stripped again where printed: a record written by an older version keeps its text.
    let dir = env.clone.join(".git/dispatch/runs");
    for file in fs::read_dir(&dir).expect("runs/").flatten() {
        let mut record: Value =
            serde_json::from_slice(&fs::read(file.path()).expect("read")).expect("json");
        record["note"] = json!("the page said \u{1b}[2Jhello");
        fs::write(file.path(), record.to_string()).expect("write");
    }
    let out = env.dispatch(&["status"]);
    let text = stdout(&out);
    assert!(text.contains("the page said  [2Jhello"), "{}", show(&out));
    assert!(!text.contains('\u{1b}'), "{text:?}");
}

#[test]
fn watch_keeps_a_dispatch_github_asked_to_send_a_little_later_pending() {
    let (fake, env) = following_with(crate::follow::SITE_WORKFLOW, None, &[]);
    // The dispatch meets a secondary rate limit: GitHub asks to wait 2 s, and the waiter,
    // still alive, sends it then. That is no failed dispatch.
    fake.respond_with_reply(
        403,
        1,
        "You have exceeded a secondary rate limit. Please wait a few minutes before you try again.",
        &[("Retry-After", "2")],
    );
    push_post(&env, "a.md");
    env.wait_for_error("confirmed", TIMEOUT);
    let out = env.dispatch(&["watch"]);
    assert_exit(&out, 0, "watch of a dispatch sent after its Retry-After");
    let text = stdout(&out);
    assert!(text.contains(": not delivered yet"), "{}", show(&out));
    assert!(!text.contains("dispatch failed"), "{}", show(&out));
    assert!(
        text.lines()
            .last()
            .unwrap_or_default()
            .contains(": succeeded in "),
        "{}",
        show(&out)
    );
    assert_eq!(fake.dispatches().len(), 1);
}

#[test]
fn a_push_whose_landing_cannot_be_told_is_said_once_not_churned() {
    let (_fake, env) = following_with(crate::follow::SITE_WORKFLOW, None, &[]);
    // Pushes go to the push URL; the remote's fetch URL leads nowhere and no ref tracks it,
    // so nothing can tell whether the push landed.
    let remote = env.git_stdout(&env.clone, &["remote", "get-url", "origin"]);
    env.git_ok(
        &env.clone,
        &["config", "remote.origin.pushurl", remote.trim()],
    );
    env.git_ok(
        &env.clone,
        &["config", "remote.origin.url", "/nonexistent/remote.git"],
    );
    env.git_ok(
        &env.clone,
        &["config", "--unset-all", "remote.origin.fetch"],
    );
    env.commit(&env.clone, "a.md", "post\n", "post");
    env.push_ok(&["origin", "main"]);
    env.wait_for_error("awaiting-push", TIMEOUT);
    // watch says so and ends, rather than wait for an answer that does not come.
    let out = env.dispatch(&["watch"]);
    assert_exit(&out, 1, "watch of a push that cannot be confirmed");
    assert!(
        stdout(&out)
            .contains(": dispatch failed: not sent: cannot tell yet whether the push landed: ")
            && stdout(&out).contains("`git dispatch retry` sends it anyway"),
        "{}",
        show(&out)
    );
    // Asked again and again (watch, status), the same answer is logged and saved once.
    for _ in 0..3 {
        env.dispatch(&["watch"]);
        env.dispatch(&["status"]);
    }
    let log = fs::read_to_string(env.clone.join(".git/dispatch/log.jsonl")).unwrap();
    assert_eq!(log.matches("\"unconfirmed\"").count(), 1, "{log}");
}

/// Every notification `notifyCommand` was run with so far: one `GIT_DISPATCH_*` block each.
fn notified(log: &std::path::Path) -> Vec<String> {
    fs::read_to_string(log)
        .unwrap_or_default()
        .split("--\n")
        .filter(|b| !b.trim().is_empty())
        .map(str::to_string)
        .collect()
}

#[test]
fn a_rerun_that_passes_is_notified_again_with_the_sites_address() {
    let (fake, env) = following_with(crate::follow::SITE_WORKFLOW, None, &[]);
    env.git_ok(
        &env.clone,
        &["config", "dispatch.site.url", "https://blog.example.org/"],
    );
    let log = env.home.join("notified");
    env.git_ok(
        &env.clone,
        &[
            "config",
            "dispatch.notifyCommand",
            &format!(
                "{{ env | grep '^GIT_DISPATCH' | sort; echo --; }} >> {}",
                sh_quote(log.to_str().unwrap())
            ),
        ],
    );
    fake.set_build("owner/site", Build::failing());
    push_post(&env, "a.md");
    assert_eq!(wait_outcome(&env)["outcome"], "failure");
    let start = std::time::Instant::now();
    while notified(&log).is_empty() {
        assert!(start.elapsed() < TIMEOUT, "no notification of the failure");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let first = &notified(&log)[0];
    assert!(first.contains("GIT_DISPATCH_OUTCOME=failure\n"), "{first}");
    // The site's address comes with every notification, for the command to use.
    assert!(
        first.contains("GIT_DISPATCH_SITE_URL=https://blog.example.org/\n"),
        "{first}"
    );
    crate::follow::wait_follower_gone(&env);

    // The writer re-runs it on GitHub, it passes, and `watch` follows the re-run.
    let (run, _) = fake.runs()[0].clone();
    fake.rerun(run, Build::default());
    let out = env.dispatch(&["watch"]);
    assert_exit(&out, 0, "watch of a re-run that passed");
    let start = std::time::Instant::now();
    while notified(&log).len() < 2 {
        assert!(start.elapsed() < TIMEOUT, "no notification of the re-run");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let all = notified(&log);
    assert_eq!(all.len(), 2, "{all:#?}");
    for want in [
        "GIT_DISPATCH_OUTCOME=success\n",
        "GIT_DISPATCH_SITE_URL=https://blog.example.org/\n",
        &format!("GIT_DISPATCH_RUN_URL=https://github.com/owner/site/actions/runs/{run}\n"),
    ] {
        assert!(all[1].contains(want), "{want} in {}", all[1]);
    }
}

#[test]
fn every_outcome_that_is_not_a_success_ends_watch_with_1_and_is_said_by_the_next_push_once() {
    // (what GitHub does, the outcome, what watch and the next push say)
    let cases: [(&str, &str, &str); 3] = [
        ("no run", "no_run", "no run started"),
        ("no Actions: read", "cannot_follow", "Actions: read"),
        (
            "two look-alike runs",
            "not_identified",
            "2 runs started then",
        ),
    ];
    for (setup, outcome, words) in cases {
        let workflow = if outcome == "not_identified" {
            PLAIN_WORKFLOW
        } else {
            crate::follow::SITE_WORKFLOW
        };
        let (fake, env) = following_with(workflow, None, &[]);
        env.git_ok(&env.clone, &["config", "dispatch.followFor", "2"]);
        match outcome {
            "no_run" => fake.set_build(
                "owner/site",
                Build {
                    never: true,
                    ..Build::default()
                },
            ),
            "cannot_follow" => fake.set_actions_readable(false),
            _ => fake.add_foreign_run("owner/site", "repository_dispatch", "Build site", "writer"),
        }
        push_post(&env, "a.md");
        let out = env.dispatch(&["watch"]);
        assert_exit(&out, 1, setup);
        assert!(stdout(&out).contains(words), "{setup}: {}", show(&out));
        assert_eq!(wait_outcome(&env)["outcome"], outcome, "{setup}");

        // GitHub as ever again: b's build succeeds, so only a's outcome can be said.
        fake.set_build("owner/site", Build::default());
        fake.set_actions_readable(true);
        fake.add_workflow(
            "owner/site",
            "build.yml",
            crate::follow::SITE_WORKFLOW,
            None,
        );
        env.commit(&env.clone, "b.md", "b\n", "b");
        let said = stderr(&env.push_ok(&["origin", "main"]));
        let line = "git-dispatch: the site build for owner/site";
        assert_eq!(said.matches(line).count(), 1, "{setup}: {said}");
        assert!(said.contains(words), "{setup}: {said}");
        env.wait_status(TIMEOUT, "b's build", |s| {
            recent(s)
                .first()
                .is_some_and(|d| d["follow"]["outcome"] == "success")
        });
        env.commit(&env.clone, "c.md", "c\n", "c");
        let said = stderr(&env.push_ok(&["origin", "main"]));
        assert!(!said.contains(words), "{setup}: said twice: {said}");
    }
}

#[test]
fn a_build_waiting_for_approval_is_said_so_by_status_and_watch() {
    let (fake, env) = following_with(crate::follow::SITE_WORKFLOW, None, &[]);
    env.git_ok(&env.clone, &["config", "dispatch.followFor", "3"]);
    fake.set_build(
        "owner/site",
        Build {
            waiting: true,
            ends_ms: 600_000,
            ..Build::default()
        },
    );
    push_post(&env, "a.md");
    let status = env.wait_status(TIMEOUT, "the run waiting", |s| {
        recent(s)
            .first()
            .is_some_and(|d| d["follow"]["runs"][0]["status"] == "waiting")
    });
    assert!(
        recent(&status)[0]["follow"]["outcome"].is_null(),
        "{status:#}"
    );
    let out = env.dispatch(&["status"]);
    assert!(
        stdout(&out)
            .contains("run: waiting for approval  https://github.com/owner/site/actions/runs/"),
        "{}",
        show(&out)
    );
    // Still waiting at the bound: watch says so and ends with 1.
    let out = env.dispatch(&["watch"]);
    assert_exit(&out, 1, "watch of a build waiting past the bound");
    assert!(
        stdout(&out).contains(": waiting for approval  https://"),
        "{}",
        show(&out)
    );
    assert_eq!(wait_outcome(&env)["outcome"], "still_running");
}

#[test]
fn a_failed_job_past_the_first_hundred_of_a_matrix_is_found_on_the_next_page() {
    let (fake, env) = following_with(crate::follow::SITE_WORKFLOW, None, &[]);
    fake.set_build(
        "owner/site",
        Build {
            matrix: 150,
            ..Build::failing()
        },
    );
    push_post(&env, "a.md");
    let follow = wait_outcome(&env);
    assert_eq!(follow["outcome"], "failure", "{follow:#}");
    assert_eq!(follow["runs"][0]["failed_job"], "build", "{follow:#}");
    assert_eq!(
        follow["runs"][0]["failed_step"], "Run astro build",
        "{follow:#}"
    );
    let pages: Vec<String> = fake
        .requests()
        .into_iter()
        .filter(|r| r.path.ends_with("/jobs") && r.status == 200)
        .map(|r| r.query)
        .collect();
    assert!(
        pages
            .iter()
            .any(|q| q.contains("per_page=100") && q.contains("page=2")),
        "{pages:?}"
    );
    let out = env.dispatch(&["status"]);
    assert!(
        stdout(&out).contains("failed: build / Run astro build"),
        "{}",
        show(&out)
    );
}

#[test]
fn a_retry_after_seen_by_one_build_pauses_every_build_on_that_token() {
    let (fake, env) = following_with(crate::follow::SITE_WORKFLOW, None, &[]);
    fake.set_build(
        "owner/site",
        Build {
            ends_ms: 600_000,
            ..Build::default()
        },
    );
    push_post(&env, "a.md");
    push_post(&env, "b.md");
    env.wait_status(TIMEOUT, "two builds followed", |s| {
        let r = recent(s);
        r.len() == 2
            && r.iter()
                .all(|d| d["follow"]["runs"][0]["status"] == "in_progress")
    });
    // GitHub's secondary rate limit, on whichever poll comes next.
    fake.respond_with_reply(
        403,
        1,
        "You have exceeded a secondary rate limit. Please wait a few minutes before you try again.",
        &[("Retry-After", "3")],
    );
    let start = Instant::now();
    let limited = loop {
        let requests = fake.requests();
        if let Some(at) = requests.iter().position(|r| r.status == 403) {
            break at;
        }
        assert!(start.elapsed() < TIMEOUT, "no poll met the limit");
        std::thread::sleep(Duration::from_millis(5));
    };
    // Neither build is polled while GitHub asked to wait (polls are 50 ms apart here).
    std::thread::sleep(Duration::from_millis(2000));
    let after: Vec<Request> = fake.requests().split_off(limited + 1);
    assert!(after.is_empty(), "polled during the wait: {after:#?}");
    // Then both are polled again.
    let start = Instant::now();
    while fake.requests().len() <= limited + 2 {
        assert!(start.elapsed() < TIMEOUT, "no poll after the wait");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn an_answer_the_follower_refused_leaves_no_etag_behind() {
    // GitHub's completed run, once in a shape the follower cannot take: its ETag must not
    // be kept, or every later poll gets 304 and the build is never seen to end.
    let (fake, env) = following_with(crate::follow::SITE_WORKFLOW, None, &[]);
    fake.set_build(
        "owner/site",
        Build {
            garbled_once: true,
            ..Build::default()
        },
    );
    push_post(&env, "a.md");
    assert_eq!(wait_outcome(&env)["outcome"], "success");
    assert_eq!(fake.garbled(), 1);
}

#[test]
fn a_follower_killed_right_after_saving_a_failure_leaves_it_for_the_next_push() {
    let (fake, mut env) = following_with(crate::follow::SITE_WORKFLOW, None, &[]);
    // The follower dies the moment the outcome is on disk, before anything else.
    env.set_var("GIT_DISPATCH_TEST_DIE_AFTER_OUTCOME", "1");
    fake.set_build("owner/site", Build::failing());
    push_post(&env, "a.md");
    // Read from disk: `status` would start a follower of its own.
    let dir = env.clone.join(".git/dispatch/runs");
    let start = Instant::now();
    loop {
        let done = fs::read_dir(&dir).into_iter().flatten().flatten().any(|f| {
            fs::read(f.path())
                .ok()
                .and_then(|b| serde_json::from_slice::<Value>(&b).ok())
                .is_some_and(|v| v["outcome"] == "failure")
        });
        if done {
            break;
        }
        assert!(start.elapsed() < TIMEOUT, "no outcome saved");
        std::thread::sleep(Duration::from_millis(20));
    }
    env.remove_var("GIT_DISPATCH_TEST_DIE_AFTER_OUTCOME");
    fake.set_build("owner/site", Build::default());
    env.commit(&env.clone, "b.md", "b\n", "b");
    let said = stderr(&env.push_ok(&["origin", "main"]));
    assert!(
        said.contains("git-dispatch: the site build for owner/site")
            && said.contains("failed: build / Run astro build"),
        "{said}"
    );
}
