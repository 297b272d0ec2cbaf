//! The axum extractors that turn a request into who is calling.
//!
//! - [`Authenticated`]`(actor)`: any route that needs a user takes it as an argument; the
//!   request is refused (401/403) before the handler runs otherwise.
//! - [`CurrentSession`]: the same check, giving the whole session (logout, `/me`).
//! - [`SameOrigin`]: refuses pages of other sites (403 `origin`); `/ws` takes it before
//!   [`Authenticated`].
//! - [`ClientIp`]: the peer address, for the login limiter.
//!
//! Credentials: `Authorization: Bearer <token>` (API clients; when the header is there it
//! alone counts), else the `cityops_session` cookie (pages). A cookie rides along with
//! any request the browser makes, including ones another site triggers, so a
//! cookie-authenticated request that changes state (not GET, HEAD or OPTIONS) must also
//! carry `X-CSRF-Token` equal to the session's CSRF token, which only our pages know.
//! A bearer token is never sent by the browser on its own, so it needs no such header.

use super::session::COOKIE;
use super::{Auth, AuthError};
use crate::model::Actor;
use crate::store::Session;
use axum::extract::{ConnectInfo, FromRef, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{HeaderMap, Method, header};
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use subtle::ConstantTimeEq;

/// The header a cookie-authenticated request that changes state must carry.
pub const CSRF_HEADER: &str = "x-csrf-token";

/// The actor a valid session stands for. Rejects with 401 `unauthenticated` (no, bad,
/// expired or logged-out credentials, disabled user) or 403 `csrf`.
#[derive(Debug, Clone, PartialEq)]
pub struct Authenticated(pub Actor);

/// How the credentials came.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Via {
    Bearer,
    Cookie,
}

/// The session behind the request, with its user. Checked once per request: later
/// extractors reuse it from the request's extensions.
#[derive(Debug, Clone)]
pub struct CurrentSession {
    pub session: Session,
    pub via: Via,
}

impl CurrentSession {
    pub fn actor(&self) -> Actor {
        self.session.user.actor()
    }
}

impl<S> FromRequestParts<S> for CurrentSession
where
    Arc<Auth>: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = AuthError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, AuthError> {
        if let Some(done) = parts.extensions.get::<CurrentSession>() {
            return Ok(done.clone());
        }
        let auth = Arc::<Auth>::from_ref(state);
        let current = authenticate(&auth, &parts.method, &parts.headers).await?;
        parts.extensions.insert(current.clone());
        Ok(current)
    }
}

impl<S> FromRequestParts<S> for Authenticated
where
    Arc<Auth>: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = AuthError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, AuthError> {
        let current = CurrentSession::from_request_parts(parts, state).await?;
        Ok(Self(current.actor()))
    }
}

/// Passes requests without `Origin` (not from a page) or from our own host or
/// `auth.allowed_origins`; rejects others with 403 `origin`.
#[derive(Debug, Clone, Copy)]
pub struct SameOrigin;

impl<S> FromRequestParts<S> for SameOrigin
where
    Arc<Auth>: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = AuthError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, AuthError> {
        Arc::<Auth>::from_ref(state).check_origin(&parts.headers)?;
        Ok(Self)
    }
}

/// The peer's address, when the server was started with connect info (`serve` is).
/// Never fails. `X-Forwarded-For` is not read: anyone can send it.
#[derive(Debug, Clone, Copy)]
pub struct ClientIp(pub Option<IpAddr>);

impl<S: Send + Sync> FromRequestParts<S> for ClientIp {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let peer = parts.extensions.get::<ConnectInfo<SocketAddr>>();
        Ok(Self(peer.map(|c| c.0.ip())))
    }
}

async fn authenticate(
    auth: &Auth,
    method: &Method,
    headers: &HeaderMap,
) -> Result<CurrentSession, AuthError> {
    let (token, via) = credentials(headers)?;
    let Some(session) = auth.resolve(token).await? else {
        return Err(AuthError::Unauthenticated(
            "the session is unknown, expired or ended",
        ));
    };
    let safe = matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS);
    if via == Via::Cookie && !safe {
        let sent = headers
            .get(CSRF_HEADER)
            .map(|v| v.as_bytes())
            .unwrap_or_default();
        if !bool::from(sent.ct_eq(session.csrf_token.as_bytes())) {
            return Err(AuthError::Csrf);
        }
    }
    Ok(CurrentSession { session, via })
}

/// The token and where it came from: the `Authorization` header if present (and then
/// it must be a bearer token), else the session cookie.
fn credentials(headers: &HeaderMap) -> Result<(&str, Via), AuthError> {
    if let Some(value) = headers.get(header::AUTHORIZATION) {
        let token = value
            .to_str()
            .ok()
            .and_then(|v| {
                let (scheme, token) = v.trim().split_once(' ')?;
                scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
            })
            .ok_or(AuthError::Unauthenticated(
                "expected Authorization: Bearer <token>",
            ))?;
        return Ok((token, Via::Bearer));
    }
    cookie(headers, COOKIE)
        .map(|t| (t, Via::Cookie))
        .ok_or(AuthError::Unauthenticated(
            "log in first: no bearer token or session cookie",
        ))
}

/// The value of cookie `name` in the request's `Cookie` headers.
pub fn cookie<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|pair| {
            let (k, v) = pair.trim().split_once('=')?;
            (k == name).then(|| v.trim_matches('"'))
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(pairs: &[(header::HeaderName, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(k.clone(), HeaderValue::from_str(v).unwrap());
        }
        h
    }

    #[test]
    fn bearer_wins_over_the_cookie() {
        let h = headers(&[
            (header::AUTHORIZATION, "Bearer abc"),
            (header::COOKIE, "cityops_session=xyz"),
        ]);
        assert_eq!(credentials(&h).unwrap(), ("abc", Via::Bearer));
        let h = headers(&[(header::AUTHORIZATION, "Basic abc")]);
        assert!(credentials(&h).is_err());
    }

    #[test]
    fn the_session_cookie_is_found_among_others() {
        let h = headers(&[
            (header::COOKIE, "theme=dark; cityops_sessionx=no"),
            (header::COOKIE, "lang=zh; cityops_session=tok; z=1"),
        ]);
        assert_eq!(credentials(&h).unwrap(), ("tok", Via::Cookie));
        assert!(credentials(&HeaderMap::new()).is_err());
    }
}
