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

/// The shared facts of `evaluation_cte!` grouped by `$key`, in SQLite's terms (times are µs).
macro_rules! facts {
    ($key:literal) => {
        evaluation_cte!(
            key: $key, from: "?1", to: "?2", district: "?3", street: "?4", department: "?5",
            null_secs: "NULL", secs: ("(", ") / 1e6")
        )
    };
}

/// Counts and means per group, after the facts.
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

/// The durations the p90s are taken from, after the facts.
macro_rules! durations {
    () => {
        "SELECT grp, kind, secs FROM grouped \
         WHERE kind IN ('acknowledge', 'close') AND secs IS NOT NULL"
    };
}

macro_rules! statements {
    ($key:literal) => {
        (
            concat!(facts!($key), counts!()),
            concat!(facts!($key), durations!()),
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
        EvaluationGroup::City => statements!("CAST(NULL AS TEXT)"),
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
