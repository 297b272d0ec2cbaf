//! Checks the indicator file and turns it into [`IndicatorSet`]: thresholds resolved from
//! the city's settings, windows in microseconds, selectors checked against the city. Every
//! problem is a [`RuleError`] with the file, the line and what is wrong, like the rules'.

use super::def::{self, IndicatorDef, IndicatorFile};
pub use super::levels::Levels;
use crate::model::Severity;
use crate::rules::check::Ctx;
use crate::rules::compile::Sel;
use crate::rules::load::line_of;
use crate::rules::{RuleError, Settings};
use crate::spatial::City;
use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The file an indicator set is read from, beside the rules.
pub const FILE: &str = "indicators.toml";

/// At most this many indicators in a file.
const MAX_INDICATORS: usize = 10_000;

/// A reading older than this does not count, unless the indicator says otherwise.
const DEFAULT_WINDOW_US: i64 = 15 * 60 * 1_000_000;

#[derive(Debug, Clone, PartialEq)]
pub struct Sector {
    pub code: String,
    pub name: String,
    pub name_en: String,
}

/// How the latest values of a set of sensors become one number.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Aggregate {
    Max,
    Min,
    Mean,
    P95,
    CountAbove(f64),
    CountBelow(f64),
    /// Percent of the reporting sensors.
    ShareAbove(f64),
    ShareBelow(f64),
}

/// What of the closed loop an incident indicator counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Measure {
    /// Incidents not final.
    Open,
    /// Open and past their time limit.
    Overdue,
    /// Opened since local midnight.
    NewToday,
    /// 按期结案率, percent (`docs/evaluation.md`).
    OnTimeRate,
    /// 结案率, percent.
    ClosureRate,
    /// 平均签收时长, minutes.
    AckMean,
}

impl Measure {
    /// Whether it comes from the evaluation (a period) rather than the tallies.
    pub fn evaluated(self) -> bool {
        matches!(self, Self::OnTimeRate | Self::ClosureRate | Self::AckMean)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Period {
    Day,
    Month,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Source {
    Readings {
        sensors: Sel,
        metric: Arc<str>,
        aggregate: Aggregate,
        window: i64,
    },
    Devices {
        sensors: Sel,
        window: i64,
    },
    Incidents {
        measure: Measure,
        categories: Option<HashSet<String>>,
        severities: Option<HashSet<Severity>>,
        period: Period,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Breakdown {
    None,
    District,
    Street,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Alarm {
    pub category: String,
    pub from: Severity,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Indicator {
    pub id: Arc<str>,
    pub name: String,
    pub name_en: String,
    pub sector: String,
    pub unit: String,
    pub description: Option<String>,
    pub source: Source,
    pub levels: Levels,
    pub breakdown: Breakdown,
    pub alarm: Option<Alarm>,
}

/// A checked indicator file.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct IndicatorSet {
    pub sectors: Vec<Sector>,
    pub indicators: Vec<Arc<Indicator>>,
}

impl IndicatorSet {
    pub fn get(&self, id: &str) -> Option<&Arc<Indicator>> {
        self.indicators.iter().find(|i| &*i.id == id)
    }

    pub fn sector(&self, code: &str) -> Option<&Sector> {
        self.sectors.iter().find(|s| s.code == code)
    }
}

/// Reads `dir/indicators.toml`; no file is an empty set.
pub fn load(
    dir: &Path,
    settings: &Settings,
    city: Option<&City>,
) -> Result<IndicatorSet, Vec<RuleError>> {
    let file = dir.join(FILE);
    if !file.exists() {
        return Ok(IndicatorSet::default());
    }
    let text = std::fs::read_to_string(&file).map_err(|e| {
        vec![RuleError {
            file: file.clone(),
            line: 0,
            rule: None,
            message: format!("cannot read: {e}"),
        }]
    })?;
    compile(&file, &text, settings, city)
}

/// Checks and compiles the indicator file `text` (read from `file`).
pub fn compile(
    file: &Path,
    text: &str,
    settings: &Settings,
    city: Option<&City>,
) -> Result<IndicatorSet, Vec<RuleError>> {
    let parsed: IndicatorFile = toml::from_str(text).map_err(|e| {
        vec![RuleError {
            file: file.to_path_buf(),
            line: e.span().map(|s| line_of(text, s.start)).unwrap_or(0),
            rule: None,
            message: e.message().trim().to_string(),
        }]
    })?;
    let mut errors = Vec::new();
    let err = |line: usize, message: String| RuleError {
        file: PathBuf::from(file),
        line,
        rule: None,
        message,
    };
    let mut sectors: Vec<Sector> = Vec::new();
    for s in &parsed.sector {
        let line = line_of(text, s.span().start);
        let d = s.get_ref();
        if sectors.iter().any(|o| o.code == d.code) {
            errors.push(err(
                line,
                format!("another sector has the code {:?}", d.code),
            ));
        }
        sectors.push(Sector {
            code: d.code.clone(),
            name: d.name.clone(),
            name_en: d.name_en.clone(),
        });
    }
    let mut indicators: Vec<Arc<Indicator>> = Vec::new();
    // The engine numbers indicators in 16 bits; a city needs a few hundred.
    if parsed.indicator.len() > MAX_INDICATORS {
        errors.push(err(
            0,
            format!(
                "{} indicators: at most {MAX_INDICATORS}",
                parsed.indicator.len()
            ),
        ));
    }
    for spanned in &parsed.indicator {
        let line = line_of(text, spanned.span().start);
        let d = spanned.get_ref();
        let mut ctx = Ctx {
            file,
            line,
            rule: None,
            settings,
            city,
            errors: Vec::new(),
            used_settings: Vec::new(),
        };
        if indicators.iter().any(|i| *i.id == *d.id) {
            ctx.err("another indicator has this id");
        }
        if !sectors.iter().any(|s| s.code == d.sector) {
            ctx.err(format!(
                "`sector` = {:?} is not one of the file's [[sector]] codes",
                d.sector
            ));
        }
        let indicator = indicator(&mut ctx, d);
        for mut e in ctx.errors {
            e.message = format!("indicator {:?}: {}", d.id, e.message);
            errors.push(e);
        }
        if let Some(i) = indicator {
            indicators.push(Arc::new(i));
        }
    }
    if errors.is_empty() {
        Ok(IndicatorSet {
            sectors,
            indicators,
        })
    } else {
        Err(errors)
    }
}

fn valid_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 64
        && id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
}

/// Complains about each key given that `from` does not use.
fn unused(ctx: &mut Ctx<'_>, d: &IndicatorDef) {
    let given = [
        (
            "sensors",
            d.sensors.is_some(),
            d.from != def::From::Incidents,
        ),
        ("metric", d.metric.is_some(), d.from == def::From::Readings),
        (
            "aggregate",
            d.aggregate.is_some(),
            d.from == def::From::Readings,
        ),
        ("above", d.above.is_some(), d.from == def::From::Readings),
        ("below", d.below.is_some(), d.from == def::From::Readings),
        ("window", d.window.is_some(), d.from != def::From::Incidents),
        (
            "measure",
            d.measure.is_some(),
            d.from == def::From::Incidents,
        ),
        (
            "categories",
            d.categories.is_some(),
            d.from == def::From::Incidents,
        ),
        (
            "severities",
            d.severities.is_some(),
            d.from == def::From::Incidents,
        ),
        ("period", d.period.is_some(), d.from == def::From::Incidents),
    ];
    for (key, present, allowed) in given {
        if present && !allowed {
            ctx.err(format!(
                "`{key}` does not apply to an indicator from {:?}",
                d.from
            ));
        }
    }
}

fn indicator(ctx: &mut Ctx<'_>, d: &IndicatorDef) -> Option<Indicator> {
    let before = ctx.errors.len();
    if !valid_id(&d.id) {
        ctx.err("`id`: use lower-case letters, digits, '-' and '_' (at most 64)");
    }
    for (key, v) in [("name", &d.name), ("name_en", &d.name_en)] {
        if v.trim().is_empty() {
            ctx.err(format!("`{key}` is empty"));
        }
    }
    unused(ctx, d);
    let window = ctx
        .duration("window", &d.window)
        .unwrap_or(DEFAULT_WINDOW_US)
        .max(1);
    let source = match d.from {
        def::From::Readings => {
            let sensors = ctx.selector("sensors", d.sensors.as_ref(), false);
            let metric = match &d.metric {
                Some(m) => m.clone(),
                None => {
                    ctx.err("an indicator from readings needs `metric`");
                    String::new()
                }
            };
            check_metric(ctx, &sensors, &metric);
            let aggregate = aggregate(ctx, d);
            Source::Readings {
                sensors,
                metric: Arc::from(metric.as_str()),
                aggregate: aggregate.unwrap_or(Aggregate::Max),
                window,
            }
        }
        def::From::Devices => Source::Devices {
            sensors: ctx.selector("sensors", d.sensors.as_ref(), false),
            window,
        },
        def::From::Incidents => {
            let measure = match d.measure.as_deref() {
                Some("open") => Measure::Open,
                Some("overdue") => Measure::Overdue,
                Some("new_today") => Measure::NewToday,
                Some("on_time_rate") => Measure::OnTimeRate,
                Some("closure_rate") => Measure::ClosureRate,
                Some("ack_mean") => Measure::AckMean,
                other => {
                    ctx.err(format!(
                        "`measure` {}: expected open, overdue, new_today, on_time_rate, \
                         closure_rate or ack_mean",
                        given(other)
                    ));
                    Measure::Open
                }
            };
            let severities = d.severities.as_ref().map(|s| {
                s.to_vec()
                    .iter()
                    .filter_map(|v| ctx.severity("severities", Some(v)))
                    .collect()
            });
            if measure.evaluated() && (d.categories.is_some() || d.severities.is_some()) {
                ctx.err("`categories` and `severities` apply to open, overdue and new_today only");
            }
            let period = match d.period.as_deref() {
                None | Some("day") => Period::Day,
                Some("month") => Period::Month,
                Some(p) => {
                    ctx.err(format!("`period` = {p:?}: expected day or month"));
                    Period::Day
                }
            };
            Source::Incidents {
                measure,
                categories: d
                    .categories
                    .as_ref()
                    .map(|c| c.to_vec().into_iter().collect()),
                severities,
                period,
            }
        }
    };
    let levels = super::levels::check(ctx, &d.levels);
    let breakdown = match d.breakdown.as_deref() {
        Some("none") => Breakdown::None,
        None | Some("district") => Breakdown::District,
        Some("street") => Breakdown::Street,
        Some(b) => {
            ctx.err(format!(
                "`breakdown` = {b:?}: expected none, district or street"
            ));
            Breakdown::None
        }
    };
    let alarm = d.alarm.as_ref().map(|a| {
        if a.category.trim().is_empty() {
            ctx.err("`alarm.category` is empty");
        }
        let from = match a.from.as_deref() {
            None => Some(Severity::Orange),
            Some(s) => ctx.severity("alarm.from", Some(s)),
        };
        let from = from.unwrap_or(Severity::Orange);
        if !levels.steps.iter().any(|(s, _)| *s <= from) {
            ctx.err(format!(
                "`alarm.from` = {:?}, but no level from there up has a threshold",
                from.as_str()
            ));
        }
        Alarm {
            category: a.category.clone(),
            from,
        }
    });
    (ctx.errors.len() == before).then(|| Indicator {
        id: Arc::from(d.id.as_str()),
        name: d.name.clone(),
        name_en: d.name_en.clone(),
        sector: d.sector.clone(),
        unit: d.unit.clone(),
        description: d.description.clone(),
        source,
        levels,
        breakdown,
        alarm,
    })
}

/// `= "value"` for a value given, `is missing` for none.
fn given(v: Option<&str>) -> String {
    v.map_or_else(|| "is missing".to_owned(), |v| format!("= {v:?}"))
}

fn check_metric(ctx: &mut Ctx<'_>, sensors: &Sel, metric: &str) {
    let Some(city) = ctx.city else { return };
    let watched: Vec<_> = city
        .sensors()
        .filter(|s| sensors.matches(s.id.as_str(), Some(&s.kind), &s.location))
        .collect();
    if watched.is_empty() {
        ctx.err("`sensors` matches no sensor of the city");
    } else if !metric.is_empty() && !watched.iter().any(|s| s.metric(metric).is_some()) {
        ctx.err(format!("`metric`: none of its sensors reports {metric:?}"));
    }
}

fn aggregate(ctx: &mut Ctx<'_>, d: &IndicatorDef) -> Option<Aggregate> {
    let threshold = |ctx: &mut Ctx<'_>, key: &str, v: &Option<crate::rules::def::Num>| match v {
        Some(n) => ctx.num(key, n),
        None => {
            ctx.err(format!("this aggregate needs `{key}`"));
            None
        }
    };
    let a = match d.aggregate.as_deref() {
        Some("max") => Aggregate::Max,
        Some("min") => Aggregate::Min,
        Some("mean") => Aggregate::Mean,
        Some("p95") => Aggregate::P95,
        Some("count_above") => Aggregate::CountAbove(threshold(ctx, "above", &d.above)?),
        Some("count_below") => Aggregate::CountBelow(threshold(ctx, "below", &d.below)?),
        Some("share_above") => Aggregate::ShareAbove(threshold(ctx, "above", &d.above)?),
        Some("share_below") => Aggregate::ShareBelow(threshold(ctx, "below", &d.below)?),
        other => {
            ctx.err(format!(
                "`aggregate` {}: expected max, min, mean, p95, count_above, count_below, \
                 share_above or share_below",
                given(other)
            ));
            return None;
        }
    };
    let wants_above = matches!(a, Aggregate::CountAbove(_) | Aggregate::ShareAbove(_));
    let wants_below = matches!(a, Aggregate::CountBelow(_) | Aggregate::ShareBelow(_));
    if d.above.is_some() && !wants_above {
        ctx.err("`above` applies to count_above and share_above only");
    }
    if d.below.is_some() && !wants_below {
        ctx.err("`below` applies to count_below and share_below only");
    }
    Some(a)
}
