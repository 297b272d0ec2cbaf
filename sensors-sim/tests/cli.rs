//! Bad flags get a clear error and a non-zero exit, before anything is published.

use std::process::Command;

fn fails_with(args: &[&str], needle: &str) {
    let out = Command::new(env!("CARGO_BIN_EXE_sensors-sim"))
        .args(args)
        .current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
        .output()
        .expect("run sensors-sim");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{args:?} succeeded");
    assert!(stderr.contains(needle), "{args:?}: {stderr}");
}

#[test]
fn bad_flags_are_refused_with_the_flag_named() {
    fails_with(&["run", "--rate=-5", "--duration", "1"], "--rate");
    fails_with(&["run", "--rate", "NaN", "--duration", "1"], "--rate");
    fails_with(
        &["run", "--anomaly-rate", "2", "--duration", "1"],
        "--anomaly-rate",
    );
    fails_with(
        &["run", "--mqtt", "nohostport", "--duration", "1"],
        "--mqtt",
    );
    fails_with(
        &["run", "--mqtt", "127.0.0.1:99999", "--duration", "1"],
        "--mqtt",
    );
    fails_with(
        &["run", "--city", "no/such/dir", "--duration", "1"],
        "no/such/dir",
    );
    fails_with(
        &[
            "load",
            "--mqtt",
            "127.0.0.1:1",
            "--http",
            "http://127.0.0.1:1",
            "--rate",
            "0",
        ],
        "--rate",
    );
}
