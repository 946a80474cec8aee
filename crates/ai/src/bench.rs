//! `handoff bench draft` (b): the openai backend against a local
//! chat-completions server that answers after a fixed latency. The number
//! shows what the client adds on top of the endpoint: at concurrency 16
//! and 200 ms, an ideal client reaches 80 drafts/s.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use handoff_domain::drafting::{ModelInput, SenderBrief, StepBrief};
use handoff_domain::playbook::{DataAccess, StepKind};
use handoff_domain::policy::data_access::DataAccessPolicy;
use http_body_util::Full;
use hyper::body::Bytes;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use serde_json::json;
use tokio::net::TcpListener;
use tokio::task::JoinSet;

use crate::http::HttpOptions;
use crate::openai::{OpenAiConfig, OpenAiDrafter};
use crate::{DraftError, Drafter};

/// One run's result.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Throughput {
    pub drafts: usize,
    pub concurrency: usize,
    pub latency: Duration,
    pub elapsed: Duration,
    pub drafts_per_sec: f64,
    /// What the endpoint allows: `concurrency / latency`.
    pub ceiling_per_sec: f64,
}

#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    #[error("cannot start the local chat-completions server: {0}")]
    Server(#[from] std::io::Error),
    #[error("a draft failed during the benchmark: {0}")]
    Draft(#[from] DraftError),
    #[error("a benchmark task stopped: {0}")]
    Task(#[from] tokio::task::JoinError),
}

/// Drafts `drafts` steps through the openai backend, `concurrency` at a
/// time, against a server on 127.0.0.1 that waits `latency` before each
/// answer. The server stops when this returns.
pub async fn openai_throughput(
    drafts: usize,
    concurrency: usize,
    latency: Duration,
) -> Result<Throughput, BenchError> {
    let concurrency = concurrency.max(1);
    let server = LatencyServer::start(latency).await?;
    let mut config = OpenAiConfig::new(format!("http://{}/v1", server.addr), "bench-model");
    config.http = HttpOptions {
        concurrency,
        max_attempts: 1,
        ..HttpOptions::default()
    };
    let drafter = Arc::new(OpenAiDrafter::new(config)?);
    let input = Arc::new(sample_input());

    // One warm-up draft opens a connection, as a long-running worker would have.
    drafter.draft(&input, 0).await?;

    let started = Instant::now();
    let mut tasks = JoinSet::new();
    for seed in 0..drafts {
        let drafter = Arc::clone(&drafter);
        let input = Arc::clone(&input);
        tasks.spawn(async move { drafter.draft(&input, seed as u64).await });
    }
    while let Some(done) = tasks.join_next().await {
        done??;
    }
    let elapsed = started.elapsed();
    drop(server);
    Ok(Throughput {
        drafts,
        concurrency,
        latency,
        elapsed,
        drafts_per_sec: drafts as f64 / elapsed.as_secs_f64().max(1e-9),
        ceiling_per_sec: concurrency as f64 / latency.as_secs_f64().max(1e-9),
    })
}

/// A realistic input: a cold email with a few allowed fields.
fn sample_input() -> ModelInput {
    let policy = DataAccessPolicy::new(&DataAccess {
        ai_may_use: vec!["contact.*".into(), "account.*".into(), "research.*".into()],
        human_confirm: vec![],
        never: vec![],
    });
    ModelInput::build(
        &policy,
        StepBrief {
            sequence: "sdr-cold".into(),
            sequence_type: "cold".into(),
            index: 0,
            count: 3,
            kind: StepKind::Email,
            thread: false,
            note: None,
            thread_subject: None,
        },
        SenderBrief {
            name: "Dana Reyes".into(),
            company: "Northwind".into(),
        },
        vec![
            ("contact.first_name".into(), "Ina".into()),
            ("contact.title".into(), "VP Finance".into()),
            ("account.name".into(), "Acme Logistics".into()),
            ("account.industry".into(), "Logistics".into()),
            (
                "research.summary".into(),
                "Mid-size logistics firm, 400 people, closing books takes 12 days.".into(),
            ),
        ],
        &[],
        Vec::new(),
    )
}

/// The answer every request gets: a valid draft in the chat-completions shape.
fn answer() -> Bytes {
    let draft = json!({
        "subject": "Closing the books faster",
        "sentences": [
            {"text": "Hi Ina,\n\n", "sources": []},
            {"text": "Acme Logistics takes 12 days to close its books.", "sources": ["research.summary"]},
            {"text": "Would a 15-minute call next week be useful?", "sources": []}
        ],
        "confidence": 0.7
    });
    let body = json!({
        "id": "chatcmpl-bench",
        "object": "chat.completion",
        "model": "bench-model",
        "choices": [{
            "index": 0,
            "message": {"role": "assistant", "content": draft.to_string(), "refusal": null},
            "finish_reason": "stop"
        }],
        "usage": {"prompt_tokens": 600, "completion_tokens": 90, "total_tokens": 690}
    });
    Bytes::from(body.to_string())
}

struct LatencyServer {
    addr: SocketAddr,
    accept: tokio::task::JoinHandle<()>,
}

impl LatencyServer {
    async fn start(latency: Duration) -> std::io::Result<LatencyServer> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let body = answer();
        let accept = tokio::spawn(async move {
            let mut connections = JoinSet::new();
            while let Ok((stream, _)) = listener.accept().await {
                let body = body.clone();
                connections.spawn(async move {
                    let service = service_fn(move |_request: Request<hyper::body::Incoming>| {
                        let body = body.clone();
                        async move {
                            tokio::time::sleep(latency).await;
                            let mut response = Response::new(Full::new(body));
                            response.headers_mut().insert(
                                hyper::header::CONTENT_TYPE,
                                hyper::header::HeaderValue::from_static("application/json"),
                            );
                            Ok::<_, Infallible>(response)
                        }
                    });
                    // A client hanging up mid-request is not the bench's concern.
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Ok(LatencyServer { addr, accept })
    }
}

/// Aborting the accept task drops its connections too.
impl Drop for LatencyServer {
    fn drop(&mut self) {
        self.accept.abort();
    }
}

/// What [`UsageServer`] billed, by request kind.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct UsageTotals {
    pub research_calls: u64,
    pub research_prompt_tokens: u64,
    pub research_completion_tokens: u64,
    pub draft_calls: u64,
    pub draft_prompt_tokens: u64,
    pub draft_completion_tokens: u64,
}

impl UsageTotals {
    pub fn research_tokens(&self) -> u64 {
        self.research_prompt_tokens + self.research_completion_tokens
    }

    pub fn draft_tokens(&self) -> u64 {
        self.draft_prompt_tokens + self.draft_completion_tokens
    }

    pub fn total_tokens(&self) -> u64 {
        self.research_tokens() + self.draft_tokens()
    }
}

/// Tokens estimated from text size: about 4 bytes a token, the usual rule
/// of thumb for English under BPE tokenizers. An estimate, not a count.
pub fn estimated_tokens(text: &str) -> u64 {
    (text.len() as u64).div_ceil(4)
}

/// `handoff bench draft` (c): a chat-completions server on 127.0.0.1 that
/// answers research requests (schema `account_research`) with notes made
/// from the account data it was sent, and draft requests with a draft
/// addressed from the prospect data, and reports `usage` as
/// [`estimated_tokens`] of the request's messages and of the answer. It
/// keeps the totals it billed. It stops when dropped.
#[derive(Debug)]
pub struct UsageServer {
    addr: SocketAddr,
    totals: Arc<std::sync::Mutex<UsageTotals>>,
    accept: tokio::task::JoinHandle<()>,
}

impl UsageServer {
    pub async fn start() -> std::io::Result<UsageServer> {
        use http_body_util::BodyExt;
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let totals: Arc<std::sync::Mutex<UsageTotals>> = Arc::default();
        let shared = Arc::clone(&totals);
        let accept = tokio::spawn(async move {
            let mut connections = JoinSet::new();
            while let Ok((stream, _)) = listener.accept().await {
                let totals = Arc::clone(&shared);
                connections.spawn(async move {
                    let service = service_fn(move |request: Request<hyper::body::Incoming>| {
                        let totals = Arc::clone(&totals);
                        async move {
                            let (status, body) = match request.into_body().collect().await {
                                Ok(bytes) => {
                                    match serde_json::from_slice::<serde_json::Value>(
                                        &bytes.to_bytes(),
                                    ) {
                                        Ok(request) => (200, bill(&request, &totals)),
                                        Err(e) => (400, error_body(&format!("not JSON: {e}"))),
                                    }
                                }
                                Err(e) => (400, error_body(&format!("unreadable body: {e}"))),
                            };
                            let mut response = Response::new(Full::new(Bytes::from(body)));
                            *response.status_mut() = hyper::StatusCode::from_u16(status)
                                .unwrap_or(hyper::StatusCode::BAD_REQUEST);
                            response.headers_mut().insert(
                                hyper::header::CONTENT_TYPE,
                                hyper::header::HeaderValue::from_static("application/json"),
                            );
                            Ok::<_, Infallible>(response)
                        }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Ok(UsageServer {
            addr,
            totals,
            accept,
        })
    }

    /// The API root to give the openai backend.
    pub fn base_url(&self) -> String {
        format!("http://{}/v1", self.addr)
    }

    pub fn totals(&self) -> UsageTotals {
        // A poisoned lock still holds the counts made before the panic.
        *self.totals.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Drop for UsageServer {
    fn drop(&mut self) {
        self.accept.abort();
    }
}

fn error_body(message: &str) -> String {
    json!({"error": {"message": message, "type": "invalid_request_error"}}).to_string()
}

/// Answers one chat-completions request and adds its usage to `totals`.
fn bill(request: &serde_json::Value, totals: &std::sync::Mutex<UsageTotals>) -> String {
    let messages = request["messages"].as_array().cloned().unwrap_or_default();
    let prompt_text: String = messages
        .iter()
        .filter_map(|m| m["content"].as_str())
        .collect::<Vec<_>>()
        .join("\n");
    let user = messages
        .iter()
        .rev()
        .find(|m| m["role"] == "user")
        .and_then(|m| m["content"].as_str())
        .unwrap_or("");
    let data = data_block(user);
    let research = request["response_format"]["json_schema"]["name"] == "account_research";
    let content = if research {
        research_notes(&data)
    } else {
        draft_for(&data)
    }
    .to_string();
    let prompt_tokens = estimated_tokens(&prompt_text);
    let completion_tokens = estimated_tokens(&content);
    {
        let mut totals = totals.lock().unwrap_or_else(|e| e.into_inner());
        if research {
            totals.research_calls += 1;
            totals.research_prompt_tokens += prompt_tokens;
            totals.research_completion_tokens += completion_tokens;
        } else {
            totals.draft_calls += 1;
            totals.draft_prompt_tokens += prompt_tokens;
            totals.draft_completion_tokens += completion_tokens;
        }
    }
    json!({
        "id": "chatcmpl-bench",
        "object": "chat.completion",
        "model": "bench-model",
        "choices": [{
            "index": 0,
            "message": {"role": "assistant", "content": content, "refusal": null},
            "finish_reason": "stop"
        }],
        "usage": {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens
        }
    })
    .to_string()
}

/// The JSON inside `<DATA>…</DATA>` (`\u003c` is plain JSON escaping).
fn data_block(user: &str) -> serde_json::Value {
    let inner = user
        .split_once("<DATA>")
        .and_then(|(_, rest)| rest.rsplit_once("</DATA>"))
        .map(|(inner, _)| inner)
        .unwrap_or("{}");
    serde_json::from_str(inner).unwrap_or_default()
}

/// Research notes in the shape a model answers, from the account data.
fn research_notes(data: &serde_json::Value) -> serde_json::Value {
    let account = &data["account"];
    let field = |name: &str| account[name].as_str().unwrap_or("").to_string();
    let name = field("account.name");
    let industry = field("account.industry");
    let employees = field("account.employees");
    let mut facts = vec![json!({
        "name": "summary",
        "text": format!(
            "{name} is a {} company with about {} employees; the team runs lean and is likely weighing tools against headcount.",
            if industry.is_empty() { "private" } else { &industry },
            if employees.is_empty() { "an unknown number of" } else { &employees },
        ),
    })];
    if let Ok(n) = employees.parse::<i64>() {
        facts.push(
            json!({"name": "size", "text": handoff_domain::drafting::research::size_band(n)}),
        );
    }
    let stack = field("account.technologies");
    if !stack.is_empty() {
        facts.push(json!({"name": "tech_stack", "text": format!("Their stack includes {stack}, so an integration story matters more than a rip-and-replace one.")}));
    }
    let priorities: Vec<String> = data["segment_priorities"]
        .as_array()
        .map(|items| {
            items
                .iter()
                .map(|p| {
                    format!(
                        "{} [{}]",
                        p["text"].as_str().unwrap_or(""),
                        p["id"].as_str().unwrap_or("")
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    if !priorities.is_empty() {
        facts.push(json!({"name": "priorities", "text": format!("For a team like {name}, what matters most: {}.", priorities.join("; "))}));
    }
    json!({ "facts": facts })
}

/// A cold-email draft in the shape a model answers, from the prospect data.
fn draft_for(data: &serde_json::Value) -> serde_json::Value {
    let prospect = &data["prospect"];
    let field = |name: &str| prospect[name].as_str().unwrap_or("").to_string();
    let first = field("contact.first_name");
    let company = field("account.name");
    let first_of = |kind: &str| {
        data["content"]
            .as_array()
            .and_then(|items| items.iter().find(|i| i["kind"] == kind))
            .map(|i| {
                (
                    i["id"].as_str().unwrap_or("").to_string(),
                    i["text"].as_str().unwrap_or("").to_string(),
                )
            })
            .unwrap_or_default()
    };
    let (pain_id, pain) = first_of("pain_point");
    let (value_id, value) = first_of("value_proposition");
    let (cta_id, cta) = first_of("cta");
    json!({
        "subject": format!("A question about {company}"),
        "sentences": [
            {"text": format!("Hi {first},\n\n"), "sources": ["contact.first_name"]},
            {"text": format!("Teams like {company} often tell us: {pain}"), "sources": ["account.name", pain_id]},
            {"text": format!("{value}"), "sources": [value_id]},
            {"text": format!("{cta}?\n\n"), "sources": [cta_id]},
            {"text": "Best,", "sources": []}
        ],
        "confidence": 0.7
    })
}
