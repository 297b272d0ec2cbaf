//! MQTT intake: one persistent QoS 1 session (clean session off, manual acks) that
//! subscribes to the sensor and video topic patterns, decodes each message and queues
//! it for the batch writer. Reconnects with exponential backoff.
//!
//! Deadlock freedom: the writer acknowledges through the client's request channel,
//! which this task drains by polling. The broker sends at most `mqtt.inflight`
//! unacknowledged messages, the writer queue holds at least that many (checked in
//! config) and the request channel has room for that many acks, so neither side can
//! wait on the other forever. An external broker must therefore not allow more
//! in-flight messages per client than `mqtt.inflight` (Mosquitto:
//! `max_inflight_messages`, see `deploy/mosquitto.conf`).

use super::events;
use super::writer::{Ack, Envelope, IngestStatus};
use super::{Decoder, Route};
use crate::config::MqttConfig;
use rumqttc::{AsyncClient, Event, EventLoop, MqttOptions, Packet, QoS, SubscribeFilter};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

pub struct MqttIntake {
    pub client: AsyncClient,
    eventloop: EventLoop,
    filters: Vec<String>,
    decoder: Arc<Decoder>,
    status: Arc<IngestStatus>,
    tx: mpsc::Sender<Envelope>,
    backoff_min: Duration,
    backoff_max: Duration,
}

impl MqttIntake {
    pub fn new(
        config: &MqttConfig,
        host: &str,
        port: u16,
        max_payload: usize,
        decoder: Arc<Decoder>,
        status: Arc<IngestStatus>,
        tx: mpsc::Sender<Envelope>,
    ) -> Self {
        let mut opts = MqttOptions::new(config.client_id.clone(), host, port);
        opts.set_clean_session(false)
            .set_manual_acks(true)
            .set_keep_alive(Duration::from_secs(config.keep_alive_secs.max(5)))
            // Larger than ingest's own limit, so that an oversize payload reaches the
            // decoder and is dead-lettered instead of breaking the connection.
            .set_max_packet_size(max_payload.saturating_mul(2) + 64 * 1024, 64 * 1024);
        if let (Some(u), Some(p)) = (&config.username, &config.password) {
            opts.set_credentials(u.clone(), p.clone());
        }
        let (client, eventloop) = AsyncClient::new(opts, usize::from(config.inflight) + 128);
        let filters = decoder.filters();
        Self {
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
                    let generation = self.status.generation.fetch_add(1, Ordering::SeqCst) + 1;
                    self.status.set_broker(Ok(()));
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
                    let generation = self.status.generation.load(Ordering::SeqCst);
                    let ack = match p.qos {
                        QoS::AtMostOnce => Ack::None,
                        _ => Ack::Mqtt {
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
                    self.status.set_broker(Err(msg.clone()));
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
        self.status.set_broker(Err("stopped".into()));
    }
}
