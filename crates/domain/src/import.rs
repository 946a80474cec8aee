//! The pure half of `handoff import`: which vendor a CSV comes from, which
//! column holds which field, how a raw cell becomes a value, and how an
//! incoming record merges into what is already known. Reading the file
//! itself (encodings, delimiters, streaming) lives in the engine.
//!
//! Column names per vendor were taken from their public export formats:
//! - Apollo: the people export ("First Name", "Last Name", "Title",
//!   "Company", "Company Name for Emails", "Email", "Email Status",
//!   "# Employees", "Industry", "Person Linkedin Url", "Website", "City",
//!   "Country", "Technologies", "Annual Revenue", "Apollo Contact Id", ...).
//! - HubSpot: contact property labels in a CRM export ("Record ID",
//!   "First Name", "Last Name", "Email", "Job Title", "Company Name",
//!   "Phone Number", "City", "Country/Region", "Website URL", "Industry",
//!   "Number of Employees", "Annual Revenue", "Lifecycle Stage", ...).
//! - Salesforce: report labels ("First Name", "Last Name", "Title",
//!   "Account Name", "Email", "Phone", "Mailing City", "Mailing Country",
//!   "Contact ID", ...) and Data Loader API names ("FirstName", "LastName",
//!   "Email", "MailingCity", "MailingCountry", "Account.Name", ...).
//!
//! See docs/import-formats.md for the full tables.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::email::EmailAddress;

/// Where a CSV came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ImportFormat {
    Apollo,
    Hubspot,
    Salesforce,
    /// Any CSV, with columns named by `--map field=Column` or by the
    /// canonical field names themselves.
    Generic,
}

impl ImportFormat {
    pub const ALL: [ImportFormat; 4] = [
        ImportFormat::Apollo,
        ImportFormat::Hubspot,
        ImportFormat::Salesforce,
        ImportFormat::Generic,
    ];

    pub fn as_str(&self) -> &'static str {
        match self {
            ImportFormat::Apollo => "apollo",
            ImportFormat::Hubspot => "hubspot",
            ImportFormat::Salesforce => "salesforce",
            ImportFormat::Generic => "generic",
        }
    }
}

impl fmt::Display for ImportFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ImportFormat {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ImportFormat::ALL
            .into_iter()
            .find(|f| f.as_str() == s)
            .ok_or_else(|| {
                format!("unknown format `{s}`: use auto, apollo, hubspot, salesforce or generic")
            })
    }
}

/// The fields handoff knows, whatever a vendor calls them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Field {
    Email,
    FirstName,
    LastName,
    Title,
    Company,
    Domain,
    Phone,
    LinkedinUrl,
    City,
    Country,
    Employees,
    Industry,
    Revenue,
    Technologies,
}

impl Field {
    pub const ALL: [Field; 14] = [
        Field::Email,
        Field::FirstName,
        Field::LastName,
        Field::Title,
        Field::Company,
        Field::Domain,
        Field::Phone,
        Field::LinkedinUrl,
        Field::City,
        Field::Country,
        Field::Employees,
        Field::Industry,
        Field::Revenue,
        Field::Technologies,
    ];

    pub fn as_str(&self) -> &'static str {
        match self {
            Field::Email => "email",
            Field::FirstName => "first_name",
            Field::LastName => "last_name",
            Field::Title => "title",
            Field::Company => "company",
            Field::Domain => "domain",
            Field::Phone => "phone",
            Field::LinkedinUrl => "linkedin_url",
            Field::City => "city",
            Field::Country => "country",
            Field::Employees => "employees",
            Field::Industry => "industry",
            Field::Revenue => "revenue",
            Field::Technologies => "technologies",
        }
    }

    /// The vendor's column names for this field, best first.
    fn columns(&self, format: ImportFormat) -> &'static [&'static str] {
        use Field::*;
        use ImportFormat::*;
        match (format, self) {
            (Apollo, Email) => &["Email"],
            (Apollo, FirstName) => &["First Name"],
            (Apollo, LastName) => &["Last Name"],
            (Apollo, Title) => &["Title"],
            (Apollo, Company) => &["Company", "Company Name for Emails", "Company Name"],
            (Apollo, Domain) => &["Website", "Company Website"],
            (Apollo, Phone) => &[
                "Work Direct Phone",
                "Mobile Phone",
                "Corporate Phone",
                "First Phone",
                "Other Phone",
            ],
            (Apollo, LinkedinUrl) => &["Person Linkedin Url"],
            (Apollo, City) => &["City"],
            (Apollo, Country) => &["Country"],
            (Apollo, Employees) => &["# Employees"],
            (Apollo, Industry) => &["Industry"],
            (Apollo, Revenue) => &["Annual Revenue"],
            (Apollo, Technologies) => &["Technologies"],

            (Hubspot, Email) => &["Email"],
            (Hubspot, FirstName) => &["First Name"],
            (Hubspot, LastName) => &["Last Name"],
            (Hubspot, Title) => &["Job Title"],
            (Hubspot, Company) => &["Company Name", "Associated Company"],
            (Hubspot, Domain) => &["Website URL", "Company Domain Name"],
            (Hubspot, Phone) => &["Phone Number", "Mobile Phone Number"],
            (Hubspot, LinkedinUrl) => &["LinkedIn URL", "Linkedin URL"],
            (Hubspot, City) => &["City"],
            (Hubspot, Country) => &["Country/Region", "Country"],
            (Hubspot, Employees) => &["Number of Employees"],
            (Hubspot, Industry) => &["Industry"],
            (Hubspot, Revenue) => &["Annual Revenue"],
            (Hubspot, Technologies) => &[],

            (Salesforce, Email) => &["Email"],
            (Salesforce, FirstName) => &["First Name", "FirstName"],
            (Salesforce, LastName) => &["Last Name", "LastName"],
            (Salesforce, Title) => &["Title"],
            (Salesforce, Company) => &["Account Name", "Account.Name", "Company"],
            (Salesforce, Domain) => &["Website", "Account.Website"],
            (Salesforce, Phone) => &["Phone", "Mobile", "MobilePhone"],
            (Salesforce, LinkedinUrl) => &[],
            (Salesforce, City) => &["Mailing City", "MailingCity"],
            (Salesforce, Country) => &["Mailing Country", "MailingCountry"],
            (Salesforce, Employees) => &[
                "Employees",
                "Account.NumberOfEmployees",
                "NumberOfEmployees",
            ],
            (Salesforce, Industry) => &["Industry", "Account.Industry"],
            (Salesforce, Revenue) => &["Annual Revenue", "Account.AnnualRevenue", "AnnualRevenue"],
            (Salesforce, Technologies) => &[],

            (Generic, _) => &[],
        }
    }
}

impl fmt::Display for Field {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Field {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Field::ALL
            .into_iter()
            .find(|f| f.as_str() == s)
            .ok_or_else(|| {
                let known: Vec<_> = Field::ALL.iter().map(|f| f.as_str()).collect();
                format!("unknown field `{s}`: the fields are {}", known.join(", "))
            })
    }
}

/// Columns that only one vendor's export has: enough to tell them apart.
const FINGERPRINTS: [(ImportFormat, &[&str]); 3] = [
    (
        ImportFormat::Apollo,
        &[
            "Apollo Contact Id",
            "Apollo Account Id",
            "Person Linkedin Url",
            "Company Name for Emails",
            "# Employees",
            "Email Status",
        ],
    ),
    (
        ImportFormat::Hubspot,
        &[
            "Record ID",
            "Lifecycle Stage",
            "Contact owner",
            "Country/Region",
            "Job Title",
            "Website URL",
            "Phone Number",
        ],
    ),
    (
        ImportFormat::Salesforce,
        &[
            "Contact ID",
            "Account Name",
            "Mailing City",
            "Mailing Country",
            "MailingCity",
            "FirstName",
            "Account.Name",
        ],
    ),
];

fn header_key(h: &str) -> String {
    h.trim().trim_start_matches('\u{feff}').to_lowercase()
}

/// Which vendor wrote these headers, if any recognisably did (two or more
/// of its distinctive columns, and more than any other vendor).
pub fn detect_format(headers: &[String]) -> Option<ImportFormat> {
    let present: Vec<String> = headers.iter().map(|h| header_key(h)).collect();
    let mut best: Option<(ImportFormat, usize)> = None;
    let mut tie = false;
    for (format, marks) in FINGERPRINTS {
        let hits = marks
            .iter()
            .filter(|m| present.contains(&m.to_lowercase()))
            .count();
        match best {
            Some((_, n)) if hits == n => tie = true,
            Some((_, n)) if hits < n => {}
            _ => {
                best = Some((format, hits));
                tie = false;
            }
        }
    }
    match best {
        Some((format, hits)) if hits >= 2 && !tie => Some(format),
        _ => None,
    }
}

/// Which column (by index) holds which field.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct ColumnMap {
    columns: BTreeMap<Field, usize>,
    /// For messages: the header text of each mapped column.
    names: BTreeMap<Field, String>,
}

impl ColumnMap {
    pub fn get(&self, field: Field) -> Option<usize> {
        self.columns.get(&field).copied()
    }

    pub fn column_name(&self, field: Field) -> Option<&str> {
        self.names.get(&field).map(String::as_str)
    }

    pub fn fields(&self) -> impl Iterator<Item = (Field, &str)> {
        self.names.iter().map(|(f, n)| (*f, n.as_str()))
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MappingError {
    #[error("`--map {0}` is not field=Column: write e.g. --map email=\"Work Email\"")]
    BadOverride(String),
    #[error("{0}")]
    UnknownField(String),
    #[error("--map {field}={column}: the file has no column `{column}`{hint}")]
    UnknownColumn {
        field: Field,
        column: String,
        hint: String,
    },
    #[error(
        "no email column found (looked for {looked_for}): name it with --map email=\"Your Column\"; the file's columns are {columns}"
    )]
    NoEmailColumn { looked_for: String, columns: String },
}

/// Maps headers to fields: the vendor's names, then the canonical names
/// (so a generic CSV with an `email` column just works), then `overrides`
/// ("field=Column"), which win.
pub fn map_columns(
    format: ImportFormat,
    headers: &[String],
    overrides: &[String],
) -> Result<ColumnMap, MappingError> {
    let keys: Vec<String> = headers.iter().map(|h| header_key(h)).collect();
    let find = |name: &str| keys.iter().position(|k| *k == name.to_lowercase());
    let mut map = ColumnMap::default();
    let put = |map: &mut ColumnMap, field: Field, index: usize| {
        map.columns.insert(field, index);
        map.names.insert(
            field,
            headers
                .get(index)
                .map(|h| h.trim().trim_start_matches('\u{feff}').to_string())
                .unwrap_or_default(),
        );
    };
    for field in Field::ALL {
        let vendor = field.columns(format).iter().find_map(|c| find(c));
        let canonical = find(field.as_str()).or_else(|| find(&field.as_str().replace('_', " ")));
        if let Some(index) = vendor.or(canonical) {
            put(&mut map, field, index);
        }
    }
    for spec in overrides {
        let (field, column) = spec
            .split_once('=')
            .ok_or_else(|| MappingError::BadOverride(spec.clone()))?;
        let field: Field = field.trim().parse().map_err(MappingError::UnknownField)?;
        let column = column.trim().trim_matches('"');
        let index = find(column).ok_or_else(|| MappingError::UnknownColumn {
            field,
            column: column.to_string(),
            hint: closest_header(column, headers)
                .map(|h| format!(": did you mean `{h}`?"))
                .unwrap_or_else(|| format!("; its columns are {}", quoted_list(headers))),
        })?;
        put(&mut map, field, index);
    }
    if map.get(Field::Email).is_none() {
        let mut looked_for: Vec<&str> = Field::Email.columns(format).to_vec();
        looked_for.push("email");
        looked_for.dedup();
        return Err(MappingError::NoEmailColumn {
            looked_for: looked_for
                .iter()
                .map(|c| format!("`{c}`"))
                .collect::<Vec<_>>()
                .join(", "),
            columns: quoted_list(headers),
        });
    }
    Ok(map)
}

fn quoted_list(headers: &[String]) -> String {
    let shown: Vec<String> = headers
        .iter()
        .take(20)
        .map(|h| format!("`{}`", h.trim()))
        .collect();
    let more = headers.len().saturating_sub(20);
    if more > 0 {
        format!("{} and {more} more", shown.join(", "))
    } else {
        shown.join(", ")
    }
}

fn closest_header<'a>(wanted: &str, headers: &'a [String]) -> Option<&'a str> {
    let wanted = wanted.to_lowercase();
    headers
        .iter()
        .map(|h| (h.trim(), edit_distance(&wanted, &h.trim().to_lowercase())))
        .filter(|(h, d)| *d <= 2.max(h.len() / 4))
        .min_by_key(|(_, d)| *d)
        .map(|(h, _)| h)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cur = row[j + 1];
            row[j + 1] = if ca == *cb {
                prev
            } else {
                1 + prev.min(row[j]).min(row[j + 1])
            };
            prev = cur;
        }
    }
    row[b.len()]
}

/// One imported contact, parsed and normalised. Absent means the file said
/// nothing about the field (an empty cell never erases a known value).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ContactRecord {
    pub email: Option<EmailAddress>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub title: Option<String>,
    pub phone: Option<String>,
    pub linkedin_url: Option<String>,
    pub city: Option<String>,
    pub country: Option<String>,
    pub company: Option<String>,
}

/// What the row says about the contact's company.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct AccountRecord {
    /// Registrable domain (public suffix list), lower case.
    pub domain: String,
    pub name: Option<String>,
    pub industry: Option<String>,
    pub employees: Option<i64>,
    pub revenue: Option<i64>,
    pub technologies: Option<Vec<String>>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ParsedRow {
    pub contact: ContactRecord,
    /// None when the company cannot be told (a free-mail address and no
    /// website).
    pub account: Option<AccountRecord>,
    /// Cells that were unreadable and left out; the row still imports.
    pub warnings: Vec<(Field, String)>,
}

/// Why a row was not imported.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Rejection {
    pub column: String,
    pub reason: String,
}

/// Parses one row. Only a missing or malformed email rejects the row; other
/// unreadable cells are dropped with a warning so good data is kept.
pub fn parse_row(map: &ColumnMap, cells: &[&str]) -> Result<ParsedRow, Rejection> {
    let cell = |field: Field| -> Option<String> {
        map.get(field)
            .and_then(|i| cells.get(i))
            .map(|raw| clean_cell(raw, field == Field::Phone))
            .filter(|v| !v.is_empty())
    };
    let email_column = map.column_name(Field::Email).unwrap_or("email").to_string();
    let raw_email = cell(Field::Email).ok_or_else(|| Rejection {
        column: email_column.clone(),
        reason: "the email is empty".into(),
    })?;
    let email = EmailAddress::parse(&raw_email).map_err(|e| Rejection {
        column: email_column,
        reason: e.to_string(),
    })?;

    let mut warnings = Vec::new();
    let mut number = |field: Field, parse: fn(&str) -> Option<i64>| {
        cell(field).and_then(|raw| {
            let parsed = parse(&raw);
            if parsed.is_none() {
                warnings.push((field, format!("`{raw}` is not a number; left out")));
            }
            parsed
        })
    };
    let employees = number(Field::Employees, parse_employees);
    let revenue = number(Field::Revenue, parse_money);
    let technologies = cell(Field::Technologies)
        .map(|raw| split_list(&raw))
        .filter(|t| !t.is_empty());

    let website_domain = cell(Field::Domain).and_then(|raw| registrable_domain(&host_of(&raw)));
    if cell(Field::Domain).is_some() && website_domain.is_none() {
        warnings.push((
            Field::Domain,
            "the website has no recognisable domain; used the email's".into(),
        ));
    }
    let domain = website_domain.or_else(|| {
        let email_domain = email.domain();
        (!is_free_mail(email_domain))
            .then(|| registrable_domain(email_domain))
            .flatten()
    });
    let company = cell(Field::Company);
    let account = domain.map(|domain| AccountRecord {
        domain,
        name: company.clone(),
        industry: cell(Field::Industry).map(|i| i.to_lowercase()),
        employees,
        revenue,
        technologies,
    });
    Ok(ParsedRow {
        contact: ContactRecord {
            email: Some(email),
            first_name: cell(Field::FirstName),
            last_name: cell(Field::LastName),
            title: cell(Field::Title),
            phone: cell(Field::Phone),
            linkedin_url: cell(Field::LinkedinUrl),
            city: cell(Field::City),
            country: cell(Field::Country),
            company,
        },
        account,
        warnings,
    })
}

/// Trims a cell and undoes what spreadsheets do to them: `="00123"` (Excel's
/// keep-as-text wrapper) becomes `00123`, a leading `'` text marker goes,
/// and leading formula characters (`=`, `+`, `@`, tab, CR) are dropped so a
/// formula never travels on into someone else's spreadsheet. Phone numbers
/// keep a leading `+`.
pub fn clean_cell(raw: &str, keep_plus: bool) -> String {
    let mut value = raw.trim();
    if let Some(inner) = value.strip_prefix("=\"").and_then(|v| v.strip_suffix('"')) {
        value = inner;
    }
    value = value.strip_prefix('\'').unwrap_or(value);
    let value = value.trim_start_matches(|c: char| {
        matches!(c, '=' | '@' | '\t' | '\r') || (c == '+' && !keep_plus)
    });
    value.trim().to_string()
}

/// "1,200", "51-200" (the middle of the band), "10K", "1.5k", "10,001+".
pub fn parse_employees(raw: &str) -> Option<i64> {
    let s = raw
        .trim()
        .trim_end_matches('+')
        .replace([',', ' ', '\u{a0}'], "");
    if let Some((lo, hi)) = s.split_once(['-', '–']) {
        let (lo, hi) = (parse_scaled(lo)?, parse_scaled(hi)?);
        return (lo <= hi).then_some((lo + hi) / 2);
    }
    parse_scaled(&s)
}

/// "$10M", "10,000,000", "1.5B", "€250k", "USD 3 million".
pub fn parse_money(raw: &str) -> Option<i64> {
    let lower = raw.to_lowercase();
    let s: String = lower
        .replace("million", "m")
        .replace("billion", "b")
        .replace("thousand", "k")
        .chars()
        .filter(|c| c.is_ascii_digit() || matches!(c, '.' | 'k' | 'm' | 'b'))
        .collect();
    parse_scaled(&s)
}

fn parse_scaled(s: &str) -> Option<i64> {
    let s = s.trim();
    let (digits, factor) = match s.chars().last()? {
        'k' | 'K' => (&s[..s.len() - 1], 1_000.0),
        'm' | 'M' => (&s[..s.len() - 1], 1_000_000.0),
        'b' | 'B' => (&s[..s.len() - 1], 1_000_000_000.0),
        _ => (s, 1.0),
    };
    let value: f64 = digits.parse().ok()?;
    let scaled = value * factor;
    (0.0..9.0e15)
        .contains(&scaled)
        .then_some(scaled.round() as i64)
}

/// "Salesforce, HubSpot; Snowflake" → ["salesforce", "hubspot", "snowflake"].
pub fn split_list(raw: &str) -> Vec<String> {
    let mut items: Vec<String> = raw
        .split([',', ';', '|'])
        .map(|t| t.trim().to_lowercase())
        .filter(|t| !t.is_empty())
        .collect();
    items.dedup();
    items
}

/// The host of a website cell: "https://www.Acme.com/about" → "www.acme.com".
pub fn host_of(raw: &str) -> String {
    let s = raw.trim().to_lowercase();
    let s = s.split_once("://").map(|(_, rest)| rest).unwrap_or(&s);
    let s = s.split(['/', '?', '#']).next().unwrap_or_default();
    let s = s.rsplit_once('@').map(|(_, h)| h).unwrap_or(s);
    let s = s.split(':').next().unwrap_or_default();
    s.trim_end_matches('.').to_string()
}

/// The registrable domain by the public suffix list: "mail.acme.co.uk" →
/// "acme.co.uk". None for a bare suffix or something that is not a name.
pub fn registrable_domain(host: &str) -> Option<String> {
    let host = host.trim().trim_end_matches('.').to_lowercase();
    if host.is_empty() || !host.contains('.') || host.chars().any(|c| c.is_whitespace()) {
        return None;
    }
    psl::domain_str(&host).map(str::to_string)
}

/// Addresses at these providers say nothing about the person's company.
pub fn is_free_mail(domain: &str) -> bool {
    const FREE: &[&str] = &[
        "gmail.com",
        "googlemail.com",
        "yahoo.com",
        "yahoo.co.uk",
        "yahoo.fr",
        "ymail.com",
        "hotmail.com",
        "hotmail.co.uk",
        "hotmail.fr",
        "outlook.com",
        "live.com",
        "msn.com",
        "icloud.com",
        "me.com",
        "mac.com",
        "aol.com",
        "proton.me",
        "protonmail.com",
        "gmx.com",
        "gmx.de",
        "gmx.net",
        "web.de",
        "mail.com",
        "mail.ru",
        "yandex.ru",
        "yandex.com",
        "qq.com",
        "163.com",
        "126.com",
        "zoho.com",
        "fastmail.com",
        "orange.fr",
        "free.fr",
        "laposte.net",
        "t-online.de",
        "libero.it",
        "seznam.cz",
        "wp.pl",
        "o2.pl",
    ];
    FREE.contains(&domain.to_lowercase().as_str())
}

/// One field whose stored and incoming values disagree.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Conflict {
    pub field: String,
    pub old: String,
    pub new: String,
}

/// The outcome of merging an incoming record into a stored one.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Merge<T> {
    pub merged: T,
    /// Fields the incoming record set or changed.
    pub changed: Vec<&'static str>,
    /// Fields where a known value was replaced by a different one.
    pub conflicts: Vec<Conflict>,
}

fn merge_field<V: Clone + PartialEq + fmt::Debug>(
    name: &'static str,
    stored: &Option<V>,
    incoming: &Option<V>,
    show: fn(&V) -> String,
    changed: &mut Vec<&'static str>,
    conflicts: &mut Vec<Conflict>,
) -> Option<V> {
    match (stored, incoming) {
        (_, None) => stored.clone(),
        (Some(old), Some(new)) if old == new => stored.clone(),
        (old, Some(new)) => {
            changed.push(name);
            if let Some(old) = old {
                conflicts.push(Conflict {
                    field: name.to_string(),
                    old: show(old),
                    new: show(new),
                });
            }
            Some(new.clone())
        }
    }
}

/// Newer non-empty wins, field by field; an empty incoming value keeps the
/// stored one; every replaced value is a conflict.
pub fn merge_contact(stored: &ContactRecord, incoming: &ContactRecord) -> Merge<ContactRecord> {
    let mut changed = Vec::new();
    let mut conflicts = Vec::new();
    let c = &mut changed;
    let k = &mut conflicts;
    let merged = ContactRecord {
        email: stored.email.clone().or_else(|| incoming.email.clone()),
        first_name: merge_field(
            "first_name",
            &stored.first_name,
            &incoming.first_name,
            String::clone,
            c,
            k,
        ),
        last_name: merge_field(
            "last_name",
            &stored.last_name,
            &incoming.last_name,
            String::clone,
            c,
            k,
        ),
        title: merge_field("title", &stored.title, &incoming.title, String::clone, c, k),
        phone: merge_field("phone", &stored.phone, &incoming.phone, String::clone, c, k),
        linkedin_url: merge_field(
            "linkedin_url",
            &stored.linkedin_url,
            &incoming.linkedin_url,
            String::clone,
            c,
            k,
        ),
        city: merge_field("city", &stored.city, &incoming.city, String::clone, c, k),
        country: merge_field(
            "country",
            &stored.country,
            &incoming.country,
            String::clone,
            c,
            k,
        ),
        company: merge_field(
            "company",
            &stored.company,
            &incoming.company,
            String::clone,
            c,
            k,
        ),
    };
    Merge {
        merged,
        changed,
        conflicts,
    }
}

pub fn merge_account(stored: &AccountRecord, incoming: &AccountRecord) -> Merge<AccountRecord> {
    let mut changed = Vec::new();
    let mut conflicts = Vec::new();
    let c = &mut changed;
    let k = &mut conflicts;
    let merged = AccountRecord {
        domain: stored.domain.clone(),
        name: merge_field("name", &stored.name, &incoming.name, String::clone, c, k),
        industry: merge_field(
            "industry",
            &stored.industry,
            &incoming.industry,
            String::clone,
            c,
            k,
        ),
        employees: merge_field(
            "employees",
            &stored.employees,
            &incoming.employees,
            |v| v.to_string(),
            c,
            k,
        ),
        revenue: merge_field(
            "revenue",
            &stored.revenue,
            &incoming.revenue,
            |v| v.to_string(),
            c,
            k,
        ),
        technologies: merge_field(
            "technologies",
            &stored.technologies,
            &incoming.technologies,
            |v| v.join(", "),
            c,
            k,
        ),
    };
    Merge {
        merged,
        changed,
        conflicts,
    }
}

/// A company change is a job change: a signal for the engagement stage.
pub fn job_change(merge: &Merge<ContactRecord>) -> Option<&Conflict> {
    merge.conflicts.iter().find(|c| c.field == "company")
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn headers(names: &[&str]) -> Vec<String> {
        names.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn vendors_are_told_apart_by_their_headers() {
        let apollo = headers(&[
            "First Name",
            "Last Name",
            "Title",
            "Company",
            "Company Name for Emails",
            "Email",
            "Email Status",
            "# Employees",
            "Person Linkedin Url",
            "Apollo Contact Id",
        ]);
        let hubspot = headers(&[
            "Record ID",
            "First Name",
            "Last Name",
            "Email",
            "Job Title",
            "Company Name",
            "Lifecycle Stage",
            "Country/Region",
        ]);
        let salesforce = headers(&[
            "Contact ID",
            "First Name",
            "Last Name",
            "Title",
            "Account Name",
            "Email",
            "Mailing City",
        ]);
        let loader = headers(&[
            "Id",
            "FirstName",
            "LastName",
            "Email",
            "Account.Name",
            "MailingCity",
        ]);
        let generic = headers(&["email", "name", "company"]);
        assert_eq!(detect_format(&apollo), Some(ImportFormat::Apollo));
        assert_eq!(detect_format(&hubspot), Some(ImportFormat::Hubspot));
        assert_eq!(detect_format(&salesforce), Some(ImportFormat::Salesforce));
        assert_eq!(detect_format(&loader), Some(ImportFormat::Salesforce));
        assert_eq!(detect_format(&generic), None);
        let bom = headers(&[
            "\u{feff}First Name",
            "Email",
            "Person Linkedin Url",
            "# Employees",
        ]);
        assert_eq!(detect_format(&bom), Some(ImportFormat::Apollo));
    }

    #[test]
    fn generic_files_map_by_canonical_names_and_overrides() {
        let h = headers(&["Work Email", "First name", "Org"]);
        let err = map_columns(ImportFormat::Generic, &h, &[]).unwrap_err();
        assert!(err.to_string().contains("--map email="), "{err}");
        assert!(err.to_string().contains("`Work Email`"), "{err}");
        let map = map_columns(
            ImportFormat::Generic,
            &h,
            &["email=Work Email".into(), "company=Org".into()],
        )
        .unwrap();
        assert_eq!(map.get(Field::Email), Some(0));
        assert_eq!(map.get(Field::FirstName), Some(1));
        assert_eq!(map.get(Field::Company), Some(2));
        let err = map_columns(ImportFormat::Generic, &h, &["email=Work Emial".into()]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "--map email=Work Emial: the file has no column `Work Emial`: did you mean `Work Email`?"
        );
        let err = map_columns(ImportFormat::Generic, &h, &["mail=Work Email".into()]).unwrap_err();
        assert!(err.to_string().starts_with("unknown field `mail`"), "{err}");
        let err = map_columns(ImportFormat::Generic, &h, &["email".into()]).unwrap_err();
        assert!(matches!(err, MappingError::BadOverride(_)));
    }

    #[test]
    fn rows_parse_and_normalise() {
        let h = headers(&[
            "Email",
            "First Name",
            "Company",
            "Website",
            "# Employees",
            "Annual Revenue",
            "Technologies",
            "Industry",
        ]);
        let map = map_columns(ImportFormat::Apollo, &h, &[]).unwrap();
        let row = parse_row(
            &map,
            &[
                " Ada@Acme.IO ",
                "=\"Ada\"",
                "Acme",
                "https://www.acme.co.uk/about",
                "51-200",
                "$10M",
                "Snowflake, dbt",
                "Fintech",
            ],
        )
        .unwrap();
        assert_eq!(
            row.contact.email.as_ref().map(|e| e.as_str()),
            Some("ada@acme.io")
        );
        assert_eq!(row.contact.first_name.as_deref(), Some("Ada"));
        let account = row.account.unwrap();
        assert_eq!(account.domain, "acme.co.uk");
        assert_eq!(account.employees, Some(125));
        assert_eq!(account.revenue, Some(10_000_000));
        assert_eq!(
            account.technologies,
            Some(vec!["snowflake".to_string(), "dbt".to_string()])
        );
        assert_eq!(account.industry.as_deref(), Some("fintech"));
        assert!(row.warnings.is_empty());

        let bad = parse_row(&map, &["not-an-email", "", "", "", "", "", "", ""]).unwrap_err();
        assert_eq!(bad.column, "Email");
        assert!(bad.reason.contains("no `@`"), "{}", bad.reason);
        let empty = parse_row(&map, &[""]).unwrap_err();
        assert_eq!(empty.reason, "the email is empty");

        let warned = parse_row(&map, &["x@gmail.com", "", "", "", "lots", "", "", ""]).unwrap();
        assert_eq!(
            warned.account, None,
            "a free-mail address with no website says nothing about the company"
        );
        assert_eq!(warned.warnings.len(), 1);
    }

    #[test]
    fn spreadsheet_artefacts_are_removed() {
        assert_eq!(clean_cell("=\"00123\"", false), "00123");
        assert_eq!(clean_cell("'0042", false), "0042");
        assert_eq!(
            clean_cell("=HYPERLINK(\"http://x\")", false),
            "HYPERLINK(\"http://x\")"
        );
        assert_eq!(clean_cell("@SUM(A1)", false), "SUM(A1)");
        assert_eq!(clean_cell("+1 555 0100", true), "+1 555 0100");
        assert_eq!(clean_cell("+cmd", false), "cmd");
    }

    #[test]
    fn numbers_in_their_many_spellings() {
        assert_eq!(parse_employees("1,200"), Some(1200));
        assert_eq!(parse_employees("10K"), Some(10_000));
        assert_eq!(parse_employees("10,001+"), Some(10_001));
        assert_eq!(parse_employees("200-51"), None);
        assert_eq!(parse_employees("many"), None);
        assert_eq!(parse_money("USD 3 million"), Some(3_000_000));
        assert_eq!(parse_money("€250k"), Some(250_000));
        assert_eq!(parse_money("1.5B"), Some(1_500_000_000));
    }

    #[test]
    fn domains_are_registrable() {
        assert_eq!(
            registrable_domain("mail.acme.co.uk").as_deref(),
            Some("acme.co.uk")
        );
        assert_eq!(registrable_domain("co.uk"), None);
        assert_eq!(host_of("HTTP://user@Www.Acme.com:8080/x?y"), "www.acme.com");
        assert_eq!(registrable_domain("localhost"), None);
    }

    #[test]
    fn newer_non_empty_wins_and_conflicts_are_kept() {
        let stored = ContactRecord {
            first_name: Some("Ada".into()),
            title: Some("CTO".into()),
            company: Some("Acme".into()),
            ..ContactRecord::default()
        };
        let incoming = ContactRecord {
            first_name: None,
            title: Some("CEO".into()),
            city: Some("London".into()),
            company: Some("Globex".into()),
            ..ContactRecord::default()
        };
        let m = merge_contact(&stored, &incoming);
        assert_eq!(
            m.merged.first_name.as_deref(),
            Some("Ada"),
            "empty never erases"
        );
        assert_eq!(m.merged.title.as_deref(), Some("CEO"));
        assert_eq!(m.merged.city.as_deref(), Some("London"));
        assert_eq!(m.changed, vec!["title", "city", "company"]);
        assert_eq!(m.conflicts.len(), 2);
        assert_eq!(
            job_change(&m).map(|c| (c.old.as_str(), c.new.as_str())),
            Some(("Acme", "Globex"))
        );
        let same = merge_contact(&m.merged, &incoming);
        assert!(
            same.changed.is_empty() && same.conflicts.is_empty(),
            "merging twice changes nothing"
        );
    }

    proptest! {
        #[test]
        fn parsing_never_panics(cells in proptest::collection::vec("\\PC{0,40}", 0..10)) {
            let h = headers(&["Email", "First Name", "Website", "# Employees", "Annual Revenue", "Technologies"]);
            let map = map_columns(ImportFormat::Apollo, &h, &[]).unwrap();
            let refs: Vec<&str> = cells.iter().map(String::as_str).collect();
            let _ = parse_row(&map, &refs);
        }
    }
}
