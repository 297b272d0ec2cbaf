//! `POST requests.json`: a citizen's report, sent as a form (as the specification sends
//! it) or as JSON, submitted on channel `open311` like any other report.

use super::Open311Error;
use super::error::signed_in;
use crate::api::AppState;
use crate::auth::{AuthError, Authenticated};
use crate::incidents::reports::{Channel, Place, Report};
use crate::store::ReporterContact;
use axum::body::{Body, Bytes};
use axum::extract::{FromRequest, State};
use axum::http::{HeaderMap, Request, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::{Form, Json};
use serde::Deserialize;
use serde::de::IgnoredAny;
use serde_json::json;

/// A coordinate as a form sends it (text) or as JSON may (a number).
#[derive(Deserialize)]
#[serde(untagged)]
enum Coordinate {
    Number(f64),
    Text(String),
}

impl Coordinate {
    fn value(self, name: &str) -> Result<f64, Open311Error> {
        match self {
            Self::Number(v) => Ok(v),
            Self::Text(t) => t
                .trim()
                .parse()
                .map_err(|_| Open311Error::bad(format!("{name} must be a number, got {t:?}"))),
        }
    }
}

/// The fields of POST Service Request. Unknown fields are refused; those we accept but do
/// not use are named so a client sending them is not refused.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PostRequest {
    service_code: Option<String>,
    lat: Option<Coordinate>,
    long: Option<Coordinate>,
    description: Option<String>,
    address_string: Option<String>,
    email: Option<String>,
    phone: Option<String>,
    first_name: Option<String>,
    last_name: Option<String>,
    media_url: Option<String>,
    /// One jurisdiction per server; the bearer token replaces the API key; there is no
    /// address registry or device/account registry to refer to.
    #[serde(rename = "jurisdiction_id")]
    _jurisdiction_id: Option<IgnoredAny>,
    #[serde(rename = "api_key")]
    _api_key: Option<IgnoredAny>,
    #[serde(rename = "address_id")]
    _address_id: Option<IgnoredAny>,
    #[serde(rename = "device_id")]
    _device_id: Option<IgnoredAny>,
    #[serde(rename = "account_id")]
    _account_id: Option<IgnoredAny>,
}

async fn parse_post(headers: &HeaderMap, body: Bytes) -> Result<PostRequest, Open311Error> {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("application/x-www-form-urlencoded");
    if content_type.starts_with("application/json") {
        return serde_json::from_slice(&body).map_err(|e| Open311Error::bad(e.to_string()));
    }
    if !content_type.starts_with("application/x-www-form-urlencoded") {
        return Err(Open311Error::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            format!(
                "expected a form (application/x-www-form-urlencoded) or JSON, got {content_type}"
            ),
        ));
    }
    let request = Request::builder()
        .method("POST")
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(Body::from(body))
        .map_err(|e| Open311Error::bad(e.to_string()))?;
    let Form(form) = Form::<PostRequest>::from_request(request, &())
        .await
        .map_err(|e| Open311Error::bad(e.body_text()))?;
    Ok(form)
}

/// `POST requests.json`: 201 with `[{"service_request_id", "service_notice", "account_id"}]`.
pub(super) async fn post_request(
    State(s): State<AppState>,
    auth: Result<Authenticated, AuthError>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, Open311Error> {
    let actor = signed_in(auth)?;
    let r = parse_post(&headers, body).await?;
    let required = |v: Option<String>, name: &str| {
        v.filter(|t| !t.trim().is_empty())
            .ok_or_else(|| Open311Error::bad(format!("{name} is required")))
    };
    let service_code = required(r.service_code, "service_code")?;
    let (Some(lat), Some(long)) = (r.lat, r.long) else {
        return Err(Open311Error::bad(
            "lat and long are required (addresses alone cannot be placed)",
        ));
    };
    let name = [r.first_name, r.last_name]
        .into_iter()
        .flatten()
        .map(|n| n.trim().to_owned())
        .filter(|n| !n.is_empty())
        .collect::<Vec<_>>()
        .join(" ");
    let report = Report {
        category: service_code,
        place: Place::Point {
            lon: long.value("long")?,
            lat: lat.value("lat")?,
        },
        description: required(r.description, "description")?,
        severity: None,
        channel: Channel::Open311,
        contact: ReporterContact {
            name: (!name.is_empty()).then_some(name),
            phone: r.phone,
            email: r.email,
        },
        address: r.address_string,
        media_url: r.media_url,
    };
    let incident = crate::api::reports::submit(&s, &actor, report).await?;
    let body = json!([{
        "service_request_id": incident.id,
        "service_notice": format!("已受理 received; follow it at requests/{}.json", incident.id),
        "account_id": null,
    }]);
    Ok((StatusCode::CREATED, Json(body)).into_response())
}
