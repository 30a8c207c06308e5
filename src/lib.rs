//! git-dispatch: a git pre-push hook that sends GitHub's `repository_dispatch` once a push
//! to `main` has landed. `run` is the whole program behind the command line; the design
//! record is doc/DESIGN.md, whose "Module map" says what each module is for.

mod answer;
mod api;
mod child;
pub mod cli;
mod commands;
mod config;
mod delivery;
mod deploy_hook;
mod env;
pub mod exit;
mod filter;
mod follow;
mod hook;
mod install;
mod netlify;
mod notify;
mod payload;
mod proxy;
mod push;
pub mod redact;
mod repo;
mod say;
mod setup;
mod shared;
mod store;
mod terminal;
mod timestamp;
mod tls;
mod token;
mod waiter;
mod workflow;

use std::process::ExitCode;

use anyhow::Result;

use cli::Cli;

/// The installed hook: `git-dispatch hook pre-push <remote> <url>` from the shim, or the
/// binary run by git through a link (`invoked_as`, the link's path).
pub fn hook_pre_push(
    remote: &str,
    url: &str,
    invoked_as: Option<&std::path::Path>,
) -> Result<ExitCode> {
    hook::pre_push(remote, url, invoked_as)
}

/// The background follower (`git-dispatch hook follow`): follows this clone's delivered
/// dispatches to the end of their runs. Never an error exit: it has no one to tell.
pub fn hook_follow() -> ExitCode {
    if let Ok(repo) = repo::Repo::discover() {
        let store = store::Store::new(repo.common_dir());
        if let Ok(config) = config::Config::load(&repo) {
            if let Err(err) = follow::run(&store, &config.settings) {
                store.log("error", None, &format!("follower: {err:#}"));
            }
        }
    }
    ExitCode::SUCCESS
}

/// Prints one `git-dispatch:` line on stderr (see `say`).
pub fn say_line(message: &str) {
    say::line(message);
}

/// Runs one command; `Err` is a usage or internal error (exit 2).
pub fn run(cli: Cli) -> Result<ExitCode> {
    Ok(commands::run(cli.command)?.into())
}
