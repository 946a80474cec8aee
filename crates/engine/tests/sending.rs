//! The sender against a real SMTP server (aiosmtpd), on a real SQLite file
//! and a real PostgreSQL database: stop events racing the sender, and the
//! in-doubt and refusal paths.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;
use std::time::Duration as StdDuration;

use handoff_domain::enrollment::StopReason;
use handoff_domain::{Actor, ContactId};
use handoff_engine::sending::{SendConfig, Sender, Transports};
use handoff_mail::outbound::{Security, SmtpConfig, SmtpTransport};
use handoff_store::conformance::{Seeded, seed_sendable};
use handoff_store::{CommandContext, LedgerFilter, MessageFailure, Schema, Store};
use handoff_store_postgres::PostgresStore;
use handoff_store_sqlite::{Durability, SqliteStore};
use handoff_testkit::TestPg;
use handoff_testkit::smtp::{DropAt, SinkOptions, SmtpSink};

const MAILBOX: &str = "dana@northwind.example";

fn sender(store: Arc<dyn Store>, sink: &SmtpSink, concurrency: u32) -> Sender {
    let mut smtp = SmtpConfig::new("127.0.0.1", sink.port, Security::None);
    smtp.data_timeout = StdDuration::from_secs(5);
    smtp.command_timeout = StdDuration::from_secs(5);
    let transport = SmtpTransport::new(smtp).unwrap();
    Sender::new(
        store,
        Transports::new(Arc::new(transport)),
        SendConfig {
            worker: "test-sender".into(),
            lease: chrono::Duration::seconds(60),
            concurrency,
            max_attempts: 3,
            physical_address: "100 Main St, Boston, MA 02110, USA".into(),
            public_url: "https://handoff.northwind.example".into(),
            unsubscribe_key: b"a test key of the workspace".to_vec(),
        },
    )
}

async fn sqlite() -> (Arc<dyn Store>, handoff_testkit::TempSqlite) {
    let db = handoff_testkit::temp_sqlite();
    let store = SqliteStore::open(&db.path, Durability::Normal).unwrap();
    store.migrate().await.unwrap();
    (Arc::new(store), db)
}

async fn postgres() -> Option<(Arc<dyn Store>, TestPg)> {
    let db = TestPg::create().await?;
    let store = PostgresStore::connect(&db.url).await.unwrap();
    store.migrate().await.unwrap();
    Some((Arc::new(store), db))
}

/// A small deterministic shuffle (no randomness crate needed).
fn shuffled<T: Clone>(items: &[T], mut seed: u64) -> Vec<T> {
    let mut out = items.to_vec();
    for i in (1..out.len()).rev() {
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        out.swap(i, (seed >> 33) as usize % (i + 1));
    }
    out
}

/// Replies, unsubscribes and bounces are recorded while the sender runs.
/// For every stopped contact, a message reached the sink only if it was
/// claimed (the send decision) before the stop was committed; otherwise
/// it was held and failed, and never handed to SMTP.
async fn stops_race_the_sender(store: Arc<dyn Store>) {
    let Some(sink) = SmtpSink::start(&SinkOptions::default()) else {
        return;
    };
    let seeded = seed_sendable(store.as_ref(), 240, MAILBOX).await;
    let every_third: Vec<Seeded> = seeded.iter().step_by(3).cloned().collect();
    let targets = shuffled(&every_third, 7);

    let stopper = {
        let store = store.clone();
        tokio::spawn(async move {
            let ctx = CommandContext::new(Actor::system("engagement"), None);
            for (k, t) in targets.iter().enumerate() {
                let ctx = ctx.at(chrono::Utc::now());
                match k % 3 {
                    0 => {
                        store
                            .stop_enrollments(&ctx, t.contact, StopReason::Replied)
                            .await
                            .unwrap();
                    }
                    1 => {
                        store
                            .suppress(&ctx, &t.email, "unsubscribed")
                            .await
                            .unwrap();
                        store
                            .stop_enrollments(&ctx, t.contact, StopReason::Unsubscribed)
                            .await
                            .unwrap();
                    }
                    _ => {
                        store
                            .stop_enrollments(&ctx, t.contact, StopReason::HardBounce)
                            .await
                            .unwrap();
                    }
                }
                tokio::time::sleep(StdDuration::from_millis(3)).await;
            }
        })
    };
    let sending = sender(store.clone(), &sink, 4);
    let report = tokio::time::timeout(StdDuration::from_secs(120), sending.run_once(None))
        .await
        .expect("the pass finishes in time")
        .unwrap();
    stopper.await.unwrap();
    // Anything the first pass had not reached yet goes (or is held) now.
    let rest = sending.run_once(None).await.unwrap();
    assert!(rest.in_doubt.is_empty() && report.in_doubt.is_empty());

    let arrived = sink.count_by_message_id();
    assert!(
        arrived.values().all(|n| *n == 1),
        "a Message-ID arrived twice"
    );
    let arrived: HashSet<String> = arrived.into_keys().collect();
    let stopped: HashSet<ContactId> = every_third.iter().map(|t| t.contact).collect();
    let (mut sent_before_stop, mut held_by_stop) = (0, 0);
    for t in &seeded {
        let bracketed = format!("<{}>", t.message.rfc_message_id);
        let message = store.get_message(t.message.id).await.unwrap().unwrap();
        if !stopped.contains(&t.contact) {
            assert_eq!(message.state, "sent", "{t:?}");
            assert!(arrived.contains(&bracketed));
            continue;
        }
        let history = store
            .tail(&LedgerFilter {
                contact_id: Some(t.contact),
                kind: None,
                after: None,
                limit: 1000,
            })
            .await
            .unwrap();
        let first = |kinds: &[&str]| {
            history
                .iter()
                .find(|e| kinds.contains(&e.kind.as_str()))
                .map(|e| e.id)
        };
        let stop = first(&["enrollment_stopped", "suppressed"]).expect("the stop is in the ledger");
        match first(&["message_claimed"]) {
            Some(claim) => {
                assert!(
                    claim < stop,
                    "{} was claimed (entry {claim}) after its contact's stop (entry {stop})",
                    t.message.rfc_message_id
                );
                assert_eq!(message.state, "sent");
                sent_before_stop += 1;
            }
            None => {
                assert!(
                    !arrived.contains(&bracketed),
                    "{} reached SMTP after its contact was stopped",
                    t.message.rfc_message_id
                );
                assert_eq!(message.state, "failed");
                assert!(matches!(message.failure, Some(MessageFailure::Held { .. })));
                held_by_stop += 1;
            }
        }
    }
    // The race really happened: some stops came before the sender got to
    // the contact, some after.
    assert!(
        sent_before_stop > 0 && held_by_stop > 0,
        "no overlap between stops and sends: {sent_before_stop} sent first, {held_by_stop} held"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn stops_race_the_sender_on_sqlite() {
    let (store, _db) = sqlite().await;
    stops_race_the_sender(store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn stops_race_the_sender_on_postgres() {
    let Some((store, _db)) = postgres().await else {
        return;
    };
    stops_race_the_sender(store).await;
}

/// The connection drops after the message was handed over: the message is
/// in doubt, arrived once, and a later pass does not send it again.
async fn a_drop_after_data_is_in_doubt_and_never_resent(store: Arc<dyn Store>) {
    let Some(sink) = SmtpSink::start(&SinkOptions {
        drop_at: Some(DropAt::AfterData),
        drop_count: Some(1),
        ..SinkOptions::default()
    }) else {
        return;
    };
    let seeded = seed_sendable(store.as_ref(), 3, MAILBOX).await;
    // One at a time, so exactly the first message meets the drop.
    let sending = sender(store.clone(), &sink, 1);
    let report = sending.run_once(None).await.unwrap();
    assert_eq!(report.in_doubt.len(), 1, "{report:?}");
    assert_eq!(report.sent.len(), 2, "{report:?}");
    let doubtful = &report.in_doubt[0];
    assert!(
        doubtful.detail.contains("never resend"),
        "{}",
        doubtful.detail
    );
    let again = sending.run_once(None).await.unwrap();
    assert!(again.is_empty(), "{again:?}");
    let counts: BTreeMap<String, usize> = sink.count_by_message_id();
    assert_eq!(counts.len(), 3);
    assert!(counts.values().all(|n| *n == 1));
    let listed = store.list_in_doubt(10).await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].message.id, doubtful.message_id);
    assert!(seeded.iter().any(|s| s.message.id == doubtful.message_id));
}

#[tokio::test]
async fn a_drop_after_data_is_in_doubt_on_sqlite() {
    let (store, _db) = sqlite().await;
    a_drop_after_data_is_in_doubt_and_never_resent(store).await;
}

#[tokio::test]
async fn a_drop_after_data_is_in_doubt_on_postgres() {
    let Some((store, _db)) = postgres().await else {
        return;
    };
    a_drop_after_data_is_in_doubt_and_never_resent(store).await;
}

#[tokio::test]
async fn a_refused_recipient_fails_with_the_servers_reply() {
    let Some(sink) = SmtpSink::start(&SinkOptions {
        rcpt_reply: Some("550 5.1.1 no such user".into()),
        ..SinkOptions::default()
    }) else {
        return;
    };
    let (store, _db) = sqlite().await;
    let seeded = seed_sendable(store.as_ref(), 1, MAILBOX).await;
    let report = sender(store.clone(), &sink, 2)
        .run_once(None)
        .await
        .unwrap();
    assert_eq!(report.failed.len(), 1, "{report:?}");
    let message = store
        .get_message(seeded[0].message.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(message.state, "failed");
    assert!(
        matches!(&message.failure, Some(MessageFailure::Rejected { code: 550, reply }) if reply.contains("no such user")),
        "{:?}",
        message.failure
    );
    assert_eq!(sink.received_count(), 0);
}
