//! `git dispatch add <owner/repo> …`: writes `[dispatch "<name>"]` with `git config`.

use std::path::PathBuf;

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
    if let Some(event) = &args.event {
        config::validate_event(event)?;
    }
    if let Some(workflow) = &args.workflow {
        config::validate_workflow(workflow)?;
    }
    let new = NewTarget::check(&repo, &name, args)?;
    new.write(&repo, args, "repository", &repository)?;
    let file = new.file;
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
    let new = NewTarget::check(repo, &name, args)?;
    new.write(repo, args, "netlify", site)?;
    let file = new.file;
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
    let new = NewTarget::check(repo, name, args)?;
    // Read only once the name is known to be free: a secret is never asked for in vain.
    let raw = crate::token::read_secret(&format!("the {name} hook URL"))?;
    let hook = crate::deploy_hook::store(&raw)?;
    new.write(repo, args, "hook", &hook.to_config())?;
    let file = new.file;
    say::line(&format!(
        "added target {name} -> {} in {}; its URL is stored as a secret, as a token is",
        hook.shown(),
        file.display()
    ));
    Ok(Code::Ok)
}

/// A target about to be written: its name checked free, the file it goes to.
struct NewTarget {
    /// `.git/config`, or `.gitdispatch` with `--shared`.
    file: PathBuf,
    /// The target's name.
    name: String,
    /// Whether `.gitdispatch` was trusted before our edit.
    was_trusted: bool,
}

impl NewTarget {
    /// Checks `name` and the branches, and that no target has the name yet.
    fn check(repo: &Repo, name: &str, args: &AddArgs) -> Result<NewTarget> {
        config::validate_name(name)?;
        for branch in &args.branches {
            config::validate_branch(branch).context("--branch")?;
        }
        let file = super::config_file(repo, args.shared)?;
        // Our own edit keeps a trusted file trusted; it never vouches for someone else's.
        let was_trusted = shared::is_trusted(repo)?;
        let existing = Config::load(repo)?;
        if existing.target(name).is_some() || config::has_target(&file, name)? {
            let another = if args.hook.is_some() {
                "choose another name"
            } else {
                "choose another with --name"
            };
            bail!(
                "a target named {name:?} exists already; {another}, or `git dispatch remove \
                 {name}` first"
            );
        }
        Ok(NewTarget {
            file,
            name: name.to_string(),
            was_trusted,
        })
    }

    /// Writes the target: `kind` (`repository`, `netlify`, `hook`) = `value`, then the keys
    /// given on the command line (clap lets a hook or a Netlify site take no GitHub key).
    fn write(&self, repo: &Repo, args: &AddArgs, kind: &str, value: &str) -> Result<()> {
        let key = |k: &str| format!("dispatch.{}.{k}", self.name);
        let file = &self.file;
        config::write(file, &[&key(kind), value])?;
        if let Some(remote) = &args.remote {
            config::write(file, &[&key("remote"), remote])?;
        }
        for branch in &args.branches {
            config::write(file, &["--add", &key("branch"), branch])?;
        }
        if let Some(event) = &args.event {
            config::write(file, &[&key("event"), event])?;
        }
        if let Some(workflow) = &args.workflow {
            config::write(file, &[&key("workflow"), workflow])?;
        }
        for pattern in &args.paths {
            config::write(file, &["--add", &key("paths"), pattern])?;
        }
        if args.shared && self.was_trusted {
            shared::trust(repo)?;
        }
        Ok(())
    }
}
