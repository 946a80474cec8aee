//! When a message may go out: pure scheduling, no I/O.
//!
//! Given a mailbox's rules (`[[mailbox]]`: daily cap, minimum spacing, send
//! window, warm-up), the recipient's location (zone and country: see
//! [`zones`]), their country's days off ([`calendar`]), what the mailbox has
//! sent in its current day, the last automated email to the contact, and
//! `now`, [`decide`] answers "send now" or "not before T, because …".
//!
//! - The send window is read in the recipient's zone, on the window's days
//!   (which stand for the working week) that are not public holidays in the
//!   recipient's country nor extra days off in the playbook.
//! - The daily cap counts sends in the mailbox's day, which runs midnight to
//!   midnight in the workspace's zone. A mailbox in warm-up may send
//!   [`WARMUP_START`] on its first day and [`WARMUP_STEP`] more each day
//!   after, up to its cap (5, 7, 9, … reaches 40 on day 19): the cold-email
//!   vendors start new mailboxes at 5–10 a day and add a few a day over
//!   2–4 weeks.
//! - Consecutive sends from one mailbox are at least `min_spacing` apart,
//!   plus a jitter of up to half of it, drawn from the message's id (so a
//!   dry run gives the same answer twice).
//! - One contact gets at most one automated email per
//!   `contact_gap_business_days` business days, across sequences.

pub mod calendar;
pub mod zones;

use chrono::{
    DateTime, Datelike, Duration, LocalResult, NaiveDate, NaiveDateTime, NaiveTime, TimeZone,
    Timelike, Utc, Weekday,
};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

pub use calendar::{Calendar, DayOff};
pub use zones::{Country, Location, ZoneSource, locate};

/// A warm-up mailbox's allowance on its first day.
pub const WARMUP_START: u32 = 5;
/// What a warm-up mailbox may send more each day.
pub const WARMUP_STEP: u32 = 2;
/// A paused mailbox's messages are looked at again after this (resuming
/// makes them due at once).
pub const PAUSED_RECHECK: Duration = Duration::hours(24);

/// When mail may go out, in the recipient's zone: on these days, from
/// `from_minute` (after local midnight) until before `to_minute` (1440 is
/// the end of the day).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Window {
    pub days: Vec<Weekday>,
    pub from_minute: u16,
    pub to_minute: u16,
}

impl Window {
    /// Every minute of every day.
    pub fn always() -> Self {
        Self {
            days: vec![
                Weekday::Mon,
                Weekday::Tue,
                Weekday::Wed,
                Weekday::Thu,
                Weekday::Fri,
                Weekday::Sat,
                Weekday::Sun,
            ],
            from_minute: 0,
            to_minute: 1440,
        }
    }

    fn opens_on(&self, day: NaiveDate) -> bool {
        self.days.contains(&day.weekday())
    }
}

/// One `[[mailbox]]`'s pacing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MailboxRules {
    pub address: String,
    /// Mailboxes with the same owner rotate first touches between them.
    pub owner: String,
    pub daily_cap: u32,
    pub min_spacing_secs: u64,
    pub window: Window,
    pub warmup: bool,
}

impl MailboxRules {
    /// The cap on `day` (the mailbox's day), with warm-up.
    pub fn cap_on(&self, first_send: Option<NaiveDate>, day: NaiveDate) -> u32 {
        match self.warmup_day(first_send, day) {
            Some(n) => (WARMUP_START + WARMUP_STEP.saturating_mul(n - 1)).min(self.daily_cap),
            None => self.daily_cap,
        }
    }

    /// Day 1, 2, … of warm-up (day 1 until the first send), or None when
    /// not warming up or done.
    pub fn warmup_day(&self, first_send: Option<NaiveDate>, day: NaiveDate) -> Option<u32> {
        if !self.warmup {
            return None;
        }
        let n = first_send
            .map(|first| (day - first).num_days().max(0) + 1)
            .unwrap_or(1);
        let n = u32::try_from(n).unwrap_or(u32::MAX);
        let ramp = WARMUP_START.saturating_add(WARMUP_STEP.saturating_mul(n - 1));
        (ramp < self.daily_cap).then_some(n)
    }

    /// Least time after the mailbox's last send before this message:
    /// `min_spacing` plus up to half of it, from `seed` (the message id).
    pub fn spacing_for(&self, seed: &[u8]) -> Duration {
        let base = i64::try_from(self.min_spacing_secs).unwrap_or(i64::MAX / 4);
        let jitter = (base as f64 * 0.5 * unit_fraction(seed)) as i64;
        Duration::seconds(base.saturating_add(jitter))
    }
}

/// A number in [0, 1) drawn from `seed`: the same seed, the same number.
fn unit_fraction(seed: &[u8]) -> f64 {
    let digest = Sha256::digest(seed);
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest[..8]);
    (u64::from_be_bytes(first) >> 11) as f64 / (1u64 << 53) as f64
}

/// When a mailbox or sequence pauses itself.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BreakerRules {
    /// Hard bounces ÷ sends above this trips (0.03 = 3%).
    pub bounce_rate: f64,
    /// Bounce rates are judged from this many sends on.
    pub min_sends: u32,
    /// Complaints ÷ sends (at least `min_sends`) above this trips: with the
    /// default 0.3% (Gmail's bulk-sender limit), one complaint in fewer
    /// than 334 sends is enough.
    pub complaint_rate: f64,
    /// Sends and bounces of the last this many days count (and none from
    /// before the last resume).
    pub window_days: u32,
}

impl Default for BreakerRules {
    fn default() -> Self {
        Self {
            bounce_rate: 0.03,
            min_sends: 20,
            complaint_rate: 0.003,
            window_days: 7,
        }
    }
}

/// Recent sending of one mailbox or sequence.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Health {
    /// Messages handed to a server (sent, refused with 5xx, or in doubt).
    pub sends: u32,
    /// Refused with 5xx at send time, plus reported bounces.
    pub bounces: u32,
    pub complaints: u32,
}

/// Why a breaker tripped.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Trip {
    BounceRate {
        rate: f64,
        limit: f64,
        health: Health,
    },
    Complaints {
        rate: f64,
        limit: f64,
        health: Health,
    },
}

impl Trip {
    pub fn describe(&self, window_days: u32) -> String {
        match self {
            Trip::BounceRate {
                rate,
                limit,
                health,
            } => format!(
                "bounce rate {:.1}% ({} of {} sends in the last {window_days} days) is above {:.1}%",
                rate * 100.0,
                health.bounces,
                health.sends,
                limit * 100.0
            ),
            Trip::Complaints {
                rate,
                limit,
                health,
            } => format!(
                "{} spam complaint(s) over {} sends in the last {window_days} days ({:.2}%) is above {:.2}%",
                health.complaints,
                health.sends,
                rate * 100.0,
                limit * 100.0
            ),
        }
    }
}

impl BreakerRules {
    /// Whether `health` trips the breaker.
    pub fn check(&self, health: Health) -> Option<Trip> {
        if health.complaints > 0 {
            let over = health.sends.max(self.min_sends).max(1);
            let rate = f64::from(health.complaints) / f64::from(over);
            if rate > self.complaint_rate {
                return Some(Trip::Complaints {
                    rate,
                    limit: self.complaint_rate,
                    health,
                });
            }
        }
        if health.sends >= self.min_sends.max(1) {
            let rate = f64::from(health.bounces) / f64::from(health.sends);
            if rate > self.bounce_rate {
                return Some(Trip::BounceRate {
                    rate,
                    limit: self.bounce_rate,
                    health,
                });
            }
        }
        None
    }
}

/// Everything the scheduler needs from the playbook, stored with the
/// database so every process (and the breakers) apply the same rules.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SendPolicy {
    /// The workspace's IANA zone: the mailbox's day, and the recipient's
    /// zone when nothing else is known.
    pub time_zone: String,
    pub mailboxes: Vec<MailboxRules>,
    /// Business days between two automated emails to one contact (0: no
    /// limit).
    pub contact_gap_business_days: u32,
    /// Whether recipients' public holidays are days off.
    pub holidays: bool,
    /// Days off for every recipient.
    pub extra_holidays: Vec<NaiveDate>,
    pub breaker: BreakerRules,
}

impl SendPolicy {
    /// The playbook's `[[mailbox]]` blocks, `[sending]` and workspace zone.
    pub fn from_playbook(playbook: &crate::playbook::Playbook) -> Self {
        let weekday = |day: crate::playbook::Weekday| {
            use crate::playbook::Weekday as W;
            match day {
                W::Mon => Weekday::Mon,
                W::Tue => Weekday::Tue,
                W::Wed => Weekday::Wed,
                W::Thu => Weekday::Thu,
                W::Fri => Weekday::Fri,
                W::Sat => Weekday::Sat,
                W::Sun => Weekday::Sun,
            }
        };
        let sending = &playbook.sending;
        Self {
            time_zone: playbook.workspace.time_zone.clone(),
            mailboxes: playbook
                .mailboxes
                .iter()
                .map(|m| MailboxRules {
                    address: m.address.as_str().to_string(),
                    owner: m.owner.as_str().to_string(),
                    daily_cap: m.daily_cap,
                    min_spacing_secs: m.min_spacing.as_secs(),
                    window: Window {
                        days: m.send_window.days.iter().copied().map(weekday).collect(),
                        from_minute: m.send_window.from.minutes_after_midnight(),
                        to_minute: m.send_window.to.minutes_after_midnight(),
                    },
                    warmup: m.warmup,
                })
                .collect(),
            contact_gap_business_days: sending.contact_gap_days,
            holidays: sending.holidays,
            extra_holidays: sending.extra_holidays.clone(),
            breaker: sending.circuit_breaker.clone(),
        }
    }

    /// The workspace zone; UTC if the stored name is not a zone.
    pub fn zone(&self) -> Tz {
        self.time_zone.parse().unwrap_or(chrono_tz::UTC)
    }

    pub fn mailbox(&self, address: &str) -> Option<&MailboxRules> {
        self.mailboxes
            .iter()
            .find(|m| m.address.eq_ignore_ascii_case(address))
    }

    /// Mailboxes a first touch from `address` may go out from: its own
    /// first, then its owner's others, in playbook order.
    pub fn rotation(&self, address: &str) -> Vec<&MailboxRules> {
        let Some(own) = self.mailbox(address) else {
            return Vec::new();
        };
        std::iter::once(own)
            .chain(
                self.mailboxes
                    .iter()
                    .filter(|m| m.owner == own.owner && m.address != own.address),
            )
            .collect()
    }

    /// The mailbox's day that `at` falls in.
    pub fn day_of(&self, at: DateTime<Utc>) -> NaiveDate {
        at.with_timezone(&self.zone()).date_naive()
    }

    /// When the mailbox's day of `at` started.
    pub fn day_start(&self, at: DateTime<Utc>) -> DateTime<Utc> {
        local_to_utc(self.zone(), self.day_of(at).and_time(NaiveTime::MIN))
    }

    pub fn calendar(&self, country: Option<Country>) -> Calendar<'_> {
        Calendar::new(country, self.holidays, &self.extra_holidays)
    }
}

/// What the store knows about a mailbox in the claim's transaction.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MailboxFacts {
    /// Sends in the mailbox's current day.
    pub sent_today: u32,
    pub last_send: Option<DateTime<Utc>>,
    /// The first send ever (warm-up starts there).
    pub first_send: Option<DateTime<Utc>>,
    /// Why it is paused, if it is.
    pub paused: Option<String>,
}

/// One scheduling question.
#[derive(Debug, Clone)]
pub struct Request<'a> {
    pub policy: &'a SendPolicy,
    pub mailbox: &'a MailboxRules,
    pub facts: &'a MailboxFacts,
    pub recipient: Location,
    /// The last automated email to this contact, from any mailbox or
    /// sequence; None when there was none or this one is not automated.
    pub last_to_contact: Option<DateTime<Utc>>,
    /// Draws the spacing jitter: the message id.
    pub seed: &'a [u8],
    pub now: DateTime<Utc>,
}

/// Why a message waits.
#[derive(Debug, Clone, PartialEq)]
pub enum Wait {
    Paused {
        reason: String,
    },
    CapReached {
        cap: u32,
        sent: u32,
        warmup_day: Option<u32>,
    },
    Spacing {
        last: DateTime<Utc>,
        gap: Duration,
    },
    ContactRecentlyEmailed {
        last: DateTime<Utc>,
        business_days: u32,
    },
    /// Outside the window's hours.
    WindowClosed,
    /// Not one of the window's days, or a day off in the recipient's country.
    NotASendDay {
        day: NaiveDate,
        off: Option<DayOff>,
    },
}

impl Wait {
    /// Short kind for machines: paused, cap, spacing, frequency, window.
    pub fn kind(&self) -> &'static str {
        match self {
            Wait::Paused { .. } => "paused",
            Wait::CapReached { .. } => "cap",
            Wait::Spacing { .. } => "spacing",
            Wait::ContactRecentlyEmailed { .. } => "frequency",
            Wait::WindowClosed | Wait::NotASendDay { .. } => "window",
        }
    }

    pub fn describe(&self, zone: Tz, country: Option<Country>) -> String {
        match self {
            Wait::Paused { reason } => format!("the mailbox is paused ({reason})"),
            Wait::CapReached {
                cap,
                sent,
                warmup_day,
            } => match warmup_day {
                Some(day) => {
                    format!("daily cap reached ({sent} of {cap} today, warm-up day {day})")
                }
                None => format!("daily cap reached ({sent} of {cap} today)"),
            },
            Wait::Spacing { last, gap } => format!(
                "spacing: the mailbox last sent at {}, {} apart",
                local_text(*last, zone),
                minutes_text(*gap)
            ),
            Wait::ContactRecentlyEmailed {
                last,
                business_days,
            } => format!(
                "frequency cap: the contact got an automated email at {} (one per {business_days} business days)",
                local_text(*last, zone)
            ),
            Wait::WindowClosed => "the send window is closed".to_string(),
            Wait::NotASendDay { day, off } => {
                let day = day.format("%a %Y-%m-%d");
                match (off, country) {
                    (Some(DayOff::Holiday(name)), Some(country)) => {
                        format!("{day} is a public holiday in {country} ({name})")
                    }
                    (Some(DayOff::Extra), _) => format!("{day} is a day off in the playbook"),
                    (Some(DayOff::Weekend), _) => format!("{day} is a weekend day"),
                    _ => format!("{day} is not a send day"),
                }
            }
        }
    }
}

/// The scheduler's answer.
#[derive(Debug, Clone, PartialEq)]
pub enum Decision {
    SendNow,
    NotBefore {
        at: DateTime<Utc>,
        /// Every constraint that pushed `at` later, in the order met.
        why: Vec<Wait>,
    },
}

impl Decision {
    pub fn at(&self, now: DateTime<Utc>) -> DateTime<Utc> {
        match self {
            Decision::SendNow => now,
            Decision::NotBefore { at, .. } => *at,
        }
    }
}

/// One line for people: the reasons, then when, in the recipient's time.
pub fn describe_hold(why: &[Wait], at: DateTime<Utc>, recipient: &Location) -> String {
    let reasons: Vec<String> = why
        .iter()
        .map(|w| w.describe(recipient.zone, recipient.country))
        .collect();
    format!(
        "{}; not before {}",
        reasons.join("; "),
        local_text(at, recipient.zone)
    )
}

/// Send now, or the earliest instant every rule allows and why.
pub fn decide(request: &Request<'_>) -> Decision {
    let Request {
        policy,
        mailbox,
        facts,
        recipient,
        last_to_contact,
        seed,
        now,
    } = request;
    let now = *now;
    if let Some(reason) = &facts.paused {
        return Decision::NotBefore {
            at: now + PAUSED_RECHECK,
            why: vec![Wait::Paused {
                reason: reason.clone(),
            }],
        };
    }
    let calendar = policy.calendar(recipient.country);
    let mut why: Vec<Wait> = Vec::new();
    let mut at = now;
    if let Some(last) = facts.last_send {
        let gap = mailbox.spacing_for(seed);
        if last + gap > at {
            at = last + gap;
            why.push(Wait::Spacing { last, gap });
        }
    }
    if let Some(last) = last_to_contact
        && policy.contact_gap_business_days > 0
    {
        let local = last.with_timezone(&recipient.zone);
        let day = calendar.add_business_days(local.date_naive(), policy.contact_gap_business_days);
        let earliest = local_to_utc(recipient.zone, day.and_time(local.time()));
        if earliest > at {
            at = earliest;
            why.push(Wait::ContactRecentlyEmailed {
                last: *last,
                business_days: policy.contact_gap_business_days,
            });
        }
    }
    let today = policy.day_of(now);
    let first_day = facts.first_send.map(|t| policy.day_of(t));
    // Each round moves `at` to a later day or leaves it; a window opens at
    // least once a week unless every day is off, which the guard ends.
    for _ in 0..32 {
        if policy.day_of(at) == today {
            let cap = mailbox.cap_on(first_day, today);
            if facts.sent_today >= cap {
                let tomorrow = today.succ_opt().unwrap_or(today);
                at = local_to_utc(policy.zone(), tomorrow.and_time(NaiveTime::MIN)).max(at);
                why.push(Wait::CapReached {
                    cap,
                    sent: facts.sent_today,
                    warmup_day: mailbox.warmup_day(first_day, today),
                });
            }
        }
        let (open, waits) = next_open(at, &mailbox.window, &calendar, recipient.zone);
        if open == at {
            break;
        }
        for wait in waits {
            if !why.contains(&wait) {
                why.push(wait);
            }
        }
        at = open;
    }
    if why.is_empty() {
        Decision::SendNow
    } else {
        Decision::NotBefore { at, why }
    }
}

/// The earliest instant at or after `at` inside `window` on a send day in
/// `zone`, and what was skipped to get there.
pub fn next_open(
    at: DateTime<Utc>,
    window: &Window,
    calendar: &Calendar<'_>,
    zone: Tz,
) -> (DateTime<Utc>, Vec<Wait>) {
    let mut waits = Vec::new();
    let first_day = at.with_timezone(&zone).date_naive();
    let mut day = first_day;
    // Two years: more than any calendar closes in a row.
    for _ in 0..732 {
        // The window's days decide the week; the calendar adds holidays.
        let off = calendar.closed(day);
        if window.opens_on(day) && off.is_none() {
            let (open, close) = window_bounds(window, day, zone);
            if day != first_day || at < open {
                if day == first_day {
                    waits.push(Wait::WindowClosed);
                }
                return (open.max(at), waits);
            }
            if at < close {
                return (at, waits);
            }
            waits.push(Wait::WindowClosed);
        } else if waits.len() < 4 {
            waits.push(Wait::NotASendDay { day, off });
        }
        day = match day.succ_opt() {
            Some(next) => next,
            None => break,
        };
    }
    (at, waits)
}

/// The window's opening and closing instants on local `day`.
fn window_bounds(window: &Window, day: NaiveDate, zone: Tz) -> (DateTime<Utc>, DateTime<Utc>) {
    let at_minute = |minute: u16| {
        let start = day.and_time(NaiveTime::MIN);
        local_to_utc(zone, start + Duration::minutes(i64::from(minute)))
    };
    (at_minute(window.from_minute), at_minute(window.to_minute))
}

/// A local time as an instant: the earlier of an ambiguous one (clocks
/// going back), and for a time that does not exist (clocks going forward
/// over it) the instant the clocks jumped.
pub fn local_to_utc(zone: Tz, local: NaiveDateTime) -> DateTime<Utc> {
    match zone.from_local_datetime(&local) {
        LocalResult::Single(t) => t.with_timezone(&Utc),
        LocalResult::Ambiguous(earliest, _) => earliest.with_timezone(&Utc),
        LocalResult::None => {
            // The first instant whose local time is at or past `local`:
            // local time only moves forward across a gap.
            let as_utc = Utc.from_utc_datetime(&local);
            let reached = |t: DateTime<Utc>| t.with_timezone(&zone).naive_local() >= local;
            let (mut low, mut high) = (as_utc - Duration::hours(26), as_utc + Duration::hours(26));
            while high - low > Duration::seconds(1) {
                let mid = low + (high - low) / 2;
                if reached(mid) {
                    high = mid;
                } else {
                    low = mid;
                }
            }
            high.with_nanosecond(0).unwrap_or(high)
        }
    }
}

/// "2026-03-09 08:30 EDT".
pub fn local_text(at: DateTime<Utc>, zone: Tz) -> String {
    at.with_timezone(&zone)
        .format("%Y-%m-%d %H:%M %Z")
        .to_string()
}

fn minutes_text(gap: Duration) -> String {
    let secs = gap.num_seconds();
    if secs % 60 == 0 {
        format!("{} min", secs / 60)
    } else {
        format!("{}m{:02}s", secs / 60, secs % 60)
    }
}

#[cfg(test)]
mod tests;
