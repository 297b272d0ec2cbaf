//! What the vital signs (`crate::indicators`) keep and ask: each indicator's value per scope
//! and minute, and the tallies of open and new incidents the loop's indicators are computed
//! from. The evaluation figures they also use are [`super::EvaluationStore`]'s.

use super::StoreResult;
use crate::model::{Severity, Timestamp};
use async_trait::async_trait;
use serde::Serialize;

/// One indicator's value in one scope for one minute.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct IndicatorSample {
    #[serde(skip)]
    pub indicator: String,
    /// `""` the whole city, `district:<code>`, `street:<code>`.
    #[serde(skip)]
    pub scope: String,
    /// The start of the minute (event time).
    pub minute: Timestamp,
    /// `None` when there was nothing to compute from.
    pub value: Option<f64>,
    /// `normal`, `blue`, `yellow`, `orange` or `red`.
    pub level: String,
}

/// Incidents of one (district, street, category, severity): how many are open, of those how
/// many are past their time limit, and how many were opened since the start of the day.
#[derive(Debug, Clone, PartialEq)]
pub struct IncidentTally {
    pub district: Option<String>,
    pub street: Option<String>,
    pub category: String,
    pub severity: Severity,
    pub open: i64,
    pub overdue: i64,
    pub opened: i64,
}

#[async_trait]
pub trait IndicatorStore: Send + Sync {
    /// Writes samples, replacing any of the same (indicator, scope, minute): a replayed
    /// minute is written again, not twice.
    async fn save_indicator_samples(&self, samples: &[IndicatorSample]) -> StoreResult<()>;

    /// One indicator's samples in one scope with `from <= minute < to`, oldest first, at
    /// most `limit`.
    async fn indicator_samples(
        &self,
        indicator: &str,
        scope: &str,
        from: Timestamp,
        to: Timestamp,
        limit: u32,
    ) -> StoreResult<Vec<IndicatorSample>>;

    /// Deletes samples older than `before`; returns how many.
    async fn prune_indicator_samples(&self, before: Timestamp) -> StoreResult<u64>;

    /// Tallies of the incidents that are open, or were opened at or after `day_start`;
    /// `now` decides which open ones are overdue.
    async fn incident_tallies(
        &self,
        day_start: Timestamp,
        now: Timestamp,
    ) -> StoreResult<Vec<IncidentTally>>;
}
