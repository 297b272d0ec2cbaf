#!/usr/bin/env bash
# Soak: one cityops (embedded broker + SQLite) running for a long time, sampling the
# server's resident memory and its open incidents, to show whether both level off.
#
#   scripts/soak.sh [RATE] [SECONDS] [EVERY]          # load: `sensors-sim run` at RATE/s
#   SOAK_DEMO=1 scripts/soak.sh - [SECONDS] [EVERY]   # `serve --demo`: the demo city alone
#
# Load mode: RATE readings/s (default 10000) from `sensors-sim run` for SECONDS (default
# 3600). Demo mode: `serve --demo` with its own simulator and crew ([demo] settings), no
# outside load, for SECONDS. Every EVERY seconds (default 30) it prints `rss <secs> <kB>`
# and `open <secs> <incidents not closed>`; at the end the simulator's counts (load mode)
# and a summary with the readings stored. `SOAK_PROFILE=debug` uses debug binaries (the
# smoke run in scripts/test.sh: `SOAK_PROFILE=debug scripts/soak.sh 200 5 1`);
# `SOAK_BUILD=0` skips the release build. `SOAK_SENSORS=N` runs on a city generated with N
# sensors (and `SOAK_CAMERAS`, default N/10, cameras) instead of `city/demo`: memory at
# city scale is `SOAK_SENSORS=100000 SOAK_DEMO=1 scripts/soak.sh - 300 30`.
set -euo pipefail
cd "$(dirname "$0")/.."

rate="${1:-10000}"
secs="${2:-3600}"
every="${3:-30}"
demo="${SOAK_DEMO:-0}"
profile="${SOAK_PROFILE:-release}"
if [ "$profile" = release ] && [ "${SOAK_BUILD:-1}" != 0 ]; then
    cargo build --release --workspace --bins --locked -q
fi
bin="${CARGO_TARGET_DIR:-target}/$profile"
work="$(mktemp -d)"
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

city="city/demo"
if [ -n "${SOAK_SENSORS:-}" ]; then
    city="$work/city"
    "$bin/sensors-sim" city --out "$city" --sensors "$SOAK_SENSORS" \
        --cameras "${SOAK_CAMERAS:-$((SOAK_SENSORS / 10))}" >/dev/null
fi
export CITYOPS_CITY_DIR="$city"

# A wall user of the run's own database reads the open incidents.
password="$(head -c 24 /dev/urandom | base64)"
"$bin/cityops" user add --data "$work/data" --role wall soak --password-stdin \
    <<<"$password" >/dev/null
serve_args=(serve --http 127.0.0.1:0 --mqtt 127.0.0.1:0 --data "$work/data")
[ "$demo" = 1 ] && serve_args+=(--demo)
"$bin/cityops" "${serve_args[@]}" >"$work/out" 2>"$work/err" &
cpid=$!
pids+=("$cpid")
line=""
for _ in $(seq 1 600); do
    line="$(grep -m1 '^cityops listening' "$work/out" || true)"
    [ -n "$line" ] && break
    kill -0 "$cpid" 2>/dev/null || { cat "$work/err" >&2; exit 1; }
    sleep 0.1
done
[ -n "$line" ] || { echo "cityops did not start" >&2; exit 1; }
http="$(sed -E 's/.*http=([^ ]+).*/\1/' <<<"$line")"
mqtt="$(sed -E 's/.*mqtt=([^ ]+).*/\1/' <<<"$line")"
if [ "$demo" = 1 ]; then
    echo "== soak: serve --demo for ${secs}s, sampled every ${every}s (cityops pid $cpid http=$http)"
else
    echo "== soak: $rate/s for ${secs}s, sampled every ${every}s (cityops pid $cpid http=$http mqtt=$mqtt)"
fi

token="$(curl -sf -H 'content-type: application/json' \
    -d "$(python3 -c 'import json,sys; print(json.dumps({"user": "soak", "password": sys.argv[1]}))' "$password")" \
    "http://$http/api/v1/login" | python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])')"
open_now() {
    curl -sf -H "authorization: Bearer $token" "http://$http/api/v1/incidents?open=true&limit=10000" |
        python3 -c 'import json,sys; print(len(json.load(sys.stdin)))'
}
rss_now() { awk '/^VmRSS/ {print $2}' "/proc/$cpid/status"; }

start=$(date +%s)
(
    while kill -0 "$cpid" 2>/dev/null; do
        t=$(( $(date +%s) - start ))
        echo "rss $t $(rss_now)"
        echo "open $t $(open_now || echo '?')"
        sleep "$every"
    done
) &
pids+=($!)

if [ "$demo" = 1 ]; then
    # The demo feeds and handles itself; the soak only watches for SECONDS.
    sleep "$secs"
else
    # `sensors-sim run` publishes QoS 1 and counts what the broker acknowledged; the
    # server counts what it stored.
    "$bin/sensors-sim" run --city "$city" --mqtt "$mqtt" --rate "$rate" --duration "$secs" --anomaly-rate 0 \
        >"$work/sim" 2>&1 || { cat "$work/sim" >&2; exit 1; }
    tail -n 3 "$work/sim"
fi
stored_now() { curl -s "http://$http/metrics" | awk '/^cityops_readings_stored_total / {print $2}'; }
# Let the store catch up (until the count stops moving for 5 s; the demo never stops).
last="$(stored_now)"; still=0
while [ "$demo" != 1 ] && [ "$still" -lt 5 ]; do sleep 1; now="$(stored_now)"; if [ "$now" = "$last" ]; then still=$((still + 1)); else still=0; last="$now"; fi; done
open_final="$(open_now)"
echo "summary seconds=$(( $(date +%s) - start )) stored=$last open=$open_final rss_kb=$(rss_now)"
