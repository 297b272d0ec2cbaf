// The counts of an evaluation row as both backends' SQL names them (included by each;
// see `store/mod.rs`). The p90s and the rates are filled in by the caller.

use super::DbRow;
use crate::store::{EvaluationRow, StoreResult};
use sqlx::Row;

/// The group, counts and means of one row of the evaluation statement.
pub(super) fn counted(row: &DbRow) -> StoreResult<EvaluationRow> {
    Ok(EvaluationRow {
        group: row.try_get("grp")?,
        filed: row.try_get("filed")?,
        due: row.try_get("due")?,
        closed: row.try_get("closed")?,
        closed_on_time: row.try_get("closed_on_time")?,
        rework: row.try_get("rework")?,
        extended: row.try_get("extended")?,
        overdue: row.try_get("overdue")?,
        suspended: row.try_get("suspended")?,
        acknowledge_mean_secs: row.try_get("acknowledge_mean")?,
        close_mean_secs: row.try_get("close_mean")?,
        ..Default::default()
    })
}
