//! Engine behaviour that rule test files cannot express: readings out of order, reloads
//! and saved state. (Rule semantics are covered by `rules/tests/` through the runner.)

use super::*;
use crate::model::SensorId;
use crate::rules::load::{Settings, compile_sources};
use crate::spatial::testcity::{self, TestCityParams};
use std::path::PathBuf;

const SEC: i64 = 1_000_000;

fn city() -> Arc<City> {
    Arc::new(testcity::city(&TestCityParams::default()).unwrap())
}

fn rules(city: &City, text: &str) -> Arc<RuleSet> {
    Arc::new(
        compile_sources(
            &[(PathBuf::from("t.rules.toml"), text.to_string())],
            Settings::default(),
            Some(city),
            None,
        )
        .unwrap(),
    )
}

const GAS: &str = r#"
[[rule]]
name = "gas"
kind = "threshold"
category = "0403"
sensors = { kind = "gas" }
level = [
  { severity = "red", when = { metric = "lel", above = 50 } },
  { severity = "orange", when = { metric = "lel", above = 25 } },
]
"#;

fn gas_sensor(city: &City) -> String {
    city.sensors()
        .find(|s| s.kind == "gas")
        .unwrap()
        .id
        .to_string()
}

fn reading(sensor: &str, metric: &str, t: i64, v: f64) -> Reading {
    Reading {
        sensor: SensorId::new(sensor),
        metric: metric.into(),
        time: Timestamp::from_micros(t),
        value: v,
    }
}

fn kinds(actions: &[Action]) -> Vec<&'static str> {
    actions
        .iter()
        .map(|a| match a {
            Action::Fire { .. } => "fire",
            Action::Evidence { .. } => "evidence",
            Action::Level { .. } => "level",
            Action::Clear { .. } => "clear",
        })
        .collect()
}

#[test]
fn late_readings_are_evidence_within_lateness_and_dropped_beyond() {
    let city = city();
    let s = gas_sensor(&city);
    let mut e = Engine::new(
        rules(&city, GAS),
        city.clone(),
        30 * SEC,
        Timestamp::from_micros(0),
    );
    let mut out = Vec::new();
    e.reading(&reading(&s, "lel", 100 * SEC, 30.0), &mut out);
    assert_eq!(kinds(&out), ["fire"]);
    out.clear();
    // 10 s late, over the red line: evidence, but the level follows the newest reading.
    e.reading(&reading(&s, "lel", 90 * SEC, 60.0), &mut out);
    assert_eq!(kinds(&out), ["evidence"]);
    out.clear();
    // 10 s late and under every line: it does not clear what the newest reading says.
    e.reading(&reading(&s, "lel", 95 * SEC, 1.0), &mut out);
    assert!(out.is_empty(), "{out:?}");
    // 40 s late: beyond the lateness, left out altogether.
    e.reading(&reading(&s, "lel", 60 * SEC, 60.0), &mut out);
    assert!(out.is_empty(), "{out:?}");
    // In order again: the newest value decides.
    e.reading(&reading(&s, "lel", 101 * SEC, 55.0), &mut out);
    assert_eq!(kinds(&out), ["level", "evidence"]);
    out.clear();
    e.reading(&reading(&s, "lel", 102 * SEC, 5.0), &mut out);
    assert_eq!(kinds(&out), ["clear"]);
}

#[test]
fn a_late_reading_enters_the_rate_window_in_time_order() {
    let city = city();
    let s = gas_sensor(&city);
    let set = rules(
        &city,
        r#"
[[rule]]
name = "rise"
kind = "rate"
category = "0403"
window = "5m"
per = "1m"
sensors = { kind = "gas" }
level = [{ severity = "orange", when = { metric = "lel", above = 5 } }]
"#,
    );
    let mut e = Engine::new(set, city.clone(), 120 * SEC, Timestamp::from_micros(0));
    let mut out = Vec::new();
    e.reading(&reading(&s, "lel", 60 * SEC, 2.0), &mut out);
    e.reading(&reading(&s, "lel", 180 * SEC, 4.0), &mut out);
    assert!(out.is_empty(), "1 %LEL a minute is slow: {out:?}");
    // A reading from before both arrives late: the window now starts at 0 s with 0 %LEL,
    // still 4 %LEL over 3 minutes: slow.
    e.reading(&reading(&s, "lel", 0, 0.0), &mut out);
    assert!(out.is_empty(), "{out:?}");
    e.reading(&reading(&s, "lel", 240 * SEC, 30.0), &mut out);
    assert_eq!(kinds(&out), ["fire"], "30 %LEL in 4 minutes is fast");
}

#[test]
fn reload_keeps_state_of_unchanged_rules_only() {
    let city = city();
    let s = gas_sensor(&city);
    let pending = GAS.replace("category = \"0403\"", "category = \"0403\"\nfor = \"1m\"");
    let other = "\n[[rule]]\nname = \"other\"\nkind = \"absence\"\ncategory = \"x\"\nseverity = \"blue\"\nafter = \"1h\"\nsensors = { kind = \"crowd\" }\n";
    let mut e = Engine::new(
        rules(&city, &format!("{pending}{other}")),
        city.clone(),
        0,
        Timestamp::from_micros(0),
    );
    let mut out = Vec::new();
    e.reading(&reading(&s, "lel", 10 * SEC, 30.0), &mut out);
    assert!(out.is_empty());
    assert_eq!(e.active_keys(), 1, "pending");
    let saved = e.take_state_changes();
    assert_eq!(saved.len(), 1);
    assert_eq!(saved[0].0, format!("rule:gas:{s}"));

    // Another rule changes: the pending gas key stays.
    e.reload(rules(
        &city,
        &format!("{pending}{}", other.replace("1h", "2h")),
    ));
    assert_eq!(e.active_keys(), 1);
    e.reading(&reading(&s, "lel", 70 * SEC, 31.0), &mut out);
    assert_eq!(
        kinds(&out),
        ["fire"],
        "the for: timer ran on across the reload"
    );
    out.clear();

    // The gas rule itself changes: its state goes, and its saved state is deleted.
    e.take_state_changes();
    e.reload(rules(&city, &GAS.replace("above = 25", "above = 20")));
    assert_eq!(e.active_keys(), 0);
    let changes = e.take_state_changes();
    assert_eq!(changes, vec![(format!("rule:gas:{s}"), None)]);
}

#[test]
fn saved_state_is_restored_and_stale_state_reported() {
    let city = city();
    let s = gas_sensor(&city);
    let pending = GAS.replace("category = \"0403\"", "category = \"0403\"\nfor = \"1m\"");
    let mut e = Engine::new(
        rules(&city, &pending),
        city.clone(),
        0,
        Timestamp::from_micros(0),
    );
    let mut out = Vec::new();
    e.reading(&reading(&s, "lel", 10 * SEC, 30.0), &mut out);
    let saved: Vec<(String, String)> = e
        .take_state_changes()
        .into_iter()
        .filter_map(|(k, v)| Some((k, v?)))
        .collect();

    let mut again = Engine::new(
        rules(&city, &pending),
        city.clone(),
        0,
        Timestamp::from_micros(0),
    );
    assert!(again.restore_state(&saved).is_empty());
    again.tick(Timestamp::from_micros(70 * SEC), &mut out);
    assert_eq!(kinds(&out), ["fire"]);
    match &out[0] {
        Action::Fire { opened_at, .. } => assert_eq!(opened_at.micros(), 10 * SEC),
        other => panic!("{other:?}"),
    }

    // A changed rule does not inherit it.
    let mut changed = Engine::new(
        rules(&city, &pending.replace("for = \"1m\"", "for = \"2m\"")),
        city,
        0,
        Timestamp::from_micros(0),
    );
    assert_eq!(changed.restore_state(&saved), vec![format!("rule:gas:{s}")]);
    assert_eq!(changed.active_keys(), 0);
}

/// Indicators for the tests over indicators: one broken down by district, one not.
const INDICATORS: &str = r#"
[[sector]]
code = "flood"
name = "防汛"
name_en = "Flood control"

[[indicator]]
id = "wet"
name = "积水点数"
name_en = "Waterlogged points"
sector = "flood"
unit = "个"
from = "readings"
sensors = { kind = "waterlogging" }
metric = "depth"
aggregate = "count_above"
above = 15
window = "10m"
levels = { blue = 1, yellow = 2, orange = 3, red = 4 }

[[indicator]]
id = "wet-city"
name = "全市积水点数"
name_en = "Waterlogged points, city"
sector = "flood"
unit = "个"
from = "readings"
sensors = { kind = "waterlogging" }
metric = "depth"
aggregate = "count_above"
above = 15
window = "10m"
breakdown = "none"
levels = { blue = 1, yellow = 2, orange = 3, red = 4 }
"#;

fn indicator_rules(city: &City, text: &str) -> Result<Arc<RuleSet>, crate::rules::RuleErrors> {
    let settings = Settings::default();
    let set = crate::indicators::compile::compile(
        std::path::Path::new("indicators.toml"),
        INDICATORS,
        &settings,
        Some(city),
    )
    .expect("test indicators");
    let mut rules = compile_sources(
        &[(PathBuf::from("t.rules.toml"), text.to_string())],
        settings,
        Some(city),
        Some(&set),
    )?;
    rules.indicators = Arc::new(set);
    Ok(Arc::new(rules))
}

/// The board as the indicators' stage publishes it: `wet` for the city and per district.
fn board(t: i64, city_value: f64, districts: &[(&str, f64)]) -> Vec<crate::indicators::Current> {
    use crate::indicators::{Current, ScopeValue};
    vec![Current {
        id: "wet".into(),
        time: Timestamp::from_micros(t),
        value: Some(city_value),
        level: "normal".into(),
        breakdown: districts
            .iter()
            .map(|(d, v)| ScopeValue {
                scope: format!("district:{d}"),
                name: d.to_string(),
                district: Some(d.to_string()),
                street: None,
                value: Some(*v),
                level: "normal".into(),
            })
            .collect(),
    }]
}

const BY_DISTRICT: &str = r#"
[[rule]]
name = "district-flooding"
kind = "threshold"
category = "0406"
indicators = "wet"
by = "district"
title = "片区积水 {indicator_name} {value} 个 ({indicator})"
level = [
  { severity = "red", when = { metric = "value", above = 5 } },
  { severity = "orange", when = { metric = "value", above = 2 } },
]
"#;

#[test]
fn a_rule_over_an_indicator_fires_per_district_and_steps_down() {
    let city = city();
    let d0 = city.districts()[0].clone();
    let d1 = city.districts()[1].code.clone();
    let mut e = Engine::new(
        indicator_rules(&city, BY_DISTRICT).expect("rule over an indicator"),
        city.clone(),
        0,
        Timestamp::from_micros(0),
    );
    let mut out = Vec::new();
    e.indicators(
        &board(10 * SEC, 4.0, &[(&d0.code, 3.0), (&d1, 1.0)]),
        &mut out,
    );
    assert_eq!(kinds(&out), ["fire"], "only the district over 2: {out:?}");
    let key = format!("rule:district-flooding:indicator:wet@{}", d0.code);
    match &out[0] {
        Action::Fire {
            key: k,
            severity,
            title,
            source,
            location,
            opened_at,
            ..
        } => {
            assert_eq!(k, &key);
            assert_eq!(*severity, Severity::Orange);
            assert_eq!(
                title,
                &format!("片区积水 积水点数 · {} 3 个 (wet)", d0.name)
            );
            assert_eq!(
                source.as_deref(),
                Some(&key["rule:district-flooding:".len()..])
            );
            assert_eq!(location.district.as_deref(), Some(d0.code.as_str()));
            assert_eq!(opened_at.micros(), 10 * SEC);
        }
        other => panic!("{other:?}"),
    }
    out.clear();
    // The same board again (no newer computation) is not new evidence.
    e.indicators(
        &board(10 * SEC, 4.0, &[(&d0.code, 3.0), (&d1, 1.0)]),
        &mut out,
    );
    assert!(out.is_empty(), "{out:?}");
    e.indicators(
        &board(20 * SEC, 7.0, &[(&d0.code, 6.0), (&d1, 1.0)]),
        &mut out,
    );
    assert_eq!(kinds(&out), ["level", "evidence"]);
    out.clear();
    e.indicators(
        &board(30 * SEC, 1.0, &[(&d0.code, 1.0), (&d1, 0.0)]),
        &mut out,
    );
    assert_eq!(kinds(&out), ["clear"]);

    // Its state is saved under the key and restored like a sensor's.
    out.clear();
    e.indicators(&board(40 * SEC, 3.0, &[(&d0.code, 3.0)]), &mut out);
    let saved: Vec<(String, String)> = e
        .take_state_changes()
        .into_iter()
        .filter_map(|(k, v)| Some((k, v?)))
        .collect();
    assert_eq!(saved.len(), 1);
    assert_eq!(saved[0].0, key);
    let mut again = Engine::new(
        indicator_rules(&city, BY_DISTRICT).unwrap(),
        city.clone(),
        0,
        Timestamp::from_micros(0),
    );
    assert!(again.restore_state(&saved).is_empty());
    assert_eq!(again.active_keys(), 1);
    // A reload that keeps the rule keeps the key; one that drops the rule deletes it.
    again.reload(indicator_rules(&city, BY_DISTRICT).unwrap());
    assert_eq!(again.active_keys(), 1);
    again.take_state_changes();
    again.reload(indicator_rules(&city, GAS).unwrap());
    assert_eq!(again.active_keys(), 0);
    assert_eq!(again.take_state_changes(), vec![(key, None)]);
}

#[test]
fn a_rate_rule_over_the_citys_value() {
    let city = city();
    let text = format!(
        "{GAS}{}",
        r#"
[[rule]]
name = "spreading"
kind = "rate"
category = "0406"
indicators = "wet"
window = "10m"
per = "10m"
level = [{ severity = "orange", when = { metric = "value", above = 4 } }]
"#
    );
    let mut e = Engine::new(
        indicator_rules(&city, &text).expect("rate over an indicator"),
        city.clone(),
        0,
        Timestamp::from_micros(0),
    );
    let mut out = Vec::new();
    e.indicators(&board(0, 1.0, &[]), &mut out);
    e.indicators(&board(300 * SEC, 2.0, &[]), &mut out);
    assert!(
        out.is_empty(),
        "one more in 5 minutes is 2 per 10 minutes: {out:?}"
    );
    e.indicators(&board(360 * SEC, 6.0, &[]), &mut out);
    assert_eq!(kinds(&out), ["fire"], "5 more in 6 minutes: {out:?}");
    match &out[0] {
        Action::Fire { key, title, .. } => {
            assert_eq!(key, "rule:spreading:indicator:wet");
            assert!(title.starts_with("spreading: 积水点数"), "{title}");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn rules_over_indicators_are_checked() {
    let city = city();
    let rule = |body: &str| {
        format!(
            "[[rule]]\nname = \"r\"\nkind = \"threshold\"\ncategory = \"0406\"\n{body}\nlevel = [{{ severity = \"red\", when = {{ metric = \"value\", above = 1 }} }}]\n"
        )
    };
    for (body, expected) in [
        (
            "indicators = \"dry\"",
            "indicators.toml has no indicator \"dry\"",
        ),
        (
            "indicators = \"wet-city\"\nby = \"district\"",
            "indicator \"wet-city\" has no breakdown by district",
        ),
        (
            "indicators = \"wet\"\nby = \"street\"",
            "expected city or district",
        ),
        (
            "indicators = \"wet\"\nsensors = { kind = \"gas\" }",
            "not both",
        ),
        (
            "sensors = { kind = \"gas\" }\nby = \"district\"",
            "`by` goes with `indicators`",
        ),
        (
            "indicators = \"wet\"\ntitle = \"{sensor_name}\"",
            "unknown placeholder {sensor_name}",
        ),
    ] {
        let err = indicator_rules(&city, &rule(body)).unwrap_err().to_string();
        assert!(err.contains(expected), "{body}: {err}");
    }
    let err = indicator_rules(
        &city,
        &rule("indicators = \"wet\"").replace("metric = \"value\"", "metric = \"depth\""),
    )
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("an indicator has one metric, \"value\", not \"depth\""),
        "{err}"
    );
    let err = indicator_rules(
        &city,
        &rule("indicators = \"wet\"").replace("\"threshold\"", "\"absence\""),
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("`indicators` does not apply"), "{err}");
}
