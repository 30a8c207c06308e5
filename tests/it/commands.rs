//! The commands other than the hook itself: add/remove/list, send, status,
//! login/logout, doctor, and what the command line does with bad input.

use std::fs;

use crate::support::*;

#[test]
fn help_exits_0_and_lists_the_commands() {
    let env = TestEnv::new();
    let out = env.dispatch(&["--help"]);
    assert_exit(&out, 0, "--help");
    let text = stdout(&out);
    for command in [
        "install",
        "uninstall",
        "add",
        "send",
        "status",
        "retry",
        "login",
    ] {
        assert!(
            text.contains(command),
            "--help should list {command}\n{text}"
        );
    }
}

#[test]
fn unknown_command_exits_2() {
    let env = TestEnv::new();
    let out = env.dispatch(&["frobnicate"]);
    assert_exit(&out, 2, "an unknown command");
    assert!(!stderr(&out).is_empty());
}

#[test]
fn git_dispatch_runs_as_a_git_subcommand() {
    let env = TestEnv::new();
    env.git_ok(&env.clone, &["dispatch", "add", "owner/site"]);
    assert_eq!(
        env.git_stdout(&env.clone, &["config", "--get", "dispatch.site.repository"]),
        "owner/site"
    );
}

#[test]
fn add_writes_the_target_to_the_clone_config() {
    let env = TestEnv::new();

    let out = env.dispatch_ok(&["add", "owner/site"]);

    assert_no_token(&out, TOKEN, "add");
    assert_eq!(
        env.git_stdout(
            &env.clone,
            &["config", "--local", "--get", "dispatch.site.repository"]
        ),
        "owner/site"
    );
    assert!(env.clone.is_dir());
    assert!(!env.clone.join(".gitdispatch").exists());
}

#[test]
fn add_rejects_a_bad_repository_and_names_the_form() {
    let env = TestEnv::new();
    for bad in ["nope", "owner/", "/site", "a/b/c", "owner site/x"] {
        let out = env.dispatch(&["add", bad]);
        assert_exit(&out, 2, &format!("add {bad:?}"));
        assert!(
            combined(&out).contains("owner/repo"),
            "the message should show the form owner/repo\n{}",
            show(&out)
        );
    }
    let written = env.git(
        &env.clone,
        &["config", "--local", "--get-regexp", "^dispatch\\."],
    );
    assert_eq!(
        written.status.code(),
        Some(1),
        "nothing written\n{}",
        show(&written)
    );
    // The positive half: a good one is accepted.
    env.dispatch_ok(&["add", "owner/site"]);
}

#[test]
fn add_refuses_a_name_clash() {
    let env = TestEnv::new();
    env.dispatch_ok(&["add", "owner/site"]);

    let same = env.dispatch(&["add", "owner/site"]);
    assert_exit(&same, 2, "add the same target twice");
    assert!(combined(&same).contains("site"), "{}", show(&same));

    // The name defaults to the repository's name: another owner's `site` clashes.
    let other = env.dispatch(&["add", "other/site"]);
    assert_exit(&other, 2, "add other/site while `site` exists");
    assert!(
        combined(&other).contains("--name"),
        "name the fix\n{}",
        show(&other)
    );

    let values = env.git_stdout(
        &env.clone,
        &["config", "--get-all", "dispatch.site.repository"],
    );
    assert_eq!(values, "owner/site");

    env.dispatch_ok(&["add", "other/site", "--name", "other-site"]);
    assert_eq!(
        env.git_stdout(
            &env.clone,
            &["config", "--get", "dispatch.other-site.repository"]
        ),
        "other/site"
    );
}

#[test]
fn add_rejects_an_event_outside_1_to_100_characters() {
    let env = TestEnv::new();
    let long = "x".repeat(101);
    let out = env.dispatch(&["add", "owner/site", "--event", &long]);
    assert_exit(&out, 2, "a 101-character event");
    assert!(combined(&out).contains("100"), "{}", show(&out));
    let out = env.dispatch(&["add", "owner/site", "--event", ""]);
    assert_exit(&out, 2, "an empty event");

    let ok = "y".repeat(100);
    env.dispatch_ok(&["add", "owner/site", "--event", &ok]);
    assert_eq!(
        env.git_stdout(&env.clone, &["config", "--get", "dispatch.site.event"]),
        ok
    );
}

#[test]
fn add_shared_writes_gitdispatch() {
    let env = TestEnv::new();

    env.dispatch_ok(&["add", "owner/site", "--shared"]);

    let shared = env.clone.join(".gitdispatch");
    assert!(shared.is_file());
    assert_eq!(
        env.git_stdout(
            &env.clone,
            &[
                "config",
                "--file",
                ".gitdispatch",
                "--get",
                "dispatch.site.repository"
            ]
        ),
        "owner/site"
    );
    let local = env.git(
        &env.clone,
        &["config", "--local", "--get", "dispatch.site.repository"],
    );
    assert_eq!(
        local.status.code(),
        Some(1),
        "not in .git/config\n{}",
        show(&local)
    );
}

#[test]
fn remove_deletes_the_target() {
    let env = TestEnv::new();
    env.dispatch_ok(&["add", "owner/site"]);
    env.dispatch_ok(&["add", "owner/docs"]);

    env.dispatch_ok(&["remove", "site"]);

    let gone = env.git(&env.clone, &["config", "--get", "dispatch.site.repository"]);
    assert_eq!(gone.status.code(), Some(1), "{}", show(&gone));
    assert_eq!(
        env.git_stdout(&env.clone, &["config", "--get", "dispatch.docs.repository"]),
        "owner/docs"
    );
    let list = stdout(&env.dispatch_ok(&["list"]));
    assert!(!list.contains("owner/site"), "{list}");
    assert!(list.contains("owner/docs"), "{list}");

    let again = env.dispatch(&["remove", "site"]);
    assert!(
        !again.status.success(),
        "removing twice is an error\n{}",
        show(&again)
    );
}

#[test]
fn list_shows_targets_and_where_each_setting_came_from() {
    let env = TestEnv::new();
    env.dispatch_ok(&[
        "add",
        "owner/site",
        "--branch",
        "main",
        "--branch",
        "release",
    ]);

    let out = env.dispatch_ok(&["list"]);

    let text = stdout(&out);
    for expected in ["site", "owner/site", "main", "release", "origin", "update"] {
        assert!(
            text.contains(expected),
            "list should show {expected:?}\n{text}"
        );
    }
    assert!(
        text.contains(".git/config"),
        "where repository came from\n{text}"
    );
    assert!(
        text.contains("default"),
        "remote and event are defaults\n{text}"
    );
}

#[test]
fn send_dry_run_prints_the_request_and_sends_nothing() {
    let (fake, env) = installed();
    let sha = env.rev(&env.clone, "refs/remotes/origin/main");

    let out = env.dispatch(&["send", "--dry-run"]);

    assert_exit(&out, 0, "send --dry-run");
    let text = combined(&out);
    for expected in [
        "POST".to_string(),
        format!("{}/repos/owner/site/dispatches", fake.url()),
        "Authorization".to_string(),
        "X-GitHub-Api-Version".to_string(),
        API_VERSION.to_string(),
        ACCEPT.to_string(),
        user_agent(),
        "event_type".to_string(),
        "update".to_string(),
        "refs/heads/main".to_string(),
        sha.clone(),
    ] {
        assert!(
            text.contains(&expected),
            "dry run should show {expected:?}\n{text}"
        );
    }
    assert_no_token(&out, TOKEN, "send --dry-run");
    assert!(fake.requests().is_empty(), "{}", fake.describe());
}

#[test]
fn send_sends_even_when_already_delivered() {
    let (fake, env) = installed();
    let sha = env.commit(&env.clone, "post.md", "hello\n", "post");
    env.push_ok(&["origin", "main"]);
    env.wait_dispatched(&fake, 1);
    env.wait_settled(TIMEOUT);

    let out = env.dispatch(&["send"]);

    assert_exit(&out, 0, "send");
    let got = fake.dispatches();
    assert_eq!(got.len(), 2, "{}", fake.describe());
    assert_eq!(got[1].repository, "owner/site");
    assert_eq!(got[1].body["event_type"], "update");
    assert_eq!(got[1].body["client_payload"]["sha"], sha.as_str());
    assert_eq!(got[1].body["client_payload"]["ref"], "refs/heads/main");
    assert_headers(&got[1].request);

    env.dispatch_ok(&["send", "site"]);
    assert_eq!(fake.dispatches().len(), 3, "{}", fake.describe());
    let unknown = env.dispatch(&["send", "nosuchtarget"]);
    assert!(!unknown.status.success(), "{}", show(&unknown));
    assert_eq!(fake.dispatches().len(), 3);
}

#[test]
fn send_reports_a_refused_dispatch_with_exit_1() {
    let (fake, env) = installed();
    fake.respond_with(401);
    let out = env.dispatch(&["send"]);
    assert_exit(&out, 1, "send refused with 401");
    assert!(combined(&out).contains("401"), "{}", show(&out));
    assert_eq!(fake.requests().len(), 1, "{}", fake.describe());
}

#[test]
fn status_is_empty_and_exits_0_on_a_fresh_clone() {
    let (_fake, env) = installed();
    let status = env.status_json();
    assert!(entries(&status).is_empty(), "{status:#}");
    assert!(recent(&status).is_empty(), "{status:#}");
    assert_exit(&env.dispatch(&["status"]), 0, "status");
}

#[test]
fn login_stores_the_token_privately_and_pushes_use_it() {
    let fake = FakeGitHub::start();
    let mut env = TestEnv::with_fake(&fake);
    env.set_token(None);
    env.install();
    env.dispatch_ok(&["add", "owner/site"]);
    let credentials = env.credentials_path();
    assert!(!credentials.exists());

    let out = env.dispatch_with_stdin(&["login"], &format!("{TOKEN}\n"));

    assert_exit(&out, 0, "login");
    assert_no_token(&out, TOKEN, "login");
    assert!(
        credentials.is_file(),
        "login writes {}",
        credentials.display()
    );
    assert_eq!(mode(&credentials), 0o600);
    assert!(fs::read_to_string(&credentials).unwrap().contains(TOKEN));
    assert!(
        !fake.requests().is_empty(),
        "login checks the token against the API first"
    );

    let before = env.rev(&env.remote, "refs/heads/main");
    let sha = env.commit(&env.clone, "post.md", "hello\n", "post");
    env.push_ok(&["origin", "main"]);
    expect_one_dispatch(&env, &fake, &before, &sha);

    env.dispatch_ok(&["logout"]);
    let left = fs::read_to_string(&credentials).unwrap_or_default();
    assert!(!left.contains(TOKEN), "logout forgets the token");
}

#[test]
fn login_refuses_a_token_the_api_rejects() {
    let fake = FakeGitHub::start();
    let mut env = TestEnv::with_fake(&fake);
    env.set_token(None);
    env.dispatch_ok(&["add", "owner/site"]);
    let wrong = "github_pat_11WRONGTOKEN9zY8xW7vU6tS5rQ4pO3nM2lK1jI0hG";

    let out = env.dispatch_with_stdin(&["login"], &format!("{wrong}\n"));

    assert!(!out.status.success(), "{}", show(&out));
    assert_no_token(&out, wrong, "login with a bad token");
    let stored = fs::read_to_string(env.credentials_path()).unwrap_or_default();
    assert!(!stored.contains(wrong), "a rejected token is not stored");
    assert!(
        fake.requests().iter().any(|r| r.status == 401),
        "{}",
        fake.describe()
    );
}

#[test]
fn readable_credentials_file_names_the_fix() {
    let fake = FakeGitHub::start();
    let mut env = TestEnv::with_fake(&fake);
    env.set_token(None);
    env.dispatch_ok(&["add", "owner/site"]);
    let out = env.dispatch_with_stdin(&["login"], &format!("{TOKEN}\n"));
    assert_exit(&out, 0, "login");
    set_mode(&env.credentials_path(), 0o644);

    let out = env.dispatch(&["send"]);

    assert!(combined(&out).contains("chmod 600"), "{}", show(&out));
    assert_no_token(&out, TOKEN, "send with a readable token file");
}

#[test]
fn no_token_anywhere_names_every_way_to_provide_one() {
    let fake = FakeGitHub::start();
    let mut env = TestEnv::with_fake(&fake);
    env.set_token(None);
    env.install();
    env.dispatch_ok(&["add", "owner/site"]);
    let sha = env.commit(&env.clone, "post.md", "hello\n", "post");

    let out = env.push_ok(&["origin", "main"]);

    assert_push_output(&out);
    assert_eq!(env.rev(&env.remote, "refs/heads/main"), sha);
    let status = env.wait_status(TIMEOUT, "an entry with an error", |s| {
        entries(s).iter().any(|e| e["last_error"].is_string())
    });
    assert_eq!(entries(&status).len(), 1, "{status:#}");
    let out = env.dispatch(&["status"]);
    assert_exit(&out, 1, "status with an undelivered entry");
    let text = combined(&out);
    for fix in ["GIT_DISPATCH_TOKEN", "login", "tokenCommand"] {
        assert!(text.contains(fix), "status should name {fix}\n{text}");
    }
    assert!(fake.requests().is_empty(), "{}", fake.describe());
}

#[test]
fn malformed_hook_stdin_does_not_block_the_push() {
    let (fake, env) = installed();
    let url = env.git_stdout(&env.clone, &["config", "remote.origin.url"]);

    let out = env.dispatch_with_stdin(
        &["hook", "pre-push", "origin", &url],
        "this is not a push line\n",
    );

    assert_exit(&out, 0, "hook with garbage on stdin");
    let text = combined(&out);
    let lines = dispatch_lines(&text);
    assert_eq!(
        lines.len(),
        1,
        "one line about the bad input\n{}",
        show(&out)
    );
    assert_eq!(
        text.lines().filter(|l| !l.trim().is_empty()).count(),
        1,
        "nothing but that line\n{}",
        show(&out)
    );
    assert!(entries(&env.status_json()).is_empty());
    assert!(fake.requests().is_empty());
}

#[test]
fn doctor_reports_a_missing_hook() {
    let fake = FakeGitHub::start();
    let env = TestEnv::with_fake(&fake);
    env.dispatch_ok(&["add", "owner/site"]);

    let out = env.dispatch(&["doctor"]);

    assert_exit(&out, 1, "doctor without the hook");
    assert!(combined(&out).contains("install"), "{}", show(&out));
    assert_no_token(&out, TOKEN, "doctor");
}

#[test]
fn drop_of_an_unknown_id_fails() {
    let (_fake, env) = installed();
    let out = env.dispatch(&["drop", "no-such-entry"]);
    assert!(!out.status.success(), "{}", show(&out));
}

#[test]
fn a_closed_stdout_ends_each_report_quietly() {
    // `git dispatch doctor | head -1`: stdout's reader is gone before anything is written.
    let (fake, env) = installed();
    for args in [
        &["doctor"][..],
        &["list"],
        &["status"],
        &["send", "--dry-run"],
    ] {
        let (reader, writer) = std::io::pipe().expect("pipe");
        drop(reader);
        let mut cmd = env.dispatch_cmd(args);
        cmd.stdout(writer);

        let out = run(&mut cmd);

        let what = format!("git-dispatch {} | head -1", args.join(" "));
        assert_exit(&out, 0, &what);
        assert_eq!(stderr(&out), "", "{what} says nothing\n{}", show(&out));
    }
    let sent: Vec<_> = fake
        .requests()
        .into_iter()
        .filter(|r| r.method != "GET")
        .collect();
    assert!(sent.is_empty(), "{}", fake.describe());
}

#[test]
fn a_key_repeated_after_another_is_listed_once_per_value() {
    // `branch`, `event`, `branch`: an unsorted list of key names, which `dedup` left with
    // `branch` twice, so its values were read twice.
    let env = TestEnv::new();
    let config = env.clone.join(".git/config");
    let mut local = fs::read_to_string(&config).unwrap();
    local.push_str(
        "[dispatch \"site\"]\n\trepository = owner/site\n\tbranch = main\n\tevent = build\n\tbranch = release\n",
    );
    fs::write(&config, local).unwrap();

    let out = env.dispatch_ok(&["list"]);
    let text = stdout(&out);
    let row = text
        .lines()
        .find(|l| l.trim_start().starts_with("branch "))
        .unwrap_or_else(|| panic!("no branch row\n{text}"));
    let words: Vec<&str> = row.split_whitespace().collect();
    assert_eq!(words[..3], ["branch", "main,", "release"], "{row}");
    assert!(words[3].starts_with('('), "each branch once: {row}");
}

/// A clone with targets for `repos` (named after their owner and repo) and no token in the
/// environment, so `login` is what gives one.
fn targets_without_token(fake: &FakeGitHub, repos: &[&str]) -> TestEnv {
    let mut env = TestEnv::with_fake(fake);
    env.set_token(None);
    for repo in repos {
        let name = repo.replace('/', "-");
        env.dispatch_ok(&["add", repo, "--name", &name]);
    }
    env
}

const NARROW: &str = "github_pat_NARROW0123456789abcdefghij";

#[test]
fn login_stores_a_token_that_sees_some_targets_and_names_the_others_with_the_fix() {
    let fake = FakeGitHub::start();
    fake.add_token(NARROW, &["owner/site"]);
    let env = targets_without_token(&fake, &["owner/site", "owner/docs"]);

    let out = env.dispatch_with_stdin(&["login"], &format!("{NARROW}\n"));

    assert_exit(&out, 1, "login with a token that cannot see every target");
    let text = stderr(&out);
    assert!(
        text.contains("checked and stored") && text.contains("(it can see owner/site)"),
        "{text}"
    );
    assert!(
        text.contains(
            "owner/docs: GitHub shows this token no such repository; check the name \
             (`git dispatch list`), or add it to the token's repository access"
        ),
        "{text}"
    );
    assert!(fs::read_to_string(env.credentials_path())
        .unwrap()
        .contains(NARROW));
    assert_no_token(&out, NARROW, "login");
}

#[test]
fn login_names_another_owners_target_with_the_owner_flag() {
    let fake = FakeGitHub::start();
    fake.add_repo("other/site");
    fake.add_token(NARROW, &["owner/site"]);
    let env = targets_without_token(&fake, &["owner/site", "other/site"]);

    let out = env.dispatch_with_stdin(&["login"], &format!("{NARROW}\n"));

    assert_exit(&out, 1, "login with a token of one owner");
    assert!(
        stderr(&out).contains("give other its own with `git dispatch login --owner other`"),
        "{}",
        show(&out)
    );
}

#[test]
fn login_stores_nothing_when_the_token_sees_no_target_or_github_cannot_say() {
    let fake = FakeGitHub::start();
    fake.add_token(NARROW, &[]);
    let mut env = targets_without_token(&fake, &["owner/site", "owner/docs"]);

    let out = env.dispatch_with_stdin(&["login"], &format!("{NARROW}\n"));
    assert_exit(&out, 2, "login with a token that sees nothing");
    assert!(
        stderr(&out).contains("token not stored: it can see none"),
        "{}",
        show(&out)
    );
    assert!(!env.credentials_path().exists());

    // A 403 is not acceptance.
    fake.respond_with(403);
    let out = env.dispatch_with_stdin(&["login"], &format!("{TOKEN}\n"));
    assert_exit(&out, 2, "login answered 403");
    assert!(stderr(&out).contains("could not check"), "{}", show(&out));
    assert!(!env.credentials_path().exists());
    fake.respond_normally();

    // Nor is a network error.
    env.set_api_url(Some(&closed_port_url()));
    let out = env.dispatch_with_stdin(&["login"], &format!("{TOKEN}\n"));
    assert_exit(&out, 2, "login with GitHub unreachable");
    assert!(!env.credentials_path().exists());
}

#[test]
fn login_never_silently_replaces_a_token_that_serves_a_target_the_new_one_cannot_see() {
    let fake = FakeGitHub::start();
    fake.add_token(NARROW, &["owner/site"]);
    let env = targets_without_token(&fake, &["owner/site", "owner/docs"]);
    let first = env.dispatch_with_stdin(&["login"], &format!("{TOKEN}\n"));
    assert_exit(&first, 0, "login with a token that sees both");

    let out = env.dispatch_with_stdin(&["login"], &format!("{NARROW}\n"));

    assert_exit(&out, 2, "login that would lose owner/docs");
    assert!(
        stderr(&out).contains("serves owner/docs, which this one cannot see"),
        "{}",
        show(&out)
    );
    let stored = fs::read_to_string(env.credentials_path()).unwrap();
    assert!(
        stored.contains(TOKEN) && !stored.contains(NARROW),
        "kept the old token"
    );
}

#[test]
fn each_documented_exit_code_is_what_the_shell_sees() {
    // 0 ok, 1 something to report, 2 usage or internal error (doc/DESIGN.md, man page).
    let (fake, env) = installed();
    assert_exit(&env.dispatch(&["status"]), 0, "status with nothing pending");
    assert_exit(&env.dispatch(&["--version"]), 0, "--version");
    fake.respond_with(404);
    env.commit(&env.clone, "post.md", "post\n", "post");
    env.push_ok(&["origin", "main"]);
    env.wait_for_error("failed", TIMEOUT);
    assert_exit(&env.dispatch(&["status"]), 1, "status with a failed entry");
    assert_exit(&env.dispatch(&["doctor"]), 1, "doctor with a problem");
    assert_exit(&env.dispatch(&["no-such-command"]), 2, "a usage error");
    assert_exit(
        &env.dispatch(&["drop", "ffffffffffff"]),
        2,
        "drop of no entry",
    );
    let outside = env.root.join("not-a-repo");
    fs::create_dir_all(&outside).unwrap();
    assert_exit(
        &env.dispatch_in(&outside, &["status"]),
        2,
        "outside a repository",
    );
}

#[test]
fn login_for_one_owner_never_takes_a_repository_from_the_host_wide_token() {
    // `token::find` prefers host/owner: storing it for `owner` would take owner/docs from
    // the host-wide token that sees it.
    let fake = FakeGitHub::start();
    fake.add_token(NARROW, &["owner/site"]);
    let env = targets_without_token(&fake, &["owner/site", "owner/docs"]);
    let first = env.dispatch_with_stdin(&["login"], &format!("{TOKEN}\n"));
    assert_exit(&first, 0, "a host-wide token that sees both");

    let out = env.dispatch_with_stdin(&["login", "--owner", "owner"], &format!("{NARROW}\n"));
    assert_exit(&out, 2, "login --owner that would lose owner/docs");
    assert!(
        stderr(&out).contains("serves owner/docs, which this one cannot see"),
        "{}",
        show(&out)
    );
    assert!(!fs::read_to_string(env.credentials_path())
        .unwrap()
        .contains(NARROW));
}

#[test]
fn a_host_wide_login_leaves_out_owners_with_their_own_token() {
    let fake = FakeGitHub::start();
    fake.add_repo("other/site");
    fake.add_token(NARROW, &["other/site"]);
    let env = targets_without_token(&fake, &["owner/site", "other/site"]);
    let out = env.dispatch_with_stdin(&["login", "--owner", "other"], &format!("{NARROW}\n"));
    assert_exit(&out, 0, "login --owner other");

    let out = env.dispatch_with_stdin(&["login"], &format!("{TOKEN}\n"));
    assert_exit(&out, 0, "the host-wide token serves owner/site only now");
    assert!(!stderr(&out).contains("other/site"), "{}", show(&out));
}
