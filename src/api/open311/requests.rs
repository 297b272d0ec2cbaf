//! Following requests: `GET requests/{id}.json` and `GET requests.json` (by id, or the
//! reports the user may follow, filtered), each request shown as Open311 has it.

use super::Open311Error;
use super::error::{json_file, params, signed_in};
use super::services::service_name;
use crate::api::AppState;
use crate::auth::{AuthError, Authenticated};
use crate::incidents::reports::incident_code;
use crate::incidents::reports::progress::{Progress, followable, progress};
use crate::model::{Actor, Incident, IncidentId, Timestamp};
use crate::store::IncidentFilter;
use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use serde_json::{Value, json};
use std::collections::HashMap;

/// Most requests one list answers (the specification's own cap).
const MAX_LIST: usize = 1000;
/// Without dates, a list covers this many days back (as the specification says).
const DEFAULT_DAYS: i64 = 90;

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
pub(super) async fn get_request(
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
pub(super) async fn list_requests(
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
