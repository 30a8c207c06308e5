//! Bad input, one kind per test: each gets one clear line naming the fix, exit 1 or 2
//! where the user ran a command, the push unharmed, and nothing pending lost.

use std::fs;
use std::process::Command;

use crate::support::*;

const ZEROS: &str = "0000000000000000000000000000000000000000";

/// A clone with one undelivered entry (the network was down), its failure already reported.
fn env_with_pending() -> (FakeGitHub, TestEnv, String) {
    let fake = FakeGitHub::start();
    let mut env = TestEnv::with_fake(&fake);
    env.install();
    env.dispatch_ok(&["add", "owner/site"]);
    env.set_api_url(Some(&closed_port_url()));
    env.commit(&env.clone, "post.md", "post\n", "post");
    env.push_ok(&["origin", "main"]);
    let status = env.wait_for_error("confirmed", TIMEOUT);
    let id = entries(&status)[0]["id"].as_str().unwrap().to_string();
    // A feature push consumes the "not delivered" report, so later output is only ours.
    env.git_ok(&env.clone, &["checkout", "--quiet", "-b", "feature"]);
    env.commit(&env.clone, "wip.md", "wip\n", "wip");
    let out = env.push_ok(&["origin", "feature"]);
    assert_eq!(dispatch_lines(&stderr(&out)).len(), 1, "{}", show(&out));
    env.set_api_url(Some(&fake.url()));
    (fake, env, id)
}

fn hook(env: &TestEnv, input: &[u8]) -> std::process::Output {
    let url = env.remote.to_str().unwrap().to_string();
    let mut cmd = env.dispatch_cmd(&["hook", "pre-push", "origin", &url]);
    run_with_stdin(&mut cmd, input)
}

fn assert_pending_kept(env: &TestEnv, id: &str) {
    let status = env.status_json();
    let list = entries(&status);
    assert_eq!(list.len(), 1, "{status:#}");
    assert_eq!(list[0]["id"], id, "{status:#}");
}

#[test]
fn garbage_on_the_hook_stdin_is_one_line_and_loses_nothing() {
    let (fake, env, id) = env_with_pending();
    let sha = env.rev(&env.clone, "HEAD");
    let long = format!(
        "refs/heads/main {sha} refs/heads/{} {ZEROS}\n",
        "x".repeat(100_000)
    );
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("words", b"hello world\n".to_vec()),
        (
            "NUL bytes",
            format!("refs/heads/main {sha}\0 refs/heads/main {ZEROS}\n").into_bytes(),
        ),
        ("invalid UTF-8", b"refs/heads/\xff\xfe main\n".to_vec()),
        ("a very long line", long.into_bytes()),
        (
            "three fields",
            format!("refs/heads/main {sha} refs/heads/main\n").into_bytes(),
        ),
        (
            "a short sha",
            format!("refs/heads/main abc123 refs/heads/main {ZEROS}\n").into_bytes(),
        ),
        (
            "a ref that is not full",
            format!("main {sha} main {ZEROS}\n").into_bytes(),
        ),
        (
            "a ref with a space",
            format!("refs/heads/a b {sha} refs/heads/a b {ZEROS}\n").into_bytes(),
        ),
    ];
    for (what, input) in cases {
        let out = hook(&env, &input);
        assert_exit(&out, 0, what);
        let lines = dispatch_lines(&combined(&out));
        assert_eq!(lines.len(), 1, "{what}: one line\n{}", show(&out));
        assert!(
            lines[0].contains("pre-push input") && lines[0].contains("no dispatch"),
            "{what}: {}",
            lines[0]
        );
        assert!(lines[0].len() < 300, "{what}: fits one line: {}", lines[0]);
        assert_pending_kept(&env, &id);
    }
    assert!(fake.requests().is_empty());
}

#[test]
fn odd_but_valid_hook_input_is_quiet() {
    let (fake, env, id) = env_with_pending();
    let sha = env.rev(&env.clone, "HEAD");
    for (what, input) in [
        ("empty input", String::new()),
        ("blank lines", "\n\n".to_string()),
        (
            "CRLF line ends",
            format!("refs/heads/f {sha} refs/heads/f {ZEROS}\r\n"),
        ),
        (
            "a unicode branch",
            format!("refs/heads/ünï {sha} refs/heads/ünï {ZEROS}\n"),
        ),
        (
            "a tag",
            format!("refs/tags/v1 {sha} refs/tags/v1 {ZEROS}\n"),
        ),
        (
            "a deletion of main",
            format!("(delete) {ZEROS} refs/heads/main {sha}\n"),
        ),
    ] {
        let out = hook(&env, input.as_bytes());
        assert_exit(&out, 0, what);
        assert!(
            combined(&out).trim().is_empty(),
            "{what}: silent\n{}",
            show(&out)
        );
        assert_pending_kept(&env, &id);
    }
    assert!(fake.requests().is_empty());
}

#[test]
fn config_values_of_the_wrong_type_are_named_and_defaults_used() {
    let (fake, env) = installed();
    for (key, value) in [
        ("dispatch.timeout", "soon"),
        ("dispatch.strict", "maybe"),
        ("dispatch.when", "sometimes"),
        ("dispatch.bad.repository", "owner/bad"),
        ("dispatch.bad.payload", "[1, 2]"),
        ("dispatch.empty.repository", "owner/empty"),
        ("dispatch.empty.event", ""),
        ("dispatch.norepo.event", "update"),
    ] {
        env.git_ok(&env.clone, &["config", key, value]);
    }

    let out = env.dispatch(&["list"]);
    assert_exit(&out, 1, "list with bad values");
    let text = stderr(&out);
    for needle in [
        "dispatch.timeout = \"soon\"",
        "dispatch.strict = \"maybe\"",
        "dispatch.when = \"sometimes\"",
        "target \"bad\" skipped: payload must be a JSON object",
        "target \"empty\" skipped: event \"\" has 0 characters",
        "target \"norepo\" skipped: no repository",
    ] {
        assert!(text.contains(needle), "{needle:?} in\n{text}");
    }
    assert!(text.contains("git config"), "names the fix\n{text}");

    // The push goes through, the good target still fires, each problem is one line.
    let before = env.rev(&env.clone, "HEAD");
    let sha = env.commit(&env.clone, "post.md", "post\n", "post");
    let out = env.push_ok(&["origin", "main"]);
    assert_push_output(&out);
    let got = env.wait_dispatched(&fake, 1);
    env.wait_settled(TIMEOUT);
    assert_eq!(fake.dispatches().len(), 1, "{}", fake.describe());
    assert_dispatch(&got[0], "owner/site", "refs/heads/main", &before, &sha);
}

#[test]
fn no_targets_means_a_silent_push() {
    let fake = FakeGitHub::start();
    let env = TestEnv::with_fake(&fake);
    env.install();
    env.commit(&env.clone, "post.md", "post\n", "post");
    let out = env.push_ok(&["origin", "main"]);
    assert!(dispatch_lines(&stderr(&out)).is_empty(), "{}", show(&out));
    assert!(entries(&env.status_json()).is_empty());
    assert!(fake.requests().is_empty());
    // The positive half: the same clone with a target does dispatch.
    env.dispatch_ok(&["add", "owner/site"]);
    env.commit(&env.clone, "more.md", "more\n", "more");
    env.push_ok(&["origin", "main"]);
    env.wait_dispatched(&fake, 1);
}

#[test]
fn a_broken_git_dir_is_a_clear_error_and_never_blocks_a_hook() {
    let env = TestEnv::new();
    let broken = env.root.join("broken");
    fs::create_dir_all(&broken).unwrap();
    fs::write(
        broken.join(".git"),
        "gitdir: /nonexistent/git-dispatch-test\n",
    )
    .unwrap();
    let mut cmd = env.program_cmd(&bin(), &broken, &["status"]);
    cmd.env("GIT_CEILING_DIRECTORIES", &env.root);
    let out = run(&mut cmd);
    assert_exit(&out, 2, "status in a broken repository");
    let lines = dispatch_lines(&stderr(&out));
    assert_eq!(lines.len(), 1, "{}", show(&out));
    assert!(lines[0].contains("git repository"), "{}", lines[0]);

    let mut cmd = env.program_cmd(&bin(), &broken, &["hook", "pre-push", "origin", "x"]);
    cmd.env("GIT_CEILING_DIRECTORIES", &env.root);
    let out = run_with_stdin(&mut cmd, b"");
    assert_exit(&out, 0, "the hook in a broken repository");
    assert_eq!(dispatch_lines(&stderr(&out)).len(), 1, "{}", show(&out));
}

/// `send` with no token in the environment and `credentials` as the credentials file.
fn send_with_credentials(
    write: impl FnOnce(&std::path::Path),
) -> (FakeGitHub, std::process::Output) {
    let fake = FakeGitHub::start();
    let mut env = TestEnv::with_fake(&fake);
    env.set_token(None);
    env.dispatch_ok(&["add", "owner/site"]);
    let path = env.credentials_path();
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    write(&path);
    let out = env.dispatch(&["send"]);
    (fake, out)
}

fn host_key(fake: &FakeGitHub) -> String {
    fake.url().trim_start_matches("http://").to_string()
}

/// Puts something at the credentials path.
type WriteFile = Box<dyn FnOnce(&std::path::Path)>;

#[test]
fn credentials_file_problems_each_name_the_fix() {
    let cases: Vec<(&str, WriteFile, &str)> = vec![
        (
            "empty",
            Box::new(|p| {
                fs::write(p, "").unwrap();
                set_mode(p, 0o600);
            }),
            "git dispatch login",
        ),
        (
            "a directory",
            Box::new(|p| fs::create_dir_all(p).unwrap()),
            "is a directory; remove it",
        ),
        (
            "a bare token, not JSON",
            Box::new(|p| {
                fs::write(p, format!("{TOKEN}\n")).unwrap();
                set_mode(p, 0o600);
            }),
            "not a git-dispatch credentials file",
        ),
        (
            "readable by others",
            Box::new(|p| {
                fs::write(p, "{}").unwrap();
                set_mode(p, 0o644);
            }),
            "chmod 600",
        ),
    ];
    for (what, write, fix) in cases {
        let (fake, out) = send_with_credentials(write);
        assert_exit(&out, 1, what);
        let text = stderr(&out);
        assert!(text.contains(fix), "{what}: {fix:?} in\n{text}");
        assert_eq!(dispatch_lines(&text).len(), 1, "{what}\n{text}");
        assert_no_token(&out, TOKEN, what);
        assert!(fake.dispatches().is_empty(), "{what}");
    }
}

#[test]
fn a_stored_token_with_crlf_still_works() {
    let fake = FakeGitHub::start();
    let mut env = TestEnv::with_fake(&fake);
    env.set_token(None);
    env.dispatch_ok(&["add", "owner/site"]);
    let path = env.credentials_path();
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    let json = serde_json::json!({ host_key(&fake): format!("{TOKEN}\r\n") });
    fs::write(&path, json.to_string()).unwrap();
    set_mode(&path, 0o600);
    let out = env.dispatch(&["send"]);
    assert_exit(&out, 0, "send with a CRLF-terminated stored token");
    assert_eq!(fake.dispatches().len(), 1, "{}", fake.describe());
}

#[test]
fn token_command_problems_each_name_the_fix() {
    for (what, command, fix) in [
        (
            "fails",
            "echo boom >&2; exit 3",
            "dispatch.tokenCommand failed (exit status: 3): boom",
        ),
        ("hangs", "sleep 30", "took over 1s"),
        ("prints nothing", "true", "dispatch.tokenCommand is empty"),
        (
            "prints two words",
            "echo two words",
            "spaces or control characters",
        ),
    ] {
        let fake = FakeGitHub::start();
        let mut env = TestEnv::with_fake(&fake);
        env.set_token(None);
        env.dispatch_ok(&["add", "owner/site"]);
        env.git_ok(&env.clone, &["config", "dispatch.tokenCommand", command]);
        env.git_ok(&env.clone, &["config", "dispatch.timeout", "1"]);
        let out = env.dispatch(&["send"]);
        assert_exit(&out, 1, what);
        let text = stderr(&out);
        assert!(text.contains(fix), "{what}: {fix:?} in\n{text}");
        assert_eq!(dispatch_lines(&text).len(), 1, "{what}\n{text}");
        assert!(fake.dispatches().is_empty(), "{what}");
    }
}

#[test]
fn ls_remote_runs_without_the_token() {
    let (fake, env) = installed();
    // No fetch refspec: no remote-tracking ref, so the waiter must ask the remote. The
    // remote's upload-pack (what `git ls-remote` runs on a local remote) records its
    // environment, which it inherits from ls-remote.
    env.git_ok(
        &env.clone,
        &["config", "--unset-all", "remote.origin.fetch"],
    );
    let record = env.root.join("ls-remote-env");
    let wrapper = env.root.join("wrappers/upload-pack");
    write_script(
        &wrapper,
        &format!(
            "#!/bin/sh\nenv > {}\nexec git-upload-pack \"$@\"\n",
            sh_quote(record.to_str().unwrap())
        ),
    );
    env.git_ok(
        &env.clone,
        &[
            "config",
            "remote.origin.uploadpack",
            wrapper.to_str().unwrap(),
        ],
    );

    let sha = env.commit(&env.clone, "post.md", "post\n", "post");
    env.push_ok(&["origin", "main"]);
    let got = env.wait_dispatched(&fake, 1);
    assert_eq!(got[0].body["client_payload"]["sha"], sha.as_str());
    let seen = fs::read_to_string(&record).expect("the waiter ran git ls-remote");
    assert!(seen.contains("GIT_TERMINAL_PROMPT=0"), "{seen}");
    assert!(!seen.contains("GIT_DISPATCH_TOKEN"), "{seen}");
    assert!(find_secret(seen.as_bytes(), TOKEN).is_none());
}

#[test]
fn login_under_umask_0_still_writes_a_private_file() {
    let fake = FakeGitHub::start();
    let mut env = TestEnv::with_fake(&fake);
    env.set_token(None);
    let mut cmd = Command::new("sh");
    cmd.args(["-c", "umask 0; exec git-dispatch login"])
        .current_dir(&env.clone);
    env.apply_env(&mut cmd);
    let out = run_with_stdin(&mut cmd, format!("{TOKEN}\n").as_bytes());
    assert_exit(&out, 0, "login");
    let path = env.credentials_path();
    assert_eq!(mode(&path), 0o600);
    assert_eq!(mode(path.parent().unwrap()), 0o700);
    let dir: Vec<_> = fs::read_dir(path.parent().unwrap()).unwrap().collect();
    assert_eq!(dir.len(), 1, "no temporary file left behind");
}

#[test]
fn a_displaced_hook_that_cannot_run_stops_the_push_as_git_would() {
    let fake = FakeGitHub::start();
    let env = TestEnv::with_fake(&fake);
    write_script(&env.hook_path(), "#!/nonexistent/interpreter\nexit 0\n");
    env.install();
    env.dispatch_ok(&["add", "owner/site"]);
    env.commit(&env.clone, "post.md", "post\n", "post");
    let out = env.push(&["origin", "main"]);
    assert!(!out.status.success(), "the push stops\n{}", show(&out));
    let lines = dispatch_lines(&stderr(&out));
    assert_eq!(lines.len(), 1, "{}", show(&out));
    assert!(
        lines[0].contains("pre-push.before-git-dispatch") && lines[0].contains("fix that hook"),
        "{}",
        lines[0]
    );
    assert!(entries(&env.status_json()).is_empty(), "nothing recorded");
    // Removing the broken hook lets the push through, with its dispatch.
    fs::remove_file(
        env.hooks_dir(&env.clone)
            .join("pre-push.before-git-dispatch"),
    )
    .unwrap();
    env.push_ok(&["origin", "main"]);
    env.wait_dispatched(&fake, 1);
}

#[test]
fn a_full_ref_as_branch_is_refused_from_every_source_with_the_fix() {
    let (fake, env) = installed();
    // `--branch` on the command line: refused before anything is written.
    let out = env.dispatch(&["add", "owner/docs", "--branch", "refs/heads/main"]);
    assert_exit(&out, 2, "add --branch refs/heads/main");
    assert!(
        stderr(&out).contains("should be a branch name like \"main\""),
        "{}",
        show(&out)
    );
    // The same value in .git/config, and in a trusted .gitdispatch: the target is skipped
    // with a line naming the key and the file, never silently kept to match nothing.
    env.git_ok(
        &env.clone,
        &["config", "dispatch.local.repository", "owner/local"],
    );
    env.git_ok(
        &env.clone,
        &["config", "dispatch.local.branch", "refs/heads/main"],
    );
    fs::write(
        env.clone.join(".gitdispatch"),
        "[dispatch \"shared\"]\n\trepository = owner/shared\n\tbranch = refs/heads/main\n",
    )
    .unwrap();
    env.dispatch_ok(&["trust"]);
    let out = env.dispatch(&["list"]);
    assert_exit(&out, 1, "list with a full ref as branch");
    let text = stderr(&out);
    for name in ["local", "shared"] {
        assert!(
            text.contains(&format!(
                "target \"{name}\" skipped: branch \"refs/heads/main\" should be a branch name like \"main\""
            )) && text.contains(&format!("fix dispatch.{name}.branch in ")),
            "{name}:\n{text}"
        );
    }
    assert!(text.contains(".gitdispatch") && text.contains("config"));
    // `send` refuses to build refs/heads/refs/heads/main for it.
    let out = env.dispatch(&["send", "local", "--dry-run"]);
    assert_exit(&out, 2, "send of a skipped target");
    assert!(
        !combined(&out).contains("refs/heads/refs/heads"),
        "{}",
        show(&out)
    );

    // The push goes on, and the valid target still fires once.
    env.commit(&env.clone, "post.md", "post\n", "post");
    let out = env.push_ok(&["origin", "main"]);
    assert_push_output(&out);
    env.wait_dispatched(&fake, 1);
    env.wait_settled(TIMEOUT);
    let got = fake.dispatches();
    assert_eq!(got.len(), 1, "{}", fake.describe());
    assert_eq!(got[0].repository, "owner/site");
}

#[test]
fn one_bad_branch_value_is_dropped_and_the_targets_other_branches_still_fire() {
    let (fake, env) = installed();
    env.git_ok(
        &env.clone,
        &["config", "--add", "dispatch.site.branch", "main"],
    );
    env.git_ok(
        &env.clone,
        &[
            "config",
            "--add",
            "dispatch.site.branch",
            "refs/heads/release",
        ],
    );
    let out = env.dispatch(&["list"]);
    assert_exit(&out, 1, "list with one bad branch");
    assert!(
        stderr(&out).contains("target \"site\": branch \"refs/heads/release\" should be a branch name like \"release\"")
            && stderr(&out).contains("its other branches fire"),
        "{}",
        show(&out)
    );
    env.commit(&env.clone, "post.md", "post\n", "post");
    env.push_ok(&["origin", "main"]);
    env.wait_dispatched(&fake, 1);
    env.wait_settled(TIMEOUT);
    assert_eq!(fake.dispatches().len(), 1, "{}", fake.describe());
}
