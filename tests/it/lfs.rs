//! Living beside git-lfs, which owns `pre-push` in content repositories with images: after
//! our install, LFS objects still reach the remote, and `doctor` notices when they would not.
//! Uses the real git-lfs (`.ci/run` installs Debian's package when it is missing).

use std::fs;
use std::path::Path;

use crate::support::*;

fn git_lfs_available(env: &TestEnv) -> bool {
    let out = env.git(&env.clone, &["lfs", "version"]);
    // Said loudly: without git-lfs these tests prove nothing.
    out.status.success()
        || !skip(
            "git-lfs is not installed (`apt-get install git-lfs`)",
            false,
        )
}

fn lfs_objects(remote: &Path) -> Vec<String> {
    let mut found = Vec::new();
    walk(&remote.join("lfs/objects"), &mut |p| {
        found.push(p.file_name().unwrap().to_string_lossy().into_owned())
    });
    found
}

#[test]
fn install_over_git_lfs_keeps_lfs_uploading_and_dispatches() {
    let fake = FakeGitHub::start();
    let env = TestEnv::with_fake(&fake);
    if !git_lfs_available(&env) {
        return;
    }
    env.git_ok(&env.clone, &["lfs", "install", "--local"]);
    let lfs_hook = fs::read(env.hook_path()).unwrap();
    env.install();
    env.dispatch_ok(&["add", "owner/site"]);
    let displaced = env
        .hooks_dir(&env.clone)
        .join("pre-push.before-git-dispatch");
    assert_eq!(
        fs::read(&displaced).unwrap(),
        lfs_hook,
        "LFS's hook kept as it was"
    );

    fs::write(
        env.clone.join(".gitattributes"),
        "*.png filter=lfs diff=lfs merge=lfs -text\n",
    )
    .unwrap();
    fs::write(env.clone.join("photo.png"), vec![7u8; 4096]).unwrap();
    env.git_ok(&env.clone, &["add", "."]);
    env.git_ok(&env.clone, &["commit", "--quiet", "-m", "photo"]);
    let sha = env.rev(&env.clone, "HEAD");

    let out = env.push_ok(&["origin", "main"]);

    let oid = env.git_stdout(&env.clone, &["lfs", "ls-files", "--long"]);
    let oid = oid
        .split_whitespace()
        .next()
        .expect("an LFS file")
        .to_string();
    assert_eq!(
        lfs_objects(&env.remote),
        [oid],
        "LFS uploaded the image\n{}",
        show(&out)
    );
    let got = env.wait_dispatched(&fake, 1);
    assert_eq!(got[0].body["client_payload"]["sha"], sha.as_str());

    // doctor agrees that LFS still runs.
    let doctor = env.dispatch(&["doctor"]);
    assert!(
        stdout(&doctor).contains("ok   git-lfs's pre-push hook still runs"),
        "{}",
        show(&doctor)
    );

    // Uninstall gives LFS its hook back, byte for byte.
    env.dispatch_ok(&["uninstall"]);
    assert_eq!(fs::read(env.hook_path()).unwrap(), lfs_hook);
    assert!(!displaced.exists());
}

#[test]
fn doctor_warns_when_lfs_files_would_no_longer_be_uploaded() {
    let (_fake, env) = installed();
    if !git_lfs_available(&env) {
        return;
    }
    fs::write(
        env.clone.join(".gitattributes"),
        "*.png filter=lfs diff=lfs merge=lfs -text\n",
    )
    .unwrap();
    let out = env.dispatch(&["doctor"]);
    assert_exit(&out, 1, "doctor with LFS attributes but no LFS hook");
    let text = stdout(&out);
    assert!(
        text.contains("FAIL .gitattributes uses LFS but `git lfs pre-push` no longer runs"),
        "{text}"
    );
    assert!(text.contains("git lfs install"), "names the fix\n{text}");

    // Following the fix clears it.
    env.dispatch_ok(&["uninstall"]);
    env.git_ok(&env.clone, &["lfs", "install", "--local"]);
    env.install();
    let out = env.dispatch(&["doctor"]);
    assert!(
        stdout(&out).contains("ok   git-lfs's pre-push hook still runs"),
        "{}",
        show(&out)
    );
}
