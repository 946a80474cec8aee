//! The review queue and the escalation inbox on PostgreSQL. Each command
//! is one transaction with its ledger entries. Drafts are locked `FOR
//! UPDATE` (as claims lock them), and a take-over or hand-back locks the
//! contact row `FOR UPDATE` first, like every stop: a claim either sees it
//! or commits before it.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::postgres::PgRow;
use sqlx::{PgConnection, Postgres, Row, Transaction};
use uuid::Uuid;

use handoff_domain::enrollment::StopReason;
use handoff_domain::users::Username;
use handoff_domain::{ContactId, DraftId, EmailAddress, EscalationId, Event};
use handoff_store::{
    Approval, CommandContext, DraftRecord, DraftReview, Escalation, HandBack, Inbox, InboxFilter,
    InboxItem, Message, NewEscalation, NewMessage, OverdueEscalation, QueueFilter, QueueState,
    QueuedDraft, REVIEW_VERDICTS, ReviewDecision, ReviewQueue, StoreError, StoreResult, TakeOver,
    check_reassign, refuse_rejection_as_approval, rejection_hold, to_micros,
};

use crate::drafts::{locked, reread, review_in};
use crate::rows::db_err;
use crate::sending::{escalated, queue_in, read_message};
use crate::workflow::{fk_or, insert_escalation, read_escalation, stop_in};
use crate::{PostgresStore, insert_entry};

fn username(raw: Option<String>, what: &str) -> StoreResult<Option<Username>> {
    raw.map(|u| Username::parse(&u))
        .transpose()
        .map_err(|_| StoreError::corrupt(what))
}

fn verdicts() -> Vec<String> {
    REVIEW_VERDICTS.iter().map(|v| v.to_string()).collect()
}

/// Locks the draft's live message row, if it has one, before the draft's
/// own row is locked: claims lock messages first and drafts second, so a
/// review taking them in the same order never deadlocks with a claim.
async fn lock_live_message(conn: &mut PgConnection, draft: DraftId) -> StoreResult<()> {
    sqlx::query("SELECT 1 FROM messages WHERE draft_id = $1 AND state <> 'failed' FOR UPDATE")
        .bind(draft.as_uuid())
        .fetch_optional(&mut *conn)
        .await
        .map_err(db_err)?;
    Ok(())
}

/// The draft's live (not failed) message, if any.
async fn live_message(conn: &mut PgConnection, draft: DraftId) -> StoreResult<Option<Message>> {
    let row = sqlx::query("SELECT * FROM messages WHERE draft_id = $1 AND state <> 'failed'")
        .bind(draft.as_uuid())
        .fetch_optional(&mut *conn)
        .await
        .map_err(db_err)?;
    row.as_ref().map(read_message).transpose()
}

/// The draft with its queue's view of it.
async fn queued_on(conn: &mut PgConnection, draft: DraftId) -> StoreResult<Option<QueuedDraft>> {
    let row = sqlx::query(
        "SELECT d.assignee, COALESCE(d.assignee, c.owner) AS owner
           FROM drafts d JOIN contacts c ON c.id = d.contact_id WHERE d.id = $1",
    )
    .bind(draft.as_uuid())
    .fetch_optional(&mut *conn)
    .await
    .map_err(db_err)?;
    let Some(row) = row else {
        return Ok(None);
    };
    let assignee: Option<String> = row.try_get("assignee").map_err(db_err)?;
    let owner: Option<String> = row.try_get("owner").map_err(db_err)?;
    let record = reread(&mut *conn, draft).await?;
    Ok(Some(QueuedDraft {
        escalated: escalated(&mut *conn, &record).await?,
        message: live_message(&mut *conn, draft).await?,
        owner: username(owner, "draft owner")?,
        assignee: username(assignee, "draft assignee")?,
        record,
    }))
}

impl PostgresStore {
    async fn begin_tx(&self) -> StoreResult<Transaction<'static, Postgres>> {
        self.pool().begin().await.map_err(db_err)
    }
}

#[async_trait]
impl ReviewQueue for PostgresStore {
    async fn review_queue(&self, filter: &QueueFilter) -> StoreResult<Vec<QueuedDraft>> {
        let mut conn = self.pool().acquire().await.map_err(db_err)?;
        let owner = filter.owner.as_ref().map(|o| o.as_str());
        let ids: Vec<Uuid> = match filter.state {
            QueueState::Pending => sqlx::query_scalar(
                "SELECT d.id FROM drafts d JOIN contacts c ON c.id = d.contact_id
                  WHERE d.reviewed_at IS NULL AND d.sent_at IS NULL
                    AND d.verdict = ANY($4) AND d.review_state NOT IN ('expired', 'rejected')
                    AND (d.review_deadline IS NULL OR d.review_deadline >= $1)
                    AND c.handled_by = 'ai'
                    AND NOT EXISTS (SELECT 1 FROM enrollments e
                                     WHERE e.id = d.enrollment_id AND e.state = 'stopped')
                    AND ($2::text IS NULL OR COALESCE(d.assignee, c.owner) = $2)
                  ORDER BY d.review_deadline NULLS LAST, d.created_at, d.id LIMIT $3",
            )
            .bind(filter.now)
            .bind(owner)
            .bind(i64::from(filter.limit))
            .bind(verdicts())
            .fetch_all(&mut *conn)
            .await
            .map_err(db_err)?,
            QueueState::Expired => sqlx::query_scalar(
                "SELECT d.id FROM drafts d JOIN contacts c ON c.id = d.contact_id
                  WHERE d.reviewed_at IS NULL AND d.sent_at IS NULL
                    AND (d.review_state = 'expired'
                         OR (d.review_deadline < $1
                             AND (d.verdict = 'needs_approval'
                                  OR (d.verdict = 'veto_window'
                                      AND EXISTS (SELECT 1 FROM escalations x
                                                   WHERE x.contact_id = d.contact_id
                                                     AND x.created_at > d.evaluated_at)))))
                    AND ($2::text IS NULL OR COALESCE(d.assignee, c.owner) = $2)
                  ORDER BY d.review_deadline DESC NULLS LAST, d.id LIMIT $3",
            )
            .bind(filter.now)
            .bind(owner)
            .bind(i64::from(filter.limit))
            .fetch_all(&mut *conn)
            .await
            .map_err(db_err)?,
        };
        let mut out = Vec::with_capacity(ids.len());
        for id in ids {
            if let Some(item) = queued_on(&mut conn, DraftId::from_uuid(id)).await? {
                out.push(item);
            }
        }
        Ok(out)
    }

    async fn queued_draft(&self, draft: DraftId) -> StoreResult<Option<QueuedDraft>> {
        let mut conn = self.pool().acquire().await.map_err(db_err)?;
        queued_on(&mut conn, draft).await
    }

    async fn approve_and_queue(
        &self,
        ctx: &CommandContext,
        draft: DraftId,
        review: &DraftReview,
        message: &NewMessage,
    ) -> StoreResult<Approval> {
        if review.decision == ReviewDecision::Rejected {
            return Err(refuse_rejection_as_approval(draft));
        }
        let mut tx = self.begin_tx().await?;
        lock_live_message(&mut tx, draft).await?;
        let record = review_in(&mut tx, ctx, draft, review, None).await?;
        let approval = match live_message(&mut tx, draft).await? {
            None => Approval {
                message: queue_in(&mut tx, ctx, message).await?,
                record,
                rescheduled: false,
            },
            Some(mut queued) if queued.state == "queued" => {
                let at = to_micros(message.scheduled_at);
                if at < queued.scheduled_at {
                    sqlx::query(
                        "UPDATE messages SET scheduled_at = $1, updated_at = $2 WHERE id = $3",
                    )
                    .bind(at)
                    .bind(ctx.now)
                    .bind(queued.id.as_uuid())
                    .execute(&mut *tx)
                    .await
                    .map_err(db_err)?;
                    insert_entry(
                        &mut tx,
                        ctx,
                        &Event::MessageRescheduled {
                            message_id: queued.id,
                            contact_id: queued.contact_id,
                            draft_id: draft,
                            scheduled_at: at,
                            reason: format!(
                                "draft {} by {} before its window ended",
                                review.decision.as_str(),
                                review.reviewer
                            ),
                        },
                    )
                    .await?;
                    queued.scheduled_at = at;
                }
                Approval {
                    record,
                    message: queued,
                    rescheduled: true,
                }
            }
            Some(other) => {
                return Err(StoreError::Conflict {
                    what: format!(
                        "message {} of draft {draft}, which is already {}",
                        other.rfc_message_id, other.state
                    ),
                });
            }
        };
        tx.commit().await.map_err(db_err)?;
        Ok(approval)
    }

    async fn reject_draft(
        &self,
        ctx: &CommandContext,
        draft: DraftId,
        reviewer: &Username,
        reason: &str,
    ) -> StoreResult<DraftRecord> {
        let reason = handoff_store::rejection_reason(reason)?;
        let review = DraftReview {
            decision: ReviewDecision::Rejected,
            reviewer: reviewer.clone(),
        };
        let mut tx = self.begin_tx().await?;
        lock_live_message(&mut tx, draft).await?;
        let record = review_in(&mut tx, ctx, draft, &review, Some(&reason)).await?;
        if let Some(queued) = live_message(&mut tx, draft)
            .await?
            .filter(|m| m.state == "queued")
        {
            let failure = rejection_hold(draft, reviewer, &reason);
            crate::sending::fail_queued_in(&mut tx, ctx, &queued, &failure).await?;
        }
        tx.commit().await.map_err(db_err)?;
        Ok(record)
    }

    async fn reassign_draft(
        &self,
        ctx: &CommandContext,
        draft: DraftId,
        to: &Username,
    ) -> StoreResult<QueuedDraft> {
        let mut tx = self.begin_tx().await?;
        locked(&mut tx, draft).await?;
        let current = queued_on(&mut tx, draft)
            .await?
            .ok_or_else(|| StoreError::NotFound {
                what: format!("draft {draft}"),
            })?;
        check_reassign(&current.record)?;
        if current.owner.as_ref() == Some(to) {
            return Err(StoreError::Refused {
                reason: format!("draft {draft} is already in {to}'s queue"),
            });
        }
        sqlx::query("UPDATE drafts SET assignee = $1, updated_at = $2 WHERE id = $3")
            .bind(to.as_str())
            .bind(ctx.now)
            .bind(draft.as_uuid())
            .execute(&mut *tx)
            .await
            .map_err(|e| fk_or(e, || format!("a user named `{to}`")))?;
        insert_entry(
            &mut tx,
            ctx,
            &Event::DraftReassigned {
                draft_id: draft,
                contact_id: current.record.draft.contact_id,
                from: current.owner.as_ref().map(|o| o.to_string()),
                to: to.to_string(),
            },
        )
        .await?;
        let moved = queued_on(&mut tx, draft)
            .await?
            .ok_or_else(|| StoreError::corrupt("reassigned draft"))?;
        tx.commit().await.map_err(db_err)?;
        Ok(moved)
    }

    async fn unqueued_automatic(&self, limit: u32) -> StoreResult<Vec<DraftRecord>> {
        let mut conn = self.pool().acquire().await.map_err(db_err)?;
        let ids: Vec<Uuid> = sqlx::query_scalar(
            "SELECT d.id FROM drafts d
              WHERE d.verdict IN ('auto_send', 'veto_window')
                AND d.reviewed_at IS NULL AND d.sent_at IS NULL
                AND d.review_state NOT IN ('expired', 'rejected')
                AND NOT EXISTS (SELECT 1 FROM messages m WHERE m.draft_id = d.id)
              ORDER BY d.created_at, d.id LIMIT $1",
        )
        .bind(i64::from(limit))
        .fetch_all(&mut *conn)
        .await
        .map_err(db_err)?;
        let mut out = Vec::with_capacity(ids.len());
        for id in ids {
            out.push(reread(&mut conn, DraftId::from_uuid(id)).await?);
        }
        Ok(out)
    }
}

const INBOX_SELECT: &str = "SELECT e.*, c.email AS contact_email, c.taken_over_by AS human_owner
       FROM escalations e LEFT JOIN contacts c ON c.id = e.contact_id";

fn read_item(row: &PgRow) -> StoreResult<InboxItem> {
    let escalation = read_escalation(row)?;
    let context: serde_json::Value = row.try_get("context").map_err(db_err)?;
    let email: Option<String> = row.try_get("contact_email").map_err(db_err)?;
    Ok(InboxItem {
        escalation,
        signal: context.get("signal").cloned(),
        draft_id: context
            .get("draft_id")
            .and_then(|d| d.as_str())
            .map(|d| {
                d.parse()
                    .map_err(|_| StoreError::corrupt("escalation draft id"))
            })
            .transpose()?,
        approval_for: context
            .get("sequence")
            .and_then(|s| s.as_str())
            .map(str::to_string),
        taken_by: username(
            row.try_get("taken_by").map_err(db_err)?,
            "escalation taken_by",
        )?,
        taken_at: row.try_get("taken_at").map_err(db_err)?,
        overdue_at: row.try_get("overdue_at").map_err(db_err)?,
        escalated_from: username(
            row.try_get("escalated_from").map_err(db_err)?,
            "escalation escalated_from",
        )?,
        contact_email: email
            .map(|e| EmailAddress::parse(&e))
            .transpose()
            .map_err(|_| StoreError::corrupt("contact email"))?,
        human_owner: username(
            row.try_get("human_owner").map_err(db_err)?,
            "contact taken_over_by",
        )?,
    })
}

async fn item_on(conn: &mut PgConnection, id: EscalationId) -> StoreResult<Option<InboxItem>> {
    let row = sqlx::query(sqlx::AssertSqlSafe(format!(
        "{INBOX_SELECT} WHERE e.id = $1"
    )))
    .bind(id.as_uuid())
    .fetch_optional(&mut *conn)
    .await
    .map_err(db_err)?;
    row.as_ref().map(read_item).transpose()
}

/// Locks the contact row and reads who drives it: `handled_by`, the
/// person, since when, and the address.
async fn lock_handling(
    conn: &mut PgConnection,
    contact: ContactId,
) -> StoreResult<(String, Option<String>, Option<DateTime<Utc>>, String)> {
    let row = sqlx::query(
        "SELECT handled_by, taken_over_by, taken_over_at, email FROM contacts WHERE id = $1 FOR UPDATE",
    )
    .bind(contact.as_uuid())
    .fetch_optional(&mut *conn)
    .await
    .map_err(db_err)?
    .ok_or_else(|| StoreError::NotFound {
        what: format!("contact {contact}"),
    })?;
    Ok((
        row.try_get("handled_by").map_err(db_err)?,
        row.try_get("taken_over_by").map_err(db_err)?,
        row.try_get("taken_over_at").map_err(db_err)?,
        row.try_get("email").map_err(db_err)?,
    ))
}

#[async_trait]
impl Inbox for PostgresStore {
    async fn inbox(&self, filter: &InboxFilter) -> StoreResult<Vec<InboxItem>> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "{INBOX_SELECT}
              WHERE e.state = 'open' AND ($1::text IS NULL OR e.assignee = $1)
                AND ($2::timestamptz IS NULL OR e.due_at < $2)
                AND ($3 OR NOT (e.stage = 'list_building' AND e.context ? 'sequence'))
              ORDER BY CASE e.priority WHEN 'urgent' THEN 0 WHEN 'high' THEN 1 WHEN 'normal' THEN 2 ELSE 3 END,
                       e.due_at NULLS LAST, e.created_at, e.id
              LIMIT $4"
        )))
        .bind(filter.assignee.as_ref().map(|a| a.as_str()))
        .bind(filter.overdue_at)
        .bind(filter.include_approvals)
        .bind(i64::from(filter.limit))
        .fetch_all(self.pool())
        .await
        .map_err(db_err)?;
        rows.iter().map(read_item).collect()
    }

    async fn inbox_item(&self, id: EscalationId) -> StoreResult<Option<InboxItem>> {
        let mut conn = self.pool().acquire().await.map_err(db_err)?;
        item_on(&mut conn, id).await
    }

    async fn open_signalled_escalation(
        &self,
        ctx: &CommandContext,
        escalation: &NewEscalation,
        signal: &serde_json::Value,
    ) -> StoreResult<Escalation> {
        let mut tx = self.begin_tx().await?;
        let created = insert_escalation(
            &mut tx,
            ctx,
            escalation,
            serde_json::json!({ "signal": signal }),
        )
        .await?;
        tx.commit().await.map_err(db_err)?;
        Ok(created)
    }

    async fn take_over(
        &self,
        ctx: &CommandContext,
        id: EscalationId,
        by: &Username,
    ) -> StoreResult<TakeOver> {
        let mut tx = self.begin_tx().await?;
        let item = item_on(&mut tx, id)
            .await?
            .filter(|i| i.escalation.resolved_at.is_none())
            .ok_or_else(|| StoreError::NotFound {
                what: format!("an open escalation {id}"),
            })?;
        let contact = item.escalation.contact_id.ok_or_else(|| StoreError::Refused {
            reason: format!(
                "escalation {id} is about no prospect, so there is nobody to take over: resolve it instead"
            ),
        })?;
        let (handled_by, owner, since, email) = lock_handling(&mut tx, contact).await?;
        // The escalation row too: two people taking the same task serialise.
        sqlx::query("SELECT 1 FROM escalations WHERE id = $1 AND state = 'open' FOR UPDATE")
            .bind(id.as_uuid())
            .fetch_optional(&mut *tx)
            .await
            .map_err(db_err)?
            .ok_or_else(|| StoreError::NotFound {
                what: format!("an open escalation {id}"),
            })?;
        if handled_by == "human" {
            return Err(handoff_store::already_taken_over(
                &email,
                owner.as_deref(),
                since,
            ));
        }
        sqlx::query(
            "UPDATE contacts SET handled_by = 'human', taken_over_by = $1, taken_over_at = $2, updated_at = $2
              WHERE id = $3",
        )
        .bind(by.as_str())
        .bind(ctx.now)
        .bind(contact.as_uuid())
        .execute(&mut *tx)
        .await
        .map_err(|e| fk_or(e, || format!("a user named `{by}`")))?;
        let stopped = stop_in(&mut tx, ctx, contact, StopReason::TakenOver).await?;
        sqlx::query(
            "UPDATE escalations SET assignee = $1, taken_by = $1, taken_at = $2 WHERE id = $3",
        )
        .bind(by.as_str())
        .bind(ctx.now)
        .bind(id.as_uuid())
        .execute(&mut *tx)
        .await
        .map_err(|e| fk_or(e, || format!("a user named `{by}`")))?;
        insert_entry(
            &mut tx,
            ctx,
            &Event::ProspectTakenOver {
                contact_id: contact,
                escalation_id: Some(id),
                by: by.to_string(),
                enrollments_stopped: stopped,
            },
        )
        .await?;
        let item = item_on(&mut tx, id)
            .await?
            .ok_or_else(|| StoreError::corrupt("taken escalation"))?;
        tx.commit().await.map_err(db_err)?;
        Ok(TakeOver {
            item,
            enrollments_stopped: stopped,
        })
    }

    async fn hand_back(
        &self,
        ctx: &CommandContext,
        contact: ContactId,
        by: &Username,
        note: &str,
    ) -> StoreResult<HandBack> {
        let note = handoff_store::hand_back_note(note)?;
        let mut tx = self.begin_tx().await?;
        let (handled_by, _, _, email) = lock_handling(&mut tx, contact).await?;
        if handled_by != "human" {
            return Err(handoff_store::not_taken_over(&email));
        }
        sqlx::query(
            "UPDATE contacts SET handled_by = 'ai', taken_over_by = NULL, taken_over_at = NULL, updated_at = $1
              WHERE id = $2",
        )
        .bind(ctx.now)
        .bind(contact.as_uuid())
        .execute(&mut *tx)
        .await
        .map_err(db_err)?;
        insert_entry(
            &mut tx,
            ctx,
            &Event::ProspectHandedBack {
                contact_id: contact,
                by: by.to_string(),
                note: note.clone(),
            },
        )
        .await?;
        let resolution = format!("handed back to AI: {note}");
        let taken: Vec<Uuid> = sqlx::query_scalar(
            "UPDATE escalations SET state = 'resolved', resolution = $1, resolved_at = $2
              WHERE contact_id = $3 AND state = 'open' AND taken_by IS NOT NULL
              RETURNING id",
        )
        .bind(&resolution)
        .bind(ctx.now)
        .bind(contact.as_uuid())
        .fetch_all(&mut *tx)
        .await
        .map_err(db_err)?;
        let mut resolved: Vec<EscalationId> =
            taken.into_iter().map(EscalationId::from_uuid).collect();
        resolved.sort();
        for escalation in &resolved {
            insert_entry(
                &mut tx,
                ctx,
                &Event::EscalationResolved {
                    escalation_id: *escalation,
                    contact_id: Some(contact),
                    resolution: resolution.clone(),
                },
            )
            .await?;
        }
        let still_stopped: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM enrollments WHERE contact_id = $1 AND state = 'stopped'",
        )
        .bind(contact.as_uuid())
        .fetch_one(&mut *tx)
        .await
        .map_err(db_err)?;
        tx.commit().await.map_err(db_err)?;
        Ok(HandBack {
            contact_id: contact,
            resolved,
            still_stopped: still_stopped.max(0) as u64,
        })
    }

    async fn escalate_overdue(
        &self,
        ctx: &CommandContext,
        now: DateTime<Utc>,
    ) -> StoreResult<Vec<OverdueEscalation>> {
        let mut tx = self.begin_tx().await?;
        // SKIP LOCKED: two workers never move the same task, and neither
        // waits for the other.
        let rows = sqlx::query(
            "SELECT e.id, e.contact_id, e.assignee, e.due_at, u.manager
               FROM escalations e LEFT JOIN users u ON u.username = e.assignee
              WHERE e.state = 'open' AND e.overdue_at IS NULL AND e.due_at < $1
              ORDER BY e.due_at, e.id
              FOR UPDATE OF e SKIP LOCKED",
        )
        .bind(now)
        .fetch_all(&mut *tx)
        .await
        .map_err(db_err)?;
        let mut moved = Vec::with_capacity(rows.len());
        for row in &rows {
            let id: Uuid = row.try_get("id").map_err(db_err)?;
            let manager: Option<String> = row.try_get("manager").map_err(db_err)?;
            sqlx::query(
                "UPDATE escalations SET overdue_at = $1, escalated_from = assignee,
                        assignee = COALESCE($2, assignee)
                  WHERE id = $3 AND overdue_at IS NULL",
            )
            .bind(now)
            .bind(&manager)
            .bind(id)
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
            let overdue = OverdueEscalation {
                escalation_id: EscalationId::from_uuid(id),
                contact_id: row
                    .try_get::<Option<Uuid>, _>("contact_id")
                    .map_err(db_err)?
                    .map(ContactId::from_uuid),
                due_at: row.try_get("due_at").map_err(db_err)?,
                from: username(
                    row.try_get("assignee").map_err(db_err)?,
                    "escalation assignee",
                )?,
                to: username(manager, "assignee's manager")?,
            };
            insert_entry(
                &mut tx,
                ctx,
                &Event::EscalationOverdue {
                    escalation_id: overdue.escalation_id,
                    contact_id: overdue.contact_id,
                    due_at: overdue.due_at,
                    from: overdue.from.as_ref().map(|u| u.to_string()),
                    to: overdue.to.as_ref().map(|u| u.to_string()),
                },
            )
            .await?;
            moved.push(overdue);
        }
        tx.commit().await.map_err(db_err)?;
        Ok(moved)
    }
}
