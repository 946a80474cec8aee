//! The ledger invariant, command by command: whenever a command changes any
//! table, the ledger grows in the same run. A digest of every table but the
//! ledger is taken before and after each state-changing command.

use std::path::Path;

use crate::*;

/// A digest of every row of every table except the ledger.
pub(crate) fn state_digest(db: &Path) -> String {
    let conn = rusqlite::Connection::open(db).unwrap();
    let tables: Vec<String> = conn
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT IN ('ledger', 'sqlite_sequence') ORDER BY name")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    let mut digest = String::new();
    for table in tables {
        let mut stmt = conn
            .prepare(&format!("SELECT * FROM \"{table}\" ORDER BY rowid"))
            .unwrap();
        let columns = stmt.column_count();
        let mut rows = stmt.query([]).unwrap();
        digest.push_str(&format!("[{table}]"));
        while let Some(row) = rows.next().unwrap() {
            for i in 0..columns {
                let v: rusqlite::types::Value = row.get(i).unwrap();
                digest.push_str(&format!("{v:?}|"));
            }
            digest.push('\n');
        }
    }
    digest
}

pub(crate) fn ledger_len(db: &Path) -> i64 {
    let conn = rusqlite::Connection::open(db).unwrap();
    conn.query_row("SELECT COUNT(*) FROM ledger", [], |r| r.get(0))
        .unwrap()
}

#[test]
fn every_state_changing_command_appends_to_the_ledger() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("handoff.db");
    std::fs::write(
        dir.path().join("people.csv"),
        "email,first_name,title,company,domain\nvera@acme.io,Vera,VP Finance,Acme,acme.io\nsam@acme.io,Sam,Analyst,Acme,acme.io\n",
    )
    .unwrap();

    // Each command, and the ledger kinds it must add.
    let steps: Vec<(Vec<&str>, Vec<&str>)> = vec![
        (
            vec!["init"],
            vec![
                "schema_migrated",
                "workspace_initialized",
                "sequence_defined",
                "sequence_defined",
            ],
        ),
        (
            vec!["users", "add", "morgan", "--role", "manager"],
            vec!["user_added"],
        ),
        (
            vec!["users", "add", "dana", "--manager", "morgan"],
            vec!["user_added"],
        ),
        (
            vec!["jobs", "enqueue", "probe", "--count", "3"],
            vec!["jobs_enqueued"],
        ),
        (
            vec!["jobs", "enqueue", "failing_probe", "--max-attempts", "1"],
            vec!["jobs_enqueued"],
        ),
        (
            vec!["import", "people.csv", "--owner", "dana"],
            vec![
                "import_started",
                "account_created",
                "contacts_imported",
                "import_finished",
            ],
        ),
        (
            vec!["verify", "--all", "--offline"],
            vec!["address_verified", "address_verified"],
        ),
        // Vera's score changes with the playbook edit made before this step.
        (vec!["score"], vec!["contact_scored"]),
        (
            vec!["enroll", "--sequence", "sdr-cold"],
            vec!["escalation_opened", "enrolled"],
        ),
        (
            vec!["draft", "--due"],
            vec!["research_built", "draft_created", "draft_evaluated"],
        ),
        (
            vec!["worker", "--once", "--name", "w1"],
            vec![
                "probe_completed",
                "probe_completed",
                "probe_completed",
                "job_dead",
            ],
        ),
    ];
    for (args, kinds) in &steps {
        if args == &vec!["score"] {
            // The import scored already: only a changed rule gives `score`
            // something to change.
            let playbook = dir.path().join("handoff.toml");
            let text = std::fs::read_to_string(&playbook).unwrap();
            let edited = text.replacen("points = 15", "points = 20", 1);
            assert_ne!(
                text, edited,
                "the finance rule's points are in the playbook"
            );
            std::fs::write(&playbook, edited).unwrap();
        }
        let before_state = if db.exists() {
            state_digest(&db)
        } else {
            String::new()
        };
        let before = if db.exists() { ledger_len(&db) } else { 0 };
        ok(handoff(dir.path(), args));
        let after_state = state_digest(&db);
        let after = ledger_len(&db);
        assert_ne!(before_state, after_state, "{args:?} should change state");
        assert_eq!(
            after - before,
            kinds.len() as i64,
            "{args:?} appends {kinds:?}"
        );
        let tail = ok(handoff(
            dir.path(),
            &["ledger", "tail", "--json", "-n", &kinds.len().to_string()],
        ));
        let mut got: Vec<String> = tail
            .lines()
            .map(|l| {
                serde_json::from_str::<serde_json::Value>(l).unwrap()["kind"]
                    .as_str()
                    .unwrap()
                    .to_string()
            })
            .collect();
        let mut want: Vec<String> = kinds.iter().map(|k| k.to_string()).collect();
        got.sort();
        want.sort();
        assert_eq!(got, want, "{args:?}");
    }

    let dead = ok(handoff(
        dir.path(),
        &["jobs", "list", "--state", "dead", "--json"],
    ));
    let dead: serde_json::Value = serde_json::from_str(&dead).unwrap();
    let failing_job_id = dead[0]["id"].as_i64().unwrap().to_string();
    let before_state = state_digest(&db);
    let before = ledger_len(&db);
    ok(handoff(dir.path(), &["jobs", "retry", &failing_job_id]));
    assert_ne!(before_state, state_digest(&db));
    assert_eq!(ledger_len(&db) - before, 1);

    let pending: serde_json::Value =
        serde_json::from_str(&ok(handoff(dir.path(), &["approvals", "list", "--json"]))).unwrap();
    let approval = pending[0]["escalation"]["id"].as_str().unwrap().to_string();
    let before_state = state_digest(&db);
    let before = ledger_len(&db);
    ok(handoff(dir.path(), &["approvals", "approve", &approval]));
    assert_ne!(before_state, state_digest(&db));
    assert_eq!(ledger_len(&db) - before, 3, "approved, enrolled, resolved");

    // Commands that only read change nothing and append nothing.
    for args in [
        vec!["ledger", "tail"],
        vec!["users", "list"],
        vec!["jobs", "stats"],
        vec!["jobs", "list"],
        vec!["doctor"],
        vec!["policy", "check"],
        vec!["config", "show"],
        vec!["contacts", "list"],
        vec!["approvals", "list"],
        vec!["titles", "normalize", "CTO"],
        vec!["migrate"],
        vec!["mailboxes", "list"],
        vec!["mailboxes", "list", "--json"],
    ] {
        let before_state = state_digest(&db);
        let before = ledger_len(&db);
        let _ = handoff(dir.path(), &args);
        assert_eq!(
            before_state,
            state_digest(&db),
            "{args:?} must not change state"
        );
        assert_eq!(before, ledger_len(&db), "{args:?} must not append");
    }

    // A refused command changes nothing either.
    let before_state = state_digest(&db);
    let before = ledger_len(&db);
    assert!(
        !handoff(dir.path(), &["users", "add", "dana"])
            .status
            .success()
    );
    assert!(
        !handoff(dir.path(), &["users", "add", "sam", "--manager", "nobody"])
            .status
            .success()
    );
    assert_eq!(before_state, state_digest(&db));
    assert_eq!(before, ledger_len(&db));
}
