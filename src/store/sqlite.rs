//! The sqlite implementation of [`Store`](super::Store).

use super::*;
use crate::model::*;

pub struct SqliteStore;

impl SqliteStore {
    pub async fn open(_url: &str, _dead_letter_limit: u32) -> StoreResult<Self> {
        todo!()
    }
}

#[async_trait]
impl Store for SqliteStore {
    fn backend(&self) -> &'static str {
        "sqlite"
    }
    async fn ping(&self) -> StoreResult<()> {
        todo!()
    }
    async fn register_city(&self, _s: &[SensorInfo], _c: &[CameraInfo]) -> StoreResult<()> {
        todo!()
    }
    async fn write_batch(&self, _b: &IngestBatch) -> StoreResult<BatchOutcome> {
        todo!()
    }
    async fn sensors(&self, _k: Option<&str>, _d: Option<&str>) -> StoreResult<Vec<SensorState>> {
        todo!()
    }
    async fn readings(&self, _s: &SensorId, _m: Option<&str>, _f: Timestamp, _t: Timestamp, _l: u32) -> StoreResult<Vec<Reading>> {
        todo!()
    }
    async fn count_readings(&self) -> StoreResult<u64> {
        todo!()
    }
    async fn video_alerts(&self, _l: u32) -> StoreResult<Vec<VideoAlert>> {
        todo!()
    }
    async fn dead_letters(&self, _l: u32) -> StoreResult<Vec<DeadLetter>> {
        todo!()
    }
    async fn open_incident(&self, _n: &NewIncident) -> StoreResult<(Incident, bool)> {
        todo!()
    }
    async fn touch_incident(&self, _i: IncidentId, _s: Timestamp, _e: i64, _p: Option<f64>) -> StoreResult<Incident> {
        todo!()
    }
    async fn clear_incident(&self, _k: &str, _a: Timestamp) -> StoreResult<Option<Incident>> {
        todo!()
    }
    async fn incident(&self, _i: IncidentId) -> StoreResult<Option<Incident>> {
        todo!()
    }
    async fn incidents(&self, _f: &IncidentFilter) -> StoreResult<Vec<Incident>> {
        todo!()
    }
}
