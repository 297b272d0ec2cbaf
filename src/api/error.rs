//! The one mapping from errors to HTTP status and a JSON `{code, message}` body.
//! Internal details are logged, not shown.

use crate::store::StoreError;
use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    NotFound(String),
    /// The caller may not do this (role, jurisdiction).
    #[error("{0}")]
    Forbidden(String),
    /// The incident is not in a state (or at the version) the request assumed: the body
    /// carries the current incident so the console can show what changed.
    #[error("{message}")]
    Conflict {
        code: &'static str,
        message: String,
        incident: Box<crate::model::Incident>,
    },
    /// The input was understood but rejected; `code` is the machine-readable reason.
    #[error("{message}")]
    Unprocessable { code: &'static str, message: String },
    #[error("service unavailable: {0}")]
    Unavailable(String),
    /// The request did not arrive in time (`[http]` body timeouts).
    #[error("{0}")]
    RequestTimeout(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl ApiError {
    fn status_and_code(&self) -> (StatusCode, &'static str) {
        match self {
            Self::BadRequest(_) => (StatusCode::BAD_REQUEST, "bad_request"),
            Self::NotFound(_) => (StatusCode::NOT_FOUND, "not_found"),
            Self::Forbidden(_) => (StatusCode::FORBIDDEN, "forbidden"),
            Self::Conflict { code, .. } => (StatusCode::CONFLICT, code),
            Self::Unprocessable { code, .. } => (StatusCode::UNPROCESSABLE_ENTITY, code),
            Self::Unavailable(_) => (StatusCode::SERVICE_UNAVAILABLE, "unavailable"),
            Self::RequestTimeout(_) => (StatusCode::REQUEST_TIMEOUT, "request_timeout"),
            Self::Store(StoreError::Conflict(_)) => (StatusCode::CONFLICT, "conflict"),
            Self::Store(StoreError::Unavailable(_)) => {
                (StatusCode::SERVICE_UNAVAILABLE, "store_unavailable")
            }
            Self::Store(_) => (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, code) = self.status_and_code();
        let message = match &self {
            Self::Store(StoreError::Conflict(m)) => m.clone(),
            Self::Store(e) => {
                tracing::error!(error = %e, "store error while serving a request");
                "the database could not complete the request".to_owned()
            }
            other => other.to_string(),
        };
        let body = match &self {
            Self::Conflict { incident, .. } => {
                json!({ "code": code, "message": message, "incident": incident })
            }
            _ => json!({ "code": code, "message": message }),
        };
        (status, Json(body)).into_response()
    }
}

pub async fn not_found(uri: axum::http::Uri) -> ApiError {
    ApiError::NotFound(format!("no route for {}", uri.path()))
}
