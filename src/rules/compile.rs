//! Checks a rule definition and turns it into the form the engine evaluates: durations
//! in microseconds, settings resolved to numbers, severities parsed, templates parsed.
//! Every problem becomes a [`RuleError`] naming the file, the line and what is wrong.

use super::check::Ctx;
use super::def::{OneOrMany, RuleDef, RuleKind};
use super::template::Template;
use crate::model::{Location, Severity};
use std::collections::HashSet;
use std::path::Path;
use std::sync::Arc;

/// A condition on a sensor's values (or rates), ready to evaluate.
#[derive(Debug, Clone, PartialEq)]
pub enum Cond {
    Above(Arc<str>, f64),
    Below(Arc<str>, f64),
    Any(Vec<Cond>),
    All(Vec<Cond>),
}

impl Cond {
    /// Evaluates against `value(metric)`; a metric with no value yet makes its
    /// comparison false.
    #[inline]
    pub fn holds(&self, value: &impl Fn(&str) -> Option<f64>) -> bool {
        match self {
            Cond::Above(m, t) => value(m).is_some_and(|v| v > *t),
            Cond::Below(m, t) => value(m).is_some_and(|v| v < *t),
            Cond::Any(c) => c.iter().any(|c| c.holds(value)),
            Cond::All(c) => c.iter().all(|c| c.holds(value)),
        }
    }

    /// Whether any comparison reads `metric`.
    pub fn reads(&self, metric: &str) -> bool {
        match self {
            Cond::Above(m, _) | Cond::Below(m, _) => &**m == metric,
            Cond::Any(c) | Cond::All(c) => c.iter().any(|c| c.reads(metric)),
        }
    }
}

/// Which sensors or cameras a rule applies to.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Sel {
    pub kind: Option<HashSet<String>>,
    pub ids: Option<HashSet<String>>,
    pub district: Option<HashSet<String>>,
    pub street: Option<HashSet<String>>,
    pub grid: Option<HashSet<String>>,
}

impl Sel {
    /// The kind the engine gives an indicator's city-wide value, and each district's.
    /// Sensor kinds cannot start with `@`, so a sensor selector never names them.
    pub const INDICATOR_CITY: &'static str = "@indicator";
    pub const INDICATOR_DISTRICT: &'static str = "@indicator/district";
    /// An indicator's one metric.
    pub const INDICATOR_METRIC: &'static str = "value";

    /// Selects indicators by id: the city's values, or each district's.
    pub fn indicators(ids: Vec<String>, by_district: bool) -> Self {
        let kind = if by_district {
            Self::INDICATOR_DISTRICT
        } else {
            Self::INDICATOR_CITY
        };
        Self {
            kind: Some(HashSet::from([kind.to_string()])),
            ids: Some(ids.into_iter().collect()),
            ..Self::default()
        }
    }

    /// Whether it selects indicators rather than sensors.
    pub fn over_indicators(&self) -> bool {
        self.kind
            .as_ref()
            .is_some_and(|k| k.iter().any(|k| k.starts_with('@')))
    }

    pub fn matches(&self, id: &str, kind: Option<&str>, at: &Location) -> bool {
        fn ok(set: &Option<HashSet<String>>, v: Option<&str>) -> bool {
            set.as_ref()
                .is_none_or(|s| v.is_some_and(|v| s.contains(v)))
        }
        ok(&self.kind, kind)
            && ok(&self.ids, Some(id))
            && ok(&self.district, at.district.as_deref())
            && ok(&self.street, at.street.as_deref())
            && ok(&self.grid, at.grid.as_deref())
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct RateSpec {
    pub window: i64,
    pub per: i64,
}

/// One evidence group of a correlation rule.
#[derive(Debug, Clone, PartialEq)]
pub enum Group {
    Sensors {
        name: String,
        sel: Sel,
        when: Cond,
    },
    Video {
        name: String,
        sel: Sel,
        events: Vec<String>,
        min_confidence: f64,
    },
}

impl Group {
    pub fn name(&self) -> &str {
        match self {
            Group::Sensors { name, .. } | Group::Video { name, .. } => name,
        }
    }
}

/// What a rule watches, by kind.
#[derive(Debug, Clone, PartialEq)]
pub enum Body {
    /// Threshold (rate `None`) and rate rules.
    Sensor {
        sensors: Sel,
        levels: Vec<(Severity, Cond)>,
        clear: Option<Cond>,
        for_: i64,
        rate: Option<RateSpec>,
    },
    Absence {
        sensors: Sel,
        after: i64,
        severity: Severity,
    },
    Video {
        cameras: Sel,
        events: Vec<String>,
        min_confidence: f64,
        count: u32,
        within: i64,
        severity: Severity,
    },
    Correlation {
        groups: Vec<Group>,
        radius_m: f64,
        within: i64,
        min_sources: u32,
        severity: Severity,
    },
}

/// A checked rule.
#[derive(Debug, Clone, PartialEq)]
pub struct Rule {
    pub name: Arc<str>,
    pub kind: RuleKind,
    pub category: Arc<str>,
    pub title: Template,
    pub description: Option<Template>,
    pub auto_close: bool,
    pub keep_firing_for: i64,
    /// No new evidence for this long clears the condition (video, correlation).
    pub clear_after: Option<i64>,
    pub suppress_for: i64,
    pub body: Body,
    /// A hash of the definition as written: a reload keeps the state of rules whose
    /// fingerprint did not change.
    pub fingerprint: u64,
    pub file: Arc<Path>,
    pub line: usize,
}

fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 100
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
}

/// Checks and compiles one rule. `None` when it has errors (pushed onto `ctx`).
pub(super) fn compile(
    ctx: &mut Ctx<'_>,
    d: &RuleDef,
    indicators: Option<&crate::indicators::IndicatorSet>,
) -> Option<Rule> {
    let before = ctx.errors.len();
    if !valid_name(&d.name) {
        ctx.err(format!(
            "name {:?}: use lower-case letters, digits, '-' and '_' (at most 100)",
            d.name
        ));
    }
    if d.category.trim().is_empty() {
        ctx.err("`category` is empty");
    }
    ctx.unused(d);
    let keep_firing_for = ctx
        .duration("keep_firing_for", &d.keep_firing_for)
        .unwrap_or(0);
    let suppress_for = ctx.duration("suppress_for", &d.suppress_for).unwrap_or(0);
    let clear_after = ctx.duration("clear_after", &d.clear_after);
    let body = match d.kind {
        RuleKind::Threshold | RuleKind::Rate => {
            let sensors = ctx.watched(d, indicators);
            let levels = ctx.levels(&sensors, &d.level);
            let clear = d.clear.as_ref().and_then(|c| ctx.cond("clear", c));
            if let Some(c) = &d.clear {
                ctx.check_metrics("clear", &sensors, c);
            }
            let for_ = ctx.duration("for", &d.for_).unwrap_or(0);
            let rate = if d.kind == RuleKind::Rate {
                let window = ctx.duration("window", &d.window);
                if d.window.is_none() {
                    ctx.err("a rate rule needs `window`");
                }
                let per = ctx.duration("per", &d.per).unwrap_or(60_000_000).max(1);
                Some(RateSpec {
                    window: window.unwrap_or(0),
                    per,
                })
            } else {
                None
            };
            Body::Sensor {
                sensors,
                levels,
                clear,
                for_,
                rate,
            }
        }
        RuleKind::Absence => {
            let sensors = ctx.selector("sensors", d.sensors.as_ref(), false);
            let after = ctx.duration("after", &d.after);
            if d.after.is_none() {
                ctx.err("an absence rule needs `after`");
            }
            let severity = ctx.severity("severity", d.severity.as_deref());
            Body::Absence {
                sensors,
                after: after.unwrap_or(0).max(1),
                severity: severity.unwrap_or(Severity::Blue),
            }
        }
        RuleKind::Video => {
            let cameras = ctx.selector("cameras", d.cameras.as_ref(), true);
            let events = d.event.as_ref().map(OneOrMany::to_vec).unwrap_or_default();
            if events.is_empty() {
                ctx.err("a video rule needs `event`");
            }
            let min_confidence = match &d.min_confidence {
                Some(n) => ctx.confidence("min_confidence", n).unwrap_or(1.0),
                None => 0.0,
            };
            let count = d.count.unwrap_or(1);
            if count == 0 {
                ctx.err("`count` must be at least 1");
            }
            let within = ctx.duration("within", &d.within);
            if count > 1 && d.within.is_none() {
                ctx.err("`count` above 1 needs `within`");
            }
            let severity = ctx.severity("severity", d.severity.as_deref());
            Body::Video {
                cameras,
                events,
                min_confidence,
                count: count.max(1),
                within: within.unwrap_or(0),
                severity: severity.unwrap_or(Severity::Blue),
            }
        }
        RuleKind::Correlation => {
            let groups: Vec<_> = d
                .source
                .iter()
                .enumerate()
                .filter_map(|(i, g)| ctx.group(i, g))
                .collect();
            if d.source.is_empty() {
                ctx.err("a correlation rule needs at least one [[rule.source]]");
            }
            let radius_m = match &d.radius_m {
                Some(n) => ctx.num("radius_m", n).unwrap_or(0.0),
                None => {
                    ctx.err("a correlation rule needs `radius_m`");
                    0.0
                }
            };
            if !(radius_m > 0.0 && radius_m <= 50_000.0) {
                ctx.err("`radius_m` must lie in (0, 50000]");
            }
            let within = ctx.duration("within", &d.within);
            if d.within.is_none() {
                ctx.err("a correlation rule needs `within`");
            }
            let min_sources = d.min_sources.unwrap_or(d.source.len() as u32);
            if (min_sources as usize) < d.source.len() {
                ctx.err("`min_sources` must be at least the number of sources");
            }
            let severity = ctx.severity("severity", d.severity.as_deref());
            Body::Correlation {
                groups,
                radius_m,
                within: within.unwrap_or(0),
                min_sources,
                severity: severity.unwrap_or(Severity::Red),
            }
        }
    };
    let over_indicators = d.indicators.is_some();
    let default_title = match d.kind {
        RuleKind::Threshold | RuleKind::Rate if over_indicators => {
            "{rule}: {indicator_name} {district} {value} ({severity})"
        }
        RuleKind::Threshold | RuleKind::Rate => {
            "{rule}: {sensor_name} {metric} {value} ({severity})"
        }
        RuleKind::Absence => "{rule}: {sensor_name} ({sensor}) silent",
        RuleKind::Video => "{rule}: {event} at {camera_name} ({camera})",
        RuleKind::Correlation => "{rule}: {sources} within {radius_m} m",
    };
    let title = match Template::parse(
        d.title.as_deref().unwrap_or(default_title),
        d.kind,
        over_indicators,
    ) {
        Ok(t) => t,
        Err(e) => {
            ctx.err(format!("`title`: {e}"));
            Template::literal("")
        }
    };
    let description = match d
        .description
        .as_deref()
        .map(|s| Template::parse(s, d.kind, over_indicators))
    {
        Some(Ok(t)) => Some(t),
        Some(Err(e)) => {
            ctx.err(format!("`description`: {e}"));
            None
        }
        None => None,
    };
    if ctx.errors.len() > before {
        return None;
    }
    Some(Rule {
        name: Arc::from(d.name.as_str()),
        kind: d.kind,
        category: Arc::from(d.category.as_str()),
        title,
        description,
        auto_close: d.auto_close.unwrap_or(d.kind == RuleKind::Absence),
        keep_firing_for,
        clear_after,
        suppress_for,
        body,
        fingerprint: fingerprint(d, &ctx.used_settings),
        file: Arc::from(ctx.file),
        line: ctx.line,
    })
}

fn fingerprint(d: &RuleDef, settings: &[(String, f64)]) -> u64 {
    // FNV-1a over the definition's JSON and the values of the settings it reads: the
    // value is saved with rule state, so it must stay the same across builds and
    // restarts (std's hasher promises neither).
    let text = serde_json::to_string(&(d, settings)).unwrap_or_default();
    text.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}
