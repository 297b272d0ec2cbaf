//! Tests of the closed loop's decisions: a whole walk round the loop, what a command's
//! body may carry and check, suspension and supervision. Who may give which command from
//! where is in `lifecycle_access_tests.rs`.

use super::*;
use crate::model::{Location, Severity};

pub(super) const T0: i64 = 1_780_000_000_000_000;
pub(super) const H: i64 = 3_600_000_000;

pub(super) fn incident(status: IncidentStatus) -> Incident {
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

pub(super) fn actor(role: Role) -> Actor {
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
