//! Readings, alerts and dead letters, and the registry of sensors and cameras they name:
//! what ingest writes in batches and the API reads back.

use super::StoreResult;
use crate::model::{CameraInfo, DeadLetter, Reading, SensorId, SensorInfo, Timestamp, VideoAlert};
use async_trait::async_trait;
use serde::Serialize;

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
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct SensorState {
    #[serde(flatten)]
    pub info: SensorInfo,
    pub latest: Vec<LatestValue>,
}

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct LatestValue {
    pub metric: String,
    pub time: Timestamp,
    pub value: f64,
}

/// Readings and the registry.
#[async_trait]
pub trait ReadingStore: Send + Sync {
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
}
