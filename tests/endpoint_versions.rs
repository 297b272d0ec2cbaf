//! The embedded MQTT endpoint speaks MQTT 5 as well as 3.1.1, and with
//! `mqtt.device_passwords` set lets in only devices that log in with a listed password:
//! an MQTT 5 device is told the in-flight window, may leave its client id to cityops and
//! use topic aliases; every reading of both versions is stored once; wrong or missing
//! credentials are refused with the code each version has for it, by two independent
//! clients (rumqttc and `mosquitto_pub`).

mod common;

use bytes::BytesMut;
use common::*;
use rumqttc::v5::mqttbytes::v5::{
    ConnAck, Connect, ConnectReturnCode, Packet, Publish, PublishProperties,
};
use rumqttc::v5::mqttbytes::{QoS, v5};
use serde_json::json;
use std::process::{Command, Stdio};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const WAIT: Duration = Duration::from_secs(60);
const DEVICE_PASSWORD: &str = "pump-password-0123";

fn reading(s: &DemoSensor, i: usize, t0: f64) -> String {
    json!([{ "n": s.metrics[0], "v": 1.0, "t": t0 + i as f64 / 1000.0 }]).to_string()
}

/// A raw MQTT 5 connection written and read with the codec.
struct Raw5 {
    socket: TcpStream,
    buf: BytesMut,
}

impl Raw5 {
    async fn connect(addr: std::net::SocketAddr, connect: Connect) -> (Self, ConnAck) {
        let socket = TcpStream::connect(addr).await.expect("connect");
        let mut raw = Self {
            socket,
            buf: BytesMut::new(),
        };
        raw.send(Packet::Connect(connect, None, None)).await;
        match raw.next().await {
            Some(Packet::ConnAck(a)) => (raw, a),
            other => panic!("expected CONNACK, got {other:?}"),
        }
    }

    async fn send(&mut self, p: Packet) {
        let mut out = BytesMut::new();
        p.write(&mut out, None).expect("encode");
        self.socket.write_all(&out).await.expect("write");
    }

    /// The next packet, or `None` once the server closed the connection.
    async fn next(&mut self) -> Option<Packet> {
        loop {
            let before = self.buf.clone();
            match Packet::read(&mut self.buf, None) {
                Ok(p) => return Some(p),
                Err(rumqttc::v5::mqttbytes::Error::InsufficientBytes(_)) => {}
                Err(e) => panic!("server sent something unreadable: {e}: {before:x?}"),
            }
            let n = tokio::time::timeout(WAIT, self.socket.read_buf(&mut self.buf))
                .await
                .expect("the server answers")
                .expect("read");
            if n == 0 {
                return None;
            }
        }
    }
}

fn connect5(id: &str) -> Connect {
    Connect {
        keep_alive: 30,
        client_id: id.into(),
        clean_start: true,
        properties: None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_mqtt5_device_is_told_its_window_and_every_reading_is_stored_once() {
    let c = Cityops::start(&ServeSpec {
        extra_env: vec![("CITYOPS_MQTT_INFLIGHT".into(), "40".into())],
        ..Default::default()
    });
    c.wait_ready().await;
    let addr = c.mqtt.expect("embedded endpoint");
    let sensors: Vec<DemoSensor> = (0..3).map(|i| demo_sensor("air_quality", i)).collect();
    let t0 = now_secs();

    // No client id: cityops gives one and says which.
    let (mut dev, ack) = Raw5::connect(addr, connect5("")).await;
    assert_eq!(ack.code, ConnectReturnCode::Success);
    let props = ack.properties.expect("CONNACK properties");
    assert_eq!(props.receive_max, Some(40), "the in-flight window");
    let assigned = props
        .assigned_client_identifier
        .expect("an assigned client id");
    assert!(assigned.starts_with("cityops-auto-"), "{assigned}");
    assert!(props.topic_alias_max.unwrap_or(0) > 0, "aliases offered");

    // Topic alias 1 set by the first publish, then used alone.
    const N: usize = 30;
    let topic = sensor_topic(&sensors[0]);
    for i in 0..N {
        let alias = PublishProperties {
            topic_alias: Some(1),
            ..Default::default()
        };
        let mut p = Publish::new(
            if i == 0 { topic.as_str() } else { "" },
            QoS::AtLeastOnce,
            reading(&sensors[0], i, t0),
            Some(alias),
        );
        p.pkid = u16::try_from(i + 1).expect("pkid");
        dev.send(Packet::Publish(p)).await;
    }
    let mut acked = 0;
    while acked < N {
        match dev.next().await {
            Some(Packet::PubAck(a)) => {
                assert_eq!(a.reason, v5::PubAckReason::Success);
                acked += 1;
            }
            Some(_) => {}
            None => panic!("closed after {acked} PUBACKs"),
        }
    }
    eventually("the aliased readings stored", WAIT, || async {
        (readings_of(&c, &sensors[..1]).await == N).then_some(())
    })
    .await;

    // An alias never set up is a protocol error: that connection is told and closed.
    let (mut other, _) = Raw5::connect(addr, connect5("alias-stranger")).await;
    let stray = PublishProperties {
        topic_alias: Some(9),
        ..Default::default()
    };
    other
        .send(Packet::Publish(Publish::new(
            "",
            QoS::AtMostOnce,
            "{}",
            Some(stray),
        )))
        .await;
    match other.next().await {
        Some(Packet::Disconnect(d)) => {
            assert_eq!(d.reason_code, v5::DisconnectReasonCode::MalformedPacket)
        }
        got => panic!("expected DISCONNECT, got {got:?}"),
    }
    assert!(other.next().await.is_none(), "closed after the DISCONNECT");
    // So is an alias for a topic longer than a connection keeps (256 bytes).
    let (mut other, _) = Raw5::connect(addr, connect5("alias-long")).await;
    let long = PublishProperties {
        topic_alias: Some(2),
        ..Default::default()
    };
    let topic = format!("city/x/sensors/{}", "s".repeat(256));
    other
        .send(Packet::Publish(Publish::new(
            topic,
            QoS::AtMostOnce,
            "{}",
            Some(long),
        )))
        .await;
    match other.next().await {
        Some(Packet::Disconnect(d)) => {
            assert_eq!(d.reason_code, v5::DisconnectReasonCode::MalformedPacket)
        }
        got => panic!("expected DISCONNECT, got {got:?}"),
    }

    // rumqttc's MQTT 5 client: a persistent session (expiry above 0) is present when it
    // comes back, and its readings are stored beside the first device's.
    let mut opts = rumqttc::v5::MqttOptions::new("v5-persistent", "127.0.0.1", addr.port());
    opts.set_clean_start(false)
        .set_session_expiry_interval(Some(3600));
    for round in 0..2 {
        let (client, mut el) = rumqttc::v5::AsyncClient::new(opts.clone(), 100);
        let present = loop {
            match el.poll().await.expect("MQTT 5 connection") {
                rumqttc::v5::Event::Incoming(Packet::ConnAck(a)) => break a.session_present,
                _ => continue,
            }
        };
        assert_eq!(present, round == 1, "session present on round {round}");
        let s = &sensors[1 + round];
        for i in 0..10 {
            client
                .publish(sensor_topic(s), QoS::AtLeastOnce, false, reading(s, i, t0))
                .await
                .expect("publish");
        }
        let mut acks = 0;
        while acks < 10 {
            if let rumqttc::v5::Event::Incoming(Packet::PubAck(_)) =
                el.poll().await.expect("MQTT 5 connection")
            {
                acks += 1;
            }
        }
        client.disconnect().await.expect("disconnect");
        while el.poll().await.is_ok() {}
    }
    assert_eq!(readings_of(&c, &sensors).await, N + 20, "each reading once");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unsupported_protocol_version_is_refused_with_a_connack() {
    let c = Cityops::start(&ServeSpec::default());
    c.wait_ready().await;
    let mut s = TcpStream::connect(c.mqtt.expect("endpoint"))
        .await
        .expect("connect");
    // MQTT 3.1 ("MQIsdp", level 3), which cityops does not speak.
    let mut connect = vec![0x10, 0x14, 0x00, 0x06];
    connect.extend_from_slice(b"MQIsdp");
    connect.extend_from_slice(&[0x03, 0x02, 0x00, 0x3c, 0x00, 0x06]);
    connect.extend_from_slice(b"old-31");
    s.write_all(&connect).await.expect("write");
    let mut answer = Vec::new();
    tokio::time::timeout(WAIT, s.read_to_end(&mut answer))
        .await
        .expect("closed")
        .expect("read");
    assert_eq!(
        answer,
        [0x20, 0x02, 0x00, 0x01],
        "CONNACK: protocol version refused"
    );
}

/// A password file made by `cityops device-password`, with one device.
fn password_file(dir: &std::path::Path) -> std::path::PathBuf {
    let file = dir.join("devices.passwd");
    let mut child = Command::new(env!("CARGO_BIN_EXE_cityops"))
        .args(["device-password", "--file"])
        .arg(&file)
        .args(["pump-7", "--password-stdin"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("cityops device-password");
    use std::io::Write;
    writeln!(child.stdin.take().expect("stdin"), "{DEVICE_PASSWORD}").expect("password");
    let out = child.wait_with_output().expect("device-password");
    assert!(out.status.success(), "device-password failed");
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("pump-7"),
        "it says which device"
    );
    let text = std::fs::read_to_string(&file).expect("the file");
    assert!(text.starts_with("pump-7:$argon2id$"), "{text}");
    assert!(!text.contains(DEVICE_PASSWORD), "no password in the clear");
    file
}

/// `mosquitto_pub` publishing one QoS 1 message; its exit status and what it printed.
fn mosquitto_pub(port: u16, topic: &str, message: &str, login: &[&str]) -> (bool, String) {
    let out = Command::new("mosquitto_pub")
        .args(["-h", "127.0.0.1", "-p", &port.to_string(), "-q", "1", "-i"])
        .arg("mosq-pump")
        .args(["-t", topic, "-m", message])
        .args(login)
        .output()
        .expect("mosquitto_pub (scripts/test-deps.sh installs mosquitto-clients)");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_device_passwords_only_listed_devices_get_in() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = password_file(dir.path());
    let c = Cityops::start(&ServeSpec {
        extra_env: vec![(
            "CITYOPS_MQTT_DEVICE_PASSWORDS".into(),
            file.display().to_string(),
        )],
        ..Default::default()
    });
    c.wait_ready().await;
    let addr = c.mqtt.expect("endpoint");
    let s = demo_sensor("air_quality", 0);
    let t0 = now_secs();

    // rumqttc, 3.1.1: no login, a wrong password, then the right one.
    let code = |login: Option<(&str, &str)>| {
        let mut opts = rumqttc::MqttOptions::new("rumqttc-pump", "127.0.0.1", addr.port());
        if let Some((u, p)) = login {
            opts.set_credentials(u, p);
        }
        async move {
            let (_client, mut el) = rumqttc::AsyncClient::new(opts, 10);
            match el.poll().await {
                Ok(rumqttc::Event::Incoming(rumqttc::Packet::ConnAck(a))) => Ok(a.code),
                Err(rumqttc::ConnectionError::ConnectionRefused(code)) => Ok(code),
                other => Err(format!("{other:?}")),
            }
        }
    };
    use rumqttc::ConnectReturnCode as R;
    assert_eq!(code(None).await, Ok(R::NotAuthorized));
    assert_eq!(
        code(Some(("pump-7", "not-the-password"))).await,
        Ok(R::BadUserNamePassword)
    );
    assert_eq!(
        code(Some(("pump-8", DEVICE_PASSWORD))).await,
        Ok(R::BadUserNamePassword),
        "an unlisted device"
    );
    assert_eq!(
        code(Some(("pump-7", DEVICE_PASSWORD))).await,
        Ok(R::Success)
    );

    // MQTT 5 without a login gets 5's own code.
    let (_, ack) = Raw5::connect(addr, connect5("v5-stranger")).await;
    assert_eq!(ack.code, ConnectReturnCode::NotAuthorized);

    // mosquitto_pub, a client of its own: refused without the password, stored with it.
    let topic = sensor_topic(&s);
    let (ok, _) = mosquitto_pub(addr.port(), &topic, &reading(&s, 0, t0), &[]);
    assert!(!ok, "mosquitto_pub without a login must fail");
    let (ok, err) = mosquitto_pub(
        addr.port(),
        &topic,
        &reading(&s, 1, t0),
        &["-u", "pump-7", "-P", DEVICE_PASSWORD],
    );
    assert!(ok, "mosquitto_pub with the password: {err}");
    eventually("the logged-in reading stored", WAIT, || async {
        (readings_of(&c, std::slice::from_ref(&s)).await == 1).then_some(())
    })
    .await;
    let refused = c
        .counter("cityops_mqtt_refused_total", "reason=\"connect_failed\"")
        .await;
    assert!(refused >= 5.0, "refusals counted: {refused}");
}
