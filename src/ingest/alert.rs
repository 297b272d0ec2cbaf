//! Video-AI alerts: one JSON object per alert, the same decoder for MQTT and the HTTP
//! webhook.
//!
//! ```json
//! {"id": "plat-8812", "camera_id": "CAM-0042", "event_type": "smoke", "confidence": 0.93,
//!  "time": "2026-01-01T08:00:00+08:00", "snapshot_url": "https://vms.example/s/8812.jpg",
//!  "lon": 103.01, "lat": 30.01}
//! ```
//!
//! `time` is RFC 3339 or Unix seconds. `camera_id` may come from the topic instead (both
//! must agree when both are given). `snapshot_url`, `lon` / `lat` are optional. The
//! alert's location is the camera's, or where `lon` / `lat` fall in the city when given
//! (a PTZ camera may report where it is looking).

use super::compact::check_position;
use super::nonfinite::quote_non_finite;
use super::scalar::{Field, json_detail};
use super::validate::check_time;
use super::{Limits, Rejection, quote};
use crate::model::{CameraId, RejectReason, Timestamp, VideoAlert};
use crate::spatial::City;
use serde::Deserialize;
use std::borrow::Cow;

/// Longest `id` accepted (platform ids are short; this bounds the unique index).
const MAX_ID_LEN: usize = 256;
const MAX_URL_LEN: usize = 2048;
const MAX_EVENT_TYPE_LEN: usize = 64;

#[derive(Debug, Deserialize)]
struct RawAlert<'a> {
    #[serde(borrow, default)]
    id: Option<Field<'a>>,
    #[serde(borrow, default)]
    camera_id: Option<Field<'a>>,
    #[serde(borrow, default)]
    event_type: Option<Field<'a>>,
    #[serde(borrow, default)]
    confidence: Option<Field<'a>>,
    #[serde(borrow, default)]
    time: Option<Field<'a>>,
    #[serde(borrow, default)]
    snapshot_url: Option<Field<'a>>,
    #[serde(borrow, default)]
    lon: Option<Field<'a>>,
    #[serde(borrow, default)]
    lat: Option<Field<'a>>,
}

fn malformed(msg: String) -> Rejection {
    Rejection::malformed(msg)
}

fn required<'a>(f: Option<Field<'a>>, key: &str) -> Result<Cow<'a, str>, Rejection> {
    match f {
        None | Some(Field::Null) => Err(malformed(format!("missing {key:?}"))),
        Some(Field::Str(s)) if !s.is_empty() => Ok(s),
        Some(other) => Err(malformed(format!(
            "{key:?} must be a non-empty string, got {}",
            other.kind()
        ))),
    }
}

/// Decodes and validates one alert. `topic_camera` is the topic's `{camera_id}`.
pub fn validate_video_alert(
    city: &City,
    limits: &Limits,
    now: Timestamp,
    topic_camera: Option<&str>,
    payload: &[u8],
) -> Result<VideoAlert, Rejection> {
    if payload.len() > limits.max_payload_bytes {
        return Err(Rejection::new(
            RejectReason::Oversize,
            format!(
                "payload of {} bytes, more than the limit of {}",
                payload.len(),
                limits.max_payload_bytes
            ),
        ));
    }
    let fixed;
    let raw: RawAlert<'_> = match serde_json::from_slice(payload) {
        Ok(raw) => raw,
        Err(e) => {
            fixed = quote_non_finite(payload).ok_or_else(|| malformed(json_detail(&e)))?;
            serde_json::from_slice(&fixed).map_err(|_| malformed(json_detail(&e)))?
        }
    };
    let source_id = required(raw.id, "id")?;
    if source_id.len() > MAX_ID_LEN || source_id.chars().any(char::is_control) {
        return Err(malformed(format!(
            "\"id\" {} is too long or has control characters",
            quote(&source_id)
        )));
    }
    let camera_id = camera_id(raw.camera_id, topic_camera)?;
    let event_type = required(raw.event_type, "event_type")?;
    let event_ok = event_type.len() <= MAX_EVENT_TYPE_LEN
        && event_type
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
    if !event_ok {
        return Err(malformed(format!(
            "\"event_type\" {} must match [a-z0-9_]{{1,64}}",
            quote(&event_type)
        )));
    }
    let confidence = confidence(raw.confidence)?;
    let time = time(raw.time)?;
    let snapshot_url = snapshot_url(raw.snapshot_url)?;
    let position = match (raw.lon, raw.lat) {
        (None, None) => None,
        (Some(lon), Some(lat)) => Some(check_position(&lon, &lat)?),
        _ => {
            return Err(malformed(
                "give both \"lon\" and \"lat\", or neither".into(),
            ));
        }
    };
    let camera = city.camera(&camera_id).ok_or_else(|| {
        Rejection::new(
            RejectReason::UnknownCamera,
            format!("camera {} is not in the registry", quote(&camera_id)),
        )
    })?;
    check_time(now, limits, time, &"alert")?;
    Ok(VideoAlert {
        source_id: source_id.into_owned(),
        camera: CameraId::clone(&camera.id),
        event_type: event_type.into_owned(),
        confidence,
        time,
        snapshot_url,
        location: match position {
            Some((lon, lat)) => city.locate(lon, lat),
            None => camera.location.clone(),
        },
    })
}

fn camera_id<'a>(
    field: Option<Field<'a>>,
    topic: Option<&'a str>,
) -> Result<Cow<'a, str>, Rejection> {
    let given = match field {
        None | Some(Field::Null) => None,
        f => Some(required(f, "camera_id")?),
    };
    match (given, topic) {
        (Some(c), Some(t)) if c != t => Err(malformed(format!(
            "\"camera_id\" {} differs from the topic's camera {}",
            quote(&c),
            quote(t)
        ))),
        (_, Some(t)) => Ok(Cow::Borrowed(t)),
        (Some(c), None) => Ok(c),
        (None, None) => Err(malformed(
            "no camera id: the topic names none and \"camera_id\" is missing".into(),
        )),
    }
}

fn confidence(f: Option<Field<'_>>) -> Result<f64, Rejection> {
    let f = f.ok_or_else(|| malformed("missing \"confidence\"".into()))?;
    let c = f
        .num()
        .map_err(|kind| malformed(format!("\"confidence\" must be a number, got {kind}")))?;
    if !c.is_finite() {
        return Err(Rejection::new(
            RejectReason::NonFinite,
            format!("\"confidence\" is {c}"),
        ));
    }
    if !(0.0..=1.0).contains(&c) {
        return Err(Rejection::new(
            RejectReason::OutOfRange,
            format!("\"confidence\" {c} is outside [0, 1]"),
        ));
    }
    Ok(c)
}

fn time(f: Option<Field<'_>>) -> Result<Timestamp, Rejection> {
    match f {
        None | Some(Field::Null) => Err(malformed("missing \"time\"".into())),
        Some(Field::Str(s)) => Timestamp::parse_rfc3339(&s)
            .ok_or_else(|| malformed(format!("\"time\" {} is not RFC 3339", quote(&s)))),
        Some(f) => {
            let secs = f.num().map_err(|kind| {
                malformed(format!(
                    "\"time\" must be RFC 3339 or Unix seconds, got {kind}"
                ))
            })?;
            if !secs.is_finite() {
                return Err(Rejection::new(
                    RejectReason::NonFinite,
                    format!("\"time\" is {secs}"),
                ));
            }
            Timestamp::from_secs_f64(secs)
                .ok_or_else(|| malformed(format!("\"time\" {secs} is out of range")))
        }
    }
}

fn snapshot_url(f: Option<Field<'_>>) -> Result<Option<String>, Rejection> {
    let url = match f {
        None | Some(Field::Null) => return Ok(None),
        f => required(f, "snapshot_url")?,
    };
    let lower = url.get(..8).unwrap_or(&url).to_ascii_lowercase();
    let rest = if lower.starts_with("https://") {
        &url[8..]
    } else if lower.starts_with("http://") {
        &url[7..]
    } else {
        return Err(malformed(format!(
            "\"snapshot_url\" {} is not http(s)",
            quote(&url)
        )));
    };
    if url.len() > MAX_URL_LEN {
        return Err(malformed(format!(
            "\"snapshot_url\" is {} chars, more than {MAX_URL_LEN}",
            url.len()
        )));
    }
    if rest.is_empty()
        || rest.starts_with('/')
        || url.chars().any(|c| c.is_control() || c.is_whitespace())
    {
        return Err(malformed(format!(
            "\"snapshot_url\" {} has no host or has spaces",
            quote(&url)
        )));
    }
    Ok(Some(url.into_owned()))
}
