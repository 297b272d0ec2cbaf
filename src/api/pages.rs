//! The pages. For now one placeholder page that shows the live feed is flowing; the
//! real wall, console, department and mobile pages come from `web-ui/`. Scripts are
//! files, never inline, so the Content-Security-Policy (`headers.rs`) can forbid
//! inline script.

use axum::http::header;
use axum::response::{Html, IntoResponse};

pub async fn index() -> Html<&'static str> {
    Html(include_str!("../../web-ui/index.html"))
}

/// `GET /live.js`: the placeholder page's script.
pub async fn live_js() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/javascript; charset=utf-8")],
        include_str!("../../web-ui/live.js"),
    )
}
