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

use super::{ApiError, AppState};
use crate::auth::{AuthError, Authenticated};
use crate::incidents::catalog::Category;
use crate::incidents::reports::progress::{Progress, followable, progress};
use crate::incidents::reports::{Channel, Place, Report, ReportError, incident_code};
use crate::model::{Actor, Incident, IncidentId, Timestamp};
use crate::store::{IncidentFilter, ReporterContact, StoreError};
use axum::body::{Body, Bytes};
use axum::extract::{FromRequest, Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, Request, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Form, Json, Router};
use serde::Deserialize;
use serde::de::IgnoredAny;
use serde_json::{Value, json};
use std::collections::HashMap;

/// Most requests one list answers (the specification's own cap).
const MAX_LIST: usize = 1000;
/// Without dates, a list covers this many days back (as the specification says).
const DEFAULT_DAYS: i64 = 90;

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

/// An error in the specification's shape; the HTTP status is the `code`.
pub struct Open311Error {
    status: StatusCode,
    description: String,
    challenge: Option<HeaderValue>,
}

impl Open311Error {
    fn new(status: StatusCode, description: impl Into<String>) -> Self {
        Self {
            status,
            description: description.into(),
            challenge: None,
        }
    }

    fn bad(description: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, description)
    }

    fn store(e: StoreError) -> Self {
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
fn signed_in(auth: Result<Authenticated, AuthError>) -> Result<Actor, Open311Error> {
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
fn params(
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
fn json_file(file: &str) -> Result<&str, Open311Error> {
    file.strip_suffix(".json").ok_or_else(|| {
        Open311Error::bad(format!("{file:?}: only the JSON format (.json) is served"))
    })
}

fn service_name(c: &Category) -> String {
    format!("{} {}", c.name_zh, c.name_en)
}

fn service(s: &AppState, c: &Category) -> Value {
    json!({
        "service_code": incident_code(&s.desk.catalog, c),
        "service_name": service_name(c),
        "description": c.file_condition,
        "metadata": false,
        "type": "realtime",
        "keywords": format!("{}, {}", c.kind, c.sector),
        "group": c.sector,
    })
}

/// `GET services.json`: every category of the catalog.
async fn services(
    State(s): State<AppState>,
    auth: Result<Authenticated, AuthError>,
    q: Result<Query<HashMap<String, String>>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<Vec<Value>>, Open311Error> {
    signed_in(auth)?;
    params(q, &["jurisdiction_id"])?;
    let catalog = &s.desk.catalog;
    Ok(Json(
        catalog
            .categories()
            .iter()
            .map(|c| service(&s, c))
            .collect(),
    ))
}

/// `GET services/{code}.json`: no service has extra attributes (`metadata` is false), so
/// a definition is just its code with an empty attribute list.
async fn service_definition(
    State(s): State<AppState>,
    auth: Result<Authenticated, AuthError>,
    Path(file): Path<String>,
) -> Result<Json<Value>, Open311Error> {
    signed_in(auth)?;
    let code = json_file(&file)?;
    let c =
        s.desk.catalog.get(code).ok_or_else(|| {
            Open311Error::new(StatusCode::NOT_FOUND, format!("no service {code:?}"))
        })?;
    Ok(Json(json!({
        "service_code": incident_code(&s.desk.catalog, c),
        "attributes": [],
    })))
}

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
async fn post_request(
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
    let incident = super::reports::submit(&s, &actor, report).await?;
    let body = json!([{
        "service_request_id": incident.id,
        "service_notice": format!("已受理 received; follow it at requests/{}.json", incident.id),
        "account_id": null,
    }]);
    Ok((StatusCode::CREATED, Json(body)).into_response())
}

/// A request as Open311 shows it. A merged request follows the incident it was merged
/// into: it is open while that one is, and says so.
async fn request_view(s: &AppState, incident: &Incident) -> Result<Value, Open311Error> {
    let Progress {
        carrier,
        closed,
        notes,
        updated,
    } = progress(&s.store, incident).await?;
    let record = s.store.report(&incident.dedup_key).await?;
    let category = s.desk.catalog.get(&incident.category);
    let agency = carrier.handling.department.as_deref().map(|d| {
        s.desk
            .routing
            .department(d)
            .map_or_else(|| d.to_owned(), |dep| dep.name_zh.clone())
    });
    Ok(json!({
        "service_request_id": incident.id,
        "status": if closed { "closed" } else { "open" },
        "status_notes": notes,
        "service_name": category.map(service_name),
        "service_code": category.map_or_else(|| incident.category.clone(), |c| incident_code(&s.desk.catalog, c)),
        "description": incident.description,
        "agency_responsible": agency,
        "service_notice": null,
        "requested_datetime": incident.opened_at,
        "updated_datetime": updated,
        "expected_datetime": carrier.handling.due_at.filter(|_| !closed),
        "address": record.as_ref().and_then(|r| r.address.clone()),
        "address_id": null,
        "zipcode": null,
        "lat": incident.location.lat,
        "long": incident.location.lon,
        "media_url": record.and_then(|r| r.media_url),
    }))
}

async fn followable_by_id(
    s: &AppState,
    actor: &Actor,
    id: &str,
) -> Result<Option<Incident>, Open311Error> {
    let Ok(uuid) = uuid::Uuid::parse_str(id.trim()) else {
        return Ok(None);
    };
    let incident = s.store.incident(IncidentId(uuid)).await?;
    Ok(incident.filter(|i| followable(actor, i)))
}

/// `GET requests/{id}.json`: a one-element list, as the specification has it.
async fn get_request(
    State(s): State<AppState>,
    auth: Result<Authenticated, AuthError>,
    Path(file): Path<String>,
    q: Result<Query<HashMap<String, String>>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<Vec<Value>>, Open311Error> {
    let actor = signed_in(auth)?;
    params(q, &["jurisdiction_id"])?;
    let id = json_file(&file)?;
    let Some(incident) = followable_by_id(&s, &actor, id).await? else {
        return Err(Open311Error::new(
            StatusCode::NOT_FOUND,
            format!("no service request {id:?}"),
        ));
    };
    Ok(Json(vec![request_view(&s, &incident).await?]))
}

fn date(q: &HashMap<String, String>, name: &str) -> Result<Option<Timestamp>, Open311Error> {
    q.get(name)
        .map(|v| {
            Timestamp::parse_rfc3339(v).ok_or_else(|| {
                Open311Error::bad(format!(
                    "{name}: expected an ISO 8601 date-time with a zone, got {v:?}"
                ))
            })
        })
        .transpose()
}

/// `GET requests.json`: by `service_request_id` (comma-separated), else the reports the
/// user may follow, newest first, filtered by `service_code`, `status` (`open`,
/// `closed`, comma-separated) and `start_date`/`end_date` (default: the last 90 days).
async fn list_requests(
    State(s): State<AppState>,
    auth: Result<Authenticated, AuthError>,
    q: Result<Query<HashMap<String, String>>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<Vec<Value>>, Open311Error> {
    let actor = signed_in(auth)?;
    let q = params(
        q,
        &[
            "jurisdiction_id",
            "service_request_id",
            "service_code",
            "start_date",
            "end_date",
            "status",
        ],
    )?;
    // Every parameter is checked, even those a lookup by id does not use.
    let end = date(&q, "end_date")?.unwrap_or(Timestamp::from_micros(i64::MAX));
    let start = date(&q, "start_date")?.unwrap_or_else(|| {
        let from = if end.micros() == i64::MAX {
            s.clock.now()
        } else {
            end
        };
        from.saturating_add_micros(-DEFAULT_DAYS * 86_400 * 1_000_000)
    });
    let codes: Option<Vec<&str>> = q.get("service_code").map(|c| c.split(',').collect());
    let statuses: Option<Vec<&str>> = q.get("status").map(|c| c.split(',').collect());
    if let Some(bad) = statuses
        .iter()
        .flatten()
        .find(|s| !["open", "closed"].contains(s))
    {
        return Err(Open311Error::bad(format!(
            "status must be open or closed, got {bad:?}"
        )));
    }
    if let Some(ids) = q.get("service_request_id") {
        let mut out = Vec::new();
        for id in ids
            .split(',')
            .filter(|i| !i.trim().is_empty())
            .take(MAX_LIST)
        {
            if let Some(incident) = followable_by_id(&s, &actor, id).await? {
                out.push(request_view(&s, &incident).await?);
            }
        }
        return Ok(Json(out));
    }
    let filter = IncidentFilter {
        district: actor.district.clone(),
        ..Default::default()
    };
    let mut out = Vec::new();
    for incident in s.store.incidents(&filter).await? {
        if out.len() >= MAX_LIST {
            break;
        }
        let in_range = incident.opened_at >= start && incident.opened_at <= end;
        if !in_range || !followable(&actor, &incident) {
            continue;
        }
        let view = request_view(&s, &incident).await?;
        let code_ok = codes.as_ref().is_none_or(|c| {
            c.iter()
                .any(|c| view["service_code"] == *c || incident.category == *c)
        });
        let status_ok = statuses
            .as_ref()
            .is_none_or(|st| st.iter().any(|st| view["status"] == *st));
        if code_ok && status_ok {
            out.push(view);
        }
    }
    Ok(Json(out))
}
