//! Import batches on PostgreSQL: read what the batch touches (locking those
//! rows), plan, write — one transaction per batch.

use std::collections::HashMap;

use serde_json::Value;
use sqlx::postgres::PgRow;
use sqlx::{Postgres, Row, Transaction};
use uuid::Uuid;

use handoff_domain::import::{AccountRecord, ContactRecord};
use handoff_domain::users::Username;
use handoff_domain::{AccountId, ContactId, EmailAddress, InboundEventId};
use handoff_store::import_plan::{
    BatchOutcome, ImportRow, ImportSource, StoredAccount, StoredContact, plan,
};
use handoff_store::provenance::Provenance;
use handoff_store::{CommandContext, StoreError, StoreResult, verdict_from_columns};

use crate::rows::{db_err, is_code};
use crate::{PostgresStore, insert_entry};

fn text(row: &PgRow, column: &str) -> StoreResult<Option<String>> {
    Ok(row
        .try_get::<Option<String>, _>(column)
        .map_err(db_err)?
        .filter(|s| !s.is_empty()))
}

fn sources(stored: Value, what: &str) -> StoreResult<Provenance> {
    Provenance::from_value(stored).ok_or_else(|| StoreError::corrupt(what))
}

async fn load_contacts(
    tx: &mut Transaction<'_, Postgres>,
    emails: &[String],
) -> StoreResult<HashMap<String, StoredContact>> {
    let rows = sqlx::query(
        "SELECT id, account_id, email, first_name, last_name, title, phone, linkedin_url, city, country, company,
                seniority, department, owner, field_sources, verification_status, verification_reason, verified_at
         FROM contacts WHERE email = ANY($1) FOR UPDATE",
    )
    .bind(emails)
    .fetch_all(&mut **tx)
    .await
    .map_err(db_err)?;
    let mut out = HashMap::new();
    for r in &rows {
        let email: String = r.try_get("email").map_err(db_err)?;
        let owner: Option<String> = r.try_get("owner").map_err(db_err)?;
        out.insert(
            email.clone(),
            StoredContact {
                id: ContactId::from_uuid(r.try_get("id").map_err(db_err)?),
                account_id: r
                    .try_get::<Option<Uuid>, _>("account_id")
                    .map_err(db_err)?
                    .map(AccountId::from_uuid),
                record: ContactRecord {
                    email: Some(
                        EmailAddress::parse(&email)
                            .map_err(|_| StoreError::corrupt("contact email"))?,
                    ),
                    first_name: text(r, "first_name")?,
                    last_name: text(r, "last_name")?,
                    title: text(r, "title")?,
                    phone: text(r, "phone")?,
                    linkedin_url: text(r, "linkedin_url")?,
                    city: text(r, "city")?,
                    country: text(r, "country")?,
                    company: text(r, "company")?,
                },
                seniority: text(r, "seniority")?,
                department: text(r, "department")?,
                owner: owner
                    .map(|o| Username::parse(&o))
                    .transpose()
                    .map_err(|_| StoreError::corrupt("contact owner"))?,
                sources: sources(
                    r.try_get("field_sources").map_err(db_err)?,
                    "contact field sources",
                )?,
                verification: verdict_from_columns(
                    r.try_get("verification_status").map_err(db_err)?,
                    r.try_get("verification_reason").map_err(db_err)?,
                )?,
                verified_at: r.try_get("verified_at").map_err(db_err)?,
                score: None,
            },
        );
    }
    Ok(out)
}

async fn load_accounts(
    tx: &mut Transaction<'_, Postgres>,
    domains: &[String],
) -> StoreResult<HashMap<String, StoredAccount>> {
    let rows = sqlx::query(
        "SELECT id, domain, name, industry, employees, revenue, technologies, field_sources, tags
         FROM accounts WHERE domain = ANY($1) FOR UPDATE",
    )
    .bind(domains)
    .fetch_all(&mut **tx)
    .await
    .map_err(db_err)?;
    let mut out = HashMap::new();
    for r in &rows {
        let domain: String = r.try_get("domain").map_err(db_err)?;
        let technologies: Option<Value> = r.try_get("technologies").map_err(db_err)?;
        out.insert(
            domain.clone(),
            StoredAccount {
                id: AccountId::from_uuid(r.try_get("id").map_err(db_err)?),
                record: AccountRecord {
                    domain,
                    name: text(r, "name")?,
                    industry: r.try_get("industry").map_err(db_err)?,
                    employees: r.try_get("employees").map_err(db_err)?,
                    revenue: r.try_get("revenue").map_err(db_err)?,
                    technologies: technologies
                        .map(serde_json::from_value)
                        .transpose()
                        .map_err(|_| StoreError::corrupt("account technologies"))?,
                },
                sources: sources(
                    r.try_get("field_sources").map_err(db_err)?,
                    "account field sources",
                )?,
                tags: serde_json::from_value(r.try_get("tags").map_err(db_err)?)
                    .map_err(|_| StoreError::corrupt("account tags"))?,
            },
        );
    }
    Ok(out)
}

impl PostgresStore {
    pub(crate) async fn import_batch_tx(
        &self,
        ctx: &CommandContext,
        source: &ImportSource,
        rows: &[ImportRow],
    ) -> StoreResult<BatchOutcome> {
        let mut emails: Vec<String> = rows
            .iter()
            .filter_map(|r| r.contact.email.as_ref().map(|e| e.as_str().to_string()))
            .collect();
        emails.sort_unstable();
        emails.dedup();
        let mut domains: Vec<String> = rows
            .iter()
            .filter_map(|r| r.account.as_ref().map(|a| a.domain.clone()))
            .collect();
        domains.sort_unstable();
        domains.dedup();

        let mut tx = self.pool().begin().await.map_err(db_err)?;
        // Two imports racing on one domain must not both create it: lock the
        // rows that exist, and let the unique index stop a duplicate insert.
        let accounts = load_accounts(&mut tx, &domains).await?;
        let contacts = load_contacts(&mut tx, &emails).await?;
        let plan = plan(source, ctx.now, rows, contacts, accounts);

        for (account, _) in &plan.accounts {
            let r = &account.record;
            sqlx::query(
                "INSERT INTO accounts (id, domain, name, industry, employees, revenue, technologies, field_sources, created_at, updated_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9)
                 ON CONFLICT (id) DO UPDATE SET name = excluded.name, industry = excluded.industry,
                     employees = excluded.employees, revenue = excluded.revenue, technologies = excluded.technologies,
                     field_sources = excluded.field_sources, updated_at = excluded.updated_at",
            )
            .bind(account.id.as_uuid())
            .bind(&r.domain)
            .bind(r.name.clone().unwrap_or_else(|| r.domain.clone()))
            .bind(&r.industry)
            .bind(r.employees)
            .bind(r.revenue)
            .bind(r.technologies.as_ref().map(|t| Value::from(t.clone())))
            .bind(account.sources.to_value())
            .bind(ctx.now)
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
        }
        for (contact, _) in &plan.contacts {
            let r = &contact.record;
            sqlx::query(
                "INSERT INTO contacts (id, email, first_name, last_name, title, seniority, department, phone, linkedin_url,
                                       city, country, company, account_id, owner, field_sources, created_at, updated_at,
                                       verification_status, verification_reason, verified_at, icp_score, icp_tier, icp_reasons)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $16, $17, $18, $19, $20, $21, $22::jsonb)
                 ON CONFLICT (id) DO UPDATE SET first_name = excluded.first_name, last_name = excluded.last_name,
                     title = excluded.title, seniority = excluded.seniority, department = excluded.department,
                     phone = excluded.phone, linkedin_url = excluded.linkedin_url, city = excluded.city,
                     country = excluded.country, company = excluded.company, account_id = excluded.account_id,
                     field_sources = excluded.field_sources, updated_at = excluded.updated_at,
                     verification_status = excluded.verification_status,
                     verification_reason = excluded.verification_reason, verified_at = excluded.verified_at",
            )
            .bind(contact.id.as_uuid())
            .bind(r.email.as_ref().map(|e| e.as_str()).unwrap_or_default())
            .bind(r.first_name.clone().unwrap_or_default())
            .bind(r.last_name.clone().unwrap_or_default())
            .bind(r.title.clone().unwrap_or_default())
            .bind(&contact.seniority)
            .bind(&contact.department)
            .bind(&r.phone)
            .bind(&r.linkedin_url)
            .bind(&r.city)
            .bind(&r.country)
            .bind(&r.company)
            .bind(contact.account_id.map(|a| a.as_uuid()))
            .bind(contact.owner.as_ref().map(|o| o.as_str()))
            .bind(contact.sources.to_value())
            .bind(ctx.now)
            .bind(contact.verification.map(|v| v.status()))
            .bind(contact.verification.and_then(|v| v.reason()))
            .bind(contact.verified_at)
            .bind(contact.score.as_ref().map(|s| i32::from(s.score)))
            .bind(contact.score.as_ref().map(|s| s.tier.as_str()))
            .bind(contact.score.as_ref().map(|s| s.reasons.as_str()))
            .execute(&mut *tx)
            .await
            .map_err(|e| {
                if is_code(&e, "23503") {
                    StoreError::NotFound {
                        what: format!(
                            "the owner `{}`",
                            contact.owner.as_ref().map(|o| o.as_str()).unwrap_or_default()
                        ),
                    }
                } else {
                    db_err(e)
                }
            })?;
        }
        for change in &plan.job_changes {
            sqlx::query(
                "INSERT INTO events (id, provider, provider_event_id, kind, contact_id, occurred_at, received_at, payload)
                 VALUES ($1, 'import', $2, 'job_change', $3, $4, $4, $5)
                 ON CONFLICT (provider, provider_event_id) DO NOTHING",
            )
            .bind(InboundEventId::new().as_uuid())
            .bind(format!("{}:{}", source.import_id, change.row))
            .bind(change.contact_id.as_uuid())
            .bind(ctx.now)
            .bind(serde_json::json!({"from_company": change.from_company, "to_company": change.to_company, "file": source.file_name, "row": change.row}))
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
        }
        for event in &plan.ledger {
            insert_entry(&mut tx, ctx, event).await?;
        }
        if let Some(assess) = &source.assess {
            crate::prospects::rescore(
                &mut tx,
                ctx,
                assess.as_ref(),
                &plan.rescore_contacts,
                &plan.rescore_accounts,
            )
            .await?;
        }
        tx.commit().await.map_err(db_err)?;
        Ok(plan.outcome)
    }
}
