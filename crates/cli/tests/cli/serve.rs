//! `handoff serve`: the sender, the drafting worker and the HTTP side in
//! one process, on a quickstart workspace with the file outbox. A message
//! approved by a person goes out through the serving process; its
//! one-click unsubscribe link works against that same process; SIGTERM
//! stops it cleanly.

use std::io::{BufRead, BufReader};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use crate::{command, handoff, ok};

struct Serving {
    child: Child,
    base: String,
}

impl Drop for Serving {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `handoff serve` on a free port and waits for its address.
fn serve(ws: &std::path::Path) -> Serving {
    let mut child = command(
        ws,
        &[
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--send-every-secs",
            "1",
            "--draft-every-secs",
            "1",
        ],
    )
    .env("HANDOFF_USER", "dana")
    .stdout(Stdio::null())
    .stderr(Stdio::piped())
    .spawn()
    .expect("handoff serve starts");
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let deadline = Instant::now() + Duration::from_secs(60);
    let base = loop {
        let line = rx
            .recv_timeout(deadline.saturating_duration_since(Instant::now()))
            .expect("handoff serve prints where it listens");
        if let Some(rest) = line.split("listening on ").nth(1) {
            break rest.split_whitespace().next().unwrap().to_string();
        }
    };
    // The reader thread keeps draining stderr so the server never blocks on it.
    Serving { child, base }
}

fn get(url: &str) -> (u16, String) {
    http("GET", url, "")
}

/// A minimal HTTP/1.1 exchange over a TCP socket: the test speaks to the
/// server the way any client would, without another HTTP stack.
fn http(method: &str, url: &str, body: &str) -> (u16, String) {
    use std::io::{Read, Write};
    let rest = url.strip_prefix("http://").unwrap();
    let (host, path) = rest.split_once('/').unwrap();
    let mut stream = std::net::TcpStream::connect(host).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    write!(
        stream,
        "{method} /{path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let status = response
        .split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or(0);
    (status, response)
}

/// A quickstart workspace with its send window open, and the drafts it
/// wrote, oldest first.
fn demo() -> (tempfile::TempDir, std::path::PathBuf, Vec<String>) {
    let dir = tempfile::tempdir().unwrap();
    ok(command(dir.path(), &["quickstart"])
        .env("HANDOFF_USER", "dana")
        .output()
        .unwrap());
    let ws = dir.path().join("handoff-demo");
    crate::open_send_window(&ws);
    let out = ok(command(
        &ws,
        &["ledger", "tail", "--kind", "draft_created", "--json"],
    )
    .output()
    .unwrap());
    let drafts = out
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            v["event"]["draft_id"].as_str().unwrap().to_string()
        })
        .collect();
    (dir, ws, drafts)
}

#[test]
fn serve_sends_serves_unsubscribes_and_stops_on_sigterm() {
    let (_dir, ws, drafts) = demo();
    let draft = drafts[0].clone();
    ok(command(&ws, &["queue", "approve", &draft])
        .env("HANDOFF_USER", "dana")
        .output()
        .unwrap());

    let mut server = serve(&ws);
    let (status, health) = get(&format!("{}/healthz", server.base));
    assert_eq!(status, 200, "{health}");
    assert!(health.contains("\"status\":\"ok\""), "{health}");

    // The serving process's sender delivers the approved message.
    let outbox = ws.join("outbox");
    let deadline = Instant::now() + Duration::from_secs(60);
    let eml = loop {
        // Only whole messages: the outbox writes a temporary file and renames it.
        let whole = std::fs::read_dir(&outbox)
            .map(|d| {
                d.filter_map(Result::ok)
                    .filter(|f| {
                        let name = f.file_name().to_string_lossy().into_owned();
                        name.ends_with(".eml") && !name.starts_with('.')
                    })
                    .find_map(|f| std::fs::read_to_string(f.path()).ok())
            })
            .unwrap_or_default();
        if let Some(eml) = whole {
            break eml;
        }
        assert!(Instant::now() < deadline, "nothing reached the outbox");
        std::thread::sleep(Duration::from_millis(200));
    };
    let link = eml
        .lines()
        .find_map(|l| l.strip_prefix("List-Unsubscribe: <"))
        .and_then(|l| l.split('>').next())
        .expect("a List-Unsubscribe header")
        .to_string();
    // The playbook's public_url is where a proxy would send it; here the
    // serving process answers directly.
    let path = &link[link.find("/u/").unwrap()..];
    let url = format!("{}{path}", server.base);

    let (status, page) = get(&url);
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("<button"), "{page}");
    let (status, done) = http("POST", &url, "List-Unsubscribe=One-Click");
    assert_eq!(status, 200, "{done}");
    assert!(done.contains("You are unsubscribed"), "{done}");
    let suppressed = ok(handoff(
        &ws,
        &["ledger", "tail", "--kind", "suppressed", "--json"],
    ));
    assert_eq!(suppressed.lines().count(), 1, "{suppressed}");

    // SIGTERM: a clean stop, exit 0.
    let pid = server.child.id().to_string();
    let killed = std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap();
    assert!(killed.success());
    let deadline = Instant::now() + Duration::from_secs(20);
    let status = loop {
        if let Some(status) = server.child.try_wait().unwrap() {
            break status;
        }
        assert!(
            Instant::now() < deadline,
            "handoff serve did not stop on SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(status.success(), "handoff serve exited with {status}");
}

/// The link's path on the serving process (links carry the public URL).
fn on_server(server: &Serving, link: &str, marker: &str) -> String {
    format!("{}{}", server.base, &link[link.find(marker).unwrap()..])
}

#[test]
fn approval_links_act_once_as_the_reviewer_through_serve() {
    let (_dir, ws, drafts) = demo();
    assert!(drafts.len() >= 2, "{drafts:?}");
    let server = serve(&ws);
    let links = |draft: &str| -> serde_json::Value {
        serde_json::from_str(&ok(handoff(&ws, &["queue", "links", draft, "--json"]))).unwrap()
    };

    let first = links(&drafts[0]);
    assert_eq!(first["reviewer"], "dana");
    let approve = on_server(&server, first["approve"].as_str().unwrap(), "/a/");
    let (status, page) = get(&approve);
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("Approve this draft?"), "{page}");
    assert!(page.contains("Approve and send"), "{page}");
    // Opening the page approved nothing.
    let shown = ok(handoff(&ws, &["queue", "show", &drafts[0], "--json"]));
    assert!(!shown.contains("\"approved\""), "{shown}");

    let (status, done) = http("POST", &approve, "");
    assert_eq!(status, 200, "{done}");
    assert!(done.contains("Approved"), "{done}");
    let (status, again) = http("POST", &approve, "");
    assert_eq!(status, 409, "{again}");
    assert!(again.contains("already used"), "{again}");
    let used = ok(handoff(
        &ws,
        &["ledger", "tail", "--kind", "approval_link_used", "--json"],
    ));
    assert_eq!(used.lines().count(), 1, "{used}");
    let approved = ok(handoff(
        &ws,
        &["ledger", "tail", "--kind", "draft_reviewed", "--json"],
    ));
    assert!(
        approved.contains("\"human\"") && approved.contains("dana"),
        "{approved}"
    );

    // A reject link, with the reviewer's reason.
    let second = links(&drafts[1]);
    let reject = on_server(&server, second["reject"].as_str().unwrap(), "/a/");
    let (status, page) = get(&reject);
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("Reject this draft?"), "{page}");
    let (status, done) = http("POST", &reject, "reason=Wrong+persona+for+this+account");
    assert_eq!(status, 200, "{done}");
    assert!(done.contains("Wrong persona for this account"), "{done}");
    // Its approve link now has nothing left to approve.
    let late = on_server(&server, second["approve"].as_str().unwrap(), "/a/");
    let (status, refused) = http("POST", &late, "");
    assert_eq!(status, 409, "{refused}");
    assert!(refused.contains("Nothing was changed"), "{refused}");

    // A tampered link does nothing.
    let mut forged = approve.clone();
    let last = forged.pop().unwrap();
    forged.push(if last == '0' { '1' } else { '0' });
    let (status, page) = http("POST", &forged, "");
    assert_eq!(status, 404, "{page}");

    // The serving sender sends the approved message.
    let outbox = ws.join("outbox");
    let deadline = Instant::now() + Duration::from_secs(60);
    while std::fs::read_dir(&outbox)
        .map(|d| {
            d.filter_map(Result::ok)
                .filter(|f| {
                    let name = f.file_name().to_string_lossy().into_owned();
                    name.ends_with(".eml") && !name.starts_with('.')
                })
                .count()
        })
        .unwrap_or(0)
        == 0
    {
        assert!(
            Instant::now() < deadline,
            "the approved message was not sent"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}
