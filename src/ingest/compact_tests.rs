//! The compact form.

use super::testutil::{NOW, decode};
use crate::model::{RejectReason, Timestamp};

fn reason(p: &str, topic: Option<&str>) -> RejectReason {
    match decode(p, topic) {
        Err(r) => r.reason,
        Ok(d) => d.rejected.first().map(|r| r.reason).expect("a rejection"),
    }
}

#[test]
fn default_metric_with_unix_seconds() {
    let d = decode(r#" {"t": 1767225600.25, "v": 1.27}"#, Some("WL-1")).expect("decodes");
    assert_eq!(d.readings.len(), 1);
    let r = &d.readings[0];
    assert_eq!(
        (r.sensor.as_ref(), r.metric.as_deref(), r.value),
        ("WL-1", None, 1.27)
    );
    assert_eq!(r.time, Timestamp::from_micros(1_767_225_600_250_000));
}

#[test]
fn named_values_rfc3339_and_id() {
    let d = decode(
        r#"{"ts":"2026-01-01T08:00:00+08:00","values":{"obscuration":3.5,"alarm":0},"id":"SM-1"}"#,
        None,
    )
    .expect("decodes");
    let m: Vec<(&str, Option<&str>, f64)> = d
        .readings
        .iter()
        .map(|r| (r.sensor.as_ref(), r.metric.as_deref(), r.value))
        .collect();
    assert_eq!(
        m,
        vec![
            ("SM-1", Some("obscuration"), 3.5),
            ("SM-1", Some("alarm"), 0.0)
        ]
    );
    assert_eq!(d.readings[0].time, NOW);
}

#[test]
fn no_time_means_now_and_position_is_kept() {
    let d = decode(r#"{"v":1,"lon":103.0,"lat":30.0}"#, Some("WL-1")).expect("decodes");
    assert_eq!(d.readings[0].time, NOW);
    assert_eq!(d.position, Some((103.0, 30.0)));
}

#[test]
fn one_bad_value_keeps_the_others() {
    let d = decode(r#"{"values":{"obscuration":"x","alarm":1}}"#, Some("SM-1")).expect("decodes");
    assert_eq!(d.readings.len(), 1);
    assert_eq!(d.rejected.len(), 1);
    assert!(
        d.rejected[0]
            .detail
            .contains("values.\"obscuration\" must be a number"),
        "{:?}",
        d.rejected
    );
}

#[test]
fn malformed_forms() {
    let t = Some("WL-1");
    for p in [
        r#"{"t":1,"ts":"2026-01-01T00:00:00Z","v":1}"#,
        r#"{"v":1,"values":{"level":1}}"#,
        r#"{"t":1}"#,
        r#"{"values":{}}"#,
        r#"{"ts":"yesterday","v":1}"#,
        r#"{"t":"1767225600","v":1}"#,
        r#"{"v":1,"lon":103.0}"#,
        r#"{"v":1,"id":"WL-2"}"#,
        r#"{"v":1,"id":5}"#,
        r#"{"v":1"#,
        r#"{"v":1} trailing"#,
    ] {
        assert_eq!(reason(p, t), RejectReason::Malformed, "{p}");
    }
    assert_eq!(
        reason(r#"{"v":1}"#, None),
        RejectReason::Malformed,
        "no sensor id anywhere"
    );
    assert_eq!(reason("hello", t), RejectReason::Malformed);
    assert_eq!(reason("", t), RejectReason::Malformed);
}

#[test]
fn bad_and_non_finite_positions() {
    assert_eq!(
        reason(r#"{"v":1,"lon":200,"lat":30}"#, Some("WL-1")),
        RejectReason::BadCoordinates
    );
    assert_eq!(
        reason(r#"{"v":1,"lon":103,"lat":-91}"#, Some("WL-1")),
        RejectReason::BadCoordinates
    );
    assert_eq!(
        reason(r#"{"v":1,"lon":NaN,"lat":30}"#, Some("WL-1")),
        RejectReason::NonFinite
    );
}

#[test]
fn invalid_utf8_in_an_ignored_field_is_malformed() {
    let payload = b"{\"v\": 1.2, \"note\": \"\xff\xfe\"}";
    let r = super::decode_sensor_payload(
        payload,
        Some("WL-1"),
        NOW,
        &super::Limits::default(),
        &mut Vec::new(),
    )
    .expect_err("refused");
    assert_eq!(r.reason, RejectReason::Malformed);
    assert!(r.detail.contains("not UTF-8"), "{}", r.detail);
}
