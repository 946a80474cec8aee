//! Governance in the running system: a draft judged by the playbook's
//! policy and recorded with the facts it was judged on, and replays of the
//! recorded drafts and events under another policy (`handoff policy
//! simulate`). The judging itself is pure and lives in
//! `handoff_domain::policy`; this module fetches, records and pages.

use std::collections::{BTreeMap, HashSet};

use chrono::{DateTime, Duration, Utc};
use serde_json::{Map, Value, json};

use handoff_domain::DraftId;
use handoff_domain::escalation::Stage;
use handoff_domain::playbook::{Playbook, SendMode};
use handoff_domain::policy::graduation::{self, Assessment, SentDrafts};
use handoff_domain::policy::replay::{Replayed, ReplayedEvent};
use handoff_domain::policy::{AuthorKind, Context, DraftInput, Evaluation, Policy, Verdict};
use handoff_domain::scoring::Fact;
use handoff_store::{
    AuthorKind as StoredAuthor, CommandContext, DraftEvaluation, DraftRecord, EscalationRequest,
    NewDemotion, RecordedEvaluation, Store, StoreError,
};

use crate::list_building::facts::facts_of;

#[derive(Debug, thiserror::Error)]
pub enum GovernanceError {
    #[error("there is no draft {0}: `handoff ledger tail --kind draft_created` lists drafts")]
    NoDraft(DraftId),
    #[error("draft {draft}: its contact {contact} is gone")]
    NoContact { draft: DraftId, contact: String },
    #[error(transparent)]
    Store(#[from] StoreError),
}

// ── Facts as JSON ────────────────────────────────────────────────────────

fn fact_to_json(fact: &Fact) -> Value {
    match fact {
        Fact::Text(s) => Value::String(s.clone()),
        Fact::Int(i) => json!(i),
        Fact::Float(f) => json!(f),
        Fact::Bool(b) => Value::Bool(*b),
        Fact::List(items) => json!(items),
    }
}

fn json_to_fact(value: &Value) -> Option<Fact> {
    Some(match value {
        Value::String(s) => Fact::Text(s.clone()),
        Value::Bool(b) => Fact::Bool(*b),
        Value::Number(n) => match n.as_i64() {
            Some(i) => Fact::Int(i),
            None => Fact::Float(n.as_f64()?),
        },
        Value::Array(items) => Fact::List(
            items
                .iter()
                .map(|i| i.as_str().map(str::to_string))
                .collect::<Option<_>>()?,
        ),
        _ => return None,
    })
}

fn facts_to_json(facts: &BTreeMap<String, Fact>) -> Value {
    Value::Object(
        facts
            .iter()
            .map(|(k, v)| (k.clone(), fact_to_json(v)))
            .collect::<Map<_, _>>(),
    )
}

fn facts_from_json(value: Option<&Value>) -> BTreeMap<String, Fact> {
    value
        .and_then(Value::as_object)
        .map(|map| {
            map.iter()
                .filter_map(|(k, v)| json_to_fact(v).map(|f| (k.clone(), f)))
                .collect()
        })
        .unwrap_or_default()
}

/// The stored form of a context: what a replay needs to judge the draft
/// on the same facts.
pub fn context_to_json(context: &Context) -> Value {
    json!({
        "contact": facts_to_json(&context.contact),
        "account": facts_to_json(&context.account),
        "signal": facts_to_json(&context.signal),
        "draft": facts_to_json(&context.draft),
        "event": facts_to_json(&context.event),
        "sequence": facts_to_json(&context.sequence),
        "mailbox": facts_to_json(&context.mailbox),
        "now": context.now.to_rfc3339(),
    })
}

pub fn context_from_json(value: &Value, fallback_now: DateTime<Utc>) -> Context {
    let now = value
        .get("now")
        .and_then(Value::as_str)
        .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or(fallback_now);
    let mut context = Context::new(now);
    context.contact = facts_from_json(value.get("contact"));
    context.account = facts_from_json(value.get("account"));
    context.signal = facts_from_json(value.get("signal"));
    context.draft = facts_from_json(value.get("draft"));
    context.event = facts_from_json(value.get("event"));
    context.sequence = facts_from_json(value.get("sequence"));
    context.mailbox = facts_from_json(value.get("mailbox"));
    context
}

/// The sentences the drafting stage found to state a claim nothing backs.
fn ungrounded_claims(grounding: &Value) -> Vec<String> {
    grounding
        .get("ungrounded_claims")
        .and_then(Value::as_array)
        .map(|items| {
            items
                .iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}

// ── Drafts ───────────────────────────────────────────────────────────────

fn author_of(author: StoredAuthor) -> AuthorKind {
    match author {
        StoredAuthor::Ai => AuthorKind::Ai,
        StoredAuthor::Template => AuthorKind::Template,
        StoredAuthor::Human => AuthorKind::Human,
    }
}

/// The ids a draft's grounding trace cites: a drafted trace
/// ([`handoff_domain::drafting::Grounding`], whose `cited` lists them), or
/// a plain list of ids or objects with an `id`.
fn cited_ids(grounding: &Value) -> Vec<String> {
    grounding
        .get("cited")
        .unwrap_or(grounding)
        .as_array()
        .map(|items| {
            items
                .iter()
                .filter_map(|item| match item {
                    Value::String(id) => Some(id.clone()),
                    Value::Object(map) => map.get("id").and_then(Value::as_str).map(str::to_string),
                    _ => None,
                })
                .collect()
        })
        .unwrap_or_default()
}

pub fn draft_input(record: &DraftRecord) -> DraftInput {
    let d = &record.draft;
    DraftInput {
        id: d.id.to_string(),
        subject: d.subject.clone(),
        body: d.body.clone(),
        sequence_type: record.sequence_type.clone().unwrap_or_default(),
        confidence: d.confidence.unwrap_or(1.0),
        grounding: cited_ids(&d.grounding),
        author: author_of(d.author),
        ungrounded: ungrounded_claims(&d.grounding),
    }
}

/// The state a verdict leaves a draft in, before any person acts.
pub fn review_state(verdict: &Verdict) -> &'static str {
    match verdict {
        Verdict::AutoSend => "queued",
        Verdict::NeedsApproval { .. } => "pending",
        Verdict::VetoWindow { .. } => "veto_window",
        Verdict::Manual => "manual",
        Verdict::Blocked { .. } => "blocked",
        Verdict::Escalate { .. } => "escalated",
    }
}

fn window_secs(verdict: &Verdict) -> Option<u64> {
    match verdict {
        Verdict::NeedsApproval { window_secs, .. } | Verdict::VetoWindow { window_secs } => {
            Some(*window_secs)
        }
        _ => None,
    }
}

fn after(now: DateTime<Utc>, secs: u64) -> Option<DateTime<Utc>> {
    i64::try_from(secs)
        .ok()
        .and_then(|s| now.checked_add_signed(Duration::seconds(s)))
}

/// The policy drafts are judged under now: the playbook's, with every
/// sequence type demoted under this policy version back to approval.
pub async fn effective_policy(
    store: &dyn Store,
    playbook: &Playbook,
) -> Result<Policy, GovernanceError> {
    let mut policy = Policy::compile(playbook).map_err(|e| {
        GovernanceError::Store(StoreError::Refused {
            reason: format!("the playbook's governance cannot be compiled: {e}"),
        })
    })?;
    let version = playbook.policy_version().to_string();
    for demotion in store.demotions().await? {
        if demotion.policy_version.as_deref() == Some(version.as_str()) {
            policy.set_send_mode(&demotion.sequence_type, graduation::demoted_mode());
        }
    }
    Ok(policy)
}

/// Judges a draft on its prospect's current facts and records the verdict
/// (and, for `escalate`, the escalation) in one transaction.
pub async fn evaluate_and_record(
    store: &dyn Store,
    ctx: &CommandContext,
    policy: &Policy,
    draft_id: DraftId,
) -> Result<(Evaluation, RecordedEvaluation), GovernanceError> {
    let record = store
        .draft_record(draft_id)
        .await?
        .ok_or(GovernanceError::NoDraft(draft_id))?;
    let prospect = store
        .prospect(record.draft.contact_id)
        .await?
        .ok_or_else(|| GovernanceError::NoContact {
            draft: draft_id,
            contact: record.draft.contact_id.to_string(),
        })?;
    let facts = facts_of(&prospect);
    let mut context = Context::from_facts(&facts, ctx.now);
    if let Some(kind) = &record.sequence_type {
        context
            .sequence
            .insert("type".into(), Fact::Text(kind.clone()));
    }
    context
        .sequence
        .insert("step".into(), Fact::Int(i64::from(record.draft.step_index)));
    let input = draft_input(&record);
    let evaluation = policy.evaluate(&input, &context);
    let escalation = match &evaluation.verdict {
        Verdict::Escalate {
            stage,
            rule_id,
            reason,
            priority,
            ..
        } => Some(EscalationRequest {
            stage: *stage,
            rule_id: rule_id.to_string(),
            reason: reason.to_string(),
            priority: *priority,
            assignee: prospect.contact.owner.clone(),
            // The rule's SLA, else the default: every task has a due time
            // the SLA timer can hold it to.
            due_at: Some(handoff_domain::escalation::due_at(
                ctx.now,
                evaluation
                    .escalations
                    .iter()
                    .find(|e| e.rule_id == *rule_id)
                    .and_then(|e| e.sla_secs),
            )),
        }),
        _ => None,
    };
    let mut rule_ids: Vec<String> = Vec::new();
    for id in evaluation
        .findings
        .iter()
        .map(|f| f.rule_id.to_string())
        .chain(evaluation.escalations.iter().map(|e| e.rule_id.to_string()))
    {
        if !rule_ids.contains(&id) {
            rule_ids.push(id);
        }
    }
    let recorded = store
        .record_evaluation(
            ctx,
            draft_id,
            &DraftEvaluation {
                verdict: evaluation.verdict.name().to_string(),
                rule_ids,
                qa_sampled: evaluation.qa_sampled,
                findings: serde_json::to_value(&evaluation.findings).unwrap_or(Value::Null),
                evaluation: serde_json::to_value(&evaluation).unwrap_or(Value::Null),
                context: context_to_json(&context),
                review_state: review_state(&evaluation.verdict).to_string(),
                review_deadline: window_secs(&evaluation.verdict)
                    .and_then(|secs| after(ctx.now, secs)),
                escalation,
            },
        )
        .await?;
    Ok((evaluation, recorded))
}

// ── Replays ──────────────────────────────────────────────────────────────

/// Every recorded draft (evaluated since `since`) and event, judged by
/// `current` and by `candidate` on the facts recorded with them.
pub async fn replay(
    store: &dyn Store,
    current: &Policy,
    candidate: &Policy,
    since: Option<DateTime<Utc>>,
) -> Result<(Vec<Replayed>, Vec<ReplayedEvent>), GovernanceError> {
    let mut drafts = Vec::new();
    let mut after_id = None;
    loop {
        let page = store.list_drafts(since, after_id, 500).await?;
        let Some(last) = page.last() else { break };
        after_id = Some(last.draft.id);
        for record in &page {
            // A draft never judged has no recorded facts to replay on.
            let Some(stored) = &record.context else {
                continue;
            };
            let context = context_from_json(stored, record.draft.created_at);
            let input = draft_input(record);
            drafts.push(Replayed {
                draft_id: record.draft.id.to_string(),
                subject: record.draft.subject.clone(),
                sent: record.sent_at.is_some(),
                current: current.evaluate(&input, &context),
                candidate: candidate.evaluate(&input, &context),
            });
        }
    }

    let mut events = Vec::new();
    let mut after_event = None;
    loop {
        let page = store.list_events(since, after_event, 1_000).await?;
        let Some(last) = page.last() else { break };
        after_event = Some(last.id);
        for event in &page {
            let Some(stage) = event_stage(&event.kind) else {
                continue;
            };
            let mut context = Context::new(event.occurred_at);
            context.event = facts_from_json(Some(&event.payload));
            context
                .event
                .insert("kind".into(), Fact::Text(event.kind.clone()));
            if let Some(contact) = event.contact_id
                && let Some(prospect) = store.prospect(contact).await?
            {
                let facts = facts_of(&prospect);
                context.contact = facts.contact;
                context.account = facts.account;
                context.signal = facts.signal;
            }
            let top = |policy: &Policy| {
                policy
                    .escalations(stage, &context)
                    .top()
                    .map(|e| e.rule_id.to_string())
            };
            events.push(ReplayedEvent {
                event_id: event.id.to_string(),
                kind: event.kind.clone(),
                current: top(current),
                candidate: top(candidate),
            });
        }
    }
    Ok((drafts, events))
}

/// Which stage's escalation rules judge an event of this kind.
fn event_stage(kind: &str) -> Option<Stage> {
    match kind {
        "meeting_logged" | "meeting_booked" => Some(Stage::FollowUp),
        "reply" | "click" | "open" | "page_visit" | "job_change" | "bounce" | "complaint"
        | "unsubscribe" => Some(Stage::Engagement),
        _ => None,
    }
}

// ── Graduation ───────────────────────────────────────────────────────────

/// Judges every sequence type the playbook gives a send authority, and
/// records a demotion for each that regressed (when the playbook says so).
pub async fn graduation(
    store: &dyn Store,
    ctx: &CommandContext,
    playbook: &Playbook,
    since: Option<DateTime<Utc>>,
    record: bool,
) -> Result<Vec<Assessment>, GovernanceError> {
    let Some(rules) = playbook.governance.graduation else {
        return Ok(Vec::new());
    };
    let version = playbook.policy_version().to_string();
    let demoted: HashSet<String> = store
        .demotions()
        .await?
        .into_iter()
        .filter(|d| d.policy_version.as_deref() == Some(version.as_str()))
        .map(|d| d.sequence_type)
        .collect();
    let stats = store.graduation_stats(since).await?;
    let mut out = Vec::new();
    for (sequence_type, mode) in &playbook.governance.send_authority.by_sequence_type {
        let counts = stats
            .iter()
            .find(|s| &s.sequence_type == sequence_type)
            .map(|s| SentDrafts {
                sent: s.ai_drafts_sent,
                accepted: s.accepted,
                with_block_findings: s.with_block_findings,
            })
            .unwrap_or_default();
        let assessment = graduation::assess(
            sequence_type,
            mode,
            &rules,
            counts,
            demoted.contains(sequence_type),
        );
        if assessment.demote_now && record {
            store
                .record_demotion(
                    ctx,
                    &NewDemotion {
                        sequence_type: sequence_type.clone(),
                        from: graduation::mode_name(mode).to_string(),
                        to: graduation::mode_name(&SendMode::Approval {
                            window: handoff_domain::playbook::Duration::from_secs(
                                graduation::DEMOTED_WINDOW_SECS,
                            ),
                        })
                        .to_string(),
                        acceptance: assessment.acceptance.unwrap_or(0.0),
                        drafts: assessment.sent,
                    },
                )
                .await?;
        }
        out.push(assessment);
    }
    Ok(out)
}
