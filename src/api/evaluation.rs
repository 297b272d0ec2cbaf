//! `GET /api/v1/evaluation?from=&to=&by=&format=`: the evaluation figures (综合评价) of a
//! period per department, district, street or post, as JSON or as a CSV file for Excel.
//! What each figure means is in `docs/evaluation.md`; the store computes them.
//!
//! Who sees what: the center (duty officers, dispatchers) and admins see their level's
//! area: the whole city, or only the incidents of their district (or street). Department
//! staff see only the incidents last dispatched to their department. Nobody else.

use super::{ApiError, AppState};
use crate::auth::Authenticated;
use crate::model::{Actor, Role, Timestamp};
use crate::store::{EvaluationGroup, EvaluationRow, EvaluationScope};
use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::json;
use std::fmt::Write as _;

/// The longest period one request may cover: three years, one leap day included.
const MAX_PERIOD_DAYS: i64 = 3 * 365 + 1;
const DAY_MICROS: i64 = 86_400 * 1_000_000;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EvaluationQuery {
    from: Option<String>,
    to: Option<String>,
    by: Option<String>,
    format: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    Json,
    Csv,
}

/// A request's parameters, checked.
#[derive(Debug, PartialEq)]
struct Params {
    from: Timestamp,
    /// The end of the period, or now if the period has not ended yet.
    to: Timestamp,
    by: EvaluationGroup,
    format: Format,
}

pub async fn evaluation(
    State(s): State<AppState>,
    Authenticated(actor): Authenticated,
    query: Result<Query<EvaluationQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    let scope = scope_of(&actor)?;
    let Query(q) = query.map_err(|e| ApiError::BadRequest(e.body_text()))?;
    let p = params(&q, s.clock.now())?;
    let rows = s.store.evaluation(p.from, p.to, p.by, &scope).await?;
    Ok(match p.format {
        Format::Json => Json(json!({
            "from": p.from,
            "to": p.to,
            "by": p.by.as_str(),
            "rows": rows,
        }))
        .into_response(),
        Format::Csv => {
            let name = format!(
                "attachment; filename=\"evaluation-{}-{}-{}.csv\"",
                p.by.as_str(),
                day(p.from),
                day(p.to)
            );
            (
                [
                    (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()),
                    (header::CONTENT_DISPOSITION, name),
                ],
                csv(p.by, &rows),
            )
                .into_response()
        }
    })
}

/// Which incidents `actor` may evaluate; 403 for roles that see no evaluation.
fn scope_of(actor: &Actor) -> Result<EvaluationScope, ApiError> {
    match actor.role {
        Role::Admin | Role::DutyOfficer | Role::Dispatcher => Ok(EvaluationScope {
            district: actor.district.clone(),
            street: actor.street.clone(),
            department: None,
        }),
        Role::Department => match &actor.department {
            Some(d) => Ok(EvaluationScope {
                department: Some(d.clone()),
                ..Default::default()
            }),
            None => Err(ApiError::Forbidden(
                "department staff without a department see no evaluation".into(),
            )),
        },
        Role::GridWorker | Role::Engineer | Role::Wall | Role::System => {
            Err(ApiError::Forbidden(format!(
                "a {} may not read the evaluation figures",
                actor.role.as_str()
            )))
        }
    }
}

fn params(q: &EvaluationQuery, now: Timestamp) -> Result<Params, ApiError> {
    let bad = |m: String| ApiError::BadRequest(m);
    let from = time("from", q.from.as_deref())?;
    let to = time("to", q.to.as_deref())?;
    if from >= to {
        return Err(bad(format!("from ({from}) must be before to ({to})")));
    }
    if to.micros().saturating_sub(from.micros()) > MAX_PERIOD_DAYS * DAY_MICROS {
        return Err(bad(format!(
            "the period from {from} to {to} is longer than three years ({MAX_PERIOD_DAYS} days)"
        )));
    }
    if from >= now {
        return Err(bad(format!("the period starting {from} has not begun yet")));
    }
    let by = match q.by.as_deref() {
        None => EvaluationGroup::Department,
        Some(b) => EvaluationGroup::parse(b).ok_or_else(|| {
            bad(format!(
                "by: expected department, district, street, post or city, got {b:?}"
            ))
        })?,
    };
    let format = match q.format.as_deref() {
        None | Some("json") => Format::Json,
        Some("csv") => Format::Csv,
        Some(f) => return Err(bad(format!("format: expected json or csv, got {f:?}"))),
    };
    Ok(Params {
        from,
        // Open incidents are judged as they stand now: a period that has not ended is
        // evaluated up to now.
        to: to.min(now),
        by,
        format,
    })
}

/// An RFC 3339 time. A `+` of the offset that arrives as a space (an unencoded `+` in
/// the query string) is taken as the `+` it was meant to be.
pub(super) fn time(name: &str, v: Option<&str>) -> Result<Timestamp, ApiError> {
    let v = v.ok_or_else(|| {
        ApiError::BadRequest(format!(
            "{name} is required: an RFC 3339 time such as 2026-01-01T00:00:00+08:00"
        ))
    })?;
    Timestamp::parse_rfc3339(v)
        .or_else(|| {
            let (head, tail) = v.rsplit_once(' ')?;
            Timestamp::parse_rfc3339(&format!("{head}+{tail}"))
        })
        .ok_or_else(|| {
            ApiError::BadRequest(format!(
                "{name}: expected an RFC 3339 time such as 2026-01-01T00:00:00+08:00, got {v:?}"
            ))
        })
}

/// `20260101`: the UTC day of `t`, for file names.
fn day(t: Timestamp) -> String {
    t.to_chrono().map_or_else(
        || t.micros().to_string(),
        |c| c.format("%Y%m%d").to_string(),
    )
}

/// The CSV header: the Chinese name of each figure, then its JSON field name.
fn header_row(by: EvaluationGroup) -> [&'static str; 16] {
    [
        match by {
            EvaluationGroup::Department => "部门 department",
            EvaluationGroup::District => "区县 district",
            EvaluationGroup::Street => "街道 street",
            EvaluationGroup::Post => "岗位 post",
            EvaluationGroup::City => "全市 city",
        },
        "立案数 filed",
        "应结案数 due",
        "结案数 closed",
        "按期结案数 closed_on_time",
        "返工数 rework",
        "延期数 extended",
        "超期数 overdue",
        "缓办数 suspended",
        "结案率 closure_rate",
        "按期结案率 on_time_rate",
        "返工率 rework_rate",
        "平均签收时长(秒) acknowledge_mean_secs",
        "签收时长P90(秒) acknowledge_p90_secs",
        "平均结案时长(秒) close_mean_secs",
        "结案时长P90(秒) close_p90_secs",
    ]
}

/// The rows as CSV (RFC 4180, CRLF), UTF-8 with a byte-order mark so that Excel reads the
/// Chinese header as UTF-8. Rates have four decimals, seconds one; a figure without a
/// value (a rate without a denominator, a mean of nothing) is an empty cell.
fn csv(by: EvaluationGroup, rows: &[EvaluationRow]) -> String {
    let mut out = String::from("\u{feff}");
    out.push_str(&header_row(by).join(","));
    out.push_str("\r\n");
    let rate = |v: Option<f64>| v.map_or_else(String::new, |v| format!("{v:.4}"));
    let secs = |v: Option<f64>| v.map_or_else(String::new, |v| format!("{v:.1}"));
    for r in rows {
        let _ = write!(
            out,
            "{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{}\r\n",
            cell(r.group.as_deref().unwrap_or("")),
            r.filed,
            r.due,
            r.closed,
            r.closed_on_time,
            r.rework,
            r.extended,
            r.overdue,
            r.suspended,
            rate(r.closure_rate),
            rate(r.on_time_rate),
            rate(r.rework_rate),
            secs(r.acknowledge_mean_secs),
            secs(r.acknowledge_p90_secs),
            secs(r.close_mean_secs),
            secs(r.close_p90_secs),
        );
    }
    out
}

/// A text cell: quoted when it holds a comma, quote or line break; a leading `=`, `+`,
/// `-`, `@` or tab gets a `'` first, so Excel shows it instead of running it as a formula.
fn cell(text: &str) -> String {
    let guarded = if text.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{text}")
    } else {
        text.to_owned()
    };
    if guarded.contains([',', '"', '\r', '\n']) {
        format!("\"{}\"", guarded.replace('"', "\"\""))
    } else {
        guarded
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: &str = "2026-03-15T12:00:00+08:00";

    fn q(from: Option<&str>, to: Option<&str>, by: Option<&str>) -> EvaluationQuery {
        EvaluationQuery {
            from: from.map(str::to_owned),
            to: to.map(str::to_owned),
            by: by.map(str::to_owned),
            format: None,
        }
    }

    fn message(r: Result<Params, ApiError>) -> String {
        match r {
            Err(ApiError::BadRequest(m)) => m,
            other => panic!("expected a 400, got {other:?}"),
        }
    }

    #[test]
    fn parameters_are_checked() {
        let now = Timestamp::parse_rfc3339(NOW).unwrap();
        let jan = Some("2026-01-01T00:00:00+08:00");
        let feb = Some("2026-02-01T00:00:00+08:00");
        let p = params(&q(jan, feb, Some("street")), now).unwrap();
        assert_eq!(p.by, EvaluationGroup::Street);
        assert_eq!(p.format, Format::Json);
        // A `+` sent unencoded arrives as a space.
        let p = params(&q(Some("2026-01-01T00:00:00 08:00"), feb, None), now).unwrap();
        assert_eq!(
            p.from,
            Timestamp::parse_rfc3339("2026-01-01T00:00:00+08:00").unwrap()
        );
        assert_eq!(p.by, EvaluationGroup::Department);
        // A period not yet over ends now.
        let p = params(&q(jan, Some("2026-04-01T00:00:00+08:00"), None), now).unwrap();
        assert_eq!(p.to, now);

        assert!(message(params(&q(None, feb, None), now)).contains("from is required"));
        assert!(message(params(&q(jan, None, None), now)).contains("to is required"));
        assert!(message(params(&q(feb, jan, None), now)).contains("must be before"));
        assert!(message(params(&q(jan, jan, None), now)).contains("must be before"));
        assert!(message(params(&q(Some("yesterday"), feb, None), now)).contains("RFC 3339"));
        assert!(message(params(&q(jan, feb, Some("grid")), now)).contains("by: expected"));
        let long = Some("2029-01-02T00:00:00+08:00");
        assert!(message(params(&q(jan, long, None), now)).contains("three years"));
        let three = Some("2029-01-01T00:00:00+08:00");
        assert!(params(&q(jan, three, None), now).is_ok());
        let future = Some("2026-04-01T00:00:00+08:00");
        assert!(message(params(&q(future, long, None), now)).contains("not begun"));
        let mut csv = q(jan, feb, None);
        csv.format = Some("xlsx".into());
        assert!(message(params(&csv, now)).contains("json or csv"));
    }

    #[test]
    fn csv_has_a_bom_a_header_and_escaped_cells() {
        let rows = vec![
            EvaluationRow {
                group: Some("=cmd|x,\"y\"".into()),
                filed: 3,
                due: 2,
                closed: 1,
                closure_rate: Some(0.5),
                close_mean_secs: Some(90.0),
                ..Default::default()
            },
            EvaluationRow::default(),
        ];
        let text = csv(EvaluationGroup::Department, &rows);
        assert!(text.starts_with("\u{feff}部门 department,立案数 filed,"));
        let lines: Vec<&str> = text.trim_start_matches('\u{feff}').split("\r\n").collect();
        assert_eq!(
            lines.len(),
            4,
            "header, two rows, and the empty rest: {lines:?}"
        );
        assert_eq!(lines[0].split(',').count(), 16);
        assert_eq!(
            lines[1],
            "\"'=cmd|x,\"\"y\"\"\",3,2,1,0,0,0,0,0,0.5000,,,,,90.0,"
        );
        assert_eq!(lines[2], ",0,0,0,0,0,0,0,0,,,,,,,");
        assert_eq!(lines[3], "");
    }
}
