//! SQLite rules-engine state: opaque JSON text per key, written in one transaction.

use super::BEGIN_WRITE;
use crate::store::StoreResult;
use sqlx::{Row, SqlitePool};

pub(super) async fn save(
    pool: &SqlitePool,
    changes: &[(String, Option<String>)],
) -> StoreResult<()> {
    if changes.is_empty() {
        return Ok(());
    }
    let mut tx = pool.begin_with(BEGIN_WRITE).await?;
    // In order, so a key changed twice ends as its last change. One connection in-process:
    // a statement per change costs no round trip.
    for (key, value) in changes {
        match value {
            Some(value) => {
                // updated_at is wall-clock µs, for operators; the engine's own times are in value.
                sqlx::query(
                    "INSERT INTO rule_state (key, value, updated_at) VALUES \
                     (?1, ?2, CAST((julianday('now') - 2440587.5) * 86400000000.0 AS INTEGER)) \
                     ON CONFLICT (key) DO UPDATE SET value = excluded.value, \
                     updated_at = excluded.updated_at",
                )
                .bind(key.as_str())
                .bind(value.as_str())
                .execute(&mut *tx)
                .await?;
            }
            None => {
                sqlx::query("DELETE FROM rule_state WHERE key = ?")
                    .bind(key.as_str())
                    .execute(&mut *tx)
                    .await?;
            }
        }
    }
    tx.commit().await?;
    Ok(())
}

pub(super) async fn load(pool: &SqlitePool) -> StoreResult<Vec<(String, String)>> {
    sqlx::query("SELECT key, value FROM rule_state ORDER BY key")
        .fetch_all(pool)
        .await?
        .iter()
        .map(|row| Ok((row.try_get("key")?, row.try_get("value")?)))
        .collect()
}
