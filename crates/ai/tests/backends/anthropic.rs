//! The anthropic backend against a local server speaking the Messages API
//! wire format.

use std::time::{Duration, Instant};

use handoff_ai::{AnthropicConfig, AnthropicDrafter, DraftError, Drafter, Pricing};
use handoff_domain::drafting::{OutputError, prompt};
use secrecy::SecretString;
use serde_json::json;

use crate::support::{Reply, WireServer, anthropic_answer, draft_json, fast_retries, input};

fn drafter(server: &WireServer) -> AnthropicDrafter {
    let mut config = AnthropicConfig::new(
        server.url.clone(),
        "claude-sonnet-4-5",
        SecretString::from("sk-ant-test"),
    );
    config.temperature = Some(0.3);
    config.pricing = Some(Pricing {
        input_per_1k: 0.003,
        output_per_1k: 0.015,
    });
    config.http = fast_retries();
    AnthropicDrafter::new(config).unwrap()
}

fn good() -> Reply {
    Reply::json(200, anthropic_answer(draft_json(), "tool_use"))
}

fn error(kind: &str, message: &str) -> serde_json::Value {
    json!({"type": "error", "error": {"type": kind, "message": message}, "request_id": "req_011CSHoEeqs5C35K2UUqR7Fy"})
}

#[tokio::test]
async fn a_good_answer_becomes_a_traced_draft_with_usage_and_cost() {
    let server = WireServer::start(vec![good()]).await;
    let draft = drafter(&server).draft(&input(), 7).await.unwrap();
    assert_eq!(draft.subject, "Closing the books faster");
    assert_eq!(
        draft.cited(),
        ["research.summary", "pp-globex", "cta-15min"]
    );
    assert_eq!(draft.model, "claude-sonnet-4-5-20250929");
    assert_eq!(
        (draft.usage.input_tokens, draft.usage.output_tokens),
        (1021, 187)
    );
    let cost = draft.usage.cost_usd.unwrap();
    assert!(
        (cost - (1.021 * 0.003 + 0.187 * 0.015)).abs() < 1e-12,
        "{cost}"
    );
}

#[tokio::test]
async fn the_request_follows_the_messages_api_with_a_forced_tool() {
    let server = WireServer::start(vec![good()]).await;
    let input = input();
    drafter(&server).draft(&input, 7).await.unwrap();
    let request = &server.requests()[0];
    assert_eq!(request.path, "/v1/messages");
    assert_eq!(request.header("x-api-key"), Some("sk-ant-test"));
    assert_eq!(request.header("anthropic-version"), Some("2023-06-01"));
    assert_eq!(request.header("authorization"), None);
    let body = request.json();
    let rendered = prompt::render(&input);
    assert_eq!(body["model"], "claude-sonnet-4-5");
    assert_eq!(body["max_tokens"], 1024);
    assert_eq!(body["temperature"], 0.3);
    assert_eq!(body["system"], rendered.system.as_str());
    assert_eq!(
        body["messages"],
        json!([{"role": "user", "content": rendered.user}])
    );
    assert_eq!(body["tools"][0]["name"], "write_draft");
    assert_eq!(body["tools"][0]["input_schema"], prompt::draft_schema());
    assert_eq!(
        body["tool_choice"],
        json!({"type": "tool", "name": "write_draft"})
    );
    // The Messages API has no seed parameter; none is sent.
    assert!(body.get("seed").is_none());
    assert!(!request.body.contains("+49 30 555 0101"));
}

#[tokio::test]
async fn a_429_with_retry_after_is_waited_out_then_retried() {
    let limited = Reply::json(
        429,
        error(
            "rate_limit_error",
            "Number of request tokens has exceeded your per-minute rate limit",
        ),
    )
    .header("retry-after", "1");
    let server = WireServer::start(vec![limited, good()]).await;
    let started = Instant::now();
    drafter(&server).draft(&input(), 1).await.unwrap();
    let requests = server.requests();
    assert_eq!(requests.len(), 2);
    assert!(requests[1].at - requests[0].at >= Duration::from_secs(1));
    assert!(started.elapsed() < Duration::from_secs(3));
}

#[tokio::test]
async fn overloaded_529_and_500_are_retried() {
    let overloaded = Reply::json(529, error("overloaded_error", "Overloaded"));
    let failing = Reply::json(500, error("api_error", "Internal server error"));
    let server = WireServer::start(vec![overloaded, failing, good()]).await;
    let draft = drafter(&server).draft(&input(), 1).await.unwrap();
    assert_eq!(draft.sentences.len(), 4);
    assert_eq!(server.requests().len(), 3);
}

#[tokio::test]
async fn a_persistent_overload_gives_up_after_the_bounded_attempts() {
    let server = WireServer::start(vec![Reply::json(
        529,
        error("overloaded_error", "Overloaded"),
    )])
    .await;
    let err = drafter(&server).draft(&input(), 1).await.unwrap_err();
    let text = err.to_string();
    assert!(
        matches!(
            err,
            DraftError::Unavailable {
                backend: "anthropic",
                ..
            }
        ),
        "{text}"
    );
    assert!(
        text.contains("529") && text.contains("Overloaded"),
        "{text}"
    );
    assert_eq!(server.requests().len(), 3);
}

#[tokio::test]
async fn max_tokens_is_a_truncation_error() {
    let partial = json!({"subject": "Closing the books faster", "sentences": []});
    let server = WireServer::start(vec![Reply::json(
        200,
        anthropic_answer(partial, "max_tokens"),
    )])
    .await;
    let err = drafter(&server).draft(&input(), 1).await.unwrap_err();
    assert!(
        matches!(
            err,
            DraftError::Output {
                source: OutputError::Truncated { .. },
                ..
            }
        ),
        "{err}"
    );
}

#[tokio::test]
async fn a_refusal_is_reported_as_refused() {
    let answer = json!({
        "id": "msg_01", "type": "message", "role": "assistant", "model": "claude-sonnet-4-5-20250929",
        "content": [{"type": "text", "text": "I can't write this message."}],
        "stop_reason": "refusal", "stop_sequence": null,
        "usage": {"input_tokens": 900, "output_tokens": 8}
    });
    let server = WireServer::start(vec![Reply::json(200, answer)]).await;
    let err = drafter(&server).draft(&input(), 1).await.unwrap_err();
    assert!(
        matches!(&err, DraftError::Output { source: OutputError::Refused { reason }, .. } if reason.contains("can't write")),
        "{err}"
    );
}

#[tokio::test]
async fn a_401_is_rejected_with_a_fix() {
    let server = WireServer::start(vec![Reply::json(
        401,
        error("authentication_error", "invalid x-api-key"),
    )])
    .await;
    let err = drafter(&server).draft(&input(), 1).await.unwrap_err();
    let text = err.to_string();
    assert!(
        matches!(
            err,
            DraftError::Rejected {
                status: 401,
                backend: "anthropic",
                ..
            }
        ),
        "{text}"
    );
    assert!(
        text.contains("invalid x-api-key") && text.contains("api_key_env"),
        "{text}"
    );
    assert_eq!(server.requests().len(), 1);
}

#[tokio::test]
async fn an_invalid_json_body_is_a_protocol_error() {
    let server =
        WireServer::start(vec![Reply::raw(200, "{\"id\": \"msg_01\", \"content\": [")]).await;
    let err = drafter(&server).draft(&input(), 1).await.unwrap_err();
    assert!(matches!(err, DraftError::Protocol { .. }), "{err}");
    assert!(err.to_string().contains("not JSON"), "{err}");
}

#[tokio::test]
async fn a_tool_input_of_the_wrong_shape_is_a_shape_error() {
    let wrong = json!({"subject": "x", "body": "Hello there", "approved": true});
    let server =
        WireServer::start(vec![Reply::json(200, anthropic_answer(wrong, "tool_use"))]).await;
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
async fn the_factory_needs_a_key_and_says_where_to_put_it() {
    use handoff_domain::playbook::{Backend, ModelConfig};
    let config = ModelConfig {
        backend: Backend::Anthropic,
        model: Some("claude-sonnet-4-5".into()),
        ..ModelConfig::default()
    };
    let err = handoff_ai::drafter_from_config(&config, std::path::Path::new("."))
        .err()
        .unwrap();
    assert!(
        err.to_string()
            .contains("api_key_env = \"ANTHROPIC_API_KEY\""),
        "{err}"
    );
}
