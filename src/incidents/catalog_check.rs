//! The checks across a catalog file's parts (unique codes, known majors, complete limits)
//! and the resolution of shared settings into each category.

use super::*;

/// The file's parts as deserialized, before the checks across them.
#[derive(Default)]
pub(super) struct Parts {
    pub(super) defaults: Option<DefaultsDef>,
    /// A `[defaults]` that did not deserialize: missing-limit errors would only repeat it.
    pub(super) broken_defaults: bool,
    /// Name → profile; `None` for a profile that did not deserialize.
    pub(super) profiles: BTreeMap<String, Option<Shared>>,
    pub(super) majors: Vec<(usize, MajorDef)>,
    pub(super) categories: Vec<(usize, CategoryDef)>,
}

impl Parts {
    pub(super) fn read_profiles<'t>(&mut self, r: &mut Reader<'t>, v: &Spanned<DeValue<'t>>) {
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

    pub(super) fn check(self, r: &mut Reader<'_>) -> Catalog {
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
pub(super) fn unique(
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
pub(super) fn check_shared(r: &mut Reader<'_>, s: &Shared) {
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

pub(super) fn severity(r: &mut Reader<'_>, s: &Spanned<String>) -> Option<Severity> {
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

pub(super) fn check_majors(r: &mut Reader<'_>, defs: Vec<(usize, MajorDef)>) -> Vec<Major> {
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
pub(super) fn check_code(
    r: &mut Reader<'_>,
    catalog: &Catalog,
    head: &CategoryHead,
) -> Option<Kind> {
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
pub(super) fn resolve(layers: &[&Shared], i: usize, field: Field) -> Option<TimeLimit> {
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
pub(super) fn build(
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
