//! Incident titles and descriptions: text with `{placeholders}` that the engine fills
//! from what fired. Placeholders are checked when the rule is loaded, so a typo is a
//! rule error, not a title with `{sensr}` in it on the video wall.

use super::def::RuleKind;

/// The values a template may name.
#[derive(Debug, Default)]
pub struct Vars<'a> {
    pub rule: &'a str,
    pub severity: &'a str,
    pub sensor: &'a str,
    pub sensor_name: &'a str,
    pub metric: &'a str,
    pub value: Option<f64>,
    pub camera: &'a str,
    pub camera_name: &'a str,
    pub event: &'a str,
    pub confidence: Option<f64>,
    pub count: usize,
    pub sources: &'a str,
    pub radius_m: Option<f64>,
    pub grid: &'a str,
    pub street: &'a str,
    pub district: &'a str,
    pub indicator: &'a str,
    pub indicator_name: &'a str,
}

const COMMON: &[&str] = &["rule", "severity", "grid", "street", "district"];
const SENSOR: &[&str] = &["sensor", "sensor_name", "metric", "value"];
const INDICATOR: &[&str] = &["indicator", "indicator_name", "metric", "value"];
const VIDEO: &[&str] = &["camera", "camera_name", "event", "confidence", "count"];
const CORRELATION: &[&str] = &["sources", "radius_m", "count"];

#[derive(Debug, Clone, PartialEq)]
enum Part {
    Text(String),
    Var(String),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Template(Vec<Part>);

impl Template {
    pub fn literal(s: &str) -> Self {
        Self(vec![Part::Text(s.to_string())])
    }

    /// Parses `text` for a rule of `kind` (over indicators rather than sensors when
    /// `over_indicators`); `{{` and `}}` stand for braces.
    pub fn parse(text: &str, kind: RuleKind, over_indicators: bool) -> Result<Self, String> {
        let allowed: Vec<&str> = COMMON
            .iter()
            .chain(match kind {
                RuleKind::Threshold | RuleKind::Rate if over_indicators => INDICATOR,
                RuleKind::Threshold | RuleKind::Rate | RuleKind::Absence => SENSOR,
                RuleKind::Video => VIDEO,
                RuleKind::Correlation => CORRELATION,
            })
            .copied()
            .collect();
        let mut parts = Vec::new();
        let mut text_buf = String::new();
        let mut chars = text.chars().peekable();
        while let Some(c) = chars.next() {
            match c {
                '{' if chars.peek() == Some(&'{') => {
                    chars.next();
                    text_buf.push('{');
                }
                '}' if chars.peek() == Some(&'}') => {
                    chars.next();
                    text_buf.push('}');
                }
                '{' => {
                    let mut name = String::new();
                    loop {
                        match chars.next() {
                            Some('}') => break,
                            Some(c) => name.push(c),
                            None => return Err(format!("`{{{name}` is not closed with `}}`")),
                        }
                    }
                    if !allowed.contains(&name.as_str()) {
                        return Err(format!(
                            "unknown placeholder {{{name}}}; this kind of rule knows {}",
                            allowed
                                .iter()
                                .map(|a| format!("{{{a}}}"))
                                .collect::<Vec<_>>()
                                .join(" ")
                        ));
                    }
                    if !text_buf.is_empty() {
                        parts.push(Part::Text(std::mem::take(&mut text_buf)));
                    }
                    parts.push(Part::Var(name));
                }
                '}' => return Err("a lone `}`: write `}}` for a brace".into()),
                c => text_buf.push(c),
            }
        }
        if !text_buf.is_empty() {
            parts.push(Part::Text(text_buf));
        }
        Ok(Self(parts))
    }

    pub fn render(&self, v: &Vars<'_>) -> String {
        let num = |n: Option<f64>| n.map(|n| format!("{}", (n * 100.0).round() / 100.0));
        let mut out = String::new();
        for p in &self.0 {
            match p {
                Part::Text(t) => out.push_str(t),
                Part::Var(name) => out.push_str(&match name.as_str() {
                    "rule" => v.rule.to_string(),
                    "severity" => v.severity.to_string(),
                    "sensor" => v.sensor.to_string(),
                    "sensor_name" => v.sensor_name.to_string(),
                    "metric" => v.metric.to_string(),
                    "value" => num(v.value).unwrap_or_default(),
                    "camera" => v.camera.to_string(),
                    "camera_name" => v.camera_name.to_string(),
                    "event" => v.event.to_string(),
                    "confidence" => num(v.confidence).unwrap_or_default(),
                    "count" => v.count.to_string(),
                    "sources" => v.sources.to_string(),
                    "radius_m" => num(v.radius_m).unwrap_or_default(),
                    "grid" => v.grid.to_string(),
                    "street" => v.street.to_string(),
                    "district" => v.district.to_string(),
                    "indicator" => v.indicator.to_string(),
                    "indicator_name" => v.indicator_name.to_string(),
                    _ => String::new(),
                }),
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fills_placeholders_and_escapes_braces() {
        let t =
            Template::parse("{sensor_name} {{x}} {value} cm", RuleKind::Threshold, false).unwrap();
        let s = t.render(&Vars {
            sensor_name: "积水 3",
            value: Some(27.456),
            ..Default::default()
        });
        assert_eq!(s, "积水 3 {x} 27.46 cm");
    }

    #[test]
    fn unknown_placeholders_are_errors() {
        let e = Template::parse("{sensr}", RuleKind::Threshold, false).unwrap_err();
        assert!(e.contains("unknown placeholder {sensr}"), "{e}");
        assert!(Template::parse("{camera}", RuleKind::Threshold, false).is_err());
        assert!(Template::parse("{camera}", RuleKind::Video, false).is_ok());
        assert!(Template::parse("a } b", RuleKind::Video, false).is_err());
        assert!(Template::parse("{indicator_name}", RuleKind::Rate, true).is_ok());
        assert!(Template::parse("{sensor_name}", RuleKind::Rate, true).is_err());
        assert!(Template::parse("{indicator}", RuleKind::Threshold, false).is_err());
        let e = Template::parse("x {sensor_name", RuleKind::Threshold, false).unwrap_err();
        assert!(e.contains("not closed"), "{e}");
    }
}
