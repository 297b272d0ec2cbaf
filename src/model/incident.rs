//! Incidents (事件/案件): what the center follows from discovery to closure.

use super::{IncidentId, Location, Timestamp};
use serde::{Deserialize, Serialize};

/// Warning level (预警等级), most severe first: 红 I, 橙 II, 黄 III, 蓝 IV.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    Red,
    Orange,
    Yellow,
    Blue,
}

impl Severity {
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Red => "red",
            Self::Orange => "orange",
            Self::Yellow => "yellow",
            Self::Blue => "blue",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        [Self::Red, Self::Orange, Self::Yellow, Self::Blue]
            .into_iter()
            .find(|v| v.as_str() == s)
    }
}

/// Where an incident stands in the closed loop. The foundation only discovers and
/// closes; the full lifecycle (file, dispatch, acknowledge, ...) extends this enum.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IncidentStatus {
    /// 发现: raised by a rule, an alert or a report; not yet filed.
    Discovered,
    /// 结案.
    Closed,
}

impl IncidentStatus {
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Discovered => "discovered",
            Self::Closed => "closed",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        [Self::Discovered, Self::Closed]
            .into_iter()
            .find(|v| v.as_str() == s)
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Incident {
    pub id: IncidentId,
    /// At most one incident that is not closed exists per key (a unique index in the
    /// store), e.g. `threshold:WL-00017:level`.
    pub dedup_key: String,
    /// Category code, e.g. `waterlogging`.
    pub category: String,
    pub severity: Severity,
    pub status: IncidentStatus,
    pub title: String,
    /// The sensor or camera that raised it, if any.
    pub source: Option<String>,
    pub location: Location,
    /// Event time of the first evidence.
    pub opened_at: Timestamp,
    /// Event time of the latest evidence.
    pub last_seen: Timestamp,
    /// How many pieces of evidence (readings, alerts) it has gathered.
    pub count: i64,
    /// The most extreme value seen, when it comes from a measurement.
    pub peak: Option<f64>,
    /// Event time at which its condition cleared, if it has.
    pub cleared_at: Option<Timestamp>,
    pub closed_at: Option<Timestamp>,
    /// Bumped by every change; a change against a stale version is a conflict.
    pub version: i64,
    /// Name of the rule that raised it; `None` for incidents not raised by a rule.
    pub rule: Option<String>,
    /// Longer text for the people handling it (the rule's description), beside `title`.
    pub description: Option<String>,
}

/// One recorded change of an incident. The log is append-only: rows are never updated or
/// deleted, so it answers "who changed what, when" after the fact.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct IncidentEvent {
    pub incident: IncidentId,
    /// Event time of the change (the data's time, not the wall clock).
    pub at: Timestamp,
    /// Who made the change: `rule:<name>`, `system`, later a user.
    pub actor: String,
    /// What changed: `opened`, `severity`, `cleared`, `refired`, `closed`.
    pub action: String,
    /// The value before the change, when the action has one (e.g. the old severity).
    pub from: Option<String>,
    /// The value after the change (e.g. the new severity, or `closed`).
    pub to: Option<String>,
    /// Why, in words, when there is more to say than the action.
    pub note: Option<String>,
}

impl IncidentEvent {
    pub const OPENED: &'static str = "opened";
    pub const SEVERITY: &'static str = "severity";
    pub const CLEARED: &'static str = "cleared";
    pub const REFIRED: &'static str = "refired";
    pub const CLOSED: &'static str = "closed";
    /// The actor of changes no rule or person asked for.
    pub const SYSTEM: &'static str = "system";

    /// The actor a rule acts as: `rule:<name>`, or `system` without a rule.
    pub fn rule_actor(rule: Option<&str>) -> String {
        rule.map_or_else(|| Self::SYSTEM.to_owned(), |r| format!("rule:{r}"))
    }
}
