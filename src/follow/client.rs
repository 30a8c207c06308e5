//! The follower's conditional-GET client: one owner's token, read once; ETags kept only for
//! answers the caller accepted; and one pause per token, which a low primary budget, a
//! secondary rate limit or a `Retry-After` sets for every record that token follows.

use std::cell::Cell;
use std::time::{Duration, Instant};

use serde_json::Value;

use super::matching::User;
use super::record::Follow;
use crate::answer::{self, Failure};
use crate::api::{Api, Method};
use crate::config::Settings;
use crate::timestamp::GitHubSecs;
use crate::token::{self, Token};

/// Requests of the primary budget left to dispatches: following stops short of them.
const RESERVE: u64 = 50;

/// The token a follower uses for one owner: read once (a tokenCommand is not run on every
/// poll); on a 401 read again once. Its user's login, once GitHub has said it, tells a run
/// it started from another's.
pub struct TokenState {
    /// The token, or why it could not be read.
    pub token: Result<Token, String>,
    /// Whether it was read again after a 401.
    pub reread: bool,
    user: User,
    /// Until when following on this token waits (a low budget, a rate limit): this
    /// process's monotonic clock, so a clock step neither stalls nor hurries it.
    paused: Cell<Option<Instant>>,
}

impl TokenState {
    /// Reads the token `owner`'s repositories are followed with.
    pub fn read(settings: &Settings, host: &str, owner: &str) -> TokenState {
        TokenState {
            token: token::find(settings, host, owner).map_err(|err| format!("{err:#}")),
            reread: false,
            user: User::NotYet,
            paused: Cell::new(None),
        }
    }

    /// Whether following on this token waits, and until when.
    pub fn paused_until(&self) -> Option<Instant> {
        self.paused.get().filter(|until| *until > Instant::now())
    }

    /// Following on this token waits `wait` (the longest of every pause asked).
    pub fn pause(&self, wait: Duration) {
        let until = Instant::now() + wait;
        self.paused
            .set(Some(self.paused.get().map_or(until, |u| u.max(until))));
    }

    /// The token's user (`GET /user`). Only a definitive answer is kept: a timeout or a
    /// 5xx leaves it unknown, to be asked again, and nothing is matched by time meanwhile.
    pub fn user(&mut self, api: &Api) -> User {
        if self.user != User::NotYet {
            return self.user.clone();
        }
        let Ok(token) = self.token.as_ref() else {
            return User::NotYet;
        };
        let Ok(answer) = api.send(Method::Get, &api.url("/user"), None, token) else {
            return User::NotYet;
        };
        self.user = match answer.status {
            200 => serde_json::from_str::<Value>(&answer.body)
                .ok()
                .and_then(|v| v.get("login")?.as_str().map(crate::say::one_line))
                .filter(|l| !l.is_empty())
                .map_or(User::Unknowable, User::Known),
            // A token that is no user's (an app's) is told so, for good.
            403 | 404 => User::Unknowable,
            _ => User::NotYet,
        };
        self.user.clone()
    }
}

/// What a GET brought.
pub enum Got {
    /// A JSON answer, and its ETag to keep once the caller accepted it.
    Json(Value, Tag),
    /// Unchanged since the answer whose ETag was sent.
    NotModified,
    /// No answer to use.
    Failed(Failed),
}

/// An answer's ETag for its URL, kept in the record only when the caller accepts the
/// answer: a 304 later must never stand for an answer that was not used.
#[must_use]
pub struct Tag {
    url: String,
    etag: Option<String>,
    /// The next page's URL (`Link: <…>; rel="next"`), for a list GitHub pages.
    pub next: Option<String>,
}

impl Tag {
    /// The answer was used: its ETag stands for it from now on.
    pub fn keep(self, follow: &mut Follow) {
        match self.etag {
            Some(tag) => follow.etags.insert(self.url, Value::from(tag)),
            None => follow.etags.remove(&self.url),
        };
    }
}

/// A GET that did not bring an answer to use: why, and what GitHub said of it.
pub struct Failed {
    /// Why, classified.
    pub failure: Failure,
    /// `X-Accepted-GitHub-Permissions`: what the token lacks (control characters stripped).
    pub needed: Option<String>,
    /// The HTTP status, when there was an answer.
    pub status: Option<u16>,
}

impl Failed {
    /// A failure that may pass.
    pub fn later(reason: String) -> Failed {
        Failed {
            failure: Failure::later(reason),
            needed: None,
            status: None,
        }
    }
}

/// What one round's requests go with: the API, the owner's token, and its pause.
pub struct Client<'a> {
    /// The API.
    pub api: &'a Api,
    /// The owner's token.
    pub token: &'a Token,
    /// The token's state, whose pause every answer may set.
    pub state: &'a TokenState,
}

impl Client<'_> {
    /// GET `path` of the API, with the ETag `follow` keeps for it.
    pub fn get(&self, follow: &mut Follow, path: &str) -> Got {
        self.get_url(follow, self.api.url(path))
    }

    /// GET `url` (a page GitHub linked to, on the API's host), with its ETag.
    pub fn get_url(&self, follow: &mut Follow, url: String) -> Got {
        // The token goes only to the API it is for, whatever a `Link` header names.
        if !url.starts_with(&self.api.url("/")) {
            return Got::Failed(Failed::later(format!(
                "a page off the API ({}) not read",
                crate::redact::url(&url)
            )));
        }
        let etag = follow
            .etags
            .get(&url)
            .and_then(Value::as_str)
            .map(str::to_string);
        let answer = self.api.get_if(&url, etag.as_deref(), self.token);
        if let Ok(a) = &answer {
            if let Some(date) = a.header("date").and_then(crate::timestamp::parse_http) {
                follow.github_now = follow.github_now.max(GitHubSecs(date));
            }
            // A reserve of the primary budget is left to dispatches, for every record this
            // token follows; the wait is GitHub's reset less GitHub's own `Date`, so this
            // machine's clock does not enter it.
            let header = |k: &str| a.header(k).and_then(|v| v.trim().parse::<u64>().ok());
            if header("x-ratelimit-remaining").is_some_and(|r| r < RESERVE) {
                let now = a.header("date").and_then(crate::timestamp::parse_http);
                let wait = match (header("x-ratelimit-reset"), now) {
                    (Some(reset), Some(now)) => reset.saturating_sub(now).clamp(1, 3600),
                    _ => 60,
                };
                self.state.pause(Duration::from_secs(wait));
            }
        }
        match &answer {
            Ok(a) if a.status == 304 => return Got::NotModified,
            Ok(a) if a.status == 200 => {
                return match serde_json::from_str::<Value>(&a.body) {
                    Ok(v) => Got::Json(
                        v,
                        Tag {
                            next: a.header("link").and_then(next_page),
                            etag: a.header("etag").map(str::to_string),
                            url,
                        },
                    ),
                    Err(e) => Got::Failed(Failed::later(format!("GET {}: {e}", short(&url)))),
                };
            }
            _ => {}
        }
        let answered = answer.as_ref().ok();
        match answer::judge(&answer, &follow.repository) {
            Err(failure) => {
                if let Failure::Later {
                    after, at_least, ..
                } = &failure
                {
                    // GitHub asked to wait (Retry-After, a secondary rate limit): every
                    // record on this token waits, not only the one that was told. GitHub's
                    // Retry-After is exact; its minute is for a limit that names no time.
                    let wait = after.unwrap_or(*at_least);
                    if wait > 0 {
                        self.state.pause(Duration::from_secs(wait));
                    }
                }
                Got::Failed(Failed {
                    failure,
                    needed: answered
                        .and_then(|a| a.header("x-accepted-github-permissions"))
                        .map(|n| crate::say::shorten(&crate::say::one_line(n), 80)),
                    status: answered.map(|a| a.status),
                })
            }
            Ok(()) => Got::Failed(Failed::later(format!(
                "GET {}: unexpected answer",
                short(&url)
            ))),
        }
    }
}

/// A URL's path and query, for a message.
fn short(url: &str) -> &str {
    url.find("/repos/").map_or(url, |i| &url[i..])
}

/// The `rel="next"` URL of a `Link` header.
fn next_page(link: &str) -> Option<String> {
    link.split(',').find_map(|part| {
        let (url, params) = part.split_once(';')?;
        params
            .split(';')
            .any(|p| p.trim() == "rel=\"next\"")
            .then(|| url.trim().trim_start_matches('<').trim_end_matches('>'))
            .filter(|u| u.chars().all(|c| !c.is_control() && !c.is_whitespace()))
            .map(str::to_string)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_next_page_is_read_from_githubs_link_header() {
        let link = "<https://api.github.com/repositories/1/actions/runs/2/attempts/1/jobs?per_page=100&page=2>; rel=\"next\", <https://api.github.com/repositories/1/actions/runs/2/attempts/1/jobs?per_page=100&page=3>; rel=\"last\"";
        assert_eq!(
            next_page(link).as_deref(),
            Some("https://api.github.com/repositories/1/actions/runs/2/attempts/1/jobs?per_page=100&page=2")
        );
        assert_eq!(next_page("<https://x/y?page=1>; rel=\"prev\""), None);
        assert_eq!(next_page(""), None);
    }

    #[test]
    fn a_pause_is_the_longest_asked() {
        let state = TokenState {
            token: Err("none".into()),
            reread: false,
            user: User::NotYet,
            paused: Cell::new(None),
        };
        assert!(state.paused_until().is_none());
        state.pause(Duration::from_secs(60));
        state.pause(Duration::from_secs(1));
        let until = state.paused_until().unwrap();
        assert!(until > Instant::now() + Duration::from_secs(50));
    }
}
