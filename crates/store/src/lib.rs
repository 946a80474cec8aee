//! What handoff asks of a database, one trait per use case. The SQLite and
//! PostgreSQL crates implement them; `conformance` holds the one test story
//! both must pass.
//!
//! Every method that changes state takes a [`CommandContext`] and appends its
//! ledger entry in the same transaction: there is no way through this API to
//! change state without leaving a trace.

pub mod conformance;
mod error;
pub mod import_plan;
mod links;
pub mod provenance;
mod review;
mod scheduling;
mod sending;
mod types;
mod unsubscribe;

use async_trait::async_trait;
use chrono::{DateTime, Utc};

pub use error::StoreError;
pub use links::*;
pub use review::*;
pub use scheduling::*;
pub use sending::*;
pub use types::*;
pub use unsubscribe::*;

use handoff_domain::enrollment::StopReason;
use handoff_domain::jobs::{JobKind, RetryPolicy};
use handoff_domain::users::Username;
use handoff_domain::verification::Verdict;
use handoff_domain::{
    AccountId, ContactId, DraftId, EmailAddress, EnrollmentId, EscalationId, Event, ImportId,
    InboundEventId, JobId, MessageId,
};

pub type StoreResult<T> = Result<T, StoreError>;

/// The schema: migrations and their state.
#[async_trait]
pub trait Schema: Send + Sync {
    /// Brings the schema to the newest version this binary knows. Refuses a
    /// database that is ahead of the binary.
    async fn migrate(&self) -> StoreResult<MigrationReport>;
    /// Where the schema stands, without changing it.
    async fn schema_status(&self) -> StoreResult<SchemaStatus>;
}

/// The append-only ledger.
#[async_trait]
pub trait Ledger: Send + Sync {
    /// Appends one event that is itself the change (a workspace note, a
    /// benchmark probe). Changes to other tables append through their own
    /// methods.
    async fn append(&self, ctx: &CommandContext, event: &Event) -> StoreResult<LedgerEntry>;
    /// Appends many events in one transaction.
    async fn append_batch(&self, ctx: &CommandContext, events: &[Event]) -> StoreResult<u64>;
    /// The newest entries matching `filter`, oldest first.
    async fn tail(&self, filter: &LedgerFilter) -> StoreResult<Vec<LedgerEntry>>;
    /// How many entries exist of each kind (for tests, doctor and metrics).
    async fn count_by_kind(&self) -> StoreResult<Vec<(String, u64)>>;
}

/// People who use handoff.
#[async_trait]
pub trait Users: Send + Sync {
    async fn add_user(&self, ctx: &CommandContext, user: &NewUser) -> StoreResult<User>;
    async fn list_users(&self) -> StoreResult<Vec<User>>;
    async fn find_user(&self, username: &Username) -> StoreResult<Option<User>>;
}

/// Companies and the people at them.
#[async_trait]
pub trait Contacts: Send + Sync {
    /// Returns the account for `domain`, creating it if it is new.
    async fn ensure_account(
        &self,
        ctx: &CommandContext,
        account: &NewAccount,
    ) -> StoreResult<Account>;
    async fn add_contact(&self, ctx: &CommandContext, contact: &NewContact)
    -> StoreResult<Contact>;
    async fn get_contact(&self, id: ContactId) -> StoreResult<Option<Contact>>;
    async fn find_contact_by_email(&self, email: &EmailAddress) -> StoreResult<Option<Contact>>;
    /// Contacts in id order (which is creation order), after `after`.
    async fn list_contacts(
        &self,
        after: Option<ContactId>,
        limit: u32,
    ) -> StoreResult<Vec<Contact>>;
    /// Stores a verification verdict on the contact, with its time.
    async fn record_verification(
        &self,
        ctx: &CommandContext,
        contact: ContactId,
        verdict: Verdict,
    ) -> StoreResult<()>;
    /// Many verdicts in one transaction (one ledger entry each).
    async fn record_verifications(
        &self,
        ctx: &CommandContext,
        verdicts: &[(ContactId, Verdict)],
    ) -> StoreResult<()>;
}

/// The playbook's sequences, mirrored into the database so enrolments can
/// refer to them.
#[async_trait]
pub trait Sequences: Send + Sync {
    /// Writes each definition that is new or changed; returns how many were.
    async fn sync_sequences(&self, ctx: &CommandContext, defs: &[SequenceDef]) -> StoreResult<u64>;
    async fn list_sequences(&self) -> StoreResult<Vec<SequenceDef>>;
}

/// Addresses that must never be contacted again.
#[async_trait]
pub trait Suppressions: Send + Sync {
    /// Idempotent: suppressing an address twice keeps the first reason and
    /// returns false.
    async fn suppress(
        &self,
        ctx: &CommandContext,
        email: &EmailAddress,
        reason: &str,
    ) -> StoreResult<bool>;
    async fn is_suppressed(&self, email: &EmailAddress) -> StoreResult<bool>;
}

/// The leased work queue. Claims happen in one short transaction, the work
/// outside any transaction, the outcome in a second one.
#[async_trait]
pub trait JobQueue: Send + Sync {
    async fn enqueue(&self, ctx: &CommandContext, jobs: &[NewJob]) -> StoreResult<Vec<JobId>>;
    /// Leases up to `limit` due jobs of the given kinds to `worker` until
    /// `now + lease`. Jobs whose lease expired are due again.
    async fn claim(&self, request: &ClaimRequest) -> StoreResult<Vec<ClaimedJob>>;
    /// Marks the job done and appends `outcome` in one transaction, but only
    /// if the lease is still this claim's; otherwise nothing changes.
    async fn complete(
        &self,
        ctx: &CommandContext,
        job: &ClaimedJob,
        outcome: &Event,
    ) -> StoreResult<Completion>;
    /// Records a failed attempt: queued again with backoff, or dead when out
    /// of attempts. Ignored (LeaseLost) if the lease has moved on.
    async fn fail(
        &self,
        ctx: &CommandContext,
        job: &ClaimedJob,
        error: &str,
        retry: &RetryPolicy,
        now: DateTime<Utc>,
    ) -> StoreResult<Completion>;
    /// Jobs whose lease expired after their last allowed attempt (their
    /// worker died every time) go dead so a human sees them.
    async fn bury_expired(&self, ctx: &CommandContext, now: DateTime<Utc>) -> StoreResult<u64>;
    async fn requeue_dead(
        &self,
        ctx: &CommandContext,
        job: JobId,
        now: DateTime<Utc>,
    ) -> StoreResult<bool>;
    async fn job_counts(&self) -> StoreResult<Vec<JobCount>>;
    async fn list_jobs(&self, filter: &JobFilter) -> StoreResult<Vec<Job>>;
}

/// Runs of `handoff import`, with their counts.
#[async_trait]
pub trait Imports: Send + Sync {
    async fn start_import(
        &self,
        ctx: &CommandContext,
        import: &NewImport,
    ) -> StoreResult<ImportRecord>;
    async fn finish_import(
        &self,
        ctx: &CommandContext,
        id: ImportId,
        counts: &ImportCounts,
    ) -> StoreResult<ImportRecord>;
    async fn get_import(&self, id: ImportId) -> StoreResult<Option<ImportRecord>>;
    /// The finished import of a file with these exact bytes, if any.
    async fn find_import_by_content(&self, sha256: &str) -> StoreResult<Option<ImportRecord>>;
    /// Upserts a batch of rows in one transaction: accounts by registrable
    /// domain, contacts by normalised email, merged field by field, each
    /// change in the ledger.
    async fn import_batch(
        &self,
        ctx: &CommandContext,
        source: &import_plan::ImportSource,
        rows: &[import_plan::ImportRow],
    ) -> StoreResult<import_plan::BatchOutcome>;
}

/// Contacts in sequences.
#[async_trait]
pub trait Enrollments: Send + Sync {
    /// Conflict if the contact is already in that sequence; NotFound if the
    /// contact or sequence does not exist.
    ///
    /// The verification gate is checked in the same transaction: only a
    /// contact whose address is verified `valid` is enrolled; a `risky` one
    /// only when a person passes `allow_risky` (recorded in the ledger).
    async fn enroll(
        &self,
        ctx: &CommandContext,
        contact: ContactId,
        sequence: &str,
        allow_risky: bool,
    ) -> StoreResult<Enrollment>;
    /// Ends every active or paused enrolment of the contact (a stop
    /// condition); returns how many were stopped.
    async fn stop_enrollments(
        &self,
        ctx: &CommandContext,
        contact: ContactId,
        reason: StopReason,
    ) -> StoreResult<u64>;
    async fn list_enrollments(&self, contact: ContactId) -> StoreResult<Vec<Enrollment>>;
    /// Active enrolments whose current step has no live draft (none, or
    /// only rejected or expired ones), in id order after `after`.
    async fn awaiting_draft(
        &self,
        after: Option<EnrollmentId>,
        limit: u32,
    ) -> StoreResult<Vec<Enrollment>>;
}

/// Messages before they are sent: their evaluations, reviews and sends,
/// and the acceptance figures graduation reads from them.
/// Account research, built once per account and reused.
#[async_trait]
pub trait Research: Send + Sync {
    async fn account_research(&self, account: AccountId) -> StoreResult<Option<AccountResearch>>;
    /// Stores an account's research, replacing what was there, with a
    /// `research_built` ledger entry.
    async fn save_research(
        &self,
        ctx: &CommandContext,
        research: &AccountResearch,
    ) -> StoreResult<()>;
}

#[async_trait]
pub trait Drafts: Send + Sync {
    /// Stored under the context's policy version, pending review.
    async fn create_draft(&self, ctx: &CommandContext, draft: &NewDraft) -> StoreResult<Draft>;
    async fn get_draft(&self, id: DraftId) -> StoreResult<Option<Draft>>;
    /// The draft with its evaluation, review and send.
    async fn draft_record(&self, id: DraftId) -> StoreResult<Option<DraftRecord>>;
    /// Stores the policy's verdict on the draft (its last evaluation) and
    /// appends `draft_evaluated` with the whole evaluation, stamped with
    /// the context's policy version (required). Earlier evaluations stay in
    /// the ledger. An `escalate` verdict with an [`EscalationRequest`] opens
    /// the escalation in the same transaction.
    ///
    /// NotFound for an unknown draft; Refused for a draft already reviewed
    /// or sent (a late evaluation cannot reopen it).
    async fn record_evaluation(
        &self,
        ctx: &CommandContext,
        draft: DraftId,
        evaluation: &DraftEvaluation,
    ) -> StoreResult<RecordedEvaluation>;
    /// A person approves, rejects or edits the draft, once, before it is
    /// sent and inside its review window; see
    /// [`DraftRecord::check_review`] for what is refused.
    async fn record_review(
        &self,
        ctx: &CommandContext,
        draft: DraftId,
        review: &DraftReview,
    ) -> StoreResult<DraftRecord>;
    /// Records that the draft's text went out at `sent_at`: the final text
    /// a review set, or the draft's own (edit distance 0). Refused when
    /// [`DraftRecord::check_send`] says it may not go.
    async fn mark_draft_sent(
        &self,
        ctx: &CommandContext,
        draft: DraftId,
        sent_at: DateTime<Utc>,
    ) -> StoreResult<DraftRecord>;
    /// Drafts that needed approval and were not approved before their
    /// review window closed (at `now`) become `expired`, each with a
    /// `draft_expired` entry: they are never sent. That includes a
    /// veto-window draft whose timer an escalation cancelled (it needed a
    /// person's approval from then on). Returns their ids.
    async fn expire_drafts(
        &self,
        ctx: &CommandContext,
        now: DateTime<Utc>,
    ) -> StoreResult<Vec<DraftId>>;
    /// Drafts in id (creation) order after `after`, created at or after
    /// `since`.
    async fn list_drafts(
        &self,
        since: Option<DateTime<Utc>>,
        after: Option<DraftId>,
        limit: u32,
    ) -> StoreResult<Vec<DraftRecord>>;
    /// Every ledger entry about the draft, oldest first: those whose
    /// payload names it, and those about escalations opened for it.
    /// NotFound for an unknown draft.
    async fn draft_history(&self, draft: DraftId) -> StoreResult<Vec<LedgerEntry>>;
    /// AI draft acceptance per sequence type, over drafts sent at or after
    /// `since`, in sequence type order. Drafts without a sequence type are
    /// left out.
    async fn graduation_stats(
        &self,
        since: Option<DateTime<Utc>>,
    ) -> StoreResult<Vec<SequenceTypeStats>>;
    /// Appends `send_authority_demoted`; the ledger is the only record of
    /// a demotion.
    async fn record_demotion(
        &self,
        ctx: &CommandContext,
        demotion: &NewDemotion,
    ) -> StoreResult<LedgerEntry>;
    /// The newest demotion of each sequence type, in sequence type order.
    async fn demotions(&self) -> StoreResult<Vec<Demotion>>;
}

/// Outbound emails: `queued → sending → sent | failed | in_doubt`, each
/// move with its ledger entry in the same transaction.
#[async_trait]
pub trait Messages: Send + Sync {
    /// Queues the message with its Message-ID fixed before any SMTP
    /// conversation. Conflict if the Message-ID is taken or the draft
    /// already has a live (not failed) message; Refused if the draft could
    /// not be sent at `scheduled_at` ([`DraftRecord::check_send`]);
    /// NotFound for an unknown draft.
    async fn queue_message(
        &self,
        ctx: &CommandContext,
        message: &NewMessage,
    ) -> StoreResult<Message>;
    async fn get_message(&self, id: MessageId) -> StoreResult<Option<Message>>;
    /// Leases up to `limit` queued messages due at `now` and moves them to
    /// `sending`, each only after [`send_check`] passed in the same
    /// transaction (stop conditions, suppression, human ownership, the
    /// draft's approval, veto window and expiry). A due message held for a
    /// permanent reason becomes `failed`; one that is not allowed yet stays
    /// queued, rescheduled to when it is looked at again. Both are returned
    /// in `held`, with their ledger entries.
    async fn claim_messages(
        &self,
        ctx: &CommandContext,
        claim: &MessageClaim,
    ) -> StoreResult<ClaimedMessages>;
    /// `sending → sent`, and the draft is marked sent with the claimed
    /// text; only for the lease holder.
    async fn mark_sent(
        &self,
        ctx: &CommandContext,
        claimed: &ClaimedMessage,
        receipt: &str,
    ) -> StoreResult<Fenced>;
    /// `sending → failed`; only for the lease holder.
    async fn mark_failed(
        &self,
        ctx: &CommandContext,
        claimed: &ClaimedMessage,
        failure: &MessageFailure,
    ) -> StoreResult<Fenced>;
    /// `sending → queued` at `retry_at`, for a failure that certainly
    /// delivered nothing and may pass later; only for the lease holder.
    async fn mark_deferred(
        &self,
        ctx: &CommandContext,
        claimed: &ClaimedMessage,
        error: &str,
        retry_at: DateTime<Utc>,
    ) -> StoreResult<Fenced>;
    /// `sending → in_doubt`: the message may have been delivered. Never
    /// sent again automatically; only for the lease holder.
    async fn mark_in_doubt(
        &self,
        ctx: &CommandContext,
        claimed: &ClaimedMessage,
        reason: &str,
    ) -> StoreResult<Fenced>;
    /// Messages left in `sending` past their lease (their sender died)
    /// become `in_doubt`, never queued again. Returns them.
    async fn recover_expired(
        &self,
        ctx: &CommandContext,
        now: DateTime<Utc>,
    ) -> StoreResult<Vec<Message>>;
    /// In-doubt messages, oldest first, for a person to check.
    async fn list_in_doubt(&self, limit: u32) -> StoreResult<Vec<InDoubtMessage>>;
    /// How many messages are in each state, in state order.
    async fn message_counts(&self) -> StoreResult<Vec<(String, u64)>>;
    /// A secret of the workspace (32 random bytes, hex), created on first
    /// use and shared by every process on this database.
    async fn workspace_secret(&self, name: &str) -> StoreResult<String>;
}

/// What providers, mailboxes and trackers report.
#[async_trait]
pub trait InboundEvents: Send + Sync {
    /// Idempotent by (provider, provider_event_id).
    async fn record_event(
        &self,
        ctx: &CommandContext,
        event: &NewInboundEvent,
    ) -> StoreResult<Recorded>;
    /// Recorded events in id order (which is the order they were recorded
    /// in) after `after`, received at or after `since`.
    async fn list_events(
        &self,
        since: Option<DateTime<Utc>>,
        after: Option<InboundEventId>,
        limit: u32,
    ) -> StoreResult<Vec<InboundEventRecord>>;
}

/// Tasks for people.
#[async_trait]
pub trait Escalations: Send + Sync {
    async fn open_escalation(
        &self,
        ctx: &CommandContext,
        escalation: &NewEscalation,
    ) -> StoreResult<Escalation>;
    /// NotFound if there is no open escalation with that id.
    async fn resolve_escalation(
        &self,
        ctx: &CommandContext,
        id: EscalationId,
        resolution: &str,
    ) -> StoreResult<Escalation>;
    async fn list_open_escalations(
        &self,
        assignee: Option<&Username>,
    ) -> StoreResult<Vec<Escalation>>;
    /// Every escalation about a contact, open or resolved, oldest first.
    async fn escalations_for(&self, contact: ContactId) -> StoreResult<Vec<Escalation>>;
}

/// Contacts with their accounts and scores: list building's working set.
#[async_trait]
pub trait Prospects: Send + Sync {
    /// In contact id order, after `after`.
    async fn prospects(&self, after: Option<ContactId>, limit: u32) -> StoreResult<Vec<Prospect>>;
    async fn prospect(&self, contact: ContactId) -> StoreResult<Option<Prospect>>;
    /// Stores scores in one transaction, each changed one with its ledger
    /// entry; an unchanged score is not written again. Returns how many
    /// changed.
    async fn record_scores(
        &self,
        ctx: &CommandContext,
        scores: &[ContactScore],
    ) -> StoreResult<u64>;
    /// Adds a tag (e.g. `strategic`) to the account with this domain.
    async fn tag_account(&self, ctx: &CommandContext, domain: &str, tag: &str)
    -> StoreResult<bool>;
}

/// The list-building gate: contacts that wait for a person before they
/// are enrolled.
#[async_trait]
pub trait Approvals: Send + Sync {
    /// Puts the contact on the approval list for `sequence` (idempotent:
    /// an open request for the same contact and sequence is returned).
    async fn request_approval(
        &self,
        ctx: &CommandContext,
        contact: ContactId,
        sequence: &str,
        rule_id: &str,
        reason: &str,
        assignee: Option<&Username>,
    ) -> StoreResult<PendingApproval>;
    async fn pending_approvals(
        &self,
        assignee: Option<&Username>,
    ) -> StoreResult<Vec<PendingApproval>>;
    /// Approving enrols in the same transaction (the verification gate
    /// applies); rejecting closes the request. Either way the decision and
    /// who made it are in the ledger.
    async fn decide_approval(
        &self,
        ctx: &CommandContext,
        id: EscalationId,
        decision: &ApprovalDecision,
    ) -> StoreResult<Option<Enrollment>>;
}

/// Everything a command may need. Handlers and workers take `&dyn Store` and
/// never name a backend.
pub trait Store:
    std::fmt::Debug
    + Schema
    + Ledger
    + Users
    + Contacts
    + Sequences
    + Suppressions
    + JobQueue
    + Imports
    + Enrollments
    + Drafts
    + Research
    + Messages
    + InboundEvents
    + Escalations
    + Prospects
    + Approvals
    + Unsubscribes
    + ApprovalLinks
    + ReviewQueue
    + Inbox
    + Scheduling
{
    /// `sqlite` or `postgres`.
    fn backend(&self) -> &'static str;
}

/// Kinds handled by a worker that knows all of them.
pub fn all_job_kinds() -> Vec<JobKind> {
    JobKind::ALL.to_vec()
}
