//! The Anthropic Messages API. JSON-only output comes from a forced tool
//! call: the draft schema is the tool's `input_schema` and `tool_choice`
//! names the tool, so the answer is the `tool_use` block's `input`.
//!
//! Request (the fields this backend sends; the API has no seed):
//! ```json
//! {"model": "claude-sonnet-4-5", "max_tokens": 1024, "system": "…",
//!  "messages": [{"role": "user", "content": "…"}],
//!  "tools": [{"name": "write_draft", "description": "…", "input_schema": {…}}],
//!  "tool_choice": {"type": "tool", "name": "write_draft"},
//!  "temperature": 0.4}
//! ```
//! Response (the fields it reads):
//! ```json
//! {"model": "claude-sonnet-4-5-20250929",
//!  "content": [{"type": "tool_use", "name": "write_draft", "input": {"subject": …}}],
//!  "stop_reason": "tool_use",
//!  "usage": {"input_tokens": 812, "output_tokens": 164}}
//! ```

use std::path::Path;

use async_trait::async_trait;
use handoff_domain::drafting::prompt::{self, Prompt};
use handoff_domain::drafting::{
    ModelDraft, ModelInput, OutputError, ResearchAnswer, ResearchInput, Usage,
};
use handoff_domain::playbook::ModelConfig;
use reqwest::header::HeaderMap;
use secrecy::{ExposeSecret, SecretString};
use serde_json::{Value, json};

use crate::http::{self, HttpClient, HttpOptions, excerpt, header};
use crate::{DraftError, Drafter, Pricing, Task, http_options, resolve_api_key};

const BACKEND: &str = "anthropic";
const TOOL: &str = "write_draft";
const RESEARCH_TOOL: &str = "write_research";
pub const DEFAULT_BASE_URL: &str = "https://api.anthropic.com";
pub const API_VERSION: &str = "2023-06-01";
/// The API requires a cap; a draft's JSON fits well inside this.
pub const DEFAULT_MAX_TOKENS: u32 = 1024;

#[derive(Debug, Clone)]
pub struct AnthropicConfig {
    /// The API host; `/v1/messages` is appended.
    pub base_url: String,
    pub model: String,
    pub api_key: SecretString,
    pub temperature: Option<f64>,
    pub top_p: Option<f64>,
    pub max_tokens: u32,
    pub pricing: Option<Pricing>,
    pub http: HttpOptions,
}

impl AnthropicConfig {
    pub fn new(
        base_url: impl Into<String>,
        model: impl Into<String>,
        api_key: SecretString,
    ) -> Self {
        AnthropicConfig {
            base_url: base_url.into(),
            model: model.into(),
            api_key,
            temperature: None,
            top_p: None,
            max_tokens: DEFAULT_MAX_TOKENS,
            pricing: None,
            http: HttpOptions::default(),
        }
    }

    /// From the playbook's `[model]`; the API key is required and read now.
    pub fn from_model_config(config: &ModelConfig, base_dir: &Path) -> Result<Self, DraftError> {
        let model = config.model.clone().ok_or_else(|| {
            DraftError::Config(
                "anthropic: [model] needs model = \"…\", e.g. model = \"claude-sonnet-4-5\"".into(),
            )
        })?;
        let source = config.api_key.as_ref().ok_or_else(|| {
            DraftError::Config(
                "anthropic: the Messages API needs a key; add api_key_env = \"ANTHROPIC_API_KEY\" (or api_key_file) to [model]"
                    .into(),
            )
        })?;
        Ok(AnthropicConfig {
            base_url: config
                .base_url
                .clone()
                .unwrap_or_else(|| DEFAULT_BASE_URL.to_string()),
            model,
            api_key: resolve_api_key(BACKEND, source, base_dir)?,
            temperature: config.temperature,
            top_p: config.top_p,
            max_tokens: config.max_tokens.unwrap_or(DEFAULT_MAX_TOKENS),
            pricing: Pricing::from_config(config),
            http: http_options(config),
        })
    }
}

/// Clones share one connection pool and one concurrency limit.
#[derive(Debug, Clone)]
pub struct AnthropicDrafter {
    url: String,
    headers: HeaderMap,
    config: AnthropicConfig,
    http: HttpClient,
}

impl AnthropicDrafter {
    pub fn new(config: AnthropicConfig) -> Result<Self, DraftError> {
        let url = messages_url(&config.base_url)?;
        let mut headers = HeaderMap::new();
        for (name, value) in [
            ("x-api-key", config.api_key.expose_secret()),
            ("anthropic-version", API_VERSION),
        ] {
            let (name, value) = header(BACKEND, name, value)?;
            headers.insert(name, value);
        }
        let http = HttpClient::new(BACKEND, config.http.clone())?;
        Ok(AnthropicDrafter {
            url,
            headers,
            config,
            http,
        })
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    /// The request body for one draft, exactly as sent. The Messages API
    /// takes no seed, so `seed` does not appear.
    pub fn request_body(&self, input: &ModelInput) -> Value {
        self.body(&prompt::render(input), Task::Draft)
    }

    /// The request body for one account's research, exactly as sent.
    pub fn research_request_body(&self, input: &ResearchInput) -> Value {
        self.body(&prompt::render_research(input), Task::Research)
    }

    fn body(&self, prompt: &Prompt, task: Task) -> Value {
        let (tool, description) = tool_for(task);
        let mut body = json!({
            "model": self.config.model,
            "max_tokens": self.config.max_tokens,
            "system": prompt.system,
            "messages": [{ "role": "user", "content": prompt.user }],
            "tools": [{
                "name": tool,
                "description": description,
                "input_schema": prompt.schema,
            }],
            "tool_choice": { "type": "tool", "name": tool },
        });
        if let Some(t) = self.config.temperature {
            // Anthropic's range is 0 to 1; the playbook allows up to 2.
            body["temperature"] = json!(t.min(1.0));
        }
        if let Some(p) = self.config.top_p {
            body["top_p"] = json!(p);
        }
        body
    }
}

fn tool_for(task: Task) -> (&'static str, &'static str) {
    match task {
        Task::Draft => (
            TOOL,
            "Record the drafted message: subject, sentences with their sources, and your confidence.",
        ),
        Task::Research => (
            RESEARCH_TOOL,
            "Record the account research notes: one entry per fact, by name.",
        ),
    }
}

#[async_trait]
impl Drafter for AnthropicDrafter {
    fn backend(&self) -> &'static str {
        BACKEND
    }

    async fn draft(&self, input: &ModelInput, _seed: u64) -> Result<ModelDraft, DraftError> {
        let body = self.request_body(input);
        let answer = self.http.post_json(&self.url, &self.headers, &body).await?;
        parse_answer(&answer, &self.config.model, self.config.pricing)
    }

    async fn research(
        &self,
        input: &ResearchInput,
        _seed: u64,
    ) -> Result<Option<ResearchAnswer>, DraftError> {
        let body = self.research_request_body(input);
        let answer = self.http.post_json(&self.url, &self.headers, &body).await?;
        let reply = tool_answer(
            &answer,
            &self.config.model,
            self.config.pricing,
            Task::Research,
        )?;
        crate::research_answer(BACKEND, &reply.json, &reply.model, reply.usage)
    }
}

fn messages_url(base_url: &str) -> Result<String, DraftError> {
    http::base_url(
        BACKEND,
        base_url,
        &format!("leave it out for {DEFAULT_BASE_URL}"),
    )?;
    let base = base_url.trim_end_matches('/');
    Ok(if base.ends_with("/v1/messages") {
        base.to_string()
    } else if base.ends_with("/v1") {
        format!("{base}/messages")
    } else {
        format!("{base}/v1/messages")
    })
}

fn parse_answer(
    answer: &Value,
    model: &str,
    pricing: Option<Pricing>,
) -> Result<ModelDraft, DraftError> {
    let reply = tool_answer(answer, model, pricing, Task::Draft)?;
    ModelDraft::from_model_json(&reply.json, &reply.model, reply.usage).map_err(|source| {
        DraftError::Output {
            backend: BACKEND,
            task: Task::Draft,
            source,
        }
    })
}

/// The JSON the model gave for `task`, with what it cost.
struct Reply {
    json: String,
    usage: Usage,
    model: String,
}

/// The forced tool call's input (or the text, from a proxy that ignores
/// tools), or why there is none (refusal, cut off at max_tokens).
fn tool_answer(
    answer: &Value,
    model: &str,
    pricing: Option<Pricing>,
    task: Task,
) -> Result<Reply, DraftError> {
    let output = |source: OutputError| DraftError::Output {
        backend: BACKEND,
        task,
        source,
    };
    let (tool, _) = tool_for(task);
    let blocks = answer
        .get("content")
        .and_then(Value::as_array)
        .ok_or_else(|| DraftError::Protocol {
            backend: BACKEND,
            detail: format!(
                "the answer has no content blocks (is base_url the Messages API?): {}",
                excerpt(&answer.to_string())
            ),
        })?;
    let of_type = |kind: &'static str| {
        blocks
            .iter()
            .filter(move |b| b.get("type").and_then(Value::as_str) == Some(kind))
    };
    let text: String = of_type("text")
        .filter_map(|b| b.get("text").and_then(Value::as_str))
        .collect::<Vec<_>>()
        .join("\n");
    let tool_input = of_type("tool_use")
        .find(|b| b.get("name").and_then(Value::as_str) == Some(tool))
        .and_then(|b| b.get("input"));
    match answer.get("stop_reason").and_then(Value::as_str) {
        Some("refusal") => {
            let reason = if text.trim().is_empty() {
                "the model stopped with a refusal".to_string()
            } else {
                excerpt(&text)
            };
            return Err(output(OutputError::Refused { reason }));
        }
        Some("max_tokens") => {
            let got = tool_input.map_or(text.chars().count(), |i| i.to_string().chars().count());
            return Err(output(OutputError::Truncated { at: got }));
        }
        _ => {}
    }
    let usage = answer.get("usage");
    let tokens = |name: &str| {
        usage
            .and_then(|u| u.get(name))
            .and_then(Value::as_u64)
            .unwrap_or(0)
    };
    let usage = Pricing::usage(pricing, tokens("input_tokens"), tokens("output_tokens"));
    let model = answer
        .get("model")
        .and_then(Value::as_str)
        .filter(|m| !m.is_empty())
        .unwrap_or(model);
    // The forced tool call is the answer; a compatible proxy that ignores
    // tools may still answer with the JSON as text.
    let json = match tool_input {
        Some(input) => input.to_string(),
        None => text,
    };
    Ok(Reply {
        json,
        usage,
        model: model.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_messages_url_is_built_from_the_host() {
        let url = |base: &str| messages_url(base).unwrap();
        assert_eq!(
            url("https://api.anthropic.com"),
            "https://api.anthropic.com/v1/messages"
        );
        assert_eq!(
            url("https://api.anthropic.com/"),
            "https://api.anthropic.com/v1/messages"
        );
        assert_eq!(
            url("http://proxy/anthropic/v1"),
            "http://proxy/anthropic/v1/messages"
        );
        assert!(matches!(
            messages_url("api.anthropic.com"),
            Err(DraftError::Config(_))
        ));
    }

    #[test]
    fn answers_without_a_draft_say_why() {
        let err = |v: Value| parse_answer(&v, "m", None).unwrap_err().to_string();
        assert!(err(json!({"type": "error"})).contains("no content blocks"));
        assert!(err(json!({"content": [], "stop_reason": "refusal"})).contains("declined"));
        assert!(err(json!({"content": [{"type": "tool_use", "name": TOOL, "input": {}}], "stop_reason": "max_tokens"}))
            .contains("stops mid-JSON"));
        assert!(err(json!({"content": [{"type": "text", "text": "Sure, here you go"}], "stop_reason": "end_turn"}))
            .contains("not the JSON draft"));
        assert!(
            err(json!({"content": [], "stop_reason": "end_turn"})).contains("returned nothing")
        );
    }

    #[test]
    fn the_tool_input_is_the_draft() {
        let answer = json!({
            "model": "claude-x",
            "content": [{"type": "tool_use", "id": "toolu_1", "name": TOOL,
                "input": {"subject": "s", "sentences": [{"text": "Hi.", "sources": ["vp-1"]}], "confidence": 0.7}}],
            "stop_reason": "tool_use",
            "usage": {"input_tokens": 1000, "output_tokens": 100}
        });
        let pricing = Pricing {
            input_per_1k: 3.0,
            output_per_1k: 15.0,
        };
        let draft = parse_answer(&answer, "claude", Some(pricing)).unwrap();
        assert_eq!(draft.cited(), ["vp-1"]);
        assert_eq!(draft.usage.cost_usd, Some(4.5));
        assert_eq!(draft.model, "claude-x");
    }
}
