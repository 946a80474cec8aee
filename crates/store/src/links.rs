//! Single-use approve and reject links: the store remembers each use.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::Serialize;

use handoff_domain::DraftId;
use handoff_domain::users::Username;

use crate::{CommandContext, StoreResult};

/// One use of a link.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LinkUse {
    pub nonce: String,
    pub draft_id: DraftId,
    /// `approve` or `reject`.
    pub action: String,
    pub used_by: Username,
    pub used_at: DateTime<Utc>,
}

/// What redeeming a link found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Redeemed {
    /// This use is the first: go ahead.
    First,
    /// Used before; nothing may happen now.
    AlreadyUsed(LinkUse),
}

#[async_trait]
pub trait ApprovalLinks: Send + Sync {
    /// Records the use (`used_at` is the context's time) with its ledger
    /// entry, unless the nonce was used before. NotFound when the draft
    /// does not exist.
    async fn redeem_link(&self, ctx: &CommandContext, link: &LinkUse) -> StoreResult<Redeemed>;
    /// The use of a link, if it was used.
    async fn link_use(&self, nonce: &str) -> StoreResult<Option<LinkUse>>;
}
