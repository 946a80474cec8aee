//! `handoff ai prompt`: exactly what a model would be sent for one step of
//! one contact's enrolment — and, by name only, what was held back.

use std::process::ExitCode;

use anyhow::Result;
use clap::{Args, Subcommand};
use serde_json::json;

use handoff_domain::Actor;
use handoff_domain::drafting::prompt;
use handoff_engine::drafting::Drafting;
use handoff_engine::governance::effective_policy;
use handoff_store::CommandContext;

use crate::settings::{GlobalArgs, Settings};
use crate::store::{self, Migrate};

#[derive(Debug, Subcommand)]
pub enum Cmd {
    /// Show the prompt a model would see for a contact's step.
    Prompt(PromptCmd),
}

#[derive(Debug, Args)]
pub struct PromptCmd {
    /// Contact id or email address.
    #[arg(long)]
    contact: String,
    /// The step, counting from 1.
    #[arg(long, default_value_t = 1)]
    step: u32,
    /// The sequence (default: the contact's only enrolment).
    #[arg(long)]
    sequence: Option<String>,
    #[arg(long)]
    json: bool,
}

impl Cmd {
    pub async fn run(self, global: &GlobalArgs) -> Result<ExitCode> {
        let Cmd::Prompt(cmd) = self;
        let settings = Settings::load(global)?;
        let playbook = super::load_playbook(&settings.playbook_path)?;
        let store = store::open(&settings, Migrate::OnOpen).await?;
        let ctx = CommandContext::new(
            Actor::human(&super::init::operator()),
            Some(playbook.policy_version()),
        );
        let id = super::resolve_contact(store.as_ref(), &cmd.contact).await?;
        let prospect = store
            .prospect(id)
            .await?
            .ok_or_else(|| anyhow::anyhow!("no contact {id}"))?;
        let sequence = match &cmd.sequence {
            Some(name) => name.clone(),
            None => {
                let enrollments = store.list_enrollments(id).await?;
                match enrollments.as_slice() {
                    [one] => one.sequence.clone(),
                    [] => anyhow::bail!(
                        "contact {} is in no sequence: name one with --sequence NAME",
                        cmd.contact
                    ),
                    _ => anyhow::bail!(
                        "contact {} is in {} sequences: choose one with --sequence NAME",
                        cmd.contact,
                        enrollments.len()
                    ),
                }
            }
        };
        if cmd.step == 0 {
            anyhow::bail!("--step counts from 1");
        }
        let policy = effective_policy(store.as_ref(), &playbook).await?;
        let drafting = Drafting::new(&playbook, &policy);
        // Research not built yet is built as a draft would build it, by
        // the configured backend, so the prompt shown is the one it sends.
        let playbook_dir = settings
            .playbook_path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(std::path::Path::new("."));
        let drafter = super::drafter(&playbook, playbook_dir, None)?;
        let (input, _) = drafting
            .model_input(
                store.as_ref(),
                &ctx,
                drafter.as_ref(),
                &prospect,
                &sequence,
                cmd.step - 1,
                None,
            )
            .await?;
        let rendered = prompt::render(&input);
        let withheld: Vec<_> = input
            .withheld()
            .iter()
            .map(|(name, access)| json!({"field": name, "access": access}))
            .collect();
        if cmd.json {
            crate::output::print_json(&json!({
                "system": rendered.system,
                "user": rendered.user,
                "schema": rendered.schema,
                "withheld": withheld,
            }))?;
            return Ok(ExitCode::SUCCESS);
        }
        println!("── system ──\n{}\n", rendered.system);
        println!("── user ──\n{}\n", rendered.user);
        if input.withheld().is_empty() {
            println!("Nothing was withheld.");
        } else {
            println!("Withheld by the playbook's data access (names only):");
            for (name, access) in input.withheld() {
                let why = match access {
                    handoff_domain::policy::data_access::Access::HumanConfirm => {
                        "human_confirm, not confirmed"
                    }
                    _ => "never",
                };
                println!("  {name} ({why})");
            }
        }
        Ok(ExitCode::SUCCESS)
    }
}
