//! The optional SMTP RCPT probe: does the domain's mail server accept this
//! recipient, and does it accept every recipient (a catch-all)?
//!
//! Off unless a caller builds an [`SmtpProber`] and hands it to the
//! [`Verifier`](super::verify::Verifier): probing talks to other people's
//! mail servers from our IP, which can cost a sender reputation, and some
//! providers (Yahoo, Microsoft 365 and others) accept everything at RCPT or
//! block addresses that probe.
//!
//! One session per address, on the first host that answers (at most
//! [`MAX_HOSTS`] are tried, in the order given):
//!
//! ```text
//! S: 220 greeting          C: EHLO helo_name   (HELO if EHLO gets a 5xx)
//! C: MAIL FROM:<mail_from> C: RCPT TO:<address>
//! C: RCPT TO:<random@same-domain>   (only if the address was accepted)
//! C: RSET                  C: QUIT
//! ```
//!
//! DATA is never sent, so no message is ever delivered.
//!
//! The client is written by hand over a tokio `TcpStream` because the SMTP
//! crates (lettre and friends) are built to deliver messages: they have no
//! way to stop after RCPT, to send a second RCPT whose answer we only read,
//! or to report the raw reply codes per command. The conversation is plain
//! text on port 25; STARTTLS is optional for SMTP (RFC 3207) and a probe
//! carries no message content, so it is not used.
//!
//! Every read is bounded: by `command_timeout` for the whole reply, by
//! [`MAX_REPLY_BYTES`] and by [`MAX_REPLY_LINES`], so a hostile or broken
//! server cannot hold a probe or its memory for long.

use std::collections::hash_map::RandomState;
use std::fmt;
use std::hash::{BuildHasher, Hasher};
use std::io;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::Serialize;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::timeout;

/// The most a single reply may take, CRLFs included (RFC 5321 allows 512
/// octets a line; real multi-line EHLO replies are a few hundred bytes).
pub const MAX_REPLY_BYTES: usize = 64 * 1024;

/// The most lines a single (multi-line) reply may have.
pub const MAX_REPLY_LINES: usize = 256;

/// The most hosts one probe tries before giving up.
pub const MAX_HOSTS: usize = 5;

/// Outcome messages (server text, reasons) are cut to this many characters.
const MAX_MESSAGE_CHARS: usize = 512;

/// Replies to RSET and QUIT are waited for at most this long: the answer is
/// already known by then.
const GOODBYE_TIMEOUT: Duration = Duration::from_secs(2);

/// How to probe.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProbeConfig {
    /// The name we announce in EHLO/HELO: a name that resolves to the
    /// probing host, or receivers may distrust us.
    pub helo_name: String,
    /// The envelope sender, e.g. `probe@our-domain`. Empty means the null
    /// sender `<>`.
    pub mail_from: String,
    /// Time allowed to resolve a host and connect to it.
    pub connect_timeout: Duration,
    /// Time allowed for each whole reply (and for sending each command).
    pub command_timeout: Duration,
    /// The SMTP port: 25 for real mail servers.
    pub port: u16,
}

impl ProbeConfig {
    /// Port 25, 10 s to connect, 20 s per reply.
    pub fn new(helo_name: impl Into<String>, mail_from: impl Into<String>) -> Self {
        Self {
            helo_name: helo_name.into(),
            mail_from: mail_from.into(),
            connect_timeout: Duration::from_secs(10),
            command_timeout: Duration::from_secs(20),
            port: 25,
        }
    }
}

/// What the mail server said about one recipient.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum ProbeOutcome {
    /// The server accepted the address and refused a made-up one on the
    /// same domain (or would not say about the made-up one).
    Accepted,
    /// The server refused the recipient with a permanent (5xx) reply about
    /// the mailbox itself: 550–553, or an enhanced status about the
    /// address or mailbox (5.1.x, 5.2.x, 5.4.1).
    Rejected { code: u16, message: String },
    /// The server accepted the address and a made-up one alike, so its
    /// acceptance proves nothing.
    CatchAll,
    /// The server answered, but gave no verdict on this mailbox: a 4xx
    /// (greylisting, rate limits, "try again later"), or a refusal aimed at
    /// us rather than the recipient (a blocked IP or sender, 5.7.x policy,
    /// a command it did not like, no SMTPUTF8 for an address that needs it).
    /// `code` is `None` when the probe was not attempted (inputs that cannot
    /// be sent safely).
    TemporaryFailure { code: Option<u16>, message: String },
    /// No host could be talked to: connections refused or timed out, or
    /// the conversation broke (closed, silent, garbage replies).
    Unreachable { reason: String },
}

impl ProbeOutcome {
    /// Whether the outcome says something about the mailbox (accepted,
    /// rejected, catch-all) rather than about our ability to ask.
    pub fn is_conclusive(&self) -> bool {
        matches!(
            self,
            Self::Accepted | Self::Rejected { .. } | Self::CatchAll
        )
    }
}

/// Probes recipients over SMTP. Cheap to clone.
#[derive(Debug, Clone)]
pub struct SmtpProber {
    config: Arc<ProbeConfig>,
}

impl SmtpProber {
    pub fn new(config: ProbeConfig) -> Self {
        Self {
            config: Arc::new(config),
        }
    }

    pub fn config(&self) -> &ProbeConfig {
        &self.config
    }

    /// Asks `hosts` (MX host names in preference order, or IP addresses)
    /// whether they accept `address`. Only the first [`MAX_HOSTS`] are
    /// tried; the next host is tried when one cannot be reached or refuses
    /// the session before RCPT. Host names are resolved by the system
    /// resolver.
    pub async fn probe(&self, hosts: &[String], address: &str) -> ProbeOutcome {
        let target = match Target::new(&self.config, address) {
            Ok(target) => target,
            Err(reason) => {
                return ProbeOutcome::TemporaryFailure {
                    code: None,
                    message: clip(&format!("not probed: {reason}")),
                };
            }
        };
        if hosts.is_empty() {
            return ProbeOutcome::Unreachable {
                reason: "no mail host to probe".into(),
            };
        }
        let mut failures = Vec::new();
        for host in hosts.iter().take(MAX_HOSTS) {
            match self.probe_host(host, &target).await {
                Ok(outcome) => return outcome,
                Err(failure) => {
                    tracing::debug!(host = %host, %failure, "SMTP probe: trying the next host");
                    failures.push((host.as_str(), failure));
                }
            }
        }
        summarize(&failures)
    }

    /// `Ok` once the host has answered RCPT for the address; `Err` when the
    /// session failed before that and the next host may do better.
    async fn probe_host(&self, host: &str, target: &Target<'_>) -> Result<ProbeOutcome, Failure> {
        let config = &*self.config;
        let name = host
            .strip_prefix('[')
            .and_then(|h| h.strip_suffix(']'))
            .unwrap_or(host);
        let stream = match timeout(
            config.connect_timeout,
            TcpStream::connect((name, config.port)),
        )
        .await
        {
            Ok(Ok(stream)) => stream,
            Ok(Err(e)) => return Err(Failure::Broken(format!("cannot connect: {e}"))),
            Err(_) => {
                return Err(Failure::Broken(format!(
                    "no connection within {} ms",
                    config.connect_timeout.as_millis()
                )));
            }
        };
        let mut session = Session {
            stream,
            buf: Vec::new(),
            timeout: config.command_timeout,
        };

        let greeting = session.read("greeting").await?;
        if greeting.code != 220 {
            session.quit().await;
            return Err(Failure::refused("greeting", &greeting));
        }

        let ehlo = session
            .command(&format!("EHLO {}", config.helo_name), "EHLO")
            .await?;
        let smtputf8 = match ehlo.class() {
            2 => ehlo.has_extension("SMTPUTF8"),
            5 => {
                let helo = session
                    .command(&format!("HELO {}", config.helo_name), "HELO")
                    .await?;
                if helo.class() != 2 {
                    session.quit().await;
                    return Err(Failure::refused("HELO", &helo));
                }
                false
            }
            _ => {
                session.quit().await;
                return Err(Failure::refused("EHLO", &ehlo));
            }
        };
        if target.needs_smtputf8 && !smtputf8 {
            session.quit().await;
            return Err(Failure::Refused {
                code: None,
                message: "does not offer SMTPUTF8, which this address needs".into(),
            });
        }

        let mail_from = if target.needs_smtputf8 {
            format!("MAIL FROM:<{}> SMTPUTF8", config.mail_from)
        } else {
            format!("MAIL FROM:<{}>", config.mail_from)
        };
        let mail = session.command(&mail_from, "MAIL FROM").await?;
        if mail.class() != 2 {
            session.quit().await;
            return Err(Failure::refused("MAIL FROM", &mail));
        }

        let rcpt = session
            .command(&format!("RCPT TO:<{}>", target.address), "RCPT TO")
            .await?;
        let outcome = match rcpt.class() {
            2 => {
                let decoy = format!("RCPT TO:<{}@{}>", random_local_part(), target.domain);
                match session.command(&decoy, "RCPT TO (decoy)").await {
                    Ok(reply) if reply.class() == 2 => ProbeOutcome::CatchAll,
                    Ok(_) => ProbeOutcome::Accepted,
                    // The address was accepted; the server went away on the
                    // decoy, so whether it is a catch-all stays unknown.
                    Err(_) => return Ok(ProbeOutcome::Accepted),
                }
            }
            4 => ProbeOutcome::TemporaryFailure {
                code: Some(rcpt.code),
                message: clip(&format!("{host}: RCPT TO: {}", rcpt.text())),
            },
            5 if rcpt.rejects_recipient() => ProbeOutcome::Rejected {
                code: rcpt.code,
                message: clip(&rcpt.text()),
            },
            5 => ProbeOutcome::TemporaryFailure {
                code: Some(rcpt.code),
                message: clip(&format!(
                    "{host} refused for a reason that is not about the mailbox: {}",
                    rcpt.text()
                )),
            },
            _ => ProbeOutcome::TemporaryFailure {
                code: Some(rcpt.code),
                message: clip(&format!(
                    "{host}: unexpected reply to RCPT TO: {}",
                    rcpt.text()
                )),
            },
        };
        session.reset_and_quit().await;
        Ok(outcome)
    }
}

/// The address split for the conversation, with the inputs checked so
/// nothing can smuggle a second command into a line.
#[derive(Debug)]
struct Target<'a> {
    address: &'a str,
    domain: &'a str,
    needs_smtputf8: bool,
}

impl<'a> Target<'a> {
    fn new(config: &ProbeConfig, address: &'a str) -> Result<Self, String> {
        let unsafe_char = |c: char| c.is_control() || c == '<' || c == '>';
        if config.helo_name.is_empty()
            || config
                .helo_name
                .chars()
                .any(|c| c.is_control() || c.is_whitespace())
        {
            return Err("the HELO name is empty or has spaces or control characters".into());
        }
        if config.mail_from.chars().any(unsafe_char)
            || config.mail_from.chars().any(char::is_whitespace)
        {
            return Err(
                "the envelope sender has spaces, angle brackets or control characters".into(),
            );
        }
        if address.chars().any(unsafe_char) {
            return Err("the address has angle brackets or control characters".into());
        }
        // RFC 5321 §4.5.3.1.3: a path is at most 256 octets with its brackets.
        if address.len() > 254 {
            return Err("the address is longer than 254 octets".into());
        }
        let Some((local, domain)) = address.rsplit_once('@') else {
            return Err("the address has no @".into());
        };
        if local.is_empty() || domain.is_empty() || domain.chars().any(char::is_whitespace) {
            return Err("the address has an empty local part or a bad domain".into());
        }
        Ok(Self {
            address,
            domain,
            needs_smtputf8: !address.is_ascii(),
        })
    }
}

/// Why one host gave no answer about the recipient.
#[derive(Debug)]
enum Failure {
    /// No usable conversation: connect error, timeout, closed, garbage.
    Broken(String),
    /// The server answered, but refused to go as far as RCPT.
    Refused { code: Option<u16>, message: String },
}

impl Failure {
    fn refused(stage: &str, reply: &Reply) -> Self {
        Self::Refused {
            code: Some(reply.code),
            message: format!("{stage}: {} {}", reply.code, reply.text()),
        }
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Broken(reason) => f.write_str(reason),
            Self::Refused { message, .. } => f.write_str(message),
        }
    }
}

/// Every host failed: a `TemporaryFailure` if any of them answered with a
/// refusal (that is worth retrying later), else `Unreachable`.
fn summarize(failures: &[(&str, Failure)]) -> ProbeOutcome {
    let joined = failures
        .iter()
        .map(|(host, failure)| format!("{host}: {failure}"))
        .collect::<Vec<_>>()
        .join("; ");
    let refused = failures.iter().find_map(|(_, failure)| match failure {
        Failure::Refused { code, .. } => Some(*code),
        Failure::Broken(_) => None,
    });
    match refused {
        Some(code) => ProbeOutcome::TemporaryFailure {
            code,
            message: clip(&joined),
        },
        None => ProbeOutcome::Unreachable {
            reason: clip(&joined),
        },
    }
}

/// One connection to one host.
struct Session {
    stream: TcpStream,
    /// Bytes received but not yet consumed as reply lines.
    buf: Vec<u8>,
    timeout: Duration,
}

impl Session {
    async fn read(&mut self, stage: &str) -> Result<Reply, Failure> {
        let limit = self.timeout;
        self.read_within(stage, limit).await
    }

    async fn read_within(&mut self, stage: &str, limit: Duration) -> Result<Reply, Failure> {
        match timeout(limit, read_reply(&mut self.stream, &mut self.buf)).await {
            Ok(Ok(reply)) => Ok(reply),
            Ok(Err(e)) => Err(Failure::Broken(format!("{stage}: {e}"))),
            Err(_) => Err(Failure::Broken(format!(
                "{stage}: no reply within {} ms",
                limit.as_millis()
            ))),
        }
    }

    async fn send(&mut self, line: &str, stage: &str, limit: Duration) -> Result<(), Failure> {
        let mut bytes = Vec::with_capacity(line.len() + 2);
        bytes.extend_from_slice(line.as_bytes());
        bytes.extend_from_slice(b"\r\n");
        match timeout(limit, self.stream.write_all(&bytes)).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(Failure::Broken(format!("{stage}: cannot send: {e}"))),
            Err(_) => Err(Failure::Broken(format!("{stage}: sending timed out"))),
        }
    }

    async fn command(&mut self, line: &str, stage: &str) -> Result<Reply, Failure> {
        self.send(line, stage, self.timeout).await?;
        self.read(stage).await
    }

    /// Ends the transaction and the session politely; failures are ignored
    /// (the answer is already known).
    async fn reset_and_quit(&mut self) {
        let limit = self.timeout.min(GOODBYE_TIMEOUT);
        if self.send("RSET", "RSET", limit).await.is_ok()
            && self.read_within("RSET", limit).await.is_ok()
        {
            self.quit().await;
        }
    }

    async fn quit(&mut self) {
        let limit = self.timeout.min(GOODBYE_TIMEOUT);
        if self.send("QUIT", "QUIT", limit).await.is_ok() {
            let _ = self.read_within("QUIT", limit).await;
        }
        let _ = timeout(limit, self.stream.shutdown()).await;
    }
}

/// One SMTP reply: a three-digit code and one or more lines of text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    pub code: u16,
    /// The text after the code on each line, control characters replaced by
    /// `?` and invalid UTF-8 by U+FFFD.
    pub lines: Vec<String>,
}

impl Reply {
    /// Parses exactly one complete reply (every line ending in LF or CRLF).
    /// The same rules and limits as on the wire apply.
    pub fn parse(bytes: &[u8]) -> Result<Reply, ReplyError> {
        let mut buf = bytes.to_vec();
        let mut parser = ReplyParser::default();
        match parser.feed(&mut buf)? {
            Some(reply) if buf.is_empty() => Ok(reply),
            Some(_) => Err(ReplyError::TrailingData),
            None => Err(ReplyError::Incomplete),
        }
    }

    /// 2 for success, 4 for transient failure, 5 for permanent failure, …
    pub fn class(&self) -> u16 {
        self.code / 100
    }

    /// All lines of text, trimmed and joined by spaces, without the code.
    pub fn text(&self) -> String {
        self.lines
            .iter()
            .map(|line| line.trim())
            .filter(|line| !line.is_empty())
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// The RFC 3463 enhanced status code at the start of the first line
    /// (`5.1.1 ...`), as (class, subject, detail).
    pub fn enhanced_status(&self) -> Option<(u16, u16, u16)> {
        let first = self.lines.first()?;
        let word = first.split_whitespace().next()?;
        let mut parts = word.split('.');
        let mut number = |max_len: usize| -> Option<u16> {
            let part = parts.next()?;
            if part.is_empty() || part.len() > max_len || !part.bytes().all(|b| b.is_ascii_digit())
            {
                return None;
            }
            part.parse().ok()
        };
        let class = number(1)?;
        let subject = number(3)?;
        let detail = number(3)?;
        if parts.next().is_some() || !matches!(class, 2 | 4 | 5) {
            return None;
        }
        Some((class, subject, detail))
    }

    /// Whether an EHLO reply lists `keyword` (case-insensitive) as an
    /// extension. The first line is the server's greeting, not an extension.
    pub fn has_extension(&self, keyword: &str) -> bool {
        self.lines.iter().skip(1).any(|line| {
            line.split_whitespace()
                .next()
                .is_some_and(|word| word.eq_ignore_ascii_case(keyword))
        })
    }

    /// Whether a 5xx reply to RCPT is about the recipient (so the address
    /// is undeliverable) rather than about us (policy, blocked IP or sender,
    /// protocol trouble).
    fn rejects_recipient(&self) -> bool {
        if self.class() != 5 {
            return false;
        }
        match self.enhanced_status() {
            // Address status (bad mailbox, bad domain, moved) and mailbox
            // status (disabled, full).
            Some((5, 1 | 2, _)) => true,
            // Microsoft 365: "550 5.4.1 Recipient address rejected: Access
            // denied" is its directory-based refusal of unknown recipients.
            Some((5, 4, 1)) => true,
            // Generic "other": fall back to the basic code.
            Some((5, 0, _)) | None => matches!(self.code, 550..=553),
            // Policy (5.7), protocol (5.5), system (5.3), routing (5.4.x),
            // content (5.6) and anything else: not evidence about the mailbox.
            Some(_) => false,
        }
    }
}

/// Why bytes are not an SMTP reply.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReplyError {
    /// A line that is not `ddd`, `ddd text` or `ddd-text`.
    #[error("malformed reply line {0:?}")]
    Malformed(String),
    /// A continuation line with a different code from the first line.
    #[error("reply code changed from {first} to {then} within one reply")]
    MixedCodes { first: u16, then: u16 },
    #[error("reply longer than {MAX_REPLY_BYTES} bytes")]
    TooLong,
    #[error("reply has more than {MAX_REPLY_LINES} lines")]
    TooManyLines,
    /// The bytes (or the connection) ended before the reply's last line.
    #[error("the reply ended before its last line")]
    Incomplete,
    /// Bytes after the last line of the reply (only from [`Reply::parse`]).
    #[error("bytes after the reply's last line")]
    TrailingData,
    /// The connection closed before any byte of the reply.
    #[error("the server closed the connection")]
    Closed,
    #[error("read failed: {0}")]
    Io(String),
}

/// Incremental reply parser: complete lines are taken off the front of a
/// buffer as they arrive; partial lines stay until more bytes come.
#[derive(Debug, Default)]
struct ReplyParser {
    code: Option<u16>,
    lines: Vec<String>,
    /// Bytes of this reply consumed so far (complete lines).
    consumed: usize,
    /// How much of the buffer's front is known to contain no LF.
    scanned: usize,
}

impl ReplyParser {
    /// Takes complete lines off `buf` until the reply is complete (returns
    /// it; later bytes stay in `buf`) or no complete line is left (`None`).
    fn feed(&mut self, buf: &mut Vec<u8>) -> Result<Option<Reply>, ReplyError> {
        loop {
            let Some(offset) = buf
                .get(self.scanned..)
                .and_then(|rest| rest.iter().position(|&b| b == b'\n'))
            else {
                self.scanned = buf.len();
                if self.consumed + buf.len() > MAX_REPLY_BYTES {
                    return Err(ReplyError::TooLong);
                }
                return Ok(None);
            };
            let end = self.scanned + offset + 1;
            self.consumed += end;
            if self.consumed > MAX_REPLY_BYTES {
                return Err(ReplyError::TooLong);
            }
            let line: Vec<u8> = buf.drain(..end).collect();
            self.scanned = 0;
            if let Some(reply) = self.push_line(&line)? {
                return Ok(Some(reply));
            }
        }
    }

    fn push_line(&mut self, raw: &[u8]) -> Result<Option<Reply>, ReplyError> {
        let line = raw.strip_suffix(b"\n").unwrap_or(raw);
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        let (code, last, text) = parse_line(line)?;
        match self.code {
            None => self.code = Some(code),
            Some(first) if first != code => {
                return Err(ReplyError::MixedCodes { first, then: code });
            }
            Some(_) => {}
        }
        if self.lines.len() >= MAX_REPLY_LINES {
            return Err(ReplyError::TooManyLines);
        }
        self.lines.push(sanitize(text));
        if last {
            let lines = std::mem::take(&mut self.lines);
            *self = Self::default();
            return Ok(Some(Reply { code, lines }));
        }
        Ok(None)
    }
}

/// `ddd`, `ddd SP text` (last line) or `ddd-text` (more lines follow).
fn parse_line(line: &[u8]) -> Result<(u16, bool, &[u8]), ReplyError> {
    let malformed = || ReplyError::Malformed(clip_to(&sanitize(line), 40));
    let (digits, rest) = match line {
        [a, b, c, rest @ ..] => ([*a, *b, *c], rest),
        _ => return Err(malformed()),
    };
    // RFC 5321 §4.2: the first digit is 2–5, the second 0–5.
    if !(b'2'..=b'5').contains(&digits[0])
        || !(b'0'..=b'5').contains(&digits[1])
        || !digits[2].is_ascii_digit()
    {
        return Err(malformed());
    }
    let code = digits
        .iter()
        .fold(0_u16, |acc, d| acc * 10 + u16::from(d - b'0'));
    match rest {
        [] => Ok((code, true, rest)),
        [b' ', text @ ..] => Ok((code, true, text)),
        [b'-', text @ ..] => Ok((code, false, text)),
        _ => Err(malformed()),
    }
}

/// Reads one reply from `stream`, keeping any bytes after it in `buf`.
async fn read_reply<R: AsyncRead + Unpin>(
    stream: &mut R,
    buf: &mut Vec<u8>,
) -> Result<Reply, ReplyError> {
    let mut parser = ReplyParser::default();
    let mut chunk = [0_u8; 4096];
    loop {
        if let Some(reply) = parser.feed(buf)? {
            return Ok(reply);
        }
        let read = stream
            .read(&mut chunk)
            .await
            .map_err(|e: io::Error| ReplyError::Io(e.to_string()))?;
        if read == 0 {
            return Err(if parser.consumed == 0 && buf.is_empty() {
                ReplyError::Closed
            } else {
                ReplyError::Incomplete
            });
        }
        buf.extend_from_slice(&chunk[..read]);
    }
}

/// Server text as printable UTF-8: invalid bytes become U+FFFD and control
/// characters `?`, so a reply cannot carry terminal escapes into our output.
fn sanitize(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes)
        .chars()
        .map(|c| if c.is_control() { '?' } else { c })
        .collect()
}

fn clip(text: &str) -> String {
    clip_to(text, MAX_MESSAGE_CHARS)
}

fn clip_to(text: &str, max_chars: usize) -> String {
    match text.char_indices().nth(max_chars) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_owned(),
    }
}

/// A local part no real mailbox has: 20 lowercase letters and digits,
/// different on every call and not guessable from outside, so a server
/// cannot special-case it.
fn random_local_part() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    const ALPHABET: &[u8; 36] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let count = COUNTER.fetch_add(1, Ordering::Relaxed);
    let mut out = String::with_capacity(20);
    for round in 0_u8..2 {
        // RandomState is seeded randomly per process and per call.
        let mut hasher = RandomState::new().build_hasher();
        hasher.write_u128(nanos);
        hasher.write_u64(count);
        hasher.write_u8(round);
        let mut value = hasher.finish();
        for index in 0..10 {
            // The first character is a letter.
            let radix = if round == 0 && index == 0 { 26 } else { 36 };
            let digit = usize::try_from(value % radix).unwrap_or_default();
            value /= radix;
            out.push(char::from(ALPHABET[digit]));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn random_local_parts_are_fresh_and_plain() {
        let a = random_local_part();
        let b = random_local_part();
        assert_ne!(a, b);
        for part in [a, b] {
            assert_eq!(part.len(), 20);
            assert!(part.starts_with(|c: char| c.is_ascii_lowercase()), "{part}");
            assert!(
                part.bytes()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
            );
        }
    }

    #[test]
    fn recipient_rejections_are_told_from_refusals_aimed_at_us() {
        let reply = |code, text: &str| Reply {
            code,
            lines: vec![text.to_owned()],
        };
        assert!(reply(550, "5.1.1 no such user").rejects_recipient());
        assert!(reply(550, "no such user here").rejects_recipient());
        assert!(reply(553, "mailbox name not allowed").rejects_recipient());
        assert!(reply(550, "5.4.1 Recipient address rejected: Access denied").rejects_recipient());
        assert!(reply(552, "5.2.2 mailbox full").rejects_recipient());
        assert!(!reply(550, "5.7.1 Client host blocked using Spamhaus").rejects_recipient());
        assert!(!reply(554, "transaction failed").rejects_recipient());
        assert!(!reply(503, "5.5.1 need MAIL first").rejects_recipient());
        assert!(!reply(450, "4.2.0 greylisted").rejects_recipient());
    }

    #[test]
    fn hostile_inputs_are_not_probed() {
        let config = ProbeConfig::new("probe.example", "probe@probe.example");
        for bad in [
            "a@b.example\r\nDATA",
            "no-at-sign",
            "@b.example",
            "a@",
            "a>@b.example",
        ] {
            assert!(Target::new(&config, bad).is_err(), "{bad:?}");
        }
        let target = Target::new(&config, "\"odd@local\"@b.example").unwrap();
        assert_eq!(target.domain, "b.example");
        assert!(!target.needs_smtputf8);
        assert!(
            Target::new(&config, "josé@b.example")
                .unwrap()
                .needs_smtputf8
        );
        let bad_helo = ProbeConfig::new("two words", "");
        assert!(Target::new(&bad_helo, "a@b.example").is_err());
    }
}
