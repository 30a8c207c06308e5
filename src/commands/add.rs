//! `git dispatch add <owner/repo> …`: writes `[dispatch "<name>"]` with `git config`.

use anyhow::{bail, Context, Result};

use crate::cli::AddArgs;
use crate::config::{self, Config};
use crate::exit::Code;
use crate::repo::Repo;
use crate::{say, shared};

/// `add <owner/repo> …`: writes `[dispatch "<name>"]` with `git config`.
pub fn run(args: &AddArgs) -> Result<Code> {
    let repo = Repo::discover()?;
    let repository = match (&args.repository, &args.hook, &args.netlify) {
        (Some(repository), _, _) => repository.clone(),
        (None, Some(name), _) => return add_hook(&repo, name, args),
        (None, None, Some(site)) => return add_netlify(&repo, site, args),
        (None, None, None) => bail!("give owner/repo, --hook NAME or --netlify SITE_ID"),
    };
    config::validate_repository(&repository)?;
    let name = match &args.name {
        Some(name) => name.clone(),
        None => repository.split('/').nth(1).unwrap_or_default().to_string(),
    };
    config::validate_name(&name)?;
    if let Some(event) = &args.event {
        config::validate_event(event)?;
    }
    if let Some(workflow) = &args.workflow {
        config::validate_workflow(workflow)?;
    }
    for branch in &args.branches {
        config::validate_branch(branch).context("--branch")?;
    }
    let file = super::config_file(&repo, args.shared)?;
    // Our own edit keeps a trusted file trusted; it never vouches for someone else's.
    let was_trusted = shared::is_trusted(&repo)?;
    let existing = Config::load(&repo)?;
    if existing.target(&name).is_some() || config::has_target(&file, &name)? {
        bail!("a target named {name:?} exists already; choose another with --name, or `git dispatch remove {name}` first");
    }
    let key = |k: &str| format!("dispatch.{name}.{k}");
    config::write(&file, &[&key("repository"), &repository])?;
    if let Some(remote) = &args.remote {
        config::write(&file, &[&key("remote"), remote])?;
    }
    for branch in &args.branches {
        config::write(&file, &["--add", &key("branch"), branch])?;
    }
    if let Some(event) = &args.event {
        config::write(&file, &[&key("event"), event])?;
    }
    if let Some(workflow) = &args.workflow {
        config::write(&file, &[&key("workflow"), workflow])?;
    }
    for pattern in &args.paths {
        config::write(&file, &["--add", &key("paths"), pattern])?;
    }
    if args.shared && was_trusted {
        shared::trust(&repo)?;
    }
    say::line(&format!(
        "added target {name} -> {repository} in {}",
        file.display()
    ));
    Ok(Code::Ok)
}

/// `add --netlify SITE_ID [--name NAME]`: a Netlify site built through Netlify's API; the
/// target is named `netlify` unless named. Said at once when no Netlify token is stored.
fn add_netlify(repo: &Repo, site: &str, args: &AddArgs) -> Result<Code> {
    crate::netlify::validate_site(site)?;
    let name = args.name.clone().unwrap_or_else(|| "netlify".to_string());
    config::validate_name(&name)?;
    for branch in &args.branches {
        config::validate_branch(branch).context("--branch")?;
    }
    let file = super::config_file(repo, args.shared)?;
    let was_trusted = shared::is_trusted(repo)?;
    let existing = Config::load(repo)?;
    if existing.target(&name).is_some() || config::has_target(&file, &name)? {
        bail!("a target named {name:?} exists already; choose another with --name, or `git dispatch remove {name}` first");
    }
    let key = |k: &str| format!("dispatch.{name}.{k}");
    config::write(&file, &[&key("netlify"), site])?;
    if let Some(remote) = &args.remote {
        config::write(&file, &[&key("remote"), remote])?;
    }
    for branch in &args.branches {
        config::write(&file, &["--add", &key("branch"), branch])?;
    }
    for pattern in &args.paths {
        config::write(&file, &["--add", &key("paths"), pattern])?;
    }
    if args.shared && was_trusted {
        shared::trust(repo)?;
    }
    say::line(&format!(
        "added target {name} -> netlify site {site} in {}",
        file.display()
    ));
    let api = crate::netlify::api(crate::config::DEFAULT_TIMEOUT)?;
    if let Ok(None) = crate::token::stored(&crate::netlify::token_key(&api)) {
        say::line(&format!(
            "next: a Netlify personal access token, made at {}, for `git dispatch login \
             --netlify`",
            crate::netlify::TOKEN_PAGE
        ));
    }
    Ok(Code::Ok)
}

/// `add --hook NAME`: the URL from standard input, stored as a secret; `.git/config` gets
/// the target with its host and the secret's id, and the branches, remote and paths given.
fn add_hook(repo: &Repo, name: &str, args: &AddArgs) -> Result<Code> {
    config::validate_name(name)?;
    for branch in &args.branches {
        config::validate_branch(branch).context("--branch")?;
    }
    let file = super::config_file(repo, false)?;
    let existing = Config::load(repo)?;
    if existing.target(name).is_some() || config::has_target(&file, name)? {
        bail!("a target named {name:?} exists already; `git dispatch remove {name}` first, or choose another name");
    }
    let raw = crate::token::read_secret(&format!("the {name} hook URL"))?;
    let hook = crate::deploy_hook::store(&raw)?;
    let key = |k: &str| format!("dispatch.{name}.{k}");
    config::write(&file, &[&key("hook"), &hook.to_config()])?;
    if let Some(remote) = &args.remote {
        config::write(&file, &[&key("remote"), remote])?;
    }
    for branch in &args.branches {
        config::write(&file, &["--add", &key("branch"), branch])?;
    }
    for pattern in &args.paths {
        config::write(&file, &["--add", &key("paths"), pattern])?;
    }
    say::line(&format!(
        "added target {name} -> {} in {}; its URL is stored as a secret, as a token is",
        hook.shown(),
        file.display()
    ));
    Ok(Code::Ok)
}
