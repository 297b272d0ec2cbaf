//! `GET /api/v1/indicators` (the vital signs as they stand, with the last hour) and
//! `GET /api/v1/indicators/{id}/history` (one-minute values, or coarser steps), scoped to the
//! user's jurisdiction (`indicators::view`). Definitions: `docs/indicators.md`.

use super::AppState;
use super::error::ApiError;
use super::evaluation::time;
use crate::auth::Authenticated;
use crate::indicators::compile::Source;
use crate::indicators::view::{home_scope, may_see_scope, scoped};
use crate::indicators::{Current, ScopeValue};
use crate::model::Timestamp;
use axum::Json;
use axum::extract::{Path, Query, State};
use serde::{Deserialize, Serialize};

const MINUTE_US: i64 = 60 * 1_000_000;
/// At most this many points per history answer.
const MAX_POINTS: i64 = 1_440;
/// Steps a history may be asked in, minutes.
const STEPS: [i64; 6] = [1, 5, 15, 60, 360, 1440];

#[derive(Serialize, utoipa::ToSchema)]
pub struct TrendPoint {
    pub minute: Timestamp,
    pub value: Option<f64>,
}

/// One indicator with its definition's names, as the user may see it.
#[derive(Serialize, utoipa::ToSchema)]
pub struct IndicatorView {
    pub id: String,
    pub name: String,
    pub name_en: String,
    pub sector: String,
    pub sector_name: String,
    pub sector_name_en: String,
    pub unit: String,
    pub description: Option<String>,
    /// readings, devices or incidents.
    pub source: &'static str,
    /// The scope of `value`: `""` the city, else the user's district or street.
    pub scope: String,
    pub time: Timestamp,
    pub value: Option<f64>,
    pub level: String,
    /// `value` minus the value an hour ago (the oldest of `trend`).
    pub change_1h: Option<f64>,
    /// Rising, falling or steady over the last hour; `null` without an hour's values.
    pub direction: Option<&'static str>,
    /// One-minute values of the last hour, oldest first.
    pub trend: Vec<TrendPoint>,
    pub breakdown: Vec<ScopeValue>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct SectorView {
    pub code: String,
    pub name: String,
    pub name_en: String,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct IndicatorsAnswer {
    pub sectors: Vec<SectorView>,
    pub indicators: Vec<IndicatorView>,
}

/// `GET /api/v1/indicators`.
pub async fn list(
    State(s): State<AppState>,
    Authenticated(actor): Authenticated,
) -> Result<Json<IndicatorsAnswer>, ApiError> {
    let home = home_scope(&actor).ok_or_else(|| {
        ApiError::Forbidden(format!(
            "a {} does not read the vital signs; its incidents carry what it needs",
            actor.role.as_str()
        ))
    })?;
    let board = s.indicators.borrow().clone();
    let mut out = Vec::new();
    for c in &board.current {
        let (Some(def), Some(view)) = (board.set.get(&c.id), scoped(c, &actor)) else {
            continue;
        };
        let sector = board.set.sector(&def.sector);
        let trend: Vec<TrendPoint> = board
            .trends
            .get(&(c.id.clone(), home.clone()))
            .map(|t| {
                t.iter()
                    .map(|(minute, value)| TrendPoint {
                        minute: *minute,
                        value: *value,
                    })
                    .collect()
            })
            .unwrap_or_default();
        let hour_ago = trend.iter().find_map(|p| p.value);
        let change_1h = view.value.zip(hour_ago).map(|(now, then)| now - then);
        let direction = change_1h.map(|d| {
            let scale = view.value.unwrap_or(0.0).abs().max(1.0);
            if d.abs() <= 0.01 * scale {
                "steady"
            } else if d > 0.0 {
                "rising"
            } else {
                "falling"
            }
        });
        out.push(IndicatorView {
            id: c.id.clone(),
            name: def.name.clone(),
            name_en: def.name_en.clone(),
            sector: def.sector.clone(),
            sector_name: sector.map(|s| s.name.clone()).unwrap_or_default(),
            sector_name_en: sector.map(|s| s.name_en.clone()).unwrap_or_default(),
            unit: def.unit.clone(),
            description: def.description.clone(),
            source: match def.source {
                Source::Readings { .. } => "readings",
                Source::Devices { .. } => "devices",
                Source::Incidents { .. } => "incidents",
            },
            scope: home.clone(),
            time: view.time,
            value: view.value,
            level: view.level,
            change_1h,
            direction,
            trend,
            breakdown: view.breakdown,
        });
    }
    Ok(Json(IndicatorsAnswer {
        sectors: board
            .set
            .sectors
            .iter()
            .map(|s| SectorView {
                code: s.code.clone(),
                name: s.name.clone(),
                name_en: s.name_en.clone(),
            })
            .collect(),
        indicators: out,
    }))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HistoryQuery {
    from: Option<String>,
    to: Option<String>,
    /// Minutes per point: 1, 5, 15, 60, 360 or 1440.
    step: Option<i64>,
    /// `""` (default for the city's roles), `district:<code>` or `street:<code>`.
    scope: Option<String>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct HistoryPoint {
    /// The start of the step.
    pub minute: Timestamp,
    /// The last value in the step.
    pub value: Option<f64>,
    pub max: Option<f64>,
    pub min: Option<f64>,
    /// The worst level in the step.
    pub level: String,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct HistoryAnswer {
    pub id: String,
    pub scope: String,
    pub step: i64,
    pub points: Vec<HistoryPoint>,
}

/// Worst first, so the smallest rank is the worst level.
fn rank(level: &str) -> u8 {
    match level {
        "red" => 0,
        "orange" => 1,
        "yellow" => 2,
        "blue" => 3,
        _ => 4,
    }
}

/// `GET /api/v1/indicators/{id}/history?from=&to=&step=&scope=`: `[from, to)`, default the
/// last 24 hours, step 1 minute; at most 1 440 points.
pub async fn history(
    State(s): State<AppState>,
    Authenticated(actor): Authenticated,
    Path(id): Path<String>,
    Query(q): Query<HistoryQuery>,
) -> Result<Json<HistoryAnswer>, ApiError> {
    let home = home_scope(&actor).ok_or_else(|| {
        ApiError::Forbidden(format!(
            "a {} does not read the vital signs",
            actor.role.as_str()
        ))
    })?;
    let board = s.indicators.borrow().clone();
    let current: &Current = board
        .current
        .iter()
        .find(|c| c.id == id)
        .ok_or_else(|| ApiError::NotFound(format!("no indicator {id:?}")))?;
    let scope = q.scope.unwrap_or(home);
    if !may_see_scope(&actor, current, &scope) {
        return Err(ApiError::NotFound(format!(
            "indicator {id:?} has no scope {scope:?} you may read"
        )));
    }
    let step = q.step.unwrap_or(1);
    if !STEPS.contains(&step) {
        return Err(ApiError::BadRequest(format!(
            "step: expected one of {STEPS:?} minutes, got {step}"
        )));
    }
    let now = s.clock.now();
    let to = match q.to.as_deref() {
        Some(v) => time("to", Some(v))?,
        None => now.saturating_add_micros(1),
    };
    let from = match q.from.as_deref() {
        Some(v) => time("from", Some(v))?,
        None => to.saturating_add_micros(-24 * 60 * MINUTE_US),
    };
    if from >= to {
        return Err(ApiError::BadRequest("from must be before to".into()));
    }
    let step_us = step * MINUTE_US;
    let span = to.micros() - from.micros();
    let points = (span + step_us - 1) / step_us;
    if points > MAX_POINTS {
        return Err(ApiError::BadRequest(format!(
            "{points} points of {step} min: at most {MAX_POINTS}; ask a larger step or a shorter period"
        )));
    }
    let limit = u32::try_from(points * step).unwrap_or(u32::MAX);
    let samples = s
        .store
        .indicator_samples(&id, &scope, from, to, limit)
        .await?;
    let mut out: Vec<HistoryPoint> = Vec::new();
    for x in samples {
        let start =
            from.micros() + (x.minute.micros() - from.micros()).div_euclid(step_us) * step_us;
        let start = Timestamp::from_micros(start);
        let point = match out.last_mut() {
            Some(p) if p.minute == start => p,
            _ => {
                out.push(HistoryPoint {
                    minute: start,
                    value: None,
                    max: None,
                    min: None,
                    level: "normal".into(),
                });
                out.last_mut().expect("just pushed")
            }
        };
        point.value = x.value;
        if let Some(v) = x.value {
            point.max = Some(point.max.map_or(v, |m| m.max(v)));
            point.min = Some(point.min.map_or(v, |m| m.min(v)));
        }
        if rank(&x.level) < rank(&point.level) {
            point.level = x.level;
        }
    }
    Ok(Json(HistoryAnswer {
        id,
        scope,
        step,
        points: out,
    }))
}
