//! What each role may read outside the closed loop: sensors and their readings, video
//! alerts, dead letters. The table is `docs/access.md`; incidents are
//! `incidents::lifecycle::may_see`'s to decide.
//!
//! The principle is the three-level center's: a user reads the live picture of the area
//! they answer for, and nothing of anyone else's. Raw rejected messages are for the
//! people who run the system. Departments work from the incidents dispatched to them
//! (which carry their place, evidence and photos), not from the city's sensor network.

use crate::model::{Actor, Location, Role};

/// Whether `actor` may read live data (sensors, readings, video alerts) at all. A role
/// that may not is refused with 403, whatever it asks for.
pub fn reads_live_data(actor: &Actor) -> bool {
    !matches!(actor.role, Role::Department)
}

/// Whether `actor` may read live data placed at `place`: the center's roles and the
/// wall within their district (and street), a grid worker within their grids. Outside it
/// a sensor or alert is as good as absent (404 for one, left out of lists and `/ws`).
pub fn may_see_place(actor: &Actor, place: &Location) -> bool {
    match actor.role {
        Role::System => true,
        Role::Department => false,
        Role::GridWorker => place.grid.as_ref().is_some_and(|g| actor.grids.contains(g)),
        Role::Admin | Role::Engineer | Role::Wall | Role::DutyOfficer | Role::Dispatcher => {
            actor
                .district
                .as_ref()
                .is_none_or(|d| place.district.as_ref() == Some(d))
                && actor
                    .street
                    .as_ref()
                    .is_none_or(|s| place.street.as_ref() == Some(s))
        }
    }
}

/// Whether `actor` may read the dead letters (rejected messages with their raw bytes):
/// the people who run the system and tune its inputs, nobody else.
pub fn reads_dead_letters(actor: &Actor) -> bool {
    matches!(actor.role, Role::Admin | Role::Engineer | Role::System)
}

/// Whether `actor` sees all live data, so messages need no filtering.
pub fn sees_everywhere(actor: &Actor) -> bool {
    matches!(
        actor.role,
        Role::Admin | Role::Engineer | Role::Wall | Role::DutyOfficer | Role::Dispatcher
    ) && actor.district.is_none()
        && actor.street.is_none()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn actor(role: Role) -> Actor {
        Actor {
            id: "u".into(),
            role,
            district: None,
            street: None,
            department: None,
            grids: Vec::new(),
        }
    }

    fn place(district: &str, street: &str, grid: &str) -> Location {
        Location {
            district: Some(district.into()),
            street: Some(street.into()),
            grid: Some(grid.into()),
            ..Location::default()
        }
    }

    #[test]
    fn places_are_scoped_by_jurisdiction() {
        let here = place("D-0", "S-00-00", "G-00-01");
        let there = place("D-1", "S-02-00", "G-10-00");
        let mut district = actor(Role::Dispatcher);
        district.district = Some("D-0".into());
        assert!(may_see_place(&district, &here));
        assert!(!may_see_place(&district, &there));
        let mut street = actor(Role::Wall);
        street.district = Some("D-0".into());
        street.street = Some("S-00-01".into());
        assert!(!may_see_place(&street, &here));
        let mut grid = actor(Role::GridWorker);
        grid.grids = vec!["G-00-01".into()];
        assert!(may_see_place(&grid, &here));
        assert!(!may_see_place(&grid, &there));
        assert!(!may_see_place(&actor(Role::GridWorker), &here));
        assert!(!may_see_place(&actor(Role::Department), &here));
        assert!(!reads_live_data(&actor(Role::Department)));
        for role in [Role::Wall, Role::DutyOfficer, Role::Engineer, Role::Admin] {
            assert!(may_see_place(&actor(role), &there), "{role:?}");
            assert!(sees_everywhere(&actor(role)), "{role:?}");
        }
        assert!(!sees_everywhere(&district));
    }

    #[test]
    fn dead_letters_are_for_admins_and_engineers() {
        for role in [Role::Admin, Role::Engineer] {
            assert!(reads_dead_letters(&actor(role)), "{role:?}");
        }
        for role in [
            Role::DutyOfficer,
            Role::Dispatcher,
            Role::Department,
            Role::GridWorker,
            Role::Wall,
        ] {
            assert!(!reads_dead_letters(&actor(role)), "{role:?}");
        }
    }
}
