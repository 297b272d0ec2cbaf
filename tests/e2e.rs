//! End to end: the real `cityops serve` on port 0, fed over MQTT, observed through the
//! store (REST), the live feed (`/ws`) and the incidents it raises. Once on embedded
//! defaults (the embedded MQTT endpoint + SQLite), once on Mosquitto + PostgreSQL.

mod common;

use common::*;
use serde_json::{Value, json};
use std::net::SocketAddr;
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(30);

fn senml(metric: &str, unit: &str, value: f64, t: f64) -> String {
    json!([{ "n": metric, "u": unit, "v": value, "t": t }]).to_string()
}

fn has_sensor_value(m: &Value, id: &str, value: f64) -> bool {
    m["sensors"].as_array().is_some_and(|list| {
        list.iter()
            .any(|s| s["id"] == id && s["value"].as_f64() == Some(value))
    })
}

fn has_incident_from(m: &Value, id: &str) -> bool {
    m["incidents"]
        .as_array()
        .is_some_and(|list| list.iter().any(|i| i["source"] == id))
}

async fn open_incidents_of(c: &Cityops, id: &str) -> Vec<Value> {
    let (_, v) = c.get_json("/api/v1/incidents?open=true&limit=10000").await;
    v.as_array()
        .map(|l| l.iter().filter(|i| i["source"] == id).cloned().collect())
        .unwrap_or_default()
}

async fn scenario(c: &Cityops, broker: SocketAddr) {
    c.wait_ready().await;
    let mut live = Live::connect(c).await;
    let first = live.next(WAIT).await;
    assert_eq!(
        first["type"], "snapshot",
        "the feed starts with a snapshot: {first}"
    );
    let seq0 = first["seq"].as_u64().expect("seq");

    let s = demo_sensor("waterlogging", 0);
    let mut p =
        Publisher::connect(broker, &format!("it-pub-{}", uuid::Uuid::now_v7().simple())).await;
    let t = now_secs();
    p.publish(&sensor_topic(&s), senml("depth", "cm", 12.5, t))
        .await;
    p.flush().await;

    // In the store.
    let rs = c.wait_readings(&s.id, 1, WAIT).await;
    assert_eq!(rs[0]["metric"], "depth");
    assert_eq!(rs[0]["value"], 12.5);

    // On the live feed, as an ordered delta.
    let m = live
        .until("the reading on /ws", WAIT, |m| {
            has_sensor_value(m, &s.id, 12.5)
        })
        .await;
    assert_eq!(m["type"], "delta");
    assert!(m["seq"].as_u64().expect("seq") > seq0);

    // Below the threshold: no incident yet.
    assert!(open_incidents_of(c, &s.id).await.is_empty());

    // Above it (27 cm, Beijing's road-closed line): one incident, on REST and /ws.
    p.publish(&sensor_topic(&s), senml("depth", "cm", 35.0, t + 1.0))
        .await;
    p.flush().await;
    let incidents = eventually("an incident for the sensor", WAIT, || async {
        let l = open_incidents_of(c, &s.id).await;
        (!l.is_empty()).then_some(l)
    })
    .await;
    assert_eq!(incidents.len(), 1);
    assert_eq!(incidents[0]["category"], "waterlogging");
    assert_eq!(incidents[0]["severity"], "orange");
    assert_eq!(incidents[0]["location"]["district"], s.district.as_str());
    live.until("the incident on /ws", WAIT, |m| has_incident_from(m, &s.id))
        .await;

    // A storm of over-threshold readings from that sensor adds evidence, not incidents.
    for i in 0..200 {
        p.publish(
            &sensor_topic(&s),
            senml(
                "depth",
                "cm",
                36.0 + f64::from(i) / 100.0,
                t + 2.0 + f64::from(i) / 1000.0,
            ),
        )
        .await;
    }
    p.flush().await;
    c.wait_readings(&s.id, 202, WAIT).await;
    let after = eventually("evidence counted", WAIT, || async {
        let l = open_incidents_of(c, &s.id).await;
        (l.len() == 1 && l[0]["count"].as_i64() == Some(201)).then_some(l)
    })
    .await;
    assert_eq!(
        after[0]["id"], incidents[0]["id"],
        "the same incident, updated"
    );
    assert!(after[0]["peak"].as_f64().expect("peak") >= 37.99);

    // Back below: the incident clears and closes.
    p.publish(&sensor_topic(&s), senml("depth", "cm", 3.0, t + 5.0))
        .await;
    p.flush().await;
    eventually("the incident to close", WAIT, || async {
        open_incidents_of(c, &s.id).await.is_empty().then_some(())
    })
    .await;
    p.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn embedded_broker_and_sqlite() {
    let c = Cityops::start(&ServeSpec::default());
    let broker = c.mqtt.expect("embedded broker address");
    scenario(&c, broker).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mosquitto_and_postgres() {
    let Some(mq) = Mosquitto::start() else { return };
    let Some(db) = PgDb::create().await else {
        return;
    };
    let c = Cityops::start(&ServeSpec {
        broker: Some(mq.url()),
        database: Some(db.url.clone()),
        client_id: Some(format!("it-{}", uuid::Uuid::now_v7().simple())),
        ..Default::default()
    });
    assert!(c.mqtt.is_none(), "no embedded broker with an external one");
    scenario(&c, mq.addr).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rest_and_city_layers_answer() {
    let c = Cityops::start(&ServeSpec::default());
    c.wait_ready().await;
    let (status, sensors) = c.get_json("/api/v1/sensors?kind=gas").await;
    assert_eq!(status, 200);
    let list = sensors.as_array().expect("list");
    assert!(!list.is_empty());
    assert!(list.iter().all(|s| s["kind"] == "gas"));
    for layer in ["districts", "streets", "grids", "sensors", "cameras"] {
        let (status, v) = c.get_json(&format!("/api/v1/city/{layer}.geojson")).await;
        assert_eq!(status, 200, "{layer}");
        assert_eq!(v["type"], "FeatureCollection", "{layer}");
    }
    let (status, v) = c.get_json("/api/v1/city/nope.geojson").await;
    assert_eq!(status, 404);
    assert_eq!(v["code"], "not_found");
    let (status, v) = c.get_json("/api/v1/sensors/NOPE-1/readings").await;
    assert_eq!(status, 404, "{v}");
    let s = demo_sensor("gas", 0);
    let (status, v) = c
        .get_json(&format!("/api/v1/sensors/{}/readings?from=yesterday", s.id))
        .await;
    assert_eq!(status, 400);
    assert!(
        v["message"].as_str().unwrap_or_default().contains("from"),
        "{v}"
    );
    let m = c.metrics().await;
    for name in [
        "cityops_messages_in_total",
        "cityops_ingest_rejected_total",
        "cityops_readings_stored_total",
        "cityops_ws_clients",
    ] {
        assert!(
            m.contains(&format!("# TYPE {name} ")),
            "{name} missing from /metrics:\n{m}"
        );
    }
}

/// `serve --demo` (here via its setting): the in-process simulator feeds the city through
/// the embedded broker; everything it sends is valid, and anomalies raise incidents.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demo_mode_feeds_the_city_and_raises_incidents() {
    let env = |k: &str, v: &str| (k.to_owned(), v.to_owned());
    let c = Cityops::start(&ServeSpec {
        extra_env: vec![
            env("CITYOPS_DEMO_SIMULATE", "true"),
            env("CITYOPS_DEMO_RATE", "3000"),
            env("CITYOPS_DEMO_ANOMALY_RATE", "0.02"),
            env("CITYOPS_DEMO_ALERTS_PER_MIN", "600"),
            // The shipped rules directory, for its indicator set.
            env("CITYOPS_RULES_DIR", &path_str(&repo().join("rules"))),
        ],
        ..Default::default()
    });
    c.wait_ready().await;
    eventually(
        "simulated readings stored, an incident open, alerts stored",
        WAIT,
        || async {
            let stored = c.counter("cityops_readings_stored_total", "").await;
            let alerts = c.counter("cityops_video_alerts_stored_total", "").await;
            let (_, open) = c.get_json("/api/v1/incidents?open=true&limit=10").await;
            let open = open.as_array().map_or(0, Vec::len);
            (stored > 2000.0 && alerts > 0.0 && open > 0).then_some(())
        },
    )
    .await;
    let rejected = c.counter("cityops_ingest_rejected_total", "").await;
    assert_eq!(
        rejected, 0.0,
        "the simulator sent something cityops rejected"
    );
    // The vital signs of the running demo: the shipped set, each with a value, a level and
    // its trend (one-minute values fill it as the minutes pass).
    let indicators = eventually("the vital signs computed", WAIT, || async {
        let (status, v) = c.get_json("/api/v1/indicators").await;
        assert_eq!(status, 200, "{v}");
        let list = v["indicators"].as_array().cloned().unwrap_or_default();
        let computed = list
            .iter()
            .filter(|i| i["source"] != "incidents" || i["id"] == "open-incidents")
            .all(|i| i["value"].is_number());
        (computed && !list.is_empty()).then_some(list)
    })
    .await;
    assert!(indicators.len() >= 24, "{} indicators", indicators.len());
    let sectors: std::collections::BTreeSet<&str> = indicators
        .iter()
        .filter_map(|i| i["sector"].as_str())
        .collect();
    assert!(sectors.len() >= 8, "{sectors:?}");
    for i in &indicators {
        let level = i["level"].as_str().unwrap_or_default();
        assert!(
            ["normal", "blue", "yellow", "orange", "red"].contains(&level),
            "{i}"
        );
        assert!(i["trend"].is_array() && i["sector_name"].is_string(), "{i}");
    }
}

/// A city's sensor list comes in pages: `limit` (at most 10 000) and a cursor `after`, the
/// next page named in a `Link: <…>; rel="next"` header. Following the links gives every
/// sensor once, in id order, the same list as one big page.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sensor_list_pages_with_a_cursor() {
    let c = Cityops::start(&ServeSpec::default());
    c.wait_ready().await;
    let ids = |v: &Value| -> Vec<String> {
        v.as_array()
            .expect("a list")
            .iter()
            .map(|s| s["id"].as_str().unwrap().to_owned())
            .collect()
    };
    let (status, whole) = c.get_json("/api/v1/sensors").await;
    assert_eq!(status, 200);
    let whole = ids(&whole);
    assert_eq!(whole.len(), 3000, "the demo city fits one default page");

    let mut paged = Vec::new();
    let mut next = Some("/api/v1/sensors?limit=700".to_owned());
    let mut pages = 0;
    while let Some(path) = next.take() {
        let r = c.http_client.get(c.url(&path)).send().await.unwrap();
        assert_eq!(r.status().as_u16(), 200, "{path}");
        next = r.headers().get("link").map(|l| {
            let l = l.to_str().unwrap();
            assert!(l.ends_with("; rel=\"next\""), "{l}");
            l.trim_start_matches('<')
                .split_once('>')
                .expect("<url>")
                .0
                .to_owned()
        });
        let page = ids(&r.json().await.unwrap());
        assert!(page.len() <= 700);
        paged.extend(page);
        pages += 1;
    }
    assert_eq!(pages, 5, "3000 sensors in pages of 700");
    assert_eq!(paged, whole, "every sensor once, in order");
    let mut sorted = whole.clone();
    sorted.sort();
    assert_eq!(whole, sorted, "by id");

    for bad in ["limit=0", "limit=10001", "limit=many"] {
        let (status, _) = c.get_json(&format!("/api/v1/sensors?{bad}")).await;
        assert_eq!(status, 400, "{bad}");
    }
    let (status, gas) = c
        .get_json("/api/v1/sensors?kind=gas&limit=5&after=GS")
        .await;
    assert_eq!(status, 200);
    assert!(ids(&gas).iter().all(|id| id.as_str() > "GS"), "{gas}");
}
