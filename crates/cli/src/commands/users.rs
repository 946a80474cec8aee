//! `handoff users add|list`.

use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::{Args, Subcommand};

use handoff_domain::users::{Role, Username};
use handoff_domain::{Actor, EmailAddress};
use handoff_store::{CommandContext, NewUser};

use crate::settings::{GlobalArgs, Settings};
use crate::store::{self, Migrate};

#[derive(Debug, Subcommand)]
pub enum Cmd {
    /// Add a rep, manager or admin.
    Add(AddCmd),
    /// List everyone.
    List(ListCmd),
}

#[derive(Debug, Args)]
pub struct AddCmd {
    /// Login name: lower-case letters, digits, `.`, `-`, `_`.
    username: String,
    #[arg(long, default_value = "rep", value_parser = parse_role)]
    role: Role,
    /// Full name shown in the UI (default: the username).
    #[arg(long)]
    name: Option<String>,
    #[arg(long)]
    email: Option<String>,
    /// The manager who receives this user's overdue escalations.
    #[arg(long)]
    manager: Option<String>,
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Args)]
pub struct ListCmd {
    #[arg(long)]
    json: bool,
}

fn parse_role(s: &str) -> Result<Role, String> {
    s.parse()
}

impl Cmd {
    pub async fn run(self, global: &GlobalArgs) -> Result<ExitCode> {
        let settings = Settings::load(global)?;
        match self {
            Cmd::Add(cmd) => {
                let username = Username::parse(&cmd.username).map_err(anyhow::Error::msg)?;
                let email = cmd
                    .email
                    .as_deref()
                    .map(EmailAddress::parse)
                    .transpose()
                    .context("--email")?;
                let manager = cmd
                    .manager
                    .as_deref()
                    .map(Username::parse)
                    .transpose()
                    .map_err(anyhow::Error::msg)?;
                let policy = super::read_playbook(&settings.playbook_path)
                    .ok()
                    .and_then(|p| p.ok())
                    .map(|p| p.policy_version());
                let store = store::open(&settings, Migrate::OnOpen).await?;
                let ctx = CommandContext::new(Actor::human(&super::init::operator()), policy);
                let user = store
                    .add_user(
                        &ctx,
                        &NewUser {
                            display_name: cmd.name.unwrap_or_else(|| username.to_string()),
                            username,
                            email,
                            role: cmd.role,
                            manager,
                        },
                    )
                    .await?;
                if cmd.json {
                    crate::output::print_json(&user)?;
                } else {
                    println!(
                        "Added {} ({}) as {}.",
                        user.username, user.display_name, user.role
                    );
                }
            }
            Cmd::List(cmd) => {
                let store = store::open(&settings, Migrate::OnOpen).await?;
                let users = store.list_users().await?;
                if cmd.json {
                    crate::output::print_json(&users)?;
                } else if users.is_empty() {
                    println!("No users yet: add one with `handoff users add NAME --role rep`.");
                } else {
                    let mut table =
                        crate::output::table(&["username", "name", "role", "email", "manager"]);
                    for u in users {
                        table.add_row(vec![
                            u.username.to_string(),
                            u.display_name,
                            u.role.to_string(),
                            u.email.map(|e| e.to_string()).unwrap_or_default(),
                            u.manager.map(|m| m.to_string()).unwrap_or_default(),
                        ]);
                    }
                    println!("{table}");
                }
            }
        }
        Ok(ExitCode::SUCCESS)
    }
}
