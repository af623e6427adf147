#!/usr/bin/env bash
# Cross-builds goro's runtime for aarch64 with tests/arch/aarch64_smoke.cpp
# and runs it under qemu-user: the aarch64 context switch and the runtime
# on it, on an x86-64 machine. Installs the cross compiler and qemu-user if
# missing.
#
# The runtime is linked twice: with the switch as ordinary builds assemble
# it (ending in `br x30`), and as BTI builds (-mbranch-protection=standard)
# assemble it (ending in `ret`, marked BTI in .note.gnu.property; see
# src/fiber/switch_aarch64.S). Then the BTI marking is checked: the switch
# object carries it, a relocatable link with a BTI-built C++ object keeps
# it, and tests/arch/switch_probe.cpp, built without libc so that the whole
# program can be BTI-guarded (-z force-bti; Debian's libc is not BTI-built),
# switches fibers under qemu's BTI enforcement.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/deps.sh
goro_install_deps g++-aarch64-linux-gnu qemu-user
cxx=aarch64-linux-gnu-g++
readelf=aarch64-linux-gnu-readelf
out="${TMPDIR:-/tmp}/goro-aarch64-smoke"
rm -rf "$out.d"
mkdir -p "$out.d"
flags=(-std=c++20 -O2 -Iinclude -Isrc)

# The runtime's objects, two compilers at a time.
ls src/{base,sched,time,sync,chan,select}/*.cpp tests/arch/aarch64_smoke.cpp |
  xargs -P 2 -I{} sh -c "$cxx ${flags[*]} -c {} -o \"$out.d/\$(echo {} | tr / _).o\""
$cxx -c src/fiber/switch_aarch64.S -o "$out.d/switch.o"
$cxx -mbranch-protection=standard -c src/fiber/switch_aarch64.S -o "$out.d/switch_bti.o"
objs=$(ls "$out.d"/*.cpp.o)
# shellcheck disable=SC2086 # objs is a list of files
$cxx -static $objs "$out.d/switch.o" -o "$out" -lpthread
# shellcheck disable=SC2086
$cxx -static $objs "$out.d/switch_bti.o" -o "$out-bti" -lpthread
for i in 1 2 3; do qemu-aarch64 "$out"; done
qemu-aarch64 "$out-bti"

# BTI marking.
fail() { echo "aarch64 BTI: $*" >&2; exit 1; }
$readelf -n "$out.d/switch_bti.o" | grep -q "AArch64 feature: BTI" ||
  fail "the switch assembled with -mbranch-protection=standard is not marked BTI"
if $readelf -n "$out.d/switch.o" | grep -q "AArch64 feature"; then
  fail "the switch assembled without branch protection (ending in br x30) claims a feature"
fi
$cxx "${flags[@]}" -mbranch-protection=standard -c tests/arch/switch_probe.cpp -o "$out.d/probe.o"
$cxx -r -nostdlib "$out.d/probe.o" "$out.d/switch_bti.o" -o "$out.d/linked.o"
$readelf -n "$out.d/linked.o" | grep -q "AArch64 feature: BTI" ||
  fail "linking the switch into a BTI-built object turns its BTI marking off"
$cxx "${flags[@]}" -g -mbranch-protection=standard -fno-exceptions -fno-stack-protector -DGORO_PROBE_NOLIBC \
  -static -nostdlib -Wl,-z,force-bti tests/arch/switch_probe.cpp "$out.d/switch_bti.o" -o "$out-probe-bti" 2>/dev/null
qemu-aarch64 "$out-probe-bti" || fail "fiber switches fault with BTI enforced (exit status $?)"
echo "aarch64 ok: BTI-marked switch, fibers switch with BTI enforced"
