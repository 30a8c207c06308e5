//! Deploy hooks: a host's secret URL that starts a build (Netlify, Vercel, Cloudflare,
//! Render, or any other), for sites not built on GitHub Actions. The URL is a secret like a
//! token: stored 0600 beside the tokens under a random id, named in `.git/config` only by
//! its host and that id (`dispatch.<name>.hook = netlify:3f9c…`), shown masked, sent with
//! nothing of ours but the documented request, never through a redirect.

use std::io::Read;

use anyhow::{bail, Context, Result};

use crate::answer::{Answer, Failure, Verdict};

/// The hosts whose hook URLs are known, by the URL's shape.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Host {
    /// `https://api.netlify.com/build_hooks/{id}`
    Netlify,
    /// `https://api.vercel.com/v1/integrations/deploy/{project}/{id}`
    Vercel,
    /// `https://api.cloudflare.com/client/v4/…/deploy_hooks/{id}`
    Cloudflare,
    /// `https://api.render.com/deploy/{service}?key={key}`
    Render,
    /// Any other URL that takes a POST.
    Generic,
}

impl Host {
    /// The host a hook URL belongs to.
    pub fn of(url: &str) -> Host {
        let rest = url.split_once("://").map_or(url, |(_, r)| r);
        let (host, path) = rest.split_once('/').unwrap_or((rest, ""));
        let host = host.to_ascii_lowercase();
        let host = host.strip_suffix(":443").unwrap_or(&host).to_string();
        // A mirror on this machine (a test's fake host) is known by the path alone.
        let local = crate::proxy::is_loopback(&host);
        let at = |name: &str| local || host == name;
        if at("api.netlify.com") && path.starts_with("build_hooks/") {
            Host::Netlify
        } else if at("api.vercel.com") && path.starts_with("v1/integrations/deploy/") {
            Host::Vercel
        } else if at("api.cloudflare.com") && path.contains("/deploy_hooks/") {
            Host::Cloudflare
        } else if at("api.render.com") && path.starts_with("deploy/") {
            Host::Render
        } else {
            Host::Generic
        }
    }

    /// As written in `dispatch.<name>.hook`.
    pub fn as_str(self) -> &'static str {
        match self {
            Host::Netlify => "netlify",
            Host::Vercel => "vercel",
            Host::Cloudflare => "cloudflare",
            Host::Render => "render",
            Host::Generic => "generic",
        }
    }

    /// From `dispatch.<name>.hook`.
    pub fn parse(text: &str) -> Option<Host> {
        [
            Host::Netlify,
            Host::Vercel,
            Host::Cloudflare,
            Host::Render,
            Host::Generic,
        ]
        .into_iter()
        .find(|h| h.as_str() == text)
    }

    /// Where a writer makes a new hook, for a hook that was deleted or mistyped.
    pub fn where_made(self) -> &'static str {
        match self {
            Host::Netlify => "Netlify: Site configuration > Build & deploy > Build hooks",
            Host::Vercel => "Vercel: the project's Settings > Git > Deploy Hooks",
            // A Worker's and a Pages project's settings alike.
            Host::Cloudflare => "Cloudflare: the project's Settings > Builds > Deploy Hooks",
            Host::Render => "Render: the service's Settings > Deploy Hook",
            Host::Generic => "the host's settings",
        }
    }
}

/// A hook as a target names it: its host and the id its URL is stored under.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Hook {
    /// Whose hook it is.
    pub host: Host,
    /// The key of the stored URL (random hex; no part of the URL).
    pub id: String,
}

impl Hook {
    /// From `dispatch.<name>.hook` (`netlify:3f9c…`).
    pub fn parse(text: &str) -> Result<Hook> {
        let (host, id) = text
            .split_once(':')
            .context("not host:id; add the hook again with `git dispatch add --hook NAME`")?;
        let host = Host::parse(host).with_context(|| {
            format!("{host:?} is not a hook host (netlify, vercel, cloudflare, render, generic)")
        })?;
        if id.len() != 16 || !id.bytes().all(|b| b.is_ascii_hexdigit()) {
            bail!(
                "{id:?} is not a hook id; add the hook again with `git dispatch add --hook NAME`"
            );
        }
        Ok(Hook {
            host,
            id: id.to_string(),
        })
    }

    /// As written in `dispatch.<name>.hook`.
    pub fn to_config(&self) -> String {
        format!("{}:{}", self.host.as_str(), self.id)
    }

    /// The stored URL; `None` when it is not stored on this machine, `Err` when the
    /// credentials cannot be read (a fix is named).
    pub fn stored_url(&self) -> Result<Option<String>> {
        Ok(crate::token::stored(&key(&self.id))?.map(|url| url.expose().to_string()))
    }

    /// The stored URL, or why there is none, with the fix.
    pub fn url(&self) -> Result<String> {
        match self.stored_url()? {
            Some(url) => Ok(url),
            None => bail!("{}", self.not_stored()),
        }
    }

    /// Why this machine has no URL for it, and the fix.
    pub fn not_stored(&self) -> String {
        format!(
            "the {} hook's URL is not stored on this machine; add it again with `git \
             dispatch add --hook NAME` (the URL on standard input)",
            self.host.as_str()
        )
    }

    /// How it is shown: the host and the stored URL masked, or why it cannot be.
    pub fn shown(&self) -> String {
        match self.stored_url() {
            Ok(Some(url)) => format!("{} hook {}", self.host.as_str(), masked(&url)),
            Ok(None) => format!("{} hook (URL not stored here)", self.host.as_str()),
            Err(err) => format!("{} hook ({err:#})", self.host.as_str()),
        }
    }
}

/// Whether the hook's host (or the proxy it goes through) takes a connection, for
/// `doctor`: a TCP connect and nothing sent, since any request to a hook may start a build
/// (Render's takes a GET). The address said, or why not, in words; a proxy's value is
/// never said (it may carry a password), only the variable it came from.
pub fn reachable(url: &str, timeout: u64) -> Result<String, String> {
    let (address, shown) = match crate::proxy::route(url) {
        crate::proxy::Route::Proxy(proxy, var) => {
            // Read as the request reads it (minreq's `Proxy::new`): a value it refuses
            // fails every push, whatever answers at its address.
            if minreq::Proxy::new(&proxy).is_err() {
                return Err(format!(
                    "the proxy in ${var} is not one the request can use \
                     ([http://][user[:password]@]host[:port])"
                ));
            }
            (proxy_address(&proxy), format!("the proxy (${var})"))
        }
        crate::proxy::Route::Direct(_) => {
            let (scheme, rest) = url.split_once("://").unwrap_or(("https", url));
            let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
            let host = authority.rsplit('@').next().unwrap_or_default();
            let has_port = match host.rsplit_once(':') {
                Some((before, port)) => {
                    !port.is_empty()
                        && port.bytes().all(|b| b.is_ascii_digit())
                        && (!before.contains(':') || before.ends_with(']'))
                }
                None => false,
            };
            let address = if has_port {
                host.to_string()
            } else {
                format!("{host}:{}", if scheme == "http" { 80 } else { 443 })
            };
            (address.clone(), address)
        }
    };
    connect(&address, timeout)
        .map(|()| shown.clone())
        .map_err(|why| format!("{shown} {why}"))
}

/// `host:port` of a proxy as minreq reads it: `[http://][user[:password]@]host[:port]`,
/// port 1080 when none is given.
fn proxy_address(proxy: &str) -> String {
    let authority = proxy.split_once("://").map_or(proxy, |(_, a)| a);
    let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    match host.split_once(':') {
        Some(_) => host.to_string(),
        None => format!("{host}:1080"),
    }
}

/// A TCP connection to `address` within `timeout` seconds in all (each address tried in
/// turn); why not, in words.
fn connect(address: &str, timeout: u64) -> Result<(), String> {
    use std::net::{TcpStream, ToSocketAddrs};
    use std::time::{Duration, Instant};
    let bound = Duration::from_secs(timeout.max(1));
    let start = Instant::now();
    let addrs: Vec<_> = address
        .to_socket_addrs()
        .map_err(|e| format!("cannot be resolved: {e}"))?
        .collect();
    let mut last = String::from("no address");
    for addr in addrs {
        let left = bound.saturating_sub(start.elapsed());
        if left.is_zero() {
            break;
        }
        match TcpStream::connect_timeout(&addr, left) {
            Ok(_) => return Ok(()),
            Err(e) => last = e.to_string(),
        }
    }
    Err(format!("does not answer: {last}"))
}

/// Forgets a hook's stored URL (its target was removed); whether one was stored.
pub fn forget(hook: &Hook) -> Result<bool> {
    crate::token::forget(&key(&hook.id))
}

/// Where a hook URL is stored among the credentials.
fn key(id: &str) -> String {
    format!("hook:{id}")
}

/// Checks a hook URL as given: https (plain http only to loopback), no user info, a path,
/// one line.
pub fn validate(raw: &str) -> Result<String> {
    let url = raw.trim();
    if url.is_empty() {
        bail!("no hook URL on standard input; paste the URL the host gave you");
    }
    if url.chars().any(|c| c.is_whitespace() || c.is_control()) {
        bail!("the hook URL has spaces or control characters; give the URL alone");
    }
    let (scheme, rest) = url
        .split_once("://")
        .context("the hook URL has no scheme; it starts with https://")?;
    let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
    if authority.contains('@') {
        bail!("the hook URL must not carry a user name or password");
    }
    match scheme {
        "https" => {}
        "http" if crate::proxy::is_loopback(authority) => {}
        _ => bail!("a hook URL is https:// (plain http only to this machine): it is a secret"),
    }
    if authority.is_empty() || path.is_empty() {
        bail!("the hook URL has no host or no path; copy the whole URL from the host");
    }
    Ok(url.to_string())
}

/// Stores `url` (checked) under a new id; the hook that names it.
pub fn store(url: &str) -> Result<Hook> {
    let url = validate(url)?;
    let mut bytes = [0u8; 8];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut bytes))
        .context("reading /dev/urandom for the hook's id")?;
    let id: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    let token = crate::token::Token::new(&url, "standard input")?;
    crate::token::store(&key(&id), &token)?;
    Ok(Hook {
        host: Host::of(&url),
        id,
    })
}

/// `url` with its secret part hidden: scheme, host and the path's first segment, then the
/// last segment's first two characters (`https://api.netlify.com/build_hooks/5f…`).
pub fn masked(url: &str) -> String {
    let (scheme, rest) = url.split_once("://").unwrap_or(("", url));
    let rest = rest.split(['?', '#']).next().unwrap_or_default();
    let mut parts = rest.split('/');
    let host = parts.next().unwrap_or_default();
    let segments: Vec<&str> = parts.filter(|s| !s.is_empty()).collect();
    // A known host's first segment is a fixed word (`build_hooks`, `deploy`); any other
    // host's may be the secret itself: only two characters of the path are shown.
    let known = Host::of(url) != Host::Generic;
    match (known, segments.as_slice()) {
        (true, [first, .., last]) => {
            let hint: String = last.chars().take(2).collect();
            format!("{scheme}://{host}/{first}/{hint}…")
        }
        (_, [first, ..]) => {
            let hint: String = first.chars().take(2).collect();
            format!("{scheme}://{host}/{hint}…")
        }
        _ => format!("{scheme}://{host}/…"),
    }
}

/// The request a host documents to start a build, with `title` where it takes one
/// (Netlify's `trigger_title`): the URL to POST and the body.
pub fn request(host: Host, url: &str, title: &str) -> (String, &'static str) {
    match host {
        Host::Netlify => {
            let sep = if url.contains('?') { '&' } else { '?' };
            (format!("{url}{sep}trigger_title={}", encode(title)), "{}")
        }
        _ => (url.to_string(), ""),
    }
}

/// `send --dry-run` of a hook entry (`hook` as the entry keeps it, `title` its body): the
/// request as it would go, its URL masked; and the real URL, to tell the route by.
pub fn render(hook: &str, title: &str) -> Result<(String, String)> {
    let hook = Hook::parse(hook)?;
    let url = hook.url()?;
    let (full, body) = request(hook.host, &url, title);
    // What we add to the URL (Netlify's title) is shown; the stored URL's own query (a
    // Render `key`) is part of the secret.
    let added = full.strip_prefix(&url).unwrap_or_default();
    let shown = format!("{}{added}", masked(&url));
    let mut text = format!("POST {shown}\nUser-Agent: {}\n", crate::api::user_agent());
    if !body.is_empty() {
        text.push_str(&format!("Content-Type: application/json\n\n{body}\n"));
    }
    Ok((text, full))
}

/// `text` percent-encoded for a query's value.
pub fn encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// POSTs to a hook: no token, no GitHub headers, no redirect followed, a proxy only as the
/// environment names one; `timeout` in seconds.
pub fn send(url: &str, body: &str, timeout: u64) -> Result<Answer, String> {
    let mut request = minreq::Request::new(minreq::Method::Post, url)
        .with_timeout(timeout)
        .with_follow_redirects(false)
        .with_header("User-Agent", crate::api::user_agent());
    if !body.is_empty() {
        request = request
            .with_header("Content-Type", "application/json")
            .with_body(body.as_bytes().to_vec());
    }
    // minreq's errors may name the URL: only its masked form is ever said.
    crate::api::send_request(request, url, 64 * 1024).map_err(|e| e.replace(url, &masked(url)))
}

/// What a host's answer means: 2xx started the build; 404 the hook is gone; 429 and 5xx
/// (with `Retry-After`) and the network may pass; anything else is refused.
pub fn judge(host: Host, answer: &Result<Answer, String>) -> Verdict {
    let answer = crate::answer::received(answer)?;
    let status = answer.status;
    match status {
        200..=299 => Ok(()),
        404 => Err(Failure::Refused {
            reason: format!(
                "404: the {} hook was deleted or its URL mistyped; make a new one ({}) and \
                 `git dispatch add --hook NAME` with it",
                host.as_str(),
                host.where_made()
            ),
        }),
        408 | 429 | 500..=599 => Err(Failure::Later {
            reason: format!(
                "the {} hook answered {status}; tried again later",
                host.as_str()
            ),
            after: answer.retry_after(),
            at_least: 0,
        }),
        _ => Err(Failure::Refused {
            reason: format!(
                "the {} hook refused the request ({status}); check it in {}",
                host.as_str(),
                host.where_made()
            ),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_hosts_url_is_known_by_its_shape() {
        for (url, host) in [
            ("https://api.netlify.com/build_hooks/5f0c1e", Host::Netlify),
            (
                "https://api.vercel.com/v1/integrations/deploy/prj_1/abc",
                Host::Vercel,
            ),
            (
                "https://api.cloudflare.com/client/v4/accounts/a/builds/deploy_hooks/d",
                Host::Cloudflare,
            ),
            ("https://api.render.com/deploy/srv-1?key=k", Host::Render),
            ("https://example.com/hooks/1", Host::Generic),
            ("https://api.netlify.com/other", Host::Generic),
            ("https://api.netlify.com:443/build_hooks/1", Host::Netlify),
        ] {
            assert_eq!(Host::of(url), host, "{url}");
        }
    }

    #[test]
    fn a_hook_url_is_shown_masked_and_checked() {
        assert_eq!(
            masked("https://api.netlify.com/build_hooks/5f0c1e2d3a"),
            "https://api.netlify.com/build_hooks/5f…"
        );
        assert_eq!(
            masked("https://api.render.com/deploy/srv-1?key=secret"),
            "https://api.render.com/deploy/sr…"
        );
        assert!(!masked("https://x.io/a/supersecret").contains("supersecret"));
        assert_eq!(
            masked("https://hooks.example.com/SECRETTOKEN/trigger"),
            "https://hooks.example.com/SE…"
        );
        assert_eq!(
            masked("https://api.cloudflare.com/client/v4/accounts/a/builds/deploy_hooks/d1"),
            "https://api.cloudflare.com/client/d1…"
        );
        assert!(validate("http://api.netlify.com/build_hooks/1").is_err());
        assert!(validate("https://u:p@api.netlify.com/build_hooks/1").is_err());
        assert!(validate("https://api.netlify.com").is_err());
        assert!(validate("http://127.0.0.1:9/build_hooks/1").is_ok());
        let hook = Hook::parse("netlify:0123456789abcdef").unwrap();
        assert_eq!(hook.to_config(), "netlify:0123456789abcdef");
        assert!(Hook::parse("netlify:xyz").is_err());
        assert!(Hook::parse("ftp:0123456789abcdef").is_err());
    }

    #[test]
    fn a_proxy_is_reached_where_the_request_would_reach_it() {
        assert_eq!(proxy_address("http://proxy.corp:3128"), "proxy.corp:3128");
        assert_eq!(proxy_address("proxy.corp"), "proxy.corp:1080");
        assert_eq!(
            proxy_address("http://u:p/w@proxy.corp:8080"),
            "proxy.corp:8080"
        );
    }

    #[test]
    fn netlify_gets_its_trigger_title_and_the_others_a_bare_post() {
        let (url, body) = request(
            Host::Netlify,
            "https://api.netlify.com/build_hooks/1",
            "content 3f2a9c1: New post & more",
        );
        assert_eq!(
            url,
            "https://api.netlify.com/build_hooks/1?trigger_title=content%203f2a9c1%3A%20New%20post%20%26%20more"
        );
        assert_eq!(body, "{}");
        assert_eq!(
            request(Host::Vercel, "https://api.vercel.com/v1/x", "t"),
            ("https://api.vercel.com/v1/x".to_string(), "")
        );
    }
}
