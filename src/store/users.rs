//! The rows behind logins: users (who someone is and what they may reach) and their
//! sessions. Passwords and tokens never reach the store in the clear: a user carries an
//! argon2id hash, a session the SHA-256 of its token (`auth::password`, `auth::session`).

use super::StoreResult;
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

/// A user for [`UserStore::create_user`]; starts enabled.
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

/// A session for [`UserStore::create_session`].
#[derive(Debug, Clone, PartialEq)]
pub struct NewSession {
    /// Lowercase hex SHA-256 of the token the client holds.
    pub token_hash: String,
    pub user: String,
    pub csrf_token: String,
    pub created_at: Timestamp,
    pub expires_at: Timestamp,
}

/// A live session with its (enabled) user, as [`UserStore::session`]
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

/// Users and their sessions (`auth`).
#[async_trait::async_trait]
pub trait UserStore: Send + Sync {
    /// Adds a user, enabled. `Conflict` if the name is taken.
    async fn create_user(&self, user: &NewUser) -> StoreResult<()>;

    /// Replaces a user's password hash and ends all their sessions, in one transaction:
    /// whoever knew the old password is logged out. `NotFound` for an unknown name.
    async fn set_password(&self, name: &str, password_hash: &str) -> StoreResult<()>;

    /// Disables or re-enables a user. Disabling also ends all their sessions in the same
    /// transaction ([`UserStore::session`] would refuse them anyway). `NotFound` for an
    /// unknown name.
    async fn set_user_disabled(&self, name: &str, disabled: bool) -> StoreResult<()>;

    /// The user with this name, disabled or not.
    async fn user(&self, name: &str) -> StoreResult<Option<User>>;

    /// All users, by name.
    async fn users(&self) -> StoreResult<Vec<User>>;

    /// Records a session. `NotFound` if its user does not exist, `Conflict` if the token
    /// hash is already stored (a token collision: never in practice).
    async fn create_session(&self, session: &NewSession) -> StoreResult<()>;

    /// The session with this token hash and its user, if it has not expired at `now`
    /// (`expires_at > now`) and its user is enabled; otherwise `None`.
    async fn session(&self, token_hash: &str, now: Timestamp) -> StoreResult<Option<Session>>;

    /// Slides a session: last_seen_at = `now`, expires_at = `expires_at` (never moved
    /// back). Returns false if the session no longer exists.
    async fn touch_session(
        &self,
        token_hash: &str,
        now: Timestamp,
        expires_at: Timestamp,
    ) -> StoreResult<bool>;

    /// Ends one session (logout). Returns false if there was none.
    async fn delete_session(&self, token_hash: &str) -> StoreResult<bool>;

    /// Ends every session of a user; returns how many there were.
    async fn delete_sessions_of(&self, user: &str) -> StoreResult<u64>;

    /// Deletes the sessions that expired at or before `now`; returns how many.
    async fn delete_expired_sessions(&self, now: Timestamp) -> StoreResult<u64>;
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
