//! `handoff migrate`: bring the schema up to date (also done on start).

use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::Args;

use crate::settings::{GlobalArgs, Settings};
use crate::store::{self, Migrate};

#[derive(Debug, Args)]
pub struct Cmd {
    #[arg(long)]
    json: bool,
}

impl Cmd {
    pub async fn run(self, global: &GlobalArgs) -> Result<ExitCode> {
        let settings = Settings::load(global)?;
        let store = store::open(&settings, Migrate::No).await?;
        let report = store
            .migrate()
            .await
            .with_context(|| format!("cannot migrate the database at {}", settings.database_url))?;
        if self.json {
            crate::output::print_json(&report)?;
        } else if report.applied.is_empty() {
            println!(
                "{} is up to date (schema version {}).",
                settings.database_url, report.to_version
            );
        } else {
            println!(
                "{}: schema version {} → {} ({})",
                settings.database_url,
                report.from_version,
                report.to_version,
                report.applied.join(", ")
            );
        }
        Ok(ExitCode::SUCCESS)
    }
}
