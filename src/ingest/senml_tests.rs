//! SenML resolution rules, with RFC 8428's own examples.

use super::testutil::{NOW, SEC, decode};
use crate::model::{RejectReason, Timestamp};
use std::borrow::Cow;

fn names(p: &str, topic: Option<&str>) -> Vec<(String, Option<String>)> {
    let d = decode(p, topic).expect("decodes");
    d.readings
        .iter()
        .map(|r| {
            (
                r.sensor.to_string(),
                r.metric.as_ref().map(|m| m.to_string()),
            )
        })
        .collect()
}

fn reason(p: &str, topic: Option<&str>) -> RejectReason {
    match decode(p, topic) {
        Err(r) => r.reason,
        Ok(d) => d.rejected.first().map(|r| r.reason).expect("a rejection"),
    }
}

#[test]
fn rfc_single_datapoint() {
    let p = r#"[{"n":"urn:dev:ow:10e2073a01080063","u":"Cel","v":23.1}]"#;
    // With the id in the topic, the whole name is the sensor: the default metric.
    let d = decode(p, Some("urn:dev:ow:10e2073a01080063")).expect("decodes");
    assert_eq!(d.readings[0].metric, None);
    assert_eq!(d.readings[0].unit.as_deref(), Some("Cel"));
    assert_eq!(d.readings[0].time, NOW, "no time means now");
    // Without it, the name splits at its last ':' (documented; no URN prefix stripping).
    assert_eq!(
        names(p, None),
        vec![("urn:dev:ow".into(), Some("10e2073a01080063".into()))]
    );
}

#[test]
fn rfc_multiple_datapoints_borrow_from_payload() {
    let p = br#"[{"bn":"urn:dev:ow:10e2073a01080063:","n":"voltage","u":"V","v":120.1},
                 {"n":"current","u":"A","v":1.2}]"#;
    let mut scratch = Vec::new();
    let d = super::decode_sensor_payload(p, None, NOW, &super::Limits::default(), &mut scratch)
        .expect("decodes");
    assert_eq!(d.readings.len(), 2);
    for r in &d.readings {
        assert_eq!(r.sensor, "urn:dev:ow:10e2073a01080063");
        assert!(matches!(r.sensor, Cow::Borrowed(_)), "sensor borrowed");
        assert!(
            matches!(r.metric, Some(Cow::Borrowed(_))),
            "metric borrowed"
        );
    }
    assert_eq!(d.readings[1].metric.as_deref(), Some("current"));
    assert_eq!(d.readings[1].value, 1.2);
}

#[test]
fn rfc_base_time_base_unit_and_relative_times() {
    let p = r#"[{"bn":"urn:dev:ow:10e2073a01080063:","bt":1.276020076001e+09,"bu":"A","bver":5,"n":"voltage","u":"V","v":120.1},
        {"n":"current","t":-5,"v":1.2},{"n":"current","t":-4,"v":1.3},{"n":"current","t":-3,"v":1.4},
        {"n":"current","t":-2,"v":1.5},{"n":"current","t":-1,"v":1.6},{"n":"current","v":1.7}]"#;
    let d = decode(p, None).expect("decodes");
    assert_eq!(d.readings.len(), 7);
    let base = 1_276_020_076_001_000;
    assert_eq!(d.readings[0].time, Timestamp::from_micros(base));
    assert_eq!(d.readings[0].unit.as_deref(), Some("V"), "u overrides bu");
    assert_eq!(
        d.readings[1].time,
        Timestamp::from_micros(base - 5 * SEC),
        "bt + t"
    );
    assert_eq!(d.readings[1].unit.as_deref(), Some("A"), "bu applies");
    assert_eq!(d.readings[6].time, Timestamp::from_micros(base));
}

#[test]
fn rfc_collection_base_fields_apply_until_overridden() {
    // RFC 8428 §5.1.6: the last record uses the 3rd record's base name and the 1st's base time.
    let p = r#"[{"bn":"dev2/","bt":1.320078429e+09,"n":"temperature","u":"Cel","v":27.2},
        {"n":"humidity","u":"%RH","v":80},
        {"bn":"dev1/","n":"temperature","u":"Cel","v":12.3},
        {"n":"humidity","u":"%RH","v":67}]"#;
    let d = decode(p, None).expect("decodes");
    let last = &d.readings[3];
    assert_eq!(
        (last.sensor.as_ref(), last.metric.as_deref()),
        ("dev1", Some("humidity"))
    );
    assert_eq!(last.time, Timestamp::from_micros(1_320_078_429_000_000));
    assert_eq!(d.readings[1].sensor, "dev2");
}

#[test]
fn relative_times_below_2_pow_28() {
    let p = r#"[{"bn":"WL-1:","n":"level","t":-60,"v":1},{"n":"level","t":30,"v":1},
        {"bt":-10,"n":"level","t":-5,"v":1},{"n":"level","t":268435455,"v":1},{"n":"level","t":268435466,"v":1}]"#;
    let d = decode(p, None).expect("decodes");
    let t: Vec<i64> = d.readings.iter().map(|r| r.time.micros()).collect();
    assert_eq!(t[0], NOW.micros() - 60 * SEC);
    assert_eq!(t[1], NOW.micros() + 30 * SEC);
    assert_eq!(t[2], NOW.micros() - 15 * SEC);
    // bt = -10 still applies: -10 + 268435455 is below 2^28, so still relative.
    assert_eq!(t[3], NOW.micros() + (268_435_445) * SEC);
    assert_eq!(t[4], (1 << 28) * SEC, "from 2^28 on the time is absolute");
}

#[test]
fn base_value_and_base_sum() {
    let p = r#"[{"bn":"WL-1:","bv":10,"n":"level","v":1.5},{"n":"level","v":-0.5},
        {"bs":100,"n":"level","s":5},{"n":"level","s":7,"v":2}]"#;
    let d = decode(p, None).expect("decodes");
    let v: Vec<f64> = d.readings.iter().map(|r| r.value).collect();
    assert_eq!(
        v,
        vec![11.5, 9.5, 105.0, 12.0],
        "bv + v; bs + s when only s; v wins over s"
    );
}

#[test]
fn boolean_string_and_data_values() {
    let p = r#"[{"bn":"SM-1:","n":"alarm","vb":true},{"n":"alarm","vb":false},
        {"n":"label","vs":"kitchen"},{"n":"blob","vd":"aGk"}]"#;
    let d = decode(p, None).expect("decodes");
    assert_eq!(
        d.readings.iter().map(|r| r.value).collect::<Vec<_>>(),
        vec![1.0, 0.0]
    );
    assert_eq!(d.skipped, 2, "vs / vd are skipped and counted");
    assert!(d.rejected.is_empty());
}

#[test]
fn record_level_problems_keep_the_other_records() {
    let p = r#"[{"bn":"WL-1:","n":"level","v":1},{"n":"level","v":"high"},{"n":"level"},
        {"n":"level","v":1,"vb":true},{"n":"level","v":2}]"#;
    let d = decode(p, None).expect("decodes");
    assert_eq!(d.readings.len(), 2);
    let details: Vec<&str> = d.rejected.iter().map(|r| r.detail.as_str()).collect();
    assert!(
        details[0].contains("record #1: \"v\" must be a number, got a string"),
        "{details:?}"
    );
    assert!(details[1].contains("record #2: no value"), "{details:?}");
    assert!(
        details[2].contains("record #3: more than one of v, vs, vb, vd"),
        "{details:?}"
    );
    assert!(
        d.rejected
            .iter()
            .all(|r| r.reason == RejectReason::Malformed)
    );
}

#[test]
fn whole_pack_rules() {
    assert_eq!(reason("[]", Some("WL-1")), RejectReason::Malformed);
    assert_eq!(
        reason(r#"[{"bver":11,"v":1}]"#, Some("WL-1")),
        RejectReason::Malformed
    );
    assert_eq!(
        reason(r#"[{"bver":10,"v":1},{"bver":5,"v":1}]"#, Some("WL-1")),
        RejectReason::Malformed
    );
    assert_eq!(
        reason(r#"[{"v":1,"secret_":true}]"#, Some("WL-1")),
        RejectReason::Malformed
    );
    assert_eq!(
        reason(r#"[{"bn":7,"v":1},{"v":2}]"#, Some("WL-1")),
        RejectReason::Malformed
    );
    assert_eq!(reason(r#"[1,2]"#, Some("WL-1")), RejectReason::Malformed);
    // Unknown fields without a trailing _ are ignored.
    assert_eq!(
        decode(r#"[{"v":1,"ut":60,"l":"x","rssi":-70}]"#, Some("WL-1")).map(|d| d.readings.len()),
        Ok(1)
    );
}

#[test]
fn names_with_a_topic_sensor() {
    let t = Some("WL-1");
    assert_eq!(names(r#"[{"v":1}]"#, t), vec![("WL-1".into(), None)]);
    assert_eq!(
        names(r#"[{"n":"level","v":1}]"#, t),
        vec![("WL-1".into(), Some("level".into()))]
    );
    assert_eq!(
        names(r#"[{"n":"WL-1:level","v":1}]"#, t),
        vec![("WL-1".into(), Some("level".into()))]
    );
    assert_eq!(
        names(r#"[{"bn":"WL-1/","n":"level","v":1}]"#, t),
        vec![("WL-1".into(), Some("level".into()))]
    );
    assert_eq!(
        names(r#"[{"bn":"WL","n":"-1:level","v":1}]"#, t),
        vec![("WL-1".into(), Some("level".into()))]
    );
    assert_eq!(
        names(r#"[{"bn":"WL-1","v":1}]"#, t),
        vec![("WL-1".into(), None)]
    );
    assert_eq!(
        reason(r#"[{"n":"WL-2:level","v":1}]"#, t),
        RejectReason::Malformed
    );
}

#[test]
fn names_without_a_topic_sensor() {
    assert_eq!(
        names(r#"[{"n":"WL-1:level","v":1}]"#, None),
        vec![("WL-1".into(), Some("level".into()))]
    );
    assert_eq!(
        names(r#"[{"n":"WL-1/level","v":1}]"#, None),
        vec![("WL-1".into(), Some("level".into()))]
    );
    assert_eq!(
        names(r#"[{"bn":"WL-1:","v":1}]"#, None),
        vec![("WL-1".into(), None)]
    );
    assert_eq!(
        names(r#"[{"bn":"urn:dev:id:WL-0001:","n":"level","v":1}]"#, None),
        vec![("urn:dev:id:WL-0001".into(), Some("level".into()))]
    );
    // An escaped name is decoded (and owned), not refused.
    assert_eq!(
        names(r#"[{"n":"WL-1:lev\u0065l","v":1}]"#, None),
        vec![("WL-1".into(), Some("level".into()))]
    );
    assert_eq!(
        reason(r#"[{"n":"level","v":1}]"#, None),
        RejectReason::Malformed
    );
    assert_eq!(
        reason(r#"[{"n":":level","v":1}]"#, None),
        RejectReason::Malformed
    );
    assert_eq!(
        reason(r#"[{"n":"WL 1:level","v":1}]"#, None),
        RejectReason::Malformed
    );
    assert_eq!(
        reason(r#"[{"n":"-WL:level","v":1}]"#, None),
        RejectReason::Malformed
    );
}
