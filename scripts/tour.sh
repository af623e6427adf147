#!/usr/bin/env bash
# Builds goro and runs the examples tour: every program of examples/, in
# order, each printing what it shows.
#
#   bash scripts/tour.sh
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/deps.sh
goro_install_deps
cmake --preset default >/dev/null
cmake --build --preset default --target goro-examples
status=0
while read -r name; do
  [[ -n $name ]] || continue
  echo "---- $name"
  if ! timeout 60 "./build/examples/$name"; then
    echo "[goro] example $name failed" >&2
    status=1
  fi
done <build/examples/tour.txt
exit $status
