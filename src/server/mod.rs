//! Wires the stages together (`serve`) and stops them in a fixed order:
//! stop intake → write what is queued (and acknowledge it) → stop the live hub →
//! close HTTP/WebSocket, each with a deadline.

mod metrics;
mod signals;
mod stages;

use crate::clock::SharedClock;
use crate::config::Config;
use crate::incidents::Incidents;
use anyhow::Context;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
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

/// Starts every stage in order: listeners, the city, the store, the broker, the live
/// hub, the incidents handle, intake, the desk, the pipeline, HTTP, the demo. What fails
/// stops the start with the reason; nothing started before it keeps running for long
/// (dropping the tokens' tasks ends with the runtime).
pub async fn start(opts: ServeOptions) -> anyhow::Result<Running> {
    let ServeOptions {
        config,
        data_dir,
        clock,
    } = opts;
    config.validate()?;
    crate::ingest::set_reject_log_rate(config.ingest.reject_log_per_sec);
    let metrics = metrics::handle()?;
    crate::ingest::register_metrics();

    let listeners = stages::bind(&config).await?;
    let http_addr = listeners.http_addr;
    let city = stages::load_city(&config)?;
    let (store, demo_users) = stages::open_store(&config, &data_dir, &city, &clock).await?;
    let mut broker = stages::start_broker(&config, listeners.broker)?;
    let live = stages::start_live(&config, &store, &city, &clock).await?;
    let incidents = Incidents::new(store.clone(), live.tx.clone());
    let intake = stages::intake(&config, &city, &clock, &mut broker)?;
    let desk = stages::start_desk(&config, &city, &incidents, &clock)?;
    let pipeline = stages::start_pipeline(
        stages::PipelineInputs {
            config: &config,
            city: &city,
            store: &store,
            clock: &clock,
            desk_wake: &desk.wake,
            live: &live.tx,
            incidents: &incidents,
            offset: desk.desk.calendar.utc_offset(),
        },
        intake.sessions,
        intake.endpoint,
        (intake.rx, intake.tx.clone(), intake.decoder.clone()),
        intake.status.clone(),
    )
    .await?;

    let state = crate::api::AppState {
        auth: Arc::new(crate::auth::Auth::new(
            store.clone(),
            clock.clone(),
            &config.auth,
        )),
        store: store.clone(),
        city: city.clone(),
        live: live.handle,
        status: intake.status,
        decoder: intake.decoder,
        ingest: intake.tx,
        reload: pipeline.reload.clone(),
        desk: desk.desk.clone(),
        clock: clock.clone(),
        incidents: incidents.clone(),
        indicators: pipeline.board.clone(),
        reports: Arc::new(
            crate::incidents::reports::Reports::new(
                &city,
                &config.reports,
                &data_dir,
                desk.wake.clone(),
            )
            .context("creating the photo directory")?,
        ),
        metrics,
        max_body_bytes: config
            .http
            .max_body_bytes
            .max(config.ingest.max_payload_bytes),
    };
    tracing::info!(%http_addr, "HTTP listening");
    let http = {
        let (app, settings, listener) = (
            crate::api::router(state),
            config.http.clone(),
            listeners.http,
        );
        stages::Task::spawn(move |stop| async move {
            crate::api::serve(listener, app, &settings, stop).await
        })
    };
    let hup = tokio::spawn(signals::reload_on_sighup(
        pipeline.reload.clone(),
        http.stop.clone(),
    ));
    let demo = stages::start_demo(&config, &city, &broker, &desk.desk, &incidents, &clock);

    let shutdown = CancellationToken::new();
    let task = {
        let shutdown = shutdown.clone();
        tokio::spawn(async move {
            shutdown.cancelled().await;
            tracing::info!("shutting down");
            demo.stop().await;
            desk.task.stop().await;
            pipeline.stop().await;
            live.hub.stop().await;
            http.stop().await;
            let _ = hup.await;
            tracing::info!("stopped");
        })
    };
    Ok(Running {
        http_addr,
        mqtt_addr: broker.embedded,
        demo_users,
        shutdown,
        task,
    })
}
