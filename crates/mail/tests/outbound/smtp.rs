//! SmtpTransport against a real SMTP server in each mode, and each failure
//! it must tell apart: refused, deferred, rate limited, wrong login, wrong
//! TLS mode, untrusted certificate, and a connection lost before or after
//! the message was sent.

use std::net::TcpListener;
use std::sync::Arc;
use std::time::{Duration, Instant};

use handoff_mail::outbound::smtp::{Security, SmtpConfig, SmtpCredentials, SmtpTransport};
use handoff_mail::outbound::{
    DeliveryError, Envelope, MessageId, Receipt, SmtpStep, Transport, compose,
};
use handoff_testkit::smtp::{DropAt, SinkOptions, SmtpSink, TestTls};
use secrecy::SecretString;

use crate::common::{address, message, plain_config};

fn raw(message_id: &str) -> (MessageId, Vec<u8>) {
    let composed = compose(&message(message_id)).unwrap();
    (composed.message_id().clone(), composed.to_bytes())
}

async fn send(transport: &SmtpTransport, message_id: &str) -> Result<Receipt, DeliveryError> {
    let (id, bytes) = raw(message_id);
    let from = address("dana@acme.test");
    let to = address("ada@example.test");
    transport
        .deliver(Envelope {
            from: &from,
            to: &to,
            message_id: &id,
            raw: &bytes,
        })
        .await
        .map(|delivered| {
            assert_eq!(delivered.message_id, id);
            delivered.receipt
        })
}

fn tls_config(port: u16, security: Security, tls: Option<&TestTls>) -> SmtpConfig {
    let mut config = plain_config(port);
    config.host = "localhost".into();
    config.security = security;
    config.extra_root_certificates = tls.map(|t| vec![t.ca_cert.clone()]).unwrap_or_default();
    config
}

fn credentials(password: &str) -> Option<SmtpCredentials> {
    Some(SmtpCredentials {
        username: "dana".into(),
        password: SecretString::from(password),
    })
}

fn strip_end(bytes: &[u8]) -> &[u8] {
    let mut end = bytes.len();
    while end > 0 && (bytes[end - 1] == b'\n' || bytes[end - 1] == b'\r') {
        end -= 1;
    }
    &bytes[..end]
}

#[tokio::test]
async fn a_message_arrives_byte_for_byte_with_its_envelope() {
    let Some(sink) = SmtpSink::start(&SinkOptions::default()) else {
        return;
    };
    let transport = SmtpTransport::new(plain_config(sink.port)).unwrap();
    let receipt = send(&transport, "plain.1@acme.test").await.unwrap();
    let Receipt::Smtp { code, reply } = receipt else {
        panic!("{receipt:?}")
    };
    assert_eq!(code, 250);
    assert!(reply.contains("queued as"), "{reply}");

    let received = sink.wait_for(1, Duration::from_secs(5));
    assert_eq!(received.len(), 1);
    assert_eq!(received[0].mail_from, "dana@acme.test");
    assert_eq!(received[0].rcpt_tos, ["ada@example.test"]);
    assert_eq!(
        received[0].message_id.as_deref(),
        Some("<plain.1@acme.test>")
    );
    let (_, bytes) = raw("plain.1@acme.test");
    // Same bytes but the Date and MIME boundaries, which differ per call.
    let strip = |b: &[u8]| {
        String::from_utf8_lossy(strip_end(b))
            .lines()
            .filter(|l| !l.starts_with("Date:") && !l.contains("boundary") && !l.starts_with("--"))
            .collect::<Vec<_>>()
            .join("\n")
    };
    assert_eq!(strip(&received[0].data), strip(&bytes));

    // The connection is kept for the next message.
    send(&transport, "plain.2@acme.test").await.unwrap();
    assert_eq!(sink.wait_for(2, Duration::from_secs(5)).len(), 2);
    transport.close().await;
}

#[tokio::test]
async fn starttls_with_login_delivers_and_wrong_passwords_or_certificates_are_named() {
    let tls = TestTls::generate();
    let Some(sink) = SmtpSink::start(&SinkOptions {
        starttls: Some(tls.clone()),
        require_starttls: true,
        auth: Some(("dana".into(), "correct horse".into())),
        ..SinkOptions::default()
    }) else {
        return;
    };
    let mut config = tls_config(sink.port, Security::Starttls, Some(&tls));
    config.credentials = credentials("correct horse");
    let transport = SmtpTransport::new(config.clone()).unwrap();
    transport.check_connection().await.unwrap();
    send(&transport, "tls.1@acme.test").await.unwrap();
    assert_eq!(sink.wait_for(1, Duration::from_secs(5)).len(), 1);

    config.credentials = credentials("wrong");
    let error = send(
        &SmtpTransport::new(config.clone()).unwrap(),
        "tls.2@acme.test",
    )
    .await
    .unwrap_err();
    let DeliveryError::Auth { code, .. } = &error else {
        panic!("{error:?}")
    };
    assert_eq!(*code, Some(535));
    assert!(
        error.to_string().contains("username and password"),
        "{error}"
    );
    assert!(error.is_permanent());

    // Without the test CA the certificate is not trusted.
    let mut untrusted = tls_config(sink.port, Security::Starttls, None);
    untrusted.credentials = credentials("correct horse");
    let error = send(&SmtpTransport::new(untrusted).unwrap(), "tls.3@acme.test")
        .await
        .unwrap_err();
    assert!(matches!(error, DeliveryError::Tls(_)), "{error:?}");
    assert!(error.to_string().contains("certificate"), "{error}");
    assert_eq!(sink.received_count(), 1);
}

#[tokio::test]
async fn starttls_that_is_not_offered_is_a_tls_error_with_the_fix() {
    let Some(sink) = SmtpSink::start(&SinkOptions::default()) else {
        return;
    };
    let error = send(
        &SmtpTransport::new(tls_config(sink.port, Security::Starttls, None)).unwrap(),
        "nostarttls.1@acme.test",
    )
    .await
    .unwrap_err();
    assert_eq!(
        error.to_string(),
        format!(
            "the server at localhost:{} does not offer STARTTLS: set tls = \"implicit\" for port 465 or \"none\" for a local relay",
            sink.port
        )
    );
    assert_eq!(sink.received_count(), 0);
}

#[tokio::test]
async fn implicit_tls_delivers_and_a_mode_mismatch_says_which_mode_to_use() {
    let tls = TestTls::generate();
    let Some(implicit) = SmtpSink::start(&SinkOptions {
        implicit_tls: Some(tls.clone()),
        ..SinkOptions::default()
    }) else {
        return;
    };
    let transport =
        SmtpTransport::new(tls_config(implicit.port, Security::ImplicitTls, Some(&tls))).unwrap();
    send(&transport, "implicit.1@acme.test").await.unwrap();
    assert_eq!(implicit.wait_for(1, Duration::from_secs(5)).len(), 1);

    // STARTTLS mode on an implicit-TLS port: no greeting ever comes.
    let mut config = tls_config(implicit.port, Security::Starttls, Some(&tls));
    config.connect_timeout = Duration::from_millis(500);
    config.command_timeout = Duration::from_millis(700);
    let error = send(&SmtpTransport::new(config).unwrap(), "implicit.2@acme.test")
        .await
        .unwrap_err();
    assert!(matches!(error, DeliveryError::Connection(_)), "{error:?}");
    assert!(error.to_string().contains("tls = \"implicit\""), "{error}");

    // Implicit TLS on a plain port.
    let plain = SmtpSink::start(&SinkOptions::default()).unwrap();
    let error = send(
        &SmtpTransport::new(tls_config(plain.port, Security::ImplicitTls, Some(&tls))).unwrap(),
        "implicit.3@acme.test",
    )
    .await
    .unwrap_err();
    assert!(matches!(error, DeliveryError::Tls(_)), "{error:?}");
    assert!(error.to_string().contains("tls = \"starttls\""), "{error}");
    assert_eq!(plain.received_count(), 0);
    assert_eq!(implicit.received_count(), 1);
}

#[tokio::test]
async fn refusals_are_typed_by_code_and_step() {
    let cases = [
        (
            SinkOptions {
                rcpt_reply: Some("550 5.1.1 <ada@example.test>: no such user".into()),
                ..SinkOptions::default()
            },
            "rejected",
        ),
        (
            SinkOptions {
                rcpt_reply: Some("450 4.2.0 greylisted, try again later".into()),
                ..SinkOptions::default()
            },
            "deferred",
        ),
        (
            SinkOptions {
                rcpt_reply: Some("450 4.7.28 rate limit exceeded for this sender".into()),
                ..SinkOptions::default()
            },
            "rate limited",
        ),
        (
            SinkOptions {
                data_reply: Some("554 5.7.1 message refused as spam".into()),
                ..SinkOptions::default()
            },
            "rejected at the end",
        ),
    ];
    for (options, case) in cases {
        let Some(sink) = SmtpSink::start(&options) else {
            return;
        };
        let transport = SmtpTransport::new(plain_config(sink.port)).unwrap();
        let error = send(&transport, "refused.1@acme.test").await.unwrap_err();
        match (case, &error) {
            (
                "rejected",
                DeliveryError::Rejected {
                    step: SmtpStep::RcptTo,
                    code: 550,
                    reply,
                    ..
                },
            ) => assert!(reply.contains("no such user"), "{reply}"),
            (
                "deferred",
                DeliveryError::Deferred {
                    step: SmtpStep::RcptTo,
                    code: 450,
                    ..
                },
            ) => assert!(error.is_retryable()),
            (
                "rate limited",
                DeliveryError::RateLimited {
                    step: SmtpStep::RcptTo,
                    code: 450,
                    ..
                },
            ) => assert!(error.is_retryable()),
            (
                "rejected at the end",
                DeliveryError::Rejected {
                    step: SmtpStep::Message,
                    code: 554,
                    reply,
                    ..
                },
            ) => assert!(reply.contains("spam"), "{reply}"),
            _ => panic!("{case}: {error:?}"),
        }
        assert!(!error.is_in_doubt(), "{case}");
        // The session goes on after RSET: the next attempt gets the same answer.
        let again = send(&transport, "refused.2@acme.test").await.unwrap_err();
        assert_eq!(
            std::mem::discriminant(&again),
            std::mem::discriminant(&error)
        );
        assert_eq!(sink.received_count(), 0, "{case}");
    }
}

#[tokio::test]
async fn a_connection_lost_after_the_message_is_in_doubt_and_the_message_did_arrive() {
    let Some(sink) = SmtpSink::start(&SinkOptions {
        drop_at: Some(DropAt::AfterData),
        drop_count: Some(1),
        ..SinkOptions::default()
    }) else {
        return;
    };
    let transport = SmtpTransport::new(plain_config(sink.port)).unwrap();
    let error = send(&transport, "doubt.1@acme.test").await.unwrap_err();
    assert!(error.is_in_doubt(), "{error:?}");
    assert!(!error.is_retryable());
    assert!(error.to_string().contains("never resend"), "{error}");
    // Exactly why it is in doubt: the server has it.
    let received = sink.wait_for(1, Duration::from_secs(5));
    assert_eq!(
        received[0].message_id.as_deref(),
        Some("<doubt.1@acme.test>")
    );

    // The transport recovers on a fresh connection.
    send(&transport, "doubt.2@acme.test").await.unwrap();
    assert_eq!(sink.wait_for(2, Duration::from_secs(5)).len(), 2);
}

#[tokio::test]
async fn a_connection_lost_before_the_message_is_not_delivered_and_may_be_retried() {
    let Some(sink) = SmtpSink::start(&SinkOptions {
        drop_at: Some(DropAt::MailFrom),
        drop_count: Some(1),
        ..SinkOptions::default()
    }) else {
        return;
    };
    let transport = SmtpTransport::new(plain_config(sink.port)).unwrap();
    let error = send(&transport, "before.1@acme.test").await.unwrap_err();
    assert!(matches!(error, DeliveryError::Connection(_)), "{error:?}");
    assert!(error.is_retryable() && !error.is_in_doubt());
    assert!(error.to_string().contains("MAIL FROM"), "{error}");
    assert_eq!(sink.received_count(), 0);
    send(&transport, "before.1@acme.test").await.unwrap();
    assert_eq!(
        sink.count_by_message_id().get("<before.1@acme.test>"),
        Some(&1)
    );
}

#[tokio::test]
async fn a_pooled_connection_the_server_closed_is_replaced_without_a_duplicate() {
    let Some(sink) = SmtpSink::start(&SinkOptions {
        idle_timeout: Some(Duration::from_millis(300)),
        ..SinkOptions::default()
    }) else {
        return;
    };
    let transport = SmtpTransport::new(plain_config(sink.port)).unwrap();
    send(&transport, "pool.1@acme.test").await.unwrap();
    // The server hangs up the idle session (421) while it sits in the pool.
    tokio::time::sleep(Duration::from_millis(900)).await;
    send(&transport, "pool.2@acme.test").await.unwrap();
    let counts = sink.count_by_message_id();
    assert_eq!(
        counts.into_iter().collect::<Vec<_>>(),
        [
            ("<pool.1@acme.test>".to_owned(), 1),
            ("<pool.2@acme.test>".to_owned(), 1)
        ]
    );
}

#[tokio::test]
async fn nothing_listening_is_a_quick_connection_error() {
    let port = {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let started = Instant::now();
    let error = send(
        &SmtpTransport::new(plain_config(port)).unwrap(),
        "closed.1@acme.test",
    )
    .await
    .unwrap_err();
    assert!(matches!(error, DeliveryError::Connection(_)), "{error:?}");
    assert!(
        error.to_string().contains("cannot connect to 127.0.0.1"),
        "{error}"
    );
    assert!(started.elapsed() < Duration::from_secs(2));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_senders_share_the_pool_and_each_message_arrives_once() {
    let Some(sink) = SmtpSink::start(&SinkOptions::default()) else {
        return;
    };
    let transport = Arc::new(SmtpTransport::new(plain_config(sink.port)).unwrap());
    let mut tasks = tokio::task::JoinSet::new();
    for worker in 0..6 {
        let transport = Arc::clone(&transport);
        tasks.spawn(async move {
            for n in 0..25 {
                send(&transport, &format!("many.{worker}.{n}@acme.test"))
                    .await
                    .unwrap();
            }
        });
    }
    while let Some(done) = tasks.join_next().await {
        done.unwrap();
    }
    let received = sink.wait_for(150, Duration::from_secs(10));
    assert_eq!(received.len(), 150);
    let counts = sink.count_by_message_id();
    assert_eq!(counts.len(), 150);
    assert!(counts.values().all(|n| *n == 1));
}
