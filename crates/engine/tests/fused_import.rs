//! An import that verifies and scores as it writes leaves every contact
//! exactly as import, then `verify --all --offline`, then `score` leave it:
//! the same verdicts, scores, tiers and reasons, on SQLite and PostgreSQL.
//! The files cover what scoring reads beyond the row: merges across
//! batches, job changes (signals), account tags, an account whose size
//! changes under contacts the second file does not mention, and lookalike
//! similarity to won accounts.
#![allow(clippy::unwrap_used, clippy::panic)]

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use handoff_domain::Actor;
use handoff_domain::playbook::{self, DEFAULT_PLAYBOOK, Playbook};
use handoff_domain::scoring::LookalikeModel;
use handoff_domain::verification::Verdict;
use handoff_engine::list_building::import::{ImportOptions, contact_history, import_file};
use handoff_engine::list_building::lookalike;
use handoff_engine::list_building::score::{ImportAssessor, score_all};
use handoff_engine::list_building::verify::verify_all;
use handoff_mail::address::verify::Verifier;
use handoff_store::{CommandContext, Schema, Store, StoredScore};
use handoff_store_postgres::PostgresStore;
use handoff_store_sqlite::{Durability, SqliteStore};
use handoff_testkit::TestPg;

/// The default rules, plus rules on what only the database knows.
const EXTRA_RULES: &str = r#"
[[icp.rule]]
id = "strategic"
when = "'strategic' in account.tags"
points = 10
reason = "An account we chose"

[[icp.rule]]
id = "moved"
when = "signal.job_change"
points = 15
reason = "New in the job"

[[icp.rule]]
id = "deliverable"
when = "contact.verification == 'valid'"
points = 5
reason = "The address is deliverable"

[icp.lookalike]
won_accounts = "won.csv"
weight = 20
"#;

const WON: &str = "domain,industry,employees,technologies,country\n\
won-one.io,software,300,\"snowflake, dbt\",United Kingdom\n\
won-two.io,fintech,1200,looker,Germany\n";

const HEADER: &str =
    "first_name,last_name,title,company,email,employees,industry,domain,country,technologies\n";

/// The first file: new people at new companies, a repeat further down (a
/// merge inside the file), a role inbox, a throwaway domain, an address the
/// validator refuses, a non-ASCII local part.
fn first_file() -> String {
    let mut csv = HEADER.to_string();
    let rows = [
        "Ada,Lovelace,VP Finance,Acme,ada@acme.io,120,Software,acme.io,United Kingdom,\"Snowflake, dbt\"",
        "Bob,Stone,Analyst,Acme,bob@acme.io,120,Software,acme.io,United Kingdom,\"Snowflake, dbt\"",
        "Cy,Young,CFO,Globex,cy@globex.de,2000,Fintech,globex.de,Germany,Looker",
        "Sales,Team,,Globex,sales@globex.de,2000,Fintech,globex.de,Germany,Looker",
        "Dee,Ray,Head of Sales,Throwaway,dee@mailinator.com,,,mailinator.com,,",
        "Eve,Dot,Director of Finance,Initech,eve..dot@initech.com,40,Retail,initech.com,France,",
        "Zoë,Bær,CEO,Umlaut,zoë@umlaut.de,75,Ecommerce,umlaut.de,Germany,Snowflake",
        "Fay,Wu,Engineer,Hooli,fay@hooli.com,9000,Software,hooli.com,United States,\"Snowflake, Looker\"",
        "Gus,Li,CTO,Solo,gus@solo.dev,3,Software,solo.dev,,",
        "Ada,Lovelace,CFO,Acme,ADA@acme.io,120,Software,acme.io,United Kingdom,\"Snowflake, dbt\"",
        "Hal,Ng,Controller,Nobody,hal@nobody.local,,,nobody.local,,",
    ];
    for row in rows {
        csv.push_str(row);
        csv.push('\n');
    }
    csv
}

/// The second file: Bob changes company (a job change), Cy changes title,
/// Acme shrinks below the size rule (Ada is not in this file but her score
/// moves), new people at a tagged and an untagged account.
fn second_file() -> String {
    let mut csv = HEADER.to_string();
    let rows = [
        "Bob,Stone,Analyst,Globex,bob@acme.io,2000,Fintech,globex.de,Germany,Looker",
        "Cy,Young,Chief Financial Officer,Globex,cy@globex.de,2000,Fintech,globex.de,Germany,Looker",
        "Ian,Hope,VP Sales,Acme,ian@acme.io,30,Software,acme.io,United Kingdom,\"Snowflake, dbt\"",
        "Jo,March,Finance Manager,Globex,jo@globex.de,2000,Fintech,globex.de,Germany,Looker",
        "Kim,Park,Finance Director,Newco,kim@newco.io,600,Software,newco.io,United Kingdom,Snowflake",
        "Fay,Wu,Engineer,Hooli,fay@hooli.com,9000,Software,hooli.com,United States,\"Snowflake, Looker\"",
    ];
    for row in rows {
        csv.push_str(row);
        csv.push('\n');
    }
    csv
}

fn playbook(dir: &Path) -> (Playbook, LookalikeModel) {
    let text = format!("{DEFAULT_PLAYBOOK}\n{EXTRA_RULES}");
    let playbook = playbook::parse(&text, "test playbook").unwrap();
    std::fs::write(dir.join("won.csv"), WON).unwrap();
    let won = lookalike::from_csv(&dir.join("won.csv")).unwrap();
    (playbook, won)
}

/// Every contact's verdict and stored score, by address.
type Outcomes = BTreeMap<String, (Option<Verdict>, Option<StoredScore>)>;

async fn outcomes(store: &dyn Store) -> Outcomes {
    let mut out = BTreeMap::new();
    let mut after = None;
    loop {
        let page = store.prospects(after, 3).await.unwrap();
        let Some(last) = page.last() else { break };
        after = Some(last.contact.id);
        for p in page {
            out.insert(
                p.contact.email.to_string(),
                (p.contact.verification, p.score),
            );
        }
    }
    out
}

async fn kinds(store: &dyn Store) -> BTreeMap<String, u64> {
    store.count_by_kind().await.unwrap().into_iter().collect()
}

/// Imports both files one way or the other; tags Globex in between and
/// rescores, as a person would after tagging.
async fn run(store: Arc<dyn Store>, dir: &Path, fused: bool) -> Outcomes {
    let ctx = CommandContext::new(Actor::human("tester"), None);
    let (playbook, won) = playbook(dir);
    let options = ImportOptions {
        // Small batches: repeats and accounts cross batch boundaries.
        batch_size: 3,
        force: true,
        assess: fused.then(|| {
            Arc::new(ImportAssessor::new(&playbook, Some(won.clone())).unwrap())
                as Arc<dyn handoff_store::import_plan::Assess>
        }),
        ..ImportOptions::default()
    };
    let separately = |store: Arc<dyn Store>| {
        let ctx = ctx.clone();
        let playbook = &playbook;
        let won = won.clone();
        async move {
            verify_all(Arc::clone(&store), &ctx, &Verifier::offline(), 4, &|_| {})
                .await
                .unwrap();
            score_all(store.as_ref(), &ctx, playbook, Some(won), &|_| {})
                .await
                .unwrap();
        }
    };
    for (name, text) in [("first.csv", first_file()), ("second.csv", second_file())] {
        let path = dir.join(name);
        std::fs::write(&path, text).unwrap();
        let report = import_file(store.as_ref(), &ctx, &path, &options, &|_, _| {})
            .await
            .unwrap();
        assert!(report.imported > 0, "{report:?}");
        if !fused {
            separately(Arc::clone(&store)).await;
        }
        if name == "first.csv" {
            store
                .tag_account(&ctx, "globex.de", "strategic")
                .await
                .unwrap();
            score_all(store.as_ref(), &ctx, &playbook, Some(won.clone()), &|_| {})
                .await
                .unwrap();
        }
    }
    outcomes(store.as_ref()).await
}

fn reason_ids(score: &StoredScore) -> Vec<String> {
    score
        .reasons
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r.get("skipped").is_none())
        .map(|r| r["rule_id"].as_str().unwrap().to_string())
        .collect()
}

fn assert_same(fused: &Outcomes, separate: &Outcomes) {
    assert_eq!(
        fused.keys().collect::<Vec<_>>(),
        separate.keys().collect::<Vec<_>>()
    );
    for (email, outcome) in fused {
        assert_eq!(Some(outcome), separate.get(email), "{email}");
        assert!(outcome.0.is_some(), "{email} is verified");
        assert!(outcome.1.is_some(), "{email} is scored");
    }
    // The files reach every input the score reads, so the test can fail.
    let score = |email: &str| fused[email].1.clone().unwrap();
    let verdict = |email: &str| fused[email].0.unwrap().to_string();
    assert!(
        reason_ids(&score("bob@acme.io")).contains(&"moved".to_string()),
        "bob@acme.io: {:?}",
        score("bob@acme.io")
    );
    assert!(
        reason_ids(&score("jo@globex.de")).contains(&"strategic".to_string()),
        "jo@globex.de: {:?}",
        score("jo@globex.de")
    );
    assert!(
        reason_ids(&score("ada@acme.io")).contains(&"too-small".to_string()),
        "ada@acme.io: {:?}",
        score("ada@acme.io")
    );
    assert!(
        reason_ids(&score("kim@newco.io")).contains(&"lookalike".to_string()),
        "kim@newco.io: {:?}",
        score("kim@newco.io")
    );
    assert_eq!(verdict("sales@globex.de"), "risky (role_account)");
    assert_eq!(verdict("dee@mailinator.com"), "risky (disposable)");
    assert_eq!(verdict("eve..dot@initech.com"), "invalid (syntax)");
    assert_eq!(verdict("hal@nobody.local"), "invalid (syntax)");
    assert_eq!(verdict("zoë@umlaut.de"), "risky (smtputf8)");
    assert_eq!(verdict("fay@hooli.com"), "valid");
}

async fn check_the_ledger(store: &dyn Store) {
    let kinds = kinds(store).await;
    let n = |kind: &str| kinds.get(kind).copied().unwrap_or(0);
    // New contacts are told in one entry per batch; per-contact entries are
    // left for merges, job changes and changed scores.
    assert!(n("contacts_imported") >= 2, "{kinds:?}");
    assert_eq!(n("contact_imported"), 0, "{kinds:?}");
    assert_eq!(n("address_verified"), 0, "{kinds:?}");
    assert_eq!(n("job_changed"), 1, "{kinds:?}");
    assert!(n("contact_merged") >= 3, "{kinds:?}");
    assert!(n("contact_scored") >= 1, "{kinds:?}");
    // A new contact's history still shows the batch that created it.
    let kim = store
        .find_contact_by_email(&handoff_domain::EmailAddress::parse("kim@newco.io").unwrap())
        .await
        .unwrap()
        .unwrap();
    let history = contact_history(store, &kim, 20).await.unwrap();
    assert!(
        history.iter().any(|e| e.kind == "contacts_imported"),
        "{history:?}"
    );
}

#[tokio::test]
async fn fused_and_separate_passes_agree_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let mut results = Vec::new();
    for fused in [true, false] {
        let db = dir.path().join(format!("fused-{fused}.db"));
        let store = SqliteStore::open(&db, Durability::Normal).unwrap();
        store.migrate().await.unwrap();
        let store: Arc<dyn Store> = Arc::new(store);
        results.push(run(Arc::clone(&store), dir.path(), fused).await);
        if fused {
            check_the_ledger(store.as_ref()).await;
        }
    }
    assert_same(&results[0], &results[1]);
}

#[tokio::test]
async fn fused_and_separate_passes_agree_on_postgres() {
    let dir = tempfile::tempdir().unwrap();
    let mut results = Vec::new();
    let mut dbs = Vec::new();
    for fused in [true, false] {
        let Some(db) = TestPg::create().await else {
            return;
        };
        let store = PostgresStore::connect(&db.url).await.unwrap();
        store.migrate().await.unwrap();
        let store: Arc<dyn Store> = Arc::new(store);
        results.push(run(Arc::clone(&store), dir.path(), fused).await);
        if fused {
            check_the_ledger(store.as_ref()).await;
        }
        dbs.push(db);
    }
    assert_same(&results[0], &results[1]);
}
