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
/// With the embedded endpoint, also what it holds back and why.
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
    let queue = json!({
        "waiting": s.ingest.max_capacity() - s.ingest.capacity(),
        "capacity": s.ingest.max_capacity(),
    });
    let mut body = json!({
        "ready": ready,
        "broker": { "ok": broker_ok, "error": broker_error },
        "database": { "ok": db_ok, "backend": s.store.backend(), "error": db_error },
        "ingest_queue": queue,
    });
    let d = &s.status.devices;
    if d.listening.load(Ordering::Relaxed) {
        // Holding devices back is backpressure, not unreadiness: say why it happens.
        let held_back = d.held_back.load(Ordering::Relaxed);
        let why = (held_back > 0).then_some({
            if db_ok {
                "the batch writer is behind: devices wait for their acknowledgements"
            } else {
                "the database is failing: acknowledgements wait for it, devices are not read"
            }
        });
        body["devices"] = json!({
            "connections": d.connections.load(Ordering::Relaxed),
            "awaiting_commit": d.awaiting_commit.load(Ordering::Relaxed),
            "held_back": held_back,
            "why_held_back": why,
        });
    }
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
