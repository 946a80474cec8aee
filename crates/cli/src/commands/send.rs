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
use handoff_mail::outbound::{
    DkimSettings, DkimSigner, FileOutbox, SmtpConfig, SmtpCredentials, SmtpTransport,
};
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
        let setup = SenderSetup::new(
            &playbook,
            &settings.playbook_path,
            store,
            SenderOptions {
                worker: self.name.clone().unwrap_or_else(default_name),
                lease: chrono::Duration::seconds(self.lease_secs.max(1)),
                concurrency: self.concurrency.max(1),
                max_attempts: self.max_attempts.max(1),
                offline_public_url: OFFLINE_PUBLIC_URL.to_string(),
            },
        )
        .await?;
        let (sender, outbox) = (setup.sender, setup.outbox);
        let report = sender.run_once(at).await?;
        if self.json {
            crate::output::print_json(&report)?;
        } else {
            print_report(&report, &outbox);
        }
        Ok(ExitCode::SUCCESS)
    }
}

/// How a sender is set up, besides what the playbook says.
#[derive(Debug, Clone)]
pub struct SenderOptions {
    pub worker: String,
    pub lease: chrono::Duration,
    pub concurrency: u32,
    pub max_attempts: u32,
    /// Links point here when the playbook has no public_url and every
    /// mailbox writes to the file outbox.
    pub offline_public_url: String,
}

/// A sender wired from the playbook: transports per mailbox, the public
/// URL of unsubscribe links and the key that signs them.
#[derive(Debug)]
pub struct SenderSetup {
    pub sender: Sender,
    pub outbox: PathBuf,
    pub public_url: String,
    pub unsubscribe_key: Vec<u8>,
}

impl SenderSetup {
    pub async fn new(
        playbook: &Playbook,
        playbook_path: &Path,
        store: Arc<dyn Store>,
        options: SenderOptions,
    ) -> Result<Self> {
        let dir = playbook_dir(playbook_path);
        let outbox = dir.join("outbox");
        let pool = options.concurrency as usize;
        let transports = transports(playbook, &dir, &outbox, &ProcessEnv, pool)?;
        let public_url = match (
            &playbook.workspace.public_url,
            playbook.mailboxes.iter().any(|m| m.smtp.is_some()),
        ) {
            (Some(url), _) => url.clone(),
            (None, false) => options.offline_public_url.clone(),
            (None, true) => bail!(
                "{}: [workspace] has no public_url, so unsubscribe links would point nowhere; \
                 add public_url = \"https://…\" (the address people reach handoff at) before sending real mail",
                playbook_path.display()
            ),
        };
        let key = unsubscribe_key(store.as_ref(), &ProcessEnv).await?;
        let sender = Sender::new(
            store,
            transports,
            SendConfig {
                worker: options.worker,
                lease: options.lease,
                concurrency: options.concurrency,
                max_attempts: options.max_attempts,
                physical_address: playbook.workspace.physical_address.clone(),
                public_url: public_url.clone(),
                unsubscribe_key: key.clone(),
            },
        )
        .with_policy(SendPolicy::from_playbook(playbook));
        Ok(Self {
            sender,
            outbox,
            public_url,
            unsubscribe_key: key,
        })
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

pub fn playbook_dir(path: &Path) -> PathBuf {
    path.parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."))
        .to_path_buf()
}

fn default_name() -> String {
    let host = std::env::var("HOSTNAME").unwrap_or_else(|_| "sender".into());
    format!("{host}-{}", std::process::id())
}

pub fn transports(
    playbook: &Playbook,
    dir: &Path,
    outbox: &Path,
    env: &dyn Environment,
    pool: usize,
) -> Result<Transports> {
    let file = FileOutbox::new(outbox)
        .with_context(|| format!("cannot use the outbox folder {}", outbox.display()))?;
    let mut transports = Transports::new(Arc::new(file));
    for mailbox in &playbook.mailboxes {
        if let Some(dkim) = &mailbox.dkim {
            let signer = DkimSigner::from_settings(&DkimSettings {
                domain: dkim.domain.clone(),
                selector: dkim.selector.clone(),
                key_file: dir.join(&dkim.key_file),
            })
            .map_err(|e| {
                anyhow::anyhow!("mailbox {} cannot sign with DKIM: {e}", mailbox.address)
            })?;
            transports = transports.with_signer(&mailbox.address, Arc::new(signer));
        }
        let Some(smtp) = &mailbox.smtp else { continue };
        let mut config = SmtpConfig::new(smtp.host.clone(), smtp.port, smtp.tls.into());
        // Keep a connection open for each message the sender hands over at once.
        config.max_idle_connections = config.max_idle_connections.max(pool);
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
    workspace_key(store, env, UNSUBSCRIBE_KEY_ENV, "unsubscribe_key").await
}

/// Where the approval-link key may be given; otherwise one is generated and
/// kept in the database like the unsubscribe key.
pub const LINK_KEY_ENV: &str = "HANDOFF_LINK_KEY";

/// Signs approve and reject links (`handoff queue links`, `handoff serve`).
pub async fn link_key(store: &dyn Store) -> Result<Vec<u8>> {
    workspace_key(store, &ProcessEnv, LINK_KEY_ENV, "approval_link_key").await
}

/// A signing key from `ENV` (or `ENV_FILE`), else the workspace's own,
/// created on first use and shared by every process on the database.
async fn workspace_key(
    store: &dyn Store,
    env: &dyn Environment,
    env_name: &str,
    secret_name: &str,
) -> Result<Vec<u8>> {
    if let Some((secret, _)) = secret_from_env(env, env_name)? {
        let key = secret.expose_secret().as_bytes().to_vec();
        if key.len() < 16 {
            bail!("{env_name} is shorter than 16 characters; use a long random value");
        }
        return Ok(key);
    }
    Ok(store
        .workspace_secret(secret_name)
        .await
        .with_context(|| format!("cannot read or create the {secret_name} in the database"))?
        .into_bytes())
}

pub fn print_report(report: &SendReport, outbox: &Path) {
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
