//! `handoff policy explain DRAFT_ID`: the rules that fired on a draft, on
//! which text, under which policy version, and what people did next.

use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use serde_json::{Value, json};

use handoff_domain::{DraftId, Event};

use super::policy::ExplainCmd;
use crate::settings::{GlobalArgs, Settings};
use crate::store::{self, Migrate};

/// The words around a finding, with the finding in [brackets].
fn excerpt(text: &str, start: usize, end: usize) -> String {
    let (Some(before), Some(found), Some(after)) =
        (text.get(..start), text.get(start..end), text.get(end..))
    else {
        return String::new();
    };
    let before: String = before
        .chars()
        .rev()
        .take(30)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect();
    let after: String = after.chars().take(30).collect();
    format!("…{before}[{found}]{after}…").replace('\n', " ")
}

pub async fn run(cmd: ExplainCmd, global: &GlobalArgs) -> Result<ExitCode> {
    let id: DraftId = cmd.draft_id.parse().ok().with_context(|| {
        format!(
            "{:?} is not a draft id (a UUID, as `handoff ledger tail --kind draft_created` shows)",
            cmd.draft_id
        )
    })?;
    let settings = Settings::load(global)?;
    let store = store::open(&settings, Migrate::OnOpen).await?;
    let Some(draft) = store.draft_record(id).await? else {
        bail!("there is no draft {id}: `handoff ledger tail --kind draft_created` lists drafts");
    };
    let history = store.draft_history(id).await?;
    let current_version = super::read_playbook(&settings.playbook_path)
        .ok()
        .and_then(|p| p.ok())
        .map(|p| p.policy_version().to_string());

    if cmd.json {
        crate::output::print_json(&json!({
            "draft": draft,
            "current_policy_version": current_version,
            "history": history,
        }))?;
        return Ok(ExitCode::SUCCESS);
    }

    let d = &draft.draft;
    println!(
        "Draft {} to contact {} ({} draft, step {})",
        d.id,
        d.contact_id,
        d.author.as_str(),
        d.step_index + 1
    );
    println!(
        "  written under {}, sequence type {}",
        d.policy_version,
        draft.sequence_type.as_deref().unwrap_or("none")
    );
    println!("  subject: {}", d.subject);
    if history.is_empty() {
        println!("  nothing recorded about it yet");
    }
    for entry in &history {
        let when = entry.at.format("%Y-%m-%d %H:%M:%S UTC");
        let version = entry
            .policy_version
            .as_ref()
            .map(|v| v.to_string())
            .unwrap_or_else(|| "no policy".into());
        match &entry.event {
            Event::DraftEvaluated {
                verdict,
                evaluation,
                ..
            } => {
                println!(
                    "{when}  judged {verdict} under {version} (by {})",
                    entry.actor
                );
                print_evaluation(evaluation, &d.subject, &d.body);
                if current_version.as_deref().is_some_and(|v| v != version) {
                    println!(
                        "    (the playbook has changed since: now {}; `handoff policy simulate` shows what it would say)",
                        current_version.as_deref().unwrap_or("?")
                    );
                }
            }
            other => {
                println!(
                    "{when}  {} by {}: {}",
                    entry.kind,
                    entry.actor,
                    other.summary()
                );
            }
        }
    }
    if let Some(distance) = draft.edit_distance {
        println!(
            "  the sent text differs from the draft by {:.0}% (normalised edit distance {distance:.2})",
            distance * 100.0
        );
    }
    Ok(ExitCode::SUCCESS)
}

fn print_evaluation(evaluation: &Value, subject: &str, body: &str) {
    let because = evaluation
        .get("because")
        .and_then(Value::as_array)
        .map(|b| {
            b.iter()
                .filter_map(Value::as_str)
                .collect::<Vec<_>>()
                .join(", ")
        });
    if let Some(because) = because.filter(|b| !b.is_empty()) {
        println!("    because: {because}");
    }
    for finding in evaluation
        .get("findings")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let field = finding
            .get("field")
            .and_then(Value::as_str)
            .unwrap_or("body");
        let start = finding.get("start").and_then(Value::as_u64).unwrap_or(0) as usize;
        let end = finding.get("end").and_then(Value::as_u64).unwrap_or(0) as usize;
        let text = if field == "subject" { subject } else { body };
        println!(
            "    {} {} in the {field} at bytes {start}..{end}: {}  — {}",
            finding
                .get("severity")
                .and_then(Value::as_str)
                .unwrap_or("?"),
            finding
                .get("rule_id")
                .and_then(Value::as_str)
                .unwrap_or("?"),
            excerpt(text, start, end),
            finding.get("message").and_then(Value::as_str).unwrap_or(""),
        );
    }
    for grounded in evaluation
        .get("grounded")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        println!(
            "    allowed: {} (grounded in {})",
            grounded
                .get("rule_id")
                .and_then(Value::as_str)
                .unwrap_or("?"),
            grounded.get("cited").and_then(Value::as_str).unwrap_or("?"),
        );
    }
    for escalation in evaluation
        .get("escalations")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        println!(
            "    escalation {} ({}): {}",
            escalation
                .get("rule_id")
                .and_then(Value::as_str)
                .unwrap_or("?"),
            escalation
                .get("priority")
                .and_then(Value::as_str)
                .unwrap_or("normal"),
            escalation
                .get("reason")
                .and_then(Value::as_str)
                .unwrap_or(""),
        );
    }
    if evaluation.get("qa_sampled").and_then(Value::as_bool) == Some(true) {
        println!("    picked for QA: a person checks it after it is sent");
    }
}
