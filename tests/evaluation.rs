//! `GET /api/v1/evaluation` over HTTP: an incident raised by a sensor is taken through the
//! loop by its people, then the figures come back as JSON and as a CSV file for Excel,
//! scoped to who asks; the wall, engineers and bad parameters are refused.

mod common;

use common::*;
use serde_json::{Value, json};
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(30);

fn rfc3339(secs: f64) -> String {
    chrono::DateTime::from_timestamp_micros((secs * 1e6) as i64)
        .unwrap()
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// The evaluation URL with `query` encoded (a `+` of an offset must not become a space).
fn url(c: &Cityops, query: &[(&str, &str)]) -> reqwest::Url {
    reqwest::Url::parse_with_params(&c.url("/api/v1/evaluation"), query).expect("URL")
}

async fn get(client: &reqwest::Client, c: &Cityops, query: &[(&str, &str)]) -> reqwest::Response {
    client
        .get(url(c, query))
        .send()
        .await
        .expect("GET /api/v1/evaluation")
}

async fn get_json(client: &reqwest::Client, c: &Cityops, query: &[(&str, &str)]) -> (u16, Value) {
    let r = get(client, c, query).await;
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn evaluation_as_json_and_csv_scoped_to_who_asks() {
    let c = Cityops::start(&ServeSpec::default());
    c.wait_ready().await;
    let from = rfc3339(now_secs() - 3600.0);
    let to = rfc3339(now_secs() + 3600.0);

    // A sensor raises an incident (the test rules: over 27 cm of water).
    let s = demo_sensor("waterlogging", 2);
    let mut p = Publisher::connect(c.mqtt.expect("embedded"), "it-evaluation").await;
    let body = json!([{ "n": "depth", "u": "cm", "v": 35.0, "t": now_secs() - 60.0 }]).to_string();
    p.publish(&sensor_topic(&s), body).await;
    p.flush().await;
    let incident = eventually("the incident", WAIT, || async {
        let (_, v) = c.get_json("/api/v1/incidents?open=true").await;
        v.as_array()?
            .iter()
            .find(|i| i["source"] == s.id.as_str())
            .cloned()
    })
    .await;
    let id = incident["id"].as_str().unwrap().to_owned();
    let district = incident["location"]["district"]
        .as_str()
        .unwrap()
        .to_owned();
    let other_district = if district == "D-0" { "D-1" } else { "D-0" };

    let mut clients = std::collections::HashMap::new();
    for (name, args) in [
        ("dispatcher", vec!["--role", "dispatcher"]),
        (
            "water",
            vec!["--role", "department", "--department", "water-city"],
        ),
        (
            "gas",
            vec!["--role", "department", "--department", "gas-city"],
        ),
        (
            "elsewhere",
            vec!["--role", "dispatcher", "--district", other_district],
        ),
        (
            "here",
            vec!["--role", "duty_officer", "--district", &district],
        ),
        ("wall", vec!["--role", "wall"]),
        ("engineer", vec!["--role", "engineer"]),
    ] {
        add_user(&c.data_dir, &[], name, &args);
        let token = login(c.http, name, TEST_PASSWORD).expect("login");
        clients.insert(name, client_with(&token));
    }

    // Through the loop: filed, dispatched, acknowledged, handled, verified, closed.
    for (who, body) in [
        ("dispatcher", json!({"command": "file"})),
        (
            "dispatcher",
            json!({"command": "dispatch", "department": "water-city"}),
        ),
        ("water", json!({"command": "acknowledge"})),
        ("water", json!({"command": "start"})),
        (
            "water",
            json!({"command": "feedback", "note": "pump cleared"}),
        ),
        ("dispatcher", json!({"command": "verify"})),
        ("dispatcher", json!({"command": "close"})),
    ] {
        let r = clients[who]
            .post(c.url(&format!("/api/v1/incidents/{id}/actions")))
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 200, "{who} {body}");
    }

    // JSON, for the city's duty officer: one row for the department it went to.
    let period = [("from", from.as_str()), ("to", to.as_str())];
    let (status, v) = get_json(
        &c.http_client,
        &c,
        &[&period[..], &[("by", "department")]].concat(),
    )
    .await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["by"], "department");
    assert_eq!(v["from"].as_str().unwrap()[..19], from[..19]);
    let rows = v["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 1, "{v}");
    let row = &rows[0];
    assert_eq!(row["group"], "water-city");
    for (field, want) in [
        ("filed", 1),
        ("due", 1),
        ("closed", 1),
        ("closed_on_time", 1),
        ("rework", 0),
        ("extended", 0),
        ("overdue", 0),
        ("suspended", 0),
    ] {
        assert_eq!(row[field], want, "{field} in {row}");
    }
    assert_eq!(row["closure_rate"], 1.0);
    assert_eq!(row["on_time_rate"], 1.0);
    assert_eq!(row["rework_rate"], 0.0);
    for field in [
        "acknowledge_mean_secs",
        "acknowledge_p90_secs",
        "close_mean_secs",
        "close_p90_secs",
    ] {
        assert!(
            row[field].as_f64().is_some_and(|s| s >= 0.0),
            "{field} in {row}"
        );
    }

    // CSV: a BOM, a header of the figure names, one line per row.
    let csv_query = [&period[..], &[("by", "district"), ("format", "csv")]].concat();
    let r = get(&c.http_client, &c, &csv_query).await;
    assert_eq!(r.status().as_u16(), 200);
    let header = |name: &str| {
        r.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    };
    assert_eq!(header("content-type"), "text/csv; charset=utf-8");
    let disposition = header("content-disposition");
    assert!(
        disposition.starts_with("attachment; filename=\"evaluation-district-"),
        "{disposition}"
    );
    let bytes = r.bytes().await.unwrap();
    assert_eq!(&bytes[..3], b"\xEF\xBB\xBF", "UTF-8 byte-order mark");
    let text = std::str::from_utf8(&bytes[3..]).unwrap();
    let lines: Vec<&str> = text.split("\r\n").filter(|l| !l.is_empty()).collect();
    assert_eq!(lines.len(), 2, "{text}");
    assert!(
        lines[0].starts_with("区县 district,立案数 filed,应结案数 due,结案数 closed,"),
        "{}",
        lines[0]
    );
    assert_eq!(lines[0].split(',').count(), 16);
    assert!(
        lines[1].starts_with(&format!("{district},1,1,1,1,0,0,0,0,1.0000,1.0000,0.0000,")),
        "{}",
        lines[1]
    );

    // Scopes: the water department sees its row, the gas department nothing; the
    // incident's district center sees it, the other district's center nothing.
    let by_department = [&period[..], &[("by", "department")]].concat();
    for (who, groups) in [
        ("water", vec!["water-city"]),
        ("gas", vec![]),
        ("here", vec!["water-city"]),
        ("elsewhere", vec![]),
    ] {
        let (status, v) = get_json(&clients[who], &c, &by_department).await;
        assert_eq!(status, 200, "{who}: {v}");
        let got: Vec<&str> = v["rows"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["group"].as_str().unwrap())
            .collect();
        assert_eq!(got, groups, "{who}");
    }

    // Roles without evaluation figures, and nobody signed in.
    for who in ["wall", "engineer"] {
        let (status, v) = get_json(&clients[who], &c, &by_department).await;
        assert_eq!(
            (status, v["code"].as_str()),
            (403, Some("forbidden")),
            "{who}: {v}"
        );
    }
    let r = reqwest::Client::new()
        .get(url(&c, &by_department))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 401);

    // Bad parameters: 400 with a message that says what is wrong.
    let long_ago = rfc3339(now_secs() - 4.0 * 366.0 * 86_400.0);
    for (query, says) in [
        (vec![("to", to.as_str())], "from is required"),
        (vec![("from", from.as_str())], "to is required"),
        (
            vec![("from", to.as_str()), ("to", from.as_str())],
            "must be before",
        ),
        (
            vec![("from", "last month"), ("to", to.as_str())],
            "RFC 3339",
        ),
        ([&period[..], &[("by", "grid")]].concat(), "by: expected"),
        ([&period[..], &[("format", "xlsx")]].concat(), "json or csv"),
        (
            vec![("from", long_ago.as_str()), ("to", to.as_str())],
            "three years",
        ),
        ([&period[..], &[("limit", "5")]].concat(), "limit"),
    ] {
        let (status, v) = get_json(&c.http_client, &c, &query).await;
        assert_eq!(status, 400, "{query:?}: {v}");
        assert_eq!(v["code"], "bad_request");
        let message = v["message"].as_str().unwrap_or_default();
        assert!(message.contains(says), "{query:?}: {message}");
    }
}
