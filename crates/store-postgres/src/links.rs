//! Single-use approve and reject links.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::{Postgres, Row};
use uuid::Uuid;

use handoff_domain::users::Username;
use handoff_domain::{ContactId, DraftId, Event};
use handoff_store::{ApprovalLinks, CommandContext, LinkUse, Redeemed, StoreError, StoreResult};

use crate::rows::db_err;
use crate::{PostgresStore, insert_entry};

async fn read_use<'e, E>(executor: E, nonce: &str) -> StoreResult<Option<LinkUse>>
where
    E: sqlx::Executor<'e, Database = Postgres>,
{
    let row = sqlx::query(
        "SELECT nonce, draft_id, action, used_by, used_at FROM used_links WHERE nonce = $1",
    )
    .bind(nonce)
    .fetch_optional(executor)
    .await
    .map_err(db_err)?;
    row.map(|row| {
        let used_by: String = row.try_get(3).map_err(db_err)?;
        Ok(LinkUse {
            nonce: row.try_get(0).map_err(db_err)?,
            draft_id: DraftId::from_uuid(row.try_get::<Uuid, _>(1).map_err(db_err)?),
            action: row.try_get(2).map_err(db_err)?,
            used_by: Username::parse(&used_by).map_err(|_| StoreError::corrupt("link user"))?,
            used_at: row.try_get::<DateTime<Utc>, _>(4).map_err(db_err)?,
        })
    })
    .transpose()
}

#[async_trait]
impl ApprovalLinks for PostgresStore {
    async fn redeem_link(&self, ctx: &CommandContext, link: &LinkUse) -> StoreResult<Redeemed> {
        let mut tx = self.pool().begin().await.map_err(db_err)?;
        let contact: Option<Uuid> =
            sqlx::query_scalar("SELECT contact_id FROM drafts WHERE id = $1")
                .bind(link.draft_id.as_uuid())
                .fetch_optional(&mut *tx)
                .await
                .map_err(db_err)?;
        let Some(contact) = contact else {
            return Err(StoreError::NotFound {
                what: format!("draft {}", link.draft_id),
            });
        };
        // Two clicks at once: one insert wins, the other reads its row.
        let inserted = sqlx::query(
            "INSERT INTO used_links (nonce, draft_id, action, used_by, used_at) VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT (nonce) DO NOTHING",
        )
        .bind(&link.nonce)
        .bind(link.draft_id.as_uuid())
        .bind(&link.action)
        .bind(link.used_by.as_str())
        .bind(ctx.now)
        .execute(&mut *tx)
        .await
        .map_err(db_err)?
        .rows_affected();
        if inserted == 0 {
            let used = read_use(&mut *tx, &link.nonce).await?;
            return used
                .map(Redeemed::AlreadyUsed)
                .ok_or_else(|| StoreError::Database("a used link vanished".into()));
        }
        insert_entry(
            &mut tx,
            ctx,
            &Event::ApprovalLinkUsed {
                draft_id: link.draft_id,
                contact_id: ContactId::from_uuid(contact),
                action: link.action.clone(),
                nonce: link.nonce.clone(),
            },
        )
        .await?;
        tx.commit().await.map_err(db_err)?;
        Ok(Redeemed::First)
    }

    async fn link_use(&self, nonce: &str) -> StoreResult<Option<LinkUse>> {
        read_use(self.pool(), nonce).await
    }
}
