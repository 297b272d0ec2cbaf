//! Topic patterns: which MQTT topics carry sensor readings or alerts, and which ids a
//! topic names.
//!
//! A pattern is `/`-separated levels, each a literal or a `{name}` wildcard standing for
//! exactly one non-empty level, optionally ending in `#` (any number of further levels,
//! including none, as in MQTT). `city/{district}/sensors/{sensor_id}` subscribes with
//! `city/+/sensors/+` and, on `city/yucheng/sensors/WL-00017`, captures
//! `district = yucheng`, `sensor_id = WL-00017`.

use std::fmt;

/// Why a pattern was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TopicError {
    #[error("topic pattern is empty")]
    Empty,
    #[error("topic pattern {pattern:?}: level {level} is empty")]
    EmptyLevel { pattern: String, level: usize },
    #[error(
        "topic pattern {pattern:?}: level {level}: a wildcard needs a name, as in {{sensor_id}}"
    )]
    UnnamedWildcard { pattern: String, level: usize },
    #[error(
        "topic pattern {pattern:?}: level {level}: wildcard name {name:?} may use only letters, digits and _"
    )]
    BadName {
        pattern: String,
        level: usize,
        name: String,
    },
    #[error("topic pattern {pattern:?}: wildcard {{{name}}} appears twice")]
    DuplicateName { pattern: String, name: String },
    #[error("topic pattern {pattern:?}: level {level}: use {{name}} instead of MQTT's + ")]
    PlusWildcard { pattern: String, level: usize },
    #[error("topic pattern {pattern:?}: level {level}: # may only be the whole last level")]
    MisplacedHash { pattern: String, level: usize },
    #[error(
        "topic pattern {pattern:?}: level {level}: unbalanced braces; a wildcard is a whole level {{name}}"
    )]
    Braces { pattern: String, level: usize },
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Level {
    Literal(String),
    /// Index into `TopicPattern::names`.
    Wildcard(usize),
}

/// A parsed topic pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicPattern {
    source: String,
    levels: Vec<Level>,
    names: Vec<String>,
    /// Ends in `#`.
    rest: bool,
}

/// The values a topic gave a pattern's wildcards, borrowed from the topic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Captures<'p, 't> {
    pattern: &'p TopicPattern,
    values: Vec<&'t str>,
    rest: Option<&'t str>,
}

impl<'t> Captures<'_, 't> {
    /// The value of `{name}`.
    pub fn get(&self, name: &str) -> Option<&'t str> {
        let i = self.pattern.names.iter().position(|n| n == name)?;
        self.values.get(i).copied()
    }
    /// `{sensor_id}`, the sensor the pipeline files the payload under.
    pub fn sensor_id(&self) -> Option<&'t str> {
        self.get("sensor_id")
    }
    /// `{camera_id}`, the camera an alert comes from.
    pub fn camera_id(&self) -> Option<&'t str> {
        self.get("camera_id")
    }
    /// What a final `#` matched (`None` when it matched no level, or there is no `#`).
    pub fn rest(&self) -> Option<&'t str> {
        self.rest
    }
    /// `(name, value)` pairs in pattern order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &'t str)> + '_ {
        self.pattern
            .names
            .iter()
            .map(String::as_str)
            .zip(self.values.iter().copied())
    }
}

impl TopicPattern {
    pub fn parse(pattern: &str) -> Result<Self, TopicError> {
        if pattern.is_empty() {
            return Err(TopicError::Empty);
        }
        let p = || pattern.to_string();
        let parts: Vec<&str> = pattern.split('/').collect();
        let mut out = TopicPattern {
            source: pattern.to_string(),
            levels: Vec::with_capacity(parts.len()),
            names: Vec::new(),
            rest: false,
        };
        for (level, part) in parts.iter().enumerate() {
            let last = level + 1 == parts.len();
            if part.is_empty() {
                return Err(TopicError::EmptyLevel {
                    pattern: p(),
                    level,
                });
            }
            if *part == "#" {
                if !last {
                    return Err(TopicError::MisplacedHash {
                        pattern: p(),
                        level,
                    });
                }
                out.rest = true;
                continue;
            }
            if part.contains('#') {
                return Err(TopicError::MisplacedHash {
                    pattern: p(),
                    level,
                });
            }
            if part.contains('+') {
                return Err(TopicError::PlusWildcard {
                    pattern: p(),
                    level,
                });
            }
            let (open, close) = (part.matches('{').count(), part.matches('}').count());
            if open == 0 && close == 0 {
                out.levels.push(Level::Literal(part.to_string()));
                continue;
            }
            let name = match part.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
                Some(name) if open == 1 && close == 1 => name,
                _ => {
                    return Err(TopicError::Braces {
                        pattern: p(),
                        level,
                    });
                }
            };
            if name.is_empty() {
                return Err(TopicError::UnnamedWildcard {
                    pattern: p(),
                    level,
                });
            }
            if !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
                return Err(TopicError::BadName {
                    pattern: p(),
                    level,
                    name: name.to_string(),
                });
            }
            if out.names.iter().any(|n| n == name) {
                return Err(TopicError::DuplicateName {
                    pattern: p(),
                    name: name.to_string(),
                });
            }
            out.levels.push(Level::Wildcard(out.names.len()));
            out.names.push(name.to_string());
        }
        Ok(out)
    }

    /// The MQTT subscription filter: wildcards become `+`, a final `#` stays.
    pub fn filter(&self) -> String {
        let mut parts: Vec<&str> = self
            .levels
            .iter()
            .map(|l| match l {
                Level::Literal(s) => s.as_str(),
                Level::Wildcard(_) => "+",
            })
            .collect();
        if self.rest {
            parts.push("#");
        }
        parts.join("/")
    }

    /// Wildcard names in pattern order.
    pub fn names(&self) -> &[String] {
        &self.names
    }

    /// The captures of `topic`, or `None` if it does not match. A wildcard matches one
    /// non-empty level. As in MQTT, a pattern starting with a wildcard or `#` does not match
    /// topics starting with `$` (broker-internal topics).
    pub fn matches<'p, 't>(&'p self, topic: &'t str) -> Option<Captures<'p, 't>> {
        if topic.starts_with('$') && !matches!(self.levels.first(), Some(Level::Literal(_))) {
            return None;
        }
        let mut values = Vec::with_capacity(self.names.len());
        let mut rest_of_topic = Some(topic);
        for level in &self.levels {
            let t = rest_of_topic?;
            let (part, tail) = match t.split_once('/') {
                Some((part, tail)) => (part, Some(tail)),
                None => (t, None),
            };
            match level {
                Level::Literal(lit) if lit == part => {}
                Level::Wildcard(_) if !part.is_empty() => values.push(part),
                _ => return None,
            }
            rest_of_topic = tail;
        }
        match (rest_of_topic, self.rest) {
            (None, _) => Some(Captures {
                pattern: self,
                values,
                rest: None,
            }),
            (Some(rest), true) => Some(Captures {
                pattern: self,
                values,
                rest: Some(rest),
            }),
            (Some(_), false) => None,
        }
    }
}

impl fmt::Display for TopicPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.source)
    }
}

impl std::str::FromStr for TopicPattern {
    type Err = TopicError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filter_and_captures() {
        let p = TopicPattern::parse("city/{district}/sensors/{sensor_id}").expect("valid");
        assert_eq!(p.filter(), "city/+/sensors/+");
        let c = p.matches("city/yucheng/sensors/WL-00017").expect("matches");
        assert_eq!(c.get("district"), Some("yucheng"));
        assert_eq!(c.sensor_id(), Some("WL-00017"));
        assert_eq!(c.camera_id(), None);
        assert_eq!(
            c.iter().collect::<Vec<_>>(),
            vec![("district", "yucheng"), ("sensor_id", "WL-00017")]
        );
        assert!(p.matches("city/yucheng/sensors").is_none());
        assert!(p.matches("city/yucheng/sensors/WL-1/extra").is_none());
        assert!(p.matches("city/yucheng/cameras/WL-1").is_none());
        assert!(
            p.matches("city//sensors/WL-1").is_none(),
            "empty level does not match a wildcard"
        );
    }

    #[test]
    fn hash_matches_zero_or_more_levels() {
        let p = TopicPattern::parse("alerts/{camera_id}/#").expect("valid");
        assert_eq!(p.filter(), "alerts/+/#");
        assert_eq!(
            p.matches("alerts/CAM-1").and_then(|c| c.camera_id()),
            Some("CAM-1")
        );
        let c = p.matches("alerts/CAM-1/smoke/hi").expect("matches");
        assert_eq!(c.rest(), Some("smoke/hi"));
        let all = TopicPattern::parse("#").expect("valid");
        assert!(all.matches("a/b").is_some());
        assert!(all.matches("$SYS/broker").is_none());
        let sys = TopicPattern::parse("$SYS/#").expect("valid");
        assert!(sys.matches("$SYS/broker").is_some());
    }

    #[test]
    fn rejects_bad_patterns() {
        let err = |s: &str| TopicPattern::parse(s).expect_err(s);
        assert_eq!(err(""), TopicError::Empty);
        assert!(matches!(
            err("city//sensors"),
            TopicError::EmptyLevel { level: 1, .. }
        ));
        assert!(matches!(
            err("city/"),
            TopicError::EmptyLevel { level: 1, .. }
        ));
        assert!(matches!(
            err("city/{}/x"),
            TopicError::UnnamedWildcard { level: 1, .. }
        ));
        assert!(matches!(err("{a}/{a}"), TopicError::DuplicateName { .. }));
        assert!(matches!(
            err("city/+/x"),
            TopicError::PlusWildcard { level: 1, .. }
        ));
        assert!(matches!(
            err("city/#/x"),
            TopicError::MisplacedHash { level: 1, .. }
        ));
        assert!(matches!(err("city/a#"), TopicError::MisplacedHash { .. }));
        assert!(matches!(err("city/{a"), TopicError::Braces { .. }));
        assert!(matches!(err("city/a}"), TopicError::Braces { .. }));
        assert!(matches!(err("city/x{a}"), TopicError::Braces { .. }));
        assert!(matches!(err("city/{{a}}"), TopicError::Braces { .. }));
        assert!(matches!(err("city/{a-b}"), TopicError::BadName { .. }));
        let msg = err("city/{}/x").to_string();
        assert!(msg.contains("needs a name"), "{msg}");
    }
}
