//! Email address syntax, judged as python-email-validator 2.x judges it.
//!
//! [`validate`] reproduces `email_validator.validate_email(address,
//! check_deliverability=False)` with the library's default options: SMTPUTF8
//! allowed; no empty local part, quoted local part, domain literal or display
//! name; a globally deliverable domain (a dot, a TLD ending in a letter, no
//! special-use name); no test environment. The rules are re-implemented step by
//! step in the library's order, so the verdict, the normalized form and
//! whether SMTPUTF8 is needed match it:
//!
//! 1. Split at the first `@` (or `<`, which starts the refused display-name
//!    form) that is outside quotes and does not combine with what follows.
//! 2. Local part: the RFC 5322 dot-atom, widened by RFC 6531 to every code point
//!    from U+0080; no unsafe characters (controls, format characters, spaces,
//!    private use, unassigned, a leading combining mark); then NFC-normalized
//!    and checked again. Its length is not limited on its own: the library
//!    checks the 64-octet limit only in its non-default `strict` mode.
//! 3. Domain: the same safety rules, UTS #46 mapping (non-transitional, no STD3
//!    rules), dot and hyphen rules, IDNA 2008 (RFC 5891/5892/5893) conversion of
//!    each label as the Python `idna` package does it (its code point table
//!    ships as `data/syntax_idna2008.txt`), length limits (253 octets, labels
//!    63), a dot, a TLD ending in a letter, no special-use name, and an A-label
//!    round trip back to the Unicode form that goes into `normalized`.
//! 4. The whole address, its normalized form and its ASCII-domain form must each
//!    fit in 254 UTF-8 octets.
//!
//! Unicode data comes from ICU4X (`icu_properties`, `icu_normalizer`) and
//! `unicode-normalization`, all on Unicode 18. Known, deliberate differences
//! from the Python library:
//! - Python takes general categories and bidi classes from its own
//!   `unicodedata`, whose Unicode version depends on the interpreter (14.0 on
//!   Python 3.11). A character assigned after that version is "unassigned" to
//!   the library and refused; here it is judged by its Unicode 18 properties.
//! - A-labels (`xn--…`) must be the canonical Punycode form of their U-label,
//!   as recent `idna` releases require (3.20 does; 3.13 still accepted e.g.
//!   `xn---bbk` for `xn--bbk`).
//!
//! The differential test in `tests/syntax.rs` runs the real package on
//! thousands of addresses and finds no other difference.

use std::collections::BTreeSet;
use std::sync::LazyLock;

use icu_normalizer::uts46::Uts46MapperBorrowed;
use icu_properties::CodePointMapData;
use icu_properties::props::{
    BidiClass, CanonicalCombiningClass, GeneralCategory, JoiningType, Script,
};
use serde::Serialize;
use unicode_normalization::UnicodeNormalization;

/// RFC 5321 §4.5.3.1.3 with RFC 3696 errata 1690: a path holds at most 256
/// octets including the angle brackets.
const ADDRESS_MAX_OCTETS: usize = 254;
/// RFC 1035 §2.3.4, less the optional final dot and the root label.
const DOMAIN_MAX_OCTETS: usize = 253;
/// RFC 1035 §2.3.1.
const LABEL_MAX_OCTETS: usize = 63;

/// IANA special-use names (and their subdomains) that can never hold a
/// globally deliverable mailbox: the library's `SPECIAL_USE_DOMAIN_NAMES`.
/// Its list leaves out `example`, `example.com/net/org` on purpose (RFC 6761
/// asks applications not to treat them specially), so they are absent here too.
const SPECIAL_USE_DOMAINS: [&str; 6] = ["arpa", "invalid", "local", "localhost", "onion", "test"];

/// RFC 2142 mailbox names, which are case-insensitive and so are lowercased.
const CASE_INSENSITIVE_MAILBOXES: [&str; 15] = [
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
];

/// RFC 5322 `atext` without the letters and digits.
const ATEXT_SYMBOLS: &str = "_!#$%&'*+-/=?^`{|}~";

/// A syntactically valid address, in the forms python-email-validator returns.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ValidAddress {
    /// The input, unchanged.
    pub original: String,
    /// `local_part@domain`: the form to store and compare.
    pub normalized: String,
    /// The local part after NFC normalization (RFC 2142 role names such as
    /// `Postmaster` are lowercased).
    pub local_part: String,
    /// The domain in Unicode form (IDNA-decoded, lowercased).
    pub domain: String,
    /// The domain as it travels without SMTPUTF8 (A-labels for IDN labels).
    pub ascii_domain: String,
    /// The whole address in ASCII, when the local part is ASCII.
    pub ascii_email: Option<String>,
    /// Whether sending needs the SMTPUTF8 extension (non-ASCII local part as
    /// given, before normalization).
    pub smtputf8: bool,
}

/// Why an address is not valid.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize)]
#[error("{message}")]
pub struct SyntaxError {
    /// What went wrong, for code to act on.
    pub kind: SyntaxErrorKind,
    /// What went wrong and how to fix it, for a person.
    pub message: String,
}

/// The kinds of syntax error.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SyntaxErrorKind {
    /// No `@` separating the local part from the domain.
    MissingAtSign,
    /// `Name <address>` form; only a bare address is accepted.
    DisplayNameNotAllowed,
    /// A quoted local part (`"john doe"@…`).
    QuotedLocalPartNotAllowed,
    /// Nothing before the `@`.
    EmptyLocalPart,
    /// A character that may not appear unquoted before the `@`.
    InvalidLocalPartCharacter,
    /// A dot at the start or end of the local part, or two dots in a row.
    MisplacedDotInLocalPart,
    /// A control, format, private-use, unassigned or space character, a line
    /// separator, or a combining mark at the start of a part.
    UnsafeCharacter,
    /// Nothing after the `@`.
    EmptyDomain,
    /// A bracketed IP address (`user@[192.0.2.1]`).
    DomainLiteralNotAllowed,
    /// A character that may not appear in a domain name.
    InvalidDomainCharacter,
    /// Misplaced dots or hyphens in the domain, or `ab--` at a label start.
    MisplacedDotOrHyphenInDomain,
    /// The domain breaks the rules for internationalized domain names.
    InvalidInternationalDomain,
    /// The domain has no dot (`user@localhost`).
    DomainWithoutDot,
    /// The last label does not end in a letter, so it is no real TLD.
    InvalidTopLevelDomain,
    /// A special-use or reserved name such as `.local`, `.test` or `.invalid`.
    SpecialUseDomain,
    /// The domain is longer than 253 octets.
    DomainTooLong,
    /// A domain label is longer than 63 octets.
    DomainLabelTooLong,
    /// The address is longer than 254 octets.
    AddressTooLong,
}

impl SyntaxError {
    fn new(kind: SyntaxErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
        }
    }
}

/// Validates `address` as python-email-validator 2.x does with its defaults
/// and `check_deliverability=False`, returning its normalized forms.
pub fn validate(address: &str) -> Result<ValidAddress, SyntaxError> {
    let (local_raw, domain_raw) = split_address(address)?;

    if local_raw.starts_with('"') {
        return Err(SyntaxError::new(
            SyntaxErrorKind::QuotedLocalPartNotAllowed,
            "The part before the @-sign is in quotes, which is not accepted here. \
             Remove the quotes and any characters that need them.",
        ));
    }

    // SMTPUTF8 is reported for the local part as given, before normalization.
    let as_given = check_local_part(local_raw)?;
    let smtputf8 = as_given.needs_smtputf8;
    let normalized_local: String = local_raw.nfc().collect();
    let mut local = if normalized_local == local_raw {
        as_given
    } else {
        check_local_part(&normalized_local).map_err(|e| SyntaxError {
            kind: e.kind,
            message: format!("After Unicode normalization: {}", e.message),
        })?
    };
    if let Some(ascii) = &local.ascii
        && CASE_INSENSITIVE_MAILBOXES.contains(&ascii.to_ascii_lowercase().as_str())
    {
        local.text = local.text.to_ascii_lowercase();
        local.ascii = Some(ascii.to_ascii_lowercase());
    }

    if domain_raw.is_empty() {
        return Err(SyntaxError::new(
            SyntaxErrorKind::EmptyDomain,
            "There is nothing after the @-sign. Add the domain, as in name@example.com.",
        ));
    }
    if domain_raw.starts_with('[') && domain_raw.ends_with(']') {
        return Err(SyntaxError::new(
            SyntaxErrorKind::DomainLiteralNotAllowed,
            "A bracketed IP address after the @-sign is not accepted. \
             Use the domain name of the mail server instead.",
        ));
    }
    let domain = check_domain(domain_raw)?;

    let normalized = format!("{}@{}", local.text, domain.unicode);
    let ascii_email = local
        .ascii
        .as_deref()
        .filter(|ascii| !ascii.is_empty())
        .map(|ascii| format!("{ascii}@{}", domain.ascii));
    let ascii_domain_form = format!(
        "{}@{}",
        local.ascii.as_deref().unwrap_or(&local.text),
        domain.ascii
    );
    check_address_length(address, "")?;
    check_address_length(&normalized, " after normalization")?;
    check_address_length(
        &ascii_domain_form,
        " when the domain is converted to ASCII (IDNA)",
    )?;

    Ok(ValidAddress {
        original: address.to_string(),
        normalized,
        local_part: local.text,
        domain: domain.unicode,
        ascii_domain: domain.ascii,
        ascii_email,
        smtputf8,
    })
}

// ---------------------------------------------------------------------------
// Splitting

/// Splits at the first `@` outside quotes into (local part, domain). A `<`
/// found first means the `Name <address>` form, which the defaults refuse.
fn split_address(address: &str) -> Result<(&str, &str), SyntaxError> {
    let chars: Vec<(usize, char)> = address.char_indices().collect();
    let mut inside_quote = false;
    let mut escaped = false;
    let mut special = None;
    for (i, &(offset, c)) in chars.iter().enumerate() {
        // A character that a following combining mark changes (`<` + U+0338
        // is `≮`) is not the special character it looks like.
        if combines_with_following(&chars, i) {
            continue;
        }
        if inside_quote {
            if c == '\\' && !escaped {
                escaped = true;
            } else {
                if c == '"' && !escaped {
                    inside_quote = false;
                }
                escaped = false;
            }
        } else if c == '"' {
            inside_quote = true;
        } else if c == '@' || c == '<' {
            special = Some((offset, c));
            break;
        }
    }
    match special {
        Some((offset, '@')) => Ok((&address[..offset], &address[offset + 1..])),
        Some(_) => Err(SyntaxError::new(
            SyntaxErrorKind::DisplayNameNotAllowed,
            "A display name and angle brackets around the address are not accepted. \
             Give just the address, as in name@example.com.",
        )),
        None if address.contains('＠') => Err(SyntaxError::new(
            SyntaxErrorKind::MissingAtSign,
            "The address has the full-width at-sign (＠) instead of a regular @-sign. \
             Replace it with @.",
        )),
        None if address.contains('﹫') => Err(SyntaxError::new(
            SyntaxErrorKind::MissingAtSign,
            "The address has the small commercial at (﹫) instead of a regular @-sign. \
             Replace it with @.",
        )),
        None => Err(SyntaxError::new(
            SyntaxErrorKind::MissingAtSign,
            "An email address must have an @-sign, as in name@example.com.",
        )),
    }
}

/// Whether NFC changes the character at `i` given what follows it. Only the
/// next 31 characters can combine with it (UAX #15 stream-safe format).
fn combines_with_following(chars: &[(usize, char)], i: usize) -> bool {
    let Some(&(_, c)) = chars.get(i) else {
        return false;
    };
    let next_is_ascii = chars.get(i + 1).is_none_or(|&(_, n)| n.is_ascii());
    if c.is_ascii() && next_is_ascii {
        return false;
    }
    let window_end = chars.len().min(i + 32);
    let first = chars[i..window_end].iter().map(|&(_, c)| c).nfc().next();
    first != Some(c)
}

// ---------------------------------------------------------------------------
// Local part

struct LocalPart {
    text: String,
    /// The same text when it is ASCII.
    ascii: Option<String>,
    needs_smtputf8: bool,
}

fn is_atext(c: char) -> bool {
    c.is_ascii_alphanumeric() || ATEXT_SYMBOLS.contains(c)
}

/// RFC 6531 §3.3 widens `atext` to every non-ASCII code point.
fn is_atext_intl(c: char) -> bool {
    is_atext(c) || !c.is_ascii()
}

/// `atom *("." atom)` where each atom is a non-empty run of `allowed`.
fn is_dot_atom(text: &str, allowed: fn(char) -> bool) -> bool {
    text.split('.')
        .all(|atom| !atom.is_empty() && atom.chars().all(allowed))
}

fn check_local_part(local: &str) -> Result<LocalPart, SyntaxError> {
    if local.is_empty() {
        return Err(SyntaxError::new(
            SyntaxErrorKind::EmptyLocalPart,
            "There is nothing before the @-sign. Add the mailbox name, as in name@example.com.",
        ));
    }
    if is_dot_atom(local, is_atext) {
        return Ok(LocalPart {
            text: local.to_string(),
            ascii: Some(local.to_string()),
            needs_smtputf8: false,
        });
    }
    if is_dot_atom(local, is_atext_intl) {
        check_safe_characters(local, "before the @-sign")?;
        return Ok(LocalPart {
            text: local.to_string(),
            ascii: None,
            needs_smtputf8: true,
        });
    }
    let bad = describe_chars(local.chars().filter(|&c| c != '.' && !is_atext_intl(c)));
    if !bad.is_empty() {
        return Err(SyntaxError::new(
            SyntaxErrorKind::InvalidLocalPartCharacter,
            format!(
                "The part before the @-sign contains characters that are not allowed there: {bad}. \
                 Remove them."
            ),
        ));
    }
    let message = if local.starts_with('.') {
        "The address cannot start with a period. Remove it."
    } else if local.ends_with('.') {
        "The address cannot have a period immediately before the @-sign. Remove it."
    } else {
        "The address cannot have two periods in a row. Remove one of them."
    };
    Err(SyntaxError::new(
        SyntaxErrorKind::MisplacedDotInLocalPart,
        message,
    ))
}

// ---------------------------------------------------------------------------
// Domain

struct Domain {
    ascii: String,
    unicode: String,
}

/// Letters, digits, hyphen and dot, plus every non-ASCII code point (RFC 952
/// hostnames widened by RFC 6531).
fn is_hostname_char_intl(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '-' || c == '.' || !c.is_ascii()
}

/// RFC 952/1123 hostname in ASCII: letter-digit-hyphen labels that neither
/// start nor end with a hyphen.
fn is_ascii_hostname(domain: &str) -> bool {
    domain.split('.').all(|label| {
        !label.is_empty()
            && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
            && !label.starts_with('-')
            && !label.ends_with('-')
    })
}

fn check_domain(domain_raw: &str) -> Result<Domain, SyntaxError> {
    use SyntaxErrorKind::*;

    // Checked up front: normalization may shorten the domain, but the caller
    // may keep using the original.
    let length = domain_raw.chars().count();
    if length > DOMAIN_MAX_OCTETS {
        return Err(SyntaxError::new(
            DomainTooLong,
            format!(
                "The part after the @-sign is too long ({} too many). \
                 A domain name has at most {DOMAIN_MAX_OCTETS} characters.",
                count_noun(length - DOMAIN_MAX_OCTETS, "character")
            ),
        ));
    }
    let bad = describe_chars(domain_raw.chars().filter(|&c| !is_hostname_char_intl(c)));
    if !bad.is_empty() {
        return Err(invalid_domain_chars(&bad, ""));
    }
    check_safe_characters(domain_raw, "after the @-sign")?;
    let bad = describe_chars(domain_raw.chars().filter(|&c| !uts46_valid_char(c)));
    if !bad.is_empty() {
        return Err(invalid_domain_chars(&bad, ""));
    }

    let domain = uts46_map(domain_raw)?;
    let bad = describe_chars(domain.chars().filter(|&c| !is_hostname_char_intl(c)));
    if !bad.is_empty() {
        return Err(invalid_domain_chars(&bad, " after Unicode normalization"));
    }
    check_domain_dots_and_hyphens(&domain)?;

    let ascii = if is_ascii_hostname(&domain) {
        domain.clone()
    } else {
        let labels: Result<Vec<String>, String> = domain.split('.').map(idna_alabel).collect();
        let ascii = labels.map_err(|e| invalid_idna(&e))?.join(".");
        if !is_ascii_hostname(&ascii) {
            return Err(SyntaxError::new(
                InvalidDomainCharacter,
                "The part after the @-sign contains characters that are not allowed \
                 after conversion to ASCII (IDNA). Check the domain name.",
            ));
        }
        ascii
    };

    if ascii.len() > DOMAIN_MAX_OCTETS {
        let over = ascii.len() - DOMAIN_MAX_OCTETS;
        let detail = if ascii == domain_raw {
            count_noun(over, "character")
        } else {
            format!("{} after IDNA encoding", count_noun(over, "byte"))
        };
        return Err(SyntaxError::new(
            DomainTooLong,
            format!(
                "The part after the @-sign is too long ({detail} too many). \
                 A domain name has at most {DOMAIN_MAX_OCTETS} octets."
            ),
        ));
    }
    if let Some(label) = ascii.split('.').find(|l| l.len() > LABEL_MAX_OCTETS) {
        return Err(SyntaxError::new(
            DomainLabelTooLong,
            format!(
                "A part of the domain between periods is too long ({} too many). \
                 Each part has at most {LABEL_MAX_OCTETS} characters.",
                count_noun(label.len() - LABEL_MAX_OCTETS, "character")
            ),
        ));
    }

    // Dotless names are not globally deliverable (ICANN bars dotless gTLDs).
    if !ascii.contains('.') {
        return Err(SyntaxError::new(
            DomainWithoutDot,
            "The part after the @-sign has no period, so it is not a public domain. \
             Give the full domain, as in name@example.com.",
        ));
    }
    if !ascii.ends_with(|c: char| c.is_ascii_alphabetic()) {
        return Err(SyntaxError::new(
            InvalidTopLevelDomain,
            "The part after the @-sign does not end in a valid top-level domain \
             (every top-level domain ends with a letter). Check the end of the domain.",
        ));
    }
    if let Some(reserved) = SPECIAL_USE_DOMAINS
        .iter()
        .find(|&&name| ascii == name || ascii.ends_with(&format!(".{name}")))
    {
        return Err(SyntaxError::new(
            SpecialUseDomain,
            format!(
                "The domain is under .{reserved}, a special-use or reserved name that cannot \
                 receive email from the internet. Use a real, public domain."
            ),
        ));
    }

    // Without Punycode labels the Unicode form is the ASCII form.
    if !ascii.contains("xn--") {
        return Ok(Domain {
            unicode: ascii.clone(),
            ascii,
        });
    }

    // A-labels may be given directly: check they really are IDNA, and get the
    // canonical Unicode form for `normalized`.
    let unicode = idna_decode(&ascii).map_err(|e| invalid_idna(&e))?;
    let bad = describe_chars(unicode.chars().filter(|&c| !is_hostname_char_intl(c)));
    if !bad.is_empty() {
        return Err(invalid_domain_chars(&bad, ""));
    }
    check_safe_characters(&unicode, "after the @-sign")?;
    // RFC 5893: once any label is right-to-left, the Bidi Rule applies to
    // every label (the `idna` package checks labels one by one, which lets
    // `1.אב.com` through).
    if unicode
        .chars()
        .any(|c| is_rtl_or_arabic_number(bidi_class(c)))
    {
        for label in unicode.split('.') {
            let chars: Vec<char> = label.chars().collect();
            check_bidi(&chars, true).map_err(|e| invalid_idna(&e))?;
        }
    }
    idna_encode(&unicode).map_err(|e| invalid_idna(&e))?;
    Ok(Domain { ascii, unicode })
}

fn invalid_domain_chars(bad: &str, when: &str) -> SyntaxError {
    SyntaxError::new(
        SyntaxErrorKind::InvalidDomainCharacter,
        format!(
            "The part after the @-sign contains characters that are not allowed in a \
             domain name{when}: {bad}. Check the domain name."
        ),
    )
}

fn invalid_idna(detail: &str) -> SyntaxError {
    SyntaxError::new(
        SyntaxErrorKind::InvalidInternationalDomain,
        format!(
            "The part after the @-sign is not a valid internationalized domain name \
             ({detail}). Check the spelling of the domain."
        ),
    )
}

/// RFC 952/1123 and RFC 5322 dot-atom rules on the mapped domain, then the
/// RFC 5890 rule against `ab--` labels other than Punycode `xn--`.
fn check_domain_dots_and_hyphens(domain: &str) -> Result<(), SyntaxError> {
    let problem = if domain.ends_with('.') {
        Some("The domain cannot end with a period.")
    } else if domain.starts_with('.') {
        Some("The domain cannot start with a period (right after the @-sign).")
    } else if domain.contains("..") {
        Some("The domain cannot have two periods in a row.")
    } else if domain.ends_with('-') {
        Some("The domain cannot end with a hyphen.")
    } else if domain.starts_with('-') {
        Some("The domain cannot start with a hyphen (right after the @-sign).")
    } else if domain.contains(".-") || domain.contains("-.") {
        Some("The domain cannot have a period and a hyphen next to each other.")
    } else if domain.split('.').any(is_reserved_ldh_label) {
        Some(
            "A part of the domain cannot start with two characters followed by two hyphens, \
             except the Punycode prefix xn--.",
        )
    } else {
        None
    };
    match problem {
        Some(problem) => Err(SyntaxError::new(
            SyntaxErrorKind::MisplacedDotOrHyphenInDomain,
            format!("{problem} Check the domain name."),
        )),
        None => Ok(()),
    }
}

fn is_reserved_ldh_label(label: &str) -> bool {
    let chars: Vec<char> = label.chars().take(4).collect();
    chars.len() == 4
        && chars[2] == '-'
        && chars[3] == '-'
        && !(chars[0].eq_ignore_ascii_case(&'x') && chars[1].eq_ignore_ascii_case(&'n'))
}

/// The library's quick pre-filter for characters UTS #46 would refuse, so its
/// own message is given: C1 controls, format/unassigned/private/space
/// characters (with a few exceptions that UTS #46 handles), and characters
/// whose decomposition contains a full stop (e.g. `⒈`).
fn uts46_valid_char(c: char) -> bool {
    let cp = u32::from(c);
    if (0x80..=0x9F).contains(&cp) {
        return false;
    }
    if ((0x2010..=0x2060).contains(&cp)
        && !(0x2024..=0x2026).contains(&cp)
        && !(0x2028..=0x202E).contains(&cp))
        || matches!(cp, 0xAD | 0x2064 | 0xFF0E)
        || (0x200B..=0x200D).contains(&cp)
        || (0x1BCA0..=0x1BCA3).contains(&cp)
    {
        return true;
    }
    use GeneralCategory as Gc;
    if matches!(
        general_category(c),
        Gc::Format
            | Gc::Unassigned
            | Gc::PrivateUse
            | Gc::Surrogate
            | Gc::SpaceSeparator
            | Gc::LineSeparator
            | Gc::ParagraphSeparator
    ) {
        return false;
    }
    !decomposes_with_full_stop(c)
}

/// Code points whose one-level decomposition (UnicodeData.txt field 5)
/// contains U+002E. A unit test checks the list against NFKD.
fn decomposes_with_full_stop(c: char) -> bool {
    matches!(
        u32::from(c),
        0x2024..=0x2026 | 0x2488..=0x249B | 0x33C2 | 0x33C7 | 0x33D8 | 0xFE52 | 0xFF0E | 0x1F100
    )
}

/// UTS #46 mapping with `std3_rules=False`, non-transitional, then NFC: what
/// `idna.uts46_remap` does.
fn uts46_map(domain: &str) -> Result<String, SyntaxError> {
    if domain.is_ascii() {
        // The only ASCII mapping is to lowercase.
        return Ok(domain.to_ascii_lowercase());
    }
    let mapper = Uts46MapperBorrowed::new();
    let mapped: String = mapper.map_normalize(domain.chars()).collect();
    // The mapper turns disallowed characters into U+FFFD, itself disallowed.
    if !mapped.contains('\u{FFFD}') {
        return Ok(mapped);
    }
    let bad = describe_chars(domain.chars().filter(|&c| {
        mapper
            .map_normalize(std::iter::once(c))
            .any(|m| m == '\u{FFFD}')
    }));
    Err(invalid_domain_chars(&bad, ""))
}

// ---------------------------------------------------------------------------
// IDNA 2008, as the Python `idna` package implements it (errors are short
// descriptions that end up inside an `InvalidInternationalDomain` message).

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Idna2008Class {
    Pvalid,
    ContextJ,
    ContextO,
}

/// RFC 5892 derived property ranges `(first, last, class)`, sorted.
static IDNA2008_CLASSES: LazyLock<Vec<(u32, u32, Idna2008Class)>> =
    LazyLock::new(|| parse_idna2008_table(include_str!("../../data/syntax_idna2008.txt")));

fn parse_idna2008_table(text: &str) -> Vec<(u32, u32, Idna2008Class)> {
    let mut rows: Vec<_> = text
        .lines()
        .filter(|line| !line.starts_with('#') && !line.trim().is_empty())
        .filter_map(|line| {
            let (range, class) = line.split_once(' ')?;
            let (first, last) = range.split_once("..")?;
            let class = match class.trim() {
                "PVALID" => Idna2008Class::Pvalid,
                "CONTEXTJ" => Idna2008Class::ContextJ,
                "CONTEXTO" => Idna2008Class::ContextO,
                _ => return None,
            };
            Some((
                u32::from_str_radix(first, 16).ok()?,
                u32::from_str_radix(last, 16).ok()?,
                class,
            ))
        })
        .collect();
    rows.sort_unstable_by_key(|&(first, _, _)| first);
    rows
}

/// `None` means DISALLOWED or UNASSIGNED.
fn idna2008_class(c: char) -> Option<Idna2008Class> {
    let cp = u32::from(c);
    let table = &*IDNA2008_CLASSES;
    let index = table.partition_point(|&(first, _, _)| first <= cp);
    let &(first, last, class) = table.get(index.checked_sub(1)?)?;
    (first..=last).contains(&cp).then_some(class)
}

/// Splits on the label separators `idna` accepts.
fn split_labels(domain: &str) -> std::str::Split<'_, [char; 4]> {
    domain.split(['.', '\u{3002}', '\u{FF0E}', '\u{FF61}'])
}

/// `idna.encode`: every label to its A-label form.
fn idna_encode(domain: &str) -> Result<String, String> {
    if domain.chars().count() > DOMAIN_MAX_OCTETS + 1 {
        return Err("domain too long".into());
    }
    let mut labels: Vec<&str> = split_labels(domain).collect();
    if labels == [""] {
        return Err("empty domain".into());
    }
    let trailing_dot = labels.last() == Some(&"");
    if trailing_dot {
        labels.pop();
    }
    let encoded: Vec<String> = labels
        .into_iter()
        .map(idna_alabel)
        .collect::<Result<_, _>>()?;
    if encoded.iter().any(String::is_empty) {
        return Err("empty label".into());
    }
    let encoded = encoded.join(".");
    if encoded.len() > DOMAIN_MAX_OCTETS {
        return Err("domain too long".into());
    }
    Ok(encoded)
}

/// `idna.decode` of an ASCII domain: every label to its U-label form.
fn idna_decode(domain: &str) -> Result<String, String> {
    if domain.len() > DOMAIN_MAX_OCTETS + 1 {
        return Err("domain too long".into());
    }
    let mut labels: Vec<&str> = split_labels(domain).collect();
    if labels == [""] {
        return Err("empty domain".into());
    }
    let trailing_dot = labels.last() == Some(&"");
    if trailing_dot {
        labels.pop();
    }
    let mut decoded = labels
        .into_iter()
        .map(idna_ulabel)
        .collect::<Result<Vec<_>, _>>()?;
    if trailing_dot {
        decoded.push(String::new());
    }
    Ok(decoded.join("."))
}

/// `idna.alabel`: a label to its ASCII form.
fn idna_alabel(label: &str) -> Result<String, String> {
    if label.is_ascii() {
        idna_ulabel(label)?;
        if label.len() > LABEL_MAX_OCTETS {
            return Err("label too long".into());
        }
        return Ok(label.to_string());
    }
    check_idna_label(label)?;
    let punycode = idna::punycode::encode_str(label).ok_or("cannot encode as Punycode")?;
    let encoded = format!("xn--{punycode}");
    if encoded.len() > LABEL_MAX_OCTETS {
        return Err("label too long after IDNA encoding".into());
    }
    Ok(encoded)
}

/// `idna.ulabel`: a label to its Unicode form, checking it either way.
fn idna_ulabel(label: &str) -> Result<String, String> {
    if !label.is_ascii() {
        check_idna_label(label)?;
        return Ok(label.to_string());
    }
    let label = label.to_ascii_lowercase();
    let Some(punycode) = label.strip_prefix("xn--") else {
        check_idna_label(&label)?;
        return Ok(label);
    };
    if punycode.is_empty() {
        return Err("malformed A-label, no Punycode after xn--".into());
    }
    if punycode.ends_with('-') {
        return Err("A-label must not end with a hyphen".into());
    }
    let decoded =
        idna::punycode::decode_to_string(punycode).ok_or_else(|| "invalid A-label".to_string())?;
    // RFC 5891 §5.3: a "fake A-label" that decodes to the same U-label as a
    // different spelling is refused.
    if idna::punycode::encode_str(&decoded).as_deref() != Some(punycode) {
        return Err("A-label is not the canonical Punycode encoding of its U-label".into());
    }
    check_idna_label(&decoded)?;
    Ok(decoded)
}

/// `idna.check_label`: RFC 5891 §4.2 and RFC 5892 rules for one U-label.
fn check_idna_label(label: &str) -> Result<(), String> {
    let chars: Vec<char> = label.chars().collect();
    let (Some(&first), Some(&last)) = (chars.first(), chars.last()) else {
        return Err("empty label".into());
    };
    if chars.len() > DOMAIN_MAX_OCTETS + 1 {
        return Err("label too long".into());
    }
    if !unicode_normalization::is_nfc(label) {
        return Err("label must be in Unicode normalization form C".into());
    }
    if chars.get(2) == Some(&'-') && chars.get(3) == Some(&'-') {
        return Err("label has hyphens in the 3rd and 4th position".into());
    }
    if first == '-' || last == '-' {
        return Err("label must not start or end with a hyphen".into());
    }
    if is_mark(general_category(first)) {
        return Err("label begins with a combining mark".into());
    }
    for (pos, &c) in chars.iter().enumerate() {
        let allowed = match idna2008_class(c) {
            Some(Idna2008Class::Pvalid) => true,
            Some(Idna2008Class::ContextJ) => valid_contextj(&chars, pos),
            Some(Idna2008Class::ContextO) => valid_contexto(&chars, pos),
            None => false,
        };
        if !allowed {
            return Err(format!(
                "{} is not allowed at position {} of '{label}'",
                code_point(c),
                pos + 1
            ));
        }
    }
    check_bidi(&chars, false)
}

/// RFC 5892 Appendix A.1 and A.2 (ZERO WIDTH NON-JOINER / JOINER).
fn valid_contextj(label: &[char], pos: usize) -> bool {
    let after_virama = pos > 0
        && CodePointMapData::<CanonicalCombiningClass>::new().get(label[pos - 1])
            == CanonicalCombiningClass::Virama;
    match label[pos] {
        '\u{200C}' => {
            after_virama || {
                let joining = |c: char| CodePointMapData::<JoiningType>::new().get(c);
                let mut before = label[..pos]
                    .iter()
                    .rev()
                    .map(|&c| joining(c))
                    .filter(|&t| t != JoiningType::Transparent);
                let mut after = label[pos + 1..]
                    .iter()
                    .map(|&c| joining(c))
                    .filter(|&t| t != JoiningType::Transparent);
                matches!(
                    before.next(),
                    Some(JoiningType::LeftJoining | JoiningType::DualJoining)
                ) && matches!(
                    after.next(),
                    Some(JoiningType::RightJoining | JoiningType::DualJoining)
                )
            }
        }
        '\u{200D}' => after_virama,
        _ => false,
    }
}

/// RFC 5892 Appendix A.3 to A.9.
fn valid_contexto(label: &[char], pos: usize) -> bool {
    let script = |c: char| CodePointMapData::<Script>::new().get(c);
    let is_arabic_indic = |c: &char| ('\u{660}'..='\u{669}').contains(c);
    let is_extended_arabic_indic = |c: &char| ('\u{6F0}'..='\u{6F9}').contains(c);
    match label[pos] {
        // MIDDLE DOT only between two l's (Catalan "l·l").
        '\u{B7}' => pos > 0 && label.get(pos - 1) == Some(&'l') && label.get(pos + 1) == Some(&'l'),
        // GREEK LOWER NUMERAL SIGN before a Greek character.
        '\u{375}' => label
            .get(pos + 1)
            .is_some_and(|&c| script(c) == Script::Greek),
        // HEBREW GERESH / GERSHAYIM after a Hebrew character.
        '\u{5F3}' | '\u{5F4}' => pos > 0 && script(label[pos - 1]) == Script::Hebrew,
        // KATAKANA MIDDLE DOT with some Hiragana, Katakana or Han.
        '\u{30FB}' => label
            .iter()
            .filter(|&&c| c != '\u{30FB}')
            .any(|&c| matches!(script(c), Script::Hiragana | Script::Katakana | Script::Han)),
        // The two sets of Arabic-Indic digits may not be mixed.
        c if is_arabic_indic(&c) => !label.iter().any(is_extended_arabic_indic),
        c if is_extended_arabic_indic(&c) => !label.iter().any(is_arabic_indic),
        _ => false,
    }
}

fn bidi_class(c: char) -> BidiClass {
    CodePointMapData::<BidiClass>::new().get(c)
}

fn is_rtl_or_arabic_number(class: BidiClass) -> bool {
    matches!(
        class,
        BidiClass::RightToLeft | BidiClass::ArabicLetter | BidiClass::ArabicNumber
    )
}

/// The RFC 5893 Bidi Rule, as `idna.check_bidi` applies it: only to labels
/// with right-to-left characters unless `check_ltr`.
fn check_bidi(label: &[char], check_ltr: bool) -> Result<(), String> {
    use BidiClass as B;
    if !check_ltr
        && !label
            .iter()
            .any(|&c| is_rtl_or_arabic_number(bidi_class(c)))
    {
        return Ok(());
    }
    let Some(&first) = label.first() else {
        return Ok(());
    };
    let rtl = match bidi_class(first) {
        B::RightToLeft | B::ArabicLetter => true,
        B::LeftToRight => false,
        _ => {
            return Err(format!(
                "the first character of '{}' must be a left-to-right or right-to-left letter",
                label.iter().collect::<String>()
            ));
        }
    };
    let mut valid_ending = false;
    let mut number_type = None;
    for &c in label {
        let class = bidi_class(c);
        if rtl {
            if !matches!(
                class,
                B::RightToLeft
                    | B::ArabicLetter
                    | B::ArabicNumber
                    | B::EuropeanNumber
                    | B::EuropeanSeparator
                    | B::CommonSeparator
                    | B::EuropeanTerminator
                    | B::OtherNeutral
                    | B::BoundaryNeutral
                    | B::NonspacingMark
            ) {
                return Err(
                    "a character has a direction not allowed in a right-to-left label".into(),
                );
            }
            if matches!(
                class,
                B::RightToLeft | B::ArabicLetter | B::EuropeanNumber | B::ArabicNumber
            ) {
                valid_ending = true;
            } else if class != B::NonspacingMark {
                valid_ending = false;
            }
            if matches!(class, B::ArabicNumber | B::EuropeanNumber) {
                match number_type {
                    None => number_type = Some(class),
                    Some(seen) if seen != class => {
                        return Err("a right-to-left label mixes Arabic and European digits".into());
                    }
                    Some(_) => {}
                }
            }
        } else {
            if !matches!(
                class,
                B::LeftToRight
                    | B::EuropeanNumber
                    | B::EuropeanSeparator
                    | B::CommonSeparator
                    | B::EuropeanTerminator
                    | B::OtherNeutral
                    | B::BoundaryNeutral
                    | B::NonspacingMark
            ) {
                return Err(
                    "a character has a direction not allowed in a left-to-right label".into(),
                );
            }
            if matches!(class, B::LeftToRight | B::EuropeanNumber) {
                valid_ending = true;
            } else if class != B::NonspacingMark {
                valid_ending = false;
            }
        }
    }
    if valid_ending {
        Ok(())
    } else {
        Err("a label ends with a character of the wrong direction".into())
    }
}

// ---------------------------------------------------------------------------
// Shared helpers

fn general_category(c: char) -> GeneralCategory {
    CodePointMapData::<GeneralCategory>::new().get(c)
}

fn is_mark(category: GeneralCategory) -> bool {
    use GeneralCategory as Gc;
    matches!(
        category,
        Gc::NonspacingMark | Gc::SpacingMark | Gc::EnclosingMark
    )
}

/// Letters, numbers, punctuation and symbols: safe to show and to keep.
fn is_visible(category: GeneralCategory) -> bool {
    use GeneralCategory as Gc;
    !is_mark(category)
        && !matches!(
            category,
            Gc::SpaceSeparator
                | Gc::LineSeparator
                | Gc::ParagraphSeparator
                | Gc::Control
                | Gc::Format
                | Gc::PrivateUse
                | Gc::Surrogate
                | Gc::Unassigned
        )
}

/// Refuses characters that are legal by the RFCs but unsafe in practice:
/// controls and format characters (which can make an address display as a
/// different one), line and paragraph separators, non-ASCII spaces (ASCII
/// space is already excluded), private-use and unassigned code points, and a
/// combining mark at the start (it would combine with whatever precedes).
fn check_safe_characters(text: &str, place: &str) -> Result<(), SyntaxError> {
    let unsafe_chars = describe_chars(text.chars().enumerate().filter_map(|(i, c)| {
        let category = general_category(c);
        let safe = is_visible(category) || (is_mark(category) && i > 0);
        (!safe).then_some(c)
    }));
    if unsafe_chars.is_empty() {
        return Ok(());
    }
    Err(SyntaxError::new(
        SyntaxErrorKind::UnsafeCharacter,
        format!(
            "The address contains unsafe characters {place}: {unsafe_chars}. \
             They are invisible, change how text is displayed, or are not real characters; \
             remove them."
        ),
    ))
}

/// Lists characters for a message: visible ones in quotes, others by code point.
fn describe_chars(chars: impl Iterator<Item = char>) -> String {
    let unique: BTreeSet<char> = chars.collect();
    unique
        .into_iter()
        .map(|c| match c {
            ' ' => "SPACE".to_string(),
            c if is_visible(general_category(c)) => format!("'{c}'"),
            c => code_point(c),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

fn code_point(c: char) -> String {
    format!("U+{:04X}", u32::from(c))
}

fn count_noun(count: usize, noun: &str) -> String {
    if count == 1 {
        format!("1 {noun}")
    } else {
        format!("{count} {noun}s")
    }
}

/// Each form of the address must fit in 254 octets of UTF-8 (SMTPUTF8 counts
/// octets), since callers may use any of them.
fn check_address_length(address: &str, when: &str) -> Result<(), SyntaxError> {
    if address.len() <= ADDRESS_MAX_OCTETS {
        return Ok(());
    }
    let over = address.len() - ADDRESS_MAX_OCTETS;
    let unit = if address.is_ascii() {
        "character"
    } else {
        "byte"
    };
    Err(SyntaxError::new(
        SyntaxErrorKind::AddressTooLong,
        format!(
            "The email address is too long{when} ({} too many). \
             An address has at most {ADDRESS_MAX_OCTETS} octets.",
            count_noun(over, unit)
        ),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn idna2008_table_parses_every_data_line() {
        let data_lines = include_str!("../../data/syntax_idna2008.txt")
            .lines()
            .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
            .count();
        assert_eq!(IDNA2008_CLASSES.len(), data_lines);
        assert_eq!(idna2008_class('a'), Some(Idna2008Class::Pvalid));
        assert_eq!(idna2008_class('A'), None);
        assert_eq!(idna2008_class('\u{200D}'), Some(Idna2008Class::ContextJ));
        assert_eq!(idna2008_class('\u{B7}'), Some(Idna2008Class::ContextO));
        assert_eq!(idna2008_class('\u{2603}'), None);
    }

    /// The hard-coded list must be the code points whose *one-level*
    /// decomposition holds a full stop; full NFKD also reaches U+FE19 and
    /// U+FE30 (vertical ellipsis forms, via U+2026/U+2025).
    #[test]
    fn full_stop_decompositions_match_nfkd() {
        for c in (0..=0x10FFFF).filter_map(char::from_u32) {
            let nfkd_has_dot = c != '.' && c.to_string().nfkd().any(|d| d == '.');
            let expected = nfkd_has_dot && !matches!(u32::from(c), 0xFE19 | 0xFE30);
            assert_eq!(decomposes_with_full_stop(c), expected, "{}", code_point(c));
        }
    }
}
