//! The PostgreSQL implementation of [`Store`](super::Store), for production and for
//! several nodes sharing one database.
//!
//! `readings` is either a TimescaleDB hypertable (when the extension is available) or a
//! table range-partitioned by UTC day with a DEFAULT partition; see [`partitions`] and
//! `migrations/postgres/`. Bulk writes bind one array per column and `UNNEST` them, which
//! keeps a 5000-row insert to four parameters and one round trip.

mod evaluation;
mod partitions;
mod rule_write;
mod types;
mod write;

use super::*;
use crate::model::*;
use chrono::{DateTime, Utc};
use partitions::Layout;
use sqlx::PgPool;
use sqlx::postgres::PgPoolOptions;
use std::time::Duration;

/// Connections: one or two writers, API reads and incident updates beside them.
const POOL_SIZE: u32 = 8;
/// Connections kept open even when idle. A new PostgreSQL backend writes files in the
/// database's directory as it starts (the relation cache's init file), so when that disk
/// is full only connections already open can serve: with these, the pages keep reading
/// while the writer waits for space.
const WARM_CONNECTIONS: u32 = 4;
/// How long a caller waits for a free connection before the store reports itself down.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(10);

pub struct PgStore {
    pool: PgPool,
    dead_letter_limit: u32,
    layout: Layout,
}

impl PgStore {
    /// Connects to `url` (`postgres://user:pass@host/db`), migrates the schema and makes
    /// sure the partitions of the coming days exist.
    pub async fn open(url: &str, dead_letter_limit: u32) -> StoreResult<Self> {
        let pool = PgPoolOptions::new()
            .max_connections(POOL_SIZE)
            .min_connections(WARM_CONNECTIONS)
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .connect(url)
            .await?;
        super::migrate::postgres()
            .run(&pool)
            .await
            .map_err(|e| StoreError::Migration(e.to_string()))?;
        let layout = Layout::detect(&pool).await?;
        layout.prepare_ahead(&pool, Utc::now()).await?;
        Ok(Self {
            pool,
            dead_letter_limit,
            layout,
        })
    }

    /// The connection pool, for maintenance tools and tests that inspect the schema.
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// Whether `readings` is a TimescaleDB hypertable rather than day partitions.
    pub fn uses_timescale(&self) -> bool {
        matches!(self.layout, Layout::Hypertable)
    }

    /// Retention: drops the readings older than `days` days (whole day partitions or
    /// Timescale chunks, plus old rows of the DEFAULT partition). Returns how many
    /// partitions or chunks were dropped.
    pub async fn drop_readings_older_than(&self, days: u32) -> StoreResult<u32> {
        self.layout.drop_older_than(&self.pool, days).await
    }
}

/// A timestamp as `timestamptz`; chrono's range is narrower than `i64` microseconds.
fn to_pg(t: Timestamp) -> StoreResult<DateTime<Utc>> {
    t.to_chrono()
        .ok_or_else(|| StoreError::Invalid(format!("timestamp {} µs is out of range", t.micros())))
}

// The SQL both backends share (`store/common`, see `store/mod.rs`), compiled here against
// this backend's types.
type Db = sqlx::Postgres;
type This = PgStore;
/// For logs and `/readyz`.
const BACKEND: &str = "postgres";
type Conn = sqlx::PgConnection;
type DbRow = sqlx::postgres::PgRow;
/// Row-locks what a `SELECT` reads until the transaction ends.
macro_rules! for_update {
    () => {
        " FOR UPDATE"
    };
}
/// The larger of two values.
macro_rules! greatest {
    () => {
        "GREATEST"
    };
}
shared_sql!();

impl PgStore {
    fn writer(&self) -> &PgPool {
        &self.pool
    }

    fn reader(&self) -> &PgPool {
        &self.pool
    }

    /// What a batch needs before its transaction: the day partitions of its readings.
    async fn prepare_batch(&self, batch: &IngestBatch) -> StoreResult<()> {
        if batch.readings.is_empty() {
            return Ok(());
        }
        self.layout
            .ensure_for(&self.pool, &batch.readings, Utc::now())
            .await
    }

    /// A transaction for a change.
    async fn begin_write(&self) -> sqlx::Result<sqlx::Transaction<'static, Db>> {
        self.pool.begin().await
    }
}
