//! Ingest: turning MQTT / webhook payloads into validated readings and video alerts.
//!
//! No networking lives here; the transport hands over `(topic, payload)` and gets back
//! owned, checked values plus a [`Rejection`] for each part that was refused. The steps:
//!
//! - [`topic`]: topic patterns such as `city/{district}/sensors/{sensor_id}`, their MQTT
//!   subscription filter and the ids a topic carries;
//! - [`decode`]: sensor payloads (SenML JSON pack or our compact JSON, told apart by the
//!   first byte) into borrowed [`DecodedReading`]s — [`senml`] and [`compact`] hold the two
//!   forms, `scalar` / `nonfinite` the JSON details they share;
//! - [`validate`]: decoded readings against the city registry and [`Limits`];
//! - [`alert`]: video-AI alerts, decoded and validated in one step.
//!
//! A message is judged record by record: valid records of a message are kept even when
//! others are rejected, so nothing valid is lost. Only problems with the message as a whole
//! (too big, not JSON, a field every record depends on) reject it entirely.
//! `docs/ingest.md` describes the accepted payloads for device makers.

pub mod alert;
pub mod compact;
pub mod decode;
pub(crate) mod events;
mod mqtt;
mod nonfinite;
mod route;
mod scalar;
pub mod senml;
pub mod topic;
pub mod validate;

#[cfg(test)]
mod alert_tests;
#[cfg(test)]
mod compact_tests;
#[cfg(test)]
mod fuzz;
#[cfg(test)]
mod senml_tests;
#[cfg(test)]
mod testutil;
#[cfg(test)]
mod validate_tests;

pub use alert::validate_video_alert;
pub use decode::{Decoded, DecodedReading, decode_sensor_payload};
pub use events::{register as register_metrics, set_log_rate as set_reject_log_rate};
pub use mqtt::MqttIntake;
pub use route::{Decoder, Route};
pub use topic::{Captures, TopicError, TopicPattern};
pub use validate::{Validated, validate_decoded, validate_sensor_message};

use crate::model::RejectReason;

/// Bounds on what one message may carry. Times are in microseconds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Larger payloads are refused as `oversize` before any parsing.
    pub max_payload_bytes: usize,
    /// More records (SenML records, compact `values` entries) are refused as `oversize`.
    pub max_records: usize,
    /// How far ahead of `now` an event time may be (device clocks drift).
    pub max_future_us: i64,
    /// How far behind `now` an event time may be (devices buffer while offline).
    pub max_past_us: i64,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_payload_bytes: 64 * 1024,
            max_records: 1000,
            max_future_us: 5 * 60 * 1_000_000,
            max_past_us: 7 * 24 * 3600 * 1_000_000,
        }
    }
}

impl Limits {
    pub fn from_config(c: &crate::config::IngestConfig) -> Self {
        let us = |secs: u64| i64::try_from(secs.saturating_mul(1_000_000)).unwrap_or(i64::MAX);
        Self {
            max_payload_bytes: c.max_payload_bytes,
            max_records: c.max_records,
            max_future_us: us(c.max_future_secs),
            max_past_us: us(c.max_past_secs),
        }
    }
}

/// Longest `detail` kept; dead letters keep the raw payload for the rest.
const MAX_DETAIL: usize = 300;
/// Longest quoted input value inside a detail.
const MAX_QUOTED: usize = 64;

/// Why (part of) a message was refused.
#[derive(Debug, Clone, PartialEq)]
pub struct Rejection {
    pub reason: RejectReason,
    /// Which field or record, and the bad value (truncated).
    pub detail: String,
}

impl Rejection {
    pub fn new(reason: RejectReason, detail: impl Into<String>) -> Self {
        let mut detail = detail.into();
        if detail.len() > MAX_DETAIL {
            let cut = floor_char_boundary(&detail, MAX_DETAIL);
            detail.truncate(cut);
            detail.push('…');
        }
        Self { reason, detail }
    }

    pub(crate) fn malformed(detail: impl Into<String>) -> Self {
        Self::new(RejectReason::Malformed, detail)
    }
}

impl std::fmt::Display for Rejection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.reason.as_str(), self.detail)
    }
}

fn floor_char_boundary(s: &str, max: usize) -> usize {
    let mut i = max.min(s.len());
    while !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

/// An input value quoted for a detail message, cut short so a hostile payload cannot
/// make log lines or dead-letter rows huge.
pub(crate) fn quote(s: &str) -> String {
    if s.len() <= MAX_QUOTED {
        format!("{s:?}")
    } else {
        format!("{:?}…", &s[..floor_char_boundary(s, MAX_QUOTED)])
    }
}
