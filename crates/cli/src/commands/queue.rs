//! `handoff queue list|show|approve|edit|reject|reassign`: the send-approval
//! queue. Every decision is `handoff_engine::send_approval`'s; this file
//! reads arguments, runs the editor and prints.

use std::path::Path;
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use chrono::{DateTime, Utc};
use clap::{Args, Subcommand};
use serde_json::{Value, json};

use handoff_domain::playbook::Playbook;
use handoff_domain::users::Username;
use handoff_domain::{Actor, DraftId, EmailAddress};
use handoff_engine::governance::effective_policy;
use handoff_engine::send_approval::{
    self, BulkFilter, Edited, MailboxChoice, QueueFinding, QueueItem,
};
use handoff_store::{Approval, CommandContext, QueueState, Store};

use crate::settings::{GlobalArgs, Settings};
use crate::store::{self, Migrate};

#[derive(Debug, Subcommand)]
pub enum Cmd {
    /// Drafts waiting for a person, oldest window first (yours by default).
    List(ListCmd),
    /// One draft with its findings marked, its grounding and its prospect.
    Show(ShowCmd),
    /// Approve a draft inside its review window and queue its message
    /// (or `--all-clean`: every draft with nothing to look at).
    Approve(ApproveCmd),
    /// Edit a draft in $VISUAL/$EDITOR and approve your text.
    Edit(EditCmd),
    /// Reject a draft, with the reason: it is never sent.
    Reject(RejectCmd),
    /// Move a draft's review to someone else's queue.
    Reassign(ReassignCmd),
    /// Signed, single-use approve and reject links for a draft, to send by
    /// email or Slack; they act as its reviewer and expire with its window.
    Links(LinksCmd),
}

#[derive(Debug, Args)]
pub struct LinksCmd {
    draft: String,
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Args)]
pub struct ListCmd {
    /// Whose queue (default: HANDOFF_USER's).
    #[arg(long, conflicts_with = "all")]
    owner: Option<String>,
    /// Everyone's queue.
    #[arg(long)]
    all: bool,
    /// Drafts that expired unapproved (never sent) instead of pending ones.
    #[arg(long)]
    expired: bool,
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Args)]
pub struct ShowCmd {
    draft: String,
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("which").required(true).args(["draft", "all_clean"])))]
pub struct ApproveCmd {
    draft: Option<String>,
    /// Approve every draft in the queue with no finding, no low confidence
    /// and no escalation (the others are listed, untouched).
    #[arg(long)]
    all_clean: bool,
    /// With --all-clean: whose queue (default: HANDOFF_USER's).
    #[arg(long, requires = "all_clean", conflicts_with = "all")]
    owner: Option<String>,
    /// With --all-clean: everyone's queue.
    #[arg(long, requires = "all_clean")]
    all: bool,
    /// The sending mailbox (default: the prospect owner's [[mailbox]], else the first).
    #[arg(long)]
    mailbox: Option<String>,
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Args)]
pub struct EditCmd {
    draft: String,
    /// The sending mailbox (default: the prospect owner's [[mailbox]], else the first).
    #[arg(long)]
    mailbox: Option<String>,
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Args)]
pub struct RejectCmd {
    draft: String,
    /// Why it must not go (kept in the ledger).
    #[arg(long)]
    reason: String,
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Args)]
pub struct ReassignCmd {
    draft: String,
    /// The user whose queue it goes to.
    #[arg(long)]
    to: String,
    #[arg(long)]
    json: bool,
}

fn parse_draft(raw: &str) -> Result<DraftId> {
    raw.parse().ok().with_context(|| {
        format!("{raw:?} is not a draft id (a UUID, as `handoff queue list` shows)")
    })
}

fn parse_user(raw: &str, flag: &str) -> Result<Username> {
    Username::parse(raw).map_err(|e| anyhow::anyhow!("{flag}: {e}"))
}

/// The person acting: HANDOFF_USER, which must be a usable user name.
fn operator() -> Result<Username> {
    let user = super::init::operator();
    Username::parse(&user).map_err(|e| {
        anyhow::anyhow!(
            "HANDOFF_USER `{user}` is not a usable user name ({e}): set it to your handoff user"
        )
    })
}

/// Whose queue a command means: `--all`, `--owner`, or the operator's.
fn queue_owner(owner: Option<&str>, all: bool) -> Result<Option<Username>> {
    match (owner, all) {
        (_, true) => Ok(None),
        (Some(raw), false) => parse_user(raw, "--owner").map(Some),
        (None, false) => operator().map(Some),
    }
}

struct Session {
    playbook: Playbook,
    store: std::sync::Arc<dyn Store>,
}

impl Session {
    async fn open(global: &GlobalArgs) -> Result<Self> {
        let settings = Settings::load(global)?;
        let playbook = super::load_playbook(&settings.playbook_path)?;
        let store = store::open(&settings, Migrate::OnOpen).await?;
        Ok(Session { playbook, store })
    }

    fn ctx(&self, who: &Username) -> CommandContext {
        CommandContext::new(
            Actor::human(who.as_str()),
            Some(self.playbook.policy_version()),
        )
    }
}

impl Cmd {
    pub async fn run(self, global: &GlobalArgs) -> Result<ExitCode> {
        let session = Session::open(global).await?;
        match self {
            Cmd::List(cmd) => list(&session, cmd).await,
            Cmd::Show(cmd) => show(&session, cmd).await,
            Cmd::Approve(cmd) => approve(&session, cmd).await,
            Cmd::Edit(cmd) => edit(&session, cmd).await,
            Cmd::Reject(cmd) => reject(&session, cmd).await,
            Cmd::Reassign(cmd) => reassign(&session, cmd).await,
            Cmd::Links(cmd) => links(&session, cmd).await,
        }
    }
}

fn when(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M UTC").to_string()
}

/// "in 3h 20m" / "4h 5m ago".
fn relative(t: DateTime<Utc>, now: DateTime<Utc>) -> String {
    let minutes = (t - now).num_minutes();
    let (h, m) = (minutes.abs() / 60, minutes.abs() % 60);
    let span = if h >= 48 {
        format!("{}d {}h", h / 24, h % 24)
    } else {
        format!("{h}h {m}m")
    };
    if minutes >= 0 {
        format!("in {span}")
    } else {
        format!("{span} ago")
    }
}

fn contact_line(item: &QueueItem) -> String {
    match &item.prospect {
        Some(p) => {
            let name = format!("{} {}", p.contact.first_name, p.contact.last_name);
            let name = name.trim();
            if name.is_empty() {
                p.contact.email.to_string()
            } else {
                format!("{name} <{}>", p.contact.email)
            }
        }
        None => item.record().draft.contact_id.to_string(),
    }
}

async fn list(session: &Session, cmd: ListCmd) -> Result<ExitCode> {
    let owner = queue_owner(cmd.owner.as_deref(), cmd.all)?;
    let now = Utc::now();
    let state = if cmd.expired {
        QueueState::Expired
    } else {
        QueueState::Pending
    };
    let items =
        send_approval::queue_for(session.store.as_ref(), owner.as_ref(), state, now, 1_000).await?;
    if cmd.json {
        crate::output::print_json(&items)?;
        return Ok(ExitCode::SUCCESS);
    }
    let whose = owner
        .as_ref()
        .map(|o| format!("{o}'s queue"))
        .unwrap_or_else(|| "any queue".into());
    if items.is_empty() {
        if cmd.expired {
            println!("No draft in {whose} expired unapproved.");
        } else {
            println!("Nothing waits for review in {whose}.");
        }
        return Ok(ExitCode::SUCCESS);
    }
    let headers: &[&str] = if cmd.expired {
        &[
            "draft",
            "to",
            "subject",
            "verdict",
            "window closed",
            "owner",
        ]
    } else {
        &[
            "draft",
            "to",
            "subject",
            "verdict",
            "findings",
            "confidence",
            "window closes",
            "owner",
        ]
    };
    let mut table = crate::output::table(headers);
    for item in &items {
        let record = item.record();
        let window = match record.review_deadline {
            Some(d)
                if record.verdict.as_deref() == Some("veto_window") && !item.queued.escalated =>
            {
                format!("{} ({}, sends then)", when(d), relative(d, now))
            }
            Some(d) => format!("{} ({})", when(d), relative(d, now)),
            None => "no window".into(),
        };
        let mut verdict = record.verdict.clone().unwrap_or_default();
        if item.queued.escalated {
            verdict.push_str(", escalated");
        }
        let mut row = vec![
            record.draft.id.to_string(),
            contact_line(item),
            record.draft.subject.clone(),
            verdict,
        ];
        if !cmd.expired {
            row.push(finding_summary(&item.findings));
            row.push(
                record
                    .draft
                    .confidence
                    .map(|c| format!("{c:.2}"))
                    .unwrap_or_default(),
            );
        }
        row.push(window);
        row.push(
            item.queued
                .owner
                .as_ref()
                .map(|o| o.to_string())
                .unwrap_or_default(),
        );
        table.add_row(row);
    }
    println!("{table}");
    if cmd.expired {
        println!(
            "{} draft(s) expired unapproved: they are never sent.",
            items.len()
        );
    } else {
        let clean = items.iter().filter(|i| i.not_clean(now).is_none()).count();
        println!(
            "{} draft(s) in {whose}; {clean} with nothing to look at (`handoff queue approve --all-clean`).",
            items.len()
        );
    }
    Ok(ExitCode::SUCCESS)
}

fn finding_summary(findings: &[QueueFinding]) -> String {
    if findings.is_empty() {
        return "none".into();
    }
    let count = |severity: &str| findings.iter().filter(|f| f.severity == severity).count();
    ["block", "review", "note"]
        .iter()
        .filter(|s| count(s) > 0)
        .map(|s| format!("{} {s}", count(s)))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The text with each finding marked `[text]¹` at its span (byte offsets).
/// Overlapping or misplaced spans are listed below, unmarked.
pub fn mark_findings(text: &str, findings: &[(usize, &QueueFinding)]) -> String {
    const SUPERSCRIPTS: [&str; 10] = ["⁰", "¹", "²", "³", "⁴", "⁵", "⁶", "⁷", "⁸", "⁹"];
    let number = |n: usize| {
        n.to_string()
            .chars()
            .filter_map(|c| c.to_digit(10))
            .map(|d| SUPERSCRIPTS[d as usize])
            .collect::<String>()
    };
    let mut spans: Vec<&(usize, &QueueFinding)> = findings.iter().collect();
    spans.sort_by_key(|(_, f)| (f.start, f.end));
    let mut out = String::with_capacity(text.len() + 8 * spans.len());
    let mut at = 0;
    for (n, f) in spans {
        let (Some(before), Some(found)) = (text.get(at..f.start), text.get(f.start..f.end)) else {
            continue;
        };
        if f.start < at {
            continue;
        }
        out.push_str(before);
        out.push('[');
        out.push_str(found);
        out.push(']');
        out.push_str(&number(*n));
        at = f.end;
    }
    out.push_str(text.get(at..).unwrap_or(""));
    out
}

fn print_item(item: &QueueItem, now: DateTime<Utc>) {
    let record = item.record();
    let d = &record.draft;
    println!("Draft {} to {}", d.id, contact_line(item));
    if let Some(p) = &item.prospect {
        let mut about = Vec::new();
        if !p.contact.title.is_empty() {
            about.push(p.contact.title.clone());
        }
        if let Some(a) = &p.account {
            let mut account = a.name.clone();
            let mut facts = Vec::new();
            if let Some(i) = &a.industry {
                facts.push(i.clone());
            }
            if let Some(e) = a.employees {
                facts.push(format!("{e} employees"));
            }
            if !a.tags.is_empty() {
                facts.push(format!("tags {}", a.tags.join(", ")));
            }
            if !facts.is_empty() {
                account.push_str(&format!(" ({})", facts.join(", ")));
            }
            about.push(account);
        }
        if let Some(s) = &p.score {
            about.push(format!("score {} {}", s.score, s.tier));
        }
        if !p.signals.is_empty() {
            about.push(format!("signals: {}", p.signals.join(", ")));
        }
        if !about.is_empty() {
            println!("  {}", about.join("; "));
        }
    }
    println!(
        "  {} draft, sequence type {}, step {}; judged {}{} under {}",
        d.author.as_str(),
        record.sequence_type.as_deref().unwrap_or("none"),
        d.step_index + 1,
        record.verdict.as_deref().unwrap_or("(not yet)"),
        if item.because.is_empty() {
            String::new()
        } else {
            format!(" ({})", item.because.join(", "))
        },
        record.evaluated_under.as_deref().unwrap_or("no policy"),
    );
    let state = match (record.sent_at, &record.reviewed_by) {
        (Some(at), _) => format!("sent {}", when(at)),
        (None, Some(by)) => format!("{} by {by}", d.review_state),
        (None, None) => d.review_state.clone(),
    };
    println!(
        "  state {state}; queue {}; confidence {}",
        item.queued
            .owner
            .as_ref()
            .map(|o| o.to_string())
            .unwrap_or_else(|| "nobody's".into()),
        d.confidence
            .map(|c| format!("{c:.2}"))
            .unwrap_or_else(|| "unknown".into())
    );
    match (record.review_deadline, record.verdict.as_deref()) {
        (Some(deadline), Some("veto_window")) if item.queued.escalated => println!(
            "  an escalation cancelled its veto timer: it goes only if a person approves it by {} ({})",
            when(deadline),
            relative(deadline, now)
        ),
        (Some(deadline), Some("veto_window")) => println!(
            "  veto window: it goes at {} ({}) unless a person rejects or edits it",
            when(deadline),
            relative(deadline, now)
        ),
        (Some(deadline), _) => println!(
            "  review window closes {} ({}); unapproved, it expires and is never sent",
            when(deadline),
            relative(deadline, now)
        ),
        (None, _) => {}
    }
    if let Some(m) = &item.queued.message {
        println!(
            "  message {} {} from {}, due {}",
            m.rfc_message_id,
            m.state,
            m.mailbox,
            when(m.scheduled_at)
        );
    }
    for escalation in &item.escalations {
        println!(
            "  escalation rule {} ({}): {}",
            escalation
                .get("rule_id")
                .and_then(Value::as_str)
                .unwrap_or("?"),
            escalation
                .get("priority")
                .and_then(Value::as_str)
                .unwrap_or("normal"),
            escalation
                .get("reason")
                .and_then(Value::as_str)
                .unwrap_or("")
        );
    }

    let numbered: Vec<(usize, &QueueFinding)> = item
        .findings
        .iter()
        .enumerate()
        .map(|(i, f)| (i + 1, f))
        .collect();
    let in_field = |field: &str| -> Vec<(usize, &QueueFinding)> {
        numbered
            .iter()
            .filter(|(_, f)| f.field == field)
            .copied()
            .collect()
    };
    println!();
    println!(
        "Subject: {}",
        mark_findings(&d.subject, &in_field("subject"))
    );
    println!();
    println!("{}", mark_findings(&d.body, &in_field("body")));
    println!();
    if item.findings.is_empty() {
        println!("Findings: none");
    } else {
        println!("Findings:");
        for (n, f) in &numbered {
            println!(
                "  {n}. {} {} in the {} at bytes {}..{}: \"{}\" — {}",
                f.severity, f.rule_id, f.field, f.start, f.end, f.text, f.message
            );
        }
    }
    print_grounding(&d.grounding);
    if let (Some(subject), Some(body)) = (&record.final_subject, &record.final_body)
        && (subject != &d.subject || body != &d.body)
    {
        println!(
            "\nThe reviewer's text (normalised edit distance {:.2}):\nSubject: {subject}\n\n{body}",
            record.edit_distance.unwrap_or(0.0)
        );
    }
}

fn print_grounding(grounding: &Value) {
    println!("Grounding:");
    let list = |key: &str| -> Vec<String> {
        grounding
            .get(key)
            .and_then(Value::as_array)
            .map(|items| {
                items
                    .iter()
                    .filter_map(|i| match i {
                        Value::String(s) => Some(s.clone()),
                        Value::Object(o) => o
                            .get("id")
                            .or_else(|| o.get("item"))
                            .and_then(Value::as_str)
                            .map(str::to_string),
                        _ => None,
                    })
                    .collect()
            })
            .unwrap_or_default()
    };
    let sentences = grounding
        .get("sentences")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    if sentences.is_empty() && grounding.get("cited").is_none() {
        // An older or hand-made trace: show it as it is.
        println!("  {grounding}");
        return;
    }
    for s in &sentences {
        let text = s
            .get("text")
            .and_then(Value::as_str)
            .unwrap_or("")
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ");
        let sources: Vec<&str> = s
            .get("sources")
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        println!(
            "  \"{text}\" ← {}",
            if sources.is_empty() {
                "no source".to_string()
            } else {
                sources.join(", ")
            }
        );
    }
    let cited = list("cited");
    if !cited.is_empty() {
        println!("  cited: {}", cited.join(", "));
    }
    for claim in list("ungrounded_claims") {
        println!("  ungrounded claim: \"{claim}\"");
    }
    let unknown = list("unknown_sources");
    if !unknown.is_empty() {
        println!("  unknown sources (dropped): {}", unknown.join(", "));
    }
    if let Some(coverage) = grounding.get("coverage").and_then(Value::as_f64) {
        println!("  coverage {:.0}%", coverage * 100.0);
    }
}

async fn show(session: &Session, cmd: ShowCmd) -> Result<ExitCode> {
    let draft = parse_draft(&cmd.draft)?;
    let item = send_approval::show(session.store.as_ref(), draft).await?;
    if cmd.json {
        crate::output::print_json(&item)?;
    } else {
        print_item(&item, Utc::now());
    }
    Ok(ExitCode::SUCCESS)
}

fn mailbox_arg(raw: Option<&str>) -> Result<Option<EmailAddress>> {
    raw.map(|raw| EmailAddress::parse(raw).map_err(|e| anyhow::anyhow!("--mailbox {raw}: {e}")))
        .transpose()
}

fn mailbox_choice<'a>(
    given: Option<&'a EmailAddress>,
    playbook: &'a Playbook,
) -> MailboxChoice<'a> {
    match given {
        Some(address) => MailboxChoice::Address(address),
        None => MailboxChoice::FromPlaybook(&playbook.mailboxes),
    }
}

fn approval_line(draft: DraftId, approval: &Approval) -> String {
    let m = &approval.message;
    if approval.rescheduled {
        format!(
            "Approved draft {draft}; its veto-window message {} now goes at {} from {} (`handoff send --due`).",
            m.rfc_message_id,
            when(m.scheduled_at),
            m.mailbox
        )
    } else {
        format!(
            "Approved draft {draft}; message {} to go from {} (queued for `handoff send --due`).",
            m.rfc_message_id, m.mailbox
        )
    }
}

async fn approve(session: &Session, cmd: ApproveCmd) -> Result<ExitCode> {
    let reviewer = operator()?;
    let ctx = session.ctx(&reviewer);
    let mailbox = mailbox_arg(cmd.mailbox.as_deref())?;
    let choice = mailbox_choice(mailbox.as_ref(), &session.playbook);
    if cmd.all_clean {
        let owner = queue_owner(cmd.owner.as_deref(), cmd.all)?;
        let report = send_approval::bulk_approve(
            session.store.as_ref(),
            &ctx,
            owner.as_ref(),
            &reviewer,
            choice,
            BulkFilter::Clean,
        )
        .await?;
        if cmd.json {
            crate::output::print_json(&report)?;
        } else {
            for a in &report.approved {
                println!("{}", approval_line(a.record.draft.id, a));
            }
            for left in &report.skipped {
                println!(
                    "Left for a person: draft {}: {}.",
                    left.draft_id, left.reason
                );
            }
            for refused in &report.refused {
                println!(
                    "Not approved: draft {}: {}",
                    refused.draft_id, refused.reason
                );
            }
            println!(
                "{} approved, {} left for a person, {} refused.",
                report.approved.len(),
                report.skipped.len(),
                report.refused.len()
            );
        }
        return Ok(ExitCode::SUCCESS);
    }
    let Some(raw) = &cmd.draft else {
        bail!("name a draft to approve, or pass --all-clean");
    };
    let draft = parse_draft(raw)?;
    let approval =
        send_approval::approve(session.store.as_ref(), &ctx, draft, &reviewer, choice).await?;
    if cmd.json {
        crate::output::print_json(&approval)?;
    } else {
        println!("{}", approval_line(draft, &approval));
    }
    Ok(ExitCode::SUCCESS)
}

/// What the editor gets: a subject line, a blank line, the body.
fn edit_file_text(subject: &str, body: &str) -> String {
    format!("Subject: {subject}\n\n{body}\n")
}

/// Reads the edited file back: the first line must be `Subject: …`; the
/// body is everything after the blank line that follows, without trailing
/// white space.
pub fn parse_edit_file(text: &str) -> Result<(String, String)> {
    let text = text.replace("\r\n", "\n");
    let (first, rest) = text.split_once('\n').unwrap_or((text.as_str(), ""));
    let Some(subject) = first.strip_prefix("Subject:") else {
        bail!(
            "the edited file must start with a `Subject: …` line (it starts with {:?}); nothing was recorded",
            first.chars().take(40).collect::<String>()
        );
    };
    let body = rest.strip_prefix('\n').unwrap_or(rest).trim_end();
    if body.trim().is_empty() {
        bail!(
            "the edited draft has no body; nothing was recorded (to stop it, use `handoff queue reject`)"
        );
    }
    Ok((subject.trim().to_string(), body.to_string()))
}

/// `$VISUAL`, else `$EDITOR`, else `vi`, run through the shell so an
/// editor with arguments (`code --wait`) works, as git runs it.
fn run_editor(path: &Path) -> Result<()> {
    let editor = ["VISUAL", "EDITOR"]
        .iter()
        .filter_map(|v| std::env::var(v).ok())
        .find(|e| !e.trim().is_empty())
        .unwrap_or_else(|| "vi".to_string());
    let status = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!("{editor} \"$@\""))
        .arg(&editor)
        .arg(path)
        .status()
        .with_context(|| format!("cannot start the editor `{editor}` (set VISUAL or EDITOR)"))?;
    if !status.success() {
        bail!("the editor `{editor}` exited with {status}; nothing was recorded");
    }
    Ok(())
}

async fn edit(session: &Session, cmd: EditCmd) -> Result<ExitCode> {
    let reviewer = operator()?;
    let draft = parse_draft(&cmd.draft)?;
    let mailbox = mailbox_arg(cmd.mailbox.as_deref())?;
    let store = session.store.as_ref();
    // Refuse before the editor opens if the edit could not be recorded.
    let item = send_approval::open_for_edit(store, draft, Utc::now()).await?;
    let (subject, body) = (
        item.record().draft.subject.clone(),
        item.record().draft.body.clone(),
    );
    let dir = tempfile::tempdir().context("cannot make a temporary folder for the editor")?;
    let path = dir.path().join(format!("draft-{draft}.txt"));
    let original = edit_file_text(&subject, &body);
    std::fs::write(&path, &original).with_context(|| format!("cannot write {}", path.display()))?;
    run_editor(&path)?;
    let edited = std::fs::read_to_string(&path)
        .with_context(|| format!("cannot read the edited file {}", path.display()))?;
    if edited == original {
        if cmd.json {
            crate::output::print_json(&json!({"outcome": "unchanged"}))?;
        } else {
            println!("The draft is unchanged: nothing was recorded.");
        }
        return Ok(ExitCode::SUCCESS);
    }
    let (new_subject, new_body) = parse_edit_file(&edited)?;
    let policy = effective_policy(store, &session.playbook).await?;
    // The time of the approval is after the editor closed.
    let ctx = session.ctx(&reviewer);
    let outcome = send_approval::edit_and_approve(
        store,
        &ctx,
        &policy,
        draft,
        &reviewer,
        &new_subject,
        &new_body,
        mailbox_choice(mailbox.as_ref(), &session.playbook),
    )
    .await?;
    if cmd.json {
        crate::output::print_json(&outcome)?;
        return Ok(ExitCode::SUCCESS);
    }
    match outcome {
        Edited::Unchanged => println!("The draft is unchanged: nothing was recorded."),
        Edited::Approved {
            approval,
            edit_distance,
            findings,
        } => {
            println!(
                "Edited (normalised edit distance {edit_distance:.2} from the AI's text). {}",
                approval_line(draft, &approval)
            );
            for f in findings {
                println!(
                    "  still in your text: {} {} on \"{}\" — {}",
                    f.severity, f.rule_id, f.text, f.message
                );
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

async fn reject(session: &Session, cmd: RejectCmd) -> Result<ExitCode> {
    let reviewer = operator()?;
    let draft = parse_draft(&cmd.draft)?;
    let record = send_approval::reject(
        session.store.as_ref(),
        &session.ctx(&reviewer),
        draft,
        &reviewer,
        &cmd.reason,
    )
    .await?;
    if cmd.json {
        crate::output::print_json(&record)?;
    } else {
        println!(
            "Rejected draft {draft}: {}. It is never sent.",
            cmd.reason.trim()
        );
    }
    Ok(ExitCode::SUCCESS)
}

async fn reassign(session: &Session, cmd: ReassignCmd) -> Result<ExitCode> {
    let by = operator()?;
    let draft = parse_draft(&cmd.draft)?;
    let to = parse_user(&cmd.to, "--to")?;
    let item =
        send_approval::reassign(session.store.as_ref(), &session.ctx(&by), draft, &to).await?;
    if cmd.json {
        crate::output::print_json(&item)?;
    } else {
        println!("Draft {draft} is in {to}'s queue now.");
    }
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edit_files_round_trip_and_refuse_what_they_must() {
        let text = edit_file_text("Month-end close", "Hi Ada,\n\nWorth a call?");
        assert_eq!(
            parse_edit_file(&text).unwrap(),
            ("Month-end close".into(), "Hi Ada,\n\nWorth a call?".into())
        );
        assert_eq!(
            parse_edit_file("Subject:  New  \n\nBody\r\n\r\n").unwrap(),
            ("New".into(), "Body".into())
        );
        assert!(parse_edit_file("Hello\n\nBody").is_err());
        assert!(parse_edit_file("Subject: x\n\n  \n").is_err());
        assert!(parse_edit_file("").is_err());
    }

    #[test]
    fn findings_are_marked_at_their_spans() {
        let f = |start, end, text: &str| QueueFinding {
            rule_id: "pricing".into(),
            severity: "review".into(),
            field: "body".into(),
            start,
            end,
            text: text.into(),
            message: String::new(),
        };
        let body = "Plans start at $400 a month — café prices.";
        let price = f(15, 19, "$400");
        let cafe_start = body.find("café").unwrap();
        let cafe = f(cafe_start, cafe_start + "café".len(), "café");
        let overlapping = f(16, 18, "40");
        let outside = f(400, 410, "?");
        assert_eq!(
            mark_findings(
                body,
                &[(1, &price), (2, &cafe), (3, &overlapping), (4, &outside)]
            ),
            "Plans start at [$400]¹ a month — [café]² prices."
        );
        // A span inside a multi-byte character is left unmarked, not a panic.
        let broken = f(cafe_start + 4, cafe_start + 5, "?");
        assert_eq!(mark_findings(body, &[(12, &broken)]), body);
    }
}

#[derive(Debug, serde::Serialize)]
struct Links {
    draft: DraftId,
    reviewer: String,
    expires_at: DateTime<Utc>,
    approve: String,
    reject: String,
}

async fn links(session: &Session, cmd: LinksCmd) -> Result<ExitCode> {
    let draft = parse_draft(&cmd.draft)?;
    let item = send_approval::show(session.store.as_ref(), draft).await?;
    let now = Utc::now();
    let Some(deadline) = item.record().review_deadline.filter(|d| *d > now) else {
        anyhow::bail!(
            "draft {draft} has no open review window, so a link could never be used: `handoff queue show {draft}` says where it stands"
        );
    };
    if item.record().reviewed_at.is_some() {
        anyhow::bail!("draft {draft} was already reviewed: there is nothing left to decide");
    }
    let Some(reviewer) = item.queued.owner.clone() else {
        anyhow::bail!(
            "draft {draft} has no reviewer (its contact has no owner): `handoff queue reassign {draft} --to USER` first"
        );
    };
    let public_url = session
        .playbook
        .workspace
        .public_url
        .clone()
        .unwrap_or_else(|| "http://localhost:8080".into());
    let key = super::send::link_key(session.store.as_ref()).await?;
    let make = |action| {
        handoff_engine::links::ApprovalLink::new(draft, action, reviewer.clone(), deadline)
            .url(&key, &public_url)
    };
    let links = Links {
        draft,
        reviewer: reviewer.to_string(),
        expires_at: deadline,
        approve: make(handoff_engine::links::LinkAction::Approve),
        reject: make(handoff_engine::links::LinkAction::Reject),
    };
    if cmd.json {
        crate::output::print_json(&links)?;
    } else {
        println!(
            "Links for draft {draft}, acting as {}; each works once, until {} (the review window's end). `handoff serve` answers them.",
            links.reviewer,
            when(deadline)
        );
        println!("  approve: {}", links.approve);
        println!("  reject:  {}", links.reject);
    }
    Ok(ExitCode::SUCCESS)
}
