#!/usr/bin/env bash
# bench/dispatch: jobs end to end, webhook -> queued -> claimed -> completed, beside BullMQ,
# in one run on one Redis (unix socket, flushed before each side so each starts clean).
#
# zoneci: `zoneci serve` with one region that is always open (Etc/UTC, Mon-Sun
#   00:00-24:00), a runner token in ZONECI_RUNNER_TOKENS, and no migration policy, so the
#   inspector never fetches the payload's clone URL (which is not fetchable here) and each
#   job goes received -> inspecting -> queued at once; the state counts printed after the
#   run show every job `succeeded`. server.max_connections_per_ip is 0 (off): the 64
#   delivery connections and the runners' all come from 127.0.0.1, where GitHub's and the
#   runners' would come from many addresses. The load client is bench/dispatch/dispatch.c
#   (build/bench-dispatch): one sender keeps INFLIGHT signed deliveries in flight (libcurl
#   multi; bodies from bench/webhook/gen_bodies.py, each its own PR), and RUNNERS threads,
#   one per runner with its own connection, long-poll POST /api/v1/runners/claim and POST
#   /api/v1/jobs/ID/complete at once (nothing is executed). Measured:
#     jobs_per_s: jobs completed / (last completion - first delivery sent);
#     queued_to_claim p50/p99: from the `at` of the job's `queued` history entry (server's
#       clock, ms, read from the claim answer, which carries the history) to the moment
#       the client had the claim answer (its clock: same host);
#     received_to_claim: the same from the job's created_at (the intake).
#   A warm-up of 500 jobs runs first (connections, Redis functions, allocator).
# BullMQ: bench/peers/bullmq (npm ci of the committed lockfile under build/peers): 4 worker
#   processes x concurrency 8 with a no-op processor, a producer keeping 64 adds in flight,
#   the same number of jobs; jobs/s = jobs / (last completion - first add), and p50/p99
#   from add() (job.timestamp) to processor start. A warm-up of 500 jobs runs first.
# CPU per job: zoneci's server and Redis (the C load client separately); for BullMQ every
#   Node process (producer and workers: process.cpuUsage() over the measured part, Node's
#   start-up not counted) and Redis.
# The protocol's ceiling: bench/dispatch/ceiling.c (build/bench-ceiling) speaks the same
#   HTTP exchanges (delivery, long-poll claim, completion) answered from memory, with no
#   signature, JSON, Redis or lease, on the same thread pool; the same client against it
#   gives the most jobs/s any server of this protocol reaches on this machine, printed as
#   `ceiling_over_bullmq` (the bound on the ratio below).
# The last line is `RATIO jobs_per_s=X.XX` (zoneci over BullMQ).
# Usage: bench/dispatch/run.sh [JOBS] [RUNNERS] [THREADS]   (THREADS: server.threads)
set -euo pipefail
cd "$(dirname "$0")/../.."
jobs_n=${1:-10000}
runners=${2:-50}
threads=${3:-4}
inflight=64
warm_n=500
command -v node >/dev/null || { echo "node is missing (Node 20 runs the BullMQ peer)" >&2; exit 1; }
make -s all build/bench-dispatch build/bench-ceiling >/dev/null
bullmq=$(bench/peers/install.sh bullmq)
tmp=$(mktemp -d /tmp/zoneci-dispatch-XXXXXX)
. bench/lib.sh   # cleanup on exit and signals, step

step python3 bench/webhook/gen_bodies.py bench-secret "$jobs_n" $tmp/bodies >/dev/null
python3 bench/webhook/gen_bodies.py bench-secret $warm_n $tmp/warm 900000 >/dev/null
redis-server --port 0 --unixsocket $tmp/redis.sock --save '' --appendonly no --daemonize yes \
  --logfile $tmp/redis.log --dir $tmp
for _ in $(seq 50); do redis-cli -s $tmp/redis.sock ping >/dev/null 2>&1 && break; sleep 0.1; done
port=$(python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])')
cat > $tmp/zoneci.json <<JSON
{"server": {"listen": "127.0.0.1:$port", "threads": $threads, "max_connections_per_ip": 0},
 "redis": {"url": "unix://$tmp/redis.sock", "prefix": "bench"},
 "cache_dir": "$tmp/cache", "log_level": "warn",
 "regions": [{"name": "utc", "timezone": "Etc/UTC", "hours": ["Mon-Sun 00:00-24:00"]}],
 "policies": [{"repos": ["*/*"], "regions": ["utc"]}]}
JSON

ticks=$(getconf CLK_TCK)
cpu_s() { awk -v t=$ticks '{printf "%.3f", ($14 + $15) / t}' /proc/$1/stat; }
children_s() { awk -v t=$ticks '{printf "%.3f", ($16 + $17) / t}' /proc/$$/stat; }
redis_s() { redis-cli -s $tmp/redis.sock info cpu | awk -F: '/used_cpu_(sys|user):/ {s += $2} END {printf "%.3f", s}'; }
per_job() { awk -v a=$1 -v b=$2 -v n=$3 'BEGIN {printf "%.1f", (b - a) * 1e6 / n}'; }
fresh_redis() {
  redis-cli -s $tmp/redis.sock flushall >/dev/null
  redis-cli -s $tmp/redis.sock function flush >/dev/null
}
field() { awk -v k="$1" -v i="$2" '$1 == k {print $i}' <<<"$3"; }

echo "jobs $jobs_n, runners $runners, deliveries in flight $inflight, server threads $threads, $(nproc) cores"
echo "node $(node --version), bullmq $(node -p "require('./$bullmq/node_modules/bullmq/package.json').version"), redis $(redis-server --version | awk '{sub("v=", "", $3); print $3}')"

# ---- zoneci
fresh_redis
ZONECI_GITHUB_SECRET=bench-secret ZONECI_RUNNER_TOKENS=bench-token \
  build/zoneci serve --config $tmp/zoneci.json 2>$tmp/zoneci.log &
zpid=$!
for _ in $(seq 50); do curl -sf http://127.0.0.1:$port/healthz >/dev/null && break; sleep 0.1; done
url=http://127.0.0.1:$port
step build/bench-dispatch $url bench-token utc $tmp/warm $warm_n $runners $inflight warm-$$ >/dev/null
redis-cli -s $tmp/redis.sock config resetstat >/dev/null
c0=$(cpu_s $zpid); r0=$(redis_s); k0=$(children_s)
step build/bench-dispatch $url bench-token utc $tmp/bodies $jobs_n $runners $inflight run-$$ >$tmp/zout ||
  { cat $tmp/zout; echo "bench-dispatch failed; zoneci's log:" >&2; tail -20 $tmp/zoneci.log >&2; exit 1; }
zout=$(cat $tmp/zout)
c1=$(cpu_s $zpid); r1=$(redis_s); k1=$(children_s)
echo "== zoneci serve + bench-dispatch ($runners runners)"
echo "$zout"
z_server=$(per_job $c0 $c1 $jobs_n); z_redis=$(per_job $r0 $r1 $jobs_n)
echo "server_cpu_us_per_job $z_server"
echo "redis_cpu_us_per_job $z_redis"
echo "client_cpu_us_per_job $(per_job $k0 $k1 $jobs_n) (bench-dispatch: sender and runners)"
# What one job costs Redis (INFO commandstats over the measured run; time inside
# functions counts both for the command and for FCALL).
redis-cli -s $tmp/redis.sock info commandstats | tr -d '\r' | awk -F'[:=,]' -v r=$jobs_n '
  /^cmdstat_/ {all += $3; if ($1 == "cmdstat_fcall") calls += $3}
  END {printf "redis_per_job script_calls %.2f commands %.1f\n", calls / r, all / r}'
redis-cli -s $tmp/redis.sock info commandstats | tr -d '\r' | awk -F'[:=,]' -v r=$jobs_n '
  /^cmdstat_/ {printf "%.1f %s %.2f\n", $5 / r, substr($1, 9), $3 / r}' |
  sort -rn | head -8 | awk '{printf "redis_top %s us/job %s calls/job %s\n", $2, $1, $3}'
echo "jobs by state:" $(for k in $(redis-cli -s $tmp/redis.sock --scan --pattern '{bench}:state:*'); do
  echo "${k#\{bench\}:state:}=$(redis-cli -s $tmp/redis.sock zcard "$k")"; done) "(warm-up and measured)"
kill -TERM $zpid || true
wait $zpid || true

# ---- the protocol's ceiling (no Redis)
cport=$(python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])')
build/bench-ceiling $cport $threads &
cpid=$!
for _ in $(seq 50); do curl -s -o /dev/null http://127.0.0.1:$cport/ && break; sleep 0.1; done
step build/bench-dispatch http://127.0.0.1:$cport bench-token utc $tmp/warm $warm_n $runners $inflight >/dev/null
step build/bench-dispatch http://127.0.0.1:$cport bench-token utc $tmp/bodies $jobs_n $runners $inflight >$tmp/cout
cout=$(cat $tmp/cout)
kill -TERM $cpid || true
wait $cpid || true
echo "== the protocol's ceiling (bench-ceiling: the same HTTP exchanges answered from memory)"
grep jobs_per_s <<<"$cout"

# ---- BullMQ
fresh_redis
step node $bullmq/bench.mjs $tmp/redis.sock $warm_n 4 8 $inflight >/dev/null
fresh_redis
r0=$(redis_s)
step node $bullmq/bench.mjs $tmp/redis.sock $jobs_n 4 8 $inflight >$tmp/bout
bout=$(cat $tmp/bout)
r1=$(redis_s)
echo "== BullMQ (4 workers x concurrency 8, no-op processor)"
grep -v '^worker_pids' <<<"$bout"
b_node=$(field node_cpu_us_per_job 2 "$bout"); b_redis=$(per_job $r0 $r1 $jobs_n)
echo "redis_cpu_us_per_job $b_redis"

zj=$(field jobs_per_s 2 "$zout"); bj=$(field jobs_per_s 2 "$bout")
echo
echo "| system | jobs/s | p50 ms | p99 ms | server CPU µs/job (BullMQ: producer + workers) | Redis CPU µs/job |"
echo "|---|---|---|---|---|---|"
echo "| zoneci (queued → claim answered) | $zj | $(field queued_to_claim_ms 3 "$zout") | $(field queued_to_claim_ms 5 "$zout") | $z_server | $z_redis |"
echo "| zoneci (received → claim answered) | | $(field received_to_claim_ms 3 "$zout") | $(field received_to_claim_ms 5 "$zout") | | |"
echo "| BullMQ (add → processor start) | $bj | $(field add_to_start_ms 3 "$bout") | $(field add_to_start_ms 5 "$bout") | $b_node | $b_redis |"
cj=$(field jobs_per_s 2 "$cout")
echo "| the protocol's ceiling (no Redis, nothing checked) | $cj | $(field queued_to_claim_ms 3 "$cout") | $(field queued_to_claim_ms 5 "$cout") | | |"
awk -v c=$cj -v b=$bj 'BEGIN {printf "ceiling_over_bullmq %.2f\n", c / b}'
awk -v z=$zj -v b=$bj 'BEGIN {printf "RATIO jobs_per_s=%.2f\n", z / b}'
