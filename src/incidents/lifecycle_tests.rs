use super::*;
use crate::model::{Location, Severity};

const T0: i64 = 1_780_000_000_000_000;
const H: i64 = 3_600_000_000;

fn incident(status: IncidentStatus) -> Incident {
    Incident {
        id: IncidentId::new_v7(),
        dedup_key: "k".into(),
        category: "0406".into(),
        severity: Severity::Orange,
        status,
        title: "积水".into(),
        source: None,
        location: Location {
            lon: 103.0,
            lat: 30.0,
            grid: Some("G-01-01".into()),
            street: Some("S-00-00".into()),
            district: Some("D-0".into()),
        },
        opened_at: Timestamp(T0),
        last_seen: Timestamp(T0),
        count: 1,
        peak: None,
        cleared_at: None,
        closed_at: None,
        version: 1,
        rule: None,
        description: None,
        handling: Handling {
            department: Some("water".into()),
            ..Default::default()
        },
    }
}

fn actor(role: Role) -> Actor {
    Actor {
        id: role.as_str().into(),
        role,
        district: None,
        street: None,
        department: (role == Role::Department).then(|| "water".into()),
        grids: if role == Role::GridWorker {
            vec!["G-01-01".into()]
        } else {
            Vec::new()
        },
    }
}

/// Applies a decision to the incident, as the store would.
fn apply(i: &mut Incident, t: Transition) {
    i.status = t.status;
    i.handling = t.handling;
    i.closed_at = t.closed_at;
    i.version += 1;
}

fn step(i: &mut Incident, role: Role, c: Command, at: i64) -> IncidentEvent {
    let due = DueTimes {
        acknowledge: Some(Timestamp(at + H / 2)),
        handle: Some(Timestamp(at + 4 * H)),
    };
    let t = decide(i, &actor(role), &c, Timestamp(at), due)
        .unwrap_or_else(|e| panic!("{} by {role:?} from {:?}: {e}", c.name(), i.status));
    let event = t.event.clone();
    apply(i, t);
    event
}

fn every_command() -> Vec<Command> {
    let s = || "because".to_string();
    vec![
        Command::File { note: None },
        Command::Reject { reason: s() },
        Command::Merge {
            into: IncidentId::new_v7(),
        },
        Command::Dispatch {
            department: "water".into(),
        },
        Command::Acknowledge {},
        Command::Return { reason: s() },
        Command::Start {},
        Command::Feedback { note: s() },
        Command::Verify { note: None },
        Command::Rework { reason: s() },
        Command::Close { note: None },
        Command::ForceClose { reason: s() },
        Command::Suspend { reason: s() },
        Command::Resume {},
        Command::RequestExtension {
            until: Timestamp(T0 + 100 * H),
            reason: s(),
        },
        Command::GrantExtension {},
        Command::DenyExtension { reason: s() },
        Command::Supervise { note: s() },
        Command::AutoClose {},
    ]
}

#[test]
fn an_incident_walks_the_whole_loop_with_a_return_an_extension_and_a_rework() {
    let mut i = incident(S::Discovered);
    i.handling.department = None;
    let mut t = T0;
    let mut tick = || {
        t += 60_000_000;
        t
    };
    step(
        &mut i,
        Role::Dispatcher,
        Command::File { note: None },
        tick(),
    );
    step(
        &mut i,
        Role::Dispatcher,
        Command::Dispatch {
            department: "roads".into(),
        },
        tick(),
    );
    assert_eq!(i.handling.department.as_deref(), Some("roads"));
    assert!(
        i.handling.due_at.is_some(),
        "dispatch sets the acknowledge due time"
    );
    // Not theirs: the roads department returns it; the dispatcher sends it to water.
    let mut roads = actor(Role::Department);
    roads.department = Some("roads".into());
    let ret = decide(
        &i,
        &roads,
        &Command::Return {
            reason: "a water main, not the road".into(),
        },
        Timestamp(tick()),
        DueTimes::default(),
    )
    .unwrap();
    assert_eq!(
        ret.event.note.as_deref(),
        Some("a water main, not the road (from roads)")
    );
    apply(&mut i, ret);
    assert_eq!(
        (i.status, i.handling.department.clone()),
        (S::Returned, None)
    );
    step(
        &mut i,
        Role::Dispatcher,
        Command::Dispatch {
            department: "water".into(),
        },
        tick(),
    );
    step(&mut i, Role::Department, Command::Acknowledge {}, tick());
    let due = i.handling.due_at.expect("handle due time");
    step(
        &mut i,
        Role::Department,
        Command::RequestExtension {
            until: Timestamp(due.0 + 24 * H),
            reason: "parts on order".into(),
        },
        tick(),
    );
    step(
        &mut i,
        Role::DutyOfficer,
        Command::GrantExtension {},
        tick(),
    );
    assert_eq!(i.handling.due_at, Some(Timestamp(due.0 + 24 * H)));
    step(&mut i, Role::Department, Command::Start {}, tick());
    step(
        &mut i,
        Role::Department,
        Command::Feedback {
            note: "cover replaced".into(),
        },
        tick(),
    );
    step(
        &mut i,
        Role::GridWorker,
        Command::Rework {
            reason: "still loose".into(),
        },
        tick(),
    );
    step(&mut i, Role::Department, Command::Start {}, tick());
    step(
        &mut i,
        Role::Department,
        Command::Feedback {
            note: "bolted".into(),
        },
        tick(),
    );
    step(
        &mut i,
        Role::GridWorker,
        Command::Verify {
            note: Some("photo taken".into()),
        },
        tick(),
    );
    let close = step(
        &mut i,
        Role::Dispatcher,
        Command::Close { note: None },
        tick(),
    );
    assert_eq!(i.status, S::Closed);
    assert_eq!(i.closed_at, Some(close.at));
    assert!(
        i.handling.due_at.is_some(),
        "a closed incident keeps the due time in force"
    );
    assert_eq!(close.actor, "user:dispatcher");
    assert_eq!(
        (close.from.as_deref(), close.to.as_deref()),
        (Some("verified"), Some("closed"))
    );
    assert_eq!(i.version, 15);
}

/// Where each command may be given from, written out from DOMAIN.md's loop.
fn allowed_from(c: &Command) -> &'static [IncidentStatus] {
    use Command as C;
    const OPEN: &[IncidentStatus] = &[
        S::Discovered,
        S::Filed,
        S::Dispatched,
        S::Acknowledged,
        S::Returned,
        S::Handling,
        S::Feedback,
        S::Rework,
        S::Verified,
        S::Suspended,
    ];
    match c {
        C::File { .. } | C::Reject { .. } => &[S::Discovered],
        C::Merge { .. } => &[S::Discovered, S::Filed, S::Returned],
        C::Dispatch { .. } => &[S::Filed, S::Returned],
        C::Acknowledge {} => &[S::Dispatched],
        C::Return { .. } => &[S::Dispatched, S::Acknowledged],
        C::Start {} => &[S::Acknowledged, S::Rework],
        C::Feedback { .. } => &[S::Handling],
        C::Verify { .. } | C::Rework { .. } => &[S::Feedback],
        C::Close { .. } => &[S::Verified],
        C::ForceClose { .. } | C::Supervise { .. } | C::AutoClose {} => OPEN,
        C::Suspend { .. } => &[
            S::Filed,
            S::Returned,
            S::Dispatched,
            S::Acknowledged,
            S::Handling,
            S::Rework,
        ],
        C::Resume {} => &[S::Suspended],
        C::RequestExtension { .. } => &[S::Acknowledged, S::Handling, S::Rework],
        C::GrantExtension {} | C::DenyExtension { .. } => OPEN,
    }
}

fn roles_for(c: &Command) -> &'static [Role] {
    use Command as C;
    match c {
        C::File { .. } | C::Dispatch { .. } => &[Role::Dispatcher, Role::DutyOfficer, Role::System],
        C::Reject { .. }
        | C::Merge { .. }
        | C::Close { .. }
        | C::Suspend { .. }
        | C::Resume {}
        | C::GrantExtension {}
        | C::DenyExtension { .. } => &[Role::Dispatcher, Role::DutyOfficer],
        C::Acknowledge {}
        | C::Return { .. }
        | C::Start {}
        | C::Feedback { .. }
        | C::RequestExtension { .. } => &[Role::Department],
        C::Verify { .. } | C::Rework { .. } => {
            &[Role::GridWorker, Role::Dispatcher, Role::DutyOfficer]
        }
        C::ForceClose { .. } => &[Role::DutyOfficer],
        C::Supervise { .. } => &[Role::DutyOfficer, Role::System],
        C::AutoClose {} => &[Role::System],
    }
}

const ROLES: [Role; 8] = [
    Role::Admin,
    Role::DutyOfficer,
    Role::Dispatcher,
    Role::Department,
    Role::GridWorker,
    Role::Engineer,
    Role::Wall,
    Role::System,
];

#[test]
fn every_role_that_must_not_give_a_command_is_forbidden_in_every_state() {
    for c in every_command() {
        for role in ROLES {
            if roles_for(&c).contains(&role) {
                continue;
            }
            for status in IncidentStatus::ALL {
                let r = decide(
                    &incident(status),
                    &actor(role),
                    &c,
                    Timestamp(T0),
                    DueTimes::default(),
                );
                assert!(
                    matches!(r, Err(LifecycleError::Forbidden(_))),
                    "{} by {role:?} in {status:?}: {r:?}",
                    c.name()
                );
            }
        }
    }
}

#[test]
fn each_command_moves_only_from_the_states_the_loop_allows() {
    for c in every_command() {
        let role = roles_for(&c)[0];
        for status in IncidentStatus::ALL {
            let mut i = incident(status);
            // Extension grants need a pending request; suspension needs where it came from.
            i.handling.extension_requested = Some(Timestamp(T0 + 50 * H));
            i.handling.suspended_from = Some(S::Handling);
            let r = decide(&i, &actor(role), &c, Timestamp(T0), DueTimes::default());
            let allowed = allowed_from(&c).contains(&status);
            match (&r, allowed) {
                (Ok(_), true) => {}
                (Err(LifecycleError::NotNow { .. }), false) => {}
                (Err(LifecycleError::Invalid(m)), true)
                    if matches!(c, Command::RequestExtension { .. })
                        && m.contains("already pending") => {}
                _ => panic!("{} in {status:?} (allowed: {allowed}): {r:?}", c.name()),
            }
        }
    }
}

#[test]
fn jurisdiction_is_checked_for_departments_grid_workers_and_district_centers() {
    let i = incident(S::Dispatched);
    let mut other_dept = actor(Role::Department);
    other_dept.department = Some("gas".into());
    let r = decide(
        &i,
        &other_dept,
        &Command::Acknowledge {},
        Timestamp(T0),
        DueTimes::default(),
    );
    assert!(matches!(r, Err(LifecycleError::Forbidden(_))), "{r:?}");
    assert!(!may_see(&other_dept, &i));
    assert!(may_see(&actor(Role::Department), &i));

    let f = incident(S::Feedback);
    let mut other_grid = actor(Role::GridWorker);
    other_grid.grids = vec!["G-09-09".into()];
    let r = decide(
        &f,
        &other_grid,
        &Command::Verify { note: None },
        Timestamp(T0),
        DueTimes::default(),
    );
    assert!(matches!(r, Err(LifecycleError::Forbidden(_))), "{r:?}");

    let mut d1 = actor(Role::Dispatcher);
    d1.district = Some("D-1".into());
    let r = decide(
        &incident(S::Discovered),
        &d1,
        &Command::File { note: None },
        Timestamp(T0),
        DueTimes::default(),
    );
    assert!(
        matches!(r, Err(LifecycleError::Forbidden(_))),
        "another district's: {r:?}"
    );
    assert!(!may_see(&d1, &i));
    let mut d0 = actor(Role::Dispatcher);
    d0.district = Some("D-0".into());
    d0.street = Some("S-00-00".into());
    assert!(
        decide(
            &incident(S::Discovered),
            &d0,
            &Command::File { note: None },
            Timestamp(T0),
            DueTimes::default()
        )
        .is_ok()
    );
    let mut wall = actor(Role::Wall);
    wall.district = Some("D-1".into());
    assert!(
        !may_see(&wall, &i),
        "a district's wall shows its district only"
    );
}

#[test]
fn bodies_cannot_carry_fields_that_do_not_belong_to_the_command() {
    for body in [
        r#"{"command": "acknowledge", "status": "closed"}"#,
        r#"{"command": "acknowledge", "department": "gas"}"#,
        r#"{"command": "file", "version": 7}"#,
        r#"{"command": "dispatch"}"#,
        r#"{"command": "promote"}"#,
        r#"{"status": "closed"}"#,
    ] {
        assert!(serde_json::from_str::<Command>(body).is_err(), "{body}");
    }
    let ok: Command =
        serde_json::from_str(r#"{"command": "dispatch", "department": "water"}"#).unwrap();
    assert_eq!(
        ok,
        Command::Dispatch {
            department: "water".into()
        }
    );
}

#[test]
fn commands_check_their_own_data() {
    let d = actor(Role::Dispatcher);
    let i = incident(S::Discovered);
    let invalid =
        |r: Result<Transition, LifecycleError>| matches!(r, Err(LifecycleError::Invalid(_)));
    assert!(invalid(decide(
        &i,
        &d,
        &Command::Reject {
            reason: "  ".into()
        },
        Timestamp(T0),
        DueTimes::default()
    )));
    assert!(invalid(decide(
        &i,
        &d,
        &Command::Merge { into: i.id },
        Timestamp(T0),
        DueTimes::default()
    )));
    let mut h = incident(S::Handling);
    h.handling.due_at = Some(Timestamp(T0 + H));
    let early = Command::RequestExtension {
        until: Timestamp(T0 + H / 2),
        reason: "x".into(),
    };
    assert!(invalid(decide(
        &h,
        &actor(Role::Department),
        &early,
        Timestamp(T0),
        DueTimes::default()
    )));
    assert!(invalid(decide(
        &h,
        &d,
        &Command::GrantExtension {},
        Timestamp(T0),
        DueTimes::default()
    )));
    let long = "长".repeat(2001);
    assert!(invalid(decide(
        &i,
        &d,
        &Command::Reject { reason: long },
        Timestamp(T0),
        DueTimes::default()
    )));
}

#[test]
fn suspend_resumes_where_it_was_and_supervision_counts_up() {
    let mut i = incident(S::Handling);
    step(
        &mut i,
        Role::DutyOfficer,
        Command::Suspend {
            reason: "waiting for the rain to stop".into(),
        },
        T0,
    );
    assert_eq!(i.status, S::Suspended);
    step(&mut i, Role::DutyOfficer, Command::Resume {}, T0 + H);
    assert_eq!((i.status, i.handling.suspended_from), (S::Handling, None));
    step(
        &mut i,
        Role::System,
        Command::Supervise {
            note: "overdue".into(),
        },
        T0 + 2 * H,
    );
    step(
        &mut i,
        Role::DutyOfficer,
        Command::Supervise {
            note: "still overdue".into(),
        },
        T0 + 3 * H,
    );
    assert_eq!(i.handling.supervision, 2);
    assert_eq!(i.status, S::Handling, "督办 does not move the state");
}
