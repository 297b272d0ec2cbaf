//! PostgreSQL incidents. `open` relies on the partial unique index on `dedup_key`: under
//! concurrent opens the losers' inserts wait for the winner's commit and then do nothing.

use super::query::{location, time};
use super::to_pg;
use crate::model::*;
use crate::store::{IncidentFilter, NewIncident, StoreError, StoreResult};
use chrono::{DateTime, Utc};
use sqlx::postgres::PgRow;
use sqlx::{PgPool, Postgres, QueryBuilder, Row};

/// The incident columns, as a macro so queries stay `&'static str` (cached statements).
macro_rules! columns {
    () => {
        "id, dedup_key, category, severity, status, title, source, lon, lat, grid, street, \
         district, opened_at, last_seen, count, peak, cleared_at, closed_at, version"
    };
}

/// An open can lose to a close between its insert and its select; it then simply tries
/// again. Two losses in a row would need a close and a reopen to interleave twice.
const OPEN_ATTEMPTS: usize = 3;

fn incident(row: &PgRow) -> StoreResult<Incident> {
    let id: uuid::Uuid = row.try_get("id")?;
    let severity: &str = row.try_get("severity")?;
    let status: &str = row.try_get("status")?;
    let opt_time = |c: &str| -> StoreResult<Option<Timestamp>> {
        Ok(row
            .try_get::<Option<DateTime<Utc>>, _>(c)?
            .map(Timestamp::from_chrono))
    };
    Ok(Incident {
        id: IncidentId(id),
        dedup_key: row.try_get("dedup_key")?,
        category: row.try_get("category")?,
        severity: Severity::parse(severity)
            .ok_or_else(|| StoreError::Corrupt(format!("incident {id}: severity {severity:?}")))?,
        status: IncidentStatus::parse(status)
            .ok_or_else(|| StoreError::Corrupt(format!("incident {id}: status {status:?}")))?,
        title: row.try_get("title")?,
        source: row.try_get("source")?,
        location: location(row)?,
        opened_at: time(row, "opened_at")?,
        last_seen: time(row, "last_seen")?,
        count: row.try_get("count")?,
        peak: row.try_get("peak")?,
        cleared_at: opt_time("cleared_at")?,
        closed_at: opt_time("closed_at")?,
        version: row.try_get("version")?,
    })
}

pub(super) async fn open(pool: &PgPool, new: &NewIncident) -> StoreResult<(Incident, bool)> {
    let opened_at = to_pg(new.opened_at)?;
    for _ in 0..OPEN_ATTEMPTS {
        let l = &new.location;
        let inserted = sqlx::query(concat!(
            "INSERT INTO incidents (",
            columns!(),
            ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $13, 1, $14, \
             NULL, NULL, 1) \
             ON CONFLICT (dedup_key) WHERE status <> 'closed' DO NOTHING RETURNING ",
            columns!()
        ))
        .bind(IncidentId::new_v7().0)
        .bind(new.dedup_key.as_str())
        .bind(new.category.as_str())
        .bind(new.severity.as_str())
        .bind(IncidentStatus::Discovered.as_str())
        .bind(new.title.as_str())
        .bind(new.source.as_deref())
        .bind(l.lon)
        .bind(l.lat)
        .bind(l.grid.as_deref())
        .bind(l.street.as_deref())
        .bind(l.district.as_deref())
        .bind(opened_at)
        .bind(new.peak)
        .fetch_optional(pool)
        .await?;
        if let Some(row) = inserted {
            return Ok((incident(&row)?, true));
        }
        let existing = sqlx::query(concat!(
            "SELECT ",
            columns!(),
            " FROM incidents WHERE dedup_key = $1 AND status <> 'closed'"
        ))
        .bind(new.dedup_key.as_str())
        .fetch_optional(pool)
        .await?;
        if let Some(row) = existing {
            return Ok((incident(&row)?, false));
        }
    }
    Err(StoreError::Unavailable(format!(
        "incident {:?} kept being closed while opening it",
        new.dedup_key
    )))
}

pub(super) async fn touch(
    pool: &PgPool,
    id: IncidentId,
    seen: Timestamp,
    evidence: i64,
    peak: Option<f64>,
) -> StoreResult<Incident> {
    // GREATEST ignores NULLs, so a missing peak on either side loses to a present one.
    let row = sqlx::query(concat!(
        "UPDATE incidents SET count = count + $1, last_seen = GREATEST(last_seen, $2), \
         peak = GREATEST(peak, $3), version = version + 1 WHERE id = $4 RETURNING ",
        columns!()
    ))
    .bind(evidence)
    .bind(to_pg(seen)?)
    .bind(peak)
    .bind(id.0)
    .fetch_optional(pool)
    .await?;
    match row {
        Some(row) => incident(&row),
        None => Err(StoreError::NotFound(format!("incident {id}"))),
    }
}

pub(super) async fn clear(
    pool: &PgPool,
    dedup_key: &str,
    at: Timestamp,
) -> StoreResult<Option<Incident>> {
    sqlx::query(concat!(
        "UPDATE incidents SET status = 'closed', cleared_at = $1, closed_at = $1, \
         version = version + 1 WHERE dedup_key = $2 AND status <> 'closed' RETURNING ",
        columns!()
    ))
    .bind(to_pg(at)?)
    .bind(dedup_key)
    .fetch_optional(pool)
    .await?
    .as_ref()
    .map(incident)
    .transpose()
}

pub(super) async fn get(pool: &PgPool, id: IncidentId) -> StoreResult<Option<Incident>> {
    sqlx::query(concat!(
        "SELECT ",
        columns!(),
        " FROM incidents WHERE id = $1"
    ))
    .bind(id.0)
    .fetch_optional(pool)
    .await?
    .as_ref()
    .map(incident)
    .transpose()
}

pub(super) async fn list(pool: &PgPool, filter: &IncidentFilter) -> StoreResult<Vec<Incident>> {
    let mut qb =
        QueryBuilder::<Postgres>::new(concat!("SELECT ", columns!(), " FROM incidents WHERE true"));
    if filter.open_only {
        qb.push(" AND status <> 'closed'");
    }
    if let Some(district) = &filter.district {
        qb.push(" AND district = ").push_bind(district.as_str());
    }
    qb.push(" ORDER BY opened_at DESC, id DESC");
    if filter.limit > 0 {
        qb.push(" LIMIT ").push_bind(i64::from(filter.limit));
    }
    qb.build()
        .fetch_all(pool)
        .await?
        .iter()
        .map(incident)
        .collect()
}
