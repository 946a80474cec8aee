pub mod ai;
pub mod approvals;
pub mod bench;
pub mod bench_draft;
pub mod bench_import;
pub mod bench_policy;
pub mod bench_send;
pub mod config;
pub mod contacts;
pub mod doctor;
pub mod draft;
pub mod enroll;
pub mod import;
pub mod inbox;
pub mod init;
pub mod jobs;
pub mod ledger;
pub mod mailboxes;
pub mod migrate;
pub mod policy;
pub mod policy_explain;
pub mod policy_graduation;
pub mod policy_simulate;
pub mod policy_test;
pub mod queue;
pub mod quickstart;
pub mod score;
pub mod send;
pub mod send_test_email;
pub mod sequences;
pub mod serve;
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

/// A contact named by id or by email address.
pub async fn resolve_contact(
    store: &dyn handoff_store::Store,
    given: &str,
) -> Result<handoff_domain::ContactId> {
    if let Ok(id) = given.parse::<handoff_domain::ContactId>() {
        return Ok(id);
    }
    let email = handoff_domain::EmailAddress::parse(given)
        .context("give a contact id or an email address")?;
    Ok(store
        .find_contact_by_email(&email)
        .await?
        .with_context(|| format!("no contact with the address {email}"))?
        .id)
}

/// The drafter the playbook's `[model]` names, or `backend` instead.
/// Relative paths in `[model]` (a GGUF file, a key file) are read from
/// `playbook_dir`.
pub fn drafter(
    playbook: &Playbook,
    playbook_dir: &Path,
    backend: Option<&str>,
) -> Result<std::sync::Arc<dyn handoff_ai::Drafter>> {
    use handoff_domain::playbook::Backend;
    let mut config = playbook.model.clone();
    if let Some(name) = backend {
        config.backend = match name {
            "template" => Backend::Template,
            "openai" => Backend::Openai,
            "anthropic" => Backend::Anthropic,
            "local" => Backend::Local,
            other => anyhow::bail!(
                "unknown backend `{other}`: choose template, openai, anthropic or local"
            ),
        };
    }
    let drafter = handoff_ai::drafter_from_config(&config, playbook_dir)
        .with_context(|| format!("the {} drafter cannot start", config.backend))?;
    Ok(std::sync::Arc::from(drafter))
}
