//! Drafters. One trait, [`Drafter`], and its backends: the template
//! drafter (the embedded default, no model), any OpenAI-compatible chat
//! endpoint, the Anthropic Messages API, and a local GGUF model. Each one
//! receives a [`ModelInput`] (or, to write account research, a
//! [`ResearchInput`]), which only their `build` functions can make, so no
//! field the playbook forbids can reach a backend.

use std::path::Path;

use async_trait::async_trait;
use handoff_domain::drafting::{
    ModelDraft, ModelInput, OutputError, ResearchAnswer, ResearchInput, Usage,
};
use handoff_domain::playbook::{Backend, ModelConfig, SecretSource};
use secrecy::SecretString;

pub mod anthropic;
pub mod bench;
mod http;
#[cfg(feature = "local-llm")]
pub mod local;
pub mod openai;
pub mod template;

pub use anthropic::{AnthropicConfig, AnthropicDrafter};
pub use http::HttpOptions;
#[cfg(feature = "local-llm")]
pub use local::{LocalConfig, LocalDrafter, LocalModel};
pub use openai::{OpenAiConfig, OpenAiDrafter};
pub use template::TemplateDrafter;

#[async_trait]
pub trait Drafter: Send + Sync {
    /// `template`, `openai`, `anthropic` or `local`.
    fn backend(&self) -> &'static str;

    /// Drafts one step. `seed` makes sampling (and the template drafter's
    /// choices) repeatable.
    async fn draft(&self, input: &ModelInput, seed: u64) -> Result<ModelDraft, DraftError>;

    /// Writes an account's research notes. `Ok(None)` (the default) means
    /// this backend leaves research to the template summary.
    async fn research(
        &self,
        input: &ResearchInput,
        seed: u64,
    ) -> Result<Option<ResearchAnswer>, DraftError> {
        let _ = (input, seed);
        Ok(None)
    }
}

/// What a request asks the model for; names the schema and the errors.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Task {
    Draft,
    Research,
}

impl std::fmt::Display for Task {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Task::Draft => "draft",
            Task::Research => "account research",
        })
    }
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
    /// The endpoint answered, but not with a usable draft or research.
    #[error("{backend} gave no usable {task}: {source}")]
    Output {
        backend: &'static str,
        task: Task,
        #[source]
        source: OutputError,
    },
    /// The endpoint answered 2xx in a shape no API of this kind uses (not
    /// JSON, no choices): usually a base_url pointing at the wrong server.
    #[error("{backend} answered in an unexpected shape: {detail}")]
    Protocol {
        backend: &'static str,
        detail: String,
    },
    /// The request was refused outright (HTTP 4xx other than 429).
    #[error("{backend} refused the request ({status}): {detail}")]
    Rejected {
        backend: &'static str,
        status: u16,
        detail: String,
    },
}

/// USD per 1,000 tokens, from the playbook's `[model]` prices.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Pricing {
    pub input_per_1k: f64,
    pub output_per_1k: f64,
}

impl Pricing {
    /// Both prices, or none: half a price would under-count every draft.
    pub fn from_config(config: &ModelConfig) -> Option<Pricing> {
        match (config.input_price_per_1k, config.output_price_per_1k) {
            (None, None) => None,
            (input, output) => Some(Pricing {
                input_per_1k: input.unwrap_or(0.0),
                output_per_1k: output.unwrap_or(0.0),
            }),
        }
    }

    pub(crate) fn usage(pricing: Option<Pricing>, input_tokens: u64, output_tokens: u64) -> Usage {
        Usage {
            input_tokens,
            output_tokens,
            cost_usd: pricing.map(|p| {
                input_tokens as f64 / 1000.0 * p.input_per_1k
                    + output_tokens as f64 / 1000.0 * p.output_per_1k
            }),
        }
    }
}

/// The drafter the playbook's `[model]` section asks for. `base_dir` is
/// where relative paths (`api_key_file`, `model_path`) are read from,
/// normally the playbook's folder.
pub fn drafter_from_config(
    config: &ModelConfig,
    base_dir: &Path,
) -> Result<Box<dyn Drafter>, DraftError> {
    match config.backend {
        Backend::Openai => Ok(Box::new(OpenAiDrafter::new(OpenAiConfig::from_model_config(
            config, base_dir,
        )?)?)),
        Backend::Anthropic => Ok(Box::new(AnthropicDrafter::new(
            AnthropicConfig::from_model_config(config, base_dir)?,
        )?)),
        #[cfg(feature = "local-llm")]
        Backend::Local => Ok(Box::new(LocalDrafter::load(LocalConfig::from_model_config(
            config, base_dir,
        )?)?)),
        #[cfg(not(feature = "local-llm"))]
        Backend::Local => Err(DraftError::Config(
            "[model] backend = \"local\" needs a build with the local-llm feature \
             (cargo build --features handoff-ai/local-llm); or choose backend = \"template\", \"openai\" or \"anthropic\""
                .into(),
        )),
        Backend::Template => Ok(Box::new(TemplateDrafter)),
    }
}

pub(crate) fn http_options(config: &ModelConfig) -> HttpOptions {
    let defaults = HttpOptions::default();
    HttpOptions {
        timeout: config.timeout_secs.map_or(defaults.timeout, |s| {
            std::time::Duration::from_secs(s.into())
        }),
        max_attempts: config.max_attempts.unwrap_or(defaults.max_attempts),
        concurrency: config
            .concurrency
            .map_or(defaults.concurrency, |n| n as usize),
        ..defaults
    }
}

/// Reads an API key the playbook points at: an environment variable
/// (or, when it is unset, a file named by `<VAR>_FILE`, the container
/// secrets convention), or a file relative to `base_dir`.
pub fn resolve_api_key(
    backend: &'static str,
    source: &SecretSource,
    base_dir: &Path,
) -> Result<SecretString, DraftError> {
    let read_file = |path: &Path, named_by: &str| -> Result<SecretString, DraftError> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            DraftError::Config(format!(
                "{backend}: the API key file {} ({named_by}) cannot be read: {e}",
                path.display()
            ))
        })?;
        let key = text.trim();
        if key.is_empty() {
            return Err(DraftError::Config(format!(
                "{backend}: the API key file {} ({named_by}) is empty",
                path.display()
            )));
        }
        Ok(SecretString::from(key.to_string()))
    };
    match source {
        SecretSource::Env(name) => {
            if let Ok(key) = std::env::var(name)
                && !key.trim().is_empty()
            {
                return Ok(SecretString::from(key.trim().to_string()));
            }
            let file_var = format!("{name}_FILE");
            match std::env::var(&file_var) {
                Ok(path) if !path.trim().is_empty() => {
                    read_file(Path::new(path.trim()), &format!("from {file_var}"))
                }
                _ => Err(DraftError::Config(format!(
                    "{backend}: the environment variable {name} (named by api_key_env in [model]) is not set; \
                     export it, or set {file_var} to a file holding the key"
                ))),
            }
        }
        SecretSource::File(path) => read_file(&base_dir.join(path), "api_key_file in [model]"),
    }
}

/// A model's research answer as the trait returns it, or the reason it
/// is none.
pub(crate) fn research_answer(
    backend: &'static str,
    json: &str,
    model: &str,
    usage: Usage,
) -> Result<Option<handoff_domain::drafting::ResearchAnswer>, DraftError> {
    handoff_domain::drafting::ResearchAnswer::from_model_json(json, model, usage)
        .map(Some)
        .map_err(|source| DraftError::Output {
            backend,
            task: Task::Research,
            source,
        })
}
