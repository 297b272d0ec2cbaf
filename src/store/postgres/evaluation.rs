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

/// The evaluation statement grouped by `$key`: the shared facts, then counts, means and
/// p90s in one pass.
macro_rules! statement {
    ($key:literal) => {
        concat!(
            evaluation_cte!(
                key: $key, from: "$1", to: "$2", district: "$3::text", street: "$4::text",
                department: "$5::text", null_secs: "NULL::float8",
                secs: ("EXTRACT(EPOCH FROM ", ")::float8")
            ),
            "SELECT grp, \
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
        EvaluationGroup::Department => statement!("i.department"),
        EvaluationGroup::District => statement!("i.district"),
        EvaluationGroup::Street => statement!("i.street"),
        // Figures of an incident rather than an event go to whoever acknowledged it.
        EvaluationGroup::Post => statement!("COALESCE(x.who, i.handler)"),
        EvaluationGroup::City => statement!("CAST(NULL AS TEXT)"),
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
