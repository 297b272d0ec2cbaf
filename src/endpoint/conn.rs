//! One device connection: CONNECT, then publishes into the pipeline, acknowledged after
//! their commit, until the device leaves, stops talking, or cityops stops.
//!
//! Longer than 500 lines on purpose: a connection's whole life (CONNECT, the read loop, the
//! acknowledgements in commit order, the ways it ends) shares one state and reads best in
//! one place.

use super::wire::{self, ConnectCode, Granted, In, Out, QoS, ReadError, Version, Why};
use super::{DeviceAck, Link, Shared};
use crate::ingest::Route;
use crate::ingest::events::{self, BrokerRefusal};
use crate::pipeline::Ack;
use bytes::BytesMut;
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::{Arc, OnceLock};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::sync::{Semaphore, mpsc};
use tokio_util::sync::CancellationToken;

/// How long a new connection may take to send its CONNECT.
const CONNECT_DEADLINE: Duration = Duration::from_secs(10);

/// Why a connection ended.
#[derive(Debug)]
enum End {
    /// DISCONNECT from the device: no will, unless it asked for it (5).
    Clean { will: bool },
    /// Closed by cityops (stopping, or the same client id connected again): no will.
    Closed(Why),
    /// Anything else: the will goes out.
    Lost(String, Option<Why>),
}

impl End {
    fn label(&self) -> &'static str {
        match self {
            End::Clean { .. } => "clean",
            End::Closed(Why::TakenOver) => "taken_over",
            End::Closed(_) => "closed",
            End::Lost(_, Some(Why::KeepAlive)) => "keep_alive",
            End::Lost(_, Some(_)) => "protocol_error",
            End::Lost(_, None) => "lost",
        }
    }
}

pub(super) async fn run(
    socket: TcpStream,
    peer: SocketAddr,
    shared: Arc<Shared>,
    stop: CancellationToken,
) {
    let (mut read, write) = socket.into_split();
    let mut buf = BytesMut::with_capacity(16 * 1024);
    let max = shared.settings.max_packet_bytes;
    let first = tokio::time::timeout(
        CONNECT_DEADLINE,
        next(&mut read, &mut buf, |b| wire::read_connect(b, max)),
    )
    .await;
    let connect = match first {
        Ok(Ok(c)) => c,
        Ok(Err(Failed::Read(ReadError::Version(level)))) => {
            // Answered in 3.1.1's CONNACK, which every version can read (3.1.1 3.1.2.2).
            let e = format!("{peer}: MQTT protocol level {level} (3.1.1 and 5 are spoken)");
            return refuse(write, Version::V4, ConnectCode::BadVersion, &e).await;
        }
        Ok(Err(Failed::Read(e))) => {
            let e = format!("{peer}: {e}");
            events::broker_refused(BrokerRefusal::ConnectFailed, &e);
            return;
        }
        Ok(Err(Failed::Closed(e))) => {
            // A peer that only opened and closed the socket (a port check) is no fault.
            tracing::debug!(%peer, error = %e, "MQTT connection closed before CONNECT");
            return;
        }
        Err(_) => {
            let e = format!("{peer}: no CONNECT within 10 s");
            events::broker_refused(BrokerRefusal::ConnectFailed, &e);
            return;
        }
    };
    let version = connect.version;
    if connect.auth_method {
        let e = format!("{peer}: extended authentication is not offered");
        return refuse(write, version, ConnectCode::BadAuthMethod, &e).await;
    }
    if let Some(passwords) = &shared.settings.passwords {
        let code = passwords.check(connect.login.as_ref()).await;
        if code != ConnectCode::Accepted {
            let who = connect.login.as_ref().map_or("", |(u, _)| u.as_str());
            let e = format!("{peer}: user {who:?}: {code:?}");
            return refuse(write, version, code, &e).await;
        }
    }
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let id = NEXT.fetch_add(1, Ordering::Relaxed);
    // An empty client id is given one of its own: on 3.1.1 for a clean session only
    // (3.1.3-7/8: a persistent session needs a name to come back to); on 5 always, and
    // the CONNACK says which.
    if connect.client_id.len() > super::MAX_NAME_BYTES {
        let e = format!("{peer}: a client id of {} bytes", connect.client_id.len());
        return refuse(write, version, ConnectCode::BadClientId, &e).await;
    }
    let (client_id, assigned) = match (connect.client_id.is_empty(), version) {
        (false, _) => (connect.client_id.clone(), None),
        (true, Version::V5) => {
            let c = format!("cityops-auto-{id}");
            (c.clone(), Some(c))
        }
        (true, Version::V4) if connect.clean_start => (format!("cityops-auto-{id}"), None),
        (true, Version::V4) => {
            let e = format!("{peer}: a persistent session needs a client id");
            return refuse(write, version, ConnectCode::BadClientId, &e).await;
        }
    };
    let mine = CancellationToken::new();
    let session = {
        let mut sessions = shared.sessions.lock().unwrap_or_else(|e| e.into_inner());
        // Sessions are bounded: a stranger cycling client ids must not grow memory.
        if !sessions.contains_key(&client_id) && sessions.len() >= super::MAX_SESSIONS {
            sessions.retain(|_, s| s.live.is_some());
        }
        if !sessions.contains_key(&client_id) && sessions.len() >= super::MAX_SESSIONS {
            Err(ConnectCode::Unavailable)
        } else {
            let s = sessions.entry(client_id.clone()).or_default();
            if let Some((_, old)) = s.live.replace((id, mine.clone())) {
                old.cancel();
            }
            let present = s.persistent && !connect.clean_start;
            if !present {
                s.subscriptions.clear();
            }
            s.persistent = connect.persistent;
            Ok(present)
        }
    };
    let session_present = match session {
        Ok(p) => p,
        Err(code) => {
            let e = format!("{peer}: {} sessions held", super::MAX_SESSIONS);
            return refuse(write, version, code, &e).await;
        }
    };
    let gauges = &shared.status.devices;
    let open = gauges.connections.fetch_add(1, Ordering::Relaxed) + 1;
    metrics::counter!("cityops_mqtt_connections_total").increment(1);
    metrics::gauge!("cityops_mqtt_connections").set(open as f64);
    let (link, outbound, unsent) = Link::new();
    let (broken, last) = (CancellationToken::new(), Arc::new(OnceLock::new()));
    let writer = tokio::spawn(write_loop(
        write,
        version,
        outbound,
        unsent,
        broken.clone(),
        mine.clone(),
        last.clone(),
    ));
    let mut conn = Conn {
        shared: shared.clone(),
        client_id: client_id.clone(),
        link: link.clone(),
        inflight: Arc::new(Semaphore::new(shared.settings.inflight)),
        reader: wire::Reader::new(version, max),
    };
    conn.send(Out::ConnAck {
        code: ConnectCode::Accepted,
        session_present,
        assigned_id: assigned,
        receive_max: u16::try_from(shared.settings.inflight).unwrap_or(u16::MAX),
        max_packet: u32::try_from(max).unwrap_or(u32::MAX),
    });
    let keep_alive = (connect.keep_alive > 0)
        .then(|| Duration::from_millis(u64::from(connect.keep_alive) * 1500));
    let end = tokio::select! {
        _ = stop.cancelled() => End::Closed(Why::ShuttingDown),
        _ = mine.cancelled() => End::Closed(Why::TakenOver),
        _ = broken.cancelled() => End::Lost("writing to the device failed".into(), None),
        end = conn.serve(&mut read, &mut buf, keep_alive) => end,
    };
    let will = match &end {
        End::Lost(why, _) => {
            tracing::debug!(%peer, client_id, why, "MQTT connection lost");
            true
        }
        End::Clean { will } => *will,
        End::Closed(_) => false,
    };
    if will && let Some((topic, message)) = connect.will {
        conn.publish(topic, message);
    }
    if let End::Closed(why) | End::Lost(_, Some(why)) = end {
        // Said after the acknowledgements still owed, when the writer ends.
        let _ = last.set(why);
    }
    metrics::counter!("cityops_mqtt_disconnects_total", "reason" => end.label()).increment(1);
    {
        let mut sessions = shared.sessions.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(s) = sessions.get_mut(&client_id)
            && s.live.as_ref().is_some_and(|(live, _)| *live == id)
        {
            s.live = None;
            if !s.persistent {
                sessions.remove(&client_id);
            }
        }
    }
    drop(conn);
    drop(link);
    // The writer ends once every ack still owed has been sent or dropped.
    let _ = writer.await;
    let open = gauges.connections.fetch_sub(1, Ordering::Relaxed) - 1;
    metrics::gauge!("cityops_mqtt_connections").set(open as f64);
}

struct Conn {
    shared: Arc<Shared>,
    client_id: String,
    link: Link,
    inflight: Arc<Semaphore>,
    reader: wire::Reader,
}

impl Conn {
    async fn serve(
        &mut self,
        read: &mut OwnedReadHalf,
        buf: &mut BytesMut,
        keep_alive: Option<Duration>,
    ) -> End {
        loop {
            let reader = &mut self.reader;
            let packet = next(read, buf, |b| reader.read(b));
            let packet = match keep_alive {
                Some(k) => match tokio::time::timeout(k, packet).await {
                    Ok(p) => p,
                    Err(_) => return End::Lost("keep-alive expired".into(), Some(Why::KeepAlive)),
                },
                None => packet.await,
            };
            let packet = match packet {
                Ok(p) => p,
                Err(Failed::Closed(e)) => return End::Lost(e, None),
                Err(Failed::Read(ReadError::TooLarge(e))) => {
                    events::broker_refused(BrokerRefusal::TooLarge, &e);
                    return End::Lost(e, Some(Why::TooLarge));
                }
                Err(Failed::Read(e)) => {
                    let e = e.to_string();
                    events::broker_refused(BrokerRefusal::ConnectionError, &e);
                    return End::Lost(e, Some(Why::Malformed));
                }
            };
            match packet {
                In::Publish {
                    topic,
                    payload,
                    qos,
                    pkid,
                } => {
                    if let Err(e) = self.take(topic, payload, qos, pkid).await {
                        return End::Lost(e, None);
                    }
                }
                In::PubRel(pkid) => self.send(Out::PubComp(pkid)),
                In::PingReq => self.send(Out::PingResp),
                In::Subscribe { pkid, filters } => {
                    let granted = filters
                        .iter()
                        .map(|(f, qos)| self.subscribe(f, *qos))
                        .collect();
                    self.send(Out::SubAck { pkid, granted });
                }
                In::Unsubscribe { pkid, filters } => {
                    self.unsubscribe(&filters);
                    self.send(Out::UnsubAck {
                        pkid,
                        filters: filters.len(),
                    });
                }
                In::Disconnect { will } => return End::Clean { will },
                In::Ack => {}
            }
            if self.link.unsent() > self.shared.settings.inflight + super::MAX_UNSENT {
                let e = format!(
                    "more than {} answers unread: the device does not read its socket",
                    super::MAX_UNSENT
                );
                events::broker_refused(BrokerRefusal::ConnectionError, &e);
                return End::Lost(e, None);
            }
        }
    }

    /// Queues a publish for the pipeline; QoS 1 and 2 wait for an in-flight place first.
    async fn take(
        &mut self,
        topic: String,
        payload: bytes::Bytes,
        qos: QoS,
        pkid: u16,
    ) -> Result<(), String> {
        let devices = &self.shared.status.devices;
        let ack = match qos {
            QoS::AtMostOnce => Ack::None,
            QoS::AtLeastOnce | QoS::ExactlyOnce => {
                let permit = match self.inflight.clone().try_acquire_owned() {
                    Ok(p) => p,
                    Err(_) => {
                        // Every place is waiting for a commit: stop reading this socket.
                        let _held = HeldBack::new(&devices.held_back);
                        self.inflight
                            .clone()
                            .acquire_owned()
                            .await
                            .map_err(|e| e.to_string())?
                    }
                };
                devices.awaiting_commit.fetch_add(1, Ordering::Relaxed);
                // QoS 2 is stored at least once (the store drops duplicates); its
                // PUBREC waits for the commit like a PUBACK.
                Ack::Device(DeviceAck {
                    pkid,
                    link: self.link.clone(),
                    _permit: permit,
                    exactly_once: qos == QoS::ExactlyOnce,
                    status: self.shared.status.clone(),
                })
            }
        };
        let envelope = self
            .shared
            .decoder
            .decode(Route::Mqtt(&topic), payload, ack);
        let queue = &self.shared.queue;
        let envelope = match queue.try_send(envelope) {
            Ok(()) => return Ok(()),
            Err(mpsc::error::TrySendError::Full(e)) => e,
            Err(mpsc::error::TrySendError::Closed(_)) => return Err("cityops is stopping".into()),
        };
        let _held = HeldBack::new(&devices.held_back);
        queue
            .send(envelope)
            .await
            .map_err(|_| "cityops is stopping".to_owned())
    }

    /// A will: decoded and queued like a QoS 0 publish, without waiting.
    fn publish(&self, topic: String, payload: bytes::Bytes) {
        let envelope = self
            .shared
            .decoder
            .decode(Route::Mqtt(&topic), payload, Ack::None);
        let _ = self.shared.queue.try_send(envelope);
    }

    fn subscribe(&self, filter: &str, qos: QoS) -> Granted {
        let own = format!(
            "{}/{}/",
            self.shared.settings.command_prefix, self.client_id
        );
        if !filter.starts_with(&own)
            || filter[own.len()..].contains(['+'])
            || filter.len() > own.len() + super::MAX_NAME_BYTES
        {
            return Granted::NotAuthorized;
        }
        let mut sessions = self
            .shared
            .sessions
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        if let Some(s) = sessions.get_mut(&self.client_id)
            && !s.subscriptions.iter().any(|f| f == filter)
        {
            if s.subscriptions.len() >= super::MAX_SUBSCRIPTIONS {
                return Granted::QuotaExceeded;
            }
            s.subscriptions.push(filter.to_owned());
        }
        Granted::QoS(if qos == QoS::AtMostOnce {
            QoS::AtMostOnce
        } else {
            QoS::AtLeastOnce
        })
    }

    fn unsubscribe(&self, filters: &[String]) {
        let mut sessions = self
            .shared
            .sessions
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        if let Some(s) = sessions.get_mut(&self.client_id) {
            s.subscriptions.retain(|f| !filters.contains(f));
        }
    }

    fn send(&self, out: Out) {
        self.link.send(out);
    }
}

/// Counts a connection as held back while it lives: also when the wait it marks is
/// cancelled (the connection closed by a takeover or a shutdown).
struct HeldBack<'a>(&'a std::sync::atomic::AtomicUsize);

impl<'a> HeldBack<'a> {
    fn new(gauge: &'a std::sync::atomic::AtomicUsize) -> Self {
        gauge.fetch_add(1, Ordering::Relaxed);
        Self(gauge)
    }
}

impl Drop for HeldBack<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Answers a CONNECT with a refusal and closes.
async fn refuse(mut write: OwnedWriteHalf, version: Version, code: ConnectCode, detail: &str) {
    events::broker_refused(BrokerRefusal::ConnectFailed, detail);
    let mut bytes = BytesMut::new();
    let ack = Out::ConnAck {
        code,
        session_present: false,
        assigned_id: None,
        receive_max: 0,
        max_packet: 0,
    };
    if wire::write(version, ack, &mut bytes) {
        let _ = write.write_all(&bytes).await;
    }
    let _ = write.shutdown().await;
}

/// Why no packet came.
#[derive(Debug)]
enum Failed {
    Read(ReadError),
    /// The socket closed or failed.
    Closed(String),
}

/// Reads the next packet with `parse`, reading the socket as needed.
async fn next<T>(
    read: &mut OwnedReadHalf,
    buf: &mut BytesMut,
    mut parse: impl FnMut(&mut BytesMut) -> Result<T, ReadError>,
) -> Result<T, Failed> {
    loop {
        match parse(buf) {
            Ok(p) => return Ok(p),
            Err(ReadError::Incomplete(n)) => {
                buf.reserve(n.max(4096));
                match read.read_buf(buf).await {
                    Ok(0) => return Err(Failed::Closed("closed by the device".into())),
                    Ok(_) => {}
                    Err(e) => return Err(Failed::Closed(e.to_string())),
                }
            }
            Err(e) => return Err(Failed::Read(e)),
        }
    }
}

/// Writes what the connection is sent, as many packets per write as are waiting; when
/// nothing more can be sent, the DISCONNECT saying `last` (5). On a takeover it stops at
/// once: acknowledgements still owed would go to a connection the device has left (it
/// sends those messages again on its new one), and the socket must not wait for them.
async fn write_loop(
    mut write: OwnedWriteHalf,
    version: Version,
    mut outbound: mpsc::UnboundedReceiver<Out>,
    unsent: Arc<std::sync::atomic::AtomicUsize>,
    broken: CancellationToken,
    taken_over: CancellationToken,
    last: Arc<OnceLock<Why>>,
) {
    let mut waiting = Vec::with_capacity(256);
    let mut bytes = BytesMut::with_capacity(4096);
    loop {
        let got = tokio::select! {
            n = outbound.recv_many(&mut waiting, 256) => n,
            _ = taken_over.cancelled() => 0,
        };
        if got == 0 {
            break;
        }
        let n = waiting.len();
        for out in waiting.drain(..) {
            wire::write(version, out, &mut bytes);
        }
        let written = tokio::select! {
            w = write.write_all(&bytes) => w.is_ok(),
            // A device that does not read must not hold its old socket open either.
            _ = taken_over.cancelled() => return,
        };
        if !written {
            broken.cancel();
            return;
        }
        unsent.fetch_sub(n, Ordering::Relaxed);
        bytes.clear();
    }
    let why = if taken_over.is_cancelled() {
        Some(&Why::TakenOver)
    } else {
        last.get()
    };
    if let Some(why) = why
        && wire::write(version, Out::Disconnect(*why), &mut bytes)
    {
        let _ = write.write_all(&bytes).await;
    }
    let _ = write.shutdown().await;
}
