//! A small registry and helpers shared by the ingest tests.

use super::{Decoded, Limits, decode_sensor_payload};
use crate::model::Timestamp;
use crate::spatial::{City, CitySources};
use serde_json::json;
use std::path::Path;

/// 2026-01-01T00:00:00Z.
pub const NOW: Timestamp = Timestamp::from_micros(1_767_225_600_000_000);
pub const SEC: i64 = 1_000_000;

fn rect(lon0: f64, lat0: f64, lon1: f64, lat1: f64) -> serde_json::Value {
    json!({"type": "Polygon", "coordinates": [[[lon0, lat0], [lon1, lat0], [lon1, lat1], [lon0, lat1], [lon0, lat0]]]})
}

fn feature(geometry: serde_json::Value, properties: serde_json::Value) -> serde_json::Value {
    json!({"type": "Feature", "geometry": geometry, "properties": properties})
}

fn fc(features: Vec<serde_json::Value>) -> String {
    json!({"type": "FeatureCollection", "features": features}).to_string()
}

fn pt(lon: f64, lat: f64) -> serde_json::Value {
    json!({"type": "Point", "coordinates": [lon, lat]})
}

/// One district / street / grid (103.00–103.02 E, 30.00–30.01 N), three sensors, a camera.
pub fn city() -> City {
    let at = json!({"grid": "G1", "street": "S1", "district": "D1"});
    let with = |extra: serde_json::Value| {
        let mut p = at.clone();
        if let (Some(p), Some(e)) = (p.as_object_mut(), extra.as_object()) {
            p.extend(e.clone());
        }
        p
    };
    let m = |name: &str, unit: &str, min: f64, max: f64| json!({"name": name, "unit": unit, "min": min, "max": max});
    let sources = CitySources {
        city_json: json!({"name": "Ingest test", "synthetic": true, "center": [103.01, 30.005]})
            .to_string(),
        districts: fc(vec![feature(
            rect(103.0, 30.0, 103.02, 30.01),
            json!({"code": "D1", "name": "D"}),
        )]),
        streets: fc(vec![feature(
            rect(103.0, 30.0, 103.02, 30.01),
            json!({"code": "S1", "name": "S", "district": "D1"}),
        )]),
        grids: fc(vec![
            feature(
                rect(103.0, 30.0, 103.01, 30.01),
                json!({"code": "G1", "name": "G", "street": "S1", "district": "D1"}),
            ),
            feature(
                rect(103.01, 30.0, 103.02, 30.01),
                json!({"code": "G2", "name": "G", "street": "S1", "district": "D1"}),
            ),
        ]),
        sensors: fc(vec![
            feature(
                pt(103.005, 30.005),
                with(json!({"id": "WL-1", "kind": "water_level", "name": "w",
                "metrics": [m("level", "m", -5.0, 50.0)]})),
            ),
            feature(
                pt(103.006, 30.005),
                with(json!({"id": "SM-1", "kind": "smoke", "name": "s",
                "metrics": [m("obscuration", "%/m", 0.0, 100.0), m("alarm", "1", 0.0, 1.0)]})),
            ),
            feature(
                pt(103.007, 30.005),
                with(
                    json!({"id": "urn:dev:ow:10e2073a01080063", "kind": "power", "name": "p",
                "metrics": [m("voltage", "V", 0.0, 500.0), m("current", "A", 0.0, 100.0)]}),
                ),
            ),
        ]),
        cameras: fc(vec![feature(
            pt(103.004, 30.004),
            with(json!({"id": "CAM-1", "name": "c"})),
        )]),
    };
    City::from_sources(Path::new(""), sources).expect("test city loads")
}

/// Decodes and turns the borrowed result into something a test can hold.
pub fn decode(
    payload: &str,
    topic_sensor: Option<&str>,
) -> Result<Decoded<'static>, super::Rejection> {
    let mut scratch = Vec::new();
    decode_sensor_payload(
        payload.as_bytes(),
        topic_sensor,
        NOW,
        &Limits::default(),
        &mut scratch,
    )
    .map(|d| Decoded {
        readings: d
            .readings
            .into_iter()
            .map(|r| super::DecodedReading {
                index: r.index,
                sensor: r.sensor.into_owned().into(),
                metric: r.metric.map(|m| m.into_owned().into()),
                unit: r.unit.map(|u| u.into_owned().into()),
                time: r.time,
                value: r.value,
            })
            .collect(),
        rejected: d.rejected,
        skipped: d.skipped,
        position: d.position,
    })
}
