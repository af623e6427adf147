#!/usr/bin/env bash
# Cross-builds goro's runtime for aarch64 with tests/arch/aarch64_smoke.cpp
# and runs it under qemu-user: the aarch64 context switch and the runtime
# on it, on an x86-64 machine. Installs the cross compiler and qemu-user if
# missing.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/deps.sh
goro_install_deps g++-aarch64-linux-gnu qemu-user
out="${TMPDIR:-/tmp}/goro-aarch64-smoke"
srcs=$(ls src/{base,sched,time,sync,chan,select}/*.cpp)
# shellcheck disable=SC2086 # srcs is a list of files
aarch64-linux-gnu-g++ -std=c++20 -O2 -static -Iinclude -Isrc tests/arch/aarch64_smoke.cpp $srcs \
  src/fiber/switch_aarch64.S -o "$out" -lpthread
for i in 1 2 3; do qemu-aarch64 "$out"; done
