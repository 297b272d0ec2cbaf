//! Incidents and their event logs: what the rules open and change ([`RuleWrite`]), what
//! the closed loop moves ([`IncidentStore::transition`]), and the reads behind the API.

use super::{RuleChange, RuleOutcome, RuleWrite, StoreResult};
use crate::model::{
    Incident, IncidentEvent, IncidentId, IncidentStatus, Severity, Timestamp, Transition,
};
use async_trait::async_trait;

/// A new incident for the store to open.
#[derive(Debug, Clone, PartialEq)]
pub struct NewIncident {
    pub dedup_key: String,
    pub category: String,
    pub severity: Severity,
    pub title: String,
    pub source: Option<String>,
    pub location: crate::model::Location,
    pub opened_at: Timestamp,
    pub peak: Option<f64>,
    /// Name of the rule raising it; also names the actor of its `opened` event.
    pub rule: Option<String>,
    pub description: Option<String>,
}

/// Which incidents to list, newest first. The conditions given all hold.
#[derive(Debug, Clone, Default)]
pub struct IncidentFilter {
    /// Only incidents that are not final (closed, rejected, merged).
    pub open_only: bool,
    pub district: Option<String>,
    /// Only incidents dispatched to this department.
    pub department: Option<String>,
    /// Only incidents in this status.
    pub status: Option<IncidentStatus>,
    /// At most this many; 0 means no limit (so `IncidentFilter::default()` lists all).
    pub limit: u32,
}

/// Incidents and their event logs.
#[async_trait]
pub trait IncidentStore: Send + Sync {
    /// Opens an incident unless one that is not final exists for its dedup key, which
    /// is then returned unchanged with `false`. The unique index decides races, not a
    /// check in memory. A created incident gets an `opened` event (to = its severity, actor
    /// `rule:<rule>`, or `system` without a rule) in the same transaction.
    async fn open_incident(&self, new: &NewIncident) -> StoreResult<(Incident, bool)>;

    /// Writes one step of the rules ([`RuleWrite`]) in one transaction with a constant
    /// number of statements, whatever the number of keys: the open incidents of its keys
    /// are read under the write lock, every change is worked out in memory
    /// (`rule_write::plan`), and the new incidents, changed incidents, their events and
    /// the rule state are written set-based. Returns the incidents that changed (the
    /// newest state of each, by id) and which of them it opened. Evidence neither bumps the version nor writes an event;
    /// every other change does both. A change for a key with no open incident changes
    /// nothing.
    async fn write_rules(&self, step: &RuleWrite) -> StoreResult<RuleOutcome>;

    /// One change through [`IncidentStore::write_rules`]: the incident with this key as it stands
    /// afterwards (changed or not), `None` if no incident that is not final has the key
    /// (or, after an auto-close, the closed one).
    async fn write_rule_change(&self, change: RuleChange) -> StoreResult<Option<Incident>> {
        let key = change.key().to_owned();
        let changed = self
            .write_rules(&RuleWrite {
                changes: vec![change],
                ..Default::default()
            })
            .await?
            .changed;
        if let Some(i) = changed.into_iter().next() {
            return Ok(Some(i));
        }
        self.open_incident_by_key(&key).await
    }

    /// The incident with this dedup key that is not final, if any.
    async fn open_incident_by_key(&self, key: &str) -> StoreResult<Option<Incident>>;

    /// Records that the condition of the open incident with this key cleared at `at`
    /// (cleared_at set once, a `cleared` event by `system`), and with `close` closes it
    /// through the closed loop's `auto_close` (a `closed` event by `system` from the old
    /// status, noted "auto-closed: condition cleared"). Returns `None` if no open
    /// incident has this key.
    async fn clear_incident(
        &self,
        dedup_key: &str,
        at: Timestamp,
        close: bool,
    ) -> StoreResult<Option<Incident>> {
        if self.open_incident_by_key(dedup_key).await?.is_none() {
            return Ok(None);
        }
        self.write_rule_change(RuleChange::Clear {
            key: dedup_key.to_owned(),
            at,
            close,
        })
        .await
    }

    /// Applies a lifecycle transition decided for `expected_version`: sets status, the
    /// handling fields and closed_at from `t`, bumps version by one and appends `t.event`
    /// (with its `incident` field set to `id`), all in one transaction. `Conflict` (nothing
    /// written) if the incident's version is no longer `expected_version` or it is final;
    /// `NotFound` if there is no such incident.
    ///
    /// The store checks versions, not rules: whether the move is allowed to whom is
    /// `incidents::lifecycle`'s to decide. Other fields (severity, evidence, cleared_at)
    /// are left as they are.
    async fn transition(
        &self,
        id: IncidentId,
        expected_version: i64,
        t: &Transition,
    ) -> StoreResult<Incident>;

    /// The incident's event log, oldest first (in the order the changes were committed).
    /// Empty for an unknown id.
    async fn incident_events(&self, id: IncidentId) -> StoreResult<Vec<IncidentEvent>>;

    async fn incident(&self, id: IncidentId) -> StoreResult<Option<Incident>>;

    async fn incidents(&self, filter: &IncidentFilter) -> StoreResult<Vec<Incident>>;
}

/// Rules-engine state that must survive a restart. Written with a rules step
/// ([`RuleWrite::state`]), so that state and incidents never disagree after a crash.
#[async_trait]
pub trait RuleStateStore: IncidentStore {
    /// Rules-engine state that must survive a restart (pending `for:` timers, firing
    /// levels), as opaque JSON text per key. `Some(v)` upserts, `None` deletes; applied in
    /// order (a key given twice ends as its last change), in one transaction.
    async fn save_rule_state(&self, changes: &[(String, Option<String>)]) -> StoreResult<()> {
        self.write_rules(&RuleWrite {
            state: changes.to_vec(),
            ..Default::default()
        })
        .await
        .map(|_| ())
    }

    /// All saved rule state, by key.
    async fn rule_state(&self) -> StoreResult<Vec<(String, String)>>;
}
