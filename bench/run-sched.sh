#!/usr/bin/env bash
# Runs the sched suite (docs/benchmarks.md, "Scheduling under computing and
# blocking goroutines") for goro and for its Go twin, one after the other,
# and prints both sets of rows and the comparison table.
#
# Usage: bench/run-sched.sh [PATTERN...]
#   PATTERN: substring filters on suite/case/kind, passed to both programs
#   (default: sched, every row of the suite).
# Environment:
#   GORO_BENCH     goro's benchmark executable (default build/bench/goro-bench;
#                  build it first: cmake --build --preset default --target goro-bench)
#   BENCH_BUILD    where the Go twin is built (default /tmp/goro-sched)
#   BENCH_RESULTS  where the result file goes (default $BENCH_BUILD/results)
#   BENCH_TIMEOUT  seconds each program may run (default 300)
# Installs Debian's golang-go if go is missing (as ../shared/bench/run-anchors
# does). Writes every row, with the settings and each program's stderr as
# comments, to $BENCH_RESULTS/sched-<date>-<time>.txt; ../shared/bench/compare
# reads such files (several runs: medians).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"
goro_bench="${GORO_BENCH:-$root/build/bench/goro-bench}"
build="${BENCH_BUILD:-/tmp/goro-sched}"
results="${BENCH_RESULTS:-$build/results}"
timeout_s="${BENCH_TIMEOUT:-300}"
if (($# > 0)); then patterns=("$@"); else patterns=(sched); fi
compare="$root/../shared/bench/compare"

log() { printf '[run-sched] %s\n' "$*" >&2; }

[[ -x $goro_bench ]] || {
  echo "run-sched: no goro-bench at $goro_bench (build it, or set GORO_BENCH)" >&2
  exit 2
}
if ! command -v go >/dev/null; then
  log "installing golang-go"
  SUDO=""
  ((EUID == 0)) || SUDO=sudo
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq golang-go >/dev/null
fi

mkdir -p "$build" "$results"
log "building the Go twin"
(cd "$here/go_sched" && GOPROXY=off GOFLAGS=-mod=mod go build -o "$build/go-sched" .)

stamp="$(date +%Y%m%d-%H%M%S)"
out="$results/sched-$stamp.txt"
errf="$(mktemp)"
trap 'rm -f "$errf"' EXIT
{
  echo "# goro sched suite beside Go, $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo "# host: $(uname -srm), $(nproc) cpus, $(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo)"
  echo "# load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
  echo "# goro: $(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo '?')$(git -C "$root" diff --quiet HEAD 2>/dev/null || echo ' (modified)'), $goro_bench"
  echo "# go: $(go version | cut -d' ' -f3-)"
  echo "# patterns: ${patterns[*]}"
  echo "# format: impl suite case kind seconds ops ns_per_op extra"
} >"$out"

failed=0
run() { # name command...
  local name=$1
  shift
  log "running $name (limit ${timeout_s}s)"
  set +e
  timeout --kill-after=10 "$timeout_s" "$@" 2>"$errf" | tee -a "$out"
  local rc=${PIPESTATUS[0]}
  set -e
  sed 's/^/# stderr: /' "$errf" >>"$out"
  if ((rc != 0)); then
    echo "# $name: exit status $rc" >>"$out"
    log "$name failed with exit status $rc; its stderr:"
    cat "$errf" >&2
    failed=1
  fi
}
run goro "$goro_bench" "${patterns[@]}"
run go "$build/go-sched" "${patterns[@]}"
echo "# load average at end: $(cut -d' ' -f1-3 /proc/loadavg)" >>"$out"

if [[ -x $compare ]]; then
  echo
  "$compare" "$out"
fi
echo
log "rows in $out"
exit "$failed"
