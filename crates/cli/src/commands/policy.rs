//! `handoff policy check | test | simulate | explain | graduation`: the
//! playbook's governance read, tested, replayed and explained.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::{Args, Subcommand};
use handoff_domain::playbook;
use serde_json::json;

use crate::settings::GlobalArgs;

#[derive(Debug, Subcommand)]
pub enum Cmd {
    /// Report every mistake in the playbook as file:line:column with a hint;
    /// conditions are type-checked against the documented CEL context.
    /// Exits 1 on errors; warnings (rules that can never fire) alone exit 0.
    Check(CheckCmd),
    /// Run policy test cases (a draft or an event in a context, and the
    /// verdict and rule ids expected); prints a diff per failing case and
    /// exits 1 on any failure.
    Test(TestCmd),
    /// Replay the recorded drafts and events through a candidate playbook
    /// and the current one, and compare them side by side.
    Simulate(SimulateCmd),
    /// Which rules fired on a draft, on which text, under which policy
    /// version, and what people did next.
    Explain(ExplainCmd),
    /// Which sequence types qualify for a lighter send authority, and which
    /// regressed (recording a demotion when the playbook says so).
    Graduation(GraduationCmd),
}

#[derive(Debug, Args)]
pub struct CheckCmd {
    /// The playbook to check (default: --playbook).
    file: Option<PathBuf>,
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Args)]
pub struct TestCmd {
    /// Case files (TOML, `[[case]]` tables; see docs/policy.md).
    #[arg(required = true, value_name = "CASES.toml")]
    pub files: Vec<PathBuf>,
    /// The playbook to test (default: --playbook).
    #[arg(long, value_name = "FILE")]
    pub policy: Option<PathBuf>,
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct SimulateCmd {
    /// The candidate playbook.
    #[arg(long, value_name = "CANDIDATE.toml")]
    pub policy: PathBuf,
    /// Only drafts and events recorded since this day (YYYY-MM-DD) or time
    /// (RFC 3339).
    #[arg(long, value_name = "DATE")]
    pub since: Option<String>,
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct ExplainCmd {
    /// The draft's id.
    pub draft_id: String,
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct GraduationCmd {
    /// Count sends since this day (YYYY-MM-DD) or time (RFC 3339); default
    /// the last 90 days.
    #[arg(long, value_name = "DATE")]
    pub since: Option<String>,
    /// Report only: record no demotion.
    #[arg(long)]
    pub dry_run: bool,
    #[arg(long)]
    pub json: bool,
}

/// A `--since` value: a day (midnight UTC) or an RFC 3339 time.
pub fn parse_since(value: &str) -> Result<chrono::DateTime<chrono::Utc>> {
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(value) {
        return Ok(t.with_timezone(&chrono::Utc));
    }
    chrono::NaiveDate::parse_from_str(value, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|t| t.and_utc())
        .with_context(|| {
            format!("--since {value:?} is not a date: write YYYY-MM-DD (e.g. 2026-11-01) or an RFC 3339 time")
        })
}

impl Cmd {
    pub async fn run(self, global: &GlobalArgs) -> Result<ExitCode> {
        match self {
            Cmd::Check(cmd) => cmd.run(global),
            Cmd::Test(cmd) => super::policy_test::run(cmd, global),
            Cmd::Simulate(cmd) => super::policy_simulate::run(cmd, global).await,
            Cmd::Explain(cmd) => super::policy_explain::run(cmd, global).await,
            Cmd::Graduation(cmd) => super::policy_graduation::run(cmd, global).await,
        }
    }
}

impl CheckCmd {
    fn run(self, global: &GlobalArgs) -> Result<ExitCode> {
        let path = self.file.unwrap_or_else(|| global.playbook.clone());
        let text = std::fs::read_to_string(&path).with_context(|| {
            format!(
                "cannot read the playbook {}: create one with `handoff init`, or pass --playbook FILE",
                path.display()
            )
        })?;
        let checked = playbook::check(&text, &path.display().to_string());
        let diagnostics = &checked.diagnostics;
        match &checked.playbook {
            Some(playbook) => {
                let version = playbook.policy_version();
                if self.json {
                    crate::output::print_json(&json!({
                        "file": path.display().to_string(),
                        "valid": true,
                        "policy_version": version,
                        "diagnostics": diagnostics.0,
                    }))?;
                } else {
                    for d in diagnostics.iter() {
                        println!("{d}");
                    }
                    if !diagnostics.is_empty() {
                        println!();
                    }
                    let warnings = match diagnostics.warning_count() {
                        0 => String::new(),
                        count => format!(", with {count} warning(s) above"),
                    };
                    println!(
                        "{} is valid{warnings}: policy version {}, {} sequence(s), {} content rule(s), {} escalation rule(s), {} mailbox(es), model backend {}.",
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
            None => {
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
                    let warnings = match diagnostics.warning_count() {
                        0 => String::new(),
                        count => format!(", and {count} warning(s)"),
                    };
                    println!(
                        "{} problem(s) in {}{warnings}.",
                        diagnostics.error_count(),
                        path.display()
                    );
                }
                Ok(ExitCode::FAILURE)
            }
        }
    }
}
