//! Device marks: after a right password, the client is given a long-lived cookie that
//! says "this browser signed in as this user before". It opens nothing by itself (a
//! login still needs the password); it only lets the login limiter count that client
//! apart from strangers, so that guessing at a user's name, or from the same NAT address,
//! never locks out a browser the user has used before (`limiter`, `docs/access.md`).
//!
//! The mark is `<nonce>.<mac>`: 16 random bytes and an HMAC-SHA256 over the user name and
//! the nonce, keyed with the user's stored password hash. So the server keeps no table of
//! marks, they survive restarts, a mark for one user is worthless for another, and a
//! password change voids every mark of that user.

use super::AuthError;
use crate::store::User;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use rand::TryRngCore;
use rand::rngs::OsRng;
use sha2::Sha256;

/// The device cookie's name. It is sent only to the login endpoint.
pub const COOKIE: &str = "cityops_device";
/// How long a browser keeps its mark (seconds): a year.
const MAX_AGE_S: u64 = 365 * 24 * 3600;

fn mac(user: &User, nonce: &str) -> Option<Hmac<Sha256>> {
    let mut mac = Hmac::<Sha256>::new_from_slice(user.password_hash.as_bytes()).ok()?;
    mac.update(b"cityops-device\0");
    mac.update(user.name.as_bytes());
    mac.update(b"\0");
    mac.update(nonce.as_bytes());
    Some(mac)
}

/// A fresh mark for `user`.
pub fn mint(user: &User) -> Result<String, AuthError> {
    let mut bytes = [0u8; 16];
    OsRng
        .try_fill_bytes(&mut bytes)
        .map_err(|e| AuthError::Internal(format!("OS random generator: {e}")))?;
    let nonce = URL_SAFE_NO_PAD.encode(bytes);
    let tag = mac(user, &nonce)
        .ok_or_else(|| AuthError::Internal("device mark key".into()))?
        .finalize()
        .into_bytes();
    Ok(format!("{nonce}.{}", URL_SAFE_NO_PAD.encode(tag)))
}

/// The nonce of `mark` if it is one of `user`'s (checked in constant time).
pub fn verify<'m>(user: &User, mark: &'m str) -> Option<&'m str> {
    let (nonce, tag) = mark.split_once('.')?;
    if nonce.len() != 22 || tag.len() != 43 {
        return None;
    }
    let tag = URL_SAFE_NO_PAD.decode(tag).ok()?;
    mac(user, nonce)?.verify_slice(&tag).ok()?;
    Some(nonce)
}

/// The `Set-Cookie` value that gives a browser its mark.
pub fn cookie(mark: &str, secure: bool) -> String {
    let secure = if secure { "; Secure" } else { "" };
    format!(
        "{COOKIE}={mark}; Path=/api/v1/login; Max-Age={MAX_AGE_S}; HttpOnly; SameSite=Strict{secure}"
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Role;

    fn user(name: &str, hash: &str) -> User {
        User {
            name: name.into(),
            display_name: name.into(),
            password_hash: hash.into(),
            role: Role::Wall,
            district: None,
            street: None,
            department: None,
            grids: Vec::new(),
            disabled: false,
            created_at: crate::model::Timestamp::from_micros(0),
        }
    }

    #[test]
    fn a_mark_is_its_users_only_and_dies_with_the_password() {
        let duty = user("duty", "$argon2id$one");
        let mark = mint(&duty).unwrap();
        assert!(verify(&duty, &mark).is_some(), "{mark}");
        assert_ne!(mint(&duty).unwrap(), mark, "each mark is new");
        assert_eq!(verify(&user("wall", "$argon2id$one"), &mark), None);
        assert_eq!(verify(&user("duty", "$argon2id$two"), &mark), None);
        let (nonce, tag) = mark.split_once('.').unwrap();
        let first = if tag.starts_with('A') { "B" } else { "A" };
        let flipped = format!("{nonce}.{first}{}", &tag[1..]);
        assert_eq!(verify(&duty, &flipped), None);
        for junk in ["", ".", "abc", &format!("{mark}x"), &mark.replace('.', "")] {
            assert_eq!(verify(&duty, junk), None, "{junk}");
        }
    }
}
