//! Turns the engine's actions into one [`RuleWrite`] for the store: evidence is summed per
//! key between the changes that must keep their order (a level change, a clear), so a
//! batch with ten thousand readings for one firing key writes one evidence change.

use crate::rules::Action;
use crate::store::{NewIncident, RuleChange, RuleWrite};

/// Evidence gathered for one key since its last ordered change.
struct Evidence {
    key: String,
    count: i64,
    last: crate::model::Timestamp,
    peak: Option<f64>,
}

impl Evidence {
    fn into_change(self) -> RuleChange {
        RuleChange::Evidence {
            key: self.key,
            count: self.count,
            last: self.last,
            peak: self.peak,
        }
    }
}

/// The step `actions` and `state` make, in order.
pub fn rule_write(actions: &[Action], state: &[(String, Option<String>)]) -> RuleWrite {
    let mut changes: Vec<RuleChange> = Vec::new();
    let mut evidence: std::collections::HashMap<&str, Evidence> = Default::default();
    for a in actions {
        if !matches!(a, Action::Evidence { .. })
            && let Some(e) = evidence.remove(a.key())
        {
            changes.push(e.into_change());
        }
        match a {
            Action::Fire {
                key,
                rule,
                severity,
                title,
                description,
                source,
                location,
                opened_at,
                value,
            } => {
                changes.push(RuleChange::Open(NewIncident {
                    dedup_key: key.clone(),
                    category: rule.category.to_string(),
                    severity: *severity,
                    title: title.clone(),
                    source: source.clone(),
                    location: location.clone(),
                    opened_at: *opened_at,
                    peak: *value,
                    rule: Some(rule.name.to_string()),
                    description: description.clone(),
                }));
            }
            Action::Evidence { key, at, value } => {
                let e = evidence.entry(key.as_str()).or_insert(Evidence {
                    key: key.clone(),
                    count: 0,
                    last: *at,
                    peak: None,
                });
                e.count += 1;
                e.last = e.last.max(*at);
                e.peak = match (e.peak, *value) {
                    (Some(p), Some(v)) => Some(p.max(v)),
                    (p, v) => p.or(v),
                };
            }
            Action::Level {
                key,
                rule,
                from,
                to,
                at,
            } => {
                let word = if to < from {
                    "escalated"
                } else {
                    "stepped down"
                };
                changes.push(RuleChange::Severity {
                    key: key.clone(),
                    to: *to,
                    at: *at,
                    actor: format!("rule:{}", rule.name),
                    note: format!("{word}: {} → {}", from.as_str(), to.as_str()),
                });
            }
            Action::Clear { key, at, close } => changes.push(RuleChange::Clear {
                key: key.clone(),
                at: *at,
                close: *close,
            }),
        }
    }
    let mut rest: Vec<Evidence> = evidence.into_values().collect();
    rest.sort_by(|a, b| a.key.cmp(&b.key));
    changes.extend(rest.into_iter().map(Evidence::into_change));
    RuleWrite {
        changes,
        state: state.to_vec(),
        report: None,
    }
}
