//! The sender: one pass recovers expired leases (as `in_doubt`), claims
//! due messages (the store re-checks approval and stop conditions in the
//! claim's transaction), composes each, hands it to a [`Transport`] outside
//! any transaction, and records the outcome fenced by the lease.
//!
//! With a [`SendPolicy`] (the playbook's mailboxes and `[sending]`), a pass
//! first records it in the store; every claim then applies it in its own
//! transaction: send windows, days off, caps, spacing, rotation, breakers.
//!
//! At most `concurrency` messages are in `sending` per sender at any time:
//! a message is claimed only when one in hand has its outcome recorded. A
//! sender that dies therefore leaves at most `concurrency` messages in doubt.

use std::collections::HashMap;
use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;
use sha2::{Digest, Sha256};
use tokio::task::JoinSet;

use handoff_domain::schedule::SendPolicy;
use handoff_domain::{Actor, EmailAddress, MessageId};
use handoff_mail::outbound::{
    DeliveryError, DkimSigner, Envelope, MessageId as RfcMessageId, OutgoingMessage, Receipt,
    Transport, UnsubscribeLink, compose, compose::Thread,
};
use handoff_store::{
    ClaimedMessage, CommandContext, Fenced, MessageClaim, MessageFailure, Store, StoreError,
};

/// Where each mailbox's messages go.
#[derive(Debug, Clone)]
pub struct Transports {
    by_mailbox: HashMap<String, Arc<dyn Transport>>,
    fallback: Arc<dyn Transport>,
    signers: HashMap<String, Arc<DkimSigner>>,
}

impl Transports {
    /// Every mailbox without its own transport uses `fallback` (the file
    /// outbox when no SMTP is configured).
    pub fn new(fallback: Arc<dyn Transport>) -> Self {
        Self {
            by_mailbox: HashMap::new(),
            fallback,
            signers: HashMap::new(),
        }
    }

    /// Messages from `mailbox` are DKIM-signed with `signer`.
    pub fn with_signer(mut self, mailbox: &EmailAddress, signer: Arc<DkimSigner>) -> Self {
        self.signers.insert(mailbox.as_str().to_string(), signer);
        self
    }

    pub fn signer_for(&self, mailbox: &EmailAddress) -> Option<Arc<DkimSigner>> {
        self.signers.get(mailbox.as_str()).cloned()
    }

    pub fn with_mailbox(mut self, mailbox: &EmailAddress, transport: Arc<dyn Transport>) -> Self {
        self.by_mailbox
            .insert(mailbox.as_str().to_string(), transport);
        self
    }

    pub fn for_mailbox(&self, mailbox: &EmailAddress) -> Arc<dyn Transport> {
        self.by_mailbox
            .get(mailbox.as_str())
            .cloned()
            .unwrap_or_else(|| self.fallback.clone())
    }
}

#[derive(Debug, Clone)]
pub struct SendConfig {
    /// Names the lease holder in the store and the ledger.
    pub worker: String,
    pub lease: Duration,
    /// Messages handed to transports at once (and most left in doubt if
    /// this sender dies).
    pub concurrency: u32,
    /// Temporary failures tried this many times in all, then `failed`.
    pub max_attempts: u32,
    /// The workspace's postal address, in every footer.
    pub physical_address: String,
    /// The base of unsubscribe links.
    pub public_url: String,
    /// Signs unsubscribe tokens (see [`unsubscribe_token`]).
    pub unsubscribe_key: Vec<u8>,
}

#[derive(Debug, thiserror::Error)]
pub enum SendError {
    #[error("the database refused the send pass: {0}")]
    Store(#[from] StoreError),
    #[error("a send task stopped unexpectedly: {0}")]
    Task(String),
}

/// One message in a report.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SendLine {
    pub message_id: MessageId,
    pub rfc_message_id: String,
    pub to: Option<String>,
    pub detail: String,
    /// A held message that stays queued: when it is looked at again.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub until: Option<DateTime<Utc>>,
    /// Why the scheduler held it: `window`, `cap`, `spacing`, `frequency`,
    /// `paused`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub waits: Vec<String>,
}

/// What one pass did.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct SendReport {
    /// Left in `sending` by a dead sender: now in doubt.
    pub recovered: Vec<SendLine>,
    pub sent: Vec<SendLine>,
    /// Not sent now; `failed` for a permanent reason, else still queued.
    pub held: Vec<SendLine>,
    pub failed: Vec<SendLine>,
    pub deferred: Vec<SendLine>,
    pub in_doubt: Vec<SendLine>,
    /// Outcomes this sender could not record: its lease had moved on.
    pub lease_lost: Vec<SendLine>,
}

impl SendReport {
    pub fn is_empty(&self) -> bool {
        self.recovered.is_empty()
            && self.sent.is_empty()
            && self.held.is_empty()
            && self.failed.is_empty()
            && self.deferred.is_empty()
            && self.in_doubt.is_empty()
            && self.lease_lost.is_empty()
    }
}

#[derive(Debug)]
pub struct Sender {
    store: Arc<dyn Store>,
    transports: Transports,
    config: SendConfig,
    policy: Option<SendPolicy>,
}

enum Outcome {
    Sent(String),
    Failed(MessageFailure),
    Deferred(String, DateTime<Utc>),
    InDoubt(String),
}

impl Sender {
    pub fn new(store: Arc<dyn Store>, transports: Transports, config: SendConfig) -> Self {
        Self {
            store,
            transports,
            config,
            policy: None,
        }
    }

    /// Paces sends by the playbook's rules: each pass records them first.
    pub fn with_policy(mut self, policy: SendPolicy) -> Self {
        self.policy = Some(policy);
        self
    }

    fn ctx(&self, now: DateTime<Utc>) -> CommandContext {
        CommandContext::new(Actor::system("sender"), None).at(now)
    }

    /// Sends everything due: as of `at` (fixed, for dry runs and tests),
    /// else as of the clock at each batch.
    pub async fn run_once(&self, at: Option<DateTime<Utc>>) -> Result<SendReport, SendError> {
        self.run_until(at, &|| false).await
    }

    /// As [`Sender::run_once`], but checks `stop` before claiming each
    /// batch: a stopping process records the batch in hand and claims no
    /// more.
    pub async fn run_until(
        &self,
        at: Option<DateTime<Utc>>,
        stop: &(dyn Fn() -> bool + Sync),
    ) -> Result<SendReport, SendError> {
        let clock = move || at.unwrap_or_else(Utc::now);
        let mut report = SendReport::default();
        let now = clock();
        if let Some(policy) = &self.policy {
            self.store
                .record_send_policy(&self.ctx(now), policy)
                .await?;
        }
        for m in self.store.recover_expired(&self.ctx(now), now).await? {
            report.recovered.push(SendLine {
                message_id: m.id,
                rfc_message_id: m.rfc_message_id,
                to: None,
                detail: "left in sending by a sender that stopped: in doubt".into(),
                until: None,
                waits: Vec::new(),
            });
        }
        // A sliding window: a message is claimed only when one in hand has
        // its outcome recorded, so at most `concurrency` are ever claimed
        // and unrecorded (the most a crash can leave in doubt), and a slow
        // server answer holds up one slot, not a whole batch.
        let limit = self.config.concurrency.max(1) as usize;
        // Claim again once half the window is free: one claim transaction
        // per several messages, not per message.
        let refill_at = limit / 2;
        let mut tasks = JoinSet::new();
        let mut exhausted = false;
        loop {
            if !exhausted && !stop() && tasks.len() <= refill_at {
                let now = clock();
                let room = u32::try_from(limit - tasks.len()).unwrap_or(1);
                let batch = self
                    .store
                    .claim_messages(
                        &self.ctx(now),
                        &MessageClaim {
                            now,
                            lease: self.config.lease,
                            limit: room,
                            worker: self.config.worker.clone(),
                        },
                    )
                    .await?;
                if batch.claimed.is_empty() && batch.held.is_empty() {
                    exhausted = true;
                }
                let progressed = !batch.claimed.is_empty() || !batch.held.is_empty();
                for held in batch.held {
                    let waits = match &held.reason {
                        handoff_store::HoldReason::Paced { waits, .. } => waits.clone(),
                        _ => Vec::new(),
                    };
                    report.held.push(SendLine {
                        message_id: held.message.id,
                        rfc_message_id: held.message.rfc_message_id,
                        to: None,
                        until: (!held.failed).then(|| held.reason.until()).flatten(),
                        waits,
                        detail: format!(
                            "{}{}",
                            held.reason.describe(),
                            if held.failed {
                                " (failed)"
                            } else {
                                " (still queued)"
                            }
                        ),
                    });
                }
                for claimed in batch.claimed {
                    let transport = self.transports.for_mailbox(&claimed.message.mailbox);
                    let signer = self.transports.signer_for(&claimed.message.mailbox);
                    let config = self.config.clone();
                    tasks.spawn(async move {
                        let outcome = deliver(
                            &config,
                            transport.as_ref(),
                            signer.as_deref(),
                            &claimed,
                            clock(),
                        )
                        .await;
                        (claimed, outcome)
                    });
                }
                if progressed && tasks.len() <= refill_at {
                    // Room left and the queue answered: ask again before waiting.
                    continue;
                }
            }
            match tasks.join_next().await {
                Some(joined) => {
                    let (claimed, outcome) = joined.map_err(|e| SendError::Task(e.to_string()))?;
                    self.record(&claimed, outcome, clock(), &mut report).await?;
                }
                None if exhausted || stop() => break,
                None => {}
            }
        }
        Ok(report)
    }

    async fn record(
        &self,
        claimed: &ClaimedMessage,
        outcome: Outcome,
        now: DateTime<Utc>,
        report: &mut SendReport,
    ) -> Result<(), SendError> {
        let ctx = self.ctx(now);
        let line = |detail: String| SendLine {
            message_id: claimed.message.id,
            rfc_message_id: claimed.message.rfc_message_id.clone(),
            to: Some(claimed.to.as_str().to_string()),
            detail,
            until: None,
            waits: Vec::new(),
        };
        let (fenced, list, detail) = match outcome {
            Outcome::Sent(receipt) => (
                self.store.mark_sent(&ctx, claimed, &receipt).await?,
                &mut report.sent,
                receipt,
            ),
            Outcome::Failed(failure) => (
                self.store.mark_failed(&ctx, claimed, &failure).await?,
                &mut report.failed,
                failure.describe(),
            ),
            Outcome::Deferred(error, retry_at) => (
                self.store
                    .mark_deferred(&ctx, claimed, &error, retry_at)
                    .await?,
                &mut report.deferred,
                format!("{error}; retry at {}", retry_at.format("%H:%M:%S UTC")),
            ),
            Outcome::InDoubt(reason) => (
                self.store.mark_in_doubt(&ctx, claimed, &reason).await?,
                &mut report.in_doubt,
                reason,
            ),
        };
        match fenced {
            Fenced::Recorded => list.push(line(detail)),
            Fenced::LeaseLost => report.lease_lost.push(line(detail)),
        }
        Ok(())
    }
}

/// Composes and hands over one message; never panics, never retries.
async fn deliver(
    config: &SendConfig,
    transport: &dyn Transport,
    signer: Option<&DkimSigner>,
    claimed: &ClaimedMessage,
    now: DateTime<Utc>,
) -> Outcome {
    let unsendable = |reason: String| Outcome::Failed(MessageFailure::Unsendable { reason });
    let message_id = match RfcMessageId::parse(&claimed.message.rfc_message_id) {
        Ok(id) => id,
        Err(e) => return unsendable(e.to_string()),
    };
    let token = unsubscribe_token(&config.unsubscribe_key, claimed.message.id);
    let unsubscribe = match UnsubscribeLink::new(&config.public_url, &token) {
        Ok(link) => link,
        Err(e) => return unsendable(e.to_string()),
    };
    let thread = match claimed
        .message
        .in_reply_to
        .as_deref()
        .map(RfcMessageId::parse)
    {
        None => None,
        Some(Ok(parent)) => {
            // The whole chain the store found, oldest first; at least the parent.
            let mut references = Vec::new();
            for id in claimed.thread.iter().flat_map(|t| &t.references) {
                match RfcMessageId::parse(id) {
                    Ok(id) => references.push(id),
                    Err(e) => return unsendable(format!("its References are not usable: {e}")),
                }
            }
            if references.is_empty() {
                references.push(parent.clone());
            }
            Some(Thread {
                in_reply_to: parent,
                references,
            })
        }
        Some(Err(e)) => return unsendable(format!("its In-Reply-To is not usable: {e}")),
    };
    // A follow-up answers the first message: "Re: " its subject.
    let subject = match &claimed.thread {
        Some(thread) => thread.root_subject.clone(),
        None => claimed.subject.clone(),
    };
    let mut composed = match compose(&OutgoingMessage {
        from: claimed.message.mailbox.clone(),
        from_name: None,
        to: claimed.to.clone(),
        to_name: claimed.to_name.clone(),
        subject,
        body: claimed.body.clone(),
        message_id: message_id.clone(),
        thread,
        physical_address: config.physical_address.clone(),
        unsubscribe,
        date: None,
    }) {
        Ok(c) => c,
        Err(e) => return unsendable(e.to_string()),
    };
    if let Some(signer) = signer {
        composed.sign(signer);
    }
    let raw = composed.to_bytes();
    let envelope = Envelope {
        from: &claimed.message.mailbox,
        to: &claimed.to,
        message_id: &message_id,
        raw: &raw,
    };
    match transport.deliver(envelope).await {
        Ok(delivered) => Outcome::Sent(receipt_text(&delivered.receipt)),
        // The outbox already holds it: delivered by an earlier attempt.
        Err(DeliveryError::AlreadyDelivered { path, .. }) => {
            Outcome::Sent(format!("already in the outbox as {}", path.display()))
        }
        Err(e) if e.is_in_doubt() => Outcome::InDoubt(e.to_string()),
        Err(e) if e.is_retryable() && claimed.attempts < config.max_attempts => {
            let backoff = Duration::minutes(1 << claimed.attempts.min(10));
            Outcome::Deferred(e.to_string(), now + backoff)
        }
        Err(e) if e.is_retryable() => Outcome::Failed(MessageFailure::GaveUp {
            attempts: claimed.attempts,
            last_error: e.to_string(),
        }),
        Err(DeliveryError::Rejected { code, reply, .. }) => {
            Outcome::Failed(MessageFailure::Rejected { code, reply })
        }
        Err(e) => unsendable(e.to_string()),
    }
}

fn receipt_text(receipt: &Receipt) -> String {
    match receipt {
        Receipt::Smtp { code, reply } => format!("{code} {reply}"),
        Receipt::File { path } => format!("written to {}", path.display()),
    }
}

/// HMAC-SHA256 (RFC 2104).
pub(crate) fn hmac_sha256(key: &[u8], data: &[u8]) -> [u8; 32] {
    const BLOCK: usize = 64;
    let mut k = [0u8; BLOCK];
    if key.len() > BLOCK {
        k[..32].copy_from_slice(&Sha256::digest(key));
    } else {
        k[..key.len()].copy_from_slice(key);
    }
    let pad = |byte: u8| k.map(|b| b ^ byte);
    let inner = Sha256::new()
        .chain_update(pad(0x36))
        .chain_update(data)
        .finalize();
    Sha256::new()
        .chain_update(pad(0x5c))
        .chain_update(inner)
        .finalize()
        .into()
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// `MESSAGE-ID.SIGNATURE`: the message's id and the first 128 bits of an
/// HMAC-SHA256 of it. Whoever holds the link can unsubscribe that
/// message's recipient, and nobody can forge one for another message.
pub fn unsubscribe_token(key: &[u8], message: MessageId) -> String {
    let id = message.to_string();
    let mac = hmac_sha256(key, id.as_bytes());
    format!("{id}.{}", hex(&mac[..16]))
}

/// The message a token names, if its signature is right.
pub fn verify_unsubscribe_token(key: &[u8], token: &str) -> Option<MessageId> {
    let (id, _) = token.rsplit_once('.')?;
    let message: MessageId = id.parse().ok()?;
    // Compare whole tokens in constant time over their bytes.
    let expected = unsubscribe_token(key, message);
    let same = expected.len() == token.len()
        && expected
            .bytes()
            .zip(token.bytes())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0;
    same.then_some(message)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hmac_matches_rfc_4231_case_2() {
        let mac = hmac_sha256(b"Jefe", b"what do ya want for nothing?");
        assert_eq!(
            hex(&mac),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn tokens_verify_and_refuse_tampering() {
        let key = b"a key of the workspace";
        let id = MessageId::new();
        let token = unsubscribe_token(key, id);
        assert_eq!(verify_unsubscribe_token(key, &token), Some(id));
        assert_eq!(verify_unsubscribe_token(b"another key", &token), None);
        let other = unsubscribe_token(key, MessageId::new());
        let (other_id, _) = other.rsplit_once('.').unwrap();
        let (_, sig) = token.rsplit_once('.').unwrap();
        assert_eq!(
            verify_unsubscribe_token(key, &format!("{other_id}.{sig}")),
            None
        );
        assert_eq!(verify_unsubscribe_token(key, "garbage"), None);
        assert_eq!(verify_unsubscribe_token(key, ""), None);
        // Tokens are URL-safe, as the unsubscribe link requires.
        assert!(UnsubscribeLink::new("https://sales.example.com", &token).is_ok());
    }
}
