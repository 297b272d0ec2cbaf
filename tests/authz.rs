//! Authorization as an attacker would probe it: for every route that takes an incident
//! id, and for the merge target a command names, an incident outside the caller's scope
//! gets exactly what an unknown id gets (same status, same body), whatever else is wrong
//! with the request; merges stay inside one's scope and show in the target's log; and
//! what lies outside the loop (sensors, video alerts, dead letters) is read by role and
//! jurisdiction (`docs/access.md`), on REST and on `/ws`.

mod common;

use common::*;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(30);

fn people(c: &Cityops, list: &[(&'static str, &[&str])]) -> HashMap<&'static str, reqwest::Client> {
    list.iter()
        .map(|(name, args)| {
            add_user(&c.data_dir, &[], name, args);
            let token = login(c.http, name, TEST_PASSWORD).expect("login");
            (*name, client_with(&token))
        })
        .collect()
}

async fn send(req: reqwest::RequestBuilder) -> (u16, Value) {
    let r = req.send().await.expect("request");
    let status = r.status().as_u16();
    let text = r.text().await.unwrap_or_default();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

/// A report by the harness's city duty officer in `grid`: a discovered incident's id.
async fn incident_in(c: &Cityops, grid: &str) -> String {
    let body = json!({
        "category": "0406",
        "location": { "grid": grid },
        "description": format!("积水 water in {grid}"),
    });
    let (status, v) = send(c.http_client.post(c.url("/api/v1/reports")).json(&body)).await;
    assert_eq!(status, 201, "{v}");
    v["id"].as_str().expect("id").to_owned()
}

async fn act(
    c: &Cityops,
    who: &reqwest::Client,
    id: &str,
    body: Value,
    if_match: Option<&str>,
) -> (u16, Value) {
    let mut req = who
        .post(c.url(&format!("/api/v1/incidents/{id}/actions")))
        .json(&body);
    if let Some(v) = if_match {
        req = req.header("if-match", v);
    }
    send(req).await
}

/// Every request that names an incident, with `id` in the path or `into` in the body.
async fn probes(
    c: &Cityops,
    who: &reqwest::Client,
    id: &str,
    own: &str,
) -> Vec<(String, (u16, Value))> {
    let mut out = Vec::new();
    for path in ["", "/events", "/report", "/photos"] {
        let r = send(who.get(c.url(&format!("/api/v1/incidents/{id}{path}")))).await;
        out.push((format!("GET {path}"), r));
    }
    let boundary = "authz-boundary-7MA4YWxkTrZu0gW";
    let form = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"photo\"; filename=\"x.jpg\"\r\n\
         Content-Type: image/jpeg\r\n\r\nnot an image\r\n--{boundary}--\r\n"
    );
    let r = send(
        who.post(c.url(&format!("/api/v1/incidents/{id}/photos")))
            .header(
                "content-type",
                format!("multipart/form-data; boundary={boundary}"),
            )
            .body(form),
    )
    .await;
    out.push(("POST photos".into(), r));
    let r = send(
        who.post(c.url(&format!("/api/v1/incidents/{id}/photos")))
            .body("junk"),
    )
    .await;
    out.push(("POST photos, not multipart".into(), r));
    let r = send(who.get(c.url(&format!("/open311/v2/requests/{id}.json")))).await;
    out.push(("GET open311 request".into(), r));
    let r = send(who.get(c.url(&format!(
        "/open311/v2/requests.json?service_request_id={id}"
    ))))
    .await;
    out.push(("GET open311 list by id".into(), r));
    let actions: Vec<(Value, Option<&str>)> = vec![
        (json!({"command": "acknowledge"}), Some("\"999\"")),
        (json!({"command": "acknowledge"}), None),
        (json!({"command": "file"}), Some("\"999\"")),
        (json!({"command": "force_close", "reason": "x"}), None),
        (
            json!({"command": "dispatch", "department": "no-such-dept"}),
            None,
        ),
        (json!({"command": "merge", "into": own}), Some("\"1\"")),
        (json!({"command": "no_such_command"}), None),
        (json!({"command": "acknowledge"}), Some("not a version")),
    ];
    for (body, version) in actions {
        let label = format!("POST actions {body} If-Match {version:?}");
        out.push((label, act(c, who, id, body, version).await));
    }
    // The incident a command names: merging one's own incident into `id`.
    for version in [None, Some("\"999\"")] {
        let label = format!("POST merge into, If-Match {version:?}");
        out.push((
            label,
            act(
                c,
                who,
                own,
                json!({"command": "merge", "into": id}),
                version,
            )
            .await,
        ));
    }
    out
}

/// `v` with every mention of `id` replaced by `ID`, to compare answers about two ids.
fn normalised(v: &(u16, Value), id: &str) -> (u16, String) {
    (v.0, v.1.to_string().replace(id, "ID"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn out_of_scope_is_exactly_unknown() {
    let c = Cityops::start(&ServeSpec::default());
    c.wait_ready().await;
    let p = people(
        &c,
        &[
            ("d0", &["--role", "dispatcher", "--district", "D-0"]),
            (
                "water",
                &["--role", "department", "--department", "water-city"],
            ),
            ("grid", &["--role", "grid_worker", "--grid", "G-00-01"]),
            ("wall", &["--role", "wall"]),
        ],
    );
    // Another district's incident, dispatched to gas-city.
    let theirs = incident_in(&c, "G-10-00").await;
    let duty = &c.http_client;
    assert_eq!(
        act(&c, duty, &theirs, json!({"command": "file"}), None)
            .await
            .0,
        200
    );
    let (status, v) = act(
        &c,
        duty,
        &theirs,
        json!({"command": "dispatch", "department": "gas-city"}),
        None,
    )
    .await;
    assert_eq!(status, 200, "{v}");
    // D-0's own incidents: one of each caller's scope where there is one.
    let own = incident_in(&c, "G-00-01").await;
    let unknown = uuid::Uuid::now_v7().to_string();

    for who in ["d0", "water", "grid"] {
        let client = &p[who];
        let seen = probes(&c, client, &theirs, &own).await;
        let absent = probes(&c, client, &unknown, &own).await;
        for ((label, a), (_, b)) in seen.iter().zip(&absent) {
            assert_eq!(
                normalised(a, &theirs),
                normalised(b, &unknown),
                "{who}: {label}: out of scope must answer as unknown"
            );
            let text = a.1.to_string();
            for secret in ["gas-city", "G-10-00", "D-1", "dispatched"] {
                assert!(
                    !text.contains(secret),
                    "{who}: {label} leaks {secret}: {text}"
                );
            }
        }
        // The If-Match probe of the report: 404, not 409 with the incident.
        let (status, _) = act(
            &c,
            client,
            &theirs,
            json!({"command": "acknowledge"}),
            Some("\"999\""),
        )
        .await;
        assert_eq!(status, 404, "{who}");
    }

    // Nothing moved: their incident is as it was, ours was not merged anywhere.
    let (_, i) = c.get_json(&format!("/api/v1/incidents/{theirs}")).await;
    assert_eq!(
        (i["status"].as_str(), i["version"].as_i64()),
        (Some("dispatched"), Some(3)),
        "{i}"
    );
    let (_, i) = c.get_json(&format!("/api/v1/incidents/{own}")).await;
    assert_eq!(i["status"], "discovered", "{i}");

    // In scope but not the caller's to act on: the role is refused before the version
    // is looked at, and before a merge target is looked up.
    let (status, v) = act(
        &c,
        &p["wall"],
        &own,
        json!({"command": "acknowledge"}),
        Some("\"999\""),
    )
    .await;
    assert_eq!(status, 403, "{v}");
    let (known, _) = act(
        &c,
        &p["grid"],
        &own,
        json!({"command": "merge", "into": theirs}),
        None,
    )
    .await;
    let (absent, _) = act(
        &c,
        &p["grid"],
        &own,
        json!({"command": "merge", "into": unknown}),
        None,
    )
    .await;
    assert_eq!((known, absent), (403, 403));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn merges_stay_in_scope_and_show_in_the_targets_log() {
    let c = Cityops::start(&ServeSpec::default());
    c.wait_ready().await;
    let p = people(
        &c,
        &[("d0", &["--role", "dispatcher", "--district", "D-0"])],
    );
    let theirs = incident_in(&c, "G-10-00").await;
    let duplicate = incident_in(&c, "G-00-01").await;
    let target = incident_in(&c, "G-00-02").await;

    let (status, v) = act(
        &c,
        &p["d0"],
        &duplicate,
        json!({"command": "merge", "into": theirs}),
        None,
    )
    .await;
    assert_eq!(status, 422, "{v}");
    let (_, i) = c.get_json(&format!("/api/v1/incidents/{duplicate}")).await;
    assert_eq!(
        i["status"], "discovered",
        "not merged out of the district: {i}"
    );
    let (_, log) = c
        .get_json(&format!("/api/v1/incidents/{theirs}/events"))
        .await;
    assert!(!log.to_string().contains("merged_from"), "{log}");

    let (status, v) = act(
        &c,
        &p["d0"],
        &duplicate,
        json!({"command": "merge", "into": target}),
        None,
    )
    .await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["status"], "merged");
    let (_, log) = c
        .get_json(&format!("/api/v1/incidents/{target}/events"))
        .await;
    let merged: Vec<_> = log
        .as_array()
        .expect("log")
        .iter()
        .filter(|e| e["action"] == "merged_from")
        .collect();
    assert_eq!(merged.len(), 1, "{log}");
    assert_eq!(merged[0]["actor"], "user:d0");
    assert_eq!(merged[0]["note"], format!("merged from {duplicate}"));
}

/// Posts a video alert from `camera` through the webhook.
async fn alert(c: &Cityops, camera: &str) -> String {
    let id = format!("vai-{}", uuid::Uuid::now_v7().simple());
    let body = json!({
        "id": id,
        "camera_id": camera,
        "event_type": "waterlogging",
        "confidence": 0.9,
        "time": chrono::Utc::now().to_rfc3339(),
    });
    let (status, v) = send(
        reqwest::Client::new()
            .post(c.url("/api/v1/video-alerts"))
            .json(&body),
    )
    .await;
    assert_eq!(status, 201, "{v}");
    id
}

/// The first camera of the demo city in `district`.
fn camera_in(district: &str) -> String {
    let text = std::fs::read_to_string(demo_city().join("cameras.geojson")).expect("cameras");
    let v: Value = serde_json::from_str(&text).expect("json");
    v["features"]
        .as_array()
        .expect("features")
        .iter()
        .find(|f| f["properties"]["district"] == district)
        .and_then(|f| f["properties"]["id"].as_str())
        .expect("a camera in the district")
        .to_owned()
}

fn districts_of(list: &Value, field: &str) -> std::collections::BTreeSet<String> {
    list.as_array()
        .expect("list")
        .iter()
        .filter_map(|x| x[field]["district"].as_str().map(str::to_owned))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn live_data_is_read_by_role_and_jurisdiction() {
    let c = Cityops::start(&ServeSpec::default());
    c.wait_ready().await;
    let p = people(
        &c,
        &[
            ("d0", &["--role", "dispatcher", "--district", "D-0"]),
            (
                "water",
                &["--role", "department", "--department", "water-city"],
            ),
            ("grid", &["--role", "grid_worker", "--grid", "G-00-01"]),
            ("wall", &["--role", "wall"]),
            ("engineer", &["--role", "engineer"]),
            ("admin", &["--role", "admin"]),
        ],
    );
    let near = alert(&c, &camera_in("D-0")).await;
    let far = alert(&c, &camera_in("D-1")).await;

    // Dead letters: admins and engineers only.
    for (who, expect) in [
        ("admin", 200),
        ("engineer", 200),
        ("wall", 403),
        ("d0", 403),
        ("water", 403),
        ("grid", 403),
    ] {
        let (status, v) = send(p[who].get(c.url("/api/v1/dead-letters"))).await;
        assert_eq!(status, expect, "{who}: {v}");
    }
    assert_eq!(
        send(c.http_client.get(c.url("/api/v1/dead-letters")))
            .await
            .0,
        403,
        "duty officer"
    );

    // Sensors and video alerts: the whole city for the city level, a district's for its
    // center, a grid's for its worker, none for a department.
    let (_, all) = send(p["wall"].get(c.url("/api/v1/sensors"))).await;
    assert!(
        districts_of(&all, "location").len() > 1,
        "the wall sees the city"
    );
    let (status, mine) = send(p["d0"].get(c.url("/api/v1/sensors"))).await;
    assert_eq!(status, 200);
    assert_eq!(
        districts_of(&mine, "location")
            .into_iter()
            .collect::<Vec<_>>(),
        vec!["D-0"]
    );
    let (_, grid) = send(p["grid"].get(c.url("/api/v1/sensors"))).await;
    assert!(
        grid.as_array()
            .unwrap()
            .iter()
            .all(|s| s["location"]["grid"] == "G-00-01"),
        "{grid}"
    );
    assert!(grid.as_array().unwrap().len() < mine.as_array().unwrap().len());
    for path in ["/api/v1/sensors", "/api/v1/video-alerts"] {
        assert_eq!(
            send(p["water"].get(c.url(path))).await.0,
            403,
            "department: {path}"
        );
    }
    let far_sensor = all
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["location"]["district"] == "D-1")
        .and_then(|s| s["id"].as_str())
        .expect("a D-1 sensor")
        .to_owned();
    let seen = send(p["d0"].get(c.url(&format!("/api/v1/sensors/{far_sensor}/readings")))).await;
    let absent = send(p["d0"].get(c.url("/api/v1/sensors/no-such-sensor/readings"))).await;
    assert_eq!(seen.0, 404);
    assert_eq!(
        normalised(&seen, &far_sensor),
        normalised(&absent, "no-such-sensor")
    );

    let ids = |v: &Value| -> Vec<String> {
        v.as_array()
            .unwrap()
            .iter()
            .filter_map(|a| a["source_id"].as_str().map(str::to_owned))
            .collect()
    };
    let (_, v) = send(p["wall"].get(c.url("/api/v1/video-alerts"))).await;
    assert!(ids(&v).contains(&near) && ids(&v).contains(&far), "{v}");
    let (_, v) = send(p["d0"].get(c.url("/api/v1/video-alerts"))).await;
    assert!(ids(&v).contains(&near) && !ids(&v).contains(&far), "{v}");

    // The city's devices layers follow the same rule; the map itself is for everyone.
    let layer = |who: &'static str, name: &'static str| {
        let client = p[who].clone();
        let url = c.url(&format!("/api/v1/city/{name}.geojson"));
        async move { send(client.get(url)).await }
    };
    for name in ["districts", "streets", "grids"] {
        assert_eq!(layer("water", name).await.0, 200, "{name}");
    }
    for name in ["sensors", "cameras"] {
        assert_eq!(layer("water", name).await.0, 403, "{name}");
    }
    let features = |v: &Value| v["features"].as_array().cloned().unwrap_or_default();
    let (_, v) = layer("wall", "sensors").await;
    assert_eq!(features(&v).len(), all.as_array().unwrap().len());
    let (_, v) = layer("d0", "sensors").await;
    let layer_ids: std::collections::BTreeSet<String> = features(&v)
        .iter()
        .filter_map(|f| f["properties"]["id"].as_str().map(str::to_owned))
        .collect();
    let expected: std::collections::BTreeSet<String> = mine
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|s| s["id"].as_str().map(str::to_owned))
        .collect();
    assert_eq!(layer_ids, expected);
    let (_, v) = layer("d0", "cameras").await;
    assert!(!features(&v).is_empty());
    for f in features(&v) {
        assert_eq!(f["properties"]["district"], "D-0", "{f}");
    }

    // The same on /ws: the district center's snapshot has only its district's alerts
    // and sensors; a department's has none.
    let d0_token = login(c.http, "d0", TEST_PASSWORD).expect("login");
    let mut live = Live::connect_with(c.http, &d0_token).await.expect("ws");
    let snap = live
        .until("the snapshot", WAIT, |m| m["type"] == "snapshot")
        .await;
    let alerts = &snap["alerts"];
    assert!(
        ids(alerts).contains(&near) && !ids(alerts).contains(&far),
        "{alerts}"
    );
    assert_eq!(
        districts_of(alerts, "location")
            .into_iter()
            .collect::<Vec<_>>(),
        vec!["D-0"]
    );
    let in_d0: std::collections::HashSet<&str> = mine
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|s| s["id"].as_str())
        .collect();
    for v in snap["sensors"].as_array().expect("sensors") {
        assert!(in_d0.contains(v["id"].as_str().unwrap_or_default()), "{v}");
    }
    let water_token = login(c.http, "water", TEST_PASSWORD).expect("login");
    let mut live = Live::connect_with(c.http, &water_token).await.expect("ws");
    let snap = live
        .until("the snapshot", WAIT, |m| m["type"] == "snapshot")
        .await;
    assert_eq!(snap["alerts"], json!([]), "{snap}");
    assert_eq!(snap["sensors"], json!([]));
}
