//! Behaviour only one backend has: SQLite URLs and in-memory databases, PostgreSQL day
//! partitions and retention.

use super::*;
use cityops::store::{IncidentStore, ReadingStore};
use futures::FutureExt;
use sqlx::Row;
use std::panic::AssertUnwindSafe;

// ---------------------------------------------------------------------------------------
// Backend-specific behaviour

#[tokio::test]
async fn sqlite_in_memory_shares_one_database() {
    let store = SqliteStore::open("sqlite::memory:", 3)
        .await
        .expect("open in-memory");
    store
        .write_batch(&readings_batch(vec![reading("WL-1", "level", T0, 1.0)]))
        .await
        .unwrap();
    // Reads go through the same single connection, so they see the write.
    assert_eq!(store.count_readings().await.unwrap(), 1);
    let (_, created) = store
        .open_incident(&new_incident("k", "d1", T0))
        .await
        .unwrap();
    assert!(created);
}

#[tokio::test]
async fn sqlite_reopen_keeps_data_and_accepts_synchronous_param() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/a/b/city.db", dir.path().display());
    {
        let store = SqliteStore::open(&url, 3).await.unwrap();
        store
            .write_batch(&readings_batch(vec![reading("WL-1", "level", T0, 1.0)]))
            .await
            .unwrap();
    }
    let store = SqliteStore::open(&format!("{url}?synchronous=full"), 3)
        .await
        .unwrap();
    assert_eq!(store.count_readings().await.unwrap(), 1);
    assert!(
        SqliteStore::open(&format!("{url}?synchronous=maybe"), 3)
            .await
            .is_err()
    );
}

#[tokio::test]
async fn open_dispatches_on_the_url_scheme() {
    let store = cityops::store::open("sqlite::memory:", 3).await.unwrap();
    assert_eq!(store.backend(), "sqlite");
    assert!(cityops::store::open("mysql://x", 3).await.is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_readings_land_in_day_partitions() {
    let Some((url, admin_url, name)) = fresh_pg_database().await else {
        return;
    };
    let result = AssertUnwindSafe(async {
        let store = PgStore::open(&url, 3).await.expect("open");
        assert!(
            !store.uses_timescale(),
            "this test covers the plain-PostgreSQL layout"
        );
        let now = chrono::Utc::now().timestamp_micros();
        let times = [
            now - 2 * DAY,
            now - DAY,
            now,
            631_152_000 * SEC,   // 1990-01-01
            4_102_444_800 * SEC, // 2100-01-01
        ];
        let rs: Vec<Reading> = times
            .iter()
            .map(|&t| reading("WL-1", "level", t, 1.0))
            .collect();
        let out = store
            .write_batch(&readings_batch(rs.clone()))
            .await
            .expect("write");
        assert_eq!(out.readings_new, vec![true; 5]);
        assert_eq!(
            store
                .write_batch(&readings_batch(rs))
                .await
                .unwrap()
                .readings_new,
            vec![false; 5]
        );

        let placed = sqlx::query(
            "SELECT tableoid::regclass::text AS part, time FROM readings ORDER BY time",
        )
        .fetch_all(store.pool())
        .await
        .unwrap();
        let parts: Vec<String> = placed.iter().map(|r| r.get("part")).collect();
        assert_eq!(
            parts[0], "readings_default",
            "1990 goes to the DEFAULT partition"
        );
        assert_eq!(
            parts[4], "readings_default",
            "2100 goes to the DEFAULT partition"
        );
        for (p, &t) in parts[1..4].iter().zip(&times[..3]) {
            let day = chrono::DateTime::from_timestamp_micros(t)
                .unwrap()
                .format("readings_p%Y%m%d")
                .to_string();
            assert_eq!(p, &day);
        }
        // Far-away times read back like any other.
        let old = store
            .readings(
                &SensorId::new("WL-1"),
                None,
                Timestamp(0),
                Timestamp(700_000_000 * SEC),
                10,
            )
            .await
            .unwrap();
        assert_eq!(old.len(), 1);

        // Tomorrow's partition is made ahead of need.
        let tomorrow = chrono::DateTime::from_timestamp_micros(now + DAY)
            .unwrap()
            .format("readings_p%Y%m%d")
            .to_string();
        let exists: bool = sqlx::query_scalar("SELECT to_regclass($1) IS NOT NULL")
            .bind(&tomorrow)
            .fetch_one(store.pool())
            .await
            .unwrap();
        assert!(exists, "{tomorrow} exists");

        // Retention drops the day two days back (whole partition) and 1990 from DEFAULT.
        let dropped = store.drop_readings_older_than(1).await.expect("retention");
        assert!(dropped >= 1);
        assert_eq!(store.count_readings().await.unwrap(), 3);
        // A dropped day is recreated when a late reading for it arrives.
        let late = readings_batch(vec![reading("WL-1", "level", now - 2 * DAY + SEC, 2.0)]);
        assert_eq!(
            store.write_batch(&late).await.unwrap().readings_new,
            vec![true]
        );
    })
    .catch_unwind()
    .await;
    drop_pg_database(&admin_url, &name).await;
    if let Err(panic) = result {
        std::panic::resume_unwind(panic);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_rows_in_default_move_into_a_new_partition() {
    let Some((url, admin_url, name)) = fresh_pg_database().await else {
        return;
    };
    let result = AssertUnwindSafe(async {
        let store = PgStore::open(&url, 3).await.expect("open");
        // Ten days ahead is outside the window: DEFAULT takes it for now.
        let t = chrono::Utc::now().timestamp_micros() + 10 * DAY;
        store
            .write_batch(&readings_batch(vec![reading("WL-1", "level", t, 1.0)]))
            .await
            .unwrap();
        let day = chrono::DateTime::from_timestamp_micros(t)
            .unwrap()
            .date_naive();
        let created: bool = sqlx::query_scalar("SELECT cityops_ensure_readings_partition($1)")
            .bind(day)
            .fetch_one(store.pool())
            .await
            .expect("create partition over rows held by DEFAULT");
        assert!(created);
        let part: String = sqlx::query_scalar("SELECT tableoid::regclass::text FROM readings")
            .fetch_one(store.pool())
            .await
            .unwrap();
        assert_eq!(part, day.format("readings_p%Y%m%d").to_string());
        assert_eq!(store.count_readings().await.unwrap(), 1);
    })
    .catch_unwind()
    .await;
    drop_pg_database(&admin_url, &name).await;
    if let Err(panic) = result {
        std::panic::resume_unwind(panic);
    }
}
