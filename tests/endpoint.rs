//! The embedded MQTT endpoint acknowledges a device's QoS 1 message only after its
//! readings are committed: a SIGKILL of cityops loses nothing the device got a PUBACK for.

mod common;

use common::*;
use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS};
use serde_json::json;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(60);

fn sensors() -> Vec<DemoSensor> {
    (0..5).map(|i| demo_sensor("air_quality", i)).collect()
}

fn payload(sensors: &[DemoSensor], i: usize, t0: f64) -> (String, String) {
    let s = &sensors[i % sensors.len()];
    let p = json!([{ "n": s.metrics[0], "v": 1.0, "t": t0 + i as f64 / 1000.0 }]).to_string();
    (sensor_topic(s), p)
}

/// A device publishing QoS 1 and counting the PUBACKs it gets.
fn device(addr: std::net::SocketAddr, id: &str) -> (AsyncClient, Arc<AtomicUsize>) {
    let mut opts = MqttOptions::new(id, addr.ip().to_string(), addr.port());
    opts.set_keep_alive(Duration::from_secs(30))
        .set_inflight(100);
    let (client, mut el) = AsyncClient::new(opts, 200);
    let acked = Arc::new(AtomicUsize::new(0));
    let count = acked.clone();
    tokio::spawn(async move {
        loop {
            match el.poll().await {
                Ok(Event::Incoming(Packet::PubAck(_))) => {
                    count.fetch_add(1, Ordering::SeqCst);
                }
                Ok(_) => {}
                // cityops is gone: this device stops here.
                Err(_) => break,
            }
        }
    });
    (client, acked)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sigkill_loses_nothing_the_device_got_a_puback_for() {
    let data = tempfile::tempdir().expect("tempdir");
    let spec = ServeSpec {
        data_dir: Some(data.path().to_owned()),
        ..Default::default()
    };
    let sensors = sensors();
    let t0 = now_secs();
    const N: usize = 3000;

    let mut c = Cityops::start(&spec);
    c.wait_ready().await;
    let (client, acked) = device(c.mqtt.expect("embedded endpoint"), "endpoint-kill-dev");
    let publishing = {
        let (client, sensors) = (client.clone(), sensors.clone());
        tokio::spawn(async move {
            for i in 0..N {
                let (topic, p) = payload(&sensors, i, t0);
                if client
                    .publish(topic, QoS::AtLeastOnce, false, p)
                    .await
                    .is_err()
                {
                    break;
                }
            }
        })
    };
    eventually("some readings acknowledged", WAIT, || async {
        (acked.load(Ordering::SeqCst) >= 500).then_some(())
    })
    .await;
    c.sigkill();
    let got_puback = acked.load(Ordering::SeqCst);
    publishing.abort();
    assert!(got_puback < N, "the kill came mid-stream ({got_puback})");

    let c = Cityops::start(&spec);
    c.wait_ready().await;
    let after_restart = readings_of(&c, &sensors).await;
    assert!(
        after_restart >= got_puback,
        "{got_puback} acknowledged, only {after_restart} stored"
    );

    // The device sends everything again: what was stored is not stored twice.
    let (client, acked) = device(c.mqtt.expect("embedded endpoint"), "endpoint-kill-dev");
    for i in 0..N {
        let (topic, p) = payload(&sensors, i, t0);
        client
            .publish(topic, QoS::AtLeastOnce, false, p)
            .await
            .expect("publish");
    }
    eventually("every resent reading acknowledged", WAIT, || async {
        (acked.load(Ordering::SeqCst) >= N).then_some(())
    })
    .await;
    assert_eq!(
        readings_of(&c, &sensors).await,
        N,
        "every reading stored once"
    );
}
