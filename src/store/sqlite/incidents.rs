//! SQLite incidents. Writes go through the single writer connection; the partial unique
//! index on `dedup_key` still decides, so the behaviour matches PostgreSQL. Every change
//! except evidence writes its `incident_events` row in the same transaction.

use super::BEGIN_WRITE;
use super::query::location;
use crate::model::*;
use crate::store::{IncidentFilter, NewIncident, StoreError, StoreResult};
use sqlx::sqlite::SqliteRow;
use sqlx::{QueryBuilder, Row, Sqlite, SqliteConnection, SqlitePool};

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

fn incident(row: &SqliteRow) -> StoreResult<Incident> {
    let id: &str = row.try_get("id")?;
    let severity: &str = row.try_get("severity")?;
    let status: &str = row.try_get("status")?;
    Ok(Incident {
        id: parse_id(id)?,
        dedup_key: row.try_get("dedup_key")?,
        category: row.try_get("category")?,
        severity: Severity::parse(severity)
            .ok_or_else(|| StoreError::Corrupt(format!("incident {id}: severity {severity:?}")))?,
        status: IncidentStatus::parse(status)
            .ok_or_else(|| StoreError::Corrupt(format!("incident {id}: status {status:?}")))?,
        title: row.try_get("title")?,
        source: row.try_get("source")?,
        location: location(row)?,
        opened_at: Timestamp(row.try_get("opened_at")?),
        last_seen: Timestamp(row.try_get("last_seen")?),
        count: row.try_get("count")?,
        peak: row.try_get("peak")?,
        cleared_at: row.try_get::<Option<i64>, _>("cleared_at")?.map(Timestamp),
        closed_at: row.try_get::<Option<i64>, _>("closed_at")?.map(Timestamp),
        version: row.try_get("version")?,
        rule: row.try_get("rule")?,
        description: row.try_get("description")?,
        handling: handling(row, id)?,
    })
}

fn handling(row: &SqliteRow, id: &str) -> StoreResult<Handling> {
    let time = |c: &str| -> StoreResult<Option<Timestamp>> {
        Ok(row.try_get::<Option<i64>, _>(c)?.map(Timestamp))
    };
    let suspended_from = row
        .try_get::<Option<&str>, _>("suspended_from")?
        .map(|s| {
            IncidentStatus::parse(s)
                .ok_or_else(|| StoreError::Corrupt(format!("incident {id}: suspended_from {s:?}")))
        })
        .transpose()?;
    Ok(Handling {
        department: row.try_get("department")?,
        due_at: time("due_at")?,
        supervision: row.try_get("supervision")?,
        merged_into: row
            .try_get::<Option<&str>, _>("merged_into")?
            .map(parse_id)
            .transpose()?,
        suspended_from,
        extension_requested: time("extension_requested")?,
    })
}

fn parse_id(id: &str) -> StoreResult<IncidentId> {
    uuid::Uuid::parse_str(id)
        .map(IncidentId)
        .map_err(|e| StoreError::Corrupt(format!("incident id {id:?}: {e}")))
}

pub(super) async fn open(pool: &SqlitePool, new: &NewIncident) -> StoreResult<(Incident, bool)> {
    for _ in 0..OPEN_ATTEMPTS {
        let mut tx = pool.begin_with(BEGIN_WRITE).await?;
        let id = IncidentId::new_v7();
        let l = &new.location;
        let inserted = sqlx::query(concat!(
            "INSERT INTO incidents (",
            columns!(),
            ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1, ?, NULL, NULL, 1, ?, ?, \
             NULL, NULL, 0, NULL, NULL, NULL) ON CONFLICT (dedup_key) WHERE ",
            not_final!(),
            " DO NOTHING RETURNING ",
            columns!()
        ))
        .bind(id.0.to_string())
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
        .bind(new.opened_at.micros())
        .bind(new.opened_at.micros())
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
        let existing = open_by_key(&mut tx, &new.dedup_key).await?;
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

/// The incident with this key that is not final, if any.
pub(super) async fn open_by_key(
    conn: &mut SqliteConnection,
    key: &str,
) -> StoreResult<Option<Incident>> {
    sqlx::query(concat!(
        "SELECT ",
        columns!(),
        " FROM incidents WHERE dedup_key = ? AND ",
        not_final!()
    ))
    .bind(key)
    .fetch_optional(conn)
    .await?
    .as_ref()
    .map(incident)
    .transpose()
}

/// Appends one row to the incident's event log, inside the caller's transaction.
async fn append_event(conn: &mut SqliteConnection, e: &IncidentEvent) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO incident_events \
         (incident_id, at, actor, action, from_state, to_state, note) \
         VALUES (?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(e.incident.0.to_string())
    .bind(e.at.micros())
    .bind(e.actor.as_str())
    .bind(e.action.as_str())
    .bind(e.from.as_deref())
    .bind(e.to.as_deref())
    .bind(e.note.as_deref())
    .execute(conn)
    .await?;
    Ok(())
}

pub(super) async fn events(pool: &SqlitePool, id: IncidentId) -> StoreResult<Vec<IncidentEvent>> {
    let rows = sqlx::query(
        "SELECT incident_id, at, actor, action, from_state, to_state, note \
         FROM incident_events WHERE incident_id = ? ORDER BY id",
    )
    .bind(id.0.to_string())
    .fetch_all(pool)
    .await?;
    rows.iter()
        .map(|row| {
            Ok(IncidentEvent {
                incident: parse_id(row.try_get("incident_id")?)?,
                at: Timestamp(row.try_get("at")?),
                actor: row.try_get("actor")?,
                action: row.try_get("action")?,
                from: row.try_get("from_state")?,
                to: row.try_get("to_state")?,
                note: row.try_get("note")?,
            })
        })
        .collect()
}

pub(super) async fn get(pool: &SqlitePool, id: IncidentId) -> StoreResult<Option<Incident>> {
    sqlx::query(concat!(
        "SELECT ",
        columns!(),
        " FROM incidents WHERE id = ?"
    ))
    .bind(id.0.to_string())
    .fetch_optional(pool)
    .await?
    .as_ref()
    .map(incident)
    .transpose()
}

pub(super) async fn list(pool: &SqlitePool, filter: &IncidentFilter) -> StoreResult<Vec<Incident>> {
    let mut qb = QueryBuilder::<Sqlite>::new(concat!(
        "SELECT ",
        columns!(),
        " FROM incidents WHERE 1 = 1"
    ));
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
