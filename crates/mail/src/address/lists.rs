//! Disposable domains and role accounts: two look-ups that say an address,
//! though deliverable, is not a person worth prospecting.
//!
//! - [`is_disposable`] checks the domain and each parent domain against the
//!   disposable-email-domains project's blocklist (CC0), shipped as
//!   `data/lists_disposable_domains.txt` (source, version and date in its
//!   header) and parsed once into a `HashSet`. The project lists registrable
//!   domains and asks users to match subdomains as well.
//! - [`is_role_account`] recognises shared mailboxes (`info@`, `sales@`,
//!   `no-reply@`, …) from a curated list, see [`ROLE_NAMES`] for the matching
//!   rule.

use std::collections::HashSet;
use std::sync::LazyLock;

static DISPOSABLE_DOMAINS: LazyLock<HashSet<&'static str>> = LazyLock::new(|| {
    include_str!("../../data/lists_disposable_domains.txt")
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
        .collect()
});

/// Whether `ascii_domain` (the ASCII form, as `syntax::ValidAddress` gives it)
/// or any domain above it is a known disposable-mail domain:
/// `sub.mailinator.com` is disposable because `mailinator.com` is.
pub fn is_disposable(ascii_domain: &str) -> bool {
    let domain = ascii_domain.trim_end_matches('.').to_ascii_lowercase();
    let mut candidate = domain.as_str();
    loop {
        if DISPOSABLE_DOMAINS.contains(candidate) {
            return true;
        }
        match candidate.split_once('.') {
            Some((_, parent)) if !parent.is_empty() => candidate = parent,
            _ => return false,
        }
    }
}

/// Mailbox names that reach a function or a group rather than one person.
/// Sources: RFC 2142 (info, marketing, sales, support, abuse, noc, security,
/// postmaster, hostmaster, usenet, news, webmaster, www, uucp, ftp), plus the
/// shared inboxes that recur in B2B contact data: front doors (contact, hello,
/// office, admin), money (billing, accounts, invoices), people (hr, jobs,
/// careers), outbound automation (noreply, mailer-daemon, notifications) and
/// departments (legal, privacy, press, partners, it, …).
///
/// Names are stored without separators (`noreply`, `customerservice`), since
/// `no-reply`, `no_reply` and `customer.service` are the same mailbox.
///
/// Matching ([`is_role_account`]): case-insensitive; a `+tag` is ignored;
/// trailing digits on a word are ignored (`sales2`); the local part is split
/// into words at `.`, `-` and `_`. It is a role account when
/// 1. its words run together are a role name (`no-reply`, `customer.service`),
///    or
/// 2. after dropping qualifier words, what is left run together is a role name
///    or every word left is one (`info.uk`, `sales-eu`, `emea_support`,
///    `customer-service-de`, `sales.team`). Qualifiers are region, country and
///    language codes: any two-letter word, a few region names (emea, apac,
///    dach, …) and plain numbers.
///
/// So `john.sales` or `sales.john` is a person (a name word is left), while
/// `jo.sales` counts as a role account: `jo` reads as a two-letter code.
pub const ROLE_NAMES: &[&str] = &[
    // RFC 2142
    "info",
    "marketing",
    "sales",
    "support",
    "abuse",
    "noc",
    "security",
    "postmaster",
    "hostmaster",
    "usenet",
    "news",
    "webmaster",
    "www",
    "uucp",
    "ftp",
    // Front doors and general inboxes
    "contact",
    "contactus",
    "hello",
    "hi",
    "hey",
    "office",
    "headoffice",
    "admin",
    "administrator",
    "administration",
    "mail",
    "email",
    "inbox",
    "general",
    "information",
    "enquiries",
    "enquiry",
    "inquiries",
    "inquiry",
    "reception",
    "frontdesk",
    "team",
    "staff",
    "all",
    "everyone",
    // Customer-facing functions
    "help",
    "helpdesk",
    "service",
    "services",
    "customerservice",
    "customerservices",
    "customersupport",
    "customercare",
    "care",
    "feedback",
    "orders",
    "order",
    "shop",
    "store",
    "bookings",
    "booking",
    "reservations",
    "events",
    // Money
    "billing",
    "accounts",
    "accounting",
    "accountspayable",
    "accountsreceivable",
    "ap",
    "ar",
    "finance",
    "invoice",
    "invoices",
    "payments",
    "payroll",
    "purchasing",
    "procurement",
    // People
    "hr",
    "humanresources",
    "people",
    "jobs",
    "careers",
    "career",
    "recruiting",
    "recruitment",
    "talent",
    "hiring",
    // Business development and communications
    "bizdev",
    "business",
    "partners",
    "partnerships",
    "affiliates",
    "press",
    "media",
    "pr",
    "newsletter",
    "social",
    "investors",
    "ir",
    // Legal, privacy, IT
    "legal",
    "privacy",
    "compliance",
    "gdpr",
    "dpo",
    "it",
    "sysadmin",
    "root",
    "devops",
    "ops",
    "operations",
    // Automated senders
    "noreply",
    "donotreply",
    "noreplies",
    "mailerdaemon",
    "bounce",
    "bounces",
    "notifications",
    "notification",
    "alerts",
    "system",
    "unsubscribe",
    "subscribe",
];

static ROLE_NAME_SET: LazyLock<HashSet<&'static str>> =
    LazyLock::new(|| ROLE_NAMES.iter().copied().collect());

/// Region names used to split shared inboxes by territory.
const REGION_QUALIFIERS: &[&str] = &[
    "emea",
    "apac",
    "amer",
    "americas",
    "latam",
    "nordics",
    "nordic",
    "dach",
    "benelux",
    "anz",
    "europe",
    "asia",
    "global",
    "intl",
    "international",
    "north",
    "south",
    "east",
    "west",
    "hq",
];

/// Whether `local_part` (before the `@`) names a shared or functional mailbox
/// rather than a person. See [`ROLE_NAMES`] for the rule.
pub fn is_role_account(local_part: &str) -> bool {
    let untagged = local_part.split('+').next().unwrap_or_default();
    let lower = untagged.to_lowercase();
    let words: Vec<&str> = lower
        .split(['.', '-', '_'])
        .map(|word| word.trim_end_matches(|c: char| c.is_ascii_digit()))
        .filter(|word| !word.is_empty())
        .collect();
    if words.is_empty() {
        return false;
    }
    let is_role = |name: &str| ROLE_NAME_SET.contains(name);
    if is_role(&words.concat()) {
        return true;
    }
    let core: Vec<&str> = words
        .iter()
        .copied()
        .filter(|word| is_role(word) || !is_qualifier(word))
        .collect();
    !core.is_empty() && (is_role(&core.concat()) || core.iter().all(|word| is_role(word)))
}

/// Region, country or language codes that subdivide a role mailbox.
fn is_qualifier(word: &str) -> bool {
    (word.len() == 2 && word.chars().all(|c| c.is_ascii_alphabetic()))
        || REGION_QUALIFIERS.contains(&word)
}
