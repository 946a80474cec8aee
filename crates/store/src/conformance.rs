//! The conformance story: one set of checks every backend must pass. The
//! SQLite and PostgreSQL crates call [`run_all`] from their test suites
//! with a fresh, migrated store.
//!
//! It is library code (not `#[cfg(test)]`) so both backends share it; it
//! panics on failure like any test.
#![allow(clippy::unwrap_used, clippy::panic, clippy::expect_used)]

/// The scheduler and circuit breakers (their own `run_all`).
pub mod scheduling;

use std::collections::{BTreeSet, HashSet};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use chrono::{Duration, Utc};
use serde_json::json;

use handoff_domain::enrollment::{EnrollmentState, StopReason};
use handoff_domain::escalation::{Priority, Stage};
use handoff_domain::jobs::{JobKind, JobState, RetryPolicy};
use handoff_domain::users::{Role, Username};
use handoff_domain::verification::{InvalidReason, RiskReason, UnknownReason, Verdict};
use handoff_domain::{Actor, EmailAddress, Event, JobId};

use crate::*;

type Check = fn(Arc<dyn Store>) -> Pin<Box<dyn Future<Output = ()> + Send>>;

/// Every check, by name. Each gets its own fresh store.
pub fn checks() -> Vec<(&'static str, Check)> {
    vec![
        ("migrate_is_idempotent", |s| {
            Box::pin(migrate_is_idempotent(s))
        }),
        ("ledger_appends_and_tails", |s| {
            Box::pin(ledger_appends_and_tails(s))
        }),
        ("every_write_appends_its_ledger_entry", |s| {
            Box::pin(every_write_appends_its_ledger_entry(s))
        }),
        ("failed_writes_leave_no_trace", |s| {
            Box::pin(failed_writes_leave_no_trace(s))
        }),
        ("users_contacts_and_accounts", |s| {
            Box::pin(users_contacts_and_accounts(s))
        }),
        ("sequences_sync_only_changes", |s| {
            Box::pin(sequences_sync_only_changes(s))
        }),
        ("suppression_is_idempotent", |s| {
            Box::pin(suppression_is_idempotent(s))
        }),
        ("workflow_records_append_and_read_back", |s| {
            Box::pin(workflow_records_append_and_read_back(s))
        }),
        ("events_list_oldest_first_and_page", |s| {
            Box::pin(events_list_oldest_first_and_page(s))
        }),
        ("import_batches_merge_idempotently", |s| {
            Box::pin(import_batches_merge_idempotently(s))
        }),
        ("prospects_scores_and_tags", |s| {
            Box::pin(prospects_scores_and_tags(s))
        }),
        ("approvals_gate_enrolment", |s| {
            Box::pin(approvals_gate_enrolment(s))
        }),
        ("queue_claims_complete_and_fence", |s| {
            Box::pin(queue_claims_complete_and_fence(s))
        }),
        ("queue_retries_then_dies", |s| {
            Box::pin(queue_retries_then_dies(s))
        }),
        ("queue_reclaims_expired_leases", |s| {
            Box::pin(queue_reclaims_expired_leases(s))
        }),
        ("queue_concurrent_claims_never_overlap", |s| {
            Box::pin(queue_concurrent_claims_never_overlap(s))
        }),
        ("evaluations_are_recorded_under_their_policy", |s| {
            Box::pin(evaluations_are_recorded_under_their_policy(s))
        }),
        ("escalate_verdict_opens_one_escalation", |s| {
            Box::pin(escalate_verdict_opens_one_escalation(s))
        }),
        ("reviews_are_recorded_once", |s| {
            Box::pin(reviews_are_recorded_once(s))
        }),
        ("unapproved_drafts_expire_and_are_never_sent", |s| {
            Box::pin(unapproved_drafts_expire_and_are_never_sent(s))
        }),
        ("drafts_are_sent_once_and_only_when_allowed", |s| {
            Box::pin(drafts_are_sent_once_and_only_when_allowed(s))
        }),
        ("drafts_list_by_time_and_page_by_id", |s| {
            Box::pin(drafts_list_by_time_and_page_by_id(s))
        }),
        ("draft_history_is_oldest_first", |s| {
            Box::pin(draft_history_is_oldest_first(s))
        }),
        ("graduation_counts_accepted_drafts_per_type", |s| {
            Box::pin(graduation_counts_accepted_drafts_per_type(s))
        }),
        ("demotions_come_from_the_ledger", |s| {
            Box::pin(demotions_come_from_the_ledger(s))
        }),
        ("research_is_kept_per_account_and_replaced", |s| {
            Box::pin(research_is_kept_per_account_and_replaced(s))
        }),
        ("messages_are_queued_claimed_and_fenced", |s| {
            Box::pin(messages_are_queued_claimed_and_fenced(s))
        }),
        ("claims_recheck_stops_and_windows", |s| {
            Box::pin(claims_recheck_stops_and_windows(s))
        }),
        ("expired_sends_become_in_doubt_never_queued", |s| {
            Box::pin(expired_sends_become_in_doubt_never_queued(s))
        }),
        ("concurrent_message_claims_never_overlap", |s| {
            Box::pin(concurrent_message_claims_never_overlap(s))
        }),
        ("unsubscribe_suppresses_and_stops_once", |s| {
            Box::pin(unsubscribe_suppresses_and_stops_once(s))
        }),
        ("approval_links_are_single_use", |s| {
            Box::pin(approval_links_are_single_use(s))
        }),
        ("review_queue_approves_rejects_and_reassigns", |s| {
            Box::pin(review_queue_approves_rejects_and_reassigns(s))
        }),
        ("escalated_veto_drafts_expire_unapproved", |s| {
            Box::pin(escalated_veto_drafts_expire_unapproved(s))
        }),
        ("inbox_takes_over_hands_back_and_escalates_overdue", |s| {
            Box::pin(inbox_takes_over_hands_back_and_escalates_overdue(s))
        }),
    ]
}

/// Runs every check, each on a store from `fresh`.
pub async fn run_all<F, Fut>(mut fresh: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Arc<dyn Store>>,
{
    for (name, check) in checks() {
        eprintln!("conformance: {name}");
        let store = fresh().await;
        check(store).await;
    }
}

fn ctx() -> CommandContext {
    CommandContext::new(Actor::human("tester"), None)
}

fn email(s: &str) -> EmailAddress {
    EmailAddress::parse(s).unwrap()
}

async fn ledger_len(store: &dyn Store) -> usize {
    store
        .count_by_kind()
        .await
        .unwrap()
        .iter()
        .map(|(_, n)| *n as usize)
        .sum()
}

async fn last_entries(store: &dyn Store, n: u32) -> Vec<LedgerEntry> {
    store
        .tail(&LedgerFilter {
            limit: n,
            ..LedgerFilter::default()
        })
        .await
        .unwrap()
}

pub async fn migrate_is_idempotent(store: Arc<dyn Store>) {
    let status = store.schema_status().await.unwrap();
    assert!(status.is_current(), "a fresh store is migrated: {status:?}");
    let again = store.migrate().await.unwrap();
    assert!(again.applied.is_empty(), "second migrate applies nothing");
    let migrated = store
        .tail(&LedgerFilter {
            kind: Some("schema_migrated".into()),
            limit: 10,
            ..LedgerFilter::default()
        })
        .await
        .unwrap();
    assert_eq!(migrated.len(), 1, "the first migration is in the ledger");
    assert!(matches!(migrated[0].actor, Actor::System { .. }));
}

pub async fn ledger_appends_and_tails(store: Arc<dyn Store>) {
    let ctx = ctx();
    let first = store
        .append(
            &ctx,
            &Event::BenchmarkProbe {
                run: "t".into(),
                seq: 1,
            },
        )
        .await
        .unwrap();
    let batch: Vec<Event> = (2..=5)
        .map(|seq| Event::BenchmarkProbe {
            run: "t".into(),
            seq,
        })
        .collect();
    assert_eq!(store.append_batch(&ctx, &batch).await.unwrap(), 4);

    let probes = store
        .tail(&LedgerFilter {
            kind: Some("benchmark_probe".into()),
            limit: 100,
            ..LedgerFilter::default()
        })
        .await
        .unwrap();
    let seqs: Vec<u64> = probes
        .iter()
        .map(|e| match e.event {
            Event::BenchmarkProbe { seq, .. } => seq,
            _ => 0,
        })
        .collect();
    assert_eq!(seqs, vec![1, 2, 3, 4, 5], "oldest first, in append order");
    assert_eq!(probes[0].id, first.id);
    assert_eq!(probes[0].actor, Actor::human("tester"));
    assert!(probes.windows(2).all(|w| w[0].id < w[1].id));

    let newest_two = store
        .tail(&LedgerFilter {
            kind: Some("benchmark_probe".into()),
            limit: 2,
            ..LedgerFilter::default()
        })
        .await
        .unwrap();
    assert_eq!(newest_two.len(), 2);
    assert_eq!(newest_two[1].id, probes[4].id, "a limit keeps the newest");

    let after = store
        .tail(&LedgerFilter {
            after: Some(probes[2].id),
            limit: 100,
            ..LedgerFilter::default()
        })
        .await
        .unwrap();
    assert_eq!(after.len(), 2, "`after` follows the ledger");
}

/// The ledger invariant: each state-changing method appends exactly the
/// entries that describe it, stamped with the actor and policy version.
pub async fn every_write_appends_its_ledger_entry(store: Arc<dyn Store>) {
    let policy =
        handoff_domain::playbook::parse(handoff_domain::playbook::DEFAULT_PLAYBOOK, "handoff.toml")
            .unwrap()
            .policy_version();
    let ctx = CommandContext::new(Actor::human("dana"), Some(policy.clone()));
    let s = store.as_ref();

    async fn expect(s: &dyn Store, before: usize, kinds: &[&str], policy: &str) {
        let after = ledger_len(s).await;
        assert_eq!(
            after - before,
            kinds.len(),
            "entries appended for {kinds:?}"
        );
        let tail = last_entries(s, kinds.len() as u32).await;
        let got: Vec<&str> = tail.iter().map(|e| e.kind.as_str()).collect();
        assert_eq!(got, kinds);
        for entry in &tail {
            assert_eq!(entry.actor, Actor::human("dana"));
            assert_eq!(entry.policy_version.as_deref(), Some(policy));
        }
    }
    let pv = policy.to_string();

    let before = ledger_len(s).await;
    let user = s
        .add_user(
            &ctx,
            &NewUser {
                username: Username::parse("dana").unwrap(),
                display_name: "Dana".into(),
                email: None,
                role: Role::Rep,
                manager: None,
            },
        )
        .await
        .unwrap();
    expect(s, before, &["user_added"], &pv).await;
    assert_eq!(last_entries(s, 1).await[0].user_id, Some(user.id));

    let before = ledger_len(s).await;
    let account = s
        .ensure_account(
            &ctx,
            &NewAccount {
                domain: "acme.example".into(),
                name: "Acme".into(),
            },
        )
        .await
        .unwrap();
    expect(s, before, &["account_created"], &pv).await;

    let before = ledger_len(s).await;
    let contact = s
        .add_contact(
            &ctx,
            &NewContact {
                email: email("ada@acme.example"),
                first_name: "Ada".into(),
                last_name: "Lovelace".into(),
                title: "VP Engineering".into(),
                account_id: Some(account.id),
                owner: Some(user.username.clone()),
            },
        )
        .await
        .unwrap();
    expect(s, before, &["contact_created"], &pv).await;
    let by_contact = s
        .tail(&LedgerFilter {
            contact_id: Some(contact.id),
            limit: 10,
            ..LedgerFilter::default()
        })
        .await
        .unwrap();
    assert_eq!(by_contact.len(), 1);
    assert_eq!(by_contact[0].account_id, Some(account.id));

    let before = ledger_len(s).await;
    let def = SequenceDef {
        name: "sdr-cold".into(),
        sequence_type: "cold".into(),
        steps: json!([{"kind": "email", "day": 0}]),
        step_count: 1,
    };
    assert_eq!(s.sync_sequences(&ctx, &[def]).await.unwrap(), 1);
    expect(s, before, &["sequence_defined"], &pv).await;

    let before = ledger_len(s).await;
    assert!(
        s.suppress(&ctx, &email("ada@acme.example"), "unsubscribed")
            .await
            .unwrap()
    );
    expect(s, before, &["suppressed"], &pv).await;
    assert_eq!(last_entries(s, 1).await[0].contact_id, Some(contact.id));

    let before = ledger_len(s).await;
    s.append(
        &ctx,
        &Event::WorkspaceInitialized {
            workspace: "w".into(),
        },
    )
    .await
    .unwrap();
    expect(s, before, &["workspace_initialized"], &pv).await;

    let before = ledger_len(s).await;
    let jobs = vec![
        NewJob::now(JobKind::Probe, json!({}), ctx.now),
        NewJob::now(JobKind::Probe, json!({}), ctx.now),
        NewJob {
            max_attempts: 1,
            ..NewJob::now(JobKind::FailingProbe, json!({}), ctx.now)
        },
    ];
    s.enqueue(&ctx, &jobs).await.unwrap();
    expect(s, before, &["jobs_enqueued", "jobs_enqueued"], &pv).await;

    let claimed = s
        .claim(&ClaimRequest {
            worker: "w1".into(),
            kinds: JobKind::ALL.to_vec(),
            limit: 10,
            lease: Duration::seconds(60),
            now: ctx.now,
        })
        .await
        .unwrap();
    assert_eq!(claimed.len(), 3);
    let before = ledger_len(s).await;
    let probe = &claimed[0];
    let outcome = Event::ProbeCompleted {
        job_id: probe.id,
        worker: "w1".into(),
    };
    assert_eq!(
        s.complete(&ctx, probe, &outcome).await.unwrap(),
        Completion::Done
    );
    expect(s, before, &["probe_completed"], &pv).await;

    let before = ledger_len(s).await;
    let r = s
        .fail(&ctx, &claimed[1], "boom", &RetryPolicy::default(), ctx.now)
        .await
        .unwrap();
    assert!(matches!(r, Completion::RetryAt(_)));
    expect(s, before, &["job_failed"], &pv).await;

    let before = ledger_len(s).await;
    let r = s
        .fail(
            &ctx,
            &claimed[2],
            "always",
            &RetryPolicy::default(),
            ctx.now,
        )
        .await
        .unwrap();
    assert_eq!(r, Completion::Dead);
    expect(s, before, &["job_dead"], &pv).await;

    let before = ledger_len(s).await;
    assert!(s.requeue_dead(&ctx, claimed[2].id, ctx.now).await.unwrap());
    expect(s, before, &["job_retried"], &pv).await;

    let before = ledger_len(s).await;
    let draft = s
        .create_draft(&ctx, &new_draft(contact.id, AuthorKind::Ai, Some("cold")))
        .await
        .unwrap();
    expect(s, before, &["draft_created"], &pv).await;

    let before = ledger_len(s).await;
    s.record_evaluation(&ctx, draft.id, &escalating(ctx.now, None))
        .await
        .unwrap();
    expect(s, before, &["draft_evaluated", "escalation_opened"], &pv).await;

    let before = ledger_len(s).await;
    s.record_review(
        &ctx,
        draft.id,
        &review(ReviewDecision::Approved, &user.username),
    )
    .await
    .unwrap();
    expect(s, before, &["draft_reviewed"], &pv).await;

    let before = ledger_len(s).await;
    s.mark_draft_sent(&ctx, draft.id, ctx.now).await.unwrap();
    expect(s, before, &["draft_sent"], &pv).await;

    let before = ledger_len(s).await;
    s.record_demotion(
        &ctx,
        &NewDemotion {
            sequence_type: "cold".into(),
            from: "auto".into(),
            to: "approval".into(),
            acceptance: 0.5,
            drafts: 30,
        },
    )
    .await
    .unwrap();
    expect(s, before, &["send_authority_demoted"], &pv).await;
}

/// A write that fails changes nothing and appends nothing.
pub async fn failed_writes_leave_no_trace(store: Arc<dyn Store>) {
    let ctx = ctx();
    let s = store.as_ref();
    let dana = NewUser {
        username: Username::parse("dana").unwrap(),
        display_name: "Dana".into(),
        email: None,
        role: Role::Rep,
        manager: None,
    };
    s.add_user(&ctx, &dana).await.unwrap();
    let before = ledger_len(s).await;

    let err = s.add_user(&ctx, &dana).await.unwrap_err();
    assert!(matches!(err, StoreError::Conflict { .. }), "{err}");
    let orphan = NewUser {
        username: Username::parse("sam").unwrap(),
        manager: Some(Username::parse("nobody").unwrap()),
        ..dana.clone()
    };
    let err = s.add_user(&ctx, &orphan).await.unwrap_err();
    assert!(matches!(err, StoreError::NotFound { .. }), "{err}");

    let contact = NewContact {
        email: email("x@y.example"),
        first_name: String::new(),
        last_name: String::new(),
        title: String::new(),
        account_id: None,
        owner: None,
    };
    s.add_contact(&ctx, &contact).await.unwrap();
    let before_dup = ledger_len(s).await;
    let err = s.add_contact(&ctx, &contact).await.unwrap_err();
    assert!(matches!(err, StoreError::Conflict { .. }), "{err}");
    assert_eq!(ledger_len(s).await, before_dup);
    assert_eq!(s.list_users().await.unwrap().len(), 1);
    assert_eq!(s.list_contacts(None, 100).await.unwrap().len(), 1);
    assert_eq!(
        before_dup,
        before + 1,
        "only the successful contact was recorded"
    );
}

pub async fn users_contacts_and_accounts(store: Arc<dyn Store>) {
    let ctx = ctx();
    let s = store.as_ref();
    let manager = s
        .add_user(
            &ctx,
            &NewUser {
                username: Username::parse("morgan").unwrap(),
                display_name: "Morgan".into(),
                email: Some(email("Morgan@Northwind.example")),
                role: Role::Manager,
                manager: None,
            },
        )
        .await
        .unwrap();
    s.add_user(
        &ctx,
        &NewUser {
            username: Username::parse("dana").unwrap(),
            display_name: "Dana".into(),
            email: None,
            role: Role::Rep,
            manager: Some(manager.username.clone()),
        },
    )
    .await
    .unwrap();
    let users = s.list_users().await.unwrap();
    let names: Vec<&str> = users.iter().map(|u| u.username.as_str()).collect();
    assert_eq!(names, vec!["dana", "morgan"]);
    let dana = s
        .find_user(&Username::parse("dana").unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(dana.manager, Some(manager.username.clone()));
    assert_eq!(
        s.find_user(&manager.username).await.unwrap().unwrap().email,
        Some(email("morgan@northwind.example"))
    );
    assert!(
        s.find_user(&Username::parse("ghost").unwrap())
            .await
            .unwrap()
            .is_none()
    );

    let a1 = s
        .ensure_account(
            &ctx,
            &NewAccount {
                domain: "Acme.example".into(),
                name: "Acme".into(),
            },
        )
        .await
        .unwrap();
    let before = ledger_len(s).await;
    let a2 = s
        .ensure_account(
            &ctx,
            &NewAccount {
                domain: "acme.example".into(),
                name: "ACME Inc".into(),
            },
        )
        .await
        .unwrap();
    assert_eq!(a1.id, a2.id, "one account per domain");
    assert_eq!(
        ledger_len(s).await,
        before,
        "finding an account changes nothing"
    );

    let c = s
        .add_contact(
            &ctx,
            &NewContact {
                email: email("Ada@Acme.example"),
                first_name: "Ada".into(),
                last_name: "L".into(),
                title: "CTO".into(),
                account_id: Some(a1.id),
                owner: Some(dana.username.clone()),
            },
        )
        .await
        .unwrap();
    assert_eq!(s.get_contact(c.id).await.unwrap().as_ref(), Some(&c));
    assert_eq!(
        s.find_contact_by_email(&email("ADA@acme.example"))
            .await
            .unwrap()
            .map(|x| x.id),
        Some(c.id)
    );
    let err = s
        .add_contact(
            &ctx,
            &NewContact {
                email: email("bob@acme.example"),
                first_name: String::new(),
                last_name: String::new(),
                title: String::new(),
                account_id: None,
                owner: Some(Username::parse("ghost").unwrap()),
            },
        )
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::NotFound { .. }), "{err}");
}

pub async fn sequences_sync_only_changes(store: Arc<dyn Store>) {
    let ctx = ctx();
    let s = store.as_ref();
    let mut defs = vec![
        SequenceDef {
            name: "sdr-cold".into(),
            sequence_type: "cold".into(),
            steps: json!([{"kind": "email", "day": 0}, {"kind": "call", "day": 2}]),
            step_count: 2,
        },
        SequenceDef {
            name: "ae-follow-up".into(),
            sequence_type: "post_meeting".into(),
            steps: json!([{"kind": "email", "day": 0}]),
            step_count: 1,
        },
    ];
    assert_eq!(s.sync_sequences(&ctx, &defs).await.unwrap(), 2);
    assert_eq!(
        s.sync_sequences(&ctx, &defs).await.unwrap(),
        0,
        "unchanged: nothing written"
    );
    defs[1].steps = json!([{"kind": "email", "day": 1}]);
    assert_eq!(s.sync_sequences(&ctx, &defs).await.unwrap(), 1);
    let stored = s.list_sequences().await.unwrap();
    assert_eq!(stored.len(), 2);
    assert_eq!(stored[0].name, "ae-follow-up");
    assert_eq!(stored[0].steps, json!([{"kind": "email", "day": 1}]));
}

pub async fn suppression_is_idempotent(store: Arc<dyn Store>) {
    let ctx = ctx();
    let s = store.as_ref();
    let addr = email("gone@example.org");
    assert!(!s.is_suppressed(&addr).await.unwrap());
    assert!(s.suppress(&ctx, &addr, "complaint").await.unwrap());
    assert!(
        !s.suppress(&ctx, &email("GONE@example.org"), "again")
            .await
            .unwrap()
    );
    assert!(s.is_suppressed(&email("Gone@Example.org")).await.unwrap());
    let entries = s
        .tail(&LedgerFilter {
            kind: Some("suppressed".into()),
            limit: 10,
            ..LedgerFilter::default()
        })
        .await
        .unwrap();
    assert_eq!(entries.len(), 1);
    let payload = serde_json::to_string(&entries[0].event).unwrap();
    assert!(
        !payload.contains("gone@"),
        "the ledger keeps only the hash: {payload}"
    );
}

fn claim(worker: &str, limit: u32, lease_secs: i64, now: chrono::DateTime<Utc>) -> ClaimRequest {
    ClaimRequest {
        worker: worker.into(),
        kinds: JobKind::ALL.to_vec(),
        limit,
        lease: Duration::seconds(lease_secs),
        now,
    }
}

pub async fn queue_claims_complete_and_fence(store: Arc<dyn Store>) {
    let ctx = ctx();
    let s = store.as_ref();
    let now = ctx.now;
    let later = NewJob {
        run_at: now + Duration::hours(1),
        ..NewJob::now(JobKind::Probe, json!({"n": 3}), now)
    };
    let ids = s
        .enqueue(
            &ctx,
            &[
                NewJob::now(JobKind::Probe, json!({"n": 1}), now),
                NewJob::now(JobKind::Probe, json!({"n": 2}), now),
                later,
            ],
        )
        .await
        .unwrap();
    assert_eq!(ids.len(), 3);

    // Only kinds the worker knows.
    let none = s
        .claim(&ClaimRequest {
            kinds: vec![JobKind::FailingProbe],
            ..claim("w1", 10, 30, now)
        })
        .await
        .unwrap();
    assert!(none.is_empty());

    let first = s.claim(&claim("w1", 1, 30, now)).await.unwrap();
    assert_eq!(first.len(), 1);
    assert_eq!(first[0].id, ids[0], "oldest due job first");
    assert_eq!(first[0].payload, json!({"n": 1}));
    assert_eq!(first[0].attempt, 1);
    let rest = s.claim(&claim("w2", 10, 30, now)).await.unwrap();
    assert_eq!(
        rest.iter().map(|j| j.id).collect::<Vec<_>>(),
        vec![ids[1]],
        "future jobs wait"
    );

    let done = s
        .complete(
            &ctx,
            &first[0],
            &Event::ProbeCompleted {
                job_id: first[0].id,
                worker: "w1".into(),
            },
        )
        .await
        .unwrap();
    assert_eq!(done, Completion::Done);
    // Completing twice is refused: the lease is gone.
    let again = s
        .complete(
            &ctx,
            &first[0],
            &Event::ProbeCompleted {
                job_id: first[0].id,
                worker: "w1".into(),
            },
        )
        .await
        .unwrap();
    assert_eq!(again, Completion::LeaseLost);

    // A forged token cannot complete someone else's job.
    let forged = ClaimedJob {
        lease_token: "not-the-token".into(),
        ..rest[0].clone()
    };
    assert_eq!(
        s.complete(
            &ctx,
            &forged,
            &Event::ProbeCompleted {
                job_id: forged.id,
                worker: "x".into()
            }
        )
        .await
        .unwrap(),
        Completion::LeaseLost
    );
    let probes = s
        .tail(&LedgerFilter {
            kind: Some("probe_completed".into()),
            limit: 10,
            ..LedgerFilter::default()
        })
        .await
        .unwrap();
    assert_eq!(probes.len(), 1, "a refused completion leaves no entry");

    let counts = s.job_counts().await.unwrap();
    let count = |state: JobState| {
        counts
            .iter()
            .filter(|c| c.state == state)
            .map(|c| c.count)
            .sum::<u64>()
    };
    assert_eq!(
        (
            count(JobState::Done),
            count(JobState::Running),
            count(JobState::Queued)
        ),
        (1, 1, 1)
    );
}

pub async fn queue_retries_then_dies(store: Arc<dyn Store>) {
    let ctx = ctx();
    let s = store.as_ref();
    let mut now = ctx.now;
    let [id] = s
        .enqueue(
            &ctx,
            &[NewJob {
                max_attempts: 3,
                ..NewJob::now(JobKind::FailingProbe, json!({}), now)
            }],
        )
        .await
        .unwrap()[..]
    else {
        panic!("one id")
    };
    let retry = RetryPolicy::default();
    let mut outcomes = Vec::new();
    for attempt in 1..=3 {
        let claimed = s.claim(&claim("w", 10, 30, now)).await.unwrap();
        assert_eq!(claimed.len(), 1, "attempt {attempt} is due");
        assert_eq!(claimed[0].attempt, attempt);
        // Not due again before its backoff.
        let outcome = s
            .fail(
                &ctx,
                &claimed[0],
                &format!("failure {attempt}"),
                &retry,
                now,
            )
            .await
            .unwrap();
        if let Completion::RetryAt(at) = outcome {
            assert!(at > now);
            assert!(
                s.claim(&claim("w", 10, 30, now)).await.unwrap().is_empty(),
                "backoff respected"
            );
            now = at;
        }
        outcomes.push(outcome);
    }
    assert_eq!(outcomes[2], Completion::Dead);
    let dead = s
        .list_jobs(&JobFilter {
            state: Some(JobState::Dead),
            limit: 10,
        })
        .await
        .unwrap();
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0].id, id);
    assert_eq!(dead[0].attempts, 3);
    assert_eq!(dead[0].last_error.as_deref(), Some("failure 3"));
    assert!(
        s.claim(&claim("w", 10, 30, now + Duration::days(1)))
            .await
            .unwrap()
            .is_empty()
    );

    assert!(s.requeue_dead(&ctx, id, now).await.unwrap());
    assert!(
        !s.requeue_dead(&ctx, id, now).await.unwrap(),
        "only dead jobs can be requeued"
    );
    assert_eq!(s.claim(&claim("w", 10, 30, now)).await.unwrap().len(), 1);
}

pub async fn queue_reclaims_expired_leases(store: Arc<dyn Store>) {
    let ctx = ctx();
    let s = store.as_ref();
    let now = ctx.now;
    s.enqueue(
        &ctx,
        &[
            NewJob::now(JobKind::Probe, json!({}), now),
            NewJob {
                max_attempts: 1,
                ..NewJob::now(JobKind::Probe, json!({"fragile": true}), now)
            },
        ],
    )
    .await
    .unwrap();
    let crashed = s.claim(&claim("crashed", 10, 30, now)).await.unwrap();
    assert_eq!(crashed.len(), 2);
    assert!(
        s.claim(&claim("w2", 10, 30, now + Duration::seconds(29)))
            .await
            .unwrap()
            .is_empty()
    );

    let after_expiry = now + Duration::seconds(31);
    let taken = s.claim(&claim("w2", 10, 30, after_expiry)).await.unwrap();
    assert_eq!(
        taken.len(),
        1,
        "the expired lease is reclaimed; the out-of-attempts job is not"
    );
    assert_eq!(taken[0].attempt, 2);
    assert_ne!(taken[0].lease_token, crashed[0].lease_token);

    // The crashed worker comes back late: its outcome is discarded.
    let late = s
        .complete(
            &ctx,
            &crashed[0],
            &Event::ProbeCompleted {
                job_id: crashed[0].id,
                worker: "crashed".into(),
            },
        )
        .await
        .unwrap();
    assert_eq!(late, Completion::LeaseLost);
    let now_done = s
        .complete(
            &ctx,
            &taken[0],
            &Event::ProbeCompleted {
                job_id: taken[0].id,
                worker: "w2".into(),
            },
        )
        .await
        .unwrap();
    assert_eq!(now_done, Completion::Done);

    // The job that used its only attempt is buried for a human.
    assert_eq!(s.bury_expired(&ctx, after_expiry).await.unwrap(), 1);
    assert_eq!(s.bury_expired(&ctx, after_expiry).await.unwrap(), 0);
    let dead = s
        .list_jobs(&JobFilter {
            state: Some(JobState::Dead),
            limit: 10,
        })
        .await
        .unwrap();
    assert_eq!(dead.len(), 1);
    assert!(
        dead[0]
            .last_error
            .as_deref()
            .unwrap_or_default()
            .contains("lease expired")
    );
}

pub async fn queue_concurrent_claims_never_overlap(store: Arc<dyn Store>) {
    let ctx = ctx();
    let now = ctx.now;
    let jobs: Vec<NewJob> = (0..400)
        .map(|n| NewJob::now(JobKind::Probe, json!({ "n": n }), now))
        .collect();
    let ids: BTreeSet<JobId> = store
        .enqueue(&ctx, &jobs)
        .await
        .unwrap()
        .into_iter()
        .collect();
    let mut tasks = Vec::new();
    for w in 0..8 {
        let store = store.clone();
        let ctx = ctx.clone();
        tasks.push(tokio::spawn(async move {
            let mut mine = Vec::new();
            loop {
                let claimed = store
                    .claim(&claim(&format!("w{w}"), 7, 300, now))
                    .await
                    .unwrap();
                if claimed.is_empty() {
                    break;
                }
                for job in claimed {
                    let outcome = Event::ProbeCompleted {
                        job_id: job.id,
                        worker: format!("w{w}"),
                    };
                    assert_eq!(
                        store.complete(&ctx, &job, &outcome).await.unwrap(),
                        Completion::Done
                    );
                    mine.push(job.id);
                }
            }
            mine
        }));
    }
    let mut seen = HashSet::new();
    for task in tasks {
        for id in task.await.unwrap() {
            assert!(seen.insert(id), "job {id} was claimed twice");
        }
    }
    assert_eq!(seen.len(), ids.len());
    let done = store
        .tail(&LedgerFilter {
            kind: Some("probe_completed".into()),
            limit: 1000,
            ..LedgerFilter::default()
        })
        .await
        .unwrap();
    assert_eq!(done.len(), 400);
}

/// Asserts that exactly `kinds` were appended since `before`.
async fn assert_appended(s: &dyn Store, before: usize, kinds: &[&str]) {
    assert_eq!(
        ledger_len(s).await - before,
        kinds.len(),
        "appended {kinds:?}"
    );
    let tail = last_entries(s, kinds.len() as u32).await;
    let got: Vec<&str> = tail.iter().map(|e| e.kind.as_str()).collect();
    assert_eq!(got, kinds);
}

/// Imports, enrolments, drafts, messages, inbound events, escalations:
/// each write appends its entry, refuses what it must, and reads back.
pub async fn workflow_records_append_and_read_back(store: Arc<dyn Store>) {
    let policy =
        handoff_domain::playbook::parse(handoff_domain::playbook::DEFAULT_PLAYBOOK, "handoff.toml")
            .unwrap()
            .policy_version();
    let ctx = CommandContext::new(Actor::human("dana"), Some(policy.clone()));
    let s = store.as_ref();
    let dana = s
        .add_user(
            &ctx,
            &NewUser {
                username: Username::parse("dana").unwrap(),
                display_name: "Dana".into(),
                email: None,
                role: Role::Rep,
                manager: None,
            },
        )
        .await
        .unwrap();
    let contact = s
        .add_contact(
            &ctx,
            &NewContact {
                email: email("ada@acme.example"),
                first_name: "Ada".into(),
                last_name: String::new(),
                title: String::new(),
                account_id: None,
                owner: Some(dana.username.clone()),
            },
        )
        .await
        .unwrap();
    s.sync_sequences(
        &ctx,
        &[SequenceDef {
            name: "sdr-cold".into(),
            sequence_type: "cold".into(),
            steps: json!([{"kind": "email", "day": 0}]),
            step_count: 1,
        }],
    )
    .await
    .unwrap();

    // Imports
    let before = ledger_len(s).await;
    let import = s
        .start_import(
            &ctx,
            &NewImport {
                file_name: "leads.csv".into(),
                format: "apollo".into(),
                content_sha256: Some("cafe".into()),
            },
        )
        .await
        .unwrap();
    assert_appended(s, before, &["import_started"]).await;
    assert_eq!(
        s.get_import(import.id).await.unwrap().unwrap().finished_at,
        None
    );
    let counts = ImportCounts {
        rows_total: 10,
        imported: 7,
        merged: 2,
        rejected: 1,
    };
    let before = ledger_len(s).await;
    let finished = s.finish_import(&ctx, import.id, &counts).await.unwrap();
    assert_appended(s, before, &["import_finished"]).await;
    assert_eq!(finished.counts, counts);
    assert_eq!(s.get_import(import.id).await.unwrap().unwrap(), finished);
    assert_eq!(
        s.find_import_by_content("cafe")
            .await
            .unwrap()
            .map(|i| i.id),
        Some(import.id)
    );
    assert_eq!(s.find_import_by_content("beef").await.unwrap(), None);
    let err = s.finish_import(&ctx, import.id, &counts).await.unwrap_err();
    assert!(matches!(err, StoreError::NotFound { .. }), "{err}");

    // Enrolments, behind the verification gate.
    let before = ledger_len(s).await;
    let err = s
        .enroll(&ctx, contact.id, "sdr-cold", false)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("has not been verified"), "{err}");
    s.record_verification(&ctx, contact.id, Verdict::Risky(RiskReason::RoleAccount))
        .await
        .unwrap();
    assert_appended(s, before, &["address_verified"]).await;
    let stored = s.get_contact(contact.id).await.unwrap().unwrap();
    assert_eq!(
        stored.verification,
        Some(Verdict::Risky(RiskReason::RoleAccount))
    );
    assert!(stored.verified_at.is_some());
    let err = s
        .enroll(&ctx, contact.id, "sdr-cold", false)
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains("risky (role_account)")
            && err.to_string().contains("--allow-risky"),
        "{err}"
    );
    let system = CommandContext::new(Actor::system("worker"), Some(policy.clone()));
    let err = s
        .enroll(&system, contact.id, "sdr-cold", true)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("only a person"), "{err}");
    for bad in [
        Verdict::Invalid(InvalidReason::Syntax),
        Verdict::Unknown(UnknownReason::Timeout),
    ] {
        s.record_verification(&ctx, contact.id, bad).await.unwrap();
        let before = ledger_len(s).await;
        let err = s
            .enroll(&ctx, contact.id, "sdr-cold", true)
            .await
            .unwrap_err();
        assert!(matches!(err, StoreError::Refused { .. }), "{bad}: {err}");
        assert_eq!(ledger_len(s).await, before, "a refusal leaves no trace");
    }
    s.record_verification(&ctx, contact.id, Verdict::Risky(RiskReason::RoleAccount))
        .await
        .unwrap();
    let before = ledger_len(s).await;
    let enrollment = s.enroll(&ctx, contact.id, "sdr-cold", true).await.unwrap();
    assert_appended(s, before, &["risky_address_allowed", "enrolled"]).await;
    assert_eq!(enrollment.state, EnrollmentState::Active);
    let before = ledger_len(s).await;
    let err = s
        .enroll(&ctx, contact.id, "sdr-cold", true)
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Conflict { .. }), "{err}");
    s.record_verification(&ctx, contact.id, Verdict::Valid)
        .await
        .unwrap();
    let err = s
        .enroll(&ctx, contact.id, "no-such-sequence", false)
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::NotFound { .. }), "{err}");
    assert_eq!(
        ledger_len(s).await,
        before + 1,
        "only the verification was recorded"
    );

    // Drafts
    let awaiting = s.awaiting_draft(None, 100).await.unwrap();
    assert!(
        awaiting.iter().any(|e| e.id == enrollment.id),
        "an active enrolment with no draft awaits one"
    );
    let before = ledger_len(s).await;
    let step_draft = NewDraft {
        contact_id: contact.id,
        enrollment_id: Some(enrollment.id),
        step_index: 0,
        author: AuthorKind::Template,
        subject: "Month-end close".into(),
        body: "Hi Ada, ...".into(),
        grounding: json!([{"item": "pp-spreadsheet-close"}]),
        confidence: Some(0.82),
        sequence_type: Some("cold".into()),
        step_kind: Some("email".into()),
        drafter: Some(json!({"backend": "template", "seed": 7})),
    };
    let draft = s.create_draft(&ctx, &step_draft).await.unwrap();
    assert_appended(s, before, &["draft_created"]).await;
    assert_eq!(draft.policy_version, policy.to_string());
    assert_eq!(draft.step_kind.as_deref(), Some("email"));
    assert_eq!(s.get_draft(draft.id).await.unwrap().as_ref(), Some(&draft));
    assert!(
        !s.awaiting_draft(None, 100)
            .await
            .unwrap()
            .iter()
            .any(|e| e.id == enrollment.id),
        "a drafted step no longer awaits a draft"
    );
    let before = ledger_len(s).await;
    assert!(
        matches!(
            s.create_draft(&ctx, &step_draft).await,
            Err(StoreError::Conflict { .. })
        ),
        "a second live draft of the same step is refused"
    );
    assert_eq!(
        ledger_len(s).await,
        before,
        "a refused draft leaves no entry"
    );
    let no_policy = CommandContext::new(Actor::human("dana"), None);
    let before = ledger_len(s).await;
    assert!(
        s.create_draft(
            &no_policy,
            &NewDraft {
                contact_id: contact.id,
                enrollment_id: None,
                step_index: 0,
                author: AuthorKind::Human,
                subject: String::new(),
                body: String::new(),
                grounding: json!([]),
                confidence: None,
                sequence_type: None,
                step_kind: None,
                drafter: None,
            },
        )
        .await
        .is_err(),
        "a draft needs a policy version"
    );
    assert_eq!(ledger_len(s).await, before);

    // Messages: only a draft the policy let go is queued.
    s.record_evaluation(&ctx, draft.id, &evaluation("auto_send"))
        .await
        .unwrap();
    let new_message = NewMessage {
        draft_id: draft.id,
        contact_id: contact.id,
        mailbox: email("dana@northwind.example"),
        rfc_message_id: "<0190-abc@northwind.example>".into(),
        in_reply_to: None,
        scheduled_at: ctx.now + Duration::hours(2),
    };
    let before = ledger_len(s).await;
    let message = s.queue_message(&ctx, &new_message).await.unwrap();
    assert_appended(s, before, &["message_queued"]).await;
    assert_eq!(message.state, "queued");
    assert_eq!(
        s.get_message(message.id).await.unwrap().as_ref(),
        Some(&message)
    );
    let err = s.queue_message(&ctx, &new_message).await.unwrap_err();
    assert!(
        matches!(err, StoreError::Conflict { .. }),
        "a Message-ID is used once: {err}"
    );

    // Inbound events: a repeated delivery is recognised, not recorded twice.
    let reply = NewInboundEvent {
        provider: "imap".into(),
        provider_event_id: "<reply-1@acme.example>".into(),
        kind: "reply".into(),
        contact_id: Some(contact.id),
        rfc_message_id: Some(message.rfc_message_id.clone()),
        occurred_at: ctx.now,
        payload: json!({"subject": "Re: Month-end close", "text": "Sounds interesting"}),
    };
    let before = ledger_len(s).await;
    let first = s.record_event(&ctx, &reply).await.unwrap();
    assert_appended(s, before, &["inbound_event_recorded"]).await;
    let Recorded::New(event_id) = first else {
        panic!("first delivery is new: {first:?}")
    };
    let before = ledger_len(s).await;
    assert_eq!(
        s.record_event(&ctx, &reply).await.unwrap(),
        Recorded::Duplicate(event_id)
    );
    assert_eq!(
        ledger_len(s).await,
        before,
        "a duplicate delivery appends nothing"
    );

    // A reply is a stop condition.
    let before = ledger_len(s).await;
    assert_eq!(
        s.stop_enrollments(&ctx, contact.id, StopReason::Replied)
            .await
            .unwrap(),
        1
    );
    assert_appended(s, before, &["enrollment_stopped"]).await;
    assert_eq!(
        s.stop_enrollments(&ctx, contact.id, StopReason::Complaint)
            .await
            .unwrap(),
        0
    );
    let enrollments = s.list_enrollments(contact.id).await.unwrap();
    assert_eq!(
        enrollments[0].state,
        EnrollmentState::Stopped {
            reason: StopReason::Replied
        }
    );

    // Escalations
    let escalate = |priority: Priority, rule: &str, assignee: Option<Username>| NewEscalation {
        contact_id: Some(contact.id),
        stage: Stage::Engagement,
        rule_id: rule.into(),
        reason: "Positive reply".into(),
        priority,
        assignee,
        due_at: Some(ctx.now + Duration::hours(2)),
    };
    let before = ledger_len(s).await;
    let normal = s
        .open_escalation(&ctx, &escalate(Priority::Normal, "r-normal", None))
        .await
        .unwrap();
    let urgent = s
        .open_escalation(
            &ctx,
            &escalate(Priority::Urgent, "r-urgent", Some(dana.username.clone())),
        )
        .await
        .unwrap();
    assert_appended(s, before, &["escalation_opened", "escalation_opened"]).await;
    let open = s.list_open_escalations(None).await.unwrap();
    assert_eq!(
        open.iter().map(|e| e.id).collect::<Vec<_>>(),
        vec![urgent.id, normal.id],
        "most urgent first"
    );
    let mine = s.list_open_escalations(Some(&dana.username)).await.unwrap();
    assert_eq!(mine.len(), 1);
    assert_eq!(mine[0], urgent);
    let before = ledger_len(s).await;
    let resolved = s
        .resolve_escalation(&ctx, urgent.id, "took over; meeting booked")
        .await
        .unwrap();
    assert_appended(s, before, &["escalation_resolved"]).await;
    assert_eq!(
        resolved.resolution.as_deref(),
        Some("took over; meeting booked")
    );
    assert!(resolved.resolved_at.is_some());
    let all = s.escalations_for(contact.id).await.unwrap();
    assert_eq!(
        all.iter().map(|e| e.id).collect::<Vec<_>>(),
        vec![normal.id, urgent.id],
        "open and resolved, oldest first"
    );
    assert_eq!(all[1], resolved);
    let err = s
        .resolve_escalation(&ctx, urgent.id, "again")
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::NotFound { .. }), "{err}");
    let err = s
        .open_escalation(
            &ctx,
            &escalate(Priority::Low, "r", Some(Username::parse("ghost").unwrap())),
        )
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::NotFound { .. }), "{err}");

    // Every entry about this contact can be found by it.
    let about = s
        .tail(&LedgerFilter {
            contact_id: Some(contact.id),
            limit: 100,
            ..LedgerFilter::default()
        })
        .await
        .unwrap();
    let kinds: BTreeSet<&str> = about.iter().map(|e| e.kind.as_str()).collect();
    for kind in [
        "contact_created",
        "address_verified",
        "risky_address_allowed",
        "enrolled",
        "draft_created",
        "message_queued",
        "inbound_event_recorded",
        "enrollment_stopped",
        "escalation_opened",
        "escalation_resolved",
    ] {
        assert!(
            kinds.contains(kind),
            "{kind} is filed under the contact: {kinds:?}"
        );
    }
}

/// Recorded events list oldest first, by time and by page; a duplicate
/// delivery is not listed again, and listing appends nothing.
pub async fn events_list_oldest_first_and_page(store: Arc<dyn Store>) {
    let s = store.as_ref();
    let ctx = CommandContext::new(Actor::system("webhooks"), None);
    let t0 = ctx.now;
    let contact = s
        .add_contact(
            &ctx,
            &NewContact {
                email: email("ada@acme.example"),
                first_name: "Ada".into(),
                last_name: "Lovelace".into(),
                title: "CFO".into(),
                account_id: None,
                owner: None,
            },
        )
        .await
        .unwrap()
        .id;
    let event = |provider: &str, id: &str, kind: &str, contact_id, payload| NewInboundEvent {
        provider: provider.into(),
        provider_event_id: id.into(),
        kind: kind.into(),
        contact_id,
        rfc_message_id: None,
        occurred_at: t0 - Duration::hours(1),
        payload,
    };
    let reply = NewInboundEvent {
        rfc_message_id: Some("<m1@handoff.example>".into()),
        ..event(
            "imap",
            "<reply-1@acme.example>",
            "reply",
            Some(contact),
            json!({"subject": "Re: Month-end close", "text": "Gern, nächste Woche?",
                   "headers": [["X-Spam", null]], "size": 1234, "flagged": false}),
        )
    };
    let deliveries = [
        reply.clone(),
        event(
            "tracker",
            "v1",
            "page_visit",
            None,
            json!({"url": "/pricing"}),
        ),
        // The same provider event id from another provider is another event.
        event(
            "sendgrid",
            "<reply-1@acme.example>",
            "open",
            Some(contact),
            json!({}),
        ),
        event(
            "sendgrid",
            "b1",
            "bounce",
            Some(contact),
            json!({"code": 550}),
        ),
    ];
    let mut ids = Vec::new();
    for (i, delivery) in deliveries.iter().enumerate() {
        let at = ctx.at(t0 + Duration::minutes(i as i64));
        let Recorded::New(id) = s.record_event(&at, delivery).await.unwrap() else {
            panic!("{delivery:?} is new")
        };
        ids.push(id);
        if i == 1 {
            // A repeat delivery of the reply, later: ignored.
            let again = s
                .record_event(&ctx.at(t0 + Duration::minutes(10)), &reply)
                .await
                .unwrap();
            assert_eq!(again, Recorded::Duplicate(ids[0]));
        }
    }

    let before = ledger_len(s).await;
    let all = s.list_events(None, None, 100).await.unwrap();
    assert_eq!(ledger_len(s).await, before, "listing appends nothing");
    assert_eq!(
        all.iter().map(|e| e.id).collect::<Vec<_>>(),
        ids,
        "oldest first, the duplicate not listed"
    );
    assert_eq!(
        all[0],
        InboundEventRecord {
            id: ids[0],
            provider: "imap".into(),
            provider_event_id: "<reply-1@acme.example>".into(),
            kind: "reply".into(),
            contact_id: Some(contact),
            rfc_message_id: Some("<m1@handoff.example>".into()),
            occurred_at: t0 - Duration::hours(1),
            received_at: t0,
            payload: reply.payload.clone(),
        },
        "read back as first recorded, payload and all"
    );
    for (listed, delivery) in all.iter().zip(&deliveries) {
        assert_eq!(listed.provider, delivery.provider);
        assert_eq!(listed.kind, delivery.kind);
        assert_eq!(listed.contact_id, delivery.contact_id);
        assert_eq!(listed.payload, delivery.payload);
    }
    assert_eq!(all[1].contact_id, None);
    assert_eq!(all[1].rfc_message_id, None);
    assert_eq!(all[3].received_at, t0 + Duration::minutes(3));

    let mut paged = Vec::new();
    let mut after = None;
    let mut pages = 0;
    loop {
        let page = s.list_events(None, after, 3).await.unwrap();
        if page.is_empty() {
            break;
        }
        pages += 1;
        assert!(pages <= ids.len(), "paging moves on: {paged:?}");
        assert!(page.len() <= 3);
        after = page.last().map(|e| e.id);
        paged.extend(page.into_iter().map(|e| e.id));
    }
    assert_eq!(paged, ids, "pages cover every event once, in order");
    assert_eq!(pages, 2);
    assert!(
        s.list_events(None, Some(ids[3]), 3)
            .await
            .unwrap()
            .is_empty(),
        "nothing after the last event"
    );
    assert_eq!(
        s.list_events(None, None, 1)
            .await
            .unwrap()
            .iter()
            .map(|e| e.id)
            .collect::<Vec<_>>(),
        ids[..1]
    );

    let since = |m: i64| Some(t0 + Duration::minutes(m));
    let ids_of =
        |events: Vec<InboundEventRecord>| events.into_iter().map(|e| e.id).collect::<Vec<_>>();
    assert_eq!(
        ids_of(s.list_events(since(2), None, 100).await.unwrap()),
        ids[2..],
        "received at or after `since`"
    );
    assert_eq!(
        ids_of(s.list_events(since(1), Some(ids[1]), 1).await.unwrap()),
        ids[2..3]
    );
    assert_eq!(
        ids_of(s.list_events(since(2), Some(ids[3]), 100).await.unwrap()),
        []
    );
    assert!(
        s.list_events(since(10), None, 100)
            .await
            .unwrap()
            .is_empty(),
        "the duplicate's later delivery does not move the event"
    );
}

fn import_row(
    row: u64,
    email_addr: &str,
    title: &str,
    company: &str,
    domain: Option<&str>,
) -> import_plan::ImportRow {
    use handoff_domain::import::{AccountRecord, ContactRecord};
    import_plan::ImportRow {
        row,
        contact: ContactRecord {
            email: Some(email(email_addr)),
            first_name: email_addr.split('@').next().map(str::to_lowercase),
            title: (!title.is_empty()).then(|| title.to_string()),
            company: (!company.is_empty()).then(|| company.to_string()),
            ..ContactRecord::default()
        },
        account: domain.map(|d| AccountRecord {
            domain: d.to_string(),
            name: Some(company.to_string()),
            employees: Some(120),
            technologies: Some(vec!["snowflake".into()]),
            ..AccountRecord::default()
        }),
        seniority: Some("vp".into()),
        department: Some("engineering".into()),
        verdict: None,
        new_id: handoff_domain::ContactId::new(),
        assessed: None,
    }
}

/// Import batches: accounts by domain, contacts by email, field-by-field
/// merges with provenance, a repeat import changes nothing, a company change
/// is a job change.
pub async fn import_batches_merge_idempotently(store: Arc<dyn Store>) {
    let ctx = ctx();
    let s = store.as_ref();
    let first = s
        .start_import(
            &ctx,
            &NewImport {
                file_name: "apollo.csv".into(),
                format: "apollo".into(),
                content_sha256: Some("ab12".into()),
            },
        )
        .await
        .unwrap();
    let source = import_plan::ImportSource {
        import_id: first.id,
        file_name: "apollo.csv".into(),
        owner: None,
        assess: None,
    };
    let rows = vec![
        import_row(2, "ada@acme.io", "VP Engineering", "Acme", Some("acme.io")),
        import_row(3, "bob@acme.io", "", "Acme", Some("acme.io")),
        import_row(4, "cy@gmail.com", "Founder", "Cy Co", None),
        // The same person again further down the file: merged, newer wins.
        import_row(5, "ADA@acme.io", "CTO", "Acme", Some("acme.io")),
    ];
    let before = ledger_len(s).await;
    let outcome = s.import_batch(&ctx, &source, &rows).await.unwrap();
    assert_eq!(
        (
            outcome.imported,
            outcome.merged,
            outcome.unchanged,
            outcome.accounts_created
        ),
        (3, 1, 0, 1),
        "{outcome:?}"
    );
    let kinds: Vec<String> = last_entries(s, (ledger_len(s).await - before) as u32)
        .await
        .into_iter()
        .map(|e| e.kind)
        .collect();
    assert_eq!(
        kinds,
        ["account_created", "contact_merged", "contacts_imported"]
    );
    let ada = s
        .find_contact_by_email(&email("ada@acme.io"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(ada.title, "CTO");
    assert_eq!(ada.seniority.as_deref(), Some("vp"));
    assert_eq!(ada.company.as_deref(), Some("Acme"));
    assert!(ada.account_id.is_some());
    assert_eq!(
        ada.field_sources.by_field()["title"]["row"],
        5,
        "{:?}",
        ada.field_sources
    );
    assert_eq!(ada.field_sources.by_field()["first_name"]["row"], 2);
    assert_eq!(ada.field_sources.by_field()["title"]["file"], "apollo.csv");
    assert_eq!(
        ada.field_sources.by_field()["title"]["import"],
        first.id.to_string()
    );
    let cy = s
        .find_contact_by_email(&email("cy@gmail.com"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(cy.account_id, None);

    let again = s
        .start_import(
            &ctx,
            &NewImport {
                file_name: "apollo.csv".into(),
                format: "apollo".into(),
                content_sha256: None,
            },
        )
        .await
        .unwrap();
    let source2 = import_plan::ImportSource {
        import_id: again.id,
        ..source.clone()
    };

    // A single-row file run twice is exactly idempotent.
    let once = vec![import_row(
        2,
        "dee@globex.io",
        "Head of Sales",
        "Globex",
        Some("globex.io"),
    )];
    s.import_batch(&ctx, &source, &once).await.unwrap();
    let before = ledger_len(s).await;
    let repeat = s.import_batch(&ctx, &source2, &once).await.unwrap();
    assert_eq!(
        (repeat.imported, repeat.merged, repeat.unchanged),
        (0, 0, 1)
    );
    assert_eq!(
        ledger_len(s).await,
        before,
        "a repeat import appends nothing"
    );

    // Dee moves to Initech: a job change.
    let moved = vec![import_row(
        2,
        "dee@globex.io",
        "Head of Sales",
        "Initech",
        Some("initech.io"),
    )];
    let outcome = s.import_batch(&ctx, &source2, &moved).await.unwrap();
    assert_eq!(
        (
            outcome.merged,
            outcome.job_changes,
            outcome.accounts_created
        ),
        (1, 1, 1)
    );
    let dee = s
        .find_contact_by_email(&email("dee@globex.io"))
        .await
        .unwrap()
        .unwrap();
    let changes = s
        .tail(&LedgerFilter {
            contact_id: Some(dee.id),
            kind: Some("job_changed".into()),
            limit: 10,
            ..LedgerFilter::default()
        })
        .await
        .unwrap();
    assert_eq!(changes.len(), 1);
    assert!(
        matches!(&changes[0].event, Event::JobChanged { from_company, to_company, .. } if from_company == "Globex" && to_company == "Initech")
    );
}

/// Prospects join contacts with accounts; scores are stored with reasons
/// and only a changed score is written (and recorded) again.
pub async fn prospects_scores_and_tags(store: Arc<dyn Store>) {
    let ctx = ctx();
    let s = store.as_ref();
    let import = s
        .start_import(
            &ctx,
            &NewImport {
                file_name: "a.csv".into(),
                format: "generic".into(),
                content_sha256: None,
            },
        )
        .await
        .unwrap();
    let source = import_plan::ImportSource {
        import_id: import.id,
        file_name: "a.csv".into(),
        owner: None,
        assess: None,
    };
    s.import_batch(
        &ctx,
        &source,
        &[
            import_row(2, "ada@acme.io", "VP Engineering", "Acme", Some("acme.io")),
            import_row(3, "cy@gmail.com", "Founder", "Cy Co", None),
        ],
    )
    .await
    .unwrap();
    let all = s.prospects(None, 10).await.unwrap();
    assert_eq!(all.len(), 2);
    let ada = all
        .iter()
        .find(|p| p.contact.email.as_str() == "ada@acme.io")
        .unwrap();
    let account = ada.account.as_ref().unwrap();
    assert_eq!(
        (account.domain.as_str(), account.employees),
        ("acme.io", Some(120))
    );
    assert_eq!(account.technologies, vec!["snowflake".to_string()]);
    assert!(ada.score.is_none());
    let cy = all
        .iter()
        .find(|p| p.contact.email.as_str() == "cy@gmail.com")
        .unwrap();
    assert!(cy.account.is_none());
    assert!(ada.signals.is_empty());
    s.record_event(
        &ctx,
        &NewInboundEvent {
            provider: "tracker".into(),
            provider_event_id: "v1".into(),
            kind: "page_visit".into(),
            contact_id: Some(ada.contact.id),
            rfc_message_id: None,
            occurred_at: ctx.now,
            payload: json!({"url": "/pricing"}),
        },
    )
    .await
    .unwrap();
    let with_signal = s.prospect(ada.contact.id).await.unwrap().unwrap();
    assert_eq!(with_signal.signals, vec!["page_visit".to_string()]);
    let page = s.prospects(Some(all[0].contact.id), 10).await.unwrap();
    assert_eq!(page.len(), 1, "paging by id");

    let score = StoredScore {
        score: 85,
        tier: "excellent".into(),
        reasons: json!([{"rule_id": "company-size", "points": 20, "text": "+20 employees = 120"}]),
    };
    let before = ledger_len(s).await;
    let changed = s
        .record_scores(
            &ctx,
            &[ContactScore {
                contact_id: ada.contact.id,
                score: score.clone(),
            }],
        )
        .await
        .unwrap();
    assert_eq!(changed, 1);
    assert_appended(s, before, &["contact_scored"]).await;
    let entry = &last_entries(s, 1).await[0];
    assert!(
        matches!(&entry.event, Event::ContactScored { reasons, .. } if reasons == &vec!["+20 employees = 120".to_string()])
    );
    let before = ledger_len(s).await;
    assert_eq!(
        s.record_scores(
            &ctx,
            &[ContactScore {
                contact_id: ada.contact.id,
                score: score.clone()
            }]
        )
        .await
        .unwrap(),
        0,
        "the same score again changes nothing"
    );
    assert_eq!(ledger_len(s).await, before);
    let stored = s.prospect(ada.contact.id).await.unwrap().unwrap();
    assert_eq!(stored.score, Some(score));

    assert!(s.tag_account(&ctx, "ACME.io", "strategic").await.unwrap());
    assert!(!s.tag_account(&ctx, "acme.io", "strategic").await.unwrap());
    let err = s
        .tag_account(&ctx, "nowhere.example", "strategic")
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::NotFound { .. }), "{err}");
    let tagged = s.prospect(ada.contact.id).await.unwrap().unwrap();
    assert_eq!(tagged.account.unwrap().tags, vec!["strategic".to_string()]);
}

/// The list-building gate: a request waits for a person; approving enrols
/// through the verification gate in the same transaction; rejecting closes
/// it; every decision is in the ledger.
pub async fn approvals_gate_enrolment(store: Arc<dyn Store>) {
    let ctx = ctx();
    let s = store.as_ref();
    s.sync_sequences(
        &ctx,
        &[SequenceDef {
            name: "sdr-cold".into(),
            sequence_type: "cold".into(),
            steps: json!([{"kind": "email", "day": 0}]),
            step_count: 1,
        }],
    )
    .await
    .unwrap();
    let new_contact = |addr: &str| NewContact {
        email: email(addr),
        first_name: String::new(),
        last_name: String::new(),
        title: "CEO".into(),
        account_id: None,
        owner: None,
    };
    let ceo = s
        .add_contact(&ctx, &new_contact("ceo@acme.io"))
        .await
        .unwrap();
    let cfo = s
        .add_contact(&ctx, &new_contact("cfo@acme.io"))
        .await
        .unwrap();

    let before = ledger_len(s).await;
    let first = s
        .request_approval(
            &ctx,
            ceo.id,
            "sdr-cold",
            "strategic-or-executive",
            "Executive contact",
            None,
        )
        .await
        .unwrap();
    assert_appended(s, before, &["escalation_opened"]).await;
    let again = s
        .request_approval(
            &ctx,
            ceo.id,
            "sdr-cold",
            "strategic-or-executive",
            "Executive contact",
            None,
        )
        .await
        .unwrap();
    assert_eq!(
        again.escalation.id, first.escalation.id,
        "one open request per contact and sequence"
    );
    assert_eq!(ledger_len(s).await, before + 1);
    let other = s
        .request_approval(
            &ctx,
            cfo.id,
            "sdr-cold",
            "strategic-or-executive",
            "Executive contact",
            None,
        )
        .await
        .unwrap();
    let pending = s.pending_approvals(None).await.unwrap();
    assert_eq!(pending.len(), 2);
    assert_eq!(pending[0].sequence, "sdr-cold");

    // Approving an unverified contact is refused, and nothing changes.
    let before = ledger_len(s).await;
    let err = s
        .decide_approval(
            &ctx,
            first.escalation.id,
            &ApprovalDecision::Approve { allow_risky: false },
        )
        .await
        .unwrap_err();
    assert!(err.to_string().contains("has not been verified"), "{err}");
    assert_eq!(ledger_len(s).await, before);
    assert_eq!(
        s.pending_approvals(None).await.unwrap().len(),
        2,
        "still waiting"
    );

    s.record_verification(&ctx, ceo.id, Verdict::Valid)
        .await
        .unwrap();
    let before = ledger_len(s).await;
    let enrolled = s
        .decide_approval(
            &ctx,
            first.escalation.id,
            &ApprovalDecision::Approve { allow_risky: false },
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(enrolled.contact_id, ceo.id);
    assert_appended(
        s,
        before,
        &["enrollment_approved", "enrolled", "escalation_resolved"],
    )
    .await;
    let err = s
        .decide_approval(
            &ctx,
            first.escalation.id,
            &ApprovalDecision::Reject {
                reason: "late".into(),
            },
        )
        .await
        .unwrap_err();
    assert!(
        matches!(err, StoreError::NotFound { .. }),
        "a decision is made once: {err}"
    );

    let before = ledger_len(s).await;
    let none = s
        .decide_approval(
            &ctx,
            other.escalation.id,
            &ApprovalDecision::Reject {
                reason: "not our buyer".into(),
            },
        )
        .await
        .unwrap();
    assert!(none.is_none());
    assert_appended(s, before, &["enrollment_rejected", "escalation_resolved"]).await;
    assert!(s.pending_approvals(None).await.unwrap().is_empty());
    assert!(s.list_enrollments(cfo.id).await.unwrap().is_empty());
}

// ── Drafts: evaluations, reviews, sends, replays and graduation ──────────

/// A policy version that differs from the default playbook's only in its
/// QA sample rate.
fn policy_version(qa_sample_rate: &str) -> handoff_domain::playbook::PolicyVersion {
    use handoff_domain::playbook::{DEFAULT_PLAYBOOK, parse};
    let default = "qa_sample_rate = 0.05";
    assert!(DEFAULT_PLAYBOOK.contains(default));
    let source = DEFAULT_PLAYBOOK.replace(default, &format!("qa_sample_rate = {qa_sample_rate}"));
    parse(&source, "handoff.toml").unwrap().policy_version()
}

/// A contact with an owner who reviews drafts, and the contexts the
/// drafting stage and the owner act under.
struct DraftWorld {
    contact: handoff_domain::ContactId,
    dana: Username,
    /// The drafting stage, under the default policy.
    system: CommandContext,
    /// Dana, under the same policy.
    human: CommandContext,
}

async fn draft_world(s: &dyn Store) -> DraftWorld {
    let policy = policy_version("0.05");
    let system = CommandContext::new(Actor::system("drafting"), Some(policy.clone()));
    let human = CommandContext::new(Actor::human("dana"), Some(policy)).at(system.now);
    let dana = s
        .add_user(
            &system,
            &NewUser {
                username: Username::parse("dana").unwrap(),
                display_name: "Dana".into(),
                email: None,
                role: Role::Rep,
                manager: None,
            },
        )
        .await
        .unwrap()
        .username;
    let contact = s
        .add_contact(
            &system,
            &NewContact {
                email: email("ada@acme.example"),
                first_name: "Ada".into(),
                last_name: "Lovelace".into(),
                title: "CFO".into(),
                account_id: None,
                owner: Some(dana.clone()),
            },
        )
        .await
        .unwrap()
        .id;
    DraftWorld {
        contact,
        dana,
        system,
        human,
    }
}

const SUBJECT: &str = "Month-end close";
const BODY: &str = "Hi Ada, teams like yours close the books in three days with Northwind. Worth a call on Tuesday?";

fn new_draft(
    contact: handoff_domain::ContactId,
    author: AuthorKind,
    sequence_type: Option<&str>,
) -> NewDraft {
    NewDraft {
        contact_id: contact,
        enrollment_id: None,
        step_index: 0,
        author,
        subject: SUBJECT.into(),
        body: BODY.into(),
        grounding: json!([{"item": "pp-close-in-three-days"}]),
        confidence: Some(0.9),
        sequence_type: sequence_type.map(str::to_string),
        step_kind: Some("email".into()),
        drafter: None,
    }
}

fn evaluation(verdict: &str) -> DraftEvaluation {
    DraftEvaluation {
        verdict: verdict.into(),
        rule_ids: vec![],
        qa_sampled: false,
        findings: json!([]),
        evaluation: json!({"verdict": {"kind": verdict}, "findings": [], "qa_sampled": false}),
        context: json!({
            "contact": {"seniority": "c_suite", "department": "finance"},
            "account": {"tier": "good", "industry": "software"},
            "sequence": {"type": "cold", "step": 0},
        }),
        review_state: "pending".into(),
        review_deadline: None,
        escalation: None,
    }
}

fn with_finding(mut e: DraftEvaluation, rule_id: &str, severity: &str) -> DraftEvaluation {
    let finding = json!({
        "rule_id": rule_id,
        "span": [8, 20],
        "text": "three days",
        "severity": severity,
        "message": "Check this claim",
    });
    e.rule_ids.push(rule_id.into());
    e.findings = json!([finding.clone()]);
    e.evaluation["findings"] = json!([finding]);
    e
}

fn needing_approval(now: chrono::DateTime<Utc>) -> DraftEvaluation {
    DraftEvaluation {
        review_deadline: Some(now + Duration::hours(24)),
        ..with_finding(evaluation("needs_approval"), "pricing-claims", "review")
    }
}

fn escalating(now: chrono::DateTime<Utc>, assignee: Option<Username>) -> DraftEvaluation {
    let mut e = evaluation("escalate");
    e.rule_ids = vec!["c-suite-recipient".into()];
    e.review_state = "escalated".into();
    e.escalation = Some(EscalationRequest {
        stage: Stage::SendApproval,
        rule_id: "c-suite-recipient".into(),
        reason: "C-suite recipient".into(),
        priority: Priority::High,
        assignee,
        due_at: Some(now + Duration::hours(4)),
    });
    e
}

fn review(decision: ReviewDecision, reviewer: &Username) -> DraftReview {
    DraftReview {
        decision,
        reviewer: reviewer.clone(),
    }
}

fn edited(subject: &str, body: &str) -> ReviewDecision {
    ReviewDecision::Edited {
        final_subject: subject.into(),
        final_body: body.into(),
    }
}

fn refused(err: &StoreError, needle: &str) -> bool {
    matches!(err, StoreError::Refused { reason } if reason.contains(needle))
}

/// A draft evaluated twice, under two policy versions: the draft keeps the
/// last verdict, the ledger keeps both entries exactly as written.
/// Refusals change nothing.
pub async fn evaluations_are_recorded_under_their_policy(store: Arc<dyn Store>) {
    let s = store.as_ref();
    let w = draft_world(s).await;
    let v1 = policy_version("0.05");
    let v2 = policy_version("0.10");
    assert_ne!(v1, v2);
    let ctx1 = w.system.clone();
    let ctx2 = CommandContext::new(Actor::system("drafting"), Some(v2.clone()))
        .at(ctx1.now + Duration::minutes(5));

    let draft = s
        .create_draft(&ctx1, &new_draft(w.contact, AuthorKind::Ai, Some("cold")))
        .await
        .unwrap();
    let fresh = s.draft_record(draft.id).await.unwrap().unwrap();
    assert_eq!(fresh.draft, draft);
    assert_eq!(fresh.sequence_type.as_deref(), Some("cold"));
    assert_eq!(
        (fresh.verdict.as_deref(), &fresh.evaluation, &fresh.context),
        (None, &None, &None)
    );
    assert_eq!(fresh.findings, json!([]));

    let first = needing_approval(ctx1.now);
    let before = ledger_len(s).await;
    let recorded = s.record_evaluation(&ctx1, draft.id, &first).await.unwrap();
    assert_appended(s, before, &["draft_evaluated"]).await;
    assert_eq!(recorded.draft_id, draft.id);
    assert_eq!(recorded.policy_version, v1.to_string());
    assert!(recorded.escalation.is_none());
    let entry = last_entries(s, 1).await.remove(0);
    assert_eq!(entry.id, recorded.entry_id);
    assert_eq!(entry.policy_version.as_deref(), Some(v1.as_str()));
    assert_eq!(entry.contact_id, Some(w.contact));
    assert_eq!(entry.actor, Actor::system("drafting"));
    assert_eq!(
        entry.event,
        Event::DraftEvaluated {
            draft_id: draft.id,
            contact_id: w.contact,
            verdict: "needs_approval".into(),
            rule_ids: vec!["pricing-claims".into()],
            qa_sampled: false,
            evaluation: first.evaluation.clone(),
        },
        "the whole evaluation is in the ledger"
    );
    let stored = s.draft_record(draft.id).await.unwrap().unwrap();
    assert_eq!(stored.verdict.as_deref(), Some("needs_approval"));
    assert_eq!(stored.findings, first.findings);
    assert_eq!(stored.evaluation.as_ref(), Some(&first.evaluation));
    assert_eq!(stored.context.as_ref(), Some(&first.context));
    assert_eq!(stored.draft.review_state, "pending");
    assert_eq!(stored.review_deadline, first.review_deadline);
    assert_eq!(stored.evaluated_under.as_deref(), Some(v1.as_str()));
    assert_eq!(stored.evaluated_at, Some(ctx1.now));
    assert_eq!(
        stored.draft.policy_version,
        v1.to_string(),
        "written under v1"
    );

    // Evaluated again under another policy: a new entry, the first intact.
    let second = DraftEvaluation {
        qa_sampled: true,
        review_state: "queued".into(),
        ..evaluation("auto_send")
    };
    let before = ledger_len(s).await;
    let again = s.record_evaluation(&ctx2, draft.id, &second).await.unwrap();
    assert_appended(s, before, &["draft_evaluated"]).await;
    assert_eq!(again.policy_version, v2.to_string());
    let evaluations = s
        .tail(&LedgerFilter {
            kind: Some("draft_evaluated".into()),
            limit: 10,
            ..LedgerFilter::default()
        })
        .await
        .unwrap();
    assert_eq!(evaluations.len(), 2, "history is never rewritten");
    assert_eq!(evaluations[0], entry, "the first entry is unchanged");
    assert_eq!(evaluations[1].policy_version.as_deref(), Some(v2.as_str()));
    assert!(matches!(
        &evaluations[1].event,
        Event::DraftEvaluated { verdict, qa_sampled: true, .. } if verdict == "auto_send"
    ));
    let stored = s.draft_record(draft.id).await.unwrap().unwrap();
    assert_eq!(stored.verdict.as_deref(), Some("auto_send"));
    assert_eq!(stored.draft.review_state, "queued");
    assert_eq!(stored.review_deadline, None);
    assert_eq!(stored.findings, json!([]));
    assert_eq!(stored.evaluated_under.as_deref(), Some(v2.as_str()));
    assert_eq!(stored.evaluated_at, Some(ctx2.now));
    assert_eq!(stored.draft.policy_version, v1.to_string());

    // Refusals leave no trace.
    let before = ledger_len(s).await;
    let err = s
        .record_evaluation(&ctx1, handoff_domain::DraftId::new(), &second)
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::NotFound { .. }), "{err}");
    let no_policy = CommandContext::new(Actor::system("drafting"), None);
    assert!(
        s.record_evaluation(&no_policy, draft.id, &second)
            .await
            .is_err(),
        "an evaluation needs a policy version"
    );
    let approving = DraftEvaluation {
        review_state: "approved".into(),
        ..evaluation("auto_send")
    };
    let err = s
        .record_evaluation(&ctx1, draft.id, &approving)
        .await
        .unwrap_err();
    assert!(refused(&err, "only a person's review"), "{err}");
    let silent = DraftEvaluation {
        escalation: None,
        ..escalating(ctx1.now, None)
    };
    let err = s
        .record_evaluation(&ctx1, draft.id, &silent)
        .await
        .unwrap_err();
    assert!(refused(&err, "without an escalation"), "{err}");
    let noisy = DraftEvaluation {
        escalation: escalating(ctx1.now, None).escalation,
        ..evaluation("needs_approval")
    };
    let err = s
        .record_evaluation(&ctx1, draft.id, &noisy)
        .await
        .unwrap_err();
    assert!(refused(&err, "with an escalation"), "{err}");
    assert_eq!(ledger_len(s).await, before);
    assert_eq!(s.draft_record(draft.id).await.unwrap().unwrap(), stored);
    assert!(s.list_open_escalations(None).await.unwrap().is_empty());
}

/// An `escalate` verdict opens exactly one escalation for the draft's
/// contact in the evaluation's transaction: if the escalation cannot be
/// opened, the evaluation is not recorded either.
pub async fn escalate_verdict_opens_one_escalation(store: Arc<dyn Store>) {
    let s = store.as_ref();
    let w = draft_world(s).await;
    let ctx = &w.system;
    let draft = s
        .create_draft(ctx, &new_draft(w.contact, AuthorKind::Ai, Some("cold")))
        .await
        .unwrap();
    let before = ledger_len(s).await;
    let recorded = s
        .record_evaluation(ctx, draft.id, &escalating(ctx.now, Some(w.dana.clone())))
        .await
        .unwrap();
    assert_appended(s, before, &["draft_evaluated", "escalation_opened"]).await;
    let escalation = recorded.escalation.unwrap();
    assert_eq!(escalation.contact_id, Some(w.contact));
    assert_eq!(escalation.stage, Stage::SendApproval);
    assert_eq!(escalation.rule_id, "c-suite-recipient");
    assert_eq!(escalation.reason, "C-suite recipient");
    assert_eq!(escalation.priority, Priority::High);
    assert_eq!(escalation.assignee.as_ref(), Some(&w.dana));
    assert_eq!(escalation.due_at, Some(ctx.now + Duration::hours(4)));
    let entries = last_entries(s, 2).await;
    assert_eq!(entries[0].id, recorded.entry_id);
    assert!(matches!(
        &entries[1].event,
        Event::EscalationOpened { escalation_id, contact_id: Some(c), .. }
            if *escalation_id == escalation.id && *c == w.contact
    ));
    assert_eq!(
        s.list_open_escalations(None).await.unwrap(),
        vec![escalation.clone()],
        "exactly one escalation"
    );
    let stored = s.draft_record(draft.id).await.unwrap().unwrap();
    assert_eq!(stored.verdict.as_deref(), Some("escalate"));
    assert_eq!(stored.draft.review_state, "escalated");

    // The escalation fails (no such assignee): the evaluation goes with it.
    let other = s
        .create_draft(ctx, &new_draft(w.contact, AuthorKind::Ai, Some("cold")))
        .await
        .unwrap();
    let before = ledger_len(s).await;
    let err = s
        .record_evaluation(
            ctx,
            other.id,
            &escalating(ctx.now, Some(Username::parse("ghost").unwrap())),
        )
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::NotFound { .. }), "{err}");
    assert_eq!(ledger_len(s).await, before, "nothing was appended");
    let untouched = s.draft_record(other.id).await.unwrap().unwrap();
    assert_eq!(untouched.verdict, None, "nor was the verdict stored");
    assert_eq!(untouched.draft.review_state, "pending");
    assert_eq!(s.list_open_escalations(None).await.unwrap().len(), 1);
}

/// A person reviews a draft once: approve keeps the draft's text, edit
/// stores the new text and its distance, reject ends it. A blocked draft
/// is never approved as written; a closed window only allows a rejection.
pub async fn reviews_are_recorded_once(store: Arc<dyn Store>) {
    let s = store.as_ref();
    let w = draft_world(s).await;
    let (sys, human) = (&w.system, w.human.at(w.system.now + Duration::hours(1)));
    let evaluated = |e: DraftEvaluation| async move {
        let d = s
            .create_draft(sys, &new_draft(w.contact, AuthorKind::Ai, Some("cold")))
            .await
            .unwrap();
        s.record_evaluation(sys, d.id, &e).await.unwrap();
        d
    };

    // Approved: the final text is the draft's own.
    let approved = evaluated(needing_approval(sys.now)).await;
    let before = ledger_len(s).await;
    let record = s
        .record_review(
            &human,
            approved.id,
            &review(ReviewDecision::Approved, &w.dana),
        )
        .await
        .unwrap();
    assert_appended(s, before, &["draft_reviewed"]).await;
    assert_eq!(record.draft.review_state, "approved");
    assert_eq!(record.reviewed_by.as_ref(), Some(&w.dana));
    assert_eq!(record.reviewed_at, Some(human.now));
    assert_eq!(record.final_subject.as_deref(), Some(SUBJECT));
    assert_eq!(record.final_body.as_deref(), Some(BODY));
    assert_eq!(record.edit_distance, Some(0.0));
    assert_eq!(record.sent_at, None);
    assert_eq!(s.draft_record(approved.id).await.unwrap().unwrap(), record);
    let entry = last_entries(s, 1).await.remove(0);
    assert_eq!(entry.actor, Actor::human("dana"));
    assert_eq!(
        entry.event,
        Event::DraftReviewed {
            draft_id: approved.id,
            contact_id: w.contact,
            decision: "approved".into(),
            reviewer: "dana".into(),
            edit_distance: Some(0.0),
            reason: None,
        }
    );

    // Reviewed once: a second review and a late evaluation are refused.
    let before = ledger_len(s).await;
    for decision in [
        ReviewDecision::Rejected,
        ReviewDecision::Approved,
        edited("x", "y"),
    ] {
        let err = s
            .record_review(&human, approved.id, &review(decision, &w.dana))
            .await
            .unwrap_err();
        assert!(refused(&err, "already approved by dana"), "{err}");
    }
    let err = s
        .record_evaluation(sys, approved.id, &evaluation("auto_send"))
        .await
        .unwrap_err();
    assert!(refused(&err, "cannot reopen"), "{err}");
    assert_eq!(ledger_len(s).await, before);
    assert_eq!(s.draft_record(approved.id).await.unwrap().unwrap(), record);

    // Edited: the new text and its normalised distance from the draft.
    let light = evaluated(needing_approval(sys.now)).await;
    let new_body = BODY.replace("a call on Tuesday", "a chat on Thursday");
    let record = s
        .record_review(
            &human,
            light.id,
            &review(edited(SUBJECT, &new_body), &w.dana),
        )
        .await
        .unwrap();
    let expected = handoff_domain::text::normalized_edit_distance(
        &format!("{SUBJECT}\n{BODY}"),
        &format!("{SUBJECT}\n{new_body}"),
    );
    assert!(expected > 0.0 && expected < ACCEPTANCE_EDIT_DISTANCE);
    assert_eq!(record.draft.review_state, "approved");
    assert_eq!(record.final_body.as_deref(), Some(new_body.as_str()));
    assert_eq!(record.edit_distance, Some(expected));
    assert_eq!(
        (record.draft.subject.as_str(), record.draft.body.as_str()),
        (SUBJECT, BODY),
        "the AI's text is kept beside the final text"
    );
    assert!(matches!(
        &last_entries(s, 1).await[0].event,
        Event::DraftReviewed { decision, edit_distance: Some(d), .. } if decision == "edited" && *d == expected
    ));

    // Rejected: no final text.
    let rejected = evaluated(needing_approval(sys.now)).await;
    let record = s
        .record_review(
            &human,
            rejected.id,
            &review(ReviewDecision::Rejected, &w.dana),
        )
        .await
        .unwrap();
    assert_eq!(record.draft.review_state, "rejected");
    assert_eq!(
        (
            record.final_subject,
            record.final_body,
            record.edit_distance
        ),
        (None, None, None)
    );

    // Blocked: never approved as written; an edit that changes the text is
    // how a person fixes it.
    let blocked_eval = DraftEvaluation {
        review_state: "blocked".into(),
        ..with_finding(evaluation("blocked"), "guarantees", "block")
    };
    let blocked = evaluated(blocked_eval).await;
    let before = ledger_len(s).await;
    let err = s
        .record_review(
            &human,
            blocked.id,
            &review(ReviewDecision::Approved, &w.dana),
        )
        .await
        .unwrap_err();
    assert!(refused(&err, "never sent as written"), "{err}");
    let err = s
        .record_review(&human, blocked.id, &review(edited(SUBJECT, BODY), &w.dana))
        .await
        .unwrap_err();
    assert!(refused(&err, "an edit must change the text"), "{err}");
    assert_eq!(ledger_len(s).await, before);
    let fixed = s
        .record_review(
            &human,
            blocked.id,
            &review(
                edited(SUBJECT, "Hi Ada, want to compare notes on month-end?"),
                &w.dana,
            ),
        )
        .await
        .unwrap();
    assert_eq!(fixed.draft.review_state, "approved");
    assert!(fixed.edit_distance.unwrap() > ACCEPTANCE_EDIT_DISTANCE);

    // After the window closes: expired, only a rejection is recorded.
    let late = evaluated(needing_approval(sys.now)).await;
    let after_window = w.human.at(sys.now + Duration::hours(25));
    let before = ledger_len(s).await;
    for decision in [ReviewDecision::Approved, edited(SUBJECT, "Hi Ada")] {
        let err = s
            .record_review(&after_window, late.id, &review(decision, &w.dana))
            .await
            .unwrap_err();
        assert!(refused(&err, "review window"), "{err}");
    }
    assert_eq!(ledger_len(s).await, before);
    s.record_review(
        &after_window,
        late.id,
        &review(ReviewDecision::Rejected, &w.dana),
    )
    .await
    .unwrap();
    assert_appended(s, before, &["draft_reviewed"]).await;

    // Unknown reviewer or draft.
    let pending = evaluated(needing_approval(sys.now)).await;
    let before = ledger_len(s).await;
    let err = s
        .record_review(
            &human,
            pending.id,
            &review(ReviewDecision::Approved, &Username::parse("ghost").unwrap()),
        )
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::NotFound { .. }), "{err}");
    let err = s
        .record_review(
            &human,
            handoff_domain::DraftId::new(),
            &review(ReviewDecision::Approved, &w.dana),
        )
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::NotFound { .. }), "{err}");
    assert_eq!(ledger_len(s).await, before);
    let untouched = s.draft_record(pending.id).await.unwrap().unwrap();
    assert_eq!((untouched.reviewed_by, untouched.reviewed_at), (None, None));
}

/// A draft is sent once, with its final text, and only when its verdict
/// and review allow it.
pub async fn unapproved_drafts_expire_and_are_never_sent(store: Arc<dyn Store>) {
    let s = store.as_ref();
    let w = draft_world(s).await;
    let sys = &w.system;
    let deadline = sys.now + Duration::hours(24);
    let mut ids = Vec::new();
    for verdict in [
        "needs_approval",
        "needs_approval",
        "veto_window",
        "auto_send",
    ] {
        let d = s
            .create_draft(sys, &new_draft(w.contact, AuthorKind::Ai, Some("cold")))
            .await
            .unwrap();
        s.record_evaluation(
            sys,
            d.id,
            &DraftEvaluation {
                review_deadline: Some(deadline),
                ..evaluation(verdict)
            },
        )
        .await
        .unwrap();
        ids.push(d.id);
    }
    // The second is approved in time; only the first waits unapproved.
    let human = w.human.at(sys.now + Duration::hours(1));
    s.record_review(
        &human,
        ids[1],
        &DraftReview {
            decision: ReviewDecision::Approved,
            reviewer: Username::parse("dana").unwrap(),
        },
    )
    .await
    .unwrap();

    let early = sys.at(deadline - Duration::minutes(1));
    assert!(
        s.expire_drafts(&early, early.now).await.unwrap().is_empty(),
        "nothing expires inside its window"
    );
    let late = sys.at(deadline + Duration::minutes(1));
    let before = ledger_len(s).await;
    assert_eq!(
        s.expire_drafts(&late, late.now).await.unwrap(),
        vec![ids[0]]
    );
    assert_appended(s, before, &["draft_expired"]).await;
    assert!(
        s.expire_drafts(&late, late.now).await.unwrap().is_empty(),
        "an expired draft expires once"
    );
    let record = s.draft_record(ids[0]).await.unwrap().unwrap();
    assert_eq!(record.draft.review_state, "expired");
    let err = s
        .mark_draft_sent(&late, ids[0], late.now)
        .await
        .unwrap_err();
    assert!(refused(&err, "expired without approval"), "{err}");
    // The one approved in time still goes.
    s.mark_draft_sent(&late, ids[1], late.now).await.unwrap();
}

pub async fn drafts_are_sent_once_and_only_when_allowed(store: Arc<dyn Store>) {
    let s = store.as_ref();
    let w = draft_world(s).await;
    let sys = &w.system;
    let human = w.human.at(sys.now + Duration::hours(1));
    let evaluated = |e: DraftEvaluation| async move {
        let d = s
            .create_draft(sys, &new_draft(w.contact, AuthorKind::Ai, Some("cold")))
            .await
            .unwrap();
        s.record_evaluation(sys, d.id, &e).await.unwrap();
        d
    };
    let at = sys.now + Duration::hours(2);

    // Sent automatically: the draft's own text, edit distance 0.
    let auto = evaluated(evaluation("auto_send")).await;
    let before = ledger_len(s).await;
    let record = s.mark_draft_sent(sys, auto.id, at).await.unwrap();
    assert_appended(s, before, &["draft_sent"]).await;
    assert_eq!(
        last_entries(s, 1).await[0].event,
        Event::DraftSent {
            draft_id: auto.id,
            contact_id: w.contact
        }
    );
    assert_eq!(record.sent_at, Some(at));
    assert_eq!(record.final_subject.as_deref(), Some(SUBJECT));
    assert_eq!(record.final_body.as_deref(), Some(BODY));
    assert_eq!(record.edit_distance, Some(0.0));
    assert_eq!(s.draft_record(auto.id).await.unwrap().unwrap(), record);

    // Once: a second send, a review or an evaluation afterwards are refused.
    let before = ledger_len(s).await;
    let err = s.mark_draft_sent(sys, auto.id, at).await.unwrap_err();
    assert!(refused(&err, "a message is sent once"), "{err}");
    let err = s
        .record_review(&human, auto.id, &review(ReviewDecision::Rejected, &w.dana))
        .await
        .unwrap_err();
    assert!(refused(&err, "was sent at"), "{err}");
    let err = s
        .record_evaluation(sys, auto.id, &needing_approval(sys.now))
        .await
        .unwrap_err();
    assert!(refused(&err, "cannot reopen"), "{err}");
    assert_eq!(ledger_len(s).await, before);

    // Needs approval: refused until a person approves; sent as edited.
    let gated = evaluated(needing_approval(sys.now)).await;
    let err = s.mark_draft_sent(sys, gated.id, at).await.unwrap_err();
    assert!(refused(&err, "needs a person's approval"), "{err}");
    let reviewed = s
        .record_review(
            &human,
            gated.id,
            &review(edited("Closing the books", BODY), &w.dana),
        )
        .await
        .unwrap();
    let record = s.mark_draft_sent(sys, gated.id, at).await.unwrap();
    assert_eq!(record.final_subject.as_deref(), Some("Closing the books"));
    assert_eq!(record.edit_distance, reviewed.edit_distance);
    assert!(record.edit_distance.unwrap() > 0.0);

    // Escalated and manual drafts need an approval too.
    for verdict in ["manual", "blocked"] {
        let d = evaluated(evaluation(verdict)).await;
        let err = s.mark_draft_sent(sys, d.id, at).await.unwrap_err();
        assert!(
            refused(&err, "needs a person's approval"),
            "{verdict}: {err}"
        );
    }
    let escalated = evaluated(escalating(sys.now, None)).await;
    let err = s.mark_draft_sent(sys, escalated.id, at).await.unwrap_err();
    assert!(refused(&err, "needs a person's approval"), "{err}");

    // Rejected: never.
    let rejected = evaluated(needing_approval(sys.now)).await;
    s.record_review(
        &human,
        rejected.id,
        &review(ReviewDecision::Rejected, &w.dana),
    )
    .await
    .unwrap();
    let err = s.mark_draft_sent(sys, rejected.id, at).await.unwrap_err();
    assert!(refused(&err, "never sent"), "{err}");

    // Never evaluated: never.
    let raw = s
        .create_draft(sys, &new_draft(w.contact, AuthorKind::Ai, Some("cold")))
        .await
        .unwrap();
    let err = s.mark_draft_sent(sys, raw.id, at).await.unwrap_err();
    assert!(refused(&err, "no recorded evaluation"), "{err}");

    // Veto window: goes once the window has closed.
    let veto = evaluated(DraftEvaluation {
        review_deadline: Some(sys.now + Duration::hours(3)),
        ..evaluation("veto_window")
    })
    .await;
    let err = s.mark_draft_sent(sys, veto.id, at).await.unwrap_err();
    assert!(refused(&err, "veto window"), "{err}");
    let later = sys.now + Duration::hours(4);
    let record = s.mark_draft_sent(sys, veto.id, later).await.unwrap();
    assert_eq!(record.sent_at, Some(later));

    // An escalation for the prospect after the draft was judged cancels
    // the veto timer: the draft then waits for a person.
    let cancelled = evaluated(DraftEvaluation {
        review_deadline: Some(sys.now + Duration::hours(3)),
        ..evaluation("veto_window")
    })
    .await;
    s.open_escalation(
        &human,
        &NewEscalation {
            contact_id: Some(w.contact),
            stage: Stage::Engagement,
            rule_id: "positive-reply".into(),
            reason: "Positive reply".into(),
            priority: Priority::Urgent,
            assignee: None,
            due_at: None,
        },
    )
    .await
    .unwrap();
    let err = s
        .mark_draft_sent(sys, cancelled.id, later)
        .await
        .unwrap_err();
    assert!(refused(&err, "lost its veto timer"), "{err}");

    let err = s
        .mark_draft_sent(sys, handoff_domain::DraftId::new(), at)
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::NotFound { .. }), "{err}");
    let sent = s
        .tail(&LedgerFilter {
            kind: Some("draft_sent".into()),
            limit: 100,
            ..LedgerFilter::default()
        })
        .await
        .unwrap();
    assert_eq!(sent.len(), 3, "one entry per send, none for refusals");
}

/// Drafts page by id (creation order) and filter by creation time, each
/// with what replays need: sequence type, context, last verdict, sending.
pub async fn drafts_list_by_time_and_page_by_id(store: Arc<dyn Store>) {
    let s = store.as_ref();
    let w = draft_world(s).await;
    let t0 = w.system.now;
    let mut ids = Vec::new();
    for i in 0..5 {
        let ctx = w.system.at(t0 + Duration::minutes(i));
        let kind = if i % 2 == 0 { "cold" } else { "post_meeting" };
        let d = s
            .create_draft(&ctx, &new_draft(w.contact, AuthorKind::Ai, Some(kind)))
            .await
            .unwrap();
        ids.push(d.id);
    }
    let e = needing_approval(t0);
    s.record_evaluation(&w.system, ids[1], &e).await.unwrap();
    s.record_evaluation(&w.system, ids[3], &evaluation("auto_send"))
        .await
        .unwrap();
    s.mark_draft_sent(&w.system, ids[3], t0 + Duration::hours(1))
        .await
        .unwrap();

    let all = s.list_drafts(None, None, 100).await.unwrap();
    assert_eq!(all.iter().map(|r| r.draft.id).collect::<Vec<_>>(), ids);
    for record in &all {
        assert_eq!(
            s.draft_record(record.draft.id).await.unwrap().as_ref(),
            Some(record)
        );
    }
    assert_eq!(all[0].sequence_type.as_deref(), Some("cold"));
    assert_eq!(all[1].sequence_type.as_deref(), Some("post_meeting"));
    assert_eq!(all[1].verdict.as_deref(), Some("needs_approval"));
    assert_eq!(all[1].context.as_ref(), Some(&e.context));
    assert_eq!(all[1].evaluation.as_ref(), Some(&e.evaluation));
    assert_eq!(all[1].sent_at, None);
    assert_eq!(all[3].verdict.as_deref(), Some("auto_send"));
    assert_eq!(all[3].sent_at, Some(t0 + Duration::hours(1)));
    assert_eq!(all[0].verdict, None);

    let mut paged = Vec::new();
    let mut after = None;
    loop {
        let page = s.list_drafts(None, after, 2).await.unwrap();
        if page.is_empty() {
            break;
        }
        assert!(page.len() <= 2);
        after = page.last().map(|r| r.draft.id);
        paged.extend(page.into_iter().map(|r| r.draft.id));
    }
    assert_eq!(paged, ids, "pages cover every draft once, in order");

    let since = s
        .list_drafts(Some(t0 + Duration::minutes(2)), None, 100)
        .await
        .unwrap();
    assert_eq!(
        since.iter().map(|r| r.draft.id).collect::<Vec<_>>(),
        ids[2..].to_vec()
    );
    let since_and_after = s
        .list_drafts(Some(t0 + Duration::minutes(2)), Some(ids[3]), 100)
        .await
        .unwrap();
    assert_eq!(since_and_after.len(), 1);
    assert!(
        s.list_drafts(Some(t0 + Duration::days(1)), None, 100)
            .await
            .unwrap()
            .is_empty()
    );
}

/// A draft's history: every entry about it and the escalation opened for
/// it, oldest first, and nothing about its neighbours.
pub async fn draft_history_is_oldest_first(store: Arc<dyn Store>) {
    let s = store.as_ref();
    let w = draft_world(s).await;
    let sys = &w.system;
    let v2 = CommandContext::new(Actor::system("drafting"), Some(policy_version("0.10")))
        .at(sys.now + Duration::minutes(1));
    let draft = s
        .create_draft(sys, &new_draft(w.contact, AuthorKind::Ai, Some("cold")))
        .await
        .unwrap();
    // A neighbour for the same contact, with its own escalation.
    let neighbour = s
        .create_draft(sys, &new_draft(w.contact, AuthorKind::Ai, Some("cold")))
        .await
        .unwrap();
    s.record_evaluation(sys, neighbour.id, &escalating(sys.now, None))
        .await
        .unwrap();

    s.record_evaluation(sys, draft.id, &needing_approval(sys.now))
        .await
        .unwrap();
    let escalation = s
        .record_evaluation(&v2, draft.id, &escalating(v2.now, None))
        .await
        .unwrap()
        .escalation
        .unwrap();
    s.resolve_escalation(&w.human, escalation.id, "checked the claim")
        .await
        .unwrap();
    s.record_review(
        &w.human.at(sys.now + Duration::hours(1)),
        draft.id,
        &review(ReviewDecision::Approved, &w.dana),
    )
    .await
    .unwrap();
    // Queued (the draft may go), then sent.
    s.queue_message(
        sys,
        &NewMessage {
            draft_id: draft.id,
            contact_id: w.contact,
            mailbox: email("dana@northwind.example"),
            rfc_message_id: "<draft-history@northwind.example>".into(),
            in_reply_to: None,
            scheduled_at: sys.now + Duration::hours(2),
        },
    )
    .await
    .unwrap();
    s.mark_draft_sent(sys, draft.id, sys.now + Duration::hours(2))
        .await
        .unwrap();

    let history = s.draft_history(draft.id).await.unwrap();
    let kinds: Vec<&str> = history.iter().map(|e| e.kind.as_str()).collect();
    assert_eq!(
        kinds,
        [
            "draft_created",
            "draft_evaluated",
            "draft_evaluated",
            "escalation_opened",
            "escalation_resolved",
            "draft_reviewed",
            "message_queued",
            "draft_sent",
        ]
    );
    assert!(history.windows(2).all(|p| p[0].id < p[1].id));
    let versions: Vec<Option<&str>> = history
        .iter()
        .filter(|e| e.kind == "draft_evaluated")
        .map(|e| e.policy_version.as_deref())
        .collect();
    assert_eq!(
        versions,
        [
            Some(policy_version("0.05").as_str()),
            Some(v2.policy_version.as_ref().unwrap().as_str())
        ]
    );
    assert!(matches!(
        &history[3].event,
        Event::EscalationOpened { escalation_id, .. } if *escalation_id == escalation.id
    ));

    let theirs = s.draft_history(neighbour.id).await.unwrap();
    assert_eq!(
        theirs.iter().map(|e| e.kind.as_str()).collect::<Vec<_>>(),
        ["draft_created", "draft_evaluated", "escalation_opened"]
    );
    let err = s
        .draft_history(handoff_domain::DraftId::new())
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::NotFound { .. }), "{err}");
}

/// Per sequence type: machine-written drafts sent, those sent within 0.2
/// of the AI's text, and those with a `block` finding.
pub async fn graduation_counts_accepted_drafts_per_type(store: Arc<dyn Store>) {
    let s = store.as_ref();
    let w = draft_world(s).await;
    let sys = &w.system;
    let human = w.human.at(sys.now + Duration::minutes(30));
    assert!(s.graduation_stats(None).await.unwrap().is_empty());

    let early = sys.now + Duration::hours(1);
    let late = sys.now + Duration::hours(3);
    let send = |author: AuthorKind,
                kind: Option<&'static str>,
                e: DraftEvaluation,
                edit: Option<&'static str>,
                at: Option<chrono::DateTime<Utc>>| {
        let human = human.clone();
        let dana = w.dana.clone();
        async move {
            let d = s
                .create_draft(sys, &new_draft(w.contact, author, kind))
                .await
                .unwrap();
            s.record_evaluation(sys, d.id, &e).await.unwrap();
            if let Some(body) = edit {
                s.record_review(&human, d.id, &review(edited(SUBJECT, body), &dana))
                    .await
                    .unwrap();
            }
            if let Some(at) = at {
                s.mark_draft_sent(sys, d.id, at).await.unwrap();
            }
            s.draft_record(d.id).await.unwrap().unwrap()
        }
    };
    let light = "Hi Ada, teams like yours close the books in three days with Northwind. Worth a chat on Tuesday?";
    let heavy = "Ada, quick question about month-end: how many days does your close take?";
    let blocked = DraftEvaluation {
        review_state: "blocked".into(),
        ..with_finding(evaluation("blocked"), "guarantees", "block")
    };
    let auto = || evaluation("auto_send");
    let gated = || needing_approval(sys.now);

    // cold: four machine drafts sent, two accepted, one blocked.
    let as_written = send(AuthorKind::Ai, Some("cold"), auto(), None, Some(early)).await;
    assert_eq!(as_written.edit_distance, Some(0.0));
    let touched = send(
        AuthorKind::Ai,
        Some("cold"),
        gated(),
        Some(light),
        Some(early),
    )
    .await;
    assert!(touched.edit_distance.unwrap() < ACCEPTANCE_EDIT_DISTANCE);
    let rewritten = send(
        AuthorKind::Ai,
        Some("cold"),
        gated(),
        Some(heavy),
        Some(early),
    )
    .await;
    assert!(rewritten.edit_distance.unwrap() >= ACCEPTANCE_EDIT_DISTANCE);
    send(
        AuthorKind::Ai,
        Some("cold"),
        blocked,
        Some(heavy),
        Some(early),
    )
    .await;
    // Not counted: unsent, written by a person, outside any sequence.
    send(AuthorKind::Ai, Some("cold"), gated(), None, None).await;
    send(AuthorKind::Human, Some("cold"), auto(), None, Some(early)).await;
    send(AuthorKind::Ai, None, auto(), None, Some(early)).await;
    // post_meeting: one template draft, sent later, with a note finding.
    let noted = with_finding(auto(), "tone", "note");
    send(
        AuthorKind::Template,
        Some("post_meeting"),
        noted,
        None,
        Some(late),
    )
    .await;

    let stats = s.graduation_stats(None).await.unwrap();
    assert_eq!(
        stats,
        vec![
            SequenceTypeStats {
                sequence_type: "cold".into(),
                ai_drafts_sent: 4,
                accepted: 2,
                with_block_findings: 1,
            },
            SequenceTypeStats {
                sequence_type: "post_meeting".into(),
                ai_drafts_sent: 1,
                accepted: 1,
                with_block_findings: 0,
            },
        ]
    );
    assert_eq!(stats[0].acceptance(), Some(0.5));
    let recent = s
        .graduation_stats(Some(sys.now + Duration::hours(2)))
        .await
        .unwrap();
    assert_eq!(
        recent
            .iter()
            .map(|t| t.sequence_type.as_str())
            .collect::<Vec<_>>(),
        ["post_meeting"],
        "only drafts sent since then"
    );
    assert!(
        s.graduation_stats(Some(sys.now + Duration::days(1)))
            .await
            .unwrap()
            .is_empty()
    );
}

/// Demotions live in the ledger alone; the newest one per sequence type is
/// the one in force.
pub async fn demotions_come_from_the_ledger(store: Arc<dyn Store>) {
    let s = store.as_ref();
    let ctx = CommandContext::new(Actor::system("graduation"), Some(policy_version("0.05")));
    assert!(s.demotions().await.unwrap().is_empty());
    let demote = |kind: &str, from: &str, to: &str, acceptance: f64, drafts: u64| NewDemotion {
        sequence_type: kind.into(),
        from: from.into(),
        to: to.into(),
        acceptance,
        drafts,
    };

    let before = ledger_len(s).await;
    let entry = s
        .record_demotion(&ctx, &demote("cold", "auto", "approval", 0.55, 40))
        .await
        .unwrap();
    assert_appended(s, before, &["send_authority_demoted"]).await;
    assert_eq!(last_entries(s, 1).await[0], entry);
    assert_eq!(
        entry.policy_version,
        ctx.policy_version.as_ref().map(|v| v.to_string())
    );
    s.record_demotion(&ctx, &demote("post_meeting", "veto", "approval", 0.4, 25))
        .await
        .unwrap();
    let later = ctx.at(ctx.now + Duration::hours(1));
    let newest = s
        .record_demotion(&later, &demote("cold", "approval", "manual", 0.3, 50))
        .await
        .unwrap();

    let demotions = s.demotions().await.unwrap();
    assert_eq!(
        demotions
            .iter()
            .map(|d| (d.sequence_type.as_str(), d.to.as_str()))
            .collect::<Vec<_>>(),
        [("cold", "manual"), ("post_meeting", "approval")]
    );
    assert_eq!(
        demotions[0],
        Demotion {
            sequence_type: "cold".into(),
            at: later.now,
            from: "approval".into(),
            to: "manual".into(),
            acceptance: 0.3,
            drafts: 50,
            policy_version: newest.policy_version.clone(),
            entry_id: newest.id,
        }
    );

    let before = ledger_len(s).await;
    for bad in [f64::NAN, 1.5, -0.1] {
        let err = s
            .record_demotion(&ctx, &demote("cold", "auto", "approval", bad, 10))
            .await
            .unwrap_err();
        assert!(refused(&err, "between 0 and 1"), "{err}");
    }
    let err = s
        .record_demotion(&ctx, &demote(" ", "auto", "approval", 0.5, 10))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Refused { .. }), "{err}");
    assert_eq!(ledger_len(s).await, before);
}

pub async fn research_is_kept_per_account_and_replaced(store: Arc<dyn Store>) {
    let ctx = ctx();
    let s = store.as_ref();
    let account = s
        .ensure_account(
            &ctx,
            &NewAccount {
                domain: "acme.io".into(),
                name: "Acme".into(),
            },
        )
        .await
        .unwrap();
    assert_eq!(s.account_research(account.id).await.unwrap(), None);
    let built_at = chrono::DateTime::from_timestamp(1_790_000_000, 0).unwrap();
    let mut research = AccountResearch {
        account_id: account.id,
        data_hash: "h1".into(),
        facts: vec![(
            "research.summary".into(),
            "Acme is a fintech company with about 400 employees.".into(),
        )],
        priorities: vec!["pp-spreadsheet-close".into()],
        built_by: "template".into(),
        usage: None,
        built_at,
    };
    let before = ledger_len(s).await;
    s.save_research(&ctx, &research).await.unwrap();
    assert_appended(s, before, &["research_built"]).await;
    assert_eq!(
        s.account_research(account.id).await.unwrap().as_ref(),
        Some(&research)
    );

    research.data_hash = "h2".into();
    research.built_by = "gpt-test".into();
    research.usage = Some(json!({"input_tokens": 900, "output_tokens": 120}));
    research
        .facts
        .push(("research.tech_stack".into(), "Snowflake".into()));
    s.save_research(&ctx, &research).await.unwrap();
    assert_eq!(
        s.account_research(account.id).await.unwrap().as_ref(),
        Some(&research),
        "a rebuild replaces the summary"
    );

    let before = ledger_len(s).await;
    let mut orphan = research.clone();
    orphan.account_id = handoff_domain::AccountId::new();
    assert!(matches!(
        s.save_research(&ctx, &orphan).await,
        Err(StoreError::NotFound { .. })
    ));
    assert_eq!(
        ledger_len(s).await,
        before,
        "a refused write leaves no entry"
    );
}

/// A contact with an evaluated (`verdict`) draft, approved when `approve`.
async fn sendable_draft(
    s: &dyn Store,
    w: &DraftWorld,
    address: &str,
    verdict: &str,
    enrollment: Option<handoff_domain::EnrollmentId>,
) -> (handoff_domain::ContactId, handoff_domain::DraftId) {
    let contact = match s.find_contact_by_email(&email(address)).await.unwrap() {
        Some(c) => c.id,
        None => {
            s.add_contact(
                &w.system,
                &NewContact {
                    email: email(address),
                    first_name: "Grace".into(),
                    last_name: "Hopper".into(),
                    title: "VP Engineering".into(),
                    account_id: None,
                    owner: Some(w.dana.clone()),
                },
            )
            .await
            .unwrap()
            .id
        }
    };
    let mut new = new_draft(contact, AuthorKind::Ai, Some("cold"));
    new.enrollment_id = enrollment;
    let draft = s.create_draft(&w.system, &new).await.unwrap();
    let mut e = evaluation(verdict);
    if verdict == "needs_approval" {
        e = needing_approval(w.system.now);
    }
    if verdict == "veto_window" {
        e.review_deadline = Some(w.system.now + Duration::hours(2));
    }
    s.record_evaluation(&w.system, draft.id, &e).await.unwrap();
    (contact, draft.id)
}

fn new_message(
    contact: handoff_domain::ContactId,
    draft: handoff_domain::DraftId,
    rfc: &str,
    at: chrono::DateTime<Utc>,
) -> NewMessage {
    NewMessage {
        draft_id: draft,
        contact_id: contact,
        mailbox: email("sdr@northwind.example"),
        rfc_message_id: rfc.into(),
        in_reply_to: None,
        scheduled_at: at,
    }
}

fn message_claim(now: chrono::DateTime<Utc>, limit: u32, worker: &str) -> MessageClaim {
    MessageClaim {
        now,
        lease: Duration::seconds(60),
        limit,
        worker: worker.into(),
    }
}

pub async fn messages_are_queued_claimed_and_fenced(store: Arc<dyn Store>) {
    let s = store.as_ref();
    let w = draft_world(s).await;
    let now = w.system.now;
    let (contact, draft) = sendable_draft(s, &w, "grace@acme.example", "auto_send", None).await;

    let before = ledger_len(s).await;
    let queued = s
        .queue_message(
            &w.system,
            &new_message(contact, draft, "m1@northwind.example", now),
        )
        .await
        .unwrap();
    assert_eq!(queued.state, "queued");
    assert_appended(s, before, &["message_queued"]).await;
    // The Message-ID is unique, and a draft has one live message.
    let (contact2, draft2) = sendable_draft(s, &w, "alan@acme.example", "auto_send", None).await;
    let err = s
        .queue_message(
            &w.system,
            &new_message(contact2, draft2, "m1@northwind.example", now),
        )
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Conflict { .. }), "{err}");
    let err = s
        .queue_message(
            &w.system,
            &new_message(contact, draft, "m1b@northwind.example", now),
        )
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Conflict { .. }), "{err}");
    // A draft that needs approval is not queued before it has one.
    let (contact3, draft3) =
        sendable_draft(s, &w, "edsger@acme.example", "needs_approval", None).await;
    let err = s
        .queue_message(
            &w.system,
            &new_message(contact3, draft3, "m3@northwind.example", now),
        )
        .await
        .unwrap_err();
    assert!(refused(&err, "needs a person's approval"), "{err}");

    // Not due yet: nothing is claimed.
    let early = s
        .claim_messages(
            &w.system,
            &message_claim(now - Duration::seconds(1), 10, "w1"),
        )
        .await
        .unwrap();
    assert!(early.claimed.is_empty() && early.held.is_empty());

    let before = ledger_len(s).await;
    let got = s
        .claim_messages(&w.system, &message_claim(now, 10, "w1"))
        .await
        .unwrap();
    assert_eq!(got.claimed.len(), 1, "{got:?}");
    assert_appended(s, before, &["message_claimed"]).await;
    let claimed = &got.claimed[0];
    assert_eq!(claimed.message.id, queued.id);
    assert_eq!(claimed.to, email("grace@acme.example"));
    assert_eq!(claimed.subject, SUBJECT);
    assert_eq!(claimed.attempts, 1);
    assert_eq!(
        s.get_message(queued.id).await.unwrap().unwrap().state,
        "sending"
    );
    // Claimed once: a second claim finds nothing.
    let again = s
        .claim_messages(&w.system, &message_claim(now, 10, "w2"))
        .await
        .unwrap();
    assert!(again.claimed.is_empty());

    // Only the lease holder records the outcome.
    let mut forged = claimed.clone();
    forged.lease_token = "not-the-token".into();
    let before = ledger_len(s).await;
    assert_eq!(
        s.mark_sent(&w.system, &forged, "250 ok").await.unwrap(),
        Fenced::LeaseLost
    );
    assert_eq!(ledger_len(s).await, before);
    assert_eq!(
        s.mark_sent(&w.system, claimed, "250 ok").await.unwrap(),
        Fenced::Recorded
    );
    assert_appended(s, before, &["draft_sent", "message_sent"]).await;
    let sent = s.get_message(queued.id).await.unwrap().unwrap();
    assert_eq!(sent.state, "sent");
    assert!(sent.sent_at.is_some());
    assert!(
        s.draft_record(draft)
            .await
            .unwrap()
            .unwrap()
            .sent_at
            .is_some()
    );
    assert_eq!(
        s.mark_failed(
            &w.system,
            claimed,
            &MessageFailure::Unsendable {
                reason: "late".into()
            }
        )
        .await
        .unwrap(),
        Fenced::LeaseLost
    );

    // Deferred: queued again at the retry time, then failed with its
    // typed reason.
    let m2 = s
        .queue_message(
            &w.system,
            &new_message(contact2, draft2, "m2@northwind.example", now),
        )
        .await
        .unwrap();
    let c2 = s
        .claim_messages(&w.system, &message_claim(now, 10, "w1"))
        .await
        .unwrap()
        .claimed
        .remove(0);
    let retry_at = now + Duration::minutes(5);
    assert_eq!(
        s.mark_deferred(&w.system, &c2, "421 try later", retry_at)
            .await
            .unwrap(),
        Fenced::Recorded
    );
    let m = s.get_message(m2.id).await.unwrap().unwrap();
    assert_eq!((m.state.as_str(), m.scheduled_at), ("queued", retry_at));
    assert!(
        s.claim_messages(&w.system, &message_claim(now, 10, "w1"))
            .await
            .unwrap()
            .claimed
            .is_empty()
    );
    let c2 = s
        .claim_messages(&w.system, &message_claim(retry_at, 10, "w1"))
        .await
        .unwrap()
        .claimed
        .remove(0);
    assert_eq!(c2.attempts, 2);
    let failure = MessageFailure::Rejected {
        code: 550,
        reply: "no such user".into(),
    };
    let before = ledger_len(s).await;
    assert_eq!(
        s.mark_failed(&w.system, &c2, &failure).await.unwrap(),
        Fenced::Recorded
    );
    assert_appended(s, before, &["message_failed"]).await;
    let m = s.get_message(m2.id).await.unwrap().unwrap();
    assert_eq!(m.state, "failed");
    assert_eq!(m.failure, Some(failure));
    // A failed message makes room for another for the same draft.
    s.queue_message(
        &w.system,
        &new_message(contact2, draft2, "m2b@northwind.example", now),
    )
    .await
    .unwrap();
    let counts = s.message_counts().await.unwrap();
    assert_eq!(
        counts,
        vec![
            ("failed".into(), 1),
            ("queued".into(), 1),
            ("sent".into(), 1)
        ]
    );

    // One secret per name, stable across calls.
    let key = s.workspace_secret("unsubscribe_key").await.unwrap();
    assert_eq!(key.len(), 64);
    assert_eq!(s.workspace_secret("unsubscribe_key").await.unwrap(), key);
    assert_ne!(s.workspace_secret("other").await.unwrap(), key);
}

pub async fn claims_recheck_stops_and_windows(store: Arc<dyn Store>) {
    let s = store.as_ref();
    let w = draft_world(s).await;
    let now = w.system.now;
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
    let mut queued = Vec::new();
    for (i, name) in ["stopped", "suppressed", "plain", "rejected", "veto", "fine"]
        .iter()
        .enumerate()
    {
        let address = format!("{name}@acme.example");
        let verdict = match *name {
            "veto" | "rejected" => "veto_window",
            _ => "auto_send",
        };
        let enrollment = if *name == "stopped" {
            let c = s
                .add_contact(
                    &w.system,
                    &NewContact {
                        email: email(&address),
                        first_name: "Stop".into(),
                        last_name: "Ped".into(),
                        title: "CTO".into(),
                        account_id: None,
                        owner: None,
                    },
                )
                .await
                .unwrap();
            s.record_verification(&w.system, c.id, Verdict::Valid)
                .await
                .unwrap();
            Some(
                s.enroll(&w.system, c.id, "sdr-cold", false)
                    .await
                    .unwrap()
                    .id,
            )
        } else {
            None
        };
        let (contact, draft) = sendable_draft(s, &w, &address, verdict, enrollment).await;
        // Queued for when each may go (a veto draft at its window's end).
        let at = if verdict == "veto_window" {
            now + Duration::hours(2)
        } else {
            now
        };
        let m = s
            .queue_message(
                &w.system,
                &new_message(contact, draft, &format!("c{i}@northwind.example"), at),
            )
            .await
            .unwrap();
        queued.push((*name, contact, draft, m));
    }
    // Stop conditions recorded after queueing, before the claim.
    let by = |n: &str| queued.iter().find(|q| q.0 == n).unwrap().clone();
    assert_eq!(
        s.stop_enrollments(&w.system, by("stopped").1, StopReason::Replied)
            .await
            .unwrap(),
        1
    );
    s.suppress(&w.system, &email("suppressed@acme.example"), "unsubscribed")
        .await
        .unwrap();
    s.record_review(
        &w.human,
        by("rejected").2,
        &review(ReviewDecision::Rejected, &w.dana),
    )
    .await
    .unwrap();

    let got = s
        .claim_messages(&w.system, &message_claim(now, 10, "w1"))
        .await
        .unwrap();
    let claimed: Vec<_> = got.claimed.iter().map(|c| c.message.id).collect();
    assert_eq!(claimed, vec![by("plain").3.id, by("fine").3.id], "{got:?}");
    let held = |m: &Message| got.held.iter().find(|h| h.message.id == m.id).cloned();
    let stopped = held(&by("stopped").3).expect("held");
    assert_eq!(
        stopped.reason,
        HoldReason::Stopped {
            reason: StopReason::Replied
        }
    );
    assert!(stopped.failed);
    assert_eq!(
        held(&by("suppressed").3).expect("held").reason,
        HoldReason::Suppressed
    );
    let failed = s.get_message(by("stopped").3.id).await.unwrap().unwrap();
    assert_eq!(failed.state, "failed");
    assert!(matches!(
        failed.failure,
        Some(MessageFailure::Held {
            hold: HoldReason::Stopped { .. }
        })
    ));

    // At the veto window's end: the rejected one fails, the other goes.
    let later = now + Duration::hours(2);
    let got = s
        .claim_messages(&w.system, &message_claim(later, 10, "w1"))
        .await
        .unwrap();
    assert_eq!(got.claimed.len(), 1, "{got:?}");
    assert_eq!(got.claimed[0].message.id, by("veto").3.id);
    assert!(matches!(
        got.held[0].reason,
        HoldReason::DraftRefused { .. }
    ));
    // Nothing left: held messages do not come back.
    let rest = s
        .claim_messages(&w.system, &message_claim(later, 10, "w1"))
        .await
        .unwrap();
    assert!(rest.claimed.is_empty() && rest.held.is_empty(), "{rest:?}");

    // A veto draft escalated after it was judged waits for a person: held,
    // still queued, looked at again later.
    let (contact, draft) = sendable_draft(s, &w, "late@acme.example", "veto_window", None).await;
    let m = s
        .queue_message(
            &w.system,
            &new_message(contact, draft, "late@northwind.example", later),
        )
        .await
        .unwrap();
    let ctx_later = w.system.at(now + Duration::minutes(1));
    s.open_escalation(
        &ctx_later,
        &NewEscalation {
            contact_id: Some(contact),
            stage: Stage::Engagement,
            rule_id: "positive-reply".into(),
            reason: "replied".into(),
            priority: Priority::High,
            assignee: None,
            due_at: None,
        },
    )
    .await
    .unwrap();
    let got = s
        .claim_messages(&w.system, &message_claim(later, 10, "w1"))
        .await
        .unwrap();
    assert!(got.claimed.is_empty());
    assert!(!got.held[0].failed);
    assert!(matches!(got.held[0].reason, HoldReason::NotYet { .. }));
    let m = s.get_message(m.id).await.unwrap().unwrap();
    assert_eq!(m.state, "queued");
    assert!(m.scheduled_at > later);
}

pub async fn expired_sends_become_in_doubt_never_queued(store: Arc<dyn Store>) {
    let s = store.as_ref();
    let w = draft_world(s).await;
    let now = w.system.now;
    let (contact, draft) = sendable_draft(s, &w, "grace@acme.example", "auto_send", None).await;
    let m = s
        .queue_message(
            &w.system,
            &new_message(contact, draft, "d1@northwind.example", now),
        )
        .await
        .unwrap();
    let claimed = s
        .claim_messages(&w.system, &message_claim(now, 10, "host-1:42"))
        .await
        .unwrap()
        .claimed
        .remove(0);
    // Inside the lease: nothing to recover.
    assert!(
        s.recover_expired(&w.system, now + Duration::seconds(30))
            .await
            .unwrap()
            .is_empty()
    );
    let before = ledger_len(s).await;
    let recovered = s
        .recover_expired(&w.system, now + Duration::seconds(61))
        .await
        .unwrap();
    assert_eq!(recovered.len(), 1);
    assert_eq!(recovered[0].id, m.id);
    assert_appended(s, before, &["message_in_doubt"]).await;
    assert_eq!(
        s.get_message(m.id).await.unwrap().unwrap().state,
        "in_doubt"
    );
    let listed = s.list_in_doubt(10).await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].to, email("grace@acme.example"));
    assert!(
        listed[0].reason.contains("host-1:42"),
        "{}",
        listed[0].reason
    );
    // The late sender cannot record an outcome, and nothing is claimed again.
    assert_eq!(
        s.mark_sent(&w.system, &claimed, "250 ok").await.unwrap(),
        Fenced::LeaseLost
    );
    assert!(
        s.claim_messages(&w.system, &message_claim(now + Duration::hours(1), 10, "w"))
            .await
            .unwrap()
            .claimed
            .is_empty()
    );
    // The draft is not queued again while its message is in doubt.
    let err = s
        .queue_message(
            &w.system,
            &new_message(contact, draft, "d2@northwind.example", now),
        )
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Conflict { .. }), "{err}");

    // A sender that knows the message may have gone records it directly.
    let (contact, draft) = sendable_draft(s, &w, "alan@acme.example", "auto_send", None).await;
    let m = s
        .queue_message(
            &w.system,
            &new_message(contact, draft, "d3@northwind.example", now),
        )
        .await
        .unwrap();
    let claimed = s
        .claim_messages(&w.system, &message_claim(now, 10, "w"))
        .await
        .unwrap()
        .claimed
        .remove(0);
    let before = ledger_len(s).await;
    assert_eq!(
        s.mark_in_doubt(&w.system, &claimed, "the server went away after DATA")
            .await
            .unwrap(),
        Fenced::Recorded
    );
    assert_appended(s, before, &["message_in_doubt"]).await;
    assert_eq!(
        s.get_message(m.id).await.unwrap().unwrap().state,
        "in_doubt"
    );
    assert_eq!(s.list_in_doubt(10).await.unwrap().len(), 2);
}

pub async fn concurrent_message_claims_never_overlap(store: Arc<dyn Store>) {
    let w = draft_world(store.as_ref()).await;
    let now = w.system.now;
    for i in 0..40 {
        let (contact, draft) = sendable_draft(
            store.as_ref(),
            &w,
            &format!("p{i}@acme.example"),
            "auto_send",
            None,
        )
        .await;
        store
            .queue_message(
                &w.system,
                &new_message(contact, draft, &format!("x{i}@northwind.example"), now),
            )
            .await
            .unwrap();
    }
    let mut tasks = Vec::new();
    for t in 0..4 {
        let store = store.clone();
        let ctx = w.system.clone();
        tasks.push(tokio::spawn(async move {
            let mut mine = Vec::new();
            loop {
                let got = store
                    .claim_messages(&ctx, &message_claim(now, 3, &format!("w{t}")))
                    .await
                    .unwrap();
                if got.claimed.is_empty() {
                    break;
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
    assert_eq!(all.len(), 40);
    assert_eq!(distinct.len(), 40, "a message was claimed twice");
}

// ── Fixtures for the sending tests (engine and CLI) ─────────────────────

/// A queued message and who it is for.
#[derive(Debug, Clone)]
pub struct Seeded {
    pub contact: handoff_domain::ContactId,
    pub email: EmailAddress,
    pub draft: handoff_domain::DraftId,
    pub message: Message,
}

/// `n` contacts, each verified, enrolled in `seed-cold` and with one
/// draft whose message is queued, due now, from `mailbox`. Every other
/// draft needed approval and was approved by `dana`; the rest were
/// `auto_send`.
pub async fn seed_sendable(s: &dyn Store, n: usize, mailbox: &str) -> Vec<Seeded> {
    let policy = policy_version("0.05");
    let now = Utc::now();
    let sys = CommandContext::new(Actor::system("seed"), Some(policy.clone())).at(now);
    let human = CommandContext::new(Actor::human("dana"), Some(policy)).at(now);
    let dana = Username::parse("dana").unwrap();
    if s.find_user(&dana).await.unwrap().is_none() {
        s.add_user(
            &sys,
            &NewUser {
                username: dana.clone(),
                display_name: "Dana".into(),
                email: None,
                role: Role::Rep,
                manager: None,
            },
        )
        .await
        .unwrap();
    }
    s.sync_sequences(
        &sys,
        &[SequenceDef {
            name: "seed-cold".into(),
            sequence_type: "cold".into(),
            steps: json!([{"kind": "email", "day": 0}]),
            step_count: 1,
        }],
    )
    .await
    .unwrap();
    let mut out = Vec::with_capacity(n);
    for i in 0..n {
        let address = email(&format!("prospect{i}@acme{}.example", i % 17));
        let contact = s
            .add_contact(
                &sys,
                &NewContact {
                    email: address.clone(),
                    first_name: "Pat".into(),
                    last_name: format!("Number{i}"),
                    title: "VP Finance".into(),
                    account_id: None,
                    owner: Some(dana.clone()),
                },
            )
            .await
            .unwrap()
            .id;
        s.record_verification(&sys, contact, Verdict::Valid)
            .await
            .unwrap();
        let enrollment = s.enroll(&sys, contact, "seed-cold", false).await.unwrap();
        let mut new = new_draft(contact, AuthorKind::Ai, Some("cold"));
        new.enrollment_id = Some(enrollment.id);
        new.body = format!("Hi Pat, a note for prospect {i}. Worth a call on Tuesday?");
        let draft = s.create_draft(&sys, &new).await.unwrap().id;
        if i % 2 == 0 {
            s.record_evaluation(&sys, draft, &needing_approval(now))
                .await
                .unwrap();
            s.record_review(&human, draft, &review(ReviewDecision::Approved, &dana))
                .await
                .unwrap();
        } else {
            s.record_evaluation(&sys, draft, &evaluation("auto_send"))
                .await
                .unwrap();
        }
        let message = s
            .queue_message(
                &sys,
                &NewMessage {
                    draft_id: draft,
                    contact_id: contact,
                    mailbox: email(mailbox),
                    rfc_message_id: format!(
                        "seed-{i}-{}@northwind.example",
                        uuid::Uuid::new_v4().simple()
                    ),
                    in_reply_to: None,
                    scheduled_at: now,
                },
            )
            .await
            .unwrap();
        out.push(Seeded {
            contact,
            email: address,
            draft,
            message,
        });
    }
    out
}

/// A used unsubscribe link suppresses the recipient and stops their
/// enrolments in one transaction; the claim then holds their message; a
/// second use changes nothing.
pub async fn unsubscribe_suppresses_and_stops_once(store: Arc<dyn Store>) {
    let s = store.as_ref();
    let seeded = seed_sendable(s, 2, "sdr@northwind.example").await;
    let (gone, stays) = (&seeded[0], &seeded[1]);
    let ctx = CommandContext::new(Actor::system("web"), None);
    assert_eq!(
        s.message_recipient(gone.message.id).await.unwrap(),
        Some(gone.email.clone())
    );
    assert_eq!(
        s.message_recipient(handoff_domain::MessageId::new())
            .await
            .unwrap(),
        None
    );

    let before = ledger_len(s).await;
    let done = s
        .unsubscribe(&ctx, gone.message.id, UnsubscribeVia::OneClick)
        .await
        .unwrap();
    assert!(done.first_time);
    assert_eq!(done.contact_id, gone.contact);
    assert_eq!(done.email, gone.email);
    assert_eq!(done.enrollments_stopped, 1);
    assert_appended(
        s,
        before,
        &["inbound_event_recorded", "suppressed", "enrollment_stopped"],
    )
    .await;
    assert!(s.is_suppressed(&gone.email).await.unwrap());
    assert!(!s.is_suppressed(&stays.email).await.unwrap());
    let enrollments = s.list_enrollments(gone.contact).await.unwrap();
    assert!(
        enrollments
            .iter()
            .all(|e| matches!(e.state, EnrollmentState::Stopped { .. })),
        "{enrollments:?}"
    );
    let events = s.list_events(None, None, 100).await.unwrap();
    let kept: Vec<_> = events.iter().filter(|e| e.kind == "unsubscribe").collect();
    assert_eq!(kept.len(), 1, "{events:?}");
    assert_eq!(kept[0].contact_id, Some(gone.contact));

    // A mail client retries: the same answer, nothing new.
    let before = ledger_len(s).await;
    let again = s
        .unsubscribe(&ctx, gone.message.id, UnsubscribeVia::ConfirmPage)
        .await
        .unwrap();
    assert!(!again.first_time);
    assert_eq!(again.event_id, done.event_id);
    assert_eq!(ledger_len(s).await, before);

    // The sender never hands over the unsubscribed contact's message.
    let got = s
        .claim_messages(&ctx, &message_claim(Utc::now(), 10, "w1"))
        .await
        .unwrap();
    let claimed: Vec<_> = got.claimed.iter().map(|c| c.message.id).collect();
    assert_eq!(claimed, vec![stays.message.id], "{got:?}");
    assert!(
        got.held
            .iter()
            .any(|h| h.message.id == gone.message.id && h.failed),
        "{got:?}"
    );

    let err = s
        .unsubscribe(
            &ctx,
            handoff_domain::MessageId::new(),
            UnsubscribeVia::OneClick,
        )
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::NotFound { .. }), "{err}");
}

/// A link is redeemed once, with its ledger entry; later uses (even at
/// the same time) find the first one.
pub async fn approval_links_are_single_use(store: Arc<dyn Store>) {
    let s = store.as_ref();
    let seeded = seed_sendable(s, 1, "sdr@northwind.example").await;
    let ctx = CommandContext::new(Actor::human("dana"), None);
    let link = LinkUse {
        nonce: "a1b2c3d4e5f60718".into(),
        draft_id: seeded[0].draft,
        action: "approve".into(),
        used_by: Username::parse("dana").unwrap(),
        used_at: ctx.now,
    };
    assert_eq!(s.link_use(&link.nonce).await.unwrap(), None);
    let before = ledger_len(s).await;
    assert_eq!(s.redeem_link(&ctx, &link).await.unwrap(), Redeemed::First);
    assert_appended(s, before, &["approval_link_used"]).await;
    let used = s.link_use(&link.nonce).await.unwrap().unwrap();
    assert_eq!(used.draft_id, link.draft_id);
    assert_eq!(used.action, "approve");
    assert_eq!(used.used_at, to_micros(ctx.now));
    // The entry is in the draft's history.
    let history = s.draft_history(link.draft_id).await.unwrap();
    assert!(
        history
            .iter()
            .any(|e| e.event.kind() == "approval_link_used")
    );

    let later = ctx.at(ctx.now + Duration::minutes(5));
    let before = ledger_len(s).await;
    assert_eq!(
        s.redeem_link(&later, &link).await.unwrap(),
        Redeemed::AlreadyUsed(used.clone())
    );
    assert_eq!(ledger_len(s).await, before);

    // Ten clicks at once on a fresh link: one wins.
    let fresh = LinkUse {
        nonce: "ffeeddccbbaa9988".into(),
        ..link.clone()
    };
    let mut tasks = Vec::new();
    for _ in 0..10 {
        let store = store.clone();
        let fresh = fresh.clone();
        let ctx = ctx.clone();
        tasks.push(tokio::spawn(async move {
            store.redeem_link(&ctx, &fresh).await.unwrap()
        }));
    }
    let mut first = 0;
    for task in tasks {
        if task.await.unwrap() == Redeemed::First {
            first += 1;
        }
    }
    assert_eq!(first, 1);

    let unknown = LinkUse {
        nonce: "0000000000000000".into(),
        draft_id: handoff_domain::DraftId::new(),
        ..link
    };
    let err = s.redeem_link(&ctx, &unknown).await.unwrap_err();
    assert!(matches!(err, StoreError::NotFound { .. }), "{err}");
}

// ── The review queue and the escalation inbox ───────────────────────────

async fn add_person(
    s: &dyn Store,
    ctx: &CommandContext,
    name: &str,
    role: Role,
    manager: Option<&str>,
) {
    s.add_user(
        ctx,
        &NewUser {
            username: Username::parse(name).unwrap(),
            display_name: name.into(),
            email: None,
            role,
            manager: manager.map(|m| Username::parse(m).unwrap()),
        },
    )
    .await
    .unwrap();
}

/// Queues list undecided drafts oldest window first; approvals queue (or
/// bring forward) the message in the same transaction; rejections cancel
/// it; reassignments move the draft; late approvals are refused.
pub async fn review_queue_approves_rejects_and_reassigns(store: Arc<dyn Store>) {
    let s = store.as_ref();
    let w = draft_world(s).await;
    let now = w.system.now;
    add_person(s, &w.system, "sam", Role::Rep, None).await;
    let sam = Username::parse("sam").unwrap();
    let (_, approval) = sendable_draft(s, &w, "a@acme.example", "needs_approval", None).await;
    let (veto_contact, veto) = sendable_draft(s, &w, "b@acme.example", "veto_window", None).await;
    let (auto_contact, auto) = sendable_draft(s, &w, "c@acme.example", "auto_send", None).await;
    let (_, blocked) = sendable_draft(s, &w, "d@acme.example", "blocked", None).await;
    let veto_message = s
        .queue_message(
            &w.system,
            &new_message(
                veto_contact,
                veto,
                "veto@northwind.example",
                now + Duration::hours(2),
            ),
        )
        .await
        .unwrap();

    let queue =
        |owner: Option<&Username>, state: QueueState, at: chrono::DateTime<Utc>| QueueFilter {
            owner: owner.cloned(),
            state,
            now: at,
            limit: 100,
        };
    let ids = |items: Vec<QueuedDraft>| {
        items
            .into_iter()
            .map(|i| i.record.draft.id)
            .collect::<Vec<_>>()
    };
    // Oldest window first (veto 2 h, approval 24 h), drafts without one last.
    assert_eq!(
        ids(s
            .review_queue(&queue(Some(&w.dana), QueueState::Pending, now))
            .await
            .unwrap()),
        vec![veto, approval, blocked]
    );
    assert_eq!(
        ids(s
            .review_queue(&queue(None, QueueState::Pending, now))
            .await
            .unwrap()),
        vec![veto, approval, blocked]
    );
    assert!(
        s.review_queue(&queue(Some(&sam), QueueState::Pending, now))
            .await
            .unwrap()
            .is_empty()
    );
    let shown = s.queued_draft(veto).await.unwrap().unwrap();
    assert_eq!(shown.owner.as_ref(), Some(&w.dana));
    assert_eq!(shown.message.as_ref().map(|m| m.id), Some(veto_message.id));
    assert!(!shown.escalated);
    assert!(
        s.queued_draft(handoff_domain::DraftId::new())
            .await
            .unwrap()
            .is_none()
    );
    // The auto-send draft has no message yet: the drafting stage queues it.
    assert_eq!(
        s.unqueued_automatic(10)
            .await
            .unwrap()
            .iter()
            .map(|r| r.draft.id)
            .collect::<Vec<_>>(),
        vec![auto]
    );
    s.queue_message(
        &w.system,
        &new_message(auto_contact, auto, "auto@northwind.example", now),
    )
    .await
    .unwrap();
    assert!(s.unqueued_automatic(10).await.unwrap().is_empty());

    // Reassigning moves the draft to another queue, once.
    let before = ledger_len(s).await;
    let moved = s.reassign_draft(&w.human, approval, &sam).await.unwrap();
    assert_eq!(moved.owner.as_ref(), Some(&sam));
    assert_eq!(moved.assignee.as_ref(), Some(&sam));
    assert_appended(s, before, &["draft_reassigned"]).await;
    assert!(matches!(
        last_entries(s, 1).await[0].event,
        Event::DraftReassigned { ref from, ref to, .. } if from.as_deref() == Some("dana") && to == "sam"
    ));
    assert_eq!(
        ids(s
            .review_queue(&queue(Some(&sam), QueueState::Pending, now))
            .await
            .unwrap()),
        vec![approval]
    );
    assert_eq!(
        ids(s
            .review_queue(&queue(Some(&w.dana), QueueState::Pending, now))
            .await
            .unwrap()),
        vec![veto, blocked]
    );
    let before = ledger_len(s).await;
    let err = s
        .reassign_draft(&w.human, approval, &sam)
        .await
        .unwrap_err();
    assert!(refused(&err, "already in sam's queue"), "{err}");
    let err = s
        .reassign_draft(&w.human, approval, &Username::parse("nobody").unwrap())
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::NotFound { .. }), "{err}");
    assert_eq!(ledger_len(s).await, before, "refusals append nothing");

    // An approval after the window closed is refused and changes nothing.
    let late = w.human.at(now + Duration::hours(25));
    let sam_review = review(ReviewDecision::Approved, &sam);
    let err = s
        .approve_and_queue(
            &late,
            approval,
            &sam_review,
            &new_message(
                moved.record.draft.contact_id,
                approval,
                "late@northwind.example",
                late.now,
            ),
        )
        .await
        .unwrap_err();
    assert!(refused(&err, "closed at"), "{err}");
    assert_eq!(ledger_len(s).await, before);
    // A rejection is not an approval.
    let err = s
        .approve_and_queue(
            &w.human,
            approval,
            &review(ReviewDecision::Rejected, &sam),
            &new_message(
                moved.record.draft.contact_id,
                approval,
                "r@northwind.example",
                now,
            ),
        )
        .await
        .unwrap_err();
    assert!(refused(&err, "reject_draft"), "{err}");

    // In time: the review and its message in one go.
    let approved = s
        .approve_and_queue(
            &w.human,
            approval,
            &sam_review,
            &new_message(
                moved.record.draft.contact_id,
                approval,
                "ok@northwind.example",
                now,
            ),
        )
        .await
        .unwrap();
    assert!(!approved.rescheduled);
    assert_eq!(approved.record.draft.review_state, "approved");
    assert_eq!(approved.message.state, "queued");
    assert_appended(s, before, &["draft_reviewed", "message_queued"]).await;
    let err = s
        .reassign_draft(&w.human, approval, &w.dana)
        .await
        .unwrap_err();
    assert!(refused(&err, "already approved"), "{err}");

    // Approving a veto draft brings its queued message forward.
    let before = ledger_len(s).await;
    let edited_veto = s
        .approve_and_queue(
            &w.human,
            veto,
            &review(
                edited("Month-end close", "Hi Grace, a shorter note. Worth a call?"),
                &w.dana,
            ),
            &new_message(veto_contact, veto, "ignored@northwind.example", now),
        )
        .await
        .unwrap();
    assert!(edited_veto.rescheduled);
    assert_eq!(edited_veto.message.id, veto_message.id);
    assert_eq!(edited_veto.message.scheduled_at, now);
    assert!(edited_veto.record.edit_distance.unwrap() > 0.0);
    assert_appended(s, before, &["draft_reviewed", "message_rescheduled"]).await;
    let claimed = s
        .claim_messages(&w.system, &message_claim(now, 10, "w"))
        .await
        .unwrap();
    let mut got: Vec<_> = claimed.claimed.iter().map(|c| c.message.draft_id).collect();
    got.sort();
    let mut want = vec![approval, veto, auto];
    want.sort();
    assert_eq!(got, want, "{claimed:?}");
    let veto_text = claimed
        .claimed
        .iter()
        .find(|c| c.message.draft_id == veto)
        .unwrap();
    assert_eq!(veto_text.body, "Hi Grace, a shorter note. Worth a call?");

    // A rejection needs a reason and cancels the draft's queued message.
    let (vetoed_contact, vetoed) =
        sendable_draft(s, &w, "e@acme.example", "veto_window", None).await;
    let vetoed_message = s
        .queue_message(
            &w.system,
            &new_message(
                vetoed_contact,
                vetoed,
                "vetoed@northwind.example",
                now + Duration::hours(2),
            ),
        )
        .await
        .unwrap();
    let before = ledger_len(s).await;
    let err = s
        .reject_draft(&w.human, vetoed, &w.dana, "  ")
        .await
        .unwrap_err();
    assert!(refused(&err, "needs a reason"), "{err}");
    assert_eq!(ledger_len(s).await, before);
    let rejected = s
        .reject_draft(&w.human, vetoed, &w.dana, "wrong person")
        .await
        .unwrap();
    assert_eq!(rejected.draft.review_state, "rejected");
    assert_appended(s, before, &["draft_reviewed", "message_failed"]).await;
    let entries = last_entries(s, 2).await;
    assert!(matches!(
        &entries[0].event,
        Event::DraftReviewed { decision, reason: Some(reason), .. } if decision == "rejected" && reason == "wrong person"
    ));
    let cancelled = s.get_message(vetoed_message.id).await.unwrap().unwrap();
    assert_eq!(cancelled.state, "failed");
    assert!(matches!(
        cancelled.failure,
        Some(MessageFailure::Held { hold: HoldReason::DraftRefused { ref reason } }) if reason.contains("wrong person")
    ));
    let later = s
        .claim_messages(&w.system, &message_claim(now + Duration::hours(3), 10, "w"))
        .await
        .unwrap();
    assert!(
        later.claimed.is_empty() && later.held.is_empty(),
        "{later:?}"
    );
    // A blocked draft is rejected without a message to cancel.
    let before = ledger_len(s).await;
    s.reject_draft(&w.human, blocked, &w.dana, "a guarantee")
        .await
        .unwrap();
    assert_appended(s, before, &["draft_reviewed"]).await;
    assert!(
        s.review_queue(&queue(Some(&w.dana), QueueState::Pending, now))
            .await
            .unwrap()
            .is_empty()
    );

    // Expired drafts are listed before and after the worker marks them.
    let (_, unapproved) = sendable_draft(s, &w, "f@acme.example", "needs_approval", None).await;
    let after_window = now + Duration::hours(25);
    assert_eq!(
        ids(s
            .review_queue(&queue(Some(&w.dana), QueueState::Expired, after_window))
            .await
            .unwrap()),
        vec![unapproved]
    );
    assert!(
        s.review_queue(&queue(Some(&w.dana), QueueState::Expired, now))
            .await
            .unwrap()
            .is_empty()
    );
    let ctx_late = w.system.at(after_window);
    assert_eq!(
        s.expire_drafts(&ctx_late, after_window).await.unwrap(),
        vec![unapproved]
    );
    assert_eq!(
        ids(s
            .review_queue(&queue(Some(&w.dana), QueueState::Expired, after_window))
            .await
            .unwrap()),
        vec![unapproved]
    );
    assert!(
        s.review_queue(&queue(None, QueueState::Expired, after_window))
            .await
            .unwrap()
            .iter()
            .all(|d| d.record.sent_at.is_none())
    );
}

/// A veto draft whose timer an escalation cancelled needs a person's
/// approval inside its window, like any other: otherwise it expires.
pub async fn escalated_veto_drafts_expire_unapproved(store: Arc<dyn Store>) {
    let s = store.as_ref();
    let w = draft_world(s).await;
    let now = w.system.now;
    let (quiet_contact, quiet) =
        sendable_draft(s, &w, "quiet@acme.example", "veto_window", None).await;
    let (loud_contact, loud) =
        sendable_draft(s, &w, "loud@acme.example", "veto_window", None).await;
    for (contact, draft, rfc) in [
        (quiet_contact, quiet, "q@northwind.example"),
        (loud_contact, loud, "l@northwind.example"),
    ] {
        s.queue_message(
            &w.system,
            &new_message(contact, draft, rfc, now + Duration::hours(2)),
        )
        .await
        .unwrap();
    }
    s.open_escalation(
        &w.system.at(now + Duration::minutes(5)),
        &NewEscalation {
            contact_id: Some(loud_contact),
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
    assert!(s.queued_draft(loud).await.unwrap().unwrap().escalated);
    let end = now + Duration::hours(3);
    let ctx_end = w.system.at(end);
    assert_eq!(s.expire_drafts(&ctx_end, end).await.unwrap(), vec![loud]);
    let got = s
        .claim_messages(&ctx_end, &message_claim(end, 10, "w"))
        .await
        .unwrap();
    assert_eq!(got.claimed.len(), 1);
    assert_eq!(got.claimed[0].message.draft_id, quiet);
    assert_eq!(got.held.len(), 1);
    assert!(
        got.held[0].failed,
        "an expired draft's message fails for good"
    );
    assert!(matches!(
        got.held[0].reason,
        HoldReason::DraftRefused { .. }
    ));
}

/// The inbox lists open tasks most urgent first; take-over and hand-back
/// move the prospect between AI and a person in one transaction each; the
/// SLA timer moves an overdue task to the assignee's manager once.
pub async fn inbox_takes_over_hands_back_and_escalates_overdue(store: Arc<dyn Store>) {
    let s = store.as_ref();
    let w = draft_world(s).await;
    let now = w.system.now;
    add_person(s, &w.system, "morgan", Role::Manager, None).await;
    add_person(s, &w.system, "riley", Role::Rep, Some("morgan")).await;
    add_person(s, &w.system, "sam", Role::Rep, None).await;
    let (riley, sam, morgan) = (
        Username::parse("riley").unwrap(),
        Username::parse("sam").unwrap(),
        Username::parse("morgan").unwrap(),
    );
    let defs: Vec<SequenceDef> = ["one", "two", "three"]
        .iter()
        .map(|name| SequenceDef {
            name: (*name).into(),
            sequence_type: "cold".into(),
            steps: json!([{"kind": "email", "day": 0}]),
            step_count: 1,
        })
        .collect();
    s.sync_sequences(&w.system, &defs).await.unwrap();
    s.record_verification(&w.system, w.contact, Verdict::Valid)
        .await
        .unwrap();
    let first = s.enroll(&w.system, w.contact, "one", false).await.unwrap();
    s.enroll(&w.system, w.contact, "two", false).await.unwrap();
    // An automatic message for the prospect, queued before the take-over.
    let mut new = new_draft(w.contact, AuthorKind::Ai, Some("cold"));
    new.enrollment_id = Some(first.id);
    let early = s.create_draft(&w.system, &new).await.unwrap().id;
    s.record_evaluation(&w.system, early, &evaluation("auto_send"))
        .await
        .unwrap();
    let early_message = s
        .queue_message(
            &w.system,
            &new_message(w.contact, early, "early@northwind.example", now),
        )
        .await
        .unwrap();

    let task = |contact, priority, assignee: &Username, hours| NewEscalation {
        contact_id: contact,
        stage: Stage::Engagement,
        rule_id: "positive-reply".into(),
        reason: "replied".into(),
        priority,
        assignee: Some(assignee.clone()),
        due_at: Some(now + Duration::hours(hours)),
    };
    let ada_task = s
        .open_escalation(&w.system, &task(Some(w.contact), Priority::High, &riley, 1))
        .await
        .unwrap();
    let grace = s
        .add_contact(
            &w.system,
            &NewContact {
                email: email("grace@acme.example"),
                first_name: "Grace".into(),
                last_name: "Hopper".into(),
                title: "VP".into(),
                account_id: None,
                owner: Some(sam.clone()),
            },
        )
        .await
        .unwrap()
        .id;
    let signal = json!({"kind": "page_visit", "url": "https://northwind.example/pricing"});
    let before = ledger_len(s).await;
    let grace_task = s
        .open_signalled_escalation(
            &w.system,
            &task(Some(grace), Priority::Normal, &sam, 2),
            &signal,
        )
        .await
        .unwrap();
    assert_appended(s, before, &["escalation_opened"]).await;
    let nobody_task = s
        .open_escalation(&w.system, &task(None, Priority::Low, &sam, 48))
        .await
        .unwrap();
    s.request_approval(
        &w.system,
        grace,
        "one",
        "strategic-or-executive",
        "C-suite",
        Some(&sam),
    )
    .await
    .unwrap();

    let inbox = |assignee: Option<&Username>, overdue_at, include_approvals| InboxFilter {
        assignee: assignee.cloned(),
        overdue_at,
        include_approvals,
        limit: 100,
    };
    let ids = |items: Vec<InboxItem>| {
        items
            .into_iter()
            .map(|i| i.escalation.id)
            .collect::<Vec<_>>()
    };
    assert_eq!(
        ids(s.inbox(&inbox(None, None, false)).await.unwrap()),
        vec![ada_task.id, grace_task.id, nobody_task.id]
    );
    assert_eq!(s.inbox(&inbox(None, None, true)).await.unwrap().len(), 4);
    assert_eq!(
        ids(s.inbox(&inbox(Some(&riley), None, false)).await.unwrap()),
        vec![ada_task.id]
    );
    assert_eq!(
        ids(s
            .inbox(&inbox(None, Some(now + Duration::minutes(90)), false))
            .await
            .unwrap()),
        vec![ada_task.id]
    );
    let item = s.inbox_item(grace_task.id).await.unwrap().unwrap();
    assert_eq!(item.signal, Some(signal));
    assert_eq!(item.contact_email, Some(email("grace@acme.example")));
    assert!(s.inbox_item(EscalationId::new()).await.unwrap().is_none());

    // The SLA timer: nothing is due yet, then both overdue tasks move once.
    assert!(
        s.escalate_overdue(&w.system, now + Duration::minutes(30))
            .await
            .unwrap()
            .is_empty()
    );
    let later = now + Duration::hours(3);
    let before = ledger_len(s).await;
    let moved = s
        .escalate_overdue(&w.system.at(later), later)
        .await
        .unwrap();
    assert_eq!(moved.len(), 2, "{moved:?}");
    assert_eq!(moved[0].escalation_id, ada_task.id);
    assert_eq!(
        (moved[0].from.as_ref(), moved[0].to.as_ref()),
        (Some(&riley), Some(&morgan))
    );
    assert_eq!(moved[1].escalation_id, grace_task.id);
    assert_eq!(
        (moved[1].from.as_ref(), moved[1].to.as_ref()),
        (Some(&sam), None)
    );
    assert_appended(s, before, &["escalation_overdue", "escalation_overdue"]).await;
    assert!(
        s.escalate_overdue(&w.system.at(later), later)
            .await
            .unwrap()
            .is_empty(),
        "once per task"
    );
    let moved_item = s.inbox_item(ada_task.id).await.unwrap().unwrap();
    assert_eq!(moved_item.escalation.assignee.as_ref(), Some(&morgan));
    assert_eq!(moved_item.escalated_from.as_ref(), Some(&riley));
    assert_eq!(moved_item.overdue_at, Some(to_micros(later)));
    assert_eq!(
        ids(s.inbox(&inbox(Some(&morgan), None, false)).await.unwrap()),
        vec![ada_task.id]
    );
    assert_eq!(
        s.inbox_item(grace_task.id)
            .await
            .unwrap()
            .unwrap()
            .escalation
            .assignee
            .as_ref(),
        Some(&sam),
        "no manager: it stays where it was"
    );

    // Take-over: human-owned, automation stopped, the task is the taker's.
    let before = ledger_len(s).await;
    let taken = s.take_over(&w.human, ada_task.id, &w.dana).await.unwrap();
    assert_eq!(taken.enrollments_stopped, 2);
    assert_eq!(taken.item.taken_by.as_ref(), Some(&w.dana));
    assert_eq!(taken.item.escalation.assignee.as_ref(), Some(&w.dana));
    assert_eq!(taken.item.human_owner.as_ref(), Some(&w.dana));
    assert_appended(
        s,
        before,
        &[
            "enrollment_stopped",
            "enrollment_stopped",
            "prospect_taken_over",
        ],
    )
    .await;
    assert!(
        s.list_enrollments(w.contact)
            .await
            .unwrap()
            .iter()
            .all(|e| e.state
                == EnrollmentState::Stopped {
                    reason: StopReason::TakenOver
                })
    );
    let before = ledger_len(s).await;
    let err = s.take_over(&w.human, ada_task.id, &sam).await.unwrap_err();
    assert!(refused(&err, "already taken over by dana"), "{err}");
    let err = s
        .take_over(&w.human, nobody_task.id, &sam)
        .await
        .unwrap_err();
    assert!(refused(&err, "about no prospect"), "{err}");
    let err = s
        .take_over(&w.human, EscalationId::new(), &sam)
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::NotFound { .. }), "{err}");
    assert_eq!(ledger_len(s).await, before, "refusals append nothing");
    // The message queued before the take-over is held for good.
    let got = s
        .claim_messages(&w.system, &message_claim(now, 10, "w"))
        .await
        .unwrap();
    assert!(got.claimed.is_empty());
    assert_eq!(got.held[0].message.id, early_message.id);
    assert!(got.held[0].failed);

    // Hand-back: AI again, the note in the ledger, the taken task resolved;
    // the stopped enrolments stay stopped.
    let err = s
        .hand_back(&w.human, w.contact, &w.dana, " ")
        .await
        .unwrap_err();
    assert!(refused(&err, "needs a note"), "{err}");
    let err = s
        .hand_back(&w.human, grace, &w.dana, "n/a")
        .await
        .unwrap_err();
    assert!(refused(&err, "handled by AI already"), "{err}");
    let before = ledger_len(s).await;
    let back = s
        .hand_back(&w.human, w.contact, &w.dana, "not now; try in Q3")
        .await
        .unwrap();
    assert_eq!(back.resolved, vec![ada_task.id]);
    assert_eq!(back.still_stopped, 2);
    assert_appended(s, before, &["prospect_handed_back", "escalation_resolved"]).await;
    assert!(
        s.inbox_item(ada_task.id)
            .await
            .unwrap()
            .unwrap()
            .escalation
            .resolved_at
            .is_some()
    );
    assert!(
        s.list_enrollments(w.contact)
            .await
            .unwrap()
            .iter()
            .all(|e| e.state != EnrollmentState::Active)
    );
    // A new enrolment after the hand-back sends again: the take-over no
    // longer holds the prospect.
    let third = s
        .enroll(&w.system, w.contact, "three", false)
        .await
        .unwrap();
    let mut new = new_draft(w.contact, AuthorKind::Ai, Some("cold"));
    new.enrollment_id = Some(third.id);
    let fresh = s.create_draft(&w.system, &new).await.unwrap().id;
    s.record_evaluation(&w.system, fresh, &evaluation("auto_send"))
        .await
        .unwrap();
    s.queue_message(
        &w.system,
        &new_message(w.contact, fresh, "fresh@northwind.example", now),
    )
    .await
    .unwrap();
    let got = s
        .claim_messages(&w.system, &message_claim(now, 10, "w"))
        .await
        .unwrap();
    assert_eq!(got.claimed.len(), 1, "{got:?}");
    assert_eq!(got.claimed[0].message.draft_id, fresh);
}
