//! `handoff`: the one binary. The file tree mirrors the command tree: each
//! command is a `Cmd` plus `run` in `commands/`.

mod commands;
mod output;
mod settings;
mod store;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::settings::GlobalArgs;

#[derive(Debug, Parser)]
#[command(
    name = "handoff",
    version,
    about = "AI-assisted outbound prospecting with explicit human handoff points",
    long_about = "handoff does the volume work of outbound prospecting (lists, research, drafts, \
sending, watching replies) and hands every judgment call to a person, by rules in a playbook \
you can read, test and audit."
)]
struct Cli {
    #[command(flatten)]
    global: GlobalArgs,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Write a commented playbook (handoff.toml) and create its database.
    Init(commands::init::Cmd),
    /// A demo workspace with sample data, through the whole first stage.
    Quickstart(commands::quickstart::Cmd),
    /// Check the installation: playbook, database, mailboxes, model.
    Doctor(commands::doctor::Cmd),
    /// Bring the database schema up to date.
    Migrate(commands::migrate::Cmd),
    /// Validate and inspect the playbook's policy.
    #[command(subcommand)]
    Policy(commands::policy::Cmd),
    /// Import contacts from a CSV (Apollo, HubSpot, Salesforce or any).
    Import(commands::import::Cmd),
    /// Score every contact against the playbook's ideal customer profile.
    Score(commands::score::Cmd),
    /// List and inspect contacts.
    #[command(subcommand)]
    Contacts(commands::contacts::Cmd),
    /// Put contacts into a sequence, through the list-building and verification gates.
    Enroll(commands::enroll::Cmd),
    /// Draft due sequence steps (or one contact's) and judge each draft.
    Draft(commands::draft::Cmd),
    /// What models are given: `handoff ai prompt` shows a step's prompt.
    #[command(subcommand)]
    Ai(commands::ai::Cmd),
    /// The send-approval queue: list, show, approve, edit, reject and
    /// reassign drafts waiting for a person.
    #[command(subcommand)]
    Queue(commands::queue::Cmd),
    /// The escalation inbox: tasks for people; take a prospect over, hand
    /// them back to AI, resolve.
    #[command(subcommand)]
    Inbox(commands::inbox::Cmd),
    /// Send what is due: claims, checks, composes and delivers (or writes
    /// .eml files to outbox/ when no SMTP is configured).
    Send(commands::send::Cmd),
    /// Check a mailbox's setup by sending one test message through it.
    SendTestEmail(commands::send_test_email::Cmd),
    /// The list-building approval list.
    #[command(subcommand)]
    Approvals(commands::approvals::Cmd),
    /// Read the append-only ledger of everything that happened.
    #[command(subcommand)]
    Ledger(commands::ledger::Cmd),
    /// Job titles: what seniority and department handoff reads in them.
    #[command(subcommand)]
    Titles(commands::titles::Cmd),
    /// Verify email addresses: syntax, disposable and role lists, mail servers.
    Verify(commands::verify::Cmd),
    /// Run background jobs until stopped (SIGTERM or Ctrl-C).
    Worker(commands::worker::Cmd),
    /// The HTTP side (unsubscribe, approval links, health) and every worker
    /// (drafting, sending, expiry) until SIGTERM or Ctrl-C.
    Serve(commands::serve::Cmd),
    /// Inspect and feed the work queue.
    #[command(subcommand)]
    Jobs(commands::jobs::Cmd),
    /// Manage the people who use handoff.
    #[command(subcommand)]
    Users(commands::users::Cmd),
    /// Show the resolved configuration and where each value came from.
    #[command(subcommand)]
    Config(commands::config::Cmd),
    /// Measure handoff against a baseline in the same run.
    #[command(subcommand)]
    Bench(commands::bench::Cmd),
    /// Sending mailboxes: caps, sends today, warm-up, circuit breakers.
    #[command(subcommand)]
    Mailboxes(commands::mailboxes::Cmd),
    /// Sequences: resume one its circuit breaker paused.
    #[command(subcommand)]
    Sequences(commands::sequences::Cmd),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_tracing();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async move {
        let global = cli.global;
        match cli.command {
            Command::Init(cmd) => cmd.run(&global).await,
            Command::Quickstart(cmd) => cmd.run(&global).await,
            Command::Doctor(cmd) => cmd.run(&global).await,
            Command::Migrate(cmd) => cmd.run(&global).await,
            Command::Policy(cmd) => cmd.run(&global).await,
            Command::Import(cmd) => cmd.run(&global).await,
            Command::Score(cmd) => cmd.run(&global).await,
            Command::Contacts(cmd) => cmd.run(&global).await,
            Command::Enroll(cmd) => cmd.run(&global).await,
            Command::Draft(cmd) => cmd.run(&global).await,
            Command::Ai(cmd) => cmd.run(&global).await,
            Command::Queue(cmd) => cmd.run(&global).await,
            Command::Inbox(cmd) => cmd.run(&global).await,
            Command::Send(cmd) => cmd.run(&global).await,
            Command::Approvals(cmd) => cmd.run(&global).await,
            Command::Ledger(cmd) => cmd.run(&global).await,
            Command::Titles(cmd) => cmd.run(&global).await,
            Command::Verify(cmd) => cmd.run(&global).await,
            Command::Worker(cmd) => cmd.run(&global).await,
            Command::Serve(cmd) => cmd.run(&global).await,
            Command::SendTestEmail(cmd) => cmd.run(&global).await,
            Command::Jobs(cmd) => cmd.run(&global).await,
            Command::Users(cmd) => cmd.run(&global).await,
            Command::Config(cmd) => cmd.run(&global).await,
            Command::Bench(cmd) => cmd.run(&global).await,
            Command::Mailboxes(cmd) => cmd.run(&global).await,
            Command::Sequences(cmd) => cmd.run(&global).await,
        }
    });
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// Logs go to stderr, filtered by HANDOFF_LOG (default: warnings).
fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("HANDOFF_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}
