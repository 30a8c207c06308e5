//! The token and remote passwords stay secret: no output, state file, log,
//! request URL or body carries them.

use std::process::Output;

use crate::support::*;

/// Distinctive, so any 12 characters of it found anywhere are a leak.
const LEAK_TOKEN: &str = "github_pat_11LEAKCHECKxq7Zr2Vt9Lm4Pw8Ks3Dn6Hb1Gf5Jc0Ye";

#[test]
fn token_never_appears_in_output_or_on_disk() {
    let fake = FakeGitHub::with_token(LEAK_TOKEN);
    let mut env = TestEnv::new();
    env.set_api_url(Some(&fake.url()));
    let mut outputs: Vec<(String, Output)> = Vec::new();

    outputs.push(("install".into(), env.install()));
    outputs.push(("add".into(), env.dispatch_ok(&["add", "owner/site"])));
    let login = env.dispatch_with_stdin(&["login"], &format!("{LEAK_TOKEN}\n"));
    assert_exit(&login, 0, "login");
    outputs.push(("login".into(), login));
    assert!(env.credentials_path().is_file());

    // Delivered, with the token both in the environment and on file.
    env.set_token(Some(LEAK_TOKEN));
    env.commit(&env.clone, "one.md", "one\n", "one");
    outputs.push(("push".into(), env.push_ok(&["origin", "main"])));
    env.wait_dispatched(&fake, 1);
    env.wait_settled(TIMEOUT);

    // Refused for good.
    fake.respond_with(401);
    env.commit(&env.clone, "two.md", "two\n", "two");
    outputs.push(("push refused".into(), env.push_ok(&["origin", "main"])));
    env.wait_for_error("failed", TIMEOUT);
    let send = env.dispatch(&["send"]);
    assert_exit(&send, 1, "send refused with 401");
    outputs.push(("send".into(), send));

    for args in [
        &["status"][..],
        &["status", "--json"],
        &["send", "--dry-run"],
        &["list"],
        &["retry"],
        &["doctor"],
    ] {
        outputs.push((args.join(" "), env.dispatch(args)));
    }
    // The next push reports the failure; that line must not carry it either.
    env.git_ok(&env.clone, &["checkout", "--quiet", "-b", "next"]);
    env.commit(&env.clone, "three.md", "three\n", "three");
    outputs.push(("push next".into(), env.push_ok(&["origin", "next"])));

    for (what, out) in &outputs {
        assert_no_token(out, LEAK_TOKEN, what);
    }
    for request in fake.requests() {
        assert!(
            find_secret(request.path.as_bytes(), LEAK_TOKEN).is_none()
                && find_secret(request.body.as_bytes(), LEAK_TOKEN).is_none(),
            "the token went into a request's URL or body: {} {}",
            request.method,
            request.path
        );
    }
    scan_for_token(&env, LEAK_TOKEN);
}

#[test]
fn remote_url_password_never_leaks() {
    let (fake, env) = installed();
    let password = "s3cretPassw0rdQZX";
    let url = format!("https://writer:{password}@example.invalid/owner/content.git");
    env.git_ok(&env.clone, &["remote", "set-url", "origin", &url]);
    env.git_ok(
        &env.clone,
        &[
            "remote",
            "set-url",
            "--push",
            "origin",
            env.remote.to_str().unwrap(),
        ],
    );
    let mut outputs: Vec<(String, Output)> = Vec::new();
    let sha = env.commit(&env.clone, "post.md", "hello\n", "post");

    outputs.push(("push".into(), env.push_ok(&["origin", "main"])));
    let got = env.wait_dispatched(&fake, 1);
    env.wait_settled(TIMEOUT);

    let payload = &got[0].body["client_payload"];
    assert_eq!(payload["sha"], sha.as_str());
    let repository = payload["repository"]
        .as_str()
        .expect("repository is a string");
    assert!(!repository.contains(password), "{payload:#}");
    assert!(!repository.contains("writer:"), "{payload:#}");
    assert!(!got[0].request.body.contains(password));
    for args in [
        &["status"][..],
        &["status", "--json"],
        &["list"],
        &["send", "--dry-run"],
    ] {
        outputs.push((args.join(" "), env.dispatch(args)));
    }
    for (what, out) in &outputs {
        assert!(
            !combined(out).contains(password),
            "{what} shows the remote's password\n{}",
            show(out)
        );
    }
    // Everywhere on disk but the clone's own config, where the user put it.
    let config = env.clone.join(".git").join("config");
    let mut leaks = Vec::new();
    let mut seen_state = false;
    let state = env.state_dir();
    walk(&env.root, &mut |path| {
        if path.starts_with(&state) {
            seen_state = true;
        }
        if path == config {
            return;
        }
        if let Ok(bytes) = std::fs::read(path) {
            if bytes
                .windows(password.len())
                .any(|w| w == password.as_bytes())
            {
                leaks.push(path.display().to_string());
            }
        }
    });
    assert!(seen_state, "the state dir {} has files", state.display());
    assert!(leaks.is_empty(), "the password was written to {leaks:?}");
}
