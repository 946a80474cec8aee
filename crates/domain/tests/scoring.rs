//! ICP scoring from the outside: the default playbook's rules on
//! hand-written prospects, the score's arithmetic, the reasons people read,
//! the lookalike, and the native evaluator checked against cel-rust.

#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::time::Instant;

use handoff_domain::playbook::{DEFAULT_PLAYBOOK, Icp, IcpTiers, parse};
use handoff_domain::scoring::{
    CompiledCondition, Fact, Facts, LookalikeModel, Outcome, Score, Scorer, Tier,
};
use proptest::prelude::*;

const PROSPECTS: &str = include_str!("scoring/prospects.json");
const WON_ACCOUNTS: &str = include_str!("scoring/won_accounts.json");

fn default_icp() -> Icp {
    match parse(DEFAULT_PLAYBOOK, "handoff.toml") {
        Ok(playbook) => playbook.icp,
        Err(diagnostics) => panic!("the default playbook has mistakes:\n{diagnostics}"),
    }
}

/// The default playbook with its `[icp]` section replaced by `icp`.
fn icp(icp: &str) -> Icp {
    let start = DEFAULT_PLAYBOOK.find("[icp]\n").unwrap();
    let end = DEFAULT_PLAYBOOK.find("[list_building]").unwrap();
    let source = format!(
        "{}{icp}\n{}",
        &DEFAULT_PLAYBOOK[..start],
        &DEFAULT_PLAYBOOK[end..]
    );
    match parse(&source, "handoff.toml") {
        Ok(playbook) => playbook.icp,
        Err(diagnostics) => panic!("the test playbook has mistakes:\n{diagnostics}"),
    }
}

fn scorer(source: &str) -> Scorer {
    Scorer::new(&icp(source)).unwrap()
}

fn prospect(name: &str) -> Facts {
    let mut all: BTreeMap<String, Facts> = serde_json::from_str(PROSPECTS).unwrap();
    all.remove(name).unwrap()
}

fn won_accounts() -> LookalikeModel {
    LookalikeModel::new(serde_json::from_str(WON_ACCOUNTS).unwrap())
}

fn texts(score: &Score) -> Vec<&str> {
    score
        .reasons
        .iter()
        .map(|reason| reason.text.as_str())
        .collect()
}

fn skipped(score: &Score) -> Vec<(&str, &str)> {
    score
        .skipped
        .iter()
        .map(|skip| (skip.rule_id.as_str(), skip.missing.as_str()))
        .collect()
}

// ── The default playbook ─────────────────────────────────────────────────

#[test]
fn the_default_rules_all_take_the_fast_path() {
    let scorer = Scorer::new(&default_icp()).unwrap();
    assert!(scorer.rules_without_fast_path().is_empty());
    assert_eq!(
        scorer.without_fast_path().rules_without_fast_path().len(),
        6
    );
}

#[test]
fn an_excellent_fintech_vp() {
    let score = Scorer::new(&default_icp())
        .unwrap()
        .score(&prospect("excellent_fintech_vp"));
    assert_eq!(score.raw_points, 100);
    assert_eq!(score.score, 100);
    assert_eq!(score.tier, Tier::Excellent);
    assert_eq!(
        texts(&score),
        [
            "+30 industry = fintech",
            "+20 employees 400 (>= 50, <= 5000)",
            "+25 seniority = vp",
            "+15 department = finance",
            "+10 technologies include snowflake",
        ]
    );
    let ids: Vec<&str> = score.reasons.iter().map(|r| r.rule_id.as_str()).collect();
    assert_eq!(
        ids,
        [
            "target-industry",
            "company-size",
            "buyer-seniority",
            "finance-department",
            "uses-snowflake"
        ]
    );
    assert_eq!(score.reasons[0].reason, "Industry we win in");
    assert_eq!(score.reasons[0].points, 30);
    assert!(score.skipped.is_empty());
}

#[test]
fn a_company_too_small_loses_points() {
    let score = Scorer::new(&default_icp())
        .unwrap()
        .score(&prospect("too_small"));
    // 30 industry - 30 too small + 25 seniority
    assert_eq!(score.raw_points, 25);
    assert_eq!(score.score, 25);
    assert_eq!(score.tier, Tier::NotAFit);
    assert_eq!(
        texts(&score),
        [
            "+30 industry = fintech",
            "-30 employees 12 (< 50)",
            "+25 seniority = vp"
        ]
    );
    assert_eq!(score.reasons[1].points, -30);
    assert!(score.skipped.is_empty());
}

#[test]
fn unknown_employees_are_listed_as_skipped() {
    let score = Scorer::new(&default_icp())
        .unwrap()
        .score(&prospect("unknown_employees"));
    // 30 industry + 25 seniority + 15 finance
    assert_eq!(score.raw_points, 70);
    assert_eq!(score.tier, Tier::Good);
    assert_eq!(
        skipped(&score),
        [
            ("company-size", "account.employees is unknown"),
            ("too-small", "account.employees is unknown"),
            ("uses-snowflake", "account.technologies is unknown"),
        ]
    );
}

#[test]
fn a_type_mismatch_is_skipped_with_the_reason() {
    let score = Scorer::new(&default_icp())
        .unwrap()
        .score(&prospect("employees_as_text"));
    assert_eq!(score.raw_points, 25);
    // As in cel-rust, when both sides of `&&` fail, the right one's error
    // is the one reported.
    assert_eq!(
        skipped(&score),
        [
            (
                "company-size",
                "cannot use `<=` on account.employees (text \"fifty\") and 5000 (number)"
            ),
            (
                "too-small",
                "cannot use `<` on account.employees (text \"fifty\") and 50 (number)"
            ),
            ("finance-department", "contact.department is unknown"),
        ]
    );
    // cel-rust skips the same rules, with its own words.
    let slow = Scorer::new(&default_icp())
        .unwrap()
        .without_fast_path()
        .score(&prospect("employees_as_text"));
    assert_eq!(
        skipped(&slow),
        [
            ("company-size", "cannot use `<=` on string and int"),
            ("too-small", "cannot use `<` on string and int"),
            ("finance-department", "contact.department is unknown"),
        ]
    );
}

#[test]
fn the_fast_path_and_cel_rust_score_alike() {
    let fast = Scorer::new(&default_icp()).unwrap();
    let slow = Scorer::new(&default_icp()).unwrap().without_fast_path();
    let all: BTreeMap<String, Facts> = serde_json::from_str(PROSPECTS).unwrap();
    for (name, facts) in &all {
        let (a, b) = (fast.score(facts), slow.score(facts));
        assert_eq!(
            (a.score, a.raw_points, a.tier),
            (b.score, b.raw_points, b.tier),
            "{name}"
        );
        let ids = |score: &Score| {
            (
                score
                    .reasons
                    .iter()
                    .map(|r| r.rule_id.clone())
                    .collect::<Vec<_>>(),
                score
                    .skipped
                    .iter()
                    .map(|s| s.rule_id.clone())
                    .collect::<Vec<_>>(),
            )
        };
        assert_eq!(ids(&a), ids(&b), "{name}");
        assert_eq!(fast.score_without_reasons(facts).score, a.score, "{name}");
        assert_eq!(
            slow.score_without_reasons(facts).raw_points,
            a.raw_points,
            "{name}"
        );
    }
}

// ── Arithmetic ───────────────────────────────────────────────────────────

#[test]
fn points_are_clamped_into_0_to_100() {
    let scorer = scorer(
        r#"
[icp]
tiers = { excellent = 80, good = 60, fair = 40 }

[[icp.rule]]
when = "signal.job_change"
points = 90
reason = "Big"

[[icp.rule]]
when = "signal.job_change"
points = 90
reason = "Bigger"

[[icp.rule]]
when = "!signal.job_change"
points = -70
reason = "Small"
"#,
    );
    let high = scorer.score(&Facts::default().with_signal("job_change", true));
    assert_eq!(
        (high.raw_points, high.score, high.tier),
        (180, 100, Tier::Excellent)
    );
    assert_eq!(
        high.reasons
            .iter()
            .map(|r| r.rule_id.as_str())
            .collect::<Vec<_>>(),
        ["rule-1", "rule-2"]
    );
    let low = scorer.score(&Facts::default().with_signal("job_change", false));
    assert_eq!(
        (low.raw_points, low.score, low.tier),
        (-70, 0, Tier::NotAFit)
    );
    assert_eq!(texts(&low), ["-70 job_change = false"]);
    assert_eq!(low.reasons[0].rule_id, "rule-3");
}

#[test]
fn a_score_exactly_at_a_threshold_is_in_that_tier() {
    let scorer = scorer(
        r#"
[icp]
tiers = { excellent = 80, good = 60, fair = 40 }

[[icp.rule]]
id = "base"
when = "contact.score >= 0"
points = 0
reason = "Base"

[[icp.rule]]
id = "plus-80"
when = "contact.score == 80"
points = 80
reason = "Eighty"

[[icp.rule]]
id = "plus-79"
when = "contact.score == 79"
points = 79
reason = "Seventy-nine"

[[icp.rule]]
id = "plus-60"
when = "contact.score == 60"
points = 60
reason = "Sixty"

[[icp.rule]]
id = "plus-59"
when = "contact.score == 59"
points = 59
reason = "Fifty-nine"

[[icp.rule]]
id = "plus-40"
when = "contact.score == 40"
points = 40
reason = "Forty"

[[icp.rule]]
id = "plus-39"
when = "contact.score == 39"
points = 39
reason = "Thirty-nine"
"#,
    );
    for (points, tier) in [
        (80, Tier::Excellent),
        (79, Tier::Good),
        (60, Tier::Good),
        (59, Tier::Fair),
        (40, Tier::Fair),
        (39, Tier::NotAFit),
        (0, Tier::NotAFit),
    ] {
        let score = scorer.score(&Facts::default().with_contact("score", points));
        assert_eq!(score.score, points as u8);
        assert_eq!(score.tier, tier, "{points}");
    }
    let tiers = IcpTiers {
        excellent: 80,
        good: 60,
        fair: 40,
    };
    assert_eq!(Tier::for_score(100, &tiers), Tier::Excellent);
    assert_eq!(Tier::for_score(80, &tiers), Tier::Excellent);
    assert_eq!(Tier::for_score(0, &tiers), Tier::NotAFit);
}

#[test]
fn tiers_have_names_for_machines_and_people() {
    for tier in Tier::ALL {
        assert_eq!(tier.as_str().parse::<Tier>(), Ok(tier));
        assert_eq!(tier.label().parse::<Tier>(), Ok(tier));
        assert_eq!(
            serde_json::to_string(&tier).unwrap(),
            format!("\"{}\"", tier.as_str())
        );
    }
    assert_eq!(Tier::NotAFit.label(), "Not a Fit");
    assert_eq!("not-a-fit".parse::<Tier>(), Ok(Tier::NotAFit));
    assert!("great".parse::<Tier>().is_err());
}

// ── Reasons ──────────────────────────────────────────────────────────────

#[test]
fn reasons_say_what_matched() {
    let scorer = scorer(
        r#"
[icp]
tiers = { excellent = 80, good = 60, fair = 40 }

[[icp.rule]]
id = "not-retail"
when = "account.industry != 'retail'"
points = 5
reason = "Not retail"

[[icp.rule]]
id = "not-in-list"
when = "!(account.country in ['fr', 'de'])"
points = 5
reason = "Outside FR and DE"

[[icp.rule]]
id = "either"
when = "contact.seniority == 'c_suite' || account.employees > 100"
points = 5
reason = "Senior or big"

[[icp.rule]]
id = "literal-left"
when = "1000 > account.employees"
points = 5
reason = "Under a thousand"

[[icp.rule]]
id = "size-of"
when = "size(account.technologies) >= 2"
points = 5
reason = "A real stack"

[[icp.rule]]
id = "lacks"
when = "!('oracle' in account.technologies)"
points = 5
reason = "No Oracle"

[[icp.rule]]
id = "flag"
when = "signal.job_change"
points = 5
reason = "New in the job"

[[icp.rule]]
id = "outside-subset"
when = "account.name.startsWith('Ledger')"
points = 5
reason = "Ledger-something"

[[icp.rule]]
id = "negated-bound"
when = "!(account.employees < 50)"
points = -5
reason = "Not tiny"
"#,
    );
    assert_eq!(scorer.rules_without_fast_path(), ["outside-subset"]);
    let score = scorer.score(&prospect("excellent_fintech_vp").with_signal("job_change", true));
    assert_eq!(
        texts(&score),
        [
            "+5 industry = fintech",
            "+5 country = us",
            "+5 employees 400 (> 100)",
            "+5 employees 400 (< 1000)",
            "+5 number of technologies 3 (>= 2)",
            "+5 technologies without oracle",
            "+5 job_change = true",
            "+5 Ledger-something",
            "-5 employees 400 (>= 50)",
        ]
    );
    assert!(score.skipped.is_empty(), "{:?}", score.skipped);
}

#[test]
fn an_error_on_one_side_of_or_is_absorbed_by_a_true_other_side() {
    let scorer = scorer(
        r#"
[icp]
tiers = { excellent = 80, good = 60, fair = 40 }

[[icp.rule]]
id = "either"
when = "account.employees > 100 || contact.seniority == 'c_suite'"
points = 10
reason = "Senior or big"
"#,
    );
    let ceo = Facts::default().with_contact("seniority", "c_suite");
    let score = scorer.score(&ceo);
    assert_eq!(texts(&score), ["+10 seniority = c_suite"]);
    let ic = Facts::default().with_contact("seniority", "ic");
    assert_eq!(
        skipped(&scorer.score(&ic)),
        [("either", "account.employees is unknown")]
    );
    let nobody = Facts::default();
    assert_eq!(
        skipped(&scorer.score(&nobody)),
        [(
            "either",
            "account.employees and contact.seniority are unknown"
        )]
    );
}

#[test]
fn a_condition_that_is_not_true_or_false_is_skipped() {
    // The playbook refuses such rules (conditions are type-checked), but
    // `--where` filters reach the scorer's conditions as typed.
    let facts = Facts::default().with_account("employees", 20);
    let outcome = |source: &str| CompiledCondition::compile(source).unwrap().evaluate(&facts);
    assert_eq!(
        outcome("account.employees"),
        Outcome::Skipped("account.employees (number \"20\") is not true or false".to_string())
    );
    assert_eq!(
        outcome("draft.confidence > 0.5"),
        Outcome::Skipped(
            "`draft` is not something ICP rules can read: use contact.*, account.* or signal.*"
                .to_string()
        )
    );
}

// ── Lookalike ────────────────────────────────────────────────────────────

#[test]
fn lookalike_similarity_explains_itself() {
    let model = won_accounts();
    assert_eq!(model.len(), 5);
    let (similarity, why) = model.similarity(&prospect("excellent_fintech_vp").account);
    assert!((0.7..=0.9).contains(&similarity), "{similarity}");
    assert_eq!(
        why,
        [
            "industry fintech",
            "shares snowflake and dbt",
            "size 201-500 like 3 won accounts",
            "country US",
        ]
    );
    let (unlike, why) = model.similarity(
        &Facts::default()
            .with_account("industry", "mining")
            .with_account("employees", 9)
            .account,
    );
    assert!(unlike < 0.2, "{unlike}");
    assert!(
        why.is_empty() || why.iter().all(|w| w.starts_with("size")),
        "{why:?}"
    );
    let (nothing, why) = model.similarity(&BTreeMap::new());
    assert_eq!((nothing, why.len()), (0.0, 0));
    let (none, why) = LookalikeModel::new(Vec::new()).similarity(&prospect("too_small").account);
    assert_eq!((none, why.len()), (0.0, 0));
}

#[test]
fn lookalike_adds_weighted_points_and_is_visible_to_rules() {
    let scorer = scorer(
        r#"
[icp]
tiers = { excellent = 80, good = 60, fair = 40 }

[[icp.rule]]
id = "close-lookalike"
when = "account.lookalike >= 50"
points = 10
reason = "Close to won accounts"

[icp.lookalike]
won_accounts = "won.csv"
weight = 20
"#,
    );
    let facts = prospect("excellent_fintech_vp");
    let without = scorer.score(&facts);
    assert_eq!(
        skipped(&without),
        [
            ("close-lookalike", "account.lookalike is unknown"),
            ("lookalike", "the won accounts are not loaded"),
        ]
    );
    let model = won_accounts();
    let (similarity, _) = model.similarity(&facts.account);
    let scorer = scorer.with_lookalike(model);
    let score = scorer.score(&facts);
    let points = (20.0 * similarity).round() as i64;
    assert_eq!(score.raw_points, 10 + points);
    let lookalike = score.reasons.last().unwrap();
    assert_eq!(lookalike.rule_id, "lookalike");
    assert_eq!(lookalike.points, points);
    assert_eq!(
        lookalike.text,
        format!(
            "+{points} lookalike {similarity:.2} to won accounts (industry fintech, shares \
             snowflake and dbt, size 201-500 like 3 won accounts, country US)"
        )
    );
    let percent = (similarity * 100.0).round() as i64;
    assert_eq!(
        score.reasons[0].text,
        format!("+10 lookalike {percent} (>= 50)")
    );
    assert_eq!(
        scorer.score_without_reasons(&facts).raw_points,
        score.raw_points
    );
    // An account nothing is known about: no points, and it says why.
    let empty = scorer.score(&Facts::default());
    assert_eq!(empty.raw_points, 0);
    assert_eq!(
        skipped(&empty),
        [(
            "lookalike",
            "account.industry, account.employees, account.country and account.technologies \
             are unknown"
        )]
    );
    // An account known to be unlike any won one: no points, nothing skipped.
    let unlike = scorer.score(
        &Facts::default()
            .with_account("industry", "mining")
            .with_account("country", "fr"),
    );
    assert_eq!((unlike.raw_points, unlike.reasons.len()), (0, 0));
    assert!(unlike.skipped.is_empty(), "{:?}", unlike.skipped);
}

#[test]
fn a_lookalike_weight_without_won_accounts_says_so() {
    let source = r#"
[icp]
tiers = { excellent = 80, good = 60, fair = 40 }

[icp.lookalike]
won_accounts = "won.csv"
weight = 20
"#;
    let facts = prospect("excellent_fintech_vp");
    assert_eq!(
        skipped(&scorer(source).score(&facts)),
        [("lookalike", "the won accounts are not loaded")]
    );
    let empty = scorer(source).with_lookalike(LookalikeModel::new(Vec::new()));
    assert_eq!(
        skipped(&empty.score(&facts)),
        [("lookalike", "there are no won accounts to compare with")]
    );
}

// ── Determinism, threads, serde ──────────────────────────────────────────

#[test]
fn scoring_is_deterministic() {
    let scorer = Scorer::new(&default_icp())
        .unwrap()
        .with_lookalike(won_accounts());
    let facts = prospect("excellent_fintech_vp");
    let first = scorer.score(&facts);
    for _ in 0..20 {
        assert_eq!(scorer.score(&facts), first);
    }
    let json = serde_json::to_string(&first).unwrap();
    assert_eq!(serde_json::to_string(&scorer.score(&facts)).unwrap(), json);
    // The same facts built in another order.
    let mut reordered = Facts::default();
    for (name, fact) in facts.account.iter().rev() {
        reordered.account.insert(name.clone(), fact.clone());
    }
    reordered.contact = facts.contact.clone();
    assert_eq!(scorer.score(&reordered), first);
}

#[test]
fn a_scorer_is_shared_between_threads() {
    fn send_sync<T: Send + Sync>() {}
    send_sync::<Scorer>();
    let scorer = Scorer::new(&default_icp()).unwrap();
    let facts = prospect("excellent_fintech_vp");
    std::thread::scope(|scope| {
        for _ in 0..4 {
            scope.spawn(|| assert_eq!(scorer.score(&facts).score, 100));
        }
    });
}

#[test]
fn facts_read_from_json() {
    let facts: Facts = serde_json::from_str(
        r#"{"account": {"employees": 12, "revenue": 1.5, "public": true,
            "industry": "fintech", "technologies": ["a", "b"]}}"#,
    )
    .unwrap();
    assert_eq!(facts.account["employees"], Fact::Int(12));
    assert_eq!(facts.account["revenue"], Fact::Float(1.5));
    assert_eq!(facts.account["public"], Fact::Bool(true));
    assert_eq!(facts.account["industry"], Fact::Text("fintech".into()));
    assert_eq!(facts.account["technologies"], Fact::from(["a", "b"]));
    assert!(facts.contact.is_empty());
}

// ── The native evaluator against cel-rust ────────────────────────────────

fn outcome_kind(outcome: &Outcome) -> &'static str {
    match outcome {
        Outcome::Match => "match",
        Outcome::NoMatch => "no match",
        Outcome::Skipped(_) => "skipped",
    }
}

#[test]
fn known_corners_agree_with_cel_rust() {
    let facts = Facts::default()
        .with_account("n", 3)
        .with_account("f", f64::NAN)
        .with_account("min", i64::MIN)
        .with_account("t", "ab")
        .with_account("tags", ["x", "y"]);
    for (expression, expected) in [
        ("account.n == 3.0", "match"),
        ("account.n == '3'", "no match"),
        ("account.n < 3.5", "match"),
        ("account.n < 't'", "skipped"),
        ("account.f == account.f", "no match"),
        ("account.f < 1", "skipped"),
        ("-account.min < 0", "skipped"),
        ("account.n in [1, 2, 3.0]", "match"),
        ("'x' in account.tags", "match"),
        ("'x' in account.t", "skipped"),
        ("account.tags == ['x', 'y']", "match"),
        ("[account.n] == [3.0]", "match"),
        ("size(account.t) == 2 && account.t.size() == 2", "match"),
        ("size(account.n) == 1", "skipped"),
        ("account.missing || true", "match"),
        ("true || account.missing", "match"),
        ("false || account.missing", "skipped"),
        ("account.missing && false", "no match"),
        ("account.n && false", "no match"),
        ("account.n && true", "skipped"),
        ("account.missing || account.missing", "skipped"),
        ("!account.n", "skipped"),
        ("account.n", "skipped"),
        ("true < false", "no match"),
    ] {
        let condition = CompiledCondition::compile(expression).unwrap();
        assert!(condition.has_fast_path(), "{expression}");
        assert_eq!(
            outcome_kind(&condition.evaluate(&facts)),
            expected,
            "{expression} natively"
        );
        assert_eq!(
            outcome_kind(&condition.evaluate_with_cel(&facts)),
            expected,
            "{expression} with cel-rust"
        );
    }
}

/// `a` is mostly text, `b` mostly a bool, `n` mostly a number, `tags`
/// mostly a list: most generated conditions are well typed, and some are not.
const NAMES: [&str; 4] = ["a", "b", "n", "tags"];

fn any_fact() -> impl Strategy<Value = Fact> {
    prop_oneof![
        text_fact(),
        number_fact(),
        any::<bool>().prop_map(Fact::Bool),
        list_fact(),
    ]
}

fn text_fact() -> impl Strategy<Value = Fact> {
    prop::sample::select(vec!["x", "y", "", "é"]).prop_map(Fact::from)
}

fn number_fact() -> BoxedStrategy<Fact> {
    prop_oneof![
        prop_oneof![
            4 => -3i64..=3,
            1 => Just(i64::MIN),
            1 => Just(i64::MAX),
            1 => Just(9_007_199_254_740_993),
        ]
        .prop_map(Fact::Int),
        prop::sample::select(vec![
            -1.5,
            0.0,
            -0.0,
            2.0,
            3.0,
            f64::NAN,
            1e300,
            9_007_199_254_740_992.0
        ])
        .prop_map(Fact::Float),
    ]
    .boxed()
}

fn list_fact() -> impl Strategy<Value = Fact> {
    prop::collection::vec(prop::sample::select(vec!["x", "y", "é"]), 0..3)
        .prop_map(|items| Fact::List(items.into_iter().map(String::from).collect()))
}

fn typed_fact(name: &str) -> BoxedStrategy<Fact> {
    let usual = match name {
        "a" => text_fact().boxed(),
        "b" => any::<bool>().prop_map(Fact::Bool).boxed(),
        "n" => number_fact(),
        _ => list_fact().boxed(),
    };
    prop_oneof![4 => usual, 1 => any_fact()].boxed()
}

fn fact_map() -> impl Strategy<Value = BTreeMap<String, Fact>> {
    NAMES
        .map(|name| prop::option::weighted(0.8, typed_fact(name)).prop_map(move |f| (name, f)))
        .prop_map(|facts| {
            facts
                .into_iter()
                .filter_map(|(name, fact)| Some((name.to_string(), fact?)))
                .collect()
        })
}

fn facts() -> impl Strategy<Value = Facts> {
    (fact_map(), fact_map(), fact_map()).prop_map(|(contact, account, signal)| Facts {
        contact,
        account,
        signal,
    })
}

fn field_named(names: Vec<&'static str>) -> impl Strategy<Value = String> {
    (
        prop::sample::select(vec!["contact", "account", "signal"]),
        prop::sample::select(names),
    )
        .prop_map(|(root, name)| format!("{root}.{name}"))
}

fn field() -> impl Strategy<Value = String> {
    field_named(NAMES.to_vec())
}

fn pick(items: &[&'static str]) -> impl Strategy<Value = String> + use<> {
    prop::sample::select(items.to_vec()).prop_map(String::from)
}

const NUMBERS: &[&str] = &[
    "0",
    "1",
    "2",
    "3",
    "-2",
    "9223372036854775807",
    "1.5",
    "2.0",
    "3.0",
    "-0.0",
    "1e300",
];
const TEXTS: &[&str] = &["'x'", "'y'", "''", "'é'"];
const COMPARISONS: &[&str] = &["==", "!=", "<", "<=", ">", ">="];

fn literal() -> impl Strategy<Value = String> {
    prop_oneof![pick(NUMBERS), pick(TEXTS), pick(&["true", "false"])]
}

fn list_literal() -> impl Strategy<Value = String> {
    prop::collection::vec(literal(), 0..4).prop_map(|items| format!("[{}]", items.join(", ")))
}

fn number() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => field_named(vec!["n"]),
        3 => pick(NUMBERS),
        1 => field_named(vec!["tags", "a"]).prop_map(|f| format!("size({f})")),
        1 => field_named(vec!["tags", "a"]).prop_map(|f| format!("{f}.size()")),
        1 => field_named(vec!["n"]).prop_map(|f| format!("-{f}")),
    ]
}

fn text() -> impl Strategy<Value = String> {
    prop_oneof![field_named(vec!["a"]), pick(TEXTS)]
}

fn list() -> impl Strategy<Value = String> {
    prop_oneof![
        2 => field_named(vec!["tags"]),
        2 => list_literal(),
        1 => (field(), literal()).prop_map(|(f, l)| format!("[{f}, {l}]")),
    ]
}

fn atom() -> impl Strategy<Value = String> {
    prop_oneof![number(), text(), list(), field(), literal()]
}

/// Conditions of the subset, mostly well typed.
fn condition() -> impl Strategy<Value = String> {
    let leaf = prop_oneof![
        2 => field_named(vec!["b"]),
        1 => pick(&["true", "false"]),
        3 => (number(), pick(COMPARISONS), number()).prop_map(|(a, op, b)| format!("{a} {op} {b}")),
        2 => (text(), pick(COMPARISONS), text()).prop_map(|(a, op, b)| format!("{a} {op} {b}")),
        1 => (atom(), pick(COMPARISONS), atom()).prop_map(|(a, op, b)| format!("{a} {op} {b}")),
        2 => (atom(), list()).prop_map(|(a, b)| format!("{a} in {b}")),
        2 => (text(), field_named(vec!["tags"])).prop_map(|(a, b)| format!("{a} in {b}")),
        1 => atom(),
    ];
    leaf.prop_recursive(3, 16, 2, |inner| {
        prop_oneof![
            3 => (inner.clone(), pick(&["&&", "||"]), inner.clone())
                .prop_map(|(a, op, b)| format!("({a}) {op} ({b})")),
            1 => inner.prop_map(|a| format!("!({a})")),
        ]
    })
}

/// Any nesting of the subset's operators, mostly mistyped.
fn expression() -> impl Strategy<Value = String> {
    let leaf = prop_oneof![
        3 => field(),
        2 => literal(),
        1 => list_literal(),
    ];
    leaf.prop_recursive(4, 24, 3, |inner| {
        let list = prop::collection::vec(inner.clone(), 0..3)
            .prop_map(|items| format!("[{}]", items.join(", ")));
        prop_oneof![
            (inner.clone(), pick(COMPARISONS), inner.clone())
                .prop_map(|(a, op, b)| format!("({a}) {op} ({b})")),
            (inner.clone(), prop_oneof![list, field(), inner.clone()])
                .prop_map(|(a, b)| format!("({a}) in ({b})")),
            (inner.clone(), pick(&["&&", "||"]), inner.clone())
                .prop_map(|(a, op, b)| format!("({a}) {op} ({b})")),
            inner.clone().prop_map(|a| format!("!({a})")),
            inner.clone().prop_map(|a| format!("-({a})")),
            inner.clone().prop_map(|a| format!("size({a})")),
            inner.prop_map(|a| format!("({a}).size()")),
        ]
    })
}

fn agree(expression: &str, facts: &Facts) -> Result<(), TestCaseError> {
    let condition = CompiledCondition::compile(expression).unwrap();
    prop_assert!(condition.has_fast_path(), "{}", expression);
    let native = condition.evaluate(facts);
    let cel = condition.evaluate_with_cel(facts);
    prop_assert_eq!(
        outcome_kind(&native),
        outcome_kind(&cel),
        "{} on {:?}: native {:?}, cel-rust {:?}",
        expression,
        facts,
        native,
        cel
    );
    if native == Outcome::Match {
        // Explaining a match never fails.
        let _ = condition.explain(facts);
    }
    Ok(())
}

#[test]
fn generated_conditions_cover_all_three_outcomes() {
    use proptest::strategy::ValueTree;
    use proptest::test_runner::TestRunner;
    let mut runner = TestRunner::deterministic();
    let strategy = (condition(), facts());
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for _ in 0..2000 {
        let (expression, facts) = strategy.new_tree(&mut runner).unwrap().current();
        let outcome = CompiledCondition::compile(&expression)
            .unwrap()
            .evaluate(&facts);
        *counts.entry(outcome_kind(&outcome)).or_default() += 1;
    }
    println!("{counts:?}");
    for kind in ["match", "no match", "skipped"] {
        assert!(counts.get(kind).copied().unwrap_or(0) >= 300, "{counts:?}");
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(10_000))]

    #[test]
    fn the_native_evaluator_agrees_with_cel_rust(expression in condition(), facts in facts()) {
        agree(&expression, &facts)?;
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(4096))]

    #[test]
    fn the_native_evaluator_agrees_with_cel_rust_on_odd_nestings(
        expression in expression(),
        facts in facts(),
    ) {
        agree(&expression, &facts)?;
    }
}

proptest! {
    #[test]
    fn compiling_and_evaluating_anything_never_panics(
        expression in "[a-z_.()\\[\\]'!&|<>=+*/%?:, 0-9-]{0,60}",
        facts in facts(),
    ) {
        if let Ok(condition) = CompiledCondition::compile(&expression) {
            let _ = condition.evaluate(&facts);
            let _ = condition.evaluate_with_cel(&facts);
            let _ = condition.explain(&facts);
        }
    }

    #[test]
    fn scoring_never_panics(facts in facts(), employees in any::<i64>(), industry in ".{0,12}") {
        let scorer = Scorer::new(&default_icp()).unwrap().with_lookalike(won_accounts());
        let facts = facts
            .with_account("employees", employees)
            .with_account("industry", industry);
        let score = scorer.score(&facts);
        prop_assert!(score.score <= 100);
        prop_assert_eq!(scorer.score_without_reasons(&facts).score, score.score);
        let _ = scorer.without_fast_path().score(&facts);
    }

    #[test]
    fn lookalike_similarity_stays_within_0_and_1(account in fact_map(), employees in any::<i64>()) {
        let mut account = account;
        account.insert("employees".to_string(), Fact::Int(employees));
        let (similarity, _) = won_accounts().similarity(&account);
        prop_assert!((0.0..=1.0).contains(&similarity), "{}", similarity);
    }
}

// ── Measurements ─────────────────────────────────────────────────────────

/// Not a timed assertion: prints what scoring costs. Run with
/// `cargo test --release -p handoff-domain --test scoring -- --ignored --nocapture`.
#[test]
#[ignore = "a measurement: run it in release with --ignored --nocapture"]
fn measure_scoring() {
    let all: BTreeMap<String, Facts> = serde_json::from_str(PROSPECTS).unwrap();
    let prospects: Vec<Facts> = all.into_values().collect();
    let icp = default_icp();
    let rules = icp.rules.len() as f64;
    let fast = Scorer::new(&icp).unwrap();
    let slow = Scorer::new(&icp).unwrap().without_fast_path();
    let one_rule = {
        let mut icp = icp.clone();
        icp.rules.truncate(1);
        Scorer::new(&icp).unwrap().without_fast_path()
    };
    let with_lookalike = Scorer::new(&icp).unwrap().with_lookalike(won_accounts());
    let iterations = 200_000;
    let time = |name: &str, per: f64, run: &dyn Fn(&Facts) -> u8| {
        let mut checksum = 0u64;
        for facts in &prospects {
            checksum += u64::from(run(facts));
        }
        let start = Instant::now();
        for index in 0..iterations {
            checksum += u64::from(run(&prospects[index % prospects.len()]));
        }
        let nanos = start.elapsed().as_nanos() as f64 / iterations as f64;
        println!(
            "{name:<48} {:>9.0} ns {:>9.0} ns/rule  (checksum {checksum})",
            nanos,
            nanos / per
        );
        nanos
    };
    println!(
        "{} prospects, {iterations} scores each way, {rules} rules",
        prospects.len()
    );
    let fast_full = time("fast path, score()", rules, &|f| fast.score(f).score);
    let fast_bare = time("fast path, score_without_reasons()", rules, &|f| {
        fast.score_without_reasons(f).score
    });
    let slow_full = time("cel-rust, score()", rules, &|f| slow.score(f).score);
    let slow_bare = time("cel-rust, score_without_reasons()", rules, &|f| {
        slow.score_without_reasons(f).score
    });
    let one = time("cel-rust, one rule (context + 1 evaluation)", 1.0, &|f| {
        one_rule.score_without_reasons(f).score
    });
    time(
        "fast path + lookalike (5 won accounts), score()",
        rules,
        &|f| with_lookalike.score(f).score,
    );
    let per_rule = (slow_bare - one) / (rules - 1.0);
    println!(
        "cel-rust: {per_rule:.0} ns per rule evaluation, {:.0} ns to build the context",
        one - per_rule
    );
    println!(
        "speed-up: {:.1}x with reasons, {:.1}x without",
        slow_full / fast_full,
        slow_bare / fast_bare
    );
}
