#!/usr/bin/env bash
# bench/longpoll: how many long-polling claims one `zoneci serve` holds, and at what
# cost. Starts Redis and zoneci (4 threads), parks N claims (wait_seconds 30) with no
# job to give, reports how many were parked at once, RSS and threads while they wait,
# then makes one job ready and reports the wake (latency, claims woken, still parked).
# Needs N + ~500 open files for the client (serve raises its own limit to the hard one):
# raises `ulimit -n` to the hard limit when that is lower. ZONECI_BIN runs another build
# (the peer: an older commit's build/zoneci). usage: run.sh [N]
set -euo pipefail
cd "$(dirname "$0")/../.."
n=${1:-5000}
bin=${ZONECI_BIN:-build/zoneci}
[ -n "${ZONECI_BIN:-}" ] || make -s all >/dev/null
need=$((n + 512))
if [ "$(ulimit -n)" != unlimited ] && [ "$(ulimit -n)" -lt "$need" ]; then
    ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
fi
echo "ulimit -n $(ulimit -n) (need $need)"
tmp=$(mktemp -d /tmp/zoneci-lp-XXXXXX)
cleanup() {
    [ -n "${pid:-}" ] && kill "$pid" 2>/dev/null || true
    redis-cli -s "$tmp/redis.sock" shutdown nosave >/dev/null 2>&1 || true
    rm -rf "$tmp" || true
}
trap cleanup EXIT
port=$(python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])')
redis-server --port 0 --unixsocket $tmp/redis.sock --save '' --daemonize yes --logfile $tmp/r.log
for _ in $(seq 50); do redis-cli -s $tmp/redis.sock ping >/dev/null 2>&1 && break; sleep 0.1; done
# Every claim comes from 127.0.0.1: the per-address limit (64 by default) is off here.
cat > $tmp/cfg.json <<JSON
{"server": {"listen": "127.0.0.1:$port", "threads": 4, "max_connections": $need,
            "max_connections_per_ip": 0},
 "redis": {"url": "unix://$tmp/redis.sock", "prefix": "lp"}, "log_level": "warn",
 "regions": [{"name": "always", "timezone": "Etc/UTC", "hours": ["Mon-Sun 00:00-24:00"]}],
 "policies": [{"repos": ["*/*"], "regions": ["always"]}]}
JSON
ZONECI_GITHUB_SECRET=x ZONECI_RUNNER_TOKENS=tok $bin serve --config $tmp/cfg.json 2>$tmp/z.log &
pid=$!
for _ in $(seq 50); do curl -sf http://127.0.0.1:$port/healthz >/dev/null && break; sleep 0.1; done
idle_kb=$(awk '/VmRSS/{print $2}' /proc/$pid/status)
echo "idle: RSS $idle_kb KB, threads $(awk '/Threads/{print $2}' /proc/$pid/status)"
echo "$bin; commit $(git rev-parse --short HEAD)$(git diff --quiet HEAD || echo +dirty), $(date -u +%FT%TZ), N=$n"
PORT=$port REDIS_SOCK=$tmp/redis.sock IDLE_RSS_KB=$idle_kb python3 bench/longpoll/poll.py "$n" $pid
grep -E 'connection_limit|error' $tmp/z.log | head -5 || true
