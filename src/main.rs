//! `git-dispatch`: tells GitHub to rebuild a site once a push to `main` has landed.
//!
//! This file only parses the command line and turns the outcome into an exit code;
//! everything else lives in the library (`src/lib.rs`).

use std::process::ExitCode;

use clap::Parser;
use git_dispatch::cli::{Cli, Command};
use git_dispatch::exit;

fn main() -> ExitCode {
    let cli = Cli::parse();
    // A bug must not block a push: inside the hook, a panic ends with exit 0 (the release
    // profile aborts on panic, but this hook runs first). Only the location is printed,
    // never the panic's message, which could quote data.
    let in_hook = matches!(cli.command, Command::Hook(_));
    std::panic::set_hook(Box::new(move |info| {
        let place = info
            .location()
            .map(|l| format!(" at {}:{}", l.file(), l.line()))
            .unwrap_or_default();
        let push = if in_hook { " (the push goes on)" } else { "" };
        eprintln!("git-dispatch: internal error{place}; please report it{push}");
        std::process::exit(if in_hook { 0 } else { exit::Code::Error as i32 });
    }));
    match git_dispatch::run(cli) {
        Ok(code) => code,
        Err(err) => {
            if exit::is_broken_pipe(&err) {
                return exit::Code::Ok.into();
            }
            eprintln!(
                "git-dispatch: error: {}",
                git_dispatch::redact::line(&format!("{err:#}"))
            );
            exit::Code::Error.into()
        }
    }
}
