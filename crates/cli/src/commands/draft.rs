//! `handoff draft`: draft the due steps of every enrolment (`--due`), or
//! the current step of one contact's enrolments (`--contact`). Each draft
//! is judged by the governance policy, which decides where it lands.

use std::process::ExitCode;

use anyhow::{Context, Result};
use chrono::{DateTime, Utc};
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};

use handoff_domain::Actor;
use handoff_domain::enrollment::EnrollmentState;
use handoff_engine::drafting::{DraftSummary, Drafting, StepOutcome};
use handoff_engine::governance::effective_policy;
use handoff_store::CommandContext;

use crate::settings::{GlobalArgs, Settings};
use crate::store::{self, Migrate};

#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("which").required(true).args(["contact", "due"])))]
pub struct Cmd {
    /// One contact (id or email address): draft the current step of each of its enrolments.
    #[arg(long)]
    contact: Option<String>,
    /// Every enrolment whose next step is due.
    #[arg(long)]
    due: bool,
    /// With --contact: this step (1-based) instead of the current one.
    #[arg(long, requires = "contact")]
    step: Option<u32>,
    /// With --contact: only this sequence's enrolment.
    #[arg(long, requires = "contact")]
    sequence: Option<String>,
    /// The drafter: template, openai, anthropic or local (default: the playbook's [model]).
    #[arg(long)]
    backend: Option<String>,
    /// Treat this time as now (RFC 3339), for dry runs and tests.
    #[arg(long)]
    at: Option<String>,
    #[arg(long)]
    json: bool,
}

impl Cmd {
    pub async fn run(self, global: &GlobalArgs) -> Result<ExitCode> {
        let settings = Settings::load(global)?;
        let playbook = super::load_playbook(&settings.playbook_path)?;
        let playbook_dir = settings
            .playbook_path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(std::path::Path::new("."));
        let drafter = super::drafter(&playbook, playbook_dir, self.backend.as_deref())?;
        let store = store::open(&settings, Migrate::OnOpen).await?;
        let mut ctx = CommandContext::new(
            Actor::system(&format!("drafter:{}", drafter.backend())),
            Some(playbook.policy_version()),
        );
        if let Some(at) = &self.at {
            ctx.now = DateTime::parse_from_rfc3339(at)
                .with_context(|| format!("--at {at}: write a time like 2026-12-01T09:00:00Z"))?
                .with_timezone(&Utc);
        }
        let policy = effective_policy(store.as_ref(), &playbook).await?;
        let drafting = Drafting::new(&playbook, &policy);

        let mut summary = DraftSummary::default();
        if let Some(contact) = &self.contact {
            let id = super::resolve_contact(store.as_ref(), contact).await?;
            let enrollments: Vec<_> = store
                .list_enrollments(id)
                .await?
                .into_iter()
                .filter(|e| e.state == EnrollmentState::Active)
                .filter(|e| self.sequence.as_ref().is_none_or(|s| *s == e.sequence))
                .collect();
            if enrollments.is_empty() {
                anyhow::bail!(
                    "contact {contact} has no active enrolment{}: enrol them with `handoff enroll --sequence NAME`",
                    self.sequence
                        .as_ref()
                        .map(|s| format!(" in {s}"))
                        .unwrap_or_default()
                );
            }
            let step = match self.step {
                Some(0) => anyhow::bail!("--step counts from 1"),
                Some(n) => Some(n - 1),
                None => None,
            };
            for enrollment in &enrollments {
                let report = drafting
                    .draft_step(store.as_ref(), &ctx, drafter.as_ref(), enrollment, step)
                    .await?;
                summary.add(report);
            }
        } else {
            let bar = if self.json {
                ProgressBar::hidden()
            } else {
                ProgressBar::new_spinner()
            };
            bar.set_style(
                ProgressStyle::with_template(
                    "{spinner} drafting: {pos} enrolments checked ({per_sec})",
                )
                .unwrap_or_else(|_| ProgressStyle::default_spinner()),
            );
            let result = drafting
                .draft_due(store.as_ref(), &ctx, drafter.as_ref(), ctx.now, &|n| {
                    bar.set_position(n)
                })
                .await;
            bar.finish_and_clear();
            summary = result?;
        }
        if self.json {
            crate::output::print_json(&summary)?;
            return Ok(exit_code(&summary));
        }
        let mut table = crate::output::table(&["contact", "sequence", "step", "outcome", "detail"]);
        for report in &summary.steps {
            let (outcome, detail) = match &report.outcome {
                StepOutcome::Drafted {
                    draft_id,
                    verdict,
                    confidence,
                    ungrounded_claims,
                    ..
                } => (
                    format!("drafted: {verdict}"),
                    format!(
                        "draft {draft_id}, confidence {confidence:.2}{}",
                        if *ungrounded_claims > 0 {
                            format!(", {ungrounded_claims} ungrounded claim(s)")
                        } else {
                            String::new()
                        }
                    ),
                ),
                StepOutcome::Held { reason } => ("held".to_string(), reason.clone()),
                StepOutcome::Skipped { reason } => ("skipped".to_string(), reason.clone()),
                StepOutcome::Failed { reason } => ("failed".to_string(), reason.clone()),
            };
            table.add_row(vec![
                report.contact_id.to_string(),
                report.sequence.clone(),
                report.step.to_string(),
                outcome,
                detail,
            ]);
        }
        if !summary.steps.is_empty() {
            println!("{table}");
        }
        if self.contact.is_some() {
            for report in &summary.steps {
                if let StepOutcome::Drafted { draft_id, .. } = &report.outcome
                    && let Some(draft) = store.get_draft(*draft_id).await?
                {
                    println!("\n── {} step {} ──", report.sequence, report.step);
                    if !draft.subject.is_empty() {
                        println!("Subject: {}\n", draft.subject);
                    }
                    println!("{}", draft.body);
                }
            }
        }
        let verdicts: Vec<String> = summary
            .by_verdict
            .iter()
            .map(|(v, n)| format!("{n} {v}"))
            .collect();
        println!(
            "\n{} drafted{}, {} held for a person, {} skipped, {} failed.",
            summary.drafted,
            if verdicts.is_empty() {
                String::new()
            } else {
                format!(" ({})", verdicts.join(", "))
            },
            summary.held,
            summary.skipped,
            summary.failed
        );
        Ok(exit_code(&summary))
    }
}

/// A backend that failed every step it tried is an error for scripts.
fn exit_code(summary: &DraftSummary) -> ExitCode {
    if summary.failed > 0 && summary.drafted == 0 {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}
