//! HTTPS and the OS trust store: the bundle (`SSL_CERT_FILE`) first, the certificate
//! directory (`SSL_CERT_DIR`) for an issuer the bundle lacks, and nothing sent to a server
//! neither trusts. A TLS front on 127.0.0.1 (test certificates in `tests/fixtures/tls`)
//! decrypts each request and hands it to the fake GitHub, which checks it as usual.

use std::fs;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread;

use crate::support::*;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

pub(crate) fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/tls")
        .join(name)
}

/// TLS in front of the fake: `https://127.0.0.1:PORT`, a certificate from the test CA.
pub(crate) struct TlsFront {
    port: u16,
    /// Connections whose handshake failed (the client refused our certificate).
    refused: Arc<AtomicUsize>,
}

impl TlsFront {
    pub(crate) fn start(fake: &FakeGitHub) -> TlsFront {
        let certs: Vec<CertificateDer<'static>> =
            CertificateDer::pem_file_iter(fixture("leaf.pem"))
                .expect("leaf.pem")
                .collect::<Result<_, _>>()
                .expect("parse leaf.pem");
        let key = PrivateKeyDer::from_pem_file(fixture("leaf.key")).expect("leaf.key");
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("protocol versions")
            .with_no_client_auth()
            .with_single_cert(certs, key)
            .expect("server certificate");
        let config = Arc::new(config);
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the TLS front");
        let port = listener.local_addr().unwrap().port();
        let backend = fake.url().trim_start_matches("http://").to_string();
        let refused = Arc::new(AtomicUsize::new(0));
        let counter = refused.clone();
        thread::spawn(move || {
            for tcp in listener.incoming().flatten() {
                let (config, backend, counter) = (config.clone(), backend.clone(), counter.clone());
                thread::spawn(move || {
                    if relay(config, tcp, &backend).is_err() {
                        counter.fetch_add(1, Ordering::SeqCst);
                    }
                });
            }
        });
        TlsFront { port, refused }
    }

    pub(crate) fn url(&self) -> String {
        format!("https://127.0.0.1:{}", self.port)
    }
}

/// One request: read it through TLS, pass it to the fake, send its answer back.
fn relay(config: Arc<rustls::ServerConfig>, tcp: TcpStream, backend: &str) -> std::io::Result<()> {
    let conn = rustls::ServerConnection::new(config).map_err(std::io::Error::other)?;
    let mut tls = rustls::StreamOwned::new(conn, tcp);
    let request = read_message(&mut tls)?;
    let mut upstream = TcpStream::connect(backend)?;
    upstream.write_all(&request)?;
    let answer = read_message(&mut upstream)?;
    tls.write_all(&answer)?;
    tls.conn.send_close_notify();
    tls.flush()
}

/// An HTTP/1.1 message: headers, then `Content-Length` bytes of body.
fn read_message(stream: &mut impl Read) -> std::io::Result<Vec<u8>> {
    let mut data = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        if let Some(end) = data.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&data[..end]).to_ascii_lowercase();
            let length = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .and_then(|v| v.trim().parse::<usize>().ok())
                .unwrap_or(0);
            if data.len() >= end + 4 + length {
                return Ok(data);
            }
        }
        let n = stream.read(&mut buf)?;
        if n == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        data.extend_from_slice(&buf[..n]);
    }
}

/// A clone with one target, its API behind the TLS front, and the trust store given.
fn setup(file: Option<&Path>, dir: Option<&Path>) -> (FakeGitHub, TlsFront, TestEnv) {
    let fake = FakeGitHub::start();
    let front = TlsFront::start(&fake);
    let mut env = TestEnv::with_fake(&fake);
    env.set_api_url(Some(&front.url()));
    match file {
        Some(file) => env.set_var("SSL_CERT_FILE", file),
        None => env.remove_var("SSL_CERT_FILE"),
    }
    match dir {
        Some(dir) => env.set_var("SSL_CERT_DIR", dir),
        None => env.remove_var("SSL_CERT_DIR"),
    }
    env.install();
    env.dispatch_ok(&["add", "owner/site"]);
    (fake, front, env)
}

#[test]
fn send_over_https_trusts_the_ca_in_ssl_cert_file() {
    let (fake, front, env) = setup(Some(&fixture("ca.pem")), None);
    let sha = env.rev(&env.clone, "refs/remotes/origin/main");

    let out = env.dispatch(&["send"]);

    assert_exit(&out, 0, "send over https");
    let got = fake.dispatches();
    assert_eq!(got.len(), 1, "{}", fake.describe());
    assert_eq!(got[0].body["client_payload"]["sha"], sha.as_str());
    assert_headers(&got[0].request);
    assert_eq!(front.refused.load(Ordering::SeqCst), 0);
}

#[test]
fn a_ca_only_in_the_certificate_directory_is_found_after_the_bundle() {
    // The bundle holds another CA; ours is only in the directory, as `c_rehash` leaves it.
    let env_dir = tempfile::tempdir().unwrap();
    fs::copy(fixture("ca.pem"), env_dir.path().join("3b1f1ca0.0")).unwrap();
    let (fake, _front, env) = setup(Some(&fixture("other-ca.pem")), Some(env_dir.path()));

    let out = env.dispatch(&["send"]);

    assert_exit(&out, 0, "send with the CA in SSL_CERT_DIR only");
    assert_eq!(fake.dispatches().len(), 1, "{}", fake.describe());
}

#[test]
fn a_push_over_https_is_delivered_by_the_waiter() {
    let (fake, _front, env) = setup(Some(&fixture("ca.pem")), None);
    push_a_post_and_expect_one_dispatch(&env, &fake);
}

#[test]
fn an_untrusted_server_gets_nothing_and_the_push_waits_for_the_fix() {
    let (fake, front, mut env) = setup(Some(&fixture("other-ca.pem")), None);
    let before = env.rev(&env.remote, "refs/heads/main");
    let sha = env.commit(&env.clone, "post.md", "hello\n", "post");

    env.push_ok(&["origin", "main"]);

    let status = env.wait_for_error("confirmed", TIMEOUT);
    let error = entries(&status)[0]["last_error"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(
        error.contains("certificate was refused (UnknownIssuer)")
            && error.contains("SSL_CERT_FILE"),
        "the failure names the certificate and the fix: {status:#}"
    );
    assert!(fake.requests().is_empty(), "{}", fake.describe());
    wait_refused(&front);
    let send = env.dispatch(&["send"]);
    assert!(!send.status.success(), "{}", show(&send));
    assert_no_token(&send, TOKEN, "send to an untrusted server");
    assert!(fake.requests().is_empty(), "{}", fake.describe());

    env.set_var("SSL_CERT_FILE", fixture("ca.pem"));
    env.dispatch_ok(&["retry"]);
    expect_one_dispatch(&env, &fake, &before, &sha);
}

#[test]
fn a_certificate_for_another_name_is_refused_and_the_error_says_so() {
    // The test certificate names only IP 127.0.0.1; `localhost` reaches the same server.
    let (fake, front, mut env) = setup(Some(&fixture("ca.pem")), None);
    env.set_api_url(Some(&format!("https://localhost:{}", front.port)));

    let out = env.dispatch(&["send"]);

    assert_exit(
        &out,
        1,
        "send to a server whose certificate names another host",
    );
    let said = stderr(&out);
    assert!(
        said.contains("certificate was refused (NotValidForName)")
            && said.contains("check dispatch.apiUrl"),
        "{}",
        show(&out)
    );
    assert_no_token(&out, TOKEN, "send to the wrong name");
    assert!(fake.requests().is_empty(), "{}", fake.describe());
    wait_refused(&front);
}

#[test]
fn without_ssl_cert_variables_the_system_store_is_read_and_a_private_ca_is_refused() {
    // Nothing names our test CA, so the system's own store decides: it lacks that CA.
    let (fake, front, env) = setup(None, None);

    let out = env.dispatch(&["send"]);

    assert_exit(&out, 1, "send with only the system trust store");
    let said = stderr(&out);
    let system_bundle = [
        "/etc/ssl/certs/ca-certificates.crt",
        "/etc/pki/tls/certs/ca-bundle.crt",
        "/etc/ssl/ca-bundle.pem",
        "/etc/ssl/cert.pem",
    ]
    .iter()
    .any(|p| Path::new(p).is_file());
    let expected = if system_bundle {
        "certificate was refused (UnknownIssuer)"
    } else {
        "no usable CA certificates in the system trust store"
    };
    assert!(
        said.contains(expected) && said.contains("SSL_CERT_FILE"),
        "expected {expected:?} and the fix\n{}",
        show(&out)
    );
    assert!(fake.requests().is_empty(), "{}", fake.describe());
    wait_refused(&front);
}

/// Waits until the front has counted a refused handshake: it counts on its own thread, a
/// moment after the client gave up (so a check right after the client exits can race).
fn wait_refused(front: &TlsFront) {
    let start = std::time::Instant::now();
    while front.refused.load(Ordering::SeqCst) == 0 {
        assert!(
            start.elapsed() < TIMEOUT,
            "the front saw no refused handshake"
        );
        thread::sleep(std::time::Duration::from_millis(10));
    }
}

#[test]
fn pre_push_mode_forks_its_waiter_before_any_request_starts_a_thread() {
    // The waiter is a plain fork: no other thread may run then, or the child could inherit
    // a lock that thread held. In pre-push mode the hook also sends; an https request
    // starts the trust-store reader (slow here: a 20 MB bundle) and a refused connection
    // returns before anything joins it. A debug build checks the rule at the fork, and a
    // panic in the hook is printed as an internal error.
    let fake = FakeGitHub::start();
    let mut env = TestEnv::with_fake(&fake);
    env.install();
    env.dispatch_ok(&[
        "add",
        "owner/site",
        "--branch",
        "main",
        "--branch",
        "release",
    ]);
    env.git_ok(&env.clone, &["config", "dispatch.when", "pre-push"]);

    // An earlier push whose retry is due now, so this push's hook starts a waiter.
    fake.respond_with_reply(429, 1, "API rate limit exceeded", &[("Retry-After", "0")]);
    let release = env.commit(&env.clone, "r.md", "r\n", "release");
    env.push_ok(&["origin", "HEAD:refs/heads/release"]);
    let status = env.status_json();
    assert_eq!(entries(&status).len(), 1, "{status:#}");
    assert_eq!(entries(&status)[0]["sha"], release.as_str());

    let ca = fs::read_to_string(fixture("ca.pem")).unwrap();
    let bundle = env.root.join("big-bundle.pem");
    fs::write(&bundle, ca.repeat(20 * 1024 * 1024 / ca.len())).unwrap();
    env.set_var("SSL_CERT_FILE", &bundle);
    let https_closed = closed_port_url().replace("http://", "https://");
    env.set_api_url(Some(&https_closed));
    env.commit(&env.clone, "m.md", "m\n", "main");
    let out = env.push_ok(&["origin", "main"]);

    let said = stderr(&out);
    assert!(!said.contains("internal error"), "{}", show(&out));
    assert!(
        said.contains("dispatch to owner/site not sent yet, will retry"),
        "{}",
        show(&out)
    );
    // Nothing lost: both pushes wait, and are delivered once each when GitHub is back.
    env.set_api_url(Some(&fake.url()));
    env.remove_var("SSL_CERT_FILE");
    let start = std::time::Instant::now();
    while fake.dispatches().len() < 2 {
        assert!(
            start.elapsed() < TIMEOUT,
            "never delivered\n{}",
            fake.describe()
        );
        env.dispatch(&["retry"]);
        thread::sleep(std::time::Duration::from_millis(50));
    }
    env.wait_settled(TIMEOUT);
    let mut shas: Vec<String> = fake
        .dispatches()
        .iter()
        .map(|d| {
            d.body["client_payload"]["sha"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    shas.sort();
    let mut want = vec![release, env.rev(&env.clone, "HEAD")];
    want.sort();
    assert_eq!(shas, want, "{}", fake.describe());
}
