#!/usr/bin/env bash
# Soak: one cityops (embedded broker + SQLite) under `sensors-sim load` for a long time,
# sampling the server's resident memory, to show whether memory stays flat.
#
#   scripts/soak.sh [RATE] [SECONDS] [RSS_EVERY]
#
# RATE readings/s (default 10000) from `sensors-sim run` for SECONDS (default 3600),
# sampling VmRSS every RSS_EVERY seconds (default 30). Prints `rss <secs> <kB>` lines, the
# simulator's counts (published, acknowledged), then a summary with the readings stored. `SOAK_PROFILE=debug` uses debug binaries (the
# smoke run in scripts/test.sh: `SOAK_PROFILE=debug scripts/soak.sh 200 5 1`); `SOAK_BUILD=0`
# skips the release build.
set -euo pipefail
cd "$(dirname "$0")/.."

rate="${1:-10000}"
secs="${2:-3600}"
every="${3:-30}"
profile="${SOAK_PROFILE:-release}"
if [ "$profile" = release ] && [ "${SOAK_BUILD:-1}" != 0 ]; then
    cargo build --release --workspace --bins --locked -q
fi
bin="target/$profile"
work="$(mktemp -d)"
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

"$bin/cityops" serve --http 127.0.0.1:0 --mqtt 127.0.0.1:0 --data "$work/data" \
    >"$work/out" 2>"$work/err" &
cpid=$!
pids+=("$cpid")
line=""
for _ in $(seq 1 300); do
    line="$(grep -m1 '^cityops listening' "$work/out" || true)"
    [ -n "$line" ] && break
    kill -0 "$cpid" 2>/dev/null || { cat "$work/err" >&2; exit 1; }
    sleep 0.1
done
[ -n "$line" ] || { echo "cityops did not start" >&2; exit 1; }
http="$(sed -E 's/.*http=([^ ]+).*/\1/' <<<"$line")"
mqtt="$(sed -E 's/.*mqtt=([^ ]+).*/\1/' <<<"$line")"
echo "== soak: $rate/s for ${secs}s, RSS every ${every}s (cityops pid $cpid http=$http mqtt=$mqtt)"

start=$(date +%s)
(
    while kill -0 "$cpid" 2>/dev/null; do
        echo "rss $(( $(date +%s) - start )) $(awk '/^VmRSS/ {print $2}' "/proc/$cpid/status")"
        sleep "$every"
    done
) &
pids+=($!)

# `sensors-sim run` publishes QoS 1 and counts what the broker acknowledged; the server
# counts what it stored. (`sensors-sim load` also watches /ws, which needs a signed-in user.)
"$bin/sensors-sim" run --mqtt "$mqtt" --rate "$rate" --duration "$secs" --anomaly-rate 0 \
    >"$work/sim" 2>&1 || { cat "$work/sim" >&2; exit 1; }
tail -n 3 "$work/sim"
stored_now() { curl -s "http://$http/metrics" | awk '/^cityops_readings_stored_total / {print $2}'; }
# Let the store catch up (until the count stops moving for 5 s).
last="$(stored_now)"; still=0
while [ "$still" -lt 5 ]; do sleep 1; now="$(stored_now)"; if [ "$now" = "$last" ]; then still=$((still + 1)); else still=0; last="$now"; fi; done
echo "summary seconds=$(( $(date +%s) - start )) stored=$last rss_kb=$(awk '/^VmRSS/ {print $2}' "/proc/$cpid/status")"
