//! Every rejection reason of a sensor message, and that valid records survive bad ones.

use super::testutil::{NOW, SEC, city};
use super::{Limits, Validated, validate_sensor_message};
use crate::model::RejectReason;

fn run(payload: &str, topic: Option<&str>) -> Validated {
    validate_sensor_message(&city(), &Limits::default(), NOW, topic, payload.as_bytes())
}

fn reasons(v: &Validated) -> Vec<RejectReason> {
    v.rejected.iter().map(|r| r.reason).collect()
}

#[test]
fn accepts_and_enriches() {
    let v = run(
        r#"[{"bn":"WL-1:","n":"level","u":"m","v":1.5,"t":-10}]"#,
        None,
    );
    assert!(v.rejected.is_empty(), "{:?}", v.rejected);
    assert_eq!(v.readings[0].sensor.as_str(), "WL-1");
    assert_eq!(v.readings[0].metric, "level");
    assert_eq!(v.readings[0].time.micros(), NOW.micros() - 10 * SEC);
    let (_, sensor) = v.enriched().next().expect("one");
    assert_eq!(sensor.location.grid.as_deref(), Some("G1"));
    // No metric named: the sensor's first metric.
    let v = run(r#"{"v":2.5}"#, Some("SM-1"));
    assert_eq!(v.readings[0].metric, "obscuration");
}

#[test]
fn each_record_reason() {
    let cases = [
        (r#"[{"n":"XX-9:level","v":1}]"#, RejectReason::UnknownSensor),
        (r#"[{"n":"WL-1:depth","v":1}]"#, RejectReason::UnknownMetric),
        (r#"[{"n":"WL-1:level","v":51}]"#, RejectReason::OutOfRange),
        (
            r#"[{"n":"WL-1:level","v":-5.01}]"#,
            RejectReason::OutOfRange,
        ),
        (
            r#"[{"n":"WL-1:level","v":1,"t":-700000}]"#,
            RejectReason::StaleTimestamp,
        ),
        (
            r#"[{"n":"WL-1:level","v":1,"t":301}]"#,
            RejectReason::FutureTimestamp,
        ),
        (
            r#"[{"n":"WL-1:level","v":1,"bt":1.9e9}]"#,
            RejectReason::FutureTimestamp,
        ),
        (
            r#"[{"n":"WL-1:level","v":1,"u":"cm"}]"#,
            RejectReason::Malformed,
        ),
        (
            r#"[{"n":"WL-1:level","v":1e308,"bv":1e308}]"#,
            RejectReason::NonFinite,
        ),
        (
            r#"{"v":1,"lon":181,"lat":30}"#,
            RejectReason::BadCoordinates,
        ),
    ];
    for (p, want) in cases {
        let topic = p.starts_with('{').then_some("WL-1");
        let v = run(p, topic);
        assert_eq!(reasons(&v), vec![want], "{p}: {:?}", v.rejected);
        assert!(v.readings.is_empty());
    }
    let v = run(r#"[{"n":"WL-1:level","v":1,"u":"cm"}]"#, None);
    assert!(
        v.rejected[0]
            .detail
            .contains("unit \"cm\" is not level's unit \"m\""),
        "{:?}",
        v.rejected
    );
    let v = run(r#"[{"n":"WL-1:level","v":51}]"#, None);
    assert!(
        v.rejected[0]
            .detail
            .contains("record #0: level = 51 is outside [-5, 50]"),
        "{:?}",
        v.rejected
    );
}

#[test]
fn non_finite_tokens_are_non_finite_not_malformed() {
    for token in [
        "NaN",
        "Infinity",
        "-Infinity",
        "1e999",
        "-1e999",
        "nan",
        "inf",
    ] {
        let p = format!(
            r#"[{{"bn":"WL-1:","n":"level","v":1,"t":-3}},{{"n":"level","v":{token},"t":-2}},{{"n":"level","v":2,"t":-1}}]"#
        );
        let v = run(&p, None);
        assert_eq!(reasons(&v), vec![RejectReason::NonFinite], "{token}");
        assert_eq!(v.readings.len(), 2, "{token}: the valid records are kept");
        assert!(
            v.rejected[0].detail.starts_with("record #1: value"),
            "{:?}",
            v.rejected
        );
    }
    let v = run(r#"{"values":{"obscuration":NaN,"alarm":1}}"#, Some("SM-1"));
    assert_eq!(
        (reasons(&v), v.readings.len()),
        (vec![RejectReason::NonFinite], 1)
    );
    let v = run(r#"[{"n":"WL-1:level","v":1,"t":Infinity}]"#, None);
    assert_eq!(reasons(&v), vec![RejectReason::NonFinite]);
}

#[test]
fn whole_message_reasons() {
    let small = Limits {
        max_payload_bytes: 20,
        max_records: 2,
        ..Limits::default()
    };
    let c = city();
    let v = validate_sensor_message(
        &c,
        &small,
        NOW,
        Some("WL-1"),
        br#"[{"v":1},{"v":2},{"v":3}]"#,
    );
    assert_eq!(reasons(&v), vec![RejectReason::Oversize]);
    assert!(v.rejected[0].detail.contains("bytes"));
    let v = validate_sensor_message(&c, &small, NOW, Some("WL-1"), br#"[{"v":1},{},{}]"#);
    assert_eq!(reasons(&v), vec![RejectReason::Oversize]);
    assert!(
        v.rejected[0].detail.contains("3 records"),
        "{:?}",
        v.rejected
    );
    assert_eq!(
        reasons(&run("not json", None)),
        vec![RejectReason::Malformed]
    );
    assert_eq!(
        reasons(&run("[{\"v\":1,}]", Some("WL-1"))),
        vec![RejectReason::Malformed]
    );
}

#[test]
fn valid_records_survive_invalid_neighbours() {
    let v = run(
        r#"[{"bn":"WL-1:","n":"level","v":1},{"n":"level","v":99},{"n":"nope","v":1},
            {"bn":"XX:","n":"a","v":1},{"bn":"WL-1:","n":"level","v":3,"t":-1}]"#,
        None,
    );
    assert_eq!(
        v.readings.iter().map(|r| r.value).collect::<Vec<_>>(),
        vec![1.0, 3.0]
    );
    assert_eq!(
        reasons(&v),
        vec![
            RejectReason::OutOfRange,
            RejectReason::UnknownMetric,
            RejectReason::UnknownSensor
        ]
    );
    assert_eq!(v.sensors.len(), v.readings.len());
}

#[test]
fn long_values_are_truncated_in_details() {
    let id = "X".repeat(5000);
    let v = run(&format!(r#"[{{"n":"{id}:level","v":1}}]"#), None);
    assert_eq!(reasons(&v), vec![RejectReason::UnknownSensor]);
    assert!(
        v.rejected[0].detail.len() < 200,
        "{}",
        v.rejected[0].detail.len()
    );
}

#[test]
fn a_conflicting_second_value_in_one_pack_is_rejected_and_the_first_kept() {
    let v = run(
        r#"[{"bn":"WL-1:","n":"level","v":1.5,"t":-10},
            {"n":"level","v":1.6,"t":-5},
            {"n":"level","v":2.5,"t":-10},
            {"n":"level","v":1.5,"t":-10}]"#,
        None,
    );
    assert_eq!(reasons(&v), [RejectReason::Conflict], "{:?}", v.rejected);
    assert!(
        v.rejected[0].detail.contains("record #2") && v.rejected[0].detail.contains("record #0"),
        "{}",
        v.rejected[0].detail
    );
    let values: Vec<f64> = v.readings.iter().map(|r| r.value).collect();
    // The same value again is no conflict: the store counts it as a duplicate.
    assert_eq!(values, [1.5, 1.6, 1.5]);
    assert_eq!(v.sensors.len(), v.readings.len());
}
