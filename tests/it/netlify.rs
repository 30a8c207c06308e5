//! Netlify targets: a site built through Netlify's API (`POST /api/v1/sites/{id}/builds`),
//! whose answer names the deploy, followed by that id (`GET /api/v1/deploys/{id}`) to live
//! or to Netlify's `error_message`, against a fake Netlify on 127.0.0.1 that answers as
//! netlify/open-api's swagger.yml describes (createSiteBuild, getDeploy, getSite,
//! getCurrentUser) and checks every request for what Netlify needs.

use std::fs;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::support::*;

/// The Netlify personal access token the fake accepts.
const NETLIFY_TOKEN: &str = "nfp_fakeNetlifyToken0123456789abcdefXYZ";
/// Another user's token: Netlify accepts it, but it sees no site of ours.
const OTHER_TOKEN: &str = "nfp_otherUsersToken9876543210fedcbaQRS";
/// The site the fake knows.
const SITE: &str = "6d2f1c4e-0b3a-4c5d-9e8f-7a6b5c4d3e2f";

/// How the fake's next deploy ends.
#[derive(Clone)]
struct Plan {
    /// Milliseconds it is "building" (after a first "enqueued" read).
    building_ms: u64,
    /// `ready`, or `error` with this message.
    error: Option<&'static str>,
}

#[derive(Default)]
struct State {
    hits: Vec<Hit>,
    /// Whether the token sees the site.
    sees_site: bool,
    plan: Option<Plan>,
    /// Deploys made: id, when, plan, title, reads so far.
    deploys: Vec<(String, Instant, Plan, String, u32)>,
    /// Answers given before any other to builds (status, Retry-After).
    build_answers: Vec<(u16, Option<&'static str>)>,
    /// Answers given before any other to deploy reads.
    deploy_answers: Vec<(u16, Option<&'static str>)>,
    /// Answers given before any other to site reads.
    site_answers: Vec<(u16, Option<&'static str>)>,
    /// What was wrong with a request, as Netlify would refuse it (asserted empty).
    faults: Vec<String>,
    /// The deploy the site serves: (id, created, published; Unix seconds).
    published: Option<(String, u64, u64)>,
    /// Auto publishing stopped: a ready deploy is not published.
    locked: bool,
    /// Reads of a deploy in `ready` before Netlify publishes it (0: at once).
    publish_lag: u32,
    /// Reads in `ready` so far, by deploy.
    ready_reads: std::collections::HashMap<String, u32>,
}

/// A Netlify API on 127.0.0.1.
struct FakeNetlify {
    url: String,
    state: Arc<Mutex<State>>,
}

impl FakeNetlify {
    fn start() -> FakeNetlify {
        let server = tiny_http::Server::http("127.0.0.1:0").expect("start the fake Netlify");
        let url = format!("http://{}", server.server_addr());
        let state = Arc::new(Mutex::new(State {
            sees_site: true,
            plan: Some(Plan {
                building_ms: 300,
                error: None,
            }),
            ..State::default()
        }));
        let shared = Arc::clone(&state);
        std::thread::spawn(move || {
            for mut request in server.incoming_requests() {
                let hit = Hit::read(&mut request);
                let (status, headers, reply) = answer(&shared, hit);
                let mut response = tiny_http::Response::from_string(reply).with_status_code(status);
                response.add_header(
                    tiny_http::Header::from_bytes("Content-Type", "application/json").unwrap(),
                );
                response.add_header(
                    tiny_http::Header::from_bytes("Date", http_date(now_secs())).unwrap(),
                );
                for (k, v) in headers {
                    response.add_header(tiny_http::Header::from_bytes(k, v).unwrap());
                }
                let _ = request.respond(response);
            }
        });
        FakeNetlify { url, state }
    }

    fn set_plan(&self, plan: Plan) {
        self.state.lock().unwrap().plan = Some(plan);
    }

    fn hits(&self) -> Vec<Hit> {
        self.state.lock().unwrap().hits.clone()
    }

    fn builds(&self) -> Vec<Hit> {
        self.hits()
            .into_iter()
            .filter(|h| h.path.ends_with("/builds"))
            .collect()
    }

    fn deploys_made(&self) -> usize {
        self.state.lock().unwrap().deploys.len()
    }

    fn faults(&self) -> Vec<String> {
        self.state.lock().unwrap().faults.clone()
    }
}

fn now_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// Netlify writes its times with milliseconds: `2026-12-07T18:00:00.000Z`.
fn netlify_time(secs: u64) -> String {
    iso(secs * 1000).replace('Z', ".000Z")
}

/// What Netlify answers to `hit`: status, headers, body.
fn answer(state: &Mutex<State>, hit: Hit) -> (u16, Vec<(&'static str, String)>, String) {
    let mut s = state.lock().unwrap();
    s.hits.push(hit.clone());
    let not_found = json!({"code": 404, "message": "Not Found"}).to_string();
    // Every request of ours names us and asks for JSON, with the token as a bearer.
    if !hit
        .header("user-agent")
        .is_some_and(|u| u.starts_with("git-dispatch/"))
    {
        s.faults.push(format!("no User-Agent: {hit:?}"));
    }
    for (k, _) in &hit.headers {
        if k.to_ascii_lowercase().starts_with("x-github") {
            s.faults
                .push(format!("a GitHub header went to Netlify: {hit:?}"));
        }
    }
    if hit.header("accept") != Some("application/json") {
        s.faults
            .push(format!("no Accept: application/json: {hit:?}"));
    }
    let other = hit.header("authorization") == Some(&format!("Bearer {OTHER_TOKEN}"));
    if hit.header("authorization") != Some(&format!("Bearer {NETLIFY_TOKEN}")) && !other {
        let body = json!({"code": 401, "message": "Access Denied: Invalid token"});
        return (401, vec![], body.to_string());
    }
    if other && hit.path != "/api/v1/user" {
        return (404, vec![], not_found);
    }
    let builds = format!("/api/v1/sites/{SITE}/builds");
    match (hit.method.as_str(), hit.path.as_str()) {
        ("GET", "/api/v1/user") => (
            200,
            vec![],
            json!({"id": "u1", "email": "writer@example.com", "full_name": "A Writer"}).to_string(),
        ),
        ("GET", p) if p == format!("/api/v1/sites/{SITE}") => {
            if !s.site_answers.is_empty() {
                let (status, after) = s.site_answers.remove(0);
                let headers = after.map(|a| vec![("Retry-After", a.to_string())]);
                return (status, headers.unwrap_or_default(), "{}".into());
            }
            if !s.sees_site {
                return (404, vec![], not_found);
            }
            let mut site = site_json();
            if let Some((id, created, _)) = &s.published {
                site["published_deploy"] = json!({
                    "id": id, "created_at": netlify_time(*created), "locked": s.locked,
                });
            }
            (200, vec![], site.to_string())
        }
        ("POST", p) if p.starts_with("/api/v1/sites/") && p.ends_with("/builds") => {
            if !s.build_answers.is_empty() {
                let (status, after) = s.build_answers.remove(0);
                let headers = after.map(|a| vec![("Retry-After", a.to_string())]);
                return (status, headers.unwrap_or_default(), "{}".into());
            }
            if p != builds || !s.sees_site {
                return (404, vec![], not_found);
            }
            if !hit.body.is_empty() {
                s.faults.push(format!("a body with the build: {hit:?}"));
            }
            let Some(title) = hit.query.strip_prefix("title=") else {
                s.faults.push(format!("no title: {hit:?}"));
                return (422, vec![], "{}".into());
            };
            let n = s.deploys.len() + 1;
            let id = format!("65a0b1c2d3e4f5a6b7c8d9{n:02x}");
            let plan = s.plan.clone().unwrap();
            s.deploys
                .push((id.clone(), Instant::now(), plan, title.to_string(), 0));
            let body = json!({
                "id": format!("b{n}"), "deploy_id": id, "sha": null, "done": false,
                "error": null, "created_at": netlify_time(now_secs()),
            });
            (200, vec![], body.to_string())
        }
        ("GET", p) if p.starts_with("/api/v1/deploys/") => {
            if !s.deploy_answers.is_empty() {
                let (status, after) = s.deploy_answers.remove(0);
                let headers = after.map(|a| vec![("Retry-After", a.to_string())]);
                return (status, headers.unwrap_or_default(), "{}".into());
            }
            let id = p.trim_start_matches("/api/v1/deploys/").to_string();
            let Some(d) = s.deploys.iter_mut().find(|d| d.0 == id) else {
                return (404, vec![], not_found);
            };
            let created = now_secs() - d.1.elapsed().as_secs();
            let age = d.1.elapsed().as_millis() as u64;
            d.4 += 1;
            let (state, error) = match (&d.2, d.4, age) {
                (_, 1, _) => ("enqueued", None),
                (plan, _, age) if age < plan.building_ms => ("building", None),
                (Plan { error: None, .. }, _, _) => ("ready", None),
                (Plan { error: Some(e), .. }, _, _) => ("error", Some(*e)),
            };
            let id_now = d.0.clone();
            if state == "ready" {
                // Netlify publishes a production deploy as it becomes ready (a moment
                // later, with `publish_lag`), unless the site's publishing is locked.
                let reads = s.ready_reads.entry(id_now.clone()).or_insert(0);
                *reads += 1;
                let due = *reads > s.publish_lag;
                if due && !s.locked && s.published.as_ref().is_none_or(|p| p.0 != id_now) {
                    s.published = Some((id_now.clone(), created, now_secs()));
                }
            }
            let published_at = s
                .published
                .as_ref()
                .filter(|p| p.0 == id_now)
                .map(|p| netlify_time(p.2));
            let d = s.deploys.iter().find(|d| d.0 == id).unwrap();
            let mut deploy = site_json();
            let obj = deploy.as_object_mut().unwrap();
            obj.insert("id".into(), json!(id));
            obj.insert("site_id".into(), json!(SITE));
            obj.insert("state".into(), json!(state));
            obj.insert("error_message".into(), json!(error));
            obj.insert("title".into(), json!(d.3));
            obj.insert("branch".into(), json!("main"));
            obj.insert("context".into(), json!("production"));
            obj.insert("created_at".into(), json!(netlify_time(created)));
            obj.insert("updated_at".into(), json!(netlify_time(now_secs())));
            obj.insert("published_at".into(), json!(published_at));
            obj.insert(
                "deploy_ssl_url".into(),
                json!(format!("https://{id}--blog-site.netlify.app")),
            );
            (200, vec![], deploy.to_string())
        }
        _ => (404, vec![], not_found),
    }
}

/// The site as getSite answers it.
fn site_json() -> Value {
    json!({
        "id": SITE, "site_id": SITE, "name": "blog-site",
        "url": "https://blog.example.net", "ssl_url": "https://blog.example.net",
        "admin_url": "https://app.netlify.com/sites/blog-site",
    })
}

/// A clone with the hook, a `netlify` target for the fake's site, and the token stored.
fn with_site(fake: &FakeNetlify) -> TestEnv {
    let mut env = TestEnv::new();
    env.set_var("GIT_DISPATCH_NETLIFY_API_URL", &fake.url);
    env.set_var("GIT_DISPATCH_POLL_MS", "50");
    env.install();
    // The test home turns following off; here it is the subject.
    env.git_ok(&env.clone, &["config", "dispatch.follow", "true"]);
    let out = env.dispatch(&["add", "--netlify", SITE]);
    assert_exit(&out, 0, "add --netlify");
    assert!(
        stderr(&out).contains("next: a Netlify personal access token"),
        "{}",
        show(&out)
    );
    let out = env.dispatch_with_stdin(&["login", "--netlify"], &format!("{NETLIFY_TOKEN}\n"));
    assert_exit(&out, 0, "login --netlify");
    assert_no_token(&out, NETLIFY_TOKEN, "login --netlify");
    env
}

/// `status --json`'s newest delivery's `follow`, once it has an outcome.
fn wait_outcome(env: &TestEnv) -> Value {
    let status = env.wait_status(TIMEOUT, "a followed outcome", |s| {
        recent(s)
            .first()
            .is_some_and(|d| d["follow"]["outcome"].is_string())
    });
    recent(&status)[0]["follow"].clone()
}

#[test]
fn a_netlify_site_is_built_through_its_api_and_followed_to_live() {
    let fake = FakeNetlify::start();
    let env = with_site(&fake);
    let log = env.log_notifications();
    let config = fs::read_to_string(env.clone.join(".git/config")).unwrap();
    assert!(config.contains(&format!("netlify = {SITE}")), "{config}");
    assert_eq!(mode(&env.credentials_path()) & 0o777, 0o600);

    let doctor = env.dispatch(&["doctor"]);
    assert!(
        stdout(&doctor).contains(&format!(
            "netlify: the Netlify token can see site {SITE} (https://blog.example.net)"
        )),
        "{}",
        show(&doctor)
    );
    assert!(fake.builds().is_empty(), "doctor started a build");

    let sha = env.commit(&env.clone, "post.md", "post\n", "New post & more");
    let push = env.push_ok(&["origin", "main"]);
    assert!(
        stderr(&push).contains(&format!(
            "will dispatch a build to netlify site {} once main lands ({})",
            &SITE[..8],
            &sha[..7]
        )),
        "{}",
        show(&push)
    );
    let follow = wait_outcome(&env);
    assert_eq!(follow["outcome"], "success", "{follow:#}");
    let builds = fake.builds();
    assert_eq!(builds.len(), 1, "{builds:#?}");
    assert_eq!(builds[0].method, "POST");
    // The build's title names the pushed commit, as Netlify's deploy list shows it.
    assert_eq!(
        builds[0].query,
        format!("title=remote%20{}%3A%20New%20post%20%26%20more", &sha[..7])
    );
    let deploy = &follow["deploy"];
    assert_eq!(deploy["state"], "ready");
    assert_eq!(
        deploy["url"],
        format!(
            "https://app.netlify.com/sites/blog-site/deploys/{}",
            deploy["id"].as_str().unwrap()
        )
    );
    assert_eq!(follow["matched"], "deploy_id");
    assert_eq!(follow["site_url"], "https://blog.example.net");

    let status = env.dispatch(&["status"]);
    assert!(
        stdout(&status).contains("live at https://blog.example.net"),
        "{}",
        show(&status)
    );
    let watch = env.dispatch(&["watch"]);
    assert_exit(&watch, 0, "watch of a live site");
    assert!(
        stdout(&watch).contains("built in")
            && stdout(&watch).contains("live at https://blog.example.net"),
        "{}",
        show(&watch)
    );

    let start = Instant::now();
    while !fs::read_to_string(&log)
        .unwrap_or_default()
        .contains("OUTCOME")
    {
        assert!(start.elapsed() < TIMEOUT, "no notification");
        std::thread::sleep(Duration::from_millis(20));
    }
    let said = fs::read_to_string(&log).unwrap();
    for want in [
        "GIT_DISPATCH_OUTCOME=success\n",
        "GIT_DISPATCH_SITE_URL=https://blog.example.net\n",
        "GIT_DISPATCH_RUN_URL=https://app.netlify.com/sites/blog-site/deploys/",
        "GIT_DISPATCH_TARGET=netlify\n",
    ] {
        assert!(said.contains(want), "{want} in {said}");
    }
    assert!(fake.faults().is_empty(), "{:#?}", fake.faults());
    // The deploy was read by its id only: no list of deploys was asked for.
    assert!(
        fake.hits().iter().all(|h| !h.path.ends_with("/deploys")),
        "{:#?}",
        fake.hits()
    );
    crate::follow::wait_follower_gone(&env);
    scan_for_token(&env, NETLIFY_TOKEN);
}

#[test]
fn a_failed_netlify_build_is_said_with_its_error_message_once() {
    let fake = FakeNetlify::start();
    fake.set_plan(Plan {
        building_ms: 200,
        error: Some("Build script returned non-zero exit code: 2"),
    });
    let env = with_site(&fake);
    env.commit(&env.clone, "a.md", "a\n", "a");
    env.push_ok(&["origin", "main"]);
    let watch = env.dispatch(&["watch"]);
    assert_exit(&watch, 1, "watch of a failed build");
    assert!(
        stdout(&watch).contains("failed: Build script returned non-zero exit code: 2"),
        "{}",
        show(&watch)
    );
    let follow = wait_outcome(&env);
    assert_eq!(follow["outcome"], "failure");
    assert_eq!(
        follow["deploy"]["error_message"],
        "Build script returned non-zero exit code: 2"
    );
    let status = env.dispatch(&["status"]);
    assert_exit(&status, 1, "status after a failed build");

    // The next push says it once, with the deploy's log page; the one after does not.
    fake.set_plan(Plan {
        building_ms: 100,
        error: None,
    });
    env.commit(&env.clone, "b.md", "b\n", "b");
    let said = stderr(&env.push_ok(&["origin", "main"]));
    assert_eq!(
        said.matches("Build script returned non-zero exit code: 2")
            .count(),
        1,
        "{said}"
    );
    assert!(
        said.contains("https://app.netlify.com/sites/blog-site/deploys/"),
        "{said}"
    );
    env.wait_status(TIMEOUT, "b's build", |s| {
        recent(s)
            .first()
            .is_some_and(|d| d["follow"]["outcome"] == "success")
    });
    env.commit(&env.clone, "c.md", "c\n", "c");
    let said = stderr(&env.push_ok(&["origin", "main"]));
    assert!(!said.contains("non-zero exit code"), "said twice: {said}");
    assert!(fake.faults().is_empty(), "{:#?}", fake.faults());
}

#[test]
fn a_token_without_the_site_is_said_once_with_the_fix_and_not_sent_again() {
    let fake = FakeNetlify::start();
    let env = with_site(&fake);
    fake.state.lock().unwrap().sees_site = false;
    env.commit(&env.clone, "a.md", "a\n", "a");
    env.push_ok(&["origin", "main"]);
    let status = env.wait_status(TIMEOUT, "the refused build", |s| {
        entries(s).iter().any(|e| e["state"] == "failed")
    });
    let error = entries(&status)[0]["last_error"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        error.contains(&format!(
            "Netlify shows this token no site {SITE} (404: Not Found)"
        )),
        "{error}"
    );
    assert!(
        error.contains("Site configuration > General > Site details > Site ID"),
        "{error}"
    );
    // Refused, so not tried again by itself: one request, however long one waits.
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(fake.builds().len(), 1, "{:#?}", fake.builds());
    // doctor says the same, with no build started.
    let doctor = env.dispatch(&["doctor"]);
    assert_exit(&doctor, 1, "doctor with a token that cannot see the site");
    assert!(
        combined(&doctor).contains("Netlify shows this token no site"),
        "{}",
        show(&doctor)
    );
    assert_eq!(fake.builds().len(), 1);
    // The next push (a feature branch, which fires nothing) says it once; the one after
    // says nothing.
    env.git_ok(&env.clone, &["checkout", "--quiet", "-b", "feature"]);
    env.commit(&env.clone, "wip.md", "wip\n", "wip");
    let said = stderr(&env.push_ok(&["origin", "feature"]));
    assert_eq!(
        said.matches("Netlify shows this token no site").count(),
        1,
        "{said}"
    );
    env.commit(&env.clone, "wip2.md", "wip\n", "wip");
    let said = stderr(&env.push_ok(&["origin", "feature"]));
    assert!(
        !said.contains("Netlify shows this token"),
        "said twice: {said}"
    );
    assert_eq!(fake.builds().len(), 1);

    // Another user's token, which Netlify accepts but which sees no site here, is not
    // stored over the one that is.
    let out = env.dispatch_with_stdin(&["login", "--netlify"], &format!("{OTHER_TOKEN}\n"));
    assert_exit(&out, 2, "login --netlify with a token that sees no site");
    assert!(stderr(&out).contains("token not stored"), "{}", show(&out));
    assert_no_token(&out, OTHER_TOKEN, "login --netlify");
    let creds = fs::read_to_string(env.credentials_path()).unwrap();
    assert!(
        creds.contains(NETLIFY_TOKEN) && !creds.contains(OTHER_TOKEN),
        "{creds}"
    );
}

#[test]
fn a_build_netlify_did_not_publish_is_not_said_live() {
    let fake = FakeNetlify::start();
    {
        // Auto publishing stopped on yesterday's deploy: it stays what the site serves.
        let mut s = fake.state.lock().unwrap();
        s.locked = true;
        let yesterday = now_secs() - 86_400;
        s.published = Some(("5f00aa00bb00cc00dd00ee01".into(), yesterday, yesterday));
    }
    let env = with_site(&fake);
    env.commit(&env.clone, "a.md", "a\n", "a");
    env.push_ok(&["origin", "main"]);
    let watch = env.dispatch(&["watch"]);
    assert_exit(&watch, 1, "watch of a build left unpublished");
    let text = stdout(&watch);
    assert!(
        text.contains(
            "not published: the site still serves an older deploy (auto publishing stopped?)"
        ),
        "{}",
        show(&watch)
    );
    assert!(!text.contains("live at"), "{}", show(&watch));
    let follow = wait_outcome(&env);
    assert_eq!(follow["outcome"], "action_required", "{follow:#}");
    assert!(follow["site_url"].is_null(), "{follow:#}");
}

#[test]
fn a_deploy_netlify_publishes_a_moment_after_ready_is_said_live_not_held() {
    let fake = FakeNetlify::start();
    {
        // Yesterday's deploy is served until Netlify publishes ours, three reads after it
        // is ready; and its first look at the site is a 429.
        let mut s = fake.state.lock().unwrap();
        let yesterday = now_secs() - 86_400;
        s.published = Some(("5f00aa00bb00cc00dd00ee01".into(), yesterday, yesterday));
        s.publish_lag = 3;
    }
    let env = with_site(&fake);
    fake.state.lock().unwrap().site_answers = vec![(429, Some("1"))];
    let before = fake.hits().len();
    env.commit(&env.clone, "a.md", "a\n", "a");
    env.push_ok(&["origin", "main"]);
    let follow = wait_outcome(&env);
    assert_eq!(follow["outcome"], "success", "{follow:#}");
    assert_eq!(follow["site_url"], "https://blog.example.net");
    // The 429 on the site was waited out: the next read of the site a second on.
    let sites: Vec<Instant> = fake.hits()[before..]
        .iter()
        .filter(|h| h.path == format!("/api/v1/sites/{SITE}"))
        .map(|h| h.at)
        .collect();
    assert!(sites.len() >= 2, "{sites:?}");
    assert!(
        sites[1] - sites[0] >= Duration::from_millis(950),
        "{sites:?}"
    );
    assert!(fake.faults().is_empty(), "{:#?}", fake.faults());
}

#[test]
fn a_token_refused_while_following_is_read_again_once_then_cannot_follow() {
    let fake = FakeNetlify::start();
    fake.state.lock().unwrap().deploy_answers = vec![(401, None), (401, None)];
    let env = with_site(&fake);
    env.commit(&env.clone, "a.md", "a\n", "a");
    env.push_ok(&["origin", "main"]);
    let follow = wait_outcome(&env);
    assert_eq!(follow["outcome"], "cannot_follow", "{follow:#}");
    let note = follow["note"].as_str().unwrap();
    assert!(
        note.contains("Netlify refused the token (401)") && note.contains("login --netlify"),
        "{note}"
    );
    let reads = fake
        .hits()
        .iter()
        .filter(|h| h.path.starts_with("/api/v1/deploys/"))
        .count();
    assert_eq!(reads, 2, "read once more after the first 401, then never");
    // Not knowing is not a failed build: the build stands, and status says why.
    let status = env.dispatch(&["status"]);
    assert_exit(&status, 0, "status after cannot_follow");
    assert!(
        stdout(&status).contains("cannot follow"),
        "{}",
        show(&status)
    );
}

#[test]
fn netlify_s_429_is_waited_out_and_the_site_is_built_once() {
    let fake = FakeNetlify::start();
    {
        let mut s = fake.state.lock().unwrap();
        s.build_answers = vec![(429, Some("1")), (503, None)];
        s.deploy_answers = vec![(429, Some("1"))];
    }
    let env = with_site(&fake);
    env.commit(&env.clone, "a.md", "a\n", "a");
    env.push_ok(&["origin", "main"]);
    // Tried again by the waiter (and `retry`), never more than once at a time.
    let start = Instant::now();
    while fake.deploys_made() == 0 {
        assert!(start.elapsed() < TIMEOUT, "{:#?}", fake.builds());
        let _ = env.dispatch(&["retry"]);
        std::thread::sleep(Duration::from_millis(300));
    }
    let follow = wait_outcome(&env);
    assert_eq!(follow["outcome"], "success", "{follow:#}");
    assert_eq!(fake.deploys_made(), 1, "{:#?}", fake.builds());
    // The deploy read answered 429 with Retry-After: 1 is read again only a second on.
    let reads: Vec<Instant> = fake
        .hits()
        .iter()
        .filter(|h| h.path.starts_with("/api/v1/deploys/"))
        .map(|h| h.at)
        .collect();
    assert!(reads.len() >= 2, "{reads:?}");
    let waited = reads[1] - reads[0];
    assert!(
        waited >= Duration::from_millis(950),
        "read again after {waited:?}"
    );
    let retried = fake.builds().len();
    assert!(retried >= 3, "{retried}");
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(
        fake.builds().len(),
        retried,
        "sent again after it was built"
    );
    assert!(fake.faults().is_empty(), "{:#?}", fake.faults());
}

#[test]
fn send_dry_run_shows_netlify_s_request_without_the_token_and_sends_nothing() {
    let fake = FakeNetlify::start();
    let env = with_site(&fake);
    env.commit(&env.clone, "a.md", "a\n", "First post");
    env.push_ok(&["origin", "main"]);
    wait_outcome(&env);
    let before = fake.builds().len();
    let out = env.dispatch(&["send", "--dry-run"]);
    assert_exit(&out, 0, "send --dry-run");
    assert_no_token(&out, NETLIFY_TOKEN, "send --dry-run");
    let text = stdout(&out);
    assert!(
        text.contains(&format!(
            "POST {}/api/v1/sites/{SITE}/builds?title=remote%20",
            fake.url
        )),
        "{text}"
    );
    assert!(text.contains("Authorization: Bearer ********"), "{text}");
    assert_eq!(fake.builds().len(), before, "a dry run started a build");
}

#[test]
fn a_bad_netlify_target_is_refused_with_the_fix_and_the_push_is_unharmed() {
    let env = TestEnv::new();
    env.install();
    let out = env.dispatch(&["add", "--netlify", "my site!"]);
    assert_exit(&out, 2, "add --netlify with a bad id");
    assert!(
        stderr(&out).contains("Site configuration > General > Site details > Site ID"),
        "{}",
        show(&out)
    );
    let config = fs::read_to_string(env.clone.join(".git/config")).unwrap();
    assert!(!config.contains("netlify"), "{config}");
    // GitHub's keys beside a Netlify site are said, not ignored; the push still lands.
    env.git_ok(&env.clone, &["config", "dispatch.blog.netlify", SITE]);
    env.git_ok(&env.clone, &["config", "dispatch.blog.event", "update"]);
    let list = env.dispatch(&["list"]);
    assert!(
        combined(&list).contains("a netlify target takes no event"),
        "{}",
        show(&list)
    );
    let sha = env.commit(&env.clone, "a.md", "a\n", "a");
    let push = env.push_ok(&["origin", "main"]);
    assert!(
        stderr(&push).contains("a netlify target takes no event"),
        "{}",
        show(&push)
    );
    assert_eq!(
        env.git_stdout(&env.remote, &["rev-parse", "main"]),
        sha,
        "the push did not land"
    );
}

#[test]
fn watch_on_an_80_column_terminal_shows_the_live_site_and_the_deploy_s_log_whole() {
    let fake = FakeNetlify::start();
    fake.set_plan(Plan {
        building_ms: 1500,
        error: None,
    });
    let env = with_site(&fake);
    env.commit(&env.clone, "a.md", "a\n", "A first post");
    env.push_ok(&["origin", "main"]);
    let Some((screen, code)) = crate::outcomes::on_a_real_terminal(&env, "watch") else {
        return;
    };
    assert_eq!(code, 0, "{screen}");
    let rows: Vec<&str> = screen.lines().filter(|l| !l.trim().is_empty()).collect();
    // Each URL whole on a row of its own; no row cut, none past the screen's width.
    assert!(
        rows[0].starts_with("netlify -> netlify site 6d2f1c4e ")
            && rows[0].contains(": built in ")
            && rows[0].ends_with("s, live at"),
        "{screen}"
    );
    assert_eq!(rows[1], "  https://blog.example.net", "{screen}");
    assert!(
        rows[2].starts_with("  https://app.netlify.com/sites/blog-site/deploys/65a0b1c2"),
        "{screen}"
    );
    assert!(
        rows.iter()
            .all(|r| r.chars().count() <= 80 && !r.contains('…')),
        "{screen}"
    );
}

#[test]
fn a_netlify_only_clone_is_followed_whatever_dispatch_api_url_says() {
    let fake = FakeNetlify::start();
    let env = with_site(&fake);
    // GitHub's API URL is unusable here, and nothing of GitHub's is asked for.
    env.git_ok(
        &env.clone,
        &["config", "dispatch.apiUrl", "http://ghe.example.com"],
    );
    env.commit(&env.clone, "a.md", "a\n", "a");
    env.push_ok(&["origin", "main"]);
    let follow = wait_outcome(&env);
    assert_eq!(follow["outcome"], "success", "{follow:#}");
    let doctor = env.dispatch(&["doctor"]);
    assert_exit(&doctor, 0, "doctor of a Netlify-only clone");
    assert!(!combined(&doctor).contains("apiUrl"), "{}", show(&doctor));
}

#[test]
fn the_guided_setup_takes_a_netlify_site_and_its_token_and_ends_with_doctor() {
    use crate::install_sh::{type_token, Terminal, REPO_PROMPT};
    let fake = FakeNetlify::start();
    let mut env = TestEnv::new();
    env.set_var("GIT_DISPATCH_NETLIFY_API_URL", &fake.url);
    // In a clone with no target, on a terminal: the guided setup.
    let mut term = Terminal::spawn(env.dispatch_cmd(&["install"]));
    term.wait_for_text(REPO_PROMPT);
    term.type_line("Netlify");
    term.wait_for_text("its Site ID (Site configuration > General > Site details): ");
    term.type_line(SITE);
    type_token(&mut term, NETLIFY_TOKEN, 1);
    let (status, shown) = term.finish();
    assert_eq!(status.code(), Some(0), "{shown}");
    assert!(
        find_secret(shown.as_bytes(), NETLIFY_TOKEN).is_none(),
        "{shown}"
    );
    for said in [
        "built on Netlify? answer netlify; Vercel, Cloudflare, Render? hook",
        "now a Netlify personal access token, made at\r\ngit-dispatch: https://app.netlify.com/user/applications",
        "Netlify token for 127.0.0.1",
        &format!("added target netlify -> netlify site {SITE}"),
        "checking the setup (`git dispatch doctor`):",
        &format!("ok   netlify: the Netlify token can see site {SITE}"),
    ] {
        assert!(shown.contains(said), "{said}\n--- terminal ---\n{shown}");
    }
    assert_eq!(
        env.git_stdout(&env.clone, &["config", "dispatch.netlify.netlify"]),
        SITE
    );
    let creds = fs::read_to_string(env.credentials_path()).unwrap();
    assert!(creds.contains(NETLIFY_TOKEN), "{creds}");
    env.remove_var("GIT_DISPATCH_NETLIFY_API_URL");
    assert!(fake.builds().is_empty(), "the setup started a build");
}

#[test]
fn send_starts_a_build_now_and_login_and_logout_manage_the_netlify_token() {
    let fake = FakeNetlify::start();
    let env = with_site(&fake);
    env.commit(&env.clone, "a.md", "a\n", "First post");
    env.push_ok(&["origin", "main"]);
    wait_outcome(&env);
    // `send`: a build now, for what the remote's main holds, followed as a push's is.
    let out = env.dispatch(&["send"]);
    assert_exit(&out, 0, "send");
    assert!(
        stderr(&out).contains(&format!("dispatched to netlify site {}", &SITE[..8])),
        "{}",
        show(&out)
    );
    assert_eq!(fake.deploys_made(), 2);
    env.wait_status(TIMEOUT, "the sent build's outcome", |s| {
        recent(s).len() == 2
            && recent(s)
                .iter()
                .all(|d| d["follow"]["outcome"] == "success")
    });

    // A token Netlify refuses is not stored, and the stored one stays.
    let out = env.dispatch_with_stdin(&["login", "--netlify"], "nfp_revokedToken000000000000000\n");
    assert_exit(&out, 2, "login --netlify with a refused token");
    assert!(
        stderr(&out).contains("token not stored: Netlify refused it (401)")
            && stderr(&out).contains("https://app.netlify.com/user/applications"),
        "{}",
        show(&out)
    );
    assert!(fs::read_to_string(env.credentials_path())
        .unwrap()
        .contains(NETLIFY_TOKEN));
    // logout --netlify forgets it; the next build is kept with the fix, not lost.
    let out = env.dispatch(&["logout", "--netlify"]);
    assert_exit(&out, 0, "logout --netlify");
    assert!(
        stderr(&out).contains("forgot the Netlify token"),
        "{}",
        show(&out)
    );
    assert!(!fs::read_to_string(env.credentials_path())
        .unwrap_or_default()
        .contains(NETLIFY_TOKEN));
    env.commit(&env.clone, "b.md", "b\n", "b");
    env.push_ok(&["origin", "main"]);
    let status = env.wait_for_error("confirmed", TIMEOUT);
    let error = entries(&status)[0]["last_error"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        error.contains("no Netlify token on this machine") && error.contains("login --netlify"),
        "{error}"
    );
    assert_eq!(fake.deploys_made(), 2, "nothing sent without a token");
}

#[test]
fn a_deploy_netlify_does_not_find_at_first_is_asked_again_not_given_up() {
    let fake = FakeNetlify::start();
    // The deploy the build named is not found at the first two reads (its API catching up).
    fake.state.lock().unwrap().deploy_answers = vec![(404, None), (404, None)];
    let env = with_site(&fake);
    env.commit(&env.clone, "a.md", "a\n", "a");
    env.push_ok(&["origin", "main"]);
    let follow = wait_outcome(&env);
    assert_eq!(follow["outcome"], "success", "{follow:#}");
}
