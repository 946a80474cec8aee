//! `handoff score`: ICP scores with reasons for every contact.

use std::process::ExitCode;

use anyhow::Result;
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};

use handoff_domain::Actor;
use handoff_engine::list_building::score::score_all;
use handoff_store::CommandContext;

use crate::settings::{GlobalArgs, Settings};
use crate::store::{self, Migrate};

#[derive(Debug, Args)]
pub struct Cmd {
    #[arg(long)]
    json: bool,
}

impl Cmd {
    pub async fn run(self, global: &GlobalArgs) -> Result<ExitCode> {
        let settings = Settings::load(global)?;
        let playbook = super::load_playbook(&settings.playbook_path)?;
        let store = store::open(&settings, Migrate::OnOpen).await?;
        let ctx = CommandContext::new(Actor::system("score"), Some(playbook.policy_version()));
        let bar = if self.json {
            ProgressBar::hidden()
        } else {
            ProgressBar::new_spinner()
        };
        bar.set_style(
            ProgressStyle::with_template("{spinner} scoring: {pos} contacts ({per_sec})")
                .unwrap_or_else(|_| ProgressStyle::default_spinner()),
        );
        let playbook_dir = settings
            .playbook_path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(std::path::Path::new("."));
        let won = match &playbook.icp.lookalike {
            Some(lookalike) => Some(
                handoff_engine::list_building::lookalike::load(
                    store.as_ref(),
                    &lookalike.won_accounts,
                    playbook_dir,
                )
                .await?,
            ),
            None => None,
        };
        let summary = score_all(store.as_ref(), &ctx, &playbook, won, &|n| {
            bar.set_position(n)
        })
        .await;
        bar.finish_and_clear();
        let summary = summary?;
        if self.json {
            crate::output::print_json(&summary)?;
        } else {
            let mut table = crate::output::table(&["tier", "contacts"]);
            for (tier, n) in &summary.by_tier {
                table.add_row(vec![tier.clone(), n.to_string()]);
            }
            println!("{table}");
            println!(
                "{} contact(s) scored under policy {}; {} score(s) changed. See why with `handoff contacts show ID`.",
                summary.scored,
                playbook.policy_version(),
                summary.changed
            );
        }
        Ok(ExitCode::SUCCESS)
    }
}
