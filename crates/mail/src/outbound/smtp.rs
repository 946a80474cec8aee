//! Delivery to an SMTP server (submission with auth, or a local relay).
//!
//! Built on lettre's SMTP connection rather than `AsyncSmtpTransport`:
//! `send_raw` reports a connection dropped while greeting and one dropped
//! after the final dot the same way, and only the second may have delivered
//! the message. Here each step is known, so a failure before the body was
//! sent is "not delivered" (safe to retry) and one after it is
//! [`DeliveryError::InDoubt`].

use std::fmt;
use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use lettre::transport::smtp::authentication::{Credentials, Mechanism};
use lettre::transport::smtp::client::{AsyncSmtpConnection, Certificate, TlsParameters};
use lettre::transport::smtp::commands::{Data, Mail, Rcpt, Rset};
use lettre::transport::smtp::extension::{ClientId, Extension, MailBodyParameter, MailParameter};
use lettre::transport::smtp::response::Response;
use secrecy::{ExposeSecret as _, SecretString};

use super::{Delivered, DeliveryError, Envelope, Receipt, SmtpStep, Transport};

/// How the connection is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Security {
    /// TLS from the first byte (usually port 465).
    ImplicitTls,
    /// Plain connection upgraded with STARTTLS, which must be offered
    /// (usually port 587).
    Starttls,
    /// No encryption: only for a relay on this machine.
    None,
}

impl From<handoff_domain::playbook::Tls> for Security {
    fn from(tls: handoff_domain::playbook::Tls) -> Self {
        use handoff_domain::playbook::Tls;
        match tls {
            Tls::Implicit => Self::ImplicitTls,
            Tls::Starttls => Self::Starttls,
            Tls::None => Self::None,
        }
    }
}

/// Login for SMTP submission.
#[derive(Debug, Clone)]
pub struct SmtpCredentials {
    pub username: String,
    pub password: SecretString,
}

/// One SMTP server and how to talk to it.
#[derive(Debug, Clone)]
pub struct SmtpConfig {
    pub host: String,
    pub port: u16,
    pub security: Security,
    pub credentials: Option<SmtpCredentials>,
    /// The EHLO name; `None`: this machine's host name.
    pub hello_name: Option<String>,
    /// PEM files of certificate authorities to trust besides the public
    /// ones, for a relay with a private CA.
    pub extra_root_certificates: Vec<PathBuf>,
    /// TCP connect (and TLS handshake) time limit.
    pub connect_timeout: Duration,
    /// Time limit for each command's reply.
    pub command_timeout: Duration,
    /// Time limit for sending the message and reading the final reply.
    pub data_timeout: Duration,
    /// Connections kept open between messages.
    pub max_idle_connections: usize,
    /// An idle connection older than this is closed rather than reused.
    pub idle_timeout: Duration,
}

impl SmtpConfig {
    /// Defaults for timeouts and pooling.
    pub fn new(host: impl Into<String>, port: u16, security: Security) -> Self {
        Self {
            host: host.into(),
            port,
            security,
            credentials: None,
            hello_name: None,
            extra_root_certificates: Vec::new(),
            connect_timeout: Duration::from_secs(10),
            command_timeout: Duration::from_secs(30),
            data_timeout: Duration::from_secs(120),
            max_idle_connections: 4,
            idle_timeout: Duration::from_secs(30),
        }
    }

    /// `host:port`, as used in messages.
    pub fn server(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SmtpConfigError {
    #[error(
        "tls = \"none\" sends mail unencrypted, so it is only allowed to a relay on this machine (localhost, 127.0.0.1, ::1), not {host}; use tls = \"starttls\" (port 587) or \"implicit\" (port 465)"
    )]
    PlaintextRemote { host: String },
    #[error("the SMTP host is empty")]
    NoHost,
    #[error("cannot read the CA certificate {}: {reason}", path.display())]
    RootCertificate { path: PathBuf, reason: String },
    #[error("the EHLO name `{0}` is not a host name")]
    HelloName(String),
    #[error("TLS settings for {server}: {reason}")]
    Tls { server: String, reason: String },
}

/// The TLS settings for a server: the public roots plus the configured
/// extra authorities. `None` for plain connections.
pub(crate) fn tls_parameters(
    config: &SmtpConfig,
) -> Result<Option<TlsParameters>, SmtpConfigError> {
    if config.security == Security::None {
        return Ok(None);
    }
    let mut builder = TlsParameters::builder(config.host.trim().to_owned());
    for path in &config.extra_root_certificates {
        let pem = std::fs::read(path).map_err(|e| SmtpConfigError::RootCertificate {
            path: path.clone(),
            reason: e.to_string(),
        })?;
        let certificate =
            Certificate::from_pem(&pem).map_err(|e| SmtpConfigError::RootCertificate {
                path: path.clone(),
                reason: format!("not a PEM certificate ({e})"),
            })?;
        builder = builder.add_root_certificate(certificate);
    }
    builder.build().map(Some).map_err(|e| SmtpConfigError::Tls {
        server: config.server(),
        reason: e.to_string(),
    })
}

/// Delivers over SMTP, keeping a few connections open between messages.
pub struct SmtpTransport {
    config: SmtpConfig,
    server: String,
    tls: Option<TlsParameters>,
    hello: ClientId,
    credentials: Option<Credentials>,
    idle: Mutex<Vec<(AsyncSmtpConnection, Instant)>>,
}

impl fmt::Debug for SmtpTransport {
    // Credentials and TLS internals stay out of logs.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SmtpTransport")
            .field("server", &self.server)
            .field("security", &self.config.security)
            .field(
                "username",
                &self.config.credentials.as_ref().map(|c| &c.username),
            )
            .finish_non_exhaustive()
    }
}

/// Mechanisms tried, strongest first among those lettre speaks.
const MECHANISMS: [Mechanism; 2] = [Mechanism::Plain, Mechanism::Login];

impl SmtpTransport {
    pub fn new(config: SmtpConfig) -> Result<Self, SmtpConfigError> {
        let host = config.host.trim();
        if host.is_empty() {
            return Err(SmtpConfigError::NoHost);
        }
        let server = config.server();
        if config.security == Security::None && !is_loopback(host) {
            return Err(SmtpConfigError::PlaintextRemote {
                host: host.to_owned(),
            });
        }
        let tls = tls_parameters(&config)?;
        let hello = match &config.hello_name {
            Some(name) => {
                let valid = !name.is_empty()
                    && name
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b"-._[]:".contains(&b));
                if !valid {
                    return Err(SmtpConfigError::HelloName(name.clone()));
                }
                ClientId::Domain(name.clone())
            }
            None => ClientId::default(),
        };
        let credentials = config
            .credentials
            .as_ref()
            .map(|c| Credentials::new(c.username.clone(), c.password.expose_secret().to_owned()));
        Ok(Self {
            server,
            tls,
            hello,
            credentials,
            idle: Mutex::new(Vec::new()),
            config,
        })
    }

    /// Opens a connection, says EHLO, sets up TLS and logs in, without
    /// sending anything: what `handoff doctor` and a test email check first.
    pub async fn check_connection(&self) -> Result<(), DeliveryError> {
        let mut connection = self.connect().await?;
        let _ = tokio::time::timeout(self.config.command_timeout, connection.quit()).await;
        Ok(())
    }

    /// Closes the idle connections politely.
    pub async fn close(&self) {
        let idle: Vec<_> = self.lock_idle().drain(..).collect();
        for (mut connection, _) in idle {
            let _ = tokio::time::timeout(self.config.command_timeout, connection.quit()).await;
        }
    }

    fn lock_idle(&self) -> std::sync::MutexGuard<'_, Vec<(AsyncSmtpConnection, Instant)>> {
        // A panic elsewhere cannot leave the list half-updated.
        self.idle
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn take_idle(&self) -> Option<AsyncSmtpConnection> {
        let mut idle = self.lock_idle();
        while let Some((connection, since)) = idle.pop() {
            if since.elapsed() < self.config.idle_timeout && !connection.has_broken() {
                return Some(connection);
            }
        }
        None
    }

    fn put_idle(&self, connection: AsyncSmtpConnection) {
        if connection.has_broken() {
            return;
        }
        let mut idle = self.lock_idle();
        if idle.len() < self.config.max_idle_connections {
            idle.push((connection, Instant::now()));
        }
    }

    async fn connect(&self) -> Result<AsyncSmtpConnection, DeliveryError> {
        let implicit = match self.config.security {
            Security::ImplicitTls => self.tls.clone(),
            Security::Starttls | Security::None => None,
        };
        // Connect, TLS (implicit), greeting and EHLO under one limit.
        let limit = self.config.connect_timeout + self.config.command_timeout;
        let connected = tokio::time::timeout(
            limit,
            AsyncSmtpConnection::connect_tokio1(
                (self.config.host.as_str(), self.config.port),
                Some(self.config.connect_timeout),
                &self.hello,
                implicit,
                None,
            ),
        )
        .await;
        let mut connection = match connected {
            Ok(Ok(connection)) => connection,
            Ok(Err(error)) => return Err(self.connect_error(&error)),
            Err(_) => return Err(self.greeting_timeout(limit)),
        };
        if self.config.security == Security::Starttls {
            if !connection.can_starttls() {
                connection.abort().await;
                return Err(DeliveryError::Tls(format!(
                    "the server at {} does not offer STARTTLS: set tls = \"implicit\" for port 465 or \"none\" for a local relay",
                    self.server
                )));
            }
            let Some(tls) = self.tls.clone() else {
                return Err(DeliveryError::Tls(format!(
                    "no TLS settings for {}",
                    self.server
                )));
            };
            match self
                .timed(
                    self.config.command_timeout,
                    connection.starttls(tls, &self.hello),
                )
                .await
            {
                Ok(()) => {}
                Err(Failure::Smtp(error)) => {
                    return Err(self.classify_setup(SmtpStep::Starttls, &error));
                }
                Err(Failure::Timeout) => {
                    return Err(DeliveryError::Tls(format!(
                        "the TLS handshake with {} after STARTTLS did not finish within {:?}",
                        self.server, self.config.command_timeout
                    )));
                }
            }
        }
        if let Some(credentials) = &self.credentials {
            if connection
                .server_info()
                .get_auth_mechanism(&MECHANISMS)
                .is_none()
            {
                let reply = if connection.is_encrypted() {
                    "the server offers no login method handoff speaks (PLAIN or LOGIN)"
                } else {
                    "the server offers no login on an unencrypted connection; use tls = \"starttls\" or \"implicit\""
                };
                connection.abort().await;
                return Err(DeliveryError::Auth {
                    server: self.server.clone(),
                    code: None,
                    reply: reply.to_owned(),
                });
            }
            match self
                .timed(
                    self.config.command_timeout,
                    connection.auth(&MECHANISMS, credentials),
                )
                .await
            {
                Ok(_) => {}
                Err(Failure::Smtp(error)) => {
                    connection.abort().await;
                    return Err(self.classify_setup(SmtpStep::Auth, &error));
                }
                Err(Failure::Timeout) => {
                    return Err(DeliveryError::Connection(format!(
                        "{} did not answer the login within {:?}",
                        self.server, self.config.command_timeout
                    )));
                }
            }
        }
        Ok(connection)
    }

    async fn timed<T>(
        &self,
        limit: Duration,
        future: impl Future<Output = Result<T, lettre::transport::smtp::Error>>,
    ) -> Result<T, Failure> {
        match tokio::time::timeout(limit, future).await {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(error)) => Err(Failure::Smtp(error)),
            Err(_) => Err(Failure::Timeout),
        }
    }

    fn greeting_timeout(&self, limit: Duration) -> DeliveryError {
        match self.config.security {
            Security::ImplicitTls => DeliveryError::Tls(format!(
                "{} did not complete the TLS handshake and greeting within {limit:?}; check the port (implicit TLS is usually 465)",
                self.server
            )),
            Security::Starttls | Security::None => DeliveryError::Connection(format!(
                "{} sent no SMTP greeting within {limit:?}; if it expects TLS from the first byte (port 465), set tls = \"implicit\"",
                self.server
            )),
        }
    }

    fn connect_error(&self, error: &lettre::transport::smtp::Error) -> DeliveryError {
        let detail = error_detail(error);
        if is_tls_failure(error) {
            return self.tls_error(&detail);
        }
        if error.status().is_some() {
            return self.classify_setup(SmtpStep::Greeting, error);
        }
        if error.is_timeout() {
            return self.greeting_timeout(self.config.connect_timeout);
        }
        let hint = match self.config.security {
            Security::ImplicitTls => "",
            Security::Starttls | Security::None => {
                "; if the server expects TLS from the first byte (port 465), set tls = \"implicit\""
            }
        };
        if error.is_response() {
            return DeliveryError::Connection(format!(
                "{} closed the connection or sent no valid SMTP greeting ({detail}){hint}",
                self.server
            ));
        }
        DeliveryError::Connection(format!(
            "cannot connect to {}: {detail}; check the host and port (submission is usually 587 with tls = \"starttls\" or 465 with tls = \"implicit\")",
            self.server
        ))
    }

    fn tls_error(&self, detail: &str) -> DeliveryError {
        let lower = detail.to_ascii_lowercase();
        if lower.contains("certificate") || lower.contains("unknownissuer") {
            DeliveryError::Tls(format!(
                "the TLS certificate of {} is not trusted ({detail}): check that the host name matches the certificate, or trust the relay's certificate authority",
                self.server
            ))
        } else if self.config.security == Security::ImplicitTls {
            DeliveryError::Tls(format!(
                "the TLS handshake with {} failed ({detail}): the server does not seem to speak TLS from the first byte; for port 587 or 25 set tls = \"starttls\"",
                self.server
            ))
        } else {
            DeliveryError::Tls(format!(
                "the TLS handshake with {} failed ({detail})",
                self.server
            ))
        }
    }

    /// Errors while connecting, upgrading or logging in: nothing was sent.
    fn classify_setup(
        &self,
        step: SmtpStep,
        error: &lettre::transport::smtp::Error,
    ) -> DeliveryError {
        let detail = error_detail(error);
        if is_tls_failure(error) {
            return self.tls_error(&detail);
        }
        match (step, error.status().map(u16::from)) {
            (SmtpStep::Auth, Some(code)) if code >= 500 => DeliveryError::Auth {
                server: self.server.clone(),
                code: Some(code),
                reply: detail,
            },
            (SmtpStep::Auth, None) if error.is_client() => DeliveryError::Auth {
                server: self.server.clone(),
                code: None,
                reply: detail,
            },
            (_, Some(code)) => self.reply_error(step, code, detail),
            (_, None) => {
                DeliveryError::Connection(format!("{} failed at {step}: {detail}", self.server))
            }
        }
    }

    fn reply_error(&self, step: SmtpStep, code: u16, reply: String) -> DeliveryError {
        let server = self.server.clone();
        if code >= 500 {
            DeliveryError::Rejected {
                server,
                step,
                code,
                reply,
            }
        } else if is_rate_limit(&reply) {
            DeliveryError::RateLimited {
                server,
                step,
                code,
                reply,
            }
        } else {
            DeliveryError::Deferred {
                server,
                step,
                code,
                reply,
            }
        }
    }

    /// One SMTP transaction on an open connection.
    async fn transaction(
        &self,
        connection: &mut AsyncSmtpConnection,
        envelope: &Envelope<'_>,
    ) -> Result<Response, TransactionError> {
        let from = lettre_address(envelope.from.as_str(), "envelope sender")?;
        let to = lettre_address(envelope.to.as_str(), "recipient")?;
        let info = connection.server_info();
        let mut options = Vec::new();
        if !envelope.from.as_str().is_ascii() || !envelope.to.as_str().is_ascii() {
            if !info.supports_feature(Extension::SmtpUtfEight) {
                return Err(TransactionError::Before(DeliveryError::Unsendable(
                    format!(
                        "{} does not accept non-ASCII addresses (no SMTPUTF8), so {} cannot be reached through it",
                        self.server, envelope.to
                    ),
                )));
            }
            options.push(MailParameter::SmtpUtfEight);
        }
        if !envelope.raw.is_ascii() {
            if !info.supports_feature(Extension::EightBitMime) {
                return Err(TransactionError::Before(DeliveryError::Unsendable(
                    format!(
                        "{} does not accept 8-bit messages (no 8BITMIME) and this message is not 7-bit clean",
                        self.server
                    ),
                )));
            }
            options.push(MailParameter::Body(MailBodyParameter::EightBitMime));
        }
        let limit = self.config.command_timeout;
        let steps: [(SmtpStep, String); 3] = [
            (
                SmtpStep::MailFrom,
                Mail::new(Some(from), options).to_string(),
            ),
            (SmtpStep::RcptTo, Rcpt::new(to, vec![]).to_string()),
            (SmtpStep::Data, Data.to_string()),
        ];
        for (step, command) in steps {
            match self.timed(limit, connection.command(command)).await {
                Ok(_) => {}
                Err(Failure::Smtp(error)) => {
                    return Err(match error.status() {
                        Some(code) => TransactionError::Refused(self.reply_error(
                            step,
                            u16::from(code),
                            error_detail(&error),
                        )),
                        None => TransactionError::Broken {
                            step,
                            error: DeliveryError::Connection(format!(
                                "{} failed at {step}, before the message was sent: {}",
                                self.server,
                                error_detail(&error)
                            )),
                        },
                    });
                }
                Err(Failure::Timeout) => {
                    return Err(TransactionError::Broken {
                        step,
                        error: DeliveryError::Connection(format!(
                            "{} did not answer {step} within {limit:?}; nothing was sent",
                            self.server
                        )),
                    });
                }
            }
        }
        // From here on the server may accept the message at any moment.
        match self
            .timed(self.config.data_timeout, connection.message(envelope.raw))
            .await
        {
            Ok(response) => Ok(response),
            Err(Failure::Smtp(error)) => match error.status() {
                Some(code) => Err(TransactionError::Refused(self.reply_error(
                    SmtpStep::Message,
                    u16::from(code),
                    error_detail(&error),
                ))),
                None => Err(TransactionError::InDoubt(DeliveryError::InDoubt {
                    server: self.server.clone(),
                    reason: error_detail(&error),
                })),
            },
            Err(Failure::Timeout) => Err(TransactionError::InDoubt(DeliveryError::InDoubt {
                server: self.server.clone(),
                reason: format!(
                    "no reply to the end of the message within {:?}",
                    self.config.data_timeout
                ),
            })),
        }
    }
}

enum Failure {
    Smtp(lettre::transport::smtp::Error),
    Timeout,
}

enum TransactionError {
    /// Refused before sending anything; the connection is still usable.
    Before(DeliveryError),
    /// The server replied with an error code.
    Refused(DeliveryError),
    /// The connection failed before the message was sent.
    Broken {
        step: SmtpStep,
        error: DeliveryError,
    },
    /// The connection failed after the message was sent.
    InDoubt(DeliveryError),
}

#[async_trait::async_trait]
impl Transport for SmtpTransport {
    async fn deliver(&self, envelope: Envelope<'_>) -> Result<Delivered, DeliveryError> {
        // A pooled connection the server has since closed fails at MAIL
        // FROM, before anything was sent: retry once on a fresh one.
        let mut reused = self.take_idle();
        loop {
            let was_reused = reused.is_some();
            let mut connection = match reused.take() {
                Some(connection) => connection,
                None => self.connect().await?,
            };
            match self.transaction(&mut connection, &envelope).await {
                Ok(response) => {
                    self.put_idle(connection);
                    return Ok(Delivered {
                        message_id: envelope.message_id.clone(),
                        receipt: Receipt::Smtp {
                            code: u16::from(response.code()),
                            reply: response.message().collect::<Vec<_>>().join(" "),
                        },
                    });
                }
                Err(TransactionError::Before(error)) => {
                    self.put_idle(connection);
                    return Err(error);
                }
                Err(TransactionError::Refused(error)) => {
                    let stale = was_reused
                        && matches!(
                            &error,
                            DeliveryError::Deferred {
                                step: SmtpStep::MailFrom,
                                code: 421,
                                ..
                            }
                        );
                    if stale {
                        connection.abort().await;
                        continue;
                    }
                    // 421 closes the session; anything else can go on after RSET.
                    let closing = matches!(
                        &error,
                        DeliveryError::Deferred { code: 421, .. }
                            | DeliveryError::RateLimited { code: 421, .. }
                    );
                    if !closing
                        && tokio::time::timeout(
                            self.config.command_timeout,
                            connection.command(Rset),
                        )
                        .await
                        .is_ok_and(|reply| reply.is_ok())
                    {
                        self.put_idle(connection);
                    } else {
                        connection.abort().await;
                    }
                    return Err(error);
                }
                Err(TransactionError::Broken { step, error }) => {
                    connection.abort().await;
                    if was_reused && step == SmtpStep::MailFrom {
                        continue;
                    }
                    return Err(error);
                }
                Err(TransactionError::InDoubt(error)) => {
                    connection.abort().await;
                    return Err(error);
                }
            }
        }
    }
}

fn lettre_address(address: &str, what: &str) -> Result<lettre::Address, TransactionError> {
    address.parse().map_err(|e: lettre::address::AddressError| {
        TransactionError::Before(DeliveryError::Unsendable(format!(
            "the {what} `{address}` cannot be used in SMTP: {e}"
        )))
    })
}

/// The reply text (or the underlying error) without lettre's prefix.
fn error_detail(error: &lettre::transport::smtp::Error) -> String {
    use std::error::Error as _;
    match error.source() {
        Some(source) => source.to_string(),
        None => error.to_string(),
    }
}

/// lettre reports a failed TLS handshake as a connection error whose cause
/// is an `InvalidData` I/O error (how tokio-rustls passes rustls errors on).
fn is_tls_failure(error: &lettre::transport::smtp::Error) -> bool {
    use std::error::Error as _;
    if error.is_tls() {
        return true;
    }
    let mut source = error.source();
    while let Some(cause) = source {
        if let Some(io) = cause.downcast_ref::<std::io::Error>() {
            return io.kind() == std::io::ErrorKind::InvalidData;
        }
        source = cause.source();
    }
    false
}

fn is_rate_limit(reply: &str) -> bool {
    let lower = reply.to_ascii_lowercase();
    [
        "rate limit",
        "ratelimit",
        "rate-limit",
        "too many",
        "throttl",
        "4.7.28",
    ]
    .iter()
    .any(|needle| lower.contains(needle))
}

fn is_loopback(host: &str) -> bool {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<IpAddr>()
            .is_ok_and(|address| address.is_loopback())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plaintext_is_only_for_this_machine() {
        for host in ["localhost", "127.0.0.1", "::1", "[::1]", "127.3.2.1"] {
            assert!(
                SmtpTransport::new(SmtpConfig::new(host, 25, Security::None)).is_ok(),
                "{host}"
            );
        }
        let error = SmtpTransport::new(SmtpConfig::new("smtp.example.com", 25, Security::None))
            .unwrap_err();
        assert!(error.to_string().contains("starttls"), "{error}");
        assert_eq!(
            SmtpTransport::new(SmtpConfig::new(" ", 25, Security::Starttls)).unwrap_err(),
            SmtpConfigError::NoHost
        );
    }

    #[test]
    fn a_missing_ca_file_is_named() {
        let mut config = SmtpConfig::new("smtp.example.com", 587, Security::Starttls);
        config.extra_root_certificates = vec!["/nonexistent/ca.pem".into()];
        let error = SmtpTransport::new(config).unwrap_err();
        assert!(error.to_string().contains("/nonexistent/ca.pem"), "{error}");
    }

    #[test]
    fn the_password_stays_out_of_debug_output() {
        let mut config = SmtpConfig::new("smtp.example.com", 587, Security::Starttls);
        config.credentials = Some(SmtpCredentials {
            username: "dana".into(),
            password: SecretString::from("hunter2-secret"),
        });
        let transport = SmtpTransport::new(config.clone()).unwrap();
        for text in [format!("{transport:?}"), format!("{config:?}")] {
            assert!(!text.contains("hunter2-secret"), "{text}");
        }
    }

    #[test]
    fn rate_limits_are_recognised() {
        assert!(is_rate_limit(
            "4.7.28 Our system has detected an unusual rate"
        ));
        assert!(is_rate_limit("Too many messages, slow down"));
        assert!(!is_rate_limit("4.2.0 greylisted, try again later"));
    }
}
