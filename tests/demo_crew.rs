//! The demo crew on a controlled clock: six hours of a working Monday in the demo city, two
//! new incidents a minute (as the demo's rules raise them), the dispatch desk and the crew
//! taking their rounds. Every incident goes round the loop through the normal commands,
//! named in the event log after the demo users; some are returned, reworked or late; and
//! the open count levels off instead of growing with every incident.

use cityops::clock::{Clock, ManualClock};
use cityops::config::DemoConfig;
use cityops::demo::crew::{Crew, Pace};
use cityops::incidents::desk::Desk;
use cityops::model::{IncidentStatus, Severity, Timestamp};
use cityops::spatial::City;
use cityops::store::{IncidentFilter, NewIncident, SharedStore, SqliteStore};
use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

const MINUTE: i64 = 60_000_000;

#[tokio::test]
async fn the_demo_city_settles() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let city = City::load(&root.join("city/demo")).expect("demo city");
    let store: SharedStore = Arc::new(
        SqliteStore::open("sqlite::memory:", 10)
            .await
            .expect("store"),
    );
    cityops::demo::ensure_users(&store, &city, &cityops::clock::SystemClock)
        .await
        .expect("demo users");
    let desk = Arc::new(Desk::load(&root.join("rules"), &city, 30 * MINUTE).expect("desk"));
    // Monday 30 November 2026, 08:00 local (+08:00), a working day.
    let clock = ManualClock::new(Timestamp::parse_rfc3339("2026-11-30T08:00:00+08:00").unwrap());
    let demo = DemoConfig::default();
    let mut crew = Crew::load(
        &store,
        &city,
        desk.clone(),
        Pace::from_config(&demo),
        demo.seed,
        clock.as_ref(),
    )
    .await
    .expect("crew");
    // Nobody listens live here; a closed channel refuses at once.
    let (live, _) = tokio::sync::mpsc::channel(1);
    let incidents = cityops::incidents::Incidents::new(store.clone(), live);

    let sensors: Vec<_> = city
        .sensors()
        .filter(|s| s.location.grid.is_some())
        .take(400)
        .cloned()
        .collect();
    let kinds = [
        ("water_level", Severity::Orange),
        ("manhole_cover", Severity::Yellow),
        ("0102", Severity::Blue),
        ("power_supply", Severity::Orange),
    ];
    let mut opened = 0usize;
    let mut open_by_hour = Vec::new();
    for minute in 0..6 * 60 {
        let now = clock.now();
        for k in 0..2 {
            let n = minute * 2 + k;
            let s = &sensors[n % sensors.len()];
            let (category, severity) = kinds[n % kinds.len()];
            let (incident, created) = store
                .open_incident(&NewIncident {
                    dedup_key: format!("test:{n}"),
                    category: category.into(),
                    severity,
                    title: format!("{category} at {}", s.id),
                    source: Some(s.id.to_string()),
                    location: s.location.clone(),
                    opened_at: now,
                    peak: None,
                    rule: Some("demo-test".into()),
                    description: None,
                })
                .await
                .expect("open");
            assert!(created);
            opened += 1;
            desk.auto_dispatch(&incidents, &incident, now)
                .await
                .expect("auto dispatch");
        }
        if minute % 5 == 0 {
            desk.escalate_overdue(&incidents, now)
                .await
                .expect("escalate");
        }
        for _ in 0..6 {
            crew.round(&incidents, clock.now()).await.expect("round");
            clock.advance_micros(10_000_000);
        }
        if minute % 60 == 59 {
            open_by_hour.push(open_count(&store).await);
        }
    }

    // Levels off: the last three hours' open counts stay within a narrow band, far below
    // the 720 incidents opened (without the crew every one of them would still be open).
    let tail = &open_by_hour[3..];
    let (lo, hi) = (*tail.iter().min().unwrap(), *tail.iter().max().unwrap());
    assert!(
        hi < opened / 5,
        "open by hour {open_by_hour:?} of {opened} opened"
    );
    assert!(
        hi * 10 <= lo * 13 + 10,
        "not level: open by hour {open_by_hour:?}"
    );

    // Every step through the normal commands, by the demo users.
    let all = store
        .incidents(&IncidentFilter::default())
        .await
        .expect("incidents");
    let closed = all
        .iter()
        .filter(|i| i.status == IncidentStatus::Closed)
        .count();
    assert!(closed * 10 >= opened * 8, "{closed} of {opened} closed");
    let mut actors: HashMap<String, HashMap<String, usize>> = HashMap::new();
    let mut late = 0;
    for i in &all {
        let events = store.incident_events(i.id).await.expect("events");
        for e in &events {
            *actors
                .entry(e.action.clone())
                .or_default()
                .entry(e.actor.clone())
                .or_default() += 1;
        }
        if events.iter().any(|e| e.action == "supervise") {
            late += 1;
        }
    }
    let by = |action: &str| actors.get(action).cloned().unwrap_or_default();
    let only = |action: &str, ok: &dyn Fn(&str) -> bool| {
        let who = by(action);
        assert!(!who.is_empty(), "no {action} at all: {actors:?}");
        assert!(who.keys().all(|a| ok(a)), "{action} by {who:?}");
    };
    let staff = |a: &str| a == "user:water" || a.starts_with("user:staff-");
    only("acknowledge", &staff);
    only("start", &staff);
    only("feedback", &staff);
    only("return", &staff);
    only("verify", &|a| {
        a == "user:grid" || a.starts_with("user:patrol-") || a == "user:dispatcher"
    });
    only("rework", &|a| {
        a == "user:grid" || a.starts_with("user:patrol-") || a == "user:dispatcher"
    });
    only("close", &|a| a == "user:dispatcher");
    assert!(
        by("verify").keys().any(|a| a.starts_with("user:patrol-")),
        "grid workers verify: {:?}",
        by("verify")
    );
    // Mostly on time, some late (the desk supervised them).
    assert!(
        late > 0 && late * 5 < opened,
        "{late} of {opened} supervised"
    );
}

async fn open_count(store: &SharedStore) -> usize {
    store
        .incidents(&IncidentFilter {
            open_only: true,
            ..Default::default()
        })
        .await
        .expect("open incidents")
        .len()
}
