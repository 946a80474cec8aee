//! One-click unsubscribe: event, suppression and stops in one transaction.

use async_trait::async_trait;
use sqlx::{Postgres, Row};
use uuid::Uuid;

use handoff_domain::enrollment::StopReason;
use handoff_domain::{ContactId, EmailAddress, Event, InboundEventId, MessageId};
use handoff_store::{
    CommandContext, StoreError, StoreResult, UNSUBSCRIBE_PROVIDER, UnsubscribeVia, Unsubscribed,
    Unsubscribes, unsubscribe_event_key,
};

use crate::rows::db_err;
use crate::workflow::stop_in;
use crate::{PostgresStore, insert_entry, suppress_in};

async fn recipient<'e, E>(
    executor: E,
    message: MessageId,
) -> StoreResult<Option<(ContactId, EmailAddress, String)>>
where
    E: sqlx::Executor<'e, Database = Postgres>,
{
    let row = sqlx::query(
        "SELECT m.contact_id, c.email, m.rfc_message_id
         FROM messages m JOIN contacts c ON c.id = m.contact_id WHERE m.id = $1",
    )
    .bind(message.as_uuid())
    .fetch_optional(executor)
    .await
    .map_err(db_err)?;
    row.map(|row| {
        let contact: Uuid = row.try_get(0).map_err(db_err)?;
        let email: String = row.try_get(1).map_err(db_err)?;
        let rfc: String = row.try_get(2).map_err(db_err)?;
        let email =
            EmailAddress::parse(&email).map_err(|_| StoreError::corrupt("contact email"))?;
        Ok((ContactId::from_uuid(contact), email, rfc))
    })
    .transpose()
}

#[async_trait]
impl Unsubscribes for PostgresStore {
    async fn unsubscribe(
        &self,
        ctx: &CommandContext,
        message: MessageId,
        via: UnsubscribeVia,
    ) -> StoreResult<Unsubscribed> {
        let mut tx = self.pool().begin().await.map_err(db_err)?;
        let Some((contact, email, rfc)) = recipient(&mut *tx, message).await? else {
            return Err(StoreError::NotFound {
                what: format!("message {message}"),
            });
        };
        // The contact row is the lock every claim takes (FOR SHARE): a claim
        // either sees this stop or commits before it (DESIGN.md §4.2).
        sqlx::query("SELECT 1 FROM contacts WHERE id = $1 FOR UPDATE")
            .bind(contact.as_uuid())
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
        let key = unsubscribe_event_key(message);
        let event_id = InboundEventId::new();
        let inserted: Option<Uuid> = sqlx::query_scalar(
            "INSERT INTO events (id, provider, provider_event_id, kind, contact_id, rfc_message_id, occurred_at, received_at, payload)
             VALUES ($1, $2, $3, 'unsubscribe', $4, $5, $6, $6, $7)
             ON CONFLICT (provider, provider_event_id) DO NOTHING RETURNING id",
        )
        .bind(event_id.as_uuid())
        .bind(UNSUBSCRIBE_PROVIDER)
        .bind(&key)
        .bind(contact.as_uuid())
        .bind(&rfc)
        .bind(ctx.now)
        .bind(serde_json::json!({ "via": via.as_str() }))
        .fetch_optional(&mut *tx)
        .await
        .map_err(db_err)?;
        if inserted.is_none() {
            let existing: Uuid = sqlx::query_scalar(
                "SELECT id FROM events WHERE provider = $1 AND provider_event_id = $2",
            )
            .bind(UNSUBSCRIBE_PROVIDER)
            .bind(&key)
            .fetch_one(&mut *tx)
            .await
            .map_err(db_err)?;
            return Ok(Unsubscribed {
                message_id: message,
                contact_id: contact,
                email,
                event_id: InboundEventId::from_uuid(existing),
                first_time: false,
                enrollments_stopped: 0,
            });
        }
        insert_entry(
            &mut tx,
            ctx,
            &Event::InboundEventRecorded {
                event_id,
                provider: UNSUBSCRIBE_PROVIDER.into(),
                kind: "unsubscribe".into(),
                contact_id: Some(contact),
            },
        )
        .await?;
        suppress_in(&mut tx, ctx, &email, "unsubscribe").await?;
        let stopped = stop_in(&mut tx, ctx, contact, StopReason::Unsubscribed).await?;
        tx.commit().await.map_err(db_err)?;
        Ok(Unsubscribed {
            message_id: message,
            contact_id: contact,
            email,
            event_id,
            first_time: true,
            enrollments_stopped: stopped,
        })
    }

    async fn message_recipient(&self, message: MessageId) -> StoreResult<Option<EmailAddress>> {
        Ok(recipient(self.pool(), message)
            .await?
            .map(|(_, email, _)| email))
    }
}
