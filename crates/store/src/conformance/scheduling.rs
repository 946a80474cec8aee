//! The scheduler and circuit breakers, on every backend: caps hold against
//! concurrent claimers, send windows in the recipient's zone, rotation and
//! threads, breakers that trip at their threshold and not before, pauses
//! that hold messages queued until a person resumes.

use std::collections::HashSet;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use chrono::{DateTime, Duration, Utc, Weekday};

use handoff_domain::schedule::{BreakerRules, MailboxRules, SendPolicy, Window};

use super::*;

type Check = fn(Arc<dyn Store>) -> Pin<Box<dyn Future<Output = ()> + Send>>;

/// Every scheduling check, by name. Each gets its own fresh store.
pub fn checks() -> Vec<(&'static str, Check)> {
    vec![
        ("caps_hold_against_concurrent_claimers", |s| {
            Box::pin(caps_hold_against_concurrent_claimers(s))
        }),
        ("paused_mailbox_and_sequence_hold_until_resumed", |s| {
            Box::pin(paused_mailbox_and_sequence_hold_until_resumed(s))
        }),
        ("breakers_trip_at_the_threshold_and_not_before", |s| {
            Box::pin(breakers_trip_at_the_threshold_and_not_before(s))
        }),
        ("windows_rotation_and_threads", |s| {
            Box::pin(windows_rotation_and_threads(s))
        }),
    ]
}

/// Runs every scheduling check, each on a store from `fresh`.
pub async fn run_all<F, Fut>(mut fresh: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Arc<dyn Store>>,
{
    for (name, check) in checks() {
        eprintln!("conformance (scheduling): {name}");
        let store = fresh().await;
        check(store).await;
    }
}

fn rules(address: &str, owner: &str, cap: u32) -> MailboxRules {
    MailboxRules {
        address: address.into(),
        owner: owner.into(),
        daily_cap: cap,
        min_spacing_secs: 0,
        window: Window::always(),
        warmup: false,
    }
}

fn policy(mailboxes: Vec<MailboxRules>) -> SendPolicy {
    SendPolicy {
        time_zone: "America/New_York".into(),
        mailboxes,
        contact_gap_business_days: 2,
        holidays: false,
        extra_holidays: vec![],
        breaker: BreakerRules::default(),
    }
}

fn utc(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text)
        .unwrap()
        .with_timezone(&Utc)
}

/// A queued message for a new contact, from `mailbox`.
async fn queued(
    s: &dyn Store,
    w: &DraftWorld,
    address: &str,
    mailbox: &str,
    enrollment: Option<handoff_domain::EnrollmentId>,
) -> Message {
    let (contact, draft) = sendable_draft(s, w, address, "auto_send", enrollment).await;
    let mut new = new_message(
        contact,
        draft,
        &format!("{}-{address}", mailbox.replace('@', ".")),
        w.system.now,
    );
    new.mailbox = email(mailbox);
    s.queue_message(&w.system, &new).await.unwrap()
}

fn paced(held: &HeldMessage) -> (Vec<String>, String) {
    match &held.reason {
        HoldReason::Paced { waits, reason, .. } => (waits.clone(), reason.clone()),
        other => panic!("expected a scheduler hold, got {other:?}"),
    }
}

async fn claim_at(s: &dyn Store, w: &DraftWorld, now: DateTime<Utc>) -> ClaimedMessages {
    s.claim_messages(&w.system, &message_claim(now, 50, "w1"))
        .await
        .unwrap()
}

fn system_at(w: &DraftWorld, now: DateTime<Utc>) -> CommandContext {
    w.system.at(now)
}

/// Twelve messages, a cap of five, four claimers at once: five claims in
/// all, the rest queued for the next day with the reason.
pub async fn caps_hold_against_concurrent_claimers(store: Arc<dyn Store>) {
    let s = store.as_ref();
    let w = draft_world(s).await;
    let now = w.system.now;
    let p = policy(vec![rules("sdr@northwind.example", "dana", 5)]);
    let before = ledger_len(s).await;
    assert!(s.record_send_policy(&w.system, &p).await.unwrap());
    assert_appended(s, before, &["send_policy_recorded"]).await;
    assert!(
        !s.record_send_policy(&w.system, &p).await.unwrap(),
        "unchanged"
    );
    assert_eq!(ledger_len(s).await, before + 1);
    assert_eq!(s.send_policy().await.unwrap(), Some(p.clone()));
    for i in 0..12 {
        queued(
            s,
            &w,
            &format!("cap{i}@acme.example"),
            "sdr@northwind.example",
            None,
        )
        .await;
    }
    let mut tasks = Vec::new();
    for t in 0..4 {
        let store = store.clone();
        let ctx = w.system.clone();
        tasks.push(tokio::spawn(async move {
            let mut mine = Vec::new();
            loop {
                let got = store
                    .claim_messages(&ctx, &message_claim(now, 2, &format!("w{t}")))
                    .await
                    .unwrap();
                if got.claimed.is_empty() && got.held.is_empty() {
                    break;
                }
                for held in &got.held {
                    let (waits, reason) = paced(held);
                    assert_eq!(waits, ["cap"], "{reason}");
                    assert!(
                        reason.contains("daily cap reached (5 of 5 today)"),
                        "{reason}"
                    );
                    assert!(!held.failed);
                }
                mine.extend(got.claimed.into_iter().map(|c| c.message.id));
            }
            mine
        }));
    }
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.unwrap());
    }
    let distinct: HashSet<_> = all.iter().collect();
    assert_eq!(all.len(), 5, "the cap holds across claimers");
    assert_eq!(distinct.len(), 5);
    let counts: std::collections::BTreeMap<String, u64> =
        s.message_counts().await.unwrap().into_iter().collect();
    assert_eq!(counts.get("sending"), Some(&5));
    assert_eq!(counts.get("queued"), Some(&7));
    // Queued for the mailbox's next day (midnight in New York).
    let next_day = p.day_start(now + Duration::days(1));
    let later = s
        .claim_messages(
            &w.system,
            &message_claim(next_day - Duration::seconds(1), 50, "w1"),
        )
        .await
        .unwrap();
    assert!(later.claimed.is_empty() && later.held.is_empty());
    let states = s.mailbox_states(now).await.unwrap();
    assert_eq!(states.len(), 1);
    assert_eq!(states[0].sent_today, 5);
    assert!(states[0].first_send.is_some());
    assert!(states[0].paused.is_none());
}

/// A 5xx refusal that takes the bounce rate over the limit pauses the
/// mailbox and the sequence in the transaction that records it; their
/// messages stay queued (never failed) until a person resumes each.
pub async fn paused_mailbox_and_sequence_hold_until_resumed(store: Arc<dyn Store>) {
    let s = store.as_ref();
    let w = draft_world(s).await;
    let now = w.system.now;
    let mut p = policy(vec![rules("sdr@northwind.example", "dana", 100)]);
    p.breaker.min_sends = 2;
    s.record_send_policy(&w.system, &p).await.unwrap();
    s.sync_sequences(
        &w.system,
        &[SequenceDef {
            name: "sdr-cold".into(),
            sequence_type: "cold".into(),
            steps: json!([{"kind": "email", "day": 0}]),
            step_count: 1,
        }],
    )
    .await
    .unwrap();
    let mut enrollments = Vec::new();
    for i in 0..4 {
        let c = s
            .add_contact(
                &w.system,
                &NewContact {
                    email: email(&format!("seq{i}@acme.example")),
                    first_name: "Pat".into(),
                    last_name: format!("N{i}"),
                    title: "CFO".into(),
                    account_id: None,
                    owner: Some(w.dana.clone()),
                },
            )
            .await
            .unwrap();
        s.record_verification(&w.system, c.id, Verdict::Valid)
            .await
            .unwrap();
        enrollments.push(
            s.enroll(&w.system, c.id, "sdr-cold", false)
                .await
                .unwrap()
                .id,
        );
    }
    for (i, enrollment) in enrollments.iter().take(3).enumerate() {
        queued(
            s,
            &w,
            &format!("seq{i}@acme.example"),
            "sdr@northwind.example",
            Some(*enrollment),
        )
        .await;
    }
    let claimed = claim_at(s, &w, now).await.claimed;
    assert_eq!(claimed.len(), 3);
    for c in &claimed[..2] {
        s.mark_sent(&w.system, c, "250 ok").await.unwrap();
    }
    let before = ledger_len(s).await;
    let refused = MessageFailure::Rejected {
        code: 550,
        reply: "5.1.1 no such user".into(),
    };
    assert_eq!(
        s.mark_failed(&w.system, &claimed[2], &refused)
            .await
            .unwrap(),
        Fenced::Recorded
    );
    assert_appended(
        s,
        before,
        &[
            "message_failed",
            "sending_paused",
            "escalation_opened",
            "sending_paused",
            "escalation_opened",
        ],
    )
    .await;
    let states = s.mailbox_states(now).await.unwrap();
    let paused = states[0].paused.as_ref().expect("the mailbox is paused");
    assert!(
        paused.reason.contains("bounce rate 33.3% (1 of 3 sends"),
        "{}",
        paused.reason
    );
    assert_eq!(states[0].health.bounces, 1);
    let sequences = s.paused_sequences().await.unwrap();
    assert_eq!(sequences.len(), 1);
    assert_eq!(sequences[0].name, "sdr-cold");
    let open: Vec<Escalation> = s
        .list_open_escalations(Some(&w.dana))
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.rule_id == BREAKER_RULE)
        .collect();
    assert_eq!(open.len(), 2, "one for the mailbox, one for the sequence");
    assert!(open.iter().all(|e| e.stage == Stage::SendApproval));

    // A new message waits, queued, with the reason; never failed.
    let fourth = queued(
        s,
        &w,
        "seq3@acme.example",
        "sdr@northwind.example",
        Some(enrollments[3]),
    )
    .await;
    let got = claim_at(s, &w, now).await;
    assert!(got.claimed.is_empty());
    let (waits, reason) = paced(&got.held[0]);
    assert_eq!(waits, ["paused"]);
    assert!(reason.contains("sequence sdr-cold is paused"), "{reason}");
    assert_eq!(
        s.get_message(fourth.id).await.unwrap().unwrap().state,
        "queued"
    );

    // Resuming the mailbox alone is not enough: the sequence holds it.
    let person = w.human.at(now);
    let before = ledger_len(s).await;
    s.resume_mailbox(&person, "sdr@northwind.example", "bad address removed")
        .await
        .unwrap();
    assert_appended(s, before, &["sending_resumed", "escalation_resolved"]).await;
    let err = s
        .resume_mailbox(&person, "sdr@northwind.example", "again")
        .await
        .unwrap_err();
    assert!(refused_with(&err, "is not paused"), "{err}");
    let err = s
        .resume_mailbox(&person, "nobody@northwind.example", "x")
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::NotFound { .. }), "{err}");
    let got = claim_at(s, &w, now).await;
    assert!(got.claimed.is_empty());
    assert!(
        paced(&got.held[0])
            .1
            .contains("sequence sdr-cold is paused")
    );
    s.resume_sequence(&person, "sdr-cold", "list checked")
        .await
        .unwrap();
    assert!(s.paused_sequences().await.unwrap().is_empty());
    let got = claim_at(s, &w, now).await;
    assert_eq!(got.claimed.len(), 1, "{got:?}");
    assert_eq!(got.claimed[0].message.id, fourth.id);
}

fn refused_with(err: &StoreError, needle: &str) -> bool {
    matches!(err, StoreError::Refused { reason } if reason.contains(needle))
}

fn reported(kind: &str, id: &str, message: &Message) -> NewInboundEvent {
    NewInboundEvent {
        provider: "imap".into(),
        provider_event_id: id.into(),
        kind: kind.into(),
        contact_id: Some(message.contact_id),
        rfc_message_id: Some(format!("<{}>", message.rfc_message_id)),
        occurred_at: Utc::now(),
        payload: json!({}),
    }
}

async fn is_paused(s: &dyn Store, mailbox: &str) -> bool {
    s.mailbox_states(Utc::now())
        .await
        .unwrap()
        .iter()
        .any(|m| m.address == mailbox && m.paused.is_some())
}

/// Default breaker: judged from 20 sends, above 3%.
pub async fn breakers_trip_at_the_threshold_and_not_before(store: Arc<dyn Store>) {
    let s = store.as_ref();
    let w = draft_world(s).await;
    let now = w.system.now;
    let a = "ann@northwind.example";
    let b = "bob@northwind.example";
    s.record_send_policy(
        &w.system,
        &policy(vec![rules(a, "ann", 100), rules(b, "bob", 100)]),
    )
    .await
    .unwrap();
    for i in 0..20 {
        queued(s, &w, &format!("a{i}@acme.example"), a, None).await;
    }
    for i in 0..40 {
        queued(s, &w, &format!("b{i}@acme.example"), b, None).await;
    }
    let claimed = s
        .claim_messages(&w.system, &message_claim(now, 100, "w1"))
        .await
        .unwrap()
        .claimed;
    assert_eq!(claimed.len(), 60);
    let (from_a, from_b): (Vec<_>, Vec<_>) = claimed
        .iter()
        .partition(|c| c.message.mailbox.as_str() == a);
    let refused = MessageFailure::Rejected {
        code: 550,
        reply: "no such user".into(),
    };

    // A: too few sends to judge, however bad the rate.
    s.mark_failed(&w.system, from_a[0], &refused).await.unwrap();
    for c in &from_a[1..19] {
        s.mark_sent(&w.system, c, "250 ok").await.unwrap();
    }
    s.record_event(&w.system, &reported("bounce", "a-1", &from_a[1].message))
        .await
        .unwrap();
    assert!(!is_paused(s, a).await, "19 sends: not judged yet");
    // The 20th send, then a bounce: 3 of 20 is above 3%.
    s.mark_sent(&w.system, from_a[19], "250 ok").await.unwrap();
    let before = ledger_len(s).await;
    s.record_event(&w.system, &reported("bounce", "a-2", &from_a[2].message))
        .await
        .unwrap();
    assert_appended(
        s,
        before,
        &[
            "inbound_event_recorded",
            "sending_paused",
            "escalation_opened",
        ],
    )
    .await;
    assert!(is_paused(s, a).await);
    // The same report again is a duplicate and judges nothing.
    let before = ledger_len(s).await;
    s.record_event(&w.system, &reported("bounce", "a-2", &from_a[2].message))
        .await
        .unwrap();
    assert_eq!(ledger_len(s).await, before);

    // B: 1 of 40 (2.5%) is not above 3%; 2 of 40 (5%) is.
    for c in &from_b[1..] {
        s.mark_sent(&w.system, c, "250 ok").await.unwrap();
    }
    s.mark_failed(&w.system, from_b[0], &refused).await.unwrap();
    assert!(!is_paused(s, b).await, "2.5% is under the limit");
    // A complaint about an opened message counts on its own scale: one
    // complaint over 40 sends is 2.5%, above 0.3%.
    let before = ledger_len(s).await;
    s.record_event(&w.system, &reported("complaint", "b-1", &from_b[5].message))
        .await
        .unwrap();
    assert_appended(
        s,
        before,
        &[
            "inbound_event_recorded",
            "sending_paused",
            "escalation_opened",
        ],
    )
    .await;
    let states = s.mailbox_states(now).await.unwrap();
    let bob = states.iter().find(|m| m.address == b).unwrap();
    assert!(
        bob.paused
            .as_ref()
            .unwrap()
            .reason
            .contains("1 spam complaint(s) over 40 sends"),
        "{bob:?}"
    );
    // Neither owner is a user: the escalations wait unassigned.
    let open = s.list_open_escalations(None).await.unwrap();
    assert_eq!(open.iter().filter(|e| e.rule_id == BREAKER_RULE).count(), 2);
}

/// Send windows in the recipient's zone (a Tokyo account), rotation to the
/// owner's other mailbox when one is full, a follow-up kept in its
/// thread's mailbox with the whole thread, the per-contact frequency cap.
pub async fn windows_rotation_and_threads(store: Arc<dyn Store>) {
    let s = store.as_ref();
    let w = draft_world(s).await;
    let (a, b) = ("sdr@northwind.example", "sdr2@northwind.example");
    let office = Window {
        days: vec![
            Weekday::Mon,
            Weekday::Tue,
            Weekday::Wed,
            Weekday::Thu,
            Weekday::Fri,
        ],
        from_minute: 9 * 60,
        to_minute: 17 * 60,
    };
    let mut first = rules(a, "dana", 1);
    first.window = office.clone();
    let mut second = rules(b, "dana", 1);
    second.window = office;
    let mut p = policy(vec![first, second]);
    p.holidays = true;
    s.record_send_policy(&w.system, &p).await.unwrap();
    let tokyo = s
        .ensure_account(
            &w.system,
            &NewAccount {
                domain: "acme.co.jp".into(),
                name: "Acme Japan".into(),
            },
        )
        .await
        .unwrap();
    for name in ["kenji", "yuki"] {
        s.add_contact(
            &w.system,
            &NewContact {
                email: email(&format!("{name}@acme.co.jp")),
                first_name: name.into(),
                last_name: "Sato".into(),
                title: "CFO".into(),
                account_id: Some(tokyo.id),
                owner: Some(w.dana.clone()),
            },
        )
        .await
        .unwrap();
    }
    let m1 = queued(s, &w, "kenji@acme.co.jp", a, None).await;

    // Saturday 6 March 2027, noon in Tokyo: Monday 09:00 JST.
    let got = claim_at(s, &w, utc("2027-03-06T03:00:00Z")).await;
    let (waits, reason) = paced(&got.held[0]);
    assert_eq!(waits, ["window"], "{reason}");
    assert!(reason.contains("2027-03-08 09:00 JST"), "{reason}");
    assert_eq!(
        s.get_message(m1.id).await.unwrap().unwrap().scheduled_at,
        utc("2027-03-08T00:00:00Z")
    );
    let monday = utc("2027-03-08T00:00:00Z");
    let got = claim_at(s, &w, monday).await;
    assert_eq!(got.claimed.len(), 1);
    assert_eq!(got.claimed[0].message.mailbox.as_str(), a);
    assert_eq!(got.claimed[0].thread, None);
    s.mark_sent(&system_at(&w, monday), &got.claimed[0], "250 ok")
        .await
        .unwrap();

    // A's cap is reached: Yuki's first email goes from B.
    let m2 = queued(s, &w, "yuki@acme.co.jp", a, None).await;
    let before = ledger_len(s).await;
    let got = claim_at(s, &w, monday + Duration::minutes(30)).await;
    assert_eq!(got.claimed.len(), 1, "{got:?}");
    assert_eq!(got.claimed[0].message.id, m2.id);
    assert_eq!(got.claimed[0].message.mailbox.as_str(), b);
    assert_appended(s, before, &["message_rerouted", "message_claimed"]).await;
    assert_eq!(
        s.get_message(m2.id)
            .await
            .unwrap()
            .unwrap()
            .mailbox
            .as_str(),
        b
    );

    // Kenji's follow-up, queued from B: Kenji was emailed today, so it
    // waits for the frequency cap (two business days in Tokyo).
    let (kenji, draft) = sendable_draft(s, &w, "kenji@acme.co.jp", "auto_send", None).await;
    let mut follow = new_message(kenji, draft, "follow-up@northwind.example", w.system.now);
    follow.mailbox = email(b);
    follow.in_reply_to = Some(format!("<{}>", m1.rfc_message_id));
    let follow = s.queue_message(&w.system, &follow).await.unwrap();
    let got = claim_at(s, &w, monday + Duration::hours(1)).await;
    assert!(got.claimed.is_empty());
    let (waits, reason) = paced(&got.held[0]);
    assert_eq!(waits, ["frequency"], "{reason}");
    assert!(
        reason.contains("not before 2027-03-10 09:00 JST"),
        "{reason}"
    );
    // Then 09:00 in Tokyo: from A, the thread's mailbox, although it was
    // queued from B (rotation would try B first), with the thread.
    let wednesday = utc("2027-03-10T00:00:00Z");
    let got = claim_at(s, &w, wednesday).await;
    assert_eq!(got.claimed.len(), 1, "{got:?}");
    let claimed = &got.claimed[0];
    assert_eq!(claimed.message.id, follow.id);
    assert_eq!(claimed.message.mailbox.as_str(), a);
    let thread = claimed.thread.as_ref().expect("a follow-up has its thread");
    assert_eq!(thread.root_subject, SUBJECT);
    assert_eq!(thread.references, vec![m1.rfc_message_id.clone()]);
}
