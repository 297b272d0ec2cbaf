//! Open311 GeoReport v2: services from the catalog, a request posted as a form or JSON and
//! followed by the citizen app through a merge to its end, and errors in the
//! specification's shape.

use super::*;

/// Percent-encoding for form values (every byte but the unreserved ones).
fn enc(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                char::from(b).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// `POST requests.json` form-encoded, as the specification sends it.
fn post_form(
    c: &Cityops,
    who: &reqwest::Client,
    pairs: &[(&str, &str)],
) -> reqwest::RequestBuilder {
    let body: Vec<String> = pairs
        .iter()
        .map(|(k, v)| format!("{}={}", enc(k), enc(v)))
        .collect();
    who.post(c.url("/open311/v2/requests.json"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body.join("&"))
}

/// A request at `(lat, long)` of service `code`, with nothing else.
fn minimal<'a>(code: &'a str, lat: &'a str, long: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("service_code", code),
        ("lat", lat),
        ("long", long),
        ("description", "x"),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn open311_services_and_requests_round_trip() {
    let c = start();
    c.wait_ready().await;
    // The citizen app's account: a 12345 intake account of the city center.
    let p = people(
        &c,
        &[
            ("app", &["--role", "dispatcher"]),
            (
                "water",
                &["--role", "department", "--department", "water-city"],
            ),
        ],
    );
    let app = &p["app"];
    let (status, services) = send(app.get(c.url("/open311/v2/services.json"))).await;
    assert_eq!(status, 200);
    let find = |code: &str| {
        let list = services.as_array().unwrap();
        let found = list.iter().find(|s| s["service_code"] == code);
        found
            .cloned()
            .unwrap_or_else(|| panic!("no service {code}"))
    };
    let flood = find("0406");
    assert_eq!(flood["service_name"], "道路积水 Road waterlogging");
    assert_eq!(flood["group"], "flood");
    assert_eq!(flood["type"], "realtime");
    assert_eq!(flood["metadata"], false);
    assert_eq!(find("component:0102")["group"], "manhole");
    assert_eq!(find("0102")["group"], "sanitation");

    let form = [
        ("service_code", "0406"),
        ("lat", "29.97"),
        ("long", "102.9525"),
        ("description", "路口积水，车辆无法通行"),
        ("address_string", "人民路与解放路路口"),
        ("first_name", "Li"),
        ("last_name", "Wei"),
        ("phone", PHONE),
        ("media_url", "https://app.example/p/1.jpg"),
        ("jurisdiction_id", "demo"),
    ];
    let (status, v) = send(post_form(&c, app, &form)).await;
    assert_eq!(status, 201, "{v}");
    let first = v[0]["service_request_id"].as_str().unwrap().to_owned();
    let (status, v) = send(app.get(c.url(&format!("/open311/v2/requests/{first}.json")))).await;
    assert_eq!(status, 200, "{v}");
    let r = &v[0];
    assert_eq!(r["service_request_id"], first.as_str());
    assert_eq!(r["status"], "open");
    assert_eq!(r["service_name"], "道路积水 Road waterlogging");
    assert_eq!(r["service_code"], "0406");
    assert_eq!(r["lat"].as_f64(), Some(29.97));
    assert_eq!(r["long"].as_f64(), Some(102.9525));
    assert_eq!(r["address"], "人民路与解放路路口");
    assert_eq!(r["media_url"], "https://app.example/p/1.jpg");
    assert!(r["requested_datetime"].as_str().unwrap().ends_with('Z'));
    assert!(r["updated_datetime"].is_string());
    assert!(r["status_notes"].is_string());
    assert!(
        !v.to_string().contains(PHONE),
        "contacts stay out of the request view"
    );
    let url = c.url(&format!("/api/v1/incidents/{first}/report"));
    let (_, rep) = send(app.get(url)).await;
    assert_eq!(rep["channel"], "open311");
    assert_eq!(rep["reporter_contact"]["name"], "Li Wei");
    assert_eq!(rep["reporter_contact"]["phone"], PHONE);

    // JSON works too. The first is then merged into the second as a duplicate and follows
    // it: open while it is, closed when it is rejected.
    let body = json!({
        "service_code": "0406", "lat": 29.97, "long": 102.9525, "description": "同一处积水",
    });
    let (status, v) = send(app.post(c.url("/open311/v2/requests.json")).json(&body)).await;
    assert_eq!(status, 201, "{v}");
    let second = v[0]["service_request_id"].as_str().unwrap().to_owned();
    let act = |id: &str, command: Value| {
        let url = c.url(&format!("/api/v1/incidents/{id}/actions"));
        send(app.post(url).json(&command))
    };
    let (status, v) = act(&first, json!({"command": "merge", "into": second})).await;
    assert_eq!(status, 200, "{v}");
    let url = c.url(&format!(
        "/open311/v2/requests.json?service_request_id={first},{second}"
    ));
    let (status, list) = send(app.get(url.clone())).await;
    assert_eq!(status, 200);
    assert_eq!(list.as_array().unwrap().len(), 2, "{list}");
    assert_eq!(
        list[0]["status"], "open",
        "a merged request follows the one it joined"
    );
    assert!(list[0]["status_notes"].as_str().unwrap().contains(&second));
    let reject = json!({"command": "reject", "reason": "已由路政处理"});
    let (status, v) = act(&second, reject).await;
    assert_eq!(status, 200, "{v}");
    let (_, list) = send(app.get(url)).await;
    assert_eq!(
        (list[0]["status"].as_str(), list[1]["status"].as_str()),
        (Some("closed"), Some("closed"))
    );
    let url = c.url("/open311/v2/requests.json?status=closed&service_code=0406");
    let (_, all) = send(app.get(url)).await;
    assert_eq!(all.as_array().unwrap().len(), 2, "{all}");
    let (_, none) = send(app.get(c.url("/open311/v2/requests.json?status=open"))).await;
    assert_eq!(none, json!([]));
    let (_, theirs) = send(p["water"].get(c.url("/open311/v2/requests.json"))).await;
    assert_eq!(
        theirs,
        json!([]),
        "a department follows no one else's requests"
    );

    // Errors, each in the specification's shape.
    let mut unknown_field = minimal("0406", "29.97", "102.9525");
    unknown_field.push(("attribute[x]", "1"));
    let cases: Vec<(reqwest::RequestBuilder, u16)> = vec![
        (
            post_form(&c, app, &minimal("9999", "29.97", "102.9525")),
            400,
        ),
        (
            post_form(&c, app, &minimal("0406", "north", "102.9525")),
            400,
        ),
        (post_form(&c, app, &minimal("0406", "0", "0")), 400),
        (
            post_form(&c, app, &[("service_code", "0406"), ("long", "102.9525")]),
            400,
        ),
        (post_form(&c, app, &unknown_field), 400),
        (post_form(&c, &p["water"], &form), 403),
        (
            reqwest::Client::new().get(c.url("/open311/v2/services.json")),
            401,
        ),
        (
            app.get(c.url(&format!("/open311/v2/requests/{}.json", uuid_like()))),
            404,
        ),
        (
            p["water"].get(c.url(&format!("/open311/v2/requests/{first}.json"))),
            404,
        ),
        (
            app.get(c.url(&format!("/open311/v2/requests/{first}.xml"))),
            400,
        ),
        (app.get(c.url("/open311/v2/requests.json?colour=red")), 400),
        (app.get(c.url("/open311/v2/nothing.json")), 404),
        (app.delete(c.url("/open311/v2/services.json")), 405),
    ];
    for (req, expected) in cases {
        let (status, v) = send(req).await;
        assert_eq!(status, expected, "{v}");
        assert_eq!(v.as_array().map(Vec::len), Some(1), "{v}");
        assert_eq!(v[0]["code"], expected, "{v}");
        assert!(
            v[0]["description"].as_str().is_some_and(|d| !d.is_empty()),
            "{v}"
        );
    }
    let (_, v) = send(post_form(&c, app, &minimal("0406", "0", "0"))).await;
    let description = v[0]["description"].as_str().unwrap();
    assert!(description.starts_with("outside_city"), "{v}");
}
