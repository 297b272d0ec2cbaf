//! What clients connect to: `[http]` (the server and its limits), `[auth]` (logins and
//! sessions) and `[live]` (the WebSocket feed).

use serde::{Deserialize, Serialize};
use std::net::SocketAddr;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HttpConfig {
    /// Address of the HTTP/WebSocket server; port 0 picks a free one (logged).
    pub listen: SocketAddr,
    /// Largest request body accepted, in bytes.
    pub max_body_bytes: usize,
    /// A client must send a request's headers within this time of starting them (or of
    /// the previous response, on a kept-alive connection); else the connection is closed.
    /// Slow-header clients (slowloris) cannot hold connections open.
    pub header_read_timeout_ms: u64,
    /// Longest pause between two pieces of a request body; a body that stalls longer is
    /// answered with 408 and the connection closed.
    pub body_idle_timeout_ms: u64,
    /// Longest time a whole request body may take to arrive, however steadily it
    /// trickles; past it the request is answered with 408. Large enough for the largest
    /// photo (`reports.max_photo_bytes`) on a slow mobile link.
    pub body_read_timeout_ms: u64,
    /// Most connections served at once (WebSocket clients included). Past it, new
    /// connections wait in the listen backlog until one closes.
    pub max_connections: usize,
}

impl Default for HttpConfig {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            max_body_bytes: 1 << 20,
            header_read_timeout_ms: 10_000,
            body_idle_timeout_ms: 10_000,
            body_read_timeout_ms: 120_000,
            max_connections: 1024,
        }
    }
}

/// Logins and sessions (`src/auth`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AuthConfig {
    /// A session ends after this many hours without use; each use slides it forward.
    /// Fractions are allowed (0.5 = 30 minutes).
    pub session_hours: f64,
    /// Mark the session cookie `Secure` (sent over HTTPS only). Off by default so the
    /// embedded demo works on plain http; set it to true behind TLS.
    pub cookie_secure: bool,
    /// Page origins (`https://wall.example.org`) allowed to open `/ws` besides the
    /// server's own host.
    pub allowed_origins: Vec<String>,
    /// Failed logins per user name within 5 minutes before further attempts get 429.
    /// A client address may fail four times as often (a command hall behind one NAT).
    pub login_failures_per_5min: u32,
}

impl Default for AuthConfig {
    fn default() -> Self {
        Self {
            session_hours: 12.0,
            cookie_secure: false,
            allowed_origins: Vec::new(),
            login_failures_per_5min: 5,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LiveConfig {
    /// Sensor values are conflated to the latest per sensor and metric per tick.
    pub tick_ms: u64,
    /// Deltas kept for clients resuming after a reconnect.
    pub history: usize,
    /// Messages queued per WebSocket client; a client further behind is resynchronised
    /// from a snapshot.
    pub client_queue: usize,
}

impl Default for LiveConfig {
    fn default() -> Self {
        Self {
            tick_ms: 250,
            history: 1024,
            client_queue: 256,
        }
    }
}
