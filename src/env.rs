//! Every environment variable git-dispatch reads, in one place. A hook takes no flags, so
//! these are how a user (or a test) steers it from outside.

/// `GIT_DISPATCH=0 git push`: skip git-dispatch for this push (a displaced hook still runs).
pub const SKIP: &str = "GIT_DISPATCH";
/// The token; read first. Only our own processes (the waiter, the follower, the guided
/// setup's commands) inherit it: every other child loses it.
pub const TOKEN: &str = "GIT_DISPATCH_TOKEN";
/// Overrides `dispatch.apiUrl`; the one way for tests to reach a loopback fake.
pub const API_URL: &str = "GIT_DISPATCH_API_URL";
/// Replaces Netlify's API (`https://api.netlify.com`) for `netlify` targets: tests, mirrors.
pub const NETLIFY_API_URL: &str = "GIT_DISPATCH_NETLIFY_API_URL";
/// The binary the hook runs: the shim's first choice, and a linked binary hands the push
/// over to it.
pub const BIN: &str = "GIT_DISPATCH_BIN";
/// Set by the shim for the binary: the path git ran the hook by (`$0`), where a displaced
/// hook sits beside it.
pub const HOOK: &str = "GIT_DISPATCH_HOOK";

/// The follower's poll interval in milliseconds (default five seconds), so tests of a
/// build's whole life take a second.
pub const POLL_MS: &str = "GIT_DISPATCH_POLL_MS";
/// Debug builds only, for a test: the follower exits right after it saves an outcome, as a
/// kill there would (the mark that the next push says it must already be set).
pub const DIE_AFTER_OUTCOME: &str = "GIT_DISPATCH_TEST_DIE_AFTER_OUTCOME";
/// The proxy for https, as curl reads it: the first of these that is set.
pub const HTTPS_PROXY: [&str; 4] = ["https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"];
/// Hosts that go direct, as curl reads them.
pub const NO_PROXY: [&str; 2] = ["no_proxy", "NO_PROXY"];
/// A CA bundle to trust instead of the system's (as OpenSSL reads it).
pub const SSL_CERT_FILE: &str = "SSL_CERT_FILE";
/// Directories of hashed CA certificates, instead of the system's.
pub const SSL_CERT_DIR: &str = "SSL_CERT_DIR";
/// Where `install` and `doctor` look for the binary (as the shim does, in sh).
pub const PATH: &str = "PATH";

/// Whether `GIT_DISPATCH=0` asks to skip this run.
pub fn skipped() -> bool {
    std::env::var(SKIP).is_ok_and(|v| v == "0")
}
