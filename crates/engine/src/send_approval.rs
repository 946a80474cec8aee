//! The send-approval stage: the review queue a person works through, and
//! the queueing of drafts that go without one.
//!
//! Every decision goes through here, whoever makes it (the CLI, the web
//! UI's signed links): [`approve`], [`edit_and_approve`], [`reject`],
//! [`reassign`] and [`bulk_approve`]. Each is one store transaction with
//! its ledger entry; the rules on windows, blocks and single reviews are
//! the store's (`DraftRecord::check_review`), checked inside it, and the
//! claim re-checks everything before a message is handed to SMTP.
//!
//! A draft judged `auto_send` is queued at once; one judged `veto_window`
//! is queued for its window's end ([`after_judgement`]), and goes then
//! unless a person rejects or edits it, or an escalation for the prospect
//! cancels the timer (the claim holds it for a person's approval).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use handoff_domain::playbook::Mailbox;
use handoff_domain::policy::{Evaluation, Policy};
use handoff_domain::users::Username;
use handoff_domain::{DraftId, EmailAddress};
use handoff_mail::outbound::MessageId as RfcMessageId;
use handoff_store::{
    Approval, CommandContext, DraftRecord, DraftReview, Message, NewMessage, Prospect, QueueFilter,
    QueueState, QueuedDraft, ReviewDecision, Store, StoreError, verdicts,
};

use crate::governance::{context_from_json, draft_input};

#[derive(Debug, thiserror::Error)]
pub enum ReviewError {
    #[error("there is no draft {0}: `handoff queue list` shows the drafts waiting for review")]
    NoDraft(DraftId),
    /// The store refused the decision; the sentence says why (a closed
    /// window names when it closed).
    #[error("{0}")]
    Refused(String),
    #[error(
        "draft {draft}: the edited text still breaks a rule marked `block`, so it cannot be approved: {}; rewrite it or reject the draft",
        describe_findings(findings)
    )]
    StillBlocked {
        draft: DraftId,
        findings: Vec<QueueFinding>,
    },
    #[error(
        "there is no mailbox to send draft {0} from: add a [[mailbox]] to the playbook, or name one"
    )]
    NoMailbox(DraftId),
    #[error("cannot make a Message-ID in the domain of {mailbox}: {why}")]
    MessageId { mailbox: EmailAddress, why: String },
    #[error(transparent)]
    Store(StoreError),
}

impl From<StoreError> for ReviewError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::Refused { reason } => ReviewError::Refused(reason),
            StoreError::Conflict { what } => {
                ReviewError::Refused(format!("{what}: there is nothing left to approve"))
            }
            StoreError::NotFound { what } if what.starts_with("a user named") => {
                ReviewError::Refused(format!(
                    "there is no {}: add them with `handoff users add`",
                    what.trim_start_matches("a ")
                ))
            }
            other => ReviewError::Store(other),
        }
    }
}

fn describe_findings(findings: &[QueueFinding]) -> String {
    findings
        .iter()
        .map(|f| format!("{} on \"{}\" ({})", f.rule_id, f.text, f.message))
        .collect::<Vec<_>>()
        .join("; ")
}

/// Where an approved message is sent from.
#[derive(Debug, Clone, Copy)]
pub enum MailboxChoice<'a> {
    /// This address.
    Address(&'a EmailAddress),
    /// The playbook's mailbox owned by the prospect's owner, else its first.
    FromPlaybook(&'a [Mailbox]),
}

/// One governance finding as a reviewer sees it: the rule, where in which
/// text, what it matched and what to check.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueueFinding {
    pub rule_id: String,
    pub severity: String,
    /// `subject` or `body`.
    #[serde(default = "body_field")]
    pub field: String,
    /// Byte offsets into the field: `text == field[start..end]`.
    #[serde(default)]
    pub start: usize,
    #[serde(default)]
    pub end: usize,
    #[serde(default)]
    pub text: String,
    #[serde(default)]
    pub message: String,
}

fn body_field() -> String {
    "body".into()
}

/// A draft in a review queue, with everything its reviewer needs: the
/// findings at their spans, why it is held, the grounding trace, and the
/// contact and account it is for.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct QueueItem {
    #[serde(flatten)]
    pub queued: QueuedDraft,
    pub findings: Vec<QueueFinding>,
    /// Why it needs approval (`review_findings`, `below_confidence_floor`,
    /// …) as the evaluation said.
    pub because: Vec<String>,
    /// The escalation rules that matched when it was judged.
    pub escalations: Vec<Value>,
    /// The contact, its account, score and signals.
    pub prospect: Option<Prospect>,
}

impl QueueItem {
    pub fn id(&self) -> DraftId {
        self.queued.record.draft.id
    }

    pub fn record(&self) -> &DraftRecord {
        &self.queued.record
    }

    /// Whether the review window is still open at `now` (true when there
    /// is none).
    pub fn window_open(&self, now: DateTime<Utc>) -> bool {
        self.queued.record.review_deadline.is_none_or(|d| now <= d)
    }

    /// Why this draft is not one to bulk-approve, or None when it is clean:
    /// it needs approval (or may be vetoed) only because of its send
    /// authority; no finding, no low confidence, no escalation, its window
    /// open.
    pub fn not_clean(&self, now: DateTime<Utc>) -> Option<String> {
        let record = &self.queued.record;
        let verdict = record.verdict.as_deref().unwrap_or("unjudged");
        if !matches!(verdict, verdicts::NEEDS_APPROVAL | verdicts::VETO_WINDOW) {
            return Some(format!("judged {verdict}: a person decides it one by one"));
        }
        if !self.findings.is_empty() {
            return Some(format!("{} finding(s) to look at", self.findings.len()));
        }
        if self.because.iter().any(|b| b == "below_confidence_floor") {
            return Some("its confidence is below the playbook's floor".into());
        }
        if self.queued.escalated {
            return Some("an escalation was opened for the prospect since it was judged".into());
        }
        if !self.window_open(now) {
            return Some("its review window has closed".into());
        }
        None
    }
}

fn strings(value: Option<&Value>) -> Vec<String> {
    value
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

/// The stored findings, typed; entries the store kept but this version
/// cannot read are skipped rather than failing the whole queue.
pub fn findings_of(record: &DraftRecord) -> Vec<QueueFinding> {
    record
        .findings
        .as_array()
        .map(|items| {
            items
                .iter()
                .filter_map(|f| serde_json::from_value(f.clone()).ok())
                .collect()
        })
        .unwrap_or_default()
}

async fn item_of(store: &dyn Store, queued: QueuedDraft) -> Result<QueueItem, StoreError> {
    let evaluation = queued.record.evaluation.clone().unwrap_or(Value::Null);
    let prospect = store.prospect(queued.record.draft.contact_id).await?;
    Ok(QueueItem {
        findings: findings_of(&queued.record),
        because: strings(evaluation.get("because")),
        escalations: evaluation
            .get("escalations")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default(),
        prospect,
        queued,
    })
}

/// A queue: `owner`'s (everyone's when None), pending or expired, as of
/// `now`, oldest window first.
pub async fn queue_for(
    store: &dyn Store,
    owner: Option<&Username>,
    state: QueueState,
    now: DateTime<Utc>,
    limit: u32,
) -> Result<Vec<QueueItem>, ReviewError> {
    let queued = store
        .review_queue(&QueueFilter {
            owner: owner.cloned(),
            state,
            now,
            limit,
        })
        .await?;
    let mut items = Vec::with_capacity(queued.len());
    for q in queued {
        items.push(item_of(store, q).await?);
    }
    Ok(items)
}

/// One draft as its reviewer sees it.
pub async fn show(store: &dyn Store, draft: DraftId) -> Result<QueueItem, ReviewError> {
    let queued = store
        .queued_draft(draft)
        .await?
        .ok_or(ReviewError::NoDraft(draft))?;
    Ok(item_of(store, queued).await?)
}

/// The message an approved (or automatic) draft becomes, from the chosen
/// mailbox, due at `at`.
async fn new_message(
    store: &dyn Store,
    record: &DraftRecord,
    mailbox: MailboxChoice<'_>,
    at: DateTime<Utc>,
) -> Result<NewMessage, ReviewError> {
    let draft = record.draft.id;
    let address = match mailbox {
        MailboxChoice::Address(address) => address.clone(),
        MailboxChoice::FromPlaybook(mailboxes) => {
            let owner = store
                .get_contact(record.draft.contact_id)
                .await?
                .and_then(|c| c.owner);
            mailboxes
                .iter()
                .find(|m| Some(&m.owner) == owner.as_ref())
                .or_else(|| mailboxes.first())
                .map(|m| m.address.clone())
                .ok_or(ReviewError::NoMailbox(draft))?
        }
    };
    // A step the sequence threads replies in its enrolment's thread, from
    // that thread's mailbox.
    let (in_reply_to, address) = match thread_parent(store, &record.draft).await? {
        Some(parent) => (Some(parent.rfc_message_id), parent.mailbox),
        None => (None, address),
    };
    let rfc = RfcMessageId::generate(address.domain()).map_err(|e| ReviewError::MessageId {
        mailbox: address.clone(),
        why: e.to_string(),
    })?;
    Ok(NewMessage {
        draft_id: draft,
        contact_id: record.draft.contact_id,
        mailbox: address,
        rfc_message_id: rfc.as_str().to_string(),
        in_reply_to,
        scheduled_at: at,
    })
}

/// The message a threaded step replies to: the enrolment's last email out,
/// when its sequence marks the step `thread = true`.
async fn thread_parent(
    store: &dyn Store,
    draft: &handoff_store::Draft,
) -> Result<Option<Message>, ReviewError> {
    let Some(enrollment_id) = draft.enrollment_id else {
        return Ok(None);
    };
    let enrollments = store.list_enrollments(draft.contact_id).await?;
    let Some(enrollment) = enrollments.iter().find(|e| e.id == enrollment_id) else {
        return Ok(None);
    };
    let threads = store
        .list_sequences()
        .await?
        .iter()
        .find(|s| s.name == enrollment.sequence)
        .and_then(|s| s.steps.get(draft.step_index as usize).cloned())
        .and_then(|step| step.get("thread").and_then(serde_json::Value::as_bool))
        .unwrap_or(false);
    if !threads {
        return Ok(None);
    }
    Ok(store.thread_parent(enrollment_id).await?)
}

async fn record_of(store: &dyn Store, draft: DraftId) -> Result<DraftRecord, ReviewError> {
    store
        .draft_record(draft)
        .await?
        .ok_or(ReviewError::NoDraft(draft))
}

/// A person approves the draft as written: the approval and its message
/// (due now) in one transaction. A veto-window draft's queued message is
/// brought forward instead. Refused after the review window closed, for a
/// blocked draft, and for a draft already decided.
pub async fn approve(
    store: &dyn Store,
    ctx: &CommandContext,
    draft: DraftId,
    reviewer: &Username,
    mailbox: MailboxChoice<'_>,
) -> Result<Approval, ReviewError> {
    let record = record_of(store, draft).await?;
    let message = new_message(store, &record, mailbox, ctx.now).await?;
    Ok(store
        .approve_and_queue(
            ctx,
            draft,
            &DraftReview {
                decision: ReviewDecision::Approved,
                reviewer: reviewer.clone(),
            },
            &message,
        )
        .await?)
}

/// The draft, if a person may still edit it at `now`: not decided, sent or
/// expired, its window open. Lets an editor open only when the edit can be
/// recorded.
pub async fn open_for_edit(
    store: &dyn Store,
    draft: DraftId,
    now: DateTime<Utc>,
) -> Result<QueueItem, ReviewError> {
    let item = show(store, draft).await?;
    handoff_store::check_reassign(item.record())?;
    if let Some(deadline) = item.record().review_deadline.filter(|d| now > *d) {
        return Err(ReviewError::Refused(format!(
            "the review window of draft {draft} closed at {}: it can no longer be edited or approved, only rejected",
            deadline.format("%Y-%m-%d %H:%M UTC")
        )));
    }
    Ok(item)
}

/// What an edit came to.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum Edited {
    /// The text is the draft's own: nothing was recorded.
    Unchanged,
    /// Approved with the new text. `findings` are the review and note
    /// findings the edited text still has (the reviewer approved it with
    /// them in view).
    Approved {
        approval: Box<Approval>,
        edit_distance: f64,
        findings: Vec<QueueFinding>,
    },
}

/// Judges an edited text by the policy, on the facts the draft was judged
/// on (its stored context), at `now`.
pub fn rejudge(
    policy: &Policy,
    record: &DraftRecord,
    subject: &str,
    body: &str,
    now: DateTime<Utc>,
) -> Evaluation {
    let mut input = draft_input(record);
    input.subject = subject.to_string();
    input.body = body.to_string();
    let mut context = record
        .context
        .as_ref()
        .map(|c| context_from_json(c, now))
        .unwrap_or_else(|| handoff_domain::policy::Context::new(now));
    context.now = now;
    policy.evaluate(&input, &context)
}

/// A person approves the draft with their own text. The text is judged
/// again by the policy first: a `block` finding in it refuses the approval
/// with the rule; an unchanged text records nothing. The normalised edit
/// distance from the AI's text is recorded with the review.
#[allow(clippy::too_many_arguments)]
pub async fn edit_and_approve(
    store: &dyn Store,
    ctx: &CommandContext,
    policy: &Policy,
    draft: DraftId,
    reviewer: &Username,
    subject: &str,
    body: &str,
    mailbox: MailboxChoice<'_>,
) -> Result<Edited, ReviewError> {
    let record = record_of(store, draft).await?;
    if subject == record.draft.subject && body == record.draft.body {
        return Ok(Edited::Unchanged);
    }
    let evaluation = rejudge(policy, &record, subject, body, ctx.now);
    let findings: Vec<QueueFinding> = evaluation
        .findings
        .iter()
        .filter_map(|f| serde_json::to_value(f).ok())
        .filter_map(|f| serde_json::from_value(f).ok())
        .collect();
    let (blocking, kept): (Vec<_>, Vec<_>) =
        findings.into_iter().partition(|f| f.severity == "block");
    if !blocking.is_empty() {
        return Err(ReviewError::StillBlocked {
            draft,
            findings: blocking,
        });
    }
    let message = new_message(store, &record, mailbox, ctx.now).await?;
    let approval = store
        .approve_and_queue(
            ctx,
            draft,
            &DraftReview {
                decision: ReviewDecision::Edited {
                    final_subject: subject.to_string(),
                    final_body: body.to_string(),
                },
                reviewer: reviewer.clone(),
            },
            &message,
        )
        .await?;
    Ok(Edited::Approved {
        edit_distance: approval.record.edit_distance.unwrap_or(0.0),
        approval: Box::new(approval),
        findings: kept,
    })
}

/// A person rejects the draft, saying why: it is never sent, and a queued
/// message of it (a veto-window draft's) is cancelled in the same
/// transaction.
pub async fn reject(
    store: &dyn Store,
    ctx: &CommandContext,
    draft: DraftId,
    reviewer: &Username,
    reason: &str,
) -> Result<DraftRecord, ReviewError> {
    record_of(store, draft).await?;
    Ok(store.reject_draft(ctx, draft, reviewer, reason).await?)
}

/// Moves the draft's review to `to`'s queue.
pub async fn reassign(
    store: &dyn Store,
    ctx: &CommandContext,
    draft: DraftId,
    to: &Username,
) -> Result<QueueItem, ReviewError> {
    record_of(store, draft).await?;
    if store.find_user(to).await?.is_none() {
        return Err(ReviewError::Refused(format!(
            "there is no user named `{to}`: add them with `handoff users add {to}`"
        )));
    }
    let moved = store.reassign_draft(ctx, draft, to).await?;
    Ok(item_of(store, moved).await?)
}

/// Which drafts a bulk approval takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BulkFilter {
    /// Drafts with nothing for a person to look at ([`QueueItem::not_clean`]).
    Clean,
}

/// A draft a bulk approval did not approve, and why.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NotApproved {
    pub draft_id: DraftId,
    pub reason: String,
}

/// What a bulk approval did, draft by draft.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct BulkReport {
    pub approved: Vec<Approval>,
    /// Left for a person.
    pub skipped: Vec<NotApproved>,
    /// Clean, but the store refused (decided meanwhile, window closed).
    pub refused: Vec<NotApproved>,
}

/// Approves every draft of `owner`'s queue that `filter` takes, each in its
/// own transaction; the others are listed with why they were left.
pub async fn bulk_approve(
    store: &dyn Store,
    ctx: &CommandContext,
    owner: Option<&Username>,
    reviewer: &Username,
    mailbox: MailboxChoice<'_>,
    filter: BulkFilter,
) -> Result<BulkReport, ReviewError> {
    let mut report = BulkReport::default();
    let items = queue_for(store, owner, QueueState::Pending, ctx.now, 10_000).await?;
    for item in items {
        let BulkFilter::Clean = filter;
        if let Some(why) = item.not_clean(ctx.now) {
            report.skipped.push(NotApproved {
                draft_id: item.id(),
                reason: why,
            });
            continue;
        }
        match approve(store, ctx, item.id(), reviewer, mailbox).await {
            Ok(approval) => report.approved.push(approval),
            Err(ReviewError::Refused(why)) => report.refused.push(NotApproved {
                draft_id: item.id(),
                reason: why,
            }),
            Err(e) => return Err(e),
        }
    }
    Ok(report)
}

/// Queues the message of a draft the policy lets go without a person:
/// `auto_send` due now, `veto_window` due when its window ends. Other
/// verdicts wait for a person (None). Idempotent: a draft that already has
/// a message is left as it is.
pub async fn after_judgement(
    store: &dyn Store,
    ctx: &CommandContext,
    draft: DraftId,
    mailboxes: &[Mailbox],
) -> Result<Option<Message>, ReviewError> {
    let record = record_of(store, draft).await?;
    let at = match record.verdict.as_deref() {
        Some(verdicts::AUTO_SEND) => ctx.now,
        Some(verdicts::VETO_WINDOW) => record.review_deadline.unwrap_or(ctx.now),
        _ => return Ok(None),
    };
    let message = new_message(store, &record, MailboxChoice::FromPlaybook(mailboxes), at).await?;
    match store.queue_message(ctx, &message).await {
        Ok(queued) => Ok(Some(queued)),
        // Queued already (by another pass) or not sendable any more
        // (rejected, expired, sent): nothing to do.
        Err(StoreError::Conflict { .. } | StoreError::Refused { .. }) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// Queues every automatic draft left without a message (a crash between
/// judging and queueing leaves them so); returns what was queued.
pub async fn queue_unqueued(
    store: &dyn Store,
    ctx: &CommandContext,
    mailboxes: &[Mailbox],
) -> Result<Vec<Message>, ReviewError> {
    let mut queued = Vec::new();
    for record in store.unqueued_automatic(1_000).await? {
        if let Some(message) = after_judgement(store, ctx, record.draft.id, mailboxes).await? {
            queued.push(message);
        }
    }
    Ok(queued)
}
