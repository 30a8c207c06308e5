//! `git-dispatch`: tells GitHub to rebuild a site once a push to `main` has landed.
//!
//! This file only parses the command line and turns the outcome into an exit code;
//! everything else lives in the library (`src/lib.rs`).

use std::process::ExitCode;

use clap::Parser;
use git_dispatch::{cli::Cli, exit};

fn main() -> ExitCode {
    let cli = Cli::parse();
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
