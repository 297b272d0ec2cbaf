//! The embedded MQTT endpoint speaks MQTT 3.1.1 to devices whose software is not ours:
//! every QoS 1 reading Mosquitto's `mosquitto_pub` publishes is stored; a persistent
//! session is there when its device comes back (CONNACK session present) and gone after a
//! clean session; a device that goes silent past its keep-alive is disconnected and its
//! will is stored, while one that pings stays; an oversize packet, a malformed one, or a
//! first packet that is not CONNECT closes that one connection, is counted in
//! `cityops_mqtt_refused_total`, and leaves the other devices publishing; and while the
//! database cannot write no PUBACK leaves, until it can again, when every reading is
//! acknowledged and stored once.
//!
//! Three clients that share no code: rumqttc, Mosquitto's command-line clients (Debian's
//! `mosquitto-clients`), and bytes written here from the MQTT 3.1.1 specification, for
//! what no client library will send.

mod common;

use common::*;
use rumqttc::{
    AsyncClient, ConnectReturnCode, Event, MqttOptions, Outgoing, Packet, QoS, SubscribeReasonCode,
};
use serde_json::json;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const WAIT: Duration = Duration::from_secs(60);
/// How soon a connection the endpoint must drop is closed. Keep-alive 1 s allows 1.5 s.
const CLOSED_WITHIN: Duration = Duration::from_secs(5);
/// How soon a refusal shows in `cityops_mqtt_refused_total` once its connection closed
/// (it is counted before the close; this only allows for the scrape).
const COUNTED_WITHIN: Duration = Duration::from_secs(5);

fn sensors(n: usize) -> Vec<DemoSensor> {
    (0..n).map(|i| demo_sensor("air_quality", i)).collect()
}

/// Reading `i` of `s` as SenML, each with its own time after `t0`.
fn reading(s: &DemoSensor, i: usize, t0: f64) -> String {
    json!([{ "n": s.metrics[0], "v": i as f64, "t": t0 + i as f64 / 1000.0 }]).to_string()
}

fn refused(reason: &str) -> String {
    format!("reason=\"{reason}\"")
}

// ---------------------------------------------------------------------------------------
// Mosquitto's command-line clients.

/// `mosquitto_pub` or `mosquitto_sub`, or `None` (after saying so) when not installed
/// outside CI. In CI a missing client fails the test.
fn mosquitto_client(name: &str) -> Option<PathBuf> {
    let found = ["/usr/bin", "/usr/local/bin"]
        .iter()
        .map(|d| PathBuf::from(d).join(name))
        .find(|p| p.exists());
    if found.is_none() {
        if std::env::var_os("CI").is_some() {
            panic!("{name} is not installed (Debian package mosquitto-clients)");
        }
        eprintln!("SKIP: {name} not installed; apt-get install mosquitto-clients");
    }
    found
}

/// Runs a Mosquitto client against `addr` as MQTT 3.1.1 with `-d` (it logs every packet),
/// feeding it `stdin`; returns its stdout and stderr together, after checking it
/// succeeded.
async fn run_client(bin: &Path, addr: SocketAddr, args: &[&str], stdin: &str) -> String {
    let mut child = tokio::process::Command::new(bin)
        .args(["-V", "mqttv311", "-d", "-h"])
        .arg(addr.ip().to_string())
        .arg("-p")
        .arg(addr.port().to_string())
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap_or_else(|e| panic!("spawn {}: {e}", bin.display()));
    let mut input = child.stdin.take().expect("stdin");
    // A client that exited early fails this write; its status and log below say why.
    let _ = input.write_all(stdin.as_bytes()).await;
    drop(input);
    let out = tokio::time::timeout(WAIT, child.wait_with_output())
        .await
        .unwrap_or_else(|_| panic!("{} {args:?} did not finish in {WAIT:?}", bin.display()))
        .expect("client output");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success(),
        "{} {args:?}: {}\n{text}",
        bin.display(),
        out.status
    );
    text
}

// ---------------------------------------------------------------------------------------
// Hand-written MQTT 3.1.1 packets (section numbers are the specification's).

/// Remaining length (2.2.3): seven bits a byte, low first, the top bit saying more follow.
fn remaining_length(mut n: usize, out: &mut Vec<u8>) {
    loop {
        let byte = (n % 128) as u8;
        n /= 128;
        out.push(if n > 0 { byte | 0x80 } else { byte });
        if n == 0 {
            return;
        }
    }
}

/// A UTF-8 string or binary field (1.5.3): two bytes of length, then the bytes.
fn field(bytes: &[u8], out: &mut Vec<u8>) {
    let len = u16::try_from(bytes.len()).expect("field under 64 KiB");
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(bytes);
}

fn packet(first_byte: u8, body: &[u8]) -> Vec<u8> {
    let mut out = vec![first_byte];
    remaining_length(body.len(), &mut out);
    out.extend_from_slice(body);
    out
}

/// What a hand-written CONNECT (3.1) carries.
struct Connect<'a> {
    client_id: &'a str,
    clean_session: bool,
    keep_alive_secs: u16,
    /// Topic and message of a QoS 0 will.
    will: Option<(&'a str, &'a str)>,
}

impl<'a> Connect<'a> {
    /// A clean session with keep-alive 30 s and no will.
    fn clean(client_id: &'a str) -> Self {
        Self {
            client_id,
            clean_session: true,
            keep_alive_secs: 30,
            will: None,
        }
    }

    fn bytes(&self) -> Vec<u8> {
        let mut body = Vec::new();
        field(b"MQTT", &mut body);
        body.push(4); // protocol level: 3.1.1
        let mut flags = 0;
        if self.clean_session {
            flags |= 0x02;
        }
        if self.will.is_some() {
            flags |= 0x04; // will flag; will QoS 0, not retained
        }
        body.push(flags);
        body.extend_from_slice(&self.keep_alive_secs.to_be_bytes());
        field(self.client_id.as_bytes(), &mut body);
        if let Some((topic, message)) = self.will {
            field(topic.as_bytes(), &mut body);
            field(message.as_bytes(), &mut body);
        }
        packet(0x10, &body)
    }
}

/// A QoS 1 PUBLISH (3.3).
fn publish_qos1(topic: &str, pkid: u16, payload: &[u8]) -> Vec<u8> {
    let mut body = Vec::new();
    field(topic.as_bytes(), &mut body);
    body.extend_from_slice(&pkid.to_be_bytes());
    body.extend_from_slice(payload);
    packet(0x32, &body)
}

const PINGREQ: [u8; 2] = [0xC0, 0x00];
const PINGRESP: [u8; 2] = [0xD0, 0x00];
const DISCONNECT: [u8; 2] = [0xE0, 0x00];

/// A device made of a TCP socket and the bytes above.
struct Raw(TcpStream);

impl Raw {
    async fn open(addr: SocketAddr) -> Self {
        Self(
            TcpStream::connect(addr)
                .await
                .expect("connect to the endpoint"),
        )
    }

    /// Opens a connection, sends `connect` and returns it with the CONNACK's session
    /// present flag, after checking the CONNECT was accepted.
    async fn connect(addr: SocketAddr, connect: &Connect<'_>) -> (Self, bool) {
        let mut raw = Self::open(addr).await;
        raw.send(&connect.bytes()).await.expect("send CONNECT");
        let ack = raw.read(4, "CONNACK").await;
        assert_eq!(ack[..2], [0x20, 0x02], "a CONNACK: {ack:02x?}");
        assert_eq!(ack[3], 0, "CONNACK return code: accepted");
        assert_eq!(ack[2] & !1, 0, "CONNACK reserved flags: {ack:02x?}");
        (raw, ack[2] == 1)
    }

    async fn send(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        self.0.write_all(bytes).await
    }

    /// Reads exactly `n` bytes, or panics after `WAIT` or when the connection closes.
    async fn read(&mut self, n: usize, what: &str) -> Vec<u8> {
        let mut buf = vec![0; n];
        tokio::time::timeout(WAIT, self.0.read_exact(&mut buf))
            .await
            .unwrap_or_else(|_| panic!("no {what} within {WAIT:?}"))
            .unwrap_or_else(|e| panic!("connection closed before the {what}: {e}"));
        buf
    }

    /// Reads until the endpoint closes the connection (end of stream, or a reset when it
    /// closed with bytes of ours unread). `Ok` with what it sent first; `Err` with the
    /// same when the connection is still open after `within`.
    async fn closed_within(&mut self, within: Duration) -> Result<Vec<u8>, Vec<u8>> {
        let deadline = tokio::time::Instant::now() + within;
        let mut got = Vec::new();
        let mut buf = [0u8; 1024];
        loop {
            match tokio::time::timeout_at(deadline, self.0.read(&mut buf)).await {
                Err(_) => return Err(got),
                Ok(Ok(0)) | Ok(Err(_)) => return Ok(got),
                Ok(Ok(n)) => got.extend_from_slice(&buf[..n]),
            }
        }
    }

    /// Panics unless the endpoint closes the connection within `CLOSED_WITHIN`.
    async fn expect_closed(&mut self, after: &str) {
        if let Err(got) = self.closed_within(CLOSED_WITHIN).await {
            panic!(
                "the connection is still open {CLOSED_WITHIN:?} after {after}; the endpoint sent {got:02x?}"
            );
        }
    }
}

// ---------------------------------------------------------------------------------------
// A rumqttc device.

/// A rumqttc device that publishes QoS 1 and counts the CONNACKs and PUBACKs it gets and
/// the connection errors it sees; after an error it stops (no reconnect hides it).
struct Device {
    client: AsyncClient,
    connacks: Arc<AtomicUsize>,
    pubacks: Arc<AtomicUsize>,
    errors: Arc<std::sync::Mutex<Vec<String>>>,
    /// Polls the connection; aborted when the device is dropped.
    task: tokio::task::JoinHandle<()>,
}

impl Device {
    /// Connects and waits for the CONNACK.
    async fn connect(addr: SocketAddr, id: &str) -> Self {
        let mut opts = MqttOptions::new(id, addr.ip().to_string(), addr.port());
        opts.set_keep_alive(Duration::from_secs(30))
            .set_inflight(100);
        let (client, mut el) = AsyncClient::new(opts, 200);
        let connacks = Arc::new(AtomicUsize::new(0));
        let pubacks = Arc::new(AtomicUsize::new(0));
        let errors = Arc::new(std::sync::Mutex::new(Vec::new()));
        let d = Self {
            client,
            connacks: connacks.clone(),
            pubacks: pubacks.clone(),
            errors: errors.clone(),
            task: tokio::spawn(async move {
                loop {
                    match el.poll().await {
                        Ok(Event::Incoming(Packet::ConnAck(_))) => {
                            connacks.fetch_add(1, Ordering::SeqCst);
                        }
                        Ok(Event::Incoming(Packet::PubAck(_))) => {
                            pubacks.fetch_add(1, Ordering::SeqCst);
                        }
                        Ok(_) => {}
                        Err(e) => {
                            errors.lock().expect("errors").push(e.to_string());
                            break;
                        }
                    }
                }
            }),
        };
        eventually(&format!("CONNACK for {id}"), WAIT, || async {
            (d.connacks.load(Ordering::SeqCst) == 1).then_some(())
        })
        .await;
        d
    }

    async fn publish(&self, topic: &str, payload: String) {
        self.client
            .publish(topic, QoS::AtLeastOnce, false, payload)
            .await
            .expect("queue publish");
    }

    fn pubacks(&self) -> usize {
        self.pubacks.load(Ordering::SeqCst)
    }

    async fn wait_pubacks(&self, n: usize) {
        eventually(&format!("{n} PUBACKs"), WAIT, || async {
            (self.pubacks() >= n).then_some(())
        })
        .await;
    }

    /// Panics unless the device is still on its first connection, with no error.
    fn assert_undisturbed(&self) {
        let errors = self.errors.lock().expect("errors");
        assert!(
            errors.is_empty(),
            "the device lost its connection: {errors:?}"
        );
        assert_eq!(self.connacks.load(Ordering::SeqCst), 1, "one connection");
    }
}

impl Drop for Device {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// One rumqttc connection: CONNECT with `clean_session`, optionally SUBSCRIBE to `filter`
/// (checking it was granted), DISCONNECT. Returns the CONNACK's session present flag.
async fn rumqttc_session(
    addr: SocketAddr,
    id: &str,
    clean_session: bool,
    filter: Option<&str>,
) -> bool {
    let mut opts = MqttOptions::new(id, addr.ip().to_string(), addr.port());
    opts.set_keep_alive(Duration::from_secs(30))
        .set_clean_session(clean_session);
    let (client, mut el) = AsyncClient::new(opts, 10);
    let session = async {
        let present = loop {
            if let Event::Incoming(Packet::ConnAck(a)) = el.poll().await.expect("connect") {
                assert_eq!(a.code, ConnectReturnCode::Success);
                break a.session_present;
            }
        };
        if let Some(filter) = filter {
            client
                .subscribe(filter, QoS::AtLeastOnce)
                .await
                .expect("subscribe");
            let codes = loop {
                if let Event::Incoming(Packet::SubAck(s)) = el.poll().await.expect("SUBACK") {
                    break s.return_codes;
                }
            };
            assert_eq!(
                codes,
                [SubscribeReasonCode::Success(QoS::AtLeastOnce)],
                "{id} may subscribe to {filter}"
            );
        }
        client.disconnect().await.expect("disconnect");
        while !matches!(
            el.poll().await.expect("DISCONNECT"),
            Event::Outgoing(Outgoing::Disconnect)
        ) {}
        present
    };
    tokio::time::timeout(WAIT, session)
        .await
        .unwrap_or_else(|_| panic!("{id}'s session did not complete in {WAIT:?}"))
}

fn start() -> (Cityops, SocketAddr) {
    let c = Cityops::start(&ServeSpec::default());
    let mqtt = c.mqtt.expect("embedded endpoint");
    (c, mqtt)
}

// ---------------------------------------------------------------------------------------
// 1. A second, independent client implementation.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_qos1_reading_mosquitto_pub_sends_is_acknowledged_and_stored() {
    let Some(pub_bin) = mosquitto_client("mosquitto_pub") else {
        return;
    };
    let (c, mqtt) = start();
    c.wait_ready().await;
    let sensors = sensors(3);
    let t0 = now_secs() - 60.0;
    const PER_SENSOR: usize = 100;

    // One `mosquitto_pub -l` per sensor: each line of its input is one QoS 1 message.
    for (n, s) in sensors.iter().enumerate() {
        let lines: String = (0..PER_SENSOR).map(|i| reading(s, i, t0) + "\n").collect();
        let id = format!("mosquitto-pub-{n}");
        let topic = sensor_topic(s);
        let log = run_client(
            &pub_bin,
            mqtt,
            &["-i", &id, "-q", "1", "-t", &topic, "-l"],
            &lines,
        )
        .await;
        let acks = log.matches("received PUBACK").count();
        assert_eq!(acks, PER_SENSOR, "PUBACKs mosquitto_pub got:\n{log}");
    }

    let total = PER_SENSOR * sensors.len();
    eventually(&format!("{total} readings stored"), WAIT, || async {
        (readings_of(&c, &sensors).await >= total).then_some(())
    })
    .await;
    assert_eq!(readings_of(&c, &sensors).await, total, "each stored once");
    assert_eq!(
        c.counter("cityops_readings_stored_total", "").await as usize,
        total
    );
}

// ---------------------------------------------------------------------------------------
// 2. Persistent sessions.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_persistent_session_is_resumed_and_a_clean_session_ends_it_rumqttc() {
    let (c, mqtt) = start();
    c.wait_ready().await;
    let id = "session-dev-1";
    let own = format!("devices/{id}/cmd");

    assert!(
        !rumqttc_session(mqtt, id, false, Some(&own)).await,
        "a new client id has no session yet"
    );
    assert!(
        rumqttc_session(mqtt, id, false, None).await,
        "clean session off: the session is there when the device comes back"
    );
    assert!(
        rumqttc_session(mqtt, id, false, None).await,
        "and again, without subscribing in between"
    );
    assert!(
        !rumqttc_session(mqtt, id, true, None).await,
        "clean session on: no session present"
    );
    assert!(
        !rumqttc_session(mqtt, id, false, None).await,
        "the clean session discarded the old one"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_persistent_session_made_by_mosquitto_sub_is_resumed_and_a_clean_one_ends_it() {
    let Some(sub_bin) = mosquitto_client("mosquitto_sub") else {
        return;
    };
    let (c, mqtt) = start();
    c.wait_ready().await;
    let id = "session-dev-2";
    let own = format!("devices/{id}/cmd");
    let resume = Connect {
        clean_session: false,
        ..Connect::clean(id)
    };

    // `-c`: clean session off; `-E`: disconnect once the SUBACK is in. Its own command
    // topic is granted at QoS 1, someone else's refused (0x80 = 128).
    let log = run_client(
        &sub_bin,
        mqtt,
        &[
            "-c",
            "-i",
            id,
            "-q",
            "1",
            "-t",
            &own,
            "-t",
            "devices/someone-else/cmd",
            "-E",
        ],
        "",
    )
    .await;
    assert!(log.contains("received CONNACK (0)"), "{log}");
    assert!(log.contains("Subscribed (mid: 1): 1, 128"), "{log}");

    // mosquitto_sub does not print CONNACK flags: the session is checked in bytes.
    let (mut raw, present) = Raw::connect(mqtt, &resume).await;
    assert!(present, "the session mosquitto_sub left is present");
    raw.send(&DISCONNECT).await.expect("DISCONNECT");
    raw.expect_closed("DISCONNECT").await;

    // The same device with a clean session (no `-c`) ends it.
    let log = run_client(&sub_bin, mqtt, &["-i", id, "-q", "1", "-t", &own, "-E"], "").await;
    assert!(log.contains("Subscribed (mid: 1): 1"), "{log}");
    let (_raw, present) = Raw::connect(mqtt, &resume).await;
    assert!(!present, "a clean session discarded the persistent one");
}

// ---------------------------------------------------------------------------------------
// 3. Keep-alive and wills.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_device_silent_past_its_keep_alive_is_dropped_and_its_will_is_stored() {
    let (c, mqtt) = start();
    c.wait_ready().await;
    let s = demo_sensor("air_quality", 0);
    let will = json!([{ "n": s.metrics[0], "v": 42.5, "t": now_secs() - 10.0 }]).to_string();
    let topic = sensor_topic(&s);

    let (mut raw, _) = Raw::connect(
        mqtt,
        &Connect {
            keep_alive_secs: 1,
            will: Some((&topic, &will)),
            ..Connect::clean("silent-dev")
        },
    )
    .await;
    let connected = Instant::now();
    raw.expect_closed("a CONNECT with keep-alive 1 s and then silence")
        .await;
    let took = connected.elapsed();
    assert!(
        took >= Duration::from_secs(1),
        "closed after {took:?}, before the keep-alive of 1 s ran out"
    );

    let rs = c.wait_readings(&s.id, 1, WAIT).await;
    assert_eq!(rs.len(), 1, "the will, once: {rs:?}");
    assert_eq!(rs[0]["value"], 42.5, "the will's reading: {rs:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_device_that_pings_within_its_keep_alive_stays_connected() {
    let (c, mqtt) = start();
    c.wait_ready().await;
    let (mut raw, _) = Raw::connect(
        mqtt,
        &Connect {
            keep_alive_secs: 1,
            ..Connect::clean("pinging-dev")
        },
    )
    .await;
    // A device with keep-alive 1 s pings at least once a second; twice the endpoint's
    // allowance of 1.5 s later every PINGREQ is still answered.
    let connected = Instant::now();
    let mut pings = tokio::time::interval(Duration::from_millis(500));
    let mut answered = 0;
    while connected.elapsed() < Duration::from_secs(3) {
        pings.tick().await;
        raw.send(&PINGREQ).await.expect("PINGREQ");
        assert_eq!(raw.read(2, "PINGRESP").await, PINGRESP);
        answered += 1;
    }
    assert!(answered >= 6, "{answered} pings answered in 3 s");
    raw.send(&DISCONNECT).await.expect("DISCONNECT");
    raw.expect_closed("DISCONNECT").await;
}

// ---------------------------------------------------------------------------------------
// 4. and 5. Refused packets close one connection.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_oversize_packet_closes_that_connection_only_and_is_counted() {
    // The packet limit must stay above the payload limit (config validation).
    let c = Cityops::start(&ServeSpec {
        extra_env: vec![
            ("CITYOPS_INGEST_MAX_PAYLOAD_BYTES".into(), "1024".into()),
            ("CITYOPS_MQTT_MAX_PACKET_BYTES".into(), "2048".into()),
        ],
        ..Default::default()
    });
    let mqtt = c.mqtt.expect("embedded endpoint");
    c.wait_ready().await;
    let sensors = sensors(2);
    let t0 = now_secs() - 60.0;
    let good = Device::connect(mqtt, "small-packets-dev").await;
    good.publish(&sensor_topic(&sensors[0]), reading(&sensors[0], 0, t0))
        .await;
    good.wait_pubacks(1).await;
    let too_large = refused("too_large");
    let before = c.counter("cityops_mqtt_refused_total", &too_large).await;

    let (mut big, _) = Raw::connect(mqtt, &Connect::clean("big-packets-dev")).await;
    let payload = vec![b'x'; 4096];
    // The endpoint may close before it has read all of it: a failed write is expected.
    let _ = big
        .send(&publish_qos1(&sensor_topic(&sensors[1]), 1, &payload))
        .await;
    match big.closed_within(CLOSED_WITHIN).await {
        Ok(got) => assert!(got.is_empty(), "no PUBACK for it: {got:02x?}"),
        Err(got) => {
            panic!("a 4 KiB PUBLISH over a 2 KiB limit left the connection open ({got:02x?})")
        }
    }
    eventually("the oversize packet counted", COUNTED_WITHIN, || async {
        let now = c.counter("cityops_mqtt_refused_total", &too_large).await;
        (now >= before + 1.0).then_some(())
    })
    .await;

    good.publish(&sensor_topic(&sensors[0]), reading(&sensors[0], 1, t0))
        .await;
    good.wait_pubacks(2).await;
    good.assert_undisturbed();
    assert_eq!(readings_of(&c, &sensors).await, 2, "only the good device's");
    assert_eq!(
        c.counter("cityops_mqtt_refused_total", &too_large).await,
        before + 1.0
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_malformed_packet_closes_that_connection_only_and_is_counted() {
    let (c, mqtt) = start();
    c.wait_ready().await;
    let s = demo_sensor("air_quality", 0);
    let t0 = now_secs() - 60.0;
    let good = Device::connect(mqtt, "well-formed-dev").await;
    good.publish(&sensor_topic(&s), reading(&s, 0, t0)).await;
    good.wait_pubacks(1).await;
    let errors = refused("connection_error");
    let before = c.counter("cityops_mqtt_refused_total", &errors).await;

    let garbage: [(&str, Vec<u8>); 5] = [
        ("packet type 15, reserved in MQTT 3.1.1", vec![0xF0, 0x00]),
        (
            "a remaining length of five bytes of 0xFF (at most four)",
            vec![0x30, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF],
        ),
        (
            "a PUBLISH with both QoS bits set (QoS 3)",
            vec![0x36, 0x05, 0x00, 0x01, b'a', 0x00, 0x01],
        ),
        // 2.2.2: the flags of every type but PUBLISH are fixed; "if invalid flags are
        // received, the receiver MUST close the Network Connection".
        ("a PINGREQ with flags 0001 (must be 0000)", vec![0xC1, 0x00]),
        // 3.1.0-2: a second CONNECT is a protocol violation.
        ("a second CONNECT", Connect::clean("second-connect").bytes()),
    ];
    for (n, (what, bytes)) in garbage.iter().enumerate() {
        let mut raw = Raw::connect(mqtt, &Connect::clean(&format!("garbage-dev-{n}")))
            .await
            .0;
        raw.send(bytes).await.expect("send garbage");
        raw.expect_closed(what).await;
        eventually(&format!("{what} counted"), COUNTED_WITHIN, || async {
            let now = c.counter("cityops_mqtt_refused_total", &errors).await;
            (now >= before + n as f64 + 1.0).then_some(())
        })
        .await;
    }

    good.publish(&sensor_topic(&s), reading(&s, 1, t0)).await;
    good.wait_pubacks(2).await;
    good.assert_undisturbed();
    assert_eq!(readings_of(&c, std::slice::from_ref(&s)).await, 2);
    assert_eq!(
        c.counter("cityops_mqtt_refused_total", &errors).await,
        before + garbage.len() as f64
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_first_packet_that_is_not_connect_is_refused() {
    let (c, mqtt) = start();
    c.wait_ready().await;
    let s = demo_sensor("air_quality", 0);
    let failed = refused("connect_failed");
    let before = c.counter("cityops_mqtt_refused_total", &failed).await;

    let not_connect: [(&str, Vec<u8>); 2] = [
        ("a PINGREQ before CONNECT", PINGREQ.to_vec()),
        (
            "a PUBLISH before CONNECT",
            publish_qos1(&sensor_topic(&s), 1, reading(&s, 0, now_secs()).as_bytes()),
        ),
    ];
    for (n, (what, bytes)) in not_connect.iter().enumerate() {
        let mut raw = Raw::open(mqtt).await;
        raw.send(bytes).await.expect("send");
        match raw.closed_within(CLOSED_WITHIN).await {
            Ok(got) => assert!(got.is_empty(), "nothing answers {what}: {got:02x?}"),
            Err(got) => panic!("{what} left the connection open ({got:02x?})"),
        }
        eventually(&format!("{what} counted"), COUNTED_WITHIN, || async {
            let now = c.counter("cityops_mqtt_refused_total", &failed).await;
            (now >= before + n as f64 + 1.0).then_some(())
        })
        .await;
    }
    assert_eq!(
        c.counter("cityops_mqtt_refused_total", &failed).await,
        before + not_connect.len() as f64
    );
    assert_eq!(
        readings_of(&c, &[s]).await,
        0,
        "the early PUBLISH is not stored"
    );
}

// ---------------------------------------------------------------------------------------
// 6. No PUBACK before the commit.

/// Another process holds SQLite's write lock: cityops' writer waits its busy timeout
/// (5 s), fails, and retries, until the lock is released (ROLLBACK on the connection).
async fn lock_database(c: &Cityops) -> sqlx::SqliteConnection {
    use sqlx::Connection;
    let db = c.data_dir.join("cityops.db");
    let url = format!("sqlite://{}?mode=rw", db.display());
    let mut lock = sqlx::SqliteConnection::connect(&url)
        .await
        .expect("open cityops.db");
    sqlx::query("BEGIN EXCLUSIVE")
        .execute(&mut lock)
        .await
        .expect("take the write lock");
    lock
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn while_the_database_is_locked_no_puback_leaves_then_every_one_does() {
    use sqlx::Connection;
    let (c, mqtt) = start();
    c.wait_ready().await;
    let sensors = sensors(5);
    let t0 = now_secs() - 60.0;
    const N: usize = 50;

    let mut lock = lock_database(&c).await;

    let device = Device::connect(mqtt, "locked-out-dev").await;
    for i in 0..N {
        let s = &sensors[i % sensors.len()];
        device.publish(&sensor_topic(s), reading(s, i, t0)).await;
    }
    eventually("/readyz 503 and a failed write", WAIT, || async {
        let (status, _) = c.get_json("/readyz").await;
        let failed = c.counter("cityops_store_errors_total", "").await;
        (status == 503 && failed > 0.0).then_some(())
    })
    .await;
    assert_eq!(
        device.pubacks(),
        0,
        "PUBACKs arrived for readings the database could not have committed"
    );
    assert_eq!(
        c.counter("cityops_readings_stored_total", "").await,
        0.0,
        "nothing counted as stored"
    );
    assert_eq!(readings_of(&c, &sensors).await, 0, "and none visible");
    // /readyz says what is held and why: the database's error, every message waiting.
    let (_, ready) = c.get_json("/readyz").await;
    assert_eq!(ready["database"]["ok"], false, "{ready}");
    assert!(ready["database"]["error"].is_string(), "{ready}");
    assert_eq!(ready["devices"]["connections"], 1, "{ready}");
    assert_eq!(ready["devices"]["awaiting_commit"], N, "{ready}");

    sqlx::query("ROLLBACK")
        .execute(&mut lock)
        .await
        .expect("release the write lock");
    lock.close().await.expect("close");

    device.wait_pubacks(N).await;
    device.assert_undisturbed();
    assert_eq!(device.pubacks(), N, "one PUBACK each");
    assert_eq!(readings_of(&c, &sensors).await, N, "each stored once");
    assert_eq!(
        c.counter("cityops_readings_stored_total", "").await as usize,
        N
    );
    c.wait_ready().await;
    let (_, ready) = c.get_json("/readyz").await;
    assert_eq!(ready["devices"]["awaiting_commit"], 0, "{ready}");
}

/// A device whose in-flight window is full waits, unread, and `/readyz` says so and why;
/// when that device is taken over by a new connection of the same client id, it is no
/// longer counted, and once the database writes again nothing is held.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_held_back_device_is_shown_with_why_and_counted_off_when_it_goes() {
    use sqlx::Connection;
    let c = Cityops::start(&ServeSpec {
        extra_env: vec![("CITYOPS_MQTT_INFLIGHT".into(), "2".into())],
        ..Default::default()
    });
    c.wait_ready().await;
    let mqtt = c.mqtt.expect("embedded endpoint");
    let s = demo_sensor("air_quality", 0);
    let t0 = now_secs() - 60.0;
    let mut lock = lock_database(&c).await;

    let (mut raw, _) = Raw::connect(mqtt, &Connect::clean("held-dev")).await;
    for i in 0..5u16 {
        let p = publish_qos1(
            &sensor_topic(&s),
            i + 1,
            reading(&s, i.into(), t0).as_bytes(),
        );
        raw.send(&p).await.expect("publish");
    }
    let ready = eventually(
        "the device held back, the database failing",
        WAIT,
        || async {
            let (status, r) = c.get_json("/readyz").await;
            (status == 503 && r["devices"]["held_back"] == 1).then_some(r)
        },
    )
    .await;
    assert_eq!(
        ready["devices"]["awaiting_commit"], 2,
        "the window: {ready}"
    );
    let why = ready["devices"]["why_held_back"]
        .as_str()
        .unwrap_or_default();
    assert!(why.contains("database"), "{ready}");

    // The same client id again: the waiting connection is closed and counted off.
    let (_again, _) = Raw::connect(mqtt, &Connect::clean("held-dev")).await;
    raw.expect_closed("a takeover").await;
    eventually("nothing held back after the takeover", WAIT, || async {
        let (_, r) = c.get_json("/readyz").await;
        (r["devices"]["held_back"] == 0 && r["devices"]["connections"] == 1).then_some(())
    })
    .await;

    sqlx::query("ROLLBACK")
        .execute(&mut lock)
        .await
        .expect("release the write lock");
    lock.close().await.expect("close");
    c.wait_ready().await;
    eventually("nothing awaiting its commit", WAIT, || async {
        let (_, r) = c.get_json("/readyz").await;
        (r["devices"]["awaiting_commit"] == 0).then_some(())
    })
    .await;
    // The two taken in were committed; the device would send the other three again.
    assert_eq!(readings_of(&c, &[s]).await, 2);
}

/// A device that keeps sending and never reads its answers is closed once more than a
/// bounded number of them wait, instead of cityops queueing PINGRESPs without end.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_device_that_never_reads_its_answers_is_closed() {
    let (c, mqtt) = start();
    c.wait_ready().await;
    let errors = refused("connection_error");
    let before = c.counter("cityops_mqtt_refused_total", &errors).await;
    let socket = tokio::net::TcpSocket::new_v4().expect("socket");
    socket
        .set_recv_buffer_size(4096)
        .expect("small receive buffer");
    let mut raw = Raw(socket.connect(mqtt).await.expect("connect"));
    raw.send(&Connect::clean("deaf-dev").bytes())
        .await
        .expect("CONNECT");

    // The answers first fill the kernel's buffers (a few MB on loopback), then cityops'
    // queue; sending stops when the endpoint has closed the connection.
    let chunk = PINGREQ.repeat(32 * 1024);
    let mut sent = 0usize;
    loop {
        match tokio::time::timeout(WAIT, raw.send(&chunk)).await {
            Ok(Ok(())) => sent += chunk.len(),
            Ok(Err(_)) => break,
            Err(_) => panic!("the endpoint stopped reading after {sent} bytes, without closing"),
        }
        assert!(sent < 256 << 20, "still open after {sent} bytes of PINGREQ");
    }
    eventually("the deaf device counted", COUNTED_WITHIN, || async {
        let now = c.counter("cityops_mqtt_refused_total", &errors).await;
        (now >= before + 1.0).then_some(())
    })
    .await;
    // Everyone else is unaffected.
    Raw::connect(mqtt, &Connect::clean("hearing-dev")).await;
}

/// Names past their bound are not kept: a client id over 256 bytes is refused (CONNACK
/// 0x02), a filter longer than the device's command prefix plus 256 bytes is not granted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn names_past_their_bound_are_refused() {
    let (c, mqtt) = start();
    c.wait_ready().await;
    let long_id = "d".repeat(257);
    let mut raw = Raw::open(mqtt).await;
    raw.send(&Connect::clean(&long_id).bytes())
        .await
        .expect("CONNECT");
    assert_eq!(raw.read(4, "CONNACK").await, [0x20, 0x02, 0x00, 0x02]);
    raw.expect_closed("a refused CONNECT").await;

    let id = "d".repeat(256);
    let (mut raw, _) = Raw::connect(mqtt, &Connect::clean(&id)).await;
    let subscribe = |pkid: u16, filter: &str| {
        let mut body = pkid.to_be_bytes().to_vec();
        field(filter.as_bytes(), &mut body);
        body.push(1);
        packet(0x82, &body)
    };
    let fits = format!("devices/{id}/{}", "c".repeat(256));
    let too_long = format!("devices/{id}/{}", "c".repeat(257));
    raw.send(&subscribe(1, &fits)).await.expect("SUBSCRIBE");
    assert_eq!(raw.read(5, "SUBACK").await, [0x90, 0x03, 0x00, 0x01, 0x01]);
    raw.send(&subscribe(2, &too_long)).await.expect("SUBSCRIBE");
    assert_eq!(raw.read(5, "SUBACK").await, [0x90, 0x03, 0x00, 0x02, 0x80]);
}
