//! The dispatch desk: what the center does with incidents by itself, from the city's
//! catalog (`catalog.toml`), routing (`routing.toml`) and working calendar
//! (`calendar.toml`):
//!
//! - due times of each step (签收 and 处置 limits per category and severity, counted on
//!   the calendar);
//! - automatic filing and dispatch of the categories and severities the catalog marks
//!   so, to the first department routing names; a returned one goes to the next
//!   candidate, or waits for a dispatcher;
//! - 督办: an incident past its due time is supervised (escalated) by the system, and
//!   again every `reminder` while nobody moves it — first to its street's center, then
//!   its district's, then the city's.
//!
//! Every move goes through [`Incidents::act`] as the system actor, so it is checked, logged
//! and announced like a person's.

use super::Incidents;
use super::act::ActError;
use super::calendar::Calendar;
use super::catalog::Catalog;
use super::lifecycle::{Command, DueTimes};
use super::routing::Routing;
use crate::clock::SharedClock;
use crate::model::{Actor, Incident, IncidentStatus, Timestamp};
use crate::spatial::City;
use crate::store::{IncidentFilter, StoreError};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

/// Why the desk could not be set up.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct DeskError(String);

pub struct Desk {
    pub catalog: Arc<Catalog>,
    pub routing: Arc<Routing>,
    pub calendar: Arc<Calendar>,
    /// How long after a due time (and after each reminder) the next 督办 comes.
    pub reminder_micros: i64,
}

/// The supervising level of the n-th escalation (1-based): the street's center, the
/// district's, then the city's.
pub fn escalation_level(n: i32) -> &'static str {
    match n {
        ..=1 => "street center",
        2 => "district center",
        _ => "city center",
    }
}

impl Desk {
    /// Reads `catalog.toml`, `routing.toml` and `calendar.toml` from the rules directory.
    /// A directory without a catalog gets an empty desk (nothing is filed or dispatched
    /// by itself, no due times: everything waits for dispatchers), with a warning; a
    /// missing calendar means Mon–Fri office hours. A file that exists must be valid.
    pub fn load(dir: &Path, city: &City, reminder_micros: i64) -> Result<Self, DeskError> {
        let catalog_path = dir.join("catalog.toml");
        let (catalog, routing) = if catalog_path.exists() {
            let catalog = Catalog::load(&catalog_path).map_err(|e| DeskError(e.to_string()))?;
            let routing = Routing::load(&dir.join("routing.toml"), &catalog, Some(city))
                .map_err(|e| DeskError(e.to_string()))?;
            (catalog, routing)
        } else {
            tracing::warn!(
                dir = %dir.display(),
                "no catalog.toml: no incident is filed or dispatched automatically, none has a due time"
            );
            let catalog =
                Catalog::parse(&catalog_path, "").map_err(|e| DeskError(e.to_string()))?;
            let routing = Routing::parse(&dir.join("routing.toml"), "", &catalog, Some(city))
                .map_err(|e| DeskError(e.to_string()))?;
            (catalog, routing)
        };
        let calendar = Calendar::load_or_default(&dir.join("calendar.toml"))
            .map_err(|e| DeskError(e.to_string()))?;
        Ok(Self {
            catalog: Arc::new(catalog),
            routing: Arc::new(routing),
            calendar: Arc::new(calendar),
            reminder_micros: reminder_micros.max(60_000_000),
        })
    }

    /// Due times of the next steps for `incident` when a command is given at `now`:
    /// acknowledging counts from now (a dispatch made now), handling from `dispatched_at`
    /// (the catalog counts 处置 from dispatch), or from now if unknown.
    pub fn due(
        &self,
        incident: &Incident,
        now: Timestamp,
        dispatched_at: Option<Timestamp>,
    ) -> DueTimes {
        let Some(c) = self.catalog.get(&incident.category) else {
            return DueTimes::default();
        };
        let limits = c.limits(incident.severity);
        DueTimes {
            acknowledge: Some(self.calendar.due(now, limits.acknowledge)),
            handle: Some(
                self.calendar
                    .due(dispatched_at.unwrap_or(now), limits.handle),
            ),
        }
    }

    /// Files and dispatches a newly discovered incident when its category and severity
    /// call for it. Returns the incident as it ends up, if it moved.
    pub async fn auto_dispatch(
        &self,
        incidents: &Incidents,
        incident: &Incident,
        now: Timestamp,
    ) -> Result<Option<Incident>, ActError> {
        if incident.status != IncidentStatus::Discovered {
            return Ok(None);
        }
        let auto = self
            .catalog
            .get(&incident.category)
            .is_some_and(|c| c.auto_dispatch(incident.severity));
        if !auto {
            return Ok(None);
        }
        let system = Actor::system();
        let due = |i: &Incident| self.due(i, now, None);
        let filed = incidents
            .act(
                incident.id,
                &system,
                &Command::File {
                    note: Some("automatic".into()),
                },
                None,
                now,
                due,
            )
            .await?;
        let Some(department) = self
            .routing
            .candidates(&filed.category, &filed.location)
            .first()
        else {
            tracing::info!(id = %filed.id, category = filed.category, "filed; no route: waits for a dispatcher");
            return Ok(Some(filed));
        };
        let command = Command::Dispatch {
            department: department.as_str().to_string(),
        };
        incidents
            .act(filed.id, &system, &command, None, now, due)
            .await
            .map(Some)
    }

    /// After a department returned `incident`: dispatch it to the next candidate of its
    /// route if there is one (for categories dispatched automatically), else leave it for
    /// a dispatcher.
    pub async fn after_return(
        &self,
        incidents: &Incidents,
        incident: &Incident,
        returned_by: &str,
        now: Timestamp,
    ) -> Result<Option<Incident>, ActError> {
        let auto = self
            .catalog
            .get(&incident.category)
            .is_some_and(|c| c.auto_dispatch(incident.severity));
        let next = self
            .routing
            .next_after(&incident.category, &incident.location, returned_by);
        let (true, Some(next)) = (auto, next) else {
            return Ok(None);
        };
        let command = Command::Dispatch {
            department: next.to_string(),
        };
        let due = |i: &Incident| self.due(i, now, None);
        incidents
            .act(incident.id, &Actor::system(), &command, None, now, due)
            .await
            .map(Some)
    }

    /// Supervises (督办) every incident past its due time while its department owes a step
    /// (dispatched: acknowledge; acknowledged, handling, rework: handle — the handling
    /// limit runs to the department's feedback), again each `reminder` after the last
    /// escalation while nobody moves it. Returns the incidents it escalated.
    pub async fn escalate_overdue(
        &self,
        incidents: &Incidents,
        now: Timestamp,
    ) -> Result<Vec<Incident>, StoreError> {
        use IncidentStatus as S;
        let store = incidents.store();
        let open = store
            .incidents(&IncidentFilter {
                open_only: true,
                ..Default::default()
            })
            .await?;
        let mut out = Vec::new();
        for i in open {
            if !matches!(
                i.status,
                S::Dispatched | S::Acknowledged | S::Handling | S::Rework
            ) {
                continue;
            }
            let Some(due) = i.handling.due_at else {
                continue;
            };
            // At the earliest, the n-th escalation falls n reminders after the due time...
            let earliest = due.saturating_add_micros(
                self.reminder_micros
                    .saturating_mul(i64::from(i.handling.supervision)),
            );
            if now < due || now < earliest {
                continue;
            }
            // ...and a reminder after the one before, so an incident found hours late is
            // not escalated round after round to catch up.
            if i.handling.supervision > 0 {
                let last = store
                    .incident_events(i.id)
                    .await?
                    .iter()
                    .rev()
                    .find(|e| e.action == "supervise")
                    .map(|e| e.at);
                if last.is_some_and(|l| now < l.saturating_add_micros(self.reminder_micros)) {
                    continue;
                }
            }
            let level = escalation_level(i.handling.supervision + 1);
            let late_min = (now.micros() - due.micros()) / 60_000_000;
            let note = format!("overdue by {late_min} min (due {due}): supervised by the {level}");
            let command = Command::Supervise { note };
            match incidents
                .act(
                    i.id,
                    &Actor::system(),
                    &command,
                    Some(i.version),
                    now,
                    |_| DueTimes::default(),
                )
                .await
            {
                Ok(moved) => {
                    metrics::counter!("cityops_incidents_escalated_total").increment(1);
                    tracing::warn!(id = %moved.id, level, late_min, "incident overdue: escalated");
                    out.push(moved);
                }
                // Someone acted meanwhile: the next round looks again.
                Err(ActError::Conflict(_))
                | Err(ActError::Refused(_))
                | Err(ActError::NotFound(_)) => {}
                Err(ActError::Store(e)) => return Err(e),
            }
        }
        Ok(out)
    }

    /// One round: file and dispatch what waits for it, escalate what is overdue.
    /// Returns what moved.
    pub async fn scan(
        &self,
        incidents: &Incidents,
        now: Timestamp,
    ) -> Result<Vec<Incident>, StoreError> {
        let waiting = incidents
            .store()
            .incidents(&IncidentFilter {
                status: Some(IncidentStatus::Discovered),
                ..Default::default()
            })
            .await?;
        let mut moved = Vec::new();
        for i in waiting {
            match self.auto_dispatch(incidents, &i, now).await {
                Ok(Some(m)) => moved.push(m),
                Ok(None)
                | Err(ActError::Conflict(_) | ActError::Refused(_) | ActError::NotFound(_)) => {}
                Err(ActError::Store(e)) => return Err(e),
            }
        }
        moved.extend(self.escalate_overdue(incidents, now).await?);
        Ok(moved)
    }

    /// Runs until `stop`: a round on every `wake` (the writer opened incidents) and every
    /// `every`. Each move is announced as it commits (through [`Incidents`]), so a store
    /// error later in a round loses no announcement; it is logged and the next round
    /// tries again.
    pub async fn run(
        self: Arc<Self>,
        incidents: Incidents,
        clock: SharedClock,
        wake: Arc<Notify>,
        every: Duration,
        stop: CancellationToken,
    ) {
        let mut ticks = tokio::time::interval(every);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = stop.cancelled() => return,
                _ = ticks.tick() => {}
                _ = wake.notified() => {}
            }
            if let Err(e) = self.scan(&incidents, clock.now()).await {
                tracing::warn!(error = %e, "dispatch desk: store error; trying again next round")
            }
        }
    }
}
