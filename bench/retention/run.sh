#!/usr/bin/env bash
# bench/retention: Redis memory per job, and what a retention pass gives back, against a
# throwaway redis-server on a unix socket. usage: run.sh [N]
set -euo pipefail
cd "$(dirname "$0")/../.."
n=${1:-10000}
make -s build/bench-retention >/dev/null
tmp=$(mktemp -d /tmp/zoneci-ret-XXXXXX)
trap 'redis-cli -s $tmp/redis.sock shutdown nosave >/dev/null 2>&1 || true; rm -rf $tmp' EXIT
redis-server --port 0 --unixsocket $tmp/redis.sock --save '' --appendonly no --daemonize yes \
    --logfile $tmp/r.log
for _ in $(seq 50); do redis-cli -s $tmp/redis.sock ping >/dev/null 2>&1 && break; sleep 0.1; done
build/bench-retention "unix://$tmp/redis.sock" "$n" "$tmp/cache"
