//! Bad input never stops the pipeline: each rejection reason is counted by reason, kept
//! as a dead letter with its raw bytes, and a good message after all of them is stored.

mod common;

use common::*;
use serde_json::{Value, json};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const WAIT: Duration = Duration::from_secs(30);

/// The dead letters, as `engineer` (who may read them; the harness's duty officer may not).
async fn dead_letters(c: &Cityops, engineer: &reqwest::Client) -> Vec<Value> {
    let r = engineer
        .get(c.url("/api/v1/dead-letters?limit=1000"))
        .send()
        .await
        .expect("GET dead letters");
    assert_eq!(r.status().as_u16(), 200);
    let v: Value = r.json().await.unwrap_or_default();
    v.as_array().cloned().unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_rejection_reason_is_counted_kept_and_survived() {
    let c = Cityops::start(&ServeSpec::default());
    c.wait_ready().await;
    let broker = c.mqtt.expect("embedded broker");
    let mut p = Publisher::connect(broker, "bad-input-pub").await;
    let s = demo_sensor("waterlogging", 1);
    let topic = sensor_topic(&s);
    let now = now_secs();
    let (_, cam_district) = demo_camera();
    let other = demo_sensor("waterlogging", 3);

    let oversize = format!(
        "[{{\"n\":\"depth\",\"v\":1,\"t\":{now},\"x\":\"{}\"}}]",
        "a".repeat(70_000)
    );
    let cases: Vec<(&str, String, Vec<u8>)> = vec![
        ("malformed", topic.clone(), b"{not json".to_vec()),
        ("malformed", topic.clone(), b"\xff\xfe\x00binary".to_vec()),
        (
            "non_finite",
            topic.clone(),
            format!("[{{\"n\":\"depth\",\"v\":NaN,\"t\":{now}}}]").into_bytes(),
        ),
        (
            "non_finite",
            topic.clone(),
            format!("[{{\"n\":\"depth\",\"v\":1e999,\"t\":{now}}}]").into_bytes(),
        ),
        (
            "out_of_range",
            topic.clone(),
            json!([{"n": "depth", "v": 1.0e7, "t": now}])
                .to_string()
                .into_bytes(),
        ),
        (
            "unknown_sensor",
            "city/d/sensors/NOPE-404".into(),
            json!([{"n": "depth", "v": 1.0, "t": now}])
                .to_string()
                .into_bytes(),
        ),
        (
            "unknown_metric",
            topic.clone(),
            json!([{"n": "colour", "v": 1.0, "t": now}])
                .to_string()
                .into_bytes(),
        ),
        (
            "bad_coordinates",
            topic.clone(),
            json!({"t": now, "v": 1.0, "lon": 200.0, "lat": 30.0})
                .to_string()
                .into_bytes(),
        ),
        (
            "future_timestamp",
            topic.clone(),
            json!([{"n": "depth", "v": 1.0, "t": now + 86_400.0}])
                .to_string()
                .into_bytes(),
        ),
        (
            "stale_timestamp",
            topic.clone(),
            json!([{"n": "depth", "v": 1.0, "t": now - 30.0 * 86_400.0}])
                .to_string()
                .into_bytes(),
        ),
        ("oversize", topic.clone(), oversize.into_bytes()),
        (
            "malformed",
            topic.clone(),
            // Invalid UTF-8 in a field the compact form ignores.
            [
                format!("{{\"t\":{now},\"v\":1.0,\"note\":\"").as_bytes(),
                b"\xff\"}",
            ]
            .concat(),
        ),
        (
            "conflict",
            sensor_topic(&other),
            json!([{"n": "depth", "v": 1.0, "t": now - 20.0},
                   {"n": "depth", "v": 2.0, "t": now - 20.0}])
            .to_string()
            .into_bytes(),
        ),
        (
            "unknown_camera",
            format!("city/{cam_district}/video/CAM-NOPE"),
            json!({"id": "a-1", "event_type": "smoke", "confidence": 0.9, "time": now})
                .to_string()
                .into_bytes(),
        ),
    ];
    for (_, t, payload) in &cases {
        p.publish(t, payload.clone()).await;
    }
    // A duplicate: the same good reading twice.
    let dup = json!([{"n": "depth", "v": 4.0, "t": now - 10.0}]).to_string();
    p.publish(&topic, dup.clone()).await;
    p.flush().await;
    c.wait_readings(&s.id, 1, WAIT).await;
    p.publish(&topic, dup.clone()).await;
    // And a good one after everything: the pipeline is still moving.
    p.publish(
        &topic,
        json!([{"n": "depth", "v": 5.0, "t": now}]).to_string(),
    )
    .await;
    p.flush().await;
    let rs = c.wait_readings(&s.id, 2, WAIT).await;
    assert_eq!(rs.len(), 2, "exactly the two good readings: {rs:?}");

    let mut expected: std::collections::BTreeMap<&str, usize> = Default::default();
    for (reason, _, _) in &cases {
        *expected.entry(reason).or_default() += 1;
    }
    expected.insert("duplicate", 1);
    add_user(&c.data_dir, &[], "engineer", &["--role", "engineer"]);
    let engineer = client_with(&login(c.http, "engineer", TEST_PASSWORD).expect("login"));
    let letters = eventually("all dead letters", WAIT, || async {
        let l = dead_letters(&c, &engineer).await;
        (l.len() > cases.len()).then_some(l)
    })
    .await;
    for (reason, n) in &expected {
        let count = c
            .counter(
                "cityops_ingest_rejected_total",
                &format!("reason=\"{reason}\""),
            )
            .await;
        assert_eq!(count as usize, *n, "counter for {reason}");
        let kept = letters.iter().filter(|d| d["reason"] == *reason).count();
        assert_eq!(kept, *n, "dead letters for {reason}: {letters:#?}");
    }
    // Every dead letter is counted, duplicates included.
    let n = letters.len() as f64;
    eventually(
        "cityops_dead_letters_total = dead letters",
        WAIT,
        || async {
            let total = c.counter("cityops_dead_letters_total", "").await;
            (total == n).then_some(())
        },
    )
    .await;
    // The raw bytes are kept as sent (truncated to the configured size).
    let malformed: Vec<_> = letters
        .iter()
        .filter(|d| d["reason"] == "malformed")
        .collect();
    assert!(malformed.iter().any(|d| d["raw"] == "{not json"));
    assert!(
        malformed.iter().any(|d| d["raw"].is_array()),
        "non-UTF-8 raw bytes kept as bytes"
    );
    let big = letters
        .iter()
        .find(|d| d["reason"] == "oversize")
        .expect("oversize letter");
    assert_eq!(big["raw"].as_str().map(str::len), Some(4096));
    assert!(
        letters
            .iter()
            .all(|d| d["source"].as_str().is_some_and(|s| s.starts_with("mqtt:")))
    );
    p.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn video_alert_webhook_stores_once_and_explains_rejections() {
    let c = Cityops::start(&ServeSpec::default());
    c.wait_ready().await;
    let (camera, _) = demo_camera();
    let alert = json!({
        "id": format!("vai-{}", uuid::Uuid::now_v7().simple()),
        "camera_id": camera,
        "event_type": "waterlogging",
        "confidence": 0.91,
        "time": chrono::Utc::now().to_rfc3339(),
        "snapshot_url": "http://video.example/snap/1.jpg"
    });
    let post = |body: Vec<u8>| {
        let req = c
            .http_client
            .post(c.url("/api/v1/video-alerts"))
            .header("content-type", "application/json")
            .body(body);
        async move {
            let r = req.send().await.expect("POST");
            let status = r.status().as_u16();
            (status, r.json::<Value>().await.unwrap_or(Value::Null))
        }
    };
    let (status, v) = post(alert.to_string().into_bytes()).await;
    assert_eq!(status, 201, "{v}");
    let (status, v) = post(alert.to_string().into_bytes()).await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["duplicate"], true);
    let (_, stored) = c.get_json("/api/v1/video-alerts").await;
    let list = stored.as_array().expect("list");
    assert_eq!(
        list.iter()
            .filter(|a| a["source_id"] == alert["id"])
            .count(),
        1
    );
    assert_eq!(list[0]["camera"], camera.as_str());
    assert!(
        list[0]["location"]["grid"].is_string(),
        "placed in its grid: {}",
        list[0]
    );

    let mut bad = alert.clone();
    bad["camera_id"] = json!("CAM-NOPE");
    bad["id"] = json!("vai-bad-1");
    let (status, v) = post(bad.to_string().into_bytes()).await;
    assert_eq!(status, 422);
    assert_eq!(v["code"], "unknown_camera");
    let mut bad = alert.clone();
    bad["confidence"] = json!(7.0);
    bad["id"] = json!("vai-bad-2");
    let (status, v) = post(bad.to_string().into_bytes()).await;
    assert_eq!(status, 422, "{v}");
    let (status, v) = post(b"<xml/>".to_vec()).await;
    assert_eq!(status, 422);
    assert_eq!(v["code"], "malformed");
    // The server answers 413 from the headers alone and may close the connection
    // before a body is written, so send only the headers, as a client that waits for
    // the verdict would.
    let head = format!(
        "POST /api/v1/video-alerts HTTP/1.1\r\nHost: {}\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n",
        c.http,
        2 << 20
    );
    let mut sock = tokio::net::TcpStream::connect(c.http)
        .await
        .expect("connect");
    sock.write_all(head.as_bytes()).await.expect("send headers");
    let mut reply = vec![0u8; 512];
    let n = sock.read(&mut reply).await.expect("read reply");
    let reply = String::from_utf8_lossy(&reply[..n]);
    assert!(
        reply.starts_with("HTTP/1.1 413"),
        "bodies over the limit are refused: {reply}"
    );
}

/// Above ingest's payload limit and below the listener's packet limit a payload is an
/// `oversize` dead letter (also past the old 2 × limit + 64 KiB cut-off of the embedded
/// broker); above the listener's limit the connection is refused, and that is counted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversize_payloads_are_dead_lettered_up_to_the_listener_limit_and_counted_beyond() {
    let c = Cityops::start(&ServeSpec::default());
    c.wait_ready().await;
    let broker = c.mqtt.expect("embedded broker");
    let s = demo_sensor("waterlogging", 2);
    let topic = sensor_topic(&s);
    let now = now_secs();
    let payload = |size: usize| {
        format!(
            "[{{\"n\":\"depth\",\"v\":1,\"t\":{now},\"x\":\"{}\"}}]",
            "a".repeat(size)
        )
    };

    add_user(&c.data_dir, &[], "engineer", &["--role", "engineer"]);
    let engineer = client_with(&login(c.http, "engineer", TEST_PASSWORD).expect("login"));
    let mut p = Publisher::connect(broker, "oversize-pub").await;
    p.publish(&topic, payload(300_000)).await;
    // PUBACK means ingest took it: it was not cut off on the way.
    p.flush().await;
    let letters = eventually("the oversize dead letter", WAIT, || async {
        let l = dead_letters(&c, &engineer).await;
        l.iter().any(|d| d["reason"] == "oversize").then_some(l)
    })
    .await;
    let letter = letters
        .iter()
        .find(|d| d["reason"] == "oversize")
        .expect("oversize letter");
    assert!(
        letter["detail"]
            .as_str()
            .is_some_and(|d| d.contains("more than the limit of 65536")),
        "{letter}"
    );
    assert_eq!(
        c.counter("cityops_ingest_rejected_total", "reason=\"oversize\"")
            .await,
        1.0
    );
    assert_eq!(
        c.counter("cityops_mqtt_refused_total", "reason=\"too_large\"")
            .await,
        0.0
    );
    p.close().await;

    // Past mqtt.max_packet_bytes (1 MiB by default) the listener drops the client.
    let mut huge = Publisher::connect(broker, "too-large-pub").await;
    huge.publish(&topic, payload(1_200_000)).await;
    eventually("a too_large refusal counted", WAIT, || async {
        let n = c
            .counter("cityops_mqtt_refused_total", "reason=\"too_large\"")
            .await;
        (n >= 1.0).then_some(())
    })
    .await;
    // Nothing of it reached ingest.
    assert_eq!(
        c.counter("cityops_ingest_rejected_total", "reason=\"oversize\"")
            .await,
        1.0
    );
    let _ = huge.client.disconnect().await;
}
