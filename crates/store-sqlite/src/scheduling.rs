//! The scheduler and circuit breakers on SQLite. Claims read every fact in
//! the writer's transaction; SQLite has one writer, so two claimers see each
//! other's claims and cannot exceed a cap together.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use rusqlite::{Connection, OptionalExtension, Transaction, params};

use handoff_domain::schedule::{self, Health, Location, MailboxFacts, SendPolicy};
use handoff_domain::users::Username;
use handoff_domain::{ContactId, EnrollmentId, Event, MessageId};
use handoff_store::{
    BREAKER_RULE, CLAIMED_STATES, Candidate, CommandContext, DraftRecord, MAX_THREAD_DEPTH,
    MailboxState, Message, Paused, Plan, Scheduling, Scope, StoreError, StoreResult, ThreadInfo,
    bare_message_id, health_since, parse_policy, plan, policy_json, sequence_paused, tripped,
};

use crate::rows::{db_err, micros};
use crate::sending::{MESSAGE_COLUMNS, read_message};
use crate::workflow::{insert_escalation, opt_micros};
use crate::{SqliteStore, insert_entry};

pub(crate) fn load_policy(conn: &Connection) -> StoreResult<Option<SendPolicy>> {
    let json: Option<String> = conn
        .query_row("SELECT policy FROM send_policy WHERE id = 1", [], |r| {
            r.get(0)
        })
        .optional()
        .map_err(db_err)?;
    json.map(|j| parse_policy(&j)).transpose()
}

fn ensure_mailbox_row(conn: &Connection, address: &str, now: DateTime<Utc>) -> StoreResult<()> {
    conn.prepare_cached(
        "INSERT INTO mailbox_states (address, created_at) VALUES (?1, ?2) ON CONFLICT DO NOTHING",
    )
    .map_err(db_err)?
    .execute(params![address, micros(now)])
    .map_err(db_err)?;
    Ok(())
}

fn mailbox_facts(
    conn: &Connection,
    policy: &SendPolicy,
    address: &str,
    now: DateTime<Utc>,
) -> StoreResult<MailboxFacts> {
    let state: Option<(Option<i64>, Option<String>)> = conn
        .prepare_cached(
            "SELECT first_sent_at, CASE WHEN paused_at IS NULL THEN NULL ELSE COALESCE(paused_reason, 'paused') END
               FROM mailbox_states WHERE address = ?1",
        )
        .map_err(db_err)?
        .query_row([address], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()
        .map_err(db_err)?;
    let (first, paused) = state.unwrap_or((None, None));
    let (sent_today, last): (i64, Option<i64>) = conn
        .prepare_cached(&format!(
            "SELECT COUNT(*) FILTER (WHERE claimed_at >= ?2), MAX(claimed_at) FROM messages
              WHERE mailbox = ?1 AND claimed_at IS NOT NULL AND state IN {CLAIMED_STATES}"
        ))
        .map_err(db_err)?
        .query_row(params![address, micros(policy.day_start(now))], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .map_err(db_err)?;
    Ok(MailboxFacts {
        sent_today: u32::try_from(sent_today).unwrap_or(u32::MAX),
        last_send: opt_micros(last)?,
        first_send: opt_micros(first)?,
        paused,
    })
}

/// The recipient's zone from the contact's city and country, else the
/// account's domain, else the workspace.
fn recipient_location(
    conn: &Connection,
    policy: &SendPolicy,
    contact: ContactId,
) -> StoreResult<Location> {
    let (city, country, domain): (Option<String>, Option<String>, Option<String>) = conn
        .prepare_cached(
            "SELECT c.city, c.country, a.domain FROM contacts c
               LEFT JOIN accounts a ON a.id = c.account_id WHERE c.id = ?1",
        )
        .map_err(db_err)?
        .query_row([contact.to_string()], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?))
        })
        .map_err(db_err)?;
    Ok(schedule::locate(
        city.as_deref(),
        country.as_deref(),
        domain.as_deref(),
        policy.zone(),
    ))
}

/// The last automated email claimed for the contact, other than `except`.
fn last_automated_to(
    conn: &Connection,
    contact: ContactId,
    except: MessageId,
) -> StoreResult<Option<DateTime<Utc>>> {
    let last: Option<i64> = conn
        .prepare_cached(&format!(
            "SELECT MAX(m.claimed_at) FROM messages m JOIN drafts d ON d.id = m.draft_id
              WHERE m.contact_id = ?1 AND m.id <> ?2 AND m.claimed_at IS NOT NULL
                AND m.state IN {CLAIMED_STATES} AND d.author_kind <> 'human'"
        ))
        .map_err(db_err)?
        .query_row(params![contact.to_string(), except.to_string()], |r| {
            r.get(0)
        })
        .map_err(db_err)?;
    opt_micros(last)
}

/// The message that `rfc` names, if handoff sent it.
fn message_by_rfc(conn: &Connection, rfc: &str) -> StoreResult<Option<Message>> {
    conn.prepare_cached(&format!(
        "SELECT {MESSAGE_COLUMNS} FROM messages m WHERE m.rfc_message_id = ?1"
    ))
    .map_err(db_err)?
    .query_row([bare_message_id(rfc)], |row| Ok(read_message(row)))
    .optional()
    .map_err(db_err)?
    .transpose()
}

/// Whether the scheduler lets the claim go on, and from which mailbox.
/// Applies no pacing when no policy was recorded.
pub(crate) fn plan_claim(
    conn: &Connection,
    policy: Option<&SendPolicy>,
    message: &Message,
    record: &DraftRecord,
    now: DateTime<Utc>,
) -> StoreResult<Plan> {
    let Some(policy) = policy else {
        return Ok(Plan::SendFrom(message.mailbox.as_str().to_string()));
    };
    if let Some(enrollment) = record.draft.enrollment_id {
        let paused: Option<(String, String)> = conn
            .prepare_cached(
                "SELECT s.name, COALESCE(s.paused_reason, 'paused') FROM enrollments e
                   JOIN sequences s ON s.name = e.sequence
                  WHERE e.id = ?1 AND s.paused_at IS NOT NULL",
            )
            .map_err(db_err)?
            .query_row([enrollment.to_string()], |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()
            .map_err(db_err)?;
        if let Some((name, reason)) = paused {
            return Ok(Plan::Hold(sequence_paused(&name, &reason, now)));
        }
    }
    // A follow-up stays in its thread's mailbox (rotation may have moved
    // the first message); a first touch may go from any of the owner's.
    let rules = match &message.in_reply_to {
        Some(parent) => {
            let thread_mailbox = message_by_rfc(conn, parent)?
                .map(|m| m.mailbox.as_str().to_string())
                .unwrap_or_else(|| message.mailbox.as_str().to_string());
            policy.mailbox(&thread_mailbox).into_iter().collect()
        }
        None => policy.rotation(message.mailbox.as_str()),
    };
    let mut candidates = Vec::with_capacity(rules.len());
    for rules in rules {
        ensure_mailbox_row(conn, &rules.address, now)?;
        candidates.push(Candidate {
            rules,
            facts: mailbox_facts(conn, policy, &rules.address, now)?,
        });
    }
    let recipient = recipient_location(conn, policy, message.contact_id)?;
    let last_to_contact = match record.draft.author {
        handoff_store::AuthorKind::Human => None,
        _ => last_automated_to(conn, message.contact_id, message.id)?,
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

/// Records the claim's scheduling facts: the mailbox it goes from (with a
/// `message_rerouted` entry when rotation moved it) and warm-up's start.
pub(crate) fn record_claim_mailbox(
    conn: &Connection,
    ctx: &CommandContext,
    message: &mut Message,
    address: &str,
    now: DateTime<Utc>,
) -> StoreResult<()> {
    if address != message.mailbox.as_str() {
        let to = handoff_domain::EmailAddress::parse(address)
            .map_err(|_| StoreError::corrupt("policy mailbox address"))?;
        conn.execute(
            "UPDATE messages SET mailbox = ?1 WHERE id = ?2",
            params![address, message.id.to_string()],
        )
        .map_err(db_err)?;
        insert_entry(
            conn,
            ctx,
            &Event::MessageRerouted {
                message_id: message.id,
                contact_id: message.contact_id,
                from_mailbox: message.mailbox.as_str().to_string(),
                to_mailbox: address.to_string(),
            },
        )?;
        message.mailbox = to;
    }
    ensure_mailbox_row(conn, address, now)?;
    conn.prepare_cached(
        "UPDATE mailbox_states SET first_sent_at = COALESCE(first_sent_at, ?2) WHERE address = ?1",
    )
    .map_err(db_err)?
    .execute(params![address, micros(now)])
    .map_err(db_err)?;
    Ok(())
}

/// The thread a follow-up continues, from the messages handoff sent.
pub(crate) fn thread_of(conn: &Connection, message: &Message) -> StoreResult<Option<ThreadInfo>> {
    let Some(parent) = &message.in_reply_to else {
        return Ok(None);
    };
    let mut references = vec![bare_message_id(parent).to_string()];
    let mut root_subject = None;
    let mut current = message_by_rfc(conn, parent)?;
    while let Some(m) = current {
        let subject: Option<String> = conn
            .query_row(
                "SELECT COALESCE(final_subject, subject) FROM drafts WHERE id = ?1",
                [m.draft_id.to_string()],
                |r| r.get(0),
            )
            .optional()
            .map_err(db_err)?;
        root_subject = subject.or(root_subject);
        current = match &m.in_reply_to {
            Some(up) if references.len() < MAX_THREAD_DEPTH => {
                references.insert(0, bare_message_id(up).to_string());
                message_by_rfc(conn, up)?
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

fn scope_health(
    conn: &Connection,
    scope: Scope,
    name: &str,
    since: DateTime<Utc>,
) -> StoreResult<Health> {
    // Messages of the scope: `m` filtered by mailbox, or by the sequence of
    // the draft's enrolment.
    let of_scope = match scope {
        Scope::Mailbox => "m.mailbox = ?1",
        Scope::Sequence => {
            "m.draft_id IN (SELECT d.id FROM drafts d JOIN enrollments e ON e.id = d.enrollment_id WHERE e.sequence = ?1)"
        }
    };
    let (sends, rejected): (i64, i64) = conn
        .prepare_cached(&format!(
            "SELECT COUNT(*), COUNT(*) FILTER (WHERE m.state = 'failed')
               FROM messages m
              WHERE {of_scope} AND m.claimed_at >= ?2
                AND (m.state IN ('sent', 'in_doubt')
                     OR (m.state = 'failed' AND m.failure LIKE '%\"kind\":\"rejected\"%'))"
        ))
        .map_err(db_err)?
        .query_row(params![name, micros(since)], |r| Ok((r.get(0)?, r.get(1)?)))
        .map_err(db_err)?;
    let reported = |kind: &str| -> StoreResult<i64> {
        conn.prepare_cached(&format!(
            "SELECT COUNT(DISTINCT ev.id) FROM events ev JOIN messages m
                ON (ev.rfc_message_id IS NOT NULL AND m.rfc_message_id = trim(ev.rfc_message_id, '<> '))
                OR (ev.rfc_message_id IS NULL AND ev.contact_id = m.contact_id AND m.state = 'sent')
              WHERE ev.kind = ?3 AND ev.received_at >= ?2 AND {of_scope}"
        ))
        .map_err(db_err)?
        .query_row(params![name, micros(since), kind], |r| r.get(0))
        .map_err(db_err)
    };
    let count = |n: i64| u32::try_from(n).unwrap_or(u32::MAX);
    Ok(Health {
        sends: count(sends),
        bounces: count(rejected + reported("bounce")?),
        complaints: count(reported("complaint")?),
    })
}

/// The owner of a mailbox, if they are a known user (escalations are
/// assigned to users only).
fn known_owner(
    conn: &Connection,
    policy: &SendPolicy,
    mailbox: &str,
) -> StoreResult<Option<Username>> {
    let Some(owner) = policy.mailbox(mailbox).map(|m| m.owner.clone()) else {
        return Ok(None);
    };
    let known: bool = conn
        .query_row(
            "SELECT EXISTS (SELECT 1 FROM users WHERE username = ?1)",
            [&owner],
            |r| r.get(0),
        )
        .map_err(db_err)?;
    Ok(if known {
        Username::parse(&owner).ok()
    } else {
        None
    })
}

/// Judges the mailbox and the sequence `message` went out from, after a
/// failure or a report about it, and pauses each whose breaker trips, in
/// the caller's transaction.
pub(crate) fn judge(
    conn: &Transaction<'_>,
    ctx: &CommandContext,
    message: &Message,
) -> StoreResult<()> {
    let Some(policy) = load_policy(conn)? else {
        return Ok(());
    };
    let mailbox = message.mailbox.as_str();
    let owner = known_owner(conn, &policy, mailbox)?;
    ensure_mailbox_row(conn, mailbox, ctx.now)?;
    let (paused, resumed): (bool, Option<i64>) = conn
        .query_row(
            "SELECT paused_at IS NOT NULL, resumed_at FROM mailbox_states WHERE address = ?1",
            [mailbox],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .map_err(db_err)?;
    if !paused {
        let since = health_since(&policy, opt_micros(resumed)?, ctx.now);
        let health = scope_health(conn, Scope::Mailbox, mailbox, since)?;
        if let Some(trip) = policy.breaker.check(health) {
            pause(
                conn,
                ctx,
                &policy,
                Scope::Mailbox,
                mailbox,
                &trip,
                owner.clone(),
            )?;
        }
    }
    let sequence: Option<(String, bool, Option<i64>)> = conn
        .query_row(
            "SELECT s.name, s.paused_at IS NOT NULL, s.resumed_at FROM drafts d
               JOIN enrollments e ON e.id = d.enrollment_id JOIN sequences s ON s.name = e.sequence
              WHERE d.id = ?1",
            [message.draft_id.to_string()],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .optional()
        .map_err(db_err)?;
    if let Some((name, false, resumed)) = sequence {
        let since = health_since(&policy, opt_micros(resumed)?, ctx.now);
        let health = scope_health(conn, Scope::Sequence, &name, since)?;
        if let Some(trip) = policy.breaker.check(health) {
            pause(conn, ctx, &policy, Scope::Sequence, &name, &trip, owner)?;
        }
    }
    Ok(())
}

fn pause(
    conn: &Transaction<'_>,
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
            "UPDATE mailbox_states SET paused_at = ?1, paused_reason = ?2 WHERE address = ?3 AND paused_at IS NULL"
        }
        Scope::Sequence => {
            "UPDATE sequences SET paused_at = ?1, paused_reason = ?2 WHERE name = ?3 AND paused_at IS NULL"
        }
    };
    let changed = conn
        .execute(sql, params![micros(ctx.now), reason, name])
        .map_err(db_err)?;
    if changed == 1 {
        insert_entry(conn, ctx, &event)?;
        insert_escalation(conn, ctx, &escalation, &context)?;
    }
    Ok(())
}

/// After a bounce or complaint is recorded: judge the message it is about
/// (by Message-ID, else the contact's last sent message).
pub(crate) fn judge_report(
    conn: &Transaction<'_>,
    ctx: &CommandContext,
    kind: &str,
    rfc_message_id: Option<&str>,
    contact: Option<ContactId>,
) -> StoreResult<()> {
    if !matches!(kind, "bounce" | "complaint") {
        return Ok(());
    }
    let message = match (rfc_message_id, contact) {
        (Some(rfc), _) => message_by_rfc(conn, rfc)?,
        (None, Some(contact)) => conn
            .prepare_cached(&format!(
                "SELECT {MESSAGE_COLUMNS} FROM messages m WHERE m.contact_id = ?1 AND m.state = 'sent'
                  ORDER BY m.sent_at DESC LIMIT 1"
            ))
            .map_err(db_err)?
            .query_row([contact.to_string()], |row| Ok(read_message(row)))
            .optional()
            .map_err(db_err)?
            .transpose()?,
        (None, None) => None,
    };
    match message {
        Some(message) => judge(conn, ctx, &message),
        None => Ok(()),
    }
}

/// Resolves the breaker's open escalations for `scope`/`name`.
fn resolve_breaker_escalations(
    conn: &Connection,
    ctx: &CommandContext,
    scope: Scope,
    name: &str,
    resolution: &str,
) -> StoreResult<()> {
    let open: Vec<(String, Option<String>)> = {
        let mut stmt = conn
            .prepare_cached(
                "SELECT id, contact_id FROM escalations
                  WHERE state = 'open' AND rule_id = ?1
                    AND json_extract(context, '$.scope') = ?2 AND json_extract(context, '$.name') = ?3",
            )
            .map_err(db_err)?;
        let rows = stmt
            .query_map(params![BREAKER_RULE, scope.as_str(), name], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .map_err(db_err)?;
        rows.collect::<Result<_, _>>().map_err(db_err)?
    };
    for (id, contact) in open {
        conn.execute(
            "UPDATE escalations SET state = 'resolved', resolution = ?1, resolved_at = ?2 WHERE id = ?3",
            params![resolution, micros(ctx.now), id],
        )
        .map_err(db_err)?;
        insert_entry(
            conn,
            ctx,
            &Event::EscalationResolved {
                escalation_id: crate::rows::parse_id(&id, "escalation id")?,
                contact_id: contact
                    .map(|c| crate::rows::parse_id(&c, "contact id"))
                    .transpose()?,
                resolution: resolution.to_string(),
            },
        )?;
    }
    Ok(())
}

impl SqliteStore {
    fn resume(
        &self,
        ctx: &CommandContext,
        scope: Scope,
        name: &str,
        reason: &str,
    ) -> StoreResult<()> {
        let (table, key, due) = match scope {
            Scope::Mailbox => ("mailbox_states", "address", "mailbox = ?2"),
            Scope::Sequence => (
                "sequences",
                "name",
                "draft_id IN (SELECT d.id FROM drafts d JOIN enrollments e ON e.id = d.enrollment_id WHERE e.sequence = ?2)",
            ),
        };
        self.write(|tx| {
            let paused: Option<bool> = tx
                .query_row(
                    &format!("SELECT paused_at IS NOT NULL FROM {table} WHERE {key} = ?1"),
                    [name],
                    |r| r.get(0),
                )
                .optional()
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
            tx.execute(
                &format!(
                    "UPDATE {table} SET paused_at = NULL, paused_reason = NULL, resumed_at = ?1 WHERE {key} = ?2"
                ),
                params![micros(ctx.now), name],
            )
            .map_err(db_err)?;
            // Held messages are due again at once; the claim schedules them.
            tx.execute(
                &format!(
                    "UPDATE messages SET scheduled_at = ?1, updated_at = ?1
                      WHERE state = 'queued' AND scheduled_at > ?1 AND {due}"
                ),
                params![micros(ctx.now), name],
            )
            .map_err(db_err)?;
            insert_entry(
                tx,
                ctx,
                &Event::SendingResumed {
                    scope: scope.as_str().into(),
                    name: name.to_string(),
                    reason: reason.to_string(),
                },
            )?;
            resolve_breaker_escalations(
                tx,
                ctx,
                scope,
                name,
                &format!("resumed by {}: {reason}", ctx.actor.name()),
            )
        })
    }
}

#[async_trait]
impl Scheduling for SqliteStore {
    async fn record_send_policy(
        &self,
        ctx: &CommandContext,
        policy: &SendPolicy,
    ) -> StoreResult<bool> {
        let (json, fingerprint) = policy_json(policy);
        self.write(|tx| {
            for mailbox in &policy.mailboxes {
                ensure_mailbox_row(tx, &mailbox.address, ctx.now)?;
            }
            let stored: Option<String> = tx
                .query_row("SELECT fingerprint FROM send_policy WHERE id = 1", [], |r| {
                    r.get(0)
                })
                .optional()
                .map_err(db_err)?;
            if stored.as_deref() == Some(fingerprint.as_str()) {
                return Ok(false);
            }
            tx.execute(
                "INSERT INTO send_policy (id, policy, fingerprint, recorded_at) VALUES (1, ?1, ?2, ?3)
                 ON CONFLICT (id) DO UPDATE SET policy = excluded.policy, fingerprint = excluded.fingerprint,
                                                recorded_at = excluded.recorded_at",
                params![json, fingerprint, micros(ctx.now)],
            )
            .map_err(db_err)?;
            insert_entry(
                tx,
                ctx,
                &Event::SendPolicyRecorded {
                    mailboxes: policy.mailboxes.iter().map(|m| m.address.clone()).collect(),
                    fingerprint: fingerprint.clone(),
                },
            )?;
            Ok(true)
        })
    }

    async fn send_policy(&self) -> StoreResult<Option<SendPolicy>> {
        load_policy(&self.reader())
    }

    async fn mailbox_states(&self, now: DateTime<Utc>) -> StoreResult<Vec<MailboxState>> {
        let conn = self.reader();
        let policy = load_policy(&conn)?;
        let rows: Vec<(
            String,
            Option<i64>,
            Option<i64>,
            Option<String>,
            Option<i64>,
        )> = {
            let mut stmt = conn
                .prepare_cached(
                    "SELECT address, first_sent_at, paused_at, paused_reason, resumed_at
                       FROM mailbox_states ORDER BY address",
                )
                .map_err(db_err)?;
            let rows = stmt
                .query_map([], |r| {
                    Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
                })
                .map_err(db_err)?;
            rows.collect::<Result<_, _>>().map_err(db_err)?
        };
        let mut out = Vec::with_capacity(rows.len());
        for (address, first, paused_at, paused_reason, resumed) in rows {
            let (facts, health) = match &policy {
                Some(policy) => {
                    let since = health_since(policy, opt_micros(resumed)?, now);
                    (
                        mailbox_facts(&conn, policy, &address, now)?,
                        scope_health(&conn, Scope::Mailbox, &address, since)?,
                    )
                }
                None => (MailboxFacts::default(), Health::default()),
            };
            out.push(MailboxState {
                first_send: opt_micros(first)?,
                last_send: facts.last_send,
                sent_today: facts.sent_today,
                paused: opt_micros(paused_at)?.map(|at| Paused {
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
        let conn = self.reader();
        let mut stmt = conn
            .prepare_cached(
                "SELECT name, paused_at, paused_reason FROM sequences WHERE paused_at IS NOT NULL ORDER BY name",
            )
            .map_err(db_err)?;
        let rows: Vec<(String, i64, Option<String>)> = stmt
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .map_err(db_err)?
            .collect::<Result<_, _>>()
            .map_err(db_err)?;
        rows.into_iter()
            .map(|(name, at, reason)| {
                Ok(Paused {
                    name,
                    at: crate::rows::from_micros(at)?,
                    reason: reason.unwrap_or_default(),
                })
            })
            .collect()
    }

    async fn resume_mailbox(
        &self,
        ctx: &CommandContext,
        address: &str,
        reason: &str,
    ) -> StoreResult<()> {
        self.resume(ctx, Scope::Mailbox, address, reason)
    }

    async fn resume_sequence(
        &self,
        ctx: &CommandContext,
        name: &str,
        reason: &str,
    ) -> StoreResult<()> {
        self.resume(ctx, Scope::Sequence, name, reason)
    }

    async fn thread_parent(&self, enrollment: EnrollmentId) -> StoreResult<Option<Message>> {
        let conn = self.reader();
        conn.prepare_cached(&format!(
            "SELECT {MESSAGE_COLUMNS} FROM messages m JOIN drafts d ON d.id = m.draft_id
              WHERE d.enrollment_id = ?1 AND m.state IN ('sent', 'in_doubt')
              ORDER BY COALESCE(m.sent_at, m.claimed_at) DESC, m.id DESC LIMIT 1"
        ))
        .map_err(db_err)?
        .query_row([enrollment.to_string()], |row| Ok(read_message(row)))
        .optional()
        .map_err(db_err)?
        .transpose()
    }
}
