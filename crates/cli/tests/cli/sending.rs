//! `handoff send --due` processes killed with SIGKILL at random moments
//! while 2,000 approved messages go to a real SMTP server, then restarted.
//! Afterwards no Message-ID arrived twice, every message is sent or in
//! doubt, and no killed process left more messages in doubt than its send
//! concurrency. Also `queue approve` → `send --due` into the file outbox.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Child, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use handoff_store::conformance::seed_sendable;
use handoff_store::{Schema, Store};
use handoff_store_postgres::PostgresStore;
use handoff_store_sqlite::{Durability, SqliteStore};
use handoff_testkit::TestPg;
use handoff_testkit::smtp::{SinkOptions, SmtpSink};

use crate::{command, handoff, init_workspace, ok};

const MESSAGES: usize = 2000;
const CONCURRENCY: usize = 4;
const KILLS: usize = 20;

/// Kills the child when the test ends, however it ends.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Points the workspace's mailboxes at the sink, with room for the whole
/// run: five of dana's mailboxes (first emails rotate between them), each
/// 500 a day, no spacing, a window that never closes, no holidays.
fn use_smtp(dir: &Path, port: u16) {
    let path = dir.join("handoff.toml");
    let text = std::fs::read_to_string(&path).unwrap();
    // The block itself, not the comment above it that names it.
    let start = text
        .find("\n[[mailbox]]")
        .expect("the default playbook has a mailbox")
        + 1;
    let end = text.find("# ── Model").expect("the model section follows");
    let mut mailboxes = String::new();
    for name in ["dana", "dana.b", "dana.c", "dana.d", "dana.e"] {
        mailboxes.push_str(&format!(
            "[[mailbox]]\naddress = \"{name}@northwind.example\"\nowner = \"dana\"\n\
             smtp = {{ host = \"127.0.0.1\", port = {port}, tls = \"none\" }}\n\
             daily_cap = 500\nmin_spacing = \"0s\"\n\
             send_window = {{ days = \"mon-sun\", from = \"00:00\", to = \"24:00\" }}\nwarmup = false\n\n"
        ));
    }
    let text = format!("{}{mailboxes}{}", &text[..start], &text[end..]).replacen(
        "holidays = true",
        "holidays = false",
        1,
    );
    std::fs::write(&path, text).unwrap();
}

fn sender(dir: &Path, db_url: &Option<String>, name: &str) -> Running {
    let mut cmd = command(
        dir,
        &[
            "send",
            "--due",
            "--concurrency",
            &CONCURRENCY.to_string(),
            "--lease-secs",
            "1",
            "--name",
            name,
        ],
    );
    if let Some(url) = db_url {
        cmd.env("HANDOFF_DATABASE_URL", url);
    }
    let log = std::fs::File::create(dir.join(format!("{name}.log"))).unwrap();
    cmd.stdout(Stdio::null()).stderr(log);
    Running(cmd.spawn().expect("handoff send starts"))
}

/// xorshift: enough randomness for kill times, reproducible by seed.
fn next(seed: &mut u64) -> u64 {
    *seed ^= *seed << 13;
    *seed ^= *seed >> 7;
    *seed ^= *seed << 17;
    *seed
}

async fn crash_run(store: Arc<dyn Store>, dir: &Path, db_url: Option<String>, sink: &SmtpSink) {
    let started = Instant::now();
    let seeded = seed_sendable(store.as_ref(), MESSAGES, "dana@northwind.example").await;
    eprintln!("seeded {MESSAGES} messages in {:?}", started.elapsed());

    let mut seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(1)
        | 1;
    eprintln!("kill-time seed: {seed}");
    let deadline = Instant::now() + Duration::from_secs(240);
    let mut kills = 0;
    let mut round = 0;
    while kills < KILLS {
        assert!(Instant::now() < deadline, "{kills} kills in 240 s");
        round += 1;
        let before = sink.received_count();
        let mut child = sender(dir, &db_url, &format!("crash-{round}"));
        // Long enough to start and send some; short enough that 20 kills
        // land before 2,000 messages are out.
        let wait = 80 + next(&mut seed) % 320;
        tokio::time::sleep(Duration::from_millis(wait)).await;
        if child.0.try_wait().unwrap().is_none() {
            child.0.kill().unwrap();
            child.0.wait().unwrap();
            kills += 1;
            eprintln!(
                "round {round}: killed after {wait} ms; {} messages arrived meanwhile",
                sink.received_count() - before
            );
        } else {
            eprintln!("round {round}: the pass ended by itself within {wait} ms");
        }
    }
    assert!(
        sink.received_count() < MESSAGES,
        "every message was out before the last kill: the kills proved nothing"
    );

    // Restart until everything is resolved (leases are 1 s).
    let mut drained = false;
    for round in 0..20 {
        tokio::time::sleep(Duration::from_millis(1100)).await;
        let mut cmd = command(dir, &["send", "--due", "--lease-secs", "1", "--json"]);
        if let Some(url) = &db_url {
            cmd.env("HANDOFF_DATABASE_URL", url);
        }
        let out = tokio::task::spawn_blocking(move || cmd.output().unwrap())
            .await
            .unwrap();
        ok(out);
        let counts: BTreeMap<String, u64> =
            store.message_counts().await.unwrap().into_iter().collect();
        eprintln!("drain {round}: {counts:?}");
        if !counts.contains_key("queued") && !counts.contains_key("sending") {
            drained = true;
            break;
        }
    }
    assert!(
        drained,
        "messages still queued or sending after 20 restarts"
    );

    // No Message-ID arrived twice.
    let arrived = sink.count_by_message_id();
    let twice: Vec<_> = arrived.iter().filter(|(_, n)| **n > 1).collect();
    assert!(twice.is_empty(), "arrived more than once: {twice:?}");

    // Every approved message is sent or in doubt; every sent one arrived.
    let counts: BTreeMap<String, u64> = store.message_counts().await.unwrap().into_iter().collect();
    let sent = counts.get("sent").copied().unwrap_or(0);
    let in_doubt = counts.get("in_doubt").copied().unwrap_or(0);
    assert_eq!(sent + in_doubt, MESSAGES as u64, "{counts:?}");
    for s in &seeded {
        let m = store.get_message(s.message.id).await.unwrap().unwrap();
        if m.state == "sent" {
            assert!(
                arrived.contains_key(&format!("<{}>", m.rfc_message_id)),
                "{} is recorded sent but never arrived",
                m.rfc_message_id
            );
        }
    }

    // No kill left more in doubt than the send concurrency.
    let mut per_sender: BTreeMap<String, usize> = BTreeMap::new();
    for m in store.list_in_doubt(10_000).await.unwrap() {
        let name = m
            .reason
            .split_once("its sender (")
            .and_then(|(_, rest)| rest.split_once(')'))
            .map(|(name, _)| name.to_string())
            .unwrap_or_else(|| panic!("an in-doubt reason names its sender: {}", m.reason));
        *per_sender.entry(name).or_default() += 1;
    }
    eprintln!("{kills} kills; {sent} sent, {in_doubt} in doubt: {per_sender:?}");
    // A person sees them.
    let mut cmd = command(dir, &["send", "--in-doubt", "--json"]);
    if let Some(url) = &db_url {
        cmd.env("HANDOFF_DATABASE_URL", url);
    }
    let listed: serde_json::Value = serde_json::from_str(&ok(cmd.output().unwrap())).unwrap();
    assert_eq!(listed.as_array().unwrap().len() as u64, in_doubt);
    assert!(per_sender.len() <= kills, "{per_sender:?}");
    for (name, n) in &per_sender {
        assert!(
            *n <= CONCURRENCY,
            "{name} left {n} messages in doubt, more than the send concurrency {CONCURRENCY}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_senders_never_send_twice_on_sqlite() {
    let Some(sink) = SmtpSink::start(&SinkOptions::default()) else {
        return;
    };
    let dir = init_workspace();
    use_smtp(dir.path(), sink.port);
    let store = SqliteStore::open(&dir.path().join("handoff.db"), Durability::Normal).unwrap();
    store.migrate().await.unwrap();
    crash_run(Arc::new(store), dir.path(), None, &sink).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_senders_never_send_twice_on_postgres() {
    let Some(db) = TestPg::create().await else {
        return;
    };
    let Some(sink) = SmtpSink::start(&SinkOptions::default()) else {
        return;
    };
    let dir = init_workspace();
    use_smtp(dir.path(), sink.port);
    let store = PostgresStore::connect(&db.url).await.unwrap();
    store.migrate().await.unwrap();
    crash_run(Arc::new(store), dir.path(), Some(db.url.clone()), &sink).await;
}

#[test]
fn approved_drafts_go_to_the_file_outbox() {
    let dir = tempfile::tempdir().unwrap();
    ok(command(dir.path(), &["quickstart"])
        .env("HANDOFF_USER", "dana")
        .output()
        .unwrap());
    let ws = dir.path().join("handoff-demo");
    // Whenever the test runs, the send window is open (the scheduler's own
    // tests are in scheduling.rs).
    let playbook = ws.join("handoff.toml");
    let text = std::fs::read_to_string(&playbook).unwrap();
    let open = text
        .replacen(
            "send_window = { days = \"mon-fri\", from = \"08:30\", to = \"17:30\" }",
            "send_window = { days = \"mon-sun\", from = \"00:00\", to = \"24:00\" }",
            1,
        )
        .replacen("holidays = true", "holidays = false", 1);
    assert_ne!(text, open, "the quickstart playbook has the default window");
    std::fs::write(&playbook, open).unwrap();
    let out = ok(command(
        &ws,
        &["ledger", "tail", "--kind", "draft_created", "--json"],
    )
    .env("HANDOFF_USER", "dana")
    .output()
    .unwrap());
    let first: serde_json::Value = serde_json::from_str(out.lines().next().unwrap()).unwrap();
    let draft = first["event"]["draft_id"].as_str().unwrap().to_string();

    // Nothing is queued before a person approves.
    let none = ok(handoff(&ws, &["send", "--due"]));
    assert!(none.contains("Nothing is due"), "{none}");
    let approve = |who: &str| {
        command(&ws, &["queue", "approve", &draft])
            .env("HANDOFF_USER", who)
            .output()
            .unwrap()
    };
    let approved = ok(approve("dana"));
    assert!(approved.contains("queued"), "{approved}");
    let again = approve("dana");
    assert!(!again.status.success());
    assert!(
        crate::stderr(&again).contains("reviewed once"),
        "{}",
        crate::stderr(&again)
    );

    let sent = ok(handoff(&ws, &["send", "--due", "--json"]));
    let report: serde_json::Value = serde_json::from_str(&sent).unwrap();
    assert_eq!(report["sent"].as_array().unwrap().len(), 1, "{sent}");
    let files: Vec<_> = std::fs::read_dir(ws.join("outbox")).unwrap().collect();
    assert_eq!(files.len(), 1);
    let eml = std::fs::read_to_string(files[0].as_ref().unwrap().path()).unwrap();
    assert!(eml.contains("List-Unsubscribe-Post: List-Unsubscribe=One-Click"));
    assert!(
        eml.contains("Boston"),
        "the workspace's postal address is in the footer"
    );
    // Sent once: a second pass has nothing to do, and nothing is in doubt.
    assert!(ok(handoff(&ws, &["send", "--due"])).contains("Nothing is due"));
    assert!(ok(handoff(&ws, &["send", "--in-doubt"])).contains("No message is in doubt"));
    // A time that is not RFC 3339 is refused with an example.
    let bad = handoff(&ws, &["send", "--due", "--at", "tomorrow"]);
    assert!(!bad.status.success());
    assert!(crate::stderr(&bad).contains("RFC 3339"));
}

#[test]
fn send_test_email_checks_a_mailbox_end_to_end() {
    let dir = init_workspace();
    // No SMTP yet: the message is written to the file outbox, and the
    // answer says how to send for real.
    let offline = ok(handoff(
        dir.path(),
        &["send-test-email", "--to", "me@example.org"],
    ));
    assert!(offline.contains("file outbox"), "{offline}");
    assert_eq!(
        std::fs::read_dir(dir.path().join("outbox"))
            .unwrap()
            .count(),
        1
    );

    let Some(sink) = SmtpSink::start(&SinkOptions::default()) else {
        return;
    };
    use_smtp(dir.path(), sink.port);
    let sent = ok(handoff(
        dir.path(),
        &["send-test-email", "--to", "me@example.org", "--json"],
    ));
    let outcome: serde_json::Value = serde_json::from_str(&sent).unwrap();
    assert_eq!(outcome["via"], "smtp", "{sent}");
    assert!(
        outcome["receipt"].as_str().unwrap().starts_with("250"),
        "{sent}"
    );
    let received = sink.wait_for(1, Duration::from_secs(20));
    assert_eq!(received.len(), 1);
    assert_eq!(received[0].rcpt_tos, vec!["me@example.org".to_string()]);
    assert_eq!(
        received[0].message_id.as_deref(),
        outcome["message_id"].as_str()
    );
    let text = String::from_utf8_lossy(&received[0].data);
    assert!(
        text.contains("handoff test message from dana@northwind.example"),
        "{text}"
    );

    // A mailbox the playbook does not have, and a bad address: one sentence each.
    let unknown = handoff(
        dir.path(),
        &[
            "send-test-email",
            "--to",
            "me@example.org",
            "--mailbox",
            "kim@northwind.example",
        ],
    );
    assert!(!unknown.status.success());
    let why = crate::stderr(&unknown);
    assert!(
        why.contains("no [[mailbox]] with address") && why.contains("dana@northwind.example"),
        "{why}"
    );
    let bad = handoff(dir.path(), &["send-test-email", "--to", "not an address"]);
    assert!(!bad.status.success());
    assert!(
        crate::stderr(&bad).contains("--to not an address"),
        "{}",
        crate::stderr(&bad)
    );
    let old_port = sink.port;
    drop(sink);

    // Nobody listening: the error names the server.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let path = dir.path().join("handoff.toml");
    let playbook = std::fs::read_to_string(&path)
        .unwrap()
        .replace(&format!("port = {old_port}"), &format!("port = {port}"));
    std::fs::write(&path, playbook).unwrap();
    let refused = handoff(dir.path(), &["send-test-email", "--to", "me@example.org"]);
    assert!(!refused.status.success());
    let why = crate::stderr(&refused);
    assert!(
        why.contains("could not send") && why.contains(&format!("127.0.0.1:{port}")),
        "{why}"
    );
}

/// Points dana's mailbox at a DKIM key made with openssl.
fn use_dkim(dir: &Path, algorithm: &[&str]) {
    let made = std::process::Command::new("openssl")
        .args(["genpkey"])
        .args(algorithm)
        .args(["-out", "dkim.pem"])
        .current_dir(dir)
        .output()
        .expect("openssl runs");
    assert!(
        made.status.success(),
        "{}",
        String::from_utf8_lossy(&made.stderr)
    );
    let path = dir.join("handoff.toml");
    let line = "address = \"dana@northwind.example\"";
    let text = std::fs::read_to_string(&path).unwrap().replacen(
        line,
        &format!("{line}\ndkim = {{ selector = \"s2026\", key_file = \"dkim.pem\" }}"),
        1,
    );
    std::fs::write(&path, text).unwrap();
}

#[test]
fn mail_is_dkim_signed_with_the_mailbox_key_and_verifies() {
    if !(handoff_testkit::python::require("dkim", &["dkimpy", "pynacl"], "this DKIM test")
        && handoff_testkit::python::require("nacl", &["pynacl"], "this DKIM test"))
    {
        return;
    }
    let verifier =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../mail/tests/outbound/dkim_verify.py");
    for algorithm in [
        &["-algorithm", "ed25519"][..],
        &["-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048"][..],
    ] {
        let dir = init_workspace();
        use_dkim(dir.path(), algorithm);
        // doctor names the record to publish.
        let doctor = ok(handoff(dir.path(), &["doctor", "--json"]));
        let report: serde_json::Value = serde_json::from_str(&doctor).unwrap();
        let check = report["checks"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["check"].as_str().is_some_and(|n| n.ends_with("DKIM")))
            .unwrap_or_else(|| panic!("no DKIM check: {doctor}"))
            .clone();
        let detail = check["detail"].as_str().unwrap().to_string();
        assert!(
            detail.contains("s2026._domainkey.northwind.example"),
            "{detail}"
        );
        let record = detail
            .split("publish this TXT record there: ")
            .nth(1)
            .unwrap();

        ok(handoff(
            dir.path(),
            &["send-test-email", "--to", "me@example.org"],
        ));
        let file = std::fs::read_dir(dir.path().join("outbox"))
            .unwrap()
            .next()
            .unwrap()
            .unwrap()
            .path();
        let eml = std::fs::read(&file).unwrap();
        assert!(String::from_utf8_lossy(&eml).contains("DKIM-Signature:"));
        let mut child = std::process::Command::new("python3")
            .arg(&verifier)
            .args(["s2026._domainkey.northwind.example", record])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        use std::io::Write;
        child.stdin.take().unwrap().write_all(&eml).unwrap();
        let out = child.wait_with_output().unwrap();
        assert_eq!(
            String::from_utf8_lossy(&out.stdout).trim(),
            "PASS",
            "{algorithm:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    // A key file that is missing or not a key: one sentence before anything is sent.
    let dir = init_workspace();
    use_dkim(dir.path(), &["-algorithm", "ed25519"]);
    std::fs::write(dir.path().join("dkim.pem"), "not a key").unwrap();
    let refused = handoff(dir.path(), &["send-test-email", "--to", "me@example.org"]);
    assert!(!refused.status.success());
    let why = crate::stderr(&refused);
    assert!(
        why.contains("cannot sign with DKIM") && why.contains("dkim.pem"),
        "{why}"
    );
    assert!(
        !dir.path().join("outbox").exists()
            || std::fs::read_dir(dir.path().join("outbox"))
                .unwrap()
                .count()
                == 0
    );
}
