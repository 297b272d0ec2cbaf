//! Why a city directory failed to load.
//!
//! Every error names the file and, for a feature, its index in the `features` array and its
//! code or id when it has one, so whoever edits the city data can find the line to fix.

use std::fmt;
use std::path::PathBuf;

/// A city could not be loaded. Nothing is half-loaded: `City::load` returns this or a
/// complete city.
#[derive(Debug, thiserror::Error)]
pub enum CityError {
    #[error("{}: cannot read: {source}", file.display())]
    Read {
        file: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{}: invalid JSON at line {line}, column {column}: {message}", file.display())]
    Json {
        file: PathBuf,
        line: usize,
        column: usize,
        message: String,
    },
    /// The file is JSON but not a GeoJSON `FeatureCollection`.
    #[error("{}: not a GeoJSON FeatureCollection: {message}", file.display())]
    NotFeatureCollection { file: PathBuf, message: String },
    /// `city.json` is missing a property or has one of the wrong type or range.
    #[error("{}: {message}", file.display())]
    CityInfo { file: PathBuf, message: String },
    /// One feature of a layer is wrong.
    #[error("{}: feature #{index}{}: {problem}", file.display(), FeatureLabel(id.as_deref()))]
    Feature {
        file: PathBuf,
        /// Position in the `features` array, from 0.
        index: usize,
        /// The feature's `code` (areas) or `id` (sensors, cameras), when it could be read.
        id: Option<String>,
        problem: FeatureProblem,
    },
}

struct FeatureLabel<'a>(Option<&'a str>);

impl fmt::Display for FeatureLabel<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(id) => write!(f, " ({id:?})"),
            None => Ok(()),
        }
    }
}

/// What is wrong with one feature.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum FeatureProblem {
    #[error("not a valid GeoJSON Feature: {0}")]
    InvalidFeature(String),
    #[error("has no geometry")]
    MissingGeometry,
    #[error("geometry is {found}, expected {expected}")]
    WrongGeometry {
        expected: &'static str,
        found: &'static str,
    },
    /// A position outside WGS84, not finite, with fewer than two numbers, or a ring that is
    /// too short or not closed.
    #[error("bad coordinates: {0}")]
    BadCoordinates(String),
    #[error("has no properties object")]
    MissingProperties,
    #[error("missing property {0:?}")]
    MissingProperty(&'static str),
    #[error("property {property:?} must be {expected}")]
    WrongType {
        property: &'static str,
        expected: &'static str,
    },
    #[error("duplicate {what} (first used by feature #{first_index})")]
    Duplicate {
        what: &'static str,
        first_index: usize,
    },
    #[error("{property} {code:?} does not exist in {layer}")]
    UnknownParent {
        property: &'static str,
        code: String,
        layer: &'static str,
    },
    /// The parents named are each real but disagree, e.g. a grid says street S1 while S1
    /// belongs to another district than the one the grid names.
    #[error("{0}")]
    InconsistentParent(String),
    /// A sensor's or camera's point does not lie in the grid it names.
    #[error("its point ({lon}, {lat}) lies outside the grid {grid:?} it names")]
    OutsideGrid { grid: String, lon: f64, lat: f64 },
    #[error("metric #{index}: {message}")]
    BadMetric { index: usize, message: String },
}
