//! Messages on PostgreSQL: claims take due rows with `FOR UPDATE SKIP
//! LOCKED` (several processes never claim the same message) and hold the
//! contact row `FOR SHARE` while they check stop conditions; every stop
//! takes that row `FOR UPDATE`, so a claim either sees the stop or commits
//! before it.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::postgres::PgRow;
use sqlx::{PgConnection, Row};
use uuid::Uuid;

use handoff_domain::{ContactId, DraftId, EmailAddress, Event, MessageId};
use handoff_store::{
    ClaimedMessage, ClaimedMessages, CommandContext, DraftRecord, Fenced, HeldMessage,
    InDoubtMessage, Message, MessageClaim, MessageFailure, Messages, NewMessage, Plan,
    RECHECK_AFTER, StopFacts, StoreError, StoreResult, parse_stop_reason, send_check, to_micros,
};

use crate::drafts::locked;
use crate::rows::{conflict_or, db_err, is_code};
use crate::scheduling;
use crate::{PostgresStore, insert_entry};

pub(crate) fn read_message(row: &PgRow) -> StoreResult<Message> {
    let mailbox: String = row.try_get("mailbox").map_err(db_err)?;
    let state: String = row.try_get("state").map_err(db_err)?;
    let failure: Option<String> = row.try_get("failure").map_err(db_err)?;
    Ok(Message {
        id: MessageId::from_uuid(row.try_get("id").map_err(db_err)?),
        draft_id: DraftId::from_uuid(row.try_get("draft_id").map_err(db_err)?),
        contact_id: ContactId::from_uuid(row.try_get("contact_id").map_err(db_err)?),
        mailbox: EmailAddress::parse(&mailbox)
            .map_err(|_| StoreError::corrupt("message mailbox"))?,
        rfc_message_id: row.try_get("rfc_message_id").map_err(db_err)?,
        in_reply_to: row.try_get("in_reply_to").map_err(db_err)?,
        failure: match failure {
            // `in_doubt` keeps its reason as text in the same column.
            Some(f) if state == "failed" => {
                Some(serde_json::from_str(&f).map_err(|_| StoreError::corrupt("message failure"))?)
            }
            _ => None,
        },
        state,
        scheduled_at: row.try_get("scheduled_at").map_err(db_err)?,
        sent_at: row.try_get("sent_at").map_err(db_err)?,
        created_at: row.try_get("created_at").map_err(db_err)?,
    })
}

pub(crate) async fn escalated(conn: &mut PgConnection, record: &DraftRecord) -> StoreResult<bool> {
    match record.evaluated_at {
        Some(evaluated_at) => sqlx::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM escalations WHERE contact_id = $1 AND created_at > $2)",
        )
        .bind(record.draft.contact_id.as_uuid())
        .bind(evaluated_at)
        .fetch_one(&mut *conn)
        .await
        .map_err(db_err),
        None => Ok(false),
    }
}

struct Recipient {
    email: EmailAddress,
    name: Option<String>,
    facts: StopFacts,
}

/// Locks the contact row FOR SHARE, then reads its stop conditions.
async fn recipient(conn: &mut PgConnection, record: &DraftRecord) -> StoreResult<Recipient> {
    let contact = record.draft.contact_id;
    let row = sqlx::query(
        "SELECT email, first_name, last_name, handled_by, stopped_reason FROM contacts WHERE id = $1 FOR SHARE",
    )
    .bind(contact.as_uuid())
    .fetch_one(&mut *conn)
    .await
    .map_err(db_err)?;
    let email: String = row.try_get("email").map_err(db_err)?;
    let first: String = row.try_get("first_name").map_err(db_err)?;
    let last: String = row.try_get("last_name").map_err(db_err)?;
    let handled_by: String = row.try_get("handled_by").map_err(db_err)?;
    let contact_stop: Option<String> = row.try_get("stopped_reason").map_err(db_err)?;
    let email = EmailAddress::parse(&email).map_err(|_| StoreError::corrupt("contact email"))?;
    // The draft's own enrolment stopped for any reason, or another one for
    // a reason that is about the person (everything but `manual`, and a
    // take-over, which holds through `handled_by` until it is handed back).
    let enrollment_stop: Option<String> = sqlx::query_scalar(
        "SELECT stop_reason FROM enrollments
          WHERE contact_id = $1 AND state = 'stopped' AND stop_reason IS NOT NULL
            AND (id = $2 OR stop_reason NOT IN ('manual', 'taken_over'))
          ORDER BY updated_at LIMIT 1",
    )
    .bind(contact.as_uuid())
    .bind(record.draft.enrollment_id.map(|id| id.as_uuid()))
    .fetch_optional(&mut *conn)
    .await
    .map_err(db_err)?;
    let stopped = match contact_stop.or(enrollment_stop) {
        Some(raw) => Some(parse_stop_reason(&raw)?),
        None => None,
    };
    let suppressed: bool =
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM suppressions WHERE email_hash = $1)")
            .bind(email.suppression_hash())
            .fetch_one(&mut *conn)
            .await
            .map_err(db_err)?;
    let name = format!("{first} {last}").trim().to_string();
    Ok(Recipient {
        email,
        name: (!name.is_empty()).then_some(name),
        facts: StopFacts {
            stopped,
            suppressed,
            human_owned: handled_by == "human",
        },
    })
}

pub(crate) fn failure_json(failure: &MessageFailure) -> StoreResult<String> {
    serde_json::to_string(failure)
        .map_err(|e| StoreError::Database(format!("cannot encode a message failure: {e}")))
}

impl PostgresStore {
    /// Runs `update` (with `$1` = message id, `$2` = lease token, then
    /// `binds`) and `event` in one transaction if the claim still holds
    /// the lease.
    async fn fenced(
        &self,
        ctx: &CommandContext,
        claimed: &ClaimedMessage,
        set: &str,
        binds: Vec<Bind>,
        events: Vec<Event>,
        after: Option<(&'static str, Vec<Bind>)>,
    ) -> StoreResult<Fenced> {
        let mut tx = self.pool().begin().await.map_err(db_err)?;
        let sql = format!(
            "UPDATE messages SET {set}, lease_token = NULL WHERE id = $1 AND state = 'sending' AND lease_token = $2"
        );
        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(claimed.message.id.as_uuid())
            .bind(&claimed.lease_token);
        for b in binds {
            query = b.bind(query);
        }
        let n = query
            .execute(&mut *tx)
            .await
            .map_err(db_err)?
            .rows_affected();
        if n != 1 {
            return Ok(Fenced::LeaseLost);
        }
        if let Some((sql, binds)) = after {
            let mut query = sqlx::query(sql);
            for b in binds {
                query = b.bind(query);
            }
            query.execute(&mut *tx).await.map_err(db_err)?;
        }
        for event in &events {
            insert_entry(&mut tx, ctx, event).await?;
        }
        tx.commit().await.map_err(db_err)?;
        Ok(Fenced::Recorded)
    }
}

/// A value for a fenced update.
enum Bind {
    Text(String),
    Time(DateTime<Utc>),
    Float(f64),
    Uuid(Uuid),
}

impl Bind {
    fn bind<'q>(
        self,
        q: sqlx::query::Query<'q, sqlx::Postgres, sqlx::postgres::PgArguments>,
    ) -> sqlx::query::Query<'q, sqlx::Postgres, sqlx::postgres::PgArguments> {
        match self {
            Bind::Text(v) => q.bind(v),
            Bind::Time(v) => q.bind(v),
            Bind::Float(v) => q.bind(v),
            Bind::Uuid(v) => q.bind(v),
        }
    }
}

/// Queues a message inside the caller's transaction, after the draft's
/// send check (see [`Messages::queue_message`]).
pub(crate) async fn queue_in(
    tx: &mut sqlx::Transaction<'_, sqlx::Postgres>,
    ctx: &CommandContext,
    message: &NewMessage,
) -> StoreResult<Message> {
    let created = Message {
        id: MessageId::new(),
        draft_id: message.draft_id,
        contact_id: message.contact_id,
        mailbox: message.mailbox.clone(),
        rfc_message_id: message.rfc_message_id.clone(),
        in_reply_to: message.in_reply_to.clone(),
        state: "queued".into(),
        failure: None,
        scheduled_at: to_micros(message.scheduled_at),
        sent_at: None,
        created_at: ctx.now,
    };
    let record = locked(&mut *tx, message.draft_id).await?;
    if record.draft.contact_id != message.contact_id {
        return Err(StoreError::Refused {
            reason: format!(
                "draft {} is for contact {}, not {}",
                record.draft.id, record.draft.contact_id, message.contact_id
            ),
        });
    }
    let escalated = escalated(&mut *tx, &record).await?;
    record.check_send(message.scheduled_at, escalated)?;
    sqlx::query(
        "INSERT INTO messages (id, draft_id, contact_id, mailbox, rfc_message_id, in_reply_to, state, scheduled_at, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, 'queued', $7, $8, $8)",
    )
    .bind(created.id.as_uuid())
    .bind(created.draft_id.as_uuid())
    .bind(created.contact_id.as_uuid())
    .bind(created.mailbox.as_str())
    .bind(&created.rfc_message_id)
    .bind(&created.in_reply_to)
    .bind(created.scheduled_at)
    .bind(ctx.now)
    .execute(&mut **tx)
    .await
    .map_err(|e| {
        if is_code(&e, "23503") {
            StoreError::NotFound {
                what: format!("draft {} or contact {}", created.draft_id, created.contact_id),
            }
        } else if e.to_string().contains("messages_live_draft") {
            StoreError::Conflict {
                what: format!("a message for draft {}", created.draft_id),
            }
        } else {
            conflict_or(e, || format!("a message with Message-ID {}", created.rfc_message_id))
        }
    })?;
    insert_entry(
        tx,
        ctx,
        &Event::MessageQueued {
            message_id: created.id,
            contact_id: created.contact_id,
            draft_id: created.draft_id,
            rfc_message_id: created.rfc_message_id.clone(),
        },
    )
    .await?;
    Ok(created)
}

#[async_trait]
impl Messages for PostgresStore {
    async fn queue_message(
        &self,
        ctx: &CommandContext,
        message: &NewMessage,
    ) -> StoreResult<Message> {
        let mut tx = self.pool().begin().await.map_err(db_err)?;
        let created = queue_in(&mut tx, ctx, message).await?;
        tx.commit().await.map_err(db_err)?;
        Ok(created)
    }

    async fn get_message(&self, id: MessageId) -> StoreResult<Option<Message>> {
        let row = sqlx::query("SELECT * FROM messages WHERE id = $1")
            .bind(id.as_uuid())
            .fetch_optional(self.pool())
            .await
            .map_err(db_err)?;
        row.as_ref().map(read_message).transpose()
    }

    async fn claim_messages(
        &self,
        ctx: &CommandContext,
        claim: &MessageClaim,
    ) -> StoreResult<ClaimedMessages> {
        let lease_until = to_micros(claim.now + claim.lease);
        let mut tx = self.pool().begin().await.map_err(db_err)?;
        // The scheduler's rules, as recorded by the senders (none: no
        // pacing). Their mailbox rows are locked first: claims take turns.
        let policy = scheduling::load_policy(&mut tx).await?;
        if let Some(policy) = &policy {
            scheduling::lock_mailboxes(&mut tx, policy, ctx.now).await?;
        }
        let rows = sqlx::query(
            "SELECT * FROM messages WHERE state = 'queued' AND scheduled_at <= $1
              ORDER BY scheduled_at, id LIMIT $2 FOR UPDATE SKIP LOCKED",
        )
        .bind(claim.now)
        .bind(i64::from(claim.limit))
        .fetch_all(&mut *tx)
        .await
        .map_err(db_err)?;
        let mut outcome = ClaimedMessages::default();
        for row in &rows {
            let mut message = read_message(row)?;
            let record = locked(&mut tx, message.draft_id).await?;
            let to = recipient(&mut tx, &record).await?;
            let escalated = escalated(&mut tx, &record).await?;
            let verdict = match send_check(&to.facts, &record, claim.now, escalated) {
                Ok(text) => {
                    match scheduling::plan_claim(
                        &mut tx,
                        policy.as_ref(),
                        &message,
                        &record,
                        claim.now,
                    )
                    .await?
                    {
                        Plan::SendFrom(mailbox) => Ok((text, mailbox)),
                        Plan::Hold(hold) => Err(hold),
                    }
                }
                Err(hold) => Err(hold),
            };
            match verdict {
                Ok((text, mailbox)) => {
                    scheduling::record_claim_mailbox(
                        &mut tx,
                        ctx,
                        &mut message,
                        &mailbox,
                        claim.now,
                    )
                    .await?;
                    let thread = scheduling::thread_of(&mut tx, &message).await?;
                    let token = Uuid::now_v7().simple().to_string();
                    let attempts: i32 = sqlx::query_scalar(
                        "UPDATE messages SET state = 'sending', lease_token = $1, lease_until = $2,
                                claimed_by = $3, attempts = attempts + 1, updated_at = $4, claimed_at = $6
                          WHERE id = $5 RETURNING attempts",
                    )
                    .bind(&token)
                    .bind(lease_until)
                    .bind(&claim.worker)
                    .bind(ctx.now)
                    .bind(message.id.as_uuid())
                    .bind(to_micros(claim.now))
                    .fetch_one(&mut *tx)
                    .await
                    .map_err(db_err)?;
                    insert_entry(
                        &mut tx,
                        ctx,
                        &Event::MessageClaimed {
                            message_id: message.id,
                            contact_id: message.contact_id,
                            rfc_message_id: message.rfc_message_id.clone(),
                            worker: claim.worker.clone(),
                            lease_until,
                        },
                    )
                    .await?;
                    message.state = "sending".into();
                    outcome.claimed.push(ClaimedMessage {
                        message,
                        lease_token: token,
                        lease_until,
                        attempts: attempts.max(0) as u32,
                        to: to.email,
                        to_name: to.name,
                        subject: text.final_subject,
                        body: text.final_body,
                        edit_distance: text.edit_distance,
                        thread,
                    });
                }
                Err(hold) if hold.is_permanent() => {
                    let failure = MessageFailure::Held { hold: hold.clone() };
                    fail_queued_in(&mut tx, ctx, &message, &failure).await?;
                    message.state = "failed".into();
                    message.failure = Some(failure);
                    outcome.held.push(HeldMessage {
                        message,
                        reason: hold,
                        failed: true,
                    });
                }
                Err(hold) => {
                    let until = to_micros(hold.until().unwrap_or(claim.now + RECHECK_AFTER));
                    sqlx::query(
                        "UPDATE messages SET scheduled_at = $1, updated_at = $2 WHERE id = $3",
                    )
                    .bind(until)
                    .bind(ctx.now)
                    .bind(message.id.as_uuid())
                    .execute(&mut *tx)
                    .await
                    .map_err(db_err)?;
                    insert_entry(
                        &mut tx,
                        ctx,
                        &Event::MessageHeld {
                            message_id: message.id,
                            contact_id: message.contact_id,
                            reason: hold.describe(),
                            until,
                        },
                    )
                    .await?;
                    message.scheduled_at = until;
                    outcome.held.push(HeldMessage {
                        message,
                        reason: hold,
                        failed: false,
                    });
                }
            }
        }
        tx.commit().await.map_err(db_err)?;
        Ok(outcome)
    }

    async fn mark_sent(
        &self,
        ctx: &CommandContext,
        claimed: &ClaimedMessage,
        receipt: &str,
    ) -> StoreResult<Fenced> {
        let m = &claimed.message;
        self.fenced(
            ctx,
            claimed,
            "state = 'sent', sent_at = $3, updated_at = $3",
            vec![Bind::Time(ctx.now)],
            vec![
                Event::DraftSent {
                    draft_id: m.draft_id,
                    contact_id: m.contact_id,
                },
                Event::MessageSent {
                    message_id: m.id,
                    contact_id: m.contact_id,
                    draft_id: m.draft_id,
                    rfc_message_id: m.rfc_message_id.clone(),
                    receipt: receipt.to_string(),
                },
            ],
            Some((
                "UPDATE drafts SET sent_at = $1, final_subject = $2, final_body = $3, edit_distance = $4, updated_at = $1
                  WHERE id = $5 AND sent_at IS NULL",
                vec![
                    Bind::Time(ctx.now),
                    Bind::Text(claimed.subject.clone()),
                    Bind::Text(claimed.body.clone()),
                    Bind::Float(claimed.edit_distance),
                    Bind::Uuid(m.draft_id.as_uuid()),
                ],
            )),
        )
        .await
    }

    async fn mark_failed(
        &self,
        ctx: &CommandContext,
        claimed: &ClaimedMessage,
        failure: &MessageFailure,
    ) -> StoreResult<Fenced> {
        let m = &claimed.message;
        let mut tx = self.pool().begin().await.map_err(db_err)?;
        let n = sqlx::query(
            "UPDATE messages SET state = 'failed', failure = $3, updated_at = $4, lease_token = NULL
              WHERE id = $1 AND state = 'sending' AND lease_token = $2",
        )
        .bind(m.id.as_uuid())
        .bind(&claimed.lease_token)
        .bind(failure_json(failure)?)
        .bind(ctx.now)
        .execute(&mut *tx)
        .await
        .map_err(db_err)?
        .rows_affected();
        if n != 1 {
            return Ok(Fenced::LeaseLost);
        }
        insert_entry(
            &mut tx,
            ctx,
            &Event::MessageFailed {
                message_id: m.id,
                contact_id: m.contact_id,
                failure: failure.kind().into(),
                reason: failure.describe(),
            },
        )
        .await?;
        // A refusal at send time is a hard bounce: the breakers judge it in
        // this transaction.
        if matches!(failure, MessageFailure::Rejected { .. }) {
            scheduling::judge(&mut tx, ctx, m).await?;
        }
        tx.commit().await.map_err(db_err)?;
        Ok(Fenced::Recorded)
    }

    async fn mark_deferred(
        &self,
        ctx: &CommandContext,
        claimed: &ClaimedMessage,
        error: &str,
        retry_at: DateTime<Utc>,
    ) -> StoreResult<Fenced> {
        let m = &claimed.message;
        let retry_at = to_micros(retry_at);
        self.fenced(
            ctx,
            claimed,
            "state = 'queued', scheduled_at = $3, lease_until = NULL, updated_at = $4",
            vec![Bind::Time(retry_at), Bind::Time(ctx.now)],
            vec![Event::MessageDeferred {
                message_id: m.id,
                contact_id: m.contact_id,
                error: error.to_string(),
                retry_at,
            }],
            None,
        )
        .await
    }

    async fn mark_in_doubt(
        &self,
        ctx: &CommandContext,
        claimed: &ClaimedMessage,
        reason: &str,
    ) -> StoreResult<Fenced> {
        let m = &claimed.message;
        self.fenced(
            ctx,
            claimed,
            "state = 'in_doubt', failure = $3, updated_at = $4",
            vec![Bind::Text(reason.to_string()), Bind::Time(ctx.now)],
            vec![Event::MessageInDoubt {
                message_id: m.id,
                contact_id: m.contact_id,
                rfc_message_id: m.rfc_message_id.clone(),
                reason: reason.to_string(),
            }],
            None,
        )
        .await
    }

    async fn recover_expired(
        &self,
        ctx: &CommandContext,
        now: DateTime<Utc>,
    ) -> StoreResult<Vec<Message>> {
        let mut tx = self.pool().begin().await.map_err(db_err)?;
        let rows = sqlx::query(
            "SELECT * FROM messages WHERE state = 'sending' AND lease_until < $1
              ORDER BY lease_until, id FOR UPDATE SKIP LOCKED",
        )
        .bind(now)
        .fetch_all(&mut *tx)
        .await
        .map_err(db_err)?;
        let mut recovered = Vec::with_capacity(rows.len());
        for row in &rows {
            let mut message = read_message(row)?;
            let worker: Option<String> = row.try_get("claimed_by").map_err(db_err)?;
            let reason = format!(
                "its sender ({}) stopped before recording the outcome; it may have been delivered",
                worker.as_deref().unwrap_or("unknown")
            );
            sqlx::query(
                "UPDATE messages SET state = 'in_doubt', failure = $1, lease_token = NULL, updated_at = $2 WHERE id = $3",
            )
            .bind(&reason)
            .bind(ctx.now)
            .bind(message.id.as_uuid())
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
            insert_entry(
                &mut tx,
                ctx,
                &Event::MessageInDoubt {
                    message_id: message.id,
                    contact_id: message.contact_id,
                    rfc_message_id: message.rfc_message_id.clone(),
                    reason,
                },
            )
            .await?;
            message.state = "in_doubt".into();
            recovered.push(message);
        }
        tx.commit().await.map_err(db_err)?;
        Ok(recovered)
    }

    async fn list_in_doubt(&self, limit: u32) -> StoreResult<Vec<InDoubtMessage>> {
        let rows = sqlx::query(
            "SELECT m.*, c.email AS contact_email FROM messages m JOIN contacts c ON c.id = m.contact_id
              WHERE m.state = 'in_doubt' ORDER BY m.created_at, m.id LIMIT $1",
        )
        .bind(i64::from(limit))
        .fetch_all(self.pool())
        .await
        .map_err(db_err)?;
        rows.iter()
            .map(|row| {
                let email: String = row.try_get("contact_email").map_err(db_err)?;
                let reason: Option<String> = row.try_get("failure").map_err(db_err)?;
                Ok(InDoubtMessage {
                    message: read_message(row)?,
                    to: EmailAddress::parse(&email)
                        .map_err(|_| StoreError::corrupt("contact email"))?,
                    reason: reason.unwrap_or_default(),
                })
            })
            .collect()
    }

    async fn message_counts(&self) -> StoreResult<Vec<(String, u64)>> {
        let rows: Vec<(String, i64)> =
            sqlx::query_as("SELECT state, COUNT(*) FROM messages GROUP BY state ORDER BY state")
                .fetch_all(self.pool())
                .await
                .map_err(db_err)?;
        Ok(rows
            .into_iter()
            .map(|(state, n)| (state, n.max(0) as u64))
            .collect())
    }

    async fn workspace_secret(&self, name: &str) -> StoreResult<String> {
        let fresh = format!("{}{}", Uuid::new_v4().simple(), Uuid::new_v4().simple());
        sqlx::query(
            "INSERT INTO workspace_secrets (name, value, created_at) VALUES ($1, $2, now()) ON CONFLICT DO NOTHING",
        )
        .bind(name)
        .bind(&fresh)
        .execute(self.pool())
        .await
        .map_err(db_err)?;
        sqlx::query_scalar("SELECT value FROM workspace_secrets WHERE name = $1")
            .bind(name)
            .fetch_one(self.pool())
            .await
            .map_err(db_err)
    }
}

/// Fails a queued message for good (held at its claim, or its draft
/// rejected), with its `message_failed` entry, inside the caller's
/// transaction.
pub(crate) async fn fail_queued_in(
    tx: &mut sqlx::Transaction<'_, sqlx::Postgres>,
    ctx: &CommandContext,
    message: &Message,
    failure: &MessageFailure,
) -> StoreResult<()> {
    sqlx::query(
        "UPDATE messages SET state = 'failed', failure = $1, updated_at = $2
          WHERE id = $3 AND state = 'queued'",
    )
    .bind(failure_json(failure)?)
    .bind(ctx.now)
    .bind(message.id.as_uuid())
    .execute(&mut **tx)
    .await
    .map_err(db_err)?;
    insert_entry(
        tx,
        ctx,
        &Event::MessageFailed {
            message_id: message.id,
            contact_id: message.contact_id,
            failure: failure.kind().into(),
            reason: failure.describe(),
        },
    )
    .await?;
    Ok(())
}
