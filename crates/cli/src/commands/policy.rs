//! `handoff policy check`: validate the playbook, listing every mistake.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;
use clap::{Args, Subcommand};
use serde_json::json;

use crate::settings::GlobalArgs;

#[derive(Debug, Subcommand)]
pub enum Cmd {
    /// Report every mistake in the playbook as file:line:column with a hint.
    Check(CheckCmd),
}

#[derive(Debug, Args)]
pub struct CheckCmd {
    /// The playbook to check (default: --playbook).
    file: Option<PathBuf>,
    #[arg(long)]
    json: bool,
}

impl Cmd {
    pub async fn run(self, global: &GlobalArgs) -> Result<ExitCode> {
        match self {
            Cmd::Check(cmd) => cmd.run(global),
        }
    }
}

impl CheckCmd {
    fn run(self, global: &GlobalArgs) -> Result<ExitCode> {
        let path = self.file.unwrap_or_else(|| global.playbook.clone());
        let parsed = super::read_playbook(&path)?;
        match parsed {
            Ok(playbook) => {
                let version = playbook.policy_version();
                if self.json {
                    crate::output::print_json(&json!({
                        "file": path.display().to_string(),
                        "valid": true,
                        "policy_version": version,
                        "diagnostics": [],
                    }))?;
                } else {
                    println!(
                        "{} is valid: policy version {}, {} sequence(s), {} content rule(s), {} escalation rule(s), {} mailbox(es), model backend {}.",
                        path.display(),
                        version,
                        playbook.sequences.len(),
                        playbook.governance.content_rules.len(),
                        playbook.governance.escalation_rules.len(),
                        playbook.mailboxes.len(),
                        serde_json::to_value(playbook.model.backend)?
                            .as_str()
                            .unwrap_or("?"),
                    );
                }
                Ok(ExitCode::SUCCESS)
            }
            Err(diagnostics) => {
                if self.json {
                    crate::output::print_json(&json!({
                        "file": path.display().to_string(),
                        "valid": false,
                        "diagnostics": diagnostics.0,
                    }))?;
                } else {
                    for d in diagnostics.iter() {
                        println!("{d}");
                    }
                    println!();
                    println!("{} problem(s) in {}.", diagnostics.len(), path.display());
                }
                Ok(ExitCode::FAILURE)
            }
        }
    }
}
