//! Account research on SQLite: one row per account, replaced when rebuilt.

use async_trait::async_trait;
use rusqlite::{OptionalExtension, params};

use handoff_domain::{AccountId, Event};
use handoff_store::{AccountResearch, CommandContext, Research, StoreError, StoreResult};

use crate::rows::{db_err, from_micros, micros, parse_id};
use crate::{SqliteStore, insert_entry};

#[async_trait]
impl Research for SqliteStore {
    async fn account_research(&self, account: AccountId) -> StoreResult<Option<AccountResearch>> {
        let conn = self.reader();
        let row = conn
            .prepare_cached(
                "SELECT account_id, data_hash, facts, priorities, built_by, usage, built_at
                   FROM research WHERE account_id = ?1",
            )
            .map_err(db_err)?
            .query_row([account.to_string()], |row| {
                Ok((
                    row.get::<_, String>(0)?,
                    row.get::<_, String>(1)?,
                    row.get::<_, String>(2)?,
                    row.get::<_, String>(3)?,
                    row.get::<_, String>(4)?,
                    row.get::<_, Option<String>>(5)?,
                    row.get::<_, i64>(6)?,
                ))
            })
            .optional()
            .map_err(db_err)?;
        let Some((id, data_hash, facts, priorities, built_by, usage, built_at)) = row else {
            return Ok(None);
        };
        let corrupt = |_| StoreError::corrupt("account research");
        Ok(Some(AccountResearch {
            account_id: parse_id(&id, "account id")?,
            data_hash,
            facts: serde_json::from_str(&facts).map_err(corrupt)?,
            priorities: serde_json::from_str(&priorities).map_err(corrupt)?,
            built_by,
            usage: usage
                .map(|u| serde_json::from_str(&u))
                .transpose()
                .map_err(corrupt)?,
            built_at: from_micros(built_at)?,
        }))
    }

    async fn save_research(
        &self,
        ctx: &CommandContext,
        research: &AccountResearch,
    ) -> StoreResult<()> {
        let facts = serde_json::to_string(&research.facts)
            .map_err(|e| StoreError::Database(e.to_string()))?;
        let priorities = serde_json::to_string(&research.priorities)
            .map_err(|e| StoreError::Database(e.to_string()))?;
        self.write(|tx| {
            tx.execute(
                "INSERT INTO research (account_id, data_hash, facts, priorities, built_by, usage, built_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
                 ON CONFLICT (account_id) DO UPDATE SET data_hash = excluded.data_hash,
                     facts = excluded.facts, priorities = excluded.priorities,
                     built_by = excluded.built_by, usage = excluded.usage, built_at = excluded.built_at",
                params![
                    research.account_id.to_string(),
                    research.data_hash,
                    facts,
                    priorities,
                    research.built_by,
                    research.usage.as_ref().map(|u| u.to_string()),
                    micros(research.built_at),
                ],
            )
            .map_err(|e| {
                if e.to_string().contains("FOREIGN KEY") {
                    StoreError::NotFound {
                        what: format!("account {}", research.account_id),
                    }
                } else {
                    db_err(e)
                }
            })?;
            insert_entry(
                tx,
                ctx,
                &Event::ResearchBuilt {
                    account_id: research.account_id,
                    data_hash: research.data_hash.clone(),
                    built_by: research.built_by.clone(),
                    facts: research.facts.len(),
                },
            )?;
            Ok(())
        })
    }
}
