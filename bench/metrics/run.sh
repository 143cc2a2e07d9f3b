#!/usr/bin/env bash
# bench/metrics: the Redis side of one /metrics scrape against a throwaway redis-server on
# a unix socket, beside one PING round trip, with short and deep queues (the oldest job is
# looked for among the first 100 only, so the cost should not follow the depth).
# usage: run.sh [N]
set -euo pipefail
cd "$(dirname "$0")/../.."
n=${1:-5000}
make -s all build/bench-metrics >/dev/null
for depth in 10 10000; do
    tmp=$(mktemp -d /tmp/zoneci-bm-XXXXXX)
    redis-server --port 0 --unixsocket $tmp/redis.sock --save '' --appendonly no --daemonize yes \
        --logfile $tmp/r.log
    for _ in $(seq 50); do redis-cli -s $tmp/redis.sock ping >/dev/null 2>&1 && break; sleep 0.1; done
    build/bench-metrics "unix://$tmp/redis.sock" "$depth" "$n" || status=$?
    redis-cli -s $tmp/redis.sock shutdown nosave >/dev/null 2>&1 || true
    rm -rf "$tmp"
    [ -z "${status:-}" ] || exit "$status"
done
