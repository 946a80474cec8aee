//! `handoff init [DIR]`: a commented playbook and its database.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use clap::Args;

use handoff_domain::Actor;
use handoff_domain::playbook::{self, DEFAULT_PLAYBOOK};
use handoff_store::CommandContext;

use crate::settings::{GlobalArgs, Settings};
use crate::store::{self, Migrate};

#[derive(Debug, Args)]
pub struct Cmd {
    /// Folder for handoff.toml and the SQLite database (created if missing).
    #[arg(default_value = ".")]
    dir: PathBuf,
    /// Overwrite an existing handoff.toml.
    #[arg(long)]
    force: bool,
}

impl Cmd {
    pub async fn run(self, global: &GlobalArgs) -> Result<ExitCode> {
        std::fs::create_dir_all(&self.dir)
            .with_context(|| format!("cannot create the folder {}", self.dir.display()))?;
        let path = self.dir.join("handoff.toml");
        if path.exists() && !self.force {
            bail!(
                "{} already exists: keep it and run `handoff doctor`, or pass --force to replace it",
                path.display()
            );
        }
        let playbook = playbook::parse(DEFAULT_PLAYBOOK, "handoff.toml").map_err(|d| {
            anyhow::anyhow!("the built-in playbook is invalid (a bug in handoff): {d}")
        })?;
        std::fs::write(&path, DEFAULT_PLAYBOOK)
            .with_context(|| format!("cannot write {}", path.display()))?;

        let settings = Settings::load(&GlobalArgs {
            playbook: path.clone(),
            database_url: global.database_url.clone(),
        })?;
        let store = store::open(&settings, Migrate::OnOpen).await?;
        let ctx = CommandContext::new(Actor::human(&operator()), Some(playbook.policy_version()));
        let sequences =
            handoff_engine::workspace::initialize(store.as_ref(), &ctx, &playbook).await?;

        println!("Created {}", path.display());
        println!("  workspace      {}", playbook.workspace.name);
        println!("  policy version {}", playbook.policy_version());
        println!(
            "  database       {} ({}, schema version {})",
            settings.database_url,
            store.backend(),
            store.schema_status().await?.database_version
        );
        println!(
            "  sequences      {} written ({})",
            sequences,
            playbook
                .sequences
                .keys()
                .cloned()
                .collect::<Vec<_>>()
                .join(", ")
        );
        println!();
        println!(
            "Next: read {} top to bottom and make it yours, then:",
            path.display()
        );
        println!("  handoff policy check --playbook {}", path.display());
        println!("  handoff doctor --playbook {}", path.display());
        Ok(ExitCode::SUCCESS)
    }
}

/// The person running the CLI, for the ledger.
pub fn operator() -> String {
    std::env::var("HANDOFF_USER")
        .or_else(|_| std::env::var("USER"))
        .unwrap_or_else(|_| "operator".to_string())
}
