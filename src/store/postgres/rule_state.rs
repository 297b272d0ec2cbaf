//! PostgreSQL rules-engine state: opaque JSON text per key, written with the rules' step (`incidents/rule_write.rs`).

use crate::store::StoreResult;
use sqlx::{PgPool, Row};

pub(super) async fn load(pool: &PgPool) -> StoreResult<Vec<(String, String)>> {
    sqlx::query("SELECT key, value FROM rule_state ORDER BY key")
        .fetch_all(pool)
        .await?
        .iter()
        .map(|row| Ok((row.try_get("key")?, row.try_get("value")?)))
        .collect()
}
