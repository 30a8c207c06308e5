//! Telling the run a dispatch started among the runs GitHub lists: a pure function of the
//! record, the list and how long the list has had to settle, so that every case is a row
//! of a table test (doc/DESIGN.md, "Following the run").
//!
//! A run is ours when its title carries the dispatch's id as a whole token (the `run-name`
//! line); failing that, by time, only where that cannot be wrong: the one new run there is,
//! started by the token's own user, while nothing else of ours to that target is in flight.

use std::collections::BTreeMap;

use serde_json::{json, Value};

use super::record::{Match, Run};
use crate::timestamp::GitHubSecs;

/// Polls the list is given to settle before a run is matched by time: lists lag, and
/// another client's run may show before ours.
pub const SETTLE_POLLS: u64 = 6;

/// A run as a list of runs shows it: the run, its title and who started it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Listed {
    /// The run.
    pub run: Run,
    /// GitHub's `display_title` (the rendered `run-name`).
    pub title: String,
    /// The login of the user who started it.
    pub actor: Option<String>,
}

impl Listed {
    /// Reads one entry of a runs list; `None` when it lacks what a run needs.
    pub fn from_github(v: &Value) -> Option<Listed> {
        Some(Listed {
            run: Run::from_github(v)?,
            title: crate::say::one_line(v.get("display_title").and_then(Value::as_str)?),
            actor: v["actor"]["login"].as_str().map(crate::say::one_line),
        })
    }

    /// As stored in a record.
    pub fn to_json(&self) -> Value {
        json!({"run": self.run.to_json(), "title": self.title, "actor": self.actor})
    }

    /// Reads a stored one back.
    pub fn from_json(v: &Value) -> Option<Listed> {
        Some(Listed {
            run: Run::from_json(v.get("run")?)?,
            title: v.get("title")?.as_str()?.to_string(),
            actor: v.get("actor").and_then(Value::as_str).map(str::to_string),
        })
    }
}

/// Who the token's user is, as far as GitHub has said.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum User {
    /// Not asked yet, or no definitive answer (a timeout, a 5xx): asked again.
    NotYet,
    /// GitHub's login for the token.
    Known(String),
    /// GitHub answered that it will not say (a token that is no user's).
    Unknowable,
}

/// What one read of the list, with what else is known, asks of the follower.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ask<'a> {
    /// The id the dispatch carried in `client_payload`, when it fitted.
    pub dispatch_id: Option<&'a str>,
    /// GitHub's clock when it took the dispatch (Unix seconds).
    pub dispatched_at: GitHubSecs,
    /// The token's user.
    pub user: &'a User,
    /// Whether another dispatch of ours to the same target is still looked for or followed.
    pub others_in_flight: bool,
    /// Milliseconds since the dispatch was recorded (a monotonic clock's, in the follower).
    pub elapsed_ms: u64,
    /// The poll interval in milliseconds.
    pub poll_ms: u64,
}

/// Why runs that started then cannot be told for ours.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ambiguity {
    /// Several new runs, none carrying our id.
    Several(usize),
    /// One new run, but another dispatch of ours to this target was in flight.
    OtherOfOursInFlight,
    /// New runs, but GitHub would not say whose the token is.
    UserUnknowable(usize),
}

/// What the follower does with a read of the list.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Decision {
    /// Nothing of ours there yet, or the list has not settled enough to say.
    Wait,
    /// Our run(s), found by id while the list settles: shown and polled, not yet final
    /// (another of the site's workflows may still show).
    Provisional(Vec<Run>),
    /// Our run(s), one per workflow, and how they were told.
    Found(Vec<Run>, Match),
    /// Runs started then, none of which can be told for ours.
    NotIdentified(Ambiguity),
}

/// Decides on `list`, the runs GitHub lists for the dispatch's event since just before it.
pub fn decide(ask: &Ask, list: &[Listed]) -> Decision {
    let settled = ask.elapsed_ms >= SETTLE_POLLS * ask.poll_ms;
    // Once every run found has completed, two polls on, the lag has evidently passed for
    // runs created with ours: waiting out the window would only delay a short build's
    // outcome past its budget (by id or by time alike).
    let early = ask.elapsed_ms < 2 * ask.poll_ms;
    if let Some(id) = ask.dispatch_id {
        let ours: Vec<Run> = list
            .iter()
            .filter(|l| title_has_id(&l.title, id))
            .map(|l| l.run.clone())
            .collect();
        if !ours.is_empty() {
            let runs = newest_per_workflow(ours);
            // Kept while another workflow's run may still show.
            if !settled && (early || !runs.iter().all(Run::completed)) {
                return Decision::Provisional(runs);
            }
            return Decision::Found(runs, Match::Id);
        }
    }
    if early {
        return Decision::Wait;
    }
    // By time: new runs (created with the dispatch or after, GitHub's clock to the second)
    // whose titles name no dispatch of ours.
    let new: Vec<&Listed> = list
        .iter()
        .filter(|l| l.run.created_at >= ask.dispatched_at.minus(2))
        .filter(|l| !names_a_dispatch(&l.title))
        .collect();
    let login = match ask.user {
        User::Known(login) => login,
        // Until GitHub says whose the token is, another's run could be taken for ours.
        User::NotYet => return Decision::Wait,
        _ if !settled => return Decision::Wait,
        User::Unknowable if new.is_empty() => return Decision::Wait,
        User::Unknowable => return Decision::NotIdentified(Ambiguity::UserUnknowable(new.len())),
    };
    let fresh: Vec<Run> = new
        .into_iter()
        .filter(|l| l.actor.as_deref() == Some(login.as_str()))
        .map(|l| l.run.clone())
        .collect();
    // Before the window ends only the plain case is decided: one new run of the user's,
    // completed, and no other dispatch of ours in flight; anything else waits for the
    // list to settle.
    if !settled {
        let plain = fresh.len() == 1 && !ask.others_in_flight && fresh[0].completed();
        return if plain {
            Decision::Found(fresh, Match::Time)
        } else {
            Decision::Wait
        };
    }
    match fresh.len() {
        0 => Decision::Wait,
        1 if ask.others_in_flight => Decision::NotIdentified(Ambiguity::OtherOfOursInFlight),
        1 => Decision::Found(fresh, Match::Time),
        n => Decision::NotIdentified(Ambiguity::Several(n)),
    }
}

/// Whether `title` carries `id` as a whole token: bounded by the title's ends or by
/// characters no id has, so `update (gd-1)` holds gd-1 and `update gd-10` does not. The
/// follower and `doctor` both ask this, so they cannot disagree.
pub fn title_has_id(title: &str, id: &str) -> bool {
    !id.is_empty() && tokens(title).any(|t| t == id)
}

/// Whether `title` carries some dispatch's id of ours (`gd-` and the entry's id).
pub fn names_a_dispatch(title: &str) -> bool {
    tokens(title).any(|t| {
        t.strip_prefix("gd-")
            .is_some_and(|rest| !rest.is_empty() && rest.bytes().all(|b| b.is_ascii_hexdigit()))
    })
}

/// The runs of characters an id may hold (ASCII letters, digits, `-` and `_`).
fn tokens(title: &str) -> impl Iterator<Item = &str> {
    title
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '-' || c == '_'))
        .filter(|t| !t.is_empty())
}

/// GitHub may deliver an event twice, and we may send a push twice: one run per
/// workflow, the newest deciding.
fn newest_per_workflow(found: Vec<Run>) -> Vec<Run> {
    let mut newest: BTreeMap<u64, Run> = BTreeMap::new();
    for run in found {
        match newest.get(&run.workflow_id) {
            Some(kept) if kept.id >= run.id => {}
            _ => {
                newest.insert(run.workflow_id, run);
            }
        }
    }
    newest.into_values().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const POLL: u64 = 5000;
    const AT: u64 = 1_000_000;

    fn listed(id: u64, workflow_id: u64, title: &str, actor: &str, status: &str) -> Listed {
        let conclusion = (status == "completed").then(|| "success".to_string());
        Listed {
            run: Run {
                id,
                html_url: format!("https://github.com/o/s/actions/runs/{id}"),
                workflow: "Build".into(),
                workflow_id,
                status: status.into(),
                conclusion,
                run_attempt: 1,
                created_at: GitHubSecs(AT),
                run_started_at: None,
                updated_at: GitHubSecs(AT),
                failed_job: None,
                current: None,
            },
            title: title.into(),
            actor: Some(actor.into()),
        }
    }

    fn ask<'a>(user: &'a User, elapsed_polls: u64) -> Ask<'a> {
        Ask {
            dispatch_id: Some("gd-1"),
            dispatched_at: GitHubSecs(AT),
            user,
            others_in_flight: false,
            elapsed_ms: elapsed_polls * POLL,
            poll_ms: POLL,
        }
    }

    fn ids(decision: &Decision) -> Vec<u64> {
        match decision {
            Decision::Provisional(runs) | Decision::Found(runs, _) => {
                runs.iter().map(|r| r.id).collect()
            }
            _ => Vec::new(),
        }
    }

    #[test]
    fn an_id_is_a_whole_token_of_the_title_wherever_punctuation_puts_it() {
        for title in [
            "update gd-1",
            "gd-1",
            "update (gd-1)",
            "update [gd-1]",
            "update id:gd-1",
            "update #gd-1",
            "update gd-1.",
            "Deploy: gd-1, content",
            "update\u{a0}gd-1",
            "\"gd-1\"",
        ] {
            assert!(title_has_id(title, "gd-1"), "{title:?}");
        }
        for title in [
            "update gd-10",
            "update gd-1a",
            "update xgd-1",
            "update gd-1-2",
            "update gd_1",
            "update gd-1_x",
            "update",
            "",
        ] {
            assert!(!title_has_id(title, "gd-1"), "{title:?}");
        }
        assert!(!title_has_id("update ", ""));
        assert!(names_a_dispatch("update (gd-0123abcd)"));
        assert!(!names_a_dispatch("gd- release"));
        assert!(!names_a_dispatch("update gd-notes"));
    }

    #[test]
    fn each_case_decides_as_the_table_says() {
        let writer = User::Known("writer".into());
        let mine = |id, title: &str| listed(id, 7, title, "writer", "in_progress");
        let done = |id, title: &str| listed(id, 7, title, "writer", "completed");
        let theirs = |id, title: &str| listed(id, 7, title, "someone", "in_progress");
        struct Row {
            what: &'static str,
            list: Vec<Listed>,
            polls: u64,
            user: User,
            others: bool,
            want: Decision,
        }
        let found =
            |runs: Vec<Listed>, by| Decision::Found(runs.into_iter().map(|l| l.run).collect(), by);
        let provisional =
            |runs: Vec<Listed>| Decision::Provisional(runs.into_iter().map(|l| l.run).collect());
        let rows = vec![
            Row {
                what: "empty list, early",
                list: vec![],
                polls: 0,
                user: writer.clone(),
                others: false,
                want: Decision::Wait,
            },
            Row {
                what: "empty list, settled",
                list: vec![],
                polls: 9,
                user: writer.clone(),
                others: false,
                want: Decision::Wait,
            },
            Row {
                what: "ours by id, early: shown, not final",
                list: vec![mine(1, "update gd-1")],
                polls: 0,
                user: writer.clone(),
                others: false,
                want: provisional(vec![mine(1, "update gd-1")]),
            },
            Row {
                what: "ours by id in parentheses, settled",
                list: vec![mine(1, "update (gd-1)")],
                polls: 6,
                user: writer.clone(),
                others: false,
                want: found(vec![mine(1, "update (gd-1)")], Match::Id),
            },
            Row {
                what: "ours by id, completed two polls on: decided in the window",
                list: vec![done(1, "update gd-1")],
                polls: 2,
                user: writer.clone(),
                others: false,
                want: found(vec![done(1, "update gd-1")], Match::Id),
            },
            Row {
                what: "ours by id, completed in the first poll: not yet",
                list: vec![done(1, "update gd-1")],
                polls: 1,
                user: writer.clone(),
                others: false,
                want: provisional(vec![done(1, "update gd-1")]),
            },
            Row {
                what: "a look-alike id is never ours",
                list: vec![mine(1, "update gd-10")],
                polls: 9,
                user: writer.clone(),
                others: false,
                want: Decision::Wait,
            },
            Row {
                what: "ours by id beside a look-alike",
                list: vec![mine(2, "update gd-10"), mine(1, "update gd-1")],
                polls: 9,
                user: writer.clone(),
                others: false,
                want: found(vec![mine(1, "update gd-1")], Match::Id),
            },
            Row {
                what: "ours by id, whoever started it",
                list: vec![theirs(1, "update gd-1")],
                polls: 9,
                user: writer.clone(),
                others: false,
                want: found(vec![theirs(1, "update gd-1")], Match::Id),
            },
            Row {
                what: "delivered twice: the newest of the workflow",
                list: vec![mine(3, "update gd-1"), mine(2, "update gd-1")],
                polls: 9,
                user: writer.clone(),
                others: false,
                want: found(vec![mine(3, "update gd-1")], Match::Id),
            },
            Row {
                what: "two workflows: one run each",
                list: vec![
                    mine(3, "update gd-1"),
                    listed(4, 8, "update gd-1", "writer", "queued"),
                ],
                polls: 9,
                user: writer.clone(),
                others: false,
                want: found(
                    vec![
                        mine(3, "update gd-1"),
                        listed(4, 8, "update gd-1", "writer", "queued"),
                    ],
                    Match::Id,
                ),
            },
            Row {
                what: "by time: the list may still lag",
                list: vec![mine(1, "Build site")],
                polls: 5,
                user: writer.clone(),
                others: false,
                want: Decision::Wait,
            },
            Row {
                what: "by time: the one new run, completed two polls on: decided early",
                list: vec![done(1, "Build site")],
                polls: 2,
                user: writer.clone(),
                others: false,
                want: found(vec![done(1, "Build site")], Match::Time),
            },
            Row {
                what: "by time: completed in the first poll: not yet",
                list: vec![done(1, "Build site")],
                polls: 1,
                user: writer.clone(),
                others: false,
                want: Decision::Wait,
            },
            Row {
                what: "by time: completed early, but another of ours in flight: the window",
                list: vec![done(1, "Build site")],
                polls: 3,
                user: writer.clone(),
                others: true,
                want: Decision::Wait,
            },
            Row {
                what: "by time: two completed early: the window, then not identified",
                list: vec![done(2, "Build site"), done(1, "Build site")],
                polls: 3,
                user: writer.clone(),
                others: false,
                want: Decision::Wait,
            },
            Row {
                what: "by time: the one new run of the user",
                list: vec![mine(1, "Build site")],
                polls: 6,
                user: writer.clone(),
                others: false,
                want: found(vec![mine(1, "Build site")], Match::Time),
            },
            Row {
                what: "by time: another actor's run is not ours",
                list: vec![theirs(1, "Build site")],
                polls: 9,
                user: writer.clone(),
                others: false,
                want: Decision::Wait,
            },
            Row {
                what: "by time: the user not known yet",
                list: vec![mine(1, "Build site")],
                polls: 9,
                user: User::NotYet,
                others: false,
                want: Decision::Wait,
            },
            Row {
                what: "by time: the user cannot be known",
                list: vec![mine(1, "Build site")],
                polls: 9,
                user: User::Unknowable,
                others: false,
                want: Decision::NotIdentified(Ambiguity::UserUnknowable(1)),
            },
            Row {
                what: "by time: nothing new and the user cannot be known",
                list: vec![],
                polls: 9,
                user: User::Unknowable,
                others: false,
                want: Decision::Wait,
            },
            Row {
                what: "by time: another dispatch of ours in flight",
                list: vec![mine(1, "Build site")],
                polls: 9,
                user: writer.clone(),
                others: true,
                want: Decision::NotIdentified(Ambiguity::OtherOfOursInFlight),
            },
            Row {
                what: "by time: two new runs",
                list: vec![mine(2, "Build site"), mine(1, "Build site")],
                polls: 9,
                user: writer.clone(),
                others: false,
                want: Decision::NotIdentified(Ambiguity::Several(2)),
            },
            Row {
                what: "by time: another dispatch's run (its id in the title) is not ours",
                list: vec![mine(1, "update (gd-0abc)")],
                polls: 9,
                user: writer.clone(),
                others: false,
                want: Decision::Wait,
            },
        ];
        for row in rows {
            let mut a = ask(&row.user, row.polls);
            a.others_in_flight = row.others;
            let got = decide(&a, &row.list);
            assert_eq!(got, row.want, "{}: {:?}", row.what, ids(&got));
        }
    }

    #[test]
    fn a_run_created_before_the_dispatch_is_never_matched_by_time() {
        let writer = User::Known("writer".into());
        let mut old = listed(1, 7, "Build site", "writer", "completed");
        old.run.created_at = GitHubSecs(AT - 3);
        assert_eq!(
            decide(&ask(&writer, 9), std::slice::from_ref(&old)),
            Decision::Wait
        );
        // A re-run of an old run keeps its creation time: still not ours.
        old.run.run_attempt = 2;
        assert_eq!(decide(&ask(&writer, 9), &[old]), Decision::Wait);
    }

    #[test]
    fn without_a_dispatch_id_only_time_can_match() {
        let writer = User::Known("writer".into());
        let mut a = ask(&writer, 9);
        a.dispatch_id = None;
        let run = listed(1, 7, "update gd-1", "writer", "queued");
        assert_eq!(decide(&a, &[run]), Decision::Wait);
        let run = listed(1, 7, "Build site", "writer", "queued");
        assert_eq!(
            decide(&a, std::slice::from_ref(&run)),
            Decision::Found(vec![run.run], Match::Time)
        );
    }
}
