//! `handoff jobs`: see the queue, feed it, bring dead jobs back.

use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::{Args, Subcommand};

use handoff_domain::jobs::{JobKind, JobState};
use handoff_domain::{Actor, JobId};
use handoff_store::{CommandContext, JobFilter, NewJob};

use crate::settings::{GlobalArgs, Settings};
use crate::store::{self, Migrate};

#[derive(Debug, Subcommand)]
pub enum Cmd {
    /// Counts by kind and state.
    Stats(StatsCmd),
    /// The newest jobs, optionally of one state (e.g. --state dead).
    List(ListCmd),
    /// Queue jobs (probe jobs prove the workers end to end).
    Enqueue(EnqueueCmd),
    /// Queue a dead job again after fixing its cause.
    Retry(RetryCmd),
}

#[derive(Debug, Args)]
pub struct StatsCmd {
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Args)]
pub struct ListCmd {
    #[arg(long, value_parser = parse_state)]
    state: Option<JobState>,
    #[arg(short = 'n', long, default_value_t = 50)]
    limit: u32,
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Args)]
pub struct EnqueueCmd {
    #[arg(value_parser = parse_kind)]
    kind: JobKind,
    #[arg(long, default_value_t = 1)]
    count: u32,
    /// JSON payload for every job, e.g. '{"work_ms": 20}'.
    #[arg(long, default_value = "{}")]
    payload: String,
    #[arg(long, default_value_t = 5)]
    max_attempts: i32,
}

#[derive(Debug, Args)]
pub struct RetryCmd {
    job_id: String,
}

fn parse_state(s: &str) -> Result<JobState, String> {
    JobState::parse(s)
        .ok_or_else(|| format!("unknown state `{s}`: use queued, running, done or dead"))
}

fn parse_kind(s: &str) -> Result<JobKind, String> {
    s.parse()
}

impl Cmd {
    pub async fn run(self, global: &GlobalArgs) -> Result<ExitCode> {
        let settings = Settings::load(global)?;
        let store = store::open(&settings, Migrate::OnOpen).await?;
        let ctx = CommandContext::new(Actor::human(&super::init::operator()), None);
        match self {
            Cmd::Stats(cmd) => {
                let counts = store.job_counts().await?;
                if cmd.json {
                    crate::output::print_json(&counts)?;
                } else if counts.is_empty() {
                    println!("The queue is empty.");
                } else {
                    let mut table = crate::output::table(&["kind", "state", "jobs"]);
                    for c in counts {
                        table.add_row(vec![c.kind, c.state.to_string(), c.count.to_string()]);
                    }
                    println!("{table}");
                }
            }
            Cmd::List(cmd) => {
                let jobs = store
                    .list_jobs(&JobFilter {
                        state: cmd.state,
                        limit: cmd.limit,
                    })
                    .await?;
                if cmd.json {
                    crate::output::print_json(&jobs)?;
                } else {
                    let mut table = crate::output::table(&[
                        "id",
                        "kind",
                        "state",
                        "attempts",
                        "run at (UTC)",
                        "locked by",
                        "last error",
                    ]);
                    for j in jobs {
                        table.add_row(vec![
                            j.id.to_string(),
                            j.kind,
                            j.state.to_string(),
                            format!("{}/{}", j.attempts, j.max_attempts),
                            j.run_at.format("%Y-%m-%d %H:%M:%S").to_string(),
                            j.locked_by.unwrap_or_default(),
                            j.last_error.unwrap_or_default(),
                        ]);
                    }
                    println!("{table}");
                }
            }
            Cmd::Enqueue(cmd) => {
                let payload: serde_json::Value = serde_json::from_str(&cmd.payload)
                    .context("--payload must be JSON, e.g. '{\"work_ms\": 20}'")?;
                let jobs: Vec<NewJob> = (0..cmd.count)
                    .map(|_| NewJob {
                        max_attempts: cmd.max_attempts.max(1),
                        ..NewJob::now(cmd.kind, payload.clone(), ctx.now)
                    })
                    .collect();
                let ids = store.enqueue(&ctx, &jobs).await?;
                match (ids.first(), ids.last()) {
                    (Some(first), Some(last)) => println!(
                        "Queued {} {} job(s): ids {first}..={last}",
                        ids.len(),
                        cmd.kind
                    ),
                    _ => println!("Nothing queued (--count 0)."),
                }
            }
            Cmd::Retry(cmd) => {
                let id: JobId = cmd
                    .job_id
                    .parse()
                    .context("a job id is a number, as in `handoff jobs list`")?;
                if store.requeue_dead(&ctx, id, ctx.now).await? {
                    println!("Job {id} is queued again.");
                } else {
                    anyhow::bail!("job {id} is not dead (see `handoff jobs list --state dead`)");
                }
            }
        }
        Ok(ExitCode::SUCCESS)
    }
}
