//! The data-access boundary, end to end: every candidate field holds a
//! unique sentinel, the playbook's lists are random, and the request bodies
//! the openai and anthropic backends actually send are searched for the
//! sentinels. A `never` (or unlisted) field, or a `human_confirm` field
//! nobody confirmed, must never appear; an allowed one must.

use handoff_ai::{AnthropicConfig, AnthropicDrafter, Drafter, OpenAiConfig, OpenAiDrafter};
use handoff_domain::drafting::ModelInput;
use handoff_domain::playbook::DataAccess;
use handoff_domain::policy::data_access::DataAccessPolicy;
use proptest::prelude::*;
use secrecy::SecretString;

use crate::support::{
    Reply, WireServer, anthropic_answer, draft_json, fast_retries, openai_answer, sender, step,
};

const FIELDS: [&str; 18] = [
    "contact.first_name",
    "contact.last_name",
    "contact.title",
    "contact.seniority",
    "contact.phone",
    "contact.personal_email",
    "contact.city",
    "contact.street_address",
    "account.name",
    "account.industry",
    "account.employees",
    "account.technologies",
    "research.summary",
    "research.tech_stack",
    "research.website_text",
    "signal.page_visits",
    "signal.job_change",
    "signal.funding",
];
const ROOTS: [&str; 4] = ["contact", "account", "research", "signal"];

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum List {
    AiMayUse,
    HumanConfirm,
    Never,
}

/// Where a name is listed: nowhere, or in one or two lists.
fn listing() -> impl Strategy<Value = Vec<List>> {
    prop_oneof![
        3 => Just(vec![]),
        3 => prop_oneof![Just(List::AiMayUse), Just(List::HumanConfirm), Just(List::Never)].prop_map(|l| vec![l]),
        1 => (
            prop_oneof![Just(List::AiMayUse), Just(List::HumanConfirm), Just(List::Never)],
            prop_oneof![Just(List::AiMayUse), Just(List::HumanConfirm), Just(List::Never)]
        ).prop_map(|(a, b)| vec![a, b]),
    ]
}

#[derive(Debug, Clone)]
struct Case {
    exact: Vec<Vec<List>>,
    families: Vec<Vec<List>>,
    confirmed: Vec<bool>,
    salt: u64,
}

fn case() -> impl Strategy<Value = Case> {
    (
        proptest::collection::vec(listing(), FIELDS.len()),
        proptest::collection::vec(listing(), ROOTS.len()),
        proptest::collection::vec(any::<bool>(), FIELDS.len()),
        any::<u64>(),
    )
        .prop_map(|(exact, families, confirmed, salt)| Case {
            exact,
            families,
            confirmed,
            salt,
        })
}

/// The rule written out independently of the domain code: an exact name
/// beats its family, the strictest list wins, unlisted means never.
fn may_reach_model(case: &Case, field: usize) -> bool {
    let root = FIELDS[field].split('.').next().unwrap_or_default();
    let family = ROOTS.iter().position(|r| *r == root).unwrap();
    let lists = if case.exact[field].is_empty() {
        &case.families[family]
    } else {
        &case.exact[field]
    };
    match lists.iter().max() {
        Some(List::AiMayUse) => true,
        Some(List::HumanConfirm) => case.confirmed[field],
        Some(List::Never) | None => false,
    }
}

fn sentinel(case: &Case, field: usize) -> String {
    format!(
        "SNTL{field:02}X{:016x}Q",
        case.salt ^ (field as u64).wrapping_mul(0x9E37_79B9)
    )
}

fn build(case: &Case) -> ModelInput {
    let mut lists = DataAccess {
        ai_may_use: vec![],
        human_confirm: vec![],
        never: vec![],
    };
    let mut push = |name: String, list: List| match list {
        List::AiMayUse => lists.ai_may_use.push(name),
        List::HumanConfirm => lists.human_confirm.push(name),
        List::Never => lists.never.push(name),
    };
    for (i, listed) in case.exact.iter().enumerate() {
        for list in listed {
            push(FIELDS[i].to_string(), *list);
        }
    }
    for (i, listed) in case.families.iter().enumerate() {
        for list in listed {
            push(format!("{}.*", ROOTS[i]), *list);
        }
    }
    let candidates = (0..FIELDS.len())
        .map(|i| (FIELDS[i].to_string(), sentinel(case, i)))
        .collect();
    let confirmed: Vec<String> = (0..FIELDS.len())
        .filter(|i| case.confirmed[*i])
        .map(|i| FIELDS[i].to_string())
        .collect();
    ModelInput::build(
        &DataAccessPolicy::new(&lists),
        step(),
        sender(),
        candidates,
        &confirmed,
        Vec::new(),
    )
}

#[test]
fn no_forbidden_field_reaches_any_backend_request_body() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let (openai_server, anthropic_server, drafters) = runtime.block_on(async {
        let openai_server = WireServer::start(vec![Reply::json(
            200,
            openai_answer(&draft_json().to_string(), "stop"),
        )])
        .await;
        let anthropic_server = WireServer::start(vec![Reply::json(
            200,
            anthropic_answer(draft_json(), "tool_use"),
        )])
        .await;
        let mut openai = OpenAiConfig::new(format!("{}/v1", openai_server.url), "gpt-4o-mini");
        openai.http = fast_retries();
        let mut anthropic = AnthropicConfig::new(
            anthropic_server.url.clone(),
            "claude-sonnet-4-5",
            SecretString::from("k"),
        );
        anthropic.http = fast_retries();
        let drafters: Vec<Box<dyn Drafter>> = vec![
            Box::new(OpenAiDrafter::new(openai).unwrap()),
            Box::new(AnthropicDrafter::new(anthropic).unwrap()),
        ];
        (openai_server, anthropic_server, drafters)
    });

    let mut config = ProptestConfig::with_cases(64);
    config.failure_persistence = None;
    let mut runner = proptest::test_runner::TestRunner::new(config);
    let seen_allowed = std::cell::Cell::new(0usize);
    let seen_withheld = std::cell::Cell::new(0usize);
    runner
        .run(&case(), |case| {
            let input = build(&case);
            for (drafter, server) in drafters.iter().zip([&openai_server, &anthropic_server]) {
                let before = server.requests().len();
                runtime
                    .block_on(drafter.draft(&input, case.salt))
                    .map_err(|e| TestCaseError::fail(format!("{}: {e}", drafter.backend())))?;
                let requests = server.requests();
                prop_assert_eq!(requests.len(), before + 1);
                let sent = &requests[before];
                let wire = format!("{} {:?} {}", sent.path, sent.headers, sent.body);
                for (field, name) in FIELDS.iter().enumerate() {
                    let value = sentinel(&case, field);
                    if may_reach_model(&case, field) {
                        seen_allowed.set(seen_allowed.get() + 1);
                        prop_assert!(
                            sent.body.contains(&value),
                            "{}: allowed {} is missing from the request",
                            drafter.backend(),
                            name
                        );
                    } else {
                        seen_withheld.set(seen_withheld.get() + 1);
                        prop_assert!(
                            !wire.contains(&value),
                            "{}: forbidden {} reached the request body",
                            drafter.backend(),
                            name
                        );
                    }
                }
            }
            Ok(())
        })
        .unwrap();
    // The random lists exercised both sides of the rule.
    let (allowed, withheld) = (seen_allowed.get(), seen_withheld.get());
    assert!(
        allowed > 50 && withheld > 50,
        "{allowed} allowed, {withheld} withheld"
    );
}
