#!/usr/bin/env bash
# Runs a command with CPU hogs beside it: busy loops at the same priority,
# two by default (GORO_BUSY_HOGS to change), so that the command
# sees a machine that other work keeps busy, as a user's often is. The
# test suite must pass like this; .ci/run checks it.
#
#   bash scripts/busy.sh ctest --preset default
#   GORO_BUSY_HOGS=4 bash scripts/busy.sh ctest --preset tsan
#
# Exits with the command's status. On SIGINT, SIGTERM or SIGHUP the
# command gets SIGTERM. The hogs are killed when the script exits, however
# it exits; each hog also checks every ~25 ms of CPU that the script is
# still alive and stops if not (a SIGKILLed script runs no trap). The
# command's stdin is /dev/null.
set -euo pipefail
hogs="${GORO_BUSY_HOGS:-2}"
if (($# == 0)); then
  echo "usage: $0 command [args...]" >&2
  exit 2
fi

pids=()  # the hogs
cmd=""   # the command
stop() {
  [[ -z $cmd ]] || kill -TERM "$cmd" 2>/dev/null || true
  ((${#pids[@]} == 0)) || kill "${pids[@]}" 2>/dev/null || true
  wait 2>/dev/null || true
}
trap stop EXIT
trap 'exit 129' HUP
trap 'exit 130' INT
trap 'exit 143' TERM

for ((i = 0; i < hogs; i++)); do
  # Pure computation between the liveness checks (kill -0 is a shell
  # builtin: no process is started).
  sh -c 'while kill -0 "$1" 2>/dev/null; do
           i=0; while [ $i -lt 20000 ]; do i=$((i + 1)); done
         done' goro-busy-hog "$$" &
  pids+=($!)
done
echo "[goro] ${hogs} busy loops beside: $*" >&2
# In the background, so that a signal to this script is acted on at once
# (bash runs traps only between commands, and `wait` is interruptible);
# stop() passes it on to the command as SIGTERM.
"$@" &
cmd=$!
status=0
wait "$cmd" || status=$?
cmd=""
exit "$status"
