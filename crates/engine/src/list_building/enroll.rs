//! `handoff enroll`: put matching contacts into a sequence. The playbook's
//! list-building rules (e.g. strategic accounts, executives) and a
//! `manual` approval mode send contacts to a person's approval list
//! instead; everyone else is enrolled through the verification gate.

use std::collections::BTreeMap;

use serde::Serialize;

use handoff_domain::escalation::Stage;
use handoff_domain::playbook::{EnrolmentApproval, Playbook};
use handoff_domain::scoring::{CompiledCondition, Outcome};
use handoff_domain::users::Username;
use handoff_store::{CommandContext, Store, StoreError};

use super::facts::facts_of;

#[derive(Debug, Clone)]
pub struct EnrollRequest {
    pub sequence: String,
    /// Only contacts matching this CEL condition.
    pub condition: Option<String>,
    /// Only this user's contacts; approvals are assigned to them.
    pub owner: Option<Username>,
    /// A person's explicit consent to enrol `risky` addresses.
    pub allow_risky: bool,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct EnrollSummary {
    pub considered: u64,
    pub enrolled: u64,
    pub awaiting_approval: u64,
    pub already_enrolled: u64,
    /// Why the gate refused, by reason.
    pub refused: BTreeMap<String, u64>,
    /// Contacts whose condition could not be decided (e.g. a missing field).
    pub undecided: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum EnrollError {
    #[error("the playbook has no sequence `{0}`; its sequences are {1}")]
    UnknownSequence(String, String),
    #[error("--where is not a valid CEL condition: {0}")]
    BadCondition(String),
    #[error("the list-building rule `{0}` cannot be used: {1}")]
    BadRule(String, String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

struct GateRule {
    id: String,
    reason: String,
    condition: CompiledCondition,
}

pub async fn enroll_matching(
    store: &dyn Store,
    ctx: &CommandContext,
    playbook: &Playbook,
    request: &EnrollRequest,
    progress: &(dyn Fn(u64) + Sync),
) -> Result<EnrollSummary, EnrollError> {
    if !playbook.sequences.contains_key(&request.sequence) {
        let known: Vec<&str> = playbook.sequences.keys().map(String::as_str).collect();
        return Err(EnrollError::UnknownSequence(
            request.sequence.clone(),
            known.join(", "),
        ));
    }
    let filter = request
        .condition
        .as_deref()
        .map(CompiledCondition::compile)
        .transpose()
        .map_err(EnrollError::BadCondition)?;
    let rules: Vec<GateRule> = playbook
        .governance
        .escalation_rules
        .iter()
        .enumerate()
        .filter(|(_, r)| r.stage == Stage::ListBuilding)
        .map(|(i, r)| {
            let id =
                r.id.clone()
                    .unwrap_or_else(|| format!("escalate-{}", i + 1));
            CompiledCondition::compile(r.when.as_str())
                .map(|condition| GateRule {
                    id: id.clone(),
                    reason: r.reason.clone(),
                    condition,
                })
                .map_err(|e| EnrollError::BadRule(id, e))
        })
        .collect::<Result<_, _>>()?;
    let manual = playbook.list_building.approval == EnrolmentApproval::Manual;

    let mut summary = EnrollSummary::default();
    let mut after = None;
    loop {
        let page = store.prospects(after, 500).await?;
        let Some(last) = page.last() else { break };
        after = Some(last.contact.id);
        for p in &page {
            if request.owner.is_some() && p.contact.owner != request.owner {
                continue;
            }
            let facts = facts_of(p);
            if let Some(filter) = &filter {
                match filter.evaluate(&facts) {
                    Outcome::Match => {}
                    Outcome::NoMatch => continue,
                    Outcome::Skipped(_) => {
                        summary.undecided += 1;
                        continue;
                    }
                }
            }
            summary.considered += 1;
            let gate = rules
                .iter()
                .find(|rule| matches!(rule.condition.evaluate(&facts), Outcome::Match))
                .map(|rule| (rule.id.clone(), rule.reason.clone()))
                .or_else(|| {
                    manual.then(|| {
                        (
                            "list-building-manual".to_string(),
                            "list building is set to manual approval in the playbook".to_string(),
                        )
                    })
                });
            if let Some((rule_id, reason)) = gate {
                let assignee = request.owner.as_ref().or(p.contact.owner.as_ref());
                store
                    .request_approval(
                        ctx,
                        p.contact.id,
                        &request.sequence,
                        &rule_id,
                        &reason,
                        assignee,
                    )
                    .await?;
                summary.awaiting_approval += 1;
                continue;
            }
            match store
                .enroll(ctx, p.contact.id, &request.sequence, request.allow_risky)
                .await
            {
                Ok(_) => summary.enrolled += 1,
                Err(StoreError::Conflict { .. }) => summary.already_enrolled += 1,
                Err(StoreError::Refused { reason }) => {
                    *summary.refused.entry(refusal_kind(&reason)).or_default() += 1;
                }
                Err(e) => return Err(e.into()),
            }
        }
        progress(summary.considered);
    }
    Ok(summary)
}

/// Groups refusals for the summary: "not verified", "risky (role_account)", ...
fn refusal_kind(reason: &str) -> String {
    if reason.contains("has not been verified") {
        "address not verified".into()
    } else if let Some(start) = reason.find("address is ") {
        let rest = &reason[start + "address is ".len()..];
        rest.split(':').next().unwrap_or(rest).to_string()
    } else if reason.contains("could not be verified") {
        "address could not be verified".into()
    } else {
        reason.to_string()
    }
}
