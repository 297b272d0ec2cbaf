// Incidents and their event logs, the same SQL for both backends (included by each; see
// `store/mod.rs`). Opening relies on the partial unique index on `dedup_key`: under
// concurrent opens the losers' inserts wait for the winner's commit (PostgreSQL) or the
// write lock (SQLite) and then do nothing. Every change except evidence writes its
// `incident_events` row in the same transaction. A lifecycle move row-locks the incident
// first (`FOR UPDATE` on PostgreSQL; SQLite's `BEGIN IMMEDIATE` holds the write lock from
// the read on), so a move decided on an old version gets a `Conflict`, and concurrent
// changes of one incident queue up rather than interleave.

use super::{Conn, Db, DbRow, This};
use crate::model::*;
use crate::store::{
    IncidentFilter, IncidentStore, NewIncident, RuleOutcome, RuleWrite, StoreError, StoreResult,
    transitions,
};
use async_trait::async_trait;
use sqlx::{QueryBuilder, Row};

/// An open can lose to a close between its insert and its select; it then simply tries
/// again. Two losses in a row would need a close and a reopen to interleave twice.
const OPEN_ATTEMPTS: usize = 3;

pub(super) fn location(row: &DbRow) -> StoreResult<Location> {
    Ok(Location {
        lon: row.try_get("lon")?,
        lat: row.try_get("lat")?,
        grid: row.try_get("grid")?,
        street: row.try_get("street")?,
        district: row.try_get("district")?,
    })
}

/// An incident from a row of `incident_columns!()`.
pub(super) fn incident(row: &DbRow) -> StoreResult<Incident> {
    let id: IncidentId = row.try_get("id")?;
    let severity: &str = row.try_get("severity")?;
    let status: &str = row.try_get("status")?;
    let suspended_from = row
        .try_get::<Option<&str>, _>("suspended_from")?
        .map(|s| {
            IncidentStatus::parse(s)
                .ok_or_else(|| StoreError::Corrupt(format!("incident {id}: suspended_from {s:?}")))
        })
        .transpose()?;
    Ok(Incident {
        id,
        dedup_key: row.try_get("dedup_key")?,
        category: row.try_get("category")?,
        severity: Severity::parse(severity)
            .ok_or_else(|| StoreError::Corrupt(format!("incident {id}: severity {severity:?}")))?,
        status: IncidentStatus::parse(status)
            .ok_or_else(|| StoreError::Corrupt(format!("incident {id}: status {status:?}")))?,
        title: row.try_get("title")?,
        source: row.try_get("source")?,
        location: location(row)?,
        opened_at: row.try_get("opened_at")?,
        last_seen: row.try_get("last_seen")?,
        count: row.try_get("count")?,
        peak: row.try_get("peak")?,
        cleared_at: row.try_get("cleared_at")?,
        closed_at: row.try_get("closed_at")?,
        version: row.try_get("version")?,
        rule: row.try_get("rule")?,
        description: row.try_get("description")?,
        handling: Handling {
            department: row.try_get("department")?,
            due_at: row.try_get("due_at")?,
            supervision: row.try_get("supervision")?,
            merged_into: row.try_get("merged_into")?,
            suspended_from,
            extension_requested: row.try_get("extension_requested")?,
        },
    })
}

/// The incident with this key that is not final, if any; with `lock`, row-locked until
/// the caller's transaction ends (on SQLite the caller's write lock already covers it).
pub(super) async fn open_by_key(
    conn: &mut Conn,
    key: &str,
    lock: bool,
) -> StoreResult<Option<Incident>> {
    const LOCKED: &str = concat!(
        "SELECT ",
        incident_columns!(),
        " FROM incidents WHERE dedup_key = $1 AND ",
        not_final!(),
        for_update!()
    );
    const UNLOCKED: &str = concat!(
        "SELECT ",
        incident_columns!(),
        " FROM incidents WHERE dedup_key = $1 AND ",
        not_final!()
    );
    let sql = if lock { LOCKED } else { UNLOCKED };
    sqlx::query(sql)
        .bind(key)
        .fetch_optional(conn)
        .await?
        .as_ref()
        .map(incident)
        .transpose()
}

/// Appends one row to the incident's event log, inside the caller's transaction.
pub(super) async fn append_event(conn: &mut Conn, e: &IncidentEvent) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO incident_events \
         (incident_id, at, actor, action, from_state, to_state, note) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(e.incident)
    .bind(e.at)
    .bind(e.actor.as_str())
    .bind(e.action.as_str())
    .bind(e.from.as_deref())
    .bind(e.to.as_deref())
    .bind(e.note.as_deref())
    .execute(conn)
    .await?;
    Ok(())
}

/// The incident by id, row-locked inside the caller's transaction; `NotFound` if none.
async fn lock_by_id(conn: &mut Conn, id: IncidentId) -> StoreResult<Incident> {
    sqlx::query(concat!(
        "SELECT ",
        incident_columns!(),
        " FROM incidents WHERE id = $1",
        for_update!()
    ))
    .bind(id)
    .fetch_optional(conn)
    .await?
    .as_ref()
    .map(incident)
    .transpose()?
    .ok_or_else(|| StoreError::NotFound(format!("incident {id}")))
}

#[async_trait]
impl IncidentStore for This {
    async fn open_incident(&self, new: &NewIncident) -> StoreResult<(Incident, bool)> {
        for _ in 0..OPEN_ATTEMPTS {
            let mut tx = self.begin_write().await?;
            let l = &new.location;
            let inserted = sqlx::query(concat!(
                "INSERT INTO incidents (",
                incident_columns!(),
                ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $13, 1, $14, \
                 NULL, NULL, 1, $15, $16, NULL, NULL, 0, NULL, NULL, NULL) \
                 ON CONFLICT (dedup_key) WHERE ",
                not_final!(),
                " DO NOTHING RETURNING ",
                incident_columns!()
            ))
            .bind(IncidentId::new_v7())
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
            .bind(new.opened_at)
            .bind(new.peak)
            .bind(new.rule.as_deref())
            .bind(new.description.as_deref())
            .fetch_optional(&mut *tx)
            .await?;
            if let Some(row) = inserted {
                let created = incident(&row)?;
                let opened = transitions::opened(created.id, new);
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

    async fn write_rules(&self, step: &RuleWrite) -> StoreResult<RuleOutcome> {
        if step.is_empty() {
            return Ok(RuleOutcome::default());
        }
        // The backend's `rule_write.rs` says how each set is written (`StepTx`).
        crate::store::rule_write::write(self.begin_write().await?, step).await
    }

    async fn open_incident_by_key(&self, key: &str) -> StoreResult<Option<Incident>> {
        let mut conn = self.reader().acquire().await?;
        open_by_key(&mut conn, key, false).await
    }

    async fn transition(
        &self,
        id: IncidentId,
        expected_version: i64,
        t: &Transition,
    ) -> StoreResult<Incident> {
        let mut tx = self.begin_write().await?;
        let current = lock_by_id(&mut tx, id).await?;
        let events = match transitions::transition(&current, expected_version, t) {
            Ok(events) => events,
            Err(e) => {
                tx.rollback().await?;
                return Err(e);
            }
        };
        let h = &t.handling;
        let row = sqlx::query(concat!(
            "UPDATE incidents SET status = $1, department = $2, due_at = $3, supervision = $4, \
             merged_into = $5, suspended_from = $6, extension_requested = $7, closed_at = $8, \
             version = version + 1 WHERE id = $9 RETURNING ",
            incident_columns!()
        ))
        .bind(t.status.as_str())
        .bind(h.department.as_deref())
        .bind(h.due_at)
        .bind(h.supervision)
        .bind(h.merged_into)
        .bind(h.suspended_from.map(IncidentStatus::as_str))
        .bind(h.extension_requested)
        .bind(t.closed_at)
        .bind(id)
        .fetch_one(&mut *tx)
        .await?;
        let moved = incident(&row)?;
        for event in &events {
            append_event(&mut tx, event).await?;
        }
        tx.commit().await?;
        Ok(moved)
    }

    async fn incident_events(&self, id: IncidentId) -> StoreResult<Vec<IncidentEvent>> {
        let rows = sqlx::query(
            "SELECT incident_id, at, actor, action, from_state, to_state, note \
             FROM incident_events WHERE incident_id = $1 ORDER BY id",
        )
        .bind(id)
        .fetch_all(self.reader())
        .await?;
        rows.iter()
            .map(|row| {
                Ok(IncidentEvent {
                    incident: row.try_get("incident_id")?,
                    at: row.try_get("at")?,
                    actor: row.try_get("actor")?,
                    action: row.try_get("action")?,
                    from: row.try_get("from_state")?,
                    to: row.try_get("to_state")?,
                    note: row.try_get("note")?,
                })
            })
            .collect()
    }

    async fn incident(&self, id: IncidentId) -> StoreResult<Option<Incident>> {
        sqlx::query(concat!(
            "SELECT ",
            incident_columns!(),
            " FROM incidents WHERE id = $1"
        ))
        .bind(id)
        .fetch_optional(self.reader())
        .await?
        .as_ref()
        .map(incident)
        .transpose()
    }

    async fn incidents(&self, filter: &IncidentFilter) -> StoreResult<Vec<Incident>> {
        let mut qb = QueryBuilder::<Db>::new(concat!(
            "SELECT ",
            incident_columns!(),
            " FROM incidents WHERE true"
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
            .fetch_all(self.reader())
            .await?
            .iter()
            .map(incident)
            .collect()
    }
}

#[async_trait]
impl crate::store::RuleStateStore for This {
    async fn rule_state(&self) -> StoreResult<Vec<(String, String)>> {
        sqlx::query("SELECT key, value FROM rule_state ORDER BY key")
            .fetch_all(self.reader())
            .await?
            .iter()
            .map(|row| Ok((row.try_get("key")?, row.try_get("value")?)))
            .collect()
    }
}
