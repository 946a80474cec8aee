//! The openai backend against a local server speaking the chat-completions
//! wire format.

use std::time::{Duration, Instant};

use handoff_ai::{DraftError, Drafter, OpenAiConfig, OpenAiDrafter, Pricing};
use handoff_domain::drafting::{OutputError, prompt};
use secrecy::SecretString;
use serde_json::json;

use crate::support::{Reply, WireServer, draft_json, fast_retries, input, openai_answer};

fn drafter(server: &WireServer) -> OpenAiDrafter {
    let mut config = OpenAiConfig::new(format!("{}/v1", server.url), "gpt-4o-mini");
    config.api_key = Some(SecretString::from("sk-test-123"));
    config.temperature = Some(0.4);
    config.max_tokens = Some(900);
    config.pricing = Some(Pricing {
        input_per_1k: 0.00015,
        output_per_1k: 0.0006,
    });
    config.http = fast_retries();
    OpenAiDrafter::new(config).unwrap()
}

fn good() -> Reply {
    Reply::json(200, openai_answer(&draft_json().to_string(), "stop"))
}

#[tokio::test]
async fn a_good_answer_becomes_a_traced_draft_with_usage_and_cost() {
    let server = WireServer::start(vec![good()]).await;
    let draft = drafter(&server).draft(&input(), 42).await.unwrap();
    assert_eq!(draft.subject, "Closing the books faster");
    assert_eq!(draft.sentences.len(), 4);
    assert_eq!(
        draft.cited(),
        ["research.summary", "pp-globex", "cta-15min"]
    );
    assert_eq!(draft.model_confidence, Some(0.72));
    assert_eq!(draft.model, "gpt-4o-mini-2024-07-18");
    assert_eq!(
        (draft.usage.input_tokens, draft.usage.output_tokens),
        (812, 164)
    );
    let cost = draft.usage.cost_usd.unwrap();
    assert!(
        (cost - (0.812 * 0.00015 + 0.164 * 0.0006)).abs() < 1e-12,
        "{cost}"
    );
    assert_eq!(server.requests().len(), 1);
}

#[tokio::test]
async fn the_request_carries_schema_model_seed_and_the_exact_prompt() {
    let server = WireServer::start(vec![good()]).await;
    let input = input();
    drafter(&server).draft(&input, 42).await.unwrap();
    let requests = server.requests();
    let request = &requests[0];
    assert_eq!(request.path, "/v1/chat/completions");
    assert_eq!(request.header("authorization"), Some("Bearer sk-test-123"));
    assert!(
        request
            .header("content-type")
            .unwrap()
            .starts_with("application/json")
    );
    let body = request.json();
    let rendered = prompt::render(&input);
    assert_eq!(body["model"], "gpt-4o-mini");
    assert_eq!(body["seed"], 42);
    assert_eq!(body["temperature"], 0.4);
    assert_eq!(body["max_tokens"], 900);
    assert_eq!(
        body["messages"],
        json!([
            {"role": "system", "content": rendered.system},
            {"role": "user", "content": rendered.user},
        ])
    );
    assert_eq!(body["response_format"]["type"], "json_schema");
    assert_eq!(body["response_format"]["json_schema"]["strict"], true);
    assert_eq!(
        body["response_format"]["json_schema"]["name"],
        "sales_draft"
    );
    assert_eq!(
        body["response_format"]["json_schema"]["schema"],
        prompt::draft_schema()
    );
    // The never-field's value stays out; the allowed ones are in.
    assert!(!request.body.contains("+49 30 555 0101"));
    assert!(request.body.contains("Acme Logistics"));
}

#[tokio::test]
async fn a_429_with_retry_after_is_waited_out_then_retried() {
    let limited = Reply::json(
        429,
        json!({"error": {"message": "Rate limit reached for gpt-4o-mini", "type": "requests", "code": "rate_limit_exceeded"}}),
    )
    .header("retry-after", "1");
    let server = WireServer::start(vec![limited, good()]).await;
    let started = Instant::now();
    let draft = drafter(&server).draft(&input(), 1).await.unwrap();
    assert_eq!(draft.subject, "Closing the books faster");
    let requests = server.requests();
    assert_eq!(requests.len(), 2, "one retry");
    let gap = requests[1].at - requests[0].at;
    assert!(
        gap >= Duration::from_secs(1),
        "Retry-After: 1 honoured, waited {gap:?}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn a_retry_after_http_date_is_honoured() {
    let when = chrono::Utc::now() + chrono::Duration::seconds(3);
    let date = when.format("%a, %d %b %Y %H:%M:%S GMT").to_string();
    let limited =
        Reply::json(429, json!({"error": {"message": "slow down"}})).header("retry-after", &date);
    let server = WireServer::start(vec![limited, good()]).await;
    drafter(&server).draft(&input(), 1).await.unwrap();
    let requests = server.requests();
    assert_eq!(requests.len(), 2);
    // The date has one-second resolution: between two and three seconds.
    assert!(requests[1].at - requests[0].at >= Duration::from_millis(1500));
}

#[tokio::test]
async fn a_retry_after_beyond_the_limit_ends_the_draft_with_a_clear_error() {
    let limited =
        Reply::json(429, json!({"error": {"message": "quota"}})).header("retry-after", "3600");
    let server = WireServer::start(vec![limited]).await;
    let err = drafter(&server).draft(&input(), 1).await.unwrap_err();
    let text = err.to_string();
    assert!(matches!(err, DraftError::Unavailable { .. }), "{text}");
    assert!(text.contains("wait 3600s"), "{text}");
    assert_eq!(server.requests().len(), 1, "no pointless retries");
}

#[tokio::test]
async fn a_500_then_success_is_retried_with_backoff() {
    let failing = Reply::json(
        500,
        json!({"error": {"message": "The server had an error while processing your request."}}),
    );
    let server = WireServer::start(vec![failing, good()]).await;
    let draft = drafter(&server).draft(&input(), 1).await.unwrap();
    assert_eq!(draft.sentences.len(), 4);
    let requests = server.requests();
    assert_eq!(requests.len(), 2);
    // Backoff: base 20 ms, half of it fixed.
    assert!(requests[1].at - requests[0].at >= Duration::from_millis(10));
}

#[tokio::test]
async fn a_persistent_503_gives_up_after_the_bounded_attempts() {
    let down = Reply::raw(
        503,
        "upstream connect error or disconnect/reset before headers",
    );
    let server = WireServer::start(vec![down]).await;
    let err = drafter(&server).draft(&input(), 1).await.unwrap_err();
    let text = err.to_string();
    assert!(
        matches!(
            err,
            DraftError::Unavailable {
                backend: "openai",
                ..
            }
        ),
        "{text}"
    );
    assert!(text.contains("503"), "{text}");
    assert!(text.contains("gave up after 3 attempts"), "{text}");
    assert_eq!(server.requests().len(), 3);
}

#[tokio::test]
async fn a_refused_connection_is_retried_then_unavailable() {
    // A port that was just free: nothing listens there.
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let mut config = OpenAiConfig::new(format!("http://127.0.0.1:{port}/v1"), "m");
    config.http = fast_retries();
    let err = OpenAiDrafter::new(config)
        .unwrap()
        .draft(&input(), 1)
        .await
        .unwrap_err();
    let text = err.to_string();
    assert!(matches!(err, DraftError::Unavailable { .. }), "{text}");
    assert!(text.contains("cannot connect"), "{text}");
}

#[tokio::test]
async fn a_slow_endpoint_times_out_and_is_retried() {
    let slow = good().after(Duration::from_millis(800));
    let server = WireServer::start(vec![slow, good()]).await;
    let mut config = OpenAiConfig::new(format!("{}/v1", server.url), "m");
    config.http = fast_retries();
    config.http.timeout = Duration::from_millis(300);
    let draft = OpenAiDrafter::new(config)
        .unwrap()
        .draft(&input(), 1)
        .await
        .unwrap();
    assert_eq!(draft.sentences.len(), 4);
    assert_eq!(server.requests().len(), 2);
}

#[tokio::test]
async fn truncated_json_is_a_truncation_error() {
    let cut = &draft_json().to_string()[..120];
    for finish in ["length", "stop"] {
        let server = WireServer::start(vec![Reply::json(200, openai_answer(cut, finish))]).await;
        let err = drafter(&server).draft(&input(), 1).await.unwrap_err();
        assert!(
            matches!(
                err,
                DraftError::Output {
                    source: OutputError::Truncated { .. },
                    ..
                }
            ),
            "{finish}: {err}"
        );
        assert!(err.to_string().contains("raise the token limit"), "{err}");
        assert_eq!(server.requests().len(), 1, "not retried");
    }
}

#[tokio::test]
async fn a_refusal_is_reported_as_refused() {
    let mut answer = openai_answer("", "stop");
    answer["choices"][0]["message"]["content"] = json!(null);
    answer["choices"][0]["message"]["refusal"] =
        json!("I'm sorry, I can't help with that request.");
    let server = WireServer::start(vec![Reply::json(200, answer)]).await;
    let err = drafter(&server).draft(&input(), 1).await.unwrap_err();
    assert!(
        matches!(&err, DraftError::Output { source: OutputError::Refused { reason }, .. } if reason.contains("can't help")),
        "{err}"
    );

    let filtered = openai_answer("", "content_filter");
    let server = WireServer::start(vec![Reply::json(200, filtered)]).await;
    let err = drafter(&server).draft(&input(), 1).await.unwrap_err();
    assert!(
        matches!(
            err,
            DraftError::Output {
                source: OutputError::Refused { .. },
                ..
            }
        ),
        "{err}"
    );
}

#[tokio::test]
async fn a_401_is_rejected_with_a_fix() {
    let denied = Reply::json(
        401,
        json!({"error": {"message": "Incorrect API key provided: sk-test-***123.", "type": "invalid_request_error", "param": null, "code": "invalid_api_key"}}),
    );
    let server = WireServer::start(vec![denied]).await;
    let err = drafter(&server).draft(&input(), 1).await.unwrap_err();
    let text = err.to_string();
    assert!(
        matches!(err, DraftError::Rejected { status: 401, .. }),
        "{text}"
    );
    assert!(text.contains("Incorrect API key provided"), "{text}");
    assert!(text.contains("api_key_env"), "says how to fix: {text}");
    assert_eq!(server.requests().len(), 1, "a 401 is not retried");
}

#[tokio::test]
async fn an_invalid_json_body_is_a_protocol_error() {
    let server = WireServer::start(vec![Reply::raw(
        200,
        "<html><body>Welcome to nginx!</body></html>",
    )])
    .await;
    let err = drafter(&server).draft(&input(), 1).await.unwrap_err();
    let text = err.to_string();
    assert!(matches!(err, DraftError::Protocol { .. }), "{text}");
    assert!(
        text.contains("not JSON") && text.contains("Welcome to nginx"),
        "{text}"
    );

    let server = WireServer::start(vec![Reply::json(
        200,
        json!({"object": "list", "data": []}),
    )])
    .await;
    let err = drafter(&server).draft(&input(), 1).await.unwrap_err();
    assert!(err.to_string().contains("no choices[0]"), "{err}");
}

#[tokio::test]
async fn prose_instead_of_json_is_a_shape_error_not_an_empty_draft() {
    let server = WireServer::start(vec![Reply::json(
        200,
        openai_answer("Sure! Here is a great email for Ina.", "stop"),
    )])
    .await;
    let err = drafter(&server).draft(&input(), 1).await.unwrap_err();
    assert!(
        matches!(
            err,
            DraftError::Output {
                source: OutputError::NotTheAskedShape { .. },
                ..
            }
        ),
        "{err}"
    );
}

#[tokio::test]
async fn clones_share_one_concurrency_limit() {
    let server = WireServer::start(vec![good().after(Duration::from_millis(150))]).await;
    let mut config = OpenAiConfig::new(format!("{}/v1", server.url), "m");
    config.http = fast_retries();
    config.http.concurrency = 2;
    let first = OpenAiDrafter::new(config).unwrap();
    let input = input();
    let started = Instant::now();
    let drafters: Vec<OpenAiDrafter> = (0..6).map(|_| first.clone()).collect();
    let mut tasks = tokio::task::JoinSet::new();
    for (seed, drafter) in drafters.into_iter().enumerate() {
        let input = input.clone();
        tasks.spawn(async move { drafter.draft(&input, seed as u64).await });
    }
    while let Some(done) = tasks.join_next().await {
        done.unwrap().unwrap();
    }
    // Six requests, two at a time, 150 ms each: at least three rounds.
    let elapsed = started.elapsed();
    assert!(elapsed >= Duration::from_millis(440), "{elapsed:?}");
    let requests = server.requests();
    let mut arrivals: Vec<Duration> = requests.iter().map(|r| r.at - requests[0].at).collect();
    arrivals.sort();
    assert!(
        arrivals[2] >= Duration::from_millis(140),
        "third waited for a slot: {arrivals:?}"
    );
}

#[tokio::test]
async fn the_factory_builds_from_the_playbook_model_section() {
    use handoff_domain::playbook::{Backend, ModelConfig, SecretSource};
    let server = WireServer::start(vec![good()]).await;
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("key.txt"), "sk-from-file\n").unwrap();
    let config = ModelConfig {
        backend: Backend::Openai,
        base_url: Some(server.url.clone()),
        model: Some("gpt-4o-mini".into()),
        api_key: Some(SecretSource::File("key.txt".into())),
        max_attempts: Some(2),
        ..ModelConfig::default()
    };
    let drafter = handoff_ai::drafter_from_config(&config, dir.path()).unwrap();
    assert_eq!(drafter.backend(), "openai");
    drafter.draft(&input(), 3).await.unwrap();
    let requests = server.requests();
    assert_eq!(
        requests[0].path, "/v1/chat/completions",
        "a bare host gets /v1"
    );
    assert_eq!(
        requests[0].header("authorization"),
        Some("Bearer sk-from-file")
    );

    let missing = ModelConfig {
        api_key: Some(SecretSource::Env("HANDOFF_TEST_SURELY_UNSET_KEY".into())),
        ..config.clone()
    };
    let err = handoff_ai::drafter_from_config(&missing, dir.path())
        .err()
        .unwrap();
    let text = err.to_string();
    assert!(
        text.contains("HANDOFF_TEST_SURELY_UNSET_KEY (named by api_key_env in [model]) is not set"),
        "{text}"
    );
    assert!(
        text.contains("HANDOFF_TEST_SURELY_UNSET_KEY_FILE"),
        "{text}"
    );

    let template = handoff_ai::drafter_from_config(&ModelConfig::default(), dir.path()).unwrap();
    assert_eq!(template.backend(), "template");
}
