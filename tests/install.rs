//! Installing the hook: idempotence, foreign hooks, core.hooksPath, linked
//! worktrees, and how the shim finds (or misses) the binary.
#![cfg(unix)]

mod support;

use std::collections::BTreeSet;
use std::fs;
use std::path::Path;

use support::*;

fn file_names(dir: &Path) -> BTreeSet<String> {
    fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("read {}: {e}", dir.display()))
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect()
}

/// A foreign pre-push hook that logs its arguments, whether it saw the token,
/// and its stdin to `log`, then exits with `code`.
fn foreign_hook(log: &Path, code: i32) -> String {
    let log = sh_quote(log.to_str().unwrap());
    format!(
        "#!/bin/sh\n# someone else's hook\n\
         echo \"args: $*\" >> {log}\n\
         echo \"token: ${{GIT_DISPATCH_TOKEN:-unset}}\" >> {log}\n\
         cat >> {log}\n\
         exit {code}\n"
    )
}

#[test]
fn install_twice_writes_an_identical_hook_and_uninstall_removes_it() {
    let env = TestEnv::new();
    let hook = env.hook_path();
    assert!(!hook.exists(), "a fresh clone has no pre-push hook");

    let out = env.install();
    assert_no_token(&out, TOKEN, "install");

    let first = fs::read(&hook).unwrap_or_else(|e| panic!("read {}: {e}", hook.display()));
    let text = String::from_utf8_lossy(&first);
    assert!(text.starts_with("#!"), "the hook is a script:\n{text}");
    assert!(text.contains("git-dispatch"), "{text}");
    assert!(
        text.contains("GIT_DISPATCH"),
        "the shim honours GIT_DISPATCH:\n{text}"
    );
    assert!(text.contains("GIT_DISPATCH_BIN"), "{text}");
    assert_ne!(mode(&hook) & 0o111, 0, "the hook is executable");

    env.install();
    let second = fs::read(&hook).unwrap();
    assert_eq!(first, second, "installing twice must write the same bytes");

    env.dispatch_ok(&["uninstall"]);
    assert!(!hook.exists(), "uninstall removes the hook");
    assert!(
        env.hooks_dir(&env.clone).is_dir(),
        "and keeps the hooks dir"
    );
}

#[test]
fn foreign_hook_runs_with_the_same_arguments_and_stdin() {
    let fake = FakeGitHub::start();
    let env = TestEnv::with_fake(&fake);
    let log = env.root.join("foreign.log");
    write_script(&env.hook_path(), &foreign_hook(&log, 0));
    env.install();
    env.dispatch_ok(&["add", "owner/site"]);
    let url = env.git_stdout(&env.clone, &["config", "remote.origin.url"]);
    let before = env.rev(&env.remote, "refs/heads/main");
    let sha = env.commit(&env.clone, "post.md", "hello\n", "post");

    let out = env.push_ok(&["origin", "main"]);

    assert_push_output(&out);
    let logged = fs::read_to_string(&log).expect("the foreign hook ran");
    assert!(
        logged.contains(&format!("args: origin {url}\n")),
        "arguments: {logged}"
    );
    assert!(
        logged.contains(&format!("refs/heads/main {sha} refs/heads/main {before}\n")),
        "stdin: {logged}"
    );
    assert!(
        logged.contains("token: unset\n"),
        "the displaced hook must not see GIT_DISPATCH_TOKEN: {logged}"
    );
    expect_one_dispatch(&env, &fake, &before, &sha);
}

#[test]
fn failing_foreign_hook_fails_the_push_and_records_nothing() {
    let fake = FakeGitHub::start();
    let env = TestEnv::with_fake(&fake);
    let log = env.root.join("foreign.log");
    write_script(&env.hook_path(), &foreign_hook(&log, 1));
    env.install();
    env.dispatch_ok(&["add", "owner/site"]);
    let before = env.rev(&env.remote, "refs/heads/main");
    env.commit(&env.clone, "post.md", "hello\n", "post");

    let out = env.push(&["origin", "main"]);

    assert!(
        !out.status.success(),
        "the foreign hook said no\n{}",
        show(&out)
    );
    assert!(log.exists(), "the foreign hook ran");
    assert_eq!(env.rev(&env.remote, "refs/heads/main"), before);
    let status = env.status_json();
    assert!(entries(&status).is_empty(), "nothing recorded: {status:#}");
    env.wait_settled(TIMEOUT);
    assert!(fake.requests().is_empty(), "{}", fake.describe());
}

#[test]
fn uninstall_restores_the_foreign_hook_byte_for_byte() {
    let env = TestEnv::new();
    let hook = env.hook_path();
    let hooks = env.hooks_dir(&env.clone);
    let original = "#!/bin/sh\n# someone else's hook, with a trailing space \n\texit 0\n";
    write_script(&hook, original);
    set_mode(&hook, 0o750);
    let names_before = file_names(&hooks);

    env.install();
    let ours = fs::read_to_string(&hook).unwrap();
    assert_ne!(ours, original, "install puts our hook in place");
    env.install();
    assert_eq!(fs::read_to_string(&hook).unwrap(), ours);

    env.dispatch_ok(&["uninstall"]);

    assert_eq!(fs::read_to_string(&hook).unwrap(), original);
    assert_eq!(mode(&hook), 0o750, "the mode is restored too");
    assert_eq!(file_names(&hooks), names_before, "nothing left behind");
}

#[test]
fn install_writes_into_core_hooks_path_inside_the_repo() {
    let fake = FakeGitHub::start();
    let env = TestEnv::with_fake(&fake);
    fs::create_dir_all(env.clone.join(".githooks")).unwrap();
    env.git_ok(&env.clone, &["config", "core.hooksPath", ".githooks"]);

    env.install();

    assert!(env.clone.join(".githooks/pre-push").is_file());
    assert!(env.clone.join(".git/hooks").is_dir());
    assert!(!env.clone.join(".git/hooks/pre-push").exists());
    env.dispatch_ok(&["add", "owner/site"]);
    env.commit(&env.clone, "post.md", "hello\n", "post");
    env.push_ok(&["origin", "main"]);
    env.wait_dispatched(&fake, 1);
}

#[test]
fn install_refuses_a_hooks_path_outside_the_repo_without_force() {
    let env = TestEnv::new();
    let shared = env.root.join("shared-hooks");
    fs::create_dir_all(&shared).unwrap();
    env.git_ok(
        &env.clone,
        &["config", "core.hooksPath", shared.to_str().unwrap()],
    );

    let out = env.dispatch(&["install"]);

    assert_exit(&out, 2, "install into a hooks dir outside the repository");
    assert!(combined(&out).contains("--force"), "{}", show(&out));
    assert!(shared.is_dir());
    assert!(!shared.join("pre-push").exists());

    env.dispatch_ok(&["install", "--force"]);
    assert!(shared.join("pre-push").is_file());
}

#[test]
fn linked_worktree_push_dispatches() {
    let (fake, env) = installed();
    let wt = env.root.join("wt");
    env.git_ok(
        &env.clone,
        &[
            "worktree",
            "add",
            "--quiet",
            wt.to_str().unwrap(),
            "-b",
            "wtbranch",
        ],
    );
    let hook = env.hook_path();
    let ours = fs::read(&hook).unwrap();
    // Installing from the worktree finds the same, shared hooks dir.
    assert_eq!(env.hooks_dir(&wt), env.hooks_dir(&env.clone));
    let out = env.dispatch_in(&wt, &["install"]);
    assert_exit(&out, 0, "install from a linked worktree");
    assert_eq!(fs::read(&hook).unwrap(), ours);

    let before = env.rev(&env.remote, "refs/heads/main");
    let sha = env.commit(&wt, "wt.md", "from the worktree\n", "from wt");
    let out = env.git_ok(&wt, &["push", "origin", "HEAD:main"]);

    assert_push_output(&out);
    expect_one_dispatch(&env, &fake, &before, &sha);
}

/// Install with a copy of the binary, then delete the copy: the shim's
/// absolute path now points nowhere.
fn install_with_vanished_copy(env: &TestEnv) {
    let dir = env.root.join("bin-copy");
    fs::create_dir_all(&dir).unwrap();
    let copy = dir.join("git-dispatch");
    // Copy with cp, not fs::copy: a write handle held in this multi-threaded test process
    // can leak into another test's fork and make exec fail with ETXTBSY.
    let status = std::process::Command::new("cp")
        .arg(bin())
        .arg(&copy)
        .status()
        .expect("run cp");
    assert!(status.success(), "copy the binary");
    let mut cmd = env.program_cmd(&copy, &env.clone, &["install"]);
    cmd.env("PATH", env.path_without_binary());
    expect_success(&mut cmd);
    env.dispatch_ok(&["add", "owner/site"]);
    fs::remove_file(&copy).unwrap();
    assert!(dir.is_dir() && !copy.exists());
}

#[test]
fn missing_binary_warns_once_and_does_not_block_the_push() {
    let fake = FakeGitHub::start();
    let mut env = TestEnv::with_fake(&fake);
    install_with_vanished_copy(&env);
    env.set_var("PATH", env.path_without_binary());
    let sha = env.commit(&env.clone, "post.md", "hello\n", "post");

    let out = env.push_ok(&["origin", "main"]);

    assert_push_output(&out);
    let lines = dispatch_lines(&stderr(&out));
    assert_eq!(lines.len(), 1, "one warning line\n{}", show(&out));
    assert_eq!(env.rev(&env.remote, "refs/heads/main"), sha);
    assert!(fake.requests().is_empty());
}

#[test]
fn shim_finds_the_binary_through_git_dispatch_bin() {
    let fake = FakeGitHub::start();
    let mut env = TestEnv::with_fake(&fake);
    install_with_vanished_copy(&env);
    env.set_var("PATH", env.path_without_binary());
    env.set_var("GIT_DISPATCH_BIN", bin());
    let sha = env.commit(&env.clone, "post.md", "hello\n", "post");

    let out = env.push_ok(&["origin", "main"]);

    assert_push_output(&out);
    let got = env.wait_dispatched(&fake, 1);
    assert_eq!(got[0].body["client_payload"]["sha"], sha.as_str());
}

#[test]
fn shim_finds_the_binary_on_path() {
    let fake = FakeGitHub::start();
    let env = TestEnv::with_fake(&fake);
    install_with_vanished_copy(&env);
    let sha = env.commit(&env.clone, "post.md", "hello\n", "post");

    let out = env.push_ok(&["origin", "main"]);

    assert_push_output(&out);
    let got = env.wait_dispatched(&fake, 1);
    assert_eq!(got[0].body["client_payload"]["sha"], sha.as_str());
}

#[test]
fn install_outside_a_repository_exits_2() {
    let env = TestEnv::new();
    let outside = env.root.join("not-a-repo");
    fs::create_dir_all(&outside).unwrap();
    let mut cmd = env.program_cmd(&bin(), &outside, &["install"]);
    cmd.env("GIT_CEILING_DIRECTORIES", &env.root);

    let out = run(&mut cmd);

    assert_exit(&out, 2, "install outside a repository");
    assert!(!combined(&out).is_empty());
    assert_eq!(file_names(&outside).len(), 0, "nothing written");
}
