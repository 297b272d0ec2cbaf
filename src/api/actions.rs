//! `POST /api/v1/incidents/{id}/actions`: a step of the closed loop by the signed-in user.
//!
//! The body is one command (`{"command": "dispatch", "department": "water-d0"}`, see
//! `incidents::lifecycle::Command`); fields that do not belong to it are refused. The
//! version the console saw goes in `If-Match`: if the incident was edited since, nothing
//! happens and the answer is 409 with the current incident. 403: the role or
//! jurisdiction does not allow it; 409 `not_allowed_now`: not from the incident's state;
//! 422: the command or its data is invalid.

use super::{ApiError, AppState};
use crate::auth::Authenticated;
use crate::incidents::act::{ActError, act};
use crate::incidents::lifecycle::{Command, LifecycleError};
use crate::live::LiveEvent;
use crate::model::{Incident, IncidentId};
use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::HeaderMap;

fn incident_id(id: &str) -> Result<IncidentId, ApiError> {
    uuid::Uuid::parse_str(id)
        .map(IncidentId)
        .map_err(|_| ApiError::BadRequest(format!("not an incident id: {id:?}")))
}

/// The version in `If-Match` (`"7"`, `7` or `W/"7"`), if given.
fn if_match(headers: &HeaderMap) -> Result<Option<i64>, ApiError> {
    let Some(v) = headers.get(axum::http::header::IF_MATCH) else {
        return Ok(None);
    };
    let text = v.to_str().unwrap_or_default().trim();
    let text = text.trim_start_matches("W/").trim_matches('"');
    text.parse::<i64>().map(Some).map_err(|_| {
        ApiError::BadRequest(format!(
            "If-Match must be the incident's version, got {text:?}"
        ))
    })
}

pub async fn post_action(
    State(s): State<AppState>,
    Authenticated(actor): Authenticated,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Incident>, ApiError> {
    let id = incident_id(&id)?;
    let expected = if_match(&headers)?;
    let command: Command = serde_json::from_slice(&body).map_err(|e| ApiError::Unprocessable {
        code: "invalid_command",
        message: format!("not a command this endpoint takes: {e}"),
    })?;
    // A department that routing does not know would hold the incident where nobody sees it.
    if let Command::Dispatch { department } = &command
        && s.desk.routing.department(department.trim()).is_none()
    {
        return Err(ApiError::Unprocessable {
            code: "unknown_department",
            message: format!("no department {department:?} in the city's routing"),
        });
    }
    let now = s.clock.now();
    // 处置 limits count from the dispatch: find when it was.
    let dispatched_at = match command {
        Command::Acknowledge {} | Command::Start {} => s
            .store
            .incident_events(id)
            .await?
            .iter()
            .rev()
            .find(|e| e.action == "dispatch")
            .map(|e| e.at),
        _ => None,
    };
    let desk = s.desk.clone();
    let result = act(&s.store, id, &actor, &command, expected, now, |i| {
        desk.due(i, now, dispatched_at)
    })
    .await;
    let incident = match result {
        Ok(i) => i,
        Err(ActError::NotFound(id)) => return Err(ApiError::NotFound(format!("no incident {id}"))),
        Err(ActError::Refused(LifecycleError::Forbidden(m))) => return Err(ApiError::Forbidden(m)),
        Err(ActError::Refused(LifecycleError::Invalid(m))) => {
            return Err(ApiError::Unprocessable {
                code: "invalid",
                message: m,
            });
        }
        Err(ActError::Refused(e @ LifecycleError::NotNow { .. })) => {
            let current = s
                .store
                .incident(id)
                .await?
                .ok_or(ApiError::NotFound(format!("no incident {id}")))?;
            return Err(ApiError::Conflict {
                code: "not_allowed_now",
                message: e.to_string(),
                incident: Box::new(current),
            });
        }
        Err(e @ ActError::Conflict(_)) => {
            let message = e.to_string();
            let ActError::Conflict(current) = e else {
                unreachable!()
            };
            return Err(ApiError::Conflict {
                code: "conflict",
                message,
                incident: current,
            });
        }
        Err(ActError::Store(e)) => return Err(e.into()),
    };
    let _ = s
        .events
        .send(LiveEvent::Incident(Box::new(incident.clone())))
        .await;
    // A return goes on to the next candidate department when routing has one.
    if let (Command::Return { .. }, Some(dept)) = (&command, actor.department.as_deref()) {
        match s.desk.after_return(&s.store, &incident, dept, now).await {
            Ok(Some(moved)) => {
                let _ = s
                    .events
                    .send(LiveEvent::Incident(Box::new(moved.clone())))
                    .await;
                return Ok(Json(moved));
            }
            Ok(None) => {}
            Err(e) => {
                tracing::warn!(error = %e, id = %incident.id, "automatic re-dispatch after a return failed")
            }
        }
    }
    Ok(Json(incident))
}
