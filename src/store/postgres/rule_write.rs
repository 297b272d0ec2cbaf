//! PostgreSQL: one rules step in one transaction, set-based. Each set goes in as arrays
//! bound to one statement (`UNNEST`), so the statements per step are constant: lock and
//! read the keys' open incidents, update the changed ones, insert the new ones, append
//! the events, upsert and delete rule state.

use super::incidents::incident;
use crate::model::{Incident, IncidentEvent, Timestamp};
use crate::store::ReportRecord;
use crate::store::StoreResult;
use crate::store::postgres::to_pg;
use crate::store::rule_write::StepTx;
use chrono::{DateTime, Utc};

#[async_trait::async_trait]
impl StepTx for sqlx::Transaction<'static, sqlx::Postgres> {
    async fn lock_open(&mut self, keys: &[&str]) -> StoreResult<Vec<Incident>> {
        Ok(sqlx::query(concat!(
            "SELECT ",
            incident_columns!(),
            " FROM incidents WHERE dedup_key = ANY($1::text[]) AND ",
            not_final!(),
            " ORDER BY id FOR UPDATE"
        ))
        .bind(keys)
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
        let ids: Vec<uuid::Uuid> = rows.iter().map(|i| i.id.0).collect();
        let severity: Vec<&str> = rows.iter().map(|i| i.severity.as_str()).collect();
        let status: Vec<&str> = rows.iter().map(|i| i.status.as_str()).collect();
        let count: Vec<i64> = rows.iter().map(|i| i.count).collect();
        let peak: Vec<Option<f64>> = rows.iter().map(|i| i.peak).collect();
        let version: Vec<i64> = rows.iter().map(|i| i.version).collect();
        sqlx::query(
            "UPDATE incidents SET severity = u.severity, status = u.status, \
             last_seen = u.last_seen, count = u.count, peak = u.peak, cleared_at = u.cleared_at, \
             closed_at = u.closed_at, version = u.version \
             FROM UNNEST($1::uuid[], $2::text[], $3::text[], $4::timestamptz[], $5::bigint[], \
             $6::float8[], $7::timestamptz[], $8::timestamptz[], $9::bigint[]) \
             AS u(id, severity, status, last_seen, count, peak, cleared_at, closed_at, version) \
             WHERE incidents.id = u.id",
        )
        .bind(&ids)
        .bind(&severity)
        .bind(&status)
        .bind(times(rows.iter().map(|i| i.last_seen))?)
        .bind(&count)
        .bind(&peak)
        .bind(opt_times(rows.iter().map(|i| i.cleared_at))?)
        .bind(opt_times(rows.iter().map(|i| i.closed_at))?)
        .bind(&version)
        .execute(&mut **self)
        .await?;
        Ok(())
    }
    async fn insert(&mut self, rows: &[Incident]) -> StoreResult<()> {
        let col = |f: fn(&Incident) -> Option<&str>| -> Vec<Option<&str>> {
            rows.iter().map(f).collect()
        };
        let ids: Vec<uuid::Uuid> = rows.iter().map(|i| i.id.0).collect();
        let num =
            |f: fn(&Incident) -> Option<f64>| -> Vec<Option<f64>> { rows.iter().map(f).collect() };
        sqlx::query(concat!(
            "INSERT INTO incidents (",
            incident_columns!(),
            ") SELECT n.id, n.dedup_key, n.category, n.severity, n.status, n.title, n.source, \
             n.lon, n.lat, n.grid, n.street, n.district, n.opened_at, n.last_seen, n.count, \
             n.peak, NULL, NULL, n.version, n.rule, n.description, NULL, NULL, 0, NULL, NULL, NULL \
             FROM UNNEST($1::uuid[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], \
             $7::text[], $8::float8[], $9::float8[], $10::text[], $11::text[], $12::text[], \
             $13::timestamptz[], $14::timestamptz[], $15::bigint[], $16::float8[], $17::bigint[], \
             $18::text[], $19::text[]) WITH ORDINALITY \
             AS n(id, dedup_key, category, severity, status, title, source, lon, lat, grid, \
             street, district, opened_at, last_seen, count, peak, version, rule, description, ord) \
             ORDER BY n.ord"
        ))
        .bind(&ids)
        .bind(col(|i| Some(i.dedup_key.as_str())))
        .bind(col(|i| Some(i.category.as_str())))
        .bind(col(|i| Some(i.severity.as_str())))
        .bind(col(|i| Some(i.status.as_str())))
        .bind(col(|i| Some(i.title.as_str())))
        .bind(col(|i| i.source.as_deref()))
        .bind(num(|i| Some(i.location.lon)))
        .bind(num(|i| Some(i.location.lat)))
        .bind(col(|i| i.location.grid.as_deref()))
        .bind(col(|i| i.location.street.as_deref()))
        .bind(col(|i| i.location.district.as_deref()))
        .bind(times(rows.iter().map(|i| i.opened_at))?)
        .bind(times(rows.iter().map(|i| i.last_seen))?)
        .bind(rows.iter().map(|i| i.count).collect::<Vec<i64>>())
        .bind(num(|i| i.peak))
        .bind(rows.iter().map(|i| i.version).collect::<Vec<i64>>())
        .bind(col(|i| i.rule.as_deref()))
        .bind(col(|i| i.description.as_deref()))
        .execute(&mut **self)
        .await?;
        Ok(())
    }
    async fn append_events(&mut self, events: &[IncidentEvent]) -> StoreResult<()> {
        let col = |f: fn(&IncidentEvent) -> Option<&str>| -> Vec<Option<&str>> {
            events.iter().map(f).collect()
        };
        sqlx::query(
            "INSERT INTO incident_events (incident_id, at, actor, action, from_state, to_state, note) \
             SELECT e.incident_id, e.at, e.actor, e.action, e.from_state, e.to_state, e.note \
             FROM UNNEST($1::uuid[], $2::timestamptz[], $3::text[], $4::text[], $5::text[], \
             $6::text[], $7::text[]) WITH ORDINALITY \
             AS e(incident_id, at, actor, action, from_state, to_state, note, ord) ORDER BY e.ord",
        )
        .bind(
            events
                .iter()
                .map(|e| e.incident.0)
                .collect::<Vec<uuid::Uuid>>(),
        )
        .bind(times(events.iter().map(|e| e.at))?)
        .bind(col(|e| Some(e.actor.as_str())))
        .bind(col(|e| Some(e.action.as_str())))
        .bind(col(|e| e.from.as_deref()))
        .bind(col(|e| e.to.as_deref()))
        .bind(col(|e| e.note.as_deref()))
        .execute(&mut **self)
        .await?;
        Ok(())
    }
    async fn upsert_state(&mut self, states: &[(&str, &str)]) -> StoreResult<()> {
        let (keys, values): (Vec<&str>, Vec<&str>) = states.iter().copied().unzip();
        sqlx::query(
            "INSERT INTO rule_state (key, value, updated_at) \
             SELECT k, v, now() FROM UNNEST($1::text[], $2::text[]) AS t(k, v) \
             ON CONFLICT (key) DO UPDATE SET value = excluded.value, \
             updated_at = excluded.updated_at",
        )
        .bind(&keys)
        .bind(&values)
        .execute(&mut **self)
        .await?;
        Ok(())
    }
    async fn delete_state(&mut self, keys: &[&str]) -> StoreResult<()> {
        sqlx::query("DELETE FROM rule_state WHERE key = ANY($1::text[])")
            .bind(keys)
            .execute(&mut **self)
            .await?;
        Ok(())
    }
    async fn commit(self) -> StoreResult<()> {
        Ok(sqlx::Transaction::commit(self).await?)
    }
}

fn times(v: impl Iterator<Item = Timestamp>) -> StoreResult<Vec<DateTime<Utc>>> {
    v.map(to_pg).collect()
}

fn opt_times(
    v: impl Iterator<Item = Option<Timestamp>>,
) -> StoreResult<Vec<Option<DateTime<Utc>>>> {
    v.map(|t| t.map(to_pg).transpose()).collect()
}
