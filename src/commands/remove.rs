//! `git dispatch remove <name>`.

use anyhow::{bail, Result};

use crate::config;
use crate::exit::Code;
use crate::repo::Repo;
use crate::{say, shared};

/// `remove <name>`.
pub fn run(name: &str) -> Result<Code> {
    let repo = Repo::discover()?;
    let was_trusted = shared::is_trusted(&repo)?;
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
    Ok(Code::Ok)
}
