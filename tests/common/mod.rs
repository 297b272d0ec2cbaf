//! Test harness shared by the integration tests: starts the real `cityops` binary on
//! port 0, our own Mosquitto instances, fresh PostgreSQL databases, and a TCP proxy
//! that can cut a connection, and gives clients for MQTT, HTTP and `/ws`.
#![allow(dead_code)]

use rumqttc::{AsyncClient, Event, MqttOptions, Outgoing, Packet, QoS};
use std::io::{BufRead, BufReader};
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub fn demo_city() -> PathBuf {
    repo().join("city/demo")
}

/// The integration tests' rules: one reading over a line opens, one under it closes.
pub fn fixture_rules() -> PathBuf {
    repo().join("tests/fixtures/rules")
}

/// A port that was free a moment ago, for servers that cannot bind port 0 and say
/// which port they got (Mosquitto).
pub fn free_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind port 0");
    l.local_addr().expect("local addr").port()
}

/// Polls `check` until it returns `Some`, or panics with `what` after `within`.
/// Waiting on an observable condition, never sleeping in its place.
pub async fn eventually<T, F, Fut>(what: &str, within: Duration, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = Instant::now() + within;
    loop {
        if let Some(v) = check().await {
            return v;
        }
        if Instant::now() > deadline {
            panic!("timed out after {within:?} waiting for {what}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A sensor of the demo city: (id, kind, district, first metric).
#[derive(Clone, Debug)]
pub struct DemoSensor {
    pub id: String,
    pub kind: String,
    pub district: String,
    pub metrics: Vec<String>,
}

pub fn demo_sensors() -> Vec<DemoSensor> {
    let text = std::fs::read_to_string(demo_city().join("sensors.geojson")).expect("demo sensors");
    let v: serde_json::Value = serde_json::from_str(&text).expect("sensors json");
    v["features"]
        .as_array()
        .expect("features")
        .iter()
        .map(|f| {
            let p = &f["properties"];
            DemoSensor {
                id: p["id"].as_str().unwrap_or_default().to_owned(),
                kind: p["kind"].as_str().unwrap_or_default().to_owned(),
                district: p["district"].as_str().unwrap_or_default().to_owned(),
                metrics: p["metrics"]
                    .as_array()
                    .map(|ms| {
                        ms.iter()
                            .filter_map(|m| m["name"].as_str().map(str::to_owned))
                            .collect()
                    })
                    .unwrap_or_default(),
            }
        })
        .collect()
}

pub fn demo_sensor(kind: &str, nth: usize) -> DemoSensor {
    demo_sensors()
        .into_iter()
        .filter(|s| s.kind == kind)
        .nth(nth)
        .unwrap_or_else(|| panic!("demo city has no {kind} sensor #{nth}"))
}

pub fn demo_camera() -> (String, String) {
    let text = std::fs::read_to_string(demo_city().join("cameras.geojson")).expect("cameras");
    let v: serde_json::Value = serde_json::from_str(&text).expect("cameras json");
    let p = &v["features"][0]["properties"];
    (
        p["id"].as_str().expect("camera id").to_owned(),
        p["district"].as_str().expect("district").to_owned(),
    )
}

pub fn sensor_topic(s: &DemoSensor) -> String {
    format!("city/{}/sensors/{}", s.district, s.id)
}

pub fn now_secs() -> f64 {
    chrono::Utc::now().timestamp_micros() as f64 / 1e6
}

/// How to start `cityops serve`.
#[derive(Clone, Debug, Default)]
pub struct ServeSpec {
    /// `mqtt://127.0.0.1:PORT` for an external broker; embedded when `None`.
    pub broker: Option<String>,
    /// A database URL; SQLite under the data dir when `None`.
    pub database: Option<String>,
    pub data_dir: Option<PathBuf>,
    pub client_id: Option<String>,
    pub extra_env: Vec<(String, String)>,
}

/// A running `cityops serve` process. Stopped with SIGTERM (or killed) on drop.
pub struct Cityops {
    child: Child,
    pub http: SocketAddr,
    pub mqtt: Option<SocketAddr>,
    pub data_dir: PathBuf,
    _tmp: Option<tempfile::TempDir>,
    /// Sends the test user's bearer token with every request.
    pub http_client: reqwest::Client,
    /// The test user's session token (a duty officer of the city center).
    pub token: String,
    /// The server's log lines so far.
    log: Arc<(std::sync::Mutex<Vec<String>>, std::sync::Condvar)>,
}

/// The password of the users the harness creates.
pub const TEST_PASSWORD: &str = "it-password-0123";

/// Adds a user with the CLI against the same database as `serve` would use.
pub fn add_user(data_dir: &Path, env: &[(String, String)], name: &str, args: &[&str]) {
    use std::io::Write;
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_cityops"));
    cmd.args(["user", "add", name, "--password-stdin", "--data"])
        .arg(data_dir)
        .args(args)
        .env("CITYOPS_CITY_DIR", demo_city())
        .env("RUST_LOG", "warn")
        .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("spawn cityops user add");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(format!("{TEST_PASSWORD}\n").as_bytes())
        .expect("password");
    let out = child.wait_with_output().expect("user add");
    assert!(
        out.status.success(),
        "cityops user add {name}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Logs in with a plain HTTP/1.1 request (the harness starts servers from sync code
/// that may run inside a runtime) and returns the session token.
pub fn login(http: SocketAddr, user: &str, password: &str) -> Result<String, String> {
    use std::io::{Read, Write};
    let body = serde_json::json!({ "user": user, "password": password }).to_string();
    let mut sock = std::net::TcpStream::connect(http).map_err(|e| e.to_string())?;
    write!(
        sock,
        "POST /api/v1/login HTTP/1.1\r\nHost: {http}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .map_err(|e| e.to_string())?;
    let mut reply = String::new();
    sock.read_to_string(&mut reply).map_err(|e| e.to_string())?;
    let (head, rest) = reply.split_once("\r\n\r\n").ok_or("no HTTP reply")?;
    if !head.starts_with("HTTP/1.1 200") {
        return Err(format!("login as {user}: {head}\n{rest}"));
    }
    // The body may be chunked: take the JSON object out of it.
    let json = &rest[rest.find('{').ok_or("no JSON")?..=rest.rfind('}').ok_or("no JSON")?];
    let v: serde_json::Value = serde_json::from_str(json).map_err(|e| e.to_string())?;
    v["token"]
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| "no token".into())
}

/// An HTTP client that sends `token` as a bearer token.
pub fn client_with(token: &str) -> reqwest::Client {
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert(
        reqwest::header::AUTHORIZATION,
        format!("Bearer {token}").parse().expect("header"),
    );
    reqwest::Client::builder()
        .default_headers(headers)
        .build()
        .expect("client")
}

impl Cityops {
    pub fn start(spec: &ServeSpec) -> Self {
        let tmp = match &spec.data_dir {
            Some(_) => None,
            None => Some(tempfile::tempdir().expect("tempdir")),
        };
        let data_dir = spec.data_dir.clone().unwrap_or_else(|| {
            tmp.as_ref()
                .map(|t| t.path().to_owned())
                .unwrap_or_default()
        });
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_cityops"));
        cmd.args([
            "serve",
            "--http",
            "127.0.0.1:0",
            "--mqtt",
            "127.0.0.1:0",
            "--data",
        ])
        .arg(&data_dir)
        .env("CITYOPS_CITY_DIR", demo_city())
        .env("CITYOPS_RULES_DIR", fixture_rules())
        .env("RUST_LOG", "info,sqlx=warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
        // Fast batches keep the tests quick; production defaults are larger.
        cmd.env("CITYOPS_INGEST_BATCH_LINGER_MS", "5")
            .env("CITYOPS_LIVE_TICK_MS", "50")
            .env("CITYOPS_INGEST_STORE_RETRY_MS", "100");
        if let Some(b) = &spec.broker {
            cmd.env("CITYOPS_MQTT_BROKER", b);
        }
        if let Some(d) = &spec.database {
            cmd.env("CITYOPS_DATABASE_URL", d);
        }
        if let Some(c) = &spec.client_id {
            cmd.env("CITYOPS_MQTT_CLIENT_ID", c);
        }
        for (k, v) in &spec.extra_env {
            cmd.env(k, v);
        }
        // A duty officer of the city center signs in for the test. User names are unique
        // per start, so a restart against the same database adds another.
        static USERS: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let user = format!(
            "it-{}-{}",
            std::process::id(),
            USERS.fetch_add(1, Ordering::SeqCst)
        );
        let mut env: Vec<(String, String)> = spec.extra_env.clone();
        if let Some(d) = &spec.database {
            env.push(("CITYOPS_DATABASE_URL".into(), d.clone()));
        }
        add_user(&data_dir, &env, &user, &["--role", "duty_officer"]);
        let mut child = cmd.spawn().expect("spawn cityops");
        let stdout = child.stdout.take().expect("stdout");
        let mut lines = BufReader::new(stdout).lines();
        let line = loop {
            match lines.next() {
                Some(Ok(l)) if l.starts_with("cityops listening") => break l,
                Some(Ok(_)) => continue,
                _ => {
                    let status = child.wait().ok();
                    panic!("cityops exited before listening: {status:?}");
                }
            }
        };
        // Keep draining stdout so the child never blocks on a full pipe.
        std::thread::spawn(move || for _ in lines {});
        // The log goes on to the test's stderr (shown when a test fails) and is kept for
        // `wait_log`.
        let log = Arc::new((std::sync::Mutex::new(Vec::new()), std::sync::Condvar::new()));
        let stderr = child.stderr.take().expect("stderr");
        let keep = Arc::clone(&log);
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                eprintln!("{line}");
                let (lines, changed) = &*keep;
                lines.lock().expect("log lock").push(line);
                changed.notify_all();
            }
        });
        let field = |name: &str| {
            line.split_whitespace()
                .find_map(|w| w.strip_prefix(&format!("{name}=")))
                .map(str::to_owned)
                .unwrap_or_default()
        };
        let http = field("http").parse().expect("http addr");
        let mqtt = field("mqtt").parse().ok();
        let token = login(http, &user, TEST_PASSWORD).expect("test user login");
        Self {
            child,
            http,
            mqtt,
            data_dir,
            _tmp: tmp,
            http_client: client_with(&token),
            token,
            log,
        }
    }

    /// Waits until a line of the server's log contains `needle`, and returns it.
    pub fn wait_log(&self, needle: &str, within: Duration) -> String {
        let (lines, changed) = &*self.log;
        let deadline = Instant::now() + within;
        let mut seen = lines.lock().expect("log lock");
        loop {
            if let Some(l) = seen.iter().find(|l| l.contains(needle)) {
                return l.clone();
            }
            let left = deadline.saturating_duration_since(Instant::now());
            assert!(
                !left.is_zero(),
                "no log line with {needle:?} within {within:?}"
            );
            seen = changed.wait_timeout(seen, left).expect("log lock").0;
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.http, path)
    }

    pub async fn get_json(&self, path: &str) -> (u16, serde_json::Value) {
        let r = self
            .http_client
            .get(self.url(path))
            .send()
            .await
            .expect("GET");
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(serde_json::Value::Null))
    }

    pub async fn metrics(&self) -> String {
        self.http_client
            .get(self.url("/metrics"))
            .send()
            .await
            .expect("GET /metrics")
            .text()
            .await
            .expect("metrics text")
    }

    /// The value of a counter (summed over label sets matching `labels`).
    pub async fn counter(&self, name: &str, labels: &str) -> f64 {
        metric_value(&self.metrics().await, name, labels)
    }

    pub async fn wait_ready(&self) {
        eventually("cityops /readyz", Duration::from_secs(30), || async {
            let r = self
                .http_client
                .get(self.url("/readyz"))
                .send()
                .await
                .ok()?;
            (r.status().as_u16() == 200).then_some(())
        })
        .await;
    }

    /// Waits until the sensor metric's readings number `n`.
    pub async fn wait_readings(
        &self,
        sensor: &str,
        n: usize,
        within: Duration,
    ) -> Vec<serde_json::Value> {
        let path = format!(
            "/api/v1/sensors/{sensor}/readings?from=2000-01-01T00:00:00Z&to=2100-01-01T00:00:00Z&limit=10000"
        );
        eventually(&format!("{n} readings of {sensor}"), within, || async {
            let (status, v) = self.get_json(&path).await;
            let list = v.as_array()?.clone();
            (status == 200 && list.len() >= n).then_some(list)
        })
        .await
    }

    /// The server's resident memory (VmRSS), in kB.
    pub fn rss_kb(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .expect("read /proc/<pid>/status");
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .expect("VmRSS in /proc/<pid>/status")
    }

    pub fn sigterm(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let _ = self.child.wait();
    }

    pub fn sigkill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Cityops {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            self.sigterm();
        }
    }
}

pub fn metric_value(text: &str, name: &str, labels: &str) -> f64 {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| {
            let (key, value) = l.rsplit_once(' ')?;
            let (metric, rest) = match key.split_once('{') {
                Some((m, r)) => (m, r),
                None => (key, ""),
            };
            (metric == name && rest.contains(labels)).then(|| value.parse::<f64>().ok())?
        })
        .sum()
}

/// Readings of `sensors` that the API (a read connection) sees.
pub async fn readings_of(c: &Cityops, sensors: &[DemoSensor]) -> usize {
    let mut total = 0;
    for s in sensors {
        let path = format!(
            "/api/v1/sensors/{}/readings?from=2000-01-01T00:00:00Z&to=2100-01-01T00:00:00Z&limit=10000",
            s.id
        );
        let (status, v) = c.get_json(&path).await;
        assert_eq!(status, 200, "{path}: {v}");
        total += v.as_array().map_or(0, Vec::len);
    }
    total
}

/// An MQTT publisher that waits for every PUBACK.
pub struct Publisher {
    pub client: AsyncClient,
    acked: tokio::sync::mpsc::UnboundedReceiver<()>,
    outstanding: usize,
    task: tokio::task::JoinHandle<()>,
}

impl Publisher {
    pub async fn connect(addr: SocketAddr, id: &str) -> Self {
        let mut opts = MqttOptions::new(id, addr.ip().to_string(), addr.port());
        opts.set_keep_alive(Duration::from_secs(30))
            .set_inflight(500)
            .set_max_packet_size(4 << 20, 4 << 20);
        let (client, mut el) = AsyncClient::new(opts, 1000);
        let (tx, acked) = tokio::sync::mpsc::unbounded_channel();
        let task = tokio::spawn(async move {
            loop {
                match el.poll().await {
                    Ok(Event::Incoming(Packet::PubAck(_))) => {
                        let _ = tx.send(());
                    }
                    Ok(Event::Outgoing(Outgoing::Disconnect)) => break,
                    Ok(_) => {}
                    Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
                }
            }
        });
        Self {
            client,
            acked,
            outstanding: 0,
            task,
        }
    }

    pub async fn publish(&mut self, topic: &str, payload: impl Into<Vec<u8>>) {
        self.client
            .publish(topic, QoS::AtLeastOnce, false, payload.into())
            .await
            .expect("queue publish");
        self.outstanding += 1;
    }

    /// Waits until the broker acknowledged everything published so far.
    pub async fn flush(&mut self) {
        let deadline = Duration::from_secs(60);
        while self.outstanding > 0 {
            tokio::time::timeout(deadline, self.acked.recv())
                .await
                .expect("PUBACK within 60 s")
                .expect("publisher alive");
            self.outstanding -= 1;
        }
    }

    pub async fn close(mut self) {
        self.flush().await;
        let _ = self.client.disconnect().await;
        let _ = tokio::time::timeout(Duration::from_secs(5), self.task).await;
    }
}

/// A `/ws` client.
pub struct Live {
    ws: tokio_tungstenite::WebSocketStream<
        tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>,
    >,
}

impl Live {
    /// Connects to `/ws` as the harness's signed-in user.
    pub async fn connect(c: &Cityops) -> Self {
        Self::connect_with(c.http, &c.token)
            .await
            .expect("connect /ws")
    }

    /// Connects to `/ws` with a bearer token.
    pub async fn connect_with(
        http: SocketAddr,
        token: &str,
    ) -> Result<Self, tokio_tungstenite::tungstenite::Error> {
        Self::connect_query(http, token, "").await
    }

    /// Resumes on `/ws` after the message `(epoch, seq)`, as the harness's user.
    pub async fn resume(c: &Cityops, epoch: &str, seq: u64) -> Self {
        Self::connect_query(c.http, &c.token, &format!("?epoch={epoch}&since={seq}"))
            .await
            .expect("resume /ws")
    }

    async fn connect_query(
        http: SocketAddr,
        token: &str,
        query: &str,
    ) -> Result<Self, tokio_tungstenite::tungstenite::Error> {
        use tokio_tungstenite::tungstenite::client::IntoClientRequest;
        let mut req = format!("ws://{http}/ws{query}").into_client_request()?;
        req.headers_mut().insert(
            "authorization",
            format!("Bearer {token}").parse().expect("header"),
        );
        let (ws, _) = tokio_tungstenite::connect_async(req).await?;
        Ok(Self { ws })
    }

    /// Next JSON message, or panic after `within`.
    pub async fn next(&mut self, within: Duration) -> serde_json::Value {
        use futures::StreamExt;
        loop {
            let msg = tokio::time::timeout(within, self.ws.next())
                .await
                .expect("a /ws message in time")
                .expect("stream open")
                .expect("ws message");
            if let tokio_tungstenite::tungstenite::Message::Text(t) = msg {
                return serde_json::from_str(t.as_str()).expect("json message");
            }
        }
    }

    /// Reads messages until one satisfies `pred`.
    pub async fn until(
        &mut self,
        what: &str,
        within: Duration,
        mut pred: impl FnMut(&serde_json::Value) -> bool,
    ) -> serde_json::Value {
        let deadline = Instant::now() + within;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                panic!("timed out waiting on /ws for {what}");
            }
            let m = self.next(left).await;
            if pred(&m) {
                return m;
            }
        }
    }
}

/// Our own Mosquitto on a free port, with persistence in a temp dir.
pub struct Mosquitto {
    child: Child,
    pub addr: SocketAddr,
    conf: PathBuf,
    _dir: tempfile::TempDir,
}

pub fn mosquitto_binary() -> Option<PathBuf> {
    [
        "/usr/sbin/mosquitto",
        "/usr/bin/mosquitto",
        "/usr/local/sbin/mosquitto",
    ]
    .iter()
    .map(PathBuf::from)
    .find(|p| p.exists())
}

impl Mosquitto {
    /// Starts Mosquitto, or returns `None` (after saying so) when it is not installed
    /// and we are not in CI. In CI a missing Mosquitto fails the test.
    pub fn start() -> Option<Self> {
        let Some(bin) = mosquitto_binary() else {
            if std::env::var_os("CI").is_some() {
                panic!("mosquitto is not installed (scripts/test-deps.sh installs it)");
            }
            eprintln!("SKIP: mosquitto not installed; run scripts/test-deps.sh");
            return None;
        };
        let dir = tempfile::tempdir().expect("tempdir");
        // Started as root, Mosquitto drops to the user `mosquitto` before it writes its
        // persistence file: that user must own the directory, or nothing is kept.
        let is_root = Command::new("id")
            .arg("-u")
            .output()
            .is_ok_and(|o| o.stdout.starts_with(b"0\n"));
        if is_root {
            let owned = Command::new("chown")
                .arg("mosquitto:")
                .arg(dir.path())
                .status()
                .is_ok_and(|s| s.success());
            assert!(owned, "chown of Mosquitto's directory to user mosquitto");
        }
        let port = free_port();
        let conf = dir.path().join("mosquitto.conf");
        std::fs::write(
            &conf,
            format!(
                "listener {port} 127.0.0.1\nallow_anonymous true\npersistence true\npersistence_location {}/\n\
                 max_inflight_messages 1000\nmax_queued_messages 1000000\nmax_queued_bytes 0\n\
                 max_packet_size 1048576\nlog_dest stderr\nlog_type error\nlog_type warning\n",
                dir.path().display()
            ),
        )
        .expect("write mosquitto.conf");
        let addr: SocketAddr = format!("127.0.0.1:{port}").parse().expect("addr");
        Some(Self {
            child: Self::spawn(&bin, &conf, addr),
            addr,
            conf,
            _dir: dir,
        })
    }

    fn spawn(bin: &Path, conf: &Path, addr: SocketAddr) -> Child {
        let child = Command::new(bin)
            .arg("-c")
            .arg(conf)
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn mosquitto");
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(addr).is_err() {
            assert!(
                Instant::now() < deadline,
                "mosquitto did not start on {addr}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        child
    }

    /// Stops the broker with SIGTERM (it saves its persistence file on the way out) and
    /// starts it again on the same port and directory.
    pub fn restart(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let _ = self.child.wait();
        let bin = mosquitto_binary().expect("mosquitto binary");
        self.child = Self::spawn(&bin, &self.conf, self.addr);
    }

    pub fn url(&self) -> String {
        format!("mqtt://{}", self.addr)
    }
}

impl Drop for Mosquitto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A fresh PostgreSQL database for one test, dropped afterwards.
pub struct PgDb {
    pub url: String,
    admin: String,
    name: String,
}

pub fn pg_admin_url() -> String {
    std::env::var("CITYOPS_TEST_PG_ADMIN_URL")
        .unwrap_or_else(|_| "postgres://cityops:cityops@127.0.0.1:5432/postgres".into())
}

impl PgDb {
    /// Creates a database, or returns `None` (after saying so) when PostgreSQL cannot be
    /// reached outside CI. In CI an unreachable PostgreSQL fails the test.
    pub async fn create() -> Option<Self> {
        use sqlx::Connection;
        let admin = pg_admin_url();
        let mut conn = match sqlx::PgConnection::connect(&admin).await {
            Ok(c) => c,
            Err(e) => {
                if std::env::var_os("CI").is_some() {
                    panic!(
                        "cannot connect to PostgreSQL at {admin}: {e} (scripts/test-postgres.sh sets it up)"
                    );
                }
                eprintln!("SKIP: PostgreSQL unreachable ({e}); run scripts/test-postgres.sh");
                return None;
            }
        };
        let name = format!("cityops_it_{}", uuid::Uuid::now_v7().simple());
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&mut conn)
            .await
            .expect("create database");
        let url = match admin.rsplit_once('/') {
            Some((base, _)) => format!("{base}/{name}"),
            None => panic!("admin URL without a database: {admin}"),
        };
        Some(Self { url, admin, name })
    }

    /// The URL with its host:port replaced, to route through a proxy.
    pub fn url_via(&self, addr: SocketAddr) -> String {
        let (scheme_user, rest) = self.url.split_once('@').expect("url with credentials");
        let (_, db) = rest.split_once('/').expect("url with database");
        format!("{scheme_user}@{addr}/{db}")
    }

    pub fn pg_addr(&self) -> SocketAddr {
        let (_, rest) = self.url.split_once('@').expect("url with credentials");
        let (hostport, _) = rest.split_once('/').expect("db");
        use std::net::ToSocketAddrs;
        hostport
            .to_socket_addrs()
            .expect("resolve")
            .next()
            .expect("an address")
    }
}

impl Drop for PgDb {
    fn drop(&mut self) {
        let admin = self.admin.clone();
        let name = self.name.clone();
        // Best effort, on its own runtime since drop is synchronous.
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build();
            if let Ok(rt) = rt {
                rt.block_on(async {
                    use sqlx::Connection;
                    if let Ok(mut c) = sqlx::PgConnection::connect(&admin).await {
                        let _ = sqlx::query(sqlx::AssertSqlSafe(format!(
                            "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
                        )))
                        .execute(&mut c)
                        .await;
                    }
                });
            }
        })
        .join();
    }
}

/// A TCP proxy that can be cut (all connections dropped, new ones refused) and
/// restored: "the database is unreachable" without touching the database.
pub struct Proxy {
    pub addr: SocketAddr,
    up: Arc<AtomicBool>,
    generation: Arc<std::sync::atomic::AtomicU64>,
}

impl Proxy {
    pub async fn start(target: SocketAddr) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let up = Arc::new(AtomicBool::new(true));
        let generation = Arc::new(std::sync::atomic::AtomicU64::new(0));
        let (up2, gen2) = (up.clone(), generation.clone());
        tokio::spawn(async move {
            while let Ok((mut inbound, _)) = listener.accept().await {
                if !up2.load(Ordering::SeqCst) {
                    continue; // dropped: connection refused in effect
                }
                let my_gen = gen2.load(Ordering::SeqCst);
                let (up3, gen3) = (up2.clone(), gen2.clone());
                tokio::spawn(async move {
                    let Ok(mut outbound) = tokio::net::TcpStream::connect(target).await else {
                        return;
                    };
                    let cut = async {
                        while up3.load(Ordering::SeqCst) && gen3.load(Ordering::SeqCst) == my_gen {
                            tokio::time::sleep(Duration::from_millis(20)).await;
                        }
                    };
                    tokio::select! {
                        _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound) => {}
                        _ = cut => {}
                    }
                });
            }
        });
        Self {
            addr,
            up,
            generation,
        }
    }

    pub fn cut(&self) {
        self.up.store(false, Ordering::SeqCst);
        self.generation.fetch_add(1, Ordering::SeqCst);
    }

    pub fn restore(&self) {
        self.up.store(true, Ordering::SeqCst);
    }
}

pub fn path_str(p: &Path) -> String {
    p.display().to_string()
}
