//! `git dispatch remove <name>`.

use anyhow::{bail, Result};

use crate::config;
use crate::exit::Code;
use crate::repo::Repo;
use crate::store::{Entry, Store};
use crate::{say, shared};

/// `remove <name>`.
pub fn run(name: &str) -> Result<Code> {
    let repo = Repo::discover()?;
    let was_trusted = shared::is_trusted(&repo)?;
    // A deploy hook's URL goes with its target: read from the config as written, since a
    // target that does not validate (the fix this command is) has no entry in `Config`.
    let hook = repo
        .config_string(&format!("dispatch.{name}.hook"))
        .and_then(|v| crate::deploy_hook::Hook::parse(&v).ok());
    let mut removed = false;
    for shared in [false, true] {
        let Ok(file) = super::config_file(&repo, shared) else {
            continue;
        };
        if file.exists() && config::has_target(&file, name)? {
            config::write(&file, &["--remove-section", &format!("dispatch.{name}")])?;
            say::line(&format!("removed target {name} from {}", file.display()));
            if shared && was_trusted {
                shared::trust(&repo)?;
            }
            removed = true;
        }
    }
    if !removed {
        bail!("no target named {name:?}; see `git dispatch list`");
    }
    if let Some(hook) = hook {
        match crate::deploy_hook::forget(&hook) {
            Ok(true) => say::line(&format!("forgot {name}'s hook URL")),
            Ok(false) => {}
            Err(err) => say::line(&format!(
                "{name}'s hook URL could not be forgotten: {err:#}; remove it from the \
                 credentials file by hand"
            )),
        }
    }
    offer_to_drop(&repo, name)?;
    Ok(Code::Ok)
}

/// The removed target's undelivered dispatches: on a terminal, asks whether to drop them;
/// else says how. Nothing sends them now that the target is gone.
fn offer_to_drop(repo: &Repo, name: &str) -> Result<()> {
    let store = Store::new(repo.common_dir());
    let left: Vec<Entry> = store
        .entries()?
        .into_iter()
        .filter(|e| e.target == name)
        .collect();
    if left.is_empty() {
        return Ok(());
    }
    let ids: Vec<&str> = left.iter().map(|e| e.id.as_str()).collect();
    if crate::setup::on_terminal() {
        let answer = crate::setup::ask(&format!(
            "{name} has {} undelivered dispatch(es) ({}); drop them? [y/N] ",
            left.len(),
            left[0].repository
        ))?;
        if answer.eq_ignore_ascii_case("y") || answer.eq_ignore_ascii_case("yes") {
            let _lock = store.lock_target(name)?;
            let mut dropped = Vec::new();
            // Read again under the lock: one delivered meanwhile is not there to drop.
            for entry in &left {
                if store.reload(&entry.id)?.is_some() {
                    store.remove(&entry.id)?;
                    store.log("dropped", Some(entry), "dropped with its target");
                    dropped.push(entry.id.as_str());
                }
            }
            say::line(&format!("dropped {}", dropped.join(", ")));
            return Ok(());
        }
    }
    say::line(&format!(
        "{name} still has {} undelivered dispatch(es), which nothing sends now; forget each \
         with `git dispatch drop <id>`: {}",
        left.len(),
        ids.join(", ")
    ));
    Ok(())
}
