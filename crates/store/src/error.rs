use thiserror::Error;

/// Storage failures, phrased for the person who has to act on them.
#[derive(Debug, Error)]
pub enum StoreError {
    #[error(
        "`{url}` is not a database URL handoff understands: use sqlite://PATH or postgres://USER@HOST/DB"
    )]
    UnsupportedUrl { url: String },
    #[error("cannot open the SQLite database at {path}: {reason}")]
    SqliteOpen { path: String, reason: String },
    #[error("cannot reach the PostgreSQL server at {target}: {reason}")]
    Unreachable { target: String, reason: String },
    #[error(
        "the database is at schema version {database} but this handoff binary only knows up to version {binary}: \
         upgrade handoff, or point it at the database this version created"
    )]
    SchemaTooNew { database: i64, binary: i64 },
    #[error(
        "the database schema is at version {database}, but this handoff needs {binary}: run `handoff migrate`"
    )]
    SchemaBehind { database: i64, binary: i64 },
    #[error("migration failed: {0}")]
    Migration(String),
    #[error("{what} already exists")]
    Conflict { what: String },
    #[error("refused: {reason}")]
    Refused { reason: String },
    #[error("{what} was not found")]
    NotFound { what: String },
    #[error(
        "a stored row could not be read back ({what}): the database may have been edited by hand"
    )]
    Corrupt { what: String },
    #[error("database error: {0}")]
    Database(String),
}

impl StoreError {
    /// Why the verification gate refuses this contact, or None if it may
    /// be enrolled.
    pub fn gate(
        contact: &str,
        verdict: Option<handoff_domain::verification::Verdict>,
        allow_risky: bool,
        by_person: bool,
    ) -> Option<StoreError> {
        use handoff_domain::verification::Verdict;
        let reason = match verdict {
            Some(Verdict::Valid) => return None,
            Some(Verdict::Risky(_)) if allow_risky && by_person => return None,
            Some(v @ Verdict::Risky(_)) if allow_risky => format!(
                "contact {contact}'s address is {v}: only a person can allow a risky address"
            ),
            Some(v @ Verdict::Risky(_)) => format!(
                "contact {contact}'s address is {v}: a person must allow it explicitly (--allow-risky), which is recorded in the ledger"
            ),
            Some(v @ Verdict::Invalid(_)) => {
                format!("contact {contact}'s address is {v}: it cannot be enrolled")
            }
            Some(v @ Verdict::Unknown(_)) => {
                format!(
                    "contact {contact}'s address could not be verified ({v}): run `handoff verify` again later"
                )
            }
            None => format!(
                "contact {contact}'s address has not been verified: run `handoff verify --all` first"
            ),
        };
        Some(StoreError::Refused { reason })
    }

    pub fn corrupt(what: impl Into<String>) -> Self {
        StoreError::Corrupt { what: what.into() }
    }
}
