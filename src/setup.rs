//! The guided first setup: on a terminal, `git dispatch install` in a clone with no target
//! asks for the site and a token, checks them, and ends with doctor's findings; off a
//! terminal it prints the commands that finish the job. Everyone gets this first minute:
//! `install.sh`, Homebrew and `cargo install` users alike.
//!
//! Each step is the command a writer would type (`add`, `login`, `doctor`), run as a child
//! of this binary, so the setup can never do anything those commands do not.

use std::io::{BufRead, Write};
use std::path::Path;
use std::process::{Command, Stdio};

use anyhow::{Context, Result};

use crate::exit::Code;
use crate::say;

/// Where fine-grained tokens are made (GitHub offers no pre-filled link that works).
pub const TOKEN_PAGE: &str = "https://github.com/settings/personal-access-tokens/new";

/// Site names tried before giving up: a typo is corrected, a third is not a typo.
const TRIES: usize = 3;

/// Whether the writer is there to answer: standard input and error are a terminal.
pub fn on_terminal() -> bool {
    // SAFETY: isatty only reads the descriptor's state.
    unsafe { libc::isatty(0) == 1 && libc::isatty(2) == 1 }
}

/// The commands that finish a setup in `clone`, for when no one can be asked.
pub fn finish_words(clone: &Path) -> String {
    format!(
        "finish with: cd {} && git dispatch add OWNER/SITE && git dispatch login < token.txt \
         (a fine-grained token from {TOKEN_PAGE}; `git dispatch login --help` says which \
         permissions)",
        clone.display()
    )
}

/// Asks for the site and a token, then runs doctor. `Report` when the setup could not be
/// finished (what is left is said, with the command).
pub fn guided(clone: &Path) -> Result<Code> {
    let exe = std::env::current_exe().context("finding this binary to run its commands")?;
    let run = |args: &[&str]| -> Result<bool> {
        let status = Command::new(&exe)
            .args(args)
            .current_dir(clone)
            .stdin(Stdio::inherit())
            .status()
            .with_context(|| format!("running git dispatch {}", args.join(" ")))?;
        Ok(status.success())
    };
    let mut site = ask("which repository builds your site? (owner/repo, the site to rebuild): ")?;
    if site.is_empty() {
        say::line(&finish_words(clone));
        return Ok(Code::Ok);
    }
    let no_token = || {
        say::line(&format!(
            "no token stored; finish with: cd {} && git dispatch login",
            clone.display()
        ));
        Ok(Code::Report)
    };
    for attempt in 1..=TRIES {
        if !run(&["add", &site])? {
            say::line(&format!(
                "finish with: cd {} && git dispatch add OWNER/SITE && git dispatch login",
                clone.display()
            ));
            return Ok(Code::Report);
        }
        for line in token_words(&site) {
            say::line(&line);
        }
        if run(&["login"])? {
            break;
        }
        if attempt == TRIES {
            return no_token();
        }
        // GitHub answers 404 alike for a repository that does not exist and for one the
        // token may not see: the name is the first suspect.
        let again = ask(&format!(
            "if {site} is mistyped, type the right name; else press Enter to finish later: "
        ))?;
        if again.is_empty() {
            return no_token();
        }
        run(&["remove", &name_of(&site)])?;
        site = again;
    }
    say::line("checking the setup (`git dispatch doctor`):");
    run(&["doctor"])?;
    Ok(Code::Ok)
}

/// What the token needs, said before it is asked for.
fn token_words(site: &str) -> Vec<String> {
    vec![
        format!("now a fine-grained token, made at {TOKEN_PAGE}"),
        format!("  Repository access: Only select repositories: {site}"),
        "  Contents: Read and write   (sends the dispatch that starts the build)".to_string(),
        "  Actions: Read-only         (follows the build and says when the site is live)"
            .to_string(),
        "  Metadata: Read-only        (GitHub adds it)".to_string(),
    ]
}

/// The target name `add` gives `owner/repo`.
fn name_of(site: &str) -> String {
    site.split('/').nth(1).unwrap_or(site).to_string()
}

/// Prints `question` and reads one line from the terminal, trimmed.
pub fn ask(question: &str) -> Result<String> {
    let mut err = std::io::stderr().lock();
    write!(err, "git-dispatch: {question}")?;
    err.flush()?;
    drop(err);
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .context("reading the answer from the terminal")?;
    Ok(line.trim().to_string())
}
