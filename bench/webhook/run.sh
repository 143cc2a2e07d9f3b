#!/usr/bin/env bash
# bench/webhook: wrk against a running `zoneci serve` (real Redis on a unix socket) with
# signed ~28 KB pull_request deliveries, then against bench/webhook/bare.c (answers 202,
# nothing else) as the ceiling. Prints deliveries/s, p50/p99, server CPU us per delivery
# and peak RSS. Usage: bench/webhook/run.sh [CONNECTIONS] [SECONDS] [THREADS]
set -euo pipefail
cd "$(dirname "$0")/../.."
conns=${1:-64}
secs=${2:-15}
threads=${3:-2}
# Every measured delivery must create a job, so no body may repeat within the run:
# size this above deliveries/s x seconds (each body is ~28 KB on disk and in wrk).
bodies=${BODIES:-300000}
command -v wrk >/dev/null || { echo "wrk is missing: apt-get install wrk" >&2; exit 1; }
make -s all >/dev/null
tmp=$(mktemp -d /tmp/zoneci-bench-XXXXXX)
trap 'kill $(jobs -p) 2>/dev/null || true; redis-cli -s $tmp/redis.sock shutdown nosave >/dev/null 2>&1 || true; rm -rf $tmp' EXIT
cc -O2 -std=c11 -D_POSIX_C_SOURCE=200809L -o $tmp/bare bench/webhook/bare.c $(pkg-config --cflags --libs libmicrohttpd) -lpthread
python3 bench/webhook/gen_bodies.py bench-secret "$bodies" $tmp/bodies >/dev/null
python3 bench/webhook/gen_bodies.py bench-secret 2000 $tmp/warm 900000 >/dev/null
body_bytes=$(wc -c < $tmp/bodies.tpl)
redis-server --port 0 --unixsocket $tmp/redis.sock --save '' --appendonly no --daemonize yes \
  --logfile $tmp/redis.log --dir $tmp
for _ in $(seq 50); do redis-cli -s $tmp/redis.sock ping >/dev/null 2>&1 && break; sleep 0.1; done
port=$(python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])')
cat > $tmp/zoneci.json <<JSON
{"server": {"listen": "127.0.0.1:$port", "threads": $threads},
 "redis": {"url": "unix://$tmp/redis.sock", "prefix": "bench"},
 "cache_dir": "$tmp/cache", "log_level": "warn",
 "regions": [{"name": "emea-berlin", "timezone": "Europe/Berlin", "hours": ["Mon-Fri 09:00-18:00"]}],
 "policies": [{"repos": ["*/*"], "regions": ["emea-berlin"]}]}
JSON

ticks=$(getconf CLK_TCK)
cpu_ticks() { awk '{print $14 + $15}' /proc/$1/stat; }
peak_rss() { # samples VmRSS of $1 until it exits or the file $2 appears
  local peak=0 v
  while [ ! -e "$2" ] && [ -e /proc/$1 ]; do
    v=$(awk '/VmRSS/ {print $2}' /proc/$1/status 2>/dev/null || echo 0)
    [ "${v:-0}" -gt "$peak" ] && peak=$v
    sleep 0.2
  done
  echo "$peak"
}

redis_cpu() { redis-cli -s $tmp/redis.sock info cpu | awk -F: '/used_cpu_(sys|user):/ {s += $2} END {printf "%.3f", s}'; }

measure() { # name pid url
  local name=$1 pid=$2 url=$3 c0 c1 out reqs r0 r1 w0 w1
  # warm-up: connections, Lua script cache, allocator
  wrk -t2 -c$conns -d1s -s bench/webhook/webhook.lua "$url" -- $tmp/warm 2 >/dev/null 2>&1
  rm -f $tmp/stop; peak_rss $pid $tmp/stop > $tmp/rss & local sampler=$!
  redis-cli -s $tmp/redis.sock config resetstat >/dev/null
  c0=$(cpu_ticks $pid); r0=$(redis_cpu); w0=$(awk '{print $14 + $15 + $16 + $17}' /proc/$$/stat)
  out=$(wrk -t2 -c$conns -d${secs}s --latency -s bench/webhook/webhook.lua "$url" -- $tmp/bodies 2)
  c1=$(cpu_ticks $pid); r1=$(redis_cpu); w1=$(awk '{print $14 + $15 + $16 + $17}' /proc/$$/stat)
  touch $tmp/stop; wait $sampler
  reqs=$(awk '/^requests/ {print $2}' <<<"$out")
  echo "== $name"
  grep -E '^status|Requests/sec|^p50_us|^p99_us|Non-2xx|Socket errors' <<<"$out"
  awk -v c=$((c1 - c0)) -v t=$ticks -v r=$reqs 'BEGIN {printf "server_cpu_us_per_delivery %.1f\n", c / t * 1e6 / r}'
  awk -v a=$r0 -v b=$r1 -v r=$reqs 'BEGIN {printf "redis_cpu_us_per_delivery %.1f\n", (b - a) * 1e6 / r}'
  awk -v c=$((w1 - w0)) -v t=$ticks -v r=$reqs 'BEGIN {printf "wrk_cpu_us_per_delivery %.1f (children of this script: wrk)\n", c / t * 1e6 / r}'
  echo "peak_rss_kib $(cat $tmp/rss)"
  redis_counts $reqs
}

# What one delivery costs Redis, from INFO commandstats over the measured run: function
# calls, every command (those run inside functions included), bytes the server read.
redis_counts() {
  redis-cli -s $tmp/redis.sock info commandstats | tr -d '\r' | awk -F'[:=,]' -v r=$1 '
    /^cmdstat_/ {all += $3; if ($1 == "cmdstat_fcall" || $1 == "cmdstat_evalsha") calls += $3}
    END {if (r > 0) printf "redis_per_delivery script_calls %.2f commands %.1f\n", calls / r, all / r}'
  # The costliest commands (time inside functions counts both there and for FCALL).
  redis-cli -s $tmp/redis.sock info commandstats | tr -d '\r' | awk -F'[:=,]' -v r=$1 '
    /^cmdstat_/ && r > 0 {printf "%.1f %s %.2f\n", $5 / r, substr($1, 9), $3 / r}' |
    sort -rn | head -6 | awk '{printf "redis_top %s us/delivery %s calls/delivery %s\n", $2, $1, $3}'
  redis-cli -s $tmp/redis.sock info stats | tr -d '\r' | awk -F: -v r=$1 '
    /^total_net_input_bytes/ {if (r > 0) printf "redis_bytes_in_per_delivery %.0f\n", $2 / r}'
}

echo "body_bytes $body_bytes, distinct bodies $bodies, connections $conns, ${secs}s, server threads $threads, $(nproc) cores"
ZONECI_GITHUB_SECRET=bench-secret build/zoneci serve --config $tmp/zoneci.json 2>$tmp/zoneci.log &
zpid=$!
for _ in $(seq 50); do curl -sf http://127.0.0.1:$port/healthz >/dev/null && break; sleep 0.1; done
measure "zoneci serve" $zpid http://127.0.0.1:$port/webhooks/github
echo "jobs_in_redis $(redis-cli -s $tmp/redis.sock zcard '{bench}:jobs') (warm-up and measured)"
kill -TERM $zpid; wait $zpid || true

$tmp/bare $port $threads &
bpid=$!
for _ in $(seq 50); do curl -s -o /dev/null http://127.0.0.1:$port/ && break; sleep 0.1; done
measure "bare 202 handler (ceiling)" $bpid http://127.0.0.1:$port/webhooks/github
kill -TERM $bpid; wait $bpid || true
