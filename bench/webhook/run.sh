#!/usr/bin/env bash
# bench/webhook: the intake beside its peers, one run, one Redis (unix socket, flushed
# before each server so each starts clean). wrk (2 threads, Lua script webhook.lua) posts
# signed ~28 KB pull_request deliveries, each its own PR and its own X-GitHub-Delivery,
# from bench/webhook/gen_bodies.py, to, in turn:
#   1. `zoneci serve` with the whole pipeline (intake, inspection, routing; the clone URL is
#      never fetched: no migration policy matches, so each job goes received -> inspecting
#      -> queued, as the jobs_in_redis line shows; the one region is always open, so the
#      path measured does not depend on the hour the bench runs at);
#   2. bench/peers/node-octokit, 1 process: node:http + @octokit/webhooks verifyAndReceive
#      (the same HMAC-SHA256 with the same secret over the same bodies) + ioredis
#      SET NX EX on the delivery id + LPUSH of the payload; answers 202 like zoneci;
#   3. the same with 2 node:cluster workers;
#   4. bench/webhook/bare.c, which answers 202 and does nothing else (the ceiling).
# The Node peers are installed by bench/peers/install.sh (npm ci of the committed lockfile
# under build/peers). For each it prints deliveries/s (202s only), p50/p99, server CPU per
# delivery (every process of the server: both cluster workers and their primary), Redis
# CPU per delivery, peak RSS (summed over the processes) and Redis INFO commandstats per
# delivery; then a table, and last a line
#   RATIO rps=X.XX cpu=Y.YY
# rps = zoneci's deliveries/s over the best Node variant's; cpu = zoneci's (server + Redis)
# CPU per delivery over the 1-process Node variant's (server + Redis).
# Usage: bench/webhook/run.sh [CONNECTIONS] [SECONDS] [THREADS]   (THREADS: zoneci's
# server.threads and the bare server's)
set -euo pipefail
cd "$(dirname "$0")/../.."
conns=${1:-64}
secs=${2:-15}
threads=${3:-2}
# Every measured delivery must create a job, so no body may repeat within the run:
# size this above deliveries/s x seconds (each body is ~28 KB on disk and in wrk).
bodies=${BODIES:-300000}
command -v wrk >/dev/null || { echo "wrk is missing: apt-get install wrk" >&2; exit 1; }
command -v node >/dev/null || { echo "node is missing (Node 20 runs the peers)" >&2; exit 1; }
make -s all >/dev/null
octokit=$(bench/peers/install.sh node-octokit)
tmp=$(mktemp -d /tmp/zoneci-bench-XXXXXX)
. bench/lib.sh   # cleanup on exit and signals, step
cc -O2 -std=c11 -D_POSIX_C_SOURCE=200809L -o $tmp/bare bench/webhook/bare.c $(pkg-config --cflags --libs libmicrohttpd) -lpthread
step python3 bench/webhook/gen_bodies.py bench-secret "$bodies" $tmp/bodies >/dev/null
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
 "regions": [{"name": "utc", "timezone": "Etc/UTC", "hours": ["Mon-Sun 00:00-24:00"]}],
 "policies": [{"repos": ["*/*"], "regions": ["utc"]}]}
JSON

ticks=$(getconf CLK_TCK)
tree() { echo "$1 $(pgrep -P "$1" | tr '\n' ' ')"; } # a server and its workers
cpu_ticks() { # user + system ticks of the processes "$@"
  local p s=0
  for p in "$@"; do s=$((s + $(awk '{print $14 + $15}' /proc/$p/stat))); done
  echo $s
}
peak_rss() { # samples the summed VmRSS of $2... until $1 (a file) appears or they exit
  local stop=$1 peak=0 v p; shift
  while [ ! -e "$stop" ] && [ -e /proc/$1 ]; do
    v=0
    for p in "$@"; do v=$((v + $(awk '/VmRSS/ {print $2}' /proc/$p/status 2>/dev/null || echo 0))); done
    [ "$v" -gt "$peak" ] && peak=$v
    sleep 0.2
  done
  echo "$peak"
}

redis_cpu() { redis-cli -s $tmp/redis.sock info cpu | awk -F: '/used_cpu_(sys|user):/ {s += $2} END {printf "%.3f", s}'; }

measure() { # name key url pid... (the server's processes)
  local name=$1 key=$2 url=$3 c0 c1 out reqs rps ok r0 r1 w0 w1 scpu rcpu; shift 3
  # warm-up: connections, Lua script cache, allocator, V8's JIT
  step wrk -t2 -c$conns -d1s -s bench/webhook/webhook.lua "$url" -- $tmp/warm 2 >/dev/null 2>&1 || true
  rm -f $tmp/stop; peak_rss $tmp/stop "$@" > $tmp/rss & local sampler=$!
  redis-cli -s $tmp/redis.sock config resetstat >/dev/null
  c0=$(cpu_ticks "$@"); r0=$(redis_cpu); w0=$(awk '{print $14 + $15 + $16 + $17}' /proc/$$/stat)
  step wrk -t2 -c$conns -d${secs}s --latency -s bench/webhook/webhook.lua "$url" -- $tmp/bodies 2 >$tmp/wrk.out
  out=$(cat $tmp/wrk.out)
  c1=$(cpu_ticks "$@"); r1=$(redis_cpu); w1=$(awk '{print $14 + $15 + $16 + $17}' /proc/$$/stat)
  touch $tmp/stop; wait $sampler
  reqs=$(awk '/^requests/ {print $2}' <<<"$out")
  rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
  ok=$(awk '/^status 202:/ {print $3}' <<<"$out"); ok=${ok:-0}
  scpu=$(awk -v c=$((c1 - c0)) -v t=$ticks -v r=$reqs 'BEGIN {printf "%.1f", c / t * 1e6 / r}')
  rcpu=$(awk -v a=$r0 -v b=$r1 -v r=$reqs 'BEGIN {printf "%.1f", (b - a) * 1e6 / r}')
  echo "== $name"
  grep -E '^status|Requests/sec|^p50_us|^p99_us|Non-2xx|Socket errors' <<<"$out"
  echo "server_cpu_us_per_delivery $scpu"
  echo "redis_cpu_us_per_delivery $rcpu"
  awk -v c=$((w1 - w0)) -v t=$ticks -v r=$reqs 'BEGIN {printf "wrk_cpu_us_per_delivery %.1f (children of this script: wrk)\n", c / t * 1e6 / r}'
  echo "peak_rss_kib $(cat $tmp/rss)"
  redis_counts $reqs
  # deliveries/s counts the 202s only
  awk -v k=$key -v n="$name" -v rps=$rps -v ok=$ok -v r=$reqs -v s=$scpu -v c=$rcpu \
      -v p50=$(awk '/^p50_us/ {print $2}' <<<"$out") -v p99=$(awk '/^p99_us/ {print $2}' <<<"$out") \
      -v rss=$(cat $tmp/rss) 'BEGIN {printf "%s\t%.0f\t%s\t%s\t%s\t%s\t%s\t%s\n", k, rps * ok / r, p50, p99, s, c, rss, n}' >> $tmp/results
}

fresh_redis() { # each server starts on an empty Redis (functions included)
  redis-cli -s $tmp/redis.sock flushall >/dev/null
  redis-cli -s $tmp/redis.sock function flush >/dev/null
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
echo "node $(node --version), $(cd $octokit && node -e 'for (const p of ["@octokit/webhooks", "ioredis"]) process.stdout.write(p + " " + require("./node_modules/" + p + "/package.json").version + ", ")')redis $(redis-server --version | awk '{sub("v=", "", $3); print $3}')"
: > $tmp/results

fresh_redis
ZONECI_GITHUB_SECRET=bench-secret build/zoneci serve --config $tmp/zoneci.json 2>$tmp/zoneci.log &
zpid=$!
for _ in $(seq 50); do curl -sf http://127.0.0.1:$port/healthz >/dev/null && break; sleep 0.1; done
measure "zoneci serve" zoneci http://127.0.0.1:$port/webhooks/github $zpid
# Where the jobs got to (the pipeline runs on after wrk stops: let it catch up a little).
sleep 1
echo "jobs_in_redis $(redis-cli -s $tmp/redis.sock zcard '{bench}:jobs') (warm-up and measured), by state:" \
  $(for k in $(redis-cli -s $tmp/redis.sock --scan --pattern '{bench}:state:*'); do
      echo "${k#\{bench\}:state:}=$(redis-cli -s $tmp/redis.sock zcard "$k")"; done)
kill -TERM $zpid; wait $zpid || true

node_peer() { # key name workers
  fresh_redis
  ZONECI_GITHUB_SECRET=bench-secret node $octokit/server.mjs $port $tmp/redis.sock $3 2>$tmp/$1.log &
  local npid=$! i
  for _ in $(seq 100); do curl -s -o /dev/null http://127.0.0.1:$port/ && break; sleep 0.1; done
  # the cluster's workers listen once they are up; wait for all of them
  for i in $(seq 50); do [ $(pgrep -P $npid | wc -l) -ge $(($3 > 1 ? $3 : 0)) ] && break; sleep 0.1; done
  measure "$2" $1 http://127.0.0.1:$port/webhooks/github $(tree $npid)
  echo "queued_in_redis $(redis-cli -s $tmp/redis.sock llen peer:queue) (warm-up and measured)"
  kill -TERM $npid; wait $npid || true
}
node_peer node1 "node-octokit, 1 process" 1
node_peer node2 "node-octokit, 2 cluster workers" 2

fresh_redis
$tmp/bare $port $threads &
bpid=$!
for _ in $(seq 50); do curl -s -o /dev/null http://127.0.0.1:$port/ && break; sleep 0.1; done
measure "bare 202 handler (ceiling)" bare http://127.0.0.1:$port/webhooks/github $bpid
kill -TERM $bpid; wait $bpid || true

echo
echo "| server | deliveries/s | p50 µs | p99 µs | server CPU µs/delivery | Redis CPU µs/delivery | peak RSS KiB |"
echo "|---|---|---|---|---|---|---|"
awk -F'\t' '{printf "| %s | %s | %s | %s | %s | %s | %s |\n", $8, $2, $3, $4, $5, $6, $7}' $tmp/results
awk -F'\t' '{rps[$1] = $2; cpu[$1] = $5 + $6}
  END {best = rps["node1"] > rps["node2"] ? rps["node1"] : rps["node2"]
       printf "RATIO rps=%.2f cpu=%.2f\n", rps["zoneci"] / best, cpu["zoneci"] / cpu["node1"]}' $tmp/results
