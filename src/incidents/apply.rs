//! Applies the engine's actions to the store: opens incidents (the store's unique key
//! decides races), counts evidence, records level changes and clears, and saves the
//! engine's persistent state in the same step.

use crate::model::{Incident, IncidentId, Timestamp};
use crate::rules::Action;
use crate::store::{IncidentFilter, NewIncident, SharedStore, StoreError};
use metrics::counter;
use std::collections::HashMap;

/// Evidence gathered for one key within a step, written as one update.
struct Evidence {
    count: i64,
    last: Timestamp,
    peak: Option<f64>,
}

pub struct Applier {
    /// Open incident per dedup key.
    open: HashMap<String, IncidentId>,
}

impl Applier {
    /// Starts from the store's open incidents raised by rules.
    pub async fn load(store: &SharedStore) -> Result<Self, StoreError> {
        let open = store
            .incidents(&IncidentFilter {
                open_only: true,
                district: None,
                limit: 0,
                ..Default::default()
            })
            .await?
            .into_iter()
            .filter(|i| i.dedup_key.starts_with("rule:"))
            .map(|i| (i.dedup_key, i.id))
            .collect();
        Ok(Self { open })
    }

    /// Writes `actions` in order, then `state`. Returns the incidents that changed (the
    /// newest version of each), to announce. A store outage is returned as an error
    /// and the whole step may be retried: opening is idempotent by key, and level and
    /// clear changes that are already in place change nothing.
    pub async fn apply(
        &mut self,
        store: &SharedStore,
        actions: &[Action],
        state: &[(String, Option<String>)],
    ) -> Result<Vec<Incident>, StoreError> {
        let mut changed: Vec<Incident> = Vec::new();
        let mut evidence: HashMap<&str, Evidence> = HashMap::new();
        for a in actions {
            if !matches!(a, Action::Evidence { .. })
                && let Some(e) = evidence.remove(a.key())
            {
                self.touch(store, a.key(), e, &mut changed).await?;
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
                    let new = NewIncident {
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
                    };
                    let actor = format!("rule:{}", rule.name);
                    let (mut incident, created) = store.open_incident(&new).await?;
                    if created {
                        counter!("cityops_incidents_opened_total", "category" => rule.category.to_string())
                            .increment(1);
                        tracing::info!(id = %incident.id, key, severity = severity.as_str(), "incident opened");
                    } else {
                        // Its incident is still open (its condition had cleared, or
                        // state was lost): the same incident carries on.
                        if incident.cleared_at.is_some() {
                            incident = store
                                .refire_incident(incident.id, *opened_at, &actor)
                                .await?;
                        }
                        if incident.severity != *severity {
                            incident = store
                                .set_severity(
                                    incident.id,
                                    *severity,
                                    *opened_at,
                                    &actor,
                                    "fired again at this level",
                                )
                                .await?;
                        }
                    }
                    self.open.insert(key.clone(), incident.id);
                    changed.push(incident);
                }
                Action::Evidence { key, at, value } => {
                    let e = evidence.entry(key.as_str()).or_insert(Evidence {
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
                    let Some(&id) = self.open.get(key) else {
                        continue;
                    };
                    let word = if to < from {
                        "escalated"
                    } else {
                        "stepped down"
                    };
                    let note = format!("{word}: {} → {}", from.as_str(), to.as_str());
                    match store
                        .set_severity(id, *to, *at, &format!("rule:{}", rule.name), &note)
                        .await
                    {
                        Ok(i) => changed.push(i),
                        Err(StoreError::Conflict(_) | StoreError::NotFound(_)) => {
                            self.open.remove(key);
                        }
                        Err(e) => return Err(e),
                    }
                }
                Action::Clear { key, at, close } => {
                    if let Some(i) = store.clear_incident(key, *at, *close).await? {
                        tracing::info!(id = %i.id, key, close, "incident condition cleared");
                        changed.push(i);
                    }
                    if *close {
                        self.open.remove(key);
                    }
                }
            }
        }
        for (key, e) in evidence {
            self.touch(store, key, e, &mut changed).await?;
        }
        if !state.is_empty() {
            store.save_rule_state(state).await?;
        }
        // Keep the newest state of each incident only (the last of equal versions: evidence
        // does not bump the version).
        let mut newest: HashMap<IncidentId, Incident> = HashMap::new();
        for i in changed {
            match newest.get(&i.id) {
                Some(old) if old.version > i.version => {}
                _ => {
                    newest.insert(i.id, i);
                }
            }
        }
        let mut out: Vec<Incident> = newest.into_values().collect();
        out.sort_by_key(|i| i.id);
        Ok(out)
    }

    async fn touch(
        &mut self,
        store: &SharedStore,
        key: &str,
        e: Evidence,
        changed: &mut Vec<Incident>,
    ) -> Result<(), StoreError> {
        let Some(&id) = self.open.get(key) else {
            return Ok(());
        };
        match store.touch_incident(id, e.last, e.count, e.peak).await {
            Ok(i) => changed.push(i),
            // Closed or gone meanwhile: evidence for it has nowhere to go.
            Err(StoreError::Conflict(_) | StoreError::NotFound(_)) => {
                self.open.remove(key);
            }
            Err(e) => return Err(e),
        }
        Ok(())
    }
}
