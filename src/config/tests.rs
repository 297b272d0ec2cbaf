//! Loading the configuration: defaults, the example file, the environment, and the
//! errors that name what broke.

use super::*;

fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[test]
fn defaults_are_valid_and_embedded() {
    let c = Config::load(None, env(&[])).unwrap();
    assert_eq!(c.broker().unwrap(), BrokerChoice::Embedded);
    assert!(c.database.url.starts_with("sqlite:"));
}

#[test]
fn the_example_file_parses_to_the_defaults() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("cityops.example.toml");
    let c = Config::load(Some(&path), env(&[])).unwrap();
    assert_eq!(c, Config::default());
}

#[test]
fn env_overrides_file_and_switches_backends() {
    let c = Config::load(
        None,
        env(&[
            ("CITYOPS_MQTT_BROKER", "mqtt://127.0.0.1:1884"),
            ("CITYOPS_DATABASE_URL", "postgres://u:p@127.0.0.1/db"),
            ("CITYOPS_INGEST_BATCH_MAX", "500"),
            ("PATH", "/bin"),
        ]),
    )
    .unwrap();
    assert_eq!(
        c.broker().unwrap(),
        BrokerChoice::External {
            host: "127.0.0.1".into(),
            port: 1884
        }
    );
    assert_eq!(c.ingest.batch_max, 500);
    assert!(c.database.url.starts_with("postgres:"));
}

#[test]
fn unknown_env_key_is_an_error_naming_it() {
    let e = Config::load(None, env(&[("CITYOPS_INGEST_BATCH_MAXX", "5")])).unwrap_err();
    let msg = e.to_string();
    assert!(msg.contains("CITYOPS_INGEST_BATCH_MAXX"), "{msg}");
    assert!(msg.contains("batch_maxx"), "{msg}");
}

#[test]
fn bad_env_value_names_the_variable() {
    let e = Config::load(None, env(&[("CITYOPS_INGEST_BATCH_MAX", "lots")])).unwrap_err();
    assert!(e.to_string().contains("CITYOPS_INGEST_BATCH_MAX"), "{e}");
}

#[test]
fn unknown_file_key_names_key_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("c.toml");
    std::fs::write(
        &path,
        "[http]\nlisten = \"127.0.0.1:0\"\n\n[ingest]\nbatch_size = 3\n",
    )
    .unwrap();
    let msg = Config::load(Some(&path), env(&[])).unwrap_err().to_string();
    assert!(msg.contains("batch_size"), "{msg}");
    assert!(msg.contains("line 5"), "{msg}");
}

#[test]
fn bad_values_are_rejected_with_their_key() {
    for (var, value, key) in [
        ("CITYOPS_MQTT_BROKER", "amqp://x", "mqtt.broker"),
        (
            "CITYOPS_INGEST_MAX_PAYLOAD_BYTES",
            "0",
            "ingest.max_payload_bytes",
        ),
        ("CITYOPS_DATABASE_URL", "mysql://x", "database.url"),
        (
            "CITYOPS_MQTT_SENSOR_TOPICS",
            "[\"a/{x\"]",
            "mqtt.sensor_topics",
        ),
        ("CITYOPS_MQTT_SESSIONS", "65", "mqtt.sessions"),
        ("CITYOPS_INGEST_QUEUE_CAPACITY", "0", "queue_capacity"),
        ("CITYOPS_DEMO_ANOMALY_RATE", "1.5", "demo.anomaly_rate"),
        ("CITYOPS_AUTH_SESSION_HOURS", "0", "auth.session_hours"),
        (
            "CITYOPS_AUTH_LOGIN_FAILURES_PER_5MIN",
            "0",
            "auth.login_failures_per_5min",
        ),
        (
            "CITYOPS_AUTH_ALLOWED_ORIGINS",
            "[\"https://wall.example.org/page\"]",
            "auth.allowed_origins",
        ),
    ] {
        let msg = Config::load(None, env(&[(var, value)]))
            .unwrap_err()
            .to_string();
        assert!(msg.contains(key), "{var}={value}: {msg}");
    }
    // On an external broker 8 automatic sessions × 1000 in flight do not fit in 5 000.
    let msg = Config::load(
        None,
        env(&[
            ("CITYOPS_MQTT_BROKER", "mqtt://127.0.0.1:1883"),
            ("CITYOPS_INGEST_QUEUE_CAPACITY", "5000"),
        ]),
    )
    .unwrap_err()
    .to_string();
    assert!(msg.contains("ingest.queue_capacity"), "{msg}");
}

#[test]
fn automatic_intake_sessions_follow_the_broker() {
    let mut c = Config::default();
    assert_eq!(c.intake_sessions(), 0, "the embedded endpoint needs none");
    c.mqtt.broker = "mqtt://127.0.0.1:1883".into();
    assert_eq!(c.intake_sessions(), 8);
    c.mqtt.sessions = 3;
    assert_eq!(c.intake_sessions(), 3);
}

#[test]
fn relative_sqlite_paths_go_under_the_data_dir() {
    let c = Config::default();
    assert_eq!(
        c.database_url(Path::new("data")),
        format!(
            "sqlite://{}",
            Path::new("data").join("cityops.db").display()
        )
    );
}
