//! `git dispatch logout [--host H] [--owner O] | --netlify`: forget a stored token.

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

/// `logout --netlify`: forgets the Netlify token.
pub fn netlify() -> Result<Code> {
    let api = crate::netlify::api(crate::config::DEFAULT_TIMEOUT)?;
    if token::forget(&crate::netlify::token_key(&api))? {
        say::line(&format!("forgot the Netlify token for {}", api.host()));
    } else {
        say::line(&format!("no stored Netlify token for {}", api.host()));
    }
    Ok(Code::Ok)
}
