//! Security headers on every answer — pages, their assets and the API alike (set only
//! where a handler has not set its own). `docs/http.md` explains the policy.
//!
//! The Content-Security-Policy is one a bundler-built page with ECharts can live with:
//! scripts only from this origin (no inline script, no `eval`), inline styles allowed
//! (ECharts and most component libraries set `style` attributes), images and workers
//! also from `data:`/`blob:` (canvas exports, blob workers), WebSocket to the live feed.
//! Framing only by this origin's own pages (a wall composing its panels), never by
//! another site.

use axum::Router;
use axum::http::{HeaderName, HeaderValue, header};
use tower_http::set_header::SetResponseHeaderLayer;

pub const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; \
     style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; font-src 'self' data:; \
     connect-src 'self' ws: wss:; worker-src 'self' blob:; object-src 'none'; \
     base-uri 'self'; form-action 'self'; frame-ancestors 'self'";

/// The headers and their values, in the order they are documented.
const HEADERS: &[(HeaderName, &str)] = &[
    (header::CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY),
    (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
    (header::X_FRAME_OPTIONS, "SAMEORIGIN"),
    (header::REFERRER_POLICY, "no-referrer"),
];

/// Adds the security headers to every response of `router`.
pub fn security_headers(mut router: Router) -> Router {
    for (name, value) in HEADERS {
        router = router.layer(SetResponseHeaderLayer::if_not_present(
            name.clone(),
            HeaderValue::from_static(value),
        ));
    }
    router
}
