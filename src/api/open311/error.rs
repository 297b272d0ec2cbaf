//! Open311's error shape, `[{"code", "description"}]`, for every error under
//! `/open311/`, and the checks each handler starts with: who is signed in, which query
//! parameters, and the `.json` format.

use crate::api::ApiError;
use crate::auth::{AuthError, Authenticated};
use crate::incidents::reports::ReportError;
use crate::model::Actor;
use crate::store::StoreError;
use axum::Json;
use axum::extract::Query;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;
use std::collections::HashMap;

/// An error in the specification's shape; the HTTP status is the `code`.
pub struct Open311Error {
    status: StatusCode,
    description: String,
    challenge: Option<HeaderValue>,
}

impl Open311Error {
    pub(super) fn new(status: StatusCode, description: impl Into<String>) -> Self {
        Self {
            status,
            description: description.into(),
            challenge: None,
        }
    }

    pub(super) fn bad(description: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, description)
    }

    pub(super) fn store(e: StoreError) -> Self {
        tracing::error!(error = %e, "store error while serving Open311");
        match e {
            StoreError::Unavailable(_) => Self::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "the database is unavailable",
            ),
            _ => Self::new(StatusCode::INTERNAL_SERVER_ERROR, "internal error"),
        }
    }
}

impl IntoResponse for Open311Error {
    fn into_response(self) -> Response {
        let body = json!([{ "code": self.status.as_u16(), "description": self.description }]);
        let mut response = (self.status, Json(body)).into_response();
        if let Some(c) = self.challenge {
            response.headers_mut().insert(header::WWW_AUTHENTICATE, c);
        }
        response
    }
}

impl From<StoreError> for Open311Error {
    fn from(e: StoreError) -> Self {
        Self::store(e)
    }
}

impl From<ReportError> for Open311Error {
    fn from(e: ReportError) -> Self {
        match e {
            ReportError::Forbidden(m) => Self::new(StatusCode::FORBIDDEN, m),
            ReportError::Store(e) => Self::store(e),
            // The specification answers bad input with 400; the reason leads the text.
            other => Self::bad(format!("{}: {other}", other.code())),
        }
    }
}

/// The signed-in user, or the authentication error in Open311's shape.
pub(super) fn signed_in(auth: Result<Authenticated, AuthError>) -> Result<Actor, Open311Error> {
    let e = match auth {
        Ok(Authenticated(actor)) => return Ok(actor),
        Err(AuthError::Api(ApiError::Store(e))) => return Err(Open311Error::store(e)),
        Err(e) => e,
    };
    let description = match &e {
        AuthError::Internal(_) | AuthError::Api(_) => "authentication failed".to_owned(),
        other => other.to_string(),
    };
    let inner = e.into_response();
    Err(Open311Error {
        status: inner.status(),
        description,
        challenge: inner.headers().get(header::WWW_AUTHENTICATE).cloned(),
    })
}

/// Query parameters, refusing names outside `allowed`.
pub(super) fn params(
    q: Result<Query<HashMap<String, String>>, axum::extract::rejection::QueryRejection>,
    allowed: &[&str],
) -> Result<HashMap<String, String>, Open311Error> {
    let Query(q) = q.map_err(|e| Open311Error::bad(e.body_text()))?;
    if let Some(k) = q.keys().find(|k| !allowed.contains(&k.as_str())) {
        return Err(Open311Error::bad(format!(
            "unknown parameter {k:?}; expected one of {}",
            allowed.join(", ")
        )));
    }
    Ok(q)
}

/// `{id}.json` → `{id}`; other formats are refused (this server speaks JSON only).
pub(super) fn json_file(file: &str) -> Result<&str, Open311Error> {
    file.strip_suffix(".json").ok_or_else(|| {
        Open311Error::bad(format!("{file:?}: only the JSON format (.json) is served"))
    })
}
