pub mod approvals;
pub mod bench;
pub mod bench_import;
pub mod bench_policy;
pub mod config;
pub mod contacts;
pub mod doctor;
pub mod enroll;
pub mod import;
pub mod init;
pub mod jobs;
pub mod ledger;
pub mod migrate;
pub mod policy;
pub mod policy_explain;
pub mod policy_graduation;
pub mod policy_simulate;
pub mod policy_test;
pub mod quickstart;
pub mod score;
pub mod titles;
pub mod users;
pub mod verify;
pub mod worker;

use std::path::Path;

use anyhow::{Context, Result};
use handoff_domain::playbook::{self, Diagnostics, Playbook};

/// Reads and parses a playbook file; `Err(Ok(diagnostics))` when the file
/// is there but wrong, `Err(Err(e))` when it cannot be read.
pub fn read_playbook(path: &Path) -> Result<Result<Playbook, Diagnostics>> {
    let text = std::fs::read_to_string(path).with_context(|| {
        format!(
            "cannot read the playbook {}: create one with `handoff init`, or pass --playbook FILE",
            path.display()
        )
    })?;
    Ok(playbook::parse(&text, &path.display().to_string()))
}

/// The playbook, or an error listing every diagnostic.
pub fn load_playbook(path: &Path) -> Result<Playbook> {
    match read_playbook(path)? {
        Ok(playbook) => Ok(playbook),
        Err(diagnostics) => {
            for d in diagnostics.iter() {
                eprintln!("{d}");
            }
            anyhow::bail!(
                "the playbook {} has {} problem(s); fix them (see `handoff policy check`)",
                path.display(),
                diagnostics.len()
            )
        }
    }
}
