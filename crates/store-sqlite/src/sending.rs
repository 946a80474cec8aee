//! Messages on SQLite: queue, claim with the send checks in the writer's
//! transaction, fenced outcomes, crash recovery. One writer serialises
//! every claim against every stop event, so a stop committed before a
//! claim is always seen by it.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use rusqlite::{Connection, OptionalExtension, Row, params};

use handoff_domain::{ContactId, EmailAddress, Event, MessageId};
use handoff_store::{
    ClaimedMessage, ClaimedMessages, CommandContext, DraftRecord, Fenced, HeldMessage,
    InDoubtMessage, Message, MessageClaim, MessageFailure, Messages, NewMessage, Plan,
    RECHECK_AFTER, StopFacts, StoreError, StoreResult, parse_stop_reason, send_check,
};

use crate::drafts::existing;
use crate::rows::{db_err, from_micros, micros, parse_id};
use crate::scheduling;
use crate::workflow::opt_micros;
use crate::{SqliteStore, conflict_or, insert_entry};

pub(crate) const MESSAGE_COLUMNS: &str = "m.id, m.draft_id, m.contact_id, m.mailbox, m.rfc_message_id, m.in_reply_to, m.state, m.failure, m.scheduled_at, m.sent_at, m.created_at";

pub(crate) fn read_message(row: &Row<'_>) -> StoreResult<Message> {
    let mailbox: String = row.get(3).map_err(db_err)?;
    let failure: Option<String> = row.get(7).map_err(db_err)?;
    let state: String = row.get(6).map_err(db_err)?;
    Ok(Message {
        id: parse_id(&row.get::<_, String>(0).map_err(db_err)?, "message id")?,
        draft_id: parse_id(&row.get::<_, String>(1).map_err(db_err)?, "draft id")?,
        contact_id: parse_id(&row.get::<_, String>(2).map_err(db_err)?, "contact id")?,
        mailbox: EmailAddress::parse(&mailbox)
            .map_err(|_| StoreError::corrupt("message mailbox"))?,
        rfc_message_id: row.get(4).map_err(db_err)?,
        in_reply_to: row.get(5).map_err(db_err)?,
        failure: match failure {
            // `in_doubt` keeps its reason as text in the same column.
            Some(f) if state == "failed" => {
                Some(serde_json::from_str(&f).map_err(|_| StoreError::corrupt("message failure"))?)
            }
            _ => None,
        },
        state,
        scheduled_at: from_micros(row.get(8).map_err(db_err)?)?,
        sent_at: opt_micros(row.get(9).map_err(db_err)?)?,
        created_at: from_micros(row.get(10).map_err(db_err)?)?,
    })
}

fn message_on(conn: &Connection, id: MessageId) -> StoreResult<Option<Message>> {
    conn.prepare_cached(&format!(
        "SELECT {MESSAGE_COLUMNS} FROM messages m WHERE m.id = ?1"
    ))
    .map_err(db_err)?
    .query_row([id.to_string()], |row| Ok(read_message(row)))
    .optional()
    .map_err(db_err)?
    .transpose()
}

/// Whether an escalation was opened for the prospect after the draft was
/// judged (that cancels a veto timer).
pub(crate) fn escalated(conn: &Connection, record: &DraftRecord) -> StoreResult<bool> {
    conn.query_row(
        "SELECT EXISTS (SELECT 1 FROM escalations WHERE contact_id = ?1 AND created_at > ?2)",
        params![
            record.draft.contact_id.to_string(),
            record.evaluated_at.map(micros).unwrap_or(i64::MAX)
        ],
        |r| r.get(0),
    )
    .map_err(db_err)
}

struct Recipient {
    email: EmailAddress,
    name: Option<String>,
    facts: StopFacts,
}

fn recipient(
    conn: &Connection,
    contact: ContactId,
    enrollment: Option<String>,
) -> StoreResult<Recipient> {
    let (email, first, last, handled_by, contact_stop): (String, String, String, String, Option<String>) = conn
        .query_row(
            "SELECT email, first_name, last_name, handled_by, stopped_reason FROM contacts WHERE id = ?1",
            [contact.to_string()],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)),
        )
        .map_err(db_err)?;
    let email = EmailAddress::parse(&email).map_err(|_| StoreError::corrupt("contact email"))?;
    // The draft's own enrolment stopped for any reason, or another one for
    // a reason that is about the person (everything but `manual`, and a
    // take-over, which holds through `handled_by` until it is handed back).
    let enrollment_stop: Option<String> = conn
        .query_row(
            "SELECT stop_reason FROM enrollments
              WHERE contact_id = ?1 AND state = 'stopped' AND stop_reason IS NOT NULL
                AND (id = ?2 OR stop_reason NOT IN ('manual', 'taken_over'))
              ORDER BY updated_at LIMIT 1",
            params![contact.to_string(), enrollment],
            |r| r.get(0),
        )
        .optional()
        .map_err(db_err)?;
    let stopped = match contact_stop.or(enrollment_stop) {
        Some(raw) => Some(parse_stop_reason(&raw)?),
        None => None,
    };
    let suppressed: bool = conn
        .query_row(
            "SELECT EXISTS (SELECT 1 FROM suppressions WHERE email_hash = ?1)",
            [email.suppression_hash()],
            |r| r.get(0),
        )
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

/// Moves a message out of `sending` if `claimed` still holds its lease.
fn fenced_update(
    conn: &Connection,
    claimed: &ClaimedMessage,
    set: &str,
    values: &[&dyn rusqlite::ToSql],
) -> StoreResult<bool> {
    let sql = format!(
        "UPDATE messages SET {set}, lease_token = NULL WHERE id = ? AND state = 'sending' AND lease_token = ?"
    );
    let id = claimed.message.id.to_string();
    let mut all: Vec<&dyn rusqlite::ToSql> = values.to_vec();
    all.push(&id);
    all.push(&claimed.lease_token);
    let n = conn
        .prepare_cached(&sql)
        .map_err(db_err)?
        .execute(all.as_slice())
        .map_err(db_err)?;
    Ok(n == 1)
}

pub(crate) fn failure_json(failure: &MessageFailure) -> StoreResult<String> {
    serde_json::to_string(failure)
        .map_err(|e| StoreError::Database(format!("cannot encode a message failure: {e}")))
}

/// Queues a message inside the caller's transaction, after the draft's
/// send check (see [`Messages::queue_message`]).
pub(crate) fn queue_in(
    tx: &rusqlite::Transaction<'_>,
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
        scheduled_at: message.scheduled_at,
        sent_at: None,
        created_at: ctx.now,
    };
    let record = existing(tx, message.draft_id)?;
    if record.draft.contact_id != message.contact_id {
        return Err(StoreError::Refused {
            reason: format!(
                "draft {} is for contact {}, not {}",
                record.draft.id, record.draft.contact_id, message.contact_id
            ),
        });
    }
    let escalated = escalated(tx, &record)?;
    record.check_send(message.scheduled_at, escalated)?;
    tx.execute(
            "INSERT INTO messages (id, draft_id, contact_id, mailbox, rfc_message_id, in_reply_to, state, scheduled_at, created_at, updated_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, 'queued', ?7, ?8, ?8)",
            params![
                created.id.to_string(),
                created.draft_id.to_string(),
                created.contact_id.to_string(),
                created.mailbox.as_str(),
                created.rfc_message_id,
                created.in_reply_to,
                micros(created.scheduled_at),
                micros(ctx.now),
            ],
        )
        .map_err(|e| {
            if e.to_string().contains("FOREIGN KEY") {
                StoreError::NotFound {
                    what: format!("draft {} or contact {}", created.draft_id, created.contact_id),
                }
            } else if e.to_string().contains("messages.draft_id") {
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
    )?;
    Ok(created)
}

#[async_trait]
impl Messages for SqliteStore {
    async fn queue_message(
        &self,
        ctx: &CommandContext,
        message: &NewMessage,
    ) -> StoreResult<Message> {
        self.write(|tx| queue_in(tx, ctx, message))
    }

    async fn get_message(&self, id: MessageId) -> StoreResult<Option<Message>> {
        message_on(&self.reader(), id)
    }

    async fn claim_messages(
        &self,
        ctx: &CommandContext,
        claim: &MessageClaim,
    ) -> StoreResult<ClaimedMessages> {
        let lease_until = claim.now + claim.lease;
        self.write(|tx| {
            let due: Vec<Message> = {
                let mut stmt = tx
                    .prepare_cached(&format!(
                        "SELECT {MESSAGE_COLUMNS} FROM messages m
                          WHERE m.state = 'queued' AND m.scheduled_at <= ?1
                          ORDER BY m.scheduled_at, m.id LIMIT ?2"
                    ))
                    .map_err(db_err)?;
                let mut rows = stmt
                    .query(params![micros(claim.now), claim.limit])
                    .map_err(db_err)?;
                let mut out = Vec::new();
                while let Some(row) = rows.next().map_err(db_err)? {
                    out.push(read_message(row)?);
                }
                out
            };
            let mut outcome = ClaimedMessages::default();
            // The scheduler's rules, as recorded by the senders (none: no pacing).
            let policy = scheduling::load_policy(tx)?;
            for mut message in due {
                let record = existing(tx, message.draft_id)?;
                let enrollment = record.draft.enrollment_id.map(|id| id.to_string());
                let to = recipient(tx, message.contact_id, enrollment)?;
                let escalated = escalated(tx, &record)?;
                let verdict = match send_check(&to.facts, &record, claim.now, escalated) {
                    Ok(text) => {
                        match scheduling::plan_claim(tx, policy.as_ref(), &message, &record, claim.now)? {
                            Plan::SendFrom(mailbox) => Ok((text, mailbox)),
                            Plan::Hold(hold) => Err(hold),
                        }
                    }
                    Err(hold) => Err(hold),
                };
                match verdict {
                    Ok((text, mailbox)) => {
                        scheduling::record_claim_mailbox(tx, ctx, &mut message, &mailbox, claim.now)?;
                        let thread = scheduling::thread_of(tx, &message)?;
                        let token = uuid::Uuid::now_v7().simple().to_string();
                        let attempts: i64 = tx
                            .query_row(
                                "UPDATE messages SET state = 'sending', lease_token = ?1, lease_until = ?2,
                                        claimed_by = ?3, attempts = attempts + 1, updated_at = ?4, claimed_at = ?6
                                  WHERE id = ?5 AND state = 'queued'
                                  RETURNING attempts",
                                params![
                                    token,
                                    micros(lease_until),
                                    claim.worker,
                                    micros(ctx.now),
                                    message.id.to_string(),
                                    micros(claim.now),
                                ],
                                |r| r.get(0),
                            )
                            .map_err(db_err)?;
                        insert_entry(
                            tx,
                            ctx,
                            &Event::MessageClaimed {
                                message_id: message.id,
                                contact_id: message.contact_id,
                                rfc_message_id: message.rfc_message_id.clone(),
                                worker: claim.worker.clone(),
                                lease_until,
                            },
                        )?;
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
                        fail_queued_in(tx, ctx, &message, &failure)?;
                        message.state = "failed".into();
                        message.failure = Some(failure);
                        outcome.held.push(HeldMessage {
                            message,
                            reason: hold,
                            failed: true,
                        });
                    }
                    Err(hold) => {
                        let until = hold.until().unwrap_or(claim.now + RECHECK_AFTER);
                        tx.execute(
                            "UPDATE messages SET scheduled_at = ?1, updated_at = ?2 WHERE id = ?3",
                            params![micros(until), micros(ctx.now), message.id.to_string()],
                        )
                        .map_err(db_err)?;
                        insert_entry(
                            tx,
                            ctx,
                            &Event::MessageHeld {
                                message_id: message.id,
                                contact_id: message.contact_id,
                                reason: hold.describe(),
                                until,
                            },
                        )?;
                        message.scheduled_at = until;
                        outcome.held.push(HeldMessage {
                            message,
                            reason: hold,
                            failed: false,
                        });
                    }
                }
            }
            Ok(outcome)
        })
    }

    async fn mark_sent(
        &self,
        ctx: &CommandContext,
        claimed: &ClaimedMessage,
        receipt: &str,
    ) -> StoreResult<Fenced> {
        let m = &claimed.message;
        self.write(|tx| {
            let now = micros(ctx.now);
            if !fenced_update(tx, claimed, "state = 'sent', sent_at = ?, updated_at = ?", &[&now, &now])? {
                return Ok(Fenced::LeaseLost);
            }
            tx.execute(
                "UPDATE drafts SET sent_at = ?1, final_subject = ?2, final_body = ?3, edit_distance = ?4, updated_at = ?1
                  WHERE id = ?5 AND sent_at IS NULL",
                params![now, claimed.subject, claimed.body, claimed.edit_distance, m.draft_id.to_string()],
            )
            .map_err(db_err)?;
            insert_entry(
                tx,
                ctx,
                &Event::DraftSent {
                    draft_id: m.draft_id,
                    contact_id: m.contact_id,
                },
            )?;
            insert_entry(
                tx,
                ctx,
                &Event::MessageSent {
                    message_id: m.id,
                    contact_id: m.contact_id,
                    draft_id: m.draft_id,
                    rfc_message_id: m.rfc_message_id.clone(),
                    receipt: receipt.to_string(),
                },
            )?;
            Ok(Fenced::Recorded)
        })
    }

    async fn mark_failed(
        &self,
        ctx: &CommandContext,
        claimed: &ClaimedMessage,
        failure: &MessageFailure,
    ) -> StoreResult<Fenced> {
        let m = &claimed.message;
        let json = failure_json(failure)?;
        self.write(|tx| {
            let now = micros(ctx.now);
            if !fenced_update(
                tx,
                claimed,
                "state = 'failed', failure = ?, updated_at = ?",
                &[&json, &now],
            )? {
                return Ok(Fenced::LeaseLost);
            }
            insert_entry(
                tx,
                ctx,
                &Event::MessageFailed {
                    message_id: m.id,
                    contact_id: m.contact_id,
                    failure: failure.kind().into(),
                    reason: failure.describe(),
                },
            )?;
            // A refusal at send time is a hard bounce: the breakers judge it
            // in this transaction.
            if matches!(failure, MessageFailure::Rejected { .. }) {
                scheduling::judge(tx, ctx, m)?;
            }
            Ok(Fenced::Recorded)
        })
    }

    async fn mark_deferred(
        &self,
        ctx: &CommandContext,
        claimed: &ClaimedMessage,
        error: &str,
        retry_at: DateTime<Utc>,
    ) -> StoreResult<Fenced> {
        let m = &claimed.message;
        self.write(|tx| {
            let (now, at) = (micros(ctx.now), micros(retry_at));
            if !fenced_update(
                tx,
                claimed,
                "state = 'queued', scheduled_at = ?, lease_until = NULL, updated_at = ?",
                &[&at, &now],
            )? {
                return Ok(Fenced::LeaseLost);
            }
            insert_entry(
                tx,
                ctx,
                &Event::MessageDeferred {
                    message_id: m.id,
                    contact_id: m.contact_id,
                    error: error.to_string(),
                    retry_at,
                },
            )?;
            Ok(Fenced::Recorded)
        })
    }

    async fn mark_in_doubt(
        &self,
        ctx: &CommandContext,
        claimed: &ClaimedMessage,
        reason: &str,
    ) -> StoreResult<Fenced> {
        let m = &claimed.message;
        self.write(|tx| {
            let now = micros(ctx.now);
            if !fenced_update(
                tx,
                claimed,
                "state = 'in_doubt', failure = ?, updated_at = ?",
                &[&reason, &now],
            )? {
                return Ok(Fenced::LeaseLost);
            }
            insert_entry(
                tx,
                ctx,
                &Event::MessageInDoubt {
                    message_id: m.id,
                    contact_id: m.contact_id,
                    rfc_message_id: m.rfc_message_id.clone(),
                    reason: reason.to_string(),
                },
            )?;
            Ok(Fenced::Recorded)
        })
    }

    async fn recover_expired(
        &self,
        ctx: &CommandContext,
        now: DateTime<Utc>,
    ) -> StoreResult<Vec<Message>> {
        self.write(|tx| {
            let expired: Vec<(Message, Option<String>)> = {
                let mut stmt = tx
                    .prepare_cached(&format!(
                        "SELECT {MESSAGE_COLUMNS}, m.claimed_by FROM messages m
                          WHERE m.state = 'sending' AND m.lease_until < ?1
                          ORDER BY m.lease_until, m.id"
                    ))
                    .map_err(db_err)?;
                let mut rows = stmt.query([micros(now)]).map_err(db_err)?;
                let mut out = Vec::new();
                while let Some(row) = rows.next().map_err(db_err)? {
                    out.push((read_message(row)?, row.get(11).map_err(db_err)?));
                }
                out
            };
            let mut recovered = Vec::with_capacity(expired.len());
            for (mut message, worker) in expired {
                let reason = format!(
                    "its sender ({}) stopped before recording the outcome; it may have been delivered",
                    worker.as_deref().unwrap_or("unknown")
                );
                tx.execute(
                    "UPDATE messages SET state = 'in_doubt', failure = ?1, lease_token = NULL, updated_at = ?2
                      WHERE id = ?3 AND state = 'sending'",
                    params![reason, micros(ctx.now), message.id.to_string()],
                )
                .map_err(db_err)?;
                insert_entry(
                    tx,
                    ctx,
                    &Event::MessageInDoubt {
                        message_id: message.id,
                        contact_id: message.contact_id,
                        rfc_message_id: message.rfc_message_id.clone(),
                        reason,
                    },
                )?;
                message.state = "in_doubt".into();
                recovered.push(message);
            }
            Ok(recovered)
        })
    }

    async fn list_in_doubt(&self, limit: u32) -> StoreResult<Vec<InDoubtMessage>> {
        let conn = self.reader();
        let mut stmt = conn
            .prepare_cached(&format!(
                "SELECT {MESSAGE_COLUMNS}, c.email FROM messages m JOIN contacts c ON c.id = m.contact_id
                  WHERE m.state = 'in_doubt' ORDER BY m.created_at, m.id LIMIT ?1"
            ))
            .map_err(db_err)?;
        let mut rows = stmt.query([limit]).map_err(db_err)?;
        let mut out = Vec::new();
        while let Some(row) = rows.next().map_err(db_err)? {
            // The in-doubt reason is kept as text in `failure`, not as JSON.
            let reason: Option<String> = row.get(7).map_err(db_err)?;
            let email: String = row.get(11).map_err(db_err)?;
            let message = read_message(row)?;
            out.push(InDoubtMessage {
                message,
                to: EmailAddress::parse(&email)
                    .map_err(|_| StoreError::corrupt("contact email"))?,
                reason: reason.unwrap_or_default(),
            });
        }
        Ok(out)
    }

    async fn message_counts(&self) -> StoreResult<Vec<(String, u64)>> {
        let conn = self.reader();
        let mut stmt = conn
            .prepare_cached("SELECT state, COUNT(*) FROM messages GROUP BY state ORDER BY state")
            .map_err(db_err)?;
        let rows = stmt
            .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))
            .map_err(db_err)?;
        let mut out = Vec::new();
        for row in rows {
            let (state, n) = row.map_err(db_err)?;
            out.push((state, n.max(0) as u64));
        }
        Ok(out)
    }

    async fn workspace_secret(&self, name: &str) -> StoreResult<String> {
        let fresh = format!(
            "{}{}",
            uuid::Uuid::new_v4().simple(),
            uuid::Uuid::new_v4().simple()
        );
        self.write(|tx| {
            tx.execute(
                "INSERT INTO workspace_secrets (name, value, created_at) VALUES (?1, ?2, ?3) ON CONFLICT DO NOTHING",
                params![name, fresh, micros(Utc::now())],
            )
            .map_err(db_err)?;
            tx.query_row(
                "SELECT value FROM workspace_secrets WHERE name = ?1",
                [name],
                |r| r.get(0),
            )
            .map_err(db_err)
        })
    }
}

/// Fails a queued message for good (held at its claim, or its draft
/// rejected), with its `message_failed` entry, inside the caller's
/// transaction.
pub(crate) fn fail_queued_in(
    tx: &rusqlite::Transaction<'_>,
    ctx: &CommandContext,
    message: &Message,
    failure: &MessageFailure,
) -> StoreResult<()> {
    tx.execute(
        "UPDATE messages SET state = 'failed', failure = ?1, updated_at = ?2
          WHERE id = ?3 AND state = 'queued'",
        params![
            failure_json(failure)?,
            micros(ctx.now),
            message.id.to_string()
        ],
    )
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
    )?;
    Ok(())
}
