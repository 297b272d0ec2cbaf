//! `cityops rules test`: rule tests in the manner of `promtool test rules`.
//!
//! A test file (`rules/tests/*.test.toml`) gives input series for sensors and cameras
//! of the city and the incidents expected at given times. The runner feeds the engine
//! on a simulated clock (inputs in event-time order, a tick every `step`), keeps the
//! incidents its actions open, change and clear in memory exactly as the store would,
//! and compares. Expectations cover only the sensors and cameras the test feeds (and
//! correlation areas, and indicators for rules over them: the runner computes the vital
//! signs from the same inputs): every other sensor of the city is silent in a test.

use super::compile::Body;
use super::engine::{Action, Engine};
use super::load::RuleSet;
use crate::model::{CameraId, Location, Reading, SensorId, Timestamp, VideoAlert};
use crate::spatial::City;
use serde::Deserialize;
use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TestFile {
    #[serde(default)]
    test: Vec<TestDef>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TestDef {
    name: String,
    /// Event time of offset 0 (default 2026-07-01T00:00:00Z).
    start: Option<String>,
    /// Tick interval of the simulated clock (default 10s).
    step: Option<String>,
    /// Compare only incidents of these rules (default: all).
    rules: Option<Vec<String>>,
    /// Lateness allowed (default 0s).
    lateness: Option<String>,
    #[serde(default)]
    input: Vec<InputDef>,
    #[serde(default)]
    expect: Vec<ExpectDef>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct InputDef {
    sensor: Option<String>,
    metric: Option<String>,
    /// Values, space-separated: a number, `_` for no reading, `VxN` for V N times.
    values: Option<String>,
    /// Interval between values (default 10s).
    every: Option<String>,
    /// Offset of the first value or occurrence (default 0s).
    from: Option<String>,
    camera: Option<String>,
    event: Option<String>,
    confidence: Option<f64>,
    /// Offsets of the video occurrences.
    at: Option<Vec<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ExpectDef {
    at: String,
    /// Exactly these incidents are open (not closed) at `at`.
    open: Option<Vec<ExpectIncident>>,
    /// Incidents opened so far, in all.
    opened: Option<usize>,
    /// Incidents closed so far.
    closed: Option<usize>,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Deserialize)]
#[serde(deny_unknown_fields)]
struct ExpectIncident {
    rule: String,
    /// Sensor id, camera id, or grid code (correlation).
    entity: String,
    severity: String,
    /// Its condition has cleared (it waits for people to close it).
    #[serde(default)]
    cleared: bool,
}

impl std::fmt::Display for ExpectIncident {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {} {}", self.rule, self.entity, self.severity)?;
        if self.cleared {
            f.write_str(" (cleared)")?;
        }
        Ok(())
    }
}

/// An incident as the store would hold it.
#[derive(Debug, Clone)]
struct MemIncident {
    key: String,
    severity: String,
    cleared: bool,
    closed: bool,
}

/// Incidents kept in memory from the engine's actions, with the store's semantics:
/// one open incident per key; a firing on an open key refires it.
#[derive(Debug, Default)]
struct Memory {
    all: Vec<MemIncident>,
    open: BTreeMap<String, usize>,
}

impl Memory {
    fn apply(&mut self, a: &Action) {
        match a {
            Action::Fire { key, severity, .. } => match self.open.get(key) {
                Some(&i) => {
                    self.all[i].cleared = false;
                    self.all[i].severity = severity.as_str().into();
                }
                None => {
                    self.open.insert(key.clone(), self.all.len());
                    self.all.push(MemIncident {
                        key: key.clone(),
                        severity: severity.as_str().into(),
                        cleared: false,
                        closed: false,
                    });
                }
            },
            Action::Evidence { .. } => {}
            Action::Level { key, to, .. } => {
                if let Some(&i) = self.open.get(key) {
                    self.all[i].severity = to.as_str().into();
                }
            }
            Action::Clear { key, close, .. } => {
                if let Some(&i) = self.open.get(key) {
                    self.all[i].cleared = true;
                    if *close {
                        self.all[i].closed = true;
                        self.open.remove(key);
                    }
                }
            }
        }
    }
}

/// The outcome of one test.
#[derive(Debug)]
pub struct TestResult {
    pub file: PathBuf,
    pub name: String,
    /// Empty when it passed; otherwise one readable paragraph per failed expectation.
    pub failures: Vec<String>,
}

fn duration(s: &str, what: &str) -> Result<i64, String> {
    humantime::parse_duration(s)
        .map(|d| d.as_micros() as i64)
        .map_err(|e| format!("{what} {s:?} is not a duration: {e}"))
}

enum Input {
    Reading(Reading),
    Alert(VideoAlert),
}

impl Input {
    fn time(&self) -> i64 {
        match self {
            Input::Reading(r) => r.time.micros(),
            Input::Alert(a) => a.time.micros(),
        }
    }
}

fn inputs(t: &TestDef, start: i64) -> Result<(Vec<Input>, HashSet<String>), String> {
    let mut out = Vec::new();
    let mut entities = HashSet::new();
    for (n, i) in t.input.iter().enumerate() {
        let from = start + duration(i.from.as_deref().unwrap_or("0s"), "from")?;
        match (&i.sensor, &i.camera) {
            (Some(sensor), None) => {
                let metric = i
                    .metric
                    .clone()
                    .ok_or(format!("input {n}: `metric` is required"))?;
                let every = duration(i.every.as_deref().unwrap_or("10s"), "every")?;
                let mut k = 0i64;
                for word in i.values.as_deref().unwrap_or("").split_whitespace() {
                    let (v, times) = match word.split_once('x') {
                        Some((v, n)) => (
                            v,
                            n.parse::<i64>()
                                .map_err(|_| format!("input {n}: bad repeat {word:?}"))?,
                        ),
                        None => (word, 1),
                    };
                    for _ in 0..times {
                        if v != "_" {
                            let value: f64 = v
                                .parse()
                                .map_err(|_| format!("input {n}: {v:?} is not a number"))?;
                            out.push(Input::Reading(Reading {
                                sensor: SensorId::new(sensor),
                                metric: metric.clone(),
                                time: Timestamp::from_micros(from + k * every),
                                value,
                            }));
                        }
                        k += 1;
                    }
                }
                entities.insert(sensor.clone());
            }
            (None, Some(camera)) => {
                let event = i
                    .event
                    .clone()
                    .ok_or(format!("input {n}: `event` is required"))?;
                for (j, at) in i.at.iter().flatten().enumerate() {
                    let t = from + duration(at, "at")?;
                    out.push(Input::Alert(VideoAlert {
                        source_id: format!("test-{n}-{j}"),
                        camera: CameraId::new(camera),
                        event_type: event.clone(),
                        confidence: i.confidence.unwrap_or(0.9),
                        time: Timestamp::from_micros(t),
                        snapshot_url: None,
                        location: Location::default(),
                    }));
                }
                entities.insert(camera.clone());
            }
            _ => {
                return Err(format!(
                    "input {n}: give exactly one of `sensor` or `camera`"
                ));
            }
        }
    }
    // Stable: equal times keep the file's order.
    out.sort_by_key(Input::time);
    Ok((out, entities))
}

/// Runs one test.
fn run_one(file: &Path, t: &TestDef, rules: &Arc<RuleSet>, city: &Arc<City>) -> TestResult {
    let mut result = TestResult {
        file: file.to_path_buf(),
        name: t.name.clone(),
        failures: Vec::new(),
    };
    if let Err(e) = run_inner(t, rules, city, &mut result.failures) {
        result.failures.push(e);
    }
    result
}

fn run_inner(
    t: &TestDef,
    rules: &Arc<RuleSet>,
    city: &Arc<City>,
    failures: &mut Vec<String>,
) -> Result<(), String> {
    let start = match &t.start {
        Some(s) => {
            Timestamp::parse_rfc3339(s).ok_or(format!("start {s:?} is not an RFC 3339 time"))?
        }
        None => Timestamp::parse_rfc3339("2026-07-01T00:00:00Z").unwrap_or_default(),
    }
    .micros();
    let step = duration(t.step.as_deref().unwrap_or("10s"), "step")?.max(1);
    let lateness = duration(t.lateness.as_deref().unwrap_or("0s"), "lateness")?;
    for name in t.rules.iter().flatten() {
        if rules.rule(name).is_none() {
            return Err(format!(
                "`rules` names {name:?}, which the rule set does not have"
            ));
        }
    }
    let (inputs, entities) = inputs(t, start)?;
    for e in &entities {
        if city.sensor(e).is_none() && city.camera(e).is_none() {
            return Err(format!(
                "input names {e:?}, which is no sensor or camera of the city"
            ));
        }
    }
    for i in &inputs {
        if let Input::Reading(r) = i
            && city
                .sensor(r.sensor.as_str())
                .is_some_and(|s| s.metric(&r.metric).is_none())
        {
            return Err(format!(
                "input: sensor {} has no metric {:?}",
                r.sensor, r.metric
            ));
        }
    }
    let mut expects = Vec::new();
    for e in &t.expect {
        expects.push((start + duration(&e.at, "at")?, e));
    }
    expects.sort_by_key(|(at, _)| *at);
    let end = expects
        .last()
        .map(|e| e.0)
        .unwrap_or(start)
        .max(inputs.last().map_or(start, Input::time));
    let mut moments: BTreeSet<i64> = inputs.iter().map(Input::time).collect();
    moments.extend(expects.iter().map(|e| e.0));
    let mut s = start;
    while s <= end {
        moments.insert(s);
        s += step;
    }

    let mut engine = Engine::new(
        rules.clone(),
        city.clone(),
        lateness,
        Timestamp::from_micros(start),
    );
    // Rules over indicators see the vital signs computed from the same inputs (the loop's
    // figures are not: a test has no store).
    let over_indicators = rules
        .rules
        .iter()
        .filter(|r| {
            t.rules
                .as_ref()
                .is_none_or(|n| n.iter().any(|n| *n == *r.name))
        })
        .any(|r| matches!(&r.body, Body::Sensor { sensors, .. } if sensors.over_indicators()));
    let mut vital = over_indicators
        .then(|| crate::indicators::Engine::new(rules.indicators.clone(), city.clone()));
    let mut memory = Memory::default();
    let mut actions = Vec::new();
    let mut next_input = 0;
    let mut next_expect = 0;
    let covered = |key: &str| -> Option<(String, String)> {
        let rest = key.strip_prefix("rule:")?;
        let (rule, entity) = rest.split_once(':')?;
        let rule_ok = t.rules.as_ref().is_none_or(|r| r.iter().any(|n| n == rule));
        let is_area = rules.rule(rule).is_some_and(|r| match &r.body {
            Body::Correlation { .. } => true,
            Body::Sensor { sensors, .. } => sensors.over_indicators(),
            _ => false,
        });
        (rule_ok && (is_area || entities.contains(entity)))
            .then(|| (rule.to_string(), entity.to_string()))
    };
    for m in moments {
        while next_input < inputs.len() && inputs[next_input].time() <= m {
            match &inputs[next_input] {
                Input::Reading(r) => {
                    engine.reading(r, &mut actions);
                    if let Some(v) = &mut vital {
                        v.reading(r);
                    }
                }
                Input::Alert(a) => engine.alert(a, &mut actions),
            }
            next_input += 1;
        }
        if let Some(v) = &mut vital {
            let now = Timestamp::from_micros(m);
            v.tick(now, None);
            engine.indicators(&v.current(now), &mut actions);
        }
        engine.tick(Timestamp::from_micros(m), &mut actions);
        for a in actions.drain(..) {
            memory.apply(&a);
        }
        while next_expect < expects.len() && expects[next_expect].0 <= m {
            let (_, e) = expects[next_expect];
            next_expect += 1;
            let mut problems = Vec::new();
            let ours: Vec<&MemIncident> = memory
                .all
                .iter()
                .filter(|i| covered(&i.key).is_some())
                .collect();
            if let Some(want) = &e.open {
                let want: BTreeSet<ExpectIncident> = want.iter().cloned().collect();
                let got: BTreeSet<ExpectIncident> = ours
                    .iter()
                    .filter(|i| !i.closed)
                    .filter_map(|i| {
                        let (rule, entity) = covered(&i.key)?;
                        Some(ExpectIncident {
                            rule,
                            entity,
                            severity: i.severity.clone(),
                            cleared: i.cleared,
                        })
                    })
                    .collect();
                for missing in want.difference(&got) {
                    problems.push(format!("    expected open, missing: {missing}"));
                }
                for extra in got.difference(&want) {
                    problems.push(format!("    open, not expected:     {extra}"));
                }
            }
            if let Some(n) = e.opened
                && ours.len() != n
            {
                problems.push(format!(
                    "    incidents opened: expected {n}, got {}",
                    ours.len()
                ));
            }
            if let Some(n) = e.closed {
                let got = ours.iter().filter(|i| i.closed).count();
                if got != n {
                    problems.push(format!("    incidents closed: expected {n}, got {got}"));
                }
            }
            if !problems.is_empty() {
                failures.push(format!("at {}:\n{}", e.at, problems.join("\n")));
            }
        }
    }
    Ok(())
}

/// Runs every `*.test.toml` under `dir/tests` against the rule set.
pub fn run_dir(
    dir: &Path,
    rules: &Arc<RuleSet>,
    city: &Arc<City>,
) -> Result<Vec<TestResult>, String> {
    let tests_dir = dir.join("tests");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&tests_dir)
        .map_err(|e| format!("{}: cannot read the rule tests: {e}", tests_dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.to_string_lossy().ends_with(".test.toml"))
        .collect();
    files.sort();
    let mut results = Vec::new();
    for f in files {
        let text = std::fs::read_to_string(&f).map_err(|e| format!("{}: {e}", f.display()))?;
        let parsed: TestFile = toml::from_str(&text).map_err(|e| {
            let line = e
                .span()
                .map(|s| text[..s.start].matches('\n').count() + 1)
                .unwrap_or(0);
            format!("{}:{line}: {}", f.display(), e.message().trim())
        })?;
        for t in &parsed.test {
            results.push(run_one(&f, t, rules, city));
        }
    }
    Ok(results)
}

/// Rules that no test mentions (every shipped rule should have one).
pub fn untested(dir: &Path, rules: &RuleSet) -> Vec<String> {
    let mut text = String::new();
    if let Ok(entries) = std::fs::read_dir(dir.join("tests")) {
        for e in entries.flatten() {
            text.push_str(&std::fs::read_to_string(e.path()).unwrap_or_default());
        }
    }
    rules
        .rules
        .iter()
        .filter(|r| !text.contains(&format!("\"{}\"", r.name)))
        .map(|r| r.name.to_string())
        .collect()
}
