//! Prospects on PostgreSQL: contacts joined with their accounts and scores.

use std::sync::LazyLock;

use async_trait::async_trait;
use sqlx::postgres::PgRow;
use sqlx::{Postgres, Row, Transaction};
use uuid::Uuid;

use handoff_domain::{AccountId, ContactId, Event};
use handoff_store::import_plan::Assess;
use handoff_store::{
    AccountProfile, CommandContext, ContactScore, Prospect, Prospects, StoreError, StoreResult,
    StoredScore,
};

use crate::rows::{CONTACT_COLUMNS, db_err, read_contact};
use crate::{PostgresStore, insert_entry};

/// Contact columns keep their names (read_contact reads by name); the
/// account's are aliased so nothing collides.
static PROSPECT_SELECT: LazyLock<String> = LazyLock::new(|| {
    let contact: Vec<String> = CONTACT_COLUMNS
        .split(',')
        .map(|c| format!("c.{}", c.trim()))
        .collect();
    format!(
        "SELECT {}, a.id AS a_id, a.domain AS a_domain, a.name AS a_name, a.industry AS a_industry,
                a.employees AS a_employees, a.revenue AS a_revenue, a.technologies AS a_technologies, a.tags AS a_tags,
                c.icp_score, c.icp_tier, c.icp_reasons,
                (SELECT COALESCE(json_agg(DISTINCT e.kind), '[]'::json)::jsonb FROM events e WHERE e.contact_id = c.id) AS signals
         FROM contacts c LEFT JOIN accounts a ON a.id = c.account_id",
        contact.join(", ")
    )
});

fn json_list(value: Option<serde_json::Value>, what: &str) -> StoreResult<Vec<String>> {
    match value {
        None => Ok(Vec::new()),
        Some(v) => serde_json::from_value(v).map_err(|_| StoreError::corrupt(what)),
    }
}

fn read_prospect(row: &PgRow) -> StoreResult<Prospect> {
    let contact = read_contact(row)?;
    let account_id: Option<Uuid> = row.try_get("a_id").map_err(db_err)?;
    let account = match account_id {
        None => None,
        Some(id) => Some(AccountProfile {
            id: AccountId::from_uuid(id),
            domain: row.try_get("a_domain").map_err(db_err)?,
            name: row.try_get("a_name").map_err(db_err)?,
            industry: row.try_get("a_industry").map_err(db_err)?,
            employees: row.try_get("a_employees").map_err(db_err)?,
            revenue: row.try_get("a_revenue").map_err(db_err)?,
            technologies: json_list(
                row.try_get("a_technologies").map_err(db_err)?,
                "account technologies",
            )?,
            tags: json_list(row.try_get("a_tags").map_err(db_err)?, "account tags")?,
        }),
    };
    let score: Option<i32> = row.try_get("icp_score").map_err(db_err)?;
    let score = match score {
        None => None,
        Some(score) => Some(StoredScore {
            score: score.clamp(0, 100) as u8,
            tier: row
                .try_get::<Option<String>, _>("icp_tier")
                .map_err(db_err)?
                .unwrap_or_default(),
            reasons: row
                .try_get::<Option<serde_json::Value>, _>("icp_reasons")
                .map_err(db_err)?
                .unwrap_or_default(),
        }),
    };
    let signals = json_list(row.try_get("signals").map_err(db_err)?, "contact signals")?;
    Ok(Prospect {
        contact,
        account,
        score,
        signals,
    })
}

/// Writes each score that differs from the stored one, with its ledger
/// entry; returns how many did.
async fn store_scores(
    tx: &mut Transaction<'_, Postgres>,
    ctx: &CommandContext,
    scores: &[ContactScore],
) -> StoreResult<u64> {
    let mut changed = 0;
    for s in scores {
        let n = sqlx::query(
            "UPDATE contacts SET icp_score = $1, icp_tier = $2, icp_reasons = $3, updated_at = $4
             WHERE id = $5 AND (icp_score IS DISTINCT FROM $1 OR icp_tier IS DISTINCT FROM $2
                                OR icp_reasons IS DISTINCT FROM $3)",
        )
        .bind(i32::from(s.score.score))
        .bind(&s.score.tier)
        .bind(&s.score.reasons)
        .bind(ctx.now)
        .bind(s.contact_id.as_uuid())
        .execute(&mut **tx)
        .await
        .map_err(db_err)?
        .rows_affected();
        if n == 0 {
            continue;
        }
        changed += 1;
        let reasons = s.score.reason_texts();
        insert_entry(
            tx,
            ctx,
            &Event::ContactScored {
                contact_id: s.contact_id,
                score: s.score.score,
                tier: s.score.tier.clone(),
                reasons,
            },
        )
        .await?;
    }
    Ok(changed)
}

/// Scores `contacts` and every contact of `accounts` as they stand in the
/// transaction, as `handoff score` would: for an import, the contacts whose
/// score depends on more than the batch.
pub(crate) async fn rescore(
    tx: &mut Transaction<'_, Postgres>,
    ctx: &CommandContext,
    assess: &dyn Assess,
    contacts: &[ContactId],
    accounts: &[AccountId],
) -> StoreResult<u64> {
    if contacts.is_empty() && accounts.is_empty() {
        return Ok(0);
    }
    let contacts: Vec<Uuid> = contacts.iter().map(|c| c.as_uuid()).collect();
    let accounts: Vec<Uuid> = accounts.iter().map(|a| a.as_uuid()).collect();
    let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
        "{} WHERE c.id = ANY($1) OR c.account_id = ANY($2)",
        *PROSPECT_SELECT
    )))
    .bind(&contacts)
    .bind(&accounts)
    .fetch_all(&mut **tx)
    .await
    .map_err(db_err)?;
    let mut scores = Vec::with_capacity(rows.len());
    for row in &rows {
        let prospect = read_prospect(row)?;
        scores.push(ContactScore {
            contact_id: prospect.contact.id,
            score: assess.score(&prospect),
        });
    }
    store_scores(tx, ctx, &scores).await
}

#[async_trait]
impl Prospects for PostgresStore {
    async fn prospects(&self, after: Option<ContactId>, limit: u32) -> StoreResult<Vec<Prospect>> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "{} WHERE c.id > coalesce($1::uuid, '00000000-0000-0000-0000-000000000000') ORDER BY c.id LIMIT $2",
            *PROSPECT_SELECT
        )))
        .bind(after.map(|a| a.as_uuid()))
        .bind(i64::from(limit))
        .fetch_all(self.pool())
        .await
        .map_err(db_err)?;
        rows.iter().map(read_prospect).collect()
    }

    async fn prospect(&self, contact: ContactId) -> StoreResult<Option<Prospect>> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "{} WHERE c.id = $1",
            *PROSPECT_SELECT
        )))
        .bind(contact.as_uuid())
        .fetch_optional(self.pool())
        .await
        .map_err(db_err)?;
        row.as_ref().map(read_prospect).transpose()
    }

    async fn record_scores(
        &self,
        ctx: &CommandContext,
        scores: &[ContactScore],
    ) -> StoreResult<u64> {
        let mut tx = self.pool().begin().await.map_err(db_err)?;
        let changed = store_scores(&mut tx, ctx, scores).await?;
        tx.commit().await.map_err(db_err)?;
        Ok(changed)
    }

    async fn tag_account(
        &self,
        ctx: &CommandContext,
        domain: &str,
        tag: &str,
    ) -> StoreResult<bool> {
        let domain = domain.trim().to_lowercase();
        let mut tx = self.pool().begin().await.map_err(db_err)?;
        let found: Option<(Uuid, serde_json::Value)> =
            sqlx::query_as("SELECT id, tags FROM accounts WHERE domain = $1 FOR UPDATE")
                .bind(&domain)
                .fetch_optional(&mut *tx)
                .await
                .map_err(db_err)?;
        let Some((id, tags)) = found else {
            return Err(StoreError::NotFound {
                what: format!("an account with the domain {domain}"),
            });
        };
        let mut tags: Vec<String> =
            serde_json::from_value(tags).map_err(|_| StoreError::corrupt("account tags"))?;
        if tags.iter().any(|t| t == tag) {
            return Ok(false);
        }
        tags.push(tag.to_string());
        sqlx::query("UPDATE accounts SET tags = $1, updated_at = $2 WHERE id = $3")
            .bind(serde_json::Value::from(tags))
            .bind(ctx.now)
            .bind(id)
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
        insert_entry(
            &mut tx,
            ctx,
            &Event::AccountTagged {
                account_id: AccountId::from_uuid(id),
                tag: tag.to_string(),
            },
        )
        .await?;
        tx.commit().await.map_err(db_err)?;
        Ok(true)
    }
}
