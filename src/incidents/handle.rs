//! The incidents handle: the one way anything commits an incident change, and the one
//! place that announces it. Rule steps (the pipeline), closed-loop commands (people, the
//! dispatch desk, the demo crew) and people's reports all go through it; each change is
//! committed first and announced right after, from here, so nothing commits without
//! being announced and nothing is announced before it is committed.
//!
//! An announcement can still be lost to a crash between the commit and the send. The
//! live hub starts a new epoch when the process starts again, so a client that resumes
//! gets a fresh snapshot from the store, which has the change.

use super::act::{self, ActError};
use super::lifecycle::{Command, DueTimes};
use crate::live::LiveEvent;
use crate::model::{Actor, Incident, IncidentId, Timestamp};
use crate::store::{NewIncident, ReportRecord, RuleChange, RuleOutcome, RuleWrite};
use crate::store::{SharedStore, StoreResult};
use tokio::sync::mpsc;

#[derive(Clone)]
pub struct Incidents {
    store: SharedStore,
    live: mpsc::Sender<LiveEvent>,
}

impl Incidents {
    pub fn new(store: SharedStore, live: mpsc::Sender<LiveEvent>) -> Self {
        Self { store, live }
    }

    /// The store, for reading.
    pub fn store(&self) -> &SharedStore {
        &self.store
    }

    /// Carries out `command` by `actor` on incident `id` ([`act::act`]) and announces
    /// the result.
    #[allow(clippy::too_many_arguments)]
    pub async fn act(
        &self,
        id: IncidentId,
        actor: &Actor,
        command: &Command,
        expected_version: Option<i64>,
        now: Timestamp,
        due: impl Fn(&Incident) -> DueTimes,
    ) -> Result<Incident, ActError> {
        let current = act::visible(&self.store, id, actor).await?;
        self.act_on(current, actor, command, expected_version, now, due)
            .await
    }

    /// [`Incidents::act`] on an incident the caller has already read with
    /// [`act::visible`].
    pub async fn act_on(
        &self,
        current: Incident,
        actor: &Actor,
        command: &Command,
        expected_version: Option<i64>,
        now: Timestamp,
        due: impl Fn(&Incident) -> DueTimes,
    ) -> Result<Incident, ActError> {
        let moved = act::act_on(
            &self.store,
            current,
            actor,
            command,
            expected_version,
            now,
            due,
        )
        .await?;
        self.announce(vec![moved.clone()]).await;
        Ok(moved)
    }

    /// Writes one step of the rules and announces what changed.
    pub async fn write_rules(&self, step: &RuleWrite) -> StoreResult<RuleOutcome> {
        let outcome = self.store.write_rules(step).await?;
        self.announce(outcome.changed.clone()).await;
        Ok(outcome)
    }

    /// Records a person's report and opens its incident, in one transaction, and
    /// announces the incident.
    pub async fn open_report(
        &self,
        record: &ReportRecord,
        new: &NewIncident,
    ) -> StoreResult<Incident> {
        let outcome = self
            .write_rules(&RuleWrite {
                changes: vec![RuleChange::Open(new.clone())],
                report: Some(record.clone()),
                ..Default::default()
            })
            .await?;
        outcome.changed.into_iter().next().ok_or_else(|| {
            crate::store::StoreError::Conflict(format!(
                "an incident with key {:?} is already open",
                new.dedup_key
            ))
        })
    }

    async fn announce(&self, changed: Vec<Incident>) {
        if !changed.is_empty() {
            // The hub is gone only when the server stops.
            let _ = self.live.send(LiveEvent::Incidents(changed)).await;
        }
    }
}
