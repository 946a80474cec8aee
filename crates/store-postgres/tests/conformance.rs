//! The shared conformance story on a real PostgreSQL server (one fresh
//! database per check), plus PostgreSQL-only checks.
#![allow(clippy::unwrap_used)]

use std::sync::Arc;

use handoff_store::{Schema, Store, conformance};
use handoff_store_postgres::PostgresStore;
use handoff_testkit::TestPg;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_passes_the_conformance_story() {
    if TestPg::create().await.is_none() {
        return;
    }
    let mut dbs = Vec::new();
    for (name, check) in conformance::checks() {
        eprintln!("conformance: {name}");
        let db = TestPg::create().await.unwrap();
        let store = PostgresStore::connect(&db.url).await.unwrap();
        store.migrate().await.unwrap();
        check(Arc::new(store) as Arc<dyn Store>).await;
        dbs.push(db);
    }
}

#[tokio::test]
async fn the_ledger_refuses_updates_deletes_and_truncate() {
    let Some(db) = TestPg::create().await else {
        return;
    };
    let store = PostgresStore::connect(&db.url).await.unwrap();
    store.migrate().await.unwrap();
    for sql in [
        "UPDATE ledger SET kind = 'forged'",
        "DELETE FROM ledger",
        "TRUNCATE ledger",
    ] {
        let err = sqlx::query(sql).execute(store.pool()).await.unwrap_err();
        assert!(err.to_string().contains("append-only"), "{sql}: {err}");
    }
    store.pool().close().await;
}

#[tokio::test]
async fn concurrent_migrations_apply_once() {
    let Some(db) = TestPg::create().await else {
        return;
    };
    let a = PostgresStore::connect(&db.url).await.unwrap();
    let b = PostgresStore::connect(&db.url).await.unwrap();
    let (ra, rb) = tokio::join!(a.migrate(), b.migrate());
    let (na, nb) = (ra.unwrap().applied.len(), rb.unwrap().applied.len());
    assert!(
        (na == 0) != (nb == 0),
        "exactly one process applied the migrations: {na} and {nb}"
    );
    a.pool().close().await;
    b.pool().close().await;
}

#[tokio::test]
async fn a_newer_database_is_refused_with_one_sentence() {
    let Some(db) = TestPg::create().await else {
        return;
    };
    let store = PostgresStore::connect(&db.url).await.unwrap();
    store.migrate().await.unwrap();
    sqlx::query(
        "INSERT INTO schema_migrations (version, name, applied_at) VALUES (42, 'future', now())",
    )
    .execute(store.pool())
    .await
    .unwrap();
    let err = store.migrate().await.unwrap_err().to_string();
    assert!(err.contains("schema version 42"), "{err}");
    store.pool().close().await;
}

#[tokio::test]
async fn unreachable_servers_and_missing_databases_are_one_sentence() {
    let err = PostgresStore::connect("postgres://nobody:hunter2@127.0.0.1:1/handoff")
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("cannot reach the PostgreSQL server at 127.0.0.1:1/handoff"),
        "{err}"
    );
    assert!(err.contains("connection refused"), "{err}");
    assert!(!err.contains("hunter2"), "{err}");

    if TestPg::create().await.is_none() {
        return;
    }
    let admin = handoff_testkit::pg_admin_url();
    let missing = format!("{}/handoff_no_such_db", &admin[..admin.rfind('/').unwrap()]);
    let err = PostgresStore::connect(&missing)
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("does not exist") && err.contains("createdb"),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_passes_the_scheduling_story() {
    if TestPg::create().await.is_none() {
        return;
    }
    let mut dbs = Vec::new();
    for (name, check) in conformance::scheduling::checks() {
        eprintln!("conformance (scheduling): {name}");
        let db = TestPg::create().await.unwrap();
        let store = PostgresStore::connect(&db.url).await.unwrap();
        store.migrate().await.unwrap();
        check(Arc::new(store) as Arc<dyn Store>).await;
        dbs.push(db);
    }
}
