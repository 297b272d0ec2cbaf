//! The indicator file as written (`rules/indicators.toml`, guide in `docs/indicators.md`):
//! what it deserializes into before `compile.rs` checks it. Every table denies unknown keys,
//! so a typo is an error with its line.

use crate::rules::def::{Num, OneOrMany, Selector};
use serde::Deserialize;
use toml::Spanned;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IndicatorFile {
    #[serde(default)]
    pub sector: Vec<Spanned<SectorDef>>,
    #[serde(default)]
    pub indicator: Vec<Spanned<IndicatorDef>>,
}

/// A sector (领域) the indicators are grouped by, in display order.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SectorDef {
    pub code: String,
    pub name: String,
    pub name_en: String,
}

/// What an indicator is computed from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum From {
    /// The latest readings of a set of sensors.
    Readings,
    /// Whether a set of sensors is reporting (device health).
    Devices,
    /// The incidents and the closed loop.
    Incidents,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IndicatorDef {
    pub id: String,
    pub name: String,
    pub name_en: String,
    pub sector: String,
    pub unit: String,
    pub description: Option<String>,
    pub from: From,
    /// `readings`, `devices`: which sensors.
    pub sensors: Option<Selector>,
    /// `readings`: the metric aggregated.
    pub metric: Option<String>,
    /// `readings`: max, min, mean, p95, count_above, count_below, share_above, share_below.
    pub aggregate: Option<String>,
    /// `count_above`, `share_above`: the threshold.
    pub above: Option<Num>,
    /// `count_below`, `share_below`: the threshold.
    pub below: Option<Num>,
    /// `readings`, `devices`: a reading older than this does not count (default 15m).
    pub window: Option<String>,
    /// `incidents`: open, overdue, new_today, on_time_rate, closure_rate, ack_mean.
    pub measure: Option<String>,
    /// `incidents`: only these categories.
    pub categories: Option<OneOrMany>,
    /// `incidents`: only these severities.
    pub severities: Option<OneOrMany>,
    /// `incidents` rates and means: `day` (since local midnight, default) or `month`.
    pub period: Option<String>,
    pub levels: LevelsDef,
    /// none, district (default), street.
    pub breakdown: Option<String>,
    pub alarm: Option<AlarmDef>,
}

/// The thresholds of the four levels (each optional) and the hysteresis.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LevelsDef {
    /// `higher` (default): a larger value is worse; `lower`: a smaller one is.
    pub worse: Option<String>,
    pub blue: Option<Num>,
    pub yellow: Option<Num>,
    pub orange: Option<Num>,
    pub red: Option<Num>,
    /// How far back past a level's threshold the value must go to leave the level.
    pub hysteresis: Option<Num>,
}

/// The indicator's own closed loop: from this level on it raises an incident.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlarmDef {
    pub category: String,
    /// The lowest level that raises it: orange (default) or red, or yellow, blue.
    pub from: Option<String>,
}
