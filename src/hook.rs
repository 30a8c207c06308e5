//! The pre-push hook: what runs inside `git push`.
//!
//! It must never block or fail a push (except under `dispatch.strict`), prints only
//! one-line `git-dispatch:` messages, and does little: run the displaced hook, record
//! pending dispatches, start the waiter, and say what failed since the last push.

use std::io::{Read, Write};
use std::path::Path;
use std::process::{Command, ExitCode, Stdio};

use anyhow::{Context, Result};
use serde_json::Value;

use crate::config::{Config, Target, When};
use crate::delivery::{self, Mode};
use crate::env;
use crate::filter::PathFilter;
use crate::install;
use crate::payload::{self, PushFacts};
use crate::push;
use crate::repo::Repo;
use crate::say;
use crate::store::{Entry, State, Store};
use crate::waiter;

/// Git writes about 100 bytes per pushed ref; this is a mirror push of 600,000 refs.
const MAX_INPUT: u64 = 64 * 1024 * 1024;

/// Runs the hook for a push to `remote` (`url`), with git's ref lines on stdin; `invoked_as`
/// is the link git ran, if it ran us through one. Never an error: only the displaced hook's
/// failure (or `strict`) stops the push.
pub fn pre_push(remote: &str, url: &str, invoked_as: Option<&Path>) -> Result<ExitCode> {
    // `GIT_DISPATCH=0` skips every git-dispatch binary, as the shim does.
    if let Some(link) = invoked_as.filter(|_| !env::skipped()) {
        if let Some(err) = hand_over(link, remote, url) {
            say::line(&format!("{err:#}; running this binary instead"));
        }
    }
    let mut input = Vec::new();
    if let Err(err) = std::io::stdin().take(MAX_INPUT).read_to_end(&mut input) {
        say::line(&format!(
            "reading the pre-push lines from git: {err}; this push sends no dispatch"
        ));
        return Ok(ExitCode::SUCCESS);
    }
    let repo = Repo::discover();
    // The displaced hook runs even when we cannot read the repository ourselves.
    let hook = invoked_as
        .map(|p| p.as_os_str().to_owned())
        .or_else(|| std::env::var_os(env::HOOK));
    let displaced = match hook {
        Some(hook) => {
            let mut path = hook;
            path.push(format!(".{}", install::DISPLACED_SUFFIX));
            install::runnable(Path::new(&path)).then(|| path.into())
        }
        None => repo
            .as_ref()
            .ok()
            .and_then(|r| install::displaced_hook(r).ok().flatten()),
    };
    if let Some(path) = displaced {
        match run_displaced(&path, remote, url, &input) {
            Ok(None) => {}
            Ok(Some(code)) => return Ok(code),
            // Git itself stops a push whose hook cannot run; so do we, for the hook we displaced.
            Err(err) => {
                say::line(&format!(
                    "{err:#}; fix that hook or remove it ({})",
                    path.display()
                ));
                return Ok(ExitCode::from(1));
            }
        }
    }
    let repo = match repo {
        Ok(repo) => repo,
        Err(err) => {
            say::line(&format!("skipped: {err:#}"));
            return Ok(ExitCode::SUCCESS);
        }
    };
    if env::skipped() {
        return Ok(ExitCode::SUCCESS);
    }
    match record_and_send(&repo, remote, url, &input) {
        Ok(code) => Ok(code),
        Err(err) => {
            // Never block the push for our own trouble.
            say::line(&format!("{err:#}; this push sends no dispatch"));
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// Through a link, `GIT_DISPATCH_BIN` naming another binary takes the push over, as it
/// would through the shim. Returns only if that binary could not be started.
fn hand_over(link: &Path, remote: &str, url: &str) -> Option<anyhow::Error> {
    use std::os::unix::process::CommandExt;
    let bin = std::path::PathBuf::from(std::env::var_os(env::BIN)?);
    // On Linux /proc/self/exe is already canonical, so the usual case stops at `bin == me`.
    let me = std::env::current_exe().ok()?;
    if bin == me
        || !install::runnable(&bin)
        || install::links_to(&bin, &std::fs::canonicalize(&me).ok()?)
    {
        return None;
    }
    let err = Command::new(&bin)
        .args(["hook", "pre-push", remote, url])
        .env(env::HOOK, link)
        .exec();
    Some(anyhow::Error::new(err).context(format!("running {}", bin.display())))
}

/// Runs the hook we displaced with the same arguments and stdin, without our token.
/// `Some(code)` when it failed: the push stops and nothing is recorded.
fn run_displaced(path: &Path, remote: &str, url: &str, input: &[u8]) -> Result<Option<ExitCode>> {
    let start = |program: &Path, script: Option<&Path>| {
        let mut command = Command::new(program);
        command
            .args(script)
            .args([remote, url])
            .env_remove(env::TOKEN)
            .stdin(Stdio::piped());
        command.spawn()
    };
    let mut child = match start(path, None) {
        // A script without `#!`: git runs it with sh, so do we.
        Err(err) if err.raw_os_error() == Some(libc::ENOEXEC) => start(Path::new("sh"), Some(path)),
        other => other,
    }
    .with_context(|| format!("running {}", path.display()))?;
    if let Some(mut stdin) = child.stdin.take() {
        // A hook that exits without reading its input closes the pipe: not an error.
        let _ = stdin.write_all(input);
    }
    let status = child
        .wait()
        .with_context(|| format!("waiting for {}", path.display()))?;
    if status.success() {
        return Ok(None);
    }
    let code = status.code().unwrap_or(1).clamp(1, 255) as u8;
    Ok(Some(ExitCode::from(code)))
}

fn record_and_send(repo: &Repo, remote: &str, url: &str, input: &[u8]) -> Result<ExitCode> {
    let config = Config::load(repo)?;
    for warning in &config.warnings {
        say::line(warning);
    }
    let store = Store::new(repo.common_dir());
    let earlier = store.entries()?;
    // Say what failed before this push, before this push's own messages.
    report_failures(&store, &earlier);

    let updates = match push::parse(input) {
        Ok(updates) => updates,
        Err(err) => {
            say::line(&format!("{err:#}; this push sends no dispatch"));
            return Ok(ExitCode::SUCCESS);
        }
    };
    let when = config.settings.when.value;
    let content_repo = crate::redact::repository_name(url);
    let push_pid = std::os::unix::process::parent_id();
    let mut recorded = Vec::new();
    // `git push <url> main`: git passes the URL as the remote's name. Such a push fires the
    // targets whose remote it reaches (asked only when a target's remote is not named).
    let by_url = std::cell::OnceCell::new();
    for target in &config.targets {
        let target_remote = target.remote.value.as_str();
        let pushed_url = if remote == target_remote {
            None
        } else if *by_url.get_or_init(|| !repo.is_remote(remote))
            && repo.push_urls(target_remote).iter().any(|u| {
                // Compared without credentials: CI pushes to `https://x-access-token:T@…`.
                crate::repo::same_url(&crate::redact::url(u), &crate::redact::url(url))
            })
        {
            Some(crate::redact::url(url))
        } else {
            continue;
        };
        for update in updates
            .iter()
            .filter(|u| push::fires(target, target_remote, u))
        {
            let selected = match selected_paths(repo, target, target_remote, update) {
                Selection::Everything => None,
                Selection::Paths(paths) if paths.is_empty() => continue,
                Selection::Paths(paths) => Some(paths),
            };
            let facts = PushFacts {
                remote_ref: &update.remote_ref,
                sha: &update.new_sha,
                before: &update.old_sha,
                repository: &content_repo,
                paths: selected.as_deref(),
            };
            let follow = config.settings.follow.value;
            let mut entry = match entry_for(repo, target, target_remote, &facts, push_pid, follow) {
                Ok(entry) => entry,
                Err(err) => {
                    say::line(&format!("target {}: {err:#}", target.name));
                    continue;
                }
            };
            entry.pushed_url = pushed_url.clone();
            if when == When::PrePush {
                entry.state = State::Confirmed;
            }
            store.record(&entry)?;
            store.log(
                "recorded",
                Some(&entry),
                &format!("{} {}", entry.state.as_str(), entry.repository),
            );
            recorded.push(entry);
        }
    }

    if !config.targets.is_empty() && !updates.is_empty() {
        let mut fired: Vec<String> = recorded.iter().map(|e| e.target.clone()).collect();
        fired.dedup();
        store.note_push(&crate::store::LastPush {
            remote: crate::redact::url(remote),
            branches: updates
                .iter()
                .map(|u| {
                    let r = &u.remote_ref;
                    r.strip_prefix("refs/heads/").unwrap_or(r).to_string()
                })
                .collect(),
            fired,
            at: crate::store::now(),
        });
    }
    let now = crate::store::now();
    if when == When::PrePush {
        // Earlier pushes whose retry is due go out in the background, as in after-push mode.
        // The waiter is forked first, while this process has no other thread (sending
        // starts some: minreq's connect timeout, the trust-store reader, a tokenCommand's
        // pipes), and leaves this push's entries to the hook, which says their outcome.
        if earlier.iter().any(|e| e.waiter_due(now)) {
            let mine: Vec<String> = recorded.iter().map(|e| e.id.clone()).collect();
            // It waits for this hook to exit before it takes a target's lock, so the push
            // never waits behind it; a waiter that cannot start leaves the earlier pushes
            // to the next run, and this push is sent all the same.
            if let Err(err) = waiter::spawn(Some(std::process::id()), &mine) {
                store.log("error", None, &format!("{err:#}"));
            }
        }
        let code = send_now(&store, &config, &recorded);
        // What this push delivered is followed in the background (fork and exec: the
        // sends above may have left threads). A push that sent nothing followed (nothing,
        // or deploy hooks only) starts nothing.
        if recorded.iter().any(Entry::followed) && config.settings.follow.value {
            crate::follow::resume(&store, &config.settings);
        }
        return Ok(code);
    }
    for entry in &recorded {
        say::line(&format!(
            "will dispatch {} to {} once {} lands ({})",
            event_of(&config, entry),
            entry.repository,
            entry.branch(),
            entry.short_sha()
        ));
    }
    // Start the waiter for this push, and to retry earlier pushes whose time has come.
    let due = !recorded.is_empty() || earlier.iter().any(|e| e.waiter_due(now));
    if due {
        waiter::spawn(Some(push_pid), &[])?;
    }
    Ok(ExitCode::SUCCESS)
}

/// The pending dispatch of `target` for one pushed ref, its request body fixed now (for a
/// build elsewhere, its title, with the commit's subject read from `repo`). Payload clashes
/// are said here, once.
pub fn entry_for(
    repo: &Repo,
    target: &Target,
    remote: &str,
    facts: &PushFacts<'_>,
    push_pid: u32,
    follow: bool,
) -> Result<Entry> {
    let mut entry = Entry::new(
        &target.name,
        &target.repository.value,
        remote,
        facts.remote_ref,
        facts.sha,
        facts.before,
        String::new(),
        push_pid,
    );
    if !target.on_github() {
        // A build elsewhere takes no payload: the body is the build's title (Netlify shows
        // it in its deploy list).
        entry.body = deploy_title(repo, facts.repository, facts.sha);
        entry.hook = target.hook.as_ref().map(|h| h.to_config());
        entry.netlify = target.netlify.clone();
        entry.site_url = target.url.as_ref().map(|u| u.value.clone());
        return Ok(entry);
    }
    entry.body = match &target.workflow {
        // workflow_dispatch takes the user's payload fields as its inputs, nothing of ours.
        Some(_) => Value::Object(target.payload.value.clone()).to_string(),
        None => {
            let (body, warnings) =
                payload::dispatch_body(&target.event.value, facts, &target.payload.value)?;
            for warning in warnings {
                say::line(&format!("target {}: {warning}", target.name));
            }
            // Best effort, never at the cost of the dispatch.
            match follow.then(|| payload::with_dispatch_id(&body, &format!("gd-{}", entry.id))) {
                Some(Ok(with)) => with,
                Some(Err(why)) => {
                    say::line(&format!("target {}: {why}", target.name));
                    body
                }
                None => body,
            }
        }
    };
    entry.workflow = target.workflow.as_ref().map(|w| w.value.clone());
    entry.workflow_ref = target.workflow_ref.as_ref().map(|r| r.value.clone());
    entry.site_url = target.url.as_ref().map(|u| u.value.clone());
    Ok(entry)
}

/// A build's title elsewhere: `content 3f2a9c1: <subject>` (`content`: the content
/// repository's name), cut to 100 characters.
fn deploy_title(repo: &Repo, repository: &str, sha: &str) -> String {
    let content = repository.rsplit('/').next().unwrap_or(repository);
    let head = format!("{content} {}", &sha[..sha.len().min(7)]);
    let title = match repo.subject(sha) {
        Some(subject) => format!("{head}: {}", say::one_line(&subject)),
        None => head,
    };
    say::shorten(&title, 100)
}

/// What a target's path filter makes of a push.
enum Selection {
    /// No filter, or the changes cannot be listed here: the push fires.
    Everything,
    /// The changed paths the filter selects; none means the push does not fire.
    Paths(Vec<String>),
}

fn selected_paths(
    repo: &Repo,
    target: &Target,
    remote: &str,
    update: &push::RefUpdate,
) -> Selection {
    let filter = PathFilter::new(&target.paths.value);
    if filter.is_empty() {
        return Selection::Everything;
    }
    // A new branch: compare with where it forked from what the remote already has.
    let base = if push::is_zero(&update.old_sha) {
        match repo.fork_point(remote, &update.new_sha) {
            Ok(Some(base)) => base,
            _ => return Selection::Everything,
        }
    } else {
        update.old_sha.clone()
    };
    match repo.changed_paths(&base, &update.new_sha) {
        Ok(Some(changed)) => {
            Selection::Paths(changed.into_iter().filter(|p| filter.selects(p)).collect())
        }
        // An old commit we do not have: better one build too many.
        Ok(None) => Selection::Everything,
        Err(err) => {
            say::line(&format!(
                "target {}: cannot list the changed paths ({err:#}); dispatching anyway",
                target.name
            ));
            Selection::Everything
        }
    }
}

/// `update` (the event), or `workflow build.yml`.
fn event_of(config: &Config, entry: &Entry) -> String {
    if !entry.on_github() {
        return "a build".to_string();
    }
    match &entry.workflow {
        Some(workflow) => format!("workflow {workflow}"),
        None => config
            .target(&entry.target)
            .map_or("update".into(), |t| t.event.value.clone()),
    }
}

/// `dispatch.when = pre-push`: send from the hook; under `strict`, a failure stops the push.
fn send_now(store: &Store, config: &Config, recorded: &[Entry]) -> ExitCode {
    let outcomes = delivery::deliver(store, &config.settings, recorded, Mode::All);
    let strict = config.settings.strict.value;
    let failed: Vec<&delivery::Outcome> = outcomes.iter().filter(|o| o.verdict.is_err()).collect();
    for outcome in &outcomes {
        // Under strict a failure stops the push, so nothing of it is kept to send later.
        say::line(&delivery::describe(outcome, !strict));
    }
    if failed.is_empty() || !strict {
        return ExitCode::SUCCESS;
    }
    for outcome in failed {
        let _ = store.remove(&outcome.entry.id);
        store.log(
            "dropped",
            Some(&outcome.entry),
            "the push was stopped by dispatch.strict",
        );
        // The older pushes it replaced did land: they are still to be sent.
        for older in &outcome.superseded {
            if store.save(older).is_ok() {
                store.log(
                    "restored",
                    Some(older),
                    "the push that replaced it was stopped",
                );
            }
        }
    }
    say::line("push stopped by dispatch.strict; fix the dispatch, or push with GIT_DISPATCH=0");
    ExitCode::from(1)
}

/// One line on what failed since the last push, if anything did.
fn report_failures(store: &Store, entries: &[Entry]) {
    // Builds that failed since: known by one marker file, so a push reads nothing more
    // while there are none.
    let builds = if store.has_unannounced() {
        store.take_unannounced()
    } else {
        Vec::new()
    };
    let since = store.last_reported();
    let failing: Vec<&Entry> = entries
        .iter()
        .filter(|e| e.last_error.is_some() && e.updated >= since && e.state != State::AwaitingPush)
        .collect();
    let count = failing.len() + builds.len();
    let more = match count {
        0 => return,
        1 => String::new(),
        n => format!(" (and {} more)", n - 1),
    };
    match (builds.first(), failing.first()) {
        (Some(build), _) => say::line(&format!(
            "the site build for {}{}{more}; see `git dispatch status`",
            build.repository,
            say::shorten(&build.push_words(), 300),
        )),
        (None, Some(first)) => say::line(&format!(
            "earlier dispatch to {} not delivered{more}: {}; see `git dispatch status`",
            first.repository,
            say::shorten(first.last_error.as_deref().unwrap_or_default(), 160)
        )),
        (None, None) => return,
    }
    if !failing.is_empty() {
        let _ = store.set_reported(crate::store::now() + 1);
    }
}
