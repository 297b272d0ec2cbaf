//! The contract of what the rules engine asks of incidents: the event log, severity
//! changes, clearing without closing, refiring, and its saved state.

use super::incidents::actions;
use super::*;
use cityops::store::StoreError;

/// An event as the tests spell it: (action, actor, from, to, note, seconds after T0).
type Ev<'a> = (
    &'a str,
    &'a str,
    Option<&'a str>,
    Option<&'a str>,
    Option<&'a str>,
    i64,
);

fn spelled(events: &[IncidentEvent]) -> Vec<Ev<'_>> {
    events
        .iter()
        .map(|e| {
            (
                e.action.as_str(),
                e.actor.as_str(),
                e.from.as_deref(),
                e.to.as_deref(),
                e.note.as_deref(),
                (e.at.micros() - T0) / SEC,
            )
        })
        .collect()
}

pub async fn open_writes_an_opened_event(store: SharedStore) {
    let (inc, created) = store
        .open_incident(&rule_incident("k1", "water_high", T0))
        .await
        .unwrap();
    assert!(created);
    assert_eq!(inc.rule.as_deref(), Some("water_high"));
    assert_eq!(
        inc.description.as_deref(),
        Some("water_high: water above the kerb")
    );
    assert_eq!(store.incident(inc.id).await.unwrap(), Some(inc.clone()));
    let events = store.incident_events(inc.id).await.unwrap();
    assert_eq!(
        spelled(&events),
        vec![("opened", "rule:water_high", None, Some("orange"), None, 0)]
    );
    assert!(events.iter().all(|e| e.incident == inc.id));

    // Finding the open one again is not a change: no second event.
    let (_, created) = store
        .open_incident(&rule_incident("k1", "water_high", T0 + SEC))
        .await
        .unwrap();
    assert!(!created);
    assert_eq!(store.incident_events(inc.id).await.unwrap(), events);

    // Without a rule the system is the actor.
    let (plain, _) = store
        .open_incident(&new_incident("k2", "d1", T0))
        .await
        .unwrap();
    assert_eq!((plain.rule, plain.description), (None, None));
    let events = store.incident_events(plain.id).await.unwrap();
    assert_eq!(events[0].actor, "system");

    assert!(
        store
            .incident_events(IncidentId::new_v7())
            .await
            .unwrap()
            .is_empty()
    );
}

pub async fn set_severity_escalates_and_steps_down(store: SharedStore) {
    let (inc, _) = store
        .open_incident(&rule_incident("k1", "r", T0))
        .await
        .unwrap();
    let up = set_severity(
        &store,
        inc.id,
        Severity::Red,
        Timestamp(T0 + 10 * SEC),
        "rule:r",
        "level 0.9",
    )
    .await
    .unwrap();
    assert_eq!((up.severity, up.version), (Severity::Red, 2));
    let down = set_severity(
        &store,
        inc.id,
        Severity::Yellow,
        Timestamp(T0 + 20 * SEC),
        "rule:r",
        "level 0.3",
    )
    .await
    .unwrap();
    assert_eq!((down.severity, down.version), (Severity::Yellow, 3));
    assert_eq!(store.incident(inc.id).await.unwrap(), Some(down.clone()));

    // The same severity again is no change: same version, no event.
    let same = set_severity(
        &store,
        inc.id,
        Severity::Yellow,
        Timestamp(T0 + 30 * SEC),
        "rule:r",
        "again",
    )
    .await
    .unwrap();
    assert_eq!(same, down);

    assert_eq!(
        spelled(&store.incident_events(inc.id).await.unwrap()),
        vec![
            ("opened", "rule:r", None, Some("orange"), None, 0),
            (
                "severity",
                "rule:r",
                Some("orange"),
                Some("red"),
                Some("level 0.9"),
                10
            ),
            (
                "severity",
                "rule:r",
                Some("red"),
                Some("yellow"),
                Some("level 0.3"),
                20
            ),
        ]
    );

    let missing = set_severity(
        &store,
        IncidentId::new_v7(),
        Severity::Red,
        Timestamp(T0),
        "x",
        "",
    )
    .await;
    assert!(
        matches!(missing, Err(StoreError::NotFound(_))),
        "{missing:?}"
    );

    // A closed incident's severity is settled.
    store
        .clear_incident("k1", Timestamp(T0 + 40 * SEC), true)
        .await
        .unwrap();
    let closed = set_severity(
        &store,
        inc.id,
        Severity::Red,
        Timestamp(T0 + 50 * SEC),
        "x",
        "",
    )
    .await;
    assert!(matches!(closed, Err(StoreError::Conflict(_))), "{closed:?}");
}

pub async fn clear_without_close_keeps_it_open(store: SharedStore) {
    let (inc, _) = store
        .open_incident(&rule_incident("k1", "r", T0))
        .await
        .unwrap();
    let cleared = store
        .clear_incident("k1", Timestamp(T0 + 60 * SEC), false)
        .await
        .unwrap()
        .expect("an open incident");
    assert_eq!(cleared.id, inc.id);
    assert_eq!(cleared.status, IncidentStatus::Discovered);
    assert_eq!(cleared.cleared_at, Some(Timestamp(T0 + 60 * SEC)));
    assert_eq!((cleared.closed_at, cleared.version), (None, 2));

    // Still the open incident of its key: opening finds it, listing shows it.
    let (again, created) = store
        .open_incident(&rule_incident("k1", "r", T0 + 70 * SEC))
        .await
        .unwrap();
    assert!(!created);
    assert_eq!(again, cleared);
    let open = store
        .incidents(&IncidentFilter {
            open_only: true,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(open, vec![cleared.clone()]);

    // Clearing a cleared condition changes nothing.
    let twice = store
        .clear_incident("k1", Timestamp(T0 + 80 * SEC), false)
        .await
        .unwrap();
    assert_eq!(twice, Some(cleared));
    assert_eq!(
        actions(&store.incident_events(inc.id).await.unwrap()),
        vec!["opened", "cleared"]
    );
}

pub async fn refire_then_clear_and_close(store: SharedStore) {
    let (inc, _) = store
        .open_incident(&rule_incident("k1", "r", T0))
        .await
        .unwrap();
    // Not cleared: refiring is a no-op.
    let same = refire(&store, inc.id, Timestamp(T0 + 5 * SEC), "rule:r")
        .await
        .unwrap();
    assert_eq!(same, inc);

    store
        .clear_incident("k1", Timestamp(T0 + 10 * SEC), false)
        .await
        .unwrap();
    let refired = refire(&store, inc.id, Timestamp(T0 + 20 * SEC), "rule:r")
        .await
        .unwrap();
    assert_eq!((refired.cleared_at, refired.version), (None, 3));
    assert_eq!(refired.status, IncidentStatus::Discovered);
    assert_eq!(store.incident(inc.id).await.unwrap(), Some(refired));

    store
        .clear_incident("k1", Timestamp(T0 + 30 * SEC), false)
        .await
        .unwrap();
    // Closing a cleared one keeps the time its condition cleared.
    let closed = store
        .clear_incident("k1", Timestamp(T0 + 90 * SEC), true)
        .await
        .unwrap()
        .expect("still open");
    assert_eq!(closed.status, IncidentStatus::Closed);
    assert_eq!(closed.cleared_at, Some(Timestamp(T0 + 30 * SEC)));
    assert_eq!(closed.closed_at, Some(Timestamp(T0 + 90 * SEC)));
    assert_eq!(closed.version, 5);

    let note = Some("auto-closed: condition cleared");
    assert_eq!(
        spelled(&store.incident_events(inc.id).await.unwrap()),
        vec![
            ("opened", "rule:r", None, Some("orange"), None, 0),
            // The condition clearing and the auto-close are the system's doing.
            ("cleared", "system", None, None, None, 10),
            ("refired", "rule:r", None, None, None, 20),
            ("cleared", "system", None, None, None, 30),
            (
                "closed",
                "system",
                Some("discovered"),
                Some("closed"),
                note,
                90
            ),
        ],
        "oldest first"
    );

    // Closed is final: no clear, no refire; the next firing opens a new incident.
    assert_eq!(
        store
            .clear_incident("k1", Timestamp(T0 + 95 * SEC), true)
            .await
            .unwrap(),
        None
    );
    let refired = refire(&store, inc.id, Timestamp(T0 + 95 * SEC), "rule:r").await;
    assert!(
        matches!(refired, Err(StoreError::Conflict(_))),
        "{refired:?}"
    );
    let missing = refire(&store, IncidentId::new_v7(), Timestamp(T0), "rule:r").await;
    assert!(
        matches!(missing, Err(StoreError::NotFound(_))),
        "{missing:?}"
    );
    let (next, created) = store
        .open_incident(&rule_incident("k1", "r", T0 + 100 * SEC))
        .await
        .unwrap();
    assert!(created && next.id != inc.id);
}

/// Changes racing on one incident queue up: every version step has its event, and each
/// severity event starts where the one before ended.
pub async fn concurrent_changes_keep_the_log_in_step(store: SharedStore) {
    let (inc, _) = store
        .open_incident(&rule_incident("k1", "r", T0))
        .await
        .unwrap();
    let tasks: Vec<_> = (0..12)
        .map(|i| {
            let store = store.clone();
            let level = [Severity::Red, Severity::Yellow, Severity::Blue][i % 3];
            let at = Timestamp(T0 + (i as i64 + 1) * SEC);
            tokio::spawn(async move { set_severity(&store, inc.id, level, at, "rule:r", "").await })
        })
        .collect();
    for t in tasks {
        t.await.expect("task").expect("set severity");
    }
    let now = store.incident(inc.id).await.unwrap().expect("exists");
    let events = store.incident_events(inc.id).await.unwrap();
    assert_eq!(
        events.len() as i64,
        now.version,
        "one event per version step"
    );
    for pair in events.windows(2) {
        assert_eq!(pair[1].from, pair[0].to, "{events:?}");
    }
    let last = events.last().and_then(|e| e.to.as_deref());
    assert_eq!(last, Some(now.severity.as_str()));
}

pub async fn rule_state_round_trips(store: SharedStore) {
    let s = |v: &str| Some(v.to_owned());
    let k = |k: &str| k.to_owned();
    assert!(store.rule_state().await.unwrap().is_empty());
    store.save_rule_state(&[]).await.unwrap();

    let pending = r#"{"since":"2023-11-14T22:13:20Z","level":"红色 I"}"#;
    store
        .save_rule_state(&[(k("b"), s("{}")), (k("a"), s(pending))])
        .await
        .unwrap();
    assert_eq!(
        store.rule_state().await.unwrap(),
        vec![(k("a"), k(pending)), (k("b"), k("{}"))],
        "by key, byte for byte"
    );

    // Overwrite, delete and insert in one call; deleting a missing key is fine.
    store
        .save_rule_state(&[
            (k("a"), s("[1]")),
            (k("b"), None),
            (k("c"), s("3")),
            (k("zz"), None),
        ])
        .await
        .unwrap();
    assert_eq!(
        store.rule_state().await.unwrap(),
        vec![(k("a"), k("[1]")), (k("c"), k("3"))]
    );

    // A key changed twice in one call ends as its last change.
    store
        .save_rule_state(&[
            (k("a"), None),
            (k("a"), s("[2]")),
            (k("c"), s("4")),
            (k("c"), None),
        ])
        .await
        .unwrap();
    assert_eq!(store.rule_state().await.unwrap(), vec![(k("a"), k("[2]"))]);
}
