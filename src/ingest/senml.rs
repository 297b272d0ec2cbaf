//! SenML JSON (RFC 8428) packs.
//!
//! Resolution follows RFC 8428 §4: a base field applies to its own record and every later
//! one until another record sets it again; name = base name + name; time = base time +
//! time, and a resolved time below 2^28 s is relative to `now` (so a record without any
//! time is "now"); value = base value + `v`; sum = base sum + `s`; unit = `u`, else base
//! unit. Our choices where the RFC leaves room (also in `docs/ingest.md`):
//!
//! - `v` gives the reading; a record with only `s` (no value field) gives its resolved sum;
//!   `vb` maps to 1 (true) / 0 (false) for switch-like metrics (`open`, `alarm`); `vs` and
//!   `vd` records are skipped and counted in `Decoded::skipped`, not rejected.
//! - Sensor and metric come from the resolved name, see [`split_name`].
//! - Names must use RFC 8428's characters (`A-Z a-z 0-9 - : . / _`, starting with a letter
//!   or digit); anything else rejects that record as `malformed`.
//! - `bver` above 10 (the RFC's version), or different `bver`s in one pack, and any unknown
//!   field ending in `_` ("must understand"), refuse the whole pack, as the RFC requires.

use super::decode::{Ctx, Decoded, DecodedReading, FormError, micros_from_secs};
use super::scalar::{Field, Key};
use super::{Rejection, quote};
use crate::model::{RejectReason, Timestamp};
use serde::de::{Deserialize, Deserializer, MapAccess, Visitor};
use std::borrow::Cow;
use std::fmt;

/// Times below this many seconds are relative to now (RFC 8428 §4.5.3).
const RELATIVE_LIMIT: f64 = (1u64 << 28) as f64;
/// The SenML version this decoder implements.
const VERSION: f64 = 10.0;

/// One record as written, fields not yet resolved.
#[derive(Debug, Default)]
pub(crate) struct RawRecord<'a> {
    bn: Option<Cow<'a, str>>,
    bt: Option<f64>,
    bu: Option<Cow<'a, str>>,
    bv: Option<f64>,
    bs: Option<f64>,
    bver: Option<f64>,
    n: Option<Cow<'a, str>>,
    u: Option<Cow<'a, str>>,
    v: Option<f64>,
    vb: Option<bool>,
    /// `vs` or `vd` present.
    text_value: bool,
    s: Option<f64>,
    t: Option<f64>,
    /// How many of `v`, `vs`, `vb`, `vd` the record has.
    value_fields: u8,
    /// A field of the wrong type: the record is rejected; if it was a base field the pack is.
    problem: Option<(String, bool)>,
    must_understand: Option<String>,
}

fn wrong(problem: &mut Option<(String, bool)>, key: &str, expected: &str, f: &Field<'_>) {
    if problem.is_none() {
        *problem = Some((
            format!("{key:?} must be {expected}, got {}", f.kind()),
            key.starts_with('b'),
        ));
    }
}

fn text<'a>(problem: &mut Option<(String, bool)>, key: &str, f: Field<'a>) -> Option<Cow<'a, str>> {
    match f {
        Field::Str(s) => Some(s),
        other => {
            wrong(problem, key, "a string", &other);
            None
        }
    }
}

fn number(problem: &mut Option<(String, bool)>, key: &str, f: Field<'_>) -> Option<f64> {
    f.num()
        .map_err(|_| wrong(problem, key, "a number", &f))
        .ok()
}

struct RecordVisitor;

impl<'de> Visitor<'de> for RecordVisitor {
    type Value = RawRecord<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a SenML record (JSON object)")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut r = RawRecord::default();
        while let Some(Key(key)) = map.next_key::<Key<'de>>()? {
            let f: Field<'de> = map.next_value()?;
            let p = &mut r.problem;
            match key.as_ref() {
                "bn" => r.bn = text(p, "bn", f),
                "bt" => r.bt = number(p, "bt", f),
                "bu" => r.bu = text(p, "bu", f),
                "bv" => r.bv = number(p, "bv", f),
                "bs" => r.bs = number(p, "bs", f),
                "bver" => r.bver = number(p, "bver", f),
                "n" => r.n = text(p, "n", f),
                "u" => r.u = text(p, "u", f),
                "t" => r.t = number(p, "t", f),
                "s" => r.s = number(p, "s", f),
                "v" => {
                    r.value_fields += 1;
                    r.v = number(p, "v", f);
                }
                "vb" => {
                    r.value_fields += 1;
                    match f {
                        Field::Bool(b) => r.vb = Some(b),
                        other => wrong(p, "vb", "a boolean", &other),
                    }
                }
                "vs" | "vd" => {
                    r.value_fields += 1;
                    r.text_value = true;
                    if !matches!(f, Field::Str(_)) {
                        wrong(p, &key, "a string", &f);
                    }
                }
                other if other.ends_with('_') => r.must_understand = Some(other.to_owned()),
                _ => {} // `ut`, `l` and extensions: ignored, as RFC 8428 §4.4 asks
            }
        }
        Ok(r)
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for RawRecord<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_map(RecordVisitor)
    }
}

/// The base fields in force at a record.
#[derive(Debug, Default)]
struct Base<'a> {
    name: Cow<'a, str>,
    time: f64,
    unit: Option<Cow<'a, str>>,
    value: f64,
    sum: f64,
}

/// Decodes a SenML pack.
pub(crate) fn decode<'a>(bytes: &'a [u8], ctx: &Ctx<'a>) -> Result<Decoded<'a>, FormError> {
    let records: Vec<RawRecord<'a>> = serde_json::from_slice(bytes).map_err(FormError::Json)?;
    check_pack(&records, ctx)?;
    let mut out = Decoded {
        readings: Vec::with_capacity(records.len()),
        ..Decoded::default()
    };
    let mut base = Base::default();
    for (i, mut r) in records.into_iter().enumerate() {
        if let Some(bn) = r.bn.take() {
            base.name = bn;
        }
        if let Some(bu) = r.bu.take() {
            base.unit = Some(bu);
        }
        base.time = r.bt.unwrap_or(base.time);
        base.value = r.bv.unwrap_or(base.value);
        base.sum = r.bs.unwrap_or(base.sum);
        match resolve(i, r, &base, ctx) {
            Ok(Some(reading)) => out.readings.push(reading),
            Ok(None) => out.skipped += 1,
            Err(rejection) => out.rejected.push(rejection),
        }
    }
    Ok(out)
}

/// Checks that concern the whole pack: size, versions, must-understand fields, base fields
/// whose value could not be read (later records would inherit a wrong base).
fn check_pack(records: &[RawRecord<'_>], ctx: &Ctx<'_>) -> Result<(), Rejection> {
    if records.is_empty() {
        return Err(Rejection::malformed("empty SenML pack"));
    }
    if let Some(r) = ctx.too_many(records.len()) {
        return Err(r);
    }
    let mut version: Option<f64> = None;
    for (i, r) in records.iter().enumerate() {
        if let Some(key) = &r.must_understand {
            return Err(Rejection::malformed(format!(
                "record #{i}: field {} must be understood (ends in _) and is not supported",
                quote(key)
            )));
        }
        if let Some((problem, true)) = &r.problem {
            return Err(Rejection::malformed(format!("record #{i}: {problem}")));
        }
        if let Some(v) = r.bver {
            if !(1.0..=VERSION).contains(&v) || v.fract() != 0.0 {
                return Err(Rejection::malformed(format!(
                    "record #{i}: bver {v} is not a SenML version this server understands (1 to 10)"
                )));
            }
            if version.is_some_and(|first| first != v) {
                return Err(Rejection::malformed(format!(
                    "record #{i}: bver {v} differs from an earlier record's"
                )));
            }
            version = Some(v);
        }
    }
    Ok(())
}

/// One resolved record: `Ok(None)` for a string / data value (skipped).
fn resolve<'a>(
    i: usize,
    r: RawRecord<'a>,
    base: &Base<'a>,
    ctx: &Ctx<'a>,
) -> Result<Option<DecodedReading<'a>>, Rejection> {
    let reject = |reason, msg: String| Rejection::new(reason, format!("record #{i}: {msg}"));
    if let Some((problem, _)) = r.problem {
        return Err(reject(RejectReason::Malformed, problem));
    }
    if r.value_fields > 1 {
        return Err(reject(
            RejectReason::Malformed,
            "more than one of v, vs, vb, vd".into(),
        ));
    }
    let value = match (r.v, r.vb, r.s) {
        (Some(v), _, _) => base.value + v,
        (None, Some(b), _) => f64::from(u8::from(b)),
        _ if r.text_value => return Ok(None),
        (None, None, Some(s)) => base.sum + s,
        (None, None, None) => {
            return Err(reject(
                RejectReason::Malformed,
                "no value: needs v, vb, vs, vd or s".into(),
            ));
        }
    };
    let t = base.time + r.t.unwrap_or(0.0);
    if !t.is_finite() {
        return Err(reject(
            RejectReason::NonFinite,
            format!("time {t} is not finite"),
        ));
    }
    let time = if t < RELATIVE_LIMIT {
        micros_from_secs(t).map(|us| ctx.now.saturating_add_micros(us))
    } else {
        micros_from_secs(t).map(Timestamp::from_micros)
    }
    .ok_or_else(|| reject(RejectReason::Malformed, format!("time {t} is out of range")))?;
    let n = r.n.unwrap_or_default();
    check_chars(&base.name, &n).map_err(|m| reject(RejectReason::Malformed, m))?;
    let (sensor, metric) = split_name(&base.name, &n, ctx.topic_sensor)
        .map_err(|m| reject(RejectReason::Malformed, m))?;
    Ok(Some(DecodedReading {
        index: i as u32,
        sensor,
        metric,
        unit: r.u.or_else(|| base.unit.clone()),
        time,
        value,
    }))
}

fn is_sep(b: u8) -> bool {
    b == b':' || b == b'/'
}

/// RFC 8428 §4.5.1: the resolved name uses `A-Z a-z 0-9 - : . / _` and starts with a
/// letter or digit.
fn check_chars(base: &str, n: &str) -> Result<(), String> {
    let ok = |b: u8| b.is_ascii_alphanumeric() || matches!(b, b'-' | b':' | b'.' | b'/' | b'_');
    let first = base.bytes().chain(n.bytes()).next();
    if first.is_some_and(|b| !b.is_ascii_alphanumeric()) || !base.bytes().chain(n.bytes()).all(ok) {
        return Err(format!(
            "name {} uses characters RFC 8428 does not allow",
            quote(&format!("{base}{n}"))
        ));
    }
    Ok(())
}

fn cat<'a>(a: Cow<'a, str>, b: Cow<'a, str>) -> Cow<'a, str> {
    match (a.is_empty(), b.is_empty()) {
        (true, _) => b,
        (_, true) => a,
        _ => Cow::Owned(a.into_owned() + &b),
    }
}

fn slice<'a>(c: &Cow<'a, str>, from: usize, to: usize) -> Cow<'a, str> {
    match c {
        Cow::Borrowed(s) => Cow::Borrowed(&s[from..to]),
        Cow::Owned(s) => Cow::Owned(s[from..to].to_owned()),
    }
}

/// What follows `"<topic_sensor><sep>"` in `base + n` (empty if the name is exactly the
/// topic's sensor id), or `None` if the name does not start with it.
fn after_sensor<'a>(base: &Cow<'a, str>, n: &Cow<'a, str>, t: &str) -> Option<Cow<'a, str>> {
    let (bl, nl, tl) = (base.len(), n.len(), t.len());
    let (b, nb, tb) = (base.as_bytes(), n.as_bytes(), t.as_bytes());
    let head = if tl <= bl {
        b[..tl] == *tb
    } else {
        bl + nl >= tl && tb[..bl] == *b && nb[..tl - bl] == tb[bl..]
    };
    if !head {
        return None;
    }
    if bl + nl == tl {
        return Some(Cow::Borrowed(""));
    }
    let sep = if tl < bl { b[tl] } else { nb[tl - bl] };
    if !is_sep(sep) {
        return None;
    }
    let from = tl + 1;
    Some(if from <= bl {
        cat(slice(base, from, bl), n.clone())
    } else {
        slice(n, from - bl, nl)
    })
}

/// Sensor id and metric from the resolved name `base + n`.
///
/// With a sensor id from the topic, the name may be empty or that id (→ the default
/// metric, `None`), `"<id>:<metric>"` / `"<id>/<metric>"`, or a bare metric without `:` or
/// `/`; a name naming another sensor is refused. Without one, the name is split at its
/// LAST `:` or `/`: `urn:dev:ow:10e2073a01080063:voltage` is sensor
/// `urn:dev:ow:10e2073a01080063`, metric `voltage` (no URN prefix is stripped, so the
/// registry id must be the whole URN); a trailing separator (`WL-00017:`) means the default
/// metric. Allocates only when both halves of a joined name are non-empty.
pub(crate) fn split_name<'a>(
    base: &Cow<'a, str>,
    n: &Cow<'a, str>,
    topic_sensor: Option<&'a str>,
) -> Result<(Cow<'a, str>, Option<Cow<'a, str>>), String> {
    let some = |m: Cow<'a, str>| (!m.is_empty()).then_some(m);
    if let Some(t) = topic_sensor {
        if let Some(rest) = after_sensor(base, n, t) {
            return Ok((Cow::Borrowed(t), some(rest)));
        }
        if !base.bytes().chain(n.bytes()).any(is_sep) {
            return Ok((Cow::Borrowed(t), some(cat(base.clone(), n.clone()))));
        }
        return Err(format!(
            "name {} names another sensor than the topic's {}",
            quote(&format!("{base}{n}")),
            quote(t)
        ));
    }
    let split = if let Some(i) = n.bytes().rposition(is_sep) {
        Some((cat(base.clone(), slice(n, 0, i)), slice(n, i + 1, n.len())))
    } else {
        base.bytes().rposition(is_sep).map(|j| {
            (
                slice(base, 0, j),
                cat(slice(base, j + 1, base.len()), n.clone()),
            )
        })
    };
    match split {
        Some((sensor, metric)) if !sensor.is_empty() => Ok((sensor, some(metric))),
        _ => Err(format!(
            "name {} must be <sensor_id>:<metric> or <sensor_id>/<metric> when the topic names no sensor",
            quote(&format!("{base}{n}"))
        )),
    }
}
