//! The committed demo city is what `sensors-sim city --seed 7` generates, and it loads.

use std::path::Path;
use std::process::Command;

#[test]
fn committed_demo_city_is_seed_7_and_loads() {
    let out = tempfile::tempdir().expect("tempdir");
    let status = Command::new(env!("CARGO_BIN_EXE_sensors-sim"))
        .args(["city", "--seed", "7", "--out"])
        .arg(out.path())
        .status()
        .expect("run sensors-sim");
    assert!(status.success());
    let committed = Path::new(env!("CARGO_MANIFEST_DIR")).join("../city/demo");
    for file in [
        "city.json",
        "districts.geojson",
        "streets.geojson",
        "grids.geojson",
        "sensors.geojson",
        "cameras.geojson",
    ] {
        let fresh = std::fs::read(out.path().join(file)).expect("generated file");
        let kept = std::fs::read(committed.join(file)).expect("committed file");
        assert!(
            fresh == kept,
            "city/demo/{file} differs from `sensors-sim city --seed 7`"
        );
    }
    let city = cityops::spatial::City::load(&committed).expect("demo city loads");
    let n = city.counts();
    assert!(
        n.grids >= 200 && n.sensors >= 2000 && n.cameras >= 200,
        "{n:?}"
    );
    assert!(city.info().synthetic);
    let kinds: std::collections::BTreeSet<_> = city.sensors().map(|s| s.kind.as_str()).collect();
    for kind in [
        "water_level",
        "waterlogging",
        "gas",
        "manhole_cover",
        "smoke",
        "air_quality",
        "power",
        "bridge_strain",
        "crowd",
    ] {
        assert!(kinds.contains(kind), "no {kind} sensor in the demo city");
    }
}
