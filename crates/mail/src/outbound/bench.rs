//! Throughput measurement for `handoff bench send`: the same prebuilt
//! messages through a bare lettre `AsyncSmtpTransport` loop (the baseline)
//! and through any [`Transport`], against the same server in the same run.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use handoff_domain::email::EmailAddress;
use lettre::transport::smtp::PoolConfig;
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::Tls;
use lettre::{AsyncSmtpTransport, AsyncTransport as _, Tokio1Executor};
use secrecy::ExposeSecret as _;

use super::smtp::{Security, SmtpConfig, SmtpConfigError, tls_parameters};
use super::{Envelope, MessageId, Transport};

/// A message ready to send: composed, signed, turned into bytes.
#[derive(Debug, Clone)]
pub struct BenchMessage {
    pub from: EmailAddress,
    pub to: EmailAddress,
    pub message_id: MessageId,
    pub raw: Vec<u8>,
}

/// What one run did.
#[derive(Debug, Clone, PartialEq)]
pub struct BenchRun {
    pub sent: usize,
    pub failed: usize,
    pub elapsed: Duration,
    /// The first failure, to show why.
    pub first_error: Option<String>,
}

impl BenchRun {
    pub fn per_second(&self) -> f64 {
        let seconds = self.elapsed.as_secs_f64();
        if seconds > 0.0 {
            self.sent as f64 / seconds
        } else {
            0.0
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BenchError {
    #[error(transparent)]
    Config(#[from] SmtpConfigError),
    #[error("`{address}` cannot be used in SMTP: {reason}")]
    Address { address: String, reason: String },
}

/// Sends every message through lettre's pooled `AsyncSmtpTransport` with
/// `concurrency` senders and nothing else around it.
pub async fn lettre_baseline(
    config: &SmtpConfig,
    messages: Arc<Vec<BenchMessage>>,
    concurrency: usize,
) -> Result<BenchRun, BenchError> {
    let tls = match (config.security, tls_parameters(config)?) {
        (Security::ImplicitTls, Some(parameters)) => Tls::Wrapper(parameters),
        (Security::Starttls, Some(parameters)) => Tls::Required(parameters),
        _ => Tls::None,
    };
    let concurrency = concurrency.max(1);
    let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(config.host.trim())
        .port(config.port)
        .tls(tls)
        .timeout(Some(config.command_timeout))
        .pool_config(PoolConfig::new().max_size(u32::try_from(concurrency).unwrap_or(u32::MAX)));
    if let Some(credentials) = &config.credentials {
        builder = builder.credentials(Credentials::new(
            credentials.username.clone(),
            credentials.password.expose_secret().to_owned(),
        ));
    }
    let transport = builder.build();
    let mut envelopes = Vec::with_capacity(messages.len());
    for message in messages.iter() {
        let address = |address: &EmailAddress| {
            address
                .as_str()
                .parse::<lettre::Address>()
                .map_err(|e| BenchError::Address {
                    address: address.to_string(),
                    reason: e.to_string(),
                })
        };
        envelopes.push(
            lettre::address::Envelope::new(
                Some(address(&message.from)?),
                vec![address(&message.to)?],
            )
            .map_err(|e| BenchError::Address {
                address: message.to.to_string(),
                reason: e.to_string(),
            })?,
        );
    }
    let envelopes = Arc::new(envelopes);
    let run = run_concurrently(messages.len(), concurrency, move |index| {
        let transport = transport.clone();
        let envelopes = Arc::clone(&envelopes);
        let messages = Arc::clone(&messages);
        async move {
            transport
                .send_raw(&envelopes[index], &messages[index].raw)
                .await
                .map(drop)
                .map_err(|e| e.to_string())
        }
    })
    .await;
    Ok(run)
}

/// Sends every message through `transport` with `concurrency` senders.
pub async fn through_transport(
    transport: Arc<dyn Transport>,
    messages: Arc<Vec<BenchMessage>>,
    concurrency: usize,
) -> BenchRun {
    run_concurrently(messages.len(), concurrency.max(1), move |index| {
        let transport = Arc::clone(&transport);
        let messages = Arc::clone(&messages);
        async move {
            let message = &messages[index];
            transport
                .deliver(Envelope {
                    from: &message.from,
                    to: &message.to,
                    message_id: &message.message_id,
                    raw: &message.raw,
                })
                .await
                .map(drop)
                .map_err(|e| e.to_string())
        }
    })
    .await
}

/// Runs `send(0..count)` on `concurrency` tasks that take the next index
/// as they finish the last.
async fn run_concurrently<F, Fut>(count: usize, concurrency: usize, send: F) -> BenchRun
where
    F: Fn(usize) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<(), String>> + Send + 'static,
{
    let next = Arc::new(AtomicUsize::new(0));
    let send = Arc::new(send);
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..concurrency.min(count.max(1)) {
        let next = Arc::clone(&next);
        let send = Arc::clone(&send);
        tasks.spawn(async move {
            let (mut sent, mut failed, mut first_error) = (0, 0, None);
            loop {
                let index = next.fetch_add(1, Ordering::Relaxed);
                if index >= count {
                    break;
                }
                match send(index).await {
                    Ok(()) => sent += 1,
                    Err(error) => {
                        failed += 1;
                        first_error.get_or_insert(error);
                    }
                }
            }
            (sent, failed, first_error)
        });
    }
    let mut run = BenchRun {
        sent: 0,
        failed: 0,
        elapsed: Duration::ZERO,
        first_error: None,
    };
    while let Some(joined) = tasks.join_next().await {
        match joined {
            Ok((sent, failed, first_error)) => {
                run.sent += sent;
                run.failed += failed;
                if run.first_error.is_none() {
                    run.first_error = first_error;
                }
            }
            Err(error) => {
                run.first_error
                    .get_or_insert(format!("a sender task failed: {error}"));
            }
        }
    }
    run.elapsed = started.elapsed();
    run
}
