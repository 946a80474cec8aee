use crate::*;

fn assert_one_clear_sentence(out: &std::process::Output, needle: &str) {
    assert!(!out.status.success(), "should fail: {}", stdout(out));
    let err = stderr(out);
    assert!(err.contains(needle), "expected `{needle}` in:\n{err}");
    assert!(!err.contains("panicked"), "{err}");
    assert_eq!(
        err.trim().lines().count(),
        1,
        "one sentence, not a dump:\n{err}"
    );
}

#[test]
fn a_wrong_scheme_is_named() {
    let dir = init_workspace();
    let out = handoff(
        dir.path(),
        &[
            "--database-url",
            "mysql://root@localhost/handoff",
            "ledger",
            "tail",
        ],
    );
    assert_one_clear_sentence(
        &out,
        "is not a database URL handoff understands: use sqlite://PATH or postgres://",
    );
}

#[test]
fn an_unreachable_server_is_named_without_its_password() {
    let dir = init_workspace();
    let out = handoff(
        dir.path(),
        &[
            "--database-url",
            "postgres://app:hunter2@127.0.0.1:1/handoff",
            "migrate",
        ],
    );
    assert_one_clear_sentence(
        &out,
        "cannot reach the PostgreSQL server at 127.0.0.1:1/handoff: connection refused",
    );
    assert!(!stderr(&out).contains("hunter2"));
}

#[test]
fn a_database_from_a_newer_handoff_is_refused() {
    let dir = init_workspace();
    mark_as_migrated_by_a_newer_handoff(dir.path());
    let out = handoff(dir.path(), &["ledger", "tail"]);
    assert_one_clear_sentence(&out, "upgrade handoff");
    let doctor = handoff(dir.path(), &["doctor"]);
    assert!(!doctor.status.success());
    assert!(
        stdout(&doctor).contains("newer than this binary knows"),
        "{}",
        stdout(&doctor)
    );
}

/// Marks the workspace database as migrated by a future handoff.
fn mark_as_migrated_by_a_newer_handoff(dir: &std::path::Path) {
    let conn = rusqlite::Connection::open(dir.join("handoff.db")).unwrap();
    conn.execute(
        "INSERT INTO schema_migrations (version, name, applied_at) VALUES (999, 'future', 0)",
        [],
    )
    .unwrap();
}

#[test]
fn a_missing_playbook_says_how_to_make_one() {
    let dir = tempfile::tempdir().unwrap();
    let out = handoff(dir.path(), &["policy", "check"]);
    assert_one_clear_sentence(&out, "create one with `handoff init`");
}

#[test]
fn a_playbook_with_many_mistakes_reports_them_all() {
    let dir = tempfile::tempdir().unwrap();
    let playbook = dir.path().join("handoff.toml");
    let text = handoff_domain::playbook::DEFAULT_PLAYBOOK
        .replacen("time_zone =", "time_zon =", 1)
        .replacen("severity = \"block\"", "severity = \"blok\"", 1)
        .replacen("excellent = 80", "excellent = \"high\"", 1);
    std::fs::write(&playbook, text).unwrap();
    let out = handoff(dir.path(), &["policy", "check"]);
    assert!(!out.status.success());
    let text = stdout(&out);
    let located: Vec<&str> = text
        .lines()
        .filter(|l| l.starts_with("handoff.toml:"))
        .collect();
    assert!(located.len() >= 3, "{text}");
    for line in &located {
        let mut parts = line.splitn(4, ':');
        let (_, l, c) = (parts.next(), parts.next().unwrap(), parts.next().unwrap());
        assert!(
            l.parse::<usize>().is_ok() && c.parse::<usize>().is_ok(),
            "{line}"
        );
    }
    assert!(text.contains("blok"), "{text}");

    let json = handoff(dir.path(), &["policy", "check", "--json"]);
    let v: serde_json::Value = serde_json::from_str(&stdout(&json)).unwrap();
    assert_eq!(v["valid"], false);
    assert_eq!(v["diagnostics"].as_array().unwrap().len(), located.len());
}
