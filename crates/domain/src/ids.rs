//! Typed ids. Entities that leave the system (contacts, accounts, users) use
//! UUID v7 so ids sort by creation and cannot be guessed; internal sequences
//! (ledger entries, jobs) use the database's integer sequence.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

macro_rules! uuid_id {
    ($(#[$doc:meta])* $name:ident, $prefix:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(Uuid);

        impl $name {
            /// A fresh, time-ordered id.
            pub fn new() -> Self {
                Self(Uuid::now_v7())
            }
            pub fn from_uuid(id: Uuid) -> Self {
                Self(id)
            }
            pub fn as_uuid(&self) -> Uuid {
                self.0
            }
            /// The prefix people see in tables and logs, e.g. `contact`.
            pub const KIND: &'static str = $prefix;
        }

        impl Default for $name {
            fn default() -> Self {
                Self::new()
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }

        impl FromStr for $name {
            type Err = IdParseError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Uuid::parse_str(s.trim()).map(Self).map_err(|_| IdParseError {
                    kind: $prefix,
                    input: s.to_string(),
                })
            }
        }
    };
}

macro_rules! seq_id {
    ($(#[$doc:meta])* $name:ident, $prefix:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(i64);

        impl $name {
            pub fn new(raw: i64) -> Self {
                Self(raw)
            }
            pub fn get(&self) -> i64 {
                self.0
            }
            pub const KIND: &'static str = $prefix;
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }

        impl FromStr for $name {
            type Err = IdParseError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                s.trim().parse::<i64>().map(Self).map_err(|_| IdParseError {
                    kind: $prefix,
                    input: s.to_string(),
                })
            }
        }
    };
}

uuid_id!(
    /// A prospect.
    ContactId, "contact"
);
uuid_id!(
    /// A company, keyed by its registrable domain.
    AccountId, "account"
);
uuid_id!(
    /// A person who uses handoff: rep, manager or admin.
    UserId, "user"
);
uuid_id!(
    /// A contact's run through one sequence.
    EnrollmentId, "enrollment"
);
uuid_id!(
    /// A message written by AI, a template or a person, before it is sent.
    DraftId, "draft"
);
uuid_id!(
    /// One outbound email (its RFC 5322 Message-ID is stored beside it).
    MessageId, "message"
);
uuid_id!(
    /// Something that happened outside: a reply, bounce, click, visit.
    InboundEventId, "event"
);
uuid_id!(
    /// A task for a person: the exception AI handed over.
    EscalationId, "escalation"
);
uuid_id!(
    /// One run of `handoff import`.
    ImportId, "import"
);
seq_id!(
    /// A row of the ledger; increases with every append.
    LedgerEntryId, "ledger entry"
);
seq_id!(
    /// A unit of background work.
    JobId, "job"
);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{input}` is not a valid {kind} id")]
pub struct IdParseError {
    pub kind: &'static str,
    pub input: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uuid_ids_round_trip_through_text() {
        let id = ContactId::new();
        assert_eq!(id.to_string().parse::<ContactId>(), Ok(id));
    }

    #[test]
    fn bad_ids_name_their_kind() {
        let err = "nope".parse::<ContactId>().unwrap_err();
        assert_eq!(err.to_string(), "`nope` is not a valid contact id");
        assert!("12x".parse::<JobId>().is_err());
        assert_eq!("42".parse::<JobId>().map(|j| j.get()), Ok(42));
    }
}
