//! The checks behind every rule error: durations, numbers and settings, severities,
//! selectors against the city, conditions and the keys each kind of rule allows.

use super::compile::{Cond, Group, Sel};
use super::def::{CondDef, LevelDef, Num, OneOrMany, RuleDef, RuleKind, Selector, SourceDef};
use super::{RuleError, Settings};
use crate::model::Severity;
use crate::spatial::City;
use std::collections::HashSet;
use std::path::Path;
use std::sync::Arc;

/// Builds rule errors for one rule.
pub(crate) struct Ctx<'a> {
    pub file: &'a Path,
    pub line: usize,
    pub rule: Option<String>,
    pub settings: &'a Settings,
    pub city: Option<&'a City>,
    pub errors: Vec<RuleError>,
    /// The settings this rule read, with their values: part of its fingerprint, so a
    /// changed threshold counts as a changed rule on reload.
    pub used_settings: Vec<(String, f64)>,
}

impl Ctx<'_> {
    pub(crate) fn err(&mut self, message: impl Into<String>) {
        self.errors.push(RuleError {
            file: self.file.to_path_buf(),
            line: self.line,
            rule: self.rule.clone(),
            message: message.into(),
        });
    }

    pub(crate) fn duration(&mut self, key: &str, v: &Option<String>) -> Option<i64> {
        let s = v.as_ref()?;
        match humantime::parse_duration(s) {
            Ok(d) if d.as_micros() <= i64::MAX as u128 / 4 => Some(d.as_micros() as i64),
            Ok(_) => {
                self.err(format!("`{key}` = {s:?} is too long"));
                None
            }
            Err(e) => {
                self.err(format!(
                    "`{key}` = {s:?} is not a duration (e.g. \"90s\", \"5m\", \"1h\"): {e}"
                ));
                None
            }
        }
    }

    pub(crate) fn num(&mut self, key: &str, v: &Num) -> Option<f64> {
        let n = match v {
            Num::Value(n) => *n,
            Num::Setting(name) => match self.settings.get(name) {
                Some(n) => {
                    self.used_settings.push((name.clone(), n));
                    n
                }
                None => {
                    self.err(format!(
                        "`{key}` names the setting {name:?}, which rules/settings.toml does not define"
                    ));
                    return None;
                }
            },
        };
        if n.is_finite() {
            Some(n)
        } else {
            self.err(format!("`{key}` must be a finite number"));
            None
        }
    }

    pub(crate) fn severity(&mut self, key: &str, v: Option<&str>) -> Option<Severity> {
        let Some(s) = v else {
            self.err(format!("`{key}` is required for this kind of rule"));
            return None;
        };
        let sev = Severity::parse(s);
        if sev.is_none() {
            self.err(format!(
                "`{key}` = {s:?} is not a severity: red, orange, yellow or blue"
            ));
        }
        sev
    }

    pub(crate) fn selector(&mut self, key: &str, sel: Option<&Selector>, cameras: bool) -> Sel {
        let Some(sel) = sel else {
            return Sel::default();
        };
        let set = |v: &Option<OneOrMany>| v.as_ref().map(|v| v.to_vec().into_iter().collect());
        let out = Sel {
            kind: set(&sel.kind),
            ids: set(&sel.ids),
            district: set(&sel.district),
            street: set(&sel.street),
            grid: set(&sel.grid),
        };
        if cameras && out.kind.is_some() {
            self.err(format!(
                "`{key}.kind`: cameras have no kind; filter by ids or area"
            ));
        }
        if let Some(city) = self.city {
            let known = |codes: &[crate::spatial::Area], v: &Option<HashSet<String>>| {
                v.iter()
                    .flatten()
                    .filter(|c| !codes.iter().any(|a| &a.code == *c))
                    .cloned()
                    .collect::<Vec<_>>()
            };
            for (field, unknown) in [
                ("district", known(city.districts(), &out.district)),
                ("street", known(city.streets(), &out.street)),
                ("grid", known(city.grids(), &out.grid)),
            ] {
                if !unknown.is_empty() {
                    self.err(format!("`{key}.{field}`: the city has no {unknown:?}"));
                }
            }
            if let Some(ids) = &out.ids {
                let mut unknown: Vec<&String> = ids
                    .iter()
                    .filter(|id| {
                        if cameras {
                            city.camera(id).is_none()
                        } else {
                            city.sensor(id).is_none()
                        }
                    })
                    .collect();
                unknown.sort();
                if !unknown.is_empty() {
                    let what = if cameras { "cameras" } else { "sensors" };
                    self.err(format!("`{key}.ids`: the city has no {what} {unknown:?}"));
                }
            }
            if let Some(kinds) = &out.kind {
                for k in kinds {
                    if !city.sensors().any(|s| &s.kind == k) {
                        self.err(format!(
                            "`{key}.kind`: the city has no sensors of kind {k:?}"
                        ));
                    }
                }
            }
        }
        out
    }

    pub(super) fn cond(&mut self, key: &str, c: &CondDef) -> Option<Cond> {
        let given = [c.metric.is_some(), c.any.is_some(), c.all.is_some()];
        if given.iter().filter(|g| **g).count() != 1 {
            self.err(format!(
                "`{key}`: give exactly one of `metric` (with `above` or `below`), `any` or `all`"
            ));
            return None;
        }
        if let Some(m) = &c.metric {
            let m: Arc<str> = Arc::from(m.as_str());
            return match (&c.above, &c.below) {
                (Some(a), None) => Some(Cond::Above(m, self.num(&format!("{key}.above"), a)?)),
                (None, Some(b)) => Some(Cond::Below(m, self.num(&format!("{key}.below"), b)?)),
                _ => {
                    self.err(format!(
                        "`{key}`: metric {m:?} needs exactly one of `above` or `below`"
                    ));
                    None
                }
            };
        }
        if c.above.is_some() || c.below.is_some() {
            self.err(format!(
                "`{key}`: `above`/`below` go with `metric`, not with any/all"
            ));
        }
        let (list, any) = match (&c.any, &c.all) {
            (Some(l), _) => (l, true),
            (_, Some(l)) => (l, false),
            _ => unreachable!("checked above"),
        };
        if list.is_empty() {
            self.err(format!("`{key}`: an empty any/all list"));
            return None;
        }
        let word = if any { "any" } else { "all" };
        let parts: Vec<_> = list
            .iter()
            .enumerate()
            .map(|(i, c)| self.cond(&format!("{key}.{word}[{i}]"), c))
            .collect();
        let parts: Option<Vec<_>> = parts.into_iter().collect();
        let parts = parts?;
        Some(if any {
            Cond::Any(parts)
        } else {
            Cond::All(parts)
        })
    }

    /// What a threshold or rate rule watches: `sensors`, or `indicators` (with `by`).
    /// `known` is the indicator set beside the rules, `None` when it did not load (its own
    /// errors are reported; the ids are not checked against it then).
    pub(super) fn watched(
        &mut self,
        d: &RuleDef,
        known: Option<&crate::indicators::IndicatorSet>,
    ) -> Sel {
        let Some(ids) = &d.indicators else {
            if d.by.is_some() {
                self.err("`by` goes with `indicators`");
            }
            return self.selector("sensors", d.sensors.as_ref(), false);
        };
        if d.sensors.is_some() {
            self.err("give `sensors` or `indicators`, not both");
        }
        let ids = ids.to_vec();
        if ids.is_empty() {
            self.err("`indicators` is empty");
        }
        let district = match d.by.as_deref() {
            None | Some("city") => false,
            Some("district") => true,
            Some(b) => {
                self.err(format!("`by` = {b:?}: expected city or district"));
                false
            }
        };
        if let Some(set) = known {
            for id in &ids {
                match set.indicators.iter().find(|i| &*i.id == id) {
                    None => self.err(format!(
                        "`indicators`: indicators.toml has no indicator {id:?}"
                    )),
                    Some(i)
                        if district
                            && i.breakdown == crate::indicators::compile::Breakdown::None =>
                    {
                        self.err(format!(
                            "`by` = \"district\": indicator {id:?} has no breakdown by district"
                        ))
                    }
                    Some(_) => {}
                }
            }
        }
        Sel::indicators(ids, district)
    }

    /// Every metric a condition reads must exist on the selected sensor kinds. Works on
    /// the condition as written, so it is reported alongside the condition's other errors.
    pub(super) fn check_metrics(&mut self, key: &str, sel: &Sel, cond: &CondDef) {
        fn names(c: &CondDef, out: &mut Vec<String>) {
            out.extend(c.metric.iter().cloned());
            c.any
                .iter()
                .chain(c.all.iter())
                .flatten()
                .for_each(|c| names(c, out));
        }
        let mut metrics = Vec::new();
        names(cond, &mut metrics);
        if sel.over_indicators() {
            for m in metrics.iter().filter(|m| *m != Sel::INDICATOR_METRIC) {
                self.err(format!(
                    "`{key}`: an indicator has one metric, \"value\", not {m:?}"
                ));
            }
            return;
        }
        let Some(city) = self.city else {
            return;
        };
        for m in metrics {
            let has = city
                .sensors()
                .filter(|s| sel.matches(s.id.as_str(), Some(&s.kind), &s.location))
                .any(|s| s.metric(&m).is_some());
            if !has {
                let whom = match &sel.kind {
                    Some(kinds) => {
                        let mut kinds: Vec<_> = kinds.iter().cloned().collect();
                        kinds.sort();
                        format!("sensors of kind {kinds:?}")
                    }
                    None => "the sensors it selects".to_string(),
                };
                self.err(format!("`{key}`: {whom} have no metric {m:?}"));
            }
        }
    }

    pub(super) fn levels(&mut self, sel: &Sel, levels: &[LevelDef]) -> Vec<(Severity, Cond)> {
        if levels.is_empty() {
            self.err("needs at least one [[rule.level]]");
        }
        let mut out: Vec<(Severity, Cond)> = Vec::new();
        for (i, l) in levels.iter().enumerate() {
            let key = format!("level[{i}]");
            let sev = self.severity(&format!("{key}.severity"), Some(&l.severity));
            let cond = self.cond(&format!("{key}.when"), &l.when);
            self.check_metrics(&format!("{key}.when"), sel, &l.when);
            if let (Some(sev), Some(cond)) = (sev, cond) {
                if out.iter().any(|(s, _)| *s == sev) {
                    self.err(format!("{key}: severity {} is given twice", sev.as_str()));
                }
                out.push((sev, cond));
            }
        }
        // Most severe first: the first level that holds wins.
        out.sort_by_key(|(s, _)| *s);
        out
    }

    pub(super) fn group(&mut self, i: usize, g: &SourceDef) -> Option<Group> {
        let key = format!("source[{i}]");
        let name = g
            .name
            .clone()
            .unwrap_or_else(|| format!("source {}", i + 1));
        match (&g.sensors, &g.video) {
            (Some(sel), None) => {
                if g.cameras.is_some() || g.min_confidence.is_some() {
                    self.err(format!(
                        "{key}: `cameras`/`min_confidence` belong to a video source"
                    ));
                }
                let sel = self.selector(&format!("{key}.sensors"), Some(sel), false);
                let Some(when) = &g.when else {
                    self.err(format!("{key}: a sensor source needs `when`"));
                    return None;
                };
                self.check_metrics(&format!("{key}.when"), &sel, when);
                let when = self.cond(&format!("{key}.when"), when)?;
                Some(Group::Sensors { name, sel, when })
            }
            (None, Some(events)) => {
                if g.when.is_some() {
                    self.err(format!("{key}: `when` belongs to a sensor source"));
                }
                let sel = self.selector(&format!("{key}.cameras"), g.cameras.as_ref(), true);
                let min_confidence = match &g.min_confidence {
                    Some(n) => self.confidence(&format!("{key}.min_confidence"), n)?,
                    None => 0.0,
                };
                Some(Group::Video {
                    name,
                    sel,
                    events: events.to_vec(),
                    min_confidence,
                })
            }
            _ => {
                self.err(format!("{key}: give exactly one of `sensors` or `video`"));
                None
            }
        }
    }

    pub(super) fn confidence(&mut self, key: &str, n: &Num) -> Option<f64> {
        let c = self.num(key, n)?;
        if !(0.0..=1.0).contains(&c) {
            self.err(format!("`{key}` must lie in [0, 1]"));
            return None;
        }
        Some(c)
    }

    /// Rejects keys that the rule's kind does not use.
    pub(super) fn unused(&mut self, d: &RuleDef) {
        use RuleKind::*;
        let k = d.kind;
        let checks: [(&str, bool, &[RuleKind]); 19] = [
            ("sensors", d.sensors.is_some(), &[Threshold, Rate, Absence]),
            ("indicators", d.indicators.is_some(), &[Threshold, Rate]),
            ("by", d.by.is_some(), &[Threshold, Rate]),
            ("cameras", d.cameras.is_some(), &[Video]),
            ("level", !d.level.is_empty(), &[Threshold, Rate]),
            ("clear", d.clear.is_some(), &[Threshold, Rate]),
            ("for", d.for_.is_some(), &[Threshold, Rate]),
            ("window", d.window.is_some(), &[Rate]),
            ("per", d.per.is_some(), &[Rate]),
            ("after", d.after.is_some(), &[Absence]),
            (
                "severity",
                d.severity.is_some(),
                &[Absence, Video, Correlation],
            ),
            ("event", d.event.is_some(), &[Video]),
            ("min_confidence", d.min_confidence.is_some(), &[Video]),
            ("count", d.count.is_some(), &[Video]),
            ("within", d.within.is_some(), &[Video, Correlation]),
            (
                "clear_after",
                d.clear_after.is_some(),
                &[Video, Correlation],
            ),
            (
                "keep_firing_for",
                d.keep_firing_for.is_some(),
                &[Threshold, Rate],
            ),
            ("source", !d.source.is_empty(), &[Correlation]),
            (
                "radius_m",
                d.radius_m.is_some() || d.min_sources.is_some(),
                &[Correlation],
            ),
        ];
        for (key, given, kinds) in checks {
            if given && !kinds.contains(&k) {
                self.err(format!("`{key}` does not apply to a {k:?} rule"));
            }
        }
    }
}
