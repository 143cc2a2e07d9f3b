#!/usr/bin/env bash
# bench/longpoll: how many long-polling claims one `zoneci serve` holds, and at what
# cost. Starts Redis and zoneci (4 threads), parks N claims (wait_seconds 6) with no
# job to give, and reports RSS and threads while they wait. usage: run.sh [N]
set -euo pipefail
cd "$(dirname "$0")/../.."
n=${1:-2000}
make -s all >/dev/null
tmp=$(mktemp -d /tmp/zoneci-lp-XXXXXX)
trap 'kill $(jobs -p) 2>/dev/null || true; redis-cli -s $tmp/redis.sock shutdown nosave >/dev/null 2>&1 || true; rm -rf $tmp' EXIT
port=$(python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])')
redis-server --port 0 --unixsocket $tmp/redis.sock --save '' --daemonize yes --logfile $tmp/r.log
for _ in $(seq 50); do redis-cli -s $tmp/redis.sock ping >/dev/null 2>&1 && break; sleep 0.1; done
cat > $tmp/cfg.json <<JSON
{"server": {"listen": "127.0.0.1:$port", "threads": 4},
 "redis": {"url": "unix://$tmp/redis.sock", "prefix": "lp"}, "log_level": "warn",
 "regions": [{"name": "always", "timezone": "Etc/UTC", "hours": ["Mon-Sun 00:00-24:00"]}],
 "policies": [{"repos": ["*/*"], "regions": ["always"]}]}
JSON
ZONECI_GITHUB_SECRET=x ZONECI_RUNNER_TOKENS=tok build/zoneci serve --config $tmp/cfg.json 2>$tmp/z.log &
pid=$!
for _ in $(seq 50); do curl -sf http://127.0.0.1:$port/healthz >/dev/null && break; sleep 0.1; done
echo "idle: $(grep -E 'VmRSS|Threads' /proc/$pid/status | tr -s ' \t' ' ' | tr '\n' ' ')"
PORT=$port python3 bench/longpoll/poll.py "$n" $pid
