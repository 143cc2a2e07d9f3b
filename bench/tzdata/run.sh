#!/bin/sh
# Time-zone data: how long generating ICU's data from the system's tzdata takes, and how
# long `zoneci serve` takes from exec to a 200 on /healthz with and without regenerating
# at start. Beside it, in the same run: zic compiling the same database from its source
# (tzdata.zi), the step a distribution runs to make the TZif files we read.
# Usage: bench/tzdata/run.sh [ROUNDS]   (from the repository root, after `make`)
set -eu
ROUNDS=${1:-7}
BIN=${ZONECI_BIN:-build/zoneci}
SRC=${TZDIR:-/usr/share/zoneinfo}
TMP=$(mktemp -d)
trap 'kill $(cat "$TMP/redis.pid" 2>/dev/null) 2>/dev/null || true; rm -rf "$TMP"' EXIT

now_ms() { date +%s%3N; }
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

# 1. Generation alone.
for i in $(seq "$ROUNDS"); do
    t0=$(now_ms); "$BIN" tzdata generate --out "$TMP/gen" >/dev/null; t1=$(now_ms)
    echo $((t1 - t0))
done | median > "$TMP/gen.ms"
for i in $(seq "$ROUNDS"); do
    rm -rf "$TMP/zic"; t0=$(now_ms); zic -d "$TMP/zic" "$SRC/tzdata.zi"; t1=$(now_ms)
    echo $((t1 - t0))
done | median > "$TMP/zic.ms"

# 2. serve start-up. A copy of the system's zoneinfo that says it is newer (2099z) forces
# a regeneration into a fresh cache_dir; the second start finds that copy.
cp -a "$SRC" "$TMP/zoneinfo"
sed -i '1s/.*/# version 2099z/' "$TMP/zoneinfo/tzdata.zi"
redis-server --port 0 --unixsocket "$TMP/redis.sock" --daemonize yes \
    --pidfile "$TMP/redis.pid" --logfile "$TMP/redis.log" --save '' --appendonly no
sleep 0.3
PORT=18763
start_once() { # $1 = TZDIR, $2 = cache_dir; prints ms until /healthz answers
    cat > "$TMP/cfg.json" <<CFG
{"server": {"listen": "127.0.0.1:$PORT", "threads": 2},
 "redis": {"url": "unix://$TMP/redis.sock"}, "cache_dir": "$2", "log_level": "warn",
 "github": {"webhook_secret_env": "BENCH_SECRET"},
 "runners": {"tokens_env": "BENCH_TOKENS"},
 "regions": [{"name": "tokyo", "timezone": "Asia/Tokyo", "hours": ["Mon-Fri 09:00-18:00"]},
             {"name": "berlin", "timezone": "Europe/Berlin", "hours": ["Mon-Fri 09:00-18:00"]},
             {"name": "seattle", "timezone": "America/Los_Angeles", "hours": ["Mon-Fri 08:00-17:00"]}],
 "policies": [{"repos": ["*/*"], "regions": ["tokyo", "berlin", "seattle"]}]}
CFG
    t0=$(now_ms)
    TZDIR=$1 BENCH_SECRET=s BENCH_TOKENS=t "$BIN" serve --config "$TMP/cfg.json" 2>"$TMP/serve.log" &
    pid=$!
    until curl -sf "http://127.0.0.1:$PORT/healthz" >/dev/null 2>&1; do sleep 0.002; done
    t1=$(now_ms)
    kill "$pid"; wait "$pid" 2>/dev/null || true
    echo $((t1 - t0))
}
for i in $(seq "$ROUNDS"); do start_once "$SRC" "$TMP/cache-plain"; done | median > "$TMP/plain.ms"
for i in $(seq "$ROUNDS"); do
    rm -rf "$TMP/cache-regen"; start_once "$TMP/zoneinfo" "$TMP/cache-regen"
done | median > "$TMP/regen.ms"
grep -q 'regenerated=yes' "$TMP/serve.log" 2>/dev/null || true

echo "commit $(git rev-parse --short HEAD 2>/dev/null || echo unknown), $ROUNDS rounds, medians"
echo "zoneci tzdata generate (447 zones, 178 links):  $(cat "$TMP/gen.ms") ms"
echo "zic compiling tzdata.zi (same database):        $(cat "$TMP/zic.ms") ms"
echo "serve start to /healthz, data already generated: $(cat "$TMP/plain.ms") ms"
echo "serve start to /healthz, regenerating at start:  $(cat "$TMP/regen.ms") ms"
