#!/usr/bin/env bash
# `make demo`: zoneci's whole story in under a minute, offline. A throwaway Redis, a local
# git repository whose PR branch adds a risky migration, a local peer playing Slack and
# GitHub (examples/demo-peer.py, which prints the card and every commit status), then:
# the signed pull_request event, the card, the on-call engineer's Approve click (a signed
# Slack interaction), one build by `zoneci runner`, and the job's history.
#
# The regions' hours are generated around the current time in each region's own zone, so
# one region is open and one closed whatever the hour you run it at.
# Everything lives in one temp dir, removed on exit, with every process this started.
#
# usage: examples/demo.sh            (ZONECI=path/to/zoneci; default build/zoneci)
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
zoneci=${ZONECI:-$here/../build/zoneci}
[ -x "$zoneci" ] || { echo "demo: $zoneci not built (run make)" >&2; exit 1; }
for tool in redis-server redis-cli git curl openssl python3; do
    command -v $tool >/dev/null || { echo "demo: $tool is needed" >&2; exit 1; }
done

dir=$(mktemp -d "${TMPDIR:-/tmp}/zoneci-demo.XXXXXX")
pids=()
cleanup() {
    local pid
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
    rm -rf "$dir"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

if [ -t 1 ] && [ -z "${NO_COLOR:-}" ]; then B=$'\033[1m' R=$'\033[0m'; else B= R=; fi
step() { printf '\n%s==> %s%s\n' "$B" "$*" "$R"; }
fail() { echo "demo: FAILED: $*" >&2; echo "--- zoneci log (last 30 lines)" >&2; tail -30 "$dir/zoneci.log" >&2; exit 1; }

# Waits up to $2 tenths of a second for command $1 to succeed.
wait_for() {
    local i
    for ((i = 0; i < $2; i++)); do eval "$1" && return 0; sleep 0.1; done
    return 1
}

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# ---- the pieces ----------------------------------------------------------------------

step "A throwaway Redis on $dir/redis.sock"
redis-server --port 0 --unixsocket "$dir/redis.sock" --unixsocketperm 700 --dir "$dir" \
    --save '' --appendonly no --logfile "$dir/redis.log" &
pids+=($!)
wait_for "redis-cli -s '$dir/redis.sock' ping >/dev/null 2>&1" 50 || fail "redis did not start"

step "A git repository: main has a users table; the PR branch adds a migration"
repo=$dir/payments
git init -q -b main "$repo"
git -C "$repo" config user.email demo@example.com
git -C "$repo" config user.name demo
mkdir -p "$repo/db/migrate"
printf 'CREATE TABLE users (id bigint PRIMARY KEY, email text NOT NULL);\n' \
    > "$repo/db/migrate/001_create_users.sql"
git -C "$repo" add . && git -C "$repo" commit -q -m "create users"
git -C "$repo" checkout -q -b email-varchar
cat > "$repo/db/migrate/002_email_varchar.sql" <<'SQL'
ALTER TABLE users ALTER COLUMN email TYPE varchar(320);
CREATE INDEX users_email_idx ON users (email);
SQL
git -C "$repo" add . && git -C "$repo" commit -q -m "users.email: varchar(320), indexed"
sed 's/^/    /' "$repo/db/migrate/002_email_varchar.sql"
git -C "$repo" checkout -q main
base_sha=$(git -C "$repo" rev-parse main)
head_sha=$(git -C "$repo" rev-parse email-varchar)

step "The peer playing Slack and GitHub (it prints what zoneci sends them)"
python3 "$here/demo-peer.py" serve "$dir" &
pids+=($!)
wait_for "[ -s '$dir/peer.port' ]" 50 || fail "the peer did not start"
peer=http://127.0.0.1:$(cat "$dir/peer.port")
echo "    Slack Web API and GitHub API at $peer"

# ---- the configuration ---------------------------------------------------------------

# A 3-hour window around the current local hour in zone $1 (open now), or, with $2 = 4, a
# 2-hour window starting 4 hours from now (closed now). Windows may cross midnight.
hours() {
    local h=$((10#$(TZ=$1 date +%H)))
    if [ "${2:-0}" = 0 ]; then
        printf 'Mon-Sun %02d:00-%02d:00' $(((h + 23) % 24)) $(((h + 2) % 24))
    else
        printf 'Mon-Sun %02d:00-%02d:00' $(((h + $2) % 24)) $(((h + $2 + 2) % 24))
    fi
}
port=$(free_port)
base=http://127.0.0.1:$port
openssl genrsa -out "$dir/app.pem" 2048 2>/dev/null
cat > "$dir/zoneci.json" <<JSON
{
  "server": {"listen": "127.0.0.1:$port", "threads": 2, "public_url": "$base"},
  "redis": {"url": "unix://$dir/redis.sock", "prefix": "demo"},
  "cache_dir": "$dir/cache",
  "log_level": "info",
  "github": {"webhook_secret_env": "ZONECI_GITHUB_SECRET", "app_id": 4242,
             "private_key_file": "$dir/app.pem", "api_url": "$peer/gh",
             "allow_local_repos": true, "redelivery_check_seconds": 0},
  "slack": {"signing_secret_env": "ZONECI_SLACK_SIGNING_SECRET",
            "bot_token_env": "ZONECI_SLACK_TOKEN", "api_url": "$peer/slack"},
  "runners": {"tokens_env": "ZONECI_RUNNER_TOKENS", "lease_seconds": 60},
  "api": {"tokens_env": "ZONECI_API_TOKENS"},
  "regions": [
    {"name": "emea-berlin", "timezone": "Europe/Berlin", "hours": ["$(hours Europe/Berlin 4)"],
     "slack_channel": "C0BERLIN", "oncall": ["U0DBA2"]},
    {"name": "apac-tokyo", "timezone": "Asia/Tokyo", "hours": ["$(hours Asia/Tokyo)"],
     "slack_channel": "C0TOKYO", "oncall": ["U0DBA1"]}
  ],
  "policies": [
    {"repos": ["acme/*"], "regions": ["emea-berlin", "apac-tokyo"],
     "migrations": {"paths": ["db/migrate/*.sql"], "approval": "risky",
                    "approvers": ["U0DBA1", "U0DBA2"]}}
  ],
  "people": [{"github": "octocat", "slack": "U0OCTO"},
             {"github": "dba-one", "slack": "U0DBA1", "operator": "dba-one"}]
}
JSON
export ZONECI_GITHUB_SECRET=demo-webhook-secret ZONECI_SLACK_SIGNING_SECRET=demo-slack-secret
export ZONECI_SLACK_TOKEN=xoxb-demo ZONECI_API_TOKENS=demo-operator-token
export ZONECI_RUNNER_TOKENS=demo-runner-token ZONECI_RUNNER_TOKEN=demo-runner-token
auth="Authorization: Bearer $ZONECI_API_TOKENS"

step "Working hours, generated around now so that Tokyo is open and Berlin closed"
"$zoneci" windows --config "$dir/zoneci.json" | sed 's/^/    /'

step "zoneci serve on $base"
"$zoneci" serve --config "$dir/zoneci.json" 2> "$dir/zoneci.log" &
pids+=($!)
wait_for "curl -sf $base/readyz >/dev/null" 100 || fail "zoneci did not become ready"

job_field() { # job_field ID FIELD
    curl -sf -H "$auth" "$base/api/v1/jobs/$1" |
        python3 -c 'import json, sys; print(json.load(sys.stdin).get(sys.argv[1], ""))' "$2"
}

# ---- the story -----------------------------------------------------------------------

step "GitHub sends a signed pull_request event: acme/payments#42 by octocat"
cat > "$dir/event.json" <<JSON
{"action": "opened", "number": 42,
 "pull_request": {"number": 42, "title": "Limit e-mail length and index it", "draft": false,
                  "html_url": "https://github.com/acme/payments/pull/42",
                  "user": {"login": "octocat"},
                  "head": {"sha": "$head_sha", "ref": "email-varchar"},
                  "base": {"sha": "$base_sha", "ref": "main"}},
 "repository": {"full_name": "acme/payments", "clone_url": "file://$repo"},
 "installation": {"id": 42}}
JSON
answer=$("$here/send-event.sh" "$dir/event.json" pull_request "$base/webhooks/github")
echo "    zoneci answered: $answer"
job=$(printf '%s' "$answer" | python3 -c 'import json, sys; print(json.load(sys.stdin)["job_id"])') ||
    fail "no job in the answer"

step "zoneci fetches the PR, inspects the migration and asks Tokyo's on-call in Slack"
wait_for "[ -s '$dir/approve.value' ]" 300 || fail "no card reached Slack"
sleep 0.2 # lets the peer's card print before the next step's title
[ "$(job_field "$job" state)" = awaiting_approval ] || fail "job $job is not awaiting approval"
echo "    job $job: $(job_field "$job" reason)"

step "U0DBA1, on call in Tokyo, clicks Approve (a signed Slack interaction)"
python3 "$here/demo-peer.py" click "$base/webhooks/slack/interactions" \
    "$ZONECI_SLACK_SIGNING_SECRET" U0DBA1 "$(cat "$dir/approve.value")" | sed 's/^/    /'
wait_for "[ \"\$(job_field $job state)\" = queued ]" 100 || fail "job $job was not queued"
echo "    job $job: $(job_field "$job" reason)"

step "A runner in Tokyo claims the job and builds it (zoneci runner --once -- examples/build.sh)"
"$zoneci" runner --server "$base" --token-env ZONECI_RUNNER_TOKEN --region apac-tokyo \
    --name tokyo-runner-1 --once -- "$here/build.sh" 2>&1 | sed 's/^/    /'
wait_for "[ \"\$(job_field $job state)\" = succeeded ]" 100 || fail "job $job did not succeed"
# The last status goes out through the outbox; give it a moment to arrive.
wait_for "grep -q '\"state\": \"success\"' '$dir/peer.log'" 100 || fail "no success status reached GitHub"

step "The job's history (GET /api/v1/jobs/$job)"
curl -sf -H "$auth" "$base/api/v1/jobs/$job" | python3 -c '
import json, sys
j = json.load(sys.stdin)
print("    job %s  %s#%s  state=%s  region=%s  cards=%s" % (j["id"], j["repo"], j["pr"],
      j["state"], j.get("region", ""), j.get("cards", "")))
for h in j.get("history", []):
    print("    %-25s %-18s %s" % (h.get("at", ""), h.get("state", ""), h.get("reason", "")))'

cards=$(grep -c '"method": "chat.postMessage"' "$dir/peer.log" || true)
statuses=$(grep -c '"kind": "status"' "$dir/peer.log" || true)
state=$(job_field "$job" state)
step "Done: job $job $state; Slack got $cards card(s), GitHub $statuses commit status(es)"
[ "$state" = succeeded ] && [ "$cards" -ge 1 ] && [ "$statuses" -ge 2 ] || fail "the story is incomplete"
echo "DEMO OK"
