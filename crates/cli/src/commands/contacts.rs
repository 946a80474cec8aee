//! `handoff contacts list|show`.

use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::{Args, Subcommand};
use serde_json::json;

use handoff_domain::scoring::{CompiledCondition, Outcome};
use handoff_engine::list_building::facts::facts_of;
use handoff_store::Prospect;

use crate::settings::{GlobalArgs, Settings};
use crate::store::{self, Migrate};

#[derive(Debug, Subcommand)]
pub enum Cmd {
    /// Contacts with their tier and verification, filtered.
    List(ListCmd),
    /// One contact: fields and where they came from, score reasons, history.
    Show(ShowCmd),
}

#[derive(Debug, Args)]
pub struct ListCmd {
    /// Only this tier: excellent, good, fair or not_a_fit.
    #[arg(long)]
    tier: Option<String>,
    /// A CEL condition over contact, account and signal, e.g.
    /// "account.employees > 100 && contact.seniority == 'vp'".
    #[arg(long = "where")]
    condition: Option<String>,
    #[arg(short = 'n', long, default_value_t = 100)]
    limit: usize,
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Args)]
pub struct ShowCmd {
    /// The contact's id or email address.
    contact: String,
    #[arg(long)]
    json: bool,
}

impl Cmd {
    pub async fn run(self, global: &GlobalArgs) -> Result<ExitCode> {
        let settings = Settings::load(global)?;
        let store = store::open(&settings, Migrate::OnOpen).await?;
        match self {
            Cmd::List(cmd) => {
                let condition = cmd
                    .condition
                    .as_deref()
                    .map(CompiledCondition::compile)
                    .transpose()
                    .map_err(|e| anyhow::anyhow!("--where is not a valid CEL condition: {e}"))?;
                let tier = cmd
                    .tier
                    .as_deref()
                    .map(|t| t.trim().to_lowercase().replace(' ', "_"));
                let mut matched: Vec<Prospect> = Vec::new();
                let mut after = None;
                'pages: loop {
                    let page = store.prospects(after, 1_000).await?;
                    let Some(last) = page.last() else { break };
                    after = Some(last.contact.id);
                    for p in page {
                        if let Some(t) = &tier
                            && p.score.as_ref().map(|s| &s.tier) != Some(t)
                        {
                            continue;
                        }
                        if let Some(cond) = &condition
                            && !matches!(cond.evaluate(&facts_of(&p)), Outcome::Match)
                        {
                            continue;
                        }
                        matched.push(p);
                        if matched.len() >= cmd.limit {
                            break 'pages;
                        }
                    }
                }
                if cmd.json {
                    crate::output::print_json(&matched)?;
                } else if matched.is_empty() {
                    println!("No contacts match.");
                } else {
                    let mut table = crate::output::table(&[
                        "id", "email", "name", "title", "company", "tier", "score", "address",
                    ]);
                    for p in &matched {
                        let c = &p.contact;
                        table.add_row(vec![
                            c.id.to_string(),
                            c.email.to_string(),
                            format!("{} {}", c.first_name, c.last_name)
                                .trim()
                                .to_string(),
                            c.title.clone(),
                            p.account
                                .as_ref()
                                .map(|a| a.name.clone())
                                .or(c.company.clone())
                                .unwrap_or_default(),
                            p.score
                                .as_ref()
                                .map(|s| s.tier.clone())
                                .unwrap_or_else(|| "-".into()),
                            p.score
                                .as_ref()
                                .map(|s| s.score.to_string())
                                .unwrap_or_else(|| "-".into()),
                            c.verification
                                .map(|v| v.to_string())
                                .unwrap_or_else(|| "unverified".into()),
                        ]);
                    }
                    println!("{table}");
                }
            }
            Cmd::Show(cmd) => {
                let id = super::resolve_contact(store.as_ref(), &cmd.contact).await?;
                let p = store
                    .prospect(id)
                    .await?
                    .with_context(|| format!("no contact {id}"))?;
                let history = handoff_engine::list_building::import::contact_history(
                    store.as_ref(),
                    &p.contact,
                    20,
                )
                .await?;
                let enrollments = store.list_enrollments(id).await?;
                if cmd.json {
                    crate::output::print_json(&json!({
                        "prospect": p,
                        "enrollments": enrollments,
                        "history": history,
                    }))?;
                    return Ok(ExitCode::SUCCESS);
                }
                let c = &p.contact;
                println!("{} {} <{}>  ({})", c.first_name, c.last_name, c.email, c.id);
                println!(
                    "  {}  — seniority {}, department {}",
                    c.title,
                    c.seniority.as_deref().unwrap_or("unknown"),
                    c.department.as_deref().unwrap_or("other")
                );
                if let Some(a) = &p.account {
                    println!(
                        "  account {} ({}) — industry {}, employees {}, tech [{}], tags [{}]",
                        a.name,
                        a.domain,
                        a.industry.as_deref().unwrap_or("?"),
                        a.employees
                            .map(|e| e.to_string())
                            .unwrap_or_else(|| "?".into()),
                        a.technologies.join(", "),
                        a.tags.join(", ")
                    );
                }
                println!(
                    "  address {}{}",
                    c.verification
                        .map(|v| v.to_string())
                        .unwrap_or_else(|| "not verified".into()),
                    c.verified_at
                        .map(|t| format!(" (checked {})", t.format("%Y-%m-%d %H:%M")))
                        .unwrap_or_default()
                );
                match &p.score {
                    Some(s) => {
                        println!("  ICP score {} ({})", s.score, s.tier);
                        for r in s.reasons.as_array().into_iter().flatten() {
                            println!(
                                "    {}",
                                r.get("text").and_then(|t| t.as_str()).unwrap_or_default()
                            );
                        }
                    }
                    None => println!("  not scored yet: run `handoff score`"),
                }
                let sources = c.field_sources.by_field();
                if !sources.is_empty() {
                    println!("  where the values came from:");
                    for (field, src) in sources {
                        println!(
                            "    {field}: {} row {}",
                            src.get("file").and_then(|f| f.as_str()).unwrap_or("?"),
                            src.get("row").map(|r| r.to_string()).unwrap_or_default()
                        );
                    }
                }
                for e in &enrollments {
                    println!("  in {} — {}", e.sequence, e.state);
                }
                println!("  history:");
                for h in &history {
                    println!(
                        "    {}  {}  {}",
                        h.at.format("%Y-%m-%d %H:%M"),
                        h.actor,
                        h.event.summary()
                    );
                }
            }
        }
        Ok(ExitCode::SUCCESS)
    }
}
