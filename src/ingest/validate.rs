//! Validation of decoded readings against the city registry and the time limits, giving
//! owned [`Reading`]s enriched with their sensor's registry entry.
//!
//! Checks per reading, in this order (the first failing one is the reason):
//! `non_finite` (NaN / ±inf value), `unknown_sensor`, `unknown_metric`, `malformed` (a
//! stated unit different from the metric's: no conversion is attempted), `out_of_range`
//! (outside the metric's `[min, max]`), `future_timestamp` (after `now + max_future`),
//! `stale_timestamp` (before `now - max_past`). A rejected reading does not affect the
//! others of its message. Then, across the message: a second reading for the same sensor,
//! metric and time with a different value is `conflict` (the first is kept); one with the
//! same value is left for the store, which counts it as a duplicate.

use super::decode::{Decoded, DecodedReading, decode_sensor_payload};
use super::{Limits, Rejection, quote};
use crate::model::{Reading, RejectReason, SensorInfo, Timestamp};
use crate::spatial::City;
use std::sync::Arc;

/// The outcome of one message.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Validated {
    pub readings: Vec<Reading>,
    /// `sensors[i]` is the registry entry of `readings[i].sensor`, giving its location
    /// without a second lookup.
    pub sensors: Vec<Arc<SensorInfo>>,
    pub rejected: Vec<Rejection>,
    /// Well-formed records that are not numeric readings (SenML `vs` / `vd`).
    pub skipped: usize,
}

impl Validated {
    fn rejected(r: Rejection) -> Self {
        Self {
            rejected: vec![r],
            ..Self::default()
        }
    }

    /// Readings with their sensors.
    pub fn enriched(&self) -> impl Iterator<Item = (&Reading, &Arc<SensorInfo>)> {
        self.readings.iter().zip(&self.sensors)
    }
}

/// Decodes and validates one sensor message. `topic_sensor` is the topic's `{sensor_id}`.
pub fn validate_sensor_message(
    city: &City,
    limits: &Limits,
    now: Timestamp,
    topic_sensor: Option<&str>,
    payload: &[u8],
) -> Validated {
    let mut scratch = Vec::new();
    match decode_sensor_payload(payload, topic_sensor, now, limits, &mut scratch) {
        Ok(decoded) => validate_decoded(city, limits, now, decoded),
        Err(r) => Validated::rejected(r),
    }
}

/// Validates what [`decode_sensor_payload`] produced.
pub fn validate_decoded(
    city: &City,
    limits: &Limits,
    now: Timestamp,
    decoded: Decoded<'_>,
) -> Validated {
    let mut out = Validated {
        readings: Vec::with_capacity(decoded.readings.len()),
        sensors: Vec::with_capacity(decoded.readings.len()),
        rejected: decoded.rejected,
        skipped: decoded.skipped,
    };
    if let Some((lon, lat)) = decoded.position {
        // Decoding already refused non-WGS84 positions; nothing else to check here, the
        // registry position is the one used.
        debug_assert!(crate::spatial::valid_lon_lat(lon, lat));
    }
    let window = TimeWindow::new(now, limits);
    // Record index of each accepted reading, for conflict details.
    let mut indices: Vec<u32> = Vec::with_capacity(decoded.readings.len());
    // Packs usually carry one sensor: remember the last lookup.
    let mut last: Option<&Arc<SensorInfo>> = None;
    for r in decoded.readings {
        let sensor = match last {
            Some(s) if s.id.as_str() == r.sensor => Some(s),
            _ => city.sensor(&r.sensor),
        };
        last = sensor.or(last);
        match check(&r, sensor, &window) {
            Ok((sensor, metric)) => {
                out.readings.push(Reading {
                    sensor: sensor.id.clone(),
                    metric: metric.to_owned(),
                    time: r.time,
                    value: r.value,
                });
                out.sensors.push(Arc::clone(sensor));
                indices.push(r.index);
            }
            Err(rejection) => out.rejected.push(rejection),
        }
    }
    reject_conflicts(&mut out, &indices);
    out
}

/// Removes every reading that repeats an earlier one's sensor, metric and time with a
/// different value, rejecting it as `conflict`. Sorting positions keeps a 1000-record
/// pack at n log n, with no allocation per record.
fn reject_conflicts(out: &mut Validated, indices: &[u32]) {
    if out.readings.len() < 2 {
        return;
    }
    let key = |i: usize| {
        let r = &out.readings[i];
        (r.sensor.as_str(), r.metric.as_str(), r.time)
    };
    let mut order: Vec<usize> = (0..out.readings.len()).collect();
    // Stable: equal keys stay in message order, so the first of a run is the one kept.
    order.sort_by(|&a, &b| key(a).cmp(&key(b)));
    let mut drop = vec![false; out.readings.len()];
    let mut first = order[0];
    for &i in &order[1..] {
        if key(i) != key(first) {
            first = i;
            continue;
        }
        let (kept, again) = (&out.readings[first], &out.readings[i]);
        if kept.value != again.value {
            drop[i] = true;
            out.rejected.push(Rejection::new(
                RejectReason::Conflict,
                format!(
                    "record #{}: {} {} at {} is {}, but record #{} of this message gave {} (kept)",
                    indices[i],
                    quote(again.sensor.as_str()),
                    quote(&again.metric),
                    again.time,
                    again.value,
                    indices[first],
                    kept.value
                ),
            ));
        }
    }
    if drop.iter().any(|d| *d) {
        let mut keep = drop.iter().map(|d| !d);
        out.readings.retain(|_| keep.next().unwrap_or(true));
        let mut keep = drop.iter().map(|d| !d);
        out.sensors.retain(|_| keep.next().unwrap_or(true));
    }
}

struct TimeWindow {
    earliest: Timestamp,
    latest: Timestamp,
    now: Timestamp,
}

impl TimeWindow {
    fn new(now: Timestamp, limits: &Limits) -> Self {
        Self {
            earliest: now.saturating_add_micros(limits.max_past_us.saturating_neg()),
            latest: now.saturating_add_micros(limits.max_future_us),
            now,
        }
    }

    /// `future_timestamp` / `stale_timestamp`, shared with video alerts.
    pub(crate) fn check(
        &self,
        time: Timestamp,
        what: &dyn std::fmt::Display,
    ) -> Result<(), Rejection> {
        if time > self.latest {
            let ahead = (time.micros() - self.now.micros()) as f64 / 1e6;
            return Err(Rejection::new(
                RejectReason::FutureTimestamp,
                format!("{what}: time {time} is {ahead:.0} s ahead of now"),
            ));
        }
        if time < self.earliest {
            let behind = (self.now.micros().saturating_sub(time.micros())) as f64 / 1e6;
            return Err(Rejection::new(
                RejectReason::StaleTimestamp,
                format!("{what}: time {time} is {behind:.0} s behind now"),
            ));
        }
        Ok(())
    }
}

pub(crate) fn check_time(
    now: Timestamp,
    limits: &Limits,
    time: Timestamp,
    what: &dyn std::fmt::Display,
) -> Result<(), Rejection> {
    TimeWindow::new(now, limits).check(time, what)
}

fn check<'s>(
    r: &DecodedReading<'_>,
    sensor: Option<&'s Arc<SensorInfo>>,
    window: &TimeWindow,
) -> Result<(&'s Arc<SensorInfo>, &'s str), Rejection> {
    let fail = |reason, msg: String| Rejection::new(reason, format!("record #{}: {msg}", r.index));
    if !r.value.is_finite() {
        return Err(fail(
            RejectReason::NonFinite,
            format!("value {} is not finite", r.value),
        ));
    }
    let sensor = sensor.ok_or_else(|| {
        fail(
            RejectReason::UnknownSensor,
            format!("sensor {} is not in the registry", quote(&r.sensor)),
        )
    })?;
    let spec = match &r.metric {
        Some(m) => sensor.metric(m),
        None => sensor.metrics.first(),
    }
    .ok_or_else(|| {
        let m = r.metric.as_deref().unwrap_or("(default)");
        fail(
            RejectReason::UnknownMetric,
            format!("sensor {} has no metric {}", sensor.id, quote(m)),
        )
    })?;
    if let Some(unit) = &r.unit
        && *unit != spec.unit
    {
        return Err(fail(
            RejectReason::Malformed,
            format!(
                "unit {} is not {}'s unit {:?} (units are not converted)",
                quote(unit),
                spec.name,
                spec.unit
            ),
        ));
    }
    if r.value < spec.min || r.value > spec.max {
        return Err(fail(
            RejectReason::OutOfRange,
            format!(
                "{} = {} is outside [{}, {}]",
                spec.name, r.value, spec.min, spec.max
            ),
        ));
    }
    window.check(r.time, &format_args!("record #{}", r.index))?;
    Ok((sensor, &spec.name))
}
