//! The command line, with clap's derive: doc comments are the help text.

use clap::{Args, Parser, Subcommand};

/// Tell GitHub to rebuild a site once a push to `main` has landed.
///
/// Installed per clone as a git `pre-push` hook. After `git push` exits and the remote
/// holds the pushed commit, it sends a `repository_dispatch` event to each configured
/// target repository with a fine-grained token.
#[derive(Debug, Parser)]
#[command(name = "git-dispatch", version, after_help = EXAMPLES)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

const EXAMPLES: &str = "\
Examples:
  git dispatch install                 install the pre-push hook into this clone
  git dispatch add owner/site          dispatch `update` to owner/site on pushes to main
  git dispatch login < token.txt       store a fine-grained token
  git dispatch send --dry-run          show the request, send nothing
  git dispatch status                  what is pending, failed and delivered";

/// The subcommands; doc/DESIGN.md, "Interface and exit codes", has the contract.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Install the pre-push hook into this clone (idempotent; keeps a foreign hook).
    #[command(
        after_help = "Examples:\n  git dispatch install\n  git dispatch install --force     (where core.hooksPath points outside the repository)"
    )]
    Install {
        /// Install even where core.hooksPath points outside this repository.
        #[arg(long)]
        force: bool,
    },
    /// Remove our hook and restore the one it displaced.
    #[command(after_help = "Example:\n  git dispatch uninstall")]
    Uninstall,
    /// Add a target: a GitHub repository to dispatch to, a Netlify site, or a deploy hook.
    #[command(after_help = "Examples:\n  git dispatch add owner/site\n  \
        git dispatch add owner/site --branch main --event update --paths 'content/**'\n  \
        git dispatch add owner/docs --workflow build.yml --shared\n  \
        git dispatch add --netlify 6d2f1c4e-0b3a-4c5d-9e8f-7a6b5c4d3e2f   (then login --netlify)\n  \
        git dispatch add --hook site < hook-url.txt                  (Vercel, Cloudflare, Render)")]
    Add(AddArgs),
    /// Remove a target by name.
    #[command(after_help = "Example:\n  git dispatch remove site")]
    Remove {
        /// The target's name (see `git dispatch list`).
        name: String,
    },
    /// List targets and settings, with where each value came from.
    #[command(after_help = "Example:\n  git dispatch list")]
    List,
    /// Store a token read from standard input, after checking it against the API.
    #[command(after_help = "Examples:\n  git dispatch login < token.txt\n  \
        git dispatch login --owner octo-org     (a token for octo-org's repositories only)\n  \
        git dispatch login --host ghe.example.com\n  \
        git dispatch login --netlify < netlify-token.txt   (for `add --netlify` targets)")]
    Login {
        /// The API host the token belongs to (default: the configured API's host).
        #[arg(long)]
        host: Option<String>,
        /// Use this token only for this owner's repositories (a fine-grained token belongs
        /// to one owner).
        #[arg(long)]
        owner: Option<String>,
        /// A Netlify personal access token instead, for `netlify` targets.
        #[arg(long, conflicts_with_all = ["host", "owner"])]
        netlify: bool,
    },
    /// Forget the stored token.
    #[command(after_help = "Example:\n  git dispatch logout")]
    Logout {
        /// The API host whose token to forget (default: the configured API's host).
        #[arg(long)]
        host: Option<String>,
        /// Forget only the token stored for this owner.
        #[arg(long)]
        owner: Option<String>,
        /// Forget the Netlify token instead.
        #[arg(long, conflicts_with_all = ["host", "owner"])]
        netlify: bool,
    },
    /// Dispatch now, for what the remote's branch holds; always sent.
    #[command(after_help = "Example:\n  git dispatch send site --dry-run")]
    Send {
        /// Targets to send to (default: all).
        names: Vec<String>,
        /// Print method, URL, headers (token masked) and body; send nothing.
        #[arg(long)]
        dry_run: bool,
    },
    /// Show pending, failed and recently delivered dispatches.
    #[command(
        after_help = "Examples:\n  git dispatch status\n  git dispatch status --json | jq '.entries[].state'\n  git dispatch status --refresh   (after re-running a build on GitHub)"
    )]
    Status {
        /// Machine-readable output.
        #[arg(long)]
        json: bool,
        /// Ask GitHub again about builds that ended: a re-run since is then followed.
        #[arg(long)]
        refresh: bool,
    },
    /// Follow the latest push's dispatches to the end of their runs; exit 1 unless all
    /// succeeded.
    #[command(
        after_help = "Examples:\n  git push && git dispatch watch\n  git dispatch watch site   (one target only)"
    )]
    Watch {
        /// Targets to watch (default: all).
        names: Vec<String>,
    },
    /// Send what is pending (and what failed) now, ignoring backoff.
    #[command(after_help = "Example:\n  git dispatch retry")]
    Retry,
    /// Forget one pending or failed entry.
    #[command(
        after_help = "Example:\n  git dispatch drop 610f53a0   (an id, or its start, from `git dispatch status`)"
    )]
    Drop {
        /// The entry's id, or a unique prefix of it (see `git dispatch status`).
        id: String,
    },
    /// Check the hook, the configuration, the token, access to each target and its workflow.
    #[command(after_help = "Example:\n  git dispatch doctor")]
    Doctor,
    /// Accept the current .gitdispatch: its targets are used while it stays as it is now.
    #[command(after_help = "Example:\n  git diff HEAD@{1} -- .gitdispatch && git dispatch trust")]
    Trust,
}

/// Arguments of `add`.
#[derive(Debug, Args)]
pub struct AddArgs {
    /// The repository to dispatch to, as owner/repo.
    #[arg(required_unless_present_any = ["hook", "netlify"])]
    pub repository: Option<String>,
    /// A Netlify site built through Netlify's API and followed to live instead: the site's
    /// API id (Site configuration > General > Site details > Site ID). Needs `git dispatch
    /// login --netlify`.
    #[arg(
        long,
        value_name = "SITE_ID",
        conflicts_with_all = ["repository", "hook", "event", "workflow"]
    )]
    pub netlify: Option<String>,
    /// A deploy hook named NAME instead (Netlify, Vercel, Cloudflare, Render, or any URL that
    /// takes a POST): its URL, a secret, is read from standard input, never the command line.
    #[arg(
        long,
        value_name = "NAME",
        conflicts_with_all = ["repository", "name", "event", "workflow", "shared"]
    )]
    pub hook: Option<String>,
    /// The target's name (default: the repository's name; `netlify` with --netlify).
    #[arg(long)]
    pub name: Option<String>,
    /// The event_type to send (default: update).
    #[arg(long)]
    pub event: Option<String>,
    /// A branch whose pushes fire this target (default: main); may repeat.
    #[arg(long = "branch")]
    pub branches: Vec<String>,
    /// The remote whose pushes count (default: origin).
    #[arg(long)]
    pub remote: Option<String>,
    /// Run this workflow (file name in .github/workflows, or id) with workflow_dispatch
    /// instead of sending repository_dispatch.
    #[arg(long, value_name = "FILE")]
    pub workflow: Option<String>,
    /// Fire only when the push changes a path matching this glob (`**`, `*`, `?`; a leading
    /// `!` excludes); may repeat.
    #[arg(long = "paths", value_name = "GLOB")]
    pub paths: Vec<String>,
    /// Write to the committed .gitdispatch instead of .git/config.
    #[arg(long)]
    pub shared: bool,
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn verify_cli() {
        Cli::command().debug_assert();
    }

    #[test]
    fn every_visible_subcommand_shows_an_example() {
        for sub in Cli::command()
            .get_subcommands()
            .filter(|s| !s.is_hide_set())
        {
            let help = sub
                .get_after_help()
                .map(|h| h.to_string())
                .unwrap_or_default();
            assert!(
                help.contains("git dispatch"),
                "{} has no example",
                sub.get_name()
            );
        }
    }
}
