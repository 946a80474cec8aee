use crate::*;

#[test]
fn init_then_check_doctor_and_tail() {
    let dir = init_workspace();
    assert!(dir.path().join("handoff.toml").is_file());
    assert!(
        dir.path().join("handoff.db").is_file(),
        "the SQLite database sits beside the playbook"
    );

    let check = ok(handoff(dir.path(), &["policy", "check"]));
    assert!(check.contains("is valid: policy version pv-"), "{check}");

    let doctor = ok(handoff(dir.path(), &["doctor", "--json"]));
    let report: serde_json::Value = serde_json::from_str(&doctor).unwrap();
    assert_eq!(report["healthy"], true, "{doctor}");
    let names: Vec<&str> = report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["check"].as_str().unwrap())
        .collect();
    for expected in [
        "playbook",
        "database reachable",
        "database migrated",
        "model",
    ] {
        assert!(names.contains(&expected), "{names:?}");
    }

    let tail = ok(handoff(dir.path(), &["ledger", "tail", "--json"]));
    let kinds: Vec<String> = tail
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["kind"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    assert_eq!(
        kinds,
        [
            "schema_migrated",
            "workspace_initialized",
            "sequence_defined",
            "sequence_defined"
        ]
    );

    // init refuses to overwrite a playbook someone may have edited.
    let again = handoff(dir.path(), &["init"]);
    assert!(!again.status.success());
    assert!(
        stderr(&again).contains("already exists"),
        "{}",
        stderr(&again)
    );
}

#[test]
fn doctor_fails_on_a_broken_playbook_and_a_missing_secret() {
    let dir = init_workspace();
    let path = dir.path().join("handoff.toml");
    let text = std::fs::read_to_string(&path).unwrap();
    // Point the model at an API whose key is not in the environment.
    let text = text.replace(
        "backend = \"template\"",
        "backend = \"openai\"\nmodel = \"gpt-4o-mini\"\napi_key_env = \"HANDOFF_TEST_NO_SUCH_KEY\"",
    );
    std::fs::write(&path, &text).unwrap();
    let out = handoff(dir.path(), &["doctor"]);
    assert!(!out.status.success(), "{}", stdout(&out));
    assert!(
        stdout(&out).contains("HANDOFF_TEST_NO_SUCH_KEY is not set"),
        "{}",
        stdout(&out)
    );

    std::fs::write(&path, "[workspace]\nnam = 'x'\n").unwrap();
    let out = handoff(dir.path(), &["doctor"]);
    assert!(!out.status.success());
    assert!(stdout(&out).contains("FAIL"), "{}", stdout(&out));
}

#[test]
fn users_and_the_contact_filter_of_the_tail() {
    let dir = init_workspace();
    ok(handoff(
        dir.path(),
        &["users", "add", "morgan", "--role", "manager"],
    ));
    ok(handoff(
        dir.path(),
        &[
            "users",
            "add",
            "dana",
            "--manager",
            "morgan",
            "--email",
            "Dana@Northwind.example",
        ],
    ));
    let list: serde_json::Value =
        serde_json::from_str(&ok(handoff(dir.path(), &["users", "list", "--json"]))).unwrap();
    assert_eq!(list.as_array().unwrap().len(), 2);
    assert_eq!(list[0]["email"], "dana@northwind.example");

    let dup = handoff(dir.path(), &["users", "add", "dana"]);
    assert!(!dup.status.success());
    assert!(
        stderr(&dup).contains("a user named `dana` already exists"),
        "{}",
        stderr(&dup)
    );

    let bad = handoff(dir.path(), &["ledger", "tail", "--contact", "not-an-id"]);
    assert!(!bad.status.success());
    assert!(
        stderr(&bad).contains("--contact takes a contact id"),
        "{}",
        stderr(&bad)
    );
}

#[test]
fn doctor_does_not_create_a_missing_database() {
    let dir = init_workspace();
    std::fs::remove_file(dir.path().join("handoff.db")).unwrap();
    let _ = std::fs::remove_file(dir.path().join("handoff.db-wal"));
    let _ = std::fs::remove_file(dir.path().join("handoff.db-shm"));
    let out = handoff(dir.path(), &["doctor"]);
    assert!(!out.status.success());
    assert!(stdout(&out).contains("no database at"), "{}", stdout(&out));
    assert!(!dir.path().join("handoff.db").exists(), "doctor only looks");
}

#[test]
fn the_playbook_with_ten_mistakes_reports_ten_locations() {
    let dir = tempfile::tempdir().unwrap();
    let fixture = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../domain/tests/playbooks/ten_mistakes.toml"
    );
    std::fs::copy(fixture, dir.path().join("handoff.toml")).unwrap();
    let out = handoff(dir.path(), &["policy", "check"]);
    assert!(!out.status.success());
    let text = stdout(&out);
    let located = text
        .lines()
        .filter(|l| l.starts_with("handoff.toml:"))
        .count();
    assert_eq!(located, 10, "{text}");
    assert!(text.contains("10 problem(s) in handoff.toml"), "{text}");
}

#[test]
fn quickstart_runs_the_first_stage_on_sample_data() {
    let dir = tempfile::tempdir().unwrap();
    let out = ok(handoff(dir.path(), &["quickstart", "demo"]));
    assert!(out.contains("(apollo format): 16 contacts"), "{out}");
    assert!(out.contains("wait for a person's approval"), "{out}");
    let demo = dir.path().join("demo");
    let doctor = ok(handoff(&demo, &["doctor"]));
    assert!(doctor.contains("All good."), "{doctor}");
    let pending: serde_json::Value =
        serde_json::from_str(&ok(handoff(&demo, &["approvals", "list", "--json"]))).unwrap();
    assert!(!pending.as_array().unwrap().is_empty());
    let again = handoff(dir.path(), &["quickstart", "demo"]);
    assert!(
        !again.status.success(),
        "quickstart never overwrites a workspace"
    );
}
