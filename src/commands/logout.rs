//! `git dispatch logout [--host H] [--owner O]`: forget a stored token.

use anyhow::Result;

use crate::api::Api;
use crate::config::Config;
use crate::exit::Code;
use crate::repo::Repo;
use crate::say;
use crate::token;

/// `logout [--host H] [--owner O]`.
pub fn run(host: Option<&str>, owner: Option<&str>) -> Result<Code> {
    let config = Repo::discover()
        .ok()
        .as_ref()
        .map(Config::load)
        .transpose()?;
    let settings = config.as_ref().map(|c| &c.settings);
    let (api, _) = Api::for_host(Api::configured(settings)?, host)?;
    let key = token::key(api.host(), owner);
    if token::forget(&key)? {
        say::line(&format!("forgot the token for {key}"));
    } else {
        say::line(&format!("no stored token for {key}"));
    }
    Ok(Code::Ok)
}
