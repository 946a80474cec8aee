//! The shared conformance story, on real SQLite files, plus what only
//! SQLite can show (the file's pragmas and triggers).
#![allow(clippy::unwrap_used)]

use std::sync::Arc;

use handoff_store::{Schema, Store, conformance};
use handoff_store_sqlite::{Durability, SqliteStore};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_passes_the_conformance_story() {
    let mut dirs = Vec::new();
    conformance::run_all(|| {
        let db = handoff_testkit::temp_sqlite();
        let store = SqliteStore::open(&db.path, Durability::Normal).unwrap();
        dirs.push(db);
        async move {
            store.migrate().await.unwrap();
            Arc::new(store) as Arc<dyn Store>
        }
    })
    .await;
}

#[tokio::test]
async fn the_ledger_refuses_updates_and_deletes() {
    let db = handoff_testkit::temp_sqlite();
    let store = SqliteStore::open(&db.path, Durability::Normal).unwrap();
    store.migrate().await.unwrap();
    drop(store);
    let conn = rusqlite::Connection::open(&db.path).unwrap();
    let update = conn
        .execute("UPDATE ledger SET kind = 'forged'", [])
        .unwrap_err();
    assert!(update.to_string().contains("append-only"), "{update}");
    let delete = conn.execute("DELETE FROM ledger", []).unwrap_err();
    assert!(delete.to_string().contains("append-only"), "{delete}");
}

#[tokio::test]
async fn the_file_is_in_wal_mode() {
    let db = handoff_testkit::temp_sqlite();
    let store = SqliteStore::open(&db.path, Durability::Normal).unwrap();
    store.migrate().await.unwrap();
    let conn = rusqlite::Connection::open(&db.path).unwrap();
    let mode: String = conn
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .unwrap();
    assert_eq!(mode, "wal");
}

#[tokio::test]
async fn a_newer_database_is_refused_with_one_sentence() {
    let db = handoff_testkit::temp_sqlite();
    let store = SqliteStore::open(&db.path, Durability::Normal).unwrap();
    store.migrate().await.unwrap();
    {
        let conn = rusqlite::Connection::open(&db.path).unwrap();
        conn.execute(
            "INSERT INTO schema_migrations (version, name, applied_at) VALUES (99, 'from the future', 0)",
            [],
        )
        .unwrap();
    }
    let err = store.migrate().await.unwrap_err().to_string();
    assert!(err.contains("schema version 99"), "{err}");
    assert!(err.contains("upgrade handoff"), "{err}");
}

#[test]
fn a_file_that_is_not_a_database_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("notes.db");
    std::fs::write(
        &path,
        "these are my notes, not a database, and they are long enough to matter",
    )
    .unwrap();
    let err = SqliteStore::open(&path, Durability::Normal)
        .unwrap_err()
        .to_string();
    assert!(err.contains("not a SQLite database"), "{err}");
    assert!(err.contains("notes.db"), "{err}");
}

#[test]
fn urls_resolve_relative_to_the_playbook() {
    let base = std::path::Path::new("/srv/sales");
    assert_eq!(
        SqliteStore::path_from_url("sqlite://handoff.db", base).unwrap(),
        base.join("handoff.db")
    );
    assert_eq!(
        SqliteStore::path_from_url("sqlite:///var/lib/handoff.db", base).unwrap(),
        std::path::PathBuf::from("/var/lib/handoff.db")
    );
    assert!(SqliteStore::path_from_url("sqlite::memory:", base).is_err());
    assert!(SqliteStore::path_from_url("mysql://x", base).is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_passes_the_scheduling_story() {
    let mut dirs = Vec::new();
    conformance::scheduling::run_all(|| {
        let db = handoff_testkit::temp_sqlite();
        let store = SqliteStore::open(&db.path, Durability::Normal).unwrap();
        dirs.push(db);
        async move {
            store.migrate().await.unwrap();
            Arc::new(store) as Arc<dyn Store>
        }
    })
    .await;
}
