//! SQLite incident transitions: clear, severity, refire and lifecycle moves. Each runs in
//! one `BEGIN IMMEDIATE` transaction: read the incident, ask [`transitions`] what changes,
//! update, append events. The write lock is held from the read on, so a version read here
//! is still the version when the update lands.

use super::{BEGIN_WRITE, append_event, incident};
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
