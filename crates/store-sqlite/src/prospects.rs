//! Prospects on SQLite: contacts joined with their accounts and scores.

use std::sync::LazyLock;

use async_trait::async_trait;
use rusqlite::{OptionalExtension, Row, params};

use handoff_domain::{AccountId, ContactId, Event};
use handoff_store::import_plan::Assess;
use handoff_store::{
    AccountProfile, CommandContext, ContactScore, Prospect, Prospects, StoreError, StoreResult,
    StoredScore,
};

use crate::rows::{CONTACT_COLUMNS, db_err, micros, parse_id, read_contact};
use crate::{SqliteStore, insert_entry};

/// Contact columns first (read_contact reads them by position), then the
/// account's and the score's.
static PROSPECT_SELECT: LazyLock<String> = LazyLock::new(|| {
    let contact: Vec<String> = CONTACT_COLUMNS
        .split(',')
        .map(|c| format!("c.{}", c.trim()))
        .collect();
    format!(
        "SELECT {}, a.id, a.domain, a.name, a.industry, a.employees, a.revenue, a.technologies, a.tags,
                c.icp_score, c.icp_tier, c.icp_reasons,
                (SELECT json_group_array(DISTINCT e.kind) FROM events e WHERE e.contact_id = c.id)
         FROM contacts c LEFT JOIN accounts a ON a.id = c.account_id",
        contact.join(", ")
    )
});
const ACCOUNT_AT: usize = 19;

fn json_list(raw: Option<String>, what: &str) -> StoreResult<Vec<String>> {
    match raw {
        None => Ok(Vec::new()),
        Some(raw) => serde_json::from_str(&raw).map_err(|_| StoreError::corrupt(what)),
    }
}

fn read_prospect(row: &Row<'_>) -> StoreResult<Prospect> {
    let contact = read_contact(row)?;
    let account_id: Option<String> = row.get(ACCOUNT_AT).map_err(db_err)?;
    let account = match account_id {
        None => None,
        Some(id) => Some(AccountProfile {
            id: parse_id(&id, "account id")?,
            domain: row.get(ACCOUNT_AT + 1).map_err(db_err)?,
            name: row.get(ACCOUNT_AT + 2).map_err(db_err)?,
            industry: row.get(ACCOUNT_AT + 3).map_err(db_err)?,
            employees: row.get(ACCOUNT_AT + 4).map_err(db_err)?,
            revenue: row.get(ACCOUNT_AT + 5).map_err(db_err)?,
            technologies: json_list(
                row.get(ACCOUNT_AT + 6).map_err(db_err)?,
                "account technologies",
            )?,
            tags: json_list(row.get(ACCOUNT_AT + 7).map_err(db_err)?, "account tags")?,
        }),
    };
    let score: Option<i64> = row.get(ACCOUNT_AT + 8).map_err(db_err)?;
    let score = match score {
        None => None,
        Some(score) => Some(StoredScore {
            score: score.clamp(0, 100) as u8,
            tier: row
                .get::<_, Option<String>>(ACCOUNT_AT + 9)
                .map_err(db_err)?
                .unwrap_or_default(),
            reasons: row
                .get::<_, Option<String>>(ACCOUNT_AT + 10)
                .map_err(db_err)?
                .map(|r| serde_json::from_str(&r))
                .transpose()
                .map_err(|_| StoreError::corrupt("score reasons"))?
                .unwrap_or_default(),
        }),
    };
    let signals = json_list(row.get(ACCOUNT_AT + 11).map_err(db_err)?, "contact signals")?;
    Ok(Prospect {
        contact,
        account,
        score,
        signals,
    })
}

/// Writes each score that differs from the stored one, with its ledger
/// entry; returns how many did.
fn store_scores(
    tx: &rusqlite::Transaction<'_>,
    ctx: &CommandContext,
    scores: &[ContactScore],
) -> StoreResult<u64> {
    let mut changed = 0;
    let mut update = tx
        .prepare_cached(
            "UPDATE contacts SET icp_score = ?1, icp_tier = ?2, icp_reasons = ?3, updated_at = ?4
             WHERE id = ?5 AND (icp_score IS NOT ?1 OR icp_tier IS NOT ?2 OR icp_reasons IS NOT ?3)",
        )
        .map_err(db_err)?;
    for s in scores {
        let reasons = s.score.reasons.to_string();
        let n = update
            .execute(params![
                s.score.score,
                s.score.tier,
                reasons,
                micros(ctx.now),
                s.contact_id.to_string()
            ])
            .map_err(db_err)?;
        if n == 0 {
            continue;
        }
        changed += 1;
        insert_entry(
            tx,
            ctx,
            &Event::ContactScored {
                contact_id: s.contact_id,
                score: s.score.score,
                tier: s.score.tier.clone(),
                reasons: s.score.reason_texts(),
            },
        )?;
    }
    Ok(changed)
}

/// Scores `contacts` and every contact of `accounts` as they stand in the
/// transaction, as `handoff score` would: for an import, the contacts whose
/// score depends on more than the batch.
pub(crate) fn rescore(
    tx: &rusqlite::Transaction<'_>,
    ctx: &CommandContext,
    assess: &dyn Assess,
    contacts: &[ContactId],
    accounts: &[AccountId],
) -> StoreResult<u64> {
    if contacts.is_empty() && accounts.is_empty() {
        return Ok(0);
    }
    // Two lookups, each on its own index (an OR of the two would scan).
    let mut scores = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for (column, ids) in [
        (
            "c.id",
            contacts.iter().map(ToString::to_string).collect::<Vec<_>>(),
        ),
        (
            "c.account_id",
            accounts.iter().map(ToString::to_string).collect(),
        ),
    ] {
        if ids.is_empty() {
            continue;
        }
        let mut stmt = tx
            .prepare_cached(&format!(
                "{} WHERE {column} IN (SELECT value FROM json_each(?1))",
                *PROSPECT_SELECT
            ))
            .map_err(db_err)?;
        let mut rows = stmt
            .query([serde_json::Value::from(ids).to_string()])
            .map_err(db_err)?;
        while let Some(row) = rows.next().map_err(db_err)? {
            let prospect = read_prospect(row)?;
            if seen.insert(prospect.contact.id) {
                scores.push(ContactScore {
                    contact_id: prospect.contact.id,
                    score: assess.score(&prospect),
                });
            }
        }
    }
    store_scores(tx, ctx, &scores)
}

#[async_trait]
impl Prospects for SqliteStore {
    async fn prospects(&self, after: Option<ContactId>, limit: u32) -> StoreResult<Vec<Prospect>> {
        let conn = self.reader();
        let mut stmt = conn
            .prepare_cached(&format!(
                "{} WHERE c.id > coalesce(?1, '') ORDER BY c.id LIMIT ?2",
                *PROSPECT_SELECT
            ))
            .map_err(db_err)?;
        let mut rows = stmt
            .query(params![after.map(|a| a.to_string()), limit])
            .map_err(db_err)?;
        let mut out = Vec::new();
        while let Some(row) = rows.next().map_err(db_err)? {
            out.push(read_prospect(row)?);
        }
        Ok(out)
    }

    async fn prospect(&self, contact: ContactId) -> StoreResult<Option<Prospect>> {
        let conn = self.reader();
        conn.query_row(
            &format!("{} WHERE c.id = ?1", *PROSPECT_SELECT),
            [contact.to_string()],
            |row| Ok(read_prospect(row)),
        )
        .optional()
        .map_err(db_err)?
        .transpose()
    }

    async fn record_scores(
        &self,
        ctx: &CommandContext,
        scores: &[ContactScore],
    ) -> StoreResult<u64> {
        self.write(|tx| store_scores(tx, ctx, scores))
    }

    async fn tag_account(
        &self,
        ctx: &CommandContext,
        domain: &str,
        tag: &str,
    ) -> StoreResult<bool> {
        let domain = domain.trim().to_lowercase();
        self.write(|tx| {
            let found: Option<(String, String)> = tx
                .query_row(
                    "SELECT id, tags FROM accounts WHERE domain = ?1",
                    [&domain],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .optional()
                .map_err(db_err)?;
            let Some((id, tags)) = found else {
                return Err(StoreError::NotFound {
                    what: format!("an account with the domain {domain}"),
                });
            };
            let mut tags: Vec<String> =
                serde_json::from_str(&tags).map_err(|_| StoreError::corrupt("account tags"))?;
            if tags.iter().any(|t| t == tag) {
                return Ok(false);
            }
            tags.push(tag.to_string());
            tx.execute(
                "UPDATE accounts SET tags = ?1, updated_at = ?2 WHERE id = ?3",
                params![
                    serde_json::Value::from(tags).to_string(),
                    micros(ctx.now),
                    id
                ],
            )
            .map_err(db_err)?;
            insert_entry(
                tx,
                ctx,
                &Event::AccountTagged {
                    account_id: parse_id(&id, "account id")?,
                    tag: tag.to_string(),
                },
            )?;
            Ok(true)
        })
    }
}
