//! `/ws`: the live feed. A client gets a snapshot (or, resuming with `?epoch=&since=`,
//! the deltas it missed), then ordered deltas and heartbeats. A client that falls
//! behind its bounded queue is sent a fresh snapshot instead of the backlog.
//!
//! Only signed-in users connect (session cookie or bearer token), from our own pages
//! (the `Origin` check), and each sees only the incidents of its jurisdiction: a
//! department its own, a grid worker its grids, a district center its district.

use super::AppState;
use crate::auth::{Authenticated, SameOrigin};
use crate::incidents::lifecycle::may_see;
use crate::model::{Actor, Incident, Role};
use axum::extract::ws::{Message, Utf8Bytes, WebSocket, WebSocketUpgrade};
use axum::extract::{Query, State};
use axum::response::Response;
use metrics::{counter, gauge};
use serde::Deserialize;
use std::time::Duration;
use tokio::sync::broadcast::error::RecvError;

/// A client that cannot take a message within this long is disconnected.
const SEND_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Deserialize)]
pub struct Resume {
    epoch: Option<String>,
    since: Option<u64>,
}

pub async fn upgrade(
    State(s): State<AppState>,
    _origin: SameOrigin,
    Authenticated(actor): Authenticated,
    Query(q): Query<Resume>,
    ws: WebSocketUpgrade,
) -> Response {
    let since = q.epoch.zip(q.since);
    ws.max_message_size(64 * 1024)
        .on_upgrade(move |socket| serve(s, socket, since, actor))
}

/// Whether `actor` sees every incident (no need to filter messages).
fn sees_all(actor: &Actor) -> bool {
    matches!(
        actor.role,
        Role::Admin | Role::Engineer | Role::Wall | Role::DutyOfficer | Role::Dispatcher
    ) && actor.district.is_none()
        && actor.street.is_none()
}

/// The message as `actor` may see it: incidents outside its jurisdiction removed.
fn scoped(text: &std::sync::Arc<str>, actor: &Actor) -> std::sync::Arc<str> {
    if sees_all(actor) || !text.contains("\"incidents\"") {
        return text.clone();
    }
    let Ok(mut v) = serde_json::from_str::<serde_json::Value>(text) else {
        return text.clone();
    };
    if let Some(list) = v.get_mut("incidents").and_then(|l| l.as_array_mut()) {
        list.retain(|i| {
            serde_json::from_value::<Incident>(i.clone()).is_ok_and(|i| may_see(actor, &i))
        });
    }
    std::sync::Arc::from(v.to_string())
}

async fn serve(s: AppState, mut socket: WebSocket, since: Option<(String, u64)>, actor: Actor) {
    let Some(mut sub) = s.live.subscribe(since).await else {
        return;
    };
    gauge!("cityops_ws_clients").increment(1.0);
    'outer: loop {
        for msg in std::mem::take(&mut sub.initial) {
            if !send(&mut socket, &scoped(&msg, &actor)).await {
                break 'outer;
            }
        }
        loop {
            tokio::select! {
                msg = sub.rx.recv() => match msg {
                    Ok(m) => if !send(&mut socket, &scoped(&m, &actor)).await { break 'outer },
                    Err(RecvError::Lagged(_)) => {
                        counter!("cityops_ws_resyncs_total").increment(1);
                        match s.live.subscribe(None).await {
                            Some(fresh) => { sub = fresh; continue 'outer; }
                            None => break 'outer,
                        }
                    }
                    Err(RecvError::Closed) => break 'outer,
                },
                incoming = socket.recv() => match incoming {
                    // Clients only listen; anything but a close is ignored.
                    Some(Ok(Message::Close(_))) | None | Some(Err(_)) => break 'outer,
                    Some(Ok(_)) => {}
                },
            }
        }
    }
    gauge!("cityops_ws_clients").decrement(1.0);
}

async fn send(socket: &mut WebSocket, text: &std::sync::Arc<str>) -> bool {
    let msg = Message::Text(Utf8Bytes::from(text.as_ref()));
    matches!(
        tokio::time::timeout(SEND_TIMEOUT, socket.send(msg)).await,
        Ok(Ok(()))
    )
}
