//! The spatial indexes behind `City`'s lookups: an R-tree of area envelopes for
//! point-in-area, and an R-tree of projected points for nearest / within-radius queries.

use geo::coordinate_position::{CoordPos, CoordinatePosition};
use geo::{Coord, MultiPolygon};
use rstar::RTree;
use rstar::primitives::{GeomWithData, Rectangle};

/// Metres per degree of latitude, and of longitude at the equator (WGS84, mean values).
const M_PER_DEG_LAT: f64 = 110_574.0;
const M_PER_DEG_LON_EQUATOR: f64 = 111_320.0;

/// A local equirectangular projection around the city centre, in metres.
///
/// `x = (lon - lon0) · cos(lat0) · 111 320`, `y = (lat - lat0) · 110 574`. Over a city
/// (tens of km) the scale error is well under 1 %: the east-west scale drifts with
/// `cos(lat)/cos(lat0)`, about 0.3 % per 10 km north or south at 30°N, and the
/// north-south scale by far less. Good enough for "the nearest cameras" and "within
/// 500 m"; not a survey-grade distance.
#[derive(Debug, Clone, Copy)]
pub struct Projection {
    lon0: f64,
    lat0: f64,
    m_per_deg_lon: f64,
}

impl Projection {
    pub fn new(lon0: f64, lat0: f64) -> Self {
        Self {
            lon0,
            lat0,
            m_per_deg_lon: lat0.to_radians().cos() * M_PER_DEG_LON_EQUATOR,
        }
    }

    /// `(lon, lat)` in degrees → `[x, y]` in metres east / north of the centre.
    #[inline]
    pub fn project(&self, lon: f64, lat: f64) -> [f64; 2] {
        [
            (lon - self.lon0) * self.m_per_deg_lon,
            (lat - self.lat0) * M_PER_DEG_LAT,
        ]
    }
}

type Envelope = GeomWithData<Rectangle<[f64; 2]>, u32>;

/// Areas (grids, streets or districts) of one layer, indexed by their bounding boxes in
/// degrees; the exact polygon test runs only on the few whose box holds the point.
#[derive(Debug)]
pub struct AreaIndex {
    tree: RTree<Envelope>,
    shapes: Vec<MultiPolygon<f64>>,
}

impl AreaIndex {
    /// `shapes[i]` is the geometry of the layer's feature `i` (file order).
    pub fn new(shapes: Vec<MultiPolygon<f64>>) -> Self {
        let boxes = shapes
            .iter()
            .enumerate()
            .filter_map(|(i, s)| {
                let rect = geo::BoundingRect::bounding_rect(s)?;
                let (lo, hi) = (rect.min(), rect.max());
                Some(GeomWithData::new(
                    Rectangle::from_corners([lo.x, lo.y], [hi.x, hi.y]),
                    i as u32,
                ))
            })
            .collect();
        Self {
            tree: RTree::bulk_load(boxes),
            shapes,
        }
    }

    /// The area holding `(lon, lat)`, as its index in file order.
    ///
    /// Areas are closed: a point on an edge belongs to the area. Where areas touch, a point
    /// strictly inside one wins over a point on the edge of another; among several areas
    /// that hold the point equally (a shared edge or corner, or overlapping data), the one
    /// that comes first in the file wins. This keeps the answer deterministic.
    pub fn locate(&self, lon: f64, lat: f64) -> Option<usize> {
        let c = Coord { x: lon, y: lat };
        let mut inside: Option<u32> = None;
        let mut on_edge: Option<u32> = None;
        for cand in self.tree.locate_all_at_point([lon, lat]) {
            let i = cand.data;
            // Candidates come in tree order, so keep the lowest index of each kind.
            if inside.is_some_and(|best| best < i) {
                continue;
            }
            match self.shapes[i as usize].coordinate_position(&c) {
                CoordPos::Inside => inside = Some(i),
                CoordPos::OnBoundary => {
                    if on_edge.is_none_or(|best| i < best) {
                        on_edge = Some(i)
                    }
                }
                CoordPos::Outside => {}
            }
        }
        inside.or(on_edge).map(|i| i as usize)
    }
}

type Site = GeomWithData<[f64; 2], u32>;

/// Points (sensors or cameras) in projected metres, for k-nearest and radius queries.
#[derive(Debug)]
pub struct PointIndex {
    tree: RTree<Site>,
    projection: Projection,
}

impl PointIndex {
    /// `points[i]` is the `(lon, lat)` of item `i`.
    pub fn new(projection: Projection, points: impl IntoIterator<Item = (f64, f64)>) -> Self {
        let sites = points
            .into_iter()
            .enumerate()
            .map(|(i, (lon, lat))| GeomWithData::new(projection.project(lon, lat), i as u32))
            .collect();
        Self {
            tree: RTree::bulk_load(sites),
            projection,
        }
    }

    /// The `k` items nearest to `(lon, lat)`, nearest first, with their distance in metres.
    pub fn nearest(&self, lon: f64, lat: f64, k: usize) -> impl Iterator<Item = (usize, f64)> + '_ {
        let q = self.projection.project(lon, lat);
        let finite = q[0].is_finite() && q[1].is_finite();
        self.tree
            .nearest_neighbor_iter_with_distance_2(q)
            .take(if finite { k } else { 0 })
            .map(|(s, d2)| (s.data as usize, d2.sqrt()))
    }

    /// Every item within `radius_m` metres of `(lon, lat)` (edge included), nearest first.
    pub fn within(&self, lon: f64, lat: f64, radius_m: f64) -> Vec<(usize, f64)> {
        let q = self.projection.project(lon, lat);
        if !(q[0].is_finite() && q[1].is_finite() && radius_m >= 0.0 && radius_m.is_finite()) {
            return Vec::new();
        }
        let mut hits: Vec<(usize, f64)> = self
            .tree
            .locate_within_distance(q, radius_m * radius_m)
            .map(|s| {
                let (dx, dy) = (s.geom()[0] - q[0], s.geom()[1] - q[1]);
                (s.data as usize, (dx * dx + dy * dy).sqrt())
            })
            .collect();
        hits.sort_by(|a, b| a.1.total_cmp(&b.1).then(a.0.cmp(&b.0)));
        hits
    }
}
