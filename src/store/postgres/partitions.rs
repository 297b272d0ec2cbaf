//! Day partitions of `readings` on plain PostgreSQL.
//!
//! A batch whose readings fall on a day without a partition first creates it (and the
//! next day's, so the day change at midnight finds its partition waiting). The days known
//! to exist are cached, so the hot path asks the catalog nothing. Only days within a
//! window around the wall clock get partitions: the window bounds how many tables a bad
//! clock on a device can create, and anything outside it (a reading from 1990 or 2100)
//! still lands in the DEFAULT partition. The wall clock is right here: partitions are
//! physical layout, they do not change what is stored or found.

use crate::model::Reading;
use crate::store::{StoreError, StoreResult};
use chrono::{DateTime, NaiveDate, Utc};
use sqlx::PgPool;
use std::collections::{BTreeSet, HashSet};
use std::sync::Mutex;

/// Days before today that still get their own partition when readings arrive for them.
const DAYS_BACK: i64 = 35;
/// Days after today that get their own partition.
const DAYS_AHEAD: i64 = 3;
const MICROS_PER_DAY: i64 = 86_400_000_000;

pub(super) enum Layout {
    /// Range partitions by UTC day, plus DEFAULT. The set holds the days (since the epoch)
    /// known to have a partition.
    Partitioned(Mutex<HashSet<i64>>),
    /// A TimescaleDB hypertable: chunks are the extension's business.
    Hypertable,
}

impl Layout {
    pub async fn detect(pool: &PgPool) -> StoreResult<Self> {
        let partitioned: bool = sqlx::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM pg_partitioned_table WHERE partrelid = 'readings'::regclass)",
        )
        .fetch_one(pool)
        .await?;
        if partitioned {
            Ok(Layout::Partitioned(Mutex::new(existing_days(pool).await?)))
        } else {
            Ok(Layout::Hypertable)
        }
    }

    /// Creates the partitions of yesterday to the end of the window ahead.
    pub async fn prepare_ahead(&self, pool: &PgPool, now: DateTime<Utc>) -> StoreResult<()> {
        let today = day_of(now.timestamp_micros());
        let days: BTreeSet<i64> = (today - 1..=today + DAYS_AHEAD).collect();
        self.ensure_days(pool, days).await
    }

    /// Makes sure the days `readings` fall on (within the window) have partitions.
    pub async fn ensure_for(
        &self,
        pool: &PgPool,
        readings: &[Reading],
        now: DateTime<Utc>,
    ) -> StoreResult<()> {
        let Layout::Partitioned(known) = self else {
            return Ok(());
        };
        let today = day_of(now.timestamp_micros());
        let window = today - DAYS_BACK..=today + DAYS_AHEAD;
        let missing: BTreeSet<i64> = {
            let known = lock(known);
            readings
                .iter()
                .map(|r| day_of(r.time.micros()))
                .flat_map(|d| [d, d + 1])
                .filter(|d| window.contains(d) && !known.contains(d))
                .collect()
        };
        self.ensure_days(pool, missing).await
    }

    async fn ensure_days(&self, pool: &PgPool, days: BTreeSet<i64>) -> StoreResult<()> {
        let Layout::Partitioned(known) = self else {
            return Ok(());
        };
        for day in days {
            if lock(known).contains(&day) {
                continue;
            }
            let Some(date) = date_of(day) else { continue };
            let result = sqlx::query("SELECT cityops_ensure_readings_partition($1)")
                .bind(date)
                .execute(pool)
                .await;
            match result {
                Ok(_) => {}
                Err(
                    e @ (sqlx::Error::Io(_) | sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed),
                ) => {
                    return Err(e.into());
                }
                // Not fatal: the DEFAULT partition takes the rows. Remembering the day
                // anyway keeps a permanent failure (e.g. missing privileges) from costing
                // a round trip on every batch; the next start tries again.
                Err(e) => tracing::warn!(%date, error = %e, "cannot create readings partition"),
            }
            lock(known).insert(day);
        }
        Ok(())
    }

    pub async fn drop_older_than(&self, pool: &PgPool, days: u32) -> StoreResult<u32> {
        let days = i32::try_from(days).unwrap_or(i32::MAX);
        let dropped: i32 = match self {
            Layout::Partitioned(known) => {
                let n = sqlx::query_scalar("SELECT cityops_drop_readings_older_than($1)")
                    .bind(days)
                    .fetch_one(pool)
                    .await?;
                let now_known = existing_days(pool).await?;
                *lock(known) = now_known;
                n
            }
            Layout::Hypertable => {
                sqlx::query_scalar("SELECT cityops_drop_readings_chunks_older_than($1)")
                    .bind(days)
                    .fetch_one(pool)
                    .await?
            }
        };
        u32::try_from(dropped)
            .map_err(|_| StoreError::Corrupt(format!("dropped {dropped} partitions")))
    }
}

/// The cache stays usable if a holder panicked: it only ever gains correct entries.
fn lock(m: &Mutex<HashSet<i64>>) -> std::sync::MutexGuard<'_, HashSet<i64>> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

async fn existing_days(pool: &PgPool) -> StoreResult<HashSet<i64>> {
    let names: Vec<String> = sqlx::query_scalar(
        "SELECT c.relname::text FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid \
         WHERE i.inhparent = 'readings'::regclass",
    )
    .fetch_all(pool)
    .await?;
    Ok(names.iter().filter_map(|n| day_of_partition(n)).collect())
}

/// The day a partition named `readings_pYYYYMMDD` covers; `None` for DEFAULT and strangers.
fn day_of_partition(name: &str) -> Option<i64> {
    let date = NaiveDate::parse_from_str(name.strip_prefix("readings_p")?, "%Y%m%d").ok()?;
    Some(date.signed_duration_since(NaiveDate::default()).num_days())
}

fn day_of(micros: i64) -> i64 {
    micros.div_euclid(MICROS_PER_DAY)
}

fn date_of(day: i64) -> Option<NaiveDate> {
    NaiveDate::default().checked_add_signed(chrono::Duration::try_days(day)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partition_names_map_to_days() {
        assert_eq!(day_of_partition("readings_p19700102"), Some(1));
        assert_eq!(day_of_partition("readings_default"), None);
        assert_eq!(date_of(1), NaiveDate::from_ymd_opt(1970, 1, 2));
        assert_eq!(day_of(-1), -1);
        assert_eq!(day_of(MICROS_PER_DAY), 1);
    }
}
