//! `handoff worker`: run background jobs until SIGTERM or Ctrl-C.

use std::process::ExitCode;
use std::time::Duration;

use anyhow::Result;
use clap::Args;

use handoff_engine::{DraftingDuty, Worked, Worker, WorkerConfig};

use crate::settings::{GlobalArgs, Settings};
use crate::store::{self, Migrate};

#[derive(Debug, Args)]
pub struct Cmd {
    /// Run one round (claim, work, record) and exit.
    #[arg(long)]
    once: bool,
    /// Exit when a round finds no due work.
    #[arg(long)]
    exit_when_idle: bool,
    /// Jobs leased per round.
    #[arg(long, default_value_t = 16)]
    batch: u32,
    /// Seconds a claimed job stays leased before another worker may take it.
    #[arg(long, default_value_t = 60)]
    lease_secs: i64,
    /// Milliseconds to wait when there is no work.
    #[arg(long, default_value_t = 500)]
    idle_ms: u64,
    /// Name shown in the queue and ledger (default: host-pid-random).
    #[arg(long)]
    name: Option<String>,
    /// Seconds between drafting passes (due sequence steps are drafted
    /// with the playbook's [model]).
    #[arg(long, default_value_t = 30)]
    draft_every_secs: u64,
    /// Run jobs only; leave drafting to other workers or `handoff draft --due`.
    #[arg(long)]
    no_drafting: bool,
}

impl Cmd {
    pub async fn run(self, global: &GlobalArgs) -> Result<ExitCode> {
        let settings = Settings::load(global)?;
        let store = store::open(&settings, Migrate::OnOpen).await?;
        let name = self.name.clone().unwrap_or_else(default_name);
        let mut config = WorkerConfig::new(name);
        config.batch = self.batch.max(1);
        config.lease = chrono::Duration::seconds(self.lease_secs.max(1));
        config.idle_wait = Duration::from_millis(self.idle_ms.max(10));
        let mut worker = Worker::new(store, config);
        if !self.no_drafting {
            match drafting_duty(&settings, Duration::from_secs(self.draft_every_secs.max(1)))? {
                Some(duty) => worker = worker.with_drafting(duty),
                None => eprintln!(
                    "no playbook at {}: this worker runs jobs but drafts nothing (pass --playbook FILE to draft)",
                    settings.playbook_path.display()
                ),
            }
        }
        if self.once {
            let worked = worker.run_once().await?;
            match worked {
                Worked::Ran(n) => println!("{}: ran {n} job(s)", worker.name()),
                Worked::Idle => println!("{}: no due jobs", worker.name()),
            }
            return Ok(ExitCode::SUCCESS);
        }
        eprintln!("{}: working ({})", worker.name(), settings.database_url);
        let total = worker.run(self.exit_when_idle, shutdown_signal()).await?;
        eprintln!("{}: stopped after {total} job(s)", worker.name());
        Ok(ExitCode::SUCCESS)
    }
}

/// Drafting with the playbook's [model], every `every`; None when there is
/// no playbook to draft from.
pub fn drafting_duty(settings: &Settings, every: Duration) -> Result<Option<DraftingDuty>> {
    if !settings.playbook_path.exists() {
        return Ok(None);
    }
    let playbook = super::load_playbook(&settings.playbook_path)?;
    let playbook_dir = settings
        .playbook_path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(std::path::Path::new("."));
    let drafter = super::drafter(&playbook, playbook_dir, None)?;
    Ok(Some(DraftingDuty::new(
        std::sync::Arc::new(playbook),
        drafter,
        every,
    )))
}

pub fn default_name() -> String {
    let host = std::fs::read_to_string("/etc/hostname")
        .map(|h| h.trim().to_string())
        .unwrap_or_else(|_| "host".into());
    let tag = uuid::Uuid::new_v4().simple().to_string();
    format!("{host}-{}-{}", std::process::id(), &tag[..6])
}

/// Resolves on SIGTERM or Ctrl-C.
pub async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = term.recv() => {}
                    _ = tokio::signal::ctrl_c() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
