use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::provenance::Provenance;
use crate::{StoreError, StoreResult};

use handoff_domain::enrollment::EnrollmentState;
use handoff_domain::escalation::{Priority, Stage};
use handoff_domain::jobs::{JobKind, JobState};
use handoff_domain::playbook::PolicyVersion;
use handoff_domain::text::normalized_edit_distance;
use handoff_domain::users::{Role, Username};
use handoff_domain::verification::Verdict;
use handoff_domain::{
    AccountId, Actor, ContactId, DraftId, EmailAddress, EnrollmentId, EscalationId, Event,
    ImportId, InboundEventId, JobId, LedgerEntryId, MessageId, UserId,
};

/// Who is acting and under which policy: stamped on every ledger entry the
/// command writes.
#[derive(Debug, Clone)]
pub struct CommandContext {
    pub actor: Actor,
    pub policy_version: Option<PolicyVersion>,
    pub now: DateTime<Utc>,
}

impl CommandContext {
    pub fn new(actor: Actor, policy_version: Option<PolicyVersion>) -> Self {
        Self {
            actor,
            policy_version,
            now: to_micros(Utc::now()),
        }
    }

    /// The same actor and policy at another time (workers, dry runs).
    pub fn at(&self, now: DateTime<Utc>) -> Self {
        Self {
            now: to_micros(now),
            ..self.clone()
        }
    }
}

/// Both backends keep microseconds; truncating up front means a value reads
/// back equal to what was written.
pub fn to_micros(t: DateTime<Utc>) -> DateTime<Utc> {
    DateTime::from_timestamp_micros(t.timestamp_micros()).unwrap_or(t)
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LedgerEntry {
    pub id: LedgerEntryId,
    pub at: DateTime<Utc>,
    pub actor: Actor,
    pub kind: String,
    pub contact_id: Option<ContactId>,
    pub account_id: Option<AccountId>,
    pub user_id: Option<UserId>,
    pub job_id: Option<JobId>,
    pub policy_version: Option<String>,
    pub event: Event,
}

#[derive(Debug, Clone, Default)]
pub struct LedgerFilter {
    pub contact_id: Option<ContactId>,
    pub kind: Option<String>,
    /// Only entries after this id (for following the ledger).
    pub after: Option<LedgerEntryId>,
    pub limit: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MigrationReport {
    pub from_version: i64,
    pub to_version: i64,
    pub applied: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SchemaStatus {
    /// Newest migration applied to the database (0 for an empty one).
    pub database_version: i64,
    /// Newest migration this binary carries.
    pub binary_version: i64,
}

impl SchemaStatus {
    pub fn is_current(&self) -> bool {
        self.database_version == self.binary_version
    }
}

#[derive(Debug, Clone)]
pub struct NewUser {
    pub username: Username,
    pub display_name: String,
    pub email: Option<EmailAddress>,
    pub role: Role,
    pub manager: Option<Username>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct User {
    pub id: UserId,
    pub username: Username,
    pub display_name: String,
    pub email: Option<EmailAddress>,
    pub role: Role,
    pub manager: Option<Username>,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone)]
pub struct NewAccount {
    pub domain: String,
    pub name: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Account {
    pub id: AccountId,
    pub domain: String,
    pub name: String,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone)]
pub struct NewContact {
    pub email: EmailAddress,
    pub first_name: String,
    pub last_name: String,
    pub title: String,
    pub account_id: Option<AccountId>,
    pub owner: Option<Username>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Contact {
    pub id: ContactId,
    pub email: EmailAddress,
    pub first_name: String,
    pub last_name: String,
    pub title: String,
    pub seniority: Option<String>,
    pub department: Option<String>,
    pub phone: Option<String>,
    pub linkedin_url: Option<String>,
    pub city: Option<String>,
    pub country: Option<String>,
    pub company: Option<String>,
    pub account_id: Option<AccountId>,
    pub owner: Option<Username>,
    /// Per field: the import, file and row its value came from (in JSON,
    /// a map from field to source).
    #[serde(serialize_with = "crate::provenance::serialize_by_field")]
    pub field_sources: Provenance,
    pub verification: Option<Verdict>,
    pub verified_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

/// A sequence as the database keeps it: the playbook's definition, by name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SequenceDef {
    pub name: String,
    pub sequence_type: String,
    /// The steps as JSON, exactly as the playbook parsed them.
    pub steps: serde_json::Value,
    pub step_count: usize,
}

#[derive(Debug, Clone)]
pub struct NewJob {
    pub kind: JobKind,
    pub payload: serde_json::Value,
    pub run_at: DateTime<Utc>,
    pub max_attempts: i32,
}

impl NewJob {
    pub fn now(kind: JobKind, payload: serde_json::Value, now: DateTime<Utc>) -> Self {
        Self {
            kind,
            payload,
            run_at: now,
            max_attempts: 5,
        }
    }
}

#[derive(Debug, Clone)]
pub struct ClaimRequest {
    pub worker: String,
    pub kinds: Vec<JobKind>,
    pub limit: u32,
    pub lease: chrono::Duration,
    pub now: DateTime<Utc>,
}

/// A job leased to one worker. `lease_token` fences it: only the holder of
/// the newest lease can record an outcome.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ClaimedJob {
    pub id: JobId,
    pub kind: JobKind,
    pub payload: serde_json::Value,
    /// This attempt, counting from 1.
    pub attempt: i32,
    pub max_attempts: i32,
    pub lease_token: String,
    pub locked_until: DateTime<Utc>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Completion {
    Done,
    RetryAt(DateTime<Utc>),
    Dead,
    /// The lease expired and another worker holds the job now; this
    /// worker's outcome was discarded.
    LeaseLost,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct JobCount {
    pub kind: String,
    pub state: JobState,
    pub count: u64,
}

#[derive(Debug, Clone, Default)]
pub struct JobFilter {
    pub state: Option<JobState>,
    pub limit: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Job {
    pub id: JobId,
    pub kind: String,
    pub state: JobState,
    pub payload: serde_json::Value,
    pub run_at: DateTime<Utc>,
    pub attempts: i32,
    pub max_attempts: i32,
    pub locked_by: Option<String>,
    pub locked_until: Option<DateTime<Utc>>,
    pub last_error: Option<String>,
}

#[derive(Debug, Clone)]
pub struct NewImport {
    pub file_name: String,
    pub format: String,
    /// SHA-256 of the file's bytes: the same file imported twice is
    /// recognised and not applied again.
    pub content_sha256: Option<String>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct ImportCounts {
    pub rows_total: u64,
    pub imported: u64,
    pub merged: u64,
    pub rejected: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ImportRecord {
    pub id: ImportId,
    pub file_name: String,
    pub format: String,
    pub content_sha256: Option<String>,
    pub created_by: String,
    pub started_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
    pub counts: ImportCounts,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Enrollment {
    pub id: EnrollmentId,
    pub contact_id: ContactId,
    pub sequence: String,
    pub state: EnrollmentState,
    pub current_step: u32,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AuthorKind {
    Ai,
    Template,
    Human,
}

impl AuthorKind {
    pub fn as_str(&self) -> &'static str {
        match self {
            AuthorKind::Ai => "ai",
            AuthorKind::Template => "template",
            AuthorKind::Human => "human",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [AuthorKind::Ai, AuthorKind::Template, AuthorKind::Human]
            .into_iter()
            .find(|a| a.as_str() == s)
    }
}

#[derive(Debug, Clone)]
pub struct NewDraft {
    pub contact_id: ContactId,
    pub enrollment_id: Option<EnrollmentId>,
    pub step_index: u32,
    pub author: AuthorKind,
    pub subject: String,
    pub body: String,
    /// Content-center item ids and research facts the text stands on.
    pub grounding: serde_json::Value,
    pub confidence: Option<f64>,
    /// The type of the sequence the draft is for (`cold`, `post_meeting`,
    /// …) when it was written: send authority and graduation are per type.
    /// None for a draft outside any sequence.
    pub sequence_type: Option<String>,
    /// `email`, `call` or `social`: what the step asks for.
    pub step_kind: Option<String>,
    /// Who drafted it and at what cost: backend, model, seed, tokens,
    /// the parts of its confidence (JSON).
    pub drafter: Option<serde_json::Value>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Draft {
    pub id: DraftId,
    pub contact_id: ContactId,
    pub enrollment_id: Option<EnrollmentId>,
    pub step_index: u32,
    pub author: AuthorKind,
    pub subject: String,
    pub body: String,
    pub grounding: serde_json::Value,
    pub confidence: Option<f64>,
    pub review_state: String,
    pub policy_version: String,
    pub created_at: DateTime<Utc>,
    pub step_kind: Option<String>,
    pub drafter: Option<serde_json::Value>,
}

/// An account's research summary, as stored: built once per account and
/// reused by every contact there until the data it stands on changes.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AccountResearch {
    pub account_id: AccountId,
    /// Of the (data-access filtered) inputs it was built from.
    pub data_hash: String,
    /// `research.*` field → text.
    pub facts: Vec<(String, String)>,
    /// Content-center ids it says matter for the account's segment.
    pub priorities: Vec<String>,
    /// `template` or the model that wrote it.
    pub built_by: String,
    /// Tokens a model spent on it (JSON), when one did.
    pub usage: Option<serde_json::Value>,
    pub built_at: DateTime<Utc>,
}

/// Verdict names the store knows the meaning of when a draft is sent
/// (the governance evaluator's `verdict.kind`).
pub mod verdicts {
    pub const AUTO_SEND: &str = "auto_send";
    pub const NEEDS_APPROVAL: &str = "needs_approval";
    pub const VETO_WINDOW: &str = "veto_window";
    pub const MANUAL: &str = "manual";
    pub const BLOCKED: &str = "blocked";
    pub const ESCALATE: &str = "escalate";
}

/// One run of the governance policy over a draft, as `record_evaluation`
/// stores it. The JSON values are the evaluator's own; the store keeps them
/// as they are.
#[derive(Debug, Clone, PartialEq)]
pub struct DraftEvaluation {
    /// `auto_send`, `needs_approval`, `veto_window`, `manual`, `blocked` or
    /// `escalate`.
    pub verdict: String,
    /// Every rule that fired, in the evaluator's order.
    pub rule_ids: Vec<String>,
    pub qa_sampled: bool,
    /// The findings as a JSON array of objects, each with at least
    /// `rule_id` and `severity` (`block`, `review`, `note`): graduation
    /// counts drafts with a `block` finding.
    pub findings: serde_json::Value,
    /// The whole evaluation, kept in the ledger entry for `policy explain`.
    pub evaluation: serde_json::Value,
    /// The facts the draft was judged on (contact, account, sequence), so a
    /// replay under another policy sees the same ones.
    pub context: serde_json::Value,
    /// What the draft waits for now (`pending`, `queued`, `blocked`, …).
    /// Never `approved` or `rejected`: only a person's review sets those.
    pub review_state: String,
    /// When the review (or veto) window closes, if there is one.
    pub review_deadline: Option<DateTime<Utc>>,
    /// Set for an `escalate` verdict: an escalation is opened for the
    /// draft's contact in the same transaction.
    pub escalation: Option<EscalationRequest>,
}

/// The escalation an `escalate` verdict opens. The contact is the draft's;
/// the escalation's context names the draft.
#[derive(Debug, Clone, PartialEq)]
pub struct EscalationRequest {
    pub stage: Stage,
    pub rule_id: String,
    pub reason: String,
    pub priority: Priority,
    pub assignee: Option<Username>,
    pub due_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RecordedEvaluation {
    pub draft_id: DraftId,
    /// The `draft_evaluated` ledger entry.
    pub entry_id: LedgerEntryId,
    /// The policy version stamped on it.
    pub policy_version: String,
    /// The escalation opened with it, for an `escalate` verdict.
    pub escalation: Option<Escalation>,
}

/// A person's decision on a draft.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReviewDecision {
    /// Send the draft's own text.
    Approved,
    /// Never send it.
    Rejected,
    /// Send this text instead (an approval of the edited text).
    Edited {
        final_subject: String,
        final_body: String,
    },
}

impl ReviewDecision {
    pub fn as_str(&self) -> &'static str {
        match self {
            ReviewDecision::Approved => "approved",
            ReviewDecision::Rejected => "rejected",
            ReviewDecision::Edited { .. } => "edited",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DraftReview {
    pub decision: ReviewDecision,
    /// Must be a known user.
    pub reviewer: Username,
}

/// A draft with everything that happened to it since: the last
/// evaluation, the review and the send. What `policy simulate` replays and
/// `policy graduation` counts.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DraftRecord {
    #[serde(flatten)]
    pub draft: Draft,
    pub sequence_type: Option<String>,
    /// The last evaluation's verdict; None until the draft is evaluated.
    pub verdict: Option<String>,
    pub findings: serde_json::Value,
    pub evaluation: Option<serde_json::Value>,
    /// The facts the last evaluation was made on.
    pub context: Option<serde_json::Value>,
    /// The policy version of the last evaluation (the draft's own
    /// `policy_version` is the one it was written under).
    pub evaluated_under: Option<String>,
    pub evaluated_at: Option<DateTime<Utc>>,
    pub review_deadline: Option<DateTime<Utc>>,
    pub reviewed_by: Option<Username>,
    pub reviewed_at: Option<DateTime<Utc>>,
    /// The text that is (or was) sent, once known.
    pub final_subject: Option<String>,
    pub final_body: Option<String>,
    /// Normalised edit distance from the draft's text to the final text.
    pub edit_distance: Option<f64>,
    pub sent_at: Option<DateTime<Utc>>,
}

/// What a review writes: the state, the final text and its distance.
#[derive(Debug, Clone, PartialEq)]
pub struct ReviewOutcome {
    pub review_state: &'static str,
    pub final_text: Option<(String, String)>,
    pub edit_distance: Option<f64>,
}

/// What a send writes: the final text, when the review did not set it.
#[derive(Debug, Clone, PartialEq)]
pub struct SendOutcome {
    pub final_subject: String,
    pub final_body: String,
    pub edit_distance: f64,
}

/// The subject and body as one text, for the edit distance.
fn whole_text(subject: &str, body: &str) -> String {
    format!("{subject}\n{body}")
}

fn refused(reason: String) -> StoreError {
    StoreError::Refused { reason }
}

/// The rules every backend applies, in its transaction, before it changes
/// a draft. They live here so both backends refuse the same things with
/// the same sentences.
impl DraftRecord {
    fn refuse_if_decided(&self, what: &str) -> StoreResult<()> {
        let id = self.draft.id;
        if let Some(at) = self.sent_at {
            return Err(refused(format!(
                "draft {id} was sent at {}: {what}",
                at.format("%Y-%m-%d %H:%M UTC")
            )));
        }
        if self.reviewed_at.is_some() {
            return Err(refused(format!(
                "draft {id} was already {} by {}: {what}",
                self.draft.review_state,
                self.reviewed_by
                    .as_ref()
                    .map(|u| u.as_str())
                    .unwrap_or("a reviewer")
            )));
        }
        Ok(())
    }

    /// A late evaluation never reopens a draft a person decided on or that
    /// was sent, and an evaluation never approves or rejects.
    pub fn check_evaluation(&self, evaluation: &DraftEvaluation) -> StoreResult<()> {
        self.refuse_if_decided("a new evaluation cannot reopen it")?;
        if matches!(evaluation.review_state.as_str(), "approved" | "rejected") {
            return Err(refused(format!(
                "an evaluation cannot set draft {} to `{}`: only a person's review approves or rejects",
                self.draft.id, evaluation.review_state
            )));
        }
        let escalates = evaluation.verdict == verdicts::ESCALATE;
        if escalates != evaluation.escalation.is_some() {
            return Err(refused(format!(
                "the verdict `{}` came {} an escalation: one is opened exactly when the verdict is `escalate`",
                evaluation.verdict,
                if escalates { "without" } else { "with" }
            )));
        }
        Ok(())
    }

    /// A draft is reviewed once, before it is sent, inside its review
    /// window.
    ///
    /// A `blocked` draft cannot be approved: a content rule marked
    /// something in its text as never to be sent as written (DESIGN.md
    /// §4.4). It can be edited: rewriting the claim is how a person fixes
    /// it, and the edited text is what gets sent. An "edit" that leaves the
    /// text as it was is an approval in disguise and is refused too. The
    /// store cannot run the content rules; whoever sends the edited text
    /// checks it against them first.
    pub fn check_review(&self, review: &DraftReview, now: DateTime<Utc>) -> StoreResult<()> {
        let id = self.draft.id;
        self.refuse_if_decided("a draft is reviewed once")?;
        let blocked = self.verdict.as_deref() == Some(verdicts::BLOCKED);
        match &review.decision {
            ReviewDecision::Rejected => return Ok(()),
            ReviewDecision::Approved if blocked => {
                return Err(refused(format!(
                    "draft {id} is blocked by a content rule and is never sent as written: edit it or reject it"
                )));
            }
            ReviewDecision::Edited {
                final_subject,
                final_body,
            } if blocked
                && final_subject == &self.draft.subject
                && final_body == &self.draft.body =>
            {
                return Err(refused(format!(
                    "draft {id} is blocked by a content rule: an edit must change the text"
                )));
            }
            _ => {}
        }
        if let Some(deadline) = self.review_deadline.filter(|d| now > *d) {
            return Err(refused(format!(
                "the review window of draft {id} closed at {}: it expired and can only be rejected",
                deadline.format("%Y-%m-%d %H:%M UTC")
            )));
        }
        Ok(())
    }

    /// The state, final text and edit distance a review leaves. Call after
    /// [`check_review`](Self::check_review); the distance takes O(n·m) time
    /// in the length of the texts.
    pub fn review_outcome(&self, decision: &ReviewDecision) -> ReviewOutcome {
        match decision {
            ReviewDecision::Rejected => ReviewOutcome {
                review_state: "rejected",
                final_text: None,
                edit_distance: None,
            },
            ReviewDecision::Approved => ReviewOutcome {
                review_state: "approved",
                final_text: Some((self.draft.subject.clone(), self.draft.body.clone())),
                edit_distance: Some(0.0),
            },
            ReviewDecision::Edited {
                final_subject,
                final_body,
            } => ReviewOutcome {
                review_state: "approved",
                final_text: Some((final_subject.clone(), final_body.clone())),
                edit_distance: Some(normalized_edit_distance(
                    &whole_text(&self.draft.subject, &self.draft.body),
                    &whole_text(final_subject, final_body),
                )),
            },
        }
    }

    /// Whether the draft may go out at `sent_at`, and with which text.
    ///
    /// Sent once; never after a rejection; never without an evaluation.
    /// `auto_send` goes as written; `veto_window` goes once its window has
    /// closed unless a person approved it earlier; every other verdict
    /// (and any verdict this store does not know) needs a recorded approval
    /// made inside the review window (DESIGN.md §4.1).
    /// `escalated` says whether an escalation was opened for the draft's
    /// prospect after the draft was judged: that cancels a veto timer.
    pub fn check_send(&self, sent_at: DateTime<Utc>, escalated: bool) -> StoreResult<SendOutcome> {
        let id = self.draft.id;
        if let Some(at) = self.sent_at {
            return Err(refused(format!(
                "draft {id} was already sent at {}: a message is sent once",
                at.format("%Y-%m-%d %H:%M UTC")
            )));
        }
        if self.draft.review_state == "expired" {
            return Err(refused(format!(
                "draft {id} expired without approval: it is never sent"
            )));
        }
        if self.draft.review_state == "rejected" {
            return Err(refused(format!(
                "draft {id} was rejected by {}: it is never sent",
                self.reviewed_by
                    .as_ref()
                    .map(|u| u.as_str())
                    .unwrap_or("a reviewer")
            )));
        }
        let Some(verdict) = self.verdict.as_deref() else {
            return Err(refused(format!(
                "draft {id} has no recorded evaluation: the policy must judge it before it is sent"
            )));
        };
        let approved = self.reviewed_at.is_some() && self.draft.review_state == "approved";
        let window = |d: DateTime<Utc>| d.format("%Y-%m-%d %H:%M UTC");
        match verdict {
            verdicts::AUTO_SEND => {}
            verdicts::VETO_WINDOW if approved => {}
            verdicts::VETO_WINDOW => {
                if escalated {
                    return Err(refused(format!(
                        "draft {id} lost its veto timer: an escalation was opened for the prospect after the draft was judged, so a person must approve it"
                    )));
                }
                if let Some(deadline) = self.review_deadline.filter(|d| sent_at < *d) {
                    return Err(refused(format!(
                        "draft {id} waits for its veto window to close at {}",
                        window(deadline)
                    )));
                }
            }
            _ if !approved => {
                return Err(refused(format!(
                    "draft {id} ({verdict}) needs a person's approval before it is sent"
                )));
            }
            _ => {
                if let (Some(deadline), Some(at)) = (self.review_deadline, self.reviewed_at)
                    && at > deadline
                {
                    return Err(refused(format!(
                        "draft {id} was approved after its review window closed at {}",
                        window(deadline)
                    )));
                }
            }
        }
        Ok(match (&self.final_subject, &self.final_body) {
            (Some(subject), Some(body)) => SendOutcome {
                final_subject: subject.clone(),
                final_body: body.clone(),
                edit_distance: self.edit_distance.unwrap_or(0.0),
            },
            _ => SendOutcome {
                final_subject: self.draft.subject.clone(),
                final_body: self.draft.body.clone(),
                edit_distance: 0.0,
            },
        })
    }
}

/// AI draft acceptance for one sequence type, over drafts sent in a period.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SequenceTypeStats {
    pub sequence_type: String,
    /// Drafts written by handoff (a model or the template drafter, not a
    /// person) that were sent.
    pub ai_drafts_sent: u64,
    /// Of those, sent within a normalised edit distance of 0.2 of the
    /// AI's text.
    pub accepted: u64,
    /// Of those, drafts whose last evaluation had a `block` finding.
    pub with_block_findings: u64,
}

impl SequenceTypeStats {
    /// The share of drafts a person accepted as written (or nearly), None
    /// before any was sent.
    pub fn acceptance(&self) -> Option<f64> {
        (self.ai_drafts_sent > 0).then(|| self.accepted as f64 / self.ai_drafts_sent as f64)
    }
}

/// Edit distances below this count as accepted (DESIGN.md §6).
pub const ACCEPTANCE_EDIT_DISTANCE: f64 = 0.2;

/// A sequence type losing send authority, for `record_demotion`.
#[derive(Debug, Clone, PartialEq)]
pub struct NewDemotion {
    pub sequence_type: String,
    /// The send mode it had (`auto`, `veto`, …) and the one it drops to.
    pub from: String,
    pub to: String,
    pub acceptance: f64,
    pub drafts: u64,
}

impl NewDemotion {
    /// The ledger event, or why it cannot be recorded (a NaN would not
    /// survive the ledger's JSON).
    pub fn to_event(&self) -> StoreResult<Event> {
        if self.sequence_type.trim().is_empty() {
            return Err(refused("a demotion needs a sequence type".into()));
        }
        if !(0.0..=1.0).contains(&self.acceptance) {
            return Err(refused(format!(
                "an acceptance rate is between 0 and 1, not {}",
                self.acceptance
            )));
        }
        Ok(Event::SendAuthorityDemoted {
            sequence_type: self.sequence_type.clone(),
            from: self.from.clone(),
            to: self.to.clone(),
            acceptance: self.acceptance,
            drafts: self.drafts,
        })
    }
}

/// The newest demotion of a sequence type, read back from the ledger.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Demotion {
    pub sequence_type: String,
    pub at: DateTime<Utc>,
    pub from: String,
    pub to: String,
    pub acceptance: f64,
    pub drafts: u64,
    pub policy_version: Option<String>,
    pub entry_id: LedgerEntryId,
}

impl Demotion {
    /// None if the entry is not a demotion.
    pub fn from_entry(entry: &LedgerEntry) -> Option<Self> {
        match &entry.event {
            Event::SendAuthorityDemoted {
                sequence_type,
                from,
                to,
                acceptance,
                drafts,
            } => Some(Demotion {
                sequence_type: sequence_type.clone(),
                at: entry.at,
                from: from.clone(),
                to: to.clone(),
                acceptance: *acceptance,
                drafts: *drafts,
                policy_version: entry.policy_version.clone(),
                entry_id: entry.id,
            }),
            _ => None,
        }
    }
}

#[derive(Debug, Clone)]
pub struct NewMessage {
    pub draft_id: DraftId,
    pub contact_id: ContactId,
    pub mailbox: EmailAddress,
    /// The RFC 5322 Message-ID, fixed before any SMTP conversation.
    pub rfc_message_id: String,
    pub in_reply_to: Option<String>,
    pub scheduled_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Message {
    pub id: MessageId,
    pub draft_id: DraftId,
    pub contact_id: ContactId,
    pub mailbox: EmailAddress,
    pub rfc_message_id: String,
    pub in_reply_to: Option<String>,
    /// queued, sending, sent, failed or in_doubt.
    pub state: String,
    /// Why it failed (state `failed`).
    pub failure: Option<crate::MessageFailure>,
    pub scheduled_at: DateTime<Utc>,
    pub sent_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

/// Something that happened outside, as a provider reported it.
#[derive(Debug, Clone)]
pub struct NewInboundEvent {
    /// `sendgrid`, `mailgun`, `imap`, ...
    pub provider: String,
    /// The provider's own id: a repeat delivery of the same event is
    /// recognised and not recorded twice.
    pub provider_event_id: String,
    /// reply, bounce, complaint, unsubscribe, click, open, page_visit, ...
    pub kind: String,
    pub contact_id: Option<ContactId>,
    pub rfc_message_id: Option<String>,
    pub occurred_at: DateTime<Utc>,
    /// Kept as received.
    pub payload: serde_json::Value,
}

/// An inbound event as it was recorded.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct InboundEventRecord {
    pub id: InboundEventId,
    pub provider: String,
    pub provider_event_id: String,
    pub kind: String,
    pub contact_id: Option<ContactId>,
    pub rfc_message_id: Option<String>,
    pub occurred_at: DateTime<Utc>,
    /// When handoff recorded it (the recording command's time).
    pub received_at: DateTime<Utc>,
    /// As received.
    pub payload: serde_json::Value,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "outcome", content = "event_id")]
pub enum Recorded {
    New(InboundEventId),
    /// Already recorded earlier under this provider event id.
    Duplicate(InboundEventId),
}

#[derive(Debug, Clone)]
pub struct NewEscalation {
    pub contact_id: Option<ContactId>,
    pub stage: Stage,
    pub rule_id: String,
    pub reason: String,
    pub priority: Priority,
    pub assignee: Option<Username>,
    pub due_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Escalation {
    pub id: EscalationId,
    pub contact_id: Option<ContactId>,
    pub stage: Stage,
    pub rule_id: String,
    pub reason: String,
    pub priority: Priority,
    pub assignee: Option<Username>,
    pub due_at: Option<DateTime<Utc>>,
    pub resolution: Option<String>,
    pub created_at: DateTime<Utc>,
    pub resolved_at: Option<DateTime<Utc>>,
}

/// A company as scoring and the policy see it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AccountProfile {
    pub id: AccountId,
    pub domain: String,
    pub name: String,
    pub industry: Option<String>,
    pub employees: Option<i64>,
    pub revenue: Option<i64>,
    pub technologies: Vec<String>,
    /// e.g. `strategic`: set by people, read by list-building rules.
    pub tags: Vec<String>,
}

/// A stored ICP score with its reasons.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StoredScore {
    pub score: u8,
    pub tier: String,
    /// The scorer's reasons, as JSON (rule, points, text).
    pub reasons: serde_json::Value,
}

impl StoredScore {
    /// The human-readable text of each reason, for the ledger.
    pub fn reason_texts(&self) -> Vec<String> {
        self.reasons
            .as_array()
            .map(|list| {
                list.iter()
                    .filter_map(|r| r.get("text").and_then(|t| t.as_str()).map(str::to_string))
                    .collect()
            })
            .unwrap_or_default()
    }
}

/// A stored verification verdict, from its status and reason columns.
pub fn verdict_from_columns(
    status: Option<String>,
    reason: Option<String>,
) -> Result<Option<Verdict>, crate::StoreError> {
    match status {
        None => Ok(None),
        Some(status) => Verdict::from_parts(&status, reason.as_deref())
            .map(Some)
            .ok_or_else(|| crate::StoreError::corrupt("verification status")),
    }
}

/// The ledger event and outcome of a failed attempt, whatever the backend.
pub fn failure_outcome(
    job: &ClaimedJob,
    error: &str,
    after: handoff_domain::jobs::AfterFailure,
) -> (Event, Completion) {
    use handoff_domain::jobs::AfterFailure;
    match after {
        AfterFailure::RetryAt(retry_at) => (
            Event::JobFailed {
                job_id: job.id,
                kind: job.kind.to_string(),
                attempt: job.attempt,
                error: error.to_string(),
                retry_at,
            },
            Completion::RetryAt(retry_at),
        ),
        AfterFailure::Dead => (
            Event::JobDead {
                job_id: job.id,
                kind: job.kind.to_string(),
                attempts: job.attempt,
                error: error.to_string(),
            },
            Completion::Dead,
        ),
    }
}

/// A contact, its account and its score: what list building works on.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Prospect {
    pub contact: Contact,
    pub account: Option<AccountProfile>,
    pub score: Option<StoredScore>,
    /// Kinds of events recorded for the contact (job_change, page_visit,
    /// reply, ...): the intent signals rules can read.
    pub signals: Vec<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ContactScore {
    pub contact_id: ContactId,
    pub score: StoredScore,
}

/// A person's decision on a list-building approval.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ApprovalDecision {
    /// Enrol the contact (through the verification gate).
    Approve {
        allow_risky: bool,
    },
    Reject {
        reason: String,
    },
}

/// A contact waiting for a person before enrolment.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PendingApproval {
    pub escalation: Escalation,
    pub sequence: String,
}
