//! Converting between rows and domain types.

use chrono::{DateTime, Utc};
use rusqlite::Row;

use handoff_domain::users::{Role, Username};
use handoff_domain::{Actor, EmailAddress, Event, JobId, LedgerEntryId};
use handoff_store::provenance::Provenance;
use handoff_store::{Contact, LedgerEntry, StoreError, StoreResult, User};

pub(crate) fn db_err(e: rusqlite::Error) -> StoreError {
    match e.sqlite_error_code() {
        Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked) => {
            StoreError::Database(
                "the database stayed locked by another process for longer than the busy timeout"
                    .into(),
            )
        }
        _ => StoreError::Database(e.to_string()),
    }
}

pub(crate) fn micros(t: DateTime<Utc>) -> i64 {
    t.timestamp_micros()
}

pub(crate) fn from_micros(v: i64) -> StoreResult<DateTime<Utc>> {
    DateTime::from_timestamp_micros(v).ok_or_else(|| StoreError::corrupt("timestamp"))
}

pub(crate) fn parse_id<T: std::str::FromStr>(raw: &str, what: &str) -> StoreResult<T> {
    raw.parse().map_err(|_| StoreError::corrupt(what))
}

fn opt_id<T: std::str::FromStr>(raw: Option<String>, what: &str) -> StoreResult<Option<T>> {
    raw.map(|r| parse_id(&r, what)).transpose()
}

pub(crate) fn read_ledger_entry(row: &Row<'_>) -> StoreResult<LedgerEntry> {
    let actor_kind: String = row.get(2).map_err(db_err)?;
    let actor_name: String = row.get(3).map_err(db_err)?;
    let payload: String = row.get(10).map_err(db_err)?;
    let event: Event =
        serde_json::from_str(&payload).map_err(|_| StoreError::corrupt("ledger payload"))?;
    Ok(LedgerEntry {
        id: LedgerEntryId::new(row.get(0).map_err(db_err)?),
        at: from_micros(row.get(1).map_err(db_err)?)?,
        actor: Actor::from_parts(&actor_kind, &actor_name)
            .ok_or_else(|| StoreError::corrupt("ledger actor"))?,
        kind: row.get(4).map_err(db_err)?,
        contact_id: opt_id(row.get(5).map_err(db_err)?, "ledger contact id")?,
        account_id: opt_id(row.get(6).map_err(db_err)?, "ledger account id")?,
        user_id: opt_id(row.get(7).map_err(db_err)?, "ledger user id")?,
        job_id: row
            .get::<_, Option<i64>>(8)
            .map_err(db_err)?
            .map(JobId::new),
        policy_version: row.get(9).map_err(db_err)?,
        event,
    })
}

pub(crate) const USER_COLUMNS: &str =
    "id, username, display_name, email, role, manager, created_at";

pub(crate) fn read_user(row: &Row<'_>) -> StoreResult<User> {
    let username: String = row.get(1).map_err(db_err)?;
    let email: Option<String> = row.get(3).map_err(db_err)?;
    let role: String = row.get(4).map_err(db_err)?;
    let manager: Option<String> = row.get(5).map_err(db_err)?;
    Ok(User {
        id: parse_id(&row.get::<_, String>(0).map_err(db_err)?, "user id")?,
        username: Username::parse(&username).map_err(|_| StoreError::corrupt("username"))?,
        display_name: row.get(2).map_err(db_err)?,
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
        created_at: from_micros(row.get(6).map_err(db_err)?)?,
    })
}

pub(crate) const CONTACT_COLUMNS: &str = "id, email, first_name, last_name, title, account_id, owner, created_at, \
     seniority, department, phone, linkedin_url, city, country, company, field_sources, \
     verification_status, verification_reason, verified_at";

pub(crate) fn read_contact(row: &Row<'_>) -> StoreResult<Contact> {
    let email: String = row.get(1).map_err(db_err)?;
    let owner: Option<String> = row.get(6).map_err(db_err)?;
    Ok(Contact {
        id: parse_id(&row.get::<_, String>(0).map_err(db_err)?, "contact id")?,
        email: EmailAddress::parse(&email).map_err(|_| StoreError::corrupt("contact email"))?,
        first_name: row.get(2).map_err(db_err)?,
        last_name: row.get(3).map_err(db_err)?,
        title: row.get(4).map_err(db_err)?,
        account_id: opt_id(row.get(5).map_err(db_err)?, "contact account id")?,
        owner: owner
            .map(|o| Username::parse(&o))
            .transpose()
            .map_err(|_| StoreError::corrupt("contact owner"))?,
        created_at: from_micros(row.get(7).map_err(db_err)?)?,
        seniority: row.get(8).map_err(db_err)?,
        department: row.get(9).map_err(db_err)?,
        phone: row.get(10).map_err(db_err)?,
        linkedin_url: row.get(11).map_err(db_err)?,
        city: row.get(12).map_err(db_err)?,
        country: row.get(13).map_err(db_err)?,
        company: row.get(14).map_err(db_err)?,
        field_sources: Provenance::parse(&row.get::<_, String>(15).map_err(db_err)?)
            .ok_or_else(|| StoreError::corrupt("contact field sources"))?,
        verification: read_verdict(row.get(16).map_err(db_err)?, row.get(17).map_err(db_err)?)?,
        verified_at: row
            .get::<_, Option<i64>>(18)
            .map_err(db_err)?
            .map(from_micros)
            .transpose()?,
    })
}

pub(crate) use handoff_store::verdict_from_columns as read_verdict;
