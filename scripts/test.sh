#!/usr/bin/env bash
# Runs every check and test: formatting, lints, the Rust test suites (unit, contract,
# integration) against real PostgreSQL and Mosquitto, and the shipped rules' own tests.
# Installs and starts what the tests need first (idempotent; needs root on Debian).
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/test-deps.sh

echo "== format and lints"
cargo fmt --all -- --check
cargo clippy --workspace --all-targets --locked -- -D warnings

echo "== tests"
# The integration tests start the cityops binary; build it (and the simulator) first.
cargo build --workspace --bins --locked

echo "== soak script smoke runs (5 s each: under load, the demo alone, a generated city)"
SOAK_PROFILE=debug bash scripts/soak.sh 200 5 1 | tail -n 1
SOAK_DEMO=1 SOAK_PROFILE=debug bash scripts/soak.sh - 5 1 | tail -n 1
SOAK_SENSORS=2000 SOAK_DEMO=1 SOAK_PROFILE=debug bash scripts/soak.sh - 5 1 | tail -n 1

echo "== load script smoke runs (2 s each; a run that loses a reading fails)"
LOAD_PROFILE=debug bash scripts/load.sh embedded 200 2 1 | tail -n 4
LOAD_STORM=0.3 LOAD_PROFILE=debug bash scripts/load.sh mosquitto 200 2 1 | tail -n 5
LOAD_PROFILE=debug bash scripts/load.sh relay 200 2 1 | tail -n 3

echo "== shipped rules: check and test"
cargo run --quiet --locked --bin cityops -- rules check rules
cargo run --quiet --locked --bin cityops -- rules test rules
echo
cargo test --workspace --doc --locked
# Last, so its summary is the run's closing line.
cargo nextest run --workspace --locked --profile ci
