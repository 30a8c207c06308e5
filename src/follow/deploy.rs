//! One round for a Netlify deploy: `GET /api/v1/deploys/{id}` until it is live or failed.
//! The build's answer named the deploy, so nothing is looked for or matched; what Netlify
//! refuses becomes the outcome and its fix, and a 429 pauses every deploy on the token.

use std::time::{Duration, Instant};

use serde_json::Value;

use super::outcome::{cannot_follow, SLOW_POLLS};
use super::record::{Follow, Outcome, Phase};
use crate::answer::Answer;
use crate::api::Api;
use crate::netlify::Deploy;
use crate::say;
use crate::timestamp::{GitHubSecs, LocalMs};
use crate::token::Token;

/// For this long after the build a 404 for the deploy it named is not an answer.
const NAMED_DEPLOY_404_MS: u64 = 30_000;

/// Netlify's API and token, read once per follower.
pub struct Session {
    api: Result<Api, String>,
    token: Result<Token, String>,
    /// Whether the token was read again after a 401.
    reread: bool,
    /// Until when no deploy is read (Netlify's 429), on the monotonic clock.
    paused: Option<Instant>,
}

impl Session {
    /// Netlify's endpoint and the stored token; `timeout` bounds each request.
    pub fn open(timeout: u64) -> Session {
        let api = crate::netlify::api(timeout).map_err(|e| format!("{e:#}"));
        let token = match &api {
            Ok(api) => crate::netlify::token(api).map_err(|e| format!("{e:#}")),
            Err(why) => Err(why.clone()),
        };
        Session {
            api,
            token,
            reread: false,
            paused: None,
        }
    }

    /// Whether reading deploys waits, and until when.
    pub fn paused_until(&self) -> Option<Instant> {
        self.paused.filter(|until| *until > Instant::now())
    }

    /// Netlify answered 429: every deploy on the token waits what it asked; milliseconds.
    fn pause(&mut self, answer: &Answer) -> u64 {
        let wait = crate::netlify::pause(answer, crate::store::now()).clamp(1, 3600);
        self.paused = Some(Instant::now() + Duration::from_secs(wait));
        wait * 1000
    }

    fn read_token_again(&mut self) {
        if let Ok(api) = &self.api {
            self.token = crate::netlify::token(api).map_err(|e| format!("{e:#}"));
        }
    }
}

/// One request for `follow`'s deploy; the milliseconds until the next.
pub fn step(session: &mut Session, follow: &mut Follow, poll_ms: u64) -> u64 {
    let Some(deploy) = follow.deploy.clone() else {
        return poll_ms;
    };
    let api = match &session.api {
        Ok(api) => api.clone(),
        Err(why) => {
            let note = format!("cannot follow: {why}; the build was started");
            return cannot_follow(follow, note, poll_ms);
        }
    };
    let token = match &session.token {
        Ok(token) => token.clone(),
        Err(why) => {
            // Logged out meanwhile, or the credentials unreadable for a moment: read
            // again a while later, until the bound says "still running".
            follow.note = Some(format!(
                "cannot follow yet: {}",
                say::shorten(&say::one_line(why), 200)
            ));
            session.read_token_again();
            return SLOW_POLLS * poll_ms;
        }
    };
    let answer = match crate::netlify::get_deploy(&api, &deploy.id, &token) {
        Ok(answer) => answer,
        // The network: asked again a poll later.
        Err(_) => return poll_ms,
    };
    if let Some(date) = answer.header("date").and_then(crate::timestamp::parse_http) {
        follow.github_now = follow.github_now.max(GitHubSecs(date));
    }
    match answer.status {
        200 => {
            let read = serde_json::from_str::<Value>(&answer.body)
                .ok()
                .and_then(|v| deploy.read(&v));
            // Not this deploy, or garbled: nothing is taken from it.
            let Some(mut now) = read else {
                return poll_ms;
            };
            follow.note = None;
            if now.needs_publish_check() {
                // `ready` is built; live only if the site serves it (auto publishing may
                // be stopped, or a newer deploy published).
                let asked = check_site(session, &api, &token, &mut now);
                if now.published.is_none() {
                    follow.deploy = Some(now);
                    return match asked {
                        SiteRead::Paused(wait) => wait,
                        SiteRead::Refused => refused(session, follow, poll_ms),
                        SiteRead::Answered => poll_ms,
                    };
                }
            }
            if let Some(outcome) = now.outcome() {
                follow.outcome = Some(outcome);
                follow.phase = Phase::Done;
                if outcome == Outcome::Concluded("success") && follow.site_url.is_none() {
                    follow.site_url = now.ssl_url.clone();
                }
            }
            follow.deploy = Some(now);
            poll_ms
        }
        401 => refused(session, follow, poll_ms),
        // Netlify named this deploy with the build: a 404 right after is its API catching
        // up, not an answer.
        404 if LocalMs::now().since(follow.recorded_ms) < NAMED_DEPLOY_404_MS => poll_ms,
        403 | 404 => cannot_follow(
            follow,
            format!(
                "cannot follow: Netlify does not show deploy {} to this token ({}); the build \
                 was started: see the site's Deploys page",
                deploy.id, answer.status
            ),
            poll_ms,
        ),
        429 => session.pause(&answer),
        // A 5xx, or anything else: asked again a poll later.
        _ => poll_ms,
    }
}

/// What asking the site about a `ready` deploy came to.
enum SiteRead {
    /// An answer, or none for now (a 5xx, the network): `published` says which.
    Answered,
    /// Netlify's 429: every deploy on the token waits this many milliseconds.
    Paused(u64),
    /// The token was refused (401).
    Refused,
}

/// Asks the site whether it serves `deploy`, and sets `published` when it can tell.
fn check_site(session: &mut Session, api: &Api, token: &Token, deploy: &mut Deploy) -> SiteRead {
    let site = match crate::netlify::get_site(api, &deploy.site, token) {
        Ok(site) => site,
        Err(_) => return SiteRead::Answered,
    };
    match site.status {
        200 => {
            if let Ok(v) = serde_json::from_str::<Value>(&site.body) {
                deploy.check_published(&v);
            }
        }
        // The token reads the deploy but may not read the site: Netlify's `ready` stands.
        403 | 404 => deploy.published = Some(crate::netlify::Published::Live),
        429 => return SiteRead::Paused(session.pause(&site)),
        401 => return SiteRead::Refused,
        _ => {}
    }
    SiteRead::Answered
}

/// Netlify refused the token (401): read it once more (it may have been rotated), then
/// `cannot_follow` with the fix.
fn refused(session: &mut Session, follow: &mut Follow, poll_ms: u64) -> u64 {
    if !session.reread {
        session.reread = true;
        session.read_token_again();
        return poll_ms;
    }
    cannot_follow(
        follow,
        format!(
            "cannot follow: Netlify refused the token (401); the build was started; make a \
             new personal access token at {} and `git dispatch login --netlify`",
            crate::netlify::TOKEN_PAGE
        ),
        poll_ms,
    )
}
