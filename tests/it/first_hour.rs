//! The first hour, tried as a new user would: recovering from the ordinary mistakes (a
//! mistyped site, a stale clone, the wrong directory) is said plainly, with the way out.

use crate::follow::{following_with, push_post, wait_outcome, PLAIN_WORKFLOW};
use crate::support::*;

/// A clone with the hook, the token and the fake's URL, and `site` added as given.
fn with_target(fake: &FakeGitHub, site: &str) -> TestEnv {
    let env = TestEnv::with_fake(fake);
    env.install();
    env.dispatch_ok(&["add", site]);
    env
}

#[test]
fn a_site_name_corrected_in_the_config_is_where_retry_sends() {
    let fake = FakeGitHub::start();
    let env = with_target(&fake, "owner/stie");
    env.commit(&env.clone, "post.md", "post\n", "post");
    env.push_ok(&["origin", "main"]);
    env.wait_for_error("failed", TIMEOUT);
    assert!(fake.dispatches().is_empty());

    // The writer corrects the name where `list` shows it, and retries.
    env.git_ok(
        &env.clone,
        &["config", "dispatch.stie.repository", "owner/site"],
    );
    let out = env.dispatch(&["retry"]);
    assert_exit(&out, 0, "retry after the name was corrected");
    assert!(
        stderr(&out)
            .contains("stie: owner/stie is now owner/site in the config, so that is where it goes"),
        "{}",
        show(&out)
    );
    let sent = fake.dispatches();
    assert_eq!(sent.len(), 1, "{}", fake.describe());
    assert_eq!(sent[0].repository, "owner/site");
}

#[test]
fn removing_a_target_says_what_it_left_undelivered_and_retry_leaves_it() {
    let fake = FakeGitHub::start();
    let env = with_target(&fake, "owner/stie");
    env.commit(&env.clone, "post.md", "post\n", "post");
    env.push_ok(&["origin", "main"]);
    let status = env.wait_for_error("failed", TIMEOUT);
    let id = status["entries"][0]["id"].as_str().unwrap().to_string();

    let out = env.dispatch(&["remove", "stie"]);
    assert_exit(&out, 0, "remove");
    assert!(
        stderr(&out).contains(&format!(
            "stie still has 1 undelivered dispatch(es), which nothing sends now; forget each \
             with `git dispatch drop <id>`: {id}"
        )),
        "{}",
        show(&out)
    );
    let sent = |fake: &FakeGitHub| {
        fake.requests()
            .iter()
            .filter(|r| r.path.ends_with("/dispatches"))
            .count()
    };
    let before = sent(&fake);
    let out = env.dispatch(&["retry"]);
    assert_exit(&out, 1, "retry of an entry whose target is gone");
    assert!(
        stderr(&out).contains(&format!(
            "its target \"stie\" is no longer configured, so it is not sent; `git dispatch drop {id}` forgets it"
        )),
        "{}",
        show(&out)
    );
    assert_eq!(sent(&fake), before, "retry sent it: {}", fake.describe());
    env.dispatch_ok(&["drop", &id]);
}

#[test]
fn send_after_another_clone_pushed_sends_what_the_remote_holds_and_says_so() {
    let fake = FakeGitHub::start();
    let env = with_target(&fake, "owner/site");
    // Another clone (the writer's laptop) pushed; this one has not fetched.
    let other = env.second_clone("laptop");
    let newer = env.commit(&other, "post.md", "post\n", "from the laptop");
    env.git_ok(&other, &["push", "--quiet", "origin", "main"]);
    let stale = env.rev(&env.clone, "origin/main");
    assert_ne!(stale, newer);

    let out = env.dispatch(&["send"]);
    assert_exit(&out, 0, "send");
    assert!(
        stderr(&out).contains(&format!(
            "refs/remotes/origin/main is {} here but {} on origin (pushed from elsewhere since \
             your last fetch): sending {}, the remote's",
            &stale[..7],
            &newer[..7],
            &newer[..7]
        )),
        "{}",
        show(&out)
    );
    let sent = fake.dispatches();
    assert_eq!(sent[0].body["client_payload"]["sha"], newer.as_str());
}

#[test]
fn status_out_of_place_says_where_it_is_and_what_to_do() {
    // A repository with no target (the git-dispatch checkout, say).
    let env = TestEnv::new();
    let out = env.dispatch(&["status"]);
    assert_exit(&out, 1, "status without a target");
    assert!(
        stdout(&out).contains(&format!(
            "no target in {}: git-dispatch works in your content clone; there, `git dispatch \
             install` sets it up",
            env.clone.display()
        )),
        "{}",
        show(&out)
    );
    assert_exit(
        &env.dispatch(&["status", "--json"]),
        1,
        "status --json without a target, as in text",
    );
    // Outside any repository: where, and what to do; no library's debug words.
    let out = env.dispatch_in(&env.root, &["status"]);
    assert_exit(&out, 2, "status outside a repository");
    let said = stderr(&out);
    assert!(
        said.contains(&format!(
            "{} is not inside a git repository; run this in your content clone",
            env.root.display()
        )),
        "{said}"
    );
    assert!(!said.contains("NotFound"), "{said}");
}

#[test]
fn doctor_after_uninstall_reports_the_missing_hook_once() {
    let fake = FakeGitHub::start();
    fake.add_workflow(
        "owner/site",
        "build.yml",
        crate::follow::SITE_WORKFLOW,
        None,
    );
    let env = with_target(&fake, "owner/site");
    env.dispatch_ok(&["uninstall"]);
    let out = env.dispatch(&["doctor"]);
    assert_exit(&out, 1, "doctor without the hook");
    let report = stdout(&out);
    let failures: Vec<&str> = report.lines().filter(|l| l.starts_with("FAIL")).collect();
    assert_eq!(failures.len(), 1, "{report}");
    assert!(failures[0].contains("no hook at"), "{report}");
}

#[test]
fn a_dozen_pushes_fit_a_24_row_screen_and_a_note_is_said_once() {
    let (fake, env) = following_with(crate::follow::SITE_WORKFLOW, None, &[]);
    for n in 0..12 {
        if n == 9 {
            // The last three without the run-name line: each is matched by time, with the
            // same note. Runs without an id are told apart by time: 3 s apart.
            fake.add_workflow("owner/site", "build.yml", PLAIN_WORKFLOW, None);
        }
        if n > 9 {
            std::thread::sleep(std::time::Duration::from_millis(3100));
        }
        push_post(&env, &format!("{n}.md"));
        let status = env.wait_status(TIMEOUT, "this push's outcome", |s| {
            recent(s).len() == n + 1 && recent(s)[0]["follow"]["outcome"].is_string()
        });
        assert_eq!(
            recent(&status)[0]["follow"]["outcome"],
            "success",
            "{status:#}"
        );
    }
    assert_eq!(
        wait_outcome(&env)["matched"],
        "time",
        "the setup this test means"
    );
    let out = env.dispatch(&["status"]);
    let text = stdout(&out);
    // A row left for the prompt.
    assert!(
        text.lines().count() < 24,
        "{} rows:\n{text}",
        text.lines().count()
    );
    assert_eq!(
        text.matches("matched by time only").count(),
        1,
        "the note once, with the newest:\n{text}"
    );
    assert!(
        text.starts_with("nothing pending\nrecent deliveries, newest first:\n"),
        "{text}"
    );
}
