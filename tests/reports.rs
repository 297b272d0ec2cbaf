//! People's reports, photos and Open311 over HTTP, as the people who use them would: a grid
//! worker reports in their grid (not outside it), the center takes a 12345 call whose
//! caller's contact no department sees, photos are checked by their bytes and shown only
//! to those who may see the incident, and a citizen app follows its Open311 request.

mod common;
#[path = "reports/open311.rs"]
mod open311;
#[path = "reports/photos.rs"]
mod photos;

use common::*;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(30);
/// The grid the grid worker patrols (district D-0, street S-00-00) and a point inside it.
const GRID: &str = "G-00-01";
const IN_GRID: (f64, f64) = (102.9525, 29.97);
/// A point in the neighbouring grid G-00-00.
const NEXT_GRID: (f64, f64) = (102.9525, 29.965);
/// The photo limit the tests run with, so "too large" needs no megabytes.
const MAX_PHOTO: usize = 64 * 1024;
const PHONE: &str = "13800138000";

fn start() -> Cityops {
    Cityops::start(&ServeSpec {
        extra_env: vec![
            (
                "CITYOPS_REPORTS_MAX_PHOTO_BYTES".into(),
                MAX_PHOTO.to_string(),
            ),
            ("CITYOPS_REPORTS_MAX_PHOTOS".into(), "3".into()),
        ],
        ..Default::default()
    })
}

/// Signs in one user per `(name, args)`; returns their clients by name.
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
    (status, r.json().await.unwrap_or(Value::Null))
}

async fn report(c: &Cityops, who: &reqwest::Client, body: Value) -> (u16, Value) {
    send(who.post(c.url("/api/v1/reports")).json(&body)).await
}

fn at((lon, lat): (f64, f64)) -> Value {
    json!({ "lon": lon, "lat": lat })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grid_workers_report_in_their_grids_only() {
    let c = start();
    c.wait_ready().await;
    let p = people(
        &c,
        &[
            ("grid", &["--role", "grid_worker", "--grid", GRID]),
            (
                "dept",
                &["--role", "department", "--department", "water-d0"],
            ),
            ("wall", &["--role", "wall"]),
            ("engineer", &["--role", "engineer"]),
            ("admin", &["--role", "admin"]),
        ],
    );
    let body = json!({
        "category": "0406",
        "location": at(IN_GRID),
        "description": "路口积水约20厘米 water across the junction",
    });
    let r = p["grid"]
        .post(c.url("/api/v1/reports"))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 201);
    let location = r.headers()["location"].to_str().unwrap().to_owned();
    let i: Value = r.json().await.unwrap();
    assert_eq!(
        location,
        format!("/api/v1/incidents/{}", i["id"].as_str().unwrap())
    );
    assert_eq!(i["status"], "discovered");
    assert_eq!(i["category"], "0406");
    assert_eq!(i["severity"], "yellow", "the category's default severity");
    assert_eq!(i["source"], "report:grid");
    assert_eq!(i["location"]["grid"], GRID);
    assert_eq!(i["location"]["street"], "S-00-00");
    assert_eq!(i["location"]["district"], "D-0");
    assert_eq!(i["location"]["lon"], IN_GRID.0);
    assert!(i["title"].as_str().unwrap().contains("道路积水"), "{i}");
    assert!(i["dedup_key"].as_str().unwrap().starts_with("report:"));
    let (status, log) = c
        .get_json(&format!(
            "/api/v1/incidents/{}/events",
            i["id"].as_str().unwrap()
        ))
        .await;
    assert_eq!(status, 200);
    assert_eq!(log[0]["action"], "opened");

    // Only a grid code: placed inside that grid. Orange waterlogging is dispatched by the
    // desk at once (the catalog's auto_dispatch), like a sensor's.
    let (status, j) = report(
        &c,
        &p["grid"],
        json!({
            "category": "0406", "location": { "grid": GRID }, "severity": "orange",
            "description": "地下通道积水", "channel": "snap",
        }),
    )
    .await;
    assert_eq!(status, 201, "{j}");
    assert_eq!(
        (j["severity"].as_str(), j["location"]["grid"].as_str()),
        (Some("orange"), Some(GRID))
    );
    let id = j["id"].as_str().unwrap().to_owned();
    eventually("the desk to dispatch the report", WAIT, || async {
        let (_, v) = c.get_json(&format!("/api/v1/incidents/{id}")).await;
        (v["status"] == "dispatched").then_some(())
    })
    .await;

    // Outside their grid, by point or by code: refused.
    let elsewhere = [at(NEXT_GRID), json!({ "grid": "G-00-00" })];
    for location in elsewhere {
        let body = json!({ "category": "0406", "location": location, "description": "x" });
        let (status, v) = report(&c, &p["grid"], body).await;
        assert_eq!(
            (status, v["code"].as_str()),
            (403, Some("forbidden")),
            "{v}"
        );
    }
    // Roles that do not report.
    for who in ["dept", "wall", "engineer", "admin"] {
        let (status, v) = report(&c, &p[who], body.clone()).await;
        assert_eq!(status, 403, "{who}: {v}");
    }

    // Bad input: 422 with the reason.
    for (body, code) in [
        (
            json!({"category": "9999", "location": at(IN_GRID), "description": "x"}),
            "unknown_category",
        ),
        (
            json!({"category": "0406", "location": at((0.0, 0.0)), "description": "x"}),
            "outside_city",
        ),
        (
            json!({"category": "0406", "location": at((200.0, 0.0)), "description": "x"}),
            "invalid_report",
        ),
        (
            json!({"category": "0406", "location": {"grid": "G-99-99"}, "description": "x"}),
            "unknown_grid",
        ),
        (
            json!({"category": "0406", "location": {"grid": GRID, "lon": 103.0}, "description": "x"}),
            "invalid_report",
        ),
        (
            json!({"category": "0406", "location": at(IN_GRID), "description": "  "}),
            "invalid_report",
        ),
        (
            json!({"category": "0406", "location": at(IN_GRID), "description": "长".repeat(2001)}),
            "invalid_report",
        ),
        (
            json!({"category": "0406", "location": at(IN_GRID)}),
            "invalid_report",
        ),
        (
            json!({"category": "0406", "location": at(IN_GRID), "description": "x", "status": "closed"}),
            "invalid_report",
        ),
        (
            json!({"category": "0406", "location": at(IN_GRID), "description": "x", "severity": "amber"}),
            "invalid_report",
        ),
        (
            json!({"category": "0406", "location": at(IN_GRID), "description": "x", "channel": "open311"}),
            "invalid_report",
        ),
        (
            json!({"category": "0406", "location": at(IN_GRID), "description": "x", "reporter_contact": {"fax": "1"}}),
            "invalid_report",
        ),
    ] {
        let (status, v) = report(&c, &p["grid"], body.clone()).await;
        assert_eq!(
            (status, v["code"].as_str()),
            (422, Some(code)),
            "{body}: {v}"
        );
    }
    let (status, v) = c.get_json("/api/v1/incidents").await;
    assert_eq!(status, 200);
    assert_eq!(
        v.as_array().unwrap().len(),
        2,
        "refused reports open nothing"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_callers_contact_is_for_the_center_only() {
    let c = start();
    c.wait_ready().await;
    let p = people(
        &c,
        &[
            ("dispatcher", &["--role", "dispatcher"]),
            (
                "sanitation",
                &["--role", "department", "--department", "sanitation-d0"],
            ),
            ("grid", &["--role", "grid_worker", "--grid", GRID]),
            ("d1", &["--role", "dispatcher", "--district", "D-1"]),
        ],
    );
    let (status, i) = report(
        &c,
        &p["dispatcher"],
        json!({
            "category": "0102", "channel": "hotline_12345", "location": at(IN_GRID),
            "description": "市民来电：小区门口垃圾堆积三天",
            "address": "人民路12号小区门口",
            "reporter_contact": { "name": "张女士", "phone": PHONE },
        }),
    )
    .await;
    assert_eq!(status, 201, "{i}");
    assert!(
        !i.to_string().contains(PHONE),
        "the incident carries no contact: {i}"
    );
    assert_eq!(
        (i["category"].as_str(), i["severity"].as_str()),
        (Some("0102"), Some("blue"))
    );
    assert_eq!(i["source"], "report:dispatcher");
    let id = i["id"].as_str().unwrap().to_owned();

    // A district center reports only in its district.
    let body = json!({"category": "0102", "location": at(IN_GRID), "description": "x"});
    let (status, _) = report(&c, &p["d1"], body).await;
    assert_eq!(status, 403);

    let (status, r) =
        send(p["dispatcher"].get(c.url(&format!("/api/v1/incidents/{id}/report")))).await;
    assert_eq!(status, 200);
    assert_eq!(r["channel"], "hotline_12345");
    assert_eq!(r["reporter"], "dispatcher");
    assert_eq!(r["address"], "人民路12号小区门口");
    assert_eq!(r["reporter_contact"]["phone"], PHONE);
    assert_eq!(r["reporter_contact"]["name"], "张女士");
    let (_, r) = c.get_json(&format!("/api/v1/incidents/{id}/report")).await;
    assert_eq!(
        r["reporter_contact"]["phone"], PHONE,
        "duty officers see it too"
    );

    // Filed and dispatched to the district's sanitation department, which now sees the
    // case — but not the caller.
    for command in [
        json!({"command": "file"}),
        json!({"command": "dispatch", "department": "sanitation-d0"}),
    ] {
        let url = c.url(&format!("/api/v1/incidents/{id}/actions"));
        let (status, v) = send(p["dispatcher"].post(url).json(&command)).await;
        assert_eq!(status, 200, "{command}: {v}");
    }
    for who in ["sanitation", "grid"] {
        for path in ["", "/report", "/events"] {
            let url = c.url(&format!("/api/v1/incidents/{id}{path}"));
            let r = p[who].get(url).send().await.unwrap();
            assert_eq!(r.status().as_u16(), 200, "{who} {path}");
            let text = r.text().await.unwrap();
            assert!(
                !text.contains(PHONE) && !text.contains("张女士"),
                "{who} {path}: {text}"
            );
        }
        let url = c.url(&format!("/api/v1/incidents/{id}/report"));
        let (_, r) = send(p[who].get(url)).await;
        assert_eq!(r["channel"], "hotline_12345");
        assert!(r.get("reporter_contact").is_none(), "{who}: {r}");
    }
    let (_, list) = send(p["sanitation"].get(c.url("/api/v1/incidents"))).await;
    assert!(!list.to_string().contains(PHONE));
}

/// An id no incident or photo has.
fn uuid_like() -> &'static str {
    "0190d5a8-0000-7000-8000-000000000000"
}
