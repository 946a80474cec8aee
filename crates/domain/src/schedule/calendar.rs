//! Business days: the recipient country's weekend and public holidays,
//! plus the days off the playbook adds for everyone.
//!
//! Holidays come from `data/holidays.tsv`: national public holidays
//! (observed days included, regional ones not) for 2026–2028, generated
//! from python-holidays (see `data/generate.py`). No maintained Rust crate
//! carries them: `holidays` on crates.io is a single 0.1.0 release with no
//! declared license. Outside the covered years only weekends and the
//! playbook's extra days count.

use std::collections::{BTreeMap, HashMap};
use std::sync::LazyLock;

use chrono::{Datelike, NaiveDate, Weekday};

use super::zones::Country;

const HOLIDAYS_TSV: &str = include_str!("data/holidays.tsv");

/// First and last year the holiday table covers.
pub const HOLIDAY_YEARS: (i32, i32) = (2026, 2028);

/// Why a day is not a business day.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DayOff {
    Weekend,
    /// A public holiday in the recipient's country, by name.
    Holiday(String),
    /// A day the playbook lists in `[sending] extra_holidays`.
    Extra,
}

/// The days off that apply to one recipient.
#[derive(Debug, Clone, Copy)]
pub struct Calendar<'a> {
    country: Option<Country>,
    /// Public holidays of the country count (the playbook may turn them off).
    holidays: bool,
    extra: &'a [NaiveDate],
}

impl<'a> Calendar<'a> {
    pub fn new(country: Option<Country>, holidays: bool, extra: &'a [NaiveDate]) -> Self {
        Self {
            country,
            holidays,
            extra,
        }
    }

    /// Why `day` is not a business day in this calendar, if it is not.
    pub fn day_off(&self, day: NaiveDate) -> Option<DayOff> {
        if self.extra.contains(&day) {
            return Some(DayOff::Extra);
        }
        if weekend(self.country).contains(&day.weekday()) {
            return Some(DayOff::Weekend);
        }
        if self.holidays
            && let Some(country) = self.country
            && let Some(name) = holiday(country, day)
        {
            return Some(DayOff::Holiday(name.to_string()));
        }
        None
    }

    /// Only holidays and extra days (a send window's own days decide the
    /// rest of when mail may go).
    pub fn closed(&self, day: NaiveDate) -> Option<DayOff> {
        match self.day_off(day) {
            Some(DayOff::Weekend) => None,
            other => other,
        }
    }

    pub fn is_business_day(&self, day: NaiveDate) -> bool {
        self.day_off(day).is_none()
    }

    /// The `n`th business day after `day` (n = 0: `day` itself).
    pub fn add_business_days(&self, day: NaiveDate, n: u32) -> NaiveDate {
        let mut current = day;
        let mut left = n;
        // A year has far fewer than 400 days off; stop there whatever the data.
        let mut guard = 0;
        while left > 0 && guard < 400 + 2 * n {
            current = current.succ_opt().unwrap_or(current);
            if self.is_business_day(current) {
                left -= 1;
            }
            guard += 1;
        }
        current
    }
}

/// The public holiday on `day` in `country`, by name, if the table has one.
pub fn holiday(country: Country, day: NaiveDate) -> Option<&'static str> {
    HOLIDAYS.get(&country)?.get(&day).copied()
}

/// Whether the table has any holidays for `country`.
pub fn has_holidays(country: Country) -> bool {
    HOLIDAYS.contains_key(&country)
}

/// Friday–Saturday weekends where the working week runs Sunday–Thursday;
/// Saturday–Sunday everywhere else.
fn weekend(country: Option<Country>) -> &'static [Weekday] {
    const FRI_SAT: &[Weekday] = &[Weekday::Fri, Weekday::Sat];
    const SAT_SUN: &[Weekday] = &[Weekday::Sat, Weekday::Sun];
    match country.as_ref().map(Country::as_str) {
        Some("IL" | "SA" | "QA" | "KW" | "BH" | "OM" | "JO" | "EG" | "DZ" | "IQ") => FRI_SAT,
        _ => SAT_SUN,
    }
}

type Holidays = HashMap<Country, BTreeMap<NaiveDate, &'static str>>;

static HOLIDAYS: LazyLock<Holidays> = LazyLock::new(|| parse_holidays(HOLIDAYS_TSV));

/// Lines that do not parse are skipped; a unit test proves there are none.
fn parse_holidays(text: &'static str) -> Holidays {
    let mut out: Holidays = HashMap::new();
    for line in text.lines().filter(|l| !l.starts_with('#')) {
        if let Some((country, day, name)) = parse_line(line) {
            // python-holidays already joins two holidays on one day.
            out.entry(country).or_default().entry(day).or_insert(name);
        }
    }
    out
}

fn parse_line(line: &'static str) -> Option<(Country, NaiveDate, &'static str)> {
    let mut fields = line.split('\t');
    let country = Country::from_code(fields.next()?)?;
    let day = NaiveDate::parse_from_str(fields.next()?, "%Y-%m-%d").ok()?;
    let name = fields.next()?;
    Some((country, day, name))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(text: &str) -> NaiveDate {
        NaiveDate::parse_from_str(text, "%Y-%m-%d").unwrap()
    }

    fn country(code: &str) -> Country {
        Country::from_code(code).unwrap()
    }

    #[test]
    fn every_line_of_the_table_parses_and_the_main_countries_are_covered() {
        let bad: Vec<&str> = HOLIDAYS_TSV
            .lines()
            .filter(|l| !l.starts_with('#'))
            .filter(|l| parse_line(l).is_none())
            .collect();
        assert!(bad.is_empty(), "unparsable lines: {bad:?}");
        for code in [
            "US", "CA", "GB", "IE", "DE", "FR", "ES", "IT", "NL", "AU", "IN", "BR", "JP",
        ] {
            let days = &HOLIDAYS[&country(code)];
            for year in HOLIDAY_YEARS.0..=HOLIDAY_YEARS.1 {
                assert!(
                    days.keys().filter(|d| d.year() == year).count() >= 5,
                    "{code} has holidays in {year}"
                );
            }
        }
    }

    #[test]
    fn holidays_weekends_and_extra_days_are_days_off() {
        let us = Calendar::new(Some(country("US")), true, &[]);
        // Independence Day 2026 is a Saturday; Friday the 3rd is observed.
        assert_eq!(
            us.day_off(date("2026-07-03")),
            Some(DayOff::Holiday("Independence Day (observed)".into()))
        );
        assert_eq!(us.day_off(date("2026-07-04")), Some(DayOff::Weekend));
        assert_eq!(
            us.day_off(date("2026-11-26")),
            Some(DayOff::Holiday("Thanksgiving Day".into()))
        );
        assert!(us.is_business_day(date("2026-11-27")));
        let gb = Calendar::new(Some(country("GB")), true, &[]);
        assert!(matches!(
            gb.day_off(date("2026-12-28")),
            Some(DayOff::Holiday(_))
        ));
        let off = Calendar::new(Some(country("GB")), false, &[]);
        assert!(off.is_business_day(date("2026-12-28")));
        let extra = [date("2026-12-24")];
        let with_extra = Calendar::new(None, true, &extra);
        assert_eq!(with_extra.day_off(date("2026-12-24")), Some(DayOff::Extra));
        // Israel rests on Friday and Saturday, works on Sunday.
        let il = Calendar::new(Some(country("IL")), false, &[]);
        assert_eq!(il.day_off(date("2026-03-06")), Some(DayOff::Weekend));
        assert!(il.is_business_day(date("2026-03-08")));
    }

    #[test]
    fn business_days_skip_weekends_and_holidays() {
        let us = Calendar::new(Some(country("US")), true, &[]);
        // Friday + 2 business days = Tuesday.
        assert_eq!(
            us.add_business_days(date("2026-03-06"), 2),
            date("2026-03-10")
        );
        // Wednesday before Thanksgiving + 1 = the Friday after.
        assert_eq!(
            us.add_business_days(date("2026-11-25"), 1),
            date("2026-11-27")
        );
        assert_eq!(
            us.add_business_days(date("2026-11-25"), 0),
            date("2026-11-25")
        );
    }
}
