//! The threshold seam: per (sensor kind, metric), a level above which an incident opens.
//!
//! State is one entry per sensor metric currently above its threshold, rebuilt from the
//! store's open incidents at start, so a restart neither duplicates nor forgets an
//! incident. Readings older than the newest one seen for a sensor metric do not change
//! its state (they are stored, but a late value must not reopen or clear anything).

use crate::config::Threshold;
use crate::model::{Incident, IncidentId, Reading, SensorId, Timestamp};
use crate::spatial::City;
use crate::store::{IncidentFilter, NewIncident, SharedStore, StoreError};
use metrics::counter;
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

pub struct ThresholdSeam {
    city: Arc<City>,
    thresholds: BTreeMap<String, BTreeMap<String, Threshold>>,
    /// Open incident per dedup key.
    open: HashMap<String, IncidentId>,
    /// Newest event time evaluated per (sensor, metric).
    newest: HashMap<(SensorId, String), Timestamp>,
}

/// Evidence gathered for one open incident within a batch.
struct Evidence {
    count: i64,
    last: Timestamp,
    peak: f64,
}

fn add_evidence(evidence: &mut HashMap<IncidentId, Evidence>, id: IncidentId, r: &Reading) {
    let e = evidence.entry(id).or_insert(Evidence {
        count: 0,
        last: r.time,
        peak: r.value,
    });
    e.count += 1;
    e.last = e.last.max(r.time);
    e.peak = e.peak.max(r.value);
}

impl ThresholdSeam {
    pub async fn load(
        city: Arc<City>,
        thresholds: BTreeMap<String, BTreeMap<String, Threshold>>,
        store: &SharedStore,
    ) -> Result<Self, StoreError> {
        let open = store
            .incidents(&IncidentFilter {
                open_only: true,
                district: None,
                limit: u32::MAX,
            })
            .await?
            .into_iter()
            .filter(|i| i.dedup_key.starts_with("threshold:"))
            .map(|i| (i.dedup_key, i.id))
            .collect();
        Ok(Self {
            city,
            thresholds,
            open,
            newest: HashMap::new(),
        })
    }

    pub fn dedup_key(sensor: &SensorId, metric: &str) -> String {
        format!("threshold:{sensor}:{metric}")
    }

    /// Evaluates new readings in event-time order per sensor metric and writes the
    /// resulting incident changes. Returns the changed incidents, to announce.
    pub async fn apply(
        &mut self,
        store: &SharedStore,
        readings: &[&Reading],
    ) -> Result<Vec<Incident>, StoreError> {
        let mut changed = Vec::new();
        let mut evidence: HashMap<IncidentId, Evidence> = HashMap::new();
        for r in readings {
            let Some(sensor) = self.city.sensor(r.sensor.as_str()) else {
                continue;
            };
            let Some(th) = self
                .thresholds
                .get(&sensor.kind)
                .and_then(|m| m.get(&r.metric))
            else {
                continue;
            };
            let slot = self
                .newest
                .entry((r.sensor.clone(), r.metric.clone()))
                .or_insert(Timestamp::from_micros(i64::MIN));
            let key = Self::dedup_key(&r.sensor, &r.metric);
            let above = r.value > th.above;
            if r.time < *slot {
                // Late (several intake sessions, or a device's buffer): it never opens or
                // clears an incident, but an over-threshold value is still evidence.
                if let (true, Some(id)) = (above, self.open.get(&key).copied()) {
                    add_evidence(&mut evidence, id, r);
                }
                continue;
            }
            *slot = r.time;
            match (above, self.open.get(&key).copied()) {
                (true, Some(id)) => {
                    add_evidence(&mut evidence, id, r);
                }
                (true, None) => {
                    let new = NewIncident {
                        dedup_key: key.clone(),
                        category: th.category.clone(),
                        severity: th.severity,
                        title: format!(
                            "{} {} {} above {} at {}",
                            sensor.name, r.metric, r.value, th.above, sensor.id
                        ),
                        source: Some(sensor.id.to_string()),
                        location: sensor.location.clone(),
                        opened_at: r.time,
                        peak: Some(r.value),
                    };
                    let (incident, created) = store.open_incident(&new).await?;
                    if created {
                        counter!("cityops_incidents_opened_total", "category" => th.category.clone())
                            .increment(1);
                        tracing::info!(id = %incident.id, key, "incident opened");
                    }
                    self.open.insert(key, incident.id);
                    changed.push(incident);
                }
                (false, Some(id)) => {
                    if let Some(e) = evidence.remove(&id) {
                        store
                            .touch_incident(id, e.last, e.count, Some(e.peak))
                            .await?;
                    }
                    if let Some(incident) = store.clear_incident(&key, r.time).await? {
                        tracing::info!(id = %incident.id, key, "incident cleared");
                        changed.push(incident);
                    }
                    self.open.remove(&key);
                }
                (false, None) => {}
            }
        }
        for (id, e) in evidence {
            changed.push(
                store
                    .touch_incident(id, e.last, e.count, Some(e.peak))
                    .await?,
            );
        }
        // Keep the newest change per incident only.
        let mut seen = std::collections::HashSet::new();
        let mut out: Vec<Incident> = changed
            .into_iter()
            .rev()
            .filter(|i| seen.insert(i.id))
            .collect();
        out.reverse();
        Ok(out)
    }
}
