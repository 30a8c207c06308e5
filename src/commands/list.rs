//! `git dispatch list`: targets and settings, each value with where it came from.

use std::io::Write;

use anyhow::{Context, Result};

use crate::config::{self, Config};
use crate::exit::Code;
use crate::repo::Repo;
use crate::say;

/// `list`: targets and settings, each value with where it came from.
pub fn run() -> Result<Code> {
    let repo = Repo::discover()?;
    let config = Config::load(&repo)?;
    let mut out = String::new();
    if config.targets.is_empty() {
        out.push_str("no targets; add one with `git dispatch add owner/site`\n");
    }
    for t in &config.targets {
        let shown = t
            .hook
            .as_ref()
            .map_or_else(|| t.repository.value.clone(), |h| h.shown());
        out.push_str(&format!("target {} -> {shown}\n", t.name));
        match (&t.hook, &t.netlify) {
            // Its host and the id its secret URL is stored under; no GitHub keys.
            (Some(h), _) => out.push_str(&format!("  {:<11} {}\n", "hook", h.to_config())),
            (None, Some(site)) => out.push_str(&format!("  {:<11} {site}\n", "netlify")),
            (None, None) => out.push_str(&format!(
                "  {:<11} {:<30} ({})\n",
                "repository", t.repository.value, t.repository.origin
            )),
        }
        let mut row = |key: &str, value: String, origin: &config::Origin| {
            out.push_str(&format!("  {key:<11} {value:<30} ({origin})\n"));
        };
        row("remote", t.remote.value.clone(), &t.remote.origin);
        row("branch", t.branches.value.join(", "), &t.branches.origin);
        if t.on_github() {
            row("event", t.event.value.clone(), &t.event.origin);
        }
        if let Some(w) = &t.workflow {
            row("workflow", w.value.clone(), &w.origin);
        }
        if let Some(r) = &t.workflow_ref {
            row("ref", r.value.clone(), &r.origin);
        }
        if let Some(u) = &t.url {
            row("url", u.value.clone(), &u.origin);
        }
        if !t.paths.value.is_empty() {
            row("paths", t.paths.value.join(", "), &t.paths.origin);
        }
        if !t.payload.value.is_empty() {
            row(
                "payload",
                serde_json::Value::Object(t.payload.value.clone()).to_string(),
                &t.payload.origin,
            );
        }
    }
    let s = &config.settings;
    out.push_str("settings\n");
    let mut row = |key: &str, value: String, origin: &config::Origin| {
        out.push_str(&format!("  {key:<13} {value:<28} ({origin})\n"));
    };
    row("when", s.when.value.to_string(), &s.when.origin);
    row("strict", s.strict.value.to_string(), &s.strict.origin);
    row("apiUrl", s.api_url.value.clone(), &s.api_url.origin);
    row("timeout", s.timeout.value.to_string(), &s.timeout.origin);
    row("follow", s.follow.value.to_string(), &s.follow.origin);
    row(
        "followFor",
        s.follow_for.value.to_string(),
        &s.follow_for.origin,
    );
    let notify = s.notify.value.clone().unwrap_or_else(|| "(none)".into());
    row("notify", notify, &s.notify.origin);
    let notify_command = s
        .notify_command
        .value
        .clone()
        .unwrap_or_else(|| "(none)".into());
    row("notifyCommand", notify_command, &s.notify_command.origin);
    let command = s
        .token_command
        .value
        .clone()
        .unwrap_or_else(|| "(none)".into());
    row("tokenCommand", command, &s.token_command.origin);
    std::io::stdout()
        .write_all(out.as_bytes())
        .context("writing the configuration")?;
    for warning in &config.warnings {
        say::line(warning);
    }
    Ok(Code::report_if(!config.warnings.is_empty()))
}
