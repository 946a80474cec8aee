//! Disposable domains and role accounts.

use handoff_mail::address::lists::{ROLE_NAMES, is_disposable, is_role_account};

const DISPOSABLE_DATA: &str = include_str!("../data/lists_disposable_domains.txt");

#[test]
fn well_known_disposable_domains_are_listed() {
    for domain in [
        "mailinator.com",
        "guerrillamail.com",
        "10minutemail.com",
        "yopmail.com",
        "0-mail.com",
    ] {
        assert!(is_disposable(domain), "{domain}");
    }
}

#[test]
fn subdomains_of_disposable_domains_are_disposable() {
    assert!(is_disposable("sub.mailinator.com"));
    assert!(is_disposable("a.b.c.mailinator.com"));
    assert!(is_disposable("MAILINATOR.COM"));
    assert!(is_disposable("mailinator.com."));
}

#[test]
fn ordinary_domains_are_not_disposable() {
    for domain in [
        "gmail.com",
        "example.com",
        "northwind.example",
        "com",
        "",
        ".",
        "mailinator.com.evil.example",
        "mailinator.example",
        // Hosting domains under which the list has some disposable hosts.
        "dynv6.net",
        "ddnss.de",
    ] {
        assert!(!is_disposable(domain), "{domain:?}");
    }
}

#[test]
fn every_listed_domain_matches_and_the_header_count_is_right() {
    let domains: Vec<&str> = DISPOSABLE_DATA
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .collect();
    for domain in &domains {
        assert!(is_disposable(domain), "{domain}");
        assert!(
            domain
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.' || b == b'-'),
            "{domain} is not a lowercase ASCII domain"
        );
    }
    let header_count = format!("{} domains", domains.len());
    assert!(
        DISPOSABLE_DATA
            .lines()
            .take_while(|l| l.starts_with('#'))
            .any(|l| l.contains(&header_count)),
        "the header should state the count: {header_count}"
    );
}

#[test]
fn role_accounts() {
    for local in [
        "info",
        "INFO",
        "Sales",
        "support",
        "admin",
        "contact",
        "hello",
        "office",
        "billing",
        "noreply",
        "no-reply",
        "no_reply",
        "NoReply",
        "do-not-reply",
        "postmaster",
        "abuse",
        "webmaster",
        "hr",
        "jobs",
        "careers",
        "marketing",
        "team",
        "mailer-daemon",
        "customer.service",
        "customer-service-de",
    ] {
        assert!(is_role_account(local), "{local}");
    }
}

#[test]
fn role_account_variants() {
    for local in [
        "info+newsletter", // +tag ignored
        "sales+eu",
        "info.uk",
        "sales-eu",
        "support_de",
        "emea-sales",
        "uk.sales",
        "sales2",
        "info-1",
        "sales.team",
        "support-team",
        "apac.support",
        "it",
        "it.helpdesk",
    ] {
        assert!(is_role_account(local), "{local}");
    }
}

#[test]
fn people_are_not_role_accounts() {
    for local in [
        "john",
        "jane.doe",
        "john.sales",
        "sales.john",
        "salesforce",
        "information.security.officer.jane",
        "infosec-bob",
        "hellokitty",
        "adminton",
        "dana+sales", // the tag is not the mailbox
        "",
        "+info",
        "...",
        "uk",
        "de.fr",
    ] {
        assert!(!is_role_account(local), "{local:?}");
    }
}

#[test]
fn role_names_are_stored_lowercase_without_separators() {
    for name in ROLE_NAMES {
        assert!(
            name.chars().all(|c| c.is_ascii_lowercase()),
            "{name}: store role names as lowercase letters only"
        );
    }
    let mut sorted = ROLE_NAMES.to_vec();
    sorted.sort_unstable();
    sorted.dedup();
    assert_eq!(sorted.len(), ROLE_NAMES.len(), "duplicate role names");
}
