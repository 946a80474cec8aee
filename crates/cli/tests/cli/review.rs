//! The review queue and the escalation inbox through the binary: list,
//! show, approve, edit (with a script as $EDITOR), reject, reassign, bulk
//! approval; late approvals refused; veto drafts sent at their window's
//! end unless rejected or escalated; take-over, hand-back, resolve and the
//! SLA timer.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Output;

use chrono::{Duration, Utc};
use serde_json::Value;

use handoff_domain::escalation::{Priority, Stage};
use handoff_domain::{Actor, EmailAddress};
use handoff_store::{CommandContext, Contacts, Escalations, Inbox, NewEscalation};
use handoff_store_sqlite::{Durability, SqliteStore};

use crate::{command, ok, stderr, stdout};

fn as_user(dir: &Path, user: &str, args: &[&str]) -> Output {
    command(dir, args)
        .env("HANDOFF_USER", user)
        .output()
        .unwrap()
}

fn json(out: Output) -> Value {
    serde_json::from_str(&ok(out)).unwrap()
}

/// A shell script usable as $EDITOR.
fn editor(dir: &Path, name: &str, body: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path
}

fn edit(dir: &Path, draft: &str, script: &Path) -> Output {
    command(dir, &["queue", "edit", draft, "--json"])
        .env("HANDOFF_USER", "dana")
        .env_remove("VISUAL")
        .env("EDITOR", script)
        .output()
        .unwrap()
}

fn ledger_kinds(dir: &Path, n: usize) -> Vec<String> {
    ok(as_user(
        dir,
        "dana",
        &["ledger", "tail", "--json", "-n", &n.to_string()],
    ))
    .lines()
    .map(|l| {
        serde_json::from_str::<Value>(l).unwrap()["kind"]
            .as_str()
            .unwrap()
            .to_string()
    })
    .collect()
}

fn last_entry(dir: &Path) -> Value {
    let out = ok(as_user(
        dir,
        "dana",
        &["ledger", "tail", "--json", "-n", "1"],
    ));
    serde_json::from_str(out.lines().next().unwrap()).unwrap()
}

fn quickstart() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    ok(as_user(dir.path(), "dana", &["quickstart"]));
    let ws = dir.path().join("handoff-demo");
    crate::open_send_window(&ws);
    (dir, ws)
}

#[test]
fn the_queue_lists_shows_edits_rejects_reassigns_and_bulk_approves() {
    let (_dir, ws) = quickstart();
    let ws = ws.as_path();
    let listed = json(as_user(ws, "dana", &["queue", "list", "--json"]));
    let drafts: Vec<String> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(drafts.len(), 8, "{listed}");
    let deadlines: Vec<&str> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["review_deadline"].as_str().unwrap())
        .collect();
    let mut sorted = deadlines.clone();
    sorted.sort();
    assert_eq!(deadlines, sorted, "oldest window first");
    assert!(
        listed[0]["prospect"]["contact"]["email"].is_string(),
        "the contact comes with the draft: {}",
        listed[0]
    );
    // Someone else's queue is empty; everyone's has the eight.
    assert!(ok(as_user(ws, "tester", &["queue", "list"])).contains("Nothing waits"));
    assert_eq!(
        json(as_user(ws, "tester", &["queue", "list", "--all", "--json"]))
            .as_array()
            .unwrap()
            .len(),
        8
    );

    let shown = ok(as_user(ws, "dana", &["queue", "show", &drafts[0]]));
    for part in [
        "Subject: ",
        "Findings: none",
        "Grounding:",
        "cited: ",
        "review window closes",
        "score ",
    ] {
        assert!(shown.contains(part), "`{part}` in:\n{shown}");
    }
    let bad = as_user(ws, "dana", &["queue", "show", "not-a-draft"]);
    assert!(!bad.status.success());
    assert!(
        stderr(&bad).contains("is not a draft id"),
        "{}",
        stderr(&bad)
    );

    // An editor that changes nothing records nothing.
    let before = ledger_kinds(ws, 1000).len();
    let unchanged = edit(ws, &drafts[0], &editor(ws, "keep.sh", "true"));
    assert!(
        stdout(&unchanged).contains("unchanged"),
        "{}",
        stderr(&unchanged)
    );
    assert_eq!(ledger_kinds(ws, 1000).len(), before);
    // An edit that adds a guarantee is refused with the rule.
    let blocked = edit(
        ws,
        &drafts[0],
        &editor(
            ws,
            "promise.sh",
            "printf '\\nWe guarantee a three-day close.\\n' >> \"$1\"",
        ),
    );
    assert!(!blocked.status.success());
    assert!(
        stderr(&blocked).contains("guarantees"),
        "{}",
        stderr(&blocked)
    );
    assert!(stderr(&blocked).contains("block"), "{}", stderr(&blocked));
    assert_eq!(
        ledger_kinds(ws, 1000).len(),
        before,
        "a refused edit records nothing"
    );
    // A real edit: approved, with its normalised edit distance.
    let edited = json(edit(
        ws,
        &drafts[0],
        &editor(
            ws,
            "shorter.sh",
            "sed -i 's/Dana Reyes/Dana Reyes (Northwind)/' \"$1\"",
        ),
    ));
    assert_eq!(edited["outcome"], "approved", "{edited}");
    let distance = edited["edit_distance"].as_f64().unwrap();
    assert!(distance > 0.0 && distance < 0.2, "{distance}");
    assert_eq!(ledger_kinds(ws, 2), ["draft_reviewed", "message_queued"]);
    let reviewed = &ledger_kinds(ws, 2);
    assert_eq!(reviewed.len(), 2);
    let ledger = ok(as_user(ws, "dana", &["ledger", "tail", "-n", "2"]));
    assert!(
        ledger.contains("draft edited by dana (edit distance"),
        "{ledger}"
    );
    // Edited once: a second edit is refused before the editor opens.
    let marker = ws.join("editor-ran");
    let again = edit(
        ws,
        &drafts[0],
        &editor(ws, "mark.sh", &format!("touch {}", marker.display())),
    );
    assert!(!again.status.success());
    assert!(
        stderr(&again).contains("already approved by dana"),
        "{}",
        stderr(&again)
    );
    assert!(!marker.exists(), "the editor never opened");

    // Reject needs a reason, and records it.
    assert!(
        !as_user(ws, "dana", &["queue", "reject", &drafts[1]])
            .status
            .success()
    );
    let empty = as_user(
        ws,
        "dana",
        &["queue", "reject", &drafts[1], "--reason", " "],
    );
    assert!(
        stderr(&empty).contains("needs a reason"),
        "{}",
        stderr(&empty)
    );
    ok(as_user(
        ws,
        "dana",
        &["queue", "reject", &drafts[1], "--reason", "wrong person"],
    ));
    let entry = last_entry(ws);
    assert_eq!(entry["event"]["decision"], "rejected");
    assert_eq!(entry["event"]["reason"], "wrong person");
    assert_eq!(entry["actor"]["user"], "dana");

    // Reassign to a known user only.
    let nobody = as_user(
        ws,
        "dana",
        &["queue", "reassign", &drafts[2], "--to", "nobody"],
    );
    assert!(
        stderr(&nobody).contains("no user named `nobody`"),
        "{}",
        stderr(&nobody)
    );
    ok(as_user(ws, "dana", &["users", "add", "sam"]));
    ok(as_user(
        ws,
        "dana",
        &["queue", "reassign", &drafts[2], "--to", "sam"],
    ));
    assert_eq!(last_entry(ws)["kind"], "draft_reassigned");
    let sams = json(as_user(ws, "sam", &["queue", "list", "--json"]));
    assert_eq!(sams.as_array().unwrap().len(), 1);
    assert_eq!(sams[0]["id"].as_str().unwrap(), drafts[2]);

    // Only a known user approves.
    let stranger = as_user(ws, "tester", &["queue", "approve", &drafts[4]]);
    assert!(!stranger.status.success());
    assert!(
        stderr(&stranger).contains("there is no user named `tester`"),
        "{}",
        stderr(&stranger)
    );

    // Bulk approval takes the clean drafts of dana's queue, not sam's.
    let bulk = json(as_user(
        ws,
        "dana",
        &["queue", "approve", "--all-clean", "--json"],
    ));
    assert_eq!(bulk["approved"].as_array().unwrap().len(), 5, "{bulk}");
    assert!(ok(as_user(ws, "dana", &["queue", "list"])).contains("Nothing waits"));
    assert_eq!(
        json(as_user(ws, "sam", &["queue", "list", "--json"]))
            .as_array()
            .unwrap()
            .len(),
        1
    );
    let sent = json(as_user(ws, "dana", &["send", "--due", "--json"]));
    assert_eq!(sent["sent"].as_array().unwrap().len(), 6, "{sent}");
    let eml: String = std::fs::read_dir(ws.join("outbox"))
        .unwrap()
        .map(|f| std::fs::read_to_string(f.unwrap().path()).unwrap())
        .collect();
    assert!(
        eml.contains("Dana Reyes (Northwind)"),
        "the edited text is what went out"
    );
}

const PEOPLE: &str = "First Name,Last Name,Title,Company,Email,# Employees,Industry,Website,Country\n\
Vera,Stone,Financial Controller,Acme,vera@acme.io,300,Fintech,acme.io,Germany\n\
Sam,Reed,Finance Manager,Globex,sam@globex.io,250,Software,globex.io,France\n\
Lena,Ortiz,Accounting Manager,Initech,lena@initech.io,400,Software,initech.io,Spain\n";

/// A workspace with dana (reporting to morgan) owning three enrolled
/// prospects, the playbook's `cold` send authority replaced by `cold`.
fn workspace(cold: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    ok(as_user(d, "dana", &["init"]));
    let playbook = d.join("handoff.toml");
    let text = std::fs::read_to_string(&playbook).unwrap();
    let line = "cold = { mode = \"approval\", window = \"24h\" }";
    assert!(text.contains(line));
    std::fs::write(&playbook, text.replace(line, cold)).unwrap();
    crate::open_send_window(d);
    ok(as_user(
        d,
        "dana",
        &["users", "add", "morgan", "--role", "manager"],
    ));
    ok(as_user(
        d,
        "dana",
        &["users", "add", "dana", "--manager", "morgan"],
    ));
    std::fs::write(d.join("people.csv"), PEOPLE).unwrap();
    ok(as_user(
        d,
        "dana",
        &["import", "people.csv", "--owner", "dana"],
    ));
    ok(as_user(d, "dana", &["verify", "--all", "--offline"]));
    ok(as_user(d, "dana", &["enroll", "--sequence", "sdr-cold"]));
    dir
}

fn store(dir: &Path) -> SqliteStore {
    SqliteStore::open(&dir.join("handoff.db"), Durability::Normal).unwrap()
}

#[test]
fn late_approvals_are_refused_and_expired_drafts_listed() {
    let dir = workspace("cold = { mode = \"approval\", window = \"24h\" }");
    let d = dir.path();
    // Drafted 30 hours ago: its 24-hour window closed 6 hours ago.
    let drafted_at = Utc::now() - Duration::hours(30);
    let at = drafted_at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    ok(as_user(
        d,
        "dana",
        &["draft", "--contact", "vera@acme.io", "--at", &at],
    ));
    assert!(ok(as_user(d, "dana", &["queue", "list"])).contains("Nothing waits"));
    let expired = json(as_user(
        d,
        "dana",
        &["queue", "list", "--expired", "--json"],
    ));
    assert_eq!(expired.as_array().unwrap().len(), 1, "{expired}");
    let draft = expired[0]["id"].as_str().unwrap().to_string();
    assert!(ok(as_user(d, "dana", &["queue", "list", "--expired"])).contains("never sent"));

    let closed = (drafted_at + Duration::hours(24))
        .format("%Y-%m-%d %H:%M UTC")
        .to_string();
    let late = as_user(d, "dana", &["queue", "approve", &draft]);
    assert!(!late.status.success());
    assert!(
        stderr(&late).contains(&format!("closed at {closed}")),
        "the refusal names when the window closed ({closed}): {}",
        stderr(&late)
    );
    let marker = d.join("editor-ran");
    let edit_late = edit(
        d,
        &draft,
        &editor(d, "mark.sh", &format!("touch {}", marker.display())),
    );
    assert!(!edit_late.status.success());
    assert!(
        stderr(&edit_late).contains(&format!("closed at {closed}")),
        "{}",
        stderr(&edit_late)
    );
    assert!(!marker.exists(), "the editor never opened");

    // The worker marks it expired; it stays listed and is never sent.
    ok(as_user(d, "dana", &["worker", "--once", "--no-drafting"]));
    assert!(ledger_kinds(d, 5).contains(&"draft_expired".to_string()));
    let expired = json(as_user(
        d,
        "dana",
        &["queue", "list", "--expired", "--json"],
    ));
    assert_eq!(expired[0]["review_state"], "expired");
    assert!(ok(as_user(d, "dana", &["send", "--due"])).contains("Nothing is due"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn veto_drafts_go_at_window_end_unless_rejected_or_escalated() {
    let dir = workspace("cold = { mode = \"veto\", window = \"4h\" }");
    let d = dir.path().to_path_buf();
    let run = |user: &'static str, args: Vec<String>| {
        let d = d.clone();
        tokio::task::spawn_blocking(move || {
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            as_user(&d, user, &args)
        })
    };
    let drafted = ok(run("dana", vec!["draft".into(), "--due".into()])
        .await
        .unwrap());
    assert!(drafted.contains("3 veto_window"), "{drafted}");
    let listed = json(
        run("dana", vec!["queue".into(), "list".into(), "--json".into()])
            .await
            .unwrap(),
    );
    let by_email = |email: &str| {
        listed
            .as_array()
            .unwrap()
            .iter()
            .find(|d| d["prospect"]["contact"]["email"] == email)
            .unwrap()
            .clone()
    };
    for item in listed.as_array().unwrap() {
        assert_eq!(
            item["message"]["state"], "queued",
            "queued at judgement: {item}"
        );
        assert_eq!(item["message"]["scheduled_at"], item["review_deadline"]);
    }
    // Vera's is vetoed; Sam replied meanwhile (an escalation); Lena's goes.
    let vera = by_email("vera@acme.io")["id"].as_str().unwrap().to_string();
    ok(run(
        "dana",
        vec![
            "queue".into(),
            "reject".into(),
            vera,
            "--reason".into(),
            "not a fit after all".into(),
        ],
    )
    .await
    .unwrap());
    let s = store(&d);
    let sam = s
        .find_contact_by_email(&EmailAddress::parse("sam@globex.io").unwrap())
        .await
        .unwrap()
        .unwrap();
    s.open_signalled_escalation(
        &CommandContext::new(Actor::system("engagement"), None),
        &NewEscalation {
            contact_id: Some(sam.id),
            stage: Stage::Engagement,
            rule_id: "pricing-page-visit".into(),
            reason: "Visited the pricing page".into(),
            priority: Priority::High,
            assignee: Some(handoff_domain::users::Username::parse("dana").unwrap()),
            due_at: Some(Utc::now() + Duration::days(1)),
        },
        &serde_json::json!({"kind": "page_visit", "url": "https://northwind.example/pricing"}),
    )
    .await
    .unwrap();

    assert!(
        ok(run("dana", vec!["send".into(), "--due".into()])
            .await
            .unwrap())
        .contains("Nothing is due")
    );
    let after =
        (Utc::now() + Duration::hours(5)).to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let report = json(
        run(
            "dana",
            vec![
                "send".into(),
                "--due".into(),
                "--at".into(),
                after,
                "--json".into(),
            ],
        )
        .await
        .unwrap(),
    );
    let sent: Vec<&str> = report["sent"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["to"].as_str().unwrap())
        .collect();
    assert_eq!(sent, ["lena@initech.io"], "{report}");
    let held = report["held"].as_array().unwrap();
    assert_eq!(held.len(), 1, "{report}");
    assert!(
        held[0]["detail"].as_str().unwrap().contains("still queued"),
        "{report}"
    );
    assert_eq!(std::fs::read_dir(d.join("outbox")).unwrap().count(), 1);

    // The inbox shows Sam's task with its signal; Sam's draft waits for a
    // person, marked escalated.
    let inbox = ok(run("tester", vec!["inbox".into(), "list".into()])
        .await
        .unwrap());
    assert!(
        inbox.contains("page_visit: https://northwind.example/pricing"),
        "{inbox}"
    );
    assert!(inbox.contains("sam@globex.io"), "{inbox}");
    let queue = ok(run("dana", vec!["queue".into(), "list".into()])
        .await
        .unwrap());
    assert!(queue.contains("veto_window, escalated"), "{queue}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_inbox_takes_over_hands_back_resolves_and_escalates_overdue() {
    let dir = workspace("cold = { mode = \"approval\", window = \"24h\" }");
    let d = dir.path().to_path_buf();
    let run = |user: &'static str, args: &[&str]| {
        let d = d.clone();
        let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
        tokio::task::spawn_blocking(move || {
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            as_user(&d, user, &args)
        })
    };
    // A task for Vera, due an hour ago (as the SLA timer would find it).
    let s = store(&d);
    let vera = s
        .find_contact_by_email(&EmailAddress::parse("vera@acme.io").unwrap())
        .await
        .unwrap()
        .unwrap();
    let dana = handoff_domain::users::Username::parse("dana").unwrap();
    let task = |contact, hours: i64| NewEscalation {
        contact_id: Some(contact),
        stage: Stage::Engagement,
        rule_id: "positive-reply".into(),
        reason: "Replied: interested".into(),
        priority: Priority::High,
        assignee: Some(dana.clone()),
        due_at: Some(Utc::now() + Duration::hours(hours)),
    };
    let ctx = CommandContext::new(Actor::system("engagement"), None);
    let overdue = s.open_escalation(&ctx, &task(vera.id, -1)).await.unwrap();
    let lena = s
        .find_contact_by_email(&EmailAddress::parse("lena@initech.io").unwrap())
        .await
        .unwrap()
        .unwrap();
    let later = s.open_escalation(&ctx, &task(lena.id, 8)).await.unwrap();
    let (overdue_id, later_id) = (overdue.id.to_string(), later.id.to_string());

    let listed = ok(run("tester", &["inbox", "list"]).await.unwrap());
    assert!(listed.contains("OVERDUE"), "{listed}");
    assert!(listed.contains("2 open task(s), 1 overdue"), "{listed}");
    let only = json(
        run("tester", &["inbox", "list", "--overdue", "--json"])
            .await
            .unwrap(),
    );
    assert_eq!(only.as_array().unwrap().len(), 1);
    assert_eq!(only[0]["overdue"], true);

    // The SLA timer in the worker moves it to dana's manager, once.
    ok(run("tester", &["worker", "--once", "--no-drafting"])
        .await
        .unwrap());
    let mine = json(
        run("morgan", &["inbox", "list", "--mine", "--json"])
            .await
            .unwrap(),
    );
    assert_eq!(mine.as_array().unwrap().len(), 1, "{mine}");
    assert_eq!(mine[0]["id"].as_str().unwrap(), overdue_id.as_str());
    assert_eq!(mine[0]["escalated_from"], "dana");
    ok(run("tester", &["worker", "--once", "--no-drafting"])
        .await
        .unwrap());
    let counts = s.inbox_item(overdue.id).await.unwrap().unwrap();
    assert!(counts.overdue_at.is_some());
    let overdue_entries = ok(run(
        "tester",
        &["ledger", "tail", "--kind", "escalation_overdue", "--json"],
    )
    .await
    .unwrap());
    assert_eq!(
        overdue_entries.lines().count(),
        1,
        "moved once: {overdue_entries}"
    );

    // Vera's draft waits in dana's queue until dana takes her over.
    ok(run("dana", &["draft", "--due"]).await.unwrap());
    let has_vera = |queue: &Value| {
        queue
            .as_array()
            .unwrap()
            .iter()
            .any(|d| d["prospect"]["contact"]["email"] == "vera@acme.io")
    };
    assert!(has_vera(&json(
        run("dana", &["queue", "list", "--json"]).await.unwrap()
    )));

    // Dana takes Vera over: automation stops; a second take is refused.
    let taken = ok(run("dana", &["inbox", "take", &overdue_id]).await.unwrap());
    assert!(taken.contains("You took over vera@acme.io"), "{taken}");
    assert!(taken.contains("1 enrolment(s) stopped"), "{taken}");
    let again = run("morgan", &["inbox", "take", &overdue_id])
        .await
        .unwrap();
    assert!(!again.status.success());
    assert!(
        stderr(&again).contains("already taken over by dana"),
        "{}",
        stderr(&again)
    );
    let unknown = run(
        "dana",
        &["inbox", "take", "0193a5c0-0000-7000-8000-000000000000"],
    )
    .await
    .unwrap();
    assert!(
        stderr(&unknown).contains("no open escalation"),
        "{}",
        stderr(&unknown)
    );
    // Her draft no longer waits in the queue: a person owns her now.
    let queue = json(run("dana", &["queue", "list", "--json"]).await.unwrap());
    assert!(!has_vera(&queue), "{queue}");

    // Hand-back needs a note; it says the enrolments stay stopped.
    let bare = run(
        "dana",
        &["inbox", "hand-back", "vera@acme.io", "--note", ""],
    )
    .await
    .unwrap();
    assert!(stderr(&bare).contains("needs a note"), "{}", stderr(&bare));
    let back = ok(run(
        "dana",
        &[
            "inbox",
            "hand-back",
            "vera@acme.io",
            "--note",
            "not now; try in Q3",
        ],
    )
    .await
    .unwrap());
    assert!(back.contains("stay stopped"), "{back}");
    assert!(back.contains("1 task(s) resolved"), "{back}");
    let handed = run(
        "dana",
        &["inbox", "hand-back", &overdue_id, "--note", "again"],
    )
    .await
    .unwrap();
    assert!(
        stderr(&handed).contains("handled by AI already"),
        "{}",
        stderr(&handed)
    );

    // Resolve says what was done, once.
    let empty = run(
        "dana",
        &["inbox", "resolve", &later_id, "--resolution", " "],
    )
    .await
    .unwrap();
    assert!(!empty.status.success());
    ok(run(
        "dana",
        &[
            "inbox",
            "resolve",
            &later_id,
            "--resolution",
            "booked a call",
        ],
    )
    .await
    .unwrap());
    let twice = run(
        "dana",
        &["inbox", "resolve", &later_id, "--resolution", "again"],
    )
    .await
    .unwrap();
    assert!(
        stderr(&twice).contains("no open escalation"),
        "{}",
        stderr(&twice)
    );
    assert!(ok(run("dana", &["inbox", "list"]).await.unwrap()).contains("No open task"));
}
