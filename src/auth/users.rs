//! Managing users: the checks a new user must pass (role, jurisdiction against the city,
//! password length), and the few operations of `cityops user` and the demo users.

use super::password::{self, Passwords};
use crate::clock::Clock;
use crate::model::Role;
use crate::spatial::City;
use crate::store::{NewUser, SharedStore, StoreError, User, parse_role};

/// Longest user name.
const MAX_NAME: usize = 64;

#[derive(Debug, thiserror::Error)]
pub enum UserError {
    /// The user as given cannot be created; the message names every problem.
    #[error("{0}")]
    Invalid(String),
    #[error("no user named {0:?}")]
    NotFound(String),
    #[error("a user named {0:?} already exists")]
    Exists(String),
    #[error(transparent)]
    Store(StoreError),
    #[error(transparent)]
    Auth(#[from] super::AuthError),
}

impl From<StoreError> for UserError {
    fn from(e: StoreError) -> Self {
        Self::Store(e)
    }
}

/// A user as someone asks for them, before any check.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct UserSpec {
    pub name: String,
    pub role: String,
    pub display_name: Option<String>,
    pub district: Option<String>,
    pub street: Option<String>,
    pub department: Option<String>,
    pub grids: Vec<String>,
}

/// The roles a person may have (`system` is the system itself, never a login).
pub const PERSON_ROLES: &[Role] = &[
    Role::Admin,
    Role::DutyOfficer,
    Role::Dispatcher,
    Role::Department,
    Role::GridWorker,
    Role::Engineer,
    Role::Wall,
];

/// Checks `spec` against the city and returns its role; the error lists every problem.
pub fn check(spec: &UserSpec, city: &City) -> Result<Role, UserError> {
    let mut problems = Vec::new();
    let name_ok = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || "._-".contains(c);
    if spec.name.is_empty()
        || spec.name.len() > MAX_NAME
        || !spec.name.chars().all(name_ok)
        || !spec.name.starts_with(|c: char| c.is_ascii_alphanumeric())
    {
        problems.push(format!(
            "bad user name {:?}: 1 to {MAX_NAME} of a-z, 0-9, '.', '_', '-', starting with a letter or digit",
            spec.name
        ));
    }
    let role = parse_role(&spec.role).filter(|r| PERSON_ROLES.contains(r));
    match role {
        None => problems.push(format!(
            "unknown role {:?}: expected one of {}",
            spec.role,
            PERSON_ROLES
                .iter()
                .map(|r| r.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        )),
        Some(Role::Department) if spec.department.is_none() => {
            problems.push("a department user needs --department".into())
        }
        Some(Role::GridWorker) if spec.grids.is_empty() => {
            problems.push("a grid worker needs at least one --grid".into())
        }
        Some(r) if r != Role::Department && spec.department.is_some() => problems.push(format!(
            "--department is only for department users, not {}",
            r.as_str()
        )),
        Some(r) if r != Role::GridWorker && !spec.grids.is_empty() => problems.push(format!(
            "--grid is only for grid workers, not {}",
            r.as_str()
        )),
        Some(_) => {}
    }
    if let Some(d) = spec.department.as_deref()
        && (d.is_empty() || d.len() > MAX_NAME || d.contains(char::is_whitespace))
    {
        problems.push(format!("bad department code {d:?}"));
    }
    check_places(spec, city, &mut problems);
    if problems.is_empty() {
        // `role` is Some when nothing was found wrong.
        role.ok_or_else(|| UserError::Invalid("unknown role".into()))
    } else {
        Err(UserError::Invalid(problems.join("; ")))
    }
}

/// District, street and grid codes must be the city's, and a street its district's.
fn check_places(spec: &UserSpec, city: &City, problems: &mut Vec<String>) {
    if let Some(d) = &spec.district
        && !city.districts().iter().any(|a| &a.code == d)
    {
        problems.push(format!("unknown district {d:?}"));
    }
    if let Some(s) = &spec.street {
        match (city.streets().iter().find(|a| &a.code == s), &spec.district) {
            (None, _) => problems.push(format!("unknown street {s:?}")),
            (Some(_), None) => problems.push(format!("street {s:?} needs its --district")),
            (Some(a), Some(d)) if a.district.as_ref() != Some(d) => problems.push(format!(
                "street {s:?} is in district {:?}, not {d:?}",
                a.district.as_deref().unwrap_or("?")
            )),
            _ => {}
        }
    }
    for g in &spec.grids {
        if !city.grids().iter().any(|a| &a.code == g) {
            problems.push(format!("unknown grid {g:?}"));
        }
    }
}

/// Checks and creates a user with `password` (hashed here).
pub async fn add(
    store: &SharedStore,
    city: &City,
    clock: &dyn Clock,
    spec: &UserSpec,
    password: &str,
) -> Result<User, UserError> {
    let role = check(spec, city)?;
    password::check_new(password).map_err(|e| UserError::Invalid(e.to_string()))?;
    let mut grids = spec.grids.clone();
    grids.sort();
    grids.dedup();
    let new = NewUser {
        name: spec.name.clone(),
        display_name: spec
            .display_name
            .clone()
            .unwrap_or_else(|| spec.name.clone()),
        role,
        district: spec.district.clone(),
        street: spec.street.clone(),
        department: spec.department.clone(),
        grids,
        password_hash: Passwords::new().hash(password.to_owned()).await?,
        created_at: clock.now(),
    };
    match store.create_user(&new).await {
        Ok(()) => {}
        Err(StoreError::Conflict(_)) => return Err(UserError::Exists(spec.name.clone())),
        Err(e) => return Err(e.into()),
    }
    store
        .user(&new.name)
        .await?
        .ok_or_else(|| UserError::NotFound(new.name.clone()))
}

/// Sets a new password and ends the user's sessions.
pub async fn set_password(
    store: &SharedStore,
    name: &str,
    password: &str,
) -> Result<(), UserError> {
    password::check_new(password).map_err(|e| UserError::Invalid(e.to_string()))?;
    let hash = Passwords::new().hash(password.to_owned()).await?;
    store
        .set_password(name, &hash)
        .await
        .map_err(|e| not_found(e, name))
}

/// Disables (ending their sessions) or re-enables a user.
pub async fn set_disabled(
    store: &SharedStore,
    name: &str,
    disabled: bool,
) -> Result<(), UserError> {
    store
        .set_user_disabled(name, disabled)
        .await
        .map_err(|e| not_found(e, name))
}

fn not_found(e: StoreError, name: &str) -> UserError {
    match e {
        StoreError::NotFound(_) => UserError::NotFound(name.to_owned()),
        other => other.into(),
    }
}

/// Where a user acts, for people: `city`, `D-0`, `D-0/S-00-01`, `dept water-city`,
/// `grids G-00-00,G-00-01`.
pub fn jurisdiction(u: &User) -> String {
    let mut parts = Vec::new();
    if let Some(dep) = &u.department {
        parts.push(format!("dept {dep}"));
    }
    if !u.grids.is_empty() {
        parts.push(format!("grids {}", u.grids.join(",")));
    }
    match (&u.district, &u.street) {
        (Some(d), Some(s)) => parts.push(format!("{d}/{s}")),
        (Some(d), None) => parts.push(d.clone()),
        _ if parts.is_empty() => parts.push("city".into()),
        _ => {}
    }
    parts.join(" ")
}

/// The users as a plain-text table: name, role, jurisdiction, disabled.
pub fn table(users: &[User]) -> String {
    let rows: Vec<[String; 4]> = users
        .iter()
        .map(|u| {
            [
                u.name.clone(),
                u.role.as_str().to_owned(),
                jurisdiction(u),
                if u.disabled { "yes" } else { "no" }.to_owned(),
            ]
        })
        .collect();
    let header = ["NAME", "ROLE", "JURISDICTION", "DISABLED"].map(str::to_owned);
    let mut widths = header.clone().map(|h| h.chars().count());
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    for row in std::iter::once(&header).chain(&rows) {
        let cells: Vec<String> = row
            .iter()
            .zip(widths)
            .map(|(cell, w)| format!("{cell:<w$}"))
            .collect();
        out.push_str(cells.join("  ").trim_end());
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn city() -> City {
        City::load(&std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("city/demo"))
            .expect("demo city")
    }

    fn spec(name: &str, role: &str) -> UserSpec {
        UserSpec {
            name: name.into(),
            role: role.into(),
            ..UserSpec::default()
        }
    }

    #[test]
    fn every_problem_is_named_at_once() {
        let bad = UserSpec {
            street: Some("S-00-01".into()),
            grids: vec!["G-99-99".into()],
            ..spec("Bad Name", "department")
        };
        let msg = check(&bad, &city()).unwrap_err().to_string();
        for part in [
            "bad user name",
            "needs --department",
            "needs its --district",
            "unknown grid \"G-99-99\"",
        ] {
            assert!(msg.contains(part), "{part}: {msg}");
        }
    }

    #[test]
    fn good_users_pass_with_their_role() {
        let c = city();
        let street = UserSpec {
            district: Some("D-0".into()),
            street: Some("S-00-01".into()),
            ..spec("s0", "dispatcher")
        };
        assert_eq!(check(&street, &c).unwrap(), Role::Dispatcher);
        let grid = UserSpec {
            grids: vec!["G-00-00".into()],
            ..spec("g.1", "grid_worker")
        };
        assert_eq!(check(&grid, &c).unwrap(), Role::GridWorker);
        assert!(
            check(&spec("sys", "system"), &c).is_err(),
            "system is not a person"
        );
    }

    #[test]
    fn the_table_lines_up() {
        let user = |name: &str, role, district: Option<&str>, disabled| User {
            name: name.into(),
            display_name: name.into(),
            role,
            district: district.map(Into::into),
            street: None,
            department: None,
            grids: Vec::new(),
            password_hash: String::new(),
            disabled,
            created_at: crate::model::Timestamp(0),
        };
        let t = table(&[
            user("duty", Role::DutyOfficer, None, false),
            user("district-d0", Role::Dispatcher, Some("D-0"), true),
        ]);
        assert_eq!(
            t,
            "NAME         ROLE          JURISDICTION  DISABLED\n\
             duty         duty_officer  city          no\n\
             district-d0  dispatcher    D-0           yes\n"
        );
    }
}
