//! Single-use approve and reject links.

use async_trait::async_trait;
use rusqlite::{OptionalExtension, params};

use handoff_domain::users::Username;
use handoff_domain::{ContactId, Event};
use handoff_store::{ApprovalLinks, CommandContext, LinkUse, Redeemed, StoreError, StoreResult};

use crate::rows::{db_err, from_micros, micros, parse_id};
use crate::{SqliteStore, insert_entry};

fn read_use(conn: &rusqlite::Connection, nonce: &str) -> StoreResult<Option<LinkUse>> {
    let row: Option<(String, String, String, String, i64)> = conn
        .query_row(
            "SELECT nonce, draft_id, action, used_by, used_at FROM used_links WHERE nonce = ?1",
            [nonce],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)),
        )
        .optional()
        .map_err(db_err)?;
    row.map(|(nonce, draft, action, used_by, used_at)| {
        Ok(LinkUse {
            nonce,
            draft_id: parse_id(&draft, "draft id")?,
            action,
            used_by: Username::parse(&used_by).map_err(|_| StoreError::corrupt("link user"))?,
            used_at: from_micros(used_at)?,
        })
    })
    .transpose()
}

#[async_trait]
impl ApprovalLinks for SqliteStore {
    async fn redeem_link(&self, ctx: &CommandContext, link: &LinkUse) -> StoreResult<Redeemed> {
        self.write(|tx| {
            if let Some(used) = read_use(tx, &link.nonce)? {
                return Ok(Redeemed::AlreadyUsed(used));
            }
            let contact: Option<String> = tx
                .query_row(
                    "SELECT contact_id FROM drafts WHERE id = ?1",
                    [link.draft_id.to_string()],
                    |r| r.get(0),
                )
                .optional()
                .map_err(db_err)?;
            let Some(contact) = contact else {
                return Err(StoreError::NotFound {
                    what: format!("draft {}", link.draft_id),
                });
            };
            let contact_id: ContactId = parse_id(&contact, "contact id")?;
            tx.execute(
                "INSERT INTO used_links (nonce, draft_id, action, used_by, used_at) VALUES (?1, ?2, ?3, ?4, ?5)",
                params![
                    link.nonce,
                    link.draft_id.to_string(),
                    link.action,
                    link.used_by.as_str(),
                    micros(ctx.now)
                ],
            )
            .map_err(db_err)?;
            insert_entry(
                tx,
                ctx,
                &Event::ApprovalLinkUsed {
                    draft_id: link.draft_id,
                    contact_id,
                    action: link.action.clone(),
                    nonce: link.nonce.clone(),
                },
            )?;
            Ok(Redeemed::First)
        })
    }

    async fn link_use(&self, nonce: &str) -> StoreResult<Option<LinkUse>> {
        let conn = self.reader();
        read_use(&conn, nonce)
    }
}
