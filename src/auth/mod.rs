//! Who is calling: users log in with a password and get a session; every request then
//! carries the session token as `Authorization: Bearer <token>` (API clients) or the
//! `cityops_session` cookie (the pages), and becomes an [`Actor`](crate::model::Actor)
//! with a role and a jurisdiction (DESIGN.md, "Scoped access").
//!
//! # Layout
//! - [`password`]: argon2id hashes, verified off the async threads, a few at a time.
//! - [`session`]: random tokens (only their SHA-256 is stored), cookies, sliding expiry.
//! - [`extract`]: the axum extractors [`Authenticated`] (the actor) and [`CurrentSession`],
//!   with the CSRF check for cookie requests that change state; [`SameOrigin`] for `/ws`.
//! - [`origin`]: the `Origin` check that keeps other sites' pages off `/ws`.
//! - [`access`]: what each role may read outside the loop (sensors, video alerts, dead
//!   letters), by jurisdiction (`docs/access.md`).
//! - [`limiter`]: failed logins per device, or per user name and client address → 429.
//! - [`device`]: the mark a client gets at a right password, so the limiter knows it.
//! - [`users`]: creating and checking users against the city (the `cityops user` CLI and
//!   the demo users).
//! - [`error`]: [`AuthError`] and its HTTP mapping (401/403/429, JSON `{code, message}`).
//!
//! [`Auth`] is the shared state: `AppState::auth`, and handlers reach it as
//! `State<Arc<Auth>>`.
//!
//! # Using it in a handler
//! ```text
//! // A route that needs a user: 401/403 before the handler runs otherwise.
//! async fn incidents(State(s): State<AppState>, Authenticated(actor): Authenticated, ...)
//! // then scope with incidents::lifecycle::may_see(&actor, &incident) / decide(&actor, ...).
//!
//! // /ws: refuse other sites' pages first (cookies ride along with a cross-site
//! // handshake, and it is a GET, so no CSRF header protects it), then authenticate.
//! async fn upgrade(State(s): State<AppState>, _: SameOrigin, Authenticated(actor): Authenticated,
//!                  ws: WebSocketUpgrade, ...)
//! ```
//! Browsers cannot set headers on a WebSocket handshake, so pages are authenticated on
//! `/ws` by the session cookie; other clients send `Authorization: Bearer <token>`.

pub mod access;
pub mod device;
mod error;
mod events;
pub mod extract;
pub mod limiter;
pub mod origin;
pub mod password;
pub mod session;
pub mod users;

pub use error::AuthError;
pub use extract::{Authenticated, ClientIp, CurrentSession, SameOrigin};
pub use session::{LoggedIn, UserView};

use crate::clock::SharedClock;
use crate::config::AuthConfig;
use crate::store::SharedStore;
use limiter::LoginLimiter;
use password::Passwords;
use std::time::Duration;

/// The window the login limiter counts failures in (`auth.login_failures_per_5min`).
const LOGIN_WINDOW: Duration = Duration::from_secs(5 * 60);
/// A user name from everywhere, and a client address for every name, may fail this many
/// times as often as one name from one address: a whole command hall may sit behind one
/// NAT address, and one typo each must not lock everyone out.
const CLIENT_FACTOR: u32 = 4;

/// What the login, session and origin checks need, shared by all handlers.
pub struct Auth {
    store: SharedStore,
    /// Wall-clock time for session expiry (sessions are about people, not event time).
    clock: SharedClock,
    /// Sessions end this long after their last use.
    session_ttl_us: i64,
    /// Whether the session cookie is marked `Secure` (HTTPS only).
    cookie_secure: bool,
    /// Origins allowed on `/ws` besides the request's own host.
    allowed_origins: Vec<String>,
    limiter: LoginLimiter,
    passwords: Passwords,
}

impl Auth {
    pub fn new(store: SharedStore, clock: SharedClock, config: &AuthConfig) -> Self {
        let per_user = config.login_failures_per_5min.max(1);
        Self {
            store,
            clock,
            // Validated to 1 s ..= 1 year, so the product fits an i64 of µs.
            session_ttl_us: (config.session_hours * 3600.0 * 1e6) as i64,
            cookie_secure: config.cookie_secure,
            allowed_origins: config.allowed_origins.clone(),
            limiter: LoginLimiter::new(per_user, CLIENT_FACTOR, LOGIN_WINDOW),
            passwords: Passwords::new(),
        }
    }
}
