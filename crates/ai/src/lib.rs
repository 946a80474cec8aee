//! Drafters. One trait, [`Drafter`], and its backends: the template
//! drafter (the embedded default, no model), any OpenAI-compatible chat
//! endpoint, the Anthropic Messages API, and a local GGUF model. Each one
//! receives a [`ModelInput`], which only
//! [`ModelInput::build`](handoff_domain::drafting::ModelInput::build) can
//! make, so no field the playbook forbids can reach a backend.

use async_trait::async_trait;
use handoff_domain::drafting::{ModelDraft, ModelInput, OutputError};

#[async_trait]
pub trait Drafter: Send + Sync {
    /// `template`, `openai`, `anthropic` or `local`.
    fn backend(&self) -> &'static str;

    /// Drafts one step. `seed` makes sampling (and the template drafter's
    /// choices) repeatable.
    async fn draft(&self, input: &ModelInput, seed: u64) -> Result<ModelDraft, DraftError>;
}

#[derive(Debug, thiserror::Error)]
pub enum DraftError {
    /// The backend is not set up right (missing key, bad URL, no model
    /// file): retrying will not help.
    #[error("{0}")]
    Config(String),
    /// The endpoint could not be reached or kept failing after retries.
    #[error("{backend} is unavailable: {detail}")]
    Unavailable {
        backend: &'static str,
        detail: String,
    },
    /// The endpoint answered, but not with a usable draft.
    #[error("{backend} gave no usable draft: {source}")]
    Output {
        backend: &'static str,
        #[source]
        source: OutputError,
    },
    /// The request was refused outright (HTTP 4xx other than 429).
    #[error("{backend} refused the request ({status}): {detail}")]
    Rejected {
        backend: &'static str,
        status: u16,
        detail: String,
    },
}
