//! Mail: address verification, and outbound MIME, DKIM and delivery (SMTP
//! or a file outbox); inbound parsing as later stages need it.

pub mod address;
pub mod outbound;
