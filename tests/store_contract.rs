//! The contract every `Store` backend keeps: one suite of tests written against
//! `SharedStore`, instantiated for SQLite and PostgreSQL by `store_contract_tests!`.
//!
//! Each test gets a fresh database: SQLite in a temporary directory, PostgreSQL a newly
//! created database with a random name (dropped afterwards, best effort), so tests never
//! see each other's rows and can run in parallel. PostgreSQL is reached through
//! `CITYOPS_TEST_PG_ADMIN_URL` (default below; `scripts/test-postgres.sh` sets one up).
//! Without a server the PostgreSQL tests are skipped, unless `CI` is set: then they fail.

use attachments::*;
use cityops::model::*;
use cityops::store::{IncidentFilter, IngestBatch, NewIncident, PgStore, SharedStore, SqliteStore};
use closed_loop::*;
use evaluation::*;
use handling::*;
use incidents::*;
use lifecycle::*;
use std::sync::Arc;
use support::*;
use users::*;

#[path = "store_contract/attachments.rs"]
mod attachments;
#[path = "store_contract/backend_specific.rs"]
mod backend_specific;
#[path = "store_contract/closed_loop.rs"]
mod closed_loop;
#[path = "store_contract/evaluation.rs"]
mod evaluation;
#[path = "store_contract/handling.rs"]
mod handling;
#[path = "store_contract/incidents.rs"]
mod incidents;
#[path = "store_contract/lifecycle.rs"]
mod lifecycle;
#[path = "store_contract/support.rs"]
mod support;
#[path = "store_contract/users.rs"]
mod users;

pub const DEFAULT_PG_ADMIN_URL: &str = "postgres://cityops:cityops@127.0.0.1:5432/postgres";
const DEAD_LETTER_LIMIT: u32 = 5;
/// 2023-11-14T22:13:20Z, a fixed event time so results never depend on the wall clock.
const T0: i64 = 1_700_000_000_000_000;
const SEC: i64 = 1_000_000;
const DAY: i64 = 86_400 * SEC;

// ---------------------------------------------------------------------------------------
// The contract

async fn ping_and_backend(store: SharedStore) {
    store.ping().await.expect("ping");
    assert!(["sqlite", "postgres"].contains(&store.backend()));
}

async fn readings_are_idempotent(store: SharedStore) {
    let batch = readings_batch(
        (0..50)
            .map(|i| reading("WL-1", "level", T0 + i * SEC, i as f64))
            .collect(),
    );
    let first = store.write_batch(&batch).await.expect("first write");
    assert_eq!(first.readings_new, vec![true; 50]);
    assert_eq!(store.count_readings().await.unwrap(), 50);

    let second = store.write_batch(&batch).await.expect("second write");
    assert_eq!(second.readings_new, vec![false; 50]);
    assert_eq!(store.count_readings().await.unwrap(), 50);
}

async fn duplicates_within_a_batch(store: SharedStore) {
    let batch = readings_batch(vec![
        reading("WL-1", "level", T0, 1.0),
        reading("WL-1", "level", T0, 2.0),
        reading("WL-1", "battery", T0, 90.0),
        reading("WL-1", "level", T0, 3.0),
        reading("WL-2", "level", T0, 4.0),
    ]);
    let out = store.write_batch(&batch).await.unwrap();
    assert_eq!(out.readings_new, vec![true, false, true, false, true]);
    assert_eq!(store.count_readings().await.unwrap(), 3);
    let stored = store
        .readings(
            &SensorId::new("WL-1"),
            Some("level"),
            Timestamp(T0),
            Timestamp(T0 + 1),
            10,
        )
        .await
        .unwrap();
    assert_eq!(stored.len(), 1);
    assert_eq!(
        stored[0].value, 1.0,
        "the first occurrence is the one stored"
    );

    // A batch mixing stored and new keys reports each one.
    let out = store
        .write_batch(&readings_batch(vec![
            reading("WL-1", "level", T0, 9.0),
            reading("WL-1", "level", T0 + SEC, 5.0),
        ]))
        .await
        .unwrap();
    assert_eq!(out.readings_new, vec![false, true]);
}

async fn latest_value_only_moves_forward(store: SharedStore) {
    store
        .register_city(&[sensor("WL-1", "water_level", "d1")], &[])
        .await
        .unwrap();
    store
        .write_batch(&readings_batch(vec![
            reading("WL-1", "level", T0 + 10 * SEC, 1.0),
            reading("WL-1", "level", T0 + 20 * SEC, 2.0),
            reading("WL-1", "level", T0 + 15 * SEC, 1.5),
        ]))
        .await
        .unwrap();
    let latest = |states: Vec<cityops::store::SensorState>| {
        let l = &states[0].latest;
        l.iter()
            .find(|v| v.metric == "level")
            .map(|v| (v.time.micros(), v.value))
    };
    assert_eq!(
        latest(store.sensors(None, None).await.unwrap()),
        Some((T0 + 20 * SEC, 2.0))
    );

    // An older reading arriving later does not overwrite.
    store
        .write_batch(&readings_batch(vec![reading(
            "WL-1",
            "level",
            T0 + 5 * SEC,
            0.5,
        )]))
        .await
        .unwrap();
    assert_eq!(
        latest(store.sensors(None, None).await.unwrap()),
        Some((T0 + 20 * SEC, 2.0))
    );

    // A newer one does.
    store
        .write_batch(&readings_batch(vec![reading(
            "WL-1",
            "level",
            T0 + 30 * SEC,
            3.0,
        )]))
        .await
        .unwrap();
    assert_eq!(
        latest(store.sensors(None, None).await.unwrap()),
        Some((T0 + 30 * SEC, 3.0))
    );
}

async fn readings_range_limit_and_metric(store: SharedStore) {
    let mut rs: Vec<Reading> = (0..10)
        .map(|i| reading("WL-1", "level", T0 + i * SEC, i as f64))
        .collect();
    rs.extend((0..10).map(|i| reading("WL-1", "battery", T0 + i * SEC, 100.0 - i as f64)));
    rs.push(reading("WL-2", "level", T0 + 3 * SEC, 42.0));
    rs.reverse(); // storage order must not matter
    store.write_batch(&readings_batch(rs)).await.unwrap();
    let wl1 = SensorId::new("WL-1");

    // [from, to): from is included, to is not; oldest first.
    let got = store
        .readings(
            &wl1,
            Some("level"),
            Timestamp(T0 + 2 * SEC),
            Timestamp(T0 + 5 * SEC),
            100,
        )
        .await
        .unwrap();
    let times: Vec<i64> = got.iter().map(|r| (r.time.micros() - T0) / SEC).collect();
    assert_eq!(times, vec![2, 3, 4]);
    assert!(got.iter().all(|r| r.sensor == wl1 && r.metric == "level"));
    assert_eq!(got[0].value, 2.0);

    let got = store
        .readings(
            &wl1,
            Some("level"),
            Timestamp(T0),
            Timestamp(T0 + 100 * SEC),
            4,
        )
        .await
        .unwrap();
    assert_eq!(got.len(), 4);
    assert_eq!(got[3].time, Timestamp(T0 + 3 * SEC));

    // Without a metric filter both metrics come back, still oldest first.
    let got = store
        .readings(&wl1, None, Timestamp(T0), Timestamp(T0 + 2 * SEC), 100)
        .await
        .unwrap();
    assert_eq!(got.len(), 4);
    assert!(got.windows(2).all(|w| w[0].time <= w[1].time));

    let none = store
        .readings(
            &wl1,
            Some("level"),
            Timestamp(T0 + 5 * SEC),
            Timestamp(T0 + 5 * SEC),
            100,
        )
        .await
        .unwrap();
    assert!(none.is_empty());
    let other = store
        .readings(
            &SensorId::new("WL-2"),
            None,
            Timestamp(0),
            Timestamp(i64::MAX),
            100,
        )
        .await
        .unwrap();
    assert_eq!(other.len(), 1);
    assert_eq!(other[0].value, 42.0);
}

async fn sensors_filter_by_kind_and_district(store: SharedStore) {
    store
        .register_city(
            &[
                sensor("WL-1", "water_level", "d1"),
                sensor("WL-2", "water_level", "d2"),
                sensor("GAS-1", "gas", "d1"),
            ],
            &[camera("CAM-1", "d1")],
        )
        .await
        .unwrap();
    store
        .write_batch(&readings_batch(vec![
            reading("WL-1", "level", T0, 1.25),
            reading("WL-1", "battery", T0 + SEC, 88.0),
        ]))
        .await
        .unwrap();

    let all = store.sensors(None, None).await.unwrap();
    assert_eq!(
        all.iter().map(|s| s.info.id.as_str()).collect::<Vec<_>>(),
        vec!["GAS-1", "WL-1", "WL-2"]
    );
    let wl1 = all.iter().find(|s| s.info.id.as_str() == "WL-1").unwrap();
    assert_eq!(
        wl1.info,
        sensor("WL-1", "water_level", "d1"),
        "registry round-trips"
    );
    let mut latest: Vec<_> = wl1
        .latest
        .iter()
        .map(|l| (l.metric.as_str(), l.time.micros(), l.value))
        .collect();
    latest.sort_by(|a, b| a.0.cmp(b.0));
    assert_eq!(
        latest,
        vec![("battery", T0 + SEC, 88.0), ("level", T0, 1.25)]
    );
    assert!(
        all.iter()
            .find(|s| s.info.id.as_str() == "WL-2")
            .unwrap()
            .latest
            .is_empty()
    );

    let water = store.sensors(Some("water_level"), None).await.unwrap();
    assert_eq!(water.len(), 2);
    let d1 = store.sensors(None, Some("d1")).await.unwrap();
    assert_eq!(
        d1.iter().map(|s| s.info.id.as_str()).collect::<Vec<_>>(),
        vec!["GAS-1", "WL-1"]
    );
    let both = store
        .sensors(Some("water_level"), Some("d2"))
        .await
        .unwrap();
    assert_eq!(both.len(), 1);
    assert_eq!(both[0].info.id.as_str(), "WL-2");
    assert!(store.sensors(Some("nope"), None).await.unwrap().is_empty());
}

async fn register_city_upserts(store: SharedStore) {
    let mut s = sensor("WL-1", "water_level", "d1");
    store
        .register_city(&[s.clone()], &[camera("CAM-1", "d1")])
        .await
        .unwrap();
    s.name = "renamed".into();
    s.location = loc("d9");
    s.metrics.pop();
    store
        .register_city(&[s.clone()], &[camera("CAM-1", "d9")])
        .await
        .unwrap();
    let all = store.sensors(None, None).await.unwrap();
    assert_eq!(all.len(), 1);
    assert_eq!(all[0].info, s);
    // Empty registries are fine too.
    store.register_city(&[], &[]).await.unwrap();
}

async fn alerts_are_idempotent_by_source_id(store: SharedStore) {
    let batch = IngestBatch {
        alerts: vec![
            alert("a1", T0),
            alert("a2", T0 + SEC),
            alert("a1", T0 + 2 * SEC),
        ],
        ..Default::default()
    };
    let out = store.write_batch(&batch).await.unwrap();
    assert_eq!(out.alerts_new, vec![true, true, false]);
    let out = store.write_batch(&batch).await.unwrap();
    assert_eq!(out.alerts_new, vec![false, false, false]);

    let alerts = store.video_alerts(10).await.unwrap();
    assert_eq!(
        alerts,
        vec![alert("a2", T0 + SEC), alert("a1", T0)],
        "newest first, round-trips"
    );
    assert_eq!(store.video_alerts(1).await.unwrap().len(), 1);
}

async fn dead_letters_are_bounded_and_keep_raw_bytes(store: SharedStore) {
    for chunk in [0u8..3, 3..4, 4..9] {
        let batch = IngestBatch {
            dead_letters: chunk.map(dead_letter).collect(),
            ..Default::default()
        };
        store.write_batch(&batch).await.unwrap();
    }
    let kept = store.dead_letters(100).await.unwrap();
    let expected: Vec<DeadLetter> = (4..9).rev().map(dead_letter).collect();
    assert_eq!(kept.len(), DEAD_LETTER_LIMIT as usize);
    assert_eq!(
        kept, expected,
        "newest first, oldest dropped, raw bytes exact"
    );
    assert_eq!(store.dead_letters(2).await.unwrap(), expected[..2].to_vec());

    // One batch with more letters than the limit keeps its last ones.
    let batch = IngestBatch {
        dead_letters: (10..20).map(dead_letter).collect(),
        ..Default::default()
    };
    store.write_batch(&batch).await.unwrap();
    let kept = store.dead_letters(100).await.unwrap();
    assert_eq!(kept, (15..20).rev().map(dead_letter).collect::<Vec<_>>());
}

async fn mixed_batch_and_empty_batch(store: SharedStore) {
    let empty = store.write_batch(&IngestBatch::default()).await.unwrap();
    assert!(empty.readings_new.is_empty() && empty.alerts_new.is_empty());
    let batch = IngestBatch {
        readings: vec![reading("WL-1", "level", T0, 1.0)],
        alerts: vec![alert("a1", T0)],
        dead_letters: vec![dead_letter(1)],
    };
    let out = store.write_batch(&batch).await.unwrap();
    assert_eq!((out.readings_new, out.alerts_new), (vec![true], vec![true]));
    assert_eq!(store.count_readings().await.unwrap(), 1);
    assert_eq!(store.video_alerts(10).await.unwrap().len(), 1);
    assert_eq!(store.dead_letters(10).await.unwrap().len(), 1);
}

async fn large_batch(store: SharedStore) {
    // Bigger than any one multi-row statement, so chunking is exercised.
    let rs: Vec<Reading> = (0..5000)
        .map(|i| {
            reading(
                &format!("S-{}", i % 100),
                "level",
                T0 + (i / 100) * SEC,
                i as f64,
            )
        })
        .collect();
    let out = store
        .write_batch(&readings_batch(rs.clone()))
        .await
        .unwrap();
    assert!(out.readings_new.iter().all(|&n| n));
    let out = store.write_batch(&readings_batch(rs)).await.unwrap();
    assert!(out.readings_new.iter().all(|&n| !n));
    assert_eq!(store.count_readings().await.unwrap(), 5000);
}

/// Instantiates the whole contract for one backend: `$make` returns a fresh `TestDb`, or
/// `None` when the backend is unavailable and the test is to be skipped.
macro_rules! store_contract_tests {
    ($backend:ident, $make:path) => {
        store_contract_tests!(@each $backend, $make, [
            ping_and_backend,
            readings_are_idempotent,
            duplicates_within_a_batch,
            latest_value_only_moves_forward,
            readings_range_limit_and_metric,
            sensors_filter_by_kind_and_district,
            register_city_upserts,
            alerts_are_idempotent_by_source_id,
            dead_letters_are_bounded_and_keep_raw_bytes,
            mixed_batch_and_empty_batch,
            large_batch,
            open_incident_dedups_by_key,
            concurrent_opens_create_one,
            touch_adds_evidence,
            clear_closes_and_a_new_open_starts_over,
            incidents_filter,
            open_writes_an_opened_event,
            set_severity_escalates_and_steps_down,
            clear_without_close_keeps_it_open,
            refire_then_clear_and_close,
            concurrent_changes_keep_the_log_in_step,
            rule_state_round_trips,
            users_round_trip_and_names_are_unique,
            sessions_live_until_they_expire,
            touch_slides_a_session_forward_only,
            logout_and_logout_everywhere,
            password_change_and_disable_end_sessions,
            expired_sessions_are_swept,
            transition_round_trips_handling,
            transition_at_a_stale_version_conflicts,
            concurrent_transitions_one_wins,
            final_incidents_do_not_move,
            rejected_and_merged_free_their_key,
            incidents_filter_by_department_and_status,
            clear_closes_a_dispatched_incident,
            act_walks_the_whole_loop,
            two_dispatchers_at_once_one_wins,
            desk_dispatches_red_and_orange_at_once,
            overdue_incidents_are_escalated_across_a_weekend,
            reports_are_recorded_once_with_their_contact,
            attachments_round_trip_and_are_logged,
            attachments_are_bounded_and_final_incidents_take_none,
            concurrent_attachments_keep_the_limit,
            evaluation_figures_by_department_and_area,
            evaluation_figures_by_post_scope_and_bounds,
        ]);
    };
    (@each $backend:ident, $make:path, [$($name:ident),* $(,)?]) => {
        mod $backend {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let Some(db) = $make().await else { return };
                    db.run(super::$name).await;
                }
            )*
        }
    };
}

store_contract_tests!(sqlite, super::make_sqlite_store);
store_contract_tests!(postgres, super::make_pg_store);
