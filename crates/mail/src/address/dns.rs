//! The domain half of address verification: can this domain receive mail?
//!
//! Approach (RFC 5321 §5.1, RFC 7505): ask for MX records; a lone "0 ." MX is a
//! null MX (the domain refuses all mail); any other MX set is sorted by
//! preference. With no MX (NOERROR/NODATA) the domain's A, then AAAA records
//! act as an implicit MX. NXDOMAIN, or none of the three, means no mail server.
//! Timeouts and SERVFAIL/REFUSED-style failures are reported as "unknown",
//! never as "no mail".
//!
//! Queries go straight to the configured nameservers through hickory's resolver
//! with its own cache and hosts file switched off, so each verdict reflects
//! what the servers said. On top sit:
//! - a per-domain cache whose entries double as single-flight cells: every
//!   concurrent check of one domain awaits the same lookup, and definite
//!   verdicts stay for `cache_ttl`; `Timeout`/`TemporaryFailure` are shared
//!   by the checks that were waiting on that lookup but never cached;
//! - a semaphore capping how many domains are being resolved at once.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use hickory_resolver::config::{
    ConnectionConfig, NameServerConfig, ResolveHosts, ResolverConfig, ResolverOpts,
};
use hickory_resolver::net::runtime::TokioRuntimeProvider;
use hickory_resolver::net::{DnsError, NetError, NoRecords};
use hickory_resolver::proto::op::ResponseCode;
use hickory_resolver::proto::rr::{Name, RData, RecordType};
use hickory_resolver::{Resolver, TokioResolver};
use serde::Serialize;
use tokio::sync::{OnceCell, Semaphore};

/// Where the system nameservers are read from when none are configured.
const RESOLV_CONF: &str = "/etc/resolv.conf";

/// The cache is swept of stale entries only once it has grown past this size
/// (and then past twice its size after the previous sweep), so sweeping stays
/// amortised O(1) per check.
const MIN_SWEEP_LEN: usize = 1024;

/// How to reach DNS and how hard to try.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DnsConfig {
    /// Nameservers to query (UDP, with TCP for truncated answers). Empty means
    /// the `nameserver` lines of `/etc/resolv.conf`.
    pub nameservers: Vec<SocketAddr>,
    /// Time allowed for one query (across the nameservers) before it is retried.
    pub timeout: Duration,
    /// Tries per query before giving up (resolv.conf semantics: total tries,
    /// not retries), each bounded by `timeout`. At least 1. Within one try
    /// hickory may resend the UDP datagram after ~333 ms of silence.
    pub attempts: usize,
    /// Domains being resolved at the same time. At least 1.
    pub max_concurrent: usize,
    /// How long definite verdicts are reused. Zero disables the cache (checks
    /// of one domain that overlap in time still share a lookup).
    pub cache_ttl: Duration,
}

impl Default for DnsConfig {
    fn default() -> Self {
        Self {
            nameservers: Vec::new(),
            timeout: Duration::from_secs(3),
            attempts: 2,
            max_concurrent: 32,
            cache_ttl: Duration::from_secs(60 * 60),
        }
    }
}

/// Why a [`MailDomainChecker`] could not be built.
#[derive(Debug, thiserror::Error)]
pub enum DnsSetupError {
    /// No nameservers were configured and the system file could not be read.
    #[error("no nameservers configured and {path} cannot be read: {source}")]
    ResolvConfUnreadable {
        /// The file that was tried.
        path: PathBuf,
        /// What reading it failed with.
        #[source]
        source: std::io::Error,
    },
    /// No nameservers were configured and the system file lists none usable.
    #[error("no nameservers configured and {path} has no usable `nameserver` line")]
    NoNameservers {
        /// The file that was read.
        path: PathBuf,
    },
    /// A [`DnsConfig`] value that cannot work.
    #[error("invalid DNS configuration: {0}")]
    InvalidConfig(&'static str),
    /// hickory refused to build a resolver from the configuration.
    #[error("cannot build the DNS resolver: {0}")]
    Resolver(#[from] NetError),
}

/// What DNS says about a domain's ability to receive mail.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "verdict", rename_all = "snake_case")]
pub enum DomainVerdict {
    /// MX hosts, most preferred first, lowercase, without the trailing dot.
    HasMx { exchanges: Vec<String> },
    /// No MX, but the domain has addresses, which act as its mail server
    /// (RFC 5321 §5.1). A records if there are any, otherwise AAAA.
    ImplicitMx { addresses: Vec<IpAddr> },
    /// The domain publishes a null MX (RFC 7505): it accepts no mail.
    NullMx,
    /// The domain does not exist, or has no MX, A or AAAA records.
    NoMailServer { reason: String },
    /// The nameservers did not answer in time.
    Timeout,
    /// The nameservers failed (SERVFAIL, REFUSED, network errors, …).
    TemporaryFailure { reason: String },
}

impl DomainVerdict {
    /// `Some(true)` if mail can be delivered, `Some(false)` if it certainly
    /// cannot, `None` when DNS gave no definite answer.
    pub fn accepts_mail(&self) -> Option<bool> {
        match self {
            Self::HasMx { .. } | Self::ImplicitMx { .. } => Some(true),
            Self::NullMx | Self::NoMailServer { .. } => Some(false),
            Self::Timeout | Self::TemporaryFailure { .. } => None,
        }
    }

    /// Definite answers may be cached; transient ones must be asked again.
    fn is_definite(&self) -> bool {
        self.accepts_mail().is_some()
    }
}

/// Checks whether domains can receive mail. Cheap to clone; clones share the
/// resolver, the cache and the concurrency limit.
#[derive(Clone)]
pub struct MailDomainChecker {
    inner: Arc<Inner>,
}

struct Inner {
    resolver: TokioResolver,
    nameservers: Vec<SocketAddr>,
    lookup_slots: Semaphore,
    cache: Mutex<VerdictCache>,
    cache_ttl: Duration,
    /// Backstop for one resolver query, in case its own timeouts misbehave.
    query_deadline: Duration,
}

/// One domain's lookup: empty while in flight, then the settled verdict.
type Flight = Arc<OnceCell<Settled>>;

#[derive(Debug, Clone)]
struct Settled {
    verdict: DomainVerdict,
    at: Instant,
}

impl Settled {
    fn is_fresh(&self, now: Instant, ttl: Duration) -> bool {
        self.verdict.is_definite() && now.duration_since(self.at) < ttl
    }
}

#[derive(Default)]
struct VerdictCache {
    flights: HashMap<String, Flight>,
    sweep_at_len: usize,
}

impl std::fmt::Debug for MailDomainChecker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let cached_domains = self.lock_cache().flights.len();
        f.debug_struct("MailDomainChecker")
            .field("nameservers", &self.inner.nameservers)
            .field(
                "available_lookup_slots",
                &self.inner.lookup_slots.available_permits(),
            )
            .field("cached_domains", &cached_domains)
            .field("cache_ttl", &self.inner.cache_ttl)
            .finish()
    }
}

impl MailDomainChecker {
    /// Builds a checker. Reads `/etc/resolv.conf` when `config.nameservers`
    /// is empty. Does no network I/O.
    pub fn new(config: DnsConfig) -> Result<Self, DnsSetupError> {
        if config.attempts == 0 {
            return Err(DnsSetupError::InvalidConfig("attempts must be at least 1"));
        }
        if config.max_concurrent == 0 {
            return Err(DnsSetupError::InvalidConfig(
                "max_concurrent must be at least 1",
            ));
        }
        if config.timeout.is_zero() {
            return Err(DnsSetupError::InvalidConfig("timeout must be above zero"));
        }

        let nameservers = if config.nameservers.is_empty() {
            system_nameservers(Path::new(RESOLV_CONF))?
        } else {
            config.nameservers.clone()
        };

        let resolver = build_resolver(&nameservers, &config)?;
        let attempts = u32::try_from(config.attempts).unwrap_or(u32::MAX);
        Ok(Self {
            inner: Arc::new(Inner {
                resolver,
                nameservers,
                lookup_slots: Semaphore::new(config.max_concurrent.min(Semaphore::MAX_PERMITS)),
                cache: Mutex::new(VerdictCache::default()),
                cache_ttl: config.cache_ttl,
                query_deadline: config.timeout.saturating_mul(attempts.saturating_add(1)),
            }),
        })
    }

    /// Decides whether `ascii_domain` (already IDNA-encoded) can receive mail.
    /// Case and a trailing dot are ignored.
    pub async fn check(&self, ascii_domain: &str) -> DomainVerdict {
        let key = ascii_domain.to_ascii_lowercase();
        let key = key.strip_suffix('.').unwrap_or(&key);
        let name = match query_name(key) {
            Ok(name) => name,
            Err(verdict) => return verdict,
        };
        let flight = self.flight_for(key);
        // If the checker leading this flight is cancelled, a waiting one takes
        // over the lookup (tokio's OnceCell semantics).
        let settled = flight
            .get_or_init(|| async {
                Settled {
                    verdict: self.resolve_with_slot(&name).await,
                    at: Instant::now(),
                }
            })
            .await;
        settled.verdict.clone()
    }

    /// The flight to await for `key`: a fresh cached verdict, a lookup already
    /// under way, or a new, empty flight that this caller will run.
    fn flight_for(&self, key: &str) -> Flight {
        let now = Instant::now();
        let ttl = self.inner.cache_ttl;
        let mut cache = self.lock_cache();
        if let Some(flight) = cache.flights.get(key) {
            match flight.get() {
                None => return Arc::clone(flight),
                Some(settled) if settled.is_fresh(now, ttl) => return Arc::clone(flight),
                // Stale, or a transient verdict: look again.
                Some(_) => {}
            }
        }
        if cache.flights.len() >= cache.sweep_at_len {
            cache.flights.retain(|_, flight| {
                flight
                    .get()
                    .is_none_or(|settled| settled.is_fresh(now, ttl))
            });
            cache.sweep_at_len = cache.flights.len().saturating_mul(2).max(MIN_SWEEP_LEN);
        }
        let flight = Flight::default();
        cache.flights.insert(key.to_owned(), Arc::clone(&flight));
        flight
    }

    fn lock_cache(&self) -> std::sync::MutexGuard<'_, VerdictCache> {
        // Nothing panics while the lock is held, but a poisoned map is still
        // a valid map.
        self.inner
            .cache
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    async fn resolve_with_slot(&self, name: &Name) -> DomainVerdict {
        let Ok(_slot) = self.inner.lookup_slots.acquire().await else {
            // The semaphore is never closed; this is only for completeness.
            return DomainVerdict::TemporaryFailure {
                reason: "lookup limiter closed".to_owned(),
            };
        };
        self.resolve(name).await
    }

    async fn resolve(&self, name: &Name) -> DomainVerdict {
        let mx_records = match self.query(name, RecordType::MX).await {
            QueryOutcome::Records(records) => records,
            QueryOutcome::NoData => Vec::new(),
            QueryOutcome::NxDomain => return nxdomain(),
            QueryOutcome::Unresolved(verdict) => return verdict,
        };
        let mut mx: Vec<(u16, &Name)> = mx_records
            .iter()
            .filter_map(|rdata| match rdata {
                RData::MX(mx) => Some((mx.preference, &mx.exchange)),
                _ => None,
            })
            .collect();
        if !mx.is_empty() {
            return mx_verdict(&mut mx);
        }

        // No MX (an answer holding only a CNAME counts as none): the address
        // records are the implicit MX.
        for record_type in [RecordType::A, RecordType::AAAA] {
            let records = match self.query(name, record_type).await {
                QueryOutcome::Records(records) => records,
                QueryOutcome::NoData => continue,
                QueryOutcome::NxDomain => return nxdomain(),
                QueryOutcome::Unresolved(verdict) => return verdict,
            };
            let mut addresses: Vec<IpAddr> = records
                .iter()
                .filter_map(|rdata| match rdata {
                    RData::A(a) => Some(IpAddr::V4(a.0)),
                    RData::AAAA(aaaa) => Some(IpAddr::V6(aaaa.0)),
                    _ => None,
                })
                .collect();
            if !addresses.is_empty() {
                addresses.sort_unstable();
                addresses.dedup();
                return DomainVerdict::ImplicitMx { addresses };
            }
        }
        DomainVerdict::NoMailServer {
            reason: "no MX, A or AAAA records".to_owned(),
        }
    }

    async fn query(&self, name: &Name, record_type: RecordType) -> QueryOutcome {
        let lookup = self.inner.resolver.lookup(name.clone(), record_type);
        let outcome = match tokio::time::timeout(self.inner.query_deadline, lookup).await {
            Err(_elapsed) => QueryOutcome::Unresolved(DomainVerdict::Timeout),
            Ok(Ok(lookup)) => {
                let records: Vec<RData> = lookup
                    .answers()
                    .iter()
                    .map(|record| record.data.clone())
                    .collect();
                if records.is_empty() {
                    QueryOutcome::NoData
                } else {
                    QueryOutcome::Records(records)
                }
            }
            Ok(Err(error)) => classify_error(record_type, &error),
        };
        tracing::debug!(%name, %record_type, outcome = ?outcome, "mail domain DNS query");
        outcome
    }
}

#[derive(Debug)]
enum QueryOutcome {
    Records(Vec<RData>),
    /// The name exists but has no records of the type asked for.
    NoData,
    NxDomain,
    /// No definite answer: carries the `Timeout`/`TemporaryFailure` verdict.
    Unresolved(DomainVerdict),
}

fn classify_error(record_type: RecordType, error: &NetError) -> QueryOutcome {
    match error {
        NetError::Dns(DnsError::NoRecordsFound(NoRecords { response_code, .. })) => {
            match *response_code {
                ResponseCode::NXDomain => QueryOutcome::NxDomain,
                ResponseCode::NoError => QueryOutcome::NoData,
                code => temporary_failure(record_type, code),
            }
        }
        NetError::Dns(DnsError::ResponseCode(code)) => temporary_failure(record_type, *code),
        NetError::Timeout => QueryOutcome::Unresolved(DomainVerdict::Timeout),
        other => QueryOutcome::Unresolved(DomainVerdict::TemporaryFailure {
            reason: format!("{record_type} lookup failed: {other}"),
        }),
    }
}

fn temporary_failure(record_type: RecordType, code: ResponseCode) -> QueryOutcome {
    let mnemonic = match code {
        ResponseCode::ServFail => "SERVFAIL".to_owned(),
        ResponseCode::Refused => "REFUSED".to_owned(),
        ResponseCode::FormErr => "FORMERR".to_owned(),
        ResponseCode::NotImp => "NOTIMP".to_owned(),
        other => format!("RCODE {}", u16::from(other)),
    };
    QueryOutcome::Unresolved(DomainVerdict::TemporaryFailure {
        reason: format!("{record_type} lookup: nameserver answered {mnemonic} ({code})"),
    })
}

fn nxdomain() -> DomainVerdict {
    DomainVerdict::NoMailServer {
        reason: "domain does not exist (NXDOMAIN)".to_owned(),
    }
}

/// Null MX if every MX points at the root (RFC 7505's "0 ."; a root exchange
/// is never deliverable whatever its preference), otherwise the real hosts,
/// most preferred first (ties by name so the order is stable).
fn mx_verdict(mx: &mut [(u16, &Name)]) -> DomainVerdict {
    mx.sort_by(|a, b| a.0.cmp(&b.0).then_with(|| a.1.cmp(b.1)));
    let mut exchanges: Vec<String> = Vec::with_capacity(mx.len());
    for (_, exchange) in mx.iter().filter(|(_, exchange)| !exchange.is_root()) {
        let host = exchange
            .to_ascii()
            .trim_end_matches('.')
            .to_ascii_lowercase();
        if !exchanges.contains(&host) {
            exchanges.push(host);
        }
    }
    if exchanges.is_empty() {
        DomainVerdict::NullMx
    } else {
        DomainVerdict::HasMx { exchanges }
    }
}

/// The fully qualified query name, so no search domains are ever appended.
fn query_name(key: &str) -> Result<Name, DomainVerdict> {
    let invalid = |why: String| DomainVerdict::NoMailServer {
        reason: format!("not a valid DNS domain name: {why}"),
    };
    if key.is_empty() {
        return Err(invalid("empty".to_owned()));
    }
    // One trailing dot was already removed; another means an empty label.
    if key.ends_with('.') {
        return Err(invalid("empty label".to_owned()));
    }
    if !key.is_ascii() {
        return Err(invalid("not ASCII (IDNA-encode it first)".to_owned()));
    }
    let mut name = Name::from_ascii(key).map_err(|error| invalid(error.to_string()))?;
    name.set_fqdn(true);
    Ok(name)
}

fn build_resolver(
    nameservers: &[SocketAddr],
    config: &DnsConfig,
) -> Result<TokioResolver, DnsSetupError> {
    let name_servers = nameservers
        .iter()
        .map(|address| {
            let mut udp = ConnectionConfig::udp();
            udp.port = address.port();
            // TCP only comes into play when a UDP answer is truncated.
            let mut tcp = ConnectionConfig::tcp();
            tcp.port = address.port();
            NameServerConfig::new(address.ip(), true, vec![udp, tcp])
        })
        .collect();

    let mut options = ResolverOpts::default();
    options.timeout = config.timeout;
    // hickory's `attempts` counts retries after the first try.
    options.attempts = config.attempts.saturating_sub(1);
    // Our own cache keeps whole verdicts; a second cache underneath would only
    // make expiry harder to reason about.
    options.cache_size = 0;
    // /etc/hosts says nothing about mail routing.
    options.use_hosts_file = ResolveHosts::Never;
    // Each lookup slot has at most one query outstanding; let a shared TCP
    // connection carry all of them.
    options.max_active_requests = options.max_active_requests.max(config.max_concurrent);

    let resolver = Resolver::builder_with_config(
        ResolverConfig::from_name_servers(name_servers),
        TokioRuntimeProvider::default(),
    )
    .with_options(options)
    .build()?;
    Ok(resolver)
}

fn system_nameservers(path: &Path) -> Result<Vec<SocketAddr>, DnsSetupError> {
    let text =
        std::fs::read_to_string(path).map_err(|source| DnsSetupError::ResolvConfUnreadable {
            path: path.to_owned(),
            source,
        })?;
    let nameservers = parse_resolv_conf_nameservers(&text);
    if nameservers.is_empty() {
        return Err(DnsSetupError::NoNameservers {
            path: path.to_owned(),
        });
    }
    Ok(nameservers)
}

/// The `nameserver` lines of a resolv.conf, on port 53. Other options are
/// ignored: timeouts and attempts come from [`DnsConfig`]. An IPv6 zone
/// suffix (`%eth0`) cannot be expressed in an `IpAddr` and is dropped.
fn parse_resolv_conf_nameservers(text: &str) -> Vec<SocketAddr> {
    text.lines()
        .filter_map(|line| {
            let line = line.split(['#', ';']).next().unwrap_or_default();
            let mut words = line.split_whitespace();
            if words.next() != Some("nameserver") {
                return None;
            }
            let address = words.next()?;
            let address = address.split('%').next().unwrap_or(address);
            let ip: IpAddr = address.parse().ok()?;
            Some(SocketAddr::new(ip, 53))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolv_conf_nameserver_lines_are_read_and_the_rest_ignored() {
        let text = "# generated\n\
                    search corp.example\n\
                    nameserver 10.0.0.53\n\
                    nameserver   2001:db8::53 # secondary\n\
                    ; nameserver 10.9.9.9\n\
                    nameserver fe80::1%eth0\n\
                    nameserver not-an-ip\n\
                    options timeout:1 attempts:5\n";
        let expected: Vec<SocketAddr> = vec![
            "10.0.0.53:53".parse().unwrap(),
            "[2001:db8::53]:53".parse().unwrap(),
            "[fe80::1]:53".parse().unwrap(),
        ];
        assert_eq!(parse_resolv_conf_nameservers(text), expected);
    }

    #[test]
    fn unreadable_or_empty_resolv_conf_is_a_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("resolv.conf");
        let error = system_nameservers(&missing).unwrap_err();
        assert!(matches!(error, DnsSetupError::ResolvConfUnreadable { .. }));
        assert!(error.to_string().contains("resolv.conf"), "{error}");

        std::fs::write(&missing, "search example.com\n").unwrap();
        let error = system_nameservers(&missing).unwrap_err();
        assert!(matches!(error, DnsSetupError::NoNameservers { .. }));
    }

    #[test]
    fn mx_sets_sort_by_preference_and_root_exchanges_mean_null_mx() {
        let name = |s: &str| Name::from_ascii(s).unwrap();
        let (b, a, root) = (name("B.example."), name("a.example."), Name::root());
        let mut mx = vec![(20, &b), (10, &a), (10, &a)];
        assert_eq!(
            mx_verdict(&mut mx),
            DomainVerdict::HasMx {
                exchanges: vec!["a.example".to_owned(), "b.example".to_owned()]
            }
        );
        assert_eq!(mx_verdict(&mut [(0, &root)]), DomainVerdict::NullMx);
        // A null MX next to real hosts is malformed; the real hosts still work.
        assert_eq!(
            mx_verdict(&mut [(0, &root), (10, &a)]),
            DomainVerdict::HasMx {
                exchanges: vec!["a.example".to_owned()]
            }
        );
    }

    #[test]
    fn invalid_names_are_rejected_before_any_query() {
        for bad in ["", "bad..example", "example.com.", "exämple.com"] {
            let verdict = query_name(bad).unwrap_err();
            assert_eq!(verdict.accepts_mail(), Some(false), "{bad}: {verdict:?}");
        }
        assert!(query_name("example.com").unwrap().is_fqdn());
    }
}
