//! Device logins: with `mqtt.device_passwords` set, a device's CONNECT must carry a user
//! name and password listed in that file, one `name:hash` per line (`#` starts a
//! comment), the hash an argon2id PHC string as `cityops device-password` writes it.
//!
//! argon2 costs tens of milliseconds, and after a restart every device of a city logs in
//! again within seconds. So a password once verified is remembered (its SHA-256, per user
//! name, in memory only): the device's next logins cost a hash comparison. A wrong
//! password always goes to argon2, a few at a time ([`Passwords`]), so guessing stays
//! slow. Unknown names are verified against a dummy hash, so timing tells nothing.

use super::wire::ConnectCode;
use crate::auth::password::Passwords;
use anyhow::{Context, bail};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::path::Path;
use std::sync::Mutex;

pub struct DevicePasswords {
    hashes: HashMap<String, String>,
    verified: Mutex<HashMap<String, [u8; 32]>>,
    passwords: Passwords,
}

impl std::fmt::Debug for DevicePasswords {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "DevicePasswords({} devices)", self.hashes.len())
    }
}

impl DevicePasswords {
    /// Reads the file; any line that is not `name:argon2-hash` is an error naming it.
    pub fn load(path: &Path) -> anyhow::Result<Self> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("reading mqtt.device_passwords {}", path.display()))?;
        Self::parse(&text).with_context(|| format!("in {}", path.display()))
    }

    pub fn parse(text: &str) -> anyhow::Result<Self> {
        let mut hashes = HashMap::new();
        for (n, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let Some((name, hash)) = line.split_once(':') else {
                bail!("line {}: expected name:hash", n + 1);
            };
            if name.is_empty() {
                bail!("line {}: empty device name", n + 1);
            }
            if argon2::PasswordHash::new(hash).is_err() {
                bail!("line {}: the hash of {name:?} is not a PHC string", n + 1);
            }
            if hashes.insert(name.to_owned(), hash.to_owned()).is_some() {
                bail!("line {}: {name:?} is listed twice", n + 1);
            }
        }
        Ok(Self {
            hashes,
            verified: Mutex::new(HashMap::new()),
            passwords: Passwords::new(),
        })
    }

    /// The file's text with `name`'s line set to `hash` (added, or replaced in place).
    pub fn with_entry(text: &str, name: &str, hash: &str) -> String {
        let mut out = String::new();
        let mut found = false;
        for line in text.lines() {
            if line.trim().split_once(':').is_some_and(|(n, _)| n == name) {
                if !found {
                    out.push_str(&format!("{name}:{hash}\n"));
                }
                found = true;
            } else {
                out.push_str(line);
                out.push('\n');
            }
        }
        if !found {
            out.push_str(&format!("{name}:{hash}\n"));
        }
        out
    }

    /// How a CONNECT with `login` is answered.
    pub(super) async fn check(&self, login: Option<&(String, String)>) -> ConnectCode {
        let Some((name, password)) = login else {
            return ConnectCode::NotAuthorized;
        };
        let digest: [u8; 32] = Sha256::digest(password.as_bytes()).into();
        let remembered = self
            .verified
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(name)
            .is_some_and(|d| *d == digest);
        if remembered {
            return ConnectCode::Accepted;
        }
        let hash = self.hashes.get(name).cloned();
        let known = hash.is_some();
        match self.passwords.verify(password.clone(), hash).await {
            Ok(true) if known => {
                self.verified
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .insert(name.clone(), digest);
                ConnectCode::Accepted
            }
            _ => ConnectCode::BadCredentials,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::password::hash_blocking;

    #[tokio::test]
    async fn listed_devices_log_in_and_nothing_else_does() {
        let text = DevicePasswords::with_entry(
            "# devices\n",
            "pump-7",
            &hash_blocking("right horse battery").unwrap(),
        );
        let p = DevicePasswords::parse(&text).unwrap();
        let login = |u: &str, pw: &str| Some((u.to_owned(), pw.to_owned()));
        assert_eq!(
            p.check(login("pump-7", "right horse battery").as_ref())
                .await,
            ConnectCode::Accepted
        );
        // Remembered now, and still only for the right password.
        assert_eq!(
            p.check(login("pump-7", "right horse battery").as_ref())
                .await,
            ConnectCode::Accepted
        );
        assert_eq!(
            p.check(login("pump-7", "wrong").as_ref()).await,
            ConnectCode::BadCredentials
        );
        assert_eq!(
            p.check(login("pump-8", "right horse battery").as_ref())
                .await,
            ConnectCode::BadCredentials
        );
        assert_eq!(p.check(None).await, ConnectCode::NotAuthorized);
    }

    #[test]
    fn a_bad_file_names_its_line() {
        let good = format!("a:{}\nb\n", hash_blocking("right horse battery").unwrap());
        let e = DevicePasswords::parse(&good).unwrap_err();
        assert!(e.to_string().contains("line 2"), "{e}");
        let e = DevicePasswords::parse("a:plain-text\n").unwrap_err();
        assert!(e.to_string().contains("not a PHC string"), "{e}");
    }

    #[test]
    fn an_entry_is_replaced_in_place() {
        let t = DevicePasswords::with_entry("a:h1\nb:h2\n", "a", "h3");
        assert_eq!(t, "a:h3\nb:h2\n");
        assert_eq!(
            DevicePasswords::with_entry("a:h1\n", "c", "h4"),
            "a:h1\nc:h4\n"
        );
    }
}
