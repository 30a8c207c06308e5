//! Beyond one repository_dispatch: workflow_dispatch targets, several targets with their own
//! outcomes, GitHub Enterprise, per-owner tokens, proxies, and `doctor`'s workflow checks.

use serde_json::Value;

use crate::support::*;

const SEED_WORKFLOW: &str = "\
name: Build site
on:
  push:
    branches: [main]
  repository_dispatch:
    types: update   # the seed article's scalar form
jobs:
  build:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v4
";

const BUILD_WORKFLOW: &str = "\
on:
  workflow_dispatch:
    inputs:
      site:
        type: string
jobs: {}
";

/// A clone whose target `site` runs build.yml (declaring the input `site`) with `payload`.
fn workflow_target(payload: &str) -> (FakeGitHub, TestEnv) {
    let fake = FakeGitHub::start();
    fake.add_workflow("owner/site", "build.yml", BUILD_WORKFLOW, Some(&["site"]));
    let env = TestEnv::with_fake(&fake);
    env.install();
    env.dispatch_ok(&["add", "owner/site", "--workflow", "build.yml"]);
    env.git_ok(&env.clone, &["config", "dispatch.site.payload", payload]);
    (fake, env)
}

#[test]
fn workflow_target_runs_the_workflow_on_the_default_branch_with_inputs() {
    let (fake, env) = workflow_target(r#"{"site":"blog"}"#);

    let sha = env.commit(&env.clone, "post.md", "post\n", "post");
    let out = env.push_ok(&["origin", "main"]);
    assert!(
        stderr(&out).contains("workflow build.yml to owner/site"),
        "{}",
        show(&out)
    );
    let status = env.wait_status(TIMEOUT, "delivery", |s| {
        entries(s).is_empty() && !recent(s).is_empty()
    });

    let sent = fake.workflow_dispatches();
    assert_eq!(sent.len(), 1, "{}", fake.describe());
    let (repo, file, body) = &sent[0];
    assert_eq!((repo.as_str(), file.as_str()), ("owner/site", "build.yml"));
    assert_eq!(
        body,
        &serde_json::json!({"ref": "main", "inputs": {"site": "blog"}, "return_run_details": true})
    );
    // The ref came from GET /repos/owner/site; the pushed sha is recorded, not sent.
    assert!(fake
        .requests()
        .iter()
        .any(|r| r.method == "GET" && r.path == "/repos/owner/site"));
    let recent = &recent(&status)[0];
    assert_eq!(recent["sha"], sha.as_str());
    // The run GitHub started, as its 200 answer named it.
    let run = fake.runs()[0].0;
    assert_eq!(
        recent["run_url"],
        format!("https://github.com/owner/site/actions/runs/{run}")
    );
    assert!(
        fake.dispatches().is_empty(),
        "no repository_dispatch as well"
    );

    // `send` prints the run's URL.
    let out = env.dispatch(&["send"]);
    assert_exit(&out, 0, "send to a workflow target");
    let second = fake.runs()[1].0;
    assert!(
        stderr(&out).contains(&format!(
            "https://github.com/owner/site/actions/runs/{second}"
        )),
        "{}",
        show(&out)
    );
}

#[test]
fn workflow_inputs_it_does_not_declare_fail_with_githubs_message() {
    let (_fake, env) = workflow_target(r#"{"theme":"dark"}"#);
    env.commit(&env.clone, "post.md", "post\n", "post");
    env.push_ok(&["origin", "main"]);
    let status = env.wait_for_error("failed", TIMEOUT);
    let error = entries(&status)[0]["last_error"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        error.contains("422") && error.contains("Unexpected inputs"),
        "{error}"
    );
}

#[test]
fn a_failing_target_never_holds_back_the_others() {
    let (fake, env) = installed();
    env.dispatch_ok(&["add", "owner/missing"]);
    env.dispatch_ok(&["add", "owner/docs"]);
    env.git_ok(&env.clone, &["config", "dispatch.when", "pre-push"]);
    env.commit(&env.clone, "post.md", "post\n", "post");

    let out = env.push_ok(&["origin", "main"]);

    let lines = dispatch_lines(&stderr(&out));
    assert_eq!(
        lines.len(),
        3,
        "one outcome line per target\n{}",
        show(&out)
    );
    assert!(
        lines.iter().any(|l| l.contains("dispatched to owner/site")),
        "{lines:?}"
    );
    assert!(
        lines.iter().any(|l| l.contains("dispatched to owner/docs")),
        "{lines:?}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l.contains("owner/missing failed: 404")),
        "{lines:?}"
    );
    let mut got: Vec<String> = fake
        .dispatches()
        .into_iter()
        .map(|d| d.repository)
        .collect();
    got.sort();
    assert_eq!(got, ["owner/docs", "owner/site"]);
}

#[test]
fn enterprise_server_api_below_api_v3_with_a_token_per_host() {
    let fake = FakeGitHub::start();
    let mut env = TestEnv::new();
    env.install();
    env.dispatch_ok(&["add", "owner/site"]);
    let api = format!("{}/api/v3", fake.url());
    env.git_ok(&env.clone, &["config", "dispatch.apiUrl", &api]);

    let out = env.dispatch_with_stdin(&["login"], &format!("{TOKEN}\n"));
    assert_exit(&out, 0, "login to the Enterprise API");
    let host = fake.url().trim_start_matches("http://").to_string();
    let stored: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(env.credentials_path()).unwrap()).unwrap();
    assert!(
        stored.get(&host).is_some(),
        "filed under the API host: {stored}"
    );

    let sha = env.commit(&env.clone, "post.md", "post\n", "post");
    env.push_ok(&["origin", "main"]);
    let got = env.wait_dispatched(&fake, 1);
    assert_eq!(got[0].request.path, "/api/v3/repos/owner/site/dispatches");
    assert_eq!(got[0].body["client_payload"]["sha"], sha.as_str());
    env.set_token(None);
}

#[test]
fn a_token_per_owner_goes_only_to_that_owners_repositories() {
    let fake = FakeGitHub::with_token("github_pat_OWNERTOKEN0123456789abcdef");
    fake.add_repo("other/site");
    let mut env = TestEnv::with_fake(&fake);
    env.set_token(None);
    env.install();
    env.dispatch_ok(&["add", "owner/site"]);
    env.dispatch_ok(&["add", "other/site", "--name", "other"]);

    // One token for `owner` only; `other` has none.
    let out = env.dispatch_with_stdin(
        &["login", "--owner", "owner"],
        "github_pat_OWNERTOKEN0123456789abcdef\n",
    );
    assert_exit(&out, 0, "login --owner");
    let out = env.dispatch(&["send"]);
    assert_exit(&out, 1, "send with a token for one owner only");
    let text = stderr(&out);
    assert!(text.contains("dispatched to owner/site"), "{text}");
    assert!(text.contains("other/site failed: no token for"), "{text}");
    let got: Vec<String> = fake
        .dispatches()
        .into_iter()
        .map(|d| d.repository)
        .collect();
    assert_eq!(got, ["owner/site"]);
}

#[test]
fn https_proxy_is_used_and_never_sees_the_token() {
    // A "proxy" that records what it is asked and then hangs up: the token travels inside
    // the TLS tunnel, never in the CONNECT request.
    let (port, seen) = recording_listener();
    let mut env = TestEnv::new();
    env.set_token(Some(TOKEN));
    env.set_api_url(Some("https://api.example.test"));
    env.set_var("HTTPS_PROXY", format!("http://127.0.0.1:{port}"));
    env.dispatch_ok(&["add", "owner/site"]);
    let out = env.dispatch(&["send"]);
    assert_exit(&out, 1, "send through a proxy that refuses");
    let asked = seen.lock().unwrap().clone();
    assert!(
        asked.starts_with("CONNECT api.example.test:443"),
        "{asked:?}"
    );
    assert!(find_secret(asked.as_bytes(), TOKEN).is_none(), "{asked:?}");
    assert_no_token(&out, TOKEN, "send through a proxy");
}

#[test]
fn doctor_passes_when_a_workflow_listens_in_the_seeds_scalar_form() {
    let (fake, env) = installed();
    fake.add_workflow("owner/site", "site.yml", SEED_WORKFLOW, None);
    let out = env.dispatch(&["doctor"]);
    assert_exit(&out, 0, "doctor with everything in place");
    let text = stdout(&out);
    for needle in [
        "ok   hook installed and current",
        "ok   the hook runs this binary",
        "ok   site: a token for",
        "ok   site: the token can see owner/site (default branch main)",
        "ok   site: .github/workflows/site.yml on main runs on repository_dispatch (update)",
    ] {
        assert!(text.contains(needle), "{needle:?} in\n{text}");
    }
    assert!(!text.contains("FAIL"), "{text}");
}

#[test]
fn doctor_names_a_missing_trigger_and_its_fix() {
    let (fake, env) = installed();
    fake.add_workflow(
        "owner/site",
        "site.yml",
        "on:\n  repository_dispatch:\n    types: [deploy]\n",
        None,
    );
    env.git_ok(&env.clone, &["config", "dispatch.site.event", "update"]);
    let out = env.dispatch(&["doctor"]);
    assert_exit(&out, 1, "doctor without a listening workflow");
    let text = stdout(&out);
    assert!(
        text.contains("FAIL site: no workflow on owner/site's main runs on repository_dispatch of type \"update\""),
        "{text}"
    );
    assert!(text.contains("types: [update]"), "names the fix\n{text}");
}

#[test]
fn doctor_checks_a_workflow_target_has_workflow_dispatch() {
    let fake = FakeGitHub::start();
    fake.add_workflow("owner/site", "build.yml", "on: push\n", None);
    let env = TestEnv::with_fake(&fake);
    env.install();
    env.dispatch_ok(&["add", "owner/site", "--workflow", "build.yml"]);
    let out = env.dispatch(&["doctor"]);
    assert_exit(&out, 1, "doctor with a workflow that cannot be dispatched");
    assert!(
        stdout(&out)
            .contains("FAIL site: .github/workflows/build.yml has no `on: workflow_dispatch`"),
        "{}",
        show(&out)
    );
}

#[test]
fn every_subcommand_help_has_an_example() {
    let env = TestEnv::new();
    for sub in [
        "install",
        "uninstall",
        "add",
        "remove",
        "list",
        "login",
        "logout",
        "send",
        "status",
        "retry",
        "drop",
        "doctor",
        "trust",
    ] {
        let out = env.dispatch(&[sub, "--help"]);
        assert_exit(&out, 0, sub);
        assert!(
            stdout(&out).contains("git dispatch "),
            "{sub}\n{}",
            show(&out)
        );
    }
}

#[test]
fn a_server_that_refuses_return_run_details_gets_the_dispatch_without_it_and_is_remembered() {
    // GitHub Enterprise Server 3.19: 422 "return_run_details" is not a permitted key.
    let (fake, env) = workflow_target(r#"{"site":"blog"}"#);
    fake.as_old_server();

    let first = env.commit(&env.clone, "a.md", "a\n", "a");
    env.push_ok(&["origin", "main"]);
    env.wait_status(TIMEOUT, "the first delivery", |s| {
        entries(s).is_empty() && !recent(s).is_empty()
    });
    let posts = |fake: &FakeGitHub| -> Vec<(u16, Value)> {
        fake.requests()
            .into_iter()
            .filter(|r| r.method == "POST")
            .map(|r| (r.status, serde_json::from_str(&r.body).unwrap()))
            .collect()
    };
    let sent = posts(&fake);
    assert_eq!(sent.len(), 2, "{}", fake.describe());
    assert_eq!(sent[0].0, 422);
    assert_eq!(sent[0].1["return_run_details"], true);
    assert_eq!(sent[1].0, 204, "sent again, and delivered");
    assert_eq!(
        sent[1].1,
        serde_json::json!({"ref": "main", "inputs": {"site": "blog"}})
    );
    let status = env.status_json();
    assert_eq!(recent(&status)[0]["sha"], first.as_str());

    // The host is remembered: the next push sends once, without the key.
    let second = env.commit(&env.clone, "b.md", "b\n", "b");
    env.push_ok(&["origin", "main"]);
    env.wait_status(TIMEOUT, "the second delivery", |s| {
        entries(s).is_empty() && recent(s).iter().any(|d| d["sha"] == second.as_str())
    });
    let sent = posts(&fake);
    assert_eq!(sent.len(), 3, "{}", fake.describe());
    assert_eq!(sent[2].0, 204);
    assert!(
        sent[2].1.get("return_run_details").is_none(),
        "{:?}",
        sent[2]
    );
    assert_exit(&env.dispatch(&["status"]), 0, "nothing failed");
}

#[test]
fn status_shows_githubs_multi_line_message_on_one_line() {
    let (fake, env) = installed();
    // GitHub's validation messages have blank lines in them.
    fake.respond_with_reply(
        422,
        1,
        "Invalid request.\n\nNo more than 10 properties are allowed; 11 were supplied.",
        &[],
    );
    env.commit(&env.clone, "post.md", "post\n", "post");
    env.push_ok(&["origin", "main"]);
    env.wait_for_error("failed", TIMEOUT);

    let out = env.dispatch(&["status"]);
    assert_exit(&out, 1, "status with a failed entry");
    let text = stdout(&out);
    let line = text
        .lines()
        .find(|l| l.contains(": failed: "))
        .unwrap_or_else(|| panic!("no last error\n{text}"));
    assert!(
        line.contains(
            "422 Invalid request. No more than 10 properties are allowed; 11 were supplied."
        ),
        "{text}"
    );
    assert!(
        !text.contains("\n\n"),
        "no blank line inside an entry\n{text}"
    );
}
