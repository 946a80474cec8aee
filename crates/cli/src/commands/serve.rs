//! `handoff serve`: the HTTP side (unsubscribe pages, approval links,
//! health) and the workers (jobs, drafting, review-window expiry, sending)
//! in one process. SIGTERM or Ctrl-C stops it cleanly: the server finishes
//! the requests in flight, and each worker finishes the round it is in, so
//! no claimed message is left without its outcome.

use std::net::SocketAddr;
use std::process::ExitCode;

use std::time::Duration;

use anyhow::{Context, Result};
use clap::Args;
use tokio::sync::watch;
use tokio::task::JoinSet;

use handoff_engine::sending::Sender;
use handoff_engine::{Worker, WorkerConfig};
use handoff_web::{AppState, WebConfig};

use super::send::{SenderOptions, SenderSetup, link_key};
use super::worker::{drafting_duty, shutdown_signal};
use crate::settings::{GlobalArgs, Settings};
use crate::store::{self, Migrate};

#[derive(Debug, Args)]
pub struct Cmd {
    /// Address to listen on; port 0 takes a free port (the address is printed).
    #[arg(long, env = "HANDOFF_LISTEN", default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    /// Serve HTTP only; leave the work to `handoff worker` processes and
    /// `handoff send --due`.
    #[arg(long)]
    no_workers: bool,
    /// Run every worker but the sender.
    #[arg(long)]
    no_sending: bool,
    /// Seconds between send passes.
    #[arg(long, default_value_t = 30)]
    send_every_secs: u64,
    /// Seconds between drafting passes.
    #[arg(long, default_value_t = 30)]
    draft_every_secs: u64,
    /// Messages handed over at once; also the most a crash can leave in doubt.
    #[arg(long, default_value_t = 4)]
    concurrency: u32,
}

impl Cmd {
    pub async fn run(self, global: &GlobalArgs) -> Result<ExitCode> {
        let settings = Settings::load(global)?;
        let playbook = super::load_playbook(&settings.playbook_path)?;
        let store = store::open(&settings, Migrate::OnOpen).await?;
        let listener = tokio::net::TcpListener::bind(self.listen)
            .await
            .with_context(|| {
                format!(
                    "cannot listen on {}: is another handoff serve running? choose another with --listen",
                    self.listen
                )
            })?;
        let bound = listener.local_addr()?;
        let name = format!("serve-{}", std::process::id());
        // Without a public_url, links in file-outbox mail point at this
        // server itself.
        let setup = SenderSetup::new(
            &playbook,
            &settings.playbook_path,
            store.clone(),
            SenderOptions {
                worker: name.clone(),
                lease: chrono::Duration::seconds(120),
                concurrency: self.concurrency.max(1),
                max_attempts: 5,
                offline_public_url: format!("http://{bound}"),
            },
        )
        .await?;
        let public_url: url::Url = setup.public_url.parse().with_context(|| {
            format!(
                "[workspace] public_url `{}` is not a URL; write e.g. https://handoff.example.com",
                setup.public_url
            )
        })?;
        let web = AppState::new(
            store.clone(),
            WebConfig {
                public_url: public_url.clone(),
                workspace_name: playbook.workspace.name.clone(),
                physical_address: playbook.workspace.physical_address.clone(),
                unsubscribe_key: setup.unsubscribe_key.clone(),
                link_key: link_key(store.as_ref()).await?,
                mailboxes: playbook.mailboxes.clone(),
            },
        );

        let (stop_tx, stop_rx) = watch::channel(false);
        let mut tasks = JoinSet::new();
        tasks.spawn(run_http(
            listener,
            handoff_web::router(web),
            stop_rx.clone(),
        ));
        let mut duties = vec!["http".to_string()];
        if !self.no_workers {
            let mut worker = Worker::new(store.clone(), WorkerConfig::new(name.clone()));
            let every = Duration::from_secs(self.draft_every_secs.max(1));
            if let Some(duty) = drafting_duty(&settings, every)? {
                worker = worker.with_drafting(duty);
                duties.push(format!("drafting every {}s", every.as_secs()));
            }
            duties.push("jobs and review-window expiry".into());
            tasks.spawn(run_worker(worker, stop_rx.clone()));
            if !self.no_sending {
                let every = Duration::from_secs(self.send_every_secs.max(1));
                duties.push(format!("sending every {}s", every.as_secs()));
                tasks.spawn(run_sender(setup.sender, every, stop_rx.clone()));
            }
        }
        eprintln!(
            "handoff serve: listening on http://{bound} (links use {public_url}); {} ({})",
            duties.join(", "),
            settings.database_url
        );

        let mut failed = false;
        tokio::select! {
            _ = shutdown_signal() => eprintln!("handoff serve: stopping (finishing the work in hand)"),
            Some(done) = tasks.join_next() => {
                // A part stopped on its own: stop the rest and say why.
                failed = true;
                report(done);
            }
        }
        let _ = stop_tx.send(true);
        while let Some(done) = tasks.join_next().await {
            failed |= report(done);
        }
        eprintln!("handoff serve: stopped");
        Ok(if failed {
            ExitCode::FAILURE
        } else {
            ExitCode::SUCCESS
        })
    }
}

/// True when the part failed.
fn report(done: Result<Result<&'static str>, tokio::task::JoinError>) -> bool {
    match done {
        Ok(Ok(_)) => false,
        Ok(Err(e)) => {
            eprintln!("handoff serve: {e:#}");
            true
        }
        Err(e) => {
            eprintln!("handoff serve: a part stopped unexpectedly: {e}");
            true
        }
    }
}

async fn stopped(mut stop: watch::Receiver<bool>) {
    // An error means the sender side is gone: stop too.
    let _ = stop.wait_for(|stop| *stop).await;
}

async fn run_http(
    listener: tokio::net::TcpListener,
    app: handoff_web::Router,
    stop: watch::Receiver<bool>,
) -> Result<&'static str> {
    handoff_web::serve(listener, app, stopped(stop))
        .await
        .context("the HTTP server stopped")?;
    Ok("http")
}

async fn run_worker(worker: Worker, stop: watch::Receiver<bool>) -> Result<&'static str> {
    let total = worker
        .run(false, stopped(stop))
        .await
        .context("the worker stopped")?;
    tracing::info!(jobs = total, "worker stopped");
    Ok("worker")
}

/// One send pass every `every`; a pass in progress finishes before stopping.
async fn run_sender(
    sender: Sender,
    every: Duration,
    mut stop: watch::Receiver<bool>,
) -> Result<&'static str> {
    loop {
        let stopping = stop.clone();
        match sender.run_until(None, &move || *stopping.borrow()).await {
            Ok(report) if !report.is_empty() => tracing::info!(
                sent = report.sent.len(),
                held = report.held.len(),
                deferred = report.deferred.len(),
                failed = report.failed.len(),
                in_doubt = report.in_doubt.len() + report.recovered.len(),
                "send pass"
            ),
            Ok(_) => {}
            // A database hiccup should not stop sending for good.
            Err(e) => tracing::warn!(error = %e, "send pass failed; retrying"),
        }
        tokio::select! {
            _ = stop.wait_for(|stop| *stop) => return Ok("sender"),
            _ = tokio::time::sleep(every) => {}
        }
    }
}
