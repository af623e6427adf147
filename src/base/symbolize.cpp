// Stack symbolization. See symbolize.hpp.
#include "base/symbolize.hpp"

#include <cxxabi.h>
#include <dlfcn.h>
#include <execinfo.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#if defined(GORO_HAVE_LIBDW)
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

void emit(int fd, const char* s) { write_all(fd, s, strlen(s)); }

// Demangled name (caller frees), or null.
char* demangle(const char* name) {
  int status = 0;
  char* d = abi::__cxa_demangle(name, nullptr, nullptr, &status);
  return status == 0 ? d : nullptr;
}

}  // namespace

void print_frames(int fd, void* const* pcs, int n) {
#if defined(GORO_HAVE_LIBDW)
  char* debuginfo_path = nullptr;
  Dwfl_Callbacks callbacks{};
  callbacks.find_elf = dwfl_linux_proc_find_elf;
  callbacks.find_debuginfo = dwfl_standard_find_debuginfo;
  callbacks.debuginfo_path = &debuginfo_path;
  Dwfl* dwfl = dwfl_begin(&callbacks);
  if (dwfl != nullptr && (dwfl_linux_proc_report(dwfl, getpid()) != 0 || dwfl_report_end(dwfl, nullptr, nullptr) != 0)) {
    dwfl_end(dwfl);
    dwfl = nullptr;
  }
#endif
  for (int i = 0; i < n; i++) {
    // A return address points after the call: look up the call itself.
    auto pc = reinterpret_cast<uintptr_t>(pcs[i]) - (i > 0 ? 1 : 0);
    char line[2048];
    const char* name = nullptr;
    const char* file = nullptr;
    int lineno = 0;
    uintptr_t sym_start = 0;
#if defined(GORO_HAVE_LIBDW)
    if (dwfl != nullptr) {
      if (Dwfl_Module* mod = dwfl_addrmodule(dwfl, pc)) {
        GElf_Sym sym;
        GElf_Off off = 0;
        name = dwfl_module_addrinfo(mod, pc, &off, &sym, nullptr, nullptr, nullptr);
        sym_start = pc - off;
        if (Dwfl_Line* l = dwfl_module_getsrc(mod, pc)) file = dwfl_lineinfo(l, nullptr, &lineno, nullptr, nullptr, nullptr);
      }
    }
#endif
    Dl_info info{};
    if (name == nullptr && dladdr(reinterpret_cast<void*>(pc), &info) != 0 && info.dli_sname != nullptr) {
      name = info.dli_sname;
      sym_start = reinterpret_cast<uintptr_t>(info.dli_saddr);
    }
    char* dem = name != nullptr ? demangle(name) : nullptr;
    if (name != nullptr) {
      if (file != nullptr)
        snprintf(line, sizeof line, "%s\n\t%s:%d +0x%lx\n", dem != nullptr ? dem : name, file, lineno,
                 static_cast<unsigned long>(pc - sym_start));
      else
        snprintf(line, sizeof line, "%s\n\t?? +0x%lx\n", dem != nullptr ? dem : name,
                 static_cast<unsigned long>(pc - sym_start));
    } else {
      if (info.dli_fname == nullptr) dladdr(reinterpret_cast<void*>(pc), &info);
      snprintf(line, sizeof line, "??\n\t%s pc=%p\n", info.dli_fname != nullptr ? info.dli_fname : "?",
               reinterpret_cast<void*>(pc));
    }
    free(dem);
    emit(fd, line);
  }
#if defined(GORO_HAVE_LIBDW)
  if (dwfl != nullptr) dwfl_end(dwfl);
#endif
}

void print_stack(int fd, int skip) {
  void* pcs[64];
  int n = backtrace(pcs, 64);
  if (skip + 1 > n) skip = n > 0 ? n - 1 : 0;
  print_frames(fd, pcs + skip + 1, n - skip - 1);  // +1: print_stack itself
}

}  // namespace goro::detail
