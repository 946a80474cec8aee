//! The send bench's two loops deliver every message to a real server.

use std::sync::Arc;
use std::time::Duration;

use handoff_mail::outbound::bench::{BenchMessage, lettre_baseline, through_transport};
use handoff_mail::outbound::{SmtpTransport, Transport, compose};
use handoff_testkit::smtp::{SinkOptions, SmtpSink};

use crate::common::{address, message, plain_config};

fn messages(prefix: &str, count: usize) -> Arc<Vec<BenchMessage>> {
    Arc::new(
        (0..count)
            .map(|n| {
                let composed = compose(&message(&format!("{prefix}.{n}@acme.test"))).unwrap();
                BenchMessage {
                    from: address("dana@acme.test"),
                    to: address("ada@example.test"),
                    message_id: composed.message_id().clone(),
                    raw: composed.to_bytes(),
                }
            })
            .collect(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_baseline_and_the_transport_each_deliver_every_message_once() {
    let Some(sink) = SmtpSink::start(&SinkOptions::default()) else {
        return;
    };
    let config = plain_config(sink.port);
    let baseline = lettre_baseline(&config, messages("base", 60), 4)
        .await
        .unwrap();
    assert_eq!((baseline.sent, baseline.failed), (60, 0), "{baseline:?}");
    assert!(baseline.per_second() > 0.0);

    let transport: Arc<dyn Transport> = Arc::new(SmtpTransport::new(config).unwrap());
    let ours = through_transport(transport, messages("ours", 60), 4).await;
    assert_eq!((ours.sent, ours.failed), (60, 0), "{ours:?}");

    sink.wait_for(120, Duration::from_secs(10));
    let counts = sink.count_by_message_id();
    assert_eq!(counts.len(), 120);
    assert!(counts.values().all(|n| *n == 1));
}

#[tokio::test]
async fn failures_are_counted_with_the_first_reason() {
    let Some(sink) = SmtpSink::start(&SinkOptions {
        rcpt_reply: Some("550 5.1.1 no such user".into()),
        ..SinkOptions::default()
    }) else {
        return;
    };
    let run = lettre_baseline(&plain_config(sink.port), messages("fail", 5), 2)
        .await
        .unwrap();
    assert_eq!((run.sent, run.failed), (0, 5));
    assert!(run.first_error.unwrap().contains("no such user"));
}
