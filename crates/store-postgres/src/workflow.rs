//! Imports, enrolments, messages, inbound events and escalations on
//! PostgreSQL. Each write appends its ledger entry in the same transaction.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::Row;
use sqlx::postgres::PgRow;
use uuid::Uuid;

use handoff_domain::enrollment::{EnrollmentState, StopReason};
use handoff_domain::users::Username;
use handoff_domain::{ContactId, EnrollmentId, EscalationId, Event, ImportId, InboundEventId};
use handoff_store::{
    CommandContext, Enrollment, Enrollments, Escalation, Escalations, ImportCounts, ImportRecord,
    Imports, InboundEventRecord, InboundEvents, NewEscalation, NewImport, NewInboundEvent,
    Recorded, StoreError, StoreResult,
};

use crate::rows::{conflict_or, db_err, is_code};
use crate::{PostgresStore, insert_entry};

pub(crate) fn fk_or(e: sqlx::Error, what: impl FnOnce() -> String) -> StoreError {
    if is_code(&e, "23503") {
        StoreError::NotFound { what: what() }
    } else {
        db_err(e)
    }
}

fn read_import(row: &PgRow) -> StoreResult<ImportRecord> {
    let count = |c: &str| -> StoreResult<u64> {
        Ok(row.try_get::<i32, _>(c).map_err(db_err)?.max(0) as u64)
    };
    Ok(ImportRecord {
        id: ImportId::from_uuid(row.try_get("id").map_err(db_err)?),
        file_name: row.try_get("file_name").map_err(db_err)?,
        format: row.try_get("format").map_err(db_err)?,
        content_sha256: row.try_get("content_sha256").map_err(db_err)?,
        created_by: row.try_get("created_by").map_err(db_err)?,
        started_at: row.try_get("started_at").map_err(db_err)?,
        finished_at: row.try_get("finished_at").map_err(db_err)?,
        counts: ImportCounts {
            rows_total: count("rows_total")?,
            imported: count("imported")?,
            merged: count("merged")?,
            rejected: count("rejected")?,
        },
    })
}

#[async_trait]
impl Imports for PostgresStore {
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
        let mut tx = self.pool().begin().await.map_err(db_err)?;
        sqlx::query(
            "INSERT INTO imports (id, file_name, format, content_sha256, created_by, started_at) VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(record.id.as_uuid())
        .bind(&record.file_name)
        .bind(&record.format)
        .bind(&record.content_sha256)
            .bind(&record.created_by)
            .bind(ctx.now)
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
        insert_entry(
            &mut tx,
            ctx,
            &Event::ImportStarted {
                import_id: record.id,
                file_name: record.file_name.clone(),
                format: record.format.clone(),
            },
        )
        .await?;
        tx.commit().await.map_err(db_err)?;
        Ok(record)
    }

    async fn finish_import(
        &self,
        ctx: &CommandContext,
        id: ImportId,
        counts: &ImportCounts,
    ) -> StoreResult<ImportRecord> {
        let mut tx = self.pool().begin().await.map_err(db_err)?;
        let row = sqlx::query(
            "UPDATE imports SET finished_at = $1, rows_total = $2, imported = $3, merged = $4, rejected = $5
             WHERE id = $6 AND finished_at IS NULL RETURNING *",
        )
        .bind(ctx.now)
        .bind(counts.rows_total as i32)
        .bind(counts.imported as i32)
        .bind(counts.merged as i32)
        .bind(counts.rejected as i32)
        .bind(id.as_uuid())
        .fetch_optional(&mut *tx)
        .await
        .map_err(db_err)?
        .ok_or_else(|| StoreError::NotFound {
            what: format!("an unfinished import {id}"),
        })?;
        let record = read_import(&row)?;
        insert_entry(
            &mut tx,
            ctx,
            &Event::ImportFinished {
                import_id: id,
                rows_total: counts.rows_total,
                imported: counts.imported,
                merged: counts.merged,
                rejected: counts.rejected,
            },
        )
        .await?;
        tx.commit().await.map_err(db_err)?;
        Ok(record)
    }

    async fn import_batch(
        &self,
        ctx: &CommandContext,
        source: &handoff_store::import_plan::ImportSource,
        rows: &[handoff_store::import_plan::ImportRow],
    ) -> StoreResult<handoff_store::import_plan::BatchOutcome> {
        self.import_batch_tx(ctx, source, rows).await
    }

    async fn find_import_by_content(&self, sha256: &str) -> StoreResult<Option<ImportRecord>> {
        let row = sqlx::query(
            "SELECT * FROM imports WHERE content_sha256 = $1 AND finished_at IS NOT NULL ORDER BY started_at LIMIT 1",
        )
        .bind(sha256)
        .fetch_optional(self.pool())
        .await
        .map_err(db_err)?;
        row.as_ref().map(read_import).transpose()
    }

    async fn get_import(&self, id: ImportId) -> StoreResult<Option<ImportRecord>> {
        let row = sqlx::query("SELECT * FROM imports WHERE id = $1")
            .bind(id.as_uuid())
            .fetch_optional(self.pool())
            .await
            .map_err(db_err)?;
        row.as_ref().map(read_import).transpose()
    }
}

fn read_enrollment(row: &PgRow) -> StoreResult<Enrollment> {
    let state: String = row.try_get("state").map_err(db_err)?;
    let reason: Option<String> = row.try_get("stop_reason").map_err(db_err)?;
    let reason = match reason {
        Some(r) => Some(
            serde_json::from_value::<StopReason>(serde_json::Value::String(r))
                .map_err(|_| StoreError::corrupt("enrollment stop reason"))?,
        ),
        None => None,
    };
    Ok(Enrollment {
        id: EnrollmentId::from_uuid(row.try_get("id").map_err(db_err)?),
        contact_id: ContactId::from_uuid(row.try_get("contact_id").map_err(db_err)?),
        sequence: row.try_get("sequence").map_err(db_err)?,
        state: EnrollmentState::from_parts(&state, reason)
            .ok_or_else(|| StoreError::corrupt("enrollment state"))?,
        current_step: row
            .try_get::<i32, _>("current_step")
            .map_err(db_err)?
            .max(0) as u32,
        created_at: row.try_get("created_at").map_err(db_err)?,
    })
}

/// Enrols inside the caller's transaction, behind the verification gate.
pub(crate) async fn enroll_in(
    tx: &mut sqlx::Transaction<'_, sqlx::Postgres>,
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
    // FOR SHARE: a verification recorded while we enrol waits for us.
    let status: Option<(Option<String>, Option<String>)> = sqlx::query_as(
        "SELECT verification_status, verification_reason FROM contacts WHERE id = $1 FOR SHARE",
    )
    .bind(contact.as_uuid())
    .fetch_optional(&mut **tx)
    .await
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
    sqlx::query(
        "INSERT INTO enrollments (id, contact_id, sequence, state, current_step, created_at, updated_at)
         VALUES ($1, $2, $3, 'active', 0, $4, $4)",
    )
    .bind(enrollment.id.as_uuid())
    .bind(contact.as_uuid())
    .bind(sequence)
    .bind(ctx.now)
    .execute(&mut **tx)
    .await
    .map_err(|e| {
        if is_code(&e, "23503") {
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
        )
        .await?;
    }
    insert_entry(
        tx,
        ctx,
        &Event::Enrolled {
            enrollment_id: enrollment.id,
            contact_id: contact,
            sequence: sequence.to_string(),
        },
    )
    .await?;
    Ok(enrollment)
}

/// Stops every active or paused enrolment of the contact inside the
/// caller's transaction, the contact row locked first; returns how many.
pub(crate) async fn stop_in(
    tx: &mut sqlx::Transaction<'_, sqlx::Postgres>,
    ctx: &CommandContext,
    contact: ContactId,
    reason: StopReason,
) -> StoreResult<u64> {
    // The contact row is the lock every claim takes (FOR SHARE): a claim
    // either sees this stop or commits before it (DESIGN.md §4.2).
    sqlx::query("SELECT 1 FROM contacts WHERE id = $1 FOR UPDATE")
        .bind(contact.as_uuid())
        .execute(&mut **tx)
        .await
        .map_err(db_err)?;
    let rows = sqlx::query(
        "SELECT * FROM enrollments WHERE contact_id = $1 AND state IN ('active', 'paused') FOR UPDATE",
    )
    .bind(contact.as_uuid())
    .fetch_all(&mut **tx)
    .await
    .map_err(db_err)?;
    let open = rows
        .iter()
        .map(read_enrollment)
        .collect::<StoreResult<Vec<_>>>()?;
    for enrollment in &open {
        let next = enrollment
            .state
            .stop(reason)
            .map_err(|e| StoreError::Database(e.to_string()))?;
        sqlx::query(
            "UPDATE enrollments SET state = $1, stop_reason = $2, updated_at = $3 WHERE id = $4",
        )
        .bind(next.name())
        .bind(reason.as_str())
        .bind(ctx.now)
        .bind(enrollment.id.as_uuid())
        .execute(&mut **tx)
        .await
        .map_err(db_err)?;
        insert_entry(
            tx,
            ctx,
            &Event::EnrollmentStopped {
                enrollment_id: enrollment.id,
                contact_id: contact,
                reason,
            },
        )
        .await?;
    }
    Ok(open.len() as u64)
}

#[async_trait]
impl Enrollments for PostgresStore {
    async fn enroll(
        &self,
        ctx: &CommandContext,
        contact: ContactId,
        sequence: &str,
        allow_risky: bool,
    ) -> StoreResult<Enrollment> {
        let mut tx = self.pool().begin().await.map_err(db_err)?;
        let enrollment = enroll_in(&mut tx, ctx, contact, sequence, allow_risky).await?;
        tx.commit().await.map_err(db_err)?;
        Ok(enrollment)
    }

    async fn stop_enrollments(
        &self,
        ctx: &CommandContext,
        contact: ContactId,
        reason: StopReason,
    ) -> StoreResult<u64> {
        let mut tx = self.pool().begin().await.map_err(db_err)?;
        let stopped = stop_in(&mut tx, ctx, contact, reason).await?;
        tx.commit().await.map_err(db_err)?;
        Ok(stopped)
    }

    async fn list_enrollments(&self, contact: ContactId) -> StoreResult<Vec<Enrollment>> {
        let rows =
            sqlx::query("SELECT * FROM enrollments WHERE contact_id = $1 ORDER BY created_at, id")
                .bind(contact.as_uuid())
                .fetch_all(self.pool())
                .await
                .map_err(db_err)?;
        rows.iter().map(read_enrollment).collect()
    }

    async fn awaiting_draft(
        &self,
        after: Option<EnrollmentId>,
        limit: u32,
    ) -> StoreResult<Vec<Enrollment>> {
        let rows = sqlx::query(
            "SELECT e.* FROM enrollments e
              WHERE e.state = 'active' AND ($1::uuid IS NULL OR e.id > $1)
                AND NOT EXISTS (
                    SELECT 1 FROM drafts d
                     WHERE d.enrollment_id = e.id AND d.step_index = e.current_step
                       AND d.review_state NOT IN ('rejected', 'expired'))
              ORDER BY e.id LIMIT $2",
        )
        .bind(after.map(|id| id.as_uuid()))
        .bind(i64::from(limit))
        .fetch_all(self.pool())
        .await
        .map_err(db_err)?;
        rows.iter().map(read_enrollment).collect()
    }
}

#[async_trait]
impl InboundEvents for PostgresStore {
    async fn record_event(
        &self,
        ctx: &CommandContext,
        event: &NewInboundEvent,
    ) -> StoreResult<Recorded> {
        let id = InboundEventId::new();
        let mut tx = self.pool().begin().await.map_err(db_err)?;
        let inserted: Option<Uuid> = sqlx::query_scalar(
            "INSERT INTO events (id, provider, provider_event_id, kind, contact_id, rfc_message_id, occurred_at, received_at, payload)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
             ON CONFLICT (provider, provider_event_id) DO NOTHING RETURNING id",
        )
        .bind(id.as_uuid())
        .bind(&event.provider)
        .bind(&event.provider_event_id)
        .bind(&event.kind)
        .bind(event.contact_id.map(|c| c.as_uuid()))
        .bind(&event.rfc_message_id)
        .bind(event.occurred_at)
        .bind(ctx.now)
        .bind(&event.payload)
        .fetch_optional(&mut *tx)
        .await
        .map_err(|e| fk_or(e, || "the event's contact".into()))?;
        if inserted.is_none() {
            let existing: Uuid = sqlx::query_scalar(
                "SELECT id FROM events WHERE provider = $1 AND provider_event_id = $2",
            )
            .bind(&event.provider)
            .bind(&event.provider_event_id)
            .fetch_one(&mut *tx)
            .await
            .map_err(db_err)?;
            return Ok(Recorded::Duplicate(InboundEventId::from_uuid(existing)));
        }
        insert_entry(
            &mut tx,
            ctx,
            &Event::InboundEventRecorded {
                event_id: id,
                provider: event.provider.clone(),
                kind: event.kind.clone(),
                contact_id: event.contact_id,
            },
        )
        .await?;
        // A bounce or complaint may trip a circuit breaker, in this
        // transaction.
        crate::scheduling::judge_report(
            &mut tx,
            ctx,
            &event.kind,
            event.rfc_message_id.as_deref(),
            event.contact_id,
        )
        .await?;
        tx.commit().await.map_err(db_err)?;
        Ok(Recorded::New(id))
    }

    async fn list_events(
        &self,
        since: Option<DateTime<Utc>>,
        after: Option<InboundEventId>,
        limit: u32,
    ) -> StoreResult<Vec<InboundEventRecord>> {
        // Bounds rather than `$1 IS NULL OR ...`, so both stay index
        // conditions in a generic plan.
        let rows = sqlx::query(
            "SELECT * FROM events
             WHERE id > coalesce($1, '00000000-0000-0000-0000-000000000000'::uuid)
               AND received_at >= coalesce($2, '-infinity'::timestamptz)
             ORDER BY id LIMIT $3",
        )
        .bind(after.map(|a| a.as_uuid()))
        .bind(since)
        .bind(i64::from(limit))
        .fetch_all(self.pool())
        .await
        .map_err(db_err)?;
        rows.iter().map(read_event).collect()
    }
}

fn read_event(row: &PgRow) -> StoreResult<InboundEventRecord> {
    Ok(InboundEventRecord {
        id: InboundEventId::from_uuid(row.try_get("id").map_err(db_err)?),
        provider: row.try_get("provider").map_err(db_err)?,
        provider_event_id: row.try_get("provider_event_id").map_err(db_err)?,
        kind: row.try_get("kind").map_err(db_err)?,
        contact_id: row
            .try_get::<Option<Uuid>, _>("contact_id")
            .map_err(db_err)?
            .map(ContactId::from_uuid),
        rfc_message_id: row.try_get("rfc_message_id").map_err(db_err)?,
        occurred_at: row.try_get("occurred_at").map_err(db_err)?,
        received_at: row.try_get("received_at").map_err(db_err)?,
        payload: row.try_get("payload").map_err(db_err)?,
    })
}

pub(crate) fn read_escalation(row: &PgRow) -> StoreResult<Escalation> {
    let stage: String = row.try_get("stage").map_err(db_err)?;
    let priority: String = row.try_get("priority").map_err(db_err)?;
    let assignee: Option<String> = row.try_get("assignee").map_err(db_err)?;
    Ok(Escalation {
        id: EscalationId::from_uuid(row.try_get("id").map_err(db_err)?),
        contact_id: row
            .try_get::<Option<Uuid>, _>("contact_id")
            .map_err(db_err)?
            .map(ContactId::from_uuid),
        stage: stage
            .parse()
            .map_err(|_| StoreError::corrupt("escalation stage"))?,
        rule_id: row.try_get("rule_id").map_err(db_err)?,
        reason: row.try_get("reason").map_err(db_err)?,
        priority: priority
            .parse()
            .map_err(|_| StoreError::corrupt("escalation priority"))?,
        assignee: assignee
            .map(|a| Username::parse(&a))
            .transpose()
            .map_err(|_| StoreError::corrupt("escalation assignee"))?,
        due_at: row
            .try_get::<Option<DateTime<Utc>>, _>("due_at")
            .map_err(db_err)?,
        resolution: row.try_get("resolution").map_err(db_err)?,
        created_at: row.try_get("created_at").map_err(db_err)?,
        resolved_at: row.try_get("resolved_at").map_err(db_err)?,
    })
}

/// Opens an escalation inside the caller's transaction, with its ledger
/// entry. `context` carries what a kind of escalation needs (e.g. the
/// sequence a list-building approval is for).
pub(crate) async fn insert_escalation(
    tx: &mut sqlx::Transaction<'_, sqlx::Postgres>,
    ctx: &CommandContext,
    escalation: &NewEscalation,
    context: serde_json::Value,
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
    sqlx::query(
        "INSERT INTO escalations (id, contact_id, stage, rule_id, reason, priority, assignee, due_at, state, context, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'open', $9, $10)",
    )
    .bind(created.id.as_uuid())
    .bind(created.contact_id.map(|c| c.as_uuid()))
    .bind(created.stage.as_str())
    .bind(&created.rule_id)
    .bind(&created.reason)
    .bind(created.priority.as_str())
    .bind(created.assignee.as_ref().map(|a| a.as_str()))
    .bind(created.due_at)
    .bind(context)
    .bind(ctx.now)
    .execute(&mut **tx)
    .await
    .map_err(|e| fk_or(e, || "the escalation's contact or assignee".into()))?;
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
    )
    .await?;
    Ok(created)
}

#[async_trait]
impl Escalations for PostgresStore {
    async fn open_escalation(
        &self,
        ctx: &CommandContext,
        escalation: &NewEscalation,
    ) -> StoreResult<Escalation> {
        let mut tx = self.pool().begin().await.map_err(db_err)?;
        let created = insert_escalation(&mut tx, ctx, escalation, serde_json::json!({})).await?;
        tx.commit().await.map_err(db_err)?;
        Ok(created)
    }

    async fn resolve_escalation(
        &self,
        ctx: &CommandContext,
        id: EscalationId,
        resolution: &str,
    ) -> StoreResult<Escalation> {
        let mut tx = self.pool().begin().await.map_err(db_err)?;
        let row = sqlx::query(
            "UPDATE escalations SET state = 'resolved', resolution = $1, resolved_at = $2
             WHERE id = $3 AND state = 'open' RETURNING *",
        )
        .bind(resolution)
        .bind(ctx.now)
        .bind(id.as_uuid())
        .fetch_optional(&mut *tx)
        .await
        .map_err(db_err)?
        .ok_or_else(|| StoreError::NotFound {
            what: format!("an open escalation {id}"),
        })?;
        let escalation = read_escalation(&row)?;
        insert_entry(
            &mut tx,
            ctx,
            &Event::EscalationResolved {
                escalation_id: id,
                contact_id: escalation.contact_id,
                resolution: resolution.to_string(),
            },
        )
        .await?;
        tx.commit().await.map_err(db_err)?;
        Ok(escalation)
    }

    async fn list_open_escalations(
        &self,
        assignee: Option<&Username>,
    ) -> StoreResult<Vec<Escalation>> {
        let rows = sqlx::query(
            "SELECT * FROM escalations
             WHERE state = 'open' AND ($1::text IS NULL OR assignee = $1)
             ORDER BY CASE priority WHEN 'urgent' THEN 0 WHEN 'high' THEN 1 WHEN 'normal' THEN 2 ELSE 3 END,
                      due_at IS NULL, due_at, created_at",
        )
        .bind(assignee.map(|a| a.as_str()))
        .fetch_all(self.pool())
        .await
        .map_err(db_err)?;
        rows.iter().map(read_escalation).collect()
    }

    async fn escalations_for(&self, contact: ContactId) -> StoreResult<Vec<Escalation>> {
        let rows =
            sqlx::query("SELECT * FROM escalations WHERE contact_id = $1 ORDER BY created_at, id")
                .bind(contact.as_uuid())
                .fetch_all(self.pool())
                .await
                .map_err(db_err)?;
        rows.iter().map(read_escalation).collect()
    }
}

fn read_pending(row: &PgRow) -> StoreResult<handoff_store::PendingApproval> {
    let escalation = read_escalation(row)?;
    let context: serde_json::Value = row.try_get("context").map_err(db_err)?;
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
impl handoff_store::Approvals for PostgresStore {
    async fn request_approval(
        &self,
        ctx: &CommandContext,
        contact: ContactId,
        sequence: &str,
        rule_id: &str,
        reason: &str,
        assignee: Option<&Username>,
    ) -> StoreResult<handoff_store::PendingApproval> {
        let mut tx = self.pool().begin().await.map_err(db_err)?;
        // Serialise requests for one contact so two enrol runs cannot both
        // open a request.
        sqlx::query("SELECT 1 FROM contacts WHERE id = $1 FOR UPDATE")
            .bind(contact.as_uuid())
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
        let existing = sqlx::query(
            "SELECT * FROM escalations WHERE stage = 'list_building' AND state = 'open' AND contact_id = $1
               AND context->>'sequence' = $2",
        )
        .bind(contact.as_uuid())
        .bind(sequence)
        .fetch_optional(&mut *tx)
        .await
        .map_err(db_err)?;
        if let Some(row) = existing {
            return read_pending(&row);
        }
        let escalation = insert_escalation(
            &mut tx,
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
            serde_json::json!({ "sequence": sequence }),
        )
        .await?;
        tx.commit().await.map_err(db_err)?;
        Ok(handoff_store::PendingApproval {
            escalation,
            sequence: sequence.to_string(),
        })
    }

    async fn pending_approvals(
        &self,
        assignee: Option<&Username>,
    ) -> StoreResult<Vec<handoff_store::PendingApproval>> {
        let rows = sqlx::query(
            "SELECT * FROM escalations WHERE stage = 'list_building' AND state = 'open'
               AND ($1::text IS NULL OR assignee = $1) ORDER BY created_at, id",
        )
        .bind(assignee.map(|a| a.as_str()))
        .fetch_all(self.pool())
        .await
        .map_err(db_err)?;
        rows.iter().map(read_pending).collect()
    }

    async fn decide_approval(
        &self,
        ctx: &CommandContext,
        id: EscalationId,
        decision: &handoff_store::ApprovalDecision,
    ) -> StoreResult<Option<Enrollment>> {
        let mut tx = self.pool().begin().await.map_err(db_err)?;
        let row = sqlx::query(
            "SELECT * FROM escalations WHERE id = $1 AND stage = 'list_building' AND state = 'open' FOR UPDATE",
        )
        .bind(id.as_uuid())
        .fetch_optional(&mut *tx)
        .await
        .map_err(db_err)?
        .ok_or_else(|| StoreError::NotFound {
            what: format!("an open approval {id}"),
        })?;
        let pending = read_pending(&row)?;
        let contact = pending
            .escalation
            .contact_id
            .ok_or_else(|| StoreError::corrupt("approval without a contact"))?;
        let (resolution, enrollment) = match decision {
            handoff_store::ApprovalDecision::Approve { allow_risky } => {
                insert_entry(
                    &mut tx,
                    ctx,
                    &Event::EnrollmentApproved {
                        escalation_id: id,
                        contact_id: contact,
                        sequence: pending.sequence.clone(),
                    },
                )
                .await?;
                let enrollment =
                    enroll_in(&mut tx, ctx, contact, &pending.sequence, *allow_risky).await?;
                ("approved".to_string(), Some(enrollment))
            }
            handoff_store::ApprovalDecision::Reject { reason } => {
                insert_entry(
                    &mut tx,
                    ctx,
                    &Event::EnrollmentRejected {
                        escalation_id: id,
                        contact_id: contact,
                        sequence: pending.sequence.clone(),
                        reason: reason.clone(),
                    },
                )
                .await?;
                (format!("rejected: {reason}"), None)
            }
        };
        sqlx::query("UPDATE escalations SET state = 'resolved', resolution = $1, resolved_at = $2 WHERE id = $3")
            .bind(&resolution)
            .bind(ctx.now)
            .bind(id.as_uuid())
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
        insert_entry(
            &mut tx,
            ctx,
            &Event::EscalationResolved {
                escalation_id: id,
                contact_id: Some(contact),
                resolution,
            },
        )
        .await?;
        tx.commit().await.map_err(db_err)?;
        Ok(enrollment)
    }
}
