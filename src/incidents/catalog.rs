//! The category catalog (事件/部件类别): for every incident category, when it is filed
//! (立案条件) and closed (结案条件), how long a department has to acknowledge and to handle
//! it (处置时限) at each severity, and at which severities it is filed and dispatched
//! without waiting for a dispatcher. `rules/catalog.toml` is the city's catalog;
//! `docs/catalog.md` is the guide to every key.
//!
//! Codes follow GB/T 30428.2: four digits, a two-digit major class and a two-digit minor
//! class, numbered separately for components (部件) and events (事件). So `0102` is both
//! 污水井盖 (a component) and 暴露垃圾 (an event): a category's key is (kind, code). The
//! city's own categories have snake_case codes (`confirmed_fire`), unique across kinds.
//!
//! Lookup ([`Catalog::get`]): `component:0102` and `event:0102` name one kind. A bare code,
//! as rules write it, means the event when both kinds have it (rules raise events), else
//! whichever kind has it.
//!
//! Shared settings: `[defaults]` (limits, auto-dispatch) for every category, and named
//! `[profile.<name>]` tables a category opts into with `profile = "<name>"`. How a limit is
//! found is [`Category::limits`].

use super::limits::TimeLimit;
pub use super::toml_reader::FileError;
use super::toml_reader::{Reader, write_lines};
use crate::model::Severity;
use serde::Deserialize;
use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::path::{Path, PathBuf};
use toml::Spanned;
use toml::de::DeValue;

/// Component (部件: a thing, e.g. a manhole cover) or event (事件: something happening,
/// e.g. exposed garbage).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    Component,
    Event,
}

impl Kind {
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Component => "component",
            Self::Event => "event",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [Self::Component, Self::Event]
            .into_iter()
            .find(|k| k.as_str() == s)
    }

    const fn index(self) -> usize {
        match self {
            Self::Component => 0,
            Self::Event => 1,
        }
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A major class (大类) of components or events.
#[derive(Clone, Debug, PartialEq)]
pub struct Major {
    pub kind: Kind,
    /// Two digits.
    pub code: String,
    pub name_zh: String,
    pub name_en: String,
    /// True for the standard's majors, false for the city's extensions (`[[major]]`).
    pub standard: bool,
}

/// The major classes of GB/T 30428.2 (as DOMAIN.md lists them). Cities extend them with
/// `[[major]]` in the catalog.
pub const STANDARD_MAJORS: &[(Kind, &str, &str, &str)] = &[
    (Kind::Component, "01", "公用设施", "Public facilities"),
    (Kind::Component, "02", "道路交通", "Roads and traffic"),
    (Kind::Component, "03", "市容环境", "City appearance"),
    (Kind::Component, "04", "园林绿化", "Parks and greenery"),
    (Kind::Component, "05", "房屋土地", "Buildings and land"),
    (Kind::Component, "06", "其他设施", "Other facilities"),
    (Kind::Event, "01", "市容环境", "City appearance"),
    (Kind::Event, "02", "宣传广告", "Advertising"),
    (Kind::Event, "03", "施工管理", "Construction"),
    (Kind::Event, "04", "突发事件", "Emergencies"),
    (Kind::Event, "05", "街面秩序", "Street order"),
];

/// The two time limits of a category at one severity.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Limits {
    /// 签收: from dispatch to the department's acknowledgement.
    pub acknowledge: TimeLimit,
    /// 处置: from dispatch to the department's report that it is handled (反馈).
    pub handle: TimeLimit,
}

/// Severities, most severe first; the index of a severity here is its slot in tables.
const SEVERITIES: [Severity; 4] = [
    Severity::Red,
    Severity::Orange,
    Severity::Yellow,
    Severity::Blue,
];

const fn slot(s: Severity) -> usize {
    match s {
        Severity::Red => 0,
        Severity::Orange => 1,
        Severity::Yellow => 2,
        Severity::Blue => 3,
    }
}

/// One category, checked and with its shared settings resolved.
#[derive(Clone, Debug, PartialEq)]
pub struct Category {
    pub kind: Kind,
    /// Four digits (standard) or snake_case (the city's own).
    pub code: String,
    pub name_zh: String,
    pub name_en: String,
    /// The sector it belongs to (`flood`, `gas`, `fire`, ...), for views and reports.
    pub sector: String,
    /// The severity it is filed at when whoever reports it gives none (a grid worker's
    /// report, a citizen's call); rules give their own.
    pub default_severity: Severity,
    /// 立案条件: when a report of it is accepted as a case.
    pub file_condition: String,
    /// 结案条件: what must be true (and verified) to close it.
    pub close_condition: String,
    /// The profile it took shared settings from.
    pub profile: Option<String>,
    /// 1-based line of its `[[category]]` in the catalog file, for messages.
    pub line: usize,
    limits: [Limits; 4],
    auto_dispatch: [bool; 4],
}

impl Category {
    /// The time limits at a severity. Each of `acknowledge` and `handle` is looked up on
    /// its own: the severity's table, else the nearest less severe table that sets it,
    /// else `default`; at each of these steps the category's own table first, then its
    /// profile's, then `[defaults]`'. So a severity set anywhere beats a less severe one,
    /// which beats `default`. The catalog is refused unless every severity finds both, so
    /// this cannot fail.
    pub fn limits(&self, severity: Severity) -> Limits {
        self.limits[slot(severity)]
    }

    /// Whether an incident of this category at this severity is filed and dispatched
    /// automatically (else it waits for a dispatcher).
    pub fn auto_dispatch(&self, severity: Severity) -> bool {
        self.auto_dispatch[slot(severity)]
    }

    /// True for GB/T 30428 codes (four digits).
    pub fn is_standard(&self) -> bool {
        is_standard_code(&self.code)
    }

    /// `component:0102`, `event:0102`, `event:confirmed_fire`: unambiguous.
    pub fn qualified_code(&self) -> String {
        format!("{}:{}", self.kind, self.code)
    }
}

fn is_standard_code(code: &str) -> bool {
    code.len() == 4 && code.bytes().all(|b| b.is_ascii_digit())
}

/// Lower-case snake_case: a letter, then letters, digits and `_`.
pub(super) fn is_snake_case(code: &str) -> bool {
    let mut bytes = code.bytes();
    bytes.next().is_some_and(|b| b.is_ascii_lowercase())
        && bytes.all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

/// Every problem found in a catalog file, in line order.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub struct CatalogErrors(pub Vec<FileError>);

impl fmt::Display for CatalogErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_lines(f, &self.0)
    }
}

/// `acknowledge` and `handle` as written in one severity's table; either may be missing.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct LimitsDef {
    acknowledge: Option<Spanned<TimeLimit>>,
    handle: Option<Spanned<TimeLimit>>,
}

/// `limits.default`, `limits.red`, ...: a key that is not a severity is an error.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct LimitTables {
    default: Option<LimitsDef>,
    red: Option<LimitsDef>,
    orange: Option<LimitsDef>,
    yellow: Option<LimitsDef>,
    blue: Option<LimitsDef>,
}

type Field = fn(&LimitsDef) -> Option<&Spanned<TimeLimit>>;
const FIELDS: [(&str, Field); 2] = [
    ("acknowledge", |l| l.acknowledge.as_ref()),
    ("handle", |l| l.handle.as_ref()),
];

impl LimitTables {
    /// A severity's table (by slot), or `default`'s for `None`.
    fn get(&self, slot: Option<usize>) -> Option<&LimitsDef> {
        match slot {
            Some(i) => [&self.red, &self.orange, &self.yellow, &self.blue][i].as_ref(),
            None => self.default.as_ref(),
        }
    }

    fn all(&self) -> impl Iterator<Item = &LimitsDef> {
        [
            &self.default,
            &self.red,
            &self.orange,
            &self.yellow,
            &self.blue,
        ]
        .into_iter()
        .flatten()
    }
}

/// What `[defaults]`, a profile and a category may all set.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Shared {
    sector: Option<Spanned<String>>,
    default_severity: Option<Spanned<String>>,
    file_condition: Option<Spanned<String>>,
    close_condition: Option<Spanned<String>>,
    #[serde(default)]
    limits: LimitTables,
    auto_dispatch: Option<Spanned<Vec<Spanned<String>>>>,
}

/// `[defaults]`: only limits and auto-dispatch (a sector or conditions for every category
/// would be a mistake, not a default).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct DefaultsDef {
    #[serde(default)]
    limits: LimitTables,
    auto_dispatch: Option<Spanned<Vec<Spanned<String>>>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct MajorDef {
    kind: Spanned<String>,
    code: Spanned<String>,
    name_zh: Spanned<String>,
    name_en: Spanned<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CategoryDef {
    code: Spanned<String>,
    kind: Spanned<String>,
    name_zh: Spanned<String>,
    name_en: Spanned<String>,
    profile: Option<Spanned<String>>,
    sector: Option<Spanned<String>>,
    default_severity: Option<Spanned<String>>,
    file_condition: Option<Spanned<String>>,
    close_condition: Option<Spanned<String>>,
    #[serde(default)]
    limits: LimitTables,
    auto_dispatch: Option<Spanned<Vec<Spanned<String>>>>,
}

impl CategoryDef {
    fn split(self) -> (CategoryHead, Shared) {
        let head = CategoryHead {
            code: self.code,
            kind: self.kind,
            name_zh: self.name_zh,
            name_en: self.name_en,
            profile: self.profile,
        };
        let shared = Shared {
            sector: self.sector,
            default_severity: self.default_severity,
            file_condition: self.file_condition,
            close_condition: self.close_condition,
            limits: self.limits,
            auto_dispatch: self.auto_dispatch,
        };
        (head, shared)
    }
}

struct CategoryHead {
    code: Spanned<String>,
    kind: Spanned<String>,
    name_zh: Spanned<String>,
    name_en: Spanned<String>,
    profile: Option<Spanned<String>>,
}

/// The checked catalog. Immutable; share it behind an `Arc`.
#[derive(Clone, Debug)]
pub struct Catalog {
    file: PathBuf,
    categories: Vec<Category>,
    majors: Vec<Major>,
    /// Code → index into `categories` per kind (`Kind::index`).
    by_code: HashMap<String, [Option<usize>; 2]>,
}

impl Catalog {
    /// Reads and checks a catalog file.
    pub fn load(path: &Path) -> Result<Catalog, CatalogErrors> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            CatalogErrors(vec![FileError {
                file: path.to_path_buf(),
                line: 0,
                message: format!("cannot read: {e}"),
            }])
        })?;
        Self::parse(path, &text)
    }

    /// Checks a catalog given as text; `file` names it in errors. Every problem is
    /// reported, each with its line.
    pub fn parse(file: &Path, text: &str) -> Result<Catalog, CatalogErrors> {
        let mut r = Reader::new(file, text);
        let Some(doc) = r.document() else {
            return Err(CatalogErrors(r.finish()));
        };
        let mut parts = Parts::default();
        r.top_level(
            &doc,
            &["defaults", "profile", "major", "category"],
            |r, key, v| match key {
                "defaults" => match r.value::<DefaultsDef>(v) {
                    Some(d) => parts.defaults = Some(d),
                    None => parts.broken_defaults = true,
                },
                "profile" => parts.read_profiles(r, v),
                "major" => parts.majors = r.tables("major", v),
                _ => parts.categories = r.tables("category", v),
            },
        );
        let catalog = parts.check(&mut r);
        if r.has_errors() {
            Err(CatalogErrors(r.finish()))
        } else {
            Ok(catalog)
        }
    }

    /// A category by code: `component:0102` / `event:0102` for one kind; a bare code is
    /// the event when both kinds have it, else whichever kind has it.
    pub fn get(&self, code: &str) -> Option<&Category> {
        if let Some((kind, code)) = code.split_once(':') {
            return self.get_kind(Kind::parse(kind)?, code);
        }
        let [component, event] = self.by_code.get(code)?;
        event.or(*component).map(|i| &self.categories[i])
    }

    /// A category by kind and code (no prefix).
    pub fn get_kind(&self, kind: Kind, code: &str) -> Option<&Category> {
        let i = self.by_code.get(code)?[kind.index()]?;
        Some(&self.categories[i])
    }

    /// Every category, in file order.
    pub fn categories(&self) -> &[Category] {
        &self.categories
    }

    /// The standard's majors, then the city's extensions.
    pub fn majors(&self) -> &[Major] {
        &self.majors
    }

    /// The major class of a standard category.
    pub fn major_of(&self, c: &Category) -> Option<&Major> {
        let major = c.code.get(..2).filter(|_| c.is_standard())?;
        self.majors
            .iter()
            .find(|m| m.kind == c.kind && m.code == major)
    }

    /// The file it was read from.
    pub fn file(&self) -> &Path {
        &self.file
    }
}

#[path = "catalog_check.rs"]
mod check;
use check::*;

#[cfg(test)]
#[path = "catalog_tests.rs"]
mod tests;

#[cfg(test)]
#[path = "catalog_error_tests.rs"]
mod error_tests;
