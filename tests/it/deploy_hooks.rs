//! Deploy-hook targets (Netlify, Vercel, Cloudflare, Render, any URL): the hook URL read
//! from standard input and kept as a secret, fired under the same rules as a dispatch with
//! the host's documented request, against a fake host on 127.0.0.1.

use std::fs;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::support::*;

/// A build host on 127.0.0.1 that answers each hook request with the next of `answers`
/// (status, Retry-After), then 200.
struct FakeHost {
    url: String,
    hits: Arc<Mutex<Vec<Hit>>>,
}

impl FakeHost {
    fn start(answers: Vec<(u16, Option<&'static str>)>) -> FakeHost {
        let server = tiny_http::Server::http("127.0.0.1:0").expect("start the fake host");
        let url = format!("http://{}", server.server_addr());
        let hits = Arc::new(Mutex::new(Vec::new()));
        let seen = Arc::clone(&hits);
        std::thread::spawn(move || {
            let mut answers = answers.into_iter();
            for mut request in server.incoming_requests() {
                let hit = Hit::read(&mut request);
                let hit_path = hit.path.clone();
                seen.lock().unwrap().push(hit);
                let (status, after) = answers.next().unwrap_or((0, None));
                let (status, body) = match status {
                    0 => documented_answer(&hit_path),
                    status => (status, String::new()),
                };
                let mut response = tiny_http::Response::from_string(body).with_status_code(status);
                if let Some(after) = after {
                    response = response
                        .with_header(tiny_http::Header::from_bytes("Retry-After", after).unwrap());
                }
                let _ = request.respond(response);
            }
        });
        FakeHost { url, hits }
    }

    fn hits(&self) -> Vec<Hit> {
        self.hits.lock().unwrap().clone()
    }

    fn wait_hits(&self, n: usize) -> Vec<Hit> {
        let start = Instant::now();
        while self.hits().len() < n {
            assert!(
                start.elapsed() < TIMEOUT,
                "{} hook requests, want {n}",
                self.hits().len()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        self.hits()
    }
}

/// What each host answers a hook that started a build, by the URL's shape: Netlify 200 and
/// an empty body; Vercel its job (`{"job": {"id", "state": "PENDING", "createdAt"}}`);
/// Cloudflare Workers Builds its `build_uuid` in the v4 envelope; Render, which documents
/// no answer, 202 and nothing; any other host 204.
fn documented_answer(path: &str) -> (u16, String) {
    if path.starts_with("/build_hooks/") {
        (200, String::new())
    } else if path.starts_with("/v1/integrations/deploy/") {
        let job =
            r#"{"job":{"id":"hKwmNqVeQ7cLb3xYt2Rz","state":"PENDING","createdAt":1796667745000}}"#;
        (201, job.to_string())
    } else if path.contains("/deploy_hooks/") {
        let result = r#"{"success":true,"errors":[],"messages":[],"result":{"build_uuid":"4f1b2c3d-5e6f-4a7b-8c9d-0e1f2a3b4c5d"}}"#;
        (200, result.to_string())
    } else if path.starts_with("/deploy/") {
        (202, String::new())
    } else {
        (204, String::new())
    }
}

/// The secret part of the fake's Netlify hook URL.
const SECRET: &str = "5f0c1e2d3a4b5c6d7e8f9a0b";

/// A clone with the hook and a Netlify-shaped deploy hook `site` on `host`.
fn with_hook(host: &FakeHost) -> (TestEnv, String) {
    let env = TestEnv::new();
    env.install();
    let url = format!("{}/build_hooks/{SECRET}", host.url);
    let out = env.dispatch_with_stdin(&["add", "--hook", "site"], &format!("{url}\n"));
    assert_exit(&out, 0, "add --hook");
    (env, url)
}

#[test]
fn a_netlify_hook_fires_once_the_push_lands_with_its_title_and_nothing_of_ours() {
    let host = FakeHost::start(vec![]);
    let (env, url) = with_hook(&host);
    let config = fs::read_to_string(env.clone.join(".git/config")).unwrap();
    assert!(config.contains("hook = netlify:"), "{config}");
    assert!(
        !config.contains(SECRET),
        "the URL is in .git/config:\n{config}"
    );

    let sha = env.commit(&env.clone, "post.md", "post\n", "New post & more");
    let push = env.push_ok(&["origin", "main"]);
    assert!(
        stderr(&push).contains(&format!(
            "git-dispatch: will dispatch a build to netlify build hook once main lands ({})",
            &sha[..7]
        )),
        "{}",
        show(&push)
    );
    let hits = host.wait_hits(1);
    let hit = &hits[0];
    assert_eq!(hit.method, "POST");
    assert_eq!(hit.path, format!("/build_hooks/{SECRET}"));
    // `<content repository> <sha>: <subject>` (the fake remote is named "remote").
    let title = format!(
        "trigger_title=remote%20{}%3A%20New%20post%20%26%20more",
        &sha[..7]
    );
    assert_eq!(hit.query, title, "{hit:?}");
    assert_eq!(hit.body, "{}");
    // The documented request and nothing else: no token, none of GitHub's headers.
    for (name, _) in &hit.headers {
        let name = name.to_ascii_lowercase();
        assert!(
            !["authorization", "x-github-api-version"].contains(&name.as_str()),
            "{hit:?}"
        );
    }
    // A feature branch fires nothing.
    env.git_ok(&env.clone, &["checkout", "-q", "-b", "draft"]);
    env.commit(&env.clone, "d.md", "d\n", "draft");
    env.push_ok(&["origin", "draft"]);
    let out = env.dispatch(&["watch"]);
    assert_exit(&out, 0, "watch after a hook was fired");
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(host.hits().len(), 1, "fired once");

    // The URL is a secret: masked where it is shown, in no file of the clone.
    let list = env.dispatch(&["list"]);
    assert!(
        stdout(&list).contains("target site -> netlify hook http://127.0.0.1:"),
        "{}",
        show(&list)
    );
    assert!(
        stdout(&list).contains("/build_hooks/5f…"),
        "{}",
        show(&list)
    );
    assert!(
        stdout(&list).contains("  hook        netlify:"),
        "{}",
        show(&list)
    );
    assert!(
        !stdout(&list).contains("  event "),
        "no GitHub rows: {}",
        show(&list)
    );
    let doctor = env.dispatch(&["doctor"]);
    let status = env.dispatch(&["status", "--json"]);
    let dry = env.dispatch(&["send", "--dry-run"]);
    assert_exit(&dry, 0, "send --dry-run");
    assert!(
        stdout(&dry).contains("/build_hooks/5f…?trigger_title=remote%20"),
        "{}",
        show(&dry)
    );
    assert_eq!(host.hits().len(), 1, "a dry run sends nothing");
    for (what, text) in [
        ("send --dry-run", combined(&dry)),
        ("push", combined(&push)),
        ("list", combined(&list)),
        ("doctor", combined(&doctor)),
        ("status --json", combined(&status)),
        (
            "log",
            fs::read_to_string(env.clone.join(".git/dispatch/log.jsonl")).unwrap(),
        ),
        (
            "history",
            fs::read_to_string(env.clone.join(".git/dispatch/history.json")).unwrap(),
        ),
    ] {
        assert!(!text.contains(SECRET), "{what} shows the hook URL:\n{text}");
    }
    assert!(
        stdout(&doctor).contains("ok   site: netlify hook"),
        "{}",
        show(&doctor)
    );
    let creds = env.credentials_path();
    assert_eq!(mode(&creds), 0o600);
    assert!(fs::read_to_string(&creds).unwrap().contains(&url));

    // Removed, the target takes its URL with it.
    env.dispatch_ok(&["remove", "site"]);
    // (a credentials file left empty is removed)
    assert!(!fs::read_to_string(&creds)
        .unwrap_or_default()
        .contains(SECRET));
}

#[test]
fn a_deleted_hook_says_so_with_where_to_make_one_and_the_push_is_unharmed() {
    let host = FakeHost::start(vec![(404, None)]);
    let (env, _) = with_hook(&host);
    env.commit(&env.clone, "post.md", "post\n", "post");
    env.push_ok(&["origin", "main"]);
    let status = env.wait_for_error("failed", TIMEOUT);
    let error = status["entries"][0]["last_error"].as_str().unwrap();
    assert!(
        error.contains("404: the netlify hook was deleted or its URL mistyped")
            && error.contains("Build hooks")
            && error.contains("git dispatch add --hook NAME"),
        "{error}"
    );
    assert!(!error.contains(SECRET), "{error}");
    // The next push says so, in one line.
    env.commit(&env.clone, "b.md", "b\n", "b");
    let said = stderr(&env.push_ok(&["origin", "main"]));
    assert!(said.contains("deleted or its URL mistyped"), "{said}");
}

#[test]
fn a_hook_that_asks_to_wait_is_sent_again_then_and_once() {
    let host = FakeHost::start(vec![(429, Some("1")), (503, None)]);
    let (env, _) = with_hook(&host);
    env.commit(&env.clone, "post.md", "post\n", "post");
    env.push_ok(&["origin", "main"]);
    // 429 with Retry-After 1: the waiter sends it again a second later; that meets a 503,
    // kept for a later retry, which `retry` sends now.
    host.wait_hits(2);
    env.wait_for_error("confirmed", TIMEOUT);
    env.dispatch_ok(&["retry"]);
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(host.hits().len(), 3, "{:?}", host.hits());
    let status = env.status_json();
    assert!(
        status["entries"].as_array().unwrap().is_empty(),
        "{status:#}"
    );
}

#[test]
fn a_hook_url_is_taken_only_from_standard_input_and_only_https() {
    let env = TestEnv::new();
    env.install();
    // On the command line it would be in the shell's history and in `ps`.
    let out = env.dispatch(&[
        "add",
        "--hook",
        "site",
        "https://api.netlify.com/build_hooks/abc",
    ]);
    assert_exit(&out, 2, "a hook URL on the command line");
    for (url, why) in [
        (
            "http://api.netlify.com/build_hooks/abc",
            "a hook URL is https://",
        ),
        ("", "no hook URL on standard input"),
        ("https://api.netlify.com", "no host or no path"),
    ] {
        let out = env.dispatch_with_stdin(&["add", "--hook", "site"], url);
        assert_exit(&out, 2, why);
        assert!(stderr(&out).contains(why), "{}", show(&out));
    }
    let config = fs::read_to_string(env.clone.join(".git/config")).unwrap();
    assert!(!config.contains("[dispatch"), "{config}");
    assert!(!env.credentials_path().exists());
}

#[test]
fn a_render_hooks_key_is_never_shown_and_a_broken_target_still_takes_its_url_away() {
    let host = FakeHost::start(vec![]);
    let env = TestEnv::new();
    env.install();
    // Render's shape: the secret is the query's key.
    let url = format!("{}/deploy/srv-abc123?key=RENDERKEY42", host.url);
    let out = env.dispatch_with_stdin(&["add", "--hook", "site"], &url);
    assert_exit(&out, 0, "add --hook (render)");
    env.commit(&env.clone, "post.md", "post\n", "post");
    env.git_ok(&env.clone, &["push", "--quiet", "origin", "main"]);
    let dry = env.dispatch(&["send", "--dry-run"]);
    let list = env.dispatch(&["list"]);
    for out in [&dry, &list] {
        let text = combined(out);
        assert!(
            text.contains("render hook") || text.contains("POST http://127.0.0.1:"),
            "{text}"
        );
        assert!(!text.contains("RENDERKEY42"), "the key is shown:\n{text}");
    }
    let hits = host.wait_hits(1);
    assert_eq!(hits[0].path, "/deploy/srv-abc123");
    assert_eq!(
        hits[0].query, "key=RENDERKEY42",
        "Render's request, as stored"
    );

    // A hand edit makes the target invalid (a repository beside the hook): remove, the fix
    // named, still forgets the URL.
    env.git_ok(
        &env.clone,
        &["config", "dispatch.site.repository", "owner/site"],
    );
    let list = env.dispatch(&["list"]);
    assert!(
        combined(&list).contains("both a repository and a hook"),
        "{}",
        show(&list)
    );
    let out = env.dispatch(&["remove", "site"]);
    assert!(
        stderr(&out).contains("forgot site's hook URL"),
        "{}",
        show(&out)
    );
    let creds = fs::read_to_string(env.credentials_path()).unwrap_or_default();
    assert!(!creds.contains("RENDERKEY42"), "{creds}");
}

#[test]
fn a_hook_added_again_is_where_retry_sends_and_github_keys_are_refused_on_a_hook() {
    let host = FakeHost::start(vec![(404, None)]);
    let (env, _) = with_hook(&host);
    env.commit(&env.clone, "post.md", "post\n", "post");
    env.push_ok(&["origin", "main"]);
    env.wait_for_error("failed", TIMEOUT);
    // The writer makes a new hook and adds it again under the same name.
    env.dispatch_ok(&["remove", "site"]);
    let fresh = FakeHost::start(vec![]);
    let url = format!("{}/build_hooks/0a1b2c3d4e5f", fresh.url);
    let out = env.dispatch_with_stdin(&["add", "--hook", "site"], &url);
    assert_exit(&out, 0, "add --hook again");
    let out = env.dispatch(&["retry"]);
    assert_exit(&out, 0, "retry to the new hook");
    assert!(
        stderr(&out).contains("site: its hook is now the one added last"),
        "{}",
        show(&out)
    );
    assert_eq!(fresh.wait_hits(1).len(), 1);

    // GitHub's keys mean nothing to a hook: the target is refused with the fix.
    env.git_ok(&env.clone, &["config", "dispatch.site.event", "rebuild"]);
    let list = env.dispatch(&["list"]);
    assert!(
        combined(&list).contains("a deploy hook takes no event"),
        "{}",
        show(&list)
    );
}

#[test]
fn a_clone_with_only_a_hook_needs_no_github_api_url() {
    let host = FakeHost::start(vec![]);
    let (env, _) = with_hook(&host);
    // An API URL that would be refused: nothing here goes to GitHub.
    env.git_ok(
        &env.clone,
        &["config", "dispatch.apiUrl", "http://github.example.com"],
    );
    let doctor = env.dispatch(&["doctor"]);
    assert!(
        !combined(&doctor).contains("dispatch.apiUrl"),
        "{}",
        show(&doctor)
    );
    assert!(
        stdout(&doctor).contains("ok   site: netlify hook"),
        "{}",
        show(&doctor)
    );
    let out = env.dispatch(&["send"]);
    assert_exit(&out, 0, "send to a hook with a bad apiUrl");
    assert_eq!(host.wait_hits(1).len(), 1);
}

#[test]
fn each_host_s_documented_answer_is_a_delivery_and_each_gets_a_bare_post() {
    let host = FakeHost::start(vec![]);
    // (kind, the hook URL's path on the fake)
    let hooks = [
        ("vercel", "/v1/integrations/deploy/prj_AbC123/VERCELSECRET1"),
        (
            "cloudflare",
            "/client/v4/accounts/acc1/builds/deploy_hooks/CFSECRET22",
        ),
        ("render", "/deploy/srv-abc123?key=RENDERSECRET3"),
        ("generic", "/hooks/GENERICSECRET4"),
    ];
    for (n, (kind, path)) in hooks.iter().enumerate() {
        let env = TestEnv::new();
        env.install();
        let url = format!("{}{path}", host.url);
        let out = env.dispatch_with_stdin(&["add", "--hook", "site"], &format!("{url}\n"));
        assert_exit(&out, 0, kind);
        assert!(
            stderr(&out).contains(&format!("{kind} hook")),
            "{}",
            show(&out)
        );
        env.commit(&env.clone, "post.md", "post\n", "A post");
        env.push_ok(&["origin", "main"]);
        let hits = host.wait_hits(n + 1);
        let hit = &hits[n];
        assert_eq!(hit.method, "POST", "{kind}");
        assert_eq!(
            format!(
                "{}{}",
                hit.path,
                if hit.query.is_empty() {
                    String::new()
                } else {
                    format!("?{}", hit.query)
                }
            ),
            *path,
            "{kind}: the stored URL, nothing added"
        );
        assert!(hit.body.is_empty(), "{kind}: {hit:?}");
        let status = env.wait_settled(TIMEOUT);
        assert_eq!(recent(&status).len(), 1, "{kind}: {status:#}");
        let secret = path.rsplit(['/', '=']).next().unwrap();
        scan_for_token(&env, secret);
    }
}

#[test]
fn a_dry_run_a_rejected_push_and_a_deletion_fire_no_hook() {
    let host = FakeHost::start(vec![]);
    let (env, _) = with_hook(&host);
    // `git push --dry-run` lands nothing.
    env.commit(&env.clone, "a.md", "a\n", "a");
    env.push_ok(&["--dry-run", "origin", "main"]);
    // Another clone pushed first: this push is rejected (not a fast-forward).
    let other = env.root.join("other");
    env.git_ok(
        &env.root,
        &[
            "clone",
            "-q",
            env.remote.to_str().unwrap(),
            other.to_str().unwrap(),
        ],
    );
    env.git_ok(&other, &["config", "user.name", "Other"]);
    env.git_ok(&other, &["config", "user.email", "other@example.com"]);
    env.commit(&other, "b.md", "b\n", "b");
    env.git_ok(&other, &["push", "-q", "origin", "main"]);
    let rejected = env.git(&env.clone, &["push", "origin", "main"]);
    assert!(!rejected.status.success(), "{}", show(&rejected));
    // A branch of main's name deleted on the remote.
    env.git_ok(
        &env.clone,
        &["push", "-q", "origin", "HEAD:refs/heads/gone"],
    );
    env.git_ok(
        &env.clone,
        &["config", "--add", "dispatch.site.branch", "gone"],
    );
    env.git_ok(&env.clone, &["push", "-q", "origin", "--delete", "gone"]);
    // Whatever the waiter would have done, it has done by now.
    std::thread::sleep(Duration::from_millis(1500));
    assert!(host.hits().is_empty(), "{:#?}", host.hits());
    let status = env.status_json();
    assert!(recent(&status).is_empty(), "{status:#}");
}

#[test]
fn doctor_says_when_a_hooks_host_does_not_answer_and_sends_it_nothing() {
    let host = FakeHost::start(vec![]);
    let (env, _) = with_hook(&host);
    let out = env.dispatch(&["doctor"]);
    assert_exit(&out, 0, "doctor with the hook's host up");
    assert!(
        stdout(&out).contains(&format!(
            "{} takes a connection (nothing sent",
            host.url.trim_start_matches("http://")
        )),
        "{}",
        show(&out)
    );
    std::thread::sleep(Duration::from_millis(200));
    assert!(host.hits().is_empty(), "doctor sent the hook a request");

    // A hook on a port nothing listens on: said, with what becomes of a push's build.
    let down = TestEnv::new();
    down.install();
    let url = format!("{}/build_hooks/{SECRET}", closed_port_url());
    let add = down.dispatch_with_stdin(&["add", "--hook", "site"], &format!("{url}\n"));
    assert_exit(&add, 0, "add --hook");
    let out = down.dispatch(&["doctor"]);
    assert_exit(&out, 1, "doctor with the hook's host down");
    let text = combined(&out);
    assert!(
        text.contains("FAIL site: netlify hook") && text.contains("does not answer"),
        "{text}"
    );
    assert!(!text.contains(SECRET), "{text}");
}

#[test]
fn a_hooks_branches_and_path_filter_decide_as_for_any_target() {
    let host = FakeHost::start(vec![]);
    let env = TestEnv::new();
    env.install();
    let url = format!("{}/build_hooks/{SECRET}", host.url);
    let out = env.dispatch_with_stdin(
        &[
            "add",
            "--hook",
            "site",
            "--branch",
            "publish",
            "--paths",
            "content/**",
        ],
        &format!("{url}\n"),
    );
    assert_exit(&out, 0, "add --hook with a branch and a path filter");
    // main is not its branch; on publish, a change outside content/ fires nothing.
    env.commit(&env.clone, "content/a.md", "a\n", "a");
    env.push_ok(&["origin", "main"]);
    env.git_ok(&env.clone, &["checkout", "-q", "-b", "publish"]);
    env.push_ok(&["origin", "publish"]);
    env.commit(&env.clone, "README.md", "r\n", "readme");
    env.push_ok(&["origin", "publish"]);
    std::thread::sleep(Duration::from_millis(800));
    assert!(host.hits().is_empty(), "{:#?}", host.hits());
    // A change under content/ on publish fires it, once.
    let sha = env.commit(&env.clone, "content/b.md", "b\n", "b");
    env.push_ok(&["origin", "publish"]);
    let hits = host.wait_hits(1);
    assert!(hits[0].query.contains(&sha[..7]), "{hits:?}");
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(host.hits().len(), 1);
}

#[test]
fn the_guided_setup_takes_a_deploy_hook_hidden() {
    use crate::install_sh::{Terminal, REPO_PROMPT};
    let host = FakeHost::start(vec![]);
    let env = TestEnv::new();
    let secret = "a1b2c3d4e5f6SECRETHOOK";
    let mut term = Terminal::spawn(env.dispatch_cmd(&["install"]));
    term.wait_for_text(REPO_PROMPT);
    term.type_line("hook");
    term.wait_for_text("git-dispatch: paste the site hook URL (input hidden): ");
    term.type_line(&format!(
        "{}/v1/integrations/deploy/prj_1/{secret}",
        host.url
    ));
    let (status, shown) = term.finish();
    assert_eq!(status.code(), Some(0), "{shown}");
    assert!(!shown.contains(secret), "the hook URL was shown:\n{shown}");
    for said in [
        "Vercel: the project's Settings > Git > Deploy Hooks",
        "added target site -> vercel hook http://127.0.0.1:",
        "ok   site: vercel hook",
    ] {
        assert!(shown.contains(said), "{said}\n--- terminal ---\n{shown}");
    }
    assert!(env
        .git_stdout(&env.clone, &["config", "dispatch.site.hook"])
        .starts_with("vercel:"));
}
