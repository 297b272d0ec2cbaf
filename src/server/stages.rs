//! Each stage of `serve`, started on its own: what it needs in, what the next stages
//! need out, and how it stops. `server::start` calls them in order.

use super::STEP_DEADLINE;
use crate::clock::SharedClock;
use crate::config::{BrokerChoice, Config};
use crate::incidents::Incidents;
use crate::incidents::desk::Desk;
use crate::ingest::{Decoder, Limits, MqttIntake, TopicPattern};
use crate::live::{LiveEvent, LiveHandle, LiveHub};
use crate::pipeline::{Envelope, IngestStatus, ReloadRequest, RulesStage, Writer, WriterSettings};
use crate::spatial::City;
use crate::store::{self, SharedStore};
use anyhow::Context;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::{Notify, mpsc};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// A task and the token that asks it to stop.
pub(super) struct Task {
    pub stop: CancellationToken,
    pub task: JoinHandle<()>,
}

impl Task {
    pub(super) fn spawn<F>(run: impl FnOnce(CancellationToken) -> F) -> Self
    where
        F: std::future::Future<Output = ()> + Send + 'static,
    {
        let stop = CancellationToken::new();
        let task = tokio::spawn(run(stop.clone()));
        Self { stop, task }
    }

    /// Asks it to stop and waits, at most [`STEP_DEADLINE`].
    pub async fn stop(self) {
        self.stop.cancel();
        let _ = tokio::time::timeout(STEP_DEADLINE, self.task).await;
    }
}

/// The listeners, bound before anything else: a port that is taken stops the start
/// before a database is created or a broker started.
pub(super) struct Listeners {
    pub http: TcpListener,
    pub http_addr: SocketAddr,
    /// The embedded MQTT endpoint's listener.
    pub broker: Option<std::net::TcpListener>,
}

pub(super) async fn bind(config: &Config) -> anyhow::Result<Listeners> {
    let http = TcpListener::bind(config.http.listen)
        .await
        .with_context(|| format!("cannot listen for HTTP on {}", config.http.listen))?;
    let http_addr = http.local_addr()?;
    let broker = match config.broker()? {
        BrokerChoice::Embedded => {
            let addr = config.mqtt.embedded_listen;
            Some(
                std::net::TcpListener::bind(addr)
                    .with_context(|| format!("cannot listen for MQTT on {addr}"))?,
            )
        }
        BrokerChoice::External { .. } => None,
    };
    Ok(Listeners {
        http,
        http_addr,
        broker,
    })
}

pub(super) fn load_city(config: &Config) -> anyhow::Result<Arc<City>> {
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
    Ok(city)
}

/// Opens and migrates the database, registers the city in it and, for the demo, makes
/// sure its users exist (returning the ones created now, with their passwords).
pub(super) async fn open_store(
    config: &Config,
    data_dir: &Path,
    city: &City,
    clock: &SharedClock,
) -> anyhow::Result<(SharedStore, Vec<(String, String)>)> {
    std::fs::create_dir_all(data_dir)
        .with_context(|| format!("creating the data directory {}", data_dir.display()))?;
    let db_url = config.database_url(data_dir);
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
        crate::demo::ensure_users(&store, city, clock.as_ref())
            .await
            .context("creating the demo users")?
    } else {
        Vec::new()
    };
    Ok((store, demo_users))
}

/// Where intake and the simulator reach the broker.
pub(super) struct Broker {
    pub host: String,
    pub port: u16,
    /// The embedded broker's address, when it runs one.
    pub embedded: Option<SocketAddr>,
    /// The embedded endpoint's listener, until intake takes it.
    pub listener: Option<std::net::TcpListener>,
}

pub(super) fn start_broker(
    config: &Config,
    reserved: Option<std::net::TcpListener>,
) -> anyhow::Result<Broker> {
    Ok(match (reserved, config.broker()?) {
        (Some(reserved), _) => {
            let addr = reserved.local_addr()?;
            tracing::info!(%addr, "embedded MQTT endpoint listening");
            Broker {
                host: addr.ip().to_string(),
                port: addr.port(),
                embedded: Some(addr),
                listener: Some(reserved),
            }
        }
        (None, BrokerChoice::External { host, port }) => Broker {
            host,
            port,
            embedded: None,
            listener: None,
        },
        (None, BrokerChoice::Embedded) => {
            anyhow::bail!("the embedded broker's address was not reserved")
        }
    })
}

/// The live hub: its input, the handle `/ws` subscribes through, and its task.
pub(super) struct Live {
    pub tx: mpsc::Sender<LiveEvent>,
    pub handle: LiveHandle,
    pub hub: Task,
}

pub(super) async fn start_live(
    config: &Config,
    store: &SharedStore,
    city: &Arc<City>,
    clock: &SharedClock,
) -> anyhow::Result<Live> {
    let stop = CancellationToken::new();
    let (tx, handle, task) = LiveHub::start(
        store,
        city,
        clock.clone(),
        Duration::from_millis(config.live.tick_ms),
        config.live.history,
        config.live.client_queue,
        stop.clone(),
    )
    .await?;
    Ok(Live {
        tx,
        handle,
        hub: Task { stop, task },
    })
}

/// Ingest up to its queue: the decoder, the MQTT sessions (not yet running) and the
/// queue into the pipeline.
pub(super) struct Intake {
    pub decoder: Arc<Decoder>,
    pub status: Arc<IngestStatus>,
    pub tx: mpsc::Sender<Envelope>,
    pub rx: mpsc::Receiver<Envelope>,
    pub sessions: Vec<MqttIntake>,
    /// The embedded endpoint, when devices connect to cityops itself.
    pub endpoint: Option<(std::net::TcpListener, crate::endpoint::Settings)>,
}

pub(super) fn intake(
    config: &Config,
    city: &Arc<City>,
    clock: &SharedClock,
    broker: &mut Broker,
) -> anyhow::Result<Intake> {
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
    let passwords = match &config.mqtt.device_passwords {
        Some(path) if broker.listener.is_some() => {
            Some(Arc::new(crate::endpoint::DevicePasswords::load(path)?))
        }
        _ => None,
    };
    let endpoint = broker.listener.take().map(|l| {
        (
            l,
            crate::endpoint::Settings {
                max_packet_bytes: config.mqtt.max_packet_bytes,
                inflight: usize::from(config.mqtt.inflight),
                max_connections: config.mqtt.max_connections,
                command_prefix: "devices".into(),
                passwords,
            },
        )
    });
    let count = usize::from(config.intake_sessions());
    let status = IngestStatus::new(count);
    if endpoint.is_some() {
        status.set_broker(0, Ok(()));
    }
    // Bounded; a full queue makes intake wait (never drop), so the broker holds the rest.
    let (tx, rx) = mpsc::channel(config.ingest.queue_capacity);
    let sessions = (0..count)
        .map(|session| {
            MqttIntake::new(
                (session, count),
                &config.mqtt,
                &broker.host,
                broker.port,
                decoder.clone(),
                status.clone(),
                tx.clone(),
            )
        })
        .collect();
    Ok(Intake {
        decoder,
        status,
        tx,
        rx,
        sessions,
        endpoint,
    })
}

/// The dispatch desk, running: it files and dispatches what opens, and is woken for it.
pub(super) struct DeskStage {
    pub desk: Arc<Desk>,
    pub wake: Arc<Notify>,
    pub task: Task,
}

pub(super) fn start_desk(
    config: &Config,
    city: &City,
    incidents: &Incidents,
    clock: &SharedClock,
) -> anyhow::Result<DeskStage> {
    let desk = Arc::new(
        Desk::load(
            &config.rules.dir,
            city,
            i64::try_from(config.desk.reminder_minutes.saturating_mul(60_000_000))
                .unwrap_or(i64::MAX),
        )
        .context("loading the category catalog, routing and calendar")?,
    );
    let wake = Arc::new(Notify::new());
    let task = {
        let (desk, incidents, clock, wake) =
            (desk.clone(), incidents.clone(), clock.clone(), wake.clone());
        let scan = Duration::from_secs(config.desk.scan_secs);
        Task::spawn(move |stop| desk.run(incidents, clock, wake, scan, stop))
    };
    Ok(DeskStage { desk, wake, task })
}

/// The pipeline's writer, running, and its intake sessions feeding it.
pub(super) struct Pipeline {
    /// Asks the writer to write what is queued and return.
    pub stop: CancellationToken,
    /// Makes it return at once (what it did not write is not acknowledged).
    pub abort: CancellationToken,
    /// Fired when it has returned; intake sessions stop acknowledging then.
    pub done: CancellationToken,
    pub writer: JoinHandle<()>,
    pub intake_stop: CancellationToken,
    pub intake: JoinHandle<()>,
    /// Where reload requests go (admin API, SIGHUP).
    pub reload: mpsc::Sender<ReloadRequest>,
    /// The vital signs' stage, stopped after the writer (it takes the writer's last
    /// readings) and read by the API.
    pub indicators: Task,
    pub board: tokio::sync::watch::Receiver<Arc<crate::indicators::Board>>,
}

pub(super) struct PipelineInputs<'a> {
    pub config: &'a Config,
    pub city: &'a Arc<City>,
    pub store: &'a SharedStore,
    pub clock: &'a SharedClock,
    pub desk_wake: &'a Arc<Notify>,
    pub live: &'a mpsc::Sender<LiveEvent>,
    pub incidents: &'a Incidents,
    /// The city's local time (its calendar's), for the vital signs' "today".
    pub offset: chrono::FixedOffset,
}

/// Loads the rules, starts the vital signs, the writer on the intake queue, then the
/// intake sessions.
pub(super) async fn start_pipeline(
    i: PipelineInputs<'_>,
    sessions: Vec<MqttIntake>,
    endpoint: Option<(std::net::TcpListener, crate::endpoint::Settings)>,
    queue: (
        mpsc::Receiver<Envelope>,
        mpsc::Sender<Envelope>,
        Arc<crate::ingest::Decoder>,
    ),
    status: Arc<IngestStatus>,
) -> anyhow::Result<Pipeline> {
    let (queue, queue_tx, decoder) = queue;
    let endpoint_status = status.clone();
    let config = i.config;
    let rules = RulesStage::load(&config.rules, i.city.clone(), i.store, i.clock.now())
        .await
        .context("loading the rules")?;
    let indicators_stop = CancellationToken::new();
    let vital = crate::indicators::IndicatorStage::start(
        crate::indicators::stage::StageInputs {
            set: rules.rules().indicators.clone(),
            city: i.city.clone(),
            store: i.store.clone(),
            clock: i.clock.clone(),
            incidents: i.incidents.clone(),
            live: i.live.clone(),
            desk_wake: i.desk_wake.clone(),
            config: config.indicators.clone(),
            offset: i.offset,
        },
        indicators_stop.clone(),
    )
    .await
    .context("starting the vital signs")?;
    // Reload requests queue here; one at a time is plenty (a reload takes milliseconds).
    let (reload, reload_rx) = mpsc::channel(4);
    let writer = Writer {
        settings: WriterSettings {
            tick: Duration::from_millis(config.rules.tick_ms),
            batch_max: config.ingest.batch_max,
            linger: Duration::from_millis(config.ingest.batch_linger_ms),
            retry: Duration::from_millis(config.ingest.store_retry_ms),
            dead_letter_raw_bytes: config.ingest.dead_letter_raw_bytes,
        },
        store: i.store.clone(),
        clock: i.clock.clone(),
        rules,
        desk_wake: i.desk_wake.clone(),
        reload: reload_rx,
        status,
        mqtt: sessions.iter().map(MqttIntake::handle).collect(),
        live: i.live.clone(),
        incidents: i.incidents.clone(),
        indicators: Some(vital.input),
        board: Some(vital.board.clone()),
    };
    let (stop, abort, done) = (
        CancellationToken::new(),
        CancellationToken::new(),
        CancellationToken::new(),
    );
    let writer = {
        let (stop, abort, done) = (stop.clone(), abort.clone(), done.clone());
        tokio::spawn(async move {
            writer.run(queue, stop, abort).await;
            done.cancel();
        })
    };
    let intake_stop = CancellationToken::new();
    let intake = {
        let mut tasks: Vec<_> = sessions
            .into_iter()
            .map(|s| tokio::spawn(s.run(intake_stop.clone(), done.clone())))
            .collect();
        if let Some((listener, settings)) = endpoint {
            listener.set_nonblocking(true)?;
            let listener = TcpListener::from_std(listener)?;
            tasks.push(tokio::spawn(crate::endpoint::serve(
                listener,
                settings,
                decoder,
                queue_tx,
                endpoint_status,
                intake_stop.clone(),
            )));
        }
        tokio::spawn(async move {
            futures::future::join_all(tasks).await;
        })
    };
    Ok(Pipeline {
        stop,
        abort,
        done,
        writer,
        intake_stop,
        intake,
        reload,
        indicators: Task {
            stop: indicators_stop,
            task: vital.task,
        },
        board: vital.board,
    })
}

impl Pipeline {
    /// Stops intake, lets the writer write and acknowledge what is queued (or aborts it
    /// after [`STEP_DEADLINE`]: the broker redelivers what was not acknowledged).
    pub async fn stop(self) {
        self.intake_stop.cancel();
        self.stop.cancel();
        if tokio::time::timeout(STEP_DEADLINE, self.done.cancelled())
            .await
            .is_err()
        {
            tracing::warn!("the store did not take the last batch in time; it will be redelivered");
            self.abort.cancel();
        }
        let _ = self.writer.await;
        let _ = tokio::time::timeout(STEP_DEADLINE, self.intake).await;
        self.indicators.stop().await;
    }
}

/// The demo's simulator and crew (`serve --demo`), stopped together before the desk.
pub(super) struct Demo {
    stop: CancellationToken,
    tasks: Vec<JoinHandle<()>>,
}

pub(super) fn start_demo(
    config: &Config,
    city: &Arc<City>,
    broker: &Broker,
    desk: &Arc<Desk>,
    incidents: &Incidents,
    clock: &SharedClock,
) -> Demo {
    let stop = CancellationToken::new();
    let mut tasks = Vec::new();
    if config.demo.simulate {
        tasks.push(crate::demo::spawn_simulator(
            config,
            Arc::clone(city),
            &broker.host,
            broker.port,
            stop.clone(),
        ));
        if config.demo.crew {
            tasks.push(crate::demo::crew::spawn(
                &config.demo,
                Arc::clone(city),
                desk.clone(),
                incidents.clone(),
                clock.clone(),
                stop.clone(),
            ));
        }
    }
    Demo { stop, tasks }
}

impl Demo {
    pub async fn stop(self) {
        self.stop.cancel();
        for t in self.tasks {
            let _ = tokio::time::timeout(STEP_DEADLINE, t).await;
        }
    }
}
