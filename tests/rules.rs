//! The rules engine end to end: rule files checked and tested by the CLI, readings and
//! video alerts over MQTT and the webhook raising graded, deduplicated incidents,
//! correlation in space and time, device-offline on a controlled clock, hot reload and
//! rule state that survives a restart.

mod common;

use common::*;
use serde_json::{Value, json};
use std::path::Path;
use std::process::Command;
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(30);

/// A rules directory holding `files` (name, text).
fn rules_dir(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    for (name, text) in files {
        std::fs::write(dir.path().join(name), text).expect("write rule file");
    }
    dir
}

fn serve_with_rules(dir: &Path, data: Option<&Path>) -> Cityops {
    Cityops::start(&ServeSpec {
        data_dir: data.map(Path::to_path_buf),
        extra_env: vec![
            ("CITYOPS_RULES_DIR".into(), path_str(dir)),
            ("CITYOPS_RULES_TICK_MS".into(), "50".into()),
        ],
        ..Default::default()
    })
}

fn cityops_cli(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_cityops"))
        .args(args)
        .env("CITYOPS_CITY_DIR", demo_city())
        .output()
        .expect("run cityops")
}

async fn incidents_of(c: &Cityops, source: &str) -> Vec<Value> {
    let (_, v) = c.get_json("/api/v1/incidents?limit=10000").await;
    v.as_array()
        .map(|l| {
            l.iter()
                .filter(|i| i["source"] == source)
                .cloned()
                .collect()
        })
        .unwrap_or_default()
}

fn senml_series(metric: &str, values: &[(f64, f64)]) -> String {
    Value::Array(
        values
            .iter()
            .map(|(t, v)| json!({ "n": metric, "v": v, "t": t }))
            .collect(),
    )
    .to_string()
}

#[test]
fn shipped_rules_pass_their_tests() {
    let rules = repo().join("rules");
    let out = cityops_cli(&["rules", "check", &path_str(&rules)]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = cityops_cli(&["rules", "test", &path_str(&rules)]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains(" 0 failed"), "{stdout}");
}

#[test]
fn a_broken_rule_file_is_refused_with_its_file_and_line() {
    let dir = rules_dir(&[
        ("settings.toml", "[gas]\nfirst = 25\n"),
        (
            "good.rules.toml",
            "[[rule]]\nname = \"gas\"\nkind = \"threshold\"\ncategory = \"0403\"\nsensors = { kind = \"gas\" }\nlevel = [{ severity = \"orange\", when = { metric = \"lel\", above = \"gas.first\" } }]\n",
        ),
        (
            "broken.rules.toml",
            concat!(
                "# a comment\n",
                "[[rule]]\n",
                "name = \"deep-water\"\n",
                "kind = \"threshold\"\n",
                "category = \"0406\"\n",
                "sensors = { kind = \"waterlogging\" }\n",
                "for = \"one minute\"\n",
                "level = [{ severity = \"purple\", when = { metric = \"depht\", above = \"water.deep\" } }]\n",
                "\n",
                "[[rule]]\n",
                "name = \"typo\"\n",
                "kind = \"threshold\"\n",
                "category = \"x\"\n",
                "abvoe = 3\n",
            ),
        ),
    ]);
    let out = cityops_cli(&["rules", "check", &path_str(dir.path())]);
    assert!(!out.status.success(), "a broken set must fail the check");
    let err = String::from_utf8_lossy(&out.stderr);
    let file = path_str(&dir.path().join("broken.rules.toml"));
    // An unknown key is a parse error of the file: its line, and the key.
    assert!(
        err.contains(&format!("{file}:14")) && err.contains("abvoe"),
        "unknown key with file and line: {err}"
    );
    // Fix the typo: now every problem of the first rule is listed, at the line of its
    // `[[rule]]` header.
    std::fs::write(
        dir.path().join("broken.rules.toml"),
        String::from_utf8_lossy(&std::fs::read(dir.path().join("broken.rules.toml")).unwrap())
            .replace(
                "abvoe = 3\n",
                "level = [{ severity = \"blue\", when = { metric = \"x\", above = 1 } }]\n",
            ),
    )
    .unwrap();
    let out = cityops_cli(&["rules", "check", &path_str(dir.path())]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    for expected in [
        "\"one minute\" is not a duration",
        "\"purple\" is not a severity",
        "the setting \"water.deep\"",
        "have no metric \"depht\"",
    ] {
        assert!(
            err.lines()
                .any(|l| l.starts_with(&format!("{file}:2: rule \"deep-water\""))
                    && l.contains(expected)),
            "{expected:?} at broken.rules.toml:2: {err}"
        );
    }
    assert!(
        !err.contains("good.rules.toml"),
        "the good file has no errors: {err}"
    );
}

const GRADED: &str = r#"
[[rule]]
name = "water"
kind = "threshold"
category = "0406"
title = "积水 {value} cm at {sensor}"
sensors = { kind = "waterlogging" }
level = [
  { severity = "red", when = { metric = "depth", above = 40 } },
  { severity = "orange", when = { metric = "depth", above = 27 } },
  { severity = "yellow", when = { metric = "depth", above = 20 } },
  { severity = "blue", when = { metric = "depth", above = 15 } },
]
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readings_raise_graded_incidents_and_a_storm_makes_one() {
    let dir = rules_dir(&[("water.rules.toml", GRADED)]);
    let c = serve_with_rules(dir.path(), None);
    c.wait_ready().await;
    let s = demo_sensor("waterlogging", 3);
    let mut p = Publisher::connect(c.mqtt.expect("embedded"), "it-rules-graded").await;
    let t = now_secs() - 600.0;

    p.publish(&sensor_topic(&s), senml_series("depth", &[(t, 16.0)]))
        .await;
    p.flush().await;
    let first = eventually("a blue incident", WAIT, || async {
        let l = incidents_of(&c, &s.id).await;
        (l.len() == 1).then(|| l[0].clone())
    })
    .await;
    assert_eq!(first["severity"], "blue");
    assert_eq!(first["category"], "0406");
    assert_eq!(first["rule"], "water");
    assert_eq!(first["title"], format!("积水 16 cm at {}", s.id));

    p.publish(&sensor_topic(&s), senml_series("depth", &[(t + 1.0, 30.0)]))
        .await;
    p.flush().await;
    eventually("escalated to orange", WAIT, || async {
        let l = incidents_of(&c, &s.id).await;
        (l.len() == 1 && l[0]["severity"] == "orange").then_some(())
    })
    .await;

    // A storm: 10,000 readings at 45 cm in packs of 1,000, 1 ms apart. The packs may
    // reach the engine in any order (the intake sessions share the subscription), so
    // the whole storm spans 10 s, well inside the engine's 30 s lateness: a reading
    // later than that is dropped as stale, not counted.
    for pack in 0..10 {
        let values: Vec<(f64, f64)> = (0..1000)
            .map(|i| (t + 2.0 + f64::from(pack * 1000 + i) / 1000.0, 45.0))
            .collect();
        p.publish(&sensor_topic(&s), senml_series("depth", &values))
            .await;
    }
    p.flush().await;
    // Generous: 10,000 readings through the broker on a busy machine.
    let last = eventually("all the storm's evidence counted", 4 * WAIT, || async {
        let l = incidents_of(&c, &s.id).await;
        (l.len() == 1 && l[0]["count"].as_i64() == Some(10_002)).then(|| l[0].clone())
    })
    .await;
    assert_eq!(last["id"], first["id"], "one incident for the whole storm");
    assert_eq!(last["severity"], "red");
    assert_eq!(last["peak"], 45.0);

    let (status, events) = c
        .get_json(&format!(
            "/api/v1/incidents/{}/events",
            first["id"].as_str().unwrap()
        ))
        .await;
    assert_eq!(status, 200);
    let steps: Vec<(String, String)> = events
        .as_array()
        .expect("events")
        .iter()
        .map(|e| {
            (
                e["action"].as_str().unwrap_or_default().to_owned(),
                e["to"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        steps,
        vec![
            ("opened".to_owned(), "blue".to_owned()),
            ("severity".to_owned(), "orange".to_owned()),
            ("severity".to_owned(), "red".to_owned()),
        ],
        "every level change is in the log: {events}"
    );
    p.close().await;
}

/// A smoke detector: id, district, lon, lat.
type Detector = (String, String, f64, f64);
/// A camera: id, lon, lat.
type Camera = (String, f64, f64);

/// Every smoke detector and every camera of the demo city.
fn smoke_and_cameras() -> (Vec<Detector>, Vec<Camera>) {
    let read = |f: &str| -> Value {
        serde_json::from_str(&std::fs::read_to_string(demo_city().join(f)).unwrap()).unwrap()
    };
    let point = |f: &Value| {
        let c = &f["geometry"]["coordinates"];
        (c[0].as_f64().unwrap(), c[1].as_f64().unwrap())
    };
    let sensors = read("sensors.geojson")["features"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["properties"]["kind"] == "smoke")
        .map(|f| {
            let (lon, lat) = point(f);
            let p = &f["properties"];
            (
                p["id"].as_str().unwrap().to_owned(),
                p["district"].as_str().unwrap().to_owned(),
                lon,
                lat,
            )
        })
        .collect();
    let cameras = read("cameras.geojson")["features"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            let (lon, lat) = point(f);
            (f["properties"]["id"].as_str().unwrap().to_owned(), lon, lat)
        })
        .collect();
    (sensors, cameras)
}

fn metres(a: (f64, f64), b: (f64, f64)) -> f64 {
    let lat = ((a.1 + b.1) / 2.0).to_radians();
    let dx = (b.0 - a.0).to_radians() * lat.cos();
    let dy = (b.1 - a.1).to_radians();
    (dx * dx + dy * dy).sqrt() * 6_371_008.8
}

const FIRE: &str = r#"
[[rule]]
name = "confirmed-fire"
kind = "correlation"
category = "confirmed_fire"
severity = "red"
radius_m = 150
within = "3m"

[[rule.source]]
name = "smoke detector"
sensors = { kind = "smoke" }
when = { metric = "alarm", above = 0.5 }

[[rule.source]]
name = "camera"
video = ["fire", "smoke"]
min_confidence = 0.7
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn correlation_fires_only_within_radius_and_window() {
    let (smoke, cameras) = smoke_and_cameras();
    // Smoke detectors with a camera within 150 m, and a camera more than 2 km away.
    let pairs: Vec<_> = smoke
        .iter()
        .filter_map(|s| {
            let near = cameras
                .iter()
                .find(|c| metres((s.2, s.3), (c.1, c.2)) < 120.0)?;
            let far = cameras
                .iter()
                .find(|c| metres((s.2, s.3), (c.1, c.2)) > 2000.0)?;
            Some((s.clone(), near.0.clone(), far.0.clone()))
        })
        .take(3)
        .collect();
    assert_eq!(
        pairs.len(),
        3,
        "the demo city has smoke detectors next to cameras"
    );

    let dir = rules_dir(&[("fire.rules.toml", FIRE)]);
    let c = serve_with_rules(dir.path(), None);
    c.wait_ready().await;
    let mut p = Publisher::connect(c.mqtt.expect("embedded"), "it-rules-fire").await;
    let now = chrono::Utc::now();
    let at = |mins: i64| (now - chrono::Duration::minutes(mins)).to_rfc3339();
    let secs = |mins: i64| now.timestamp() as f64 - mins as f64 * 60.0;
    let mut n = 0;
    let mut alert = |camera: &str, time: String| {
        n += 1;
        json!({
            "id": format!("it-fire-{}-{n}", uuid::Uuid::now_v7().simple()),
            "camera_id": camera, "event_type": "fire", "confidence": 0.93, "time": time
        })
    };
    // (detector, camera, alarm at, camera alert at, fires?)
    let cases = [
        (&pairs[0].0, &pairs[0].1, 10, 9, true),
        (&pairs[1].0, &pairs[1].2, 10, 9, false), // the camera is far away
        (&pairs[2].0, &pairs[2].1, 10, 5, false), // the camera sees it 5 minutes later
    ];
    for (s, camera, alarm_min, alert_min, _) in cases {
        let topic = format!("city/{}/sensors/{}", s.1, s.0);
        p.publish(&topic, senml_series("alarm", &[(secs(alarm_min), 1.0)]))
            .await;
        p.flush().await;
        c.wait_readings(&s.0, 1, WAIT).await;
        // The webhook answers once the alert and what the rules made of it are stored.
        let r = c
            .http_client
            .post(c.url("/api/v1/video-alerts"))
            .json(&alert(camera, at(alert_min)))
            .send()
            .await
            .expect("POST alert");
        assert_eq!(r.status().as_u16(), 201);
    }
    let (_, all) = c.get_json("/api/v1/incidents?limit=100").await;
    let fires: Vec<&Value> = all
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| i["rule"] == "confirmed-fire")
        .collect();
    assert_eq!(
        fires.len(),
        1,
        "only the near, timely pair is a confirmed fire: {all}"
    );
    let title = fires[0]["title"].as_str().unwrap();
    assert!(
        title.contains(&pairs[0].0.0) && title.contains(pairs[0].1.as_str()),
        "the title names both sources: {title}"
    );
    assert_eq!(fires[0]["severity"], "red");
    p.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silent_sensor_goes_offline_within_one_tick_on_a_controlled_clock() {
    use cityops::clock::ManualClock;
    use cityops::model::Timestamp;
    let s = demo_sensor("gas", 5);
    let dir = rules_dir(&[(
        "offline.rules.toml",
        &format!(
            "[[rule]]\nname = \"offline\"\nkind = \"absence\"\ncategory = \"device_offline\"\nseverity = \"blue\"\nafter = \"10m\"\nsensors = {{ ids = [\"{}\"] }}\n",
            s.id
        ),
    )]);
    let data = tempfile::tempdir().unwrap();
    let t0 = Timestamp::from_micros(1_780_000_000_000_000);
    let clock = ManualClock::new(t0);
    let mut config = cityops::config::Config::default();
    config.http.listen = "127.0.0.1:0".parse().unwrap();
    config.mqtt.embedded_listen = "127.0.0.1:0".parse().unwrap();
    config.city.dir = demo_city();
    config.rules.dir = dir.path().to_path_buf();
    config.rules.tick_ms = 20;
    add_user(data.path(), &[], "it-offline", &["--role", "duty_officer"]);
    let running = cityops::server::start(cityops::server::ServeOptions {
        config,
        data_dir: data.path().to_path_buf(),
        clock: clock.clone(),
    })
    .await
    .expect("start");
    let http = client_with(&login(running.http_addr, "it-offline", TEST_PASSWORD).expect("login"));
    let base = format!("http://{}", running.http_addr);
    let get = |path: &str| {
        let req = http.get(format!("{base}{path}"));
        async move { req.send().await.unwrap().text().await.unwrap() }
    };
    // Waits until the timers have run (and been stored) up to `t`.
    let ticked_to = |t: Timestamp| {
        let get = &get;
        async move {
            eventually("a tick at the clock's time", WAIT, || async {
                let m = get("/metrics").await;
                (metric_value(&m, "cityops_rules_clock_seconds", "") >= t.secs_f64()).then_some(())
            })
            .await
        }
    };
    let offline = || async {
        let v: Value = serde_json::from_str(&get("/api/v1/incidents?limit=100").await).unwrap();
        v.as_array()
            .unwrap()
            .iter()
            .filter(|i| i["source"] == s.id.as_str())
            .cloned()
            .collect::<Vec<_>>()
    };
    let almost = t0.saturating_add_micros(600_000_000 - 1_000_000);
    clock.set(almost);
    ticked_to(almost).await;
    assert!(
        offline().await.is_empty(),
        "silent for 9 min 59 s: not yet offline"
    );
    let due = t0.saturating_add_micros(600_000_000);
    clock.set(due);
    ticked_to(due).await;
    let list = offline().await;
    assert_eq!(list.len(), 1, "offline in the first tick at 10 min");
    assert_eq!(list[0]["category"], "device_offline");
    assert_eq!(
        list[0]["opened_at"],
        t0.to_rfc3339(),
        "silent since watching began"
    );
    running.stop().await;
}

const PENDING: &str = r#"
[[rule]]
name = "gas"
kind = "threshold"
category = "0403"
sensors = { kind = "gas" }
for = "1h"
level = [{ severity = "orange", when = { metric = "lel", above = 25 } }]
"#;

const OTHER: &str = r#"
[[rule]]
name = "crowd"
kind = "threshold"
category = "crowd"
sensors = { kind = "crowd" }
level = [{ severity = "yellow", when = { metric = "count", above = 5000 } }]
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reload_refuses_a_broken_set_and_keeps_the_state_of_unchanged_rules() {
    let dir = rules_dir(&[("gas.rules.toml", PENDING), ("crowd.rules.toml", OTHER)]);
    let c = serve_with_rules(dir.path(), None);
    c.wait_ready().await;
    let s = demo_sensor("gas", 7);
    let mut p = Publisher::connect(c.mqtt.expect("embedded"), "it-rules-reload").await;
    // Over the line: pending for an hour, which ends 200 s from now on the wall clock
    // (the tests are over well before; the readings stay within the 300 s allowed
    // ahead of the clock).
    let t = now_secs() - 3400.0;
    p.publish(&sensor_topic(&s), senml_series("lel", &[(t, 30.0)]))
        .await;
    p.flush().await;
    c.wait_readings(&s.id, 1, WAIT).await;

    // Reloading is for engineers (and admins); the harness's duty officer may not.
    let r = c
        .http_client
        .post(c.url("/api/v1/admin/rules/reload"))
        .send()
        .await
        .expect("reload");
    assert_eq!(
        r.status().as_u16(),
        403,
        "a duty officer may not reload the rules"
    );
    add_user(&c.data_dir, &[], "it-engineer", &["--role", "engineer"]);
    let engineer = client_with(&login(c.http, "it-engineer", TEST_PASSWORD).expect("login"));
    let reload = || async {
        let r = engineer
            .post(c.url("/api/v1/admin/rules/reload"))
            .send()
            .await
            .expect("reload");
        (
            r.status().as_u16(),
            r.json::<Value>().await.unwrap_or(Value::Null),
        )
    };
    // Another rule changes: the gas rule is unchanged and keeps its pending timer.
    std::fs::write(
        dir.path().join("crowd.rules.toml"),
        OTHER.replace("5000", "6000"),
    )
    .unwrap();
    let (status, v) = reload().await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["rules"], 2);
    assert_eq!(v["unchanged"], 1);

    // A broken set is refused with its errors; the running one stays.
    std::fs::write(
        dir.path().join("crowd.rules.toml"),
        "[[rule]]\nname = \"crowd\"\nkind = \"sometimes\"\n",
    )
    .unwrap();
    let (status, v) = reload().await;
    assert_eq!(status, 422, "{v}");
    assert_eq!(v["code"], "invalid_rules");
    let e = &v["errors"][0];
    assert!(
        e["file"].as_str().unwrap().ends_with("crowd.rules.toml"),
        "{v}"
    );
    assert_eq!(e["line"], 3, "{v}");

    // An hour after the first reading, still over: it fires, opened at the first.
    p.publish(
        &sensor_topic(&s),
        senml_series("lel", &[(t + 3600.0, 31.0)]),
    )
    .await;
    p.flush().await;
    let list = eventually("the gas incident", WAIT, || async {
        let l = incidents_of(&c, &s.id).await;
        (!l.is_empty()).then_some(l)
    })
    .await;
    assert_eq!(list.len(), 1);
    let opened =
        chrono::DateTime::parse_from_rfc3339(list[0]["opened_at"].as_str().unwrap()).unwrap();
    assert!(
        (opened.timestamp_micros() as f64 / 1e6 - t).abs() < 0.001,
        "the pending timer survived the reloads: opened at the first reading, {opened}"
    );
    p.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pending_timer_survives_a_restart() {
    let dir = rules_dir(&[("gas.rules.toml", PENDING)]);
    let data = tempfile::tempdir().unwrap();
    let s = demo_sensor("gas", 9);
    // Pending for an hour, which ends 200 s from now (see the reload test).
    let t = now_secs() - 3400.0;
    {
        let mut c = serve_with_rules(dir.path(), Some(data.path()));
        c.wait_ready().await;
        let mut p = Publisher::connect(c.mqtt.expect("embedded"), "it-rules-restart-1").await;
        p.publish(&sensor_topic(&s), senml_series("lel", &[(t, 40.0)]))
            .await;
        p.flush().await;
        c.wait_readings(&s.id, 1, WAIT).await;
        p.close().await;
        c.sigterm();
    }
    let c = serve_with_rules(dir.path(), Some(data.path()));
    c.wait_ready().await;
    assert!(incidents_of(&c, &s.id).await.is_empty(), "still pending");
    let mut p = Publisher::connect(c.mqtt.expect("embedded"), "it-rules-restart-2").await;
    p.publish(
        &sensor_topic(&s),
        senml_series("lel", &[(t + 3600.0, 41.0)]),
    )
    .await;
    p.flush().await;
    let list = eventually("the gas incident after the restart", WAIT, || async {
        let l = incidents_of(&c, &s.id).await;
        (!l.is_empty()).then_some(l)
    })
    .await;
    let opened =
        chrono::DateTime::parse_from_rfc3339(list[0]["opened_at"].as_str().unwrap()).unwrap();
    assert!(
        (opened.timestamp_micros() as f64 / 1e6 - t).abs() < 0.001,
        "opened at the reading before the restart: {opened}"
    );
    p.close().await;
}
