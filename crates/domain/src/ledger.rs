//! The ledger's vocabulary. Every state change in handoff is one of these
//! events, appended in the same transaction as the change itself, so the
//! ledger is the audit trail and the source of every metric.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::enrollment::StopReason;
use crate::escalation::{Priority, Stage};
use crate::ids::{
    AccountId, ContactId, DraftId, EnrollmentId, EscalationId, ImportId, InboundEventId, JobId,
    MessageId, UserId,
};
use crate::import::Conflict;
use crate::users::Role;
use crate::verification::Verdict;

/// Who caused a change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Actor {
    /// A model or the template drafter acting on its own.
    Ai { component: String },
    /// A person, through the CLI or the web UI.
    Human { user: String },
    /// handoff itself: workers, timers, migrations.
    System { component: String },
}

impl Actor {
    pub fn system(component: &str) -> Self {
        Actor::System {
            component: component.to_string(),
        }
    }

    pub fn human(user: &str) -> Self {
        Actor::Human {
            user: user.to_string(),
        }
    }

    pub fn kind(&self) -> &'static str {
        match self {
            Actor::Ai { .. } => "ai",
            Actor::Human { .. } => "human",
            Actor::System { .. } => "system",
        }
    }

    /// The component or user name, without the kind.
    pub fn name(&self) -> &str {
        match self {
            Actor::Ai { component } | Actor::System { component } => component,
            Actor::Human { user } => user,
        }
    }

    /// Rebuilds an actor from its stored columns.
    pub fn from_parts(kind: &str, name: &str) -> Option<Self> {
        let name = name.to_string();
        match kind {
            "ai" => Some(Actor::Ai { component: name }),
            "human" => Some(Actor::Human { user: name }),
            "system" => Some(Actor::System { component: name }),
            _ => None,
        }
    }
}

impl fmt::Display for Actor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.kind(), self.name())
    }
}

/// Everything that can happen. Closed on purpose: a new kind of change is a
/// new variant, reviewed like any other schema change.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Event {
    /// `handoff init` created this workspace's database.
    WorkspaceInitialized {
        workspace: String,
    },
    /// The database schema moved forward.
    SchemaMigrated {
        from_version: i64,
        to_version: i64,
    },
    UserAdded {
        user_id: UserId,
        username: String,
        role: Role,
    },
    AccountCreated {
        account_id: AccountId,
        domain: String,
        name: String,
    },
    ContactCreated {
        contact_id: ContactId,
        account_id: Option<AccountId>,
        email: String,
    },
    /// The playbook's sequences were written to the database.
    SequenceDefined {
        name: String,
        sequence_type: String,
        steps: usize,
    },
    /// An address may never be contacted again.
    Suppressed {
        email_hash: String,
        reason: String,
        contact_id: Option<ContactId>,
    },
    /// A new contact from an import row. Written by imports before
    /// `contacts_imported`; still read from older ledgers.
    ContactImported {
        contact_id: ContactId,
        account_id: Option<AccountId>,
        import_id: ImportId,
        row: u64,
    },
    /// An import row changed a known contact, field by field.
    ContactMerged {
        contact_id: ContactId,
        import_id: ImportId,
        row: u64,
        fields: Vec<String>,
        conflicts: Vec<Conflict>,
    },
    AccountUpdated {
        account_id: AccountId,
        import_id: ImportId,
        fields: Vec<String>,
        conflicts: Vec<Conflict>,
    },
    /// A contact's ICP score changed.
    ContactScored {
        contact_id: ContactId,
        score: u8,
        tier: String,
        reasons: Vec<String>,
    },
    AccountTagged {
        account_id: AccountId,
        tag: String,
    },
    /// An account's research summary was built (or rebuilt because the
    /// data it stands on changed).
    ResearchBuilt {
        account_id: AccountId,
        data_hash: String,
        built_by: String,
        facts: usize,
    },
    /// An address was checked.
    AddressVerified {
        contact_id: ContactId,
        verdict: Verdict,
    },
    /// A person allowed a risky address into a sequence.
    RiskyAddressAllowed {
        contact_id: ContactId,
        sequence: String,
        verdict: Verdict,
    },
    /// The contact's company changed: an escalation signal.
    JobChanged {
        contact_id: ContactId,
        import_id: ImportId,
        from_company: String,
        to_company: String,
    },
    ImportStarted {
        import_id: ImportId,
        file_name: String,
        format: String,
    },
    ImportFinished {
        import_id: ImportId,
        rows_total: u64,
        imported: u64,
        merged: u64,
        rejected: u64,
    },
    /// One batch of an import: the new contacts it created, each carrying
    /// its provenance (this import and its row), its offline verification
    /// and its ICP score with reasons on its own row. Per-contact decisions
    /// and conflicts (merges, job changes, changed scores) keep their own
    /// entries.
    ContactsImported {
        import_id: ImportId,
        /// The file rows the batch covers, first and last.
        first_row: u64,
        last_row: u64,
        imported: u64,
        merged: u64,
        unchanged: u64,
        /// Verdicts given to the new contacts, by verdict ("valid",
        /// "risky (role_account)", …); empty when the import did not verify.
        verified: std::collections::BTreeMap<String, u64>,
        /// Scores given to the new contacts, by tier; empty when the import
        /// did not score.
        scored: std::collections::BTreeMap<String, u64>,
    },
    Enrolled {
        enrollment_id: EnrollmentId,
        contact_id: ContactId,
        sequence: String,
    },
    /// A stop condition ended a contact's enrolment: nothing more is sent.
    EnrollmentStopped {
        enrollment_id: EnrollmentId,
        contact_id: ContactId,
        reason: StopReason,
    },
    DraftCreated {
        draft_id: DraftId,
        contact_id: ContactId,
        author: String,
        step_index: u32,
    },
    /// The governance policy judged a draft. `evaluation` is the whole
    /// evaluation (verdict, findings with their spans, QA sampling) as the
    /// evaluator produced it; the entry's policy version says which policy
    /// did. A draft evaluated again gets a new entry: earlier ones stay.
    DraftEvaluated {
        draft_id: DraftId,
        contact_id: ContactId,
        verdict: String,
        rule_ids: Vec<String>,
        qa_sampled: bool,
        evaluation: serde_json::Value,
    },
    /// A person decided on a draft: `approved`, `rejected` or `edited`
    /// (approved with new text). `edit_distance` is the normalised distance
    /// from the draft's text to the text that will be sent; `reason` is why
    /// a reviewer rejected it, when they said.
    DraftReviewed {
        draft_id: DraftId,
        contact_id: ContactId,
        decision: String,
        reviewer: String,
        edit_distance: Option<f64>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reason: Option<String>,
    },
    /// A draft's text went out (its final text, or the draft's own).
    DraftSent {
        draft_id: DraftId,
        contact_id: ContactId,
    },
    /// A draft that needed approval was not approved inside its review
    /// window: it is never sent.
    DraftExpired {
        draft_id: DraftId,
        contact_id: ContactId,
    },
    /// A sequence type lost send authority because its AI drafts needed too
    /// many edits (graduation in reverse).
    SendAuthorityDemoted {
        sequence_type: String,
        from: String,
        to: String,
        /// The acceptance rate that triggered it (0 to 1).
        acceptance: f64,
        /// AI drafts sent that the rate is over.
        drafts: u64,
    },
    /// An approve or reject link was used (once; a second use is refused).
    ApprovalLinkUsed {
        draft_id: DraftId,
        contact_id: ContactId,
        /// `approve` or `reject`.
        action: String,
        nonce: String,
    },
    /// A message got its Message-ID and waits for its send time.
    MessageQueued {
        message_id: MessageId,
        contact_id: ContactId,
        draft_id: DraftId,
        rfc_message_id: String,
    },
    /// A message passed its send checks and was leased for sending.
    MessageClaimed {
        message_id: MessageId,
        contact_id: ContactId,
        rfc_message_id: String,
        worker: String,
        lease_until: chrono::DateTime<chrono::Utc>,
    },
    /// A due message was not sent yet: it stays queued until `until`.
    MessageHeld {
        message_id: MessageId,
        contact_id: ContactId,
        reason: String,
        until: chrono::DateTime<chrono::Utc>,
    },
    /// The server accepted the message (or the outbox holds it).
    MessageSent {
        message_id: MessageId,
        contact_id: ContactId,
        draft_id: DraftId,
        rfc_message_id: String,
        receipt: String,
    },
    /// Not delivered, for good; `failure` is the typed reason.
    MessageFailed {
        message_id: MessageId,
        contact_id: ContactId,
        failure: String,
        reason: String,
    },
    /// Not delivered, tried again at `retry_at`.
    MessageDeferred {
        message_id: MessageId,
        contact_id: ContactId,
        error: String,
        retry_at: chrono::DateTime<chrono::Utc>,
    },
    /// It may or may not have been delivered: a person decides; it is never
    /// sent again automatically.
    MessageInDoubt {
        message_id: MessageId,
        contact_id: ContactId,
        rfc_message_id: String,
        reason: String,
    },
    /// A provider, mailbox or tracker reported something (payload kept in
    /// the events table, as received).
    InboundEventRecorded {
        event_id: InboundEventId,
        provider: String,
        kind: String,
        contact_id: Option<ContactId>,
    },
    EscalationOpened {
        escalation_id: EscalationId,
        contact_id: Option<ContactId>,
        stage: Stage,
        rule_id: String,
        reason: String,
        priority: Priority,
        assignee: Option<String>,
    },
    /// A person approved a contact for a sequence at the list-building gate.
    EnrollmentApproved {
        escalation_id: EscalationId,
        contact_id: ContactId,
        sequence: String,
    },
    EnrollmentRejected {
        escalation_id: EscalationId,
        contact_id: ContactId,
        sequence: String,
        reason: String,
    },
    EscalationResolved {
        escalation_id: EscalationId,
        contact_id: Option<ContactId>,
        resolution: String,
    },
    JobsEnqueued {
        kind: String,
        count: u64,
    },
    /// A job failed and will run again at `retry_at`.
    JobFailed {
        job_id: JobId,
        kind: String,
        attempt: i32,
        error: String,
        retry_at: chrono::DateTime<chrono::Utc>,
    },
    /// A job used up its attempts; a human has to look at it.
    JobDead {
        job_id: JobId,
        kind: String,
        attempts: i32,
        error: String,
    },
    /// A job brought back from the dead by a human.
    JobRetried {
        job_id: JobId,
        kind: String,
    },
    /// The outcome of a `probe` job: proves a worker ran it (used by the
    /// queue's exactly-once tests and by `handoff doctor`).
    ProbeCompleted {
        job_id: JobId,
        worker: String,
    },
    // ── The review queue and the escalation inbox ─────────────────────
    /// A draft's review moved to another person's queue.
    DraftReassigned {
        draft_id: DraftId,
        contact_id: ContactId,
        /// Whose queue it was in (its assignee, else the contact's owner).
        from: Option<String>,
        to: String,
    },
    /// A queued message's send time moved: a person approved a veto-window
    /// draft before its window ended, so it goes now.
    MessageRescheduled {
        message_id: MessageId,
        contact_id: ContactId,
        draft_id: DraftId,
        scheduled_at: chrono::DateTime<chrono::Utc>,
        reason: String,
    },
    /// A person took the prospect over: automation stopped for them and
    /// they are human-owned until handed back.
    ProspectTakenOver {
        contact_id: ContactId,
        escalation_id: Option<EscalationId>,
        by: String,
        enrollments_stopped: u64,
    },
    /// A person handed the prospect back to AI. Enrolments stopped by the
    /// take-over stay stopped: a person re-enrols them if they should go on.
    ProspectHandedBack {
        contact_id: ContactId,
        by: String,
        note: String,
    },
    /// An escalation passed its due time unresolved and went to the
    /// assignee's manager (`to` is None when there is none to go to).
    EscalationOverdue {
        escalation_id: EscalationId,
        contact_id: Option<ContactId>,
        due_at: chrono::DateTime<chrono::Utc>,
        from: Option<String>,
        to: Option<String>,
    },
    /// A synthetic event appended by `handoff bench ledger`.
    BenchmarkProbe {
        run: String,
        seq: u64,
    },

    // ── The scheduler and its circuit breakers ──
    /// The playbook's sending rules (mailboxes, caps, windows, breakers)
    /// as every sender on this database now applies them.
    SendPolicyRecorded {
        mailboxes: Vec<String>,
        /// First 16 hex digits of a SHA-256 of the recorded rules.
        fingerprint: String,
    },
    /// A first touch goes out from another of its owner's mailboxes (the
    /// one that could send soonest).
    MessageRerouted {
        message_id: MessageId,
        contact_id: ContactId,
        from_mailbox: String,
        to_mailbox: String,
    },
    /// A circuit breaker paused a mailbox or a sequence: its messages stay
    /// queued until a person resumes it.
    SendingPaused {
        /// `mailbox` or `sequence`.
        scope: String,
        name: String,
        reason: String,
    },
    /// A person resumed a paused mailbox or sequence.
    SendingResumed {
        scope: String,
        name: String,
        reason: String,
    },
}

/// The ids an event is about, stored in their own columns so the ledger can
/// be filtered without parsing payloads.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Subjects {
    pub contact_id: Option<ContactId>,
    pub account_id: Option<AccountId>,
    pub user_id: Option<UserId>,
    pub job_id: Option<JobId>,
}

impl Event {
    /// The stored name of the variant (the `type` tag of its payload).
    pub fn kind(&self) -> &'static str {
        match self {
            Event::WorkspaceInitialized { .. } => "workspace_initialized",
            Event::SchemaMigrated { .. } => "schema_migrated",
            Event::UserAdded { .. } => "user_added",
            Event::AccountCreated { .. } => "account_created",
            Event::ContactCreated { .. } => "contact_created",
            Event::SequenceDefined { .. } => "sequence_defined",
            Event::Suppressed { .. } => "suppressed",
            Event::ContactImported { .. } => "contact_imported",
            Event::ContactMerged { .. } => "contact_merged",
            Event::AccountUpdated { .. } => "account_updated",
            Event::JobChanged { .. } => "job_changed",
            Event::AddressVerified { .. } => "address_verified",
            Event::ContactScored { .. } => "contact_scored",
            Event::AccountTagged { .. } => "account_tagged",
            Event::ResearchBuilt { .. } => "research_built",
            Event::RiskyAddressAllowed { .. } => "risky_address_allowed",
            Event::ImportStarted { .. } => "import_started",
            Event::ImportFinished { .. } => "import_finished",
            Event::ContactsImported { .. } => "contacts_imported",
            Event::Enrolled { .. } => "enrolled",
            Event::EnrollmentStopped { .. } => "enrollment_stopped",
            Event::DraftCreated { .. } => "draft_created",
            Event::DraftEvaluated { .. } => "draft_evaluated",
            Event::DraftReviewed { .. } => "draft_reviewed",
            Event::DraftSent { .. } => "draft_sent",
            Event::DraftExpired { .. } => "draft_expired",
            Event::SendAuthorityDemoted { .. } => "send_authority_demoted",
            Event::ApprovalLinkUsed { .. } => "approval_link_used",
            Event::MessageQueued { .. } => "message_queued",
            Event::MessageClaimed { .. } => "message_claimed",
            Event::MessageHeld { .. } => "message_held",
            Event::MessageSent { .. } => "message_sent",
            Event::MessageFailed { .. } => "message_failed",
            Event::MessageDeferred { .. } => "message_deferred",
            Event::MessageInDoubt { .. } => "message_in_doubt",
            Event::InboundEventRecorded { .. } => "inbound_event_recorded",
            Event::EscalationOpened { .. } => "escalation_opened",
            Event::EscalationResolved { .. } => "escalation_resolved",
            Event::EnrollmentApproved { .. } => "enrollment_approved",
            Event::EnrollmentRejected { .. } => "enrollment_rejected",
            Event::JobsEnqueued { .. } => "jobs_enqueued",
            Event::JobFailed { .. } => "job_failed",
            Event::JobDead { .. } => "job_dead",
            Event::JobRetried { .. } => "job_retried",
            Event::ProbeCompleted { .. } => "probe_completed",
            Event::BenchmarkProbe { .. } => "benchmark_probe",
            Event::DraftReassigned { .. } => "draft_reassigned",
            Event::MessageRescheduled { .. } => "message_rescheduled",
            Event::ProspectTakenOver { .. } => "prospect_taken_over",
            Event::ProspectHandedBack { .. } => "prospect_handed_back",
            Event::EscalationOverdue { .. } => "escalation_overdue",
            Event::SendPolicyRecorded { .. } => "send_policy_recorded",
            Event::MessageRerouted { .. } => "message_rerouted",
            Event::SendingPaused { .. } => "sending_paused",
            Event::SendingResumed { .. } => "sending_resumed",
        }
    }

    pub fn subjects(&self) -> Subjects {
        match self {
            Event::UserAdded { user_id, .. } => Subjects {
                user_id: Some(*user_id),
                ..Subjects::default()
            },
            Event::AccountCreated { account_id, .. } => Subjects {
                account_id: Some(*account_id),
                ..Subjects::default()
            },
            Event::ContactCreated {
                contact_id,
                account_id,
                ..
            } => Subjects {
                contact_id: Some(*contact_id),
                account_id: *account_id,
                ..Subjects::default()
            },
            Event::ContactImported {
                contact_id,
                account_id,
                ..
            } => Subjects {
                contact_id: Some(*contact_id),
                account_id: *account_id,
                ..Subjects::default()
            },
            Event::AccountUpdated { account_id, .. }
            | Event::AccountTagged { account_id, .. }
            | Event::ResearchBuilt { account_id, .. } => Subjects {
                account_id: Some(*account_id),
                ..Subjects::default()
            },
            Event::ContactMerged { contact_id, .. }
            | Event::JobChanged { contact_id, .. }
            | Event::AddressVerified { contact_id, .. }
            | Event::ContactScored { contact_id, .. }
            | Event::EnrollmentApproved { contact_id, .. }
            | Event::EnrollmentRejected { contact_id, .. }
            | Event::RiskyAddressAllowed { contact_id, .. }
            | Event::Enrolled { contact_id, .. }
            | Event::EnrollmentStopped { contact_id, .. }
            | Event::DraftCreated { contact_id, .. }
            | Event::DraftEvaluated { contact_id, .. }
            | Event::DraftReviewed { contact_id, .. }
            | Event::DraftSent { contact_id, .. }
            | Event::DraftExpired { contact_id, .. }
            | Event::ApprovalLinkUsed { contact_id, .. }
            | Event::MessageQueued { contact_id, .. }
            | Event::MessageClaimed { contact_id, .. }
            | Event::MessageHeld { contact_id, .. }
            | Event::MessageSent { contact_id, .. }
            | Event::MessageFailed { contact_id, .. }
            | Event::MessageDeferred { contact_id, .. }
            | Event::MessageInDoubt { contact_id, .. }
            | Event::MessageRerouted { contact_id, .. } => Subjects {
                contact_id: Some(*contact_id),
                ..Subjects::default()
            },
            Event::InboundEventRecorded { contact_id, .. }
            | Event::EscalationOpened { contact_id, .. }
            | Event::EscalationResolved { contact_id, .. }
            | Event::Suppressed { contact_id, .. } => Subjects {
                contact_id: *contact_id,
                ..Subjects::default()
            },
            Event::DraftReassigned { contact_id, .. }
            | Event::MessageRescheduled { contact_id, .. }
            | Event::ProspectTakenOver { contact_id, .. }
            | Event::ProspectHandedBack { contact_id, .. } => Subjects {
                contact_id: Some(*contact_id),
                ..Subjects::default()
            },
            Event::EscalationOverdue { contact_id, .. } => Subjects {
                contact_id: *contact_id,
                ..Subjects::default()
            },
            Event::JobFailed { job_id, .. }
            | Event::JobDead { job_id, .. }
            | Event::JobRetried { job_id, .. }
            | Event::ProbeCompleted { job_id, .. } => Subjects {
                job_id: Some(*job_id),
                ..Subjects::default()
            },
            Event::WorkspaceInitialized { .. }
            | Event::SchemaMigrated { .. }
            | Event::SequenceDefined { .. }
            | Event::SendAuthorityDemoted { .. }
            | Event::JobsEnqueued { .. }
            | Event::ImportStarted { .. }
            | Event::ImportFinished { .. }
            | Event::ContactsImported { .. }
            | Event::BenchmarkProbe { .. }
            | Event::SendPolicyRecorded { .. }
            | Event::SendingPaused { .. }
            | Event::SendingResumed { .. } => Subjects::default(),
        }
    }

    /// One line for people reading `handoff ledger tail`.
    pub fn summary(&self) -> String {
        match self {
            Event::WorkspaceInitialized { workspace } => {
                format!("workspace `{workspace}` initialised")
            }
            Event::SchemaMigrated {
                from_version,
                to_version,
            } => format!("schema migrated from version {from_version} to {to_version}"),
            Event::UserAdded { username, role, .. } => format!("user {username} added as {role}"),
            Event::AccountCreated { domain, name, .. } => {
                format!("account {name} ({domain}) created")
            }
            Event::ContactCreated { email, .. } => format!("contact {email} created"),
            Event::SequenceDefined {
                name,
                sequence_type,
                steps,
            } => format!("sequence {name} ({sequence_type}, {steps} steps) defined"),
            Event::Suppressed { reason, .. } => format!("address suppressed: {reason}"),
            Event::ContactImported { row, .. } => format!("contact imported from row {row}"),
            Event::ContactMerged {
                row,
                fields,
                conflicts,
                ..
            } => format!(
                "row {row} updated {}{}",
                fields.join(", "),
                if conflicts.is_empty() {
                    String::new()
                } else {
                    format!(" ({} value(s) replaced)", conflicts.len())
                }
            ),
            Event::AccountUpdated { fields, .. } => {
                format!("account updated: {}", fields.join(", "))
            }
            Event::JobChanged {
                from_company,
                to_company,
                ..
            } => format!("job change: {from_company} → {to_company}"),
            Event::AddressVerified { verdict, .. } => format!("address verified: {verdict}"),
            Event::ContactScored {
                score,
                tier,
                reasons,
                ..
            } => format!("scored {score} ({tier}): {}", reasons.join("; ")),
            Event::AccountTagged { tag, .. } => format!("account tagged `{tag}`"),
            Event::ResearchBuilt {
                built_by, facts, ..
            } => format!("account research built by {built_by} ({facts} facts)"),
            Event::RiskyAddressAllowed {
                sequence, verdict, ..
            } => format!("risky address ({verdict}) allowed into {sequence} by a person"),
            Event::ImportStarted {
                file_name, format, ..
            } => {
                format!("import of {file_name} ({format}) started")
            }
            Event::ImportFinished {
                rows_total,
                imported,
                merged,
                rejected,
                ..
            } => format!(
                "import finished: {rows_total} rows, {imported} imported, {merged} merged, {rejected} rejected"
            ),
            Event::ContactsImported {
                first_row,
                last_row,
                imported,
                merged,
                unchanged,
                verified,
                scored,
                ..
            } => {
                let counts = |m: &std::collections::BTreeMap<String, u64>| {
                    m.iter()
                        .map(|(k, n)| format!("{k}: {n}"))
                        .collect::<Vec<_>>()
                        .join(", ")
                };
                let mut line = format!(
                    "rows {first_row}–{last_row}: {imported} contacts imported, {merged} merged, {unchanged} unchanged"
                );
                if !verified.is_empty() {
                    line.push_str(&format!("; verified ({})", counts(verified)));
                }
                if !scored.is_empty() {
                    line.push_str(&format!("; scored ({})", counts(scored)));
                }
                line
            }
            Event::Enrolled { sequence, .. } => format!("enrolled in {sequence}"),
            Event::EnrollmentStopped { reason, .. } => {
                format!("automation stopped: {}", reason.as_str())
            }
            Event::DraftCreated {
                author, step_index, ..
            } => format!("draft for step {} written by {author}", step_index + 1),
            Event::DraftEvaluated {
                verdict,
                rule_ids,
                qa_sampled,
                ..
            } => format!(
                "draft evaluated: {verdict}{}{}",
                if rule_ids.is_empty() {
                    String::new()
                } else {
                    format!(" ({})", rule_ids.join(", "))
                },
                if *qa_sampled { ", sampled for QA" } else { "" }
            ),
            Event::DraftReviewed {
                decision,
                reviewer,
                edit_distance,
                reason,
                ..
            } => format!(
                "draft {decision} by {reviewer}{}{}",
                edit_distance
                    .map(|d| format!(" (edit distance {d:.2})"))
                    .unwrap_or_default(),
                reason
                    .as_ref()
                    .map(|r| format!(": {r}"))
                    .unwrap_or_default()
            ),
            Event::DraftSent { .. } => "draft sent".to_string(),
            Event::DraftExpired { .. } => "draft expired unapproved: it is never sent".to_string(),
            Event::SendAuthorityDemoted {
                sequence_type,
                from,
                to,
                acceptance,
                drafts,
            } => format!(
                "{sequence_type} send authority demoted from {from} to {to}: {:.0}% of {drafts} AI drafts accepted",
                acceptance * 100.0
            ),
            Event::ApprovalLinkUsed { action, .. } => {
                format!("{action} link used")
            }
            Event::MessageQueued { rfc_message_id, .. } => {
                format!("message {rfc_message_id} queued")
            }
            Event::MessageClaimed {
                rfc_message_id,
                worker,
                ..
            } => format!("message {rfc_message_id} claimed for sending by {worker}"),
            Event::MessageHeld { reason, until, .. } => format!(
                "message held until {}: {reason}",
                until.format("%Y-%m-%d %H:%M UTC")
            ),
            Event::MessageSent {
                rfc_message_id,
                receipt,
                ..
            } => format!("message {rfc_message_id} sent ({receipt})"),
            Event::MessageFailed {
                failure, reason, ..
            } => format!("message failed ({failure}): {reason}"),
            Event::MessageDeferred {
                error, retry_at, ..
            } => format!(
                "message deferred until {}: {error}",
                retry_at.format("%Y-%m-%d %H:%M:%S UTC")
            ),
            Event::MessageInDoubt {
                rfc_message_id,
                reason,
                ..
            } => format!("message {rfc_message_id} in doubt: {reason}; a person must check it"),
            Event::InboundEventRecorded { provider, kind, .. } => {
                format!("{kind} reported by {provider}")
            }
            Event::EscalationOpened {
                stage,
                reason,
                priority,
                assignee,
                ..
            } => format!(
                "escalated at {stage} ({}): {reason}{}",
                priority.as_str(),
                assignee
                    .as_ref()
                    .map(|a| format!(", assigned to {a}"))
                    .unwrap_or_default()
            ),
            Event::EnrollmentApproved { sequence, .. } => format!("approved for {sequence}"),
            Event::EnrollmentRejected {
                sequence, reason, ..
            } => format!("rejected for {sequence}: {reason}"),
            Event::EscalationResolved { resolution, .. } => {
                format!("escalation resolved: {resolution}")
            }
            Event::JobsEnqueued { kind, count } => format!("{count} {kind} job(s) enqueued"),
            Event::JobFailed {
                job_id,
                kind,
                attempt,
                error,
                retry_at,
            } => format!(
                "{kind} job {job_id} failed (attempt {attempt}): {error}; retry at {}",
                retry_at.format("%Y-%m-%d %H:%M:%S UTC")
            ),
            Event::JobDead {
                job_id,
                kind,
                attempts,
                error,
            } => format!("{kind} job {job_id} is dead after {attempts} attempts: {error}"),
            Event::JobRetried { job_id, kind } => format!("{kind} job {job_id} queued again"),
            Event::ProbeCompleted { job_id, worker } => {
                format!("probe job {job_id} completed by {worker}")
            }
            Event::BenchmarkProbe { run, seq } => format!("benchmark {run} event {seq}"),
            Event::DraftReassigned { from, to, .. } => format!(
                "draft review moved {}to {to}",
                from.as_ref()
                    .map(|f| format!("from {f} "))
                    .unwrap_or_default()
            ),
            Event::MessageRescheduled {
                scheduled_at,
                reason,
                ..
            } => format!(
                "message rescheduled to {}: {reason}",
                scheduled_at.format("%Y-%m-%d %H:%M UTC")
            ),
            Event::ProspectTakenOver {
                by,
                enrollments_stopped,
                ..
            } => format!(
                "taken over by {by}: automation stopped ({enrollments_stopped} enrolment(s))"
            ),
            Event::ProspectHandedBack { by, note, .. } => {
                format!("handed back to AI by {by}: {note}")
            }
            Event::EscalationOverdue {
                due_at, from, to, ..
            } => format!(
                "escalation overdue since {}: {}",
                due_at.format("%Y-%m-%d %H:%M UTC"),
                match (from, to) {
                    (_, Some(to)) => format!(
                        "moved to {to}{}",
                        from.as_ref()
                            .map(|f| format!(", {f}'s manager"))
                            .unwrap_or_default()
                    ),
                    (Some(from), None) => format!("{from} has no manager to move it to"),
                    (None, None) => "nobody is assigned to it".to_string(),
                }
            ),
            Event::SendPolicyRecorded {
                mailboxes,
                fingerprint,
            } => format!(
                "sending rules {fingerprint} recorded for {}",
                if mailboxes.is_empty() {
                    "no mailbox".to_string()
                } else {
                    mailboxes.join(", ")
                }
            ),
            Event::MessageRerouted {
                from_mailbox,
                to_mailbox,
                ..
            } => format!(
                "first email moved from {from_mailbox} to {to_mailbox}, which can send sooner"
            ),
            Event::SendingPaused {
                scope,
                name,
                reason,
            } => format!("{scope} {name} paused: {reason}"),
            Event::SendingResumed {
                scope,
                name,
                reason,
            } => format!("{scope} {name} resumed: {reason}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kind_matches_the_serialized_tag() {
        let events = [
            Event::WorkspaceInitialized {
                workspace: "w".into(),
            },
            Event::SchemaMigrated {
                from_version: 0,
                to_version: 1,
            },
            Event::JobsEnqueued {
                kind: "probe".into(),
                count: 1,
            },
            Event::ProbeCompleted {
                job_id: JobId::new(1),
                worker: "w".into(),
            },
            Event::BenchmarkProbe {
                run: "r".into(),
                seq: 1,
            },
            Event::DraftEvaluated {
                draft_id: DraftId::new(),
                contact_id: ContactId::new(),
                verdict: "needs_approval".into(),
                rule_ids: vec!["pricing-claims".into()],
                qa_sampled: false,
                evaluation: serde_json::json!({
                    "verdict": {"kind": "needs_approval", "window": "24h"},
                    "findings": [{"rule_id": "pricing-claims", "span": [4, 9], "severity": "review"}],
                }),
            },
            Event::DraftReviewed {
                draft_id: DraftId::new(),
                contact_id: ContactId::new(),
                decision: "edited".into(),
                reviewer: "dana".into(),
                edit_distance: Some(0.125),
                reason: None,
            },
            Event::DraftSent {
                draft_id: DraftId::new(),
                contact_id: ContactId::new(),
            },
            Event::DraftExpired {
                draft_id: DraftId::new(),
                contact_id: ContactId::new(),
            },
            Event::SendAuthorityDemoted {
                sequence_type: "cold".into(),
                from: "auto".into(),
                to: "approval".into(),
                acceptance: 0.55,
                drafts: 40,
            },
            Event::ApprovalLinkUsed {
                draft_id: DraftId::new(),
                contact_id: ContactId::new(),
                action: "approve".into(),
                nonce: "0123456789abcdef".into(),
            },
            Event::ContactsImported {
                import_id: ImportId::new(),
                first_row: 2,
                last_row: 10_001,
                imported: 9_990,
                merged: 5,
                unchanged: 5,
                verified: [("valid".to_string(), 9_990)].into(),
                scored: [("Good".to_string(), 9_990)].into(),
            },
        ];
        for event in events {
            let json = serde_json::to_value(&event).unwrap();
            assert_eq!(json["type"], event.kind());
            let back: Event = serde_json::from_value(json).unwrap();
            assert_eq!(back, event);
        }
    }

    #[test]
    fn events_about_a_draft_are_filed_under_its_contact() {
        // The store finds a draft's history through the ledger's contact
        // index: every event whose payload names a draft must name its
        // contact too.
        let draft_id = DraftId::new();
        let contact_id = ContactId::new();
        let events = [
            Event::DraftCreated {
                draft_id,
                contact_id,
                author: "ai".into(),
                step_index: 0,
            },
            Event::DraftEvaluated {
                draft_id,
                contact_id,
                verdict: "auto_send".into(),
                rule_ids: vec![],
                qa_sampled: true,
                evaluation: serde_json::json!({}),
            },
            Event::DraftReviewed {
                draft_id,
                contact_id,
                decision: "approved".into(),
                reviewer: "dana".into(),
                edit_distance: Some(0.0),
                reason: None,
            },
            Event::DraftSent {
                draft_id,
                contact_id,
            },
            Event::DraftExpired {
                draft_id,
                contact_id,
            },
            Event::MessageQueued {
                message_id: MessageId::new(),
                contact_id,
                draft_id,
                rfc_message_id: "<m@x>".into(),
            },
        ];
        for event in events {
            let json = serde_json::to_value(&event).unwrap();
            assert_eq!(json["draft_id"], draft_id.to_string());
            assert_eq!(event.subjects().contact_id, Some(contact_id), "{event:?}");
        }
    }

    #[test]
    fn sending_events_name_their_contact_and_round_trip() {
        let (message_id, contact_id, draft_id) =
            (MessageId::new(), ContactId::new(), DraftId::new());
        let at = chrono::DateTime::from_timestamp(1_800_000_000, 0).unwrap();
        let events = [
            Event::MessageClaimed {
                message_id,
                contact_id,
                rfc_message_id: "m@x".into(),
                worker: "host-1".into(),
                lease_until: at,
            },
            Event::MessageHeld {
                message_id,
                contact_id,
                reason: "veto window open".into(),
                until: at,
            },
            Event::MessageSent {
                message_id,
                contact_id,
                draft_id,
                rfc_message_id: "m@x".into(),
                receipt: "250 ok".into(),
            },
            Event::MessageFailed {
                message_id,
                contact_id,
                failure: "rejected".into(),
                reason: "refused with 550".into(),
            },
            Event::MessageDeferred {
                message_id,
                contact_id,
                error: "421".into(),
                retry_at: at,
            },
            Event::MessageInDoubt {
                message_id,
                contact_id,
                rfc_message_id: "m@x".into(),
                reason: "the server went away".into(),
            },
        ];
        for event in events {
            let json = serde_json::to_value(&event).unwrap();
            assert_eq!(json["type"], event.kind(), "{event:?}");
            assert_eq!(event.subjects().contact_id, Some(contact_id));
            assert_eq!(serde_json::from_value::<Event>(json).unwrap(), event);
            assert!(!event.summary().is_empty());
        }
    }

    #[test]
    fn summaries_read_as_sentences() {
        let demoted = Event::SendAuthorityDemoted {
            sequence_type: "cold".into(),
            from: "auto".into(),
            to: "approval".into(),
            acceptance: 0.55,
            drafts: 40,
        };
        assert_eq!(
            demoted.summary(),
            "cold send authority demoted from auto to approval: 55% of 40 AI drafts accepted"
        );
        let reviewed = Event::DraftReviewed {
            draft_id: DraftId::new(),
            contact_id: ContactId::new(),
            decision: "edited".into(),
            reviewer: "dana".into(),
            edit_distance: Some(0.1),
            reason: None,
        };
        assert_eq!(
            reviewed.summary(),
            "draft edited by dana (edit distance 0.10)"
        );
    }

    #[test]
    fn an_import_batch_reads_as_one_line() {
        let batch = Event::ContactsImported {
            import_id: ImportId::new(),
            first_row: 2,
            last_row: 9,
            imported: 6,
            merged: 1,
            unchanged: 0,
            verified: [
                ("valid".to_string(), 5),
                ("invalid (syntax)".to_string(), 1),
            ]
            .into(),
            scored: [("Good".to_string(), 6)].into(),
        };
        assert_eq!(
            batch.summary(),
            "rows 2–9: 6 contacts imported, 1 merged, 0 unchanged; verified (invalid (syntax): 1, valid: 5); scored (Good: 6)"
        );
    }

    #[test]
    fn review_and_inbox_events_name_their_contact_and_round_trip() {
        let (contact_id, draft_id) = (ContactId::new(), DraftId::new());
        let escalation_id = EscalationId::new();
        let at = chrono::DateTime::from_timestamp(1_800_000_000, 0).unwrap();
        let events = [
            Event::DraftReviewed {
                draft_id,
                contact_id,
                decision: "rejected".into(),
                reviewer: "dana".into(),
                edit_distance: None,
                reason: Some("wrong person".into()),
            },
            Event::DraftReassigned {
                draft_id,
                contact_id,
                from: Some("dana".into()),
                to: "sam".into(),
            },
            Event::MessageRescheduled {
                message_id: MessageId::new(),
                contact_id,
                draft_id,
                scheduled_at: at,
                reason: "approved before its veto window ended".into(),
            },
            Event::ProspectTakenOver {
                contact_id,
                escalation_id: Some(escalation_id),
                by: "dana".into(),
                enrollments_stopped: 2,
            },
            Event::ProspectHandedBack {
                contact_id,
                by: "dana".into(),
                note: "not now; try in Q3".into(),
            },
            Event::EscalationOverdue {
                escalation_id,
                contact_id: Some(contact_id),
                due_at: at,
                from: Some("dana".into()),
                to: Some("morgan".into()),
            },
        ];
        for event in events {
            let json = serde_json::to_value(&event).unwrap();
            assert_eq!(json["type"], event.kind(), "{event:?}");
            assert_eq!(event.subjects().contact_id, Some(contact_id));
            assert_eq!(serde_json::from_value::<Event>(json).unwrap(), event);
            assert!(!event.summary().is_empty());
        }
        // A review entry written before rejections carried a reason reads
        // back with none.
        let old = serde_json::json!({"type": "draft_reviewed", "draft_id": draft_id, "contact_id": contact_id,
            "decision": "approved", "reviewer": "dana", "edit_distance": 0.0});
        assert!(matches!(
            serde_json::from_value::<Event>(old).unwrap(),
            Event::DraftReviewed { reason: None, .. }
        ));
        let rejected = Event::DraftReviewed {
            draft_id,
            contact_id,
            decision: "rejected".into(),
            reviewer: "dana".into(),
            edit_distance: None,
            reason: Some("wrong person".into()),
        };
        assert_eq!(rejected.summary(), "draft rejected by dana: wrong person");
    }

    #[test]
    fn scheduling_events_round_trip() {
        let contact_id = ContactId::new();
        let events = [
            Event::SendPolicyRecorded {
                mailboxes: vec!["dana@x.example".into()],
                fingerprint: "0123456789abcdef".into(),
            },
            Event::MessageRerouted {
                message_id: MessageId::new(),
                contact_id,
                from_mailbox: "dana@x.example".into(),
                to_mailbox: "dana2@x.example".into(),
            },
            Event::SendingPaused {
                scope: "mailbox".into(),
                name: "dana@x.example".into(),
                reason: "bounce rate 10.0% is above 3.0%".into(),
            },
            Event::SendingResumed {
                scope: "sequence".into(),
                name: "sdr-cold".into(),
                reason: "list cleaned".into(),
            },
        ];
        for event in events {
            let json = serde_json::to_value(&event).unwrap();
            assert_eq!(json["type"], event.kind(), "{event:?}");
            assert_eq!(serde_json::from_value::<Event>(json).unwrap(), event);
            assert!(!event.summary().is_empty());
        }
    }

    #[test]
    fn actors_round_trip_through_columns() {
        let a = Actor::human("dana");
        assert_eq!(Actor::from_parts(a.kind(), a.name()), Some(a));
        assert_eq!(Actor::from_parts("robot", "x"), None);
    }
}
