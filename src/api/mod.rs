//! HTTP routes: REST under `/api/v1`, the live feed at `/ws`, health, metrics and the
//! pages. Handlers are thin: parse, call the stage, map the result. Errors become JSON
//! `{code, message}` in one place ([`ApiError`]).

mod actions;
mod admin;
mod auth;
mod error;
mod evaluation;
mod headers;
mod health;
mod indicators;
mod open311;
pub mod openapi;
mod pages;
mod reports;
mod rest;
mod serve;
mod ws;

pub use error::ApiError;
pub use serve::serve;

use crate::ingest::Decoder;
use crate::live::LiveHandle;
use crate::pipeline::{Envelope, IngestStatus};
use crate::spatial::City;
use crate::store::SharedStore;
use axum::Router;
use axum::routing::{get, post};
use metrics_exporter_prometheus::PrometheusHandle;
use std::sync::Arc;
use tokio::sync::mpsc;

/// What handlers share. Everything is explicit: no globals besides the metrics recorder.
#[derive(Clone)]
pub struct AppState {
    pub store: SharedStore,
    pub city: Arc<City>,
    pub live: LiveHandle,
    pub status: Arc<IngestStatus>,
    pub decoder: Arc<Decoder>,
    /// The writer queue, for the video-alert webhook.
    pub ingest: mpsc::Sender<Envelope>,
    /// Rule reload requests, answered by the rules stage.
    pub reload: mpsc::Sender<crate::pipeline::ReloadRequest>,
    pub metrics: PrometheusHandle,
    pub max_body_bytes: usize,
    /// Logins, sessions and the `/ws` origin check (`crate::auth`).
    pub auth: Arc<crate::auth::Auth>,
    /// The dispatch desk: due times, re-dispatch after a return.
    pub desk: Arc<crate::incidents::desk::Desk>,
    pub clock: crate::clock::SharedClock,
    /// The one way incident changes commit and are announced.
    pub incidents: crate::incidents::Incidents,
    /// People's reports and photos: photo directory and limits, grid points, desk wake-up.
    pub reports: Arc<crate::incidents::reports::Reports>,
    /// The vital signs as they stand (`crate::indicators`), published by their stage.
    pub indicators: tokio::sync::watch::Receiver<Arc<crate::indicators::Board>>,
}

pub fn router(state: AppState) -> Router {
    let limit = tower_http::limit::RequestBodyLimitLayer::new(state.max_body_bytes);
    let app = Router::new()
        .route("/", get(pages::index))
        .route("/live.js", get(pages::live_js))
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .route("/metrics", get(health::metrics))
        .route("/ws", get(ws::upgrade))
        .route("/api/v1/login", post(auth::login))
        .route("/api/v1/logout", post(auth::logout))
        .route("/api/v1/me", get(auth::me))
        .route("/api/v1/sensors", get(rest::sensors))
        .route("/api/v1/sensors/{id}/readings", get(rest::readings))
        .route("/api/v1/incidents", get(rest::incidents))
        .route("/api/v1/incidents/{id}", get(rest::incident))
        .route("/api/v1/incidents/{id}/events", get(admin::incident_events))
        .route("/api/v1/incidents/{id}/actions", post(actions::post_action))
        .route("/api/v1/openapi.json", get(openapi::document))
        .route("/api/v1/admin/rules/reload", post(admin::reload_rules))
        .route(
            "/api/v1/video-alerts",
            post(rest::post_video_alert).get(rest::video_alerts),
        )
        .route("/api/v1/dead-letters", get(rest::dead_letters))
        .route("/api/v1/evaluation", get(evaluation::evaluation))
        .route("/api/v1/indicators", get(indicators::list))
        .route("/api/v1/indicators/{id}/history", get(indicators::history))
        .route("/api/v1/reports", post(reports::post_report))
        .route("/api/v1/incidents/{id}/report", get(reports::get_report))
        .route("/api/v1/photos/{id}", get(reports::get_photo))
        .nest("/open311/v2", open311::routes())
        .route("/api/v1/city/{layer}", get(rest::city_layer))
        .fallback(error::not_found)
        .layer(limit)
        // Photo uploads carry their own, larger limit (`reports.*` config).
        .merge(reports::photo_routes(
            state.reports.max_photo_bytes,
            state.reports.max_photos,
        ))
        .with_state(state);
    // Outermost, so they see every answer: the limit layer's 413s and axum's 405s too.
    headers::security_headers(app.layer(axum::middleware::from_fn(error::json_errors)))
}
