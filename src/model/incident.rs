//! Incidents (事件/案件): what the center follows from discovery to closure.

use super::{IncidentId, Location, Timestamp};
use serde::{Deserialize, Serialize};

/// Warning level (预警等级), most severe first: 红 I, 橙 II, 黄 III, 蓝 IV.
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
)]
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

/// Where an incident stands in the closed loop (GB/T 30428.8: 发现 → 立案 → 派遣 → 签收 →
/// 处置 → 反馈 → 核查 → 结案, with the states real systems add). `incidents::lifecycle`
/// decides which moves are allowed to whom.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum IncidentStatus {
    /// 发现: raised by a rule, an alert or a report; not yet filed.
    Discovered,
    /// 立案: accepted as a case, waiting to be dispatched.
    Filed,
    /// 不予立案: not a case (final).
    Rejected,
    /// 合并: a duplicate, merged into another incident (final).
    Merged,
    /// 派遣: sent to a department, waiting for it to acknowledge.
    Dispatched,
    /// 签收: the department has taken it.
    Acknowledged,
    /// 退回: the department returned it as not theirs; waiting to be dispatched again.
    Returned,
    /// 处置中: being handled on site.
    Handling,
    /// 反馈: the department reported the result; waiting for verification (核查).
    Feedback,
    /// 返工: verification found it not fixed; back with the department.
    Rework,
    /// 核查通过: verified on site; waiting to be closed.
    Verified,
    /// 挂账 / 缓办: suspended; resumes to the state it was in.
    Suspended,
    /// 结案 (final).
    Closed,
}

impl IncidentStatus {
    pub const ALL: [IncidentStatus; 13] = [
        Self::Discovered,
        Self::Filed,
        Self::Rejected,
        Self::Merged,
        Self::Dispatched,
        Self::Acknowledged,
        Self::Returned,
        Self::Handling,
        Self::Feedback,
        Self::Rework,
        Self::Verified,
        Self::Suspended,
        Self::Closed,
    ];

    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Discovered => "discovered",
            Self::Filed => "filed",
            Self::Rejected => "rejected",
            Self::Merged => "merged",
            Self::Dispatched => "dispatched",
            Self::Acknowledged => "acknowledged",
            Self::Returned => "returned",
            Self::Handling => "handling",
            Self::Feedback => "feedback",
            Self::Rework => "rework",
            Self::Verified => "verified",
            Self::Suspended => "suspended",
            Self::Closed => "closed",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|v| v.as_str() == s)
    }

    /// Closed, rejected and merged incidents are done: nothing moves them any more, and
    /// their dedup key is free for a new incident.
    pub const fn is_final(self) -> bool {
        matches!(self, Self::Closed | Self::Rejected | Self::Merged)
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Incident {
    pub id: IncidentId,
    /// At most one incident that is not final (closed, rejected, merged) exists per key (a unique index in the
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
    /// Bumped by every edit (lifecycle, severity, clear); a change decided against a
    /// stale version is a conflict. New evidence (count, last_seen, peak) is not an edit.
    pub version: i64,
    /// Name of the rule that raised it; `None` for incidents not raised by a rule.
    pub rule: Option<String>,
    /// Longer text for the people handling it (the rule's description), beside `title`.
    pub description: Option<String>,
    /// Where it stands in dispatch and handling.
    #[serde(flatten)]
    pub handling: Handling,
}

/// The closed-loop fields of an incident, changed only through
/// `incidents::lifecycle` (one writer per incident).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Handling {
    /// The department (部门) it is dispatched to, if any.
    pub department: Option<String>,
    /// When the current step (acknowledge, handle) is due.
    pub due_at: Option<Timestamp>,
    /// 督办: how many times it has been escalated; 0 when not supervised.
    pub supervision: i32,
    /// For a merged incident: the incident it was merged into.
    pub merged_into: Option<IncidentId>,
    /// For a suspended incident: the state it resumes to.
    pub suspended_from: Option<IncidentStatus>,
    /// A pending extension request (延期申请): the due time the department asks for.
    pub extension_requested: Option<Timestamp>,
}

/// One recorded change of an incident. The log is append-only: rows are never updated or
/// deleted, so it answers "who changed what, when" after the fact.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
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
    /// Logged on the incident another one was merged into (its note names the duplicate).
    pub const MERGED_FROM: &'static str = "merged_from";
    /// The actor of changes no rule or person asked for.
    pub const SYSTEM: &'static str = "system";

    /// The actor a rule acts as: `rule:<name>`, or `system` without a rule.
    pub fn rule_actor(rule: Option<&str>) -> String {
        rule.map_or_else(|| Self::SYSTEM.to_owned(), |r| format!("rule:{r}"))
    }
}

/// A lifecycle change decided by `incidents::lifecycle`, for the store to apply
/// atomically (if the incident is still at the version it was decided on).
#[derive(Clone, Debug, PartialEq)]
pub struct Transition {
    pub status: IncidentStatus,
    pub handling: Handling,
    pub closed_at: Option<Timestamp>,
    /// The log entry that records it.
    pub event: IncidentEvent,
}
