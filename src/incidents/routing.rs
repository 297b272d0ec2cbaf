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

#[path = "routing_file.rs"]
mod file;
use file::*;

#[cfg(test)]
#[path = "routing_tests.rs"]
mod tests;

#[cfg(test)]
#[path = "routing_error_tests.rs"]
mod error_tests;
