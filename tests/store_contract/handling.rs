//! The contract of lifecycle transitions (one writer per incident, optimistic versions)
//! and of the three final states: closed, rejected and merged.

use super::incidents::actions;
use super::*;
use cityops::store::StoreError;

/// A move to `status` with `handling`, logged as `user:duty` at `secs` after T0. The
/// event names a made-up incident: the store addresses it to the one it changes.
fn move_to(status: IncidentStatus, handling: Handling, secs: i64) -> Transition {
    let at = Timestamp(T0 + secs * SEC);
    Transition {
        status,
        handling,
        closed_at: status.is_final().then_some(at),
        event: IncidentEvent {
            incident: IncidentId::new_v7(),
            at,
            actor: "user:duty".into(),
            action: status.as_str().into(),
            from: None,
            to: Some(status.as_str().into()),
            note: Some(format!("to {}", status.as_str())),
        },
    }
}

fn dispatched_to(department: &str, due_secs: i64) -> Handling {
    Handling {
        department: Some(department.into()),
        due_at: Some(Timestamp(T0 + due_secs * SEC)),
        ..Default::default()
    }
}

fn is_conflict<T: std::fmt::Debug>(r: &Result<T, StoreError>) -> bool {
    matches!(r, Err(StoreError::Conflict(_)))
}

pub async fn transition_round_trips_handling(store: SharedStore) {
    let (inc, _) = store
        .open_incident(&new_incident("k1", "d1", T0))
        .await
        .unwrap();
    let (other, _) = store
        .open_incident(&new_incident("k2", "d1", T0))
        .await
        .unwrap();
    let full = Handling {
        department: Some("drainage".into()),
        due_at: Some(Timestamp(T0 + 3600 * SEC)),
        supervision: 2,
        merged_into: Some(other.id),
        suspended_from: Some(IncidentStatus::Handling),
        extension_requested: Some(Timestamp(T0 + 7200 * SEC)),
    };
    let t = move_to(IncidentStatus::Suspended, full.clone(), 10);
    let moved = store.transition(inc.id, inc.version, &t).await.unwrap();
    assert_eq!(moved.status, IncidentStatus::Suspended);
    assert_eq!(moved.handling, full);
    assert_eq!((moved.version, moved.closed_at), (inc.version + 1, None));
    assert_eq!(
        (moved.severity, moved.count, moved.cleared_at),
        (inc.severity, inc.count, inc.cleared_at),
        "fields a transition does not name stay as they are"
    );
    assert_eq!(store.incident(inc.id).await.unwrap(), Some(moved.clone()));

    let events = store.incident_events(inc.id).await.unwrap();
    assert_eq!(actions(&events), vec!["opened", "suspended"]);
    assert_eq!(
        events[1],
        IncidentEvent {
            incident: inc.id,
            ..t.event.clone()
        },
        "the event as given, addressed to the incident"
    );
    assert!(
        store
            .incident_events(t.event.incident)
            .await
            .unwrap()
            .is_empty()
    );

    // Every status that is not final reads back, and cleared fields read back as empty.
    let mut version = moved.version;
    for (i, status) in IncidentStatus::ALL
        .into_iter()
        .filter(|s| !s.is_final())
        .enumerate()
    {
        let t = move_to(status, Handling::default(), 20 + i as i64);
        let moved = store.transition(inc.id, version, &t).await.unwrap();
        assert_eq!((moved.status, moved.version), (status, version + 1));
        assert_eq!(moved.handling, Handling::default());
        assert_eq!(store.incident(inc.id).await.unwrap(), Some(moved));
        version += 1;
    }

    // A final move sets closed_at and keeps the handling it is given.
    let t = move_to(IncidentStatus::Closed, dispatched_to("roads", 100), 90);
    let closed = store.transition(inc.id, version, &t).await.unwrap();
    assert_eq!(closed.status, IncidentStatus::Closed);
    assert_eq!(closed.closed_at, Some(Timestamp(T0 + 90 * SEC)));
    assert_eq!(closed.handling, dispatched_to("roads", 100));
    let events = store.incident_events(inc.id).await.unwrap();
    assert_eq!(
        events.len() as i64,
        closed.version,
        "one event per version step"
    );

    let missing = store
        .transition(
            IncidentId::new_v7(),
            1,
            &move_to(IncidentStatus::Filed, Handling::default(), 1),
        )
        .await;
    assert!(
        matches!(missing, Err(StoreError::NotFound(_))),
        "{missing:?}"
    );
}

pub async fn transition_at_a_stale_version_conflicts(store: SharedStore) {
    let (inc, _) = store
        .open_incident(&new_incident("k1", "d1", T0))
        .await
        .unwrap();
    // An escalation by the rules moves the version on after the console read it.
    let now = set_severity(
        &store,
        inc.id,
        Severity::Red,
        Timestamp(T0 + SEC),
        "rule:x",
        "escalated",
    )
    .await
    .unwrap();
    let events_before = store.incident_events(inc.id).await.unwrap();
    let t = move_to(IncidentStatus::Filed, Handling::default(), 5);
    for stale in [inc.version, now.version + 1, 0] {
        let r = store.transition(inc.id, stale, &t).await;
        assert!(is_conflict(&r), "version {stale}: {r:?}");
    }
    assert_eq!(store.incident(inc.id).await.unwrap(), Some(now.clone()));
    assert_eq!(store.incident_events(inc.id).await.unwrap(), events_before);

    // At the current version it goes through.
    let filed = store.transition(inc.id, now.version, &t).await.unwrap();
    assert_eq!(
        (filed.status, filed.version),
        (IncidentStatus::Filed, now.version + 1)
    );
}

/// Two consoles move one incident from the same version at once: one wins, the other is
/// told, and the log holds only the winner's move.
pub async fn concurrent_transitions_one_wins(store: SharedStore) {
    for round in 0..5 {
        let key = format!("race-{round}");
        let (inc, _) = store
            .open_incident(&new_incident(&key, "d1", T0))
            .await
            .unwrap();
        let barrier = Arc::new(tokio::sync::Barrier::new(2));
        let tasks: Vec<_> = ["drainage", "roads"]
            .into_iter()
            .map(|department| {
                let (store, barrier) = (store.clone(), barrier.clone());
                let t = move_to(
                    IncidentStatus::Dispatched,
                    dispatched_to(department, 600),
                    1,
                );
                tokio::spawn(async move {
                    barrier.wait().await;
                    store.transition(inc.id, inc.version, &t).await
                })
            })
            .collect();
        let mut results = Vec::new();
        for t in tasks {
            results.push(t.await.expect("task"));
        }
        let winners: Vec<&Incident> = results.iter().filter_map(|r| r.as_ref().ok()).collect();
        assert_eq!(winners.len(), 1, "round {round}: {results:?}");
        assert_eq!(
            results.iter().filter(|r| is_conflict(r)).count(),
            1,
            "{results:?}"
        );

        let now = store.incident(inc.id).await.unwrap().expect("exists");
        assert_eq!(&now, winners[0]);
        assert_eq!(now.version, inc.version + 1);
        let events = store.incident_events(inc.id).await.unwrap();
        assert_eq!(
            actions(&events),
            vec!["opened", "dispatched"],
            "round {round}"
        );
    }
}

pub async fn final_incidents_do_not_move(store: SharedStore) {
    let at = Timestamp(T0 + 50 * SEC);
    let any_move = move_to(IncidentStatus::Filed, Handling::default(), 60);
    for (key, final_status) in [
        ("k-closed", IncidentStatus::Closed),
        ("k-rejected", IncidentStatus::Rejected),
        ("k-merged", IncidentStatus::Merged),
    ] {
        let (inc, _) = store
            .open_incident(&new_incident(key, "d1", T0))
            .await
            .unwrap();
        let done = store
            .transition(
                inc.id,
                inc.version,
                &move_to(final_status, Handling::default(), 40),
            )
            .await
            .unwrap();
        assert_eq!(done.status, final_status);
        let events = store.incident_events(inc.id).await.unwrap();

        let r = store.transition(inc.id, done.version, &any_move).await;
        assert!(is_conflict(&r), "{final_status:?}: {r:?}");
        let r = set_severity(&store, inc.id, Severity::Red, at, "x", "").await;
        assert!(is_conflict(&r), "{final_status:?}: {r:?}");
        let cleared = store.clear_incident(key, at, true).await.unwrap();
        assert_eq!(cleared, None, "{final_status:?}: no open incident to clear");
        let r = touch(&store, inc.id, at, 1, Some(9.0)).await;
        assert!(is_conflict(&r), "{final_status:?}: {r:?}");
        let r = refire(&store, inc.id, at, "x").await;
        assert!(is_conflict(&r), "{final_status:?}: {r:?}");

        assert_eq!(store.incident(inc.id).await.unwrap(), Some(done));
        assert_eq!(store.incident_events(inc.id).await.unwrap(), events);
    }
    let r = touch(&store, IncidentId::new_v7(), at, 1, None).await;
    assert!(matches!(r, Err(StoreError::NotFound(_))), "{r:?}");
}

/// The actor the last event of `i` names.
async fn done_actor(i: &cityops::model::Incident, store: &SharedStore) -> String {
    let log = store.incident_events(i.id).await.unwrap();
    log.last().map(|e| e.actor.clone()).unwrap_or_default()
}

pub async fn rejected_and_merged_free_their_key(store: SharedStore) {
    let (target, _) = store
        .open_incident(&new_incident("target", "d1", T0))
        .await
        .unwrap();
    for (key, status) in [
        ("k-rej", IncidentStatus::Rejected),
        ("k-mrg", IncidentStatus::Merged),
    ] {
        let (inc, _) = store
            .open_incident(&new_incident(key, "d1", T0))
            .await
            .unwrap();
        let handling = Handling {
            merged_into: (status == IncidentStatus::Merged).then_some(target.id),
            ..Default::default()
        };
        let done = store
            .transition(inc.id, inc.version, &move_to(status, handling.clone(), 10))
            .await
            .unwrap();
        assert_eq!(done.handling, handling);
        // The incident it went into says so in its own log, in the same transaction.
        let target_log = store.incident_events(target.id).await.unwrap();
        let merged_from: Vec<_> = target_log
            .iter()
            .filter(|e| e.action == "merged_from")
            .collect();
        if status == IncidentStatus::Merged {
            assert_eq!(merged_from.len(), 1, "{target_log:?}");
            assert_eq!(
                merged_from[0].note.as_deref(),
                Some(format!("merged from {}", inc.id).as_str())
            );
            assert_eq!(merged_from[0].actor, done_actor(&done, &store).await);
        } else {
            assert!(merged_from.is_empty(), "{target_log:?}");
        }

        let (fresh, created) = store
            .open_incident(&new_incident(key, "d1", T0 + 20 * SEC))
            .await
            .unwrap();
        assert!(created, "{status:?} frees {key}");
        assert_ne!(fresh.id, inc.id);
        assert_eq!(fresh.status, IncidentStatus::Discovered);
        // The key now names the new incident; the old one stays as it was.
        let cleared = store
            .clear_incident(key, Timestamp(T0 + 30 * SEC), false)
            .await
            .unwrap()
            .expect("the new incident is open");
        assert_eq!(cleared.id, fresh.id);
        assert_eq!(store.incident(inc.id).await.unwrap(), Some(done));
    }
}

pub async fn incidents_filter_by_department_and_status(store: SharedStore) {
    // (key, status, department), oldest first.
    let plan = [
        ("a", IncidentStatus::Dispatched, Some("drainage")),
        ("b", IncidentStatus::Handling, Some("drainage")),
        ("c", IncidentStatus::Dispatched, Some("roads")),
        ("d", IncidentStatus::Rejected, None),
        ("e", IncidentStatus::Merged, Some("drainage")),
        ("f", IncidentStatus::Closed, Some("drainage")),
        ("g", IncidentStatus::Discovered, None),
    ];
    for (i, (key, status, department)) in plan.iter().enumerate() {
        let (inc, _) = store
            .open_incident(&new_incident(key, "d1", T0 + i as i64 * SEC))
            .await
            .unwrap();
        if *status != IncidentStatus::Discovered {
            let handling = Handling {
                department: department.map(str::to_owned),
                ..Default::default()
            };
            store
                .transition(inc.id, inc.version, &move_to(*status, handling, 10))
                .await
                .unwrap();
        }
    }
    let keys = |filter: IncidentFilter| {
        let store = store.clone();
        async move {
            let found = store.incidents(&filter).await.unwrap();
            found.into_iter().map(|i| i.dedup_key).collect::<Vec<_>>()
        }
    };
    let department = |d: &str| Some(d.to_owned());

    assert_eq!(
        keys(IncidentFilter {
            open_only: true,
            ..Default::default()
        })
        .await,
        vec!["g", "c", "b", "a"],
        "rejected, merged and closed are not open"
    );
    assert_eq!(
        keys(IncidentFilter {
            department: department("drainage"),
            ..Default::default()
        })
        .await,
        vec!["f", "e", "b", "a"]
    );
    assert_eq!(
        keys(IncidentFilter {
            department: department("drainage"),
            open_only: true,
            ..Default::default()
        })
        .await,
        vec!["b", "a"]
    );
    assert_eq!(
        keys(IncidentFilter {
            status: Some(IncidentStatus::Dispatched),
            ..Default::default()
        })
        .await,
        vec!["c", "a"]
    );
    assert_eq!(
        keys(IncidentFilter {
            status: Some(IncidentStatus::Dispatched),
            department: department("roads"),
            ..Default::default()
        })
        .await,
        vec!["c"]
    );
    assert_eq!(
        keys(IncidentFilter {
            status: Some(IncidentStatus::Rejected),
            ..Default::default()
        })
        .await,
        vec!["d"]
    );
    // Asking for a final status with open_only finds nothing: both must hold.
    assert!(
        keys(IncidentFilter {
            status: Some(IncidentStatus::Merged),
            open_only: true,
            ..Default::default()
        })
        .await
        .is_empty()
    );
    assert!(
        keys(IncidentFilter {
            department: department("parks"),
            ..Default::default()
        })
        .await
        .is_empty()
    );
}

pub async fn clear_closes_a_dispatched_incident(store: SharedStore) {
    let (inc, _) = store
        .open_incident(&rule_incident("k1", "r", T0))
        .await
        .unwrap();
    let dispatched = store
        .transition(
            inc.id,
            inc.version,
            &move_to(
                IncidentStatus::Dispatched,
                dispatched_to("drainage", 3600),
                10,
            ),
        )
        .await
        .unwrap();
    let closed = store
        .clear_incident("k1", Timestamp(T0 + 60 * SEC), true)
        .await
        .unwrap()
        .expect("a dispatched incident is open");
    assert_eq!(closed.id, inc.id);
    assert_eq!(closed.status, IncidentStatus::Closed);
    assert_eq!(closed.closed_at, Some(Timestamp(T0 + 60 * SEC)));
    assert_eq!(closed.cleared_at, Some(Timestamp(T0 + 60 * SEC)));
    assert!(
        closed.handling.due_at.is_some(),
        "a closed incident keeps the due time in force when it closed (evaluation reads it)"
    );
    assert_eq!(closed.handling.department.as_deref(), Some("drainage"));
    assert_eq!(closed.version, dispatched.version + 1);
    assert_eq!(store.incident(inc.id).await.unwrap(), Some(closed));

    let events = store.incident_events(inc.id).await.unwrap();
    assert_eq!(
        actions(&events),
        vec!["opened", "dispatched", "cleared", "closed"]
    );
    let close = &events[3];
    assert_eq!(
        (
            close.from.as_deref(),
            close.to.as_deref(),
            close.actor.as_str()
        ),
        (Some("dispatched"), Some("closed"), "system"),
        "the system closes it through the closed loop's auto_close"
    );
    // Its key is free again.
    let (next, created) = store
        .open_incident(&rule_incident("k1", "r", T0 + 70 * SEC))
        .await
        .unwrap();
    assert!(created && next.id != inc.id);
}
