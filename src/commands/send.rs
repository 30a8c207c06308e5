//! `git dispatch send [<name>…] [--dry-run]`: dispatch now, for what the remote's branch holds.

use std::io::Write;

use anyhow::{Context, Result};

use crate::api::{self, Api, Method};
use crate::config::Config;
use crate::delivery;
use crate::exit::Code;
use crate::hook;
use crate::payload::PushFacts;
use crate::proxy::{self, Route};
use crate::redact;
use crate::repo::Repo;
use crate::say;
use crate::store::Store;

/// `send [<name>…] [--dry-run]`: dispatch now for what the remote's branch holds.
pub fn run(names: &[String], dry_run: bool) -> Result<Code> {
    let repo = Repo::discover()?;
    let config = Config::load(&repo)?;
    for warning in &config.warnings {
        say::line(warning);
    }
    let targets = config.select(names)?;
    // A GitHub target needs a valid API URL (said before anything is sent); deploy hooks
    // do not.
    let api = || {
        Api::new(
            &config.settings.api_url.value,
            config.settings.timeout.value,
        )
    };
    if targets.iter().any(|t| t.on_github()) {
        api()?;
    }
    let store = Store::new(repo.common_dir());
    let mut entries = Vec::new();
    for target in targets {
        let branch = &target.branches.value[0];
        let remote_ref = format!("refs/heads/{branch}");
        let remote = &target.remote.value;
        let tracking = repo
            .tracking_ref_name(remote, &remote_ref)
            .with_context(|| {
                format!(
                    "remote {remote:?} has no fetch refspec for {branch}; check `git remote -v`"
                )
            })?;
        let here = repo.ref_sha(&tracking)?.with_context(|| {
            format!("{tracking} does not exist; run `git fetch {remote}` (or push {branch}) first")
        })?;
        let sha = remote_head(&repo, remote, &remote_ref, &tracking, here);
        let url = repo.remote_url(remote).unwrap_or_default();
        let facts = PushFacts {
            remote_ref: &remote_ref,
            sha: &sha,
            before: "0000000000000000000000000000000000000000",
            repository: &crate::redact::repository_name(&url),
            paths: None,
        };
        let follow = config.settings.follow.value;
        entries.push(hook::entry_for(&repo, target, remote, &facts, 0, follow)?);
    }
    if dry_run {
        for entry in &entries {
            let (text, url) = match (&entry.hook, &entry.netlify) {
                (Some(hook), _) => crate::deploy_hook::render(hook, &entry.body)?,
                (None, Some(site)) => {
                    let netlify = crate::netlify::api(config.settings.timeout.value)?;
                    let (url, shown) = crate::netlify::build_request(&netlify, site, &entry.body);
                    (shown, url)
                }
                (None, None) => {
                    let (url, body) = delivery::preview(&store, &api()?, entry);
                    (api::render(Method::Post, &url, Some(&body)), url)
                }
            };
            writeln!(std::io::stdout(), "{text}").context("writing the request")?;
            // Where it would go, since a proxy setting is easy to get wrong and invisible.
            say::line(&match proxy::route(&url) {
                Route::Proxy(proxy, var) => {
                    format!(
                        "would go through the proxy {} (${var})",
                        redact::url(&proxy)
                    )
                }
                Route::Direct(why) => format!("would go straight to the API: {why}"),
            });
        }
        return Ok(Code::Ok);
    }
    let outcomes = delivery::send_unrecorded(&store, &config.settings, entries);
    let mut failed = false;
    for outcome in &outcomes {
        failed |= outcome.verdict.is_err();
        say::line(&delivery::describe(outcome, false));
    }
    // What was delivered is followed in the background.
    crate::follow::resume(&store, &config.settings);
    Ok(Code::report_if(failed))
}

/// What the remote's branch holds, asked of the remote (another clone may have pushed since
/// the last fetch, as the hook asks for a push by URL); said when it is not what
/// `tracking` holds here, and `here` when the remote cannot be asked.
fn remote_head(
    repo: &Repo,
    remote: &str,
    remote_ref: &str,
    tracking: &str,
    here: String,
) -> String {
    let short = |s: &str| s.get(..7).unwrap_or(s).to_string();
    match crate::waiter::ls_remote(repo, remote, remote_ref) {
        Ok(Some(there)) if there == here => here,
        Ok(Some(there)) => {
            say::line(&format!(
                "{tracking} is {} here but {} on {remote} (pushed from elsewhere since your \
                 last fetch): sending {}, the remote's; `git fetch {remote}` brings it here",
                short(&here),
                short(&there),
                short(&there)
            ));
            there
        }
        Ok(None) => {
            say::line(&format!(
                "{remote} has no {remote_ref} now (deleted since your last fetch?); sending {}, \
                 what {tracking} holds",
                short(&here)
            ));
            here
        }
        Err(err) => {
            say::line(&format!(
                "could not ask {remote} what its branch holds ({}); sending {}, what {tracking} \
                 holds, which is behind if another clone pushed: `git fetch {remote}` first",
                say::one_line(&format!("{err:#}")),
                short(&here)
            ));
            here
        }
    }
}
