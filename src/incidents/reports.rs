//! People's reports (上报): a grid worker's patrol find (巡查上报), a 12345 call taken by
//! the center (接诉即办), a citizen's snapshot (随手拍) or an Open311 request become a
//! *discovered* incident, like a rule's. The dispatch desk then files and dispatches it
//! where the catalog says so; otherwise it waits for a dispatcher.
//!
//! What a report carries beside its incident (channel, who entered it, the citizen's
//! contact) is a [`ReportRecord`], written before the incident is opened so an incident
//! never lacks it. The contact is personal data: only dispatchers and duty officers see it
//! ([`may_see_contact`]); it is never part of the incident, its log or the live feed.
//!
//! Photos attached to incidents are in [`photos`]; what a reporter is told of a report's
//! progress (open, closed, merged) in [`progress`]. The HTTP side is `api::reports` and
//! `api::open311`; `docs/reports.md` describes both.

pub mod photos;
pub mod progress;

use super::catalog::{Catalog, Category};
use crate::config::ReportsConfig;
use crate::model::{Actor, Incident, Location, Role, Severity, Timestamp};
use crate::spatial::{City, valid_lon_lat};
use crate::store::{NewIncident, ReportRecord, ReporterContact, StoreError};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use tokio::sync::Notify;

/// Longest description, in characters (as for a command's note).
pub const MAX_DESCRIPTION: usize = 2000;
/// Longest address, contact field or media URL, in characters.
const MAX_SHORT_TEXT: usize = 500;

/// How a report came in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    /// A grid worker's find on patrol (巡查上报).
    Patrol,
    /// A call to the 12345 citizen hotline, entered by the center (接诉即办).
    #[serde(rename = "hotline_12345")]
    Hotline12345,
    /// A citizen's snapshot (随手拍), forwarded by whoever took it.
    Snap,
    /// Through the Open311 GeoReport v2 interface (a citizen app).
    Open311,
    Other,
}

impl Channel {
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Patrol => "patrol",
            Self::Hotline12345 => "hotline_12345",
            Self::Snap => "snap",
            Self::Open311 => "open311",
            Self::Other => "other",
        }
    }
}

/// Where a report says the problem is.
#[derive(Clone, Debug, PartialEq)]
pub enum Place {
    /// WGS84 longitude and latitude.
    Point { lon: f64, lat: f64 },
    /// Only a grid code: the report is placed at a point inside that grid.
    Grid(String),
}

/// A report as given, before it is checked.
#[derive(Clone, Debug, PartialEq)]
pub struct Report {
    /// A catalog code (`0406`, `component:0102`, `confirmed_fire`).
    pub category: String,
    pub place: Place,
    pub description: String,
    /// Default: the category's `default_severity`.
    pub severity: Option<Severity>,
    pub channel: Channel,
    pub contact: ReporterContact,
    pub address: Option<String>,
    pub media_url: Option<String>,
}

/// Why a report was refused. `code()` is the machine-readable reason the API answers.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// The role may not report, or not at that place.
    #[error("{0}")]
    Forbidden(String),
    #[error("unknown category {0:?}: not in the category catalog")]
    UnknownCategory(String),
    #[error("({lon}, {lat}) lies outside the city")]
    OutsideCity { lon: f64, lat: f64 },
    #[error("unknown grid {0:?}")]
    UnknownGrid(String),
    #[error("{0}")]
    Invalid(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl ReportError {
    pub fn code(&self) -> &'static str {
        match self {
            Self::Forbidden(_) => "forbidden",
            Self::UnknownCategory(_) => "unknown_category",
            Self::OutsideCity { .. } => "outside_city",
            Self::UnknownGrid(_) => "unknown_grid",
            Self::Invalid(_) => "invalid_report",
            Self::Store(_) => "store",
        }
    }
}

/// Whether `actor`'s role may report at all: grid workers (in their grids) and the
/// center's dispatchers and duty officers (in their area). Departments report results
/// through the loop (反馈), not new incidents; the wall, engineers and admins only read.
pub fn may_report(actor: &Actor) -> bool {
    matches!(
        actor.role,
        Role::GridWorker | Role::Dispatcher | Role::DutyOfficer
    )
}

/// Whether `actor` may report at `at`: a grid worker in one of their grids; a district or
/// street center's user in their district or street; the city center anywhere.
fn may_report_at(actor: &Actor, at: &Location) -> bool {
    match actor.role {
        Role::GridWorker => at.grid.as_ref().is_some_and(|g| actor.grids.contains(g)),
        Role::Dispatcher | Role::DutyOfficer => {
            actor
                .district
                .as_ref()
                .is_none_or(|d| at.district.as_ref() == Some(d))
                && actor
                    .street
                    .as_ref()
                    .is_none_or(|s| at.street.as_ref() == Some(s))
        }
        _ => false,
    }
}

/// Whether `actor` may see a reporter's contact details: dispatchers and duty officers,
/// who call citizens back (回访). Nobody else, whatever else they may see.
pub fn may_see_contact(actor: &Actor) -> bool {
    matches!(actor.role, Role::Dispatcher | Role::DutyOfficer)
}

/// The `source` of a report's incident: `report:<user>`.
pub fn source_of(actor: &Actor) -> String {
    format!("report:{}", actor.id)
}

/// Whether `actor` entered the report behind `incident`.
pub fn is_reporter(actor: &Actor, incident: &Incident) -> bool {
    incident.source.as_deref() == Some(source_of(actor).as_str())
}

/// Whether `incident` came from a report (its dedup key is `report:<uuid>`).
pub fn is_report(incident: &Incident) -> bool {
    incident.dedup_key.starts_with("report:")
}

/// The code an incident of `c` carries: the bare code when it names `c` (as rules write
/// it), else the kind-qualified one (`component:0102`, whose bare code is the event).
pub fn incident_code(catalog: &Catalog, c: &Category) -> String {
    match catalog.get(&c.code) {
        Some(found) if found.kind == c.kind => c.code.clone(),
        _ => c.qualified_code(),
    }
}

/// What reports need at hand: the photo settings, a point inside each grid, and the
/// desk's wake-up.
pub struct Reports {
    /// Where photos are stored (created at start).
    pub photo_dir: PathBuf,
    pub max_photo_bytes: usize,
    pub max_photos: u32,
    /// A point inside each grid, by code, for reports that name only a grid.
    grid_points: HashMap<String, (f64, f64)>,
    /// Wakes the dispatch desk, so a report the catalog dispatches by itself goes at once.
    desk_wake: Arc<Notify>,
}

impl Reports {
    /// Settles the photo directory (created if missing; relative to `data_dir`) and works
    /// out a point inside each grid of `city`.
    pub fn new(
        city: &City,
        config: &ReportsConfig,
        data_dir: &Path,
        desk_wake: Arc<Notify>,
    ) -> std::io::Result<Self> {
        let photo_dir = config.photo_dir(data_dir);
        std::fs::create_dir_all(&photo_dir)?;
        Ok(Self {
            photo_dir,
            max_photo_bytes: config.max_photo_bytes,
            max_photos: config.max_photos,
            grid_points: grid_points(city),
            desk_wake,
        })
    }

    /// Where `place` is in the city. A point must lie in some district; a grid must exist.
    pub fn locate(&self, city: &City, place: &Place) -> Result<Location, ReportError> {
        match place {
            Place::Point { lon, lat } => {
                if !valid_lon_lat(*lon, *lat) {
                    return Err(ReportError::Invalid(format!(
                        "location ({lon}, {lat}) is not a WGS84 longitude and latitude"
                    )));
                }
                let at = city.locate(*lon, *lat);
                if at.district.is_none() {
                    return Err(ReportError::OutsideCity {
                        lon: *lon,
                        lat: *lat,
                    });
                }
                Ok(at)
            }
            Place::Grid(code) => {
                let (Some(area), Some(&(lon, lat))) = (
                    city.grids().iter().find(|g| &g.code == code),
                    self.grid_points.get(code),
                ) else {
                    return Err(ReportError::UnknownGrid(code.clone()));
                };
                Ok(Location {
                    lon,
                    lat,
                    grid: Some(area.code.clone()),
                    street: area.street.clone(),
                    district: area.district.clone(),
                })
            }
        }
    }

    /// Checks `report` by `actor` and opens its discovered incident at `now`: source
    /// `report:<user>`, a unique dedup key `report:<uuid>`, title from the category's name
    /// and the place's. The report's record and its incident commit together.
    pub async fn submit(
        &self,
        incidents: &super::Incidents,
        city: &City,
        catalog: &Catalog,
        actor: &Actor,
        report: Report,
        now: Timestamp,
    ) -> Result<Incident, ReportError> {
        if !may_report(actor) {
            return Err(ReportError::Forbidden(format!(
                "a {} does not report incidents",
                actor.role.as_str()
            )));
        }
        let category = catalog
            .get(report.category.trim())
            .ok_or_else(|| ReportError::UnknownCategory(report.category.clone()))?;
        let description = text(&report.description, "description", MAX_DESCRIPTION)?
            .ok_or_else(|| ReportError::Invalid("description must not be empty".into()))?;
        let location = self.locate(city, &report.place)?;
        if !may_report_at(actor, &location) {
            return Err(ReportError::Forbidden(
                "the place lies outside your jurisdiction".into(),
            ));
        }
        let dedup_key = format!("report:{}", uuid::Uuid::now_v7());
        let record = ReportRecord {
            dedup_key: dedup_key.clone(),
            channel: report.channel.as_str().to_owned(),
            reporter: actor.id.clone(),
            contact: ReporterContact {
                name: short(&report.contact.name, "reporter_contact.name")?,
                phone: short(&report.contact.phone, "reporter_contact.phone")?,
                email: short(&report.contact.email, "reporter_contact.email")?,
            },
            address: short(&report.address, "address")?,
            media_url: short(&report.media_url, "media_url")?,
            created_at: now,
        };
        let new = NewIncident {
            dedup_key,
            category: incident_code(catalog, category),
            severity: report.severity.unwrap_or(category.default_severity),
            title: format!("{} · {}", category.name_zh, place_name(city, &location)),
            source: Some(source_of(actor)),
            location,
            opened_at: now,
            peak: None,
            rule: None,
            description: Some(description),
        };
        let incident = incidents.open_report(&record, &new).await?;
        tracing::info!(
            id = %incident.id,
            category = incident.category,
            channel = record.channel,
            reporter = actor.id,
            "report opened an incident"
        );
        self.desk_wake.notify_one();
        Ok(incident)
    }
}

/// `text` trimmed; `None` when empty; an error when longer than `max` characters.
fn text(text: &str, what: &str, max: usize) -> Result<Option<String>, ReportError> {
    let t = text.trim();
    if t.chars().count() > max {
        return Err(ReportError::Invalid(format!(
            "{what} is longer than {max} characters"
        )));
    }
    Ok((!t.is_empty()).then(|| t.to_owned()))
}

fn short(value: &Option<String>, what: &str) -> Result<Option<String>, ReportError> {
    match value {
        Some(v) => text(v, what, MAX_SHORT_TEXT),
        None => Ok(None),
    }
}

/// The name of the narrowest area holding `at`: its grid, else street, else district.
fn place_name(city: &City, at: &Location) -> String {
    let name = |areas: &[crate::spatial::Area], code: &Option<String>| {
        let code = code.as_ref()?;
        areas
            .iter()
            .find(|a| &a.code == code)
            .map(|a| a.name.clone())
    };
    name(city.grids(), &at.grid)
        .or_else(|| name(city.streets(), &at.street))
        .or_else(|| name(city.districts(), &at.district))
        .unwrap_or_else(|| format!("{:.5}, {:.5}", at.lon, at.lat))
}

/// A point inside each grid: its centroid when that lies in the grid (and `locate` finds
/// the grid there), else a point `geo` guarantees to be inside (an L-shaped grid's
/// centroid can fall outside it).
fn grid_points(city: &City) -> HashMap<String, (f64, f64)> {
    use geo::{Centroid, InteriorPoint};
    let mut points = HashMap::new();
    let Some(text) = city.layer_geojson("grids") else {
        return points;
    };
    let Ok(collection) = text.parse::<geojson::FeatureCollection>() else {
        return points;
    };
    for feature in collection.features {
        let Some(code) = feature.property("code").and_then(|c| c.as_str()) else {
            continue;
        };
        let Some(geometry) = &feature.geometry else {
            continue;
        };
        let Ok(shape) = geo::Geometry::<f64>::try_from(&geometry.value) else {
            continue;
        };
        let in_grid = |p: geo::Point<f64>| city.locate(p.x(), p.y()).grid.as_deref() == Some(code);
        let point = shape
            .centroid()
            .filter(|p| in_grid(*p))
            .or_else(|| shape.interior_point());
        if let Some(p) = point {
            points.insert(code.to_owned(), (p.x(), p.y()));
        }
    }
    points
}

#[cfg(test)]
mod tests {
    use super::*;

    fn actor(role: Role) -> Actor {
        Actor {
            id: "someone".into(),
            role,
            district: None,
            street: None,
            department: None,
            grids: Vec::new(),
        }
    }

    #[test]
    fn only_grid_workers_and_the_center_report() {
        for role in [Role::GridWorker, Role::Dispatcher, Role::DutyOfficer] {
            assert!(may_report(&actor(role)), "{role:?}");
        }
        for role in [
            Role::Department,
            Role::Wall,
            Role::Engineer,
            Role::Admin,
            Role::System,
        ] {
            assert!(!may_report(&actor(role)), "{role:?}");
        }
    }

    #[test]
    fn jurisdiction_of_a_report() {
        let at = Location {
            lon: 103.0,
            lat: 30.0,
            grid: Some("G-1".into()),
            street: Some("S-1".into()),
            district: Some("D-1".into()),
        };
        let mut grid = actor(Role::GridWorker);
        assert!(!may_report_at(&grid, &at));
        grid.grids = vec!["G-1".into()];
        assert!(may_report_at(&grid, &at));
        let mut center = actor(Role::Dispatcher);
        assert!(
            may_report_at(&center, &at),
            "the city center reports anywhere"
        );
        center.district = Some("D-0".into());
        assert!(!may_report_at(&center, &at));
        center.district = Some("D-1".into());
        assert!(may_report_at(&center, &at));
    }

    #[test]
    fn only_the_center_sees_contacts() {
        assert!(may_see_contact(&actor(Role::Dispatcher)));
        assert!(may_see_contact(&actor(Role::DutyOfficer)));
        for role in [Role::Department, Role::GridWorker, Role::Wall, Role::Admin] {
            assert!(!may_see_contact(&actor(role)), "{role:?}");
        }
    }

    #[test]
    fn channels_have_their_wire_names() {
        let c: Channel = serde_json::from_str("\"hotline_12345\"").unwrap();
        assert_eq!(c, Channel::Hotline12345);
        assert_eq!(c.as_str(), "hotline_12345");
        assert!(serde_json::from_str::<Channel>("\"fax\"").is_err());
    }

    #[test]
    fn text_is_trimmed_and_bounded() {
        assert_eq!(text("  x ", "d", 5).unwrap().as_deref(), Some("x"));
        assert_eq!(text("   ", "d", 5).unwrap(), None);
        assert!(text("123456", "d", 5).is_err());
        // Characters, not bytes: five Chinese characters fit in five.
        assert!(text("道路积水啊", "d", 5).unwrap().is_some());
    }
}
