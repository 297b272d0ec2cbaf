//! The embedded MQTT broker (rumqttd), so a fresh clone runs with no servers installed.
//!
//! Start-up is in two steps so that a taken port stops `serve` before anything else
//! starts: [`EmbeddedBroker::reserve`] binds the listen address (port 0 resolves to a
//! free port here) and holds it; [`Reserved::start`] releases it to rumqttd, which binds
//! it again, and waits until rumqttd reports that it listens ([`watch`]). rumqttd binds its
//! listener itself and reports the outcome only in its log, hence the watch.
//! The broker runs on its own threads; it lives as long as the process.

pub mod watch;

use std::collections::HashMap;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::time::{Duration, Instant};

/// How long rumqttd may take to bind its listener.
const LISTEN_DEADLINE: Duration = Duration::from_secs(10);

#[derive(Debug, thiserror::Error)]
pub enum BrokerError {
    #[error("cannot listen for MQTT on {addr}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("the embedded MQTT broker cannot listen on {addr}: {reason}")]
    Listen { addr: SocketAddr, reason: String },
    #[error("cannot start the embedded MQTT broker's thread: {0}")]
    Thread(std::io::Error),
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
    /// Largest MQTT packet a client may send (`mqtt.max_packet_bytes`); a larger one
    /// ends the connection (counted by [`watch`]). Above ingest's payload limit, so an
    /// oversize message reaches ingest and is dead-lettered rather than cut off here.
    pub max_packet_size: usize,
    /// Unacknowledged QoS 1 messages the broker may send one client.
    pub max_inflight: usize,
}

/// The listen address, bound and held until the broker starts.
#[derive(Debug)]
pub struct Reserved {
    broker: EmbeddedBroker,
    addr: SocketAddr,
    listener: TcpListener,
}

impl EmbeddedBroker {
    /// Binds the listen address, so a taken port is an error now, before anything else
    /// starts, and a port-0 request gets its port.
    pub fn reserve(self) -> Result<Reserved, BrokerError> {
        let bind_err = |source| BrokerError::Bind {
            addr: self.listen,
            source,
        };
        let listener = TcpListener::bind(self.listen).map_err(bind_err)?;
        let addr = listener.local_addr().map_err(bind_err)?;
        Ok(Reserved {
            broker: self,
            addr,
            listener,
        })
    }
}

impl Reserved {
    /// The address the broker will listen on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Hands the address to rumqttd and returns once it listens there.
    pub fn start(self) -> Result<SocketAddr, BrokerError> {
        let Self {
            broker,
            addr,
            listener,
        } = self;
        let config = broker.rumqttd_config(addr);
        let mark = watch::failures_so_far();
        drop(listener);
        std::thread::Builder::new()
            .name("mqtt-broker".into())
            .spawn(move || {
                let mut broker = rumqttd::Broker::new(config);
                if let Err(e) = broker.start() {
                    tracing::error!(error = %e, "embedded MQTT broker stopped");
                }
            })
            .map_err(BrokerError::Thread)?;
        if watch::installed() {
            return match watch::wait_listening(addr, mark, LISTEN_DEADLINE) {
                Ok(()) => Ok(addr),
                Err(Some(reason)) => Err(BrokerError::Listen { addr, reason }),
                Err(None) => Err(BrokerError::NotListening(addr)),
            };
        }
        // Without the watch, accepting connections is the best sign there is.
        let deadline = Instant::now() + LISTEN_DEADLINE;
        while Instant::now() < deadline {
            if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
                return Ok(addr);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Err(BrokerError::NotListening(addr))
    }
}

impl EmbeddedBroker {
    fn rumqttd_config(&self, addr: SocketAddr) -> rumqttd::Config {
        let connections = rumqttd::ConnectionSettings {
            connection_timeout_ms: 60_000,
            max_payload_size: self.max_packet_size,
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
