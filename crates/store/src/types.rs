use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::provenance::Provenance;

use handoff_domain::enrollment::EnrollmentState;
use handoff_domain::escalation::{Priority, Stage};
use handoff_domain::jobs::{JobKind, JobState};
use handoff_domain::playbook::PolicyVersion;
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
    pub state: String,
    pub scheduled_at: DateTime<Utc>,
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
