//! Imports, enrolments, messages, inbound events and escalations on
//! SQLite. Each write appends its ledger entry in the same transaction.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use rusqlite::{OptionalExtension, Row, params};

use handoff_domain::enrollment::{EnrollmentState, StopReason};
use handoff_domain::users::Username;
use handoff_domain::{ContactId, EnrollmentId, EscalationId, Event, ImportId, InboundEventId};
use handoff_store::{
    CommandContext, Enrollment, Enrollments, Escalation, Escalations, ImportCounts, ImportRecord,
    Imports, InboundEventRecord, InboundEvents, NewEscalation, NewImport, NewInboundEvent,
    Recorded, StoreError, StoreResult,
};

use crate::rows::{db_err, from_micros, micros, parse_id};
use crate::{SqliteStore, conflict_or, insert_entry};

fn stop_reason_from(s: &str) -> Option<StopReason> {
    serde_json::from_value(serde_json::Value::String(s.to_string())).ok()
}

pub(crate) fn opt_micros(v: Option<i64>) -> StoreResult<Option<chrono::DateTime<chrono::Utc>>> {
    v.map(from_micros).transpose()
}

const IMPORT_COLUMNS: &str = "id, file_name, format, created_by, started_at, finished_at, rows_total, imported, merged, rejected, content_sha256";

fn read_import(row: &Row<'_>) -> StoreResult<ImportRecord> {
    let count =
        |i: usize| -> StoreResult<u64> { Ok(row.get::<_, i64>(i).map_err(db_err)?.max(0) as u64) };
    Ok(ImportRecord {
        id: parse_id(&row.get::<_, String>(0).map_err(db_err)?, "import id")?,
        file_name: row.get(1).map_err(db_err)?,
        format: row.get(2).map_err(db_err)?,
        content_sha256: row.get(10).map_err(db_err)?,
        created_by: row.get(3).map_err(db_err)?,
        started_at: from_micros(row.get(4).map_err(db_err)?)?,
        finished_at: opt_micros(row.get(5).map_err(db_err)?)?,
        counts: ImportCounts {
            rows_total: count(6)?,
            imported: count(7)?,
            merged: count(8)?,
            rejected: count(9)?,
        },
    })
}

#[async_trait]
impl Imports for SqliteStore {
    async fn start_import(
        &self,
        ctx: &CommandContext,
        import: &NewImport,
    ) -> StoreResult<ImportRecord> {
        let record = ImportRecord {
            id: ImportId::new(),
            file_name: import.file_name.clone(),
            format: import.format.clone(),
            content_sha256: import.content_sha256.clone(),
            created_by: ctx.actor.to_string(),
            started_at: ctx.now,
            finished_at: None,
            counts: ImportCounts::default(),
        };
        self.write(|tx| {
            tx.execute(
                "INSERT INTO imports (id, file_name, format, content_sha256, created_by, started_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![
                    record.id.to_string(),
                    record.file_name,
                    record.format,
                    record.content_sha256,
                    record.created_by,
                    micros(ctx.now)
                ],
            )
            .map_err(db_err)?;
            insert_entry(
                tx,
                ctx,
                &Event::ImportStarted {
                    import_id: record.id,
                    file_name: record.file_name.clone(),
                    format: record.format.clone(),
                },
            )?;
            Ok(())
        })?;
        Ok(record)
    }

    async fn finish_import(
        &self,
        ctx: &CommandContext,
        id: ImportId,
        counts: &ImportCounts,
    ) -> StoreResult<ImportRecord> {
        self.write(|tx| {
            let changed = tx
                .execute(
                    "UPDATE imports SET finished_at = ?1, rows_total = ?2, imported = ?3, merged = ?4, rejected = ?5
                     WHERE id = ?6 AND finished_at IS NULL",
                    params![
                        micros(ctx.now),
                        counts.rows_total as i64,
                        counts.imported as i64,
                        counts.merged as i64,
                        counts.rejected as i64,
                        id.to_string()
                    ],
                )
                .map_err(db_err)?;
            if changed == 0 {
                return Err(StoreError::NotFound {
                    what: format!("an unfinished import {id}"),
                });
            }
            insert_entry(
                tx,
                ctx,
                &Event::ImportFinished {
                    import_id: id,
                    rows_total: counts.rows_total,
                    imported: counts.imported,
                    merged: counts.merged,
                    rejected: counts.rejected,
                },
            )?;
            tx.query_row(
                &format!("SELECT {IMPORT_COLUMNS} FROM imports WHERE id = ?1"),
                [id.to_string()],
                |row| Ok(read_import(row)),
            )
            .map_err(db_err)?
        })
    }

    async fn import_batch(
        &self,
        ctx: &CommandContext,
        source: &handoff_store::import_plan::ImportSource,
        rows: &[handoff_store::import_plan::ImportRow],
    ) -> StoreResult<handoff_store::import_plan::BatchOutcome> {
        self.import_batch_sync(ctx, source, rows)
    }

    async fn find_import_by_content(&self, sha256: &str) -> StoreResult<Option<ImportRecord>> {
        let conn = self.reader();
        conn.query_row(
            &format!(
                "SELECT {IMPORT_COLUMNS} FROM imports WHERE content_sha256 = ?1 AND finished_at IS NOT NULL
                 ORDER BY started_at LIMIT 1"
            ),
            [sha256],
            |row| Ok(read_import(row)),
        )
        .optional()
        .map_err(db_err)?
        .transpose()
    }

    async fn get_import(&self, id: ImportId) -> StoreResult<Option<ImportRecord>> {
        let conn = self.reader();
        conn.query_row(
            &format!("SELECT {IMPORT_COLUMNS} FROM imports WHERE id = ?1"),
            [id.to_string()],
            |row| Ok(read_import(row)),
        )
        .optional()
        .map_err(db_err)?
        .transpose()
    }
}

const ENROLLMENT_COLUMNS: &str =
    "id, contact_id, sequence, state, stop_reason, current_step, created_at";

fn read_enrollment(row: &Row<'_>) -> StoreResult<Enrollment> {
    let state: String = row.get(3).map_err(db_err)?;
    let reason: Option<String> = row.get(4).map_err(db_err)?;
    let reason = reason.as_deref().map(stop_reason_from);
    let state = match reason {
        Some(None) => None,
        Some(Some(r)) => EnrollmentState::from_parts(&state, Some(r)),
        None => EnrollmentState::from_parts(&state, None),
    }
    .ok_or_else(|| StoreError::corrupt("enrollment state"))?;
    Ok(Enrollment {
        id: parse_id(&row.get::<_, String>(0).map_err(db_err)?, "enrollment id")?,
        contact_id: parse_id(&row.get::<_, String>(1).map_err(db_err)?, "contact id")?,
        sequence: row.get(2).map_err(db_err)?,
        state,
        current_step: row.get::<_, i64>(5).map_err(db_err)?.max(0) as u32,
        created_at: from_micros(row.get(6).map_err(db_err)?)?,
    })
}

/// Enrols inside the caller's transaction, behind the verification gate.
pub(crate) fn enroll_in(
    tx: &rusqlite::Transaction<'_>,
    ctx: &CommandContext,
    contact: ContactId,
    sequence: &str,
    allow_risky: bool,
) -> StoreResult<Enrollment> {
    let enrollment = Enrollment {
        id: EnrollmentId::new(),
        contact_id: contact,
        sequence: sequence.to_string(),
        state: EnrollmentState::Active,
        current_step: 0,
        created_at: ctx.now,
    };
    let status: Option<(Option<String>, Option<String>)> = tx
        .query_row(
            "SELECT verification_status, verification_reason FROM contacts WHERE id = ?1",
            [contact.to_string()],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()
        .map_err(db_err)?;
    let Some((status, reason)) = status else {
        return Err(StoreError::NotFound {
            what: format!("contact {contact}"),
        });
    };
    let verdict = crate::rows::read_verdict(status, reason)?;
    let by_person = matches!(ctx.actor, handoff_domain::Actor::Human { .. });
    if let Some(refusal) = StoreError::gate(&contact.to_string(), verdict, allow_risky, by_person) {
        return Err(refusal);
    }
    tx.execute(
        "INSERT INTO enrollments (id, contact_id, sequence, state, current_step, created_at, updated_at)
         VALUES (?1, ?2, ?3, 'active', 0, ?4, ?4)",
        params![enrollment.id.to_string(), contact.to_string(), sequence, micros(ctx.now)],
    )
    .map_err(|e| {
        if e.to_string().contains("FOREIGN KEY") {
            StoreError::NotFound {
                what: format!("contact {contact} or sequence `{sequence}`"),
            }
        } else {
            conflict_or(e, || format!("an enrolment of contact {contact} in `{sequence}`"))
        }
    })?;
    if let Some(risky @ handoff_domain::verification::Verdict::Risky(_)) = verdict {
        insert_entry(
            tx,
            ctx,
            &Event::RiskyAddressAllowed {
                contact_id: contact,
                sequence: sequence.to_string(),
                verdict: risky,
            },
        )?;
    }
    insert_entry(
        tx,
        ctx,
        &Event::Enrolled {
            enrollment_id: enrollment.id,
            contact_id: contact,
            sequence: sequence.to_string(),
        },
    )?;
    Ok(enrollment)
}

/// Stops every active or paused enrolment of the contact inside the
/// caller's transaction, each with its ledger entry; returns how many.
pub(crate) fn stop_in(
    tx: &rusqlite::Transaction<'_>,
    ctx: &CommandContext,
    contact: ContactId,
    reason: StopReason,
) -> StoreResult<u64> {
    let mut stmt = tx
        .prepare_cached(&format!(
            "SELECT {ENROLLMENT_COLUMNS} FROM enrollments WHERE contact_id = ?1 AND state IN ('active', 'paused')"
        ))
        .map_err(db_err)?;
    let mut rows = stmt.query([contact.to_string()]).map_err(db_err)?;
    let mut open = Vec::new();
    while let Some(row) = rows.next().map_err(db_err)? {
        open.push(read_enrollment(row)?);
    }
    drop(rows);
    for enrollment in &open {
        // The domain decides whether the move is legal.
        let next = enrollment
            .state
            .stop(reason)
            .map_err(|e| StoreError::Database(e.to_string()))?;
        tx.execute(
            "UPDATE enrollments SET state = ?1, stop_reason = ?2, updated_at = ?3 WHERE id = ?4",
            params![
                next.name(),
                reason.as_str(),
                micros(ctx.now),
                enrollment.id.to_string()
            ],
        )
        .map_err(db_err)?;
        insert_entry(
            tx,
            ctx,
            &Event::EnrollmentStopped {
                enrollment_id: enrollment.id,
                contact_id: contact,
                reason,
            },
        )?;
    }
    Ok(open.len() as u64)
}

#[async_trait]
impl Enrollments for SqliteStore {
    async fn enroll(
        &self,
        ctx: &CommandContext,
        contact: ContactId,
        sequence: &str,
        allow_risky: bool,
    ) -> StoreResult<Enrollment> {
        self.write(|tx| enroll_in(tx, ctx, contact, sequence, allow_risky))
    }

    async fn stop_enrollments(
        &self,
        ctx: &CommandContext,
        contact: ContactId,
        reason: StopReason,
    ) -> StoreResult<u64> {
        self.write(|tx| stop_in(tx, ctx, contact, reason))
    }

    async fn list_enrollments(&self, contact: ContactId) -> StoreResult<Vec<Enrollment>> {
        let conn = self.reader();
        let mut stmt = conn
            .prepare_cached(&format!(
                "SELECT {ENROLLMENT_COLUMNS} FROM enrollments WHERE contact_id = ?1 ORDER BY created_at, id"
            ))
            .map_err(db_err)?;
        let mut rows = stmt.query([contact.to_string()]).map_err(db_err)?;
        let mut out = Vec::new();
        while let Some(row) = rows.next().map_err(db_err)? {
            out.push(read_enrollment(row)?);
        }
        Ok(out)
    }

    async fn awaiting_draft(
        &self,
        after: Option<EnrollmentId>,
        limit: u32,
    ) -> StoreResult<Vec<Enrollment>> {
        let conn = self.reader();
        let mut stmt = conn
            .prepare_cached(&format!(
                "SELECT {ENROLLMENT_COLUMNS} FROM enrollments e
                 WHERE e.state = 'active' AND e.id > ?1
                   AND NOT EXISTS (
                       SELECT 1 FROM drafts d
                        WHERE d.enrollment_id = e.id AND d.step_index = e.current_step
                          AND d.review_state NOT IN ('rejected', 'expired'))
                 ORDER BY e.id LIMIT ?2"
            ))
            .map_err(db_err)?;
        let after = after.map(|id| id.to_string()).unwrap_or_default();
        let mut rows = stmt.query(params![after, limit]).map_err(db_err)?;
        let mut out = Vec::new();
        while let Some(row) = rows.next().map_err(db_err)? {
            out.push(read_enrollment(row)?);
        }
        Ok(out)
    }
}

#[async_trait]
impl InboundEvents for SqliteStore {
    async fn record_event(
        &self,
        ctx: &CommandContext,
        event: &NewInboundEvent,
    ) -> StoreResult<Recorded> {
        let id = InboundEventId::new();
        self.write(|tx| {
            let inserted = tx
                .execute(
                    "INSERT INTO events (id, provider, provider_event_id, kind, contact_id, rfc_message_id, occurred_at, received_at, payload)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)
                     ON CONFLICT (provider, provider_event_id) DO NOTHING",
                    params![
                        id.to_string(),
                        event.provider,
                        event.provider_event_id,
                        event.kind,
                        event.contact_id.map(|c| c.to_string()),
                        event.rfc_message_id,
                        micros(event.occurred_at),
                        micros(ctx.now),
                        event.payload.to_string(),
                    ],
                )
                .map_err(|e| {
                    if e.to_string().contains("FOREIGN KEY") {
                        StoreError::NotFound {
                            what: "the event's contact".into(),
                        }
                    } else {
                        db_err(e)
                    }
                })?;
            if inserted == 0 {
                let existing: String = tx
                    .query_row(
                        "SELECT id FROM events WHERE provider = ?1 AND provider_event_id = ?2",
                        params![event.provider, event.provider_event_id],
                        |r| r.get(0),
                    )
                    .map_err(db_err)?;
                return Ok(Recorded::Duplicate(parse_id(&existing, "event id")?));
            }
            insert_entry(
                tx,
                ctx,
                &Event::InboundEventRecorded {
                    event_id: id,
                    provider: event.provider.clone(),
                    kind: event.kind.clone(),
                    contact_id: event.contact_id,
                },
            )?;
            // A bounce or complaint may trip a circuit breaker, in this
            // transaction.
            crate::scheduling::judge_report(
                tx,
                ctx,
                &event.kind,
                event.rfc_message_id.as_deref(),
                event.contact_id,
            )?;
            Ok(Recorded::New(id))
        })
    }

    async fn list_events(
        &self,
        since: Option<DateTime<Utc>>,
        after: Option<InboundEventId>,
        limit: u32,
    ) -> StoreResult<Vec<InboundEventRecord>> {
        let conn = self.reader();
        let mut stmt = conn
            .prepare_cached(&format!(
                "SELECT {EVENT_COLUMNS} FROM events
                 WHERE id > coalesce(?1, '') AND received_at >= coalesce(?2, -9223372036854775808)
                 ORDER BY id LIMIT ?3"
            ))
            .map_err(db_err)?;
        let mut rows = stmt
            .query(params![
                after.map(|a| a.to_string()),
                since.map(micros),
                limit
            ])
            .map_err(db_err)?;
        let mut out = Vec::new();
        while let Some(row) = rows.next().map_err(db_err)? {
            out.push(read_event(row)?);
        }
        Ok(out)
    }
}

const EVENT_COLUMNS: &str = "id, provider, provider_event_id, kind, contact_id, rfc_message_id, occurred_at, received_at, payload";

fn read_event(row: &Row<'_>) -> StoreResult<InboundEventRecord> {
    let contact: Option<String> = row.get(4).map_err(db_err)?;
    let payload: String = row.get(8).map_err(db_err)?;
    Ok(InboundEventRecord {
        id: parse_id(&row.get::<_, String>(0).map_err(db_err)?, "event id")?,
        provider: row.get(1).map_err(db_err)?,
        provider_event_id: row.get(2).map_err(db_err)?,
        kind: row.get(3).map_err(db_err)?,
        contact_id: contact
            .map(|c| parse_id(&c, "event contact id"))
            .transpose()?,
        rfc_message_id: row.get(5).map_err(db_err)?,
        occurred_at: from_micros(row.get(6).map_err(db_err)?)?,
        received_at: from_micros(row.get(7).map_err(db_err)?)?,
        payload: serde_json::from_str(&payload)
            .map_err(|_| StoreError::corrupt("event payload"))?,
    })
}

const ESCALATION_COLUMNS: &str = "id, contact_id, stage, rule_id, reason, priority, assignee, due_at, resolution, created_at, resolved_at";

pub(crate) fn read_escalation(row: &Row<'_>) -> StoreResult<Escalation> {
    let contact: Option<String> = row.get(1).map_err(db_err)?;
    let stage: String = row.get(2).map_err(db_err)?;
    let priority: String = row.get(5).map_err(db_err)?;
    let assignee: Option<String> = row.get(6).map_err(db_err)?;
    Ok(Escalation {
        id: parse_id(&row.get::<_, String>(0).map_err(db_err)?, "escalation id")?,
        contact_id: contact.map(|c| parse_id(&c, "contact id")).transpose()?,
        stage: stage
            .parse()
            .map_err(|_| StoreError::corrupt("escalation stage"))?,
        rule_id: row.get(3).map_err(db_err)?,
        reason: row.get(4).map_err(db_err)?,
        priority: priority
            .parse()
            .map_err(|_| StoreError::corrupt("escalation priority"))?,
        assignee: assignee
            .map(|a| Username::parse(&a))
            .transpose()
            .map_err(|_| StoreError::corrupt("escalation assignee"))?,
        due_at: opt_micros(row.get(7).map_err(db_err)?)?,
        resolution: row.get(8).map_err(db_err)?,
        created_at: from_micros(row.get(9).map_err(db_err)?)?,
        resolved_at: opt_micros(row.get(10).map_err(db_err)?)?,
    })
}

/// Opens an escalation inside the caller's transaction, with its ledger
/// entry. `context` carries what a kind of escalation needs (e.g. the
/// sequence a list-building approval is for).
pub(crate) fn insert_escalation(
    tx: &rusqlite::Transaction<'_>,
    ctx: &CommandContext,
    escalation: &NewEscalation,
    context: &serde_json::Value,
) -> StoreResult<Escalation> {
    let created = Escalation {
        id: EscalationId::new(),
        contact_id: escalation.contact_id,
        stage: escalation.stage,
        rule_id: escalation.rule_id.clone(),
        reason: escalation.reason.clone(),
        priority: escalation.priority,
        assignee: escalation.assignee.clone(),
        due_at: escalation.due_at,
        resolution: None,
        created_at: ctx.now,
        resolved_at: None,
    };
    tx.execute(
        "INSERT INTO escalations (id, contact_id, stage, rule_id, reason, priority, assignee, due_at, state, context, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, 'open', ?9, ?10)",
        params![
            created.id.to_string(),
            created.contact_id.map(|c| c.to_string()),
            created.stage.as_str(),
            created.rule_id,
            created.reason,
            created.priority.as_str(),
            created.assignee.as_ref().map(|a| a.as_str()),
            created.due_at.map(micros),
            context.to_string(),
            micros(ctx.now),
        ],
    )
    .map_err(|e| {
        if e.to_string().contains("FOREIGN KEY") {
            StoreError::NotFound {
                what: "the escalation's contact or assignee".into(),
            }
        } else {
            db_err(e)
        }
    })?;
    insert_entry(
        tx,
        ctx,
        &Event::EscalationOpened {
            escalation_id: created.id,
            contact_id: created.contact_id,
            stage: created.stage,
            rule_id: created.rule_id.clone(),
            reason: created.reason.clone(),
            priority: created.priority,
            assignee: created.assignee.as_ref().map(|a| a.to_string()),
        },
    )?;
    Ok(created)
}

#[async_trait]
impl Escalations for SqliteStore {
    async fn open_escalation(
        &self,
        ctx: &CommandContext,
        escalation: &NewEscalation,
    ) -> StoreResult<Escalation> {
        self.write(|tx| insert_escalation(tx, ctx, escalation, &serde_json::json!({})))
    }

    async fn resolve_escalation(
        &self,
        ctx: &CommandContext,
        id: EscalationId,
        resolution: &str,
    ) -> StoreResult<Escalation> {
        self.write(|tx| {
            let changed = tx
                .execute(
                    "UPDATE escalations SET state = 'resolved', resolution = ?1, resolved_at = ?2 WHERE id = ?3 AND state = 'open'",
                    params![resolution, micros(ctx.now), id.to_string()],
                )
                .map_err(db_err)?;
            if changed == 0 {
                return Err(StoreError::NotFound {
                    what: format!("an open escalation {id}"),
                });
            }
            let escalation = tx
                .query_row(
                    &format!("SELECT {ESCALATION_COLUMNS} FROM escalations WHERE id = ?1"),
                    [id.to_string()],
                    |row| Ok(read_escalation(row)),
                )
                .map_err(db_err)??;
            insert_entry(
                tx,
                ctx,
                &Event::EscalationResolved {
                    escalation_id: id,
                    contact_id: escalation.contact_id,
                    resolution: resolution.to_string(),
                },
            )?;
            Ok(escalation)
        })
    }

    async fn list_open_escalations(
        &self,
        assignee: Option<&Username>,
    ) -> StoreResult<Vec<Escalation>> {
        let conn = self.reader();
        let mut stmt = conn
            .prepare_cached(&format!(
                "SELECT {ESCALATION_COLUMNS} FROM escalations
                 WHERE state = 'open' AND (?1 IS NULL OR assignee = ?1)
                 ORDER BY CASE priority WHEN 'urgent' THEN 0 WHEN 'high' THEN 1 WHEN 'normal' THEN 2 ELSE 3 END,
                          due_at IS NULL, due_at, created_at"
            ))
            .map_err(db_err)?;
        let mut rows = stmt.query([assignee.map(|a| a.as_str())]).map_err(db_err)?;
        let mut out = Vec::new();
        while let Some(row) = rows.next().map_err(db_err)? {
            out.push(read_escalation(row)?);
        }
        Ok(out)
    }

    async fn escalations_for(&self, contact: ContactId) -> StoreResult<Vec<Escalation>> {
        let conn = self.reader();
        let mut stmt = conn
            .prepare_cached(&format!(
                "SELECT {ESCALATION_COLUMNS} FROM escalations WHERE contact_id = ?1 ORDER BY created_at, id"
            ))
            .map_err(db_err)?;
        let mut rows = stmt.query([contact.to_string()]).map_err(db_err)?;
        let mut out = Vec::new();
        while let Some(row) = rows.next().map_err(db_err)? {
            out.push(read_escalation(row)?);
        }
        Ok(out)
    }
}

fn read_pending(row: &Row<'_>) -> StoreResult<handoff_store::PendingApproval> {
    let escalation = read_escalation(row)?;
    let context: String = row.get(11).map_err(db_err)?;
    let context: serde_json::Value =
        serde_json::from_str(&context).map_err(|_| StoreError::corrupt("escalation context"))?;
    let sequence = context
        .get("sequence")
        .and_then(|s| s.as_str())
        .ok_or_else(|| StoreError::corrupt("approval without a sequence"))?
        .to_string();
    Ok(handoff_store::PendingApproval {
        escalation,
        sequence,
    })
}

#[async_trait]
impl handoff_store::Approvals for SqliteStore {
    async fn request_approval(
        &self,
        ctx: &CommandContext,
        contact: ContactId,
        sequence: &str,
        rule_id: &str,
        reason: &str,
        assignee: Option<&Username>,
    ) -> StoreResult<handoff_store::PendingApproval> {
        self.write(|tx| {
            let existing = tx
                .query_row(
                    &format!(
                        "SELECT {ESCALATION_COLUMNS}, context FROM escalations
                         WHERE stage = 'list_building' AND state = 'open' AND contact_id = ?1
                           AND json_extract(context, '$.sequence') = ?2"
                    ),
                    params![contact.to_string(), sequence],
                    |row| Ok(read_pending(row)),
                )
                .optional()
                .map_err(db_err)?
                .transpose()?;
            if let Some(existing) = existing {
                return Ok(existing);
            }
            let escalation = insert_escalation(
                tx,
                ctx,
                &NewEscalation {
                    contact_id: Some(contact),
                    stage: handoff_domain::escalation::Stage::ListBuilding,
                    rule_id: rule_id.to_string(),
                    reason: reason.to_string(),
                    priority: handoff_domain::escalation::Priority::Normal,
                    assignee: assignee.cloned(),
                    due_at: None,
                },
                &serde_json::json!({ "sequence": sequence }),
            )?;
            Ok(handoff_store::PendingApproval {
                escalation,
                sequence: sequence.to_string(),
            })
        })
    }

    async fn pending_approvals(
        &self,
        assignee: Option<&Username>,
    ) -> StoreResult<Vec<handoff_store::PendingApproval>> {
        let conn = self.reader();
        let mut stmt = conn
            .prepare_cached(&format!(
                "SELECT {ESCALATION_COLUMNS}, context FROM escalations
                 WHERE stage = 'list_building' AND state = 'open' AND (?1 IS NULL OR assignee = ?1)
                 ORDER BY created_at, id"
            ))
            .map_err(db_err)?;
        let mut rows = stmt.query([assignee.map(|a| a.as_str())]).map_err(db_err)?;
        let mut out = Vec::new();
        while let Some(row) = rows.next().map_err(db_err)? {
            out.push(read_pending(row)?);
        }
        Ok(out)
    }

    async fn decide_approval(
        &self,
        ctx: &CommandContext,
        id: EscalationId,
        decision: &handoff_store::ApprovalDecision,
    ) -> StoreResult<Option<Enrollment>> {
        self.write(|tx| {
            let pending = tx
                .query_row(
                    &format!(
                        "SELECT {ESCALATION_COLUMNS}, context FROM escalations
                         WHERE id = ?1 AND stage = 'list_building' AND state = 'open'"
                    ),
                    [id.to_string()],
                    |row| Ok(read_pending(row)),
                )
                .optional()
                .map_err(db_err)?
                .transpose()?
                .ok_or_else(|| StoreError::NotFound {
                    what: format!("an open approval {id}"),
                })?;
            let contact = pending
                .escalation
                .contact_id
                .ok_or_else(|| StoreError::corrupt("approval without a contact"))?;
            let (resolution, enrollment) = match decision {
                handoff_store::ApprovalDecision::Approve { allow_risky } => {
                    insert_entry(
                        tx,
                        ctx,
                        &Event::EnrollmentApproved {
                            escalation_id: id,
                            contact_id: contact,
                            sequence: pending.sequence.clone(),
                        },
                    )?;
                    let enrollment = enroll_in(tx, ctx, contact, &pending.sequence, *allow_risky)?;
                    ("approved".to_string(), Some(enrollment))
                }
                handoff_store::ApprovalDecision::Reject { reason } => {
                    insert_entry(
                        tx,
                        ctx,
                        &Event::EnrollmentRejected {
                            escalation_id: id,
                            contact_id: contact,
                            sequence: pending.sequence.clone(),
                            reason: reason.clone(),
                        },
                    )?;
                    (format!("rejected: {reason}"), None)
                }
            };
            tx.execute(
                "UPDATE escalations SET state = 'resolved', resolution = ?1, resolved_at = ?2 WHERE id = ?3",
                params![resolution, micros(ctx.now), id.to_string()],
            )
            .map_err(db_err)?;
            insert_entry(
                tx,
                ctx,
                &Event::EscalationResolved {
                    escalation_id: id,
                    contact_id: Some(contact),
                    resolution,
                },
            )?;
            Ok(enrollment)
        })
    }
}
