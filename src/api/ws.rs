//! `/ws`: the live feed. A client gets a snapshot (or, resuming with `?epoch=&since=`,
//! the deltas it missed), then ordered deltas and heartbeats. A client that falls
//! behind its bounded queue is sent a fresh snapshot instead of the backlog.
//!
//! Only signed-in users connect (session cookie or bearer token), from our own pages
//! (the `Origin` check), and each sees only the incidents, sensor values and video alerts
//! of its jurisdiction: a department its own incidents (no sensors or alerts), a grid
//! worker its grids, a district center its district (`docs/access.md`).

use super::AppState;
use crate::auth::access;
use crate::auth::{Authenticated, SameOrigin};
use crate::incidents::lifecycle::may_see;
use crate::model::{Actor, Incident, Location};
use crate::spatial::City;
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

/// Whether `actor` sees every incident, sensor and alert (no need to filter messages).
fn sees_all(actor: &Actor) -> bool {
    access::sees_everywhere(actor)
}

/// The message as `actor` may see it: incidents, sensor values and video alerts outside
/// its jurisdiction removed (`docs/access.md`); a department gets no sensor values or
/// alerts at all.
fn scoped(text: &std::sync::Arc<str>, actor: &Actor, city: &City) -> std::sync::Arc<str> {
    if sees_all(actor) {
        return text.clone();
    }
    let Ok(mut v) = serde_json::from_str::<serde_json::Value>(text) else {
        return text.clone();
    };
    let Some(message) = v.as_object_mut() else {
        return text.clone();
    };
    if !message.contains_key("incidents")
        && !message.contains_key("sensors")
        && !message.contains_key("alerts")
        && !message.contains_key("indicators")
    {
        return text.clone();
    }
    if let Some(list) = message.get_mut("incidents").and_then(|l| l.as_array_mut()) {
        list.retain(|i| {
            serde_json::from_value::<Incident>(i.clone()).is_ok_and(|i| may_see(actor, &i))
        });
    }
    if let Some(list) = message.get_mut("sensors").and_then(|l| l.as_array_mut()) {
        list.retain(|value| {
            value["id"]
                .as_str()
                .and_then(|id| city.sensor(id))
                .is_some_and(|sensor| access::may_see_place(actor, &sensor.location))
        });
    }
    if let Some(list) = message.get_mut("alerts").and_then(|l| l.as_array_mut()) {
        list.retain(|a| {
            serde_json::from_value::<Location>(a["location"].clone())
                .is_ok_and(|place| access::may_see_place(actor, &place))
        });
    }
    if let Some(list) = message.get_mut("indicators").and_then(|l| l.as_array_mut()) {
        *list = list
            .iter()
            .filter_map(|i| serde_json::from_value::<crate::indicators::Current>(i.clone()).ok())
            .filter_map(|i| crate::indicators::view::scoped(&i, actor))
            .filter_map(|i| serde_json::to_value(i).ok())
            .collect();
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
            if !send(&mut socket, &scoped(&msg, &actor, &s.city)).await {
                break 'outer;
            }
        }
        loop {
            tokio::select! {
                msg = sub.rx.recv() => match msg {
                    Ok(m) => if !send(&mut socket, &scoped(&m, &actor, &s.city)).await { break 'outer },
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
