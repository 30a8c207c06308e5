//! The integration tests: one crate, so `support` is compiled once and an unused helper is
//! a warning. Each module drives the real binary on real repositories and a fake GitHub.
#![cfg(unix)]

mod support;

mod bad_input;
mod commands;
mod deploy_hooks;
mod fake_github;
mod faults;
mod first_hour;
mod follow;
mod install;
mod install_sh;
mod lfs;
mod netlify;
mod outcomes;
mod push;
mod regressions;
mod release;
mod secrets;
mod targets;
mod tls;
