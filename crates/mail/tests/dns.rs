//! MailDomainChecker against real DNS servers started on 127.0.0.1.
// Test helpers outside #[test] fns are not covered by clippy.toml's allowance.
#![allow(clippy::unwrap_used, clippy::panic)]

#[path = "dns/server.rs"]
mod server;

use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use handoff_mail::address::dns::{DnsConfig, DnsSetupError, DomainVerdict, MailDomainChecker};
use hickory_server::proto::rr::RecordType;
use serde_json::json;
use tokio::task::JoinSet;

use server::{PARALLEL_DOMAINS, TestDns, fqdn, start_servfail_responder, start_silent_server};

fn config_for(nameserver: SocketAddr) -> DnsConfig {
    DnsConfig {
        nameservers: vec![nameserver],
        timeout: Duration::from_millis(500),
        attempts: 2,
        max_concurrent: 8,
        cache_ttl: Duration::from_secs(60),
    }
}

fn checker_for(nameserver: SocketAddr) -> MailDomainChecker {
    MailDomainChecker::new(config_for(nameserver)).unwrap()
}

#[test]
fn checker_is_clone_send_sync() {
    fn assert_traits<T: Clone + Send + Sync + std::fmt::Debug + 'static>() {}
    assert_traits::<MailDomainChecker>();
}

#[tokio::test]
async fn two_mx_records_come_back_sorted_by_preference() {
    let dns = TestDns::start().await;
    let verdict = checker_for(dns.addr).check(&fqdn("two-mx")).await;
    assert_eq!(
        verdict,
        DomainVerdict::HasMx {
            exchanges: vec![fqdn("mx1"), fqdn("mx2")]
        }
    );
    assert_eq!(verdict.accepts_mail(), Some(true));
    // MX answered: no address fallback.
    assert_eq!(dns.log.count_any(&fqdn("two-mx")), 1);
}

#[tokio::test]
async fn a_only_domain_is_an_implicit_mx() {
    let dns = TestDns::start().await;
    let domain = fqdn("a-only");
    let verdict = checker_for(dns.addr).check(&domain).await;
    assert_eq!(
        verdict,
        DomainVerdict::ImplicitMx {
            addresses: vec!["192.0.2.10".parse::<IpAddr>().unwrap()]
        }
    );
    assert_eq!(verdict.accepts_mail(), Some(true));
    assert_eq!(dns.log.count(&domain, RecordType::MX), 1);
    assert_eq!(dns.log.count(&domain, RecordType::A), 1);
    // A answered, so AAAA is never asked.
    assert_eq!(dns.log.count(&domain, RecordType::AAAA), 0);
}

#[tokio::test]
async fn aaaa_only_domain_is_an_implicit_mx() {
    let dns = TestDns::start().await;
    let domain = fqdn("aaaa-only");
    let verdict = checker_for(dns.addr).check(&domain).await;
    assert_eq!(
        verdict,
        DomainVerdict::ImplicitMx {
            addresses: vec!["2001:db8::10".parse::<IpAddr>().unwrap()]
        }
    );
    for record_type in [RecordType::MX, RecordType::A, RecordType::AAAA] {
        assert_eq!(dns.log.count(&domain, record_type), 1, "{record_type}");
    }
}

#[tokio::test]
async fn null_mx_domain_accepts_no_mail() {
    let dns = TestDns::start().await;
    let domain = fqdn("null-mx");
    let verdict = checker_for(dns.addr).check(&domain).await;
    assert_eq!(verdict, DomainVerdict::NullMx);
    assert_eq!(verdict.accepts_mail(), Some(false));
    // A null MX is final: no implicit-MX fallback.
    assert_eq!(dns.log.count_any(&domain), 1);
}

#[tokio::test]
async fn existing_name_without_mx_a_or_aaaa_has_no_mail_server() {
    let dns = TestDns::start().await;
    let domain = fqdn("no-records");
    let verdict = checker_for(dns.addr).check(&domain).await;
    let DomainVerdict::NoMailServer { reason } = &verdict else {
        panic!("expected NoMailServer, got {verdict:?}");
    };
    assert!(reason.contains("no MX, A or AAAA"), "{reason}");
    assert_eq!(verdict.accepts_mail(), Some(false));
    for record_type in [RecordType::MX, RecordType::A, RecordType::AAAA] {
        assert_eq!(dns.log.count(&domain, record_type), 1, "{record_type}");
    }
}

#[tokio::test]
async fn nonexistent_domain_has_no_mail_server_after_one_query() {
    let dns = TestDns::start().await;
    let domain = fqdn("missing");
    let verdict = checker_for(dns.addr).check(&domain).await;
    let DomainVerdict::NoMailServer { reason } = &verdict else {
        panic!("expected NoMailServer, got {verdict:?}");
    };
    assert!(reason.contains("NXDOMAIN"), "{reason}");
    // NXDOMAIN on MX already says the name has no A/AAAA either.
    assert_eq!(dns.log.count_any(&domain), 1);
}

#[tokio::test]
async fn silent_nameserver_is_a_timeout_and_is_not_cached() {
    let (addr, received) = start_silent_server().await;
    let checker = MailDomainChecker::new(DnsConfig {
        timeout: Duration::from_millis(150),
        attempts: 1,
        ..config_for(addr)
    })
    .unwrap();

    let started = Instant::now();
    let verdict = checker.check("quiet.example").await;
    assert_eq!(verdict, DomainVerdict::Timeout);
    assert_eq!(verdict.accepts_mail(), None);
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    let after_first = received.load(Ordering::SeqCst);
    assert!(after_first >= 1, "the query never reached the socket");

    // Not cached: the next check asks again.
    assert_eq!(checker.check("quiet.example").await, DomainVerdict::Timeout);
    assert!(received.load(Ordering::SeqCst) > after_first);
}

#[tokio::test]
async fn attempts_resend_a_timed_out_query() {
    let (addr, received) = start_silent_server().await;
    let checker = MailDomainChecker::new(DnsConfig {
        timeout: Duration::from_millis(100),
        attempts: 3,
        ..config_for(addr)
    })
    .unwrap();
    assert_eq!(checker.check("quiet.example").await, DomainVerdict::Timeout);
    assert_eq!(received.load(Ordering::SeqCst), 3);
}

#[tokio::test]
async fn servfail_is_a_temporary_failure_and_is_not_cached() {
    let (addr, received) = start_servfail_responder().await;
    let checker = MailDomainChecker::new(DnsConfig {
        attempts: 1,
        ..config_for(addr)
    })
    .unwrap();

    let verdict = checker.check("broken.example").await;
    let DomainVerdict::TemporaryFailure { reason } = &verdict else {
        panic!("expected TemporaryFailure, got {verdict:?}");
    };
    assert!(reason.contains("SERVFAIL"), "{reason}");
    assert_eq!(verdict.accepts_mail(), None);
    assert_eq!(received.load(Ordering::SeqCst), 1);

    checker.check("broken.example").await;
    assert_eq!(received.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn refused_is_a_temporary_failure() {
    let dns = TestDns::start().await;
    // The server is not authoritative for this zone, so hickory answers REFUSED.
    let verdict = checker_for(dns.addr).check("elsewhere.example").await;
    let DomainVerdict::TemporaryFailure { reason } = &verdict else {
        panic!("expected TemporaryFailure, got {verdict:?}");
    };
    assert!(reason.contains("REFUSED"), "{reason}");
    // Two attempts configured: REFUSED is retried once, then reported.
    assert_eq!(dns.log.count("elsewhere.example", RecordType::MX), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_checks_of_one_domain_share_one_lookup_then_hit_the_cache() {
    // Slow answers so all hundred checks are waiting at the same time.
    let dns = TestDns::start_with_delay(Duration::from_millis(200)).await;
    let checker = checker_for(dns.addr);
    let domain = fqdn("two-mx");
    let expected = DomainVerdict::HasMx {
        exchanges: vec![fqdn("mx1"), fqdn("mx2")],
    };

    let mut checks = JoinSet::new();
    for _ in 0..100 {
        let checker = checker.clone();
        let domain = domain.clone();
        checks.spawn(async move { checker.check(&domain).await });
    }
    while let Some(verdict) = checks.join_next().await {
        assert_eq!(verdict.unwrap(), expected);
    }
    assert_eq!(dns.log.count(&domain, RecordType::MX), 1);
    assert_eq!(dns.log.total(), 1);

    // Served from the cache, whatever the spelling.
    let started = Instant::now();
    assert_eq!(checker.check(&domain.to_uppercase()).await, expected);
    assert_eq!(checker.check(&format!("{domain}.")).await, expected);
    assert!(started.elapsed() < Duration::from_millis(100));
    assert_eq!(dns.log.total(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancelled_check_does_not_strand_the_others_waiting_on_its_lookup() {
    let dns = TestDns::start_with_delay(Duration::from_millis(200)).await;
    let checker = checker_for(dns.addr);
    let domain = fqdn("two-mx");

    // The first check leads the lookup and is then abandoned mid-flight.
    let leader = tokio::spawn({
        let (checker, domain) = (checker.clone(), domain.clone());
        async move { tokio::time::timeout(Duration::from_millis(50), checker.check(&domain)).await }
    });
    tokio::time::sleep(Duration::from_millis(10)).await;
    let follower = tokio::spawn({
        let (checker, domain) = (checker.clone(), domain.clone());
        async move { checker.check(&domain).await }
    });

    assert!(
        leader.await.unwrap().is_err(),
        "the leader should have been cut off"
    );
    assert_eq!(
        follower.await.unwrap(),
        DomainVerdict::HasMx {
            exchanges: vec![fqdn("mx1"), fqdn("mx2")]
        }
    );
}

#[tokio::test]
async fn definite_verdicts_expire_after_the_cache_ttl() {
    let dns = TestDns::start().await;
    let checker = MailDomainChecker::new(DnsConfig {
        cache_ttl: Duration::from_millis(200),
        ..config_for(dns.addr)
    })
    .unwrap();
    let domain = fqdn("null-mx");

    assert_eq!(checker.check(&domain).await, DomainVerdict::NullMx);
    assert_eq!(checker.check(&domain).await, DomainVerdict::NullMx);
    assert_eq!(dns.log.count(&domain, RecordType::MX), 1);

    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(checker.check(&domain).await, DomainVerdict::NullMx);
    assert_eq!(dns.log.count(&domain, RecordType::MX), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn no_more_than_max_concurrent_domains_are_resolved_at_once() {
    let delay = Duration::from_millis(150);
    let dns = TestDns::start_with_delay(delay).await;
    let checker = MailDomainChecker::new(DnsConfig {
        max_concurrent: 2,
        timeout: Duration::from_secs(2),
        ..config_for(dns.addr)
    })
    .unwrap();

    let started = Instant::now();
    let mut checks = JoinSet::new();
    for index in 0..PARALLEL_DOMAINS {
        let checker = checker.clone();
        checks.spawn(async move { checker.check(&fqdn(&format!("parallel{index}"))).await });
    }
    while let Some(verdict) = checks.join_next().await {
        assert_eq!(verdict.unwrap().accepts_mail(), Some(true));
    }

    assert_eq!(dns.log.total(), PARALLEL_DOMAINS);
    // Two at a time, and really two at a time (not one).
    assert_eq!(dns.log.max_in_flight(), 2);
    let waves = u32::try_from(PARALLEL_DOMAINS / 2).unwrap();
    assert!(
        started.elapsed() >= delay * waves,
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn malformed_domains_are_rejected_without_a_query() {
    let dns = TestDns::start().await;
    let checker = checker_for(dns.addr);
    for bad in [
        "",
        ".",
        "..",
        "double..dot.example",
        "trailing.example..",
        "ünïcode.example",
    ] {
        let verdict = checker.check(bad).await;
        assert!(
            matches!(verdict, DomainVerdict::NoMailServer { .. }),
            "{bad:?}: {verdict:?}"
        );
    }
    assert_eq!(dns.log.total(), 0);
}

#[test]
fn verdicts_serialise_with_a_snake_case_tag() {
    let has_mx = DomainVerdict::HasMx {
        exchanges: vec!["mx1.example".to_owned()],
    };
    assert_eq!(
        serde_json::to_value(&has_mx).unwrap(),
        json!({"verdict": "has_mx", "exchanges": ["mx1.example"]})
    );
    let implicit = DomainVerdict::ImplicitMx {
        addresses: vec!["192.0.2.1".parse().unwrap()],
    };
    assert_eq!(
        serde_json::to_value(&implicit).unwrap(),
        json!({"verdict": "implicit_mx", "addresses": ["192.0.2.1"]})
    );
    assert_eq!(
        serde_json::to_value(DomainVerdict::NullMx).unwrap(),
        json!({"verdict": "null_mx"})
    );
    assert_eq!(
        serde_json::to_value(DomainVerdict::Timeout).unwrap(),
        json!({"verdict": "timeout"})
    );
    assert_eq!(
        serde_json::to_value(DomainVerdict::TemporaryFailure {
            reason: "x".to_owned()
        })
        .unwrap(),
        json!({"verdict": "temporary_failure", "reason": "x"})
    );
}

#[test]
fn impossible_configurations_are_refused_up_front() {
    let addr: SocketAddr = "127.0.0.1:53".parse().unwrap();
    for bad in [
        DnsConfig {
            attempts: 0,
            ..config_for(addr)
        },
        DnsConfig {
            max_concurrent: 0,
            ..config_for(addr)
        },
        DnsConfig {
            timeout: Duration::ZERO,
            ..config_for(addr)
        },
    ] {
        let error = MailDomainChecker::new(bad).unwrap_err();
        assert!(matches!(error, DnsSetupError::InvalidConfig(_)), "{error}");
    }
}

#[test]
fn defaults_match_the_documented_values() {
    let config = DnsConfig::default();
    assert!(config.nameservers.is_empty());
    assert_eq!(config.timeout, Duration::from_secs(3));
    assert_eq!(config.attempts, 2);
    assert_eq!(config.max_concurrent, 32);
    assert_eq!(config.cache_ttl, Duration::from_secs(3600));
}
