//! PostgreSQL evaluation (综合评价): the figures of `docs/evaluation.md` in one SQL
//! statement over the incidents and their event log, p90s included
//! (`percentile_cont(0.9)`). The facts are the same as SQLite's (`sqlite/evaluation.rs`);
//! keep the two in step.
//!
//! Parameters: `$1` from and `$2` to (the period `[from, to)`), `$3` district, `$4`
//! street, `$5` department (each NULL for no restriction).

use super::evaluation_rows::counted;
use super::to_pg;
use crate::model::Timestamp;
use crate::store::evaluation::sort_rows;
use crate::store::{EvaluationGroup, EvaluationRow, EvaluationScope, StoreResult};
use sqlx::{PgPool, Row};

/// The facts of the period, one row each (`kind`, the incident, who, a duration in
/// seconds), joined to their incident and grouped by `$key`: `grouped(grp, kind, secs)`.
macro_rules! evaluation_cte {
    ($key:literal) => {
        concat!(
            "WITH closes AS ( \
               SELECT e.incident_id, e.actor, \
                 COALESCE(e.at > (SELECT i.due_at FROM incidents i WHERE i.id = e.incident_id), \
                   FALSE) AS late, \
                 EXTRACT(EPOCH FROM e.at - (SELECT MIN(f.at) FROM incident_events f \
                   WHERE f.incident_id = e.incident_id AND f.action = 'file'))::float8 AS secs \
               FROM incident_events e \
               WHERE e.action IN ('close', 'force_close', 'closed') AND e.to_state = 'closed' \
                 AND e.at >= $1 AND e.at < $2), \
             open_due AS ( \
               SELECT id AS incident_id, status FROM incidents \
               WHERE status NOT IN ('closed', 'rejected', 'merged') \
                 AND due_at >= $1 AND due_at < $2), \
             facts (incident_id, who, kind, secs) AS ( \
               SELECT incident_id, actor, action, NULL::float8 FROM incident_events \
                 WHERE action IN ('file', 'rework', 'grant_extension') AND at >= $1 AND at < $2 \
               UNION ALL SELECT incident_id, actor, 'close', secs FROM closes \
               UNION ALL SELECT incident_id, actor, 'on_time', NULL FROM closes WHERE NOT late \
               UNION ALL SELECT incident_id, NULL, 'due', NULL FROM closes \
               UNION ALL SELECT incident_id, NULL, 'overdue', NULL FROM closes WHERE late \
               UNION ALL SELECT incident_id, NULL, 'due', NULL FROM open_due \
               UNION ALL SELECT incident_id, NULL, \
                 CASE WHEN status = 'suspended' THEN 'suspended' ELSE 'overdue' END, NULL \
                 FROM open_due \
               UNION ALL SELECT e.incident_id, e.actor, 'acknowledge', \
                 EXTRACT(EPOCH FROM e.at - (SELECT d.at FROM incident_events d \
                   WHERE d.incident_id = e.incident_id AND d.action = 'dispatch' AND d.id < e.id \
                   ORDER BY d.id DESC LIMIT 1))::float8 \
                 FROM incident_events e \
                 WHERE e.action = 'acknowledge' AND e.at >= $1 AND e.at < $2), \
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
               WHERE ($3::text IS NULL OR district = $3::text) \
                 AND ($4::text IS NULL OR street = $4::text) \
                 AND ($5::text IS NULL OR department = $5::text)), \
             grouped AS ( \
               SELECT ",
            $key,
            " AS grp, x.kind, x.secs FROM facts x JOIN scoped i ON i.id = x.incident_id) \
             SELECT grp, \
               COUNT(*) FILTER (WHERE kind = 'file') AS filed, \
               COUNT(*) FILTER (WHERE kind = 'due') AS due, \
               COUNT(*) FILTER (WHERE kind = 'close') AS closed, \
               COUNT(*) FILTER (WHERE kind = 'on_time') AS closed_on_time, \
               COUNT(*) FILTER (WHERE kind = 'rework') AS rework, \
               COUNT(*) FILTER (WHERE kind = 'grant_extension') AS extended, \
               COUNT(*) FILTER (WHERE kind = 'overdue') AS overdue, \
               COUNT(*) FILTER (WHERE kind = 'suspended') AS suspended, \
               AVG(secs) FILTER (WHERE kind = 'acknowledge') AS acknowledge_mean, \
               percentile_cont(0.9) WITHIN GROUP (ORDER BY secs) \
                 FILTER (WHERE kind = 'acknowledge') AS acknowledge_p90, \
               AVG(secs) FILTER (WHERE kind = 'close') AS close_mean, \
               percentile_cont(0.9) WITHIN GROUP (ORDER BY secs) \
                 FILTER (WHERE kind = 'close') AS close_p90 \
             FROM grouped GROUP BY grp"
        )
    };
}

pub(super) async fn evaluation(
    pool: &PgPool,
    from: Timestamp,
    to: Timestamp,
    by: EvaluationGroup,
    scope: &EvaluationScope,
) -> StoreResult<Vec<EvaluationRow>> {
    let sql = match by {
        EvaluationGroup::Department => evaluation_cte!("i.department"),
        EvaluationGroup::District => evaluation_cte!("i.district"),
        EvaluationGroup::Street => evaluation_cte!("i.street"),
        // Figures of an incident rather than an event go to whoever acknowledged it.
        EvaluationGroup::Post => evaluation_cte!("COALESCE(x.who, i.handler)"),
    };
    let found = sqlx::query(sql)
        .bind(to_pg(from)?)
        .bind(to_pg(to)?)
        .bind(scope.district.as_deref())
        .bind(scope.street.as_deref())
        .bind(scope.department.as_deref())
        .fetch_all(pool)
        .await?;
    let mut rows = Vec::with_capacity(found.len());
    for row in &found {
        rows.push(
            EvaluationRow {
                acknowledge_p90_secs: row.try_get("acknowledge_p90")?,
                close_p90_secs: row.try_get("close_p90")?,
                ..counted(row)?
            }
            .with_rates(by),
        );
    }
    sort_rows(&mut rows);
    Ok(rows)
}
