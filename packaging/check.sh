#!/bin/bash
# packaging/check.sh OUT: builds the Debian package from a copy of this tree into OUT (so
# that debian/rules' clean never touches the developer's build/), checks what it holds,
# and, as root, installs it, starts zoneci the way the unit does, stops it and purges it.
#
# Under systemd as PID 1 it uses `systemctl start zoneci` with a runtime drop-in pointing
# at a throwaway Redis; elsewhere (containers, CI) it runs the unit's ExecStart line by
# hand as an unused uid from systemd's DynamicUser range, with the settings systemd would
# give it that can be had without systemd. Every step it cannot take is printed with why.
# Never run against a machine where zoneci is already installed: it leaves that alone.
set -euo pipefail

OUT=${1:?usage: packaging/check.sh OUT_DIR}
SRC_ROOT=$(cd "$(dirname "$0")/.." && pwd)
CHECK_UID=61999 # inside DynamicUser's range (61184-65519), in no passwd file
say() { echo "package-check: $*"; }
fail() { echo "package-check: FAILED: $*" >&2; exit 1; }
skip() { say "skipped: $*"; }

mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
T=$(mktemp -d)
chmod 755 "$T"
REDIS_PID='' ZONECI_PID='' INSTALLED_BY_US=''
cleanup() {
    if [ -n "$ZONECI_PID" ]; then kill -KILL "$ZONECI_PID" 2>/dev/null || true; fi
    if [ -n "$REDIS_PID" ]; then kill -KILL "$REDIS_PID" 2>/dev/null || true; fi
    if [ -n "$INSTALLED_BY_US" ]; then
        rm -rf /run/systemd/system/zoneci.service.d/zz-package-check.conf
        dpkg -P zoneci >/dev/null 2>&1 || true
    fi
    rm -rf "$T"
}
trap cleanup EXIT INT TERM

# ---- the man page renders without a warning ----------------------------------------------
if command -v groff >/dev/null; then
    warnings=$(groff -man -ww -z -Tutf8 "$SRC_ROOT/docs/zoneci.1" 2>&1)
    [ -z "$warnings" ] || fail "docs/zoneci.1: $warnings"
    say "man page ok (groff -man -ww)"
else
    skip "man page lint: groff is not installed"
fi

# ---- build -------------------------------------------------------------------------------
say "building the package in $OUT (DEB_BUILD_OPTIONS=parallel=2 nocheck)"
rm -rf "$OUT/src" "$OUT"/zoneci*.deb "$OUT"/zoneci_*
mkdir -p "$OUT/src"
(cd "$SRC_ROOT" && tar --exclude=./build --exclude=./run --exclude=./.git -cf - .) |
    tar -C "$OUT/src" -xf -
(cd "$OUT/src" && DEB_BUILD_OPTIONS="parallel=2 nocheck" dpkg-buildpackage -us -uc -b \
    >"$OUT/build.log" 2>&1) || { tail -40 "$OUT/build.log"; fail "dpkg-buildpackage (log: $OUT/build.log)"; }
DEB=$(ls "$OUT"/zoneci_*_*.deb)
say "built $DEB"

# ---- contents ----------------------------------------------------------------------------
dpkg-deb -c "$DEB" >"$T/contents"
for f in ./usr/bin/zoneci ./usr/share/zoneci/tzdata/zoneinfo64.res \
    ./usr/share/zoneci/tzdata/zoneci-tzdata.stamp ./lib/systemd/system/zoneci.service \
    ./usr/share/man/man1/zoneci.1.gz ./etc/zoneci/zoneci.json ./etc/zoneci/zoneci.env \
    ./usr/share/doc/zoneci/copyright; do
    grep -q " $f\$" "$T/contents" || fail "$DEB lacks $f"
done
grep -q '^-rw------- root/root .* ./etc/zoneci/zoneci.env$' "$T/contents" ||
    fail "etc/zoneci/zoneci.env is not 0600 root: $(grep zoneci.env "$T/contents")"
dpkg-deb --ctrl-tarfile "$DEB" | tar -xOf - ./conffiles >"$T/conffiles"
for f in /etc/zoneci/zoneci.json /etc/zoneci/zoneci.env; do
    grep -qx "$f" "$T/conffiles" || fail "$f is not a conffile"
done
case "$(dpkg-deb -f "$DEB" Recommends)" in *redis-server*) ;; *) fail "Recommends lacks redis-server" ;; esac
say "contents ok: binary, time-zone data, unit, man page, conffiles"

# The unit as packaged, pointed at the packaged binary unpacked here.
dpkg-deb -x "$DEB" "$T/root"
if command -v systemd-analyze >/dev/null; then
    sed "s|^ExecStart=/usr/bin/zoneci|ExecStart=$T/root/usr/bin/zoneci|" \
        "$T/root/lib/systemd/system/zoneci.service" >"$T/zoneci.service"
    systemd-analyze verify --man=no "$T/zoneci.service" || fail "systemd-analyze verify"
    say "unit ok (systemd-analyze verify)"
else
    skip "systemd-analyze verify: systemd-analyze is not installed"
fi

# ---- install, start, stop, purge ---------------------------------------------------------
if [ "$(id -u)" != 0 ]; then
    skip "install/start/stop/purge: needs root (dpkg -i)"
    say ok
    exit 0
fi
if dpkg-query -W -f='${Status}' zoneci 2>/dev/null | grep -q 'installed'; then
    skip "install/start/stop/purge: zoneci is already installed here; not touching it"
    say ok
    exit 0
fi
INSTALLED_BY_US=1
dpkg -i "$DEB" >"$T/dpkg.log" 2>&1 || { cat "$T/dpkg.log"; fail "dpkg -i"; }
[ -x /usr/bin/zoneci ] || fail "/usr/bin/zoneci missing after dpkg -i"
[ "$(stat -c '%a %U' /etc/zoneci/zoneci.env)" = "600 root" ] || fail "/etc/zoneci/zoneci.env is not 0600 root"
VERSION=$(/usr/bin/zoneci version)
case "$VERSION" in
*"generated from the system"*) ;;
*) fail "installed zoneci does not find its time-zone data: $VERSION" ;;
esac
/usr/bin/zoneci check-config /etc/zoneci/zoneci.json >/dev/null || fail "installed config is invalid"
if command -v man >/dev/null; then
    man -w zoneci >/dev/null 2>&1 || fail "man zoneci finds no page"
fi
if command -v systemd-analyze >/dev/null; then
    systemd-analyze verify /lib/systemd/system/zoneci.service || fail "systemd-analyze verify (installed)"
fi
say "installed: ${VERSION%%$'\n'*}"

free_port() {
    p=$(( 20000 + $(od -An -N2 -tu2 /dev/urandom) % 20000 ))
    while (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; do p=$((p + 1)); done
    echo "$p"
}
REDIS_PORT=$(free_port)
redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save '' --appendonly no --dir "$T" \
    --logfile "$T/redis.log" &
REDIS_PID=$!
disown "$REDIS_PID" # killed in cleanup, never waited for: no job notice
HTTP_PORT=$(free_port)
[ "$HTTP_PORT" = "$REDIS_PORT" ] && HTTP_PORT=$((HTTP_PORT + 1))
i=0
until redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1; do
    i=$((i + 1)); [ $i -lt 50 ] || fail "temp redis did not start"; sleep 0.1
done

# The installed configuration, pointed at the temp Redis and a free port.
adjust() { # adjust STATE_DIR > config
    sed -e "s|redis://127.0.0.1:6379|redis://127.0.0.1:$REDIS_PORT|" \
        -e "s|\"127.0.0.1:8080\"|\"127.0.0.1:$HTTP_PORT\"|" \
        -e "s|\"/var/lib/zoneci\"|\"$1\"|" /etc/zoneci/zoneci.json
}
wait_http() { # wait_http PATH: 200 within 20 s
    i=0
    until curl -fsS -o /dev/null "http://127.0.0.1:$HTTP_PORT$1" 2>/dev/null; do
        i=$((i + 1)); [ $i -lt 200 ] || return 1; sleep 0.1
    done
}
no_wx_maps() { # MemoryDenyWriteExecute would kill a process that maps memory W+X
    if awk '$2 ~ /w.x/ {found=1} END {exit !found}' "/proc/$1/maps"; then
        fail "zoneci has writable and executable memory (MemoryDenyWriteExecute would break it)"
    fi
}
SECRETS="ZONECI_GITHUB_SECRET=check-webhook-secret ZONECI_RUNNER_TOKENS=check-runner-token
ZONECI_API_TOKENS=check:check-operator-token"

if [ -d /run/systemd/system ] && [ "$(cat /proc/1/comm)" = systemd ]; then
    mkdir -p /run/zoneci-check /run/systemd/system/zoneci.service.d
    adjust /var/lib/zoneci >/run/zoneci-check/zoneci.json
    chmod 644 /run/zoneci-check/zoneci.json
    {
        echo "[Service]"; echo "ExecStart="
        echo "ExecStart=/usr/bin/zoneci serve --config /run/zoneci-check/zoneci.json"
        for kv in $SECRETS; do echo "Environment=$kv"; done
    } >/run/systemd/system/zoneci.service.d/zz-package-check.conf
    systemctl daemon-reload
    systemctl start zoneci || { journalctl -u zoneci -n 30 --no-pager; fail "systemctl start zoneci"; }
    wait_http /readyz || { journalctl -u zoneci -n 30 --no-pager; fail "/readyz did not answer 200"; }
    no_wx_maps "$(systemctl show -p MainPID --value zoneci)"
    systemctl stop zoneci
    [ "$(systemctl show -p Result --value zoneci)" = success ] || fail "zoneci did not stop cleanly"
    rm -rf /run/systemd/system/zoneci.service.d/zz-package-check.conf /run/zoneci-check
    systemctl daemon-reload
    say "systemd: started (/readyz 200), stopped cleanly"
else
    skip "systemctl start: systemd is not PID 1 here; running the unit's ExecStart by hand as uid $CHECK_UID"
    EXEC=$(sed -n 's/^ExecStart=//p' /lib/systemd/system/zoneci.service)
    case "$EXEC" in
    *" --config /etc/zoneci/zoneci.json") ;;
    *) fail "unexpected ExecStart: $EXEC" ;;
    esac
    mkdir -m 700 "$T/state"
    chown "$CHECK_UID:$CHECK_UID" "$T/state"
    adjust "$T/state" >"$T/zoneci.json"
    chmod 644 "$T/zoneci.json"
    if ! grep -q "$REDIS_PORT" "$T/zoneci.json" || ! grep -q "$T/state" "$T/zoneci.json"; then
        fail "could not adjust the installed config"
    fi
    # ${EXEC%...}: the unit's line with only the config path swapped. Word splitting is
    # wanted: the line has no quoting.
    # shellcheck disable=SC2086
    (umask 077; cd /; exec env -i PATH=/usr/bin:/bin HOME=/ $SECRETS \
        setpriv --reuid=$CHECK_UID --regid=$CHECK_UID --clear-groups --no-new-privs \
        ${EXEC%/etc/zoneci/zoneci.json}"$T/zoneci.json") >"$T/zoneci.log" 2>&1 &
    ZONECI_PID=$!
    wait_http /healthz || { cat "$T/zoneci.log"; fail "/healthz did not answer 200"; }
    wait_http /readyz || { cat "$T/zoneci.log"; fail "/readyz did not answer 200"; }
    [ "$(stat -c %u "/proc/$ZONECI_PID")" = "$CHECK_UID" ] || fail "zoneci does not run as uid $CHECK_UID"
    no_wx_maps "$ZONECI_PID"
    kill -TERM "$ZONECI_PID"
    rc=0; wait "$ZONECI_PID" || rc=$?
    ZONECI_PID=''
    [ "$rc" = 0 ] || { cat "$T/zoneci.log"; fail "zoneci exited $rc on SIGTERM"; }
    grep -q 'event=stopped' "$T/zoneci.log" || { cat "$T/zoneci.log"; fail "no event=stopped in the log"; }
    say "by hand: /healthz and /readyz 200 as uid $CHECK_UID, no W+X memory, SIGTERM exit 0"
fi

dpkg -r zoneci >"$T/dpkg.log" 2>&1 || { cat "$T/dpkg.log"; fail "dpkg -r"; }
[ ! -e /usr/bin/zoneci ] || fail "/usr/bin/zoneci left after dpkg -r"
[ -e /etc/zoneci/zoneci.json ] || fail "dpkg -r removed the conffiles"
dpkg -P zoneci >"$T/dpkg.log" 2>&1 || { cat "$T/dpkg.log"; fail "dpkg -P"; }
[ ! -e /etc/zoneci ] || fail "/etc/zoneci left after purge"
INSTALLED_BY_US=''
say "removed and purged cleanly"
say ok
