//! The sender with a send policy, into the file outbox: a thread of three
//! emails goes out as one conversation (Re: the first subject, In-Reply-To
//! the last message, References the whole chain) from the first email's
//! mailbox, even after rotation moved that first email.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;

use chrono::{Duration, Utc};
use serde_json::json;

use handoff_domain::schedule::{BreakerRules, MailboxRules, SendPolicy, Window};
use handoff_domain::{Actor, EmailAddress};
use handoff_engine::sending::{SendConfig, Sender, Transports};
use handoff_mail::outbound::FileOutbox;
use handoff_store::{
    AuthorKind, CommandContext, DraftEvaluation, NewContact, NewDraft, NewMessage, Schema, Store,
};
use handoff_store_sqlite::{Durability, SqliteStore};

fn rules(address: &str, cap: u32) -> MailboxRules {
    MailboxRules {
        address: address.into(),
        owner: "dana".into(),
        daily_cap: cap,
        min_spacing_secs: 0,
        window: Window::always(),
        warmup: false,
    }
}

#[tokio::test]
async fn a_thread_goes_out_as_one_conversation_from_its_first_mailbox() {
    let db = handoff_testkit::temp_sqlite();
    let store = SqliteStore::open(&db.path, Durability::Normal).unwrap();
    store.migrate().await.unwrap();
    let store: Arc<dyn Store> = Arc::new(store);
    let outbox = tempfile::tempdir().unwrap();
    let policy = SendPolicy {
        time_zone: "Europe/Berlin".into(),
        // The first mailbox has no room today: the first email rotates to
        // the second, and the follow-ups stay there.
        mailboxes: vec![
            rules("dana@northwind.example", 0),
            rules("dana2@northwind.example", 10),
        ],
        contact_gap_business_days: 0,
        holidays: false,
        extra_holidays: vec![],
        breaker: BreakerRules::default(),
    };
    let sender = Sender::new(
        store.clone(),
        Transports::new(Arc::new(FileOutbox::new(outbox.path()).unwrap())),
        SendConfig {
            worker: "test-sender".into(),
            lease: Duration::seconds(60),
            concurrency: 2,
            max_attempts: 3,
            physical_address: "Unter den Linden 1, 10117 Berlin".into(),
            public_url: "https://handoff.northwind.example".into(),
            unsubscribe_key: b"a test key of the workspace".to_vec(),
        },
    )
    .with_policy(policy);
    let playbook =
        handoff_domain::playbook::parse(handoff_domain::playbook::DEFAULT_PLAYBOOK, "handoff.toml")
            .unwrap();
    let ctx = CommandContext::new(Actor::system("test"), Some(playbook.policy_version()));
    let contact = store
        .add_contact(
            &ctx,
            &NewContact {
                email: EmailAddress::parse("lena@acme.example").unwrap(),
                first_name: "Lena".into(),
                last_name: "Weber".into(),
                title: "CFO".into(),
                account_id: None,
                owner: None,
            },
        )
        .await
        .unwrap()
        .id;
    let mut parent: Option<String> = None;
    let subjects = [
        "Month-end close in Berlin",
        "A proof point",
        "Closing the loop",
    ];
    for (i, subject) in subjects.iter().enumerate() {
        let draft = store
            .create_draft(
                &ctx,
                &NewDraft {
                    contact_id: contact,
                    enrollment_id: None,
                    step_index: i as u32,
                    author: AuthorKind::Template,
                    subject: subject.to_string(),
                    body: format!("Hi Lena, note {i}. Worth a call?"),
                    grounding: json!([]),
                    confidence: Some(0.9),
                    sequence_type: Some("cold".into()),
                    step_kind: Some("email".into()),
                    drafter: None,
                },
            )
            .await
            .unwrap();
        store
            .record_evaluation(
                &ctx,
                draft.id,
                &DraftEvaluation {
                    verdict: "auto_send".into(),
                    rule_ids: vec![],
                    qa_sampled: false,
                    findings: json!([]),
                    evaluation: json!({}),
                    context: json!({}),
                    review_state: "pending".into(),
                    review_deadline: None,
                    escalation: None,
                },
            )
            .await
            .unwrap();
        let rfc = format!("thread-{i}@northwind.example");
        store
            .queue_message(
                &ctx,
                &NewMessage {
                    draft_id: draft.id,
                    contact_id: contact,
                    // Queued from the first mailbox, as `queue approve` does.
                    mailbox: EmailAddress::parse("dana@northwind.example").unwrap(),
                    rfc_message_id: rfc.clone(),
                    in_reply_to: parent.clone(),
                    scheduled_at: ctx.now,
                },
            )
            .await
            .unwrap();
        let report = sender
            .run_once(Some(Utc::now() + Duration::minutes(i as i64)))
            .await
            .unwrap();
        assert_eq!(report.sent.len(), 1, "{report:?}");
        parent = Some(rfc);
    }
    let read = |i: usize| {
        let entry = std::fs::read_dir(outbox.path())
            .unwrap()
            .map(|e| e.unwrap().path())
            .find(|p| p.to_string_lossy().contains(&format!("thread-{i}")))
            .unwrap_or_else(|| panic!("thread-{i} is in the outbox"));
        std::fs::read_to_string(entry).unwrap()
    };
    let first = read(0);
    assert!(first.contains("From: dana2@northwind.example"), "{first}");
    assert!(
        first.contains("Subject: Month-end close in Berlin"),
        "{first}"
    );
    assert!(!first.contains("In-Reply-To"), "{first}");
    let third = read(2);
    assert!(third.contains("From: dana2@northwind.example"), "{third}");
    assert!(
        third.contains("Subject: Re: Month-end close in Berlin"),
        "{third}"
    );
    assert!(
        third.contains("In-Reply-To: <thread-1@northwind.example>"),
        "{third}"
    );
    assert!(
        third.contains("References: <thread-0@northwind.example> <thread-1@northwind.example>"),
        "{third}"
    );
}
