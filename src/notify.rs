//! Telling the writer a followed build ended, where they will see it: `dispatch.notify =
//! desktop` (the OS's own notifier) or `dispatch.notifyCommand` (run with `sh -c`).
//!
//! Only validated values reach the command's environment: the outcome from a fixed set,
//! the run's URL parsed as https without user info, the names checked as config checks
//! them, the sha as hex. Never the token, which is removed explicitly. The command is
//! bounded by `dispatch.timeout`, its process group killed past it, its exit logged.
//! Values go to a command as environment or arguments, never spliced into a script:
//! `sh -c` is safe that way, AppleScript or JSON built by interpolation are not.

use std::process::Command;
use std::time::Duration;

use crate::config::Settings;
use crate::follow::record::Follow;
use crate::store::Store;

/// Says `follow`'s outcome on each configured channel. Failures are logged, never raised:
/// a notification is a nicety.
pub fn announce(store: &Store, settings: &Settings, follow: &Follow, desktop_said: &mut bool) {
    let Some(outcome) = follow.outcome else {
        return;
    };
    let run_url = follow
        .build_url()
        .and_then(|u| crate::follow::record::web_url(&u))
        .filter(|u| u.starts_with("https://"));
    let vars: Vec<(&str, String)> = [
        ("GIT_DISPATCH_OUTCOME", Some(outcome.as_str().to_string())),
        ("GIT_DISPATCH_RUN_URL", run_url),
        (
            "GIT_DISPATCH_TARGET",
            crate::config::validate_name(&follow.target)
                .is_ok()
                .then(|| follow.target.clone()),
        ),
        (
            "GIT_DISPATCH_REPOSITORY",
            crate::config::validate_repository(&follow.repository)
                .is_ok()
                .then(|| follow.repository.clone()),
        ),
        (
            "GIT_DISPATCH_SITE_URL",
            follow
                .site_url
                .clone()
                .filter(|u| crate::config::validate_site_url(u).is_ok()),
        ),
        (
            "GIT_DISPATCH_SHA",
            follow
                .sha
                .bytes()
                .all(|b| b.is_ascii_hexdigit())
                .then(|| follow.sha.clone()),
        ),
    ]
    .into_iter()
    .filter_map(|(k, v)| v.map(|v| (k, v)))
    .collect();

    if let Some(command) = &settings.notify_command.value {
        let mut child = Command::new("sh");
        child.arg("-c").arg(command);
        for (key, value) in &vars {
            child.env(key, value);
        }
        let bound = Duration::from_secs(settings.timeout.value);
        let what = "dispatch.notifyCommand";
        match crate::child::output_within(&mut child, bound, what) {
            Ok(out) => store.log(
                "notified",
                None,
                &format!("{what} for {}: {}", follow.id, out.status),
            ),
            Err(err) => store.log("error", None, &format!("{err:#} (dispatch.timeout)")),
        }
    }
    if settings.notify.value.as_deref() == Some("desktop") {
        let title = if outcome.is_good() {
            format!("{} is built", follow.repository)
        } else {
            format!("{} did not build", follow.repository)
        };
        let body = crate::say::one_line(&follow.words());
        if let Err(why) = desktop(&title, &body, settings) {
            if !*desktop_said {
                *desktop_said = true;
                store.mark_notify_failed(&why);
                store.log(
                    "error",
                    None,
                    &format!(
                        "dispatch.notify = desktop: {why}; set dispatch.notifyCommand instead"
                    ),
                );
            }
        }
    }
}

/// Whether the OS's own notifier can run here (for `doctor`): why not, with the fix.
pub fn desktop_ready() -> Result<&'static str, String> {
    let on_path = |program: &str| {
        std::env::var_os(crate::env::PATH).is_some_and(|path| {
            std::env::split_paths(&path).any(|dir| crate::install::runnable(&dir.join(program)))
        })
    };
    if cfg!(target_os = "macos") {
        return if on_path("osascript") {
            Ok("osascript")
        } else {
            Err("osascript is not on PATH".into())
        };
    }
    if std::env::var_os("DBUS_SESSION_BUS_ADDRESS").is_none() {
        return Err(
            "no session bus here (DBUS_SESSION_BUS_ADDRESS is not set: a remote or \
                    headless session)"
                .into(),
        );
    }
    if !on_path("notify-send") {
        return Err("notify-send is not on PATH (Debian/Ubuntu: libnotify-bin)".into());
    }
    Ok("notify-send")
}

/// The OS's own notifier: notify-send with a session bus, osascript on macOS. The title
/// and body are arguments, never part of a script.
fn desktop(title: &str, body: &str, settings: &Settings) -> Result<(), String> {
    // The same check as doctor's, so the reason logged is the one doctor gives.
    desktop_ready()?;
    let mut command = if cfg!(target_os = "macos") {
        let mut c = Command::new("osascript");
        c.args([
            "-e",
            "on run argv",
            "-e",
            "display notification (item 2 of argv) with title (item 1 of argv)",
            "-e",
            "end run",
            title,
            body,
        ]);
        c
    } else {
        let mut c = Command::new("notify-send");
        c.args(["--app-name=git-dispatch", "--", title, body]);
        c
    };
    let bound = Duration::from_secs(settings.timeout.value);
    match crate::child::output_within(&mut command, bound, "the desktop notifier") {
        Ok(out) if out.status.success() => Ok(()),
        Ok(out) => Err(format!("the notifier failed ({})", out.status)),
        Err(err) => Err(format!("{err:#}")),
    }
}
