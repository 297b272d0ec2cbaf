//! One indicator's live state: its members' place in the engine's value arrays, its scopes
//! (the city, then the breakdown), and the running figures per scope that a reading moves
//! incrementally (a count, a sum, the extremes). A full pass over the members recomputes them
//! exactly: when a counted value may have left its window, when an extreme was replaced by a
//! smaller one, for a percentile, and once a minute of event time so that sums cannot drift.

use super::compile::{Aggregate, Indicator, Measure, Period, Source};
use super::engine::{Current, LoopFigures, ScopeValue, alarm_key, level_name};
use super::figures::{Acc, hit};
use crate::model::{Location, Severity, Timestamp};
use crate::store::{EvaluationRow, IndicatorSample, NewIncident, RuleChange};
use std::collections::VecDeque;
use std::sync::Arc;

/// Minutes of trend kept per indicator for the city and each district.
pub const TREND_MINUTES: usize = 60;
/// A full pass at least this often (event time), so incremental sums stay exact.
const FULL_PASS_US: i64 = 60 * 1_000_000;

/// The newest value of one metric of one sensor, and which metric (`Engine::metrics`).
#[derive(Clone, Copy, Debug)]
pub(super) struct Cur {
    pub t: i64,
    pub v: f64,
    pub metric: u16,
}

pub(super) struct ScopeState {
    pub key: String,
    pub name: String,
    pub district: Option<String>,
    pub street: Option<String>,
    pub value: Option<f64>,
    pub level: Option<Severity>,
    pub trend: Option<VecDeque<(i64, Option<f64>)>>,
}

impl ScopeState {
    pub fn new(
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

/// Rounds away float noise so an unchanged figure compares equal.
fn tidy(v: Option<f64>) -> Option<f64> {
    v.filter(|v| v.is_finite()).map(|v| (v * 1e3).round() / 1e3)
}

pub(super) struct Tracked {
    pub ind: Arc<Indicator>,
    /// Per member: its index in the engine's `cur` (readings) or its sensor's slot
    /// (devices).
    pub members: Vec<u32>,
    /// The district and street scopes of each member (indices into `scopes`; 0, the
    /// city's, for none).
    pub member_scope: Vec<[u16; 2]>,
    /// 0 the city, then the breakdown's scopes.
    pub scopes: Vec<ScopeState>,
    acc: Vec<Acc>,
    /// Devices: members per scope.
    totals: Vec<usize>,
    /// The window's start at the last full pass: a value counts if it is at least this new.
    since: i64,
    /// No counted value is older than this (a bound: it may be older than the oldest).
    oldest: i64,
    /// When the last full pass ran (event time); `i64::MIN` before the first.
    last_pass: i64,
    /// A reading moved the figures since the last tick.
    pub dirty: bool,
    /// The running figures are not exact any more (an extreme left, a percentile).
    rescan: bool,
    /// The level the indicator's incident stands at, while it is raised.
    pub alarm: Option<Severity>,
    /// Per scope, the counted values (p95 only; reused).
    buf: Vec<Vec<f64>>,
}

impl Tracked {
    pub fn new(
        ind: Arc<Indicator>,
        members: Vec<u32>,
        member_scope: Vec<[u16; 2]>,
        scopes: Vec<ScopeState>,
    ) -> Self {
        let n = scopes.len();
        Self {
            ind,
            members,
            member_scope,
            scopes,
            acc: vec![Acc::EMPTY; n],
            totals: vec![0; n],
            since: i64::MAX,
            oldest: i64::MIN,
            last_pass: i64::MIN,
            dirty: true,
            rescan: true,
            alarm: None,
            buf: vec![Vec::new(); n],
        }
    }

    fn window(&self) -> Option<i64> {
        match &self.ind.source {
            Source::Readings { window, .. } | Source::Devices { window, .. } => Some(*window),
            Source::Incidents { .. } => None,
        }
    }

    /// A watched metric's newest value moved from `old` to `new` (time, value).
    #[inline]
    pub fn moved(&mut self, old: (i64, f64), new: (i64, f64), scopes: [u16; 2]) {
        let Source::Readings { aggregate: a, .. } = self.ind.source else {
            return;
        };
        let counted_old = old.0 >= self.since && old.1.is_finite();
        let counted_new = new.0 >= self.since && new.1.is_finite();
        let extremes = matches!(a, Aggregate::Max | Aggregate::Min);
        for s in std::iter::once(0).chain(scopes.into_iter().filter(|s| *s != 0)) {
            let acc = &mut self.acc[usize::from(s)];
            if counted_old && acc.remove(old.1, hit(a, old.1)) && extremes {
                self.rescan = true;
            }
            if counted_new {
                acc.add(new.1, hit(a, new.1));
            }
        }
        if matches!(a, Aggregate::P95) {
            self.rescan = true;
        }
        self.dirty = true;
    }

    /// A watched sensor was heard from at `t`, last before at `was`.
    #[inline]
    pub fn heard(&mut self, was: i64, t: i64, scopes: [u16; 2]) {
        if was < self.since && t >= self.since {
            for s in std::iter::once(0).chain(scopes.into_iter().filter(|s| *s != 0)) {
                self.acc[usize::from(s)].hits += 1;
            }
            self.dirty = true;
        }
    }

    /// Brings the values up to `now`; true if any scope's value or level changed.
    pub fn refresh(&mut self, cur: &[Cur], seen: &[i64], now: i64) -> bool {
        let Some(window) = self.window() else {
            return false;
        };
        let since = now.saturating_sub(window);
        let aged = self.oldest < since && self.since < since;
        let due = now.saturating_sub(self.last_pass) >= FULL_PASS_US || now < self.last_pass;
        if self.rescan || aged || due {
            self.full_pass(cur, seen, since);
            self.last_pass = now;
        } else if !self.dirty {
            return false;
        }
        self.dirty = false;
        let values: Vec<Option<f64>> = match &self.ind.source {
            Source::Readings { aggregate: a, .. } => self
                .acc
                .iter()
                .zip(self.buf.iter_mut())
                .map(|(x, b)| x.value(*a, b))
                .collect(),
            _ => self
                .acc
                .iter()
                .zip(&self.totals)
                .map(|(x, &t)| (t > 0).then(|| 100.0 * x.hits as f64 / t as f64))
                .collect(),
        };
        self.set_values(values.into_iter())
    }

    /// Recomputes every scope's figures from the members' values.
    fn full_pass(&mut self, cur: &[Cur], seen: &[i64], since: i64) {
        self.rescan = false;
        self.since = since;
        let mut oldest = i64::MAX;
        self.acc.fill(Acc::EMPTY);
        self.totals.fill(0);
        for b in &mut self.buf {
            b.clear();
        }
        match &self.ind.source {
            Source::Readings { aggregate: a, .. } => {
                let keep = matches!(a, Aggregate::P95);
                for (&ix, scopes) in self.members.iter().zip(&self.member_scope) {
                    let c = cur[ix as usize];
                    if c.t < since || !c.v.is_finite() {
                        continue;
                    }
                    oldest = oldest.min(c.t);
                    let h = hit(*a, c.v);
                    for s in std::iter::once(0).chain(scopes.iter().copied().filter(|s| *s != 0)) {
                        self.acc[usize::from(s)].add(c.v, h);
                        if keep {
                            self.buf[usize::from(s)].push(c.v);
                        }
                    }
                }
            }
            Source::Devices { .. } => {
                for (&slot, scopes) in self.members.iter().zip(&self.member_scope) {
                    let t = seen[slot as usize];
                    let up = t >= since;
                    if up {
                        oldest = oldest.min(t);
                    }
                    for s in std::iter::once(0).chain(scopes.iter().copied().filter(|s| *s != 0)) {
                        self.totals[usize::from(s)] += 1;
                        self.acc[usize::from(s)].hits += usize::from(up);
                    }
                }
            }
            Source::Incidents { .. } => {}
        }
        self.oldest = oldest;
    }

    pub fn current(&self, now: Timestamp) -> Current {
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

    pub fn apply_loop(&mut self, f: &LoopFigures) -> bool {
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

    pub fn close_minute(&mut self, minute: i64, out: &mut Vec<IndicatorSample>) {
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
    pub fn alarm_step(&mut self, now: Timestamp, center: (f64, f64), out: &mut Vec<RuleChange>) {
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
