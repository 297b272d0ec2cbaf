//! A generated city for tests and benches: a lattice of rectangular grids grouped into
//! streets and districts, with sensors and cameras scattered at random (seeded, so the same
//! parameters always give the same city). It is not the demo city, which the simulator
//! generates; it exists so the indexes can be measured at a realistic size.

use super::{City, CityError, CitySources};
use serde_json::{Value, json};
use std::path::Path;

/// Shape of a generated city.
#[derive(Debug, Clone)]
pub struct TestCityParams {
    /// Grid cells east-west and north-south.
    pub cols: usize,
    pub rows: usize,
    /// Size of one grid cell in degrees (about 480 m × 550 m at 30°N for 0.005°).
    pub cell_deg: f64,
    /// Grids per street along each axis.
    pub street_block: usize,
    pub sensors: usize,
    pub cameras: usize,
    pub center: (f64, f64),
    pub seed: u64,
    /// `name` in `city.json`.
    pub name: String,
}

impl Default for TestCityParams {
    fn default() -> Self {
        Self {
            cols: 20,
            rows: 15,
            cell_deg: 0.005,
            street_block: 5,
            sensors: 3000,
            cameras: 300,
            center: (103.0, 30.0),
            seed: 7,
            name: "Test city".into(),
        }
    }
}

/// How a sensor of `kind` is called on the pages: Chinese, then English.
fn kind_label(kind: &str) -> &'static str {
    match kind {
        "water_level" => "水位 Water level",
        "waterlogging" => "积水 Waterlogging",
        "gas" => "燃气 Gas",
        "manhole_cover" => "井盖 Manhole cover",
        "smoke" => "烟感 Smoke detector",
        "air_quality" => "空气 Air quality",
        "power" => "电力 Power",
        "bridge_strain" => "桥梁 Bridge strain",
        "crowd" => "人流 Crowd counter",
        _ => "Sensor",
    }
}

/// `(metric, unit, min, max)`.
pub type MetricRow = (&'static str, &'static str, f64, f64);

/// Sensor kinds of the demo city: (kind, id prefix, metrics).
pub const SENSOR_KINDS: &[(&str, &str, &[MetricRow])] = &[
    ("water_level", "WL", &[("level", "m", -5.0, 50.0)]),
    ("waterlogging", "WG", &[("depth", "cm", 0.0, 300.0)]),
    ("gas", "GS", &[("lel", "%LEL", 0.0, 100.0)]),
    (
        "manhole_cover",
        "MC",
        &[("tilt", "deg", 0.0, 180.0), ("open", "1", 0.0, 1.0)],
    ),
    (
        "smoke",
        "SM",
        &[("obscuration", "%/m", 0.0, 100.0), ("alarm", "1", 0.0, 1.0)],
    ),
    (
        "air_quality",
        "AQ",
        &[
            ("pm25", "ug/m3", 0.0, 2000.0),
            ("pm10", "ug/m3", 0.0, 2000.0),
        ],
    ),
    ("power", "PW", &[("voltage", "V", 0.0, 500.0)]),
    ("bridge_strain", "BS", &[("strain", "ue", -5000.0, 5000.0)]),
    ("crowd", "CR", &[("count", "persons", 0.0, 100000.0)]),
];

/// splitmix64: tiny, seedable, good enough to scatter points.
struct Rng(u64);

impl Rng {
    fn next_f64(&mut self) -> f64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        (z >> 11) as f64 / (1u64 << 53) as f64
    }
}

fn rect(lon0: f64, lat0: f64, lon1: f64, lat1: f64) -> Value {
    json!({"type": "Polygon", "coordinates": [[[lon0, lat0], [lon1, lat0], [lon1, lat1], [lon0, lat1], [lon0, lat0]]]})
}

fn collection(features: Vec<Value>) -> String {
    json!({"type": "FeatureCollection", "features": features}).to_string()
}

struct Lattice<'p> {
    p: &'p TestCityParams,
    lon_min: f64,
    lat_min: f64,
    street_cols: usize,
    street_rows: usize,
}

impl Lattice<'_> {
    fn lon(&self, col: usize) -> f64 {
        self.lon_min + col as f64 * self.p.cell_deg
    }
    fn lat(&self, row: usize) -> f64 {
        self.lat_min + row as f64 * self.p.cell_deg
    }
    fn street_of(&self, col: usize, row: usize) -> (usize, usize) {
        (col / self.p.street_block, row / self.p.street_block)
    }
    /// Districts split the streets into a west and an east half.
    fn district_of_street(&self, sc: usize) -> usize {
        usize::from(sc >= self.street_cols.div_ceil(2))
    }
    fn codes(&self, col: usize, row: usize) -> (String, String, String) {
        let (sc, sr) = self.street_of(col, row);
        (
            format!("G-{col:02}-{row:02}"),
            format!("S-{sc:02}-{sr:02}"),
            format!("D-{}", self.district_of_street(sc)),
        )
    }
    /// The cell holding `(lon, lat)`, which lies inside the lattice.
    fn cell(&self, lon: f64, lat: f64) -> (usize, usize) {
        let c = ((lon - self.lon_min) / self.p.cell_deg) as usize;
        let r = ((lat - self.lat_min) / self.p.cell_deg) as usize;
        (c.min(self.p.cols - 1), r.min(self.p.rows - 1))
    }
}

/// The six files of a generated city.
pub fn generate(p: &TestCityParams) -> CitySources {
    let p = &TestCityParams {
        cols: p.cols.max(1),
        rows: p.rows.max(1),
        street_block: p.street_block.max(1),
        ..p.clone()
    };
    let l = Lattice {
        p,
        lon_min: p.center.0 - p.cols as f64 * p.cell_deg / 2.0,
        lat_min: p.center.1 - p.rows as f64 * p.cell_deg / 2.0,
        street_cols: p.cols.div_ceil(p.street_block),
        street_rows: p.rows.div_ceil(p.street_block),
    };
    let mut rng = Rng(p.seed);

    let mut districts = Vec::new();
    for d in 0..2.min(l.street_cols) {
        let (sc0, sc1) = if d == 0 {
            (0, l.street_cols.div_ceil(2))
        } else {
            (l.street_cols.div_ceil(2), l.street_cols)
        };
        let (c0, c1) = (sc0 * p.street_block, (sc1 * p.street_block).min(p.cols));
        let geometry = rect(l.lon(c0), l.lat(0), l.lon(c1), l.lat(p.rows));
        districts.push(json!({"type": "Feature", "geometry": geometry,
            "properties": {"code": format!("D-{d}"), "name": format!("示范区{d} District {d}")}}));
    }
    let mut streets = Vec::new();
    for sc in 0..l.street_cols {
        for sr in 0..l.street_rows {
            let (c0, r0) = (sc * p.street_block, sr * p.street_block);
            let (c1, r1) = (
                (c0 + p.street_block).min(p.cols),
                (r0 + p.street_block).min(p.rows),
            );
            let geometry = rect(l.lon(c0), l.lat(r0), l.lon(c1), l.lat(r1));
            streets.push(
                json!({"type": "Feature", "geometry": geometry, "properties": {
                "code": format!("S-{sc:02}-{sr:02}"), "name": format!("街道{sc}-{sr} Street {sc}-{sr}"),
                "district": format!("D-{}", l.district_of_street(sc))}}),
            );
        }
    }
    let mut grids = Vec::new();
    for col in 0..p.cols {
        for row in 0..p.rows {
            let (g, s, d) = l.codes(col, row);
            let geometry = rect(l.lon(col), l.lat(row), l.lon(col + 1), l.lat(row + 1));
            grids.push(
                json!({"type": "Feature", "geometry": geometry, "properties": {
                "code": g, "name": format!("网格{col}-{row} Grid {col}-{row}"), "street": s, "district": d}}),
            );
        }
    }
    let point = |rng: &mut Rng| {
        let lon = l.lon_min + rng.next_f64() * p.cols as f64 * p.cell_deg;
        let lat = l.lat_min + rng.next_f64() * p.rows as f64 * p.cell_deg;
        let (col, row) = l.cell(lon, lat);
        (lon, lat, l.codes(col, row))
    };
    let sensors = (0..p.sensors)
        .map(|i| {
            let (kind, prefix, metrics) = SENSOR_KINDS[i % SENSOR_KINDS.len()];
            let (lon, lat, (g, s, d)) = point(&mut rng);
            let metrics: Vec<Value> = metrics
                .iter()
                .map(|(name, unit, min, max)| json!({"name": name, "unit": unit, "min": min, "max": max}))
                .collect();
            json!({"type": "Feature", "geometry": {"type": "Point", "coordinates": [lon, lat]}, "properties": {
                "id": format!("{prefix}-{i:05}"), "kind": kind, "name": format!("{} {i}", kind_label(kind)),
                "grid": g, "street": s, "district": d, "metrics": metrics}})
        })
        .collect();
    let cameras = (0..p.cameras)
        .map(|i| {
            let (lon, lat, (g, s, d)) = point(&mut rng);
            json!({"type": "Feature", "geometry": {"type": "Point", "coordinates": [lon, lat]}, "properties": {
                "id": format!("CAM-{i:04}"), "name": format!("摄像机 Camera {i}"), "grid": g, "street": s, "district": d}})
        })
        .collect();
    CitySources {
        city_json: json!({"name": p.name, "synthetic": true, "seed": p.seed,
            "center": [p.center.0, p.center.1]})
        .to_string(),
        districts: collection(districts),
        streets: collection(streets),
        grids: collection(grids),
        sensors: collection(sensors),
        cameras: collection(cameras),
    }
}

/// A generated city, loaded.
pub fn city(p: &TestCityParams) -> Result<City, CityError> {
    City::from_sources(Path::new(""), generate(p))
}
