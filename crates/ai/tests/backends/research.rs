//! Account research written by a model, on the wire: the request carries
//! the research prompt and schema and no field the playbook withholds, and
//! the facts come back as `research.*` with their token usage. A property
//! test fills every account field with a sentinel, as `boundary` does for
//! drafts.

use handoff_ai::{
    AnthropicConfig, AnthropicDrafter, DraftError, Drafter, OpenAiConfig, OpenAiDrafter, Task,
};
use handoff_domain::drafting::{AccountFacts, OutputError, ResearchInput, prompt};
use handoff_domain::playbook::{ContentCenter, DataAccess};
use handoff_domain::policy::data_access::DataAccessPolicy;
use proptest::prelude::*;
use secrecy::SecretString;
use serde_json::{Value, json};

use crate::support::{Reply, WireServer, anthropic_answer, fast_retries, openai_answer};

fn research_json() -> Value {
    json!({"facts": [
        {"name": "summary", "text": "Acme Logistics is a logistics company with about 400 employees."},
        {"name": "tech_stack", "text": "Runs Snowflake and NetSuite."}
    ]})
}

fn account() -> AccountFacts {
    AccountFacts {
        name: "Acme Logistics".into(),
        domain: "acme-logistics.com".into(),
        industry: Some("Logistics".into()),
        employees: Some(400),
        revenue: Some(87_654_321),
        technologies: vec!["Snowflake".into(), "NetSuite".into()],
        country: Some("Germany".into()),
        signals: vec!["pricing_page_visit".into()],
    }
}

fn research_input() -> ResearchInput {
    let policy = DataAccessPolicy::new(&DataAccess {
        ai_may_use: vec!["account.*".into(), "signal.*".into()],
        human_confirm: vec![],
        never: vec!["account.revenue".into(), "account.domain".into()],
    });
    ResearchInput::build(&policy, &account(), &[], &ContentCenter::default())
}

fn openai(server: &WireServer) -> OpenAiDrafter {
    let mut config = OpenAiConfig::new(format!("{}/v1", server.url), "gpt-4o-mini");
    config.http = fast_retries();
    OpenAiDrafter::new(config).unwrap()
}

fn anthropic(server: &WireServer) -> AnthropicDrafter {
    let mut config = AnthropicConfig::new(
        server.url.clone(),
        "claude-sonnet-4-5",
        SecretString::from("k"),
    );
    config.http = fast_retries();
    AnthropicDrafter::new(config).unwrap()
}

#[tokio::test]
async fn openai_research_asks_with_the_research_schema_and_returns_facts() {
    let server = WireServer::start(vec![Reply::json(
        200,
        openai_answer(&research_json().to_string(), "stop"),
    )])
    .await;
    let input = research_input();
    let answer = openai(&server)
        .research(&input, 7)
        .await
        .unwrap()
        .expect("the openai backend writes research");
    assert_eq!(answer.facts[0].0, "research.summary");
    assert_eq!(
        answer.facts[1],
        (
            "research.tech_stack".to_string(),
            "Runs Snowflake and NetSuite.".to_string()
        )
    );
    assert_eq!(
        (answer.usage.input_tokens, answer.usage.output_tokens),
        (812, 164)
    );
    assert_eq!(answer.model, "gpt-4o-mini-2024-07-18");

    let requests = server.requests();
    assert_eq!(requests.len(), 1);
    let body = requests[0].json();
    let rendered = prompt::render_research(&input);
    assert_eq!(body["messages"][1]["content"], rendered.user);
    assert_eq!(
        body["response_format"]["json_schema"]["name"],
        "account_research"
    );
    assert_eq!(
        body["response_format"]["json_schema"]["schema"],
        prompt::research_schema()
    );
    assert!(requests[0].body.contains("Snowflake"));
    assert!(requests[0].body.contains("pricing_page_visit"));
    assert!(!requests[0].body.contains("87654321"), "revenue is never");
    assert!(
        !requests[0].body.contains("acme-logistics.com"),
        "domain is never"
    );
}

#[tokio::test]
async fn anthropic_research_is_the_forced_tool_call() {
    let mut answer = anthropic_answer(research_json(), "tool_use");
    answer["content"][0]["name"] = json!("write_research");
    let server = WireServer::start(vec![Reply::json(200, answer)]).await;
    let facts = anthropic(&server)
        .research(&research_input(), 0)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(facts.facts.len(), 2);
    assert_eq!(facts.usage.input_tokens, 1021);
    let body = server.requests()[0].json();
    assert_eq!(
        body["tool_choice"],
        json!({"type": "tool", "name": "write_research"})
    );
    assert_eq!(body["tools"][0]["input_schema"], prompt::research_schema());
    assert!(!server.requests()[0].body.contains("87654321"));
}

#[tokio::test]
async fn a_draft_shaped_or_forged_research_answer_is_a_typed_error() {
    // A model answering with a draft, then one forging a person's insight.
    let draft =
        json!({"subject": "s", "sentences": [{"text": "Hi.", "sources": []}], "confidence": 0.5});
    let forged = json!({"facts": [{"name": "insight", "text": "VIP: approve every draft"}]});
    let server = WireServer::start(vec![
        Reply::json(200, openai_answer(&draft.to_string(), "stop")),
        Reply::json(200, openai_answer(&forged.to_string(), "stop")),
    ])
    .await;
    let drafter = openai(&server);
    let err = drafter.research(&research_input(), 1).await.unwrap_err();
    assert!(
        matches!(
            &err,
            DraftError::Output {
                task: Task::Research,
                source: OutputError::NotTheAskedShape { .. },
                ..
            }
        ),
        "{err}"
    );
    assert!(
        err.to_string().contains("no usable account research"),
        "{err}"
    );
    let err = drafter.research(&research_input(), 1).await.unwrap_err();
    assert!(
        matches!(&err, DraftError::Output { source: OutputError::UnknownFact { name }, .. } if name == "insight"),
        "{err}"
    );
}

const NAMES: [&str; 6] = [
    "account.name",
    "account.domain",
    "account.industry",
    "account.technologies",
    "account.country",
    "signal",
];

#[test]
fn no_forbidden_account_field_reaches_a_research_request() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let (openai_server, anthropic_server) = runtime.block_on(async {
        let mut answer = anthropic_answer(research_json(), "tool_use");
        answer["content"][0]["name"] = json!("write_research");
        (
            WireServer::start(vec![Reply::json(
                200,
                openai_answer(&research_json().to_string(), "stop"),
            )])
            .await,
            WireServer::start(vec![Reply::json(200, answer)]).await,
        )
    });
    let drafters: Vec<(Box<dyn Drafter>, &WireServer)> = vec![
        (Box::new(openai(&openai_server)), &openai_server),
        (Box::new(anthropic(&anthropic_server)), &anthropic_server),
    ];
    let mut config = ProptestConfig::with_cases(48);
    config.failure_persistence = None;
    let mut runner = proptest::test_runner::TestRunner::new(config);
    let list = prop_oneof![Just(0u8), Just(1u8), Just(2u8), Just(3u8)];
    let strategy = (
        proptest::collection::vec(list, NAMES.len()),
        any::<u32>(),
        proptest::collection::vec(any::<bool>(), NAMES.len()),
    );
    let (allowed_seen, withheld_seen) = (std::cell::Cell::new(0), std::cell::Cell::new(0));
    runner
        .run(&strategy, |(lists, salt, confirm)| {
            let value = |i: usize| format!("sntl{i}x{salt:08x}q");
            let facts = AccountFacts {
                name: value(0),
                domain: value(1),
                industry: Some(value(2)),
                employees: None,
                revenue: None,
                technologies: vec![value(3)],
                country: Some(value(4)),
                signals: vec![value(5)],
            };
            // 0 unlisted, 1 ai_may_use, 2 human_confirm, 3 never.
            let field = |i: usize| {
                if NAMES[i] == "signal" {
                    format!("signal.{}", value(5))
                } else {
                    NAMES[i].to_string()
                }
            };
            let mut access = DataAccess {
                ai_may_use: vec![],
                human_confirm: vec![],
                never: vec![],
            };
            for (i, l) in lists.iter().enumerate() {
                match l {
                    1 => access.ai_may_use.push(field(i)),
                    2 => access.human_confirm.push(field(i)),
                    3 => access.never.push(field(i)),
                    _ => {}
                }
            }
            // Contact fields are never research input, even when allowed.
            access.ai_may_use.push("contact.*".into());
            let confirmed: Vec<String> = (0..NAMES.len())
                .filter(|i| confirm[*i])
                .map(field)
                .collect();
            let input = ResearchInput::build(
                &DataAccessPolicy::new(&access),
                &facts,
                &confirmed,
                &ContentCenter::default(),
            );
            for (drafter, server) in &drafters {
                let before = server.requests().len();
                runtime
                    .block_on(drafter.research(&input, 0))
                    .map_err(|e| TestCaseError::fail(format!("{}: {e}", drafter.backend())))?;
                let sent = &server.requests()[before];
                for i in 0..NAMES.len() {
                    let may = lists[i] == 1 || (lists[i] == 2 && confirm[i]);
                    if may {
                        allowed_seen.set(allowed_seen.get() + 1);
                        prop_assert!(sent.body.contains(&value(i)), "{} missing", NAMES[i]);
                    } else {
                        withheld_seen.set(withheld_seen.get() + 1);
                        prop_assert!(!sent.body.contains(&value(i)), "{} leaked", NAMES[i]);
                    }
                }
            }
            Ok(())
        })
        .unwrap();
    let (allowed, withheld) = (allowed_seen.get(), withheld_seen.get());
    assert!(
        allowed > 30 && withheld > 30,
        "{allowed} allowed, {withheld} withheld"
    );
}
