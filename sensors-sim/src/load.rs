//! End-to-end load: simulator → broker → cityops → store, and → `/ws`.
//!
//! Publishes one reading per MQTT message at QoS 1 from several connections at a set
//! rate, then reports readings/s stored (from cityops' own `cityops_readings_stored_total`),
//! messages lost (acknowledged by the broker but never stored) and the latency from
//! publishing a reading to receiving it on `/ws`. Deltas are conflated per tick, so only
//! the readings that were a sensor's latest at a tick are seen there; the report says how
//! many were matched.

use anyhow::Context;
use cityops::model::Timestamp;
use cityops::sim::Generator;
use cityops::spatial::City;
use futures::StreamExt;
use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS};
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_util::sync::CancellationToken;

#[derive(clap::Args)]
pub struct LoadArgs {
    #[arg(long, default_value = "city/demo")]
    city: PathBuf,
    /// Broker cityops reads from, HOST:PORT.
    #[arg(long)]
    mqtt: String,
    /// cityops HTTP base, e.g. http://127.0.0.1:8080 (not with --relay-only).
    #[arg(long, required_unless_present = "relay_only")]
    http: Option<String>,
    /// Measure the broker alone: the same publishers, and a plain subscriber to `city/#`
    /// at QoS 1 in place of cityops; reports messages relayed per second and any the
    /// broker acknowledged but never delivered. The ceiling every other figure is set
    /// against.
    #[arg(long, conflicts_with = "http")]
    relay_only: bool,
    /// User to sign in as for `/ws`; a role that sees the whole city (`wall`,
    /// `duty_officer`) matches every reading. The password is read from the environment
    /// variable `SENSORS_SIM_PASSWORD`, never from an argument.
    #[arg(long, default_value = "load")]
    user: String,
    /// Offered readings (= messages) per second, all connections together.
    #[arg(long, default_value_t = 20_000.0)]
    rate: f64,
    /// Seconds of publishing.
    #[arg(long, default_value_t = 20.0)]
    duration: f64,
    /// Publishing connections.
    #[arg(long, default_value_t = 2)]
    publishers: usize,
    /// Unacknowledged QoS 1 messages per connection.
    #[arg(long, default_value_t = 1000)]
    inflight: u16,
    /// Share of the sensors (0 to 1) in alarm for the whole run: values beyond their
    /// alarm levels and moving, so evidence and level changes keep coming (a storm).
    #[arg(long, default_value_t = 0.0)]
    storm: f64,
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
}

/// The environment variable holding `--user`'s password.
const PASSWORD_ENV: &str = "SENSORS_SIM_PASSWORD";

/// Signs in at `POST /api/v1/login`; the session token, or what the server said.
async fn sign_in(
    client: &reqwest::Client,
    http: &str,
    user: &str,
    password: &str,
) -> anyhow::Result<String> {
    let body = serde_json::json!({ "user": user, "password": password }).to_string();
    let reply = client
        .post(format!("{http}/api/v1/login"))
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .with_context(|| format!("signing in at {http}"))?;
    let status = reply.status();
    let text = reply.text().await.context("reading the sign-in answer")?;
    anyhow::ensure!(status.is_success(), "signing in as {user}: {status} {text}");
    let v: serde_json::Value = serde_json::from_str(&text).context("the sign-in answer")?;
    v["token"]
        .as_str()
        .map(str::to_owned)
        .context("the sign-in answer has no token")
}

/// What a publisher did: counts and the publish instant of each reading.
/// How often a publisher connects again before the run fails.
const MAX_RECONNECTS: u64 = 5;

struct Published {
    sent: u64,
    acked: u64,
    /// Times the broker dropped the connection and the publisher connected again
    /// (resending what was not acknowledged, as a device does).
    reconnects: u64,
    sent_at: Vec<(usize, i64, Instant)>,
}

pub async fn run(args: LoadArgs) -> anyhow::Result<()> {
    anyhow::ensure!(
        args.rate.is_finite() && args.rate > 0.0,
        "--rate must be > 0"
    );
    anyhow::ensure!(
        args.duration.is_finite() && args.duration > 0.0,
        "--duration must be > 0"
    );
    anyhow::ensure!(args.publishers >= 1, "--publishers must be at least 1");
    anyhow::ensure!(
        (0.0..=1.0).contains(&args.storm),
        "--storm must be between 0 and 1"
    );
    let (host, port) = crate::parse_addr(&args.mqtt)?;
    let city = Arc::new(City::load(&args.city).context("loading the city")?);
    if args.relay_only {
        return relay(&args, &city, &host, port).await;
    }
    let http = args
        .http
        .as_deref()
        .unwrap_or_default()
        .trim_end_matches('/')
        .to_owned();
    // A server that stops answering fails the run instead of hanging it.
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .context("HTTP client")?;
    let password = std::env::var(PASSWORD_ENV)
        .with_context(|| format!("{PASSWORD_ENV} must hold the password of --user"))?;
    let stored_before = stored(&client, &http).await.context("reading /metrics")?;
    let token = sign_in(&client, &http, &args.user, &password).await?;

    // The /ws observer: (sensor, time) → when it arrived.
    let stop_ws = CancellationToken::new();
    let ws_url = format!("{}/ws", http.replacen("http", "ws", 1));
    let mut request = ws_url
        .as_str()
        .into_client_request()
        .with_context(|| format!("bad URL {ws_url}"))?;
    request.headers_mut().insert(
        "authorization",
        format!("Bearer {token}").parse().context("token")?,
    );
    let (ws, _) = tokio_tungstenite::connect_async(request)
        .await
        .with_context(|| format!("connecting to {ws_url} as {}", args.user))?;
    let observer = tokio::spawn(observe(ws, stop_ws.clone()));

    // Stored-count samples while the load runs, to find when storing finished.
    let stop_sampling = CancellationToken::new();
    let sampler = tokio::spawn(sample_stored(
        client.clone(),
        http.clone(),
        stop_sampling.clone(),
    ));

    let started = Instant::now();
    let published = publish_all(&args, &city, &host, port).await?;
    let publish_secs = started.elapsed().as_secs_f64();
    let sent: u64 = published.iter().map(|p| p.sent).sum();
    let acked: u64 = published.iter().map(|p| p.acked).sum();
    let reconnects: u64 = published.iter().map(|p| p.reconnects).sum();

    // Wait for storing to catch up: until everything acknowledged is stored, or the
    // count has not moved for 5 s.
    let mut last = (stored(&client, &http).await?, Instant::now());
    loop {
        let now = stored(&client, &http).await?;
        if now - stored_before >= acked {
            break;
        }
        if now != last.0 {
            last = (now, Instant::now());
        } else if last.1.elapsed() > Duration::from_secs(5) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    stop_sampling.cancel();
    let samples = sampler.await?;
    // Let the last tick's deltas arrive before closing the observer.
    tokio::time::sleep(Duration::from_millis(300)).await;
    stop_ws.cancel();
    let seen = observer.await??;

    let stored_after = stored(&client, &http).await?;
    let stored_n = stored_after - stored_before;
    let finished = samples
        .iter()
        .find(|(_, n)| *n >= stored_after)
        .map(|(t, _)| t.duration_since(started).as_secs_f64())
        .unwrap_or_else(|| started.elapsed().as_secs_f64())
        .max(publish_secs.min(args.duration));
    // Generators index sensors in the city's order.
    let ids: Vec<String> = city.sensors().map(|s| s.id.to_string()).collect();
    let mut latencies: Vec<f64> = Vec::new();
    for p in &published {
        for (sensor, time, at) in &p.sent_at {
            if let Some(got) = seen.get(&(ids[*sensor].clone(), *time)) {
                latencies.push(got.saturating_duration_since(*at).as_secs_f64() * 1000.0);
            }
        }
    }
    latencies.sort_by(f64::total_cmp);
    let pct = |p: f64| -> f64 {
        if latencies.is_empty() {
            return f64::NAN;
        }
        latencies[((latencies.len() - 1) as f64 * p).round() as usize]
    };
    let report = serde_json::json!({
        "offered_per_s": args.rate,
        "storm": args.storm,
        "publishers": args.publishers,
        "published": sent,
        "published_per_s": sent as f64 / publish_secs,
        "acked": acked,
        "publisher_reconnects": reconnects,
        "stored": stored_n,
        "stored_per_s": stored_n as f64 / finished,
        "seconds_to_store_all": finished,
        "lost": acked.saturating_sub(stored_n),
        "stored_beyond_published": stored_n.saturating_sub(sent),
        "latency_matched": latencies.len(),
        "latency_ms": {"p50": pct(0.5), "p95": pct(0.95), "p99": pct(0.99), "max": pct(1.0)},
    });
    if args.json {
        println!("{report}");
    } else {
        println!(
            "offered {:.0}/s over {} connections for {:.1}s\n\
             published {sent} ({:.0}/s), acknowledged {acked}, publisher reconnects {reconnects}\n\
             stored {stored_n} in {finished:.1}s = {:.0} readings/s; lost {}; beyond published {}\n\
             publish -> /ws latency over {} matched readings: p50 {:.1} ms, p95 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
            args.rate,
            args.publishers,
            args.duration,
            sent as f64 / publish_secs,
            stored_n as f64 / finished,
            acked.saturating_sub(stored_n),
            stored_n.saturating_sub(sent),
            latencies.len(),
            pct(0.5),
            pct(0.95),
            pct(0.99),
            pct(1.0),
        );
    }
    // Acknowledged means kept: a run that lost any is a failed run, whatever its speed.
    anyhow::ensure!(
        acked <= stored_n,
        "{} acknowledged readings were never stored",
        acked - stored_n
    );
    Ok(())
}

/// Runs the publishers for `--duration`; what each did.
async fn publish_all(
    args: &LoadArgs,
    city: &City,
    host: &str,
    port: u16,
) -> anyhow::Result<Vec<Published>> {
    let duration = Duration::from_secs_f64(args.duration);
    let mut tasks = Vec::new();
    for part in 0..args.publishers {
        let generator = Generator::new(city, 100 + part as u64, 0.0)
            .first_metric_only()
            .partition(part, args.publishers)
            .storm(args.storm);
        let mut opts = MqttOptions::new(
            format!("cityops-load-{}-{part}", std::process::id()),
            host,
            port,
        );
        opts.set_keep_alive(Duration::from_secs(30))
            .set_inflight(args.inflight);
        let rate = args.rate / args.publishers as f64;
        tasks.push(tokio::spawn(publish(generator, opts, rate, duration)));
    }
    let mut published = Vec::new();
    for t in tasks {
        published.push(t.await??);
    }
    Ok(published)
}

/// `--relay-only`: the publishers against the broker alone, with a QoS 1 subscriber to
/// `city/#` counting what the broker delivers.
async fn relay(args: &LoadArgs, city: &City, host: &str, port: u16) -> anyhow::Result<()> {
    let received = Arc::new(AtomicU64::new(0));
    let mut opts = MqttOptions::new(format!("cityops-relay-{}", std::process::id()), host, port);
    opts.set_keep_alive(Duration::from_secs(30))
        .set_max_packet_size(1 << 20, 1 << 20);
    let (client, mut eventloop) = AsyncClient::new(opts, 10_000);
    client.subscribe("city/#", QoS::AtLeastOnce).await?;
    // Subscribed before the first publish, so every relayed message can count.
    loop {
        match eventloop.poll().await? {
            Event::Incoming(Packet::SubAck(_)) => break,
            _ => continue,
        }
    }
    let stop = CancellationToken::new();
    let subscriber = {
        let (stop, received) = (stop.clone(), Arc::clone(&received));
        tokio::spawn(async move {
            loop {
                let e = tokio::select! {
                    _ = stop.cancelled() => return Ok::<_, anyhow::Error>(()),
                    e = eventloop.poll() => e,
                };
                if let Event::Incoming(Packet::Publish(_)) = e? {
                    received.fetch_add(1, Ordering::Relaxed);
                }
            }
        })
    };
    let started = Instant::now();
    let published = publish_all(args, city, host, port).await?;
    let publish_secs = started.elapsed().as_secs_f64();
    let sent: u64 = published.iter().map(|p| p.sent).sum();
    let acked: u64 = published.iter().map(|p| p.acked).sum();
    let reconnects: u64 = published.iter().map(|p| p.reconnects).sum();
    // Until everything acknowledged has arrived, or nothing has for 5 s.
    let mut last = (received.load(Ordering::Relaxed), Instant::now());
    let mut finished = started.elapsed().as_secs_f64();
    loop {
        let now = received.load(Ordering::Relaxed);
        if now != last.0 {
            last = (now, Instant::now());
            finished = started.elapsed().as_secs_f64();
        }
        if now >= acked || last.1.elapsed() > Duration::from_secs(5) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    stop.cancel();
    subscriber.await??;
    let got = received.load(Ordering::Relaxed);
    let finished = finished.max(publish_secs.min(args.duration));
    let report = serde_json::json!({
        "relay_only": true,
        "offered_per_s": args.rate,
        "publishers": args.publishers,
        "published": sent,
        "published_per_s": sent as f64 / publish_secs,
        "acked": acked,
        "publisher_reconnects": reconnects,
        "relayed": got,
        "relayed_per_s": got as f64 / finished,
        "lost": acked.saturating_sub(got),
    });
    if args.json {
        println!("{report}");
    } else {
        println!(
            "relay only: offered {:.0}/s over {} connections for {:.1}s\n\
             published {sent} ({:.0}/s), acknowledged {acked}, publisher reconnects {reconnects}\n\
             relayed {got} in {finished:.1}s = {:.0} messages/s; lost {}",
            args.rate,
            args.publishers,
            args.duration,
            sent as f64 / publish_secs,
            got as f64 / finished,
            acked.saturating_sub(got),
        );
    }
    anyhow::ensure!(
        acked <= got,
        "{} acknowledged messages were never relayed",
        acked - got
    );
    Ok(())
}

async fn publish(
    mut generator: Generator,
    opts: MqttOptions,
    rate: f64,
    duration: Duration,
) -> anyhow::Result<Published> {
    let acked = Arc::new(AtomicU64::new(0));
    let reconnects = Arc::new(AtomicU64::new(0));
    let (client, mut eventloop) = AsyncClient::new(opts, 10_000);
    let stop = CancellationToken::new();
    let poller = {
        let stop = stop.clone();
        let acked = Arc::clone(&acked);
        let reconnects = Arc::clone(&reconnects);
        tokio::spawn(async move {
            loop {
                let e = tokio::select! {
                    _ = stop.cancelled() => return Ok(()),
                    e = eventloop.poll() => e,
                };
                match e {
                    Ok(Event::Incoming(Packet::PubAck(_))) => {
                        acked.fetch_add(1, Ordering::Relaxed);
                    }
                    Ok(_) => {}
                    // A device reconnects and resends what was not acknowledged; so does
                    // the publisher, a few times, and the report says how often.
                    Err(e) if reconnects.load(Ordering::Relaxed) < MAX_RECONNECTS => {
                        reconnects.fetch_add(1, Ordering::Relaxed);
                        eprintln!("publisher: MQTT connection lost ({e}); connecting again");
                        tokio::time::sleep(Duration::from_millis(200)).await;
                    }
                    Err(e) => return Err(anyhow::anyhow!("MQTT connection failed: {e}")),
                }
            }
        })
    };
    let mut out = Published {
        sent: 0,
        acked: 0,
        reconnects: 0,
        sent_at: Vec::with_capacity((rate * duration.as_secs_f64()) as usize + 16),
    };
    let started = tokio::time::Instant::now();
    let mut ticker = tokio::time::interval(Duration::from_millis(5));
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    loop {
        ticker.tick().await;
        let elapsed = started.elapsed();
        if elapsed >= duration {
            break;
        }
        let due = (rate * elapsed.as_secs_f64()) as u64;
        while out.sent < due {
            let m = generator.sensor_message(Timestamp::from_chrono(chrono::Utc::now()), false);
            let at = Instant::now();
            client
                .publish(m.topic, QoS::AtLeastOnce, false, m.payload)
                .await?;
            for (sensor, _, time) in &m.readings {
                out.sent_at.push((*sensor, time.micros(), at));
            }
            out.sent += 1;
        }
        if poller.is_finished() {
            break;
        }
    }
    // Wait for the outstanding acknowledgements, bounded.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while acked.load(Ordering::Relaxed) < out.sent && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
        if poller.is_finished() {
            break;
        }
    }
    let _ = client.disconnect().await;
    stop.cancel();
    poller.await??;
    out.acked = acked.load(Ordering::Relaxed);
    out.reconnects = reconnects.load(Ordering::Relaxed);
    Ok(out)
}

/// Reads `(sensor id, time)` of every sensor value in snapshots and deltas.
async fn observe(
    mut ws: tokio_tungstenite::WebSocketStream<
        tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>,
    >,
    stop: CancellationToken,
) -> anyhow::Result<HashMap<(String, i64), Instant>> {
    let mut seen = HashMap::new();
    loop {
        let msg = tokio::select! {
            _ = stop.cancelled() => break,
            m = ws.next() => m,
        };
        let Some(msg) = msg else { break };
        let tokio_tungstenite::tungstenite::Message::Text(text) = msg? else {
            continue;
        };
        let at = Instant::now();
        let v: serde_json::Value = serde_json::from_str(&text)?;
        for s in v["sensors"].as_array().into_iter().flatten() {
            let (Some(id), Some(time)) = (s["id"].as_str(), s["time"].as_str()) else {
                continue;
            };
            if let Some(t) = Timestamp::parse_rfc3339(time) {
                seen.entry((id.to_owned(), t.micros())).or_insert(at);
            }
        }
    }
    Ok(seen)
}

async fn sample_stored(
    client: reqwest::Client,
    http: String,
    stop: CancellationToken,
) -> Vec<(Instant, u64)> {
    let mut out = Vec::new();
    let mut tick = tokio::time::interval(Duration::from_millis(100));
    loop {
        tokio::select! {
            _ = stop.cancelled() => break,
            _ = tick.tick() => {}
        }
        if let Ok(n) = stored(&client, &http).await {
            out.push((Instant::now(), n));
        }
    }
    out
}

/// `cityops_readings_stored_total` from the Prometheus text.
async fn stored(client: &reqwest::Client, http: &str) -> anyhow::Result<u64> {
    let text = client
        .get(format!("{http}/metrics"))
        .send()
        .await?
        .error_for_status()?
        .text()
        .await?;
    Ok(text
        .lines()
        .filter(|l| l.starts_with("cityops_readings_stored_total"))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum::<f64>() as u64)
}
