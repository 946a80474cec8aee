//! `handoff verify --all`: check every contact's address and store the
//! verdict, with bounded concurrency (the DNS cache makes repeated domains
//! cheap).

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::Serialize;
use tokio::task::JoinSet;

use handoff_domain::ContactId;
use handoff_domain::verification::Verdict;
use handoff_mail::address::verify::Verifier;
use handoff_store::{CommandContext, Contact, Store, StoreError};

#[derive(Debug, Clone, Default, Serialize)]
pub struct VerifySummary {
    pub checked: u64,
    /// "valid", "risky (role_account)", ... → count.
    pub by_verdict: BTreeMap<String, u64>,
}

/// Verifies every contact, `concurrency` at a time; `progress(done)` after
/// each page.
pub async fn verify_all(
    store: Arc<dyn Store>,
    ctx: &CommandContext,
    verifier: &Verifier,
    concurrency: usize,
    progress: &(dyn Fn(u64) + Sync),
) -> Result<VerifySummary, StoreError> {
    let mut summary = VerifySummary::default();
    let mut after = None;
    loop {
        let page = store.list_contacts(after, 2_000).await?;
        let Some(last) = page.last() else { break };
        after = Some(last.id);
        let results = if verifier.is_offline() {
            // Nothing to wait for: a task per address would only add overhead.
            let mut results = Vec::with_capacity(page.len());
            for contact in &page {
                results.push((
                    contact.id,
                    verifier.check(contact.email.as_str()).await.verdict,
                ));
            }
            results
        } else {
            check_concurrently(verifier, page, concurrency).await?
        };
        store.record_verifications(ctx, &results).await?;
        for (_, verdict) in &results {
            summary.checked += 1;
            *summary.by_verdict.entry(verdict.to_string()).or_default() += 1;
        }
        progress(summary.checked);
    }
    Ok(summary)
}

/// Checks a page of contacts, `concurrency` lookups in flight at once.
async fn check_concurrently(
    verifier: &Verifier,
    page: Vec<Contact>,
    concurrency: usize,
) -> Result<Vec<(ContactId, Verdict)>, StoreError> {
    let mut tasks = JoinSet::new();
    let mut pending = page.into_iter();
    let mut results = Vec::new();
    loop {
        while tasks.len() < concurrency.max(1) {
            let Some(contact) = pending.next() else { break };
            let verifier = verifier.clone();
            tasks.spawn(async move {
                let check = verifier.check(contact.email.as_str()).await;
                (contact.id, check.verdict)
            });
        }
        match tasks.join_next().await {
            Some(Ok(result)) => results.push(result),
            Some(Err(e)) => {
                return Err(StoreError::Database(format!(
                    "a verification task failed: {e}"
                )));
            }
            None => return Ok(results),
        }
    }
}
