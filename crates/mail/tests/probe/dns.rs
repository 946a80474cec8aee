//! A DNS server on 127.0.0.1 (hickory-server, in-memory zone) whose mail
//! hosts are this machine, so the Verifier's probe reaches the test's SMTP
//! server.

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;

use hickory_server::Server;
use hickory_server::net::runtime::TokioRuntimeProvider;
use hickory_server::proto::rr::rdata::{A, MX, SOA};
use hickory_server::proto::rr::{LowerName, Name, RData, Record};
use hickory_server::store::in_memory::InMemoryZoneHandler;
use hickory_server::zone_handler::{AxfrPolicy, Catalog, ZoneType};
use tokio::net::UdpSocket;

pub const ZONE: &str = "probe-test.example";

/// `implicit.probe-test.example`: no MX, A 127.0.0.1 (an implicit MX).
/// `mx.probe-test.example`: MX 10 localhost.
pub fn fqdn(label: &str) -> String {
    format!("{label}.{ZONE}")
}

pub struct TestDns {
    pub addr: SocketAddr,
    _server: Server<Catalog>,
}

impl TestDns {
    pub async fn start() -> Self {
        let origin = Name::from_ascii(format!("{ZONE}.")).unwrap();
        let name = |label: &str| Name::from_ascii(format!("{label}.{origin}")).unwrap();
        let ttl = 300;
        let records = [
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
            Record::from_rdata(name("implicit"), ttl, RData::A(A(Ipv4Addr::LOCALHOST))),
            Record::from_rdata(
                name("mx"),
                ttl,
                RData::MX(MX::new(10, Name::from_ascii("localhost.").unwrap())),
            ),
        ];
        let mut zone = InMemoryZoneHandler::<TokioRuntimeProvider>::empty(
            origin.clone(),
            ZoneType::Primary,
            AxfrPolicy::Deny,
        );
        for record in records {
            assert!(zone.upsert_mut(record, 1), "record rejected by the zone");
        }
        let mut catalog = Catalog::new();
        catalog.upsert(LowerName::new(&origin), vec![Arc::new(zone)]);

        let socket = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).await.unwrap();
        let addr = socket.local_addr().unwrap();
        let mut server = Server::new(catalog);
        server.register_socket(socket);
        Self {
            addr,
            _server: server,
        }
    }
}
