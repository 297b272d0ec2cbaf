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
use crate::model::Severity;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::path::{Path, PathBuf};
use toml::Spanned;
use toml::de::{DeTable, DeValue};

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

/// One problem in a catalog or routing file.
#[derive(Debug, Clone, PartialEq)]
pub struct FileError {
    pub file: PathBuf,
    /// 1-based; 0 when the problem is not at one line (an unreadable file).
    pub line: usize,
    pub message: String,
}

impl fmt::Display for FileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file.display())?;
        if self.line > 0 {
            write!(f, ":{}", self.line)?;
        }
        write!(f, ": {}", self.message)
    }
}

/// Writes problems one per line.
pub(super) fn write_lines(f: &mut fmt::Formatter<'_>, errors: &[FileError]) -> fmt::Result {
    for (i, e) in errors.iter().enumerate() {
        if i > 0 {
            writeln!(f)?;
        }
        write!(f, "{e}")?;
    }
    Ok(())
}

/// Every problem found in a catalog file, in line order.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub struct CatalogErrors(pub Vec<FileError>);

impl fmt::Display for CatalogErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_lines(f, &self.0)
    }
}

/// Reads a TOML file's parts one at a time, so one bad table does not hide the problems of
/// the others, and gathers errors with their lines. Shared with `routing.rs`.
pub(super) struct Reader<'t> {
    pub file: &'t Path,
    pub text: &'t str,
    errors: Vec<FileError>,
}

impl<'t> Reader<'t> {
    pub fn new(file: &'t Path, text: &'t str) -> Self {
        Self {
            file,
            text,
            errors: Vec::new(),
        }
    }

    /// 1-based line of a byte offset.
    pub fn line(&self, offset: usize) -> usize {
        let end = offset.min(self.text.len());
        self.text.as_bytes()[..end]
            .iter()
            .filter(|b| **b == b'\n')
            .count()
            + 1
    }

    pub fn error_line(&mut self, line: usize, message: impl Into<String>) {
        self.errors.push(FileError {
            file: self.file.to_path_buf(),
            line,
            message: message.into(),
        });
    }

    pub fn error_at(&mut self, offset: usize, message: impl Into<String>) {
        let line = self.line(offset);
        self.error_line(line, message);
    }

    fn toml_error(&mut self, e: &toml::de::Error) {
        let line = e.span().map(|s| self.line(s.start)).unwrap_or(0);
        self.error_line(line, e.message().trim());
    }

    pub fn has_errors(&self) -> bool {
        !self.errors.is_empty()
    }

    pub fn error_count(&self) -> usize {
        self.errors.len()
    }

    /// The problems found, in line order.
    pub fn finish(mut self) -> Vec<FileError> {
        self.errors.sort_by_key(|e| e.line);
        self.errors
    }

    /// The document's top-level table, or `None` (and the syntax error) if it is not TOML.
    pub fn document(&mut self) -> Option<DeTable<'t>> {
        match DeTable::parse(self.text) {
            Ok(t) => Some(t.into_inner()),
            Err(e) => {
                self.toml_error(&e);
                None
            }
        }
    }

    /// One value deserialized; `None` (and the error, with its line) if it does not fit.
    pub fn value<T: DeserializeOwned>(&mut self, v: &Spanned<DeValue<'t>>) -> Option<T> {
        match T::deserialize(toml::de::ValueDeserializer::from(v.clone())) {
            Ok(t) => Some(t),
            Err(e) => {
                self.toml_error(&e);
                None
            }
        }
    }

    /// An array of tables (`[[key]]`), each deserialized on its own, with its line.
    pub fn tables<T: DeserializeOwned>(
        &mut self,
        key: &str,
        v: &Spanned<DeValue<'t>>,
    ) -> Vec<(usize, T)> {
        let DeValue::Array(items) = v.get_ref() else {
            self.error_at(
                v.span().start,
                format!("`{key}` must be an array of tables: write [[{key}]]"),
            );
            return Vec::new();
        };
        let mut out = Vec::new();
        for item in items {
            let line = self.line(item.span().start);
            if let Some(t) = self.value(item) {
                out.push((line, t));
            }
        }
        out
    }

    /// Top-level keys: each known one handed to `f`, each unknown one an error.
    pub fn top_level(
        &mut self,
        doc: &DeTable<'t>,
        known: &[&str],
        mut f: impl FnMut(&mut Self, &str, &Spanned<DeValue<'t>>),
    ) {
        for (k, v) in doc.iter() {
            let key: &str = k.get_ref();
            if known.contains(&key) {
                f(self, key, v);
            } else {
                let expected: Vec<String> = known.iter().map(|k| format!("`{k}`")).collect();
                self.error_at(
                    k.span().start,
                    format!(
                        "unknown key `{key}`: expected one of {}",
                        expected.join(", ")
                    ),
                );
            }
        }
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

/// The file's parts as deserialized, before the checks across them.
#[derive(Default)]
struct Parts {
    defaults: Option<DefaultsDef>,
    /// A `[defaults]` that did not deserialize: missing-limit errors would only repeat it.
    broken_defaults: bool,
    /// Name → profile; `None` for a profile that did not deserialize.
    profiles: BTreeMap<String, Option<Shared>>,
    majors: Vec<(usize, MajorDef)>,
    categories: Vec<(usize, CategoryDef)>,
}

impl Parts {
    fn read_profiles<'t>(&mut self, r: &mut Reader<'t>, v: &Spanned<DeValue<'t>>) {
        let DeValue::Table(t) = v.get_ref() else {
            r.error_at(
                v.span().start,
                "`profile` must be a table of profiles: [profile.<name>]",
            );
            return;
        };
        for (name, p) in t.iter() {
            let line = r.line(name.span().start);
            if !is_snake_case(name.get_ref()) {
                r.error_line(
                    line,
                    format!("profile name `{}` must be snake_case", name.get_ref()),
                );
            }
            let shared = r.value::<Shared>(p);
            self.profiles.insert(name.get_ref().to_string(), shared);
        }
    }

    fn check(self, r: &mut Reader<'_>) -> Catalog {
        let defaults = self.defaults.unwrap_or_default();
        let defaults = Shared {
            limits: defaults.limits,
            auto_dispatch: defaults.auto_dispatch,
            ..Shared::default()
        };
        check_shared(r, &defaults);
        for p in self.profiles.values().flatten() {
            check_shared(r, p);
        }
        let majors = check_majors(r, self.majors);
        let mut catalog = Catalog {
            file: r.file.to_path_buf(),
            categories: Vec::new(),
            majors,
            by_code: HashMap::new(),
        };
        let mut lines: HashMap<(Kind, String), usize> = HashMap::new();
        for (line, def) in self.categories {
            let (head, own) = def.split();
            check_shared(r, &own);
            let profile = match &head.profile {
                None => Some(None),
                Some(name) => match self.profiles.get(name.get_ref()) {
                    Some(Some(p)) => Some(Some(p)),
                    // Its own error is reported; do not pile more on it.
                    Some(None) => None,
                    None => {
                        let message = format!("unknown profile `{}`", name.get_ref());
                        r.error_at(name.span().start, message);
                        None
                    }
                },
            };
            let Some(kind) = check_code(r, &catalog, &head) else {
                continue;
            };
            let code = head.code.get_ref().clone();
            if !unique(r, &mut lines, line, kind, &code) {
                continue;
            }
            let Some(profile) = profile else { continue };
            let layers: Vec<&Shared> = [Some(&own), profile, Some(&defaults)]
                .into_iter()
                .flatten()
                .collect();
            if let Some(c) = build(r, line, kind, head, &layers, self.broken_defaults) {
                let i = catalog.categories.len();
                catalog.by_code.entry(code).or_default()[kind.index()] = Some(i);
                catalog.categories.push(c);
            }
        }
        catalog
    }
}

/// Records (kind, code) at `line`; false (and the error) if it is taken: the same kind and
/// code, or a city code the other kind has.
fn unique(
    r: &mut Reader<'_>,
    lines: &mut HashMap<(Kind, String), usize>,
    line: usize,
    kind: Kind,
    code: &str,
) -> bool {
    if let Some(first) = lines.get(&(kind, code.to_owned())) {
        r.error_line(
            line,
            format!("duplicate category {kind} {code}: first defined at line {first}"),
        );
        return false;
    }
    let other = match kind {
        Kind::Component => Kind::Event,
        Kind::Event => Kind::Component,
    };
    if !is_standard_code(code)
        && let Some(first) = lines.get(&(other, code.to_owned()))
    {
        r.error_line(
            line,
            format!(
                "code `{code}` is already the {other} at line {first}: the city's own codes \
                 must be unique across kinds"
            ),
        );
        return false;
    }
    lines.insert((kind, code.to_owned()), line);
    true
}

/// Errors in what any layer sets: bad limits, bad severities, empty text.
fn check_shared(r: &mut Reader<'_>, s: &Shared) {
    for text in [
        &s.sector,
        &s.default_severity,
        &s.file_condition,
        &s.close_condition,
    ]
    .into_iter()
    .flatten()
    {
        if text.get_ref().trim().is_empty() {
            r.error_at(text.span().start, "must not be empty");
        }
    }
    if let Some(sector) = &s.sector
        && !sector.get_ref().is_empty()
        && !is_snake_case(sector.get_ref())
    {
        r.error_at(
            sector.span().start,
            "a sector must be snake_case (`flood`, `gas`, ...)",
        );
    }
    if let Some(sev) = &s.default_severity {
        severity(r, sev);
    }
    for table in s.limits.all() {
        for (_, field) in FIELDS {
            if let Some(limit) = field(table)
                && let Err(e) = limit.get_ref().check()
            {
                r.error_at(limit.span().start, e);
            }
        }
    }
    if let Some(list) = &s.auto_dispatch {
        let mut seen = [false; 4];
        for sev in list.get_ref() {
            if let Some(s) = severity(r, sev) {
                if seen[slot(s)] {
                    r.error_at(
                        sev.span().start,
                        format!("`{}` is listed twice", s.as_str()),
                    );
                }
                seen[slot(s)] = true;
            }
        }
    }
}

fn severity(r: &mut Reader<'_>, s: &Spanned<String>) -> Option<Severity> {
    let parsed = Severity::parse(s.get_ref());
    if parsed.is_none() {
        r.error_at(
            s.span().start,
            format!(
                "unknown severity `{}`: expected red, orange, yellow or blue",
                s.get_ref()
            ),
        );
    }
    parsed
}

fn check_majors(r: &mut Reader<'_>, defs: Vec<(usize, MajorDef)>) -> Vec<Major> {
    let mut majors: Vec<Major> = STANDARD_MAJORS
        .iter()
        .map(|&(kind, code, zh, en)| Major {
            kind,
            code: code.into(),
            name_zh: zh.into(),
            name_en: en.into(),
            standard: true,
        })
        .collect();
    for (_, m) in defs {
        let Some(kind) = Kind::parse(m.kind.get_ref()) else {
            r.error_at(m.kind.span().start, "kind must be `component` or `event`");
            continue;
        };
        let code = m.code.get_ref();
        if code.len() != 2 || !code.bytes().all(|b| b.is_ascii_digit()) || code == "00" {
            r.error_at(m.code.span().start, "a major code is two digits, 01 to 99");
            continue;
        }
        for name in [&m.name_zh, &m.name_en] {
            if name.get_ref().trim().is_empty() {
                r.error_at(name.span().start, "must not be empty");
            }
        }
        if let Some(old) = majors.iter().find(|o| o.kind == kind && &o.code == code) {
            let message = if old.standard {
                format!(
                    "{kind} major {code} is the standard's {}: an extension takes a code the \
                     standard does not use",
                    old.name_zh
                )
            } else {
                format!("duplicate {kind} major {code}")
            };
            r.error_at(m.code.span().start, message);
            continue;
        }
        majors.push(Major {
            kind,
            code: code.clone(),
            name_zh: m.name_zh.into_inner(),
            name_en: m.name_en.into_inner(),
            standard: false,
        });
    }
    majors
}

/// The kind, if the kind and code are well-formed and a standard code's major exists.
fn check_code(r: &mut Reader<'_>, catalog: &Catalog, head: &CategoryHead) -> Option<Kind> {
    for name in [&head.name_zh, &head.name_en] {
        if name.get_ref().trim().is_empty() {
            r.error_at(name.span().start, "a category's name must not be empty");
        }
    }
    let Some(kind) = Kind::parse(head.kind.get_ref()) else {
        r.error_at(
            head.kind.span().start,
            format!(
                "unknown kind `{}`: expected `component` (部件) or `event` (事件)",
                head.kind.get_ref()
            ),
        );
        return None;
    };
    let code = head.code.get_ref();
    let at = head.code.span().start;
    if is_standard_code(code) {
        let (major, minor) = code.split_at(2);
        if !catalog
            .majors
            .iter()
            .any(|m| m.kind == kind && m.code == major)
        {
            r.error_at(
                at,
                format!(
                    "{code}: {major} is not a major class of {kind}s (the standard's, or one \
                     declared with [[major]])"
                ),
            );
            return None;
        }
        if minor == "00" {
            r.error_at(at, format!("{code}: minor class 00 is not a category"));
            return None;
        }
    } else if !is_snake_case(code) {
        r.error_at(
            at,
            format!(
                "code `{code}` must be four digits (major + minor class) or the city's own \
                 snake_case name"
            ),
        );
        return None;
    }
    Some(kind)
}

/// A limit at severity slot `i`: the severity, then each less severe one, then `default`;
/// at each step the first layer (category, profile, `[defaults]`) that sets it.
fn resolve(layers: &[&Shared], i: usize, field: Field) -> Option<TimeLimit> {
    (i..SEVERITIES.len())
        .map(Some)
        .chain([None])
        .find_map(|slot| {
            layers
                .iter()
                .find_map(|l| l.limits.get(slot).and_then(field))
        })
        .map(|v| *v.get_ref())
}

/// Resolves a category over its layers (own, profile, defaults): the first that sets a
/// field wins; limits and auto-dispatch as documented on [`Category::limits`].
fn build(
    r: &mut Reader<'_>,
    line: usize,
    kind: Kind,
    head: CategoryHead,
    layers: &[&Shared],
    skip_missing: bool,
) -> Option<Category> {
    let code = head.code.get_ref().clone();
    let missing = |r: &mut Reader<'_>, what: &str| {
        if !skip_missing {
            r.error_line(
                line,
                format!("{kind} {code}: no {what} (set it here, in its profile or in [defaults])"),
            );
        }
    };
    let text = |r: &mut Reader<'_>, key: &str, get: fn(&Shared) -> &Option<Spanned<String>>| {
        let v = layers.iter().find_map(|l| get(l).as_ref());
        if v.is_none() {
            missing(r, &format!("`{key}`"));
        }
        v.map(|v| v.get_ref().clone())
    };
    let sector = text(r, "sector", |s| &s.sector);
    let file_condition = text(r, "file_condition", |s| &s.file_condition);
    let close_condition = text(r, "close_condition", |s| &s.close_condition);
    let default_severity =
        text(r, "default_severity", |s| &s.default_severity).map(|s| Severity::parse(&s));
    let mut limits = Vec::with_capacity(SEVERITIES.len());
    for (i, sev) in SEVERITIES.iter().enumerate() {
        let mut found = [None; 2];
        for (f, (name, field)) in FIELDS.into_iter().enumerate() {
            found[f] = resolve(layers, i, field);
            if found[f].is_none() {
                missing(r, &format!("`{name}` limit for {}", sev.as_str()));
            }
        }
        if let [Some(acknowledge), Some(handle)] = found {
            limits.push(Limits {
                acknowledge,
                handle,
            });
        }
    }
    let mut auto_dispatch = [false; 4];
    if let Some(list) = layers.iter().find_map(|l| l.auto_dispatch.as_ref()) {
        for s in list.get_ref() {
            if let Some(s) = Severity::parse(s.get_ref()) {
                auto_dispatch[slot(s)] = true;
            }
        }
    }
    Some(Category {
        kind,
        code,
        name_zh: head.name_zh.into_inner(),
        name_en: head.name_en.into_inner(),
        sector: sector?,
        // A bad severity was reported by `check_shared`.
        default_severity: default_severity??,
        file_condition: file_condition?,
        close_condition: close_condition?,
        profile: head.profile.map(Spanned::into_inner),
        line,
        limits: limits.try_into().ok()?,
        auto_dispatch,
    })
}

#[cfg(test)]
#[path = "catalog_tests.rs"]
mod tests;
