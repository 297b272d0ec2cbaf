//! The live hub: one task that owns the live state (latest sensor values, open
//! incidents, recent video alerts) and turns changes into a snapshot + ordered deltas
//! protocol for WebSocket clients.
//!
//! - Sensor values are conflated: per tick, only the newest value per sensor metric.
//! - Every delta has a sequence number; `epoch` changes when the server restarts, so a
//!   client can tell a resumable gap from a new server.
//! - A client resuming with `since` gets the deltas it missed if they are still in the
//!   history, else a new snapshot.
//! - Each client reads from a bounded broadcast queue; one that falls behind is
//!   resynchronised from a snapshot (see `api::ws`), so it never slows anyone else.
//! - A heartbeat every `HEARTBEAT` lets a page show "stale" when it stops hearing.
//!
//! Message formats are documented in `docs/live-protocol.md`.

use crate::clock::SharedClock;
use crate::model::{Incident, IncidentId, Reading, SensorId, Timestamp, VideoAlert};
use crate::spatial::City;
use crate::store::{LatestValue, SharedStore, StoreError};
use serde::Serialize;
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{broadcast, mpsc, oneshot};
use tokio_util::sync::CancellationToken;

/// How often a heartbeat goes out when nothing else does.
pub const HEARTBEAT: Duration = Duration::from_secs(2);
/// Recent video alerts kept for snapshots.
const RECENT_ALERTS: usize = 50;
/// Capacity of the queue into the hub. The writer waits when it is full; the hub does
/// only in-memory work, so it keeps up.
pub const EVENT_QUEUE: usize = 1024;

/// A change for the hub to announce. Sent only after it is committed to the store.
#[derive(Debug, Clone)]
pub enum LiveEvent {
    Readings(Arc<[Reading]>),
    /// Incidents that changed, the newest state of each.
    Incidents(Vec<Incident>),
    Alert(VideoAlert),
    /// Vital signs whose value or level changed.
    Indicators(Vec<crate::indicators::Current>),
}

/// What a new client starts from.
pub struct Subscription {
    /// A snapshot, or the missed deltas when resuming.
    pub initial: Vec<Arc<str>>,
    pub rx: broadcast::Receiver<Arc<str>>,
}

enum Command {
    Subscribe {
        since: Option<(String, u64)>,
        reply: oneshot::Sender<Subscription>,
    },
}

/// A handle to the hub, cheap to clone.
#[derive(Clone)]
pub struct LiveHandle {
    commands: mpsc::Sender<Command>,
}

impl LiveHandle {
    /// Subscribes; `since` is `(epoch, seq)` of the last message a client saw.
    pub async fn subscribe(&self, since: Option<(String, u64)>) -> Option<Subscription> {
        let (reply, rx) = oneshot::channel();
        self.commands
            .send(Command::Subscribe { since, reply })
            .await
            .ok()?;
        rx.await.ok()
    }
}

#[derive(Serialize)]
struct SensorValue<'a> {
    id: &'a str,
    metric: &'a str,
    time: Timestamp,
    value: f64,
}

#[derive(Serialize)]
struct Message<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    epoch: &'a str,
    seq: u64,
    time: Timestamp,
    #[serde(skip_serializing_if = "Option::is_none")]
    sensors: Option<Vec<SensorValue<'a>>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    incidents: Option<Vec<&'a Incident>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    alerts: Option<Vec<&'a VideoAlert>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    indicators: Option<Vec<&'a Indicator>>,
}

type Indicator = crate::indicators::Current;

/// A sensor metric. The metric's name is shared (`Metrics`): a city has a handful of
/// metric names and up to millions of keys.
type ValueKey = (SensorId, Arc<str>);

/// The distinct metric names seen, so each key holds a shared name, not its own copy.
#[derive(Default)]
struct Metrics(std::collections::HashSet<Arc<str>>);

impl Metrics {
    fn intern(&mut self, name: &str) -> Arc<str> {
        if let Some(n) = self.0.get(name) {
            return n.clone();
        }
        let n: Arc<str> = Arc::from(name);
        self.0.insert(n.clone());
        n
    }
}

/// The newest stored value of every sensor metric of `city`, read one sensor kind at a
/// time: `Store::sensors` returns whole registry rows, and a city's worth of them at
/// once (100 000 sensors) cost about 150 MB for a moment at start, which the allocator
/// then kept (`docs/performance.md`, "Memory at city scale"). Sensors of kinds the city
/// no longer has are left out.
pub async fn stored_latest(
    store: &SharedStore,
    city: &City,
) -> Result<Vec<(SensorId, LatestValue)>, StoreError> {
    let kinds: std::collections::BTreeSet<&str> = city.sensors().map(|s| s.kind.as_str()).collect();
    let mut out = Vec::new();
    for kind in kinds {
        for s in store.sensors(Some(kind), None).await? {
            let id = s.info.id;
            out.extend(s.latest.into_iter().map(|v| (id.clone(), v)));
        }
    }
    Ok(out)
}

pub struct LiveHub {
    epoch: String,
    clock: SharedClock,
    tick: Duration,
    history_cap: usize,
    seq: u64,
    metrics: Metrics,
    values: HashMap<ValueKey, (Timestamp, f64)>,
    incidents: BTreeMap<IncidentId, Incident>,
    alerts: VecDeque<VideoAlert>,
    pending_values: HashMap<ValueKey, (Timestamp, f64)>,
    /// Changed incidents, conflated per tick: the newest state of each.
    pending_incidents: BTreeMap<IncidentId, Incident>,
    pending_alerts: Vec<VideoAlert>,
    /// The vital signs as they stand, by id, and those changed this tick.
    indicators: BTreeMap<String, Indicator>,
    pending_indicators: BTreeMap<String, Indicator>,
    history: VecDeque<(u64, Arc<str>)>,
    tx: broadcast::Sender<Arc<str>>,
}

impl LiveHub {
    /// Builds the hub from the store's current state and starts it. Returns its event
    /// input and a handle for subscribers.
    pub async fn start(
        store: &SharedStore,
        city: &City,
        clock: SharedClock,
        tick: Duration,
        history: usize,
        client_queue: usize,
        shutdown: CancellationToken,
    ) -> Result<
        (
            mpsc::Sender<LiveEvent>,
            LiveHandle,
            tokio::task::JoinHandle<()>,
        ),
        crate::store::StoreError,
    > {
        let mut metrics = Metrics::default();
        let mut values = HashMap::new();
        for (id, v) in stored_latest(store, city).await? {
            values.insert((id, metrics.intern(&v.metric)), (v.time, v.value));
        }
        let incidents = store
            .incidents(&crate::store::IncidentFilter {
                open_only: true,
                district: None,
                limit: 10_000,
                ..Default::default()
            })
            .await?
            .into_iter()
            .map(|i| (i.id, i))
            .collect();
        let alerts = store.video_alerts(RECENT_ALERTS as u32).await?.into();
        let (tx, _) = broadcast::channel(client_queue);
        let hub = LiveHub {
            epoch: uuid::Uuid::now_v7().simple().to_string(),
            clock,
            tick,
            history_cap: history,
            seq: 0,
            metrics,
            values,
            incidents,
            alerts,
            pending_values: HashMap::new(),
            pending_incidents: BTreeMap::new(),
            pending_alerts: Vec::new(),
            indicators: BTreeMap::new(),
            pending_indicators: BTreeMap::new(),
            history: VecDeque::new(),
            tx,
        };
        let (event_tx, event_rx) = mpsc::channel(EVENT_QUEUE);
        let (cmd_tx, cmd_rx) = mpsc::channel(64);
        let task = tokio::spawn(hub.run(event_rx, cmd_rx, shutdown));
        Ok((event_tx, LiveHandle { commands: cmd_tx }, task))
    }

    async fn run(
        mut self,
        mut events: mpsc::Receiver<LiveEvent>,
        mut commands: mpsc::Receiver<Command>,
        shutdown: CancellationToken,
    ) {
        let mut tick = tokio::time::interval(self.tick);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut heartbeat = tokio::time::interval(HEARTBEAT);
        heartbeat.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                biased;
                _ = shutdown.cancelled() => break,
                Some(cmd) = commands.recv() => self.command(cmd),
                ev = events.recv() => match ev {
                    Some(ev) => self.absorb(ev),
                    None => break,
                },
                _ = tick.tick() => self.publish_delta(),
                _ = heartbeat.tick() => self.heartbeat(),
            }
        }
        self.publish_delta();
    }

    fn absorb(&mut self, ev: LiveEvent) {
        match ev {
            LiveEvent::Readings(rs) => {
                for r in rs.iter() {
                    let key = (r.sensor.clone(), self.metrics.intern(&r.metric));
                    let newer = self.values.get(&key).is_none_or(|(t, _)| *t <= r.time);
                    if newer {
                        self.values.insert(key.clone(), (r.time, r.value));
                        self.pending_values.insert(key, (r.time, r.value));
                    }
                }
            }
            LiveEvent::Incidents(changed) => {
                for i in changed {
                    // Announcements of one incident may cross (two writers); the newer
                    // version stands.
                    let newer_known = |m: &BTreeMap<IncidentId, Incident>| {
                        m.get(&i.id).is_some_and(|p| p.version > i.version)
                    };
                    if newer_known(&self.pending_incidents) || newer_known(&self.incidents) {
                        continue;
                    }
                    if i.status.is_final() {
                        self.incidents.remove(&i.id);
                    } else {
                        self.incidents.insert(i.id, i.clone());
                    }
                    self.pending_incidents.insert(i.id, i);
                }
            }
            LiveEvent::Alert(a) => {
                if self.alerts.len() == RECENT_ALERTS {
                    self.alerts.pop_back();
                }
                self.alerts.push_front(a.clone());
                self.pending_alerts.push(a);
            }
            LiveEvent::Indicators(changed) => {
                for i in changed {
                    self.indicators.insert(i.id.clone(), i.clone());
                    self.pending_indicators.insert(i.id.clone(), i);
                }
            }
        }
    }

    fn publish_delta(&mut self) {
        if self.pending_values.is_empty()
            && self.pending_incidents.is_empty()
            && self.pending_alerts.is_empty()
            && self.pending_indicators.is_empty()
        {
            return;
        }
        self.seq += 1;
        let values = std::mem::take(&mut self.pending_values);
        let incidents = std::mem::take(&mut self.pending_incidents);
        let alerts = std::mem::take(&mut self.pending_alerts);
        let indicators = std::mem::take(&mut self.pending_indicators);
        let msg = Message {
            kind: "delta",
            epoch: &self.epoch,
            seq: self.seq,
            time: self.clock.now(),
            sensors: Some(
                values
                    .iter()
                    .map(|((id, metric), (time, value))| SensorValue {
                        id: id.as_str(),
                        metric,
                        time: *time,
                        value: *value,
                    })
                    .collect(),
            ),
            incidents: Some(incidents.values().collect()),
            alerts: Some(alerts.iter().collect()),
            indicators: Some(indicators.values().collect()),
        };
        let text: Arc<str> = to_json(&msg);
        if self.history.len() == self.history_cap {
            self.history.pop_front();
        }
        self.history.push_back((self.seq, text.clone()));
        // No receivers is fine: nobody is watching.
        let _ = self.tx.send(text);
    }

    fn heartbeat(&self) {
        let msg = Message {
            kind: "heartbeat",
            epoch: &self.epoch,
            seq: self.seq,
            time: self.clock.now(),
            sensors: None,
            incidents: None,
            alerts: None,
            indicators: None,
        };
        let _ = self.tx.send(to_json(&msg));
    }

    fn snapshot(&self) -> Arc<str> {
        let msg = Message {
            kind: "snapshot",
            epoch: &self.epoch,
            seq: self.seq,
            time: self.clock.now(),
            sensors: Some(
                self.values
                    .iter()
                    .map(|((id, metric), (time, value))| SensorValue {
                        id: id.as_str(),
                        metric,
                        time: *time,
                        value: *value,
                    })
                    .collect(),
            ),
            incidents: Some(self.incidents.values().collect()),
            alerts: Some(self.alerts.iter().collect()),
            indicators: Some(self.indicators.values().collect()),
        };
        to_json(&msg)
    }

    fn command(&mut self, cmd: Command) {
        match cmd {
            Command::Subscribe { since, reply } => {
                // Pending changes go out first so the snapshot and the stream agree.
                self.publish_delta();
                let rx = self.tx.subscribe();
                let initial = match since {
                    Some((epoch, seq)) if epoch == self.epoch && seq <= self.seq => {
                        let oldest = self.history.front().map_or(self.seq + 1, |(s, _)| *s);
                        if seq + 1 >= oldest {
                            self.history
                                .iter()
                                .filter(|(s, _)| *s > seq)
                                .map(|(_, m)| m.clone())
                                .collect()
                        } else {
                            vec![self.snapshot()]
                        }
                    }
                    _ => vec![self.snapshot()],
                };
                let _ = reply.send(Subscription { initial, rx });
            }
        }
    }
}

fn to_json(msg: &Message<'_>) -> Arc<str> {
    // Serialising these plain structs cannot fail; an empty object is a safe fallback.
    serde_json::to_string(msg)
        .unwrap_or_else(|_| "{}".to_owned())
        .into()
}
