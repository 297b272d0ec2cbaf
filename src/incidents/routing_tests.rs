//! Tests of routing: which route wins and who gets a case after a return, and the
//! shipped routing. Every error a routing file can have is in `routing_error_tests.rs`.

use super::*;
use crate::incidents::catalog::Kind;
use std::sync::OnceLock;

/// Categories for the tests: 0102 as both kinds, so bare and qualified codes differ.
const CATALOG: &str = r#"
[defaults.limits.default]
acknowledge = { working_hours = 0.5 }
handle = { working_days = 1 }

[profile.p]
sector = "flood"
default_severity = "blue"
file_condition = "when"
close_condition = "done"

[[category]]
code = "0102"
kind = "component"
name_zh = "污水井盖"
name_en = "Sewer cover"
profile = "p"

[[category]]
code = "0102"
kind = "event"
name_zh = "暴露垃圾"
name_en = "Exposed garbage"
profile = "p"

[[category]]
code = "0406"
kind = "event"
name_zh = "道路积水"
name_en = "Road waterlogging"
profile = "p"

[[category]]
code = "device_offline"
kind = "component"
name_zh = "设备离线"
name_en = "Sensor offline"
profile = "p"
"#;

/// Departments every routing test below can use.
pub(super) const DEPARTMENTS: &str = r#"
[[department]]
code = "water-city"
name_zh = "市水务局"
name_en = "City Water Affairs"

[[department]]
code = "water-d0"
name_zh = "区水务局"
name_en = "District 0 Water Affairs"

[[department]]
code = "pump"
name_zh = "泵站"
name_en = "Pump station"

[[department]]
code = "street-office"
name_zh = "街道办"
name_en = "Street office"

[[department]]
code = "sanitation"
name_zh = "环卫"
name_en = "Sanitation"

[[department]]
code = "duty"
name_zh = "值班室"
name_en = "Duty office"
"#;

pub(super) fn catalog() -> Catalog {
    match Catalog::parse(Path::new("catalog.toml"), CATALOG) {
        Ok(c) => c,
        Err(e) => panic!("test catalog:\n{e}"),
    }
}

pub(super) fn demo_city() -> &'static City {
    static CITY: OnceLock<City> = OnceLock::new();
    CITY.get_or_init(|| {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("city/demo");
        City::load(&dir).unwrap_or_else(|e| panic!("demo city: {e}"))
    })
}

pub(super) fn parse(text: &str, city: Option<&City>) -> Result<Routing, RoutingErrors> {
    Routing::parse(Path::new("rules/routing.toml"), text, &catalog(), city)
}

fn ok(routes: &str) -> Routing {
    match parse(&format!("{DEPARTMENTS}{routes}"), Some(demo_city())) {
        Ok(r) => r,
        Err(e) => panic!("expected valid routing, got:\n{e}"),
    }
}

/// 1-based line of the first line containing `marker`.
pub(super) fn line_of(text: &str, marker: &str) -> usize {
    text.lines()
        .position(|l| l.contains(marker))
        .map(|i| i + 1)
        .unwrap_or_else(|| panic!("marker {marker:?} not in the text"))
}

fn at(district: Option<&str>, street: Option<&str>, grid: Option<&str>) -> Location {
    Location {
        lon: 103.0,
        lat: 30.0,
        grid: grid.map(str::to_owned),
        street: street.map(str::to_owned),
        district: district.map(str::to_owned),
    }
}

/// G-07-00 lies in street S-01-00, district D-0.
fn g0700() -> Location {
    at(Some("D-0"), Some("S-01-00"), Some("G-07-00"))
}

fn codes(list: &[DepartmentCode]) -> Vec<&str> {
    list.iter().map(DepartmentCode::as_str).collect()
}

#[test]
fn the_most_specific_route_wins() {
    let r = ok(r#"
[[route]]
category = ["0406"]
departments = ["water-city"]

[[route]]
category = "0406"
grid = "G-07-00"
departments = ["pump", "water-d0"]

[[route]]
category = "0406"
district = "D-0"
departments = ["water-d0", "water-city"]

[[route]]
category = ["0406"]
street = ["S-01-00", "S-01-01"]
departments = ["street-office", "water-d0"]
"#);
    let c = |loc: &Location| codes(r.candidates("0406", loc));
    assert_eq!(c(&g0700()), ["pump", "water-d0"]);
    // Another grid of the same street: the street route.
    assert_eq!(
        c(&at(Some("D-0"), Some("S-01-00"), Some("G-07-01"))),
        ["street-office", "water-d0"]
    );
    // Another street of D-0: the district route.
    assert_eq!(
        c(&at(Some("D-0"), Some("S-00-00"), Some("G-00-00"))),
        ["water-d0", "water-city"]
    );
    // D-1, or outside every district: city-wide.
    assert_eq!(c(&at(Some("D-1"), Some("S-02-00"), None)), ["water-city"]);
    assert_eq!(c(&at(None, None, None)), ["water-city"]);
    // Resolution order: grid, street, district, city.
    let scopes: Vec<Scope> = r.routes().iter().map(Route::scope).collect();
    assert_eq!(
        scopes,
        [Scope::Grid, Scope::Street, Scope::District, Scope::City]
    );
}

#[test]
fn a_category_list_beats_any_at_the_same_level_and_file_order_breaks_ties() {
    let r = ok(r#"
[[route]]
category = "*"
district = "D-0"
departments = ["duty"]

[[route]]
category = ["0406", "0102"]
district = "D-0"
departments = ["water-d0"]

[[route]]
category = ["0406"]
district = ["D-0", "D-1"]
departments = ["water-city"]

[[route]]
category = "*"
departments = ["water-city"]

[[route]]
category = "*"
grid = "G-07-00"
departments = ["pump"]
"#);
    let d0 = at(Some("D-0"), Some("S-00-00"), None);
    // The list beats "*" at the district level; of the two lists, the earlier wins.
    assert_eq!(codes(r.candidates("0406", &d0)), ["water-d0"]);
    assert_eq!(
        r.route_for("0406", &d0).map(|r| r.line),
        Some(line_of_route(&r, 2))
    );
    // Not listed: "*" in D-0.
    assert_eq!(codes(r.candidates("device_offline", &d0)), ["duty"]);
    // The area is compared first: a "*" grid route beats a category list for a district.
    assert_eq!(codes(r.candidates("0406", &g0700())), ["pump"]);
    // Only the second list covers D-1.
    let d1 = at(Some("D-1"), None, None);
    assert_eq!(codes(r.candidates("0406", &d1)), ["water-city"]);
    // A category the catalog does not have still matches "*".
    assert_eq!(codes(r.candidates("no_such_thing", &d0)), ["duty"]);
}

/// The line of the n-th (1-based) route of the file, by its place in the text.
fn line_of_route(r: &Routing, n: usize) -> usize {
    let mut lines: Vec<usize> = r.routes().iter().map(|r| r.line).collect();
    lines.sort();
    lines[n - 1]
}

#[test]
fn no_matching_route_leaves_the_incident_to_a_dispatcher() {
    let r = ok(r#"
[[route]]
category = ["0406"]
district = "D-0"
departments = ["water-d0"]
"#);
    assert!(
        r.candidates("0406", &at(Some("D-1"), None, None))
            .is_empty()
    );
    assert!(r.candidates("0406", &at(None, None, None)).is_empty());
    assert!(r.candidates("device_offline", &g0700()).is_empty());
    assert!(r.route_for("0406", &at(None, None, None)).is_none());
    assert!(
        r.next_after("0406", &at(None, None, None), "water-d0")
            .is_none()
    );
}

#[test]
fn bare_codes_follow_the_catalog_and_components_need_their_prefix() {
    let r = ok(r#"
[[route]]
category = ["0102"]
departments = ["sanitation"]

[[route]]
category = ["component:0102"]
departments = ["water-city"]

[[route]]
category = ["event:0406"]
departments = ["water-d0"]
"#);
    let loc = at(None, None, None);
    assert_eq!(codes(r.candidates("0102", &loc)), ["sanitation"]);
    assert_eq!(codes(r.candidates("event:0102", &loc)), ["sanitation"]);
    assert_eq!(codes(r.candidates("component:0102", &loc)), ["water-city"]);
    // The route's `event:0406` and an incident's bare `0406` are the same category.
    assert_eq!(codes(r.candidates("0406", &loc)), ["water-d0"]);
    assert_eq!(
        r.routes()[0].categories.as_deref(),
        Some(&["event:0102".to_string()][..])
    );
    assert_eq!(r.routes_for("component:0102").count(), 1);
    assert_eq!(r.routes_for("device_offline").count(), 0);
    let kinds: Vec<Kind> = catalog().categories().iter().map(|c| c.kind).collect();
    assert_eq!(kinds[..2], [Kind::Component, Kind::Event]);
}

#[test]
fn a_return_goes_to_the_next_candidate_then_to_a_dispatcher() {
    let r = ok(r#"
[[route]]
category = ["0406"]
departments = ["water-d0", "water-city", "pump"]
"#);
    let loc = g0700();
    assert_eq!(r.next_after("0406", &loc, "water-d0"), Some("water-city"));
    assert_eq!(r.next_after("0406", &loc, "water-city"), Some("pump"));
    assert_eq!(r.next_after("0406", &loc, "pump"), None);
    // Not a candidate here (a dispatcher chose it): a dispatcher decides again.
    assert_eq!(r.next_after("0406", &loc, "sanitation"), None);
    // Another category: no route at all.
    assert_eq!(r.next_after("0102", &loc, "water-d0"), None);
}

#[test]
fn departments_are_looked_up_by_code() {
    let r = ok("");
    let d = r.department("water-d0").expect("water-d0");
    assert_eq!(d.name_en, "District 0 Water Affairs");
    assert_eq!(d.line, line_of(DEPARTMENTS, "\"water-d0\"") - 1);
    assert!(r.department("nobody").is_none());
    assert_eq!(r.departments().len(), 6);
}

/// The shipped catalog and routing, with the demo city.
fn shipped() -> (Catalog, Routing) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let catalog = Catalog::load(&root.join("rules/catalog.toml"))
        .unwrap_or_else(|e| panic!("rules/catalog.toml:\n{e}"));
    let routing = Routing::load(
        &root.join("rules/routing.toml"),
        &catalog,
        Some(demo_city()),
    )
    .unwrap_or_else(|e| panic!("rules/routing.toml:\n{e}"));
    (catalog, routing)
}

#[test]
fn every_category_of_the_shipped_rules_is_in_the_catalog_and_routed() {
    let (catalog, routing) = shipped();
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let rules = crate::rules::load_dir(&root.join("rules"), Some(demo_city()))
        .unwrap_or_else(|e| panic!("shipped rules:\n{e}"));
    assert!(!rules.rules.is_empty());
    for rule in &rules.rules {
        let category = &*rule.category;
        assert!(
            catalog.get(category).is_some(),
            "rule {:?}: category {category:?} is not in rules/catalog.toml",
            rule.name
        );
        assert!(
            routing.routes_for(category).next().is_some(),
            "rule {:?}: category {category:?} has no route in rules/routing.toml",
            rule.name
        );
    }
}

#[test]
fn every_shipped_category_has_a_city_wide_route() {
    let (catalog, routing) = shipped();
    // City-wide, so an incident anywhere (even outside every district) finds a department.
    let nowhere = at(None, None, None);
    for c in catalog.categories() {
        let code = c.qualified_code();
        assert!(
            !routing.candidates(&code, &nowhere).is_empty(),
            "{code} ({}) has no city-wide route",
            c.name_en
        );
    }
}

#[test]
fn the_shipped_routing_sends_demo_incidents_where_expected() {
    let (_, routing) = shipped();
    let c = |category: &str, loc: &Location| codes(routing.candidates(category, loc)).join(" ");
    let d1 = at(Some("D-1"), Some("S-02-00"), Some("G-10-00"));
    let d0 = at(Some("D-0"), Some("S-00-00"), Some("G-00-00"));
    assert_eq!(c("0406", &g0700()), "water-city water-d0");
    assert_eq!(c("0406", &d1), "water-d1 water-city");
    assert_eq!(c("0102", &g0700()), "street-s0100 sanitation-d0");
    assert_eq!(c("0102", &d1), "sanitation-d1 sanitation-city");
    assert_eq!(c("component:0102", &d0), "water-d0 water-city");
    assert_eq!(c("0403", &d0), "gas-city");
    assert_eq!(c("confirmed_fire", &d1), "fire-d1 fire-city");
    assert_eq!(c("0505", &d0), "traffic-d0 cityman-d0");
    assert_eq!(
        routing.next_after("0505", &d0, "traffic-d0"),
        Some("cityman-d0")
    );
    assert_eq!(routing.next_after("0505", &d0, "cityman-d0"), None);
}
