//! People's reports and incident photos over REST (`docs/reports.md`):
//!
//! - `POST /api/v1/reports`: a grid worker's or the center's report → 201 with the
//!   discovered incident it opened;
//! - `GET /api/v1/incidents/{id}/report`: how it came in; the citizen's contact only for
//!   dispatchers and duty officers;
//! - `POST /api/v1/incidents/{id}/photos` (multipart, field `photo`, one or more files),
//!   `GET /api/v1/incidents/{id}/photos`, `GET /api/v1/photos/{attachment_id}`.
//!
//! The rules live in `incidents::reports`; these handlers parse, authorise and map.

use super::{ApiError, AppState};
use crate::auth::Authenticated;
use crate::incidents::lifecycle::may_see;
use crate::incidents::reports::photos::{PHOTO, PhotoError, Upload, may_attach};
use crate::incidents::reports::{
    self, Channel, Place, Report, ReportError, is_report, is_reporter, may_see_contact,
};
use crate::model::{Actor, Incident, IncidentId, Role, Severity};
use crate::store::{AttachmentId, ReporterContact};
use axum::body::{Body, Bytes};
use axum::extract::multipart::MultipartRejection;
use axum::extract::{DefaultBodyLimit, Multipart, Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};

/// Room for the multipart framing around the photos of one request.
const MULTIPART_OVERHEAD: usize = 64 * 1024;

/// The photo routes, outside the router's global body limit: an upload may carry up to
/// `max_photos` photos of `max_photo_bytes` each.
pub fn photo_routes(max_photo_bytes: usize, max_photos: u32) -> Router<AppState> {
    let limit = max_photo_bytes
        .saturating_mul(max_photos as usize)
        .saturating_add(MULTIPART_OVERHEAD);
    Router::new()
        .route(
            "/api/v1/incidents/{id}/photos",
            post(upload_photos).get(list_photos),
        )
        .layer(DefaultBodyLimit::max(limit))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ReportBody {
    category: String,
    location: LocationBody,
    description: String,
    #[serde(default)]
    severity: Option<Severity>,
    #[serde(default)]
    channel: Option<Channel>,
    #[serde(default)]
    reporter_contact: Option<ReporterContact>,
    #[serde(default)]
    address: Option<String>,
}

/// `{"lon": .., "lat": ..}` or `{"grid": ".."}`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LocationBody {
    lon: Option<f64>,
    lat: Option<f64>,
    grid: Option<String>,
}

fn invalid(message: impl Into<String>) -> ApiError {
    ApiError::Unprocessable {
        code: "invalid_report",
        message: message.into(),
    }
}

impl LocationBody {
    fn place(self) -> Result<Place, ApiError> {
        match (self.lon, self.lat, self.grid) {
            (Some(lon), Some(lat), None) => Ok(Place::Point { lon, lat }),
            (None, None, Some(grid)) => Ok(Place::Grid(grid)),
            _ => Err(invalid(
                "location must be {\"lon\": .., \"lat\": ..} or {\"grid\": \"<grid code>\"}",
            )),
        }
    }
}

impl From<ReportError> for ApiError {
    fn from(e: ReportError) -> Self {
        match e {
            ReportError::Forbidden(m) => ApiError::Forbidden(m),
            ReportError::Store(e) => ApiError::Store(e),
            other => ApiError::Unprocessable {
                code: other.code(),
                message: other.to_string(),
            },
        }
    }
}

/// `POST /api/v1/reports`: 201 with the incident and its `Location`; 403 for roles that
/// do not report or a place outside the reporter's jurisdiction; 422 for anything wrong
/// in the body (unknown fields included).
pub async fn post_report(
    State(s): State<AppState>,
    Authenticated(actor): Authenticated,
    body: Bytes,
) -> Result<Response, ApiError> {
    if !reports::may_report(&actor) {
        return Err(ApiError::Forbidden(format!(
            "a {} does not report incidents",
            actor.role.as_str()
        )));
    }
    let body: ReportBody = serde_json::from_slice(&body)
        .map_err(|e| invalid(format!("not a report this endpoint takes: {e}")))?;
    let channel = match body.channel {
        Some(Channel::Open311) => {
            return Err(invalid("channel open311 is for the Open311 interface"));
        }
        Some(c) => c,
        None if actor.role == Role::GridWorker => Channel::Patrol,
        None => Channel::Other,
    };
    let report = Report {
        category: body.category,
        place: body.location.place()?,
        description: body.description,
        severity: body.severity,
        channel,
        contact: body.reporter_contact.unwrap_or_default(),
        address: body.address,
        media_url: None,
    };
    let incident = submit(&s, &actor, report).await?;
    let location = format!("/api/v1/incidents/{}", incident.id);
    Ok((
        StatusCode::CREATED,
        [(header::LOCATION, location)],
        Json(incident),
    )
        .into_response())
}

/// Opens the report's incident (announced on the live feed by the incidents handle).
pub(super) async fn submit(
    s: &AppState,
    actor: &Actor,
    report: Report,
) -> Result<Incident, ReportError> {
    let now = s.clock.now();
    s.reports
        .submit(&s.incidents, &s.city, &s.desk.catalog, actor, report, now)
        .await
}

fn parse_uuid(id: &str, what: &str) -> Result<uuid::Uuid, ApiError> {
    uuid::Uuid::parse_str(id).map_err(|_| ApiError::BadRequest(format!("not {what}: {id:?}")))
}

/// The incident, if `actor` may see it (or reported it); else 404, as if it did not exist.
async fn visible_incident(s: &AppState, actor: &Actor, id: &str) -> Result<Incident, ApiError> {
    let id = IncidentId(parse_uuid(id, "an incident id")?);
    match s.store.incident(id).await? {
        Some(i) if may_see(actor, &i) || is_reporter(actor, &i) => Ok(i),
        _ => Err(ApiError::NotFound(format!("no incident {id}"))),
    }
}

/// `GET /api/v1/incidents/{id}/report`: channel, reporter, address and — for dispatchers
/// and duty officers only — the citizen's contact.
pub async fn get_report(
    State(s): State<AppState>,
    Authenticated(actor): Authenticated,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let incident = visible_incident(&s, &actor, &id).await?;
    let record = if is_report(&incident) {
        s.store.report(&incident.dedup_key).await?
    } else {
        None
    };
    let Some(r) = record else {
        return Err(ApiError::NotFound(format!(
            "incident {} did not come from a report",
            incident.id
        )));
    };
    let mut body = json!({
        "incident": incident.id,
        "channel": r.channel,
        "reporter": r.reporter,
        "address": r.address,
        "media_url": r.media_url,
        "created_at": r.created_at,
    });
    if may_see_contact(&actor) {
        body["reporter_contact"] = json!(r.contact);
    }
    Ok(Json(body))
}

/// What can go wrong uploading: the photo rules' refusals with their own statuses (413,
/// 415, 422), anything else as the API answers it. Same `{code, message}` body.
enum UploadError {
    Api(ApiError),
    Photo(PhotoError),
    NotMultipart(String),
    Multipart(axum::extract::multipart::MultipartError),
}

impl From<ApiError> for UploadError {
    fn from(e: ApiError) -> Self {
        Self::Api(e)
    }
}

impl From<PhotoError> for UploadError {
    fn from(e: PhotoError) -> Self {
        Self::Photo(e)
    }
}

impl IntoResponse for UploadError {
    fn into_response(self) -> Response {
        let (status, code, message) = match self {
            Self::Api(e) => return e.into_response(),
            Self::Photo(PhotoError::Store(e)) => return ApiError::Store(e).into_response(),
            Self::Photo(e @ PhotoError::Io(_)) => {
                tracing::error!(error = %e, "storing a photo failed");
                let message = "the photo could not be stored".to_owned();
                (StatusCode::INTERNAL_SERVER_ERROR, "internal", message)
            }
            Self::Photo(e) => {
                let status = match e {
                    PhotoError::TooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
                    PhotoError::NotAnImage => StatusCode::UNSUPPORTED_MEDIA_TYPE,
                    _ => StatusCode::UNPROCESSABLE_ENTITY,
                };
                (status, e.code(), e.to_string())
            }
            Self::NotMultipart(m) => (StatusCode::UNSUPPORTED_MEDIA_TYPE, "not_multipart", m),
            Self::Multipart(e) => {
                let status = e.status();
                let code = match status {
                    StatusCode::PAYLOAD_TOO_LARGE => "too_large",
                    _ => "bad_multipart",
                };
                (status, code, e.body_text())
            }
        };
        (status, Json(json!({ "code": code, "message": message }))).into_response()
    }
}

/// `POST /api/v1/incidents/{id}/photos`: every `photo` field of the multipart body is
/// checked and stored, or none is; 201 with the new attachments.
async fn upload_photos(
    State(s): State<AppState>,
    Authenticated(actor): Authenticated,
    Path(id): Path<String>,
    multipart: Result<Multipart, MultipartRejection>,
) -> Result<Response, UploadError> {
    let incident = visible_incident(&s, &actor, &id).await?;
    if !may_attach(&actor, &incident) {
        return Err(ApiError::Forbidden(format!(
            "a {} may not add photos to this incident",
            actor.role.as_str()
        ))
        .into());
    }
    let mut multipart = multipart.map_err(|e| {
        UploadError::NotMultipart(format!(
            "send the photos as multipart/form-data, field \"photo\": {}",
            e.body_text()
        ))
    })?;
    let r = &s.reports;
    let attached = s
        .store
        .attachments(incident.id)
        .await
        .map_err(ApiError::from)?;
    let photos = attached.iter().filter(|a| a.kind == PHOTO).count();
    let room = (r.max_photos as usize).saturating_sub(photos);
    // Receive everything first: one bad file refuses the whole request.
    let mut uploads = Vec::new();
    while let Some(mut field) = multipart
        .next_field()
        .await
        .map_err(UploadError::Multipart)?
    {
        if field.name() != Some("photo") {
            return Err(ApiError::Unprocessable {
                code: "unexpected_field",
                message: format!(
                    "unexpected form field {:?}: photos go in fields named \"photo\"",
                    field.name().unwrap_or_default()
                ),
            }
            .into());
        }
        if uploads.len() >= room {
            return Err(PhotoError::TooMany { max: r.max_photos }.into());
        }
        let mut upload = Upload::start(&r.photo_dir, r.max_photo_bytes).await?;
        while let Some(chunk) = field.chunk().await.map_err(UploadError::Multipart)? {
            upload.write(&chunk).await?;
        }
        upload.finish().await?;
        uploads.push(upload);
    }
    if uploads.is_empty() {
        return Err(ApiError::Unprocessable {
            code: "no_photo",
            message: "no photo: send one or more files in form fields named \"photo\"".into(),
        }
        .into());
    }
    let now = s.clock.now();
    let mut stored = Vec::with_capacity(uploads.len());
    for upload in uploads {
        let a = r.attach(&s.store, incident.id, &actor, upload, now).await?;
        stored.push(attachment_json(&a));
    }
    Ok((StatusCode::CREATED, Json(stored)).into_response())
}

fn attachment_json(a: &crate::store::Attachment) -> Value {
    let mut v = json!(a);
    v["url"] = json!(format!("/api/v1/photos/{}", a.id));
    v
}

/// `GET /api/v1/incidents/{id}/photos`: the incident's photos, oldest first.
async fn list_photos(
    State(s): State<AppState>,
    Authenticated(actor): Authenticated,
    Path(id): Path<String>,
) -> Result<Json<Vec<Value>>, ApiError> {
    let incident = visible_incident(&s, &actor, &id).await?;
    let list = s.store.attachments(incident.id).await?;
    Ok(Json(list.iter().map(attachment_json).collect()))
}

/// `GET /api/v1/photos/{attachment_id}`: the bytes, with the type they were recognised
/// as, `nosniff` and a sandboxing CSP, to whoever may see the incident.
pub async fn get_photo(
    State(s): State<AppState>,
    Authenticated(actor): Authenticated,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let missing = || ApiError::NotFound(format!("no photo {id}"));
    let aid = AttachmentId(parse_uuid(&id, "a photo id")?);
    let a = s.store.attachment(aid).await?.ok_or_else(missing)?;
    match s.store.incident(a.incident).await? {
        Some(i) if may_see(&actor, &i) || is_reporter(&actor, &i) => {}
        _ => return Err(missing()),
    }
    let Some(path) = s.reports.photo_path(&a) else {
        tracing::error!(attachment = %a.id, file = a.file, "attachment with an unsafe file name");
        return Err(missing());
    };
    let bytes = tokio::fs::read(&path).await.map_err(|e| {
        tracing::error!(attachment = %a.id, path = %path.display(), error = %e, "photo file unreadable");
        missing()
    })?;
    let mut response = Response::new(Body::from(bytes));
    let h = response.headers_mut();
    let value = |v: &str| HeaderValue::from_str(v).unwrap_or(HeaderValue::from_static(""));
    h.insert(header::CONTENT_TYPE, value(&a.content_type));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'none'; sandbox"),
    );
    // The bytes behind an id never change; only signed-in users may hold them.
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, max-age=86400, immutable"),
    );
    h.insert(header::ETAG, value(&format!("\"{}\"", a.sha256)));
    Ok(response)
}
