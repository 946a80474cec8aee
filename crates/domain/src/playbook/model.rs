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
    /// Nucleus sampling: keep the most likely tokens up to this share.
    pub top_p: Option<f64>,
    /// The most tokens one answer may use (the Anthropic API requires a
    /// cap; the local model stops here).
    pub max_tokens: Option<u32>,
    /// Seconds one HTTP request may take, connecting included.
    pub timeout_secs: Option<u32>,
    /// Requests in flight at once, across every draft.
    pub concurrency: Option<u32>,
    /// Tries per draft on 429, 5xx and connection errors, the first included.
    pub max_attempts: Option<u32>,
    /// USD per 1,000 input and output tokens, for cost accounting.
    pub input_price_per_1k: Option<f64>,
    pub output_price_per_1k: Option<f64>,
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
            top_p: None,
            max_tokens: None,
            timeout_secs: None,
            concurrency: None,
            max_attempts: None,
            input_price_per_1k: None,
            output_price_per_1k: None,
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
    let top_p = table.number(issues, "top_p").and_then(|top_p| {
        if top_p.value > 0.0 && top_p.value <= 1.0 {
            Some(top_p.value)
        } else {
            issues.error_with_hint(
                &top_p.span,
                format!("`top_p` must be above 0 and at most 1, not {}", top_p.value),
                "0.9 keeps the likeliest tokens that make up 90% of the probability",
            );
            None
        }
    });
    let max_tokens = bounded(
        issues,
        &mut table,
        "max_tokens",
        1..=MAX_TOKENS,
        "a sales email needs about 400 tokens of JSON; 1024 leaves room",
    );
    let timeout_secs = bounded(
        issues,
        &mut table,
        "timeout_secs",
        1..=600,
        "seconds per request; hosted APIs usually answer within 60",
    );
    let concurrency = bounded(
        issues,
        &mut table,
        "concurrency",
        1..=256,
        "requests in flight at once; your API plan's rate limit sets the ceiling",
    );
    let max_attempts = bounded(
        issues,
        &mut table,
        "max_attempts",
        1..=10,
        "tries per draft including the first; 4 rides out a short outage",
    );
    let input_price_per_1k = price(issues, &mut table, "input_price_per_1k");
    let output_price_per_1k = price(issues, &mut table, "output_price_per_1k");
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
        top_p,
        max_tokens,
        timeout_secs,
        concurrency,
        max_attempts,
        input_price_per_1k,
        output_price_per_1k,
    }
}

const MAX_TOKENS: i64 = 32_768;

/// A whole number in `range`, or an error at the value saying why.
fn bounded(
    issues: &mut Issues<'_>,
    table: &mut TableReader<'_, '_>,
    key: &'static str,
    range: std::ops::RangeInclusive<i64>,
    hint: &str,
) -> Option<u32> {
    let value = table.integer(issues, key)?;
    if range.contains(&value.value) {
        return u32::try_from(value.value).ok();
    }
    issues.error_with_hint(
        &value.span,
        format!(
            "`{key}` must be between {} and {}, not {}",
            range.start(),
            range.end(),
            value.value
        ),
        hint,
    );
    None
}

fn price(
    issues: &mut Issues<'_>,
    table: &mut TableReader<'_, '_>,
    key: &'static str,
) -> Option<f64> {
    let value = table.number(issues, key)?;
    if value.value.is_finite() && (0.0..=1000.0).contains(&value.value) {
        return Some(value.value);
    }
    issues.error_with_hint(
        &value.span,
        format!(
            "`{key}` must be between 0 and 1000 (USD per 1,000 tokens), not {}",
            value.value
        ),
        "copy the provider's price per million tokens divided by 1000, e.g. 0.00015",
    );
    None
}
