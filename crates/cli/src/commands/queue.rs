//! `handoff queue approve DRAFT_ID`: a person approves a draft, and its
//! message is queued for the sender with its Message-ID fixed now. A step
//! the sequence threads (`thread = true`) replies in the thread of the
//! enrolment's last email, from that email's mailbox.

use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use clap::{Args, Subcommand};

use handoff_domain::playbook::Playbook;
use handoff_domain::users::Username;
use handoff_domain::{Actor, DraftId, EmailAddress};
use handoff_mail::outbound::MessageId as RfcMessageId;
use handoff_store::{CommandContext, DraftReview, NewMessage, ReviewDecision, Store, StoreError};

use crate::settings::{GlobalArgs, Settings};
use crate::store::{self, Migrate};

#[derive(Debug, Subcommand)]
pub enum Cmd {
    /// Approve a draft inside its review window and queue its message.
    Approve(ApproveCmd),
}

#[derive(Debug, Args)]
pub struct ApproveCmd {
    draft: String,
    /// The sending mailbox (default: the playbook's first [[mailbox]]).
    #[arg(long)]
    mailbox: Option<String>,
    #[arg(long)]
    json: bool,
}

impl Cmd {
    pub async fn run(self, global: &GlobalArgs) -> Result<ExitCode> {
        let Cmd::Approve(cmd) = self;
        let settings = Settings::load(global)?;
        let playbook = super::load_playbook(&settings.playbook_path)?;
        let store = store::open(&settings, Migrate::OnOpen).await?;
        let draft: DraftId = cmd
            .draft
            .parse()
            .context("a draft id looks like the ones `handoff draft` prints")?;
        let mailbox = match &cmd.mailbox {
            Some(raw) => {
                EmailAddress::parse(raw).map_err(|e| anyhow::anyhow!("--mailbox {raw}: {e}"))?
            }
            None => match playbook.mailboxes.first() {
                Some(m) => m.address.clone(),
                None => bail!(
                    "{} has no [[mailbox]]: add one (see the commented example) to send from",
                    settings.playbook_path.display()
                ),
            },
        };
        let user = super::init::operator();
        let reviewer = Username::parse(&user)
            .map_err(|e| anyhow::anyhow!("HANDOFF_USER `{user}` is not a usable user name: {e}"))?;
        let ctx = CommandContext::new(Actor::human(&user), Some(playbook.policy_version()));
        let message = approve_and_queue(
            store.as_ref(),
            &ctx,
            draft,
            &reviewer,
            &mailbox,
            Some(&playbook),
        )
        .await?;
        if cmd.json {
            crate::output::print_json(&message)?;
        } else {
            println!(
                "Approved draft {draft}; message {} to go from {mailbox} (queued for `handoff send --due`).",
                message.rfc_message_id
            );
        }
        Ok(ExitCode::SUCCESS)
    }
}

/// Records the approval, then queues the message due now (in its thread,
/// when the playbook's sequence threads the step).
pub async fn approve_and_queue(
    store: &dyn Store,
    ctx: &CommandContext,
    draft: DraftId,
    reviewer: &Username,
    mailbox: &EmailAddress,
    playbook: Option<&Playbook>,
) -> Result<handoff_store::Message> {
    let record = store
        .record_review(
            ctx,
            draft,
            &DraftReview {
                decision: ReviewDecision::Approved,
                reviewer: reviewer.clone(),
            },
        )
        .await
        .map_err(|e| match e {
            StoreError::NotFound { what } => {
                anyhow::anyhow!("no {what}: check the id with `handoff ledger tail`")
            }
            other => anyhow::Error::new(other),
        })?;
    let (in_reply_to, mailbox) = match playbook {
        Some(playbook) => match thread_parent(store, playbook, &record.draft).await? {
            Some(parent) => (Some(parent.rfc_message_id), parent.mailbox),
            None => (None, mailbox.clone()),
        },
        None => (None, mailbox.clone()),
    };
    let mailbox = &mailbox;
    let rfc = RfcMessageId::generate(mailbox.domain())
        .map_err(|e| anyhow::anyhow!("cannot make a Message-ID for {mailbox}: {e}"))?;
    let message = store
        .queue_message(
            ctx,
            &NewMessage {
                draft_id: draft,
                contact_id: record.draft.contact_id,
                mailbox: mailbox.clone(),
                rfc_message_id: rfc.as_str().to_string(),
                in_reply_to,
                scheduled_at: ctx.now,
            },
        )
        .await
        .with_context(|| format!("draft {draft} was approved but its message cannot be queued"))?;
    Ok(message)
}

/// The message a threaded step replies to: the enrolment's last email out,
/// when the playbook's sequence says this step threads.
async fn thread_parent(
    store: &dyn Store,
    playbook: &Playbook,
    draft: &handoff_store::Draft,
) -> Result<Option<handoff_store::Message>> {
    let Some(enrollment_id) = draft.enrollment_id else {
        return Ok(None);
    };
    let enrollments = store.list_enrollments(draft.contact_id).await?;
    let Some(enrollment) = enrollments.iter().find(|e| e.id == enrollment_id) else {
        return Ok(None);
    };
    let threads = playbook
        .sequences
        .get(&enrollment.sequence)
        .and_then(|sequence| sequence.steps.get(draft.step_index as usize))
        .is_some_and(|step| step.thread);
    if !threads {
        return Ok(None);
    }
    Ok(store.thread_parent(enrollment_id).await?)
}
