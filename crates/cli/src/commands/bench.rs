//! `handoff bench ledger`: committed ledger appends per second through the
//! Store, against a bare rusqlite loop doing the same INSERT with the same
//! pragmas, measured in the same run (machines are noisy; ratios are not).
//! `bench import`, `bench policy` and `bench draft` live in their own files.

use std::path::Path;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{Context, Result};
use clap::{Args, Subcommand};
use serde::Serialize;

use handoff_domain::{Actor, Event};
use handoff_store::{CommandContext, Ledger, Schema};
use handoff_store_sqlite::{Durability, SqliteStore};

use crate::settings::GlobalArgs;

#[derive(Debug, Subcommand)]
pub enum Cmd {
    /// Ledger appends on SQLite vs a bare rusqlite loop.
    Ledger(LedgerCmd),
    /// Import, verify and score a generated Apollo CSV vs DuckDB scoring it in SQL.
    Import(super::bench_import::ImportCmd),
    /// Governance verdicts per second with the default playbook vs its regexes alone.
    Policy(super::bench_policy::PolicyCmd),
    /// Template drafts/s vs a mail-merge; openai drafts/s vs the endpoint
    /// ceiling; model tokens per contact with research reuse vs per contact.
    Draft(super::bench_draft::DraftCmd),
    /// Sends/s through claim + checks + MIME + DKIM + SMTP vs a bare lettre
    /// loop to the same server; the file outbox's rate.
    Send(super::bench_send::SendCmd),
}

#[derive(Debug, Args)]
pub struct LedgerCmd {
    /// Single-event appends per round (each its own commit).
    #[arg(long, default_value_t = 20_000)]
    events: u64,
    /// Events per round on the batch path.
    #[arg(long, default_value_t = 200_000)]
    batch_events: u64,
    /// Events per transaction on the batch path.
    #[arg(long, default_value_t = 1_000)]
    batch_size: u64,
    /// Rounds; the best of each side is reported.
    #[arg(long, default_value_t = 3)]
    rounds: u32,
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Serialize)]
struct Row {
    path: &'static str,
    events: u64,
    handoff_per_sec: f64,
    rusqlite_per_sec: f64,
    ratio: f64,
}

impl Cmd {
    pub async fn run(self, _global: &GlobalArgs) -> Result<ExitCode> {
        match self {
            Cmd::Ledger(cmd) => cmd.run().await,
            Cmd::Import(cmd) => cmd.run().await,
            Cmd::Policy(cmd) => cmd.run().await,
            Cmd::Draft(cmd) => cmd.run().await,
            Cmd::Send(cmd) => cmd.run().await,
        }
    }
}

impl LedgerCmd {
    async fn run(self) -> Result<ExitCode> {
        let dir = tempfile::tempdir().context("cannot create a temporary folder")?;
        let ctx = CommandContext::new(Actor::system("bench"), None);
        let mut single = (0f64, 0f64);
        let mut batch = (0f64, 0f64);
        for round in 0..self.rounds.max(1) {
            // Fresh files each round so neither side benefits from a warm,
            // grown database the other did not have.
            let ours = dir.path().join(format!("handoff-{round}.db"));
            let theirs = dir.path().join(format!("rusqlite-{round}.db"));
            let store = SqliteStore::open(&ours, Durability::Normal)?;
            store.migrate().await?;
            let baseline = baseline_connection(&theirs)?;

            let rate = time(self.events, || async {
                for seq in 0..self.events {
                    store.append(&ctx, &probe(seq)).await?;
                }
                Ok(())
            })
            .await?;
            single.0 = single.0.max(rate);
            let rate = time_sync(self.events, || {
                let payload = serde_json::to_string(&probe(0))?;
                for _ in 0..self.events {
                    baseline_insert(&baseline, &ctx, &payload)?;
                }
                Ok(())
            })?;
            single.1 = single.1.max(rate);

            let size = self.batch_size.max(1);
            let rate = time(self.batch_events, || async {
                let mut seq = 0;
                while seq < self.batch_events {
                    let events: Vec<Event> = (seq..(seq + size).min(self.batch_events))
                        .map(probe)
                        .collect();
                    store.append_batch(&ctx, &events).await?;
                    seq += size;
                }
                Ok(())
            })
            .await?;
            batch.0 = batch.0.max(rate);
            let rate = time_sync(self.batch_events, || {
                let payload = serde_json::to_string(&probe(0))?;
                let mut seq = 0;
                while seq < self.batch_events {
                    baseline.execute_batch("BEGIN IMMEDIATE")?;
                    for _ in seq..(seq + size).min(self.batch_events) {
                        baseline_insert(&baseline, &ctx, &payload)?;
                    }
                    baseline.execute_batch("COMMIT")?;
                    seq += size;
                }
                Ok(())
            })?;
            batch.1 = batch.1.max(rate);
        }
        let rows = [
            Row {
                path: "single event, one commit each",
                events: self.events,
                handoff_per_sec: single.0,
                rusqlite_per_sec: single.1,
                ratio: single.0 / single.1,
            },
            Row {
                path: "batch, one commit per batch",
                events: self.batch_events,
                handoff_per_sec: batch.0,
                rusqlite_per_sec: batch.1,
                ratio: batch.0 / batch.1,
            },
        ];
        if self.json {
            crate::output::print_json(&rows)?;
        } else {
            println!(
                "Ledger appends on SQLite (WAL, synchronous=NORMAL), best of {} round(s); batch size {}",
                self.rounds, self.batch_size
            );
            let mut table = crate::output::table(&[
                "path",
                "events",
                "handoff /s",
                "bare rusqlite /s",
                "ratio",
            ]);
            for r in &rows {
                table.add_row(vec![
                    r.path.to_string(),
                    r.events.to_string(),
                    format!("{:.0}", r.handoff_per_sec),
                    format!("{:.0}", r.rusqlite_per_sec),
                    format!("{:.2}", r.ratio),
                ]);
            }
            println!("{table}");
            println!("Goal for the single-event path: ratio ≥ 0.70.");
        }
        Ok(ExitCode::SUCCESS)
    }
}

fn probe(seq: u64) -> Event {
    Event::BenchmarkProbe {
        run: "bench".to_string(),
        seq,
    }
}

/// The same schema (the real migration) and pragmas as the store.
fn baseline_connection(path: &Path) -> Result<rusqlite::Connection> {
    let conn = rusqlite::Connection::open(path)?;
    conn.busy_timeout(std::time::Duration::from_secs(10))?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    conn.execute_batch(handoff_store_sqlite::INITIAL_SCHEMA)?;
    Ok(conn)
}

fn baseline_insert(conn: &rusqlite::Connection, ctx: &CommandContext, payload: &str) -> Result<()> {
    let mut stmt = conn.prepare_cached(
        "INSERT INTO ledger (at, actor_kind, actor_name, kind, contact_id, account_id, user_id, job_id, policy_version, payload)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
    )?;
    stmt.execute(rusqlite::params![
        ctx.now.timestamp_micros(),
        ctx.actor.kind(),
        ctx.actor.name(),
        "benchmark_probe",
        Option::<String>::None,
        Option::<String>::None,
        Option::<String>::None,
        Option::<i64>::None,
        Option::<String>::None,
        payload,
    ])?;
    Ok(())
}

async fn time<F, Fut>(events: u64, f: F) -> Result<f64>
where
    F: FnOnce() -> Fut,
    Fut: std::future::Future<Output = Result<()>>,
{
    let start = Instant::now();
    f().await?;
    Ok(events as f64 / start.elapsed().as_secs_f64().max(1e-9))
}

fn time_sync(events: u64, f: impl FnOnce() -> Result<()>) -> Result<f64> {
    let start = Instant::now();
    f()?;
    Ok(events as f64 / start.elapsed().as_secs_f64().max(1e-9))
}
