//! Stage 1 end to end through the binary: import, verify, score, enrol
//! through the list-building and verification gates, approvals.

use crate::*;

const APOLLO: &str = "First Name,Last Name,Title,Company,Email,# Employees,Industry,Website,Country,Technologies,Apollo Contact Id,Person Linkedin Url\n\
Vera,Pike,VP Finance,Acme,vera@acme.io,1200,Software,acme.io,United States,Snowflake,a1,\n\
Sam,Lee,Financial Analyst,Acme,sam@acme.io,1200,Software,acme.io,United States,Snowflake,a2,\n\
Ina,Roe,Controller,Globex,ina@globex.io,300,Fintech,globex.io,Germany,,a3,\n\
Max,Ode,Sales Lead,Initech,info@initech.io,40,Retail,initech.io,France,,a4,\n\
Bad,Row,CEO,Nowhere,not an email,10,Retail,,,,a5,\n";

fn json(out: std::process::Output) -> serde_json::Value {
    serde_json::from_str(&ok(out)).expect("JSON output")
}

#[test]
fn import_verify_score_and_enrol_through_the_gates() {
    let dir = init_workspace();
    let d = dir.path();
    ok(handoff(d, &["users", "add", "dana"]));
    std::fs::write(d.join("apollo.csv"), APOLLO).unwrap();

    let report = json(handoff(
        d,
        &["import", "apollo.csv", "--owner", "dana", "--json"],
    ));
    assert_eq!(report["format"], "apollo");
    assert_eq!(
        (report["imported"].as_u64(), report["rejected"].as_u64()),
        (Some(4), Some(1))
    );
    let rejects = std::fs::read_to_string(d.join("apollo.rejects.csv")).unwrap();
    assert!(
        rejects.lines().nth(1).unwrap().starts_with("6,Email,"),
        "{rejects}"
    );

    let again = json(handoff(d, &["import", "apollo.csv", "--json"]));
    assert!(
        again["already_imported"].is_object(),
        "the same file is recognised: {again}"
    );

    let one = json(handoff(
        d,
        &[
            "verify",
            "--address",
            "Info@Initech.io",
            "--offline",
            "--json",
        ],
    ));
    assert_eq!(
        one["normalized"], "info@initech.io",
        "as python-email-validator normalises it"
    );
    assert_eq!(
        (one["status"].as_str(), one["reason"].as_str()),
        (Some("risky"), Some("role_account"))
    );
    assert_eq!(one["syntax_valid"], true);
    let bad = json(handoff(
        d,
        &[
            "verify",
            "--address",
            "a..b@example.com",
            "--offline",
            "--json",
        ],
    ));
    assert_eq!(
        (bad["status"].as_str(), bad["syntax_valid"].as_bool()),
        (Some("invalid"), Some(false))
    );

    // Enrolling before verification: the gate refuses everyone.
    let early = json(handoff(
        d,
        &[
            "enroll",
            "--sequence",
            "sdr-cold",
            "--where",
            "contact.seniority != 'vp'",
            "--json",
        ],
    ));
    assert_eq!(early["enrolled"], 0);
    assert_eq!(early["refused"]["address not verified"], 3, "{early}");

    let summary = json(handoff(d, &["verify", "--all", "--offline", "--json"]));
    assert_eq!(summary["checked"], 4);
    assert_eq!(
        summary["by_verdict"]["risky (role_account)"], 1,
        "{summary}"
    );

    let scored = json(handoff(d, &["score", "--json"]));
    assert_eq!(scored["scored"], 4);
    let vera = json(handoff(d, &["contacts", "show", "vera@acme.io", "--json"]));
    let score = &vera["prospect"]["score"];
    assert!(score["score"].as_u64().unwrap() > 0, "{score}");
    assert!(
        score["reasons"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["text"].as_str().unwrap().starts_with('+')),
        "reasons name the points: {score}"
    );
    assert_eq!(vera["prospect"]["contact"]["seniority"], "vp");
    assert_eq!(
        vera["prospect"]["contact"]["field_sources"]["title"]["file"],
        "apollo.csv"
    );

    let listed = json(handoff(
        d,
        &[
            "contacts",
            "list",
            "--where",
            "account.employees >= 1000",
            "--json",
        ],
    ));
    assert_eq!(listed.as_array().unwrap().len(), 2);

    let enrolled = json(handoff(d, &["enroll", "--sequence", "sdr-cold", "--json"]));
    assert_eq!(
        enrolled["awaiting_approval"], 1,
        "the VP waits for a person: {enrolled}"
    );
    assert_eq!(enrolled["enrolled"], 2, "{enrolled}");
    assert_eq!(enrolled["refused"]["risky (role_account)"], 1, "{enrolled}");

    let pending = json(handoff(d, &["approvals", "list", "--json"]));
    let pending = pending.as_array().unwrap();
    assert_eq!(pending.len(), 1);
    assert_eq!(
        pending[0]["escalation"]["rule_id"],
        "strategic-or-executive"
    );
    assert_eq!(pending[0]["escalation"]["assignee"], "dana");
    let id = pending[0]["escalation"]["id"].as_str().unwrap();
    let approved = ok(handoff(d, &["approvals", "approve", id]));
    assert!(approved.contains("is enrolled in sdr-cold"), "{approved}");
    let twice = handoff(d, &["approvals", "approve", id]);
    assert!(!twice.status.success());

    // The risky address goes in only by a person's explicit decision.
    let risky = json(handoff(
        d,
        &[
            "enroll",
            "--sequence",
            "sdr-cold",
            "--where",
            "contact.email == 'info@initech.io'",
            "--allow-risky",
            "--json",
        ],
    ));
    assert_eq!(risky["enrolled"], 1, "{risky}");
    let tail = ok(handoff(
        d,
        &[
            "ledger",
            "tail",
            "--kind",
            "risky_address_allowed",
            "--json",
        ],
    ));
    assert_eq!(tail.lines().count(), 1);
    assert!(tail.contains("\"human\""), "{tail}");

    let unknown = handoff(d, &["enroll", "--sequence", "nope"]);
    assert!(
        stderr(&unknown).contains("no sequence `nope`"),
        "{}",
        stderr(&unknown)
    );
}

#[test]
fn titles_normalize_prints_json() {
    let dir = tempfile::tempdir().unwrap();
    let out = json(handoff(
        dir.path(),
        &["titles", "normalize", "Co-founder & CTO", "--json"],
    ));
    assert_eq!(
        out,
        serde_json::json!({"seniority": "c_suite", "department": "engineering"})
    );
    let out = json(handoff(
        dir.path(),
        &["titles", "normalize", "Gerente de ventas", "--json"],
    ));
    assert_eq!(
        out,
        serde_json::json!({"seniority": "manager", "department": "sales"})
    );
}

#[test]
fn import_errors_are_one_sentence() {
    let dir = init_workspace();
    let d = dir.path();
    std::fs::write(d.join("people.csv"), "name,company\nAda,Acme\n").unwrap();
    let out = handoff(d, &["import", "people.csv"]);
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(
        err.contains("no email column found") && err.contains("--map email="),
        "{err}"
    );
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    let out = handoff(d, &["import", "people.csv", "--map", "email=Mail"]);
    assert!(
        stderr(&out).contains("no column `Mail`"),
        "{}",
        stderr(&out)
    );
    let out = handoff(d, &["import", "missing.csv"]);
    assert!(stderr(&out).contains("missing.csv"), "{}", stderr(&out));
}

#[test]
fn lookalike_and_signals_feed_the_score() {
    let dir = init_workspace();
    let d = dir.path();
    let playbook = d.join("handoff.toml");
    let text = std::fs::read_to_string(&playbook).unwrap();
    let text = text.replacen(
        "[list_building]",
        "[icp.lookalike]\nwon_accounts = \"won.csv\"   # accounts we won\nweight = 20\n\n[[icp.rule]]\nid = \"changed-jobs\"\nwhen = \"signal.job_change\"\npoints = 5\nreason = \"Changed jobs: a new budget holder\"\n\n[list_building]",
        1,
    );
    std::fs::write(&playbook, text).unwrap();
    std::fs::write(d.join("won.csv"), "domain,industry,employees,technologies,country\nwon.io,fintech,300,\"snowflake, dbt\",Germany\n").unwrap();
    ok(handoff(d, &["policy", "check"]));

    std::fs::write(d.join("a.csv"), "email,company,domain,industry,employees,technologies,country\nina@globex.io,Globex,globex.io,Fintech,320,Snowflake,Germany\n").unwrap();
    ok(handoff(d, &["import", "a.csv"]));
    std::fs::write(
        d.join("b.csv"),
        "email,company,domain\nina@globex.io,Initech,initech.io\n",
    )
    .unwrap();
    ok(handoff(d, &["import", "b.csv"]));
    ok(handoff(d, &["score"]));
    let shown = json(handoff(d, &["contacts", "show", "ina@globex.io", "--json"]));
    let texts: Vec<String> = shown["prospect"]["score"]["reasons"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["text"].as_str().unwrap().to_string())
        .collect();
    assert!(texts.iter().any(|t| t.contains("lookalike")), "{texts:?}");
    assert!(
        texts.iter().any(|t| t.starts_with("+5")),
        "the job change counts: {texts:?}"
    );
    assert_eq!(
        shown["prospect"]["signals"],
        serde_json::json!(["job_change"])
    );

    std::fs::remove_file(d.join("won.csv")).unwrap();
    let out = handoff(d, &["score"]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("won_accounts file"),
        "{}",
        stderr(&out)
    );
}
