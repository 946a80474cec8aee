//! The scheduler and circuit breakers as both backends apply them: what a
//! backend reads in the claim's transaction, the one rule that turns those
//! facts into "claim it from this mailbox" or "hold it until T", and what a
//! tripped breaker writes.

use async_trait::async_trait;
use chrono::{DateTime, Duration, Utc};
use serde::Serialize;
use sha2::{Digest, Sha256};

use handoff_domain::escalation::{Priority, Stage};
use handoff_domain::schedule::{
    self, Decision, Health, Location, MailboxFacts, MailboxRules, Request, SendPolicy, Trip,
};
use handoff_domain::users::Username;
use handoff_domain::{EnrollmentId, Event};

use crate::types::{Message, NewEscalation};
use crate::{CommandContext, HoldReason, RECHECK_AFTER, StoreResult};

/// Sending's pacing state and the circuit breakers.
#[async_trait]
pub trait Scheduling: Send + Sync {
    /// Records the playbook's sending rules for every process on this
    /// database (and for the breakers), with a `send_policy_recorded`
    /// entry when they changed, and a state row for each mailbox. Returns
    /// whether they changed. Until rules are recorded, claims apply no
    /// pacing (a store used without a playbook).
    async fn record_send_policy(
        &self,
        ctx: &CommandContext,
        policy: &SendPolicy,
    ) -> StoreResult<bool>;
    async fn send_policy(&self) -> StoreResult<Option<SendPolicy>>;
    /// Every mailbox with a state row, in address order, as of `now`.
    async fn mailbox_states(&self, now: DateTime<Utc>) -> StoreResult<Vec<MailboxState>>;
    /// Paused sequences, by name.
    async fn paused_sequences(&self) -> StoreResult<Vec<Paused>>;
    /// A person resumes a paused mailbox: its queued messages are due at
    /// once (and scheduled again), the breaker's open escalation is
    /// resolved. NotFound for an unknown mailbox, Refused if not paused.
    async fn resume_mailbox(
        &self,
        ctx: &CommandContext,
        address: &str,
        reason: &str,
    ) -> StoreResult<()>;
    /// The same for a sequence.
    async fn resume_sequence(
        &self,
        ctx: &CommandContext,
        name: &str,
        reason: &str,
    ) -> StoreResult<()>;
    /// The newest message of the enrolment that went out (sent, or in
    /// doubt): the thread a follow-up step replies in.
    async fn thread_parent(&self, enrollment: EnrollmentId) -> StoreResult<Option<Message>>;
}

/// Why and since when something is paused.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Paused {
    pub name: String,
    pub at: DateTime<Utc>,
    pub reason: String,
}

/// A mailbox as the scheduler sees it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MailboxState {
    pub address: String,
    /// The first send ever: warm-up counts from its day.
    pub first_send: Option<DateTime<Utc>>,
    pub last_send: Option<DateTime<Utc>>,
    /// Sends in the mailbox's current day (the recorded policy's zone).
    pub sent_today: u32,
    pub paused: Option<Paused>,
    /// Sends, bounces and complaints the breaker judges now.
    pub health: Health,
}

/// How the claim goes on with a message once the send check passed.
#[derive(Debug, Clone, PartialEq)]
pub enum Plan {
    /// Claim it, from this mailbox.
    SendFrom(String),
    Hold(HoldReason),
}

/// One mailbox a message could go from, with its state.
#[derive(Debug, Clone)]
pub struct Candidate<'a> {
    pub rules: &'a MailboxRules,
    pub facts: MailboxFacts,
}

/// The one rule: among the candidate mailboxes (the thread's for a
/// follow-up, else the owner's in rotation, the message's own first), the
/// first that may send now; else a hold until the soonest one may, with
/// that one's reasons.
pub fn plan(
    policy: &SendPolicy,
    queued_from: &str,
    candidates: &[Candidate<'_>],
    recipient: Location,
    last_to_contact: Option<DateTime<Utc>>,
    seed: &[u8],
    now: DateTime<Utc>,
) -> Plan {
    let mut soonest: Option<(DateTime<Utc>, Vec<schedule::Wait>)> = None;
    for candidate in candidates {
        let decision = schedule::decide(&Request {
            policy,
            mailbox: candidate.rules,
            facts: &candidate.facts,
            recipient,
            last_to_contact,
            seed,
            now,
        });
        match decision {
            Decision::SendNow => return Plan::SendFrom(candidate.rules.address.clone()),
            Decision::NotBefore { at, why } => {
                if soonest.as_ref().is_none_or(|(best, _)| at < *best) {
                    soonest = Some((at, why));
                }
            }
        }
    }
    match soonest {
        Some((until, why)) => Plan::Hold(HoldReason::Paced {
            waits: why.iter().fold(Vec::new(), |mut kinds, wait| {
                if !kinds.iter().any(|k: &String| k == wait.kind()) {
                    kinds.push(wait.kind().to_string());
                }
                kinds
            }),
            reason: schedule::describe_hold(&why, until, &recipient),
            until: crate::to_micros(until),
        }),
        None => Plan::Hold(HoldReason::NotYet {
            reason: format!(
                "mailbox {queued_from} has no [[mailbox]] block in the playbook; add one (or queue from another mailbox)"
            ),
            until: crate::to_micros(now + RECHECK_AFTER),
        }),
    }
}

/// A message of a paused sequence waits for a person.
pub fn sequence_paused(name: &str, reason: &str, now: DateTime<Utc>) -> HoldReason {
    HoldReason::Paced {
        waits: vec!["paused".into()],
        reason: format!(
            "sequence {name} is paused ({reason}); resume it with `handoff sequences resume {name}`"
        ),
        until: crate::to_micros(now + schedule::PAUSED_RECHECK),
    }
}

/// The stored form of a policy, and its fingerprint.
pub fn policy_json(policy: &SendPolicy) -> (String, String) {
    // Plain data (strings, numbers, dates): serialising cannot fail.
    let json = serde_json::to_string(policy).unwrap_or_default();
    let digest = Sha256::digest(json.as_bytes());
    let fingerprint = digest.iter().take(8).map(|b| format!("{b:02x}")).collect();
    (json, fingerprint)
}

pub fn parse_policy(json: &str) -> StoreResult<SendPolicy> {
    serde_json::from_str(json).map_err(|_| crate::StoreError::corrupt("recorded send policy"))
}

/// Which breaker: a mailbox's or a sequence's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    Mailbox,
    Sequence,
}

impl Scope {
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Mailbox => "mailbox",
            Scope::Sequence => "sequence",
        }
    }
}

/// The rule id of breaker escalations.
pub const BREAKER_RULE: &str = "circuit-breaker";

/// Where a breaker's judgement starts: the window, and never before the
/// last resume.
pub fn health_since(
    policy: &SendPolicy,
    resumed_at: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> DateTime<Utc> {
    let window = now - Duration::days(i64::from(policy.breaker.window_days));
    resumed_at.map_or(window, |resumed| resumed.max(window))
}

/// What a tripped breaker writes: the pause's ledger entry and the
/// escalation for the owner (`assignee`, when they are a known user).
pub fn tripped(
    scope: Scope,
    name: &str,
    trip: &Trip,
    policy: &SendPolicy,
    assignee: Option<Username>,
) -> (String, Event, NewEscalation, serde_json::Value) {
    let reason = trip.describe(policy.breaker.window_days);
    let event = Event::SendingPaused {
        scope: scope.as_str().into(),
        name: name.to_string(),
        reason: reason.clone(),
    };
    let resume = match scope {
        Scope::Mailbox => format!("handoff mailboxes resume {name} --reason \"…\""),
        Scope::Sequence => format!("handoff sequences resume {name} --reason \"…\""),
    };
    let escalation = NewEscalation {
        contact_id: None,
        stage: Stage::SendApproval,
        rule_id: BREAKER_RULE.into(),
        reason: format!(
            "{} {name} paused itself: {reason}. Its messages stay queued; find the cause, then `{resume}`",
            scope.as_str()
        ),
        priority: Priority::High,
        assignee,
        due_at: None,
    };
    let context = serde_json::json!({ "scope": scope.as_str(), "name": name });
    (reason, event, escalation, context)
}

/// `<id@host>` and `id@host` name the same message.
pub fn bare_message_id(raw: &str) -> &str {
    raw.trim().trim_start_matches('<').trim_end_matches('>')
}

/// Message states that count as handed to a server, for caps and spacing.
pub const CLAIMED_STATES: &str = "('sending', 'sent', 'in_doubt', 'failed')";

/// The thread a follow-up continues: the first message's subject and the
/// Message-IDs so far, oldest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ThreadInfo {
    pub root_subject: String,
    pub references: Vec<String>,
}

/// Threads deeper than this are cut (at the oldest end).
pub const MAX_THREAD_DEPTH: usize = 20;
