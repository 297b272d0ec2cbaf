//! Photos: checked by their bytes, bounded, stored under generated names, logged, and
//! shown only to those who may see the incident.

use super::*;
use sha2::{Digest, Sha256};

/// A real 1×1 PNG.
const PNG: &[u8] = &[
    0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x48, 0x44, 0x52,
    0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x08, 0x06, 0x00, 0x00, 0x00, 0x1f, 0x15, 0xc4,
    0x89, 0x00, 0x00, 0x00, 0x0b, 0x49, 0x44, 0x41, 0x54, 0x78, 0xda, 0x63, 0x60, 0x00, 0x02, 0x00,
    0x00, 0x05, 0x00, 0x01, 0xe9, 0xfa, 0xdc, 0xd8, 0x00, 0x00, 0x00, 0x00, 0x49, 0x45, 0x4e, 0x44,
    0xae, 0x42, 0x60, 0x82,
];
const TEXT: &[u8] = b"this is not a picture at all, just text";

/// One part of a multipart body: (field, file name, declared type, bytes).
type Part<'a> = (&'a str, &'a str, &'a str, &'a [u8]);

fn multipart(parts: &[Part<'_>]) -> (String, Vec<u8>) {
    let boundary = "cityops-test-boundary-7MA4YWxkTrZu0gW";
    let mut body = Vec::new();
    for (field, file, content_type, bytes) in parts {
        body.extend_from_slice(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"{field}\"; \
                 filename=\"{file}\"\r\nContent-Type: {content_type}\r\n\r\n"
            )
            .as_bytes(),
        );
        body.extend_from_slice(bytes);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

async fn upload(c: &Cityops, who: &reqwest::Client, id: &str, parts: &[Part<'_>]) -> (u16, Value) {
    let (content_type, body) = multipart(parts);
    let req = who
        .post(c.url(&format!("/api/v1/incidents/{id}/photos")))
        .header("content-type", content_type)
        .body(body);
    send(req).await
}

fn png(name: &str) -> Part<'_> {
    ("photo", name, "image/png", PNG)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn photos_are_checked_by_their_bytes_and_shown_to_those_who_may_see() {
    let c = start();
    c.wait_ready().await;
    let p = people(
        &c,
        &[
            ("grid", &["--role", "grid_worker", "--grid", GRID]),
            (
                "other-grid",
                &["--role", "grid_worker", "--grid", "G-00-00"],
            ),
            (
                "water",
                &["--role", "department", "--department", "water-city"],
            ),
            ("wall", &["--role", "wall"]),
        ],
    );
    let body = json!({"category": "0102", "location": at(IN_GRID), "description": "垃圾"});
    let (status, i) = report(&c, &p["grid"], body).await;
    assert_eq!(status, 201);
    let id = i["id"].as_str().unwrap().to_owned();

    // A real PNG, sent with a misleading name and type: judged by its bytes.
    let part = ("photo", "../../etc/passwd", "text/plain", PNG);
    let (status, v) = upload(&c, &p["grid"], &id, &[part]).await;
    assert_eq!(status, 201, "{v}");
    let photo = &v[0];
    assert_eq!(photo["content_type"], "image/png");
    assert_eq!(photo["size"], PNG.len());
    let digest: String = Sha256::digest(PNG)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(photo["sha256"], digest);
    assert_eq!(photo["uploaded_by"], "user:grid");
    assert!(photo.get("file").is_none(), "the stored name is not shown");
    let photo_id = photo["id"].as_str().unwrap().to_owned();
    assert_eq!(photo["url"], format!("/api/v1/photos/{photo_id}"));
    let stored: Vec<_> = std::fs::read_dir(c.data_dir.join("photos"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert_eq!(
        stored,
        [format!("{photo_id}.png")],
        "a generated name, nothing else"
    );

    // Text named .jpg and declared JPEG: refused; so is a PNG over the limit, a field of
    // another name, and a request with one bad file among good ones.
    let (status, v) = upload(
        &c,
        &p["grid"],
        &id,
        &[("photo", "pic.jpg", "image/jpeg", TEXT)],
    )
    .await;
    assert_eq!(
        (status, v["code"].as_str()),
        (415, Some("not_an_image")),
        "{v}"
    );
    let mut big = PNG.to_vec();
    big.resize(MAX_PHOTO + 1, 0);
    let (status, v) = upload(
        &c,
        &p["grid"],
        &id,
        &[("photo", "big.png", "image/png", &big)],
    )
    .await;
    assert_eq!(
        (status, v["code"].as_str()),
        (413, Some("photo_too_large")),
        "{v}"
    );
    let (status, v) = upload(&c, &p["grid"], &id, &[("file", "a.png", "image/png", PNG)]).await;
    assert_eq!(
        (status, v["code"].as_str()),
        (422, Some("unexpected_field")),
        "{v}"
    );
    let mixed = [png("a.png"), ("photo", "b.jpg", "image/jpeg", TEXT)];
    let (status, _) = upload(&c, &p["grid"], &id, &mixed).await;
    assert_eq!(status, 415);
    let (status, v) = upload(&c, &p["grid"], &id, &[]).await;
    assert_eq!((status, v["code"].as_str()), (422, Some("no_photo")), "{v}");
    let url = c.url(&format!("/api/v1/incidents/{id}/photos"));
    let (status, v) = send(p["grid"].post(url).body("x")).await;
    assert_eq!(
        (status, v["code"].as_str()),
        (415, Some("not_multipart")),
        "{v}"
    );

    // Listing and fetching: whoever may see the incident; 404 for the rest.
    for who in ["grid", "wall"] {
        let url = c.url(&format!("/api/v1/incidents/{id}/photos"));
        let (status, list) = send(p[who].get(url)).await;
        assert_eq!(status, 200, "{who}");
        assert_eq!(list.as_array().unwrap().len(), 1, "{who}: {list}");
        let url = c.url(&format!("/api/v1/photos/{photo_id}"));
        let r = p[who].get(url).send().await.unwrap();
        assert_eq!(r.status().as_u16(), 200);
        assert_eq!(r.headers()["content-type"], "image/png");
        assert_eq!(r.headers()["x-content-type-options"], "nosniff");
        assert_eq!(r.bytes().await.unwrap().as_ref(), PNG);
    }
    for who in ["water", "other-grid"] {
        let url = c.url(&format!("/api/v1/incidents/{id}/photos"));
        assert_eq!(send(p[who].get(url)).await.0, 404, "{who}");
        let url = c.url(&format!("/api/v1/photos/{photo_id}"));
        assert_eq!(send(p[who].get(url)).await.0, 404, "{who}");
        let (status, _) = upload(&c, &p[who], &id, &[png("a.png")]).await;
        assert_eq!(status, 404, "{who}");
    }
    let (status, _) = upload(&c, &p["wall"], &id, &[png("a.png")]).await;
    assert_eq!(status, 403, "the wall sees but does not add");

    // Up to the limit (3), then no more; each photo is in the incident's log.
    let (status, v) = upload(&c, &p["grid"], &id, &[png("a.png"), png("b.png")]).await;
    assert_eq!(status, 201, "{v}");
    let (status, v) = upload(&c, &p["grid"], &id, &[png("c.png")]).await;
    assert_eq!(
        (status, v["code"].as_str()),
        (422, Some("too_many_photos")),
        "{v}"
    );
    let (_, log) = c.get_json(&format!("/api/v1/incidents/{id}/events")).await;
    let attached = log
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"] == "attached");
    assert_eq!(attached.count(), 3);
    let (status, _) = c.get_json(&format!("/api/v1/photos/{}", uuid_like())).await;
    assert_eq!(status, 404);
    let files = std::fs::read_dir(c.data_dir.join("photos"))
        .unwrap()
        .count();
    assert_eq!(files, 3, "refused uploads leave no files behind");
}

/// Photos have their own body limit (`reports.max_photo_bytes` × `reports.max_photos`),
/// above the API's 1 MiB: a 3 MiB photo goes through with the default settings.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_photo_above_the_api_body_limit_is_accepted() {
    let c = Cityops::start(&ServeSpec::default());
    c.wait_ready().await;
    let p = people(&c, &[("grid", &["--role", "grid_worker", "--grid", GRID])]);
    let body = json!({"category": "0406", "location": {"grid": GRID}, "description": "积水"});
    let (status, i) = report(&c, &p["grid"], body).await;
    assert_eq!(status, 201, "{i}");
    let mut big = PNG.to_vec();
    big.resize(3 << 20, 0);
    let id = i["id"].as_str().unwrap();
    let (status, v) = upload(
        &c,
        &p["grid"],
        id,
        &[("photo", "big.png", "image/png", &big)],
    )
    .await;
    assert_eq!(status, 201, "{v}");
    assert_eq!(v[0]["size"], 3 << 20);
}
