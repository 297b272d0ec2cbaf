//! The closed loop over the REST API and `/ws`, as the people in it use it: an incident
//! raised by a sensor is filed, dispatched, returned, dispatched again, acknowledged,
//! extended, handled, sent back for rework, verified and closed, each step by a user of
//! the role that does it; everyone else is refused, and each user's live feed carries
//! only the incidents of their jurisdiction.

mod common;

use common::*;
use serde_json::{Value, json};
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(30);

struct Users {
    clients: std::collections::HashMap<&'static str, reqwest::Client>,
    tokens: std::collections::HashMap<&'static str, String>,
}

impl Users {
    fn client(&self, who: &str) -> &reqwest::Client {
        &self.clients[who]
    }
}

fn sign_in(c: &Cityops, people: &[(&'static str, Vec<String>)]) -> Users {
    let mut clients = std::collections::HashMap::new();
    let mut tokens = std::collections::HashMap::new();
    for (name, args) in people {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        add_user(&c.data_dir, &[], name, &args);
        let token = login(c.http, name, TEST_PASSWORD).expect("login");
        clients.insert(*name, client_with(&token));
        tokens.insert(*name, token);
    }
    Users { clients, tokens }
}

async fn act(
    c: &Cityops,
    who: &reqwest::Client,
    id: &str,
    body: Value,
    version: Option<i64>,
) -> (u16, Value) {
    let mut req = who
        .post(c.url(&format!("/api/v1/incidents/{id}/actions")))
        .json(&body);
    if let Some(v) = version {
        req = req.header("if-match", format!("\"{v}\""));
    }
    let r = req.send().await.expect("POST action");
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

fn args(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_whole_loop_by_the_people_who_do_it() {
    let c = Cityops::start(&ServeSpec::default());
    c.wait_ready().await;

    // Unauthenticated: refused.
    let r = reqwest::Client::new()
        .get(c.url("/api/v1/incidents"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 401);

    // A sensor raises an incident (the test rules: over 27 cm of water).
    let s = demo_sensor("waterlogging", 2);
    let mut p = Publisher::connect(c.mqtt.expect("embedded"), "it-loop").await;
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
    let grid = incident["location"]["grid"].as_str().unwrap().to_owned();
    assert_eq!(incident["status"], "discovered");

    let users = sign_in(
        &c,
        &[
            ("dispatcher", args(&["--role", "dispatcher"])),
            ("duty", args(&["--role", "duty_officer"])),
            (
                "water",
                args(&["--role", "department", "--department", "water-city"]),
            ),
            (
                "gas",
                args(&["--role", "department", "--department", "gas-city"]),
            ),
            ("grid", args(&["--role", "grid_worker", "--grid", &grid])),
            (
                "elsewhere",
                args(&["--role", "dispatcher", "--district", other_district]),
            ),
            ("wall", args(&["--role", "wall"])),
            ("engineer", args(&["--role", "engineer"])),
            ("admin", args(&["--role", "admin"])),
        ],
    );
    // Live feeds of the two departments and of the other district's center.
    let mut water_live = Live::connect_with(c.http, &users.tokens["water"])
        .await
        .unwrap();
    let mut gas_live = Live::connect_with(c.http, &users.tokens["gas"])
        .await
        .unwrap();
    let first = gas_live.next(WAIT).await;
    assert_eq!(first["type"], "snapshot");
    let first = water_live.next(WAIT).await;
    assert_eq!(first["type"], "snapshot");
    let mut elsewhere_live = Live::connect_with(c.http, &users.tokens["elsewhere"])
        .await
        .unwrap();
    let first = elsewhere_live.next(WAIT).await;
    assert_eq!(first["type"], "snapshot");

    // The other district's center neither lists it nor may act on it.
    let (_, list) = {
        let r = users
            .client("elsewhere")
            .get(c.url("/api/v1/incidents"))
            .send()
            .await
            .unwrap();
        (r.status().as_u16(), r.json::<Value>().await.unwrap())
    };
    assert!(
        list.as_array()
            .unwrap()
            .iter()
            .all(|i| i["id"] != id.as_str()),
        "another district's incident"
    );
    let r = users
        .client("elsewhere")
        .get(c.url(&format!("/api/v1/incidents/{id}")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 404);
    let (status, _) = act(
        &c,
        users.client("elsewhere"),
        &id,
        json!({"command": "file"}),
        None,
    )
    .await;
    assert_eq!(
        status, 404,
        "a command on an incident out of scope is as for an unknown id"
    );

    // Roles that must not file it are refused; so is a body with fields of its own.
    // (A department sees an incident only once it is dispatched to it: before, it is as
    // unknown to it as any other id.)
    for (who, expected) in [
        ("wall", 403),
        ("engineer", 403),
        ("admin", 403),
        ("water", 404),
        ("grid", 403),
    ] {
        let (status, v) = act(&c, users.client(who), &id, json!({"command": "file"}), None).await;
        assert_eq!(status, expected, "{who} filing: {v}");
    }
    for body in [
        json!({"command": "file", "status": "closed"}),
        json!({"command": "file", "version": 9}),
        json!({"command": "file", "department": "gas-city"}),
        json!({"command": "close_everything"}),
        json!({"command": "dispatch", "department": "nowhere"}),
    ] {
        let (status, v) = act(&c, users.client("dispatcher"), &id, body.clone(), None).await;
        assert_eq!(status, 422, "{body}: {v}");
    }

    // Two dispatchers file it at once from the same view: one wins, one is told.
    let version = incident["version"].as_i64().unwrap();
    let (a, b) = tokio::join!(
        act(
            &c,
            users.client("dispatcher"),
            &id,
            json!({"command": "file"}),
            Some(version)
        ),
        act(
            &c,
            users.client("duty"),
            &id,
            json!({"command": "file"}),
            Some(version)
        ),
    );
    let mut codes = [a.0, b.0];
    codes.sort();
    assert_eq!(codes, [200, 409], "{a:?} {b:?}");
    let loser = if a.0 == 409 { &a.1 } else { &b.1 };
    assert_eq!(loser["code"], "conflict");
    assert_eq!(
        loser["incident"]["status"], "filed",
        "the conflict shows the current state"
    );

    // The loop, each step by its person.
    let steps: Vec<(&str, Value, u16)> = vec![
        (
            "dispatcher",
            json!({"command": "dispatch", "department": "gas-city"}),
            200,
        ),
        // Not theirs: as unknown to them as any other id.
        ("water", json!({"command": "acknowledge"}), 404),
        (
            "gas",
            json!({"command": "return", "reason": "a water main, not gas"}),
            200,
        ),
        (
            "dispatcher",
            json!({"command": "dispatch", "department": "water-city"}),
            200,
        ),
        ("gas", json!({"command": "acknowledge"}), 404), // returned: no longer theirs
        ("water", json!({"command": "acknowledge"}), 200),
        ("water", json!({"command": "close"}), 403),
        (
            "water",
            json!({"command": "request_extension", "until": "2099-01-01T00:00:00Z", "reason": "parts"}),
            200,
        ),
        ("water", json!({"command": "grant_extension"}), 403),
        ("duty", json!({"command": "grant_extension"}), 200),
        ("water", json!({"command": "start"}), 200),
        (
            "water",
            json!({"command": "feedback", "note": "pump cleared"}),
            200,
        ),
        ("wall", json!({"command": "rework", "reason": "x"}), 403),
        (
            "grid",
            json!({"command": "rework", "reason": "still 10 cm of water"}),
            200,
        ),
        ("water", json!({"command": "verify"}), 403),
        ("water", json!({"command": "start"}), 200),
        (
            "water",
            json!({"command": "feedback", "note": "second pump"}),
            200,
        ),
        ("grid", json!({"command": "verify", "note": "dry"}), 200),
        ("dispatcher", json!({"command": "acknowledge"}), 403),
        ("dispatcher", json!({"command": "close"}), 200),
        ("dispatcher", json!({"command": "close"}), 409), // closed already
    ];
    for (n, (who, body, want)) in steps.iter().enumerate() {
        let (status, v) = act(&c, users.client(who), &id, body.clone(), None).await;
        assert_eq!(status, *want, "step {n}: {who} {body}: {v}");
        if n == 0 {
            // The gas department's feed shows it while it is theirs.
            gas_live
                .until("gas's feed shows its incident", WAIT, |m| {
                    m["incidents"]
                        .as_array()
                        .is_some_and(|l| l.iter().any(|i| i["id"] == id.as_str()))
                })
                .await;
        }
    }

    let r = users
        .client("dispatcher")
        .get(c.url(&format!("/api/v1/incidents/{id}/events")))
        .send()
        .await
        .unwrap();
    let events: Value = r.json().await.unwrap();
    let log: Vec<(String, String)> = events
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["action"].as_str().unwrap().to_owned(),
                e["actor"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let actions: Vec<&str> = log.iter().map(|(a, _)| a.as_str()).collect();
    assert_eq!(
        actions,
        vec![
            "opened",
            "file",
            "dispatch",
            "return",
            "dispatch",
            "acknowledge",
            "request_extension",
            "grant_extension",
            "start",
            "feedback",
            "rework",
            "start",
            "feedback",
            "verify",
            "close"
        ]
    );
    assert_eq!(log[3].1, "user:gas");
    assert_eq!(log[13].1, "user:grid");

    // Over /ws the water department saw it once dispatched to them; the gas department
    // never saw it again after returning it.
    let water_saw = water_live
        .until("water's feed shows the incident", WAIT, |m| {
            m["incidents"]
                .as_array()
                .is_some_and(|l| l.iter().any(|i| i["id"] == id.as_str()))
        })
        .await;
    assert!(
        water_saw["incidents"]
            .as_array()
            .unwrap()
            .iter()
            .all(|i| i["department"] == "water-city")
    );
    // Drain gas's feed until quiet: every incident it carried after was gas's.
    for _ in 0..1000 {
        let Ok(m) = tokio::time::timeout(Duration::from_millis(500), gas_live.next(WAIT)).await
        else {
            break;
        };
        for i in m["incidents"].as_array().into_iter().flatten() {
            assert_eq!(
                i["department"], "gas-city",
                "the gas department saw another's incident: {i}"
            );
        }
    }
    // The other district's center saw none of it, all along.
    let mut messages = 0;
    for _ in 0..1000 {
        let Ok(m) =
            tokio::time::timeout(Duration::from_millis(500), elsewhere_live.next(WAIT)).await
        else {
            break;
        };
        messages += 1;
        for i in m["incidents"].as_array().into_iter().flatten() {
            assert_ne!(i["id"], id.as_str(), "another district's incident on /ws");
            assert_eq!(i["location"]["district"], other_district, "{i}");
        }
    }
    assert!(messages > 0, "the other district's feed was live");
    p.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_live_feed_needs_a_user_and_our_own_pages() {
    let c = Cityops::start(&ServeSpec::default());
    c.wait_ready().await;
    assert!(
        tokio_tungstenite::connect_async(format!("ws://{}/ws", c.http))
            .await
            .is_err(),
        "no credentials, no feed"
    );
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    let mut req = format!("ws://{}/ws", c.http).into_client_request().unwrap();
    req.headers_mut().insert(
        "authorization",
        format!("Bearer {}", c.token).parse().unwrap(),
    );
    req.headers_mut()
        .insert("origin", "http://evil.example".parse().unwrap());
    assert!(
        tokio_tungstenite::connect_async(req).await.is_err(),
        "another site's page is refused"
    );
    assert!(Live::connect_with(c.http, &c.token).await.is_ok());
}
