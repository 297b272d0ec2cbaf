#!/usr/bin/env bash
# End-to-end load: starts cityops (and, for `mosquitto`, its own Mosquitto and a fresh
# PostgreSQL database), runs `sensors-sim load` against it, prints the report, stops all.
#
#   scripts/load.sh embedded  [RATE] [SECONDS] [RUNS]   # embedded broker + SQLite
#   scripts/load.sh mosquitto [RATE] [SECONDS] [RUNS]   # Mosquitto + PostgreSQL
#   scripts/load.sh relay     [RATE] [SECONDS] [RUNS]   # Mosquitto alone: its ceiling
#
# Each run starts from a fresh database. Figures and their reading: docs/performance.md.
# LOAD_PUBLISHERS sets the publishing connections (16), LOAD_INFLIGHT the QoS 1 messages
# each may have unacknowledged (sensors-sim's default, 1000).
# LOAD_STORM=0.3 puts 30 % of the sensors into alarm for the whole run (a storm).
# LOAD_PROFILE=debug uses the debug build (a quick smoke run, as scripts/test.sh does);
# figures are only meaningful from the default release build.
#
# In `mosquitto` mode the broker saves its persistence file every second, and the script
# fails if the file is missing after a run: Mosquitto started as root drops to the user
# `mosquitto`, which must own the directory (see deploy/mosquitto.conf).
set -euo pipefail
cd "$(dirname "$0")/.."

mode="${1:-embedded}"
rate="${2:-50000}"
secs="${3:-20}"
runs="${4:-1}"
case "$mode" in embedded|mosquitto|relay) ;; *) echo "usage: $0 embedded|mosquitto|relay [rate] [seconds] [runs]" >&2; exit 2 ;; esac

profile="${LOAD_PROFILE:-release}"
case "$profile" in
    release) cargo build --release --workspace --bins --locked -q ;;
    debug) cargo build --workspace --bins --locked -q ;;
    *) echo "LOAD_PROFILE must be release or debug" >&2; exit 2 ;;
esac
bin="${CARGO_TARGET_DIR:-target}/$profile"
work="$(mktemp -d)"
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

password="$(head -c 24 /dev/urandom | base64)"
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

env_extra=()
[ "$mode" != embedded ] && bash scripts/test-deps.sh >/dev/null
# Each run gets a broker of its own: the persistent sessions an earlier run's cityops left
# behind would otherwise keep a copy of every later message queued (and saved each second),
# which slowed every run after the first.
mosq_pid=""
start_mosquitto() {
    [ -n "$mosq_pid" ] && { kill "$mosq_pid" 2>/dev/null || true; wait "$mosq_pid" 2>/dev/null || true; }
    port="$(free_port)"
    rm -rf "$work/mosq"
    mkdir -p "$work/mosq"
    # Started as root, Mosquitto drops to the user `mosquitto` before it writes anything:
    # give that user the persistence directory (and a way into it), or it silently keeps
    # nothing.
    if [ "$(id -u)" = 0 ] && id mosquitto >/dev/null 2>&1; then
        chmod 755 "$work"
        chown mosquitto: "$work/mosq"
    fi
    cat >"$work/mosq/mosquitto.conf" <<EOF
listener $port 127.0.0.1
allow_anonymous true
persistence true
persistence_location $work/mosq/
autosave_interval 1
max_inflight_messages 1000
max_queued_messages 1000000
max_queued_bytes 0
log_dest stderr
log_type error
log_type warning
EOF
    /usr/sbin/mosquitto -c "$work/mosq/mosquitto.conf" 2>"$work/mosq/log" &
    mosq_pid=$!
    pids+=("$mosq_pid")
    for _ in $(seq 1 50); do
        (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
        sleep 0.1
    done
}

for run in $(seq 1 "$runs"); do
    [ "$mode" != embedded ] && start_mosquitto
    if [ "$mode" = relay ]; then
        echo "== run $run: relay only, offered $rate/s for ${secs}s (mosquitto 127.0.0.1:$port)"
        "$bin/sensors-sim" load --relay-only --storm "${LOAD_STORM:-0}" --mqtt "127.0.0.1:$port" \
            --rate "$rate" --duration "$secs"
        continue
    fi
    if [ "$mode" = mosquitto ]; then
        db="cityops_load_$$_$run"
        su postgres -c "psql -qtA -c \"CREATE DATABASE $db OWNER cityops\"" >/dev/null
        env_extra=(CITYOPS_MQTT_BROKER="mqtt://127.0.0.1:$port"
                   CITYOPS_DATABASE_URL="postgres://cityops:cityops@127.0.0.1:5432/$db"
                   CITYOPS_MQTT_CLIENT_ID="cityops-load-$run")
    fi
    rm -rf "$work/data"
    # The /ws observer signs in as a wall user of this run's own database.
    env "${env_extra[@]}" "$bin/cityops" user add --data "$work/data" --role wall load \
        --password-stdin <<<"$password" >/dev/null
    env "${env_extra[@]}" "$bin/cityops" serve --http 127.0.0.1:0 --mqtt 127.0.0.1:0 \
        --data "$work/data" >"$work/out" 2>"$work/err" &
    cpid=$!
    pids+=("$cpid")
    line=""
    for _ in $(seq 1 300); do
        line="$(grep -m1 '^cityops listening' "$work/out" || true)"
        [ -n "$line" ] && break
        kill -0 "$cpid" 2>/dev/null || { cat "$work/err" >&2; exit 1; }
        sleep 0.1
    done
    [ -n "$line" ] || { echo "cityops did not start" >&2; cat "$work/err" >&2; exit 1; }
    http="$(sed -E 's/.*http=([^ ]+).*/\1/' <<<"$line")"
    mqtt="$(sed -E 's/.*mqtt=([^ ]+).*/\1/' <<<"$line")"
    [ "$mqtt" = external ] && mqtt="127.0.0.1:$port"
    echo "== run $run: $mode, offered $rate/s for ${secs}s (cityops http=$http mqtt=$mqtt)"
    if ! SENSORS_SIM_PASSWORD="$password" "$bin/sensors-sim" load ${LOAD_INFLIGHT:+--inflight $LOAD_INFLIGHT} --user load --storm "${LOAD_STORM:-0}" --publishers "${LOAD_PUBLISHERS:-16}" --mqtt "$mqtt" --http "http://$http" --rate "$rate" --duration "$secs"; then
        echo "-- cityops warnings and errors:" >&2
        grep -E 'WARN|ERROR' "$work/err" | tail -20 >&2 || true
        [ "$mode" = mosquitto ] && { echo "-- mosquitto log:" >&2; tail -20 "$work/mosq/log" >&2; }
        curl -s "http://$http/metrics" | grep -E '^cityops_(mqtt_connects_total|store_errors_total|ingest_queue)' >&2 || true
        exit 1
    fi
    # Reconnects and store errors during the run explain most surprises.
    curl -s "http://$http/metrics" | grep -E '^cityops_(mqtt_connects_total|store_errors_total) ' || true
    echo "cityops peak RSS: $(awk '/^VmHWM/ {print $2, $3}' "/proc/$cpid/status")"
    kill -INT "$cpid"
    wait "$cpid" || true
    unset 'pids[-1]'
    if [ "$mode" = mosquitto ]; then
        su postgres -c "psql -qtA -c \"DROP DATABASE $db WITH (FORCE)\"" >/dev/null
        # The session cityops left holds state: an autosave must have written it.
        for _ in $(seq 1 50); do
            [ -s "$work/mosq/mosquitto.db" ] && break
            sleep 0.1
        done
        if [ ! -s "$work/mosq/mosquitto.db" ]; then
            echo "Mosquitto wrote no persistence file in $work/mosq:" >&2
            cat "$work/mosq/log" >&2
            exit 1
        fi
        echo "   mosquitto persistence: $(stat -c %s "$work/mosq/mosquitto.db") bytes saved"
    fi
done
