//! `doctor`: one line per check, with the fix for each failure.

use anyhow::Result;

use crate::config::Config;
use crate::exit::Code;
use crate::github::{self, Api, Method, Verdict};
use crate::install;
use crate::repo::Repo;
use crate::token;

/// Runs the checks; exit 1 when any fails.
pub fn run() -> Result<Code> {
    let repo = Repo::discover()?;
    let mut problems = 0;
    let mut check = |ok: bool, line: String| {
        println!("{} {line}", if ok { "ok  " } else { "FAIL" });
        if !ok {
            problems += 1;
        }
    };

    let hook = repo.hooks_dir()?.join(install::HOOK);
    let exe = std::env::current_exe().and_then(std::fs::canonicalize)?;
    match std::fs::read(&hook) {
        Ok(text) if text == install::hook_text(&exe).as_bytes() => check(
            true,
            format!("hook installed and current: {}", hook.display()),
        ),
        Ok(text) if install::is_ours(&text) => check(
            false,
            format!(
                "hook {} is from another install; run `git dispatch install`",
                hook.display()
            ),
        ),
        Ok(_) => check(
            false,
            format!(
                "{} is not git-dispatch's; run `git dispatch install` (it keeps the old one)",
                hook.display()
            ),
        ),
        Err(_) => check(
            false,
            format!("no hook at {}; run `git dispatch install`", hook.display()),
        ),
    }

    let config = Config::load(&repo)?;
    for warning in &config.warnings {
        check(false, warning.clone());
    }
    if config.targets.is_empty() {
        check(
            false,
            "no targets; add one with `git dispatch add owner/site`".into(),
        );
    }
    let api = match Api::new(
        &config.settings.api_url.value,
        config.settings.timeout.value,
    ) {
        Ok(api) => api,
        Err(err) => {
            check(false, format!("dispatch.apiUrl: {err:#}"));
            return Ok(Code::Report);
        }
    };
    for target in &config.targets {
        let repository = &target.repository.value;
        let token = match token::find(&config.settings, api.host(), target.owner()) {
            Ok(token) => {
                check(
                    true,
                    format!("{}: a token for {} was found", target.name, api.host()),
                );
                token
            }
            Err(err) => {
                check(false, format!("{}: {err:#}", target.name));
                continue;
            }
        };
        let answer = api.send(
            Method::Get,
            &api.url(&format!("/repos/{repository}")),
            None,
            &token,
        );
        match &answer {
            Ok(a) if a.status == 200 => check(
                true,
                format!("{}: the token can see {repository}", target.name),
            ),
            _ => {
                let reason = match github::judge(&answer, repository) {
                    Verdict::Refused { reason } | Verdict::Later { reason, .. } => reason,
                    Verdict::Delivered => "unexpected answer".into(),
                };
                check(
                    false,
                    format!("{}: GET /repos/{repository}: {reason}", target.name),
                );
            }
        }
    }
    Ok(Code::report_if(problems > 0))
}
