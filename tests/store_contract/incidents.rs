//! The incident contract: opening with dedup, evidence, clearing, listing.

use super::*;

/// The actions of an event log, in order.
pub fn actions(events: &[IncidentEvent]) -> Vec<&str> {
    events.iter().map(|e| e.action.as_str()).collect()
}

pub async fn open_incident_dedups_by_key(store: SharedStore) {
    let (first, created) = store
        .open_incident(&new_incident("k1", "d1", T0))
        .await
        .unwrap();
    assert!(created);
    assert_eq!(first.status, IncidentStatus::Discovered);
    assert_eq!((first.count, first.version, first.peak), (1, 1, Some(0.5)));
    assert_eq!(
        (first.opened_at, first.last_seen),
        (Timestamp(T0), Timestamp(T0))
    );
    assert_eq!(first.location, loc("d1"));

    let (again, created) = store
        .open_incident(&new_incident("k1", "d2", T0 + SEC))
        .await
        .unwrap();
    assert!(!created);
    assert_eq!(again, first, "the existing incident comes back unchanged");
    assert_eq!(store.incident(first.id).await.unwrap(), Some(first.clone()));
    assert_eq!(store.incident(IncidentId::new_v7()).await.unwrap(), None);
}

pub async fn concurrent_opens_create_one(store: SharedStore) {
    let tasks: Vec<_> = (0..8)
        .map(|_| {
            let store = store.clone();
            tokio::spawn(async move { store.open_incident(&rule_incident("race", "r", T0)).await })
        })
        .collect();
    let mut results = Vec::new();
    for t in tasks {
        results.push(t.await.expect("task").expect("open"));
    }
    assert_eq!(results.iter().filter(|(_, created)| *created).count(), 1);
    let id = results[0].0.id;
    assert!(results.iter().all(|(i, _)| i.id == id));
    let all = store.incidents(&IncidentFilter::default()).await.unwrap();
    assert_eq!(all.len(), 1);
    let events = store.incident_events(id).await.unwrap();
    assert_eq!(
        actions(&events),
        vec!["opened"],
        "only the winner logs an open"
    );
}

pub async fn touch_adds_evidence(store: SharedStore) {
    let (inc, _) = store
        .open_incident(&new_incident("k1", "d1", T0))
        .await
        .unwrap();
    let t = touch(&store, inc.id, Timestamp(T0 + 10 * SEC), 2, Some(0.9))
        .await
        .unwrap();
    assert_eq!(
        (t.count, t.version, t.peak, t.last_seen),
        (3, 1, Some(0.9), Timestamp(T0 + 10 * SEC))
    );
    // Older evidence and a smaller peak change neither last_seen nor peak.
    let t = touch(&store, inc.id, Timestamp(T0 + 5 * SEC), 1, Some(0.1))
        .await
        .unwrap();
    assert_eq!(
        (t.count, t.version, t.peak, t.last_seen),
        (4, 1, Some(0.9), Timestamp(T0 + 10 * SEC))
    );
    let t = touch(&store, inc.id, Timestamp(T0 + 11 * SEC), 1, None)
        .await
        .unwrap();
    assert_eq!(
        (t.count, t.version, t.peak),
        (5, 1, Some(0.9)),
        "evidence is not an edit: the version stays"
    );
    assert_eq!(store.incident(inc.id).await.unwrap(), Some(t));
    assert_eq!(
        actions(&store.incident_events(inc.id).await.unwrap()),
        vec!["opened"],
        "evidence is not logged"
    );

    // No peak yet: the first one given becomes the peak.
    let mut n = new_incident("k2", "d1", T0);
    n.peak = None;
    let (inc2, _) = store.open_incident(&n).await.unwrap();
    assert_eq!(inc2.peak, None);
    let t = touch(&store, inc2.id, Timestamp(T0), 1, Some(-3.0))
        .await
        .unwrap();
    assert_eq!(t.peak, Some(-3.0));

    assert!(
        touch(&store, IncidentId::new_v7(), Timestamp(T0), 1, None)
            .await
            .is_err()
    );
}

pub async fn clear_closes_and_a_new_open_starts_over(store: SharedStore) {
    let (inc, _) = store
        .open_incident(&new_incident("k1", "d1", T0))
        .await
        .unwrap();
    let closed = store
        .clear_incident("k1", Timestamp(T0 + 60 * SEC), true)
        .await
        .unwrap()
        .expect("closed");
    assert_eq!(closed.id, inc.id);
    assert_eq!(closed.status, IncidentStatus::Closed);
    assert_eq!(closed.cleared_at, Some(Timestamp(T0 + 60 * SEC)));
    assert_eq!(closed.closed_at, Some(Timestamp(T0 + 60 * SEC)));
    assert_eq!(closed.version, inc.version + 1);
    let events = store.incident_events(inc.id).await.unwrap();
    assert_eq!(actions(&events), vec!["opened", "cleared", "closed"]);
    let close = &events[2];
    assert_eq!(
        (
            close.from.as_deref(),
            close.to.as_deref(),
            close.note.as_deref()
        ),
        (
            Some("discovered"),
            Some("closed"),
            Some("auto-closed: condition cleared")
        )
    );
    assert!(
        events.iter().all(|e| e.actor == "system"),
        "no rule: system"
    );
    assert_eq!(events[1].at, Timestamp(T0 + 60 * SEC));
    assert_eq!(
        store
            .clear_incident("k1", Timestamp(T0 + 61 * SEC), true)
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        store
            .clear_incident("never", Timestamp(T0), true)
            .await
            .unwrap(),
        None
    );

    let (reopened, created) = store
        .open_incident(&new_incident("k1", "d1", T0 + 120 * SEC))
        .await
        .unwrap();
    assert!(created);
    assert_ne!(reopened.id, inc.id);
    assert_eq!(reopened.status, IncidentStatus::Discovered);
    assert_eq!(
        store.incident(inc.id).await.unwrap().map(|i| i.status),
        Some(IncidentStatus::Closed)
    );
}

pub async fn incidents_filter(store: SharedStore) {
    for (i, (key, district)) in [("a", "d1"), ("b", "d2"), ("c", "d1"), ("d", "d1")]
        .iter()
        .enumerate()
    {
        store
            .open_incident(&new_incident(key, district, T0 + i as i64 * SEC))
            .await
            .unwrap();
    }
    store
        .clear_incident("c", Timestamp(T0 + 10 * SEC), true)
        .await
        .unwrap();
    let keys = |v: Vec<Incident>| v.into_iter().map(|i| i.dedup_key).collect::<Vec<_>>();

    let all = store.incidents(&IncidentFilter::default()).await.unwrap();
    assert_eq!(keys(all), vec!["d", "c", "b", "a"], "newest first");
    let open = store
        .incidents(&IncidentFilter {
            open_only: true,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(keys(open), vec!["d", "b", "a"]);
    let d1 = store
        .incidents(&IncidentFilter {
            district: Some("d1".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(keys(d1), vec!["d", "c", "a"]);
    let d1_open_2 = store
        .incidents(&IncidentFilter {
            open_only: true,
            district: Some("d1".into()),
            limit: 1,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(keys(d1_open_2), vec!["d"]);
    let limited = store
        .incidents(&IncidentFilter {
            limit: 2,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(keys(limited), vec!["d", "c"]);
}
