//! How messages come in: `[mqtt]` (the broker and the intake sessions) and `[ingest]`
//! (payload limits, batching and the queue to the batch writer).

use serde::{Deserialize, Serialize};
use std::net::SocketAddr;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MqttConfig {
    /// `embedded`: devices connect to cityops itself (`src/endpoint`); `mqtt://host:port`
    /// uses an external broker.
    pub broker: String,
    /// Listener of the embedded endpoint; port 0 picks a free one (logged).
    pub embedded_listen: SocketAddr,
    /// Client id of the ingest session. The session is persistent (clean session off),
    /// so it must be stable across restarts and unique per node.
    pub client_id: String,
    pub username: Option<String>,
    pub password: Option<String>,
    /// Topic patterns carrying sensor payloads; `{sensor_id}` names the sensor.
    pub sensor_topics: Vec<String>,
    /// Topic patterns carrying video-AI alerts; `{camera_id}` names the camera.
    pub video_topics: Vec<String>,
    pub keep_alive_secs: u64,
    /// Most unacknowledged QoS 1 messages an external broker may send one intake session,
    /// and a device may have waiting on the embedded endpoint. Acks wait for the store, so
    /// this bounds what is held in memory and caps throughput.
    pub inflight: u16,
    /// Parallel intake sessions sharing the subscriptions (`$share/<client_id>-<n>/...`).
    /// Each may have `inflight` messages outstanding, so more sessions mean bigger
    /// batches under load. The first session's client id is `client_id`, the others
    /// `client_id-1`, `client_id-2`, ... 0 = automatic (8). Not used on the embedded
    /// endpoint.
    pub sessions: u16,
    /// Reconnect backoff: first delay and ceiling, in milliseconds.
    pub reconnect_min_ms: u64,
    pub reconnect_max_ms: u64,
    /// Largest MQTT packet, in bytes: the embedded endpoint refuses (disconnects)
    /// a client sending a larger one, counted in `cityops_mqtt_refused_total`; the ingest
    /// session accepts packets this size (plus a topic) from any broker. Must be above
    /// `ingest.max_payload_bytes`, so that everything in between reaches ingest and is
    /// dead-lettered as `oversize`. An external broker's own limit must not exceed it
    /// (Mosquitto: `max_packet_size`).
    pub max_packet_bytes: usize,
    /// Embedded endpoint: devices open at once; more are refused (closed at once).
    pub max_connections: usize,
    /// Embedded endpoint: a file of `name:argon2-hash` lines (`cityops device-password`
    /// writes them). When set, every device must log in with a listed name and its
    /// password; unset, any client on the listener may publish (keep it on loopback or
    /// a closed network then).
    pub device_passwords: Option<std::path::PathBuf>,
}

impl Default for MqttConfig {
    fn default() -> Self {
        Self {
            broker: "embedded".into(),
            embedded_listen: SocketAddr::from(([127, 0, 0, 1], 1883)),
            client_id: "cityops-ingest".into(),
            username: None,
            password: None,
            sensor_topics: vec![
                "city/{district}/sensors/{sensor_id}".into(),
                "city/packs/{pack}".into(),
            ],
            video_topics: vec!["city/{district}/video/{camera_id}".into()],
            keep_alive_secs: 30,
            inflight: 1000,
            sessions: 0,
            reconnect_min_ms: 200,
            reconnect_max_ms: 10_000,
            max_packet_bytes: 1 << 20,
            max_connections: 10_000,
            device_passwords: None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct IngestConfig {
    /// Larger payloads are rejected as `oversize` (the first bytes are dead-lettered).
    pub max_payload_bytes: usize,
    /// Most records in one SenML pack.
    pub max_records: usize,
    /// How far ahead of the clock a timestamp may be.
    pub max_future_secs: u64,
    /// How far behind the clock a timestamp may be.
    pub max_past_secs: u64,
    /// A batch is written when it holds this many readings...
    pub batch_max: usize,
    /// ...or when its first message has waited this long. 0 writes as soon as the queue
    /// runs dry: batches then grow with the load, and a quiet system writes at once.
    pub batch_linger_ms: u64,
    /// Capacity of the queue between decoding and the batch writer. When full, intake
    /// waits (and stops acknowledging), it never drops.
    pub queue_capacity: usize,
    /// Dead-letter rows kept; older ones are dropped.
    pub dead_letter_limit: u32,
    /// Bytes of a rejected payload kept in its dead letter.
    pub dead_letter_raw_bytes: usize,
    /// Rejections logged per second at most (all are counted).
    pub reject_log_per_sec: u32,
    /// Delay between retries of a batch the store could not take.
    pub store_retry_ms: u64,
}

impl Default for IngestConfig {
    fn default() -> Self {
        Self {
            max_payload_bytes: 64 * 1024,
            max_records: 1000,
            max_future_secs: 300,
            max_past_secs: 7 * 24 * 3600,
            batch_max: 10_000,
            batch_linger_ms: 0,
            queue_capacity: 20_000,
            dead_letter_limit: 10_000,
            dead_letter_raw_bytes: 4096,
            reject_log_per_sec: 5,
            store_retry_ms: 500,
        }
    }
}
