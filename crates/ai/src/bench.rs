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
