//! Backend-neutral preparation of an ingest batch: which rows are distinct, which value
//! is newest per (sensor, metric), and how the keys a database reports as inserted map
//! back to positions in the batch.

use super::{StoreError, StoreResult};
use crate::model::{Reading, Timestamp, VideoAlert};
use std::collections::HashMap;
use std::collections::hash_map::Entry;

/// The identity of a reading: (sensor, metric, time in microseconds).
pub(crate) type ReadingKey<'a> = (&'a str, &'a str, i64);

/// The distinct readings of a batch.
pub(crate) struct DistinctReadings<'a> {
    /// Indices into the batch of each key's first occurrence, in key order. Only these are
    /// sent to the database: a later duplicate within the batch is never new. Key order
    /// makes concurrent writers take index locks in the same order (no deadlocks) and
    /// keeps b-tree inserts local.
    pub first: Vec<usize>,
    by_key: HashMap<ReadingKey<'a>, usize>,
}

impl<'a> DistinctReadings<'a> {
    pub fn new(readings: &'a [Reading]) -> Self {
        let mut first = Vec::with_capacity(readings.len());
        let mut by_key = HashMap::with_capacity(readings.len());
        for (i, r) in readings.iter().enumerate() {
            if let Entry::Vacant(v) = by_key.entry(key(r)) {
                v.insert(i);
                first.push(i);
            }
        }
        first.sort_unstable_by_key(|&i| key(&readings[i]));
        Self { first, by_key }
    }

    /// Position in the batch of the first reading with this key, if the batch has one.
    pub fn position(&self, sensor: &str, metric: &str, time: i64) -> Option<usize> {
        self.by_key.get(&(sensor, metric, time)).copied()
    }

    /// Marks as new the reading a database reported inserted; `Corrupt` if the batch has
    /// no such reading.
    pub fn mark_new(
        &self,
        sensor: &str,
        metric: &str,
        time: Timestamp,
        new: &mut [bool],
    ) -> StoreResult<()> {
        let i = self
            .position(sensor, metric, time.micros())
            .ok_or_else(|| {
                StoreError::Corrupt(format!(
                    "insert returned a reading not in the batch: {sensor}/{metric}@{}",
                    time.micros()
                ))
            })?;
        new[i] = true;
        Ok(())
    }
}

fn key(r: &Reading) -> ReadingKey<'_> {
    (r.sensor.as_str(), r.metric.as_str(), r.time.micros())
}

/// The newest reading per (sensor, metric) of a batch, sorted by (sensor, metric) so that
/// concurrent upserts lock rows in the same order. On equal times the first one wins, as
/// it does in the readings table.
pub(crate) fn newest_per_metric(readings: &[Reading]) -> Vec<&Reading> {
    let mut newest: HashMap<(&str, &str), &Reading> = HashMap::new();
    for r in readings {
        newest
            .entry((r.sensor.as_str(), r.metric.as_str()))
            .and_modify(|cur| {
                if r.time > cur.time {
                    *cur = r;
                }
            })
            .or_insert(r);
    }
    let mut out: Vec<&Reading> = newest.into_values().collect();
    out.sort_unstable_by(|a, b| {
        (a.sensor.as_str(), a.metric.as_str()).cmp(&(b.sensor.as_str(), b.metric.as_str()))
    });
    out
}

/// The distinct alerts of a batch by source id, in first-occurrence order.
pub(crate) struct DistinctAlerts<'a> {
    pub first: Vec<usize>,
    by_id: HashMap<&'a str, usize>,
}

impl<'a> DistinctAlerts<'a> {
    pub fn new(alerts: &'a [VideoAlert]) -> Self {
        let mut first = Vec::with_capacity(alerts.len());
        let mut by_id = HashMap::with_capacity(alerts.len());
        for (i, a) in alerts.iter().enumerate() {
            if let Entry::Vacant(v) = by_id.entry(a.source_id.as_str()) {
                v.insert(i);
                first.push(i);
            }
        }
        Self { first, by_id }
    }

    pub fn position(&self, source_id: &str) -> Option<usize> {
        self.by_id.get(source_id).copied()
    }

    /// Marks as new the alert a database reported inserted; `Corrupt` if the batch has no
    /// such alert.
    pub fn mark_new(&self, source_id: &str, new: &mut [bool]) -> StoreResult<()> {
        let i = self.position(source_id).ok_or_else(|| {
            StoreError::Corrupt(format!(
                "insert returned an alert not in the batch: {source_id}"
            ))
        })?;
        new[i] = true;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::SensorId;

    fn r(sensor: &str, metric: &str, t: i64, v: f64) -> Reading {
        Reading {
            sensor: SensorId::new(sensor),
            metric: metric.into(),
            time: Timestamp(t),
            value: v,
        }
    }

    #[test]
    fn first_occurrence_wins_within_a_batch() {
        let rs = [
            r("a", "m", 2, 1.0),
            r("a", "m", 1, 2.0),
            r("a", "m", 2, 3.0),
        ];
        let d = DistinctReadings::new(&rs);
        assert_eq!(d.first, vec![1, 0]);
        assert_eq!(d.position("a", "m", 2), Some(0));
        assert_eq!(d.position("a", "x", 1), None);
    }

    #[test]
    fn newest_per_metric_keeps_latest_time_and_first_on_ties() {
        let rs = [
            r("a", "m", 5, 1.0),
            r("a", "m", 9, 2.0),
            r("a", "m", 9, 3.0),
            r("a", "n", 1, 4.0),
        ];
        let n = newest_per_metric(&rs);
        assert_eq!(n.len(), 2);
        assert_eq!((n[0].time.micros(), n[0].value), (9, 2.0));
        assert_eq!(n[1].value, 4.0);
    }
}
