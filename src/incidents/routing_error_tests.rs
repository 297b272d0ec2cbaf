//! Tests of every error a routing file can have, each at its line: unknown departments,
//! categories and areas, duplicates, bad departments, unknown keys and malformed routes,
//! routes that can never match, syntax errors and an unreadable file.

use super::tests::{DEPARTMENTS, catalog, demo_city, line_of, parse};
use super::*;

/// Asserts an error at the line holding `marker` whose message contains `needle`.
fn assert_error(text: &str, city: Option<&City>, marker: &str, needle: &str) {
    let line = line_of(text, marker);
    let errors = parse(text, city).expect_err("expected errors").0;
    assert!(
        errors.iter().any(|e| e.line == line
            && e.message.contains(needle)
            && e.file == Path::new("rules/routing.toml")),
        "no error at line {line} containing {needle:?}; got:\n{}",
        RoutingErrors(errors.clone())
    );
}

#[test]
fn unknown_departments_categories_and_areas_are_errors_at_their_lines() {
    let text = format!(
        r#"{DEPARTMENTS}
[[route]]
category = ["0406", "0999"]
district = "D-9"
departments = ["water-d0", "watr-city"]

[[route]]
category = "0406"
street = ["S-01-00", "S-99-00"]
departments = ["water-d0"]

[[route]]
category = "0406"
grid = ["G-07-00", "G-99-99"]
departments = "pump"
"#
    );
    let city = Some(demo_city());
    assert_error(&text, city, "\"0999\"", "unknown category `0999`");
    assert_error(&text, city, "\"D-9\"", "unknown district `D-9`");
    assert_error(&text, city, "watr-city", "unknown department `watr-city`");
    assert_error(&text, city, "S-99-00", "unknown street `S-99-00`");
    assert_error(&text, city, "G-99-99", "unknown grid `G-99-99`");
    assert_eq!(parse(&text, city).expect_err("errors").0.len(), 5);

    // Without a city, areas are not checked.
    let errors = parse(&text, None).expect_err("errors").0;
    assert_eq!(errors.len(), 2, "{}", RoutingErrors(errors.clone()));
}

#[test]
fn duplicate_departments_name_the_first() {
    let text = format!(
        r#"{DEPARTMENTS}
[[department]]
code = "pump"
name_zh = "又一个泵站"
name_en = "Another pump station"
"#
    );
    let first = line_of(&text, "code = \"pump\"") - 1;
    let errors = parse(&text, None).expect_err("duplicate").0;
    assert_eq!(errors.len(), 1);
    assert_eq!(errors[0].line, line_of(&text, "又一个泵站") - 2);
    assert!(errors[0].message.contains(&format!(
        "duplicate department `pump`: first defined at line {first}"
    )));
}

#[test]
fn bad_departments() {
    let text = r#"
[[department]]
code = "Water City"
name_zh = "市水务局"
name_en = ""

[[department]]
code = "x"
name_zh = "x"
name_en = "x"
phone = "12345"
"#;
    assert_error(text, None, "Water City", "department code `Water City`");
    assert_error(text, None, "name_en = \"\"", "must not be empty");
    assert_error(text, None, "phone", "unknown field `phone`");
}

#[test]
fn unknown_keys_and_malformed_routes() {
    let text = format!(
        r#"route_order = "file"
{DEPARTMENTS}
[[route]]
category = ["0406"]
distrct = "D-0"
departments = ["water-d0"]

[[route]]
category = ["*", "0406"]
departments = ["water-d0"]

[[route]]
category = []
departments = []

[[route]]
category = ["0406", "0406"]
departments = ["pump", "pump"]

[[route]]
category = 406
departments = ["pump"]
"#
    );
    assert_error(&text, None, "route_order", "unknown key `route_order`");
    assert_error(&text, None, "distrct", "distrct");
    assert_error(&text, None, "[\"*\", \"0406\"]", "`*` stands alone");
    assert_error(&text, None, "category = []", "`category` must not be empty");
    assert_error(
        &text,
        None,
        "departments = []",
        "`departments` must not be empty",
    );
    assert_error(
        &text,
        None,
        "[\"0406\", \"0406\"]",
        "`0406` is listed twice",
    );
    assert_error(
        &text,
        None,
        "[\"pump\", \"pump\"]",
        "`pump` is listed twice",
    );
    assert_error(
        &text,
        None,
        "category = 406",
        "a string or a list of strings",
    );
}

#[test]
fn a_route_that_can_never_match_is_an_error() {
    let text = format!(
        r#"{DEPARTMENTS}
[[route]]
category = ["0406"]
district = "D-0"
departments = ["water-d0"]

[[route]]
category = ["0406"]
district = ["D-0"]
departments = ["water-city"]

[[route]]
category = ["0406"]
district = "D-1"
street = "S-01-00"
departments = ["water-d0"]

[[route]]
category = ["0406"]
street = "S-02-00"
grid = "G-07-00"
departments = ["water-d0"]
"#
    );
    let city = Some(demo_city());
    // Same categories and area as an earlier route: shadowed.
    let first = line_of(&text, "district = \"D-0\"") - 2;
    let errors = parse(&text, city).expect_err("errors").0;
    assert_eq!(errors.len(), 3, "{}", RoutingErrors(errors.clone()));
    assert_eq!(errors[0].line, line_of(&text, "district = [\"D-0\"]") - 2);
    assert!(
        errors[0]
            .message
            .contains(&format!("route at line {first}"))
    );
    // A street or grid outside the route's own districts or streets.
    assert_error(&text, city, "street = \"S-01-00\"", "would never match");
    assert_error(&text, city, "grid = \"G-07-00\"", "would never match");
}

#[test]
fn a_syntax_error_and_an_unreadable_file() {
    let text = format!("{DEPARTMENTS}\n[[route]\ncategory = \"0406\"\n");
    assert_error(&text, None, "[[route]", "");
    let e = Routing::load(Path::new("/nonexistent/routing.toml"), &catalog(), None)
        .expect_err("missing");
    assert_eq!((e.0.len(), e.0[0].line), (1, 0));
    assert!(e.to_string().contains("cannot read"));
}
