#!/bin/sh
# zoneci's migration rules beside Squawk's, on the same SQL files, in one run: for each
# case in bench/squawk/cases (built from the PostgreSQL documentation's lock table and the
# safe-migration recipes), the rules each tool reports. Timeout hygiene rules
# (require-lock-timeout, require-statement-timeout) are left out of the table: both tools
# report them on nearly every case. Also times both over the whole set, repeated.
# Usage: bench/squawk/compare.sh [REPEAT]   (from the repository root, after `make`;
# needs npm for squawk-cli 2.66.0, installed under build/peers)
set -eu
REPEAT=${1:-20}
BIN=${ZONECI_BIN:-build/zoneci}
PEERS=build/peers/squawk
[ -x "$PEERS/node_modules/.bin/squawk" ] ||
    { mkdir -p "$PEERS" && npm install --prefix "$PEERS" --no-audit --no-fund squawk-cli@2.66.0 >/dev/null; }
SQUAWK="$PEERS/node_modules/.bin/squawk"
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

# zoneci reads migrations from a git diff: one commit adding every case.
git -C "$TMP" init -q && git -C "$TMP" commit -q --allow-empty -m base
mkdir -p "$TMP/db/cases" && cp bench/squawk/cases/*.sql "$TMP/db/cases/"
git -C "$TMP" add . && git -C "$TMP" -c user.name=b -c user.email=b@b commit -q -m cases
"$BIN" inspect --repo "$TMP" --base HEAD~1 --head HEAD --paths 'db/cases/*.sql' --json > "$TMP/zoneci.json"
"$SQUAWK" --reporter gcc --pg-version 15 bench/squawk/cases/*.sql > "$TMP/squawk.txt" 2>&1 || true

python3 - "$TMP/zoneci.json" "$TMP/squawk.txt" <<'PY'
import json, os, re, sys
noise = {"require-lock-timeout", "require-statement-timeout"}
z = {}
for m in json.load(open(sys.argv[1]))["migrations"]:
    name = os.path.basename(m["path"])[:-4]
    z[name] = sorted({f["rule"] + ("*" if f["severity"] == "danger" else "")
                      for f in m["findings"] if f["rule"] not in noise and not f.get("suppressed")})
s = {}
for line in open(sys.argv[2]):
    r = re.match(r".*/([^/]+)\.sql:\d+:\d+: \w+: (\S+)", line)
    if r and r.group(2) not in noise:
        s.setdefault(r.group(1), set()).add(r.group(2))
print("| case | Squawk 2.66 | zoneci (* = danger) |\n|---|---|---|")
both = only_s = only_z = neither = 0
for name in sorted(set(z) | set(s)):
    sq, zo = sorted(s.get(name, ())), z.get(name, [])
    both += bool(sq) and bool(zo); only_s += bool(sq) and not zo
    only_z += bool(zo) and not sq; neither += not sq and not zo
    print(f"| {name} | {', '.join(sq) or '—'} | {', '.join(zo) or '—'} |")
print(f"\ncases: {both + only_s + only_z + neither}; flagged by both: {both}, "
      f"by Squawk only: {only_s}, by zoneci only: {only_z}, by neither: {neither}")
PY

t0=$(date +%s%N)
for i in $(seq "$REPEAT"); do "$BIN" inspect --repo "$TMP" --base HEAD~1 --head HEAD --paths 'db/cases/*.sql' --json >/dev/null; done
t1=$(date +%s%N)
for i in $(seq "$REPEAT"); do "$SQUAWK" --reporter gcc bench/squawk/cases/*.sql >/dev/null 2>&1 || true; done
t2=$(date +%s%N)
echo "commit $(git rev-parse --short HEAD), $REPEAT runs over $(ls bench/squawk/cases/*.sql | wc -l) files:" \
     "zoneci inspect (git diff included) $(( (t1 - t0) / REPEAT / 1000000 )) ms per run," \
     "squawk $(( (t2 - t1) / REPEAT / 1000000 )) ms per run"
