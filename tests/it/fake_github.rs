//! The fake GitHub itself answers like GitHub: if it did not, every other test
//! would prove nothing. Plain HTTP/1.1 over a TcpStream, no binary involved.

use std::io::{Read, Write};
use std::net::TcpStream;

use crate::support::*;
use serde_json::{json, Value};

/// (status, body) of one request to the fake.
fn call(
    fake: &FakeGitHub,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> (u16, String) {
    let addr = fake.url().trim_start_matches("http://").to_string();
    let mut stream = TcpStream::connect(&addr).expect("connect to the fake");
    let mut request = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    for (k, v) in headers {
        request.push_str(&format!("{k}: {v}\r\n"));
    }
    request.push_str(&format!("Content-Length: {}\r\n\r\n{body}", body.len()));
    stream.write_all(request.as_bytes()).unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let status = response
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no status line in {response:?}"));
    let body = response.split("\r\n\r\n").nth(1).unwrap_or("").to_string();
    (status, body)
}

fn good_headers(token: &str) -> Vec<(&'static str, String)> {
    vec![
        ("Accept", ACCEPT.to_string()),
        ("Authorization", format!("Bearer {token}")),
        ("X-GitHub-Api-Version", API_VERSION.to_string()),
        ("User-Agent", user_agent()),
        ("Content-Type", "application/json".to_string()),
    ]
}

fn post(
    fake: &FakeGitHub,
    path: &str,
    headers: &[(&'static str, String)],
    body: &str,
) -> (u16, String) {
    let headers: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
    call(fake, "POST", path, &headers, body)
}

fn without(headers: &[(&'static str, String)], name: &str) -> Vec<(&'static str, String)> {
    headers
        .iter()
        .filter(|(k, _)| *k != name)
        .cloned()
        .collect()
}

fn message(body: &str) -> String {
    let v: Value = serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {body:?}"));
    v["message"].as_str().expect("a message").to_string()
}

const PATH: &str = "/repos/owner/site/dispatches";
const BODY: &str = r#"{"event_type":"update","client_payload":{"ref":"refs/heads/main"}}"#;

#[test]
fn accepts_a_well_formed_dispatch_with_204() {
    let fake = FakeGitHub::start();
    let (status, body) = post(&fake, PATH, &good_headers(TOKEN), BODY);
    assert_eq!(status, 204);
    assert_eq!(body, "");
    let got = fake.dispatches();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].repository, "owner/site");
    assert_eq!(got[0].body["client_payload"]["ref"], "refs/heads/main");
    assert_headers(&got[0].request);
    assert_eq!(fake.wait_for_dispatches(1, TIMEOUT).len(), 1);
}

#[test]
fn checks_every_header() {
    let fake = FakeGitHub::start();
    let good = good_headers(TOKEN);
    let (status, body) = post(&fake, PATH, &good_headers("github_pat_other"), BODY);
    assert_eq!((status, message(&body).as_str()), (401, "Bad credentials"));
    assert_eq!(
        post(&fake, PATH, &without(&good, "Authorization"), BODY).0,
        401
    );
    assert_eq!(
        post(&fake, PATH, &without(&good, "User-Agent"), BODY).0,
        403
    );
    assert_eq!(
        post(&fake, PATH, &without(&good, "X-GitHub-Api-Version"), BODY).0,
        400
    );
    assert_eq!(post(&fake, PATH, &without(&good, "Accept"), BODY).0, 415);
    assert_eq!(
        post(&fake, PATH, &without(&good, "Content-Type"), BODY).0,
        415
    );
    let mut token_scheme = without(&good, "Authorization");
    token_scheme.push(("Authorization", format!("token {TOKEN}")));
    assert_eq!(post(&fake, PATH, &token_scheme, BODY).0, 401);
    assert!(fake.dispatches().is_empty());
    assert_eq!(fake.requests().len(), 7);
}

#[test]
fn validates_the_body_like_github() {
    let fake = FakeGitHub::start();
    let h = good_headers(TOKEN);
    let eleven: serde_json::Map<String, Value> =
        (0..11).map(|i| (format!("k{i}"), json!(i))).collect();
    let ten: serde_json::Map<String, Value> =
        (0..10).map(|i| (format!("k{i}"), json!(i))).collect();
    let cases = [
        ("not json".to_string(), 400),
        ("[]".to_string(), 400),
        (json!({}).to_string(), 422),
        (json!({"event_type": ""}).to_string(), 422),
        (json!({"event_type": "x".repeat(101)}).to_string(), 422),
        (json!({"event_type": "x".repeat(100)}).to_string(), 204),
        (json!({"event_type": 1}).to_string(), 422),
        (
            json!({"event_type": "update", "client_payload": []}).to_string(),
            422,
        ),
        (
            json!({"event_type": "update", "client_payload": eleven}).to_string(),
            422,
        ),
        (
            json!({"event_type": "update", "client_payload": ten}).to_string(),
            204,
        ),
        (json!({"event_type": "update", "extra": 1}).to_string(), 422),
        (
            json!({"event_type": "update", "client_payload": {"big": "x".repeat(MAX_BODY)}})
                .to_string(),
            422,
        ),
    ];
    for (body, want) in &cases {
        let (status, reply) = post(&fake, PATH, &h, body);
        assert_eq!(status, *want, "body {:.80}: {reply}", body);
    }
    assert_eq!(fake.dispatches().len(), 2);
}

#[test]
fn unknown_repository_is_404_and_known_repos_answer_get() {
    let fake = FakeGitHub::start();
    let h = good_headers(TOKEN);
    let (status, body) = post(&fake, "/repos/owner/missing/dispatches", &h, BODY);
    assert_eq!((status, message(&body).as_str()), (404, "Not Found"));
    fake.add_repo("owner/missing");
    assert_eq!(
        post(&fake, "/repos/owner/missing/dispatches", &h, BODY).0,
        204
    );

    let headers: Vec<(&str, &str)> = h.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let (status, body) = call(&fake, "GET", "/repos/owner/site", &headers, "");
    assert_eq!(status, 200);
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["full_name"], "owner/site");
    assert_eq!(v["default_branch"], "main");
    assert_eq!(call(&fake, "GET", "/repos/owner/nope", &headers, "").0, 404);
    let (status, body) = call(&fake, "GET", "/user", &headers, "");
    assert_eq!(status, 200);
    assert!(body.contains("writer"));
    assert_eq!(call(&fake, "GET", "/user", &[], "").0, 401);
}

#[test]
fn forced_statuses_apply_to_the_next_n_requests() {
    let fake = FakeGitHub::start();
    let h = good_headers(TOKEN);
    fake.respond_with_n(500, 2);
    assert_eq!(post(&fake, PATH, &h, BODY).0, 500);
    assert_eq!(post(&fake, PATH, &h, BODY).0, 500);
    assert_eq!(post(&fake, PATH, &h, BODY).0, 204);
    fake.respond_with(401);
    assert_eq!(post(&fake, PATH, &h, BODY).0, 401);
    assert_eq!(post(&fake, PATH, &h, BODY).0, 401);
    fake.respond_normally();
    assert_eq!(post(&fake, PATH, &h, BODY).0, 204);
    let statuses: Vec<u16> = fake.requests().iter().map(|r| r.status).collect();
    assert_eq!(statuses, [500, 500, 204, 401, 401, 204]);
    assert_eq!(fake.dispatches().len(), 2);
}

#[test]
fn dropping_the_fake_closes_its_port() {
    let fake = FakeGitHub::start();
    let addr = fake.url().trim_start_matches("http://").to_string();
    assert!(TcpStream::connect(&addr).is_ok());
    drop(fake);
    // tiny_http's accept thread lets go of the socket shortly after.
    let start = std::time::Instant::now();
    while TcpStream::connect(&addr).is_ok() {
        assert!(
            start.elapsed() < TIMEOUT,
            "the fake still listens after drop"
        );
        std::thread::sleep(POLL);
    }
}

#[test]
fn token_search_finds_fragments_but_not_a_mask() {
    let token = "github_pat_11LEAKCHECKxq7Zr2Vt9Lm4Pw8Ks3Dn6Hb1Gf5Jc0Ye";
    assert!(find_secret(token.as_bytes(), token).is_some());
    assert!(find_secret(b"Authorization: Bearer xq7Zr2Vt9Lm4Pw8K", token).is_some());
    assert!(find_secret(b"Authorization: Bearer github_pat_11LE...c0Ye", token).is_none());
    assert!(find_secret(b"Authorization: Bearer ****", token).is_none());
}
