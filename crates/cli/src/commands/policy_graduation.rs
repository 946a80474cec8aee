//! `handoff policy graduation`: per sequence type, whether its AI drafts
//! have earned a lighter send authority, or lost the one they have.

use std::process::ExitCode;

use anyhow::Result;
use chrono::{Duration, Utc};
use serde_json::json;

use handoff_domain::Actor;
use handoff_domain::policy::graduation::Standing;
use handoff_engine::governance::graduation;
use handoff_store::CommandContext;

use super::policy::{GraduationCmd, parse_since};
use crate::settings::{GlobalArgs, Settings};
use crate::store::{self, Migrate};

fn standing_text(standing: Standing) -> &'static str {
    match standing {
        Standing::Qualifies => "qualifies: a person may promote it to veto or auto",
        Standing::TooFewDrafts => "not yet: too few drafts sent",
        Standing::BelowAcceptance => "not yet: acceptance below the minimum",
        Standing::BlockFindings => "not yet: a sent draft had a block finding",
        Standing::Holds => "holds its authority",
        Standing::Regressed => "regressed",
        Standing::NotApplicable => "manual: people write these",
    }
}

pub async fn run(cmd: GraduationCmd, global: &GlobalArgs) -> Result<ExitCode> {
    let since = match cmd.since.as_deref() {
        Some(value) => parse_since(value)?,
        None => Utc::now() - Duration::days(90),
    };
    let settings = Settings::load(global)?;
    let playbook = super::load_playbook(&settings.playbook_path)?;
    let store = store::open(&settings, Migrate::OnOpen).await?;
    let ctx = CommandContext::new(Actor::system("graduation"), Some(playbook.policy_version()));
    let Some(rules) = playbook.governance.graduation else {
        println!("The playbook has no [governance.graduation] section: nothing graduates.");
        return Ok(ExitCode::SUCCESS);
    };
    let assessments =
        graduation(store.as_ref(), &ctx, &playbook, Some(since), !cmd.dry_run).await?;
    if cmd.json {
        crate::output::print_json(&json!({
            "since": since,
            "policy_version": playbook.policy_version(),
            "min_drafts": rules.min_drafts,
            "min_acceptance": rules.min_acceptance,
            "demote_on_regression": rules.demote_on_regression,
            "sequence_types": assessments,
        }))?;
        return Ok(ExitCode::SUCCESS);
    }
    println!(
        "AI drafts sent since {}: a type graduates with at least {} sent, {:.0}% accepted (edit distance under 0.2) and no block finding.",
        since.format("%Y-%m-%d"),
        rules.min_drafts,
        rules.min_acceptance * 100.0
    );
    let mut table = crate::output::table(&[
        "sequence type",
        "playbook",
        "now",
        "sent",
        "accepted",
        "block findings",
        "standing",
    ]);
    for a in &assessments {
        let mut standing = standing_text(a.standing).to_string();
        if a.demote_now {
            standing.push_str(if cmd.dry_run {
                " (would be demoted to approval)"
            } else {
                ": demoted to approval, recorded in the ledger"
            });
        } else if a.demoted {
            standing.push_str(" (demoted to approval under this policy)");
        }
        table.add_row(vec![
            a.sequence_type.clone(),
            a.configured.to_string(),
            a.effective.to_string(),
            a.sent.to_string(),
            a.acceptance
                .map(|x| format!("{} ({:.1}%)", a.accepted, x * 100.0))
                .unwrap_or_else(|| "–".into()),
            a.with_block_findings.to_string(),
            standing,
        ]);
    }
    println!("{table}");
    Ok(ExitCode::SUCCESS)
}
