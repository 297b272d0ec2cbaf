//! The storage seam: one `Store` trait with a SQLite and a PostgreSQL implementation.
//!
//! Writes are idempotent so that MQTT redelivery (normal under QoS 1) never doubles a
//! reading: readings are unique by (sensor, metric, time), video alerts by source id.
//! Every change of an incident except added evidence appends to its event log in the same
//! transaction; what each change does is decided once, in `transitions.rs`, for both
//! backends. Both backends pass the same contract suite (`tests/store_contract.rs`).

mod batch;
mod migrate;
mod postgres;
mod sqlite;
mod transitions;

pub use postgres::PgStore;
pub use sqlite::SqliteStore;

use crate::model::{
    CameraInfo, DeadLetter, Incident, IncidentEvent, IncidentId, Reading, SensorId, SensorInfo,
    Severity, Timestamp, VideoAlert,
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
    /// The change is not allowed in the row's current state (e.g. the incident is closed).
    #[error("conflict: {0}")]
    Conflict(String),
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
    /// Name of the rule raising it; also names the actor of its `opened` event.
    pub rule: Option<String>,
    pub description: Option<String>,
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
    /// check in memory. A created incident gets an `opened` event (to = its severity, actor
    /// `rule:<rule>`, or `system` without a rule) in the same transaction.
    async fn open_incident(&self, new: &NewIncident) -> StoreResult<(Incident, bool)>;

    /// Adds `evidence` pieces of evidence to an incident: count += evidence,
    /// last_seen = max(last_seen, seen), peak = the larger of the two, version += 1.
    /// Writes no event: evidence arrives at sensor rate and would drown the log.
    async fn touch_incident(
        &self,
        id: IncidentId,
        seen: Timestamp,
        evidence: i64,
        peak: Option<f64>,
    ) -> StoreResult<Incident>;

    /// Records that the condition of the open incident with this key cleared at `at`: sets
    /// cleared_at, bumps version and writes a `cleared` event. With `close` it also closes
    /// it (status closed, closed_at = at, a `closed` event noted "auto-closed: condition
    /// cleared"). If its condition had already cleared, cleared_at keeps that first time and
    /// no second `cleared` event is written, so without `close` the call changes nothing.
    /// The actor of the events is the incident's rule (`rule:<name>`), else `system`.
    /// Returns `None` if no open (not closed) incident has this key.
    async fn clear_incident(
        &self,
        dedup_key: &str,
        at: Timestamp,
        close: bool,
    ) -> StoreResult<Option<Incident>>;

    /// Changes the severity of an open incident (escalation or step-down), bumping version
    /// and writing a `severity` event from the old to the new level with `note`. The same
    /// severity returns the incident unchanged, with no event. `NotFound` if the id does not
    /// exist, `Conflict` if the incident is closed.
    async fn set_severity(
        &self,
        id: IncidentId,
        severity: Severity,
        at: Timestamp,
        actor: &str,
        note: &str,
    ) -> StoreResult<Incident>;

    /// The condition fired again on an open incident whose condition had cleared:
    /// cleared_at = NULL, version + 1, a `refired` event. Returns the incident unchanged if
    /// cleared_at is already NULL. `NotFound` if the id does not exist, `Conflict` if the
    /// incident is closed (a new firing then opens a new incident).
    async fn refire_incident(
        &self,
        id: IncidentId,
        at: Timestamp,
        actor: &str,
    ) -> StoreResult<Incident>;

    /// The incident's event log, oldest first (in the order the changes were committed).
    /// Empty for an unknown id.
    async fn incident_events(&self, id: IncidentId) -> StoreResult<Vec<IncidentEvent>>;

    /// Rules-engine state that must survive a restart (pending `for:` timers, firing
    /// levels), as opaque JSON text per key. `Some(v)` upserts, `None` deletes; applied in
    /// order (a key given twice ends as its last change), in one transaction.
    async fn save_rule_state(&self, changes: &[(String, Option<String>)]) -> StoreResult<()>;

    /// All saved rule state, by key.
    async fn rule_state(&self) -> StoreResult<Vec<(String, String)>>;

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
