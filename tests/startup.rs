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

/// Copies a directory's files (one level) into `to`.
fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for e in std::fs::read_dir(from).expect("read dir") {
        let e = e.expect("entry");
        if e.file_type().expect("type").is_file() {
            std::fs::copy(e.path(), to.join(e.file_name())).expect("copy");
        }
    }
}

fn check_config(env: &[(&str, &str)], data: &Path) -> Output {
    let data_arg = data.display().to_string();
    run_to_end(
        &["check-config", "--data", &data_arg],
        env,
        Duration::from_secs(30),
    )
}

#[test]
fn check_config_passes_the_shipped_demo_city_and_rules() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let out = check_config(&[], tmp.path());
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("# ok: city"), "{stdout}");
}

#[test]
fn check_config_refuses_a_broken_rules_directory() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let rules = tmp.path().join("rules");
    copy_dir(&fixture_rules(), &rules);
    let file = rules.join("thresholds.rules.toml");
    let mut text = std::fs::read_to_string(&file).expect("read");
    text.push_str("\n[[rule]]\nname = \"broken\"\nwhen = \"no such thing >\"\n");
    std::fs::write(&file, text).expect("write");
    let rules_arg = rules.display().to_string();
    let out = check_config(&[("CITYOPS_RULES_DIR", &rules_arg)], tmp.path());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "a broken rule set fails: {stderr}");
    assert!(
        stderr.contains("thresholds.rules.toml"),
        "the error names the rule file: {stderr}"
    );
}

#[test]
fn check_config_refuses_a_device_password_file_that_does_not_parse() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let file = tmp.path().join("devices.passwd");
    std::fs::write(&file, "pump-7:not-a-hash\n").expect("write");
    let file_arg = file.display().to_string();
    let out = check_config(&[("CITYOPS_MQTT_DEVICE_PASSWORDS", &file_arg)], tmp.path());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "a bad password file fails: {stderr}");
    assert!(
        stderr.contains("devices.passwd") && stderr.contains("line 1"),
        "the error names the file and the line: {stderr}"
    );
    // With an external broker the setting means nothing, which is said too.
    std::fs::write(&file, "").expect("write");
    let out = check_config(
        &[
            ("CITYOPS_MQTT_DEVICE_PASSWORDS", &file_arg),
            ("CITYOPS_MQTT_BROKER", "mqtt://127.0.0.1:1883"),
        ],
        tmp.path(),
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(stderr.contains("mqtt.device_passwords"), "{stderr}");
}

#[test]
fn check_config_refuses_a_database_that_does_not_answer_and_says_so_quickly() {
    // Accepts connections (the kernel does) and never answers.
    let silent = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = silent.local_addr().expect("addr").port();
    let url = format!("postgres://cityops:secret@127.0.0.1:{port}/cityops");
    let tmp = tempfile::tempdir().expect("tempdir");
    let started = Instant::now();
    let out = check_config(&[("CITYOPS_DATABASE_URL", &url)], tmp.path());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(stderr.contains("database"), "{stderr}");
    assert!(
        !stderr.contains("secret"),
        "no password in the message: {stderr}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(15),
        "answers within the check's timeout: {:?}",
        started.elapsed()
    );
}

#[test]
fn a_sensor_outside_the_grid_it_names_is_a_city_error_naming_it() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let city = tmp.path().join("city");
    copy_dir(&demo_city(), &city);
    let file = city.join("sensors.geojson");
    let mut v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&file).expect("read")).expect("json");
    let features = v["features"].as_array_mut().expect("features");
    // Move the first sensor to where a sensor of another grid stands.
    let grid = features[0]["properties"]["grid"].clone();
    let elsewhere = features
        .iter()
        .find(|f| f["properties"]["grid"] != grid)
        .map(|f| f["geometry"].clone())
        .expect("a sensor in another grid");
    let id = features[0]["properties"]["id"]
        .as_str()
        .expect("id")
        .to_owned();
    features[0]["geometry"] = elsewhere;
    std::fs::write(&file, v.to_string()).expect("write");
    let city_arg = city.display().to_string();
    let out = check_config(&[("CITYOPS_CITY_DIR", &city_arg)], tmp.path());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(
        stderr.contains(&id) && stderr.contains("outside the grid"),
        "the error names the sensor {id}: {stderr}"
    );
}
