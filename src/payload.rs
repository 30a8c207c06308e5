//! The request bodies: `repository_dispatch`'s `event_type` and `client_payload`, and
//! `workflow_dispatch`'s `ref` and `inputs`, within GitHub's limits.

use anyhow::{bail, Result};
use serde_json::{Map, Value};

use crate::config::{MAX_BODY_BYTES, MAX_PAYLOAD_KEYS, OWN_PAYLOAD_KEYS};

/// The push's facts that go into `client_payload`.
pub struct PushFacts<'a> {
    /// `refs/heads/main`.
    pub remote_ref: &'a str,
    /// The new sha.
    pub sha: &'a str,
    /// The old sha.
    pub before: &'a str,
    /// The content repository, `owner/name`, with no credentials.
    pub repository: &'a str,
    /// For a target with a path filter: the changed paths it selected.
    pub paths: Option<&'a [String]>,
}

/// The `repository_dispatch` body. Our fields win over the user's `payload` on a clash;
/// each clash is returned as a warning.
pub fn dispatch_body(
    event: &str,
    push: &PushFacts<'_>,
    extra: &Map<String, Value>,
) -> Result<(String, Vec<String>)> {
    let mut payload = Map::new();
    let mut warnings = Vec::new();
    for (key, value) in extra {
        if OWN_PAYLOAD_KEYS.contains(&key.as_str()) {
            warnings.push(format!(
                "payload field {key:?} is git-dispatch's own and was replaced; rename it"
            ));
        } else {
            payload.insert(key.clone(), value.clone());
        }
    }
    let total = payload.len() + OWN_PAYLOAD_KEYS.len() + usize::from(push.paths.is_some());
    if total > MAX_PAYLOAD_KEYS {
        bail!("client_payload would have {total} keys; GitHub takes at most {MAX_PAYLOAD_KEYS}; drop some payload fields");
    }
    // Written by hand so our fields come first, in a fixed order (serde_json's Map sorts keys).
    let quote = |s: &str| Value::from(s).to_string();
    let mut fields = vec![
        format!("\"ref\":{}", quote(push.remote_ref)),
        format!("\"sha\":{}", quote(push.sha)),
        format!("\"before\":{}", quote(push.before)),
        format!("\"repository\":{}", quote(push.repository)),
    ];
    for (key, value) in &payload {
        fields.push(format!("{}:{value}", quote(key)));
    }
    let render = |fields: &[String]| {
        format!(
            "{{\"event_type\":{},\"client_payload\":{{{}}}}}",
            quote(event),
            fields.join(",")
        )
    };
    let mut body = render(&fields);
    if let Some(paths) = push.paths {
        // Each path takes at least its length, two quotes and a comma: a lower bound that
        // spares rendering (and throwing away) a list of 10,000 paths that cannot fit.
        let least =
            body.len() + ",\"paths\":[]".len() + paths.iter().map(|p| p.len() + 3).sum::<usize>();
        let candidate = (least <= MAX_BODY_BYTES + 1).then(|| {
            let mut with_paths = fields.clone();
            with_paths.push(format!("\"paths\":{}", Value::from(paths.to_vec())));
            render(&with_paths)
        });
        if let Some(candidate) = candidate.filter(|c| c.len() <= MAX_BODY_BYTES) {
            body = candidate;
        } else {
            warnings.push(format!(
                "{} changed paths do not fit GitHub's {MAX_BODY_BYTES}-byte body; sent without `paths`",
                paths.len()
            ));
        }
    }
    if body.len() > MAX_BODY_BYTES {
        bail!("the request body would be {} bytes; GitHub takes at most {MAX_BODY_BYTES}; shrink the payload", body.len());
    }
    Ok((body, warnings))
}

/// The `workflow_dispatch` body: `ref`, the user's payload fields as string `inputs` (a
/// workflow declares string inputs; GitHub answers 422 for undeclared ones), and a request
/// for the run's URL.
/// The key that carries a dispatch's own id, which the site's `run-name` line puts in its
/// run's title, so the run can be told for this dispatch's.
pub const DISPATCH_ID_KEY: &str = "dispatch_id";

/// `body` (a `repository_dispatch` body) with `"dispatch_id": id` added last in
/// `client_payload`, if it has room under GitHub's limits; else why not.
pub fn with_dispatch_id(body: &str, id: &str) -> Result<String, String> {
    let payload = serde_json::from_str::<Value>(body)
        .ok()
        .and_then(|v| v.get("client_payload")?.as_object().cloned())
        .unwrap_or_default();
    if payload.contains_key(DISPATCH_ID_KEY) {
        return Err(format!(
            "payload field {DISPATCH_ID_KEY:?} is git-dispatch's own: rename it, or its run is \
             followed by time only"
        ));
    }
    let keys = payload.len().max(1);
    if keys >= MAX_PAYLOAD_KEYS {
        return Err(format!(
            "client_payload has GitHub's {MAX_PAYLOAD_KEYS} keys already, so no {DISPATCH_ID_KEY}: \
             its run is followed by time only"
        ));
    }
    let Some(head) = body.strip_suffix("}}") else {
        return Err("the body is not ours".into());
    };
    let sep = if head.ends_with('{') { "" } else { "," };
    let with = format!("{head}{sep}\"{DISPATCH_ID_KEY}\":{}}}}}", Value::from(id));
    if with.len() > MAX_BODY_BYTES {
        return Err(format!(
            "no room for {DISPATCH_ID_KEY} in GitHub's {MAX_BODY_BYTES}-byte body: its run is \
             followed by time only"
        ));
    }
    Ok(with)
}

/// `run_details: false` leaves the request for the run out, for servers that refuse the key
/// (doc/DESIGN.md, "Servers that do not take return_run_details").
pub fn workflow_body(git_ref: &str, inputs: &str, run_details: bool) -> String {
    let inputs: Map<String, Value> = serde_json::from_str(inputs).unwrap_or_default();
    let as_strings: Vec<String> = inputs
        .iter()
        .map(|(k, v)| {
            let text = match v {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            format!("{}:{}", Value::from(k.as_str()), Value::from(text))
        })
        .collect();
    let details = if run_details {
        ",\"return_run_details\":true"
    } else {
        ""
    };
    format!(
        "{{\"ref\":{},\"inputs\":{{{}}}{details}}}",
        Value::from(git_ref),
        as_strings.join(",")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_dispatch_id_goes_last_while_there_is_room() {
        let push = PushFacts {
            remote_ref: "refs/heads/main",
            sha: "a",
            before: "b",
            repository: "o/c",
            paths: None,
        };
        let (body, _) = dispatch_body("update", &push, &Map::new()).unwrap();
        let with = with_dispatch_id(&body, "gd-1").unwrap();
        assert!(
            with.ends_with(r#","repository":"o/c","dispatch_id":"gd-1"}}"#),
            "{with}"
        );
        let six: Map<String, Value> = (0..6).map(|i| (format!("k{i}"), Value::from(i))).collect();
        let (full, _) = dispatch_body("update", &push, &six).unwrap();
        let err = with_dispatch_id(&full, "gd-1").unwrap_err();
        assert!(err.contains("followed by time only"), "{err}");
    }

    #[test]
    fn our_payload_fields_win() {
        let push = PushFacts {
            remote_ref: "refs/heads/main",
            sha: "a",
            before: "b",
            repository: "o/c",
            paths: None,
        };
        let extra =
            serde_json::from_str::<Map<String, Value>>(r#"{"sha":"x","site":"blog"}"#).unwrap();
        let (body, warnings) = dispatch_body("update", &push, &extra).unwrap();
        let v: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(v["client_payload"]["sha"], "a");
        assert_eq!(v["client_payload"]["site"], "blog");
        assert_eq!(warnings.len(), 1);
        assert!(body.starts_with(r#"{"event_type":"update","client_payload":{"ref":"refs/heads/main","sha":"a","before":"b","repository":"o/c","#));
    }

    #[test]
    fn paths_are_added_while_they_fit() {
        let few = vec!["content/a.md".to_string()];
        let mut push = PushFacts {
            remote_ref: "refs/heads/main",
            sha: "a",
            before: "b",
            repository: "o/c",
            paths: Some(&few),
        };
        let (body, warnings) = dispatch_body("update", &push, &Map::new()).unwrap();
        assert!(body.ends_with(r#""paths":["content/a.md"]}}"#), "{body}");
        assert!(warnings.is_empty());
        let many: Vec<String> = (0..10_000)
            .map(|i| format!("content/post-{i}.md"))
            .collect();
        push.paths = Some(&many);
        let (body, warnings) = dispatch_body("update", &push, &Map::new()).unwrap();
        assert!(!body.contains("paths") && body.len() < MAX_BODY_BYTES);
        assert_eq!(warnings.len(), 1);

        // The bound that skips rendering must not drop a list that fits to the byte.
        push.paths = None;
        let bare = dispatch_body("update", &push, &Map::new()).unwrap().0.len();
        let exact = vec!["p".repeat(MAX_BODY_BYTES - bare - r#","paths":[""]"#.len())];
        push.paths = Some(&exact);
        let (body, warnings) = dispatch_body("update", &push, &Map::new()).unwrap();
        assert_eq!(body.len(), MAX_BODY_BYTES);
        assert!(warnings.is_empty());
        let over = vec![format!("{}p", exact[0])];
        push.paths = Some(&over);
        let (body, warnings) = dispatch_body("update", &push, &Map::new()).unwrap();
        assert!(!body.contains("paths"));
        assert_eq!(warnings.len(), 1);
    }

    #[test]
    fn workflow_inputs_are_strings() {
        let body = workflow_body("main", r#"{"site":"blog","n":3,"on":true}"#, true);
        assert_eq!(
            body,
            r#"{"ref":"main","inputs":{"n":"3","on":"true","site":"blog"},"return_run_details":true}"#
        );
        assert_eq!(
            workflow_body("v1", "{}", true),
            r#"{"ref":"v1","inputs":{},"return_run_details":true}"#
        );
        assert_eq!(
            workflow_body("v1", r#"{"a":"b"}"#, false),
            r#"{"ref":"v1","inputs":{"a":"b"}}"#
        );
    }
}
