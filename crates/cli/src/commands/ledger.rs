//! `handoff ledger tail`: what happened, who did it, under which policy.

use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, Result};
use clap::{Args, Subcommand};

use handoff_domain::ContactId;
use handoff_store::{LedgerEntry, LedgerFilter};

use crate::settings::{GlobalArgs, Settings};
use crate::store::{self, Migrate};

#[derive(Debug, Subcommand)]
pub enum Cmd {
    /// Print the newest ledger entries, oldest first.
    Tail(TailCmd),
}

#[derive(Debug, Args)]
pub struct TailCmd {
    /// Only entries about this contact.
    #[arg(long)]
    contact: Option<String>,
    /// Only entries of this kind (e.g. user_added, job_dead).
    #[arg(long)]
    kind: Option<String>,
    /// How many entries.
    #[arg(short = 'n', long, default_value_t = 50)]
    limit: u32,
    /// Keep printing new entries as they are appended.
    #[arg(short, long)]
    follow: bool,
    /// One JSON object per line.
    #[arg(long)]
    json: bool,
}

impl Cmd {
    pub async fn run(self, global: &GlobalArgs) -> Result<ExitCode> {
        match self {
            Cmd::Tail(cmd) => cmd.run(global).await,
        }
    }
}

impl TailCmd {
    async fn run(self, global: &GlobalArgs) -> Result<ExitCode> {
        let contact_id = self
            .contact
            .as_deref()
            .map(|raw| raw.parse::<ContactId>())
            .transpose()
            .context("--contact takes a contact id as shown by `handoff contacts list`")?;
        let settings = Settings::load(global)?;
        let store = store::open(&settings, Migrate::OnOpen).await?;
        let mut filter = LedgerFilter {
            contact_id,
            kind: self.kind.clone(),
            after: None,
            limit: self.limit.max(1),
        };
        let entries = store.tail(&filter).await?;
        self.print(&entries)?;
        if !self.follow {
            return Ok(ExitCode::SUCCESS);
        }
        filter.after = entries.last().map(|e| e.id);
        loop {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => return Ok(ExitCode::SUCCESS),
                _ = tokio::time::sleep(Duration::from_millis(500)) => {}
            }
            if filter.after.is_none() {
                // Nothing yet: start from whatever is newest now.
                filter.after = store
                    .tail(&LedgerFilter {
                        limit: 1,
                        ..filter.clone()
                    })
                    .await?
                    .last()
                    .map(|e| e.id);
                continue;
            }
            let fresh = store
                .tail(&LedgerFilter {
                    limit: 1000,
                    ..filter.clone()
                })
                .await?;
            if let Some(last) = fresh.last() {
                filter.after = Some(last.id);
                self.print_rows(&fresh)?;
            }
        }
    }

    fn print(&self, entries: &[LedgerEntry]) -> Result<()> {
        if entries.is_empty() && !self.json {
            println!("The ledger has no entries matching this filter.");
            return Ok(());
        }
        self.print_rows(entries)
    }

    fn print_rows(&self, entries: &[LedgerEntry]) -> Result<()> {
        if self.json {
            for entry in entries {
                println!("{}", serde_json::to_string(entry)?);
            }
            return Ok(());
        }
        let mut table =
            crate::output::table(&["#", "at (UTC)", "actor", "kind", "policy", "what happened"]);
        for e in entries {
            table.add_row(vec![
                e.id.to_string(),
                e.at.format("%Y-%m-%d %H:%M:%S").to_string(),
                e.actor.to_string(),
                e.kind.clone(),
                e.policy_version.clone().unwrap_or_else(|| "-".into()),
                e.event.summary(),
            ]);
        }
        println!("{table}");
        Ok(())
    }
}
