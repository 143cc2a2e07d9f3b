#!/usr/bin/env bash
# bench/outbox: the outbox's Lua steps, card building and delivery throughput against a
# throwaway redis-server on a unix socket. usage: run.sh [N]
set -euo pipefail
cd "$(dirname "$0")/../.."
n=${1:-20000}
make -s all build/bench-outbox >/dev/null
tmp=$(mktemp -d /tmp/zoneci-ob-XXXXXX)
trap 'redis-cli -s $tmp/redis.sock shutdown nosave >/dev/null 2>&1 || true; rm -rf $tmp' EXIT
redis-server --port 0 --unixsocket $tmp/redis.sock --save '' --appendonly no --daemonize yes \
    --logfile $tmp/r.log
for _ in $(seq 50); do redis-cli -s $tmp/redis.sock ping >/dev/null 2>&1 && break; sleep 0.1; done
build/bench-outbox "unix://$tmp/redis.sock" "$n"
