//! HTTP hygiene as a client sees it: slow clients are cut off at the configured read
//! timeouts, connections are capped, every answer carries the security headers, and
//! every error — whoever made it — has the one JSON shape.

mod common;

use common::*;
use serde_json::Value;
use std::net::SocketAddr;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Longer than any timeout these tests configure: past it, the server did not act.
const PATIENCE: Duration = Duration::from_secs(10);
/// How often a trickling client sends its next byte or header line.
const TRICKLE: Duration = Duration::from_millis(200);

fn start_with(env: &[(&str, &str)]) -> Cityops {
    Cityops::start(&ServeSpec {
        extra_env: env
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect(),
        ..Default::default()
    })
}

/// Writes `chunks` one every [`TRICKLE`] while reading what the server sends; returns
/// what was read once the server closes the connection, and when that was. Panics if
/// the server still holds the connection after [`PATIENCE`].
async fn trickle(
    addr: SocketAddr,
    head: &str,
    chunks: impl Iterator<Item = String> + Send + 'static,
) -> (String, Duration) {
    let started = Instant::now();
    let stream = TcpStream::connect(addr).await.expect("connect");
    let (mut rx, mut tx) = stream.into_split();
    tx.write_all(head.as_bytes()).await.expect("write head");
    let writer = tokio::spawn(async move {
        for chunk in chunks {
            tokio::time::sleep(TRICKLE).await;
            if tx.write_all(chunk.as_bytes()).await.is_err() {
                return;
            }
        }
        // Out of chunks: keep the connection open, as a stalled client would.
        std::future::pending::<()>().await;
    });
    let mut reply = Vec::new();
    let read = tokio::time::timeout(PATIENCE, rx.read_to_end(&mut reply)).await;
    writer.abort();
    let elapsed = started.elapsed();
    assert!(
        read.is_ok(),
        "the server still held the slow connection after {PATIENCE:?}; read so far: {}",
        String::from_utf8_lossy(&reply)
    );
    (String::from_utf8_lossy(&reply).into_owned(), elapsed)
}

/// A one-shot HTTP/1.1 request on its own connection: (status, headers, body).
async fn raw_request(addr: SocketAddr, request: &str) -> (u16, String, String) {
    let mut s = TcpStream::connect(addr).await.expect("connect");
    s.write_all(request.as_bytes()).await.expect("write");
    let mut reply = Vec::new();
    tokio::time::timeout(PATIENCE, s.read_to_end(&mut reply))
        .await
        .expect("an answer in time")
        .expect("read");
    let reply = String::from_utf8_lossy(&reply).into_owned();
    let (head, body) = reply.split_once("\r\n\r\n").unwrap_or((&reply, ""));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    (status, head.to_ascii_lowercase(), body.to_owned())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn headers_trickling_past_the_header_timeout_are_cut_off() {
    let c = start_with(&[("CITYOPS_HTTP_HEADER_READ_TIMEOUT_MS", "800")]);
    let lines = (0..).map(|i| format!("X-Slow-{i}: 1\r\n"));
    let (reply, elapsed) = trickle(c.http, "GET /healthz HTTP/1.1\r\nHost: x\r\n", lines).await;
    assert!(
        reply.is_empty() || reply.starts_with("HTTP/1.1 408"),
        "expected a close or 408, got {reply}"
    );
    assert!(
        elapsed >= Duration::from_millis(700),
        "closed after {elapsed:?}, before the timeout"
    );
    // A client that sends its headers at once is still served.
    let (status, _, _) = raw_request(
        c.http,
        "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert_eq!(status, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_trickling_past_the_body_deadline_gets_408() {
    // Every byte comes well within the idle timeout; the whole body does not.
    let c = start_with(&[
        ("CITYOPS_HTTP_BODY_IDLE_TIMEOUT_MS", "1000"),
        ("CITYOPS_HTTP_BODY_READ_TIMEOUT_MS", "1500"),
    ]);
    let head = "POST /api/v1/video-alerts HTTP/1.1\r\nHost: x\r\n\
                Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n";
    let (reply, elapsed) = trickle(c.http, head, std::iter::repeat_n(" ".to_owned(), 1000)).await;
    assert!(reply.starts_with("HTTP/1.1 408"), "{reply}");
    let body: Value = serde_json::from_str(reply.split_once("\r\n\r\n").map_or("", |p| p.1))
        .expect("a JSON error body");
    assert_eq!(body["code"], "request_timeout", "{body}");
    assert!(
        elapsed >= Duration::from_millis(1400),
        "408 after {elapsed:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_body_gets_408_after_the_idle_timeout() {
    let c = start_with(&[("CITYOPS_HTTP_BODY_IDLE_TIMEOUT_MS", "800")]);
    let head = "POST /api/v1/video-alerts HTTP/1.1\r\nHost: x\r\n\
                Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"id\":";
    let (reply, elapsed) = trickle(c.http, head, std::iter::empty()).await;
    assert!(reply.starts_with("HTTP/1.1 408"), "{reply}");
    assert!(
        elapsed >= Duration::from_millis(700),
        "408 after {elapsed:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_past_the_cap_wait_until_one_closes() {
    let c = start_with(&[("CITYOPS_HTTP_MAX_CONNECTIONS", "2")]);
    // Two idle connections take both places (the harness's own login has closed).
    let first = TcpStream::connect(c.http).await.expect("connect");
    let second = TcpStream::connect(c.http).await.expect("connect");
    let third = tokio::spawn({
        let addr = c.http;
        async move {
            raw_request(
                addr,
                "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
            )
            .await
        }
    });
    // The third waits in the backlog for as long as both are held...
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert!(
        !third.is_finished(),
        "a third connection was served past the cap of 2"
    );
    // ...and is served once one of them closes.
    drop(first);
    let (status, _, _) = tokio::time::timeout(PATIENCE, third)
        .await
        .expect("served after a place freed")
        .expect("task");
    assert_eq!(status, 200);
    drop(second);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_assets_and_api_carry_the_security_headers() {
    let c = start_with(&[]);
    for path in [
        "/",
        "/live.js",
        "/healthz",
        "/api/v1/openapi.json",
        "/no-such-page",
    ] {
        let r = c.http_client.get(c.url(path)).send().await.expect("GET");
        let h = r.headers();
        let get = |name: &str| h.get(name).and_then(|v| v.to_str().ok()).unwrap_or("");
        let csp = get("content-security-policy");
        assert!(
            csp.contains("frame-ancestors 'self'"),
            "{path}: CSP {csp:?}"
        );
        assert!(csp.contains("script-src 'self';"), "{path}: CSP {csp:?}");
        assert!(csp.contains("object-src 'none'"), "{path}: CSP {csp:?}");
        assert!(
            csp.contains("connect-src 'self' ws: wss:"),
            "{path}: CSP {csp:?}"
        );
        assert_eq!(get("x-content-type-options"), "nosniff", "{path}");
        assert_eq!(get("x-frame-options"), "SAMEORIGIN", "{path}");
        assert_eq!(get("referrer-policy"), "no-referrer", "{path}");
    }
    // The page itself lives within its policy: no inline script or handlers.
    let page = c.http_client.get(c.url("/")).send().await.expect("GET /");
    let html = page.text().await.expect("page");
    assert!(html.contains("<script src=\"/live.js\">"), "{html}");
    assert_eq!(
        html.matches("<script").count(),
        1,
        "an inline script: {html}"
    );
    let script = c
        .http_client
        .get(c.url("/live.js"))
        .send()
        .await
        .expect("GET");
    assert!(
        script.headers()["content-type"]
            .to_str()
            .is_ok_and(|t| t.starts_with("text/javascript")),
        "{:?}",
        script.headers()
    );
}

/// `(status, body)` of a request, the body as JSON (`Null` when it is not JSON).
async fn error_of(r: reqwest::RequestBuilder) -> (u16, Value, String) {
    let r = r.send().await.expect("request");
    let status = r.status().as_u16();
    let content_type = r
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    let body = r.json().await.unwrap_or(Value::Null);
    (status, body, content_type)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_error_is_json_in_the_one_shape() {
    let c = start_with(&[]);
    let http = &c.http_client;
    let cases: Vec<(&str, reqwest::RequestBuilder, u16)> = vec![
        (
            "a limit past the documented maximum",
            http.get(c.url("/api/v1/video-alerts?limit=2147483648")),
            400,
        ),
        (
            "a limit of zero",
            http.get(c.url("/api/v1/video-alerts?limit=0")),
            400,
        ),
        (
            "a negative limit",
            http.get(c.url("/api/v1/incidents?limit=-1")),
            400,
        ),
        (
            "a limit not a number",
            http.get(c.url("/api/v1/video-alerts?limit=x")),
            400,
        ),
        (
            "an unknown parameter",
            http.get(c.url("/api/v1/sensors?colour=red")),
            400,
        ),
        (
            "a bad boolean",
            http.get(c.url("/api/v1/incidents?open=maybe")),
            400,
        ),
        (
            "an unknown route",
            http.get(c.url("/api/v1/nothing-here")),
            404,
        ),
        (
            "a method the route has not",
            http.delete(c.url("/api/v1/incidents")),
            405,
        ),
    ];
    for (what, request, expected) in cases {
        let (status, body, content_type) = error_of(request).await;
        assert_eq!(status, expected, "{what}: {body}");
        assert!(
            content_type.starts_with("application/json"),
            "{what}: {content_type}"
        );
        assert!(
            body["code"].as_str().is_some_and(|c| !c.is_empty())
                && body["message"].as_str().is_some_and(|m| !m.is_empty()),
            "{what}: not {{code, message}}: {body}"
        );
    }
    // A body announced over the limit is refused before it is sent.
    let (status, head, body) = raw_request(
        c.http,
        "POST /api/v1/video-alerts HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\
         Content-Type: application/json\r\nContent-Length: 3000000\r\n\r\n",
    )
    .await;
    assert_eq!(status, 413, "{head}{body}");
    assert!(head.contains("content-type: application/json"), "{head}");
    let body: Value = serde_json::from_str(&body).expect("a JSON error body");
    assert_eq!(body["code"], "too_large", "{body}");
    // Open311 errors keep the specification's shape, and other formats are a 400.
    for (path, expected) in [
        ("/open311/v2/services.xml", 400),
        ("/open311/v2/requests.xml", 400),
        ("/open311/v2/requests.json?status=maybe", 400),
        ("/open311/v2/nothing", 404),
    ] {
        let (status, body, content_type) = error_of(http.get(c.url(path))).await;
        assert_eq!(status, expected, "{path}: {body}");
        assert!(content_type.starts_with("application/json"), "{path}");
        assert_eq!(body[0]["code"], expected, "{path}: {body}");
        assert!(body[0]["description"].is_string(), "{path}: {body}");
    }
    let (status, body, _) = error_of(http.delete(c.url("/open311/v2/services.json"))).await;
    assert_eq!(status, 405, "{body}");
    assert_eq!(body[0]["code"], 405, "{body}");
}
