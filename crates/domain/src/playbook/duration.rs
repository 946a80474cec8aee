//! Durations as people write them in a playbook: "90m", "24h", "2d", "1h30m".

use std::fmt;
use std::str::FromStr;

use serde::Serialize;

/// A span of wall-clock time, whole seconds. A day is 24 hours.
/// Serialises as a number of seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct Duration {
    seconds: u64,
}

/// Why a duration string was refused; the caller adds where.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DurationError {
    #[error("a duration cannot be empty")]
    Empty,
    #[error("`{0}` is not a duration")]
    Malformed(String),
    #[error("unknown unit `{unit}` in `{input}`")]
    UnknownUnit { input: String, unit: char },
    #[error("units in `{0}` must go from largest to smallest, each at most once")]
    UnitOrder(String),
    #[error("`{0}` is too long a duration")]
    TooLong(String),
}

impl DurationError {
    /// How to write a duration correctly.
    pub const HINT: &'static str = "write a whole number followed by a unit (s, m, h, d), e.g. \"90m\", \"24h\", \"2d\" or \"1h30m\"";
}

const UNITS: [(char, u64); 4] = [('d', 86_400), ('h', 3_600), ('m', 60), ('s', 1)];

impl Duration {
    pub const fn from_secs(seconds: u64) -> Self {
        Self { seconds }
    }

    pub const fn as_secs(self) -> u64 {
        self.seconds
    }

    pub const fn is_zero(self) -> bool {
        self.seconds == 0
    }

    pub fn to_std(self) -> std::time::Duration {
        std::time::Duration::from_secs(self.seconds)
    }

    pub fn parse(input: &str) -> Result<Self, DurationError> {
        let text = input.trim();
        if text.is_empty() {
            return Err(DurationError::Empty);
        }
        let mut seconds: u64 = 0;
        let mut digits = String::new();
        // Index into UNITS of the last unit seen; later units must be smaller.
        let mut last_unit: Option<usize> = None;
        for c in text.chars() {
            if c.is_ascii_digit() {
                digits.push(c);
                continue;
            }
            if digits.is_empty() {
                return Err(DurationError::Malformed(input.to_string()));
            }
            let Some(unit_index) = UNITS.iter().position(|(unit, _)| *unit == c) else {
                return Err(if c.is_alphabetic() {
                    DurationError::UnknownUnit {
                        input: input.to_string(),
                        unit: c,
                    }
                } else {
                    DurationError::Malformed(input.to_string())
                });
            };
            if last_unit.is_some_and(|last| last >= unit_index) {
                return Err(DurationError::UnitOrder(input.to_string()));
            }
            last_unit = Some(unit_index);
            let amount: u64 = digits
                .parse()
                .map_err(|_| DurationError::TooLong(input.to_string()))?;
            let unit_seconds = UNITS[unit_index].1;
            seconds = amount
                .checked_mul(unit_seconds)
                .and_then(|part| seconds.checked_add(part))
                .ok_or_else(|| DurationError::TooLong(input.to_string()))?;
            digits.clear();
        }
        if !digits.is_empty() {
            // "90" with no unit: minutes? seconds? Refuse to guess.
            return Err(DurationError::Malformed(input.to_string()));
        }
        Ok(Self { seconds })
    }
}

impl FromStr for Duration {
    type Err = DurationError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

/// The shortest form: "1h30m", "2d", "0s".
impl fmt::Display for Duration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.seconds == 0 {
            return f.write_str("0s");
        }
        let mut rest = self.seconds;
        for (unit, unit_seconds) in UNITS {
            let amount = rest / unit_seconds;
            if amount > 0 {
                write!(f, "{amount}{unit}")?;
                rest %= unit_seconds;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn parses_the_forms_people_write() {
        assert_eq!(Duration::parse("90m").unwrap().as_secs(), 5_400);
        assert_eq!(Duration::parse("24h").unwrap().as_secs(), 86_400);
        assert_eq!(Duration::parse("2d").unwrap().as_secs(), 172_800);
        assert_eq!(Duration::parse("1h30m").unwrap().as_secs(), 5_400);
        assert_eq!(Duration::parse("45s").unwrap().as_secs(), 45);
        assert_eq!(Duration::parse(" 1d12h ").unwrap().as_secs(), 129_600);
    }

    #[test]
    fn refuses_what_it_would_have_to_guess() {
        assert_eq!(Duration::parse(""), Err(DurationError::Empty));
        assert!(matches!(
            Duration::parse("24x"),
            Err(DurationError::UnknownUnit { unit: 'x', .. })
        ));
        assert!(matches!(
            Duration::parse("90"),
            Err(DurationError::Malformed(_))
        ));
        assert!(matches!(
            Duration::parse("h"),
            Err(DurationError::Malformed(_))
        ));
        assert!(matches!(
            Duration::parse("1.5h"),
            Err(DurationError::Malformed(_))
        ));
        assert!(matches!(
            Duration::parse("30m1h"),
            Err(DurationError::UnitOrder(_))
        ));
        assert!(matches!(
            Duration::parse("1h1h"),
            Err(DurationError::UnitOrder(_))
        ));
        assert!(matches!(
            Duration::parse("99999999999999999999d"),
            Err(DurationError::TooLong(_))
        ));
        assert!(matches!(
            Duration::parse("999999999999999d"),
            Err(DurationError::TooLong(_))
        ));
    }

    #[test]
    fn displays_the_shortest_form() {
        assert_eq!(Duration::from_secs(5_400).to_string(), "1h30m");
        assert_eq!(Duration::from_secs(172_800).to_string(), "2d");
        assert_eq!(Duration::from_secs(0).to_string(), "0s");
        assert_eq!(Duration::from_secs(61).to_string(), "1m1s");
    }

    #[test]
    fn serialises_as_seconds() {
        let json = serde_json::to_string(&Duration::parse("1h").unwrap()).unwrap();
        assert_eq!(json, "3600");
    }

    proptest! {
        #[test]
        fn display_round_trips(seconds in 0u64..10_000_000_000) {
            let duration = Duration::from_secs(seconds);
            prop_assert_eq!(Duration::parse(&duration.to_string()), Ok(duration));
        }

        #[test]
        fn never_panics(input in ".*") {
            let _ = Duration::parse(&input);
        }
    }
}
