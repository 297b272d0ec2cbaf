//! REST handlers under `/api/v1`. Every read needs a signed-in user (`Authenticated`);
//! incidents, sensors and video alerts are scoped to the user's jurisdiction, dead
//! letters are for admins and engineers (`docs/access.md`, `auth::access`). The video-alert webhook is a
//! machine intake like MQTT and is not behind a user login.

use super::{ApiError, AppState};
use crate::auth::Authenticated;
use crate::auth::access;
use crate::incidents::lifecycle::may_see;
use crate::ingest::Route;
use crate::model::Role;
use crate::model::{IncidentId, SensorId, Timestamp};
use crate::pipeline::{Ack, WriteReply};
use crate::store::IncidentFilter;
use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::json;
use std::time::Duration;

/// Longest a webhook caller waits for its alert to be stored before getting 503.
const WEBHOOK_WAIT: Duration = Duration::from_secs(10);
const MAX_LIMIT: u32 = 10_000;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SensorQuery {
    kind: Option<String>,
    district: Option<String>,
    /// Page size (at most [`MAX_LIMIT`], the default).
    limit: Option<u32>,
    /// The cursor: the page starts after this sensor id (ids in byte order).
    after: Option<String>,
}

/// 403 for a role that reads no live data (sensors, readings, video alerts).
fn live_reader(actor: &crate::model::Actor) -> Result<(), ApiError> {
    if access::reads_live_data(actor) {
        return Ok(());
    }
    Err(ApiError::Forbidden(format!(
        "a {} does not read sensors or video alerts; its incidents carry what it needs",
        actor.role.as_str()
    )))
}

/// `GET /api/v1/sensors?kind=&district=&limit=&after=`: the sensors in the user's
/// jurisdiction, by id, a page of at most `limit` (default and maximum [`MAX_LIMIT`]);
/// when there are more, a `Link: <…>; rel="next"` header names the next page.
pub async fn sensors(
    State(s): State<AppState>,
    Authenticated(actor): Authenticated,
    Query(q): Query<SensorQuery>,
) -> Result<Response, ApiError> {
    live_reader(&actor)?;
    let limit = limit(q.limit, MAX_LIMIT)? as usize;
    let mut list = s
        .store
        .sensors(q.kind.as_deref(), q.district.as_deref())
        .await?;
    list.retain(|sensor| {
        access::may_see_place(&actor, &sensor.info.location)
            && q.after
                .as_deref()
                .is_none_or(|a| sensor.info.id.as_str() > a)
    });
    // The store lists by id, so a page is a slice and the next one starts after its last.
    let more = list.len() > limit;
    list.truncate(limit);
    let mut response = Json(&list).into_response();
    if let (true, Some(last)) = (more, list.last()) {
        let mut next = form_urlencoded::Serializer::new(String::new());
        if let Some(k) = &q.kind {
            next.append_pair("kind", k);
        }
        if let Some(d) = &q.district {
            next.append_pair("district", d);
        }
        next.append_pair("limit", &limit.to_string())
            .append_pair("after", last.info.id.as_str());
        let link = format!("</api/v1/sensors?{}>; rel=\"next\"", next.finish());
        if let Ok(v) = axum::http::HeaderValue::from_str(&link) {
            response.headers_mut().insert(axum::http::header::LINK, v);
        }
    }
    Ok(response)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReadingsQuery {
    from: Option<String>,
    to: Option<String>,
    metric: Option<String>,
    limit: Option<u32>,
}

fn parse_time(name: &str, v: Option<&str>) -> Result<Option<Timestamp>, ApiError> {
    v.map(|s| {
        Timestamp::parse_rfc3339(s).ok_or_else(|| {
            ApiError::BadRequest(format!("{name}: expected an RFC 3339 time, got {s:?}"))
        })
    })
    .transpose()
}

/// A `limit` parameter: `default` when absent, else between 1 and [`MAX_LIMIT`] (as the
/// OpenAPI document says); anything else is refused, not quietly clamped.
fn limit(given: Option<u32>, default: u32) -> Result<u32, ApiError> {
    match given.unwrap_or(default) {
        n @ 1..=MAX_LIMIT => Ok(n),
        _ => Err(ApiError::BadRequest(format!(
            "limit must be between 1 and {MAX_LIMIT}"
        ))),
    }
}

/// `GET /api/v1/sensors/{id}/readings?from=&to=&metric=&limit=`: `[from, to)`,
/// oldest first; default the last 24 hours, 1000 readings.
pub async fn readings(
    State(s): State<AppState>,
    Authenticated(actor): Authenticated,
    Path(id): Path<String>,
    Query(q): Query<ReadingsQuery>,
) -> Result<Response, ApiError> {
    live_reader(&actor)?;
    // Outside the jurisdiction is as good as absent.
    if !s
        .city
        .sensor(&id)
        .is_some_and(|sensor| access::may_see_place(&actor, &sensor.location))
    {
        return Err(ApiError::NotFound(format!("no sensor {id:?}")));
    }
    let now = Timestamp::from_chrono(chrono::Utc::now());
    let to = parse_time("to", q.to.as_deref())?.unwrap_or(now.saturating_add_micros(1));
    let from = parse_time("from", q.from.as_deref())?
        .unwrap_or(to.saturating_add_micros(-24 * 3600 * 1_000_000));
    if from > to {
        return Err(ApiError::BadRequest("from is after to".into()));
    }
    let limit = limit(q.limit, 1000)?;
    let list = s
        .store
        .readings(&SensorId::new(&id), q.metric.as_deref(), from, to, limit)
        .await?;
    Ok(Json(list).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IncidentQuery {
    open: Option<bool>,
    district: Option<String>,
    limit: Option<u32>,
}

/// `GET /api/v1/incidents?open=&district=&limit=`: newest first, only those in the
/// user's jurisdiction (a department's own, a grid worker's grids, a district's).
pub async fn incidents(
    State(s): State<AppState>,
    Authenticated(actor): Authenticated,
    Query(q): Query<IncidentQuery>,
) -> Result<Response, ApiError> {
    let limit = limit(q.limit, 500)?;
    let filter = IncidentFilter {
        open_only: q.open.unwrap_or(false),
        // Narrow in the database where the jurisdiction is a column; `may_see` decides.
        district: q.district.or(actor.district.clone()),
        department: (actor.role == Role::Department)
            .then(|| actor.department.clone().unwrap_or_default()),
        limit: if actor.role == Role::GridWorker {
            0
        } else {
            limit
        },
        ..Default::default()
    };
    let list: Vec<_> = s
        .store
        .incidents(&filter)
        .await?
        .into_iter()
        .filter(|i| may_see(&actor, i))
        .take(limit as usize)
        .collect();
    Ok(Json(list).into_response())
}

pub async fn incident(
    State(s): State<AppState>,
    Authenticated(actor): Authenticated,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let uuid = uuid::Uuid::parse_str(&id)
        .map_err(|_| ApiError::BadRequest(format!("not an incident id: {id:?}")))?;
    match s.store.incident(IncidentId(uuid)).await? {
        // Outside the jurisdiction is as good as absent: no telling what exists.
        Some(i) if may_see(&actor, &i) => Ok(Json(i).into_response()),
        _ => Err(ApiError::NotFound(format!("no incident {id}"))),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LimitQuery {
    limit: Option<u32>,
}

/// `GET /api/v1/video-alerts?limit=`: the newest alerts of cameras in the user's
/// jurisdiction.
pub async fn video_alerts(
    State(s): State<AppState>,
    Authenticated(actor): Authenticated,
    Query(q): Query<LimitQuery>,
) -> Result<Response, ApiError> {
    live_reader(&actor)?;
    let limit = limit(q.limit, 100)?;
    // A scoped user's newest `limit` may lie further back than everyone's.
    let fetch = if access::sees_everywhere(&actor) {
        limit
    } else {
        MAX_LIMIT
    };
    let list: Vec<_> = s
        .store
        .video_alerts(fetch)
        .await?
        .into_iter()
        .filter(|a| access::may_see_place(&actor, &a.location))
        .take(limit as usize)
        .collect();
    Ok(Json(list).into_response())
}

/// `GET /api/v1/dead-letters?limit=`: rejected messages with their raw bytes, for
/// admins and engineers only (raw bytes may hold anything a device or platform sent).
pub async fn dead_letters(
    State(s): State<AppState>,
    Authenticated(actor): Authenticated,
    Query(q): Query<LimitQuery>,
) -> Result<Response, ApiError> {
    if !access::reads_dead_letters(&actor) {
        return Err(ApiError::Forbidden(format!(
            "a {} may not read dead letters",
            actor.role.as_str()
        )));
    }
    let limit = limit(q.limit, 100)?;
    let list = s.store.dead_letters(limit).await?;
    let out: Vec<_> = list
        .into_iter()
        .map(|d| {
            json!({
                "received_at": d.received_at,
                "source": d.source,
                "reason": d.reason,
                "detail": d.detail,
                // Raw bytes as text when they are text, else as a list of bytes.
                "raw": String::from_utf8(d.raw.clone()).map(serde_json::Value::from)
                    .unwrap_or_else(|_| serde_json::Value::from(d.raw)),
            })
        })
        .collect();
    Ok(Json(out).into_response())
}

/// `POST /api/v1/video-alerts`: answers only once the alert is stored (201), or was
/// already (200, `duplicate`), or is rejected (422 with the reason as `code`).
pub async fn post_video_alert(
    State(s): State<AppState>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let (tx, rx) = tokio::sync::oneshot::channel();
    let envelope = s.decoder.decode(Route::VideoWebhook, body, Ack::Reply(tx));
    s.ingest
        .send(envelope)
        .await
        .map_err(|_| ApiError::Unavailable("ingest is shutting down".into()))?;
    let reply = tokio::time::timeout(WEBHOOK_WAIT, rx)
        .await
        .map_err(|_| ApiError::Unavailable("the store is not accepting writes; retry".into()))?
        .map_err(|_| ApiError::Unavailable("ingest stopped before storing; retry".into()))?;
    match reply {
        WriteReply::Stored => {
            Ok((StatusCode::CREATED, Json(json!({"stored": true}))).into_response())
        }
        WriteReply::Duplicate => Ok((
            StatusCode::OK,
            Json(json!({"stored": false, "duplicate": true})),
        )
            .into_response()),
        WriteReply::Rejected(reason, detail) => Err(ApiError::Unprocessable {
            code: reason.as_str(),
            message: detail,
        }),
    }
}

/// `GET /api/v1/city/{layer}.geojson`: districts, streets, grids (the map, for every
/// signed-in user), sensors and cameras (the devices, as for live data: a department
/// none, a scoped user those of its jurisdiction).
pub async fn city_layer(
    State(s): State<AppState>,
    Authenticated(actor): Authenticated,
    Path(layer): Path<String>,
) -> Result<Response, ApiError> {
    let name = layer.strip_suffix(".geojson").unwrap_or(&layer);
    let Some(text) = s.city.layer_geojson(name) else {
        return Err(ApiError::NotFound(format!(
            "no city layer {name:?}; layers: districts, streets, grids, sensors, cameras"
        )));
    };
    let devices = matches!(name, "sensors" | "cameras");
    if devices {
        live_reader(&actor)?;
    }
    let body = if !devices || access::sees_everywhere(&actor) {
        text.to_owned()
    } else {
        let mut v: serde_json::Value = serde_json::from_str(text)
            .map_err(|e| crate::store::StoreError::Corrupt(format!("city layer {name}: {e}")))?;
        if let Some(list) = v["features"].as_array_mut() {
            list.retain(|f| {
                let id = f["properties"]["id"].as_str().unwrap_or_default();
                let place = if name == "sensors" {
                    s.city.sensor(id).map(|d| &d.location)
                } else {
                    s.city.camera(id).map(|d| &d.location)
                };
                place.is_some_and(|p| access::may_see_place(&actor, p))
            });
        }
        v.to_string()
    };
    Ok(([("content-type", "application/geo+json")], body).into_response())
}
