// Stack traces with function names and file:line, for panic reports and
// goroutine dumps.
//
// Uses elfutils' libdwfl (Debian's libdw-dev) when the build found it: it
// reads the full symbol table and DWARF line tables of every loaded module,
// so static and local functions (and GCC's .cold clones) are named, not
// just exported symbols, and inlined calls are shown as frames of their
// own (from the DWARF inline records), as Go's tracebacks show them.
// Without libdw it falls back to dladdr(), which only knows exported
// symbols.
#pragma once

#include <cstdint>
#include <string>
#include <unordered_map>

namespace goro::detail {

// A symbolization session: the process's modules and their debug
// information, opened once for many lookups (a dump of thousands of
// goroutines opens them once, not per goroutine). Modules loaded after it
// opened are not seen. One thread at a time; not async-signal-safe.
class sym_session {
 public:
  sym_session();
  ~sym_session();
  sym_session(const sym_session&) = delete;
  sym_session& operator=(const sym_session&) = delete;
  // libdwfl's Dwfl*, or null; opened at the first call (a session that
  // symbolizes nothing reads no debug information).
  void* handle();

  // The frames of the code at pc (an address inside an instruction: step
  // a return address back into its call first), as Go prints them,
  // innermost first and separated by '\n': one "function\n\tfile:line
  // (inlined)" for each inlined call that pc lies in, then the function
  // the code is in, "function\n\tfile:line +0xoffset". A goroutine parked
  // in goro::chan::recv, inlined into a helper inlined into worker(),
  // shows three frames, the last at worker's line. Paths are absolute.
  // Looked up once per session and pc: finding the inlined calls walks
  // the compile unit's DWARF tree.
  const std::string& frames_at(uintptr_t pc);

  // For fiber_stack_pcs: libdwfl attaches unwinding state to a session
  // once, with one callback argument for good; this slot is that argument,
  // and each unwind points it at its own state.
  void* unwind_slot = nullptr;
  bool unwind_attached = false;
  // The pid libdwfl's unwinder names the (fake) thread by; getpid is a
  // system call, read once per session (0: not yet).
  int unwind_pid = 0;

 private:
  void* handle_ = nullptr;
  bool opened_ = false;
  std::unordered_map<uintptr_t, std::string> frames_;
};

// The calling thread's stack as print_frames takes it: at most max
// program counters, innermost first, skipping the innermost `skip` frames
// (not counting stack_pcs itself). Cheap on stack space, unlike
// print_frames: capture here, print elsewhere (crash.cpp's panic report).
int stack_pcs(void** pcs, int max, int skip);

// Where the call that returns to `ret` was made, for the "created by"
// lines of reports: "file:line in function" into buf (n bytes), or as much
// as the debug information tells ("?? in function+0x1c" without line
// tables; "?? pc=0x..." without symbols). When the call instruction lies in
// an inlined function (goro::go, which is always inlined), file:line is
// that function's call site, from the DWARF inline records, so `ret`
// from inside goro::go names the line that called goro::go. Not
// async-signal-safe (allocates), like print_frames.
void describe_call_site(const void* ret, char* buf, unsigned long n, sym_session* session = nullptr);

// The code range [*lo, *hi) of the function containing pc, from the
// symbol table; false if unknown.
bool function_range(const void* pc, uintptr_t* lo, uintptr_t* hi, sym_session* session);

// Writes the frames `pcs[0..n)` (return addresses, except the first) to
// fd, each as sym_session::frames_at gives it.
void print_frames(int fd, void* const* pcs, int n, sym_session* session = nullptr);

// The same for frames that are all return addresses (stack_pcs' output):
// a goro::mutex::lock inlined into a std::lock_guard inlined into the
// caller prints goro::mutex::lock, then the caller at the lock_guard's
// line (the standard library's inlined frames are left out).
void print_return_frames(int fd, void* const* pcs, int n);

// The stack of a suspended fiber, for goroutine dumps: fills pcs (in
// print_frames' convention) by unwinding (x86-64: with the DWARF call-frame
// information of the loaded modules) from the registers that
// goro_fiber_switch saved at `saved_sp`. Reads memory only inside
// [stack_lo, stack_hi), so a stack that changes under it (a goroutine
// resumed meanwhile) gives wrong frames, never a crash. With `image`, it
// reads no stack at all: image holds a copy of [saved_sp, stack_hi) taken
// earlier (the live dump's snapshot, sched/traceback.cpp), and every read
// of that range comes from the copy. Returns the number of frames, 0 where
// unsupported. x86-64 needs libdw (CFI); AArch64 walks frame records.
int fiber_stack_pcs(const void* saved_sp, const void* stack_lo, const void* stack_hi, void** pcs, int max,
                    const void* image = nullptr, sym_session* session = nullptr);

}  // namespace goro::detail
