//! `handoff send-test-email --to ADDR`: checks a mailbox's setup end to end
//! by sending one short message through it, exactly as the sender would
//! (same composition, same transport), and says what the server answered or
//! why it would not take the message.

use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use clap::Args;
use serde::Serialize;

use handoff_domain::EmailAddress;
use handoff_mail::outbound::{
    Envelope, MessageId, OutgoingMessage, Receipt, UnsubscribeLink, compose,
};

use super::send::{playbook_dir, transports};
use crate::settings::{GlobalArgs, ProcessEnv, Settings};

#[derive(Debug, Args)]
pub struct Cmd {
    /// Where the test message goes (use an address you can read).
    #[arg(long)]
    to: String,
    /// The mailbox to test (default: the playbook's first [[mailbox]]).
    #[arg(long)]
    mailbox: Option<String>,
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Serialize)]
struct Outcome {
    mailbox: String,
    to: String,
    message_id: String,
    /// `smtp` or `file`.
    via: &'static str,
    /// The server's reply, or the file written.
    receipt: String,
    /// `SELECTOR._domainkey.DOMAIN` when the message was DKIM-signed.
    dkim: Option<String>,
}

impl Cmd {
    pub async fn run(self, global: &GlobalArgs) -> Result<ExitCode> {
        let to =
            EmailAddress::parse(&self.to).map_err(|e| anyhow::anyhow!("--to {}: {e}", self.to))?;
        let settings = Settings::load(global)?;
        let playbook = super::load_playbook(&settings.playbook_path)?;
        let mailbox = match &self.mailbox {
            Some(raw) => {
                let address = EmailAddress::parse(raw)
                    .map_err(|e| anyhow::anyhow!("--mailbox {raw}: {e}"))?;
                playbook
                    .mailboxes
                    .iter()
                    .find(|m| m.address == address)
                    .with_context(|| {
                        format!(
                            "{} has no [[mailbox]] with address = \"{address}\"; the playbook's mailboxes are: {}",
                            settings.playbook_path.display(),
                            mailbox_list(&playbook)
                        )
                    })?
            }
            None => match playbook.mailboxes.first() {
                Some(m) => m,
                None => bail!(
                    "{} has no [[mailbox]]: add one (see the commented example) to test it",
                    settings.playbook_path.display()
                ),
            },
        };
        let dir = playbook_dir(&settings.playbook_path);
        let outbox = dir.join("outbox");
        let transports = transports(&playbook, &dir, &outbox, &ProcessEnv, 1)?;
        let message_id = MessageId::generate(mailbox.address.domain()).map_err(|e| {
            anyhow::anyhow!("cannot make a Message-ID for {}: {e}", mailbox.address)
        })?;
        let public_url = playbook
            .workspace
            .public_url
            .clone()
            .unwrap_or_else(|| "http://localhost:8080".into());
        let unsubscribe = UnsubscribeLink::new(&public_url, "test")
            .with_context(|| format!("[workspace] public_url `{public_url}` cannot carry links"))?;
        let mut composed = compose(&OutgoingMessage {
            from: mailbox.address.clone(),
            from_name: None,
            to: to.clone(),
            to_name: None,
            subject: format!("handoff test message from {}", mailbox.address),
            body: format!(
                "This message checks that {} can send through its configured server.\n\n\
                 If it reached you, the mailbox's setup works. Look at its headers to check \
                 authentication (SPF, DKIM, DMARC) as the receiving server saw it.\n\n\
                 The unsubscribe link of a test message leads nowhere.",
                mailbox.address
            ),
            message_id: message_id.clone(),
            thread: None,
            physical_address: playbook.workspace.physical_address.clone(),
            unsubscribe,
            date: None,
        })
        .context("the test message could not be composed")?;
        let signer = transports.signer_for(&mailbox.address);
        if let Some(signer) = &signer {
            composed.sign(signer);
        }
        let raw = composed.to_bytes();
        let transport = transports.for_mailbox(&mailbox.address);
        let delivered = transport
            .deliver(Envelope {
                from: &mailbox.address,
                to: &to,
                message_id: &message_id,
                raw: &raw,
            })
            .await
            .map_err(|e| anyhow::anyhow!("mailbox {} could not send: {e}", mailbox.address))?;
        let (via, receipt) = match &delivered.receipt {
            Receipt::Smtp { code, reply } => ("smtp", format!("{code} {reply}")),
            Receipt::File { path } => ("file", path.display().to_string()),
        };
        let outcome = Outcome {
            mailbox: mailbox.address.to_string(),
            to: to.to_string(),
            message_id: message_id.bracketed(),
            via,
            receipt,
            dkim: signer.as_ref().map(|s| s.dns_name()),
        };
        if self.json {
            crate::output::print_json(&outcome)?;
        } else if via == "smtp" {
            let smtp = mailbox
                .smtp
                .as_ref()
                .map(|s| format!("{}:{}", s.host, s.port));
            println!(
                "Sent {} from {} to {} through {}; the server answered: {}",
                outcome.message_id,
                outcome.mailbox,
                outcome.to,
                smtp.unwrap_or_default(),
                outcome.receipt
            );
        } else {
            println!(
                "Mailbox {} has no [mailbox.smtp], so the test message was written to {} (the file outbox); add smtp = {{ host = …, port = 587, tls = \"starttls\" }} to send real mail.",
                outcome.mailbox, outcome.receipt
            );
        }
        Ok(ExitCode::SUCCESS)
    }
}

fn mailbox_list(playbook: &handoff_domain::playbook::Playbook) -> String {
    let names: Vec<String> = playbook
        .mailboxes
        .iter()
        .map(|m| m.address.to_string())
        .collect();
    if names.is_empty() {
        "none".into()
    } else {
        names.join(", ")
    }
}
