// A compile unit without .debug_aranges, linked into the dump tests
// (Dump.LinesOfAUnitWithoutAranges): tests/CMakeLists.txt compiles it on
// its own and removes the section from the object, which is what clang
// emits by default (no aranges unless given -gdwarf-aranges). A program
// built with clang and linked with a GCC-built libgoro mixes such units
// with units that have them.
#include "goro/goro.hpp"

namespace goro_test_no_aranges {

extern const int kRecvLine;
const int kRecvLine = __LINE__ + 2;
[[gnu::noinline]] void blocked_receiving(goro::chan<int> ch) {
  (void)ch.recv();
  asm volatile("" ::: "memory");  // not a tail call: keep this frame
}

}  // namespace goro_test_no_aranges
