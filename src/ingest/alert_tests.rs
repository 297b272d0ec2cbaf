//! Video-AI alerts.

use super::testutil::{NOW, city};
use super::{Limits, validate_video_alert};
use crate::model::{RejectReason, VideoAlert};
use serde_json::{Value, json};

fn base() -> Value {
    json!({"id": "plat-1", "camera_id": "CAM-1", "event_type": "smoke", "confidence": 0.93,
           "time": "2026-01-01T07:59:00+08:00", "snapshot_url": "https://vms.example/s/1.jpg"})
}

fn run(v: &Value, topic: Option<&str>) -> Result<VideoAlert, super::Rejection> {
    validate_video_alert(
        &city(),
        &Limits::default(),
        NOW,
        topic,
        v.to_string().as_bytes(),
    )
}

fn with(key: &str, value: Value) -> Value {
    let mut v = base();
    v[key] = value;
    v
}

fn reason(v: &Value) -> RejectReason {
    run(v, None).expect_err("rejected").reason
}

#[test]
fn accepts_a_full_alert() {
    let a = run(&base(), None).expect("valid");
    assert_eq!(a.source_id, "plat-1");
    assert_eq!(a.camera.as_str(), "CAM-1");
    assert_eq!(a.time.micros(), NOW.micros() - 60_000_000);
    assert_eq!(
        a.location.grid.as_deref(),
        Some("G1"),
        "the camera's location"
    );
    assert_eq!(
        a.snapshot_url.as_deref(),
        Some("https://vms.example/s/1.jpg")
    );
}

#[test]
fn camera_from_topic_unix_time_and_position() {
    let mut v = base();
    if let Some(o) = v.as_object_mut() {
        o.remove("camera_id");
        o.remove("snapshot_url");
    }
    v["time"] = json!(1_767_225_590.5);
    v["lon"] = json!(103.015);
    v["lat"] = json!(30.005);
    let a = run(&v, Some("CAM-1")).expect("valid");
    assert_eq!(a.time.micros(), 1_767_225_590_500_000);
    assert_eq!(
        a.location.grid.as_deref(),
        Some("G2"),
        "located from lon/lat"
    );
    assert_eq!(a.snapshot_url, None);
    assert_eq!(
        run(&base(), Some("CAM-2")).expect_err("mismatch").reason,
        RejectReason::Malformed
    );
}

#[test]
fn rejections() {
    assert_eq!(
        reason(&with("camera_id", json!("CAM-9"))),
        RejectReason::UnknownCamera
    );
    assert_eq!(
        reason(&with("confidence", json!(1.5))),
        RejectReason::OutOfRange
    );
    assert_eq!(
        reason(&with("confidence", json!(-0.1))),
        RejectReason::OutOfRange
    );
    assert_eq!(
        reason(&with("time", json!("2026-01-02T00:00:00Z"))),
        RejectReason::FutureTimestamp
    );
    assert_eq!(
        reason(&with("time", json!("2025-01-01T00:00:00Z"))),
        RejectReason::StaleTimestamp
    );
    assert_eq!(
        reason(&with("lon", json!(190.0)).tap_lat()),
        RejectReason::BadCoordinates
    );
    for (k, v) in [
        ("event_type", json!("Smoke")),
        ("event_type", json!("smoke alarm")),
        ("event_type", json!("x".repeat(65))),
        ("event_type", json!("")),
        ("snapshot_url", json!("ftp://vms.example/1.jpg")),
        (
            "snapshot_url",
            json!(format!("https://x/{}", "a".repeat(2048))),
        ),
        ("snapshot_url", json!("https://")),
        ("time", json!("soon")),
        ("time", Value::Null),
        ("id", json!(12)),
        ("id", json!("")),
        ("confidence", json!("high")),
    ] {
        assert_eq!(
            reason(&with(k, v.clone())),
            RejectReason::Malformed,
            "{k} = {v}"
        );
    }
    let p = br#"{"id":"a","camera_id":"CAM-1","event_type":"smoke","confidence":NaN,"time":1767225600}"#;
    let r = validate_video_alert(&city(), &Limits::default(), NOW, None, p).expect_err("nan");
    assert_eq!(r.reason, RejectReason::NonFinite);
    let small = Limits {
        max_payload_bytes: 10,
        ..Limits::default()
    };
    let r = validate_video_alert(&city(), &small, NOW, None, base().to_string().as_bytes())
        .expect_err("big");
    assert_eq!(r.reason, RejectReason::Oversize);
    let r =
        validate_video_alert(&city(), &Limits::default(), NOW, None, b"[1]").expect_err("array");
    assert_eq!(r.reason, RejectReason::Malformed);
}

trait TapLat {
    fn tap_lat(self) -> Value;
}

impl TapLat for Value {
    fn tap_lat(mut self) -> Value {
        self["lat"] = json!(30.0);
        self
    }
}
