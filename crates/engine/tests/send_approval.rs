//! The send-approval gate (DESIGN.md §4, invariant 1) as a property: for
//! random send authorities (approval, veto or auto, random windows),
//! random drafts judged by the real governance policy, and random
//! interleavings of approvals, edits, rejections, expiries, escalations,
//! send passes and direct attempts to queue or mark a draft sent, at random
//! times, on a real SQLite file (and a real PostgreSQL database, fewer
//! cases): no draft that needed approval is ever sent without an approval
//! recorded inside its window. Plus the SLA timer with an injected clock.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use proptest::prelude::*;
use serde_json::json;

use handoff_domain::escalation::{Priority, Stage};
use handoff_domain::playbook::{self, DEFAULT_PLAYBOOK, Playbook};
use handoff_domain::policy::Policy;
use handoff_domain::users::{Role, Username};
use handoff_domain::verification::Verdict;
use handoff_domain::{Actor, ContactId, DraftId, EmailAddress, Event};
use handoff_engine::governance::evaluate_and_record;
use handoff_engine::send_approval::{self, MailboxChoice, ReviewError};
use handoff_engine::sending::{SendConfig, Sender, Transports};
use handoff_mail::outbound::FileOutbox;
use handoff_store::{
    AuthorKind, CommandContext, InboxFilter, NewContact, NewDraft, NewEscalation, NewMessage,
    NewUser, Schema, Store, StoreError, verdicts,
};
use handoff_store_postgres::PostgresStore;
use handoff_store_sqlite::{Durability, SqliteStore};
use handoff_testkit::TestPg;

// ── The scenario ─────────────────────────────────────────────────────────

#[derive(Debug, Clone)]
enum Mode {
    Approval(u32),
    Veto(u32),
    Auto,
}

#[derive(Debug, Clone, Copy)]
enum Text {
    /// Nothing a content rule marks.
    Clean,
    /// A price: a `review` finding.
    Priced,
    /// A guarantee: a `block` finding.
    Guaranteed,
}

impl Text {
    fn body(self, n: usize) -> String {
        let base = format!(
            "Hi Pat, month-end close still runs on spreadsheets at many finance teams (note {n})."
        );
        match self {
            Text::Clean => format!("{base} Worth a call on Tuesday?"),
            Text::Priced => format!("{base} Plans start at $400 a month. Worth a call?"),
            Text::Guaranteed => format!("{base} We guarantee a three-day close. Worth a call?"),
        }
    }
}

#[derive(Debug, Clone)]
struct DraftSpec {
    text: Text,
    confidence: f64,
}

#[derive(Debug, Clone)]
enum Op {
    Approve(usize),
    Edit(usize, Text),
    Reject(usize),
    Expire,
    Escalate(usize),
    Send,
    /// Straight to the store: queue a message due now, approved or not.
    ForceQueue(usize),
    /// Straight to the store: mark the draft sent now.
    ForceSent(usize),
}

#[derive(Debug, Clone)]
struct Scenario {
    mode: Mode,
    drafts: Vec<DraftSpec>,
    /// Each op at the previous op's time plus these minutes.
    ops: Vec<(u32, Op)>,
}

fn mode() -> impl Strategy<Value = Mode> {
    prop_oneof![
        (10u32..600).prop_map(Mode::Approval),
        (10u32..600).prop_map(Mode::Veto),
        Just(Mode::Auto),
    ]
}

fn text() -> impl Strategy<Value = Text> {
    prop_oneof![
        4 => Just(Text::Clean),
        1 => Just(Text::Priced),
        1 => Just(Text::Guaranteed),
    ]
}

fn op(drafts: usize) -> impl Strategy<Value = Op> {
    let d = 0..drafts;
    prop_oneof![
        3 => d.clone().prop_map(Op::Approve),
        2 => (d.clone(), text()).prop_map(|(i, t)| Op::Edit(i, t)),
        1 => d.clone().prop_map(Op::Reject),
        1 => Just(Op::Expire),
        1 => d.clone().prop_map(Op::Escalate),
        3 => Just(Op::Send),
        1 => d.clone().prop_map(Op::ForceQueue),
        1 => d.prop_map(Op::ForceSent),
    ]
}

fn scenario() -> impl Strategy<Value = Scenario> {
    (
        mode(),
        prop::collection::vec(
            // Mostly above the default playbook's 0.7 floor; below it the
            // `low-confidence` rule escalates the draft.
            (text(), prop_oneof![3 => 0.7f64..1.0, 1 => 0.3f64..0.7])
                .prop_map(|(text, confidence)| DraftSpec { text, confidence }),
            1..6,
        ),
    )
        .prop_flat_map(|(mode, drafts)| {
            let n = drafts.len();
            (
                Just(mode),
                Just(drafts),
                prop::collection::vec((0u32..240, op(n)), 0..24),
            )
        })
        .prop_map(|(mode, drafts, ops)| Scenario { mode, drafts, ops })
}

// ── Running it ───────────────────────────────────────────────────────────

fn playbook_for(mode: &Mode) -> Playbook {
    let line = "cold = { mode = \"approval\", window = \"24h\" }";
    assert!(
        DEFAULT_PLAYBOOK.contains(line),
        "the default playbook's cold send authority"
    );
    let replacement = match mode {
        Mode::Approval(m) => format!("cold = {{ mode = \"approval\", window = \"{m}m\" }}"),
        Mode::Veto(m) => format!("cold = {{ mode = \"veto\", window = \"{m}m\" }}"),
        Mode::Auto => "cold = { mode = \"auto\" }".to_string(),
    };
    playbook::parse(
        &DEFAULT_PLAYBOOK.replace(line, &replacement),
        "handoff.toml",
    )
    .unwrap()
}

fn start() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-03-02T09:00:00Z")
        .unwrap()
        .with_timezone(&Utc)
}

struct World {
    store: Arc<dyn Store>,
    playbook: Playbook,
    policy: Policy,
    dana: Username,
    drafts: Vec<(ContactId, DraftId)>,
    sender: Sender,
    _outbox: tempfile::TempDir,
}

async fn world(store: Arc<dyn Store>, scenario: &Scenario) -> World {
    world_with(store, scenario, None).await
}

/// The world, with Dana reporting to `manager` (who must exist).
async fn world_with(
    store: Arc<dyn Store>,
    scenario: &Scenario,
    manager: Option<Username>,
) -> World {
    let playbook = playbook_for(&scenario.mode);
    let policy = Policy::compile(&playbook).unwrap();
    let system =
        CommandContext::new(Actor::system("drafting"), Some(playbook.policy_version())).at(start());
    let dana = Username::parse("dana").unwrap();
    store
        .add_user(
            &system,
            &NewUser {
                username: dana.clone(),
                display_name: "Dana".into(),
                email: None,
                role: Role::Rep,
                manager,
            },
        )
        .await
        .unwrap();
    let mut drafts = Vec::new();
    for (n, spec) in scenario.drafts.iter().enumerate() {
        let contact = store
            .add_contact(
                &system,
                &NewContact {
                    email: EmailAddress::parse(&format!("pat{n}@acme{n}.example")).unwrap(),
                    first_name: "Pat".into(),
                    last_name: format!("Number{n}"),
                    title: "Finance Manager".into(),
                    account_id: None,
                    owner: Some(dana.clone()),
                },
            )
            .await
            .unwrap()
            .id;
        store
            .record_verification(&system, contact, Verdict::Valid)
            .await
            .unwrap();
        let draft = store
            .create_draft(
                &system,
                &NewDraft {
                    contact_id: contact,
                    enrollment_id: None,
                    step_index: 0,
                    author: AuthorKind::Ai,
                    subject: "Month-end close".into(),
                    body: spec.text.body(n),
                    grounding: json!({"cited": ["pp-spreadsheet-close"]}),
                    confidence: Some(spec.confidence),
                    sequence_type: Some("cold".into()),
                    step_kind: Some("email".into()),
                    drafter: None,
                },
            )
            .await
            .unwrap()
            .id;
        evaluate_and_record(store.as_ref(), &system, &policy, draft)
            .await
            .unwrap();
        send_approval::after_judgement(store.as_ref(), &system, draft, &playbook.mailboxes)
            .await
            .unwrap();
        drafts.push((contact, draft));
    }
    let outbox = tempfile::tempdir().unwrap();
    let sender = Sender::new(
        store.clone(),
        Transports::new(Arc::new(FileOutbox::new(outbox.path()).unwrap())),
        SendConfig {
            worker: "gate".into(),
            lease: Duration::seconds(60),
            concurrency: 4,
            max_attempts: 3,
            physical_address: "100 Main St, Boston, MA 02110, USA".into(),
            public_url: "https://handoff.northwind.example".into(),
            unsubscribe_key: b"a test key of the workspace".to_vec(),
        },
    );
    World {
        store,
        playbook,
        policy,
        dana,
        drafts,
        sender,
        _outbox: outbox,
    }
}

/// Refusals are the point; anything else is a broken test or store.
fn refused_or_ok<T>(result: Result<T, ReviewError>) {
    match result {
        Ok(_) | Err(ReviewError::Refused(_)) | Err(ReviewError::StillBlocked { .. }) => {}
        Err(e) => panic!("unexpected error: {e}"),
    }
}

fn store_refused_or_ok<T>(result: Result<T, StoreError>) {
    match result {
        Ok(_) | Err(StoreError::Refused { .. }) | Err(StoreError::Conflict { .. }) => {}
        Err(e) => panic!("unexpected store error: {e}"),
    }
}

async fn play(w: &World, scenario: &Scenario) {
    let s = w.store.as_ref();
    let person = CommandContext::new(Actor::human("dana"), Some(w.playbook.policy_version()));
    let system = CommandContext::new(Actor::system("gate"), Some(w.playbook.policy_version()));
    let mailbox = MailboxChoice::FromPlaybook(&w.playbook.mailboxes);
    let mut at = start();
    for (minutes, op) in &scenario.ops {
        at += Duration::minutes(i64::from(*minutes));
        let (person, system) = (person.at(at), system.at(at));
        match op {
            Op::Approve(i) => refused_or_ok(
                send_approval::approve(s, &person, w.drafts[*i].1, &w.dana, mailbox).await,
            ),
            Op::Edit(i, text) => refused_or_ok(
                send_approval::edit_and_approve(
                    s,
                    &person,
                    &w.policy,
                    w.drafts[*i].1,
                    &w.dana,
                    "Month-end close, shorter",
                    &text.body(100 + i),
                    mailbox,
                )
                .await,
            ),
            Op::Reject(i) => refused_or_ok(
                send_approval::reject(s, &person, w.drafts[*i].1, &w.dana, "not this one").await,
            ),
            Op::Expire => {
                s.expire_drafts(&system, at).await.unwrap();
            }
            Op::Escalate(i) => {
                s.open_escalation(
                    &system,
                    &NewEscalation {
                        contact_id: Some(w.drafts[*i].0),
                        stage: Stage::Engagement,
                        rule_id: "positive-reply".into(),
                        reason: "replied".into(),
                        priority: Priority::High,
                        assignee: Some(w.dana.clone()),
                        due_at: Some(at + Duration::hours(4)),
                    },
                )
                .await
                .unwrap();
            }
            Op::Send => {
                w.sender.run_once(Some(at)).await.unwrap();
            }
            Op::ForceQueue(i) => {
                let (contact, draft) = w.drafts[*i];
                store_refused_or_ok(
                    s.queue_message(
                        &system,
                        &NewMessage {
                            draft_id: draft,
                            contact_id: contact,
                            mailbox: w.playbook.mailboxes[0].address.clone(),
                            rfc_message_id: format!(
                                "{}@northwind.example",
                                uuid::Uuid::now_v7().simple()
                            ),
                            in_reply_to: None,
                            scheduled_at: at,
                        },
                    )
                    .await,
                );
            }
            Op::ForceSent(i) => {
                store_refused_or_ok(s.mark_draft_sent(&system, w.drafts[*i].1, at).await);
            }
        }
    }
    // Whatever is still queued gets its chance, a week on.
    w.sender
        .run_once(Some(at + Duration::days(7)))
        .await
        .unwrap();
}

/// The invariant, draft by draft, from the ledger and the records.
async fn check(w: &World) -> Result<(), String> {
    let s = w.store.as_ref();
    for (contact, draft) in &w.drafts {
        let record = s.draft_record(*draft).await.unwrap().unwrap();
        let message_sent = s
            .queued_draft(*draft)
            .await
            .unwrap()
            .and_then(|q| q.message)
            .is_some_and(|m| m.state == "sent");
        let Some(sent_at) = record.sent_at else {
            if message_sent {
                return Err(format!(
                    "draft {draft}: a message is sent but the draft is not"
                ));
            }
            continue;
        };
        let history = s.draft_history(*draft).await.unwrap();
        let approvals: Vec<(DateTime<Utc>, String)> = history
            .iter()
            .filter_map(|e| match &e.event {
                Event::DraftReviewed { decision, .. } if decision != "rejected" => {
                    Some((e.at, decision.clone()))
                }
                _ => None,
            })
            .collect();
        let rejected = history.iter().any(
            |e| matches!(&e.event, Event::DraftReviewed { decision, .. } if decision == "rejected"),
        );
        if rejected {
            return Err(format!("draft {draft} was rejected and sent at {sent_at}"));
        }
        let in_window = |at: &DateTime<Utc>| record.review_deadline.is_none_or(|d| *at <= d);
        let approved_in_window = approvals.iter().any(|(at, _)| in_window(at));
        let verdict = record.verdict.clone().unwrap_or_default();
        match verdict.as_str() {
            verdicts::AUTO_SEND => {}
            verdicts::VETO_WINDOW if approved_in_window => {}
            verdicts::VETO_WINDOW => {
                let deadline = record.review_deadline.expect("a veto window");
                if sent_at < deadline {
                    return Err(format!(
                        "veto draft {draft} sent at {sent_at}, before its window closed at {deadline}, without an approval"
                    ));
                }
                let evaluated = record.evaluated_at.expect("evaluated");
                let escalated = s
                    .escalations_for(*contact)
                    .await
                    .unwrap()
                    .iter()
                    .any(|e| e.created_at > evaluated && e.created_at <= sent_at);
                if escalated {
                    return Err(format!(
                        "veto draft {draft} sent at {sent_at} without an approval inside its window (deadline {deadline}; approvals {approvals:?}) after an escalation cancelled its timer"
                    ));
                }
            }
            _ if !approved_in_window => {
                return Err(format!(
                    "draft {draft} ({verdict}) sent at {sent_at} without an approval inside its window (deadline {:?}; approvals {approvals:?})",
                    record.review_deadline
                ));
            }
            _ => {}
        }
        // A blocked draft never goes as written (invariant 4).
        if verdict == verdicts::BLOCKED
            && (record.final_body.as_deref() == Some(record.draft.body.as_str())
                || !approvals.iter().any(|(_, d)| d == "edited"))
        {
            return Err(format!("blocked draft {draft} was sent as written"));
        }
    }
    Ok(())
}

async fn run(store: Arc<dyn Store>, scenario: &Scenario) -> Result<(), String> {
    let w = world(store, scenario).await;
    play(&w, scenario).await;
    check(&w).await
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    #[test]
    fn no_draft_needing_approval_goes_without_one_on_sqlite(scenario in scenario()) {
        let outcome = runtime().block_on(async {
            let db = handoff_testkit::temp_sqlite();
            let store = SqliteStore::open(&db.path, Durability::Normal).unwrap();
            store.migrate().await.unwrap();
            let outcome = run(Arc::new(store), &scenario).await;
            drop(db);
            outcome
        });
        prop_assert!(outcome.is_ok(), "{}", outcome.unwrap_err());
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 12, ..ProptestConfig::default() })]

    #[test]
    fn no_draft_needing_approval_goes_without_one_on_postgres(scenario in scenario()) {
        let outcome = runtime().block_on(async {
            let Some(db) = TestPg::create().await else {
                return Ok(());
            };
            let store = PostgresStore::connect(&db.url).await.unwrap();
            store.migrate().await.unwrap();
            let pool = store.pool().clone();
            let outcome = run(Arc::new(store), &scenario).await;
            pool.close().await;
            drop(db);
            outcome
        });
        prop_assert!(outcome.is_ok(), "{}", outcome.unwrap_err());
    }
}

// ── Concrete stories ─────────────────────────────────────────────────────

/// A veto draft goes at its window's end; rejected, it never goes; with an
/// escalation opened meanwhile, it waits for a person's approval.
#[tokio::test]
async fn veto_drafts_go_at_window_end_unless_rejected_or_escalated() {
    let db = handoff_testkit::temp_sqlite();
    let store = SqliteStore::open(&db.path, Durability::Normal).unwrap();
    store.migrate().await.unwrap();
    let scenario = Scenario {
        mode: Mode::Veto(240),
        drafts: (0..3)
            .map(|_| DraftSpec {
                text: Text::Clean,
                confidence: 0.95,
            })
            .collect(),
        ops: vec![],
    };
    let w = world(Arc::new(store), &scenario).await;
    let s = w.store.as_ref();
    let person = CommandContext::new(Actor::human("dana"), Some(w.playbook.policy_version()));
    for (_, draft) in &w.drafts {
        let q = s.queued_draft(*draft).await.unwrap().unwrap();
        assert_eq!(q.record.verdict.as_deref(), Some("veto_window"));
        let m = q.message.expect("queued at judgement time");
        assert_eq!(Some(m.scheduled_at), q.record.review_deadline);
    }
    let (rejected, escalated, plain) = (w.drafts[0], w.drafts[1], w.drafts[2]);
    send_approval::reject(
        s,
        &person.at(start() + Duration::hours(1)),
        rejected.1,
        &w.dana,
        "wrong person",
    )
    .await
    .unwrap();
    s.open_escalation(
        &person.at(start() + Duration::hours(2)),
        &NewEscalation {
            contact_id: Some(escalated.0),
            stage: Stage::Engagement,
            rule_id: "positive-reply".into(),
            reason: "replied".into(),
            priority: Priority::High,
            assignee: Some(w.dana.clone()),
            due_at: None,
        },
    )
    .await
    .unwrap();
    // Before the window ends nothing goes.
    let early = w
        .sender
        .run_once(Some(start() + Duration::hours(3)))
        .await
        .unwrap();
    assert!(early.sent.is_empty(), "{early:?}");
    let end = start() + Duration::hours(4);
    let report = w.sender.run_once(Some(end)).await.unwrap();
    assert_eq!(report.sent.len(), 1, "{report:?}");
    assert_eq!(
        s.draft_record(plain.1).await.unwrap().unwrap().sent_at,
        Some(end)
    );
    assert!(
        s.draft_record(rejected.1)
            .await
            .unwrap()
            .unwrap()
            .sent_at
            .is_none()
    );
    let held = s.queued_draft(escalated.1).await.unwrap().unwrap();
    assert_eq!(
        held.message.as_ref().unwrap().state,
        "queued",
        "held, not failed"
    );
    assert!(held.escalated);
    // Once its window closed unapproved, it expires and fails for good.
    let late = start() + Duration::hours(5);
    let sys = CommandContext::new(Actor::system("worker"), None).at(late);
    assert_eq!(
        s.expire_drafts(&sys, late).await.unwrap(),
        vec![escalated.1]
    );
    let report = w
        .sender
        .run_once(Some(late + Duration::hours(1)))
        .await
        .unwrap();
    assert!(report.sent.is_empty());
    assert!(check(&w).await.is_ok());
}

/// An escalation opened for an `escalate` verdict is due by the rule's SLA
/// (or a day); the SLA timer, run with an injected clock, moves it to the
/// assignee's manager once.
#[tokio::test]
async fn overdue_escalations_go_to_the_manager_once() {
    let db = handoff_testkit::temp_sqlite();
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open(&db.path, Durability::Normal).unwrap());
    store.migrate().await.unwrap();
    let scenario = Scenario {
        mode: Mode::Approval(600),
        // Below the default playbook's `low-confidence` escalation rule.
        drafts: vec![DraftSpec {
            text: Text::Clean,
            confidence: 0.4,
        }],
        ops: vec![],
    };
    let admin = CommandContext::new(Actor::system("setup"), None).at(start());
    let morgan = Username::parse("morgan").unwrap();
    store
        .add_user(
            &admin,
            &NewUser {
                username: morgan.clone(),
                display_name: "Morgan".into(),
                email: None,
                role: Role::Manager,
                manager: None,
            },
        )
        .await
        .unwrap();
    let w = world_with(store.clone(), &scenario, Some(morgan.clone())).await;
    let (contact, draft) = w.drafts[0];
    let record = store.draft_record(draft).await.unwrap().unwrap();
    assert_eq!(record.verdict.as_deref(), Some("escalate"));
    let task = store.escalations_for(contact).await.unwrap().remove(0);
    assert_eq!(
        task.due_at,
        Some(start() + Duration::hours(24)),
        "the rule has no sla: a day"
    );
    let listed = store
        .inbox(&InboxFilter {
            assignee: Some(w.dana.clone()),
            overdue_at: None,
            include_approvals: false,
            limit: 10,
        })
        .await
        .unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].draft_id, Some(draft));

    let before_due =
        CommandContext::new(Actor::system("worker"), None).at(start() + Duration::hours(23));
    assert!(
        handoff_engine::inbox::escalate_overdue(store.as_ref(), &before_due)
            .await
            .unwrap()
            .is_empty()
    );
    let after_due = before_due.at(start() + Duration::hours(25));
    let moved = handoff_engine::inbox::escalate_overdue(store.as_ref(), &after_due)
        .await
        .unwrap();
    assert_eq!(moved.len(), 1);
    assert_eq!(moved[0].from.as_ref(), Some(&w.dana));
    assert_eq!(moved[0].to.as_ref(), Some(&morgan));
    assert_eq!(
        store
            .inbox_item(task.id)
            .await
            .unwrap()
            .unwrap()
            .escalation
            .assignee,
        Some(morgan)
    );
    assert!(
        handoff_engine::inbox::escalate_overdue(
            store.as_ref(),
            &after_due.at(start() + Duration::hours(30))
        )
        .await
        .unwrap()
        .is_empty()
    );
}
