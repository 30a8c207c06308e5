//! GitHub's REST API: the dispatch request, sending it safely, and reading the answer.
//!
//! Three of minreq's defaults are wrong for a tool holding a token, and each is overridden
//! here: redirects are never followed (minreq keeps every header, so the token would reach
//! the redirect's host), the TLS provider is ring (installed in `lib.rs`), and proxies come
//! from our own reading of `HTTPS_PROXY`/`ALL_PROXY`/`NO_PROXY`.

use std::io::Read;

use anyhow::{bail, Context, Result};
use serde_json::{Map, Value};

use crate::config::{MAX_BODY_BYTES, MAX_PAYLOAD_KEYS, OWN_PAYLOAD_KEYS};
use crate::token::Token;

/// GitHub's media type and API version, sent with every request.
const ACCEPT: &str = "application/vnd.github+json";
const API_VERSION: &str = "2022-11-28";
/// How much of a response body we read; GitHub's error bodies are small.
const MAX_RESPONSE_BYTES: u64 = 64 * 1024;

/// The user agent GitHub requires, naming us and our version.
pub fn user_agent() -> String {
    format!("git-dispatch/{}", env!("CARGO_PKG_VERSION"))
}

/// An API endpoint (`https://api.github.com`, `https://HOST/api/v3`, a loopback fake).
#[derive(Clone, Debug)]
pub struct Api {
    base: String,
    host: String,
    timeout: u64,
}

impl Api {
    /// Checks `base`: https anywhere, plain http only to loopback.
    pub fn new(base: &str, timeout: u64) -> Result<Api> {
        let base = base.trim_end_matches('/');
        let (scheme, rest) = base
            .split_once("://")
            .with_context(|| format!("API URL {base:?} has no scheme; use https://HOST/…"))?;
        let authority = rest.split('/').next().unwrap_or_default();
        if authority.contains('@') {
            bail!("API URL must not carry user info; give the token with `git dispatch login`");
        }
        let host = authority.to_ascii_lowercase();
        match scheme {
            "https" => {}
            "http" if is_loopback(&host) => {}
            "http" => bail!(
                "refusing plain http:// to {host}: the token would cross the network unencrypted; use https://"
            ),
            other => bail!("API URL scheme {other:?} is not https"),
        }
        if host.is_empty() {
            bail!("API URL {base:?} has no host");
        }
        Ok(Api {
            base: base.to_string(),
            host,
            timeout,
        })
    }

    /// `host[:port]`, the key a stored token is filed under.
    pub fn host(&self) -> &str {
        &self.host
    }

    /// `{api}/repos/{owner}/{repo}/dispatches`.
    pub fn dispatch_url(&self, repository: &str) -> String {
        format!("{}/repos/{repository}/dispatches", self.base)
    }

    /// `{api}/repos/{owner}/{repo}/actions/workflows/{workflow}/dispatches`.
    pub fn workflow_url(&self, repository: &str, workflow: &str) -> String {
        format!(
            "{}/repos/{repository}/actions/workflows/{workflow}/dispatches",
            self.base
        )
    }

    /// The repository's default branch (`GET /repos/{owner}/{repo}`).
    pub fn default_branch(&self, repository: &str, token: &Token) -> Result<String, Verdict> {
        let answer = self.send(
            Method::Get,
            &self.url(&format!("/repos/{repository}")),
            None,
            token,
        );
        match &answer {
            Ok(a) if a.status == 200 => serde_json::from_str::<Value>(&a.body)
                .ok()
                .and_then(|v| v.get("default_branch")?.as_str().map(str::to_string))
                .ok_or_else(|| Verdict::Later {
                    reason: format!("GET /repos/{repository} gave no default_branch"),
                    after: None,
                }),
            _ => Err(match judge(&answer, repository) {
                Verdict::Delivered => Verdict::Later {
                    reason: "unexpected answer reading the default branch".into(),
                    after: None,
                },
                other => other,
            }),
        }
    }

    /// `{api}{path}`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Sends a request and reads the answer (bounded). `Err` is a transport failure.
    pub fn send(
        &self,
        method: Method,
        url: &str,
        body: Option<&str>,
        token: &Token,
    ) -> Result<Answer, String> {
        if url.starts_with("https://") {
            crate::trust::install();
        }
        let minreq_method = match method {
            Method::Get => minreq::Method::Get,
            Method::Post => minreq::Method::Post,
        };
        let mut request = minreq::Request::new(minreq_method, url)
            .with_timeout(self.timeout)
            .with_follow_redirects(false);
        for (name, value) in headers(body.is_some(), token.expose()) {
            request = request.with_header(name, value);
        }
        if let Some(body) = body {
            request = request.with_body(body.as_bytes().to_vec());
        }
        if let Some(proxy) = proxy_for(url) {
            let proxy = minreq::Proxy::new(&proxy)
                .map_err(|err| format!("proxy {}: {err}", crate::redact::url(&proxy)))?;
            request = request.with_proxy(proxy);
        }
        let mut response = request.send_lazy().map_err(|err| {
            crate::trust::explain(&err).unwrap_or_else(|| crate::redact::line(&err.to_string()))
        })?;
        let mut raw = Vec::new();
        (&mut response)
            .take(MAX_RESPONSE_BYTES)
            .read_to_end(&mut raw)
            .map_err(|err| format!("reading the answer: {err}"))?;
        Ok(Answer {
            status: response.status_code,
            headers: response
                .headers
                .iter()
                .map(|(k, v)| (k.to_ascii_lowercase(), v.clone()))
                .collect(),
            body: String::from_utf8_lossy(&raw).into_owned(),
        })
    }
}

/// The `workflow_dispatch` body: `ref`, the user's payload fields as string `inputs` (a
/// workflow declares string inputs; GitHub answers 422 for undeclared ones), and a request
/// for the run's URL.
pub fn workflow_body(git_ref: &str, inputs: &str) -> String {
    let inputs: Map<String, Value> = serde_json::from_str(inputs).unwrap_or_default();
    let as_strings: Vec<String> = inputs
        .iter()
        .map(|(k, v)| {
            let text = match v {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            format!("{}:{}", Value::from(k.as_str()), Value::from(text))
        })
        .collect();
    format!(
        "{{\"ref\":{},\"inputs\":{{{}}},\"return_run_details\":true}}",
        Value::from(git_ref),
        as_strings.join(",")
    )
}

/// The run GitHub started, from a 200 answer to a workflow dispatch.
pub fn run_url(answer: &Answer) -> Option<String> {
    if answer.status != 200 {
        return None;
    }
    let v: Value = serde_json::from_str(&answer.body).ok()?;
    v.get("html_url")
        .or_else(|| v.get("run_url"))?
        .as_str()
        .map(str::to_string)
}

/// Decodes the base64 GitHub's contents API wraps files in (line breaks allowed).
pub fn decode_base64(text: &str) -> Option<Vec<u8>> {
    let value = |c: u8| -> Option<u32> {
        Some(match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        } as u32)
    };
    let clean: Vec<u8> = text
        .bytes()
        .filter(|b| !b.is_ascii_whitespace() && *b != b'=')
        .collect();
    let mut out = Vec::with_capacity(clean.len() * 3 / 4);
    for chunk in clean.chunks(4) {
        let mut n = 0u32;
        for (i, c) in chunk.iter().enumerate() {
            n |= value(*c)? << (18 - 6 * i);
        }
        let bytes = n.to_be_bytes();
        out.extend_from_slice(&bytes[1..chunk.len()]);
    }
    Some(out)
}

/// The HTTP methods we use.
#[derive(Clone, Copy, Debug)]
pub enum Method {
    /// GET, for checks.
    Get,
    /// POST, for dispatches.
    Post,
}

impl Method {
    fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Post => "POST",
        }
    }
}

/// The headers GitHub expects, in the order DESIGN.md shows them.
fn headers(with_body: bool, token: &str) -> Vec<(&'static str, String)> {
    let mut list = vec![
        ("Accept", ACCEPT.to_string()),
        ("Authorization", format!("Bearer {token}")),
        ("X-GitHub-Api-Version", API_VERSION.to_string()),
        ("User-Agent", user_agent()),
    ];
    if with_body {
        list.push(("Content-Type", "application/json".to_string()));
    }
    list
}

/// The request as text, token masked, for `send --dry-run`.
pub fn render(method: Method, url: &str, body: Option<&str>) -> String {
    let mut out = format!("{} {url}\n", method.as_str());
    for (name, value) in headers(body.is_some(), "") {
        let value = if name == "Authorization" {
            "Bearer ******** (masked)".to_string()
        } else {
            value
        };
        out.push_str(&format!("{name}: {value}\n"));
    }
    if let Some(body) = body {
        out.push('\n');
        out.push_str(body);
        out.push('\n');
    }
    out
}

/// An HTTP answer.
#[derive(Clone, Debug)]
pub struct Answer {
    /// The status code.
    pub status: u16,
    /// Headers, names lowercased.
    pub headers: Vec<(String, String)>,
    /// The body, read up to a bound.
    pub body: String,
}

impl Answer {
    /// A header's value.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// GitHub's `message` from a JSON error body; a proxy's HTML page by its title; else
    /// the start of the body.
    pub fn message(&self) -> String {
        let parsed = serde_json::from_str::<Value>(&self.body).ok();
        if let Some(m) = parsed
            .as_ref()
            .and_then(|v| v.get("message"))
            .and_then(Value::as_str)
        {
            return crate::say::shorten(m, 200);
        }
        let lower = self.body.to_ascii_lowercase();
        if lower.contains("<html") || lower.contains("<!doctype") {
            let title = lower
                .find("<title>")
                .and_then(|start| {
                    let rest = &self.body[start + 7..];
                    rest.find("</").map(|end| rest[..end].trim().to_string())
                })
                .filter(|t| !t.is_empty());
            return match title {
                Some(t) => format!("an HTML page ({})", crate::say::shorten(&t, 80)),
                None => "an HTML page, not GitHub's JSON".into(),
            };
        }
        let text: String = self.body.split_whitespace().collect::<Vec<_>>().join(" ");
        if text.is_empty() {
            "no message".into()
        } else {
            crate::say::shorten(&text, 80)
        }
    }
}

/// What to do after a send.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// GitHub took it.
    Delivered,
    /// May work later (network, timeout, 5xx, rate limit); `after` seconds if GitHub said.
    Later {
        /// Why, in words.
        reason: String,
        /// GitHub's `retry-after` or rate-limit reset, in seconds from now.
        after: Option<u64>,
    },
    /// Refused for good; the reason names the fix.
    Refused {
        /// Why, and what to do.
        reason: String,
    },
}

/// Classifies a dispatch answer as GitHub documents it.
pub fn judge(result: &Result<Answer, String>, repository: &str) -> Verdict {
    let answer = match result {
        Ok(answer) => answer,
        Err(err) => {
            return Verdict::Later {
                reason: format!("network: {err}"),
                after: None,
            }
        }
    };
    let status = answer.status;
    if !(200..600).contains(&status) {
        // A connection cut mid-answer can parse as a stub status line ("HTTP/1.1 20").
        return Verdict::Later {
            reason: format!("network: malformed HTTP answer (status {status})"),
            after: None,
        };
    }
    let message = answer.message();
    if (200..300).contains(&status) {
        return Verdict::Delivered;
    }
    if let Some(after) = rate_limit_wait(answer) {
        return Verdict::Later {
            reason: format!("rate limited by GitHub ({status}); waiting {after}s"),
            after: Some(after),
        };
    }
    let refused = |reason: String| Verdict::Refused { reason };
    match status {
        301 | 302 | 307 | 308 => refused(format!(
            "{status} redirect to {} not followed (the token goes only to its API host); \
             check the repository name and dispatch.apiUrl",
            crate::redact::url(answer.header("location").unwrap_or("?"))
        )),
        401 => refused(format!(
            "401 {message}: the token is wrong, expired or revoked; make a new one and run `git dispatch login`"
        )),
        403 => {
            let mut reason = format!("403 {message}: the token may not dispatch to {repository}");
            if let Some(needed) = answer.header("x-accepted-github-permissions") {
                reason.push_str(&format!("; it needs {needed}"));
            } else {
                reason.push_str("; give it Contents: read and write on that repository");
            }
            if answer.header("x-github-sso").is_some() {
                reason.push_str("; authorise it for the organisation's SSO");
            }
            refused(reason)
        }
        404 => refused(format!(
            "404 {message}: {repository} does not exist or the token cannot see it; check the name, \
             and that the fine-grained token's resource owner and selected repositories include it \
             with Contents: read and write"
        )),
        422 => refused(format!("422 {message}: GitHub refused the request; fix the target's settings")),
        408 | 429 | 500..=599 => Verdict::Later {
            reason: format!("{status} {message} from GitHub"),
            after: None,
        },
        _ => refused(format!("{status} {message}: unexpected answer from GitHub")),
    }
}

/// Seconds GitHub asks us to wait, when the answer is a rate limit.
fn rate_limit_wait(answer: &Answer) -> Option<u64> {
    if !matches!(answer.status, 403 | 429) {
        return None;
    }
    if let Some(after) = answer
        .header("retry-after")
        .and_then(|v| v.trim().parse().ok())
    {
        return Some(after);
    }
    if answer.header("x-ratelimit-remaining").map(str::trim) == Some("0") {
        let reset: u64 = answer.header("x-ratelimit-reset")?.trim().parse().ok()?;
        return Some(reset.saturating_sub(crate::store::now()).max(1));
    }
    (answer.status == 429).then_some(60)
}

/// The push's facts that go into `client_payload`.
pub struct PushFacts<'a> {
    /// `refs/heads/main`.
    pub remote_ref: &'a str,
    /// The new sha.
    pub sha: &'a str,
    /// The old sha.
    pub before: &'a str,
    /// The content repository, `owner/name`, with no credentials.
    pub repository: &'a str,
    /// For a target with a path filter: the changed paths it selected.
    pub paths: Option<&'a [String]>,
}

/// The `repository_dispatch` body. Our fields win over the user's `payload` on a clash;
/// each clash is returned as a warning.
pub fn dispatch_body(
    event: &str,
    push: &PushFacts<'_>,
    extra: &Map<String, Value>,
) -> Result<(String, Vec<String>)> {
    let mut payload = Map::new();
    let mut warnings = Vec::new();
    for (key, value) in extra {
        if OWN_PAYLOAD_KEYS.contains(&key.as_str()) {
            warnings.push(format!(
                "payload field {key:?} is git-dispatch's own and was replaced; rename it"
            ));
        } else {
            payload.insert(key.clone(), value.clone());
        }
    }
    let total = payload.len() + OWN_PAYLOAD_KEYS.len() + usize::from(push.paths.is_some());
    if total > MAX_PAYLOAD_KEYS {
        bail!("client_payload would have {total} keys; GitHub takes at most {MAX_PAYLOAD_KEYS}; drop some payload fields");
    }
    // Written by hand so the fields keep DESIGN.md's order (serde_json's Map sorts keys).
    let quote = |s: &str| Value::from(s).to_string();
    let mut fields = vec![
        format!("\"ref\":{}", quote(push.remote_ref)),
        format!("\"sha\":{}", quote(push.sha)),
        format!("\"before\":{}", quote(push.before)),
        format!("\"repository\":{}", quote(push.repository)),
    ];
    for (key, value) in &payload {
        fields.push(format!("{}:{value}", quote(key)));
    }
    let render = |fields: &[String]| {
        format!(
            "{{\"event_type\":{},\"client_payload\":{{{}}}}}",
            quote(event),
            fields.join(",")
        )
    };
    let mut body = render(&fields);
    if let Some(paths) = push.paths {
        // Each path takes at least its length, two quotes and a comma: a lower bound that
        // spares rendering (and throwing away) a list of 10,000 paths that cannot fit.
        let least =
            body.len() + ",\"paths\":[]".len() + paths.iter().map(|p| p.len() + 3).sum::<usize>();
        let candidate = (least <= MAX_BODY_BYTES + 1).then(|| {
            let mut with_paths = fields.clone();
            with_paths.push(format!("\"paths\":{}", Value::from(paths.to_vec())));
            render(&with_paths)
        });
        if let Some(candidate) = candidate.filter(|c| c.len() <= MAX_BODY_BYTES) {
            body = candidate;
        } else {
            warnings.push(format!(
                "{} changed paths do not fit GitHub's {MAX_BODY_BYTES}-byte body; sent without `paths`",
                paths.len()
            ));
        }
    }
    if body.len() > MAX_BODY_BYTES {
        bail!("the request body would be {} bytes; GitHub takes at most {MAX_BODY_BYTES}; shrink the payload", body.len());
    }
    Ok((body, warnings))
}

fn is_loopback(host: &str) -> bool {
    let name = match host.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or_default(),
        None => host.rsplit_once(':').map_or(host, |(h, _)| h),
    };
    name == "localhost"
        || name
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// The proxy for `url` from the environment, as curl reads it: `https_proxy`/`HTTPS_PROXY`
/// then `all_proxy`/`ALL_PROXY` for https; `NO_PROXY` hosts (and loopback) go direct.
fn proxy_for(url: &str) -> Option<String> {
    proxy_from(url, |name| std::env::var(name).ok())
}

/// `proxy_for` with the environment given as a lookup, so it can be tested.
fn proxy_from(url: &str, env: impl Fn(&str) -> Option<String>) -> Option<String> {
    let rest = url.strip_prefix("https://")?;
    let authority = rest.split('/').next().unwrap_or_default();
    if is_loopback(authority) {
        return None;
    }
    let host = authority
        .rsplit_once(':')
        .map_or(authority, |(h, _)| h)
        .to_ascii_lowercase();
    let var = |names: &[&str]| {
        names
            .iter()
            .find_map(|n| env(n).filter(|v| !v.trim().is_empty()))
    };
    if let Some(no_proxy) = var(&["no_proxy", "NO_PROXY"]) {
        if no_proxy.trim() == "*" {
            return None;
        }
        for pattern in no_proxy.split(',').map(|p| p.trim().to_ascii_lowercase()) {
            // `example.com`, `.example.com` and `*.example.com` all cover the domain.
            let pattern = pattern.trim_start_matches('*').trim_start_matches('.');
            let pattern = pattern.rsplit_once(':').map_or(pattern, |(h, _)| h);
            if !pattern.is_empty() && (host == pattern || host.ends_with(&format!(".{pattern}"))) {
                return None;
            }
        }
    }
    var(&["https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(status: u16, headers: &[(&str, &str)], body: &str) -> Result<Answer, String> {
        Ok(Answer {
            status,
            headers: headers
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            body: body.into(),
        })
    }

    #[test]
    fn refuses_plain_http_off_loopback() {
        assert!(Api::new("http://127.0.0.1:8080", 10).is_ok());
        assert!(Api::new("http://[::1]:8080/", 10).is_ok());
        assert!(Api::new("https://ghe.example.com/api/v3", 10).is_ok());
        let err = Api::new("http://example.com", 10).unwrap_err().to_string();
        assert!(err.contains("https://"), "{err}");
        assert!(Api::new("https://u:p@example.com", 10).is_err());
    }

    #[test]
    fn classifies_answers() {
        assert_eq!(judge(&answer(204, &[], ""), "o/r"), Verdict::Delivered);
        assert!(matches!(
            judge(&Err("refused".into()), "o/r"),
            Verdict::Later { .. }
        ));
        assert!(matches!(
            judge(&answer(502, &[], ""), "o/r"),
            Verdict::Later { after: None, .. }
        ));
        assert!(matches!(
            judge(&answer(403, &[("retry-after", "30")], ""), "o/r"),
            Verdict::Later {
                after: Some(30),
                ..
            }
        ));
        let Verdict::Refused { reason } =
            judge(&answer(401, &[], r#"{"message":"Bad credentials"}"#), "o/r")
        else {
            panic!()
        };
        assert!(reason.contains("Bad credentials") && reason.contains("git dispatch login"));
        let Verdict::Refused { reason } = judge(
            &answer(
                403,
                &[("x-accepted-github-permissions", "contents=write")],
                "",
            ),
            "o/r",
        ) else {
            panic!()
        };
        assert!(reason.contains("contents=write"));
        let Verdict::Refused { reason } = judge(&answer(404, &[], ""), "o/r") else {
            panic!()
        };
        assert!(reason.contains("o/r"));
    }

    #[test]
    fn messages_from_json_html_and_nothing() {
        let a = |body: &str| Answer {
            status: 502,
            headers: Vec::new(),
            body: body.into(),
        };
        assert_eq!(a(r#"{"message":"Not Found"}"#).message(), "Not Found");
        assert_eq!(
            a("<!DOCTYPE html><html><head><title>502 Bad Gateway</title></head></html>").message(),
            "an HTML page (502 Bad Gateway)"
        );
        assert_eq!(a("").message(), "no message");
        assert_eq!(a(&"x".repeat(500)).message().chars().count(), 80);
    }

    #[test]
    fn our_payload_fields_win() {
        let push = PushFacts {
            remote_ref: "refs/heads/main",
            sha: "a",
            before: "b",
            repository: "o/c",
            paths: None,
        };
        let extra =
            serde_json::from_str::<Map<String, Value>>(r#"{"sha":"x","site":"blog"}"#).unwrap();
        let (body, warnings) = dispatch_body("update", &push, &extra).unwrap();
        let v: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(v["client_payload"]["sha"], "a");
        assert_eq!(v["client_payload"]["site"], "blog");
        assert_eq!(warnings.len(), 1);
        assert!(body.starts_with(r#"{"event_type":"update","client_payload":{"ref":"refs/heads/main","sha":"a","before":"b","repository":"o/c","#));
    }

    #[test]
    fn paths_are_added_while_they_fit() {
        let few = vec!["content/a.md".to_string()];
        let mut push = PushFacts {
            remote_ref: "refs/heads/main",
            sha: "a",
            before: "b",
            repository: "o/c",
            paths: Some(&few),
        };
        let (body, warnings) = dispatch_body("update", &push, &Map::new()).unwrap();
        assert!(body.ends_with(r#""paths":["content/a.md"]}}"#), "{body}");
        assert!(warnings.is_empty());
        let many: Vec<String> = (0..10_000)
            .map(|i| format!("content/post-{i}.md"))
            .collect();
        push.paths = Some(&many);
        let (body, warnings) = dispatch_body("update", &push, &Map::new()).unwrap();
        assert!(!body.contains("paths") && body.len() < MAX_BODY_BYTES);
        assert_eq!(warnings.len(), 1);

        // The bound that skips rendering must not drop a list that fits to the byte.
        push.paths = None;
        let bare = dispatch_body("update", &push, &Map::new()).unwrap().0.len();
        let exact = vec!["p".repeat(MAX_BODY_BYTES - bare - r#","paths":[""]"#.len())];
        push.paths = Some(&exact);
        let (body, warnings) = dispatch_body("update", &push, &Map::new()).unwrap();
        assert_eq!(body.len(), MAX_BODY_BYTES);
        assert!(warnings.is_empty());
        let over = vec![format!("{}p", exact[0])];
        push.paths = Some(&over);
        let (body, warnings) = dispatch_body("update", &push, &Map::new()).unwrap();
        assert!(!body.contains("paths"));
        assert_eq!(warnings.len(), 1);
    }

    #[test]
    fn workflow_inputs_are_strings() {
        let body = workflow_body("main", r#"{"site":"blog","n":3,"on":true}"#);
        assert_eq!(
            body,
            r#"{"ref":"main","inputs":{"n":"3","on":"true","site":"blog"},"return_run_details":true}"#
        );
        assert_eq!(
            workflow_body("v1", "{}"),
            r#"{"ref":"v1","inputs":{},"return_run_details":true}"#
        );
    }

    #[test]
    fn base64_as_github_sends_it() {
        assert_eq!(decode_base64("b246IHB1c2gK").unwrap(), b"on: push\n");
        assert_eq!(decode_base64("YQ==\n").unwrap(), b"a");
        assert_eq!(decode_base64("YWI=").unwrap(), b"ab");
        assert!(decode_base64("a$b").is_none());
    }

    #[test]
    fn dry_run_masks_the_token() {
        let text = render(
            Method::Post,
            "https://api.github.com/repos/o/r/dispatches",
            Some("{}"),
        );
        assert!(text.starts_with("POST https://api.github.com/repos/o/r/dispatches\n"));
        assert!(text.contains("Authorization: Bearer ******** (masked)"));
        assert!(text.contains("X-GitHub-Api-Version: 2022-11-28"));
    }

    #[test]
    fn proxies_as_curl_reads_them() {
        fn proxy(url: &str, vars: &[(&str, &str)]) -> Option<String> {
            proxy_from(url, |name| {
                vars.iter()
                    .find(|(k, _)| *k == name)
                    .map(|(_, v)| v.to_string())
            })
        }
        let api = "https://api.github.com/repos/o/r/dispatches";
        let p = "http://proxy:3128";
        assert_eq!(proxy(api, &[]), None);
        for var in ["HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy"] {
            assert_eq!(proxy(api, &[(var, p)]).as_deref(), Some(p), "{var}");
        }
        for no in [
            "github.com",
            ".github.com",
            "*.github.com",
            "api.github.com:443",
            "*",
            "x.org, github.com",
        ] {
            assert_eq!(
                proxy(api, &[("HTTPS_PROXY", p), ("NO_PROXY", no)]),
                None,
                "NO_PROXY={no}"
            );
        }
        let suffix = proxy(api, &[("HTTPS_PROXY", p), ("NO_PROXY", "hub.com")]);
        assert_eq!(suffix.as_deref(), Some(p), "a suffix is not a domain");
        assert_eq!(proxy("https://127.0.0.1:1/x", &[("HTTPS_PROXY", p)]), None);
        assert_eq!(proxy("http://127.0.0.1:1/x", &[("HTTPS_PROXY", p)]), None);
    }
}
