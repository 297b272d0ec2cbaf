//! Helpers of the login tests: the `cityops user` CLI, servers on a data directory,
//! requests without the harness's own token, and `serve --demo` read from outside.

use super::common::*;
use reqwest::header::{SET_COOKIE, WWW_AUTHENTICATE};
use serde_json::{Value, json};
use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Command, Output, Stdio};

pub const PASSWORD: &str = "correct horse battery";

/// Runs `cityops user ARGS --data DIR`, writing `stdin` to it.
pub fn cli(data: &Path, args: &[&str], stdin: &str) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_cityops"))
        .arg("user")
        .args(args)
        .arg("--data")
        .arg(data)
        .env("CITYOPS_CITY_DIR", demo_city())
        .env("RUST_LOG", "warn")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn cityops user");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(stdin.as_bytes())
        .expect("write stdin");
    child.wait_with_output().expect("cityops user")
}

pub fn ok(out: &Output) -> String {
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert!(out.status.success(), "failed: {stdout}\n{stderr}");
    stdout.into_owned()
}

/// Adds a user with the CLI, the password on standard input.
pub fn cli_add(data: &Path, name: &str, extra: &[&str]) {
    let mut args = vec!["add", name, "--password-stdin"];
    args.extend_from_slice(extra);
    ok(&cli(data, &args, &format!("{PASSWORD}\n")));
}

pub fn serve(data: &Path, extra_env: &[(&str, &str)]) -> Cityops {
    Cityops::start(&ServeSpec {
        data_dir: Some(data.to_owned()),
        extra_env: extra_env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        ..ServeSpec::default()
    })
}

/// A client of our own: the harness's `http_client` carries its test user's token.
pub fn anonymous() -> reqwest::Client {
    reqwest::Client::new()
}

pub async fn post_login(c: &Cityops, body: Value) -> reqwest::Response {
    anonymous()
        .post(c.url("/api/v1/login"))
        .json(&body)
        .send()
        .await
        .expect("POST /login")
}

/// Logs in and returns (token, csrf_token, the whole answer, the Set-Cookie value).
pub async fn login_ok(c: &Cityops, user: &str) -> (String, String, Value, String) {
    let r = post_login(c, json!({"user": user, "password": PASSWORD})).await;
    assert_eq!(r.status(), 200);
    let cookie = r.headers()[SET_COOKIE].to_str().unwrap().to_owned();
    let v: Value = r.json().await.unwrap();
    let token = v["token"].as_str().expect("token").to_owned();
    let csrf = v["csrf_token"].as_str().expect("csrf_token").to_owned();
    (token, csrf, v, cookie)
}

/// GET /me with `header: value`; (status, body).
pub async fn me(c: &Cityops, header: reqwest::header::HeaderName, value: &str) -> (u16, Value) {
    let r = anonymous()
        .get(c.url("/api/v1/me"))
        .header(header, value)
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    if status == 401 {
        assert_eq!(r.headers()[WWW_AUTHENTICATE], "Bearer realm=\"cityops\"");
    }
    (status, r.json().await.unwrap_or(Value::Null))
}

pub fn bearer(token: &str) -> String {
    format!("Bearer {token}")
}

/// Runs `serve --demo` and returns what it printed up to its demo users, then stops it.
pub fn demo_start(data: &Path) -> Vec<(String, String)> {
    let mut child = Command::new(env!("CARGO_BIN_EXE_cityops"))
        .args([
            "serve",
            "--demo",
            "--http",
            "127.0.0.1:0",
            "--mqtt",
            "127.0.0.1:0",
            "--data",
        ])
        .arg(data)
        .env("CITYOPS_CITY_DIR", demo_city())
        .env("CITYOPS_RULES_DIR", fixture_rules())
        .env("CITYOPS_DEMO_RATE", "1")
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn serve --demo");
    let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    let mut users = Vec::new();
    let mut in_users = false;
    for line in lines.by_ref() {
        let line = line.expect("stdout line");
        if line.contains("demo users created") {
            in_users = true;
        } else if line.contains("live page:") {
            break;
        } else if in_users {
            let mut words = line.split_whitespace();
            if let (Some(n), Some(p)) = (words.next(), words.next()) {
                users.push((n.to_owned(), p.to_owned()));
            }
        }
    }
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    // A shutdown that hangs fails here with a reason instead of at the runner's timeout.
    let pid = child.id();
    let (done_tx, done_rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = done_tx.send(child.wait());
    });
    if done_rx
        .recv_timeout(std::time::Duration::from_secs(60))
        .is_err()
    {
        let _ = Command::new("kill")
            .args(["-KILL", &pid.to_string()])
            .status();
        panic!("serve --demo did not stop within 60 s of SIGTERM");
    }
    users
}
