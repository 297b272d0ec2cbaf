//! Load errors: one test per check of docs/city-format.md.

use super::*;

fn load_err(edit: impl FnOnce(&mut [Value; 6])) -> String {
    match load_tiny_with(edit) {
        Ok(_) => panic!("expected a load error"),
        Err(e) => e.to_string(),
    }
}

fn set(v: &mut Value, pointer: &str, to: Value) {
    *v.pointer_mut(pointer)
        .unwrap_or_else(|| panic!("no {pointer}")) = to;
}

#[test]
fn error_missing_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    write(dir.path(), &tiny());
    std::fs::remove_file(dir.path().join("cameras.geojson")).expect("rm");
    let e = City::load(dir.path()).expect_err("missing file");
    assert!(matches!(e, CityError::Read { .. }));
    assert!(
        e.to_string().contains("cameras.geojson: cannot read"),
        "{e}"
    );
}

#[test]
fn error_bad_json() {
    let dir = tempfile::tempdir().expect("tempdir");
    write(dir.path(), &tiny());
    std::fs::write(
        dir.path().join("grids.geojson"),
        "{\"type\": \"FeatureCollection\",\n  \"features\": [}",
    )
    .expect("w");
    let e = City::load(dir.path()).expect_err("bad json");
    assert!(matches!(e, CityError::Json { line: 2, .. }), "{e}");
    assert!(
        e.to_string()
            .contains("grids.geojson: invalid JSON at line 2"),
        "{e}"
    );
}

#[test]
fn error_not_a_feature_collection() {
    let e = load_err(|l| l[2] = json!({"type": "Feature"}));
    assert!(
        e.contains("streets.geojson: not a GeoJSON FeatureCollection"),
        "{e}"
    );
}

#[test]
fn error_invalid_feature() {
    let e = load_err(|l| {
        set(
            &mut l[1],
            "/features/1/geometry",
            json!({"type": "Polygon", "coordinates": 3}),
        )
    });
    assert!(
        e.contains("districts.geojson: feature #1 (\"D2\"): not a valid GeoJSON Feature"),
        "{e}"
    );
}

#[test]
fn error_wrong_geometry() {
    let e = load_err(|l| {
        set(
            &mut l[3],
            "/features/2/geometry",
            json!({"type": "Point", "coordinates": [103.0, 30.0]}),
        )
    });
    assert!(e.contains("grids.geojson: feature #2 (\"G3\"): geometry is Point, expected Polygon or MultiPolygon"), "{e}");
    let e = load_err(|l| {
        set(
            &mut l[5],
            "/features/0/geometry",
            rect(103.0, 30.0, 103.1, 30.1),
        )
    });
    assert!(
        e.contains("cameras.geojson: feature #0 (\"CAM-1\"): geometry is Polygon, expected Point"),
        "{e}"
    );
}

#[test]
fn error_missing_geometry() {
    let e = load_err(|l| set(&mut l[4], "/features/0/geometry", Value::Null));
    assert!(
        e.contains("sensors.geojson: feature #0 (\"WL-1\"): has no geometry"),
        "{e}"
    );
}

#[test]
fn error_lon_200() {
    let e = load_err(|l| {
        set(
            &mut l[4],
            "/features/1/geometry/coordinates",
            json!([200.0, 30.0]),
        )
    });
    assert!(
        e.contains(
            "sensors.geojson: feature #1 (\"SM-1\"): bad coordinates: [200, 30] is outside WGS84"
        ),
        "{e}"
    );
}

#[test]
fn error_ring_not_closed() {
    let e = load_err(|l| {
        set(
            &mut l[1],
            "/features/0/geometry/coordinates/0/4",
            json!([103.0, 30.001]),
        );
    });
    assert!(
        e.contains(
            "districts.geojson: feature #0 (\"D1\"): bad coordinates: a polygon ring is not closed"
        ),
        "{e}"
    );
}

#[test]
fn error_duplicate_code_and_id() {
    let e = load_err(|l| set(&mut l[3], "/features/2/properties/code", json!("G1")));
    assert!(
        e.contains("grids.geojson: feature #2 (\"G1\"): duplicate code (first used by feature #0)"),
        "{e}"
    );
    let e = load_err(|l| set(&mut l[5], "/features/1/properties/id", json!("CAM-1")));
    assert!(
        e.contains(
            "cameras.geojson: feature #1 (\"CAM-1\"): duplicate id (first used by feature #0)"
        ),
        "{e}"
    );
}

#[test]
fn error_unknown_parent() {
    let e = load_err(|l| set(&mut l[3], "/features/0/properties/street", json!("S-99")));
    assert!(
        e.contains(
            "grids.geojson: feature #0 (\"G1\"): street \"S-99\" does not exist in streets.geojson"
        ),
        "{e}"
    );
    let e = load_err(|l| set(&mut l[4], "/features/0/properties/grid", json!("G-77")));
    assert!(
        e.contains(
            "sensors.geojson: feature #0 (\"WL-1\"): grid \"G-77\" does not exist in grids.geojson"
        ),
        "{e}"
    );
}

#[test]
fn error_inconsistent_parent() {
    let e = load_err(|l| set(&mut l[5], "/features/1/properties/grid", json!("G1")));
    assert!(
        e.contains("cameras.geojson: feature #1 (\"CAM-2\"): grid \"G1\" lies in street \"S1\""),
        "{e}"
    );
    let e = load_err(|l| set(&mut l[3], "/features/2/properties/district", json!("D1")));
    assert!(
        e.contains("street \"S2\" belongs to district \"D2\", not \"D1\""),
        "{e}"
    );
}

#[test]
fn error_missing_and_mistyped_property() {
    let e = load_err(|l| {
        if let Some(p) = l[5]
            .pointer_mut("/features/0/properties")
            .and_then(Value::as_object_mut)
        {
            p.remove("name");
        }
    });
    assert!(
        e.contains("cameras.geojson: feature #0 (\"CAM-1\"): missing property \"name\""),
        "{e}"
    );
    let e = load_err(|l| set(&mut l[4], "/features/0/properties/metrics", json!("level")));
    assert!(
        e.contains("property \"metrics\" must be a non-empty array"),
        "{e}"
    );
    let e = load_err(|l| set(&mut l[1], "/features/0/properties/code", json!(7)));
    assert!(
        e.contains("districts.geojson: feature #0: property \"code\" must be a non-empty string"),
        "{e}"
    );
}

#[test]
fn error_metric_min_above_max() {
    let e = load_err(|l| set(&mut l[4], "/features/1/properties/metrics/1/min", json!(5)));
    assert!(
        e.contains("sensors.geojson: feature #1 (\"SM-1\"): metric #1: \"alarm\": min 5 > max 1"),
        "{e}"
    );
}

#[test]
fn error_city_json() {
    let e = load_err(|l| l[0] = json!({"name": "X", "synthetic": true}));
    assert!(
        e.contains("city.json: property \"center\" must be [lon, lat]"),
        "{e}"
    );
    let e = load_err(|l| l[0] = json!({"name": "X", "synthetic": "yes", "center": [103, 30]}));
    assert!(
        e.contains("city.json: property \"synthetic\" must be a boolean"),
        "{e}"
    );
}
