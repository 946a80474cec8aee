//! `handoff enroll --sequence NAME`: contacts into a sequence, through the
//! list-building gate and the verification gate.

use std::process::ExitCode;

use anyhow::Result;
use clap::Args;

use handoff_domain::Actor;
use handoff_domain::users::Username;
use handoff_engine::list_building::enroll::{EnrollRequest, enroll_matching};
use handoff_store::CommandContext;

use crate::settings::{GlobalArgs, Settings};
use crate::store::{self, Migrate};

#[derive(Debug, Args)]
pub struct Cmd {
    /// The sequence, as named in the playbook (e.g. sdr-cold).
    #[arg(long)]
    sequence: String,
    /// Only contacts matching this CEL condition, e.g. "contact.tier == 'excellent'".
    #[arg(long = "where")]
    condition: Option<String>,
    /// Only this user's contacts; approvals go to them.
    #[arg(long)]
    owner: Option<String>,
    /// Also enrol `risky` addresses (recorded in the ledger as your decision).
    #[arg(long)]
    allow_risky: bool,
    #[arg(long)]
    json: bool,
}

impl Cmd {
    pub async fn run(self, global: &GlobalArgs) -> Result<ExitCode> {
        let settings = Settings::load(global)?;
        let playbook = super::load_playbook(&settings.playbook_path)?;
        let owner = self
            .owner
            .as_deref()
            .map(Username::parse)
            .transpose()
            .map_err(anyhow::Error::msg)?;
        let store = store::open(&settings, Migrate::OnOpen).await?;
        let ctx = CommandContext::new(
            Actor::human(&super::init::operator()),
            Some(playbook.policy_version()),
        );
        let request = EnrollRequest {
            sequence: self.sequence.clone(),
            condition: self.condition,
            owner,
            allow_risky: self.allow_risky,
        };
        let summary = enroll_matching(store.as_ref(), &ctx, &playbook, &request, &|_| {}).await?;
        if self.json {
            crate::output::print_json(&summary)?;
            return Ok(ExitCode::SUCCESS);
        }
        let mut table = crate::output::table(&[
            "considered",
            "enrolled",
            "awaiting approval",
            "already enrolled",
            "refused",
        ]);
        table.add_row(vec![
            summary.considered.to_string(),
            summary.enrolled.to_string(),
            summary.awaiting_approval.to_string(),
            summary.already_enrolled.to_string(),
            summary.refused.values().sum::<u64>().to_string(),
        ]);
        println!("{table}");
        for (why, n) in &summary.refused {
            println!("  {n} refused: {why}");
        }
        if summary.awaiting_approval > 0 {
            println!(
                "{} contact(s) wait for a person: `handoff approvals list`.",
                summary.awaiting_approval
            );
        }
        if summary.undecided > 0 {
            println!(
                "{} contact(s) skipped: --where could not be decided for them (a field is missing).",
                summary.undecided
            );
        }
        Ok(ExitCode::SUCCESS)
    }
}
