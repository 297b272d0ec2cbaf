//! Reading a city directory (docs/city-format.md) into a [`City`], with every check the
//! format lists. Errors stop the load; nothing is half-loaded.

use super::error::{CityError, FeatureProblem};
use super::geometry;
use super::index::{AreaIndex, PointIndex, Projection};
use super::layer::{LayerFile, json_error, props, str_prop};
use super::{Area, City, CityInfo, Layers};
use crate::model::{CameraId, CameraInfo, Location, MetricSpec, SensorId, SensorInfo};
use geo::MultiPolygon;
use geojson::{Feature, JsonObject};
use serde_json::Value;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

pub const CITY_FILE: &str = "city.json";
pub const DISTRICTS_FILE: &str = "districts.geojson";
pub const STREETS_FILE: &str = "streets.geojson";
pub const GRIDS_FILE: &str = "grids.geojson";
pub const SENSORS_FILE: &str = "sensors.geojson";
pub const CAMERAS_FILE: &str = "cameras.geojson";

/// The six files of a city, as text. `City::load` reads them from a directory; tests and
/// benches build them in memory.
#[derive(Debug, Clone, Default)]
pub struct CitySources {
    pub city_json: String,
    pub districts: String,
    pub streets: String,
    pub grids: String,
    pub sensors: String,
    pub cameras: String,
}

impl CitySources {
    pub fn read(dir: &Path) -> Result<Self, CityError> {
        let read = |name: &str| {
            let file = dir.join(name);
            std::fs::read_to_string(&file).map_err(|source| CityError::Read { file, source })
        };
        Ok(Self {
            city_json: read(CITY_FILE)?,
            districts: read(DISTRICTS_FILE)?,
            streets: read(STREETS_FILE)?,
            grids: read(GRIDS_FILE)?,
            sensors: read(SENSORS_FILE)?,
            cameras: read(CAMERAS_FILE)?,
        })
    }

    /// Writes the six files into `dir` (which must exist).
    pub fn write(&self, dir: &Path) -> std::io::Result<()> {
        std::fs::write(dir.join(CITY_FILE), &self.city_json)?;
        std::fs::write(dir.join(DISTRICTS_FILE), &self.districts)?;
        std::fs::write(dir.join(STREETS_FILE), &self.streets)?;
        std::fs::write(dir.join(GRIDS_FILE), &self.grids)?;
        std::fs::write(dir.join(SENSORS_FILE), &self.sensors)?;
        std::fs::write(dir.join(CAMERAS_FILE), &self.cameras)
    }
}

/// An area layer in the making: its features and a code → index map.
struct AreaLayer {
    areas: Vec<Area>,
    shapes: Vec<MultiPolygon<f64>>,
    by_code: HashMap<String, usize>,
}

/// Which parents an area layer's features name.
#[derive(Clone, Copy)]
enum Parents<'p> {
    None,
    District(&'p AreaLayer),
    StreetAndDistrict(&'p AreaLayer, &'p AreaLayer),
}

fn load_areas(layer: &LayerFile<'_>, parents: Parents<'_>) -> Result<AreaLayer, CityError> {
    let mut out = AreaLayer {
        areas: Vec::new(),
        shapes: Vec::new(),
        by_code: HashMap::new(),
    };
    layer.for_each_feature(|index, f| {
        let code = f
            .properties
            .as_ref()
            .and_then(|p| p.get("code"))
            .and_then(Value::as_str);
        let fail = |problem| layer.err(index, code, problem);
        let area = area_feature(&f, parents, &out.by_code).map_err(fail)?;
        let shape = geometry::area(f.geometry.as_ref()).map_err(fail)?;
        out.by_code.insert(area.code.clone(), index);
        out.areas.push(area);
        out.shapes.push(shape);
        Ok(())
    })?;
    out.areas.shrink_to_fit();
    out.shapes.shrink_to_fit();
    Ok(out)
}

fn area_feature(
    f: &Feature,
    parents: Parents<'_>,
    seen: &HashMap<String, usize>,
) -> Result<Area, FeatureProblem> {
    let p = props(f)?;
    let code = str_prop(p, "code")?;
    let name = str_prop(p, "name")?;
    if let Some(&first_index) = seen.get(code) {
        return Err(FeatureProblem::Duplicate {
            what: "code",
            first_index,
        });
    }
    let mut area = Area {
        code: code.to_owned(),
        name: name.to_owned(),
        street: None,
        district: None,
    };
    match parents {
        Parents::None => {}
        Parents::District(districts) => {
            area.district = Some(
                parent(p, "district", districts, DISTRICTS_FILE)?
                    .code
                    .clone(),
            );
        }
        Parents::StreetAndDistrict(streets, districts) => {
            let street = parent(p, "street", streets, STREETS_FILE)?;
            let district = parent(p, "district", districts, DISTRICTS_FILE)?;
            check_street_in_district(street, &district.code)?;
            area.street = Some(street.code.clone());
            area.district = Some(district.code.clone());
        }
    }
    Ok(area)
}

fn parent<'l>(
    p: &JsonObject,
    key: &'static str,
    layer: &'l AreaLayer,
    file: &'static str,
) -> Result<&'l Area, FeatureProblem> {
    let code = str_prop(p, key)?;
    layer
        .by_code
        .get(code)
        .map(|&i| &layer.areas[i])
        .ok_or_else(|| FeatureProblem::UnknownParent {
            property: key,
            code: code.to_owned(),
            layer: file,
        })
}

fn check_street_in_district(street: &Area, district: &str) -> Result<(), FeatureProblem> {
    match street.district.as_deref() {
        Some(d) if d == district => Ok(()),
        other => Err(FeatureProblem::InconsistentParent(format!(
            "street {:?} belongs to district {:?}, not {district:?}",
            street.code,
            other.unwrap_or("")
        ))),
    }
}

/// The grid/street/district a sensor or camera names, checked against each other.
fn point_location(
    p: &JsonObject,
    lon: f64,
    lat: f64,
    layers: &AreaLayers,
) -> Result<Location, FeatureProblem> {
    let grid = parent(p, "grid", &layers.grids, GRIDS_FILE)?;
    let street = parent(p, "street", &layers.streets, STREETS_FILE)?;
    let district = parent(p, "district", &layers.districts, DISTRICTS_FILE)?;
    if grid.street.as_deref() != Some(&street.code)
        || grid.district.as_deref() != Some(&district.code)
    {
        return Err(FeatureProblem::InconsistentParent(format!(
            "grid {:?} lies in street {:?} / district {:?}, not {:?} / {:?}",
            grid.code,
            grid.street.as_deref().unwrap_or(""),
            grid.district.as_deref().unwrap_or(""),
            street.code,
            district.code
        )));
    }
    // A point outside the grid it names would be placed (and dispatched) by the wrong
    // grid's rules and people; on its boundary is inside.
    let shape = layers
        .grids
        .by_code
        .get(&grid.code)
        .and_then(|&i| layers.grids.shapes.get(i));
    if shape.is_some_and(|s| !geo::Intersects::intersects(s, &geo::Point::new(lon, lat))) {
        return Err(FeatureProblem::OutsideGrid {
            grid: grid.code.clone(),
            lon,
            lat,
        });
    }
    Ok(Location {
        lon,
        lat,
        grid: Some(grid.code.clone()),
        street: Some(street.code.clone()),
        district: Some(district.code.clone()),
    })
}

struct AreaLayers {
    districts: AreaLayer,
    streets: AreaLayer,
    grids: AreaLayer,
}

fn metrics(p: &JsonObject) -> Result<Vec<MetricSpec>, FeatureProblem> {
    let wrong = FeatureProblem::WrongType {
        property: "metrics",
        expected: "a non-empty array of {name, unit, min, max}",
    };
    let items = match p.get("metrics") {
        None | Some(Value::Null) => return Err(FeatureProblem::MissingProperty("metrics")),
        Some(Value::Array(a)) if !a.is_empty() => a,
        Some(_) => return Err(wrong),
    };
    let mut out: Vec<MetricSpec> = Vec::with_capacity(items.len());
    for (index, m) in items.iter().enumerate() {
        let bad = |message: String| FeatureProblem::BadMetric { index, message };
        let obj = m.as_object().ok_or_else(|| bad("not an object".into()))?;
        let text = |k: &str| match obj.get(k) {
            Some(Value::String(s)) if !s.is_empty() || k == "unit" => Ok(s.clone()),
            _ => Err(bad(format!("{k:?} must be a string"))),
        };
        let num = |k: &str| match obj.get(k).and_then(Value::as_f64) {
            Some(x) if x.is_finite() => Ok(x),
            _ => Err(bad(format!("{k:?} must be a finite number"))),
        };
        let spec = MetricSpec {
            name: text("name")?,
            unit: text("unit")?,
            min: num("min")?,
            max: num("max")?,
        };
        if spec.min > spec.max {
            return Err(bad(format!(
                "{:?}: min {} > max {}",
                spec.name, spec.min, spec.max
            )));
        }
        if out.iter().any(|o| o.name == spec.name) {
            return Err(bad(format!("duplicate metric name {:?}", spec.name)));
        }
        out.push(spec);
    }
    Ok(out)
}

/// A point layer (sensors or cameras): its items in file order and an id → index map.
type PointLayer<Id, T> = (Vec<Arc<T>>, HashMap<Id, u32>);

/// Reads a point layer; `build` makes an item from its properties, its id and its
/// `(lon, lat)`.
fn load_points<Id, T>(
    layer: &LayerFile<'_>,
    new_id: fn(&str) -> Id,
    mut build: impl FnMut(&JsonObject, Id, (f64, f64)) -> Result<T, FeatureProblem>,
) -> Result<PointLayer<Id, T>, CityError>
where
    Id: Clone + Eq + std::hash::Hash + std::borrow::Borrow<str>,
{
    let mut by_id: HashMap<Id, u32> = HashMap::new();
    let mut out = Vec::new();
    layer.for_each_feature(|index, f| {
        let item = (|| {
            let p = props(&f)?;
            let id = str_prop(p, "id")?;
            if let Some(&first_index) = by_id.get(id) {
                return Err(FeatureProblem::Duplicate {
                    what: "id",
                    first_index: first_index as usize,
                });
            }
            let pt = geometry::point(f.geometry.as_ref())?;
            let id = new_id(id);
            Ok((id.clone(), build(p, id, (pt.x(), pt.y()))?))
        })();
        let (id, item) = item.map_err(|problem| {
            let id = f.properties.as_ref().and_then(|p| p.get("id"));
            layer.err(index, id.and_then(Value::as_str), problem)
        })?;
        by_id.insert(id, out.len() as u32);
        out.push(Arc::new(item));
        Ok(())
    })?;
    out.shrink_to_fit();
    by_id.shrink_to_fit();
    Ok((out, by_id))
}

fn load_sensors(
    layer: &LayerFile<'_>,
    areas: &AreaLayers,
) -> Result<PointLayer<SensorId, SensorInfo>, CityError> {
    load_points(
        layer,
        |id| SensorId::new(id),
        |p, id, (lon, lat)| {
            Ok(SensorInfo {
                id,
                kind: str_prop(p, "kind")?.to_owned(),
                name: str_prop(p, "name")?.to_owned(),
                metrics: metrics(p)?,
                location: point_location(p, lon, lat, areas)?,
            })
        },
    )
}

fn load_cameras(
    layer: &LayerFile<'_>,
    areas: &AreaLayers,
) -> Result<PointLayer<CameraId, CameraInfo>, CityError> {
    load_points(
        layer,
        |id| CameraId::new(id),
        |p, id, (lon, lat)| {
            Ok(CameraInfo {
                id,
                name: str_prop(p, "name")?.to_owned(),
                location: point_location(p, lon, lat, areas)?,
            })
        },
    )
}

fn load_info(file: PathBuf, text: &str) -> Result<CityInfo, CityError> {
    let v: Value = serde_json::from_str(text).map_err(|e| json_error(&file, &e))?;
    let bad = |message: &str| CityError::CityInfo {
        file: file.clone(),
        message: message.to_string(),
    };
    let name = match v.get("name") {
        Some(Value::String(s)) if !s.is_empty() => s.clone(),
        Some(_) => return Err(bad("property \"name\" must be a non-empty string")),
        None => return Err(bad("missing property \"name\"")),
    };
    let synthetic = match v.get("synthetic") {
        Some(Value::Bool(b)) => *b,
        Some(_) => return Err(bad("property \"synthetic\" must be a boolean")),
        None => return Err(bad("missing property \"synthetic\"")),
    };
    let seed = match v.get("seed") {
        None | Some(Value::Null) => None,
        Some(s) => Some(
            s.as_u64()
                .ok_or_else(|| bad("property \"seed\" must be a non-negative integer"))?,
        ),
    };
    let center = match v.get("center").and_then(Value::as_array).map(Vec::as_slice) {
        Some([lon, lat]) => match (lon.as_f64(), lat.as_f64()) {
            (Some(lon), Some(lat)) if geometry::valid_lon_lat(lon, lat) => (lon, lat),
            _ => return Err(bad("property \"center\" is outside WGS84")),
        },
        _ => return Err(bad("property \"center\" must be [lon, lat]")),
    };
    Ok(CityInfo {
        name,
        synthetic,
        seed,
        center,
    })
}

/// Builds a city from its six files; `dir` is only used to name files in errors.
pub(super) fn build(dir: &Path, src: CitySources) -> Result<City, CityError> {
    let layer = |name: &str, text| LayerFile {
        file: dir.join(name),
        text,
    };
    let info = load_info(dir.join(CITY_FILE), &src.city_json)?;
    let districts = load_areas(&layer(DISTRICTS_FILE, &src.districts), Parents::None)?;
    let streets = load_areas(
        &layer(STREETS_FILE, &src.streets),
        Parents::District(&districts),
    )?;
    let grids = load_areas(
        &layer(GRIDS_FILE, &src.grids),
        Parents::StreetAndDistrict(&streets, &districts),
    )?;
    let areas = AreaLayers {
        districts,
        streets,
        grids,
    };
    let (sensors, sensor_by_id) = load_sensors(&layer(SENSORS_FILE, &src.sensors), &areas)?;
    let (cameras, camera_by_id) = load_cameras(&layer(CAMERAS_FILE, &src.cameras), &areas)?;

    let projection = Projection::new(info.center.0, info.center.1);
    let sensor_points = PointIndex::new(
        projection,
        sensors.iter().map(|s| (s.location.lon, s.location.lat)),
    );
    let camera_points = PointIndex::new(
        projection,
        cameras.iter().map(|c| (c.location.lon, c.location.lat)),
    );
    let AreaLayers {
        districts,
        streets,
        grids,
    } = areas;
    Ok(City {
        info,
        grid_index: AreaIndex::new(grids.shapes),
        street_index: AreaIndex::new(streets.shapes),
        district_index: AreaIndex::new(districts.shapes),
        districts: districts.areas,
        streets: streets.areas,
        grids: grids.areas,
        sensors,
        cameras,
        sensor_by_id,
        camera_by_id,
        sensor_points,
        camera_points,
        layers: Layers {
            districts: src.districts,
            streets: src.streets,
            grids: src.grids,
            sensors: src.sensors,
            cameras: src.cameras,
        },
    })
}
