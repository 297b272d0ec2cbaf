//! PostgreSQL rules-engine state: opaque JSON text per key, written in one transaction.

use crate::store::StoreResult;
use sqlx::{PgPool, Row};
use std::collections::HashMap;

pub(super) async fn save(pool: &PgPool, changes: &[(String, Option<String>)]) -> StoreResult<()> {
    // Last change per key wins, as if applied in order; one key per statement also keeps the
    // upsert from touching a row twice, which PostgreSQL refuses.
    let mut last: HashMap<&str, Option<&str>> = HashMap::with_capacity(changes.len());
    for (key, value) in changes {
        last.insert(key.as_str(), value.as_deref());
    }
    let (mut keys, mut values, mut deleted) = (Vec::new(), Vec::new(), Vec::new());
    for (key, value) in last {
        match value {
            Some(value) => {
                keys.push(key);
                values.push(value);
            }
            None => deleted.push(key),
        }
    }
    if keys.is_empty() && deleted.is_empty() {
        return Ok(());
    }
    let mut tx = pool.begin().await?;
    if !keys.is_empty() {
        sqlx::query(
            "INSERT INTO rule_state (key, value, updated_at) \
             SELECT k, v, now() FROM UNNEST($1::text[], $2::text[]) AS t(k, v) \
             ON CONFLICT (key) DO UPDATE SET value = excluded.value, \
             updated_at = excluded.updated_at",
        )
        .bind(&keys)
        .bind(&values)
        .execute(&mut *tx)
        .await?;
    }
    if !deleted.is_empty() {
        sqlx::query("DELETE FROM rule_state WHERE key = ANY($1::text[])")
            .bind(&deleted)
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await?;
    Ok(())
}

pub(super) async fn load(pool: &PgPool) -> StoreResult<Vec<(String, String)>> {
    sqlx::query("SELECT key, value FROM rule_state ORDER BY key")
        .fetch_all(pool)
        .await?
        .iter()
        .map(|row| Ok((row.try_get("key")?, row.try_get("value")?)))
        .collect()
}
