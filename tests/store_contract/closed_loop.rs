//! The closed loop through `incidents::act` on a real store: every step a person of the
//! right role takes, recorded in order; and two dispatchers acting at once.

use super::incidents::actions;
use super::*;
use cityops::incidents::act::ActError;
use cityops::incidents::lifecycle::{Command, DueTimes};
use cityops::model::{Actor, Role};

fn person(role: Role, id: &str) -> Actor {
    Actor {
        id: id.into(),
        role,
        district: None,
        street: None,
        department: (role == Role::Department).then(|| id.into()),
        grids: if role == Role::GridWorker {
            vec!["d1-g1".into()]
        } else {
            Vec::new()
        },
    }
}

fn due(_: &Incident) -> DueTimes {
    DueTimes {
        acknowledge: Some(Timestamp(T0 + 1800 * SEC)),
        handle: Some(Timestamp(T0 + 4 * 3600 * SEC)),
    }
}

pub async fn act_walks_the_whole_loop(store: SharedStore) {
    let (inc, _) = store
        .open_incident(&new_incident("loop", "d1", T0))
        .await
        .unwrap();
    let dispatcher = person(Role::Dispatcher, "zhang");
    let duty = person(Role::DutyOfficer, "li");
    let roads = person(Role::Department, "roads");
    let water = person(Role::Department, "water");
    let grid = person(Role::GridWorker, "wang");
    let steps: Vec<(&Actor, Command)> = vec![
        (&dispatcher, Command::File { note: None }),
        (
            &dispatcher,
            Command::Dispatch {
                department: "roads".into(),
            },
        ),
        (
            &roads,
            Command::Return {
                reason: "water main".into(),
            },
        ),
        (
            &dispatcher,
            Command::Dispatch {
                department: "water".into(),
            },
        ),
        (&water, Command::Acknowledge {}),
        (
            &water,
            Command::RequestExtension {
                until: Timestamp(T0 + 30 * 3600 * SEC),
                reason: "parts".into(),
            },
        ),
        (&duty, Command::GrantExtension {}),
        (&water, Command::Start {}),
        (
            &water,
            Command::Feedback {
                note: "replaced".into(),
            },
        ),
        (
            &grid,
            Command::Rework {
                reason: "loose".into(),
            },
        ),
        (&water, Command::Start {}),
        (
            &water,
            Command::Feedback {
                note: "bolted".into(),
            },
        ),
        (&grid, Command::Verify { note: None }),
        (&dispatcher, Command::Close { note: None }),
    ];
    let mut version = inc.version;
    for (n, (who, command)) in steps.iter().enumerate() {
        let at = Timestamp(T0 + (n as i64 + 1) * 60 * SEC);
        let i = act(&store, inc.id, who, command, Some(version), at, due)
            .await
            .unwrap_or_else(|e| panic!("step {n}: {} by {}: {e}", command.name(), who.id));
        assert_eq!(i.version, version + 1, "step {n} bumps the version once");
        version = i.version;
    }
    let done = store.incident(inc.id).await.unwrap().unwrap();
    assert_eq!(done.status, IncidentStatus::Closed);
    assert_eq!(done.handling.department.as_deref(), Some("water"));
    assert_eq!(
        done.handling.due_at,
        Some(Timestamp(T0 + 30 * 3600 * SEC)),
        "the due time in force when it closed (the extension), for evaluation"
    );
    let log = store.incident_events(inc.id).await.unwrap();
    assert_eq!(
        actions(&log),
        vec![
            "opened",
            "file",
            "dispatch",
            "return",
            "dispatch",
            "acknowledge",
            "request_extension",
            "grant_extension",
            "start",
            "feedback",
            "rework",
            "start",
            "feedback",
            "verify",
            "close",
        ]
    );
    let ret = &log[3];
    assert_eq!(ret.actor, "user:roads");
    assert_eq!(
        (ret.from.as_deref(), ret.to.as_deref()),
        (Some("dispatched"), Some("returned"))
    );
    assert_eq!(ret.note.as_deref(), Some("water main (from roads)"));

    // A closed incident moves no more, and a stale view is a conflict.
    let r = act(
        &store,
        inc.id,
        &duty,
        &Command::ForceClose { reason: "x".into() },
        None,
        Timestamp(T0),
        due,
    )
    .await;
    assert!(matches!(r, Err(ActError::Refused(_))), "{r:?}");
    let r = act(
        &store,
        inc.id,
        &duty,
        &Command::Supervise { note: "x".into() },
        Some(version - 1),
        Timestamp(T0),
        due,
    )
    .await;
    assert!(
        matches!(r, Err(ActError::Conflict(ref i)) if i.version == version),
        "{r:?}"
    );
}

pub async fn two_dispatchers_at_once_one_wins(store: SharedStore) {
    for round in 0..5 {
        let (inc, _) = store
            .open_incident(&new_incident(&format!("race-{round}"), "d1", T0))
            .await
            .unwrap();
        let filed = act(
            &store,
            inc.id,
            &person(Role::Dispatcher, "a"),
            &Command::File { note: None },
            None,
            Timestamp(T0),
            due,
        )
        .await
        .unwrap();
        let barrier = std::sync::Arc::new(tokio::sync::Barrier::new(2));
        let tasks: Vec<_> = ["water", "gas"]
            .into_iter()
            .map(|dept| {
                let (store, barrier) = (store.clone(), barrier.clone());
                let version = filed.version;
                tokio::spawn(async move {
                    barrier.wait().await;
                    act(
                        &store,
                        inc.id,
                        &person(Role::Dispatcher, dept),
                        &Command::Dispatch {
                            department: dept.into(),
                        },
                        Some(version),
                        Timestamp(T0 + SEC),
                        due,
                    )
                    .await
                })
            })
            .collect();
        let mut won = 0;
        let mut conflicts = 0;
        for t in tasks {
            match t.await.unwrap() {
                Ok(_) => won += 1,
                Err(ActError::Conflict(current)) => {
                    assert_eq!(
                        current.status,
                        IncidentStatus::Dispatched,
                        "the conflict shows the winner's state"
                    );
                    conflicts += 1;
                }
                Err(e) => panic!("{e}"),
            }
        }
        assert_eq!((won, conflicts), (1, 1), "round {round}");
        let log = store.incident_events(inc.id).await.unwrap();
        assert_eq!(
            actions(&log),
            vec!["opened", "file", "dispatch"],
            "exactly one dispatch"
        );
    }
}

fn desk() -> cityops::incidents::desk::Desk {
    use cityops::incidents::{calendar::Calendar, catalog::Catalog, routing::Routing};
    let rules = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("rules");
    let city = cityops::spatial::City::load(
        &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("city/demo"),
    )
    .expect("demo city");
    let catalog = Catalog::load(&rules.join("catalog.toml")).expect("catalog");
    let routing =
        Routing::load(&rules.join("routing.toml"), &catalog, Some(&city)).expect("routing");
    cityops::incidents::desk::Desk {
        catalog: Arc::new(catalog),
        routing: Arc::new(routing),
        // Mon–Fri 09:00–12:00, 13:00–18:00 at +08:00.
        calendar: Arc::new(Calendar::default()),
        reminder_micros: 3600 * SEC,
    }
}

/// Local time (+08:00) as a timestamp.
fn local(s: &str) -> Timestamp {
    Timestamp::parse_rfc3339(&format!("{s}+08:00")).expect("time")
}

pub async fn desk_dispatches_red_and_orange_at_once(store: SharedStore) {
    let desk = desk();
    let mut n = new_incident("auto", "d1", T0);
    n.category = "0406".into();
    let (inc, _) = store.open_incident(&n).await.unwrap();
    let now = local("2026-11-28T03:00:00"); // a Saturday night: urgent limits run anyway
    let moved = desk
        .auto_dispatch(&incidents(&store), &inc, now)
        .await
        .unwrap()
        .expect("dispatched");
    assert_eq!(moved.status, IncidentStatus::Dispatched);
    assert_eq!(
        moved.handling.department.as_deref(),
        Some("water-city"),
        "the city-wide route"
    );
    assert_eq!(
        moved.handling.due_at,
        Some(local("2026-11-28T03:15:00")),
        "orange: acknowledge within 15 min, urgent"
    );
    let log = store.incident_events(inc.id).await.unwrap();
    assert_eq!(actions(&log), vec!["opened", "file", "dispatch"]);
    assert!(log[1..].iter().all(|e| e.actor == "system"));

    // Blue waits for a dispatcher.
    let mut b = new_incident("blue", "d1", T0);
    b.category = "0406".into();
    b.severity = Severity::Blue;
    let (blue, _) = store.open_incident(&b).await.unwrap();
    assert_eq!(
        desk.auto_dispatch(&incidents(&store), &blue, now)
            .await
            .unwrap(),
        None
    );
}

pub async fn overdue_incidents_are_escalated_across_a_weekend(store: SharedStore) {
    let desk = desk();
    let mut b = new_incident("weekend", "d1", T0);
    b.category = "0406".into();
    b.severity = Severity::Blue;
    let (inc, _) = store.open_incident(&b).await.unwrap();
    let dispatcher = person(Role::Dispatcher, "zhang");
    let friday = local("2026-11-27T17:45:00");
    let due = |i: &Incident| desk.due(i, friday, None);
    act(
        &store,
        inc.id,
        &dispatcher,
        &Command::File { note: None },
        None,
        friday,
        due,
    )
    .await
    .unwrap();
    let d = act(
        &store,
        inc.id,
        &dispatcher,
        &Command::Dispatch {
            department: "water-d0".into(),
        },
        None,
        friday,
        due,
    )
    .await
    .unwrap();
    // Half a working hour: 15 minutes on Friday, 15 on Monday morning.
    assert_eq!(d.handling.due_at, Some(local("2026-11-30T09:15:00")));

    for quiet in ["2026-11-28T12:00:00", "2026-11-30T09:14:00"] {
        assert!(
            desk.escalate_overdue(&incidents(&store), local(quiet))
                .await
                .unwrap()
                .is_empty(),
            "not overdue at {quiet}"
        );
    }
    let first = desk
        .escalate_overdue(&incidents(&store), local("2026-11-30T09:16:00"))
        .await
        .unwrap();
    assert_eq!(first.len(), 1);
    assert_eq!(first[0].handling.supervision, 1);
    assert!(
        desk.escalate_overdue(&incidents(&store), local("2026-11-30T09:45:00"))
            .await
            .unwrap()
            .is_empty(),
        "a reminder an hour later, not sooner"
    );
    let second = desk
        .escalate_overdue(&incidents(&store), local("2026-11-30T10:16:00"))
        .await
        .unwrap();
    assert_eq!(second[0].handling.supervision, 2);
    let log = store.incident_events(inc.id).await.unwrap();
    let notes: Vec<&str> = log
        .iter()
        .filter(|e| e.action == "supervise")
        .filter_map(|e| e.note.as_deref())
        .collect();
    assert_eq!(notes.len(), 2);
    assert!(
        notes[0].contains("street center") && notes[1].contains("district center"),
        "{notes:?}"
    );
    assert_eq!(log.last().unwrap().actor, "system");
}
