//! The HTTP side against a real store (SQLite files, the PostgreSQL test
//! server), served on a random loopback port and called over HTTP.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod unsubscribe;

use std::sync::Arc;

use handoff_store::{Schema, Store};
use handoff_store_sqlite::{Durability, SqliteStore};
use handoff_web::{AppState, WebConfig};

pub const KEY: &[u8] = b"a test key of more than sixteen bytes";
pub const LINK_KEY: &[u8] = b"another test key, for approval links";

/// A served app and what keeps its database alive.
pub struct TestApp {
    pub store: Arc<dyn Store>,
    /// `http://127.0.0.1:PORT`
    pub base: String,
    _keep: Box<dyn std::any::Any + Send>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
}

impl std::fmt::Debug for TestApp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestApp").field("base", &self.base).finish()
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

pub fn client() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

pub async fn serve(
    store: Arc<dyn Store>,
    public_url: &str,
    keep: Box<dyn std::any::Any + Send>,
) -> TestApp {
    let config = WebConfig {
        public_url: public_url.parse().unwrap(),
        workspace_name: "Northwind Analytics".into(),
        physical_address: "100 Main St, Boston, MA 02110, USA".into(),
        unsubscribe_key: KEY.to_vec(),
        link_key: LINK_KEY.to_vec(),
        mailboxes: handoff_domain::playbook::parse(
            handoff_domain::playbook::DEFAULT_PLAYBOOK,
            "handoff.toml",
        )
        .unwrap()
        .mailboxes,
    };
    let app = handoff_web::router(AppState::new(store.clone(), config));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(handoff_web::serve(listener, app, async move {
        let _ = rx.await;
    }));
    TestApp {
        store,
        base: format!("http://{addr}"),
        _keep: keep,
        shutdown: Some(tx),
    }
}

pub async fn sqlite_app(public_url: &str) -> TestApp {
    let db = handoff_testkit::temp_sqlite();
    let store = SqliteStore::open(&db.path, Durability::Normal).unwrap();
    store.migrate().await.unwrap();
    serve(Arc::new(store), public_url, Box::new(db)).await
}

/// None (after a loud line) when PostgreSQL is missing outside CI.
pub async fn postgres_app(public_url: &str) -> Option<TestApp> {
    let pg = handoff_testkit::TestPg::create().await?;
    let store = handoff_store_postgres::PostgresStore::connect(&pg.url)
        .await
        .unwrap();
    store.migrate().await.unwrap();
    Some(serve(Arc::new(store), public_url, Box::new(pg)).await)
}

#[tokio::test]
async fn health_reports_the_backend() {
    let app = sqlite_app("http://localhost:8080").await;
    let response = client()
        .get(format!("{}/healthz", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["status"], "ok");
    assert_eq!(body["backend"], "sqlite");
}

#[tokio::test]
async fn unknown_paths_get_a_page_not_a_stack_trace() {
    let app = sqlite_app("http://localhost:8080").await;
    let response = client()
        .get(format!("{}/wp-login.php", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 404);
    assert_eq!(
        response.headers()["x-frame-options"],
        "DENY",
        "every response carries the security headers"
    );
    let body = response.text().await.unwrap();
    assert!(body.contains("Nothing here"), "{body}");
}
