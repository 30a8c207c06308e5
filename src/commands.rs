//! The user's commands: thin glue between the command line and the modules that do the work.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use anyhow::{bail, Context, Result};

use crate::cli::AddArgs;
use crate::config::{self, Config, Target, SHARED_FILE};
use crate::delivery::{self, Mode};
use crate::exit::Code;
use crate::github::{self, Api, Method, PushFacts, Verdict};
use crate::hook;
use crate::install;
use crate::repo::Repo;
use crate::say;
use crate::store::Store;
use crate::token::{self, Token};
use crate::waiter;

/// `install [--force]`.
pub fn install(force: bool) -> Result<Code> {
    let repo = Repo::discover()?;
    for line in install::install(&repo, force)? {
        say::line(&line);
    }
    // What is committed when the user installs is what they chose to install with.
    if let Some(path) = trust_shared(&repo)? {
        say::line(&format!("trusted {} as it is now", path.display()));
    }
    let config = Config::load(&repo)?;
    if config.targets.is_empty() {
        say::line("next: `git dispatch add owner/site`, then `git dispatch login` with a fine-grained token");
    }
    Ok(Code::Ok)
}

/// `trust`: accept the current `.gitdispatch`.
pub fn trust() -> Result<Code> {
    let repo = Repo::discover()?;
    match trust_shared(&repo)? {
        Some(path) => say::line(&format!(
            "trusted {}; its targets are used until it changes",
            path.display()
        )),
        None => say::line(&format!(
            "no {SHARED_FILE} in this work tree; nothing to trust"
        )),
    }
    Ok(Code::Ok)
}

/// Records the current `.gitdispatch` as trusted in the clone's config.
fn trust_shared(repo: &Repo) -> Result<Option<PathBuf>> {
    let Some((path, id)) = config::shared_file(repo)? else {
        return Ok(None);
    };
    git_config(&repo.local_config_path(), &[config::TRUST_KEY, &id])?;
    Ok(Some(path))
}

/// `uninstall`.
pub fn uninstall() -> Result<Code> {
    let repo = Repo::discover()?;
    for line in install::uninstall(&repo)? {
        say::line(&line);
    }
    Ok(Code::Ok)
}

/// `add <owner/repo> …`: writes `[dispatch "<name>"]` with `git config`.
pub fn add(args: &AddArgs) -> Result<Code> {
    let repo = Repo::discover()?;
    config::validate_repository(&args.repository)?;
    let name = match &args.name {
        Some(name) => name.clone(),
        None => args
            .repository
            .split('/')
            .nth(1)
            .unwrap_or_default()
            .to_string(),
    };
    config::validate_name(&name)?;
    if let Some(event) = &args.event {
        config::validate_event(event)?;
    }
    if let Some(workflow) = &args.workflow {
        config::validate_workflow(workflow)?;
    }
    for branch in &args.branches {
        if branch.is_empty() || branch.starts_with("refs/") || branch.contains(' ') {
            bail!("--branch {branch:?} should be a branch name like main");
        }
    }
    let file = config_file(&repo, args.shared)?;
    // Our own edit keeps a trusted file trusted; it never vouches for someone else's.
    let was_trusted = config::shared_is_trusted(&repo)?;
    let existing = Config::load(&repo)?;
    if existing.target(&name).is_some() || has_section(&file, &name)? {
        bail!("a target named {name:?} exists already; choose another with --name, or `git dispatch remove {name}` first");
    }
    let key = |k: &str| format!("dispatch.{name}.{k}");
    git_config(&file, &[&key("repository"), &args.repository])?;
    if let Some(remote) = &args.remote {
        git_config(&file, &[&key("remote"), remote])?;
    }
    for branch in &args.branches {
        git_config(&file, &["--add", &key("branch"), branch])?;
    }
    if let Some(event) = &args.event {
        git_config(&file, &[&key("event"), event])?;
    }
    if let Some(workflow) = &args.workflow {
        git_config(&file, &[&key("workflow"), workflow])?;
    }
    for pattern in &args.paths {
        git_config(&file, &["--add", &key("paths"), pattern])?;
    }
    if args.shared && was_trusted {
        trust_shared(&repo)?;
    }
    say::line(&format!(
        "added target {name} -> {} in {}",
        args.repository,
        file.display()
    ));
    Ok(Code::Ok)
}

/// `remove <name>`.
pub fn remove(name: &str) -> Result<Code> {
    let repo = Repo::discover()?;
    let was_trusted = config::shared_is_trusted(&repo)?;
    let mut removed = false;
    for shared in [false, true] {
        let Ok(file) = config_file(&repo, shared) else {
            continue;
        };
        if file.exists() && has_section(&file, name)? {
            git_config(&file, &["--remove-section", &format!("dispatch.{name}")])?;
            say::line(&format!("removed target {name} from {}", file.display()));
            if shared && was_trusted {
                trust_shared(&repo)?;
            }
            removed = true;
        }
    }
    if !removed {
        bail!("no target named {name:?}; see `git dispatch list`");
    }
    Ok(Code::Ok)
}

/// `list`: targets and settings, each value with where it came from.
pub fn list() -> Result<Code> {
    let repo = Repo::discover()?;
    let config = Config::load(&repo)?;
    let mut out = String::new();
    if config.targets.is_empty() {
        out.push_str("no targets; add one with `git dispatch add owner/site`\n");
    }
    for t in &config.targets {
        out.push_str(&format!("target {} -> {}\n", t.name, t.repository.value));
        let mut row = |key: &str, value: String, origin: &config::Origin| {
            out.push_str(&format!("  {key:<11} {value:<30} ({origin})\n"));
        };
        row(
            "repository",
            t.repository.value.clone(),
            &t.repository.origin,
        );
        row("remote", t.remote.value.clone(), &t.remote.origin);
        row("branch", t.branches.value.join(", "), &t.branches.origin);
        row("event", t.event.value.clone(), &t.event.origin);
        if let Some(w) = &t.workflow {
            row("workflow", w.value.clone(), &w.origin);
        }
        if let Some(r) = &t.workflow_ref {
            row("ref", r.value.clone(), &r.origin);
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

/// `login [--host H] [--owner O]`: reads a token, checks it against the API, stores it 0600.
pub fn login(host: Option<&str>, owner: Option<&str>) -> Result<Code> {
    let repo = Repo::discover().ok();
    let config = repo.as_ref().map(Config::load).transpose()?;
    let (api, configured) = api_for_host(config.as_ref(), host)?;
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
        let why = match github::judge(&answer, what) {
            Verdict::Refused { reason } | Verdict::Later { reason, .. } => reason,
            Verdict::Delivered => "unexpected answer".into(),
        };
        let hint = if owner.is_none() && owners.len() > 1 {
            "; a fine-grained token belongs to one owner: give each its own with `git dispatch login --owner OWNER`"
        } else {
            ""
        };
        bail!("token not stored: checking it with GET {path} failed: {why}{hint}");
    }
    let key = credential_key(&api, owner);
    let path = token::store(&key, &token)?;
    say::line(&format!(
        "token for {key} checked and stored in {} (mode 0600)",
        path.display()
    ));
    Ok(Code::Ok)
}

/// `logout [--host H] [--owner O]`.
pub fn logout(host: Option<&str>, owner: Option<&str>) -> Result<Code> {
    let config = Repo::discover()
        .ok()
        .as_ref()
        .map(Config::load)
        .transpose()?;
    let (api, _) = api_for_host(config.as_ref(), host)?;
    let key = credential_key(&api, owner);
    if token::forget(&key)? {
        say::line(&format!("forgot the token for {key}"));
    } else {
        say::line(&format!("no stored token for {key}"));
    }
    Ok(Code::Ok)
}

/// `host`, or `host/owner` for a token that serves one owner only.
fn credential_key(api: &Api, owner: Option<&str>) -> String {
    match owner {
        Some(o) => format!("{}/{}", api.host(), o.to_ascii_lowercase()),
        None => api.host().to_string(),
    }
}

/// The API for `--host`, or the configured one; and whether it is the configured one.
fn api_for_host(config: Option<&Config>, host: Option<&str>) -> Result<(Api, bool)> {
    let (url, timeout) = match config {
        Some(c) => (c.settings.api_url.value.clone(), c.settings.timeout.value),
        None => (
            std::env::var(config::ENV_API_URL).unwrap_or_else(|_| config::DEFAULT_API_URL.into()),
            config::DEFAULT_TIMEOUT,
        ),
    };
    let configured = Api::new(&url, timeout)?;
    match host {
        None => Ok((configured, true)),
        Some(h) if h.eq_ignore_ascii_case(configured.host()) => Ok((configured, true)),
        // github.com and data residency (api.SUBDOMAIN.ghe.com) serve the API at the root.
        Some(h) if h.starts_with("api.") => {
            Ok((Api::new(&format!("https://{h}"), timeout)?, false))
        }
        // GitHub Enterprise Server serves its API below /api/v3.
        Some(h) => Ok((Api::new(&format!("https://{h}/api/v3"), timeout)?, false)),
    }
}

/// `send [<name>…] [--dry-run]`: dispatch now for what the remote's branch holds.
pub fn send(names: &[String], dry_run: bool) -> Result<Code> {
    let repo = Repo::discover()?;
    let config = Config::load(&repo)?;
    for warning in &config.warnings {
        say::line(warning);
    }
    let targets: Vec<&Target> = if names.is_empty() {
        config.targets.iter().collect()
    } else {
        names
            .iter()
            .map(|n| {
                config
                    .target(n)
                    .with_context(|| format!("no target named {n:?}; see `git dispatch list`"))
            })
            .collect::<Result<_>>()?
    };
    if targets.is_empty() {
        bail!("no targets; add one with `git dispatch add owner/site`");
    }
    let api = Api::new(
        &config.settings.api_url.value,
        config.settings.timeout.value,
    )?;
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
        let sha = repo.ref_sha(&tracking)?.with_context(|| {
            format!("{tracking} does not exist; run `git fetch {remote}` (or push {branch}) first")
        })?;
        let url = repo.remote_url(remote).unwrap_or_default();
        let facts = PushFacts {
            remote_ref: &remote_ref,
            sha: &sha,
            before: "0000000000000000000000000000000000000000",
            repository: &crate::redact::repository_name(&url),
            paths: None,
        };
        entries.push(hook::entry_for(target, remote, &facts, 0)?);
    }
    if dry_run {
        for entry in &entries {
            let (url, body) = delivery::preview(&store, &api, entry);
            let text = github::render(Method::Post, &url, Some(&body));
            writeln!(std::io::stdout(), "{text}").context("writing the request")?;
        }
        return Ok(Code::Ok);
    }
    let outcomes = delivery::send_unrecorded(&store, &config.settings, entries);
    let mut failed = false;
    for outcome in &outcomes {
        failed |= outcome.verdict != Verdict::Delivered;
        say::line(&delivery::describe(outcome, false));
    }
    Ok(Code::report_if(failed))
}

/// `retry`: confirm what can be, then send everything pending or failed, now.
pub fn retry() -> Result<Code> {
    let repo = Repo::discover()?;
    let config = Config::load(&repo)?;
    let store = Store::new(repo.common_dir());
    waiter::confirm_pending(&repo, &store, None)?;
    let entries = store.entries()?;
    if entries.is_empty() {
        say::line("nothing to retry");
        return Ok(Code::Ok);
    }
    let outcomes = delivery::deliver(&store, &config.settings, &entries, Mode::All);
    let mut problem = false;
    for outcome in &outcomes {
        problem |= outcome.verdict != Verdict::Delivered;
        say::line(&delivery::describe(outcome, true));
    }
    let waiting = store
        .entries()?
        .iter()
        .filter(|e| e.state == crate::store::State::AwaitingPush)
        .count();
    if waiting > 0 {
        say::line(&format!("{waiting} push(es) not confirmed yet (still running, or the remote could not be asked); see `git dispatch status`"));
        problem = true;
    }
    Ok(Code::report_if(problem))
}

/// `drop <id>`: forget one entry (a unique prefix of its id will do).
pub fn drop(id: &str) -> Result<Code> {
    let repo = Repo::discover()?;
    let store = Store::new(repo.common_dir());
    let entries = store.entries()?;
    let matching: Vec<_> = entries
        .iter()
        .filter(|e| !id.is_empty() && e.id.starts_with(id))
        .collect();
    let entry = match matching.as_slice() {
        [one] => *one,
        [] => bail!("no pending or failed entry {id:?}; see `git dispatch status`"),
        _ => bail!(
            "{id:?} matches {} entries; give more of the id",
            matching.len()
        ),
    };
    let _lock = store.lock_target(&entry.target)?;
    store.remove(&entry.id)?;
    store.log("dropped", Some(entry), "dropped by the user");
    say::line(&format!(
        "dropped {} ({} {} {})",
        entry.id,
        entry.repository,
        entry.branch(),
        entry.short_sha()
    ));
    Ok(Code::Ok)
}

/// The config file `add` and `remove` write: `.git/config`, or `.gitdispatch` with `--shared`.
fn config_file(repo: &Repo, shared: bool) -> Result<PathBuf> {
    if !shared {
        return Ok(repo.local_config_path());
    }
    let top = repo
        .workdir()
        .context("--shared needs a work tree (this repository is bare)")?;
    Ok(top.join(SHARED_FILE))
}

fn has_section(file: &Path, name: &str) -> Result<bool> {
    if !file.exists() {
        return Ok(false);
    }
    let parsed =
        gix::config::File::from_path_no_includes(file.to_path_buf(), gix::config::Source::Local)
            .with_context(|| format!("reading {}", file.display()))?;
    let found = parsed
        .sections_by_name("dispatch")
        .into_iter()
        .flatten()
        .any(|s| {
            s.header()
                .subsection_name()
                .is_some_and(|n| n == name.as_bytes())
        });
    Ok(found)
}

/// `git config --file <file> <args…>`: git writes config (locking, quoting) as it does for itself.
fn git_config(file: &Path, args: &[&str]) -> Result<()> {
    let mut command = Command::new("git");
    command.arg("config").arg("--file").arg(file).args(args);
    let output = crate::child::output_within(&mut command, Duration::from_secs(30), "git config")?;
    if !output.status.success() {
        bail!(
            "git config {} failed: {}",
            args.join(" "),
            crate::child::first_error_line(&output)
        );
    }
    Ok(())
}
