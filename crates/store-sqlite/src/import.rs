//! Import batches on SQLite: read what the batch touches, plan, write —
//! one IMMEDIATE transaction per batch.

use std::collections::HashMap;

use rusqlite::{Transaction, params};
use serde_json::Value;

use handoff_domain::EmailAddress;
use handoff_domain::import::{AccountRecord, ContactRecord};
use handoff_domain::users::Username;
use handoff_store::import_plan::{
    BatchOutcome, ImportRow, ImportSource, StoredAccount, StoredContact, plan,
};
use handoff_store::provenance::Provenance;
use handoff_store::{CommandContext, StoreError, StoreResult};

use crate::rows::{db_err, from_micros, micros, parse_id, read_verdict};
use crate::{SqliteStore, insert_entry};

fn none_if_empty(s: String) -> Option<String> {
    (!s.is_empty()).then_some(s)
}

fn sources(raw: &str, what: &str) -> StoreResult<Provenance> {
    Provenance::parse(raw).ok_or_else(|| StoreError::corrupt(what))
}

fn load_contacts(
    tx: &Transaction<'_>,
    emails: &[&str],
) -> StoreResult<HashMap<String, StoredContact>> {
    let list = serde_json::to_string(emails).map_err(|e| StoreError::Database(e.to_string()))?;
    let mut stmt = tx
        .prepare_cached(
            "SELECT id, account_id, email, first_name, last_name, title, phone, linkedin_url, city, country, company,
                    seniority, department, owner, field_sources, verification_status, verification_reason, verified_at
             FROM contacts WHERE email IN (SELECT value FROM json_each(?1))",
        )
        .map_err(db_err)?;
    let mut rows = stmt.query([list]).map_err(db_err)?;
    let mut out = HashMap::new();
    while let Some(r) = rows.next().map_err(db_err)? {
        let email: String = r.get(2).map_err(db_err)?;
        let text = |i: usize| -> StoreResult<Option<String>> {
            Ok(r.get::<_, Option<String>>(i)
                .map_err(db_err)?
                .and_then(none_if_empty))
        };
        let account: Option<String> = r.get(1).map_err(db_err)?;
        let owner: Option<String> = r.get(13).map_err(db_err)?;
        let stored_sources: String = r.get(14).map_err(db_err)?;
        let verified_at: Option<i64> = r.get(17).map_err(db_err)?;
        out.insert(
            email.clone(),
            StoredContact {
                id: parse_id(&r.get::<_, String>(0).map_err(db_err)?, "contact id")?,
                account_id: account.map(|a| parse_id(&a, "account id")).transpose()?,
                record: ContactRecord {
                    email: Some(
                        EmailAddress::parse(&email)
                            .map_err(|_| StoreError::corrupt("contact email"))?,
                    ),
                    first_name: text(3)?,
                    last_name: text(4)?,
                    title: text(5)?,
                    phone: text(6)?,
                    linkedin_url: text(7)?,
                    city: text(8)?,
                    country: text(9)?,
                    company: text(10)?,
                },
                seniority: text(11)?,
                department: text(12)?,
                owner: owner
                    .map(|o| Username::parse(&o))
                    .transpose()
                    .map_err(|_| StoreError::corrupt("contact owner"))?,
                sources: sources(&stored_sources, "contact field sources")?,
                verification: read_verdict(r.get(15).map_err(db_err)?, r.get(16).map_err(db_err)?)?,
                verified_at: verified_at.map(from_micros).transpose()?,
                score: None,
            },
        );
    }
    Ok(out)
}

fn load_accounts(
    tx: &Transaction<'_>,
    domains: &[&str],
) -> StoreResult<HashMap<String, StoredAccount>> {
    let list = serde_json::to_string(domains).map_err(|e| StoreError::Database(e.to_string()))?;
    let mut stmt = tx
        .prepare_cached(
            "SELECT id, domain, name, industry, employees, revenue, technologies, field_sources, tags
             FROM accounts WHERE domain IN (SELECT value FROM json_each(?1))",
        )
        .map_err(db_err)?;
    let mut rows = stmt.query([list]).map_err(db_err)?;
    let mut out = HashMap::new();
    while let Some(r) = rows.next().map_err(db_err)? {
        let domain: String = r.get(1).map_err(db_err)?;
        let technologies: Option<String> = r.get(6).map_err(db_err)?;
        let stored_sources: String = r.get(7).map_err(db_err)?;
        let tags: String = r.get(8).map_err(db_err)?;
        out.insert(
            domain.clone(),
            StoredAccount {
                id: parse_id(&r.get::<_, String>(0).map_err(db_err)?, "account id")?,
                record: AccountRecord {
                    domain,
                    name: r
                        .get::<_, Option<String>>(2)
                        .map_err(db_err)?
                        .and_then(none_if_empty),
                    industry: r.get(3).map_err(db_err)?,
                    employees: r.get(4).map_err(db_err)?,
                    revenue: r.get(5).map_err(db_err)?,
                    technologies: technologies
                        .map(|t| serde_json::from_str(&t))
                        .transpose()
                        .map_err(|_| StoreError::corrupt("account technologies"))?,
                },
                sources: sources(&stored_sources, "account field sources")?,
                tags: serde_json::from_str(&tags)
                    .map_err(|_| StoreError::corrupt("account tags"))?,
            },
        );
    }
    Ok(out)
}

impl SqliteStore {
    pub(crate) fn import_batch_sync(
        &self,
        ctx: &CommandContext,
        source: &ImportSource,
        rows: &[ImportRow],
    ) -> StoreResult<BatchOutcome> {
        let mut emails: Vec<&str> = rows
            .iter()
            .filter_map(|r| r.contact.email.as_ref().map(|e| e.as_str()))
            .collect();
        emails.sort_unstable();
        emails.dedup();
        let mut domains: Vec<&str> = rows
            .iter()
            .filter_map(|r| r.account.as_ref().map(|a| a.domain.as_str()))
            .collect();
        domains.sort_unstable();
        domains.dedup();

        self.write(|tx| {
            let contacts = load_contacts(tx, &emails)?;
            let accounts = load_accounts(tx, &domains)?;
            let plan = plan(source, ctx.now, rows, contacts, accounts);
            let now = micros(ctx.now);

            let mut account_stmt = tx
                .prepare_cached(
                    "INSERT INTO accounts (id, domain, name, industry, employees, revenue, technologies, field_sources, created_at, updated_at)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?9)
                     ON CONFLICT (id) DO UPDATE SET name = excluded.name, industry = excluded.industry,
                         employees = excluded.employees, revenue = excluded.revenue, technologies = excluded.technologies,
                         field_sources = excluded.field_sources, updated_at = excluded.updated_at",
                )
                .map_err(db_err)?;
            for (account, _) in &plan.accounts {
                let r = &account.record;
                account_stmt
                    .execute(params![
                        account.id.to_string(),
                        r.domain,
                        r.name.clone().unwrap_or_else(|| r.domain.clone()),
                        r.industry,
                        r.employees,
                        r.revenue,
                        r.technologies.as_ref().map(|t| Value::from(t.clone()).to_string()),
                        account.sources.to_json(),
                        now,
                    ])
                    .map_err(db_err)?;
            }

            let mut contact_stmt = tx
                .prepare_cached(
                    "INSERT INTO contacts (id, email, first_name, last_name, title, seniority, department, phone, linkedin_url,
                                           city, country, company, account_id, owner, field_sources, created_at, updated_at,
                                           verification_status, verification_reason, verified_at, icp_score, icp_tier, icp_reasons)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?16, ?17, ?18, ?19, ?20, ?21, ?22)
                     ON CONFLICT (id) DO UPDATE SET first_name = excluded.first_name, last_name = excluded.last_name,
                         title = excluded.title, seniority = excluded.seniority, department = excluded.department,
                         phone = excluded.phone, linkedin_url = excluded.linkedin_url, city = excluded.city,
                         country = excluded.country, company = excluded.company, account_id = excluded.account_id,
                         field_sources = excluded.field_sources, updated_at = excluded.updated_at,
                         verification_status = excluded.verification_status,
                         verification_reason = excluded.verification_reason, verified_at = excluded.verified_at",
                )
                .map_err(db_err)?;
            for (contact, _) in &plan.contacts {
                let r = &contact.record;
                let text = |v: &Option<String>| v.clone().unwrap_or_default();
                contact_stmt
                    .execute(params![
                        contact.id.to_string(),
                        r.email.as_ref().map(|e| e.as_str()).unwrap_or_default(),
                        text(&r.first_name),
                        text(&r.last_name),
                        text(&r.title),
                        contact.seniority,
                        contact.department,
                        r.phone,
                        r.linkedin_url,
                        r.city,
                        r.country,
                        r.company,
                        contact.account_id.map(|a| a.to_string()),
                        contact.owner.as_ref().map(|o| o.as_str()),
                        contact.sources.to_json(),
                        now,
                        contact.verification.map(|v| v.status()),
                        contact.verification.and_then(|v| v.reason()),
                        contact.verified_at.map(micros),
                        contact.score.as_ref().map(|s| s.score),
                        contact.score.as_ref().map(|s| s.tier.as_str()),
                        contact.score.as_ref().map(|s| s.reasons.as_str()),
                    ])
                    .map_err(|e| {
                        if e.to_string().contains("FOREIGN KEY") {
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

            let mut event_stmt = tx
                .prepare_cached(
                    "INSERT INTO events (id, provider, provider_event_id, kind, contact_id, occurred_at, received_at, payload)
                     VALUES (?1, 'import', ?2, 'job_change', ?3, ?4, ?4, ?5)
                     ON CONFLICT (provider, provider_event_id) DO NOTHING",
                )
                .map_err(db_err)?;
            for change in &plan.job_changes {
                event_stmt
                    .execute(params![
                        handoff_domain::InboundEventId::new().to_string(),
                        format!("{}:{}", source.import_id, change.row),
                        change.contact_id.to_string(),
                        now,
                        serde_json::json!({"from_company": change.from_company, "to_company": change.to_company, "file": source.file_name, "row": change.row}).to_string(),
                    ])
                    .map_err(db_err)?;
            }
            for event in &plan.ledger {
                insert_entry(tx, ctx, event)?;
            }
            if let Some(assess) = &source.assess {
                crate::prospects::rescore(
                    tx,
                    ctx,
                    assess.as_ref(),
                    &plan.rescore_contacts,
                    &plan.rescore_accounts,
                )?;
            }
            Ok(plan.outcome)
        })
    }
}
