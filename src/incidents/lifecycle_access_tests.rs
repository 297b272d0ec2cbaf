//! Tests of who may give which command, from which state and where: every command against
//! every state and role, checked against tables written out from DOMAIN.md's loop, and
//! the jurisdiction of departments, grid workers and district centers.

use super::tests::{H, T0, actor, incident};
use super::*;

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
