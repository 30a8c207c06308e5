//! Shared support for the integration tests: a fake GitHub API on 127.0.0.1 and
//! throwaway git repositories with an isolated environment.
//!
//! Every test builds its own `FakeGitHub` and `TestEnv`, runs git with `-C dir`
//! (never by changing this process's directory) so tests run in parallel, and
//! runs the real `git-dispatch` binary. Helpers that fail print the command, its
//! directory, stdout and stderr, so a red line in CI explains itself.
//!
//! The after-push waiter is detached, so tests never sleep for a fixed time:
//! they poll (`wait_for_dispatches`, `wait_idle`, `wait_settled`) every 20 ms.
//! The hook records an entry before `git push` returns and an entry leaves
//! `status --json` only after the fake has recorded its 204, so "no entries left"
//! followed by "N dispatches received" is free of races.

use std::collections::{BTreeMap, BTreeSet};
use std::ffi::{OsStr, OsString};
use std::fs;
use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

/// The token the fake accepts unless a test picks another.
pub const TOKEN: &str = "github_pat_11TESTTOKEN0aB1cD2eF3gH4iJ5kL6mN7oP8qR9sT0uVwXyZ";
/// How long a test waits for the detached waiter or the fake.
pub const TIMEOUT: Duration = Duration::from_secs(10);
/// How often waits poll.
pub const POLL: Duration = Duration::from_millis(20);
/// The REST API version every request must name.
pub const API_VERSION: &str = "2022-11-28";
/// The media type every request must accept.
pub const ACCEPT: &str = "application/vnd.github+json";
/// GitHub's limit on the body of a dispatch.
pub const MAX_BODY: usize = 65536;

/// The binary under test as `./install.sh` installs it: a read-only copy named
/// `git-dispatch`, so `install` links the hook to it (it never links a writable binary).
pub fn bin() -> PathBuf {
    static COPY: OnceLock<PathBuf> = OnceLock::new();
    COPY.get_or_init(read_only_copy).clone()
}

/// The binary as cargo built it: writable, as `cargo install` leaves it.
pub fn built_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_git-dispatch"))
}

/// One copy per build, shared by the test binaries: its directory is named by the built
/// binary's size and mtime, filled under a temporary name and renamed into place.
fn read_only_copy() -> PathBuf {
    let built = built_bin();
    let meta = fs::metadata(&built).expect("stat the built binary");
    let stamp = meta
        .modified()
        .expect("mtime")
        .duration_since(std::time::UNIX_EPOCH)
        .expect("mtime after 1970")
        .as_nanos();
    // Tests that run as nobody run this copy, so every directory above it must let others
    // in: target/ usually does; a checkout under /root does not, and then /tmp serves.
    let target_tmp = Path::new(env!("CARGO_TARGET_TMPDIR"));
    let searchable = target_tmp.ancestors().all(|dir| {
        use std::os::unix::fs::PermissionsExt;
        fs::metadata(dir).is_ok_and(|m| m.permissions().mode() & 0o001 != 0)
    });
    let fallback;
    let root = if searchable {
        target_tmp
    } else {
        use std::hash::{Hash, Hasher};
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        env!("CARGO_MANIFEST_DIR").hash(&mut hasher);
        fallback = std::env::temp_dir().join(format!("git-dispatch-bins-{:x}", hasher.finish()));
        fs::create_dir_all(&fallback).expect("create the binary's directory in /tmp");
        set_mode(&fallback, 0o755);
        fallback.as_path()
    };
    // The profile (`debug`, `release`) in the name, so concurrent runs of two profiles
    // never prune each other's copy.
    let profile = built
        .parent()
        .and_then(Path::file_name)
        .map(|p| p.to_string_lossy().into_owned())
        .unwrap_or_default();
    let prefix = format!("bin-{profile}-");
    let name = format!("{prefix}{}-{stamp}", meta.len());
    let dir = root.join(&name);
    let copy = dir.join("git-dispatch");
    if !copy.is_file() {
        let staging = root.join(format!("{name}.{}.tmp", std::process::id()));
        let _ = fs::remove_dir_all(&staging);
        fs::create_dir_all(&staging).expect("create the binary's staging dir");
        // cp in a child, not fs::copy: a write handle held in this multi-threaded process
        // can leak into another test's fork and make exec fail with ETXTBSY.
        let status = Command::new("cp")
            .arg(&built)
            .arg(staging.join("git-dispatch"))
            .status()
            .expect("run cp");
        assert!(status.success(), "copy the binary");
        set_mode(&staging.join("git-dispatch"), 0o555);
        // Another test binary may have won the race; its copy is as good.
        if fs::rename(&staging, &dir).is_err() {
            let _ = fs::remove_dir_all(&staging);
        }
        assert!(copy.is_file(), "{} after the copy", copy.display());
    }
    // Copies of older builds, and staging dirs a killed run left over an hour ago.
    let stale = |e: &fs::DirEntry| {
        e.metadata()
            .and_then(|m| m.modified())
            .is_ok_and(|t| t.elapsed().is_ok_and(|age| age > Duration::from_secs(3600)))
    };
    for entry in fs::read_dir(root).into_iter().flatten().flatten() {
        let other = entry.file_name().to_string_lossy().into_owned();
        let staging = other.ends_with(".tmp");
        if other.starts_with(&prefix) && other != name && (!staging || stale(&entry)) {
            let _ = fs::remove_dir_all(entry.path());
        }
    }
    copy
}

/// The `User-Agent` the binary must send.
pub fn user_agent() -> String {
    format!("git-dispatch/{}", env!("CARGO_PKG_VERSION"))
}

// ---------------------------------------------------------------------------
// Fake GitHub
// ---------------------------------------------------------------------------

/// One request the fake received, with the status it answered.
#[derive(Clone, Debug)]
pub struct Request {
    pub method: String,
    /// The path without the query string.
    pub path: String,
    /// The query string, without `?` (empty when none).
    pub query: String,
    pub headers: Vec<(String, String)>,
    pub body: String,
    pub status: u16,
    /// When the fake received it (this machine's clock, ms since the epoch).
    pub at_ms: u64,
}

impl Request {
    /// The first header of that name (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        find_header(&self.headers, name)
    }
}

/// A dispatch the fake accepted (204).
#[derive(Clone, Debug)]
pub struct Dispatch {
    /// `owner/repo` taken from the request path.
    pub repository: String,
    pub body: Value,
    pub request: Request,
}

/// A workflow file the fake serves through the contents API and can dispatch.
#[derive(Clone, Debug)]
struct Workflow {
    repo: String,
    file: String,
    yaml: String,
    /// Inputs it declares; `None`: it has no `workflow_dispatch` trigger.
    inputs: Option<Vec<String>>,
    /// GitHub's `state`: `active`, `disabled_manually`, `disabled_inactivity`, ...
    state: String,
}

struct FakeState {
    token: String,
    /// Answers garbled so far (`Build::garbled_once`).
    garbled: usize,
    repos: BTreeSet<String>,
    workflows: Vec<Workflow>,
    /// Forced status: (status, how many more requests; None = until cleared).
    forced: Option<(u16, Option<usize>)>,
    /// The body and headers of a forced answer (default: GitHub's message for the status).
    forced_reply: Option<(String, Vec<(String, String)>)>,
    /// Answer as GitHub Enterprise Server before 3.21: `return_run_details` is refused.
    old_server: bool,
    /// Further accepted tokens, each seeing only its own repositories (a fine-grained
    /// token's repository selection).
    tokens: BTreeMap<String, BTreeSet<String>>,
    /// The repositories the current request's token may see.
    visible: BTreeSet<String>,
    /// GitHub Actions: how each repository's builds go, and the runs so far.
    builds: BTreeMap<String, Build>,
    runs: Vec<FakeRun>,
    /// Whether the token may read Actions (403 with X-Accepted-GitHub-Permissions if not).
    actions_readable: bool,
    /// What `GET /user` answers with (200: the user `writer`).
    user_status: u16,
    /// Repositories' Actions settings: (enabled, readable by the token).
    actions_enabled: BTreeMap<String, (bool, bool)>,
    /// GitHub Pages sites, by repository: their `html_url`.
    pages: BTreeMap<String, String>,
    /// Headers of the answer being made, beside the ones every answer carries.
    extra_headers: Vec<(String, String)>,
    /// Requests counted against the primary rate limit, for `x-ratelimit-*` (a 304 is
    /// not counted, as on GitHub).
    used: u64,
    /// The primary budget of this window, and when it resets (Unix seconds).
    limit: u64,
    reset: u64,
    requests: Vec<Request>,
}

/// A tiny GitHub REST API on 127.0.0.1 that checks what GitHub checks.
///
/// ```text
/// POST /repos/{o}/{r}/dispatches   204 | 401 | 403 | 400 | 415 | 404 | 422
/// GET  /repos/{o}/{r}              200 {"full_name","default_branch":"main"} | 404
/// GET  /user                       200 {"login":"writer"}
/// GET  /repos/{o}/{r}/contents/.github/workflows[/{file}]   200 listing | file (base64)
/// POST /repos/{o}/{r}/actions/workflows/{file}/dispatches  200 run details | 204 | 404 | 422
/// ```
///
/// Every path may carry GitHub Enterprise Server's `/api/v3` prefix.
pub struct FakeGitHub {
    state: Arc<Mutex<FakeState>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
    url: String,
}

impl FakeGitHub {
    /// A fake that accepts `TOKEN` and knows `owner/site` and `owner/docs`.
    pub fn start() -> FakeGitHub {
        FakeGitHub::with_token(TOKEN)
    }

    /// A fake that accepts `token` and knows `owner/site` and `owner/docs`.
    pub fn with_token(token: &str) -> FakeGitHub {
        let server = tiny_http::Server::http("127.0.0.1:0").expect("start the fake GitHub");
        let port = server
            .server_addr()
            .to_ip()
            .expect("the fake listens on an IP address")
            .port();
        let state = Arc::new(Mutex::new(FakeState {
            token: token.to_string(),
            repos: ["owner/site", "owner/docs"]
                .iter()
                .map(|s| s.to_string())
                .collect(),
            workflows: Vec::new(),
            forced: None,
            forced_reply: None,
            garbled: 0,
            old_server: false,
            tokens: BTreeMap::new(),
            visible: BTreeSet::new(),
            builds: BTreeMap::new(),
            runs: Vec::new(),
            actions_readable: true,
            user_status: 200,
            actions_enabled: BTreeMap::new(),
            pages: BTreeMap::new(),
            extra_headers: Vec::new(),
            used: 0,
            limit: 5000,
            reset: 0,
            requests: Vec::new(),
        }));
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let state = Arc::clone(&state);
            let stop = Arc::clone(&stop);
            thread::spawn(move || serve(server, state, stop))
        };
        FakeGitHub {
            state,
            stop,
            thread: Some(thread),
            url: format!("http://127.0.0.1:{port}"),
        }
    }

    /// `http://127.0.0.1:PORT`, for `GIT_DISPATCH_API_URL`.
    pub fn url(&self) -> String {
        self.url.clone()
    }

    fn lock(&self) -> MutexGuard<'_, FakeState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Make `owner/repo` known (its dispatches succeed).
    pub fn add_repo(&self, repo: &str) {
        self.lock().repos.insert(repo.to_string());
    }

    /// Serve `.github/workflows/{file}` of `repo` with `yaml`; with `inputs`, it also takes
    /// `workflow_dispatch` with those declared inputs.
    pub fn add_workflow(&self, repo: &str, file: &str, yaml: &str, inputs: Option<&[&str]>) {
        let mut st = self.lock();
        // One file per path: a second call is the file edited.
        st.workflows.retain(|w| w.repo != repo || w.file != file);
        st.workflows.push(Workflow {
            repo: repo.to_string(),
            file: file.to_string(),
            yaml: yaml.to_string(),
            inputs: inputs.map(|i| i.iter().map(|s| s.to_string()).collect()),
            state: "active".to_string(),
        });
    }

    /// Sets a workflow's state as GitHub reports it (`disabled_manually`: turned off in the
    /// Actions tab; then a dispatch starts nothing).
    pub fn set_workflow_state(&self, repo: &str, file: &str, state: &str) {
        let mut st = self.lock();
        let workflow = st
            .workflows
            .iter_mut()
            .find(|w| w.repo == repo && w.file == file)
            .expect("a workflow to set the state of");
        workflow.state = state.to_string();
    }

    /// Whether GitHub Actions are enabled for `repo` (Settings > Actions), and whether the
    /// token may read that (it takes Administration: read).
    pub fn set_actions_enabled(&self, repo: &str, enabled: bool, readable: bool) {
        self.lock()
            .actions_enabled
            .insert(repo.to_string(), (enabled, readable));
    }

    /// The workflow dispatches accepted (200 or 204), as (repo, workflow file, body).
    pub fn workflow_dispatches(&self) -> Vec<(String, String, Value)> {
        self.requests()
            .into_iter()
            .filter(|r| r.method == "POST" && (r.status == 200 || r.status == 204))
            .filter_map(|r| {
                let parts = api_parts(&r.path);
                match parts.as_slice() {
                    ["repos", owner, repo, "actions", "workflows", file, "dispatches"] => Some((
                        format!("{owner}/{repo}"),
                        file.to_string(),
                        serde_json::from_str(&r.body).expect("an accepted body is JSON"),
                    )),
                    _ => None,
                }
            })
            .collect()
    }

    /// Answer every following request with `status` until `respond_normally`.
    pub fn respond_with(&self, status: u16) {
        self.lock().forced = Some((status, None));
    }

    /// Answer the next `n` requests with `status`.
    pub fn respond_with_n(&self, status: u16, n: usize) {
        self.lock().forced = if n == 0 {
            None
        } else {
            Some((status, Some(n)))
        };
    }

    /// Answer the next `n` requests with `status`, GitHub's `message` and `headers`.
    pub fn respond_with_reply(&self, status: u16, n: usize, text: &str, headers: &[(&str, &str)]) {
        let mut st = self.lock();
        st.forced = (n > 0).then_some((status, Some(n)));
        let headers = headers
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        st.forced_reply = Some((message(text), headers));
    }

    /// Stop forcing a status.
    pub fn respond_normally(&self) {
        let mut st = self.lock();
        st.forced = None;
        st.forced_reply = None;
    }

    /// Accept `token` too, for `repos` only (and `GET /user`).
    pub fn add_token(&self, token: &str, repos: &[&str]) {
        let repos = repos.iter().map(|r| r.to_string()).collect();
        self.lock().tokens.insert(token.to_string(), repos);
    }

    /// Answer as GitHub Enterprise Server 3.19 does: a workflow dispatch with
    /// `return_run_details` is refused with 422.
    pub fn as_old_server(&self) {
        self.lock().old_server = true;
    }

    /// Every request so far, in order.
    pub fn requests(&self) -> Vec<Request> {
        self.lock().requests.clone()
    }

    /// The dispatches answered with 204, in order.
    pub fn dispatches(&self) -> Vec<Dispatch> {
        self.requests()
            .into_iter()
            .filter(|r| r.method == "POST" && r.status == 204)
            .filter_map(|r| {
                let parts = api_parts(&r.path);
                match parts.as_slice() {
                    ["repos", owner, repo, "dispatches"] => Some(Dispatch {
                        repository: format!("{owner}/{repo}"),
                        body: serde_json::from_str(&r.body).expect("an accepted body is JSON"),
                        request: r.clone(),
                    }),
                    _ => None,
                }
            })
            .collect()
    }

    /// Poll until at least `n` dispatches were accepted; panic with what was
    /// received on timeout.
    pub fn wait_for_dispatches(&self, n: usize, timeout: Duration) -> Vec<Dispatch> {
        self.poll(timeout, &format!("{n} accepted dispatch(es)"), || {
            Some(self.dispatches()).filter(|got| got.len() >= n)
        })
    }

    /// Poll `done` until it gives a value; on timeout, panic with every request received.
    fn poll<T>(&self, timeout: Duration, what: &str, done: impl Fn() -> Option<T>) -> T {
        let start = Instant::now();
        loop {
            if let Some(value) = done() {
                return value;
            }
            if start.elapsed() > timeout {
                panic!(
                    "timed out after {timeout:?} waiting for {what}.\nrequests received:\n{}",
                    self.describe()
                );
            }
            thread::sleep(POLL);
        }
    }

    /// Every request, one paragraph each, with the Authorization value masked.
    pub fn describe(&self) -> String {
        let requests = self.requests();
        if requests.is_empty() {
            return "  (none)".to_string();
        }
        requests
            .iter()
            .map(|r| {
                let headers: Vec<String> = r
                    .headers
                    .iter()
                    .map(|(k, v)| {
                        if k.eq_ignore_ascii_case("authorization") {
                            format!("{k}: <{} chars>", v.len())
                        } else {
                            format!("{k}: {v}")
                        }
                    })
                    .collect();
                format!(
                    "  {} {} -> {}\n    {}\n    body: {}",
                    r.method,
                    r.path,
                    r.status,
                    headers.join("\n    "),
                    r.body
                )
            })
            .collect::<Vec<_>>()
            .join("\n")
    }
}

impl Drop for FakeGitHub {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn serve(server: tiny_http::Server, state: Arc<Mutex<FakeState>>, stop: Arc<AtomicBool>) {
    while !stop.load(Ordering::SeqCst) {
        let mut rq = match server.recv_timeout(Duration::from_millis(50)) {
            Ok(Some(rq)) => rq,
            Ok(None) => continue,
            Err(_) => break,
        };
        let mut raw = Vec::new();
        let _ = rq.as_reader().read_to_end(&mut raw);
        let method = rq.method().as_str().to_string();
        let (path, query) = match rq.url().split_once('?') {
            Some((p, q)) => (p.to_string(), q.to_string()),
            None => (rq.url().to_string(), String::new()),
        };
        let headers: Vec<(String, String)> = rq
            .headers()
            .iter()
            .map(|h| {
                (
                    h.field.as_str().as_str().to_string(),
                    h.value.as_str().trim().to_string(),
                )
            })
            .collect();
        let body = String::from_utf8_lossy(&raw).into_owned();
        // Record before answering: once the client has its answer, the test sees
        // the request.
        let (status, reply, extra) = {
            let mut st = state.lock().unwrap_or_else(|e| e.into_inner());
            st.extra_headers.clear();
            let (status, reply) = route(&mut st, &method, &path, &query, &headers, &body);
            let now = now_ms() / 1000;
            if now >= st.reset {
                // A new window: GitHub's primary budget renews every hour.
                (st.used, st.limit, st.reset) = (0, 5000, now + 3600);
            }
            if status != 304 {
                st.used += 1;
            }
            let mut extra = github_headers(st.used, st.limit, st.reset);
            // A forced header replaces GitHub's default of the same name.
            extra.retain(|(name, _)| {
                !st.extra_headers
                    .iter()
                    .any(|(forced, _)| forced.eq_ignore_ascii_case(name))
            });
            extra.append(&mut st.extra_headers);
            st.requests.push(Request {
                method,
                path,
                query,
                headers,
                body,
                status,
                at_ms: now_ms(),
            });
            (status, reply, extra)
        };
        let mut response = if status == 204 || status == 304 {
            tiny_http::Response::empty(status).boxed()
        } else {
            tiny_http::Response::from_string(reply)
                .with_status_code(status)
                .with_header(
                    tiny_http::Header::from_bytes(
                        "Content-Type",
                        "application/json; charset=utf-8",
                    )
                    .expect("valid header"),
                )
                .boxed()
        };
        for (name, value) in extra {
            response.add_header(
                tiny_http::Header::from_bytes(name.as_bytes(), value.as_bytes())
                    .expect("valid header"),
            );
        }
        let _ = rq.respond(response);
    }
}

/// The headers GitHub puts on every REST answer: its clock, and the primary rate limit.
fn github_headers(used: u64, limit: u64, reset: u64) -> Vec<(String, String)> {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    vec![
        ("Date".into(), http_date(now)),
        (
            "X-GitHub-Media-Type".into(),
            "github.v3; format=json".into(),
        ),
        ("X-RateLimit-Limit".into(), limit.to_string()),
        (
            "X-RateLimit-Remaining".into(),
            limit.saturating_sub(used).to_string(),
        ),
        ("X-RateLimit-Reset".into(), reset.to_string()),
        ("X-RateLimit-Used".into(), used.to_string()),
        ("X-RateLimit-Resource".into(), "core".into()),
    ]
}

/// `Tue, 01 Dec 2026 19:15:45 GMT` (RFC 9110's IMF-fixdate).
pub fn http_date(secs: u64) -> String {
    const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let days = secs / 86400;
    let rem = secs % 86400;
    // Howard Hinnant's civil_from_days.
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{}, {day:02} {} {year} {:02}:{:02}:{:02} GMT",
        DAYS[(days % 7) as usize],
        MONTHS[(month - 1) as usize],
        rem / 3600,
        rem / 60 % 60,
        rem % 60
    )
}

/// The segments of an API path, without GitHub Enterprise Server's `/api/v3` prefix.
fn api_parts(path: &str) -> Vec<&str> {
    let path = path.strip_prefix("/api/v3").unwrap_or(path);
    path.trim_start_matches('/').split('/').collect()
}

fn find_header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

fn message(text: &str) -> String {
    json!({"message": text, "documentation_url": "https://docs.github.com/rest"}).to_string()
}

fn default_message(status: u16) -> &'static str {
    match status {
        401 => "Bad credentials",
        403 => "Resource not accessible by personal access token",
        404 => "Not Found",
        422 => "Validation Failed",
        429 => "API rate limit exceeded",
        500 => "Server Error",
        502 => "Server Error",
        503 => "Service Unavailable",
        _ => "Error",
    }
}

fn route(
    st: &mut FakeState,
    method: &str,
    path: &str,
    query: &str,
    headers: &[(String, String)],
    body: &str,
) -> (u16, String) {
    if let Some((status, left)) = st.forced {
        st.forced = match left {
            Some(n) if n <= 1 => None,
            Some(n) => Some((status, Some(n - 1))),
            None => Some((status, None)),
        };
        return match &st.forced_reply {
            Some((body, headers)) => {
                st.extra_headers = headers.clone();
                (status, body.clone())
            }
            None => (status, message(default_message(status))),
        };
    }
    match find_header(headers, "authorization") {
        None => return (401, message("Requires authentication")),
        Some(v) if v == format!("Bearer {}", st.token) => st.visible = st.repos.clone(),
        Some(v) => match st.tokens.get(v.trim_start_matches("Bearer ")) {
            Some(repos) => st.visible = repos.clone(),
            None => return (401, message("Bad credentials")),
        },
    }
    match find_header(headers, "user-agent") {
        Some(ua) if ua.starts_with("git-dispatch/") => {}
        _ => {
            return (
                403,
                message(
                    "Request forbidden by administrative rules. Please make sure your request \
                     has a User-Agent header",
                ),
            )
        }
    }
    if find_header(headers, "x-github-api-version") != Some(API_VERSION) {
        return (
            400,
            message("Unsupported or missing 'X-GitHub-Api-Version' header (want 2022-11-28)"),
        );
    }
    if find_header(headers, "accept") != Some(ACCEPT) {
        return (
            415,
            message("Unsupported 'Accept' header (want application/vnd.github+json)"),
        );
    }
    let parts = api_parts(path);
    match (method, parts.as_slice()) {
        // "List repositories for the authenticated user": what the token can see.
        ("GET", ["user", "repos"]) => {
            let repos: Vec<Value> = st
                .visible
                .iter()
                .map(|full| {
                    let (owner, name) = full.split_once('/').unwrap_or(("", full));
                    json!({"name": name, "full_name": full, "owner": {"login": owner},
                        "private": true, "html_url": format!("https://github.com/{full}")})
                })
                .collect();
            (200, Value::Array(repos).to_string())
        }
        ("GET", ["user"]) => match st.user_status {
            200 => (200, json!({"login": "writer"}).to_string()),
            status => (status, message(default_message(status))),
        },
        ("GET", ["repos", owner, repo, "contents", ".github", "workflows"]) => {
            let full = format!("{owner}/{repo}");
            let files: Vec<Value> = st
                .workflows
                .iter()
                .filter(|w| w.repo == full)
                .map(|w| {
                    json!({"name": w.file, "path": format!(".github/workflows/{}", w.file), "type": "file"})
                })
                .collect();
            if files.is_empty() {
                (404, message("Not Found"))
            } else {
                (200, Value::Array(files).to_string())
            }
        }
        ("GET", ["repos", owner, repo, "contents", ".github", "workflows", file]) => {
            let full = format!("{owner}/{repo}");
            match st
                .workflows
                .iter()
                .find(|w| w.repo == full && w.file == *file)
            {
                Some(w) => {
                    let reply = json!({
                        "name": w.file,
                        "path": format!(".github/workflows/{}", w.file),
                        "encoding": "base64",
                        "content": base64(w.yaml.as_bytes()),
                    });
                    (200, reply.to_string())
                }
                None => (404, message("Not Found")),
            }
        }
        ("POST", ["repos", owner, repo, "actions", "workflows", file, "dispatches"]) => {
            let full = format!("{owner}/{repo}");
            let Some(w) = st
                .workflows
                .iter()
                .find(|w| w.repo == full && w.file == *file)
            else {
                return (404, message("Not Found"));
            };
            let file = w.file.clone();
            let (status, reply) = validate_workflow_dispatch(w, st.old_server, headers, body);
            if status == 200 || status == 204 {
                let id = start_runs(st, &full, "workflow_dispatch", Some(&file), body);
                if let (200, Some(id)) = (status, id) {
                    let reply = json!({
                        "workflow_run_id": id,
                        "run_url": format!("https://api.github.com/repos/{full}/actions/runs/{id}"),
                        "html_url": format!("https://github.com/{full}/actions/runs/{id}"),
                    });
                    return (200, reply.to_string());
                }
            }
            (status, reply)
        }
        ("GET", ["repos", owner, repo]) => {
            let full = format!("{owner}/{repo}");
            if st.visible.contains(&full) {
                let reply = json!({
                    "full_name": full,
                    "default_branch": "main",
                    "private": true,
                    "permissions": {"admin": false, "push": true, "pull": true},
                });
                (200, reply.to_string())
            } else {
                (404, message("Not Found"))
            }
        }
        ("POST", ["repos", owner, repo, "dispatches"]) => {
            let full = format!("{owner}/{repo}");
            if !st.visible.contains(&full) {
                return (404, message("Not Found"));
            }
            let (status, reply) = validate_dispatch(headers, body);
            if status == 204 {
                start_runs(st, &full, "repository_dispatch", None, body);
            }
            (status, reply)
        }
        ("GET", ["repos", owner, repo, "pages"]) => match st.pages.get(&format!("{owner}/{repo}")) {
            Some(url) => (
                200,
                json!({"url": "", "status": "built", "html_url": url, "build_type": "workflow"})
                    .to_string(),
            ),
            None => (404, message("Not Found")),
        },
        ("GET", ["repos", owner, repo, "actions", "permissions"]) => {
            let full = format!("{owner}/{repo}");
            if !st.visible.contains(&full) {
                return (404, message("Not Found"));
            }
            // GitHub's "Get GitHub Actions permissions for a repository": it takes
            // Administration: read, which git-dispatch's token is not asked to have.
            match st.actions_enabled.get(&full).copied().unwrap_or((true, false)) {
                (enabled, true) => (
                    200,
                    json!({"enabled": enabled, "allowed_actions": "all",
                        "selected_actions_url": format!("https://api.github.com/repos/{full}/actions/permissions/selected-actions")})
                    .to_string(),
                ),
                (_, false) => {
                    st.extra_headers = vec![(
                        "X-Accepted-GitHub-Permissions".into(),
                        "administration=read".into(),
                    )];
                    (
                        403,
                        message("Resource not accessible by personal access token"),
                    )
                }
            }
        }
        ("GET", ["repos", owner, repo, "actions", rest @ ..]) => {
            let full = format!("{owner}/{repo}");
            if !st.visible.contains(&full) {
                return (404, message("Not Found"));
            }
            if !st.actions_readable {
                st.extra_headers = vec![(
                    "X-Accepted-GitHub-Permissions".into(),
                    "actions=read".into(),
                )];
                return (
                    403,
                    message("Resource not accessible by personal access token"),
                );
            }
            actions_get(st, &full, rest, query, headers)
        }
        _ => (404, message("Not Found")),
    }
}

fn validate_dispatch(headers: &[(String, String)], body: &str) -> (u16, String) {
    match find_header(headers, "content-type") {
        Some(ct) if ct.starts_with("application/json") => {}
        _ => {
            return (
                415,
                message("Unsupported 'Content-Type' header (want application/json)"),
            )
        }
    }
    if body.len() > MAX_BODY {
        return (
            422,
            message("Invalid request.\n\nThe request body is larger than 65536 bytes."),
        );
    }
    let value: Value = match serde_json::from_str(body) {
        Ok(v) => v,
        Err(_) => return (400, message("Problems parsing JSON")),
    };
    let Some(object) = value.as_object() else {
        return (400, message("Problems parsing JSON"));
    };
    for key in object.keys() {
        if key != "event_type" && key != "client_payload" {
            return (
                422,
                message(&format!(
                    "Invalid request.\n\n\"{key}\" is not a permitted key."
                )),
            );
        }
    }
    match object.get("event_type") {
        None => {
            return (
                422,
                message("Invalid request.\n\n\"event_type\" wasn't supplied."),
            )
        }
        Some(Value::String(s)) if s.is_empty() => {
            return (
                422,
                message("Invalid request.\n\nevent_type is too short (minimum is 1 character)."),
            )
        }
        Some(Value::String(s)) if s.chars().count() > 100 => {
            return (
                422,
                message("Invalid request.\n\nevent_type is too long (maximum is 100 characters)."),
            )
        }
        Some(Value::String(_)) => {}
        Some(other) => {
            return (
                422,
                message(&format!(
                    "Invalid request.\n\nFor 'properties/event_type', {other} is not a string."
                )),
            )
        }
    }
    match object.get("client_payload") {
        None => {}
        Some(Value::Object(map)) if map.len() > 10 => {
            return (
                422,
                message(&format!(
                    "Invalid request.\n\nNo more than 10 properties are allowed; {} were supplied.",
                    map.len()
                )),
            )
        }
        Some(Value::Object(_)) => {}
        Some(other) => {
            return (
                422,
                message(&format!(
                    "Invalid request.\n\nFor 'properties/client_payload', {other} is not an object."
                )),
            )
        }
    }
    (204, String::new())
}

fn validate_workflow_dispatch(
    w: &Workflow,
    old_server: bool,
    headers: &[(String, String)],
    body: &str,
) -> (u16, String) {
    if !find_header(headers, "content-type").is_some_and(|ct| ct.starts_with("application/json")) {
        return (
            415,
            message("Unsupported 'Content-Type' header (want application/json)"),
        );
    }
    let Some(declared) = &w.inputs else {
        return (
            422,
            message("Workflow does not have 'workflow_dispatch' trigger"),
        );
    };
    let Ok(Value::Object(object)) = serde_json::from_str::<Value>(body) else {
        return (400, message("Problems parsing JSON"));
    };
    // GitHub refuses keys it does not know; a server before 3.21 does not know this one.
    let permitted: &[&str] = if old_server {
        &["ref", "inputs"]
    } else {
        &["ref", "inputs", "return_run_details"]
    };
    if let Some(key) = object.keys().find(|k| !permitted.contains(&k.as_str())) {
        return (
            422,
            message(&format!(
                "Invalid request.\n\n{key:?} is not a permitted key."
            )),
        );
    }
    match object.get("ref") {
        Some(Value::String(r)) if r == "main" => {}
        Some(Value::String(r)) => return (422, message(&format!("No ref found for: {r}"))),
        _ => return (422, message("Invalid request.\n\n\"ref\" wasn't supplied.")),
    }
    if let Some(inputs) = object.get("inputs") {
        let Some(inputs) = inputs.as_object() else {
            return (
                422,
                message("Invalid request.\n\nFor 'properties/inputs', it is not an object."),
            );
        };
        let unexpected: Vec<&String> = inputs.keys().filter(|k| !declared.contains(k)).collect();
        if !unexpected.is_empty() {
            return (
                422,
                message(&format!("Unexpected inputs provided: {unexpected:?}")),
            );
        }
        if inputs.values().any(|v| !v.is_string()) {
            return (
                422,
                message("Invalid request.\n\nFor 'properties/inputs', values must be strings."),
            );
        }
    }
    if object.get("return_run_details") == Some(&Value::Bool(true)) {
        // The route starts the run and answers with its id.
        return (200, String::new());
    }
    (204, String::new())
}

/// Standard base64, as GitHub's contents API sends files.
pub fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, b)| n | (*b as u32) << (16 - 8 * i));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// A listener on 127.0.0.1 (a stand-in proxy) that records what it is sent, answers 502
/// and hangs up: (its port, everything received).
pub fn recording_listener() -> (u16, Arc<Mutex<String>>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind a port");
    let port = listener.local_addr().expect("local address").port();
    let seen = Arc::new(Mutex::new(String::new()));
    let record = Arc::clone(&seen);
    thread::spawn(move || {
        while let Ok((mut stream, _)) = listener.accept() {
            stream.set_read_timeout(Some(Duration::from_secs(2))).ok();
            let mut buf = [0u8; 4096];
            if let Ok(n) = stream.read(&mut buf) {
                let text = String::from_utf8_lossy(&buf[..n]).into_owned();
                record
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .push_str(&text);
            }
            let _ = stream.write_all(b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n");
        }
    });
    (port, seen)
}

/// A URL on 127.0.0.1 where nothing listens (the network is down).
pub fn closed_port_url() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind a port");
    let port = listener.local_addr().expect("local address").port();
    drop(listener);
    format!("http://127.0.0.1:{port}")
}

// ---------------------------------------------------------------------------
// Process output
// ---------------------------------------------------------------------------

pub fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// stdout then stderr.
pub fn combined(out: &Output) -> String {
    format!("{}{}", stdout(out), stderr(out))
}

/// The exit status, stdout and stderr, for panic messages.
pub fn show(out: &Output) -> String {
    format!(
        "status: {}\n--- stdout ---\n{}\n--- stderr ---\n{}",
        out.status,
        stdout(out),
        stderr(out)
    )
}

/// The lines that start with `git-dispatch:`.
pub fn dispatch_lines(text: &str) -> Vec<String> {
    text.lines()
        .filter(|l| l.starts_with("git-dispatch:"))
        .map(|l| l.to_string())
        .collect()
}

/// Assert the exit code, printing the output otherwise.
pub fn assert_exit(out: &Output, code: i32, what: &str) {
    assert_eq!(
        out.status.code(),
        Some(code),
        "{what}: expected exit code {code}\n{}",
        show(out)
    );
}

/// Program, arguments and directory of a command, without its environment
/// (which holds the token).
pub fn describe(cmd: &Command) -> String {
    let mut text = cmd.get_program().to_string_lossy().into_owned();
    for arg in cmd.get_args() {
        text.push(' ');
        text.push_str(&arg.to_string_lossy());
    }
    if let Some(dir) = cmd.get_current_dir() {
        text.push_str(&format!("  (in {})", dir.display()));
    }
    text
}

/// Run a command to completion with stdin closed.
pub fn run(cmd: &mut Command) -> Output {
    cmd.stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("could not run {}: {e}", describe(cmd)))
}

/// Run a command feeding it `input` on stdin.
pub fn run_with_stdin(cmd: &mut Command, input: &[u8]) -> Output {
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("could not run {}: {e}", describe(cmd)));
    {
        let mut stdin = child.stdin.take().expect("piped stdin");
        // The program may exit without reading: a broken pipe is fine.
        let _ = stdin.write_all(input);
    }
    child
        .wait_with_output()
        .unwrap_or_else(|e| panic!("could not wait for {}: {e}", describe(cmd)))
}

/// Run a command and panic with everything needed to understand a failure.
pub fn expect_success(cmd: &mut Command) -> Output {
    let out = run(cmd);
    if !out.status.success() {
        panic!("command failed: {}\n{}", describe(cmd), show(&out));
    }
    out
}

/// Prefixes of the lines git itself prints during `git push` (LC_ALL=C).
const GIT_PUSH_PREFIXES: &[&str] = &[
    "To ",
    "error:",
    "hint:",
    "remote:",
    "warning:",
    "fatal:",
    "Everything up-to-date",
    "Enumerating ",
    "Counting ",
    "Delta ",
    "Compressing ",
    "Writing ",
    "Total ",
    "Unpacking ",
    "branch '",
    "git-dispatch:",
];

/// Whether `line` is one of git's indented ref lines: ` * [new branch]  main -> main`,
/// ` ! [rejected] …`, ` + a...b main -> main (forced update)`, ` - [deleted] …`,
/// ` = [up to date] …`, or `   a1b2c3d..e4f5a6b  main -> main`. Any other indented
/// line (a message of ours that lost its prefix, say) is not git's.
fn is_ref_status(line: &str) -> bool {
    let flagged = ["* [", "! [", "- [", "= [", "+ "].iter().any(|f| {
        line.strip_prefix(' ')
            .is_some_and(|rest| rest.starts_with(f))
    });
    let range = line.strip_prefix("   ").is_some_and(|rest| {
        let word = rest.split(' ').next().unwrap_or_default();
        word.split("..")
            .filter(|part| !part.is_empty())
            .all(|part| part.len() >= 7 && part.bytes().all(|b| b.is_ascii_hexdigit()))
            && word.contains("..")
    });
    flagged || (range && line.contains(" -> "))
}

/// Every line of a `git push`'s output is git's own or starts with
/// `git-dispatch:`.
pub fn assert_push_output(out: &Output) {
    let text = combined(out);
    for line in text.lines() {
        if line.trim().is_empty() {
            continue;
        }
        assert!(
            GIT_PUSH_PREFIXES.iter().any(|p| line.starts_with(p)) || is_ref_status(line),
            "a line printed during `git push` is neither git's nor starts with \
             `git-dispatch:`: {line:?}\n{}",
            show(out)
        );
    }
}

/// The secret part of a fine-grained token: what follows `github_pat_`.
fn secret_part(token: &str) -> &str {
    token.strip_prefix("github_pat_").unwrap_or(token)
}

/// The token, or any 12 consecutive characters of its secret part, in `text`.
/// A mask may show the `github_pat_` prefix and a few characters, never more.
pub fn find_secret(text: &[u8], token: &str) -> Option<String> {
    let secret = secret_part(token).as_bytes();
    if secret.len() < 12 {
        return text
            .windows(token.len())
            .any(|w| w == token.as_bytes())
            .then(|| token.to_string());
    }
    let windows: std::collections::HashSet<&[u8]> = secret.windows(12).collect();
    text.windows(12)
        .find(|w| windows.contains(w))
        .map(|w| String::from_utf8_lossy(w).into_owned())
}

/// Assert the token appears nowhere in a command's output.
pub fn assert_no_token(out: &Output, token: &str, what: &str) {
    let text = combined(out);
    if let Some(found) = find_secret(text.as_bytes(), token) {
        panic!(
            "{what}: output shows the token (found {found:?})\n{}",
            show(out)
        );
    }
}

/// Walk every file under the test's temp dir (clones including `.git/`, the
/// remote, home) and assert the token is in none of them but the credentials
/// file, where `login` keeps it.
pub fn scan_for_token(env: &TestEnv, token: &str) {
    let allowed = env.credentials_path();
    let mut leaks = Vec::new();
    let mut files = 0;
    walk(&env.root, &mut |path| {
        if path == allowed {
            return;
        }
        files += 1;
        // A file the waiter removes meanwhile is not a leak.
        if let Ok(bytes) = fs::read(path) {
            if let Some(found) = find_secret(&bytes, token) {
                leaks.push(format!("{} (found {found:?})", path.display()));
            }
        }
    });
    assert!(
        files > 0,
        "scan_for_token found no file under {}",
        env.root.display()
    );
    assert!(
        leaks.is_empty(),
        "the token was written to disk outside the credentials file:\n  {}",
        leaks.join("\n  ")
    );
}

/// Call `f` for every regular file under `dir`, without following symlinks.
pub fn walk(dir: &Path, f: &mut dyn FnMut(&Path)) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let Ok(meta) = fs::symlink_metadata(&path) else {
            continue;
        };
        if meta.is_dir() {
            walk(&path, f);
        } else if meta.is_file() {
            f(&path);
        }
    }
}

/// The `entries` array of `status --json`.
pub fn entries(status: &Value) -> &Vec<Value> {
    status["entries"]
        .as_array()
        .unwrap_or_else(|| panic!("`status --json` has no \"entries\" array: {status:#}"))
}

/// The `recent` array of `status --json`.
pub fn recent(status: &Value) -> &Vec<Value> {
    status["recent"]
        .as_array()
        .unwrap_or_else(|| panic!("`status --json` has no \"recent\" array: {status:#}"))
}

#[cfg(unix)]
pub fn set_mode(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(path, fs::Permissions::from_mode(mode))
        .unwrap_or_else(|e| panic!("chmod {:o} {}: {e}", mode, path.display()));
}

#[cfg(unix)]
pub fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    fs::metadata(path)
        .unwrap_or_else(|e| panic!("stat {}: {e}", path.display()))
        .permissions()
        .mode()
        & 0o7777
}

/// Write an executable `sh` script.
#[cfg(unix)]
pub fn write_script(path: &Path, body: &str) {
    if let Some(parent) = path.parent() {
        fs::create_dir_all(parent).expect("create the script's directory");
    }
    // Written by a child `sh` to a temp name, then renamed: a write descriptor held by this
    // multi-threaded process could leak into a sibling test's fork, and exec of the script
    // would then fail with ETXTBSY.
    let status = Command::new("sh")
        .arg("-c")
        .arg(r#"printf '%s' "$1" >"$2.tmp" && chmod 755 "$2.tmp" && mv -f "$2.tmp" "$2""#)
        .arg("sh")
        .arg(body)
        .arg(path)
        .status()
        .expect("run sh to write a script");
    assert!(status.success(), "write {}", path.display());
}

/// `s` quoted for `sh`.
pub fn sh_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "'\\''"))
}

// ---------------------------------------------------------------------------
// Repositories and environment
// ---------------------------------------------------------------------------

/// A bare remote, a clone with one commit pushed to `main`, and an isolated
/// home, all in one temp dir.
///
/// ```text
/// root/
///   remote.git/        bare, initial branch main
///   clone/             origin = root/remote.git, user.name/email set
///   home/              HOME; .config = XDG_CONFIG_HOME; .gitconfig = GIT_CONFIG_GLOBAL
/// ```
pub struct TestEnv {
    _tmp: tempfile::TempDir,
    pub root: PathBuf,
    pub remote: PathBuf,
    pub clone: PathBuf,
    pub home: PathBuf,
    pub path: OsString,
    token: Option<String>,
    api_url: Option<String>,
    /// Extra variables for every command; `None` removes the variable.
    vars: BTreeMap<String, Option<OsString>>,
    /// The (uid, gid) every command runs as, when not this process's.
    user: Option<(u32, u32)>,
}

impl Drop for TestEnv {
    /// Stops what the test left running in its clones (a waiter, a follower polling a fake
    /// that is gone) before their directory is removed: one left behind would poll for an
    /// hour, write into the removed directory, and load the tests that run after it.
    fn drop(&mut self) {
        let mut pids = BTreeSet::new();
        for entry in fs::read_dir(&self.root).into_iter().flatten().flatten() {
            let state = entry.path().join(".git/dispatch");
            if let Ok(text) = fs::read_to_string(state.join("locks/follower")) {
                pids.extend(text.trim().parse::<i32>());
            }
            for line in fs::read_to_string(state.join("log.jsonl"))
                .unwrap_or_default()
                .lines()
            {
                if let Some(pid) = serde_json::from_str::<Value>(line)
                    .ok()
                    .and_then(|v| v["pid"].as_i64())
                {
                    pids.insert(pid as i32);
                }
            }
        }
        let root = fs::canonicalize(&self.root).unwrap_or_else(|_| self.root.clone());
        for pid in pids
            .into_iter()
            .filter(|p| *p > 1 && *p != std::process::id() as i32)
        {
            // Only a process of this test: its working directory is under the test's root
            // (pids are reused). Where /proc is missing (macOS) nothing is killed.
            let ours =
                fs::read_link(format!("/proc/{pid}/cwd")).is_ok_and(|cwd| cwd.starts_with(&root));
            if ours {
                // SAFETY: a signal to a process this test started.
                unsafe { libc::kill(pid, libc::SIGKILL) };
            }
        }
    }
}

/// nobody and nogroup on Debian, Ubuntu and macOS alike.
const NOBODY: (u32, u32) = (65534, 65534);

impl TestEnv {
    /// Repositories and home, with no token and no API URL.
    pub fn new() -> TestEnv {
        TestEnv::new_as(None)
    }

    /// `new()` for a user who cannot write a read-only file: this user, or nobody when the
    /// tests run as root (who can write anything, and so never gets the hook as a link).
    pub fn unprivileged() -> TestEnv {
        let user = running_as_root().then_some(NOBODY);
        if user.is_some() {
            // nobody runs the binary under target/: every directory above it must let it in.
            for dir in bin().ancestors().skip(1) {
                let mode = fs::metadata(dir).map(|m| {
                    use std::os::unix::fs::PermissionsExt;
                    m.permissions().mode()
                });
                assert!(
                    mode.is_ok_and(|m| m & 0o001 != 0),
                    "{} is not searchable by others, so the tests that run as nobody cannot \
                     run the binary; check the checkout out where others may enter (not /root)",
                    dir.display()
                );
            }
        }
        TestEnv::new_as(user)
    }

    /// `unprivileged()` with `TOKEN` and the fake's URL in the environment.
    pub fn unprivileged_with_fake(fake: &FakeGitHub) -> TestEnv {
        let mut env = TestEnv::unprivileged();
        env.set_token(Some(TOKEN));
        env.set_api_url(Some(&fake.url()));
        env
    }

    /// Gives `path` to the user this environment's commands run as (no-op without one).
    pub fn own(&self, path: &Path) {
        if let Some((uid, gid)) = self.user {
            std::os::unix::fs::chown(path, Some(uid), Some(gid))
                .unwrap_or_else(|e| panic!("chown {}: {e}", path.display()));
        }
    }

    /// Whether this environment's commands run as another user than the tests do.
    pub fn runs_as_other_user(&self) -> bool {
        self.user.is_some()
    }

    /// Whether this environment's commands run as root.
    pub fn is_root(&self) -> bool {
        self.user.is_none() && running_as_root()
    }

    fn new_as(user: Option<(u32, u32)>) -> TestEnv {
        let tmp = tempfile::Builder::new()
            .prefix("git-dispatch-test.")
            .tempdir()
            .expect("create a temp dir");
        // macOS's /tmp is a symlink; git reports resolved paths.
        let root = tmp.path().canonicalize().expect("canonical temp dir");
        let home = root.join("home");
        fs::create_dir_all(home.join(".config")).expect("create home");
        // Following the run is tested where it is the subject (tests/it/follow.rs, which
        // turns it on in the clone); elsewhere a dispatch is the whole story, and the
        // fake's requests are the dispatch's alone.
        fs::write(home.join(".gitconfig"), "[dispatch]\n\tfollow = false\n")
            .expect("create the global git config");
        if let Some((uid, gid)) = user {
            let status = Command::new("chown")
                .arg("-R")
                .arg(format!("{uid}:{gid}"))
                .arg(&root)
                .status()
                .expect("run chown");
            assert!(status.success(), "chown -R {uid}:{gid} {}", root.display());
        }
        let bin_dir = bin().parent().expect("binary directory").to_path_buf();
        let original = std::env::var_os("PATH").unwrap_or_default();
        let path =
            std::env::join_paths(std::iter::once(bin_dir).chain(std::env::split_paths(&original)))
                .expect("join PATH");
        let env = TestEnv {
            _tmp: tmp,
            remote: root.join("remote.git"),
            clone: root.join("clone"),
            home,
            root,
            path,
            token: None,
            api_url: None,
            vars: BTreeMap::new(),
            user,
        };
        env.git_ok(
            &env.root,
            &["init", "--quiet", "--bare", "-b", "main", "remote.git"],
        );
        env.git_ok(&env.root, &["clone", "--quiet", "remote.git", "clone"]);
        env.git_ok(&env.clone, &["symbolic-ref", "HEAD", "refs/heads/main"]);
        env.set_identity(&env.clone);
        env.commit(&env.clone, "README.md", "# content\n", "initial");
        env.git_ok(&env.clone, &["push", "--quiet", "-u", "origin", "main"]);
        env
    }

    /// `new()` with `TOKEN` and the fake's URL in the environment.
    pub fn with_fake(fake: &FakeGitHub) -> TestEnv {
        let mut env = TestEnv::new();
        env.set_token(Some(TOKEN));
        env.set_api_url(Some(&fake.url()));
        env
    }

    /// `GIT_DISPATCH_TOKEN` for every command (`None`: unset).
    pub fn set_token(&mut self, token: Option<&str>) {
        self.token = token.map(str::to_string);
    }

    /// `GIT_DISPATCH_API_URL` for every command (`None`: unset).
    pub fn set_api_url(&mut self, url: Option<&str>) {
        self.api_url = url.map(str::to_string);
    }

    /// Set a variable for every following command.
    pub fn set_var(&mut self, key: &str, value: impl AsRef<OsStr>) {
        self.vars
            .insert(key.to_string(), Some(value.as_ref().to_os_string()));
    }

    /// Unset a variable for every following command.
    pub fn remove_var(&mut self, key: &str) {
        self.vars.insert(key.to_string(), None);
    }

    /// PATH without the directory of the binary under test (nor any other
    /// directory holding a `git-dispatch`).
    pub fn path_without_binary(&self) -> OsString {
        let original = std::env::var_os("PATH").unwrap_or_default();
        let kept: Vec<PathBuf> = std::env::split_paths(&original)
            .filter(|dir| !dir.join("git-dispatch").exists())
            .collect();
        std::env::join_paths(kept).expect("join PATH")
    }

    /// The isolated environment, applied to a command (and the user it runs as).
    pub fn apply_env(&self, cmd: &mut Command) {
        if let Some((uid, gid)) = self.user {
            use std::os::unix::process::CommandExt;
            // std drops root's supplementary groups too (setgroups(0)) before setuid.
            cmd.uid(uid).gid(gid);
        }
        for (key, _) in std::env::vars_os() {
            let name = key.to_string_lossy();
            let proxy = name.eq_ignore_ascii_case("http_proxy")
                || name.eq_ignore_ascii_case("https_proxy")
                || name.eq_ignore_ascii_case("all_proxy")
                || name.eq_ignore_ascii_case("no_proxy");
            if name.starts_with("GIT_") || proxy {
                cmd.env_remove(&key);
            }
        }
        cmd.env("HOME", &self.home)
            .env("XDG_CONFIG_HOME", self.home.join(".config"))
            .env("XDG_DATA_HOME", self.home.join(".local/share"))
            .env("XDG_STATE_HOME", self.home.join(".local/state"))
            .env("XDG_CACHE_HOME", self.home.join(".cache"))
            .env("GIT_CONFIG_GLOBAL", self.home.join(".gitconfig"))
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("GIT_TERMINAL_PROMPT", "0")
            .env("LC_ALL", "C")
            .env("PATH", &self.path);
        if let Some(token) = &self.token {
            cmd.env("GIT_DISPATCH_TOKEN", token);
        }
        if let Some(url) = &self.api_url {
            cmd.env("GIT_DISPATCH_API_URL", url);
        }
        for (key, value) in &self.vars {
            match value {
                Some(value) => cmd.env(key, value),
                None => cmd.env_remove(key),
            };
        }
    }

    /// `git -C dir args…` with the environment, not yet run.
    pub fn git_cmd(&self, dir: &Path, args: &[&str]) -> Command {
        let mut cmd = Command::new("git");
        cmd.arg("-C").arg(dir).args(args);
        self.apply_env(&mut cmd);
        cmd
    }

    /// Run `git -C dir args…`.
    pub fn git(&self, dir: &Path, args: &[&str]) -> Output {
        run(&mut self.git_cmd(dir, args))
    }

    /// Run `git -C dir args…`; panic with the details if it fails.
    pub fn git_ok(&self, dir: &Path, args: &[&str]) -> Output {
        expect_success(&mut self.git_cmd(dir, args))
    }

    /// The trimmed stdout of a successful git command.
    pub fn git_stdout(&self, dir: &Path, args: &[&str]) -> String {
        stdout(&self.git_ok(dir, args)).trim().to_string()
    }

    /// The binary with cwd = `dir` and the environment, not yet run.
    pub fn program_cmd(&self, program: &Path, dir: &Path, args: &[&str]) -> Command {
        let mut cmd = Command::new(program);
        cmd.current_dir(dir).args(args);
        self.apply_env(&mut cmd);
        cmd
    }

    /// `git-dispatch args…` in the clone, not yet run.
    pub fn dispatch_cmd(&self, args: &[&str]) -> Command {
        self.program_cmd(&bin(), &self.clone, args)
    }

    /// Run `git-dispatch args…` in the clone.
    pub fn dispatch(&self, args: &[&str]) -> Output {
        run(&mut self.dispatch_cmd(args))
    }

    /// Run `git-dispatch args…` in `dir`.
    pub fn dispatch_in(&self, dir: &Path, args: &[&str]) -> Output {
        run(&mut self.program_cmd(&bin(), dir, args))
    }

    /// Run `git-dispatch args…` in the clone; panic with the details if it fails.
    pub fn dispatch_ok(&self, args: &[&str]) -> Output {
        expect_success(&mut self.dispatch_cmd(args))
    }

    /// Run `git-dispatch args…` in the clone with `input` on stdin.
    pub fn dispatch_with_stdin(&self, args: &[&str], input: &str) -> Output {
        run_with_stdin(&mut self.dispatch_cmd(args), input.as_bytes())
    }

    /// `git-dispatch install` in the clone.
    pub fn install(&self) -> Output {
        self.dispatch_ok(&["install"])
    }

    /// `git push args…` from the clone.
    pub fn push(&self, args: &[&str]) -> Output {
        let mut all = vec!["push"];
        all.extend_from_slice(args);
        self.git(&self.clone, &all)
    }

    /// `git push args…` from the clone; panic with the details if it fails.
    pub fn push_ok(&self, args: &[&str]) -> Output {
        let mut all = vec!["push"];
        all.extend_from_slice(args);
        self.git_ok(&self.clone, &all)
    }

    /// Configure a committer in `dir`'s repository.
    pub fn set_identity(&self, dir: &Path) {
        self.git_ok(dir, &["config", "user.name", "Test Writer"]);
        self.git_ok(dir, &["config", "user.email", "writer@example.com"]);
        self.git_ok(dir, &["config", "commit.gpgsign", "false"]);
    }

    /// Write `file` (relative to `dir`) and commit it; the new commit's sha.
    pub fn commit(&self, dir: &Path, file: &str, content: &str, msg: &str) -> String {
        let path = dir.join(file);
        if let Some(parent) = path.parent() {
            fs::create_dir_all(parent).expect("create the file's directory");
        }
        fs::write(&path, content).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
        self.git_ok(dir, &["add", "--", file]);
        self.git_ok(dir, &["commit", "--quiet", "-m", msg]);
        self.rev(dir, "HEAD")
    }

    /// The full sha of `rev` in `dir`'s repository.
    pub fn rev(&self, dir: &Path, rev: &str) -> String {
        self.git_stdout(dir, &["rev-parse", "--verify", rev])
    }

    /// Another clone of the remote at `root/name`, with an identity.
    pub fn second_clone(&self, name: &str) -> PathBuf {
        self.git_ok(&self.root, &["clone", "--quiet", "remote.git", name]);
        let dir = self.root.join(name);
        self.set_identity(&dir);
        dir
    }

    /// Where git runs hooks for `dir` (follows core.hooksPath and worktrees).
    pub fn hooks_dir(&self, dir: &Path) -> PathBuf {
        PathBuf::from(self.git_stdout(
            dir,
            &["rev-parse", "--path-format=absolute", "--git-path", "hooks"],
        ))
    }

    /// The installed hook in the clone.
    pub fn hook_path(&self) -> PathBuf {
        self.hooks_dir(&self.clone).join("pre-push")
    }

    /// The state directory: `dispatch/` in the common git dir.
    pub fn state_dir(&self) -> PathBuf {
        PathBuf::from(self.git_stdout(
            &self.clone,
            &["rev-parse", "--path-format=absolute", "--git-common-dir"],
        ))
        .join("dispatch")
    }

    /// `dirs::config_dir()/git-dispatch/credentials.json` for the isolated home.
    pub fn credentials_path(&self) -> PathBuf {
        let config_dir = if cfg!(target_os = "macos") {
            self.home.join("Library/Application Support")
        } else {
            self.home.join(".config")
        };
        config_dir.join("git-dispatch").join("credentials.json")
    }

    /// Sets the clone's `dispatch.notifyCommand` to append the `GIT_DISPATCH_*` variables
    /// it gets, sorted, to a file in the test's home; that file.
    pub fn log_notifications(&self) -> PathBuf {
        let log = self.home.join("notified");
        self.git_ok(
            &self.clone,
            &[
                "config",
                "dispatch.notifyCommand",
                &format!(
                    "env | grep '^GIT_DISPATCH' | sort >> {}",
                    sh_quote(log.to_str().unwrap())
                ),
            ],
        );
        log
    }

    /// `git-dispatch status --json`, parsed.
    pub fn status_json(&self) -> Value {
        let out = self.dispatch(&["status", "--json"]);
        assert_ne!(
            out.status.code(),
            Some(2),
            "`git-dispatch status --json` failed\n{}",
            show(&out)
        );
        serde_json::from_str(&stdout(&out)).unwrap_or_else(|e| {
            panic!(
                "`git-dispatch status --json` printed no JSON ({e})\n{}",
                show(&out)
            )
        })
    }

    /// Poll `status --json` until `done` holds; panic with the state on timeout.
    pub fn wait_status(
        &self,
        timeout: Duration,
        what: &str,
        mut done: impl FnMut(&Value) -> bool,
    ) -> Value {
        let start = Instant::now();
        loop {
            let status = self.status_json();
            if done(&status) {
                return status;
            }
            if start.elapsed() > timeout {
                panic!(
                    "timed out after {timeout:?} waiting for {what}\nlast `status --json`: \
                     {status:#}\n{}",
                    self.debug_state()
                );
            }
            thread::sleep(POLL);
        }
    }

    /// `fake.wait_for_dispatches`, but a timeout also shows this clone's
    /// pending entries and state files.
    pub fn wait_dispatched(&self, fake: &FakeGitHub, n: usize) -> Vec<Dispatch> {
        let start = Instant::now();
        loop {
            let got = fake.dispatches();
            if got.len() >= n {
                return got;
            }
            if start.elapsed() > TIMEOUT {
                let status = self.dispatch(&["status", "--json"]);
                panic!(
                    "timed out after {TIMEOUT:?} waiting for {n} dispatch(es); {} accepted.\n\
                     requests received:\n{}\n`status --json`:\n{}\n{}",
                    got.len(),
                    fake.describe(),
                    show(&status),
                    self.debug_state()
                );
            }
            thread::sleep(POLL);
        }
    }

    /// Wait until no entry is `awaiting-push` (every waiter has decided).
    pub fn wait_idle(&self, timeout: Duration) -> Value {
        self.wait_status(timeout, "no entry in state awaiting-push", |s| {
            entries(s).iter().all(|e| e["state"] != "awaiting-push")
        })
    }

    /// Wait until `status --json` has no entry at all (everything delivered or
    /// dropped).
    pub fn wait_settled(&self, timeout: Duration) -> Value {
        self.wait_status(timeout, "no pending or failed entry", |s| {
            entries(s).is_empty()
        })
    }

    /// Wait until some entry has state `state` and a `last_error`.
    pub fn wait_for_error(&self, state: &str, timeout: Duration) -> Value {
        self.wait_status(
            timeout,
            &format!("an entry in state {state} with a last_error"),
            |s| {
                entries(s)
                    .iter()
                    .any(|e| e["state"] == state && e["last_error"].is_string())
            },
        )
    }

    /// The files in the state directory with their contents, for panic
    /// messages.
    pub fn debug_state(&self) -> String {
        let dir = self.state_dir();
        let mut text = format!("state dir {}:\n", dir.display());
        let mut any = false;
        walk(&dir, &mut |path| {
            any = true;
            let content = fs::read(path).unwrap_or_default();
            let content = String::from_utf8_lossy(&content);
            let tail: String = if content.len() > 4000 {
                format!("…{}", &content[content.len() - 4000..])
            } else {
                content.into_owned()
            };
            text.push_str(&format!("--- {} ---\n{}\n", path.display(), tail));
        });
        if !any {
            text.push_str("  (no files)\n");
        }
        text
    }
}

impl Default for TestEnv {
    fn default() -> Self {
        TestEnv::new()
    }
}

/// A fake GitHub and a clone with the hook installed and one target,
/// `[dispatch "site"] repository = owner/site`, token and API URL in the
/// environment.
pub fn installed() -> (FakeGitHub, TestEnv) {
    let fake = FakeGitHub::start();
    let env = TestEnv::with_fake(&fake);
    env.install();
    env.dispatch_ok(&["add", "owner/site"]);
    (fake, env)
}

/// The client_payload keys of a default dispatch.
pub const PAYLOAD_KEYS: [&str; 4] = ["before", "ref", "repository", "sha"];

/// Assert a dispatch of `event` to `repo` for `ref_` moving `before` → `sha`,
/// with exactly the default payload keys and every header GitHub wants.
pub fn assert_dispatch(d: &Dispatch, repo: &str, ref_: &str, before: &str, sha: &str) {
    let context = || format!("dispatch: {:#}", d.body);
    assert_eq!(d.repository, repo, "{}", context());
    assert_eq!(d.body["event_type"], "update", "{}", context());
    let payload = d.body["client_payload"]
        .as_object()
        .unwrap_or_else(|| panic!("client_payload is not an object; {}", context()));
    let mut keys: Vec<&str> = payload.keys().map(String::as_str).collect();
    keys.sort_unstable();
    assert_eq!(keys, PAYLOAD_KEYS, "client_payload keys; {}", context());
    assert_eq!(payload["ref"], ref_, "{}", context());
    assert_eq!(payload["sha"], sha, "{}", context());
    assert_eq!(payload["before"], before, "{}", context());
    let repository = payload["repository"]
        .as_str()
        .unwrap_or_else(|| panic!("client_payload.repository is not a string; {}", context()));
    assert!(!repository.is_empty(), "{}", context());
    assert!(
        !repository.contains('@'),
        "repository carries credentials; {}",
        context()
    );
    assert_headers(&d.request);
}

/// Commit `post.md` in the clone, push it to `main`, and expect the push untouched and
/// exactly one dispatch of it.
pub fn push_a_post_and_expect_one_dispatch(env: &TestEnv, fake: &FakeGitHub) {
    let before = env.rev(&env.remote, "refs/heads/main");
    let sha = env.commit(&env.clone, "post.md", "hello\n", "post");

    let out = env.push_ok(&["origin", "main"]);

    assert_push_output(&out);
    expect_one_dispatch(env, fake, &before, &sha);
}

/// After a push of `sha` over `before` to main: exactly one dispatch to owner/site, and
/// nothing left pending.
pub fn expect_one_dispatch(env: &TestEnv, fake: &FakeGitHub, before: &str, sha: &str) {
    env.wait_dispatched(fake, 1);
    env.wait_settled(TIMEOUT);
    let got = fake.dispatches();
    assert_eq!(got.len(), 1, "{}", fake.describe());
    assert_dispatch(&got[0], "owner/site", "refs/heads/main", before, sha);
}

/// Assert the headers GitHub wants, exactly.
pub fn assert_headers(r: &Request) {
    assert_eq!(r.header("accept"), Some(ACCEPT), "Accept");
    assert_eq!(
        r.header("x-github-api-version"),
        Some(API_VERSION),
        "X-GitHub-Api-Version"
    );
    assert_eq!(
        r.header("user-agent"),
        Some(user_agent().as_str()),
        "User-Agent"
    );
    assert_eq!(
        r.header("content-type")
            .map(|v| v.starts_with("application/json")),
        Some(true),
        "Content-Type"
    );
}

/// Whether this run may skip a test for a missing tool: never under CI (`.ci/run` installs
/// every tool the OS has a package for), else with the reason printed where it is seen.
/// `os_cannot_have_it`: a tool this OS has no package for (setpriv on macOS), whose skip
/// is allowed under CI too, and printed all the same.
pub fn skip(reason: &str, os_cannot_have_it: bool) -> bool {
    use std::io::Write;
    let in_ci = std::env::var_os("CI").is_some_and(|v| !v.is_empty() && v != "false");
    if in_ci && !os_cannot_have_it {
        panic!(
            "{reason}, and CI must run this test: .ci/run installs it where the OS has a package"
        );
    }
    // Straight to the process's stderr: the harness captures eprintln! of a passing test.
    let _ = writeln!(std::io::stderr(), "SKIPPED: {reason}");
    true
}

/// Whether the tests run as root.
pub fn running_as_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

#[test]
fn only_gits_own_ref_lines_pass_as_indented_push_output() {
    for ok in [
        " * [new branch]      main -> main",
        "   3f2a1b4..9c1b2d3  main -> main",
        " + 3f2a1b4...9c1b2d3 main -> main (forced update)",
        " - [deleted]         feature",
        " ! [rejected]        main -> main (fetch first)",
    ] {
        assert!(is_ref_status(ok), "{ok:?}");
    }
    for bad in [
        "  dispatched to owner/site",
        "\tsomething",
        "   not a range -> x",
    ] {
        assert!(!is_ref_status(bad), "{bad:?}");
    }
}

// ---------------------------------------------------------------------------
// GitHub Actions, simulated: a dispatch to a repository with a listening workflow starts a
// run that appears in lists a moment later and goes queued -> in_progress -> completed.
// ---------------------------------------------------------------------------

/// How a repository's builds go, in milliseconds after the dispatch.
#[derive(Clone, Debug)]
pub struct Build {
    /// No run at all (the event is not in the workflow's types, say).
    pub never: bool,
    /// When the run shows in filtered lists (they lag behind the dispatch).
    pub appears_ms: u64,
    /// When it leaves `queued`.
    pub starts_ms: u64,
    /// When it completes.
    pub ends_ms: u64,
    /// Its conclusion then.
    pub conclusion: &'static str,
    /// For a failure: the failed job and its failed step, if any.
    pub failed: Option<(&'static str, Option<&'static str>)>,
    /// Whether it waits for an approval (an environment's reviewers) while "running".
    pub waiting: bool,
    /// GitHub delivers the event twice: an older twin run with this conclusion starts too.
    pub twin: Option<&'static str>,
    /// Another clone of the same writer dispatched at the same moment, with an id that is
    /// ours plus this suffix (`gd-…0`, `gd-…-2`): its run, a failure, starts just before ours.
    pub look_alike: Option<&'static str>,
    /// A matrix: this many more jobs, which pass, listed before the build job, so that a
    /// failed build job sits on a later page of the jobs list.
    pub matrix: usize,
    /// The first answer to a GET of the completed run is a body GitHub's schema refuses
    /// (no `status`), with the completed run's ETag all the same.
    pub garbled_once: bool,
    /// For this long after it was created, `GET` of the run answers 404 (a replica behind
    /// the write that returned it).
    pub lost_ms: u64,
}

impl Build {
    /// A build that fails at the job `build`, step `Run astro build`.
    pub fn failing() -> Build {
        Build {
            conclusion: "failure",
            failed: Some(("build", Some("Run astro build"))),
            ..Build::default()
        }
    }
}

impl Default for Build {
    fn default() -> Build {
        Build {
            never: false,
            appears_ms: 150,
            starts_ms: 300,
            ends_ms: 900,
            conclusion: "success",
            failed: None,
            waiting: false,
            twin: None,
            look_alike: None,
            matrix: 0,
            garbled_once: false,
            lost_ms: 0,
        }
    }
}

struct FakeRun {
    id: u64,
    repo: String,
    workflow_file: String,
    workflow_id: u64,
    name: String,
    event: String,
    title: String,
    actor: String,
    created_ms: u64,
    /// `run_attempt`, and when that attempt started (a re-run starts a new one).
    attempt: u64,
    attempt_ms: u64,
    build: Build,
}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// One request a fake host on loopback got (a deploy hook's host, Netlify's API).
#[derive(Clone, Debug)]
pub struct Hit {
    /// When it arrived.
    pub at: Instant,
    pub method: String,
    pub path: String,
    pub query: String,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Hit {
    /// Reads `request` whole: its method, path and query apart, headers and body.
    pub fn read(request: &mut tiny_http::Request) -> Hit {
        let mut body = String::new();
        let _ = request.as_reader().read_to_string(&mut body);
        let (path, query) = request
            .url()
            .split_once('?')
            .map_or((request.url().to_string(), String::new()), |(p, q)| {
                (p.to_string(), q.to_string())
            });
        Hit {
            at: Instant::now(),
            method: request.method().to_string(),
            path,
            query,
            headers: request
                .headers()
                .iter()
                .map(|h| (h.field.to_string(), h.value.to_string()))
                .collect(),
            body,
        }
    }

    /// A header's value, by any case of its name.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// `2026-12-01T19:15:45Z`.
pub fn iso(ms: u64) -> String {
    let secs = ms / 1000;
    let date = http_date(secs);
    // From the HTTP date's pieces: "Tue, 01 Dec 2026 19:15:45 GMT".
    let w: Vec<&str> = date.split_whitespace().collect();
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let month = MONTHS.iter().position(|m| *m == w[2]).unwrap() + 1;
    format!("{}-{month:02}-{}T{}Z", w[3], w[1], w[4])
}

impl FakeGitHub {
    /// How `repo`'s builds go from now on.
    pub fn set_build(&self, repo: &str, build: Build) {
        self.lock().builds.insert(repo.to_string(), build);
    }

    /// Accept `token` instead of the one it started with (a rotated token).
    pub fn set_token(&self, token: &str) {
        self.lock().token = token.to_string();
    }

    /// `repo` is published with GitHub Pages at `url`.
    pub fn set_pages(&self, repo: &str, url: &str) {
        self.lock().pages.insert(repo.to_string(), url.to_string());
    }

    /// The primary budget from now: `remaining` requests left until it resets in `reset_in`
    /// (then 5000 again); when it resets, in Unix seconds.
    pub fn set_rate_limit(&self, remaining: u64, reset_in: Duration) -> u64 {
        let mut st = self.lock();
        st.used = 0;
        st.limit = remaining;
        st.reset = (now_ms() + reset_in.as_millis() as u64).div_ceil(1000);
        st.reset
    }

    /// What `GET /user` answers from now on (a 500: GitHub cannot say for now).
    pub fn set_user_status(&self, status: u16) {
        self.lock().user_status = status;
    }

    /// Whether the token may read Actions (a private site needs Actions: read).
    pub fn set_actions_readable(&self, readable: bool) {
        self.lock().actions_readable = readable;
    }

    /// A run nobody of ours started (another client's dispatch, a push): `event`, `title`,
    /// created now, with `actor`.
    pub fn add_foreign_run(&self, repo: &str, event: &str, title: &str, actor: &str) {
        let mut st = self.lock();
        let (file, name) = st
            .workflows
            .iter()
            .find(|w| w.repo == repo)
            .map(|w| (w.file.clone(), workflow_name(w)))
            .unwrap_or(("build.yml".into(), "Build".into()));
        let build = st.builds.get(repo).cloned().unwrap_or_default();
        new_run(&mut st, repo, &file, &name, event, title, actor, build);
    }

    /// Re-runs run `id` on GitHub (the writer's "Re-run jobs"): attempt n + 1 starts now and
    /// goes as `build` says.
    pub fn rerun(&self, id: u64, build: Build) {
        let mut st = self.lock();
        let run = st
            .runs
            .iter_mut()
            .find(|r| r.id == id)
            .expect("a run to re-run");
        run.attempt += 1;
        run.attempt_ms = now_ms();
        run.build = build;
    }

    /// How many answers were garbled (`Build::garbled_once`).
    pub fn garbled(&self) -> usize {
        self.lock().garbled
    }

    /// Every run started so far: (id, title).
    pub fn runs(&self) -> Vec<(u64, String)> {
        self.lock()
            .runs
            .iter()
            .map(|r| (r.id, r.title.clone()))
            .collect()
    }

    /// Requests that were not answered 304 (they count against the primary rate limit).
    pub fn counted_requests(&self) -> Vec<Request> {
        self.requests()
            .into_iter()
            .filter(|r| r.status != 304)
            .collect()
    }
}

fn workflow_name(w: &Workflow) -> String {
    w.yaml
        .lines()
        .find_map(|l| l.strip_prefix("name:"))
        .map(|n| n.trim().to_string())
        .unwrap_or_else(|| format!(".github/workflows/{}", w.file))
}

#[allow(clippy::too_many_arguments)]
fn new_run(
    st: &mut FakeState,
    repo: &str,
    file: &str,
    name: &str,
    event: &str,
    title: &str,
    actor: &str,
    build: Build,
) -> u64 {
    let id = 4000 + st.runs.len() as u64 + 1;
    let workflow_id = 100
        + st.workflows
            .iter()
            .position(|w| w.repo == repo && w.file == file)
            .unwrap_or(0) as u64;
    st.runs.push(FakeRun {
        id,
        repo: repo.to_string(),
        workflow_file: file.to_string(),
        workflow_id,
        name: name.to_string(),
        event: event.to_string(),
        title: title.to_string(),
        actor: actor.to_string(),
        created_ms: now_ms(),
        attempt: 1,
        attempt_ms: now_ms(),
        build,
    });
    id
}

/// Starts a run in each workflow of `repo` that listens for `event` (for a
/// workflow_dispatch, in `file`); the id of the last one.
fn start_runs(
    st: &mut FakeState,
    repo: &str,
    event: &str,
    file: Option<&str>,
    body: &str,
) -> Option<u64> {
    let build = st.builds.get(repo).cloned().unwrap_or_default();
    // Actions turned off for the repository start nothing, nor does a disabled workflow.
    if build.never || st.actions_enabled.get(repo).is_some_and(|(on, _)| !on) {
        return None;
    }
    let sent: Value = serde_json::from_str(body).unwrap_or_default();
    let listening: Vec<(String, String, String)> = st
        .workflows
        .iter()
        .filter(|w| w.repo == repo && w.state == "active")
        .filter(|w| match file {
            Some(f) => w.file == f,
            None => w.yaml.contains("repository_dispatch"),
        })
        .map(|w| (w.file.clone(), workflow_name(w), w.yaml.clone()))
        .collect();
    let mut last = None;
    for (file, name, yaml) in listening {
        // GitHub renders `run-name`; the line git-dispatch documents puts the event type
        // and dispatch_id in the title of a repository_dispatch run.
        let id = sent["client_payload"]["dispatch_id"].as_str();
        let title = match (event, id) {
            ("repository_dispatch", Some(id)) => {
                render_run_name(&yaml, sent["event_type"].as_str().unwrap_or(""), id)
                    .unwrap_or_else(|| name.clone())
            }
            _ => name.clone(),
        };
        if let (Some(suffix), Some(id)) = (build.look_alike, id) {
            let other = Build {
                conclusion: "failure",
                twin: None,
                look_alike: None,
                ..build.clone()
            };
            let title = title.replace(id, &format!("{id}{suffix}"));
            assert_ne!(title, name, "a look-alike needs the run-name line");
            new_run(st, repo, &file, &name, event, &title, "writer", other);
        }
        if let Some(conclusion) = build.twin {
            let twin = Build {
                conclusion,
                twin: None,
                ..build.clone()
            };
            new_run(st, repo, &file, &name, event, &title, "writer", twin);
        }
        last = Some(new_run(
            st,
            repo,
            &file,
            &name,
            event,
            &title,
            "writer",
            build.clone(),
        ));
    }
    last
}

/// The title GitHub renders from a workflow's `run-name` line for a repository_dispatch of
/// `action` carrying `id`: each `${{ … }}` naming the id becomes it (through a
/// `format('…', …)` of the event's action and the id where there is one); `None` without
/// the line or when it renders empty.
fn render_run_name(yaml: &str, action: &str, id: &str) -> Option<String> {
    let line = yaml
        .lines()
        .find_map(|l| l.trim_start().strip_prefix("run-name:"))?;
    let mut rest = line.trim().trim_matches('"').trim_matches('\'');
    let mut out = String::new();
    while let Some(start) = rest.find("${{") {
        out.push_str(&rest[..start]);
        let end = rest[start..]
            .find("}}")
            .map_or(rest.len(), |e| start + e + 2);
        let expr = &rest[start + 3..end.saturating_sub(2).max(start + 3)];
        let value = |arg: &str| match arg.trim() {
            "github.event.action" => action.to_string(),
            a if a.ends_with("client_payload.dispatch_id") => id.to_string(),
            _ => String::new(),
        };
        if let Some(f) = expr.find("format('") {
            let args = &expr[f + 8..];
            let (fmt, args) = args.split_once('\'').unwrap_or((args, ""));
            let args: Vec<String> = args
                .trim_start_matches(',')
                .split(')')
                .next()
                .unwrap_or("")
                .split(',')
                .map(value)
                .collect();
            let mut text = fmt.to_string();
            for (i, a) in args.iter().enumerate() {
                text = text.replace(&format!("{{{i}}}"), a);
            }
            out.push_str(&text);
        } else if expr.contains("client_payload.dispatch_id") {
            out.push_str(id);
        }
        rest = &rest[end..];
    }
    out.push_str(rest);
    let out = out.trim().to_string();
    (!out.is_empty()).then_some(out)
}

#[test]
fn the_fake_renders_run_name_lines_as_github_would_for_a_dispatch() {
    let readme = "run-name: ${{ github.event_name == 'repository_dispatch' && github.event.client_payload.dispatch_id && format('{0} {1}', github.event.action, github.event.client_payload.dispatch_id) || '' }}";
    assert_eq!(
        render_run_name(readme, "update", "gd-1").as_deref(),
        Some("update gd-1")
    );
    let parens = "run-name: \"update (${{ github.event.client_payload.dispatch_id }})\"";
    assert_eq!(
        render_run_name(parens, "update", "gd-1").as_deref(),
        Some("update (gd-1)")
    );
    assert_eq!(render_run_name("name: x", "update", "gd-1"), None);
}

fn run_json(run: &FakeRun, now: u64) -> (Value, String) {
    // Each attempt goes queued -> in_progress -> completed again from its own start.
    let elapsed = now.saturating_sub(run.attempt_ms);
    let b = &run.build;
    let (status, conclusion, updated) = if elapsed >= b.ends_ms {
        // "": completed with a null conclusion, which GitHub's schema allows.
        (
            "completed",
            Some(b.conclusion).filter(|c| !c.is_empty()),
            b.ends_ms,
        )
    } else if elapsed >= b.starts_ms {
        (
            if b.waiting { "waiting" } else { "in_progress" },
            None,
            b.starts_ms,
        )
    } else {
        ("queued", None, 0)
    };
    let html = format!("https://github.com/{}/actions/runs/{}", run.repo, run.id);
    let value = json!({
        "id": run.id,
        "name": run.name,
        "display_title": run.title,
        "event": run.event,
        "status": status,
        "conclusion": conclusion,
        "workflow_id": run.workflow_id,
        "path": format!(".github/workflows/{}", run.workflow_file),
        "run_attempt": run.attempt,
        "run_number": run.id - 4000,
        "head_branch": "main",
        "head_sha": "0123456789abcdef0123456789abcdef01234567",
        "html_url": html,
        "url": format!("https://api.github.com/repos/{}/actions/runs/{}", run.repo, run.id),
        "actor": {"login": run.actor},
        "triggering_actor": {"login": run.actor},
        "created_at": iso(run.created_ms),
        "run_started_at": iso(run.attempt_ms + b.starts_ms.min(elapsed)),
        "updated_at": iso(run.attempt_ms + updated),
    });
    (
        value,
        format!(
            "W/\"{}-{}-{status}-{}\"",
            run.id,
            run.attempt,
            conclusion.unwrap_or("")
        ),
    )
}

/// The query's value of `key`, percent-decoded.
fn query_value(query: &str, key: &str) -> Option<String> {
    let raw = query
        .split('&')
        .find_map(|kv| kv.strip_prefix(&format!("{key}=")))?;
    let mut out = Vec::new();
    let bytes = raw.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            out.push(u8::from_str_radix(std::str::from_utf8(&bytes[i + 1..i + 3]).ok()?, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

fn actions_get(
    st: &mut FakeState,
    repo: &str,
    rest: &[&str],
    query: &str,
    headers: &[(String, String)],
) -> (u16, String) {
    let now = now_ms();
    // `Link` of a paged list, as GitHub gives it: the next and last pages on its own host.
    let mut link = None;
    let (value, etag) = match rest {
        ["workflows"] => {
            // GitHub's "List repository workflows": each with its path and state.
            let workflows: Vec<Value> = st
                .workflows
                .iter()
                .enumerate()
                .filter(|(_, w)| w.repo == repo)
                .map(|(i, w)| {
                    json!({
                        "id": 100 + i as u64, "node_id": format!("W_{i}"),
                        "name": workflow_name(w),
                        "path": format!(".github/workflows/{}", w.file),
                        "state": w.state,
                        "created_at": "2026-01-01T00:00:00Z", "updated_at": "2026-01-01T00:00:00Z",
                        "url": format!("https://api.github.com/repos/{repo}/actions/workflows/{}", 100 + i),
                        "html_url": format!("https://github.com/{repo}/blob/main/.github/workflows/{}", w.file),
                        "badge_url": format!("https://github.com/{repo}/workflows/x/badge.svg"),
                    })
                })
                .collect();
            (
                json!({"total_count": workflows.len(), "workflows": workflows}),
                String::new(),
            )
        }
        ["runs"] | ["workflows", _, "runs"] => {
            let file = match rest {
                ["workflows", f, "runs"] => Some(f.to_string()),
                _ => None,
            };
            let event = query_value(query, "event");
            // `created=>=2026-12-01T19:15:45Z`: GitHub's search qualifier, percent-encoded.
            let since = query_value(query, "created").map(|c| {
                let c = c.trim_start_matches(">=");
                assert!(
                    c.len() == 20 && c.ends_with('Z'),
                    "created must be YYYY-MM-DDTHH:MM:SSZ, got {c:?}"
                );
                c.to_string()
            });
            let mut list: Vec<(Value, String)> = st
                .runs
                .iter()
                .filter(|r| r.repo == repo)
                .filter(|r| file.as_deref().is_none_or(|f| r.workflow_file == f))
                .filter(|r| event.as_deref().is_none_or(|e| r.event == e))
                .filter(|r| now.saturating_sub(r.created_ms) >= r.build.appears_ms)
                .filter(|r| {
                    since
                        .as_deref()
                        .is_none_or(|s| iso(r.created_ms).as_str() >= s)
                })
                .map(|r| run_json(r, now))
                .collect();
            list.reverse();
            let tag = {
                use std::hash::{Hash, Hasher};
                let mut hasher = std::collections::hash_map::DefaultHasher::new();
                for (_, t) in &list {
                    t.hash(&mut hasher);
                }
                format!("W/\"list-{:x}\"", hasher.finish())
            };
            let runs: Vec<Value> = list.into_iter().map(|(v, _)| v).collect();
            (
                json!({"total_count": runs.len(), "workflow_runs": runs}),
                tag,
            )
        }
        ["runs", id] => {
            let Some(run) = st
                .runs
                .iter_mut()
                .find(|r| r.repo == repo && r.id.to_string() == *id)
                .filter(|r| now.saturating_sub(r.created_ms) >= r.build.lost_ms)
            else {
                return (404, message("Not Found"));
            };
            let (mut value, tag) = run_json(run, now);
            if run.build.garbled_once && value["status"] == "completed" {
                run.build.garbled_once = false;
                value.as_object_mut().map(|o| o.remove("status"));
                st.garbled += 1;
            }
            (value, tag)
        }
        ["runs", id, "attempts", attempt, "jobs"] => {
            let Some(run) = st
                .runs
                .iter()
                .find(|r| r.repo == repo && r.id.to_string() == *id)
            else {
                return (404, message("Not Found"));
            };
            assert_eq!(
                *attempt,
                run.attempt.to_string(),
                "the jobs of the run's latest attempt"
            );
            let (run_value, _) = run_json(run, now);
            let done = run_value["status"] == "completed";
            let failed = run.build.failed;
            let job_conclusion = if done {
                Some(run.build.conclusion)
            } else {
                None
            };
            let mut steps = vec![
                json!({"name": "Set up job", "status": "completed", "conclusion": "success", "number": 1}),
            ];
            let running = run_value["status"] == "in_progress";
            match failed {
                Some((_, Some(step))) if done => {
                    steps.push(json!({"name": step, "status": "completed", "conclusion": "failure", "number": 2}));
                }
                // While it runs, its second step is under way.
                _ if running => {
                    let step = failed.and_then(|(_, s)| s).unwrap_or("Run astro build");
                    steps.push(json!({"name": step, "status": "in_progress", "conclusion": null, "number": 2}));
                }
                _ => {}
            }
            let job = json!({
                "id": run.id * 10,
                "run_id": run.id,
                "run_attempt": run.attempt,
                "name": failed.map_or("build", |(job, _)| job),
                "status": run_value["status"],
                "conclusion": job_conclusion,
                "html_url": format!("https://github.com/{repo}/actions/runs/{}/job/{}", run.id, run.id * 10),
                "steps": steps,
            });
            let deploy = json!({"id": run.id * 10 + 1, "run_id": run.id, "run_attempt": run.attempt,
                "name": "deploy",
                // It needs build: queued until that ends.
                "status": if done { "completed" } else { "queued" },
                "conclusion": if done { Some("skipped") } else { None }, "steps": []});
            let mut jobs = vec![deploy];
            jobs.extend((0..run.build.matrix).map(|n| {
                json!({"id": run.id * 10_000 + n as u64, "run_id": run.id,
                    "run_attempt": run.attempt, "name": format!("test ({n})"),
                    "status": run_value["status"],
                    "conclusion": if done { Some("success") } else { None }, "steps": []})
            }));
            jobs.push(job);
            // GitHub's paging: `per_page` (30 unless asked, 100 at most), `page` from 1.
            let param = |name: &str| {
                query
                    .split('&')
                    .find_map(|p| p.strip_prefix(name)?.strip_prefix('='))
                    .and_then(|v| v.parse::<usize>().ok())
            };
            let per_page = param("per_page").unwrap_or(30).clamp(1, 100);
            let page = param("page").unwrap_or(1).max(1);
            let pages = jobs.len().div_ceil(per_page);
            if pages > 1 {
                let host = find_header(headers, "host").unwrap_or("127.0.0.1");
                let at = |n: usize| {
                    format!(
                        "<http://{host}/repos/{repo}/actions/runs/{}/attempts/{}/jobs?per_page={per_page}&page={n}>",
                        run.id, run.attempt
                    )
                };
                let mut parts = Vec::new();
                if page < pages {
                    parts.push(format!("{}; rel=\"next\"", at(page + 1)));
                    parts.push(format!("{}; rel=\"last\"", at(pages)));
                }
                if page > 1 {
                    parts.push(format!("{}; rel=\"first\"", at(1)));
                    parts.push(format!("{}; rel=\"prev\"", at(page - 1)));
                }
                link = Some(parts.join(", "));
            }
            let total = jobs.len();
            let shown: Vec<Value> = jobs
                .into_iter()
                .skip((page - 1) * per_page)
                .take(per_page)
                .collect();
            let tag = format!(
                "W/\"jobs-{}-{}-{}-{page}\"",
                run.id, run.attempt, run_value["status"]
            );
            (json!({"total_count": total, "jobs": shown}), tag)
        }
        _ => return (404, message("Not Found")),
    };
    if !etag.is_empty() {
        if find_header(headers, "if-none-match") == Some(etag.as_str()) {
            st.extra_headers = vec![("ETag".into(), etag)];
            return (304, String::new());
        }
        st.extra_headers = vec![("ETag".into(), etag)];
    }
    if let Some(link) = link {
        st.extra_headers.push(("Link".into(), link));
    }
    (200, value.to_string())
}

/// Runs `cmd` with its stdout on a pseudo-terminal, as on a writer's terminal (stderr
/// piped); its exit status and everything it wrote to the terminal. Killed past `timeout`.
pub fn run_on_terminal(cmd: &mut Command, timeout: Duration) -> (std::process::ExitStatus, String) {
    use std::os::fd::FromRawFd;
    let (mut master, mut slave) = (0, 0);
    // SAFETY: openpty fills in two descriptors it opened; null name, termios and size.
    let rc = unsafe {
        libc::openpty(
            &mut master,
            &mut slave,
            std::ptr::null_mut(),
            std::ptr::null_mut(),
            std::ptr::null_mut(),
        )
    };
    assert_eq!(rc, 0, "openpty: {}", std::io::Error::last_os_error());
    // SAFETY: both descriptors are ours alone from here on.
    let (mut master, slave) = unsafe {
        (
            std::fs::File::from_raw_fd(master),
            std::fs::File::from_raw_fd(slave),
        )
    };
    cmd.stdout(slave)
        .stderr(Stdio::piped())
        .stdin(Stdio::null());
    let mut child = cmd.spawn().expect("start the command on a terminal");
    // Our copy of the terminal's end is in `cmd` (dropped with it below), so reading the
    // master ends (EIO) once the child's copies are closed.
    let reader = thread::spawn(move || {
        let mut out = Vec::new();
        let mut buf = [0u8; 4096];
        loop {
            match std::io::Read::read(&mut master, &mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => out.extend_from_slice(&buf[..n]),
            }
        }
        String::from_utf8_lossy(&out).into_owned()
    });
    let start = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for the command") {
            break status;
        }
        if start.elapsed() > timeout {
            let _ = child.kill();
            panic!("{} ran past {timeout:?} on a terminal", describe(cmd));
        }
        thread::sleep(Duration::from_millis(20));
    };
    // Dropping the Command closes the parent's copy of the terminal's end.
    let _ = std::mem::replace(cmd, Command::new("true"));
    (status, reader.join().expect("read the terminal"))
}
