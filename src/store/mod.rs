//! The storage seam: one `Store` trait with a SQLite and a PostgreSQL implementation.
//!
//! Writes are idempotent so that MQTT redelivery (normal under QoS 1) never doubles a
//! reading: readings are unique by (sensor, metric, time), video alerts by source id.
//! Both backends pass the same contract suite (`tests/store_contract.rs`).

mod batch;
mod migrate;
mod postgres;
mod sqlite;

pub use postgres::PgStore;
pub use sqlite::SqliteStore;

use crate::model::{
    CameraInfo, DeadLetter, Incident, IncidentId, Reading, SensorId, SensorInfo, Severity,
    Timestamp, VideoAlert,
};
use async_trait::async_trait;
use serde::Serialize;
use std::sync::Arc;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database cannot be reached or refused the operation; retrying may succeed.
    #[error("database unavailable: {0}")]
    Unavailable(String),
    /// A migration failed; the schema is not what this build expects.
    #[error("migration failed: {0}")]
    Migration(String),
    /// A value read back could not be turned into a domain type.
    #[error("corrupt row: {0}")]
    Corrupt(String),
    /// A value given to the store that it cannot represent (e.g. a timestamp outside the
    /// database's range); retrying the same call will fail the same way.
    #[error("invalid input: {0}")]
    Invalid(String),
    /// The row a call names (e.g. an incident id) does not exist.
    #[error("not found: {0}")]
    NotFound(String),
}

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        match e {
            // A row that does not decode into the expected type is bad data, not an outage:
            // retrying would fail the same way.
            sqlx::Error::ColumnDecode { .. }
            | sqlx::Error::Decode(_)
            | sqlx::Error::ColumnNotFound(_)
            | sqlx::Error::ColumnIndexOutOfBounds { .. }
            | sqlx::Error::TypeNotFound { .. } => StoreError::Corrupt(e.to_string()),
            sqlx::Error::Migrate(m) => StoreError::Migration(m.to_string()),
            _ => StoreError::Unavailable(e.to_string()),
        }
    }
}

pub type StoreResult<T> = Result<T, StoreError>;

/// Everything one ingest batch carries. Written in one transaction.
#[derive(Debug, Default, Clone)]
pub struct IngestBatch {
    pub readings: Vec<Reading>,
    pub alerts: Vec<VideoAlert>,
    pub dead_letters: Vec<DeadLetter>,
}

impl IngestBatch {
    pub fn is_empty(&self) -> bool {
        self.readings.is_empty() && self.alerts.is_empty() && self.dead_letters.is_empty()
    }
}

/// What a batch write did, index for index with the batch.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct BatchOutcome {
    /// `readings_new[i]` is false when `batch.readings[i]` was already stored.
    pub readings_new: Vec<bool>,
    /// `alerts_new[i]` is false when `batch.alerts[i]` was already stored.
    pub alerts_new: Vec<bool>,
}

/// A sensor with the latest value of each of its metrics.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SensorState {
    #[serde(flatten)]
    pub info: SensorInfo,
    pub latest: Vec<LatestValue>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LatestValue {
    pub metric: String,
    pub time: Timestamp,
    pub value: f64,
}

/// A new incident for the store to open.
#[derive(Debug, Clone, PartialEq)]
pub struct NewIncident {
    pub dedup_key: String,
    pub category: String,
    pub severity: Severity,
    pub title: String,
    pub source: Option<String>,
    pub location: crate::model::Location,
    pub opened_at: Timestamp,
    pub peak: Option<f64>,
}

/// Which incidents to list, newest first.
#[derive(Debug, Clone, Default)]
pub struct IncidentFilter {
    /// Only incidents that are not closed.
    pub open_only: bool,
    pub district: Option<String>,
    /// At most this many; 0 means no limit (so `IncidentFilter::default()` lists all).
    pub limit: u32,
}

#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// `sqlite` or `postgres`, for logs and `/readyz`.
    fn backend(&self) -> &'static str;

    /// Round-trips to the database. Used by `/readyz` and the ingest retry loop.
    async fn ping(&self) -> StoreResult<()>;

    /// Inserts or updates the registry (sensors and cameras by id).
    async fn register_city(
        &self,
        sensors: &[SensorInfo],
        cameras: &[CameraInfo],
    ) -> StoreResult<()>;

    /// Writes a batch in one transaction: new readings, latest values (only moving
    /// forward in time), new alerts, dead letters (keeping at most the configured
    /// number, oldest dropped). Idempotent for readings and alerts.
    async fn write_batch(&self, batch: &IngestBatch) -> StoreResult<BatchOutcome>;

    /// Sensors with their latest values, optionally of one kind or district.
    async fn sensors(
        &self,
        kind: Option<&str>,
        district: Option<&str>,
    ) -> StoreResult<Vec<SensorState>>;

    /// A sensor's readings in `[from, to)`, oldest first, at most `limit`.
    async fn readings(
        &self,
        sensor: &SensorId,
        metric: Option<&str>,
        from: Timestamp,
        to: Timestamp,
        limit: u32,
    ) -> StoreResult<Vec<Reading>>;

    /// Total readings stored (for tests and the load command).
    async fn count_readings(&self) -> StoreResult<u64>;

    /// Video alerts, newest first.
    async fn video_alerts(&self, limit: u32) -> StoreResult<Vec<VideoAlert>>;

    /// Dead letters, newest first.
    async fn dead_letters(&self, limit: u32) -> StoreResult<Vec<DeadLetter>>;

    /// Opens an incident unless one that is not closed exists for its dedup key, which
    /// is then returned unchanged with `false`. The unique index decides races, not a
    /// check in memory.
    async fn open_incident(&self, new: &NewIncident) -> StoreResult<(Incident, bool)>;

    /// Adds `evidence` pieces of evidence to an incident: count += evidence,
    /// last_seen = max(last_seen, seen), peak = the larger of the two, version += 1.
    async fn touch_incident(
        &self,
        id: IncidentId,
        seen: Timestamp,
        evidence: i64,
        peak: Option<f64>,
    ) -> StoreResult<Incident>;

    /// Records that the condition cleared at `at` and closes the incident.
    /// Returns `None` if no open incident has this key.
    async fn clear_incident(&self, dedup_key: &str, at: Timestamp)
    -> StoreResult<Option<Incident>>;

    async fn incident(&self, id: IncidentId) -> StoreResult<Option<Incident>>;

    async fn incidents(&self, filter: &IncidentFilter) -> StoreResult<Vec<Incident>>;
}

pub type SharedStore = Arc<dyn Store>;

/// Opens the store a database URL names (`sqlite://...` or `postgres://...`) and
/// brings its schema up to date.
pub async fn open(url: &str, dead_letter_limit: u32) -> StoreResult<SharedStore> {
    if url.starts_with("sqlite:") {
        Ok(Arc::new(SqliteStore::open(url, dead_letter_limit).await?))
    } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
        Ok(Arc::new(PgStore::open(url, dead_letter_limit).await?))
    } else {
        Err(StoreError::Unavailable(format!(
            "unsupported database URL scheme in {url:?}: expected sqlite: or postgres:"
        )))
    }
}
