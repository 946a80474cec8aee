//! `handoff bench send`: messages per second through the whole sender —
//! claim (re-checking approval, stops, suppression), MIME, DKIM, SMTP,
//! outcome — against a bare lettre loop sending the same number of
//! prebuilt, signed messages to the same local SMTP server in the same run.
//! Also the file outbox's rate, through the same sender.
//!
//! The server is aiosmtpd (the project's test sink, `--no-record`), run with
//! python3; it is installed with pip when missing. Both sides talk to the
//! same process, so what differs between them is handoff's own work.

use std::path::Path;
use std::process::{Child, Command, ExitCode, Stdio};
use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use clap::Args;

use handoff_domain::EmailAddress;
use handoff_engine::sending::{SendConfig, Sender, Transports};
use handoff_mail::outbound::bench::{BenchMessage, BenchRun, lettre_baseline};
use handoff_mail::outbound::{
    DkimSigner, FileOutbox, MessageId, OutgoingMessage, Security, SmtpConfig, SmtpTransport,
    UnsubscribeLink, compose,
};
use handoff_store::conformance::seed_sendable;
use handoff_store::{Schema, Store};
use handoff_store_sqlite::{Durability, SqliteStore};

/// The project's SMTP test sink; `--no-record` makes it count and discard.
const SINK: &str = include_str!("../../../testkit/smtp_sink.py");
const MAILBOX: &str = "sdr@northwind.example";

#[derive(Debug, Args)]
pub struct SendCmd {
    /// Messages per run.
    #[arg(long, default_value_t = 5000)]
    messages: usize,
    /// Messages handed over at once, on both sides.
    #[arg(long, default_value_t = 16)]
    concurrency: usize,
    /// The python3 that runs the SMTP server.
    #[arg(long, default_value = "python3")]
    python: String,
}

struct Sink(Child);

impl Drop for Sink {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start_sink(python: &str, dir: &Path) -> Result<(Sink, u16)> {
    use std::io::{BufRead, BufReader};
    let importable = |python: &str| {
        Command::new(python)
            .args(["-c", "import aiosmtpd"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    };
    if !importable(python) {
        eprintln!("installing aiosmtpd (the SMTP server both sides send to) with pip …");
        let _ = Command::new(python)
            .args(["-m", "pip", "install", "--quiet", "aiosmtpd"])
            .status();
        if !importable(python) {
            bail!("the bench needs python's aiosmtpd: run `{python} -m pip install aiosmtpd`");
        }
    }
    let script = dir.join("smtp_sink.py");
    std::fs::write(&script, SINK)?;
    let out = dir.join("sink");
    std::fs::create_dir_all(&out)?;
    let mut child = Command::new(python)
        .arg("-u")
        .arg(&script)
        .arg("--out")
        .arg(&out)
        .arg("--no-record")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .with_context(|| format!("cannot run {python}"))?;
    let stdout = child.stdout.take().context("the sink's output")?;
    let mut lines = BufReader::new(stdout).lines();
    let port = loop {
        match lines.next() {
            Some(Ok(line)) => {
                if let Some(port) = line.strip_prefix("READY ") {
                    break port.trim().parse::<u16>().context("the sink's port")?;
                }
            }
            _ => bail!("the SMTP sink did not start"),
        }
    };
    // Keep reading its per-message lines so it never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines {});
    Ok((Sink(child), port))
}

/// A fresh SQLite store with `count` approved or automatic messages due now.
async fn seeded(dir: &Path, name: &str, count: usize) -> Result<Arc<dyn Store>> {
    let store = SqliteStore::open(&dir.join(name), Durability::Normal)?;
    store.migrate().await?;
    let store: Arc<dyn Store> = Arc::new(store);
    seed_sendable(store.as_ref(), count, MAILBOX).await;
    Ok(store)
}

fn dkim_signer(dir: &Path) -> Option<DkimSigner> {
    let key = dir.join("dkim.pem");
    let made = Command::new("openssl")
        .args(["genpkey", "-algorithm", "ed25519", "-out"])
        .arg(&key)
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !made {
        return None;
    }
    let pem = std::fs::read(&key).ok()?;
    DkimSigner::from_key("northwind.example", "s2026", &pem, &key).ok()
}

fn send_config(concurrency: usize) -> SendConfig {
    SendConfig {
        worker: "bench".into(),
        lease: chrono::Duration::seconds(300),
        concurrency: u32::try_from(concurrency).unwrap_or(16),
        max_attempts: 1,
        physical_address: "100 Main St, Boston, MA 02110, USA".into(),
        public_url: "https://handoff.northwind.example".into(),
        unsubscribe_key: b"the bench's unsubscribe key".to_vec(),
    }
}

/// The same messages the sender composes, built and signed beforehand.
async fn prebuilt(store: &dyn Store, signer: Option<&DkimSigner>) -> Result<Vec<BenchMessage>> {
    let from = EmailAddress::parse(MAILBOX).map_err(anyhow::Error::msg)?;
    let mut out = Vec::new();
    for (n, contact) in store
        .prospects(None, u32::MAX)
        .await?
        .into_iter()
        .enumerate()
    {
        let message_id = MessageId::parse(&format!("prebuilt-{n}@northwind.example"))?;
        let mut composed = compose(&OutgoingMessage {
            from: from.clone(),
            from_name: None,
            to: contact.contact.email.clone(),
            to_name: Some(format!(
                "{} {}",
                contact.contact.first_name, contact.contact.last_name
            )),
            subject: "Quick question".into(),
            body: format!("Hi Pat, a note for prospect {n}. Worth a call on Tuesday?"),
            message_id: message_id.clone(),
            thread: None,
            physical_address: "100 Main St, Boston, MA 02110, USA".into(),
            unsubscribe: UnsubscribeLink::new(
                "https://handoff.northwind.example",
                &format!("{}.0123456789abcdef0123456789abcdef", uuid::Uuid::now_v7()),
            )?,
            date: None,
        })?;
        if let Some(signer) = signer {
            composed.sign(signer);
        }
        out.push(BenchMessage {
            from: from.clone(),
            to: contact.contact.email,
            message_id,
            raw: composed.to_bytes(),
        });
    }
    Ok(out)
}

async fn through_sender(
    store: Arc<dyn Store>,
    transports: Transports,
    concurrency: usize,
) -> Result<BenchRun> {
    let sender = Sender::new(store, transports, send_config(concurrency));
    let started = Instant::now();
    let report = sender.run_once(None).await?;
    Ok(BenchRun {
        sent: report.sent.len(),
        failed: report.failed.len() + report.in_doubt.len() + report.held.len(),
        elapsed: started.elapsed(),
        first_error: report
            .failed
            .first()
            .or(report.in_doubt.first())
            .or(report.held.first())
            .map(|l| l.detail.clone()),
    })
}

impl SendCmd {
    pub async fn run(self) -> Result<ExitCode> {
        let n = self.messages.max(1);
        let concurrency = self.concurrency.max(1);
        let dir = tempfile::tempdir()?;
        let (_sink, port) = start_sink(&self.python, dir.path())?;
        let signer = dkim_signer(dir.path());
        let dkim = if signer.is_some() {
            "ed25519 on both SMTP sides"
        } else {
            "off (openssl could not make a key)"
        };
        // The same pool on both sides: lettre's baseline pools `concurrency`
        // connections, so the transport keeps as many open.
        let mut config = SmtpConfig::new("127.0.0.1", port, Security::None);
        config.max_idle_connections = concurrency;
        eprintln!("seeding {n} approved messages (not timed) …");
        let smtp_store = seeded(dir.path(), "smtp.db", n).await?;
        let file_store = seeded(dir.path(), "file.db", n).await?;
        let baseline_messages = Arc::new(prebuilt(smtp_store.as_ref(), signer.as_ref()).await?);

        eprintln!("lettre baseline …");
        let baseline = lettre_baseline(&config, baseline_messages, concurrency).await?;
        eprintln!("handoff sender over SMTP …");
        let mailbox = EmailAddress::parse(MAILBOX).map_err(anyhow::Error::msg)?;
        let smtp: Arc<dyn handoff_mail::outbound::Transport> =
            Arc::new(SmtpTransport::new(config.clone())?);
        let outbox = FileOutbox::new(dir.path().join("outbox"))?;
        let mut transports = Transports::new(Arc::new(outbox)).with_mailbox(&mailbox, smtp);
        if let Some(signer) = signer {
            transports = transports.with_signer(&mailbox, Arc::new(signer));
        }
        let ours = through_sender(smtp_store, transports, concurrency).await?;
        eprintln!("handoff sender into the file outbox …");
        let files = FileOutbox::new(dir.path().join("outbox-files"))?;
        let file =
            through_sender(file_store, Transports::new(Arc::new(files)), concurrency).await?;

        let ratio = ours.per_second() / baseline.per_second().max(f64::MIN_POSITIVE);
        let mut table = crate::output::table(&["path", "sent", "failed", "seconds", "messages/s"]);
        for (name, run) in [
            ("lettre loop, prebuilt messages (baseline)", &baseline),
            (
                "handoff: claim + checks + MIME + DKIM + SMTP + record",
                &ours,
            ),
            ("handoff: file outbox (one .eml each, fsynced)", &file),
        ] {
            table.add_row(vec![
                name.to_string(),
                run.sent.to_string(),
                run.failed.to_string(),
                format!("{:.2}", run.elapsed.as_secs_f64()),
                format!("{:.0}", run.per_second()),
            ]);
        }
        println!(
            "Sending {n} messages, {concurrency} at a time, to one local aiosmtpd server (same run); DKIM: {}",
            dkim
        );
        println!("{table}");
        println!(
            "ratio handoff / lettre: {ratio:.2} (goal ≥ 0.8) {}",
            if ratio >= 0.8 { "met" } else { "NOT met" }
        );
        println!(
            "file outbox: {:.0} messages/s (goal ≥ 1000) {}",
            file.per_second(),
            if file.per_second() >= 1000.0 {
                "met"
            } else {
                "NOT met"
            }
        );
        for (name, run) in [("baseline", &baseline), ("handoff", &ours), ("file", &file)] {
            if let Some(why) = &run.first_error {
                println!("{name}: {} failed, first: {why}", run.failed);
            }
        }
        Ok(ExitCode::SUCCESS)
    }
}
