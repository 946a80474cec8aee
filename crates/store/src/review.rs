//! The review queue (drafts waiting for a person) and the escalation inbox
//! (tasks for a person), as the store keeps them. Every decision is one
//! transaction with its ledger entries: an approval and its queued message,
//! a rejection and the message it cancels, a take-over and the enrolments
//! it stops.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::Serialize;

use handoff_domain::users::Username;
use handoff_domain::{ContactId, DraftId, EmailAddress, EscalationId};

use crate::types::{
    CommandContext, DraftRecord, DraftReview, Escalation, Message, NewEscalation, NewMessage,
    verdicts,
};
use crate::{StoreError, StoreResult};

/// Verdicts that put a draft in front of a person before it may go: it
/// needs an approval (or, for `veto_window`, may be vetoed).
pub const REVIEW_VERDICTS: [&str; 5] = [
    verdicts::NEEDS_APPROVAL,
    verdicts::VETO_WINDOW,
    verdicts::BLOCKED,
    verdicts::ESCALATE,
    verdicts::MANUAL,
];

/// Which drafts a queue lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum QueueState {
    /// Waiting for a person: judged with a [`REVIEW_VERDICTS`] verdict, not
    /// yet reviewed, sent or expired, its window (if any) still open, its
    /// prospect still handled by AI and its enrolment not stopped.
    Pending,
    /// Needed approval and were not approved in time: never sent. Includes
    /// drafts whose window closed before the worker marked them.
    Expired,
}

#[derive(Debug, Clone)]
pub struct QueueFilter {
    /// Whose queue: drafts reassigned to them, and drafts for contacts they
    /// own that were not reassigned. None lists everyone's.
    pub owner: Option<Username>,
    pub state: QueueState,
    /// The time windows are judged at.
    pub now: DateTime<Utc>,
    pub limit: u32,
}

/// A draft in a review queue, with what a reviewer needs beside it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct QueuedDraft {
    #[serde(flatten)]
    pub record: DraftRecord,
    /// Whose queue it is in: its assignee, else the contact's owner.
    pub owner: Option<Username>,
    /// Set when a person moved the review to someone.
    pub assignee: Option<Username>,
    /// Its live message, when one is queued (a veto-window draft waits for
    /// its window to end, a reviewed one for the sender).
    pub message: Option<Message>,
    /// An escalation was opened for the prospect after the draft was
    /// judged: a veto timer no longer runs, a person must approve.
    pub escalated: bool,
}

/// What an approval left: the reviewed draft and its message.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Approval {
    pub record: DraftRecord,
    pub message: Message,
    /// True when the message was already queued (a veto-window draft) and
    /// the approval brought it forward instead of queueing a new one.
    pub rescheduled: bool,
}

/// The review queue's commands. The rules on what may be reviewed are
/// [`DraftRecord::check_review`]'s, checked inside each transaction.
#[async_trait]
pub trait ReviewQueue: Send + Sync {
    /// Drafts of a queue, oldest window first (drafts without a window
    /// last), then by creation.
    async fn review_queue(&self, filter: &QueueFilter) -> StoreResult<Vec<QueuedDraft>>;
    /// One draft as a queue shows it; None for an unknown draft.
    async fn queued_draft(&self, draft: DraftId) -> StoreResult<Option<QueuedDraft>>;
    /// Records `review` (an approval or an edit) and queues `message`, in
    /// one transaction. A draft that already has a queued message (a
    /// veto-window draft queued for its window's end) keeps it, brought
    /// forward to `message.scheduled_at` when that is earlier (with a
    /// `message_rescheduled` entry). Refused for a rejection (see
    /// [`reject_draft`](Self::reject_draft)) and by `check_review`;
    /// Conflict when the draft's message is already sending, sent or in
    /// doubt.
    async fn approve_and_queue(
        &self,
        ctx: &CommandContext,
        draft: DraftId,
        review: &DraftReview,
        message: &NewMessage,
    ) -> StoreResult<Approval>;
    /// Records the rejection with its reason; a queued message of the draft
    /// fails (held: rejected) in the same transaction, so nothing of it is
    /// ever claimed.
    async fn reject_draft(
        &self,
        ctx: &CommandContext,
        draft: DraftId,
        reviewer: &Username,
        reason: &str,
    ) -> StoreResult<DraftRecord>;
    /// Moves the draft to `to`'s queue. Refused once it is reviewed, sent or
    /// expired; NotFound for an unknown user.
    async fn reassign_draft(
        &self,
        ctx: &CommandContext,
        draft: DraftId,
        to: &Username,
    ) -> StoreResult<QueuedDraft>;
    /// Drafts judged `auto_send` or `veto_window` that are not reviewed,
    /// sent, rejected or expired and have no live message, oldest first:
    /// what the drafting stage queues right after judging them (a crash in
    /// between leaves them here).
    async fn unqueued_automatic(&self, limit: u32) -> StoreResult<Vec<DraftRecord>>;
}

/// Which escalations an inbox lists (open ones only).
#[derive(Debug, Clone)]
pub struct InboxFilter {
    pub assignee: Option<Username>,
    /// Only those whose due time is before this.
    pub overdue_at: Option<DateTime<Utc>>,
    /// Also list-building approvals (normally decided with `handoff
    /// approvals`).
    pub include_approvals: bool,
    pub limit: u32,
}

/// An open or resolved escalation, with what the inbox shows beside it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct InboxItem {
    #[serde(flatten)]
    pub escalation: Escalation,
    /// The event that triggered it, when one did (as its opener gave it).
    pub signal: Option<serde_json::Value>,
    /// The draft an `escalate` verdict opened it for.
    pub draft_id: Option<DraftId>,
    /// The sequence a list-building approval is for.
    pub approval_for: Option<String>,
    pub taken_by: Option<Username>,
    pub taken_at: Option<DateTime<Utc>>,
    /// When it was found overdue and moved to the assignee's manager.
    pub overdue_at: Option<DateTime<Utc>>,
    /// The assignee it was moved from.
    pub escalated_from: Option<Username>,
    pub contact_email: Option<EmailAddress>,
    /// The person driving the prospect now, if one took it over.
    pub human_owner: Option<Username>,
}

/// What a take-over did.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TakeOver {
    pub item: InboxItem,
    pub enrollments_stopped: u64,
}

/// What a hand-back did.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HandBack {
    pub contact_id: ContactId,
    /// The taken escalations of the contact it resolved.
    pub resolved: Vec<EscalationId>,
    /// Enrolments of the contact that stay stopped: a hand-back never
    /// restarts them.
    pub still_stopped: u64,
}

/// An escalation the SLA timer moved.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OverdueEscalation {
    pub escalation_id: EscalationId,
    pub contact_id: Option<ContactId>,
    pub due_at: DateTime<Utc>,
    pub from: Option<Username>,
    /// The manager it went to; None when there was none.
    pub to: Option<Username>,
}

/// The escalation inbox's commands.
#[async_trait]
pub trait Inbox: Send + Sync {
    /// Open escalations matching `filter`: most urgent first, then by due
    /// time (none last), then oldest.
    async fn inbox(&self, filter: &InboxFilter) -> StoreResult<Vec<InboxItem>>;
    /// One escalation, open or resolved.
    async fn inbox_item(&self, id: EscalationId) -> StoreResult<Option<InboxItem>>;
    /// Opens an escalation that an event triggered; `signal` describes the
    /// event (kind, id, what it said) and is shown with the task.
    async fn open_signalled_escalation(
        &self,
        ctx: &CommandContext,
        escalation: &NewEscalation,
        signal: &serde_json::Value,
    ) -> StoreResult<Escalation>;
    /// `by` takes the escalation's prospect over, in one transaction: the
    /// contact becomes human-owned, every active or paused enrolment of it
    /// stops (`taken_over`), and the escalation is assigned to `by`.
    /// NotFound for an escalation that is not open; Refused for one about
    /// no contact, or a prospect someone already took over.
    async fn take_over(
        &self,
        ctx: &CommandContext,
        id: EscalationId,
        by: &Username,
    ) -> StoreResult<TakeOver>;
    /// Returns a human-owned prospect to AI with `note` in the ledger, and
    /// resolves the contact's open escalations that were taken. Enrolments
    /// stay as they are. Refused when no person owns the prospect.
    async fn hand_back(
        &self,
        ctx: &CommandContext,
        contact: ContactId,
        by: &Username,
        note: &str,
    ) -> StoreResult<HandBack>;
    /// Open escalations due before `now` and not yet moved go to their
    /// assignee's manager, each once, with an `escalation_overdue` entry.
    async fn escalate_overdue(
        &self,
        ctx: &CommandContext,
        now: DateTime<Utc>,
    ) -> StoreResult<Vec<OverdueEscalation>>;
}

/// The refusal for a review a queue cannot take (the same sentence on both
/// backends).
pub fn refuse_rejection_as_approval(draft: DraftId) -> StoreError {
    StoreError::Refused {
        reason: format!(
            "draft {draft}: a rejection is recorded with its reason (reject_draft), not as an approval"
        ),
    }
}

/// Why a reassignment is refused, if it is.
pub fn check_reassign(record: &DraftRecord) -> StoreResult<()> {
    let id = record.draft.id;
    let refused = |why: String| Err(StoreError::Refused { reason: why });
    if record.sent_at.is_some() {
        return refused(format!("draft {id} was sent: there is nothing to review"));
    }
    if let Some(by) = &record.reviewed_by {
        return refused(format!(
            "draft {id} was already {} by {by}: there is nothing to review",
            record.draft.review_state
        ));
    }
    if record.draft.review_state == "expired" {
        return refused(format!(
            "draft {id} expired without approval: there is nothing to review"
        ));
    }
    Ok(())
}

/// The hold a rejection puts on the draft's queued message.
pub fn rejection_hold(draft: DraftId, reviewer: &Username, reason: &str) -> crate::MessageFailure {
    crate::MessageFailure::Held {
        hold: crate::HoldReason::DraftRefused {
            reason: format!("draft {draft} was rejected by {reviewer}: {reason}"),
        },
    }
}

/// A rejection's reason, trimmed; refused when empty (the reviewer's
/// "why" is what the drafter and the owner learn from).
pub fn rejection_reason(reason: &str) -> StoreResult<String> {
    let reason = reason.trim();
    if reason.is_empty() {
        return Err(StoreError::Refused {
            reason: "a rejection needs a reason: say why the draft must not go (e.g. --reason \"wrong person\")".into(),
        });
    }
    Ok(reason.to_string())
}

/// A hand-back's note, trimmed; refused when empty.
pub fn hand_back_note(note: &str) -> StoreResult<String> {
    let note = note.trim();
    if note.is_empty() {
        return Err(StoreError::Refused {
            reason: "a hand-back needs a note for whoever picks the prospect up next (e.g. --note \"not now; try again in Q3\")".into(),
        });
    }
    Ok(note.to_string())
}

/// The refusal for taking over a prospect a person already owns.
pub fn already_taken_over(
    email: &str,
    owner: Option<&str>,
    since: Option<DateTime<Utc>>,
) -> StoreError {
    StoreError::Refused {
        reason: format!(
            "{email} was already taken over by {}{}: they own the prospect until they hand it back (`handoff inbox hand-back`)",
            owner.unwrap_or("a person"),
            since
                .map(|t| format!(" at {}", t.format("%Y-%m-%d %H:%M UTC")))
                .unwrap_or_default()
        ),
    }
}

/// The refusal for handing back a prospect AI already handles.
pub fn not_taken_over(email: &str) -> StoreError {
    StoreError::Refused {
        reason: format!(
            "{email} is handled by AI already: only a prospect a person took over can be handed back"
        ),
    }
}
