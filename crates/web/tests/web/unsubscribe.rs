//! RFC 8058 one-click unsubscribe and the confirm page, on both backends.

use handoff_engine::sending::unsubscribe_token;
use handoff_store::conformance::seed_sendable;

use crate::{KEY, TestApp, client, postgres_app, sqlite_app};

async fn one_click_story(app: TestApp, prefix: &str) {
    let s = app.store.as_ref();
    let seeded = seed_sendable(s, 2, "sdr@northwind.example").await;
    let (gone, stays) = (&seeded[0], &seeded[1]);
    let url = format!(
        "{}{prefix}/u/{}",
        app.base,
        unsubscribe_token(KEY, gone.message.id)
    );
    let http = client();

    // Opening the link (as a link scanner does) changes nothing.
    for _ in 0..3 {
        let page = http.get(&url).send().await.unwrap();
        assert_eq!(page.status(), 200);
        let html = page.text().await.unwrap();
        let masked = format!("{}•••@{}", &gone.email.as_str()[..1], gone.email.domain());
        assert!(html.contains(&masked), "{html}");
        assert!(
            !html.contains(gone.email.as_str()),
            "the page shows the whole address"
        );
        assert!(html.contains("100 Main St"), "no postal address: {html}");
    }
    assert!(!s.is_suppressed(&gone.email).await.unwrap());

    // The mail client's one-click POST unsubscribes in one request.
    let response = http
        .post(&url)
        .header("content-type", "application/x-www-form-urlencoded")
        .body("List-Unsubscribe=One-Click")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert!(
        response
            .text()
            .await
            .unwrap()
            .contains("You are unsubscribed")
    );
    assert!(s.is_suppressed(&gone.email).await.unwrap());
    assert!(!s.is_suppressed(&stays.email).await.unwrap());
    let events = s.list_events(None, None, 100).await.unwrap();
    let unsubscribes: Vec<_> = events.iter().filter(|e| e.kind == "unsubscribe").collect();
    assert_eq!(unsubscribes.len(), 1);
    assert_eq!(unsubscribes[0].payload["via"], "one_click");

    // A retry (clients do) or a later press of the button: same answer.
    let again = http.post(&url).body("confirm=yes").send().await.unwrap();
    assert_eq!(again.status(), 200);
    assert!(again.text().await.unwrap().contains("already unsubscribed"));
    let events = s.list_events(None, None, 100).await.unwrap();
    assert_eq!(events.iter().filter(|e| e.kind == "unsubscribe").count(), 1);

    // A token whose signature does not match, or that names another
    // message, does nothing and says so.
    let other = unsubscribe_token(KEY, stays.message.id);
    let (_, other_sig) = other.rsplit_once('.').unwrap();
    let (gone_id, _) = url.rsplit_once('/').unwrap().1.rsplit_once('.').unwrap();
    for bad in [
        format!("{gone_id}.{other_sig}"),
        format!("{gone_id}.00"),
        "not-a-token".to_string(),
    ] {
        let url = format!("{}{prefix}/u/{bad}", app.base);
        for response in [
            http.get(&url).send().await.unwrap(),
            http.post(&url)
                .body("List-Unsubscribe=One-Click")
                .send()
                .await
                .unwrap(),
        ] {
            assert_eq!(response.status(), 404, "{bad}");
            let html = response.text().await.unwrap();
            assert!(html.contains("not valid"), "{html}");
        }
    }
    assert!(!s.is_suppressed(&stays.email).await.unwrap());
}

#[tokio::test]
async fn one_click_unsubscribes_and_a_get_never_does_on_sqlite() {
    one_click_story(sqlite_app("http://localhost:8080").await, "").await;
}

#[tokio::test]
async fn one_click_unsubscribes_and_a_get_never_does_on_postgres() {
    let Some(app) = postgres_app("http://localhost:8080").await else {
        return;
    };
    one_click_story(app, "").await;
}

#[tokio::test]
async fn behind_a_proxy_the_public_path_prefix_works_kept_or_stripped() {
    let app = sqlite_app("https://sales.example.com/handoff/").await;
    // The proxy passes the prefix on…
    one_click_story(app, "/handoff").await;
    // …or strips it.
    let app = sqlite_app("https://sales.example.com/handoff").await;
    one_click_story(app, "").await;
}

/// A recipient in a real browser: the page asks first, the button
/// unsubscribes, and the answer says so.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_recipient_unsubscribes_in_a_real_browser() {
    let app = sqlite_app("http://localhost:8080").await;
    let s = app.store.as_ref();
    let seeded = seed_sendable(s, 1, "sdr@northwind.example").await;
    let url = format!(
        "{}/u/{}",
        app.base,
        unsubscribe_token(KEY, seeded[0].message.id)
    );
    let script =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/browser/unsubscribe.cjs");
    let shot = tempfile::tempdir().unwrap();
    let shot_path = shot.path().join("unsubscribed.png");
    let args = [url.as_str(), shot_path.to_str().unwrap()];
    let output = tokio::task::spawn_blocking({
        let script = script.clone();
        let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
        move || {
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            handoff_testkit::browser::run_script(&script, &args)
        }
    })
    .await
    .unwrap();
    let Some(output) = output else { return };
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "the browser script failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(stdout.contains("asked: Unsubscribe"), "{stdout}");
    assert!(
        stdout.contains("answered: You are unsubscribed"),
        "{stdout}"
    );
    assert!(shot_path.exists(), "no screenshot");
    assert!(s.is_suppressed(&seeded[0].email).await.unwrap());
    let events = s.list_events(None, None, 10).await.unwrap();
    let unsubscribe = events.iter().find(|e| e.kind == "unsubscribe").unwrap();
    assert_eq!(unsubscribe.payload["via"], "confirm_page");
}
