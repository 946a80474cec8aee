//! `handoff config show`: the resolved settings, secrets redacted.

use std::process::ExitCode;

use anyhow::Result;
use clap::{Args, Subcommand};
use serde_json::json;

use crate::settings::{GlobalArgs, Settings};

#[derive(Debug, Subcommand)]
pub enum Cmd {
    /// Print each setting, its value (secrets redacted) and its source.
    Show(ShowCmd),
}

#[derive(Debug, Args)]
pub struct ShowCmd {
    #[arg(long)]
    json: bool,
}

impl Cmd {
    pub async fn run(self, global: &GlobalArgs) -> Result<ExitCode> {
        let Cmd::Show(cmd) = self;
        let settings = Settings::load(global)?;
        if cmd.json {
            crate::output::print_json(&json!({
                "playbook": settings.playbook_path.display().to_string(),
                "database_url": settings.database_url.redacted(),
                "database_url_source": settings.database_source,
            }))?;
        } else {
            let mut table = crate::output::table(&["setting", "value", "from"]);
            table.add_row(vec![
                "playbook".to_string(),
                settings.playbook_path.display().to_string(),
                "--playbook / HANDOFF_PLAYBOOK / default".to_string(),
            ]);
            table.add_row(vec![
                "database url".to_string(),
                settings.database_url.redacted(),
                settings.database_source.to_string(),
            ]);
            println!("{table}");
            println!(
                "Order: built-in defaults → handoff.toml → HANDOFF_* environment (or *_FILE) → flags."
            );
        }
        Ok(ExitCode::SUCCESS)
    }
}
