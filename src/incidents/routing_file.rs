//! Reading `rules/routing.toml`: the file as written, and the checks that turn each
//! department and route in it into a [`Department`] or a [`Route`], or errors with
//! their lines.

use super::*;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct DepartmentDef {
    code: Spanned<String>,
    name_zh: Spanned<String>,
    name_en: Spanned<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RouteDef {
    category: Spanned<Names>,
    district: Option<Spanned<Names>>,
    street: Option<Spanned<Names>>,
    grid: Option<Spanned<Names>>,
    departments: Spanned<Names>,
}

/// One string or a list of strings; each with its byte offset when it is a list item
/// (a lone string takes the key's).
#[derive(Debug)]
struct Names(Vec<(String, Option<usize>)>);

impl<'de> Deserialize<'de> for Names {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = Names;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string or a list of strings")
            }
            fn visit_str<E: serde::de::Error>(self, s: &str) -> Result<Names, E> {
                Ok(Names(vec![(s.to_owned(), None)]))
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> Result<Names, A::Error> {
                let mut out = Vec::new();
                while let Some(s) = seq.next_element::<Spanned<String>>()? {
                    let at = s.span().start;
                    out.push((s.into_inner(), Some(at)));
                }
                Ok(Names(out))
            }
        }
        d.deserialize_any(V)
    }
}

/// The names of a spanned list with the offset of each (the key's for a lone string).
fn names(v: &Spanned<Names>) -> Vec<(&str, usize)> {
    let key = v.span().start;
    v.get_ref()
        .0
        .iter()
        .map(|(s, at)| (s.as_str(), at.unwrap_or(key)))
        .collect()
}

impl Routing {
    pub(super) fn add_department(&mut self, r: &mut Reader<'_>, line: usize, d: DepartmentDef) {
        let code = d.code.get_ref();
        let well_formed = code.bytes().next().is_some_and(|b| b.is_ascii_lowercase())
            && code
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_');
        if !well_formed {
            r.error_at(
                d.code.span().start,
                format!(
                    "department code `{code}`: lower-case letters, digits, `-` and `_`, \
                     starting with a letter"
                ),
            );
        }
        for name in [&d.name_zh, &d.name_en] {
            if name.get_ref().trim().is_empty() {
                r.error_at(name.span().start, "a department's name must not be empty");
            }
        }
        if let Some(&i) = self.by_code.get(code.as_str()) {
            let first = self.departments[i].line;
            r.error_line(
                line,
                format!("duplicate department `{code}`: first defined at line {first}"),
            );
            return;
        }
        let code = DepartmentCode::new(code);
        self.by_code.insert(code.clone(), self.departments.len());
        self.departments.push(Department {
            code,
            name_zh: d.name_zh.into_inner(),
            name_en: d.name_en.into_inner(),
            line,
        });
    }
}

fn codes(areas: &[Area]) -> Vec<&str> {
    areas.iter().map(|a| a.code.as_str()).collect()
}

pub(super) fn aliases(catalog: &Catalog) -> HashMap<String, String> {
    let mut out = HashMap::new();
    for c in catalog.categories() {
        out.insert(c.qualified_code(), c.qualified_code());
        if let Some(winner) = catalog.get(&c.code) {
            out.insert(c.code.clone(), winner.qualified_code());
        }
    }
    out
}

pub(super) fn sorted(v: &Option<Vec<String>>) -> Option<Vec<String>> {
    v.clone().map(|mut v| {
        v.sort();
        v
    })
}

/// Checks one route; `None` if it is unusable (its errors are in `r`).
pub(super) fn check_route(
    r: &mut Reader<'_>,
    routing: &Routing,
    catalog: &Catalog,
    city: Option<&City>,
    line: usize,
    def: RouteDef,
) -> Option<Route> {
    let errors_before = r.error_count();
    let categories = check_categories(r, catalog, &def.category);
    let mut area = |key: &str, v: &Option<Spanned<Names>>, known: Option<Vec<&str>>| {
        let v = v.as_ref()?;
        let list = check_list(r, key, v);
        if let Some(known) = known {
            for (name, at) in names(v) {
                if !known.contains(&name) {
                    r.error_at(at, format!("unknown {key} `{name}`: not in the city"));
                }
            }
        }
        Some(list)
    };
    let district = area(
        "district",
        &def.district,
        city.map(|c| codes(c.districts())),
    );
    let street = area("street", &def.street, city.map(|c| codes(c.streets())));
    let grid = area("grid", &def.grid, city.map(|c| codes(c.grids())));
    if let Some(city) = city {
        check_nesting(r, city, &def, &district, &street);
    }
    let departments = check_list(r, "departments", &def.departments);
    for (code, at) in names(&def.departments) {
        if routing.department(code).is_none() {
            r.error_at(
                at,
                format!("unknown department `{code}`: no [[department]] has it"),
            );
        }
    }
    if r.error_count() > errors_before {
        return None;
    }
    Some(Route {
        categories,
        district,
        street,
        grid,
        departments: departments.iter().map(DepartmentCode::new).collect(),
        line,
    })
}

/// `"*"` → `None`; else the qualified codes, each checked against the catalog.
fn check_categories(
    r: &mut Reader<'_>,
    catalog: &Catalog,
    v: &Spanned<Names>,
) -> Option<Vec<String>> {
    let list = names(v);
    if list.len() == 1 && list[0].0 == "*" && v.get_ref().0[0].1.is_none() {
        return None;
    }
    check_list(r, "category", v);
    let mut out = Vec::new();
    for (code, at) in list {
        if code == "*" {
            r.error_at(at, "`*` stands alone: write category = \"*\"");
        } else if let Some(c) = catalog.get(code) {
            out.push(c.qualified_code());
        } else {
            r.error_at(at, format!("unknown category `{code}`: not in the catalog"));
        }
    }
    Some(out)
}

/// A non-empty list without repeats.
fn check_list(r: &mut Reader<'_>, key: &str, v: &Spanned<Names>) -> Vec<String> {
    let list = names(v);
    if list.is_empty() {
        r.error_at(v.span().start, format!("`{key}` must not be empty"));
    }
    let mut out: Vec<String> = Vec::new();
    for (name, at) in list {
        if out.iter().any(|x| x == name) {
            r.error_at(at, format!("`{name}` is listed twice"));
        } else {
            out.push(name.to_owned());
        }
    }
    out
}

/// With a district filter, a street (or grid) outside every listed district can never
/// match; the same for a grid outside every listed street.
fn check_nesting(
    r: &mut Reader<'_>,
    city: &City,
    def: &RouteDef,
    district: &Option<Vec<String>>,
    street: &Option<Vec<String>>,
) {
    let inside = |parent: &Option<String>, filter: &Option<Vec<String>>| match filter {
        None => true,
        Some(list) => parent.as_ref().is_some_and(|p| list.contains(p)),
    };
    if let Some(v) = &def.street {
        for (code, at) in names(v) {
            if let Some(s) = city.streets().iter().find(|s| s.code == code)
                && !inside(&s.district, district)
            {
                r.error_at(
                    at,
                    format!(
                        "street `{code}` is not in the route's districts: it would never match"
                    ),
                );
            }
        }
    }
    if let Some(v) = &def.grid {
        for (code, at) in names(v) {
            if let Some(g) = city.grids().iter().find(|g| g.code == code)
                && !(inside(&g.district, district) && inside(&g.street, street))
            {
                r.error_at(
                    at,
                    format!(
                        "grid `{code}` is not in the route's districts or streets: it would \
                         never match"
                    ),
                );
            }
        }
    }
}
