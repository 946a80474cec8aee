//! `[workspace]` (who is sending) and `[database]` (where state lives).

use serde::Serialize;

use super::diagnostic::{Issues, did_you_mean};
use super::reader::{Located, TableReader};

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Workspace {
    pub name: String,
    /// IANA name such as "America/New_York", or "UTC".
    pub time_zone: String,
    /// Printed in every email footer; anti-spam law requires one.
    pub physical_address: String,
    /// Where links in emails and notifications point.
    pub public_url: Option<String>,
}

/// Operational, not policy: excluded from the policy version.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct DatabaseSection {
    /// `sqlite://…` or `postgres://…`; `HANDOFF_DATABASE_URL` overrides it.
    pub url: Option<String>,
}

pub(crate) fn read_workspace(
    issues: &mut Issues<'_>,
    mut table: TableReader<'_, '_>,
) -> Option<Workspace> {
    let name = table.required_text(issues, "name");
    table.explain_missing(
        "time_zone",
        "add the IANA time zone your team works in, e.g. time_zone = \"America/New_York\"",
    );
    let time_zone = table
        .required_string(issues, "time_zone")
        .and_then(|zone| check_time_zone(issues, zone));
    table.explain_missing(
        "physical_address",
        "every commercial email must carry a postal address (CAN-SPAM, CASL); \
         add physical_address = \"street, city, postcode, country\"",
    );
    let physical_address = table.required_text(issues, "physical_address");
    let public_url = table
        .string(issues, "public_url")
        .and_then(|url| check_http_url(issues, url, "public_url"));
    table.finish(issues);
    Some(Workspace {
        name: name?.value,
        time_zone: time_zone?,
        physical_address: physical_address?.value,
        public_url,
    })
}

pub(crate) fn read_database(
    issues: &mut Issues<'_>,
    mut table: TableReader<'_, '_>,
) -> DatabaseSection {
    let url = table.optional_text(issues, "url").map(|url| url.value);
    table.finish(issues);
    DatabaseSection { url }
}

/// IANA time-zone areas: names are shape-checked first (`UTC`, or
/// `Area/Location[/Sublocation]`) for a precise hint, then looked up.
const TIME_ZONE_AREAS: [&str; 11] = [
    "Africa",
    "America",
    "Antarctica",
    "Arctic",
    "Asia",
    "Atlantic",
    "Australia",
    "Etc",
    "Europe",
    "Indian",
    "Pacific",
];

const TIME_ZONE_HINT: &str =
    "use an IANA name such as \"America/New_York\", \"Europe/Berlin\" or \"UTC\"";

fn check_time_zone(issues: &mut Issues<'_>, zone: Located<String>) -> Option<String> {
    if zone.value == "UTC" {
        return Some(zone.value);
    }
    let mut parts = zone.value.split('/');
    let area = parts.next().unwrap_or_default();
    let locations: Vec<&str> = parts.collect();
    let well_formed_location = |part: &&str| {
        part.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
            && part
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '+'))
    };
    if !TIME_ZONE_AREAS.contains(&area) {
        let close_area = did_you_mean(area, &TIME_ZONE_AREAS);
        let hint = match close_area {
            Some(close) if !locations.is_empty() => {
                format!("did you mean `{close}/{}`?", locations.join("/"))
            }
            _ => TIME_ZONE_HINT.to_string(),
        };
        issues.error_with_hint(
            &zone.span,
            format!("`{}` is not an IANA time zone", zone.value),
            hint,
        );
        return None;
    }
    if locations.is_empty() || locations.len() > 2 || !locations.iter().all(well_formed_location) {
        issues.error_with_hint(
            &zone.span,
            format!("`{}` is not an IANA time zone", zone.value),
            TIME_ZONE_HINT,
        );
        return None;
    }
    // Well formed; now the zone database itself (send windows need it).
    if zone.value.parse::<chrono_tz::Tz>().is_err() {
        let names: Vec<&str> = chrono_tz::TZ_VARIANTS.iter().map(|tz| tz.name()).collect();
        let hint = match did_you_mean(&zone.value, &names) {
            Some(close) => format!("did you mean `{close}`?"),
            None => TIME_ZONE_HINT.to_string(),
        };
        issues.error_with_hint(
            &zone.span,
            format!("`{}` is not in the IANA time zone database", zone.value),
            hint,
        );
        return None;
    }
    Some(zone.value)
}

/// Absolute http(s) URLs only: they end up in links people click.
pub(crate) fn check_http_url(
    issues: &mut Issues<'_>,
    url: Located<String>,
    key: &str,
) -> Option<String> {
    let rest = url
        .value
        .strip_prefix("https://")
        .or_else(|| url.value.strip_prefix("http://"));
    match rest {
        Some(host)
            if !host.is_empty()
                && !host.starts_with('/')
                && !url.value.contains(char::is_whitespace) =>
        {
            Some(url.value)
        }
        _ => {
            issues.error_with_hint(
                &url.span,
                format!(
                    "`{key}` must be an http:// or https:// address, not `{}`",
                    url.value
                ),
                format!("write the full address, e.g. {key} = \"https://handoff.example.com\""),
            );
            None
        }
    }
}
