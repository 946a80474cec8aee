//! `handoff mailboxes list | resume`: each sending mailbox's cap, sends
//! today, warm-up day and circuit breaker, and a person resuming one that
//! paused itself.

use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use chrono::{DateTime, Utc};
use clap::{Args, Subcommand};
use serde::Serialize;

use handoff_domain::schedule::{Health, SendPolicy, Window};
use handoff_domain::users::Username;
use handoff_domain::{Actor, EmailAddress};
use handoff_store::{CommandContext, Paused, Store, StoreError};

use crate::settings::{GlobalArgs, Settings};
use crate::store::{self, Migrate};

#[derive(Debug, Subcommand)]
pub enum Cmd {
    /// Caps, sends today, warm-up, last send, breakers; paused sequences.
    List(ListCmd),
    /// Resume a mailbox its circuit breaker paused (its queued messages go
    /// out again, by the schedule).
    Resume(ResumeCmd),
}

#[derive(Debug, Args)]
pub struct ListCmd {
    /// As of this time (RFC 3339), e.g. to see a dry run's day.
    #[arg(long)]
    at: Option<String>,
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Args)]
pub struct ResumeCmd {
    /// The mailbox's address.
    address: String,
    /// Why it is safe to send again; kept in the ledger.
    #[arg(long)]
    reason: String,
    #[arg(long)]
    json: bool,
}

/// One mailbox in the listing.
#[derive(Debug, Serialize)]
struct Row {
    address: String,
    owner: Option<String>,
    /// False for a mailbox that sent before but left the playbook.
    in_playbook: bool,
    daily_cap: Option<u32>,
    /// The cap today, with warm-up.
    cap_today: Option<u32>,
    sent_today: u32,
    warmup_day: Option<u32>,
    window: Option<String>,
    last_send: Option<DateTime<Utc>>,
    paused: Option<Paused>,
    health: Health,
}

#[derive(Debug, Serialize)]
struct Listing {
    mailboxes: Vec<Row>,
    paused_sequences: Vec<Paused>,
}

impl Cmd {
    pub async fn run(self, global: &GlobalArgs) -> Result<ExitCode> {
        let settings = Settings::load(global)?;
        match self {
            Cmd::List(cmd) => {
                let playbook = super::load_playbook(&settings.playbook_path)?;
                let store = store::open(&settings, Migrate::OnOpen).await?;
                let now = parse_at(cmd.at.as_deref())?.unwrap_or_else(Utc::now);
                let listing =
                    listing(store.as_ref(), &SendPolicy::from_playbook(&playbook), now).await?;
                if cmd.json {
                    crate::output::print_json(&listing)?;
                } else {
                    print_listing(&listing);
                }
            }
            Cmd::Resume(cmd) => {
                let address = EmailAddress::parse(&cmd.address).map_err(|e| {
                    anyhow::anyhow!("{} is not a mailbox address: {e}", cmd.address)
                })?;
                let store = store::open(&settings, Migrate::OnOpen).await?;
                let ctx = person(store.as_ref(), &cmd.reason).await?;
                store
                    .resume_mailbox(&ctx, address.as_str(), cmd.reason.trim())
                    .await
                    .map_err(|e| match e {
                        StoreError::NotFound { .. } => anyhow::anyhow!(
                            "mailbox {address} has never been used by the sender; `handoff mailboxes list` shows the known ones"
                        ),
                        StoreError::Refused { reason } => anyhow::anyhow!("{reason}: nothing to resume"),
                        other => anyhow::Error::new(other),
                    })?;
                if cmd.json {
                    crate::output::print_json(&serde_json::json!({
                        "resumed": "mailbox", "name": address.as_str(), "by": ctx.actor.name(), "reason": cmd.reason.trim(),
                    }))?;
                } else {
                    println!(
                        "Resumed mailbox {address}: its queued messages go out again by the schedule (`handoff send --due`)."
                    );
                }
            }
        }
        Ok(ExitCode::SUCCESS)
    }
}

pub(crate) fn parse_at(raw: Option<&str>) -> Result<Option<DateTime<Utc>>> {
    raw.map(|raw| {
        DateTime::parse_from_rfc3339(raw)
            .map(|t| t.with_timezone(&Utc))
            .with_context(|| {
                format!("--at {raw} is not an RFC 3339 time; write e.g. 2026-03-02T09:00:00Z")
            })
    })
    .transpose()
}

/// The person resuming (HANDOFF_USER, who must be a known user), with a
/// non-empty reason.
pub(crate) async fn person(store: &dyn Store, reason: &str) -> Result<CommandContext> {
    if reason.trim().is_empty() {
        bail!("--reason is empty: say why it is safe to send again (it is kept in the ledger)");
    }
    let user = super::init::operator();
    let username = Username::parse(&user)
        .map_err(|e| anyhow::anyhow!("HANDOFF_USER `{user}` is not a usable user name: {e}"))?;
    if store.find_user(&username).await?.is_none() {
        bail!(
            "HANDOFF_USER `{user}` is not a handoff user: set it to yours, or add it with `handoff users add {user}`"
        );
    }
    Ok(CommandContext::new(Actor::human(&user), None))
}

async fn listing(store: &dyn Store, policy: &SendPolicy, now: DateTime<Utc>) -> Result<Listing> {
    let states = store.mailbox_states(now).await?;
    let today = policy.day_of(now);
    let mut rows: Vec<Row> = policy
        .mailboxes
        .iter()
        .map(|rules| {
            let state = states.iter().find(|s| s.address == rules.address);
            let first_day = state.and_then(|s| s.first_send).map(|t| policy.day_of(t));
            Row {
                address: rules.address.clone(),
                owner: Some(rules.owner.clone()),
                in_playbook: true,
                daily_cap: Some(rules.daily_cap),
                cap_today: Some(rules.cap_on(first_day, today)),
                sent_today: state.map_or(0, |s| s.sent_today),
                warmup_day: rules.warmup_day(first_day, today),
                window: Some(window_text(&rules.window)),
                last_send: state.and_then(|s| s.last_send),
                paused: state.and_then(|s| s.paused.clone()),
                health: state.map(|s| s.health).unwrap_or_default(),
            }
        })
        .collect();
    for state in states
        .iter()
        .filter(|s| policy.mailbox(&s.address).is_none())
    {
        rows.push(Row {
            address: state.address.clone(),
            owner: None,
            in_playbook: false,
            daily_cap: None,
            cap_today: None,
            sent_today: state.sent_today,
            warmup_day: None,
            window: None,
            last_send: state.last_send,
            paused: state.paused.clone(),
            health: state.health,
        });
    }
    Ok(Listing {
        mailboxes: rows,
        paused_sequences: store.paused_sequences().await?,
    })
}

fn window_text(window: &Window) -> String {
    let days: Vec<String> = window
        .days
        .iter()
        .map(|d| d.to_string().to_lowercase())
        .collect();
    let clock = |m: u16| format!("{:02}:{:02}", m / 60, m % 60);
    format!(
        "{} {}-{}",
        days.join(","),
        clock(window.from_minute),
        clock(window.to_minute)
    )
}

fn print_listing(listing: &Listing) {
    if listing.mailboxes.is_empty() {
        println!("No mailbox: add a [[mailbox]] block to the playbook.");
    } else {
        let mut table = crate::output::table(&[
            "mailbox",
            "owner",
            "sent today",
            "warm-up",
            "window (contact's time)",
            "last send",
            "breaker",
        ]);
        for row in &listing.mailboxes {
            let sent = match row.cap_today {
                Some(cap) => format!("{} of {cap}", row.sent_today),
                None => format!("{} (not in the playbook)", row.sent_today),
            };
            let breaker = match &row.paused {
                Some(paused) => format!(
                    "PAUSED since {}: {}",
                    paused.at.format("%Y-%m-%d %H:%M UTC"),
                    paused.reason
                ),
                None => format!(
                    "ok ({} sends, {} bounces, {} complaints)",
                    row.health.sends, row.health.bounces, row.health.complaints
                ),
            };
            table.add_row(vec![
                row.address.clone(),
                row.owner.clone().unwrap_or_default(),
                sent,
                row.warmup_day
                    .map(|d| format!("day {d}"))
                    .unwrap_or_else(|| "-".into()),
                row.window.clone().unwrap_or_default(),
                row.last_send
                    .map(|t| t.format("%Y-%m-%d %H:%M UTC").to_string())
                    .unwrap_or_else(|| "never".into()),
                breaker,
            ]);
        }
        println!("{table}");
    }
    for paused in &listing.paused_sequences {
        println!(
            "Sequence {} is PAUSED since {}: {} (`handoff sequences resume {} --reason \"…\"`)",
            paused.name,
            paused.at.format("%Y-%m-%d %H:%M UTC"),
            paused.reason,
            paused.name
        );
    }
    if listing.mailboxes.iter().any(|m| m.paused.is_some()) {
        println!("Resume a paused mailbox with `handoff mailboxes resume ADDRESS --reason \"…\"`.");
    }
}
