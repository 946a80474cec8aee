//! Comparing two policies on recorded history (`handoff policy simulate`):
//! every recorded draft and event judged by the current policy and by a
//! candidate, summarised side by side, with the drafts whose verdict moves
//! most and the rule that moved each.
//!
//! The figures, for each side:
//! * escalation rate: drafts whose verdict is `escalate`, plus events that
//!   match an escalation rule, over all drafts and events;
//! * QA pass rate: drafts with no `block` or `review` finding (they would
//!   pass content review as written), over all drafts;
//! * needing approval: drafts whose verdict is `needs_approval`;
//! * and, for the candidate only, the past sends it would have blocked.

use std::collections::BTreeSet;

use serde::Serialize;

use super::{Evaluation, Verdict};
use crate::playbook::Severity;

/// One recorded draft under both policies.
#[derive(Debug, Clone)]
pub struct Replayed {
    pub draft_id: String,
    pub subject: String,
    /// It was sent.
    pub sent: bool,
    pub current: Evaluation,
    pub candidate: Evaluation,
}

/// One recorded event: the escalation rule each policy would fire, if any.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplayedEvent {
    pub event_id: String,
    pub kind: String,
    pub current: Option<String>,
    pub candidate: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Side {
    pub drafts: u64,
    pub events: u64,
    pub escalated_drafts: u64,
    pub escalated_events: u64,
    pub escalation_rate: Option<f64>,
    pub qa_passed: u64,
    pub qa_pass_rate: Option<f64>,
    pub needing_approval: u64,
    pub needing_approval_share: Option<f64>,
    pub blocked: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Change {
    pub draft_id: String,
    pub subject: String,
    pub current: &'static str,
    pub candidate: &'static str,
    /// How far the verdict moved on the scale auto_send, veto_window,
    /// needs_approval, manual, escalate, blocked.
    pub steps: u8,
    /// `stricter` or `looser`.
    pub direction: &'static str,
    /// The rule that moved it: one that fires only under the stricter side
    /// and decides its verdict.
    pub rule: Option<String>,
    pub sent: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Comparison {
    pub current: Side,
    pub candidate: Side,
    /// Drafts that were sent and that the candidate would block.
    pub past_sends_blocked: u64,
    /// Drafts whose verdict differs.
    pub drafts_changed: u64,
    /// Events whose escalation differs.
    pub events_changed: u64,
    /// At most ten, the largest moves first.
    pub top_changes: Vec<Change>,
}

/// Where a verdict sits between sending alone and never sending.
fn rank(verdict: &Verdict) -> u8 {
    match verdict {
        Verdict::AutoSend => 0,
        Verdict::VetoWindow { .. } => 1,
        Verdict::NeedsApproval { .. } => 2,
        Verdict::Manual => 3,
        Verdict::Escalate { .. } => 4,
        Verdict::Blocked { .. } => 5,
    }
}

fn fired(evaluation: &Evaluation) -> BTreeSet<String> {
    evaluation
        .findings
        .iter()
        .map(|f| f.rule_id.to_string())
        .chain(evaluation.escalations.iter().map(|e| e.rule_id.to_string()))
        .collect()
}

/// The rules that decide `evaluation`'s verdict, most decisive first.
fn deciding(evaluation: &Evaluation) -> Vec<String> {
    match &evaluation.verdict {
        Verdict::Blocked { rule_ids } => rule_ids.iter().map(|r| r.to_string()).collect(),
        Verdict::Escalate { rule_id, .. } => vec![rule_id.to_string()],
        _ => evaluation
            .findings
            .iter()
            .filter(|f| f.severity == Severity::Review)
            .map(|f| f.rule_id.to_string())
            .collect(),
    }
}

fn responsible(stricter: &Evaluation, looser: &Evaluation) -> Option<String> {
    let only_stricter: BTreeSet<String> = fired(stricter)
        .difference(&fired(looser))
        .cloned()
        .collect();
    let decisive = deciding(stricter);
    decisive
        .iter()
        .find(|r| only_stricter.contains(*r))
        .or_else(|| decisive.first())
        .cloned()
}

fn share(part: u64, whole: u64) -> Option<f64> {
    (whole > 0).then(|| part as f64 / whole as f64)
}

fn side<'a>(
    drafts: impl Iterator<Item = &'a Evaluation>,
    events: impl Iterator<Item = bool>,
) -> Side {
    let mut s = Side::default();
    for evaluation in drafts {
        s.drafts += 1;
        match evaluation.verdict {
            Verdict::Escalate { .. } => s.escalated_drafts += 1,
            Verdict::NeedsApproval { .. } => s.needing_approval += 1,
            Verdict::Blocked { .. } => s.blocked += 1,
            _ => {}
        }
        if !evaluation
            .findings
            .iter()
            .any(|f| matches!(f.severity, Severity::Block | Severity::Review))
        {
            s.qa_passed += 1;
        }
    }
    for escalated in events {
        s.events += 1;
        s.escalated_events += u64::from(escalated);
    }
    s.escalation_rate = share(s.escalated_drafts + s.escalated_events, s.drafts + s.events);
    s.qa_pass_rate = share(s.qa_passed, s.drafts);
    s.needing_approval_share = share(s.needing_approval, s.drafts);
    s
}

pub fn compare(drafts: &[Replayed], events: &[ReplayedEvent]) -> Comparison {
    let current = side(
        drafts.iter().map(|d| &d.current),
        events.iter().map(|e| e.current.is_some()),
    );
    let candidate = side(
        drafts.iter().map(|d| &d.candidate),
        events.iter().map(|e| e.candidate.is_some()),
    );
    let past_sends_blocked = drafts
        .iter()
        .filter(|d| d.sent && matches!(d.candidate.verdict, Verdict::Blocked { .. }))
        .count() as u64;
    let mut changes: Vec<Change> = drafts
        .iter()
        .filter(|d| d.current.verdict.name() != d.candidate.verdict.name())
        .map(|d| {
            let (from, to) = (rank(&d.current.verdict), rank(&d.candidate.verdict));
            let stricter = to > from;
            let rule = if stricter {
                responsible(&d.candidate, &d.current)
            } else {
                responsible(&d.current, &d.candidate)
            };
            Change {
                draft_id: d.draft_id.clone(),
                subject: d.subject.clone(),
                current: d.current.verdict.name(),
                candidate: d.candidate.verdict.name(),
                steps: from.abs_diff(to),
                direction: if stricter { "stricter" } else { "looser" },
                rule,
                sent: d.sent,
            }
        })
        .collect();
    let drafts_changed = changes.len() as u64;
    // Largest moves first; sent drafts before unsent ones (a change there
    // is a change to what prospects received); then by id, so the list is
    // the same on every run.
    changes.sort_by(|a, b| {
        b.steps
            .cmp(&a.steps)
            .then(b.sent.cmp(&a.sent))
            .then(a.draft_id.cmp(&b.draft_id))
    });
    changes.truncate(10);
    Comparison {
        current,
        candidate,
        past_sends_blocked,
        drafts_changed,
        events_changed: events.iter().filter(|e| e.current != e.candidate).count() as u64,
        top_changes: changes,
    }
}
