//! The SQLite implementation of [`Store`](super::Store): the default, zero-install backend.
//!
//! # Durability
//! The database runs in WAL mode with `synchronous=NORMAL`. A committed transaction then
//! survives a crash or SIGKILL of the process; only an OS crash or power loss can lose the
//! last few transactions (the database stays consistent either way). That trade buys most
//! of the write throughput. Add `?synchronous=full` to the URL to fsync every commit.
//!
//! # Connections
//! SQLite allows one writer at a time, so writes go through a pool of exactly one
//! connection (no `SQLITE_BUSY` storms, no lock retries), while reads use a small pool of
//! their own that WAL lets run beside the writer. `sqlite::memory:` uses one connection for
//! everything: each connection would otherwise see its own empty database.
//!
//! # When a write fails
//! On `SQLITE_FULL`, `SQLITE_IOERR` or `SQLITE_NOMEM` SQLite may roll the whole
//! transaction back by itself. sqlx then still counts it open: its `ROLLBACK` fails, and
//! its next `begin()` would issue a `SAVEPOINT` — which opens a real transaction that
//! the matching `ROLLBACK TO` leaves open, so every later "commit" merely releases a
//! nested savepoint and nothing ever reaches the database (the WAL grows, readers see
//! nothing, a clean stop throws it all away). So: every write transaction starts with an
//! explicit `BEGIN IMMEDIATE`, which sqlx refuses to nest; and a writer connection comes
//! back to the pool only if it is provably outside any transaction
//! ([`outside_transaction`]), else it is closed and the next write opens a fresh one. A
//! write is therefore reported done only after a `COMMIT` that SQLite itself accepted.

mod evaluation;
mod rule_write;
mod types;
mod write;

use super::*;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use std::str::FromStr;
use std::time::Duration;

/// How long a connection waits for a lock held by another process before giving up.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);
/// Read connections; reads are short and the machine is small.
const READ_POOL_SIZE: u32 = 4;
/// How long a caller waits for a free connection before the store reports itself down.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(10);
/// The writer's page cache (negative: KiB), 32 MiB. A batch of readings touches the
/// newest page of every sensor it carries; with those pages in the cache a commit reads
/// nothing back from the file.
const WRITER_CACHE: &str = "-32768";
/// WAL pages written before a checkpoint copies them into the database (16 384 pages,
/// 64 MiB). Each commit rewrites every page its batch touched, so at a few thousand
/// sensors one commit alone can exceed SQLite's default of 1 000 pages and every commit
/// paid a checkpoint; with a larger WAL a page rewritten by many commits is copied once.
const WAL_AUTOCHECKPOINT: &str = "16384";
/// Transactions that read before they write take the write lock up front: a deferred one
/// would fail with `SQLITE_BUSY` instead of waiting if another process wrote in between.
const BEGIN_WRITE: &str = "BEGIN IMMEDIATE";

pub struct SqliteStore {
    writer: SqlitePool,
    reader: SqlitePool,
    dead_letter_limit: u32,
}

impl SqliteStore {
    /// Opens (creating it and its parent directory if missing) the database `url` names,
    /// e.g. `sqlite://data/cityops.db` (relative to the working directory),
    /// `sqlite:///var/lib/cityops/cityops.db` or `sqlite::memory:`, and migrates it.
    pub async fn open(url: &str, dead_letter_limit: u32) -> StoreResult<Self> {
        let (url, synchronous) = split_synchronous(url)?;
        let options = SqliteConnectOptions::from_str(&url)
            .map_err(|e| StoreError::Unavailable(format!("bad SQLite URL {url:?}: {e}")))?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(synchronous)
            .busy_timeout(BUSY_TIMEOUT)
            .foreign_keys(false);
        let in_memory = url.contains(":memory:") || url.contains("mode=memory");
        if !in_memory {
            create_parent_dir(options.get_filename())?;
        }

        let mut writer = SqlitePoolOptions::new();
        if !in_memory {
            // (An in-memory database lives only as long as its connection: never close it.)
            writer = writer.after_release(|conn, _| Box::pin(outside_transaction(conn)));
        }
        let writer = writer
            .max_connections(1)
            .min_connections(if in_memory { 1 } else { 0 })
            .acquire_timeout(ACQUIRE_TIMEOUT)
            // An in-memory database lives only as long as its connection.
            .idle_timeout(None)
            .max_lifetime(None)
            .connect_with(
                options
                    .clone()
                    .pragma("cache_size", WRITER_CACHE)
                    .pragma("wal_autocheckpoint", WAL_AUTOCHECKPOINT),
            )
            .await?;
        let reader = if in_memory {
            writer.clone()
        } else {
            SqlitePoolOptions::new()
                .max_connections(READ_POOL_SIZE)
                .acquire_timeout(ACQUIRE_TIMEOUT)
                .connect_with(options)
                .await?
        };
        super::migrate::sqlite()
            .run(&writer)
            .await
            .map_err(|e| StoreError::Migration(e.to_string()))?;
        Ok(Self {
            writer,
            reader,
            dead_letter_limit,
        })
    }
}

/// Whether a connection returned to the writer pool may be reused: true only when both
/// SQLite (a `BEGIN` succeeds) and sqlx (its transaction depth is zero) agree that no
/// transaction is open. Runs after any rollback sqlx queued when a transaction was
/// dropped, since a connection executes its commands in order.
async fn outside_transaction(conn: &mut sqlx::SqliteConnection) -> Result<bool, sqlx::Error> {
    use sqlx::Connection;
    let probe = sqlx::raw_sql("BEGIN; ROLLBACK").execute(&mut *conn).await;
    let clean = probe.is_ok() && !conn.is_in_transaction();
    if !clean {
        // The failed write itself is logged (rate limited) by its caller.
        tracing::debug!(
            error = probe.err().map(|e| e.to_string()),
            "SQLite writer connection left inside a transaction after a failed write; closing it"
        );
    }
    Ok(clean)
}

/// Takes our own `synchronous=` parameter out of the URL (sqlx rejects parameters it does
/// not know) and returns the URL without it.
fn split_synchronous(url: &str) -> StoreResult<(String, SqliteSynchronous)> {
    let Some((base, query)) = url.split_once('?') else {
        return Ok((url.to_owned(), SqliteSynchronous::Normal));
    };
    let mut synchronous = SqliteSynchronous::Normal;
    let mut kept = Vec::new();
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        match pair.split_once('=') {
            Some(("synchronous", v)) => {
                synchronous = SqliteSynchronous::from_str(v).map_err(|_| {
                    StoreError::Unavailable(format!(
                        "bad synchronous={v:?} in SQLite URL: expected off, normal, full or extra"
                    ))
                })?;
            }
            _ => kept.push(pair),
        }
    }
    let url = if kept.is_empty() {
        base.to_owned()
    } else {
        format!("{base}?{}", kept.join("&"))
    };
    Ok((url, synchronous))
}

fn create_parent_dir(file: &std::path::Path) -> StoreResult<()> {
    match file.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => std::fs::create_dir_all(dir).map_err(|e| {
            StoreError::Unavailable(format!("cannot create directory {}: {e}", dir.display()))
        }),
        _ => Ok(()),
    }
}

// The SQL both backends share (`store/common`, see `store/mod.rs`), compiled here against
// this backend's types.
type Db = sqlx::Sqlite;
type This = SqliteStore;
/// For logs and `/readyz`.
const BACKEND: &str = "sqlite";
type Conn = sqlx::SqliteConnection;
type DbRow = sqlx::sqlite::SqliteRow;
/// Row-locks what a `SELECT` reads until the transaction ends.
macro_rules! for_update {
    () => {
        ""
    };
}
/// The larger of two values.
macro_rules! greatest {
    () => {
        "MAX"
    };
}
shared_sql!();

impl SqliteStore {
    fn writer(&self) -> &SqlitePool {
        &self.writer
    }

    fn reader(&self) -> &SqlitePool {
        &self.reader
    }

    /// What a batch needs before its transaction: nothing here.
    async fn prepare_batch(&self, _batch: &IngestBatch) -> StoreResult<()> {
        Ok(())
    }

    /// A transaction for a change.
    async fn begin_write(&self) -> sqlx::Result<sqlx::Transaction<'static, Db>> {
        self.writer.begin_with(BEGIN_WRITE).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn synchronous_param_is_taken_out_of_the_url() {
        let (u, s) = split_synchronous("sqlite://data/x.db?synchronous=full&mode=rwc").unwrap();
        assert_eq!(u, "sqlite://data/x.db?mode=rwc");
        assert!(matches!(s, SqliteSynchronous::Full));
        let (u, s) = split_synchronous("sqlite::memory:").unwrap();
        assert_eq!(u, "sqlite::memory:");
        assert!(matches!(s, SqliteSynchronous::Normal));
        assert!(split_synchronous("sqlite://x.db?synchronous=sometimes").is_err());
    }
}
