//! Where a recipient is, in time: their IANA zone and country, from the
//! contact's city and country, else the account's domain (its country-code
//! TLD), else the workspace's zone.
//!
//! The table (`data/zones.tsv`) comes from the IANA tz database and GeoNames;
//! `data/generate.py` says how it was made. A country maps to its most
//! populous zone; cities and states are listed only where their local time
//! differs from that zone's (US, Canada, Australia, Brazil, Russia, Mexico,
//! …).

use std::collections::HashMap;
use std::fmt;
use std::sync::LazyLock;

use chrono_tz::Tz;
use serde::Serialize;

const ZONES_TSV: &str = include_str!("data/zones.tsv");

/// An ISO 3166-1 alpha-2 code, upper case, known to the table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Country([u8; 2]);

impl Country {
    /// Any way people write a country: "US", "USA", "United States",
    /// "U.K.", "Deutschland", …; None when not recognised.
    pub fn parse(text: &str) -> Option<Self> {
        let key = normalise(text);
        if key.is_empty() {
            return None;
        }
        TABLE.countries.get(&key).copied().or_else(|| {
            ALIASES
                .iter()
                .find(|(alias, _)| *alias == key)
                .and_then(|(_, code)| Self::from_code(code))
        })
    }

    /// An exact two-letter code the table knows ("GB", not "UK").
    pub fn from_code(code: &str) -> Option<Self> {
        let bytes = code.as_bytes();
        if bytes.len() != 2 {
            return None;
        }
        let country = Country([bytes[0].to_ascii_uppercase(), bytes[1].to_ascii_uppercase()]);
        TABLE.default_zone.contains_key(&country).then_some(country)
    }

    pub fn as_str(&self) -> &str {
        std::str::from_utf8(&self.0).unwrap_or("??")
    }

    /// The country's most populous zone.
    pub fn default_zone(&self) -> Option<Tz> {
        TABLE.default_zone.get(self).copied()
    }
}

impl fmt::Display for Country {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for Country {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

/// Which fact decided a recipient's zone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ZoneSource {
    /// The contact's city or state.
    ContactCity,
    /// The contact's country (its most populous zone).
    ContactCountry,
    /// The account's domain ends in a country code (`.de`, `.co.uk`).
    AccountDomain,
    /// Nothing about the recipient: the workspace's own zone.
    Workspace,
}

/// A recipient's zone and, when known, country (for holidays and weekends).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Location {
    pub zone: Tz,
    pub country: Option<Country>,
    pub source: ZoneSource,
}

/// Resolves a recipient's location (see the module docs for the order).
pub fn locate(
    city: Option<&str>,
    country: Option<&str>,
    account_domain: Option<&str>,
    workspace_zone: Tz,
) -> Location {
    let country = country.and_then(Country::parse);
    if let Some(city) = city.filter(|c| !c.trim().is_empty())
        && let Some((zone, found)) = zone_of_place(city, country)
    {
        return Location {
            zone,
            country: Some(found),
            source: ZoneSource::ContactCity,
        };
    }
    if let Some(country) = country
        && let Some(zone) = country.default_zone()
    {
        return Location {
            zone,
            country: Some(country),
            source: ZoneSource::ContactCountry,
        };
    }
    if let Some(country) = account_domain.and_then(country_of_domain)
        && let Some(zone) = country.default_zone()
    {
        return Location {
            zone,
            country: Some(country),
            source: ZoneSource::AccountDomain,
        };
    }
    Location {
        zone: workspace_zone,
        country: country_of_zone(workspace_zone),
        source: ZoneSource::Workspace,
    }
}

/// The country whose table entry names this zone (its default zone or a
/// city's), e.g. America/New_York → US.
pub fn country_of_zone(zone: Tz) -> Option<Country> {
    TABLE.zone_country.get(zone.name()).copied()
}

/// A domain's country from its country-code TLD; None for generic TLDs
/// and for ccTLDs commonly used worldwide (.io, .ai, .co, …).
pub fn country_of_domain(domain: &str) -> Option<Country> {
    let tld = domain.trim().trim_end_matches('.').rsplit('.').next()?;
    if tld.len() != 2 || VANITY_TLDS.contains(&tld.to_ascii_lowercase().as_str()) {
        return None;
    }
    if tld.eq_ignore_ascii_case("uk") {
        return Country::from_code("GB");
    }
    Country::from_code(tld)
}

/// "Austin, TX", "Perth", "Ontario": the parts of a place, most specific
/// first, looked up as a state (which wins: "Portland, ME") then a city.
fn zone_of_place(place: &str, country: Option<Country>) -> Option<(Tz, Country)> {
    let parts: Vec<String> = place
        .split(',')
        .map(normalise)
        .filter(|p| !p.is_empty())
        .collect();
    let in_country = |key: &str, map: &HashMap<(Country, String), Tz>| -> Option<(Tz, Country)> {
        match country {
            Some(country) => map
                .get(&(country, key.to_string()))
                .map(|zone| (*zone, country)),
            // No country: only a name that exists in one country counts.
            None => {
                let mut found = map.iter().filter(|((_, name), _)| name == key);
                let first = found.next()?;
                found.next().is_none().then_some((*first.1, first.0.0))
            }
        }
    };
    if parts.len() > 1 {
        // "City, State": the state wins ("Portland, ME").
        for part in &parts[1..] {
            if let Some(hit) = in_country(part, &TABLE.divisions) {
                return Some(hit);
            }
        }
    }
    for part in &parts {
        if let Some(hit) = in_country(part, &TABLE.cities) {
            return Some(hit);
        }
    }
    // A state written alone ("Western Australia"); not "Washington", which
    // people write for the city (in its country's default zone, so unlisted).
    match parts.as_slice() {
        [only] if !AMBIGUOUS_STATES.contains(&only.as_str()) => in_country(only, &TABLE.divisions),
        // A city in the country's own zone is not listed: the country decides.
        _ => None,
    }
}

/// State names that are also the name of a big city elsewhere in the zone
/// table's default zone.
const AMBIGUOUS_STATES: &[&str] = &["washington"];

/// Lower case, accents and dots kept as typed, spaces collapsed.
fn normalise(text: &str) -> String {
    text.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .trim_matches(|c: char| c == '.' || c == ',')
        .to_lowercase()
}

/// Country-code TLDs that companies everywhere use as generic ones.
const VANITY_TLDS: &[&str] = &[
    "io", "ai", "co", "me", "tv", "cc", "ly", "fm", "gg", "ws", "to", "sh", "so", "la", "vc",
];

/// Common names and abbreviations the GeoNames names do not cover.
const ALIASES: &[(&str, &str)] = &[
    ("usa", "US"),
    ("u.s.", "US"),
    ("u.s.a.", "US"),
    ("u.s.a", "US"),
    ("united states of america", "US"),
    ("america", "US"),
    ("uk", "GB"),
    ("u.k.", "GB"),
    ("u.k", "GB"),
    ("great britain", "GB"),
    ("britain", "GB"),
    ("england", "GB"),
    ("scotland", "GB"),
    ("wales", "GB"),
    ("northern ireland", "GB"),
    ("deutschland", "DE"),
    ("the netherlands", "NL"),
    ("holland", "NL"),
    ("nederland", "NL"),
    ("españa", "ES"),
    ("espana", "ES"),
    ("méxico", "MX"),
    ("brasil", "BR"),
    ("schweiz", "CH"),
    ("suisse", "CH"),
    ("svizzera", "CH"),
    ("österreich", "AT"),
    ("osterreich", "AT"),
    ("italia", "IT"),
    ("sverige", "SE"),
    ("norge", "NO"),
    ("danmark", "DK"),
    ("suomi", "FI"),
    ("polska", "PL"),
    ("belgië", "BE"),
    ("belgique", "BE"),
    ("éire", "IE"),
    ("republic of ireland", "IE"),
    ("uae", "AE"),
    ("u.a.e.", "AE"),
    ("emirates", "AE"),
    ("south korea", "KR"),
    ("korea", "KR"),
    ("republic of korea", "KR"),
    ("czechia", "CZ"),
    ("czech republic", "CZ"),
    ("russian federation", "RU"),
    ("nippon", "JP"),
    ("hong kong sar", "HK"),
    ("türkiye", "TR"),
    ("turkiye", "TR"),
    ("viet nam", "VN"),
];

struct Table {
    /// Names, ISO2 and ISO3 codes, normalised.
    countries: HashMap<String, Country>,
    default_zone: HashMap<Country, Tz>,
    divisions: HashMap<(Country, String), Tz>,
    cities: HashMap<(Country, String), Tz>,
    zone_country: HashMap<&'static str, Country>,
}

static TABLE: LazyLock<Table> = LazyLock::new(|| parse_table(ZONES_TSV));

/// Lines that do not parse are skipped; a unit test proves there are none.
fn parse_table(text: &'static str) -> Table {
    let mut table = Table {
        countries: HashMap::new(),
        default_zone: HashMap::new(),
        divisions: HashMap::new(),
        cities: HashMap::new(),
        zone_country: HashMap::new(),
    };
    for line in text.lines().filter(|l| !l.starts_with('#')) {
        let Some(entry) = parse_line(line) else {
            continue;
        };
        let Entry {
            kind,
            country,
            zone,
            name,
            aliases,
        } = entry;
        match kind {
            "country" => {
                table.default_zone.insert(country, zone);
                table.zone_country.entry(zone.name()).or_insert(country);
                table
                    .countries
                    .insert(country.as_str().to_lowercase(), country);
                table.countries.insert(normalise(name), country);
                for alias in aliases.split(',').filter(|a| !a.is_empty()) {
                    table.countries.insert(normalise(alias), country);
                }
            }
            "division" => {
                table.divisions.insert((country, normalise(name)), zone);
                for alias in aliases.split(',').filter(|a| !a.is_empty()) {
                    table.divisions.insert((country, normalise(alias)), zone);
                }
            }
            "city" => {
                table.cities.insert((country, normalise(name)), zone);
                table.zone_country.entry(zone.name()).or_insert(country);
            }
            _ => {}
        }
    }
    table
}

struct Entry<'a> {
    kind: &'a str,
    country: Country,
    zone: Tz,
    name: &'a str,
    aliases: &'a str,
}

fn parse_line(line: &str) -> Option<Entry<'_>> {
    let mut fields = line.split('\t');
    let kind = fields.next()?;
    let code = fields.next()?.as_bytes();
    let zone: Tz = fields.next()?.parse().ok()?;
    let name = fields.next()?;
    let aliases = fields.next().unwrap_or_default();
    if code.len() != 2 || !code.iter().all(u8::is_ascii_uppercase) {
        return None;
    }
    Some(Entry {
        kind,
        country: Country([code[0], code[1]]),
        zone,
        name,
        aliases,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_line_of_the_table_parses() {
        let bad: Vec<&str> = ZONES_TSV
            .lines()
            .filter(|l| !l.starts_with('#'))
            .filter(|l| parse_line(l).is_none())
            .collect();
        assert!(bad.is_empty(), "unparsable lines: {bad:?}");
        assert!(TABLE.default_zone.len() > 200);
    }

    fn zone(
        city: Option<&str>,
        country: Option<&str>,
        domain: Option<&str>,
    ) -> (String, ZoneSource) {
        let at = locate(city, country, domain, chrono_tz::UTC);
        (at.zone.name().to_string(), at.source)
    }

    #[test]
    fn cities_and_states_pick_the_zone_in_multi_zone_countries() {
        use ZoneSource::*;
        assert_eq!(
            zone(Some("San Francisco"), Some("United States"), None),
            ("America/Los_Angeles".into(), ContactCity)
        );
        assert_eq!(
            zone(Some("Austin, TX"), Some("USA"), None),
            ("America/Chicago".into(), ContactCity)
        );
        // The state wins over a same-named bigger city elsewhere.
        assert_eq!(
            zone(Some("Portland, ME"), Some("US"), None),
            ("America/New_York".into(), ContactCity)
        );
        assert_eq!(
            zone(Some("Portland"), Some("US"), None),
            ("America/Los_Angeles".into(), ContactCity)
        );
        assert_eq!(
            zone(Some("Perth"), Some("Australia"), None),
            ("Australia/Perth".into(), ContactCity)
        );
        assert_eq!(
            zone(Some("Vancouver"), Some("Canada"), None),
            ("America/Vancouver".into(), ContactCity)
        );
        // A city in the country's own zone: the country decides.
        assert_eq!(
            zone(Some("Boston"), Some("US"), None),
            ("America/New_York".into(), ContactCountry)
        );
        // A state alone, with no country: only one country has it.
        assert_eq!(
            zone(Some("Western Australia"), None, None),
            ("Australia/Perth".into(), ContactCity)
        );
    }

    #[test]
    fn countries_are_read_as_people_write_them() {
        for (text, code) in [
            ("US", "US"),
            ("usa", "US"),
            ("United States", "US"),
            ("U.K.", "GB"),
            ("England", "GB"),
            ("United Kingdom", "GB"),
            ("Deutschland", "DE"),
            ("Germany", "DE"),
            ("DEU", "DE"),
            ("japan", "JP"),
            ("  the   Netherlands ", "NL"),
        ] {
            assert_eq!(
                Country::parse(text).map(|c| c.to_string()),
                Some(code.to_string()),
                "{text}"
            );
        }
        assert_eq!(Country::parse("Atlantis"), None);
        assert_eq!(Country::parse(""), None);
        assert_eq!(
            zone(None, Some("Japan"), None),
            ("Asia/Tokyo".into(), ZoneSource::ContactCountry)
        );
    }

    #[test]
    fn the_account_domain_then_the_workspace_decide_when_the_contact_says_nothing() {
        assert_eq!(
            zone(None, None, Some("acme.co.uk")),
            ("Europe/London".into(), ZoneSource::AccountDomain)
        );
        assert_eq!(
            zone(None, Some("Atlantis"), Some("acme.de")),
            ("Europe/Berlin".into(), ZoneSource::AccountDomain)
        );
        // Generic and vanity TLDs say nothing about a country.
        assert_eq!(zone(None, None, Some("acme.io")).1, ZoneSource::Workspace);
        assert_eq!(zone(None, None, Some("acme.com")).1, ZoneSource::Workspace);
        let at = locate(None, None, None, chrono_tz::America::New_York);
        assert_eq!(at.zone, chrono_tz::America::New_York);
        assert_eq!(at.country.map(|c| c.to_string()), Some("US".into()));
    }
}
