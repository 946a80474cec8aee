//! Real DNS servers on 127.0.0.1 for the checker to talk to: hickory-server
//! with an in-memory zone (wrapped to count and optionally slow down queries),
//! a raw UDP responder that answers SERVFAIL, and a socket that never answers.

use std::collections::HashMap;
use std::future::Future;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hickory_server::Server;
use hickory_server::net::runtime::{Time, TokioRuntimeProvider};
use hickory_server::proto::rr::rdata::{A, AAAA, MX, SOA, TXT};
use hickory_server::proto::rr::{LowerName, Name, RData, Record, RecordType};
use hickory_server::server::{Request, RequestHandler, ResponseHandler, ResponseInfo};
use hickory_server::store::in_memory::InMemoryZoneHandler;
use hickory_server::zone_handler::{AxfrPolicy, Catalog, ZoneType};
use tokio::net::UdpSocket;

pub const ZONE: &str = "test-mail.example";

/// Domains in the zone used by the concurrency test, each with one MX.
pub const PARALLEL_DOMAINS: usize = 6;

/// Fully qualified name inside the test zone.
pub fn fqdn(label: &str) -> String {
    format!("{label}.{ZONE}")
}

/// What the server saw: queries per (name, type), and how many overlapped.
#[derive(Debug, Default)]
pub struct QueryLog {
    counts: Mutex<HashMap<(String, RecordType), usize>>,
    in_flight: AtomicUsize,
    max_in_flight: AtomicUsize,
}

impl QueryLog {
    /// Queries seen for `name` (no trailing dot) and `record_type`.
    pub fn count(&self, name: &str, record_type: RecordType) -> usize {
        let counts = self.counts.lock().unwrap();
        counts
            .get(&(name.to_ascii_lowercase(), record_type))
            .copied()
            .unwrap_or(0)
    }

    /// Queries seen for `name` of any type.
    pub fn count_any(&self, name: &str) -> usize {
        let counts = self.counts.lock().unwrap();
        let name = name.to_ascii_lowercase();
        counts
            .iter()
            .filter(|((seen, _), _)| *seen == name)
            .map(|(_, count)| count)
            .sum()
    }

    pub fn total(&self) -> usize {
        self.counts.lock().unwrap().values().sum()
    }

    pub fn max_in_flight(&self) -> usize {
        self.max_in_flight.load(Ordering::SeqCst)
    }

    fn started(&self, name: String, record_type: RecordType) {
        *self
            .counts
            .lock()
            .unwrap()
            .entry((name, record_type))
            .or_default() += 1;
        let now = self.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        self.max_in_flight.fetch_max(now, Ordering::SeqCst);
    }

    fn finished(&self) {
        self.in_flight.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Logs every query, optionally waits, then lets the catalog answer.
pub struct CountingHandler {
    catalog: Catalog,
    log: Arc<QueryLog>,
    delay: Duration,
}

// `RequestHandler` is declared with `#[async_trait]`; this is the signature
// that macro expands to, written out so the tests need no extra dependency.
impl RequestHandler for CountingHandler {
    fn handle_request<'life0, 'life1, 'async_trait, R, T>(
        &'life0 self,
        request: &'life1 Request,
        response_handle: R,
    ) -> Pin<Box<dyn Future<Output = ResponseInfo> + Send + 'async_trait>>
    where
        R: ResponseHandler + 'async_trait,
        T: Time + 'async_trait,
        'life0: 'async_trait,
        'life1: 'async_trait,
        Self: 'async_trait,
    {
        Box::pin(async move {
            let logged = request.request_info().ok().map(|info| {
                let name = info.query.name().to_string();
                let name = name.trim_end_matches('.').to_ascii_lowercase();
                (name, info.query.query_type())
            });
            if let Some((name, record_type)) = logged.clone() {
                self.log.started(name, record_type);
            }
            if !self.delay.is_zero() {
                tokio::time::sleep(self.delay).await;
            }
            let info = self
                .catalog
                .handle_request::<R, T>(request, response_handle)
                .await;
            if logged.is_some() {
                self.log.finished();
            }
            info
        })
    }
}

/// hickory-server answering for [`ZONE`] over UDP on a random local port.
/// Queries for other zones get REFUSED (the catalog has no handler for them).
pub struct TestDns {
    pub addr: SocketAddr,
    pub log: Arc<QueryLog>,
    _server: Server<CountingHandler>,
}

impl TestDns {
    pub async fn start() -> Self {
        Self::start_with_delay(Duration::ZERO).await
    }

    /// Every answer is held back by `delay`, so concurrent queries overlap.
    pub async fn start_with_delay(delay: Duration) -> Self {
        let origin = Name::from_ascii(format!("{ZONE}.")).unwrap();
        let mut catalog = Catalog::new();
        catalog.upsert(LowerName::new(&origin), vec![Arc::new(test_zone(&origin))]);
        let log = Arc::new(QueryLog::default());
        let handler = CountingHandler {
            catalog,
            log: Arc::clone(&log),
            delay,
        };

        let socket = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).await.unwrap();
        let addr = socket.local_addr().unwrap();
        let mut server = Server::new(handler);
        server.register_socket(socket);
        Self {
            addr,
            log,
            _server: server,
        }
    }
}

fn test_zone(origin: &Name) -> InMemoryZoneHandler<TokioRuntimeProvider> {
    let name = |label: &str| Name::from_ascii(format!("{label}.{origin}")).unwrap();
    let ttl = 300;
    let mut records = vec![
        Record::from_rdata(
            origin.clone(),
            ttl,
            RData::SOA(SOA::new(
                name("ns"),
                name("hostmaster"),
                1,
                3600,
                600,
                86_400,
                60,
            )),
        ),
        // Listed out of order: the checker must sort by preference.
        Record::from_rdata(name("two-mx"), ttl, RData::MX(MX::new(20, name("mx2")))),
        Record::from_rdata(name("two-mx"), ttl, RData::MX(MX::new(10, name("mx1")))),
        Record::from_rdata(
            name("a-only"),
            ttl,
            RData::A(A(Ipv4Addr::new(192, 0, 2, 10))),
        ),
        Record::from_rdata(
            name("aaaa-only"),
            ttl,
            RData::AAAA(AAAA(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 0x10))),
        ),
        Record::from_rdata(name("null-mx"), ttl, RData::MX(MX::new(0, Name::root()))),
        // The name exists (so NOERROR) but has no MX, A or AAAA: NODATA.
        Record::from_rdata(
            name("no-records"),
            ttl,
            RData::TXT(TXT::new(vec!["v=spf1 -all".to_owned()])),
        ),
    ];
    for index in 0..PARALLEL_DOMAINS {
        records.push(Record::from_rdata(
            name(&format!("parallel{index}")),
            ttl,
            RData::MX(MX::new(10, name("mx1"))),
        ));
    }

    let mut zone = InMemoryZoneHandler::<TokioRuntimeProvider>::empty(
        origin.clone(),
        ZoneType::Primary,
        AxfrPolicy::Deny,
    );
    for record in records {
        assert!(zone.upsert_mut(record, 1), "record rejected by the zone");
    }
    zone
}

/// A raw UDP DNS responder that echoes each query back as a SERVFAIL answer.
/// Returns its address and a counter of the queries it received.
pub async fn start_servfail_responder() -> (SocketAddr, Arc<AtomicUsize>) {
    let socket = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).await.unwrap();
    let addr = socket.local_addr().unwrap();
    let received = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&received);
    tokio::spawn(async move {
        let mut buf = [0_u8; 4096];
        loop {
            let Ok((len, peer)) = socket.recv_from(&mut buf).await else {
                return;
            };
            if len < 12 {
                continue;
            }
            counter.fetch_add(1, Ordering::SeqCst);
            let mut reply = buf[..len].to_vec();
            reply[2] |= 0x80; // QR: this is a response
            reply[3] = 0x80 | 2; // RA set, RCODE 2 = SERVFAIL
            let _ = socket.send_to(&reply, peer).await;
        }
    });
    (addr, received)
}

/// A UDP socket that reads queries and never answers.
/// Returns its address and a counter of the datagrams it swallowed.
pub async fn start_silent_server() -> (SocketAddr, Arc<AtomicUsize>) {
    let socket = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).await.unwrap();
    let addr = socket.local_addr().unwrap();
    let received = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&received);
    tokio::spawn(async move {
        let mut buf = [0_u8; 4096];
        while socket.recv_from(&mut buf).await.is_ok() {
            counter.fetch_add(1, Ordering::SeqCst);
        }
    });
    (addr, received)
}
