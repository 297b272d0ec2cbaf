//! The city: districts, streets, grids, sensors and cameras, with spatial indexes.
//!
//! [`City::load`] reads a city directory (`docs/city-format.md`) and checks it; the result
//! is immutable and meant to be shared behind an `Arc`. Its lookups sit on the per-reading
//! hot path, so they do not allocate except to return owned results:
//!
//! - [`City::sensor`] / [`City::camera`]: registry entries by id (hash map, `&str` key);
//! - [`City::locate`]: a point → grid / street / district (R-tree of area boxes, then an
//!   exact point-in-polygon test; boundary rule in [`index::AreaIndex::locate`]);
//! - [`City::nearest_cameras`], [`City::cameras_within`] and the sensor twins: distances in
//!   metres in a local projection ([`index::Projection`]).
//!
//! Files: `load.rs` (reading and checks), `layer.rs` (a layer file, feature by feature), `geometry.rs` (GeoJSON → geo), `index.rs`
//! (R-trees), `error.rs`, `testcity.rs` (a generated city for tests and benches).

mod error;
mod geometry;
pub mod index;
mod layer;
mod load;
pub mod testcity;
#[cfg(test)]
mod tests;

pub use error::{CityError, FeatureProblem};
pub use geometry::valid_lon_lat;
pub use load::CitySources;

use crate::model::{CameraId, CameraInfo, Location, SensorId, SensorInfo};
use index::{AreaIndex, PointIndex};
use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

/// What `city.json` says about the city.
#[derive(Debug, Clone, PartialEq)]
pub struct CityInfo {
    pub name: String,
    /// True for generated cities (the demo), which are not a map of a real place.
    pub synthetic: bool,
    pub seed: Option<u64>,
    /// `(lon, lat)`: the origin of the metric projection used for distances.
    pub center: (f64, f64),
}

/// A district, street or grid.
#[derive(Debug, Clone, PartialEq)]
pub struct Area {
    pub code: String,
    pub name: String,
    /// The street a grid lies in (`None` for streets and districts).
    pub street: Option<String>,
    /// The district a street or grid lies in (`None` for districts).
    pub district: Option<String>,
}

/// How many features of each layer a city holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CityCounts {
    pub districts: usize,
    pub streets: usize,
    pub grids: usize,
    pub sensors: usize,
    pub cameras: usize,
}

/// The layer files as loaded, served verbatim by the HTTP API.
#[derive(Debug)]
struct Layers {
    districts: String,
    streets: String,
    grids: String,
    sensors: String,
    cameras: String,
}

/// A loaded, checked city. Immutable; share it with `Arc<City>`.
#[derive(Debug)]
pub struct City {
    info: CityInfo,
    districts: Vec<Area>,
    streets: Vec<Area>,
    grids: Vec<Area>,
    district_index: AreaIndex,
    street_index: AreaIndex,
    grid_index: AreaIndex,
    /// File order, for stable iteration.
    sensors: Vec<Arc<SensorInfo>>,
    cameras: Vec<Arc<CameraInfo>>,
    /// Id → index in `sensors` / `cameras`.
    sensor_by_id: HashMap<SensorId, u32>,
    camera_by_id: HashMap<CameraId, u32>,
    sensor_points: PointIndex,
    camera_points: PointIndex,
    layers: Layers,
}

impl City {
    /// Loads and checks the city in `dir`. Any problem stops the load with an error naming
    /// the file, the feature and what is wrong.
    pub fn load(dir: &Path) -> Result<City, CityError> {
        load::build(dir, CitySources::read(dir)?)
    }

    /// Builds a city from its files' text; errors name files relative to `dir`.
    pub fn from_sources(dir: &Path, sources: CitySources) -> Result<City, CityError> {
        load::build(dir, sources)
    }

    pub fn name(&self) -> &str {
        &self.info.name
    }

    pub fn info(&self) -> &CityInfo {
        &self.info
    }

    pub fn counts(&self) -> CityCounts {
        CityCounts {
            districts: self.districts.len(),
            streets: self.streets.len(),
            grids: self.grids.len(),
            sensors: self.sensors.len(),
            cameras: self.cameras.len(),
        }
    }

    /// A sensor by id; no allocation.
    #[inline]
    pub fn sensor(&self, id: &str) -> Option<&Arc<SensorInfo>> {
        let &i = self.sensor_by_id.get(id)?;
        self.sensors.get(i as usize)
    }

    /// A sensor's index in [`City::sensors`]'s order, which the rules engine and the vital
    /// signs index their per-sensor state by.
    #[inline]
    pub fn sensor_index(&self, id: &str) -> Option<u32> {
        self.sensor_by_id.get(id).copied()
    }

    /// A camera by id; no allocation.
    #[inline]
    pub fn camera(&self, id: &str) -> Option<&Arc<CameraInfo>> {
        let &i = self.camera_by_id.get(id)?;
        self.cameras.get(i as usize)
    }

    /// Sensors in file order.
    pub fn sensors(&self) -> impl ExactSizeIterator<Item = &Arc<SensorInfo>> {
        self.sensors.iter()
    }

    /// Cameras in file order.
    pub fn cameras(&self) -> impl ExactSizeIterator<Item = &Arc<CameraInfo>> {
        self.cameras.iter()
    }

    pub fn districts(&self) -> &[Area] {
        &self.districts
    }

    pub fn streets(&self) -> &[Area] {
        &self.streets
    }

    pub fn grids(&self) -> &[Area] {
        &self.grids
    }

    /// The raw GeoJSON of `districts`, `streets`, `grids`, `sensors` or `cameras`, exactly
    /// as loaded.
    pub fn layer_geojson(&self, layer: &str) -> Option<&str> {
        let l = &self.layers;
        Some(match layer {
            "districts" => &l.districts,
            "streets" => &l.streets,
            "grids" => &l.grids,
            "sensors" => &l.sensors,
            "cameras" => &l.cameras,
            _ => return None,
        })
    }

    /// Where `(lon, lat)` falls: the grid holding it (with that grid's street and district);
    /// failing that the street (with its district); failing that the district. Outside
    /// every area, all three are `None`. Points on an edge belong to the area; see
    /// [`AreaIndex::locate`] for which area wins on a shared edge.
    pub fn locate(&self, lon: f64, lat: f64) -> Location {
        let mut loc = Location {
            lon,
            lat,
            ..Location::default()
        };
        if !valid_lon_lat(lon, lat) {
            return loc;
        }
        if let Some(g) = self.grid_index.locate(lon, lat) {
            let g = &self.grids[g];
            loc.grid = Some(g.code.clone());
            loc.street = g.street.clone();
            loc.district = g.district.clone();
        } else if let Some(s) = self.street_index.locate(lon, lat) {
            let s = &self.streets[s];
            loc.street = Some(s.code.clone());
            loc.district = s.district.clone();
        } else if let Some(d) = self.district_index.locate(lon, lat) {
            loc.district = Some(self.districts[d].code.clone());
        }
        loc
    }

    /// The `k` cameras nearest to `(lon, lat)`, nearest first, with distances in metres.
    pub fn nearest_cameras(&self, lon: f64, lat: f64, k: usize) -> Vec<(Arc<CameraInfo>, f64)> {
        let hits = self.camera_points.nearest(lon, lat, k);
        hits.map(|(i, d)| (Arc::clone(&self.cameras[i]), d))
            .collect()
    }

    /// The `k` sensors nearest to `(lon, lat)`, nearest first, with distances in metres.
    pub fn nearest_sensors(&self, lon: f64, lat: f64, k: usize) -> Vec<(Arc<SensorInfo>, f64)> {
        let hits = self.sensor_points.nearest(lon, lat, k);
        hits.map(|(i, d)| (Arc::clone(&self.sensors[i]), d))
            .collect()
    }

    /// Cameras within `radius_m` metres of `(lon, lat)`, nearest first.
    pub fn cameras_within(&self, lon: f64, lat: f64, radius_m: f64) -> Vec<(Arc<CameraInfo>, f64)> {
        let hits = self.camera_points.within(lon, lat, radius_m);
        hits.into_iter()
            .map(|(i, d)| (Arc::clone(&self.cameras[i]), d))
            .collect()
    }

    /// Sensors within `radius_m` metres of `(lon, lat)`, nearest first.
    pub fn sensors_within(&self, lon: f64, lat: f64, radius_m: f64) -> Vec<(Arc<SensorInfo>, f64)> {
        let hits = self.sensor_points.within(lon, lat, radius_m);
        hits.into_iter()
            .map(|(i, d)| (Arc::clone(&self.sensors[i]), d))
            .collect()
    }

    /// The projection used for distances (exposed so tests can check against it).
    pub fn projection(&self) -> index::Projection {
        index::Projection::new(self.info.center.0, self.info.center.1)
    }
}
