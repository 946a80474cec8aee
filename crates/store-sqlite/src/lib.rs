//! The embedded SQLite backend.
//!
//! Built on rusqlite rather than an async driver: SQLite work is a few tens
//! of microseconds in-process, and a thread hop per statement would cost more
//! than the statement (the ledger benchmark shows the difference). Writes go
//! through one connection behind a mutex (SQLite allows one writer anyway);
//! reads use their own connections, which WAL lets run beside the writer.
//! Cross-process writers wait on the busy timeout.

mod drafts;
mod import;
mod jobs;
mod links;
mod migrate;
mod prospects;
mod research;
mod review;
mod rows;
mod scheduling;
mod sending;
mod unsubscribe;
mod workflow;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use async_trait::async_trait;
use rusqlite::{Connection, OpenFlags, OptionalExtension, TransactionBehavior, params};

use handoff_domain::users::Username;
use handoff_domain::{AccountId, ContactId, EmailAddress, Event, UserId};
use handoff_store::{
    Account, CommandContext, Contact, Contacts, Ledger, LedgerEntry, LedgerFilter, NewAccount,
    NewContact, NewUser, SequenceDef, Sequences, Store, StoreError, StoreResult, Suppressions,
    User, Users,
};

use rows::{db_err, micros, read_ledger_entry};

const READERS: usize = 4;

/// The first migration's SQL, for benchmarks that need the same schema
/// outside the store.
pub const INITIAL_SCHEMA: &str = include_str!("../migrations/0001_initial.sql");
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Debug)]
pub struct SqliteStore {
    path: PathBuf,
    writer: Mutex<Connection>,
    readers: Vec<Mutex<Connection>>,
    next_reader: AtomicUsize,
}

/// How durable a commit is. `Normal` (the default) survives a crash of the
/// process; only a power cut can lose the last commits. `Full` also survives
/// that, at about a tenth of the write rate.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Durability {
    #[default]
    Normal,
    Full,
}

impl SqliteStore {
    /// Parses `sqlite://PATH`, `sqlite:PATH` or `sqlite:///ABS/PATH`; a
    /// relative path is taken relative to `base_dir` (the playbook's folder).
    pub fn path_from_url(url: &str, base_dir: &Path) -> StoreResult<PathBuf> {
        let rest = url
            .strip_prefix("sqlite://")
            .or_else(|| url.strip_prefix("sqlite:"))
            .ok_or_else(|| StoreError::UnsupportedUrl {
                url: url.to_string(),
            })?;
        let rest = rest.split('?').next().unwrap_or_default();
        if rest.is_empty() || rest == ":memory:" {
            return Err(StoreError::SqliteOpen {
                path: rest.to_string(),
                reason: "handoff keeps its data in a file: give a path like sqlite://handoff.db"
                    .into(),
            });
        }
        let path = Path::new(rest);
        Ok(if path.is_absolute() {
            path.to_path_buf()
        } else {
            base_dir.join(path)
        })
    }

    /// Opens (creating if missing) the database file. Does not migrate.
    pub fn open(path: &Path, durability: Durability) -> StoreResult<Self> {
        let open_err = |e: rusqlite::Error| StoreError::SqliteOpen {
            path: path.display().to_string(),
            reason: describe_open_error(&e),
        };
        if let Some(parent) = path
            .parent()
            .filter(|p| !p.as_os_str().is_empty() && !p.is_dir())
        {
            return Err(StoreError::SqliteOpen {
                path: path.display().to_string(),
                reason: format!("the folder {} does not exist", parent.display()),
            });
        }
        let writer = Connection::open(path).map_err(open_err)?;
        configure(&writer, durability, true).map_err(open_err)?;
        let mut readers = Vec::with_capacity(READERS);
        for _ in 0..READERS {
            let reader = Connection::open_with_flags(
                path,
                OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
            )
            .map_err(open_err)?;
            configure(&reader, durability, false).map_err(open_err)?;
            readers.push(Mutex::new(reader));
        }
        Ok(Self {
            path: path.to_path_buf(),
            writer: Mutex::new(writer),
            readers,
            next_reader: AtomicUsize::new(0),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn writer(&self) -> MutexGuard<'_, Connection> {
        // A panic while holding the lock cannot leave a transaction open
        // (rusqlite rolls back on drop), so a poisoned lock is still usable.
        self.writer.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn reader(&self) -> MutexGuard<'_, Connection> {
        let start = self.next_reader.fetch_add(1, Ordering::Relaxed);
        for i in 0..self.readers.len() {
            if let Ok(guard) = self.readers[(start + i) % self.readers.len()].try_lock() {
                return guard;
            }
        }
        self.readers[start % self.readers.len()]
            .lock()
            .unwrap_or_else(|e| e.into_inner())
    }

    /// Runs `f` in an IMMEDIATE transaction on the writer: the write lock is
    /// taken up front, so two processes never deadlock upgrading a read.
    fn write<T>(
        &self,
        f: impl FnOnce(&rusqlite::Transaction<'_>) -> StoreResult<T>,
    ) -> StoreResult<T> {
        let mut conn = self.writer();
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(db_err)?;
        let value = f(&tx)?;
        tx.commit().map_err(db_err)?;
        Ok(value)
    }
}

fn configure(conn: &Connection, durability: Durability, writer: bool) -> rusqlite::Result<()> {
    conn.busy_timeout(BUSY_TIMEOUT)?;
    if writer {
        // Persistent in the file; only the first connection needs to ask.
        conn.pragma_update(None, "journal_mode", "WAL")?;
        // Bulk writes (imports) hit the unique email and domain indexes at
        // random: a page cache (negative = KiB) that holds them at a million
        // contacts (about 200 MiB with the id and account indexes) saves a
        // read per insert. SQLite fills it only as pages are touched.
        conn.pragma_update(None, "cache_size", -262_144)?;
        // Checkpoint every 64 MiB of WAL instead of every 4 MiB: bulk writes
        // touch the same index pages again and again, and each checkpoint
        // copies every page written since the last one into the database.
        conn.pragma_update(None, "wal_autocheckpoint", 16_384)?;
    } else {
        conn.pragma_update(None, "query_only", "ON")?;
        // Paging through every contact (verify, score) reads each page
        // once; 16 MiB keeps the accounts and indexes it revisits.
        conn.pragma_update(None, "cache_size", -16_384)?;
    }
    let sync = match durability {
        Durability::Normal => "NORMAL",
        Durability::Full => "FULL",
    };
    conn.pragma_update(None, "synchronous", sync)?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    conn.set_prepared_statement_cache_capacity(64);
    Ok(())
}

fn describe_open_error(e: &rusqlite::Error) -> String {
    match e.sqlite_error_code() {
        Some(rusqlite::ErrorCode::NotADatabase) => {
            "the file exists but is not a SQLite database (wrong path?)".into()
        }
        Some(rusqlite::ErrorCode::CannotOpen) => {
            "it cannot be opened: check the path and its permissions".into()
        }
        Some(rusqlite::ErrorCode::ReadOnly) => "the file is read-only".into(),
        _ => e.to_string(),
    }
}

/// Appends one ledger entry on `conn`, inside whatever transaction the
/// caller holds.
pub(crate) fn insert_entry(
    conn: &Connection,
    ctx: &CommandContext,
    event: &Event,
) -> StoreResult<i64> {
    let payload = serde_json::to_string(event)
        .map_err(|e| StoreError::Database(format!("cannot encode {}: {e}", event.kind())))?;
    let s = event.subjects();
    let mut stmt = conn
        .prepare_cached(
            "INSERT INTO ledger (at, actor_kind, actor_name, kind, contact_id, account_id, user_id, job_id, policy_version, payload)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
        )
        .map_err(db_err)?;
    stmt.execute(params![
        micros(ctx.now),
        ctx.actor.kind(),
        ctx.actor.name(),
        event.kind(),
        s.contact_id.map(|id| id.to_string()),
        s.account_id.map(|id| id.to_string()),
        s.user_id.map(|id| id.to_string()),
        s.job_id.map(|id| id.get()),
        ctx.policy_version.as_ref().map(|v| v.to_string()),
        payload,
    ])
    .map_err(db_err)?;
    Ok(conn.last_insert_rowid())
}

#[async_trait]
impl Ledger for SqliteStore {
    async fn append(&self, ctx: &CommandContext, event: &Event) -> StoreResult<LedgerEntry> {
        // One INSERT is its own transaction: no BEGIN/COMMIT round trips.
        let id = insert_entry(&self.writer(), ctx, event)?;
        Ok(LedgerEntry {
            id: handoff_domain::LedgerEntryId::new(id),
            at: ctx.now,
            actor: ctx.actor.clone(),
            kind: event.kind().to_string(),
            contact_id: event.subjects().contact_id,
            account_id: event.subjects().account_id,
            user_id: event.subjects().user_id,
            job_id: event.subjects().job_id,
            policy_version: ctx.policy_version.as_ref().map(|v| v.to_string()),
            event: event.clone(),
        })
    }

    async fn append_batch(&self, ctx: &CommandContext, events: &[Event]) -> StoreResult<u64> {
        self.write(|tx| {
            for event in events {
                insert_entry(tx, ctx, event)?;
            }
            Ok(events.len() as u64)
        })
    }

    async fn tail(&self, filter: &LedgerFilter) -> StoreResult<Vec<LedgerEntry>> {
        let conn = self.reader();
        let mut stmt = conn
            .prepare_cached(
                "SELECT id, at, actor_kind, actor_name, kind, contact_id, account_id, user_id, job_id, policy_version, payload
                 FROM ledger
                 WHERE (?1 IS NULL OR contact_id = ?1) AND (?2 IS NULL OR kind = ?2) AND (?3 IS NULL OR id > ?3)
                 ORDER BY id DESC LIMIT ?4",
            )
            .map_err(db_err)?;
        let mut rows = stmt
            .query(params![
                filter.contact_id.map(|id| id.to_string()),
                filter.kind,
                filter.after.map(|id| id.get()),
                filter.limit,
            ])
            .map_err(db_err)?;
        let mut entries = Vec::new();
        while let Some(row) = rows.next().map_err(db_err)? {
            entries.push(read_ledger_entry(row)?);
        }
        entries.reverse();
        Ok(entries)
    }

    async fn count_by_kind(&self) -> StoreResult<Vec<(String, u64)>> {
        let conn = self.reader();
        let mut stmt = conn
            .prepare_cached("SELECT kind, COUNT(*) FROM ledger GROUP BY kind ORDER BY kind")
            .map_err(db_err)?;
        let rows = stmt
            .query_map([], |r| {
                Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)? as u64))
            })
            .map_err(db_err)?;
        rows.collect::<Result<_, _>>().map_err(db_err)
    }
}

#[async_trait]
impl Users for SqliteStore {
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
        self.write(|tx| {
            if let Some(manager) = &user.manager {
                let exists: Option<i64> = tx
                    .query_row("SELECT 1 FROM users WHERE username = ?1", [manager.as_str()], |r| r.get(0))
                    .optional()
                    .map_err(db_err)?;
                if exists.is_none() {
                    return Err(StoreError::NotFound {
                        what: format!("manager `{manager}`"),
                    });
                }
            }
            tx.execute(
                "INSERT INTO users (id, username, display_name, email, role, manager, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                params![
                    created.id.to_string(),
                    created.username.as_str(),
                    created.display_name,
                    created.email.as_ref().map(|e| e.as_str()),
                    created.role.as_str(),
                    created.manager.as_ref().map(|m| m.as_str()),
                    micros(created.created_at),
                ],
            )
            .map_err(|e| conflict_or(e, || format!("a user named `{}`", user.username)))?;
            insert_entry(
                tx,
                ctx,
                &Event::UserAdded {
                    user_id: created.id,
                    username: created.username.to_string(),
                    role: created.role,
                },
            )?;
            Ok(())
        })?;
        Ok(created)
    }

    async fn list_users(&self) -> StoreResult<Vec<User>> {
        let conn = self.reader();
        let mut stmt = conn
            .prepare_cached(&format!(
                "SELECT {} FROM users ORDER BY username",
                rows::USER_COLUMNS
            ))
            .map_err(db_err)?;
        let mut rows = stmt.query([]).map_err(db_err)?;
        let mut users = Vec::new();
        while let Some(row) = rows.next().map_err(db_err)? {
            users.push(rows::read_user(row)?);
        }
        Ok(users)
    }

    async fn find_user(&self, username: &Username) -> StoreResult<Option<User>> {
        let conn = self.reader();
        let mut stmt = conn
            .prepare_cached(&format!(
                "SELECT {} FROM users WHERE username = ?1",
                rows::USER_COLUMNS
            ))
            .map_err(db_err)?;
        let mut rows = stmt.query([username.as_str()]).map_err(db_err)?;
        match rows.next().map_err(db_err)? {
            Some(row) => Ok(Some(rows::read_user(row)?)),
            None => Ok(None),
        }
    }
}

#[async_trait]
impl Contacts for SqliteStore {
    async fn ensure_account(
        &self,
        ctx: &CommandContext,
        account: &NewAccount,
    ) -> StoreResult<Account> {
        let domain = account.domain.trim().to_lowercase();
        self.write(|tx| {
            let existing = tx
                .query_row(
                    "SELECT id, domain, name, created_at FROM accounts WHERE domain = ?1",
                    [&domain],
                    |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?, r.get::<_, String>(2)?, r.get::<_, i64>(3)?)),
                )
                .optional()
                .map_err(db_err)?;
            if let Some((id, domain, name, created_at)) = existing {
                return Ok(Account {
                    id: rows::parse_id(&id, "account id")?,
                    domain,
                    name,
                    created_at: rows::from_micros(created_at)?,
                });
            }
            let created = Account {
                id: AccountId::new(),
                domain: domain.clone(),
                name: account.name.trim().to_string(),
                created_at: ctx.now,
            };
            tx.execute(
                "INSERT INTO accounts (id, domain, name, created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?4)",
                params![created.id.to_string(), created.domain, created.name, micros(ctx.now)],
            )
            .map_err(db_err)?;
            insert_entry(
                tx,
                ctx,
                &Event::AccountCreated {
                    account_id: created.id,
                    domain: created.domain.clone(),
                    name: created.name.clone(),
                },
            )?;
            Ok(created)
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
        self.write(|tx| {
            tx.execute(
                "INSERT INTO contacts (id, email, first_name, last_name, title, account_id, owner, created_at, updated_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?8)",
                params![
                    created.id.to_string(),
                    created.email.as_str(),
                    created.first_name,
                    created.last_name,
                    created.title,
                    created.account_id.map(|id| id.to_string()),
                    created.owner.as_ref().map(|o| o.as_str()),
                    micros(ctx.now),
                ],
            )
            .map_err(|e| match e.sqlite_error_code() {
                Some(rusqlite::ErrorCode::ConstraintViolation) if e.to_string().contains("FOREIGN KEY") => {
                    StoreError::NotFound {
                        what: "the contact's account or owner".into(),
                    }
                }
                _ => conflict_or(e, || format!("a contact with the address {}", contact.email)),
            })?;
            insert_entry(
                tx,
                ctx,
                &Event::ContactCreated {
                    contact_id: created.id,
                    account_id: created.account_id,
                    email: created.email.to_string(),
                },
            )?;
            Ok(())
        })?;
        Ok(created)
    }

    async fn record_verification(
        &self,
        ctx: &CommandContext,
        contact: ContactId,
        verdict: handoff_domain::verification::Verdict,
    ) -> StoreResult<()> {
        self.record_verifications_sync(ctx, &[(contact, verdict)])
    }

    async fn record_verifications(
        &self,
        ctx: &CommandContext,
        verdicts: &[(ContactId, handoff_domain::verification::Verdict)],
    ) -> StoreResult<()> {
        self.record_verifications_sync(ctx, verdicts)
    }

    async fn get_contact(&self, id: ContactId) -> StoreResult<Option<Contact>> {
        self.contact_where("id = ?1", &id.to_string())
    }

    async fn find_contact_by_email(&self, email: &EmailAddress) -> StoreResult<Option<Contact>> {
        self.contact_where("email = ?1", email.as_str())
    }

    async fn list_contacts(
        &self,
        after: Option<ContactId>,
        limit: u32,
    ) -> StoreResult<Vec<Contact>> {
        let conn = self.reader();
        let mut stmt = conn
            .prepare_cached(&format!(
                // A plain range (not `?1 IS NULL OR …`) lets SQLite seek the
                // index instead of scanning from the start on every page.
                "SELECT {} FROM contacts WHERE id > coalesce(?1, '') ORDER BY id LIMIT ?2",
                rows::CONTACT_COLUMNS
            ))
            .map_err(db_err)?;
        let mut rows = stmt
            .query(params![after.map(|a| a.to_string()), limit])
            .map_err(db_err)?;
        let mut contacts = Vec::new();
        while let Some(row) = rows.next().map_err(db_err)? {
            contacts.push(rows::read_contact(row)?);
        }
        Ok(contacts)
    }
}

impl SqliteStore {
    pub(crate) fn record_verifications_sync(
        &self,
        ctx: &CommandContext,
        verdicts: &[(ContactId, handoff_domain::verification::Verdict)],
    ) -> StoreResult<()> {
        self.write(|tx| {
            let mut update = tx
                .prepare_cached(
                    "UPDATE contacts SET verification_status = ?1, verification_reason = ?2, verified_at = ?3, updated_at = ?3
                     WHERE id = ?4",
                )
                .map_err(db_err)?;
            for (contact, verdict) in verdicts {
                let changed = update
                    .execute(params![verdict.status(), verdict.reason(), micros(ctx.now), contact.to_string()])
                    .map_err(db_err)?;
                if changed == 0 {
                    return Err(StoreError::NotFound {
                        what: format!("contact {contact}"),
                    });
                }
                insert_entry(
                    tx,
                    ctx,
                    &Event::AddressVerified {
                        contact_id: *contact,
                        verdict: *verdict,
                    },
                )?;
            }
            Ok(())
        })
    }

    fn contact_where(&self, condition: &str, value: &str) -> StoreResult<Option<Contact>> {
        let conn = self.reader();
        let mut stmt = conn
            .prepare_cached(&format!(
                "SELECT {} FROM contacts WHERE {condition}",
                rows::CONTACT_COLUMNS
            ))
            .map_err(db_err)?;
        let mut rows = stmt.query([value]).map_err(db_err)?;
        match rows.next().map_err(db_err)? {
            Some(row) => Ok(Some(rows::read_contact(row)?)),
            None => Ok(None),
        }
    }
}

#[async_trait]
impl Sequences for SqliteStore {
    async fn sync_sequences(&self, ctx: &CommandContext, defs: &[SequenceDef]) -> StoreResult<u64> {
        self.write(|tx| {
            let mut changed = 0;
            for def in defs {
                let definition = def.steps.to_string();
                let stored: Option<(String, String)> = tx
                    .query_row(
                        "SELECT sequence_type, definition FROM sequences WHERE name = ?1",
                        [&def.name],
                        |r| Ok((r.get(0)?, r.get(1)?)),
                    )
                    .optional()
                    .map_err(db_err)?;
                if stored.as_ref() == Some(&(def.sequence_type.clone(), definition.clone())) {
                    continue;
                }
                tx.execute(
                    "INSERT INTO sequences (name, sequence_type, definition, step_count, updated_at) VALUES (?1, ?2, ?3, ?4, ?5)
                     ON CONFLICT (name) DO UPDATE SET sequence_type = excluded.sequence_type, definition = excluded.definition,
                         step_count = excluded.step_count, updated_at = excluded.updated_at",
                    params![def.name, def.sequence_type, definition, def.step_count as i64, micros(ctx.now)],
                )
                .map_err(db_err)?;
                insert_entry(
                    tx,
                    ctx,
                    &Event::SequenceDefined {
                        name: def.name.clone(),
                        sequence_type: def.sequence_type.clone(),
                        steps: def.step_count,
                    },
                )?;
                changed += 1;
            }
            Ok(changed)
        })
    }

    async fn list_sequences(&self) -> StoreResult<Vec<SequenceDef>> {
        let conn = self.reader();
        let mut stmt = conn
            .prepare_cached(
                "SELECT name, sequence_type, definition, step_count FROM sequences ORDER BY name",
            )
            .map_err(db_err)?;
        let mut rows = stmt.query([]).map_err(db_err)?;
        let mut defs = Vec::new();
        while let Some(row) = rows.next().map_err(db_err)? {
            let definition: String = row.get(2).map_err(db_err)?;
            defs.push(SequenceDef {
                name: row.get(0).map_err(db_err)?,
                sequence_type: row.get(1).map_err(db_err)?,
                steps: serde_json::from_str(&definition)
                    .map_err(|_| StoreError::corrupt("sequence definition"))?,
                step_count: row.get::<_, i64>(3).map_err(db_err)? as usize,
            });
        }
        Ok(defs)
    }
}

#[async_trait]
impl Suppressions for SqliteStore {
    async fn suppress(
        &self,
        ctx: &CommandContext,
        email: &EmailAddress,
        reason: &str,
    ) -> StoreResult<bool> {
        self.write(|tx| suppress_in(tx, ctx, email, reason))
    }

    async fn is_suppressed(&self, email: &EmailAddress) -> StoreResult<bool> {
        let conn = self.reader();
        let found: Option<i64> = conn
            .query_row(
                "SELECT 1 FROM suppressions WHERE email_hash = ?1",
                [email.suppression_hash()],
                |r| r.get(0),
            )
            .optional()
            .map_err(db_err)?;
        Ok(found.is_some())
    }
}

/// Adds the address to the suppression list inside the caller's
/// transaction; false if it was there already (nothing appended).
pub(crate) fn suppress_in(
    tx: &rusqlite::Transaction<'_>,
    ctx: &CommandContext,
    email: &EmailAddress,
    reason: &str,
) -> StoreResult<bool> {
    let hash = email.suppression_hash();
    let inserted = tx
        .execute(
            "INSERT INTO suppressions (email_hash, reason, created_at) VALUES (?1, ?2, ?3) ON CONFLICT DO NOTHING",
            params![hash, reason, micros(ctx.now)],
        )
        .map_err(db_err)?;
    if inserted == 0 {
        return Ok(false);
    }
    let contact_id: Option<String> = tx
        .query_row(
            "SELECT id FROM contacts WHERE email = ?1",
            [email.as_str()],
            |r| r.get(0),
        )
        .optional()
        .map_err(db_err)?;
    let contact_id = contact_id
        .map(|id| rows::parse_id(&id, "contact id"))
        .transpose()?;
    insert_entry(
        tx,
        ctx,
        &Event::Suppressed {
            email_hash: hash.clone(),
            reason: reason.to_string(),
            contact_id,
        },
    )?;
    Ok(true)
}

impl Store for SqliteStore {
    fn backend(&self) -> &'static str {
        "sqlite"
    }
}

/// A UNIQUE violation becomes a Conflict naming `what`; anything else stays
/// a database error.
fn conflict_or(e: rusqlite::Error, what: impl FnOnce() -> String) -> StoreError {
    match e.sqlite_error_code() {
        Some(rusqlite::ErrorCode::ConstraintViolation) if e.to_string().contains("UNIQUE") => {
            StoreError::Conflict { what: what() }
        }
        _ => db_err(e),
    }
}
