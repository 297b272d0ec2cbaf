//! The demo's people: the center's dispatcher, each department's staff and the grid
//! workers, moving the demo city's incidents round the closed loop at a day's pace —
//! file and dispatch what the desk leaves, acknowledge, start, feed back, verify, close;
//! now and then a department returns a case that is not its own, a grid worker sends one
//! back for rework, or a department runs past its due time (and the desk escalates it).
//!
//! The crew gives the same commands a console gives, through [`Incidents::act`] with the
//! version it saw, as demo users (so the event log names them), announced like the API's. It reads the server's clock and draws every delay from one seeded
//! generator, so on a driven clock a run is repeatable. Only `serve --demo` starts it.

use crate::auth::users::{UserError, UserSpec};
use crate::clock::{Clock, SharedClock};
use crate::config::DemoConfig;
use crate::incidents::Incidents;
use crate::incidents::act::ActError;
use crate::incidents::desk::Desk;
use crate::incidents::lifecycle::Command;
use crate::model::{Actor, Incident, IncidentId, IncidentStatus as S, Role, Timestamp};
use crate::spatial::City;
use crate::store::{IncidentFilter, SharedStore, StoreError};
use rand::SeedableRng;
use rand::rngs::SmallRng;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

#[derive(Debug, thiserror::Error)]
pub enum CrewError {
    #[error("demo crew users: {0}")]
    Users(#[from] UserError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// How fast the crew works: mean minutes per step (each delay is drawn between half and
/// one and a half times its mean) and how often things go wrong. From `[demo]`.
#[derive(Debug, Clone, PartialEq)]
pub struct Pace {
    pub dispatch_minutes: f64,
    pub acknowledge_minutes: f64,
    pub start_minutes: f64,
    pub handle_minutes: f64,
    pub verify_minutes: f64,
    pub close_minutes: f64,
    /// Chance a department acknowledges or feeds back after its due time.
    pub late_rate: f64,
    /// Chance a department returns a dispatched case (when routing names another one).
    pub return_rate: f64,
    /// Chance a verification finds the work not done.
    pub rework_rate: f64,
}

impl Pace {
    pub fn from_config(demo: &DemoConfig) -> Self {
        Self {
            dispatch_minutes: demo.dispatch_minutes,
            acknowledge_minutes: demo.acknowledge_minutes,
            start_minutes: demo.start_minutes,
            handle_minutes: demo.handle_minutes,
            verify_minutes: demo.verify_minutes,
            close_minutes: demo.close_minutes,
            late_rate: demo.late_rate,
            return_rate: demo.return_rate,
            rework_rate: demo.rework_rate,
        }
    }
}

/// What one round did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Round {
    /// Incidents open at the start of the round.
    pub open: usize,
    /// Commands carried out.
    pub moved: usize,
}

pub struct Crew {
    pace: Pace,
    desk: Arc<Desk>,
    rng: SmallRng,
    /// Files, dispatches and closes; verifies where no grid worker patrols.
    center: Actor,
    /// Department code → its staff.
    departments: HashMap<String, Actor>,
    /// Grid workers; the first whose grids hold an incident verifies it.
    patrols: Vec<Actor>,
    /// Open incidents only: pruned to the open list each round.
    plans: HashMap<IncidentId, Plan>,
    /// Who returned an open incident last, so the center tries another department.
    returned_by: HashMap<IncidentId, String>,
}

impl Crew {
    /// The crew of `city`: the demo users (`demo_users`, as `ensure_users` makes them)
    /// and, created here if missing with passwords nobody is told, one staff user per
    /// department of the routing (`staff-<code>`, unless a demo user already stands for
    /// it) and one grid worker per district on all its grids (`patrol-<district>`).
    pub async fn load(
        store: &SharedStore,
        city: &City,
        desk: Arc<Desk>,
        pace: Pace,
        seed: u64,
        clock: &dyn Clock,
    ) -> Result<Self, CrewError> {
        let specs = crew_specs(city, &desk);
        for spec in &specs {
            super::ensure_user(store, city, clock, spec).await?;
        }
        let mut actors = HashMap::new();
        for spec in &specs {
            if let Some(u) = store.user(&spec.name).await? {
                actors.insert(spec.name.clone(), u.actor());
            }
        }
        let center = store
            .user("dispatcher")
            .await?
            .map(|u| u.actor())
            .ok_or_else(|| UserError::Invalid("no demo user dispatcher".into()))?;
        let departments = specs
            .iter()
            .filter_map(|s| Some((s.department.clone()?, actors.get(&s.name)?.clone())))
            .collect();
        let patrols = specs
            .iter()
            .filter(|s| s.role == Role::GridWorker.as_str())
            .filter_map(|s| actors.get(&s.name).cloned())
            .collect();
        Ok(Self {
            pace,
            desk,
            rng: SmallRng::seed_from_u64(seed),
            center,
            departments,
            patrols,
            plans: HashMap::new(),
            returned_by: HashMap::new(),
        })
    }

    /// One round at `now`: plan a step for every open incident that has none for its
    /// current state, and carry out those that are due. Refusals and conflicts (someone
    /// else moved the incident) are not errors: the incident is planned afresh next round.
    pub async fn round(
        &mut self,
        incidents: &Incidents,
        now: Timestamp,
    ) -> Result<Round, StoreError> {
        let mut open = incidents
            .store()
            .incidents(&IncidentFilter {
                open_only: true,
                ..Default::default()
            })
            .await?;
        // Ids are random; this order is not, so a seed replays the same day.
        open.sort_by(|a, b| (a.opened_at, &a.dedup_key).cmp(&(b.opened_at, &b.dedup_key)));
        let ids: HashSet<IncidentId> = open.iter().map(|i| i.id).collect();
        self.plans.retain(|id, _| ids.contains(id));
        self.returned_by.retain(|id, _| ids.contains(id));
        let mut round = Round {
            open: open.len(),
            moved: 0,
        };
        for i in &open {
            let plan = match self.plans.get_mut(&i.id) {
                // Evidence, severity or a clear bump the version, not the plan.
                Some(p) if p.status == i.status => {
                    p.version = i.version;
                    p.clone()
                }
                _ => match self.plan(i, now) {
                    Some(p) => {
                        self.plans.insert(i.id, p.clone());
                        p
                    }
                    None => {
                        self.plans.remove(&i.id);
                        continue;
                    }
                },
            };
            if plan.at > now {
                continue;
            }
            self.plans.remove(&i.id);
            if self.perform(incidents, i, plan.step, now).await? {
                round.moved += 1;
            }
        }
        Ok(round)
    }

    /// Gives the step's command as the console would: against the version seen, with the
    /// desk's due times, announced after the commit; a return goes on to the desk's next
    /// candidate like one from the API. Returns whether the incident moved.
    async fn perform(
        &mut self,
        incidents: &Incidents,
        i: &Incident,
        step: Step,
        now: Timestamp,
    ) -> Result<bool, StoreError> {
        let Some((command, actor)) = self.command(i, step) else {
            return Ok(false);
        };
        // 处置 limits count from the dispatch (as `POST …/actions` works them out).
        let dispatched_at = match command {
            Command::Acknowledge {} | Command::Start {} => incidents
                .store()
                .incident_events(i.id)
                .await?
                .iter()
                .rev()
                .find(|e| e.action == "dispatch")
                .map(|e| e.at),
            _ => None,
        };
        let desk = self.desk.clone();
        let result = incidents
            .act(i.id, &actor, &command, Some(i.version), now, |x| {
                desk.due(x, now, dispatched_at)
            })
            .await;
        let moved = match result {
            Ok(moved) => moved,
            Err(ActError::Store(e)) => return Err(e),
            Err(e) => {
                tracing::debug!(id = %i.id, error = %e, "demo crew: not now; planning again");
                return Ok(false);
            }
        };
        if let (Command::Return { .. }, Some(dept)) = (&command, actor.department.as_deref()) {
            self.returned_by.insert(i.id, dept.to_string());
            match self.desk.after_return(incidents, &moved, dept, now).await {
                Ok(_) => {}
                Err(ActError::Store(e)) => return Err(e),
                Err(e) => tracing::debug!(id = %i.id, error = %e, "demo crew: no re-dispatch"),
            }
        }
        Ok(true)
    }
}

/// The crew's users besides the demo users: staff per routing department that no demo
/// user stands for, a grid worker per district. Department and grid-worker demo users come
/// first, so they act where they can.
fn crew_specs(city: &City, desk: &Desk) -> Vec<UserSpec> {
    let mut specs: Vec<UserSpec> = super::demo_user_specs(city)
        .into_iter()
        .filter(|s| s.department.is_some() || s.role == Role::GridWorker.as_str())
        .collect();
    for d in desk.routing.departments() {
        let code = d.code.as_str();
        if specs.iter().any(|s| s.department.as_deref() == Some(code)) {
            continue;
        }
        specs.push(UserSpec {
            name: format!("staff-{}", super::short(code)),
            role: Role::Department.as_str().to_owned(),
            display_name: Some(format!("{} {}", d.name_zh, d.name_en)),
            department: Some(code.to_owned()),
            ..UserSpec::default()
        });
    }
    for district in city.districts() {
        let grids: Vec<String> = city
            .grids()
            .iter()
            .filter(|g| g.district.as_ref() == Some(&district.code))
            .map(|g| g.code.clone())
            .collect();
        if grids.is_empty() {
            continue;
        }
        specs.push(UserSpec {
            name: format!("patrol-{}", super::short(&district.code)),
            role: Role::GridWorker.as_str().to_owned(),
            display_name: Some(format!("{} 网格员 Grid workers", district.name)),
            grids,
            ..UserSpec::default()
        });
    }
    specs
}

/// Starts the crew: it sets up its users, then plays a round every `[demo] crew_tick_secs`
/// of the server's clock until `stop` fires. A store error skips a round.
pub fn spawn(
    demo: &DemoConfig,
    city: Arc<City>,
    desk: Arc<Desk>,
    incidents: Incidents,
    clock: SharedClock,
    stop: CancellationToken,
) -> tokio::task::JoinHandle<()> {
    let pace = Pace::from_config(demo);
    let seed = demo.seed;
    let every = Duration::from_secs(demo.crew_tick_secs.max(1));
    tokio::spawn(async move {
        let load = Crew::load(incidents.store(), &city, desk, pace, seed, clock.as_ref());
        let mut crew = tokio::select! {
            _ = stop.cancelled() => return,
            c = load => match c {
                Ok(c) => c,
                Err(e) => {
                    tracing::error!(error = %e, "demo crew could not start");
                    return;
                }
            },
        };
        tracing::info!(
            departments = crew.departments.len(),
            grid_workers = crew.patrols.len(),
            "demo crew at work"
        );
        let mut ticks = tokio::time::interval(every);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = stop.cancelled() => return,
                _ = ticks.tick() => {}
            }
            match crew.round(&incidents, clock.now()).await {
                Ok(r) => tracing::debug!(open = r.open, moved = r.moved, "demo crew round"),
                Err(e) => tracing::warn!(error = %e, "demo crew: store error; next round"),
            }
        }
    })
}

#[path = "crew_plan.rs"]
mod plan;
use plan::*;
