//! Drafts on SQLite: creation, evaluations, reviews, sends, and the
//! figures replays and graduation read from them. Each write appends its
//! ledger entry in the same transaction; the rules on what may change are
//! `DraftRecord`'s, shared with PostgreSQL.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use rusqlite::{Connection, OptionalExtension, Row, params};

use handoff_domain::users::Username;
use handoff_domain::{DraftId, Event};
use handoff_store::{
    ACCEPTANCE_EDIT_DISTANCE, AuthorKind, CommandContext, Demotion, Draft, DraftEvaluation,
    DraftRecord, DraftReview, Drafts, Ledger, LedgerEntry, NewDemotion, NewDraft, NewEscalation,
    RecordedEvaluation, ReviewOutcome, SequenceTypeStats, StoreError, StoreResult, to_micros,
};

use crate::rows::{db_err, from_micros, micros, parse_id, read_ledger_entry};
use crate::workflow::{insert_escalation, opt_micros};
use crate::{SqliteStore, insert_entry};

const DRAFT_COLUMNS: &str = "id, contact_id, enrollment_id, step_index, author_kind, subject, body, grounding, \
     confidence, review_state, policy_version, created_at, \
     sequence_type, verdict, findings, evaluation, evaluation_context, evaluated_under, evaluated_at, \
     review_deadline, reviewed_by, reviewed_at, final_subject, final_body, edit_distance, sent_at, \
     step_kind, drafter";

const LEDGER_COLUMNS: &str = "id, at, actor_kind, actor_name, kind, contact_id, account_id, user_id, job_id, policy_version, payload";

fn json_column(row: &Row<'_>, i: usize, what: &str) -> StoreResult<Option<serde_json::Value>> {
    row.get::<_, Option<String>>(i)
        .map_err(db_err)?
        .map(|raw| serde_json::from_str(&raw).map_err(|_| StoreError::corrupt(what)))
        .transpose()
}

fn read_record(row: &Row<'_>) -> StoreResult<DraftRecord> {
    let author: String = row.get(4).map_err(db_err)?;
    let enrollment: Option<String> = row.get(2).map_err(db_err)?;
    let reviewed_by: Option<String> = row.get(20).map_err(db_err)?;
    let draft = Draft {
        id: parse_id(&row.get::<_, String>(0).map_err(db_err)?, "draft id")?,
        contact_id: parse_id(&row.get::<_, String>(1).map_err(db_err)?, "contact id")?,
        enrollment_id: enrollment
            .map(|e| parse_id(&e, "enrollment id"))
            .transpose()?,
        step_index: row.get::<_, i64>(3).map_err(db_err)?.max(0) as u32,
        author: AuthorKind::parse(&author).ok_or_else(|| StoreError::corrupt("draft author"))?,
        subject: row.get(5).map_err(db_err)?,
        body: row.get(6).map_err(db_err)?,
        grounding: json_column(row, 7, "draft grounding")?
            .ok_or_else(|| StoreError::corrupt("draft grounding"))?,
        confidence: row.get(8).map_err(db_err)?,
        review_state: row.get(9).map_err(db_err)?,
        policy_version: row.get(10).map_err(db_err)?,
        created_at: from_micros(row.get(11).map_err(db_err)?)?,
        step_kind: row.get(26).map_err(db_err)?,
        drafter: json_column(row, 27, "draft drafter")?,
    };
    Ok(DraftRecord {
        draft,
        sequence_type: row.get(12).map_err(db_err)?,
        verdict: row.get(13).map_err(db_err)?,
        findings: json_column(row, 14, "draft findings")?
            .ok_or_else(|| StoreError::corrupt("draft findings"))?,
        evaluation: json_column(row, 15, "draft evaluation")?,
        context: json_column(row, 16, "draft evaluation context")?,
        evaluated_under: row.get(17).map_err(db_err)?,
        evaluated_at: opt_micros(row.get(18).map_err(db_err)?)?,
        review_deadline: opt_micros(row.get(19).map_err(db_err)?)?,
        reviewed_by: reviewed_by
            .map(|u| Username::parse(&u))
            .transpose()
            .map_err(|_| StoreError::corrupt("draft reviewer"))?,
        reviewed_at: opt_micros(row.get(21).map_err(db_err)?)?,
        final_subject: row.get(22).map_err(db_err)?,
        final_body: row.get(23).map_err(db_err)?,
        edit_distance: row.get(24).map_err(db_err)?,
        sent_at: opt_micros(row.get(25).map_err(db_err)?)?,
    })
}

/// The draft as `conn` sees it (inside the caller's transaction, if any).
fn record_on(conn: &Connection, id: DraftId) -> StoreResult<Option<DraftRecord>> {
    conn.prepare_cached(&format!("SELECT {DRAFT_COLUMNS} FROM drafts WHERE id = ?1"))
        .map_err(db_err)?
        .query_row([id.to_string()], |row| Ok(read_record(row)))
        .optional()
        .map_err(db_err)?
        .transpose()
}

pub(crate) fn existing(conn: &Connection, id: DraftId) -> StoreResult<DraftRecord> {
    record_on(conn, id)?.ok_or_else(|| StoreError::NotFound {
        what: format!("draft {id}"),
    })
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

/// Records a review inside the caller's transaction, after checking it
/// again there. `outcome` comes from [`DraftRecord::review_outcome`] (worked
/// out before the write lock: a draft's own text never changes).
pub(crate) fn review_in(
    tx: &rusqlite::Transaction<'_>,
    ctx: &CommandContext,
    draft: DraftId,
    review: &DraftReview,
    outcome: &ReviewOutcome,
    reason: Option<&str>,
) -> StoreResult<DraftRecord> {
    let record = existing(tx, draft)?;
    record.check_review(review, ctx.now)?;
    let (final_subject, final_body) = outcome.final_text.clone().unzip();
    tx.execute(
        "UPDATE drafts SET review_state = ?1, reviewed_by = ?2, reviewed_at = ?3, final_subject = ?4,
                           final_body = ?5, edit_distance = ?6, updated_at = ?3
         WHERE id = ?7",
        params![
            outcome.review_state,
            review.reviewer.as_str(),
            micros(ctx.now),
            final_subject,
            final_body,
            outcome.edit_distance,
            draft.to_string(),
        ],
    )
    .map_err(|e| {
        if e.to_string().contains("FOREIGN KEY") {
            StoreError::NotFound {
                what: format!("a user named `{}`", review.reviewer),
            }
        } else {
            db_err(e)
        }
    })?;
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
    )?;
    existing(tx, draft)
}

#[async_trait]
impl Drafts for SqliteStore {
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
        self.write(|tx| {
            tx.execute(
                "INSERT INTO drafts (id, enrollment_id, contact_id, step_index, author_kind, subject, body, grounding,
                                     confidence, review_state, policy_version, sequence_type, created_at, updated_at,
                                     step_kind, drafter)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?13, ?14, ?15)",
                params![
                    created.id.to_string(),
                    created.enrollment_id.map(|e| e.to_string()),
                    created.contact_id.to_string(),
                    created.step_index,
                    created.author.as_str(),
                    created.subject,
                    created.body,
                    created.grounding.to_string(),
                    created.confidence,
                    created.review_state,
                    created.policy_version,
                    draft.sequence_type,
                    micros(ctx.now),
                    created.step_kind,
                    created.drafter.as_ref().map(|d| d.to_string()),
                ],
            )
            .map_err(|e| {
                if e.to_string().contains("UNIQUE") {
                    StoreError::Conflict {
                        what: format!(
                            "step {} of this enrolment already has a draft",
                            created.step_index + 1
                        ),
                    }
                } else if e.to_string().contains("FOREIGN KEY") {
                    StoreError::NotFound {
                        what: format!("contact {} or its enrolment", created.contact_id),
                    }
                } else {
                    db_err(e)
                }
            })?;
            insert_entry(
                tx,
                ctx,
                &Event::DraftCreated {
                    draft_id: created.id,
                    contact_id: created.contact_id,
                    author: created.author.as_str().to_string(),
                    step_index: created.step_index,
                },
            )?;
            Ok(())
        })?;
        Ok(created)
    }

    async fn get_draft(&self, id: DraftId) -> StoreResult<Option<Draft>> {
        Ok(record_on(&self.reader(), id)?.map(|r| r.draft))
    }

    async fn draft_record(&self, id: DraftId) -> StoreResult<Option<DraftRecord>> {
        record_on(&self.reader(), id)
    }

    async fn record_evaluation(
        &self,
        ctx: &CommandContext,
        draft: DraftId,
        evaluation: &DraftEvaluation,
    ) -> StoreResult<RecordedEvaluation> {
        let policy_version = policy_of(ctx)?;
        self.write(|tx| {
            let record = existing(tx, draft)?;
            record.check_evaluation(evaluation)?;
            tx.execute(
                "UPDATE drafts SET verdict = ?1, findings = ?2, evaluation = ?3, evaluation_context = ?4,
                                   evaluated_under = ?5, evaluated_at = ?6, review_state = ?7, review_deadline = ?8,
                                   updated_at = ?6
                 WHERE id = ?9",
                params![
                    evaluation.verdict,
                    evaluation.findings.to_string(),
                    evaluation.evaluation.to_string(),
                    evaluation.context.to_string(),
                    policy_version,
                    micros(ctx.now),
                    evaluation.review_state,
                    evaluation.review_deadline.map(micros),
                    draft.to_string(),
                ],
            )
            .map_err(db_err)?;
            let entry = insert_entry(
                tx,
                ctx,
                &Event::DraftEvaluated {
                    draft_id: draft,
                    contact_id: record.draft.contact_id,
                    verdict: evaluation.verdict.clone(),
                    rule_ids: evaluation.rule_ids.clone(),
                    qa_sampled: evaluation.qa_sampled,
                    evaluation: evaluation.evaluation.clone(),
                },
            )?;
            let escalation = evaluation
                .escalation
                .as_ref()
                .map(|request| {
                    insert_escalation(
                        tx,
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
                        &serde_json::json!({ "draft_id": draft }),
                    )
                })
                .transpose()?;
            Ok(RecordedEvaluation {
                draft_id: draft,
                entry_id: handoff_domain::LedgerEntryId::new(entry),
                policy_version: policy_version.clone(),
                escalation,
            })
        })
    }

    async fn record_review(
        &self,
        ctx: &CommandContext,
        draft: DraftId,
        review: &DraftReview,
    ) -> StoreResult<DraftRecord> {
        // The edit distance is worked out before the write lock is taken:
        // a draft's own text never changes, so it stays right, and the
        // checks run again inside the transaction.
        let before = existing(&self.reader(), draft)?;
        before.check_review(review, ctx.now)?;
        let outcome = before.review_outcome(&review.decision);
        self.write(|tx| review_in(tx, ctx, draft, review, &outcome, None))
    }

    async fn mark_draft_sent(
        &self,
        ctx: &CommandContext,
        draft: DraftId,
        sent_at: DateTime<Utc>,
    ) -> StoreResult<DraftRecord> {
        let sent_at = to_micros(sent_at);
        self.write(|tx| {
            let record = existing(tx, draft)?;
            // Any escalation for the prospect since the draft was judged
            // cancels a veto timer (DESIGN.md §2).
            let escalated: bool = tx
                .query_row(
                    "SELECT EXISTS (SELECT 1 FROM escalations WHERE contact_id = ?1 AND created_at > ?2)",
                    params![
                        record.draft.contact_id.to_string(),
                        record.evaluated_at.map(micros).unwrap_or(i64::MAX)
                    ],
                    |r| r.get(0),
                )
                .map_err(db_err)?;
            let sent = record.check_send(sent_at, escalated)?;
            tx.execute(
                "UPDATE drafts SET sent_at = ?1, final_subject = ?2, final_body = ?3, edit_distance = ?4, updated_at = ?5
                 WHERE id = ?6",
                params![
                    micros(sent_at),
                    sent.final_subject,
                    sent.final_body,
                    sent.edit_distance,
                    micros(ctx.now),
                    draft.to_string(),
                ],
            )
            .map_err(db_err)?;
            insert_entry(
                tx,
                ctx,
                &Event::DraftSent {
                    draft_id: draft,
                    contact_id: record.draft.contact_id,
                },
            )?;
            existing(tx, draft)
        })
    }

    async fn expire_drafts(
        &self,
        ctx: &CommandContext,
        now: DateTime<Utc>,
    ) -> StoreResult<Vec<DraftId>> {
        self.write(|tx| {
            let mut stmt = tx
                .prepare_cached(
                    "UPDATE drafts SET review_state = 'expired', updated_at = ?2
                     WHERE review_state <> 'expired'
                       AND reviewed_at IS NULL AND sent_at IS NULL AND review_deadline < ?1
                       AND (verdict = 'needs_approval'
                            -- a veto draft whose timer an escalation cancelled needed approval too
                            OR (verdict = 'veto_window'
                                AND EXISTS (SELECT 1 FROM escalations e
                                             WHERE e.contact_id = drafts.contact_id
                                               AND e.created_at > drafts.evaluated_at)))
                     RETURNING id, contact_id",
                )
                .map_err(db_err)?;
            let expired = stmt
                .query_map(params![micros(now), micros(ctx.now)], |r| {
                    Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))
                })
                .map_err(db_err)?
                .collect::<Result<Vec<_>, _>>()
                .map_err(db_err)?;
            let mut ids = Vec::with_capacity(expired.len());
            for (draft, contact) in expired {
                let draft_id: DraftId = parse_id(&draft, "draft id")?;
                insert_entry(
                    tx,
                    ctx,
                    &Event::DraftExpired {
                        draft_id,
                        contact_id: parse_id(&contact, "draft contact id")?,
                    },
                )?;
                ids.push(draft_id);
            }
            Ok(ids)
        })
    }

    async fn list_drafts(
        &self,
        since: Option<DateTime<Utc>>,
        after: Option<DraftId>,
        limit: u32,
    ) -> StoreResult<Vec<DraftRecord>> {
        let conn = self.reader();
        let mut stmt = conn
            .prepare_cached(&format!(
                "SELECT {DRAFT_COLUMNS} FROM drafts
                 WHERE id > coalesce(?1, '') AND created_at >= coalesce(?2, -9223372036854775808)
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
            out.push(read_record(row)?);
        }
        Ok(out)
    }

    async fn draft_history(&self, draft: DraftId) -> StoreResult<Vec<LedgerEntry>> {
        let conn = self.reader();
        let contact: String = conn
            .query_row(
                "SELECT contact_id FROM drafts WHERE id = ?1",
                [draft.to_string()],
                |r| r.get(0),
            )
            .optional()
            .map_err(db_err)?
            .ok_or_else(|| StoreError::NotFound {
                what: format!("draft {draft}"),
            })?;
        // Every event about a draft is filed under its contact (a domain
        // test holds that), so the contact index narrows the search before
        // any payload is parsed.
        let mut stmt = conn
            .prepare_cached(&format!(
                "SELECT {LEDGER_COLUMNS} FROM ledger
                 WHERE contact_id = ?1
                   AND (json_extract(payload, '$.draft_id') = ?2
                        OR json_extract(payload, '$.escalation_id') IN
                           (SELECT id FROM escalations
                            WHERE contact_id = ?1 AND json_extract(context, '$.draft_id') = ?2))
                 ORDER BY id"
            ))
            .map_err(db_err)?;
        let mut rows = stmt
            .query(params![contact, draft.to_string()])
            .map_err(db_err)?;
        let mut out = Vec::new();
        while let Some(row) = rows.next().map_err(db_err)? {
            out.push(read_ledger_entry(row)?);
        }
        Ok(out)
    }

    async fn graduation_stats(
        &self,
        since: Option<DateTime<Utc>>,
    ) -> StoreResult<Vec<SequenceTypeStats>> {
        let conn = self.reader();
        let mut stmt = conn
            .prepare_cached(
                "SELECT sequence_type,
                        COUNT(*),
                        SUM(edit_distance < ?2),
                        SUM(EXISTS (SELECT 1 FROM json_each(findings)
                                    WHERE json_extract(value, '$.severity') = 'block'))
                 FROM drafts
                 WHERE sent_at >= coalesce(?1, -9223372036854775808)
                   AND author_kind IN ('ai', 'template')
                   AND sequence_type IS NOT NULL
                 GROUP BY sequence_type
                 ORDER BY sequence_type",
            )
            .map_err(db_err)?;
        let rows = stmt
            .query_map(params![since.map(micros), ACCEPTANCE_EDIT_DISTANCE], |r| {
                Ok(SequenceTypeStats {
                    sequence_type: r.get(0)?,
                    ai_drafts_sent: r.get::<_, i64>(1)?.max(0) as u64,
                    accepted: r.get::<_, Option<i64>>(2)?.unwrap_or(0).max(0) as u64,
                    with_block_findings: r.get::<_, Option<i64>>(3)?.unwrap_or(0).max(0) as u64,
                })
            })
            .map_err(db_err)?;
        rows.collect::<Result<_, _>>().map_err(db_err)
    }

    async fn record_demotion(
        &self,
        ctx: &CommandContext,
        demotion: &NewDemotion,
    ) -> StoreResult<LedgerEntry> {
        self.append(ctx, &demotion.to_event()?).await
    }

    async fn demotions(&self) -> StoreResult<Vec<Demotion>> {
        let conn = self.reader();
        let mut stmt = conn
            .prepare_cached(&format!(
                "SELECT {LEDGER_COLUMNS} FROM ledger
                 WHERE id IN (SELECT MAX(id) FROM ledger WHERE kind = 'send_authority_demoted'
                              GROUP BY json_extract(payload, '$.sequence_type'))
                 ORDER BY json_extract(payload, '$.sequence_type')"
            ))
            .map_err(db_err)?;
        let mut rows = stmt.query([]).map_err(db_err)?;
        let mut out = Vec::new();
        while let Some(row) = rows.next().map_err(db_err)? {
            let entry = read_ledger_entry(row)?;
            out.push(
                Demotion::from_entry(&entry)
                    .ok_or_else(|| StoreError::corrupt("send_authority_demoted payload"))?,
            );
        }
        Ok(out)
    }
}
