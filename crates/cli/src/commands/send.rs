//! `handoff send --due [--at RFC3339]`: one pass of the sender. Mailboxes
//! with an `smtp` table send through it; the others write one .eml per
//! message to the workspace's `outbox/` folder.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context, Result, bail};
use clap::Args;
use secrecy::ExposeSecret;

use handoff_domain::playbook::Playbook;
use handoff_domain::schedule::SendPolicy;
use handoff_engine::sending::{SendConfig, SendLine, SendReport, Sender, Transports};
use handoff_mail::outbound::{FileOutbox, SmtpConfig, SmtpCredentials, SmtpTransport};
use handoff_store::Store;

use crate::settings::{
    Environment, GlobalArgs, ProcessEnv, Settings, resolve_secret, secret_from_env,
};
use crate::store::{self, Migrate};

/// Where the unsubscribe key may be given; otherwise one is generated and
/// kept in the database, shared by every process using it.
pub const UNSUBSCRIBE_KEY_ENV: &str = "HANDOFF_UNSUBSCRIBE_KEY";

/// Used for unsubscribe links when no mailbox sends real mail and the
/// playbook has no public_url (the file outbox only).
const OFFLINE_PUBLIC_URL: &str = "http://localhost:8080";

#[derive(Debug, Args)]
pub struct Cmd {
    /// Send what is due (the only mode so far; required so that a bare
    /// `handoff send` never sends by accident).
    #[arg(long, conflicts_with = "in_doubt")]
    due: bool,
    /// List the messages in doubt (a sender stopped mid-conversation): a
    /// person checks each at the server; handoff never resends them.
    #[arg(long)]
    in_doubt: bool,
    /// Act as if it were this time (RFC 3339, e.g. 2026-03-02T09:00:00Z).
    #[arg(long)]
    at: Option<String>,
    /// Messages handed over at once; also the most a crash can leave in doubt.
    #[arg(long, default_value_t = 4)]
    concurrency: u32,
    /// Seconds a claimed message stays leased; a sender that dies leaves
    /// its messages in doubt once this has passed.
    #[arg(long, default_value_t = 120)]
    lease_secs: i64,
    /// Temporary failures are tried this many times in all.
    #[arg(long, default_value_t = 5)]
    max_attempts: u32,
    /// Name of this sender in the ledger (default: host-pid).
    #[arg(long)]
    name: Option<String>,
    #[arg(long)]
    json: bool,
}

impl Cmd {
    pub async fn run(self, global: &GlobalArgs) -> Result<ExitCode> {
        if self.in_doubt {
            return list_in_doubt(global, self.json).await;
        }
        if !self.due {
            bail!(
                "say what to do: `handoff send --due` sends every message that is due, `handoff send --in-doubt` lists those a person must check"
            );
        }
        let at = super::mailboxes::parse_at(self.at.as_deref())?;
        let settings = Settings::load(global)?;
        let playbook = super::load_playbook(&settings.playbook_path)?;
        let store = store::open(&settings, Migrate::OnOpen).await?;
        let dir = playbook_dir(&settings.playbook_path);
        let outbox = dir.join("outbox");
        let transports = transports(&playbook, &dir, &outbox, &ProcessEnv)?;
        let public_url = match (
            &playbook.workspace.public_url,
            playbook.mailboxes.iter().any(|m| m.smtp.is_some()),
        ) {
            (Some(url), _) => url.clone(),
            (None, false) => OFFLINE_PUBLIC_URL.to_string(),
            (None, true) => bail!(
                "{}: [workspace] has no public_url, so unsubscribe links would point nowhere; \
                 add public_url = \"https://…\" (the address people reach handoff at) before sending real mail",
                settings.playbook_path.display()
            ),
        };
        let key = unsubscribe_key(store.as_ref(), &ProcessEnv).await?;
        let sender = Sender::new(
            store,
            transports,
            SendConfig {
                worker: self.name.clone().unwrap_or_else(default_name),
                lease: chrono::Duration::seconds(self.lease_secs.max(1)),
                concurrency: self.concurrency.max(1),
                max_attempts: self.max_attempts.max(1),
                physical_address: playbook.workspace.physical_address.clone(),
                public_url,
                unsubscribe_key: key,
            },
        )
        .with_policy(SendPolicy::from_playbook(&playbook));
        let report = sender.run_once(at).await?;
        if self.json {
            crate::output::print_json(&report)?;
        } else {
            print_report(&report, &outbox);
        }
        Ok(ExitCode::SUCCESS)
    }
}

async fn list_in_doubt(global: &GlobalArgs, json: bool) -> Result<ExitCode> {
    let settings = Settings::load(global)?;
    let store = store::open(&settings, Migrate::OnOpen).await?;
    let listed = store.list_in_doubt(10_000).await?;
    if json {
        crate::output::print_json(&listed)?;
    } else if listed.is_empty() {
        println!("No message is in doubt.");
    } else {
        let mut table = crate::output::table(&["message", "Message-ID", "to", "why"]);
        for m in listed {
            table.add_row(vec![
                m.message.id.to_string(),
                m.message.rfc_message_id,
                m.to.to_string(),
                m.reason,
            ]);
        }
        println!("{table}");
    }
    Ok(ExitCode::SUCCESS)
}

fn playbook_dir(path: &Path) -> PathBuf {
    path.parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."))
        .to_path_buf()
}

fn default_name() -> String {
    let host = std::env::var("HOSTNAME").unwrap_or_else(|_| "sender".into());
    format!("{host}-{}", std::process::id())
}

fn transports(
    playbook: &Playbook,
    dir: &Path,
    outbox: &Path,
    env: &dyn Environment,
) -> Result<Transports> {
    let file = FileOutbox::new(outbox)
        .with_context(|| format!("cannot use the outbox folder {}", outbox.display()))?;
    let mut transports = Transports::new(Arc::new(file));
    for mailbox in &playbook.mailboxes {
        let Some(smtp) = &mailbox.smtp else { continue };
        let mut config = SmtpConfig::new(smtp.host.clone(), smtp.port, smtp.tls.into());
        if let Some(username) = &smtp.username {
            let Some(source) = &smtp.password else {
                bail!(
                    "mailbox {} has an SMTP username but no password_env or password_file",
                    mailbox.address
                );
            };
            let password = resolve_secret(env, source, dir).map_err(|why| {
                anyhow::anyhow!("mailbox {} cannot log in to SMTP: {why}", mailbox.address)
            })?;
            config.credentials = Some(SmtpCredentials {
                username: username.clone(),
                password,
            });
        }
        let transport = SmtpTransport::new(config).with_context(|| {
            format!(
                "mailbox {}: the SMTP settings are not usable",
                mailbox.address
            )
        })?;
        transports = transports.with_mailbox(&mailbox.address, Arc::new(transport));
    }
    Ok(transports)
}

async fn unsubscribe_key(store: &dyn Store, env: &dyn Environment) -> Result<Vec<u8>> {
    if let Some((secret, _)) = secret_from_env(env, UNSUBSCRIBE_KEY_ENV)? {
        let key = secret.expose_secret().as_bytes().to_vec();
        if key.len() < 16 {
            bail!("{UNSUBSCRIBE_KEY_ENV} is shorter than 16 characters; use a long random value");
        }
        return Ok(key);
    }
    Ok(store
        .workspace_secret("unsubscribe_key")
        .await
        .context("cannot read or create the unsubscribe key in the database")?
        .into_bytes())
}

fn print_report(report: &SendReport, outbox: &Path) {
    if report.is_empty() {
        println!("Nothing is due.");
        return;
    }
    let section = |title: &str, lines: &[SendLine]| {
        if lines.is_empty() {
            return;
        }
        println!("{title} ({}):", lines.len());
        for l in lines {
            println!(
                "  {} {} — {}",
                l.rfc_message_id,
                l.to.as_deref().unwrap_or(""),
                l.detail
            );
        }
    };
    section("Sent", &report.sent);
    section(
        "Held (the reason, and when it is looked at again)",
        &report.held,
    );
    section("Deferred", &report.deferred);
    section("Failed", &report.failed);
    section(
        "In doubt (a person must check; never resent)",
        &report.in_doubt,
    );
    section("Recovered as in doubt", &report.recovered);
    section("Outcome not recorded (lease lost)", &report.lease_lost);
    if report
        .sent
        .iter()
        .any(|l| l.detail.starts_with("written to"))
    {
        println!("The file outbox is {}.", outbox.display());
    }
}
