//! The `Origin` check for `/ws`. Browsers send cookies with a WebSocket handshake from any
//! site and the handshake is a GET, so neither SameSite nor a CSRF header protects it
//! (cross-site WebSocket hijacking); the `Origin` header, which a page cannot forge, does.
//! A request without `Origin` is not from a browser page and must then bring a bearer
//! token anyway.

use super::{Auth, AuthError};
use axum::http::{HeaderMap, header};

/// Whether a page at `origin` may use this server: its host (and port) is the one the
/// request was sent to (`Host`), or it is listed in `auth.allowed_origins`.
pub fn origin_allowed(origin: &str, host: Option<&str>, allowed: &[String]) -> bool {
    let origin = origin.trim().trim_end_matches('/');
    if allowed
        .iter()
        .any(|a| a.trim_end_matches('/').eq_ignore_ascii_case(origin))
    {
        return true;
    }
    let origin_host = origin
        .strip_prefix("https://")
        .or_else(|| origin.strip_prefix("http://"));
    match (origin_host, host) {
        (Some(o), Some(h)) => !o.is_empty() && o.eq_ignore_ascii_case(h.trim()),
        // "null" (sandboxed frames, files) and other schemes are never ours.
        _ => false,
    }
}

impl Auth {
    /// `Err(Origin)` if the request comes from a page of another site.
    pub fn check_origin(&self, headers: &HeaderMap) -> Result<(), AuthError> {
        let Some(origin) = headers.get(header::ORIGIN) else {
            return Ok(());
        };
        let origin = origin
            .to_str()
            .map_err(|_| AuthError::Origin("(not text)".into()))?;
        let host = headers.get(header::HOST).and_then(|h| h.to_str().ok());
        if origin_allowed(origin, host, &self.allowed_origins) {
            Ok(())
        } else {
            Err(AuthError::Origin(origin.chars().take(200).collect()))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_host_or_listed_origins_only() {
        let none: &[String] = &[];
        let host = Some("127.0.0.1:8080");
        assert!(origin_allowed("http://127.0.0.1:8080", host, none));
        assert!(origin_allowed("https://127.0.0.1:8080", host, none));
        assert!(!origin_allowed("http://127.0.0.1:8081", host, none));
        assert!(!origin_allowed("http://evil.example", host, none));
        assert!(!origin_allowed("null", host, none));
        assert!(!origin_allowed("http://127.0.0.1:8080", None, none));
        let listed = vec!["https://wall.example.org".to_owned()];
        assert!(origin_allowed("https://wall.example.org", host, &listed));
        assert!(origin_allowed("HTTPS://WALL.example.org", None, &listed));
        assert!(!origin_allowed("http://wall.example.org", host, &listed));
        assert!(!origin_allowed(
            "https://wall.example.org.evil.example",
            host,
            &listed
        ));
    }
}
