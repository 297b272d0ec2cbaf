//! Correlation rules: evidence of several kinds (a smoke detector in alarm, a camera
//! seeing fire) from distinct sources within R metres and T of each other. One
//! incident per rule and grid: the grid of the evidence that completed the pattern.

use super::state::Phase;
use super::{Action, Body, Detail, Engine};
use crate::model::Location;

/// Bound on the evidence kept per correlation rule (oldest dropped first).
const EVENTS_CAP: usize = 4096;

/// Sources are sensor indices, or camera indices with this bit set.
const CAMERA_BIT: u32 = 1 << 31;

pub(super) fn camera_source(ci: u32) -> u32 {
    ci | CAMERA_BIT
}

#[derive(Debug, Clone)]
pub(crate) struct CorrEvent {
    t: i64,
    group: u16,
    source: u32,
    /// Grid index (or `NO_GRID`) of where it happened.
    grid: u32,
    location: Location,
}

/// Metres between two nearby WGS84 points (equirectangular; exact enough within a
/// city for radii up to tens of kilometres).
fn distance_m(a: &Location, b: &Location) -> f64 {
    let lat = ((a.lat + b.lat) / 2.0).to_radians();
    let dx = (b.lon - a.lon).to_radians() * lat.cos();
    let dy = (b.lat - a.lat).to_radians();
    (dx * dx + dy * dy).sqrt() * 6_371_008.8
}

impl Engine {
    pub(super) fn corr_event(
        &mut self,
        ri: u32,
        group: u16,
        source: u32,
        t: i64,
        location: Location,
        out: &mut Vec<Action>,
    ) {
        let rule = self.rules.rules[ri as usize].clone();
        let Body::Correlation {
            ref groups,
            radius_m,
            within,
            min_sources,
            severity,
        } = rule.body
        else {
            return;
        };
        let grid = self.grid_of(&location);
        let q = self.corr.entry(ri).or_default();
        q.push_back(CorrEvent {
            t,
            group,
            source,
            grid,
            location: location.clone(),
        });
        let newest = q.iter().map(|e| e.t).max().unwrap_or(t);
        while q.len() > EVENTS_CAP || q.front().is_some_and(|e| e.t < newest - within) {
            q.pop_front();
        }
        let mut near: Vec<(u16, u32, i64, u32)> = q
            .iter()
            .filter(|e| (e.t - t).abs() <= within && distance_m(&e.location, &location) <= radius_m)
            .map(|e| (e.group, e.source, e.t, e.grid))
            .collect();
        // The earliest evidence first: it names the area (its grid) and the start.
        near.sort_unstable_by_key(|&(g, s, t, _)| (t, g, s));
        let Some(&(_, _, opened, first_grid)) = near.first() else {
            return;
        };
        let grids: Vec<u32> = near.iter().map(|n| n.3).collect();
        near.sort_unstable_by_key(|&(g, s, _, _)| (g, s));
        near.dedup_by_key(|&mut (g, s, _, _)| (g, s));
        let every_group = (0..groups.len() as u16).all(|g| near.iter().any(|n| n.0 == g));
        if !every_group || near.len() < min_sources as usize {
            return;
        }
        // One incident per place: if this pattern's evidence already feeds a firing
        // incident (keyed by another grid of the same cluster), it carries on there.
        let firing = grids.iter().copied().find(|g| {
            self.keys
                .get(&(ri, *g))
                .is_some_and(|s| s.phase == Phase::Firing)
        });
        let k = (ri, firing.unwrap_or(first_grid));
        let state = match self.keys.get(&k).copied() {
            Some(st) if st.phase == Phase::Suppressed && t >= st.suppress_until => {
                self.keys.remove(&k);
                self.dirty.insert(k);
                None
            }
            other => other,
        };
        match state {
            None => {
                let sources = near
                    .iter()
                    .map(|(g, s, _, _)| {
                        format!("{} {}", groups[*g as usize].name(), self.source_id(*s))
                    })
                    .collect::<Vec<_>>()
                    .join(" + ");
                let detail = Detail {
                    count: near.len(),
                    sources,
                    location: Some(location),
                    ..Default::default()
                };
                self.fire(k, severity, opened, t, detail, out);
            }
            Some(st) if st.phase == Phase::Firing => self.evidence(k, severity, t, None, out),
            Some(_) => {}
        }
    }

    fn source_id(&self, s: u32) -> &str {
        if s & CAMERA_BIT != 0 {
            self.cameras
                .get((s & !CAMERA_BIT) as usize)
                .map_or("?", |c| c.0.id.as_str())
        } else {
            self.sensors
                .get(s as usize)
                .map_or("?", |x| x.info.id.as_str())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distance_is_about_right_in_ya_an() {
        let a = Location {
            lon: 103.0,
            lat: 30.0,
            ..Default::default()
        };
        let b = Location {
            lon: 103.001,
            lat: 30.0,
            ..Default::default()
        };
        let d = distance_m(&a, &b);
        assert!((d - 96.3).abs() < 1.0, "{d}");
    }
}
