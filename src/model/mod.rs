//! Domain types that cross stages: ids, readings, alerts, incidents, dead letters.
//!
//! Everything here is plain data. Stages exchange these over channels or through the
//! `Store` seam; no behaviour that belongs to one stage lives here.

mod actor;
mod ids;
mod incident;
mod reading;
mod time;

pub use actor::{Actor, Role};
pub use ids::{CameraId, IncidentId, SensorId};
pub use incident::{Handling, Incident, IncidentEvent, IncidentStatus, Severity, Transition};
pub use reading::{
    CameraInfo, DeadLetter, Location, MetricSpec, Reading, RejectReason, SensorInfo, VideoAlert,
};
pub use time::Timestamp;
