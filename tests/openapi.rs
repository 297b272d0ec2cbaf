//! The OpenAPI document: served without signing in, valid OpenAPI 3.1 (checked by the
//! reference validator, `openapi-spec-validator`), and describing every route.

mod common;

use common::*;

/// Every route the router serves, with its method. A route added to `src/api/mod.rs`
/// belongs here and in `src/api/openapi.rs`.
const ROUTES: &[(&str, &str)] = &[
    ("get", "/healthz"),
    ("get", "/readyz"),
    ("get", "/metrics"),
    ("get", "/ws"),
    ("post", "/api/v1/login"),
    ("post", "/api/v1/logout"),
    ("get", "/api/v1/me"),
    ("get", "/api/v1/sensors"),
    ("get", "/api/v1/sensors/{id}/readings"),
    ("get", "/api/v1/incidents"),
    ("get", "/api/v1/incidents/{id}"),
    ("get", "/api/v1/incidents/{id}/events"),
    ("post", "/api/v1/incidents/{id}/actions"),
    ("post", "/api/v1/admin/rules/reload"),
    ("post", "/api/v1/video-alerts"),
    ("get", "/api/v1/video-alerts"),
    ("get", "/api/v1/dead-letters"),
    ("get", "/api/v1/city/{layer}"),
    ("get", "/api/v1/evaluation"),
    ("get", "/api/v1/indicators"),
    ("get", "/api/v1/indicators/{id}/history"),
    ("post", "/api/v1/reports"),
    ("get", "/api/v1/incidents/{id}/report"),
    ("post", "/api/v1/incidents/{id}/photos"),
    ("get", "/api/v1/incidents/{id}/photos"),
    ("get", "/api/v1/photos/{id}"),
    ("get", "/open311/v2/services.json"),
    ("get", "/open311/v2/services/{file}"),
    ("get", "/open311/v2/requests.json"),
    ("post", "/open311/v2/requests.json"),
    ("get", "/open311/v2/requests/{file}"),
    ("get", "/api/v1/openapi.json"),
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_document_is_served_valid_and_complete() {
    let c = Cityops::start(&ServeSpec::default());
    c.wait_ready().await;
    let r = reqwest::Client::new()
        .get(c.url("/api/v1/openapi.json"))
        .send()
        .await
        .expect("GET openapi.json");
    assert_eq!(r.status().as_u16(), 200);
    let doc: serde_json::Value = r.json().await.expect("json");
    assert!(
        doc["openapi"]
            .as_str()
            .is_some_and(|v| v.starts_with("3.1")),
        "{}",
        doc["openapi"]
    );
    for (method, path) in ROUTES {
        assert!(
            doc["paths"][path][method].is_object(),
            "{method} {path} is not described"
        );
    }
    let described: usize = doc["paths"]
        .as_object()
        .expect("paths")
        .values()
        .map(|p| p.as_object().map_or(0, |m| m.len()))
        .sum();
    assert_eq!(
        described,
        ROUTES.len(),
        "the document describes routes the server does not have"
    );
    // Every 4xx/5xx body is the {code, message} shape or a conflict with the incident.
    assert!(doc["components"]["schemas"]["ErrorBody"]["required"].is_array());
    assert!(doc["components"]["securitySchemes"]["bearer"].is_object());

    let file = tempfile::NamedTempFile::new().expect("temp file");
    std::fs::write(file.path(), serde_json::to_vec_pretty(&doc).unwrap()).unwrap();
    let out = std::process::Command::new("python3")
        .args(["-m", "openapi_spec_validator"])
        .arg(file.path())
        .output();
    match out {
        Ok(o) if o.status.success() => {}
        Ok(o) if String::from_utf8_lossy(&o.stderr).contains("No module named") => {
            assert!(
                std::env::var_os("CI").is_none(),
                "openapi-spec-validator is missing (scripts/test-deps.sh installs it)"
            );
            eprintln!("openapi-spec-validator not installed: validation skipped");
        }
        Ok(o) => panic!(
            "the document does not validate:\n{}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        ),
        Err(e) => panic!("python3: {e}"),
    }
}

/// schemathesis generates requests from the document (valid and invalid ones, and
/// sequences) for every operation, signed in as a duty officer, and fails when the server
/// and its document disagree: a 5xx, a status or content type the document does not
/// list, a body not of the documented schema, or a request outside the schema accepted.
/// (`positive_data_acceptance` is left out: a schema-valid report or command may still
/// be refused by the domain — an unknown category, a camera not in the city — with a
/// documented 422.) A fixed seed and example count keep the run deterministic and
/// under a minute.
/// The schemathesis checks that must hold.
const CHECKS: &str = "not_a_server_error,status_code_conformance,content_type_conformance,\
                      response_schema_conformance,negative_data_rejection";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_schema_driven_fuzz_run_finds_the_server_as_documented() {
    let installed = std::process::Command::new("st")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !installed {
        assert!(
            std::env::var_os("CI").is_none(),
            "schemathesis is missing (scripts/test-deps.sh installs it)"
        );
        eprintln!("schemathesis not installed: fuzz run skipped");
        return;
    }
    let c = Cityops::start(&ServeSpec::default());
    c.wait_ready().await;
    let out = tokio::process::Command::new("st")
        // Its cache of found failures goes to the test's own directory, not the tree.
        .current_dir(&c.data_dir)
        .args(["run", &c.url("/api/v1/openapi.json")])
        .args(["-H", &format!("Authorization: Bearer {}", c.token)])
        .args(["--checks", CHECKS, "--max-examples", "30", "--workers", "1"])
        .args(["--seed", "20261125", "--no-color"])
        // The live feed is a WebSocket; logging out would end the run's session.
        .args(["--exclude-path", "/ws", "--exclude-path", "/api/v1/logout"])
        .output()
        .await
        .expect("run schemathesis");
    let report = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "the server and its OpenAPI document disagree:\n{report}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(report.contains("passed"), "{report}");
}
