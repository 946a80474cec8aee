//! Workers lease jobs from the queue, run them outside any transaction, and
//! record the outcome. `run_once` does one round, so tests (and
//! `handoff worker --once`) can drive the queue step by step.

use std::sync::{Arc, Mutex};
use std::time::{Duration as StdDuration, Instant};

use chrono::{Duration, Utc};
use tracing::{info, warn};

use handoff_ai::Drafter;
use handoff_domain::jobs::{JobKind, RetryPolicy};
use handoff_domain::playbook::Playbook;
use handoff_domain::{Actor, Event};
use handoff_store::{ClaimRequest, ClaimedJob, CommandContext, Completion, Store, StoreError};

use crate::drafting::{Drafting, DraftingError, StepOutcome};
use crate::governance::{GovernanceError, effective_policy};

#[derive(Debug, Clone)]
pub struct WorkerConfig {
    /// Shown in `locked_by` and the ledger: host, process and a random tag.
    pub name: String,
    pub kinds: Vec<JobKind>,
    /// Jobs leased per round.
    pub batch: u32,
    /// How long a claimed job stays leased before others may reclaim it.
    pub lease: Duration,
    /// How long an idle worker waits before looking again.
    pub idle_wait: StdDuration,
    pub retry: RetryPolicy,
}

impl WorkerConfig {
    pub fn new(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            kinds: JobKind::ALL.to_vec(),
            batch: 16,
            lease: Duration::seconds(60),
            idle_wait: StdDuration::from_millis(500),
            retry: RetryPolicy::default(),
        }
    }
}

/// What one round did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Worked {
    /// Ran this many jobs (whatever their outcome).
    Ran(usize),
    Idle,
}

#[derive(Debug)]
pub struct Worker {
    store: Arc<dyn Store>,
    config: WorkerConfig,
    drafting: Option<DraftingDuty>,
}

/// The drafting stage, run by a worker between jobs: every `every`, it
/// drafts the enrolment steps that have come due.
pub struct DraftingDuty {
    pub playbook: Arc<Playbook>,
    pub drafter: Arc<dyn Drafter>,
    pub every: StdDuration,
    last: Mutex<Option<Instant>>,
}

impl std::fmt::Debug for DraftingDuty {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DraftingDuty")
            .field("backend", &self.drafter.backend())
            .field("every", &self.every)
            .finish()
    }
}

impl DraftingDuty {
    pub fn new(playbook: Arc<Playbook>, drafter: Arc<dyn Drafter>, every: StdDuration) -> Self {
        DraftingDuty {
            playbook,
            drafter,
            every,
            last: Mutex::new(None),
        }
    }

    /// Whether a pass is due, marking it started if so.
    fn due(&self) -> bool {
        let Ok(mut last) = self.last.lock() else {
            return false;
        };
        let due = last.is_none_or(|at| at.elapsed() >= self.every);
        if due {
            *last = Some(Instant::now());
        }
        due
    }
}

impl Worker {
    pub fn new(store: Arc<dyn Store>, config: WorkerConfig) -> Self {
        Self {
            store,
            config,
            drafting: None,
        }
    }

    /// Also runs the drafting stage.
    pub fn with_drafting(mut self, duty: DraftingDuty) -> Self {
        self.drafting = Some(duty);
        self
    }

    /// One drafting pass if one is due; the number of drafts written.
    async fn draft_due(&self) -> Result<usize, StoreError> {
        let Some(duty) = &self.drafting else {
            return Ok(0);
        };
        if !duty.due() {
            return Ok(0);
        }
        let ctx = CommandContext::new(
            Actor::system(&format!(
                "drafter:{} worker {}",
                duty.drafter.backend(),
                self.config.name
            )),
            Some(duty.playbook.policy_version()),
        );
        let policy = match effective_policy(self.store.as_ref(), &duty.playbook).await {
            Ok(policy) => policy,
            Err(GovernanceError::Store(e)) => return Err(e),
            Err(e) => {
                warn!(error = %e, "drafting skipped: the policy cannot be used");
                return Ok(0);
            }
        };
        let drafting = Drafting::new(&duty.playbook, &policy);
        match drafting
            .draft_due(
                self.store.as_ref(),
                &ctx,
                duty.drafter.as_ref(),
                ctx.now,
                &|_| {},
            )
            .await
        {
            Ok(summary) => {
                for step in &summary.steps {
                    if let StepOutcome::Failed { reason } = &step.outcome {
                        warn!(enrollment = %step.enrollment_id, step = step.step, %reason, "drafting failed; retried next pass");
                    }
                }
                if summary.drafted > 0 {
                    info!(
                        drafted = summary.drafted,
                        held = summary.held,
                        "drafted due steps"
                    );
                }
                Ok(summary.drafted as usize)
            }
            Err(DraftingError::Store(e)) => Err(e),
            Err(e) => {
                warn!(error = %e, "drafting pass stopped");
                Ok(0)
            }
        }
    }

    pub fn name(&self) -> &str {
        &self.config.name
    }

    fn ctx(&self) -> CommandContext {
        CommandContext::new(Actor::system(&format!("worker {}", self.config.name)), None)
    }

    /// Claims one batch, runs it, records each outcome.
    pub async fn run_once(&self) -> Result<Worked, StoreError> {
        let ctx = self.ctx();
        self.store.bury_expired(&ctx, ctx.now).await?;
        // Drafts nobody approved in time are never sent: mark them so.
        self.store.expire_drafts(&ctx, ctx.now).await?;
        // Tasks nobody resolved in time go to the assignee's manager.
        match crate::inbox::escalate_overdue(self.store.as_ref(), &ctx).await {
            Ok(moved) if !moved.is_empty() => {
                info!(count = moved.len(), "overdue escalations moved to managers");
            }
            Ok(_) => {}
            Err(crate::inbox::InboxError::Store(e)) => return Err(e),
            Err(e) => warn!(error = %e, "overdue escalations not moved"),
        }
        let claimed = self
            .store
            .claim(&ClaimRequest {
                worker: self.config.name.clone(),
                kinds: self.config.kinds.clone(),
                limit: self.config.batch,
                lease: self.config.lease,
                now: ctx.now,
            })
            .await?;
        let drafted = self.draft_due().await?;
        if claimed.is_empty() {
            return Ok(if drafted > 0 {
                Worked::Ran(drafted)
            } else {
                Worked::Idle
            });
        }
        for job in &claimed {
            let outcome = run_job(job, &self.config.name).await;
            let ctx = self.ctx();
            let recorded = match outcome {
                Ok(event) => self.store.complete(&ctx, job, &event).await?,
                Err(error) => {
                    self.store
                        .fail(&ctx, job, &error, &self.config.retry, Utc::now())
                        .await?
                }
            };
            match recorded {
                Completion::LeaseLost => warn!(
                    job_id = job.id.get(),
                    worker = %self.config.name,
                    "lease expired before the outcome was recorded; another worker owns the job"
                ),
                Completion::Dead => {
                    warn!(job_id = job.id.get(), kind = %job.kind, "job is dead after its last attempt")
                }
                Completion::Done | Completion::RetryAt(_) => {}
            }
        }
        Ok(Worked::Ran(claimed.len()))
    }

    /// Runs rounds until `shutdown` resolves, or (with `exit_when_idle`)
    /// until a round finds nothing to do. A round in progress finishes
    /// before shutdown so no outcome is left unrecorded.
    pub async fn run(
        &self,
        exit_when_idle: bool,
        shutdown: impl std::future::Future<Output = ()>,
    ) -> Result<u64, StoreError> {
        tokio::pin!(shutdown);
        let mut total = 0u64;
        loop {
            let round = self.run_once().await;
            match round {
                Ok(Worked::Ran(n)) => total += n as u64,
                Ok(Worked::Idle) if exit_when_idle => break,
                Ok(Worked::Idle) => {
                    tokio::select! {
                        _ = &mut shutdown => break,
                        _ = tokio::time::sleep(self.config.idle_wait) => {}
                    }
                    continue;
                }
                Err(e) => {
                    // A database hiccup should not kill the worker: wait, retry.
                    warn!(error = %e, "worker round failed; retrying");
                    tokio::select! {
                        _ = &mut shutdown => break,
                        _ = tokio::time::sleep(self.config.idle_wait * 4) => {}
                    }
                    continue;
                }
            }
            // Between busy rounds, a pending shutdown wins.
            tokio::select! {
                biased;
                _ = &mut shutdown => break,
                _ = std::future::ready(()) => {}
            }
        }
        info!(worker = %self.config.name, jobs = total, "worker stopped");
        Ok(total)
    }
}

/// Runs one job and returns the ledger event that records its outcome.
async fn run_job(job: &ClaimedJob, worker: &str) -> Result<Event, String> {
    match job.kind {
        JobKind::Probe => {
            // A probe may ask to take a while, so tests can stop a worker
            // with work in flight.
            if let Some(ms) = job.payload.get("work_ms").and_then(|v| v.as_u64()) {
                tokio::time::sleep(StdDuration::from_millis(ms.min(60_000))).await;
            }
            Ok(Event::ProbeCompleted {
                job_id: job.id,
                worker: worker.to_string(),
            })
        }
        JobKind::FailingProbe => {
            Err("failing_probe jobs always fail (they exist to show retries)".into())
        }
    }
}
