//! `handoff score`: every prospect through the playbook's ICP rules; each
//! changed score is stored with its reasons and recorded in the ledger.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::json;

use handoff_domain::playbook::Playbook;
use handoff_domain::scoring::{LookalikeModel, Score, Scorer};
use handoff_store::{CommandContext, ContactScore, Store, StoreError, StoredScore};

use super::facts::facts_of;

#[derive(Debug, Clone, Default, Serialize)]
pub struct ScoreSummary {
    pub scored: u64,
    pub changed: u64,
    pub by_tier: BTreeMap<String, u64>,
}

#[derive(Debug, thiserror::Error)]
pub enum ScoreError {
    #[error("the playbook's ICP rules cannot be used: {0}")]
    Rules(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The stored form of a score: each counted rule, then each skipped one.
pub fn stored(score: &Score) -> StoredScore {
    let mut reasons: Vec<serde_json::Value> = score
        .reasons
        .iter()
        .map(|r| json!({"rule_id": r.rule_id, "points": r.points, "text": r.text, "reason": r.reason}))
        .collect();
    reasons.extend(score.skipped.iter().map(|s| {
        json!({"rule_id": s.rule_id, "points": 0, "text": format!("not counted: {}", s.missing), "skipped": true})
    }));
    StoredScore {
        score: score.score,
        tier: score.tier.as_str().to_string(),
        reasons: serde_json::Value::Array(reasons),
    }
}

/// Scores every prospect. `won` is the lookalike model when the playbook
/// names won accounts (see `lookalike::load`).
pub async fn score_all(
    store: &dyn Store,
    ctx: &CommandContext,
    playbook: &Playbook,
    won: Option<LookalikeModel>,
    progress: &(dyn Fn(u64) + Sync),
) -> Result<ScoreSummary, ScoreError> {
    let mut scorer = Scorer::new(&playbook.icp).map_err(|e| ScoreError::Rules(e.to_string()))?;
    if let Some(won) = won {
        scorer = scorer.with_lookalike(won);
    }
    let mut summary = ScoreSummary::default();
    let mut after = None;
    loop {
        let page = store.prospects(after, 2_000).await?;
        let Some(last) = page.last() else { break };
        after = Some(last.contact.id);
        let scores: Vec<ContactScore> = page
            .iter()
            .map(|p| {
                let score = scorer.score(&facts_of(p));
                *summary
                    .by_tier
                    .entry(score.tier.label().to_string())
                    .or_default() += 1;
                ContactScore {
                    contact_id: p.contact.id,
                    score: stored(&score),
                }
            })
            .collect();
        summary.scored += scores.len() as u64;
        summary.changed += store.record_scores(ctx, &scores).await?;
        progress(summary.scored);
    }
    Ok(summary)
}
