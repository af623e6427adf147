// src/diag/goro-gdb.py, goro's gdb commands, against a live process and a
// kernel core dump of tests/gdb/child.cpp: `info goroutines` lists each
// goroutine with its state in Go's words, and `goroutine N bt` unwinds a
// parked goroutine's own frames (a live process: through the selected
// thread's registers, put back after; a core file: through the script's
// unwinder).
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

extern char** environ;

namespace {

bool contains(const std::string& s, const std::string& what) { return s.find(what) != std::string::npos; }

// The lines of `out` from the one starting with `from` up to the next one
// starting with `until` (or the end).
std::string section(const std::string& out, const std::string& from, const std::string& until) {
  size_t a = out.find(from);
  if (a == std::string::npos) return "";
  size_t b = out.find(until, a + from.size());
  return out.substr(a, b == std::string::npos ? std::string::npos : b - a);
}

// Runs a shell command, returning its stdout and stderr.
std::string run_capture(const std::string& cmd) {
  std::string out;
  FILE* f = popen((cmd + " 2>&1").c_str(), "r");
  if (f == nullptr) return "popen failed";
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, f)) > 0) out.append(buf, n);
  pclose(f);
  return out;
}

std::string gdb_path() {
  std::string p = run_capture("command -v gdb");
  while (!p.empty() && (p.back() == '\n' || p.back() == ' ')) p.pop_back();
  return p.empty() || p[0] != '/' ? "" : p;
}

// Our commands (-ex arguments): the list, then each parked goroutine's
// frames, between markers.
std::string gdb_commands(uint64_t receiver, uint64_t locker) {
  std::ostringstream c;
  c << "-ex 'echo ==info\\n' -ex 'info goroutines'"
    << " -ex 'echo ==receiver\\n' -ex 'goroutine " << receiver << " bt'"
    << " -ex 'echo ==locker\\n' -ex 'goroutine " << locker << " bt'"
    << " -ex 'echo ==end\\n'";
  return c.str();
}

void expect_goroutines_shown(const std::string& out, uint64_t receiver, uint64_t locker) {
  std::string info = section(out, "==info", "==receiver");
  EXPECT_TRUE(contains(info, "goroutine " + std::to_string(receiver) +
                                " [chan receive] labels: {\"role\":\"receiver\"} created by goroutine 1 at "))
      << out;
  EXPECT_TRUE(contains(info, "goroutine " + std::to_string(locker) + " [sync.Mutex.Lock] created by goroutine 1 at "))
      << out;
  EXPECT_TRUE(contains(info, "goroutine 1 [running] created by goro::run at ")) << out;
  std::string rbt = section(out, "==receiver", "==locker");
  EXPECT_TRUE(contains(rbt, "gdb_child_blocked_receiving")) << out;
  EXPECT_TRUE(contains(rbt, "goro_fiber_start")) << out;  // unwound to the goroutine's first frame
  std::string lbt = section(out, "==locker", "==end");
  EXPECT_TRUE(contains(lbt, "gdb_child_blocked_locking")) << out;
  EXPECT_TRUE(contains(lbt, "goro_fiber_start")) << out;
  EXPECT_FALSE(contains(out, "Python Exception")) << out;
  EXPECT_FALSE(contains(out, "Error occurred in Python")) << out;
}

struct child {
  pid_t pid = -1;
  int stdin_w = -1;
  uint64_t receiver = 0, locker = 0;
};

// Starts tests/gdb/child.cpp in `dir`, with core dumps allowed when
// `core`, and reads its "ready" line.
child start_child(const std::string& dir, bool core) {
  child c;
  int in[2], out[2];
  if (pipe2(in, O_CLOEXEC) != 0 || pipe2(out, O_CLOEXEC) != 0) {
    ADD_FAILURE() << "pipe2: " << strerror(errno);
    return c;
  }
  // The child inherits this process's limit: raised for the spawn only.
  rlimit before{};
  getrlimit(RLIMIT_CORE, &before);
  if (core) {
    rlimit unlimited{RLIM_INFINITY, RLIM_INFINITY};
    if (setrlimit(RLIMIT_CORE, &unlimited) != 0) {
      rlimit lim{};
      getrlimit(RLIMIT_CORE, &lim);
      unlimited.rlim_cur = lim.rlim_max;  // as much as allowed
      setrlimit(RLIMIT_CORE, &unlimited);
    }
  }
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, in[0], 0);
  posix_spawn_file_actions_adddup2(&fa, out[1], 1);
  posix_spawn_file_actions_addchdir_np(&fa, dir.c_str());
  std::string path = GORO_GDB_CHILD;
  char* argv[] = {path.data(), nullptr};
  int rc = posix_spawn(&c.pid, path.c_str(), &fa, nullptr, argv, environ);
  posix_spawn_file_actions_destroy(&fa);
  setrlimit(RLIMIT_CORE, &before);
  close(in[0]);
  close(out[1]);
  if (rc != 0) {
    ADD_FAILURE() << "posix_spawn " << path << ": " << strerror(rc);
    close(in[1]);
    close(out[0]);
    c.pid = -1;
    return c;
  }
  c.stdin_w = in[1];
  std::string line;
  char ch;
  while (read(out[0], &ch, 1) == 1 && ch != '\n') line += ch;
  close(out[0]);
  int pid = 0;
  unsigned long long r = 0, l = 0;
  if (sscanf(line.c_str(), "ready %d %llu %llu", &pid, &r, &l) != 3) ADD_FAILURE() << "child said: " << line;
  c.receiver = r;
  c.locker = l;
  return c;
}

int reap(pid_t pid) {
  int st = 0;
  while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {
  }
  return st;
}

std::string make_temp_dir() {
  char tmpl[] = "/tmp/goro-gdb-test-XXXXXX";
  const char* d = mkdtemp(tmpl);
  return d != nullptr ? d : "/tmp";
}

// Every test: x86-64 (the script reads its switch frame) and gdb (gdb_).
class GdbScript : public ::testing::Test {
 protected:
  void SetUp() override {
#if !defined(__x86_64__)
    GTEST_SKIP() << "goro-gdb.py reads x86-64's switch frame";
#endif
    gdb = gdb_path();
    if (gdb.empty()) GTEST_SKIP() << "gdb not installed (scripts/deps.sh installs it)";
  }
  std::string gdb;
};

// Starts the child, runs gdb attached to it with the -ex arguments that
// `commands` gives for it, then lets the child go on (gdb has detached:
// it runs with the registers it had, and a command that left them changed
// crashes it) and reaps it. False, cleaned up, when this machine does not
// let gdb attach.
struct live_run {
  child c;
  std::string out;
  int status = 0;
};

bool run_gdb_on_live_child(const std::string& gdb, std::string (*commands)(const child&), live_run* r) {
  std::string dir = make_temp_dir();
  r->c = start_child(dir, false);
  if (r->c.pid <= 0) return false;
  r->out = run_capture("timeout 120 " + gdb + " -q -batch -nx -ex 'source " + GORO_GDB_SCRIPT + "' " +
                       commands(r->c) + " -p " + std::to_string(r->c.pid));
  close(r->c.stdin_w);
  r->status = reap(r->c.pid);
  rmdir(dir.c_str());
  return !contains(r->out, "ptrace: Operation not permitted");
}

TEST_F(GdbScript, LiveProcessShowsGoroutinesAndTheirFrames) {
  live_run r;
  if (!run_gdb_on_live_child(gdb, [](const child& c) { return gdb_commands(c.receiver, c.locker); }, &r)) {
    ASSERT_GT(r.c.pid, 0);
    GTEST_SKIP() << "this machine does not let us attach: " << r.out;
  }
  expect_goroutines_shown(r.out, r.c.receiver, r.c.locker);
  EXPECT_TRUE(WIFEXITED(r.status) && WEXITSTATUS(r.status) == 0) << "child status " << r.status << "\n" << r.out;
}

// `goroutine N CMD` with an outer frame selected, and with a CMD that
// selects one (the script's own `goroutine 7 frame 3`): the registers are
// written with frame #0 selected and put back, so the process lives on.
// Before the fix they were written into the outer frame's saved slots on
// the stack and the process died of SIGSEGV after detach.
std::string outer_frame_commands(const child& c) {
  std::ostringstream cmd;
  cmd << "-ex 'frame 2'"
      << " -ex 'echo ==receiver\\n' -ex 'goroutine " << c.receiver << " bt'"
      << " -ex 'echo ==frame\\n' -ex 'goroutine " << c.locker << " frame 3'"
      << " -ex 'echo ==selected\\n' -ex 'frame'"
      << " -ex 'echo ==end\\n'";
  return cmd.str();
}

TEST_F(GdbScript, LiveProcessSurvivesGoroutineCommandsFromAnOuterFrame) {
  live_run r;
  if (!run_gdb_on_live_child(gdb, outer_frame_commands, &r)) {
    ASSERT_GT(r.c.pid, 0);
    GTEST_SKIP() << "this machine does not let us attach: " << r.out;
  }
  const std::string& out = r.out;
  std::string rbt = section(out, "==receiver", "==frame");
  EXPECT_TRUE(contains(rbt, "gdb_child_blocked_receiving")) << out;
  EXPECT_FALSE(contains(rbt, " in ?? ()")) << "frames unwound from registers written into frame #2\n" << out;
  EXPECT_TRUE(contains(section(out, "==selected", "==end"), "#2 ")) << "the user's frame is selected again\n" << out;
  EXPECT_FALSE(contains(out, "Python Exception")) << out;
  EXPECT_FALSE(contains(out, "could not restore")) << out;
  EXPECT_TRUE(WIFEXITED(r.status) && WEXITSTATUS(r.status) == 0) << "child status " << r.status << "\n" << out;
}

TEST_F(GdbScript, CoreFileShowsGoroutinesAndTheirFrames) {
#if defined(GORO_ASAN) || defined(GORO_TSAN)
  GTEST_SKIP() << "a sanitizer's process leaves no usable core file (ASan turns them off; TSan's shadow is TBs)";
#endif
  std::string pattern;
  std::getline(std::ifstream("/proc/sys/kernel/core_pattern"), pattern);
  if (pattern.empty() || pattern[0] == '|' || pattern.find('/') != std::string::npos)
    GTEST_SKIP() << "core files do not go to the process's directory here (core_pattern '" << pattern << "')";
  std::string dir = make_temp_dir();
  child c = start_child(dir, true);
  ASSERT_GT(c.pid, 0);
  kill(c.pid, SIGABRT);
  int st = reap(c.pid);
  close(c.stdin_w);
  ASSERT_TRUE(WIFSIGNALED(st)) << st;
  if (!WCOREDUMP(st)) GTEST_SKIP() << "the kernel wrote no core file (RLIMIT_CORE?)";
  // core_pattern names it: "core", or with %p "core.PID", and so on.
  std::string core = run_capture("ls -1 " + dir + " | head -n 1");
  while (!core.empty() && core.back() == '\n') core.pop_back();
  ASSERT_FALSE(core.empty()) << "no core file in " << dir;
  std::string path = dir + "/" + core;
  std::string out = run_capture("timeout 120 " + gdb + " -q -batch -nx -ex 'source " + GORO_GDB_SCRIPT + "' " +
                                gdb_commands(c.receiver, c.locker) + " " + GORO_GDB_CHILD + " " + path);
  expect_goroutines_shown(out, c.receiver, c.locker);
  // The core file's frames come through the unwinder, after the thread's own #0.
  EXPECT_TRUE(contains(out, "(a core file: frame #0 is the selected thread's own")) << out;
  unlink(path.c_str());
  rmdir(dir.c_str());
}

}  // namespace
