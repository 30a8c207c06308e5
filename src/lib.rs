//! git-dispatch: a git pre-push hook that sends GitHub's `repository_dispatch` once a push
//! to `main` has landed. `run` is the whole program behind the command line.

mod child;
pub mod cli;
mod commands;
mod config;
mod delivery;
mod doctor;
pub mod exit;
mod github;
mod hook;
mod install;
mod paths;
mod push;
pub mod redact;
mod repo;
mod say;
mod status;
mod store;
mod token;
mod trust;
mod waiter;
mod workflow;

use std::process::ExitCode;

use anyhow::Result;

use cli::{Cli, Command};

/// The installed hook: `git-dispatch hook pre-push <remote> <url>` from the shim, or the
/// binary run by git through a link (`invoked_as`, the link's path).
pub fn hook_pre_push(
    remote: &str,
    url: &str,
    invoked_as: Option<&std::path::Path>,
) -> Result<ExitCode> {
    hook::pre_push(remote, url, invoked_as)
}

/// Prints one `git-dispatch:` line on stderr (see `say`).
pub fn say_line(message: &str) {
    say::line(message);
}

/// Runs one command; `Err` is a usage or internal error (exit 2).
pub fn run(cli: Cli) -> Result<ExitCode> {
    let code = match cli.command {
        Command::Install { force } => commands::install(force)?,
        Command::Uninstall => commands::uninstall()?,
        Command::Add(args) => commands::add(&args)?,
        Command::Remove { name } => commands::remove(&name)?,
        Command::List => commands::list()?,
        Command::Login { host, owner } => commands::login(host.as_deref(), owner.as_deref())?,
        Command::Logout { host, owner } => commands::logout(host.as_deref(), owner.as_deref())?,
        Command::Send { names, dry_run } => commands::send(&names, dry_run)?,
        Command::Status { json } => status::show(json)?,
        Command::Retry => commands::retry()?,
        Command::Drop { id } => commands::drop(&id)?,
        Command::Doctor => doctor::run()?,
        Command::Trust => commands::trust()?,
    };
    Ok(code.into())
}
