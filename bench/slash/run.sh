#!/usr/bin/env bash
# bench/slash: what a `/zoneci` slash command costs `zoneci serve`, against its peer in the
# same run: GET /api/v1/jobs/{id}, the job API's read of the same job (one read-only Redis
# round trip and the job's JSON, as `/zoneci status` makes). Starts Redis and zoneci
# (4 threads), creates one job through a signed webhook, then times N sequential signed
# commands of each sub-command over one kept-alive connection. Slack wants an answer
# within 3 s. Never pass/fail: prints the figures. ZONECI_BIN runs another build.
# usage: run.sh [N]
set -euo pipefail
cd "$(dirname "$0")/../.."
n=${1:-2000}
bin=${ZONECI_BIN:-build/zoneci}
[ -n "${ZONECI_BIN:-}" ] || make -s all >/dev/null
tmp=$(mktemp -d /tmp/zoneci-slash-XXXXXX)
source bench/lib.sh
port=$(python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])')
redis-server --port 0 --unixsocket $tmp/redis.sock --save '' --daemonize yes --logfile $tmp/r.log
for _ in $(seq 50); do redis-cli -s $tmp/redis.sock ping >/dev/null 2>&1 && break; sleep 0.1; done
cat > $tmp/cfg.json <<JSON
{"server": {"listen": "127.0.0.1:$port", "threads": 4, "public_url": "https://zoneci.example"},
 "redis": {"url": "unix://$tmp/redis.sock", "prefix": "sb"}, "log_level": "warn",
 "slack": {"signing_secret_env": "BENCH_SLACK_SECRET"},
 "regions": [{"name": "always", "timezone": "Etc/UTC", "hours": ["Mon-Sun 00:00-24:00"],
              "oncall": ["U0DBA1"]},
             {"name": "apac-tokyo", "timezone": "Asia/Tokyo", "hours": ["Mon-Fri 09:00-18:00"],
              "oncall": ["U0TOKYO"]},
             {"name": "emea-berlin", "timezone": "Europe/Berlin", "hours": ["Mon-Fri 09:00-18:00"]}],
 "policies": [{"repos": ["*/*"], "regions": ["always"]}]}
JSON
ZONECI_GITHUB_SECRET=bench-gh BENCH_SLACK_SECRET=bench-slack $bin serve --config $tmp/cfg.json 2>$tmp/z.log &
for _ in $(seq 50); do curl -sf http://127.0.0.1:$port/healthz >/dev/null && break; sleep 0.1; done
echo "$bin; commit $(git rev-parse --short HEAD)$(git diff --quiet HEAD || echo +dirty), $(date -u +%FT%TZ), N=$n"
step env PORT=$port GH_SECRET=bench-gh SLACK_SECRET=bench-slack python3 bench/slash/client.py "$n"
grep -E 'level=(error|warn)' $tmp/z.log | head -5 || true
