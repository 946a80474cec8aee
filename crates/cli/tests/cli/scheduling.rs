//! The scheduler through the binary: `handoff send --due --at T` across a
//! send window's close and the next opening, into the file outbox, saying
//! why each message waits; `handoff mailboxes list`; a tripped breaker
//! resumed by a person, with the ledger invariant.

use std::path::Path;
use std::sync::Arc;

use chrono::{DateTime, Datelike, Duration, NaiveDate, NaiveTime, Utc, Weekday};

use handoff_domain::schedule::{Country, calendar, local_to_utc};
use handoff_store::conformance::seed_sendable;
use handoff_store::{CommandContext, NewInboundEvent, Schema, Store};
use handoff_store_sqlite::{Durability, SqliteStore};

use crate::*;

/// `hh:mm` in New York (the default playbook's zone) on `day`.
fn new_york(day: NaiveDate, hour: u32, minute: u32) -> DateTime<Utc> {
    let zone = Country::from_code("US").unwrap().default_zone().unwrap();
    local_to_utc(
        zone,
        day.and_time(NaiveTime::from_hms_opt(hour, minute, 0).unwrap()),
    )
}

/// A Friday at least two days ahead whose Friday and next Monday are US
/// business days (so the test means the same whenever it runs).
fn friday_and_monday() -> (NaiveDate, NaiveDate) {
    let us = Country::from_code("US").unwrap();
    let mut day = Utc::now().date_naive() + Duration::days(2);
    loop {
        let monday = day + Duration::days(3);
        if day.weekday() == Weekday::Fri
            && calendar::holiday(us, day).is_none()
            && calendar::holiday(us, monday).is_none()
        {
            return (day, monday);
        }
        day += Duration::days(1);
    }
}

fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

async fn sqlite_store(dir: &Path) -> Arc<dyn Store> {
    let store = SqliteStore::open(&dir.join("handoff.db"), Durability::Normal).unwrap();
    store.migrate().await.unwrap();
    Arc::new(store)
}

fn send_json(dir: &Path, at: DateTime<Utc>) -> serde_json::Value {
    let out = ok(handoff(
        dir,
        &["send", "--due", "--at", &rfc3339(at), "--json"],
    ));
    serde_json::from_str(&out).unwrap()
}

fn outbox_files(dir: &Path) -> usize {
    std::fs::read_dir(dir.join("outbox"))
        .map(|d| d.count())
        .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn send_due_at_holds_past_the_window_and_sends_when_it_opens() {
    let dir = init_workspace();
    let store = sqlite_store(dir.path()).await;
    // Three approved messages from dana's mailbox (warm-up, 10 min apart,
    // Monday to Friday 08:30-17:30 in New York: the contacts have no
    // location, so the workspace's zone applies).
    seed_sendable(store.as_ref(), 3, "dana@northwind.example").await;
    let (friday, monday) = friday_and_monday();

    // Friday 17:20: one goes; the next would be 10-15 minutes later, past
    // 17:30, so both wait for Monday 08:30.
    let report = send_json(dir.path(), new_york(friday, 17, 20));
    assert_eq!(report["sent"].as_array().unwrap().len(), 1, "{report}");
    let held = report["held"].as_array().unwrap();
    assert_eq!(held.len(), 2, "{report}");
    for line in held {
        assert_eq!(
            line["until"].as_str().unwrap(),
            rfc3339(new_york(monday, 8, 30)),
            "{line}"
        );
        let waits: Vec<&str> = line["waits"]
            .as_array()
            .unwrap()
            .iter()
            .map(|w| w.as_str().unwrap())
            .collect();
        assert_eq!(waits, ["spacing", "window"], "{line}");
        assert!(
            line["detail"]
                .as_str()
                .unwrap()
                .contains("the send window is closed"),
            "{line}"
        );
    }
    assert_eq!(outbox_files(dir.path()), 1);

    // Friday evening and the weekend: nothing is due, nothing is sent.
    let quiet = ok(handoff(
        dir.path(),
        &["send", "--due", "--at", &rfc3339(new_york(friday, 19, 0))],
    ));
    assert!(quiet.contains("Nothing is due"), "{quiet}");
    let saturday = friday + Duration::days(1);
    assert!(
        ok(handoff(
            dir.path(),
            &["send", "--due", "--at", &rfc3339(new_york(saturday, 10, 0))],
        ))
        .contains("Nothing is due")
    );
    assert_eq!(outbox_files(dir.path()), 1);

    // Monday 08:31: one goes; the other waits for the spacing, and the
    // text report says so.
    let text = ok(handoff(
        dir.path(),
        &["send", "--due", "--at", &rfc3339(new_york(monday, 8, 31))],
    ));
    assert!(text.contains("Sent (1)"), "{text}");
    assert!(text.contains("Held"), "{text}");
    assert!(text.contains("spacing: the mailbox last sent at"), "{text}");
    assert!(text.contains("(still queued)"), "{text}");
    assert_eq!(outbox_files(dir.path()), 2);

    // Monday 08:50: the spacing has passed (at most 15 minutes).
    let report = send_json(dir.path(), new_york(monday, 8, 50));
    assert_eq!(report["sent"].as_array().unwrap().len(), 1, "{report}");
    assert_eq!(outbox_files(dir.path()), 3);

    // The mailbox as a person sees it: warm-up day 4 of a ramp from 5.
    let listing: serde_json::Value = serde_json::from_str(&ok(handoff(
        dir.path(),
        &[
            "mailboxes",
            "list",
            "--json",
            "--at",
            &rfc3339(new_york(monday, 9, 0)),
        ],
    )))
    .unwrap();
    let dana = &listing["mailboxes"][0];
    assert_eq!(dana["address"], "dana@northwind.example");
    assert_eq!(dana["sent_today"], 2, "{listing}");
    assert_eq!(dana["warmup_day"], 4, "{listing}");
    assert_eq!(dana["cap_today"], 11, "{listing}");
    assert!(dana["paused"].is_null());
    let table = ok(handoff(
        dir.path(),
        &[
            "mailboxes",
            "list",
            "--at",
            &rfc3339(new_york(monday, 9, 0)),
        ],
    ));
    assert!(table.contains("2 of 11"), "{table}");
    assert!(table.contains("day 4"), "{table}");
}

/// The playbook with a window that never closes, no spacing or warm-up, a
/// cap of 4 a day, and breakers that judge from 2 sends.
fn always_open(dir: &Path) {
    let path = dir.join("handoff.toml");
    let text = std::fs::read_to_string(&path).unwrap();
    let edited = text
        .replacen(
            "send_window = { days = \"mon-fri\", from = \"08:30\", to = \"17:30\" }",
            "send_window = { days = \"mon-sun\", from = \"00:00\", to = \"24:00\" }",
            1,
        )
        .replacen("min_spacing = \"10m\"", "min_spacing = \"0s\"", 1)
        .replacen("daily_cap = 40", "daily_cap = 4", 1)
        .replacen("warmup = true", "warmup = false", 1)
        .replacen("holidays = true", "holidays = false", 1)
        .replacen("min_sends = 20", "min_sends = 2", 1);
    assert_eq!(edited.matches("daily_cap = 4 ").count(), 1);
    std::fs::write(&path, edited).unwrap();
}

fn kinds(tail: &str) -> Vec<String> {
    tail.lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["kind"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bounce_pauses_mailbox_and_sequence_until_a_person_resumes_them() {
    use crate::ledger_invariant::{ledger_len, state_digest};
    let dir = init_workspace();
    always_open(dir.path());
    ok(handoff(dir.path(), &["users", "add", "tester"]));
    let db = dir.path().join("handoff.db");
    let store = sqlite_store(dir.path()).await;
    let seeded = seed_sendable(store.as_ref(), 5, "dana@northwind.example").await;
    let now = Utc::now() + Duration::minutes(1);
    // Four go; the fifth waits for tomorrow's cap.
    let report = send_json(dir.path(), now);
    assert_eq!(report["sent"].as_array().unwrap().len(), 4, "{report}");
    assert_eq!(report["held"][0]["waits"][0], "cap", "{report}");
    let last = seeded
        .iter()
        .find(|s| {
            report["held"][0]["rfc_message_id"].as_str() == Some(s.message.rfc_message_id.as_str())
        })
        .unwrap();
    let bounced = seeded
        .iter()
        .find(|s| s.message.id != last.message.id)
        .unwrap();

    // A bounce report for one of the four: 25% is above 3% once 2 sends
    // count, so the mailbox and the sequence pause themselves, each with an
    // escalation, in the transaction that recorded the report.
    let before = ledger_len(&db);
    store
        .record_event(
            &CommandContext::new(handoff_domain::Actor::system("test"), None),
            &NewInboundEvent {
                provider: "imap".into(),
                provider_event_id: "dsn-1".into(),
                kind: "bounce".into(),
                contact_id: Some(bounced.contact),
                rfc_message_id: Some(format!("<{}>", bounced.message.rfc_message_id)),
                occurred_at: now,
                payload: serde_json::json!({"status": "5.1.1"}),
            },
        )
        .await
        .unwrap();
    let tail = ok(handoff(
        dir.path(),
        &["ledger", "tail", "--json", "-n", "5"],
    ));
    assert_eq!(
        kinds(&tail),
        [
            "inbound_event_recorded",
            "sending_paused",
            "escalation_opened",
            "sending_paused",
            "escalation_opened"
        ],
        "{tail}"
    );
    assert_eq!(ledger_len(&db) - before, 5);
    let listing: serde_json::Value =
        serde_json::from_str(&ok(handoff(dir.path(), &["mailboxes", "list", "--json"]))).unwrap();
    let paused = &listing["mailboxes"][0]["paused"];
    assert!(
        paused["reason"]
            .as_str()
            .unwrap()
            .contains("bounce rate 25.0% (1 of 4 sends"),
        "{listing}"
    );
    assert_eq!(
        listing["paused_sequences"][0]["name"], "seed-cold",
        "{listing}"
    );
    let table = ok(handoff(dir.path(), &["mailboxes", "list"]));
    assert!(table.contains("PAUSED since"), "{table}");
    assert!(table.contains("Sequence seed-cold is PAUSED"), "{table}");

    // Tomorrow the cap has room, but the sequence is paused: still queued.
    let tomorrow = now + Duration::days(1);
    let report = send_json(dir.path(), tomorrow);
    assert!(report["sent"].as_array().unwrap().is_empty(), "{report}");
    let held = &report["held"][0];
    assert_eq!(held["waits"][0], "paused", "{report}");
    assert!(
        held["detail"]
            .as_str()
            .unwrap()
            .contains("sequence seed-cold is paused"),
        "{report}"
    );
    assert_eq!(
        store
            .get_message(last.message.id)
            .await
            .unwrap()
            .unwrap()
            .state,
        "queued"
    );

    // Refused without a reason, for a sequence that does not exist, or for
    // someone who is not a user: nothing changes.
    let before_state = state_digest(&db);
    let before = ledger_len(&db);
    let refused = handoff(
        dir.path(),
        &[
            "mailboxes",
            "resume",
            "dana@northwind.example",
            "--reason",
            " ",
        ],
    );
    assert!(!refused.status.success());
    assert!(
        stderr(&refused).contains("--reason is empty"),
        "{}",
        stderr(&refused)
    );
    let refused = handoff(
        dir.path(),
        &["sequences", "resume", "nope", "--reason", "checked"],
    );
    assert!(
        stderr(&refused).contains("there is no sequence `nope`"),
        "{}",
        stderr(&refused)
    );
    let refused = command(
        dir.path(),
        &[
            "mailboxes",
            "resume",
            "dana@northwind.example",
            "--reason",
            "list cleaned",
        ],
    )
    .env("HANDOFF_USER", "nobody")
    .output()
    .unwrap();
    assert!(
        stderr(&refused).contains("not a handoff user"),
        "{}",
        stderr(&refused)
    );
    assert_eq!(before_state, state_digest(&db));
    assert_eq!(before, ledger_len(&db));

    // A person resumes both, each in the ledger with their name; the
    // breaker's escalations are resolved.
    let resumed = ok(handoff(
        dir.path(),
        &[
            "mailboxes",
            "resume",
            "dana@northwind.example",
            "--reason",
            "list cleaned",
        ],
    ));
    assert!(
        resumed.contains("Resumed mailbox dana@northwind.example"),
        "{resumed}"
    );
    assert_ne!(before_state, state_digest(&db));
    let tail = ok(handoff(
        dir.path(),
        &["ledger", "tail", "--json", "-n", "2"],
    ));
    assert_eq!(
        kinds(&tail),
        ["sending_resumed", "escalation_resolved"],
        "{tail}"
    );
    let first: serde_json::Value = serde_json::from_str(tail.lines().next().unwrap()).unwrap();
    assert_eq!(first["actor"]["user"], "tester", "{tail}");
    let refused = handoff(
        dir.path(),
        &[
            "mailboxes",
            "resume",
            "dana@northwind.example",
            "--reason",
            "again",
        ],
    );
    assert!(
        stderr(&refused).contains("is not paused"),
        "{}",
        stderr(&refused)
    );
    let before = ledger_len(&db);
    ok(handoff(
        dir.path(),
        &[
            "sequences",
            "resume",
            "seed-cold",
            "--reason",
            "list cleaned",
            "--json",
        ],
    ));
    assert_eq!(ledger_len(&db) - before, 2);
    // Listing changes nothing.
    let before_state = state_digest(&db);
    ok(handoff(dir.path(), &["mailboxes", "list"]));
    assert_eq!(before_state, state_digest(&db));

    // The held message goes.
    let report = send_json(dir.path(), tomorrow + Duration::minutes(1));
    assert_eq!(report["sent"].as_array().unwrap().len(), 1, "{report}");
}
