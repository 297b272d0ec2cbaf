//! The SQLite write path: registry upserts and the statements of a batch (the batch's
//! transaction is `store/common/readings.rs`).

use super::BEGIN_WRITE;
use crate::model::{CameraInfo, DeadLetter, SensorInfo};
use crate::store::batch::{DistinctAlerts, DistinctReadings, newest_per_metric};
use crate::store::{IngestBatch, StoreError, StoreResult};
use sqlx::{QueryBuilder, Row, Sqlite, SqliteConnection, SqlitePool};

/// Rows per multi-row INSERT. 4 binds a reading keeps a statement far under SQLite's
/// 32766-variable limit; full chunks reuse one cached prepared statement.
const READING_CHUNK: usize = 1000;
/// 11 binds an alert.
const ALERT_CHUNK: usize = 200;
/// 9 binds a sensor.
const SENSOR_CHUNK: usize = 500;

pub(super) async fn register_city(
    pool: &SqlitePool,
    sensors: &[SensorInfo],
    cameras: &[CameraInfo],
) -> StoreResult<()> {
    let mut tx = pool.begin_with(BEGIN_WRITE).await?;
    for chunk in sensors.chunks(SENSOR_CHUNK) {
        let metrics = chunk
            .iter()
            .map(|s| serde_json::to_string(&s.metrics))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| StoreError::Invalid(format!("metrics not serialisable: {e}")))?;
        let mut qb = QueryBuilder::<Sqlite>::new(
            "INSERT INTO sensors (id, kind, name, metrics, lon, lat, grid, street, district) ",
        );
        qb.push_values(chunk.iter().zip(metrics), |mut b, (s, m)| {
            let l = &s.location;
            b.push_bind(s.id.as_str())
                .push_bind(s.kind.as_str())
                .push_bind(s.name.as_str())
                .push_bind(m)
                .push_bind(l.lon)
                .push_bind(l.lat)
                .push_bind(l.grid.as_deref())
                .push_bind(l.street.as_deref())
                .push_bind(l.district.as_deref());
        });
        qb.push(
            " ON CONFLICT (id) DO UPDATE SET kind = excluded.kind, name = excluded.name, \
             metrics = excluded.metrics, lon = excluded.lon, lat = excluded.lat, \
             grid = excluded.grid, street = excluded.street, district = excluded.district",
        );
        qb.build().execute(&mut *tx).await?;
    }
    for chunk in cameras.chunks(SENSOR_CHUNK) {
        let mut qb = QueryBuilder::<Sqlite>::new(
            "INSERT INTO cameras (id, name, lon, lat, grid, street, district) ",
        );
        qb.push_values(chunk, |mut b, c| {
            let l = &c.location;
            b.push_bind(c.id.as_str())
                .push_bind(c.name.as_str())
                .push_bind(l.lon)
                .push_bind(l.lat)
                .push_bind(l.grid.as_deref())
                .push_bind(l.street.as_deref())
                .push_bind(l.district.as_deref());
        });
        qb.push(
            " ON CONFLICT (id) DO UPDATE SET name = excluded.name, lon = excluded.lon, \
             lat = excluded.lat, grid = excluded.grid, street = excluded.street, \
             district = excluded.district",
        );
        qb.build().execute(&mut *tx).await?;
    }
    tx.commit().await?;
    Ok(())
}

pub(super) async fn insert_readings(
    conn: &mut SqliteConnection,
    batch: &IngestBatch,
    new: &mut [bool],
) -> StoreResult<()> {
    let distinct = DistinctReadings::new(&batch.readings);
    for chunk in distinct.first.chunks(READING_CHUNK) {
        let mut qb =
            QueryBuilder::<Sqlite>::new("INSERT INTO readings (sensor_id, metric, time, value) ");
        qb.push_values(chunk, |mut b, &i| {
            let r = &batch.readings[i];
            b.push_bind(r.sensor.as_str())
                .push_bind(r.metric.as_str())
                .push_bind(r.time.micros())
                .push_bind(r.value);
        });
        qb.push(" ON CONFLICT DO NOTHING RETURNING sensor_id, metric, time");
        let rows = qb
            .build()
            .persistent(chunk.len() == READING_CHUNK)
            .fetch_all(&mut *conn)
            .await?;
        for row in rows {
            distinct.mark_new(row.try_get(0)?, row.try_get(1)?, row.try_get(2)?, new)?;
        }
    }
    Ok(())
}

pub(super) async fn upsert_latest(
    conn: &mut SqliteConnection,
    batch: &IngestBatch,
) -> StoreResult<()> {
    let newest = newest_per_metric(&batch.readings);
    for chunk in newest.chunks(READING_CHUNK) {
        let mut qb = QueryBuilder::<Sqlite>::new(
            "INSERT INTO sensor_latest (sensor_id, metric, time, value) ",
        );
        qb.push_values(chunk, |mut b, r| {
            b.push_bind(r.sensor.as_str())
                .push_bind(r.metric.as_str())
                .push_bind(r.time.micros())
                .push_bind(r.value);
        });
        // Only forward: a late, older reading must not replace a newer latest value.
        qb.push(
            " ON CONFLICT (sensor_id, metric) DO UPDATE SET time = excluded.time, \
             value = excluded.value WHERE excluded.time > sensor_latest.time",
        );
        qb.build().execute(&mut *conn).await?;
    }
    Ok(())
}

pub(super) async fn insert_alerts(
    conn: &mut SqliteConnection,
    batch: &IngestBatch,
    new: &mut [bool],
) -> StoreResult<()> {
    let distinct = DistinctAlerts::new(&batch.alerts);
    for chunk in distinct.first.chunks(ALERT_CHUNK) {
        let mut qb = QueryBuilder::<Sqlite>::new(
            "INSERT INTO video_alerts (source_id, camera_id, event_type, confidence, time, \
             snapshot_url, lon, lat, grid, street, district) ",
        );
        qb.push_values(chunk, |mut b, &i| {
            let a = &batch.alerts[i];
            let l = &a.location;
            b.push_bind(a.source_id.as_str())
                .push_bind(a.camera.as_str())
                .push_bind(a.event_type.as_str())
                .push_bind(a.confidence)
                .push_bind(a.time.micros())
                .push_bind(a.snapshot_url.as_deref())
                .push_bind(l.lon)
                .push_bind(l.lat)
                .push_bind(l.grid.as_deref())
                .push_bind(l.street.as_deref())
                .push_bind(l.district.as_deref());
        });
        qb.push(" ON CONFLICT DO NOTHING RETURNING source_id");
        for row in qb.build().fetch_all(&mut *conn).await? {
            distinct.mark_new(row.try_get(0)?, new)?;
        }
    }
    Ok(())
}

pub(super) async fn insert_dead_letters(
    conn: &mut SqliteConnection,
    letters: &[DeadLetter],
) -> StoreResult<()> {
    for d in letters {
        sqlx::query(
            "INSERT INTO dead_letters (received_at, source, reason, detail, raw) \
             VALUES (?, ?, ?, ?, ?)",
        )
        .bind(d.received_at)
        .bind(d.source.as_str())
        .bind(d.reason.as_str())
        .bind(d.detail.as_str())
        .bind(d.raw.as_slice())
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}
