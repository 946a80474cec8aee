//! Converting between rows and domain types, and driver errors into
//! sentences.

use sqlx::Row;
use sqlx::postgres::PgRow;

use handoff_domain::users::{Role, Username};
use handoff_domain::{
    AccountId, Actor, ContactId, EmailAddress, Event, JobId, LedgerEntryId, UserId,
};
use handoff_store::provenance::Provenance;
use handoff_store::{Contact, LedgerEntry, StoreError, StoreResult, User};

pub(crate) fn db_err(e: sqlx::Error) -> StoreError {
    match &e {
        sqlx::Error::PoolTimedOut | sqlx::Error::Io(_) | sqlx::Error::Tls(_) => {
            StoreError::Database(format!("the PostgreSQL server stopped answering: {e}"))
        }
        _ => StoreError::Database(e.to_string()),
    }
}

pub(crate) fn is_code(e: &sqlx::Error, code: &str) -> bool {
    matches!(e, sqlx::Error::Database(db) if db.code().as_deref() == Some(code))
}

pub(crate) fn conflict_or(e: sqlx::Error, what: impl FnOnce() -> String) -> StoreError {
    if is_code(&e, "23505") {
        StoreError::Conflict { what: what() }
    } else {
        db_err(e)
    }
}

/// One sentence for each way connecting usually fails.
pub(crate) fn describe_connect_error(e: &sqlx::Error) -> String {
    if let sqlx::Error::Database(db) = e {
        match db.code().as_deref() {
            Some("3D000") => {
                return format!(
                    "{} (create it with `createdb`, or fix the database name in the URL)",
                    db.message()
                );
            }
            Some("28P01" | "28000") => {
                return format!("{} (check the user and password in the URL)", db.message());
            }
            _ => return db.message().to_string(),
        }
    }
    match e {
        sqlx::Error::Io(io) if io.kind() == std::io::ErrorKind::ConnectionRefused => {
            "connection refused: is PostgreSQL running and listening on that host and port?".into()
        }
        sqlx::Error::Io(io) => format!("network error: {io}"),
        sqlx::Error::PoolTimedOut => "no answer within 5 seconds".into(),
        sqlx::Error::Tls(t) => format!("TLS error: {t}"),
        other => other.to_string(),
    }
}

pub(crate) fn read_ledger_entry(row: &PgRow) -> StoreResult<LedgerEntry> {
    let actor_kind: String = row.try_get("actor_kind").map_err(db_err)?;
    let actor_name: String = row.try_get("actor_name").map_err(db_err)?;
    let payload: serde_json::Value = row.try_get("payload").map_err(db_err)?;
    let event: Event =
        serde_json::from_value(payload).map_err(|_| StoreError::corrupt("ledger payload"))?;
    Ok(LedgerEntry {
        id: LedgerEntryId::new(row.try_get("id").map_err(db_err)?),
        at: row.try_get("at").map_err(db_err)?,
        actor: Actor::from_parts(&actor_kind, &actor_name)
            .ok_or_else(|| StoreError::corrupt("ledger actor"))?,
        kind: row.try_get("kind").map_err(db_err)?,
        contact_id: row
            .try_get::<Option<uuid::Uuid>, _>("contact_id")
            .map_err(db_err)?
            .map(ContactId::from_uuid),
        account_id: row
            .try_get::<Option<uuid::Uuid>, _>("account_id")
            .map_err(db_err)?
            .map(AccountId::from_uuid),
        user_id: row
            .try_get::<Option<uuid::Uuid>, _>("user_id")
            .map_err(db_err)?
            .map(UserId::from_uuid),
        job_id: row
            .try_get::<Option<i64>, _>("job_id")
            .map_err(db_err)?
            .map(JobId::new),
        policy_version: row.try_get("policy_version").map_err(db_err)?,
        event,
    })
}

pub(crate) const USER_COLUMNS: &str =
    "id, username, display_name, email, role, manager, created_at";

pub(crate) fn read_user(row: &PgRow) -> StoreResult<User> {
    let username: String = row.try_get("username").map_err(db_err)?;
    let email: Option<String> = row.try_get("email").map_err(db_err)?;
    let role: String = row.try_get("role").map_err(db_err)?;
    let manager: Option<String> = row.try_get("manager").map_err(db_err)?;
    Ok(User {
        id: UserId::from_uuid(row.try_get("id").map_err(db_err)?),
        username: Username::parse(&username).map_err(|_| StoreError::corrupt("username"))?,
        display_name: row.try_get("display_name").map_err(db_err)?,
        email: email
            .map(|e| EmailAddress::parse(&e))
            .transpose()
            .map_err(|_| StoreError::corrupt("user email"))?,
        role: role
            .parse::<Role>()
            .map_err(|_| StoreError::corrupt("user role"))?,
        manager: manager
            .map(|m| Username::parse(&m))
            .transpose()
            .map_err(|_| StoreError::corrupt("manager"))?,
        created_at: row.try_get("created_at").map_err(db_err)?,
    })
}

pub(crate) const CONTACT_COLUMNS: &str = "id, email, first_name, last_name, title, account_id, owner, created_at, \
     seniority, department, phone, linkedin_url, city, country, company, field_sources, \
     verification_status, verification_reason, verified_at";

pub(crate) fn read_contact(row: &PgRow) -> StoreResult<Contact> {
    let email: String = row.try_get("email").map_err(db_err)?;
    let owner: Option<String> = row.try_get("owner").map_err(db_err)?;
    Ok(Contact {
        id: ContactId::from_uuid(row.try_get("id").map_err(db_err)?),
        email: EmailAddress::parse(&email).map_err(|_| StoreError::corrupt("contact email"))?,
        first_name: row.try_get("first_name").map_err(db_err)?,
        last_name: row.try_get("last_name").map_err(db_err)?,
        title: row.try_get("title").map_err(db_err)?,
        account_id: row
            .try_get::<Option<uuid::Uuid>, _>("account_id")
            .map_err(db_err)?
            .map(AccountId::from_uuid),
        owner: owner
            .map(|o| Username::parse(&o))
            .transpose()
            .map_err(|_| StoreError::corrupt("contact owner"))?,
        created_at: row.try_get("created_at").map_err(db_err)?,
        seniority: row.try_get("seniority").map_err(db_err)?,
        department: row.try_get("department").map_err(db_err)?,
        phone: row.try_get("phone").map_err(db_err)?,
        linkedin_url: row.try_get("linkedin_url").map_err(db_err)?,
        city: row.try_get("city").map_err(db_err)?,
        country: row.try_get("country").map_err(db_err)?,
        company: row.try_get("company").map_err(db_err)?,
        field_sources: Provenance::from_value(row.try_get("field_sources").map_err(db_err)?)
            .ok_or_else(|| StoreError::corrupt("contact field sources"))?,
        verification: read_verdict(
            row.try_get("verification_status").map_err(db_err)?,
            row.try_get("verification_reason").map_err(db_err)?,
        )?,
        verified_at: row.try_get("verified_at").map_err(db_err)?,
    })
}

pub(crate) use handoff_store::verdict_from_columns as read_verdict;
