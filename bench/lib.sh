# Shared by the bench scripts (sourced, bash): the clean-up every script needs, whose
# $tmp holds a Redis listening on $tmp/redis.sock.
#
# Every step may fail: under set -e the first failing one would end the trap early.
descendants() { # every process under $1, children before their parent
  local c
  for c in $(pgrep -P "$1"); do descendants "$c"; echo "$c"; done
}
cleanup() { # this script's servers, load clients, Node workers (found before any is killed)
  local p all
  all=$(descendants $$)
  for p in $all; do kill "$p" 2>/dev/null || true; done
  redis-cli -s $tmp/redis.sock shutdown nosave >/dev/null 2>&1 || true
  rm -rf $tmp || true
}
trap cleanup EXIT
# A signal must not wait for the step in progress: long steps run in the background under
# `step`, whose `wait` a trapped signal interrupts; exit then runs the EXIT trap.
trap 'exit 143' TERM
trap 'exit 130' INT
step() { "$@" & wait $!; }
