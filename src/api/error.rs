//! The one mapping from errors to HTTP status and a JSON `{code, message}` body.
//! Internal details are logged, not shown.
//!
//! Errors that no handler made — a query string, path or body that axum's extractors
//! reject, an unknown method, a body over the limit — are reshaped by [`json_errors`],
//! so every error has the same shape: `{code, message}`, or Open311's
//! `[{code, description}]` under `/open311/`.

use crate::store::StoreError;
use axum::Json;
use axum::extract::Request;
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
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
    /// An error answered outside the handlers (see [`json_errors`]): its status stays,
    /// its text becomes the message.
    #[error("{message}")]
    Status { status: StatusCode, message: String },
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
            Self::Status { status, .. } => (*status, status_code(*status)),
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

/// The machine code of an error made outside the handlers, by its status.
fn status_code(status: StatusCode) -> &'static str {
    match status {
        StatusCode::BAD_REQUEST => "bad_request",
        StatusCode::UNAUTHORIZED => "unauthenticated",
        StatusCode::FORBIDDEN => "forbidden",
        StatusCode::NOT_FOUND => "not_found",
        StatusCode::METHOD_NOT_ALLOWED => "method_not_allowed",
        StatusCode::REQUEST_TIMEOUT => "request_timeout",
        StatusCode::CONFLICT => "conflict",
        StatusCode::PAYLOAD_TOO_LARGE => "too_large",
        StatusCode::UNSUPPORTED_MEDIA_TYPE => "unsupported_media_type",
        StatusCode::UNPROCESSABLE_ENTITY => "invalid_body",
        StatusCode::TOO_MANY_REQUESTS => "too_many_requests",
        StatusCode::SERVICE_UNAVAILABLE => "unavailable",
        s if s.is_server_error() => "internal",
        _ => "error",
    }
}

pub async fn not_found(uri: axum::http::Uri) -> ApiError {
    ApiError::NotFound(format!("no route for {}", uri.path()))
}

/// Most of an error body read to reuse its text as the message; extractor rejections
/// and tower-http's answers are a line or two.
const REWRAP_LIMIT: usize = 4096;

/// Middleware: an error response (4xx, 5xx) that is not JSON — axum's extractor
/// rejections (`Query`, `Path`, `Json`, `Form`, `Bytes`), its 405, tower-http's 413 —
/// gets the one error shape, keeping its status and headers (`Allow`, …). Handlers keep
/// using axum's extractors; the mapping is here, once.
pub async fn json_errors(req: Request, next: Next) -> Response {
    let open311 = req.uri().path().starts_with("/open311/");
    let response = next.run(req).await;
    let status = response.status();
    let is_json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if !(status.is_client_error() || status.is_server_error()) || is_json {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let text = axum::body::to_bytes(body, REWRAP_LIMIT)
        .await
        .map(|b| String::from_utf8_lossy(&b).trim().to_owned())
        .unwrap_or_default();
    let message = if text.is_empty() {
        status.canonical_reason().unwrap_or("error").to_owned()
    } else {
        text
    };
    let reshaped = if open311 {
        Json(json!([{ "code": status.as_u16(), "description": message }])).into_response()
    } else {
        ApiError::Status { status, message }.into_response()
    };
    let (new_parts, body) = reshaped.into_parts();
    parts.headers.remove(header::CONTENT_LENGTH);
    parts.headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    drop(new_parts);
    Response::from_parts(parts, body)
}
