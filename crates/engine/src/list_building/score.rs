//! `handoff score`: every prospect through the playbook's ICP rules; each
//! changed score is stored with its reasons and recorded in the ledger.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::json;

use handoff_domain::playbook::Playbook;
use handoff_domain::scoring::{LookalikeModel, Score, Scorer};
use handoff_domain::verification::Verdict;
use handoff_mail::address::verify::offline_verdict;
use handoff_store::import_plan::Assess;
use handoff_store::{CommandContext, ContactScore, Prospect, Store, StoreError, StoredScore};

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

fn scorer_for(playbook: &Playbook, won: Option<LookalikeModel>) -> Result<Scorer, ScoreError> {
    let mut scorer = Scorer::new(&playbook.icp).map_err(|e| ScoreError::Rules(e.to_string()))?;
    if let Some(won) = won {
        scorer = scorer.with_lookalike(won);
    }
    Ok(scorer)
}

/// What an import does to each contact it writes when it verifies and
/// scores as it goes: the same offline verdict as `handoff verify --offline`
/// and the same score as [`score_all`].
#[derive(Debug)]
pub struct ImportAssessor {
    scorer: Scorer,
    verify: bool,
}

impl ImportAssessor {
    /// Verifies offline and scores.
    pub fn new(playbook: &Playbook, won: Option<LookalikeModel>) -> Result<Self, ScoreError> {
        Ok(Self {
            scorer: scorer_for(playbook, won)?,
            verify: true,
        })
    }

    /// Scores only: a syntax-only verdict would let contacts through the
    /// enrolment gate before anyone checked their mail servers, so `handoff
    /// import` leaves verifying to `handoff verify`.
    pub fn scoring_only(mut self) -> Self {
        self.verify = false;
        self
    }
}

impl Assess for ImportAssessor {
    fn verify(&self, email: &str) -> Option<Verdict> {
        self.verify.then(|| offline_verdict(email))
    }

    fn score(&self, prospect: &Prospect) -> StoredScore {
        stored(&self.scorer.score(&facts_of(prospect)))
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
    let scorer = scorer_for(playbook, won)?;
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
