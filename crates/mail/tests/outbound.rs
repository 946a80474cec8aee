//! Outbound mail end to end: MIME read back by an independent parser
//! (mail-parser), DKIM signatures checked by an independent verifier
//! (Python's dkimpy), delivery to a real SMTP server (aiosmtpd, from the
//! testkit) in every mode and failure the transport tells apart, and the
//! file outbox.
// Test helpers outside #[test] fns are not covered by clippy.toml's allowance.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "outbound/bench.rs"]
mod bench;
#[path = "outbound/common.rs"]
mod common;
#[path = "outbound/compose.rs"]
mod compose;
#[path = "outbound/dkim.rs"]
mod dkim;
#[path = "outbound/file.rs"]
mod file;
#[path = "outbound/smtp.rs"]
mod smtp;
