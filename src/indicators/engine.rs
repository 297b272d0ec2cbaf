//! Computing the vital signs: readings in, at each tick the indicators' values and levels
//! per scope, the one-minute samples of the minute that ended, and the indicator incidents'
//! changes out. Pure and clock-free like the rules engine: the stage passes `now` (event
//! time) and the loop's figures, so a replay gives the same values.
//!
//! A reading costs an id lookup and a store into its sensor's slot, plus a flag per
//! indicator that watches the sensor. The aggregation runs at a tick, and only for an
//! indicator whose sensors reported since the last one or whose oldest counted reading has
//! just left its window: a quiet tick over a 100 000-sensor city costs nothing per sensor.

use super::compile::{Aggregate, Breakdown, Indicator, IndicatorSet, Measure, Period, Source};
use crate::model::{Location, Reading, SensorId, Severity, Timestamp};
use crate::spatial::City;
use crate::store::{EvaluationRow, IncidentTally, IndicatorSample, NewIncident, RuleChange};
use serde::{Deserialize, Serialize};
use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

const MINUTE_US: i64 = 60 * 1_000_000;
/// Minutes of trend kept per indicator for the city and each district.
pub const TREND_MINUTES: usize = 60;

/// One-minute values (the minute's start, its value), oldest first.
pub type Trend = Vec<(Timestamp, Option<f64>)>;

/// `normal` or the severity's name.
pub fn level_name(level: Option<Severity>) -> &'static str {
    level.map_or("normal", Severity::as_str)
}

/// The dedup key of an indicator's own incident, also the name its changes are made under
/// (the actor `rule:indicator:<id>`).
pub fn alarm_key(id: &str) -> String {
    format!("indicator:{id}")
}

/// One scope of an indicator as it stands.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ScopeValue {
    /// `district:<code>` or `street:<code>`.
    pub scope: String,
    pub name: String,
    /// The district it lies in (itself for a district).
    pub district: Option<String>,
    pub street: Option<String>,
    pub value: Option<f64>,
    pub level: String,
}

/// An indicator's current value: the city's, and per district or street.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Current {
    pub id: String,
    /// When it was computed (event time).
    pub time: Timestamp,
    pub value: Option<f64>,
    /// normal, blue, yellow, orange, red.
    pub level: String,
    pub breakdown: Vec<ScopeValue>,
}

/// What the loop's indicators are computed from, fetched by the stage.
#[derive(Debug, Clone, Default)]
pub struct LoopFigures {
    pub tallies: Vec<IncidentTally>,
    /// Evaluation since local midnight: the city's row, then one per district.
    pub day: Option<(EvaluationRow, Vec<EvaluationRow>)>,
    /// Evaluation since the 1st of the month.
    pub month: Option<(EvaluationRow, Vec<EvaluationRow>)>,
}

/// What a tick produced.
#[derive(Debug, Default)]
pub struct TickOutput {
    /// Indicators whose value or level changed.
    pub changed: Vec<Current>,
    /// Samples of the minute that ended (every indicator and scope).
    pub samples: Vec<IndicatorSample>,
    /// Changes to the indicators' own incidents.
    pub alarms: Vec<RuleChange>,
}

/// One indicator watching a sensor: which metric (an index into `Engine::metrics`;
/// `DEVICES`: any reading counts) and where the sensor stands among its members. A reading
/// touches its sensor's run of these and one value per indicator, nothing else: at city
/// scale every other pointer followed is a cache miss.
#[derive(Clone, Copy)]
struct Watch {
    indicator: u16,
    metric: u16,
    member: u32,
}

const DEVICES: u16 = u16::MAX;

struct ScopeState {
    key: String,
    name: String,
    district: Option<String>,
    street: Option<String>,
    value: Option<f64>,
    level: Option<Severity>,
    trend: Option<VecDeque<(i64, Option<f64>)>>,
}

struct Compiled {
    ind: Arc<Indicator>,
    /// (slot, metric index in the sensor's metrics) of the sensors it watches.
    members: Vec<(u32, u16)>,
    /// Per member, its newest (time, value) of the metric (readings) or when it was last
    /// heard from (devices, value unused), side by side so that a tick's pass reads one
    /// array in order.
    vals: Vec<(i64, f64)>,
    /// The district and street scopes of each member (indices into `scopes`; 0, the city's,
    /// for none).
    member_scope: Vec<[u16; 2]>,
    /// 0 the city, then the breakdown's scopes.
    scopes: Vec<ScopeState>,
    dirty: bool,
    /// The earliest time a counted reading leaves the window.
    next_expiry: i64,
    /// The level the indicator's incident stands at, while it is raised.
    alarm: Option<Severity>,
    /// Per scope, the values counted at the last aggregation (reused).
    buf: Vec<Vec<f64>>,
}

pub struct Engine {
    set: Arc<IndicatorSet>,
    city: Arc<City>,
    /// A fast hash: ids are the city's own (checked by ingest), not an attacker's keys.
    sensor_ix: HashMap<SensorId, u32, foldhash::fast::RandomState>,
    /// Per sensor (city order), its run in `watches`: (start, length).
    slots: Vec<(u32, u32)>,
    watches: Vec<Watch>,
    /// The metric names any sensor reports, so a reading's is found in a short, hot list.
    metrics: Vec<Arc<str>>,
    compiled: Vec<Compiled>,
    /// The minute the last tick fell in.
    minute: Option<i64>,
}

impl Engine {
    pub fn new(set: Arc<IndicatorSet>, city: Arc<City>) -> Self {
        let mut sensor_ix =
            HashMap::with_capacity_and_hasher(city.sensors().len(), Default::default());
        let mut metrics: Vec<Arc<str>> = Vec::new();
        for (i, s) in city.sensors().enumerate() {
            sensor_ix.insert(s.id.clone(), i as u32);
            for m in &s.metrics {
                if !metrics.iter().any(|x| **x == *m.name) {
                    metrics.push(Arc::from(m.name.as_str()));
                }
            }
        }
        let slots = vec![(0, 0); city.sensors().len()];
        let mut e = Self {
            set: Arc::new(IndicatorSet::default()),
            city,
            sensor_ix,
            slots,
            watches: Vec::new(),
            metrics,
            compiled: Vec::new(),
            minute: None,
        };
        e.reload(set);
        e
    }

    pub fn set(&self) -> &Arc<IndicatorSet> {
        &self.set
    }

    /// Swaps in a new indicator set. Indicators that stayed keep their levels, trend and
    /// raised incident, and those unchanged their sensors' values; a new or changed one
    /// starts without values (the stage feeds it the stored latest values again).
    pub fn reload(&mut self, set: Arc<IndicatorSet>) {
        let mut old: HashMap<Arc<str>, Compiled> = std::mem::take(&mut self.compiled)
            .into_iter()
            .map(|c| (c.ind.id.clone(), c))
            .collect();
        let mut watchers: Vec<Vec<Watch>> = vec![Vec::new(); self.slots.len()];
        for (i, ind) in set.indicators.iter().enumerate() {
            let mut c = self.compile(ind);
            let metric = match &ind.source {
                Source::Readings { metric, .. } => self
                    .metrics
                    .iter()
                    .position(|x| **x == **metric)
                    .map_or(DEVICES - 1, |m| m as u16),
                _ => DEVICES,
            };
            for (k, &(slot, _)) in c.members.iter().enumerate() {
                watchers[slot as usize].push(Watch {
                    indicator: i as u16,
                    metric,
                    member: k as u32,
                });
            }
            if let Some(prev) = old.remove(&ind.id)
                && prev.ind.breakdown == ind.breakdown
            {
                if prev.ind.source == ind.source {
                    c.vals = prev.vals;
                }
                c.alarm = prev.alarm;
                for (new, was) in c.scopes.iter_mut().zip(prev.scopes) {
                    new.level = was.level;
                    new.trend = was.trend.or(new.trend.take());
                }
            }
            self.compiled.push(c);
        }
        self.watches.clear();
        for (slot, w) in self.slots.iter_mut().zip(watchers) {
            *slot = (self.watches.len() as u32, w.len() as u32);
            self.watches.extend(w);
        }
        self.set = set;
    }

    fn compile(&self, ind: &Arc<Indicator>) -> Compiled {
        let mut scopes = vec![ScopeState::new(
            String::new(),
            String::new(),
            None,
            None,
            true,
        )];
        // A street breakdown carries its districts too, so a district's own figure is
        // there for its center's headline.
        let mut district_ix: HashMap<&str, u16> = HashMap::new();
        let mut street_ix: HashMap<&str, u16> = HashMap::new();
        if ind.breakdown != Breakdown::None {
            for d in self.city.districts() {
                district_ix.insert(&d.code, scopes.len() as u16);
                scopes.push(ScopeState::new(
                    format!("district:{}", d.code),
                    d.name.clone(),
                    Some(d.code.clone()),
                    None,
                    true,
                ));
            }
        }
        if ind.breakdown == Breakdown::Street {
            for s in self.city.streets() {
                street_ix.insert(&s.code, scopes.len() as u16);
                scopes.push(ScopeState::new(
                    format!("street:{}", s.code),
                    s.name.clone(),
                    s.district.clone(),
                    Some(s.code.clone()),
                    false,
                ));
            }
        }
        let mut members = Vec::new();
        let mut member_scope = Vec::new();
        let (sel, metric) = match &ind.source {
            Source::Readings {
                sensors, metric, ..
            } => (Some(sensors), Some(metric)),
            Source::Devices { sensors, .. } => (Some(sensors), None),
            Source::Incidents { .. } => (None, None),
        };
        if let Some(sel) = sel {
            for (slot, s) in self.city.sensors().enumerate() {
                if !sel.matches(s.id.as_str(), Some(&s.kind), &s.location) {
                    continue;
                }
                let m = match metric {
                    Some(m) => match s.metrics.iter().position(|x| *x.name == **m) {
                        Some(ix) => ix as u16,
                        None => continue,
                    },
                    None => 0,
                };
                let ix = |map: &HashMap<&str, u16>, code: &Option<String>| {
                    code.as_deref()
                        .and_then(|c| map.get(c).copied())
                        .unwrap_or(0)
                };
                members.push((slot as u32, m));
                member_scope.push([
                    ix(&district_ix, &s.location.district),
                    ix(&street_ix, &s.location.street),
                ]);
            }
        }
        let n = scopes.len();
        let vals = vec![(i64::MIN, f64::NAN); members.len()];
        Compiled {
            ind: ind.clone(),
            members,
            vals,
            member_scope,
            scopes,
            dirty: true,
            next_expiry: i64::MIN,
            alarm: None,
            buf: vec![Vec::new(); n],
        }
    }

    /// Takes in one stored reading. Older than its sensor's newest value of that metric,
    /// it changes nothing.
    pub fn reading(&mut self, r: &Reading) {
        let Some(&six) = self.sensor_ix.get(r.sensor.as_str()) else {
            return;
        };
        let (start, len) = self.slots[six as usize];
        if len == 0 {
            return;
        }
        let t = r.time.micros();
        let m = self
            .metrics
            .iter()
            .position(|x| **x == *r.metric)
            .map_or(DEVICES - 1, |m| m as u16);
        for w in &self.watches[start as usize..(start + len) as usize] {
            let Some(c) = self.compiled.get_mut(usize::from(w.indicator)) else {
                continue;
            };
            let val = &mut c.vals[w.member as usize];
            if w.metric == DEVICES {
                if t <= val.0 {
                    continue;
                }
                val.0 = t;
            } else if w.metric == m && val.0 <= t {
                *val = (t, r.value);
            } else {
                continue;
            }
            c.dirty = true;
        }
    }

    /// Marks the indicator's incident as raised at `level` (at start, from the open
    /// incidents), so that it is graded and cleared rather than opened again.
    pub fn restore_alarm(&mut self, id: &str, level: Severity) {
        if let Some(c) = self.compiled.iter_mut().find(|c| &*c.ind.id == id) {
            c.alarm = Some(level);
        }
    }

    /// Restores a scope's trend from stored samples (oldest first).
    pub fn restore_trend(&mut self, id: &str, scope: &str, samples: &[IndicatorSample]) {
        let Some(c) = self.compiled.iter_mut().find(|c| &*c.ind.id == id) else {
            return;
        };
        if let Some(s) = c.scopes.iter_mut().find(|s| s.key == scope)
            && let Some(t) = &mut s.trend
        {
            for x in samples.iter().rev().take(TREND_MINUTES).rev() {
                t.push_back((x.minute.micros(), x.value));
            }
            while t.len() > TREND_MINUTES {
                t.pop_front();
            }
        }
    }

    /// Every indicator as it stands, for a snapshot.
    pub fn current(&self, now: Timestamp) -> Vec<Current> {
        self.compiled.iter().map(|c| c.current(now)).collect()
    }

    /// The last hour of one-minute values of an indicator's scope (`""` the city).
    pub fn trend(&self, id: &str, scope: &str) -> Trend {
        self.compiled
            .iter()
            .find(|c| &*c.ind.id == id)
            .and_then(|c| c.scopes.iter().find(|s| s.key == scope))
            .and_then(|s| s.trend.as_ref())
            .map(|t| {
                t.iter()
                    .map(|(m, v)| (Timestamp::from_micros(*m), *v))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Recomputes what may have changed, as of `now`. `figures` are the loop's, when the
    /// stage fetched them since the last tick.
    pub fn tick(&mut self, now: Timestamp, figures: Option<&LoopFigures>) -> TickOutput {
        let mut out = TickOutput::default();
        let t = now.micros();
        let minute = t.div_euclid(MINUTE_US) * MINUTE_US;
        if let Some(prev) = self.minute
            && prev < minute
        {
            for c in &mut self.compiled {
                c.close_minute(prev, &mut out.samples);
            }
        }
        self.minute = Some(self.minute.map_or(minute, |m| m.max(minute)));
        let center = self.city.info().center;
        for c in &mut self.compiled {
            let changed = match &c.ind.source {
                Source::Incidents { .. } => match figures {
                    Some(f) => c.apply_loop(f),
                    None => false,
                },
                _ if c.dirty || t >= c.next_expiry => c.aggregate(t),
                _ => false,
            };
            if changed {
                out.changed.push(c.current(now));
            }
            c.alarm_step(now, center, &mut out.alarms);
        }
        out
    }
}

impl ScopeState {
    fn new(
        key: String,
        name: String,
        district: Option<String>,
        street: Option<String>,
        trend: bool,
    ) -> Self {
        Self {
            key,
            name,
            district,
            street,
            value: None,
            level: None,
            trend: trend.then(VecDeque::new),
        }
    }
}

/// `p` (0–1) quantile of sorted values, interpolated.
fn quantile(sorted: &[f64], p: f64) -> Option<f64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = p * (sorted.len() - 1) as f64;
    let lo = rank.floor() as usize;
    let hi = rank.ceil() as usize;
    Some(sorted[lo] + (sorted[hi] - sorted[lo]) * (rank - lo as f64))
}

/// One scope's running figures over the values counted in a pass.
#[derive(Clone, Copy)]
struct Acc {
    n: usize,
    sum: f64,
    max: f64,
    min: f64,
    /// Values past the aggregate's threshold.
    hits: usize,
}

impl Acc {
    const EMPTY: Acc = Acc {
        n: 0,
        sum: 0.0,
        max: f64::MIN,
        min: f64::MAX,
        hits: 0,
    };

    #[inline]
    fn add(&mut self, v: f64, hit: bool) {
        self.n += 1;
        self.sum += v;
        self.max = self.max.max(v);
        self.min = self.min.min(v);
        self.hits += usize::from(hit);
    }

    /// The aggregate's value; `sorted` holds the values, for `p95` only.
    fn value(&self, a: Aggregate, sorted: &mut [f64]) -> Option<f64> {
        if let Aggregate::CountAbove(_) | Aggregate::CountBelow(_) = a {
            return Some(self.hits as f64);
        }
        if self.n == 0 {
            return None;
        }
        let n = self.n as f64;
        match a {
            Aggregate::Max => Some(self.max),
            Aggregate::Min => Some(self.min),
            Aggregate::Mean => Some(self.sum / n),
            Aggregate::P95 => {
                sorted.sort_unstable_by(f64::total_cmp);
                quantile(sorted, 0.95)
            }
            Aggregate::ShareAbove(_) | Aggregate::ShareBelow(_) => {
                Some(100.0 * self.hits as f64 / n)
            }
            Aggregate::CountAbove(_) | Aggregate::CountBelow(_) => Some(self.hits as f64),
        }
    }
}

/// Whether `v` counts for a count or share aggregate.
#[inline]
fn hit(a: Aggregate, v: f64) -> bool {
    match a {
        Aggregate::CountAbove(t) | Aggregate::ShareAbove(t) => v > t,
        Aggregate::CountBelow(t) | Aggregate::ShareBelow(t) => v < t,
        _ => false,
    }
}

/// Rounds away float noise so an unchanged figure compares equal.
fn tidy(v: Option<f64>) -> Option<f64> {
    v.filter(|v| v.is_finite()).map(|v| (v * 1e3).round() / 1e3)
}

impl Compiled {
    fn current(&self, now: Timestamp) -> Current {
        let city = &self.scopes[0];
        Current {
            id: self.ind.id.to_string(),
            time: now,
            value: city.value,
            level: level_name(city.level).to_owned(),
            breakdown: self.scopes[1..]
                .iter()
                .map(|s| ScopeValue {
                    scope: s.key.clone(),
                    name: s.name.clone(),
                    district: s.district.clone(),
                    street: s.street.clone(),
                    value: s.value,
                    level: level_name(s.level).to_owned(),
                })
                .collect(),
        }
    }

    /// Sets each scope's value and level; true if any changed.
    fn set_values(&mut self, values: impl Iterator<Item = Option<f64>>) -> bool {
        let mut changed = false;
        for (s, v) in self.scopes.iter_mut().zip(values) {
            let v = tidy(v);
            let level = self.ind.levels.level(v, s.level);
            if v != s.value || level != s.level {
                changed = true;
                s.value = v;
                s.level = level;
            }
        }
        changed
    }

    fn aggregate(&mut self, now: i64) -> bool {
        self.dirty = false;
        let mut next_expiry = i64::MAX;
        for b in &mut self.buf {
            b.clear();
        }
        let values: Vec<Option<f64>> = match &self.ind.source {
            Source::Readings {
                aggregate: a,
                window,
                ..
            } => {
                let since = now.saturating_sub(*window);
                let keep = matches!(a, Aggregate::P95);
                let mut acc = vec![Acc::EMPTY; self.scopes.len()];
                for (&(t, v), scopes) in self.vals.iter().zip(&self.member_scope) {
                    if t < since || !v.is_finite() {
                        continue;
                    }
                    next_expiry = next_expiry.min(t.saturating_add(*window));
                    let h = hit(*a, v);
                    acc[0].add(v, h);
                    for &s in scopes.iter().filter(|s| **s != 0) {
                        acc[s as usize].add(v, h);
                    }
                    if keep {
                        self.buf[0].push(v);
                        for &s in scopes.iter().filter(|s| **s != 0) {
                            self.buf[s as usize].push(v);
                        }
                    }
                }
                acc.iter()
                    .zip(self.buf.iter_mut())
                    .map(|(x, b)| x.value(*a, b))
                    .collect()
            }
            Source::Devices { window, .. } => {
                let since = now.saturating_sub(*window);
                let mut total = vec![0usize; self.scopes.len()];
                let mut online = vec![0usize; self.scopes.len()];
                for (&(seen, _), scopes) in self.vals.iter().zip(&self.member_scope) {
                    let up = seen >= since;
                    if up {
                        next_expiry = next_expiry.min(seen.saturating_add(*window));
                    }
                    for s in std::iter::once(0).chain(scopes.iter().copied().filter(|s| *s != 0)) {
                        total[s as usize] += 1;
                        online[s as usize] += usize::from(up);
                    }
                }
                total
                    .iter()
                    .zip(&online)
                    .map(|(&t, &o)| (t > 0).then(|| 100.0 * o as f64 / t as f64))
                    .collect()
            }
            Source::Incidents { .. } => return false,
        };
        self.next_expiry = next_expiry;
        self.set_values(values.into_iter())
    }

    fn apply_loop(&mut self, f: &LoopFigures) -> bool {
        let Source::Incidents {
            measure,
            categories,
            severities,
            period,
        } = &self.ind.source
        else {
            return false;
        };
        let values: Vec<Option<f64>> = if measure.evaluated() {
            let rows = match period {
                Period::Day => f.day.as_ref(),
                Period::Month => f.month.as_ref(),
            };
            let Some((city, per_district)) = rows else {
                return false;
            };
            let figure = |r: &EvaluationRow| match measure {
                Measure::OnTimeRate => r.on_time_rate.map(|x| 100.0 * x),
                Measure::ClosureRate => r.closure_rate.map(|x| 100.0 * x),
                Measure::AckMean => r.acknowledge_mean_secs.map(|s| s / 60.0),
                _ => None,
            };
            self.scopes
                .iter()
                .enumerate()
                .map(|(i, s)| {
                    if i == 0 {
                        figure(city)
                    } else if s.street.is_none() {
                        per_district
                            .iter()
                            .find(|r| r.group.as_deref() == s.district.as_deref())
                            .and_then(figure)
                    } else {
                        None
                    }
                })
                .collect()
        } else {
            let mut sums = vec![0i64; self.scopes.len()];
            for t in &f.tallies {
                if categories
                    .as_ref()
                    .is_some_and(|c| !c.contains(&t.category))
                    || severities
                        .as_ref()
                        .is_some_and(|s| !s.contains(&t.severity))
                {
                    continue;
                }
                let n = match measure {
                    Measure::Open => t.open,
                    Measure::Overdue => t.overdue,
                    _ => t.opened,
                };
                sums[0] += n;
                if let Some(i) = self.scopes.iter().position(|s| match &s.street {
                    Some(st) => t.street.as_ref() == Some(st),
                    None => s.district.is_some() && t.district == s.district,
                }) {
                    sums[i] += n;
                }
            }
            sums.into_iter().map(|n| Some(n as f64)).collect()
        };
        self.set_values(values.into_iter())
    }

    fn close_minute(&mut self, minute: i64, out: &mut Vec<IndicatorSample>) {
        for s in &mut self.scopes {
            out.push(IndicatorSample {
                indicator: self.ind.id.to_string(),
                scope: s.key.clone(),
                minute: Timestamp::from_micros(minute),
                value: s.value,
                level: level_name(s.level).to_owned(),
            });
            if let Some(t) = &mut s.trend {
                if t.len() == TREND_MINUTES {
                    t.pop_front();
                }
                t.push_back((minute, s.value));
            }
        }
    }

    /// Raises, grades or clears the indicator's own incident after the city's level moved.
    fn alarm_step(&mut self, now: Timestamp, center: (f64, f64), out: &mut Vec<RuleChange>) {
        let Some(alarm) = &self.ind.alarm else {
            return;
        };
        let city = &self.scopes[0];
        let key = alarm_key(&self.ind.id);
        match (self.alarm, city.level) {
            (None, Some(level)) if level <= alarm.from => {
                let value = city
                    .value
                    .map(|v| format!("{v}{}", self.ind.unit))
                    .unwrap_or_default();
                out.push(RuleChange::Open(NewIncident {
                    dedup_key: key,
                    category: alarm.category.clone(),
                    severity: level,
                    title: format!(
                        "运行体征 {} {}：{value} Vital sign {} at {}",
                        self.ind.name,
                        level_zh(level),
                        self.ind.name_en,
                        level.as_str()
                    ),
                    source: Some(alarm_key(&self.ind.id)),
                    location: Location {
                        lon: center.0,
                        lat: center.1,
                        ..Location::default()
                    },
                    opened_at: now,
                    peak: city.value,
                    rule: Some(alarm_key(&self.ind.id)),
                    description: self.ind.description.clone(),
                }));
                self.alarm = Some(level);
            }
            (Some(raised), Some(level)) if raised != level => {
                let word = if level < raised {
                    "escalated"
                } else {
                    "stepped down"
                };
                out.push(RuleChange::Severity {
                    key,
                    to: level,
                    at: now,
                    actor: format!("rule:{}", alarm_key(&self.ind.id)),
                    note: format!("{word}: {} → {}", raised.as_str(), level.as_str()),
                });
                self.alarm = Some(level);
            }
            (Some(_), None) => {
                out.push(RuleChange::Clear {
                    key,
                    at: now,
                    close: false,
                });
                self.alarm = None;
            }
            _ => {}
        }
    }
}

fn level_zh(l: Severity) -> &'static str {
    match l {
        Severity::Red => "红色",
        Severity::Orange => "橙色",
        Severity::Yellow => "黄色",
        Severity::Blue => "蓝色",
    }
}
