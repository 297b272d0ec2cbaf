//! Video rules: an event type at one camera, at least `count` times within `within`,
//! with a minimum confidence. Repeats while firing are evidence for the same incident.

use super::state::Phase;
use super::{Action, Body, Detail, Engine, Route};
use crate::model::VideoAlert;
use crate::rules::compile::Group;

/// Bound on occurrences kept per (rule, camera).
const OCCURRENCES_CAP: usize = 1024;

impl Engine {
    pub(super) fn camera_alert(&mut self, ci: u32, a: &VideoAlert, out: &mut Vec<Action>) {
        let t = a.time.micros();
        for i in 0..self.cameras[ci as usize].1.len() {
            let route = self.cameras[ci as usize].1[i];
            match route {
                Route::Video { rule } => self.video_rule((rule, ci), a, out),
                Route::Group { rule, group } => {
                    let holds = match &self.rules.rules[rule as usize].body {
                        Body::Correlation { groups, .. } => match &groups[group as usize] {
                            Group::Video {
                                events,
                                min_confidence,
                                ..
                            } => events.contains(&a.event_type) && a.confidence >= *min_confidence,
                            Group::Sensors { .. } => false,
                        },
                        _ => false,
                    };
                    if holds {
                        let loc = self.cameras[ci as usize].0.location.clone();
                        self.corr_event(
                            rule,
                            group,
                            super::correlate::camera_source(ci),
                            t,
                            loc,
                            out,
                        );
                    }
                }
                _ => {}
            }
        }
    }

    fn video_rule(&mut self, k: (u32, u32), a: &VideoAlert, out: &mut Vec<Action>) {
        let Body::Video {
            ref events,
            min_confidence,
            count,
            within,
            severity,
            ..
        } = self.rules.rules[k.0 as usize].body
        else {
            return;
        };
        if !events.contains(&a.event_type) || a.confidence < min_confidence {
            return;
        }
        let t = a.time.micros();
        let seen = self.video.entry(k).or_default();
        let pos = seen.iter().rposition(|x| *x <= t).map_or(0, |p| p + 1);
        seen.insert(pos, t);
        let newest = seen.back().copied().unwrap_or(t);
        while seen.len() > OCCURRENCES_CAP || seen.front().is_some_and(|f| *f < newest - within) {
            seen.pop_front();
        }
        let n = seen.len();
        let first = seen.front().copied().unwrap_or(t);
        let state = match self.keys.get(&k).copied() {
            Some(st) if st.phase == Phase::Suppressed && t >= st.suppress_until => {
                self.keys.remove(&k);
                self.dirty.insert(k);
                None
            }
            other => other,
        };
        match state {
            None if n >= count as usize => {
                let detail = Detail {
                    event: Some(a.event_type.clone()),
                    confidence: Some(a.confidence),
                    count: n,
                    ..Default::default()
                };
                self.fire(k, severity, first, t, detail, out);
            }
            None => {}
            Some(st) if st.phase == Phase::Firing => {
                self.evidence(k, severity, t, Some(a.confidence), out)
            }
            Some(_) => {}
        }
    }
}
