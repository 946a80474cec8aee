//! `[[mailbox]]`: who sends, how much, when — and where the SMTP password
//! comes from (never from the playbook itself).

use std::fmt;

use serde::{Serialize, Serializer};

use super::diagnostic::{Issues, suggestion_hint};
use super::duration::{Duration, DurationError};
use super::reader::{Located, TableReader};
use crate::email::EmailAddress;
use crate::users::Username;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Mailbox {
    pub address: EmailAddress,
    /// The user who owns the mailbox and the replies it receives.
    pub owner: Username,
    /// `None`: messages go to the file outbox instead of an SMTP server.
    pub smtp: Option<Smtp>,
    /// Most messages sent from this mailbox per day.
    pub daily_cap: u32,
    /// Least time between two messages from this mailbox.
    pub min_spacing: Duration,
    pub send_window: SendWindow,
    /// A new mailbox ramps up to its cap gradually.
    pub warmup: bool,
    /// `None`: messages go out unsigned (the provider may sign them).
    pub dkim: Option<Dkim>,
}

/// DKIM signing for a mailbox: the private key stays in a file beside the
/// playbook (or mounted as a secret), never in the playbook itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Dkim {
    /// The `d=` domain; the mailbox's own domain unless given.
    pub domain: String,
    /// The key is published at `SELECTOR._domainkey.DOMAIN`.
    pub selector: String,
    /// A PEM private key (RSA or Ed25519); relative to the playbook.
    pub key_file: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Smtp {
    pub host: String,
    pub port: u16,
    pub tls: Tls,
    pub username: Option<String>,
    pub password: Option<SecretSource>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Tls {
    /// Plain text: only for a relay on the same machine.
    None,
    /// Upgrade after connecting (usually port 587).
    Starttls,
    /// TLS from the first byte (usually port 465).
    Implicit,
}

/// Where a secret is read at run time; the playbook names it, never holds it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SecretSource {
    /// The name of an environment variable.
    Env(String),
    /// A file path, e.g. a mounted container secret.
    File(String),
}

/// When messages may go out, in the contact's time zone.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SendWindow {
    /// In week order, each once.
    pub days: Vec<Weekday>,
    pub from: ClockTime,
    pub to: ClockTime,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Weekday {
    Mon,
    Tue,
    Wed,
    Thu,
    Fri,
    Sat,
    Sun,
}

const WEEKDAYS: [(&str, Weekday); 7] = [
    ("mon", Weekday::Mon),
    ("tue", Weekday::Tue),
    ("wed", Weekday::Wed),
    ("thu", Weekday::Thu),
    ("fri", Weekday::Fri),
    ("sat", Weekday::Sat),
    ("sun", Weekday::Sun),
];

/// A time of day, minute precision. Serialises as "HH:MM".
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct ClockTime {
    minutes_after_midnight: u16,
}

impl ClockTime {
    pub fn parse(text: &str) -> Option<Self> {
        let (hours, minutes) = text.split_once(':')?;
        if hours.len() != 2 || minutes.len() != 2 {
            return None;
        }
        let hours: u16 = hours.parse().ok().filter(|hours| *hours < 24)?;
        let minutes: u16 = minutes.parse().ok().filter(|minutes| *minutes < 60)?;
        Some(Self {
            minutes_after_midnight: hours * 60 + minutes,
        })
    }

    /// The end of the day, written "24:00": only as a window's `to`.
    pub const END_OF_DAY: Self = Self {
        minutes_after_midnight: 24 * 60,
    };

    pub fn minutes_after_midnight(self) -> u16 {
        self.minutes_after_midnight
    }

    pub fn hour(self) -> u16 {
        self.minutes_after_midnight / 60
    }

    pub fn minute(self) -> u16 {
        self.minutes_after_midnight % 60
    }
}

impl fmt::Display for ClockTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:02}:{:02}", self.hour(), self.minute())
    }
}

impl Serialize for ClockTime {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

/// Above this a mailbox burns its domain's reputation, warm or not.
const MAX_DAILY_CAP: i64 = 500;

const SECRET_HINT: &str = "the playbook is shared and kept in git: name where the secret lives instead, \
with password_env = \"HANDOFF_SMTP_PASSWORD\" or password_file = \"/run/secrets/smtp\"";

/// Mailboxes, with duplicates reported.
pub(crate) fn read_mailboxes(
    issues: &mut Issues<'_>,
    tables: Vec<TableReader<'_, '_>>,
) -> Vec<Mailbox> {
    let mut mailboxes: Vec<Mailbox> = Vec::new();
    let mut first_seen: Vec<(EmailAddress, usize)> = Vec::new();
    for table in tables {
        let Some((mailbox, address_span)) = read_mailbox(issues, table) else {
            continue;
        };
        if let Some((_, first_offset)) = first_seen
            .iter()
            .find(|(address, _)| *address == mailbox.address)
        {
            let first_line = issues.line_of(*first_offset);
            issues.error_with_hint(
                &address_span,
                format!(
                    "mailbox `{}` is already defined on line {first_line}",
                    mailbox.address.as_str()
                ),
                "each address gets one [[mailbox]] block; remove or merge one",
            );
            continue;
        }
        first_seen.push((mailbox.address.clone(), address_span.start));
        mailboxes.push(mailbox);
    }
    mailboxes
}

fn read_mailbox(
    issues: &mut Issues<'_>,
    mut table: TableReader<'_, '_>,
) -> Option<(Mailbox, std::ops::Range<usize>)> {
    let address = table
        .required_string(issues, "address")
        .and_then(|address| {
            let parsed = check_address(&address.value);
            match parsed {
                Ok(parsed) => Some((parsed, address.span)),
                Err(problem) => {
                    issues.error_with_hint(
                        &address.span,
                        format!("`address` is not an email address: {problem}"),
                        "write the full address, e.g. address = \"dana@example.com\"",
                    );
                    None
                }
            }
        });
    table.explain_missing(
        "owner",
        "name the user who owns this mailbox and its replies, e.g. owner = \"dana\"",
    );
    let owner = table.required_string(issues, "owner").and_then(|owner| {
        if owner.value.trim().is_empty() {
            issues.error_with_hint(
                &owner.span,
                "`owner` is empty",
                "name the user who owns this mailbox and its replies, e.g. owner = \"dana\"",
            );
            return None;
        }
        match Username::parse(&owner.value) {
            Ok(username) => Some(username),
            Err(problem) => {
                issues.error_with_hint(
                    &owner.span,
                    problem,
                    "owner is a handoff username, e.g. owner = \"dana\"",
                );
                None
            }
        }
    });
    let smtp = table
        .table(issues, "smtp")
        .and_then(|smtp| read_smtp(issues, smtp));
    table.explain_missing(
        "daily_cap",
        "limit sends per day, e.g. daily_cap = 40 (new domains: start low and use warmup = true)",
    );
    let daily_cap = table.required_integer(issues, "daily_cap").and_then(|cap| {
        if (1..=MAX_DAILY_CAP).contains(&cap.value) {
            u32::try_from(cap.value).ok()
        } else {
            issues.error_with_hint(
                &cap.span,
                format!("`daily_cap` must be between 1 and {MAX_DAILY_CAP}, not {}", cap.value),
                "mailbox providers throttle or block bulk senders; 30-50 a day is typical for outbound",
            );
            None
        }
    });
    table.explain_missing(
        "min_spacing",
        "space messages out, e.g. min_spacing = \"10m\"",
    );
    let min_spacing = table
        .required_string(issues, "min_spacing")
        .and_then(|spacing| match Duration::parse(&spacing.value) {
            Ok(duration) => Some(duration),
            Err(error) => {
                issues.error_with_hint(
                    &spacing.span,
                    format!("`min_spacing` is not a valid duration: {error}"),
                    DurationError::HINT,
                );
                None
            }
        });
    table.explain_missing(
        "send_window",
        "say when mail may go out: send_window = { days = \"mon-fri\", from = \"08:30\", to = \"17:30\" }",
    );
    let send_window = table
        .required_table(issues, "send_window")
        .and_then(|window| read_send_window(issues, window));
    let warmup = table
        .boolean(issues, "warmup")
        .is_some_and(|warmup| warmup.value);
    let dkim = table.table(issues, "dkim").and_then(|dkim| {
        let own_domain = address
            .as_ref()
            .map(|(address, _)| address.domain().to_string());
        read_dkim(issues, dkim, own_domain)
    });
    table.finish(issues);
    let (address, address_span) = address?;
    Some((
        Mailbox {
            address,
            owner: owner?,
            smtp,
            daily_cap: daily_cap?,
            min_spacing: min_spacing?,
            send_window: send_window?,
            warmup,
            dkim,
        },
        address_span,
    ))
}

/// A DNS label run (`s2026`, `mail.example.com`): what a selector or a
/// `d=` domain may be.
fn is_dns_name(text: &str) -> bool {
    !text.is_empty()
        && text.len() <= 253
        && text.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        })
}

fn read_dkim(
    issues: &mut Issues<'_>,
    mut table: TableReader<'_, '_>,
    own_domain: Option<String>,
) -> Option<Dkim> {
    let selector = table.required_text(issues, "selector").and_then(|selector| {
        if is_dns_name(&selector.value) {
            Some(selector.value)
        } else {
            issues.error_with_hint(
                &selector.span,
                format!("`selector` `{}` is not a DNS name", selector.value),
                "the selector names the DNS record SELECTOR._domainkey.DOMAIN, e.g. selector = \"s2026\"",
            );
            None
        }
    });
    table.explain_missing(
        "key_file",
        "name the PEM private key, e.g. key_file = \"dkim/s2026.pem\" (openssl genpkey -algorithm ed25519 -out dkim/s2026.pem)",
    );
    let key_file = table.required_text(issues, "key_file").map(|k| k.value);
    let domain = match table.optional_text(issues, "domain") {
        Some(domain) if is_dns_name(&domain.value) => Some(domain.value.to_ascii_lowercase()),
        Some(domain) => {
            issues.error_with_hint(
                &domain.span,
                format!("`domain` `{}` is not a domain name", domain.value),
                "leave it out to sign with the mailbox's own domain, or write e.g. domain = \"example.com\"",
            );
            None
        }
        None => own_domain,
    };
    table.finish(issues);
    Some(Dkim {
        domain: domain?,
        selector: selector?,
        key_file: key_file?,
    })
}

/// One `@` with something on both sides, then the project's address rules.
fn check_address(text: &str) -> Result<EmailAddress, String> {
    if text.matches('@').count() > 1 {
        return Err(format!("`{text}` has more than one `@`"));
    }
    EmailAddress::parse(text).map_err(|error| error.to_string())
}

fn read_smtp(issues: &mut Issues<'_>, mut table: TableReader<'_, '_>) -> Option<Smtp> {
    let host = table.required_text(issues, "host");
    let port =
        table
            .required_integer(issues, "port")
            .and_then(|port| match u16::try_from(port.value) {
                Ok(number) if number > 0 => Some(number),
                _ => {
                    issues.error_with_hint(
                        &port.span,
                        format!("`port` must be between 1 and 65535, not {}", port.value),
                        "SMTP submission is usually 587 (starttls) or 465 (implicit)",
                    );
                    None
                }
            });
    table.explain_missing(
        "tls",
        "choose tls = \"starttls\" (port 587), \"implicit\" (port 465) or \"none\" (local relay only)",
    );
    let tls = table.required_choice(
        issues,
        "tls",
        &[
            ("none", Tls::None),
            ("starttls", Tls::Starttls),
            ("implicit", Tls::Implicit),
        ],
    );
    let username = table.optional_text(issues, "username");
    let password = read_secret_source(
        issues,
        &mut table,
        "password",
        "password_env",
        "password_file",
        SECRET_HINT,
    );
    // Only when no password key at all was written: a bad one is reported already.
    let no_password_key = ["password_env", "password_file", "password"]
        .into_iter()
        .all(|key| table.get(key).is_none());
    if let Some(username) = &username
        && no_password_key
    {
        issues.error_with_hint(
            &username.span,
            "an SMTP username needs a password source",
            "add password_env = \"HANDOFF_SMTP_PASSWORD\" or password_file = \"/run/secrets/smtp\"",
        );
    }
    table.finish(issues);
    Some(Smtp {
        host: host?.value,
        port: port?,
        tls: tls?.value,
        username: username.map(|username| username.value),
        password,
    })
}

/// Reads `<env_key>` / `<file_key>`; a literal `<literal_key>` is refused.
pub(crate) fn read_secret_source(
    issues: &mut Issues<'_>,
    table: &mut TableReader<'_, '_>,
    literal_key: &'static str,
    env_key: &'static str,
    file_key: &'static str,
    literal_hint: &str,
) -> Option<SecretSource> {
    if let Some((key_span, _)) = table.refused_entry(literal_key) {
        issues.error_with_hint(
            &key_span,
            format!("a literal `{literal_key}` is not allowed in the playbook"),
            literal_hint,
        );
    }
    let env = table.optional_text(issues, env_key).and_then(|name| {
        let valid = name
            .value
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && name
                .value
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_');
        if valid {
            Some(name)
        } else {
            issues.error_with_hint(
                &name.span,
                format!("`{}` is not an environment variable name", name.value),
                "use letters, digits and `_`, e.g. \"HANDOFF_SMTP_PASSWORD\"",
            );
            None
        }
    });
    let file = table.optional_text(issues, file_key);
    match (env, file) {
        (Some(env), Some(file)) => {
            issues.error_with_hint(
                &file.span,
                format!("both `{env_key}` and `{file_key}` are set"),
                format!("keep one: the secret is read from exactly one place (`{env_key}` is on line {})", issues.line_of(env.span.start)),
            );
            None
        }
        (Some(env), None) => Some(SecretSource::Env(env.value)),
        (None, Some(file)) => Some(SecretSource::File(file.value)),
        (None, None) => None,
    }
}

fn read_send_window(issues: &mut Issues<'_>, mut table: TableReader<'_, '_>) -> Option<SendWindow> {
    let days = table
        .required_string(issues, "days")
        .and_then(|days| parse_days(issues, &days));
    let mut clock = |table: &mut TableReader<'_, '_>, key: &'static str| {
        table.required_string(issues, key).and_then(|text| {
            let time = match text.value.as_str() {
                // A window may run to midnight: `to = "24:00"`.
                "24:00" if key == "to" => Some(ClockTime::END_OF_DAY),
                _ => ClockTime::parse(&text.value),
            };
            if time.is_none() {
                issues.error_with_hint(
                    &text.span,
                    format!("`{key}` is not a time of day: `{}`", text.value),
                    format!("write 24-hour HH:MM, e.g. {key} = \"08:30\" (`to` may be \"24:00\")"),
                );
            }
            time.map(|time| Located {
                value: time,
                span: text.span,
            })
        })
    };
    let from = clock(&mut table, "from");
    let to = clock(&mut table, "to");
    if let (Some(from), Some(to)) = (&from, &to)
        && to.value <= from.value
    {
        issues.error_with_hint(
            &to.span,
            format!(
                "the send window ends ({}) before it starts ({})",
                to.value, from.value
            ),
            "`to` must be later than `from` on the same day",
        );
    }
    table.finish(issues);
    let (from, to) = (from?, to?);
    (to.value > from.value).then_some(SendWindow {
        days: days?,
        from: from.value,
        to: to.value,
    })
}

/// "mon-fri", "mon,wed,fri", "mon-thu,sat".
fn parse_days(issues: &mut Issues<'_>, text: &Located<String>) -> Option<Vec<Weekday>> {
    let names: Vec<&str> = WEEKDAYS.iter().map(|(name, _)| *name).collect();
    let day = |name: &str| {
        WEEKDAYS
            .iter()
            .find(|(day_name, _)| *day_name == name.trim())
            .map(|(_, day)| *day)
    };
    let mut days = Vec::new();
    for part in text.value.split(',') {
        let (first, last) = part.split_once('-').unwrap_or((part, part));
        match (day(first), day(last)) {
            (Some(first), Some(last)) if first <= last => {
                days.extend(
                    WEEKDAYS
                        .iter()
                        .map(|(_, day)| *day)
                        .filter(|day| (first..=last).contains(day)),
                );
            }
            (Some(first), Some(last)) => {
                issues.error_with_hint(
                    &text.span,
                    format!("the day range `{}` runs backwards", part.trim()),
                    format!(
                        "write ranges from Monday towards Sunday, e.g. \"{}-{}\"",
                        short(last),
                        short(first)
                    ),
                );
                return None;
            }
            _ => {
                let unknown = if day(first).is_none() { first } else { last }.trim();
                let hint = suggestion_hint(unknown, &names, "write days as ranges or lists of");
                issues.error_with_hint(
                    &text.span,
                    format!("`{unknown}` in `days` is not a day"),
                    hint,
                );
                return None;
            }
        }
    }
    days.sort();
    days.dedup();
    Some(days)
}

fn short(day: Weekday) -> &'static str {
    WEEKDAYS
        .iter()
        .find(|(_, candidate)| *candidate == day)
        .map(|(name, _)| *name)
        .unwrap_or("mon")
}
