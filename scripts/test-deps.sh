#!/usr/bin/env bash
# Installs and starts what the tests need, idempotently, on a Debian 12 machine where we
# are root: Mosquitto and its command-line clients (the tests run their own instances; the packaged service is not
# used) and PostgreSQL 15 with the test role and database.
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
command -v mosquitto >/dev/null 2>&1 || [ -x /usr/sbin/mosquitto ] || need+=(mosquitto)
# mosquitto_pub / mosquitto_sub: a second, independent MQTT client for the endpoint tests.
command -v mosquitto_pub >/dev/null 2>&1 || need+=(mosquitto-clients)
command -v cargo-nextest >/dev/null 2>&1 || cargo nextest --version >/dev/null 2>&1 || need_nextest=1
if [ ${#need[@]} -gt 0 ]; then
  echo "== installing ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
  # Only our own instances run, on ports the tests choose.
  if command -v systemctl >/dev/null 2>&1; then systemctl disable --now mosquitto >/dev/null 2>&1 || true; fi
  pkill -x mosquitto >/dev/null 2>&1 || true
fi
if [ "${need_nextest:-0}" = 1 ]; then
  echo "== installing cargo-nextest"
  cargo install --locked cargo-nextest
fi

# The OpenAPI document is validated by the reference validator and fuzzed by
# schemathesis (tests/openapi.rs).
if ! python3 -c "import openapi_spec_validator, schemathesis" >/dev/null 2>&1; then
  echo "== installing openapi-spec-validator and schemathesis"
  python3 -m pip install --quiet --disable-pip-version-check --root-user-action=ignore \
    openapi-spec-validator schemathesis
fi

bash scripts/test-postgres.sh
