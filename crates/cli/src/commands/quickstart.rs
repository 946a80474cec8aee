//! `handoff quickstart [DIR]`: the whole first stage on the embedded
//! defaults (SQLite, template drafter, file outbox) with a sample Apollo
//! export, so a person sees the product in one command.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use clap::Args;

use handoff_domain::Actor;
use handoff_domain::playbook::{self, DEFAULT_PLAYBOOK};
use handoff_domain::users::{Role, Username};
use handoff_engine::drafting::{Drafting, StepOutcome};
use handoff_engine::governance::effective_policy;
use handoff_engine::list_building::enroll::{EnrollRequest, enroll_matching};
use handoff_engine::list_building::import::{ImportOptions, import_file};
use handoff_engine::list_building::score::score_all;
use handoff_engine::list_building::verify::verify_all;
use handoff_mail::address::verify::Verifier;
use handoff_store::{CommandContext, NewUser};

use crate::settings::{GlobalArgs, Settings};
use crate::store::{self, Migrate};

const SAMPLE: &str = include_str!("../../assets/sample-apollo-export.csv");

#[derive(Debug, Args)]
pub struct Cmd {
    /// A new folder for the demo workspace.
    #[arg(default_value = "handoff-demo")]
    dir: PathBuf,
}

impl Cmd {
    pub async fn run(self, global: &GlobalArgs) -> Result<ExitCode> {
        let playbook_path = self.dir.join("handoff.toml");
        if playbook_path.exists() {
            bail!(
                "{} already exists: quickstart makes a fresh demo; pick another folder or remove it",
                playbook_path.display()
            );
        }
        std::fs::create_dir_all(&self.dir)
            .with_context(|| format!("cannot create {}", self.dir.display()))?;
        std::fs::write(&playbook_path, DEFAULT_PLAYBOOK)?;
        let csv = self.dir.join("sample-apollo-export.csv");
        std::fs::write(&csv, SAMPLE)?;
        let playbook = playbook::parse(DEFAULT_PLAYBOOK, "handoff.toml").map_err(|d| {
            anyhow::anyhow!("the built-in playbook is invalid (a bug in handoff): {d}")
        })?;
        let settings = Settings::load(&GlobalArgs {
            playbook: playbook_path.clone(),
            database_url: global.database_url.clone(),
        })?;
        let store = store::open(&settings, Migrate::OnOpen).await?;
        let person = CommandContext::new(
            Actor::human(&super::init::operator()),
            Some(playbook.policy_version()),
        );
        handoff_engine::workspace::initialize(store.as_ref(), &person, &playbook).await?;

        println!(
            "1. Workspace `{}` in {}",
            playbook.workspace.name,
            self.dir.display()
        );
        println!(
            "   playbook {} (policy {}), database {}",
            playbook_path.display(),
            playbook.policy_version(),
            settings.database_url
        );
        let owner = Username::parse("dana").map_err(anyhow::Error::msg)?;
        store
            .add_user(
                &person,
                &NewUser {
                    username: owner.clone(),
                    display_name: "Dana Reyes".into(),
                    email: None,
                    role: Role::Rep,
                    manager: None,
                },
            )
            .await?;

        let report = import_file(
            store.as_ref(),
            &person,
            &csv,
            &ImportOptions {
                owner: Some(owner.clone()),
                ..ImportOptions::default()
            },
            &|_, _| {},
        )
        .await?;
        println!(
            "2. Imported {} ({} format): {} contacts, {} accounts, {} rejected (see {})",
            csv.display(),
            report.format,
            report.imported,
            report.accounts_created,
            report.rejected,
            report.rejects_file.as_deref().unwrap_or("-")
        );

        let system = |component: &str| {
            CommandContext::new(Actor::system(component), Some(playbook.policy_version()))
        };
        let verified = verify_all(
            store.clone(),
            &system("verify"),
            &Verifier::offline(),
            8,
            &|_| {},
        )
        .await?;
        let verdicts: Vec<String> = verified
            .by_verdict
            .iter()
            .map(|(v, n)| format!("{n} {v}"))
            .collect();
        println!(
            "3. Verified addresses (offline: syntax and lists): {}",
            verdicts.join(", ")
        );

        let scored = score_all(store.as_ref(), &system("score"), &playbook, None, &|_| {}).await?;
        let tiers: Vec<String> = scored
            .by_tier
            .iter()
            .map(|(t, n)| format!("{n} {t}"))
            .collect();
        println!(
            "4. Scored against the ideal customer profile: {}",
            tiers.join(", ")
        );

        let enrolled = enroll_matching(
            store.as_ref(),
            &person,
            &playbook,
            &EnrollRequest {
                sequence: "sdr-cold".into(),
                condition: Some("contact.tier in ['excellent', 'good']".into()),
                owner: None,
                allow_risky: false,
            },
            &|_| {},
        )
        .await?;
        println!(
            "5. Enrolled the Excellent and Good fits in sdr-cold: {} enrolled, {} wait for a person's approval, {} refused by the verification gate",
            enrolled.enrolled,
            enrolled.awaiting_approval,
            enrolled.refused.values().sum::<u64>()
        );

        let policy = effective_policy(store.as_ref(), &playbook).await?;
        let drafter = handoff_ai::TemplateDrafter;
        let drafting = Drafting::new(&playbook, &policy);
        let drafted = drafting
            .draft_due(store.as_ref(), &person, &drafter, person.now, &|_| {})
            .await?;
        let verdicts: Vec<String> = drafted
            .by_verdict
            .iter()
            .map(|(verdict, n)| format!("{n} {}", verdict.replace('_', " ")))
            .collect();
        println!(
            "6. Researched each account once and drafted the first email for every enrolled contact (template drafter, no model): {} drafts, {}",
            drafted.drafted,
            verdicts.join(", ")
        );
        if let Some(first) = drafted.steps.iter().find_map(|s| match &s.outcome {
            StepOutcome::Drafted { draft_id, .. } => Some(*draft_id),
            _ => None,
        }) && let Some(draft) = store.get_draft(first).await?
        {
            println!("\n   One of them, as the reviewer sees it:\n");
            println!("   Subject: {}\n", draft.subject);
            for line in draft.body.lines() {
                println!("   {line}");
            }
        }
        println!();
        println!("Look around (from {}):", self.dir.display());
        println!("  cd {}", self.dir.display());
        println!("  handoff contacts list                 # tiers, scores, verification");
        println!(
            "  handoff contacts show priya.raman@ledgerly.io   # why this score, where each value came from"
        );
        println!(
            "  handoff approvals list                # executives and strategic accounts wait for you"
        );
        println!(
            "  handoff ai prompt --contact tom.becker@ledgerly.io  # exactly what a model would be shown"
        );
        println!(
            "  HANDOFF_USER=dana handoff queue list  # the drafts waiting for dana's approval (queue show ID, approve, edit, reject)"
        );
        println!("  handoff policy explain DRAFT_ID       # why a draft landed where it did");
        println!(
            "  handoff ledger tail                   # everything that happened, and under which policy"
        );
        Ok(ExitCode::SUCCESS)
    }
}
