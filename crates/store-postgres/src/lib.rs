//! The PostgreSQL backend: the scale-out path. Several `handoff` processes
//! share one database; claims use `FOR UPDATE SKIP LOCKED`, so no job is
//! leased twice and no worker waits on another's lock.

mod drafts;
mod import;
mod jobs;
mod links;
mod prospects;
mod research;
mod review;
mod rows;
mod scheduling;
mod sending;
mod unsubscribe;
mod workflow;

use std::time::Duration;

use async_trait::async_trait;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{Connection, PgConnection, PgPool, Postgres, Row, Transaction};

use handoff_domain::users::Username;
use handoff_domain::{AccountId, Actor, ContactId, EmailAddress, Event, LedgerEntryId, UserId};
use handoff_store::{
    Account, CommandContext, Contact, Contacts, Ledger, LedgerEntry, LedgerFilter, MigrationReport,
    NewAccount, NewContact, NewUser, Schema, SchemaStatus, SequenceDef, Sequences, Store,
    StoreError, StoreResult, Suppressions, User, Users,
};

use rows::{db_err, read_contact, read_ledger_entry, read_user};

/// (version, name, SQL). Append only: never edit a released migration.
const MIGRATIONS: &[(i64, &str, &str)] = &[
    (1, "initial", include_str!("../migrations/0001_initial.sql")),
    (
        2,
        "drafting",
        include_str!("../migrations/0002_drafting.sql"),
    ),
    (3, "sending", include_str!("../migrations/0003_sending.sql")),
    (
        4,
        "scheduling",
        include_str!("../migrations/0004_scheduling.sql"),
    ),
    (
        5,
        "review_inbox",
        include_str!("../migrations/0005_review_inbox.sql"),
    ),
    (6, "links", include_str!("../migrations/0006_links.sql")),
];
/// Serialises migrations across processes (an arbitrary constant: "handoff").
const MIGRATION_LOCK: i64 = 0x68616e646f6666;

#[derive(Debug, Clone)]
pub struct PostgresStore {
    pool: PgPool,
    target: String,
}

impl PostgresStore {
    /// Connects to `url` (postgres:// or postgresql://). Does not migrate.
    pub async fn connect(url: &str) -> StoreResult<Self> {
        let options: PgConnectOptions = url.parse().map_err(|e: sqlx::Error| StoreError::Unreachable {
            target: redact_url(url),
            reason: format!("the URL cannot be read ({e}); it looks like postgres://USER:PASSWORD@HOST:PORT/DATABASE"),
        })?;
        let target = format!(
            "{}:{}/{}",
            options.get_host(),
            options.get_port(),
            options.get_database().unwrap_or("(default database)")
        );
        // One direct attempt first: a pool would retry until its timeout
        // and report only "timed out", hiding why (refused, no such
        // database, wrong password).
        let probe = tokio::time::timeout(
            Duration::from_secs(10),
            PgConnection::connect_with(&options),
        )
        .await
        .map_err(|_| StoreError::Unreachable {
            target: target.clone(),
            reason: "no answer within 10 seconds".into(),
        })?
        .map_err(|e| StoreError::Unreachable {
            target: target.clone(),
            reason: rows::describe_connect_error(&e),
        })?;
        let _ = probe.close().await;
        let pool = PgPoolOptions::new()
            .max_connections(8)
            .acquire_timeout(Duration::from_secs(10))
            .connect_lazy_with(options);
        Ok(Self { pool, target })
    }

    /// `host:port/database`, never the password.
    pub fn target(&self) -> &str {
        &self.target
    }

    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    async fn begin(&self) -> StoreResult<Transaction<'static, Postgres>> {
        self.pool.begin().await.map_err(db_err)
    }
}

/// The URL with any password replaced, for messages and logs.
pub fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme_end), Some(at)) if at > scheme_end => {
            let userinfo = &url[scheme_end + 3..at];
            match userinfo.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..scheme_end + 3], &url[at..]),
                None => url.to_string(),
            }
        }
        _ => url.to_string(),
    }
}

/// Appends one ledger entry inside the caller's transaction.
pub(crate) async fn insert_entry(
    tx: &mut Transaction<'_, Postgres>,
    ctx: &CommandContext,
    event: &Event,
) -> StoreResult<i64> {
    insert_entry_on(&mut **tx, ctx, event).await
}

async fn insert_entry_on<'e, E>(
    executor: E,
    ctx: &CommandContext,
    event: &Event,
) -> StoreResult<i64>
where
    E: sqlx::PgExecutor<'e>,
{
    let payload = serde_json::to_value(event)
        .map_err(|e| StoreError::Database(format!("cannot encode {}: {e}", event.kind())))?;
    let s = event.subjects();
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO ledger (at, actor_kind, actor_name, kind, contact_id, account_id, user_id, job_id, policy_version, payload)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING id",
    )
    .bind(ctx.now)
    .bind(ctx.actor.kind())
    .bind(ctx.actor.name())
    .bind(event.kind())
    .bind(s.contact_id.map(|id| id.as_uuid()))
    .bind(s.account_id.map(|id| id.as_uuid()))
    .bind(s.user_id.map(|id| id.as_uuid()))
    .bind(s.job_id.map(|id| id.get()))
    .bind(ctx.policy_version.as_ref().map(|v| v.to_string()))
    .bind(payload)
    .fetch_one(executor)
    .await
    .map_err(db_err)?;
    Ok(id)
}

async fn database_version(executor: impl sqlx::PgExecutor<'_>) -> StoreResult<i64> {
    let version: Option<i64> = sqlx::query_scalar(
        "SELECT CASE WHEN to_regclass('schema_migrations') IS NULL THEN 0
                     ELSE (SELECT COALESCE(MAX(version), 0) FROM schema_migrations) END",
    )
    .fetch_one(executor)
    .await
    .map_err(db_err)?;
    Ok(version.unwrap_or(0))
}

fn binary_version() -> i64 {
    MIGRATIONS.last().map(|m| m.0).unwrap_or(0)
}

#[async_trait]
impl Schema for PostgresStore {
    async fn migrate(&self) -> StoreResult<MigrationReport> {
        // PostgreSQL runs DDL in transactions: a failed migration leaves
        // the previous version intact.
        let mut tx = self.begin().await?;
        sqlx::query("SELECT pg_advisory_xact_lock($1)")
            .bind(MIGRATION_LOCK)
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
        sqlx::query(
            "CREATE TABLE IF NOT EXISTS schema_migrations (
                 version    BIGINT PRIMARY KEY,
                 name       TEXT NOT NULL,
                 applied_at TIMESTAMPTZ NOT NULL
             )",
        )
        .execute(&mut *tx)
        .await
        .map_err(db_err)?;
        let from = database_version(&mut *tx).await?;
        let binary = binary_version();
        if from > binary {
            return Err(StoreError::SchemaTooNew {
                database: from,
                binary,
            });
        }
        let ctx = CommandContext::new(Actor::system("migrate"), None);
        let mut applied = Vec::new();
        for (version, name, sql) in MIGRATIONS.iter().filter(|m| m.0 > from) {
            sqlx::raw_sql(*sql)
                .execute(&mut *tx)
                .await
                .map_err(|e| StoreError::Migration(format!("migration {version} ({name}): {e}")))?;
            sqlx::query(
                "INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)",
            )
            .bind(version)
            .bind(name)
            .bind(ctx.now)
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
            applied.push(format!("{version:04}_{name}"));
        }
        if !applied.is_empty() {
            insert_entry(
                &mut tx,
                &ctx,
                &Event::SchemaMigrated {
                    from_version: from,
                    to_version: binary,
                },
            )
            .await?;
        }
        tx.commit().await.map_err(db_err)?;
        Ok(MigrationReport {
            from_version: from,
            to_version: binary,
            applied,
        })
    }

    async fn schema_status(&self) -> StoreResult<SchemaStatus> {
        Ok(SchemaStatus {
            database_version: database_version(&self.pool).await?,
            binary_version: binary_version(),
        })
    }
}

#[async_trait]
impl Ledger for PostgresStore {
    async fn append(&self, ctx: &CommandContext, event: &Event) -> StoreResult<LedgerEntry> {
        let id = insert_entry_on(&self.pool, ctx, event).await?;
        let s = event.subjects();
        Ok(LedgerEntry {
            id: LedgerEntryId::new(id),
            at: ctx.now,
            actor: ctx.actor.clone(),
            kind: event.kind().to_string(),
            contact_id: s.contact_id,
            account_id: s.account_id,
            user_id: s.user_id,
            job_id: s.job_id,
            policy_version: ctx.policy_version.as_ref().map(|v| v.to_string()),
            event: event.clone(),
        })
    }

    async fn append_batch(&self, ctx: &CommandContext, events: &[Event]) -> StoreResult<u64> {
        let mut tx = self.begin().await?;
        for event in events {
            insert_entry(&mut tx, ctx, event).await?;
        }
        tx.commit().await.map_err(db_err)?;
        Ok(events.len() as u64)
    }

    async fn tail(&self, filter: &LedgerFilter) -> StoreResult<Vec<LedgerEntry>> {
        let rows = sqlx::query(
            "SELECT id, at, actor_kind, actor_name, kind, contact_id, account_id, user_id, job_id, policy_version, payload
             FROM ledger
             WHERE ($1::uuid IS NULL OR contact_id = $1) AND ($2::text IS NULL OR kind = $2) AND ($3::bigint IS NULL OR id > $3)
             ORDER BY id DESC LIMIT $4",
        )
        .bind(filter.contact_id.map(|id| id.as_uuid()))
        .bind(filter.kind.as_deref())
        .bind(filter.after.map(|id| id.get()))
        .bind(i64::from(filter.limit))
        .fetch_all(&self.pool)
        .await
        .map_err(db_err)?;
        let mut entries = rows
            .iter()
            .map(read_ledger_entry)
            .collect::<StoreResult<Vec<_>>>()?;
        entries.reverse();
        Ok(entries)
    }

    async fn count_by_kind(&self) -> StoreResult<Vec<(String, u64)>> {
        let rows: Vec<(String, i64)> =
            sqlx::query_as("SELECT kind, COUNT(*) FROM ledger GROUP BY kind ORDER BY kind")
                .fetch_all(&self.pool)
                .await
                .map_err(db_err)?;
        Ok(rows.into_iter().map(|(k, n)| (k, n as u64)).collect())
    }
}

#[async_trait]
impl Users for PostgresStore {
    async fn add_user(&self, ctx: &CommandContext, user: &NewUser) -> StoreResult<User> {
        let created = User {
            id: UserId::new(),
            username: user.username.clone(),
            display_name: user.display_name.clone(),
            email: user.email.clone(),
            role: user.role,
            manager: user.manager.clone(),
            created_at: ctx.now,
        };
        let mut tx = self.begin().await?;
        if let Some(manager) = &user.manager {
            let exists: Option<i32> = sqlx::query_scalar("SELECT 1 FROM users WHERE username = $1")
                .bind(manager.as_str())
                .fetch_optional(&mut *tx)
                .await
                .map_err(db_err)?;
            if exists.is_none() {
                return Err(StoreError::NotFound {
                    what: format!("manager `{manager}`"),
                });
            }
        }
        sqlx::query(
            "INSERT INTO users (id, username, display_name, email, role, manager, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(created.id.as_uuid())
        .bind(created.username.as_str())
        .bind(&created.display_name)
        .bind(created.email.as_ref().map(|e| e.as_str()))
        .bind(created.role.as_str())
        .bind(created.manager.as_ref().map(|m| m.as_str()))
        .bind(created.created_at)
        .execute(&mut *tx)
        .await
        .map_err(|e| rows::conflict_or(e, || format!("a user named `{}`", user.username)))?;
        insert_entry(
            &mut tx,
            ctx,
            &Event::UserAdded {
                user_id: created.id,
                username: created.username.to_string(),
                role: created.role,
            },
        )
        .await?;
        tx.commit().await.map_err(db_err)?;
        Ok(created)
    }

    async fn list_users(&self) -> StoreResult<Vec<User>> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {} FROM users ORDER BY username",
            rows::USER_COLUMNS
        )))
        .fetch_all(&self.pool)
        .await
        .map_err(db_err)?;
        rows.iter().map(read_user).collect()
    }

    async fn find_user(&self, username: &Username) -> StoreResult<Option<User>> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {} FROM users WHERE username = $1",
            rows::USER_COLUMNS
        )))
        .bind(username.as_str())
        .fetch_optional(&self.pool)
        .await
        .map_err(db_err)?;
        row.as_ref().map(read_user).transpose()
    }
}

#[async_trait]
impl Contacts for PostgresStore {
    async fn ensure_account(
        &self,
        ctx: &CommandContext,
        account: &NewAccount,
    ) -> StoreResult<Account> {
        let domain = account.domain.trim().to_lowercase();
        let mut tx = self.begin().await?;
        let candidate = AccountId::new();
        // Insert-or-find in one statement, so two importers racing on the
        // same domain end with one account and one ledger entry.
        let inserted = sqlx::query(
            "INSERT INTO accounts (id, domain, name, created_at, updated_at) VALUES ($1, $2, $3, $4, $4)
             ON CONFLICT (domain) DO NOTHING RETURNING id",
        )
        .bind(candidate.as_uuid())
        .bind(&domain)
        .bind(account.name.trim())
        .bind(ctx.now)
        .fetch_optional(&mut *tx)
        .await
        .map_err(db_err)?;
        if inserted.is_some() {
            insert_entry(
                &mut tx,
                ctx,
                &Event::AccountCreated {
                    account_id: candidate,
                    domain: domain.clone(),
                    name: account.name.trim().to_string(),
                },
            )
            .await?;
        }
        let row =
            sqlx::query("SELECT id, domain, name, created_at FROM accounts WHERE domain = $1")
                .bind(&domain)
                .fetch_one(&mut *tx)
                .await
                .map_err(db_err)?;
        tx.commit().await.map_err(db_err)?;
        Ok(Account {
            id: AccountId::from_uuid(row.try_get("id").map_err(db_err)?),
            domain: row.try_get("domain").map_err(db_err)?,
            name: row.try_get("name").map_err(db_err)?,
            created_at: row.try_get("created_at").map_err(db_err)?,
        })
    }

    async fn add_contact(
        &self,
        ctx: &CommandContext,
        contact: &NewContact,
    ) -> StoreResult<Contact> {
        let created = Contact {
            id: ContactId::new(),
            email: contact.email.clone(),
            first_name: contact.first_name.clone(),
            last_name: contact.last_name.clone(),
            title: contact.title.clone(),
            seniority: None,
            department: None,
            phone: None,
            linkedin_url: None,
            city: None,
            country: None,
            company: None,
            account_id: contact.account_id,
            owner: contact.owner.clone(),
            field_sources: Default::default(),
            verification: None,
            verified_at: None,
            created_at: ctx.now,
        };
        let mut tx = self.begin().await?;
        sqlx::query(
            "INSERT INTO contacts (id, email, first_name, last_name, title, account_id, owner, created_at, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8)",
        )
        .bind(created.id.as_uuid())
        .bind(created.email.as_str())
        .bind(&created.first_name)
        .bind(&created.last_name)
        .bind(&created.title)
        .bind(created.account_id.map(|id| id.as_uuid()))
        .bind(created.owner.as_ref().map(|o| o.as_str()))
        .bind(created.created_at)
        .execute(&mut *tx)
        .await
        .map_err(|e| {
            if rows::is_code(&e, "23503") {
                StoreError::NotFound {
                    what: "the contact's account or owner".into(),
                }
            } else {
                rows::conflict_or(e, || format!("a contact with the address {}", contact.email))
            }
        })?;
        insert_entry(
            &mut tx,
            ctx,
            &Event::ContactCreated {
                contact_id: created.id,
                account_id: created.account_id,
                email: created.email.to_string(),
            },
        )
        .await?;
        tx.commit().await.map_err(db_err)?;
        Ok(created)
    }

    async fn record_verification(
        &self,
        ctx: &CommandContext,
        contact: ContactId,
        verdict: handoff_domain::verification::Verdict,
    ) -> StoreResult<()> {
        self.record_verifications(ctx, &[(contact, verdict)]).await
    }

    async fn record_verifications(
        &self,
        ctx: &CommandContext,
        verdicts: &[(ContactId, handoff_domain::verification::Verdict)],
    ) -> StoreResult<()> {
        let mut tx = self.begin().await?;
        for (contact, verdict) in verdicts {
            let changed = sqlx::query(
                "UPDATE contacts SET verification_status = $1, verification_reason = $2, verified_at = $3, updated_at = $3
                 WHERE id = $4",
            )
            .bind(verdict.status())
            .bind(verdict.reason())
            .bind(ctx.now)
            .bind(contact.as_uuid())
            .execute(&mut *tx)
            .await
            .map_err(db_err)?
            .rows_affected();
            if changed == 0 {
                return Err(StoreError::NotFound {
                    what: format!("contact {contact}"),
                });
            }
            insert_entry(
                &mut tx,
                ctx,
                &Event::AddressVerified {
                    contact_id: *contact,
                    verdict: *verdict,
                },
            )
            .await?;
        }
        tx.commit().await.map_err(db_err)?;
        Ok(())
    }

    async fn get_contact(&self, id: ContactId) -> StoreResult<Option<Contact>> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {} FROM contacts WHERE id = $1",
            rows::CONTACT_COLUMNS
        )))
        .bind(id.as_uuid())
        .fetch_optional(&self.pool)
        .await
        .map_err(db_err)?;
        row.as_ref().map(read_contact).transpose()
    }

    async fn find_contact_by_email(&self, email: &EmailAddress) -> StoreResult<Option<Contact>> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {} FROM contacts WHERE email = $1",
            rows::CONTACT_COLUMNS
        )))
        .bind(email.as_str())
        .fetch_optional(&self.pool)
        .await
        .map_err(db_err)?;
        row.as_ref().map(read_contact).transpose()
    }

    async fn list_contacts(
        &self,
        after: Option<ContactId>,
        limit: u32,
    ) -> StoreResult<Vec<Contact>> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {} FROM contacts WHERE id > coalesce($1::uuid, '00000000-0000-0000-0000-000000000000') ORDER BY id LIMIT $2",
            rows::CONTACT_COLUMNS
        )))
        .bind(after.map(|a| a.as_uuid()))
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await
        .map_err(db_err)?;
        rows.iter().map(read_contact).collect()
    }
}

#[async_trait]
impl Sequences for PostgresStore {
    async fn sync_sequences(&self, ctx: &CommandContext, defs: &[SequenceDef]) -> StoreResult<u64> {
        let mut tx = self.begin().await?;
        let mut changed = 0;
        for def in defs {
            let stored: Option<(String, serde_json::Value)> = sqlx::query_as(
                "SELECT sequence_type, definition FROM sequences WHERE name = $1 FOR UPDATE",
            )
            .bind(&def.name)
            .fetch_optional(&mut *tx)
            .await
            .map_err(db_err)?;
            if stored.as_ref() == Some(&(def.sequence_type.clone(), def.steps.clone())) {
                continue;
            }
            sqlx::query(
                "INSERT INTO sequences (name, sequence_type, definition, step_count, updated_at) VALUES ($1, $2, $3, $4, $5)
                 ON CONFLICT (name) DO UPDATE SET sequence_type = excluded.sequence_type, definition = excluded.definition,
                     step_count = excluded.step_count, updated_at = excluded.updated_at",
            )
            .bind(&def.name)
            .bind(&def.sequence_type)
            .bind(&def.steps)
            .bind(def.step_count as i32)
            .bind(ctx.now)
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
            insert_entry(
                &mut tx,
                ctx,
                &Event::SequenceDefined {
                    name: def.name.clone(),
                    sequence_type: def.sequence_type.clone(),
                    steps: def.step_count,
                },
            )
            .await?;
            changed += 1;
        }
        tx.commit().await.map_err(db_err)?;
        Ok(changed)
    }

    async fn list_sequences(&self) -> StoreResult<Vec<SequenceDef>> {
        let rows: Vec<(String, String, serde_json::Value, i32)> = sqlx::query_as(
            "SELECT name, sequence_type, definition, step_count FROM sequences ORDER BY name",
        )
        .fetch_all(&self.pool)
        .await
        .map_err(db_err)?;
        Ok(rows
            .into_iter()
            .map(|(name, sequence_type, steps, step_count)| SequenceDef {
                name,
                sequence_type,
                steps,
                step_count: step_count.max(0) as usize,
            })
            .collect())
    }
}

#[async_trait]
impl Suppressions for PostgresStore {
    async fn suppress(
        &self,
        ctx: &CommandContext,
        email: &EmailAddress,
        reason: &str,
    ) -> StoreResult<bool> {
        let mut tx = self.begin().await?;
        let inserted = suppress_in(&mut tx, ctx, email, reason).await?;
        tx.commit().await.map_err(db_err)?;
        Ok(inserted)
    }

    async fn is_suppressed(&self, email: &EmailAddress) -> StoreResult<bool> {
        let found: Option<i32> =
            sqlx::query_scalar("SELECT 1 FROM suppressions WHERE email_hash = $1")
                .bind(email.suppression_hash())
                .fetch_optional(&self.pool)
                .await
                .map_err(db_err)?;
        Ok(found.is_some())
    }
}

/// Adds the address to the suppression list inside the caller's
/// transaction; false if it was there already (nothing appended).
pub(crate) async fn suppress_in(
    tx: &mut Transaction<'_, Postgres>,
    ctx: &CommandContext,
    email: &EmailAddress,
    reason: &str,
) -> StoreResult<bool> {
    let hash = email.suppression_hash();
    // Serialises with claims, which hold the contact row FOR SHARE.
    let contact_id: Option<uuid::Uuid> =
        sqlx::query_scalar("SELECT id FROM contacts WHERE email = $1 FOR UPDATE")
            .bind(email.as_str())
            .fetch_optional(&mut **tx)
            .await
            .map_err(db_err)?;
    let inserted = sqlx::query(
        "INSERT INTO suppressions (email_hash, reason, created_at) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
    )
    .bind(&hash)
    .bind(reason)
    .bind(ctx.now)
    .execute(&mut **tx)
    .await
    .map_err(db_err)?
    .rows_affected();
    if inserted == 0 {
        return Ok(false);
    }
    insert_entry(
        tx,
        ctx,
        &Event::Suppressed {
            email_hash: hash,
            reason: reason.to_string(),
            contact_id: contact_id.map(ContactId::from_uuid),
        },
    )
    .await?;
    Ok(true)
}

impl Store for PostgresStore {
    fn backend(&self) -> &'static str {
        "postgres"
    }
}

#[cfg(test)]
mod tests {
    use super::redact_url;

    #[test]
    fn passwords_never_reach_messages() {
        assert_eq!(
            redact_url("postgres://app:s3cret@db.internal:5432/handoff"),
            "postgres://app:***@db.internal:5432/handoff"
        );
        assert_eq!(
            redact_url("postgres://app@db/handoff"),
            "postgres://app@db/handoff"
        );
        assert_eq!(redact_url("postgres://db/handoff"), "postgres://db/handoff");
    }
}
