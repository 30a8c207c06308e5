//! An HTTP answer from GitHub, and what it means for a dispatch: accepted, worth trying
//! again later, or refused for good with the fix in words (doc/DESIGN.md, "Answers and
//! what they mean").

use serde_json::Value;

/// An HTTP answer.
#[derive(Clone, Debug)]
pub struct Answer {
    /// The status code.
    pub status: u16,
    /// Headers, names lowercased.
    pub headers: Vec<(String, String)>,
    /// The body, read up to a bound.
    pub body: String,
}

impl Answer {
    /// An answer as a test gives it: headers by lowercased name.
    #[cfg(test)]
    pub fn test(status: u16, headers: &[(&str, &str)], body: &str) -> Result<Answer, String> {
        Ok(Answer {
            status,
            headers: headers
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            body: body.to_string(),
        })
    }

    /// The seconds `Retry-After` asks to wait, when it gives them.
    pub fn retry_after(&self) -> Option<u64> {
        self.header("retry-after")
            .and_then(|v| v.trim().parse().ok())
    }

    /// A header's value.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// GitHub's `message` from a JSON error body; a proxy's HTML page by its title; else
    /// the start of the body.
    pub fn message(&self) -> String {
        let parsed = serde_json::from_str::<Value>(&self.body).ok();
        if let Some(m) = parsed
            .as_ref()
            .and_then(|v| v.get("message"))
            .and_then(Value::as_str)
        {
            // GitHub's validation messages run over lines ("Invalid request.\n\n…"); every
            // place that shows one shows a line.
            return crate::say::shorten(&crate::say::one_line(m), 200);
        }
        let lower = self.body.to_ascii_lowercase();
        if lower.contains("<html") || lower.contains("<!doctype") {
            let title = lower
                .find("<title>")
                .and_then(|start| {
                    let rest = &self.body[start + 7..];
                    // A proxy's or an Enterprise error page's words: no escape sequence of
                    // theirs reaches a terminal.
                    rest.find("</")
                        .map(|end| crate::say::one_line(&rest[..end]))
                })
                .filter(|t| !t.is_empty());
            return match title {
                Some(t) => format!("an HTML page ({})", crate::say::shorten(&t, 80)),
                None => "an HTML page, not GitHub's JSON".into(),
            };
        }
        let text = crate::say::one_line(&self.body);
        if text.is_empty() {
            "no message".into()
        } else {
            crate::say::shorten(&text, 80)
        }
    }

    /// The run GitHub started, from a 200 answer to a workflow dispatch.
    pub fn run_url(&self) -> Option<String> {
        if self.status != 200 {
            return None;
        }
        let v: Value = serde_json::from_str(&self.body).ok()?;
        v.get("html_url")
            .or_else(|| v.get("run_url"))?
            .as_str()
            .map(str::to_string)
    }
}

/// Why a request did not go through.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Failure {
    /// May work later (network, timeout, 5xx, rate limit); `after` seconds if GitHub said.
    Later {
        /// Why, in words.
        reason: String,
        /// GitHub's `retry-after` or rate-limit reset, in seconds from now.
        after: Option<u64>,
        /// Without `after`: the backoff waits at least this many seconds (GitHub's
        /// secondary rate limit asks for a minute, then longer).
        at_least: u64,
    },
    /// Refused for good; the reason names the fix.
    Refused {
        /// Why, and what to do.
        reason: String,
    },
}

impl Failure {
    /// A failure that may pass, for no reason GitHub gave a time for.
    pub fn later(reason: impl Into<String>) -> Failure {
        Failure::Later {
            reason: reason.into(),
            after: None,
            at_least: 0,
        }
    }

    /// Why, in words, with the fix.
    pub fn reason(&self) -> &str {
        match self {
            Failure::Later { reason, .. } | Failure::Refused { reason } => reason,
        }
    }
}

/// GitHub: "wait for at least one minute before retrying" a secondary rate limit.
const SECONDARY_WAIT: u64 = 60;

/// What became of a request: `Ok` when GitHub accepted it.
pub type Verdict = Result<(), Failure>;

/// The answer a request got, or the failure that may pass when it got none: the network,
/// or a connection cut mid-answer, which can parse as a stub status line ("HTTP/1.1 20").
/// Every judge (GitHub's, a deploy hook's, Netlify's) starts here.
pub fn received(result: &Result<Answer, String>) -> Result<&Answer, Failure> {
    let answer = result
        .as_ref()
        .map_err(|err| Failure::later(format!("network: {err}")))?;
    if !(200..600).contains(&answer.status) {
        return Err(Failure::later(format!(
            "network: malformed HTTP answer (status {})",
            answer.status
        )));
    }
    Ok(answer)
}

/// Classifies an answer to a request about `repository`, as GitHub documents it.
pub fn judge(result: &Result<Answer, String>, repository: &str) -> Verdict {
    let answer = received(result)?;
    let status = answer.status;
    if (200..300).contains(&status) {
        return Ok(());
    }
    let message = answer.message();
    // Retry-After or a spent primary budget give the time; else GitHub's secondary rate
    // limit (a 403 or 429 that may come with neither) asks for a minute, then backoff.
    let secondary = matches!(status, 403 | 429)
        && message
            .to_ascii_lowercase()
            .contains("secondary rate limit");
    let exact = answer
        .header("retry-after")
        .and_then(|v| v.trim().parse::<u64>().ok())
        .or_else(|| primary_reset(answer));
    if secondary {
        return Err(Failure::Later {
            reason: format!(
                "GitHub's secondary rate limit ({status} {message}); waiting {}",
                exact.map_or("at least 60s, then longer".into(), |s| format!("{s}s"))
            ),
            after: exact,
            at_least: SECONDARY_WAIT,
        });
    }
    if let Some(after) = rate_limit_wait(answer) {
        return Err(Failure::Later {
            reason: format!("rate limited by GitHub ({status}); waiting {after}s"),
            after: Some(after),
            at_least: 0,
        });
    }
    let refused = |reason: String| Err(Failure::Refused { reason });
    match status {
        301 | 302 | 307 | 308 => refused(format!(
            "{status} redirect to {} not followed (the token goes only to its API host); \
             check the repository name and dispatch.apiUrl",
            crate::redact::url(answer.header("location").unwrap_or("?"))
        )),
        401 => refused(format!(
            "401 {message}: the token is wrong, expired or revoked; make a new one and run `git dispatch login`"
        )),
        403 => {
            let mut reason = format!("403 {message}: the token may not dispatch to {repository}");
            if let Some(needed) = answer.header("x-accepted-github-permissions") {
                let needed = crate::say::shorten(&crate::say::one_line(needed), 80);
                reason.push_str(&format!("; it needs {needed}"));
            } else {
                reason.push_str("; give it Contents: read and write on that repository");
            }
            if answer.header("x-github-sso").is_some() {
                reason.push_str("; authorise it for the organisation's SSO");
            }
            refused(reason)
        }
        404 => refused(format!(
            "404 {message}: {repository} does not exist or the token cannot see it; check the name, \
             and that the fine-grained token's resource owner and selected repositories include it \
             with Contents: read and write"
        )),
        422 => refused(format!(
            "422 {message}: GitHub refused the request; fix the target's settings"
        )),
        408 | 429 | 500..=599 => Err(Failure::later(format!("{status} {message} from GitHub"))),
        _ => refused(format!("{status} {message}: unexpected answer from GitHub")),
    }
}

/// Whether the answer is a server refusing `return_run_details` (GitHub Enterprise Server
/// before 3.21: 422 `"return_run_details" is not a permitted key.`).
pub fn refuses_run_details(result: &Result<Answer, String>) -> bool {
    result.as_ref().is_ok_and(|a| {
        a.status == 422
            && a.message()
                .contains("\"return_run_details\" is not a permitted key")
    })
}

/// Seconds GitHub asks us to wait, when the answer is a rate limit.
fn rate_limit_wait(answer: &Answer) -> Option<u64> {
    if !matches!(answer.status, 403 | 429) {
        return None;
    }
    if let Some(after) = answer.retry_after() {
        return Some(after);
    }
    if let Some(wait) = primary_reset(answer) {
        return Some(wait);
    }
    (answer.status == 429).then_some(60)
}

/// Seconds until the primary budget resets, when the answer says it is spent.
fn primary_reset(answer: &Answer) -> Option<u64> {
    if answer.header("x-ratelimit-remaining").map(str::trim) != Some("0") {
        return None;
    }
    let reset: u64 = answer.header("x-ratelimit-reset")?.trim().parse().ok()?;
    Some(reset.saturating_sub(crate::store::now()).max(1))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(status: u16, headers: &[(&str, &str)], body: &str) -> Result<Answer, String> {
        Answer::test(status, headers, body)
    }

    fn refused(verdict: Verdict) -> String {
        match verdict {
            Err(Failure::Refused { reason }) => reason,
            other => panic!("not refused: {other:?}"),
        }
    }

    #[test]
    fn classifies_answers() {
        assert_eq!(judge(&answer(204, &[], ""), "o/r"), Ok(()));
        assert!(matches!(
            judge(&Err("refused".into()), "o/r"),
            Err(Failure::Later { .. })
        ));
        assert!(matches!(
            judge(&answer(502, &[], ""), "o/r"),
            Err(Failure::Later { after: None, .. })
        ));
        assert!(matches!(
            judge(&answer(403, &[("retry-after", "30")], ""), "o/r"),
            Err(Failure::Later {
                after: Some(30),
                ..
            })
        ));
        // The secondary limit: no retry-after, primary budget left, a 403 all the same.
        let secondary = judge(
            &answer(
                403,
                &[("x-ratelimit-remaining", "4990")],
                r#"{"message":"You have exceeded a secondary rate limit. Please wait a few minutes before you try again."}"#,
            ),
            "o/r",
        );
        let Err(Failure::Later {
            reason,
            after: None,
            at_least: 60,
        }) = secondary
        else {
            panic!("{secondary:?}")
        };
        assert!(
            reason.contains("secondary rate limit") && reason.contains("60s"),
            "{reason}"
        );
        assert!(matches!(
            judge(
                &answer(
                    429,
                    &[("retry-after", "90")],
                    r#"{"message":"You have exceeded a secondary rate limit"}"#
                ),
                "o/r"
            ),
            Err(Failure::Later {
                after: Some(90),
                ..
            })
        ));
        let reason = refused(judge(
            &answer(401, &[], r#"{"message":"Bad credentials"}"#),
            "o/r",
        ));
        assert!(reason.contains("Bad credentials") && reason.contains("git dispatch login"));
        let reason = refused(judge(
            &answer(
                403,
                &[("x-accepted-github-permissions", "contents=write")],
                "",
            ),
            "o/r",
        ));
        assert!(reason.contains("contents=write"));
        let reason = refused(judge(
            &answer(
                403,
                &[("x-accepted-github-permissions", "actions=read\u{1b}[31m")],
                "",
            ),
            "o/r",
        ));
        assert!(!reason.contains('\u{1b}'), "{reason:?}");
        assert!(refused(judge(&answer(404, &[], ""), "o/r")).contains("o/r"));
    }

    #[test]
    fn messages_from_json_html_and_nothing() {
        let a = |body: &str| Answer {
            status: 502,
            headers: Vec::new(),
            body: body.into(),
        };
        assert_eq!(a(r#"{"message":"Not Found"}"#).message(), "Not Found");
        assert_eq!(
            a("<!DOCTYPE html><html><head><title>502 Bad Gateway</title></head></html>").message(),
            "an HTML page (502 Bad Gateway)"
        );
        assert_eq!(a("").message(), "no message");
        // An error page's escape sequences never reach a terminal.
        assert_eq!(
            a("<html><title>\u{1b}[2J\u{1b}]0;pwned\u{7}Proxy error</title></html>").message(),
            "an HTML page ([2J ]0;pwned Proxy error)"
        );
        assert_eq!(
            a(r#"{"message":"Invalid request.\n\nNo more than 10 properties are allowed."}"#)
                .message(),
            "Invalid request. No more than 10 properties are allowed."
        );
        assert_eq!(a(&"x".repeat(500)).message().chars().count(), 80);
    }
}
