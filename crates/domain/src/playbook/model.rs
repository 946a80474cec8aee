//! `[model]`: which backend drafts. The template drafter needs no model at
//! all, so it is the default.

use serde::Serialize;

use super::diagnostic::Issues;
use super::mailbox::{SecretSource, read_secret_source};
use super::reader::TableReader;
use super::workspace::check_http_url;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ModelConfig {
    pub backend: Backend,
    /// For OpenAI-compatible servers (Ollama, vLLM, llama.cpp) and proxies.
    pub base_url: Option<String>,
    pub model: Option<String>,
    pub api_key: Option<SecretSource>,
    /// A GGUF file, for the local backend.
    pub model_path: Option<String>,
    pub temperature: Option<f64>,
}

impl Default for ModelConfig {
    fn default() -> Self {
        Self {
            backend: Backend::Template,
            base_url: None,
            model: None,
            api_key: None,
            model_path: None,
            temperature: None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Backend {
    /// Grounded emails composed from the content center; works offline.
    Template,
    /// Any OpenAI-compatible endpoint.
    Openai,
    Anthropic,
    /// A GGUF model run in-process.
    Local,
}

impl Backend {
    pub fn as_str(self) -> &'static str {
        match self {
            Backend::Template => "template",
            Backend::Openai => "openai",
            Backend::Anthropic => "anthropic",
            Backend::Local => "local",
        }
    }
}

impl std::fmt::Display for Backend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

const API_KEY_HINT: &str = "the playbook is shared and kept in git: name where the key lives instead, \
with api_key_env = \"OPENAI_API_KEY\" or api_key_file = \"/run/secrets/model-key\"";

pub(crate) fn read_model(issues: &mut Issues<'_>, mut table: TableReader<'_, '_>) -> ModelConfig {
    let choices = [
        Backend::Template,
        Backend::Openai,
        Backend::Anthropic,
        Backend::Local,
    ]
    .map(|backend| (backend.as_str(), backend));
    let backend = table
        .choice(issues, "backend", &choices)
        .map(|backend| backend.value)
        .unwrap_or(Backend::Template);
    let base_url = table
        .string(issues, "base_url")
        .and_then(|url| check_http_url(issues, url, "base_url"));
    let model = table
        .optional_text(issues, "model")
        .map(|model| model.value);
    let api_key = read_secret_source(
        issues,
        &mut table,
        "api_key",
        "api_key_env",
        "api_key_file",
        API_KEY_HINT,
    );
    let model_path = table
        .optional_text(issues, "model_path")
        .map(|path| path.value);
    let temperature = table.number(issues, "temperature").and_then(|temperature| {
        if (0.0..=2.0).contains(&temperature.value) {
            Some(temperature.value)
        } else {
            issues.error_with_hint(
                &temperature.span,
                format!(
                    "`temperature` must be between 0 and 2, not {}",
                    temperature.value
                ),
                "lower is more predictable; 0.2-0.7 suits sales email",
            );
            None
        }
    });
    match backend {
        Backend::Local if model_path.is_none() && table.get("model_path").is_none() => {
            table.report_missing("model_path");
            table.explain_missing(
                "model_path",
                "the local backend runs a GGUF file: model_path = \"models/model.gguf\"",
            );
        }
        Backend::Openai | Backend::Anthropic if model.is_none() && table.get("model").is_none() => {
            table.report_missing("model");
            table.explain_missing(
                "model",
                "name the model to call, e.g. model = \"gpt-4o-mini\"",
            );
        }
        _ => {}
    }
    table.finish(issues);
    ModelConfig {
        backend,
        base_url,
        model,
        api_key,
        model_path,
        temperature,
    }
}
