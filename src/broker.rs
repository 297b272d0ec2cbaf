//! The embedded MQTT broker (rumqttd), so a fresh clone runs with no servers installed.
//!
//! rumqttd binds its listener itself and does not report the address, so a port-0
//! request is resolved here first: bind port 0, read the port, release it, hand it on.
//! The broker runs on its own threads; it lives as long as the process.

use std::collections::HashMap;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::time::{Duration, Instant};

#[derive(Debug, thiserror::Error)]
pub enum BrokerError {
    #[error("cannot reserve a port for the embedded broker on {addr}: {source}")]
    Reserve {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("the embedded broker did not start listening on {0} within 10 s")]
    NotListening(SocketAddr),
}

/// Size of one segment of the router's in-memory log. rumqttd appends every publish to
/// the log of the filter it matches and drops a log's oldest segment only once it holds
/// [`SEGMENT_COUNT`] full ones: the log is retention, not a queue, and messages stay in it
/// after every subscriber has read them. Its former 100 MiB × 10 let each filter's log grow
/// to a gigabyte, so resident memory rose with every message for hours (about 7.5 MB a
/// minute at 500 readings/s). 16 MiB × 4 caps it at 64 MiB of payload and topic per filter.
/// The same log is what ingest reads from when it falls behind, so it also bounds how far
/// behind ingest may fall before the oldest messages are skipped (rumqttd logs "jumping to
/// head"): about 40 s at 10 000 one-reading messages a second (`docs/performance.md`).
const SEGMENT_BYTES: usize = 16 * 1024 * 1024;
/// Segments kept per filter log; see [`SEGMENT_BYTES`].
const SEGMENT_COUNT: usize = 4;

/// Settings of the embedded broker that matter to ingest.
#[derive(Debug, Clone)]
pub struct EmbeddedBroker {
    pub listen: SocketAddr,
    /// Largest MQTT payload accepted. Larger than ingest's own limit, so an oversize
    /// message reaches ingest and is dead-lettered rather than cut off by the broker.
    pub max_payload_size: usize,
    /// Unacknowledged QoS 1 messages the broker may send one client.
    pub max_inflight: usize,
}

impl EmbeddedBroker {
    /// Starts the broker and returns the address it listens on, once it accepts.
    pub fn start(self) -> Result<SocketAddr, BrokerError> {
        let addr = if self.listen.port() == 0 {
            let l = TcpListener::bind(self.listen).map_err(|source| BrokerError::Reserve {
                addr: self.listen,
                source,
            })?;
            let a = l.local_addr().map_err(|source| BrokerError::Reserve {
                addr: self.listen,
                source,
            })?;
            drop(l);
            a
        } else {
            self.listen
        };
        let config = self.rumqttd_config(addr);
        std::thread::Builder::new()
            .name("mqtt-broker".into())
            .spawn(move || {
                let mut broker = rumqttd::Broker::new(config);
                if let Err(e) = broker.start() {
                    tracing::error!(error = %e, "embedded MQTT broker stopped");
                }
            })
            .map_err(|source| BrokerError::Reserve {
                addr: self.listen,
                source,
            })?;
        // Wait until it accepts, so callers may connect at once.
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
                return Ok(addr);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Err(BrokerError::NotListening(addr))
    }

    fn rumqttd_config(&self, addr: SocketAddr) -> rumqttd::Config {
        let connections = rumqttd::ConnectionSettings {
            connection_timeout_ms: 60_000,
            max_payload_size: self.max_payload_size,
            max_inflight_count: self.max_inflight,
            auth: None,
            external_auth: None,
            dynamic_filters: true,
        };
        let server = rumqttd::ServerSettings {
            name: "v4-1".into(),
            listen: addr,
            tls: None,
            next_connection_delay_ms: 1,
            connections,
        };
        let router = rumqttd::RouterConfig {
            max_connections: 10_000,
            max_outgoing_packet_count: 200,
            max_segment_size: SEGMENT_BYTES,
            max_segment_count: SEGMENT_COUNT,
            custom_segment: None,
            initialized_filters: None,
            shared_subscriptions_strategy: Default::default(),
        };
        rumqttd::Config {
            id: 0,
            router,
            v4: Some(HashMap::from([("1".to_owned(), server)])),
            ..Default::default()
        }
    }
}
