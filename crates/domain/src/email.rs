//! The email address newtype. Full syntax verification (the verification
//! stage) lives elsewhere; this type guarantees the shape every store key
//! relies on: trimmed, one `@`, non-empty local part, lower-cased domain.

use std::fmt;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct EmailAddress(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EmailParseError {
    #[error("the address is empty")]
    Empty,
    #[error("`{0}` has no `@`: an address looks like name@example.com")]
    NoAt(String),
    #[error("`{0}` has nothing before the `@`")]
    EmptyLocal(String),
    #[error("`{0}` has no domain after the `@`")]
    EmptyDomain(String),
    #[error("`{0}` contains white space or control characters")]
    Whitespace(String),
    #[error("`{0}` is longer than the 254 characters an address may have")]
    TooLong(String),
}

impl EmailAddress {
    pub fn parse(input: &str) -> Result<Self, EmailParseError> {
        let trimmed = input.trim();
        if trimmed.is_empty() {
            return Err(EmailParseError::Empty);
        }
        if trimmed.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(EmailParseError::Whitespace(trimmed.to_string()));
        }
        if trimmed.len() > 254 {
            return Err(EmailParseError::TooLong(trimmed.to_string()));
        }
        let Some((local, domain)) = trimmed.rsplit_once('@') else {
            return Err(EmailParseError::NoAt(trimmed.to_string()));
        };
        if local.is_empty() {
            return Err(EmailParseError::EmptyLocal(trimmed.to_string()));
        }
        let domain = domain.trim_end_matches('.');
        if domain.is_empty() {
            return Err(EmailParseError::EmptyDomain(trimmed.to_string()));
        }
        // Local parts are case-sensitive in theory and case-insensitive at
        // every mailbox provider in practice; keys must not split one person
        // in two, so the whole address is folded.
        Ok(Self(format!(
            "{}@{}",
            local.to_lowercase(),
            domain.to_lowercase()
        )))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn domain(&self) -> &str {
        self.0.rsplit_once('@').map(|(_, d)| d).unwrap_or_default()
    }

    /// The hash a suppression keeps after the contact is erased: enough to
    /// refuse a re-import, useless for recovering the address.
    pub fn suppression_hash(&self) -> String {
        let digest = Sha256::digest(self.0.as_bytes());
        digest.iter().map(|b| format!("{b:02x}")).collect()
    }
}

impl TryFrom<String> for EmailAddress {
    type Error = EmailParseError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<EmailAddress> for String {
    fn from(value: EmailAddress) -> Self {
        value.0
    }
}

impl fmt::Display for EmailAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn normalises_case_and_space() {
        let e = EmailAddress::parse("  Dana.Smith@Northwind.EXAMPLE ").unwrap();
        assert_eq!(e.as_str(), "dana.smith@northwind.example");
        assert_eq!(e.domain(), "northwind.example");
    }

    #[test]
    fn refuses_shapes_that_cannot_be_keys() {
        assert_eq!(EmailAddress::parse(""), Err(EmailParseError::Empty));
        assert!(matches!(
            EmailAddress::parse("dana"),
            Err(EmailParseError::NoAt(_))
        ));
        assert!(matches!(
            EmailAddress::parse("@x.com"),
            Err(EmailParseError::EmptyLocal(_))
        ));
        assert!(matches!(
            EmailAddress::parse("a@"),
            Err(EmailParseError::EmptyDomain(_))
        ));
        assert!(matches!(
            EmailAddress::parse("a b@x.com"),
            Err(EmailParseError::Whitespace(_))
        ));
    }

    #[test]
    fn suppression_hash_is_stable_across_spellings() {
        let a = EmailAddress::parse("A@X.com").unwrap();
        let b = EmailAddress::parse("a@x.COM").unwrap();
        assert_eq!(a.suppression_hash(), b.suppression_hash());
        assert_eq!(a.suppression_hash().len(), 64);
    }

    proptest! {
        #[test]
        fn parse_never_panics_and_is_idempotent(s in "\\PC{0,80}") {
            if let Ok(e) = EmailAddress::parse(&s) {
                prop_assert_eq!(EmailAddress::parse(e.as_str()), Ok(e.clone()));
            }
        }
    }
}
