//! What of an indicator a user sees: the whole city's figure and breakdown for the city
//! center's roles; a district (or street) user their own area's figure as the headline and
//! only the breakdown inside it; nothing for those who read no live data (departments) or
//! whose area has no figure (grid workers: indicators are not kept per grid).

use super::Current;
use crate::auth::access;
use crate::model::{Actor, Location};

/// The scope whose figure is `actor`'s headline: `""` the city, else its street's or
/// district's. `None` when it may read no live data.
pub fn home_scope(actor: &Actor) -> Option<String> {
    if !access::reads_live_data(actor) {
        return None;
    }
    if access::sees_everywhere(actor) {
        return Some(String::new());
    }
    match (&actor.street, &actor.district) {
        (Some(s), _) => Some(format!("street:{s}")),
        (None, Some(d)) => Some(format!("district:{d}")),
        (None, None) => None,
    }
}

/// Whether `actor` may read the figure of `scope`.
pub fn may_see_scope(actor: &Actor, c: &Current, scope: &str) -> bool {
    if scope.is_empty() {
        return home_scope(actor).is_some_and(|h| h.is_empty());
    }
    c.breakdown
        .iter()
        .find(|b| b.scope == scope)
        .is_some_and(|b| access::may_see_place(actor, &place(&b.district, &b.street)))
}

fn place(district: &Option<String>, street: &Option<String>) -> Location {
    Location {
        district: district.clone(),
        street: street.clone(),
        ..Location::default()
    }
}

/// `c` as `actor` may see it, or `None`.
pub fn scoped(c: &Current, actor: &Actor) -> Option<Current> {
    let home = home_scope(actor)?;
    if home.is_empty() {
        return Some(c.clone());
    }
    let own = c.breakdown.iter().find(|b| b.scope == home)?;
    Some(Current {
        id: c.id.clone(),
        time: c.time,
        value: own.value,
        level: own.level.clone(),
        breakdown: c
            .breakdown
            .iter()
            .filter(|b| access::may_see_place(actor, &place(&b.district, &b.street)))
            .cloned()
            .collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::indicators::ScopeValue;
    use crate::model::{Role, Timestamp};

    fn actor(role: Role, district: Option<&str>, street: Option<&str>) -> Actor {
        Actor {
            id: "u".into(),
            role,
            district: district.map(Into::into),
            street: street.map(Into::into),
            department: None,
            grids: vec!["G-00-00".into()],
        }
    }

    fn entry(scope: &str, district: &str, street: Option<&str>, value: f64) -> ScopeValue {
        ScopeValue {
            scope: scope.into(),
            name: scope.into(),
            district: Some(district.into()),
            street: street.map(Into::into),
            value: Some(value),
            level: "blue".into(),
        }
    }

    fn by_street() -> Current {
        Current {
            id: "deepest".into(),
            time: Timestamp::from_micros(0),
            value: Some(30.0),
            level: "orange".into(),
            breakdown: vec![
                entry("street:S-00-00", "D-0", Some("S-00-00"), 30.0),
                entry("street:S-00-01", "D-0", Some("S-00-01"), 12.0),
                entry("street:S-02-00", "D-1", Some("S-02-00"), 20.0),
            ],
        }
    }

    #[test]
    fn the_center_sees_all_and_a_street_its_own() {
        let c = by_street();
        assert_eq!(scoped(&c, &actor(Role::Wall, None, None)), Some(c.clone()));
        let mine = scoped(&c, &actor(Role::DutyOfficer, Some("D-0"), Some("S-00-01")))
            .expect("a street center sees its street");
        assert_eq!(mine.value, Some(12.0));
        assert_eq!(mine.breakdown.len(), 1);
        assert!(may_see_scope(&actor(Role::Wall, None, None), &c, ""));
        let street = actor(Role::Dispatcher, Some("D-0"), Some("S-00-01"));
        assert!(may_see_scope(&street, &c, "street:S-00-01"));
        assert!(!may_see_scope(&street, &c, "street:S-00-00"));
        assert!(!may_see_scope(&street, &c, ""));
    }

    #[test]
    fn a_district_sees_its_figure_and_its_streets() {
        let mut c = by_street();
        c.breakdown
            .insert(0, entry("district:D-1", "D-1", None, 20.0));
        c.breakdown
            .insert(0, entry("district:D-0", "D-0", None, 30.0));
        let d1 = scoped(&c, &actor(Role::Dispatcher, Some("D-1"), None)).expect("D-1's view");
        assert_eq!(d1.value, Some(20.0));
        let scopes: Vec<&str> = d1.breakdown.iter().map(|b| b.scope.as_str()).collect();
        assert_eq!(scopes, ["district:D-1", "street:S-02-00"]);
    }

    #[test]
    fn without_a_figure_for_its_area_or_live_data_nothing() {
        let c = by_street();
        assert_eq!(
            scoped(&c, &actor(Role::Dispatcher, Some("D-1"), None)),
            None
        );
        for role in [Role::Department, Role::GridWorker] {
            assert_eq!(scoped(&c, &actor(role, None, None)), None, "{role:?}");
            assert_eq!(home_scope(&actor(role, None, None)), None, "{role:?}");
        }
    }
}
