//! Password hashes: argon2id (OWASP's parameters, argon2's defaults: 19 MiB, 2 passes,
//! 1 lane) with a 16-byte salt from the OS random generator, stored as a PHC string.
//!
//! A hash costs tens of milliseconds of CPU and 19 MiB, so it never runs on the async
//! threads (`spawn_blocking`) and only [`HASH_CONCURRENCY`] run at once: a flood of login
//! attempts queues instead of eating the memory. argon2 compares the computed and stored
//! outputs in constant time.

use super::AuthError;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use argon2::{Algorithm, Argon2, Params, Version};
use rand::TryRngCore;
use rand::rngs::OsRng;
use std::sync::OnceLock;
use tokio::sync::Semaphore;

/// Shortest password accepted when one is set.
pub const MIN_LEN: usize = 10;
/// Longest password accepted, in bytes: anything longer is not a typed password.
pub const MAX_LEN: usize = 1024;
/// Hashes computed at once.
const HASH_CONCURRENCY: usize = 4;

fn argon2() -> Argon2<'static> {
    Argon2::new(Algorithm::Argon2id, Version::V0x13, Params::default())
}

/// Why a new password is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WeakPassword {
    #[error("the password must be at least {MIN_LEN} characters long")]
    TooShort,
    #[error("the password must be at most {MAX_LEN} bytes long")]
    TooLong,
}

/// Checks a password about to be set.
pub fn check_new(password: &str) -> Result<(), WeakPassword> {
    if password.chars().count() < MIN_LEN {
        return Err(WeakPassword::TooShort);
    }
    if password.len() > MAX_LEN {
        return Err(WeakPassword::TooLong);
    }
    Ok(())
}

/// Hashes `password` with a fresh random salt (blocking: call it off the async threads,
/// or through [`Passwords::hash`]).
pub fn hash_blocking(password: &str) -> Result<String, AuthError> {
    let mut salt = [0u8; 16];
    OsRng
        .try_fill_bytes(&mut salt)
        .map_err(|e| AuthError::Internal(format!("OS random generator: {e}")))?;
    argon2()
        .hash_password_with_salt(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| AuthError::Internal(format!("argon2: {e}")))
}

/// Whether `password` matches the PHC string `hash` (blocking). A hash that cannot be
/// parsed matches nothing.
pub fn verify_blocking(password: &str, hash: &str) -> bool {
    password.len() <= MAX_LEN && argon2().verify_password(password.as_bytes(), hash).is_ok()
}

/// A hash of a random password, made once, to verify against when the user is unknown:
/// the answer then takes as long as for a known user.
fn dummy_hash() -> &'static str {
    static DUMMY: OnceLock<String> = OnceLock::new();
    DUMMY.get_or_init(|| {
        let mut bytes = [0u8; 24];
        let _ = OsRng.try_fill_bytes(&mut bytes);
        let password: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
        // With the same parameters as real hashes, or the timing would differ.
        hash_blocking(&password).unwrap_or_default()
    })
}

/// Hashing and verifying off the async threads, a few at a time.
pub struct Passwords {
    permits: Semaphore,
}

impl Default for Passwords {
    fn default() -> Self {
        Self::new()
    }
}

impl Passwords {
    pub fn new() -> Self {
        Self {
            permits: Semaphore::new(HASH_CONCURRENCY),
        }
    }

    async fn blocking<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, AuthError> {
        // The semaphore is never closed, so acquiring only waits.
        let _permit = self
            .permits
            .acquire()
            .await
            .map_err(|e| AuthError::Internal(e.to_string()))?;
        tokio::task::spawn_blocking(work)
            .await
            .map_err(|e| AuthError::Internal(format!("hashing task: {e}")))
    }

    pub async fn hash(&self, password: String) -> Result<String, AuthError> {
        self.blocking(move || hash_blocking(&password)).await?
    }

    /// Verifies against `hash`, or, with `None` (unknown user), against a dummy hash so
    /// that the time taken does not tell whether the user exists; `None` never matches.
    pub async fn verify(&self, password: String, hash: Option<String>) -> Result<bool, AuthError> {
        self.blocking(move || match hash {
            Some(h) => verify_blocking(&password, &h),
            None => {
                verify_blocking(&password, dummy_hash());
                false
            }
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_are_salted_argon2id_and_verify() {
        let a = hash_blocking("correct horse battery").unwrap();
        let b = hash_blocking("correct horse battery").unwrap();
        assert!(a.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{a}");
        assert_ne!(a, b, "a fresh salt per hash");
        assert!(verify_blocking("correct horse battery", &a));
        assert!(verify_blocking("correct horse battery", &b));
        assert!(!verify_blocking("correct horse battery!", &a));
        assert!(!verify_blocking("", &a));
        assert!(!verify_blocking("correct horse battery", "not a hash"));
    }

    #[test]
    fn new_passwords_need_ten_characters() {
        assert_eq!(check_new("short"), Err(WeakPassword::TooShort));
        // Characters, not bytes: ten CJK characters are enough.
        assert_eq!(check_new("城市运行管理中心值班"), Ok(()));
        assert_eq!(check_new("0123456789"), Ok(()));
        assert_eq!(
            check_new(&"x".repeat(MAX_LEN + 1)),
            Err(WeakPassword::TooLong)
        );
    }

    #[tokio::test]
    async fn unknown_users_never_match() {
        let p = Passwords::new();
        let h = p.hash("a good long password".into()).await.unwrap();
        assert!(
            p.verify("a good long password".into(), Some(h))
                .await
                .unwrap()
        );
        assert!(!p.verify("a good long password".into(), None).await.unwrap());
    }
}
