//! One function per notable authentication event: each writes the log line and the
//! counter together (`cityops_auth_logins_total{outcome}`, `cityops_auth_logouts_total`).

use metrics::counter;
use std::net::IpAddr;
use std::time::Duration;

/// Keeps what a client typed as a user name from flooding the log.
fn shown(name: &str) -> String {
    name.chars().take(64).collect()
}

pub(super) fn login_succeeded(user: &str, client: Option<IpAddr>) {
    counter!("cityops_auth_logins_total", "outcome" => "ok").increment(1);
    tracing::info!(user, client = ?client, "login");
}

pub(super) fn login_failed(user: &str, client: Option<IpAddr>) {
    counter!("cityops_auth_logins_total", "outcome" => "bad_credentials").increment(1);
    tracing::warn!(user = shown(user), client = ?client, "login failed");
}

pub(super) fn login_throttled(user: &str, client: Option<IpAddr>, wait: Duration) {
    counter!("cityops_auth_logins_total", "outcome" => "throttled").increment(1);
    tracing::warn!(
        user = shown(user),
        client = ?client,
        retry_after_s = wait.as_secs(),
        "login refused: too many failures"
    );
}

pub(super) fn logged_out(user: &str) {
    counter!("cityops_auth_logouts_total").increment(1);
    tracing::info!(user, "logout");
}
