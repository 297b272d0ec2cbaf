// The vital signs' history and the incident tallies, the same SQL for both backends
// (included by each; see `store/mod.rs`).

use super::{Db, This};
use crate::model::{Severity, Timestamp};
use crate::store::{IncidentTally, IndicatorSample, IndicatorStore, StoreError, StoreResult};
use async_trait::async_trait;
use sqlx::{QueryBuilder, Row};

/// Rows per insert statement: five parameters each, well under both backends' limits.
const SAMPLE_CHUNK: usize = 1_000;

#[async_trait]
impl IndicatorStore for This {
    async fn save_indicator_samples(&self, samples: &[IndicatorSample]) -> StoreResult<()> {
        if samples.is_empty() {
            return Ok(());
        }
        let mut tx = self.writer().begin().await?;
        for chunk in samples.chunks(SAMPLE_CHUNK) {
            let mut qb = QueryBuilder::<Db>::new(
                "INSERT INTO indicator_values (indicator, scope, minute, value, level) ",
            );
            qb.push_values(chunk, |mut b, s| {
                b.push_bind(&s.indicator)
                    .push_bind(&s.scope)
                    .push_bind(s.minute)
                    .push_bind(s.value)
                    .push_bind(&s.level);
            });
            qb.push(
                " ON CONFLICT (indicator, scope, minute) DO UPDATE SET value = excluded.value, \
                 level = excluded.level",
            );
            qb.build().execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn indicator_samples(
        &self,
        indicator: &str,
        scope: &str,
        from: Timestamp,
        to: Timestamp,
        limit: u32,
    ) -> StoreResult<Vec<IndicatorSample>> {
        let rows = sqlx::query(
            "SELECT minute, value, level FROM indicator_values \
             WHERE indicator = $1 AND scope = $2 AND minute >= $3 AND minute < $4 \
             ORDER BY minute LIMIT $5",
        )
        .bind(indicator)
        .bind(scope)
        .bind(from)
        .bind(to)
        .bind(i64::from(limit))
        .fetch_all(self.reader())
        .await?;
        rows.iter()
            .map(|r| {
                Ok(IndicatorSample {
                    indicator: indicator.to_owned(),
                    scope: scope.to_owned(),
                    minute: r.try_get("minute")?,
                    value: r.try_get("value")?,
                    level: r.try_get("level")?,
                })
            })
            .collect()
    }

    async fn prune_indicator_samples(&self, before: Timestamp) -> StoreResult<u64> {
        let done = sqlx::query("DELETE FROM indicator_values WHERE minute < $1")
            .bind(before)
            .execute(self.writer())
            .await?;
        Ok(done.rows_affected())
    }

    async fn incident_tallies(
        &self,
        day_start: Timestamp,
        now: Timestamp,
    ) -> StoreResult<Vec<IncidentTally>> {
        let rows = sqlx::query(concat!(
            "SELECT district, street, category, severity, \
               SUM(CASE WHEN ",
            not_final!(),
            " THEN 1 ELSE 0 END) AS open, \
               SUM(CASE WHEN ",
            not_final!(),
            " AND due_at < $2 THEN 1 ELSE 0 END) AS overdue, \
               SUM(CASE WHEN opened_at >= $1 THEN 1 ELSE 0 END) AS opened \
             FROM incidents WHERE ",
            not_final!(),
            " OR opened_at >= $1 \
             GROUP BY district, street, category, severity"
        ))
        .bind(day_start)
        .bind(now)
        .fetch_all(self.reader())
        .await?;
        rows.iter()
            .map(|r| {
                let severity: &str = r.try_get("severity")?;
                Ok(IncidentTally {
                    district: r.try_get("district")?,
                    street: r.try_get("street")?,
                    category: r.try_get("category")?,
                    severity: Severity::parse(severity).ok_or_else(|| {
                        StoreError::Corrupt(format!("incident severity {severity:?}"))
                    })?,
                    open: r.try_get("open")?,
                    overdue: r.try_get("overdue")?,
                    opened: r.try_get("opened")?,
                })
            })
            .collect()
    }
}
