//! The fault matrix: every way GitHub (or the network) can answer, what the user sees, and
//! what is delivered in the end. Also the races and crashes that must lose nothing and send
//! nothing twice.
//!
//! These use a raw TCP fault server instead of the tiny_http fake, because they need answers
//! no well-behaved HTTP server gives: a hang, a connection closed mid-response, a 10 MB body.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use crate::support::*;
use serde_json::Value;

/// How the fault server answers, for the next requests.
#[derive(Clone, Debug)]
enum Fault {
    /// Writes these bytes and closes.
    Raw(Vec<u8>),
    /// Reads the request and never answers.
    Hang,
    /// Sleeps, then answers 204.
    Slow(Duration),
}

fn answer(status: &str, headers: &[(&str, &str)], body: &str) -> Fault {
    let mut text = format!("HTTP/1.1 {status}\r\n");
    for (k, v) in headers {
        text.push_str(&format!("{k}: {v}\r\n"));
    }
    text.push_str(&format!(
        "Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    ));
    Fault::Raw(text.into_bytes())
}

fn no_content() -> Fault {
    answer("204 No Content", &[], "")
}

/// A server on 127.0.0.1 that records each request and answers with the queued faults,
/// then with `fallback`.
struct FaultServer {
    port: u16,
    queue: Arc<Mutex<Vec<Fault>>>,
    fallback: Arc<Mutex<Fault>>,
    /// Raw request heads and bodies, in arrival order.
    seen: Arc<Mutex<Vec<String>>>,
    /// Requests answered with a 2xx.
    accepted: Arc<Mutex<usize>>,
    stop: Arc<AtomicBool>,
}

impl FaultServer {
    fn start(fallback: Fault) -> FaultServer {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        listener.set_nonblocking(true).expect("nonblocking");
        let server = FaultServer {
            port: listener.local_addr().unwrap().port(),
            queue: Arc::default(),
            fallback: Arc::new(Mutex::new(fallback)),
            seen: Arc::default(),
            accepted: Arc::default(),
            stop: Arc::default(),
        };
        let (queue, fallback, seen, accepted, stop) = (
            server.queue.clone(),
            server.fallback.clone(),
            server.seen.clone(),
            server.accepted.clone(),
            server.stop.clone(),
        );
        thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((stream, _)) => {
                        let fault = {
                            let mut q = queue.lock().unwrap();
                            if q.is_empty() {
                                fallback.lock().unwrap().clone()
                            } else {
                                q.remove(0)
                            }
                        };
                        let (seen, accepted, stop) = (seen.clone(), accepted.clone(), stop.clone());
                        thread::spawn(move || serve(stream, fault, &seen, &accepted, &stop));
                    }
                    Err(_) => thread::sleep(Duration::from_millis(5)),
                }
            }
        });
        server
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    fn then(&self, faults: &[Fault]) {
        self.queue.lock().unwrap().extend_from_slice(faults);
    }

    fn set_fallback(&self, fault: Fault) {
        *self.fallback.lock().unwrap() = fault;
    }

    fn seen(&self) -> Vec<String> {
        self.seen.lock().unwrap().clone()
    }

    fn accepted(&self) -> usize {
        *self.accepted.lock().unwrap()
    }
}

impl Drop for FaultServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

fn serve(
    mut stream: TcpStream,
    fault: Fault,
    seen: &Mutex<Vec<String>>,
    accepted: &Mutex<usize>,
    stop: &AtomicBool,
) {
    stream.set_nonblocking(false).ok();
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok();
    let mut raw = Vec::new();
    let mut buf = [0u8; 4096];
    // Read the head, then Content-Length bytes of body.
    loop {
        let Ok(n) = stream.read(&mut buf) else { return };
        if n == 0 {
            return;
        }
        raw.extend_from_slice(&buf[..n]);
        let text = String::from_utf8_lossy(&raw).to_string();
        if let Some(end) = text.find("\r\n\r\n") {
            let length = text[..end]
                .lines()
                .find_map(|l| {
                    let (k, v) = l.split_once(':')?;
                    k.eq_ignore_ascii_case("content-length")
                        .then(|| v.trim().parse::<usize>().ok())?
                })
                .unwrap_or(0);
            if raw.len() >= end + 4 + length {
                break;
            }
        }
    }
    seen.lock()
        .unwrap()
        .push(String::from_utf8_lossy(&raw).into_owned());
    match fault {
        Fault::Raw(bytes) => {
            let _ = stream.write_all(&bytes);
            // A whole 2xx status line, not the stub of a cut connection.
            if bytes.starts_with(b"HTTP/1.1 2") && bytes.len() > 12 {
                *accepted.lock().unwrap() += 1;
            }
        }
        Fault::Hang => {
            while !stop.load(Ordering::Relaxed) {
                thread::sleep(Duration::from_millis(20));
            }
        }
        Fault::Slow(delay) => {
            thread::sleep(delay);
            if let Fault::Raw(bytes) = no_content() {
                if stream.write_all(&bytes).is_ok() {
                    *accepted.lock().unwrap() += 1;
                }
            }
        }
    }
}

/// A clone with the hook and target `owner/site`, talking to `server`.
fn env_for(server: &FaultServer) -> TestEnv {
    let mut env = TestEnv::new();
    env.set_token(Some(TOKEN));
    env.set_api_url(Some(&server.url()));
    env.install();
    env.dispatch_ok(&["add", "owner/site"]);
    env
}

/// Pushes a new commit to main; returns the pushed sha and what the push printed.
fn push_main(env: &TestEnv, name: &str) -> (String, std::process::Output) {
    let sha = env.commit(&env.clone, name, "text\n", name);
    let out = env.push_ok(&["origin", "main"]);
    assert_push_output(&out);
    (sha, out)
}

/// The one entry in `status --json`.
fn only_entry(status: &Value) -> &Value {
    let list = entries(status);
    assert_eq!(list.len(), 1, "{status:#}");
    &list[0]
}

/// What `git dispatch status` prints (exit 1: something pending or failed).
fn status_text(env: &TestEnv) -> String {
    let out = env.dispatch(&["status"]);
    assert_exit(&out, 1, "status with an entry");
    stdout(&out)
}

/// Serve 204 from now on, `retry`, and check exactly one delivery of `sha` arrived.
fn recover(env: &TestEnv, server: &FaultServer, sha: &str) {
    server.set_fallback(no_content());
    let out = env.dispatch(&["retry"]);
    assert_exit(&out, 0, "retry once GitHub is back");
    assert!(
        stderr(&out).contains("dispatched to owner/site"),
        "{}",
        show(&out)
    );
    env.wait_settled(TIMEOUT);
    assert_eq!(server.accepted(), 1, "one delivery in the end");
    let last = server.seen().pop().expect("a request");
    assert!(
        last.contains(sha),
        "the delivered body carries the sha:\n{last}"
    );
}

/// A failure that may pass: kept `confirmed` with the reason, delivered by `retry`.
fn assert_retryable(fault: Fault, expect_in_error: &[&str]) {
    let server = FaultServer::start(fault);
    let env = env_for(&server);
    env.git_ok(&env.clone, &["config", "dispatch.timeout", "2"]);
    let (sha, _) = push_main(&env, "post.md");
    let status = env.wait_for_error("confirmed", TIMEOUT);
    let entry = only_entry(&status);
    let error = entry["last_error"].as_str().unwrap();
    for word in expect_in_error {
        assert!(error.contains(word), "{word:?} in {error:?}");
    }
    assert!(entry["attempts"].as_u64() >= Some(1), "{entry:#}");
    let text = status_text(&env);
    assert!(
        text.contains("not delivered yet (") && text.contains("tried again in "),
        "{text}"
    );
    recover(&env, &server, &sha);
}

/// A refusal for good: kept `failed` with the fix; the next push says so in one line;
/// once the cause is fixed, `retry` delivers it.
fn assert_refused(fault: Fault, expect_in_error: &[&str]) {
    let server = FaultServer::start(fault);
    let env = env_for(&server);
    let (sha, _) = push_main(&env, "post.md");
    let status = env.wait_for_error("failed", TIMEOUT);
    let error = only_entry(&status)["last_error"]
        .as_str()
        .unwrap()
        .to_string();
    for word in expect_in_error {
        assert!(error.contains(word), "{word:?} in {error:?}");
    }
    let text = status_text(&env);
    assert!(
        text.contains("failed:") && text.contains("git dispatch retry"),
        "{text}"
    );

    // The next push (a feature branch, so it adds nothing) reports it once.
    env.git_ok(&env.clone, &["checkout", "--quiet", "-b", "feature"]);
    env.commit(&env.clone, "wip.md", "wip\n", "wip");
    let out = env.push_ok(&["origin", "feature"]);
    let lines = dispatch_lines(&stderr(&out));
    assert_eq!(lines.len(), 1, "{}", show(&out));
    assert!(lines[0].contains("owner/site"), "{}", lines[0]);
    env.git_ok(&env.clone, &["checkout", "--quiet", "main"]);

    recover(&env, &server, &sha);
}

#[test]
fn server_error_500_is_retried() {
    assert_retryable(
        answer(
            "500 Internal Server Error",
            &[],
            r#"{"message":"Server Error"}"#,
        ),
        &["500", "Server Error"],
    );
}

#[test]
fn bad_gateway_html_page_is_retried_and_named() {
    let html =
        "<!DOCTYPE html><html><head><title>502 Bad Gateway</title></head><body>nginx</body></html>";
    assert_retryable(
        answer("502 Bad Gateway", &[("Content-Type", "text/html")], html),
        &["502", "HTML page (502 Bad Gateway)"],
    );
}

#[test]
fn unavailable_503_with_empty_body_is_retried() {
    assert_retryable(
        answer("503 Service Unavailable", &[], ""),
        &["503", "no message"],
    );
}

#[test]
fn enormous_body_is_read_only_up_to_a_bound() {
    let body = "x".repeat(10 * 1024 * 1024);
    assert_retryable(answer("500 Internal Server Error", &[], &body), &["500"]);
}

#[test]
fn hanging_server_times_out_and_is_retried() {
    assert_retryable(Fault::Hang, &["network"]);
}

#[test]
fn connection_closed_mid_response_is_retried() {
    assert_retryable(Fault::Raw(b"HTTP/1.1 20".to_vec()), &["network"]);
}

#[test]
fn long_rate_limit_is_left_for_later_without_hammering() {
    let server = FaultServer::start(answer(
        "429 Too Many Requests",
        &[("Retry-After", "600")],
        r#"{"message":"rate limited"}"#,
    ));
    let env = env_for(&server);
    push_main(&env, "post.md");
    let status = env.wait_for_error("confirmed", TIMEOUT);
    let entry = only_entry(&status).clone();
    assert!(entry["last_error"]
        .as_str()
        .unwrap()
        .contains("rate limited"));
    assert!(
        entry["next_attempt"].as_u64().unwrap() >= entry["updated"].as_u64().unwrap() + 590,
        "waits as told: {entry:#}"
    );
    // Another push's hook does not send it again before its time.
    env.git_ok(&env.clone, &["checkout", "--quiet", "-b", "feature"]);
    env.commit(&env.clone, "wip.md", "wip\n", "wip");
    env.push_ok(&["origin", "feature"]);
    thread::sleep(Duration::from_millis(500));
    assert_eq!(server.seen().len(), 1, "one request only");
}

#[test]
fn secondary_rate_limit_403_with_reset_is_not_a_refusal() {
    let reset = (std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        + 3600)
        .to_string();
    assert_retryable(
        answer(
            "403 Forbidden",
            &[
                ("X-RateLimit-Remaining", "0"),
                ("X-RateLimit-Reset", &reset),
            ],
            r#"{"message":"API rate limit exceeded"}"#,
        ),
        &["rate limited"],
    );
}

#[test]
fn short_retry_after_is_waited_out_by_the_waiter() {
    let server = FaultServer::start(no_content());
    server.then(&[answer(
        "429 Too Many Requests",
        &[("Retry-After", "1")],
        r#"{"message":"slow down"}"#,
    )]);
    let env = env_for(&server);
    let started = Instant::now();
    let (sha, _) = push_main(&env, "post.md");
    env.wait_status(Duration::from_secs(15), "delivery", |s| {
        entries(s).is_empty() && !recent(s).is_empty()
    });
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "waited as told"
    );
    assert_eq!(server.seen().len(), 2, "one refusal, one delivery");
    assert_eq!(server.accepted(), 1);
    assert!(server.seen()[1].contains(&sha));
}

#[test]
fn slow_server_still_delivers() {
    let server = FaultServer::start(Fault::Slow(Duration::from_millis(700)));
    let env = env_for(&server);
    push_main(&env, "post.md");
    env.wait_status(TIMEOUT, "delivery", |s| {
        entries(s).is_empty() && !recent(s).is_empty()
    });
    assert_eq!(server.accepted(), 1);
}

#[test]
fn bad_credentials_401_names_login() {
    assert_refused(
        answer("401 Unauthorized", &[], r#"{"message":"Bad credentials"}"#),
        &["401", "Bad credentials", "git dispatch login"],
    );
}

#[test]
fn forbidden_403_names_the_missing_permission() {
    assert_refused(
        answer(
            "403 Forbidden",
            &[("X-Accepted-GitHub-Permissions", "contents=write")],
            r#"{"message":"Resource not accessible by personal access token"}"#,
        ),
        &["403", "contents=write"],
    );
}

#[test]
fn forbidden_403_under_sso_says_authorise() {
    assert_refused(
        answer(
            "403 Forbidden",
            &[(
                "X-GitHub-SSO",
                "required; url=https://github.com/orgs/o/sso",
            )],
            r#"{"message":"Resource protected by organization SAML enforcement"}"#,
        ),
        &["403", "SSO"],
    );
}

#[test]
fn not_found_404_explains_fine_grained_access() {
    assert_refused(
        answer("404 Not Found", &[], r#"{"message":"Not Found"}"#),
        &["404", "owner/site", "Contents: read and write"],
    );
}

#[test]
fn unprocessable_422_carries_githubs_message() {
    assert_refused(
        answer(
            "422 Unprocessable Entity",
            &[],
            r#"{"message":"Invalid request.\n\nFor 'properties/client_payload', nil is not an object."}"#,
        ),
        &["422", "Invalid request."],
    );
}

#[test]
fn redirect_is_not_followed_and_the_token_stays_home() {
    let elsewhere = FaultServer::start(no_content());
    let location = format!("{}/repos/owner/site/dispatches", elsewhere.url());
    let server = FaultServer::start(answer(
        "307 Temporary Redirect",
        &[("Location", &location)],
        "",
    ));
    let env = env_for(&server);
    push_main(&env, "post.md");
    let status = env.wait_for_error("failed", TIMEOUT);
    let error = only_entry(&status)["last_error"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        error.contains("307") && error.contains("not followed"),
        "{error}"
    );
    thread::sleep(Duration::from_millis(300));
    assert!(
        elsewhere.seen().is_empty(),
        "the redirect target got a request"
    );
    assert_eq!(server.seen().len(), 1);
    assert!(
        server.seen()[0].contains(TOKEN),
        "the API host itself did get the token"
    );
}

#[test]
fn plain_http_to_a_non_loopback_host_is_refused() {
    let mut env = TestEnv::new();
    env.set_token(Some(TOKEN));
    env.set_api_url(Some("http://192.0.2.1:9"));
    env.install();
    env.dispatch_ok(&["add", "owner/site"]);
    push_main(&env, "post.md");
    let status = env.wait_for_error("confirmed", TIMEOUT);
    let error = only_entry(&status)["last_error"].as_str().unwrap();
    assert!(
        error.contains("refusing plain http://") && error.contains("https://"),
        "{error}"
    );
    let out = env.dispatch(&["send"]);
    assert_exit(&out, 2, "send with an http:// API");
    assert!(
        stderr(&out).contains("refusing plain http://"),
        "{}",
        show(&out)
    );
}

// ---- races and crashes ----------------------------------------------------------------

/// One undelivered (confirmed) entry, left by a push while the network was down.
fn one_confirmed_entry(env: &TestEnv) -> String {
    let (sha, _) = push_main(env, "post.md");
    env.wait_for_error("confirmed", TIMEOUT);
    sha
}

/// Twelve `retry`s and the hooks of three feature-branch pushes at once, with `sha` due;
/// returns once it is delivered and a moment more, for a second request to show.
fn race_retries_and_hooks(env: &TestEnv, sha: &str) {
    let mut children = Vec::new();
    for _ in 0..12 {
        let mut cmd = env.dispatch_cmd(&["retry"]);
        children.push(
            cmd.stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap(),
        );
    }
    // Hooks of feature-branch pushes, which start waiters for what is due. Run under a
    // shell that exits at once, as `git push` would, so their waiters do not wait on us.
    for i in 0..3 {
        let line = format!(
            "refs/heads/f{i} {sha} refs/heads/f{i} 0000000000000000000000000000000000000000\n"
        );
        children.push(hook_under_shell(env, &line).spawn().unwrap());
    }
    for mut child in children {
        child.wait().unwrap();
    }
    env.wait_status(TIMEOUT, "delivery", |s| {
        entries(s).is_empty() && !recent(s).is_empty()
    });
    thread::sleep(Duration::from_millis(500));
}

#[test]
fn racing_retries_and_hooks_deliver_one_push_once() {
    let server = FaultServer::start(Fault::Slow(Duration::from_millis(200)));
    let mut env = env_for(&server);
    env.set_api_url(Some(&closed_port_url()));
    let sha = one_confirmed_entry(&env);
    env.set_api_url(Some(&server.url()));

    race_retries_and_hooks(&env, &sha);
    assert_eq!(server.seen().len(), 1, "exactly one request for one push");
    assert_eq!(server.accepted(), 1);
}

#[test]
fn retry_killed_mid_delivery_loses_nothing() {
    let server = FaultServer::start(Fault::Hang);
    let mut env = env_for(&server);
    env.set_api_url(Some(&closed_port_url()));
    let sha = one_confirmed_entry(&env);
    env.set_api_url(Some(&server.url()));

    let mut child = env
        .dispatch_cmd(&["retry"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let start = Instant::now();
    while server.seen().is_empty() {
        assert!(start.elapsed() < TIMEOUT, "retry never sent");
        thread::sleep(POLL);
    }
    kill_9(child.id());
    child.wait().unwrap();

    // The entry is still there, and the lock died with the process.
    let status = env.status_json();
    assert_eq!(only_entry(&status)["sha"], sha.as_str());
    server.set_fallback(no_content());
    let out = env.dispatch(&["retry"]);
    assert_exit(&out, 0, "retry after the crash");
    env.wait_settled(TIMEOUT);
    assert_eq!(server.accepted(), 1);
}

#[test]
fn waiter_killed_mid_delivery_is_recovered_by_the_next_push() {
    let server = FaultServer::start(Fault::Hang);
    let env = env_for(&server);
    let (sha, _) = push_main(&env, "post.md");
    let start = Instant::now();
    while server.seen().is_empty() {
        assert!(start.elapsed() < TIMEOUT, "the waiter never sent");
        thread::sleep(POLL);
    }
    let waiter = waiter_pid(&env);
    kill_9(waiter);
    thread::sleep(Duration::from_millis(100));
    let status = env.status_json();
    assert_eq!(only_entry(&status)["state"], "confirmed", "{status:#}");

    // The next push's hook starts a waiter for what is due.
    server.set_fallback(no_content());
    env.git_ok(&env.clone, &["checkout", "--quiet", "-b", "feature"]);
    env.commit(&env.clone, "wip.md", "wip\n", "wip");
    env.push_ok(&["origin", "feature"]);
    env.wait_status(TIMEOUT, "delivery", |s| {
        entries(s).is_empty() && !recent(s).is_empty()
    });
    assert_eq!(server.accepted(), 1);
    assert!(server.seen().last().unwrap().contains(&sha));
}

#[test]
fn an_awaiting_entry_left_by_a_crash_is_confirmed_not_sent_blindly() {
    let fake = FakeGitHub::start();
    let env = TestEnv::with_fake(&fake);
    env.install();
    env.dispatch_ok(&["add", "owner/site"]);
    let base = env.rev(&env.clone, "HEAD");
    let landed = env.commit(&env.clone, "a.md", "a\n", "a");
    env.push_ok(&["--no-verify", "origin", "main"]);
    let never = env.commit(&env.clone, "b.md", "b\n", "b");

    // Two hooks whose pushes "crashed" (their parent is gone at once): one sha is on the
    // remote, the other never got there.
    for (new, old) in [(&landed, &base), (&never, &landed)] {
        let line = format!("refs/heads/main {new} refs/heads/main {old}\n");
        expect_success(&mut hook_under_shell(&env, &line));
    }
    env.wait_settled(TIMEOUT);
    let got = env.wait_dispatched(&fake, 1);
    thread::sleep(Duration::from_millis(300));
    assert_eq!(fake.dispatches().len(), 1, "{}", fake.describe());
    assert_dispatch(&got[0], "owner/site", "refs/heads/main", &base, &landed);
    let log = std::fs::read_to_string(env.state_dir().join("log.jsonl")).unwrap();
    assert!(log.contains("\"dropped\"") && log.contains(&never), "{log}");
}

/// `git-dispatch hook pre-push` fed `line`, under a shell that exits right after, as a
/// `git push` that crashed would.
fn hook_under_shell(env: &TestEnv, line: &str) -> Command {
    let script = format!(
        "printf '%s' {} | git-dispatch hook pre-push origin {}; true",
        sh_quote(line),
        sh_quote(env.remote.to_str().unwrap())
    );
    let mut cmd = Command::new("sh");
    cmd.args(["-c", &script])
        .current_dir(&env.clone)
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    env.apply_env(&mut cmd);
    cmd
}

fn kill_9(pid: u32) {
    let status = Command::new("kill")
        .args(["-9", &pid.to_string()])
        .status()
        .unwrap();
    assert!(status.success());
}

/// The waiter's pid, from the log line it wrote when it confirmed the push.
fn waiter_pid(env: &TestEnv) -> u32 {
    let log = std::fs::read_to_string(env.state_dir().join("log.jsonl")).unwrap();
    log.lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .find(|v| v["event"] == "confirmed")
        .and_then(|v| v["pid"].as_u64())
        .expect("a confirmed line with the waiter's pid") as u32
}

// ---- deploy hooks through the same faults ----------------------------------------------

/// The secret part of the hook URL the fault server plays.
const HOOK_SECRET: &str = "a1b2c3d4e5f6a7b8c9d0e1f2";

/// A clone with the hook and a Netlify-shaped deploy hook `site` on `server`.
fn hook_env_for(server: &FaultServer) -> TestEnv {
    let env = TestEnv::new();
    env.install();
    let url = format!("{}/build_hooks/{HOOK_SECRET}", server.url());
    let out = env.dispatch_with_stdin(&["add", "--hook", "site"], &format!("{url}\n"));
    assert_exit(&out, 0, "add --hook");
    env
}

#[test]
fn every_fault_a_deploy_hook_can_answer_is_kept_or_refused_and_delivered_once_unsaid() {
    let elsewhere = FaultServer::start(no_content());
    let location = format!("{}/build_hooks/{HOOK_SECRET}", elsewhere.url());
    // (what the host does, its answer, the words kept, the entry's state)
    let cases: Vec<(&str, Fault, &[&str], &str)> = vec![
        (
            "a 500",
            answer("500 Internal Server Error", &[], "oops"),
            &["netlify hook answered 500"],
            "confirmed",
        ),
        (
            "a 502 page",
            answer(
                "502 Bad Gateway",
                &[("Content-Type", "text/html")],
                "<html><body>Bad gateway</body></html>",
            ),
            &["answered 502"],
            "confirmed",
        ),
        (
            "a long 429",
            answer("429 Too Many Requests", &[("Retry-After", "600")], ""),
            &["answered 429"],
            "confirmed",
        ),
        ("a hang", Fault::Hang, &["network"], "confirmed"),
        (
            "a cut answer",
            Fault::Raw(b"HTTP/1.1 20".to_vec()),
            &["network"],
            "confirmed",
        ),
        (
            "a deleted hook",
            answer("404 Not Found", &[], "Not Found"),
            &["deleted or its URL mistyped", "Build hooks"],
            "failed",
        ),
        (
            "a redirect",
            answer("307 Temporary Redirect", &[("Location", &location)], ""),
            &["refused the request (307)"],
            "failed",
        ),
    ];
    for (what, fault, words, state) in cases {
        let server = FaultServer::start(fault);
        let env = hook_env_for(&server);
        env.git_ok(&env.clone, &["config", "dispatch.timeout", "2"]);
        let (sha, push) = push_main(&env, "post.md");
        assert_no_token(&push, HOOK_SECRET, what);
        let status = env.wait_for_error(state, TIMEOUT);
        let error = only_entry(&status)["last_error"]
            .as_str()
            .unwrap()
            .to_string();
        for word in words {
            assert!(error.contains(word), "{what}: {word:?} in {error:?}");
        }
        let shown = env.dispatch(&["status"]);
        assert_no_token(&shown, HOOK_SECRET, what);
        assert!(
            stdout(&shown).contains(words[0]),
            "{what}: {}",
            show(&shown)
        );

        // The host is back: `retry` delivers it, once, to the hook and nowhere else.
        server.set_fallback(answer("200 OK", &[], ""));
        let out = env.dispatch(&["retry"]);
        assert_exit(&out, 0, what);
        assert_no_token(&out, HOOK_SECRET, what);
        env.wait_settled(TIMEOUT);
        assert_eq!(server.accepted(), 1, "{what}: one delivery in the end");
        let last = server.seen().pop().unwrap();
        assert!(
            last.starts_with(&format!(
                "POST /build_hooks/{HOOK_SECRET}?trigger_title=remote%20{}",
                &sha[..7]
            )),
            "{what}: {last}"
        );
        assert!(
            elsewhere.seen().is_empty(),
            "{what}: a redirect was followed"
        );
        scan_for_token(&env, HOOK_SECRET);
    }
}

#[test]
fn racing_retries_and_hooks_fire_one_deploy_hook_once() {
    let server = FaultServer::start(answer("503 Service Unavailable", &[], ""));
    let env = hook_env_for(&server);
    let sha = one_confirmed_entry(&env);
    let before = server.seen().len();
    server.set_fallback(Fault::Slow(Duration::from_millis(200)));

    race_retries_and_hooks(&env, &sha);
    assert_eq!(
        server.seen().len() - before,
        1,
        "exactly one request for one push"
    );
    assert_eq!(server.accepted(), 1);
}
