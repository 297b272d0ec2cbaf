//! Computing the vital signs: readings in, at each tick the indicators' values and levels
//! per scope, the one-minute samples of the minute that ended, and the indicator incidents'
//! changes out. Pure and clock-free like the rules engine: the stage passes `now` (event
//! time) and the loop's figures, so a replay gives the same values.
//!
//! The engine keeps each sensor's newest value per metric once (`cur`) and when it was last
//! heard from (`seen`). A reading moves its value and, through its sensor's run of watchers,
//! the running figures of each indicator that reads it (`indicator.rs`); a tick turns those
//! figures into values. So a reading costs a few array writes however large the city, and
//! a tick costs nothing per sensor unless a counted value may have left its window.
//!
//! Sensors are indexed in the city's order, as in the rules engine, so the pipeline resolves
//! a reading's sensor once for both (`reading_at`).

use super::compile::{Breakdown, Indicator, IndicatorSet, Source};
use super::indicator::{Cur, ScopeState, TREND_MINUTES, Tracked};
use crate::model::{Reading, Severity, Timestamp};
use crate::spatial::City;
use crate::store::{EvaluationRow, IncidentTally, IndicatorSample, RuleChange};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::sync::Arc;

const MINUTE_US: i64 = 60 * 1_000_000;
/// A watcher of any reading of its sensor (device health), not of one metric.
const DEVICES: u16 = u16::MAX;
/// A metric no sensor of the city reports.
const NO_METRIC: u16 = u16::MAX - 1;

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

/// One indicator watching a sensor: which metric (an index into `Engine::metrics`, or
/// `DEVICES`) and the member's district and street scopes.
#[derive(Clone, Copy)]
struct Watch {
    indicator: u16,
    metric: u16,
    scopes: [u16; 2],
}

pub struct Engine {
    set: Arc<IndicatorSet>,
    city: Arc<City>,
    /// Per sensor (city order), where its metrics start in `cur`; one more at the end.
    base: Vec<u32>,
    cur: Vec<Cur>,
    /// Per sensor, when it was last heard from.
    seen: Vec<i64>,
    /// Per sensor, its run in `watches`: (start, length).
    runs: Vec<(u32, u32)>,
    watches: Vec<Watch>,
    /// The metric names the city's sensors report, so a reading's is found in a short,
    /// hot list.
    metrics: Vec<Arc<str>>,
    tracked: Vec<Tracked>,
    /// The minute the last tick fell in.
    minute: Option<i64>,
}

impl Engine {
    pub fn new(set: Arc<IndicatorSet>, city: Arc<City>) -> Self {
        let n = city.sensors().len();
        let mut metrics: Vec<Arc<str>> = Vec::new();
        let mut base = Vec::with_capacity(n + 1);
        let mut cur = Vec::new();
        for s in city.sensors() {
            base.push(cur.len() as u32);
            for m in &s.metrics {
                let id = match metrics.iter().position(|x| **x == *m.name) {
                    Some(id) => id,
                    None => {
                        metrics.push(Arc::from(m.name.as_str()));
                        metrics.len() - 1
                    }
                };
                cur.push(Cur {
                    t: i64::MIN,
                    v: f64::NAN,
                    metric: id as u16,
                });
            }
        }
        base.push(cur.len() as u32);
        let mut e = Self {
            set: Arc::new(IndicatorSet::default()),
            city,
            base,
            cur,
            seen: vec![i64::MIN; n],
            runs: vec![(0, 0); n],
            watches: Vec::new(),
            metrics,
            tracked: Vec::new(),
            minute: None,
        };
        e.reload(set);
        e
    }

    pub fn set(&self) -> &Arc<IndicatorSet> {
        &self.set
    }

    /// The sensor's index (the city's order), for [`Engine::reading_at`].
    pub fn slot(&self, id: &str) -> Option<u32> {
        self.city.sensor_index(id)
    }

    /// Swaps in a new indicator set. Indicators that stayed keep their levels, trend and
    /// raised incident; every value is recomputed from the sensors' values at the next
    /// tick.
    pub fn reload(&mut self, set: Arc<IndicatorSet>) {
        let mut old: HashMap<Arc<str>, Tracked> = std::mem::take(&mut self.tracked)
            .into_iter()
            .map(|c| (c.ind.id.clone(), c))
            .collect();
        let mut watchers: Vec<Vec<Watch>> = vec![Vec::new(); self.runs.len()];
        for (i, ind) in set.indicators.iter().enumerate() {
            let (mut c, slots) = self.track(ind);
            let metric = match &ind.source {
                Source::Readings { metric, .. } => self
                    .metrics
                    .iter()
                    .position(|x| **x == **metric)
                    .map_or(NO_METRIC, |m| m as u16),
                _ => DEVICES,
            };
            for (&slot, &scopes) in slots.iter().zip(&c.member_scope) {
                watchers[slot as usize].push(Watch {
                    indicator: i as u16,
                    metric,
                    scopes,
                });
            }
            if let Some(prev) = old.remove(&ind.id)
                && prev.ind.breakdown == ind.breakdown
            {
                c.alarm = prev.alarm;
                for (new, was) in c.scopes.iter_mut().zip(prev.scopes) {
                    new.level = was.level;
                    new.trend = was.trend.or(new.trend.take());
                }
            }
            self.tracked.push(c);
        }
        self.watches.clear();
        for (run, w) in self.runs.iter_mut().zip(watchers) {
            *run = (self.watches.len() as u32, w.len() as u32);
            self.watches.extend(w);
        }
        self.set = set;
    }

    /// An indicator's members and scopes, and the slot of each member.
    fn track(&self, ind: &Arc<Indicator>) -> (Tracked, Vec<u32>) {
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
        let mut slots = Vec::new();
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
                let member = match metric {
                    Some(m) => match s.metrics.iter().position(|x| *x.name == **m) {
                        Some(ix) => self.base[slot] + ix as u32,
                        None => continue,
                    },
                    None => slot as u32,
                };
                let ix = |map: &HashMap<&str, u16>, code: &Option<String>| {
                    code.as_deref()
                        .and_then(|c| map.get(c).copied())
                        .unwrap_or(0)
                };
                members.push(member);
                slots.push(slot as u32);
                member_scope.push([
                    ix(&district_ix, &s.location.district),
                    ix(&street_ix, &s.location.street),
                ]);
            }
        }
        (
            Tracked::new(ind.clone(), members, member_scope, scopes),
            slots,
        )
    }

    /// Takes in one stored reading.
    pub fn reading(&mut self, r: &Reading) {
        if let Some(slot) = self.slot(r.sensor.as_str()) {
            self.reading_at(slot, r);
        }
    }

    /// Takes in one stored reading of the sensor at `slot` (the city's order). A reading
    /// older than its sensor's newest value of that metric moves only when it was heard
    /// from.
    pub fn reading_at(&mut self, slot: u32, r: &Reading) {
        let slot = slot as usize;
        if slot >= self.runs.len() {
            return;
        }
        let t = r.time.micros();
        let was = self.seen[slot];
        self.seen[slot] = was.max(t);
        let metric = self
            .metrics
            .iter()
            .position(|x| **x == *r.metric)
            .map_or(NO_METRIC, |m| m as u16);
        let mut moved = None;
        for c in &mut self.cur[self.base[slot] as usize..self.base[slot + 1] as usize] {
            if c.metric == metric {
                if c.t <= t {
                    moved = Some((c.t, c.v));
                    (c.t, c.v) = (t, r.value);
                }
                break;
            }
        }
        let (start, len) = self.runs[slot];
        for w in &self.watches[start as usize..(start + len) as usize] {
            let c = &mut self.tracked[usize::from(w.indicator)];
            if w.metric == DEVICES {
                if t > was {
                    c.heard(was, t, w.scopes);
                }
            } else if w.metric == metric
                && let Some(old) = moved
            {
                c.moved(old, (t, r.value), w.scopes);
            }
        }
    }

    /// Marks the indicator's incident as raised at `level` (at start, from the open
    /// incidents), so that it is graded and cleared rather than opened again.
    pub fn restore_alarm(&mut self, id: &str, level: Severity) {
        if let Some(c) = self.tracked.iter_mut().find(|c| &*c.ind.id == id) {
            c.alarm = Some(level);
        }
    }

    /// Restores a scope's trend from stored samples (oldest first).
    pub fn restore_trend(&mut self, id: &str, scope: &str, samples: &[IndicatorSample]) {
        let Some(c) = self.tracked.iter_mut().find(|c| &*c.ind.id == id) else {
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
        self.tracked.iter().map(|c| c.current(now)).collect()
    }

    /// The last hour of one-minute values of an indicator's scope (`""` the city).
    pub fn trend(&self, id: &str, scope: &str) -> Trend {
        self.tracked
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
            for c in &mut self.tracked {
                c.close_minute(prev, &mut out.samples);
            }
        }
        self.minute = Some(self.minute.map_or(minute, |m| m.max(minute)));
        let center = self.city.info().center;
        for c in &mut self.tracked {
            let changed = match &c.ind.source {
                Source::Incidents { .. } => figures.is_some_and(|f| c.apply_loop(f)),
                _ => c.refresh(&self.cur, &self.seen, t),
            };
            if changed {
                out.changed.push(c.current(now));
            }
            c.alarm_step(now, center, &mut out.alarms);
        }
        out
    }
}

#[cfg(test)]
#[path = "engine_tests.rs"]
mod tests;
