//! The rows behind logins: users (who someone is and what they may reach) and their
//! sessions. Passwords and tokens never reach the store in the clear: a user carries an
//! argon2id hash, a session the SHA-256 of its token (`auth::password`, `auth::session`).

use crate::model::{Actor, Role, Timestamp};
use serde::Deserialize;
use serde::de::IntoDeserializer;
use serde::de::value::StrDeserializer;

/// A user as stored. The user name is the identity everywhere (`Actor::id`, event logs).
#[derive(Debug, Clone, PartialEq)]
pub struct User {
    pub name: String,
    pub display_name: String,
    pub role: Role,
    pub district: Option<String>,
    pub street: Option<String>,
    pub department: Option<String>,
    pub grids: Vec<String>,
    /// argon2id PHC string (`$argon2id$v=19$...`).
    pub password_hash: String,
    /// A disabled user cannot log in and their sessions stop working at once.
    pub disabled: bool,
    pub created_at: Timestamp,
}

impl User {
    /// The identity the rest of the system acts with.
    pub fn actor(&self) -> Actor {
        Actor {
            id: self.name.clone(),
            role: self.role,
            district: self.district.clone(),
            street: self.street.clone(),
            department: self.department.clone(),
            grids: self.grids.clone(),
        }
    }
}

/// A user for [`Store::create_user`](super::Store::create_user); starts enabled.
#[derive(Debug, Clone, PartialEq)]
pub struct NewUser {
    pub name: String,
    pub display_name: String,
    pub role: Role,
    pub district: Option<String>,
    pub street: Option<String>,
    pub department: Option<String>,
    pub grids: Vec<String>,
    pub password_hash: String,
    pub created_at: Timestamp,
}

/// A session for [`Store::create_session`](super::Store::create_session).
#[derive(Debug, Clone, PartialEq)]
pub struct NewSession {
    /// Lowercase hex SHA-256 of the token the client holds.
    pub token_hash: String,
    pub user: String,
    pub csrf_token: String,
    pub created_at: Timestamp,
    pub expires_at: Timestamp,
}

/// A live session with its (enabled) user, as [`Store::session`](super::Store::session)
/// finds it.
#[derive(Debug, Clone, PartialEq)]
pub struct Session {
    pub token_hash: String,
    pub user: User,
    pub csrf_token: String,
    pub created_at: Timestamp,
    pub expires_at: Timestamp,
    pub last_seen_at: Timestamp,
}

/// A role from its stored name (`duty_officer`, ...), the inverse of `Role::as_str`.
pub fn parse_role(s: &str) -> Option<Role> {
    let name: StrDeserializer<'_, serde::de::value::Error> = s.into_deserializer();
    Role::deserialize(name).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_round_trip_through_their_names() {
        for role in [
            Role::Admin,
            Role::DutyOfficer,
            Role::GridWorker,
            Role::System,
        ] {
            assert_eq!(parse_role(role.as_str()), Some(role));
        }
        assert_eq!(parse_role("DutyOfficer"), None);
        assert_eq!(parse_role("root"), None);
    }
}
