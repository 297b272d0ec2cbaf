//! PostgreSQL incidents. `open` relies on the partial unique index on `dedup_key`: under
//! concurrent opens the losers' inserts wait for the winner's commit and then do nothing.
//! Every change except evidence writes its `incident_events` row in the same transaction.

use super::query::{location, time};
use super::to_pg;
use crate::model::*;
use crate::store::{IncidentFilter, NewIncident, StoreError, StoreResult};
use chrono::{DateTime, Utc};
use sqlx::postgres::PgRow;
use sqlx::{PgConnection, PgPool, Postgres, QueryBuilder, Row};

/// The incident columns, as a macro so queries stay `&'static str` (cached statements).
macro_rules! columns {
    () => {
        "id, dedup_key, category, severity, status, title, source, lon, lat, grid, street, \
         district, opened_at, last_seen, count, peak, cleared_at, closed_at, version, rule, \
         description, department, due_at, supervision, merged_into, suspended_from, \
         extension_requested"
    };
}

// After `columns!`, which it uses.
mod lifecycle;
mod rule_write;
pub(super) use lifecycle::transition;
pub(super) use rule_write::write as write_rules;

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
        rule: row.try_get("rule")?,
        description: row.try_get("description")?,
        handling: Handling {
            department: row.try_get("department")?,
            due_at: opt_time("due_at")?,
            supervision: row.try_get("supervision")?,
            merged_into: row
                .try_get::<Option<uuid::Uuid>, _>("merged_into")?
                .map(IncidentId),
            suspended_from: row
                .try_get::<Option<&str>, _>("suspended_from")?
                .map(|s| {
                    IncidentStatus::parse(s).ok_or_else(|| {
                        StoreError::Corrupt(format!("incident {id}: suspended_from {s:?}"))
                    })
                })
                .transpose()?,
            extension_requested: opt_time("extension_requested")?,
        },
    })
}

pub(super) async fn open(pool: &PgPool, new: &NewIncident) -> StoreResult<(Incident, bool)> {
    let opened_at = to_pg(new.opened_at)?;
    for _ in 0..OPEN_ATTEMPTS {
        let mut tx = pool.begin().await?;
        let l = &new.location;
        let inserted = sqlx::query(concat!(
            "INSERT INTO incidents (",
            columns!(),
            ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $13, 1, $14, \
             NULL, NULL, 1, $15, $16, NULL, NULL, 0, NULL, NULL, NULL) \
             ON CONFLICT (dedup_key) WHERE ",
            not_final!(),
            " DO NOTHING RETURNING ",
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
        .bind(new.rule.as_deref())
        .bind(new.description.as_deref())
        .fetch_optional(&mut *tx)
        .await?;
        if let Some(row) = inserted {
            let created = incident(&row)?;
            let opened = crate::store::transitions::opened(created.id, new);
            append_event(&mut tx, &opened).await?;
            tx.commit().await?;
            return Ok((created, true));
        }
        // The insert waited for the winner's commit, so this statement sees its row.
        let existing = open_by_key(&mut tx, &new.dedup_key, false).await?;
        tx.rollback().await?;
        if let Some(existing) = existing {
            return Ok((existing, false));
        }
    }
    Err(StoreError::Unavailable(format!(
        "incident {:?} kept being closed while opening it",
        new.dedup_key
    )))
}

/// The incident with this key that is not final, if any; with `lock`, row-locked until
/// the caller's transaction ends.
pub(super) async fn open_by_key(
    conn: &mut PgConnection,
    key: &str,
    lock: bool,
) -> StoreResult<Option<Incident>> {
    let sql = if lock {
        concat!(
            "SELECT ",
            columns!(),
            " FROM incidents WHERE dedup_key = $1 AND ",
            not_final!(),
            " FOR UPDATE"
        )
    } else {
        concat!(
            "SELECT ",
            columns!(),
            " FROM incidents WHERE dedup_key = $1 AND ",
            not_final!()
        )
    };
    sqlx::query(sql)
        .bind(key)
        .fetch_optional(conn)
        .await?
        .as_ref()
        .map(incident)
        .transpose()
}

/// Appends one row to the incident's event log, inside the caller's transaction.
async fn append_event(conn: &mut PgConnection, e: &IncidentEvent) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO incident_events \
         (incident_id, at, actor, action, from_state, to_state, note) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(e.incident.0)
    .bind(to_pg(e.at)?)
    .bind(e.actor.as_str())
    .bind(e.action.as_str())
    .bind(e.from.as_deref())
    .bind(e.to.as_deref())
    .bind(e.note.as_deref())
    .execute(conn)
    .await?;
    Ok(())
}

pub(super) async fn events(pool: &PgPool, id: IncidentId) -> StoreResult<Vec<IncidentEvent>> {
    let rows = sqlx::query(
        "SELECT incident_id, at, actor, action, from_state, to_state, note \
         FROM incident_events WHERE incident_id = $1 ORDER BY id",
    )
    .bind(id.0)
    .fetch_all(pool)
    .await?;
    rows.iter()
        .map(|row| {
            Ok(IncidentEvent {
                incident: IncidentId(row.try_get("incident_id")?),
                at: time(row, "at")?,
                actor: row.try_get("actor")?,
                action: row.try_get("action")?,
                from: row.try_get("from_state")?,
                to: row.try_get("to_state")?,
                note: row.try_get("note")?,
            })
        })
        .collect()
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
        qb.push(concat!(" AND ", not_final!()));
    }
    if let Some(district) = &filter.district {
        qb.push(" AND district = ").push_bind(district.as_str());
    }
    if let Some(department) = &filter.department {
        qb.push(" AND department = ").push_bind(department.as_str());
    }
    if let Some(status) = filter.status {
        qb.push(" AND status = ").push_bind(status.as_str());
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
