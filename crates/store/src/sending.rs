//! The sending lifecycle's types and the one rule both backends apply when
//! they claim a message: `queued → sending → sent | failed | in_doubt`.

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use handoff_domain::EmailAddress;
use handoff_domain::enrollment::StopReason;

use crate::types::{DraftRecord, Message, SendOutcome};
use crate::{StoreError, StoreResult};

/// Why a message is not handed to SMTP at claim time.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum HoldReason {
    /// A stop condition (reply, unsubscribe, bounce, complaint, take-over)
    /// ended automation for the contact.
    Stopped { reason: StopReason },
    /// The address is on the suppression list.
    Suppressed,
    /// A person took the prospect over.
    HumanOwned,
    /// The draft may never go: rejected, expired, or already sent.
    DraftRefused { reason: String },
    /// Not yet: a veto window is still open, or an approval is missing.
    /// The message stays queued and is looked at again at `until`.
    NotYet {
        reason: String,
        until: DateTime<Utc>,
    },
    /// The scheduler's hold: a closed send window, a day off, a full daily
    /// cap, spacing, the per-contact frequency cap, or a paused mailbox or
    /// sequence. Queued until `until`. `waits` are the kinds (`window`,
    /// `cap`, `spacing`, `frequency`, `paused`).
    Paced {
        waits: Vec<String>,
        reason: String,
        until: DateTime<Utc>,
    },
}

impl HoldReason {
    /// Permanent holds fail the message; `NotYet` keeps it queued.
    pub fn is_permanent(&self) -> bool {
        !matches!(self, HoldReason::NotYet { .. } | HoldReason::Paced { .. })
    }

    /// When a message held for a passing reason is looked at again.
    pub fn until(&self) -> Option<DateTime<Utc>> {
        match self {
            HoldReason::NotYet { until, .. } | HoldReason::Paced { until, .. } => Some(*until),
            _ => None,
        }
    }

    pub fn describe(&self) -> String {
        match self {
            HoldReason::Stopped { reason } => {
                format!("automation stopped for the contact ({})", reason.as_str())
            }
            HoldReason::Suppressed => "the address is suppressed".into(),
            HoldReason::HumanOwned => "a person took the prospect over".into(),
            HoldReason::DraftRefused { reason }
            | HoldReason::NotYet { reason, .. }
            | HoldReason::Paced { reason, .. } => reason.clone(),
        }
    }
}

/// Why a message failed for good (the `failed` state). Nothing was
/// delivered: a failure after the body was handed over is `in_doubt`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum MessageFailure {
    /// Held at claim time for a reason that will not change.
    Held { hold: HoldReason },
    /// The server refused it for good (5xx).
    Rejected { code: u16, reply: String },
    /// It cannot be built or sent as it is (bad address, bad
    /// configuration, a refused login, TLS that cannot be set up).
    Unsendable { reason: String },
    /// Temporary failures until the attempts ran out.
    GaveUp { attempts: u32, last_error: String },
}

impl MessageFailure {
    pub fn kind(&self) -> &'static str {
        match self {
            MessageFailure::Held { .. } => "held",
            MessageFailure::Rejected { .. } => "rejected",
            MessageFailure::Unsendable { .. } => "unsendable",
            MessageFailure::GaveUp { .. } => "gave_up",
        }
    }

    pub fn describe(&self) -> String {
        match self {
            MessageFailure::Held { hold } => hold.describe(),
            MessageFailure::Rejected { code, reply } => format!("refused with {code}: {reply}"),
            MessageFailure::Unsendable { reason } => reason.clone(),
            MessageFailure::GaveUp {
                attempts,
                last_error,
            } => format!("gave up after {attempts} attempts: {last_error}"),
        }
    }
}

/// What `claim_messages` is asked.
#[derive(Debug, Clone)]
pub struct MessageClaim {
    pub now: DateTime<Utc>,
    pub lease: Duration,
    pub limit: u32,
    /// Names the process holding the lease (host and pid, say).
    pub worker: String,
}

/// A message leased for sending, with what it needs to be composed.
#[derive(Debug, Clone, PartialEq)]
pub struct ClaimedMessage {
    pub message: Message,
    /// Fences the outcome: only this claim may record it.
    pub lease_token: String,
    pub lease_until: DateTime<Utc>,
    /// Counting this one.
    pub attempts: u32,
    pub to: EmailAddress,
    pub to_name: Option<String>,
    /// The text the send check allowed (a reviewer's edit, or the draft's).
    pub subject: String,
    pub body: String,
    pub edit_distance: f64,
    /// For a follow-up: the thread it continues (its subject becomes
    /// "Re: " the first message's, with In-Reply-To and References).
    pub thread: Option<crate::ThreadInfo>,
}

/// A due message that was not claimed, and why.
#[derive(Debug, Clone, PartialEq)]
pub struct HeldMessage {
    pub message: Message,
    pub reason: HoldReason,
    /// True when the hold failed the message (a permanent reason).
    pub failed: bool,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct ClaimedMessages {
    pub claimed: Vec<ClaimedMessage>,
    pub held: Vec<HeldMessage>,
}

/// Whether an outcome was recorded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fenced {
    Recorded,
    /// The claim's lease is gone (recovered as in_doubt, or another claim
    /// holds it): nothing changed.
    LeaseLost,
}

/// A message that a crash left unresolved, for a person to check.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct InDoubtMessage {
    #[serde(flatten)]
    pub message: Message,
    pub to: EmailAddress,
    pub reason: String,
}

/// What a backend reads, inside the claim transaction, about the contact.
#[derive(Debug, Clone, Default)]
pub struct StopFacts {
    /// A stop reason on the draft's own enrolment, or a contact-wide one
    /// (any but `manual`) on another of the contact's enrolments.
    pub stopped: Option<StopReason>,
    pub suppressed: bool,
    pub human_owned: bool,
}

/// How long a message that is not yet allowed waits before it is looked at
/// again, when nothing better is known.
pub const RECHECK_AFTER: Duration = Duration::minutes(15);

/// The claim rule: stop conditions first (they are final), then the
/// draft's own send check (DESIGN.md §4, invariants 1 and 2).
pub fn send_check(
    facts: &StopFacts,
    record: &DraftRecord,
    now: DateTime<Utc>,
    escalated: bool,
) -> Result<SendOutcome, HoldReason> {
    if let Some(reason) = facts.stopped {
        return Err(HoldReason::Stopped { reason });
    }
    if facts.suppressed {
        return Err(HoldReason::Suppressed);
    }
    if facts.human_owned {
        return Err(HoldReason::HumanOwned);
    }
    match record.check_send(now, escalated) {
        Ok(outcome) => Ok(outcome),
        Err(e) => {
            let reason = match e {
                StoreError::Refused { reason } => reason,
                other => other.to_string(),
            };
            let final_state = record.sent_at.is_some()
                || matches!(record.draft.review_state.as_str(), "rejected" | "expired");
            if final_state {
                return Err(HoldReason::DraftRefused { reason });
            }
            let until = record
                .review_deadline
                .filter(|d| *d > now && !escalated)
                .unwrap_or(now + RECHECK_AFTER);
            Err(HoldReason::NotYet { reason, until })
        }
    }
}

/// Parses a stored stop reason.
pub fn parse_stop_reason(raw: &str) -> StoreResult<StopReason> {
    serde_json::from_value(serde_json::Value::String(raw.to_string()))
        .map_err(|_| StoreError::corrupt("enrolment stop reason"))
}
