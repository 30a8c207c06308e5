//! The release as a writer meets it: this machine's archive, built by `.ci/release-archive`
//! exactly as the release publishes it, served on 127.0.0.1, and `install.sh` piped into
//! `sh` with a fresh HOME and only the tools a new machine has (no cargo).

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::{Arc, Mutex, OnceLock};

use crate::support::*;

/// The checkout.
fn repo_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The release's name for this machine, as install.sh works it out (the musl build on
/// every Linux); `None` when this machine cannot build it (the reason said).
fn release_target() -> Option<String> {
    let host = String::from_utf8(
        Command::new("rustc")
            .arg("-vV")
            .output()
            .expect("rustc -vV")
            .stdout,
    )
    .unwrap();
    let host = host
        .lines()
        .find_map(|l| l.strip_prefix("host: "))
        .expect("rustc's host")
        .to_string();
    let Some(arch) = host.strip_suffix("-unknown-linux-gnu") else {
        return Some(host);
    };
    let musl = format!("{arch}-unknown-linux-musl");
    let installed = Command::new("rustup")
        .args(["target", "list", "--installed"])
        .output()
        .map(|o| {
            String::from_utf8_lossy(&o.stdout)
                .lines()
                .any(|l| l == musl)
        })
        .unwrap_or(false);
    let cc = ["musl-gcc", &format!("{arch}-linux-musl-gcc")]
        .iter()
        .any(|c| Command::new(c).arg("--version").output().is_ok());
    if installed && cc {
        return Some(musl);
    }
    skip(
        &format!(
            "the release archive test: building {musl} needs `rustup target add {musl}` and \
             musl-gcc (`apt-get install musl-tools`)"
        ),
        false,
    );
    None
}

/// This machine's archive and its .sha256, built once per test run by `.ci/release-archive`
/// (into target/release-archive, where `.ci/run` builds it first).
fn release() -> Option<&'static (PathBuf, String)> {
    static BUILT: OnceLock<Option<(PathBuf, String)>> = OnceLock::new();
    BUILT
        .get_or_init(|| {
            let target = release_target()?;
            let cache = std::env::var_os("CARGO_TARGET_DIR")
                .map(PathBuf::from)
                .unwrap_or_else(|| repo_dir().join("target"))
                .join("release-archive");
            let out = cache.join("out");
            let built = Command::new(repo_dir().join(".ci/release-archive"))
                .arg(&out)
                .arg(&target)
                .env("CARGO_TARGET_DIR", &cache)
                .output()
                .expect("run .ci/release-archive");
            assert!(built.status.success(), "{}", show(&built));
            Some((out, format!("git-dispatch-{target}.tar.gz")))
        })
        .as_ref()
}

/// A static file server on 127.0.0.1: `files` by name; every path asked is kept.
struct Mirror {
    url: String,
    asked: Arc<Mutex<Vec<String>>>,
}

impl Mirror {
    fn serve(files: Files) -> Mirror {
        let server = tiny_http::Server::http("127.0.0.1:0").expect("start the mirror");
        let url = format!("http://{}", server.server_addr());
        let asked = Arc::new(Mutex::new(Vec::new()));
        let seen = Arc::clone(&asked);
        std::thread::spawn(move || {
            for request in server.incoming_requests() {
                let path = request.url().trim_start_matches('/').to_string();
                seen.lock().unwrap().push(path.clone());
                let response = match files.iter().find(|(name, _)| *name == path) {
                    Some((_, body)) => tiny_http::Response::from_data(body.clone()).boxed(),
                    None => tiny_http::Response::empty(404).boxed(),
                };
                let _ = request.respond(response);
            }
        });
        Mirror { url, asked }
    }
}

/// Files a mirror serves: (name, bytes).
type Files = Vec<(String, Vec<u8>)>;

/// The release's files as `.ci/release-archive` laid them out, plus install.sh, each
/// changed by `edit` (name, bytes) -> Some(new bytes) or None to leave it out.
fn release_files(edit: impl Fn(&str, Vec<u8>) -> Option<Vec<u8>>) -> Option<(Files, String)> {
    let (dir, archive) = release()?;
    let mut all = Vec::new();
    for name in [archive.clone(), format!("{archive}.sha256")] {
        let bytes = fs::read(dir.join(&name)).expect("read the release");
        if let Some(bytes) = edit(&name, bytes) {
            all.push((name, bytes));
        }
    }
    all.push((
        "install.sh".to_string(),
        fs::read(repo_dir().join("install.sh")).unwrap(),
    ));
    Some((all, archive.clone()))
}

/// The checksum tool this machine has: sha256sum (Linux) or shasum (stock macOS).
fn checksum_tool() -> &'static str {
    let on_path = |tool: &str| {
        std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default())
            .any(|d| d.join(tool).is_file())
    };
    if on_path("sha256sum") {
        "sha256sum"
    } else {
        "shasum"
    }
}

/// A directory of links to the tools a new machine has: a shell and the basics, curl,
/// tar and gzip, git; `checksum` names the checksum tools it also has.
fn new_machine_path(env: &TestEnv, checksum: &[&str]) -> PathBuf {
    let dir = env.root.join("new-machine-bin");
    fs::create_dir_all(&dir).unwrap();
    let basics = [
        "sh", "env", "cat", "cp", "mv", "rm", "mkdir", "mktemp", "chmod", "dirname", "cut", "tr",
        "sed", "grep", "uname", "tar", "gzip", "curl", "git", "sleep", "ls",
    ];
    for tool in basics.iter().chain(checksum) {
        let found = std::env::split_paths(&std::env::var_os("PATH").unwrap())
            .map(|d| d.join(tool))
            .find(|p| p.is_file())
            .unwrap_or_else(|| panic!("{tool} is not on this machine's PATH"));
        let _ = std::os::unix::fs::symlink(found, dir.join(tool));
    }
    // shasum is a perl script: perl comes with it, as on macOS.
    if checksum.contains(&"shasum") {
        let perl = Path::new("/usr/bin/perl");
        let _ = std::os::unix::fs::symlink(perl, dir.join("perl"));
    }
    // git's own helpers (git-remote-https and the rest) stay where git finds them.
    dir
}

/// `curl -fsSL <mirror>/install.sh | sh -s -- <clone>` on a new machine's PATH, with a
/// fresh HOME, from a directory that is no checkout.
fn pipe_installer(env: &TestEnv, mirror: &Mirror, path: &Path) -> Output {
    let cwd = env.root.join("somewhere");
    fs::create_dir_all(&cwd).unwrap();
    let mut cmd = env.program_cmd(
        Path::new("/bin/sh"),
        &cwd,
        &[
            "-c",
            &format!(
                "curl -fsSL {}/install.sh | sh -s -- {}",
                mirror.url,
                sh_quote(&env.clone.to_string_lossy())
            ),
        ],
    );
    cmd.env("PATH", path)
        .env("GIT_DISPATCH_DOWNLOAD_URL", &mirror.url)
        .env_remove("PREFIX")
        .env_remove("CARGO_TARGET_DIR");
    cmd.output().expect("run the installer")
}

fn installed_bin(env: &TestEnv) -> PathBuf {
    env.home.join(".local/bin/git-dispatch")
}

#[test]
fn the_installer_piped_into_sh_installs_this_machines_release_and_the_hook() {
    let Some((files, archive)) = release_files(|_, b| Some(b)) else {
        return;
    };
    let env = TestEnv::new();
    let mirror = Mirror::serve(files);
    let path = new_machine_path(&env, &[checksum_tool()]);
    let out = pipe_installer(&env, &mirror, &path);
    assert_exit(&out, 0, "the installer");
    let text = combined(&out);
    assert!(
        text.contains(&format!(
            "install.sh: checked {archive} against its .sha256"
        )),
        "{text}"
    );
    // The binary works, with its man page and completions beside it.
    let bin = installed_bin(&env);
    let version = Command::new(&bin)
        .arg("--version")
        .output()
        .expect("run it");
    assert!(
        stdout(&version).starts_with(&format!("git-dispatch {}", env!("CARGO_PKG_VERSION"))),
        "{}",
        show(&version)
    );
    for file in [
        "share/man/man1/git-dispatch.1",
        "share/bash-completion/completions/git-dispatch",
        "share/zsh/site-functions/_git-dispatch",
    ] {
        assert!(
            env.home.join(".local").join(file).is_file(),
            "{file}\n{text}"
        );
    }
    // The clone has the hook; with no terminal, the commands that finish the setup.
    let hook = env.hook_path();
    assert!(hook.exists(), "no hook at {}\n{text}", hook.display());
    assert!(
        text.contains("git dispatch add OWNER/SITE && git dispatch login"),
        "{text}"
    );
    assert!(
        text.contains(&format!(
            "add {}/.local/bin to your PATH",
            env.home.display()
        )),
        "{text}"
    );
    let asked = mirror.asked.lock().unwrap().clone();
    assert_eq!(
        asked,
        vec![
            "install.sh".to_string(),
            archive.clone(),
            format!("{archive}.sha256")
        ],
    );
}

#[test]
fn with_only_shasum_as_on_macos_the_archive_is_still_checked() {
    let Some((files, archive)) = release_files(|_, b| Some(b)) else {
        return;
    };
    let env = TestEnv::new();
    let mirror = Mirror::serve(files);
    let path = new_machine_path(&env, &["shasum"]);
    let out = pipe_installer(&env, &mirror, &path);
    assert_exit(&out, 0, "the installer with shasum only");
    assert!(
        combined(&out).contains(&format!("checked {archive} against its .sha256")),
        "{}",
        show(&out)
    );
    assert!(installed_bin(&env).is_file());
}

/// The installer refused, said `why` with its fix, and installed nothing.
fn assert_refused(env: &TestEnv, out: &Output, why: &str) {
    assert_exit(out, 2, why);
    let text = combined(out);
    assert!(text.contains(why), "{why}: {text}");
    assert!(text.contains("nothing installed"), "{text}");
    for file in ["bin/git-dispatch", "share/man/man1/git-dispatch.1"] {
        assert!(
            !env.home.join(".local").join(file).exists(),
            "installed {file}: {text}"
        );
    }
    assert!(!env.hook_path().exists(), "a hook was installed: {text}");
}

#[test]
fn a_tampered_archive_is_refused_and_nothing_is_installed() {
    let Some((files, _)) = release_files(|name, mut bytes| {
        if name.ends_with(".tar.gz") {
            let middle = bytes.len() / 2;
            bytes[middle] ^= 0x40;
        }
        Some(bytes)
    }) else {
        return;
    };
    let env = TestEnv::new();
    let mirror = Mirror::serve(files);
    let out = pipe_installer(&env, &mirror, &new_machine_path(&env, &[checksum_tool()]));
    assert_refused(&env, &out, "does not match its .sha256");
}

#[test]
fn without_its_checksum_file_or_a_tool_to_check_with_nothing_is_installed() {
    let Some((files, _)) = release_files(|name, b| (!name.ends_with(".sha256")).then_some(b))
    else {
        return;
    };
    let env = TestEnv::new();
    let mirror = Mirror::serve(files);
    let out = pipe_installer(&env, &mirror, &new_machine_path(&env, &[checksum_tool()]));
    assert_refused(&env, &out, "could not download");

    let Some((files, _)) = release_files(|_, b| Some(b)) else {
        return;
    };
    let env = TestEnv::new();
    let mirror = Mirror::serve(files);
    let out = pipe_installer(&env, &mirror, &new_machine_path(&env, &[]));
    assert_refused(&env, &out, "neither sha256sum nor shasum is installed");
}

#[test]
fn the_projects_home_is_named_once_in_cargo_toml() {
    let manifest = fs::read_to_string(repo_dir().join("Cargo.toml")).unwrap();
    let home = manifest
        .lines()
        .find_map(|l| l.strip_prefix("repository = \""))
        .and_then(|l| l.strip_suffix('"'))
        .expect("Cargo.toml names its repository");
    let script = fs::read_to_string(repo_dir().join("install.sh")).unwrap();
    assert!(
        script.contains(&format!("\nHOME_URL={home}\n")),
        "install.sh's HOME_URL is not {home}"
    );
    let readme = fs::read_to_string(repo_dir().join("README.md")).unwrap();
    assert!(
        readme.contains(&format!(
            "curl -fsSL {home}/releases/latest/download/install.sh | sh -s -- "
        )),
        "the README's install line is not from {home}"
    );
    // Every GitHub address of ours in the README and installer is under that home.
    for (file, text) in [("README.md", &readme), ("install.sh", &script)] {
        for (at, _) in text.match_indices("github.com/git-dispatch") {
            assert!(
                text[at..].starts_with(home.trim_start_matches("https://")),
                "{file}: {}",
                &text[at..(at + 60).min(text.len())]
            );
        }
    }
}

#[test]
fn the_homebrew_formula_names_the_archives_as_released_with_their_sha256() {
    let Some((dir, archive)) = release() else {
        return;
    };
    let out = Command::new(repo_dir().join(".ci/homebrew-formula"))
        .arg(dir)
        .output()
        .expect("run .ci/homebrew-formula");
    assert!(out.status.success(), "{}", show(&out));
    let formula = stdout(&out);
    let manifest = fs::read_to_string(repo_dir().join("Cargo.toml")).unwrap();
    let home = manifest
        .lines()
        .find_map(|l| l.strip_prefix("repository = \""))
        .and_then(|l| l.strip_suffix('"'))
        .unwrap();
    let version = env!("CARGO_PKG_VERSION");
    let sha = fs::read_to_string(dir.join(format!("{archive}.sha256"))).unwrap();
    let sha = sha.split_whitespace().next().unwrap();
    let url = format!("url \"{home}/releases/download/v{version}/{archive}\"");
    let at = formula
        .find(&url)
        .unwrap_or_else(|| panic!("{url} in\n{formula}"));
    assert!(
        formula[at..].lines().nth(1) == Some(&format!("      sha256 \"{sha}\"")),
        "the sha256 after {url}:\n{formula}"
    );
    for install in [
        "bin.install \"git-dispatch\"",
        "man1.install \"git-dispatch.1\"",
        "bash_completion.install \"completions/git-dispatch.bash\" => \"git-dispatch\"",
        "zsh_completion.install \"completions/_git-dispatch\"",
    ] {
        assert!(formula.contains(install), "{install} in\n{formula}");
    }
    // Every file the formula installs is in the archive, where it says.
    let listing = Command::new("tar")
        .arg("tzf")
        .arg(dir.join(archive))
        .output()
        .unwrap();
    let listing = stdout(&listing);
    let top = archive.trim_end_matches(".tar.gz");
    for file in [
        "git-dispatch",
        "git-dispatch.1",
        "completions/git-dispatch.bash",
        "completions/_git-dispatch",
        "README.md",
        "LICENSE-MIT",
        "LICENSE-APACHE",
    ] {
        assert!(
            listing.lines().any(|l| l == format!("{top}/{file}")),
            "{file} in\n{listing}"
        );
    }
    // With --all, a missing target is an error, not a formula without it.
    let all = Command::new(repo_dir().join(".ci/homebrew-formula"))
        .arg(dir)
        .arg("--all")
        .output()
        .unwrap();
    assert!(!all.status.success(), "{}", show(&all));
}

/// The aarch64 Linux archive, cross-built by `.ci/run` on an x86_64 Linux machine
/// (gcc-aarch64-linux-gnu), and qemu-aarch64 to run it; `None` where this machine cannot
/// (the reason said; under CI on x86_64 Linux that fails).
fn aarch64_release() -> Option<(PathBuf, String)> {
    let x86_linux = cfg!(all(target_os = "linux", target_arch = "x86_64"));
    if !x86_linux {
        // An aarch64 or macOS runner builds its own archive natively, tested above.
        skip("the aarch64 cross check runs on x86_64 Linux", true);
        return None;
    }
    let archive = "git-dispatch-aarch64-unknown-linux-musl.tar.gz".to_string();
    let dir = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_dir().join("target"))
        .join("release-archive/out");
    let qemu = Command::new("qemu-aarch64")
        .arg("--version")
        .output()
        .is_ok();
    if !dir.join(&archive).is_file() || !qemu {
        skip(
            "the aarch64 archive check: .ci/run cross-builds it (gcc-aarch64-linux-gnu, \
             `rustup target add aarch64-unknown-linux-musl`) and runs it with qemu-aarch64 \
             (qemu-user)",
            false,
        );
        return None;
    }
    Some((dir, archive))
}

#[test]
fn on_an_aarch64_linux_machine_the_installer_takes_the_aarch64_archive_which_dispatches_over_tls() {
    let Some((dir, archive)) = aarch64_release() else {
        return;
    };
    let mut files: Files = Vec::new();
    for name in [archive.clone(), format!("{archive}.sha256")] {
        files.push((name.clone(), fs::read(dir.join(&name)).unwrap()));
    }
    files.push((
        "install.sh".into(),
        fs::read(repo_dir().join("install.sh")).unwrap(),
    ));
    let mirror = Mirror::serve(files);
    let mut env = TestEnv::new();
    // A machine whose uname says Linux on aarch64, as a Raspberry Pi or a Graviton's does.
    let path = new_machine_path(&env, &[checksum_tool()]);
    let uname = path.join("uname");
    let _ = fs::remove_file(&uname);
    write_script(
        &uname,
        "case \"$1\" in -m) echo aarch64 ;; *) echo Linux ;; esac\n",
    );
    let cwd = env.root.join("somewhere");
    fs::create_dir_all(&cwd).unwrap();
    let mut cmd = env.program_cmd(
        Path::new("/bin/sh"),
        &cwd,
        &["-c", &format!("curl -fsSL {}/install.sh | sh", mirror.url)],
    );
    cmd.env("PATH", &path)
        .env("GIT_DISPATCH_DOWNLOAD_URL", &mirror.url)
        .env_remove("PREFIX");
    let out = cmd.output().expect("run the installer");
    assert_exit(&out, 0, "the installer on aarch64");
    assert!(
        combined(&out).contains(&format!("checked {archive} against its .sha256")),
        "{}",
        show(&out)
    );
    // The binary installed is an aarch64 ELF (e_machine 183), and it runs.
    let bin = installed_bin(&env);
    let elf = fs::read(&bin).unwrap();
    assert_eq!(&elf[..4], b"\x7fELF");
    assert_eq!(u16::from_le_bytes([elf[18], elf[19]]), 183, "not aarch64");
    let version = Command::new("qemu-aarch64")
        .arg(&bin)
        .arg("--version")
        .output()
        .unwrap();
    assert_eq!(
        stdout(&version).trim(),
        format!("git-dispatch {}", env!("CARGO_PKG_VERSION")),
        "{}",
        show(&version)
    );

    // Its TLS (ring's aarch64 code) and its request, end to end: `send` over https to the
    // fake GitHub behind a TLS front, trusting the test CA.
    let fake = FakeGitHub::start();
    let front = crate::tls::TlsFront::start(&fake);
    env.set_token(Some(TOKEN));
    env.set_api_url(Some(&front.url()));
    env.set_var("SSL_CERT_FILE", crate::tls::fixture("ca.pem"));
    env.dispatch_ok(&["add", "owner/site"]);
    let sha = env.rev(&env.clone, "refs/remotes/origin/main");
    let mut send = env.program_cmd(
        Path::new("qemu-aarch64"),
        &env.clone,
        &[bin.to_str().unwrap(), "send"],
    );
    let out = send.output().expect("qemu-aarch64 git-dispatch send");
    assert_exit(&out, 0, "send by the aarch64 binary");
    let got = fake.dispatches();
    assert_eq!(got.len(), 1, "{}", fake.describe());
    assert_eq!(got[0].body["client_payload"]["sha"], sha.as_str());
}

/// install.sh, copied out of the checkout (so it downloads), run with `args` on a machine
/// whose `uname -s`, `uname -m` and `sysctl -n sysctl.proc_translated` say what is given
/// (`None`: no such sysctl key, as on an Intel Mac or Linux), and a `curl` that records the
/// URLs asked and fails as curl does on a 404. The URLs, and what install.sh said.
fn installer_asks(
    os: &str,
    cpu: &str,
    translated: Option<&str>,
    args: &[&str],
) -> (Vec<String>, Output) {
    let env = TestEnv::new();
    let path = new_machine_path(&env, &[checksum_tool()]);
    for tool in ["uname", "curl"] {
        let _ = fs::remove_file(path.join(tool));
    }
    write_script(
        &path.join("uname"),
        &format!("case \"$1\" in -m) echo {cpu} ;; *) echo {os} ;; esac\n"),
    );
    let sysctl = match translated {
        Some(value) => format!("[ \"$2\" = sysctl.proc_translated ] && echo {value}\n"),
        None => "echo \"sysctl: unknown oid '$2'\" >&2; exit 1\n".to_string(),
    };
    write_script(&path.join("sysctl"), &sysctl);
    let log = env.root.join("curl.log");
    write_script(
        &path.join("curl"),
        &format!(
            "for a in \"$@\"; do case $a in http*) echo \"$a\" >> {} ;; esac; done\nexit 22\n",
            sh_quote(&log.to_string_lossy())
        ),
    );
    let dir = env.root.join("download");
    fs::create_dir_all(&dir).unwrap();
    fs::copy(repo_dir().join("install.sh"), dir.join("install.sh")).unwrap();
    let mut all = vec!["install.sh"];
    all.extend_from_slice(args);
    let mut cmd = env.program_cmd(Path::new("/bin/sh"), &dir, &all);
    cmd.env("PATH", &path)
        .env_remove("GIT_DISPATCH_DOWNLOAD_URL")
        .env_remove("PREFIX");
    let out = cmd.output().expect("run install.sh");
    let asked = fs::read_to_string(&log)
        .unwrap_or_default()
        .lines()
        .map(str::to_string)
        .collect();
    (asked, out)
}

#[test]
fn each_machine_gets_its_own_archive_apple_silicon_under_rosetta_too() {
    let home = "https://github.com/git-dispatch/git-dispatch";
    // (uname -s, uname -m, sysctl.proc_translated, the archive asked for)
    let cases = [
        ("Darwin", "arm64", Some("0"), "aarch64-apple-darwin"),
        // A shell under Rosetta says x86_64; the Mac is Apple silicon.
        ("Darwin", "x86_64", Some("1"), "aarch64-apple-darwin"),
        ("Darwin", "x86_64", Some("0"), "x86_64-apple-darwin"),
        // An Intel Mac has no such key: sysctl fails.
        ("Darwin", "x86_64", None, "x86_64-apple-darwin"),
        ("Linux", "x86_64", None, "x86_64-unknown-linux-musl"),
        ("Linux", "aarch64", None, "aarch64-unknown-linux-musl"),
    ];
    for (os, cpu, translated, triple) in cases {
        let (asked, out) = installer_asks(os, cpu, translated, &[]);
        let want = format!("{home}/releases/latest/download/git-dispatch-{triple}.tar.gz");
        assert_eq!(
            asked.first(),
            Some(&want),
            "{os} {cpu} {translated:?}: {}",
            show(&out)
        );
        // The download failed: said, and nothing installed.
        assert_ne!(out.status.code(), Some(0));
        assert!(
            stderr(&out).contains("could not download"),
            "{}",
            show(&out)
        );
    }
    // --version pins a release.
    let (asked, _) = installer_asks("Darwin", "arm64", Some("0"), &["--version", "0.2.0"]);
    assert_eq!(
        asked.first().map(String::as_str),
        Some(
            format!("{home}/releases/download/v0.2.0/git-dispatch-aarch64-apple-darwin.tar.gz")
                .as_str()
        )
    );
    // A machine with no release: said with the way in, and nothing is asked for.
    for (os, cpu) in [("Linux", "armv7l"), ("FreeBSD", "amd64")] {
        let (asked, out) = installer_asks(os, cpu, None, &[]);
        assert!(asked.is_empty(), "{asked:?}");
        assert!(
            stderr(&out).contains(&format!(
                "no prebuilt binary for {os} {cpu}; build from source: {home}#install"
            )),
            "{}",
            show(&out)
        );
    }
}
