//! People who use handoff.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// SDR or AE: owns prospects, reviews drafts, takes over replies.
    Rep,
    /// Receives overdue escalations of their reps.
    Manager,
    /// Runs the installation.
    Admin,
}

impl Role {
    pub const ALL: [Role; 3] = [Role::Rep, Role::Manager, Role::Admin];

    pub fn as_str(&self) -> &'static str {
        match self {
            Role::Rep => "rep",
            Role::Manager => "manager",
            Role::Admin => "admin",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Role {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Role::ALL
            .into_iter()
            .find(|r| r.as_str() == s)
            .ok_or_else(|| format!("unknown role `{s}`: use rep, manager or admin"))
    }
}

/// A login name: lower-case letters, digits, `.`, `-` and `_`, 1 to 64 long.
/// Mailboxes and sequences refer to users by it in the playbook.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Username(String);

impl Username {
    pub fn parse(input: &str) -> Result<Self, String> {
        let s = input.trim();
        let ok_chars = s
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '.' | '-' | '_'));
        if s.is_empty() || s.len() > 64 || !ok_chars {
            return Err(format!(
                "`{input}` is not a valid username: use 1-64 lower-case letters, digits, `.`, `-` or `_`"
            ));
        }
        Ok(Self(s.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for Username {
    type Error = String;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<Username> for String {
    fn from(value: Username) -> Self {
        value.0
    }
}

impl fmt::Display for Username {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usernames_are_strict() {
        assert!(Username::parse("dana").is_ok());
        assert!(Username::parse("dana.s-1_x").is_ok());
        assert!(Username::parse("Dana").is_err());
        assert!(Username::parse("").is_err());
        assert!(Username::parse("a b").is_err());
    }

    #[test]
    fn roles_parse() {
        assert_eq!("manager".parse::<Role>(), Ok(Role::Manager));
        assert!("boss".parse::<Role>().is_err());
    }
}
