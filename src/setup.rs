//! The guided first setup: on a terminal, `git dispatch install` in a clone with no target
//! asks for the site (a GitHub repository, a Netlify site, or another host's deploy hook)
//! and a token, checks them, and ends with doctor's findings; off a
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
        "finish with: cd {} && git dispatch add OWNER/SITE && git dispatch login (paste a \
         fine-grained token from {TOKEN_PAGE}; `git dispatch login --help` says which \
         permissions)",
        here(clone)
    )
}

/// `clone` as one shell word, for a command the writer pastes.
fn here(clone: &Path) -> String {
    let path = clone.display().to_string();
    if path
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"/._-~+".contains(&b))
    {
        path
    } else {
        crate::install::sh_quote(&path)
    }
}

/// Asks for the site and a token, then runs doctor. `Report` when the setup was left
/// unfinished (what is left is said, with the command).
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
    let unfinished = |what: &str| {
        say::line(&format!(
            "{what}; finish with: cd {} && {}",
            here(clone),
            "git dispatch login"
        ));
        Ok(Code::Report)
    };
    say::line("built on Netlify? answer netlify; Vercel, Cloudflare, Render? hook");
    let Some(mut site) = ask_site("which repository builds your site? (owner/repo): ", true)?
    else {
        say::line(&finish_words(clone));
        return Ok(Code::Report);
    };
    match site.as_str() {
        NETLIFY => return netlify(clone, &run),
        HOOK => return hook(clone, &run),
        _ => {}
    }
    for attempt in 1..=TRIES {
        // After `--`: a site is never taken for an option.
        if !run(&["add", "--", &site])? {
            say::line(&format!(
                "finish with: cd {} && git dispatch add OWNER/SITE && git dispatch login",
                here(clone)
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
            return unfinished("no token stored");
        }
        // login said why just above: a name GitHub shows the token nothing for (a typo is
        // the likelier cause), or a token it refused.
        let Some(again) = ask_site(
            &format!(
                "if {site} is mistyped, type the right name; else press Enter to finish later: "
            ),
            false,
        )?
        else {
            return unfinished("no token stored");
        };
        if !run(&["remove", "--", &name_of(&site)])? {
            return unfinished(&format!("{site} is still a target"));
        }
        site = again;
    }
    say::line("checking the setup (`git dispatch doctor`):");
    run(&["doctor"])?;
    Ok(Code::Ok)
}

/// The answers that choose a site built elsewhere.
const NETLIFY: &str = "netlify";
const HOOK: &str = "hook";

/// A Netlify site: its API id (not a secret, so asked in the open), `login --netlify`
/// (the token hidden), `add --netlify`, then doctor.
fn netlify(clone: &Path, run: &dyn Fn(&[&str]) -> Result<bool>) -> Result<Code> {
    let finish = |what: &str| {
        say::line(&format!(
            "{what}; finish with: cd {} && git dispatch add --netlify SITE_ID && git dispatch \
             login --netlify",
            here(clone)
        ));
        Ok(Code::Report)
    };
    let mut id = None;
    for _ in 0..TRIES {
        // Shown in Site configuration > General > Site details.
        let answer = ask("its Site ID (Site configuration > General > Site details): ")?;
        if answer.is_empty() {
            break;
        }
        match crate::netlify::validate_site(&answer) {
            Ok(()) => {
                id = Some(answer);
                break;
            }
            Err(err) => say::line(&format!("{err:#}; again, or Enter to stop")),
        }
    }
    let Some(id) = id else {
        return finish("no site added");
    };
    // The token first: `add` then finds it stored and has nothing to add; doctor checks
    // that it sees the site.
    // Each row within 80 columns: the URL on one of its own, never cut by a wrap.
    for row in [
        "now a Netlify personal access token, made at",
        crate::netlify::TOKEN_PAGE,
        "  (User settings > Applications > Personal access tokens)",
        "  it acts as you on Netlify: kept 0600, sent only to Netlify's API",
    ] {
        say::line(row);
    }
    if !run(&["login", "--netlify"])? {
        return finish("no Netlify token stored");
    }
    if !run(&["add", "--netlify", &id])? {
        return finish("no site added");
    }
    say::line("checking the setup (`git dispatch doctor`):");
    run(&["doctor"])?;
    Ok(Code::Ok)
}

/// Another host's deploy hook: where each host shows it, then `add --hook site` (the URL
/// pasted hidden: it is a secret), then doctor.
fn hook(clone: &Path, run: &dyn Fn(&[&str]) -> Result<bool>) -> Result<Code> {
    use crate::deploy_hook::Host;
    say::line("the site's deploy hook URL, from the host's settings:");
    for host in [Host::Vercel, Host::Cloudflare, Host::Render, Host::Netlify] {
        say::line(&format!("  {}", host.where_made()));
    }
    if !run(&["add", "--hook", "site"])? {
        say::line(&format!(
            "no hook added; finish with: cd {} && git dispatch add --hook site (the URL on \
             standard input)",
            here(clone)
        ));
        return Ok(Code::Report);
    }
    say::line("checking the setup (`git dispatch doctor`):");
    run(&["doctor"])?;
    Ok(Code::Ok)
}

/// Asks `question` until the answer is `owner/repo`, or where `elsewhere`, `netlify` or
/// `hook` (a few times); `None` for an empty answer. What was typed is not repeated: a token pasted at the wrong prompt stays off
/// the screen, and out of every command line.
fn ask_site(question: &str, elsewhere: bool) -> Result<Option<String>> {
    for _ in 0..TRIES {
        let answer = ask(question)?;
        if answer.is_empty() {
            return Ok(None);
        }
        let word = answer.to_ascii_lowercase();
        if elsewhere && [NETLIFY, HOOK].contains(&word.as_str()) {
            return Ok(Some(word));
        }
        if crate::config::validate_repository(&answer).is_ok() {
            return Ok(Some(answer));
        }
        say::line("that is not owner/repo (as in github.com/OWNER/REPO); again, or Enter to stop");
    }
    Ok(None)
}

/// What the token needs, said before it is asked for.
fn token_words(site: &str) -> Vec<String> {
    vec![
        "now a fine-grained token, made at".to_string(),
        format!("  {TOKEN_PAGE}"),
        format!("  Repository access: Only select repositories: {site}"),
        // Each row within 80 columns with the `git-dispatch: ` before it.
        "  Contents: Read and write  (to send the dispatch)".to_string(),
        "  Actions: Read-only        (to follow the build to live)".to_string(),
        "  Metadata: Read-only       (GitHub adds it)".to_string(),
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
