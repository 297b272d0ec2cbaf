//! The vital signs end to end on a manual clock, on SQLite and PostgreSQL: readings drive
//! indicators of each kind through their levels (with hysteresis), the history holds the
//! one-minute values, a district user sees only their district, and an indicator going red
//! opens one incident that steps down and clears as it recovers; a rule over an indicator's
//! district values raises and clears its own.

mod common;

use cityops::clock::ManualClock;
use cityops::model::Timestamp;
use common::*;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(60);

/// Local time (+08:00) on an ordinary Friday.
fn at(hms: &str) -> Timestamp {
    Timestamp::parse_rfc3339(&format!("2026-11-27T{hms}+08:00")).expect("a local time")
}

const INDICATORS: &str = r#"
[[sector]]
code = "flood"
name = "防汛"
name_en = "Flood control"
[[sector]]
code = "devices"
name = "物联感知"
name_en = "Sensing network"
[[sector]]
code = "loop"
name = "事件处置"
name_en = "Incident handling"

[[indicator]]
id = "wet"
name = "积水点数"
name_en = "Waterlogged points"
sector = "flood"
unit = "个"
from = "readings"
sensors = { kind = "waterlogging" }
metric = "depth"
aggregate = "count_above"
above = "waterlogging.design_cm"
window = "10m"
levels = { blue = 1, yellow = 2, orange = 3, red = 4, hysteresis = 0.5 }
alarm = { category = "0406" }

[[indicator]]
id = "deepest"
name = "最大积水深度"
name_en = "Deepest waterlogging"
sector = "flood"
unit = "cm"
from = "readings"
sensors = { kind = "waterlogging" }
metric = "depth"
aggregate = "max"
window = "10m"
breakdown = "street"
levels = { blue = 15, yellow = 20, orange = 27, red = 40, hysteresis = 2 }

[[indicator]]
id = "online"
name = "积水监测在线率"
name_en = "Depth gauges online"
sector = "devices"
unit = "%"
from = "devices"
sensors = { kind = "waterlogging" }
window = "10m"
levels = { worse = "lower", blue = 98, yellow = 95, orange = 90, red = 80 }

[[indicator]]
id = "open"
name = "在办事件数"
name_en = "Incidents open"
sector = "loop"
unit = "件"
from = "incidents"
measure = "open"
levels = { blue = 1, yellow = 5 }
"#;

/// A rule over an indicator: a district with more than two waterlogged points.
const BY_DISTRICT: &str = r#"
[[rule]]
name = "district-flooding"
kind = "threshold"
category = "0406"
indicators = "wet"
by = "district"
title = "片区积水 {indicator_name}：{value} 个"
level = [{ severity = "orange", when = { metric = "value", above = 2 } }]
"#;

struct Api {
    base: String,
    users: HashMap<&'static str, reqwest::Client>,
}

impl Api {
    async fn get(&self, who: &str, path: &str) -> (u16, Value) {
        let r = self.users[who]
            .get(format!("{}{path}", self.base))
            .send()
            .await
            .expect("request");
        (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
    }

    async fn indicator(&self, who: &str, id: &str) -> Value {
        let (status, v) = self.get(who, "/api/v1/indicators").await;
        assert_eq!(status, 200, "{v}");
        v["indicators"]
            .as_array()
            .expect("indicators")
            .iter()
            .find(|i| i["id"] == id)
            .cloned()
            .unwrap_or(Value::Null)
    }

    /// Waits until indicator `id` (as `who` sees it) satisfies `check`.
    async fn until(
        &self,
        who: &str,
        id: &str,
        what: &str,
        check: impl Fn(&Value) -> bool,
    ) -> Value {
        eventually(what, WAIT, || async {
            let v = self.indicator(who, id).await;
            check(&v).then_some(v)
        })
        .await
    }

    async fn alarm_incidents(&self) -> Vec<Value> {
        self.incidents_from("indicator:wet").await
    }

    async fn incidents_from(&self, source: &str) -> Vec<Value> {
        let (_, v) = self.get("duty", "/api/v1/incidents?limit=1000").await;
        v.as_array()
            .map(|l| {
                l.iter()
                    .filter(|i| i["source"] == source)
                    .cloned()
                    .collect()
            })
            .unwrap_or_default()
    }
}

fn depth(t: Timestamp, cm: f64) -> String {
    json!([{ "n": "depth", "v": cm, "t": t.micros() as f64 / 1e6 }]).to_string()
}

async fn scenario(database_url: Option<String>) {
    let data = tempfile::tempdir().expect("tempdir");
    let rules = tempfile::tempdir().expect("rules dir");
    for f in [
        "settings.toml",
        "catalog.toml",
        "routing.toml",
        "calendar.toml",
    ] {
        std::fs::copy(repo().join("rules").join(f), rules.path().join(f)).expect("copy");
    }
    std::fs::write(rules.path().join("indicators.toml"), INDICATORS).expect("indicators");
    std::fs::write(rules.path().join("district.rules.toml"), BY_DISTRICT).expect("rule");
    let clock = ManualClock::new(at("10:00:00"));
    let mut config = cityops::config::Config::default();
    config.http.listen = "127.0.0.1:0".parse().unwrap();
    config.mqtt.embedded_listen = "127.0.0.1:0".parse().unwrap();
    config.city.dir = demo_city();
    config.rules.dir = rules.path().to_path_buf();
    config.indicators.tick_ms = 20;
    config.indicators.loop_refresh_ms = 20;
    let mut env = Vec::new();
    if let Some(url) = &database_url {
        config.database.url = url.clone();
        env.push(("CITYOPS_DATABASE_URL".to_string(), url.clone()));
    }
    let people: [(&str, &[&str]); 3] = [
        ("duty", &["--role", "duty_officer"]),
        ("d1", &["--role", "dispatcher", "--district", "D-1"]),
        ("dept", &["--role=department", "--department=drainage-d0"]),
    ];
    for (name, args) in people {
        add_user(data.path(), &env, name, args);
    }
    let running = cityops::server::start(cityops::server::ServeOptions {
        config,
        data_dir: data.path().to_path_buf(),
        clock: clock.clone(),
    })
    .await
    .expect("start");
    let http = running.http_addr;
    let mut users = HashMap::new();
    let mut tokens = HashMap::new();
    for (name, _) in people {
        let token = tokio::task::spawn_blocking(move || login(http, name, TEST_PASSWORD))
            .await
            .unwrap()
            .expect("login");
        users.insert(name, client_with(&token));
        tokens.insert(name, token);
    }
    let api = Api {
        base: format!("http://{http}"),
        users,
    };
    let mut mqtt =
        Publisher::connect(running.mqtt_addr.expect("embedded endpoint"), "it-vital").await;
    let gauges: Vec<DemoSensor> = demo_sensors()
        .into_iter()
        .filter(|s| s.kind == "waterlogging")
        .collect();
    let total = gauges.len() as f64;
    let in_d0: Vec<&DemoSensor> = gauges
        .iter()
        .filter(|s| s.district == "D-0")
        .take(3)
        .collect();
    let in_d1 = gauges
        .iter()
        .find(|s| s.district == "D-1")
        .expect("a D-1 gauge");
    let four: Vec<&DemoSensor> = in_d0.iter().copied().chain([in_d1]).collect();

    // 10:00 Nothing reported yet: no gauge is online, nothing is waterlogged.
    let v = api
        .until("duty", "online", "online at 0 %", |v| v["value"] == 0.0)
        .await;
    assert_eq!(v["level"], "red");
    assert_eq!(v["sector_name"], "物联感知");
    let v = api.indicator("duty", "wet").await;
    assert_eq!(v["value"], 0.0);
    assert_eq!(v["level"], "normal");

    // 10:00:10 Four gauges flooded, 30 cm: red (4 ≥ 4); the deepest is 30 cm, orange.
    clock.set(at("10:00:10"));
    for s in &four {
        mqtt.publish(&sensor_topic(s), depth(at("10:00:10"), 30.0))
            .await;
    }
    mqtt.flush().await;
    let v = api
        .until("duty", "wet", "4 waterlogged points", |v| v["value"] == 4.0)
        .await;
    assert_eq!(v["level"], "red");
    let by_district: HashMap<String, (f64, String)> = v["breakdown"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| {
            (
                b["scope"].as_str().unwrap().to_owned(),
                (
                    b["value"].as_f64().unwrap(),
                    b["level"].as_str().unwrap().to_owned(),
                ),
            )
        })
        .collect();
    assert_eq!(by_district["district:D-0"], (3.0, "orange".into()));
    assert_eq!(by_district["district:D-1"], (1.0, "blue".into()));
    let v = api
        .until("duty", "deepest", "deepest 30 cm", |v| v["value"] == 30.0)
        .await;
    assert_eq!(v["level"], "orange");
    let scopes: Vec<&str> = v["breakdown"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["scope"].as_str().unwrap())
        .collect();
    assert!(scopes.contains(&"district:D-0"), "{scopes:?}");
    assert!(
        scopes.iter().any(|s| s.starts_with("street:")),
        "{scopes:?}"
    );
    // D-1's center heads its view with D-1's deepest and sees only D-1's streets.
    let v = api
        .until("d1", "deepest", "D-1's deepest", |v| v["value"] == 30.0)
        .await;
    assert_eq!(v["scope"], "district:D-1");
    assert!(
        v["breakdown"]
            .as_array()
            .unwrap()
            .iter()
            .all(|b| b["district"] == "D-1"),
        "{v}"
    );
    let v = api.indicator("duty", "online").await;
    let share = v["value"].as_f64().unwrap();
    assert!((share - 100.0 * 4.0 / total).abs() < 0.01, "{share}");

    // The indicator's own incident: one, red, routed like any other.
    let incidents = eventually("the indicator's incident", WAIT, || async {
        let l = api.alarm_incidents().await;
        (l.len() == 1).then_some(l)
    })
    .await;
    assert_eq!(incidents[0]["severity"], "red");
    assert_eq!(incidents[0]["category"], "0406");
    assert!(
        incidents[0]["title"].as_str().unwrap().contains("积水点数"),
        "{}",
        incidents[0]
    );
    let alarm = incidents[0]["id"].as_str().unwrap().to_owned();
    // The rule over the indicator: D-0 has three, over two; D-1's one raises nothing.
    let district = eventually("the rule over the indicator fired", WAIT, || async {
        let l = api.incidents_from("indicator:wet@D-0").await;
        (l.len() == 1).then_some(l)
    })
    .await;
    assert_eq!(district[0]["severity"], "orange");
    assert_eq!(district[0]["rule"], "district-flooding");
    assert_eq!(district[0]["location"]["district"], "D-0");
    let title = district[0]["title"].as_str().unwrap();
    assert!(
        title.starts_with("片区积水 积水点数 · ") && title.ends_with("：3 个"),
        "{title}"
    );
    assert!(api.incidents_from("indicator:wet@D-1").await.is_empty());
    api.until("duty", "open", "the loop counts it", |v| {
        v["value"].as_f64() >= Some(1.0)
    })
    .await;

    // A district center sees its own district's figure and nothing of the other's.
    let v = api
        .until("d1", "wet", "D-1's figure", |v| v["value"] == 1.0)
        .await;
    assert_eq!(v["scope"], "district:D-1");
    assert_eq!(v["level"], "blue");
    let scopes: Vec<&str> = v["breakdown"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["scope"].as_str().unwrap())
        .collect();
    assert_eq!(scopes, ["district:D-1"]);
    let (status, _) = api
        .get("d1", "/api/v1/indicators/wet/history?scope=district:D-0")
        .await;
    assert_eq!(status, 404, "another district's history is not theirs");
    let (status, _) = api.get("d1", "/api/v1/indicators/wet/history?scope=").await;
    assert_eq!(status, 404, "nor the whole city's");
    let (status, v) = api.get("dept", "/api/v1/indicators").await;
    assert_eq!(status, 403, "{v}");

    // The live feed carries them too, scoped the same way: the snapshot has every
    // indicator; D-1's center sees D-1's figure, a department none.
    let wet = |m: &Value| {
        m["indicators"]
            .as_array()
            .and_then(|l| l.iter().find(|i| i["id"] == "wet").cloned())
    };
    let mut duty_ws = Live::connect_with(http, &tokens["duty"]).await.expect("ws");
    let snapshot = duty_ws.next(WAIT).await;
    assert_eq!(snapshot["type"], "snapshot");
    assert_eq!(
        snapshot["indicators"].as_array().map(Vec::len),
        Some(4),
        "{snapshot}"
    );
    assert_eq!(wet(&snapshot).expect("wet")["value"], 4.0);
    let mut d1_ws = Live::connect_with(http, &tokens["d1"]).await.expect("ws");
    let snapshot = d1_ws.next(WAIT).await;
    let mine = wet(&snapshot).expect("wet for D-1");
    assert_eq!(mine["value"], 1.0);
    assert_eq!(
        mine["breakdown"].as_array().map(Vec::len),
        Some(1),
        "{mine}"
    );
    let mut dept_ws = Live::connect_with(http, &tokens["dept"]).await.expect("ws");
    let snapshot = dept_ws.next(WAIT).await;
    assert_eq!(snapshot["indicators"], json!([]), "{snapshot}");

    // 10:01:10 Two gauges drain: 2 points, yellow; the incident steps down with it. The
    // deepest falls to 26 cm: under orange's 27 but within its hysteresis, still orange.
    clock.set(at("10:01:10"));
    for s in &four[..2] {
        mqtt.publish(&sensor_topic(s), depth(at("10:01:10"), 5.0))
            .await;
    }
    for s in &four[2..] {
        mqtt.publish(&sensor_topic(s), depth(at("10:01:10"), 26.0))
            .await;
    }
    mqtt.flush().await;
    api.until("duty", "wet", "2 points", |v| {
        v["value"] == 2.0 && v["level"] == "yellow"
    })
    .await;
    // ... and a delta tells the live feed.
    duty_ws
        .until("wet at 2 on /ws", WAIT, |m| {
            m["type"] == "delta" && wet(m).is_some_and(|w| w["value"] == 2.0)
        })
        .await;
    let v = api
        .until("duty", "deepest", "deepest 26 cm", |v| v["value"] == 26.0)
        .await;
    assert_eq!(v["level"], "orange", "held by the hysteresis: {v}");
    eventually("the incident stepped down", WAIT, || async {
        let l = api.alarm_incidents().await;
        (l.len() == 1 && l[0]["severity"] == "yellow").then_some(())
    })
    .await;
    // D-0 is down to one: the rule's condition cleared.
    eventually("the district's incident cleared", WAIT, || async {
        let l = api.incidents_from("indicator:wet@D-0").await;
        (l.len() == 1 && !l[0]["cleared_at"].is_null()).then_some(())
    })
    .await;

    // 10:02:10 The deepest falls to 24 cm, past the hysteresis: yellow. All but one drain.
    clock.set(at("10:02:10"));
    mqtt.publish(&sensor_topic(four[2]), depth(at("10:02:10"), 4.0))
        .await;
    mqtt.publish(&sensor_topic(four[3]), depth(at("10:02:10"), 24.0))
        .await;
    mqtt.flush().await;
    let v = api
        .until("duty", "deepest", "deepest 24 cm", |v| v["value"] == 24.0)
        .await;
    assert_eq!(v["level"], "yellow");
    api.until("duty", "wet", "1 point", |v| {
        v["value"] == 1.0 && v["level"] == "blue"
    })
    .await;

    // 10:03:10 The last drains: normal, and the incident is cleared (not closed: a person
    // closes it), still the only one for the key.
    clock.set(at("10:03:10"));
    mqtt.publish(&sensor_topic(four[3]), depth(at("10:03:10"), 3.0))
        .await;
    mqtt.flush().await;
    api.until("duty", "wet", "no point", |v| {
        v["value"] == 0.0 && v["level"] == "normal"
    })
    .await;
    let incidents = eventually("the incident cleared", WAIT, || async {
        let l = api.alarm_incidents().await;
        (l.len() == 1 && !l[0]["cleared_at"].is_null()).then_some(l)
    })
    .await;
    assert_eq!(incidents[0]["id"], alarm.as_str());
    assert_ne!(incidents[0]["status"], "closed");
    let (_, events) = api
        .get("duty", &format!("/api/v1/incidents/{alarm}/events"))
        .await;
    let notes: Vec<&str> = events
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["actor"] == "rule:indicator:wet")
        .filter_map(|e| e["note"].as_str())
        .collect();
    // Down the levels as it recovered (through orange, when a tick fell between the two
    // drained gauges' readings), never up again.
    assert!(
        notes
            .first()
            .is_some_and(|n| n.starts_with("stepped down: red →")),
        "{notes:?}"
    );
    assert!(
        notes.iter().all(|n| n.starts_with("stepped down")),
        "{notes:?}"
    );
    assert!(
        notes.last().is_some_and(|n| n.ends_with("→ blue")),
        "{notes:?}"
    );

    // 10:04:00 The one-minute history: each minute's value as it stood at its end.
    clock.set(at("10:04:00"));
    let path = format!(
        "/api/v1/indicators/wet/history?from={}&to={}",
        at("10:00:00").to_rfc3339().replace('+', "%2B"),
        at("10:04:00").to_rfc3339().replace('+', "%2B")
    );
    let history = eventually("four minutes of history", WAIT, || async {
        let (status, v) = api.get("duty", &path).await;
        assert_eq!(status, 200, "{v}");
        (v["points"].as_array().map_or(0, Vec::len) == 4).then_some(v)
    })
    .await;
    let points: Vec<(f64, &str)> = history["points"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (p["value"].as_f64().unwrap(), p["level"].as_str().unwrap()))
        .collect();
    assert_eq!(
        points,
        [
            (4.0, "red"),
            (2.0, "yellow"),
            (1.0, "blue"),
            (0.0, "normal")
        ]
    );
    assert_eq!(history["points"][1]["minute"], at("10:01:00").to_rfc3339());
    // Steps of five minutes fold them: the last value, the largest, the worst level.
    let (status, v) = api.get("duty", &format!("{path}&step=5")).await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["points"].as_array().unwrap().len(), 1);
    assert_eq!(v["points"][0]["value"], 0.0);
    assert_eq!(v["points"][0]["max"], 4.0);
    assert_eq!(v["points"][0]["level"], "red");
    let (status, v) = api.get("duty", &format!("{path}&step=7")).await;
    assert_eq!(status, 400, "{v}");
    let (status, _) = api.get("duty", "/api/v1/indicators/no-such/history").await;
    assert_eq!(status, 404);
    // A district's history is kept as well.
    let (status, v) = api
        .get(
            "d1",
            &path.replace("history?", "history?scope=district:D-1&"),
        )
        .await;
    assert_eq!(status, 200, "{v}");
    let d1: Vec<f64> = v["points"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["value"].as_f64().unwrap())
        .collect();
    assert_eq!(d1, [1.0, 1.0, 1.0, 0.0]);

    // 10:20 Ten minutes without a reading: the gauges count as offline again.
    clock.set(at("10:20:00"));
    api.until("duty", "online", "offline after the window", |v| {
        v["value"] == 0.0
    })
    .await;

    mqtt.close().await;
    running.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn vital_signs_on_a_manual_clock_on_sqlite() {
    scenario(None).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn vital_signs_on_a_manual_clock_on_postgres() {
    let Some(db) = PgDb::create().await else {
        return;
    };
    scenario(Some(db.url.clone())).await;
}
