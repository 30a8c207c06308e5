//! `git dispatch login [--host H] [--owner O]`: store a token GitHub accepts.

use anyhow::{bail, Result};

use crate::answer;
use crate::api::{Api, Method};
use crate::config::{Config, Target};
use crate::exit::Code;
use crate::repo::Repo;
use crate::say;
use crate::token::{self, Token};

/// `login [--host H] [--owner O]`: reads a token, checks it against the API, stores it 0600.
pub fn run(host: Option<&str>, owner: Option<&str>) -> Result<Code> {
    let repo = Repo::discover().ok();
    let config = repo.as_ref().map(Config::load).transpose()?;
    let settings = config.as_ref().map(|c| &c.settings);
    let (api, configured) = Api::for_host(Api::configured(settings)?, host)?;
    let raw = token::read_from_stdin()?;
    let token = Token::new(&raw, "standard input")?;
    // Check the token against the targets it will serve: those on this API (of `owner`).
    let targets: Vec<&Target> = config
        .as_ref()
        .filter(|_| configured)
        .map(|c| c.targets.iter().collect())
        .unwrap_or_default();
    let mut checks: Vec<String> = targets
        .iter()
        .filter(|t| owner.is_none_or(|o| t.owner().eq_ignore_ascii_case(o)))
        .map(|t| format!("/repos/{}", t.repository.value))
        .collect();
    checks.dedup();
    if checks.is_empty() {
        checks.push("/user".to_string());
    }
    let owners: std::collections::BTreeSet<String> = targets
        .iter()
        .map(|t| t.owner().to_ascii_lowercase())
        .collect();
    for path in &checks {
        let answer = api.send(Method::Get, &api.url(path), None, &token);
        if matches!(&answer, Ok(a) if a.status == 200) {
            continue;
        }
        let what = path.trim_start_matches("/repos/");
        let why = match answer::judge(&answer, what) {
            Err(failure) => failure.reason().to_string(),
            Ok(()) => "unexpected answer".into(),
        };
        let hint = if owner.is_none() && owners.len() > 1 {
            "; a fine-grained token belongs to one owner: give each its own with `git dispatch login --owner OWNER`"
        } else {
            ""
        };
        bail!("token not stored: checking it with GET {path} failed: {why}{hint}");
    }
    let key = token::key(api.host(), owner);
    let path = token::store(&key, &token)?;
    say::line(&format!(
        "token for {key} checked and stored in {} (mode 0600)",
        path.display()
    ));
    Ok(Code::Ok)
}
