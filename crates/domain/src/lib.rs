//! The pure heart of handoff: typed ids, the ledger's closed set of events,
//! job lifecycle rules, the playbook and text comparison. Nothing here does
//! I/O.

pub mod drafting;
pub mod email;
pub mod enrollment;
pub mod escalation;
pub mod ids;
pub mod import;
pub mod jobs;
pub mod ledger;
mod native_cel;
pub mod playbook;
pub mod policy;
pub mod schedule;
pub mod scoring;
pub mod text;
pub mod titles;
pub mod users;
pub mod verification;

pub use email::EmailAddress;
pub use ids::{
    AccountId, ContactId, DraftId, EnrollmentId, EscalationId, ImportId, InboundEventId, JobId,
    LedgerEntryId, MessageId, UserId,
};
pub use ledger::{Actor, Event, Subjects};
