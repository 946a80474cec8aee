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
    pub fn corrupt(what: impl Into<String>) -> Self {
        StoreError::Corrupt { what: what.into() }
    }
}
