//! The scheduler and circuit breakers on PostgreSQL. A claim locks every
//! mailbox's state row (FOR UPDATE, in address order) before it reads caps
//! and spacing, so concurrent claimers in several processes take turns and
//! cannot exceed a cap together; the lock order rules out deadlocks.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::{PgConnection, Postgres, Row, Transaction};

use handoff_domain::schedule::{self, Health, Location, MailboxFacts, SendPolicy};
use handoff_domain::users::Username;
use handoff_domain::{ContactId, EnrollmentId, EscalationId, Event, MessageId};
use handoff_store::{
    BREAKER_RULE, CLAIMED_STATES, Candidate, CommandContext, DraftRecord, MAX_THREAD_DEPTH,
    MailboxState, Message, Paused, Plan, Scheduling, Scope, StoreError, StoreResult, ThreadInfo,
    bare_message_id, health_since, parse_policy, plan, policy_json, sequence_paused, tripped,
};

use crate::rows::db_err;
use crate::sending::read_message;
use crate::workflow::insert_escalation;
use crate::{PostgresStore, insert_entry};

pub(crate) async fn load_policy(conn: &mut PgConnection) -> StoreResult<Option<SendPolicy>> {
    let json: Option<String> = sqlx::query_scalar("SELECT policy FROM send_policy WHERE id = 1")
        .fetch_optional(&mut *conn)
        .await
        .map_err(db_err)?;
    json.map(|j| parse_policy(&j)).transpose()
}

async fn ensure_mailbox_row(
    conn: &mut PgConnection,
    address: &str,
    now: DateTime<Utc>,
) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO mailbox_states (address, created_at) VALUES ($1, $2) ON CONFLICT DO NOTHING",
    )
    .bind(address)
    .bind(now)
    .execute(&mut *conn)
    .await
    .map_err(db_err)?;
    Ok(())
}

/// Locks every mailbox of the policy, in address order, for the rest of
/// the claim's transaction.
pub(crate) async fn lock_mailboxes(
    conn: &mut PgConnection,
    policy: &SendPolicy,
    now: DateTime<Utc>,
) -> StoreResult<()> {
    let mut addresses: Vec<&str> = policy
        .mailboxes
        .iter()
        .map(|m| m.address.as_str())
        .collect();
    addresses.sort_unstable();
    for address in &addresses {
        ensure_mailbox_row(conn, address, now).await?;
    }
    sqlx::query("SELECT address FROM mailbox_states ORDER BY address FOR UPDATE")
        .fetch_all(&mut *conn)
        .await
        .map_err(db_err)?;
    Ok(())
}

async fn mailbox_facts(
    conn: &mut PgConnection,
    policy: &SendPolicy,
    address: &str,
    now: DateTime<Utc>,
) -> StoreResult<MailboxFacts> {
    let state = sqlx::query(
        "SELECT first_sent_at, CASE WHEN paused_at IS NULL THEN NULL ELSE COALESCE(paused_reason, 'paused') END AS paused
           FROM mailbox_states WHERE address = $1",
    )
    .bind(address)
    .fetch_optional(&mut *conn)
    .await
    .map_err(db_err)?;
    let (first, paused): (Option<DateTime<Utc>>, Option<String>) = match state {
        Some(row) => (
            row.try_get("first_sent_at").map_err(db_err)?,
            row.try_get("paused").map_err(db_err)?,
        ),
        None => (None, None),
    };
    let (sent_today, last): (i64, Option<DateTime<Utc>>) =
        sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT COUNT(*) FILTER (WHERE claimed_at >= $2), MAX(claimed_at) FROM messages
          WHERE mailbox = $1 AND claimed_at IS NOT NULL AND state IN {CLAIMED_STATES}"
        )))
        .bind(address)
        .bind(policy.day_start(now))
        .fetch_one(&mut *conn)
        .await
        .map_err(db_err)?;
    Ok(MailboxFacts {
        sent_today: u32::try_from(sent_today).unwrap_or(u32::MAX),
        last_send: last,
        first_send: first,
        paused,
    })
}

async fn recipient_location(
    conn: &mut PgConnection,
    policy: &SendPolicy,
    contact: ContactId,
) -> StoreResult<Location> {
    let (city, country, domain): (Option<String>, Option<String>, Option<String>) = sqlx::query_as(
        "SELECT c.city, c.country, a.domain FROM contacts c
               LEFT JOIN accounts a ON a.id = c.account_id WHERE c.id = $1",
    )
    .bind(contact.as_uuid())
    .fetch_one(&mut *conn)
    .await
    .map_err(db_err)?;
    Ok(schedule::locate(
        city.as_deref(),
        country.as_deref(),
        domain.as_deref(),
        policy.zone(),
    ))
}

async fn last_automated_to(
    conn: &mut PgConnection,
    contact: ContactId,
    except: MessageId,
) -> StoreResult<Option<DateTime<Utc>>> {
    sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
        "SELECT MAX(m.claimed_at) FROM messages m JOIN drafts d ON d.id = m.draft_id
          WHERE m.contact_id = $1 AND m.id <> $2 AND m.claimed_at IS NOT NULL
            AND m.state IN {CLAIMED_STATES} AND d.author_kind <> 'human'"
    )))
    .bind(contact.as_uuid())
    .bind(except.as_uuid())
    .fetch_one(&mut *conn)
    .await
    .map_err(db_err)
}

async fn message_by_rfc(conn: &mut PgConnection, rfc: &str) -> StoreResult<Option<Message>> {
    let row = sqlx::query("SELECT * FROM messages WHERE rfc_message_id = $1")
        .bind(bare_message_id(rfc))
        .fetch_optional(&mut *conn)
        .await
        .map_err(db_err)?;
    row.as_ref().map(read_message).transpose()
}

/// Whether the scheduler lets the claim go on, and from which mailbox.
/// Applies no pacing when no policy was recorded.
pub(crate) async fn plan_claim(
    conn: &mut PgConnection,
    policy: Option<&SendPolicy>,
    message: &Message,
    record: &DraftRecord,
    now: DateTime<Utc>,
) -> StoreResult<Plan> {
    let Some(policy) = policy else {
        return Ok(Plan::SendFrom(message.mailbox.as_str().to_string()));
    };
    if let Some(enrollment) = record.draft.enrollment_id {
        let paused: Option<(String, String)> = sqlx::query_as(
            "SELECT s.name, COALESCE(s.paused_reason, 'paused') FROM enrollments e
               JOIN sequences s ON s.name = e.sequence
              WHERE e.id = $1 AND s.paused_at IS NOT NULL",
        )
        .bind(enrollment.as_uuid())
        .fetch_optional(&mut *conn)
        .await
        .map_err(db_err)?;
        if let Some((name, reason)) = paused {
            return Ok(Plan::Hold(sequence_paused(&name, &reason, now)));
        }
    }
    let rules = match &message.in_reply_to {
        Some(parent) => {
            let thread_mailbox = message_by_rfc(conn, parent)
                .await?
                .map(|m| m.mailbox.as_str().to_string())
                .unwrap_or_else(|| message.mailbox.as_str().to_string());
            policy.mailbox(&thread_mailbox).into_iter().collect()
        }
        None => policy.rotation(message.mailbox.as_str()),
    };
    let mut candidates = Vec::with_capacity(rules.len());
    for rules in rules {
        candidates.push(Candidate {
            rules,
            facts: mailbox_facts(conn, policy, &rules.address, now).await?,
        });
    }
    let recipient = recipient_location(conn, policy, message.contact_id).await?;
    let last_to_contact = match record.draft.author {
        handoff_store::AuthorKind::Human => None,
        _ => last_automated_to(conn, message.contact_id, message.id).await?,
    };
    Ok(plan(
        policy,
        message.mailbox.as_str(),
        &candidates,
        recipient,
        last_to_contact,
        message.id.as_uuid().as_bytes(),
        now,
    ))
}

pub(crate) async fn record_claim_mailbox(
    tx: &mut Transaction<'_, Postgres>,
    ctx: &CommandContext,
    message: &mut Message,
    address: &str,
    now: DateTime<Utc>,
) -> StoreResult<()> {
    if address != message.mailbox.as_str() {
        let to = handoff_domain::EmailAddress::parse(address)
            .map_err(|_| StoreError::corrupt("policy mailbox address"))?;
        sqlx::query("UPDATE messages SET mailbox = $1 WHERE id = $2")
            .bind(address)
            .bind(message.id.as_uuid())
            .execute(&mut **tx)
            .await
            .map_err(db_err)?;
        insert_entry(
            tx,
            ctx,
            &Event::MessageRerouted {
                message_id: message.id,
                contact_id: message.contact_id,
                from_mailbox: message.mailbox.as_str().to_string(),
                to_mailbox: address.to_string(),
            },
        )
        .await?;
        message.mailbox = to;
    }
    ensure_mailbox_row(tx, address, now).await?;
    sqlx::query(
        "UPDATE mailbox_states SET first_sent_at = COALESCE(first_sent_at, $2) WHERE address = $1",
    )
    .bind(address)
    .bind(now)
    .execute(&mut **tx)
    .await
    .map_err(db_err)?;
    Ok(())
}

pub(crate) async fn thread_of(
    conn: &mut PgConnection,
    message: &Message,
) -> StoreResult<Option<ThreadInfo>> {
    let Some(parent) = &message.in_reply_to else {
        return Ok(None);
    };
    let mut references = vec![bare_message_id(parent).to_string()];
    let mut root_subject = None;
    let mut current = message_by_rfc(conn, parent).await?;
    while let Some(m) = current {
        let subject: Option<String> =
            sqlx::query_scalar("SELECT COALESCE(final_subject, subject) FROM drafts WHERE id = $1")
                .bind(m.draft_id.as_uuid())
                .fetch_optional(&mut *conn)
                .await
                .map_err(db_err)?;
        root_subject = subject.or(root_subject);
        current = match &m.in_reply_to {
            Some(up) if references.len() < MAX_THREAD_DEPTH => {
                references.insert(0, bare_message_id(up).to_string());
                message_by_rfc(conn, up).await?
            }
            _ => None,
        };
    }
    Ok(root_subject.map(|root_subject| ThreadInfo {
        root_subject,
        references,
    }))
}

// ── Circuit breakers ────────────────────────────────────────────────────

async fn scope_health(
    conn: &mut PgConnection,
    scope: Scope,
    name: &str,
    since: DateTime<Utc>,
) -> StoreResult<Health> {
    let of_scope = match scope {
        Scope::Mailbox => "m.mailbox = $1",
        Scope::Sequence => {
            "m.draft_id IN (SELECT d.id FROM drafts d JOIN enrollments e ON e.id = d.enrollment_id WHERE e.sequence = $1)"
        }
    };
    let (sends, rejected): (i64, i64) = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT COUNT(*), COUNT(*) FILTER (WHERE m.state = 'failed')
           FROM messages m
          WHERE {of_scope} AND m.claimed_at >= $2
            AND (m.state IN ('sent', 'in_doubt')
                 OR (m.state = 'failed' AND m.failure LIKE '%\"kind\":\"rejected\"%'))"
    )))
    .bind(name)
    .bind(since)
    .fetch_one(&mut *conn)
    .await
    .map_err(db_err)?;
    let mut reported = [0i64; 2];
    for (i, kind) in ["bounce", "complaint"].into_iter().enumerate() {
        reported[i] = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "SELECT COUNT(DISTINCT ev.id) FROM events ev JOIN messages m
                ON (ev.rfc_message_id IS NOT NULL AND m.rfc_message_id = btrim(ev.rfc_message_id, '<> '))
                OR (ev.rfc_message_id IS NULL AND ev.contact_id = m.contact_id AND m.state = 'sent')
              WHERE ev.kind = $3 AND ev.received_at >= $2 AND {of_scope}"
        )))
        .bind(name)
        .bind(since)
        .bind(kind)
        .fetch_one(&mut *conn)
        .await
        .map_err(db_err)?;
    }
    let count = |n: i64| u32::try_from(n).unwrap_or(u32::MAX);
    Ok(Health {
        sends: count(sends),
        bounces: count(rejected + reported[0]),
        complaints: count(reported[1]),
    })
}

async fn known_owner(
    conn: &mut PgConnection,
    policy: &SendPolicy,
    mailbox: &str,
) -> StoreResult<Option<Username>> {
    let Some(owner) = policy.mailbox(mailbox).map(|m| m.owner.clone()) else {
        return Ok(None);
    };
    let known: bool = sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM users WHERE username = $1)")
        .bind(&owner)
        .fetch_one(&mut *conn)
        .await
        .map_err(db_err)?;
    Ok(if known {
        Username::parse(&owner).ok()
    } else {
        None
    })
}

/// Judges the mailbox and the sequence `message` went out from, and pauses
/// each whose breaker trips, in the caller's transaction. Locks the
/// mailbox's state row, so two outcomes recorded at once are judged in turn.
pub(crate) async fn judge(
    tx: &mut Transaction<'_, Postgres>,
    ctx: &CommandContext,
    message: &Message,
) -> StoreResult<()> {
    let Some(policy) = load_policy(tx).await? else {
        return Ok(());
    };
    let mailbox = message.mailbox.as_str();
    let owner = known_owner(tx, &policy, mailbox).await?;
    ensure_mailbox_row(tx, mailbox, ctx.now).await?;
    let (paused, resumed): (bool, Option<DateTime<Utc>>) = sqlx::query_as(
        "SELECT paused_at IS NOT NULL, resumed_at FROM mailbox_states WHERE address = $1 FOR UPDATE",
    )
    .bind(mailbox)
    .fetch_one(&mut **tx)
    .await
    .map_err(db_err)?;
    if !paused {
        let since = health_since(&policy, resumed, ctx.now);
        let health = scope_health(tx, Scope::Mailbox, mailbox, since).await?;
        if let Some(trip) = policy.breaker.check(health) {
            pause(
                tx,
                ctx,
                &policy,
                Scope::Mailbox,
                mailbox,
                &trip,
                owner.clone(),
            )
            .await?;
        }
    }
    let sequence: Option<(String, bool, Option<DateTime<Utc>>)> = sqlx::query_as(
        "SELECT s.name, s.paused_at IS NOT NULL, s.resumed_at FROM drafts d
           JOIN enrollments e ON e.id = d.enrollment_id JOIN sequences s ON s.name = e.sequence
          WHERE d.id = $1 FOR UPDATE OF s",
    )
    .bind(message.draft_id.as_uuid())
    .fetch_optional(&mut **tx)
    .await
    .map_err(db_err)?;
    if let Some((name, false, resumed)) = sequence {
        let since = health_since(&policy, resumed, ctx.now);
        let health = scope_health(tx, Scope::Sequence, &name, since).await?;
        if let Some(trip) = policy.breaker.check(health) {
            pause(tx, ctx, &policy, Scope::Sequence, &name, &trip, owner).await?;
        }
    }
    Ok(())
}

async fn pause(
    tx: &mut Transaction<'_, Postgres>,
    ctx: &CommandContext,
    policy: &SendPolicy,
    scope: Scope,
    name: &str,
    trip: &schedule::Trip,
    owner: Option<Username>,
) -> StoreResult<()> {
    let (reason, event, escalation, context) = tripped(scope, name, trip, policy, owner);
    let sql = match scope {
        Scope::Mailbox => {
            "UPDATE mailbox_states SET paused_at = $1, paused_reason = $2 WHERE address = $3 AND paused_at IS NULL"
        }
        Scope::Sequence => {
            "UPDATE sequences SET paused_at = $1, paused_reason = $2 WHERE name = $3 AND paused_at IS NULL"
        }
    };
    let changed = sqlx::query(sql)
        .bind(ctx.now)
        .bind(&reason)
        .bind(name)
        .execute(&mut **tx)
        .await
        .map_err(db_err)?
        .rows_affected();
    if changed == 1 {
        insert_entry(tx, ctx, &event).await?;
        insert_escalation(tx, ctx, &escalation, context).await?;
    }
    Ok(())
}

/// After a bounce or complaint is recorded: judge the message it is about
/// (by Message-ID, else the contact's last sent message).
pub(crate) async fn judge_report(
    tx: &mut Transaction<'_, Postgres>,
    ctx: &CommandContext,
    kind: &str,
    rfc_message_id: Option<&str>,
    contact: Option<ContactId>,
) -> StoreResult<()> {
    if !matches!(kind, "bounce" | "complaint") {
        return Ok(());
    }
    let message = match (rfc_message_id, contact) {
        (Some(rfc), _) => message_by_rfc(tx, rfc).await?,
        (None, Some(contact)) => {
            let row = sqlx::query(
                "SELECT * FROM messages WHERE contact_id = $1 AND state = 'sent'
                  ORDER BY sent_at DESC LIMIT 1",
            )
            .bind(contact.as_uuid())
            .fetch_optional(&mut **tx)
            .await
            .map_err(db_err)?;
            row.as_ref().map(read_message).transpose()?
        }
        (None, None) => None,
    };
    match message {
        Some(message) => judge(tx, ctx, &message).await,
        None => Ok(()),
    }
}

async fn resolve_breaker_escalations(
    tx: &mut Transaction<'_, Postgres>,
    ctx: &CommandContext,
    scope: Scope,
    name: &str,
    resolution: &str,
) -> StoreResult<()> {
    let open: Vec<(uuid::Uuid, Option<uuid::Uuid>)> = sqlx::query_as(
        "UPDATE escalations SET state = 'resolved', resolution = $4, resolved_at = $5
          WHERE state = 'open' AND rule_id = $1 AND context->>'scope' = $2 AND context->>'name' = $3
          RETURNING id, contact_id",
    )
    .bind(BREAKER_RULE)
    .bind(scope.as_str())
    .bind(name)
    .bind(resolution)
    .bind(ctx.now)
    .fetch_all(&mut **tx)
    .await
    .map_err(db_err)?;
    for (id, contact) in open {
        insert_entry(
            tx,
            ctx,
            &Event::EscalationResolved {
                escalation_id: EscalationId::from_uuid(id),
                contact_id: contact.map(ContactId::from_uuid),
                resolution: resolution.to_string(),
            },
        )
        .await?;
    }
    Ok(())
}

impl PostgresStore {
    async fn resume(
        &self,
        ctx: &CommandContext,
        scope: Scope,
        name: &str,
        reason: &str,
    ) -> StoreResult<()> {
        let (table, key, due) = match scope {
            Scope::Mailbox => ("mailbox_states", "address", "mailbox = $2"),
            Scope::Sequence => (
                "sequences",
                "name",
                "draft_id IN (SELECT d.id FROM drafts d JOIN enrollments e ON e.id = d.enrollment_id WHERE e.sequence = $2)",
            ),
        };
        let mut tx = self.pool().begin().await.map_err(db_err)?;
        let paused: Option<bool> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "SELECT paused_at IS NOT NULL FROM {table} WHERE {key} = $1 FOR UPDATE"
        )))
        .bind(name)
        .fetch_optional(&mut *tx)
        .await
        .map_err(db_err)?;
        match paused {
            None => {
                return Err(StoreError::NotFound {
                    what: format!("{} {name}", scope.as_str()),
                });
            }
            Some(false) => {
                return Err(StoreError::Refused {
                    reason: format!("{} {name} is not paused", scope.as_str()),
                });
            }
            Some(true) => {}
        }
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "UPDATE {table} SET paused_at = NULL, paused_reason = NULL, resumed_at = $1 WHERE {key} = $2"
        )))
        .bind(ctx.now)
        .bind(name)
        .execute(&mut *tx)
        .await
        .map_err(db_err)?;
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "UPDATE messages SET scheduled_at = $1, updated_at = $1
              WHERE state = 'queued' AND scheduled_at > $1 AND {due}"
        )))
        .bind(ctx.now)
        .bind(name)
        .execute(&mut *tx)
        .await
        .map_err(db_err)?;
        insert_entry(
            &mut tx,
            ctx,
            &Event::SendingResumed {
                scope: scope.as_str().into(),
                name: name.to_string(),
                reason: reason.to_string(),
            },
        )
        .await?;
        resolve_breaker_escalations(
            &mut tx,
            ctx,
            scope,
            name,
            &format!("resumed by {}: {reason}", ctx.actor.name()),
        )
        .await?;
        tx.commit().await.map_err(db_err)?;
        Ok(())
    }
}

#[async_trait]
impl Scheduling for PostgresStore {
    async fn record_send_policy(
        &self,
        ctx: &CommandContext,
        policy: &SendPolicy,
    ) -> StoreResult<bool> {
        let (json, fingerprint) = policy_json(policy);
        let mut tx = self.pool().begin().await.map_err(db_err)?;
        for mailbox in &policy.mailboxes {
            ensure_mailbox_row(&mut tx, &mailbox.address, ctx.now).await?;
        }
        // Several senders starting at once: one records, the others see it.
        let stored: Option<String> =
            sqlx::query_scalar("SELECT fingerprint FROM send_policy WHERE id = 1 FOR UPDATE")
                .fetch_optional(&mut *tx)
                .await
                .map_err(db_err)?;
        if stored.as_deref() == Some(fingerprint.as_str()) {
            tx.commit().await.map_err(db_err)?;
            return Ok(false);
        }
        sqlx::query(
            "INSERT INTO send_policy (id, policy, fingerprint, recorded_at) VALUES (1, $1, $2, $3)
             ON CONFLICT (id) DO UPDATE SET policy = excluded.policy, fingerprint = excluded.fingerprint,
                                            recorded_at = excluded.recorded_at",
        )
        .bind(&json)
        .bind(&fingerprint)
        .bind(ctx.now)
        .execute(&mut *tx)
        .await
        .map_err(db_err)?;
        insert_entry(
            &mut tx,
            ctx,
            &Event::SendPolicyRecorded {
                mailboxes: policy.mailboxes.iter().map(|m| m.address.clone()).collect(),
                fingerprint,
            },
        )
        .await?;
        tx.commit().await.map_err(db_err)?;
        Ok(true)
    }

    async fn send_policy(&self) -> StoreResult<Option<SendPolicy>> {
        let mut conn = self.pool().acquire().await.map_err(db_err)?;
        load_policy(&mut conn).await
    }

    async fn mailbox_states(&self, now: DateTime<Utc>) -> StoreResult<Vec<MailboxState>> {
        let mut conn = self.pool().acquire().await.map_err(db_err)?;
        let policy = load_policy(&mut conn).await?;
        type StateRow = (
            String,
            Option<DateTime<Utc>>,
            Option<DateTime<Utc>>,
            Option<String>,
            Option<DateTime<Utc>>,
        );
        let rows: Vec<StateRow> = sqlx::query_as(
            "SELECT address, first_sent_at, paused_at, paused_reason, resumed_at
               FROM mailbox_states ORDER BY address",
        )
        .fetch_all(&mut *conn)
        .await
        .map_err(db_err)?;
        let mut out = Vec::with_capacity(rows.len());
        for (address, first, paused_at, paused_reason, resumed) in rows {
            let (facts, health) = match &policy {
                Some(policy) => {
                    let since = health_since(policy, resumed, now);
                    (
                        mailbox_facts(&mut conn, policy, &address, now).await?,
                        scope_health(&mut conn, Scope::Mailbox, &address, since).await?,
                    )
                }
                None => (MailboxFacts::default(), Health::default()),
            };
            out.push(MailboxState {
                first_send: first,
                last_send: facts.last_send,
                sent_today: facts.sent_today,
                paused: paused_at.map(|at| Paused {
                    name: address.clone(),
                    at,
                    reason: paused_reason.unwrap_or_default(),
                }),
                health,
                address,
            });
        }
        Ok(out)
    }

    async fn paused_sequences(&self) -> StoreResult<Vec<Paused>> {
        let rows: Vec<(String, DateTime<Utc>, Option<String>)> = sqlx::query_as(
            "SELECT name, paused_at, paused_reason FROM sequences WHERE paused_at IS NOT NULL ORDER BY name",
        )
        .fetch_all(self.pool())
        .await
        .map_err(db_err)?;
        Ok(rows
            .into_iter()
            .map(|(name, at, reason)| Paused {
                name,
                at,
                reason: reason.unwrap_or_default(),
            })
            .collect())
    }

    async fn resume_mailbox(
        &self,
        ctx: &CommandContext,
        address: &str,
        reason: &str,
    ) -> StoreResult<()> {
        self.resume(ctx, Scope::Mailbox, address, reason).await
    }

    async fn resume_sequence(
        &self,
        ctx: &CommandContext,
        name: &str,
        reason: &str,
    ) -> StoreResult<()> {
        self.resume(ctx, Scope::Sequence, name, reason).await
    }

    async fn thread_parent(&self, enrollment: EnrollmentId) -> StoreResult<Option<Message>> {
        let row = sqlx::query(
            "SELECT m.* FROM messages m JOIN drafts d ON d.id = m.draft_id
              WHERE d.enrollment_id = $1 AND m.state IN ('sent', 'in_doubt')
              ORDER BY COALESCE(m.sent_at, m.claimed_at) DESC, m.id DESC LIMIT 1",
        )
        .bind(enrollment.as_uuid())
        .fetch_optional(self.pool())
        .await
        .map_err(db_err)?;
        row.as_ref().map(read_message).transpose()
    }
}
