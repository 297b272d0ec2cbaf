//! SQLite: one rules step in one `BEGIN IMMEDIATE` transaction, set-based. Each set goes
//! in as one JSON array bound to one statement (`json_each`), so the statements per step
//! are constant: read the keys' open incidents, update the changed ones, insert the new
//! ones, append the events, upsert and delete rule state.

use super::incidents::incident;
use crate::model::{Incident, IncidentEvent};
use crate::store::ReportRecord;
use crate::store::StoreResult;
use crate::store::rule_write::StepTx;
use serde_json::json;

#[async_trait::async_trait]
impl StepTx for sqlx::Transaction<'static, sqlx::Sqlite> {
    async fn lock_open(&mut self, keys: &[&str]) -> StoreResult<Vec<Incident>> {
        Ok(sqlx::query(concat!(
            "SELECT ",
            incident_columns!(),
            " FROM incidents WHERE dedup_key IN (SELECT value FROM json_each(?)) AND ",
            not_final!()
        ))
        .bind(json!(keys).to_string())
        .fetch_all(&mut **self)
        .await?
        .iter()
        .map(incident)
        .collect::<StoreResult<Vec<_>>>()?)
    }
    async fn record_report(&mut self, report: &ReportRecord) -> StoreResult<()> {
        super::reports::record_report(self, report).await
    }
    async fn update(&mut self, rows: &[Incident]) -> StoreResult<()> {
        let set: Vec<_> = rows
            .iter()
            .map(|i| {
                json!([
                    i.id.0.to_string(),
                    i.severity.as_str(),
                    i.status.as_str(),
                    i.last_seen.micros(),
                    i.count,
                    i.peak,
                    i.cleared_at.map(|t| t.micros()),
                    i.closed_at.map(|t| t.micros()),
                    i.version,
                ])
            })
            .collect();
        sqlx::query(
            "UPDATE incidents SET severity = u.value->>1, status = u.value->>2, \
             last_seen = u.value->>3, count = u.value->>4, peak = u.value->>5, \
             cleared_at = u.value->>6, closed_at = u.value->>7, version = u.value->>8 \
             FROM json_each(?) AS u WHERE incidents.id = u.value->>0",
        )
        .bind(serde_json::Value::Array(set).to_string())
        .execute(&mut **self)
        .await?;
        Ok(())
    }
    async fn insert(&mut self, rows: &[Incident]) -> StoreResult<()> {
        let set: Vec<_> = rows
            .iter()
            .map(|i| {
                let l = &i.location;
                json!([
                    i.id.0.to_string(),
                    i.dedup_key,
                    i.category,
                    i.severity.as_str(),
                    i.status.as_str(),
                    i.title,
                    i.source,
                    l.lon,
                    l.lat,
                    l.grid,
                    l.street,
                    l.district,
                    i.opened_at.micros(),
                    i.last_seen.micros(),
                    i.count,
                    i.peak,
                    i.version,
                    i.rule,
                    i.description,
                ])
            })
            .collect();
        sqlx::query(concat!(
            "INSERT INTO incidents (",
            incident_columns!(),
            ") SELECT n.value->>0, n.value->>1, n.value->>2, n.value->>3, n.value->>4, \
             n.value->>5, n.value->>6, n.value->>7, n.value->>8, n.value->>9, n.value->>10, \
             n.value->>11, n.value->>12, n.value->>13, n.value->>14, n.value->>15, NULL, NULL, \
             n.value->>16, n.value->>17, n.value->>18, NULL, NULL, 0, NULL, NULL, NULL \
             FROM json_each(?) AS n ORDER BY n.key"
        ))
        .bind(serde_json::Value::Array(set).to_string())
        .execute(&mut **self)
        .await?;
        Ok(())
    }
    async fn append_events(&mut self, events: &[IncidentEvent]) -> StoreResult<()> {
        let set: Vec<_> = events
            .iter()
            .map(|e| {
                json!([
                    e.incident.0.to_string(),
                    e.at.micros(),
                    e.actor,
                    e.action,
                    e.from,
                    e.to,
                    e.note
                ])
            })
            .collect();
        sqlx::query(
            "INSERT INTO incident_events (incident_id, at, actor, action, from_state, to_state, note) \
             SELECT e.value->>0, e.value->>1, e.value->>2, e.value->>3, e.value->>4, e.value->>5, \
             e.value->>6 FROM json_each(?) AS e ORDER BY e.key",
        )
        .bind(serde_json::Value::Array(set).to_string())
        .execute(&mut **self)
        .await?;
        Ok(())
    }
    async fn upsert_state(&mut self, states: &[(&str, &str)]) -> StoreResult<()> {
        // updated_at is wall-clock µs, for operators; the engine's own times are in value.
        sqlx::query(
            "INSERT INTO rule_state (key, value, updated_at) \
             SELECT s.value->>0, s.value->>1, \
             CAST((julianday('now') - 2440587.5) * 86400000000.0 AS INTEGER) \
             FROM json_each(?) AS s WHERE true \
             ON CONFLICT (key) DO UPDATE SET value = excluded.value, \
             updated_at = excluded.updated_at",
        )
        .bind(json!(states).to_string())
        .execute(&mut **self)
        .await?;
        Ok(())
    }
    async fn delete_state(&mut self, keys: &[&str]) -> StoreResult<()> {
        sqlx::query("DELETE FROM rule_state WHERE key IN (SELECT value FROM json_each(?))")
            .bind(json!(keys).to_string())
            .execute(&mut **self)
            .await?;
        Ok(())
    }
    async fn commit(self) -> StoreResult<()> {
        Ok(sqlx::Transaction::commit(self).await?)
    }
}
