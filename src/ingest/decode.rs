//! Sensor payload decoding: size check, form detection (SenML pack or compact object), the
//! non-finite retry, and the output both forms share.
//!
//! Decoding borrows from the payload (and the topic): ids, metric names and units are
//! `Cow::Borrowed` unless the JSON escapes them or SenML has to join a base name to a name,
//! so a message costs one `Vec` of records and one of readings, not an allocation per record.

use super::nonfinite::quote_non_finite;
use super::scalar::json_detail;
use super::{Limits, Rejection, compact, senml};
use crate::model::{RejectReason, Timestamp};
use std::borrow::Cow;

/// One numeric reading as the payload states it, before any registry check.
#[derive(Debug, Clone, PartialEq)]
pub struct DecodedReading<'a> {
    /// Position of the record in the message (SenML record, compact `values` entry), for
    /// rejection details.
    pub index: u32,
    pub sensor: Cow<'a, str>,
    /// `None`: the sensor's default (first) metric.
    pub metric: Option<Cow<'a, str>>,
    /// The unit the payload states, if any; validation compares it with the metric's.
    pub unit: Option<Cow<'a, str>>,
    pub time: Timestamp,
    /// May be NaN or infinite: validation rejects those as `non_finite`.
    pub value: f64,
}

/// What a payload decoded to.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Decoded<'a> {
    pub readings: Vec<DecodedReading<'a>>,
    /// Records refused while decoding (bad name, bad type, no value...).
    pub rejected: Vec<Rejection>,
    /// SenML records with a string (`vs`) or data (`vd`) value: well-formed but not numeric
    /// readings, so not stored and not dead-lettered, only counted.
    pub skipped: usize,
    /// `(lon, lat)` the compact form may state; checked, not used for location.
    pub position: Option<(f64, f64)>,
}

/// The two sensor payload forms.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PayloadForm {
    /// RFC 8428 SenML JSON: an array of records.
    SenMl,
    /// Our compact object for small devices (`docs/ingest.md`).
    Compact,
}

impl PayloadForm {
    /// Told apart by the first non-whitespace byte: `[` or `{`.
    pub fn detect(payload: &[u8]) -> Option<Self> {
        match payload.iter().find(|b| !b.is_ascii_whitespace()) {
            Some(b'[') => Some(Self::SenMl),
            Some(b'{') => Some(Self::Compact),
            _ => None,
        }
    }
}

/// What the form decoders need besides the payload.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Ctx<'a> {
    /// `{sensor_id}` from the topic, if the topic pattern has one.
    pub topic_sensor: Option<&'a str>,
    pub now: Timestamp,
    pub max_records: usize,
}

impl Ctx<'_> {
    pub(crate) fn too_many(&self, n: usize) -> Option<Rejection> {
        (n > self.max_records).then(|| {
            Rejection::new(
                RejectReason::Oversize,
                format!("{n} records, more than the limit of {}", self.max_records),
            )
        })
    }
}

/// Decodes a sensor payload. `Err` refuses the whole message; per-record problems are in
/// `Decoded::rejected`. `scratch` holds a re-spelled copy of the payload when it carries
/// non-finite numbers (see `nonfinite`), so the readings may borrow from it.
pub fn decode_sensor_payload<'a>(
    payload: &'a [u8],
    topic_sensor: Option<&'a str>,
    now: Timestamp,
    limits: &Limits,
    scratch: &'a mut Vec<u8>,
) -> Result<Decoded<'a>, Rejection> {
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
    // JSON is UTF-8 (RFC 8259 §8.1). The parser checks the strings it reads, but skips the
    // fields it ignores unchecked, so check the whole payload once.
    if let Err(e) = std::str::from_utf8(payload) {
        return Err(Rejection::malformed(format!(
            "payload is not UTF-8 (invalid byte at offset {})",
            e.valid_up_to()
        )));
    }
    let form = PayloadForm::detect(payload).ok_or_else(|| {
        Rejection::malformed(
            "payload is neither a SenML array ([...]) nor a compact object ({...})",
        )
    })?;
    let ctx = Ctx {
        topic_sensor,
        now,
        max_records: limits.max_records,
    };
    match decode_form(form, payload, &ctx) {
        Err(FormError::Json(e)) => {
            let Some(fixed) = quote_non_finite(payload) else {
                return Err(Rejection::malformed(json_detail(&e)));
            };
            *scratch = fixed;
            let fixed: &'a Vec<u8> = scratch;
            decode_form(form, fixed, &ctx).map_err(|retry| match retry {
                // Report the first error: it is about the bytes the device sent.
                FormError::Json(_) => Rejection::malformed(json_detail(&e)),
                FormError::Rejected(r) => r,
            })
        }
        other => other.map_err(|e| match e {
            FormError::Json(e) => Rejection::malformed(json_detail(&e)),
            FormError::Rejected(r) => r,
        }),
    }
}

pub(crate) enum FormError {
    Json(serde_json::Error),
    Rejected(Rejection),
}

impl From<Rejection> for FormError {
    fn from(r: Rejection) -> Self {
        Self::Rejected(r)
    }
}

fn decode_form<'a>(
    form: PayloadForm,
    bytes: &'a [u8],
    ctx: &Ctx<'a>,
) -> Result<Decoded<'a>, FormError> {
    match form {
        PayloadForm::SenMl => senml::decode(bytes, ctx),
        PayloadForm::Compact => compact::decode(bytes, ctx),
    }
}

/// Event time from SenML / compact seconds; `None` if beyond what a timestamp holds.
pub(crate) fn micros_from_secs(secs: f64) -> Option<i64> {
    let us = (secs * 1e6).round();
    (us.is_finite() && us.abs() < 9.0e18).then_some(us as i64)
}
