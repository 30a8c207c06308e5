//! `install.sh`, the man page and the shell completions, run for real.
//!
//! install.sh runs with `PREFIX` and `CARGO_TARGET_DIR` in the test's temp dir and a fake
//! `cargo` first on `PATH`, which "builds" by copying the binary under test into
//! `$CARGO_TARGET_DIR/release/`. The guided setup runs on a pseudo-terminal driven from
//! here: answer the repository prompt, wait until the token prompt has switched echo off,
//! type the token, and check it never shows in what the terminal displayed.
//!
//! The completions run in `bash --norc` with `COMP_WORDS`/`COMP_CWORD` set as bash sets
//! them, and what they offer is compared with what `git-dispatch --help` lists, so a new
//! subcommand or flag that the completions or the man page miss fails here.

use std::collections::BTreeSet;
use std::ffi::{CStr, OsStr, OsString};
use std::fs::{self, File, OpenOptions};
use std::io::{Read, Write};
use std::os::fd::AsRawFd;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::OpenOptionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Output, Stdio};
use std::sync::{mpsc, Arc, Mutex};
use std::thread;
use std::time::Instant;

use crate::support::*;
use serde_json::Value;

/// The checkout: install.sh, doc/ and completions/ live here.
fn repo_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn install_sh() -> PathBuf {
    repo_dir().join("install.sh")
}

fn read(path: &Path) -> Vec<u8> {
    fs::read(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
}

fn read_text(path: &Path) -> String {
    String::from_utf8(read(path)).unwrap_or_else(|e| panic!("{} is not UTF-8: {e}", path.display()))
}

// ---------------------------------------------------------------------------
// Running install.sh
// ---------------------------------------------------------------------------

/// A `TestEnv` plus where install.sh installs to and the fake cargo it runs.
struct Setup {
    env: TestEnv,
    /// install.sh as this setup runs it: the checkout's, or for another user a readable
    /// copy (a checkout under /root is not theirs to read).
    script: PathBuf,
    prefix: PathBuf,
    target_dir: PathBuf,
    fakebin: PathBuf,
    cargo_log: PathBuf,
}

/// The fake cargo: records its arguments and copies the binary under test with `cp` (in
/// this child process, so no file this test process has open for writing is ever
/// executed: no ETXTBSY when another test thread forks meanwhile).
fn fake_cargo_script() -> String {
    format!(
        "#!/bin/sh\n\
         # A stand-in for cargo: \"builds\" by copying the binary under test.\n\
         set -eu\n\
         printf '%s\\n' \"$*\" >>\"$FAKE_CARGO_LOG\"\n\
         mkdir -p \"$CARGO_TARGET_DIR/release\"\n\
         cp {bin} \"$CARGO_TARGET_DIR/release/git-dispatch.tmp.$$\"\n\
         mv -f \"$CARGO_TARGET_DIR/release/git-dispatch.tmp.$$\" \"$CARGO_TARGET_DIR/release/git-dispatch\"\n",
        bin = sh_quote(&bin().to_string_lossy())
    )
}

impl Setup {
    fn new() -> Setup {
        Setup::with_env(TestEnv::new())
    }

    fn with_env(env: TestEnv) -> Setup {
        let script = if env.runs_as_other_user() {
            let copy = env.root.join("checkout");
            // A checkout, as install.sh tells one (else it would download the release).
            for file in [
                "install.sh",
                "Cargo.toml",
                "src/main.rs",
                "doc/git-dispatch.1",
                "completions/git-dispatch.bash",
                "completions/_git-dispatch",
            ] {
                let to = copy.join(file);
                fs::create_dir_all(to.parent().unwrap()).unwrap();
                fs::copy(repo_dir().join(file), &to).unwrap();
            }
            set_mode(&copy.join("install.sh"), 0o755);
            for dir in [
                copy.clone(),
                copy.join("doc"),
                copy.join("completions"),
                copy.join("src"),
            ] {
                set_mode(&dir, 0o755);
            }
            copy.join("install.sh")
        } else {
            install_sh()
        };
        let setup = Setup {
            script,
            prefix: env.root.join("prefix"),
            target_dir: env.root.join("target"),
            fakebin: env.root.join("fakebin"),
            cargo_log: env.root.join("cargo.log"),
            env,
        };
        fs::create_dir_all(&setup.fakebin).expect("create fakebin");
        // Written by a child `sh` to a temp name, then renamed: this process never holds
        // a write descriptor on a file that is executed later.
        let cargo = setup.fakebin.join("cargo");
        let mut write = Command::new("sh");
        write
            .arg("-c")
            .arg(r#"printf '%s' "$1" >"$2.tmp" && chmod 755 "$2.tmp" && mv -f "$2.tmp" "$2""#)
            .arg("sh")
            .arg(fake_cargo_script())
            .arg(&cargo);
        expect_success(&mut write);
        setup
    }

    fn bin(&self) -> PathBuf {
        self.prefix.join("bin/git-dispatch")
    }

    fn man(&self) -> PathBuf {
        self.prefix.join("share/man/man1/git-dispatch.1")
    }

    fn bash_completion(&self) -> PathBuf {
        self.prefix
            .join("share/bash-completion/completions/git-dispatch")
    }

    fn zsh_completion(&self) -> PathBuf {
        self.prefix.join("share/zsh/site-functions/_git-dispatch")
    }

    /// fakebin, then the usual PATH without any `git-dispatch` on it; with
    /// `prefix_on_path`, `$PREFIX/bin` too.
    fn path(&self, prefix_on_path: bool) -> OsString {
        let mut dirs = vec![self.fakebin.clone()];
        if prefix_on_path {
            dirs.push(self.prefix.join("bin"));
        }
        dirs.extend(std::env::split_paths(&self.env.path_without_binary()));
        std::env::join_paths(dirs).expect("join PATH")
    }

    /// `install.sh args…` in the temp root with the isolated environment, not yet run.
    fn cmd(&self, args: &[&Path]) -> Command {
        let mut cmd = self.env.program_cmd(&self.script, &self.env.root, &[]);
        cmd.args(args)
            .env("PREFIX", &self.prefix)
            .env("CARGO_TARGET_DIR", &self.target_dir)
            .env("FAKE_CARGO_LOG", &self.cargo_log)
            .env("PATH", self.path(false));
        cmd
    }

    /// Run install.sh with stdin closed (not a terminal); it must exit 0.
    fn run_ok(&self, args: &[&Path]) -> Output {
        expect_success(&mut self.cmd(args))
    }

    /// Every file install.sh wrote under PREFIX, with its content.
    fn installed_files(&self) -> Vec<(PathBuf, Vec<u8>)> {
        let mut files = Vec::new();
        walk(&self.prefix, &mut |path| {
            files.push((path.to_path_buf(), read(path)))
        });
        files.sort();
        files
    }
}

/// Assert `text` contains `needle`, showing the command's output otherwise.
fn assert_contains(out: &Output, needle: &str, what: &str) {
    assert!(
        combined(out).contains(needle),
        "{what}: expected the output to contain {needle:?}\n{}",
        show(out)
    );
}

fn assert_lacks(out: &Output, needle: &str, what: &str) {
    assert!(
        !combined(out).contains(needle),
        "{what}: expected the output not to contain {needle:?}\n{}",
        show(out)
    );
}

#[test]
fn no_argument_installs_binary_man_page_and_completions() {
    let s = Setup::new();
    let out = s.run_ok(&[]);

    assert_eq!(
        read_text(&s.cargo_log),
        format!(
            "build --release --locked --manifest-path {}\n",
            repo_dir().join("Cargo.toml").display()
        ),
        "install.sh runs cargo once, for the release binary\n{}",
        show(&out)
    );
    assert_eq!(read(&s.bin()), read(&bin()), "installed binary");
    assert_eq!(
        mode(&s.bin()),
        0o555,
        "the binary is read-only, so a tool writing the hook through the link cannot reach it"
    );
    assert_eq!(read(&s.man()), read(&repo_dir().join("doc/git-dispatch.1")));
    assert_eq!(mode(&s.man()), 0o644, "man page's mode");
    assert_eq!(
        read(&s.bash_completion()),
        read(&repo_dir().join("completions/git-dispatch.bash"))
    );
    assert_eq!(mode(&s.bash_completion()), 0o644);
    assert_eq!(
        read(&s.zsh_completion()),
        read(&repo_dir().join("completions/_git-dispatch"))
    );
    assert_eq!(mode(&s.zsh_completion()), 0o644);
    // Exactly these four: no temp file left behind.
    let names: Vec<PathBuf> = s.installed_files().into_iter().map(|(p, _)| p).collect();
    let mut want = vec![s.bin(), s.man(), s.bash_completion(), s.zsh_completion()];
    want.sort();
    assert_eq!(names, want, "files under PREFIX\n{}", show(&out));

    let text = stdout(&out);
    assert!(
        text.contains(&format!("install.sh: installed {}\n", s.bin().display())),
        "{}",
        show(&out)
    );
    assert!(
        text.contains(&format!(
            "install.sh: add {} to your PATH so that `git dispatch` works",
            s.prefix.join("bin").display()
        )),
        "the PATH hint, since PREFIX/bin is not on PATH\n{}",
        show(&out)
    );
    assert!(
        text.contains(&format!(
            ". {}",
            s.prefix
                .join("share/bash-completion/completions/git-dispatch")
                .display()
        )),
        "how to source the bash completion\n{}",
        show(&out)
    );

    let version = expect_success(&mut s.env.program_cmd(&s.bin(), &s.env.root, &["--version"]));
    assert_eq!(
        stdout(&version).trim(),
        format!("git-dispatch {}", env!("CARGO_PKG_VERSION"))
    );
}

#[test]
fn no_path_hint_when_prefix_bin_is_on_path() {
    let s = Setup::new();
    let mut cmd = s.cmd(&[]);
    cmd.env("PATH", s.path(true));
    let out = expect_success(&mut cmd);
    assert_contains(
        &out,
        &format!("install.sh: installed {}", s.bin().display()),
        "install.sh",
    );
    assert_lacks(&out, "to your PATH", "install.sh with PREFIX/bin on PATH");
}

#[test]
fn clone_without_a_terminal_gets_the_hook_and_the_commands_to_finish() {
    // As a user who cannot write the 0555 binary, the hook is a link (root gets the shim).
    let s = Setup::with_env(TestEnv::unprivileged());
    let clone = s.env.clone.clone();
    let first = s.run_ok(&[&clone]);

    let hook = std::fs::read_link(s.env.hook_path())
        .unwrap_or_else(|e| panic!("the hook is a link to the binary: {e}\n{}", show(&first)));
    assert_eq!(
        hook,
        std::fs::canonicalize(s.bin()).unwrap(),
        "the hook links the installed binary, so install ran that one"
    );
    assert_contains(
        &first,
        &format!(
            "installed the pre-push hook: {}",
            s.env.hook_path().display()
        ),
        "first run",
    );
    assert_contains(
        &first,
        "git-dispatch: no target yet; finish with:",
        "first run",
    );
    assert_contains(
        &first,
        &format!(
            "cd {} && git dispatch add OWNER/SITE && git dispatch login (paste",
            clone.display()
        ),
        "first run",
    );
    // Without a terminal nothing is asked, so nothing is added.
    assert_no_target(&s.env, &clone);

    let before = (hook.clone(), s.installed_files());
    let second = s.run_ok(&[&clone]);
    assert_contains(&second, "hook already installed", "second run");
    let after = (
        std::fs::read_link(s.env.hook_path()).unwrap(),
        s.installed_files(),
    );
    assert!(
        before == after,
        "a second run changed the hook or what is under PREFIX\nfirst:\n{}\nsecond:\n{}",
        show(&first),
        show(&second)
    );
}

#[test]
fn clone_with_a_target_is_not_asked_for_one() {
    let s = Setup::new();
    s.env.dispatch_ok(&["add", "owner/site"]);
    let out = s.run_ok(&[&s.env.clone]);
    assert_contains(&out, "installed the pre-push hook", "install.sh");
    assert_lacks(&out, "no target", "install.sh for a clone with a target");
    assert_eq!(
        s.env
            .git_stdout(&s.env.clone, &["config", "dispatch.site.repository"]),
        "owner/site"
    );
}

#[test]
fn a_shared_target_in_gitdispatch_counts_as_a_target() {
    let s = Setup::new();
    s.env.dispatch_ok(&["add", "owner/docs", "--shared"]);
    assert!(s.env.clone.join(".gitdispatch").is_file());
    let out = s.run_ok(&[&s.env.clone]);
    assert_contains(&out, "installed the pre-push hook", "install.sh");
    assert_lacks(
        &out,
        "no target",
        "install.sh for a clone with .gitdispatch",
    );
}

/// git-dispatch never reads targets from global config, so one there must not stop
/// install.sh from saying the clone has none (it used to count it).
#[test]
fn a_target_in_global_config_does_not_count() {
    let s = Setup::new();
    s.env.git_ok(
        &s.env.root,
        &[
            "config",
            "--global",
            "dispatch.site.repository",
            "owner/site",
        ],
    );
    let list = s.env.dispatch(&["list"]);
    assert!(
        stdout(&list).contains("no targets"),
        "git-dispatch ignores the global target\n{}",
        show(&list)
    );
    let out = s.run_ok(&[&s.env.clone]);
    assert_contains(
        &out,
        "git-dispatch: no target yet; finish with:",
        "install.sh with a target in global config only",
    );
}

// ---------------------------------------------------------------------------
// The guided setup, on a pseudo-terminal
// ---------------------------------------------------------------------------

/// A pseudo-terminal pair; both ends close-on-exec in this process.
fn open_pty() -> (File, File) {
    let master = OpenOptions::new()
        .read(true)
        .write(true)
        .custom_flags(libc::O_NOCTTY)
        .open("/dev/ptmx")
        .expect("open /dev/ptmx");
    let fd = master.as_raw_fd();
    // ptsname is not thread-safe; no other code in this binary calls it.
    static PTSNAME: Mutex<()> = Mutex::new(());
    let name = {
        let _guard = PTSNAME.lock().unwrap_or_else(|e| e.into_inner());
        // SAFETY: fd is an open pty master; ptsname's buffer is copied before unlocking.
        unsafe {
            assert_eq!(libc::grantpt(fd), 0, "grantpt");
            assert_eq!(libc::unlockpt(fd), 0, "unlockpt");
            let p = libc::ptsname(fd);
            assert!(!p.is_null(), "ptsname");
            CStr::from_ptr(p).to_bytes().to_vec()
        }
    };
    let slave = OpenOptions::new()
        .read(true)
        .write(true)
        .custom_flags(libc::O_NOCTTY)
        .open(OsStr::from_bytes(&name))
        .expect("open the pty's terminal side");
    (master, slave)
}

/// A program running on a pseudo-terminal, with everything it displayed.
pub(crate) struct Terminal {
    child: std::process::Child,
    master: File,
    shown: Arc<Mutex<Vec<u8>>>,
    reader_done: mpsc::Receiver<()>,
    what: String,
}

impl Terminal {
    /// Start `cmd` with a new session whose controlling terminal is a fresh pty.
    pub(crate) fn spawn(mut cmd: Command) -> Terminal {
        let what = describe(&cmd);
        let (master, slave) = open_pty();
        cmd.stdin(Stdio::from(slave.try_clone().expect("dup the pty")))
            .stdout(Stdio::from(slave.try_clone().expect("dup the pty")))
            .stderr(Stdio::from(slave));
        // SAFETY: only async-signal-safe calls between fork and exec.
        unsafe {
            cmd.pre_exec(|| {
                if libc::setsid() == -1 {
                    return Err(std::io::Error::last_os_error());
                }
                // Best effort: `[ -t 0 ]` and the no-echo prompt need a terminal, not
                // necessarily a controlling one.
                libc::ioctl(0, libc::TIOCSCTTY as _, 0);
                Ok(())
            });
        }
        let child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("could not run {what}: {e}"));
        // Drop our copies of the terminal side, so reads see EOF once the child is gone.
        drop(cmd);
        let shown = Arc::new(Mutex::new(Vec::new()));
        let (done_tx, reader_done) = mpsc::channel();
        {
            let mut master = master.try_clone().expect("dup the pty master");
            let shown = Arc::clone(&shown);
            thread::spawn(move || {
                let mut buf = [0u8; 4096];
                // EIO (Linux) or 0 (macOS) once every process has closed the terminal.
                while let Ok(n @ 1..) = master.read(&mut buf) {
                    shown
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .extend_from_slice(&buf[..n]);
                }
                let _ = done_tx.send(());
            });
        }
        Terminal {
            child,
            master,
            shown,
            reader_done,
            what,
        }
    }

    pub(crate) fn shown(&self) -> String {
        String::from_utf8_lossy(&self.shown.lock().unwrap_or_else(|e| e.into_inner())).into_owned()
    }

    /// Whether the terminal echoes input now (the program's setting, read via the master).
    fn echoes(&self) -> bool {
        // SAFETY: termios is plain data; tcgetattr fills it or fails.
        unsafe {
            let mut t: libc::termios = std::mem::zeroed();
            assert_eq!(
                libc::tcgetattr(self.master.as_raw_fd(), &mut t),
                0,
                "tcgetattr on the pty"
            );
            t.c_lflag & libc::ECHO != 0
        }
    }

    /// Poll until `done` holds; panic with what the terminal showed on timeout.
    fn wait_until(&mut self, what: &str, mut done: impl FnMut(&Terminal) -> bool) {
        let start = Instant::now();
        while !done(self) {
            if start.elapsed() > TIMEOUT * 3 {
                let _ = self.child.kill();
                panic!(
                    "timed out waiting for {what}: {}\n--- terminal ---\n{}",
                    self.what,
                    self.shown()
                );
            }
            thread::sleep(POLL);
        }
    }

    pub(crate) fn wait_for_text(&mut self, text: &str) {
        self.wait_until(&format!("{text:?} on the terminal"), |t| {
            t.shown().contains(text)
        });
    }

    /// Type a line.
    pub(crate) fn type_line(&mut self, line: &str) {
        self.master
            .write_all(format!("{line}\n").as_bytes())
            .expect("write to the pty");
    }

    /// Wait for the program to exit and for its last output; its status and the
    /// terminal's whole display.
    pub(crate) fn finish(mut self) -> (ExitStatus, String) {
        let start = Instant::now();
        let status = loop {
            if let Some(status) = self.child.try_wait().expect("wait for install.sh") {
                break status;
            }
            if start.elapsed() > TIMEOUT * 3 {
                let _ = self.child.kill();
                panic!(
                    "{} did not exit\n--- terminal ---\n{}",
                    self.what,
                    self.shown()
                );
            }
            thread::sleep(POLL);
        };
        // A straggler holding the terminal must not hang the test.
        let _ = self.reader_done.recv_timeout(TIMEOUT);
        let shown = self.shown();
        (status, shown)
    }
}

pub(crate) const REPO_PROMPT: &str = "builds your site? (owner/repo): ";
const TOKEN_PROMPT: &str = "git-dispatch: paste the token (input hidden): ";

const RETRY_PROMPT: &str = "is mistyped, type the right name; else press Enter to finish later: ";

/// install.sh on a terminal for the clone: answers `repository`, then, if given, types
/// `token` once the hidden prompt has switched echo off.
fn guided(s: &Setup, repository: &str, token: Option<&str>) -> (ExitStatus, String) {
    let mut term = Terminal::spawn(s.cmd(&[&s.env.clone]));
    term.wait_for_text(REPO_PROMPT);
    term.type_line(repository);
    if let Some(token) = token {
        type_token(&mut term, token, 1);
    }
    term.finish()
}

/// Types `token` at the `nth` token prompt, once it has switched echo off.
pub(crate) fn type_token(term: &mut Terminal, token: &str, nth: usize) {
    term.wait_until("the token prompt", |t| {
        t.shown().matches(TOKEN_PROMPT).count() >= nth
    });
    // The prompt is printed just before echo goes off: never type into an echoing terminal.
    term.wait_until("the token prompt to switch echo off", |t| !t.echoes());
    term.type_line(token);
}

fn show_terminal(status: &ExitStatus, shown: &str) -> String {
    format!("status: {status}\n--- terminal ---\n{shown}")
}

#[test]
fn guided_setup_on_a_terminal_adds_the_target_and_stores_the_token() {
    let fake = FakeGitHub::start();
    let mut env = TestEnv::unprivileged();
    env.set_api_url(Some(&fake.url()));
    let s = Setup::with_env(env);
    // As a writer has it: builds are followed (the tests' global config turns it off).
    s.env.git_ok(
        &s.env.root,
        &["config", "--global", "dispatch.follow", "true"],
    );

    let (status, shown) = guided(&s, "owner/site", Some(TOKEN));
    let context = show_terminal(&status, &shown);
    assert_eq!(status.code(), Some(0), "{context}");
    assert!(
        shown.contains(TOKEN_PROMPT),
        "login asked for the token\n{context}"
    );
    // The answer to the first prompt was echoed, so the capture works; the token was not.
    assert!(
        shown.contains("builds your site? (owner/repo): owner/site"),
        "{context}"
    );
    if let Some(found) = find_secret(shown.as_bytes(), TOKEN) {
        panic!("the terminal showed the token ({found:?})\n{context}");
    }
    assert!(
        shown.contains("added target site -> owner/site"),
        "{context}"
    );
    assert!(
        shown.contains("checked and stored"),
        "login confirmed the token\n{context}"
    );
    assert!(
        !shown.contains("has no target"),
        "no fallback instructions after a guided setup\n{context}"
    );

    assert_eq!(
        s.env
            .git_stdout(&s.env.clone, &["config", "dispatch.site.repository"]),
        "owner/site"
    );
    let creds = s.env.credentials_path();
    assert_eq!(mode(&creds), 0o600, "credentials file mode\n{context}");
    let stored: Value = serde_json::from_str(&read_text(&creds)).expect("credentials are JSON");
    let host = fake.url().trim_start_matches("http://").to_string();
    assert_eq!(
        stored,
        serde_json::json!({ host: TOKEN }),
        "one token, for the fake's host"
    );

    let checks: Vec<(String, String, u16)> = fake
        .requests()
        .into_iter()
        .map(|r| (r.method, r.path, r.status))
        .collect();
    assert_eq!(
        checks[..2.min(checks.len())],
        [
            ("GET".to_string(), "/repos/owner/site".to_string(), 200),
            (
                "GET".to_string(),
                "/repos/owner/site/actions/runs".to_string(),
                200
            )
        ],
        "login checked the token against the new target, and that it reads its runs: {checks:?}"
    );
    // What the token needs was said before it was asked for; doctor ended the setup.
    for said in [
        "https://github.com/settings/personal-access-tokens/new",
        "Contents: Read and write",
        "Actions: Read-only",
        "git-dispatch: checking the setup (`git dispatch doctor`):",
        "ok   site: the token can see owner/site",
        // The first minute already says what would make the first push start nothing.
        "FAIL site: no workflow on owner/site's main runs on repository_dispatch",
    ] {
        assert!(shown.contains(said), "{said}\n{context}");
    }
    assert!(
        shown.find("Actions: Read-only") < shown.find(TOKEN_PROMPT),
        "{context}"
    );
    assert_eq!(
        std::fs::read_link(s.env.hook_path()).ok(),
        Some(std::fs::canonicalize(s.bin()).unwrap()),
        "the hook links the installed binary"
    );
}

#[test]
fn guided_setup_with_a_refused_token_says_how_to_finish() {
    let fake = FakeGitHub::with_token("github_pat_11SOMEOTHERTOKEN0000000000000000000000000");
    let mut env = TestEnv::new();
    env.set_api_url(Some(&fake.url()));
    let s = Setup::with_env(env);

    let mut term = Terminal::spawn(s.cmd(&[&s.env.clone]));
    term.wait_for_text(REPO_PROMPT);
    term.type_line("owner/site");
    type_token(&mut term, TOKEN, 1);
    // The name is right: Enter, to finish later.
    term.wait_for_text(RETRY_PROMPT);
    term.type_line("");
    let (status, shown) = term.finish();
    let context = show_terminal(&status, &shown);
    assert_eq!(status.code(), Some(1), "{context}");
    assert!(shown.contains("token not stored"), "{context}");
    assert!(
        shown.contains(&format!(
            "git-dispatch: no token stored; finish with: cd {} && git dispatch login",
            s.env.clone.display()
        )),
        "{context}"
    );
    if let Some(found) = find_secret(shown.as_bytes(), TOKEN) {
        panic!("the terminal showed the token ({found:?})\n{context}");
    }
    assert!(
        !s.env.credentials_path().exists(),
        "a refused token is not stored\n{context}"
    );
    assert_eq!(
        s.env
            .git_stdout(&s.env.clone, &["config", "dispatch.site.repository"]),
        "owner/site",
        "the target stays"
    );
}

#[test]
fn a_mistyped_site_is_blamed_first_and_corrected_at_the_prompt() {
    let fake = FakeGitHub::start();
    let mut env = TestEnv::new();
    env.set_api_url(Some(&fake.url()));
    let s = Setup::with_env(env);

    let mut term = Terminal::spawn(s.cmd(&[&s.env.clone]));
    term.wait_for_text(REPO_PROMPT);
    term.type_line("owner/stie");
    type_token(&mut term, TOKEN, 1);
    term.wait_for_text(RETRY_PROMPT);
    term.type_line("owner/site");
    type_token(&mut term, TOKEN, 2);
    let (status, shown) = term.finish();
    let context = show_terminal(&status, &shown);
    assert_eq!(status.code(), Some(0), "{context}");
    assert!(
        shown.contains("owner/stie: GitHub shows this token no such repository; check the name"),
        "the name is the first suspect\n{context}"
    );
    assert!(
        shown.contains("; did you mean owner/site?"),
        "the near name the token can see\n{context}"
    );
    assert!(shown.contains("checked and stored"), "{context}");
    // The wrong target is gone; the right one stays, and nothing was queued for the wrong.
    let targets = s.env.git_stdout(
        &s.env.clone,
        &["config", "--get-regexp", r"^dispatch\..*\.repository$"],
    );
    assert_eq!(targets, "dispatch.site.repository owner/site", "{context}");
}

#[test]
fn guided_setup_with_a_bad_repository_says_how_to_finish() {
    let s = Setup::new();
    let mut term = Terminal::spawn(s.cmd(&[&s.env.clone]));
    term.wait_for_text(REPO_PROMPT);
    // A URL, then a token pasted at the wrong prompt: neither is owner/repo, neither is
    // said back nor put on a command line; then Enter.
    term.type_line("https://github.com/owner/site");
    term.wait_for_text("that is not owner/repo");
    term.type_line("github_pat_11NOTASITE0000000000000000000000000000");
    term.wait_until("asked a third time", |t| {
        t.shown().matches("that is not owner/repo").count() >= 2
    });
    term.type_line("");
    let (status, shown) = term.finish();
    let context = show_terminal(&status, &shown);
    assert_eq!(status.code(), Some(1), "{context}");
    assert!(
        shown.contains(
            "that is not owner/repo (as in github.com/OWNER/REPO); again, or Enter to stop"
        ),
        "{context}"
    );
    // Typed once (the terminal's echo), never repeated by git-dispatch.
    assert_eq!(
        shown.matches("github_pat_11NOTASITE").count(),
        1,
        "{context}"
    );
    assert!(
        shown.contains(&format!(
            "git-dispatch: finish with: cd {} && git dispatch add OWNER/SITE && git dispatch login",
            s.env.clone.display()
        )),
        "{context}"
    );
    assert!(!shown.contains(TOKEN_PROMPT), "no token asked\n{context}");
    assert_no_target(&s.env, &s.env.clone);
}

#[test]
fn guided_setup_with_an_empty_answer_prints_the_commands() {
    let s = Setup::new();
    let (status, shown) = guided(&s, "", None);
    let context = show_terminal(&status, &shown);
    // Left unfinished: something to report.
    assert_eq!(status.code(), Some(1), "{context}");
    assert!(
        shown.contains(&format!(
            "cd {} && git dispatch add OWNER/SITE && git dispatch login (paste",
            s.env.clone.display()
        )),
        "{context}"
    );
    assert!(!shown.contains(TOKEN_PROMPT), "no token asked\n{context}");
    assert_no_target(&s.env, &s.env.clone);
}

// ---------------------------------------------------------------------------
// What --help lists, for the completions and the man page
// ---------------------------------------------------------------------------

/// `git-dispatch [args] --help`.
fn help(args: &[&str]) -> String {
    let mut all = args.to_vec();
    all.push("--help");
    let mut cmd = Command::new(bin());
    cmd.args(&all).env("LC_ALL", "C");
    stdout(&expect_success(&mut cmd))
}

/// The lines of the `title` section of a help text.
fn section<'a>(text: &'a str, title: &str) -> Vec<&'a str> {
    text.lines()
        .skip_while(|l| *l != title)
        .skip(1)
        .take_while(|l| !l.trim().is_empty())
        .collect()
}

/// The visible subcommands (clap's `help` included; the hidden `hook` is not listed).
fn subcommands() -> Vec<String> {
    let text = help(&[]);
    let names: Vec<String> = section(&text, "Commands:")
        .iter()
        .filter_map(|l| l.split_whitespace().next())
        .map(str::to_string)
        .collect();
    assert!(
        names.len() >= 13 && names.contains(&"send".to_string()),
        "could not read the subcommands from --help:\n{text}"
    );
    names
}

/// The long options of a subcommand, from its --help: the option lines of `Options:`
/// (`  -h, --help`, `      --name <NAME>`), not their descriptions.
fn long_flags(sub: &str) -> BTreeSet<String> {
    let text = help(&[sub]);
    let flags: BTreeSet<String> = text
        .lines()
        .skip_while(|l| *l != "Options:")
        .skip(1)
        .take_while(|l| l.is_empty() || l.starts_with(' '))
        .filter(|l| l.trim_start().starts_with('-'))
        .filter_map(|l| l.split_whitespace().find(|w| w.starts_with("--")))
        .map(|w| w.trim_end_matches(',').to_string())
        .collect();
    assert!(
        flags.contains("--help"),
        "could not read the options of {sub} from --help:\n{text}"
    );
    flags
}

// ---------------------------------------------------------------------------
// bash completion
// ---------------------------------------------------------------------------

/// Where git's own bash completion lives on common systems.
fn git_completion_script() -> Option<PathBuf> {
    [
        "/usr/share/bash-completion/completions/git",
        "/etc/bash_completion.d/git",
        "/usr/share/git-core/contrib/completion/git-completion.bash",
        "/usr/share/doc/git/contrib/completion/git-completion.bash",
        "/opt/homebrew/etc/bash_completion.d/git-completion.bash",
        "/usr/local/etc/bash_completion.d/git-completion.bash",
        "/Library/Developer/CommandLineTools/usr/share/git-core/git-completion.bash",
    ]
    .iter()
    .map(PathBuf::from)
    .find(|p| p.is_file())
}

/// Run `function` in `bash --norc` in `dir` as bash would for the command line `words`
/// (the last word is the one completed), after sourcing `preamble` and our completion;
/// COMPREPLY, sorted.
fn complete_with(
    env: &TestEnv,
    dir: &Path,
    preamble: &str,
    function: &str,
    words: &[&str],
) -> Vec<String> {
    let setup = format!(
        "{preamble}\n. {}",
        sh_quote(
            &repo_dir()
                .join("completions/git-dispatch.bash")
                .to_string_lossy()
        )
    );
    bash_complete(env, dir, &setup, function, words)
}

/// Run `setup`, then `function` as bash would for the command line `words`; COMPREPLY,
/// sorted. Fails on anything printed to stderr.
fn bash_complete(
    env: &TestEnv,
    dir: &Path,
    setup: &str,
    function: &str,
    words: &[&str],
) -> Vec<String> {
    let quoted: Vec<String> = words.iter().map(|w| sh_quote(w)).collect();
    let script = format!(
        "{setup}\n\
         COMP_WORDS=({words})\n\
         COMP_CWORD={cword}\n\
         COMP_LINE={line}\n\
         COMP_POINT=${{#COMP_LINE}}\n\
         {function}\n\
         printf '%s\\n' \"${{COMPREPLY[@]}}\"\n",
        words = quoted.join(" "),
        cword = words.len() - 1,
        line = sh_quote(&words.join(" ")),
    );
    let mut cmd = env.program_cmd(
        Path::new("bash"),
        dir,
        &["--norc", "--noprofile", "-c", &script],
    );
    let out = expect_success(&mut cmd);
    assert_eq!(
        stderr(&out),
        "",
        "completion printed errors for {words:?}\n{script}\n{}",
        show(&out)
    );
    let mut reply: Vec<String> = stdout(&out)
        .lines()
        .filter(|l| !l.is_empty())
        .map(str::to_string)
        .collect();
    reply.sort();
    reply
}

/// `git-dispatch words…` completed in `dir`.
fn complete(env: &TestEnv, dir: &Path, words: &[&str]) -> Vec<String> {
    complete_with(env, dir, "", "_git_dispatch_standalone", words)
}

fn strings(list: &[&str]) -> Vec<String> {
    let mut v: Vec<String> = list.iter().map(|s| s.to_string()).collect();
    v.sort();
    v
}

#[test]
fn bash_completes_subcommands_of_git_dispatch() {
    let env = TestEnv::new();
    assert_eq!(
        complete(&env, &env.root, &["git-dispatch", "re"]),
        strings(&["remove", "retry"])
    );
    assert_eq!(
        complete(&env, &env.root, &["git-dispatch", "--v"]),
        strings(&["--version"])
    );
    // The registration bash uses for `git-dispatch <TAB>`.
    let script = format!(
        ". {}; complete -p git-dispatch",
        sh_quote(
            &repo_dir()
                .join("completions/git-dispatch.bash")
                .to_string_lossy()
        )
    );
    let out = expect_success(&mut env.program_cmd(
        Path::new("bash"),
        &env.root,
        &["--norc", "-c", &script],
    ));
    assert_eq!(
        stdout(&out).trim(),
        "complete -F _git_dispatch_standalone git-dispatch"
    );
}

#[test]
fn bash_completes_git_dispatch_without_gits_completion() {
    let env = TestEnv::new();
    let reply = complete_with(
        &env,
        &env.root,
        "",
        "if declare -F __gitcomp >/dev/null; then echo '__gitcomp is defined'; exit 1; fi\n\
         _git_dispatch",
        &["git", "dispatch", "se"],
    );
    assert_eq!(reply, strings(&["send"]));
    assert_eq!(
        complete_with(
            &env,
            &env.root,
            "",
            "_git_dispatch",
            &["git", "dispatch", "status", "--"]
        ),
        strings(&["--help", "--json", "--refresh"])
    );
}

#[test]
fn bash_offers_every_visible_subcommand_and_not_hook() {
    let env = TestEnv::new();
    let mut want = subcommands();
    want.sort();
    let offered = complete(&env, &env.root, &["git-dispatch", ""]);
    assert_eq!(offered, want, "`git-dispatch <TAB>` against --help");
    assert!(!offered.contains(&"hook".to_string()));
    assert!(offered.contains(&"drop".to_string()));
}

#[test]
fn bash_offers_the_flags_of_each_subcommand() {
    let env = TestEnv::new();
    for sub in subcommands().iter().filter(|s| *s != "help") {
        let offered: BTreeSet<String> = complete(&env, &env.root, &["git-dispatch", sub, "--"])
            .into_iter()
            .collect();
        assert_eq!(
            offered,
            long_flags(sub),
            "`git-dispatch {sub} --<TAB>` against `git-dispatch {sub} --help`"
        );
    }
}

#[test]
fn bash_offers_target_names_for_remove_and_send() {
    let env = TestEnv::new();
    env.dispatch_ok(&["add", "owner/site"]);
    env.dispatch_ok(&["add", "owner/docs", "--shared"]);
    // Global targets are ignored by git-dispatch, so not offered either.
    env.git_ok(
        &env.root,
        &["config", "--global", "dispatch.elsewhere.repository", "o/e"],
    );
    let clone = &env.clone;
    assert_eq!(
        complete(&env, clone, &["git-dispatch", "remove", ""]),
        strings(&["docs", "site"])
    );
    assert_eq!(
        complete(&env, clone, &["git-dispatch", "remove", "s"]),
        strings(&["site"])
    );
    // remove takes one name.
    assert_eq!(
        complete(&env, clone, &["git-dispatch", "remove", "site", ""]),
        Vec::<String>::new()
    );
    assert_eq!(
        complete(&env, clone, &["git-dispatch", "send", "site", ""]),
        strings(&["docs", "site"])
    );
    assert_eq!(
        complete_with(
            &env,
            clone,
            "",
            "_git_dispatch",
            &["git", "dispatch", "remove", "d"]
        ),
        strings(&["docs"])
    );
    // Owners of the targets, for `login --owner`.
    assert_eq!(
        complete(&env, clone, &["git-dispatch", "login", "--owner", ""]),
        strings(&["owner"])
    );
    // Outside any repository: nothing, and no error.
    let outside = env.root.join("outside");
    fs::create_dir_all(&outside).expect("create a directory");
    assert_eq!(
        complete_with(
            &env,
            &outside,
            &format!(
                "export GIT_CEILING_DIRECTORIES={}",
                sh_quote(&env.root.to_string_lossy())
            ),
            "_git_dispatch_standalone",
            &["git-dispatch", "remove", ""]
        ),
        Vec::<String>::new()
    );
}

#[test]
fn bash_offers_entry_ids_for_drop() {
    // A real pending entry: the push lands, the API is unreachable, the entry stays.
    let mut env = TestEnv::new();
    env.set_token(Some(TOKEN));
    env.set_api_url(Some(&closed_port_url()));
    env.install();
    env.dispatch_ok(&["add", "owner/site"]);
    env.commit(&env.clone, "post.md", "hello\n", "a post");
    env.push_ok(&["--quiet", "origin", "main"]);
    let status = env.wait_status(TIMEOUT, "one entry", |s| entries(s).len() == 1);
    let id = entries(&status)[0]["id"]
        .as_str()
        .expect("an entry has an id")
        .to_string();
    assert!(
        env.state_dir()
            .join("pending")
            .join(format!("{id}.json"))
            .is_file(),
        "entries live in dispatch/pending/<id>.json\n{}",
        env.debug_state()
    );

    assert_eq!(
        complete(&env, &env.clone, &["git-dispatch", "drop", ""]),
        vec![id.clone()]
    );
    assert_eq!(
        complete(&env, &env.clone, &["git-dispatch", "drop", &id[..4]]),
        vec![id.clone()]
    );
    // From a subdirectory too.
    let sub = env.clone.join("sub");
    fs::create_dir_all(&sub).expect("create a subdirectory");
    assert_eq!(
        complete(&env, &sub, &["git-dispatch", "drop", ""]),
        vec![id]
    );
}

#[test]
fn bash_with_gits_completion_completes_git_dispatch() {
    let Some(git_completion) = git_completion_script() else {
        skip(
            "git's bash completion script was not found on this system",
            false,
        );
        return;
    };
    let env = TestEnv::new();
    env.dispatch_ok(&["add", "owner/site"]);
    let preamble = format!(". {}", sh_quote(&git_completion.to_string_lossy()));
    let main = "if declare -F __git_wrap__git_main >/dev/null; then __git_wrap__git_main; \
                else _git; fi";
    // git's helpers add the trailing space.
    assert_eq!(
        complete_with(&env, &env.root, &preamble, main, &["git", "dispatch", "re"]),
        strings(&["remove ", "retry "])
    );
    // `git -C <clone>` from elsewhere: target names come from that clone.
    let clone = env.clone.to_string_lossy().into_owned();
    assert_eq!(
        complete_with(
            &env,
            &env.root,
            &preamble,
            main,
            &["git", "-C", &clone, "dispatch", "remove", ""]
        ),
        strings(&["site "])
    );
    assert_eq!(
        complete_with(
            &env,
            &env.clone,
            &preamble,
            main,
            &["git", "dispatch", "send", "--d"]
        ),
        strings(&["--dry-run "])
    );
}

/// bash-completion's own script, on common systems.
fn bash_completion_script() -> Option<PathBuf> {
    [
        "/usr/share/bash-completion/bash_completion",
        "/opt/homebrew/share/bash-completion/bash_completion",
        "/usr/local/share/bash-completion/bash_completion",
    ]
    .iter()
    .map(PathBuf::from)
    .find(|p| p.is_file())
}

/// With the default PREFIX (~/.local), nothing needs sourcing: git's completion asks
/// bash-completion's loader for "git-dispatch", which finds the installed file in its user
/// directory ($XDG_DATA_HOME/bash-completion/completions).
#[test]
fn bash_completion_is_loaded_on_demand_from_the_default_prefix() {
    let mut s = Setup::new();
    s.prefix = s.env.home.join(".local");
    let out = s.run_ok(&[]);
    assert_contains(
        &out,
        "install.sh: bash-completion loads the bash completion by itself",
        "install.sh with PREFIX=~/.local",
    );
    assert!(s.bash_completion().is_file());

    let (Some(bash_completion), Some(git_completion)) =
        (bash_completion_script(), git_completion_script())
    else {
        skip(
            "the loader check needs bash-completion and git's completion",
            false,
        );
        return;
    };
    let version = stdout(&expect_success(&mut s.env.program_cmd(
        Path::new("bash"),
        &s.env.root,
        &["--norc", "-c", "echo ${BASH_VERSINFO[0]}"],
    )));
    if version.trim().parse::<u32>().unwrap_or(0) < 4 {
        // macOS ships bash 3.2, which bash-completion 2 does not support.
        skip(
            "the loader check: bash-completion 2 needs bash 4",
            cfg!(target_os = "macos"),
        );
        return;
    }
    s.env.dispatch_ok(&["add", "owner/site"]);
    // Only bash-completion and git's completion are sourced, not ours.
    let setup = format!(
        ". {}\n. {}\n\
         if declare -F _git_dispatch >/dev/null; then echo 'loaded too early' >&2; fi",
        sh_quote(&bash_completion.to_string_lossy()),
        sh_quote(&git_completion.to_string_lossy())
    );
    let main = "if declare -F __git_wrap__git_main >/dev/null; then __git_wrap__git_main; \
                else _git; fi";
    assert_eq!(
        bash_complete(
            &s.env,
            &s.env.clone,
            &setup,
            main,
            &["git", "dispatch", "re"]
        ),
        strings(&["remove ", "retry "])
    );
    assert_eq!(
        bash_complete(
            &s.env,
            &s.env.clone,
            &setup,
            main,
            &["git", "dispatch", "remove", ""]
        ),
        strings(&["site "])
    );
}

// ---------------------------------------------------------------------------
// zsh completion and the man page
// ---------------------------------------------------------------------------

#[test]
fn zsh_completion_lists_every_subcommand_and_flag() {
    let path = repo_dir().join("completions/_git-dispatch");
    let text = read_text(&path);
    assert_eq!(text.lines().next(), Some("#compdef git-dispatch"));
    for sub in subcommands() {
        assert!(
            text.contains(&format!("    '{sub}:")),
            "_git-dispatch does not describe {sub}"
        );
        if sub == "help" {
            continue;
        }
        for flag in long_flags(&sub) {
            assert!(
                text.contains(&format!("'{flag}"))
                    || text.contains(&format!("'*{flag}"))
                    || flag == "--help",
                "_git-dispatch misses {flag} of {sub}"
            );
        }
    }
    assert!(
        !text.contains("'hook:"),
        "hook pre-push, the shim's entry, is not offered"
    );
    let Ok(zsh) = Command::new("zsh").arg("-n").arg(&path).output() else {
        skip("the zsh syntax check: zsh is not installed", false);
        return;
    };
    assert!(
        zsh.status.success(),
        "zsh -n {}\n{}",
        path.display(),
        show(&zsh)
    );
}

#[test]
fn man_page_documents_every_subcommand_flag_setting_and_the_version() {
    let path = repo_dir().join("doc/git-dispatch.1");
    let page = read_text(&path);
    assert!(
        page.lines().any(|l| l.starts_with(".TH GIT-DISPATCH 1 ")
            && l.contains(&format!("\"git-dispatch {}\"", env!("CARGO_PKG_VERSION")))),
        "the .TH line names version {}",
        env!("CARGO_PKG_VERSION")
    );
    let synopsis: String = page
        .lines()
        .skip_while(|l| *l != ".SH SYNOPSIS")
        .take_while(|l| *l != ".SH DESCRIPTION")
        .collect::<Vec<_>>()
        .join("\n");
    for sub in subcommands().iter().filter(|s| *s != "help") {
        assert!(
            synopsis.contains(&format!(".B git dispatch {sub}")),
            "SYNOPSIS misses {sub}:\n{synopsis}"
        );
        for flag in long_flags(sub) {
            if flag == "--help" {
                continue;
            }
            let roff = flag.replace('-', "\\-");
            assert!(synopsis.contains(&roff), "SYNOPSIS misses {sub} {flag}");
        }
    }
    assert!(
        !synopsis.contains("git dispatch hook"),
        "hook pre-push, the shim's entry, is not in SYNOPSIS"
    );
    for section in [
        "NAME",
        "SYNOPSIS",
        "DESCRIPTION",
        "COMMANDS",
        "CONFIGURATION",
        "ENVIRONMENT",
        "FILES",
        "EXIT STATUS",
        "EXAMPLES",
        "SEE ALSO",
    ] {
        assert!(
            page.lines().any(|l| l == format!(".SH {section}")),
            "no {section} section"
        );
    }
    for key in [
        ".BI dispatch. name .repository",
        ".BI dispatch. name .remote",
        ".BI dispatch. name .branch",
        ".BI dispatch. name .event",
        ".BI dispatch. name .payload",
        ".BI dispatch. name .paths",
        ".BI dispatch. name .workflow",
        ".BI dispatch. name .ref",
        ".B dispatch.when",
        ".B dispatch.strict",
        ".B dispatch.apiUrl",
        ".B dispatch.tokenCommand",
        ".B dispatch.timeout",
        ".B dispatch.trusted",
        ".B GIT_DISPATCH_TOKEN",
        ".B GIT_DISPATCH_API_URL",
        ".B GIT_DISPATCH=0",
        ".B GIT_DISPATCH_BIN",
        ".I ~/.config/git\\-dispatch/credentials.json",
        ".I .git/dispatch/",
    ] {
        assert!(
            page.lines().any(|l| l == key),
            "the man page has no line {key:?}"
        );
    }

    // It renders without a warning, with whichever formatter this system has.
    let path_arg = path.to_string_lossy().into_owned();
    let mut checked = false;
    if let Ok(out) = Command::new("mandoc")
        .args(["-T", "lint", "-W", "warning", &path_arg])
        .output()
    {
        assert!(
            out.status.success() && combined(&out).is_empty(),
            "mandoc -T lint -W warning {path_arg}\n{}",
            show(&out)
        );
        checked = true;
    }
    if let Ok(out) = Command::new("groff")
        .args(["-man", "-Tutf8", "-ww", "-z", &path_arg])
        .output()
    {
        assert!(
            out.status.success() && combined(&out).is_empty(),
            "groff -man -Tutf8 -ww -z {path_arg}\n{}",
            show(&out)
        );
        checked = true;
    }
    if !checked {
        skip(
            "the man page render check: neither mandoc nor groff is installed",
            false,
        );
    }
}

/// `clone` has no `dispatch.*` setting at all (git config exits 1: nothing matched).
fn assert_no_target(env: &TestEnv, clone: &Path) {
    let targets = env.git(
        clone,
        &["config", "--local", "--get-regexp", r"^dispatch\."],
    );
    assert_eq!(targets.status.code(), Some(1), "{}", show(&targets));
}

#[test]
fn the_readme_command_table_names_every_subcommand_and_no_other() {
    // The README points at --help for the reference; its short table must not drift.
    let readme = fs::read_to_string(repo_dir().join("README.md")).expect("read README.md");
    let table: Vec<&str> = readme
        .lines()
        .skip_while(|l| *l != "## Commands")
        .take_while(|l| !l.starts_with("## ") || *l == "## Commands")
        .filter(|l| l.starts_with("| `"))
        .collect();
    let mut named = BTreeSet::new();
    for row in &table {
        let first = row.split('|').nth(1).unwrap_or_default();
        for word in first.split('`').skip(1).step_by(2) {
            named.insert(
                word.split_whitespace()
                    .next()
                    .unwrap_or_default()
                    .to_string(),
            );
        }
    }
    let mut real: BTreeSet<String> = subcommands().into_iter().collect();
    real.remove("help");
    assert_eq!(
        named, real,
        "README's Commands table against `git-dispatch --help`"
    );
}

#[test]
fn remove_on_a_terminal_offers_to_drop_what_its_target_left_undelivered() {
    let fake = FakeGitHub::start();
    let env = TestEnv::with_fake(&fake);
    env.install();
    env.dispatch_ok(&["add", "owner/stie"]);
    env.commit(&env.clone, "post.md", "post\n", "post");
    env.push_ok(&["origin", "main"]);
    let status = env.wait_for_error("failed", TIMEOUT);
    let id = status["entries"][0]["id"].as_str().unwrap().to_string();

    let mut term = Terminal::spawn(env.dispatch_cmd(&["remove", "stie"]));
    term.wait_for_text("stie has 1 undelivered dispatch(es) (owner/stie); drop them? [y/N] ");
    term.type_line("y");
    let (status, shown) = term.finish();
    let context = show_terminal(&status, &shown);
    assert_eq!(status.code(), Some(0), "{context}");
    assert!(shown.contains(&format!("dropped {id}")), "{context}");
    assert!(env.status_json()["entries"].as_array().unwrap().is_empty());
}
