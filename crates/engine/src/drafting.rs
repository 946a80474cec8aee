//! The drafting stage: for each enrolment whose next step is due, build
//! what the drafter may know (through the data-access boundary), draft,
//! check the grounding, store the draft with its trace, and judge it by
//! the governance policy, which decides the state it lands in.

use std::collections::BTreeMap;

use chrono::{DateTime, Datelike, Duration, Utc, Weekday};
use serde::Serialize;
use serde_json::json;
use sha2::{Digest, Sha256};

use handoff_ai::{DraftError, Drafter};
use handoff_domain::drafting::{
    Audience, ModelInput, SenderBrief, StepBrief, assess, confidence, offer,
};
use handoff_domain::playbook::{Playbook, Sequence, StepKind};
use handoff_domain::policy::Policy;
use handoff_domain::policy::data_access::DataAccessPolicy;
use handoff_domain::{ContactId, DraftId, EnrollmentId};
use handoff_store::{
    AuthorKind, CommandContext, Enrollment, NewDraft, Prospect, Store, StoreError,
};

use crate::governance::{GovernanceError, evaluate_and_record};
use crate::research::{Insight, ResearchError, custom_insight, ensure_research};

#[derive(Debug, thiserror::Error)]
pub enum DraftingError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Governance(#[from] GovernanceError),
    #[error(
        "the playbook has no sequence `{0}` (the enrolment names it): restore it or stop the enrolment"
    )]
    NoSequence(String),
    #[error("contact {0} is not in the database")]
    NoContact(ContactId),
    /// The backend could not write the account's research.
    #[error(transparent)]
    Research(ResearchError),
}

impl From<ResearchError> for DraftingError {
    fn from(error: ResearchError) -> Self {
        match error {
            ResearchError::Store(e) => DraftingError::Store(e),
            other => DraftingError::Research(other),
        }
    }
}

/// What became of one step.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum StepOutcome {
    Drafted {
        draft_id: DraftId,
        verdict: String,
        review_state: String,
        confidence: f64,
        ungrounded_claims: usize,
        research_reused: bool,
    },
    /// Waiting for a person (custom insight for a high-value account).
    Held { reason: String },
    /// Nothing to do now (not due yet, a wait step, already drafted).
    Skipped { reason: String },
    /// The backend could not draft it; the step stays undrafted and is
    /// tried again on the next pass.
    Failed { reason: String },
}

#[derive(Debug, Clone, Serialize)]
pub struct StepReport {
    pub enrollment_id: EnrollmentId,
    pub contact_id: ContactId,
    pub sequence: String,
    /// 1-based, as people count steps.
    pub step: u32,
    #[serde(flatten)]
    pub outcome: StepOutcome,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct DraftSummary {
    pub drafted: u64,
    pub held: u64,
    pub skipped: u64,
    pub failed: u64,
    pub by_verdict: BTreeMap<String, u64>,
    pub steps: Vec<StepReport>,
}

impl DraftSummary {
    pub fn add(&mut self, report: StepReport) {
        match &report.outcome {
            StepOutcome::Drafted { verdict, .. } => {
                self.drafted += 1;
                *self.by_verdict.entry(verdict.clone()).or_default() += 1;
            }
            StepOutcome::Held { .. } => self.held += 1,
            StepOutcome::Skipped { .. } => self.skipped += 1,
            StepOutcome::Failed { .. } => self.failed += 1,
        }
        self.steps.push(report);
    }
}

/// Everything drafting needs from the playbook, prepared once per run.
#[derive(Debug)]
pub struct Drafting<'a> {
    pub playbook: &'a Playbook,
    pub policy: &'a Policy,
    pub data_access: DataAccessPolicy,
    /// Reuse an account's research while its data is unchanged (the
    /// default). Off, research is rebuilt for every draft: the per-contact
    /// baseline `handoff bench draft` compares against.
    pub reuse_research: bool,
}

impl<'a> Drafting<'a> {
    pub fn new(playbook: &'a Playbook, policy: &'a Policy) -> Self {
        Drafting {
            playbook,
            policy,
            data_access: DataAccessPolicy::new(&playbook.governance.data_access),
            reuse_research: true,
        }
    }

    fn sequence(&self, name: &str) -> Result<&'a Sequence, DraftingError> {
        self.playbook
            .sequences
            .get(name)
            .ok_or_else(|| DraftingError::NoSequence(name.to_string()))
    }

    /// The one way drafting turns a prospect into model input: every field
    /// known about them goes in as a candidate, and
    /// [`ModelInput::build`] keeps only what the playbook allows. The
    /// account's research is built first if needed, by `drafter`.
    #[allow(clippy::too_many_arguments)]
    pub async fn model_input(
        &self,
        store: &dyn Store,
        ctx: &CommandContext,
        drafter: &dyn Drafter,
        prospect: &Prospect,
        sequence_name: &str,
        step_index: u32,
        insight: Option<&str>,
    ) -> Result<(ModelInput, bool), DraftingError> {
        let sequence = self.sequence(sequence_name)?;
        let step = sequence.steps.get(step_index as usize).ok_or_else(|| {
            DraftingError::Store(StoreError::Refused {
                reason: format!(
                    "sequence `{sequence_name}` has {} steps; there is no step {}",
                    sequence.steps.len(),
                    step_index + 1
                ),
            })
        })?;
        let c = &prospect.contact;
        let mut candidates: Vec<(String, String)> = Vec::new();
        let mut push = |name: &str, value: Option<&str>| {
            if let Some(value) = value {
                candidates.push((name.to_string(), value.to_string()));
            }
        };
        push("contact.first_name", Some(&c.first_name));
        push("contact.last_name", Some(&c.last_name));
        push("contact.title", Some(&c.title));
        push("contact.seniority", c.seniority.as_deref());
        push("contact.department", c.department.as_deref());
        push("contact.email", Some(c.email.as_str()));
        push("contact.phone", c.phone.as_deref());
        push("contact.linkedin_url", c.linkedin_url.as_deref());
        push("contact.city", c.city.as_deref());
        push("contact.country", c.country.as_deref());
        push("contact.company", c.company.as_deref());
        for kind in &prospect.signals {
            candidates.push((format!("signal.{kind}"), "true".to_string()));
        }
        let mut research_reused = false;
        if let Some(account) = &prospect.account {
            let researched = ensure_research(
                store,
                ctx,
                self.playbook,
                &self.data_access,
                drafter,
                account,
                c.country.as_deref(),
                self.reuse_research,
            )
            .await?;
            research_reused = researched.reused;
            candidates
                .extend(crate::research::account_facts(account, c.country.as_deref()).candidates());
            candidates.extend(researched.research.facts);
        }
        if let Some(insight) = insight.filter(|i| !i.trim().is_empty()) {
            candidates.push(("research.insight".to_string(), insight.to_string()));
        }

        let audience = Audience {
            seniority: c.seniority.clone(),
            department: c.department.clone(),
            industry: prospect.account.as_ref().and_then(|a| a.industry.clone()),
            employees: prospect.account.as_ref().and_then(|a| a.employees),
            country: c.country.clone(),
        };
        let sender = match &c.owner {
            Some(owner) => store
                .find_user(owner)
                .await?
                .map(|u| u.display_name)
                .unwrap_or_else(|| owner.to_string()),
            None => format!("The {} team", self.playbook.workspace.name),
        };
        let count = sequence
            .steps
            .iter()
            .filter(|s| s.kind != StepKind::Wait)
            .count() as u32;
        let input = ModelInput::build(
            &self.data_access,
            StepBrief {
                sequence: sequence_name.to_string(),
                sequence_type: sequence.sequence_type.clone(),
                index: position_among_touches(sequence, step_index),
                count,
                kind: step.kind,
                thread: step.thread,
                note: step.note.clone(),
                thread_subject: None,
            },
            SenderBrief {
                name: sender,
                company: self.playbook.workspace.name.clone(),
            },
            candidates,
            &[],
            offer(&self.playbook.content, &audience),
        );
        Ok((input, research_reused))
    }

    /// Drafts `step_index` (default: the current step) of one enrolment.
    pub async fn draft_step(
        &self,
        store: &dyn Store,
        ctx: &CommandContext,
        drafter: &dyn Drafter,
        enrollment: &Enrollment,
        step_index: Option<u32>,
    ) -> Result<StepReport, DraftingError> {
        let step_index = step_index.unwrap_or(enrollment.current_step);
        let report = |outcome| StepReport {
            enrollment_id: enrollment.id,
            contact_id: enrollment.contact_id,
            sequence: enrollment.sequence.clone(),
            step: step_index + 1,
            outcome,
        };
        let sequence = self.sequence(&enrollment.sequence)?;
        let Some(step) = sequence.steps.get(step_index as usize) else {
            return Ok(report(StepOutcome::Skipped {
                reason: "the sequence has no more steps".into(),
            }));
        };
        if step.kind == StepKind::Wait {
            return Ok(report(StepOutcome::Skipped {
                reason: "a wait step has nothing to draft".into(),
            }));
        }
        let prospect = store
            .prospect(enrollment.contact_id)
            .await?
            .ok_or(DraftingError::NoContact(enrollment.contact_id))?;
        let insight = match custom_insight(store, ctx, self.policy, &prospect).await? {
            Insight::NotNeeded => None,
            Insight::Given(note) => Some(note),
            Insight::Waiting {
                rule_id,
                opened_now,
            } => {
                return Ok(report(StepOutcome::Held {
                    reason: format!(
                        "waiting for a person's custom insight ({rule_id}{})",
                        if opened_now {
                            ", escalation opened"
                        } else {
                            ""
                        }
                    ),
                }));
            }
        };
        let input = self
            .model_input(
                store,
                ctx,
                drafter,
                &prospect,
                &enrollment.sequence,
                step_index,
                insight.as_deref(),
            )
            .await;
        let (input, research_reused) = match input {
            Ok(built) => built,
            // Like a failed draft: the step stays undrafted and is tried
            // again on the next pass.
            Err(DraftingError::Research(error)) => {
                return Ok(report(StepOutcome::Failed {
                    reason: format!("{} backend: {error}", drafter.backend()),
                }));
            }
            Err(e) => return Err(e),
        };
        let seed = seed_for(enrollment.id, step_index);
        let drafted = match drafter.draft(&input, seed).await {
            Ok(drafted) => drafted,
            Err(error) => {
                return Ok(report(StepOutcome::Failed {
                    reason: failure_text(drafter, &error),
                }));
            }
        };
        let grounding = assess(&input, &drafted);
        let confidence = confidence(&input, &grounding, drafted.model_confidence);
        let author = if drafter.backend() == "template" {
            AuthorKind::Template
        } else {
            AuthorKind::Ai
        };
        let new_draft = NewDraft {
            contact_id: enrollment.contact_id,
            enrollment_id: Some(enrollment.id),
            step_index,
            author,
            subject: drafted.subject.clone(),
            body: drafted.body(),
            grounding: serde_json::to_value(&grounding).unwrap_or_default(),
            confidence: Some(confidence.value),
            sequence_type: Some(sequence.sequence_type.clone()),
            step_kind: Some(step_kind_name(step.kind).to_string()),
            drafter: Some(json!({
                "backend": drafter.backend(),
                "model": drafted.model,
                "seed": seed,
                "usage": drafted.usage,
                "confidence": confidence,
                "withheld": input.withheld().iter().map(|(name, _)| name).collect::<Vec<_>>(),
            })),
        };
        let draft = match store.create_draft(ctx, &new_draft).await {
            Ok(draft) => draft,
            Err(StoreError::Conflict { what }) => {
                return Ok(report(StepOutcome::Skipped { reason: what }));
            }
            Err(e) => return Err(e.into()),
        };
        let (evaluation, _) = evaluate_and_record(store, ctx, self.policy, draft.id).await?;
        // Automatic and veto-window drafts are queued now (a veto draft
        // for its window's end); the others wait in a person's queue.
        self.queue_if_automatic(store, ctx, draft.id).await?;
        Ok(report(StepOutcome::Drafted {
            draft_id: draft.id,
            verdict: evaluation.verdict.name().to_string(),
            review_state: crate::governance::review_state(&evaluation.verdict).to_string(),
            confidence: confidence.value,
            ungrounded_claims: grounding.ungrounded_claims.len(),
            research_reused,
        }))
    }

    /// Drafts every enrolment step that is due by `now` (a business day
    /// ahead of its send day, so review fits before it goes out).
    pub async fn draft_due(
        &self,
        store: &dyn Store,
        ctx: &CommandContext,
        drafter: &dyn Drafter,
        now: DateTime<Utc>,
        progress: &(dyn Fn(u64) + Sync),
    ) -> Result<DraftSummary, DraftingError> {
        // Automatic drafts an earlier pass judged but did not queue (it
        // stopped in between) are queued first.
        match crate::send_approval::queue_unqueued(store, ctx, &self.playbook.mailboxes).await {
            Ok(_) => {}
            Err(crate::send_approval::ReviewError::Store(e)) => return Err(e.into()),
            Err(e) => tracing::warn!(error = %e, "automatic drafts left unqueued"),
        }
        let mut summary = DraftSummary::default();
        let mut after = None;
        let mut seen = 0;
        loop {
            let page = store.awaiting_draft(after, 200).await?;
            let Some(last) = page.last() else { break };
            after = Some(last.id);
            for enrollment in &page {
                seen += 1;
                progress(seen);
                let Ok(sequence) = self.sequence(&enrollment.sequence) else {
                    summary.add(StepReport {
                        enrollment_id: enrollment.id,
                        contact_id: enrollment.contact_id,
                        sequence: enrollment.sequence.clone(),
                        step: enrollment.current_step + 1,
                        outcome: StepOutcome::Failed {
                            reason: format!(
                                "the playbook no longer has sequence `{}`",
                                enrollment.sequence
                            ),
                        },
                    });
                    continue;
                };
                let Some(step) = sequence.steps.get(enrollment.current_step as usize) else {
                    continue;
                };
                if step.kind == StepKind::Wait {
                    continue;
                }
                let due = add_business_days(enrollment.created_at, step.day.saturating_sub(1));
                if due > now {
                    continue;
                }
                let report = self
                    .draft_step(store, ctx, drafter, enrollment, None)
                    .await?;
                summary.add(report);
            }
        }
        Ok(summary)
    }
}

impl Drafting<'_> {
    /// Queues the draft's message if its verdict lets it go without a
    /// person. A playbook without a mailbox leaves it unqueued (and says
    /// so); the next pass queues it once there is one.
    async fn queue_if_automatic(
        &self,
        store: &dyn Store,
        ctx: &CommandContext,
        draft: DraftId,
    ) -> Result<(), DraftingError> {
        match crate::send_approval::after_judgement(store, ctx, draft, &self.playbook.mailboxes)
            .await
        {
            Ok(_) => Ok(()),
            Err(crate::send_approval::ReviewError::Store(e)) => Err(e.into()),
            Err(e) => {
                tracing::warn!(%draft, error = %e, "automatic draft not queued");
                Ok(())
            }
        }
    }
}

/// A step's place among the sequence's touches (wait steps not counted).
fn position_among_touches(sequence: &Sequence, step_index: u32) -> u32 {
    sequence
        .steps
        .iter()
        .take(step_index as usize)
        .filter(|s| s.kind != StepKind::Wait)
        .count() as u32
}

fn step_kind_name(kind: StepKind) -> &'static str {
    match kind {
        StepKind::Email => "email",
        StepKind::Call => "call",
        StepKind::Social => "social",
        StepKind::Wait => "wait",
    }
}

fn failure_text(drafter: &dyn Drafter, error: &DraftError) -> String {
    format!("{} backend: {error}", drafter.backend())
}

/// The same enrolment step always gets the same seed, so a re-draft after
/// a rejection reads the same unless the inputs changed.
pub fn seed_for(enrollment: EnrollmentId, step_index: u32) -> u64 {
    let digest = Sha256::new()
        .chain_update(enrollment.to_string().as_bytes())
        .chain_update(step_index.to_le_bytes())
        .finalize();
    let mut bytes = [0_u8; 8];
    bytes.copy_from_slice(&digest[..8]);
    u64::from_le_bytes(bytes)
}

/// `days` business days (Monday to Friday) after `from`. Holidays and the
/// contact's time zone are the scheduler's to apply when sending.
pub fn add_business_days(from: DateTime<Utc>, days: u32) -> DateTime<Utc> {
    let mut at = from;
    let mut left = days;
    while left > 0 {
        at += Duration::days(1);
        if !matches!(at.weekday(), Weekday::Sat | Weekday::Sun) {
            left -= 1;
        }
    }
    at
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn business_days_skip_weekends() {
        let friday = DateTime::parse_from_rfc3339("2026-11-27T09:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(add_business_days(friday, 0), friday);
        let monday = add_business_days(friday, 1);
        assert_eq!(monday.weekday(), Weekday::Mon);
        assert_eq!(add_business_days(friday, 5).weekday(), Weekday::Fri);
        assert_eq!((add_business_days(friday, 5) - friday).num_days(), 7);
    }

    #[test]
    fn seeds_are_stable_per_step() {
        let id = EnrollmentId::new();
        assert_eq!(seed_for(id, 1), seed_for(id, 1));
        assert_ne!(seed_for(id, 1), seed_for(id, 2));
    }
}
