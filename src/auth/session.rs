//! Sessions: a login makes a random token (32 bytes from the OS random generator,
//! base64url), of which the store keeps only the SHA-256; the client sends the token back
//! as a bearer token or in the `cityops_session` cookie. A session ends `session_hours`
//! after its last use, on logout, on a password change, or when its user is disabled.

use super::limiter::Source;
use super::{Auth, AuthError, device, events};
use crate::model::{Role, Timestamp};
use crate::store::{NewSession, Session, User};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::TryRngCore;
use rand::rngs::OsRng;
use serde::Serialize;
use sha2::{Digest, Sha256};
use std::net::IpAddr;
use std::time::Instant;

/// The session cookie's name.
pub const COOKIE: &str = "cityops_session";
/// A session's expiry is moved forward at most this often (µs), so that a page polling
/// every second does not write to the store every second.
const TOUCH_EVERY_US: i64 = 60_000_000;

/// 32 random bytes from the OS, base64url without padding (43 characters).
pub fn random_token() -> Result<String, AuthError> {
    let mut bytes = [0u8; 32];
    OsRng
        .try_fill_bytes(&mut bytes)
        .map_err(|e| AuthError::Internal(format!("OS random generator: {e}")))?;
    Ok(URL_SAFE_NO_PAD.encode(bytes))
}

/// What the store keeps of a token: its SHA-256, lowercase hex.
pub fn hash_token(token: &str) -> String {
    Sha256::digest(token.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Whether `token` could be one of ours: saves a store lookup for garbage.
pub fn plausible_token(token: &str) -> bool {
    token.len() == 43
        && token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// A user as the pages see them (login answer, `GET /api/v1/me`): no hash, no flags.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct UserView {
    pub id: String,
    pub display_name: String,
    pub role: Role,
    pub district: Option<String>,
    pub street: Option<String>,
    pub department: Option<String>,
    pub grids: Vec<String>,
}

impl From<&User> for UserView {
    fn from(u: &User) -> Self {
        Self {
            id: u.name.clone(),
            display_name: u.display_name.clone(),
            role: u.role,
            district: u.district.clone(),
            street: u.street.clone(),
            department: u.department.clone(),
            grids: u.grids.clone(),
        }
    }
}

/// A successful login: the token (only ever shown here) and what goes with it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct LoggedIn {
    pub token: String,
    pub csrf_token: String,
    pub expires_at: Timestamp,
    pub user: UserView,
    /// The device mark for the cookie (never in the body).
    #[serde(skip)]
    pub device: String,
}

impl Auth {
    /// Checks a user name and password and opens a session. `device` is the mark the
    /// client showed (`device::COOKIE`), if any. Failures are counted by `limiter`: a
    /// client with a valid mark for this user on its own, anyone else by name and
    /// address; past a limit every attempt (even a right one) gets `TooManyAttempts`
    /// until the oldest failure leaves the window.
    pub async fn login(
        &self,
        name: &str,
        password: &str,
        client: Option<IpAddr>,
        device: Option<&str>,
    ) -> Result<LoggedIn, AuthError> {
        // A mark is checked against the user it claims (a store read, which strangers
        // without one do not cost before the limiter has had its say).
        let mut known = None;
        let mut user = None;
        if let Some(mark) = device {
            user = self.store.user(name).await?;
            known = user.as_ref().and_then(|u| device::verify(u, mark));
        }
        let from = match known {
            Some(nonce) => Source::Device(nonce),
            None => Source::Unknown(client),
        };
        if let Err(wait) = self.limiter.check(name, from, Instant::now()) {
            events::login_throttled(name, client, wait);
            return Err(AuthError::TooManyAttempts(wait));
        }
        if device.is_none() {
            user = self.store.user(name).await?;
        }
        // Unknown and disabled users cost a verification too: timing tells nothing.
        let hash = user.as_ref().map(|u| u.password_hash.clone());
        let matches = self.passwords.verify(password.to_owned(), hash).await?;
        let user = match user {
            Some(u) if matches && !u.disabled => u,
            _ => {
                self.limiter.failed(name, from, Instant::now());
                events::login_failed(name, client);
                return Err(AuthError::BadCredentials);
            }
        };
        self.limiter.succeeded(name, from);
        // A known device keeps its mark; anyone else is given one.
        let device = match (known, device) {
            (Some(_), Some(mark)) => mark.to_owned(),
            _ => device::mint(&user)?,
        };
        let now = self.clock.now();
        let token = random_token()?;
        let csrf_token = random_token()?;
        let expires_at = now.saturating_add_micros(self.session_ttl_us);
        self.store
            .create_session(&NewSession {
                token_hash: hash_token(&token),
                user: user.name.clone(),
                csrf_token: csrf_token.clone(),
                created_at: now,
                expires_at,
            })
            .await?;
        // Logins are rare: a good moment to sweep the sessions nobody ended.
        if let Err(e) = self.store.delete_expired_sessions(now).await {
            tracing::warn!(error = %e, "could not delete expired sessions");
        }
        events::login_succeeded(&user.name, client);
        Ok(LoggedIn {
            token,
            csrf_token,
            expires_at,
            user: UserView::from(&user),
            device,
        })
    }

    /// The live session `token` opens, its expiry slid forward; `None` if it is unknown,
    /// expired, logged out or its user is disabled.
    pub async fn resolve(&self, token: &str) -> Result<Option<Session>, AuthError> {
        if !plausible_token(token) {
            return Ok(None);
        }
        let now = self.clock.now();
        let Some(mut session) = self.store.session(&hash_token(token), now).await? else {
            return Ok(None);
        };
        if now.micros() - session.last_seen_at.micros() >= TOUCH_EVERY_US {
            let expires_at = now.saturating_add_micros(self.session_ttl_us);
            // Best effort: the request is authenticated either way, and the next one
            // tries again.
            match self
                .store
                .touch_session(&session.token_hash, now, expires_at)
                .await
            {
                Ok(_) => {
                    session.last_seen_at = now;
                    session.expires_at = session.expires_at.max(expires_at);
                }
                Err(e) => tracing::warn!(error = %e, "could not extend a session"),
            }
        }
        Ok(Some(session))
    }

    /// Ends a session (logout).
    pub async fn logout(&self, session: &Session) -> Result<(), AuthError> {
        self.store.delete_session(&session.token_hash).await?;
        events::logged_out(&session.user.name);
        Ok(())
    }

    /// The `Set-Cookie` value that hands the pages their session. No `Max-Age`: the
    /// server decides when the session ends, and the cookie goes with the browser.
    pub fn session_cookie(&self, token: &str) -> String {
        let secure = if self.cookie_secure { "; Secure" } else { "" };
        format!("{COOKIE}={token}; Path=/; HttpOnly; SameSite=Strict{secure}")
    }

    /// The `Set-Cookie` value that gives the client its device mark.
    pub fn device_cookie(&self, mark: &str) -> String {
        device::cookie(mark, self.cookie_secure)
    }

    /// The `Set-Cookie` value that removes the session cookie.
    pub fn clear_cookie(&self) -> String {
        let secure = if self.cookie_secure { "; Secure" } else { "" };
        format!("{COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0{secure}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_random_base64url_and_hashed_to_hex() {
        let a = random_token().unwrap();
        let b = random_token().unwrap();
        assert_ne!(a, b);
        assert!(plausible_token(&a), "{a}");
        assert!(!plausible_token("short"));
        assert!(!plausible_token(&format!("{}=", &a[..42])));
        let h = hash_token(&a);
        assert_eq!(h.len(), 64);
        assert!(
            h.bytes()
                .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
        );
        assert_ne!(h, a);
        // SHA-256 of "abc".
        assert_eq!(
            hash_token("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
