//! Open311 GeoReport v2 under `/open311/v2/`, JSON only, for citizen apps (随手拍 apps,
//! a 12345 portal). Field names are the specification's; `docs/reports.md` has the
//! mapping.
//!
//! - `GET services.json`: the category catalog as services;
//! - `POST requests.json` (form-encoded as the specification sends it, or JSON): a report
//!   on channel `open311` → `[{"service_request_id": ..}]`;
//! - `GET requests/{id}.json`, `GET requests.json?service_request_id=..`: its status.
//!
//! A citizen app signs in as a user (bearer token) instead of sending an `api_key`; that
//! user's role and jurisdiction decide what it may report and read, as for REST. Every
//! error, authentication included, has the specification's shape:
//! `[{"code": 400, "description": ".."}]`.

mod error;
mod post;
mod requests;
mod services;

pub use error::Open311Error;

use super::AppState;
use axum::Router;
use axum::http::StatusCode;
use axum::routing::get;
use post::post_request;
use requests::{get_request, list_requests};
use services::{service_definition, services};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/services.json", get(services))
        .route("/services/{file}", get(service_definition))
        .route("/requests.json", get(list_requests).post(post_request))
        .route("/requests/{file}", get(get_request))
        .fallback(|uri: axum::http::Uri| async move {
            // `services.xml`, `requests/{id}.xml`: a format this server does not speak.
            if uri.path().ends_with(".xml") {
                return Open311Error::bad(format!(
                    "{}: only the JSON format (.json) is served",
                    uri.path()
                ));
            }
            Open311Error::new(StatusCode::NOT_FOUND, format!("no Open311 resource {uri}"))
        })
        .method_not_allowed_fallback(|method: axum::http::Method| async move {
            let message = format!("{method} is not allowed here");
            Open311Error::new(StatusCode::METHOD_NOT_ALLOWED, message)
        })
}
