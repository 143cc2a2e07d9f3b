#!/bin/sh
# A stand-in build for `zoneci runner ... -- examples/build.sh`: the runner hands a job to
# its command in ZONECI_* variables (docs/runner.md). A real build checks out
# ZONECI_HEAD_SHA and runs the project's tests; this one shows what it was given and, for
# a repository it can reach without credentials (a local path or file:// URL, as in
# `make demo`), checks the commit out and lists its migrations. Exit status = the result.
set -eu
echo "build: job ${ZONECI_JOB_ID:?} ${ZONECI_REPO:-?}#${ZONECI_PR:-?} at ${ZONECI_HEAD_SHA:?}"
case "${ZONECI_CLONE_URL:-}" in
/* | file://*)
    work=$(mktemp -d)
    trap 'rm -rf "$work"' EXIT
    git clone -q --no-checkout "$ZONECI_CLONE_URL" "$work/src"
    git -C "$work/src" checkout -q --detach "$ZONECI_HEAD_SHA"
    echo "build: checked out $(git -C "$work/src" log -1 --format='%h %s')"
    find "$work/src" -name '*.sql' -path '*migrat*' | sed "s|^$work/src/|build: migration |" | sort
    ;;
*) echo "build: (a real build would fetch ${ZONECI_CLONE_URL:-the repository} here)" ;;
esac
echo "build: ok"
