//! Liveness, readiness (broker and database) and Prometheus metrics.

use super::AppState;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use serde_json::json;
use std::sync::atomic::Ordering;
use std::time::Duration;

pub async fn healthz() -> impl IntoResponse {
    Json(json!({ "status": "ok" }))
}

/// Ready when the MQTT session is up and the database answers; otherwise 503 saying why.
pub async fn readyz(State(s): State<AppState>) -> impl IntoResponse {
    let broker_ok = s.status.broker_connected.load(Ordering::SeqCst);
    let ping = tokio::time::timeout(Duration::from_secs(2), s.store.ping()).await;
    let (db_ok, db_error) = match ping {
        Ok(Ok(())) if s.status.store_ok.load(Ordering::SeqCst) => (true, None),
        Ok(Ok(())) => (
            false,
            s.status
                .last_store_error
                .lock()
                .ok()
                .and_then(|e| e.clone()),
        ),
        Ok(Err(e)) => (false, Some(e.to_string())),
        Err(_) => (false, Some("database ping timed out".to_owned())),
    };
    let broker_error = if broker_ok {
        None
    } else {
        s.status
            .last_broker_error
            .lock()
            .ok()
            .and_then(|e| e.clone())
            .or(Some("not connected yet".into()))
    };
    let ready = broker_ok && db_ok;
    let body = json!({
        "ready": ready,
        "broker": { "ok": broker_ok, "error": broker_error },
        "database": { "ok": db_ok, "backend": s.store.backend(), "error": db_error },
    });
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, Json(body))
}

pub async fn metrics(State(s): State<AppState>) -> impl IntoResponse {
    (
        [("content-type", "text/plain; version=0.0.4")],
        s.metrics.render(),
    )
}
