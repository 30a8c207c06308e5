//! Targets (`[dispatch "<name>"]`) and settings (`[dispatch]`), each key beside its default.
//!
//! Targets come from the clone's own config and the committed `.gitdispatch` only: in
//! global or system config they would fire in every repository. Settings come from every
//! source git reads except `.gitdispatch`, which a pull request can change: a setting there
//! could send the token elsewhere or run a command, so it is ignored with a warning.

use std::fmt;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use gix::bstr::ByteSlice;
use gix::config::Source;
use serde_json::{Map, Value};

use crate::env;
use crate::repo::Repo;
use crate::shared::{self, SHARED_FILE};

/// `dispatch.<name>.remote`: which remote's pushes count.
pub const DEFAULT_REMOTE: &str = "origin";
/// `dispatch.<name>.branch`: which branches fire (may repeat).
pub const DEFAULT_BRANCH: &str = "main";
/// `dispatch.<name>.event`: the event_type sent.
pub const DEFAULT_EVENT: &str = "update";
/// `dispatch.apiUrl`: GitHub's REST API (Enterprise: `https://HOST/api/v3`).
pub const DEFAULT_API_URL: &str = "https://api.github.com";
/// `dispatch.timeout`: seconds per request.
pub const DEFAULT_TIMEOUT: u64 = 10;
/// `dispatch.follow`: follow the run a dispatch starts (false: send only, as before).
pub const DEFAULT_FOLLOW: bool = true;
/// `dispatch.followFor`: how long one dispatch's run is followed, in seconds.
pub const DEFAULT_FOLLOW_FOR: u64 = 3600;
/// `dispatch.when`: after the push lands (default) or from the pre-push hook itself.
pub const DEFAULT_WHEN: When = When::AfterPush;
/// GitHub's limits on a dispatch: event_type length, client_payload keys, body size.
pub const MAX_EVENT_LEN: usize = 100;
/// At most this many top-level keys in `client_payload`.
pub const MAX_PAYLOAD_KEYS: usize = 10;
/// At most this many bytes in the request body.
pub const MAX_BODY_BYTES: usize = 64 * 1024;
/// The fields we put in `client_payload` ourselves.
pub const OWN_PAYLOAD_KEYS: [&str; 4] = ["ref", "sha", "before", "repository"];

/// When the dispatch is sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum When {
    /// From the detached waiter, once the push has landed.
    AfterPush,
    /// From the pre-push hook, before the remote has the commits.
    PrePush,
}

impl fmt::Display for When {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            When::AfterPush => "after-push",
            When::PrePush => "pre-push",
        })
    }
}

/// Where a value came from, for `list`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Origin {
    /// Nobody set it.
    Default,
    /// A config file git reads (`.git/config`, `~/.gitconfig`, …).
    File(PathBuf),
    /// The committed `.gitdispatch`.
    Shared,
    /// An environment variable.
    Env(&'static str),
    /// `git -c` or `GIT_CONFIG_*` variables.
    CommandLine,
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Origin::Default => f.write_str("default"),
            Origin::File(path) => write!(f, "{}", path.display()),
            Origin::Shared => f.write_str(SHARED_FILE),
            Origin::Env(var) => write!(f, "${var}"),
            Origin::CommandLine => f.write_str("command line"),
        }
    }
}

/// A value with where it came from.
#[derive(Clone, Debug)]
pub struct Sourced<T> {
    /// The value in force.
    pub value: T,
    /// Where it was set.
    pub origin: Origin,
}

impl<T> Sourced<T> {
    fn default(value: T) -> Self {
        Sourced {
            value,
            origin: Origin::Default,
        }
    }
}

/// A repository to dispatch to, and which pushes fire it.
#[derive(Clone, Debug)]
pub struct Target {
    /// The `<name>` in `[dispatch "<name>"]`.
    pub name: String,
    /// `owner/repo`.
    pub repository: Sourced<String>,
    /// The remote whose pushes count.
    pub remote: Sourced<String>,
    /// Branches whose pushes fire.
    pub branches: Sourced<Vec<String>>,
    /// The event_type.
    pub event: Sourced<String>,
    /// Extra `client_payload` fields.
    pub payload: Sourced<Map<String, Value>>,
    /// Which changed paths fire it (empty: any push of its branches).
    pub paths: Sourced<Vec<String>>,
    /// `workflow_dispatch` of this workflow (file name or id) instead of `repository_dispatch`.
    pub workflow: Option<Sourced<String>>,
    /// The ref a workflow dispatch runs on (default: the target's default branch).
    pub workflow_ref: Option<Sourced<String>>,
    /// The site's public URL, said with a successful build (default: GitHub Pages').
    pub url: Option<Sourced<String>>,
    /// A deploy hook instead of GitHub (`dispatch.<name>.hook`): then `repository` only
    /// names it (`netlify build hook`), and nothing is followed.
    pub hook: Option<crate::deploy_hook::Hook>,
    /// A Netlify site built through Netlify's API (`dispatch.<name>.netlify`), its build
    /// followed to live: then `repository` only names it (`netlify site <id>`).
    pub netlify: Option<String>,
}

impl Target {
    /// Whether it dispatches to GitHub (not a deploy hook, not Netlify).
    pub fn on_github(&self) -> bool {
        self.hook.is_none() && self.netlify.is_none()
    }

    /// Whether its builds are followed when `dispatch.follow` is on (a hook's are not).
    pub fn followed(&self) -> bool {
        self.hook.is_none()
    }

    /// The owner part of `owner/repo`.
    pub fn owner(&self) -> &str {
        self.repository.value.split('/').next().unwrap_or_default()
    }

    /// Whether a push of `remote_ref` to `remote` fires this target.
    pub fn fires_for(&self, remote: &str, remote_ref: &str) -> bool {
        remote == self.remote.value
            && remote_ref
                .strip_prefix("refs/heads/")
                .is_some_and(|b| self.branches.value.iter().any(|x| x == b))
    }
}

/// The `[dispatch]` settings.
#[derive(Clone, Debug)]
pub struct Settings {
    /// `dispatch.when`.
    pub when: Sourced<When>,
    /// `dispatch.strict` (pre-push mode only): a failed dispatch fails the push.
    pub strict: Sourced<bool>,
    /// `dispatch.apiUrl`, or `$GIT_DISPATCH_API_URL`; no trailing slash.
    pub api_url: Sourced<String>,
    /// `dispatch.tokenCommand`.
    pub token_command: Sourced<Option<String>>,
    /// `dispatch.timeout` in seconds.
    pub timeout: Sourced<u64>,
    /// `dispatch.follow`: find and follow the run each dispatch starts.
    pub follow: Sourced<bool>,
    /// `dispatch.followFor` in seconds: the wall-clock bound on following one dispatch.
    pub follow_for: Sourced<u64>,
    /// `dispatch.notify`: `desktop` for the OS's own notifier when a build ends.
    pub notify: Sourced<Option<String>>,
    /// `dispatch.notifyCommand`: run with `sh -c` when a followed build ends.
    pub notify_command: Sourced<Option<String>>,
}

/// Everything read from config: valid targets, settings, and what was wrong.
#[derive(Clone, Debug)]
pub struct Config {
    /// Valid targets, in the order they were defined.
    pub targets: Vec<Target>,
    /// Settings in force.
    pub settings: Settings,
    /// One line each: invalid targets skipped, `.gitdispatch` settings ignored.
    pub warnings: Vec<String>,
}

impl Config {
    /// Reads targets and settings for `repo`.
    pub fn load(repo: &Repo) -> Result<Config> {
        let snapshot = repo.config();
        let file = snapshot.plumbing();
        let mut warnings = Vec::new();

        let mut raw: Vec<RawTarget> = Vec::new();
        if let Some((path, id)) = shared::find(repo)? {
            let trusted = shared::trusted_id(file);
            if trusted.as_deref() == Some(id.as_str()) {
                read_shared(&path, &mut raw, &mut warnings);
            } else {
                warnings.push(format!(
                    "{SHARED_FILE} changed since you last trusted it; its targets are not used \
                     until you review it and run `git dispatch trust`"
                ));
            }
        }
        for section in file.sections_by_name("dispatch").into_iter().flatten() {
            let Some(name) = section.header().subsection_name() else {
                continue;
            };
            let meta = section.meta();
            if !matches!(meta.source, Source::Local | Source::Worktree) {
                continue;
            }
            let origin = meta.path.clone().map_or(Origin::CommandLine, Origin::File);
            merge_section(&mut raw, &name.to_str_lossy(), &section.body(), origin);
        }

        let mut targets = Vec::new();
        for target in raw {
            match target.validate(&mut warnings) {
                Ok(t) => targets.push(t),
                Err(err) => warnings.push(format!("target {:?} skipped: {err:#}", target.name)),
            }
        }
        let settings = read_settings(file, &mut warnings)?;
        Ok(Config {
            targets,
            settings,
            warnings,
        })
    }

    /// The target called `name`.
    pub fn target(&self, name: &str) -> Option<&Target> {
        self.targets.iter().find(|t| t.name == name)
    }

    /// The targets `names` (all when none is named), each name checked, at least one.
    pub fn select(&self, names: &[String]) -> Result<Vec<&Target>> {
        let targets: Vec<&Target> = if names.is_empty() {
            self.targets.iter().collect()
        } else {
            names
                .iter()
                .map(|n| {
                    self.target(n)
                        .with_context(|| format!("no target named {n:?}; see `git dispatch list`"))
                })
                .collect::<Result<_>>()?
        };
        if targets.is_empty() {
            bail!("no targets; add one with `git dispatch add owner/site`");
        }
        Ok(targets)
    }
}

/// One target's keys as found, before validation.
#[derive(Debug, Default)]
struct RawTarget {
    name: String,
    keys: Vec<(String, Vec<String>, Origin)>,
}

impl RawTarget {
    fn get(&self, key: &str) -> Option<(&Vec<String>, &Origin)> {
        self.keys
            .iter()
            .find(|(k, _, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v, o)| (v, o))
    }

    fn last(&self, key: &str) -> Option<Sourced<String>> {
        let (values, origin) = self.get(key)?;
        values.last().map(|v| Sourced {
            value: v.clone(),
            origin: origin.clone(),
        })
    }

    fn validate(&self, warnings: &mut Vec<String>) -> Result<Target> {
        validate_name(&self.name)?;
        let hook = match self.last("hook") {
            // Its URL is a secret stored on one machine: a committed hook would fail on all
            // the others, on every push.
            Some(h) if h.origin == Origin::Shared => bail!(
                "a deploy hook cannot be shared in .gitdispatch (its URL is stored on one \
                 machine); add it in each clone with `git dispatch add --hook {}`",
                self.name
            ),
            Some(h) => Some(
                crate::deploy_hook::Hook::parse(&h.value)
                    .with_context(|| format!("dispatch.{}.hook in {}", self.name, h.origin))?,
            ),
            None => None,
        };
        let netlify = self.last("netlify");
        if let Some(site) = &netlify {
            crate::netlify::validate_site(&site.value)
                .with_context(|| format!("dispatch.{}.netlify in {}", self.name, site.origin))?;
        }
        // GitHub's keys mean nothing to a build elsewhere: said, rather than silently
        // ignored. A Netlify site's own URL (`url`) may stand in for its `ssl_url`.
        let elsewhere = match (&hook, &netlify) {
            (Some(_), _) => Some((
                "a deploy hook",
                &["event", "payload", "workflow", "ref", "url"][..],
            )),
            (None, Some(_)) => Some((
                "a netlify target",
                &["event", "payload", "workflow", "ref"][..],
            )),
            (None, None) => None,
        };
        if let Some((what, keys)) = elsewhere {
            for key in keys {
                if self.get(key).is_some() {
                    bail!(
                        "{what} takes no {key}; `git config --unset dispatch.{}.{key}`",
                        self.name
                    );
                }
            }
        }
        let repository = match (&hook, &netlify, self.last("repository")) {
            (Some(_), Some(_), _) => bail!(
                "both a hook and a netlify site; a target is one or the other: `git dispatch \
                 remove {}` and add it again",
                self.name
            ),
            (Some(hook), None, None) => Sourced {
                value: format!("{} build hook", hook.host.as_str()),
                origin: Origin::Default,
            },
            (None, Some(site), None) => Sourced {
                value: format!("netlify site {}", crate::netlify::short_site(&site.value)),
                origin: Origin::Default,
            },
            (Some(_), None, Some(_)) | (None, Some(_), Some(_)) => bail!(
                "both a repository and a {}; a target is one or the other: `git config \
                 --unset dispatch.{}.repository` or `git dispatch remove {}`",
                if hook.is_some() {
                    "hook"
                } else {
                    "netlify site"
                },
                self.name,
                self.name
            ),
            (None, None, Some(repository)) => {
                validate_repository(&repository.value)?;
                repository
            }
            (None, None, None) => bail!(
                "no repository; set it with `git config dispatch.{}.repository owner/repo`",
                self.name
            ),
        };
        let remote = self
            .last("remote")
            .unwrap_or_else(|| Sourced::default(DEFAULT_REMOTE.into()));
        let branches = match self.get("branch") {
            Some((values, origin)) if !values.is_empty() => Sourced {
                value: values.clone(),
                origin: origin.clone(),
            },
            _ => Sourced::default(vec![DEFAULT_BRANCH.into()]),
        };
        // A bad value is dropped with a warning; the target's other branches still fire.
        let mut branches = branches;
        let mut bad = Vec::new();
        branches
            .value
            .retain(|branch| match validate_branch(branch) {
                Ok(()) => true,
                Err(err) => {
                    bad.push(format!(
                        "{err:#}; fix dispatch.{}.branch in {}",
                        self.name, branches.origin
                    ));
                    false
                }
            });
        if branches.value.is_empty() {
            bail!("{}", bad.join("; "));
        }
        warnings.extend(
            bad.iter()
                .map(|why| format!("target {:?}: {why}; its other branches fire", self.name)),
        );
        let event = self
            .last("event")
            .unwrap_or_else(|| Sourced::default(DEFAULT_EVENT.into()));
        validate_event(&event.value)?;
        let payload = match self.last("payload") {
            Some(p) => Sourced {
                value: parse_payload(&p.value)?,
                origin: p.origin,
            },
            None => Sourced::default(Map::new()),
        };
        let paths = match self.get("paths") {
            Some((values, origin)) if !values.is_empty() => Sourced {
                value: values.clone(),
                origin: origin.clone(),
            },
            _ => Sourced::default(Vec::new()),
        };
        let total = payload
            .value
            .keys()
            .filter(|k| !OWN_PAYLOAD_KEYS.contains(&k.as_str()))
            .count()
            + OWN_PAYLOAD_KEYS.len()
            + usize::from(!paths.value.is_empty());
        if total > MAX_PAYLOAD_KEYS {
            bail!("payload plus git-dispatch's fields (and `paths`) make {total} keys; GitHub takes {MAX_PAYLOAD_KEYS}; drop some");
        }
        let workflow = self.last("workflow");
        if let Some(w) = &workflow {
            validate_workflow(&w.value)?;
        }
        let workflow_ref = self.last("ref");
        if let Some(r) = &workflow_ref {
            if r.value.trim().is_empty() || r.value.contains(char::is_whitespace) {
                bail!(
                    "ref {:?} is not a branch or tag name; fix it or unset it",
                    r.value
                );
            }
        }
        // A bad URL is dropped with a warning: it is said, never opened, but it reaches a
        // notification's environment, so only a plain https URL passes.
        let url = match self.last("url") {
            Some(u) => match validate_site_url(&u.value) {
                Ok(()) => Some(u),
                Err(err) => {
                    warnings.push(format!(
                        "target {:?}: {err:#}; fix dispatch.{}.url in {}",
                        self.name, self.name, u.origin
                    ));
                    None
                }
            },
            None => None,
        };
        Ok(Target {
            url,
            hook,
            netlify: netlify.map(|s| s.value),
            name: self.name.clone(),
            repository,
            remote,
            branches,
            event,
            payload,
            paths,
            workflow,
            workflow_ref,
        })
    }
}

/// Adds a section's keys to the target of that name; later sources override earlier ones
/// key by key (a multi-valued key is replaced whole).
fn merge_section(
    raw: &mut Vec<RawTarget>,
    name: &str,
    body: &gix::config::file::section::BodyRef<'_>,
    origin: Origin,
) {
    let index = match raw.iter().position(|t| t.name == name) {
        Some(i) => i,
        None => {
            raw.push(RawTarget {
                name: name.to_string(),
                keys: Vec::new(),
            });
            raw.len() - 1
        }
    };
    let target = &mut raw[index];
    // Each key once, in the order first seen: `branch`, `event`, `branch` is two keys.
    let mut names: Vec<String> = Vec::new();
    for name in body.value_names().map(|n| n.to_ascii_lowercase()) {
        if !names.contains(&name) {
            names.push(name);
        }
    }
    for key in names {
        let values: Vec<String> = body
            .values(&key)
            .iter()
            .map(|v| v.to_str_lossy().into_owned())
            .collect();
        // Within one target, several sections in the same source add up (git's multivars).
        match target.keys.iter_mut().find(|(k, _, _)| *k == key) {
            Some((_, existing, o)) if *o == origin => existing.extend(values),
            Some(slot) => *slot = (key, values, origin.clone()),
            None => target.keys.push((key, values, origin.clone())),
        }
    }
}

fn read_shared(path: &Path, raw: &mut Vec<RawTarget>, warnings: &mut Vec<String>) {
    let file = match gix::config::File::from_path_no_includes(path.to_path_buf(), Source::Local) {
        Ok(file) => file,
        Err(err) => {
            warnings.push(format!(
                "{SHARED_FILE} ignored: {err}; fix its syntax (it is git config syntax)"
            ));
            return;
        }
    };
    for section in file.sections_by_name("dispatch").into_iter().flatten() {
        match section.header().subsection_name() {
            Some(name) => merge_section(raw, &name.to_str_lossy(), &section.body(), Origin::Shared),
            None => {
                for key in section.body().value_names() {
                    warnings.push(format!(
                        "dispatch.{key} in {SHARED_FILE} ignored: a committed file may define \
                         targets only; set it with `git config dispatch.{key} …`"
                    ));
                }
            }
        }
    }
}

fn read_settings(file: &gix::config::File, warnings: &mut Vec<String>) -> Result<Settings> {
    let find = |key: &str| -> Option<Sourced<String>> {
        let mut found = None;
        for section in file.sections_by_name("dispatch").into_iter().flatten() {
            if section.header().subsection_name().is_some() {
                continue;
            }
            if let Some(v) = section.body().values(key).last() {
                let meta = section.meta();
                let origin = match (&meta.path, meta.source) {
                    (Some(path), _) => Origin::File(path.clone()),
                    (None, _) => Origin::CommandLine,
                };
                found = Some(Sourced {
                    value: v.to_str_lossy().into_owned(),
                    origin,
                });
            }
        }
        found
    };
    let when = parsed(
        find("when"),
        "when",
        DEFAULT_WHEN,
        "after-push or pre-push",
        warnings,
        |v| match v {
            "after-push" => Some(When::AfterPush),
            "pre-push" => Some(When::PrePush),
            _ => None,
        },
    );
    let strict = parsed(
        find("strict"),
        "strict",
        false,
        "true or false",
        warnings,
        parse_bool,
    );
    let api_url = match std::env::var(env::API_URL) {
        Ok(url) if !url.is_empty() => Sourced {
            value: url,
            origin: Origin::Env(env::API_URL),
        },
        _ => find("apiUrl").unwrap_or_else(|| Sourced::default(DEFAULT_API_URL.into())),
    };
    let api_url = Sourced {
        value: api_url.value.trim_end_matches('/').to_string(),
        origin: api_url.origin,
    };
    let token_command = command(find("tokenCommand"));
    let timeout = parsed(
        find("timeout"),
        "timeout",
        DEFAULT_TIMEOUT,
        "a whole number of seconds from 1 to 600",
        warnings,
        |v| seconds(v, 600),
    );
    let follow = parsed(
        find("follow"),
        "follow",
        DEFAULT_FOLLOW,
        "true or false",
        warnings,
        parse_bool,
    );
    let follow_for = parsed(
        find("followFor"),
        "followFor",
        DEFAULT_FOLLOW_FOR,
        "a whole number of seconds from 1 to 86400",
        warnings,
        |v| seconds(v, 86400),
    );
    let notify = parsed(
        find("notify"),
        "notify",
        None,
        "desktop or none",
        warnings,
        |v| match v.trim() {
            "desktop" => Some(Some("desktop".to_string())),
            "" | "none" | "false" => Some(None),
            _ => None,
        },
    );
    let notify_command = command(find("notifyCommand"));
    Ok(Settings {
        when,
        strict,
        api_url,
        token_command,
        timeout,
        follow,
        follow_for,
        notify,
        notify_command,
    })
}

/// A setting as found, read by `parse`; a value it refuses is named in a warning with the
/// fix, and the default is used.
fn parsed<T>(
    found: Option<Sourced<String>>,
    key: &str,
    default: T,
    want: &str,
    warnings: &mut Vec<String>,
    parse: impl Fn(&str) -> Option<T>,
) -> Sourced<T> {
    let Some(found) = found else {
        return Sourced::default(default);
    };
    match parse(&found.value) {
        Some(value) => Sourced {
            value,
            origin: found.origin,
        },
        None => {
            warnings.push(format!(
                "dispatch.{key} = {:?} is not {want}; using the default (fix it with `git config dispatch.{key} …`)",
                found.value
            ));
            Sourced::default(default)
        }
    }
}

/// A command setting: unset when empty.
fn command(found: Option<Sourced<String>>) -> Sourced<Option<String>> {
    match found {
        Some(s) if !s.value.trim().is_empty() => Sourced {
            value: Some(s.value),
            origin: s.origin,
        },
        _ => Sourced::default(None),
    }
}

/// A whole number of seconds from 1 to `max`.
fn seconds(value: &str, max: u64) -> Option<u64> {
    value.trim().parse().ok().filter(|n| (1..=max).contains(n))
}

/// Git's boolean spellings.
fn parse_bool(value: &str) -> Option<bool> {
    match value.trim().to_ascii_lowercase().as_str() {
        "true" | "yes" | "on" | "1" | "" => Some(true),
        "false" | "no" | "off" | "0" => Some(false),
        _ => None,
    }
}

/// A branch as `--branch` and `dispatch.<name>.branch` take it: a short name like `main`,
/// for which `refs/heads/<name>` passes git's `check-ref-format` rules (on bytes, as git
/// checks them: only ASCII control characters and space are refused).
pub fn validate_branch(branch: &str) -> Result<()> {
    if let Some(short) = branch.strip_prefix("refs/heads/") {
        bail!("branch {branch:?} should be a branch name like {short:?}, without refs/heads/");
    }
    let bad_byte = branch
        .bytes()
        .any(|b| b < 0x20 || b == 0x7f || b" ~^:?*[\\".contains(&b));
    let bad_component = branch
        .split('/')
        .any(|c| c.is_empty() || c.starts_with('.') || c.ends_with(".lock"));
    if branch.is_empty()
        || bad_byte
        || bad_component
        || branch.ends_with('.')
        || branch.contains("..")
        || branch.contains("@{")
    {
        bail!("branch {branch:?} is not a valid branch name; give one like main");
    }
    Ok(())
}

/// `git config --file <file> <args…>`: git writes config (locking, quoting) as it does for
/// itself, so ours never differs from what `git config` would have written.
pub fn write(file: &Path, args: &[&str]) -> Result<()> {
    let mut command = std::process::Command::new("git");
    command.arg("config").arg("--file").arg(file).args(args);
    let output = crate::child::output_within(
        &mut command,
        std::time::Duration::from_secs(30),
        "git config",
    )?;
    if !output.status.success() {
        bail!(
            "git config {} failed: {}",
            args.join(" "),
            crate::child::first_error_line(&output)
        );
    }
    Ok(())
}

/// Whether `file` has a `[dispatch "<name>"]` section.
pub fn has_target(file: &Path, name: &str) -> Result<bool> {
    if !file.exists() {
        return Ok(false);
    }
    let parsed = gix::config::File::from_path_no_includes(file.to_path_buf(), Source::Local)
        .with_context(|| format!("reading {}", file.display()))?;
    let found = parsed
        .sections_by_name("dispatch")
        .into_iter()
        .flatten()
        .any(|s| {
            s.header()
                .subsection_name()
                .is_some_and(|n| n == name.as_bytes())
        });
    Ok(found)
}

/// A site's public URL: https, a host, no user info, no white space or control characters.
pub fn validate_site_url(url: &str) -> Result<()> {
    let host = url
        .strip_prefix("https://")
        .map(|rest| rest.split('/').next().unwrap_or_default());
    let ok = host.is_some_and(|h| !h.is_empty() && !h.contains('@'))
        && url.len() <= 2000
        && !url.chars().any(|c| c.is_whitespace() || c.is_control());
    if !ok {
        bail!("url {url:?} is not an https URL without user info (like https://blog.example.com/)");
    }
    Ok(())
}

/// A target name must be usable as a git config subsection and a file name.
pub fn validate_name(name: &str) -> Result<()> {
    let ok = !name.is_empty()
        && name.len() <= 100
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        && !name.starts_with('.');
    if !ok {
        bail!("target name {name:?} must be letters, digits, '-', '_' or '.'; pick another with --name");
    }
    Ok(())
}

/// `owner/repo` as GitHub allows them.
pub fn validate_repository(repository: &str) -> Result<()> {
    let fix = "give it as owner/repo, like octo-org/site";
    let Some((owner, name)) = repository.split_once('/') else {
        bail!("{repository:?} is not owner/repo; {fix}");
    };
    let owner_ok = (1..=39).contains(&owner.len())
        && owner.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        && !owner.starts_with('-');
    let name_ok = (1..=100).contains(&name.len())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        && name != "."
        && name != "..";
    if !owner_ok || !name_ok {
        bail!("{repository:?} is not a valid GitHub owner/repo; {fix}");
    }
    Ok(())
}

/// A workflow as GitHub's API names it: a file name in `.github/workflows` or a numeric id.
pub fn validate_workflow(workflow: &str) -> Result<()> {
    let is_id = !workflow.is_empty() && workflow.bytes().all(|b| b.is_ascii_digit());
    let is_file = (workflow.ends_with(".yml") || workflow.ends_with(".yaml"))
        && workflow
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if !is_id && !is_file {
        bail!("workflow {workflow:?} should be a file name in .github/workflows (like build.yml) or a workflow id");
    }
    Ok(())
}

/// An event_type GitHub accepts: 1 to 100 characters.
pub fn validate_event(event: &str) -> Result<()> {
    let len = event.chars().count();
    if !(1..=MAX_EVENT_LEN).contains(&len) {
        bail!("event {event:?} has {len} characters; GitHub takes 1 to {MAX_EVENT_LEN}");
    }
    Ok(())
}

/// `payload` must be a JSON object that, with our own fields, stays within 10 keys.
pub fn parse_payload(text: &str) -> Result<Map<String, Value>> {
    let value: Value = serde_json::from_str(text).map_err(|err| {
        anyhow::anyhow!(
            "payload is not valid JSON ({err}); give a JSON object like {{\"site\":\"blog\"}}"
        )
    })?;
    let Value::Object(map) = value else {
        bail!("payload must be a JSON object like {{\"site\":\"blog\"}}, not {text}");
    };
    let extra = map
        .keys()
        .filter(|k| !OWN_PAYLOAD_KEYS.contains(&k.as_str()))
        .count();
    if extra + OWN_PAYLOAD_KEYS.len() > MAX_PAYLOAD_KEYS {
        bail!(
            "payload has {extra} fields; with git-dispatch's {} that passes GitHub's limit of {MAX_PAYLOAD_KEYS} top-level keys; drop some",
            OWN_PAYLOAD_KEYS.len()
        );
    }
    Ok(map)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repositories() {
        assert!(validate_repository("octo-org/site").is_ok());
        assert!(validate_repository("o/my.site_2").is_ok());
        for bad in [
            "nope", "a/b/c", "/x", "x/", "-o/x", "o/..", "o w/x", "o/x y",
        ] {
            let err = validate_repository(bad).unwrap_err().to_string();
            assert!(err.contains("owner/repo"), "{bad}: {err}");
        }
    }

    #[test]
    fn events() {
        assert!(validate_event("update").is_ok());
        assert!(validate_event(&"x".repeat(100)).is_ok());
        assert!(validate_event("").is_err());
        assert!(validate_event(&"x".repeat(101))
            .unwrap_err()
            .to_string()
            .contains("1 to 100"));
    }

    #[test]
    fn payloads() {
        assert_eq!(parse_payload(r#"{"site":"blog"}"#).unwrap().len(), 1);
        assert!(parse_payload("[1]")
            .unwrap_err()
            .to_string()
            .contains("JSON object"));
        assert!(parse_payload("{")
            .unwrap_err()
            .to_string()
            .contains("not valid JSON"));
        let seven: String = (0..7)
            .map(|i| format!("\"k{i}\":1"))
            .collect::<Vec<_>>()
            .join(",");
        assert!(parse_payload(&format!("{{{seven}}}"))
            .unwrap_err()
            .to_string()
            .contains("10"));
        let six: String = (0..6)
            .map(|i| format!("\"k{i}\":1"))
            .collect::<Vec<_>>()
            .join(",");
        assert!(parse_payload(&format!("{{{six}}}")).is_ok());
    }

    #[test]
    fn branches_are_short_names_git_accepts() {
        for good in ["main", "release/2026", "feature-x", "v1.2"] {
            assert!(validate_branch(good).is_ok(), "{good}");
        }
        let err = validate_branch("refs/heads/main").unwrap_err().to_string();
        assert!(err.contains("like \"main\""), "{err}");
        for bad in [
            "", "a b", "a..b", "x.lock", "a:b", "a~1", "a^", "x/", "/x", "a@{1}", ".x",
        ] {
            assert!(validate_branch(bad).is_err(), "{bad:?}");
        }
        // Names git takes as refs/heads/<name>, odd as they are.
        for odd in ["@", "-x", "refs/x", "caf\u{e9}", "a\u{a0}b"] {
            assert!(validate_branch(odd).is_ok(), "{odd:?}");
        }
    }

    #[test]
    fn site_urls_are_plain_https() {
        assert!(validate_site_url("https://blog.example.com/").is_ok());
        assert!(validate_site_url("https://owner.github.io/site/").is_ok());
        for bad in [
            "http://blog.example.com/",
            "https://u:p@blog.example.com/",
            "https://",
            "https://a b/",
            "https://x/\u{1b}[31m",
            "javascript:alert(1)",
        ] {
            assert!(validate_site_url(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn booleans() {
        assert_eq!(parse_bool("Yes"), Some(true));
        assert_eq!(parse_bool("off"), Some(false));
        assert_eq!(parse_bool("maybe"), None);
    }

    mod properties {
        use super::super::*;
        use proptest::prelude::*;

        proptest! {
            #[test]
            fn validators_never_panic(text in "\\PC{0,120}") {
                let _ = validate_repository(&text);
                let _ = validate_event(&text);
                let _ = validate_name(&text);
                let _ = parse_payload(&text);
            }

            #[test]
            fn real_repository_names_are_accepted(
                owner in "[A-Za-z0-9][A-Za-z0-9-]{0,38}",
                name in "[A-Za-z0-9_][A-Za-z0-9._-]{0,99}",
            ) {
                let repository = format!("{owner}/{name}");
                prop_assert!(validate_repository(&repository).is_ok());
            }

            #[test]
            fn more_than_one_slash_is_refused(a in "[a-z]{1,9}", b in "[a-z]{1,9}", c in "[a-z]{1,9}") {
                let repository = format!("{a}/{b}/{c}");
                let err = validate_repository(&repository).unwrap_err();
                prop_assert!(err.to_string().contains("owner/repo"));
            }

            #[test]
            fn a_payload_is_accepted_exactly_when_the_sent_body_fits_githubs_key_limit(
                // Our own keys among them now and then: theirs are replaced, not added.
                keys in proptest::collection::btree_map(
                    prop_oneof!["[a-z]{1,8}", Just("sha".to_string()), Just("ref".to_string())],
                    0u32..100,
                    0..12,
                )
            ) {
                let text = serde_json::to_string(&keys).unwrap();
                let theirs = keys.keys().filter(|k| !OWN_PAYLOAD_KEYS.contains(&k.as_str())).count();
                match parse_payload(&text) {
                    Ok(map) => {
                        prop_assert!(theirs + OWN_PAYLOAD_KEYS.len() <= MAX_PAYLOAD_KEYS);
                        // What is sent holds at most GitHub's 10 keys.
                        let push = crate::payload::PushFacts {
                            remote_ref: "refs/heads/main",
                            sha: "a",
                            before: "b",
                            repository: "o/c",
                            paths: None,
                        };
                        let (body, _) = crate::payload::dispatch_body("update", &push, &map).unwrap();
                        let sent: Value = serde_json::from_str(&body).unwrap();
                        let count = sent["client_payload"].as_object().unwrap().len();
                        prop_assert_eq!(count, theirs + OWN_PAYLOAD_KEYS.len());
                        prop_assert!(count <= MAX_PAYLOAD_KEYS);
                    }
                    Err(err) => {
                        prop_assert!(theirs + OWN_PAYLOAD_KEYS.len() > MAX_PAYLOAD_KEYS);
                        prop_assert!(err.to_string().contains("10"));
                    }
                }
            }

            #[test]
            fn events_of_1_to_100_characters_and_no_others(event in "\\PC{0,120}") {
                let len = event.chars().count();
                prop_assert_eq!(validate_event(&event).is_ok(), (1..=100).contains(&len));
            }
        }
    }
}
