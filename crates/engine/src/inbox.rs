//! The escalation inbox: tasks AI hands to people, with their reason,
//! rule, signal, assignee, priority and due time. A person takes a
//! prospect over (automation stops for them) or hands them back to AI with
//! a note; the SLA timer ([`escalate_overdue`]) moves a task nobody
//! resolved in time to the assignee's manager.
//!
//! A hand-back never restarts the enrolments the take-over stopped: the
//! person who hands a prospect back enrols them again if AI should go on
//! writing to them (`handoff enroll`), so nothing is sent on a stale plan.

use chrono::{DateTime, Utc};

use handoff_domain::users::Username;
use handoff_domain::{ContactId, EscalationId};
use handoff_store::{
    CommandContext, Escalation, HandBack, InboxFilter, InboxItem, OverdueEscalation, Store,
    StoreError, TakeOver,
};

#[derive(Debug, thiserror::Error)]
pub enum InboxError {
    #[error("there is no open escalation {0}: `handoff inbox list` shows the open ones")]
    NoTask(EscalationId),
    #[error("{0}")]
    Refused(String),
    #[error(transparent)]
    Store(StoreError),
}

impl From<StoreError> for InboxError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::Refused { reason } => InboxError::Refused(reason),
            StoreError::NotFound { what } if what.starts_with("a user named") => {
                InboxError::Refused(format!(
                    "there is no {}: add them with `handoff users add`",
                    what.trim_start_matches("a ")
                ))
            }
            other => InboxError::Store(other),
        }
    }
}

/// Whose tasks, and which.
#[derive(Debug, Clone, Default)]
pub struct InboxQuery {
    pub assignee: Option<Username>,
    /// Only tasks past their due time.
    pub overdue: bool,
    /// Also list-building approvals (normally `handoff approvals list`).
    pub include_approvals: bool,
}

/// Open tasks, most urgent first, then by due time.
pub async fn list(
    store: &dyn Store,
    query: &InboxQuery,
    now: DateTime<Utc>,
) -> Result<Vec<InboxItem>, InboxError> {
    Ok(store
        .inbox(&InboxFilter {
            assignee: query.assignee.clone(),
            overdue_at: query.overdue.then_some(now),
            include_approvals: query.include_approvals,
            limit: 10_000,
        })
        .await?)
}

/// Whether an open task is past its due time at `now`.
pub fn is_overdue(item: &InboxItem, now: DateTime<Utc>) -> bool {
    item.escalation.resolved_at.is_none() && item.escalation.due_at.is_some_and(|d| d < now)
}

/// One task, open or resolved.
pub async fn show(store: &dyn Store, id: EscalationId) -> Result<InboxItem, InboxError> {
    store.inbox_item(id).await?.ok_or(InboxError::NoTask(id))
}

/// `by` takes the task's prospect over: human-owned from now, every
/// enrolment stopped (`taken_over`), the task assigned to them; one
/// transaction.
pub async fn take(
    store: &dyn Store,
    ctx: &CommandContext,
    id: EscalationId,
    by: &Username,
) -> Result<TakeOver, InboxError> {
    if store.find_user(by).await?.is_none() {
        return Err(InboxError::Refused(format!(
            "there is no user named `{by}`: set HANDOFF_USER to a user (`handoff users list`)"
        )));
    }
    store.take_over(ctx, id, by).await.map_err(|e| match e {
        StoreError::NotFound { .. } => InboxError::NoTask(id),
        other => other.into(),
    })
}

/// What to hand back: a task (its prospect) or a prospect.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HandBackTarget {
    Task(EscalationId),
    Contact(ContactId),
}

/// Returns a human-owned prospect to AI, with `note` in the ledger, and
/// resolves their taken tasks. Stopped enrolments stay stopped.
pub async fn hand_back(
    store: &dyn Store,
    ctx: &CommandContext,
    target: HandBackTarget,
    by: &Username,
    note: &str,
) -> Result<HandBack, InboxError> {
    let contact = match target {
        HandBackTarget::Contact(contact) => contact,
        HandBackTarget::Task(id) => {
            show(store, id)
                .await?
                .escalation
                .contact_id
                .ok_or_else(|| {
                    InboxError::Refused(format!(
                        "escalation {id} is about no prospect: there is nobody to hand back"
                    ))
                })?
        }
    };
    Ok(store.hand_back(ctx, contact, by, note).await?)
}

/// Closes a task with what was done about it.
pub async fn resolve(
    store: &dyn Store,
    ctx: &CommandContext,
    id: EscalationId,
    resolution: &str,
) -> Result<Escalation, InboxError> {
    let resolution = resolution.trim();
    if resolution.is_empty() {
        return Err(InboxError::Refused(
            "a resolution says what was done (e.g. --resolution \"booked a call for Tuesday\")"
                .into(),
        ));
    }
    store
        .resolve_escalation(ctx, id, resolution)
        .await
        .map_err(|e| match e {
            StoreError::NotFound { .. } => InboxError::NoTask(id),
            other => other.into(),
        })
}

/// The SLA timer, one pass at `ctx.now`: every open task past its due time
/// goes to its assignee's manager, once, with an `escalation_overdue`
/// entry. Workers call it every round; tests call it with the clock they
/// want.
pub async fn escalate_overdue(
    store: &dyn Store,
    ctx: &CommandContext,
) -> Result<Vec<OverdueEscalation>, InboxError> {
    Ok(store.escalate_overdue(ctx, ctx.now).await?)
}
