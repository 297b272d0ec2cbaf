//! GeoJSON geometry → `geo` types, with the WGS84 and ring checks the city format asks for.

use super::error::FeatureProblem;
use geo::{Coord, LineString, MultiPolygon, Point, Polygon};
use geojson::{Geometry, GeometryValue, Position};

/// True if `(lon, lat)` is a finite WGS84 position.
pub fn valid_lon_lat(lon: f64, lat: f64) -> bool {
    lon.is_finite()
        && lat.is_finite()
        && (-180.0..=180.0).contains(&lon)
        && (-90.0..=90.0).contains(&lat)
}

fn coord(p: &Position) -> Result<Coord<f64>, FeatureProblem> {
    let s = p.as_slice();
    if s.len() < 2 {
        return Err(FeatureProblem::BadCoordinates(format!(
            "a position needs [lon, lat], got {} number(s)",
            s.len()
        )));
    }
    let (lon, lat) = (s[0], s[1]);
    if !valid_lon_lat(lon, lat) {
        return Err(FeatureProblem::BadCoordinates(format!(
            "[{lon}, {lat}] is outside WGS84 (|lon| <= 180, |lat| <= 90)"
        )));
    }
    Ok(Coord { x: lon, y: lat })
}

fn ring(positions: &[Position]) -> Result<LineString<f64>, FeatureProblem> {
    // RFC 7946 §3.1.6: a linear ring is closed and has at least four positions.
    if positions.len() < 4 {
        return Err(FeatureProblem::BadCoordinates(format!(
            "a polygon ring needs at least 4 positions, got {}",
            positions.len()
        )));
    }
    let coords = positions.iter().map(coord).collect::<Result<Vec<_>, _>>()?;
    if coords.first() != coords.last() {
        return Err(FeatureProblem::BadCoordinates(
            "a polygon ring is not closed (first position != last)".into(),
        ));
    }
    Ok(LineString::new(coords))
}

fn polygon(rings: &[Vec<Position>]) -> Result<Polygon<f64>, FeatureProblem> {
    let (outer, holes) = rings
        .split_first()
        .ok_or_else(|| FeatureProblem::BadCoordinates("a polygon has no rings".into()))?;
    let holes = holes
        .iter()
        .map(|r| ring(r))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Polygon::new(ring(outer)?, holes))
}

/// An area layer's geometry: `Polygon` or `MultiPolygon`.
pub fn area(geometry: Option<&Geometry>) -> Result<MultiPolygon<f64>, FeatureProblem> {
    let g = geometry.ok_or(FeatureProblem::MissingGeometry)?;
    match &g.value {
        GeometryValue::Polygon { coordinates } => {
            Ok(MultiPolygon::new(vec![polygon(coordinates)?]))
        }
        GeometryValue::MultiPolygon { coordinates } => {
            if coordinates.is_empty() {
                return Err(FeatureProblem::BadCoordinates(
                    "an empty MultiPolygon".into(),
                ));
            }
            let polys = coordinates
                .iter()
                .map(|p| polygon(p))
                .collect::<Result<Vec<_>, _>>()?;
            Ok(MultiPolygon::new(polys))
        }
        other => Err(FeatureProblem::WrongGeometry {
            expected: "Polygon or MultiPolygon",
            found: other.type_name(),
        }),
    }
}

/// A sensor's or camera's geometry: a `Point`.
pub fn point(geometry: Option<&Geometry>) -> Result<Point<f64>, FeatureProblem> {
    let g = geometry.ok_or(FeatureProblem::MissingGeometry)?;
    match &g.value {
        GeometryValue::Point { coordinates } => Ok(Point::from(coord(coordinates)?)),
        other => Err(FeatureProblem::WrongGeometry {
            expected: "Point",
            found: other.type_name(),
        }),
    }
}
