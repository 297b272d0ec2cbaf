//! Nothing acknowledged is lost: readings published while cityops is stopped, while its
//! database is unreachable, or around a SIGKILL, are all stored once it is back —
//! counted exactly, none twice, through an external broker with a persistent session
//! (Mosquitto). The embedded endpoint's own guarantee is in `tests/endpoint.rs`.

mod common;

use common::*;
use serde_json::json;
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(60);

/// `n` readings spread over `sensors`, each with a distinct time.
async fn publish_readings(
    p: &mut Publisher,
    sensors: &[DemoSensor],
    n: usize,
    t0: f64,
    offset: usize,
) {
    for i in offset..offset + n {
        let s = &sensors[i % sensors.len()];
        let metric = &s.metrics[0];
        let payload = json!([{ "n": metric, "v": 1.0, "t": t0 + i as f64 / 1000.0 }]).to_string();
        p.publish(&sensor_topic(s), payload).await;
        if i % 200 == 0 {
            p.flush().await;
        }
    }
    p.flush().await;
}

async fn wait_stored(c: &Cityops, sensors: &[DemoSensor], n: usize) -> usize {
    eventually(&format!("{n} readings stored"), WAIT, || async {
        let got = readings_of(c, sensors).await;
        (got >= n).then_some(got)
    })
    .await
}

fn sensors() -> Vec<DemoSensor> {
    (0..5).map(|i| demo_sensor("air_quality", i)).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readings_published_while_cityops_is_stopped() {
    let Some(mq) = Mosquitto::start() else { return };
    let data = tempfile::tempdir().expect("tempdir");
    let spec = ServeSpec {
        broker: Some(mq.url()),
        data_dir: Some(data.path().to_owned()),
        client_id: Some(format!("nl-stop-{}", uuid::Uuid::now_v7().simple())),
        ..Default::default()
    };
    let sensors = sensors();
    let mut c = Cityops::start(&spec);
    c.wait_ready().await; // the persistent session now exists on the broker
    c.sigterm();

    let mut p = Publisher::connect(mq.addr, "nl-stop-pub").await;
    publish_readings(&mut p, &sensors, 1000, now_secs(), 0).await;
    p.close().await;

    let c = Cityops::start(&spec);
    let got = wait_stored(&c, &sensors, 1000).await;
    assert_eq!(got, 1000, "every reading stored exactly once");
}

/// What the broker holds for cityops' persistent session survives a restart of the
/// broker (SIGTERM, as a service manager stops it): Mosquitto must be able to write its
/// persistence directory, which it cannot when started as root on a root-owned one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readings_queued_on_the_broker_survive_its_restart() {
    let Some(mut mq) = Mosquitto::start() else {
        return;
    };
    let data = tempfile::tempdir().expect("tempdir");
    let spec = ServeSpec {
        broker: Some(mq.url()),
        data_dir: Some(data.path().to_owned()),
        client_id: Some(format!("nl-mqrestart-{}", uuid::Uuid::now_v7().simple())),
        ..Default::default()
    };
    let sensors = sensors();
    let mut c = Cityops::start(&spec);
    c.wait_ready().await; // the persistent session now exists on the broker
    c.sigterm();

    let mut p = Publisher::connect(mq.addr, "nl-mqrestart-pub").await;
    publish_readings(&mut p, &sensors, 1000, now_secs(), 0).await;
    p.close().await;
    mq.restart();

    let c = Cityops::start(&spec);
    let got = wait_stored(&c, &sensors, 1000).await;
    assert_eq!(
        got, 1000,
        "every reading queued before the restart stored exactly once"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readings_published_while_the_database_is_unreachable() {
    let Some(mq) = Mosquitto::start() else { return };
    let Some(db) = PgDb::create().await else {
        return;
    };
    let proxy = Proxy::start(db.pg_addr()).await;
    let c = Cityops::start(&ServeSpec {
        broker: Some(mq.url()),
        database: Some(db.url_via(proxy.addr)),
        client_id: Some(format!("nl-db-{}", uuid::Uuid::now_v7().simple())),
        ..Default::default()
    });
    c.wait_ready().await;
    let sensors = sensors();
    let t0 = now_secs();
    let mut p = Publisher::connect(mq.addr, "nl-db-pub").await;
    publish_readings(&mut p, &sensors, 300, t0, 0).await;
    wait_stored(&c, &sensors, 300).await;

    proxy.cut();
    publish_readings(&mut p, &sensors, 1500, t0, 300).await;
    // /readyz says why it is not ready.
    let why = eventually("/readyz to report the database", WAIT, || async {
        let (status, v) = c.get_json("/readyz").await;
        (status == 503 && v["database"]["ok"] == false).then_some(v)
    })
    .await;
    assert!(why["database"]["error"].is_string(), "{why}");

    proxy.restore();
    let got = wait_stored(&c, &sensors, 1800).await;
    assert_eq!(got, 1800, "every reading stored exactly once");
    c.wait_ready().await;
    p.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_mid_stream_loses_nothing_acknowledged() {
    let Some(mq) = Mosquitto::start() else { return };
    let data = tempfile::tempdir().expect("tempdir");
    let spec = ServeSpec {
        broker: Some(mq.url()),
        data_dir: Some(data.path().to_owned()),
        client_id: Some(format!("nl-kill-{}", uuid::Uuid::now_v7().simple())),
        ..Default::default()
    };
    let sensors = sensors();
    let mut c = Cityops::start(&spec);
    c.wait_ready().await;

    let t0 = now_secs();
    let mut p = Publisher::connect(mq.addr, "nl-kill-pub").await;
    publish_readings(&mut p, &sensors, 1000, t0, 0).await;
    // Mid-stream: some stored, more in flight.
    eventually("the first readings stored", WAIT, || async {
        (readings_of(&c, &sensors).await > 0).then_some(())
    })
    .await;
    let more = tokio::spawn(async move {
        publish_readings(&mut p, &sensors_clone(), 2000, t0, 1000).await;
        p.close().await;
    });
    c.sigkill();
    more.await.expect("publisher");

    let c = Cityops::start(&spec);
    let got = wait_stored(&c, &sensors, 3000).await;
    assert_eq!(got, 3000, "every reading stored exactly once");
}

fn sensors_clone() -> Vec<DemoSensor> {
    sensors()
}

/// A broker may have more unacknowledged messages out to cityops than its queue holds
/// (here Mosquitto allows 1000 per session, cityops queues 20): intake then waits for
/// room while acknowledgements pile up, and nothing may stall or be lost.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broker_sending_more_than_the_queue_holds_does_not_stall_intake() {
    let Some(mq) = Mosquitto::start() else { return };
    let env = |k: &str, v: &str| (k.to_owned(), v.to_owned());
    let c = Cityops::start(&ServeSpec {
        broker: Some(mq.url()),
        client_id: Some(format!("nl-flood-{}", uuid::Uuid::now_v7().simple())),
        extra_env: vec![
            env("CITYOPS_MQTT_INFLIGHT", "10"),
            env("CITYOPS_MQTT_SESSIONS", "2"),
            env("CITYOPS_INGEST_QUEUE_CAPACITY", "20"),
        ],
        ..Default::default()
    });
    c.wait_ready().await;
    let sensors = sensors();
    let mut p = Publisher::connect(mq.addr, "nl-flood-pub").await;
    publish_readings(&mut p, &sensors, 5000, now_secs(), 0).await;
    p.close().await;
    let got = wait_stored(&c, &sensors, 5000).await;
    assert_eq!(got, 5000, "every reading stored exactly once");
}
