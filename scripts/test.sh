#!/usr/bin/env bash
# Builds goro and runs its test suite.
#
#   bash scripts/test.sh            # optimized build with debug info (preset "default")
#   GORO_PRESET=asan bash scripts/test.sh   # ASan+UBSan; also: tsan, debug, release, clang
#
# Installs missing Debian packages first (for the tests also `locales`:
# the locale sources Trace.TimestampsIgnoreTheNumericLocale builds a
# de_DE locale from). Stress tests scale with GORO_STRESS (default 1).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/deps.sh
goro_install_deps locales
preset="${GORO_PRESET:-default}"
cmake --preset "$preset" >/dev/null
cmake --build --preset "$preset"
ctest --preset "$preset"
