//! handoff's HTTP side: the pages recipients and reviewers reach from a
//! link in an email, and a health check for whoever runs it.
//!
//! Handlers are thin: they parse the request, call one store or engine
//! command, and render the outcome. Nothing here changes state on a GET,
//! because link scanners and mail-security gateways open every link they
//! see (RFC 8058 §1).

mod approval;
mod error;
mod pages;
mod unsubscribe;

use std::future::Future;
use std::sync::Arc;

use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::Serialize;
use tokio::net::TcpListener;

use handoff_store::Store;

pub use axum::Router;
pub use error::WebError;

/// What the HTTP side needs to know about the workspace.
#[derive(Clone)]
pub struct WebConfig {
    /// The address people reach handoff at (links in emails point here).
    /// Its path, if any, is where the routes live behind a reverse proxy.
    pub public_url: url::Url,
    /// Shown on every page.
    pub workspace_name: String,
    /// Shown in every page's footer, as in every email's.
    pub physical_address: String,
    /// Verifies unsubscribe tokens (`handoff_engine::sending::unsubscribe_token`).
    pub unsubscribe_key: Vec<u8>,
    /// Verifies approve and reject links (`handoff_engine::links`).
    pub link_key: Vec<u8>,
    /// Where approved messages go from (the playbook's mailboxes).
    pub mailboxes: Vec<handoff_domain::playbook::Mailbox>,
}

impl std::fmt::Debug for WebConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebConfig")
            .field("public_url", &self.public_url.as_str())
            .field("workspace_name", &self.workspace_name)
            .field("unsubscribe_key", &"***")
            .field("link_key", &"***")
            .finish()
    }
}

#[derive(Debug, Clone)]
pub struct AppState {
    store: Arc<dyn Store>,
    config: Arc<WebConfig>,
}

impl AppState {
    pub fn new(store: Arc<dyn Store>, config: WebConfig) -> Self {
        Self {
            store,
            config: Arc::new(config),
        }
    }
}

/// Every route, at the root and, when the public URL has a path (say
/// `https://example.com/handoff`), under that path too: a reverse proxy may
/// pass the prefix on or strip it.
pub fn router(state: AppState) -> Router {
    let routes = Router::new()
        .route("/healthz", get(health))
        .route(
            "/u/{token}",
            get(unsubscribe::confirm_page).post(unsubscribe::unsubscribe),
        )
        .route(
            "/a/{token}",
            get(approval::confirm_page).post(approval::act),
        );
    let prefix = state
        .config
        .public_url
        .path()
        .trim_end_matches('/')
        .to_string();
    let app = if prefix.is_empty() {
        routes
    } else {
        routes.clone().nest(&prefix, routes)
    };
    app.fallback(not_found)
        .layer(axum::middleware::map_response(security_headers))
        .with_state(state)
}

/// Serves until `shutdown` resolves, then finishes the requests in flight.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await
}

#[derive(Serialize)]
struct Health {
    status: &'static str,
    backend: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    problem: Option<String>,
}

/// 200 when the database answers and its schema is current; 503 otherwise.
async fn health(State(state): State<AppState>) -> Response {
    let backend = state.store.backend();
    let (code, status, problem) = match state.store.schema_status().await {
        Ok(schema) if schema.is_current() => (StatusCode::OK, "ok", None),
        Ok(_) => (
            StatusCode::SERVICE_UNAVAILABLE,
            "degraded",
            Some("the database schema is not current: run `handoff migrate`".to_string()),
        ),
        Err(e) => (
            StatusCode::SERVICE_UNAVAILABLE,
            "down",
            Some(format!("the database does not answer: {e}")),
        ),
    };
    (
        code,
        axum::Json(Health {
            status,
            backend,
            problem,
        }),
    )
        .into_response()
}

async fn not_found(State(state): State<AppState>) -> Response {
    WebError::NotFound {
        heading: "Nothing here".into(),
        detail: "This address does not lead anywhere. If you followed a link from an email, copy the whole link."
            .into(),
    }
    .into_page(&state.config)
}

/// Pages are never framed, never cached, and load nothing from elsewhere.
async fn security_headers(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'",
        ),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    response
}
