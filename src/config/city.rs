//! The city and how its incidents are worked: `[city]` (where the city is), `[rules]`
//! (the rule files and their timers), `[indicators]` (the vital signs' pace and history) and
//! `[desk]` (the dispatch desk's pace).

use serde::{Deserialize, Serialize};
use std::path::PathBuf;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CityConfig {
    /// Directory holding the city in the format of `docs/city-format.md`.
    pub dir: PathBuf,
}

impl Default for CityConfig {
    fn default() -> Self {
        Self {
            dir: PathBuf::from("city/demo"),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RulesConfig {
    /// Directory of the rule files (`*.rules.toml`) and the city's settings
    /// (`settings.toml`); see docs/rules.md.
    pub dir: PathBuf,
    /// How far behind its sensor's newest reading a reading may arrive and still count
    /// (as history: rate windows, evidence). Later ones are counted and dropped.
    pub lateness_ms: u64,
    /// How often the timers run (`for:`, grace periods, absence), in milliseconds.
    pub tick_ms: u64,
}

impl Default for RulesConfig {
    fn default() -> Self {
        Self {
            dir: PathBuf::from("rules"),
            lateness_ms: 30_000,
            tick_ms: 1000,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DeskConfig {
    /// How often the dispatch desk looks for incidents to file and dispatch by itself
    /// and for overdue ones to escalate (督办), in seconds. New incidents wake it at once.
    pub scan_secs: u64,
    /// After an overdue incident is escalated, the next reminder (and escalation level)
    /// comes this many minutes later while nobody moves it.
    pub reminder_minutes: u64,
}

impl Default for DeskConfig {
    fn default() -> Self {
        Self {
            scan_secs: 10,
            reminder_minutes: 60,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct IndicatorsConfig {
    /// How often the vital signs are recomputed (at most; an indicator whose sensors did
    /// not report and whose window did not move is not), in milliseconds.
    pub tick_ms: u64,
    /// How often the closed loop's figures are read from the store for the loop's
    /// indicators (open, overdue, on-time rate ...), in milliseconds.
    pub loop_refresh_ms: u64,
    /// One-minute values older than this many days are deleted.
    pub retention_days: u32,
}

impl Default for IndicatorsConfig {
    fn default() -> Self {
        Self {
            tick_ms: 1000,
            loop_refresh_ms: 10_000,
            retention_days: 30,
        }
    }
}
