//! SQLite incident transitions: clear, severity, refire and lifecycle moves. Each runs in
//! one `BEGIN IMMEDIATE` transaction: read the incident, ask [`transitions`] what changes,
//! update, append events. The write lock is held from the read on, so a version read here
//! is still the version when the update lands.

use super::{BEGIN_WRITE, append_event, incident, open_by_key};
use crate::model::*;
use crate::store::{StoreError, StoreResult, transitions};
use sqlx::{SqliteConnection, SqlitePool};

/// The incident by id, inside the caller's transaction; `NotFound` if there is none.
async fn by_id(conn: &mut SqliteConnection, id: IncidentId) -> StoreResult<Incident> {
    sqlx::query(concat!(
        "SELECT ",
        columns!(),
        " FROM incidents WHERE id = ?"
    ))
    .bind(id.0.to_string())
    .fetch_optional(conn)
    .await?
    .as_ref()
    .map(incident)
    .transpose()?
    .ok_or_else(|| StoreError::NotFound(format!("incident {id}")))
}

pub(in crate::store::sqlite) async fn clear(
    pool: &SqlitePool,
    dedup_key: &str,
    at: Timestamp,
    close: bool,
) -> StoreResult<Option<Incident>> {
    let mut tx = pool.begin_with(BEGIN_WRITE).await?;
    let Some(current) = open_by_key(&mut tx, dedup_key).await? else {
        tx.rollback().await?;
        return Ok(None);
    };
    let events = transitions::clear(&current, at, close);
    if events.is_empty() {
        tx.rollback().await?;
        return Ok(Some(current));
    }
    let row = sqlx::query(concat!(
        "UPDATE incidents SET cleared_at = COALESCE(cleared_at, ?1), \
         status = CASE WHEN ?2 THEN 'closed' ELSE status END, \
         closed_at = CASE WHEN ?2 THEN ?1 ELSE closed_at END, \
         version = version + 1 WHERE id = ?3 RETURNING ",
        columns!()
    ))
    .bind(at.micros())
    .bind(close)
    .bind(current.id.0.to_string())
    .fetch_one(&mut *tx)
    .await?;
    let cleared = incident(&row)?;
    for e in &events {
        append_event(&mut tx, e).await?;
    }
    tx.commit().await?;
    Ok(Some(cleared))
}

pub(in crate::store::sqlite) async fn set_severity(
    pool: &SqlitePool,
    id: IncidentId,
    severity: Severity,
    at: Timestamp,
    actor: &str,
    note: &str,
) -> StoreResult<Incident> {
    let mut tx = pool.begin_with(BEGIN_WRITE).await?;
    let current = by_id(&mut tx, id).await?;
    let Some(event) = transitions::set_severity(&current, severity, at, actor, note)? else {
        tx.rollback().await?;
        return Ok(current);
    };
    let row = sqlx::query(concat!(
        "UPDATE incidents SET severity = ?, version = version + 1 WHERE id = ? RETURNING ",
        columns!()
    ))
    .bind(severity.as_str())
    .bind(id.0.to_string())
    .fetch_one(&mut *tx)
    .await?;
    let changed = incident(&row)?;
    append_event(&mut tx, &event).await?;
    tx.commit().await?;
    Ok(changed)
}

pub(in crate::store::sqlite) async fn refire(
    pool: &SqlitePool,
    id: IncidentId,
    at: Timestamp,
    actor: &str,
) -> StoreResult<Incident> {
    let mut tx = pool.begin_with(BEGIN_WRITE).await?;
    let current = by_id(&mut tx, id).await?;
    let Some(event) = transitions::refire(&current, at, actor)? else {
        tx.rollback().await?;
        return Ok(current);
    };
    let row = sqlx::query(concat!(
        "UPDATE incidents SET cleared_at = NULL, version = version + 1 WHERE id = ? RETURNING ",
        columns!()
    ))
    .bind(id.0.to_string())
    .fetch_one(&mut *tx)
    .await?;
    let refired = incident(&row)?;
    append_event(&mut tx, &event).await?;
    tx.commit().await?;
    Ok(refired)
}

pub(in crate::store::sqlite) async fn transition(
    pool: &SqlitePool,
    id: IncidentId,
    expected_version: i64,
    t: &Transition,
) -> StoreResult<Incident> {
    let mut tx = pool.begin_with(BEGIN_WRITE).await?;
    let current = by_id(&mut tx, id).await?;
    let events = match transitions::transition(&current, expected_version, t) {
        Ok(events) => events,
        Err(e) => {
            tx.rollback().await?;
            return Err(e);
        }
    };
    let h = &t.handling;
    let row = sqlx::query(concat!(
        "UPDATE incidents SET status = ?, department = ?, due_at = ?, supervision = ?, \
         merged_into = ?, suspended_from = ?, extension_requested = ?, closed_at = ?, \
         version = version + 1 WHERE id = ? RETURNING ",
        columns!()
    ))
    .bind(t.status.as_str())
    .bind(h.department.as_deref())
    .bind(h.due_at.map(Timestamp::micros))
    .bind(h.supervision)
    .bind(h.merged_into.map(|m| m.0.to_string()))
    .bind(h.suspended_from.map(IncidentStatus::as_str))
    .bind(h.extension_requested.map(Timestamp::micros))
    .bind(t.closed_at.map(Timestamp::micros))
    .bind(id.0.to_string())
    .fetch_one(&mut *tx)
    .await?;
    let moved = incident(&row)?;
    for event in &events {
        append_event(&mut tx, event).await?;
    }
    tx.commit().await?;
    Ok(moved)
}
