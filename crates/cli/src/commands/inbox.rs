//! `handoff inbox list|take|hand-back|resolve`: the escalation inbox. The
//! rules are `handoff_engine::inbox`'s; this file reads arguments and
//! prints.

use std::process::ExitCode;

use anyhow::{Context, Result};
use chrono::{DateTime, Utc};
use clap::{Args, Subcommand};
use serde_json::{Value, json};

use handoff_domain::users::Username;
use handoff_domain::{Actor, EscalationId};
use handoff_engine::inbox::{self, HandBackTarget, InboxQuery};
use handoff_store::{CommandContext, InboxItem};

use crate::settings::{GlobalArgs, Settings};
use crate::store::{self, Migrate};

#[derive(Debug, Subcommand)]
pub enum Cmd {
    /// Open tasks, most urgent first, then by due time.
    List(ListCmd),
    /// Take the task's prospect over: automation stops for them and they
    /// are yours until you hand them back.
    Take(TakeCmd),
    /// Return a prospect you took over to AI, with a note. Their stopped
    /// enrolments stay stopped: enrol them again if AI should write to them.
    HandBack(HandBackCmd),
    /// Close a task, saying what was done.
    Resolve(ResolveCmd),
}

#[derive(Debug, Args)]
pub struct ListCmd {
    /// Only your tasks (HANDOFF_USER's).
    #[arg(long, conflicts_with = "assignee")]
    mine: bool,
    /// Only this user's tasks.
    #[arg(long)]
    assignee: Option<String>,
    /// Only tasks past their due time.
    #[arg(long)]
    overdue: bool,
    /// Also list-building approvals (normally `handoff approvals list`).
    #[arg(long)]
    approvals: bool,
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Args)]
pub struct TakeCmd {
    id: String,
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Args)]
pub struct HandBackCmd {
    /// A task id, or the prospect (contact id or email address).
    target: String,
    /// For whoever picks the prospect up next (kept in the ledger).
    #[arg(long)]
    note: String,
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Args)]
pub struct ResolveCmd {
    id: String,
    /// What was done.
    #[arg(long)]
    resolution: String,
    #[arg(long)]
    json: bool,
}

fn parse_task(raw: &str) -> Result<EscalationId> {
    raw.parse().ok().with_context(|| {
        format!("{raw:?} is not a task id (a UUID, as `handoff inbox list` shows)")
    })
}

fn operator() -> Result<Username> {
    let user = super::init::operator();
    Username::parse(&user).map_err(|e| {
        anyhow::anyhow!(
            "HANDOFF_USER `{user}` is not a usable user name ({e}): set it to your handoff user"
        )
    })
}

fn when(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M UTC").to_string()
}

/// A signal in one phrase: its kind, and a URL or label if it has one.
fn signal_text(signal: &Value) -> String {
    let kind = signal
        .get("kind")
        .and_then(Value::as_str)
        .unwrap_or("event");
    let detail = ["url", "label", "summary", "subject"]
        .iter()
        .find_map(|k| signal.get(*k).and_then(Value::as_str));
    match detail {
        Some(d) => format!("{kind}: {d}"),
        None => kind.to_string(),
    }
}

impl Cmd {
    pub async fn run(self, global: &GlobalArgs) -> Result<ExitCode> {
        let settings = Settings::load(global)?;
        let store = store::open(&settings, Migrate::OnOpen).await?;
        let policy = super::read_playbook(&settings.playbook_path)
            .ok()
            .and_then(|p| p.ok())
            .map(|p| p.policy_version());
        let ctx = |who: &Username| CommandContext::new(Actor::human(who.as_str()), policy.clone());
        let store = store.as_ref();
        match self {
            Cmd::List(cmd) => {
                let assignee = match (&cmd.assignee, cmd.mine) {
                    (_, true) => Some(operator()?),
                    (Some(raw), false) => {
                        Some(Username::parse(raw).map_err(|e| anyhow::anyhow!("--assignee: {e}"))?)
                    }
                    (None, false) => None,
                };
                let now = Utc::now();
                let items = inbox::list(
                    store,
                    &InboxQuery {
                        assignee,
                        overdue: cmd.overdue,
                        include_approvals: cmd.approvals,
                    },
                    now,
                )
                .await?;
                if cmd.json {
                    let listed: Vec<Value> = items
                        .iter()
                        .map(|i| {
                            let mut v = serde_json::to_value(i).unwrap_or(Value::Null);
                            v["overdue"] = json!(inbox::is_overdue(i, now));
                            v
                        })
                        .collect();
                    crate::output::print_json(&listed)?;
                } else if items.is_empty() {
                    println!(
                        "No open task{}.",
                        if cmd.overdue { " is overdue" } else { "" }
                    );
                } else {
                    print_list(&items, now);
                }
            }
            Cmd::Take(cmd) => {
                let by = operator()?;
                let id = parse_task(&cmd.id)?;
                let taken = inbox::take(store, &ctx(&by), id, &by).await?;
                if cmd.json {
                    crate::output::print_json(&taken)?;
                } else {
                    println!(
                        "You took over {}: automation stopped for them ({} enrolment(s) stopped). They are yours until you hand them back (`handoff inbox hand-back {id} --note …`).",
                        taken
                            .item
                            .contact_email
                            .as_ref()
                            .map(|e| e.to_string())
                            .unwrap_or_else(|| "the prospect".into()),
                        taken.enrollments_stopped
                    );
                }
            }
            Cmd::HandBack(cmd) => {
                let by = operator()?;
                let target = match cmd.target.parse::<EscalationId>() {
                    Ok(id) if store.inbox_item(id).await?.is_some() => HandBackTarget::Task(id),
                    _ => HandBackTarget::Contact(
                        super::resolve_contact(store, &cmd.target)
                            .await
                            .with_context(|| {
                                format!("{:?} is neither a task nor a prospect", cmd.target)
                            })?,
                    ),
                };
                let back = inbox::hand_back(store, &ctx(&by), target, &by, &cmd.note).await?;
                if cmd.json {
                    crate::output::print_json(&back)?;
                } else {
                    println!(
                        "Handed back to AI with your note{}.",
                        if back.resolved.is_empty() {
                            String::new()
                        } else {
                            format!("; {} task(s) resolved", back.resolved.len())
                        }
                    );
                    if back.still_stopped > 0 {
                        println!(
                            "Their {} stopped enrolment(s) stay stopped: nothing is sent until someone enrols them again (`handoff enroll`).",
                            back.still_stopped
                        );
                    }
                }
            }
            Cmd::Resolve(cmd) => {
                let by = operator()?;
                let id = parse_task(&cmd.id)?;
                let resolved = inbox::resolve(store, &ctx(&by), id, &cmd.resolution).await?;
                if cmd.json {
                    crate::output::print_json(&resolved)?;
                } else {
                    println!("Resolved {id}: {}.", cmd.resolution.trim());
                }
            }
        }
        Ok(ExitCode::SUCCESS)
    }
}

fn print_list(items: &[InboxItem], now: DateTime<Utc>) {
    let mut table = crate::output::table(&[
        "id", "priority", "due", "prospect", "why", "rule", "signal", "assignee",
    ]);
    for item in items {
        let e = &item.escalation;
        let due = match e.due_at {
            Some(d) if inbox::is_overdue(item, now) => format!("{} OVERDUE", when(d)),
            Some(d) => when(d),
            None => String::new(),
        };
        let mut assignee = e
            .assignee
            .as_ref()
            .map(|a| a.to_string())
            .unwrap_or_else(|| "nobody".into());
        if let Some(from) = &item.escalated_from {
            assignee.push_str(&format!(" (from {from}, overdue)"));
        }
        let mut prospect = item
            .contact_email
            .as_ref()
            .map(|e| e.to_string())
            .unwrap_or_default();
        if let Some(owner) = &item.human_owner {
            prospect.push_str(&format!(" (taken by {owner})"));
        }
        let mut why = e.reason.clone();
        if let Some(draft) = item.draft_id {
            why.push_str(&format!(" (draft {draft})"));
        }
        if let Some(sequence) = &item.approval_for {
            why.push_str(&format!(" (approval for {sequence})"));
        }
        table.add_row(vec![
            e.id.to_string(),
            e.priority.as_str().to_string(),
            due,
            prospect,
            why,
            format!("{} ({})", e.rule_id, e.stage),
            item.signal.as_ref().map(signal_text).unwrap_or_default(),
            assignee,
        ]);
    }
    println!("{table}");
    let overdue = items.iter().filter(|i| inbox::is_overdue(i, now)).count();
    println!("{} open task(s), {overdue} overdue.", items.len());
}
