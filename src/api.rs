//! GitHub's REST API endpoint, and sending a request to it safely.
//!
//! Two of minreq's defaults are wrong for a tool holding a token, and each is overridden
//! here: redirects are never followed (minreq keeps every header, so the token would reach
//! the redirect's host), and proxies come from our own reading of the environment
//! (`proxy.rs`). The TLS provider is ring and the trust store is read lazily (`tls.rs`).

use std::io::Read;

use anyhow::{bail, Context, Result};
use serde_json::Value;

use crate::answer::{judge, Answer, Failure};
use crate::config::{Settings, DEFAULT_API_URL, DEFAULT_TIMEOUT};
use crate::env;
use crate::token::Token;

/// GitHub's media type and API version, sent with every request.
const ACCEPT: &str = "application/vnd.github+json";
const API_VERSION: &str = "2022-11-28";
/// How much of a response body we read; GitHub's error bodies are small.
const MAX_RESPONSE_BYTES: u64 = 64 * 1024;
/// How much of a GET's answer we read: a page of 100 workflow runs (several KB each) or a
/// matrix's jobs. Past it the answer is refused whole, never parsed cut short.
const MAX_LISTING_BYTES: u64 = 8 * 1024 * 1024;

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
            "http" if crate::proxy::is_loopback(&host) => {}
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

    /// The API serving `host` (`--host` of `login` and `logout`): the configured one when
    /// it is that host; `https://api.*` hosts (github.com, data residency's
    /// `api.SUBDOMAIN.ghe.com`) at their root; any other (GitHub Enterprise Server) below
    /// `/api/v3`. Whether it is the configured one comes back too.
    pub fn for_host(configured: Api, host: Option<&str>) -> Result<(Api, bool)> {
        match host {
            None => Ok((configured, true)),
            Some(h) if h.eq_ignore_ascii_case(configured.host()) => Ok((configured, true)),
            Some(h) if h.starts_with("api.") => Ok((
                Api::new(&format!("https://{h}"), configured.timeout)?,
                false,
            )),
            Some(h) => Ok((
                Api::new(&format!("https://{h}/api/v3"), configured.timeout)?,
                false,
            )),
        }
    }

    /// The configured API (`dispatch.apiUrl`, `$GIT_DISPATCH_API_URL`), or without a
    /// repository's config, the environment's or github.com's.
    pub fn configured(settings: Option<&Settings>) -> Result<Api> {
        match settings {
            Some(s) => Api::new(&s.api_url.value, s.timeout.value),
            None => Api::new(
                &std::env::var(env::API_URL).unwrap_or_else(|_| DEFAULT_API_URL.into()),
                DEFAULT_TIMEOUT,
            ),
        }
    }

    /// `host[:port]`, the key a stored token is filed under.
    pub fn host(&self) -> &str {
        &self.host
    }

    /// The endpoint's URL, without a trailing `/`.
    pub fn base(&self) -> &str {
        &self.base
    }

    /// Seconds a request may take.
    pub fn timeout(&self) -> u64 {
        self.timeout
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
    pub fn default_branch(&self, repository: &str, token: &Token) -> Result<String, Failure> {
        let value = self.get_json(&format!("/repos/{repository}"), repository, token)?;
        value
            .get("default_branch")
            .and_then(Value::as_str)
            .map(str::to_string)
            .ok_or_else(|| {
                Failure::later(format!("GET /repos/{repository} gave no default_branch"))
            })
    }

    /// `GET {api}{path}` answered 200 with JSON; any other answer is the failure it means
    /// for `what`.
    pub fn get_json(&self, path: &str, what: &str, token: &Token) -> Result<Value, Failure> {
        let answer = self.send(Method::Get, &self.url(path), None, token);
        match &answer {
            Ok(a) if a.status == 200 => serde_json::from_str(&a.body)
                .map_err(|e| Failure::later(format!("GET {path}: {e}"))),
            _ => Err(judge(&answer, what)
                .err()
                .unwrap_or_else(|| Failure::later(format!("GET {path}: unexpected answer")))),
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
        self.send_if(method, url, body, None, token, MAX_RESPONSE_BYTES)
    }

    /// `GET url`, conditional on `etag` (`If-None-Match`): GitHub answers 304, which costs
    /// no primary rate limit, while nothing changed.
    pub fn get_if(&self, url: &str, etag: Option<&str>, token: &Token) -> Result<Answer, String> {
        let answer = self.send_if(Method::Get, url, None, etag, token, MAX_LISTING_BYTES + 1)?;
        if answer.body.len() as u64 > MAX_LISTING_BYTES {
            return Err(format!(
                "the answer is over {} MiB; not read",
                MAX_LISTING_BYTES >> 20
            ));
        }
        Ok(answer)
    }

    fn send_if(
        &self,
        method: Method,
        url: &str,
        body: Option<&str>,
        etag: Option<&str>,
        token: &Token,
        max_bytes: u64,
    ) -> Result<Answer, String> {
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
        if let Some(etag) = etag {
            request = request.with_header("If-None-Match", etag);
        }
        send_request(request, url, max_bytes)
    }
}

/// Sends `request` (to `url`, redirects off) through the proxy the environment names for
/// it, if any, and reads at most `max_bytes` of the answer: the one way every request of
/// ours (to GitHub, to a deploy hook) goes out. `Err` is a transport failure, in words.
pub fn send_request(
    mut request: minreq::Request,
    url: &str,
    max_bytes: u64,
) -> Result<Answer, String> {
    if url.starts_with("https://") {
        crate::tls::install();
    }
    if let Some(proxy) = crate::proxy::for_url(url) {
        let proxy = minreq::Proxy::new(&proxy)
            .map_err(|err| format!("proxy {}: {err}", crate::redact::url(&proxy)))?;
        request = request.with_proxy(proxy);
    }
    let mut response = request.send_lazy().map_err(|err| {
        crate::tls::explain(&err).unwrap_or_else(|| crate::redact::line(&err.to_string()))
    })?;
    let mut raw = Vec::new();
    (&mut response)
        .take(max_bytes)
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

/// The headers GitHub expects, in the order doc/DESIGN.md ("Requests") shows them.
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

#[cfg(test)]
mod tests {
    use super::*;

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
}
