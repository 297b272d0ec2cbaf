//! What can go wrong authenticating, and its HTTP answer: the same JSON `{code, message}`
//! as [`ApiError`], which also answers for the store and for bad bodies.

use crate::api::ApiError;
use crate::store::StoreError;
use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;
use std::time::Duration;

/// The `WWW-Authenticate` challenge of every 401 (RFC 6750).
const CHALLENGE: &str = "Bearer realm=\"cityops\"";

#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// No credentials, or a token that is unknown, expired, logged out or whose user is
    /// disabled → 401 `unauthenticated`. The clients are not told which.
    #[error("{0}")]
    Unauthenticated(&'static str),
    /// Login with a wrong user name or password → 401 `bad_credentials` (one message for
    /// both, so names cannot be probed).
    #[error("wrong user name or password")]
    BadCredentials,
    /// A cookie-authenticated request that changes state without the session's
    /// `X-CSRF-Token` → 403 `csrf`.
    #[error("missing or wrong X-CSRF-Token header")]
    Csrf,
    /// A page from another site opening `/ws` → 403 `origin`.
    #[error("origin {0:?} is not allowed")]
    Origin(String),
    /// Too many failed logins → 429 `too_many_attempts` with `Retry-After`.
    #[error("too many failed logins; try again in {} s", retry_secs(*.0))]
    TooManyAttempts(Duration),
    /// A body that is not what the route takes, answered as [`ApiError`] answers it.
    #[error(transparent)]
    Api(#[from] ApiError),
    /// Hashing failed (no OS randomness, a panicked worker): logged, answered 500.
    #[error("internal error: {0}")]
    Internal(String),
}

impl From<StoreError> for AuthError {
    fn from(e: StoreError) -> Self {
        Self::Api(ApiError::Store(e))
    }
}

/// Whole seconds to wait, rounded up so a client never comes back too early.
fn retry_secs(d: Duration) -> u64 {
    d.as_secs() + u64::from(d.subsec_nanos() > 0)
}

impl IntoResponse for AuthError {
    fn into_response(self) -> Response {
        let (status, code) = match self {
            Self::Api(e) => return e.into_response(),
            Self::Internal(e) => {
                tracing::error!(error = %e, "authentication failed internally");
                let body = json!({"code": "internal", "message": "internal error"});
                return (StatusCode::INTERNAL_SERVER_ERROR, Json(body)).into_response();
            }
            Self::Unauthenticated(_) => (StatusCode::UNAUTHORIZED, "unauthenticated"),
            Self::BadCredentials => (StatusCode::UNAUTHORIZED, "bad_credentials"),
            Self::Csrf => (StatusCode::FORBIDDEN, "csrf"),
            Self::Origin(_) => (StatusCode::FORBIDDEN, "origin"),
            Self::TooManyAttempts(_) => (StatusCode::TOO_MANY_REQUESTS, "too_many_attempts"),
        };
        let body = json!({ "code": code, "message": self.to_string() });
        let mut response = (status, Json(body)).into_response();
        let headers = response.headers_mut();
        match &self {
            Self::Unauthenticated(_) | Self::BadCredentials => {
                headers.insert(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static(CHALLENGE),
                );
            }
            Self::TooManyAttempts(wait) => {
                headers.insert(header::RETRY_AFTER, HeaderValue::from(retry_secs(*wait)));
            }
            _ => {}
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_rounds_up() {
        assert_eq!(retry_secs(Duration::from_millis(1)), 1);
        assert_eq!(retry_secs(Duration::from_secs(60)), 60);
        assert_eq!(retry_secs(Duration::from_millis(60_001)), 61);
    }

    #[test]
    fn statuses_codes_and_headers() {
        let r = AuthError::Unauthenticated("no credentials").into_response();
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(r.headers()[header::WWW_AUTHENTICATE], CHALLENGE);
        let r = AuthError::TooManyAttempts(Duration::from_secs(42)).into_response();
        assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(r.headers()[header::RETRY_AFTER], "42");
        assert_eq!(
            AuthError::Csrf.into_response().status(),
            StatusCode::FORBIDDEN
        );
    }
}
