#!/usr/bin/env bash
# bench/webhook/cost.sh: what one job costs, from its delivery to `queued` with its commit
# statuses handed to the outbox and delivered. It counts, it does not time: a one-connection
# client sends the deliveries one after another.
#
# Usage: bench/webhook/cost.sh [N]      (N deliveries, 2,000 by default)
#        ZONECI_BIN=/path/to/zoneci bench/webhook/cost.sh   (another build, e.g. an older commit;
#        by default build/zoneci, built here with `make`)
#        MONITOR_N=500 (deliveries of the second, MONITOR-ed batch; 0 skips it)
#
# It starts a real redis-server (unix socket in a temp dir), bench/webhook/github_peer.py (a
# local GitHub API: installation tokens and commit statuses, recorded) and `zoneci serve`
# with a GitHub App configured (app id, an RSA key made here with openssl, api_url = the
# peer, delivery recovery off: it is not per job), one always-open region (Etc/UTC,
# Mon-Sun 00:00-24:00) and one policy for every repo with no migrations section: each job
# goes received -> inspecting -> queued without a fetch (the path bench/webhook/run.sh
# measures). A policy with migrations is not measured: its inspector fetches the PR's clone
# URL (github.com), which this machine cannot reach.
#
# Deliveries are bench/webhook/gen_bodies.py's signed pull_request bodies: each its own PR
# (so each makes a job) and its own X-GitHub-Delivery; each carries installation.id (the
# fixture payload has one; the synthetic one gets one here, re-signed), so each job gets
# commit statuses.
#
# Batch 1 (N deliveries, nothing attached): CONFIG RESETSTAT, then send, then wait until
# every job is queued, {P}:outbox:due is empty and the peer's status count stops growing.
# (If messages stay due while the peer receives nothing for 30 s, it prints OUTBOX STALLED
# and goes on: the statuses figure then counts only what was delivered.) Per job it prints:
#   fcall        FCALLs (cmdstat_fcall + fcall_ro + evalsha + eval)
#   commands     every command Redis ran (INFO commandstats summed: those run inside
#                functions count too), and the top commands
#   round_trips  commands sent by clients, i.e. commands minus those run inside scripts. Redis
#                7.0 counts both in total_commands_processed and commandstats, so batch 2
#                separates them with MONITOR (which tags a script's commands "lua"):
#                round_trips = batch 1's FCALLs (only clients send FCALL) + the other
#                commands clients sent per job in batch 2 (background ones included)
#   redis_bytes_in / redis_bytes_out   total_net_input_bytes / total_net_output_bytes (the
#                deliveries never reach Redis as a whole: only what zoneci stores)
#   zoneci_cpu_us / redis_cpu_us   utime+stime of the zoneci process (all threads) and of
#                redis-server over the batch, from /proc/PID/stat
#   statuses     status calls the peer answered, and token calls
# All of it includes zoneci's background work during the batch (router ticks, outbox polls,
# heartbeats): `background_*` lines measure that over an idle window before the batch, so
# its share can be judged (it is not subtracted).
# Batch 2 (MONITOR_N more deliveries, MONITOR attached): FCALLs by function and commands
# sent by clients vs run inside scripts, per job. MONITOR costs Redis CPU, so batch 2's
# CPU and bytes are not reported.
# Last line:
#   COST per_job fcall=X commands=Y round_trips=Z redis_bytes_in=A redis_bytes_out=B
#        zoneci_cpu_us=C redis_cpu_us=D statuses=E
set -euo pipefail
cd "$(dirname "$0")/../.."
n=${1:-2000}
mon_n=${MONITOR_N:-500}
idle_s=${IDLE_SECONDS:-5}
if [ -z "${ZONECI_BIN:-}" ]; then make -s all >/dev/null; ZONECI_BIN=build/zoneci; fi
bin=$(readlink -f "$ZONECI_BIN")
tmp=$(mktemp -d /tmp/zoneci-cost-XXXXXX)
zpid='' ppid='' mpid=''
cleanup() { # every step may fail: under set -e the first failing one would end the trap
  [ -n "$mpid" ] && kill "$mpid" 2>/dev/null || true
  [ -n "$zpid" ] && kill -TERM "$zpid" 2>/dev/null || true
  [ -n "$zpid" ] && wait "$zpid" 2>/dev/null || true
  [ -n "$ppid" ] && kill "$ppid" 2>/dev/null || true
  redis-cli -s $tmp/redis.sock shutdown nosave >/dev/null 2>&1 || true
  rm -rf $tmp || true
}
trap cleanup EXIT
trap 'exit 143' TERM
trap 'exit 130' INT
r() { redis-cli -s $tmp/redis.sock "$@"; }
ticks=$(getconf CLK_TCK)
cpu_us() { awk -v t=$ticks '{printf "%d", ($14 + $15) * 1e6 / t}' /proc/$1/stat; }
cmds_all() { r info commandstats | tr -d '\r' | awk -F'[:=,]' '/^cmdstat_/ {s += $3} END {print s + 0}'; }
peer() { curl -s http://127.0.0.1:$pport/_stats; }
peer_calls() { peer | python3 -c 'import json,sys; print(json.load(sys.stdin)["calls"][sys.argv[1]])' $1; }

# --- Redis, the GitHub peer, the App's key, zoneci -------------------------------------
redis-server --port 0 --unixsocket $tmp/redis.sock --save '' --appendonly no --daemonize yes \
  --logfile $tmp/redis.log --dir $tmp
for _ in $(seq 50); do r ping >/dev/null 2>&1 && break; sleep 0.1; done
rpid=$(r info server | tr -d "\r" | awk -F: '$1 == "process_id" {print $2}')
python3 bench/webhook/github_peer.py $tmp/peer.port &
ppid=$!
for _ in $(seq 50); do [ -s $tmp/peer.port ] && break; sleep 0.1; done
pport=$(cat $tmp/peer.port)
openssl genrsa -out $tmp/app.pem 2048 2>/dev/null
port=$(python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])')
cat > $tmp/zoneci.json <<JSON
{"server": {"listen": "127.0.0.1:$port", "threads": 2},
 "redis": {"url": "unix://$tmp/redis.sock", "prefix": "bench"},
 "github": {"app_id": 4242, "private_key_file": "$tmp/app.pem",
            "api_url": "http://127.0.0.1:$pport", "redelivery_check_seconds": 0},
 "cache_dir": "$tmp/cache", "log_level": "warn",
 "regions": [{"name": "utc", "timezone": "Etc/UTC", "hours": ["Mon-Sun 00:00-24:00"]}],
 "policies": [{"repos": ["*/*"], "regions": ["utc"]}]}
JSON
ZONECI_GITHUB_SECRET=bench-secret "$bin" serve --config $tmp/zoneci.json 2>$tmp/zoneci.log &
zpid=$!
for _ in $(seq 100); do curl -sf http://127.0.0.1:$port/healthz >/dev/null && break; sleep 0.1; done
curl -sf http://127.0.0.1:$port/healthz >/dev/null || { echo "zoneci did not start:" >&2; cat $tmp/zoneci.log >&2; exit 1; }

# --- the deliveries ----------------------------------------------------------------------
python3 bench/webhook/gen_bodies.py bench-secret "$n" $tmp/a >/dev/null
python3 bench/webhook/gen_bodies.py bench-secret "$mon_n" $tmp/b 500000 >/dev/null
# send PREFIX: posts every delivery of PREFIX.idx over one keep-alive connection; prints
# how many got 202 and the first other answer.
cat > $tmp/send.py <<'PY'
import hashlib, hmac, http.client, sys
port, prefix = int(sys.argv[1]), sys.argv[2]
tpl = open(prefix + ".tpl", "rb").read()
if b'"installation"' not in tpl:  # the synthetic payload: give it one, sign it here
    tpl = b'{"installation": {"id": 1}, ' + tpl[tpl.index(b"{") + 1:]
conn = http.client.HTTPConnection("127.0.0.1", port)
ok, other = 0, None
for k, line in enumerate(open(prefix + ".idx")):
    number, sha, _ = line.split()
    body = tpl.replace(b"\x01", number.encode()).replace(b"\x02", sha.encode())
    sig = "sha256=" + hmac.new(b"bench-secret", body, hashlib.sha256).hexdigest()
    conn.request("POST", "/webhooks/github", body, {
        "Content-Type": "application/json", "X-GitHub-Event": "pull_request",
        "X-GitHub-Delivery": "cost-%s-%d" % (prefix.rsplit("/", 1)[1], k),
        "X-Hub-Signature-256": sig})
    resp = conn.getresponse()
    text = resp.read()
    if resp.status == 202:
        ok += 1
    elif other is None:
        other = "%d %s" % (resp.status, text[:200])
print(ok, other or "")
PY
# settle TARGET_QUEUED: waits until TARGET_QUEUED jobs are queued, the outbox has nothing
# due and the peer's status count has not moved for 2 s. If messages stay due while the
# peer sees nothing for 30 s, the outbox is stalled: said, and the run goes on with what
# was delivered. At most ~15 min.
polls=0 # ZCARDs settle sends, taken out of the counts below
stalled=0
settle() {
  local last=-1 same=0 q d s t_end=$((SECONDS + 900))
  while [ $SECONDS -lt $t_end ]; do
    polls=$((polls + 2))
    q=$(r zcard '{bench}:state:queued'); d=$(r zcard '{bench}:outbox:due'); s=$(peer_calls status)
    if [ "$q" -ge "$1" ] && [ "$s" -eq "$last" ]; then
      same=$((same + 1))
      [ "$d" -eq 0 ] && [ $same -ge 20 ] && return 0
      if [ $same -ge 300 ]; then
        stalled=$d
        echo "OUTBOX STALLED: $d messages due but none delivered for 30 s (counted as not delivered)"
        return 0
      fi
    else
      same=0
    fi
    last=$s; sleep 0.1
  done
  echo "did not settle: queued $q of $1, outbox due $d" >&2
  return 1
}

echo "zoneci $bin, redis $(redis-server --version | awk '{sub("v=", "", $3); print $3}'), $(nproc) cores, N=$n"
echo "body_bytes $(wc -c < $tmp/a.tpl)"

# --- idle: what zoneci does with nothing to do ------------------------------------------
sleep 1
r config resetstat >/dev/null
z0=$(cpu_us $zpid); r0=$(cpu_us $rpid)
sleep $idle_s
bg=$(awk -v c=$(cmds_all) -v s=$idle_s 'BEGIN {printf "%.2f", c / s}')
awk -v c=$bg -v z=$(( $(cpu_us $zpid) - z0 )) -v rc=$(( $(cpu_us $rpid) - r0 )) -v s=$idle_s \
  'BEGIN {printf "background_per_s commands %.1f zoneci_cpu_us %.0f redis_cpu_us %.0f (idle, %ds)\n", c, z / s, rc / s, s}'

# --- batch 1: counted ----------------------------------------------------------------------
s0=$(peer_calls status); t0=$(peer_calls token)
polls=0
r config resetstat >/dev/null
z0=$(cpu_us $zpid); r0=$(cpu_us $rpid); start=$(date +%s.%N)
read -r ok other < <(python3 $tmp/send.py $port $tmp/a)
sent=$(date +%s.%N)
[ "$ok" -eq "$n" ] || { echo "only $ok of $n deliveries got 202; first other answer: $other" >&2; exit 1; }
settle "$n"
z1=$(cpu_us $zpid); r1=$(cpu_us $rpid); end=$(date +%s.%N)
r info commandstats | tr -d '\r' > $tmp/cmdstats
r info stats | tr -d '\r' > $tmp/stats
s1=$(peer_calls status); t1=$(peer_calls token)
elapsed=$(awk -v a=$start -v b=$end 'BEGIN {printf "%.1f", b - a}')
echo "batch1 deliveries $n, all 202, sent in $(awk -v a=$start -v b=$sent 'BEGIN {printf "%.1f", b - a}')s, settled in ${elapsed}s (the background rate above runs all along)"
echo "jobs by state:" $(for k in $(r --scan --pattern '{bench}:state:*'); do
  echo "${k#\{bench\}:state:}=$(r zcard "$k")"; done)
fcall=$(awk -F'[:=,]' '$1 ~ /^cmdstat_(fcall|fcall_ro|evalsha|eval)$/ {s += $3} END {print s + 0}' $tmp/cmdstats)
# less this script's own: the ZCARD polls, CONFIG RESETSTAT and INFO commandstats
all=$(awk -F'[:=,]' -v p=$polls '/^cmdstat_/ {s += $3} END {print s - p - 2}' $tmp/cmdstats)
awk -F'[:=,]' -v p=$polls -v OFS= '$1 == "cmdstat_zcard" {$0 = $1 ":calls=" $3 - p ","} {print}' \
  $tmp/cmdstats > $tmp/cmdstats.own && mv $tmp/cmdstats.own $tmp/cmdstats
tcp=$(awk -F: '$1 == "total_commands_processed" {print $2}' $tmp/stats)
bin_=$(awk -F: '$1 == "total_net_input_bytes" {print $2}' $tmp/stats)
bout=$(awk -F: '$1 == "total_net_output_bytes" {print $2}' $tmp/stats)
per() { awk -v a=$1 -v n=$n "BEGIN {printf \"%.${2:-2}f\", a / n}"; }
echo "per_job fcall $(per $fcall)"
echo "per_job commands $(per $all 1) (commandstats summed; total_commands_processed gives $(per $tcp 1), the INFO/CONFIG calls of this script included)"
awk -F'[:=,]' -v n=$n '/^cmdstat_/ {printf "%.3f %s\n", $3 / n, substr($1, 9)}' $tmp/cmdstats |
  sort -rn | head -14 | awk '{printf "per_job command %s %s\n", $2, $1}'
echo "per_job background_commands $(awk -v b=$bg -v e=$elapsed -v n=$n 'BEGIN {printf "%.2f", b * e / n}') (the idle rate x ${elapsed}s / N: an estimate, included above)"
echo "per_job redis_bytes_in $(per $bin_ 0)"
echo "per_job redis_bytes_out $(per $bout 0)"
echo "per_job zoneci_cpu_us $(per $((z1 - z0)) 0)"
echo "per_job redis_cpu_us $(per $((r1 - r0)) 0)"
echo "per_job statuses $(per $((s1 - s0))) (token calls in the batch: $((t1 - t0)))"

# --- batch 2: MONITOR-ed, for FCALLs by function and round trips ------------------------
other_rt=''
if [ "$mon_n" -gt 0 ]; then
  redis-cli -s $tmp/redis.sock monitor > $tmp/monitor.log &
  mpid=$!
  sleep 0.5
  q0=$(r zcard '{bench}:state:queued')
  read -r ok other < <(python3 $tmp/send.py $port $tmp/b)
  [ "$ok" -eq "$mon_n" ] || { echo "batch2: only $ok of $mon_n got 202: $other" >&2; exit 1; }
  settle $((q0 + mon_n))
  sleep 0.5
  kill $mpid 2>/dev/null || true; wait $mpid 2>/dev/null || true; mpid=''
  # A line is: TIME [DB CLIENT] "CMD" "ARG"...; CLIENT is "lua" inside a script. This
  # script's own polling (ZCARD of the queued and outbox sets) is left out.
  python3 - $tmp/monitor.log $mon_n > $tmp/mon.out <<'PY'
import collections, re, sys
line_re = re.compile(r'^\S+ \[\d+ (\S+)\] "([^"]*)"(?: "([^"]*)")?(?: "([^"]*)")?')
inner, outer, fc = 0, 0, collections.Counter()
outer_by = collections.Counter()
for line in open(sys.argv[1], errors="replace"):
    m = line_re.match(line)
    if not m:
        continue
    client, cmd, a1, a2 = m.group(1), m.group(2).lower(), m.group(3), m.group(4)
    if client == "lua":
        inner += 1
        continue
    if cmd == "zcard" and a1 in ("{bench}:state:queued", "{bench}:outbox:due"):
        continue  # this script's polling
    outer += 1
    outer_by[cmd] += 1
    if cmd in ("fcall", "fcall_ro"):
        fc[a1] += 1
n = int(sys.argv[2])
print("mon_inner %d" % inner)
print("mon_outer %d" % outer)
for name, c in fc.most_common():
    print("per_job fcall_by_function %s %.3f" % (name, c / n))
for name, c in outer_by.most_common(8):
    print("per_job sent_by_clients %s %.3f" % (name, c / n))
PY
  inner=$(awk '$1 == "mon_inner" {print $2}' $tmp/mon.out)
  outer=$(awk '$1 == "mon_outer" {print $2}' $tmp/mon.out)
  echo "batch2 deliveries $mon_n under MONITOR: per job $(awk -v a=$outer -v n=$mon_n 'BEGIN {printf "%.2f", a / n}') commands sent by clients, $(awk -v a=$inner -v n=$mon_n 'BEGIN {printf "%.1f", a / n}') run inside scripts"
  grep '^per_job' $tmp/mon.out
  fc2=$(awk '$2 == "fcall" {s += $3} END {print s + 0}' <(grep '^per_job sent_by_clients' $tmp/mon.out | cut -d' ' -f2-))
  other_rt=$(awk -v a=$outer -v n=$mon_n -v f=$fc2 'BEGIN {printf "%.4f", a / n - f}')
fi
if [ -n "${other_rt:-}" ]; then
  rt=$(awk -v f=$fcall -v n=$n -v o=$other_rt 'BEGIN {printf "%.2f", f / n + o}')
  echo "per_job round_trips $rt (batch 1's FCALLs, which only clients send, + batch 2's other commands sent by clients, $other_rt; a pipelined command counts as one)"
else
  rt=NA
fi
echo "statuses for one job (the first delivery's sha), as the peer received them:"
sha=$(awk 'NR == 1 {print $2}' $tmp/a.idx)
peer | python3 -c 'import json,sys; [print("  %s: %s" % tuple(s)) for s in json.load(sys.stdin)["statuses"].get(sys.argv[1], [])]' $sha
echo "COST per_job fcall=$(per $fcall) commands=$(per $all 1) round_trips=$rt redis_bytes_in=$(per $bin_ 0) redis_bytes_out=$(per $bout 0) zoneci_cpu_us=$(per $((z1 - z0)) 0) redis_cpu_us=$(per $((r1 - r0)) 0) statuses=$(per $((s1 - s0)))"
