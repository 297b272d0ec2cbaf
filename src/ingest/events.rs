//! Notable ingest events. Each function emits the metric and the log line together,
//! so what is counted and what is logged never drift apart. Logs of events that can
//! arrive in floods (rejections, store and broker errors) are rate limited; the
//! counters always count.

use crate::model::RejectReason;
use crate::store::{BatchOutcome, IngestBatch, StoreError};
use metrics::{counter, histogram};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

/// Log lines allowed per second per flood-prone event; set from config at start.
static LOG_PER_SEC: AtomicU32 = AtomicU32::new(5);

pub fn set_log_rate(per_sec: u32) {
    LOG_PER_SEC.store(per_sec, Ordering::Relaxed);
}

/// A one-second window counter: `allow()` is true for the first N calls each second.
struct RateLimit(Mutex<(Instant, u32, u64)>);

impl RateLimit {
    fn new() -> Self {
        Self(Mutex::new((Instant::now(), 0, 0)))
    }
    /// Returns `Some(suppressed)` when a line may be logged, with how many were
    /// suppressed since the last one.
    fn allow(&self) -> Option<u64> {
        let mut g = self.0.lock().ok()?;
        let now = Instant::now();
        if now.duration_since(g.0) >= Duration::from_secs(1) {
            g.0 = now;
            g.1 = 0;
        }
        if g.1 < LOG_PER_SEC.load(Ordering::Relaxed) {
            g.1 += 1;
            Some(std::mem::take(&mut g.2))
        } else {
            g.2 += 1;
            None
        }
    }
}

/// Describes every ingest metric and creates it at zero, so dashboards and alerts see
/// the series from the start rather than after the first event.
pub fn register() {
    use metrics::{describe_counter, describe_gauge, describe_histogram, gauge};
    describe_counter!(
        "cityops_messages_in_total",
        "Messages received, by kind (sensor, video, unrouted)."
    );
    describe_counter!(
        "cityops_ingest_rejected_total",
        "Rejected records and messages, by reason."
    );
    describe_counter!("cityops_readings_stored_total", "Readings newly stored.");
    describe_counter!(
        "cityops_video_alerts_stored_total",
        "Video alerts newly stored."
    );
    describe_counter!("cityops_dead_letters_total", "Dead letters written.");
    describe_counter!(
        "cityops_store_errors_total",
        "Failed store writes (each is retried)."
    );
    describe_histogram!("cityops_store_batch_size", "Readings per batch written.");
    describe_histogram!("cityops_store_write_seconds", "Time to write one batch.");
    describe_gauge!("cityops_ws_clients", "Connected WebSocket clients.");
    describe_gauge!(
        "cityops_rules_clock_seconds",
        "Event time (Unix seconds) up to which the rules engine's timers have run and been stored."
    );
    describe_counter!(
        "cityops_rules_late_dropped_total",
        "Readings too late (beyond rules.lateness_ms) for rule evaluation; they are still stored."
    );
    describe_counter!(
        "cityops_rule_firings_total",
        "Times a rule started firing, by rule."
    );
    describe_counter!(
        "cityops_mqtt_refused_total",
        "Client connections the embedded MQTT endpoint dropped, by reason (too_large: a packet above mqtt.max_packet_bytes)."
    );
    for reason in BrokerRefusal::ALL {
        counter!("cityops_mqtt_refused_total", "reason" => reason.as_str()).increment(0);
    }
    counter!("cityops_rules_late_dropped_total").increment(0);
    for kind in ["sensor", "video", "unrouted"] {
        counter!("cityops_messages_in_total", "kind" => kind).increment(0);
    }
    for reason in RejectReason::ALL {
        counter!("cityops_ingest_rejected_total", "reason" => reason.as_str()).increment(0);
    }
    counter!("cityops_readings_stored_total").increment(0);
    counter!("cityops_video_alerts_stored_total").increment(0);
    counter!("cityops_dead_letters_total").increment(0);
    counter!("cityops_store_errors_total").increment(0);
    gauge!("cityops_ws_clients").set(0.0);
}

pub fn messages_in(kind: &'static str) {
    counter!("cityops_messages_in_total", "kind" => kind).increment(1);
}

pub fn rejected(reason: RejectReason, source: &str, detail: &str) {
    counter!("cityops_ingest_rejected_total", "reason" => reason.as_str()).increment(1);
    static LIMIT: std::sync::LazyLock<RateLimit> = std::sync::LazyLock::new(RateLimit::new);
    if let Some(suppressed) = LIMIT.allow() {
        tracing::warn!(
            reason = reason.as_str(),
            source,
            detail,
            suppressed,
            "message rejected"
        );
    }
}

pub fn duplicates(n: usize) {
    if n > 0 {
        counter!("cityops_ingest_rejected_total", "reason" => RejectReason::Duplicate.as_str())
            .increment(n as u64);
    }
}

/// Dead letters written outside a batch (the duplicates found once a batch is stored).
pub fn dead_letters_written(n: usize) {
    counter!("cityops_dead_letters_total").increment(n as u64);
}

pub fn batch_written(batch: &IngestBatch, outcome: &BatchOutcome, took: Duration) {
    let new = outcome.readings_new.iter().filter(|n| **n).count();
    counter!("cityops_readings_stored_total").increment(new as u64);
    let alerts = outcome.alerts_new.iter().filter(|n| **n).count();
    counter!("cityops_video_alerts_stored_total").increment(alerts as u64);
    counter!("cityops_dead_letters_total").increment(batch.dead_letters.len() as u64);
    histogram!("cityops_store_batch_size").record(batch.readings.len() as f64);
    histogram!("cityops_store_write_seconds").record(took.as_secs_f64());
    tracing::trace!(
        readings = batch.readings.len(),
        new,
        took_ms = took.as_millis() as u64,
        "batch written"
    );
}

pub fn store_failed(e: &StoreError) {
    counter!("cityops_store_errors_total").increment(1);
    static LIMIT: std::sync::LazyLock<RateLimit> = std::sync::LazyLock::new(RateLimit::new);
    if let Some(suppressed) = LIMIT.allow() {
        tracing::error!(error = %e, suppressed, "store write failed; holding acknowledgements and retrying");
    }
}

pub fn store_recovered() {
    tracing::info!("store reachable again; ingest resumes");
}

pub fn broker_connected(session_present: bool, generation: u64) {
    counter!("cityops_mqtt_connects_total").increment(1);
    tracing::info!(session_present, generation, "connected to MQTT broker");
}

pub fn broker_error(msg: &str) {
    counter!("cityops_mqtt_errors_total").increment(1);
    static LIMIT: std::sync::LazyLock<RateLimit> = std::sync::LazyLock::new(RateLimit::new);
    if let Some(suppressed) = LIMIT.allow() {
        tracing::warn!(
            error = msg,
            suppressed,
            "MQTT connection problem; reconnecting"
        );
    }
}

/// Why the embedded endpoint refused (disconnected) a client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BrokerRefusal {
    /// A packet above `mqtt.max_packet_bytes`: the device is disconnected before its
    /// message reaches ingest, so there is no dead letter, only this count.
    TooLarge,
    /// The client never completed its MQTT CONNECT (timeout, bad packet, bad client id).
    ConnectFailed,
    /// Any other protocol or network error that ended a connection.
    ConnectionError,
}

impl BrokerRefusal {
    pub const ALL: [Self; 3] = [Self::TooLarge, Self::ConnectFailed, Self::ConnectionError];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::TooLarge => "too_large",
            Self::ConnectFailed => "connect_failed",
            Self::ConnectionError => "connection_error",
        }
    }
}

/// The embedded endpoint dropped a client's connection; `detail` is the codec's error.
pub fn broker_refused(reason: BrokerRefusal, detail: &str) {
    counter!("cityops_mqtt_refused_total", "reason" => reason.as_str()).increment(1);
    static LIMIT: std::sync::LazyLock<RateLimit> = std::sync::LazyLock::new(RateLimit::new);
    if let Some(suppressed) = LIMIT.allow() {
        tracing::warn!(
            reason = reason.as_str(),
            detail,
            suppressed,
            "embedded MQTT endpoint dropped a client connection"
        );
    }
}

pub fn ack_failed() {
    counter!("cityops_mqtt_ack_failures_total").increment(1);
}

/// The rules engine's timers ran up to `now` and what they decided is stored.
pub fn rules_ticked(now: crate::model::Timestamp) {
    metrics::gauge!("cityops_rules_clock_seconds").set(now.secs_f64());
}
