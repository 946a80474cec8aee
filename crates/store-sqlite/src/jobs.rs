//! The leased work queue on SQLite. A claim is one conditional
//! `UPDATE … RETURNING` (atomic on its own); outcomes are fenced by the
//! claim's lease token, so a worker whose lease expired cannot overwrite the
//! work of the worker that took over.

use std::collections::BTreeMap;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use rusqlite::params;
use uuid::Uuid;

use handoff_domain::jobs::{AfterFailure, JobKind, JobState, RetryPolicy};
use handoff_domain::{Event, JobId};
use handoff_store::{
    ClaimRequest, ClaimedJob, CommandContext, Completion, Job, JobCount, JobFilter, JobQueue,
    NewJob, StoreError, StoreResult,
};

use crate::rows::{db_err, from_micros, micros};
use crate::{SqliteStore, insert_entry};

fn kinds_json(kinds: &[JobKind]) -> String {
    serde_json::Value::from(kinds.iter().map(|k| k.as_str()).collect::<Vec<_>>()).to_string()
}

#[async_trait]
impl JobQueue for SqliteStore {
    async fn enqueue(&self, ctx: &CommandContext, jobs: &[NewJob]) -> StoreResult<Vec<JobId>> {
        self.write(|tx| {
            let mut ids = Vec::with_capacity(jobs.len());
            let mut per_kind: BTreeMap<&str, u64> = BTreeMap::new();
            let mut stmt = tx
                .prepare_cached(
                    "INSERT INTO jobs (kind, payload, state, run_at, max_attempts, created_at, updated_at)
                     VALUES (?1, ?2, 'queued', ?3, ?4, ?5, ?5)",
                )
                .map_err(db_err)?;
            for job in jobs {
                stmt.execute(params![
                    job.kind.as_str(),
                    job.payload.to_string(),
                    micros(job.run_at),
                    job.max_attempts.max(1),
                    micros(ctx.now),
                ])
                .map_err(db_err)?;
                ids.push(JobId::new(tx.last_insert_rowid()));
                *per_kind.entry(job.kind.as_str()).or_default() += 1;
            }
            for (kind, count) in per_kind {
                insert_entry(
                    tx,
                    ctx,
                    &Event::JobsEnqueued {
                        kind: kind.to_string(),
                        count,
                    },
                )?;
            }
            Ok(ids)
        })
    }

    async fn claim(&self, request: &ClaimRequest) -> StoreResult<Vec<ClaimedJob>> {
        let token = Uuid::new_v4().to_string();
        let now = micros(request.now);
        let locked_until = request.now + request.lease;
        let conn = self.writer();
        let mut stmt = conn
            .prepare_cached(
                "UPDATE jobs
                 SET state = 'running', attempts = attempts + 1, locked_by = ?1, lease_token = ?2,
                     locked_until = ?3, updated_at = ?4
                 WHERE id IN (
                     SELECT id FROM jobs
                     WHERE state IN ('queued', 'running')
                       AND ((state = 'queued' AND run_at <= ?4) OR (state = 'running' AND locked_until < ?4))
                       AND attempts < max_attempts
                       AND kind IN (SELECT value FROM json_each(?5))
                     ORDER BY run_at, id
                     LIMIT ?6)
                 RETURNING id, kind, payload, attempts, max_attempts",
            )
            .map_err(db_err)?;
        let mut rows = stmt
            .query(params![
                request.worker,
                token,
                micros(locked_until),
                now,
                kinds_json(&request.kinds),
                request.limit,
            ])
            .map_err(db_err)?;
        let mut claimed = Vec::new();
        while let Some(row) = rows.next().map_err(db_err)? {
            let kind: String = row.get(1).map_err(db_err)?;
            let payload: String = row.get(2).map_err(db_err)?;
            claimed.push(ClaimedJob {
                id: JobId::new(row.get(0).map_err(db_err)?),
                kind: kind.parse().map_err(|_| StoreError::corrupt("job kind"))?,
                payload: serde_json::from_str(&payload)
                    .map_err(|_| StoreError::corrupt("job payload"))?,
                attempt: row.get(3).map_err(db_err)?,
                max_attempts: row.get(4).map_err(db_err)?,
                lease_token: token.clone(),
                locked_until,
            });
        }
        claimed.sort_by_key(|j| j.id);
        Ok(claimed)
    }

    async fn complete(
        &self,
        ctx: &CommandContext,
        job: &ClaimedJob,
        outcome: &Event,
    ) -> StoreResult<Completion> {
        self.write(|tx| {
            let changed = tx
                .execute(
                    "UPDATE jobs SET state = 'done', locked_by = NULL, lease_token = NULL, locked_until = NULL, updated_at = ?1
                     WHERE id = ?2 AND lease_token = ?3 AND state = 'running'",
                    params![micros(ctx.now), job.id.get(), job.lease_token],
                )
                .map_err(db_err)?;
            if changed == 0 {
                return Ok(Completion::LeaseLost);
            }
            insert_entry(tx, ctx, outcome)?;
            Ok(Completion::Done)
        })
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
            AfterFailure::RetryAt(at) => ("queued", Some(micros(at))),
            AfterFailure::Dead => ("dead", None),
        };
        self.write(|tx| {
            let changed = tx
                .execute(
                    "UPDATE jobs SET state = ?1, run_at = COALESCE(?2, run_at), last_error = ?3,
                         locked_by = NULL, lease_token = NULL, locked_until = NULL, updated_at = ?4
                     WHERE id = ?5 AND lease_token = ?6 AND state = 'running'",
                    params![
                        state,
                        run_at,
                        error,
                        micros(now),
                        job.id.get(),
                        job.lease_token
                    ],
                )
                .map_err(db_err)?;
            if changed == 0 {
                return Ok(Completion::LeaseLost);
            }
            let (event, completion) = handoff_store::failure_outcome(job, error, after);
            insert_entry(tx, ctx, &event)?;
            Ok(completion)
        })
    }

    async fn bury_expired(&self, ctx: &CommandContext, now: DateTime<Utc>) -> StoreResult<u64> {
        self.write(|tx| {
            let mut stmt = tx
                .prepare_cached(
                    "UPDATE jobs SET state = 'dead', locked_by = NULL, lease_token = NULL, locked_until = NULL,
                         last_error = 'the lease expired on the last allowed attempt: its worker stopped or crashed each time',
                         updated_at = ?1
                     WHERE state = 'running' AND locked_until < ?1 AND attempts >= max_attempts
                     RETURNING id, kind, attempts, last_error",
                )
                .map_err(db_err)?;
            let buried: Vec<(i64, String, i32, String)> = stmt
                .query_map(params![micros(now)], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
                .map_err(db_err)?
                .collect::<Result<_, _>>()
                .map_err(db_err)?;
            for (id, kind, attempts, error) in &buried {
                insert_entry(
                    tx,
                    ctx,
                    &Event::JobDead {
                        job_id: JobId::new(*id),
                        kind: kind.clone(),
                        attempts: *attempts,
                        error: error.clone(),
                    },
                )?;
            }
            Ok(buried.len() as u64)
        })
    }

    async fn requeue_dead(
        &self,
        ctx: &CommandContext,
        job: JobId,
        now: DateTime<Utc>,
    ) -> StoreResult<bool> {
        self.write(|tx| {
            let kind: Option<String> = tx
                .query_row(
                    "UPDATE jobs SET state = 'queued', attempts = 0, run_at = ?1, updated_at = ?1
                     WHERE id = ?2 AND state = 'dead' RETURNING kind",
                    params![micros(now), job.get()],
                    |r| r.get(0),
                )
                .map(Some)
                .or_else(|e| match e {
                    rusqlite::Error::QueryReturnedNoRows => Ok(None),
                    e => Err(db_err(e)),
                })?;
            let Some(kind) = kind else {
                return Ok(false);
            };
            insert_entry(tx, ctx, &Event::JobRetried { job_id: job, kind })?;
            Ok(true)
        })
    }

    async fn job_counts(&self) -> StoreResult<Vec<JobCount>> {
        let conn = self.reader();
        let mut stmt = conn
            .prepare_cached(
                "SELECT kind, state, COUNT(*) FROM jobs GROUP BY kind, state ORDER BY kind, state",
            )
            .map_err(db_err)?;
        let mut rows = stmt.query([]).map_err(db_err)?;
        let mut counts = Vec::new();
        while let Some(row) = rows.next().map_err(db_err)? {
            let state: String = row.get(1).map_err(db_err)?;
            counts.push(JobCount {
                kind: row.get(0).map_err(db_err)?,
                state: JobState::parse(&state).ok_or_else(|| StoreError::corrupt("job state"))?,
                count: row.get::<_, i64>(2).map_err(db_err)? as u64,
            });
        }
        Ok(counts)
    }

    async fn list_jobs(&self, filter: &JobFilter) -> StoreResult<Vec<Job>> {
        let conn = self.reader();
        let mut stmt = conn
            .prepare_cached(
                "SELECT id, kind, state, payload, run_at, attempts, max_attempts, locked_by, locked_until, last_error
                 FROM jobs WHERE (?1 IS NULL OR state = ?1) ORDER BY id DESC LIMIT ?2",
            )
            .map_err(db_err)?;
        let mut rows = stmt
            .query(params![filter.state.map(|s| s.as_str()), filter.limit])
            .map_err(db_err)?;
        let mut jobs = Vec::new();
        while let Some(row) = rows.next().map_err(db_err)? {
            let state: String = row.get(2).map_err(db_err)?;
            let payload: String = row.get(3).map_err(db_err)?;
            jobs.push(Job {
                id: JobId::new(row.get(0).map_err(db_err)?),
                kind: row.get(1).map_err(db_err)?,
                state: JobState::parse(&state).ok_or_else(|| StoreError::corrupt("job state"))?,
                payload: serde_json::from_str(&payload)
                    .map_err(|_| StoreError::corrupt("job payload"))?,
                run_at: from_micros(row.get(4).map_err(db_err)?)?,
                attempts: row.get(5).map_err(db_err)?,
                max_attempts: row.get(6).map_err(db_err)?,
                locked_by: row.get(7).map_err(db_err)?,
                locked_until: row
                    .get::<_, Option<i64>>(8)
                    .map_err(db_err)?
                    .map(from_micros)
                    .transpose()?,
                last_error: row.get(9).map_err(db_err)?,
            });
        }
        Ok(jobs)
    }
}
