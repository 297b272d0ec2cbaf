//! Write throughput of `Store::write_batch`: batches of 2000 new readings (500 sensors ×
//! 4 ticks), the shape the ingest stage produces.
//!
//! SQLite runs on a temporary file. PostgreSQL runs when a server is reachable through
//! `CITYOPS_TEST_PG_ADMIN_URL` (default `postgres://cityops:cityops@127.0.0.1:5432/postgres`):
//! the bench creates a throwaway database there and drops it afterwards.
//!
//! `cargo bench --bench store_write -- --quick`

use cityops::model::{Reading, SensorId, Timestamp};
use cityops::store::{IngestBatch, PgStore, SharedStore, SqliteStore};
use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use sqlx::{AssertSqlSafe, Connection, PgConnection};
use std::sync::Arc;

const BATCH: usize = 2000;
const SENSORS: usize = 500;

/// A batch of new readings: each call moves time forward so nothing is a duplicate.
fn batch(sensors: &[SensorId], t0: i64, tick: &mut i64) -> IngestBatch {
    let readings = (0..BATCH)
        .map(|i| {
            let t = *tick + (i / SENSORS) as i64;
            Reading {
                sensor: sensors[i % SENSORS].clone(),
                metric: "level".into(),
                time: Timestamp(t0 + t * 1_000_000),
                value: (i % 97) as f64 * 0.01,
            }
        })
        .collect();
    *tick += (BATCH / SENSORS) as i64;
    IngestBatch {
        readings,
        ..Default::default()
    }
}

fn bench_store(c: &mut Criterion, rt: &tokio::runtime::Runtime, name: &str, store: SharedStore) {
    let sensors: Vec<SensorId> = (0..SENSORS)
        .map(|i| SensorId::new(format!("WL-{i:05}")))
        .collect();
    // Times from now on, so PostgreSQL writes into its day partitions, not DEFAULT.
    let t0 = chrono::Utc::now().timestamp_micros();
    let mut tick = 0;
    let mut group = c.benchmark_group("write_batch");
    group.throughput(Throughput::Elements(BATCH as u64));
    group.bench_function(name, |b| {
        b.iter_batched(
            || batch(&sensors, t0, &mut tick),
            |batch| rt.block_on(store.write_batch(&batch)).expect("write"),
            BatchSize::SmallInput,
        )
    });
    group.finish();
}

fn store_write(c: &mut Criterion) {
    let rt = tokio::runtime::Runtime::new().expect("runtime");

    let dir = tempfile::tempdir().expect("temp dir");
    let url = format!("sqlite://{}/bench.db", dir.path().display());
    let sqlite = rt
        .block_on(SqliteStore::open(&url, 1000))
        .expect("open sqlite");
    bench_store(c, &rt, "sqlite", Arc::new(sqlite));

    let admin_url = std::env::var("CITYOPS_TEST_PG_ADMIN_URL")
        .unwrap_or_else(|_| "postgres://cityops:cityops@127.0.0.1:5432/postgres".into());
    let Ok(mut admin) = rt.block_on(PgConnection::connect(&admin_url)) else {
        eprintln!("PostgreSQL not reachable at {admin_url}; skipping its bench");
        return;
    };
    let name = format!("cityops_bench_{}", uuid::Uuid::now_v7().simple());
    let create = format!("CREATE DATABASE \"{name}\"");
    rt.block_on(sqlx::query(AssertSqlSafe(create)).execute(&mut admin))
        .expect("create bench database");
    let base = admin_url
        .rsplit_once('/')
        .map_or(admin_url.as_str(), |(b, _)| b);
    let pg = rt
        .block_on(PgStore::open(&format!("{base}/{name}"), 1000))
        .expect("open postgres");
    bench_store(c, &rt, "postgres", Arc::new(pg));
    let drop = format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)");
    let _ = rt.block_on(sqlx::query(AssertSqlSafe(drop)).execute(&mut admin));
}

criterion_group!(benches, store_write);
criterion_main!(benches);
