// The reads of readings, alerts, dead letters and the registry, the same SQL for both
// backends (included by each; see `store/mod.rs`). Writing a batch and the registry is
// each backend's own (`write.rs`): bulk inserts are where the dialects differ most.

use super::incidents::location;
use super::{Db, This};
use crate::model::*;
use crate::store::{
    BatchOutcome, IngestBatch, LatestValue, ReadingStore, SensorState, StoreError, StoreResult,
};
use async_trait::async_trait;
use sqlx::types::Json;
use sqlx::{QueryBuilder, Row};

/// A query bound clamped to what both backends can hold (PostgreSQL's `timestamptz`
/// through chrono), so a far-off bound selects everything on that side, not an error.
fn clamped(t: Timestamp) -> Timestamp {
    use chrono::{DateTime, Utc};
    match t.to_chrono() {
        Some(_) => t,
        None if t.micros() < 0 => Timestamp::from_chrono(DateTime::<Utc>::MIN_UTC),
        None => Timestamp::from_chrono(DateTime::<Utc>::MAX_UTC),
    }
}

#[async_trait]
impl ReadingStore for This {
    async fn register_city(
        &self,
        sensors: &[SensorInfo],
        cameras: &[CameraInfo],
    ) -> StoreResult<()> {
        super::write::register_city(self.writer(), sensors, cameras).await
    }

    async fn write_batch(&self, batch: &IngestBatch) -> StoreResult<BatchOutcome> {
        use super::write;
        let mut outcome = BatchOutcome {
            readings_new: vec![false; batch.readings.len()],
            alerts_new: vec![false; batch.alerts.len()],
        };
        if batch.is_empty() {
            return Ok(outcome);
        }
        self.prepare_batch(batch).await?;
        let mut tx = self.begin_write().await?;
        write::insert_readings(&mut tx, batch, &mut outcome.readings_new).await?;
        write::upsert_latest(&mut tx, batch).await?;
        write::insert_alerts(&mut tx, batch, &mut outcome.alerts_new).await?;
        if !batch.dead_letters.is_empty() {
            // Only the newest `limit` can survive the trim; skip writing the rest.
            let limit = self.dead_letter_limit;
            let skip = batch.dead_letters.len().saturating_sub(limit as usize);
            write::insert_dead_letters(&mut tx, &batch.dead_letters[skip..]).await?;
            sqlx::query(
                "DELETE FROM dead_letters WHERE id <= (SELECT MAX(id) FROM dead_letters) - $1",
            )
            .bind(i64::from(limit))
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(outcome)
    }

    async fn sensors(
        &self,
        kind: Option<&str>,
        district: Option<&str>,
    ) -> StoreResult<Vec<SensorState>> {
        let mut qb = QueryBuilder::<Db>::new(
            "SELECT s.id, s.kind, s.name, s.metrics, s.lon, s.lat, s.grid, s.street, s.district, \
             l.metric AS l_metric, l.time AS l_time, l.value AS l_value \
             FROM sensors s LEFT JOIN sensor_latest l ON l.sensor_id = s.id WHERE true",
        );
        if let Some(kind) = kind {
            qb.push(" AND s.kind = ").push_bind(kind);
        }
        if let Some(district) = district {
            qb.push(" AND s.district = ").push_bind(district);
        }
        qb.push(" ORDER BY s.id, l.metric");
        let rows = qb.build().fetch_all(self.reader()).await?;

        let mut out: Vec<SensorState> = Vec::new();
        for row in rows {
            let id: &str = row.try_get("id")?;
            if out.last().is_none_or(|s| s.info.id.as_str() != id) {
                let Json(metrics) = row
                    .try_get("metrics")
                    .map_err(|e| StoreError::Corrupt(format!("sensor {id}: metrics: {e}")))?;
                out.push(SensorState {
                    info: SensorInfo {
                        id: SensorId::new(id),
                        kind: row.try_get("kind")?,
                        name: row.try_get("name")?,
                        metrics,
                        location: location(&row)?,
                    },
                    latest: Vec::new(),
                });
            }
            if let Some(metric) = row.try_get::<Option<String>, _>("l_metric")? {
                let state = out
                    .last_mut()
                    .ok_or_else(|| StoreError::Corrupt("no sensor row".into()))?;
                state.latest.push(LatestValue {
                    metric,
                    time: row.try_get("l_time")?,
                    value: row.try_get("l_value")?,
                });
            }
        }
        Ok(out)
    }

    async fn readings(
        &self,
        sensor: &SensorId,
        metric: Option<&str>,
        from: Timestamp,
        to: Timestamp,
        limit: u32,
    ) -> StoreResult<Vec<Reading>> {
        let mut qb =
            QueryBuilder::<Db>::new("SELECT metric, time, value FROM readings WHERE sensor_id = ");
        qb.push_bind(sensor.as_str());
        if let Some(metric) = metric {
            qb.push(" AND metric = ").push_bind(metric);
        }
        qb.push(" AND time >= ")
            .push_bind(clamped(from))
            .push(" AND time < ")
            .push_bind(clamped(to))
            .push(" ORDER BY time, metric LIMIT ")
            .push_bind(i64::from(limit));
        qb.build()
            .fetch_all(self.reader())
            .await?
            .iter()
            .map(|row| {
                Ok(Reading {
                    sensor: sensor.clone(),
                    metric: row.try_get("metric")?,
                    time: row.try_get("time")?,
                    value: row.try_get("value")?,
                })
            })
            .collect()
    }

    async fn count_readings(&self) -> StoreResult<u64> {
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM readings")
            .fetch_one(self.reader())
            .await?;
        u64::try_from(n).map_err(|_| StoreError::Corrupt(format!("negative count {n}")))
    }

    async fn video_alerts(&self, limit: u32) -> StoreResult<Vec<VideoAlert>> {
        sqlx::query(
            "SELECT source_id, camera_id, event_type, confidence, time, snapshot_url, \
             lon, lat, grid, street, district \
             FROM video_alerts ORDER BY time DESC, source_id LIMIT $1",
        )
        .bind(i64::from(limit))
        .fetch_all(self.reader())
        .await?
        .iter()
        .map(|row| {
            Ok(VideoAlert {
                source_id: row.try_get("source_id")?,
                camera: CameraId::new(row.try_get::<&str, _>("camera_id")?),
                event_type: row.try_get("event_type")?,
                confidence: row.try_get("confidence")?,
                time: row.try_get("time")?,
                snapshot_url: row.try_get("snapshot_url")?,
                location: location(row)?,
            })
        })
        .collect()
    }

    async fn dead_letters(&self, limit: u32) -> StoreResult<Vec<DeadLetter>> {
        sqlx::query(
            "SELECT received_at, source, reason, detail, raw FROM dead_letters \
             ORDER BY id DESC LIMIT $1",
        )
        .bind(i64::from(limit))
        .fetch_all(self.reader())
        .await?
        .iter()
        .map(|row| {
            let reason: &str = row.try_get("reason")?;
            Ok(DeadLetter {
                received_at: row.try_get("received_at")?,
                source: row.try_get("source")?,
                reason: RejectReason::parse(reason).ok_or_else(|| {
                    StoreError::Corrupt(format!("unknown dead-letter reason {reason:?}"))
                })?,
                detail: row.try_get("detail")?,
                raw: row.try_get("raw")?,
            })
        })
        .collect()
    }
}
