//! `handoff import FILE.csv`: contacts and accounts from Apollo, HubSpot,
//! Salesforce or any CSV.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context, Result};
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};

use handoff_domain::Actor;
use handoff_domain::import::ImportFormat;
use handoff_domain::playbook::Playbook;
use handoff_domain::users::Username;
use handoff_engine::list_building::import::{ImportOptions, import_file};
use handoff_engine::list_building::lookalike;
use handoff_engine::list_building::score::ImportAssessor;
use handoff_store::CommandContext;
use handoff_store::import_plan::Assess;

use crate::settings::{GlobalArgs, Settings};
use crate::store::{self, Migrate};

#[derive(Debug, Args)]
pub struct Cmd {
    /// The CSV file (UTF-8 with or without BOM, or Windows-1252; `,` `;` or tab).
    file: PathBuf,
    /// auto detects Apollo, HubSpot and Salesforce exports by their headers.
    #[arg(long, default_value = "auto")]
    format: String,
    /// Name a column for a field, e.g. --map email="Work Email" (repeatable).
    #[arg(long = "map", value_name = "FIELD=COLUMN")]
    map: Vec<String>,
    /// Owner of the new contacts.
    #[arg(long)]
    owner: Option<String>,
    /// Where rejected rows go (default: FILE.rejects.csv beside the input).
    #[arg(long)]
    rejects: Option<PathBuf>,
    /// Apply the file even if these exact bytes were imported before.
    #[arg(long)]
    force: bool,
    #[arg(long)]
    json: bool,
}

impl Cmd {
    pub async fn run(self, global: &GlobalArgs) -> Result<ExitCode> {
        let format = match self.format.as_str() {
            "auto" => None,
            other => Some(other.parse::<ImportFormat>().map_err(anyhow::Error::msg)?),
        };
        let owner = self
            .owner
            .as_deref()
            .map(Username::parse)
            .transpose()
            .map_err(anyhow::Error::msg)?;
        let settings = Settings::load(global)?;
        let store = store::open(&settings, Migrate::OnOpen).await?;
        if let Some(owner) = &owner
            && store.find_user(owner).await?.is_none()
        {
            anyhow::bail!(
                "--owner {owner}: no such user; add them with `handoff users add {owner}`"
            );
        }
        let playbook = super::read_playbook(&settings.playbook_path)
            .ok()
            .and_then(|p| p.ok());
        let policy = playbook.as_ref().map(|p| p.policy_version());
        let ctx = CommandContext::new(Actor::human(&super::init::operator()), policy);
        let assess = match &playbook {
            Some(playbook) => assessor(playbook, &settings.playbook_path)?,
            None => None,
        };
        let assessed = assess.is_some();
        let size = std::fs::metadata(&self.file)
            .with_context(|| format!("cannot read {}", self.file.display()))?
            .len();
        let bar = if self.json {
            ProgressBar::hidden()
        } else {
            ProgressBar::new(size)
        };
        bar.set_style(
            ProgressStyle::with_template(
                "{spinner} importing [{bar:30}] {bytes}/{total_bytes} {msg}",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        let progress = |bytes: u64, rows: u64| {
            bar.set_position(bytes);
            bar.set_message(format!("{rows} rows"));
        };
        let options = ImportOptions {
            format,
            map: self.map,
            owner,
            rejects: self.rejects,
            force: self.force,
            assess,
            ..ImportOptions::default()
        };
        let report = import_file(store.as_ref(), &ctx, &self.file, &options, &progress).await;
        bar.finish_and_clear();
        let report = report?;
        if self.json {
            crate::output::print_json(&report)?;
            return Ok(ExitCode::SUCCESS);
        }
        if let Some(previous) = &report.already_imported {
            println!(
                "{} was already imported on {} (import {}): nothing to do. Pass --force to apply it again.",
                report.file,
                previous.started_at.format("%Y-%m-%d %H:%M UTC"),
                previous.id
            );
            return Ok(ExitCode::SUCCESS);
        }
        println!(
            "{} ({} format, {:?}, delimiter {:?})",
            report.file, report.format, report.encoding, report.delimiter
        );
        let mut table = crate::output::table(&[
            "rows",
            "imported",
            "merged",
            "unchanged",
            "rejected",
            "job changes",
            "new accounts",
        ]);
        table.add_row(vec![
            report.rows.to_string(),
            report.imported.to_string(),
            report.merged.to_string(),
            report.unchanged.to_string(),
            report.rejected.to_string(),
            report.job_changes.to_string(),
            report.accounts_created.to_string(),
        ]);
        println!("{table}");
        if report.warnings > 0 {
            println!(
                "{} unreadable cell(s) in good rows were left out (e.g. a non-numeric employee count).",
                report.warnings
            );
        }
        if let Some(path) = &report.rejects_file {
            println!("Rejected rows, with their row number, column and reason: {path}");
        }
        if assessed {
            println!(
                "Contacts were scored as they were imported; verify their addresses with `handoff verify --all` (then `handoff score` if a rule reads contact.verification)."
            );
        } else {
            println!("Contacts were not scored: run `handoff verify --all` and `handoff score`.");
        }
        Ok(ExitCode::SUCCESS)
    }
}

/// Verification and scoring for the import, from the playbook. None when
/// the won accounts come from a tag: the import itself could change them,
/// so scoring waits for `handoff score`.
fn assessor(playbook: &Playbook, playbook_path: &Path) -> Result<Option<Arc<dyn Assess>>> {
    let won = match &playbook.icp.lookalike {
        None => None,
        Some(lookalike) if lookalike.won_accounts.starts_with("tag:") => {
            return Ok(None);
        }
        Some(lookalike) => {
            let dir = playbook_path
                .parent()
                .filter(|p| !p.as_os_str().is_empty())
                .unwrap_or(Path::new("."));
            Some(lookalike::from_csv(&dir.join(&lookalike.won_accounts))?)
        }
    };
    Ok(Some(Arc::new(
        ImportAssessor::new(playbook, won)?.scoring_only(),
    )))
}
