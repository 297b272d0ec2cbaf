//! What the ingest stage produces: readings, video alerts and rejected messages,
//! and the registry entries (sensors, cameras) they refer to.

use super::{CameraId, SensorId, Timestamp};
use serde::{Deserialize, Serialize};

/// A WGS84 position with where it falls in the city's administrative tree.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, Default, utoipa::ToSchema)]
pub struct Location {
    pub lon: f64,
    pub lat: f64,
    /// Grid code (网格), if the point lies inside a grid of the loaded city.
    pub grid: Option<String>,
    /// Street / township code (街道).
    pub street: Option<String>,
    /// District code (区县).
    pub district: Option<String>,
}

/// One metric a sensor reports, with the range a real device can produce.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct MetricSpec {
    pub name: String,
    pub unit: String,
    /// Values outside `[min, max]` are physically impossible for the device and rejected.
    pub min: f64,
    pub max: f64,
}

/// A sensor of the city registry.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct SensorInfo {
    pub id: SensorId,
    /// Kind, e.g. `water_level`, `gas`, `manhole_cover`.
    pub kind: String,
    pub name: String,
    pub metrics: Vec<MetricSpec>,
    pub location: Location,
}

impl SensorInfo {
    pub fn metric(&self, name: &str) -> Option<&MetricSpec> {
        self.metrics.iter().find(|m| m.name == name)
    }
}

/// A video camera of the city registry.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct CameraInfo {
    pub id: CameraId,
    pub name: String,
    pub location: Location,
}

/// One validated measurement. Unique by (sensor, metric, time): a redelivered message
/// writes nothing new.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Reading {
    pub sensor: SensorId,
    pub metric: String,
    pub time: Timestamp,
    pub value: f64,
}

/// An alert pushed by a video-AI platform. Unique by `source_id`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct VideoAlert {
    /// The platform's own id for the alert; redeliveries carry the same one.
    pub source_id: String,
    pub camera: CameraId,
    /// Event type, e.g. `smoke`, `waterlogging`, `illegal_parking`, `crowding`.
    pub event_type: String,
    /// Detector confidence in `[0, 1]`.
    pub confidence: f64,
    pub time: Timestamp,
    pub snapshot_url: Option<String>,
    pub location: Location,
}

/// Why a message was rejected. The string form is the `reason` label of the
/// `cityops_ingest_rejected_total` metric and of the dead-letter table.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RejectReason {
    /// Not parseable as any accepted payload form, or missing required fields.
    Malformed,
    /// A value that is NaN or infinite.
    NonFinite,
    /// A value outside the physical range of the sensor's metric.
    OutOfRange,
    /// The sensor id is not in the city registry.
    UnknownSensor,
    /// The sensor exists but does not report this metric.
    UnknownMetric,
    /// The camera id is not in the city registry.
    UnknownCamera,
    /// Coordinates outside WGS84 (|lon| > 180, |lat| > 90).
    BadCoordinates,
    /// A timestamp further in the future than the configured tolerance.
    FutureTimestamp,
    /// A timestamp further in the past than the configured tolerance.
    StaleTimestamp,
    /// A payload larger than the configured maximum.
    Oversize,
    /// Everything the message carries was already stored.
    Duplicate,
    /// A second, different value for a sensor, metric and time the same message already
    /// gave: the first is kept.
    Conflict,
}

impl RejectReason {
    pub const ALL: [RejectReason; 12] = [
        Self::Malformed,
        Self::NonFinite,
        Self::OutOfRange,
        Self::UnknownSensor,
        Self::UnknownMetric,
        Self::UnknownCamera,
        Self::BadCoordinates,
        Self::FutureTimestamp,
        Self::StaleTimestamp,
        Self::Oversize,
        Self::Duplicate,
        Self::Conflict,
    ];

    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Malformed => "malformed",
            Self::NonFinite => "non_finite",
            Self::OutOfRange => "out_of_range",
            Self::UnknownSensor => "unknown_sensor",
            Self::UnknownMetric => "unknown_metric",
            Self::UnknownCamera => "unknown_camera",
            Self::BadCoordinates => "bad_coordinates",
            Self::FutureTimestamp => "future_timestamp",
            Self::StaleTimestamp => "stale_timestamp",
            Self::Oversize => "oversize",
            Self::Duplicate => "duplicate",
            Self::Conflict => "conflict",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.as_str() == s)
    }
}

/// A rejected message, kept with its raw bytes so an engineer can see what was sent.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DeadLetter {
    pub received_at: Timestamp,
    /// Where it came from: `mqtt:<topic>` or `http:<path>`.
    pub source: String,
    pub reason: RejectReason,
    /// A human-readable explanation (which field, which value).
    pub detail: String,
    /// The payload as received, truncated to the configured dead-letter byte limit.
    pub raw: Vec<u8>,
}
