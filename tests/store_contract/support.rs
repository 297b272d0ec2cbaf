//! Fresh databases for the store contract tests, and builders of test data.

use super::*;
use cityops::store::{RuleChange, StoreError, StoreResult};
use futures::FutureExt;
use sqlx::{AssertSqlSafe, Connection, PgConnection};
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::time::Duration;

// ---------------------------------------------------------------------------------------
// Fresh databases

/// A store on a database of its own, and what it takes to throw that database away.
pub struct TestDb {
    store: SharedStore,
    cleanup: Cleanup,
}

pub enum Cleanup {
    Dir(#[allow(dead_code)] tempfile::TempDir),
    PgDatabase { admin_url: String, name: String },
}

impl TestDb {
    /// Runs `test` and then drops the database, also when the test panics.
    pub async fn run<F, Fut>(self, test: F)
    where
        F: FnOnce(SharedStore) -> Fut,
        Fut: Future<Output = ()>,
    {
        let result = AssertUnwindSafe(test(self.store.clone()))
            .catch_unwind()
            .await;
        drop(self.store);
        if let Cleanup::PgDatabase { admin_url, name } = &self.cleanup {
            drop_pg_database(admin_url, name).await;
        }
        if let Err(panic) = result {
            std::panic::resume_unwind(panic);
        }
    }
}

pub async fn make_sqlite_store() -> Option<TestDb> {
    let dir = tempfile::tempdir().expect("temp dir");
    let url = format!("sqlite://{}/nested/cityops.db", dir.path().display());
    let store = SqliteStore::open(&url, DEAD_LETTER_LIMIT)
        .await
        .expect("open sqlite store");
    Some(TestDb {
        store: Arc::new(store),
        cleanup: Cleanup::Dir(dir),
    })
}

pub async fn make_pg_store() -> Option<TestDb> {
    let (url, admin_url, name) = fresh_pg_database().await?;
    let store = PgStore::open(&url, DEAD_LETTER_LIMIT)
        .await
        .expect("open postgres store");
    Some(TestDb {
        store: Arc::new(store),
        cleanup: Cleanup::PgDatabase { admin_url, name },
    })
}

/// Creates an empty database with a random name; returns its URL, the admin URL and the
/// name. `None` (after a notice) when no server is reachable and `CI` is not set.
pub async fn fresh_pg_database() -> Option<(String, String, String)> {
    let admin_url = std::env::var("CITYOPS_TEST_PG_ADMIN_URL")
        .unwrap_or_else(|_| DEFAULT_PG_ADMIN_URL.to_owned());
    let connected =
        tokio::time::timeout(Duration::from_secs(5), PgConnection::connect(&admin_url)).await;
    let mut admin = match connected {
        Ok(Ok(conn)) => conn,
        Ok(Err(e)) => return pg_unreachable(&admin_url, &e.to_string()),
        Err(_) => return pg_unreachable(&admin_url, "timed out"),
    };
    let name = format!("cityops_test_{}", uuid::Uuid::now_v7().simple());
    sqlx::query(AssertSqlSafe(format!("CREATE DATABASE \"{name}\"")))
        .execute(&mut admin)
        .await
        .expect("create test database");
    let _ = admin.close().await;
    Some((with_database(&admin_url, &name), admin_url, name))
}

pub fn pg_unreachable<T>(url: &str, why: &str) -> Option<T> {
    let msg = format!(
        "PostgreSQL at {url} is not reachable ({why}); run scripts/test-postgres.sh or set \
         CITYOPS_TEST_PG_ADMIN_URL"
    );
    if std::env::var_os("CI").is_some() {
        panic!("{msg}");
    }
    eprintln!("skipping PostgreSQL test: {msg}");
    None
}

/// The admin URL with its database replaced by `name`.
pub fn with_database(admin_url: &str, name: &str) -> String {
    let (base, query) = match admin_url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (admin_url, None),
    };
    let scheme_end = base.find("://").map_or(0, |i| i + 3);
    let server = match base[scheme_end..].find('/') {
        Some(i) => &base[..scheme_end + i],
        None => base,
    };
    match query {
        Some(q) => format!("{server}/{name}?{q}"),
        None => format!("{server}/{name}"),
    }
}

pub async fn drop_pg_database(admin_url: &str, name: &str) {
    if let Ok(mut admin) = PgConnection::connect(admin_url).await {
        let sql = format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)");
        if let Err(e) = sqlx::query(AssertSqlSafe(sql)).execute(&mut admin).await {
            eprintln!("could not drop test database {name}: {e}");
        }
        let _ = admin.close().await;
    }
}

// ---------------------------------------------------------------------------------------
// Builders

pub fn loc(district: &str) -> Location {
    Location {
        lon: 116.4,
        lat: 39.9,
        grid: Some(format!("{district}-g1")),
        street: Some(format!("{district}-s1")),
        district: Some(district.to_owned()),
    }
}

pub fn sensor(id: &str, kind: &str, district: &str) -> SensorInfo {
    SensorInfo {
        id: SensorId::new(id),
        kind: kind.to_owned(),
        name: format!("sensor {id}"),
        metrics: vec![
            MetricSpec {
                name: "level".into(),
                unit: "m".into(),
                min: 0.0,
                max: 10.0,
            },
            MetricSpec {
                name: "battery".into(),
                unit: "%".into(),
                min: 0.0,
                max: 100.0,
            },
        ],
        location: loc(district),
    }
}

pub fn camera(id: &str, district: &str) -> CameraInfo {
    CameraInfo {
        id: CameraId::new(id),
        name: format!("camera {id}"),
        location: loc(district),
    }
}

pub fn reading(sensor: &str, metric: &str, time: i64, value: f64) -> Reading {
    Reading {
        sensor: SensorId::new(sensor),
        metric: metric.to_owned(),
        time: Timestamp(time),
        value,
    }
}

pub fn alert(source_id: &str, time: i64) -> VideoAlert {
    VideoAlert {
        source_id: source_id.to_owned(),
        camera: CameraId::new("CAM-1"),
        event_type: "smoke".into(),
        confidence: 0.9,
        time: Timestamp(time),
        snapshot_url: Some(format!("https://video.example/{source_id}.jpg")),
        location: loc("d1"),
    }
}

pub fn dead_letter(n: u8) -> DeadLetter {
    DeadLetter {
        received_at: Timestamp(T0 + i64::from(n) * SEC),
        source: "mqtt:city/sensors/x".into(),
        reason: RejectReason::Malformed,
        detail: format!("letter {n}"),
        // Not UTF-8, with a NUL: must come back byte for byte.
        raw: vec![0xff, 0xfe, 0x00, n, 0x80, b'{'],
    }
}

pub fn new_incident(key: &str, district: &str, at: i64) -> NewIncident {
    NewIncident {
        dedup_key: key.to_owned(),
        category: "waterlogging".into(),
        severity: Severity::Orange,
        title: format!("water at {key}"),
        source: Some("WL-1".into()),
        location: loc(district),
        opened_at: Timestamp(at),
        peak: Some(0.5),
        rule: None,
        description: None,
    }
}

/// An incident as the rules engine opens it: raised by `rule`, with a description.
pub fn rule_incident(key: &str, rule: &str, at: i64) -> NewIncident {
    NewIncident {
        rule: Some(rule.to_owned()),
        description: Some(format!("{rule}: water above the kerb")),
        ..new_incident(key, "d1", at)
    }
}

pub fn readings_batch(readings: Vec<Reading>) -> IngestBatch {
    IngestBatch {
        readings,
        ..Default::default()
    }
}

// ---------------------------------------------------------------------------------------
// Single rule changes by incident id, through the set-based rules step

/// The open incident with this id: `NotFound` if there is none, `Conflict` if it is final.
async fn open_by_id(store: &SharedStore, id: IncidentId, what: &str) -> StoreResult<Incident> {
    let i = store
        .incident(id)
        .await?
        .ok_or_else(|| StoreError::NotFound(format!("incident {id}")))?;
    if i.status.is_final() {
        return Err(StoreError::Conflict(format!(
            "incident {id} is {}; cannot {what}",
            i.status.as_str()
        )));
    }
    Ok(i)
}

/// One change for the open incident `id`, and the incident afterwards.
async fn change(
    store: &SharedStore,
    id: IncidentId,
    what: &str,
    c: impl FnOnce(String) -> RuleChange,
) -> StoreResult<Incident> {
    let i = open_by_id(store, id, what).await?;
    store
        .write_rule_change(c(i.dedup_key))
        .await?
        .ok_or_else(|| StoreError::Conflict(format!("incident {id} was closed meanwhile")))
}

/// `evidence` more pieces of evidence for the open incident `id`.
pub async fn touch(
    store: &SharedStore,
    id: IncidentId,
    seen: Timestamp,
    evidence: i64,
    peak: Option<f64>,
) -> StoreResult<Incident> {
    change(store, id, "add evidence", |key| RuleChange::Evidence {
        key,
        count: evidence,
        last: seen,
        peak,
    })
    .await
}

/// A level change of the open incident `id`.
pub async fn set_severity(
    store: &SharedStore,
    id: IncidentId,
    to: Severity,
    at: Timestamp,
    actor: &str,
    note: &str,
) -> StoreResult<Incident> {
    change(store, id, "change its severity", |key| {
        RuleChange::Severity {
            key,
            to,
            at,
            actor: actor.to_owned(),
            note: note.to_owned(),
        }
    })
    .await
}

/// The rule of the open incident `id` fires again.
pub async fn refire(
    store: &SharedStore,
    id: IncidentId,
    at: Timestamp,
    actor: &str,
) -> StoreResult<Incident> {
    let i = open_by_id(store, id, "refire it").await?;
    let rule = actor.strip_prefix("rule:").map(str::to_owned);
    change(store, id, "refire it", |key| {
        RuleChange::Open(NewIncident {
            dedup_key: key,
            category: i.category.clone(),
            severity: i.severity,
            title: i.title.clone(),
            source: i.source.clone(),
            location: i.location.clone(),
            opened_at: at,
            peak: None,
            rule,
            description: None,
        })
    })
    .await
}

/// Records `record` and opens the incident `key` with it, in one step: the report is
/// committed with its incident or not at all.
pub async fn record_report(
    store: &SharedStore,
    record: &cityops::store::ReportRecord,
    key: &str,
) -> StoreResult<cityops::store::RuleOutcome> {
    store
        .write_rules(&cityops::store::RuleWrite {
            changes: vec![RuleChange::Open(new_incident(key, "d1", T0))],
            report: Some(record.clone()),
            ..Default::default()
        })
        .await
}

/// A closed-loop command through the incidents handle, with nobody listening live.
pub async fn act(
    store: &SharedStore,
    id: IncidentId,
    actor: &Actor,
    command: &cityops::incidents::lifecycle::Command,
    expected_version: Option<i64>,
    now: Timestamp,
    due: impl Fn(&Incident) -> cityops::incidents::lifecycle::DueTimes,
) -> Result<Incident, cityops::incidents::act::ActError> {
    incidents(store)
        .act(id, actor, command, expected_version, now, due)
        .await
}

/// The incidents handle over `store`, with nobody listening live.
pub fn incidents(store: &SharedStore) -> cityops::incidents::Incidents {
    let (live, _) = tokio::sync::mpsc::channel(1);
    cityops::incidents::Incidents::new(store.clone(), live)
}
