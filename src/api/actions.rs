//! `POST /api/v1/incidents/{id}/actions`: a step of the closed loop by the signed-in user.
//!
//! The body is one command (`{"command": "dispatch", "department": "water-d0"}`, see
//! `incidents::lifecycle::Command`); fields that do not belong to it are refused. The
//! version the console saw goes in `If-Match`: if the incident was edited since, nothing
//! happens and the answer is 409 with the current incident.
//!
//! Checks run in this order, each before anything the next one could reveal: 404 for an
//! incident the caller may not see (the same answer as for an unknown id); 400 for a bad
//! `If-Match`, 422 for a body that is no command; 403 when the role may not give the
//! command; 422 for a merge target that does not exist or lies outside the caller's
//! scope (the same words for both) or an unknown department; 409 `conflict` for a stale
//! version; 409 `not_allowed_now` when the state does not allow it; 422 for invalid data.

use super::{ApiError, AppState};
use crate::auth::Authenticated;
use crate::incidents::act::{ActError, visible};
use crate::incidents::lifecycle::{self, Command, LifecycleError};
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

/// The answer to a command the closed loop did not carry out (`NotNow` has its own, with
/// the current incident).
fn refusal(e: ActError) -> ApiError {
    match e {
        ActError::NotFound(id) => ApiError::NotFound(format!("no incident {id}")),
        ActError::Refused(LifecycleError::Forbidden(m)) => ApiError::Forbidden(m),
        ActError::Refused(LifecycleError::Invalid(m)) => ApiError::Unprocessable {
            code: "invalid",
            message: m,
        },
        ActError::Refused(e @ LifecycleError::NotNow { .. }) => ApiError::Unprocessable {
            code: "not_allowed_now",
            message: e.to_string(),
        },
        e @ ActError::Conflict(_) => {
            let message = e.to_string();
            let ActError::Conflict(current) = e else {
                unreachable!()
            };
            ApiError::Conflict {
                code: "conflict",
                message,
                incident: current,
            }
        }
        ActError::Store(e) => e.into(),
    }
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
    // Whatever else is wrong with the request, an incident the caller may not see is
    // 404, as if it did not exist: nothing below may answer first.
    let current = visible(&s.store, id, &actor).await.map_err(refusal)?;
    let expected = if_match(&headers)?;
    let command: Command = serde_json::from_slice(&body).map_err(|e| ApiError::Unprocessable {
        code: "invalid_command",
        message: format!("not a command this endpoint takes: {e}"),
    })?;
    lifecycle::authorize(&current, &actor, &command)
        .map_err(ActError::from)
        .map_err(refusal)?;
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
    let result = s
        .incidents
        .act_on(current, &actor, &command, expected, now, |i| {
            desk.due(i, now, dispatched_at)
        })
        .await;
    let incident = match result {
        Ok(i) => i,
        Err(ActError::Refused(e @ LifecycleError::NotNow { .. })) => {
            let current = visible(&s.store, id, &actor).await.map_err(refusal)?;
            return Err(ApiError::Conflict {
                code: "not_allowed_now",
                message: e.to_string(),
                incident: Box::new(current),
            });
        }
        Err(e) => return Err(refusal(e)),
    };
    // A return goes on to the next candidate department when routing has one.
    if let (Command::Return { .. }, Some(dept)) = (&command, actor.department.as_deref()) {
        match s
            .desk
            .after_return(&s.incidents, &incident, dept, now)
            .await
        {
            Ok(Some(moved)) => return Ok(Json(moved)),
            Ok(None) => {}
            Err(e) => {
                tracing::warn!(error = %e, id = %incident.id, "automatic re-dispatch after a return failed")
            }
        }
    }
    Ok(Json(incident))
}
