//! JSON scalars as the decoders see them: any JSON value, kept borrowed when it is a
//! string without escapes, so a wrong type in one record becomes that record's rejection
//! instead of failing the whole message.

use serde::de::{Deserialize, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use std::borrow::Cow;
use std::fmt;

/// One JSON value, with containers skipped (only their kind is kept).
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Field<'a> {
    Num(f64),
    Str(Cow<'a, str>),
    Bool(bool),
    Null,
    Array,
    Object,
}

impl<'a> Field<'a> {
    pub(crate) fn kind(&self) -> &'static str {
        match self {
            Field::Num(_) => "a number",
            Field::Str(_) => "a string",
            Field::Bool(_) => "a boolean",
            Field::Null => "null",
            Field::Array => "an array",
            Field::Object => "an object",
        }
    }

    /// A number. The strings `"NaN"`, `"Infinity"` and `"-Infinity"` count as the
    /// non-finite numbers they name: that is how `nonfinite` re-spells tokens serde_json
    /// refuses, so validation can reject them as `non_finite` rather than `malformed`.
    pub(crate) fn num(&self) -> Result<f64, &'static str> {
        match self {
            Field::Num(x) => Ok(*x),
            Field::Str(s) => match s.as_ref() {
                "NaN" => Ok(f64::NAN),
                "Infinity" => Ok(f64::INFINITY),
                "-Infinity" => Ok(f64::NEG_INFINITY),
                _ => Err(self.kind()),
            },
            _ => Err(self.kind()),
        }
    }

    pub(crate) fn into_str(self) -> Result<Cow<'a, str>, &'static str> {
        match self {
            Field::Str(s) => Ok(s),
            other => Err(other.kind()),
        }
    }
}

struct FieldVisitor;

impl<'de> Visitor<'de> for FieldVisitor {
    type Value = Field<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_bool<E>(self, v: bool) -> Result<Self::Value, E> {
        Ok(Field::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Self::Value, E> {
        Ok(Field::Num(v as f64))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Self::Value, E> {
        Ok(Field::Num(v as f64))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Self::Value, E> {
        Ok(Field::Num(v))
    }
    fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Self::Value, E> {
        Ok(Field::Str(Cow::Borrowed(v)))
    }
    fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
        Ok(Field::Str(Cow::Owned(v.to_owned())))
    }
    fn visit_string<E>(self, v: String) -> Result<Self::Value, E> {
        Ok(Field::Str(Cow::Owned(v)))
    }
    fn visit_unit<E>(self) -> Result<Self::Value, E> {
        Ok(Field::Null)
    }
    fn visit_none<E>(self) -> Result<Self::Value, E> {
        Ok(Field::Null)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(Field::Array)
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(Field::Object)
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Field<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(FieldVisitor)
    }
}

/// An object key, borrowed unless it contains escapes. (serde's own `Cow<str>` always
/// copies.)
pub(crate) struct Key<'a>(pub Cow<'a, str>);

struct KeyVisitor;

impl<'de> Visitor<'de> for KeyVisitor {
    type Value = Key<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a string key")
    }
    fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Self::Value, E> {
        Ok(Key(Cow::Borrowed(v)))
    }
    fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
        Ok(Key(Cow::Owned(v.to_owned())))
    }
    fn visit_string<E>(self, v: String) -> Result<Self::Value, E> {
        Ok(Key(Cow::Owned(v)))
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Key<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_str(KeyVisitor)
    }
}

/// A JSON object as an ordered list of entries (the compact form's `values`).
#[derive(Debug, Default)]
pub(crate) struct Entries<'a>(pub Vec<(Cow<'a, str>, Field<'a>)>);

struct EntriesVisitor;

impl<'de> Visitor<'de> for EntriesVisitor {
    type Value = Entries<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an object")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut out = Vec::with_capacity(map.size_hint().unwrap_or(4).min(64));
        while let Some((k, v)) = map.next_entry::<Key<'de>, Field<'de>>()? {
            out.push((k.0, v));
        }
        Ok(Entries(out))
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Entries<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_map(EntriesVisitor)
    }
}

/// Turns a serde error into the `detail` of a `malformed` rejection.
pub(crate) fn json_detail(e: &serde_json::Error) -> String {
    format!("not valid JSON for this payload form: {e}")
}
