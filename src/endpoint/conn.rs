//! One device connection: CONNECT, then publishes into the pipeline, acknowledged after
//! their commit, until the device leaves, stops talking, or cityops stops.

use super::{DeviceAck, Outbound, Shared};
use crate::ingest::Route;
use crate::ingest::events::{self, BrokerRefusal};
use crate::pipeline::Ack;
use bytes::BytesMut;
use rumqttc::mqttbytes::v4::{
    ConnAck, ConnectReturnCode, Packet, PubAck, PubComp, PubRec, Publish, SubAck,
    SubscribeReasonCode, UnsubAck,
};
use rumqttc::mqttbytes::{Error as CodecError, QoS};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::net::tcp::OwnedWriteHalf;
use tokio::sync::{Semaphore, mpsc};
use tokio_util::sync::CancellationToken;

/// How long a new connection may take to send its CONNECT.
const CONNECT_DEADLINE: Duration = Duration::from_secs(10);

/// Why a connection ended.
#[derive(Debug)]
enum End {
    /// DISCONNECT from the device: no will.
    Clean,
    /// Closed by cityops (stopping, or the same client id connected again): no will.
    Closed,
    /// Anything else: the will goes out.
    Lost(String),
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
    let connect = match tokio::time::timeout(CONNECT_DEADLINE, next(&mut read, &mut buf, max)).await
    {
        Ok(Ok(Packet::Connect(c))) => c,
        Ok(Ok(other)) => {
            let e = format!("{peer}: first packet {other:?}, not CONNECT");
            events::broker_refused(BrokerRefusal::ConnectFailed, &e);
            return;
        }
        Ok(Err(e)) => {
            // Counted by `next` when the packet was bad; a peer that only opened and
            // closed the socket (a port check) is not a fault.
            tracing::debug!(%peer, error = %e, "MQTT CONNECT unreadable");
            return;
        }
        Err(_) => {
            let e = format!("{peer}: no CONNECT within 10 s");
            events::broker_refused(BrokerRefusal::ConnectFailed, &e);
            return;
        }
    };
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let id = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    // An empty client id is given one of its own, for a clean session only (MQTT 3.1.1
    // 3.1.3-7/8): a persistent session needs a name to come back to.
    let client_id = match (connect.client_id.is_empty(), connect.clean_session) {
        (false, _) => connect.client_id.clone(),
        (true, true) => format!("cityops-auto-{id}"),
        (true, false) => return refuse(write, ConnectReturnCode::BadClientId).await,
    };
    let mine = CancellationToken::new();
    let session = {
        let mut sessions = shared.sessions.lock().unwrap_or_else(|e| e.into_inner());
        // Sessions are bounded: a stranger cycling client ids must not grow memory.
        if !sessions.contains_key(&client_id) && sessions.len() >= super::MAX_SESSIONS {
            sessions.retain(|_, s| s.live.is_some());
        }
        if !sessions.contains_key(&client_id) && sessions.len() >= super::MAX_SESSIONS {
            Err(ConnectReturnCode::ServiceUnavailable)
        } else {
            let s = sessions.entry(client_id.clone()).or_default();
            if let Some((_, old)) = s.live.replace((id, mine.clone())) {
                old.cancel();
            }
            let present = s.persistent && !connect.clean_session;
            if !present {
                s.subscriptions.clear();
            }
            s.persistent = !connect.clean_session;
            Ok(present)
        }
    };
    let session_present = match session {
        Ok(p) => p,
        Err(code) => return refuse(write, code).await,
    };
    let (link, outbound) = mpsc::unbounded_channel();
    let writer = tokio::spawn(write_loop(write, outbound, mine.clone()));
    let ack = ConnAck::new(ConnectReturnCode::Success, session_present);
    let mut conn = Conn {
        shared: shared.clone(),
        client_id: client_id.clone(),
        link: link.clone(),
        inflight: Arc::new(Semaphore::new(shared.settings.inflight)),
    };
    conn.send_now(Packet::ConnAck(ack));
    let keep_alive = (connect.keep_alive > 0)
        .then(|| Duration::from_millis(u64::from(connect.keep_alive) * 1500));
    let end = tokio::select! {
        _ = stop.cancelled() => End::Closed,
        _ = mine.cancelled() => End::Closed,
        end = conn.serve(&mut read, &mut buf, keep_alive) => end,
    };
    if let End::Lost(why) = &end {
        tracing::debug!(%peer, client_id, why, "MQTT connection lost");
        if let Some(will) = connect.last_will {
            conn.publish(will.topic, will.message, Ack::None);
        }
    }
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
}

struct Conn {
    shared: Arc<Shared>,
    client_id: String,
    link: mpsc::UnboundedSender<Outbound>,
    inflight: Arc<Semaphore>,
}

impl Conn {
    async fn serve(
        &mut self,
        read: &mut tokio::net::tcp::OwnedReadHalf,
        buf: &mut BytesMut,
        keep_alive: Option<Duration>,
    ) -> End {
        let max = self.shared.settings.max_packet_bytes;
        loop {
            let packet = match keep_alive {
                Some(k) => match tokio::time::timeout(k, next(read, buf, max)).await {
                    Ok(p) => p,
                    Err(_) => return End::Lost("keep-alive expired".into()),
                },
                None => next(read, buf, max).await,
            };
            let packet = match packet {
                Ok(p) => p,
                Err(e) => return End::Lost(e),
            };
            match packet {
                Packet::Publish(p) => {
                    if let Err(e) = self.take(p).await {
                        return End::Lost(e);
                    }
                }
                Packet::PubRel(r) => self.send_now(Packet::PubComp(PubComp::new(r.pkid))),
                Packet::PingReq => self.send_now(Packet::PingResp),
                Packet::Subscribe(s) => {
                    let codes = s
                        .filters
                        .iter()
                        .map(|f| self.subscribe(&f.path, f.qos))
                        .collect();
                    self.send_now(Packet::SubAck(SubAck::new(s.pkid, codes)));
                }
                Packet::Unsubscribe(u) => {
                    self.unsubscribe(&u.topics);
                    self.send_now(Packet::UnsubAck(UnsubAck::new(u.pkid)));
                }
                Packet::Disconnect => return End::Clean,
                Packet::PubAck(_) | Packet::PubRec(_) | Packet::PubComp(_) => {}
                other => return End::Lost(format!("unexpected packet {other:?}")),
            }
        }
    }

    /// Queues a publish for the pipeline; QoS 1 and 2 wait for an in-flight place first.
    async fn take(&mut self, p: Publish) -> Result<(), String> {
        let ack = match p.qos {
            QoS::AtMostOnce => Ack::None,
            QoS::AtLeastOnce | QoS::ExactlyOnce => {
                let permit = self
                    .inflight
                    .clone()
                    .acquire_owned()
                    .await
                    .map_err(|e| e.to_string())?;
                // QoS 2 is stored at least once (the store drops duplicates); its
                // PUBREC waits for the commit like a PUBACK.
                Ack::Device(DeviceAck {
                    pkid: p.pkid,
                    link: self.link.clone(),
                    _permit: permit,
                    exactly_once: p.qos == QoS::ExactlyOnce,
                })
            }
        };
        let envelope = self
            .shared
            .decoder
            .decode(Route::Mqtt(&p.topic), p.payload, ack);
        self.shared
            .queue
            .send(envelope)
            .await
            .map_err(|_| "cityops is stopping".to_owned())
    }

    /// A will: decoded and queued like a QoS 0 publish, without waiting.
    fn publish(&self, topic: String, payload: bytes::Bytes, ack: Ack) {
        let envelope = self
            .shared
            .decoder
            .decode(Route::Mqtt(&topic), payload, ack);
        let _ = self.shared.queue.try_send(envelope);
    }

    fn subscribe(&self, filter: &str, qos: QoS) -> SubscribeReasonCode {
        let own = format!(
            "{}/{}/",
            self.shared.settings.command_prefix, self.client_id
        );
        if !filter.starts_with(&own) || filter[own.len()..].contains(['+']) {
            return SubscribeReasonCode::Failure;
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
                return SubscribeReasonCode::Failure;
            }
            s.subscriptions.push(filter.to_owned());
        }
        SubscribeReasonCode::Success(if qos == QoS::AtMostOnce {
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

    fn send_now(&self, packet: Packet) {
        let _ = self.link.send(Outbound::Packet(packet));
    }
}

/// Answers a CONNECT with a refusal and closes.
async fn refuse(mut write: OwnedWriteHalf, code: ConnectReturnCode) {
    events::broker_refused(BrokerRefusal::ConnectFailed, &format!("{code:?}"));
    let mut bytes = BytesMut::new();
    if Packet::ConnAck(ConnAck::new(code, false))
        .write(&mut bytes, usize::MAX)
        .is_ok()
    {
        let _ = write.write_all(&bytes).await;
    }
    let _ = write.shutdown().await;
}

/// Reads the next packet, reading the socket as needed.
async fn next(
    read: &mut tokio::net::tcp::OwnedReadHalf,
    buf: &mut BytesMut,
    max: usize,
) -> Result<Packet, String> {
    loop {
        match Packet::read(buf, max) {
            Ok(p) => return Ok(p),
            Err(CodecError::InsufficientBytes(n)) => {
                buf.reserve(n.max(4096));
                match read.read_buf(buf).await {
                    Ok(0) => return Err("closed by the device".into()),
                    Ok(_) => {}
                    Err(e) => return Err(e.to_string()),
                }
            }
            Err(e @ CodecError::PayloadSizeLimitExceeded(_)) => {
                let e = e.to_string();
                events::broker_refused(BrokerRefusal::TooLarge, &e);
                return Err(e);
            }
            Err(e) => {
                let e = e.to_string();
                events::broker_refused(BrokerRefusal::ConnectionError, &e);
                return Err(e);
            }
        }
    }
}

/// Writes what the connection is sent, as many packets per write as are waiting.
async fn write_loop(
    mut write: OwnedWriteHalf,
    mut outbound: mpsc::UnboundedReceiver<Outbound>,
    closed: CancellationToken,
) {
    let mut waiting = Vec::with_capacity(256);
    let mut bytes = BytesMut::with_capacity(4096);
    while outbound.recv_many(&mut waiting, 256).await > 0 {
        for o in waiting.drain(..) {
            let p = match o {
                Outbound::PubAck(pkid) => Packet::PubAck(PubAck::new(pkid)),
                Outbound::PubRec(pkid) => Packet::PubRec(PubRec::new(pkid)),
                Outbound::Packet(p) => p,
            };
            if p.write(&mut bytes, usize::MAX).is_err() {
                continue;
            }
        }
        if write.write_all(&bytes).await.is_err() {
            closed.cancel();
            return;
        }
        bytes.clear();
    }
    let _ = write.shutdown().await;
}
