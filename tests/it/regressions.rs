//! Regression tests, each named after what broke (each confirmed on the real binary before the fix).

use std::fs;
use std::thread;
use std::time::Duration;

use crate::support::*;

#[test]
fn http_proxy_never_receives_a_loopback_request_with_the_token() {
    let fake = FakeGitHub::start();
    let (port, seen) = recording_listener();
    let mut env = TestEnv::with_fake(&fake);
    for var in ["http_proxy", "HTTP_PROXY", "all_proxy"] {
        env.set_var(var, format!("http://127.0.0.1:{port}"));
    }
    env.dispatch_ok(&["add", "owner/site"]);
    let out = env.dispatch(&["send"]);
    assert_exit(&out, 0, "send with http_proxy set");
    assert_eq!(fake.dispatches().len(), 1, "went straight to the API");
    thread::sleep(Duration::from_millis(200));
    assert_eq!(seen.lock().unwrap().as_str(), "", "the proxy got nothing");
}

#[test]
fn no_proxy_keeps_a_host_off_the_proxy_and_only_that_host() {
    // Loopback never takes a proxy, so NO_PROXY itself is seen on a host that is not
    // loopback: `send --dry-run` says where the request would go, and sends nothing.
    let mut env = TestEnv::new();
    env.set_token(Some(TOKEN));
    env.set_api_url(Some("https://ghe.example.com/api/v3"));
    env.set_var("HTTPS_PROXY", "http://u:secret@127.0.0.1:3128");
    env.dispatch_ok(&["add", "owner/site"]);
    env.git_ok(
        &env.clone,
        &["update-ref", "refs/remotes/origin/main", "HEAD"],
    );

    let out = env.dispatch_ok(&["send", "--dry-run"]);
    assert!(
        stderr(&out).contains("would go through the proxy http://127.0.0.1:3128 ($HTTPS_PROXY)"),
        "without NO_PROXY the proxy is used, its password not shown\n{}",
        show(&out)
    );
    for no_proxy in [
        "ghe.example.com",
        ".example.com",
        "other.org, *.example.com",
    ] {
        env.set_var("NO_PROXY", no_proxy);
        let out = env.dispatch_ok(&["send", "--dry-run"]);
        assert!(
            stderr(&out).contains("would go straight to the API: the host is in NO_PROXY"),
            "NO_PROXY={no_proxy}\n{}",
            show(&out)
        );
    }
    env.set_var("NO_PROXY", "example.org");
    let out = env.dispatch_ok(&["send", "--dry-run"]);
    assert!(
        stderr(&out).contains("would go through the proxy"),
        "another domain in NO_PROXY changes nothing\n{}",
        show(&out)
    );
}

#[test]
fn a_loopback_api_is_reached_without_the_proxy_even_when_one_is_set() {
    let (port, seen) = recording_listener();
    let mut env = TestEnv::new();
    env.set_token(Some(TOKEN));
    // An https API on loopback with no server: the connection fails, but must be direct.
    env.set_api_url(Some("https://127.0.0.1:9"));
    // minreq on its own read lowercase https_proxy and no NO_PROXY at all.
    env.set_var("https_proxy", format!("http://127.0.0.1:{port}"));
    env.dispatch_ok(&["add", "owner/site"]);
    let out = env.dispatch(&["send"]);
    assert_exit(&out, 1, "send to a closed port");
    thread::sleep(Duration::from_millis(200));
    assert_eq!(seen.lock().unwrap().as_str(), "", "the proxy got nothing");
}

#[test]
fn an_older_push_in_backoff_is_never_sent_after_a_newer_one() {
    let (fake, env) = installed();
    fake.respond_with_n(503, 1);
    env.commit(&env.clone, "a.md", "a\n", "a");
    env.push_ok(&["origin", "main"]);
    env.wait_for_error("confirmed", TIMEOUT);

    // The newer push goes out; the older one, still in backoff, must not follow it.
    let before = env.rev(&env.clone, "HEAD");
    let newer = env.commit(&env.clone, "b.md", "b\n", "b");
    env.push_ok(&["origin", "main"]);
    expect_one_dispatch(&env, &fake, &before, &newer);
    let out = env.dispatch(&["retry"]);
    assert_exit(&out, 0, "retry with nothing left");
    let sent: Vec<String> = fake
        .dispatches()
        .iter()
        .map(|d| {
            d.body["client_payload"]["sha"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    assert_eq!(sent, [newer], "only the newest push was sent");
}

#[test]
fn a_remote_named_like_an_option_does_not_fail_the_push() {
    let (fake, env) = installed();
    let remote = env.remote.to_str().unwrap().to_string();
    env.git_ok(&env.clone, &["remote", "add", "--", "-x", &remote]);
    env.commit(&env.clone, "post.md", "post\n", "post");
    let out = env.push_ok(&["--", "-x", "main"]);
    assert!(dispatch_lines(&stderr(&out)).is_empty(), "{}", show(&out));
    // The positive half: origin still fires.
    env.commit(&env.clone, "more.md", "more\n", "more");
    env.push_ok(&["origin", "main"]);
    env.wait_dispatched(&fake, 1);
}

#[test]
fn the_hook_takes_a_url_that_is_not_utf8() {
    use std::os::unix::ffi::OsStrExt;
    let (_fake, env) = installed();
    let mut cmd = env.dispatch_cmd(&["hook", "pre-push", "origin"]);
    cmd.arg(std::ffi::OsStr::from_bytes(b"/tmp/caf\xe9/r.git"));
    let out = run_with_stdin(&mut cmd, b"");
    assert_exit(&out, 0, "hook with a non-UTF-8 URL");
    assert!(combined(&out).trim().is_empty(), "{}", show(&out));
}

#[test]
fn a_displaced_hook_without_a_shebang_runs_through_sh() {
    let (fake, env) = installed();
    let marker = env.root.join("ran");
    let displaced = env
        .hooks_dir(&env.clone)
        .join("pre-push.before-git-dispatch");
    fs::write(
        &displaced,
        format!(
            "echo ran > {}\nexit 0\n",
            sh_quote(marker.to_str().unwrap())
        ),
    )
    .unwrap();
    set_mode(&displaced, 0o755);
    env.commit(&env.clone, "post.md", "post\n", "post");
    env.push_ok(&["origin", "main"]);
    assert_eq!(fs::read_to_string(&marker).unwrap(), "ran\n");
    env.wait_dispatched(&fake, 1);
}

#[test]
fn the_shim_never_passes_the_token_to_the_displaced_hook() {
    let (_fake, env) = installed();
    let seen = env.root.join("env-seen");
    let displaced = env
        .hooks_dir(&env.clone)
        .join("pre-push.before-git-dispatch");
    write_script(
        &displaced,
        &format!(
            "#!/bin/sh\nenv > {}\nexit 0\n",
            sh_quote(seen.to_str().unwrap())
        ),
    );
    // Installing again beside a displaced hook writes the shim, which is what runs it here.
    env.install();
    assert!(!env.hook_path().is_symlink(), "the shim, not the link");
    env.commit(&env.clone, "post.md", "post\n", "post");
    let out = expect_success(
        env.git_cmd(&env.clone, &["push", "origin", "main"])
            .env("GIT_DISPATCH", "0"),
    );
    assert_push_output(&out);
    let text = fs::read_to_string(&seen).expect("the displaced hook ran");
    assert!(!text.contains("GIT_DISPATCH_TOKEN"), "{text}");
    assert!(find_secret(text.as_bytes(), TOKEN).is_none());
}

#[test]
fn a_push_stopped_by_strict_leaves_nothing_to_send_later() {
    let (fake, mut env) = installed();
    env.git_ok(&env.clone, &["config", "dispatch.when", "pre-push"]);
    env.git_ok(&env.clone, &["config", "dispatch.strict", "true"]);
    env.set_api_url(Some(&closed_port_url()));
    let before = env.rev(&env.remote, "refs/heads/main");
    env.commit(&env.clone, "post.md", "post\n", "post");
    let out = env.push(&["origin", "main"]);
    assert!(
        !out.status.success(),
        "strict stops the push\n{}",
        show(&out)
    );
    assert_eq!(
        env.rev(&env.remote, "refs/heads/main"),
        before,
        "nothing landed"
    );
    assert!(entries(&env.status_json()).is_empty(), "nothing kept");
    env.set_api_url(Some(&fake.url()));
    env.dispatch(&["retry"]);
    assert!(fake.dispatches().is_empty(), "{}", fake.describe());
}

#[test]
fn add_shared_keeps_its_own_file_trusted_but_never_vouches_for_a_foreign_change() {
    let (fake, env) = installed();
    env.dispatch_ok(&["add", "owner/docs", "--shared"]);
    let list = stdout(&env.dispatch(&["list"]));
    assert!(
        list.contains("target docs -> owner/docs"),
        "our own shared target is used\n{list}"
    );

    // Someone else's change arrives in .gitdispatch; our next edit must not trust it.
    let shared = env.clone.join(".gitdispatch");
    let mut text = fs::read_to_string(&shared).unwrap();
    text.push_str("[dispatch \"evil\"]\n\trepository = attacker/x\n");
    fs::write(&shared, text).unwrap();
    env.dispatch_ok(&["remove", "docs"]);
    let out = env.dispatch(&["list"]);
    assert!(!stdout(&out).contains("attacker/x"), "{}", show(&out));
    assert!(
        stderr(&out).contains("git dispatch trust"),
        "{}",
        show(&out)
    );
    env.commit(&env.clone, "post.md", "post\n", "post");
    env.push_ok(&["origin", "main"]);
    env.wait_dispatched(&fake, 1);
    let repos: Vec<String> = fake
        .dispatches()
        .into_iter()
        .map(|d| d.repository)
        .collect();
    assert_eq!(repos, ["owner/site"]);
}

#[test]
fn strict_stopping_a_push_keeps_the_older_landed_push_it_had_replaced() {
    // The newer push supersedes the older under the target's lock; when strict then stops
    // the newer one, the older one (which landed) must still be sent.
    let (fake, mut env) = installed();
    env.git_ok(&env.clone, &["config", "dispatch.when", "pre-push"]);
    env.set_api_url(Some(&closed_port_url()));
    let older = env.commit(&env.clone, "a.md", "a\n", "a");
    env.push_ok(&["origin", "main"]);
    assert_eq!(entries(&env.status_json()).len(), 1, "kept to retry");

    env.git_ok(&env.clone, &["config", "dispatch.strict", "true"]);
    env.commit(&env.clone, "b.md", "b\n", "b");
    let out = env.push(&["origin", "main"]);
    assert!(
        !out.status.success(),
        "strict stops the push\n{}",
        show(&out)
    );
    assert_eq!(
        env.rev(&env.remote, "refs/heads/main"),
        older,
        "a landed, b did not"
    );
    let status = env.wait_idle(TIMEOUT);
    let kept: Vec<&str> = entries(&status)
        .iter()
        .filter_map(|e| e["sha"].as_str())
        .collect();
    assert_eq!(kept, [older.as_str()], "{status:#}");

    env.set_api_url(Some(&fake.url()));
    let out = env.dispatch(&["retry"]);
    assert_exit(&out, 0, "retry of the older push");
    let got = fake.dispatches();
    assert_eq!(got.len(), 1, "{}", fake.describe());
    assert_eq!(got[0].body["client_payload"]["sha"], older.as_str());
}
