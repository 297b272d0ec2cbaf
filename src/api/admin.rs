//! Rules administration: reload the rule set without a restart (admins and engineers),
//! read an incident's event log (whoever may see the incident).

use super::{ApiError, AppState};
use crate::auth::Authenticated;
use crate::incidents::lifecycle::may_see;
use crate::model::IncidentId;
use crate::model::Role;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

/// `POST /api/v1/admin/rules/reload`: 200 with the outcome, or 422 with every error
/// (file, line, rule, message) while the running set stays.
pub async fn reload_rules(
    State(s): State<AppState>,
    Authenticated(actor): Authenticated,
) -> Result<Response, ApiError> {
    if !matches!(actor.role, Role::Admin | Role::Engineer) {
        return Err(ApiError::Forbidden(format!(
            "a {} may not reload the rules",
            actor.role.as_str()
        )));
    }
    let (tx, rx) = tokio::sync::oneshot::channel();
    s.reload
        .send(tx)
        .await
        .map_err(|_| ApiError::Unavailable("the rules engine is stopping".into()))?;
    match rx.await {
        Ok(Ok(outcome)) => Ok(Json(outcome).into_response()),
        Ok(Err(errors)) => {
            let list: Vec<_> = errors
                .0
                .iter()
                .map(|e| {
                    json!({
                        "file": e.file.display().to_string(),
                        "line": e.line,
                        "rule": e.rule,
                        "message": e.message,
                    })
                })
                .collect();
            Ok((
                StatusCode::UNPROCESSABLE_ENTITY,
                Json(json!({
                    "code": "invalid_rules",
                    "message": format!("the rule set was not reloaded; the running one stays:\n{errors}"),
                    "errors": list,
                })),
            )
                .into_response())
        }
        Err(_) => Err(ApiError::Unavailable("the rules engine is stopping".into())),
    }
}

/// `GET /api/v1/incidents/{id}/events`: the incident's log, oldest first.
pub async fn incident_events(
    State(s): State<AppState>,
    Authenticated(actor): Authenticated,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let uuid = uuid::Uuid::parse_str(&id)
        .map_err(|_| ApiError::BadRequest(format!("not an incident id: {id:?}")))?;
    let id = IncidentId(uuid);
    if !s
        .store
        .incident(id)
        .await?
        .is_some_and(|i| may_see(&actor, &i))
    {
        return Err(ApiError::NotFound(format!("no incident {uuid}")));
    }
    Ok(Json(s.store.incident_events(id).await?).into_response())
}
