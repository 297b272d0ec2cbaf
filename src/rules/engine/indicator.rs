//! Indicators as a rule's source. Each vital sign of the rule set's indicator set gets
//! sensor slots of its own after the city's sensors — one for the city's value and, when
//! it breaks down by district, one per district — with one metric, `value`. A threshold
//! or rate rule over indicators is then evaluated like any sensor rule (levels, `for`,
//! hysteresis, rates), on the event time the values were computed at.
//!
//! The slots' ids (`indicator:<id>`, `indicator:<id>@<district>`) are the entities of
//! their dedup keys, so saved state and reloads work as for sensors.

use super::{Action, Engine, SensorSlot};
use crate::indicators::compile::Breakdown;
use crate::indicators::{Current, IndicatorSet, engine::alarm_key};
use crate::model::{Location, MetricSpec, Reading, SensorId, SensorInfo};
use crate::rules::compile::Sel;
use crate::spatial::City;
use std::collections::HashMap;
use std::sync::Arc;

/// Which indicator value a slot holds.
#[derive(Debug)]
pub(super) struct IndicatorSlot {
    pub indicator: Arc<str>,
    /// The breakdown scope (`district:<code>`); `None` for the city's value.
    pub scope: Option<String>,
}

/// Where the slots are placed: the city's centre, and per district (code, name) the mean
/// position of its sensors (the centre when it has none).
#[derive(Debug, Default)]
pub(super) struct Places {
    center: (f64, f64),
    districts: Vec<(String, String, (f64, f64))>,
}

impl Places {
    pub fn of(city: &City) -> Self {
        let mut sums: HashMap<&str, (f64, f64, f64)> = HashMap::new();
        for s in city.sensors() {
            if let Some(d) = s.location.district.as_deref() {
                let e = sums.entry(d).or_default();
                *e = (e.0 + s.location.lon, e.1 + s.location.lat, e.2 + 1.0);
            }
        }
        let center = city.info().center;
        let districts = city
            .districts()
            .iter()
            .map(|d| {
                let at = sums
                    .get(d.code.as_str())
                    .map_or(center, |(x, y, n)| (x / n, y / n));
                (d.code.clone(), d.name.clone(), at)
            })
            .collect();
        Self { center, districts }
    }
}

impl Engine {
    /// (Re)builds the indicator slots after the city's sensors for the current rule
    /// set's indicators. A slot whose id existed keeps its values and history. Returns
    /// the old index of each kept slot's new one, and the ids of the old slots.
    pub(super) fn build_indicator_slots(&mut self) -> (HashMap<u32, u32>, Vec<SensorId>) {
        let real = self.real_sensors as usize;
        let old: Vec<SensorSlot> = self.sensors.drain(real..).collect();
        let old_ids: Vec<SensorId> = old.iter().map(|s| s.info.id.clone()).collect();
        for id in &old_ids {
            self.sensor_ix.remove(id);
        }
        let mut old_by_id: HashMap<SensorId, (u32, SensorSlot)> = old
            .into_iter()
            .enumerate()
            .map(|(i, s)| (s.info.id.clone(), ((real + i) as u32, s)))
            .collect();
        let set: Arc<IndicatorSet> = self.rules.indicators.clone();
        self.indicator_slots.clear();
        let mut remap = HashMap::new();
        for ind in &set.indicators {
            let mut scopes = vec![None];
            if ind.breakdown != Breakdown::None {
                scopes.extend(self.places.districts.iter().map(Some));
            }
            for scope in scopes {
                let (id, name, kind, district, at) = match scope {
                    None => (
                        alarm_key(&ind.id),
                        ind.name.clone(),
                        Sel::INDICATOR_CITY,
                        None,
                        self.places.center,
                    ),
                    Some((code, dname, at)) => (
                        format!("{}@{code}", alarm_key(&ind.id)),
                        format!("{} · {dname}", ind.name),
                        Sel::INDICATOR_DISTRICT,
                        Some(code.clone()),
                        *at,
                    ),
                };
                let id = SensorId::new(&id);
                let si = self.sensors.len() as u32;
                let slot = match old_by_id.remove(&id) {
                    Some((was, slot)) => {
                        remap.insert(was, si);
                        slot
                    }
                    None => SensorSlot {
                        info: Arc::new(SensorInfo {
                            id: id.clone(),
                            kind: kind.to_string(),
                            name,
                            metrics: vec![MetricSpec {
                                name: Sel::INDICATOR_METRIC.to_string(),
                                unit: ind.unit.clone(),
                                min: f64::MIN,
                                max: f64::MAX,
                            }],
                            location: Location {
                                lon: at.0,
                                lat: at.1,
                                district,
                                ..Location::default()
                            },
                        }),
                        newest: i64::MIN,
                        last_seen: i64::MIN,
                        values: Box::new([(i64::MIN, f64::NAN)]),
                        history: None,
                        history_span: 0,
                        routes: Box::new([]),
                    },
                };
                self.sensor_ix.insert(id, si);
                self.sensors.push(slot);
                self.indicator_slots.push(IndicatorSlot {
                    indicator: ind.id.clone(),
                    scope: scope.map(|(code, _, _)| format!("district:{code}")),
                });
            }
        }
        (remap, old_ids)
    }

    /// The indicator a slot holds, for slots after the city's sensors.
    pub(super) fn indicator_of(&self, si: u32) -> Option<&IndicatorSlot> {
        let i = si.checked_sub(self.real_sensors)?;
        self.indicator_slots.get(i as usize)
    }

    /// Evaluates the vital signs as they stand (the board the indicators' stage
    /// publishes). A value is a new reading of its slot when it was computed later than
    /// the slot's newest; slots no rule watches are skipped.
    pub fn indicators(&mut self, current: &[Current], out: &mut Vec<Action>) {
        let by_id: HashMap<&str, &Current> = current.iter().map(|c| (c.id.as_str(), c)).collect();
        for i in 0..self.indicator_slots.len() {
            let si = self.real_sensors + i as u32;
            let slot = &self.sensors[si as usize];
            if slot.routes.is_empty() {
                continue;
            }
            let meta = &self.indicator_slots[i];
            let Some(c) = by_id.get(&*meta.indicator) else {
                continue;
            };
            let value = match &meta.scope {
                None => c.value,
                Some(scope) => c
                    .breakdown
                    .iter()
                    .find(|b| &b.scope == scope)
                    .and_then(|b| b.value),
            };
            let Some(value) = value.filter(|v| v.is_finite()) else {
                continue;
            };
            if c.time.micros() <= slot.newest {
                continue;
            }
            let r = Reading {
                sensor: slot.info.id.clone(),
                metric: Sel::INDICATOR_METRIC.to_string(),
                time: c.time,
                value,
            };
            self.sensor_reading(si, &r, out);
        }
    }
}
