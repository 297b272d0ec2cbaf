//! The embedded MQTT endpoint: devices connect to cityops itself, and a QoS 1 PUBACK
//! leaves only after the readings it carries are committed.
//!
//! Framing is rumqttc's MQTT codec (`rumqttc::mqttbytes`); this module is the session
//! logic around it: CONNECT, keep-alive, wills, the device's own command topic, and the
//! acknowledgement after commit ([`DeviceAck`], sent by the pipeline's writer).
//!
//! Both MQTT 3.1.1 and 5 are spoken (`wire`, on rumqttc's two codecs); with
//! `mqtt.device_passwords` set, a device must log in (`login`).
//!
//! Backpressure: each connection may have at most `inflight` QoS 1 messages waiting for
//! their commit (a semaphore; MQTT 5 clients are told so as their receive maximum); with
//! all of them taken, or the writer's queue full, the connection stops reading its
//! socket, so a slow or failing store slows the devices rather than growing memory.
//! [`Gauges`] count what is held back, for `/readyz`.

mod conn;
mod login;
mod wire;

pub use login::DevicePasswords;

use crate::ingest::Decoder;
use crate::pipeline::{Envelope, IngestStatus};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use tokio::sync::{OwnedSemaphorePermit, mpsc};
use tokio_util::sync::CancellationToken;
use wire::Out;

/// Most sessions kept (live connections and persistent sessions between connections);
/// when full, sessions with no connection are dropped, then new client ids are refused.
const MAX_SESSIONS: usize = 200_000;
/// Most filters one device may hold (all under its own command topic).
const MAX_SUBSCRIPTIONS: usize = 16;
/// Longest client id, subscription filter or aliased topic kept, in bytes. MQTT allows
/// 65 535; what a session or connection keeps is bounded by these (a longer client id is
/// refused, a longer filter not granted, a longer aliased topic closes the connection).
const MAX_NAME_BYTES: usize = 256;
/// Answers (PUBACKs, PINGRESPs, SUBACKs...) a connection may have queued and not yet
/// written, beyond its in-flight window: a device that sends and never reads is closed
/// rather than queueing answers without end.
const MAX_UNSENT: usize = 1024;

/// The acknowledgement of one QoS 1 message, carried through the pipeline and sent
/// after its commit. Dropping it unsent (the writer aborted, the connection is gone)
/// frees its in-flight place; the device sends the message again.
#[derive(Debug)]
pub struct DeviceAck {
    pkid: u16,
    link: Link,
    _permit: OwnedSemaphorePermit,
    exactly_once: bool,
    status: Arc<IngestStatus>,
}

impl Drop for DeviceAck {
    fn drop(&mut self) {
        self.status
            .devices
            .awaiting_commit
            .fetch_sub(1, Ordering::Relaxed);
    }
}

impl DeviceAck {
    /// Queues the PUBACK on its connection; never waits.
    pub fn send(self) {
        let o = if self.exactly_once {
            Out::PubRec(self.pkid)
        } else {
            Out::PubAck(self.pkid)
        };
        self.link.send(o);
    }
}

/// The way to a connection's writer, counting what is queued and not yet written.
#[derive(Debug, Clone)]
struct Link {
    tx: mpsc::UnboundedSender<Out>,
    unsent: Arc<AtomicUsize>,
}

impl Link {
    fn new() -> (Self, mpsc::UnboundedReceiver<Out>, Arc<AtomicUsize>) {
        let (tx, rx) = mpsc::unbounded_channel();
        let unsent = Arc::new(AtomicUsize::new(0));
        (
            Self {
                tx,
                unsent: unsent.clone(),
            },
            rx,
            unsent,
        )
    }

    /// Queues `out`; never waits. (The writer takes what it writes off `unsent`.)
    fn send(&self, out: Out) {
        // Counted before it can be written, so the writer never takes off more than is on.
        self.unsent.fetch_add(1, Ordering::Relaxed);
        if self.tx.send(out).is_err() {
            self.unsent.fetch_sub(1, Ordering::Relaxed);
        }
    }

    fn unsent(&self) -> usize {
        self.unsent.load(Ordering::Relaxed)
    }
}

/// Settings of the endpoint.
#[derive(Debug, Clone)]
pub struct Settings {
    pub max_packet_bytes: usize,
    /// QoS 1 messages a connection may have waiting for their commit.
    pub inflight: usize,
    pub max_connections: usize,
    /// Prefix of the topics a device may subscribe to: `<prefix>/<client id>/#`.
    pub command_prefix: String,
    /// When set, every device must log in with a name and password listed here.
    pub passwords: Option<Arc<DevicePasswords>>,
}

/// What the endpoint holds back now, for `/readyz` (kept in [`IngestStatus`]).
#[derive(Debug, Default)]
pub struct Gauges {
    /// The endpoint is listening.
    pub listening: std::sync::atomic::AtomicBool,
    /// Device connections open.
    pub connections: AtomicUsize,
    /// QoS 1 and 2 messages taken in and waiting for their commit.
    pub awaiting_commit: AtomicUsize,
    /// Connections not reading their socket: their in-flight window is full, or the
    /// writer's queue is.
    pub held_back: AtomicUsize,
}

/// Shared by every connection.
pub(crate) struct Shared {
    pub settings: Settings,
    pub decoder: Arc<Decoder>,
    pub queue: mpsc::Sender<Envelope>,
    pub status: Arc<IngestStatus>,
    /// Live connection per client id (to close it when the same id connects again),
    /// and the persistent sessions' subscriptions.
    pub sessions: Mutex<HashMap<String, Session>>,
}

#[derive(Default)]
pub(crate) struct Session {
    /// The connection holding the id now, and the token that closes it.
    pub live: Option<(u64, CancellationToken)>,
    pub persistent: bool,
    pub subscriptions: Vec<String>,
}

/// Accepts connections until `stop`; each runs on its own task.
pub async fn serve(
    listener: tokio::net::TcpListener,
    settings: Settings,
    decoder: Arc<Decoder>,
    queue: mpsc::Sender<Envelope>,
    status: Arc<IngestStatus>,
    stop: CancellationToken,
) {
    let shared = Arc::new(Shared {
        settings,
        decoder,
        queue,
        status,
        sessions: Mutex::new(HashMap::new()),
    });
    shared
        .status
        .devices
        .listening
        .store(true, Ordering::Relaxed);
    let open = Arc::new(tokio::sync::Semaphore::new(shared.settings.max_connections));
    loop {
        let (socket, peer): (tokio::net::TcpStream, SocketAddr) = tokio::select! {
            _ = stop.cancelled() => break,
            r = listener.accept() => match r {
                Ok(s) => s,
                Err(e) => {
                    tracing::debug!(error = %e, "MQTT accept failed");
                    continue;
                }
            },
        };
        let Ok(place) = open.clone().try_acquire_owned() else {
            tracing::debug!(%peer, "MQTT connection refused: too many connections");
            continue;
        };
        let _ = socket.set_nodelay(true);
        let (shared, stop) = (shared.clone(), stop.clone());
        tokio::spawn(async move {
            conn::run(socket, peer, shared, stop).await;
            drop(place);
        });
    }
}
