//! The compact JSON form, for devices too small for SenML (described in `docs/ingest.md`):
//!
//! ```json
//! {"t": 1767225600.5, "v": 1.27}
//! {"ts": "2026-01-01T00:00:00Z", "values": {"level": 1.27, "battery": 3.6}, "id": "WL-00017"}
//! ```
//!
//! `t` is Unix seconds (a number, absolute) and `ts` an RFC 3339 string; give at most one,
//! none means "now". `v` is the sensor's default metric, `values` names metrics; exactly
//! one of the two. `id` names the sensor when the topic does not (both must agree when both
//! do). `lon` / `lat` (both or neither) are checked but not used: the registry places
//! sensors. Unknown fields are ignored so devices can add diagnostics.

use super::decode::{Ctx, Decoded, DecodedReading, FormError, micros_from_secs};
use super::scalar::{Entries, Field};
use super::{Rejection, quote};
use crate::model::{RejectReason, Timestamp};
use crate::spatial::valid_lon_lat;
use serde::Deserialize;
use std::borrow::Cow;

#[derive(Debug, Deserialize)]
struct RawCompact<'a> {
    #[serde(borrow, default)]
    id: Option<Field<'a>>,
    #[serde(borrow, default)]
    t: Option<Field<'a>>,
    #[serde(borrow, default)]
    ts: Option<Field<'a>>,
    #[serde(borrow, default)]
    v: Option<Field<'a>>,
    #[serde(borrow, default)]
    values: Option<Entries<'a>>,
    #[serde(borrow, default)]
    lon: Option<Field<'a>>,
    #[serde(borrow, default)]
    lat: Option<Field<'a>>,
}

fn malformed(msg: String) -> FormError {
    FormError::Rejected(Rejection::malformed(msg))
}

/// Decodes a compact object.
pub(crate) fn decode<'a>(bytes: &'a [u8], ctx: &Ctx<'a>) -> Result<Decoded<'a>, FormError> {
    let raw: RawCompact<'a> = serde_json::from_slice(bytes).map_err(FormError::Json)?;
    let sensor = sensor(raw.id, ctx.topic_sensor)?;
    let time = time(raw.t, raw.ts, ctx.now)?;
    let position = position(raw.lon, raw.lat)?;
    let mut out = Decoded {
        position,
        ..Decoded::default()
    };
    let entry = |index: usize,
                 metric: Option<Cow<'a, str>>,
                 field: &Field<'a>|
     -> Result<DecodedReading<'a>, Rejection> {
        let value = field.num().map_err(|kind| {
            let what = metric
                .as_deref()
                .map_or_else(|| "\"v\"".to_string(), |m| format!("values.{}", quote(m)));
            Rejection::malformed(format!("{what} must be a number, got {kind}"))
        })?;
        Ok(DecodedReading {
            index: index as u32,
            sensor: sensor.clone(),
            metric,
            unit: None,
            time,
            value,
        })
    };
    match (raw.v, raw.values) {
        (Some(v), None) => match entry(0, None, &v) {
            Ok(r) => out.readings.push(r),
            Err(e) => return Err(e.into()),
        },
        (None, Some(Entries(values))) => {
            if values.is_empty() {
                return Err(malformed("\"values\" is empty".into()));
            }
            if let Some(r) = ctx.too_many(values.len()) {
                return Err(r.into());
            }
            out.readings.reserve(values.len());
            for (i, (name, field)) in values.into_iter().enumerate() {
                match entry(i, Some(name), &field) {
                    Ok(r) => out.readings.push(r),
                    Err(e) => out.rejected.push(e),
                }
            }
        }
        (Some(_), Some(_)) => {
            return Err(malformed(
                "give either \"v\" or \"values\", not both".into(),
            ));
        }
        (None, None) => return Err(malformed("no value: needs \"v\" or \"values\"".into())),
    }
    Ok(out)
}

fn sensor<'a>(id: Option<Field<'a>>, topic: Option<&'a str>) -> Result<Cow<'a, str>, FormError> {
    let id = match id {
        None | Some(Field::Null) => None,
        Some(Field::Str(s)) if !s.is_empty() => Some(s),
        Some(other) => {
            return Err(malformed(format!(
                "\"id\" must be a non-empty string, got {}",
                other.kind()
            )));
        }
    };
    match (id, topic) {
        (Some(id), Some(t)) if id != t => Err(malformed(format!(
            "\"id\" {} differs from the topic's sensor {}",
            quote(&id),
            quote(t)
        ))),
        (_, Some(t)) => Ok(Cow::Borrowed(t)),
        (Some(id), None) => Ok(id),
        (None, None) => Err(malformed(
            "no sensor id: the topic names none and \"id\" is missing".into(),
        )),
    }
}

fn time(
    t: Option<Field<'_>>,
    ts: Option<Field<'_>>,
    now: Timestamp,
) -> Result<Timestamp, FormError> {
    match (t, ts) {
        (Some(_), Some(_)) => Err(malformed("give either \"t\" or \"ts\", not both".into())),
        (None, None) => Ok(now),
        (Some(t), None) => {
            let secs = t.num().map_err(|kind| {
                malformed(format!("\"t\" must be a number of seconds, got {kind}"))
            })?;
            if !secs.is_finite() {
                return Err(
                    Rejection::new(RejectReason::NonFinite, format!("\"t\" is {secs}")).into(),
                );
            }
            micros_from_secs(secs)
                .map(Timestamp::from_micros)
                .ok_or_else(|| malformed(format!("\"t\" {secs} is out of range")))
        }
        (None, Some(ts)) => {
            let s = ts.into_str().map_err(|kind| {
                malformed(format!("\"ts\" must be an RFC 3339 string, got {kind}"))
            })?;
            Timestamp::parse_rfc3339(&s)
                .ok_or_else(|| malformed(format!("\"ts\" {} is not RFC 3339", quote(&s))))
        }
    }
}

fn position(
    lon: Option<Field<'_>>,
    lat: Option<Field<'_>>,
) -> Result<Option<(f64, f64)>, FormError> {
    let (lon, lat) = match (lon, lat) {
        (None, None) => return Ok(None),
        (Some(lon), Some(lat)) => (lon, lat),
        _ => {
            return Err(malformed(
                "give both \"lon\" and \"lat\", or neither".into(),
            ));
        }
    };
    check_position(&lon, &lat)
        .map(Some)
        .map_err(FormError::Rejected)
}

/// Shared with video alerts: `lon` / `lat` fields → a WGS84 position.
pub(crate) fn check_position(lon: &Field<'_>, lat: &Field<'_>) -> Result<(f64, f64), Rejection> {
    let num = |f: &Field<'_>, key: &str| {
        f.num()
            .map_err(|kind| Rejection::malformed(format!("{key:?} must be a number, got {kind}")))
    };
    let (x, y) = (num(lon, "lon")?, num(lat, "lat")?);
    if !x.is_finite() || !y.is_finite() {
        return Err(Rejection::new(
            RejectReason::NonFinite,
            format!("position [{x}, {y}] is not finite"),
        ));
    }
    if !valid_lon_lat(x, y) {
        return Err(Rejection::new(
            RejectReason::BadCoordinates,
            format!("position [{x}, {y}] is outside WGS84 (|lon| <= 180, |lat| <= 90)"),
        ));
    }
    Ok((x, y))
}
