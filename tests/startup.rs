//! Start-up refuses what it cannot do: a listen address that is taken stops `serve`
//! before anything else starts.

mod common;

use common::*;
use std::net::TcpListener;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

/// Runs `cityops ARGS` to its end, or kills it and panics after `within`.
fn run_to_end(args: &[&str], env: &[(&str, &str)], within: Duration) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_cityops"))
        .args(args)
        .env("CITYOPS_CITY_DIR", demo_city())
        .env("CITYOPS_RULES_DIR", fixture_rules())
        .env("RUST_LOG", "warn")
        .envs(env.iter().copied())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn cityops");
    let deadline = Instant::now() + within;
    loop {
        if child.try_wait().expect("try_wait").is_some() {
            return child.wait_with_output().expect("output");
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let out = child.wait_with_output().expect("output");
            panic!(
                "cityops {args:?} still running after {within:?}\nstdout: {}\nstderr: {}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn assert_refused(out: &Output, what: &str, addr: &str, data: &Path) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success(),
        "serve must fail when the {what} port is taken; stderr: {stderr}"
    );
    assert!(
        stderr.contains(&format!("cannot listen for {what} on {addr}")),
        "the message names the {what} address {addr}: {stderr}"
    );
    assert!(
        !String::from_utf8_lossy(&out.stdout).contains("cityops listening"),
        "it never says it is listening"
    );
    assert!(
        !data.join("cityops.db").exists(),
        "no database is created before the listeners are bound"
    );
}

#[test]
fn a_taken_mqtt_port_stops_serve_before_anything_starts() {
    let stranger = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = stranger.local_addr().expect("addr").to_string();
    let tmp = tempfile::tempdir().expect("tempdir");
    let data = tmp.path().join("data");
    let data_arg = data.display().to_string();
    let out = run_to_end(
        &[
            "serve",
            "--http",
            "127.0.0.1:0",
            "--mqtt",
            &addr,
            "--data",
            &data_arg,
        ],
        &[],
        Duration::from_secs(30),
    );
    assert_refused(&out, "MQTT", &addr, &data);
}

#[test]
fn a_taken_http_port_stops_serve_before_anything_starts() {
    let stranger = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = stranger.local_addr().expect("addr").to_string();
    let tmp = tempfile::tempdir().expect("tempdir");
    let data = tmp.path().join("data");
    let data_arg = data.display().to_string();
    let out = run_to_end(
        &[
            "serve",
            "--http",
            &addr,
            "--mqtt",
            "127.0.0.1:0",
            "--data",
            &data_arg,
        ],
        &[],
        Duration::from_secs(30),
    );
    assert_refused(&out, "HTTP", &addr, &data);
}
