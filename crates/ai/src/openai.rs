//! Any OpenAI-compatible `/chat/completions` endpoint: OpenAI itself,
//! Ollama, vLLM, llama.cpp's server, proxies. The answer is asked for as
//! strict JSON schema output and parsed into a [`ModelDraft`].
//!
//! Request (the fields this backend sends):
//! ```json
//! {"model": "gpt-4o-mini",
//!  "messages": [{"role": "system", "content": "…"}, {"role": "user", "content": "…"}],
//!  "response_format": {"type": "json_schema",
//!                      "json_schema": {"name": "sales_draft", "strict": true, "schema": {…}}},
//!  "seed": 42, "temperature": 0.4, "top_p": 0.9, "max_tokens": 1024}
//! ```
//! Response (the fields it reads):
//! ```json
//! {"model": "gpt-4o-mini-2024-07-18",
//!  "choices": [{"message": {"content": "{\"subject\": …}", "refusal": null},
//!               "finish_reason": "stop"}],
//!  "usage": {"prompt_tokens": 812, "completion_tokens": 164}}
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

use crate::http::{self, HttpClient, HttpOptions, header};
use crate::{DraftError, Drafter, Pricing, Task, http_options, resolve_api_key};

const BACKEND: &str = "openai";

/// The OpenAI API; `base_url` is the API root with its version, as the
/// OpenAI SDKs take it.
pub const DEFAULT_BASE_URL: &str = "https://api.openai.com/v1";

#[derive(Debug, Clone)]
pub struct OpenAiConfig {
    /// The API root: `/chat/completions` is appended. A bare host
    /// (`http://localhost:11434`) gets `/v1` first.
    pub base_url: String,
    pub model: String,
    /// Sent as a bearer token; a local server usually needs none.
    pub api_key: Option<SecretString>,
    pub temperature: Option<f64>,
    pub top_p: Option<f64>,
    pub max_tokens: Option<u32>,
    pub pricing: Option<Pricing>,
    pub http: HttpOptions,
}

impl OpenAiConfig {
    pub fn new(base_url: impl Into<String>, model: impl Into<String>) -> Self {
        OpenAiConfig {
            base_url: base_url.into(),
            model: model.into(),
            api_key: None,
            temperature: None,
            top_p: None,
            max_tokens: None,
            pricing: None,
            http: HttpOptions::default(),
        }
    }

    /// From the playbook's `[model]`; reads the API key now, so a missing
    /// one is reported before any draft is attempted.
    pub fn from_model_config(config: &ModelConfig, base_dir: &Path) -> Result<Self, DraftError> {
        let model = config.model.clone().ok_or_else(|| {
            DraftError::Config(
                "openai: [model] needs model = \"…\", e.g. model = \"gpt-4o-mini\"".into(),
            )
        })?;
        let api_key = config
            .api_key
            .as_ref()
            .map(|source| resolve_api_key(BACKEND, source, base_dir))
            .transpose()?;
        Ok(OpenAiConfig {
            base_url: config
                .base_url
                .clone()
                .unwrap_or_else(|| DEFAULT_BASE_URL.to_string()),
            model,
            api_key,
            temperature: config.temperature,
            top_p: config.top_p,
            max_tokens: config.max_tokens,
            pricing: Pricing::from_config(config),
            http: http_options(config),
        })
    }
}

/// Clones share one connection pool and one concurrency limit.
#[derive(Debug, Clone)]
pub struct OpenAiDrafter {
    url: String,
    headers: HeaderMap,
    config: OpenAiConfig,
    http: HttpClient,
}

impl OpenAiDrafter {
    pub fn new(config: OpenAiConfig) -> Result<Self, DraftError> {
        let url = chat_url(&config.base_url)?;
        let mut headers = HeaderMap::new();
        if let Some(key) = &config.api_key {
            let (name, value) = header(
                BACKEND,
                "authorization",
                &format!("Bearer {}", key.expose_secret()),
            )?;
            headers.insert(name, value);
        }
        let http = HttpClient::new(BACKEND, config.http.clone())?;
        Ok(OpenAiDrafter {
            url,
            headers,
            config,
            http,
        })
    }

    /// The endpoint requests go to.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The request body for one draft, exactly as sent.
    pub fn request_body(&self, input: &ModelInput, seed: u64) -> Value {
        self.body(&prompt::render(input), Task::Draft, seed)
    }

    /// The request body for one account's research, exactly as sent.
    pub fn research_request_body(&self, input: &ResearchInput, seed: u64) -> Value {
        self.body(&prompt::render_research(input), Task::Research, seed)
    }

    fn body(&self, prompt: &Prompt, task: Task, seed: u64) -> Value {
        let name = match task {
            Task::Draft => "sales_draft",
            Task::Research => "account_research",
        };
        let mut body = json!({
            "model": self.config.model,
            "messages": [
                { "role": "system", "content": prompt.system },
                { "role": "user", "content": prompt.user },
            ],
            "response_format": {
                "type": "json_schema",
                "json_schema": { "name": name, "strict": true, "schema": prompt.schema },
            },
            // Servers store the seed as a signed or 32-bit integer; 31
            // bits fit every one and stay repeatable.
            "seed": seed & 0x7fff_ffff,
        });
        if let Some(t) = self.config.temperature {
            body["temperature"] = json!(t);
        }
        if let Some(p) = self.config.top_p {
            body["top_p"] = json!(p);
        }
        if let Some(n) = self.config.max_tokens {
            // `max_tokens` rather than the newer `max_completion_tokens`:
            // every compatible server (Ollama, vLLM, llama.cpp) reads it.
            body["max_tokens"] = json!(n);
        }
        body
    }
}

#[async_trait]
impl Drafter for OpenAiDrafter {
    fn backend(&self) -> &'static str {
        BACKEND
    }

    async fn draft(&self, input: &ModelInput, seed: u64) -> Result<ModelDraft, DraftError> {
        let body = self.request_body(input, seed);
        let answer = self.http.post_json(&self.url, &self.headers, &body).await?;
        parse_answer(&answer, &self.config.model, self.config.pricing)
    }

    async fn research(
        &self,
        input: &ResearchInput,
        seed: u64,
    ) -> Result<Option<ResearchAnswer>, DraftError> {
        let body = self.research_request_body(input, seed);
        let answer = self.http.post_json(&self.url, &self.headers, &body).await?;
        let reply = completion(
            &answer,
            &self.config.model,
            self.config.pricing,
            Task::Research,
        )?;
        crate::research_answer(BACKEND, &reply.content, &reply.model, reply.usage)
    }
}

fn chat_url(base_url: &str) -> Result<String, DraftError> {
    let parsed = http::base_url(
        BACKEND,
        base_url,
        "e.g. base_url = \"http://localhost:11434/v1\"",
    )?;
    let base = base_url.trim_end_matches('/');
    let path = parsed.path().trim_matches('/');
    Ok(if path.is_empty() {
        format!("{base}/v1/chat/completions")
    } else if path.ends_with("chat/completions") {
        base.to_string()
    } else {
        format!("{base}/chat/completions")
    })
}

/// A chat-completions answer to a draft, or the reason it is none.
fn parse_answer(
    answer: &Value,
    model: &str,
    pricing: Option<Pricing>,
) -> Result<ModelDraft, DraftError> {
    let reply = completion(answer, model, pricing, Task::Draft)?;
    ModelDraft::from_model_json(&reply.content, &reply.model, reply.usage).map_err(|source| {
        DraftError::Output {
            backend: BACKEND,
            task: Task::Draft,
            source,
        }
    })
}

/// The assistant's text of a chat-completions answer, with what it cost.
struct Reply {
    content: String,
    usage: Usage,
    model: String,
}

/// The message content of `choices[0]`, or why there is none to parse
/// (refusal, content filter, cut off at the token limit).
fn completion(
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
    let choice = answer
        .get("choices")
        .and_then(|c| c.get(0))
        .ok_or_else(|| DraftError::Protocol {
            backend: BACKEND,
            detail: format!(
                "the answer has no choices[0] (is base_url a chat-completions API?): {}",
                crate::http::excerpt(&answer.to_string())
            ),
        })?;
    let message = choice.get("message");
    let finish = choice.get("finish_reason").and_then(Value::as_str);
    let content = message
        .and_then(|m| m.get("content"))
        .and_then(Value::as_str)
        .unwrap_or("");
    if let Some(reason) = message
        .and_then(|m| m.get("refusal"))
        .and_then(Value::as_str)
        .filter(|r| !r.trim().is_empty())
    {
        return Err(output(OutputError::Refused {
            reason: reason.trim().to_string(),
        }));
    }
    if finish == Some("content_filter") {
        return Err(output(OutputError::Refused {
            reason: "the provider's content filter stopped the answer".into(),
        }));
    }
    if finish == Some("length") {
        return Err(output(OutputError::Truncated {
            at: content.chars().count(),
        }));
    }
    let usage = answer.get("usage");
    let tokens = |name: &str| {
        usage
            .and_then(|u| u.get(name))
            .and_then(Value::as_u64)
            .unwrap_or(0)
    };
    let usage = Pricing::usage(
        pricing,
        tokens("prompt_tokens"),
        tokens("completion_tokens"),
    );
    let model = answer
        .get("model")
        .and_then(Value::as_str)
        .filter(|m| !m.is_empty())
        .unwrap_or(model);
    Ok(Reply {
        content: content.to_string(),
        usage,
        model: model.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_chat_url_follows_the_sdk_convention() {
        let url = |base: &str| chat_url(base).unwrap();
        assert_eq!(
            url("https://api.openai.com/v1"),
            "https://api.openai.com/v1/chat/completions"
        );
        assert_eq!(
            url("http://localhost:11434"),
            "http://localhost:11434/v1/chat/completions"
        );
        assert_eq!(
            url("http://localhost:11434/"),
            "http://localhost:11434/v1/chat/completions"
        );
        assert_eq!(
            url("https://api.groq.com/openai/v1/"),
            "https://api.groq.com/openai/v1/chat/completions"
        );
        assert_eq!(
            url("http://h/v1/chat/completions"),
            "http://h/v1/chat/completions"
        );
        assert!(matches!(
            chat_url("localhost:8080"),
            Err(DraftError::Config(_))
        ));
        assert!(matches!(chat_url("ftp://h/v1"), Err(DraftError::Config(_))));
    }

    #[test]
    fn answers_without_a_draft_say_why() {
        let err = |v: Value| parse_answer(&v, "m", None).unwrap_err().to_string();
        assert!(err(json!({"object": "list"})).contains("no choices[0]"));
        assert!(err(json!({"choices": [{"message": {"content": null, "refusal": "I can't help with that."}, "finish_reason": "stop"}]}))
            .contains("gave no usable draft: the model declined to answer: I can't help with that."));
        assert!(err(json!({"choices": [{"message": {"content": ""}, "finish_reason": "content_filter"}]}))
            .contains("content filter"));
        assert!(err(json!({"choices": [{"message": {"content": "{\"subject\": \"Hi"}, "finish_reason": "length"}]}))
            .contains("stops mid-JSON"));
        assert!(
            err(json!({"choices": [{"message": {"content": null}, "finish_reason": "stop"}]}))
                .contains("returned nothing")
        );
    }

    #[test]
    fn usage_and_cost_come_from_the_answer_and_the_prices() {
        let answer = json!({
            "model": "gpt-4o-mini-2024-07-18",
            "choices": [{"message": {"content": "{\"subject\":\"s\",\"sentences\":[{\"text\":\"Hi.\",\"sources\":[]}],\"confidence\":0.5}"}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 2000, "completion_tokens": 500}
        });
        let pricing = Pricing {
            input_per_1k: 0.5,
            output_per_1k: 2.0,
        };
        let draft = parse_answer(&answer, "gpt-4o-mini", Some(pricing)).unwrap();
        assert_eq!(draft.model, "gpt-4o-mini-2024-07-18");
        assert_eq!(
            (draft.usage.input_tokens, draft.usage.output_tokens),
            (2000, 500)
        );
        assert_eq!(draft.usage.cost_usd, Some(2.0));
    }
}
