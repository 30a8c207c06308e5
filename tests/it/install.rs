//! Installing the hook: idempotence, the two forms (a link to the binary, or the shim when a
//! foreign hook is chained), foreign hooks, core.hooksPath, linked worktrees, and how the
//! hook finds (or misses) the binary.

use std::collections::BTreeSet;
use std::fs;
use std::path::Path;

use crate::support::*;

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
fn install_twice_links_the_binary_and_uninstall_removes_the_link() {
    let env = TestEnv::unprivileged();
    let hook = env.hook_path();
    assert!(!hook.exists(), "a fresh clone has no pre-push hook");

    let out = env.install();
    assert_no_token(&out, TOKEN, "install");

    let target = fs::read_link(&hook)
        .unwrap_or_else(|e| panic!("with nothing to chain the hook is a link: {e}"));
    assert_eq!(
        target,
        fs::canonicalize(bin()).unwrap(),
        "git runs the binary itself, with no shell in between"
    );
    assert_ne!(mode(&hook) & 0o111, 0, "the hook is executable");

    let again = env.install();
    assert!(
        stderr(&again).contains("hook already installed"),
        "{}",
        show(&again)
    );
    assert_eq!(fs::read_link(&hook).unwrap(), target, "the same link");

    env.dispatch_ok(&["uninstall"]);
    assert!(
        fs::symlink_metadata(&hook).is_err(),
        "uninstall removes the link"
    );
    assert!(bin().is_file(), "and not the binary it pointed to");
    assert!(
        env.hooks_dir(&env.clone).is_dir(),
        "and keeps the hooks dir"
    );
}

#[test]
fn a_chained_hook_gets_the_shim_and_losing_it_brings_back_the_link() {
    let env = TestEnv::unprivileged();
    let hook = env.hook_path();
    write_script(&hook, "#!/bin/sh\nexit 0\n");
    let displaced = env
        .hooks_dir(&env.clone)
        .join("pre-push.before-git-dispatch");

    env.install();

    let text = fs::read_to_string(&hook).expect("the shim is a script");
    assert!(text.starts_with("#!/bin/sh\n"), "{text}");
    assert!(text.contains("# installed by git-dispatch"), "{text}");
    assert!(text.contains("GIT_DISPATCH_BIN"), "{text}");
    assert!(
        text.contains(&sh_quote(
            &fs::canonicalize(bin()).unwrap().to_string_lossy()
        )),
        "the shim falls back to the installing binary:\n{text}"
    );
    assert!(displaced.is_file(), "the foreign hook is kept beside it");
    let again = env.install();
    assert!(
        stderr(&again).contains("hook already installed"),
        "{}",
        show(&again)
    );
    assert_eq!(fs::read_to_string(&hook).unwrap(), text, "the same bytes");

    fs::remove_file(&displaced).unwrap();
    env.install();
    assert_eq!(
        fs::read_link(&hook).ok(),
        Some(fs::canonicalize(bin()).unwrap()),
        "with nothing left to chain, install goes back to the link"
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

    let hook = env.clone.join(".githooks/pre-push");
    assert!(
        hook.is_file() && !hook.is_symlink(),
        "a hooks dir in the work tree may be committed: it gets the shim, not a link to this machine's binary"
    );
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
    let hook = shared.join("pre-push");
    assert!(
        !hook.is_symlink(),
        "a shared hooks dir gets the shim, which also finds the binary on PATH"
    );
    let text = fs::read_to_string(&hook).expect("the shim is a script");
    assert!(text.contains("# installed by git-dispatch"), "{text}");
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

/// Install with a copy of the binary (after a foreign hook, if `chained`, so the hook is the
/// shim), then delete the copy: the hook's link or the shim's absolute path points nowhere.
fn install_with_vanished_copy(env: &TestEnv, chained: Option<&Path>) {
    let dir = env.root.join("bin-copy");
    let copy = copy_binary(&dir.join("git-dispatch"), 0o555);
    if let Some(log) = chained {
        write_script(&env.hook_path(), &foreign_hook(log, 0));
    }
    let mut cmd = env.program_cmd(&copy, &env.clone, &["install"]);
    cmd.env("PATH", env.path_without_binary());
    expect_success(&mut cmd);
    env.dispatch_ok(&["add", "owner/site"]);
    fs::remove_file(&copy).unwrap();
    assert!(dir.is_dir() && !copy.exists());
}

#[test]
fn a_vanished_linked_binary_leaves_the_push_alone_and_doctor_names_the_fix() {
    let fake = FakeGitHub::start();
    let mut env = TestEnv::unprivileged_with_fake(&fake);
    install_with_vanished_copy(&env, None);
    env.set_var("PATH", env.path_without_binary());
    let sha = env.commit(&env.clone, "post.md", "hello\n", "post");

    // Git skips a hook whose link points nowhere: the push goes on, silently.
    let out = env.push_ok(&["origin", "main"]);

    assert_push_output(&out);
    assert_eq!(env.rev(&env.remote, "refs/heads/main"), sha);
    assert!(fake.requests().is_empty());
    let doctor = env.dispatch(&["doctor"]);
    assert_exit(&doctor, 1, "doctor with the hook's binary gone");
    let said = String::from_utf8_lossy(&doctor.stdout);
    assert!(
        said.contains("which is gone") && said.contains("run `git dispatch install`"),
        "{}",
        show(&doctor)
    );

    env.install();
    let before = sha;
    let sha = env.commit(&env.clone, "post2.md", "again\n", "post 2");
    env.push_ok(&["origin", "main"]);
    expect_one_dispatch(&env, &fake, &before, &sha);
}

#[test]
fn a_vanished_binary_behind_a_chained_hook_warns_once_and_still_runs_that_hook() {
    let fake = FakeGitHub::start();
    let mut env = TestEnv::with_fake(&fake);
    let log = env.root.join("foreign.log");
    install_with_vanished_copy(&env, Some(&log));
    env.set_var("PATH", env.path_without_binary());
    let sha = env.commit(&env.clone, "post.md", "hello\n", "post");

    let out = env.push_ok(&["origin", "main"]);

    assert_push_output(&out);
    let lines = dispatch_lines(&stderr(&out));
    assert_eq!(lines.len(), 1, "one warning line\n{}", show(&out));
    assert!(lines[0].contains("binary not found"), "{}", show(&out));
    let logged = fs::read_to_string(&log).expect("the foreign hook (git-lfs, say) still ran");
    assert!(logged.contains(&format!(" {sha} ")), "{logged}");
    assert_eq!(env.rev(&env.remote, "refs/heads/main"), sha);
    assert!(fake.requests().is_empty());
}

#[test]
fn shim_finds_the_binary_through_git_dispatch_bin() {
    let fake = FakeGitHub::start();
    let mut env = TestEnv::with_fake(&fake);
    install_with_vanished_copy(&env, Some(&env.root.join("foreign.log")));
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
    install_with_vanished_copy(&env, Some(&env.root.join("foreign.log")));
    let sha = env.commit(&env.clone, "post.md", "hello\n", "post");

    let out = env.push_ok(&["origin", "main"]);

    assert_push_output(&out);
    let got = env.wait_dispatched(&fake, 1);
    assert_eq!(got[0].body["client_payload"]["sha"], sha.as_str());
}

/// Sets `GIT_DISPATCH_BIN` to a script that logs its arguments, then runs `then`; returns
/// the log's path.
fn logging_git_dispatch_bin(env: &mut TestEnv, then: &str) -> std::path::PathBuf {
    let ran = env.root.join("wrapper.log");
    let wrapper = env.root.join("wrapper/git-dispatch");
    let log = sh_quote(ran.to_str().unwrap());
    write_script(
        &wrapper,
        &format!("#!/bin/sh\necho \"$*\" >> {log}\n{then}\n"),
    );
    env.set_var("GIT_DISPATCH_BIN", &wrapper);
    ran
}

#[test]
fn the_linked_binary_hands_the_push_to_git_dispatch_bin() {
    let fake = FakeGitHub::start();
    let mut env = TestEnv::unprivileged_with_fake(&fake);
    env.install();
    env.dispatch_ok(&["add", "owner/site"]);
    // A wrapper that notes it ran, then runs the real binary: proof the handover happened.
    let exec = format!("exec {} \"$@\"", sh_quote(bin().to_str().unwrap()));
    let ran = logging_git_dispatch_bin(&mut env, &exec);
    let url = env.git_stdout(&env.clone, &["config", "remote.origin.url"]);
    let before = env.rev(&env.remote, "refs/heads/main");
    let sha = env.commit(&env.clone, "post.md", "hello\n", "post");

    let out = env.push_ok(&["origin", "main"]);

    assert_push_output(&out);
    assert_eq!(
        fs::read_to_string(&ran).expect("GIT_DISPATCH_BIN ran"),
        format!("hook pre-push origin {url}\n")
    );
    expect_one_dispatch(&env, &fake, &before, &sha);
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

#[test]
fn a_binary_under_another_name_installs_the_shim_and_stays_idempotent() {
    let fake = FakeGitHub::start();
    let env = TestEnv::with_fake(&fake);
    let renamed = copy_binary(&env.root.join("bin-renamed/gd"), 0o555);
    expect_success(&mut env.program_cmd(&renamed, &env.clone, &["install"]));
    let again = run(&mut env.program_cmd(&renamed, &env.clone, &["install"]));
    assert!(
        stderr(&again).contains("hook already installed"),
        "{}",
        show(&again)
    );
    assert!(
        !env.hook_path().is_symlink(),
        "a link is only to a file named git-dispatch, so this gets the shim"
    );
    assert!(!env
        .hooks_dir(&env.clone)
        .join("pre-push.before-git-dispatch")
        .exists());
    env.dispatch_ok(&["add", "owner/site"]);
    push_a_post_and_expect_one_dispatch(&env, &fake);
}

#[test]
fn git_dispatch_0_skips_the_binary_git_dispatch_bin_names_too() {
    let fake = FakeGitHub::start();
    let mut env = TestEnv::with_fake(&fake);
    env.install();
    env.dispatch_ok(&["add", "owner/site"]);
    let ran = logging_git_dispatch_bin(&mut env, "");
    env.set_var("GIT_DISPATCH", "0");
    env.commit(&env.clone, "post.md", "hello\n", "post");

    env.push_ok(&["origin", "main"]);

    assert!(!ran.exists(), "GIT_DISPATCH=0 ran GIT_DISPATCH_BIN");
    assert!(entries(&env.status_json()).is_empty());
    assert!(fake.requests().is_empty());
}

/// A copy of the built binary at `path`, with `mode_bits`.
fn copy_binary(path: &Path, mode_bits: u32) -> std::path::PathBuf {
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    // cp, not fs::copy: a write handle held in this multi-threaded test process can leak
    // into another test's fork and make exec fail with ETXTBSY.
    let status = std::process::Command::new("cp")
        .arg(built_bin())
        .arg(path)
        .status()
        .expect("run cp");
    assert!(status.success(), "copy the binary");
    set_mode(path, mode_bits);
    path.to_path_buf()
}

#[test]
fn a_writable_binary_gets_the_shim_so_a_tool_writing_the_hook_cannot_reach_it() {
    let fake = FakeGitHub::start();
    let env = TestEnv::unprivileged_with_fake(&fake);
    let copy = copy_binary(&env.root.join("cargo-bin/git-dispatch"), 0o755);
    env.own(&copy);
    let original = fs::read(&copy).unwrap();
    let hook = env.hook_path();

    let out = expect_success(&mut env.program_cmd(&copy, &env.clone, &["install"]));

    assert!(!hook.is_symlink(), "a writable binary is never linked");
    assert!(
        fs::read_to_string(&hook)
            .unwrap()
            .contains("# installed by git-dispatch"),
        "the shim"
    );
    let said = stderr(&out);
    assert!(
        said.contains("is writable") && said.contains("`chmod a-w` it"),
        "install says why and how to get the link\n{}",
        show(&out)
    );
    // Made read-only since, the shim still works: doctor says so, and how to get the link.
    set_mode(&copy, 0o555);
    let doctor = run(&mut env.program_cmd(&copy, &env.clone, &["doctor"]));
    assert!(
        stdout(&doctor).contains("ok   hook installed and current")
            && stdout(&doctor).contains("would make it a faster link"),
        "{}",
        show(&doctor)
    );
    set_mode(&copy, 0o755);
    // What `git lfs update --force` does: write its own hook over ours.
    fs::write(&hook, "#!/bin/sh\ngit lfs pre-push \"$@\"\n").unwrap();
    assert!(
        fs::read(&copy).unwrap() == original,
        "the binary is untouched"
    );

    // Read-only, the same binary gets the link; made writable again, doctor says so.
    fs::remove_file(&hook).unwrap();
    set_mode(&copy, 0o555);
    expect_success(&mut env.program_cmd(&copy, &env.clone, &["install"]));
    assert_eq!(fs::read_link(&hook).ok(), Some(copy.clone()), "a link now");
    set_mode(&copy, 0o755);
    let doctor = run(&mut env.program_cmd(&copy, &env.clone, &["doctor"]));
    assert_exit(&doctor, 1, "doctor with a link to a writable binary");
    let report = stdout(&doctor);
    assert!(
        report.contains("which is writable") && report.contains("`chmod a-w` it"),
        "{}",
        show(&doctor)
    );
    // And install takes the link back to the shim.
    expect_success(&mut env.program_cmd(&copy, &env.clone, &["install"]));
    assert!(
        !hook.is_symlink(),
        "install replaced the link with the shim"
    );
}

#[test]
fn the_link_names_the_binary_on_path_so_an_upgrade_that_moves_it_keeps_dispatching() {
    let fake = FakeGitHub::start();
    let mut env = TestEnv::unprivileged_with_fake(&fake);
    // Homebrew's layout: PREFIX/bin/git-dispatch links into a versioned Cellar directory
    // that an upgrade replaces.
    let cellar = env.root.join("brew/Cellar/git-dispatch");
    let old = copy_binary(&cellar.join("1.0/bin/git-dispatch"), 0o555);
    let brew_bin = env.root.join("brew/bin");
    fs::create_dir_all(&brew_bin).unwrap();
    let on_path = brew_bin.join("git-dispatch");
    std::os::unix::fs::symlink(&old, &on_path).unwrap();
    let path = std::env::join_paths(
        std::iter::once(brew_bin.clone()).chain(std::env::split_paths(&env.path_without_binary())),
    )
    .unwrap();
    env.set_var("PATH", &path);
    // Run as git runs it: by name, found on PATH.
    let mut install = env.program_cmd(Path::new("git-dispatch"), &env.clone, &["install"]);
    expect_success(&mut install);
    assert_eq!(
        fs::read_link(env.hook_path()).ok(),
        Some(on_path.clone()),
        "the hook links the path on PATH, not the Cellar file it resolves to"
    );
    let mut doctor = env.program_cmd(Path::new("git-dispatch"), &env.clone, &["doctor"]);
    let report = stdout(&run(&mut doctor));
    assert!(
        report.contains("ok   hook installed and current"),
        "{report}"
    );

    let new = copy_binary(&cellar.join("1.1/bin/git-dispatch"), 0o555);
    fs::remove_file(&on_path).unwrap();
    std::os::unix::fs::symlink(&new, &on_path).unwrap();
    fs::remove_dir_all(cellar.join("1.0")).unwrap();
    env.dispatch_ok(&["add", "owner/site"]);
    push_a_post_and_expect_one_dispatch(&env, &fake);
}

#[test]
fn a_binary_only_root_can_write_is_linked_and_writing_the_hook_then_fails() {
    // A distribution's /usr/bin/git-dispatch: 0755, owned by root, run by another user.
    // Needs root to make that user (nobody) and util-linux's setpriv to become it.
    let root = running_as_root();
    let setpriv = std::process::Command::new("setpriv")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !root
        && skip(
            "the link-as-another-user test needs root to become nobody",
            true,
        )
        || !setpriv
            && skip(
                "setpriv (util-linux) is not installed",
                !cfg!(target_os = "linux"),
            )
    {
        return;
    }
    let top = tempfile::Builder::new()
        .prefix("git-dispatch-nobody.")
        .tempdir()
        .unwrap();
    let top = top.path().canonicalize().unwrap();
    set_mode(&top, 0o755);
    let binary = copy_binary(&top.join("bin/git-dispatch"), 0o755);
    set_mode(&top.join("bin"), 0o755);
    let home = top.join("home");
    fs::create_dir_all(&home).unwrap();
    let chown = std::process::Command::new("chown")
        .args(["nobody"])
        .arg(&home)
        .status()
        .unwrap();
    assert!(chown.success(), "chown nobody {}", home.display());
    let as_nobody = |dir: &Path, args: &[&str]| {
        let mut cmd = std::process::Command::new("setpriv");
        cmd.args(["--reuid=nobody", "--regid=65534", "--clear-groups", "--"])
            .args(args)
            .current_dir(dir)
            .env_clear()
            .env("HOME", &home)
            .env("PATH", "/usr/bin:/bin")
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("GIT_CONFIG_GLOBAL", "/dev/null");
        run(&mut cmd)
    };
    let init = as_nobody(&home, &["git", "init", "-q", "clone"]);
    assert_exit(&init, 0, "git init as nobody");
    let clone = home.join("clone");

    let out = as_nobody(&clone, &[binary.to_str().unwrap(), "install"]);

    assert_exit(&out, 0, "install as nobody");
    let hook = clone.join(".git/hooks/pre-push");
    assert_eq!(
        fs::read_link(&hook).ok(),
        Some(binary.clone()),
        "{}",
        show(&out)
    );
    let write = as_nobody(&clone, &["sh", "-c", "echo 'exit 0' > .git/hooks/pre-push"]);
    assert!(
        !write.status.success(),
        "writing the hook as nobody\n{}",
        show(&write)
    );
    assert!(
        stderr(&write).contains("Permission denied"),
        "{}",
        show(&write)
    );
    assert!(
        fs::read(&binary).unwrap() == fs::read(built_bin()).unwrap(),
        "the binary is untouched"
    );
}

#[test]
fn a_relative_path_links_the_resolved_directory_and_every_spelling_is_idempotent() {
    let env = TestEnv::unprivileged();
    let copy = copy_binary(&env.root.join("tools/bin/git-dispatch"), 0o555);
    std::os::unix::fs::symlink(env.root.join("tools/bin"), env.root.join("binlink")).unwrap();
    let sub = env.clone.join("sub");
    fs::create_dir_all(&sub).unwrap();

    // From clone/sub, `../../tools/bin/git-dispatch`: no `..` may stay in the link.
    let relative = Path::new("../../tools/bin/git-dispatch");
    expect_success(&mut env.program_cmd(relative, &sub, &["install"]));
    assert_eq!(fs::read_link(env.hook_path()).ok(), Some(copy.clone()));
    fs::remove_dir(&sub).unwrap();

    // The same binary through a symlinked directory: already installed, link unchanged.
    let other = env.root.join("binlink/git-dispatch");
    let again = run(&mut env.program_cmd(&other, &env.clone, &["install"]));
    assert!(
        stderr(&again).contains("hook already installed"),
        "{}",
        show(&again)
    );
    assert_eq!(fs::read_link(env.hook_path()).ok(), Some(copy));
}

#[test]
fn as_root_install_writes_the_shim_and_doctor_flags_a_link() {
    // Root passes access(2) for any file, even a 0555 one: a link would let a tool writing
    // the hook (`git lfs update --force`) write into the binary every clone runs.
    let env = TestEnv::new();
    if !env.is_root() && skip("this test needs to run as root", true) {
        return;
    }
    let hook = env.hook_path();
    let out = env.install();
    assert!(!hook.is_symlink(), "root gets the shim\n{}", show(&out));
    assert!(
        fs::read_to_string(&hook)
            .unwrap()
            .contains("# installed by git-dispatch"),
        "the shim"
    );
    assert!(
        stderr(&out).contains("root can write even a read-only binary"),
        "install says why, once\n{}",
        show(&out)
    );
    let doctor = env.dispatch(&["doctor"]);
    assert!(
        stdout(&doctor).contains("ok   hook installed and current"),
        "{}",
        show(&doctor)
    );
    assert!(
        !stdout(&doctor).contains("faster link"),
        "{}",
        show(&doctor)
    );

    // A link left by an older version, as root: doctor names it and the fix.
    fs::remove_file(&hook).unwrap();
    std::os::unix::fs::symlink(bin(), &hook).unwrap();
    let doctor = env.dispatch(&["doctor"]);
    assert_exit(&doctor, 1, "doctor with a root link");
    assert!(
        stdout(&doctor).contains("as root you can write that binary")
            && stdout(&doctor).contains("run `git dispatch install` for the sh shim"),
        "{}",
        show(&doctor)
    );
    env.install();
    assert!(
        !hook.is_symlink(),
        "install replaces the link with the shim"
    );
}

#[test]
fn doctor_finds_the_binary_a_shim_names_by_a_path_with_a_quote() {
    // The shim writes its fallback path sh-quoted ('it'\''s'); doctor must read it back.
    let mut env = TestEnv::new();
    let copy = copy_binary(&env.root.join("it's here/git-dispatch"), 0o755);
    env.own(&copy);
    env.set_var("PATH", env.path_without_binary());
    expect_success(&mut env.program_cmd(&copy, &env.clone, &["install"]));
    let shim = fs::read_to_string(env.hook_path()).expect("a writable binary gets the shim");
    assert!(shim.contains(r"'\''s here/git-dispatch"), "{shim}");

    let doctor = run(&mut env.program_cmd(&copy, &env.clone, &["doctor"]));
    let report = stdout(&doctor);
    assert!(
        report.contains(&format!(
            "ok   the hook runs this binary: {}",
            copy.display()
        )),
        "{}",
        show(&doctor)
    );
    assert!(!report.contains("finds no git-dispatch binary"), "{report}");
}
