//! Which pushes dispatch, which do not, and what happens when GitHub says no:
//! real `git push` runs through the installed hook against a fake GitHub.

use std::fs;

use crate::support::*;

const ZEROS: &str = "0000000000000000000000000000000000000000";

/// The remote's `main`.
fn remote_main(env: &TestEnv) -> String {
    env.rev(&env.remote, "refs/heads/main")
}

/// Wait until nothing is pending, then assert the fake heard nothing at all.
fn assert_nothing_sent(env: &TestEnv, fake: &FakeGitHub) {
    let status = env.wait_settled(TIMEOUT);
    assert!(entries(&status).is_empty(), "{status:#}");
    assert!(
        fake.requests().is_empty(),
        "expected no request to GitHub, got:\n{}",
        fake.describe()
    );
}

/// No line of the push's output comes from git-dispatch.
fn assert_silent(out: &std::process::Output) {
    assert_push_output(out);
    assert!(
        dispatch_lines(&combined(out)).is_empty(),
        "expected no git-dispatch: line\n{}",
        show(out)
    );
}

/// The positive half of every "sends nothing" test: a new commit pushed from the
/// current branch to `main` does dispatch, so the silence before it was not a
/// broken setup. `total` counts every dispatch the test expects so far.
fn assert_main_push_still_dispatches(env: &TestEnv, fake: &FakeGitHub, total: usize) {
    let before = remote_main(env);
    let sha = env.commit(
        &env.clone,
        &format!("control-{total}.md"),
        "control\n",
        "control",
    );
    let out = env.push_ok(&["origin", "HEAD:main"]);
    assert_push_output(&out);
    env.wait_dispatched(fake, total);
    env.wait_settled(TIMEOUT);
    let got = fake.dispatches();
    assert_eq!(got.len(), total, "dispatches:\n{}", fake.describe());
    assert_dispatch(
        &got[total - 1],
        "owner/site",
        "refs/heads/main",
        &before,
        &sha,
    );
}

/// Run `git-dispatch retry` until the fake has accepted `n` dispatches: a waiter
/// may still hold the target's lock for a moment after writing its error.
fn retry_until_delivered(env: &TestEnv, fake: &FakeGitHub, n: usize) -> std::process::Output {
    let start = std::time::Instant::now();
    loop {
        let out = env.dispatch(&["retry"]);
        assert_ne!(out.status.code(), Some(2), "retry failed\n{}", show(&out));
        if fake.dispatches().len() >= n {
            return out;
        }
        if start.elapsed() > TIMEOUT {
            panic!(
                "`git-dispatch retry` never delivered\n{}\nrequests:\n{}\n{}",
                show(&out),
                fake.describe(),
                env.debug_state()
            );
        }
        std::thread::sleep(POLL);
    }
}

#[test]
fn push_to_main_dispatches_once_after_the_push_lands() {
    let (fake, env) = installed();
    let before = remote_main(&env);
    let sha = env.commit(&env.clone, "post.md", "hello\n", "post");

    let out = env.push_ok(&["origin", "main"]);

    assert_push_output(&out);
    let lines = dispatch_lines(&stderr(&out));
    assert!(
        lines.iter().any(|l| l.contains("owner/site")),
        "the hook should say it will dispatch to owner/site\n{}",
        show(&out)
    );
    assert_eq!(remote_main(&env), sha);
    env.wait_dispatched(&fake, 1);
    // The entry leaves the store before the history is written (a history that cannot be
    // written must not resend), so wait for both.
    let status = env.wait_status(TIMEOUT, "the delivery in the history", |s| {
        entries(s).is_empty() && !recent(s).is_empty()
    });
    let got = fake.dispatches();
    assert_eq!(got.len(), 1, "dispatches:\n{}", fake.describe());
    assert_dispatch(&got[0], "owner/site", "refs/heads/main", &before, &sha);
    assert_eq!(fake.requests().len(), 1, "{}", fake.describe());
    let recent = recent(&status);
    assert!(
        recent
            .iter()
            .any(|r| r["sha"] == sha.as_str() && r["repository"] == "owner/site"),
        "status --json recent should list the delivery: {status:#}"
    );
}

#[test]
fn feature_branch_push_sends_nothing() {
    let (fake, env) = installed();
    env.git_ok(&env.clone, &["checkout", "--quiet", "-b", "feature"]);
    let sha = env.commit(&env.clone, "draft.md", "draft\n", "draft");

    let out = env.push_ok(&["origin", "feature"]);

    assert_silent(&out);
    assert_eq!(env.rev(&env.remote, "refs/heads/feature"), sha);
    assert!(
        entries(&env.status_json()).is_empty(),
        "nothing should be recorded for a feature branch"
    );
    assert_nothing_sent(&env, &fake);
    assert_main_push_still_dispatches(&env, &fake, 1);
}

#[test]
fn dry_run_push_sends_nothing_and_the_real_push_does() {
    let (fake, env) = installed();
    let before = remote_main(&env);
    let sha = env.commit(&env.clone, "post.md", "hello\n", "post");

    let out = env.push_ok(&["--dry-run", "origin", "main"]);

    assert_push_output(&out);
    assert_eq!(remote_main(&env), before, "a dry run changes nothing");
    let status = env.wait_idle(TIMEOUT);
    assert!(
        entries(&status).is_empty(),
        "a dry run must leave no entry: {status:#}"
    );
    assert!(fake.requests().is_empty(), "{}", fake.describe());
    assert_exit(&env.dispatch(&["status"]), 0, "status after a dry run");

    // The same commit pushed for real is a push that has not been sent.
    env.push_ok(&["origin", "main"]);
    expect_one_dispatch(&env, &fake, &before, &sha);
}

#[test]
fn push_head_to_main_from_another_branch_dispatches() {
    let (fake, env) = installed();
    let before = remote_main(&env);
    env.git_ok(&env.clone, &["checkout", "--quiet", "-b", "draft"]);
    let sha = env.commit(&env.clone, "post.md", "hello\n", "post");

    let out = env.push_ok(&["origin", "HEAD:main"]);

    assert_push_output(&out);
    expect_one_dispatch(&env, &fake, &before, &sha);
}

#[test]
fn push_refused_by_remote_hook_sends_nothing_and_the_retried_push_does() {
    let (fake, env) = installed();
    let pre_receive = env.remote.join("hooks").join("pre-receive");
    write_script(
        &pre_receive,
        "#!/bin/sh\necho 'remote says no' >&2\nexit 1\n",
    );
    let before = remote_main(&env);
    let sha = env.commit(&env.clone, "post.md", "hello\n", "post");

    let out = env.push(&["origin", "main"]);

    assert!(!out.status.success(), "the remote refuses\n{}", show(&out));
    assert_push_output(&out);
    assert_eq!(remote_main(&env), before);
    let status = env.wait_idle(TIMEOUT);
    assert!(
        entries(&status).is_empty(),
        "a refused push must leave no entry: {status:#}"
    );
    assert!(fake.requests().is_empty(), "{}", fake.describe());

    // Regression guard: the dropped push must not count as sent.
    fs::remove_file(&pre_receive).unwrap();
    env.push_ok(&["origin", "main"]);
    expect_one_dispatch(&env, &fake, &before, &sha);
}

#[test]
fn non_fast_forward_push_rejected_by_remote_sends_nothing() {
    let (fake, env) = installed();
    // Advance the remote from elsewhere: this clone's origin/main is now stale,
    // so git only learns of the conflict from the remote, after the hook ran.
    let other = env.second_clone("other");
    env.commit(&other, "theirs.md", "theirs\n", "theirs");
    env.git_ok(&other, &["push", "--quiet", "origin", "main"]);
    let theirs = remote_main(&env);
    env.commit(&env.clone, "ours.md", "ours\n", "ours");

    let out = env.push(&["origin", "main"]);

    assert!(!out.status.success(), "the remote rejects\n{}", show(&out));
    assert_push_output(&out);
    assert_eq!(remote_main(&env), theirs);
    let status = env.wait_idle(TIMEOUT);
    assert!(entries(&status).is_empty(), "{status:#}");
    assert!(fake.requests().is_empty(), "{}", fake.describe());

    env.git_ok(
        &env.clone,
        &["pull", "--quiet", "--rebase", "origin", "main"],
    );
    assert_main_push_still_dispatches(&env, &fake, 1);
}

#[test]
fn up_to_date_push_sends_nothing_more() {
    let (fake, env) = installed();
    let before = remote_main(&env);
    let sha = env.commit(&env.clone, "post.md", "hello\n", "post");
    env.push_ok(&["origin", "main"]);
    env.wait_dispatched(&fake, 1);
    env.wait_settled(TIMEOUT);

    let out = env.push_ok(&["origin", "main"]);

    assert!(
        stderr(&out).contains("Everything up-to-date"),
        "{}",
        show(&out)
    );
    assert_silent(&out);
    env.wait_settled(TIMEOUT);
    let got = fake.dispatches();
    assert_eq!(got.len(), 1, "{}", fake.describe());
    assert_dispatch(&got[0], "owner/site", "refs/heads/main", &before, &sha);
}

#[test]
fn tag_push_sends_nothing() {
    let (fake, env) = installed();
    env.git_ok(&env.clone, &["tag", "v1"]);
    env.git_ok(&env.clone, &["tag", "-a", "v2", "-m", "v2"]);

    let out = env.push_ok(&["origin", "v1", "v2"]);

    assert_silent(&out);
    assert_eq!(
        env.rev(&env.remote, "refs/tags/v1"),
        env.rev(&env.clone, "v1")
    );
    assert_nothing_sent(&env, &fake);
    assert_main_push_still_dispatches(&env, &fake, 1);
}

#[test]
fn branch_deletion_sends_nothing() {
    let (fake, env) = installed();
    env.git_ok(&env.clone, &["checkout", "--quiet", "-b", "feature"]);
    env.commit(&env.clone, "draft.md", "draft\n", "draft");
    env.push_ok(&["origin", "feature"]);
    env.git_ok(&env.clone, &["checkout", "--quiet", "main"]);
    assert_nothing_sent(&env, &fake);

    let out = env.push_ok(&["origin", "--delete", "feature"]);

    assert_silent(&out);
    let gone = env.git(
        &env.remote,
        &["rev-parse", "--verify", "--quiet", "refs/heads/feature"],
    );
    assert!(
        !gone.status.success(),
        "feature should be deleted on the remote"
    );
    assert_nothing_sent(&env, &fake);
    assert_main_push_still_dispatches(&env, &fake, 1);
}

#[test]
fn push_to_another_remote_sends_nothing() {
    let (fake, env) = installed();
    env.git_ok(
        &env.root,
        &["init", "--quiet", "--bare", "-b", "main", "other.git"],
    );
    let other = env.root.join("other.git");
    env.git_ok(
        &env.clone,
        &["remote", "add", "other", other.to_str().unwrap()],
    );
    let sha = env.commit(&env.clone, "post.md", "hello\n", "post");

    let out = env.push_ok(&["other", "main"]);

    assert_silent(&out);
    assert_eq!(env.rev(&other, "refs/heads/main"), sha);
    assert_nothing_sent(&env, &fake);
    assert_main_push_still_dispatches(&env, &fake, 1);
}

#[test]
fn push_to_the_url_of_another_repository_sends_nothing() {
    // A push by URL fires only when the URL is the target's remote's; a push by the
    // remote's own URL fires (a_push_by_url_to_the_targets_remote_fires_…).
    let (fake, env) = installed();
    env.git_ok(&env.root, &["init", "--quiet", "--bare", "elsewhere.git"]);
    env.commit(&env.clone, "post.md", "hello\n", "post");

    let elsewhere = env.root.join("elsewhere.git");
    let out = env.push_ok(&[elsewhere.to_str().unwrap(), "main"]);

    assert_silent(&out);
    assert_nothing_sent(&env, &fake);
    assert_main_push_still_dispatches(&env, &fake, 1);
}

#[test]
fn no_verify_push_sends_nothing() {
    let (fake, env) = installed();
    let sha = env.commit(&env.clone, "post.md", "hello\n", "post");

    let out = env.push_ok(&["--no-verify", "origin", "main"]);

    assert_silent(&out);
    assert_eq!(remote_main(&env), sha);
    assert_nothing_sent(&env, &fake);
    assert_main_push_still_dispatches(&env, &fake, 1);
}

#[test]
fn git_dispatch_0_skips_the_hook_once() {
    let (fake, env) = installed();
    let sha = env.commit(&env.clone, "post.md", "hello\n", "post");

    let out = expect_success(
        env.git_cmd(&env.clone, &["push", "origin", "main"])
            .env("GIT_DISPATCH", "0"),
    );

    assert_silent(&out);
    assert_eq!(remote_main(&env), sha);
    assert_nothing_sent(&env, &fake);
    assert_main_push_still_dispatches(&env, &fake, 1);
}

#[test]
fn pre_push_mode_dispatches_before_push_returns() {
    let (fake, env) = installed();
    env.git_ok(&env.clone, &["config", "dispatch.when", "pre-push"]);
    let before = remote_main(&env);
    let sha = env.commit(&env.clone, "post.md", "hello\n", "post");

    let out = env.push_ok(&["origin", "main"]);

    // No waiting: in pre-push mode the hook has sent before git returned.
    let got = fake.dispatches();
    assert_eq!(got.len(), 1, "{}\n{}", show(&out), fake.describe());
    assert_dispatch(&got[0], "owner/site", "refs/heads/main", &before, &sha);
    assert_push_output(&out);
    assert!(
        !dispatch_lines(&stderr(&out)).is_empty(),
        "the hook should say what it sent\n{}",
        show(&out)
    );
    assert!(entries(&env.status_json()).is_empty());
}

#[test]
fn strict_pre_push_failure_fails_the_push() {
    let (fake, env) = installed();
    env.git_ok(&env.clone, &["config", "dispatch.when", "pre-push"]);
    env.git_ok(&env.clone, &["config", "dispatch.strict", "true"]);
    fake.respond_with(500);
    let before = remote_main(&env);
    env.commit(&env.clone, "post.md", "hello\n", "post");

    let out = env.push(&["origin", "main"]);

    assert!(
        !out.status.success(),
        "strict: the push fails\n{}",
        show(&out)
    );
    assert_push_output(&out);
    assert!(!dispatch_lines(&stderr(&out)).is_empty(), "{}", show(&out));
    assert_eq!(remote_main(&env), before, "the push must not land");
    assert!(!fake.requests().is_empty(), "the hook should have tried");
}

#[test]
fn pre_push_failure_without_strict_does_not_fail_the_push() {
    let (fake, env) = installed();
    env.git_ok(&env.clone, &["config", "dispatch.when", "pre-push"]);
    fake.respond_with(500);
    let sha = env.commit(&env.clone, "post.md", "hello\n", "post");

    let out = env.push_ok(&["origin", "main"]);

    assert_push_output(&out);
    assert!(!dispatch_lines(&stderr(&out)).is_empty(), "{}", show(&out));
    assert_eq!(remote_main(&env), sha);
    assert!(fake.dispatches().is_empty());
}

#[test]
fn force_push_to_an_earlier_commit_dispatches_again() {
    let (fake, env) = installed();
    let first = remote_main(&env);
    let second = env.commit(&env.clone, "post.md", "hello\n", "post");
    env.push_ok(&["origin", "main"]);
    env.wait_dispatched(&fake, 1);
    env.wait_settled(TIMEOUT);

    env.git_ok(&env.clone, &["reset", "--quiet", "--hard", "HEAD~1"]);
    let out = env.push_ok(&["-f", "origin", "main"]);

    assert_push_output(&out);
    assert_eq!(remote_main(&env), first);
    env.wait_dispatched(&fake, 2);
    env.wait_settled(TIMEOUT);
    let got = fake.dispatches();
    assert_eq!(got.len(), 2, "{}", fake.describe());
    assert_dispatch(&got[0], "owner/site", "refs/heads/main", &first, &second);
    assert_dispatch(&got[1], "owner/site", "refs/heads/main", &second, &first);
}

#[test]
fn network_down_keeps_the_entry_and_retry_delivers_it() {
    let fake = FakeGitHub::start();
    let mut env = TestEnv::with_fake(&fake);
    env.install();
    env.dispatch_ok(&["add", "owner/site"]);
    env.set_api_url(Some(&closed_port_url()));
    let before = remote_main(&env);
    let sha = env.commit(&env.clone, "post.md", "hello\n", "post");

    let out = env.push_ok(&["origin", "main"]);

    assert_push_output(&out);
    let status = env.wait_for_error("confirmed", TIMEOUT);
    let list = entries(&status);
    assert_eq!(list.len(), 1, "{status:#}");
    let entry = &list[0];
    assert_eq!(entry["repository"], "owner/site", "{status:#}");
    assert_eq!(entry["target"], "site", "{status:#}");
    assert_eq!(entry["remote"], "origin", "{status:#}");
    assert_eq!(entry["ref"], "refs/heads/main", "{status:#}");
    assert_eq!(entry["sha"], sha.as_str(), "{status:#}");
    assert_eq!(entry["before"], before.as_str(), "{status:#}");
    assert!(entry["attempts"].as_u64().unwrap_or(0) >= 1, "{status:#}");
    assert!(
        entry["id"].is_string() && entry["created"].is_u64(),
        "{status:#}"
    );
    assert_exit(&env.dispatch(&["status"]), 1, "status with a pending entry");

    env.set_api_url(Some(&fake.url()));
    let out = retry_until_delivered(&env, &fake, 1);

    assert_exit(&out, 0, "retry that delivered");
    let got = fake.dispatches();
    assert_eq!(got.len(), 1, "{}", fake.describe());
    assert_dispatch(&got[0], "owner/site", "refs/heads/main", &before, &sha);
    let status = env.status_json();
    assert!(entries(&status).is_empty(), "{status:#}");
    assert!(
        recent(&status).iter().any(|r| r["sha"] == sha.as_str()),
        "{status:#}"
    );
    assert_exit(&env.dispatch(&["status"]), 0, "status once delivered");
}

#[test]
fn server_error_keeps_the_entry_and_retry_delivers_it() {
    let (fake, env) = installed();
    fake.respond_with(500);
    let before = remote_main(&env);
    let sha = env.commit(&env.clone, "post.md", "hello\n", "post");

    env.push_ok(&["origin", "main"]);

    let status = env.wait_for_error("confirmed", TIMEOUT);
    assert_eq!(entries(&status).len(), 1, "{status:#}");
    assert!(fake.dispatches().is_empty());
    fake.respond_normally();
    let out = retry_until_delivered(&env, &fake, 1);
    assert_exit(&out, 0, "retry that delivered");
    env.wait_settled(TIMEOUT);
    let got = fake.dispatches();
    assert_eq!(got.len(), 1, "{}", fake.describe());
    assert_dispatch(&got[0], "owner/site", "refs/heads/main", &before, &sha);
}

#[test]
fn githubs_secondary_rate_limit_is_waited_out_not_failed_for_good() {
    let (fake, env) = installed();
    // GitHub's secondary limit: a 403 with no Retry-After, and primary budget left.
    fake.respond_with_reply(
        403,
        1,
        "You have exceeded a secondary rate limit. Please wait a few minutes before you try again.",
        &[],
    );
    let before = remote_main(&env);
    let sha = env.commit(&env.clone, "post.md", "hello\n", "post");
    env.push_ok(&["origin", "main"]);

    let status = env.wait_for_error("confirmed", TIMEOUT);
    let entry = &entries(&status)[0];
    let error = entry["last_error"].as_str().unwrap();
    assert!(error.contains("secondary rate limit"), "{status:#}");
    let wait = entry["next_attempt"].as_u64().unwrap() - entry["updated"].as_u64().unwrap();
    assert!(wait >= 60, "waits at least a minute: {status:#}");
    assert_ne!(entry["state"], "failed");
    let requests = fake.requests();
    assert_eq!(
        requests.len(),
        1,
        "no retry within the minute\n{}",
        fake.describe()
    );
    assert!(
        requests[0].status == 403,
        "the fake answered 403\n{}",
        fake.describe()
    );

    // `retry` ignores the backoff, and the push is delivered once.
    let out = retry_until_delivered(&env, &fake, 1);
    assert_exit(&out, 0, "retry that delivered");
    let got = fake.dispatches();
    assert_eq!(got.len(), 1, "{}", fake.describe());
    assert_dispatch(&got[0], "owner/site", "refs/heads/main", &before, &sha);
}

#[test]
fn undelivered_pushes_of_one_branch_collapse_into_the_newest() {
    let fake = FakeGitHub::start();
    let mut env = TestEnv::with_fake(&fake);
    env.install();
    env.dispatch_ok(&["add", "owner/site"]);
    env.set_api_url(Some(&closed_port_url()));
    let first = env.commit(&env.clone, "one.md", "one\n", "one");
    env.push_ok(&["origin", "main"]);
    env.wait_for_error("confirmed", TIMEOUT);
    let second = env.commit(&env.clone, "two.md", "two\n", "two");
    env.push_ok(&["origin", "main"]);
    env.wait_status(TIMEOUT, "the second push confirmed", |s| {
        let list = entries(s);
        list.iter().all(|e| e["state"] != "awaiting-push")
            && list.iter().any(|e| e["sha"] == second.as_str())
    });

    env.set_api_url(Some(&fake.url()));
    retry_until_delivered(&env, &fake, 1);

    env.wait_settled(TIMEOUT);
    let got = fake.dispatches();
    assert_eq!(
        got.len(),
        1,
        "one dispatch for both pushes\n{}",
        fake.describe()
    );
    assert_eq!(got[0].body["client_payload"]["sha"], second.as_str());
    assert_ne!(got[0].body["client_payload"]["sha"], first.as_str());
}

/// A dispatch GitHub refuses for good: the entry is `failed`, `status` exits 1
/// and names the fix, the next push's hook says so in one line, `drop` forgets it.
fn assert_refused_for_good(env: &TestEnv, fake: &FakeGitHub, repo: &str, code: &str, fix: &str) {
    let sha = env.commit(&env.clone, "post.md", "hello\n", "post");
    let out = env.push_ok(&["origin", "main"]);
    assert_push_output(&out);

    let status = env.wait_for_error("failed", TIMEOUT);
    let list = entries(&status);
    assert_eq!(list.len(), 1, "{status:#}");
    assert_eq!(list[0]["repository"], repo, "{status:#}");
    assert_eq!(list[0]["sha"], sha.as_str(), "{status:#}");
    assert!(fake.dispatches().is_empty(), "{}", fake.describe());
    assert!(!fake.requests().is_empty(), "GitHub should have been asked");

    let out = env.dispatch(&["status"]);
    assert_exit(&out, 1, "status with a failed entry");
    let text = combined(&out);
    assert!(
        text.contains(repo),
        "status should name {repo}\n{}",
        show(&out)
    );
    assert!(
        text.contains(code),
        "status should show {code}\n{}",
        show(&out)
    );
    assert!(
        text.to_lowercase().contains(&fix.to_lowercase()),
        "status should name the fix ({fix})\n{}",
        show(&out)
    );

    // The next push, to a branch that fires nothing, reports the failure once.
    env.git_ok(&env.clone, &["checkout", "--quiet", "-b", "next"]);
    env.commit(&env.clone, "next.md", "next\n", "next");
    let out = env.push_ok(&["origin", "next"]);
    assert_push_output(&out);
    let lines = dispatch_lines(&stderr(&out));
    assert_eq!(lines.len(), 1, "one line about what failed\n{}", show(&out));
    assert!(
        lines[0].contains(repo) && lines[0].contains(code),
        "the line should name {repo} and {code}: {:?}",
        lines[0]
    );

    let id = list[0]["id"].as_str().expect("entry id").to_string();
    env.dispatch_ok(&["drop", &id]);
    assert!(entries(&env.status_json()).is_empty());
    assert_exit(&env.dispatch(&["status"]), 0, "status after drop");
}

#[test]
fn bad_credentials_fail_the_entry_with_a_fix() {
    let fake = FakeGitHub::start();
    let mut env = TestEnv::with_fake(&fake);
    env.set_token(Some(
        "github_pat_11WRONGTOKEN9zY8xW7vU6tS5rQ4pO3nM2lK1jI0hG",
    ));
    env.install();
    env.dispatch_ok(&["add", "owner/site"]);
    assert_refused_for_good(&env, &fake, "owner/site", "401", "token");
    assert_eq!(fake.requests()[0].status, 401);
}

#[test]
fn unknown_repository_fails_the_entry_with_a_fix() {
    let fake = FakeGitHub::start();
    let env = TestEnv::with_fake(&fake);
    env.install();
    env.dispatch_ok(&["add", "owner/missing"]);
    assert_refused_for_good(&env, &fake, "owner/missing", "404", "owner/missing");
    assert_eq!(fake.requests()[0].status, 404);
}

#[test]
fn validation_error_fails_the_entry() {
    let (fake, env) = installed();
    fake.respond_with(422);
    assert_refused_for_good(&env, &fake, "owner/site", "422", "owner/site");
}

#[test]
fn two_targets_each_get_one_dispatch() {
    let (fake, env) = installed();
    env.dispatch_ok(&["add", "owner/docs"]);
    let before = remote_main(&env);
    let sha = env.commit(&env.clone, "post.md", "hello\n", "post");

    let out = env.push_ok(&["origin", "main"]);

    assert_push_output(&out);
    env.wait_dispatched(&fake, 2);
    env.wait_settled(TIMEOUT);
    let mut got = fake.dispatches();
    assert_eq!(got.len(), 2, "{}", fake.describe());
    got.sort_by(|a, b| a.repository.cmp(&b.repository));
    assert_dispatch(&got[0], "owner/docs", "refs/heads/main", &before, &sha);
    assert_dispatch(&got[1], "owner/site", "refs/heads/main", &before, &sha);
    assert_eq!(got[0].request.path, "/repos/owner/docs/dispatches");
    assert_eq!(got[1].request.path, "/repos/owner/site/dispatches");
}

#[test]
fn custom_event_and_payload_are_sent() {
    let fake = FakeGitHub::start();
    let env = TestEnv::with_fake(&fake);
    env.install();
    env.dispatch_ok(&["add", "owner/site", "--event", "publish"]);
    env.git_ok(
        &env.clone,
        &["config", "dispatch.site.payload", r#"{"site":"blog"}"#],
    );
    let sha = env.commit(&env.clone, "post.md", "hello\n", "post");

    env.push_ok(&["origin", "main"]);

    let got = env.wait_dispatched(&fake, 1);
    let body = &got[0].body;
    assert_eq!(body["event_type"], "publish", "{body:#}");
    assert_eq!(body["client_payload"]["site"], "blog", "{body:#}");
    assert_eq!(body["client_payload"]["sha"], sha.as_str(), "{body:#}");
    assert_eq!(body["client_payload"]["ref"], "refs/heads/main", "{body:#}");
}

#[test]
fn paths_filter_fires_only_for_matching_changes() {
    let fake = FakeGitHub::start();
    let env = TestEnv::with_fake(&fake);
    env.install();
    env.dispatch_ok(&["add", "owner/site", "--paths", "content/**"]);
    let outside = env.commit(&env.clone, "notes.md", "notes\n", "notes");

    let out = env.push_ok(&["origin", "main"]);

    assert_silent(&out);
    assert_nothing_sent(&env, &fake);

    let inside = env.commit(&env.clone, "content/post.md", "post\n", "post");
    env.push_ok(&["origin", "main"]);
    env.wait_dispatched(&fake, 1);
    env.wait_settled(TIMEOUT);
    let got = fake.dispatches();
    assert_eq!(got.len(), 1, "{}", fake.describe());
    let payload = &got[0].body["client_payload"];
    assert_eq!(payload["sha"], inside.as_str(), "{payload:#}");
    assert_eq!(payload["before"], outside.as_str(), "{payload:#}");
    // The filtered target is told which of its paths changed.
    assert_eq!(
        payload["paths"],
        serde_json::json!(["content/post.md"]),
        "{payload:#}"
    );
}

#[test]
fn branch_option_selects_which_branch_fires() {
    let fake = FakeGitHub::start();
    let env = TestEnv::with_fake(&fake);
    env.install();
    env.dispatch_ok(&["add", "owner/site", "--branch", "release"]);
    env.commit(&env.clone, "post.md", "hello\n", "post");

    let out = env.push_ok(&["origin", "main"]);

    assert_silent(&out);
    assert_nothing_sent(&env, &fake);

    env.git_ok(&env.clone, &["checkout", "--quiet", "-b", "release"]);
    let sha = env.commit(&env.clone, "release.md", "v1\n", "release");
    env.push_ok(&["origin", "release"]);
    env.wait_dispatched(&fake, 1);
    env.wait_settled(TIMEOUT);
    let got = fake.dispatches();
    assert_eq!(got.len(), 1, "{}", fake.describe());
    let payload = &got[0].body["client_payload"];
    assert_eq!(payload["ref"], "refs/heads/release", "{payload:#}");
    assert_eq!(payload["sha"], sha.as_str(), "{payload:#}");
    // A new branch: git reports the remote side as all zeros.
    assert!(
        payload["before"] == ZEROS || payload["before"].as_str().map(str::len) == Some(40),
        "{payload:#}"
    );
}

#[test]
fn targets_in_global_config_are_ignored() {
    let fake = FakeGitHub::start();
    let env = TestEnv::with_fake(&fake);
    let global = env.home.join(".gitconfig");
    env.git_ok(
        &env.root,
        &[
            "config",
            "--file",
            global.to_str().unwrap(),
            "dispatch.everywhere.repository",
            "owner/docs",
        ],
    );
    env.install();
    env.commit(&env.clone, "post.md", "hello\n", "post");

    let out = env.push_ok(&["origin", "main"]);

    assert_silent(&out);
    assert_nothing_sent(&env, &fake);

    env.dispatch_ok(&["add", "owner/site"]);
    assert_main_push_still_dispatches(&env, &fake, 1);
    assert!(fake
        .dispatches()
        .iter()
        .all(|d| d.repository == "owner/site"));
}

#[test]
fn shared_gitdispatch_target_fires_once_trusted() {
    let fake = FakeGitHub::start();
    let env = TestEnv::with_fake(&fake);
    env.install();
    env.dispatch_ok(&["add", "owner/site", "--shared"]);
    env.git_ok(&env.clone, &["add", ".gitdispatch"]);
    env.git_ok(&env.clone, &["commit", "--quiet", "-m", "share the target"]);
    env.dispatch_ok(&["trust"]);
    let before = remote_main(&env);
    let sha = env.rev(&env.clone, "HEAD");

    let out = env.push_ok(&["origin", "main"]);

    assert_push_output(&out);
    expect_one_dispatch(&env, &fake, &before, &sha);
}

#[test]
fn untrusted_gitdispatch_target_does_not_fire_until_trusted() {
    let fake = FakeGitHub::start();
    let env = TestEnv::with_fake(&fake);
    env.install();
    env.commit(
        &env.clone,
        ".gitdispatch",
        "[dispatch \"site\"]\n\trepository = owner/site\n",
        "someone else's target",
    );

    let out = env.push_ok(&["origin", "main"]);

    assert_push_output(&out);
    assert!(
        dispatch_lines(&stderr(&out))
            .iter()
            .any(|l| l.contains("trust")),
        "the hook should say the .gitdispatch is not trusted\n{}",
        show(&out)
    );
    assert_nothing_sent(&env, &fake);

    env.dispatch_ok(&["trust"]);
    assert_main_push_still_dispatches(&env, &fake, 1);
}

#[test]
fn settings_in_gitdispatch_are_ignored() {
    let fake = FakeGitHub::start();
    let mut env = TestEnv::with_fake(&fake);
    env.set_token(None);
    env.install();
    let pwned = env.root.join("pwned");
    let content = format!(
        "[dispatch \"site\"]\n\trepository = owner/site\n\
         [dispatch]\n\ttokenCommand = touch {}\n\twhen = pre-push\n",
        sh_quote(pwned.to_str().unwrap())
    );
    env.commit(
        &env.clone,
        ".gitdispatch",
        &content,
        "a sneaky .gitdispatch",
    );
    env.dispatch_ok(&["trust"]);

    let out = env.push_ok(&["origin", "main"]);

    assert_push_output(&out);
    let list = env.dispatch(&["list"]);
    let said = format!("{}{}", stderr(&out), combined(&list));
    assert!(
        dispatch_lines(&said)
            .iter()
            .any(|l| l.contains("tokenCommand")),
        "a one-line warning should name the ignored tokenCommand\npush:\n{}\nlist:\n{}",
        show(&out),
        show(&list)
    );
    // The target is used, but without a token nothing can be sent.
    env.wait_status(TIMEOUT, "the entry to report a missing token", |s| {
        entries(s).iter().any(|e| e["last_error"].is_string())
    });
    assert!(env.root.is_dir());
    assert!(!pwned.exists(), "tokenCommand from .gitdispatch was run");
    assert!(fake.dispatches().is_empty(), "{}", fake.describe());
}

#[test]
fn token_command_from_local_config_is_used() {
    let fake = FakeGitHub::start();
    let mut env = TestEnv::with_fake(&fake);
    env.set_token(None);
    env.install();
    env.dispatch_ok(&["add", "owner/site"]);
    env.git_ok(
        &env.clone,
        &[
            "config",
            "dispatch.tokenCommand",
            &format!("printf '%s\\n' {TOKEN}"),
        ],
    );
    let before = remote_main(&env);
    let sha = env.commit(&env.clone, "post.md", "hello\n", "post");

    env.push_ok(&["origin", "main"]);

    expect_one_dispatch(&env, &fake, &before, &sha);
    assert_eq!(
        fake.dispatches()[0].request.header("authorization"),
        Some(format!("Bearer {TOKEN}").as_str())
    );
}

#[test]
fn paths_filter_on_a_new_branch_compares_with_where_it_forked() {
    let fake = FakeGitHub::start();
    let env = TestEnv::with_fake(&fake);
    env.install();
    env.dispatch_ok(&[
        "add",
        "owner/site",
        "--branch",
        "release",
        "--paths",
        "content/**",
    ]);
    // Content already on main is not this branch's change.
    env.commit(&env.clone, "content/old.md", "old\n", "old content");
    env.push_ok(&["origin", "main"]);

    env.git_ok(&env.clone, &["checkout", "--quiet", "-b", "release"]);
    env.commit(&env.clone, "notes.md", "notes\n", "notes");
    let out = env.push_ok(&["origin", "release"]);
    assert_silent(&out);
    assert_nothing_sent(&env, &fake);

    env.git_ok(
        &env.clone,
        &["checkout", "--quiet", "-b", "release-2", "main"],
    );
    let sha = env.commit(&env.clone, "content/new.md", "new\n", "new content");
    env.git_ok(
        &env.clone,
        &["push", "--quiet", "origin", "--delete", "release"],
    );
    env.push_ok(&["origin", "release-2:release"]);
    let got = env.wait_dispatched(&fake, 1);
    let payload = &got[0].body["client_payload"];
    assert_eq!(payload["sha"], sha.as_str(), "{payload:#}");
    assert_eq!(
        payload["paths"],
        serde_json::json!(["content/new.md"]),
        "{payload:#}"
    );
}

#[test]
fn a_push_by_url_to_the_targets_remote_fires_and_is_confirmed_by_asking_the_remote() {
    // `git push <url> main`: git passes the URL as the remote's name and updates no
    // remote-tracking ref, so the waiter asks the remote whether the push landed.
    let (fake, env) = installed();
    let url = env.git_stdout(&env.clone, &["config", "remote.origin.url"]);
    let before = remote_main(&env);
    let sha = env.commit(&env.clone, "post.md", "hello\n", "post");

    let out = env.push_ok(&[&url, "main"]);

    assert_push_output(&out);
    assert!(
        stderr(&out).contains("will dispatch update to owner/site once main lands"),
        "{}",
        show(&out)
    );
    let got = env.wait_dispatched(&fake, 1);
    env.wait_settled(TIMEOUT);
    assert_eq!(fake.dispatches().len(), 1, "{}", fake.describe());
    assert_dispatch(&got[0], "owner/site", "refs/heads/main", &before, &sha);
    assert_ne!(
        env.rev(&env.clone, "refs/remotes/origin/main"),
        sha,
        "git moved no tracking ref, so the remote itself confirmed it"
    );
}

#[test]
fn a_push_by_url_fires_through_insteadof_and_not_for_another_repository() {
    let (fake, env) = installed();
    let url = env.git_stdout(&env.clone, &["config", "remote.origin.url"]);
    // `content:` is rewritten to the remote's URL, as `url.<base>.insteadOf` does.
    env.git_ok(
        &env.clone,
        &["config", &format!("url.{url}.insteadOf"), "content:"],
    );
    let sha = env.commit(&env.clone, "a.md", "a\n", "a");
    env.push_ok(&["content:", "main"]);
    env.wait_dispatched(&fake, 1);
    env.wait_settled(TIMEOUT);
    assert_eq!(
        fake.dispatches()[0].body["client_payload"]["sha"],
        sha.as_str()
    );

    // Another bare repository, pushed to by its path: not the target's remote.
    let other = env.root.join("other.git");
    env.git_ok(&env.root, &["init", "--quiet", "--bare", "other.git"]);
    env.commit(&env.clone, "b.md", "b\n", "b");
    let out = env.push_ok(&[other.to_str().unwrap(), "main"]);
    assert!(
        !stderr(&out).contains("will dispatch"),
        "a push elsewhere fires nothing\n{}",
        show(&out)
    );
    env.wait_settled(TIMEOUT);
    assert_eq!(fake.dispatches().len(), 1, "{}", fake.describe());
}

#[test]
fn a_push_by_url_the_remote_refuses_sends_nothing() {
    let (fake, env) = installed();
    let url = env.git_stdout(&env.clone, &["config", "remote.origin.url"]);
    write_script(
        &env.remote.join("hooks").join("pre-receive"),
        "#!/bin/sh\necho 'remote says no' >&2\nexit 1\n",
    );
    env.commit(&env.clone, "post.md", "hello\n", "post");
    let out = env.push(&[&url, "main"]);
    assert!(!out.status.success(), "the remote refuses\n{}", show(&out));
    assert!(
        stderr(&out).contains("will dispatch"),
        "recorded\n{}",
        show(&out)
    );
    let status = env.wait_idle(TIMEOUT);
    assert!(entries(&status).is_empty(), "dropped: {status:#}");
    assert!(fake.requests().is_empty(), "{}", fake.describe());
}
