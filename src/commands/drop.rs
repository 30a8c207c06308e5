//! `git dispatch drop <id>`: forget one pending or failed entry.

use anyhow::{bail, Result};

use crate::exit::Code;
use crate::repo::Repo;
use crate::say;
use crate::store::Store;

/// `drop <id>`: forget one entry (a unique prefix of its id will do).
pub fn run(id: &str) -> Result<Code> {
    let repo = Repo::discover()?;
    let store = Store::new(repo.common_dir());
    let entries = store.entries()?;
    let matching: Vec<_> = entries
        .iter()
        .filter(|e| !id.is_empty() && e.id.starts_with(id))
        .collect();
    let entry = match matching.as_slice() {
        [one] => *one,
        [] => bail!("no pending or failed entry {id:?}; see `git dispatch status`"),
        _ => bail!(
            "{id:?} matches {} entries; give more of the id",
            matching.len()
        ),
    };
    let _lock = store.lock_target(&entry.target)?;
    store.remove(&entry.id)?;
    store.log("dropped", Some(entry), "dropped by the user");
    say::line(&format!(
        "dropped {} ({} {} {})",
        entry.id,
        entry.repository,
        entry.branch(),
        entry.short_sha()
    ));
    Ok(Code::Ok)
}
