//! MQTT intake: persistent QoS 1 sessions (clean session off, manual acks) that
//! subscribe to the sensor and video topic patterns, decode each message and queue it
//! for the batch writer. Reconnects with exponential backoff.
//!
//! With `mqtt.sessions` above 1, the sessions share the subscriptions
//! (`$share/<group>/<filter>`, MQTT 5 shared subscriptions, which Mosquitto and rumqttd
//! also offer to 3.1.1 clients): the broker spreads messages over them, so more messages
//! are in flight at once and the writer's batches grow. The sessions are persistent under
//! fixed client ids, so a broker queues for them while cityops is down.
//!
//! Deadlock freedom: the writer acknowledges through the client's request channel,
//! which this task drains by polling. The broker sends at most `mqtt.inflight`
//! unacknowledged messages per session, the writer queue holds at least that many for
//! all sessions together (checked in
//! config) and the request channel has room for that many acks, so neither side can
//! wait on the other forever. An external broker must therefore not allow more
//! in-flight messages per client than `mqtt.inflight` (Mosquitto:
//! `max_inflight_messages`, see `deploy/mosquitto.conf`).

use super::events;
use super::{Decoder, Route};
use crate::config::MqttConfig;
use crate::pipeline::{Ack, Envelope, IngestStatus};
use rumqttc::{AsyncClient, Event, EventLoop, MqttOptions, Packet, QoS, SubscribeFilter};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

pub struct MqttIntake {
    pub client: AsyncClient,
    /// Which of the sessions this is, and its connection generation.
    session: usize,
    generation: Arc<AtomicU64>,
    eventloop: EventLoop,
    filters: Vec<String>,
    decoder: Arc<Decoder>,
    status: Arc<IngestStatus>,
    tx: mpsc::Sender<Envelope>,
    backoff_min: Duration,
    backoff_max: Duration,
}

impl MqttIntake {
    /// What the writer needs to acknowledge this session's messages.
    pub fn handle(&self) -> crate::pipeline::IntakeSession {
        crate::pipeline::IntakeSession {
            client: self.client.clone(),
            generation: Arc::clone(&self.generation),
        }
    }

    /// Intake session `session.0` of `session.1`.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        (session, sessions): (usize, usize),
        config: &MqttConfig,
        host: &str,
        port: u16,
        decoder: Arc<Decoder>,
        status: Arc<IngestStatus>,
        tx: mpsc::Sender<Envelope>,
    ) -> Self {
        let client_id = if session == 0 {
            config.client_id.clone()
        } else {
            format!("{}-{session}", config.client_id)
        };
        let mut opts = MqttOptions::new(client_id, host, port);
        opts.set_clean_session(false)
            .set_manual_acks(true)
            .set_keep_alive(Duration::from_secs(config.keep_alive_secs.max(5)))
            // The embedded broker's limit (and the most an external one may be set to):
            // above ingest's payload limit, so an oversize payload reaches the decoder and
            // is dead-lettered instead of breaking this connection, redelivered, forever.
            .set_max_packet_size(config.max_packet_bytes, 64 * 1024);
        if let (Some(u), Some(p)) = (&config.username, &config.password) {
            opts.set_credentials(u.clone(), p.clone());
        }
        let (client, eventloop) = AsyncClient::new(opts, usize::from(config.inflight) + 128);
        let filters = if sessions > 1 {
            let group: String = config
                .client_id
                .chars()
                .map(|c| if matches!(c, '/' | '+' | '#') { '_' } else { c })
                .collect();
            // One group per filter: rumqttd keeps one share group to one filter.
            decoder
                .filters()
                .into_iter()
                .enumerate()
                .map(|(i, f)| format!("$share/{group}-{i}/{f}"))
                .collect()
        } else {
            decoder.filters()
        };
        Self {
            session,
            generation: Arc::new(AtomicU64::new(0)),
            client,
            eventloop,
            filters,
            decoder,
            status,
            tx,
            backoff_min: Duration::from_millis(config.reconnect_min_ms),
            backoff_max: Duration::from_millis(config.reconnect_max_ms),
        }
    }

    /// Runs until `shutdown` fires or the writer is gone. Then it stops taking
    /// messages, lets the writer flush its last batch (dropping the queue sender tells
    /// it to), and keeps the connection up until `writer_done` so those acks go out.
    pub async fn run(mut self, shutdown: CancellationToken, writer_done: CancellationToken) {
        let mut backoff = self.backoff_min;
        loop {
            let event = tokio::select! {
                _ = shutdown.cancelled() => break,
                ev = self.eventloop.poll() => ev,
            };
            match event {
                Ok(Event::Incoming(Packet::ConnAck(ack))) => {
                    let generation = self.generation.fetch_add(1, Ordering::SeqCst) + 1;
                    self.status.set_broker(self.session, Ok(()));
                    events::broker_connected(ack.session_present, generation);
                    backoff = self.backoff_min;
                    // Subscribing again on a resumed session is harmless, and needed on a new one.
                    let subs = self
                        .filters
                        .iter()
                        .map(|f| SubscribeFilter::new(f.clone(), QoS::AtLeastOnce));
                    if let Err(e) = self.client.subscribe_many(subs).await {
                        events::broker_error(&e.to_string());
                    }
                }
                Ok(Event::Incoming(Packet::Publish(p))) => {
                    let generation = self.generation.load(Ordering::SeqCst);
                    let ack = match p.qos {
                        QoS::AtMostOnce => Ack::None,
                        _ => Ack::Mqtt {
                            session: self.session,
                            pkid: p.pkid,
                            generation,
                        },
                    };
                    let envelope = self.decoder.decode(Route::Mqtt(&p.topic), p.payload, ack);
                    if self.tx.send(envelope).await.is_err() {
                        break;
                    }
                }
                Ok(_) => {}
                Err(e) => {
                    let msg = e.to_string();
                    self.status.set_broker(self.session, Err(msg.clone()));
                    events::broker_error(&msg);
                    tokio::select! {
                        _ = shutdown.cancelled() => break,
                        _ = tokio::time::sleep(backoff) => {}
                    }
                    backoff = (backoff * 2).min(self.backoff_max);
                }
            }
        }
        drop(self.tx);
        // Messages arriving now are not queued and not acknowledged: the session keeps
        // them for next time.
        let drain = async {
            loop {
                if self.eventloop.poll().await.is_err() {
                    break;
                }
            }
        };
        tokio::select! {
            _ = writer_done.cancelled() => {}
            _ = drain => {}
            _ = tokio::time::sleep(Duration::from_secs(10)) => {}
        }
        // Flush the acks the writer queued last, then leave the session (it stays on
        // the broker, with what we did not acknowledge).
        let _ = self.client.try_disconnect();
        let flush = async { while self.eventloop.poll().await.is_ok() {} };
        let _ = tokio::time::timeout(Duration::from_secs(2), flush).await;
        self.status.set_broker(self.session, Err("stopped".into()));
    }
}
