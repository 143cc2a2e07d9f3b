#!/bin/sh
# zoneci inspect at scale, beside Squawk in the same run: a 1 MB and a 5 MB generated
# migration (bench/inspect/gen.py: CREATE TABLE, ADD COLUMN, CREATE INDEX, UPDATE, INSERT,
# some risky statements), each committed alone in a temporary git repository and inspected
# from the diff (git included, as in production); Squawk lints the same 5 MB file; then a
# pull request touching 1,000 small migration files in one commit.
# Wall time and peak RSS come from /usr/bin/time -v when present, else from a /proc poll.
# Ends with "RATIO inspect_wall=X.XX" (zoneci over Squawk, 5 MB file) and zoneci's peak RSS.
# Usage: bench/inspect/run.sh   (from the repository root, after `make`; needs python3 and
# npm for squawk-cli 2.66.0, installed under build/peers)
set -eu
BIN=${ZONECI_BIN:-build/zoneci}
PEERS=build/peers/squawk
[ -x "$PEERS/node_modules/.bin/squawk" ] ||
    { mkdir -p "$PEERS" && npm install --prefix "$PEERS" --no-audit --no-fund squawk-cli@2.66.0 >/dev/null; }
SQUAWK="$PEERS/node_modules/.bin/squawk"
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

# measure LABEL CMD...: prints "LABEL wall_s=W rss_kb=R" and sets WALL and RSS.
measure() {
    label=$1
    shift
    if [ -x /usr/bin/time ]; then
        /usr/bin/time -v "$@" >"$TMP/out" 2>"$TMP/time" || true
        WALL=$(awk -F': ' '/Elapsed \(wall clock\)/ {n = split($2, p, ":"); s = 0;
                   for (i = 1; i <= n; i++) s = s * 60 + p[i]; printf "%.3f", s}' "$TMP/time")
        RSS=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$TMP/time")
    else
        t0=$(date +%s%N)
        "$@" >"$TMP/out" 2>/dev/null &
        pid=$! RSS=0
        while kill -0 "$pid" 2>/dev/null; do
            r=$(awk '/VmHWM/ {print $2}' "/proc/$pid/status" 2>/dev/null || echo 0)
            [ "${r:-0}" -gt "$RSS" ] && RSS=$r
            sleep 0.01
        done
        wait "$pid" || true
        WALL=$(awk -v a="$t0" -v b="$(date +%s%N)" 'BEGIN {printf "%.3f", (b - a) / 1e9}')
    fi
    echo "$label wall_s=$WALL rss_kb=$RSS"
}

# repo_with NAME FILE...: a repository whose second commit adds the files under db/migrate.
repo_with() {
    repo="$TMP/$1"
    shift
    git init -q "$repo" && git -C "$repo" commit -q --allow-empty -m base
    mkdir -p "$repo/db/migrate" && cp "$@" "$repo/db/migrate/"
    git -C "$repo" add . && git -C "$repo" -c user.name=b -c user.email=b@b commit -q -m migrations
}

# zinspect NAME: measure's arguments for zoneci inspect on repository NAME (a function
# cannot run under /usr/bin/time).
zinspect() {
    measure "zoneci $2" "$BIN" inspect --repo "$TMP/$1" --base HEAD~1 --head HEAD \
        --paths 'db/migrate/*.sql' --json
}

python3 bench/inspect/gen.py 1048576 "$TMP/20260101000000_one_mb.sql" 1
python3 bench/inspect/gen.py 5242880 "$TMP/20260101000000_five_mb.sql" 5
repo_with one "$TMP/20260101000000_one_mb.sql"
repo_with five "$TMP/20260101000000_five_mb.sql"
mkdir -p "$TMP/many"
for i in $(seq 1000); do
    printf 'ALTER TABLE t%d ADD COLUMN c%d text;\nCREATE INDEX i%d ON t%d (c%d);\n' \
        "$i" "$i" "$i" "$i" "$i" >"$TMP/many/2026010100$(printf %04d "$i")_m$i.sql"
done
repo_with thousand "$TMP"/many/*.sql

echo "commit $(git rev-parse --short HEAD), $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores," \
     "load $(cut -d' ' -f1-3 /proc/loadavg)"
zinspect one 1MB
python3 -c 'import json,sys; s=json.load(open(sys.argv[1]))["summary"]; print("  summary", s)' "$TMP/out"
zinspect five 5MB
python3 -c 'import json,sys; s=json.load(open(sys.argv[1]))["summary"]; print("  summary", s)' "$TMP/out"
Z_WALL=$WALL Z_RSS=$RSS
measure "squawk 5MB" "$SQUAWK" --reporter gcc --pg-version 15 "$TMP/five/db/migrate/20260101000000_five_mb.sql"
echo "  squawk lines of output: $(wc -l <"$TMP/out")"
S_WALL=$WALL
zinspect thousand "1000 files"
python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); print("  migrations", len(r["migrations"]), "summary", r["summary"])' "$TMP/out"
awk -v z="$Z_WALL" -v s="$S_WALL" -v r="$Z_RSS" \
    'BEGIN {printf "RATIO inspect_wall=%.2f (zoneci %.3f s / squawk %.3f s, 5 MB file); zoneci peak RSS %.1f MB\n", z / s, z, s, r / 1024}'
