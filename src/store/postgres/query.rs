//! PostgreSQL reads: sensors with latest values, readings, alerts, dead letters.

use super::{from_pg, to_pg};
use crate::model::*;
use crate::store::{LatestValue, SensorState, StoreError, StoreResult};
use chrono::{DateTime, Utc};
use sqlx::postgres::PgRow;
use sqlx::{PgPool, Postgres, QueryBuilder, Row};

pub(super) fn location(row: &PgRow) -> StoreResult<Location> {
    Ok(Location {
        lon: row.try_get("lon")?,
        lat: row.try_get("lat")?,
        grid: row.try_get("grid")?,
        street: row.try_get("street")?,
        district: row.try_get("district")?,
    })
}

pub(super) fn time(row: &PgRow, column: &str) -> StoreResult<Timestamp> {
    Ok(from_pg(row.try_get::<DateTime<Utc>, _>(column)?))
}

pub(super) async fn sensors(
    pool: &PgPool,
    kind: Option<&str>,
    district: Option<&str>,
) -> StoreResult<Vec<SensorState>> {
    let mut qb = QueryBuilder::<Postgres>::new(
        "SELECT s.id, s.kind, s.name, s.metrics::text AS metrics, s.lon, s.lat, s.grid, s.street, \
         s.district, l.metric AS l_metric, l.time AS l_time, l.value AS l_value \
         FROM sensors s LEFT JOIN sensor_latest l ON l.sensor_id = s.id WHERE true",
    );
    if let Some(kind) = kind {
        qb.push(" AND s.kind = ").push_bind(kind);
    }
    if let Some(district) = district {
        qb.push(" AND s.district = ").push_bind(district);
    }
    qb.push(" ORDER BY s.id, l.metric");
    let rows = qb.build().fetch_all(pool).await?;

    let mut out: Vec<SensorState> = Vec::new();
    for row in rows {
        let id: &str = row.try_get("id")?;
        if out.last().is_none_or(|s| s.info.id.as_str() != id) {
            let metrics: &str = row.try_get("metrics")?;
            let metrics = serde_json::from_str(metrics)
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
                time: time(&row, "l_time")?,
                value: row.try_get("l_value")?,
            });
        }
    }
    Ok(out)
}

pub(super) async fn readings(
    pool: &PgPool,
    sensor: &SensorId,
    metric: Option<&str>,
    from: Timestamp,
    to: Timestamp,
    limit: u32,
) -> StoreResult<Vec<Reading>> {
    // Bounds beyond timestamptz's range clamp to it instead of failing the query.
    let from = to_pg(from).unwrap_or(DateTime::<Utc>::MIN_UTC);
    let to = to_pg(to).unwrap_or(DateTime::<Utc>::MAX_UTC);
    let mut qb = QueryBuilder::<Postgres>::new(
        "SELECT metric, time, value FROM readings WHERE sensor_id = ",
    );
    qb.push_bind(sensor.as_str());
    if let Some(metric) = metric {
        qb.push(" AND metric = ").push_bind(metric);
    }
    qb.push(" AND time >= ")
        .push_bind(from)
        .push(" AND time < ")
        .push_bind(to)
        .push(" ORDER BY time, metric LIMIT ")
        .push_bind(i64::from(limit));
    qb.build()
        .fetch_all(pool)
        .await?
        .iter()
        .map(|row| {
            Ok(Reading {
                sensor: sensor.clone(),
                metric: row.try_get("metric")?,
                time: time(row, "time")?,
                value: row.try_get("value")?,
            })
        })
        .collect()
}

pub(super) async fn video_alerts(pool: &PgPool, limit: u32) -> StoreResult<Vec<VideoAlert>> {
    sqlx::query(
        "SELECT source_id, camera_id, event_type, confidence, time, snapshot_url, \
         lon, lat, grid, street, district \
         FROM video_alerts ORDER BY time DESC, source_id LIMIT $1",
    )
    .bind(i64::from(limit))
    .fetch_all(pool)
    .await?
    .iter()
    .map(|row| {
        Ok(VideoAlert {
            source_id: row.try_get("source_id")?,
            camera: CameraId::new(row.try_get::<&str, _>("camera_id")?),
            event_type: row.try_get("event_type")?,
            confidence: row.try_get("confidence")?,
            time: time(row, "time")?,
            snapshot_url: row.try_get("snapshot_url")?,
            location: location(row)?,
        })
    })
    .collect()
}

pub(super) async fn dead_letters(pool: &PgPool, limit: u32) -> StoreResult<Vec<DeadLetter>> {
    sqlx::query("SELECT received_at, source, reason, detail, raw FROM dead_letters ORDER BY id DESC LIMIT $1")
        .bind(i64::from(limit))
        .fetch_all(pool)
        .await?
        .iter()
        .map(|row| {
            let reason: &str = row.try_get("reason")?;
            Ok(DeadLetter {
                received_at: time(row, "received_at")?,
                source: row.try_get("source")?,
                reason: RejectReason::parse(reason)
                    .ok_or_else(|| StoreError::Corrupt(format!("unknown dead-letter reason {reason:?}")))?,
                detail: row.try_get("detail")?,
                raw: row.try_get("raw")?,
            })
        })
        .collect()
}
