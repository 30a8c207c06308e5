//! The proxy for a request, from the environment as curl reads it (`HTTPS_PROXY`,
//! `ALL_PROXY`, `NO_PROXY`). minreq's own reading is patched out of the vendored copy: it
//! read only lowercase `https_proxy`, ignored `NO_PROXY`, and sent a loopback request,
//! token included, to a plain-http proxy (doc/decisions.md, "minreq, vendored and patched").

use crate::env;

/// Whether `host` (`name[:port]` or `[v6]:port`) is this machine.
pub fn is_loopback(host: &str) -> bool {
    let name = match host.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or_default(),
        None => host.rsplit_once(':').map_or(host, |(h, _)| h),
    };
    name == "localhost"
        || name
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// How a request reaches its host.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Route {
    /// Straight to the host; the reason, for `send --dry-run`.
    Direct(&'static str),
    /// Through this proxy URL, taken from this variable.
    Proxy(String, &'static str),
}

/// The proxy for `url` from the environment, as curl reads it: `https_proxy`/`HTTPS_PROXY`
/// then `all_proxy`/`ALL_PROXY` for https; `NO_PROXY` hosts (and loopback) go direct.
pub fn for_url(url: &str) -> Option<String> {
    match route(url) {
        Route::Proxy(proxy, _) => Some(proxy),
        Route::Direct(_) => None,
    }
}

/// How a request to `url` goes, from this process's environment.
pub fn route(url: &str) -> Route {
    from_env(url, |name| std::env::var(name).ok())
}

/// `route` with the environment given as a lookup, so it can be tested.
fn from_env(url: &str, env: impl Fn(&str) -> Option<String>) -> Route {
    let Some(rest) = url.strip_prefix("https://") else {
        return Route::Direct("plain http goes only to loopback, never through a proxy");
    };
    let authority = rest.split('/').next().unwrap_or_default();
    if is_loopback(authority) {
        return Route::Direct("loopback never goes through a proxy");
    }
    let host = host_of(authority).to_ascii_lowercase();
    let var = |names: &[&'static str]| {
        names
            .iter()
            .find_map(|n| env(n).filter(|v| !v.trim().is_empty()).map(|v| (v, *n)))
    };
    if let Some((no_proxy, _)) = var(&env::NO_PROXY) {
        if no_proxy.trim() == "*" {
            return Route::Direct("NO_PROXY is *");
        }
        for pattern in no_proxy.split(',').map(|p| p.trim().to_ascii_lowercase()) {
            // `example.com`, `.example.com` and `*.example.com` all cover the domain.
            let pattern = host_of(pattern.trim_start_matches('*').trim_start_matches('.'));
            if !pattern.is_empty() && (host == pattern || host.ends_with(&format!(".{pattern}"))) {
                return Route::Direct("the host is in NO_PROXY");
            }
        }
    }
    match var(&env::HTTPS_PROXY) {
        Some((proxy, name)) => Route::Proxy(proxy, name),
        None => Route::Direct("no proxy is set"),
    }
}

/// The host of `host[:port]`, `[v6]:port` or a bare IPv6 address (as NO_PROXY has them).
fn host_of(authority: &str) -> &str {
    if let Some(v6) = authority.strip_prefix('[') {
        return v6.split(']').next().unwrap_or_default();
    }
    match authority.rsplit_once(':') {
        // One colon: a port. More: an IPv6 address without brackets.
        Some((host, _)) if !host.contains(':') => host,
        _ => authority,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proxies_as_curl_reads_them() {
        fn proxy(url: &str, vars: &[(&str, &str)]) -> Option<String> {
            let route = from_env(url, |name| {
                vars.iter()
                    .find(|(k, _)| *k == name)
                    .map(|(_, v)| v.to_string())
            });
            match route {
                Route::Proxy(p, _) => Some(p),
                Route::Direct(_) => None,
            }
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
        // IPv6 hosts, bracketed in URLs and bare in NO_PROXY as curl takes them.
        let v6 = "https://[2001:db8::1]:8443/x";
        assert_eq!(proxy(v6, &[("HTTPS_PROXY", p)]).as_deref(), Some(p));
        assert_eq!(
            proxy(v6, &[("HTTPS_PROXY", p), ("NO_PROXY", "2001:db8::1")]),
            None
        );
        assert_eq!(
            proxy(
                v6,
                &[("HTTPS_PROXY", p), ("NO_PROXY", "[2001:db8::1]:8443")]
            ),
            None
        );
    }
}
