//! `handoff verify`: can we send to these addresses?

use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Result, bail};
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};

use handoff_domain::Actor;
use handoff_engine::list_building::verify::verify_all;
use handoff_mail::address::dns::DnsConfig;
use handoff_mail::address::probe::{ProbeConfig, SmtpProber};
use handoff_mail::address::verify::Verifier;
use handoff_store::CommandContext;

use crate::settings::{GlobalArgs, Settings};
use crate::store::{self, Migrate};

#[derive(Debug, Args)]
pub struct Cmd {
    /// Verify every contact and store the verdicts.
    #[arg(long, conflicts_with = "address")]
    all: bool,
    /// Verify one address (nothing is stored).
    #[arg(long)]
    address: Option<String>,
    /// Syntax and lists only: no DNS lookups.
    #[arg(long)]
    offline: bool,
    /// DNS server to ask (repeatable; default: the system's resolv.conf).
    #[arg(long = "dns-server", value_name = "IP:PORT")]
    dns_servers: Vec<SocketAddr>,
    /// Lookups in flight at once.
    #[arg(long, default_value_t = 32)]
    concurrency: usize,
    /// Also ask each domain's mail server whether it accepts the recipient
    /// (SMTP RCPT, never DATA) and whether it accepts everyone (catch-all).
    /// Off by default: probing can hurt the sender's reputation.
    #[arg(long, requires = "probe_from")]
    smtp_probe: bool,
    /// Envelope sender for the probe, e.g. probe@your-domain.example.
    #[arg(long)]
    probe_from: Option<String>,
    /// Name the probe introduces itself with (EHLO).
    #[arg(long, default_value = "localhost")]
    probe_helo: String,
    /// Per-query DNS timeout in milliseconds.
    #[arg(long, default_value_t = 3000)]
    timeout_ms: u64,
    #[arg(long)]
    json: bool,
}

impl Cmd {
    fn verifier(&self) -> Result<Verifier> {
        if self.offline {
            if self.smtp_probe {
                bail!("--smtp-probe needs the network: drop --offline");
            }
            return Ok(Verifier::offline());
        }
        let config = DnsConfig {
            nameservers: self.dns_servers.clone(),
            timeout: Duration::from_millis(self.timeout_ms.max(1)),
            max_concurrent: self.concurrency.max(1),
            ..DnsConfig::default()
        };
        let verifier = Verifier::online(config)?;
        Ok(match (&self.smtp_probe, &self.probe_from) {
            (true, Some(from)) => verifier.with_probe(SmtpProber::new(ProbeConfig::new(
                self.probe_helo.clone(),
                from.clone(),
            ))),
            _ => verifier,
        })
    }

    /// Probing opens SMTP sessions to the same few mail servers: keep the
    /// number in flight small so they do not see a flood.
    fn concurrency(&self) -> usize {
        if self.smtp_probe {
            self.concurrency.clamp(1, 4)
        } else {
            self.concurrency.max(1)
        }
    }

    pub async fn run(self, global: &GlobalArgs) -> Result<ExitCode> {
        let verifier = self.verifier()?;
        if let Some(address) = &self.address {
            let check = verifier.check(address).await;
            if self.json {
                println!("{}", serde_json::to_string(&check)?);
            } else {
                println!("{address}: {} — {}", check.verdict, check.detail);
            }
            return Ok(ExitCode::SUCCESS);
        }
        if !self.all {
            bail!("say what to verify: --address ADDR for one address, or --all for every contact");
        }
        let settings = Settings::load(global)?;
        let store = store::open(&settings, Migrate::OnOpen).await?;
        let ctx = CommandContext::new(Actor::system("verify"), None);
        let bar = if self.json {
            ProgressBar::hidden()
        } else {
            ProgressBar::new_spinner()
        };
        bar.set_style(
            ProgressStyle::with_template("{spinner} verifying: {pos} contacts ({per_sec})")
                .unwrap_or_else(|_| ProgressStyle::default_spinner()),
        );
        let summary = verify_all(store, &ctx, &verifier, self.concurrency(), &|done| {
            bar.set_position(done)
        })
        .await;
        bar.finish_and_clear();
        let summary = summary?;
        if self.json {
            crate::output::print_json(&summary)?;
        } else {
            let mut table = crate::output::table(&["verdict", "contacts"]);
            for (verdict, count) in &summary.by_verdict {
                table.add_row(vec![verdict.clone(), count.to_string()]);
            }
            println!("{table}");
            println!(
                "{} contact(s) checked{}. Only `valid` addresses can be enrolled; `risky` ones need a person's --allow-risky.",
                summary.checked,
                if verifier.is_offline() {
                    " offline (no DNS)"
                } else {
                    ""
                }
            );
        }
        Ok(ExitCode::SUCCESS)
    }
}
