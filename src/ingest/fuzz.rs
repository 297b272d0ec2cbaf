//! Property tests: no decoder panics on any input, and every message has an outcome.

use super::testutil::{NOW, city};
use super::{Limits, validate_sensor_message, validate_video_alert};
use crate::spatial::City;
use proptest::prelude::*;
use std::sync::OnceLock;

fn shared_city() -> &'static City {
    static CITY: OnceLock<City> = OnceLock::new();
    CITY.get_or_init(city)
}

/// Scalars that exercise the decoders' edges, as JSON text.
fn scalar() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<f64>().prop_map(|x| format!("{x:?}").replace("inf", "Infinity")),
        any::<i64>().prop_map(|x| x.to_string()),
        Just("NaN".to_string()),
        Just("-Infinity".to_string()),
        Just("1e999".to_string()),
        Just("true".to_string()),
        Just("null".to_string()),
        "[a-zA-Z0-9:/_ -]{0,12}".prop_map(|s| format!("{s:?}")),
        Just("\"WL-1:\"".to_string()),
        Just("\"level\"".to_string()),
        Just("\"2026-01-01T00:00:00Z\"".to_string()),
        Just("[1,{}]".to_string()),
    ]
}

fn key() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(vec![
            "bn",
            "bt",
            "bu",
            "bv",
            "bs",
            "bver",
            "n",
            "u",
            "v",
            "vs",
            "vb",
            "vd",
            "s",
            "t",
            "ut",
            "x_",
            "id",
            "ts",
            "values",
            "lon",
            "lat",
            "camera_id",
            "event_type",
            "confidence",
            "time",
            "snapshot_url",
        ])
        .prop_map(str::to_string),
        "[a-z_]{1,6}",
    ]
}

fn object() -> impl Strategy<Value = String> {
    prop::collection::vec((key(), scalar()), 0..8).prop_map(|kv| {
        let body: Vec<String> = kv.iter().map(|(k, v)| format!("{k:?}:{v}")).collect();
        format!("{{{}}}", body.join(","))
    })
}

fn jsonish() -> impl Strategy<Value = String> {
    prop_oneof![
        object(),
        prop::collection::vec(object(), 0..6).prop_map(|o| format!("[{}]", o.join(","))),
        (object(), object()).prop_map(|(a, b)| format!("{{\"values\":{a},\"t\":1.7e9,\"x\":{b}}}")),
        scalar(),
    ]
}

fn check_all(payload: &[u8]) {
    let city = shared_city();
    let limits = Limits::default();
    for topic in [None, Some("WL-1"), Some("SM-1")] {
        let v = validate_sensor_message(city, &limits, NOW, topic, payload);
        assert!(
            !(v.readings.is_empty() && v.rejected.is_empty() && v.skipped == 0),
            "no outcome for {:?}",
            String::from_utf8_lossy(payload)
        );
        assert_eq!(v.readings.len(), v.sensors.len());
        assert!(v.readings.iter().all(|r| r.value.is_finite()));
    }
    for topic in [None, Some("CAM-1")] {
        let _ = validate_video_alert(city, &limits, NOW, topic, payload);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..256)) {
        check_all(&bytes);
    }

    #[test]
    fn jsonish_never_panics(text in jsonish()) {
        check_all(text.as_bytes());
    }

    #[test]
    fn bytes_with_json_prefix_never_panic(prefix in prop::sample::select(vec!["[", "{", "[{", " \n{\"v\":"]),
                                          tail in prop::collection::vec(any::<u8>(), 0..64)) {
        let mut p = prefix.as_bytes().to_vec();
        p.extend(tail);
        check_all(&p);
    }
}
