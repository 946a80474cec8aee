//! Dev-only helpers for tests: real SQLite files in temporary folders, real
//! PostgreSQL databases created (and dropped) per test, and a real SMTP
//! server that records what it receives.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

pub mod browser;
pub mod python;
pub mod smtp;

use std::path::PathBuf;

use sqlx::Connection;
use sqlx::postgres::PgConnection;

/// A temporary folder holding one SQLite database path.
#[derive(Debug)]
pub struct TempSqlite {
    pub dir: tempfile::TempDir,
    pub path: PathBuf,
}

pub fn temp_sqlite() -> TempSqlite {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let path = dir.path().join("handoff.db");
    TempSqlite { dir, path }
}

/// Where the test PostgreSQL server is: `HANDOFF_TEST_PG_URL`, or the local
/// server with trust authentication.
pub fn pg_admin_url() -> String {
    std::env::var("HANDOFF_TEST_PG_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_string())
}

pub fn in_ci() -> bool {
    std::env::var("CI")
        .map(|v| v == "true" || v == "1")
        .unwrap_or(false)
}

/// A fresh PostgreSQL database, dropped when this value is dropped.
#[derive(Debug)]
pub struct TestPg {
    pub url: String,
    name: String,
}

impl TestPg {
    /// Creates a database on the test server. Under `CI=true` an unreachable
    /// server fails the test; elsewhere it returns `None` after a loud line,
    /// and the caller skips.
    pub async fn create() -> Option<TestPg> {
        let admin = pg_admin_url();
        let mut conn = match PgConnection::connect(&admin).await {
            Ok(conn) => conn,
            Err(e) => {
                if in_ci() {
                    panic!("PostgreSQL is required under CI=true but {admin} is unreachable: {e}");
                }
                eprintln!(
                    "\n!!! SKIPPING PostgreSQL test: {admin} is unreachable ({e}).\n!!! Start PostgreSQL or set HANDOFF_TEST_PG_URL; under CI=true this fails.\n"
                );
                return None;
            }
        };
        let name = format!("handoff_test_{}", uuid::Uuid::new_v4().simple());
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&mut conn)
            .await
            .expect("CREATE DATABASE on the test server");
        let url = match admin.rfind('/') {
            Some(slash) => format!("{}/{name}", &admin[..slash]),
            None => panic!("HANDOFF_TEST_PG_URL must end with /DATABASE"),
        };
        Some(TestPg { url, name })
    }
}

impl Drop for TestPg {
    fn drop(&mut self) {
        let admin = pg_admin_url();
        let name = self.name.clone();
        // Drop runs outside any runtime; a short-lived one does the work.
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build();
            if let Ok(rt) = rt {
                rt.block_on(async {
                    if let Ok(mut conn) = PgConnection::connect(&admin).await {
                        let _ = sqlx::query(sqlx::AssertSqlSafe(format!(
                            "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
                        )))
                        .execute(&mut conn)
                        .await;
                    }
                });
            }
        })
        .join();
    }
}
