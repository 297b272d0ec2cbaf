//! The category catalog as Open311 services: `GET services.json` and
//! `GET services/{code}.json`.

use super::Open311Error;
use super::error::{json_file, params, signed_in};
use crate::api::AppState;
use crate::auth::{AuthError, Authenticated};
use crate::incidents::catalog::Category;
use crate::incidents::reports::incident_code;
use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use serde_json::{Value, json};
use std::collections::HashMap;

pub(super) fn service_name(c: &Category) -> String {
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
pub(super) async fn services(
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
pub(super) async fn service_definition(
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
