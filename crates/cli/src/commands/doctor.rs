//! `handoff doctor`: one line per check, a verdict each, non-zero exit if
//! anything is wrong.

use std::path::Path;
use std::process::ExitCode;

use anyhow::Result;
use clap::Args;
use serde::Serialize;

use handoff_domain::jobs::JobState;
use handoff_domain::playbook::{Backend, Playbook};

use handoff_store_sqlite::SqliteStore;

use crate::settings::{GlobalArgs, ProcessEnv, Settings, resolve_secret};
use crate::store;

#[derive(Debug, Args)]
pub struct Cmd {
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
enum Verdict {
    Ok,
    Warn,
    Fail,
}

#[derive(Debug, Serialize)]
struct Check {
    check: String,
    verdict: Verdict,
    detail: String,
}

#[derive(Debug, Default)]
struct Report(Vec<Check>);

impl Report {
    fn add(&mut self, check: impl Into<String>, verdict: Verdict, detail: impl Into<String>) {
        self.0.push(Check {
            check: check.into(),
            verdict,
            detail: detail.into(),
        });
    }
}

impl Cmd {
    pub async fn run(self, global: &GlobalArgs) -> Result<ExitCode> {
        let mut report = Report::default();
        let settings = Settings::load(global)?;

        let playbook = check_playbook(&mut report, &settings.playbook_path);
        check_database(&mut report, &settings).await;
        if let Some(playbook) = &playbook {
            check_mailboxes(&mut report, playbook, &settings.base_dir);
            check_model(&mut report, playbook, &settings.base_dir);
        }

        let failed = report.0.iter().any(|c| c.verdict == Verdict::Fail);
        if self.json {
            crate::output::print_json(
                &serde_json::json!({ "healthy": !failed, "checks": report.0 }),
            )?;
        } else {
            let mut table = crate::output::table(&["check", "verdict", "detail"]);
            for c in &report.0 {
                let verdict = match c.verdict {
                    Verdict::Ok => "ok",
                    Verdict::Warn => "warn",
                    Verdict::Fail => "FAIL",
                };
                table.add_row(vec![c.check.clone(), verdict.to_string(), c.detail.clone()]);
            }
            println!("{table}");
            if failed {
                println!("Something needs fixing: see the FAIL lines above.");
            } else {
                println!("All good.");
            }
        }
        Ok(if failed {
            ExitCode::FAILURE
        } else {
            ExitCode::SUCCESS
        })
    }
}

fn check_playbook(report: &mut Report, path: &Path) -> Option<Playbook> {
    match super::read_playbook(path) {
        Err(e) => {
            report.add("playbook", Verdict::Fail, format!("{e:#}"));
            None
        }
        Ok(Err(diagnostics)) => {
            let first = diagnostics
                .iter()
                .next()
                .map(|d| d.to_string())
                .unwrap_or_default();
            let first = first.lines().next().unwrap_or_default().to_string();
            report.add(
                "playbook",
                Verdict::Fail,
                format!(
                    "{} problem(s), first: {first} (run `handoff policy check` for all)",
                    diagnostics.len()
                ),
            );
            None
        }
        Ok(Ok(playbook)) => {
            report.add(
                "playbook",
                Verdict::Ok,
                format!(
                    "{} is valid, policy version {}",
                    path.display(),
                    playbook.policy_version()
                ),
            );
            Some(playbook)
        }
    }
}

async fn check_database(report: &mut Report, settings: &Settings) {
    // Looking must not create: opening a missing SQLite file would make an
    // empty database and hide the real problem.
    let sqlite_path = (settings.database_url.scheme() == "sqlite")
        .then(|| {
            SqliteStore::path_from_url(settings.database_url.expose(), &settings.base_dir).ok()
        })
        .flatten();
    if let Some(path) = sqlite_path.filter(|p| !p.exists()) {
        report.add(
            "database reachable",
            Verdict::Fail,
            format!(
                "no database at {} ({}): run `handoff init` or `handoff migrate`",
                path.display(),
                settings.database_source
            ),
        );
        return;
    }
    let opened = match store::connect(settings).await {
        Ok(store) => {
            report.add(
                "database reachable",
                Verdict::Ok,
                format!(
                    "{} ({}, from {})",
                    settings.database_url,
                    store.backend(),
                    settings.database_source
                ),
            );
            store
        }
        Err(e) => {
            report.add("database reachable", Verdict::Fail, e.to_string());
            return;
        }
    };
    match opened.schema_status().await {
        Ok(status) if status.is_current() => report.add(
            "database migrated",
            Verdict::Ok,
            format!("schema version {}", status.database_version),
        ),
        Ok(status) if status.database_version > status.binary_version => report.add(
            "database migrated",
            Verdict::Fail,
            format!(
                "schema version {} is newer than this binary knows ({}): upgrade handoff",
                status.database_version, status.binary_version
            ),
        ),
        Ok(status) => report.add(
            "database migrated",
            Verdict::Fail,
            format!(
                "schema version {} of {}: run `handoff migrate`",
                status.database_version, status.binary_version
            ),
        ),
        Err(e) => {
            report.add("database migrated", Verdict::Fail, e.to_string());
            return;
        }
    }
    match opened.count_by_kind().await {
        Ok(counts) => {
            let total: u64 = counts.iter().map(|(_, n)| n).sum();
            report.add("ledger", Verdict::Ok, format!("{total} entries"));
        }
        Err(e) => report.add("ledger", Verdict::Fail, e.to_string()),
    }
    match opened.job_counts().await {
        Ok(counts) => {
            let dead: u64 = counts
                .iter()
                .filter(|c| c.state == JobState::Dead)
                .map(|c| c.count)
                .sum();
            if dead > 0 {
                report.add(
                    "work queue",
                    Verdict::Warn,
                    format!("{dead} dead job(s) need a person: `handoff jobs list --state dead`"),
                );
            } else {
                let open: u64 = counts
                    .iter()
                    .filter(|c| matches!(c.state, JobState::Queued | JobState::Running))
                    .map(|c| c.count)
                    .sum();
                report.add(
                    "work queue",
                    Verdict::Ok,
                    format!("{open} job(s) queued or running, none dead"),
                );
            }
        }
        Err(e) => report.add("work queue", Verdict::Fail, e.to_string()),
    }
}

fn check_mailboxes(report: &mut Report, playbook: &Playbook, base_dir: &Path) {
    if playbook.mailboxes.is_empty() {
        report.add(
            "mailboxes",
            Verdict::Fail,
            "no [[mailbox]] in the playbook: add one so messages have a sender",
        );
        return;
    }
    for mailbox in &playbook.mailboxes {
        let name = format!("mailbox {}", mailbox.address);
        if let Some(dkim) = &mailbox.dkim {
            let settings = handoff_mail::outbound::DkimSettings {
                domain: dkim.domain.clone(),
                selector: dkim.selector.clone(),
                key_file: base_dir.join(&dkim.key_file),
            };
            match handoff_mail::outbound::DkimSigner::from_settings(&settings) {
                Ok(signer) => report.add(
                    format!("{name} DKIM"),
                    Verdict::Ok,
                    format!(
                        "{} signing as {}; publish this TXT record there: {}",
                        signer.algorithm(),
                        signer.dns_name(),
                        signer.dns_record()
                    ),
                ),
                Err(e) => report.add(format!("{name} DKIM"), Verdict::Fail, e.to_string()),
            }
        }
        match &mailbox.smtp {
            None => report.add(
                name,
                Verdict::Ok,
                "no SMTP configured: messages go to the file outbox (one .eml each)",
            ),
            Some(smtp) => match &smtp.password {
                None => report.add(
                    name,
                    Verdict::Warn,
                    format!(
                        "SMTP {}:{} without a password: fine only for relays that need none",
                        smtp.host, smtp.port
                    ),
                ),
                Some(source) => match resolve_secret(&ProcessEnv, source, base_dir) {
                    Ok(_) => report.add(
                        name,
                        Verdict::Ok,
                        format!(
                            "SMTP {}:{} ({:?}), password found",
                            smtp.host, smtp.port, smtp.tls
                        ),
                    ),
                    Err(why) => {
                        report.add(name, Verdict::Fail, format!("SMTP password missing: {why}"))
                    }
                },
            },
        }
    }
}

fn check_model(report: &mut Report, playbook: &Playbook, base_dir: &Path) {
    let model = &playbook.model;
    match model.backend {
        Backend::Template => report.add(
            "model",
            Verdict::Ok,
            "template drafter: grounded drafts from the content center, no model needed",
        ),
        Backend::Openai | Backend::Anthropic => {
            let mut missing = Vec::new();
            if model.model.is_none() {
                missing.push("`model` is not set".to_string());
            }
            match &model.api_key {
                None => missing.push("no api_key_env or api_key_file".to_string()),
                Some(source) => {
                    if let Err(why) = resolve_secret(&ProcessEnv, source, base_dir) {
                        missing.push(format!("API key: {why}"));
                    }
                }
            }
            if missing.is_empty() {
                report.add(
                    "model",
                    Verdict::Ok,
                    format!("{:?} backend configured, API key found", model.backend),
                );
            } else {
                report.add("model", Verdict::Fail, missing.join("; "));
            }
        }
        Backend::Local => match &model.model_path {
            Some(path) if base_dir.join(path).is_file() => {
                report.add("model", Verdict::Ok, format!("local GGUF model at {path}"))
            }
            Some(path) => report.add(
                "model",
                Verdict::Fail,
                format!("local model file {path} does not exist"),
            ),
            None => report.add(
                "model",
                Verdict::Fail,
                "backend = \"local\" needs model_path = \"PATH.gguf\"",
            ),
        },
    }
}
