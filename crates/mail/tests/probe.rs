//! The SMTP RCPT probe against a real SMTP server (aiosmtpd, started per
//! test), against raw TCP servers that misbehave, and through the Verifier;
//! plus the reply parser on well-formed, malformed and arbitrary bytes.
// Test helpers outside #[test] fns are not covered by clippy.toml's allowance.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "probe/dns.rs"]
mod dns;
#[path = "probe/server.rs"]
mod server;

use std::net::Ipv4Addr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use handoff_domain::verification::{InvalidReason, RiskReason, Verdict};
use handoff_mail::address::dns::DnsConfig;
use handoff_mail::address::probe::{
    MAX_HOSTS, MAX_REPLY_BYTES, MAX_REPLY_LINES, ProbeConfig, ProbeOutcome, Reply, ReplyError,
    SmtpProber,
};
use handoff_mail::address::verify::Verifier;
use proptest::prelude::*;
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use server::{Behaviour, RawServer, SmtpServer, closed_port, drain, flood, require_aiosmtpd};

const HELO: &str = "probe.handoff.test";
const FROM: &str = "probe@handoff.test";

fn config(port: u16) -> ProbeConfig {
    ProbeConfig {
        helo_name: HELO.into(),
        mail_from: FROM.into(),
        connect_timeout: Duration::from_secs(2),
        command_timeout: Duration::from_secs(2),
        port,
    }
}

fn prober(port: u16) -> SmtpProber {
    SmtpProber::new(config(port))
}

fn localhost() -> Vec<String> {
    vec!["127.0.0.1".to_owned()]
}

/// The decoy RCPT: a different, random local part on the same domain.
fn assert_decoy(command: &str, real_local: &str, domain: &str) {
    let address = command
        .strip_prefix("RCPT TO:<")
        .and_then(|rest| rest.strip_suffix('>'))
        .unwrap_or_else(|| panic!("not a RCPT: {command}"));
    let (local, at) = address.rsplit_once('@').unwrap();
    assert_eq!(at, domain, "{command}");
    assert_ne!(local, real_local, "{command}");
    assert!(
        local.len() >= 16,
        "decoy local part too guessable: {command}"
    );
}

fn assert_no_data(commands: &[String]) {
    assert!(
        !commands.iter().any(|c| c.starts_with("DATA")),
        "DATA was sent: {commands:?}"
    );
}

// ---------------------------------------------------------------------------
// Against aiosmtpd
// ---------------------------------------------------------------------------

#[tokio::test]
async fn an_existing_mailbox_is_accepted_when_a_random_one_is_refused() {
    require_aiosmtpd!();
    let server = SmtpServer::start(&Behaviour::accepting(&["jane@acme.test"]));
    let outcome = prober(server.port)
        .probe(&localhost(), "jane@acme.test")
        .await;
    assert_eq!(outcome, ProbeOutcome::Accepted);
    assert!(outcome.is_conclusive());

    let commands = server.commands_after_quit();
    assert_eq!(commands.len(), 6, "{commands:?}");
    assert_eq!(commands[0], format!("EHLO {HELO}"));
    assert_eq!(commands[1], format!("MAIL FROM:<{FROM}>"));
    assert_eq!(commands[2], "RCPT TO:<jane@acme.test>");
    assert_decoy(&commands[3], "jane", "acme.test");
    assert_eq!(commands[4..], ["RSET", "QUIT"]);
    assert_no_data(&commands);
}

#[tokio::test]
async fn a_refused_mailbox_is_rejected_with_the_multi_line_reply() {
    require_aiosmtpd!();
    let server = SmtpServer::start(&Behaviour {
        reject_message: Some(
            "550-5.1.1 The email account that you tried to reach does not exist.\\n\
             550 5.1.1 Please check the address."
                .into(),
        ),
        ..Behaviour::default()
    });
    let outcome = prober(server.port)
        .probe(&localhost(), "nobody@acme.test")
        .await;
    assert_eq!(
        outcome,
        ProbeOutcome::Rejected {
            code: 550,
            message: "5.1.1 The email account that you tried to reach does not exist. \
                      5.1.1 Please check the address."
                .into()
        }
    );
    let commands = server.commands_after_quit();
    // No decoy once the address itself is refused.
    assert_eq!(
        commands[2..],
        ["RCPT TO:<nobody@acme.test>", "RSET", "QUIT"],
        "{commands:?}"
    );
    assert_no_data(&commands);
}

#[tokio::test]
async fn a_server_that_accepts_everyone_is_a_catch_all() {
    require_aiosmtpd!();
    let server = SmtpServer::start(&Behaviour {
        catch_all: true,
        ..Behaviour::default()
    });
    let outcome = prober(server.port)
        .probe(&localhost(), "anyone@acme.test")
        .await;
    assert_eq!(outcome, ProbeOutcome::CatchAll);
    let commands = server.commands_after_quit();
    assert_eq!(commands.len(), 6, "{commands:?}");
    assert_decoy(&commands[3], "anyone", "acme.test");
    // The most permissive server there is, and still no message.
    assert_no_data(&commands);
}

#[tokio::test]
async fn greylisting_is_a_temporary_failure() {
    require_aiosmtpd!();
    let server = SmtpServer::start(&Behaviour {
        tempfail: true,
        ..Behaviour::default()
    });
    let outcome = prober(server.port)
        .probe(&localhost(), "jane@acme.test")
        .await;
    let ProbeOutcome::TemporaryFailure {
        code: Some(450),
        message,
    } = &outcome
    else {
        panic!("{outcome:?}");
    };
    assert!(message.contains("greylisted"), "{message}");
    assert!(!outcome.is_conclusive());
    let commands = server.commands_after_quit();
    assert_eq!(commands[2..], ["RCPT TO:<jane@acme.test>", "RSET", "QUIT"]);
    assert_no_data(&commands);
}

#[tokio::test]
async fn a_refusal_aimed_at_the_sender_is_not_a_rejection() {
    require_aiosmtpd!();
    let server = SmtpServer::start(&Behaviour {
        reject_message: Some("550 5.7.1 Client host blocked using zen.spamhaus.org".into()),
        ..Behaviour::default()
    });
    let outcome = prober(server.port)
        .probe(&localhost(), "jane@acme.test")
        .await;
    let ProbeOutcome::TemporaryFailure {
        code: Some(550),
        message,
    } = &outcome
    else {
        panic!("{outcome:?}");
    };
    assert!(message.contains("not about the mailbox"), "{message}");
    assert!(message.contains("spamhaus"), "{message}");
    assert_no_data(&server.commands_after_quit());
}

#[tokio::test]
async fn a_server_without_ehlo_is_spoken_to_with_helo() {
    require_aiosmtpd!();
    let server = SmtpServer::start(&Behaviour {
        no_ehlo: true,
        ..Behaviour::accepting(&["jane@acme.test"])
    });
    let outcome = prober(server.port)
        .probe(&localhost(), "jane@acme.test")
        .await;
    assert_eq!(outcome, ProbeOutcome::Accepted);
    let commands = server.commands_after_quit();
    assert_eq!(
        commands[..3],
        [
            format!("HELO {HELO}"),
            format!("MAIL FROM:<{FROM}>"),
            "RCPT TO:<jane@acme.test>".to_owned()
        ],
        "{commands:?}"
    );
    assert_no_data(&commands);
}

#[tokio::test]
async fn a_non_ascii_address_is_probed_with_smtputf8_only_where_offered() {
    require_aiosmtpd!();
    let server = SmtpServer::start(&Behaviour::accepting(&["josé@acme.test"]));
    let outcome = prober(server.port)
        .probe(&localhost(), "josé@acme.test")
        .await;
    assert_eq!(outcome, ProbeOutcome::Accepted);
    let commands = server.commands_after_quit();
    assert_eq!(commands[1], format!("MAIL FROM:<{FROM}> SMTPUTF8"));
    assert_eq!(commands[2], "RCPT TO:<josé@acme.test>");

    // A HELO-only server cannot take SMTPUTF8: nothing is asked.
    let old = SmtpServer::start(&Behaviour {
        no_ehlo: true,
        ..Behaviour::accepting(&["josé@acme.test"])
    });
    let outcome = prober(old.port).probe(&localhost(), "josé@acme.test").await;
    let ProbeOutcome::TemporaryFailure {
        code: None,
        message,
    } = &outcome
    else {
        panic!("{outcome:?}");
    };
    assert!(message.contains("SMTPUTF8"), "{message}");
    let commands = old.commands_after_quit();
    assert!(
        !commands.iter().any(|c| c.starts_with("MAIL")),
        "{commands:?}"
    );
}

#[tokio::test]
async fn the_next_host_is_tried_when_the_first_is_closed_or_silent() {
    require_aiosmtpd!();
    let server = SmtpServer::start(&Behaviour::accepting(&["jane@acme.test"]));

    // 127.0.0.2: nothing listens on the server's port there.
    let started = Instant::now();
    let outcome = prober(server.port)
        .probe(
            &["127.0.0.2".to_owned(), "127.0.0.1".to_owned()],
            "jane@acme.test",
        )
        .await;
    assert_eq!(outcome, ProbeOutcome::Accepted);
    assert!(started.elapsed() < Duration::from_secs(2));

    // 127.0.0.3: accepts the connection and never greets.
    let silent = RawServer::start(
        Ipv4Addr::new(127, 0, 0, 3),
        server.port,
        |mut s, log| async move {
            drain(&mut s, &log, Duration::from_secs(5)).await;
        },
    )
    .await;
    let config = ProbeConfig {
        command_timeout: Duration::from_millis(400),
        ..config(server.port)
    };
    let started = Instant::now();
    let outcome = SmtpProber::new(config)
        .probe(
            &[silent.addr.ip().to_string(), "[127.0.0.1]".to_owned()],
            "jane@acme.test",
        )
        .await;
    assert_eq!(outcome, ProbeOutcome::Accepted);
    assert!(started.elapsed() < Duration::from_secs(3));
    assert_no_data(&server.commands_after_quit());
}

// ---------------------------------------------------------------------------
// Without a real server (these run even where aiosmtpd is missing)
// ---------------------------------------------------------------------------

#[tokio::test]
async fn a_closed_port_is_unreachable_quickly() {
    let port = closed_port(Ipv4Addr::LOCALHOST);
    let started = Instant::now();
    let outcome = prober(port).probe(&localhost(), "jane@acme.test").await;
    let ProbeOutcome::Unreachable { reason } = &outcome else {
        panic!("{outcome:?}");
    };
    assert!(reason.contains("127.0.0.1: cannot connect"), "{reason}");
    assert!(started.elapsed() < Duration::from_secs(2));
}

#[tokio::test]
async fn no_hosts_or_too_many_dead_hosts_are_unreachable() {
    let outcome = prober(25).probe(&[], "jane@acme.test").await;
    assert!(
        matches!(outcome, ProbeOutcome::Unreachable { .. }),
        "{outcome:?}"
    );

    let port = closed_port(Ipv4Addr::LOCALHOST);
    let hosts: Vec<String> = (1..=MAX_HOSTS + 3)
        .map(|i| format!("127.0.0.{i}"))
        .collect();
    let outcome = prober(port).probe(&hosts, "jane@acme.test").await;
    let ProbeOutcome::Unreachable { reason } = &outcome else {
        panic!("{outcome:?}");
    };
    assert_eq!(
        reason.matches("cannot connect").count(),
        MAX_HOSTS,
        "{reason}"
    );
}

#[tokio::test]
async fn unsafe_inputs_are_never_sent() {
    let permissive = RawServer::start(Ipv4Addr::LOCALHOST, 0, |mut s, log| async move {
        let _ = s.write_all(b"220 hi\r\n").await;
        drain(&mut s, &log, Duration::from_secs(1)).await;
    })
    .await;
    let port = permissive.addr.port();
    for address in [
        "jane@acme.test>\r\nDATA",
        "jane@acme.test\nRCPT TO:<x@y>",
        "no-at-sign",
    ] {
        let outcome = prober(port).probe(&localhost(), address).await;
        let ProbeOutcome::TemporaryFailure {
            code: None,
            message,
        } = &outcome
        else {
            panic!("{address:?}: {outcome:?}");
        };
        assert!(message.starts_with("not probed"), "{message}");
    }
    let bad_from = SmtpProber::new(ProbeConfig {
        mail_from: "x@y>\r\nDATA".into(),
        ..config(port)
    });
    let outcome = bad_from.probe(&localhost(), "jane@acme.test").await;
    assert!(matches!(
        outcome,
        ProbeOutcome::TemporaryFailure { code: None, .. }
    ));
    assert!(permissive.received.lock().unwrap().is_empty());
}

/// A server that says 250 to everything: the transcript is exactly the
/// probe's, with no DATA.
#[tokio::test]
async fn the_transcript_never_contains_data() {
    let yes_man = RawServer::start(Ipv4Addr::LOCALHOST, 0, |mut s, log| async move {
        let _ = s.write_all(b"220 yes-man ESMTP\r\n").await;
        let mut seen = 0;
        let mut pending = Vec::new();
        let mut chunk = [0_u8; 1024];
        loop {
            let n = match tokio::time::timeout(Duration::from_secs(3), s.read(&mut chunk)).await {
                Ok(Ok(n)) if n > 0 => n,
                _ => return,
            };
            log.lock().unwrap().extend_from_slice(&chunk[..n]);
            pending.extend_from_slice(&chunk[..n]);
            while let Some(end) = pending.iter().position(|&b| b == b'\n') {
                let line: Vec<u8> = pending.drain(..=end).collect();
                seen += 1;
                let reply: &[u8] = if line.starts_with(b"EHLO") {
                    b"250-yes-man\r\n250-PIPELINING\r\n250 8BITMIME\r\n"
                } else if line.starts_with(b"QUIT") {
                    b"221 bye\r\n"
                } else if line.starts_with(b"DATA") {
                    b"354 go ahead\r\n"
                } else {
                    b"250 ok\r\n"
                };
                if s.write_all(reply).await.is_err() || seen > 20 {
                    return;
                }
            }
        }
    })
    .await;
    let outcome = prober(yes_man.addr.port())
        .probe(&localhost(), "jane@acme.test")
        .await;
    assert_eq!(outcome, ProbeOutcome::CatchAll);
    tokio::time::sleep(Duration::from_millis(100)).await;
    let transcript = String::from_utf8(yes_man.received.lock().unwrap().clone()).unwrap();
    let lines: Vec<&str> = transcript.split_terminator("\r\n").collect();
    assert_eq!(lines.len(), 6, "{transcript}");
    assert_eq!(lines[0], format!("EHLO {HELO}"));
    assert_eq!(lines[1], format!("MAIL FROM:<{FROM}>"));
    assert_eq!(lines[2], "RCPT TO:<jane@acme.test>");
    assert_decoy(lines[3], "jane", "acme.test");
    assert_eq!(lines[4..], ["RSET", "QUIT"]);
    assert!(!transcript.contains("DATA"), "{transcript}");
}

#[tokio::test]
async fn a_refused_greeting_on_every_host_is_a_temporary_failure() {
    let busy = RawServer::start(Ipv4Addr::LOCALHOST, 0, |mut s, log| async move {
        let _ = s.write_all(b"554 5.7.1 no service for you\r\n").await;
        drain(&mut s, &log, Duration::from_secs(1)).await;
    })
    .await;
    let outcome = prober(busy.addr.port())
        .probe(&localhost(), "jane@acme.test")
        .await;
    let ProbeOutcome::TemporaryFailure {
        code: Some(554),
        message,
    } = &outcome
    else {
        panic!("{outcome:?}");
    };
    assert!(message.contains("greeting: 554"), "{message}");
}

/// Hostile greetings: endless continuation lines, one endless line, a
/// reply trickled a byte at a time, garbage. Each ends the probe within the
/// limits, as `Unreachable`.
#[tokio::test]
async fn hostile_servers_cannot_hold_the_probe_or_its_memory() {
    type Script =
        fn(TcpStream, Arc<Mutex<Vec<u8>>>) -> std::pin::Pin<Box<dyn Future<Output = ()> + Send>>;
    let cases: [(&str, Script, &str); 5] = [
        (
            "endless continuation lines",
            |mut s, _| {
                Box::pin(async move {
                    flood(&mut s, b"220-still greeting\r\n", Duration::from_secs(3)).await;
                })
            },
            "more than",
        ),
        (
            "one endless line",
            |mut s, _| {
                Box::pin(async move {
                    let _ = s.write_all(b"220 ").await;
                    flood(&mut s, &[b'x'; 4096], Duration::from_secs(3)).await;
                })
            },
            "longer than",
        ),
        (
            "long continuation lines",
            |mut s, _| {
                Box::pin(async move {
                    let mut line = b"220-".to_vec();
                    line.extend_from_slice(&[b'y'; 2000]);
                    line.extend_from_slice(b"\r\n");
                    flood(&mut s, &line, Duration::from_secs(3)).await;
                })
            },
            "longer than",
        ),
        (
            "a byte every 20 ms",
            |mut s, _| {
                Box::pin(async move {
                    let _ = tokio::time::timeout(Duration::from_secs(3), async {
                        loop {
                            if s.write_all(b"2").await.is_err() {
                                return;
                            }
                            tokio::time::sleep(Duration::from_millis(20)).await;
                        }
                    })
                    .await;
                })
            },
            "no reply within",
        ),
        (
            "not SMTP at all",
            |mut s, log| {
                Box::pin(async move {
                    let _ = s.write_all(b"HTTP/1.1 400 Bad Request\r\n\r\n").await;
                    drain(&mut s, &log, Duration::from_secs(1)).await;
                })
            },
            "malformed",
        ),
    ];
    for (name, script, expected) in cases {
        let hostile = RawServer::start(Ipv4Addr::LOCALHOST, 0, script).await;
        let config = ProbeConfig {
            command_timeout: Duration::from_millis(500),
            ..config(hostile.addr.port())
        };
        let started = Instant::now();
        let outcome = SmtpProber::new(config)
            .probe(&localhost(), "jane@acme.test")
            .await;
        let elapsed = started.elapsed();
        let ProbeOutcome::Unreachable { reason } = &outcome else {
            panic!("{name}: {outcome:?}");
        };
        assert!(reason.contains(expected), "{name}: {reason}");
        assert!(
            elapsed < Duration::from_millis(1500),
            "{name}: took {elapsed:?}"
        );
        assert!(reason.chars().count() < 600, "{name}: reason not clipped");
    }
}

#[test]
fn outcomes_serialize_with_an_outcome_tag() {
    let cases = [
        (ProbeOutcome::Accepted, json!({"outcome": "accepted"})),
        (ProbeOutcome::CatchAll, json!({"outcome": "catch_all"})),
        (
            ProbeOutcome::Rejected {
                code: 550,
                message: "no such user".into(),
            },
            json!({"outcome": "rejected", "code": 550, "message": "no such user"}),
        ),
        (
            ProbeOutcome::TemporaryFailure {
                code: None,
                message: "x".into(),
            },
            json!({"outcome": "temporary_failure", "code": null, "message": "x"}),
        ),
        (
            ProbeOutcome::Unreachable { reason: "y".into() },
            json!({"outcome": "unreachable", "reason": "y"}),
        ),
    ];
    for (outcome, expected) in cases {
        assert_eq!(serde_json::to_value(&outcome).unwrap(), expected);
    }
}

#[test]
fn the_prober_is_clone_send_sync() {
    fn assert_traits<T: Clone + Send + Sync + std::fmt::Debug + 'static>() {}
    assert_traits::<SmtpProber>();
    assert_traits::<Verifier>();
}

// ---------------------------------------------------------------------------
// Through the Verifier
// ---------------------------------------------------------------------------

async fn verifier(dns: &dns::TestDns, smtp_port: Option<u16>) -> Verifier {
    let verifier = Verifier::online(DnsConfig {
        nameservers: vec![dns.addr],
        timeout: Duration::from_millis(500),
        attempts: 2,
        max_concurrent: 4,
        cache_ttl: Duration::from_secs(60),
    })
    .unwrap();
    match smtp_port {
        Some(port) => verifier.with_probe(prober(port)),
        None => verifier,
    }
}

#[tokio::test]
async fn the_verifier_probes_only_when_told_to() {
    require_aiosmtpd!();
    let dns = dns::TestDns::start().await;
    let jane = format!("jane@{}", dns::fqdn("implicit"));
    let server = SmtpServer::start(&Behaviour::accepting(&[&jane]));

    let plain = verifier(&dns, None).await.check(&jane).await;
    assert_eq!(plain.verdict, Verdict::Valid);
    assert_eq!(plain.probe, None);
    assert_eq!(
        plain.detail,
        format!("well-formed and {} accepts mail", dns::fqdn("implicit"))
    );
    let value = serde_json::to_value(&plain).unwrap();
    assert!(value.get("probe").is_none(), "{value}");
    assert!(server.commands().is_empty(), "probed without a prober");

    let probed = verifier(&dns, Some(server.port)).await.check(&jane).await;
    assert_eq!(probed.verdict, Verdict::Valid);
    assert_eq!(probed.probe, Some(ProbeOutcome::Accepted));
    assert!(
        probed.detail.contains("accepted this recipient"),
        "{}",
        probed.detail
    );
    let value = serde_json::to_value(&probed).unwrap();
    assert_eq!(value["probe"], json!({"outcome": "accepted"}));

    let nobody = format!("nobody@{}", dns::fqdn("implicit"));
    let rejected = verifier(&dns, Some(server.port)).await.check(&nobody).await;
    assert_eq!(rejected.verdict, Verdict::Invalid(InvalidReason::Rejected));
    assert_eq!(
        (rejected.status, rejected.reason),
        ("invalid", Some("rejected"))
    );
    assert!(
        rejected.detail.contains("550 5.1.1 no such user"),
        "{}",
        rejected.detail
    );
    assert_no_data(&server.commands_after_quit());
}

#[tokio::test]
async fn the_verifier_follows_mx_hosts_and_flags_catch_alls() {
    require_aiosmtpd!();
    let dns = dns::TestDns::start().await;
    let server = SmtpServer::start(&Behaviour {
        catch_all: true,
        ..Behaviour::default()
    });
    // mx.probe-test.example has MX 10 localhost.
    let address = format!("jane@{}", dns::fqdn("mx"));
    let check = verifier(&dns, Some(server.port))
        .await
        .check(&address)
        .await;
    assert_eq!(check.probe, Some(ProbeOutcome::CatchAll));
    assert_eq!(check.verdict, Verdict::Risky(RiskReason::CatchAll));
    assert!(
        check.detail.contains("accepts every address"),
        "{}",
        check.detail
    );

    // A role account stays a role account; the probe adds its word.
    let role = format!("info@{}", dns::fqdn("mx"));
    let check = verifier(&dns, Some(server.port)).await.check(&role).await;
    assert_eq!(check.verdict, Verdict::Risky(RiskReason::RoleAccount));
    assert!(
        check
            .detail
            .ends_with("the mail server also accepts every address"),
        "{}",
        check.detail
    );
}

#[tokio::test]
async fn an_inconclusive_probe_leaves_the_verdict_alone_and_says_so() {
    require_aiosmtpd!();
    let dns = dns::TestDns::start().await;
    let server = SmtpServer::start(&Behaviour {
        tempfail: true,
        ..Behaviour::default()
    });
    let address = format!("jane@{}", dns::fqdn("implicit"));
    let check = verifier(&dns, Some(server.port))
        .await
        .check(&address)
        .await;
    assert_eq!(check.verdict, Verdict::Valid);
    assert!(matches!(
        check.probe,
        Some(ProbeOutcome::TemporaryFailure {
            code: Some(450),
            ..
        })
    ));
    assert!(
        check.detail.contains("inconclusive (450"),
        "{}",
        check.detail
    );

    let closed = closed_port(Ipv4Addr::LOCALHOST);
    let check = verifier(&dns, Some(closed)).await.check(&address).await;
    assert_eq!(check.verdict, Verdict::Valid);
    assert!(matches!(
        check.probe,
        Some(ProbeOutcome::Unreachable { .. })
    ));
    assert!(
        check.detail.contains("reached no mail server"),
        "{}",
        check.detail
    );
}

// ---------------------------------------------------------------------------
// The reply parser
// ---------------------------------------------------------------------------

#[test]
fn multi_line_replies_are_parsed_whole() {
    let ehlo = Reply::parse(
        b"250-mx.acme.test Hello\r\n250-SIZE 35882577\r\n250-8BITMIME\r\n250 SMTPUTF8\r\n",
    )
    .unwrap();
    assert_eq!(ehlo.code, 250);
    assert_eq!(ehlo.class(), 2);
    assert_eq!(
        ehlo.lines,
        [
            "mx.acme.test Hello",
            "SIZE 35882577",
            "8BITMIME",
            "SMTPUTF8"
        ]
    );
    assert!(ehlo.has_extension("smtputf8"));
    assert!(ehlo.has_extension("SIZE"));
    assert!(
        !ehlo.has_extension("mx.acme.test"),
        "the greeting line is no extension"
    );
    assert!(!ehlo.has_extension("STARTTLS"));

    let rejected = Reply::parse(b"550-5.1.1 no such\n550 5.1.1 user\n").unwrap();
    assert_eq!(rejected.text(), "5.1.1 no such 5.1.1 user");
    assert_eq!(rejected.enhanced_status(), Some((5, 1, 1)));

    let bare = Reply::parse(b"250\r\n").unwrap();
    assert_eq!((bare.code, bare.lines.clone()), (250, vec![String::new()]));
    assert_eq!(bare.enhanced_status(), None);

    let empty_continuation = Reply::parse(b"220-\r\n220 ready\r\n").unwrap();
    assert_eq!(empty_continuation.lines, ["", "ready"]);

    assert_eq!(
        Reply::parse(b"451 4.7.1 later\r\n")
            .unwrap()
            .enhanced_status(),
        Some((4, 7, 1))
    );
    assert_eq!(
        Reply::parse(b"250 2.1.5.9 odd\r\n")
            .unwrap()
            .enhanced_status(),
        None
    );
    assert_eq!(
        Reply::parse(b"250 9.1.1 odd\r\n")
            .unwrap()
            .enhanced_status(),
        None
    );
}

#[test]
fn server_text_cannot_carry_control_characters() {
    let reply = Reply::parse(b"550 bad\x1b[31m\x07user \xff\xfe\r\n").unwrap();
    assert_eq!(reply.lines, ["bad?[31m?user \u{fffd}\u{fffd}"]);
}

#[test]
fn malformed_replies_are_errors() {
    for bad in [
        &b"\r\n"[..],
        b"25\r\n",
        b"2500 x\r\n",
        b"250x\r\n",
        b"abc def\r\n",
        b" 250 x\r\n",
        b"150 x\r\n",
        b"650 x\r\n",
        b"260 x\r\n",
        b"25a x\r\n",
        b"250-ok\r\nnot a line\r\n",
    ] {
        let error = Reply::parse(bad).unwrap_err();
        assert!(
            matches!(error, ReplyError::Malformed(_)),
            "{bad:?}: {error:?}"
        );
    }
    assert_eq!(
        Reply::parse(b"250-a\r\n251 b\r\n"),
        Err(ReplyError::MixedCodes {
            first: 250,
            then: 251
        })
    );
    for incomplete in [&b""[..], b"250 no newline", b"250-a\r\n", b"250-a\r\n250 b"] {
        assert_eq!(
            Reply::parse(incomplete),
            Err(ReplyError::Incomplete),
            "{incomplete:?}"
        );
    }
    assert_eq!(
        Reply::parse(b"250 a\r\n250 b\r\n"),
        Err(ReplyError::TrailingData)
    );
}

#[test]
fn replies_are_bounded_in_lines_and_bytes() {
    let mut many = b"250-x\r\n".repeat(MAX_REPLY_LINES - 1);
    many.extend_from_slice(b"250 last\r\n");
    assert_eq!(Reply::parse(&many).unwrap().lines.len(), MAX_REPLY_LINES);

    let mut too_many = b"250-x\r\n".repeat(MAX_REPLY_LINES);
    too_many.extend_from_slice(b"250 last\r\n");
    assert_eq!(Reply::parse(&too_many), Err(ReplyError::TooManyLines));

    let mut long = b"250 ".to_vec();
    long.resize(MAX_REPLY_BYTES - 2, b'x');
    long.extend_from_slice(b"\r\n");
    assert!(Reply::parse(&long).is_ok(), "exactly the limit is fine");

    let mut too_long = b"250 ".to_vec();
    too_long.resize(MAX_REPLY_BYTES + 10, b'x');
    assert_eq!(Reply::parse(&too_long), Err(ReplyError::TooLong));
    too_long.extend_from_slice(b"\r\n");
    assert_eq!(Reply::parse(&too_long), Err(ReplyError::TooLong));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn the_parser_never_panics_on_arbitrary_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
        let _ = Reply::parse(&bytes);
    }

    #[test]
    fn the_parser_never_panics_on_near_replies(
        lines in proptest::collection::vec(
            (100_u16..700, prop_oneof![Just(""), Just(" "), Just("-"), Just("x")],
             proptest::collection::vec(any::<u8>(), 0..40),
             prop_oneof![Just("\r\n"), Just("\n"), Just("\r"), Just("")]),
            0..12,
        )
    ) {
        let mut bytes = Vec::new();
        for (code, separator, text, end) in lines {
            bytes.extend_from_slice(code.to_string().as_bytes());
            bytes.extend_from_slice(separator.as_bytes());
            bytes.extend_from_slice(&text);
            bytes.extend_from_slice(end.as_bytes());
        }
        let _ = Reply::parse(&bytes);
    }

    #[test]
    fn well_formed_replies_round_trip(
        digits in (2_u16..=5, 0_u16..=5, 0_u16..=9),
        texts in proptest::collection::vec("[ -~]{0,60}", 1..20),
    ) {
        let code = digits.0 * 100 + digits.1 * 10 + digits.2;
        let mut bytes = Vec::new();
        for (index, text) in texts.iter().enumerate() {
            let separator = if index + 1 == texts.len() { ' ' } else { '-' };
            bytes.extend_from_slice(format!("{code}{separator}{text}\r\n").as_bytes());
        }
        let reply = Reply::parse(&bytes).unwrap();
        prop_assert_eq!(reply.code, code);
        prop_assert_eq!(reply.lines, texts);
    }
}
