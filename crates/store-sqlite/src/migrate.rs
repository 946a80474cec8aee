//! Schema migrations, embedded in the binary. Each runs in the same
//! transaction as its bookkeeping row, so a failed migration leaves the
//! database at the previous version.

use async_trait::async_trait;
use rusqlite::{Connection, OptionalExtension, params};

use handoff_domain::{Actor, Event};
use handoff_store::{
    CommandContext, MigrationReport, Schema, SchemaStatus, StoreError, StoreResult,
};

use crate::rows::{db_err, micros};
use crate::{SqliteStore, insert_entry};

/// (version, name, SQL). Append only: never edit a released migration.
const MIGRATIONS: &[(i64, &str, &str)] = &[
    (1, "initial", include_str!("../migrations/0001_initial.sql")),
    (
        2,
        "drafting",
        include_str!("../migrations/0002_drafting.sql"),
    ),
    (3, "sending", include_str!("../migrations/0003_sending.sql")),
    (
        4,
        "scheduling",
        include_str!("../migrations/0004_scheduling.sql"),
    ),
    (
        5,
        "review_inbox",
        include_str!("../migrations/0005_review_inbox.sql"),
    ),
    (6, "links", include_str!("../migrations/0006_links.sql")),
];

pub(crate) fn binary_version() -> i64 {
    MIGRATIONS.last().map(|m| m.0).unwrap_or(0)
}

fn database_version(conn: &Connection) -> StoreResult<i64> {
    let has_table: Option<i64> = conn
        .query_row(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'",
            [],
            |r| r.get(0),
        )
        .optional()
        .map_err(db_err)?;
    if has_table.is_none() {
        return Ok(0);
    }
    conn.query_row(
        "SELECT COALESCE(MAX(version), 0) FROM schema_migrations",
        [],
        |r| r.get(0),
    )
    .map_err(db_err)
}

#[async_trait]
impl Schema for SqliteStore {
    async fn migrate(&self) -> StoreResult<MigrationReport> {
        self.write(|tx| {
            tx.execute_batch(
                "CREATE TABLE IF NOT EXISTS schema_migrations (
                     version    INTEGER PRIMARY KEY,
                     name       TEXT NOT NULL,
                     applied_at INTEGER NOT NULL
                 )",
            )
            .map_err(db_err)?;
            let from = database_version(tx)?;
            let binary = binary_version();
            if from > binary {
                return Err(StoreError::SchemaTooNew {
                    database: from,
                    binary,
                });
            }
            let ctx = CommandContext::new(Actor::system("migrate"), None);
            let mut applied = Vec::new();
            for (version, name, sql) in MIGRATIONS.iter().filter(|m| m.0 > from) {
                tx.execute_batch(sql).map_err(|e| {
                    StoreError::Migration(format!("migration {version} ({name}): {e}"))
                })?;
                tx.execute(
                    "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?1, ?2, ?3)",
                    params![version, name, micros(ctx.now)],
                )
                .map_err(db_err)?;
                applied.push(format!("{version:04}_{name}"));
            }
            if !applied.is_empty() {
                insert_entry(
                    tx,
                    &ctx,
                    &Event::SchemaMigrated {
                        from_version: from,
                        to_version: binary,
                    },
                )?;
            }
            Ok(MigrationReport {
                from_version: from,
                to_version: binary,
                applied,
            })
        })
    }

    async fn schema_status(&self) -> StoreResult<SchemaStatus> {
        Ok(SchemaStatus {
            database_version: database_version(&self.reader())?,
            binary_version: binary_version(),
        })
    }
}
