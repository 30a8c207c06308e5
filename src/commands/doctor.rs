//! `doctor`: one line per check, with the fix for each failure; exit 0 only when all hold.
//!
//! Checks, in the order a dispatch needs them: the hook is where git runs it, ours and
//! current; the binary it finds is this one; git-lfs still runs if the clone uses it; each
//! target's config is valid; a token is found; the token can see the target; and a workflow
//! on the target's default branch will actually run for the dispatch.

use std::path::Path;

use anyhow::Result;
use base64::Engine;
use serde_json::Value;

use crate::answer;
use crate::api::{Api, Method};
use crate::config::{Config, Target};
use crate::exit::Code;
use crate::install::{self, Binary, Form, Installed, Why};
use crate::repo::Repo;
use crate::say;
use crate::token::{self, Token};
use crate::workflow;

/// Counts failures while printing one line per check.
#[derive(Default)]
struct Report {
    problems: usize,
    /// Why stdout stopped taking lines (`git dispatch doctor | head -1`); checks stop too.
    closed: Option<std::io::Error>,
}

impl Report {
    fn ok(&mut self, line: impl AsRef<str>) {
        self.print("ok  ", line.as_ref());
    }

    /// Worth knowing, not a problem: doctor still exits 0.
    fn note(&mut self, line: impl AsRef<str>) {
        self.print("note", line.as_ref());
    }

    fn fail(&mut self, line: impl AsRef<str>) {
        self.print("FAIL", line.as_ref());
        self.problems += 1;
    }

    fn print(&mut self, tag: &str, line: &str) {
        use std::io::Write;
        if self.closed.is_none() {
            let text = format!("{tag} {line}\n");
            if let Err(err) = std::io::stdout().lock().write_all(text.as_bytes()) {
                self.closed = Some(err);
            }
        }
    }
}

/// Runs the checks; exit 1 when any fails.
pub fn run() -> Result<Code> {
    let repo = Repo::discover()?;
    let mut report = Report::default();
    let binary = Binary::current()?;
    // Which binary the hook runs means nothing without our hook (after `uninstall`, say):
    // one failure, not a second that only follows from it.
    if check_hook(&repo, &binary, &mut report)? {
        check_binary(&repo, &binary.exe, &mut report)?;
    }
    check_lfs(&repo, &mut report)?;

    let config = Config::load(&repo)?;
    for warning in &config.warnings {
        report.fail(warning);
    }
    if config.targets.is_empty() {
        report.fail("no targets; add one with `git dispatch add owner/site`");
    }
    if config.settings.notify.value.as_deref() == Some("desktop") {
        match crate::notify::desktop_ready() {
            Ok(program) => report.ok(format!("dispatch.notify = desktop: {program} can run here")),
            Err(why) => report.fail(format!(
                "dispatch.notify = desktop cannot notify: {why}; run git-dispatch where the \
                 desktop session is, or set dispatch.notifyCommand"
            )),
        }
    }
    // Deploy hooks need nothing of GitHub's API, not even a valid dispatch.apiUrl.
    for target in config.targets.iter().filter(|t| t.hook.is_some()) {
        check_hook_target(target, config.settings.timeout.value, &mut report);
    }
    for target in config.targets.iter().filter(|t| t.netlify.is_some()) {
        check_netlify_target(&config, target, &mut report);
    }
    let github: Vec<&Target> = config.targets.iter().filter(|t| t.on_github()).collect();
    match Api::new(
        &config.settings.api_url.value,
        config.settings.timeout.value,
    ) {
        Ok(api) => {
            for target in github {
                if report.closed.is_some() {
                    break;
                }
                check_target(&api, &config, target, &mut report);
            }
        }
        Err(err) if !github.is_empty() => report.fail(format!("dispatch.apiUrl: {err:#}")),
        Err(_) => {}
    }
    if let Some(err) = report.closed {
        return Err(anyhow::Error::new(err).context("writing the report"));
    }
    Ok(Code::report_if(report.problems > 0))
}

/// Checks the hook; whether one of ours is there.
fn check_hook(repo: &Repo, binary: &Binary, report: &mut Report) -> Result<bool> {
    let dir = repo.hooks_dir()?;
    let hook = dir.join(install::HOOK);
    let chains = std::fs::symlink_metadata(dir.join(install::DISPLACED)).is_ok();
    let exe = &binary.exe;
    let form = install::form(repo, &dir, binary, chains);
    let installed = install::installed(&hook)?;
    let ours = matches!(installed, Installed::Link(_) | Installed::Shim(_));
    match (installed, form) {
        (Installed::Link(target), _) if !install::runnable(&target) => report.fail(format!(
            "hook {} links to {}, which is gone, so git skips it and no push sends a dispatch; \
             run `git dispatch install`",
            hook.display(),
            target.display()
        )),
        (Installed::Link(target), Form::Shim(_, Why::Writable))
            if install::links_to(&target, exe) =>
        {
            report.fail(format!(
                "hook {} links to {}, which is writable: a tool that writes the hook would write \
                 into the binary; `chmod a-w` it, or run `git dispatch install` for the shim",
                hook.display(),
                exe.display()
            ))
        }
        (Installed::Link(target), Form::Shim(_, Why::Root)) if install::links_to(&target, exe) => {
            report.fail(format!(
                "hook {} links to {}, and as root you can write that binary: a tool that writes \
                 the hook would write into it; run `git dispatch install` for the sh shim",
                hook.display(),
                exe.display()
            ))
        }
        // A link runs this binary, which runs any displaced hook itself.
        (Installed::Link(target), _) if install::links_to(&target, exe) => report.ok(format!(
            "hook installed and current: {} (a link to this binary)",
            hook.display()
        )),
        (Installed::Shim(text), form) if text == install::hook_text(exe).as_bytes() => {
            let faster = if matches!(form, Form::Link(_)) {
                "; `git dispatch install` would make it a faster link"
            } else {
                ""
            };
            report.ok(format!("hook installed and current: {}{faster}", hook.display()))
        }
        (Installed::Link(_) | Installed::Shim(_), _) => report.fail(format!(
            "hook {} is not what `git dispatch install` writes now (another version, binary or \
             form); run `git dispatch install`",
            hook.display()
        )),
        (Installed::Foreign, _) => report.fail(format!(
            "{} is not git-dispatch's; run `git dispatch install` (it keeps that hook and runs it first)",
            hook.display()
        )),
        (Installed::Nothing, _) => {
            report.fail(format!("no hook at {}; run `git dispatch install`", hook.display()))
        }
    }
    Ok(ours)
}

/// The binary the hook would run, found as the hook finds it.
fn check_binary(repo: &Repo, exe: &Path, report: &mut Report) -> Result<()> {
    let found = install::hook_binary(repo)?;
    match found.as_ref().and_then(|p| std::fs::canonicalize(p).ok()) {
        Some(path) if path == exe => report.ok(format!("the hook runs this binary: {}", exe.display())),
        Some(path) => report.fail(format!(
            "the hook runs {}, not this binary ({}); reinstall with ./install.sh or set GIT_DISPATCH_BIN",
            path.display(),
            exe.display()
        )),
        None => report.fail("the hook finds no git-dispatch binary; run ./install.sh or set GIT_DISPATCH_BIN"),
    }
    Ok(())
}

/// git-lfs owns `pre-push` in clones with LFS files; after our install it must still run.
fn check_lfs(repo: &Repo, report: &mut Report) -> Result<()> {
    let Some(top) = repo.workdir() else {
        return Ok(());
    };
    let attributes = std::fs::read_to_string(top.join(".gitattributes")).unwrap_or_default();
    if !attributes.contains("filter=lfs") {
        return Ok(());
    }
    let dir = repo.hooks_dir()?;
    // Our link leads to the binary, never worth reading; a foreign link may be LFS's script.
    let runs_lfs = [install::DISPLACED, install::HOOK].iter().any(|name| {
        let path = dir.join(name);
        !matches!(install::installed(&path), Ok(Installed::Link(_)))
            && std::fs::read_to_string(path)
                .is_ok_and(|t| t.contains("git lfs pre-push") || t.contains("git-lfs pre-push"))
    });
    if runs_lfs {
        report.ok("git-lfs's pre-push hook still runs (before git-dispatch)");
    } else {
        report.fail(format!(
            ".gitattributes uses LFS but `git lfs pre-push` no longer runs, so LFS files would not be uploaded; \
             run `git dispatch uninstall && git lfs install && git dispatch install` (ours then runs LFS's first), \
             or add `git lfs pre-push \"$@\"` to {}",
            dir.join(install::DISPLACED).display()
        ));
    }
    Ok(())
}

/// A deploy hook target: its URL is stored here, and its host takes a connection. No
/// request is sent: any request to a hook may start a build.
fn check_hook_target(target: &Target, timeout: u64, report: &mut Report) {
    let name = &target.name;
    let Some(hook) = &target.hook else {
        return;
    };
    let url = match hook.url() {
        Ok(url) => url,
        Err(err) => return report.fail(format!("{name}: {err:#}")),
    };
    match crate::deploy_hook::reachable(&url, timeout) {
        Ok(at) => report.ok(format!(
            "{name}: {} is stored, and {at} takes a connection (nothing sent: a build starts \
             only on a push)",
            hook.shown()
        )),
        Err(why) => report.fail(format!(
            "{name}: {} is stored, but {why}; a push's build is kept and sent again later",
            hook.shown()
        )),
    }
}

/// A Netlify target: the token is stored and Netlify shows it the site (`GET
/// /api/v1/sites/{id}`, which starts nothing).
fn check_netlify_target(config: &Config, target: &Target, report: &mut Report) {
    let name = &target.name;
    let Some(site) = &target.netlify else {
        return;
    };
    let api = match crate::netlify::api(config.settings.timeout.value) {
        Ok(api) => api,
        Err(err) => return report.fail(format!("{name}: {err:#}")),
    };
    let token = match crate::netlify::token(&api) {
        Ok(token) => token,
        Err(err) => return report.fail(format!("{name}: {err:#}")),
    };
    let answer = crate::netlify::get_site(&api, site, &token);
    if let Err(failure) = crate::netlify::judge(&answer, site) {
        return report.fail(format!("{name}: {}", failure.reason()));
    }
    let shown = answer
        .ok()
        .and_then(|a| serde_json::from_str::<serde_json::Value>(&a.body).ok())
        .and_then(|v| {
            v.get("ssl_url")
                .and_then(|u| u.as_str())
                .map(crate::say::printable)
        })
        .map(|url| format!(" ({url})"))
        .unwrap_or_default();
    let followed = if config.settings.follow.value {
        "its builds are followed to live"
    } else {
        "its builds are started, not followed (dispatch.follow is false)"
    };
    report.ok(format!(
        "{name}: the Netlify token can see site {site}{shown}; {followed}"
    ));
}

fn check_target(api: &Api, config: &Config, target: &Target, report: &mut Report) {
    let name = &target.name;
    let repository = &target.repository.value;
    report.ok(format!("{name}: config valid ({repository})"));
    let token = match token::find(&config.settings, api.host(), target.owner()) {
        Ok(token) => {
            report.ok(format!("{name}: a token for {} was found", api.host()));
            token
        }
        Err(err) => return report.fail(format!("{name}: {err:#}")),
    };
    let branch = match api.default_branch(repository, &token) {
        Ok(branch) => {
            report.ok(format!(
                "{name}: the token can see {repository} (default branch {branch})"
            ));
            branch
        }
        Err(failure) => {
            return report.fail(format!(
                "{name}: GET /repos/{repository}: {}",
                failure.reason()
            ))
        }
    };
    let mut titled = None;
    let mut found = None;
    let check = match &target.workflow {
        Some(workflow) => check_workflow_dispatch(
            api,
            &token,
            repository,
            &branch,
            &workflow.value,
            &mut found,
        ),
        None => check_repository_dispatch(
            api,
            &token,
            repository,
            &branch,
            &target.event.value,
            &mut titled,
        ),
    };
    match check {
        Ok(Ok(line)) => report.ok(format!("{name}: {line}")),
        Ok(Err(line)) => report.fail(format!("{name}: {line}")),
        Err(reason) => report.fail(format!(
            "{name}: cannot read {repository}'s workflows: {reason}"
        )),
    }
    check_actions_enabled(api, &token, target, report);
    if let Some((path, _)) = &titled {
        found = Some(path.clone());
    }
    if config.settings.follow.value {
        check_following(api, &token, target, titled, found.as_deref(), report);
    }
}

/// Following the build: the token may read the site's Actions runs, and (for
/// repository_dispatch) the workflow titles its runs with the dispatch's id.
fn check_following(
    api: &Api,
    token: &Token,
    target: &Target,
    titled: Option<(String, bool)>,
    workflow_path: Option<&str>,
    report: &mut Report,
) {
    let name = &target.name;
    let repository = &target.repository.value;
    match titled {
        Some((path, true)) => report.ok(format!(
            "{name}: {path} puts the dispatch's id in its run's title (run-name), so its build is followed"
        )),
        Some((path, false)) => report.note(format!(
            "{name}: {path} has no run-name line that puts the dispatch's id in its run's title \
             as a word of its own, so its build is matched by time only (and not at all when runs start together); add to it: {}",
            workflow::RUN_NAME_LINE
        )),
        None => {}
    }
    let path = format!("/repos/{repository}/actions/runs?per_page=1");
    let answer = api.send(Method::Get, &api.url(&path), None, token);
    match &answer {
        Ok(a) if a.status == 200 => {
            report.ok(format!(
                "{name}: the token may read {repository}'s Actions runs, so builds can be followed"
            ));
            if let Some(path) = workflow_path {
                check_workflow_state(api, token, target, path, report);
            }
        }
        Ok(a) if a.status == 403 || a.status == 404 => {
            let needs = a
                .header("x-accepted-github-permissions")
                .unwrap_or("actions=read");
            report.fail(format!(
                "{name}: the token may not read {repository}'s Actions runs ({} {}; it needs \
                 {needs}), so builds cannot be followed; give it Actions: read, or \
                 `git config dispatch.follow false`",
                a.status,
                a.message()
            ))
        }
        _ => report.fail(format!(
            "{name}: cannot check the token's Actions access: {}",
            answer::judge(&answer, repository)
                .err()
                .map_or("an unexpected answer".to_string(), |f| f
                    .reason()
                    .to_string())
        )),
    }
}

/// Whether GitHub runs the workflow at all: one turned off in the Actions tab (or by
/// GitHub after 60 days without activity) starts nothing. Asked of `/actions/workflows`,
/// which Actions: read allows.
fn check_workflow_state(
    api: &Api,
    token: &Token,
    target: &Target,
    path: &str,
    report: &mut Report,
) {
    let name = &target.name;
    let repository = &target.repository.value;
    let Ok(list) = get_json(
        api,
        token,
        &format!("/repos/{repository}/actions/workflows?per_page=100"),
    ) else {
        return;
    };
    let state = list
        .get("workflows")
        .and_then(Value::as_array)
        .and_then(|all| {
            all.iter()
                .find(|w| w.get("path").and_then(Value::as_str) == Some(path))
        })
        .and_then(|w| w.get("state")?.as_str())
        .map(say::one_line);
    match state.as_deref() {
        Some("active") => report.ok(format!("{name}: {path} is enabled on GitHub")),
        Some(state) => {
            let file = path.rsplit('/').next().unwrap_or(path);
            report.fail(format!(
                "{name}: {path} is {state} on GitHub, so a dispatch starts no run; enable it in \
                 {repository}'s Actions tab, or `gh workflow enable {file} -R {repository}`"
            ))
        }
        // Not listed (yet): GitHub lists a workflow once it is on the default branch.
        None => {}
    }
}

/// Whether GitHub Actions are enabled for the repository at all (Settings > Actions >
/// General). GitHub tells only a token with Administration: read, which git-dispatch does
/// not ask for: without it nothing is said.
fn check_actions_enabled(api: &Api, token: &Token, target: &Target, report: &mut Report) {
    let name = &target.name;
    let repository = &target.repository.value;
    // A 403 (no Administration: read) or a 404 is nothing to say.
    let Ok(permissions) = get_json(
        api,
        token,
        &format!("/repos/{repository}/actions/permissions"),
    ) else {
        return;
    };
    match permissions.get("enabled").and_then(Value::as_bool) {
        Some(true) => report.ok(format!(
            "{name}: GitHub Actions are enabled for {repository}"
        )),
        Some(false) => report.fail(format!(
            "{name}: GitHub Actions are disabled for {repository}, so a dispatch starts no \
             run; allow them in its Settings > Actions > General"
        )),
        None => {}
    }
}

/// `Ok(Ok(what runs))`, `Ok(Err(what is missing, with the fix))`, or `Err(why unreadable)`.
type Check = Result<Result<String, String>, String>;

fn check_repository_dispatch(
    api: &Api,
    token: &Token,
    repository: &str,
    branch: &str,
    event: &str,
    titled: &mut Option<(String, bool)>,
) -> Check {
    let listing = get_json(
        api,
        token,
        &format!("/repos/{repository}/contents/.github/workflows?ref={branch}"),
    )?;
    let files: Vec<String> = listing
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|f| f.get("path")?.as_str().map(str::to_string))
                .filter(|p| p.ends_with(".yml") || p.ends_with(".yaml"))
                .collect()
        })
        .unwrap_or_default();
    for path in &files {
        let text = file_text(api, token, repository, branch, path)?;
        if workflow::triggers(&text).accepts(event) {
            // Rendered with a sample id and asked as the follower asks, so doctor and the
            // follower cannot disagree on whether the id can be told in a title.
            let sample = "gd-0123456789abcdef01";
            let has_id = workflow::run_name_title(&text, event, sample)
                .is_some_and(|title| crate::follow::matching::title_has_id(&title, sample));
            *titled = Some((path.clone(), has_id));
            return Ok(Ok(format!(
                "{path} on {branch} runs on repository_dispatch ({event})"
            )));
        }
    }
    Ok(Err(format!(
        "no workflow on {repository}'s {branch} runs on repository_dispatch of type {event:?}, so a dispatch \
         would start nothing; add `on: repository_dispatch: types: [{event}]` to its workflow ({} checked)",
        files.len()
    )))
}

fn check_workflow_dispatch(
    api: &Api,
    token: &Token,
    repository: &str,
    branch: &str,
    workflow: &str,
    found: &mut Option<String>,
) -> Check {
    let path = if workflow.bytes().all(|b| b.is_ascii_digit()) {
        let info = get_json(
            api,
            token,
            &format!("/repos/{repository}/actions/workflows/{workflow}"),
        )?;
        info.get("path")
            .and_then(Value::as_str)
            .ok_or_else(|| format!("workflow {workflow} has no path"))?
            .to_string()
    } else {
        format!(".github/workflows/{workflow}")
    };
    let text = file_text(api, token, repository, branch, &path)?;
    *found = Some(path.clone());
    if workflow::triggers(&text).workflow_dispatch {
        Ok(Ok(format!("{path} on {branch} runs on workflow_dispatch")))
    } else {
        Ok(Err(format!(
            "{path} has no `on: workflow_dispatch`, so GitHub would refuse to run it; add it"
        )))
    }
}

fn file_text(
    api: &Api,
    token: &Token,
    repository: &str,
    branch: &str,
    path: &str,
) -> Result<String, String> {
    let file = get_json(
        api,
        token,
        &format!("/repos/{repository}/contents/{path}?ref={branch}"),
    )?;
    if file.is_null() {
        return Err(format!("{path} does not exist on {branch}"));
    }
    let encoded = file
        .get("content")
        .and_then(Value::as_str)
        .unwrap_or_default();
    // GitHub wraps the base64 at 60 columns.
    let clean: String = encoded.split_whitespace().collect();
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(clean)
        .map_err(|_| format!("{path} is not base64 content"))?;
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

fn get_json(api: &Api, token: &Token, path: &str) -> Result<Value, String> {
    let answer = api.send(Method::Get, &api.url(path), None, token);
    match &answer {
        Ok(a) if a.status == 200 => {
            serde_json::from_str(&a.body).map_err(|e| format!("GET {path}: {e}"))
        }
        // No such file or folder on that branch: the caller says what is missing.
        Ok(a) if a.status == 404 => Ok(Value::Null),
        _ => Err(match answer::judge(&answer, path) {
            Err(failure) => failure.reason().to_string(),
            Ok(()) => format!("GET {path}: unexpected answer"),
        }),
    }
}
