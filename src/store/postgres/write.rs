//! The PostgreSQL write path: registry upserts and the statements of a batch (its
//! transaction is `store/common/readings.rs`), each bulk
//! statement binding one array per column.

use super::to_pg;
use crate::model::{CameraInfo, DeadLetter, SensorInfo};
use crate::store::batch::{DistinctAlerts, DistinctReadings, newest_per_metric};
use crate::store::{IngestBatch, StoreError, StoreResult};
use sqlx::{PgConnection, PgPool, Row};

pub(super) async fn register_city(
    pool: &PgPool,
    sensors: &[SensorInfo],
    cameras: &[CameraInfo],
) -> StoreResult<()> {
    let metrics = sensors
        .iter()
        .map(|s| serde_json::to_string(&s.metrics))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| StoreError::Invalid(format!("metrics not serialisable: {e}")))?;
    let mut tx = pool.begin().await?;
    sqlx::query(
        "INSERT INTO sensors (id, kind, name, metrics, lon, lat, grid, street, district) \
         SELECT id, kind, name, metrics::jsonb, lon, lat, grid, street, district FROM UNNEST(\
           $1::text[], $2::text[], $3::text[], $4::text[], $5::float8[], $6::float8[], \
           $7::text[], $8::text[], $9::text[]) \
           AS t(id, kind, name, metrics, lon, lat, grid, street, district) \
         ON CONFLICT (id) DO UPDATE SET kind = excluded.kind, name = excluded.name, \
           metrics = excluded.metrics, lon = excluded.lon, lat = excluded.lat, \
           grid = excluded.grid, street = excluded.street, district = excluded.district",
    )
    .bind(sensors.iter().map(|s| s.id.as_str()).collect::<Vec<_>>())
    .bind(sensors.iter().map(|s| s.kind.as_str()).collect::<Vec<_>>())
    .bind(sensors.iter().map(|s| s.name.as_str()).collect::<Vec<_>>())
    .bind(metrics)
    .bind(sensors.iter().map(|s| s.location.lon).collect::<Vec<_>>())
    .bind(sensors.iter().map(|s| s.location.lat).collect::<Vec<_>>())
    .bind(
        sensors
            .iter()
            .map(|s| s.location.grid.as_deref())
            .collect::<Vec<_>>(),
    )
    .bind(
        sensors
            .iter()
            .map(|s| s.location.street.as_deref())
            .collect::<Vec<_>>(),
    )
    .bind(
        sensors
            .iter()
            .map(|s| s.location.district.as_deref())
            .collect::<Vec<_>>(),
    )
    .execute(&mut *tx)
    .await?;
    sqlx::query(
        "INSERT INTO cameras (id, name, lon, lat, grid, street, district) \
         SELECT * FROM UNNEST($1::text[], $2::text[], $3::float8[], $4::float8[], \
           $5::text[], $6::text[], $7::text[]) \
         ON CONFLICT (id) DO UPDATE SET name = excluded.name, lon = excluded.lon, \
           lat = excluded.lat, grid = excluded.grid, street = excluded.street, \
           district = excluded.district",
    )
    .bind(cameras.iter().map(|c| c.id.as_str()).collect::<Vec<_>>())
    .bind(cameras.iter().map(|c| c.name.as_str()).collect::<Vec<_>>())
    .bind(cameras.iter().map(|c| c.location.lon).collect::<Vec<_>>())
    .bind(cameras.iter().map(|c| c.location.lat).collect::<Vec<_>>())
    .bind(
        cameras
            .iter()
            .map(|c| c.location.grid.as_deref())
            .collect::<Vec<_>>(),
    )
    .bind(
        cameras
            .iter()
            .map(|c| c.location.street.as_deref())
            .collect::<Vec<_>>(),
    )
    .bind(
        cameras
            .iter()
            .map(|c| c.location.district.as_deref())
            .collect::<Vec<_>>(),
    )
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(())
}

pub(super) async fn insert_readings(
    conn: &mut PgConnection,
    batch: &IngestBatch,
    new: &mut [bool],
) -> StoreResult<()> {
    if batch.readings.is_empty() {
        return Ok(());
    }
    let distinct = DistinctReadings::new(&batch.readings);
    let rows: Vec<_> = distinct.first.iter().map(|&i| &batch.readings[i]).collect();
    let times = rows
        .iter()
        .map(|r| to_pg(r.time))
        .collect::<StoreResult<Vec<_>>>()?;
    let inserted = sqlx::query(
        "INSERT INTO readings (sensor_id, metric, time, value) \
         SELECT * FROM UNNEST($1::text[], $2::text[], $3::timestamptz[], $4::float8[]) \
         ON CONFLICT DO NOTHING RETURNING sensor_id, metric, time",
    )
    .bind(rows.iter().map(|r| r.sensor.as_str()).collect::<Vec<_>>())
    .bind(rows.iter().map(|r| r.metric.as_str()).collect::<Vec<_>>())
    .bind(times)
    .bind(rows.iter().map(|r| r.value).collect::<Vec<_>>())
    .fetch_all(&mut *conn)
    .await?;
    for row in inserted {
        distinct.mark_new(row.try_get(0)?, row.try_get(1)?, row.try_get(2)?, new)?;
    }
    Ok(())
}

pub(super) async fn upsert_latest(conn: &mut PgConnection, batch: &IngestBatch) -> StoreResult<()> {
    let newest = newest_per_metric(&batch.readings);
    if newest.is_empty() {
        return Ok(());
    }
    let times = newest
        .iter()
        .map(|r| to_pg(r.time))
        .collect::<StoreResult<Vec<_>>>()?;
    // Only forward: a late, older reading must not replace a newer latest value.
    sqlx::query(
        "INSERT INTO sensor_latest (sensor_id, metric, time, value) \
         SELECT * FROM UNNEST($1::text[], $2::text[], $3::timestamptz[], $4::float8[]) \
         ON CONFLICT (sensor_id, metric) DO UPDATE SET time = excluded.time, value = excluded.value \
         WHERE excluded.time > sensor_latest.time",
    )
    .bind(newest.iter().map(|r| r.sensor.as_str()).collect::<Vec<_>>())
    .bind(newest.iter().map(|r| r.metric.as_str()).collect::<Vec<_>>())
    .bind(times)
    .bind(newest.iter().map(|r| r.value).collect::<Vec<_>>())
    .execute(&mut *conn)
    .await?;
    Ok(())
}

pub(super) async fn insert_alerts(
    conn: &mut PgConnection,
    batch: &IngestBatch,
    new: &mut [bool],
) -> StoreResult<()> {
    if batch.alerts.is_empty() {
        return Ok(());
    }
    let distinct = DistinctAlerts::new(&batch.alerts);
    let alerts: Vec<_> = distinct.first.iter().map(|&i| &batch.alerts[i]).collect();
    let times = alerts
        .iter()
        .map(|a| to_pg(a.time))
        .collect::<StoreResult<Vec<_>>>()?;
    let inserted = sqlx::query(
        "INSERT INTO video_alerts (source_id, camera_id, event_type, confidence, time, \
           snapshot_url, lon, lat, grid, street, district) \
         SELECT * FROM UNNEST($1::text[], $2::text[], $3::text[], $4::float8[], \
           $5::timestamptz[], $6::text[], $7::float8[], $8::float8[], $9::text[], \
           $10::text[], $11::text[]) \
         ON CONFLICT DO NOTHING RETURNING source_id",
    )
    .bind(
        alerts
            .iter()
            .map(|a| a.source_id.as_str())
            .collect::<Vec<_>>(),
    )
    .bind(alerts.iter().map(|a| a.camera.as_str()).collect::<Vec<_>>())
    .bind(
        alerts
            .iter()
            .map(|a| a.event_type.as_str())
            .collect::<Vec<_>>(),
    )
    .bind(alerts.iter().map(|a| a.confidence).collect::<Vec<_>>())
    .bind(times)
    .bind(
        alerts
            .iter()
            .map(|a| a.snapshot_url.as_deref())
            .collect::<Vec<_>>(),
    )
    .bind(alerts.iter().map(|a| a.location.lon).collect::<Vec<_>>())
    .bind(alerts.iter().map(|a| a.location.lat).collect::<Vec<_>>())
    .bind(
        alerts
            .iter()
            .map(|a| a.location.grid.as_deref())
            .collect::<Vec<_>>(),
    )
    .bind(
        alerts
            .iter()
            .map(|a| a.location.street.as_deref())
            .collect::<Vec<_>>(),
    )
    .bind(
        alerts
            .iter()
            .map(|a| a.location.district.as_deref())
            .collect::<Vec<_>>(),
    )
    .fetch_all(&mut *conn)
    .await?;
    for row in inserted {
        distinct.mark_new(row.try_get(0)?, new)?;
    }
    Ok(())
}

pub(super) async fn insert_dead_letters(
    conn: &mut PgConnection,
    letters: &[DeadLetter],
) -> StoreResult<()> {
    let times = letters
        .iter()
        .map(|d| to_pg(d.received_at))
        .collect::<StoreResult<Vec<_>>>()?;
    // WITH ORDINALITY keeps ids in batch order, so "newest" means "last in the batch".
    sqlx::query(
        "INSERT INTO dead_letters (received_at, source, reason, detail, raw) \
         SELECT received_at, source, reason, detail, raw FROM UNNEST(\
           $1::timestamptz[], $2::text[], $3::text[], $4::text[], $5::bytea[]) WITH ORDINALITY \
           AS t(received_at, source, reason, detail, raw, n) ORDER BY n",
    )
    .bind(times)
    .bind(
        letters
            .iter()
            .map(|d| d.source.as_str())
            .collect::<Vec<_>>(),
    )
    .bind(
        letters
            .iter()
            .map(|d| d.reason.as_str())
            .collect::<Vec<_>>(),
    )
    .bind(
        letters
            .iter()
            .map(|d| d.detail.as_str())
            .collect::<Vec<_>>(),
    )
    .bind(letters.iter().map(|d| d.raw.as_slice()).collect::<Vec<_>>())
    .execute(&mut *conn)
    .await?;
    Ok(())
}
