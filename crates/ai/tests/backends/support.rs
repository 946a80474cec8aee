//! A scripted HTTP server on 127.0.0.1 that records every request and
//! answers from a list of canned replies (the last one repeats), plus the
//! documented answer shapes of both APIs.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use handoff_ai::HttpOptions;
use handoff_domain::drafting::{ContentRef, ModelInput, SenderBrief, StepBrief};
use handoff_domain::playbook::{ContentKind, DataAccess, StepKind};
use handoff_domain::policy::data_access::DataAccessPolicy;
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};
use tokio::net::TcpListener;

#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(&'static str, String)>,
    pub body: String,
    pub delay: Duration,
}

impl Reply {
    pub fn json(status: u16, body: Value) -> Reply {
        Reply {
            status,
            headers: vec![("content-type", "application/json".into())],
            body: body.to_string(),
            delay: Duration::ZERO,
        }
    }

    pub fn raw(status: u16, body: &str) -> Reply {
        Reply {
            status,
            headers: vec![("content-type", "application/json".into())],
            body: body.to_string(),
            delay: Duration::ZERO,
        }
    }

    pub fn header(mut self, name: &'static str, value: &str) -> Reply {
        self.headers.push((name, value.to_string()));
        self
    }

    pub fn after(mut self, delay: Duration) -> Reply {
        self.delay = delay;
        self
    }
}

#[derive(Debug, Clone)]
pub struct Recorded {
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub body: String,
    pub at: Instant,
}

impl Recorded {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).expect("the client sends JSON")
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

pub struct WireServer {
    pub url: String,
    requests: Arc<Mutex<Vec<Recorded>>>,
    accept: tokio::task::JoinHandle<()>,
}

impl WireServer {
    pub async fn start(replies: Vec<Reply>) -> WireServer {
        assert!(!replies.is_empty());
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let requests: Arc<Mutex<Vec<Recorded>>> = Arc::default();
        let replies = Arc::new(Mutex::new(VecDeque::from(replies)));
        let recorded = Arc::clone(&requests);
        let accept = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let recorded = Arc::clone(&recorded);
                let replies = Arc::clone(&replies);
                tokio::spawn(async move {
                    let service = service_fn(move |request: Request<hyper::body::Incoming>| {
                        let recorded = Arc::clone(&recorded);
                        let replies = Arc::clone(&replies);
                        async move {
                            let at = Instant::now();
                            let path = request.uri().path().to_string();
                            let headers = request
                                .headers()
                                .iter()
                                .map(|(n, v)| {
                                    (n.to_string(), v.to_str().unwrap_or_default().to_string())
                                })
                                .collect();
                            let body = request.into_body().collect().await.unwrap().to_bytes();
                            recorded.lock().unwrap().push(Recorded {
                                path,
                                headers,
                                body: String::from_utf8_lossy(&body).into_owned(),
                                at,
                            });
                            let reply = {
                                let mut replies = replies.lock().unwrap();
                                if replies.len() > 1 {
                                    replies.pop_front().unwrap()
                                } else {
                                    replies[0].clone()
                                }
                            };
                            tokio::time::sleep(reply.delay).await;
                            let mut response = Response::new(Full::new(Bytes::from(reply.body)));
                            *response.status_mut() =
                                hyper::StatusCode::from_u16(reply.status).unwrap();
                            for (name, value) in reply.headers {
                                response.headers_mut().insert(name, value.parse().unwrap());
                            }
                            Ok::<_, Infallible>(response)
                        }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        WireServer {
            url,
            requests,
            accept,
        }
    }

    pub fn requests(&self) -> Vec<Recorded> {
        self.requests.lock().unwrap().clone()
    }
}

impl Drop for WireServer {
    fn drop(&mut self) {
        self.accept.abort();
    }
}

/// Fast retries so the suite stays quick; the delays are still real.
pub fn fast_retries() -> HttpOptions {
    HttpOptions {
        timeout: Duration::from_secs(5),
        max_attempts: 3,
        base_delay: Duration::from_millis(20),
        max_delay: Duration::from_millis(80),
        max_retry_after: Duration::from_secs(5),
        concurrency: 4,
    }
}

pub fn draft_json() -> Value {
    json!({
        "subject": "Closing the books faster",
        "sentences": [
            {"text": "Hi Ina,\n\n", "sources": []},
            {"text": "Acme Logistics takes 12 days to close its books.", "sources": ["research.summary"]},
            {"text": "Northwind cut that to 4 days at Globex.", "sources": ["pp-globex"]},
            {"text": "Worth 15 minutes next week?", "sources": ["cta-15min"]}
        ],
        "confidence": 0.72
    })
}

/// `POST /v1/chat/completions` 200, as OpenAI documents it.
pub fn openai_answer(content: &str, finish_reason: &str) -> Value {
    json!({
        "id": "chatcmpl-B9MBs8CjcvOU2jLn4n570S5qMJKcT",
        "object": "chat.completion",
        "created": 1741569952,
        "model": "gpt-4o-mini-2024-07-18",
        "choices": [{
            "index": 0,
            "message": {"role": "assistant", "content": content, "refusal": null, "annotations": []},
            "logprobs": null,
            "finish_reason": finish_reason
        }],
        "usage": {
            "prompt_tokens": 812, "completion_tokens": 164, "total_tokens": 976,
            "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
            "completion_tokens_details": {"reasoning_tokens": 0, "audio_tokens": 0}
        },
        "service_tier": "default",
        "system_fingerprint": "fp_06737a9306"
    })
}

/// `POST /v1/messages` 200 with a forced tool call, as Anthropic documents it.
pub fn anthropic_answer(input: Value, stop_reason: &str) -> Value {
    json!({
        "id": "msg_01Aq9w938a90dw8q",
        "type": "message",
        "role": "assistant",
        "model": "claude-sonnet-4-5-20250929",
        "content": [{
            "type": "tool_use",
            "id": "toolu_01A09q90qw90lq917835lq9",
            "name": "write_draft",
            "input": input
        }],
        "stop_reason": stop_reason,
        "stop_sequence": null,
        "usage": {"input_tokens": 1021, "output_tokens": 187, "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0}
    })
}

pub fn step() -> StepBrief {
    StepBrief {
        sequence: "sdr-cold".into(),
        sequence_type: "cold".into(),
        index: 0,
        count: 3,
        kind: StepKind::Email,
        thread: false,
        note: Some("Lead with the close-time pain point.".into()),
        thread_subject: None,
    }
}

pub fn sender() -> SenderBrief {
    SenderBrief {
        name: "Dana Reyes".into(),
        company: "Northwind".into(),
    }
}

/// A cold email input with a few fields and content items.
pub fn input() -> ModelInput {
    let policy = DataAccessPolicy::new(&DataAccess {
        ai_may_use: vec![
            "contact.first_name".into(),
            "account.*".into(),
            "research.*".into(),
        ],
        human_confirm: vec![],
        never: vec!["contact.phone".into()],
    });
    ModelInput::build(
        &policy,
        step(),
        sender(),
        vec![
            ("contact.first_name".into(), "Ina".into()),
            ("contact.phone".into(), "+49 30 555 0101".into()),
            ("account.name".into(), "Acme Logistics".into()),
            (
                "research.summary".into(),
                "Logistics, 400 people; closing the books takes 12 days.".into(),
            ),
        ],
        &[],
        vec![
            ContentRef {
                id: "pp-globex".into(),
                kind: ContentKind::ProofPoint,
                text: "Globex cut its close from 12 to 4 days.".into(),
                verified: true,
            },
            ContentRef {
                id: "cta-15min".into(),
                kind: ContentKind::Cta,
                text: "A 15-minute call".into(),
                verified: false,
            },
        ],
    )
}
