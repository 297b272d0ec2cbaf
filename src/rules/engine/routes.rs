//! Which rules a sensor's readings and a camera's alerts feed, worked out once per
//! entity when the engine is built or reloaded, so evaluation never scans the rule set.

use super::{Body, Engine, Route};
use crate::rules::compile::Group;
use std::collections::VecDeque;

impl Engine {
    /// Works out, per sensor and camera, which rules its data feeds.
    pub(super) fn build_routes(&mut self) {
        self.absent.clear();
        let real = self.real_sensors as usize;
        for (si, slot) in self.sensors.iter_mut().enumerate() {
            let s = &slot.info;
            // An indicator's slot is matched by the indicator's id, and only by rules
            // over indicators; a sensor only by rules over sensors.
            let virt = si >= real;
            let id = match virt {
                true => &*self.indicator_slots[si - real].indicator,
                false => s.id.as_str(),
            };
            let mut routes = Vec::new();
            let mut span = 0i64;
            for (ri, rule) in self.rules.rules.iter().enumerate() {
                let ri = ri as u32;
                let mask = |reads: &dyn Fn(&str) -> bool| {
                    s.metrics
                        .iter()
                        .enumerate()
                        .filter(|(i, m)| *i < 64 && reads(&m.name))
                        .fold(0u64, |acc, (i, _)| acc | 1 << i)
                };
                match &rule.body {
                    Body::Sensor {
                        sensors,
                        levels,
                        clear,
                        rate,
                        ..
                    } if sensors.over_indicators() == virt
                        && sensors.matches(id, Some(&s.kind), &s.location) =>
                    {
                        let metrics = mask(&|m| {
                            levels.iter().any(|(_, c)| c.reads(m))
                                || clear.as_ref().is_some_and(|c| c.reads(m))
                        });
                        if metrics != 0 {
                            routes.push(Route::Sensor { rule: ri, metrics });
                            if let Some(r) = rate {
                                span = span.max(r.window);
                            }
                        }
                    }
                    Body::Absence { sensors, .. }
                        if !virt && sensors.matches(id, Some(&s.kind), &s.location) =>
                    {
                        routes.push(Route::Absence { rule: ri });
                        self.absent.push((ri, si as u32));
                    }
                    Body::Correlation { groups, .. } if !virt => {
                        for (gi, g) in groups.iter().enumerate() {
                            if let Group::Sensors { sel, .. } = g
                                && sel.matches(id, Some(&s.kind), &s.location)
                            {
                                routes.push(Route::Group {
                                    rule: ri,
                                    group: gi as u16,
                                });
                            }
                        }
                    }
                    _ => {}
                }
            }
            slot.routes = routes.into_boxed_slice();
            slot.history_span = span;
            if span > 0 && slot.history.is_none() {
                slot.history = Some(vec![VecDeque::new(); s.metrics.len()].into_boxed_slice());
            } else if span == 0 {
                slot.history = None;
            }
        }
        for (c, routes) in &mut self.cameras {
            let mut out = Vec::new();
            for (ri, rule) in self.rules.rules.iter().enumerate() {
                let ri = ri as u32;
                match &rule.body {
                    Body::Video { cameras, .. }
                        if cameras.matches(c.id.as_str(), None, &c.location) =>
                    {
                        out.push(Route::Video { rule: ri });
                    }
                    Body::Correlation { groups, .. } => {
                        for (gi, g) in groups.iter().enumerate() {
                            if let Group::Video { sel, .. } = g
                                && sel.matches(c.id.as_str(), None, &c.location)
                            {
                                out.push(Route::Group {
                                    rule: ri,
                                    group: gi as u16,
                                });
                            }
                        }
                    }
                    _ => {}
                }
            }
            *routes = out.into_boxed_slice();
        }
    }
}
