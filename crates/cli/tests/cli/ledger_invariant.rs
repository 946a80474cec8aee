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
        // Sends one message to the file outbox; nothing in the database.
        vec!["send-test-email", "--to", "me@example.org"],
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

/// The review queue's and the inbox's commands, on the quickstart's
/// workspace (eight drafts in dana's queue): each that changes state
/// appends exactly its entries; reads and refusals change nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn review_and_inbox_commands_append_to_the_ledger() {
    use std::os::unix::fs::PermissionsExt;

    use handoff_domain::escalation::{Priority, Stage};
    use handoff_domain::{Actor, EmailAddress};
    use handoff_store::{CommandContext, Contacts, Escalations, NewEscalation};
    use handoff_store_sqlite::{Durability, SqliteStore};

    let dir = tempfile::tempdir().unwrap();
    ok(command(dir.path(), &["quickstart"])
        .env("HANDOFF_USER", "dana")
        .output()
        .unwrap());
    let ws = dir.path().join("handoff-demo");
    let db = ws.join("handoff.db");
    let editor = ws.join("edit.sh");
    std::fs::write(
        &editor,
        "#!/bin/sh\nprintf 'PS: happy to help either way.\\n' >> \"$1\"\n",
    )
    .unwrap();
    std::fs::set_permissions(&editor, std::fs::Permissions::from_mode(0o755)).unwrap();
    let run = |args: &[&str]| {
        command(&ws, args)
            .env("HANDOFF_USER", "dana")
            .env_remove("VISUAL")
            .env("EDITOR", &editor)
            .output()
            .unwrap()
    };
    let drafts: Vec<String> =
        serde_json::from_str::<serde_json::Value>(&ok(run(&["queue", "list", "--json"])))
            .unwrap()
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d["id"].as_str().unwrap().to_string())
            .collect();
    assert_eq!(drafts.len(), 8);
    ok(run(&["users", "add", "morgan", "--role", "manager"]));
    ok(run(&["users", "add", "sam", "--manager", "morgan"]));

    // Two tasks for the inbox, one overdue, as the engagement stage opens them.
    let store = SqliteStore::open(&db, Durability::Normal).unwrap();
    let contact = |email: &str| {
        let store = &store;
        let email = EmailAddress::parse(email).unwrap();
        async move {
            store
                .find_contact_by_email(&email)
                .await
                .unwrap()
                .unwrap()
                .id
        }
    };
    let (tom, amara) = (
        contact("tom.becker@ledgerly.io").await,
        contact("amara@northgate.dev").await,
    );
    let ctx = CommandContext::new(Actor::system("engagement"), None);
    let task = |contact, hours| NewEscalation {
        contact_id: Some(contact),
        stage: Stage::Engagement,
        rule_id: "positive-reply".into(),
        reason: "replied".into(),
        priority: Priority::High,
        assignee: Some(handoff_domain::users::Username::parse("sam").unwrap()),
        due_at: Some(chrono::Utc::now() + chrono::Duration::hours(hours)),
    };
    let take_id = store
        .open_escalation(&ctx, &task(tom, 8))
        .await
        .unwrap()
        .id
        .to_string();
    let overdue_id = store
        .open_escalation(&ctx, &task(amara, -1))
        .await
        .unwrap()
        .id
        .to_string();
    drop(store);

    let steps: Vec<(Vec<&str>, Vec<&str>)> = vec![
        (
            vec!["queue", "reassign", &drafts[0], "--to", "sam"],
            vec!["draft_reassigned"],
        ),
        (
            vec!["queue", "reject", &drafts[1], "--reason", "wrong person"],
            vec!["draft_reviewed"],
        ),
        (
            vec!["queue", "edit", &drafts[2]],
            vec!["draft_reviewed", "message_queued"],
        ),
        (
            vec!["queue", "approve", &drafts[3]],
            vec!["draft_reviewed", "message_queued"],
        ),
        (
            vec!["queue", "approve", "--all-clean"],
            ["draft_reviewed", "message_queued"].repeat(4),
        ),
        (
            vec!["inbox", "take", &take_id],
            vec!["enrollment_stopped", "prospect_taken_over"],
        ),
        (
            vec!["inbox", "hand-back", &take_id, "--note", "not now"],
            vec!["prospect_handed_back", "escalation_resolved"],
        ),
        (
            vec!["worker", "--once", "--no-drafting"],
            vec!["escalation_overdue"],
        ),
        (
            vec![
                "inbox",
                "resolve",
                &overdue_id,
                "--resolution",
                "called back",
            ],
            vec!["escalation_resolved"],
        ),
    ];
    for (args, kinds) in &steps {
        let before_state = state_digest(&db);
        let before = ledger_len(&db);
        ok(run(args));
        assert_ne!(
            before_state,
            state_digest(&db),
            "{args:?} should change state"
        );
        assert_eq!(
            ledger_len(&db) - before,
            kinds.len() as i64,
            "{args:?} appends {kinds:?}"
        );
        let tail = ok(run(&[
            "ledger",
            "tail",
            "--json",
            "-n",
            &kinds.len().to_string(),
        ]));
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

    // Reads and refusals change nothing and append nothing.
    for args in [
        vec!["queue", "list"],
        vec!["queue", "list", "--all", "--expired"],
        vec!["queue", "show", &drafts[0]],
        vec!["inbox", "list"],
        vec!["inbox", "list", "--overdue", "--approvals"],
        vec!["queue", "approve", &drafts[1]],
        vec!["queue", "reject", &drafts[2], "--reason", "too late"],
        vec!["queue", "reassign", &drafts[2], "--to", "sam"],
        vec!["queue", "edit", &drafts[3]],
        vec!["inbox", "take", &take_id],
        vec![
            "inbox",
            "hand-back",
            "tom.becker@ledgerly.io",
            "--note",
            "again",
        ],
        vec!["inbox", "resolve", &overdue_id, "--resolution", "again"],
    ] {
        let before_state = state_digest(&db);
        let before = ledger_len(&db);
        let _ = run(&args);
        assert_eq!(
            before_state,
            state_digest(&db),
            "{args:?} must not change state"
        );
        assert_eq!(before, ledger_len(&db), "{args:?} must not append");
    }
}
