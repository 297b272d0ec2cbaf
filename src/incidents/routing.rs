//! Routing (派遣): which department (专业部门) an incident is dispatched to, by its category
//! and where it is (jurisdiction: district 区县, street 街道, grid 网格). `rules/routing.toml`
//! is the city's routing; `docs/catalog.md` is the guide.
//!
//! A route names categories (or `"*"` for any), optional area filters and an ordered list of
//! candidate departments: the first is dispatched; when a department returns (退回) the case,
//! the next one gets it; after the last, it goes back to a dispatcher.
//!
//! The most specific matching route wins ([`Routing::route_for`]): a grid filter over a
//! street filter over a district filter over none (city-wide); at the same level a list of
//! categories over `"*"`; then the earlier route in the file. The winning route's list is
//! the whole answer: less specific routes are not appended to it.

use super::catalog::{Catalog, FileError};
use super::toml_reader::{Reader, write_lines};
use crate::model::Location;
use crate::spatial::{Area, City};
use serde::Deserialize;
use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use toml::Spanned;

/// A department's code as the routing file names it (`water-d0`). Cheap to clone.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
#[serde(transparent)]
pub struct DepartmentCode(Arc<str>);

impl DepartmentCode {
    pub fn new(code: impl AsRef<str>) -> Self {
        Self(Arc::from(code.as_ref()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for DepartmentCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for DepartmentCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DepartmentCode({:?})", &*self.0)
    }
}

impl std::borrow::Borrow<str> for DepartmentCode {
    fn borrow(&self) -> &str {
        &self.0
    }
}

/// A department incidents are dispatched to (专业部门, or a district's or street's office).
#[derive(Clone, Debug, PartialEq)]
pub struct Department {
    pub code: DepartmentCode,
    pub name_zh: String,
    pub name_en: String,
    /// 1-based line of its `[[department]]`.
    pub line: usize,
}

/// How specific a route's area is; more specific wins.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Scope {
    City,
    District,
    Street,
    Grid,
}

/// One checked route.
#[derive(Clone, Debug, PartialEq)]
pub struct Route {
    /// Qualified category codes (`event:0406`, `component:0102`); `None` for `"*"`.
    pub categories: Option<Vec<String>>,
    /// Area filters; `None` matches anywhere. Every given filter must match.
    pub district: Option<Vec<String>>,
    pub street: Option<Vec<String>>,
    pub grid: Option<Vec<String>>,
    /// Candidates in order: the first is dispatched, a return goes to the next.
    pub departments: Vec<DepartmentCode>,
    /// 1-based line of its `[[route]]`.
    pub line: usize,
}

impl Route {
    /// The most specific area filter it has.
    pub fn scope(&self) -> Scope {
        if self.grid.is_some() {
            Scope::Grid
        } else if self.street.is_some() {
            Scope::Street
        } else if self.district.is_some() {
            Scope::District
        } else {
            Scope::City
        }
    }

    /// `category` is qualified, or `None` for a category the catalog does not have (which
    /// only `"*"` routes match).
    fn matches(&self, category: Option<&str>, at: &Location) -> bool {
        let listed = |filter: &Option<Vec<String>>, value: Option<&str>| match filter {
            None => true,
            Some(list) => value.is_some_and(|v| list.iter().any(|x| x == v)),
        };
        listed(&self.categories, category)
            && listed(&self.district, at.district.as_deref())
            && listed(&self.street, at.street.as_deref())
            && listed(&self.grid, at.grid.as_deref())
    }

    /// Resolution order: most specific first (a stable sort keeps file order in ties).
    fn rank(&self) -> (std::cmp::Reverse<Scope>, bool) {
        (std::cmp::Reverse(self.scope()), self.categories.is_none())
    }
}

/// Every problem found in a routing file, in line order.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub struct RoutingErrors(pub Vec<FileError>);

impl fmt::Display for RoutingErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_lines(f, &self.0)
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct DepartmentDef {
    code: Spanned<String>,
    name_zh: Spanned<String>,
    name_en: Spanned<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RouteDef {
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

/// The checked routing. Immutable; share it behind an `Arc`.
#[derive(Clone, Debug)]
pub struct Routing {
    file: PathBuf,
    departments: Vec<Department>,
    by_code: HashMap<DepartmentCode, usize>,
    /// In resolution order: most specific first, then file order.
    routes: Vec<Route>,
    /// Every spelling the catalog accepts (`0102`, `event:0102`) → the qualified code.
    aliases: HashMap<String, String>,
}

impl Routing {
    /// Reads and checks a routing file against a catalog (and a city, when given).
    pub fn load(
        path: &Path,
        catalog: &Catalog,
        city: Option<&City>,
    ) -> Result<Self, RoutingErrors> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            RoutingErrors(vec![FileError {
                file: path.to_path_buf(),
                line: 0,
                message: format!("cannot read: {e}"),
            }])
        })?;
        Self::parse(path, &text, catalog, city)
    }

    /// Checks a routing file given as text; `file` names it in errors. Categories must be
    /// in `catalog`; with a city, districts, streets and grids must be in it too.
    pub fn parse(
        file: &Path,
        text: &str,
        catalog: &Catalog,
        city: Option<&City>,
    ) -> Result<Self, RoutingErrors> {
        let mut r = Reader::new(file, text);
        let Some(doc) = r.document() else {
            return Err(RoutingErrors(r.finish()));
        };
        let mut departments = Vec::new();
        let mut routes = Vec::new();
        r.top_level(&doc, &["department", "route"], |r, key, v| {
            if key == "department" {
                departments = r.tables::<DepartmentDef>(key, v);
            } else {
                routes = r.tables::<RouteDef>(key, v);
            }
        });
        let mut routing = Routing {
            file: file.to_path_buf(),
            departments: Vec::new(),
            by_code: HashMap::new(),
            routes: Vec::new(),
            aliases: aliases(catalog),
        };
        for (line, d) in departments {
            routing.add_department(&mut r, line, d);
        }
        let mut scopes: HashMap<String, usize> = HashMap::new();
        for (line, def) in routes {
            if let Some(route) = check_route(&mut r, &routing, catalog, city, line, def) {
                let key = format!(
                    "{:?} {:?} {:?} {:?}",
                    sorted(&route.categories),
                    sorted(&route.district),
                    sorted(&route.street),
                    sorted(&route.grid)
                );
                if let Some(first) = scopes.get(&key) {
                    r.error_line(
                        line,
                        format!(
                            "same categories and area as the route at line {first}, which \
                             wins: this one would never be used"
                        ),
                    );
                    continue;
                }
                scopes.insert(key, line);
                routing.routes.push(route);
            }
        }
        routing.routes.sort_by_key(Route::rank);
        if r.has_errors() {
            Err(RoutingErrors(r.finish()))
        } else {
            Ok(routing)
        }
    }

    fn add_department(&mut self, r: &mut Reader<'_>, line: usize, d: DepartmentDef) {
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

    /// The route that decides for a category at a place: the most specific that matches.
    /// `category` is written as the catalog's lookup takes it (`0406`, `component:0102`).
    pub fn route_for(&self, category: &str, at: &Location) -> Option<&Route> {
        let category = self.aliases.get(category).map(String::as_str);
        self.routes.iter().find(|r| r.matches(category, at))
    }

    /// The candidate departments, in order; empty when no route matches (the incident
    /// waits for a dispatcher).
    pub fn candidates(&self, category: &str, at: &Location) -> &[DepartmentCode] {
        self.route_for(category, at)
            .map_or(&[], |r| r.departments.as_slice())
    }

    /// Who gets the case after `returned_by` returns it: the next candidate, or `None` when
    /// `returned_by` was the last (or is not a candidate here, e.g. a dispatcher chose it):
    /// then a dispatcher decides.
    pub fn next_after(&self, category: &str, at: &Location, returned_by: &str) -> Option<&str> {
        let list = self.candidates(category, at);
        let i = list.iter().position(|d| d.as_str() == returned_by)?;
        list.get(i + 1).map(DepartmentCode::as_str)
    }

    pub fn department(&self, code: &str) -> Option<&Department> {
        self.by_code.get(code).map(|&i| &self.departments[i])
    }

    /// Departments in file order.
    pub fn departments(&self) -> &[Department] {
        &self.departments
    }

    /// Routes in resolution order (most specific first).
    pub fn routes(&self) -> &[Route] {
        &self.routes
    }

    /// Routes that can apply to a category somewhere: those naming it, and `"*"` routes.
    pub fn routes_for<'a>(&'a self, category: &str) -> impl Iterator<Item = &'a Route> + 'a {
        let category = self.aliases.get(category).cloned();
        self.routes.iter().filter(move |r| match &r.categories {
            None => true,
            Some(list) => category.as_ref().is_some_and(|c| list.contains(c)),
        })
    }

    /// The file it was read from.
    pub fn file(&self) -> &Path {
        &self.file
    }
}

fn codes(areas: &[Area]) -> Vec<&str> {
    areas.iter().map(|a| a.code.as_str()).collect()
}

fn aliases(catalog: &Catalog) -> HashMap<String, String> {
    let mut out = HashMap::new();
    for c in catalog.categories() {
        out.insert(c.qualified_code(), c.qualified_code());
        if let Some(winner) = catalog.get(&c.code) {
            out.insert(c.code.clone(), winner.qualified_code());
        }
    }
    out
}

fn sorted(v: &Option<Vec<String>>) -> Option<Vec<String>> {
    v.clone().map(|mut v| {
        v.sort();
        v
    })
}

/// Checks one route; `None` if it is unusable (its errors are in `r`).
fn check_route(
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

#[cfg(test)]
#[path = "routing_tests.rs"]
mod tests;
