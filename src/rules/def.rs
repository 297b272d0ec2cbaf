//! The rule file format, as written: what `rules/*.toml` deserialize into before they
//! are checked and compiled (`compile.rs`). `docs/rules.md` is the user's guide to it.
//!
//! Every table denies unknown keys, so a typo (`abvoe = 27`) is an error with its line,
//! not a rule that silently never fires.

use serde::Deserialize;
use toml::Spanned;

/// One rule file: a list of `[[rule]]` tables.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleFile {
    #[serde(default)]
    pub rule: Vec<Spanned<RuleDef>>,
}

/// What kind of evidence a rule watches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RuleKind {
    /// A sensor's latest values against graded levels.
    Threshold,
    /// A sensor metric's change per unit time over a window against graded levels.
    Rate,
    /// No data from a sensor for a duration (设备离线).
    Absence,
    /// Video-AI events at one camera: N occurrences within a window.
    Video,
    /// M distinct sources of given kinds within R metres within T.
    Correlation,
}

/// A number, or the name of a city setting (`rules/settings.toml`) that holds it.
#[derive(Debug, Clone, PartialEq, Deserialize, serde::Serialize)]
#[serde(untagged)]
pub enum Num {
    Value(f64),
    Setting(String),
}

/// One string or a list of strings (`kind = "gas"` or `kind = ["gas", "smoke"]`).
#[derive(Debug, Clone, PartialEq, Deserialize, serde::Serialize)]
#[serde(untagged)]
pub enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

impl OneOrMany {
    pub fn to_vec(&self) -> Vec<String> {
        match self {
            Self::One(s) => vec![s.clone()],
            Self::Many(v) => v.clone(),
        }
    }
}

/// Which sensors or cameras a rule applies to. Every given filter must match; a missing
/// filter matches everything.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct Selector {
    /// Sensor kinds (`gas`, `waterlogging`, ...). Not allowed for cameras.
    pub kind: Option<OneOrMany>,
    /// Sensor or camera ids.
    pub ids: Option<OneOrMany>,
    /// District codes (区县).
    pub district: Option<OneOrMany>,
    /// Street codes (街道).
    pub street: Option<OneOrMany>,
    /// Grid codes (网格).
    pub grid: Option<OneOrMany>,
}

/// A condition on a sensor's metrics: one comparison, or `any`/`all` of conditions.
/// Written as a table; exactly one of `metric`, `any`, `all` is given.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct CondDef {
    pub metric: Option<String>,
    /// True when the value is strictly above.
    pub above: Option<Num>,
    /// True when the value is strictly below.
    pub below: Option<Num>,
    pub any: Option<Vec<CondDef>>,
    pub all: Option<Vec<CondDef>>,
}

/// One graded level of a threshold or rate rule. Levels are tried most severe first;
/// the first that holds is the rule's level.
#[derive(Debug, Clone, PartialEq, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct LevelDef {
    pub severity: String,
    pub when: CondDef,
}

/// One kind of evidence a correlation rule gathers: sensors whose condition holds, or
/// video events.
#[derive(Debug, Clone, PartialEq, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct SourceDef {
    /// A name for this group, used in titles and test output.
    pub name: Option<String>,
    /// Sensors of this group (with `when`).
    pub sensors: Option<Selector>,
    pub when: Option<CondDef>,
    /// Video event types of this group (with optional `cameras`, `min_confidence`).
    pub video: Option<OneOrMany>,
    pub cameras: Option<Selector>,
    pub min_confidence: Option<Num>,
}

/// One `[[rule]]` table. Which keys are allowed depends on `kind`; `compile.rs` checks.
#[derive(Debug, Clone, PartialEq, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct RuleDef {
    /// Unique across the rule set: lower-case letters, digits, `-` and `_`.
    pub name: String,
    pub kind: RuleKind,
    /// The incident category it raises (a code of the category catalog).
    pub category: String,
    /// Incident title; `{placeholders}` are filled in (see docs/rules.md).
    pub title: Option<String>,
    pub description: Option<String>,
    /// Set false to keep a rule in the file without evaluating it.
    #[serde(default = "yes")]
    pub enabled: bool,

    /// Which sensors (threshold, rate, absence) it watches.
    pub sensors: Option<Selector>,
    /// Instead of sensors: the vital signs (ids of `indicators.toml`) a threshold or rate
    /// rule watches; their one metric is `value`.
    pub indicators: Option<OneOrMany>,
    /// With `indicators`: `city` (default) watches the city's value, one incident for the
    /// city; `district` each district's, one incident per district.
    pub by: Option<String>,
    /// Which cameras (video) it watches.
    pub cameras: Option<Selector>,

    /// Graded levels (threshold, rate).
    #[serde(default)]
    pub level: Vec<LevelDef>,
    /// Hysteresis: once firing, it stops only when this holds (threshold, rate).
    /// Without it, it stops when no level holds.
    pub clear: Option<CondDef>,
    /// The condition must hold this long before the rule fires (threshold, rate).
    #[serde(rename = "for")]
    pub for_: Option<String>,
    /// Keep firing this long after the condition stops holding, so a flapping sensor
    /// does not open and clear incidents in a loop.
    pub keep_firing_for: Option<String>,
    /// Close the incident when the condition clears (default: true for absence,
    /// false otherwise: a gas leak still needs verification).
    pub auto_close: Option<bool>,

    /// The window over which a rate is measured (rate).
    pub window: Option<String>,
    /// The rate's time unit (rate; default 1m): `above = 5` with `per = "1m"` is 5 units
    /// a minute.
    pub per: Option<String>,

    /// Silence needed to fire (absence).
    pub after: Option<String>,

    /// Fixed severity (absence, video, correlation).
    pub severity: Option<String>,

    /// Video event types (video).
    pub event: Option<OneOrMany>,
    pub min_confidence: Option<Num>,
    /// Occurrences needed within `within` (video; default 1).
    pub count: Option<u32>,
    /// The window for `count` (video) or for gathering sources (correlation).
    pub within: Option<String>,
    /// With no new evidence for this long the condition counts as cleared (video,
    /// correlation; default: never, the incident waits for people).
    pub clear_after: Option<String>,
    /// After the condition cleared, the same key does not fire again for this long.
    pub suppress_for: Option<String>,

    /// Evidence groups (correlation).
    #[serde(default)]
    pub source: Vec<SourceDef>,
    /// Radius within which sources count together (correlation), in metres.
    pub radius_m: Option<Num>,
    /// Distinct sources needed (correlation; default: one per group).
    pub min_sources: Option<u32>,
}

fn yes() -> bool {
    true
}
