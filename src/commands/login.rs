//! `git dispatch login [--host H] [--owner O]`: store a token GitHub accepts.
//!
//! The token is checked against each target it will serve (those on this API host, of
//! `--owner` when given): it is stored when GitHub accepts it and it can see at least one
//! of them. Each target it cannot see is named with the fix, and the exit is 1. A network
//! error or a 403 is not acceptance, and a token never silently replaces a stored one that
//! serves a target the new one cannot see.

use anyhow::{bail, Result};

use crate::answer::{self, Failure};
use crate::api::{Api, Method};
use crate::config::{Config, Target};
use crate::exit::Code;
use crate::repo::Repo;
use crate::say;
use crate::token::{self, Token};

/// What a check of the token against one repository found.
enum Sight {
    /// GitHub answered 200: the token can see it.
    Sees,
    /// GitHub answered 404: the token's repository selection (or owner) leaves it out.
    Hidden,
    /// Anything else (a network error, a 403, a 5xx): not known, and not acceptance.
    Unknown(String),
}

/// `login [--host H] [--owner O]`: reads a token, checks it against the API, stores it 0600.
pub fn run(host: Option<&str>, owner: Option<&str>) -> Result<Code> {
    let repo = Repo::discover().ok();
    let config = repo.as_ref().map(Config::load).transpose()?;
    let settings = config.as_ref().map(|c| &c.settings);
    let (api, configured) = Api::for_host(Api::configured(settings)?, host)?;
    let raw = token::read_from_stdin()?;
    let token = Token::new(&raw, "standard input")?;
    let key = token::key(api.host(), owner);

    // The targets it will serve: those on this API (of `owner`), each repository once.
    let targets: Vec<&Target> = config
        .as_ref()
        .filter(|_| configured)
        .map(|c| c.targets.iter().filter(|t| t.on_github()).collect())
        .unwrap_or_default();
    let owners: std::collections::BTreeSet<String> = targets
        .iter()
        .map(|t| t.owner().to_ascii_lowercase())
        .collect();
    // As `token::find` chooses: a host-wide token does not serve an owner with its own.
    let own_token = |o: &str| {
        owner.is_none() && matches!(token::stored(&token::key(api.host(), Some(o))), Ok(Some(_)))
    };
    let mut repositories: Vec<&str> = Vec::new();
    for t in &targets {
        let r = t.repository.value.as_str();
        let serves = match owner {
            Some(o) => t.owner().eq_ignore_ascii_case(o),
            None => !own_token(t.owner()),
        };
        if serves && !repositories.contains(&r) {
            repositories.push(r);
        }
    }
    if repositories.is_empty() {
        // Nothing to serve yet: GitHub accepting the token is all there is to check.
        let why = match check(&api, &token, "/user", "the token") {
            Ok(Sight::Sees) => return store(&key, &token, &[]),
            Ok(Sight::Hidden) => "404; check dispatch.apiUrl".to_string(),
            Ok(Sight::Unknown(why)) => why,
            Err(failure) => failure.reason().to_string(),
        };
        bail!("token not stored: checking it with GET /user failed: {why}");
    }

    let mut seen = Vec::new();
    let mut hidden = Vec::new();
    let mut unknown = Vec::new();
    for repository in &repositories {
        match check(&api, &token, &format!("/repos/{repository}"), repository) {
            Ok(Sight::Sees) => seen.push(*repository),
            Ok(Sight::Hidden) => hidden.push(*repository),
            Ok(Sight::Unknown(why)) => unknown.push((*repository, why)),
            // 401: GitHub does not accept the token at all.
            Err(failure) => bail!(
                "token not stored: checking it with GET /repos/{repository} failed: {}",
                failure.reason()
            ),
        }
    }
    // A name GitHub shows this token nothing for may be a typo of one it does see.
    let visible = if hidden.is_empty() {
        Vec::new()
    } else {
        visible_repositories(&api, &token)
    };
    let fix = |repository: &str| {
        let mut text = cannot_see(repository, &seen, owner.is_none() && owners.len() > 1);
        if let Some(near) = nearest(repository, &visible) {
            text.push_str(&format!("; did you mean {near}?"));
        }
        text
    };
    if seen.is_empty() {
        for repository in &hidden {
            say::line(&fix(repository));
        }
        for (repository, why) in &unknown {
            say::line(&format!(
                "{repository}: could not check the token against it: {why}"
            ));
        }
        bail!("token not stored: it can see none of the repositories it would serve");
    }

    // A token that serves a target the new one cannot see is not replaced in silence.
    let missing: Vec<&str> = hidden
        .iter()
        .copied()
        .chain(unknown.iter().map(|(r, _)| *r))
        .collect();
    // Each such repository is served today by `host/owner`'s token, else `host`'s: if
    // that token sees it (or GitHub cannot say), this one must not take its place.
    for repository in &missing {
        let its_owner = repository.split('/').next().unwrap_or_default();
        let current = [
            token::key(api.host(), Some(its_owner)),
            token::key(api.host(), None),
        ]
        .into_iter()
        .find_map(|k| token::stored(&k).ok().flatten().map(|t| (k, t)));
        let Some((current_key, current)) = current else {
            continue;
        };
        // The key this login writes is the one that would replace it.
        if current_key != key && !(owner.is_some() && current_key == token::key(api.host(), None)) {
            continue;
        }
        let path = format!("/repos/{repository}");
        // A revoked token (401) or one that cannot see it either serves nothing there.
        if matches!(
            check(&api, &current, &path, repository),
            Ok(Sight::Sees | Sight::Unknown(_))
        ) {
            bail!(
                "token not stored: the token stored for {current_key} serves {repository}, which \
                 this one cannot see; give this one access to it too, or store it for one owner \
                 with `git dispatch login --owner OWNER`"
            );
        }
    }
    for repository in &hidden {
        say::line(&fix(repository));
    }
    for (repository, why) in &unknown {
        say::line(&format!(
            "{repository}: could not check the token against it: {why}"
        ));
    }
    store(&key, &token, &seen)?;
    if settings.is_none_or(|s| s.follow.value) {
        for repository in &seen {
            check_actions(&api, &token, repository);
        }
    }
    Ok(Code::report_if(!missing.is_empty()))
}

/// What to do about a repository the token cannot see. A fine-grained token belongs to one
/// owner: when it sees none of that owner's repositories, it is most likely another owner's.
fn cannot_see(repository: &str, seen: &[&str], several_owners: bool) -> String {
    let its_owner = repository.split('/').next().unwrap_or_default();
    let owner_seen = seen.iter().any(|s| {
        s.split('/')
            .next()
            .is_some_and(|o| o.eq_ignore_ascii_case(its_owner))
    });
    if several_owners && !owner_seen {
        format!(
            "{repository}: this token cannot see it; a fine-grained token belongs to one owner: \
             give {its_owner} its own with `git dispatch login --owner {its_owner}`"
        )
    } else {
        // GitHub says 404 alike for a name that does not exist and one the token may not
        // see: the name first, since a typo is the likelier and cheaper fix.
        format!(
            "{repository}: GitHub shows this token no such repository; check the name \
             (`git dispatch list`), or add it to the token's repository access (with \
             Contents: read and write)"
        )
    }
}

/// The repositories the token can see (`GET /user/repos`, the first 100), as
/// `owner/name`; none when GitHub does not say.
fn visible_repositories(api: &Api, token: &Token) -> Vec<String> {
    let answer = api.send(
        Method::Get,
        &api.url("/user/repos?per_page=100"),
        None,
        token,
    );
    let Some(answer) = answer.ok().filter(|a| a.status == 200) else {
        return Vec::new();
    };
    serde_json::from_str::<serde_json::Value>(&answer.body)
        .ok()
        .and_then(|v| v.as_array().cloned())
        .unwrap_or_default()
        .iter()
        .filter_map(|r| r.get("full_name")?.as_str())
        .filter(|name| crate::config::validate_repository(name).is_ok())
        .map(str::to_string)
        .collect()
}

/// The one of `visible` that `typed` most likely meant: two edits away at most, case
/// aside; none when two are equally near.
fn nearest<'a>(typed: &str, visible: &'a [String]) -> Option<&'a str> {
    let typed = typed.to_ascii_lowercase();
    let mut best: Vec<(usize, &str)> = visible
        .iter()
        .map(|v| (edits(&typed, &v.to_ascii_lowercase()), v.as_str()))
        .filter(|(d, _)| *d <= 2)
        .collect();
    best.sort();
    match best.as_slice() {
        [(d, name), rest @ ..] if rest.first().is_none_or(|(e, _)| e > d) => Some(name),
        _ => None,
    }
}

/// The Levenshtein distance: insertions, deletions and substitutions from `a` to `b`.
fn edits(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let above = row[j + 1];
            row[j + 1] = (above + 1)
                .min(row[j] + 1)
                .min(diagonal + usize::from(ca != *cb));
            diagonal = above;
        }
    }
    row[b.len()]
}

/// Stores the token and says where; `seen`: the repositories it was checked against.
fn store(key: &str, token: &Token, seen: &[&str]) -> Result<Code> {
    let path = token::store(key, token)?;
    let against = if seen.is_empty() {
        String::new()
    } else {
        format!(" (it can see {})", seen.join(", "))
    };
    say::line(&format!(
        "token for {key} checked and stored in {} (mode 0600){against}",
        path.display()
    ));
    Ok(Code::Ok)
}

/// Says when the token cannot read `repository`'s Actions runs: the dispatch works without
/// it, but no build can be followed.
fn check_actions(api: &Api, token: &Token, repository: &str) {
    let path = format!("/repos/{repository}/actions/runs?per_page=1");
    let answer = api.send(Method::Get, &api.url(&path), None, token);
    match answer.as_ref().map(|a| a.status) {
        Ok(200) => {}
        Ok(status @ (403 | 404)) => say::line(&format!(
            "{repository}: this token cannot read its Actions runs ({status}), so builds are \
             not followed; give it Actions: Read-only, then `git dispatch login` again (or \
             `git config dispatch.follow false`)"
        )),
        // Not known: doctor checks it again.
        _ => {}
    }
}

/// `GET path` with `token`: whether it sees `what`; `Err` when GitHub refuses the token
/// itself (401).
fn check(api: &Api, token: &Token, path: &str, what: &str) -> Result<Sight, Failure> {
    let answer = api.send(Method::Get, &api.url(path), None, token);
    let status = answer.as_ref().ok().map(|a| a.status);
    match (status, answer::judge(&answer, what)) {
        (Some(200), _) => Ok(Sight::Sees),
        (Some(404), _) => Ok(Sight::Hidden),
        (Some(401), Err(failure)) => Err(failure),
        (_, Err(failure)) => Ok(Sight::Unknown(failure.reason().to_string())),
        (_, Ok(())) => Ok(Sight::Unknown("an unexpected answer".into())),
    }
}

/// `login --netlify`: reads a Netlify personal access token, checks that Netlify accepts it
/// (`GET /api/v1/user`) and that it sees each `netlify` target's site, and stores it 0600.
/// A site it cannot see is named with the fix, and the exit is 1.
pub fn netlify() -> Result<Code> {
    let config = Repo::discover()
        .ok()
        .as_ref()
        .map(Config::load)
        .transpose()?;
    let timeout = config
        .as_ref()
        .map_or(crate::config::DEFAULT_TIMEOUT, |c| c.settings.timeout.value);
    let api = crate::netlify::api(timeout)?;
    let raw = token::read_from_stdin()?;
    let token = Token::new(&raw, "standard input")?;
    let answer = crate::netlify::get_user(&api, &token);
    match answer.as_ref().map(|a| a.status) {
        Ok(200) => {}
        Ok(401) => bail!(
            "token not stored: Netlify refused it (401); make a personal access token at {}",
            crate::netlify::TOKEN_PAGE
        ),
        Ok(status) => {
            bail!("token not stored: checking it with GET /api/v1/user answered {status}")
        }
        Err(err) => bail!("token not stored: checking it with GET /api/v1/user failed: {err}"),
    }
    let sites: Vec<&str> = config
        .as_ref()
        .map(|c| {
            c.targets
                .iter()
                .filter_map(|t| t.netlify.as_deref())
                .collect()
        })
        .unwrap_or_default();
    let mut hidden = Vec::new();
    for site in &sites {
        let answer = crate::netlify::get_site(&api, site, &token);
        if let Err(failure) = crate::netlify::judge(&answer, site) {
            hidden.push(failure.reason().to_string());
        }
    }
    if !sites.is_empty() && hidden.len() == sites.len() {
        // It would serve nothing here: a stored token that does is not replaced.
        bail!("token not stored: {}", hidden.join("; "));
    }
    let path = token::store(&crate::netlify::token_key(&api), &token)?;
    say::line(&format!(
        "Netlify token for {} checked and stored in {} (mode 0600)",
        api.host(),
        path.display()
    ));
    for why in &hidden {
        say::line(why);
    }
    Ok(if hidden.is_empty() {
        Code::Ok
    } else {
        Code::Report
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_typo_two_edits_away_names_the_repository_meant() {
        let visible = vec!["you/site".to_string(), "you/notes".to_string()];
        assert_eq!(nearest("you/stie", &visible), Some("you/site"));
        assert_eq!(nearest("You/Site", &visible), Some("you/site"));
        assert_eq!(nearest("you/sitexyz", &visible), None);
        assert_eq!(nearest("other/blog", &visible), None);
        // Equally near: no guess.
        let twins = vec!["you/ab".to_string(), "you/ac".to_string()];
        assert_eq!(nearest("you/aa", &twins), None);
        assert_eq!(edits("kitten", "sitting"), 3);
        assert_eq!(edits("", "ab"), 2);
    }
}
