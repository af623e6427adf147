// Stack symbolization. See symbolize.hpp.
#include "base/symbolize.hpp"

#include <cxxabi.h>
#include <dlfcn.h>
#include <link.h>
#include <execinfo.h>
#include <unistd.h>

#include <algorithm>
#include <cstdarg>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <initializer_list>

#if defined(GORO_HAVE_LIBDW)
#include <dwarf.h>
#include <elfutils/libdw.h>
#include <elfutils/libdwfl.h>
#endif

namespace goro::detail {

namespace {

void write_all(int fd, const char* s, size_t n) {
  while (n > 0) {
    ssize_t w = write(fd, s, n);
    if (w <= 0) return;
    s += w;
    n -= static_cast<size_t>(w);
  }
}

// Demangled name (caller frees), or null.
char* demangle(const char* name) {
  int status = 0;
  char* d = abi::__cxa_demangle(name, nullptr, nullptr, &status);
  return status == 0 ? d : nullptr;
}

}  // namespace

#if defined(GORO_HAVE_LIBDW)
namespace {

// A libdwfl session over this process's loaded modules, or null. The
// callbacks must outlive the session: hence static.
Dwfl* open_self_dwfl() {
  static char* debuginfo_path = nullptr;
  static const Dwfl_Callbacks callbacks = [] {
    Dwfl_Callbacks c{};
    c.find_elf = dwfl_linux_proc_find_elf;
    c.find_debuginfo = dwfl_standard_find_debuginfo;
    c.debuginfo_path = &debuginfo_path;
    return c;
  }();
  Dwfl* dwfl = dwfl_begin(&callbacks);
  if (dwfl != nullptr && (dwfl_linux_proc_report(dwfl, getpid()) != 0 || dwfl_report_end(dwfl, nullptr, nullptr) != 0)) {
    dwfl_end(dwfl);
    dwfl = nullptr;
  }
  return dwfl;
}

// The session's Dwfl if there is one, else a new one that the caller must
// end (*owned set).
Dwfl* session_dwfl(sym_session* session, bool* owned) {
  if (session != nullptr) {
    *owned = false;
    return static_cast<Dwfl*>(session->handle());
  }
  *owned = true;
  return open_self_dwfl();
}

// The compile unit of pc (a module's process address) and its bias, or
// null. Units missing from .debug_aranges (clang emits none unless given
// -gdwarf-aranges) are looked for by walking the module's units: for
// their code dwfl_module_addrdie finds nothing, or another unit (a
// clang-built program linked with a GCC-built libgoro: lock_order.cpp's
// unit for the program's main.cpp), so its answer is checked.
Dwarf_Die* unit_of(Dwfl_Module* mod, Dwarf_Addr pc, Dwarf_Addr* bias) {
  if (Dwarf_Die* cu = dwfl_module_addrdie(mod, pc, bias))
    if (dwarf_haspc(cu, pc - *bias) == 1) return cu;
  Dwarf_Die* cu = nullptr;
  while ((cu = dwfl_module_nextcu(mod, cu, bias)) != nullptr)
    if (dwarf_haspc(cu, pc - *bias) == 1) return cu;
  return nullptr;
}

// goroutine creation's functions, always inlined: goro::go, go_with,
// wait_group::go, run (DW_AT_name may carry template arguments).
bool is_creation_function(const char* name) {
  if (name == nullptr) return false;
  for (const char* fn : {"go", "go_with", "run"}) {
    size_t n = strlen(fn);
    if (strncmp(name, fn, n) == 0 && (name[n] == '\0' || name[n] == '<')) return true;
  }
  return false;
}

struct inline_search {
  Dwarf_Addr pc;
  Dwarf_Die die;       // the inlined function found
  Dwarf_Die caller;    // the function its code was inlined into (valid if has_caller)
  bool found = false;
  bool has_caller = false;
  bool named = false;  // it is a creation function
};

// Finds, under parent, the inlined functions whose code covers s->pc: the
// innermost creation function, or else the innermost. Walks the whole tree
// rather than dwarf_getscopes, which misses the code of a lambda defined
// inside a function template (its definition hangs under the template's
// abstract DIE, which covers no address).
// `fn` is the innermost function (subprogram or inlined) around parent
// that covers pc, or null.
void find_inlined(Dwarf_Die* parent, inline_search* s, const Dwarf_Die* fn) {
  Dwarf_Die child;
  if (dwarf_child(parent, &child) != 0) return;
  do {
    int tag = dwarf_tag(&child);
    bool covers = dwarf_haspc(&child, s->pc) == 1;
    if (covers && tag == DW_TAG_inlined_subroutine) {
      bool named = is_creation_function(dwarf_diename(&child));
      if (named || !s->named) {
        s->die = child;
        s->found = true;
        s->named = named;
        s->has_caller = fn != nullptr;
        if (fn != nullptr) s->caller = *fn;
      }
    }
    bool is_fn = covers && (tag == DW_TAG_subprogram || tag == DW_TAG_inlined_subroutine);
    if (covers || (tag != DW_TAG_inlined_subroutine && tag != DW_TAG_lexical_block && dwarf_haschildren(&child)))
      find_inlined(&child, s, is_fn ? &child : fn);
  } while (dwarf_siblingof(&child, &child) == 0);
}

// A function DIE's linkage (mangled) name, following its abstract origin
// and specification, or null. Only a linkage name is qualified enough to
// print: GCC gives none to local functions and lambdas, whose plain names
// ("operator()") say less than the symbol they were inlined into.
const char* die_function_name(Dwarf_Die* die) {
  Dwarf_Attribute a;
  for (int at : {DW_AT_linkage_name, DW_AT_MIPS_linkage_name}) {
    if (dwarf_attr_integrate(die, at, &a) != nullptr)
      if (const char* name = dwarf_formstring(&a)) return name;
  }
  return nullptr;
}

// The call site (DW_AT_call_file/DW_AT_call_line) of the inlined function
// that find_inlined picks at pc (a module address), and in *caller the
// function that made the call (when known; else left alone). The innermost alone is
// not enough: GCC lets the ranges of functions inlined into goro::go
// (std::forward) cover the call that follows them. Null if pc is not in
// inlined code or the unit has no inline records.
const char* inlined_call_site(Dwfl_Module* mod, Dwarf_Addr pc, int* lineno, const char** caller) {
  Dwarf_Addr bias = 0;
  Dwarf_Die* cu = unit_of(mod, pc, &bias);
  if (cu == nullptr) return nullptr;
  inline_search s;
  s.pc = pc - bias;
  find_inlined(cu, &s, nullptr);
  Dwarf_Attribute a;
  Dwarf_Word fidx = 0, line = 0;
  Dwarf_Files* files = nullptr;
  size_t nfiles = 0;
  if (s.found && dwarf_formudata(dwarf_attr(&s.die, DW_AT_call_file, &a), &fidx) == 0 &&
      dwarf_formudata(dwarf_attr(&s.die, DW_AT_call_line, &a), &line) == 0 &&
      dwarf_getsrcfiles(cu, &files, &nfiles) == 0 && fidx < nfiles) {
    *lineno = static_cast<int>(line);
    if (s.has_caller) *caller = die_function_name(&s.caller);
    return dwarf_filesrc(files, fidx, nullptr, nullptr);
  }
  return nullptr;
}

constexpr int kMaxInline = 16;

// The functions whose code covers pc (a module address) under parent,
// outermost first: the subprogram, then each inlined call inside it.
// Walks the tree, as find_inlined does, rather than dwarf_getscopes.
void inline_chain(Dwarf_Die* parent, Dwarf_Addr pc, Dwarf_Die* chain, int* n) {
  Dwarf_Die child;
  if (dwarf_child(parent, &child) != 0) return;
  do {
    int tag = dwarf_tag(&child);
    bool covers = dwarf_haspc(&child, pc) == 1;
    if (covers && (tag == DW_TAG_subprogram || tag == DW_TAG_inlined_subroutine)) {
      if (*n < kMaxInline) chain[(*n)++] = child;
      inline_chain(&child, pc, chain, n);
      return;
    }
    // Not covering: a local class's member function (a lambda's
    // operator()) may still be defined inside, even in a lexical block;
    // an inlined call's children are only its own code.
    if (covers || (tag != DW_TAG_inlined_subroutine && dwarf_haschildren(&child))) {
      int before = *n;
      inline_chain(&child, pc, chain, n);
      if (*n > before) return;
    }
  } while (dwarf_siblingof(&child, &child) == 0);
}

// A function DIE's printable name (caller frees), or null.
char* die_printable_name(Dwarf_Die* die) {
  const char* name = die_function_name(die);
  if (name != nullptr) {
    if (char* d = demangle(name)) return d;
    return strdup(name);
  }
  Dwarf_Attribute a;
  Dwarf_Die origin;
  Dwarf_Die* named = die;
  if (dwarf_attr(die, DW_AT_abstract_origin, &a) != nullptr && dwarf_formref_die(&a, &origin) != nullptr)
    named = &origin;
  const char* plain = dwarf_diename(named);
  return plain != nullptr ? strdup(plain) : nullptr;
}

// Where a relative source path lies: DWARF names include directories
// relative to the unit's compilation directory ("include/goro/chan.hpp"
// when built with -I include). Go prints absolute paths, which editors
// and terminals can open: so do we.
const char* absolute_path(const char* file, Dwarf_Die* cu, char* scratch, size_t cap) {
  if (file == nullptr || file[0] == '/' || cu == nullptr) return file;
  Dwarf_Attribute a;
  const char* dir = dwarf_formstring(dwarf_attr(cu, DW_AT_comp_dir, &a));
  if (dir == nullptr || dir[0] != '/') return file;
  int n = snprintf(scratch, cap, "%s/%s", dir, file);
  return n > 0 && static_cast<size_t>(n) < cap ? scratch : file;
}

// The line-table location of pc (a process address) in its unit cu
// (unit_of's, with its bias), or null. Not dwfl_module_getsrc, which
// looks in the unit dwfl_module_addrdie names (see unit_of).
const char* line_of(Dwarf_Die* cu, Dwarf_Addr bias, Dwarf_Addr pc, int* lineno) {
  if (cu == nullptr) return nullptr;
  Dwarf_Line* l = dwarf_getsrc_die(cu, pc - bias);
  if (l == nullptr || dwarf_lineno(l, lineno) != 0) return nullptr;
  return dwarf_linesrc(l, nullptr, nullptr);
}

// Whether a source file is a header of the C++ standard library
// (libstdc++'s .../include/c++/12/..., libc++'s .../include/c++/v1/...).
// Its inlined functions are not shown: a goroutine started with a lambda
// would otherwise show std::invoke, __invoke, __invoke_impl, apply and
// __apply_impl between its lambda and goro's frame, each a frame that
// says nothing about the program. Out-of-line calls into the library
// (a std::thread's body, a std::function) still show.
bool in_standard_library(const char* file) { return file != nullptr && strstr(file, "/include/c++/") != nullptr; }

// Appends printf-style to a fixed buffer, truncating.
struct text_out {
  char* buf;
  size_t cap;
  size_t len = 0;
  __attribute__((format(printf, 2, 3))) void add(const char* fmt, ...) {
    if (len + 1 >= cap) return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf + len, cap - len, fmt, ap);
    va_end(ap);
    if (n > 0) len = std::min(len + static_cast<size_t>(n), cap - 1);
  }
};

// pc's frames from the module's symbols and DWARF (see frames_at in
// symbolize.hpp); false if the module names nothing there.
bool format_with_dwarf(Dwfl_Module* mod, Dwarf_Addr pc, text_out* out) {
  GElf_Sym sym;
  GElf_Off off = 0;
  const char* sym_name = dwfl_module_addrinfo(mod, pc, &off, &sym, nullptr, nullptr, nullptr);
  Dwarf_Addr bias = 0;
  Dwarf_Die* cu = unit_of(mod, pc, &bias);
  Dwarf_Die chain[kMaxInline];
  int depth = 0;
  if (cu != nullptr) inline_chain(cu, pc - bias, chain, &depth);
  if (sym_name == nullptr && depth == 0) return false;
  // The innermost location, from the line table; each inlined function's
  // call site is then its caller's location.
  int lineno = 0;
  const char* file = line_of(cu, bias, pc, &lineno);
  Dwarf_Files* files = nullptr;
  size_t nfiles = 0;
  if (cu != nullptr && dwarf_getsrcfiles(cu, &files, &nfiles) != 0) files = nullptr;
  char path[1024];
  for (int k = depth - 1; k >= 1; k--) {
    if (!in_standard_library(file)) {
      char* name = die_printable_name(&chain[k]);
      out->add("%s\n\t%s:%d (inlined)\n", name != nullptr ? name : "?",
               file != nullptr ? absolute_path(file, cu, path, sizeof path) : "??", lineno);
      free(name);
    }
    Dwarf_Attribute a;
    Dwarf_Word fidx = 0, call_line = 0;
    if (files != nullptr && dwarf_formudata(dwarf_attr(&chain[k], DW_AT_call_file, &a), &fidx) == 0 &&
        dwarf_formudata(dwarf_attr(&chain[k], DW_AT_call_line, &a), &call_line) == 0 && fidx < nfiles) {
      file = dwarf_filesrc(files, fidx, nullptr, nullptr);
      lineno = static_cast<int>(call_line);
    } else {
      file = nullptr;
      lineno = 0;
    }
  }
  // The function the code is in. Its DWARF name when that is qualified
  // (it says "f(int)" where the symbol of a split-off part says
  // "f(int) [clone .cold]"); else the symbol's, where a lambda's DIE says
  // only "operator()".
  char* name = depth > 0 && die_function_name(&chain[0]) != nullptr ? die_printable_name(&chain[0])
               : sym_name != nullptr                                  ? demangle(sym_name)
                                                                      : nullptr;
  const char* shown = name != nullptr ? name : sym_name != nullptr ? sym_name : "?";
  if (file != nullptr)
    out->add("%s\n\t%s:%d +0x%lx", shown, absolute_path(file, cu, path, sizeof path), lineno,
             static_cast<unsigned long>(off));
  else
    out->add("%s\n\t?? +0x%lx", shown, static_cast<unsigned long>(off));
  free(name);
  return true;
}

}  // namespace
#endif

void describe_call_site(const void* ret, char* buf, unsigned long n, sym_session* session) {
  // A return address points after the call: look up the call itself.
  auto pc = reinterpret_cast<uintptr_t>(ret) - 1;
  const char* name = nullptr;
  const char* file = nullptr;
  int lineno = 0;
  uintptr_t sym_start = 0;
#if defined(GORO_HAVE_LIBDW)
  char path[1024];
  bool owned = false;
  Dwfl* dwfl = session_dwfl(session, &owned);
  if (dwfl != nullptr) {
    if (Dwfl_Module* mod = dwfl_addrmodule(dwfl, pc)) {
      GElf_Sym sym;
      GElf_Off off = 0;
      name = dwfl_module_addrinfo(mod, pc, &off, &sym, nullptr, nullptr, nullptr);
      sym_start = pc - off;
      // The function that called goro::go, which may itself be inlined,
      // rather than the symbol the code ended up in, where DWARF names it.
      const char* caller = nullptr;
      file = inlined_call_site(mod, pc, &lineno, &caller);
      if (caller != nullptr) name = caller;
      Dwarf_Addr bias = 0;
      Dwarf_Die* cu = unit_of(mod, pc, &bias);
      if (file == nullptr) file = line_of(cu, bias, pc, &lineno);
      file = absolute_path(file, cu, path, sizeof path);
    }
  }
#endif
  Dl_info info{};
  if (name == nullptr && dladdr(reinterpret_cast<void*>(pc), &info) != 0 && info.dli_sname != nullptr) {
    name = info.dli_sname;
    sym_start = reinterpret_cast<uintptr_t>(info.dli_saddr);
  }
  char* dem = name != nullptr ? demangle(name) : nullptr;
  const char* fn = dem != nullptr ? dem : name;
  if (file != nullptr)
    snprintf(buf, n, "%s:%d in %s", file, lineno, fn != nullptr ? fn : "?");
  else if (fn != nullptr)
    snprintf(buf, n, "?? in %s+0x%lx", fn, static_cast<unsigned long>(pc + 1 - sym_start));
  else
    snprintf(buf, n, "?? pc=%p", ret);
  free(dem);
#if defined(GORO_HAVE_LIBDW)
  if (dwfl != nullptr && owned) dwfl_end(dwfl);
#else
  (void)session;
#endif
}

bool function_range(const void* pc, uintptr_t* lo, uintptr_t* hi, sym_session* session) {
  auto addr = reinterpret_cast<uintptr_t>(pc);
#if defined(GORO_HAVE_LIBDW)
  if (Dwfl* dwfl = session != nullptr ? static_cast<Dwfl*>(session->handle()) : nullptr) {
    if (Dwfl_Module* mod = dwfl_addrmodule(dwfl, addr)) {
      GElf_Sym sym;
      GElf_Off off = 0;
      if (dwfl_module_addrinfo(mod, addr, &off, &sym, nullptr, nullptr, nullptr) != nullptr && sym.st_size > 0) {
        *lo = addr - off;
        *hi = *lo + sym.st_size;
        return true;
      }
    }
  }
#else
  (void)session;
#endif
  Dl_info info{};
  void* extra = nullptr;
  if (dladdr1(pc, &info, &extra, RTLD_DL_SYMENT) != 0 && extra != nullptr && info.dli_saddr != nullptr) {
    const auto* sym = static_cast<const ElfW(Sym)*>(extra);
    if (sym->st_size == 0) return false;
    *lo = reinterpret_cast<uintptr_t>(info.dli_saddr);
    *hi = *lo + sym->st_size;
    return true;
  }
  return false;
}

sym_session::sym_session() = default;

void* sym_session::handle() {
  if (!opened_) {
    opened_ = true;
#if defined(GORO_HAVE_LIBDW)
    handle_ = open_self_dwfl();
#endif
  }
  return handle_;
}

sym_session::~sym_session() {
#if defined(GORO_HAVE_LIBDW)
  if (handle_ != nullptr) dwfl_end(static_cast<Dwfl*>(handle_));
#endif
}

namespace {

// pc's frames as frames_at gives them, looked up in dwfl (may be null:
// then from the dynamic symbol table alone) into buf.
size_t format_pc(uintptr_t pc, void* dwfl, char* buf, size_t cap) {
#if defined(GORO_HAVE_LIBDW)
  if (dwfl != nullptr) {
    if (Dwfl_Module* mod = dwfl_addrmodule(static_cast<Dwfl*>(dwfl), pc)) {
      text_out out{buf, cap};
      if (format_with_dwarf(mod, pc, &out)) return out.len;
    }
  }
#else
  (void)dwfl;
#endif
  Dl_info info{};
  int len;
  if (dladdr(reinterpret_cast<void*>(pc), &info) != 0 && info.dli_sname != nullptr) {
    char* dem = demangle(info.dli_sname);
    len = snprintf(buf, cap, "%s\n\t?? +0x%lx", dem != nullptr ? dem : info.dli_sname,
                   static_cast<unsigned long>(pc - reinterpret_cast<uintptr_t>(info.dli_saddr)));
    free(dem);
  } else {
    len = snprintf(buf, cap, "??\n\t%s pc=%p", info.dli_fname != nullptr ? info.dli_fname : "?",
                   reinterpret_cast<void*>(pc));
  }
  if (len < 0) return 0;
  return std::min(static_cast<size_t>(len), cap > 0 ? cap - 1 : 0);
}

}  // namespace

const std::string& sym_session::frames_at(uintptr_t pc) {
  auto it = frames_.find(pc);
  if (it != frames_.end()) return it->second;
  // Sixteen inlined calls of long template names fit.
  char buf[8192];
  size_t n = format_pc(pc, handle(), buf, sizeof buf);
  return frames_.emplace(pc, std::string(buf, n)).first->second;
}

void print_frames(int fd, void* const* pcs, int n, sym_session* session) {
  sym_session* s = session;
  sym_session* own = nullptr;
  if (s == nullptr) s = own = new sym_session();
  for (int i = 0; i < n; i++) {
    // A return address points after the call: look up the call itself.
    const std::string& text = s->frames_at(reinterpret_cast<uintptr_t>(pcs[i]) - (i > 0 ? 1 : 0));
    write_all(fd, text.data(), text.size());
    write_all(fd, "\n", 1);
  }
  delete own;
}

#if defined(GORO_HAVE_LIBDW) && defined(__x86_64__)

namespace {

// One unwind: the fiber's registers in DWARF numbering (0 rax, 1 rdx,
// 2 rcx, 3 rbx, 4 rsi, 5 rdi, 6 rbp, 7 rsp, 8-15 r8-r15, 16 the return
// address column, i.e. rip), the stack it may read, and the output.
struct fiber_unwind {
  Dwarf_Word regs[17] = {};
  uintptr_t lo = 0, hi = 0;
  const char* image = nullptr;  // if set, a copy of [lo, hi): read it, not the stack
  void** pcs = nullptr;
  int max = 0;
  int n = 0;
};

pid_t fu_next_thread(Dwfl*, void*, void**) { return 0; }

// The callbacks' argument is the session's slot, which points at the
// current unwind (sym_session::unwind_slot).
fiber_unwind* fu_of(void* dwfl_arg) { return static_cast<fiber_unwind*>(*static_cast<void**>(dwfl_arg)); }

bool fu_get_thread(Dwfl*, pid_t, void* dwfl_arg, void** thread_argp) {
  *thread_argp = fu_of(dwfl_arg);
  return true;
}

// Not instrumented: a parked goroutine's frames may hold ASan redzones.
__attribute__((no_sanitize("address", "thread"))) bool fu_memory_read(Dwfl*, Dwarf_Addr addr, Dwarf_Word* result,
                                                                     void* arg) {
  fiber_unwind* fu = fu_of(arg);
  if (addr < fu->lo || addr + sizeof(Dwarf_Word) > fu->hi || addr % alignof(Dwarf_Word) != 0) return false;
  if (fu->image != nullptr)
    memcpy(result, fu->image + (addr - fu->lo), sizeof *result);
  else
    *result = *reinterpret_cast<const Dwarf_Word*>(addr);
  return true;
}

bool fu_set_initial_registers(Dwfl_Thread* thread, void* thread_arg) {
  auto* fu = static_cast<fiber_unwind*>(thread_arg);
  return dwfl_thread_state_registers(thread, 0, 17, fu->regs);
}

int fu_frame(Dwfl_Frame* frame, void* arg) {
  auto* fu = static_cast<fiber_unwind*>(arg);
  Dwarf_Addr pc = 0;
  bool activation = false;
  if (!dwfl_frame_pc(frame, &pc, &activation) || pc == 0) return DWARF_CB_ABORT;
  // print_frames takes the first pc as exact and the rest as return
  // addresses; the first one here is a return address too.
  if (fu->n == 0 && !activation) pc -= 1;
  fu->pcs[fu->n++] = reinterpret_cast<void*>(pc);
  return fu->n < fu->max ? DWARF_CB_OK : DWARF_CB_ABORT;
}

}  // namespace

__attribute__((no_sanitize("address", "thread"))) int fiber_stack_pcs(const void* saved_sp, const void* stack_lo,
                                                                     const void* stack_hi, void** pcs, int max,
                                                                     const void* image, sym_session* session) {
  auto sp = reinterpret_cast<uintptr_t>(saved_sp);
  fiber_unwind fu;
  fu.lo = reinterpret_cast<uintptr_t>(stack_lo);
  fu.hi = reinterpret_cast<uintptr_t>(stack_hi);
  if (image != nullptr) {
    fu.lo = sp;  // the copy starts at the saved stack pointer
    fu.image = static_cast<const char*>(image);
  }
  if (max <= 0 || sp < fu.lo || sp + 7 * 8 > fu.hi) return 0;
  // goro_fiber_switch's frame (switch_x86_64.S): r15, r14, r13, r12, rbx,
  // rbp, then the return address into its caller.
  Dwarf_Word frame[7];
  if (fu.image != nullptr)
    memcpy(frame, fu.image, sizeof frame);
  else
    for (int i = 0; i < 7; i++) frame[i] = reinterpret_cast<const Dwarf_Word*>(sp)[i];
  fu.regs[15] = frame[0];
  fu.regs[14] = frame[1];
  fu.regs[13] = frame[2];
  fu.regs[12] = frame[3];
  fu.regs[3] = frame[4];
  fu.regs[6] = frame[5];
  fu.regs[16] = frame[6];
  fu.regs[7] = sp + 7 * 8;  // the caller's rsp after the return
  fu.pcs = pcs;
  fu.max = max;

  sym_session* s = session;
  sym_session* own = nullptr;
  if (s == nullptr) s = own = new sym_session();
  auto* dwfl = static_cast<Dwfl*>(s->handle());
  if (dwfl != nullptr) {
    static const Dwfl_Thread_Callbacks thread_callbacks = {
        fu_next_thread, fu_get_thread, fu_memory_read, fu_set_initial_registers, nullptr, nullptr,
    };
    // Attached once per session, with the session's slot as the
    // callbacks' argument: it points at this unwind's state meanwhile.
    void* slot = &s->unwind_slot;
    s->unwind_slot = &fu;
    if (s->unwind_pid == 0) s->unwind_pid = getpid();
    if (!s->unwind_attached)
      s->unwind_attached = dwfl_attach_state(dwfl, nullptr, s->unwind_pid, &thread_callbacks, slot);
    if (s->unwind_attached) dwfl_getthread_frames(dwfl, s->unwind_pid, fu_frame, &fu);
    s->unwind_slot = nullptr;
  }
  delete own;
  return fu.n;
}

#elif defined(__aarch64__)

// AArch64: GCC and clang keep frame records (x29 -> {caller's x29, x30})
// by default there, so a suspended fiber is walked along them, with or
// without libdw. goro_fiber_switch's frame (switch_aarch64.S) holds the
// caller's x29 at +80 and the resume address (x30) at +88; each record
// then gives the next return address, until a null one (the 16 zero
// bytes fiber_make puts above a fiber's first frame) or a link that
// leaves the stack or does not go up it. Code built with
// -fomit-frame-pointer shows fewer frames, never wrong reads: every read
// is bounds-checked against the stack (or the copy).
__attribute__((no_sanitize("address", "thread"))) int fiber_stack_pcs(const void* saved_sp, const void* stack_lo,
                                                                     const void* stack_hi, void** pcs, int max,
                                                                     const void* image, sym_session*) {
  auto sp = reinterpret_cast<uintptr_t>(saved_sp);
  uintptr_t lo = reinterpret_cast<uintptr_t>(stack_lo);
  uintptr_t hi = reinterpret_cast<uintptr_t>(stack_hi);
  const char* copy = static_cast<const char*>(image);
  if (copy != nullptr) lo = sp;  // the copy starts at the saved stack pointer
  auto read = [&](uintptr_t addr, uintptr_t* out) {
    if (addr < lo || addr + 8 > hi || addr % 8 != 0) return false;
    if (copy != nullptr)
      memcpy(out, copy + (addr - lo), 8);
    else
      *out = *reinterpret_cast<const uintptr_t*>(addr);
    return true;
  };
  if (max <= 0 || sp < lo) return 0;
  uintptr_t fp = 0, lr = 0;
  if (!read(sp + 80, &fp) || !read(sp + 88, &lr) || lr == 0) return 0;
  int n = 0;
  // print_frames takes the first pc as exact; this one is a return address.
  pcs[n++] = reinterpret_cast<void*>(lr - 1);
  uintptr_t floor = sp + 176;  // records lie above the switch frame
  while (n < max && fp >= floor && fp % 16 == 0) {
    uintptr_t next_fp = 0, ret = 0;
    if (!read(fp, &next_fp) || !read(fp + 8, &ret) || ret == 0) break;
    pcs[n++] = reinterpret_cast<void*>(ret);
    floor = fp + 16;
    fp = next_fp;
  }
  return n;
}

#else

int fiber_stack_pcs(const void*, const void*, const void*, void**, int, const void*, sym_session*) { return 0; }

#endif

__attribute__((noinline)) int stack_pcs(void** pcs, int max, int skip) {
  void* all[128];
  int n = backtrace(all, 128);
  skip += 1;  // stack_pcs itself
  if (skip > n) skip = n;
  int k = n - skip < max ? n - skip : max;
  for (int i = 0; i < k; i++) pcs[i] = all[skip + i];
  return k;
}


void print_return_frames(int fd, void* const* pcs, int n) {
  sym_session session;
  for (int i = 0; i < n; i++) {
    // A return address points after the call: look up the call itself.
    const std::string& text = session.frames_at(reinterpret_cast<uintptr_t>(pcs[i]) - 1);
    write_all(fd, text.data(), text.size());
    write_all(fd, "\n", 1);
  }
}

}  // namespace goro::detail
