//! Keeping secrets out of what we print, log and send.
//!
//! Remote URLs may carry `user:password@` (a token pasted into an https URL is common);
//! they lose it before they reach a payload, a message or the log.

/// `url` without any `user:password@` in its authority.
pub fn url(url: &str) -> String {
    line(url)
}

/// `text` with the user info of every `scheme://user:pass@host` URL in it removed.
pub fn line(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(pos) = rest.find("://") {
        let (head, tail) = rest.split_at(pos + 3);
        out.push_str(head);
        let end = tail
            .find(|c: char| c == '/' || c.is_whitespace() || c == '\'' || c == '"')
            .unwrap_or(tail.len());
        let authority = &tail[..end];
        match authority.rfind('@') {
            Some(at) => out.push_str(&authority[at + 1..]),
            None => out.push_str(authority),
        }
        rest = &tail[end..];
    }
    out.push_str(rest);
    out
}

/// `owner/name` of a remote URL (`https://host/owner/name.git`, `git@host:owner/name`,
/// a local path), for the payload's `repository` field.
pub fn repository_name(remote_url: &str) -> String {
    let clean = url(remote_url);
    let path = match clean.find("://") {
        Some(pos) => {
            let after = &clean[pos + 3..];
            after.find('/').map_or("", |slash| &after[slash..])
        }
        // scp-like `git@host:owner/name`; a Windows drive letter is not a host.
        None => match clean.split_once(':') {
            Some((host, path)) if host.len() > 1 && !host.contains('/') => path,
            _ => &clean,
        },
    };
    let parts: Vec<&str> = path
        .trim_end_matches('/')
        .split(['/', '\\'])
        .filter(|p| !p.is_empty())
        .collect();
    let strip = |s: &str| s.strip_suffix(".git").unwrap_or(s).to_string();
    match parts.as_slice() {
        [] => String::new(),
        [one] => strip(one),
        [.., owner, name] => format!("{owner}/{}", strip(name)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strips_user_and_password() {
        assert_eq!(
            url("https://me:ghp_secret@github.com/o/r.git"),
            "https://github.com/o/r.git"
        );
        assert_eq!(url("https://github.com/o/r"), "https://github.com/o/r");
        assert_eq!(
            line("fetching https://x:y@h/a and ssh://u@h2/b"),
            "fetching https://h/a and ssh://h2/b"
        );
    }

    #[test]
    fn names_the_repository() {
        assert_eq!(
            repository_name("https://t:p@github.com/owner/content.git"),
            "owner/content"
        );
        assert_eq!(
            repository_name("git@github.com:owner/content.git"),
            "owner/content"
        );
        assert_eq!(
            repository_name("ssh://git@github.com/owner/content"),
            "owner/content"
        );
        assert_eq!(repository_name("/tmp/x/remote.git"), "x/remote");
        assert_eq!(repository_name("remote.git"), "remote");
    }
}
