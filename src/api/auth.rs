//! `POST /api/v1/login`, `POST /api/v1/logout`, `GET /api/v1/me`: thin handlers over
//! [`crate::auth`].

use super::{ApiError, AppState};
use crate::auth::{Auth, AuthError, ClientIp, CurrentSession, LoggedIn, UserView, device};
use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRef, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use std::sync::Arc;

impl FromRef<AppState> for Arc<Auth> {
    fn from_ref(s: &AppState) -> Self {
        s.auth.clone()
    }
}

/// The login body. Unknown fields are refused, so a typo never passes silently.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginBody {
    user: String,
    password: String,
}

/// 200 `{token, csrf_token, expires_at, user}`, the session cookie and the device mark
/// (`auth::device`; a client that shows it next time is counted apart by the limiter); 401
/// `bad_credentials`; 429 `too_many_attempts`; 422 for a body that is not
/// `{user, password}`.
pub async fn login(
    State(auth): State<Arc<Auth>>,
    ClientIp(client): ClientIp,
    headers: HeaderMap,
    body: Result<Json<LoginBody>, JsonRejection>,
) -> Result<Response, AuthError> {
    let Json(body) = body.map_err(bad_body)?;
    let device = crate::auth::extract::cookie(&headers, device::COOKIE);
    let logged_in: LoggedIn = auth
        .login(&body.user, &body.password, client, device)
        .await?;
    let cookie = |v: String| {
        HeaderValue::from_str(&v).map_err(|e| AuthError::Internal(format!("cookie: {e}")))
    };
    let session = cookie(auth.session_cookie(&logged_in.token))?;
    let mark = cookie(auth.device_cookie(&logged_in.device))?;
    let mut response = Json(logged_in).into_response();
    response.headers_mut().append(header::SET_COOKIE, session);
    response.headers_mut().append(header::SET_COOKIE, mark);
    no_store(&mut response);
    Ok(response)
}

/// Ends the session the request came with: 204 and the cookie removed. With a cookie it
/// needs `X-CSRF-Token`, like every cookie request that changes state.
pub async fn logout(
    State(auth): State<Arc<Auth>>,
    current: CurrentSession,
) -> Result<Response, AuthError> {
    auth.logout(&current.session).await?;
    let clear = HeaderValue::from_str(&auth.clear_cookie())
        .map_err(|e| AuthError::Internal(format!("session cookie: {e}")))?;
    let mut response = StatusCode::NO_CONTENT.into_response();
    response.headers_mut().insert(header::SET_COOKIE, clear);
    Ok(response)
}

/// Who the session belongs to: `{id, display_name, role, district, street, department,
/// grids}`.
pub async fn me(current: CurrentSession) -> Response {
    let mut response = Json(UserView::from(&current.session.user)).into_response();
    no_store(&mut response);
    response
}

/// Answers with tokens and personal data must not sit in caches.
fn no_store(response: &mut Response) {
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
}

/// A body that does not parse as the route's type: 422 when the JSON is well formed but
/// does not fit (unknown or missing fields), 400 otherwise.
fn bad_body(rejection: JsonRejection) -> AuthError {
    let message = rejection.body_text();
    AuthError::Api(match rejection {
        JsonRejection::JsonDataError(_) => ApiError::Unprocessable {
            code: "invalid_body",
            message,
        },
        _ => ApiError::BadRequest(message),
    })
}
