//! Finding the token, and storing it with `login`.
//!
//! Order: `$GIT_DISPATCH_TOKEN`, then `dispatch.tokenCommand`, then the credentials file
//! `<config dir>/git-dispatch/credentials.json` (mode 0600), whose keys are API hosts,
//! optionally `host/owner` since a fine-grained token belongs to one owner.

use std::fmt;
use std::fs::{self, OpenOptions};
use std::io::{Read, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use serde_json::{Map, Value};

use crate::config::Settings;
use crate::env;

/// A token. Its `Debug` and `Display` never show it.
#[derive(Clone)]
pub struct Token(String);

impl Token {
    /// Checks the shape: one line, no spaces or control characters (it goes in a header).
    pub fn new(raw: &str, from: &str) -> Result<Token> {
        let token = raw.trim();
        if token.is_empty() {
            bail!("the token from {from} is empty; {}", HOW_TO_GIVE);
        }
        if token.chars().any(|c| c.is_whitespace() || c.is_control()) {
            bail!("the token from {from} has spaces or control characters; give the token alone");
        }
        Ok(Token(token.to_string()))
    }

    /// The secret itself, for the Authorization header only.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Token(********)")
    }
}

const HOW_TO_GIVE: &str = "give one with `git dispatch login`, $GIT_DISPATCH_TOKEN, \
     or `git config dispatch.tokenCommand \"gh auth token\"`";

/// The token for `api_host` and the target's `owner`, in the documented order.
pub fn find(settings: &Settings, api_host: &str, owner: &str) -> Result<Token> {
    if let Ok(raw) = std::env::var(env::TOKEN) {
        if !raw.trim().is_empty() {
            return Token::new(&raw, env::TOKEN);
        }
    }
    if let Some(command) = &settings.token_command.value {
        return run_token_command(command, Duration::from_secs(settings.timeout.value));
    }
    let path = credentials_path()?;
    let creds = read_credentials(&path)?;
    let found = creds
        .get(&key(api_host, Some(owner)))
        .or_else(|| creds.get(api_host))
        .and_then(Value::as_str);
    match found {
        Some(raw) => Token::new(raw, &path.display().to_string()),
        None => bail!("no token for {api_host}; {HOW_TO_GIVE}"),
    }
}

/// Runs `dispatch.tokenCommand` with `sh -c`, as git runs config commands, without our token
/// in its environment, bounded in time.
fn run_token_command(command: &str, timeout: Duration) -> Result<Token> {
    let output = crate::child::output_within(
        Command::new("sh").arg("-c").arg(command),
        timeout,
        "dispatch.tokenCommand",
    )
    .map_err(|err| {
        anyhow::anyhow!("{err:#} (dispatch.timeout); check it runs on its own: sh -c '{command}'")
    })?;
    if !output.status.success() {
        bail!(
            "dispatch.tokenCommand failed ({}): {}; fix it or unset it with `git config --unset dispatch.tokenCommand`",
            output.status,
            crate::child::first_error_line(&output)
        );
    }
    Token::new(
        &String::from_utf8_lossy(&output.stdout),
        "dispatch.tokenCommand",
    )
}

/// `<config dir>/git-dispatch/credentials.json`.
pub fn credentials_path() -> Result<PathBuf> {
    let dir = dirs::config_dir().context("no config directory (set HOME or XDG_CONFIG_HOME)")?;
    Ok(dir.join("git-dispatch").join("credentials.json"))
}

/// The stored tokens, refusing a file others can read.
fn read_credentials(path: &std::path::Path) -> Result<Map<String, Value>> {
    let meta = match fs::metadata(path) {
        Ok(meta) => meta,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(Map::new()),
        Err(err) => return Err(err).with_context(|| format!("reading {}", path.display())),
    };
    if meta.is_dir() {
        bail!(
            "{} is a directory; remove it and run `git dispatch login`",
            path.display()
        );
    }
    if meta.permissions().mode() & 0o077 != 0 {
        bail!(
            "{} can be read by others; run `chmod 600 {}`",
            path.display(),
            path.display()
        );
    }
    let text = fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    if text.iter().all(u8::is_ascii_whitespace) {
        return Ok(Map::new());
    }
    match serde_json::from_slice::<Value>(&text) {
        Ok(Value::Object(map)) => Ok(map),
        _ => bail!(
            "{} is not a git-dispatch credentials file; remove it and run `git dispatch login`",
            path.display()
        ),
    }
}

/// The key a token is filed under: `host`, or `host/owner` for a token that serves one
/// owner only (a fine-grained token belongs to one owner).
pub fn key(api_host: &str, owner: Option<&str>) -> String {
    match owner {
        Some(o) => format!("{api_host}/{}", o.to_ascii_lowercase()),
        None => api_host.to_string(),
    }
}

/// The token stored under `key`, if any.
pub fn stored(key: &str) -> Result<Option<Token>> {
    let path = credentials_path()?;
    let creds = read_credentials(&path)?;
    creds
        .get(key)
        .and_then(Value::as_str)
        .map(|raw| Token::new(raw, &path.display().to_string()))
        .transpose()
}

/// Stores `token` for `api_host`; the file is 0600 from its first byte.
pub fn store(api_host: &str, token: &Token) -> Result<PathBuf> {
    let path = credentials_path()?;
    let mut creds = read_credentials(&path)?;
    creds.insert(
        api_host.to_string(),
        Value::String(token.expose().to_string()),
    );
    write_private(&path, &creds)?;
    Ok(path)
}

/// Forgets the token stored under `key` (`host` also forgets its `host/owner` tokens);
/// whether there was one.
pub fn forget(key: &str) -> Result<bool> {
    let path = credentials_path()?;
    let mut creds = read_credentials(&path)?;
    let prefix = format!("{key}/");
    let before = creds.len();
    creds.retain(|k, _| k != key && !k.starts_with(&prefix));
    if creds.len() == before {
        return Ok(false);
    }
    if creds.is_empty() {
        fs::remove_file(&path).with_context(|| format!("removing {}", path.display()))?;
    } else {
        write_private(&path, &creds)?;
    }
    Ok(true)
}

fn write_private(path: &std::path::Path, creds: &Map<String, Value>) -> Result<()> {
    let dir = path.parent().context("credentials path has no directory")?;
    fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let _ = fs::set_permissions(dir, fs::Permissions::from_mode(0o700));
    let tmp = dir.join(format!(".credentials.{}.tmp", std::process::id()));
    let _ = fs::remove_file(&tmp);
    // Created 0600, never briefly readable: the mode is set by open(2), not afterwards.
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&tmp)
        .with_context(|| format!("writing {}", tmp.display()))?;
    let text = Value::Object(creds.clone()).to_string();
    file.write_all(text.as_bytes())
        .and_then(|()| file.sync_all())
        .with_context(|| format!("writing {}", tmp.display()))?;
    fs::rename(&tmp, path).with_context(|| format!("replacing {}", path.display()))
}

/// Reads a token from standard input; on a terminal, without echo.
pub fn read_from_stdin() -> Result<String> {
    read_secret("the token")
}

/// A secret (`what`: "the token", "the hook URL") from standard input: on a terminal,
/// asked for with echo off; else read whole (bounded).
pub fn read_secret(what: &str) -> Result<String> {
    let terminal = unsafe { libc::isatty(0) } == 1;
    if !terminal {
        let mut raw = String::new();
        std::io::stdin()
            .take(16 * 1024)
            .read_to_string(&mut raw)
            .with_context(|| format!("reading {what} from standard input"))?;
        return Ok(raw);
    }
    // Echo off before the prompt shows, so a token pasted at once is never echoed.
    let echo = Echo::off();
    let hidden = if echo.0.is_some() {
        " (input hidden)"
    } else {
        ""
    };
    eprint!("git-dispatch: paste {what}{hidden}: ");
    let _ = std::io::stderr().flush();
    let mut line = String::new();
    let read = std::io::stdin().read_line(&mut line);
    drop(echo);
    read.with_context(|| format!("reading {what} from the terminal"))?;
    Ok(line)
}

/// The terminal settings to restore if Ctrl-C ends us at the hidden prompt. Written once
/// before the handler is installed; read only by the handler.
static mut SAVED_TERMIOS: Option<libc::termios> = None;

extern "C" fn restore_and_die(signal: libc::c_int) {
    // SAFETY: tcsetattr, signal and raise are async-signal-safe; SAVED_TERMIOS was written
    // before this handler was installed and is not written again while it is.
    unsafe {
        if let Some(saved) = *std::ptr::addr_of!(SAVED_TERMIOS) {
            libc::tcsetattr(0, libc::TCSANOW, &saved);
        }
        libc::signal(signal, libc::SIG_DFL);
        libc::raise(signal);
    }
}

/// Terminal echo switched off until dropped, or until Ctrl-C (which restores it first).
struct Echo(Option<libc::termios>);

impl Echo {
    fn off() -> Echo {
        // SAFETY: termios is plain data; tcgetattr fills it or fails. The handler only
        // restores what was saved here.
        unsafe {
            let mut term: libc::termios = std::mem::zeroed();
            if libc::tcgetattr(0, &mut term) != 0 {
                return Echo(None);
            }
            let saved = term;
            *std::ptr::addr_of_mut!(SAVED_TERMIOS) = Some(saved);
            for signal in [libc::SIGINT, libc::SIGTERM, libc::SIGHUP, libc::SIGQUIT] {
                libc::signal(signal, restore_and_die as *const () as libc::sighandler_t);
            }
            term.c_lflag &= !libc::ECHO;
            term.c_lflag |= libc::ECHONL;
            if libc::tcsetattr(0, libc::TCSANOW, &term) != 0 {
                return Echo(None);
            }
            Echo(Some(saved))
        }
    }
}

impl Drop for Echo {
    fn drop(&mut self) {
        // SAFETY: restores the attributes read in `off`, then the default signal handling.
        unsafe {
            if let Some(saved) = self.0 {
                libc::tcsetattr(0, libc::TCSANOW, &saved);
            }
            for signal in [libc::SIGINT, libc::SIGTERM, libc::SIGHUP, libc::SIGQUIT] {
                libc::signal(signal, libc::SIG_DFL);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_checked_and_never_shown() {
        let t = Token::new("  github_pat_abc\r\n", "test").unwrap();
        assert_eq!(t.expose(), "github_pat_abc");
        assert_eq!(format!("{t:?}"), "Token(********)");
        assert!(Token::new("\n", "x")
            .unwrap_err()
            .to_string()
            .contains("login"));
        assert!(Token::new("a b", "x").is_err());
    }
}
