//! Reading one layer file (a GeoJSON `FeatureCollection`) feature by feature.
//!
//! A city's sensor layer can hold hundreds of thousands of features. Parsing it into one
//! `serde_json::Value` and then into `geojson::Feature`s held all of them at once, about
//! ten times the file's size, for a moment at start; the allocator kept that memory long
//! after the features were dropped (`docs/performance.md`, "Memory at city scale"). Here
//! the file is checked in one pass that keeps nothing, then walked again handing one
//! feature at a time to the loader, so at most one feature's tree is alive.

use super::error::{CityError, FeatureProblem};
use geojson::{Feature, JsonObject};
use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::Value;
use std::fmt;
use std::path::{Path, PathBuf};

pub(super) fn json_error(file: &Path, e: &serde_json::Error) -> CityError {
    CityError::Json {
        file: file.to_path_buf(),
        line: e.line(),
        column: e.column(),
        message: e.to_string(),
    }
}

/// One layer file; `file` is only used in errors.
pub(super) struct LayerFile<'a> {
    pub file: PathBuf,
    pub text: &'a str,
}

impl LayerFile<'_> {
    /// Calls `each(index, feature)` for every feature in file order, stopping at the first
    /// error (the file's own, or one `each` returns).
    pub fn for_each_feature(
        &self,
        mut each: impl FnMut(usize, Feature) -> Result<(), CityError>,
    ) -> Result<(), CityError> {
        let skip = self.check_root()?;
        let mut failed = None;
        let walk = Walk {
            skip,
            each: &mut |index, v: Value| {
                let feature = self.feature(index, v)?;
                each(index, feature)
            },
            failed: &mut failed,
        };
        let result = walk.deserialize(&mut serde_json::Deserializer::from_str(self.text));
        match (failed, result) {
            (Some(e), _) => Err(e),
            // The first pass parsed the same text, so this does not happen; report it as
            // the JSON error it would be.
            (None, Err(e)) => Err(json_error(&self.file, &e)),
            (None, Ok(())) => Ok(()),
        }
    }

    /// The top level must be an object with `"type": "FeatureCollection"` and a
    /// `features` array. Parses the whole text (so syntax errors surface here, with their
    /// line and column) but keeps none of it.
    /// Returns how many `features` keys precede the one to walk.
    fn check_root(&self) -> Result<usize, CityError> {
        let not_fc = |message: &str| CityError::NotFeatureCollection {
            file: self.file.clone(),
            message: message.to_string(),
        };
        let root: Root = serde_json::from_str(self.text).map_err(|e| json_error(&self.file, &e))?;
        match root {
            Root::NotObject => Err(not_fc("the top level is not an object")),
            Root::Object { type_ok: false, .. } => {
                Err(not_fc("\"type\" is not \"FeatureCollection\""))
            }
            Root::Object {
                features_array: false,
                ..
            } => Err(not_fc("\"features\" is missing or not an array")),
            Root::Object { features_keys, .. } => Ok(features_keys.saturating_sub(1)),
        }
    }

    fn feature(&self, index: usize, v: Value) -> Result<Feature, CityError> {
        let id = v
            .get("properties")
            .and_then(|p| p.get("code").or_else(|| p.get("id")))
            .and_then(Value::as_str)
            .map(str::to_owned);
        serde_json::from_value::<Feature>(v).map_err(|e| CityError::Feature {
            file: self.file.clone(),
            index,
            id,
            problem: FeatureProblem::InvalidFeature(e.to_string()),
        })
    }

    pub fn err(&self, index: usize, id: Option<&str>, problem: FeatureProblem) -> CityError {
        CityError::Feature {
            file: self.file.clone(),
            index,
            id: id.map(str::to_owned),
            problem,
        }
    }
}

pub(super) fn props(f: &Feature) -> Result<&JsonObject, FeatureProblem> {
    f.properties
        .as_ref()
        .ok_or(FeatureProblem::MissingProperties)
}

pub(super) fn str_prop<'a>(
    p: &'a JsonObject,
    key: &'static str,
) -> Result<&'a str, FeatureProblem> {
    match p.get(key) {
        None | Some(Value::Null) => Err(FeatureProblem::MissingProperty(key)),
        Some(Value::String(s)) if !s.is_empty() => Ok(s),
        Some(_) => Err(FeatureProblem::WrongType {
            property: key,
            expected: "a non-empty string",
        }),
    }
}

/// What the first pass learns of the top level. As with a parsed `Value`, a repeated key
/// counts by its last occurrence.
enum Root {
    NotObject,
    Object {
        type_ok: bool,
        features_array: bool,
        /// How many times the `features` key occurs.
        features_keys: usize,
    },
}

impl<'de> de::Deserialize<'de> for Root {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct RootVisitor;
        impl<'de> Visitor<'de> for RootVisitor {
            type Value = Root;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a GeoJSON FeatureCollection")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Root, A::Error> {
                let (mut type_ok, mut features_array, mut features_keys) = (false, false, 0);
                while let Some(key) = map.next_key::<std::borrow::Cow<'de, str>>()? {
                    match &*key {
                        "type" => {
                            type_ok =
                                map.next_value::<Value>()?.as_str() == Some("FeatureCollection")
                        }
                        "features" => {
                            features_array = map.next_value::<IsArray>()?.0;
                            features_keys += 1;
                        }
                        _ => {
                            map.next_value::<IgnoredAny>()?;
                        }
                    }
                }
                Ok(Root::Object {
                    type_ok,
                    features_array,
                    features_keys,
                })
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Root, A::Error> {
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(Root::NotObject)
            }
            fn visit_bool<E>(self, _: bool) -> Result<Root, E> {
                Ok(Root::NotObject)
            }
            fn visit_i64<E>(self, _: i64) -> Result<Root, E> {
                Ok(Root::NotObject)
            }
            fn visit_u64<E>(self, _: u64) -> Result<Root, E> {
                Ok(Root::NotObject)
            }
            fn visit_f64<E>(self, _: f64) -> Result<Root, E> {
                Ok(Root::NotObject)
            }
            fn visit_str<E>(self, _: &str) -> Result<Root, E> {
                Ok(Root::NotObject)
            }
            fn visit_unit<E>(self) -> Result<Root, E> {
                Ok(Root::NotObject)
            }
        }
        d.deserialize_any(RootVisitor)
    }
}

/// Whether a value is an array; its contents are skipped.
struct IsArray(bool);

impl<'de> de::Deserialize<'de> for IsArray {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(ArrayProbe).map(IsArray)
    }
}

struct ArrayProbe;

impl<'de> Visitor<'de> for ArrayProbe {
    type Value = bool;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any value")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<bool, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(true)
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<bool, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(false)
    }
    fn visit_bool<E>(self, _: bool) -> Result<bool, E> {
        Ok(false)
    }
    fn visit_i64<E>(self, _: i64) -> Result<bool, E> {
        Ok(false)
    }
    fn visit_u64<E>(self, _: u64) -> Result<bool, E> {
        Ok(false)
    }
    fn visit_f64<E>(self, _: f64) -> Result<bool, E> {
        Ok(false)
    }
    fn visit_str<E>(self, _: &str) -> Result<bool, E> {
        Ok(false)
    }
    fn visit_unit<E>(self) -> Result<bool, E> {
        Ok(false)
    }
}

/// The second pass: hands each element of the (last) `features` array to `each`, one
/// parsed `Value` at a time. An error from `each` is kept in `failed` and stops the walk.
struct Walk<'w> {
    /// `features` keys to pass over before the one to walk.
    skip: usize,
    each: &'w mut dyn FnMut(usize, Value) -> Result<(), CityError>,
    failed: &'w mut Option<CityError>,
}

impl<'de> DeserializeSeed<'de> for Walk<'_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for Walk<'_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a GeoJSON FeatureCollection")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        // With a repeated `features` key the first pass judged the last one; walk only
        // that one.
        let mut skip = self.skip;
        let mut walk = Some(self);
        while let Some(key) = map.next_key::<std::borrow::Cow<'de, str>>()? {
            if &*key == "features"
                && skip == 0
                && let Some(w) = walk.take()
            {
                map.next_value_seed(Elements(w))?;
                continue;
            }
            if &*key == "features" {
                skip = skip.saturating_sub(1);
            }
            map.next_value::<IgnoredAny>()?;
        }
        Ok(())
    }
}

struct Elements<'w>(Walk<'w>);

impl<'de> DeserializeSeed<'de> for Elements<'_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for Elements<'_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an array of features")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let Walk { each, failed, .. } = self.0;
        let mut index = 0;
        while let Some(v) = seq.next_element::<Value>()? {
            if let Err(e) = each(index, v) {
                *failed = Some(e);
                return Err(de::Error::custom("stopped at a bad feature"));
            }
            index += 1;
        }
        Ok(())
    }
}
