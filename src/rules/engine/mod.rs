//! Evaluation: readings, video alerts and clock ticks in, incident [`Action`]s out.
//!
//! The engine is synchronous and owns all rule state; one task (the pipeline's writer)
//! drives it, so there are no locks on the hot path. Everything runs on event time:
//! a reading's own timestamp moves its sensor's state, and `tick(now)` (the clock:
//! the wall when live, the data when replaying) runs the timers — `for:` durations,
//! grace periods, `clear_after`, absence. The same input thus gives the same actions
//! at any speed.
//!
//! Per sensor the engine keeps its newest value per metric and the time it was last
//! heard from (`SensorSlot`); per rule and entity only what is not idle (`KeyState`).
//! Which rules a reading can concern is worked out once per sensor when the engine
//! is built (`routes`), so a reading costs one id lookup plus the rules of its sensor.

mod correlate;
mod indicator;
mod persist;
mod routes;
mod sensor;
pub mod state;
#[cfg(test)]
mod tests;
mod video;

use super::compile::{Body, Rule};
use super::load::RuleSet;
use super::template::Vars;
use crate::model::{
    CameraId, CameraInfo, Location, Reading, SensorId, SensorInfo, Severity, Timestamp, VideoAlert,
};
use crate::spatial::City;
use correlate::CorrEvent;
use metrics::counter;
use state::{KeyState, Phase};
use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Arc;

/// What the engine asks of the incident store. Keys are dedup keys:
/// `rule:<rule>:<sensor, camera or grid>`.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// The rule fires for `key`: open an incident, or (if one is open for the key)
    /// record that its condition holds again.
    Fire {
        key: String,
        rule: Arc<Rule>,
        severity: Severity,
        title: String,
        description: Option<String>,
        source: Option<String>,
        location: Location,
        /// Event time of the first evidence.
        opened_at: Timestamp,
        value: Option<f64>,
    },
    /// More evidence for a firing key.
    Evidence {
        key: String,
        at: Timestamp,
        value: Option<f64>,
    },
    /// A firing key's level changed (escalation or step-down).
    Level {
        key: String,
        rule: Arc<Rule>,
        from: Severity,
        to: Severity,
        at: Timestamp,
    },
    /// The condition cleared; `close` when the rule closes its incidents itself.
    Clear {
        key: String,
        at: Timestamp,
        close: bool,
    },
}

impl Action {
    pub fn key(&self) -> &str {
        match self {
            Action::Fire { key, .. }
            | Action::Evidence { key, .. }
            | Action::Level { key, .. }
            | Action::Clear { key, .. } => key,
        }
    }
}

/// Which evaluation a reading or alert of one entity feeds.
#[derive(Debug, Clone, Copy)]
enum Route {
    /// A threshold or rate rule; bit i of `metrics` set if it reads the sensor's
    /// metric i.
    Sensor { rule: u32, metrics: u64 },
    /// An absence rule watching this sensor.
    Absence { rule: u32 },
    /// A video rule watching this camera.
    Video { rule: u32 },
    /// Group `group` of correlation rule `rule`.
    Group { rule: u32, group: u16 },
}

/// What the engine keeps per sensor.
#[derive(Debug)]
struct SensorSlot {
    info: Arc<SensorInfo>,
    /// Newest event time of any reading.
    newest: i64,
    /// When it was last heard from (absence), or when watching began.
    last_seen: i64,
    /// Newest value per metric, in `info.metrics` order; NaN until one arrives.
    values: Box<[(i64, f64)]>,
    /// Recent values per metric for rate rules (only when a rate rule watches it).
    history: Option<Box<[History]>>,
    /// How far back `history` reaches.
    history_span: i64,
    routes: Box<[Route]>,
}

/// Recent (time, value) pairs of one sensor metric, oldest first.
type History = VecDeque<(i64, f64)>;

/// Bound on the values kept per sensor metric for rate rules.
const HISTORY_CAP: usize = 256;

/// Entity indices of correlation keys are grid indices; this one is "no grid".
const NO_GRID: u32 = u32::MAX;

pub struct Engine {
    rules: Arc<RuleSet>,
    /// How far behind a sensor's newest reading a reading may be and still count.
    lateness: i64,
    /// The city's sensors in its order, then the indicators' slots (`indicator.rs`).
    sensors: Vec<SensorSlot>,
    /// How many of `sensors` are the city's.
    real_sensors: u32,
    /// What each slot after the city's sensors holds.
    indicator_slots: Vec<indicator::IndicatorSlot>,
    places: indicator::Places,
    /// Keys share the registry's id strings (`SensorId` is an `Arc<str>`).
    sensor_ix: HashMap<SensorId, u32>,
    cameras: Vec<(Arc<CameraInfo>, Box<[Route]>)>,
    camera_ix: HashMap<CameraId, u32>,
    /// Grid codes, for correlation keys.
    grids: Vec<String>,
    grid_ix: HashMap<String, u32>,
    /// (rule, entity) → state, for keys that are not idle.
    keys: HashMap<(u32, u32), KeyState>,
    /// Occurrence times per (video rule, camera).
    video: HashMap<(u32, u32), VecDeque<i64>>,
    /// Recent evidence per correlation rule.
    corr: HashMap<u32, VecDeque<CorrEvent>>,
    /// Keys whose persistent state changed since the last `take_state_changes`.
    dirty: HashSet<(u32, u32)>,
    /// Saved keys of rules that a reload removed or changed, to delete.
    deleted: Vec<String>,
    /// (absence rule, sensor) pairs to check on every tick.
    absent: Vec<(u32, u32)>,
}

/// What fired, for the incident's title and location.
#[derive(Debug, Default)]
pub(crate) struct Detail {
    pub value: Option<f64>,
    pub metric: Option<String>,
    pub event: Option<String>,
    pub confidence: Option<f64>,
    pub count: usize,
    pub sources: String,
    /// Where it is, when not the sensor's or camera's own place.
    pub location: Option<Location>,
}

impl Engine {
    /// An engine for `rules` over `city`, watching from `start` (an absence rule counts
    /// silence from here for sensors never heard from).
    pub fn new(
        rules: Arc<RuleSet>,
        city: Arc<City>,
        lateness_micros: i64,
        start: Timestamp,
    ) -> Self {
        let mut sensors = Vec::with_capacity(city.sensors().len());
        let mut sensor_ix = HashMap::with_capacity(city.sensors().len());
        for s in city.sensors() {
            sensor_ix.insert(s.id.clone(), sensors.len() as u32);
            sensors.push(SensorSlot {
                info: s.clone(),
                newest: i64::MIN,
                last_seen: start.micros(),
                values: vec![(i64::MIN, f64::NAN); s.metrics.len()].into_boxed_slice(),
                history: None,
                history_span: 0,
                routes: Box::new([]),
            });
        }
        let mut cameras = Vec::with_capacity(city.cameras().len());
        let mut camera_ix = HashMap::with_capacity(city.cameras().len());
        for c in city.cameras() {
            camera_ix.insert(c.id.clone(), cameras.len() as u32);
            cameras.push((c.clone(), Box::from([])));
        }
        let grids: Vec<String> = city.grids().iter().map(|g| g.code.clone()).collect();
        let grid_ix = grids
            .iter()
            .enumerate()
            .map(|(i, g)| (g.clone(), i as u32))
            .collect();
        let mut engine = Self {
            rules,
            lateness: lateness_micros.max(0),
            real_sensors: sensors.len() as u32,
            sensors,
            indicator_slots: Vec::new(),
            places: indicator::Places::of(&city),
            sensor_ix,
            cameras,
            camera_ix,
            grids,
            grid_ix,
            keys: HashMap::new(),
            video: HashMap::new(),
            corr: HashMap::new(),
            dirty: HashSet::new(),
            deleted: Vec::new(),
            absent: Vec::new(),
        };
        engine.build_indicator_slots();
        engine.build_routes();
        engine
    }

    pub fn rules(&self) -> &Arc<RuleSet> {
        &self.rules
    }

    /// Evaluates one reading. Readings of an unknown sensor or metric are ignored
    /// (ingest has already rejected those); readings later than `lateness` behind their
    /// sensor's newest are counted and dropped. Returns the sensor's index in the city's
    /// order, which the vital signs index their sensors by too (`indicators::Engine`), so
    /// a reading's sensor is looked up once for both.
    pub fn reading(&mut self, r: &Reading, out: &mut Vec<Action>) -> Option<u32> {
        let &si = self.sensor_ix.get(r.sensor.as_str())?;
        self.sensor_reading(si, r, out);
        Some(si)
    }

    /// Evaluates one video alert.
    pub fn alert(&mut self, a: &VideoAlert, out: &mut Vec<Action>) {
        let Some(&ci) = self.camera_ix.get(a.camera.as_str()) else {
            return;
        };
        self.camera_alert(ci, a, out);
    }

    /// Runs the timers up to `now`: pending `for:` that have waited long enough, grace
    /// periods that ran out, `clear_after`, suppression ends, and silent sensors.
    pub fn tick(&mut self, now: Timestamp, out: &mut Vec<Action>) {
        let now = now.micros();
        self.absence_tick(now, out);
        let mut keys: Vec<(u32, u32)> = self.keys.keys().copied().collect();
        // Deterministic order: the same input gives the same actions.
        keys.sort_unstable();
        for k in keys {
            self.timers(k, now, out);
        }
    }

    fn timers(&mut self, k: (u32, u32), now: i64, out: &mut Vec<Action>) {
        let Some(st) = self.keys.get(&k).copied() else {
            return;
        };
        let rule = self.rules.rules[k.0 as usize].clone();
        match st.phase {
            Phase::Pending => {
                if let Body::Sensor { for_, .. } = rule.body
                    && now >= st.since.saturating_add(for_)
                {
                    let value = self.pending_value(k);
                    self.fire(k, st.level, st.since, now, value, out);
                }
            }
            Phase::Firing => {
                if let Some(q) = st.quiet_since
                    && now >= q.saturating_add(rule.keep_firing_for)
                {
                    self.clear(k, q, out);
                } else if let Some(after) = rule.clear_after
                    && now >= st.last_evidence.saturating_add(after)
                {
                    self.clear(k, st.last_evidence.saturating_add(after), out);
                }
            }
            Phase::Suppressed => {
                if now >= st.suppress_until {
                    self.keys.remove(&k);
                    self.dirty.insert(k);
                }
            }
        }
    }

    /// The dedup key of (rule, entity).
    pub(crate) fn key_string(&self, k: (u32, u32)) -> String {
        let rule = &self.rules.rules[k.0 as usize];
        let entity = self.entity_id(rule, k.1);
        format!("rule:{}:{}", rule.name, entity)
    }

    fn entity_id(&self, rule: &Rule, e: u32) -> &str {
        match rule.body {
            Body::Sensor { .. } | Body::Absence { .. } => self.sensors[e as usize].info.id.as_str(),
            Body::Video { .. } => self.cameras[e as usize].0.id.as_str(),
            Body::Correlation { .. } => self.grids.get(e as usize).map_or("-", String::as_str),
        }
    }

    /// Starts firing: emits `Fire` with a rendered title. `opened` is the first
    /// evidence's time, `at` the time it fires.
    fn fire(
        &mut self,
        k: (u32, u32),
        level: Severity,
        opened: i64,
        at: i64,
        detail: Detail,
        out: &mut Vec<Action>,
    ) {
        let rule = self.rules.rules[k.0 as usize].clone();
        let (subject, own_location) = self.describe(&rule, k.1);
        let location = detail.location.clone().unwrap_or(own_location);
        let value = detail.value;
        let mut vars = subject.vars();
        vars.rule = &rule.name;
        vars.severity = level.as_str();
        vars.value = value;
        vars.metric = detail.metric.as_deref().unwrap_or("");
        vars.event = detail.event.as_deref().unwrap_or("");
        vars.confidence = detail.confidence;
        vars.count = detail.count;
        vars.sources = &detail.sources;
        if detail.location.is_some() {
            vars.grid = location.grid.as_deref().unwrap_or("");
            vars.street = location.street.as_deref().unwrap_or("");
            vars.district = location.district.as_deref().unwrap_or("");
        }
        let title = rule.title.render(&vars);
        let description = rule.description.as_ref().map(|d| d.render(&vars));
        let source = subject.source_id();
        out.push(Action::Fire {
            key: self.key_string(k),
            rule: rule.clone(),
            severity: level,
            title,
            description,
            source,
            location,
            opened_at: Timestamp::from_micros(opened),
            value,
        });
        self.keys.insert(
            k,
            KeyState {
                phase: Phase::Firing,
                level,
                since: opened,
                quiet_since: None,
                last_evidence: at,
                suppress_until: i64::MIN,
            },
        );
        self.dirty.insert(k);
        counter!("cityops_rule_firings_total", "rule" => rule.name.to_string()).increment(1);
    }

    /// Stops firing: emits `Clear` and moves to suppressed or idle.
    fn clear(&mut self, k: (u32, u32), at: i64, out: &mut Vec<Action>) {
        let rule = self.rules.rules[k.0 as usize].clone();
        out.push(Action::Clear {
            key: self.key_string(k),
            at: Timestamp::from_micros(at),
            close: rule.auto_close,
        });
        if rule.suppress_for > 0 {
            if let Some(st) = self.keys.get_mut(&k) {
                st.phase = Phase::Suppressed;
                st.quiet_since = None;
                st.suppress_until = at.saturating_add(rule.suppress_for);
            }
        } else {
            self.keys.remove(&k);
        }
        self.dirty.insert(k);
    }

    /// Another piece of evidence for a firing key, or a level change.
    fn evidence(
        &mut self,
        k: (u32, u32),
        level: Severity,
        at: i64,
        value: Option<f64>,
        out: &mut Vec<Action>,
    ) {
        let key = self.key_string(k);
        let Some(st) = self.keys.get_mut(&k) else {
            return;
        };
        if st.level != level {
            out.push(Action::Level {
                key: key.clone(),
                rule: self.rules.rules[k.0 as usize].clone(),
                from: st.level,
                to: level,
                at: Timestamp::from_micros(at),
            });
            st.level = level;
            self.dirty.insert(k);
        }
        if st.quiet_since.take().is_some() {
            self.dirty.insert(k);
        }
        st.last_evidence = st.last_evidence.max(at);
        out.push(Action::Evidence {
            key,
            at: Timestamp::from_micros(at),
            value,
        });
    }

    /// What a key's incident is about, for titles, and where it is.
    fn describe<'a>(&'a self, rule: &'a Rule, e: u32) -> (Subject<'a>, Location) {
        match rule.body {
            Body::Sensor { .. } | Body::Absence { .. } => {
                let s = &self.sensors[e as usize].info;
                let subject = match self.indicator_of(e) {
                    Some(i) => Subject::Indicator(s, &i.indicator),
                    None => Subject::Sensor(s),
                };
                (subject, s.location.clone())
            }
            Body::Video { .. } => {
                let c = &self.cameras[e as usize].0;
                (Subject::Camera(c), c.location.clone())
            }
            Body::Correlation { .. } => (Subject::Area(rule), Location::default()),
        }
    }

    fn grid_of(&self, loc: &Location) -> u32 {
        loc.grid
            .as_ref()
            .and_then(|g| self.grid_ix.get(g).copied())
            .unwrap_or(NO_GRID)
    }

    /// Number of keys that are not idle (pending, firing, suppressed).
    pub fn active_keys(&self) -> usize {
        self.keys.len()
    }

    fn count_late(&self) {
        counter!("cityops_rules_late_dropped_total").increment(1);
    }
}

/// What an incident is about.
enum Subject<'a> {
    Sensor(&'a SensorInfo),
    /// An indicator's slot, and the indicator's id.
    Indicator(&'a SensorInfo, &'a str),
    Camera(&'a CameraInfo),
    Area(&'a Rule),
}

impl<'a> Subject<'a> {
    fn vars(&self) -> Vars<'a> {
        match self {
            Subject::Sensor(s) => Vars {
                sensor: s.id.as_str(),
                sensor_name: &s.name,
                grid: s.location.grid.as_deref().unwrap_or(""),
                street: s.location.street.as_deref().unwrap_or(""),
                district: s.location.district.as_deref().unwrap_or(""),
                ..Default::default()
            },
            Subject::Indicator(s, id) => Vars {
                indicator: id,
                indicator_name: &s.name,
                metric: crate::rules::compile::Sel::INDICATOR_METRIC,
                district: s.location.district.as_deref().unwrap_or(""),
                ..Default::default()
            },
            Subject::Camera(c) => Vars {
                camera: c.id.as_str(),
                camera_name: &c.name,
                grid: c.location.grid.as_deref().unwrap_or(""),
                street: c.location.street.as_deref().unwrap_or(""),
                district: c.location.district.as_deref().unwrap_or(""),
                ..Default::default()
            },
            Subject::Area(rule) => Vars {
                radius_m: match rule.body {
                    Body::Correlation { radius_m, .. } => Some(radius_m),
                    _ => None,
                },
                ..Default::default()
            },
        }
    }

    fn source_id(&self) -> Option<String> {
        match self {
            Subject::Sensor(s) | Subject::Indicator(s, _) => Some(s.id.to_string()),
            Subject::Camera(c) => Some(c.id.to_string()),
            Subject::Area(_) => None,
        }
    }
}
