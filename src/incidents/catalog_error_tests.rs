//! Tests of every error a catalog file can have, each at its line: syntax, unknown keys,
//! duplicates, codes and majors, severities, limits, missing fields, profiles, and an
//! unreadable file.

use super::tests::{DEFAULTS, cat, line_of, ok, parse};
use super::*;

/// Asserts an error at the line holding `marker` whose message contains `needle`.
fn assert_error(text: &str, marker: &str, needle: &str) {
    let line = line_of(text, marker);
    let errors = parse(text).expect_err("expected errors").0;
    assert!(
        errors.iter().any(|e| e.line == line
            && e.message.contains(needle)
            && e.file == Path::new("rules/catalog.toml")),
        "no error at line {line} containing {needle:?}; got:\n{}",
        CatalogErrors(errors.clone())
    );
}

#[test]
fn a_syntax_error_has_its_line() {
    let text = format!("{DEFAULTS}\n[[category]]\ncode = \"0406\nkind = \"event\"\n");
    assert_error(&text, "code = \"0406", "");
}

#[test]
fn unknown_keys_are_errors_with_their_lines_in_every_table() {
    let text = format!(
        r#"colour = "red"
{DEFAULTS}{}{}
[category.limits.purple]
handle = {{ working_days = 1 }}
{}
[category.limits.red]
handle = {{ hours = 1 }}
"#,
        cat("event", "0401").replace("sector", "abvoe = 27\nsector"),
        cat("event", "0402"),
        cat("event", "0403"),
    );
    assert_error(&text, "colour", "unknown key `colour`");
    assert_error(&text, "abvoe", "abvoe");
    assert_error(&text, "purple", "purple");
    assert_error(&text, "hours = 1", "hours");
    assert_eq!(parse(&text).expect_err("errors").0.len(), 4);
}

#[test]
fn unknown_keys_in_defaults_and_profiles() {
    let text = format!(
        r#"{DEFAULTS}
sector = "flood"

[profile.cover]
colour = "blue"
"#
    );
    // `sector` lands in [defaults], which does not take it.
    assert_error(&text, "sector = \"flood\"", "sector");
    assert_error(&text, "colour", "colour");
}

#[test]
fn duplicate_categories_name_the_first() {
    let text = format!(
        "{DEFAULTS}{}{}{}",
        cat("event", "0102"),
        cat("component", "0102"),
        cat("event", "0102")
    );
    let errors = parse(&text).expect_err("duplicate").0;
    assert_eq!(errors.len(), 1, "{}", CatalogErrors(errors.clone()));
    let first = line_of(&text, "[[category]]");
    assert!(
        errors[0]
            .message
            .contains(&format!("first defined at line {first}"))
    );
    assert!(errors[0].message.contains("event 0102"));
    // The third [[category]] is the duplicate.
    let third = text
        .lines()
        .enumerate()
        .filter(|(_, l)| l.starts_with("[[category]]"))
        .nth(2)
        .map(|(i, _)| i + 1);
    assert_eq!(Some(errors[0].line), third);
}

#[test]
fn the_citys_own_codes_are_unique_across_kinds() {
    let text = format!(
        "{DEFAULTS}{}{}",
        cat("event", "device_offline"),
        cat("component", "device_offline")
    );
    let errors = parse(&text).expect_err("duplicate").0;
    assert_eq!(errors.len(), 1);
    assert!(errors[0].message.contains("unique across kinds"));
}

#[test]
fn a_standard_code_needs_a_known_major_of_its_kind() {
    // Events have majors 01–05; components 01–06.
    let text = format!(
        "{DEFAULTS}{}{}{}",
        cat("event", "0601"),
        cat("component", "0601"),
        cat("component", "0700")
    );
    assert_error(
        &text,
        "code = \"0601\"",
        "06 is not a major class of events",
    );
    assert_error(
        &text,
        "code = \"0700\"",
        "07 is not a major class of components",
    );
    let errors = parse(&text).expect_err("errors").0;
    assert_eq!(errors.len(), 2, "{}", CatalogErrors(errors.clone()));

    // 00 is not a minor class.
    let text = format!("{DEFAULTS}{}", cat("event", "0400"));
    assert_error(&text, "code = \"0400\"", "minor class 00");

    // A city's extension major makes its codes valid.
    let text = format!(
        r#"{DEFAULTS}
[[major]]
kind = "event"
code = "06"
name_zh = "扩展事件"
name_en = "City extensions"
{}"#,
        cat("event", "0601")
    );
    let c = ok(&text);
    let m = c.get("0601").and_then(|x| c.major_of(x)).expect("major");
    assert_eq!((m.name_zh.as_str(), m.standard), ("扩展事件", false));
}

#[test]
fn extension_majors_are_checked() {
    let text = format!(
        r#"{DEFAULTS}
[[major]]
kind = "event"
code = "01"
name_zh = "重复"
name_en = "Again"

[[major]]
kind = "thing"
code = "07"
name_zh = "x"
name_en = "x"

[[major]]
kind = "component"
code = "7"
name_zh = "x"
name_en = "x"

[[major]]
kind = "component"
code = "08"
name_zh = ""
name_en = "Empty"
"#
    );
    assert_error(&text, "code = \"01\"", "standard's 市容环境");
    assert_error(&text, "\"thing\"", "kind must be");
    assert_error(&text, "code = \"7\"", "two digits");
    assert_error(&text, "name_zh = \"\"", "must not be empty");
}

#[test]
fn bad_codes_and_kinds() {
    let text = format!(
        "{DEFAULTS}{}{}{}",
        cat("event", "04061"),
        cat("event", "Confirmed-Fire"),
        cat("incident", "0401")
    );
    assert_error(&text, "\"04061\"", "four digits");
    assert_error(&text, "Confirmed-Fire", "snake_case");
    assert_error(&text, "\"incident\"", "unknown kind `incident`");
}

#[test]
fn bad_severities_anywhere() {
    let text = format!(
        r#"
[defaults]
auto_dispatch = ["red", "crimson"]

[defaults.limits.default]
acknowledge = {{ working_hours = 0.5 }}

[profile.p]
default_severity = "amber"
{}"#,
        cat("event", "0401")
            .replace("\"blue\"", "\"severe\"")
            .replace("sector", "auto_dispatch = [\"blue\", \"blue\"]\nsector")
    );
    assert_error(&text, "crimson", "unknown severity `crimson`");
    assert_error(&text, "amber", "unknown severity `amber`");
    assert_error(&text, "severe", "unknown severity `severe`");
    assert_error(&text, "[\"blue\", \"blue\"]", "listed twice");
}

#[test]
fn bad_limits_are_errors_at_their_lines() {
    let text = format!(
        r#"{DEFAULTS}{}
[category.limits.red]
acknowledge = {{ urgent_hours = 0 }}
handle = {{ working_days = 400 }}

[category.limits.orange]
handle = {{ working_hours = -1 }}
{}
[category.limits.yellow]
handle = "4h"
"#,
        cat("event", "0401"),
        cat("event", "0402")
    );
    assert_error(&text, "urgent_hours = 0 ", "must be positive");
    assert_error(&text, "working_days = 400", "must be positive");
    assert_error(&text, "working_hours = -1", "must be positive");
    // Not a limit at all: a deserialization error, which stops that category's checks.
    assert_error(&text, "handle = \"4h\"", "unknown variant `4h`");
}

#[test]
fn empty_names_and_texts_are_errors() {
    let text = format!(
        "{DEFAULTS}{}",
        cat("event", "0401")
            .replace("name_zh = \"名称\"", "name_zh = \"  \"")
            .replace(
                "close_condition = \"when it is done\"",
                "close_condition = \"\""
            )
    );
    assert_error(&text, "name_zh = \"  \"", "name must not be empty");
    assert_error(&text, "close_condition = \"\"", "must not be empty");

    let text = format!(
        "{DEFAULTS}{}",
        cat("event", "0401").replace("Name of 0401", "")
    );
    assert_error(&text, "name_en = \"\"", "name must not be empty");
}

#[test]
fn missing_fields_and_limits_are_errors_at_the_category() {
    // No acknowledge anywhere (no [defaults]), no sector, no conditions.
    let text = r#"
[[category]]
code = "0406"
kind = "event"
name_zh = "道路积水"
name_en = "Road waterlogging"
default_severity = "yellow"

[category.limits.orange]
handle = { urgent_hours = 4 }
"#;
    let line = line_of(text, "[[category]]");
    let errors = parse(text).expect_err("missing").0;
    let at = |needle: &str| {
        errors
            .iter()
            .any(|e| e.line == line && e.message.contains(needle))
    };
    assert!(at("no `sector`"), "{}", CatalogErrors(errors.clone()));
    assert!(at("no `file_condition`"));
    assert!(at("no `close_condition`"));
    assert!(at("no `acknowledge` limit for red"));
    // Red falls back to orange; yellow and blue have nothing.
    assert!(!at("no `handle` limit for red"));
    assert!(!at("no `handle` limit for orange"));
    assert!(at("no `handle` limit for yellow"));
    assert!(at("no `handle` limit for blue"));

    // A missing required key is a deserialization error at the table.
    let text = format!(
        "{DEFAULTS}{}",
        cat("event", "0406").replace("kind = \"event\"", "")
    );
    assert_error(&text, "[[category]]", "missing field `kind`");
}

#[test]
fn an_unknown_profile_is_an_error_at_its_line() {
    let text = format!(
        "{DEFAULTS}{}",
        cat("component", "0101").replace(
            "sector = \"flood\"",
            "sector = \"flood\"\nprofile = \"covers\""
        )
    );
    assert_error(&text, "profile = \"covers\"", "unknown profile `covers`");
}

#[test]
fn one_broken_category_does_not_hide_the_others() {
    let text = format!(
        "{DEFAULTS}{}{}{}",
        cat("event", "0401").replace("sector", "sectr"),
        cat("event", "0999"),
        cat("event", "0402")
    );
    let errors = parse(&text).expect_err("errors").0;
    assert_eq!(errors.len(), 2, "{}", CatalogErrors(errors.clone()));
    assert!(errors[0].line < errors[1].line, "sorted by line");
    let shown = CatalogErrors(errors).to_string();
    assert!(shown.starts_with("rules/catalog.toml:"), "{shown}");
}

#[test]
fn load_reports_an_unreadable_file() {
    let e = Catalog::load(Path::new("/nonexistent/catalog.toml")).expect_err("missing");
    assert_eq!(e.0.len(), 1);
    assert_eq!(e.0[0].line, 0);
    assert!(e.to_string().contains("cannot read"));
}
