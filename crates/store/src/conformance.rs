//! The conformance story: one set of checks every backend must pass. The
//! SQLite and PostgreSQL crates call [`run_all`] from their test suites
//! with a fresh, migrated store.
//!
//! It is library code (not `#[cfg(test)]`) so both backends share it; it
//! panics on failure like any test.
#![allow(clippy::unwrap_used, clippy::panic, clippy::expect_used)]

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
    let before = ledger_len(s).await;
    let draft = s
        .create_draft(
            &ctx,
            &NewDraft {
                contact_id: contact.id,
                enrollment_id: Some(enrollment.id),
                step_index: 0,
                author: AuthorKind::Template,
                subject: "Month-end close".into(),
                body: "Hi Ada, ...".into(),
                grounding: json!([{"item": "pp-spreadsheet-close"}]),
                confidence: Some(0.82),
            },
        )
        .await
        .unwrap();
    assert_appended(s, before, &["draft_created"]).await;
    assert_eq!(draft.policy_version, policy.to_string());
    assert_eq!(s.get_draft(draft.id).await.unwrap().as_ref(), Some(&draft));
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
            },
        )
        .await
        .is_err(),
        "a draft needs a policy version"
    );
    assert_eq!(ledger_len(s).await, before);

    // Messages
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
        [
            "account_created",
            "contact_imported",
            "contact_imported",
            "contact_imported",
            "contact_merged"
        ]
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
