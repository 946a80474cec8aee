//! One-click unsubscribe: event, suppression and stops in one transaction.

use async_trait::async_trait;
use rusqlite::{OptionalExtension, params};

use handoff_domain::enrollment::StopReason;
use handoff_domain::{ContactId, EmailAddress, Event, InboundEventId, MessageId};
use handoff_store::{
    CommandContext, StoreError, StoreResult, UNSUBSCRIBE_PROVIDER, UnsubscribeVia, Unsubscribed,
    Unsubscribes, unsubscribe_event_key,
};

use crate::rows::{db_err, micros, parse_id};
use crate::workflow::stop_in;
use crate::{SqliteStore, insert_entry, suppress_in};

fn recipient(
    conn: &rusqlite::Connection,
    message: MessageId,
) -> StoreResult<Option<(ContactId, EmailAddress, String)>> {
    let row: Option<(String, String, String)> = conn
        .query_row(
            "SELECT m.contact_id, c.email, m.rfc_message_id
             FROM messages m JOIN contacts c ON c.id = m.contact_id WHERE m.id = ?1",
            [message.to_string()],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .optional()
        .map_err(db_err)?;
    row.map(|(contact, email, rfc)| {
        let email =
            EmailAddress::parse(&email).map_err(|_| StoreError::corrupt("contact email"))?;
        Ok((parse_id(&contact, "contact id")?, email, rfc))
    })
    .transpose()
}

#[async_trait]
impl Unsubscribes for SqliteStore {
    async fn unsubscribe(
        &self,
        ctx: &CommandContext,
        message: MessageId,
        via: UnsubscribeVia,
    ) -> StoreResult<Unsubscribed> {
        self.write(|tx| {
            let Some((contact, email, rfc)) = recipient(tx, message)? else {
                return Err(StoreError::NotFound {
                    what: format!("message {message}"),
                });
            };
            let key = unsubscribe_event_key(message);
            let event_id = InboundEventId::new();
            let inserted = tx
                .execute(
                    "INSERT INTO events (id, provider, provider_event_id, kind, contact_id, rfc_message_id, occurred_at, received_at, payload)
                     VALUES (?1, ?2, ?3, 'unsubscribe', ?4, ?5, ?6, ?6, ?7)
                     ON CONFLICT (provider, provider_event_id) DO NOTHING",
                    params![
                        event_id.to_string(),
                        UNSUBSCRIBE_PROVIDER,
                        key,
                        contact.to_string(),
                        rfc,
                        micros(ctx.now),
                        serde_json::json!({ "via": via.as_str() }).to_string(),
                    ],
                )
                .map_err(db_err)?;
            if inserted == 0 {
                let existing: String = tx
                    .query_row(
                        "SELECT id FROM events WHERE provider = ?1 AND provider_event_id = ?2",
                        params![UNSUBSCRIBE_PROVIDER, key],
                        |r| r.get(0),
                    )
                    .map_err(db_err)?;
                return Ok(Unsubscribed {
                    message_id: message,
                    contact_id: contact,
                    email,
                    event_id: parse_id(&existing, "event id")?,
                    first_time: false,
                    enrollments_stopped: 0,
                });
            }
            insert_entry(
                tx,
                ctx,
                &Event::InboundEventRecorded {
                    event_id,
                    provider: UNSUBSCRIBE_PROVIDER.into(),
                    kind: "unsubscribe".into(),
                    contact_id: Some(contact),
                },
            )?;
            suppress_in(tx, ctx, &email, "unsubscribe")?;
            let stopped = stop_in(tx, ctx, contact, StopReason::Unsubscribed)?;
            Ok(Unsubscribed {
                message_id: message,
                contact_id: contact,
                email,
                event_id,
                first_time: true,
                enrollments_stopped: stopped,
            })
        })
    }

    async fn message_recipient(&self, message: MessageId) -> StoreResult<Option<EmailAddress>> {
        let conn = self.reader();
        Ok(recipient(&conn, message)?.map(|(_, email, _)| email))
    }
}
