//! Picks the backend from the database URL's scheme. Commands get an
//! `Arc<dyn Store>` and never name a backend.

use std::sync::Arc;

use anyhow::{Context, Result};

use handoff_store::{Store, StoreError};
use handoff_store_postgres::PostgresStore;
use handoff_store_sqlite::{Durability, SqliteStore};

use crate::settings::Settings;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Migrate {
    /// Bring the schema up to date first (every command but doctor).
    OnOpen,
    /// Leave the schema as it is (doctor looks, `migrate` acts).
    No,
}

/// Opens the store. Fails with one sentence for a wrong scheme, an
/// unreachable server, or a schema newer than this binary.
pub async fn open(settings: &Settings, migrate: Migrate) -> Result<Arc<dyn Store>> {
    let store = connect(settings).await?;
    if migrate == Migrate::OnOpen {
        store
            .migrate()
            .await
            .with_context(|| format!("cannot prepare the database at {}", settings.database_url))?;
    }
    Ok(store)
}

pub async fn connect(settings: &Settings) -> Result<Arc<dyn Store>, StoreError> {
    let url = settings.database_url.expose();
    match settings.database_url.scheme() {
        "sqlite" => {
            let path = SqliteStore::path_from_url(url, &settings.base_dir)?;
            Ok(Arc::new(SqliteStore::open(&path, Durability::Normal)?))
        }
        "postgres" | "postgresql" => Ok(Arc::new(PostgresStore::connect(url).await?)),
        _ => Err(StoreError::UnsupportedUrl {
            url: settings.database_url.redacted(),
        }),
    }
}
