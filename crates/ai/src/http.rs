//! The HTTP machinery both API backends share: one reqwest client with
//! timeouts, a concurrency limit shared by clones, and retries with
//! exponential backoff and jitter on 429, 5xx and lost connections,
//! honouring `Retry-After`.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Once};
use std::time::{Duration, SystemTime};

use reqwest::StatusCode;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue, RETRY_AFTER};
use serde_json::Value;
use tokio::sync::Semaphore;

use crate::DraftError;

/// How an HTTP backend talks to its endpoint.
#[derive(Debug, Clone, PartialEq)]
pub struct HttpOptions {
    /// One request, connecting included.
    pub timeout: Duration,
    /// Tries per draft, the first included (at least 1).
    pub max_attempts: u32,
    /// The first backoff; it doubles on each retry.
    pub base_delay: Duration,
    /// No backoff grows past this.
    pub max_delay: Duration,
    /// A `Retry-After` asking for longer than this ends the draft as
    /// unavailable instead of stalling the worker.
    pub max_retry_after: Duration,
    /// Requests in flight at once, across every clone of the backend.
    pub concurrency: usize,
}

impl Default for HttpOptions {
    fn default() -> Self {
        HttpOptions {
            timeout: Duration::from_secs(60),
            max_attempts: 4,
            base_delay: Duration::from_millis(500),
            max_delay: Duration::from_secs(8),
            max_retry_after: Duration::from_secs(60),
            concurrency: 8,
        }
    }
}

/// A JSON POST client for one backend. Clones share the connection pool
/// and the concurrency limit.
#[derive(Debug, Clone)]
pub(crate) struct HttpClient {
    backend: &'static str,
    client: reqwest::Client,
    limit: Arc<Semaphore>,
    options: HttpOptions,
}

static RING: Once = Once::new();

/// reqwest is built without a TLS provider of its own (its default pulls
/// aws-lc-rs, a slow C build), so ring is installed as rustls's process
/// default before the first client is made.
fn install_ring() {
    RING.call_once(|| {
        // Err means a provider is already installed, which is just as good.
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
}

impl HttpClient {
    pub(crate) fn new(backend: &'static str, options: HttpOptions) -> Result<Self, DraftError> {
        install_ring();
        let client = reqwest::Client::builder()
            .timeout(options.timeout)
            .connect_timeout(options.timeout.min(Duration::from_secs(10)))
            .build()
            .map_err(|e| {
                DraftError::Config(format!("{backend}: cannot set up the HTTP client: {e}"))
            })?;
        let limit = Arc::new(Semaphore::new(options.concurrency.max(1)));
        Ok(HttpClient {
            backend,
            client,
            limit,
            options,
        })
    }

    /// POSTs `body` as JSON and returns the parsed JSON answer of a 2xx.
    /// Retries what may pass (429, 5xx, connection errors, timeouts) up to
    /// `max_attempts`; any other 4xx is [`DraftError::Rejected`] at once.
    pub(crate) async fn post_json(
        &self,
        url: &str,
        headers: &HeaderMap,
        body: &Value,
    ) -> Result<Value, DraftError> {
        let attempts = self.options.max_attempts.max(1);
        let mut last_failure = String::new();
        for attempt in 1..=attempts {
            let outcome = {
                // The permit covers the request only, not the backoff, so
                // a waiting retry does not hold a slot others could use.
                let _permit = self
                    .limit
                    .acquire()
                    .await
                    .map_err(|_| DraftError::Unavailable {
                        backend: self.backend,
                        detail: "the backend is shutting down".into(),
                    })?;
                self.attempt(url, headers, body).await
            };
            let retry_after = match outcome {
                Attempt::Done(result) => return result,
                Attempt::Retry {
                    failure,
                    retry_after,
                } => {
                    tracing::warn!(
                        backend = self.backend,
                        attempt,
                        attempts,
                        failure = %failure,
                        "model request failed; retrying if attempts remain"
                    );
                    last_failure = failure;
                    retry_after
                }
            };
            if attempt == attempts {
                break;
            }
            let delay = match retry_after {
                Some(wait) if wait > self.options.max_retry_after => {
                    return Err(DraftError::Unavailable {
                        backend: self.backend,
                        detail: format!(
                            "{last_failure}; the endpoint asks to wait {}s, more than the {}s this client waits (try again later)",
                            wait.as_secs(),
                            self.options.max_retry_after.as_secs()
                        ),
                    });
                }
                // Honour the server's wait; a little jitter keeps many
                // workers from returning in the same instant.
                Some(wait) => wait + jitter(wait / 10),
                None => self.backoff(attempt),
            };
            tokio::time::sleep(delay).await;
        }
        Err(DraftError::Unavailable {
            backend: self.backend,
            detail: format!(
                "{last_failure} (gave up after {attempts} attempts; check that the endpoint is up, or raise max_attempts)"
            ),
        })
    }

    async fn attempt(&self, url: &str, headers: &HeaderMap, body: &Value) -> Attempt {
        let response = self
            .client
            .post(url)
            .headers(headers.clone())
            .json(body)
            .send()
            .await;
        let response = match response {
            Ok(response) => response,
            Err(e) => {
                let what = if e.is_timeout() {
                    format!(
                        "no answer from {url} within {}s",
                        self.options.timeout.as_secs()
                    )
                } else if e.is_connect() {
                    format!("cannot connect to {url}: {}", error_chain(&e))
                } else {
                    format!("request to {url} failed: {}", error_chain(&e))
                };
                return Attempt::Retry {
                    failure: what,
                    retry_after: None,
                };
            }
        };
        let status = response.status();
        let retry_after = retry_after(response.headers());
        let text = match response.text().await {
            Ok(text) => text,
            Err(e) => {
                return Attempt::Retry {
                    failure: format!(
                        "the answer from {url} broke off ({status}): {}",
                        error_chain(&e)
                    ),
                    retry_after: None,
                };
            }
        };
        if status.is_success() {
            return Attempt::Done(
                serde_json::from_str(&text).map_err(|e| DraftError::Protocol {
                    backend: self.backend,
                    detail: format!(
                        "{url} answered {status} with a body that is not JSON ({e}): {}",
                        excerpt(&text)
                    ),
                }),
            );
        }
        let message = error_message(&text);
        if retryable(status) {
            return Attempt::Retry {
                failure: format!("{url} answered {status}: {message}"),
                retry_after,
            };
        }
        Attempt::Done(Err(DraftError::Rejected {
            backend: self.backend,
            status: status.as_u16(),
            detail: format!("{message}{}", rejection_hint(status)),
        }))
    }

    /// Exponential backoff with "equal jitter": half fixed, half random,
    /// so retries spread out but never come back immediately.
    fn backoff(&self, attempt: u32) -> Duration {
        let doubled = self
            .options
            .base_delay
            .saturating_mul(1u32 << (attempt - 1).min(16));
        let delay = doubled.min(self.options.max_delay);
        delay / 2 + jitter(delay / 2)
    }
}

enum Attempt {
    Done(Result<Value, DraftError>),
    Retry {
        failure: String,
        retry_after: Option<Duration>,
    },
}

/// 429 (rate limited), 408, and the 5xx family, which includes
/// Anthropic's 529 "overloaded".
fn retryable(status: StatusCode) -> bool {
    status == StatusCode::TOO_MANY_REQUESTS
        || status == StatusCode::REQUEST_TIMEOUT
        || status.is_server_error()
        || status.as_u16() == 529
}

fn rejection_hint(status: StatusCode) -> &'static str {
    match status.as_u16() {
        401 => " (the API key is missing or wrong: check api_key_env / api_key_file in [model])",
        403 => " (the API key may not use this model or endpoint)",
        404 => " (check base_url and model in [model])",
        400 | 422 => {
            " (the endpoint did not accept the request; check model and max_tokens in [model])"
        }
        _ => "",
    }
}

/// `Retry-After` as seconds or as an HTTP date.
pub(crate) fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let value = headers.get(RETRY_AFTER)?.to_str().ok()?.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    if let Ok(seconds) = value.parse::<f64>() {
        return (seconds.is_finite() && seconds >= 0.0).then(|| Duration::from_secs_f64(seconds));
    }
    let when = chrono::DateTime::parse_from_rfc2822(value).ok()?;
    let now = chrono::Utc::now();
    let wait = when.with_timezone(&chrono::Utc) - now;
    Some(wait.to_std().unwrap_or(Duration::ZERO))
}

/// The human part of an error body: OpenAI's and Anthropic's both carry
/// `error.message`; anything else is shown cut short.
fn error_message(body: &str) -> String {
    let parsed: Option<Value> = serde_json::from_str(body).ok();
    let message = parsed.as_ref().and_then(|v| {
        v.pointer("/error/message")
            .or_else(|| v.get("message"))
            .or_else(|| v.get("error"))
            .and_then(Value::as_str)
    });
    match message {
        Some(message) => excerpt(message),
        None if body.trim().is_empty() => "no error message".to_string(),
        None => excerpt(body),
    }
}

pub(crate) fn excerpt(text: &str) -> String {
    const LIMIT: usize = 300;
    let text = text.trim();
    match text.char_indices().nth(LIMIT) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_string(),
    }
}

fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let line = cause.to_string();
        if !text.contains(&line) {
            text.push_str(": ");
            text.push_str(&line);
        }
        source = cause.source();
    }
    text
}

/// A random duration up to `max`. Jitter needs spread, not secrecy: a
/// splitmix64 step over the clock and a counter is enough.
fn jitter(max: Duration) -> Duration {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0);
    let mut z = nanos ^ COUNTER.fetch_add(0x9E37_79B9_7F4A_7C15, Ordering::Relaxed);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^= z >> 31;
    let fraction = (z >> 11) as f64 / (1u64 << 53) as f64;
    max.mul_f64(fraction)
}

/// A header for the request, or a configuration error naming it.
pub(crate) fn header(
    backend: &'static str,
    name: &'static str,
    value: &str,
) -> Result<(HeaderName, HeaderValue), DraftError> {
    let mut value = HeaderValue::from_str(value).map_err(|_| {
        DraftError::Config(format!(
            "{backend}: the value for the {name} header has characters HTTP headers cannot carry (a stray newline in the key file?)"
        ))
    })?;
    if name.eq_ignore_ascii_case("authorization") || name.eq_ignore_ascii_case("x-api-key") {
        value.set_sensitive(true);
    }
    Ok((HeaderName::from_static(name), value))
}

/// `base_url` from `[model]`, checked to be an http(s) URL; `hint` ends
/// the sentence when it is not a URL at all.
pub(crate) fn base_url(
    backend: &str,
    base_url: &str,
    hint: &str,
) -> Result<reqwest::Url, DraftError> {
    let parsed = reqwest::Url::parse(base_url).map_err(|e| {
        DraftError::Config(format!(
            "{backend}: base_url {base_url:?} in [model] is not a URL ({e}); {hint}"
        ))
    })?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(DraftError::Config(format!(
            "{backend}: base_url {base_url:?} in [model] must start with http:// or https://"
        )));
    }
    Ok(parsed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_reads_seconds_and_http_dates() {
        let mut headers = HeaderMap::new();
        headers.insert(RETRY_AFTER, HeaderValue::from_static("3"));
        assert_eq!(retry_after(&headers), Some(Duration::from_secs(3)));
        let later = chrono::Utc::now() + chrono::Duration::seconds(30);
        let date = later.format("%a, %d %b %Y %H:%M:%S GMT").to_string();
        headers.insert(RETRY_AFTER, HeaderValue::from_str(&date).unwrap());
        let wait = retry_after(&headers).unwrap();
        assert!(
            wait > Duration::from_secs(27) && wait <= Duration::from_secs(30),
            "{wait:?}"
        );
        headers.insert(
            RETRY_AFTER,
            HeaderValue::from_static("Sun, 06 Nov 1994 08:49:37 GMT"),
        );
        assert_eq!(
            retry_after(&headers),
            Some(Duration::ZERO),
            "a past date means now"
        );
        headers.insert(RETRY_AFTER, HeaderValue::from_static("soon"));
        assert_eq!(retry_after(&headers), None);
        headers.insert(RETRY_AFTER, HeaderValue::from_static("-5"));
        assert_eq!(retry_after(&headers), None);
    }

    #[test]
    fn backoff_doubles_within_bounds_and_jitters() {
        let client = HttpClient::new(
            "openai",
            HttpOptions {
                base_delay: Duration::from_millis(100),
                max_delay: Duration::from_millis(1000),
                ..HttpOptions::default()
            },
        )
        .unwrap();
        for attempt in 1..=8 {
            let full =
                Duration::from_millis(100 * (1 << (attempt - 1))).min(Duration::from_millis(1000));
            let delay = client.backoff(attempt);
            assert!(
                delay >= full / 2 && delay <= full,
                "attempt {attempt}: {delay:?}"
            );
        }
        let spread: std::collections::BTreeSet<Duration> =
            (0..20).map(|_| client.backoff(3)).collect();
        assert!(spread.len() > 1, "jitter varies the delay");
    }

    #[test]
    fn error_bodies_become_one_line() {
        assert_eq!(
            error_message(
                r#"{"error":{"message":"Incorrect API key provided","type":"invalid_request_error"}}"#
            ),
            "Incorrect API key provided"
        );
        assert_eq!(
            error_message(
                r#"{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}"#
            ),
            "Overloaded"
        );
        assert_eq!(error_message(""), "no error message");
        assert!(error_message(&"x".repeat(1000)).ends_with('…'));
    }
}
