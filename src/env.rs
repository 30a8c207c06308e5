//! Every environment variable git-dispatch reads, in one place. A hook takes no flags, so
//! these are how a user (or a test) steers it from outside.

/// `GIT_DISPATCH=0 git push`: skip git-dispatch for this push (a displaced hook still runs).
pub const SKIP: &str = "GIT_DISPATCH";
/// The token; read first. Only the waiter inherits it: every other child loses it.
pub const TOKEN: &str = "GIT_DISPATCH_TOKEN";
/// Overrides `dispatch.apiUrl`; the one way for tests to reach a loopback fake.
pub const API_URL: &str = "GIT_DISPATCH_API_URL";
/// The binary the hook runs: the shim's first choice, and a linked binary hands the push
/// over to it.
pub const BIN: &str = "GIT_DISPATCH_BIN";
/// Set by the shim for the binary: the path git ran the hook by (`$0`), where a displaced
/// hook sits beside it.
pub const HOOK: &str = "GIT_DISPATCH_HOOK";

/// Whether `GIT_DISPATCH=0` asks to skip this run.
pub fn skipped() -> bool {
    std::env::var(SKIP).is_ok_and(|v| v == "0")
}
