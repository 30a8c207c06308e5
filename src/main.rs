//! `git-dispatch`: tells GitHub to rebuild a site once a push to `main` has landed.
//!
//! This file only parses the command line and turns the outcome into an exit code;
//! everything else lives in the library (`src/lib.rs`).

use std::ffi::OsString;
use std::path::Path;
use std::process::ExitCode;

use clap::Parser;
use git_dispatch::cli::Cli;
use git_dispatch::exit;

fn main() -> ExitCode {
    let args: Vec<OsString> = std::env::args_os().collect();
    // The hook is taken by hand, not by clap: a remote named `-x` or a URL that is not UTF-8
    // must not turn into clap's usage text and exit 2, which would fail the push. Installed
    // as a link, git runs us as `<hooks>/pre-push <remote> <url>`; through the shim (or by
    // hand) it is `git-dispatch hook pre-push <remote> <url>`.
    let linked = args
        .first()
        .is_some_and(|a| Path::new(a).file_name() == Some("pre-push".as_ref()));
    let shimmed =
        args.get(1).is_some_and(|a| a == "hook") && args.get(2).is_some_and(|a| a == "pre-push");
    if args.get(1).is_some_and(|a| a == "hook") && args.get(2).is_some_and(|a| a == "follow") {
        set_panic_hook(true);
        return git_dispatch::hook_follow();
    }
    set_panic_hook(linked || shimmed);
    if linked || shimmed {
        let first = if linked { 1 } else { 3 };
        let arg = |i: usize| {
            args.get(i)
                .map(|a| a.to_string_lossy().into_owned())
                .unwrap_or_default()
        };
        let invoked_as = linked.then(|| Path::new(&args[0]));
        return finish(git_dispatch::hook_pre_push(
            &arg(first),
            &arg(first + 1),
            invoked_as,
        ));
    }
    finish(git_dispatch::run(Cli::parse()))
}

/// A bug must not block a push: inside the hook, a panic ends with exit 0 (the release
/// profile aborts on panic, but this hook runs first). Only the location is printed,
/// never the panic's message, which could quote data.
fn set_panic_hook(in_hook: bool) {
    std::panic::set_hook(Box::new(move |info| {
        let place = info
            .location()
            .map(|l| format!(" at {}:{}", l.file(), l.line()))
            .unwrap_or_default();
        let push = if in_hook { " (the push goes on)" } else { "" };
        git_dispatch::say_line(&format!("internal error{place}; please report it{push}"));
        std::process::exit(if in_hook { 0 } else { exit::Code::Error as i32 });
    }));
}

fn finish(result: anyhow::Result<ExitCode>) -> ExitCode {
    match result {
        Ok(code) => code,
        Err(err) if exit::is_broken_pipe(&err) => exit::Code::Ok.into(),
        Err(err) => {
            git_dispatch::say_line(&format!("error: {err:#}"));
            exit::Code::Error.into()
        }
    }
}
