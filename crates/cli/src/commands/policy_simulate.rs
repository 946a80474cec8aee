//! `handoff policy simulate --policy CANDIDATE.toml`: the recorded drafts
//! and events replayed through the candidate and the current playbook,
//! side by side.

use std::process::ExitCode;

use anyhow::{Result, anyhow};
use serde_json::json;

use handoff_domain::policy::Policy;
use handoff_domain::policy::replay::{Side, compare};
use handoff_engine::governance::{effective_policy, replay};

use super::policy::{SimulateCmd, parse_since};
use crate::settings::{GlobalArgs, Settings};
use crate::store::{self, Migrate};

fn percent(share: Option<f64>) -> String {
    share.map_or_else(|| "–".to_string(), |s| format!("{:.1}%", s * 100.0))
}

fn rows(s: &Side) -> [String; 6] {
    [
        format!("{}", s.drafts),
        format!("{}", s.events),
        format!(
            "{} ({} drafts, {} events)",
            percent(s.escalation_rate),
            s.escalated_drafts,
            s.escalated_events
        ),
        format!("{} ({})", percent(s.qa_pass_rate), s.qa_passed),
        format!(
            "{} ({})",
            percent(s.needing_approval_share),
            s.needing_approval
        ),
        format!("{}", s.blocked),
    ]
}

pub async fn run(cmd: SimulateCmd, global: &GlobalArgs) -> Result<ExitCode> {
    let since = cmd.since.as_deref().map(parse_since).transpose()?;
    let settings = Settings::load(global)?;
    let current_book = super::load_playbook(&settings.playbook_path)?;
    let candidate_book = super::load_playbook(&cmd.policy)?;
    let candidate =
        Policy::compile(&candidate_book).map_err(|e| anyhow!("{}: {e}", cmd.policy.display()))?;
    let store = store::open(&settings, Migrate::OnOpen).await?;
    let current = effective_policy(store.as_ref(), &current_book).await?;
    let (drafts, events) = replay(store.as_ref(), &current, &candidate, since).await?;
    let comparison = compare(&drafts, &events);

    if cmd.json {
        crate::output::print_json(&json!({
            "current": { "playbook": settings.playbook_path.display().to_string(), "policy_version": current_book.policy_version() },
            "candidate": { "playbook": cmd.policy.display().to_string(), "policy_version": candidate_book.policy_version() },
            "since": since,
            "comparison": comparison,
        }))?;
        return Ok(ExitCode::SUCCESS);
    }

    println!(
        "Replayed {} draft(s) and {} event(s){} on the facts recorded with them.",
        drafts.len(),
        events.len(),
        since
            .map(|s| format!(" since {}", s.format("%Y-%m-%d %H:%M UTC")))
            .unwrap_or_default()
    );
    let mut table = crate::output::table(&[
        "",
        &format!("current ({})", current_book.policy_version()),
        &format!("candidate ({})", candidate_book.policy_version()),
    ]);
    let labels = [
        "drafts",
        "events",
        "escalation rate",
        "QA pass rate (no block/review finding)",
        "needing approval",
        "blocked",
    ];
    let (a, b) = (rows(&comparison.current), rows(&comparison.candidate));
    for (i, label) in labels.iter().enumerate() {
        table.add_row(vec![label.to_string(), a[i].clone(), b[i].clone()]);
    }
    table.add_row(vec![
        "past sends the candidate would have blocked".to_string(),
        "–".to_string(),
        comparison.past_sends_blocked.to_string(),
    ]);
    println!("{table}");
    println!(
        "{} draft verdict(s) and {} event escalation(s) change.",
        comparison.drafts_changed, comparison.events_changed
    );
    if !comparison.top_changes.is_empty() {
        let mut changes = crate::output::table(&[
            "draft",
            "subject",
            "current",
            "candidate",
            "rule responsible",
            "sent",
        ]);
        for c in &comparison.top_changes {
            changes.add_row(vec![
                c.draft_id.clone(),
                c.subject.chars().take(48).collect::<String>(),
                c.current.to_string(),
                format!("{} ({})", c.candidate, c.direction),
                c.rule.clone().unwrap_or_else(|| "–".into()),
                if c.sent { "yes" } else { "no" }.to_string(),
            ]);
        }
        println!("The drafts whose verdict changes most:");
        println!("{changes}");
    }
    Ok(ExitCode::SUCCESS)
}
