//! Account research on PostgreSQL: one row per account, replaced when
//! rebuilt.

use async_trait::async_trait;
use sqlx::Row;
use sqlx::types::Json;

use handoff_domain::{AccountId, Event};
use handoff_store::{AccountResearch, CommandContext, Research, StoreError, StoreResult};

use crate::rows::db_err;
use crate::workflow::fk_or;
use crate::{PostgresStore, insert_entry};

#[async_trait]
impl Research for PostgresStore {
    async fn account_research(&self, account: AccountId) -> StoreResult<Option<AccountResearch>> {
        let Some(row) = sqlx::query("SELECT * FROM research WHERE account_id = $1")
            .bind(account.as_uuid())
            .fetch_optional(self.pool())
            .await
            .map_err(db_err)?
        else {
            return Ok(None);
        };
        let Json(facts): Json<Vec<(String, String)>> = row
            .try_get("facts")
            .map_err(|_| StoreError::corrupt("account research facts"))?;
        let Json(priorities): Json<Vec<String>> = row
            .try_get("priorities")
            .map_err(|_| StoreError::corrupt("account research priorities"))?;
        Ok(Some(AccountResearch {
            account_id: AccountId::from_uuid(row.try_get("account_id").map_err(db_err)?),
            data_hash: row.try_get("data_hash").map_err(db_err)?,
            facts,
            priorities,
            built_by: row.try_get("built_by").map_err(db_err)?,
            usage: row.try_get("usage").map_err(db_err)?,
            built_at: row.try_get("built_at").map_err(db_err)?,
        }))
    }

    async fn save_research(
        &self,
        ctx: &CommandContext,
        research: &AccountResearch,
    ) -> StoreResult<()> {
        let mut tx = self.pool().begin().await.map_err(db_err)?;
        sqlx::query(
            "INSERT INTO research (account_id, data_hash, facts, priorities, built_by, usage, built_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7)
             ON CONFLICT (account_id) DO UPDATE SET data_hash = excluded.data_hash,
                 facts = excluded.facts, priorities = excluded.priorities,
                 built_by = excluded.built_by, usage = excluded.usage, built_at = excluded.built_at",
        )
        .bind(research.account_id.as_uuid())
        .bind(&research.data_hash)
        .bind(Json(&research.facts))
        .bind(Json(&research.priorities))
        .bind(&research.built_by)
        .bind(&research.usage)
        .bind(research.built_at)
        .execute(&mut *tx)
        .await
        .map_err(|e| fk_or(e, || format!("account {}", research.account_id)))?;
        insert_entry(
            &mut tx,
            ctx,
            &Event::ResearchBuilt {
                account_id: research.account_id,
                data_hash: research.data_hash.clone(),
                built_by: research.built_by.clone(),
                facts: research.facts.len(),
            },
        )
        .await?;
        tx.commit().await.map_err(db_err)?;
        Ok(())
    }
}
