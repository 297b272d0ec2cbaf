//! Wires the stages together (`serve`) and stops them in a fixed order:
//! stop intake → write what is queued (and acknowledge it) → stop the live hub →
//! close HTTP/WebSocket, each with a deadline.

use crate::broker::EmbeddedBroker;
use crate::clock::SharedClock;
use crate::config::{BrokerChoice, Config};
use crate::incidents::RulesStage;
use crate::incidents::desk::Desk;
use crate::ingest::{
    Decoder, IngestStatus, Limits, MqttIntake, TopicPattern, Writer, WriterSettings,
};
use crate::live::LiveHub;
use crate::spatial::City;
use crate::store;
use anyhow::Context;
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, OnceLock};
use std::time::Duration;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// How long each shutdown step may take before the next one goes ahead anyway.
const STEP_DEADLINE: Duration = Duration::from_secs(10);

/// What `serve` needs besides the config.
pub struct ServeOptions {
    pub config: Config,
    /// Where relative SQLite paths live.
    pub data_dir: PathBuf,
    pub clock: SharedClock,
}

/// A running server: its bound addresses and the means to stop it.
pub struct Running {
    pub http_addr: SocketAddr,
    /// The embedded broker's address, when it runs one.
    pub mqtt_addr: Option<SocketAddr>,
    /// Demo users created at this start, with their passwords (`serve --demo` only).
    pub demo_users: Vec<(String, String)>,
    pub shutdown: CancellationToken,
    task: JoinHandle<()>,
}

impl Running {
    /// Stops in order and waits until everything has stopped.
    pub async fn stop(self) {
        self.shutdown.cancel();
        let _ = self.task.await;
    }

    /// Waits until the server stops (after `shutdown` is cancelled).
    pub async fn wait(self) {
        let _ = self.task.await;
    }
}

/// How often histogram samples are drained into their summaries.
const METRICS_UPKEEP: std::time::Duration = std::time::Duration::from_secs(5);

fn metrics_handle() -> anyhow::Result<PrometheusHandle> {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    if let Some(h) = HANDLE.get() {
        return Ok(h.clone());
    }
    let h = PrometheusBuilder::new()
        .install_recorder()
        .context("installing the metrics recorder")?;
    // The recorder keeps every histogram sample until upkeep drains it into its summary;
    // rendering `/metrics` drains too, so without a scraper the samples piled up for as
    // long as the process ran (about 1 MB a minute at 10 000 readings/s). A thread of
    // its own, not a task, so no runtime's end can stop it.
    let upkeep = h.clone();
    std::thread::Builder::new()
        .name("metrics-upkeep".into())
        .spawn(move || {
            loop {
                std::thread::sleep(METRICS_UPKEEP);
                upkeep.run_upkeep();
            }
        })
        .context("starting the metrics upkeep thread")?;
    Ok(HANDLE.get_or_init(|| h).clone())
}

pub async fn start(opts: ServeOptions) -> anyhow::Result<Running> {
    let ServeOptions {
        config,
        data_dir,
        clock,
    } = opts;
    config.validate()?;
    crate::ingest::set_reject_log_rate(config.ingest.reject_log_per_sec);
    let metrics = metrics_handle()?;
    crate::ingest::register_metrics();

    // Listeners first: a port that is taken stops the start before a database is
    // created or a broker started.
    let listener = tokio::net::TcpListener::bind(config.http.listen)
        .await
        .with_context(|| format!("cannot listen for HTTP on {}", config.http.listen))?;
    let http_addr = listener.local_addr()?;
    let embedded = match config.broker()? {
        BrokerChoice::Embedded => Some(
            EmbeddedBroker {
                listen: config.mqtt.embedded_listen,
                max_packet_size: config.mqtt.max_packet_bytes,
                max_inflight: usize::from(config.mqtt.inflight),
            }
            .reserve()?,
        ),
        BrokerChoice::External { .. } => None,
    };

    let city = Arc::new(
        City::load(&config.city.dir)
            .with_context(|| format!("loading the city from {}", config.city.dir.display()))?,
    );
    let counts = city.counts();
    tracing::info!(
        city = city.name(),
        grids = counts.grids,
        sensors = counts.sensors,
        cameras = counts.cameras,
        "city loaded"
    );

    std::fs::create_dir_all(&data_dir)
        .with_context(|| format!("creating the data directory {}", data_dir.display()))?;
    let db_url = config.database_url(&data_dir);
    let store = store::open(&db_url, config.ingest.dead_letter_limit)
        .await
        .context("opening the database")?;
    let sensors: Vec<_> = city.sensors().map(|s| (**s).clone()).collect();
    let cameras: Vec<_> = city.cameras().map(|c| (**c).clone()).collect();
    store
        .register_city(&sensors, &cameras)
        .await
        .context("registering the city's sensors and cameras")?;
    tracing::info!(backend = store.backend(), "database ready");
    let demo_users = if config.demo.simulate {
        crate::demo::ensure_users(&store, &city, clock.as_ref())
            .await
            .context("creating the demo users")?
    } else {
        Vec::new()
    };

    let (host, port, mqtt_addr) = match (embedded, config.broker()?) {
        (Some(reserved), _) => {
            let addr = reserved.start()?;
            tracing::info!(%addr, "embedded MQTT broker listening");
            (addr.ip().to_string(), addr.port(), Some(addr))
        }
        (None, BrokerChoice::External { host, port }) => (host, port, None),
        (None, BrokerChoice::Embedded) => {
            anyhow::bail!("the embedded broker's address was not reserved")
        }
    };

    let shutdown = CancellationToken::new();
    let hub_stop = CancellationToken::new();
    let (live_tx, live, hub_task) = LiveHub::start(
        &store,
        &city,
        clock.clone(),
        Duration::from_millis(config.live.tick_ms),
        config.live.history,
        config.live.client_queue,
        hub_stop.clone(),
    )
    .await?;
    let incidents = crate::incidents::Incidents::new(store.clone(), live_tx.clone());

    let patterns = |list: &[String]| -> anyhow::Result<Vec<TopicPattern>> {
        list.iter()
            .map(|p| {
                TopicPattern::parse(p).map_err(|e| anyhow::anyhow!("topic pattern {p:?}: {e}"))
            })
            .collect()
    };
    let decoder = Arc::new(Decoder {
        city: city.clone(),
        limits: Limits::from_config(&config.ingest),
        clock: clock.clone(),
        sensor_patterns: patterns(&config.mqtt.sensor_topics)?,
        video_patterns: patterns(&config.mqtt.video_topics)?,
        dead_letter_raw_bytes: config.ingest.dead_letter_raw_bytes,
    });
    let sessions = usize::from(config.intake_sessions());
    let status = IngestStatus::new(sessions);
    let (ingest_tx, ingest_rx) = tokio::sync::mpsc::channel(config.ingest.queue_capacity);
    let intakes: Vec<MqttIntake> = (0..sessions)
        .map(|session| {
            MqttIntake::new(
                (session, sessions),
                &config.mqtt,
                &host,
                port,
                decoder.clone(),
                status.clone(),
                ingest_tx.clone(),
            )
        })
        .collect();
    let rules = RulesStage::load(&config.rules, city.clone(), &store, clock.now())
        .await
        .context("loading the rules")?;
    let desk = Arc::new(
        Desk::load(
            &config.rules.dir,
            &city,
            i64::try_from(config.desk.reminder_minutes.saturating_mul(60_000_000))
                .unwrap_or(i64::MAX),
        )
        .context("loading the category catalog, routing and calendar")?,
    );
    let desk_wake = Arc::new(tokio::sync::Notify::new());
    // Reload requests queue here; one at a time is plenty (a reload takes milliseconds).
    let (reload_tx, reload_rx) = tokio::sync::mpsc::channel(4);
    let desk_stop = CancellationToken::new();
    let desk_task = tokio::spawn(desk.clone().run(
        incidents.clone(),
        clock.clone(),
        desk_wake.clone(),
        Duration::from_secs(config.desk.scan_secs),
        desk_stop.clone(),
    ));
    let writer = Writer {
        settings: WriterSettings {
            tick: Duration::from_millis(config.rules.tick_ms),
            batch_max: config.ingest.batch_max,
            linger: Duration::from_millis(config.ingest.batch_linger_ms),
            retry: Duration::from_millis(config.ingest.store_retry_ms),
            dead_letter_raw_bytes: config.ingest.dead_letter_raw_bytes,
        },
        store: store.clone(),
        clock: clock.clone(),
        rules,
        desk_wake: desk_wake.clone(),
        reload: reload_rx,
        status: status.clone(),
        mqtt: intakes.iter().map(MqttIntake::handle).collect(),
        live: live_tx.clone(),
        incidents: incidents.clone(),
    };
    let intake_stop = CancellationToken::new();
    let writer_stop = CancellationToken::new();
    let writer_abort = CancellationToken::new();
    let writer_done = CancellationToken::new();
    let writer_task = {
        let (stop, abort, done) = (
            writer_stop.clone(),
            writer_abort.clone(),
            writer_done.clone(),
        );
        tokio::spawn(async move {
            writer.run(ingest_rx, stop, abort).await;
            done.cancel();
        })
    };
    let intake_task = {
        let tasks: Vec<_> = intakes
            .into_iter()
            .map(|i| tokio::spawn(i.run(intake_stop.clone(), writer_done.clone())))
            .collect();
        futures::future::join_all(tasks)
    };

    let auth = Arc::new(crate::auth::Auth::new(
        store.clone(),
        clock.clone(),
        &config.auth,
    ));
    let reports = Arc::new(
        crate::incidents::reports::Reports::new(
            &city,
            &config.reports,
            &data_dir,
            desk_wake.clone(),
        )
        .context("creating the photo directory")?,
    );
    let state = crate::api::AppState {
        auth,
        store: store.clone(),
        city: city.clone(),
        live,
        status,
        decoder,
        ingest: ingest_tx,
        reload: reload_tx.clone(),
        desk: desk.clone(),
        clock: clock.clone(),
        incidents: incidents.clone(),
        reports,
        metrics,
        max_body_bytes: config
            .http
            .max_body_bytes
            .max(config.ingest.max_payload_bytes),
    };
    tracing::info!(%http_addr, "HTTP listening");
    let http_stop = CancellationToken::new();
    let http_task = {
        let stop = http_stop.clone();
        let app = crate::api::router(state);
        let http = config.http.clone();
        tokio::spawn(async move { crate::api::serve(listener, app, &http, stop).await })
    };

    let hup_task = tokio::spawn(reload_on_sighup(reload_tx, http_stop.clone()));

    let sim_stop = CancellationToken::new();
    let sim_task = if config.demo.simulate {
        Some(crate::demo::spawn_simulator(
            &config,
            Arc::clone(&city),
            &host,
            port,
            sim_stop.clone(),
        ))
    } else {
        None
    };

    // The demo's people; stopped with the simulator, before the desk.
    let crew_task = (config.demo.simulate && config.demo.crew).then(|| {
        crate::demo::crew::spawn(
            &config.demo,
            Arc::clone(&city),
            desk.clone(),
            incidents.clone(),
            clock.clone(),
            sim_stop.clone(),
        )
    });

    let task = {
        let shutdown = shutdown.clone();
        tokio::spawn(async move {
            shutdown.cancelled().await;
            tracing::info!("shutting down");
            sim_stop.cancel();
            if let Some(t) = sim_task {
                let _ = tokio::time::timeout(STEP_DEADLINE, t).await;
            }
            if let Some(t) = crew_task {
                let _ = tokio::time::timeout(STEP_DEADLINE, t).await;
            }
            desk_stop.cancel();
            let _ = tokio::time::timeout(STEP_DEADLINE, desk_task).await;
            intake_stop.cancel();
            writer_stop.cancel();
            if tokio::time::timeout(STEP_DEADLINE, writer_done.cancelled())
                .await
                .is_err()
            {
                tracing::warn!(
                    "the store did not take the last batch in time; it will be redelivered"
                );
                writer_abort.cancel();
            }
            let _ = writer_task.await;
            let _ = tokio::time::timeout(STEP_DEADLINE, intake_task).await;
            hub_stop.cancel();
            let _ = tokio::time::timeout(STEP_DEADLINE, hub_task).await;
            http_stop.cancel();
            let _ = tokio::time::timeout(STEP_DEADLINE, http_task).await;
            let _ = hup_task.await;
            tracing::info!("stopped");
        })
    };
    Ok(Running {
        http_addr,
        mqtt_addr,
        demo_users,
        shutdown,
        task,
    })
}

/// Reloads the rules on SIGHUP until `stop`; the outcome or the errors go to the log.
async fn reload_on_sighup(
    reload: tokio::sync::mpsc::Sender<crate::ingest::ReloadRequest>,
    stop: CancellationToken,
) {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let Ok(mut hup) = signal(SignalKind::hangup()) else {
            return;
        };
        loop {
            tokio::select! {
                _ = stop.cancelled() => return,
                Some(()) = hup.recv() => {}
            }
            let (tx, rx) = tokio::sync::oneshot::channel();
            if reload.send(tx).await.is_err() {
                return;
            }
            match rx.await {
                Ok(Ok(o)) => tracing::info!(
                    rules = o.rules,
                    unchanged = o.unchanged,
                    "SIGHUP: rules reloaded"
                ),
                Ok(Err(e)) => {
                    tracing::error!("SIGHUP: rules not reloaded, the running set stays:\n{e}")
                }
                Err(_) => return,
            }
        }
    }
    #[cfg(not(unix))]
    stop.cancelled().await;
}
