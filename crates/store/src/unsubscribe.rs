//! One-click unsubscribe (RFC 8058): the link in a message names the
//! message; using it suppresses the recipient and stops their automation in
//! one transaction, so a success page is never shown for a stop that was
//! not recorded (DESIGN.md §4.5).

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use handoff_domain::{ContactId, EmailAddress, InboundEventId, MessageId};

use crate::{CommandContext, StoreResult};

/// The provider name under which unsubscribe requests are kept as events.
pub const UNSUBSCRIBE_PROVIDER: &str = "handoff";

/// How the request arrived.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UnsubscribeVia {
    /// A mail client's RFC 8058 POST (`List-Unsubscribe=One-Click`).
    OneClick,
    /// The recipient pressed the button on the confirm page.
    ConfirmPage,
}

impl UnsubscribeVia {
    pub fn as_str(self) -> &'static str {
        match self {
            UnsubscribeVia::OneClick => "one_click",
            UnsubscribeVia::ConfirmPage => "confirm_page",
        }
    }
}

/// What an unsubscribe request did.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Unsubscribed {
    pub message_id: MessageId,
    pub contact_id: ContactId,
    pub email: EmailAddress,
    /// The `unsubscribe` event kept for this message (the first request's).
    pub event_id: InboundEventId,
    /// False when this message's link had been used before: nothing changed.
    pub first_time: bool,
    /// Enrolments stopped by this request.
    pub enrollments_stopped: u64,
}

/// The `provider_event_id` of a message's unsubscribe event: one per
/// message, so repeated requests (mail clients retry) change nothing.
pub fn unsubscribe_event_key(message: MessageId) -> String {
    format!("unsubscribe:{message}")
}

#[async_trait]
pub trait Unsubscribes: Send + Sync {
    /// Records an `unsubscribe` event for the message's recipient, adds
    /// their address to the suppression list and stops every open
    /// enrolment of theirs, in one transaction. Idempotent per message.
    /// NotFound when no message has that id.
    async fn unsubscribe(
        &self,
        ctx: &CommandContext,
        message: MessageId,
        via: UnsubscribeVia,
    ) -> StoreResult<Unsubscribed>;

    /// The address a message went to, for the confirm page; changes nothing.
    async fn message_recipient(&self, message: MessageId) -> StoreResult<Option<EmailAddress>>;
}
