//! The OpenAPI 3.1 document of the HTTP API, served at `/api/v1/openapi.json`.
//!
//! The paths are described here, in one place, by stubs carrying `#[utoipa::path]`; the
//! schemas come from the domain types themselves (`ToSchema`), so a changed type changes
//! the document. `tests/openapi.rs` checks that every route of the router is described,
//! that the document validates, and (schemathesis) that the server answers as it says.
//!
//! What applies to every operation is added by [`Common`] rather than repeated: a 400
//! where a parameter or body can be malformed, a 413 and 408 where there is a body.

#![allow(dead_code)] // the stubs exist for their attributes only

use super::auth::LoginBody;
use super::indicators::{
    HistoryAnswer, HistoryPoint, IndicatorView, IndicatorsAnswer, SectorView, TrendPoint,
};
use crate::auth::session::{LoggedIn, UserView};
use crate::incidents::lifecycle::Command;
use crate::indicators::ScopeValue;
use crate::model::{
    CameraInfo, Handling, Incident, IncidentEvent, IncidentStatus, Location, MetricSpec, Reading,
    RejectReason, Role, SensorInfo, Severity, VideoAlert,
};
use crate::store::{EvaluationRow, LatestValue, SensorState};
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi, ToSchema};

/// Every error: a machine code and a human message.
#[derive(ToSchema)]
pub struct ErrorBody {
    /// e.g. `not_found`, `forbidden`, `conflict`, `invalid_command`, `unauthenticated`.
    code: String,
    message: String,
}

/// One Open311 error; the answer is a list of them (the specification's shape).
#[derive(ToSchema)]
pub struct Open311ErrorBody {
    /// The HTTP status.
    code: u16,
    description: String,
}

/// How `GET /api/v1/evaluation` groups its figures.
#[derive(ToSchema)]
#[schema(rename_all = "lowercase")]
pub enum EvaluationBy {
    Department,
    District,
    Street,
    Post,
    City,
}

/// What `GET /api/v1/evaluation` answers with.
#[derive(ToSchema)]
#[schema(rename_all = "lowercase")]
pub enum EvaluationFormat {
    Json,
    Csv,
}

/// A 409 from a closed-loop command: the current incident comes along.
#[derive(ToSchema)]
pub struct ConflictBody {
    /// `conflict` (changed meanwhile) or `not_allowed_now` (not from its state).
    code: String,
    message: String,
    incident: Incident,
}

/// The answer of a rules reload.
#[derive(ToSchema)]
pub struct ReloadBody {
    rules: u64,
    unchanged: u64,
}

#[utoipa::path(get, path = "/healthz", tag = "health", responses((status = 200, description = "alive")))]
fn healthz() {}

#[utoipa::path(get, path = "/readyz", tag = "health", responses(
    (status = 200, description = "broker and database usable"),
    (status = 503, description = "not ready; the body says why")))]
fn readyz() {}

#[utoipa::path(get, path = "/metrics", tag = "health", responses(
    (status = 200, description = "Prometheus text format", content_type = "text/plain")))]
fn metrics() {}

#[utoipa::path(post, path = "/api/v1/login", tag = "auth", request_body = LoginBody, responses(
    (status = 200, body = LoggedIn, description = "signed in; also sets the session cookie"),
    (status = 401, body = ErrorBody, description = "not signed in"), (status = 422, body = ErrorBody, description = "invalid"), (status = 429, body = ErrorBody, description = "too many attempts")))]
fn login() {}

#[utoipa::path(post, path = "/api/v1/logout", tag = "auth", security(("bearer" = []), ("cookie" = [])), responses(
    (status = 204, description = "signed out"), (status = 401, body = ErrorBody, description = "not signed in"), (status = 403, body = ErrorBody, description = "forbidden")))]
fn logout() {}

#[utoipa::path(get, path = "/api/v1/me", tag = "auth", security(("bearer" = []), ("cookie" = [])), responses(
    (status = 200, body = UserView, description = "OK"), (status = 401, body = ErrorBody, description = "not signed in")))]
fn me() {}

#[utoipa::path(get, path = "/api/v1/sensors", tag = "sensors", security(("bearer" = []), ("cookie" = [])),
    params(("kind" = Option<String>, Query), ("district" = Option<String>, Query),
           ("limit" = Option<u32>, Query, minimum = 1, maximum = 10000, description = "page size, default 10000"),
           ("after" = Option<String>, Query, description = "cursor: the page starts after this sensor id")),
    responses((status = 200, body = Vec<SensorState>, description = "the sensors in the user's jurisdiction, by id; a Link header with rel=next names the next page"), (status = 400, body = ErrorBody, description = "bad request"), (status = 401, body = ErrorBody, description = "not signed in"),
              (status = 403, body = ErrorBody, description = "forbidden for this role (docs/access.md)")))]
fn sensors() {}

#[utoipa::path(get, path = "/api/v1/sensors/{id}/readings", tag = "sensors", security(("bearer" = []), ("cookie" = [])),
    params(("id" = String, Path), ("from" = Option<String>, Query, format = DateTime, description = "RFC 3339"),
           ("to" = Option<String>, Query, format = DateTime, description = "RFC 3339"), ("metric" = Option<String>, Query),
           ("limit" = Option<u32>, Query, minimum = 1, maximum = 10000)),
    responses((status = 200, body = Vec<Reading>, description = "OK"), (status = 400, body = ErrorBody, description = "bad request"),
              (status = 401, body = ErrorBody, description = "not signed in"), (status = 403, body = ErrorBody, description = "forbidden for this role (docs/access.md)"),
              (status = 404, body = ErrorBody, description = "no such sensor in the user's jurisdiction")))]
fn readings() {}

#[utoipa::path(get, path = "/api/v1/incidents", tag = "incidents", security(("bearer" = []), ("cookie" = [])),
    params(("open" = Option<bool>, Query), ("district" = Option<String>, Query),
           ("limit" = Option<u32>, Query, minimum = 1, maximum = 10000)),
    responses((status = 200, body = Vec<Incident>, description = "newest first, within the user's jurisdiction"),
              (status = 401, body = ErrorBody, description = "not signed in")))]
fn incidents() {}

#[utoipa::path(get, path = "/api/v1/incidents/{id}", tag = "incidents", security(("bearer" = []), ("cookie" = [])),
    params(("id" = String, Path, format = Uuid)),
    responses((status = 200, body = Incident, description = "OK"), (status = 400, body = ErrorBody, description = "bad request"),
              (status = 401, body = ErrorBody, description = "not signed in"), (status = 404, body = ErrorBody, description = "not found")))]
fn incident() {}

#[utoipa::path(get, path = "/api/v1/incidents/{id}/events", tag = "incidents", security(("bearer" = []), ("cookie" = [])),
    params(("id" = String, Path, format = Uuid)),
    responses((status = 200, body = Vec<IncidentEvent>, description = "oldest first"),
              (status = 400, body = ErrorBody, description = "bad request"), (status = 401, body = ErrorBody, description = "not signed in"), (status = 404, body = ErrorBody, description = "not found")))]
fn incident_events() {}

#[utoipa::path(post, path = "/api/v1/incidents/{id}/actions", tag = "incidents", security(("bearer" = []), ("cookie" = [])),
    params(("id" = String, Path, format = Uuid),
           ("If-Match" = Option<String>, Header, pattern = r#"^(W/)?"?[0-9]{1,18}"?$"#, description = "the version the console saw, e.g. \"7\"")),
    request_body = Command,
    responses((status = 200, body = Incident, description = "OK"), (status = 400, body = ErrorBody, description = "bad request"), (status = 401, body = ErrorBody, description = "not signed in"),
              (status = 403, body = ErrorBody, description = "forbidden"), (status = 404, body = ErrorBody, description = "not found"),
              (status = 409, body = ConflictBody, description = "conflict"), (status = 422, body = ErrorBody, description = "invalid")))]
fn incident_action() {}

#[utoipa::path(post, path = "/api/v1/admin/rules/reload", tag = "rules", security(("bearer" = []), ("cookie" = [])),
    responses((status = 200, body = ReloadBody, description = "OK"), (status = 401, body = ErrorBody, description = "not signed in"), (status = 403, body = ErrorBody, description = "forbidden"),
              (status = 422, body = ErrorBody, description = "the rule set has errors; the running one stays")))]
fn reload_rules() {}

#[utoipa::path(post, path = "/api/v1/video-alerts", tag = "ingest", request_body(content = String, content_type = "application/json",
        description = "a video-AI alert: {id, camera_id, event_type, confidence, time, snapshot_url?} (docs/ingest.md)"),
    responses((status = 201, description = "stored"), (status = 200, description = "already stored (duplicate)"),
              (status = 413, body = ErrorBody, description = "too large"), (status = 422, body = ErrorBody, description = "rejected; `code` is the reason"),
              (status = 503, body = ErrorBody, description = "unavailable")))]
fn post_video_alert() {}

#[utoipa::path(get, path = "/api/v1/video-alerts", tag = "ingest", security(("bearer" = []), ("cookie" = [])),
    params(("limit" = Option<u32>, Query, minimum = 1, maximum = 10000)),
    responses((status = 200, body = Vec<VideoAlert>, description = "the alerts of cameras in the user's jurisdiction"), (status = 401, body = ErrorBody, description = "not signed in"),
              (status = 403, body = ErrorBody, description = "forbidden for this role (docs/access.md)")))]
fn video_alerts() {}

#[utoipa::path(get, path = "/api/v1/dead-letters", tag = "ingest", security(("bearer" = []), ("cookie" = [])),
    params(("limit" = Option<u32>, Query, minimum = 1, maximum = 10000)),
    responses((status = 200, description = "rejected messages with reason and raw bytes"), (status = 401, body = ErrorBody, description = "not signed in"),
              (status = 403, body = ErrorBody, description = "forbidden for this role (docs/access.md)")))]
fn dead_letters() {}

#[utoipa::path(get, path = "/api/v1/city/{layer}", tag = "city", security(("bearer" = []), ("cookie" = [])),
    params(("layer" = String, Path, description = "districts.geojson, streets.geojson, grids.geojson, sensors.geojson or cameras.geojson")),
    responses((status = 200, description = "GeoJSON (RFC 7946); sensors and cameras only those in the user's jurisdiction", content_type = "application/geo+json"),
              (status = 401, body = ErrorBody, description = "not signed in"),
              (status = 403, body = ErrorBody, description = "sensors and cameras: forbidden for this role (docs/access.md)"),
              (status = 404, body = ErrorBody, description = "not found")))]
fn city_layer() {}

#[utoipa::path(get, path = "/ws", tag = "live", security(("bearer" = []), ("cookie" = [])),
    params(("epoch" = Option<String>, Query), ("since" = Option<u64>, Query)),
    responses((status = 101, description = "WebSocket: snapshot, then ordered deltas (docs/live-protocol.md)"),
              (status = 401, body = ErrorBody, description = "not signed in"), (status = 403, body = ErrorBody, description = "another site's page")))]
fn ws() {}

#[utoipa::path(get, path = "/api/v1/evaluation", tag = "evaluation", security(("bearer" = []), ("cookie" = [])),
    params(("from" = String, Query, format = DateTime, description = "RFC 3339, inclusive"),
           ("to" = String, Query, format = DateTime, description = "RFC 3339, exclusive"),
           ("by" = Option<EvaluationBy>, Query, description = "department (default), district, street, post or city"),
           ("format" = Option<EvaluationFormat>, Query, description = "json (default) or csv")),
    responses((status = 200, description = "the figures of docs/evaluation.md per group; CSV with a BOM when format=csv"),
              (status = 400, body = ErrorBody, description = "bad parameters"), (status = 401, body = ErrorBody, description = "not signed in"),
              (status = 403, body = ErrorBody, description = "forbidden")))]
fn evaluation() {}

#[utoipa::path(get, path = "/api/v1/indicators", tag = "indicators", security(("bearer" = []), ("cookie" = [])),
    responses((status = 200, body = IndicatorsAnswer, description = "the vital signs as they stand, with the last hour, as the user may see them (docs/indicators.md)"),
              (status = 401, body = ErrorBody, description = "not signed in"),
              (status = 403, body = ErrorBody, description = "this role reads no vital signs")))]
fn indicators() {}

#[utoipa::path(get, path = "/api/v1/indicators/{id}/history", tag = "indicators", security(("bearer" = []), ("cookie" = [])),
    params(("id" = String, Path),
           ("from" = Option<String>, Query, format = DateTime, description = "RFC 3339, inclusive; default 24 hours before `to`"),
           ("to" = Option<String>, Query, format = DateTime, description = "RFC 3339, exclusive; default now"),
           ("step" = Option<i64>, Query, description = "minutes per point: 1 (default), 5, 15, 60, 360 or 1440; at most 1 440 points"),
           ("scope" = Option<String>, Query, description = "\"\" the city, district:<code> or street:<code>; default the user's own")),
    responses((status = 200, body = HistoryAnswer, description = "one point per step: the last value, the largest, the smallest, the worst level"),
              (status = 400, body = ErrorBody, description = "bad parameters"), (status = 401, body = ErrorBody, description = "not signed in"),
              (status = 403, body = ErrorBody, description = "this role reads no vital signs"),
              (status = 404, body = ErrorBody, description = "no such indicator, or a scope outside the user's jurisdiction")))]
fn indicator_history() {}

#[utoipa::path(post, path = "/api/v1/reports", tag = "reports", security(("bearer" = []), ("cookie" = [])),
    request_body(content = String, content_type = "application/json",
        description = "{category, location: {lon, lat} | {grid}, description, severity?, channel?, reporter_contact?, address?} (docs/reports.md)"),
    responses((status = 201, body = Incident, description = "a discovered incident"), (status = 401, body = ErrorBody, description = "not signed in"),
              (status = 403, body = ErrorBody, description = "forbidden"), (status = 422, body = ErrorBody, description = "invalid")))]
fn post_report() {}

#[utoipa::path(get, path = "/api/v1/incidents/{id}/report", tag = "reports", security(("bearer" = []), ("cookie" = [])),
    params(("id" = String, Path, format = Uuid)),
    responses((status = 200, description = "channel, reporter, address; contact only for dispatchers and duty officers"),
              (status = 400, body = ErrorBody, description = "bad request"), (status = 401, body = ErrorBody, description = "not signed in"),
              (status = 404, body = ErrorBody, description = "not found")))]
fn get_report() {}

#[utoipa::path(post, path = "/api/v1/incidents/{id}/photos", tag = "reports", security(("bearer" = []), ("cookie" = [])),
    params(("id" = String, Path, format = Uuid)),
    request_body(content = String, content_type = "multipart/form-data", description = "one or more `photo` fields: JPEG, PNG or WebP"),
    responses((status = 201, description = "stored"), (status = 400, body = ErrorBody, description = "bad request"),
              (status = 401, body = ErrorBody, description = "not signed in"), (status = 404, body = ErrorBody, description = "not found"),
              (status = 409, body = ErrorBody, description = "the incident is final"), (status = 413, body = ErrorBody, description = "too large"),
              (status = 415, body = ErrorBody, description = "not an image"), (status = 422, body = ErrorBody, description = "invalid")))]
fn upload_photos() {}

#[utoipa::path(get, path = "/api/v1/incidents/{id}/photos", tag = "reports", security(("bearer" = []), ("cookie" = [])),
    params(("id" = String, Path, format = Uuid)),
    responses((status = 200, description = "the incident's photos"), (status = 400, body = ErrorBody, description = "bad request"),
              (status = 401, body = ErrorBody, description = "not signed in"), (status = 404, body = ErrorBody, description = "not found")))]
fn list_photos() {}

#[utoipa::path(get, path = "/api/v1/photos/{id}", tag = "reports", security(("bearer" = []), ("cookie" = [])),
    params(("id" = String, Path, format = Uuid)),
    responses((status = 200, description = "the image", content_type = "image/*"), (status = 400, body = ErrorBody, description = "bad request"),
              (status = 401, body = ErrorBody, description = "not signed in"), (status = 404, body = ErrorBody, description = "not found")))]
fn get_photo() {}

#[utoipa::path(get, path = "/open311/v2/services.json", tag = "open311", security(("bearer" = [])),
    responses((status = 200, description = "Open311 GeoReport v2 service list (the category catalog)"), (status = 401, description = "not signed in")))]
fn open311_services() {}

#[utoipa::path(get, path = "/open311/v2/services/{file}", tag = "open311", security(("bearer" = [])),
    params(("file" = String, Path, pattern = r"^[^/]+\.json$", description = "<service_code>.json")),
    responses((status = 200, description = "service definition"), (status = 401, description = "not signed in"), (status = 404, description = "no such service")))]
fn open311_service() {}

#[utoipa::path(get, path = "/open311/v2/requests.json", tag = "open311", security(("bearer" = [])),
    params(("service_request_id" = Option<String>, Query), ("service_code" = Option<String>, Query),
           ("status" = Option<String>, Query, pattern = "^(open|closed)(,(open|closed))*$", description = "open, closed or both, comma-separated"),
           ("start_date" = Option<String>, Query, format = DateTime), ("end_date" = Option<String>, Query, format = DateTime)),
    responses((status = 200, description = "service requests"), (status = 400, description = "bad request"), (status = 401, description = "not signed in")))]
fn open311_requests() {}

#[utoipa::path(post, path = "/open311/v2/requests.json", tag = "open311", security(("bearer" = [])),
    request_body(content = String, content_type = "application/x-www-form-urlencoded",
        description = "service_code, lat, long, description, address_string?, email?, phone?, first_name?, last_name?, media_url?"),
    responses((status = 201, description = "[{service_request_id}]"), (status = 400, description = "bad request"), (status = 401, description = "not signed in")))]
fn open311_post_request() {}

#[utoipa::path(get, path = "/open311/v2/requests/{file}", tag = "open311", security(("bearer" = [])),
    params(("file" = String, Path, pattern = r"^[^/]+\.json$", description = "<service_request_id>.json")),
    responses((status = 200, description = "the request and its status"), (status = 401, description = "not signed in"), (status = 404, description = "no such request")))]
fn open311_request() {}

#[utoipa::path(get, path = "/api/v1/openapi.json", tag = "meta", responses((status = 200, description = "this document")))]
fn openapi_json() {}

/// Responses every operation of a kind has: 400 where a parameter or body can be
/// malformed, 413 and 408 where there is a body (`[http]` limits, docs/http.md); in
/// Open311's error shape under `/open311/`.
struct Common;

impl Modify for Common {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::{ContentBuilder, Ref, RefOr, ResponseBuilder};
        for (path, item) in openapi.paths.paths.iter_mut() {
            let schema = if path.starts_with("/open311/") {
                utoipa::openapi::schema::ArrayBuilder::new()
                    .items(Ref::from_schema_name("Open311ErrorBody"))
                    .build()
                    .into()
            } else {
                RefOr::Ref(Ref::from_schema_name("ErrorBody"))
            };
            let error = |description: &str| {
                let content = ContentBuilder::new().schema(Some(schema.clone())).build();
                ResponseBuilder::new()
                    .description(description)
                    .content("application/json", content)
                    .build()
            };
            for op in [&mut item.get, &mut item.post].into_iter().flatten() {
                let has_body = op.request_body.is_some();
                let has_params = op.parameters.as_ref().is_some_and(|p| !p.is_empty());
                let responses = &mut op.responses.responses;
                let mut add = |status: &str, description: &str| {
                    responses
                        .entry(status.to_owned())
                        .or_insert_with(|| error(description).into());
                };
                if has_body || has_params {
                    add("400", "bad request: a parameter or the body does not parse");
                }
                if has_body {
                    add("408", "the body did not arrive in time");
                    add("413", "the body is too large");
                }
            }
        }
    }
}

struct Security;

impl Modify for Security {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
        components.add_security_scheme(
            "cookie",
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::with_description(
                "cityops_session",
                "the pages' session; state-changing requests also send X-CSRF-Token",
            ))),
        );
    }
}

#[derive(OpenApi)]
#[openapi(
    info(title = "cityops", description = "City operations center: sensors, incidents and the closed loop."),
    paths(healthz, readyz, metrics, login, logout, me, sensors, readings, incidents, incident,
          incident_events, incident_action, reload_rules, post_video_alert, video_alerts,
          dead_letters, city_layer, ws, evaluation, indicators, indicator_history, post_report, get_report, upload_photos,
          list_photos, get_photo, open311_services, open311_service, open311_requests,
          open311_post_request, open311_request, openapi_json),
    components(schemas(ErrorBody, Open311ErrorBody, EvaluationBy, EvaluationFormat, ConflictBody, ReloadBody, Incident, Handling, IncidentEvent,
        IncidentStatus, Severity, Location, Command, SensorState, LatestValue, SensorInfo,
        MetricSpec, CameraInfo, Reading, VideoAlert, RejectReason, Role, UserView, LoggedIn, LoginBody,
        EvaluationRow, IndicatorsAnswer, IndicatorView, SectorView, TrendPoint, ScopeValue,
        HistoryAnswer, HistoryPoint)),
    modifiers(&Security, &Common)
)]
pub struct ApiDoc;

/// `GET /api/v1/openapi.json`.
pub async fn document() -> axum::Json<utoipa::openapi::OpenApi> {
    axum::Json(ApiDoc::openapi())
}
