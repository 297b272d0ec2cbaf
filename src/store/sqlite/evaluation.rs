//! SQLite evaluation (综合评价): the figures of `docs/evaluation.md` in SQL over the
//! incidents and their event log. SQLite has no `percentile_cont`, so a second statement
//! (in the same read transaction, hence the same snapshot) returns the durations and the
//! p90 is interpolated here exactly as PostgreSQL does it.
//!
//! Parameters: `?1` from and `?2` to (µs, the period `[from, to)`), `?3` district, `?4`
//! street, `?5` department (each NULL for no restriction).

use super::evaluation_rows::counted;
use crate::model::Timestamp;
use crate::store::evaluation::{p90, sort_rows};
use crate::store::{EvaluationGroup, EvaluationRow, EvaluationScope, StoreResult};
use sqlx::{Row, SqlitePool};
use std::collections::HashMap;

/// The facts of the period, one row each (`kind`, the incident, who, a duration in
/// seconds), joined to their incident and grouped by `$key`: `grouped(grp, kind, secs)`.
macro_rules! evaluation_cte {
    ($key:literal) => {
        concat!(
            "WITH closes AS ( \
               SELECT e.incident_id, e.actor, \
                 COALESCE(e.at > (SELECT i.due_at FROM incidents i WHERE i.id = e.incident_id), \
                   FALSE) AS late, \
                 (e.at - (SELECT MIN(f.at) FROM incident_events f \
                   WHERE f.incident_id = e.incident_id AND f.action = 'file')) / 1e6 AS secs \
               FROM incident_events e \
               WHERE e.action IN ('close', 'force_close', 'closed') AND e.to_state = 'closed' \
                 AND e.at >= ?1 AND e.at < ?2), \
             open_due AS ( \
               SELECT id AS incident_id, status FROM incidents \
               WHERE status NOT IN ('closed', 'rejected', 'merged') \
                 AND due_at >= ?1 AND due_at < ?2), \
             facts (incident_id, who, kind, secs) AS ( \
               SELECT incident_id, actor, action, NULL FROM incident_events \
                 WHERE action IN ('file', 'rework', 'grant_extension') AND at >= ?1 AND at < ?2 \
               UNION ALL SELECT incident_id, actor, 'close', secs FROM closes \
               UNION ALL SELECT incident_id, actor, 'on_time', NULL FROM closes WHERE NOT late \
               UNION ALL SELECT incident_id, NULL, 'due', NULL FROM closes \
               UNION ALL SELECT incident_id, NULL, 'overdue', NULL FROM closes WHERE late \
               UNION ALL SELECT incident_id, NULL, 'due', NULL FROM open_due \
               UNION ALL SELECT incident_id, NULL, \
                 CASE WHEN status = 'suspended' THEN 'suspended' ELSE 'overdue' END, NULL \
                 FROM open_due \
               UNION ALL SELECT e.incident_id, e.actor, 'acknowledge', \
                 (e.at - (SELECT d.at FROM incident_events d \
                   WHERE d.incident_id = e.incident_id AND d.action = 'dispatch' AND d.id < e.id \
                   ORDER BY d.id DESC LIMIT 1)) / 1e6 \
                 FROM incident_events e \
                 WHERE e.action = 'acknowledge' AND e.at >= ?1 AND e.at < ?2), \
             inc AS ( \
               SELECT i.id, i.district, i.street, \
                 (SELECT substr(d.note, 4) FROM incident_events d \
                   WHERE d.incident_id = i.id AND d.action = 'dispatch' AND d.note LIKE 'to %' \
                   ORDER BY d.id DESC LIMIT 1) AS department, \
                 (SELECT a.actor FROM incident_events a \
                   WHERE a.incident_id = i.id AND a.action = 'acknowledge' \
                   ORDER BY a.id DESC LIMIT 1) AS handler \
               FROM incidents i \
               WHERE i.id IN (SELECT incident_id FROM facts) \
                 AND EXISTS (SELECT 1 FROM incident_events f \
                   WHERE f.incident_id = i.id AND f.action = 'file')), \
             scoped AS ( \
               SELECT * FROM inc \
               WHERE (?3 IS NULL OR district = ?3) AND (?4 IS NULL OR street = ?4) \
                 AND (?5 IS NULL OR department = ?5)), \
             grouped AS ( \
               SELECT ",
            $key,
            " AS grp, x.kind, x.secs FROM facts x JOIN scoped i ON i.id = x.incident_id) "
        )
    };
}

/// Counts and means per group, after `evaluation_cte!`.
macro_rules! counts {
    () => {
        "SELECT grp, \
           COUNT(CASE WHEN kind = 'file' THEN 1 END) AS filed, \
           COUNT(CASE WHEN kind = 'due' THEN 1 END) AS due, \
           COUNT(CASE WHEN kind = 'close' THEN 1 END) AS closed, \
           COUNT(CASE WHEN kind = 'on_time' THEN 1 END) AS closed_on_time, \
           COUNT(CASE WHEN kind = 'rework' THEN 1 END) AS rework, \
           COUNT(CASE WHEN kind = 'grant_extension' THEN 1 END) AS extended, \
           COUNT(CASE WHEN kind = 'overdue' THEN 1 END) AS overdue, \
           COUNT(CASE WHEN kind = 'suspended' THEN 1 END) AS suspended, \
           AVG(CASE WHEN kind = 'acknowledge' THEN secs END) AS acknowledge_mean, \
           AVG(CASE WHEN kind = 'close' THEN secs END) AS close_mean \
         FROM grouped GROUP BY grp"
    };
}

/// The durations the p90s are taken from, after `evaluation_cte!`.
macro_rules! durations {
    () => {
        "SELECT grp, kind, secs FROM grouped \
         WHERE kind IN ('acknowledge', 'close') AND secs IS NOT NULL"
    };
}

macro_rules! statements {
    ($key:literal) => {
        (
            concat!(evaluation_cte!($key), counts!()),
            concat!(evaluation_cte!($key), durations!()),
        )
    };
}

pub(super) async fn evaluation(
    pool: &SqlitePool,
    from: Timestamp,
    to: Timestamp,
    by: EvaluationGroup,
    scope: &EvaluationScope,
) -> StoreResult<Vec<EvaluationRow>> {
    let (counts_sql, durations_sql) = match by {
        EvaluationGroup::Department => statements!("i.department"),
        EvaluationGroup::District => statements!("i.district"),
        EvaluationGroup::Street => statements!("i.street"),
        // Figures of an incident rather than an event go to whoever acknowledged it.
        EvaluationGroup::Post => statements!("COALESCE(x.who, i.handler)"),
    };
    let bind = |sql: &'static str| {
        sqlx::query(sql)
            .bind(from.micros())
            .bind(to.micros())
            .bind(scope.district.as_deref())
            .bind(scope.street.as_deref())
            .bind(scope.department.as_deref())
    };
    // One read transaction: both statements see the same snapshot.
    let mut tx = pool.begin().await?;
    let found = bind(counts_sql).fetch_all(&mut *tx).await?;
    let timed = bind(durations_sql).fetch_all(&mut *tx).await?;
    tx.commit().await?;

    let mut samples: HashMap<(Option<String>, String), Vec<f64>> = HashMap::new();
    for row in &timed {
        samples
            .entry((row.try_get("grp")?, row.try_get("kind")?))
            .or_default()
            .push(row.try_get("secs")?);
    }
    let mut p90_of = |group: &Option<String>, kind: &str| {
        let mut v = samples.remove(&(group.clone(), kind.to_owned()))?;
        v.sort_by(f64::total_cmp);
        p90(&v)
    };
    let mut rows = Vec::with_capacity(found.len());
    for row in &found {
        let counts = counted(row)?;
        rows.push(
            EvaluationRow {
                acknowledge_p90_secs: p90_of(&counts.group, "acknowledge"),
                close_p90_secs: p90_of(&counts.group, "close"),
                ..counts
            }
            .with_rates(by),
        );
    }
    sort_rows(&mut rows);
    Ok(rows)
}
