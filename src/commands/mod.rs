//! The user's commands, one module each; `run` picks the one the command line names.
//! The logic they share lives with its noun (config, shared, token, api, delivery, …).

mod add;
mod doctor;
mod drop;
mod install;
mod list;
mod login;
mod logout;
mod remove;
mod retry;
mod send;
mod status;
mod trust;
mod uninstall;
mod watch;

use std::path::PathBuf;

use anyhow::{Context, Result};

use crate::cli::Command;
use crate::exit::Code;
use crate::repo::Repo;
use crate::shared::SHARED_FILE;

/// Runs one command; `Err` is a usage or internal error (exit 2).
pub fn run(command: Command) -> Result<Code> {
    match command {
        Command::Install { force } => install::run(force),
        Command::Uninstall => uninstall::run(),
        Command::Add(args) => add::run(&args),
        Command::Remove { name } => remove::run(&name),
        Command::List => list::run(),
        Command::Login { netlify: true, .. } => login::netlify(),
        Command::Login { host, owner, .. } => login::run(host.as_deref(), owner.as_deref()),
        Command::Logout { netlify: true, .. } => logout::netlify(),
        Command::Logout { host, owner, .. } => logout::run(host.as_deref(), owner.as_deref()),
        Command::Send { names, dry_run } => send::run(&names, dry_run),
        Command::Status { json, refresh } => status::run(json, refresh),
        Command::Watch { names } => watch::run(&names),
        Command::Retry => retry::run(),
        Command::Drop { id } => drop::run(&id),
        Command::Doctor => doctor::run(),
        Command::Trust => trust::run(),
    }
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
