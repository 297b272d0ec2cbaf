//! Reads a rules directory: `settings.toml` (the city's thresholds, named so rules can
//! refer to them) and every `*.rules.toml` file beside it. Rule tests live in `tests/`
//! under it and are read by `cityops rules test` only.

use super::check::Ctx;
use super::compile::{Rule, compile};
use super::def::RuleFile;
use super::{RuleError, RuleErrors};
use crate::spatial::City;
use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Named numbers from `settings.toml`: nested tables flatten to dotted names, so
/// `[waterlogging] closed_cm = 27` is `"waterlogging.closed_cm"`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Settings(BTreeMap<String, f64>);

impl Settings {
    pub fn get(&self, name: &str) -> Option<f64> {
        self.0.get(name).copied()
    }

    pub fn parse(file: &Path, text: &str) -> Result<Self, RuleError> {
        let value: toml::Table = toml::from_str(text).map_err(|e| toml_error(file, text, &e))?;
        let mut out = BTreeMap::new();
        flatten(file, "", &value, &mut out)?;
        Ok(Self(out))
    }
}

fn flatten(
    file: &Path,
    prefix: &str,
    t: &toml::Table,
    out: &mut BTreeMap<String, f64>,
) -> Result<(), RuleError> {
    for (k, v) in t {
        let name = if prefix.is_empty() {
            k.clone()
        } else {
            format!("{prefix}.{k}")
        };
        match v {
            toml::Value::Table(t) => flatten(file, &name, t, out)?,
            toml::Value::Integer(i) => {
                out.insert(name, *i as f64);
            }
            toml::Value::Float(f) if f.is_finite() => {
                out.insert(name, *f);
            }
            _ => {
                return Err(RuleError {
                    file: file.to_path_buf(),
                    line: 0,
                    rule: None,
                    message: format!("setting {name:?} must be a finite number"),
                });
            }
        }
    }
    Ok(())
}

/// A checked rule set, shared by the engine and the API.
#[derive(Debug, Clone, Default)]
pub struct RuleSet {
    pub rules: Vec<Arc<Rule>>,
    pub settings: Settings,
    /// The vital signs of `indicators.toml` beside the rules (`crate::indicators`).
    pub indicators: Arc<crate::indicators::IndicatorSet>,
    /// The files it was read from, for messages.
    pub files: Vec<PathBuf>,
}

impl RuleSet {
    pub fn rule(&self, name: &str) -> Option<&Arc<Rule>> {
        self.rules.iter().find(|r| &*r.name == name)
    }
}

/// 1-based line of a byte offset.
pub(crate) fn line_of(text: &str, offset: usize) -> usize {
    text.as_bytes()[..offset.min(text.len())]
        .iter()
        .filter(|b| **b == b'\n')
        .count()
        + 1
}

fn toml_error(file: &Path, text: &str, e: &toml::de::Error) -> RuleError {
    RuleError {
        file: file.to_path_buf(),
        line: e.span().map(|s| line_of(text, s.start)).unwrap_or(0),
        rule: None,
        message: e.message().trim().to_string(),
    }
}

/// Reads and checks a rules directory. With a city, names of districts, streets,
/// grids, sensor kinds and metrics are checked against it too.
pub fn load_dir(dir: &Path, city: Option<&City>) -> Result<RuleSet, RuleErrors> {
    let err = |file: &Path, message: String| {
        RuleErrors(vec![RuleError {
            file: file.to_path_buf(),
            line: 0,
            rule: None,
            message,
        }])
    };
    let entries = std::fs::read_dir(dir)
        .map_err(|e| err(dir, format!("cannot read the rules directory: {e}")))?;
    let mut files: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file() && p.to_string_lossy().ends_with(".rules.toml"))
        .collect();
    files.sort();
    let settings_path = dir.join("settings.toml");
    let settings = if settings_path.exists() {
        let text = std::fs::read_to_string(&settings_path)
            .map_err(|e| err(&settings_path, format!("cannot read: {e}")))?;
        Settings::parse(&settings_path, &text).map_err(|e| RuleErrors(vec![e]))?
    } else {
        Settings::default()
    };
    let mut sources = Vec::new();
    for f in &files {
        let text = std::fs::read_to_string(f).map_err(|e| err(f, format!("cannot read: {e}")))?;
        sources.push((f.clone(), text));
    }
    // The indicators first: rules may watch them.
    let indicators = crate::indicators::compile::load(dir, &settings, city);
    let rules = compile_sources(&sources, settings, city, indicators.as_ref().ok());
    let mut set = match (rules, indicators) {
        (Ok(set), Ok(indicators)) => RuleSet {
            indicators: Arc::new(indicators),
            ..set
        },
        (rules, indicators) => {
            let mut errors = rules.err().map(|e| e.0).unwrap_or_default();
            errors.extend(indicators.err().unwrap_or_default());
            return Err(RuleErrors(errors));
        }
    };
    set.files = files;
    Ok(set)
}

/// Checks and compiles rule files given as (path, text). Rules that watch indicators are
/// checked against `indicators` when given.
pub fn compile_sources(
    sources: &[(PathBuf, String)],
    settings: Settings,
    city: Option<&City>,
    indicators: Option<&crate::indicators::IndicatorSet>,
) -> Result<RuleSet, RuleErrors> {
    let mut errors = Vec::new();
    let mut rules: Vec<Arc<Rule>> = Vec::new();
    let mut names: HashSet<String> = HashSet::new();
    for (file, text) in sources {
        let parsed: RuleFile = match toml::from_str(text) {
            Ok(p) => p,
            Err(e) => {
                errors.push(toml_error(file, text, &e));
                continue;
            }
        };
        for spanned in &parsed.rule {
            let line = line_of(text, spanned.span().start);
            let def = spanned.get_ref();
            let mut ctx = Ctx {
                file,
                line,
                rule: Some(def.name.clone()),
                settings: &settings,
                city,
                errors: Vec::new(),
                used_settings: Vec::new(),
            };
            if !names.insert(def.name.clone()) {
                ctx.errors.push(RuleError {
                    file: file.clone(),
                    line,
                    rule: Some(def.name.clone()),
                    message: "another rule has this name".into(),
                });
            }
            let rule = compile(&mut ctx, def, indicators);
            errors.append(&mut ctx.errors);
            if let (Some(rule), true) = (rule, def.enabled) {
                rules.push(Arc::new(rule));
            }
        }
    }
    if errors.is_empty() {
        Ok(RuleSet {
            rules,
            settings,
            indicators: Arc::default(),
            files: sources.iter().map(|(f, _)| f.clone()).collect(),
        })
    } else {
        Err(RuleErrors(errors))
    }
}
