//! What an evaluation (综合评价, GB/T 30428.4) asks the store and what it answers: the
//! counts of the closed loop per department, district, street or post over a period, with
//! the rates cities publish. The definitions are in `docs/evaluation.md`; both backends
//! compute the counts and means in SQL, and this module holds what they share: the facts'
//! SQL (`evaluation_cte!`), the row, the rates (divisions of the counts) and SQLite's p90.

use super::StoreResult;
use crate::model::Timestamp;
use serde::{Deserialize, Serialize};

/// The facts of the period, one row each (`kind`, the incident, who, a duration in
/// seconds), joined to their incident and grouped by `key`: `WITH … grouped(grp, kind, secs)`,
/// for both backends. The dialect's parts are arguments: the period's and the scope's
/// parameters, a NULL of the duration's type, and what wraps a difference of two event
/// times (`a - b`) to make it seconds.
macro_rules! evaluation_cte {
    (key: $key:literal, from: $from:literal, to: $to:literal, district: $district:literal,
     street: $street:literal, department: $department:literal, null_secs: $null:literal,
     secs: ($secs_open:literal, $secs_close:literal)) => {
        concat!(
            "WITH closes AS ( \
               SELECT e.incident_id, e.actor, \
                 COALESCE(e.at > (SELECT i.due_at FROM incidents i WHERE i.id = e.incident_id), \
                   FALSE) AS late, ",
            $secs_open,
            "e.at - (SELECT MIN(f.at) FROM incident_events f \
               WHERE f.incident_id = e.incident_id AND f.action = 'file')",
            $secs_close,
            " AS secs \
               FROM incident_events e \
               WHERE e.action IN ('close', 'force_close', 'closed') AND e.to_state = 'closed' \
                 AND e.at >= ",
            $from,
            " AND e.at < ",
            $to,
            "), \
             open_due AS ( \
               SELECT id AS incident_id, status FROM incidents \
               WHERE ",
            not_final!(),
            " AND due_at >= ",
            $from,
            " AND due_at < ",
            $to,
            "), \
             facts (incident_id, who, kind, secs) AS ( \
               SELECT incident_id, actor, action, ",
            $null,
            " FROM incident_events \
                 WHERE action IN ('file', 'rework', 'grant_extension') AND at >= ",
            $from,
            " AND at < ",
            $to,
            " UNION ALL SELECT incident_id, actor, 'close', secs FROM closes \
               UNION ALL SELECT incident_id, actor, 'on_time', NULL FROM closes WHERE NOT late \
               UNION ALL SELECT incident_id, NULL, 'due', NULL FROM closes \
               UNION ALL SELECT incident_id, NULL, 'overdue', NULL FROM closes WHERE late \
               UNION ALL SELECT incident_id, NULL, 'due', NULL FROM open_due \
               UNION ALL SELECT incident_id, NULL, \
                 CASE WHEN status = 'suspended' THEN 'suspended' ELSE 'overdue' END, NULL \
                 FROM open_due \
               UNION ALL SELECT e.incident_id, e.actor, 'acknowledge', ",
            $secs_open,
            "e.at - (SELECT d.at FROM incident_events d \
               WHERE d.incident_id = e.incident_id AND d.action = 'dispatch' AND d.id < e.id \
               ORDER BY d.id DESC LIMIT 1)",
            $secs_close,
            " FROM incident_events e \
                 WHERE e.action = 'acknowledge' AND e.at >= ",
            $from,
            " AND e.at < ",
            $to,
            "), \
             inc AS ( \
               SELECT i.id, i.district, i.street, \
                 (SELECT substr(d.note, 4) FROM incident_events d \
                   WHERE d.incident_id = i.id AND d.action = 'dispatch' AND d.note LIKE 'to %' \
                   ORDER BY d.id DESC LIMIT 1) AS department, \
                 (SELECT a.actor FROM incident_events a \
                   WHERE a.incident_id = i.id AND a.action = 'acknowledge' \
                   ORDER BY a.id DESC LIMIT 1) AS handler \
               FROM incidents i \
               WHERE i.id IN (SELECT incident_id FROM facts) \
                 AND EXISTS (SELECT 1 FROM incident_events f \
                   WHERE f.incident_id = i.id AND f.action = 'file')), \
             scoped AS ( \
               SELECT * FROM inc \
               WHERE (",
            $district,
            " IS NULL OR district = ",
            $district,
            ") AND (",
            $street,
            " IS NULL OR street = ",
            $street,
            ") AND (",
            $department,
            " IS NULL OR department = ",
            $department,
            ")), \
             grouped AS ( \
               SELECT ",
            $key,
            " AS grp, x.kind, x.secs FROM facts x JOIN scoped i ON i.id = x.incident_id) "
        )
    };
}

/// What the rows of an evaluation are grouped by.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum EvaluationGroup {
    /// 部门: the department the incident was last dispatched to.
    Department,
    /// 区县: the incident's district.
    District,
    /// 街道: the incident's street.
    Street,
    /// 岗位: the person (or `system`, `rule:<name>`) whose event it is.
    Post,
    /// 全市: one row for everything in scope (its group is empty).
    City,
}

impl EvaluationGroup {
    pub const ALL: [EvaluationGroup; 5] = [
        Self::Department,
        Self::District,
        Self::Street,
        Self::Post,
        Self::City,
    ];

    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Department => "department",
            Self::District => "district",
            Self::Street => "street",
            Self::Post => "post",
            Self::City => "city",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|g| g.as_str() == s)
    }
}

/// Which incidents an evaluation counts; every condition given holds. The default counts
/// all of them (the city center's view).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct EvaluationScope {
    /// Only incidents in this district (a district center's view).
    pub district: Option<String>,
    /// Only incidents in this street (a street center's view).
    pub street: Option<String>,
    /// Only incidents last dispatched to this department (its staff's view).
    pub department: Option<String>,
}

/// One group's figures for a period `[from, to)`. `docs/evaluation.md` defines each.
#[derive(Clone, Debug, Default, PartialEq, Serialize, utoipa::ToSchema)]
pub struct EvaluationRow {
    /// The department, district, street or actor; `None` for incidents never dispatched
    /// (by department), without a district or street, or never acknowledged (by post).
    pub group: Option<String>,
    /// 立案数: `file` events in the period.
    pub filed: i64,
    /// 应结案数: filed incidents closed in the period, or still open with their current
    /// due time in it.
    pub due: i64,
    /// 结案数: closes (close, force_close, a rule's auto-close) of filed incidents in the
    /// period.
    pub closed: i64,
    /// 按期结案数: those closes that were not past a time limit.
    pub closed_on_time: i64,
    /// 返工数: `rework` events in the period.
    pub rework: i64,
    /// 延期数: `grant_extension` events in the period.
    pub extended: i64,
    /// 超期数: incidents due in the period that ran past their time limit.
    pub overdue: i64,
    /// 缓办数: incidents due in the period that are suspended (挂账).
    pub suspended: i64,
    /// 结案率 = closed / (due − suspended); `None` when that is 0, and by post.
    pub closure_rate: Option<f64>,
    /// 按期结案率 = closed_on_time / (due − suspended); `None` when that is 0, and by post.
    pub on_time_rate: Option<f64>,
    /// 返工率 = rework / closed; `None` when nothing closed, and by post.
    pub rework_rate: Option<f64>,
    /// Mean seconds from a dispatch to its acknowledgement (签收), over the
    /// acknowledgements in the period.
    pub acknowledge_mean_secs: Option<f64>,
    /// 90th percentile of the same (linear interpolation, as `percentile_cont(0.9)`).
    pub acknowledge_p90_secs: Option<f64>,
    /// Mean seconds from filing (立案) to closing, over the closes in the period.
    pub close_mean_secs: Option<f64>,
    /// 90th percentile of the same.
    pub close_p90_secs: Option<f64>,
}

impl EvaluationRow {
    /// Fills in the three rates from the counts. By post they stay `None`: the counts of a
    /// person come from different steps (a dispatcher closes what a department handled),
    /// so their ratios would mean nothing.
    pub fn with_rates(mut self, by: EvaluationGroup) -> Self {
        if by == EvaluationGroup::Post {
            return self;
        }
        let ratio = |n: i64, d: i64| (d > 0).then(|| n as f64 / d as f64);
        let expected = self.due - self.suspended;
        self.closure_rate = ratio(self.closed, expected);
        self.on_time_rate = ratio(self.closed_on_time, expected);
        self.rework_rate = ratio(self.rework, self.closed);
        self
    }
}

/// Orders rows by group, byte-wise, the rows without a group last: the same order from
/// both backends, whatever the database's collation.
pub(crate) fn sort_rows(rows: &mut [EvaluationRow]) {
    rows.sort_by(|a, b| match (&a.group, &b.group) {
        (Some(x), Some(y)) => x.as_bytes().cmp(y.as_bytes()),
        (Some(_), None) => std::cmp::Ordering::Less,
        (None, Some(_)) => std::cmp::Ordering::Greater,
        (None, None) => std::cmp::Ordering::Equal,
    });
}

/// The 90th percentile of `sorted` (ascending) the way PostgreSQL's
/// `percentile_cont(0.9)` computes it: the value at position 0.9 × (n − 1), interpolated
/// linearly between its neighbours. `None` for no values.
pub(crate) fn p90(sorted: &[f64]) -> Option<f64> {
    let last = sorted.len().checked_sub(1)?;
    let pos = 0.9 * last as f64;
    let lo = pos.floor() as usize;
    let hi = pos.ceil() as usize;
    let (a, b) = (sorted[lo], sorted[hi.min(last)]);
    Some(a + (pos - lo as f64) * (b - a))
}

/// Evaluation (综合评价, `docs/evaluation.md`).
#[async_trait::async_trait]
pub trait EvaluationStore: Send + Sync {
    /// The evaluation figures of the period `[from, to)` per `by` group, of the incidents
    /// `scope` allows, rows ordered by group (byte-wise, the row without a group last).
    /// Incidents still open are judged as they stand now, so `to` should not lie in the
    /// future: an open incident due in the period counts as overdue.
    async fn evaluation(
        &self,
        from: Timestamp,
        to: Timestamp,
        by: EvaluationGroup,
        scope: &EvaluationScope,
    ) -> StoreResult<Vec<EvaluationRow>>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn p90_interpolates_like_percentile_cont() {
        assert_eq!(p90(&[]), None);
        assert_eq!(p90(&[7.0]), Some(7.0));
        // n = 2: position 0.9 between 10 and 20.
        assert!((p90(&[10.0, 20.0]).unwrap() - 19.0).abs() < 1e-9);
        // n = 11: position 9 exactly.
        let v: Vec<f64> = (0..11).map(f64::from).collect();
        assert_eq!(p90(&v), Some(9.0));
        // n = 4: position 2.7 between 30 and 40.
        assert!((p90(&[10.0, 20.0, 30.0, 40.0]).unwrap() - 37.0).abs() < 1e-9);
    }

    #[test]
    fn rates_are_none_without_a_denominator_and_by_post() {
        let row = EvaluationRow {
            due: 4,
            suspended: 1,
            closed: 2,
            closed_on_time: 1,
            rework: 1,
            ..Default::default()
        };
        let r = row.clone().with_rates(EvaluationGroup::District);
        assert_eq!(r.closure_rate, Some(2.0 / 3.0));
        assert_eq!(r.on_time_rate, Some(1.0 / 3.0));
        assert_eq!(r.rework_rate, Some(0.5));
        let p = row.with_rates(EvaluationGroup::Post);
        assert_eq!((p.closure_rate, p.rework_rate), (None, None));
        let empty = EvaluationRow::default().with_rates(EvaluationGroup::Street);
        assert_eq!(
            (empty.closure_rate, empty.on_time_rate, empty.rework_rate),
            (None, None, None)
        );
    }

    #[test]
    fn groups_parse_and_sort_with_none_last() {
        for g in EvaluationGroup::ALL {
            assert_eq!(EvaluationGroup::parse(g.as_str()), Some(g));
        }
        assert_eq!(EvaluationGroup::parse("Department"), None);
        let row = |g: Option<&str>| EvaluationRow {
            group: g.map(str::to_owned),
            ..Default::default()
        };
        let mut rows = vec![row(None), row(Some("b")), row(Some("B")), row(Some("a"))];
        sort_rows(&mut rows);
        let groups: Vec<_> = rows.iter().map(|r| r.group.as_deref()).collect();
        assert_eq!(groups, vec![Some("B"), Some("a"), Some("b"), None]);
    }
}
