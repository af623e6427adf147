#!/usr/bin/env bash
# Installs what goro's build needs on Debian 12, if anything is missing
# (gdb: the switch_unwind test; libclang-rt-14-dev: the sanitizer runtimes
# of clang, which the asan and tsan presets build with, only recommended by clang;
# libboost1.74-dev, Debian 12's libboost-dev: Boost.Beast's HTTP parser,
# header-only, for src/http; liburing-dev: the poller's io_uring variant,
# GORO_NETPOLL=uring, left out of builds without it).
# Sourced by scripts/test.sh and scripts/tour.sh.
goro_install_deps() {
  local pkgs=(cmake make g++ clang libclang-rt-14-dev libgtest-dev libgmock-dev libbenchmark-dev libboost-context-dev libboost1.74-dev libdw-dev liburing-dev pkg-config gdb "$@")
  local missing=()
  for p in "${pkgs[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  if ((${#missing[@]} > 0)); then
    echo "[goro] installing: ${missing[*]}" >&2
    local sudo=""
    ((EUID == 0)) || sudo=sudo
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
  fi
}
