//! Drafts on PostgreSQL: creation, evaluations, reviews, sends, and the
//! figures replays and graduation read from them. Each write locks the
//! draft's row and appends its ledger entry in the same transaction; the
//! rules on what may change are `DraftRecord`'s, shared with SQLite.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::postgres::PgRow;
use sqlx::{PgConnection, Row};
use uuid::Uuid;

use handoff_domain::users::Username;
use handoff_domain::{ContactId, DraftId, EnrollmentId, Event, LedgerEntryId};
use handoff_store::{
    ACCEPTANCE_EDIT_DISTANCE, AuthorKind, CommandContext, Demotion, Draft, DraftEvaluation,
    DraftRecord, DraftReview, Drafts, Ledger, LedgerEntry, NewDemotion, NewDraft, NewEscalation,
    RecordedEvaluation, SequenceTypeStats, StoreError, StoreResult, to_micros,
};

use crate::rows::{db_err, is_code, read_ledger_entry};
use crate::workflow::{fk_or, insert_escalation};
use crate::{PostgresStore, insert_entry};

const LEDGER_COLUMNS: &str = "id, at, actor_kind, actor_name, kind, contact_id, account_id, user_id, job_id, policy_version, payload";

fn read_record(row: &PgRow) -> StoreResult<DraftRecord> {
    let author: String = row.try_get("author_kind").map_err(db_err)?;
    let reviewed_by: Option<String> = row.try_get("reviewed_by").map_err(db_err)?;
    let draft = Draft {
        id: DraftId::from_uuid(row.try_get("id").map_err(db_err)?),
        contact_id: ContactId::from_uuid(row.try_get("contact_id").map_err(db_err)?),
        enrollment_id: row
            .try_get::<Option<Uuid>, _>("enrollment_id")
            .map_err(db_err)?
            .map(EnrollmentId::from_uuid),
        step_index: row.try_get::<i32, _>("step_index").map_err(db_err)?.max(0) as u32,
        author: AuthorKind::parse(&author).ok_or_else(|| StoreError::corrupt("draft author"))?,
        subject: row.try_get("subject").map_err(db_err)?,
        body: row.try_get("body").map_err(db_err)?,
        grounding: row.try_get("grounding").map_err(db_err)?,
        confidence: row.try_get("confidence").map_err(db_err)?,
        review_state: row.try_get("review_state").map_err(db_err)?,
        policy_version: row.try_get("policy_version").map_err(db_err)?,
        created_at: row.try_get("created_at").map_err(db_err)?,
        step_kind: row.try_get("step_kind").map_err(db_err)?,
        drafter: row.try_get("drafter").map_err(db_err)?,
    };
    Ok(DraftRecord {
        draft,
        sequence_type: row.try_get("sequence_type").map_err(db_err)?,
        verdict: row.try_get("verdict").map_err(db_err)?,
        findings: row.try_get("findings").map_err(db_err)?,
        evaluation: row.try_get("evaluation").map_err(db_err)?,
        context: row.try_get("evaluation_context").map_err(db_err)?,
        evaluated_under: row.try_get("evaluated_under").map_err(db_err)?,
        evaluated_at: row.try_get("evaluated_at").map_err(db_err)?,
        review_deadline: row.try_get("review_deadline").map_err(db_err)?,
        reviewed_by: reviewed_by
            .map(|u| Username::parse(&u))
            .transpose()
            .map_err(|_| StoreError::corrupt("draft reviewer"))?,
        reviewed_at: row.try_get("reviewed_at").map_err(db_err)?,
        final_subject: row.try_get("final_subject").map_err(db_err)?,
        final_body: row.try_get("final_body").map_err(db_err)?,
        edit_distance: row.try_get("edit_distance").map_err(db_err)?,
        sent_at: row.try_get("sent_at").map_err(db_err)?,
    })
}

/// The draft, its row locked until the caller's transaction ends.
pub(crate) async fn locked(conn: &mut PgConnection, id: DraftId) -> StoreResult<DraftRecord> {
    let row = sqlx::query("SELECT * FROM drafts WHERE id = $1 FOR UPDATE")
        .bind(id.as_uuid())
        .fetch_optional(&mut *conn)
        .await
        .map_err(db_err)?
        .ok_or_else(|| StoreError::NotFound {
            what: format!("draft {id}"),
        })?;
    read_record(&row)
}

pub(crate) async fn reread(conn: &mut PgConnection, id: DraftId) -> StoreResult<DraftRecord> {
    let row = sqlx::query("SELECT * FROM drafts WHERE id = $1")
        .bind(id.as_uuid())
        .fetch_one(&mut *conn)
        .await
        .map_err(db_err)?;
    read_record(&row)
}

/// Every draft is written and judged under a policy: refuse one without.
fn policy_of(ctx: &CommandContext) -> StoreResult<String> {
    ctx.policy_version
        .as_ref()
        .map(|v| v.to_string())
        .ok_or_else(|| {
            StoreError::Database("a draft must be recorded under a policy version".into())
        })
}

/// Records a review inside the caller's transaction, the draft's row locked
/// and the review checked there.
pub(crate) async fn review_in(
    tx: &mut sqlx::Transaction<'_, sqlx::Postgres>,
    ctx: &CommandContext,
    draft: DraftId,
    review: &DraftReview,
    reason: Option<&str>,
) -> StoreResult<DraftRecord> {
    let record = locked(&mut *tx, draft).await?;
    record.check_review(review, ctx.now)?;
    let outcome = record.review_outcome(&review.decision);
    let (final_subject, final_body) = outcome.final_text.clone().unzip();
    sqlx::query(
        "UPDATE drafts SET review_state = $1, reviewed_by = $2, reviewed_at = $3, final_subject = $4,
                           final_body = $5, edit_distance = $6, updated_at = $3
         WHERE id = $7",
    )
    .bind(outcome.review_state)
    .bind(review.reviewer.as_str())
    .bind(ctx.now)
    .bind(final_subject)
    .bind(final_body)
    .bind(outcome.edit_distance)
    .bind(draft.as_uuid())
    .execute(&mut **tx)
    .await
    .map_err(|e| fk_or(e, || format!("a user named `{}`", review.reviewer)))?;
    insert_entry(
        tx,
        ctx,
        &Event::DraftReviewed {
            draft_id: draft,
            contact_id: record.draft.contact_id,
            decision: review.decision.as_str().to_string(),
            reviewer: review.reviewer.to_string(),
            edit_distance: outcome.edit_distance,
            reason: reason.map(str::to_string),
        },
    )
    .await?;
    reread(tx, draft).await
}

#[async_trait]
impl Drafts for PostgresStore {
    async fn create_draft(&self, ctx: &CommandContext, draft: &NewDraft) -> StoreResult<Draft> {
        let created = Draft {
            id: DraftId::new(),
            contact_id: draft.contact_id,
            enrollment_id: draft.enrollment_id,
            step_index: draft.step_index,
            author: draft.author,
            subject: draft.subject.clone(),
            body: draft.body.clone(),
            grounding: draft.grounding.clone(),
            confidence: draft.confidence,
            review_state: "pending".into(),
            policy_version: policy_of(ctx)?,
            created_at: ctx.now,
            step_kind: draft.step_kind.clone(),
            drafter: draft.drafter.clone(),
        };
        let mut tx = self.pool().begin().await.map_err(db_err)?;
        sqlx::query(
            "INSERT INTO drafts (id, enrollment_id, contact_id, step_index, author_kind, subject, body, grounding,
                                 confidence, review_state, policy_version, sequence_type, created_at, updated_at,
                                 step_kind, drafter)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $13, $14, $15)",
        )
        .bind(created.id.as_uuid())
        .bind(created.enrollment_id.map(|e| e.as_uuid()))
        .bind(created.contact_id.as_uuid())
        .bind(created.step_index as i32)
        .bind(created.author.as_str())
        .bind(&created.subject)
        .bind(&created.body)
        .bind(&created.grounding)
        .bind(created.confidence)
        .bind(&created.review_state)
        .bind(&created.policy_version)
        .bind(&draft.sequence_type)
        .bind(ctx.now)
        .bind(&created.step_kind)
        .bind(&created.drafter)
        .execute(&mut *tx)
        .await
        .map_err(|e| {
            if is_code(&e, "23505") {
                StoreError::Conflict {
                    what: format!(
                        "step {} of this enrolment already has a draft",
                        created.step_index + 1
                    ),
                }
            } else {
                fk_or(e, || format!("contact {} or its enrolment", created.contact_id))
            }
        })?;
        insert_entry(
            &mut tx,
            ctx,
            &Event::DraftCreated {
                draft_id: created.id,
                contact_id: created.contact_id,
                author: created.author.as_str().to_string(),
                step_index: created.step_index,
            },
        )
        .await?;
        tx.commit().await.map_err(db_err)?;
        Ok(created)
    }

    async fn get_draft(&self, id: DraftId) -> StoreResult<Option<Draft>> {
        Ok(self.draft_record(id).await?.map(|r| r.draft))
    }

    async fn draft_record(&self, id: DraftId) -> StoreResult<Option<DraftRecord>> {
        let row = sqlx::query("SELECT * FROM drafts WHERE id = $1")
            .bind(id.as_uuid())
            .fetch_optional(self.pool())
            .await
            .map_err(db_err)?;
        row.as_ref().map(read_record).transpose()
    }

    async fn record_evaluation(
        &self,
        ctx: &CommandContext,
        draft: DraftId,
        evaluation: &DraftEvaluation,
    ) -> StoreResult<RecordedEvaluation> {
        let policy_version = policy_of(ctx)?;
        let mut tx = self.pool().begin().await.map_err(db_err)?;
        let record = locked(&mut tx, draft).await?;
        record.check_evaluation(evaluation)?;
        sqlx::query(
            "UPDATE drafts SET verdict = $1, findings = $2, evaluation = $3, evaluation_context = $4,
                               evaluated_under = $5, evaluated_at = $6, review_state = $7, review_deadline = $8,
                               updated_at = $6
             WHERE id = $9",
        )
        .bind(&evaluation.verdict)
        .bind(&evaluation.findings)
        .bind(&evaluation.evaluation)
        .bind(&evaluation.context)
        .bind(&policy_version)
        .bind(ctx.now)
        .bind(&evaluation.review_state)
        .bind(evaluation.review_deadline.map(to_micros))
        .bind(draft.as_uuid())
        .execute(&mut *tx)
        .await
        .map_err(db_err)?;
        let entry = insert_entry(
            &mut tx,
            ctx,
            &Event::DraftEvaluated {
                draft_id: draft,
                contact_id: record.draft.contact_id,
                verdict: evaluation.verdict.clone(),
                rule_ids: evaluation.rule_ids.clone(),
                qa_sampled: evaluation.qa_sampled,
                evaluation: evaluation.evaluation.clone(),
            },
        )
        .await?;
        let escalation = match &evaluation.escalation {
            Some(request) => Some(
                insert_escalation(
                    &mut tx,
                    ctx,
                    &NewEscalation {
                        contact_id: Some(record.draft.contact_id),
                        stage: request.stage,
                        rule_id: request.rule_id.clone(),
                        reason: request.reason.clone(),
                        priority: request.priority,
                        assignee: request.assignee.clone(),
                        due_at: request.due_at,
                    },
                    serde_json::json!({ "draft_id": draft }),
                )
                .await?,
            ),
            None => None,
        };
        tx.commit().await.map_err(db_err)?;
        Ok(RecordedEvaluation {
            draft_id: draft,
            entry_id: LedgerEntryId::new(entry),
            policy_version,
            escalation,
        })
    }

    async fn record_review(
        &self,
        ctx: &CommandContext,
        draft: DraftId,
        review: &DraftReview,
    ) -> StoreResult<DraftRecord> {
        let mut tx = self.pool().begin().await.map_err(db_err)?;
        let updated = review_in(&mut tx, ctx, draft, review, None).await?;
        tx.commit().await.map_err(db_err)?;
        Ok(updated)
    }

    async fn mark_draft_sent(
        &self,
        ctx: &CommandContext,
        draft: DraftId,
        sent_at: DateTime<Utc>,
    ) -> StoreResult<DraftRecord> {
        let sent_at = to_micros(sent_at);
        let mut tx = self.pool().begin().await.map_err(db_err)?;
        let record = locked(&mut tx, draft).await?;
        // Any escalation for the prospect since the draft was judged
        // cancels a veto timer (DESIGN.md §2).
        let escalated: bool = match record.evaluated_at {
            Some(evaluated_at) => sqlx::query_scalar(
                "SELECT EXISTS (SELECT 1 FROM escalations WHERE contact_id = $1 AND created_at > $2)",
            )
            .bind(record.draft.contact_id.as_uuid())
            .bind(evaluated_at)
            .fetch_one(&mut *tx)
            .await
            .map_err(db_err)?,
            None => false,
        };
        let sent = record.check_send(sent_at, escalated)?;
        sqlx::query(
            "UPDATE drafts SET sent_at = $1, final_subject = $2, final_body = $3, edit_distance = $4, updated_at = $5
             WHERE id = $6",
        )
        .bind(sent_at)
        .bind(&sent.final_subject)
        .bind(&sent.final_body)
        .bind(sent.edit_distance)
        .bind(ctx.now)
        .bind(draft.as_uuid())
        .execute(&mut *tx)
        .await
        .map_err(db_err)?;
        insert_entry(
            &mut tx,
            ctx,
            &Event::DraftSent {
                draft_id: draft,
                contact_id: record.draft.contact_id,
            },
        )
        .await?;
        let updated = reread(&mut tx, draft).await?;
        tx.commit().await.map_err(db_err)?;
        Ok(updated)
    }

    async fn expire_drafts(
        &self,
        ctx: &CommandContext,
        now: DateTime<Utc>,
    ) -> StoreResult<Vec<DraftId>> {
        let mut tx = self.pool().begin().await.map_err(db_err)?;
        let rows: Vec<(Uuid, Uuid)> = sqlx::query_as(
            "UPDATE drafts SET review_state = 'expired', updated_at = $2
             WHERE review_state <> 'expired'
               AND reviewed_at IS NULL AND sent_at IS NULL AND review_deadline < $1
               AND (verdict = 'needs_approval'
                    -- a veto draft whose timer an escalation cancelled needed approval too
                    OR (verdict = 'veto_window'
                        AND EXISTS (SELECT 1 FROM escalations e
                                     WHERE e.contact_id = drafts.contact_id
                                       AND e.created_at > drafts.evaluated_at)))
             RETURNING id, contact_id",
        )
        .bind(now)
        .bind(ctx.now)
        .fetch_all(&mut *tx)
        .await
        .map_err(db_err)?;
        let mut ids = Vec::with_capacity(rows.len());
        for (draft, contact) in rows {
            let draft_id = DraftId::from_uuid(draft);
            insert_entry(
                &mut tx,
                ctx,
                &Event::DraftExpired {
                    draft_id,
                    contact_id: ContactId::from_uuid(contact),
                },
            )
            .await?;
            ids.push(draft_id);
        }
        tx.commit().await.map_err(db_err)?;
        Ok(ids)
    }

    async fn list_drafts(
        &self,
        since: Option<DateTime<Utc>>,
        after: Option<DraftId>,
        limit: u32,
    ) -> StoreResult<Vec<DraftRecord>> {
        let rows = sqlx::query(
            "SELECT * FROM drafts
             WHERE ($1::uuid IS NULL OR id > $1) AND ($2::timestamptz IS NULL OR created_at >= $2)
             ORDER BY id LIMIT $3",
        )
        .bind(after.map(|a| a.as_uuid()))
        .bind(since)
        .bind(i64::from(limit))
        .fetch_all(self.pool())
        .await
        .map_err(db_err)?;
        rows.iter().map(read_record).collect()
    }

    async fn draft_history(&self, draft: DraftId) -> StoreResult<Vec<LedgerEntry>> {
        let contact: Uuid = sqlx::query_scalar("SELECT contact_id FROM drafts WHERE id = $1")
            .bind(draft.as_uuid())
            .fetch_optional(self.pool())
            .await
            .map_err(db_err)?
            .ok_or_else(|| StoreError::NotFound {
                what: format!("draft {draft}"),
            })?;
        // Every event about a draft is filed under its contact (a domain
        // test holds that), so the contact index narrows the search before
        // any payload is read.
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {LEDGER_COLUMNS} FROM ledger
             WHERE contact_id = $1
               AND (payload->>'draft_id' = $2
                    OR payload->>'escalation_id' IN
                       (SELECT id::text FROM escalations
                        WHERE contact_id = $1 AND context->>'draft_id' = $2))
             ORDER BY id"
        )))
        .bind(contact)
        .bind(draft.to_string())
        .fetch_all(self.pool())
        .await
        .map_err(db_err)?;
        rows.iter().map(read_ledger_entry).collect()
    }

    async fn graduation_stats(
        &self,
        since: Option<DateTime<Utc>>,
    ) -> StoreResult<Vec<SequenceTypeStats>> {
        let rows: Vec<(String, i64, i64, i64)> = sqlx::query_as(
            r#"SELECT sequence_type,
                      COUNT(*),
                      COUNT(*) FILTER (WHERE edit_distance < $2),
                      COUNT(*) FILTER (WHERE findings @> '[{"severity": "block"}]')
               FROM drafts
               WHERE sent_at IS NOT NULL AND ($1::timestamptz IS NULL OR sent_at >= $1)
                 AND author_kind IN ('ai', 'template')
                 AND sequence_type IS NOT NULL
               GROUP BY sequence_type
               ORDER BY sequence_type COLLATE "C""#,
        )
        .bind(since)
        .bind(ACCEPTANCE_EDIT_DISTANCE)
        .fetch_all(self.pool())
        .await
        .map_err(db_err)?;
        Ok(rows
            .into_iter()
            .map(
                |(sequence_type, sent, accepted, blocked)| SequenceTypeStats {
                    sequence_type,
                    ai_drafts_sent: sent.max(0) as u64,
                    accepted: accepted.max(0) as u64,
                    with_block_findings: blocked.max(0) as u64,
                },
            )
            .collect())
    }

    async fn record_demotion(
        &self,
        ctx: &CommandContext,
        demotion: &NewDemotion,
    ) -> StoreResult<LedgerEntry> {
        self.append(ctx, &demotion.to_event()?).await
    }

    async fn demotions(&self) -> StoreResult<Vec<Demotion>> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            r#"SELECT {LEDGER_COLUMNS} FROM ledger
               WHERE id IN (SELECT MAX(id) FROM ledger WHERE kind = 'send_authority_demoted'
                            GROUP BY payload->>'sequence_type')
               ORDER BY (payload->>'sequence_type') COLLATE "C""#
        )))
        .fetch_all(self.pool())
        .await
        .map_err(db_err)?;
        rows.iter()
            .map(|row| {
                let entry = read_ledger_entry(row)?;
                Demotion::from_entry(&entry)
                    .ok_or_else(|| StoreError::corrupt("send_authority_demoted payload"))
            })
            .collect()
    }
}
