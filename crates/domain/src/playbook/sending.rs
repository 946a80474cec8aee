//! `[sending]`: rules for every mailbox — the per-contact frequency cap,
//! public holidays, extra days off — and `[sending.circuit_breaker]`, when a
//! mailbox or sequence pauses itself.

use chrono::NaiveDate;
use serde::Serialize;

use super::diagnostic::Issues;
use super::duration::{Duration, DurationError};
use super::reader::TableReader;
use crate::schedule::BreakerRules;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Sending {
    /// Business days between two automated emails to one contact, across
    /// sequences and mailboxes (0: no limit).
    pub contact_gap_days: u32,
    /// No sends on a public holiday in the recipient's country.
    pub holidays: bool,
    /// Days off for every recipient (company holidays), YYYY-MM-DD.
    pub extra_holidays: Vec<NaiveDate>,
    pub circuit_breaker: BreakerRules,
}

impl Default for Sending {
    fn default() -> Self {
        Self {
            contact_gap_days: DEFAULT_CONTACT_GAP_DAYS,
            holidays: true,
            extra_holidays: Vec::new(),
            circuit_breaker: BreakerRules::default(),
        }
    }
}

impl Sending {
    pub fn is_default(&self) -> bool {
        *self == Self::default()
    }
}

/// Not two automated emails to one person within two business days.
pub const DEFAULT_CONTACT_GAP_DAYS: u32 = 2;
const MAX_CONTACT_GAP_DAYS: i64 = 30;

pub(crate) fn read_sending(issues: &mut Issues<'_>, mut table: TableReader<'_, '_>) -> Sending {
    let defaults = Sending::default();
    let contact_gap_days = table
        .integer(issues, "contact_gap_days")
        .and_then(|gap| {
            if (0..=MAX_CONTACT_GAP_DAYS).contains(&gap.value) {
                u32::try_from(gap.value).ok()
            } else {
                issues.error_with_hint(
                    &gap.span,
                    format!(
                        "`contact_gap_days` must be between 0 and {MAX_CONTACT_GAP_DAYS}, not {}",
                        gap.value
                    ),
                    "it counts business days between two automated emails to one contact, e.g. contact_gap_days = 2 (0: no limit)",
                );
                None
            }
        })
        .unwrap_or(defaults.contact_gap_days);
    let holidays = table
        .boolean(issues, "holidays")
        .map(|h| h.value)
        .unwrap_or(defaults.holidays);
    let extra_holidays = table
        .strings(issues, "extra_holidays")
        .unwrap_or_default()
        .into_iter()
        .filter_map(
            |day| match NaiveDate::parse_from_str(day.value.trim(), "%Y-%m-%d") {
                Ok(date) => Some(date),
                Err(_) => {
                    issues.error_with_hint(
                        &day.span,
                        format!("`{}` in `extra_holidays` is not a date", day.value),
                        "write dates as YYYY-MM-DD, e.g. extra_holidays = [\"2026-12-24\"]",
                    );
                    None
                }
            },
        )
        .collect();
    let circuit_breaker = table
        .table(issues, "circuit_breaker")
        .map(|breaker| read_breaker(issues, breaker))
        .unwrap_or_default();
    table.finish(issues);
    Sending {
        contact_gap_days,
        holidays,
        extra_holidays,
        circuit_breaker,
    }
}

fn read_breaker(issues: &mut Issues<'_>, mut table: TableReader<'_, '_>) -> BreakerRules {
    let defaults = BreakerRules::default();
    let mut rate = |table: &mut TableReader<'_, '_>, key: &'static str, default: f64| match table
        .fraction(issues, key)
    {
        Some(rate) if rate.value > 0.0 => rate.value,
        Some(rate) => {
            issues.error_with_hint(
                &rate.span,
                format!("`{key}` of 0 would pause on the first one"),
                format!("write the share that is too many, e.g. {key} = {default}"),
            );
            default
        }
        None => default,
    };
    let bounce_rate = rate(&mut table, "bounce_rate", defaults.bounce_rate);
    let complaint_rate = rate(&mut table, "complaint_rate", defaults.complaint_rate);
    let min_sends = table
        .integer(issues, "min_sends")
        .and_then(|n| match u32::try_from(n.value) {
            Ok(n) if n >= 1 => Some(n),
            _ => {
                issues.error_with_hint(
                    &n.span,
                    format!("`min_sends` must be at least 1, not {}", n.value),
                    "rates are judged from this many sends on, e.g. min_sends = 20",
                );
                None
            }
        })
        .unwrap_or(defaults.min_sends);
    let window_days = table
        .string(issues, "window")
        .and_then(|window| match Duration::parse(&window.value) {
            Ok(d)
                if d.as_secs() >= 86_400
                    && d.as_secs() % 86_400 == 0
                    && d.as_secs() <= 90 * 86_400 =>
            {
                u32::try_from(d.as_secs() / 86_400).ok()
            }
            Ok(_) => {
                issues.error_with_hint(
                    &window.span,
                    format!(
                        "`window` must be whole days between 1d and 90d, not `{}`",
                        window.value
                    ),
                    "sends and bounces of the last this many days count, e.g. window = \"7d\"",
                );
                None
            }
            Err(error) => {
                issues.error_with_hint(
                    &window.span,
                    format!("`window` is not a valid duration: {error}"),
                    DurationError::HINT,
                );
                None
            }
        })
        .unwrap_or(defaults.window_days);
    table.finish(issues);
    BreakerRules {
        bounce_rate,
        min_sends,
        complaint_rate,
        window_days,
    }
}
