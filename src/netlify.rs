//! Netlify's API, for a `netlify` target (`dispatch.<name>.netlify = SITE_ID`): a build
//! started with `POST /api/v1/sites/{site_id}/builds` names its deploy (`deploy_id`), an
//! exact match, which `GET /api/v1/deploys/{deploy_id}` follows to `ready` or `error`
//! (netlify/open-api's swagger.yml, operations createSiteBuild and getDeploy). The token is
//! a Netlify personal access token, stored 0600 as GitHub's is, under `netlify:<host>`.

use anyhow::{bail, Result};
use serde_json::{json, Value};

use crate::answer::{Answer, Failure, Verdict};
use crate::api::Api;
use crate::follow::record::Outcome;
use crate::say;
use crate::timestamp::GitHubSecs;
use crate::token::Token;

/// Netlify's API, unless `GIT_DISPATCH_NETLIFY_API_URL` names another (a test's fake).
pub const DEFAULT_API_URL: &str = "https://api.netlify.com";
/// Where a writer makes a personal access token (User settings > Applications > Personal
/// access tokens).
pub const TOKEN_PAGE: &str = "https://app.netlify.com/user/applications#personal-access-tokens";
/// Where a site's API id is shown.
pub const SITE_ID_PLACE: &str = "Site configuration > General > Site details > Site ID";
/// How much of an answer is read: a deploy is a few KB.
const MAX_ANSWER_BYTES: u64 = 256 * 1024;
/// Netlify's rate limit answers 429; without a time given, this long is waited.
const DEFAULT_PAUSE: u64 = 60;

/// The endpoint: `https://api.netlify.com`, or the environment's.
pub fn api(timeout: u64) -> Result<Api> {
    let base = std::env::var(crate::env::NETLIFY_API_URL)
        .ok()
        .filter(|v| !v.trim().is_empty())
        .unwrap_or_else(|| DEFAULT_API_URL.to_string());
    Api::new(&base, timeout)
}

/// Where the token for `api` is filed among the credentials.
pub fn token_key(api: &Api) -> String {
    format!("netlify:{}", api.host())
}

/// The stored token for `api`, or why there is none, with the fix.
pub fn token(api: &Api) -> Result<Token> {
    match crate::token::stored(&token_key(api))? {
        Some(token) => Ok(token),
        None => bail!(
            "no Netlify token on this machine; make a personal access token at {TOKEN_PAGE} \
             and give it to `git dispatch login --netlify` on standard input"
        ),
    }
}

/// Checks a site id as given: Netlify's API id (a UUID) or the site's domain.
pub fn validate_site(site: &str) -> Result<()> {
    let ok = site
        .bytes()
        .next()
        .is_some_and(|b| b.is_ascii_alphanumeric())
        && site.len() <= 100
        && site
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_'));
    if !ok {
        bail!("{site:?} is not a Netlify site id; copy it from the site's {SITE_ID_PLACE}");
    }
    Ok(())
}

/// A site as it is shown: a UUID's first eight characters (as Netlify's app shortens
/// deploy ids), a domain whole.
pub fn short_site(site: &str) -> &str {
    let uuid = site.len() == 36 && site.bytes().filter(|b| *b == b'-').count() == 4;
    if uuid {
        &site[..8]
    } else {
        site
    }
}

/// `POST /api/v1/sites/{site}/builds?title=…`: the URL and, for `send --dry-run`, the
/// request as it would go with the token hidden.
pub fn build_request(api: &Api, site: &str, title: &str) -> (String, String) {
    let url = format!(
        "{}/api/v1/sites/{site}/builds?title={}",
        api.base(),
        crate::deploy_hook::encode(title)
    );
    let shown = format!(
        "POST {url}\nAuthorization: Bearer ********\nUser-Agent: {}\n",
        crate::api::user_agent()
    );
    (url, shown)
}

/// Starts a build of `site` titled `title` (the pushed commit).
pub fn start_build(api: &Api, site: &str, title: &str, token: &Token) -> Result<Answer, String> {
    let (url, _) = build_request(api, site, title);
    send(api, minreq::Method::Post, &url, token)
}

/// Reads a deploy.
pub fn get_deploy(api: &Api, deploy_id: &str, token: &Token) -> Result<Answer, String> {
    let url = format!("{}/api/v1/deploys/{deploy_id}", api.base());
    send(api, minreq::Method::Get, &url, token)
}

/// Reads a site (`doctor`): whether the token sees it, and its name and URL.
pub fn get_site(api: &Api, site: &str, token: &Token) -> Result<Answer, String> {
    let url = format!("{}/api/v1/sites/{site}", api.base());
    send(api, minreq::Method::Get, &url, token)
}

/// Reads the token's user (`login --netlify`): whether Netlify accepts the token.
pub fn get_user(api: &Api, token: &Token) -> Result<Answer, String> {
    let url = format!("{}/api/v1/user", api.base());
    send(api, minreq::Method::Get, &url, token)
}

/// One request with the token, JSON accepted, no redirect followed.
fn send(api: &Api, method: minreq::Method, url: &str, token: &Token) -> Result<Answer, String> {
    let mut request = minreq::Request::new(method.clone(), url)
        .with_timeout(api.timeout())
        .with_follow_redirects(false)
        .with_header("User-Agent", crate::api::user_agent())
        .with_header("Accept", "application/json")
        .with_header("Authorization", format!("Bearer {}", token.expose()));
    if method == minreq::Method::Post {
        // createSiteBuild takes its fields in the query; the body is empty.
        request = request.with_header("Content-Length", "0");
    }
    crate::api::send_request(request, url, MAX_ANSWER_BYTES)
}

/// Netlify's own words for a refusal (`{"code": 404, "message": "Not Found"}`), cut short.
fn message(answer: &Answer) -> String {
    let text = serde_json::from_str::<Value>(&answer.body)
        .ok()
        .and_then(|v| v.get("message").and_then(Value::as_str).map(str::to_string))
        .unwrap_or_default();
    say::shorten(&say::one_line(&text), 160)
}

/// Seconds Netlify asked to wait: `Retry-After`, else its `X-RateLimit-Reset` (Unix time).
pub fn pause(answer: &Answer, now: u64) -> u64 {
    let reset = answer
        .header("x-ratelimit-reset")
        .and_then(|v| v.trim().parse::<u64>().ok());
    answer
        .retry_after()
        .or_else(|| reset.map(|reset| reset.saturating_sub(now)))
        .unwrap_or(DEFAULT_PAUSE)
        // A reset already past is no reason to ask again at once.
        .max(1)
}

/// What an answer to a request about `site` means (a build started, or the site read).
pub fn judge(answer: &Result<Answer, String>, site: &str) -> Verdict {
    let answer = crate::answer::received(answer)?;
    let status = answer.status;
    let said = message(answer);
    let said = if said.is_empty() {
        String::new()
    } else {
        format!(": {said}")
    };
    match status {
        200..=299 => Ok(()),
        401 => Err(Failure::Refused {
            reason: format!(
                "Netlify refused the token (401{said}); make a new personal access token at \
                 {TOKEN_PAGE} and `git dispatch login --netlify`"
            ),
        }),
        403 | 404 => Err(Failure::Refused {
            reason: format!(
                "Netlify shows this token no site {site} ({status}{said}): the id is mistyped, \
                 or the token's user is not on the site's team; the id is in the site's \
                 {SITE_ID_PLACE}"
            ),
        }),
        408 | 429 | 500..=599 => Err(Failure::Later {
            reason: format!("Netlify answered {status}{said}; tried again later"),
            after: (status == 429).then(|| pause(answer, crate::store::now())),
            at_least: 0,
        }),
        _ => Err(Failure::Refused {
            reason: format!("Netlify refused the build ({status}{said})"),
        }),
    }
}

/// The deploy a started build names, from its answer.
pub fn deploy_id(answer: &Answer) -> Option<String> {
    let v: Value = serde_json::from_str(&answer.body).ok()?;
    let id = v.get("deploy_id")?.as_str()?;
    valid_id(id).then(|| id.to_string())
}

/// Netlify's ids are hex; anything else is not put in a URL.
fn valid_id(id: &str) -> bool {
    !id.is_empty() && id.len() <= 64 && id.bytes().all(|b| b.is_ascii_alphanumeric())
}

/// Reads of the site (a poll apart) that may find a `ready` deploy not yet published
/// before it is said held: Netlify publishes within seconds.
const UNPUBLISHED_READS: u64 = 24;

/// Whether a `ready` deploy is what the site serves: Netlify builds a deploy to `ready`
/// without publishing it when the site's auto publishing is stopped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Published {
    /// The site's `published_deploy` is this one: live.
    Live,
    /// A newer deploy was published since (a later push, a build from the site's own
    /// repository): this one was built, and the newer is live.
    Newer,
    /// An older deploy is still published: auto publishing is stopped (locked).
    Held,
}

impl Published {
    fn as_str(self) -> &'static str {
        match self {
            Published::Live => "live",
            Published::Newer => "newer",
            Published::Held => "held",
        }
    }

    fn parse(text: &str) -> Option<Published> {
        [Published::Live, Published::Newer, Published::Held]
            .into_iter()
            .find(|p| p.as_str() == text)
    }
}

/// A Netlify deploy, as followed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Deploy {
    /// The site, as the target names it.
    pub site: String,
    /// The deploy's id, returned with the build.
    pub id: String,
    /// Netlify's `state` (`new`, `enqueued`, `building`, …, `ready`, `error`).
    pub state: String,
    /// Why it failed, in Netlify's words (control characters stripped).
    pub error_message: Option<String>,
    /// The site's public URL (`ssl_url`).
    pub ssl_url: Option<String>,
    /// The site's page in Netlify's app (`admin_url`), under which the deploy's log is.
    pub admin_url: Option<String>,
    /// Once `ready`: whether the site serves it (from the site's `published_deploy`).
    pub published: Option<Published>,
    /// When Netlify published it (`published_at`), if it has.
    pub published_at: Option<GitHubSecs>,
    /// Reads of the site that found it `ready` and not yet published.
    pub unpublished_reads: u64,
    /// When Netlify created it, on Netlify's clock.
    pub created_at: Option<GitHubSecs>,
    /// Netlify's last change to it.
    pub updated_at: Option<GitHubSecs>,
}

/// How a deploy's state reads, and whether it has ended.
enum Stage {
    /// Waiting for a build slot or a review.
    Queued,
    /// Building, uploading, processing.
    Building,
    /// Live.
    Ready,
    /// Failed or rejected.
    Failed,
}

impl Deploy {
    /// A deploy just started: only its id is known.
    pub fn started(site: &str, id: &str) -> Deploy {
        Deploy {
            site: site.to_string(),
            id: id.to_string(),
            state: "new".to_string(),
            error_message: None,
            ssl_url: None,
            admin_url: None,
            published: None,
            published_at: None,
            unpublished_reads: 0,
            created_at: None,
            updated_at: None,
        }
    }

    /// This deploy as Netlify describes it now; `None` when the answer is not one.
    pub fn read(&self, v: &Value) -> Option<Deploy> {
        let s = |k: &str| v.get(k).and_then(Value::as_str);
        let time = |k: &str| s(k).and_then(crate::timestamp::parse_iso).map(GitHubSecs);
        if s("id")? != self.id {
            return None;
        }
        let state = s("state")?;
        let plain = !state.is_empty()
            && state.len() <= 40
            && state.bytes().all(|b| b.is_ascii_lowercase() || b == b'_');
        Some(Deploy {
            site: self.site.clone(),
            id: self.id.clone(),
            state: plain.then(|| state.to_string())?,
            error_message: s("error_message")
                .map(|m| say::shorten(&say::one_line(m), 300))
                .filter(|m| !m.is_empty()),
            ssl_url: s("ssl_url")
                .and_then(crate::follow::record::web_url)
                .filter(|u| crate::config::validate_site_url(u).is_ok()),
            admin_url: s("admin_url").and_then(crate::follow::record::web_url),
            published: None,
            published_at: time("published_at"),
            unpublished_reads: self.unpublished_reads,
            created_at: time("created_at"),
            updated_at: time("updated_at"),
        })
    }

    fn stage(&self) -> Stage {
        match self.state.as_str() {
            "ready" => Stage::Ready,
            "error" | "rejected" => Stage::Failed,
            "new" | "pending_review" | "accepted" | "enqueued" => Stage::Queued,
            // building, uploading, uploaded, preparing, prepared, processing, processed,
            // retrying, and any state Netlify adds: not ended.
            _ => Stage::Building,
        }
    }

    /// Whether it is `ready` and not yet checked against the site's published deploy.
    pub fn needs_publish_check(&self) -> bool {
        matches!(self.stage(), Stage::Ready) && self.published.is_none()
    }

    /// Decides `published` from the site (getSite's `published_deploy`: `id`, `created_at`,
    /// `locked`); left undecided while Netlify may still be publishing it.
    pub fn check_published(&mut self, site: &Value) {
        let Some(published) = site.get("published_deploy").filter(|p| p.is_object()) else {
            // No published deploy named at all: Netlify's own `ready` is all there is.
            self.published = Some(Published::Live);
            return;
        };
        let id = published.get("id").and_then(Value::as_str);
        let locked = published.get("locked").and_then(Value::as_bool) == Some(true);
        let created = published
            .get("created_at")
            .and_then(Value::as_str)
            .and_then(crate::timestamp::parse_iso)
            .map(GitHubSecs);
        self.published = match (id, created, self.created_at) {
            (Some(id), _, _) if id == self.id => Some(Published::Live),
            // Published once, and another since.
            _ if self.published_at.is_some() => Some(Published::Newer),
            (_, Some(theirs), Some(ours)) if theirs > ours => Some(Published::Newer),
            // "Stop auto publishing" locks the deploy the site serves.
            _ if locked => Some(Published::Held),
            // Still not published this many reads on: held, whatever holds it.
            _ if self.unpublished_reads + 1 >= UNPUBLISHED_READS => Some(Published::Held),
            // Netlify publishes a moment after `ready`: asked again.
            _ => None,
        };
        if self.published.is_none() {
            self.unpublished_reads += 1;
        }
    }

    /// The outcome, once it has ended: `success` (live), `superseded` (built, a newer
    /// deploy is live), `action_required` (built, not published: auto publishing is
    /// stopped), `skipped` (the site's ignore rule: "no content change"), `cancelled`
    /// (another "Canceled build"), or `failure`.
    pub fn outcome(&self) -> Option<Outcome> {
        let message = self.error_message.as_deref().unwrap_or_default();
        let message = message.to_ascii_lowercase();
        match (self.stage(), self.published) {
            (Stage::Ready, Some(Published::Live)) => Some(Outcome::Concluded("success")),
            (Stage::Ready, Some(Published::Newer)) => Some(Outcome::Superseded),
            (Stage::Ready, Some(Published::Held)) => Some(Outcome::Concluded("action_required")),
            (Stage::Failed, _) if message.contains("no content change") => {
                Some(Outcome::Concluded("skipped"))
            }
            (Stage::Failed, _) if message.starts_with("canceled") => {
                Some(Outcome::Concluded("cancelled"))
            }
            (Stage::Failed, _) => Some(Outcome::Concluded("failure")),
            _ => None,
        }
    }

    /// The deploy's page in Netlify's app: its log.
    pub fn page(&self) -> Option<String> {
        self.admin_url
            .as_ref()
            .map(|a| format!("{}/deploys/{}", a.trim_end_matches('/'), self.id))
    }

    /// How it stands, at `now` on Netlify's clock: `queued on Netlify`, `building for
    /// 1m12s`, `built in 48s`, `failed: Build script returned non-zero exit code: 2`.
    pub fn words(&self, now: GitHubSecs) -> String {
        let since =
            |t: GitHubSecs| crate::timestamp::duration(t.since(self.created_at.unwrap_or(t)));
        let built = match self.updated_at {
            Some(at) => format!("built in {}", since(at)),
            None => "built".to_string(),
        };
        match (self.stage(), self.outcome()) {
            (Stage::Queued, _) => "queued on Netlify".to_string(),
            (Stage::Building, _) => format!("building for {}", since(now)),
            (Stage::Ready, Some(Outcome::Superseded)) => format!("{built}; a newer deploy is live"),
            (Stage::Ready, Some(Outcome::Concluded("action_required"))) => format!(
                "{built}, not published: the site still serves an older deploy (auto \
                 publishing stopped?); publish it from its Deploys page"
            ),
            (Stage::Ready, _) => built,
            (_, Some(Outcome::Concluded("skipped"))) => format!(
                "skipped: {}",
                self.error_message
                    .as_deref()
                    .unwrap_or("by the site's ignore rule")
            ),
            (_, Some(Outcome::Concluded("cancelled"))) => format!(
                "cancelled: {}",
                self.error_message.as_deref().unwrap_or("by Netlify")
            ),
            (_, _) => match &self.error_message {
                Some(why) => format!("{}: {why}", self.failed_word()),
                None => self.failed_word().to_string(),
            },
        }
    }

    fn failed_word(&self) -> &'static str {
        if self.state == "rejected" {
            "rejected"
        } else {
            "failed"
        }
    }

    /// As stored.
    pub fn to_json(&self) -> Value {
        json!({
            "site": self.site, "id": self.id, "state": self.state,
            "error_message": self.error_message, "ssl_url": self.ssl_url,
            "admin_url": self.admin_url,
            "published": self.published.map(Published::as_str),
            "published_at": self.published_at.map(|t| t.0),
            "unpublished_reads": self.unpublished_reads,
            "created_at": self.created_at.map(|t| t.0),
            "updated_at": self.updated_at.map(|t| t.0),
        })
    }

    /// Reads a stored one back.
    pub fn from_json(v: &Value) -> Option<Deploy> {
        let s = |k: &str| v.get(k).and_then(Value::as_str).map(str::to_string);
        let n = |k: &str| v.get(k).and_then(Value::as_u64).map(GitHubSecs);
        let id = s("id").filter(|id| valid_id(id))?;
        Some(Deploy {
            site: s("site")?,
            id,
            state: s("state")?,
            error_message: s("error_message"),
            ssl_url: s("ssl_url").filter(|u| crate::config::validate_site_url(u).is_ok()),
            admin_url: s("admin_url").and_then(|u| crate::follow::record::web_url(&u)),
            published: s("published").as_deref().and_then(Published::parse),
            published_at: n("published_at"),
            unpublished_reads: v
                .get("unpublished_reads")
                .and_then(Value::as_u64)
                .unwrap_or(0),
            created_at: n("created_at"),
            updated_at: n("updated_at"),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(status: u16, body: &str, headers: &[(&str, &str)]) -> Result<Answer, String> {
        Answer::test(status, headers, body)
    }

    #[test]
    fn each_answer_to_a_build_reads_as_netlify_documents_it() {
        assert!(judge(&answer(200, r#"{"deploy_id":"d1"}"#, &[]), "s").is_ok());
        let refused = |a| match judge(&a, "my-site") {
            Err(Failure::Refused { reason }) => reason,
            other => panic!("{other:?}"),
        };
        assert!(refused(answer(401, "", &[])).contains("login --netlify"));
        let hidden = refused(answer(404, r#"{"code":404,"message":"Not Found"}"#, &[]));
        assert!(
            hidden.contains("no site my-site (404: Not Found)"),
            "{hidden}"
        );
        assert!(hidden.contains(SITE_ID_PLACE), "{hidden}");
        match judge(&answer(429, "", &[("retry-after", "7")]), "s") {
            Err(Failure::Later { after, .. }) => assert_eq!(after, Some(7)),
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            judge(&answer(503, "", &[]), "s"),
            Err(Failure::Later { after: None, .. })
        ));
        assert!(matches!(
            judge(&Err("refused".into()), "s"),
            Err(Failure::Later { .. })
        ));
        let a = answer(429, "", &[("x-ratelimit-reset", "1030")]).unwrap();
        assert_eq!(pause(&a, 1000), 30);
        assert_eq!(
            deploy_id(&answer(200, r#"{"id":"b","deploy_id":"5f3a"}"#, &[]).unwrap()),
            Some("5f3a".into())
        );
        assert_eq!(
            deploy_id(&answer(200, r#"{"deploy_id":"../x"}"#, &[]).unwrap()),
            None
        );
    }

    #[test]
    fn each_deploy_state_reads_as_words_and_an_outcome() {
        let start = Deploy::started("s", "d1");
        let read = |state: &str, error: Option<&str>| {
            start
                .read(&json!({
                    "id": "d1", "state": state, "error_message": error,
                    "ssl_url": "https://blog.example.com",
                    "admin_url": "https://app.netlify.com/sites/blog",
                    "created_at": "2026-12-07T18:00:00.000Z",
                    "updated_at": "2026-12-07T18:00:48.000Z",
                }))
                .unwrap()
        };
        let now = GitHubSecs(crate::timestamp::parse_iso("2026-12-07T18:01:12Z").unwrap());
        assert_eq!(read("enqueued", None).words(now), "queued on Netlify");
        assert_eq!(read("building", None).words(now), "building for 1m12s");
        assert_eq!(read("processing", None).outcome(), None);
        // Ready is built; live only once the site is seen to serve it.
        let mut ready = read("ready", None);
        assert!(ready.needs_publish_check());
        assert_eq!(ready.outcome(), None);
        let site = |id: &str, at: &str| json!({"published_deploy": {"id": id, "created_at": at}});
        ready.check_published(&site("d1", "2026-12-07T18:00:00.000Z"));
        assert_eq!(ready.words(now), "built in 48s");
        assert_eq!(ready.outcome(), Some(Outcome::Concluded("success")));
        // Another, older deploy still served: publishing may lag, so undecided, unless the
        // site's publishing is locked.
        let mut held = read("ready", None);
        held.check_published(&site("d0", "2026-12-06T10:00:00.000Z"));
        assert_eq!((held.published, held.outcome()), (None, None));
        // Not published two minutes of polls on: held, whatever holds it.
        let mut late = held.clone();
        for _ in 1..UNPUBLISHED_READS {
            late.check_published(&site("d0", "2026-12-06T10:00:00.000Z"));
        }
        assert_eq!(late.outcome(), Some(Outcome::Concluded("action_required")));
        let mut locked = site("d0", "2026-12-06T10:00:00.000Z");
        locked["published_deploy"]["locked"] = json!(true);
        held.check_published(&locked);
        assert_eq!(held.outcome(), Some(Outcome::Concluded("action_required")));
        assert!(
            held.words(now).contains("not published"),
            "{}",
            held.words(now)
        );
        let mut newer = read("ready", None);
        newer.check_published(&site("d2", "2026-12-07T18:00:30.000Z"));
        assert_eq!(newer.outcome(), Some(Outcome::Superseded));
        assert_eq!(Deploy::from_json(&held.to_json()).unwrap(), held);
        assert_eq!(
            ready.page().unwrap(),
            "https://app.netlify.com/sites/blog/deploys/d1"
        );
        let failed = read("error", Some("Build script returned non-zero exit code: 2"));
        assert_eq!(failed.outcome(), Some(Outcome::Concluded("failure")));
        assert_eq!(
            failed.words(now),
            "failed: Build script returned non-zero exit code: 2"
        );
        // The site's ignore rule is a skip, as GitHub's `skipped`; another cancel is not.
        let skipped = read("error", Some("Canceled build due to no content change"));
        assert_eq!(skipped.outcome(), Some(Outcome::Concluded("skipped")));
        assert!(skipped.outcome().unwrap().is_good());
        let cancelled = read("error", Some("Canceled build"));
        assert_eq!(cancelled.outcome(), Some(Outcome::Concluded("cancelled")));
        assert!(validate_site("..").is_err() && validate_site("-x").is_err());
        // Another deploy's answer, or a state that is no plain word, is not taken.
        assert!(start.read(&json!({"id": "d2", "state": "ready"})).is_none());
        assert!(start
            .read(&json!({"id": "d1", "state": "\u{1b}[2Jready"}))
            .is_none());
        let back = Deploy::from_json(&failed.to_json()).unwrap();
        assert_eq!(back, failed);
    }
}
