//! What the rules decided in one step, written set-based: the backend locks and reads the
//! open incidents of every key the step names in one statement, [`plan`] works out every
//! incident's new state and every event in memory (through the same transition rules as
//! single changes, and the closed loop's [`decide`] for auto-close), and the backend
//! writes the new rows, the changed rows, the events and the rule state with one
//! statement each, all in one transaction. A step with evidence for a thousand incidents
//! costs the same statements as one with evidence for one.

use super::transitions;
use super::{NewIncident, ReportRecord, StoreResult};
use crate::incidents::lifecycle::{Command, DueTimes, decide};
use crate::model::{
    Actor, Handling, Incident, IncidentEvent, IncidentId, IncidentStatus, Severity, Timestamp,
};
use std::collections::HashMap;

/// One change a rule asks for, addressed by its incident's dedup key.
#[derive(Debug, Clone, PartialEq)]
pub enum RuleChange {
    /// The rule fires: opens an incident unless one that is not final has the key; that
    /// one carries on (refired if its condition had cleared, moved to this severity).
    Open(NewIncident),
    /// `count` more pieces of evidence, the newest at `last`, the largest value `peak`.
    /// Not an edit: no version bump, no event.
    Evidence {
        key: String,
        count: i64,
        last: Timestamp,
        peak: Option<f64>,
    },
    /// The rule's level changed.
    Severity {
        key: String,
        to: Severity,
        at: Timestamp,
        actor: String,
        note: String,
    },
    /// The condition cleared; with `close` the system closes the incident through the
    /// closed loop (`auto_close`).
    Clear {
        key: String,
        at: Timestamp,
        close: bool,
    },
}

impl RuleChange {
    pub fn key(&self) -> &str {
        match self {
            RuleChange::Open(n) => &n.dedup_key,
            RuleChange::Evidence { key, .. }
            | RuleChange::Severity { key, .. }
            | RuleChange::Clear { key, .. } => key,
        }
    }
}

/// One step of the rules: its changes in order, and the engine's state changes
/// (`Some` upserts, `None` deletes; the last change of a key wins). A person's report
/// is a step too: its record and the `Open` of its incident, committed together.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RuleWrite {
    pub changes: Vec<RuleChange>,
    pub state: Vec<(String, Option<String>)>,
    /// The report the step's incident comes from; `Conflict` (nothing written) if a
    /// report with its key is already recorded.
    pub report: Option<ReportRecord>,
}

impl RuleWrite {
    pub fn is_empty(&self) -> bool {
        self.changes.is_empty() && self.state.is_empty() && self.report.is_none()
    }

    /// Every key the changes name, once each.
    pub(crate) fn keys(&self) -> Vec<&str> {
        let mut keys: Vec<&str> = self.changes.iter().map(RuleChange::key).collect();
        keys.sort_unstable();
        keys.dedup();
        keys
    }

    /// The rule state to upsert and the keys to delete, the last change of each key
    /// winning.
    pub(crate) fn state_split(&self) -> (Vec<(&str, &str)>, Vec<&str>) {
        let mut last: HashMap<&str, Option<&str>> = HashMap::with_capacity(self.state.len());
        for (key, value) in &self.state {
            last.insert(key.as_str(), value.as_deref());
        }
        let mut upserts = Vec::new();
        let mut deletes = Vec::new();
        for (key, value) in last {
            match value {
                Some(v) => upserts.push((key, v)),
                None => deletes.push(key),
            }
        }
        upserts.sort_unstable();
        deletes.sort_unstable();
        (upserts, deletes)
    }
}

/// What a backend does for a step, inside one transaction of its own: each call one
/// statement, and only with a set that is not empty.
#[async_trait::async_trait]
pub(crate) trait StepTx: Send + Sized {
    /// The open incidents with these keys, locked until the transaction ends.
    async fn lock_open(&mut self, keys: &[&str]) -> StoreResult<Vec<Incident>>;
    /// Records a report; `Conflict` if its key is already recorded.
    async fn record_report(&mut self, report: &ReportRecord) -> StoreResult<()>;
    /// Writes the rule fields of incidents that exist.
    async fn update(&mut self, rows: &[Incident]) -> StoreResult<()>;
    async fn insert(&mut self, rows: &[Incident]) -> StoreResult<()>;
    /// Appends events in their order.
    async fn append_events(&mut self, events: &[IncidentEvent]) -> StoreResult<()>;
    /// Inserts or replaces rule state, by key.
    async fn upsert_state(&mut self, states: &[(&str, &str)]) -> StoreResult<()>;
    async fn delete_state(&mut self, keys: &[&str]) -> StoreResult<()>;
    async fn commit(self) -> StoreResult<()>;
}

/// Writes `step` through `tx`, the one order every backend follows.
pub(crate) async fn write<T: StepTx>(mut tx: T, step: &RuleWrite) -> StoreResult<RuleOutcome> {
    let keys = step.keys();
    let current = if keys.is_empty() {
        Vec::new()
    } else {
        tx.lock_open(&keys).await?
    };
    if let Some(report) = &step.report {
        tx.record_report(report).await?;
    }
    let plan = plan(current, &step.changes)?;
    // Updates first: a key closed and opened again in one step frees its key before the
    // new incident takes it.
    if !plan.updates.is_empty() {
        tx.update(&plan.updates).await?;
    }
    if !plan.inserts.is_empty() {
        tx.insert(&plan.inserts).await?;
    }
    if !plan.events.is_empty() {
        tx.append_events(&plan.events).await?;
    }
    let (upserts, deletes) = step.state_split();
    if !upserts.is_empty() {
        tx.upsert_state(&upserts).await?;
    }
    if !deletes.is_empty() {
        tx.delete_state(&deletes).await?;
    }
    tx.commit().await?;
    Ok(plan.outcome())
}

/// What a step writes.
#[derive(Debug, Default)]
pub(crate) struct Plan {
    /// New incidents, in full.
    pub inserts: Vec<Incident>,
    /// Incidents that existed, in their new state (rule fields: severity, status, evidence,
    /// cleared and closed times, version).
    pub updates: Vec<Incident>,
    /// Every event, in the order the changes happened.
    pub events: Vec<IncidentEvent>,
}

/// What a step did.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct RuleOutcome {
    /// The incidents that changed, the newest state of each, by id.
    pub changed: Vec<Incident>,
    /// Of those, the ones this step opened.
    pub opened: Vec<IncidentId>,
}

impl Plan {
    pub fn outcome(self) -> RuleOutcome {
        let opened = self.inserts.iter().map(|i| i.id).collect();
        let mut changed = self.inserts;
        changed.extend(self.updates);
        changed.sort_by_key(|i| i.id);
        RuleOutcome { changed, opened }
    }
}

/// Works out a step from `current`, the open incidents of the step's keys as the backend
/// read them under its write lock.
pub(crate) fn plan(current: Vec<Incident>, changes: &[RuleChange]) -> StoreResult<Plan> {
    struct Row {
        incident: Incident,
        new: bool,
        dirty: bool,
    }
    let mut rows: Vec<Row> = Vec::with_capacity(current.len());
    let mut open: HashMap<String, usize> = HashMap::with_capacity(current.len());
    for i in current {
        open.insert(i.dedup_key.clone(), rows.len());
        rows.push(Row {
            incident: i,
            new: false,
            dirty: false,
        });
    }
    let mut events = Vec::new();
    for change in changes {
        let ix = open.get(change.key()).copied();
        match (change, ix) {
            (RuleChange::Open(new), Some(ix)) => {
                let row = &mut rows[ix];
                let actor = IncidentEvent::rule_actor(new.rule.as_deref());
                if let Some(e) = transitions::refire(&row.incident, new.opened_at, &actor)? {
                    row.incident.cleared_at = None;
                    row.incident.version += 1;
                    row.dirty = true;
                    events.push(e);
                }
                if let Some(e) = transitions::set_severity(
                    &row.incident,
                    new.severity,
                    new.opened_at,
                    &actor,
                    "fired again at this level",
                )? {
                    row.incident.severity = new.severity;
                    row.incident.version += 1;
                    row.dirty = true;
                    events.push(e);
                }
            }
            (RuleChange::Open(new), None) => {
                let incident = opened(new);
                events.push(transitions::opened(incident.id, new));
                open.insert(new.dedup_key.clone(), rows.len());
                rows.push(Row {
                    incident,
                    new: true,
                    dirty: true,
                });
            }
            (
                RuleChange::Evidence {
                    count, last, peak, ..
                },
                Some(ix),
            ) => {
                let i = &mut rows[ix].incident;
                i.count += count;
                i.last_seen = i.last_seen.max(*last);
                i.peak = match (i.peak, *peak) {
                    (Some(a), Some(b)) => Some(a.max(b)),
                    (a, b) => a.or(b),
                };
                rows[ix].dirty = true;
            }
            (
                RuleChange::Severity {
                    to,
                    at,
                    actor,
                    note,
                    ..
                },
                Some(ix),
            ) => {
                let row = &mut rows[ix];
                if let Some(e) = transitions::set_severity(&row.incident, *to, *at, actor, note)? {
                    row.incident.severity = *to;
                    row.incident.version += 1;
                    row.dirty = true;
                    events.push(e);
                }
            }
            (RuleChange::Clear { key, at, close }, Some(ix)) => {
                let row = &mut rows[ix];
                let before = events.len();
                if row.incident.cleared_at.is_none() {
                    events.push(transitions::cleared(&row.incident, *at));
                    row.incident.cleared_at = Some(*at);
                }
                if *close {
                    let t = decide(
                        &row.incident,
                        &Actor::system(),
                        &Command::AutoClose {},
                        *at,
                        DueTimes::default(),
                    )
                    .map_err(|e| super::StoreError::Conflict(e.to_string()))?;
                    row.incident.status = t.status;
                    row.incident.handling = t.handling;
                    row.incident.closed_at = t.closed_at;
                    events.push(t.event);
                    open.remove(key);
                }
                if events.len() > before {
                    row.incident.version += 1;
                    row.dirty = true;
                }
            }
            // No open incident: evidence, a level change or a clear has nothing to change.
            (_, None) => {}
        }
    }
    let mut plan = Plan {
        events,
        ..Default::default()
    };
    for row in rows.into_iter().filter(|r| r.dirty) {
        if row.new {
            plan.inserts.push(row.incident);
        } else {
            plan.updates.push(row.incident);
        }
    }
    Ok(plan)
}

/// A new incident as `new` describes it: discovered, its first piece of evidence counted.
fn opened(new: &NewIncident) -> Incident {
    Incident {
        id: IncidentId::new_v7(),
        dedup_key: new.dedup_key.clone(),
        category: new.category.clone(),
        severity: new.severity,
        status: IncidentStatus::Discovered,
        title: new.title.clone(),
        source: new.source.clone(),
        location: new.location.clone(),
        opened_at: new.opened_at,
        last_seen: new.opened_at,
        count: 1,
        peak: new.peak,
        cleared_at: None,
        closed_at: None,
        version: 1,
        rule: new.rule.clone(),
        description: new.description.clone(),
        handling: Handling::default(),
    }
}
