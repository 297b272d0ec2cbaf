//! Tests of loading, locating and the distance queries, on a tiny hand-made city.

use super::testcity::{self, TestCityParams};
use super::*;
use proptest::prelude::*;
use serde_json::{Value, json};

fn rect(lon0: f64, lat0: f64, lon1: f64, lat1: f64) -> Value {
    json!({"type": "Polygon", "coordinates": [[[lon0, lat0], [lon1, lat0], [lon1, lat1], [lon0, lat1], [lon0, lat0]]]})
}

fn fc(features: Vec<Value>) -> Value {
    json!({"type": "FeatureCollection", "features": features})
}

fn area(code: &str, geometry: Value, parents: Value) -> Value {
    let mut props = json!({"code": code, "name": format!("Area {code}")});
    if let (Some(p), Some(extra)) = (props.as_object_mut(), parents.as_object()) {
        p.extend(extra.clone());
    }
    json!({"type": "Feature", "geometry": geometry, "properties": props})
}

fn point(lon: f64, lat: f64, props: Value) -> Value {
    json!({"type": "Feature", "geometry": {"type": "Point", "coordinates": [lon, lat]}, "properties": props})
}

/// Two touching districts D1 | D2 and a detached D3 with no street; S1 covers D1, S2 covers
/// D2. Grids G1 | G2 tile S1, G3 covers the west half of S2.
fn tiny() -> [Value; 6] {
    [
        json!({"name": "Tiny", "synthetic": true, "seed": 1, "center": [103.02, 30.005]}),
        fc(vec![
            area("D1", rect(103.00, 30.00, 103.02, 30.01), json!({})),
            area("D2", rect(103.02, 30.00, 103.04, 30.01), json!({})),
            area("D3", rect(103.10, 30.00, 103.11, 30.01), json!({})),
        ]),
        fc(vec![
            area(
                "S1",
                rect(103.00, 30.00, 103.02, 30.01),
                json!({"district": "D1"}),
            ),
            area(
                "S2",
                rect(103.02, 30.00, 103.04, 30.01),
                json!({"district": "D2"}),
            ),
        ]),
        fc(vec![
            area(
                "G1",
                rect(103.00, 30.00, 103.01, 30.01),
                json!({"street": "S1", "district": "D1"}),
            ),
            area(
                "G2",
                rect(103.01, 30.00, 103.02, 30.01),
                json!({"street": "S1", "district": "D1"}),
            ),
            area(
                "G3",
                rect(103.02, 30.00, 103.03, 30.01),
                json!({"street": "S2", "district": "D2"}),
            ),
        ]),
        fc(vec![
            point(
                103.005,
                30.005,
                json!({"id": "WL-1", "kind": "water_level", "name": "River gauge",
                "grid": "G1", "street": "S1", "district": "D1",
                "metrics": [{"name": "level", "unit": "m", "min": -5, "max": 50}]}),
            ),
            point(
                103.015,
                30.005,
                json!({"id": "SM-1", "kind": "smoke", "name": "Smoke",
                "grid": "G2", "street": "S1", "district": "D1",
                "metrics": [{"name": "obscuration", "unit": "%/m", "min": 0, "max": 100},
                            {"name": "alarm", "unit": "1", "min": 0, "max": 1}]}),
            ),
        ]),
        fc(vec![
            point(
                103.006,
                30.006,
                json!({"id": "CAM-1", "name": "Cam 1", "grid": "G1", "street": "S1", "district": "D1"}),
            ),
            point(
                103.025,
                30.005,
                json!({"id": "CAM-2", "name": "Cam 2", "grid": "G3", "street": "S2", "district": "D2"}),
            ),
        ]),
    ]
}

const FILES: [&str; 6] = [
    "city.json",
    "districts.geojson",
    "streets.geojson",
    "grids.geojson",
    "sensors.geojson",
    "cameras.geojson",
];

fn write(dir: &Path, layers: &[Value; 6]) {
    for (name, v) in FILES.iter().zip(layers) {
        std::fs::write(dir.join(name), v.to_string()).expect("write test file");
    }
}

fn load_tiny_with(edit: impl FnOnce(&mut [Value; 6])) -> Result<City, CityError> {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut layers = tiny();
    edit(&mut layers);
    write(dir.path(), &layers);
    City::load(dir.path())
}

pub(crate) fn tiny_city() -> City {
    load_tiny_with(|_| {}).expect("tiny city loads")
}

#[test]
fn loads_tiny_city() {
    let city = tiny_city();
    assert_eq!(city.name(), "Tiny");
    assert_eq!(
        city.counts(),
        CityCounts {
            districts: 3,
            streets: 2,
            grids: 3,
            sensors: 2,
            cameras: 2
        }
    );
    let s = city.sensor("WL-1").expect("sensor");
    assert_eq!(s.location.grid.as_deref(), Some("G1"));
    assert_eq!(s.metric("level").map(|m| m.unit.as_str()), Some("m"));
    assert!(city.sensor("nope").is_none());
    assert_eq!(city.camera("CAM-2").map(|c| c.name.as_str()), Some("Cam 2"));
    assert_eq!(city.sensors().count(), 2);
    let grids: Value =
        serde_json::from_str(city.layer_geojson("grids").expect("layer")).expect("json");
    assert_eq!(grids["features"].as_array().map(Vec::len), Some(3));
    assert!(city.layer_geojson("roads").is_none());
}

fn codes(l: &Location) -> (Option<&str>, Option<&str>, Option<&str>) {
    (
        l.grid.as_deref(),
        l.street.as_deref(),
        l.district.as_deref(),
    )
}

#[test]
fn locate_inside_fallback_and_outside() {
    let city = tiny_city();
    assert_eq!(
        codes(&city.locate(103.005, 30.005)),
        (Some("G1"), Some("S1"), Some("D1"))
    );
    assert_eq!(
        codes(&city.locate(103.025, 30.005)),
        (Some("G3"), Some("S2"), Some("D2"))
    );
    // In street S2 but in no grid.
    assert_eq!(
        codes(&city.locate(103.035, 30.005)),
        (None, Some("S2"), Some("D2"))
    );
    // In district D3 only.
    assert_eq!(
        codes(&city.locate(103.105, 30.005)),
        (None, None, Some("D3"))
    );
    assert_eq!(codes(&city.locate(104.0, 31.0)), (None, None, None));
    assert_eq!(codes(&city.locate(f64::NAN, 30.0)), (None, None, None));
    assert_eq!(codes(&city.locate(200.0, 30.0)), (None, None, None));
}

#[test]
fn locate_on_boundary_first_in_file_wins() {
    let city = tiny_city();
    // The edge shared by G1 and G2: both hold it (closed areas), G1 comes first.
    assert_eq!(codes(&city.locate(103.01, 30.005)).0, Some("G1"));
    // A corner of the outer boundary belongs to the grid.
    assert_eq!(codes(&city.locate(103.00, 30.00)).0, Some("G1"));
    // The outer edge of G3 that borders no grid.
    assert_eq!(codes(&city.locate(103.03, 30.005)).0, Some("G3"));
}

#[test]
fn locate_prefers_interior_over_edge() {
    // G9 comes first in the file and overlaps the west half of G1; its east edge runs
    // through G1. On that edge the point is inside G1, so G1 wins; in the overlap both hold
    // the point's interior, so the first in the file (G9) wins.
    let city = load_tiny_with(|l| {
        let g9 = area(
            "G9",
            rect(102.99, 30.00, 103.005, 30.01),
            json!({"street": "S1", "district": "D1"}),
        );
        if let Some(f) = l[3]["features"].as_array_mut() {
            f.insert(0, g9);
        }
    })
    .expect("loads");
    assert_eq!(codes(&city.locate(103.005, 30.005)).0, Some("G1"));
    assert_eq!(codes(&city.locate(103.004, 30.005)).0, Some("G9"));
}

#[test]
fn nearest_and_within_on_tiny_city() {
    let city = tiny_city();
    let near = city.nearest_cameras(103.0055, 30.0055, 5);
    assert_eq!(near.len(), 2);
    assert_eq!(near[0].0.id.as_str(), "CAM-1");
    // 0.0005° of latitude ≈ 55 m, and 0.0005° of longitude at 30°N ≈ 48 m.
    assert!((near[0].1 - 73.3).abs() < 1.0, "{}", near[0].1);
    assert!(city.cameras_within(103.0055, 30.0055, 50.0).is_empty());
    assert_eq!(city.cameras_within(103.0055, 30.0055, 100.0).len(), 1);
    assert_eq!(
        city.nearest_sensors(103.016, 30.005, 1)[0].0.id.as_str(),
        "SM-1"
    );
    assert_eq!(city.sensors_within(103.01, 30.005, 10_000.0).len(), 2);
    assert!(city.nearest_cameras(f64::NAN, 30.0, 3).is_empty());
    assert!(city.cameras_within(103.0, 30.0, -1.0).is_empty());
}

fn generated() -> &'static City {
    static CITY: std::sync::OnceLock<City> = std::sync::OnceLock::new();
    CITY.get_or_init(|| {
        let p = TestCityParams {
            cols: 6,
            rows: 5,
            sensors: 400,
            cameras: 120,
            ..TestCityParams::default()
        };
        testcity::city(&p).expect("generated city loads")
    })
}

fn brute(city: &City, lon: f64, lat: f64) -> Vec<(String, f64)> {
    let proj = city.projection();
    let q = proj.project(lon, lat);
    let mut all: Vec<(String, f64)> = city
        .cameras()
        .map(|c| {
            let p = proj.project(c.location.lon, c.location.lat);
            (
                c.id.to_string(),
                ((p[0] - q[0]).powi(2) + (p[1] - q[1]).powi(2)).sqrt(),
            )
        })
        .collect();
    all.sort_by(|a, b| a.1.total_cmp(&b.1));
    all
}

#[test]
fn generated_city_locates_every_sensor_in_its_grid() {
    let city = generated();
    for s in city.sensors() {
        let at = city.locate(s.location.lon, s.location.lat);
        assert_eq!(at.grid, s.location.grid, "{}", s.id);
    }
}

proptest! {
    #[test]
    fn nearest_matches_brute_force(lon in 102.97f64..103.03, lat in 29.98f64..30.02, k in 0usize..12) {
        let city = generated();
        let got = city.nearest_cameras(lon, lat, k);
        let want = brute(city, lon, lat);
        prop_assert_eq!(got.len(), k.min(want.len()));
        for (g, w) in got.iter().zip(&want) {
            prop_assert!((g.1 - w.1).abs() < 1e-6, "{} vs {}", g.1, w.1);
        }
    }

    #[test]
    fn within_matches_brute_force(lon in 102.97f64..103.03, lat in 29.98f64..30.02, r in 0f64..1500.0) {
        let city = generated();
        let got: Vec<String> = {
            let mut v: Vec<String> = city.cameras_within(lon, lat, r).iter().map(|c| c.0.id.to_string()).collect();
            v.sort();
            v
        };
        // Leave out points within a micrometre of the circle, where rounding may go either way.
        let want = brute(city, lon, lat);
        let mut inside: Vec<String> = want.iter().filter(|w| w.1 < r - 1e-6).map(|w| w.0.clone()).collect();
        let edge: Vec<&String> = want.iter().filter(|w| (w.1 - r).abs() <= 1e-6).map(|w| &w.0).collect();
        inside.sort();
        let got_core: Vec<String> = got.into_iter().filter(|g| !edge.contains(&g)).collect();
        prop_assert_eq!(got_core, inside);
    }
}

mod errors;
