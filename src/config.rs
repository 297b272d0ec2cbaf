//! The one typed configuration: embedded defaults, then a TOML file, then `CITYOPS_*`
//! environment variables, then command-line flags.
//!
//! Every key is documented in `cityops.example.toml`. Unknown keys and bad values are
//! errors naming the key. Environment variables are `CITYOPS_<SECTION>_<KEY>` (section
//! names have no underscore, so `CITYOPS_INGEST_MAX_PAYLOAD_BYTES` is
//! `ingest.max_payload_bytes`); values are read as TOML values, falling back to strings.

use serde::{Deserialize, Serialize};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("config file {path}: {message}")]
    File { path: PathBuf, message: String },
    #[error("environment variable {var}: {message}")]
    Env { var: String, message: String },
    #[error("invalid configuration: {0}")]
    Invalid(String),
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    pub http: HttpConfig,
    pub mqtt: MqttConfig,
    pub database: DatabaseConfig,
    pub ingest: IngestConfig,
    pub city: CityConfig,
    pub live: LiveConfig,
    pub demo: DemoConfig,
    pub rules: RulesConfig,
    pub auth: AuthConfig,
    pub desk: DeskConfig,
    pub reports: ReportsConfig,
}

/// People's reports and their photos (`incidents::reports`, docs/reports.md).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ReportsConfig {
    /// Directory the uploaded photos are stored in; a relative path is taken under the
    /// data directory (`serve --data`, so `data/photos` by default).
    pub photo_dir: PathBuf,
    /// Largest photo accepted, in bytes; a larger one is refused with 413.
    pub max_photo_bytes: usize,
    /// Most photos one incident may have.
    pub max_photos: u32,
}

impl Default for ReportsConfig {
    fn default() -> Self {
        Self {
            photo_dir: PathBuf::from("photos"),
            max_photo_bytes: 8 << 20,
            max_photos: 6,
        }
    }
}

impl ReportsConfig {
    /// The photo directory, with a relative path placed under `data_dir`.
    pub fn photo_dir(&self, data_dir: &Path) -> PathBuf {
        if self.photo_dir.is_absolute() {
            self.photo_dir.clone()
        } else {
            data_dir.join(&self.photo_dir)
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DeskConfig {
    /// How often the dispatch desk looks for incidents to file and dispatch by itself
    /// and for overdue ones to escalate (督办), in seconds. New incidents wake it at once.
    pub scan_secs: u64,
    /// After an overdue incident is escalated, the next reminder (and escalation level)
    /// comes this many minutes later while nobody moves it.
    pub reminder_minutes: u64,
}

impl Default for DeskConfig {
    fn default() -> Self {
        Self {
            scan_secs: 10,
            reminder_minutes: 60,
        }
    }
}

/// Logins and sessions (`src/auth`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AuthConfig {
    /// A session ends after this many hours without use; each use slides it forward.
    /// Fractions are allowed (0.5 = 30 minutes).
    pub session_hours: f64,
    /// Mark the session cookie `Secure` (sent over HTTPS only). Off by default so the
    /// embedded demo works on plain http; set it to true behind TLS.
    pub cookie_secure: bool,
    /// Page origins (`https://wall.example.org`) allowed to open `/ws` besides the
    /// server's own host.
    pub allowed_origins: Vec<String>,
    /// Failed logins per user name within 5 minutes before further attempts get 429.
    /// A client address may fail four times as often (a command hall behind one NAT).
    pub login_failures_per_5min: u32,
}

impl Default for AuthConfig {
    fn default() -> Self {
        Self {
            session_hours: 12.0,
            cookie_secure: false,
            allowed_origins: Vec::new(),
            login_failures_per_5min: 5,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RulesConfig {
    /// Directory of the rule files (`*.rules.toml`) and the city's settings
    /// (`settings.toml`); see docs/rules.md.
    pub dir: PathBuf,
    /// How far behind its sensor's newest reading a reading may arrive and still count
    /// (as history: rate windows, evidence). Later ones are counted and dropped.
    pub lateness_ms: u64,
    /// How often the timers run (`for:`, grace periods, absence), in milliseconds.
    pub tick_ms: u64,
}

impl Default for RulesConfig {
    fn default() -> Self {
        Self {
            dir: PathBuf::from("rules"),
            lateness_ms: 30_000,
            tick_ms: 1000,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HttpConfig {
    /// Address of the HTTP/WebSocket server; port 0 picks a free one (logged).
    pub listen: SocketAddr,
    /// Largest request body accepted, in bytes.
    pub max_body_bytes: usize,
    /// A client must send a request's headers within this time of starting them (or of
    /// the previous response, on a kept-alive connection); else the connection is closed.
    /// Slow-header clients (slowloris) cannot hold connections open.
    pub header_read_timeout_ms: u64,
    /// Longest pause between two pieces of a request body; a body that stalls longer is
    /// answered with 408 and the connection closed.
    pub body_idle_timeout_ms: u64,
    /// Longest time a whole request body may take to arrive, however steadily it
    /// trickles; past it the request is answered with 408. Large enough for the largest
    /// photo (`reports.max_photo_bytes`) on a slow mobile link.
    pub body_read_timeout_ms: u64,
    /// Most connections served at once (WebSocket clients included). Past it, new
    /// connections wait in the listen backlog until one closes.
    pub max_connections: usize,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MqttConfig {
    /// `embedded` runs the in-process broker; `mqtt://host:port` uses an external one.
    pub broker: String,
    /// Listener of the embedded broker; port 0 picks a free one (logged).
    pub embedded_listen: SocketAddr,
    /// Client id of the ingest session. The session is persistent (clean session off),
    /// so it must be stable across restarts and unique per node.
    pub client_id: String,
    pub username: Option<String>,
    pub password: Option<String>,
    /// Topic patterns carrying sensor payloads; `{sensor_id}` names the sensor.
    pub sensor_topics: Vec<String>,
    /// Topic patterns carrying video-AI alerts; `{camera_id}` names the camera.
    pub video_topics: Vec<String>,
    pub keep_alive_secs: u64,
    /// Most unacknowledged QoS 1 messages the broker may send us at once. Acks wait
    /// for the store, so this bounds what is held in memory and caps throughput.
    pub inflight: u16,
    /// Parallel intake sessions sharing the subscriptions (`$share/<client_id>-<n>/...`).
    /// Each may have `inflight` messages outstanding, so more sessions mean bigger
    /// batches under load (the embedded broker allows only 100 per session). The first
    /// session's client id is `client_id`, the others `client_id-1`, `client_id-2`, ...
    /// 0 = automatic: 16 on the embedded broker, 8 on an external one.
    pub sessions: u16,
    /// Reconnect backoff: first delay and ceiling, in milliseconds.
    pub reconnect_min_ms: u64,
    pub reconnect_max_ms: u64,
    /// Largest MQTT packet, in bytes: the embedded broker's listener refuses (disconnects)
    /// a client sending a larger one, counted in `cityops_mqtt_refused_total`; the ingest
    /// session accepts packets this size (plus a topic) from any broker. Must be above
    /// `ingest.max_payload_bytes`, so that everything in between reaches ingest and is
    /// dead-lettered as `oversize`. An external broker's own limit must not exceed it
    /// (Mosquitto: `max_packet_size`).
    pub max_packet_bytes: usize,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DatabaseConfig {
    /// `sqlite://PATH` (relative paths under the data dir) or `postgres://...`.
    pub url: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct IngestConfig {
    /// Larger payloads are rejected as `oversize` (the first bytes are dead-lettered).
    pub max_payload_bytes: usize,
    /// Most records in one SenML pack.
    pub max_records: usize,
    /// How far ahead of the clock a timestamp may be.
    pub max_future_secs: u64,
    /// How far behind the clock a timestamp may be.
    pub max_past_secs: u64,
    /// A batch is written when it holds this many readings...
    pub batch_max: usize,
    /// ...or when its first message has waited this long. 0 writes as soon as the queue
    /// runs dry: batches then grow with the load, and a quiet system writes at once.
    pub batch_linger_ms: u64,
    /// Capacity of the queue between decoding and the batch writer. When full, intake
    /// waits (and stops acknowledging), it never drops.
    pub queue_capacity: usize,
    /// Dead-letter rows kept; older ones are dropped.
    pub dead_letter_limit: u32,
    /// Bytes of a rejected payload kept in its dead letter.
    pub dead_letter_raw_bytes: usize,
    /// Rejections logged per second at most (all are counted).
    pub reject_log_per_sec: u32,
    /// Delay between retries of a batch the store could not take.
    pub store_retry_ms: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CityConfig {
    /// Directory holding the city in the format of `docs/city-format.md`.
    pub dir: PathBuf,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LiveConfig {
    /// Sensor values are conflated to the latest per sensor and metric per tick.
    pub tick_ms: u64,
    /// Deltas kept for clients resuming after a reconnect.
    pub history: usize,
    /// Messages queued per WebSocket client; a client further behind is resynchronised
    /// from a snapshot.
    pub client_queue: usize,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DemoConfig {
    /// Run the simulator in-process, feeding the city's sensors to the broker.
    pub simulate: bool,
    /// Readings per second the simulator publishes.
    pub rate: f64,
    /// Video alerts per minute.
    pub alerts_per_min: f64,
    /// Chance per reading that its sensor starts an anomaly (a few readings above the
    /// alarm levels), so the demo raises and clears incidents.
    pub anomaly_rate: f64,
    pub seed: u64,
    /// Play the center, the departments and the grid workers (`demo::crew`): incidents
    /// go round the closed loop at the pace below, so the open count levels off.
    pub crew: bool,
    /// Seconds between the crew's rounds on the server's clock.
    pub crew_tick_secs: u64,
    /// Mean minutes the center takes to file and dispatch what the desk leaves to it.
    pub dispatch_minutes: f64,
    /// Mean minutes a department takes to acknowledge (签收) a dispatch.
    pub acknowledge_minutes: f64,
    /// Mean minutes from acknowledging (or a rework) to starting on site.
    pub start_minutes: f64,
    /// Mean minutes of handling before the department feeds back (反馈).
    pub handle_minutes: f64,
    /// Mean minutes until a grid worker (or the center) verifies (核查) the feedback.
    pub verify_minutes: f64,
    /// Mean minutes from verified to closed (结案).
    pub close_minutes: f64,
    /// Chance a department acknowledges or feeds back after its due time.
    pub late_rate: f64,
    /// Chance a department returns (退回) a dispatch that routing could give another.
    pub return_rate: f64,
    /// Chance a verification sends the case back for rework (返工).
    pub rework_rate: f64,
}

impl Default for HttpConfig {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            max_body_bytes: 1 << 20,
            header_read_timeout_ms: 10_000,
            body_idle_timeout_ms: 10_000,
            body_read_timeout_ms: 120_000,
            max_connections: 1024,
        }
    }
}

impl Default for MqttConfig {
    fn default() -> Self {
        Self {
            broker: "embedded".into(),
            embedded_listen: SocketAddr::from(([127, 0, 0, 1], 1883)),
            client_id: "cityops-ingest".into(),
            username: None,
            password: None,
            sensor_topics: vec![
                "city/{district}/sensors/{sensor_id}".into(),
                "city/packs/{pack}".into(),
            ],
            video_topics: vec!["city/{district}/video/{camera_id}".into()],
            keep_alive_secs: 30,
            inflight: 1000,
            sessions: 0,
            reconnect_min_ms: 200,
            reconnect_max_ms: 10_000,
            max_packet_bytes: 1 << 20,
        }
    }
}

impl Default for DatabaseConfig {
    fn default() -> Self {
        Self {
            url: "sqlite://cityops.db".into(),
        }
    }
}

impl Default for IngestConfig {
    fn default() -> Self {
        Self {
            max_payload_bytes: 64 * 1024,
            max_records: 1000,
            max_future_secs: 300,
            max_past_secs: 7 * 24 * 3600,
            batch_max: 2000,
            batch_linger_ms: 0,
            queue_capacity: 20_000,
            dead_letter_limit: 10_000,
            dead_letter_raw_bytes: 4096,
            reject_log_per_sec: 5,
            store_retry_ms: 500,
        }
    }
}

impl Default for CityConfig {
    fn default() -> Self {
        Self {
            dir: PathBuf::from("city/demo"),
        }
    }
}

impl Default for LiveConfig {
    fn default() -> Self {
        Self {
            tick_ms: 250,
            history: 1024,
            client_queue: 256,
        }
    }
}

impl Default for DemoConfig {
    fn default() -> Self {
        Self {
            simulate: false,
            rate: 500.0,
            alerts_per_min: 6.0,
            anomaly_rate: 0.0001,
            seed: 7,
            crew: true,
            crew_tick_secs: 10,
            dispatch_minutes: 2.0,
            acknowledge_minutes: 5.0,
            start_minutes: 3.0,
            handle_minutes: 15.0,
            verify_minutes: 6.0,
            close_minutes: 2.0,
            late_rate: 0.08,
            return_rate: 0.05,
            rework_rate: 0.08,
        }
    }
}

/// Where the broker is, decided by `mqtt.broker`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BrokerChoice {
    Embedded,
    External { host: String, port: u16 },
}

impl Config {
    /// Defaults, overlaid by the TOML file (if any), then by `env` (`CITYOPS_*` pairs).
    pub fn load(
        file: Option<&Path>,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Self, ConfigError> {
        let mut table = match file {
            Some(path) => {
                let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
                    path: path.to_owned(),
                    source,
                })?;
                let table: toml::Table = toml::from_str(&text).map_err(|e| ConfigError::File {
                    path: path.to_owned(),
                    message: e.to_string(),
                })?;
                // Type-check the file alone first so its errors carry its line numbers.
                toml::from_str::<Config>(&text).map_err(|e| ConfigError::File {
                    path: path.to_owned(),
                    message: e.to_string(),
                })?;
                table
            }
            None => toml::Table::new(),
        };
        for (var, value) in env {
            let Some(rest) = var.strip_prefix("CITYOPS_") else {
                continue;
            };
            let lower = rest.to_ascii_lowercase();
            let Some((section, key)) = lower.split_once('_') else {
                return Err(ConfigError::Env {
                    var,
                    message: "expected CITYOPS_<SECTION>_<KEY>".into(),
                });
            };
            let parsed = parse_env_value(&value);
            let entry = table
                .entry(section.to_owned())
                .or_insert_with(|| toml::Value::Table(toml::Table::new()));
            let Some(section_table) = entry.as_table_mut() else {
                return Err(ConfigError::Env {
                    var,
                    message: format!("[{section}] is not a section"),
                });
            };
            section_table.insert(key.to_owned(), parsed);
            // Check after each variable so the error names the variable that broke it.
            toml::Value::Table(table.clone())
                .try_into::<Config>()
                .map_err(|e| ConfigError::Env {
                    var: var.clone(),
                    message: e.to_string().trim().to_owned(),
                })?;
        }
        let config: Config = toml::Value::Table(table)
            .try_into()
            .map_err(|e: toml::de::Error| ConfigError::Invalid(e.to_string()))?;
        config.validate()?;
        Ok(config)
    }

    /// Checks what types alone cannot: ranges, patterns, the broker URL.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let bad = |key: &str, why: &str| Err(ConfigError::Invalid(format!("{key}: {why}")));
        self.broker()?;
        if self.mqtt.client_id.is_empty() {
            return bad("mqtt.client_id", "must not be empty");
        }
        if self.mqtt.sensor_topics.is_empty() {
            return bad("mqtt.sensor_topics", "at least one pattern is needed");
        }
        for (key, patterns) in [
            ("mqtt.sensor_topics", &self.mqtt.sensor_topics),
            ("mqtt.video_topics", &self.mqtt.video_topics),
        ] {
            for p in patterns {
                if let Err(e) = crate::ingest::TopicPattern::parse(p) {
                    return bad(key, &format!("{p:?}: {e}"));
                }
            }
        }
        if self.mqtt.inflight == 0 {
            return bad("mqtt.inflight", "must be at least 1");
        }
        if self.mqtt.sessions > 64 {
            return bad("mqtt.sessions", "must be between 0 (automatic) and 64");
        }
        if self.mqtt.reconnect_min_ms == 0
            || self.mqtt.reconnect_max_ms < self.mqtt.reconnect_min_ms
        {
            return bad(
                "mqtt.reconnect_min_ms",
                "must be > 0 and not above mqtt.reconnect_max_ms",
            );
        }
        self.validate_http()?;
        let i = &self.ingest;
        if i.max_payload_bytes == 0 || i.max_payload_bytes > 16 << 20 {
            return bad("ingest.max_payload_bytes", "must be between 1 and 16 MiB");
        }
        if self.mqtt.max_packet_bytes <= i.max_payload_bytes
            || self.mqtt.max_packet_bytes > MAX_MQTT_PACKET
        {
            return bad(
                "mqtt.max_packet_bytes",
                "must be above ingest.max_payload_bytes (so oversize payloads reach ingest and are dead-lettered) and at most 256 MiB",
            );
        }
        if i.queue_capacity < usize::from(self.mqtt.inflight) * usize::from(self.intake_sessions())
        {
            return bad(
                "ingest.queue_capacity",
                "must be at least mqtt.inflight × mqtt.sessions, or intake and acknowledgements could wait on each other",
            );
        }
        if i.batch_max == 0 || i.queue_capacity == 0 || i.max_records == 0 {
            return bad(
                "ingest.batch_max",
                "batch_max, queue_capacity and max_records must be at least 1",
            );
        }
        if self.live.tick_ms == 0 || self.live.client_queue == 0 {
            return bad(
                "live.tick_ms",
                "tick_ms and client_queue must be at least 1",
            );
        }
        if !(self.demo.rate.is_finite() && self.demo.rate >= 0.0) {
            return bad("demo.rate", "must be a finite number >= 0");
        }
        if !(self.demo.alerts_per_min.is_finite() && self.demo.alerts_per_min >= 0.0) {
            return bad("demo.alerts_per_min", "must be a finite number >= 0");
        }
        if !(0.0..=1.0).contains(&self.demo.anomaly_rate) {
            return bad("demo.anomaly_rate", "must be between 0 and 1");
        }
        let d = &self.demo;
        for (key, rate) in [
            ("demo.late_rate", d.late_rate),
            ("demo.return_rate", d.return_rate),
            ("demo.rework_rate", d.rework_rate),
        ] {
            if !(0.0..=1.0).contains(&rate) {
                return bad(key, "must be between 0 and 1");
            }
        }
        for (key, minutes) in [
            ("demo.dispatch_minutes", d.dispatch_minutes),
            ("demo.acknowledge_minutes", d.acknowledge_minutes),
            ("demo.start_minutes", d.start_minutes),
            ("demo.handle_minutes", d.handle_minutes),
            ("demo.verify_minutes", d.verify_minutes),
            ("demo.close_minutes", d.close_minutes),
        ] {
            if !(minutes.is_finite() && minutes >= 0.0) {
                return bad(key, "must be a finite number of minutes >= 0");
            }
        }
        if d.crew_tick_secs == 0 {
            return bad("demo.crew_tick_secs", "must be at least 1");
        }
        if self.desk.scan_secs == 0 || self.desk.reminder_minutes == 0 {
            return bad(
                "desk.scan_secs",
                "scan_secs and reminder_minutes must be at least 1",
            );
        }
        if self.rules.tick_ms == 0 {
            return bad("rules.tick_ms", "must be at least 1");
        }
        if self.reports.max_photo_bytes == 0 || self.reports.max_photo_bytes > 64 << 20 {
            return bad("reports.max_photo_bytes", "must be between 1 and 64 MiB");
        }
        if self.reports.max_photos == 0 || self.reports.max_photos > 100 {
            return bad("reports.max_photos", "must be between 1 and 100");
        }
        if self.reports.photo_dir.as_os_str().is_empty() {
            return bad("reports.photo_dir", "must not be empty");
        }
        self.validate_auth()?;
        if !(self.database.url.starts_with("sqlite:")
            || self.database.url.starts_with("postgres:")
            || self.database.url.starts_with("postgresql:"))
        {
            return bad(
                "database.url",
                "must start with sqlite:, postgres: or postgresql:",
            );
        }
        Ok(())
    }

    fn validate_http(&self) -> Result<(), ConfigError> {
        let bad = |key: &str, why: &str| Err(ConfigError::Invalid(format!("{key}: {why}")));
        let h = &self.http;
        for (key, ms) in [
            ("http.header_read_timeout_ms", h.header_read_timeout_ms),
            ("http.body_idle_timeout_ms", h.body_idle_timeout_ms),
            ("http.body_read_timeout_ms", h.body_read_timeout_ms),
        ] {
            if ms == 0 || ms > 3_600_000 {
                return bad(key, "must be between 1 and 3600000 (an hour)");
            }
        }
        if h.body_idle_timeout_ms > h.body_read_timeout_ms {
            return bad(
                "http.body_idle_timeout_ms",
                "must not be above http.body_read_timeout_ms",
            );
        }
        if h.max_connections == 0 || h.max_connections > 1 << 20 {
            return bad("http.max_connections", "must be between 1 and 1048576");
        }
        Ok(())
    }

    fn validate_auth(&self) -> Result<(), ConfigError> {
        let bad = |key: &str, why: &str| Err(ConfigError::Invalid(format!("{key}: {why}")));
        let hours = self.auth.session_hours;
        if !(hours.is_finite() && hours * 3600.0 >= 1.0 && hours <= 8760.0) {
            return bad(
                "auth.session_hours",
                "must be between 1 second (0.0003) and 8760 (a year)",
            );
        }
        if self.auth.login_failures_per_5min == 0 {
            return bad("auth.login_failures_per_5min", "must be at least 1");
        }
        for origin in &self.auth.allowed_origins {
            if !valid_origin(origin) {
                return bad(
                    "auth.allowed_origins",
                    &format!("{origin:?}: expected scheme://host[:port], without a path"),
                );
            }
        }
        Ok(())
    }

    /// How many intake sessions to run (`mqtt.sessions`, or its automatic value).
    pub fn intake_sessions(&self) -> u16 {
        match (self.mqtt.sessions, self.mqtt.broker.trim() == "embedded") {
            (0, true) => 16,
            (0, false) => 8,
            (n, _) => n,
        }
    }

    pub fn broker(&self) -> Result<BrokerChoice, ConfigError> {
        let b = self.mqtt.broker.trim();
        if b == "embedded" {
            return Ok(BrokerChoice::Embedded);
        }
        let err = || {
            ConfigError::Invalid(format!(
                "mqtt.broker: expected \"embedded\" or \"mqtt://host:port\", got {b:?}"
            ))
        };
        let rest = b
            .strip_prefix("mqtt://")
            .or_else(|| b.strip_prefix("tcp://"));
        let rest = rest.ok_or_else(err)?;
        let (host, port) = match rest.rsplit_once(':') {
            Some((h, p)) => (h, p.parse::<u16>().map_err(|_| err())?),
            None => (rest, 1883),
        };
        if host.is_empty() {
            return Err(err());
        }
        Ok(BrokerChoice::External {
            host: host.trim_matches(['[', ']']).to_owned(),
            port,
        })
    }

    /// The database URL with a relative SQLite path placed under `data_dir`.
    pub fn database_url(&self, data_dir: &Path) -> String {
        let url = &self.database.url;
        match url.strip_prefix("sqlite://") {
            Some(path) if !path.starts_with('/') && !path.starts_with(':') => {
                format!("sqlite://{}", data_dir.join(path).display())
            }
            _ => url.clone(),
        }
    }
}

/// MQTT's own ceiling: the largest remaining length a fixed header can state.
pub const MAX_MQTT_PACKET: usize = 268_435_455;

/// `http://host[:port]` or `https://host[:port]`, as a browser sends it in `Origin`.
fn valid_origin(origin: &str) -> bool {
    let rest = origin
        .strip_prefix("https://")
        .or_else(|| origin.strip_prefix("http://"));
    rest.is_some_and(|host| {
        !host.is_empty() && !host.contains(['/', '?', '#', '@', ' ']) && !host.ends_with(':')
    })
}

fn parse_env_value(raw: &str) -> toml::Value {
    // `key = <raw>` parses numbers, booleans, arrays and quoted strings as TOML does;
    // anything else (a bare URL, a path) is taken as a string.
    match toml::from_str::<toml::Table>(&format!("v = {raw}")) {
        Ok(mut t) => t
            .remove("v")
            .unwrap_or_else(|| toml::Value::String(raw.into())),
        Err(_) => toml::Value::String(raw.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn defaults_are_valid_and_embedded() {
        let c = Config::load(None, env(&[])).unwrap();
        assert_eq!(c.broker().unwrap(), BrokerChoice::Embedded);
        assert!(c.database.url.starts_with("sqlite:"));
    }

    #[test]
    fn the_example_file_parses_to_the_defaults() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("cityops.example.toml");
        let c = Config::load(Some(&path), env(&[])).unwrap();
        assert_eq!(c, Config::default());
    }

    #[test]
    fn env_overrides_file_and_switches_backends() {
        let c = Config::load(
            None,
            env(&[
                ("CITYOPS_MQTT_BROKER", "mqtt://127.0.0.1:1884"),
                ("CITYOPS_DATABASE_URL", "postgres://u:p@127.0.0.1/db"),
                ("CITYOPS_INGEST_BATCH_MAX", "500"),
                ("PATH", "/bin"),
            ]),
        )
        .unwrap();
        assert_eq!(
            c.broker().unwrap(),
            BrokerChoice::External {
                host: "127.0.0.1".into(),
                port: 1884
            }
        );
        assert_eq!(c.ingest.batch_max, 500);
        assert!(c.database.url.starts_with("postgres:"));
    }

    #[test]
    fn unknown_env_key_is_an_error_naming_it() {
        let e = Config::load(None, env(&[("CITYOPS_INGEST_BATCH_MAXX", "5")])).unwrap_err();
        let msg = e.to_string();
        assert!(msg.contains("CITYOPS_INGEST_BATCH_MAXX"), "{msg}");
        assert!(msg.contains("batch_maxx"), "{msg}");
    }

    #[test]
    fn bad_env_value_names_the_variable() {
        let e = Config::load(None, env(&[("CITYOPS_INGEST_BATCH_MAX", "lots")])).unwrap_err();
        assert!(e.to_string().contains("CITYOPS_INGEST_BATCH_MAX"), "{e}");
    }

    #[test]
    fn unknown_file_key_names_key_and_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.toml");
        std::fs::write(
            &path,
            "[http]\nlisten = \"127.0.0.1:0\"\n\n[ingest]\nbatch_size = 3\n",
        )
        .unwrap();
        let msg = Config::load(Some(&path), env(&[])).unwrap_err().to_string();
        assert!(msg.contains("batch_size"), "{msg}");
        assert!(msg.contains("line 5"), "{msg}");
    }

    #[test]
    fn bad_values_are_rejected_with_their_key() {
        for (var, value, key) in [
            ("CITYOPS_MQTT_BROKER", "amqp://x", "mqtt.broker"),
            (
                "CITYOPS_INGEST_MAX_PAYLOAD_BYTES",
                "0",
                "ingest.max_payload_bytes",
            ),
            ("CITYOPS_DATABASE_URL", "mysql://x", "database.url"),
            (
                "CITYOPS_MQTT_SENSOR_TOPICS",
                "[\"a/{x\"]",
                "mqtt.sensor_topics",
            ),
            ("CITYOPS_MQTT_SESSIONS", "65", "mqtt.sessions"),
            // 16 automatic sessions × 1000 in flight do not fit in 15 000.
            (
                "CITYOPS_INGEST_QUEUE_CAPACITY",
                "15000",
                "ingest.queue_capacity",
            ),
            ("CITYOPS_DEMO_ANOMALY_RATE", "1.5", "demo.anomaly_rate"),
            ("CITYOPS_AUTH_SESSION_HOURS", "0", "auth.session_hours"),
            (
                "CITYOPS_AUTH_LOGIN_FAILURES_PER_5MIN",
                "0",
                "auth.login_failures_per_5min",
            ),
            (
                "CITYOPS_AUTH_ALLOWED_ORIGINS",
                "[\"https://wall.example.org/page\"]",
                "auth.allowed_origins",
            ),
        ] {
            let msg = Config::load(None, env(&[(var, value)]))
                .unwrap_err()
                .to_string();
            assert!(msg.contains(key), "{var}={value}: {msg}");
        }
    }

    #[test]
    fn automatic_intake_sessions_follow_the_broker() {
        let mut c = Config::default();
        assert_eq!(c.intake_sessions(), 16);
        c.mqtt.broker = "mqtt://127.0.0.1:1883".into();
        assert_eq!(c.intake_sessions(), 8);
        c.mqtt.sessions = 3;
        assert_eq!(c.intake_sessions(), 3);
    }

    #[test]
    fn relative_sqlite_paths_go_under_the_data_dir() {
        let c = Config::default();
        assert_eq!(
            c.database_url(Path::new("data")),
            format!(
                "sqlite://{}",
                Path::new("data").join("cityops.db").display()
            )
        );
    }
}
