//! The leased work queue on PostgreSQL: `FOR UPDATE SKIP LOCKED` picks due
//! jobs no other claimer holds; outcomes are fenced by the lease token.

use std::collections::BTreeMap;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::Row;
use uuid::Uuid;

use handoff_domain::jobs::{AfterFailure, JobState, RetryPolicy};
use handoff_domain::{Event, JobId};
use handoff_store::{
    ClaimRequest, ClaimedJob, CommandContext, Completion, Job, JobCount, JobFilter, JobQueue,
    NewJob, StoreError, StoreResult,
};

use crate::rows::db_err;
use crate::{PostgresStore, insert_entry};

#[async_trait]
impl JobQueue for PostgresStore {
    async fn enqueue(&self, ctx: &CommandContext, jobs: &[NewJob]) -> StoreResult<Vec<JobId>> {
        let mut tx = self.pool().begin().await.map_err(db_err)?;
        let mut ids = Vec::with_capacity(jobs.len());
        // UNNEST inserts a batch in one round trip.
        for chunk in jobs.chunks(5_000) {
            let kinds: Vec<&str> = chunk.iter().map(|j| j.kind.as_str()).collect();
            let payloads: Vec<serde_json::Value> =
                chunk.iter().map(|j| j.payload.clone()).collect();
            let run_ats: Vec<DateTime<Utc>> = chunk.iter().map(|j| j.run_at).collect();
            let max_attempts: Vec<i32> = chunk.iter().map(|j| j.max_attempts.max(1)).collect();
            let chunk_ids: Vec<i64> = sqlx::query_scalar(
                "INSERT INTO jobs (kind, payload, state, run_at, max_attempts, created_at, updated_at)
                 SELECT k, p, 'queued', r, m, $5, $5
                 FROM UNNEST($1::text[], $2::jsonb[], $3::timestamptz[], $4::int[]) WITH ORDINALITY AS t(k, p, r, m, n)
                 ORDER BY n
                 RETURNING id",
            )
            .bind(&kinds)
            .bind(&payloads)
            .bind(&run_ats)
            .bind(&max_attempts)
            .bind(ctx.now)
            .fetch_all(&mut *tx)
            .await
            .map_err(db_err)?;
            ids.extend(chunk_ids.into_iter().map(JobId::new));
        }
        let mut per_kind: BTreeMap<&str, u64> = BTreeMap::new();
        for job in jobs {
            *per_kind.entry(job.kind.as_str()).or_default() += 1;
        }
        for (kind, count) in per_kind {
            insert_entry(
                &mut tx,
                ctx,
                &Event::JobsEnqueued {
                    kind: kind.to_string(),
                    count,
                },
            )
            .await?;
        }
        tx.commit().await.map_err(db_err)?;
        ids.sort();
        Ok(ids)
    }

    async fn claim(&self, request: &ClaimRequest) -> StoreResult<Vec<ClaimedJob>> {
        let token = Uuid::new_v4().to_string();
        let locked_until = request.now + request.lease;
        let kinds: Vec<&str> = request.kinds.iter().map(|k| k.as_str()).collect();
        let rows = sqlx::query(
            "WITH picked AS (
                 SELECT id FROM jobs
                 WHERE state IN ('queued', 'running')
                   AND ((state = 'queued' AND run_at <= $4) OR (state = 'running' AND locked_until < $4))
                   AND attempts < max_attempts
                   AND kind = ANY($5)
                 ORDER BY run_at, id
                 LIMIT $6
                 FOR UPDATE SKIP LOCKED)
             UPDATE jobs j
             SET state = 'running', attempts = j.attempts + 1, locked_by = $1, lease_token = $2,
                 locked_until = $3, updated_at = $4
             FROM picked WHERE j.id = picked.id
             RETURNING j.id, j.kind, j.payload, j.attempts, j.max_attempts",
        )
        .bind(&request.worker)
        .bind(&token)
        .bind(locked_until)
        .bind(request.now)
        .bind(&kinds)
        .bind(i64::from(request.limit))
        .fetch_all(self.pool())
        .await
        .map_err(db_err)?;
        let mut claimed = rows
            .iter()
            .map(|row| {
                let kind: String = row.try_get("kind").map_err(db_err)?;
                Ok(ClaimedJob {
                    id: JobId::new(row.try_get("id").map_err(db_err)?),
                    kind: kind.parse().map_err(|_| StoreError::corrupt("job kind"))?,
                    payload: row.try_get("payload").map_err(db_err)?,
                    attempt: row.try_get("attempts").map_err(db_err)?,
                    max_attempts: row.try_get("max_attempts").map_err(db_err)?,
                    lease_token: token.clone(),
                    locked_until,
                })
            })
            .collect::<StoreResult<Vec<_>>>()?;
        claimed.sort_by_key(|j| j.id);
        Ok(claimed)
    }

    async fn complete(
        &self,
        ctx: &CommandContext,
        job: &ClaimedJob,
        outcome: &Event,
    ) -> StoreResult<Completion> {
        let mut tx = self.pool().begin().await.map_err(db_err)?;
        let changed = sqlx::query(
            "UPDATE jobs SET state = 'done', locked_by = NULL, lease_token = NULL, locked_until = NULL, updated_at = $1
             WHERE id = $2 AND lease_token = $3 AND state = 'running'",
        )
        .bind(ctx.now)
        .bind(job.id.get())
        .bind(&job.lease_token)
        .execute(&mut *tx)
        .await
        .map_err(db_err)?
        .rows_affected();
        if changed == 0 {
            return Ok(Completion::LeaseLost);
        }
        insert_entry(&mut tx, ctx, outcome).await?;
        tx.commit().await.map_err(db_err)?;
        Ok(Completion::Done)
    }

    async fn fail(
        &self,
        ctx: &CommandContext,
        job: &ClaimedJob,
        error: &str,
        retry: &RetryPolicy,
        now: DateTime<Utc>,
    ) -> StoreResult<Completion> {
        let after = retry.after_failure(job.id.get(), job.attempt, job.max_attempts, now);
        let (state, run_at) = match after {
            AfterFailure::RetryAt(at) => ("queued", Some(at)),
            AfterFailure::Dead => ("dead", None),
        };
        let mut tx = self.pool().begin().await.map_err(db_err)?;
        let changed = sqlx::query(
            "UPDATE jobs SET state = $1, run_at = COALESCE($2, run_at), last_error = $3,
                 locked_by = NULL, lease_token = NULL, locked_until = NULL, updated_at = $4
             WHERE id = $5 AND lease_token = $6 AND state = 'running'",
        )
        .bind(state)
        .bind(run_at)
        .bind(error)
        .bind(now)
        .bind(job.id.get())
        .bind(&job.lease_token)
        .execute(&mut *tx)
        .await
        .map_err(db_err)?
        .rows_affected();
        if changed == 0 {
            return Ok(Completion::LeaseLost);
        }
        let (event, completion) = handoff_store::failure_outcome(job, error, after);
        insert_entry(&mut tx, ctx, &event).await?;
        tx.commit().await.map_err(db_err)?;
        Ok(completion)
    }

    async fn bury_expired(&self, ctx: &CommandContext, now: DateTime<Utc>) -> StoreResult<u64> {
        let mut tx = self.pool().begin().await.map_err(db_err)?;
        let buried: Vec<(i64, String, i32, String)> = sqlx::query_as(
            "UPDATE jobs SET state = 'dead', locked_by = NULL, lease_token = NULL, locked_until = NULL,
                 last_error = 'the lease expired on the last allowed attempt: its worker stopped or crashed each time',
                 updated_at = $1
             WHERE id IN (SELECT id FROM jobs WHERE state = 'running' AND locked_until < $1
                          AND attempts >= max_attempts FOR UPDATE SKIP LOCKED)
             RETURNING id, kind, attempts, last_error",
        )
        .bind(now)
        .fetch_all(&mut *tx)
        .await
        .map_err(db_err)?;
        for (id, kind, attempts, error) in &buried {
            insert_entry(
                &mut tx,
                ctx,
                &Event::JobDead {
                    job_id: JobId::new(*id),
                    kind: kind.clone(),
                    attempts: *attempts,
                    error: error.clone(),
                },
            )
            .await?;
        }
        tx.commit().await.map_err(db_err)?;
        Ok(buried.len() as u64)
    }

    async fn requeue_dead(
        &self,
        ctx: &CommandContext,
        job: JobId,
        now: DateTime<Utc>,
    ) -> StoreResult<bool> {
        let mut tx = self.pool().begin().await.map_err(db_err)?;
        let kind: Option<String> = sqlx::query_scalar(
            "UPDATE jobs SET state = 'queued', attempts = 0, run_at = $1, updated_at = $1
             WHERE id = $2 AND state = 'dead' RETURNING kind",
        )
        .bind(now)
        .bind(job.get())
        .fetch_optional(&mut *tx)
        .await
        .map_err(db_err)?;
        let Some(kind) = kind else {
            return Ok(false);
        };
        insert_entry(&mut tx, ctx, &Event::JobRetried { job_id: job, kind }).await?;
        tx.commit().await.map_err(db_err)?;
        Ok(true)
    }

    async fn job_counts(&self) -> StoreResult<Vec<JobCount>> {
        let rows: Vec<(String, String, i64)> = sqlx::query_as(
            "SELECT kind, state, COUNT(*) FROM jobs GROUP BY kind, state ORDER BY kind, state",
        )
        .fetch_all(self.pool())
        .await
        .map_err(db_err)?;
        rows.into_iter()
            .map(|(kind, state, count)| {
                Ok(JobCount {
                    kind,
                    state: JobState::parse(&state)
                        .ok_or_else(|| StoreError::corrupt("job state"))?,
                    count: count as u64,
                })
            })
            .collect()
    }

    async fn list_jobs(&self, filter: &JobFilter) -> StoreResult<Vec<Job>> {
        let rows = sqlx::query(
            "SELECT id, kind, state, payload, run_at, attempts, max_attempts, locked_by, locked_until, last_error
             FROM jobs WHERE ($1::text IS NULL OR state = $1) ORDER BY id DESC LIMIT $2",
        )
        .bind(filter.state.map(|s| s.as_str()))
        .bind(i64::from(filter.limit))
        .fetch_all(self.pool())
        .await
        .map_err(db_err)?;
        rows.iter()
            .map(|row| {
                let state: String = row.try_get("state").map_err(db_err)?;
                Ok(Job {
                    id: JobId::new(row.try_get("id").map_err(db_err)?),
                    kind: row.try_get("kind").map_err(db_err)?,
                    state: JobState::parse(&state)
                        .ok_or_else(|| StoreError::corrupt("job state"))?,
                    payload: row.try_get("payload").map_err(db_err)?,
                    run_at: row.try_get("run_at").map_err(db_err)?,
                    attempts: row.try_get("attempts").map_err(db_err)?,
                    max_attempts: row.try_get("max_attempts").map_err(db_err)?,
                    locked_by: row.try_get("locked_by").map_err(db_err)?,
                    locked_until: row.try_get("locked_until").map_err(db_err)?,
                    last_error: row.try_get("last_error").map_err(db_err)?,
                })
            })
            .collect()
    }
}
