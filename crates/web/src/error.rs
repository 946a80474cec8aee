//! What a request can run into, each shown as a page that says what
//! happened and what to do, with the cause logged (never shown).

use axum::http::StatusCode;
use axum::response::Response;

use crate::WebConfig;
use crate::pages::problem;

#[derive(Debug, thiserror::Error)]
pub enum WebError {
    /// A link that is not ours, mistyped, or for something that is gone.
    #[error("{heading}: {detail}")]
    NotFound { heading: String, detail: String },
    /// The database did not take the request: nothing was recorded, so
    /// nothing may be reported as done.
    #[error("the database refused the request: {0}")]
    Unavailable(#[from] handoff_store::StoreError),
    /// The review engine could not load what the page shows.
    #[error("{0}")]
    Review(String),
}

impl WebError {
    pub fn into_page(self, config: &WebConfig) -> Response {
        match self {
            WebError::NotFound { heading, detail } => {
                problem(config, StatusCode::NOT_FOUND, &heading, &detail)
            }
            WebError::Review(why) => {
                tracing::error!(error = %why, "a review page could not be built");
                problem(
                    config,
                    StatusCode::SERVICE_UNAVAILABLE,
                    "Please try again in a minute",
                    "This draft could not be shown just now; nothing has changed.",
                )
            }
            WebError::Unavailable(e) => {
                tracing::error!(error = %e, "request not recorded");
                problem(
                    config,
                    StatusCode::SERVICE_UNAVAILABLE,
                    "Please try again in a minute",
                    "Your request could not be recorded just now, so nothing has changed yet. \
                     Reload this page in a minute to try again.",
                )
            }
        }
    }
}
