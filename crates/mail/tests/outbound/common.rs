//! Shared builders.

use std::time::Duration;

use handoff_domain::email::EmailAddress;
use handoff_mail::outbound::smtp::{Security, SmtpConfig};
use handoff_mail::outbound::{MessageId, OutgoingMessage, UnsubscribeLink};

pub fn address(text: &str) -> EmailAddress {
    EmailAddress::parse(text).unwrap()
}

pub fn id(text: &str) -> MessageId {
    MessageId::parse(text).unwrap()
}

pub const PHYSICAL_ADDRESS: &str = "Acme Robotics GmbH, Hauptstraße 5, 10115 Berlin, Germany";

/// A first touch with non-ASCII names, subject and body.
pub fn message(message_id: &str) -> OutgoingMessage {
    OutgoingMessage {
        from: address("dana@acme.test"),
        from_name: Some("Dana Müller".into()),
        to: address("ada@example.test"),
        to_name: Some("Ada Lovelace-Ñúñez".into()),
        subject: "Grüße — a quick question about Q3 ✓".into(),
        body: "Hi Ada,\n\nI saw <Acme> & friends \"ship\" faster.\nWould a 15-minute call help?\n\nBest,\nDana".into(),
        message_id: id(message_id),
        thread: None,
        physical_address: PHYSICAL_ADDRESS.into(),
        unsubscribe: UnsubscribeLink::new("https://handoff.acme.test", "tok_123").unwrap(),
        date: None,
    }
}

/// Plain SMTP to the sink, with short limits so failures show quickly.
pub fn plain_config(port: u16) -> SmtpConfig {
    let mut config = SmtpConfig::new("127.0.0.1", port, Security::None);
    config.hello_name = Some("sender.handoff.test".into());
    config.connect_timeout = Duration::from_secs(3);
    config.command_timeout = Duration::from_secs(3);
    config.data_timeout = Duration::from_secs(5);
    config
}
