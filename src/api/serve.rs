//! The HTTP/1.1 server loop: accepts connections up to `http.max_connections`, gives
//! each the header and body read timeouts of `[http]`, and stops gracefully.
//!
//! `axum::serve` has no timeouts and no connection cap, so a client trickling its headers
//! or body could hold a connection (and a task) forever. This loop uses hyper's own
//! connection builder (`header_read_timeout`), tower-http's body timeouts, and a
//! semaphore (as tokio's mini-redis does) so that at most `max_connections` are open;
//! further ones wait in the listen backlog. TLS and HTTP/2 belong to a reverse proxy.

use super::ApiError;
use crate::config::HttpConfig;
use axum::Router;
use axum::body::Body;
use axum::extract::{ConnectInfo, Request};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http_body_util::BodyExt;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tower::ServiceExt;
use tower_http::timeout::{DeadlineBody, TimeoutBody};

/// After an accept error that is not about one connection (e.g. too many open files),
/// wait this long before accepting again instead of spinning.
const ACCEPT_BACKOFF: Duration = Duration::from_secs(1);

/// The read limits of `[http]`, as durations.
#[derive(Clone, Copy, Debug)]
struct BodyTimeouts {
    idle: Duration,
    whole: Duration,
}

/// Serves `app` on `listener` until `stop` is cancelled; then stops accepting, lets
/// in-flight requests finish (idle kept-alive connections close at once) and returns
/// when every connection is closed. Upgraded connections (`/ws`) are owned by their own
/// tasks and end with the live hub.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    config: &HttpConfig,
    stop: CancellationToken,
) {
    let timeouts = BodyTimeouts {
        idle: Duration::from_millis(config.body_idle_timeout_ms),
        whole: Duration::from_millis(config.body_read_timeout_ms),
    };
    let app = app.layer(axum::middleware::from_fn(move |req, next| {
        body_timeouts(timeouts, req, next)
    }));
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(Duration::from_millis(config.header_read_timeout_ms));
    // Permits are counted in u32 when waiting for all of them at the end.
    let max = u32::try_from(config.max_connections).unwrap_or(u32::MAX);
    let permits = Arc::new(Semaphore::new(max as usize));
    loop {
        let permit = tokio::select! {
            _ = stop.cancelled() => break,
            p = permits.clone().acquire_owned() => match p {
                Ok(p) => p,
                Err(_) => break,
            },
        };
        let (stream, peer) = tokio::select! {
            _ = stop.cancelled() => break,
            r = listener.accept() => match r {
                Ok(accepted) => accepted,
                Err(e) if is_connection_error(&e) => continue,
                Err(e) => {
                    tracing::error!(error = %e, "accepting an HTTP connection failed");
                    tokio::time::sleep(ACCEPT_BACKOFF).await;
                    continue;
                }
            },
        };
        let service = app
            .clone()
            .map_request(move |mut req: Request<hyper::body::Incoming>| {
                // What `into_make_service_with_connect_info` would add (sign-in throttling).
                req.extensions_mut().insert(ConnectInfo(peer));
                req.map(Body::new)
            });
        let conn = http
            .serve_connection(TokioIo::new(stream), TowerToHyperService::new(service))
            .with_upgrades();
        let stop = stop.clone();
        tokio::spawn(async move {
            let mut conn = std::pin::pin!(conn);
            let result = tokio::select! {
                r = conn.as_mut() => r,
                _ = stop.cancelled() => {
                    conn.as_mut().graceful_shutdown();
                    conn.await
                }
            };
            if let Err(e) = result {
                tracing::debug!(%peer, error = %e, "HTTP connection ended with an error");
            }
            drop(permit);
        });
    }
    drop(listener);
    // Every connection holds a permit: all of them back means all are closed.
    let _ = permits.acquire_many(max).await;
}

/// Errors that concern one connection only; the next accept can go ahead.
fn is_connection_error(e: &std::io::Error) -> bool {
    use std::io::ErrorKind::{ConnectionAborted, ConnectionRefused, ConnectionReset};
    matches!(
        e.kind(),
        ConnectionRefused | ConnectionAborted | ConnectionReset
    )
}

/// Wraps the request body in an idle timeout and a whole-body deadline. A body that runs
/// out of time fails the handler's read; the answer is then 408, whatever the handler
/// made of the failed read, and hyper closes the connection (the body was not read).
async fn body_timeouts(timeouts: BodyTimeouts, req: Request, next: Next) -> Response {
    let timed_out = Arc::new(AtomicBool::new(false));
    let flag = timed_out.clone();
    let req = req.map(|body| {
        let body = DeadlineBody::new(timeouts.whole, TimeoutBody::new(timeouts.idle, body));
        Body::new(body.map_err(move |e| {
            flag.store(true, Ordering::Relaxed);
            e
        }))
    });
    let response = next.run(req).await;
    if timed_out.load(Ordering::Relaxed) {
        let mut response = ApiError::RequestTimeout(
            "the request body did not arrive in time; the connection is closed".into(),
        )
        .into_response();
        response.headers_mut().insert(
            axum::http::header::CONNECTION,
            axum::http::HeaderValue::from_static("close"),
        );
        return response;
    }
    response
}
