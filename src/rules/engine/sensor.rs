//! Sensor rules: threshold and rate (graded levels, `for:`, hysteresis, grace period)
//! and absence (device offline).

use super::state::{KeyState, Phase};
use super::{Action, Body, Detail, Engine, HISTORY_CAP, Route, SensorSlot};
use crate::model::Reading;
use crate::rules::compile::{Group, RateSpec};

impl SensorSlot {
    fn metric_ix(&self, name: &str) -> Option<usize> {
        self.info.metrics.iter().position(|m| m.name == name)
    }

    /// The newest value of `metric`.
    fn latest(&self, metric: &str) -> Option<f64> {
        let v = self.values.get(self.metric_ix(metric)?)?.1;
        (!v.is_nan()).then_some(v)
    }

    /// Change of `metric` per `spec.per` over the newest `spec.window` of history:
    /// (newest − oldest in the window) / their time apart. Needs two values at
    /// different times.
    fn rate(&self, metric: &str, spec: &RateSpec) -> Option<f64> {
        let h = self.history.as_ref()?.get(self.metric_ix(metric)?)?;
        let &(tn, vn) = h.back()?;
        let &(to, vo) = h
            .iter()
            .find(|(t, _)| *t >= tn.saturating_sub(spec.window))?;
        (tn > to).then(|| (vn - vo) / (tn - to) as f64 * spec.per as f64)
    }

    /// Keeps `(t, v)` in the metric's history, in time order, within the span.
    fn remember(&mut self, mi: usize, t: i64, v: f64) {
        let span = self.history_span;
        let Some(h) = self.history.as_mut().and_then(|h| h.get_mut(mi)) else {
            return;
        };
        let pos = h.iter().rposition(|(ht, _)| *ht <= t).map_or(0, |p| p + 1);
        if pos > 0 && h[pos - 1].0 == t {
            h[pos - 1].1 = v;
        } else {
            h.insert(pos, (t, v));
        }
        let newest = h.back().map_or(t, |b| b.0);
        while h.len() > HISTORY_CAP || h.front().is_some_and(|f| f.0 < newest - span) {
            h.pop_front();
        }
    }
}

impl Engine {
    pub(super) fn sensor_reading(&mut self, si: u32, r: &Reading, out: &mut Vec<Action>) {
        let slot = &mut self.sensors[si as usize];
        let Some(mi) = slot.metric_ix(&r.metric) else {
            return;
        };
        let t = r.time.micros();
        let prev = slot.values[mi].0;
        if prev != i64::MIN && t < prev.saturating_sub(self.lateness) {
            self.count_late();
            return;
        }
        // A late reading (within the allowed lateness) is history: it enters rate
        // windows and counts as evidence, but the sensor's state is its newest value.
        let late = t < prev;
        if !late {
            slot.values[mi] = (t, r.value);
        }
        slot.newest = slot.newest.max(t);
        slot.last_seen = slot.last_seen.max(t);
        slot.remember(mi, t, r.value);
        for i in 0..slot.routes.len() {
            let route = self.sensors[si as usize].routes[i];
            match route {
                Route::Sensor { rule, metrics } if metrics & (1 << mi.min(63)) != 0 => {
                    self.eval_sensor_rule((rule, si), r, late, out);
                }
                Route::Absence { rule } => {
                    let k = (rule, si);
                    if self.keys.get(&k).is_some_and(|s| s.phase == Phase::Firing) {
                        self.clear(k, t, out);
                    }
                }
                Route::Group { rule, group } => {
                    let holds = match &self.rules.rules[rule as usize].body {
                        Body::Correlation { groups, .. } => match &groups[group as usize] {
                            Group::Sensors { when, .. } => {
                                let slot = &self.sensors[si as usize];
                                when.holds(&|m| slot.latest(m))
                            }
                            Group::Video { .. } => false,
                        },
                        _ => false,
                    };
                    if holds {
                        let loc = self.sensors[si as usize].info.location.clone();
                        self.corr_event(rule, group, si, t, loc, out);
                    }
                }
                _ => {}
            }
        }
    }

    /// The current level of a sensor rule for a sensor (`None`: no level holds), whether
    /// its clear condition holds, and the value of `metric` it judged. `late` is a late
    /// reading's (metric, value), judged in place of that metric's newest value.
    fn judge(
        &self,
        k: (u32, u32),
        metric: &str,
        late: Option<(&str, f64)>,
    ) -> (Option<crate::model::Severity>, Option<bool>, Option<f64>) {
        let rule = &self.rules.rules[k.0 as usize];
        let Body::Sensor {
            levels,
            clear,
            rate,
            ..
        } = &rule.body
        else {
            return (None, None, None);
        };
        let slot = &self.sensors[k.1 as usize];
        let value = |m: &str| match (rate, late) {
            (None, Some((lm, lv))) if lm == m => Some(lv),
            (None, _) => slot.latest(m),
            (Some(spec), _) => slot.rate(m, spec),
        };
        let level = levels
            .iter()
            .find(|(_, c)| c.holds(&value))
            .map(|(s, _)| *s);
        (
            level,
            clear.as_ref().map(|c| c.holds(&value)),
            value(metric),
        )
    }

    fn eval_sensor_rule(&mut self, k: (u32, u32), r: &Reading, late: bool, out: &mut Vec<Action>) {
        let (metric, t) = (r.metric.as_str(), r.time.micros());
        let (level, clear_holds, value) = self.judge(k, metric, late.then_some((metric, r.value)));
        let rule = self.rules.rules[k.0 as usize].clone();
        let Body::Sensor { for_, .. } = rule.body else {
            return;
        };
        let detail = || Detail {
            value,
            metric: Some(metric.to_string()),
            ..Default::default()
        };
        let state = match self.keys.get(&k).copied() {
            Some(st) if st.phase == Phase::Suppressed && t >= st.suppress_until => {
                self.keys.remove(&k);
                self.dirty.insert(k);
                None
            }
            other => other,
        };
        match (state, level) {
            (None, None) => {}
            (None, Some(_)) if late => {}
            (None, Some(l)) => {
                if for_ == 0 {
                    self.fire(k, l, t, t, detail(), out);
                } else {
                    self.keys.insert(k, KeyState::pending(l, t));
                    self.dirty.insert(k);
                }
            }
            (Some(st), level) => match st.phase {
                Phase::Suppressed => {}
                Phase::Pending if late => {}
                Phase::Pending => match level {
                    Some(l) if t >= st.since.saturating_add(for_) => {
                        self.fire(k, l, st.since, t, detail(), out);
                    }
                    Some(l) => {
                        if l != st.level {
                            if let Some(s) = self.keys.get_mut(&k) {
                                s.level = l;
                            }
                            self.dirty.insert(k);
                        }
                    }
                    None => {
                        self.keys.remove(&k);
                        self.dirty.insert(k);
                    }
                },
                Phase::Firing => match level {
                    // Late evidence counts but never moves the level.
                    Some(_) if late => self.evidence(k, st.level, t, value, out),
                    Some(l) => self.evidence(k, l, t, value, out),
                    None if late => {}
                    // Hysteresis: between the lowest level and the clear condition it
                    // keeps firing as it is.
                    None if clear_holds == Some(false) => {
                        if let Some(s) = self.keys.get_mut(&k)
                            && s.quiet_since.take().is_some()
                        {
                            self.dirty.insert(k);
                        }
                    }
                    None => {
                        let quiet = st.quiet_since.unwrap_or(t);
                        if st.quiet_since.is_none() {
                            if let Some(s) = self.keys.get_mut(&k) {
                                s.quiet_since = Some(t);
                            }
                            self.dirty.insert(k);
                        }
                        if t >= quiet.saturating_add(rule.keep_firing_for) {
                            self.clear(k, quiet, out);
                        }
                    }
                },
            },
        }
    }

    /// The value a pending key's rule judged, for the title when a tick fires it.
    pub(super) fn pending_value(&self, k: (u32, u32)) -> Detail {
        let slot = &self.sensors[k.1 as usize];
        let metric = slot
            .routes
            .iter()
            .find_map(|r| match r {
                Route::Sensor { rule, metrics } if *rule == k.0 => {
                    Some(metrics.trailing_zeros() as usize)
                }
                _ => None,
            })
            .and_then(|mi| slot.info.metrics.get(mi))
            .map(|m| m.name.clone());
        let value = metric.as_deref().and_then(|m| self.judge(k, m, None).2);
        Detail {
            value,
            metric,
            ..Default::default()
        }
    }

    /// Fires absence rules for sensors silent for at least their `after`.
    pub(super) fn absence_tick(&mut self, now: i64, out: &mut Vec<Action>) {
        for i in 0..self.absent.len() {
            let (ri, si) = self.absent[i];
            let Body::Absence {
                after, severity, ..
            } = self.rules.rules[ri as usize].body
            else {
                continue;
            };
            let last = self.sensors[si as usize].last_seen;
            let k = (ri, si);
            if now < last.saturating_add(after) {
                continue;
            }
            match self.keys.get(&k) {
                None => self.fire(k, severity, last, now, Detail::default(), out),
                Some(st) if st.phase == Phase::Suppressed && now >= st.suppress_until => {
                    self.fire(k, severity, last, now, Detail::default(), out)
                }
                Some(_) => {}
            }
        }
    }
}
