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
