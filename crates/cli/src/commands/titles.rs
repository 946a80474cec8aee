//! `handoff titles normalize TITLE`: what handoff makes of a job title.

use std::process::ExitCode;

use anyhow::Result;
use clap::{Args, Subcommand};

use handoff_domain::titles::normalize_title;

use crate::settings::GlobalArgs;

#[derive(Debug, Subcommand)]
pub enum Cmd {
    /// Print the seniority and department of a job title.
    Normalize(NormalizeCmd),
}

#[derive(Debug, Args)]
pub struct NormalizeCmd {
    /// The title, e.g. "Co-founder & CTO" or "Directeur commercial".
    title: String,
    #[arg(long)]
    json: bool,
}

impl Cmd {
    pub async fn run(self, _global: &GlobalArgs) -> Result<ExitCode> {
        let Cmd::Normalize(cmd) = self;
        let normalized = normalize_title(&cmd.title);
        if cmd.json {
            println!("{}", serde_json::to_string(&normalized)?);
        } else {
            println!(
                "{}: seniority {}, department {}",
                cmd.title,
                normalized.seniority.as_str(),
                normalized.department.as_str()
            );
        }
        Ok(ExitCode::SUCCESS)
    }
}
