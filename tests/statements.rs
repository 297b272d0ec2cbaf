//! A storm must not cost a database round trip per firing incident: the rules' step is
//! written set-based. The statements are counted from sqlx's own statement log (tracing
//! target `sqlx::query`, one event per statement executed), on SQLite and PostgreSQL.
//! One test in this binary, so the global subscriber sees nothing else.

mod common;

use cityops::model::{Location, Severity, Timestamp};
use cityops::store::{NewIncident, RuleChange, RuleWrite, SharedStore, SqliteStore};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use tracing_subscriber::layer::{Context, SubscriberExt};

/// Counts the statements sqlx executes, and keeps their summaries for a failure message.
#[derive(Clone, Default)]
struct Statements {
    count: Arc<AtomicUsize>,
    seen: Arc<Mutex<Vec<String>>>,
}

struct Summary(String);

impl tracing::field::Visit for Summary {
    fn record_str(&mut self, field: &tracing::field::Field, value: &str) {
        if field.name() == "summary" {
            self.0 = value.to_owned();
        }
    }
    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        if field.name() == "summary" {
            self.0 = format!("{value:?}");
        }
    }
}

impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for Statements {
    fn on_event(&self, event: &tracing::Event<'_>, _: Context<'_, S>) {
        if event.metadata().target() == "sqlx::query" {
            let mut s = Summary(String::new());
            event.record(&mut s);
            // The SQLite writer's check, when a connection goes back to its pool, that it
            // is outside any transaction: not the step's, and it lands whenever the pool
            // gets to it.
            if s.0 == "BEGIN; ROLLBACK" {
                return;
            }
            self.count.fetch_add(1, Ordering::SeqCst);
            if let Ok(mut seen) = self.seen.lock() {
                seen.push(s.0);
            }
        }
    }
}

impl Statements {
    /// Runs `f` and returns how many statements it executed, and which.
    async fn during<F: std::future::Future<Output = ()>>(&self, f: F) -> (usize, Vec<String>) {
        let before = self.count.load(Ordering::SeqCst);
        self.seen.lock().unwrap().clear();
        f.await;
        (
            self.count.load(Ordering::SeqCst) - before,
            self.seen.lock().unwrap().clone(),
        )
    }
}

const T0: i64 = 1_780_000_000_000_000;

fn key(i: usize) -> String {
    format!("rule:water:WG-{i:05}")
}

fn open(i: usize) -> RuleChange {
    RuleChange::Open(NewIncident {
        dedup_key: key(i),
        category: "0406".into(),
        severity: Severity::Blue,
        title: format!("积水 at WG-{i:05}"),
        source: Some(format!("WG-{i:05}")),
        location: Location {
            lon: 103.0,
            lat: 30.0,
            grid: None,
            street: None,
            district: Some("d1".into()),
        },
        opened_at: Timestamp(T0),
        peak: Some(16.0),
        rule: Some("water".into()),
        description: None,
    })
}

/// What one batch of a storm asks of `n` firing keys: evidence for every one, a level
/// change for every one, the condition of every tenth clearing (every twentieth closes),
/// and the engine's state of each key.
fn storm_batch(n: usize, round: i64) -> RuleWrite {
    let at = Timestamp(T0 + round * 1_000_000);
    let mut changes = Vec::new();
    let mut state = Vec::new();
    for i in 0..n {
        changes.push(RuleChange::Evidence {
            key: key(i),
            count: 7,
            last: at,
            peak: Some(30.0 + round as f64),
        });
        changes.push(RuleChange::Severity {
            key: key(i),
            to: if round % 2 == 0 {
                Severity::Orange
            } else {
                Severity::Red
            },
            at,
            actor: "rule:water".into(),
            note: "escalated".into(),
        });
        if i % 10 == 0 {
            changes.push(RuleChange::Clear {
                key: key(i),
                at,
                close: i % 20 == 0,
            });
        }
        state.push((key(i), Some(format!("{{\"round\":{round}}}"))));
    }
    RuleWrite {
        changes,
        state,
        report: None,
    }
}

async fn check(store: SharedStore, statements: &Statements, backend: &str) {
    let (opening_big, _) = statements
        .during(async {
            let out = store
                .write_rules(&RuleWrite {
                    changes: (0..1000).map(open).collect(),
                    ..Default::default()
                })
                .await
                .unwrap();
            assert_eq!(out.opened.len(), 1000);
        })
        .await;

    let (small, small_seen) = statements
        .during(async {
            let out = store.write_rules(&storm_batch(10, 1)).await.unwrap();
            assert_eq!(out.changed.len(), 10);
        })
        .await;
    let (big, big_seen) = statements
        .during(async {
            let out = store.write_rules(&storm_batch(1000, 2)).await.unwrap();
            // Key 0, which the small batch closed, is gone; the rest all changed.
            assert_eq!(out.changed.len(), 999);
        })
        .await;
    assert_eq!(
        small, big,
        "{backend}: a batch for 1000 incidents issues as many statements as one for 10\n\
         10: {small_seen:#?}\n1000: {big_seen:#?}"
    );
    assert!(
        big <= 8,
        "{backend}: a step is a handful of statements: {big_seen:#?}"
    );
    assert!(
        opening_big <= 8,
        "{backend}: opening 1000 incidents at once took {opening_big} statements"
    );

    // And what they wrote is right: evidence summed, levels and clears logged.
    let i = store.open_incident_by_key(&key(3)).await.unwrap().unwrap();
    assert_eq!(i.count, 1 + 7 + 7);
    assert_eq!(i.severity, Severity::Orange);
    assert_eq!(i.peak, Some(32.0));
    let events = store.incident_events(i.id).await.unwrap();
    let actions: Vec<&str> = events.iter().map(|e| e.action.as_str()).collect();
    assert_eq!(actions, ["opened", "severity", "severity"]);
    let closed = store.open_incident_by_key(&key(20)).await.unwrap();
    assert!(closed.is_none(), "{backend}: key 20 was auto-closed");
    let state = store.rule_state().await.unwrap();
    assert_eq!(state.len(), 1000);
    assert!(state.iter().all(|(_, v)| v == "{\"round\":2}"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_storm_batch_costs_the_same_statements_for_1000_incidents_as_for_10() {
    let statements = Statements::default();
    tracing::subscriber::set_global_default(
        tracing_subscriber::registry()
            .with(statements.clone())
            .with(
                tracing_subscriber::filter::Targets::new()
                    .with_target("sqlx::query", tracing::Level::TRACE),
            ),
    )
    .expect("the only subscriber of this binary");

    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("s.db").display());
    let sqlite: SharedStore = Arc::new(SqliteStore::open(&url, 100).await.unwrap());
    check(sqlite, &statements, "sqlite").await;

    if let Some(db) = common::PgDb::create().await {
        let pg: SharedStore = Arc::new(cityops::store::PgStore::open(&db.url, 100).await.unwrap());
        check(pg, &statements, "postgres").await;
    }
}
