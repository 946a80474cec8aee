//! The review queue and the escalation inbox on SQLite. Each command is
//! one write transaction with its ledger entries; the rules on what may be
//! reviewed are `DraftRecord`'s, shared with PostgreSQL.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use rusqlite::{Connection, OptionalExtension, Row, params};

use handoff_domain::enrollment::StopReason;
use handoff_domain::users::Username;
use handoff_domain::{ContactId, DraftId, EmailAddress, EscalationId, Event};
use handoff_store::{
    Approval, CommandContext, DraftRecord, DraftReview, Escalation, HandBack, Inbox, InboxFilter,
    InboxItem, Message, NewEscalation, NewMessage, OverdueEscalation, QueueFilter, QueueState,
    QueuedDraft, REVIEW_VERDICTS, ReviewDecision, ReviewQueue, StoreError, StoreResult, TakeOver,
    check_reassign, refuse_rejection_as_approval, rejection_hold,
};

use crate::drafts::{existing, review_in};
use crate::rows::{db_err, micros, parse_id};
use crate::sending::{MESSAGE_COLUMNS, escalated, queue_in, read_message};
use crate::workflow::{insert_escalation, opt_micros, read_escalation, stop_in};
use crate::{SqliteStore, insert_entry};

/// `'needs_approval', 'veto_window', …` for an SQL `IN` list.
fn review_verdicts_sql() -> String {
    REVIEW_VERDICTS
        .iter()
        .map(|v| format!("'{v}'"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn username(raw: Option<String>, what: &str) -> StoreResult<Option<Username>> {
    raw.map(|u| Username::parse(&u))
        .transpose()
        .map_err(|_| StoreError::corrupt(what))
}

/// The draft's live (not failed) message, if any.
fn live_message(conn: &Connection, draft: DraftId) -> StoreResult<Option<Message>> {
    conn.prepare_cached(&format!(
        "SELECT {MESSAGE_COLUMNS} FROM messages m WHERE m.draft_id = ?1 AND m.state <> 'failed'"
    ))
    .map_err(db_err)?
    .query_row([draft.to_string()], |row| Ok(read_message(row)))
    .optional()
    .map_err(db_err)?
    .transpose()
}

/// The draft with its queue's view of it.
fn queued_on(conn: &Connection, draft: DraftId) -> StoreResult<Option<QueuedDraft>> {
    let owners: Option<(Option<String>, Option<String>)> = conn
        .query_row(
            "SELECT d.assignee, COALESCE(d.assignee, c.owner)
               FROM drafts d JOIN contacts c ON c.id = d.contact_id WHERE d.id = ?1",
            [draft.to_string()],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()
        .map_err(db_err)?;
    let Some((assignee, owner)) = owners else {
        return Ok(None);
    };
    let record = existing(conn, draft)?;
    Ok(Some(QueuedDraft {
        escalated: escalated(conn, &record)?,
        message: live_message(conn, draft)?,
        owner: username(owner, "draft owner")?,
        assignee: username(assignee, "draft assignee")?,
        record,
    }))
}

fn user_or_not_found(e: rusqlite::Error, user: &Username) -> StoreError {
    if e.to_string().contains("FOREIGN KEY") {
        StoreError::NotFound {
            what: format!("a user named `{user}`"),
        }
    } else {
        db_err(e)
    }
}

#[async_trait]
impl ReviewQueue for SqliteStore {
    async fn review_queue(&self, filter: &QueueFilter) -> StoreResult<Vec<QueuedDraft>> {
        let conn = self.reader();
        let (condition, order) = match filter.state {
            QueueState::Pending => (
                format!(
                    "d.verdict IN ({}) AND d.review_state NOT IN ('expired', 'rejected')
                     AND (d.review_deadline IS NULL OR d.review_deadline >= ?1)
                     AND c.handled_by = 'ai'
                     AND NOT EXISTS (SELECT 1 FROM enrollments e
                                      WHERE e.id = d.enrollment_id AND e.state = 'stopped')",
                    review_verdicts_sql()
                ),
                "d.review_deadline IS NULL, d.review_deadline, d.created_at, d.id",
            ),
            QueueState::Expired => (
                "(d.review_state = 'expired'
                  OR (d.review_deadline < ?1
                      AND (d.verdict = 'needs_approval'
                           OR (d.verdict = 'veto_window'
                               AND EXISTS (SELECT 1 FROM escalations x
                                            WHERE x.contact_id = d.contact_id
                                              AND x.created_at > d.evaluated_at)))))"
                    .to_string(),
                "d.review_deadline DESC, d.id",
            ),
        };
        let ids: Vec<String> = {
            let mut stmt = conn
                .prepare_cached(&format!(
                    "SELECT d.id FROM drafts d JOIN contacts c ON c.id = d.contact_id
                      WHERE d.reviewed_at IS NULL AND d.sent_at IS NULL AND {condition}
                        AND (?2 IS NULL OR COALESCE(d.assignee, c.owner) = ?2)
                      ORDER BY {order} LIMIT ?3"
                ))
                .map_err(db_err)?;
            stmt.query_map(
                params![
                    micros(filter.now),
                    filter.owner.as_ref().map(|o| o.as_str()),
                    filter.limit
                ],
                |r| r.get(0),
            )
            .map_err(db_err)?
            .collect::<Result<_, _>>()
            .map_err(db_err)?
        };
        let mut out = Vec::with_capacity(ids.len());
        for id in ids {
            if let Some(item) = queued_on(&conn, parse_id(&id, "draft id")?)? {
                out.push(item);
            }
        }
        Ok(out)
    }

    async fn queued_draft(&self, draft: DraftId) -> StoreResult<Option<QueuedDraft>> {
        queued_on(&self.reader(), draft)
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
        // As in record_review: the edit distance is worked out before the
        // write lock; the checks run again inside the transaction.
        let before = existing(&self.reader(), draft)?;
        before.check_review(review, ctx.now)?;
        let outcome = before.review_outcome(&review.decision);
        self.write(|tx| {
            let record = review_in(tx, ctx, draft, review, &outcome, None)?;
            match live_message(tx, draft)? {
                None => Ok(Approval {
                    message: queue_in(tx, ctx, message)?,
                    record,
                    rescheduled: false,
                }),
                Some(mut queued) if queued.state == "queued" => {
                    if message.scheduled_at < queued.scheduled_at {
                        tx.execute(
                            "UPDATE messages SET scheduled_at = ?1, updated_at = ?2 WHERE id = ?3",
                            params![
                                micros(message.scheduled_at),
                                micros(ctx.now),
                                queued.id.to_string()
                            ],
                        )
                        .map_err(db_err)?;
                        insert_entry(
                            tx,
                            ctx,
                            &Event::MessageRescheduled {
                                message_id: queued.id,
                                contact_id: queued.contact_id,
                                draft_id: draft,
                                scheduled_at: message.scheduled_at,
                                reason: format!(
                                    "draft {} by {} before its window ended",
                                    review.decision.as_str(),
                                    review.reviewer
                                ),
                            },
                        )?;
                        queued.scheduled_at = message.scheduled_at;
                    }
                    Ok(Approval {
                        record,
                        message: queued,
                        rescheduled: true,
                    })
                }
                Some(other) => Err(StoreError::Conflict {
                    what: format!(
                        "message {} of draft {draft}, which is already {}",
                        other.rfc_message_id, other.state
                    ),
                }),
            }
        })
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
        let outcome = existing(&self.reader(), draft)?.review_outcome(&review.decision);
        self.write(|tx| {
            let record = review_in(tx, ctx, draft, &review, &outcome, Some(&reason))?;
            if let Some(queued) = live_message(tx, draft)?.filter(|m| m.state == "queued") {
                let failure = rejection_hold(draft, reviewer, &reason);
                crate::sending::fail_queued_in(tx, ctx, &queued, &failure)?;
            }
            Ok(record)
        })
    }

    async fn reassign_draft(
        &self,
        ctx: &CommandContext,
        draft: DraftId,
        to: &Username,
    ) -> StoreResult<QueuedDraft> {
        self.write(|tx| {
            let current = queued_on(tx, draft)?.ok_or_else(|| StoreError::NotFound {
                what: format!("draft {draft}"),
            })?;
            check_reassign(&current.record)?;
            if current.owner.as_ref() == Some(to) {
                return Err(StoreError::Refused {
                    reason: format!("draft {draft} is already in {to}'s queue"),
                });
            }
            tx.execute(
                "UPDATE drafts SET assignee = ?1, updated_at = ?2 WHERE id = ?3",
                params![to.as_str(), micros(ctx.now), draft.to_string()],
            )
            .map_err(|e| user_or_not_found(e, to))?;
            insert_entry(
                tx,
                ctx,
                &Event::DraftReassigned {
                    draft_id: draft,
                    contact_id: current.record.draft.contact_id,
                    from: current.owner.as_ref().map(|o| o.to_string()),
                    to: to.to_string(),
                },
            )?;
            queued_on(tx, draft)?.ok_or_else(|| StoreError::corrupt("reassigned draft"))
        })
    }

    async fn unqueued_automatic(&self, limit: u32) -> StoreResult<Vec<DraftRecord>> {
        let conn = self.reader();
        let ids: Vec<String> = {
            let mut stmt = conn
                .prepare_cached(
                    "SELECT d.id FROM drafts d
                      WHERE d.verdict IN ('auto_send', 'veto_window')
                        AND d.reviewed_at IS NULL AND d.sent_at IS NULL
                        AND d.review_state NOT IN ('expired', 'rejected')
                        AND NOT EXISTS (SELECT 1 FROM messages m WHERE m.draft_id = d.id)
                      ORDER BY d.created_at, d.id LIMIT ?1",
                )
                .map_err(db_err)?;
            stmt.query_map([limit], |r| r.get(0))
                .map_err(db_err)?
                .collect::<Result<_, _>>()
                .map_err(db_err)?
        };
        ids.iter()
            .map(|id| existing(&conn, parse_id(id, "draft id")?))
            .collect()
    }
}

/// The escalation columns `read_escalation` reads, in its order, then what
/// the inbox adds.
const INBOX_COLUMNS: &str = "e.id, e.contact_id, e.stage, e.rule_id, e.reason, e.priority, e.assignee, e.due_at, \
     e.resolution, e.created_at, e.resolved_at, \
     e.context, e.taken_by, e.taken_at, e.overdue_at, e.escalated_from, c.email, c.taken_over_by";

const INBOX_FROM: &str = "escalations e LEFT JOIN contacts c ON c.id = e.contact_id";

fn read_item(row: &Row<'_>) -> StoreResult<InboxItem> {
    let escalation = read_escalation(row)?;
    let context: String = row.get(11).map_err(db_err)?;
    let context: serde_json::Value =
        serde_json::from_str(&context).map_err(|_| StoreError::corrupt("escalation context"))?;
    let email: Option<String> = row.get(16).map_err(db_err)?;
    Ok(InboxItem {
        escalation,
        signal: context.get("signal").cloned(),
        draft_id: context
            .get("draft_id")
            .and_then(|d| d.as_str())
            .map(|d| parse_id(d, "escalation draft id"))
            .transpose()?,
        approval_for: context
            .get("sequence")
            .and_then(|s| s.as_str())
            .map(str::to_string),
        taken_by: username(row.get(12).map_err(db_err)?, "escalation taken_by")?,
        taken_at: opt_micros(row.get(13).map_err(db_err)?)?,
        overdue_at: opt_micros(row.get(14).map_err(db_err)?)?,
        escalated_from: username(row.get(15).map_err(db_err)?, "escalation escalated_from")?,
        contact_email: email
            .map(|e| EmailAddress::parse(&e))
            .transpose()
            .map_err(|_| StoreError::corrupt("contact email"))?,
        human_owner: username(row.get(17).map_err(db_err)?, "contact taken_over_by")?,
    })
}

fn item_on(conn: &Connection, id: EscalationId) -> StoreResult<Option<InboxItem>> {
    conn.prepare_cached(&format!(
        "SELECT {INBOX_COLUMNS} FROM {INBOX_FROM} WHERE e.id = ?1"
    ))
    .map_err(db_err)?
    .query_row([id.to_string()], |row| Ok(read_item(row)))
    .optional()
    .map_err(db_err)?
    .transpose()
}

/// Who drives the contact now: `handled_by`, the person, since when, and
/// the address.
type Handling = (String, Option<String>, Option<i64>, String);

fn handling(conn: &Connection, contact: ContactId) -> StoreResult<Handling> {
    conn.query_row(
        "SELECT handled_by, taken_over_by, taken_over_at, email FROM contacts WHERE id = ?1",
        [contact.to_string()],
        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
    )
    .optional()
    .map_err(db_err)?
    .ok_or_else(|| StoreError::NotFound {
        what: format!("contact {contact}"),
    })
}

#[async_trait]
impl Inbox for SqliteStore {
    async fn inbox(&self, filter: &InboxFilter) -> StoreResult<Vec<InboxItem>> {
        let conn = self.reader();
        let mut stmt = conn
            .prepare_cached(&format!(
                "SELECT {INBOX_COLUMNS} FROM {INBOX_FROM}
                  WHERE e.state = 'open' AND (?1 IS NULL OR e.assignee = ?1)
                    AND (?2 IS NULL OR e.due_at < ?2)
                    AND (?3 OR NOT (e.stage = 'list_building'
                                    AND json_extract(e.context, '$.sequence') IS NOT NULL))
                  ORDER BY CASE e.priority WHEN 'urgent' THEN 0 WHEN 'high' THEN 1 WHEN 'normal' THEN 2 ELSE 3 END,
                           e.due_at IS NULL, e.due_at, e.created_at, e.id
                  LIMIT ?4"
            ))
            .map_err(db_err)?;
        let mut rows = stmt
            .query(params![
                filter.assignee.as_ref().map(|a| a.as_str()),
                filter.overdue_at.map(micros),
                filter.include_approvals,
                filter.limit
            ])
            .map_err(db_err)?;
        let mut out = Vec::new();
        while let Some(row) = rows.next().map_err(db_err)? {
            out.push(read_item(row)?);
        }
        Ok(out)
    }

    async fn inbox_item(&self, id: EscalationId) -> StoreResult<Option<InboxItem>> {
        item_on(&self.reader(), id)
    }

    async fn open_signalled_escalation(
        &self,
        ctx: &CommandContext,
        escalation: &NewEscalation,
        signal: &serde_json::Value,
    ) -> StoreResult<Escalation> {
        self.write(|tx| {
            insert_escalation(
                tx,
                ctx,
                escalation,
                &serde_json::json!({ "signal": signal }),
            )
        })
    }

    async fn take_over(
        &self,
        ctx: &CommandContext,
        id: EscalationId,
        by: &Username,
    ) -> StoreResult<TakeOver> {
        self.write(|tx| {
            let item = item_on(tx, id)?
                .filter(|i| i.escalation.resolved_at.is_none())
                .ok_or_else(|| StoreError::NotFound {
                    what: format!("an open escalation {id}"),
                })?;
            let contact = item.escalation.contact_id.ok_or_else(|| StoreError::Refused {
                reason: format!(
                    "escalation {id} is about no prospect, so there is nobody to take over: resolve it instead"
                ),
            })?;
            let (handled_by, owner, since, email) = handling(tx, contact)?;
            if handled_by == "human" {
                return Err(handoff_store::already_taken_over(
                    &email,
                    owner.as_deref(),
                    opt_micros(since)?,
                ));
            }
            tx.execute(
                "UPDATE contacts SET handled_by = 'human', taken_over_by = ?1, taken_over_at = ?2, updated_at = ?2
                  WHERE id = ?3",
                params![by.as_str(), micros(ctx.now), contact.to_string()],
            )
            .map_err(|e| user_or_not_found(e, by))?;
            let stopped = stop_in(tx, ctx, contact, StopReason::TakenOver)?;
            tx.execute(
                "UPDATE escalations SET assignee = ?1, taken_by = ?1, taken_at = ?2 WHERE id = ?3",
                params![by.as_str(), micros(ctx.now), id.to_string()],
            )
            .map_err(|e| user_or_not_found(e, by))?;
            insert_entry(
                tx,
                ctx,
                &Event::ProspectTakenOver {
                    contact_id: contact,
                    escalation_id: Some(id),
                    by: by.to_string(),
                    enrollments_stopped: stopped,
                },
            )?;
            Ok(TakeOver {
                item: item_on(tx, id)?.ok_or_else(|| StoreError::corrupt("taken escalation"))?,
                enrollments_stopped: stopped,
            })
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
        self.write(|tx| {
            let (handled_by, _, _, email) = handling(tx, contact)?;
            if handled_by != "human" {
                return Err(handoff_store::not_taken_over(&email));
            }
            tx.execute(
                "UPDATE contacts SET handled_by = 'ai', taken_over_by = NULL, taken_over_at = NULL, updated_at = ?1
                  WHERE id = ?2",
                params![micros(ctx.now), contact.to_string()],
            )
            .map_err(db_err)?;
            insert_entry(
                tx,
                ctx,
                &Event::ProspectHandedBack {
                    contact_id: contact,
                    by: by.to_string(),
                    note: note.clone(),
                },
            )?;
            let taken: Vec<String> = {
                let mut stmt = tx
                    .prepare_cached(
                        "SELECT id FROM escalations
                          WHERE contact_id = ?1 AND state = 'open' AND taken_by IS NOT NULL
                          ORDER BY created_at, id",
                    )
                    .map_err(db_err)?;
                stmt.query_map([contact.to_string()], |r| r.get(0))
                    .map_err(db_err)?
                    .collect::<Result<_, _>>()
                    .map_err(db_err)?
            };
            let resolution = format!("handed back to AI: {note}");
            let mut resolved = Vec::with_capacity(taken.len());
            for raw in taken {
                let escalation: EscalationId = parse_id(&raw, "escalation id")?;
                tx.execute(
                    "UPDATE escalations SET state = 'resolved', resolution = ?1, resolved_at = ?2 WHERE id = ?3",
                    params![resolution, micros(ctx.now), raw],
                )
                .map_err(db_err)?;
                insert_entry(
                    tx,
                    ctx,
                    &Event::EscalationResolved {
                        escalation_id: escalation,
                        contact_id: Some(contact),
                        resolution: resolution.clone(),
                    },
                )?;
                resolved.push(escalation);
            }
            let still_stopped: i64 = tx
                .query_row(
                    "SELECT COUNT(*) FROM enrollments WHERE contact_id = ?1 AND state = 'stopped'",
                    [contact.to_string()],
                    |r| r.get(0),
                )
                .map_err(db_err)?;
            Ok(HandBack {
                contact_id: contact,
                resolved,
                still_stopped: still_stopped.max(0) as u64,
            })
        })
    }

    async fn escalate_overdue(
        &self,
        ctx: &CommandContext,
        now: DateTime<Utc>,
    ) -> StoreResult<Vec<OverdueEscalation>> {
        self.write(|tx| {
            type Due = (String, Option<String>, Option<String>, i64, Option<String>);
            let due: Vec<Due> = {
                let mut stmt = tx
                    .prepare_cached(
                        "SELECT e.id, e.contact_id, e.assignee, e.due_at, u.manager
                           FROM escalations e LEFT JOIN users u ON u.username = e.assignee
                          WHERE e.state = 'open' AND e.overdue_at IS NULL AND e.due_at < ?1
                          ORDER BY e.due_at, e.id",
                    )
                    .map_err(db_err)?;
                stmt.query_map([micros(now)], |r| {
                    Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
                })
                .map_err(db_err)?
                .collect::<Result<_, _>>()
                .map_err(db_err)?
            };
            let mut moved = Vec::with_capacity(due.len());
            for (id, contact, assignee, due_at, manager) in due {
                tx.execute(
                    "UPDATE escalations SET overdue_at = ?1, escalated_from = assignee,
                            assignee = COALESCE(?2, assignee)
                      WHERE id = ?3 AND overdue_at IS NULL",
                    params![micros(now), manager, id],
                )
                .map_err(db_err)?;
                let overdue = OverdueEscalation {
                    escalation_id: parse_id(&id, "escalation id")?,
                    contact_id: contact
                        .map(|c| parse_id(&c, "escalation contact id"))
                        .transpose()?,
                    due_at: crate::rows::from_micros(due_at)?,
                    from: username(assignee, "escalation assignee")?,
                    to: username(manager, "assignee's manager")?,
                };
                insert_entry(
                    tx,
                    ctx,
                    &Event::EscalationOverdue {
                        escalation_id: overdue.escalation_id,
                        contact_id: overdue.contact_id,
                        due_at: overdue.due_at,
                        from: overdue.from.as_ref().map(|u| u.to_string()),
                        to: overdue.to.as_ref().map(|u| u.to_string()),
                    },
                )?;
                moved.push(overdue);
            }
            Ok(moved)
        })
    }
}
