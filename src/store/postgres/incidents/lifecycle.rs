//! PostgreSQL incident transitions: clear, severity, refire and lifecycle moves. Each runs
//! in one transaction that row-locks the incident (`FOR UPDATE`), asks [`transitions`]
//! what changes, updates and appends the events, so concurrent changes of one incident
//! queue up, not interleave. A change that waited for the lock reads the row as the one
//! before it left it, so a lifecycle move decided on the old version gets a `Conflict`.

use super::{append_event, incident};
use crate::model::*;
use crate::store::postgres::to_pg;
use crate::store::{StoreError, StoreResult, transitions};
use sqlx::{PgConnection, PgPool};

/// The incident by id, row-locked inside the caller's transaction; `NotFound` if none.
async fn lock_by_id(conn: &mut PgConnection, id: IncidentId) -> StoreResult<Incident> {
    sqlx::query(concat!(
        "SELECT ",
        columns!(),
        " FROM incidents WHERE id = $1 FOR UPDATE"
    ))
    .bind(id.0)
    .fetch_optional(conn)
    .await?
    .as_ref()
    .map(incident)
    .transpose()?
    .ok_or_else(|| StoreError::NotFound(format!("incident {id}")))
}

pub(in crate::store::postgres) async fn transition(
    pool: &PgPool,
    id: IncidentId,
    expected_version: i64,
    t: &Transition,
) -> StoreResult<Incident> {
    let h = &t.handling;
    let opt_pg = |t: Option<Timestamp>| t.map(to_pg).transpose();
    let (due_at, extension_requested) = (opt_pg(h.due_at)?, opt_pg(h.extension_requested)?);
    let closed_at = opt_pg(t.closed_at)?;
    let mut tx = pool.begin().await?;
    let current = lock_by_id(&mut tx, id).await?;
    let events = match transitions::transition(&current, expected_version, t) {
        Ok(events) => events,
        Err(e) => {
            tx.rollback().await?;
            return Err(e);
        }
    };
    let row = sqlx::query(concat!(
        "UPDATE incidents SET status = $1, department = $2, due_at = $3, supervision = $4, \
         merged_into = $5, suspended_from = $6, extension_requested = $7, closed_at = $8, \
         version = version + 1 WHERE id = $9 RETURNING ",
        columns!()
    ))
    .bind(t.status.as_str())
    .bind(h.department.as_deref())
    .bind(due_at)
    .bind(h.supervision)
    .bind(h.merged_into.map(|m| m.0))
    .bind(h.suspended_from.map(IncidentStatus::as_str))
    .bind(extension_requested)
    .bind(closed_at)
    .bind(id.0)
    .fetch_one(&mut *tx)
    .await?;
    let moved = incident(&row)?;
    for event in &events {
        append_event(&mut tx, event).await?;
    }
    tx.commit().await?;
    Ok(moved)
}
