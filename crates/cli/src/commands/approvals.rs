//! `handoff approvals list|approve|reject`: the list-building gate.

use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::{Args, Subcommand};

use handoff_domain::users::Username;
use handoff_domain::{Actor, EscalationId};
use handoff_store::{ApprovalDecision, CommandContext};

use crate::settings::{GlobalArgs, Settings};
use crate::store::{self, Migrate};

#[derive(Debug, Subcommand)]
pub enum Cmd {
    /// Contacts waiting for a person before enrolment.
    List(ListCmd),
    /// Enrol the contact (the address must be verified).
    Approve(ApproveCmd),
    /// Keep the contact out of the sequence.
    Reject(RejectCmd),
}

#[derive(Debug, Args)]
pub struct ListCmd {
    /// Only approvals assigned to this user.
    #[arg(long)]
    assignee: Option<String>,
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Args)]
pub struct ApproveCmd {
    id: String,
    /// Also allow a `risky` address (recorded as your decision).
    #[arg(long)]
    allow_risky: bool,
}

#[derive(Debug, Args)]
pub struct RejectCmd {
    id: String,
    #[arg(long)]
    reason: String,
}

fn parse_id(raw: &str) -> Result<EscalationId> {
    raw.parse()
        .context("an approval id looks like the ones `handoff approvals list` shows")
}

impl Cmd {
    pub async fn run(self, global: &GlobalArgs) -> Result<ExitCode> {
        let settings = Settings::load(global)?;
        let store = store::open(&settings, Migrate::OnOpen).await?;
        let policy = super::read_playbook(&settings.playbook_path)
            .ok()
            .and_then(|p| p.ok())
            .map(|p| p.policy_version());
        let ctx = CommandContext::new(Actor::human(&super::init::operator()), policy);
        match self {
            Cmd::List(cmd) => {
                let assignee = cmd
                    .assignee
                    .as_deref()
                    .map(Username::parse)
                    .transpose()
                    .map_err(anyhow::Error::msg)?;
                let pending = store.pending_approvals(assignee.as_ref()).await?;
                if cmd.json {
                    crate::output::print_json(&pending)?;
                } else if pending.is_empty() {
                    println!("Nothing waits for approval.");
                } else {
                    let mut table = crate::output::table(&[
                        "id", "contact", "sequence", "rule", "why", "assignee", "since",
                    ]);
                    for p in pending {
                        let contact = match p.escalation.contact_id {
                            Some(id) => store
                                .get_contact(id)
                                .await?
                                .map(|c| c.email.to_string())
                                .unwrap_or_default(),
                            None => String::new(),
                        };
                        table.add_row(vec![
                            p.escalation.id.to_string(),
                            contact,
                            p.sequence,
                            p.escalation.rule_id,
                            p.escalation.reason,
                            p.escalation
                                .assignee
                                .map(|a| a.to_string())
                                .unwrap_or_default(),
                            p.escalation.created_at.format("%Y-%m-%d %H:%M").to_string(),
                        ]);
                    }
                    println!("{table}");
                }
            }
            Cmd::Approve(cmd) => {
                let id = parse_id(&cmd.id)?;
                let enrollment = store
                    .decide_approval(
                        &ctx,
                        id,
                        &ApprovalDecision::Approve {
                            allow_risky: cmd.allow_risky,
                        },
                    )
                    .await?;
                if let Some(e) = enrollment {
                    println!(
                        "Approved: contact {} is enrolled in {}.",
                        e.contact_id, e.sequence
                    );
                }
            }
            Cmd::Reject(cmd) => {
                let id = parse_id(&cmd.id)?;
                store
                    .decide_approval(
                        &ctx,
                        id,
                        &ApprovalDecision::Reject {
                            reason: cmd.reason.clone(),
                        },
                    )
                    .await?;
                println!("Rejected: {}.", cmd.reason);
            }
        }
        Ok(ExitCode::SUCCESS)
    }
}
