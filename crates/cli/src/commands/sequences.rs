//! `handoff sequences resume NAME --reason TEXT`: a person resumes a
//! sequence its circuit breaker paused (`handoff mailboxes list` shows the
//! paused ones).

use std::process::ExitCode;

use anyhow::Result;
use clap::{Args, Subcommand};

use handoff_store::StoreError;

use crate::settings::{GlobalArgs, Settings};
use crate::store::{self, Migrate};

#[derive(Debug, Subcommand)]
pub enum Cmd {
    /// Resume a sequence its circuit breaker paused.
    Resume(ResumeCmd),
}

#[derive(Debug, Args)]
pub struct ResumeCmd {
    /// The sequence's name in the playbook, e.g. sdr-cold.
    name: String,
    /// Why it is safe to send again; kept in the ledger.
    #[arg(long)]
    reason: String,
    #[arg(long)]
    json: bool,
}

impl Cmd {
    pub async fn run(self, global: &GlobalArgs) -> Result<ExitCode> {
        let Cmd::Resume(cmd) = self;
        let settings = Settings::load(global)?;
        let store = store::open(&settings, Migrate::OnOpen).await?;
        let ctx = super::mailboxes::person(store.as_ref(), &cmd.reason).await?;
        store
            .resume_sequence(&ctx, &cmd.name, cmd.reason.trim())
            .await
            .map_err(|e| match e {
                StoreError::NotFound { .. } => anyhow::anyhow!(
                    "there is no sequence `{}`: the playbook's [sequence.NAME] blocks name them",
                    cmd.name
                ),
                StoreError::Refused { reason } => anyhow::anyhow!("{reason}: nothing to resume"),
                other => anyhow::Error::new(other),
            })?;
        if cmd.json {
            crate::output::print_json(&serde_json::json!({
                "resumed": "sequence", "name": cmd.name, "by": ctx.actor.name(), "reason": cmd.reason.trim(),
            }))?;
        } else {
            println!(
                "Resumed sequence {}: its queued messages go out again by the schedule (`handoff send --due`).",
                cmd.name
            );
        }
        Ok(ExitCode::SUCCESS)
    }
}
