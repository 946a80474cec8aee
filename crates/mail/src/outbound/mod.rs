//! Outbound mail: a typed message becomes MIME ([`compose`]), is signed
//! ([`dkim`]) and handed to a [`Transport`]: an SMTP server ([`smtp`]) or a
//! folder of `.eml` files ([`file`]).
//!
//! Delivery outcomes are typed so the caller can keep the promise of
//! exactly-once sending: a failure before the message body was handed over
//! means "not delivered", a failure after it means "in doubt" (a human
//! decides; never resend blindly).

pub mod bench;
pub mod compose;
pub mod dkim;
pub mod file;
pub mod smtp;

use std::fmt;
use std::path::PathBuf;

use handoff_domain::email::EmailAddress;

pub use compose::{ComposeError, ComposedMessage, OutgoingMessage, UnsubscribeLink, compose};
pub use dkim::{DkimAlgorithm, DkimError, DkimSettings, DkimSigner};
pub use file::FileOutbox;
pub use smtp::{Security, SmtpConfig, SmtpConfigError, SmtpCredentials, SmtpTransport};

/// Longest Message-ID accepted; long enough for any generator in use, short
/// enough to become a file name and a database key.
pub const MAX_MESSAGE_ID_LEN: usize = 250;

/// A Message-ID without its angle brackets: `local@domain`, both sides
/// dot-atom text (RFC 5322 §3.6.4).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct MessageId(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MessageIdError {
    #[error("the Message-ID is empty")]
    Empty,
    #[error("Message-ID `{0}` is longer than {MAX_MESSAGE_ID_LEN} characters")]
    TooLong(String),
    #[error(
        "Message-ID `{0}` needs exactly one `@` with text on both sides, e.g. <id@example.com>"
    )]
    Shape(String),
    #[error(
        "Message-ID `{id}` contains {found:?}, which a Message-ID may not hold: use letters, digits and . - _ + = and the like"
    )]
    Character { id: String, found: char },
}

impl MessageId {
    /// Accepts `<id@domain>` or `id@domain`.
    pub fn parse(input: &str) -> Result<Self, MessageIdError> {
        let trimmed = input.trim();
        let bare = trimmed
            .strip_prefix('<')
            .and_then(|rest| rest.strip_suffix('>'))
            .unwrap_or(trimmed);
        if bare.is_empty() {
            return Err(MessageIdError::Empty);
        }
        if bare.len() > MAX_MESSAGE_ID_LEN {
            return Err(MessageIdError::TooLong(bare.chars().take(60).collect()));
        }
        if let Some(found) = bare.chars().find(|c| !(*c == '@' || is_dot_atom_char(*c))) {
            return Err(MessageIdError::Character {
                id: bare.to_owned(),
                found,
            });
        }
        let shape_ok = bare.split_once('@').is_some_and(|(left, right)| {
            [left, right].iter().all(|side| {
                !side.is_empty() && !side.contains('@') && side.split('.').all(|a| !a.is_empty())
            })
        });
        if !shape_ok {
            return Err(MessageIdError::Shape(bare.to_owned()));
        }
        Ok(Self(bare.to_owned()))
    }

    /// A fresh, time-ordered id in the sender's domain.
    pub fn generate(domain: &str) -> Result<Self, MessageIdError> {
        Self::parse(&format!("{}@{domain}", uuid::Uuid::now_v7().simple()))
    }

    /// Without angle brackets.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// With angle brackets, as written in headers.
    pub fn bracketed(&self) -> String {
        format!("<{}>", self.0)
    }
}

impl fmt::Display for MessageId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "<{}>", self.0)
    }
}

/// RFC 5322 `atext` plus `.`.
fn is_dot_atom_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || "!#$%&'*+-/=?^_`{|}~.".contains(c)
}

/// Where a message went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivered {
    pub message_id: MessageId,
    pub receipt: Receipt,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Receipt {
    /// The server's final reply to the message, e.g. `250 2.0.0 queued as X`.
    Smtp { code: u16, reply: String },
    /// The `.eml` file written.
    File { path: PathBuf },
}

/// The step of the SMTP conversation that failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SmtpStep {
    Connect,
    Greeting,
    Ehlo,
    Starttls,
    Auth,
    MailFrom,
    RcptTo,
    Data,
    /// After the message body and its final dot were sent.
    Message,
}

impl fmt::Display for SmtpStep {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Connect => "connect",
            Self::Greeting => "greeting",
            Self::Ehlo => "EHLO",
            Self::Starttls => "STARTTLS",
            Self::Auth => "AUTH",
            Self::MailFrom => "MAIL FROM",
            Self::RcptTo => "RCPT TO",
            Self::Data => "DATA",
            Self::Message => "end of message",
        })
    }
}

/// Why a delivery did not (certainly) happen. Every variant but
/// [`DeliveryError::InDoubt`] means the message was not delivered.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DeliveryError {
    /// 5xx: the server refused for good. Do not retry this message as is.
    #[error("{server} refused the message at {step} with {code}: {reply}")]
    Rejected {
        server: String,
        step: SmtpStep,
        code: u16,
        reply: String,
    },
    /// 4xx: try again later.
    #[error("{server} deferred the message at {step} with {code}: {reply}")]
    Deferred {
        server: String,
        step: SmtpStep,
        code: u16,
        reply: String,
    },
    /// 4xx that says the sender goes too fast: slow down, then retry.
    #[error("{server} is rate limiting this mailbox ({code} at {step}): {reply}")]
    RateLimited {
        server: String,
        step: SmtpStep,
        code: u16,
        reply: String,
    },
    /// The server refused the username or password.
    #[error(
        "{server} refused the SMTP login{}: {reply}; check the mailbox's username and password",
        code.map(|code| format!(" with {code}")).unwrap_or_default()
    )]
    Auth {
        server: String,
        code: Option<u16>,
        reply: String,
    },
    /// Could not reach or talk to the server before any message was sent.
    #[error("{0}")]
    Connection(String),
    /// TLS could not be set up (wrong mode for the port, untrusted
    /// certificate, no STARTTLS on offer).
    #[error("{0}")]
    Tls(String),
    /// The message or envelope cannot go to this server as it is.
    #[error("{0}")]
    Unsendable(String),
    /// The message body was handed over but no final reply arrived: it may
    /// or may not have been accepted. Never resend it automatically.
    #[error(
        "{server} went away after the message was sent ({reason}): it may have been delivered; leave it for a person to check, never resend it automatically"
    )]
    InDoubt { server: String, reason: String },
    /// The file outbox already holds this Message-ID.
    #[error("{message_id} was already delivered to the outbox as {}", path.display())]
    AlreadyDelivered {
        message_id: MessageId,
        path: PathBuf,
    },
    /// The outbox folder could not be written.
    #[error("cannot write {}: {reason}", path.display())]
    Outbox { path: PathBuf, reason: String },
}

impl DeliveryError {
    /// The message may have reached the recipient's server.
    pub fn is_in_doubt(&self) -> bool {
        matches!(self, Self::InDoubt { .. })
    }

    /// Trying again later may work (and is safe: nothing was delivered).
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            Self::Deferred { .. } | Self::RateLimited { .. } | Self::Connection(_)
        )
    }

    /// Nothing will change by retrying: the message or the setup must change.
    pub fn is_permanent(&self) -> bool {
        !self.is_in_doubt() && !self.is_retryable()
    }
}

/// One message to one recipient, with the bytes exactly as composed and
/// signed.
#[derive(Debug, Clone, Copy)]
pub struct Envelope<'a> {
    /// The MAIL FROM address (where bounces go).
    pub from: &'a EmailAddress,
    pub to: &'a EmailAddress,
    pub message_id: &'a MessageId,
    pub raw: &'a [u8],
}

/// Somewhere a message can be delivered exactly once.
#[async_trait::async_trait]
pub trait Transport: Send + Sync + fmt::Debug {
    async fn deliver(&self, envelope: Envelope<'_>) -> Result<Delivered, DeliveryError>;
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn message_ids_parse_with_or_without_brackets() {
        let id = MessageId::parse("<a.b+c@mail.example.com>").unwrap();
        assert_eq!(id.as_str(), "a.b+c@mail.example.com");
        assert_eq!(id.to_string(), "<a.b+c@mail.example.com>");
        assert_eq!(MessageId::parse("a.b+c@mail.example.com").unwrap(), id);
    }

    #[test]
    fn bad_message_ids_say_why() {
        assert_eq!(MessageId::parse("<>"), Err(MessageIdError::Empty));
        assert!(matches!(
            MessageId::parse("no-at"),
            Err(MessageIdError::Shape(_))
        ));
        assert!(matches!(
            MessageId::parse("a@b@c"),
            Err(MessageIdError::Shape(_))
        ));
        assert!(matches!(
            MessageId::parse("a..b@c"),
            Err(MessageIdError::Shape(_))
        ));
        let error = MessageId::parse("a b@c").unwrap_err();
        assert!(error.to_string().contains("' '"), "{error}");
        assert!(matches!(
            MessageId::parse("x@y>\r\nBcc: z@w"),
            Err(MessageIdError::Character { .. })
        ));
        let long = format!("{}@example.com", "a".repeat(MAX_MESSAGE_ID_LEN));
        assert!(matches!(
            MessageId::parse(&long),
            Err(MessageIdError::TooLong(_))
        ));
    }

    #[test]
    fn generated_ids_are_unique_and_valid() {
        let a = MessageId::generate("mail.example.com").unwrap();
        let b = MessageId::generate("mail.example.com").unwrap();
        assert_ne!(a, b);
        assert!(a.as_str().ends_with("@mail.example.com"));
    }

    proptest! {
        #[test]
        fn parsing_never_panics_and_round_trips(input in "\\PC{0,80}") {
            if let Ok(id) = MessageId::parse(&input) {
                prop_assert_eq!(MessageId::parse(&id.to_string()), Ok(id.clone()));
                prop_assert!(id.as_str().is_ascii());
            }
        }
    }
}
