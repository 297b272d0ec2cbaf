//! The simulator's engine: plausible readings for every sensor of a city and video-AI
//! alerts from its cameras, published over MQTT at a chosen rate. `sensors-sim` is its
//! command line; `cityops serve --demo` runs it in-process.
//!
//! Everything random comes from one seeded generator, so a seed gives the same sequence
//! of sensors, values and anomalies (times are real time).

mod model;

use crate::model::{CameraInfo, Location, SensorInfo, Timestamp};
use crate::spatial::City;
use model::Behaviour;
use rand::rngs::SmallRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS};
use std::fmt::Write as _;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// Payload form of sensor messages (see `docs/ingest.md`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Senml,
    Compact,
    /// Alternate between the two, message by message.
    Mixed,
}

/// One MQTT message the generator produced.
#[derive(Debug, Clone)]
pub struct Message {
    pub topic: String,
    pub payload: String,
    /// `(sensor index in the fleet, metric, time)` of each reading it carries.
    pub readings: Vec<(usize, &'static str, Timestamp)>,
}

/// What the generator needs to know of one sensor. Its topic is made per message rather
/// than kept: a city has up to hundreds of thousands of sensors.
struct SimSensor {
    info: Arc<SensorInfo>,
    behaviour: Behaviour,
    /// Readings left in the current anomaly; 0 = normal.
    anomaly_left: u32,
    /// In alarm for the whole run ([`Generator::storm`]).
    in_storm: bool,
    /// Per-sensor phase so that sensors do not move in lockstep.
    phase: f64,
}

/// `city/{district}/{layer}/{id}`, the topic a sensor or camera publishes on.
fn topic(layer: &str, location: &Location, id: &str) -> String {
    let district = location.district.as_deref().unwrap_or("none");
    format!("city/{district}/{layer}/{id}")
}

/// Generates readings and alerts for a city's sensors and cameras.
pub struct Generator {
    sensors: Vec<SimSensor>,
    cameras: Vec<Arc<CameraInfo>>,
    /// Visiting order: a seeded shuffle, walked round-robin.
    order: Vec<usize>,
    next: usize,
    rng: SmallRng,
    anomaly_rate: f64,
    /// Only the first metric of each sensor: one reading per message.
    first_metric_only: bool,
    messages: u64,
    alerts: u64,
    last_time_us: i64,
    seed: u64,
    names: Vec<&'static str>,
}

/// Distinct metric names, leaked once so readings can carry `&'static str`.
fn intern(names: &mut Vec<&'static str>, name: &str) -> &'static str {
    if let Some(n) = names.iter().find(|n| **n == name) {
        return n;
    }
    let n: &'static str = Box::leak(name.to_owned().into_boxed_str());
    names.push(n);
    n
}

impl Generator {
    pub fn new(city: &City, seed: u64, anomaly_rate: f64) -> Self {
        let mut rng = SmallRng::seed_from_u64(seed);
        let sensors: Vec<SimSensor> = city
            .sensors()
            .map(|s| SimSensor {
                behaviour: Behaviour::of(&s.kind),
                anomaly_left: 0,
                in_storm: false,
                phase: rng.random_range(0.0..std::f64::consts::TAU),
                info: Arc::clone(s),
            })
            .collect();
        let cameras = city.cameras().cloned().collect();
        let mut order: Vec<usize> = (0..sensors.len()).collect();
        order.shuffle(&mut rng);
        Self {
            sensors,
            cameras,
            order,
            next: 0,
            rng,
            anomaly_rate: anomaly_rate.clamp(0.0, 1.0),
            first_metric_only: false,
            messages: 0,
            alerts: 0,
            last_time_us: 0,
            seed,
            names: Vec::new(),
        }
    }

    /// Keeps only the sensors with `index % of == part`, so that several generators
    /// (one per publishing connection) never produce the same (sensor, metric, time).
    pub fn partition(mut self, part: usize, of: usize) -> Self {
        self.order.retain(|i| i % of.max(1) == part);
        self.next = 0;
        self
    }

    /// Only each sensor's first metric: one reading per message (the load test's unit).
    pub fn first_metric_only(mut self) -> Self {
        self.first_metric_only = true;
        self
    }

    /// Puts `fraction` (0 to 1) of this generator's sensors, a seeded choice, into alarm
    /// for good: every reading beyond the alarm levels and moving with the noise, so
    /// evidence and level changes keep coming (the storm of a load run). Call it after
    /// [`Generator::partition`].
    pub fn storm(mut self, fraction: f64) -> Self {
        let n = (self.order.len() as f64 * fraction.clamp(0.0, 1.0)).round() as usize;
        for &i in self.order.iter().take(n) {
            self.sensors[i].in_storm = true;
        }
        self
    }

    /// Sensors this generator publishes for.
    pub fn sensor_count(&self) -> usize {
        self.order.len()
    }

    /// Id of the sensor at `index` (as in [`Message::readings`]).
    pub fn sensor_id(&self, index: usize) -> &str {
        self.sensors[index].info.id.as_str()
    }

    /// Strictly increasing event times, so every (sensor, metric, time) is unique.
    fn time(&mut self, now: Timestamp) -> Timestamp {
        let t = now.micros().max(self.last_time_us + 1);
        self.last_time_us = t;
        Timestamp::from_micros(t)
    }

    /// Values for the next sensor in the round: `(index, [(metric, value)])`.
    fn next_values(&mut self, now: Timestamp) -> (usize, Vec<(&'static str, f64)>) {
        if self.order.is_empty() {
            return (0, Vec::new());
        }
        let index = self.order[self.next];
        self.next = (self.next + 1) % self.order.len();
        let secs = now.micros() as f64 / 1e6;
        let s = &mut self.sensors[index];
        if s.anomaly_left > 0 {
            s.anomaly_left -= 1;
        } else if self.rng.random_bool(self.anomaly_rate) {
            s.anomaly_left = self.rng.random_range(3..12);
        }
        let anomalous = s.in_storm || s.anomaly_left > 0;
        let take = if self.first_metric_only {
            1
        } else {
            s.info.metrics.len()
        };
        let mut values = Vec::with_capacity(take);
        for m in s.info.metrics.iter().take(take) {
            let noise = gaussian(&mut self.rng);
            let v = s
                .behaviour
                .value(&m.name, secs + s.phase * 3600.0, noise, anomalous);
            let v = (v.clamp(m.min, m.max) * 1000.0).round() / 1000.0;
            let name = intern(&mut self.names, &m.name);
            values.push((name, v));
        }
        (index, values)
    }

    /// The next sensor message of the round.
    pub fn sensor_message(&mut self, now: Timestamp, senml: bool) -> Message {
        self.messages += 1;
        let (index, values) = self.next_values(now);
        let time = self.time(now);
        let s = &self.sensors[index];
        let secs = time.micros() as f64 / 1e6;
        let mut payload = String::with_capacity(96);
        if senml {
            payload.push('[');
            for (i, (metric, v)) in values.iter().enumerate() {
                let unit = &s.info.metrics[i].unit;
                if i == 0 {
                    let _ = write!(
                        payload,
                        r#"{{"bn":"{}:","bt":{secs:.6},"n":"{metric}","u":"{unit}","v":{v}}}"#,
                        s.info.id
                    );
                } else {
                    let _ = write!(payload, r#",{{"n":"{metric}","u":"{unit}","v":{v}}}"#);
                }
            }
            payload.push(']');
        } else {
            let _ = write!(payload, r#"{{"t":{secs:.6},"values":{{"#);
            for (i, (metric, v)) in values.iter().enumerate() {
                let sep = if i == 0 { "" } else { "," };
                let _ = write!(payload, r#"{sep}"{metric}":{v}"#);
            }
            payload.push_str("}}");
        }
        Message {
            topic: topic("sensors", &s.info.location, s.info.id.as_str()),
            payload,
            readings: values.iter().map(|(m, _)| (index, *m, time)).collect(),
        }
    }

    /// One SenML pack of `n` readings from successive sensors, on `city/packs/{pack}`.
    pub fn pack_message(&mut self, now: Timestamp, n: usize) -> Message {
        self.messages += 1;
        let bt = now.micros() as f64 / 1e6;
        let mut payload = format!(r#"[{{"bt":{bt:.6}"#);
        let mut readings = Vec::with_capacity(n);
        let mut first = true;
        while readings.len() < n.max(1) {
            let (index, values) = self.next_values(now);
            if values.is_empty() {
                break;
            }
            for (metric, v) in values {
                let time = self.time(now);
                let t = (time.micros() - now.micros()) as f64 / 1e6;
                let sep = if first { "," } else { ",{" };
                first = false;
                let _ = write!(
                    payload,
                    r#"{sep}"n":"{}:{metric}","t":{t:.6},"v":{v}}}"#,
                    self.sensors[index].info.id
                );
                readings.push((index, metric, time));
            }
        }
        payload.push(']');
        Message {
            topic: format!("city/packs/sim-{}", self.seed),
            payload,
            readings,
        }
    }

    /// A video-AI alert from a random camera.
    pub fn alert_message(&mut self, now: Timestamp) -> Option<Message> {
        if self.cameras.is_empty() {
            return None;
        }
        self.alerts += 1;
        const EVENTS: [&str; 7] = [
            "smoke",
            "waterlogging",
            "illegal_parking",
            "crowding",
            "fire",
            "garbage_overflow",
            "street_vending",
        ];
        let c = &self.cameras[self.rng.random_range(0..self.cameras.len())];
        let event = EVENTS[self.rng.random_range(0..EVENTS.len())];
        let confidence = (self.rng.random_range(0.55..0.99f64) * 100.0).round() / 100.0;
        let payload = serde_json::json!({
            "id": format!("sim-{}-{}-{}", self.seed, now.micros(), self.alerts),
            "camera_id": c.id.as_str(),
            "event_type": event,
            "confidence": confidence,
            "time": now.to_rfc3339(),
        })
        .to_string();
        Some(Message {
            topic: topic("video", &c.location, c.id.as_str()),
            payload,
            readings: Vec::new(),
        })
    }
}

/// A standard normal sample (Box–Muller).
fn gaussian(rng: &mut SmallRng) -> f64 {
    let u1: f64 = rng.random_range(f64::EPSILON..1.0);
    let u2: f64 = rng.random_range(0.0..1.0);
    (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}

/// How `run` publishes.
#[derive(Debug, Clone)]
pub struct RunOptions {
    pub host: String,
    pub port: u16,
    pub client_id: String,
    /// Readings per second, all sensors together.
    pub rate: f64,
    pub alerts_per_min: f64,
    pub format: Format,
    /// Readings per SenML pack; 1 = one message per sensor.
    pub pack: usize,
    /// Stop after this long; `None` runs until cancelled.
    pub duration: Option<Duration>,
}

/// What `run` did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RunStats {
    pub messages: u64,
    pub readings: u64,
    pub alerts: u64,
    /// Messages the broker acknowledged (QoS 1).
    pub acked: u64,
}

/// Publishing ticks; each tick sends what the rate allows since the last one.
const TICK: Duration = Duration::from_millis(20);

/// Publishes until `cancel` fires or `opts.duration` has passed. A broker outage is
/// waited out (the client reconnects); nothing here panics on one.
pub async fn run(
    mut generator: Generator,
    opts: RunOptions,
    cancel: CancellationToken,
) -> anyhow::Result<RunStats> {
    let mut mqtt = MqttOptions::new(opts.client_id.clone(), opts.host.clone(), opts.port);
    mqtt.set_keep_alive(Duration::from_secs(15))
        .set_max_packet_size(1 << 20, 1 << 20)
        .set_inflight(1000);
    let (client, mut eventloop) = AsyncClient::new(mqtt, 2000);
    let acked = Arc::new(AtomicU64::new(0));
    let poll_stop = CancellationToken::new();
    let poller = {
        let acked = Arc::clone(&acked);
        let stop = poll_stop.clone();
        tokio::spawn(async move {
            let mut warned = false;
            loop {
                let event = tokio::select! {
                    _ = stop.cancelled() => break,
                    e = eventloop.poll() => e,
                };
                match event {
                    Ok(Event::Incoming(Packet::PubAck(_))) => {
                        acked.fetch_add(1, Ordering::Relaxed);
                    }
                    Ok(Event::Incoming(Packet::ConnAck(_))) => warned = false,
                    Ok(_) => {}
                    Err(e) => {
                        if !warned {
                            tracing::warn!(error = %e, "simulator: broker connection lost; retrying");
                            warned = true;
                        }
                        tokio::select! {
                            _ = stop.cancelled() => break,
                            _ = tokio::time::sleep(Duration::from_millis(500)) => {}
                        }
                    }
                }
            }
        })
    };

    let mut stats = RunStats::default();
    let started = tokio::time::Instant::now();
    let mut ticker = tokio::time::interval(TICK);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut last = started;
    let (mut reading_budget, mut alert_budget) = (0.0f64, 0.0f64);
    'outer: loop {
        tokio::select! {
            _ = cancel.cancelled() => break,
            _ = ticker.tick() => {}
        }
        let tick_at = tokio::time::Instant::now();
        if opts.duration.is_some_and(|d| tick_at - started >= d) {
            break;
        }
        let dt = (tick_at - last).as_secs_f64().min(1.0);
        last = tick_at;
        reading_budget += opts.rate * dt;
        alert_budget += opts.alerts_per_min / 60.0 * dt;
        let mut batch = Vec::new();
        while reading_budget >= 1.0 && generator.sensor_count() > 0 {
            let now = wall_now();
            let m = if opts.pack > 1 {
                generator.pack_message(now, opts.pack)
            } else {
                let senml = match opts.format {
                    Format::Senml => true,
                    Format::Compact => false,
                    Format::Mixed => stats.messages % 2 == 0,
                };
                generator.sensor_message(now, senml)
            };
            reading_budget -= m.readings.len() as f64;
            stats.readings += m.readings.len() as u64;
            batch.push(m);
        }
        while alert_budget >= 1.0 {
            alert_budget -= 1.0;
            if let Some(m) = generator.alert_message(wall_now()) {
                stats.alerts += 1;
                batch.push(m);
            }
        }
        for m in batch {
            tokio::select! {
                _ = cancel.cancelled() => break 'outer,
                r = client.publish(m.topic, QoS::AtLeastOnce, false, m.payload) => {
                    if r.is_err() { break 'outer; }
                }
            }
            stats.messages += 1;
        }
    }
    // Give outstanding acknowledgements a moment, then hang up.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(2);
    while acked.load(Ordering::Relaxed) < stats.messages && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let _ = client.disconnect().await;
    poll_stop.cancel();
    let _ = poller.await;
    stats.acked = acked.load(Ordering::Relaxed);
    Ok(stats)
}

#[cfg(test)]
mod tests;

fn wall_now() -> Timestamp {
    Timestamp::from_chrono(chrono::Utc::now())
}
