//! The proxy for a request, from the environment as curl reads it (`HTTPS_PROXY`,
//! `ALL_PROXY`, `NO_PROXY`). minreq's own reading is patched out of the vendored copy: it
//! read only lowercase `https_proxy`, ignored `NO_PROXY`, and sent a loopback request,
//! token included, to a plain-http proxy (doc/DESIGN.md, "minreq, vendored and patched").

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

/// The proxy for `url` from the environment, as curl reads it: `https_proxy`/`HTTPS_PROXY`
/// then `all_proxy`/`ALL_PROXY` for https; `NO_PROXY` hosts (and loopback) go direct.
pub fn for_url(url: &str) -> Option<String> {
    from_env(url, |name| std::env::var(name).ok())
}

/// `proxy_for` with the environment given as a lookup, so it can be tested.
fn from_env(url: &str, env: impl Fn(&str) -> Option<String>) -> Option<String> {
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

    #[test]
    fn proxies_as_curl_reads_them() {
        fn proxy(url: &str, vars: &[(&str, &str)]) -> Option<String> {
            from_env(url, |name| {
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
