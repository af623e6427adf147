// Crash behaviour, tested from outside: each test runs one scenario of
// goro_crash_scenarios (scenarios.cpp) as a subprocess, waits for it under a
// watchdog, and checks its exit status and its stderr against what Go does
// in the same situation (deadlock report, unrecovered panic, stack
// overflow, and under ThreadSanitizer a planted data race). Go's runtime
// tests its fatal paths the same way (runtime/crash_test.go).
//
// In sanitizer builds a sanitizer may add its own lines; the Go-style text
// must still be there, each report line at the start of a line.
#include <elf.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <cctype>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

extern char** environ;

namespace {

using clock_type = std::chrono::steady_clock;

constexpr bool kSanitized =
#if defined(GORO_ASAN) || defined(GORO_TSAN)
    true;
#else
    false;
#endif

// A scenario runs in well under a second on an idle machine, but under
// TSan beside two busy loops the race scenarios (TSan's report) and the
// deadlock reports (symbolizing every stack) took over 8 s, the old
// watchdog. Only a hang comes near this; it is what a hung scenario costs.
// A test runs at most three scenarios: ctest's timeout for these tests
// (tests/crash/CMakeLists.txt) must stay above three watchdogs.
constexpr auto kWatchdog = std::chrono::seconds(30);

struct outcome {
  std::string scenario;
  bool exited = false;  // exited normally (else: killed by a signal)
  int status = -1;      // exit status, or the signal number
  bool timed_out = false;
  double ms = 0;
  std::string out;  // stdout: the scenario's progress markers
  std::string err;  // stderr: the report

  bool exited_with(int code) const { return !timed_out && exited && status == code; }

  std::string describe() const {
    std::string s = "scenario '" + scenario + "': ";
    if (timed_out)
      s += "HUNG, killed after the watchdog";
    else if (exited)
      s += "exit status " + std::to_string(status);
    else
      s += std::string("killed by signal ") + strsignal(status);
    s += " after " + std::to_string(static_cast<int>(ms)) + " ms";
    s += "\n--- stdout ---\n" + out + "--- stderr ---\n" + err + "--------------";
    return s;
  }
};

// Runs `goro_crash_scenarios <name>`, collecting stdout and stderr until
// both close, then reaps it. Kills it (SIGKILL) if it outlives kWatchdog.
// `env` ("NAME=value") is added to this process's environment, replacing
// any variable of the same name.
outcome run_scenario(const std::string& name, const std::vector<std::string>& env = {}) {
  outcome r;
  r.scenario = name;
  int out_pipe[2], err_pipe[2];
  if (pipe2(out_pipe, O_CLOEXEC) != 0 || pipe2(err_pipe, O_CLOEXEC) != 0) {
    ADD_FAILURE() << "pipe2: " << strerror(errno);
    return r;
  }
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, out_pipe[1], 1);
  posix_spawn_file_actions_adddup2(&fa, err_pipe[1], 2);
  std::string path = GORO_CRASH_SCENARIOS;
  std::vector<char*> argv{path.data(), const_cast<char*>(name.c_str()), nullptr};
  pid_t pid = -1;
  auto t0 = clock_type::now();
  std::vector<std::string> env_strings(env);
  for (char** e = environ; *e != nullptr; e++) {
    std::string var(*e);
    bool replaced = false;
    for (const std::string& mine : env)
      if (var.compare(0, mine.find('=') + 1, mine, 0, mine.find('=') + 1) == 0) replaced = true;
    if (!replaced) env_strings.push_back(var);
  }
  std::vector<char*> envp;
  for (std::string& e : env_strings) envp.push_back(e.data());
  envp.push_back(nullptr);
  int rc = posix_spawn(&pid, path.c_str(), &fa, nullptr, argv.data(), envp.data());
  posix_spawn_file_actions_destroy(&fa);
  close(out_pipe[1]);
  close(err_pipe[1]);
  if (rc != 0) {
    close(out_pipe[0]);
    close(err_pipe[0]);
    ADD_FAILURE() << "posix_spawn " << path << ": " << strerror(rc);
    return r;
  }

  pollfd fds[2] = {{out_pipe[0], POLLIN, 0}, {err_pipe[0], POLLIN, 0}};
  std::string* sinks[2] = {&r.out, &r.err};
  int open_fds = 2;
  auto deadline = t0 + kWatchdog;
  while (open_fds > 0) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - clock_type::now()).count();
    if (left <= 0) {
      r.timed_out = true;
      break;
    }
    int n = poll(fds, 2, static_cast<int>(left));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) break;
    for (int i = 0; i < 2; i++) {
      if (fds[i].fd < 0 || fds[i].revents == 0) continue;
      char buf[4096];
      ssize_t got = read(fds[i].fd, buf, sizeof buf);
      if (got > 0) {
        sinks[i]->append(buf, static_cast<size_t>(got));
      } else if (got == 0 || errno != EINTR) {
        close(fds[i].fd);
        fds[i].fd = -1;
        open_fds--;
      }
    }
  }
  if (r.timed_out) kill(pid, SIGKILL);
  for (auto& f : fds)
    if (f.fd >= 0) close(f.fd);
  int wst = 0;
  while (waitpid(pid, &wst, 0) < 0 && errno == EINTR) {
  }
  r.ms = std::chrono::duration<double, std::milli>(clock_type::now() - t0).count();
  if (WIFEXITED(wst)) {
    r.exited = true;
    r.status = WEXITSTATUS(wst);
  } else if (WIFSIGNALED(wst)) {
    r.status = WTERMSIG(wst);
  }
  return r;
}

bool contains(const std::string& s, const std::string& what) { return s.find(what) != std::string::npos; }

// `line` occurs at the start of a line of s.
bool has_line_starting(const std::string& s, const std::string& line) {
  return s.rfind(line, 0) == 0 || contains(s, "\n" + line);
}

// The report must open stderr; sanitizer builds may print their own lines
// first, but the report must still start a line.
bool report_opens(const std::string& err, const std::string& head) {
  return kSanitized ? has_line_starting(err, head) : err.rfind(head, 0) == 0;
}

std::vector<std::string> lines_of(const std::string& s) {
  std::vector<std::string> lines;
  size_t at = 0;
  while (at < s.size()) {
    size_t nl = s.find('\n', at);
    if (nl == std::string::npos) nl = s.size();
    lines.push_back(s.substr(at, nl - at));
    at = nl + 1;
  }
  return lines;
}

bool starts_with(const std::string& s, const std::string& head) { return s.rfind(head, 0) == 0; }

bool scenarios_have_line_info();

// Some line of s is `indent` + `head` + "<path>/scenarios.cpp:<line> in ...":
// Go's "created by" line, naming where the goroutine was started. The site
// is symbolized from a return address, so a build without line tables
// (release) can only name the function: "?? in <function>+0x...".
bool created_in_scenarios(const std::string& s, const std::string& head, const std::string& indent = "") {
  for (const std::string& line : lines_of(s)) {
    if (!starts_with(line, indent + head)) continue;
    size_t at = line.find("scenarios.cpp:");
    if (at != std::string::npos && at + 14 < line.size() && std::isdigit(static_cast<unsigned char>(line[at + 14])))
      return true;
    if (!scenarios_have_line_info() && starts_with(line.substr(indent.size() + head.size()), "?? in ") &&
        line.size() > indent.size() + head.size() + 6)
      return true;
  }
  return false;
}

// The dump entry that opens with `head` ("goroutine 7 ["), up to its
// blank line; empty if none does.
std::string dump_entry(const std::string& err, const std::string& head) {
  size_t at = err.find("\n" + head);
  if (at == std::string::npos) return "";
  size_t end = err.find("\n\n", at + 1);
  return err.substr(at + 1, end == std::string::npos ? std::string::npos : end - at - 1);
}

// The id a scenario printed in its marker "<prefix> N".
std::string marker_id(const std::string& out, const std::string& prefix) {
  size_t at = out.find(prefix + " ");
  if (at == std::string::npos) return "?";
  at += prefix.size() + 1;
  size_t end = at;
  while (end < out.size() && std::isdigit(static_cast<unsigned char>(out[end]))) end++;
  return end > at ? out.substr(at, end - at) : "?";
}

int count(const std::string& s, const std::string& what) {
  int n = 0;
  for (size_t at = s.find(what); at != std::string::npos; at = s.find(what, at + 1)) n++;
  return n;
}

// Whether the ELF file at `path` has a section named `name`. A file that
// cannot be read as ELF64 counts as having it, so that a parse failure
// keeps the strict checks rather than skipping them.
bool elf_has_section(const std::string& path, const std::string& name) {
  std::ifstream f(path, std::ios::binary);
  Elf64_Ehdr eh{};
  if (!f.read(reinterpret_cast<char*>(&eh), sizeof eh) || std::memcmp(eh.e_ident, ELFMAG, SELFMAG) != 0 ||
      eh.e_ident[EI_CLASS] != ELFCLASS64 || eh.e_shentsize != sizeof(Elf64_Shdr))
    return true;
  auto section = [&](size_t i, Elf64_Shdr* sh) {
    return static_cast<bool>(f.seekg(static_cast<std::streamoff>(eh.e_shoff + i * sizeof *sh)) &&
                             f.read(reinterpret_cast<char*>(sh), sizeof *sh));
  };
  // Past 0xff00 sections the count and the name table's index live in
  // section 0 (the ELF spec's extended numbering).
  Elf64_Shdr first{};
  if (eh.e_shoff == 0 || !section(0, &first)) return true;
  size_t count = eh.e_shnum != 0 ? eh.e_shnum : first.sh_size;
  size_t names_at = eh.e_shstrndx != SHN_XINDEX ? eh.e_shstrndx : first.sh_link;
  Elf64_Shdr names_sh{};
  if (names_at >= count || !section(names_at, &names_sh)) return true;
  std::string names(names_sh.sh_size, '\0');
  if (!f.seekg(static_cast<std::streamoff>(names_sh.sh_offset)) || !f.read(names.data(), static_cast<std::streamsize>(names.size())))
    return true;
  for (size_t i = 0; i < count; i++) {
    Elf64_Shdr sh{};
    if (!section(i, &sh)) return true;
    if (sh.sh_name < names.size() && names.c_str() + sh.sh_name == name) return true;
  }
  return false;
}

// Whether the scenarios were built with DWARF line tables (-g: the
// default, debug and sanitizer presets). Without them (the release preset,
// or a build with -g0) a report can name each frame's function, from the
// symbol table, but not its file and line.
bool scenarios_have_line_info() { return elf_has_section(GORO_CRASH_SCENARIOS, ".debug_line"); }

const char kDeadlock[] = "fatal error: all goroutines are asleep - deadlock!";

// ---- deadlock ----------------------------------------------------------------

TEST(Deadlock, MainAndGoroutineBlockedOnWaitGroups) {
  outcome r = run_scenario("deadlock");
  ASSERT_TRUE(r.exited_with(2)) << r.describe();
  EXPECT_TRUE(report_opens(r.err, kDeadlock)) << r.describe();
  // Go lists every goroutine with its wait reason: main (1) and the second.
  EXPECT_TRUE(has_line_starting(r.err, "goroutine 1 [sync.WaitGroup.Wait]:")) << r.describe();
  std::string second = marker_id(r.out, "second goroutine");
  EXPECT_TRUE(has_line_starting(r.err, "goroutine " + second + " [sync.WaitGroup.Wait]:")) << r.describe();
  EXPECT_EQ(count(r.err, "[sync.WaitGroup.Wait]"), 2) << r.describe();
  EXPECT_TRUE(contains(r.err, "created by goro::run at ")) << r.describe();
  EXPECT_TRUE(created_in_scenarios(r.err, "created by goroutine 1 at ", "\t")) << r.describe();
  EXPECT_FALSE(contains(r.out, "unreachable")) << r.describe();
}

// Every spelling of go records its own call site (a return address,
// symbolized for the report): each goroutine's "created by" line names the
// line of its go call, printed by the scenario; also a go call in tail
// position, which must not be recorded as its caller's line.
TEST(Deadlock, ReportNamesTheLineOfEachGoCall) {
  outcome r = run_scenario("deadlock_sites");
  ASSERT_TRUE(r.exited_with(2)) << r.describe();
  EXPECT_TRUE(report_opens(r.err, kDeadlock)) << r.describe();
  if (!scenarios_have_line_info()) GTEST_SKIP() << "no line tables in this build";
  std::vector<std::string> sites;
  for (const std::string& line : lines_of(r.out)) {
    if (starts_with(line, "site ")) sites.push_back(line);
    if (starts_with(line, "wg_site ")) sites.push_back(line);
  }
  ASSERT_EQ(sites.size(), 5u) << r.describe();
  for (const std::string& s : sites) {
    std::string line_no = s.substr(s.rfind(' ') + 1);
    EXPECT_TRUE(contains(r.err, "created by goroutine 1 at ") &&
                contains(r.err, "scenarios.cpp:" + line_no + " in "))
        << s << "\n" << r.describe();
    if (starts_with(s, "site ")) {
      // The goroutine's own section ends with its created-by line.
      std::string id = s.substr(5, s.find(' ', 5) - 5);
      size_t at = r.err.find("goroutine " + id + " [");
      ASSERT_NE(at, std::string::npos) << r.describe();
      size_t created = r.err.find("created by", at);
      ASSERT_NE(created, std::string::npos) << r.describe();
      std::string created_line = r.err.substr(created, r.err.find('\n', created) - created);
      EXPECT_TRUE(contains(created_line, "scenarios.cpp:" + line_no + " in ")) << created_line << "\n" << r.describe();
    }
  }
}

// Go's report gives every goroutine's stack. goro unwinds each parked
// goroutine's stack from the registers its last switch saved: the function
// it blocked in must be named between its header and its "created by"
// line, for main and for the other goroutine.
TEST(Deadlock, ReportShowsWhereEachGoroutineBlocked) {
  outcome r = run_scenario("deadlock_stacks");
  ASSERT_TRUE(r.exited_with(2)) << r.describe();
  EXPECT_TRUE(report_opens(r.err, kDeadlock)) << r.describe();
  auto section = [&](const std::string& header) {
    size_t at = r.err.find(header);
    if (at == std::string::npos) return std::string();
    size_t end = r.err.find("created by", at);
    return r.err.substr(at, end == std::string::npos ? std::string::npos : end - at);
  };
  std::string main_section = section("goroutine 1 [sync.WaitGroup.Wait]:");
  EXPECT_NE(main_section.find("goro_scenario_main_waits"), std::string::npos) << r.describe();
  EXPECT_NE(main_section.find("goro::wait_group::wait()"), std::string::npos) << r.describe();
  std::string id = marker_id(r.out, "receiver");
  std::string recv_section = section("goroutine " + id + " [chan receive]:");
  EXPECT_NE(recv_section.find("goro_scenario_blocked_receiving"), std::string::npos) << r.describe();
  // With file and line, in the clang build too (whose compile units are
  // not in .debug_aranges: symbolize.cpp walks the units); a build without
  // debug info has no lines to give.
  if (scenarios_have_line_info()) {
    EXPECT_NE(recv_section.find("scenarios.cpp:"), std::string::npos) << r.describe();
  }
}

// kill -QUIT, as Go: "SIGQUIT: quit", every goroutine with its stack and
// creation site, exit status 2.
TEST(Sigquit, DumpsEveryGoroutineAndExitsWithStatus2) {
  outcome r = run_scenario("sigquit", {"GORO_TRACEBACK=all"});
  ASSERT_TRUE(r.exited_with(2)) << r.describe();
  EXPECT_TRUE(starts_with(r.err, "SIGQUIT: quit\n\n")) << r.describe();
  EXPECT_TRUE(contains(r.out, "quitting")) << r.describe();
  size_t main_at = r.err.find("goroutine 1 [");
  ASSERT_NE(main_at, std::string::npos) << r.describe();
  std::string id = marker_id(r.out, "receiver");
  std::string header = "goroutine " + id + " [chan receive]:\n";
  size_t at = r.err.find(header);
  ASSERT_NE(at, std::string::npos) << r.describe();
  std::string section = r.err.substr(at, r.err.find("created by", at) - at);
  EXPECT_NE(section.find("goro_scenario_blocked_receiving"), std::string::npos) << r.describe();
  EXPECT_TRUE(created_in_scenarios(r.err, "created by goroutine 1 at ", "\t")) << r.describe();
  EXPECT_TRUE(created_in_scenarios(r.err, "created by goro::run at ", "\t")) << r.describe();
}

// GORO_TRACEBACK=single: the main goroutine only; none: no goroutines.
TEST(Sigquit, TracebackSingleShowsMainOnlyAndNoneShowsNoGoroutine) {
  outcome single = run_scenario("sigquit", {"GORO_TRACEBACK=single"});
  ASSERT_TRUE(single.exited_with(2)) << single.describe();
  EXPECT_TRUE(starts_with(single.err, "SIGQUIT: quit\n")) << single.describe();
  EXPECT_TRUE(contains(single.err, "goroutine 1 [")) << single.describe();
  EXPECT_TRUE(created_in_scenarios(single.err, "created by goro::run at ", "\t")) << single.describe();
  EXPECT_FALSE(contains(single.err, "[chan receive]")) << single.describe();
  EXPECT_EQ(count(single.err, "goroutine "), 1) << single.describe();

  outcome none = run_scenario("sigquit", {"GORO_TRACEBACK=none"});
  ASSERT_TRUE(none.exited_with(2)) << none.describe();
  EXPECT_TRUE(starts_with(none.err, "SIGQUIT: quit\n")) << none.describe();
  EXPECT_FALSE(contains(none.err, "goroutine ")) << none.describe();
}

// The reading of the scenarios binary above agrees with the build's flags
// where they tell (-g in the default and debug presets, none in release),
// so that a misreading can neither drop the file:line check nor demand it.
TEST(Deadlock, LineInfoFoundWhereTheBuildHasIt) {
  if (GORO_CRASH_EXPECT_LINE_INFO < 0) GTEST_SKIP() << "the build's flags do not tell whether -g is on";
  EXPECT_EQ(scenarios_have_line_info(), GORO_CRASH_EXPECT_LINE_INFO == 1) << GORO_CRASH_SCENARIOS;
}

// Dropped after() channels cancel their timers: once every goroutine is
// blocked, the report comes at once, not when the 1-hour timers would fire.
TEST(Deadlock, ReportedWhenDroppedAfterChannelsLeaveNoTimer) {
  outcome r = run_scenario("deadlock_after_dropped_timers");
  ASSERT_TRUE(r.exited_with(2)) << r.describe();
  EXPECT_TRUE(report_opens(r.err, kDeadlock)) << r.describe();
  EXPECT_TRUE(contains(r.out, "looped")) << r.describe();
  EXPECT_TRUE(has_line_starting(r.err, "goroutine 1 [sync.WaitGroup.Wait]:")) << r.describe();
}

// Stopped timers still held by a goroutine leave no pending timer either
// (a lock-free Stop's zombie entries are dropped before the check).
TEST(Deadlock, ReportedWhenStoppedTimersAreStillHeld) {
  outcome r = run_scenario("deadlock_after_stopped_timers");
  ASSERT_TRUE(r.exited_with(2)) << r.describe();
  EXPECT_TRUE(report_opens(r.err, kDeadlock)) << r.describe();
  EXPECT_TRUE(contains(r.out, "stopped")) << r.describe();
  EXPECT_FALSE(contains(r.out, "not all stopped")) << r.describe();
}

// Held timers, a ticker and an after() channel that nobody receives from
// wake nobody: the deadlock is reported (Go 1.23). Before, the ticker kept
// the detector quiet for ever (the harness's timeout ended it).
TEST(Deadlock, ReportedBesideUnreadTimersAndTickers) {
  outcome r = run_scenario("deadlock_beside_unread_timers");
  ASSERT_FALSE(r.timed_out) << r.describe();
  ASSERT_TRUE(r.exited_with(2)) << r.describe();
  EXPECT_TRUE(report_opens(r.err, kDeadlock)) << r.describe();
  EXPECT_TRUE(contains(r.out, "timers pending")) << r.describe();
  EXPECT_TRUE(has_line_starting(r.err, "goroutine 1 [sync.WaitGroup.Wait]:")) << r.describe();
}

// A plain thread stops the live timer after the check has looked: the
// deadlock is reported (the check kept its old timer walk's verdict, and the
// report waited for the stopped function's hour: the watchdog here).
TEST(Deadlock, ReportedAfterAThreadStopsTheLastLiveTimer) {
  outcome r = run_scenario("deadlock_after_a_thread_stops_the_live_timer");
  ASSERT_FALSE(r.timed_out) << r.describe();
  ASSERT_TRUE(r.exited_with(2)) << r.describe();
  EXPECT_TRUE(report_opens(r.err, kDeadlock)) << r.describe();
  EXPECT_TRUE(contains(r.out, "after_func stopped")) << r.describe();
  EXPECT_TRUE(has_line_starting(r.err, "goroutine 1 [chan receive]:")) << r.describe();
}

// ...but a channel timer with a receiver (a select's after() case, a
// receive from the ticker's channel) will wake it: no report.
TEST(Deadlock, NotReportedWhileSomeoneWaitsOnATimersChannel) {
  outcome r = run_scenario("no_deadlock_select_on_after");
  ASSERT_TRUE(r.exited_with(0)) << r.describe();
  EXPECT_TRUE(contains(r.out, "after fired")) << r.describe();
  EXPECT_TRUE(contains(r.out, "ticked")) << r.describe();
  EXPECT_FALSE(contains(r.err, kDeadlock)) << r.describe();
}

// The signal relay, cancelling a context it took, may still wake its
// waiter after a signal_reset dropped every registration.
TEST(Deadlock, NotReportedWhileASignalDispatchRuns) {
  outcome r = run_scenario("no_deadlock_while_a_signal_dispatch_runs");
  ASSERT_TRUE(r.exited_with(0)) << r.describe();
  EXPECT_TRUE(contains(r.out, "cancelled")) << r.describe();
  EXPECT_FALSE(contains(r.err, kDeadlock)) << r.describe();
}

TEST(Deadlock, NotReportedWhileATimerIsPendingThenReported) {
  outcome r = run_scenario("deadlock_after_sleep");
  ASSERT_TRUE(r.exited_with(2)) << r.describe();
  EXPECT_TRUE(report_opens(r.err, kDeadlock)) << r.describe();
  // The sleeper must have woken before the report: fired while its timer was
  // pending, the detector would have printed it as [sleep].
  EXPECT_TRUE(contains(r.out, "slept")) << r.describe();
  EXPECT_FALSE(contains(r.err, "[sleep]")) << r.describe();
  EXPECT_EQ(count(r.err, "[sync.WaitGroup.Wait]"), 2) << r.describe();
  EXPECT_GE(r.ms, 50) << r.describe();
}

TEST(Deadlock, NotReportedWhileAPlainThreadCanStillRelease) {
  outcome r = run_scenario("no_deadlock_thread");
  ASSERT_TRUE(r.exited_with(0)) << r.describe();
  EXPECT_FALSE(contains(r.err, kDeadlock)) << r.describe();
  EXPECT_TRUE(contains(r.out, "thread releasing\nmain released\n")) << r.describe();
  EXPECT_GE(r.ms, 200) << r.describe();
}

TEST(Deadlock, PlainThreadParkedInGoroCannotHelp) {
  outcome r = run_scenario("deadlock_thread_parked");
  ASSERT_TRUE(r.exited_with(2)) << r.describe();
  EXPECT_TRUE(report_opens(r.err, kDeadlock)) << r.describe();
  EXPECT_TRUE(has_line_starting(r.err, "goroutine 1 [sync.WaitGroup.Wait]:")) << r.describe();
}

TEST(Deadlock, PlainThreadParkingLastRunsTheCheck) {
  outcome r = run_scenario("deadlock_thread_parks_last");
  ASSERT_TRUE(r.exited_with(2)) << r.describe();
  EXPECT_TRUE(contains(r.out, "thread parking")) << r.describe();
  EXPECT_TRUE(report_opens(r.err, kDeadlock)) << r.describe();
  EXPECT_TRUE(has_line_starting(r.err, "goroutine 1 [sync.WaitGroup.Wait]:")) << r.describe();
}

// Threads declared with goro::ignore_thread_in_deadlock_check (one about
// itself, asleep in sleep_for; one by its id, blocked in read()) do not
// keep the report away, as undeclared ones would.
TEST(Deadlock, DeclaredThreadsDoNotHideTheDeadlock) {
  outcome r = run_scenario("deadlock_ignored_threads");
  ASSERT_TRUE(r.exited_with(2)) << r.describe();
  EXPECT_TRUE(report_opens(r.err, kDeadlock)) << r.describe();
  EXPECT_TRUE(contains(r.out, "declared reader: true, unknown thread: false\n")) << r.describe();
  EXPECT_TRUE(has_line_starting(r.err, "goroutine 1 [sync.WaitGroup.Wait]:")) << r.describe();
  EXPECT_FALSE(contains(r.out, "unreachable")) << r.describe();
}

// An undeclared plain thread blocked outside goro keeps the check from
// concluding; after the grace period the warning names it (id and name) and
// says how to declare it, and the process goes on (the scenario's thread
// releases main once it has read the warning).
TEST(Deadlock, UndeclaredThreadIsNamedAfterTheGracePeriod) {
  outcome r = run_scenario("grace_warning_names_thread", {"GORO_DEADLOCK_GRACE_MS=200"});
  ASSERT_TRUE(r.exited_with(0)) << r.describe();
  EXPECT_FALSE(contains(r.err, kDeadlock)) << r.describe();
  EXPECT_TRUE(has_line_starting(r.err, "goro: all goroutines have been asleep for ")) << r.describe();
  std::string tid = marker_id(r.out, "reader thread");
  EXPECT_TRUE(contains(r.err, "\tthread " + tid + " (stderr-reader)\n")) << r.describe();
  EXPECT_TRUE(contains(r.err, "goro::ignore_thread_in_deadlock_check()")) << r.describe();
  EXPECT_EQ(count(r.err, "all goroutines have been asleep"), 1) << r.describe();
  EXPECT_TRUE(contains(r.out, "main released\n")) << r.describe();
}

// ---- panic -------------------------------------------------------------------

// Go: "runtime: program exceeds 10000-thread limit" / "fatal error: thread
// exhaustion", the goroutine dump, exit status 2.
// Go's thread-limit report for a limit of `limit` threads, exit status 2.
void expect_thread_limit_report(const outcome& r, int limit) {
  ASSERT_TRUE(r.exited_with(2)) << r.describe();
  EXPECT_TRUE(report_opens(r.err, "runtime: program exceeds " + std::to_string(limit) + "-thread limit"))
      << r.describe();
  EXPECT_TRUE(has_line_starting(r.err, "fatal error: thread exhaustion")) << r.describe();
}

TEST(Threads, ExhaustionIsAFatalReport) {
  outcome r = run_scenario("thread_exhaustion");
  expect_thread_limit_report(r, 16);
  EXPECT_TRUE(contains(r.out, "blocking")) << r.describe();
}

// A limit set below the threads the program has is the same report at
// once (Go's setMaxThreads checks the count).
TEST(Threads, LimitLoweredBelowTheThreadsThereAreIsAFatalReport) {
  outcome r = run_scenario("thread_limit_lowered");
  expect_thread_limit_report(r, 3);
  EXPECT_FALSE(contains(r.out, "still running")) << r.describe();
}

// A fatal error raised where the runtime holds the lock of its list of
// every goroutine (growing it for a new slab) still prints its report
// with the goroutine dump, then aborts. The dump used to wait for that
// lock, which the failing thread held while it waited for the dump: a
// hang, killed by the watchdog here.
TEST(Fatal, ReportedWithTheGoroutineListLocked) {
  outcome r = run_scenario("fatal_under_g_list_lock");
  ASSERT_FALSE(r.timed_out) << r.describe();
  EXPECT_TRUE(!r.exited && r.status == SIGABRT) << r.describe();
  EXPECT_TRUE(has_line_starting(r.err, "fatal error: test: fatal with the lock of the g list held")) << r.describe();
  EXPECT_TRUE(contains(r.err, "[chan receive")) << r.describe();
}

TEST(Panic, EscapedExceptionIsGoPanicReport) {
  outcome r = run_scenario("panic");
  ASSERT_TRUE(r.exited_with(2)) << r.describe();
  EXPECT_TRUE(report_opens(r.err, "panic: boom\n")) << r.describe();
  std::string id = marker_id(r.out, "panicking goroutine");
  EXPECT_TRUE(has_line_starting(r.err, "goroutine " + id + " [running]:")) << r.describe();
  EXPECT_TRUE(created_in_scenarios(r.err, "created by goroutine 1 at ")) << r.describe();
  EXPECT_FALSE(contains(r.err, kDeadlock)) << r.describe();
}

// The message is printed whole (it was cut at 1,023 bytes).
TEST(Panic, LongMessageIsPrintedWhole) {
  outcome r = run_scenario("panic_long_message");
  ASSERT_TRUE(r.exited_with(2)) << r.describe();
  EXPECT_TRUE(report_opens(r.err, "panic: " + std::string(3000, 'x') + "END\n")) << r.describe();
}

// Goroutines that panic at once give one report (Go's paniclk), not
// several written into each other (a review, 2026-12-07: 14 of 15 runs
// printed four "panic:" lines, their frames mixed).
TEST(Panic, PanicsAtOnceGiveOneReport) {
  outcome r = run_scenario("panics_at_once");
  ASSERT_TRUE(r.exited_with(2)) << r.describe();
  EXPECT_TRUE(report_opens(r.err, "panic: boom\n")) << r.describe();
  size_t n = 0;
  for (size_t at = r.err.find("panic: boom"); at != std::string::npos; at = r.err.find("panic: boom", at + 1)) n++;
  EXPECT_EQ(n, 1u) << r.describe();
  size_t heads = 0;
  for (size_t at = r.err.find("[running]:"); at != std::string::npos; at = r.err.find("[running]:", at + 1)) heads++;
  EXPECT_EQ(heads, 1u) << r.describe();
}

// main returns (run() ends) while another goroutine's panic is being
// reported: the panic still ends the process, with status 2 and its whole
// report (found by a review, 2026-12-06: status 0, the report cut short).
TEST(Panic, MainReturningDuringAPanicWaitsForItsReport) {
  outcome r = run_scenario("main_returns_during_a_panic");
  ASSERT_TRUE(r.exited_with(2)) << r.describe();
  EXPECT_TRUE(report_opens(r.err, "panic: boom\n")) << r.describe();
  std::string id = marker_id(r.out, "panicking goroutine");
  EXPECT_TRUE(has_line_starting(r.err, "goroutine " + id + " [running]:")) << r.describe();
  EXPECT_FALSE(contains(r.out, "run returned")) << r.describe();
}

// GORO_TRACEBACK, as Go's GOTRACEBACK: none leaves the message alone; all
// adds every other goroutine (main, parked on its wait group).
TEST(Panic, TracebackNoneAndAll) {
  outcome none = run_scenario("panic", {"GORO_TRACEBACK=none"});
  ASSERT_TRUE(none.exited_with(2)) << none.describe();
  EXPECT_TRUE(report_opens(none.err, "panic: boom\n")) << none.describe();
  EXPECT_FALSE(contains(none.err, "goroutine ")) << none.describe();

  outcome all = run_scenario("panic", {"GORO_TRACEBACK=all"});
  ASSERT_TRUE(all.exited_with(2)) << all.describe();
  EXPECT_TRUE(report_opens(all.err, "panic: boom\n")) << all.describe();
  std::string id = marker_id(all.out, "panicking goroutine");
  EXPECT_TRUE(has_line_starting(all.err, "goroutine " + id + " [running]:")) << all.describe();
  EXPECT_EQ(count(all.err, "goroutine " + id + " ["), 1) << all.describe();
  size_t main_at = all.err.find("goroutine 1 [sync.WaitGroup.Wait]:");
  ASSERT_NE(main_at, std::string::npos) << all.describe();
  EXPECT_NE(all.err.find("created by goro::run at ", main_at), std::string::npos) << all.describe();
}

// The stack is the throw site's (nothing was unwound), and Go names every
// frame: the throwing function must be in it by name, in an ordinary
// executable (no -rdynamic) built with the project's flags (-O2, where GCC
// moves a throw into a local "[clone .cold]" symbol).
TEST(Panic, StackNamesTheThrowingFunction) {
  outcome r = run_scenario("panic");
  ASSERT_TRUE(r.exited_with(2)) << r.describe();
  std::string id = marker_id(r.out, "panicking goroutine");
  size_t stack = r.err.find("goroutine " + id + " [running]:");
  ASSERT_NE(stack, std::string::npos) << r.describe();
  EXPECT_NE(r.err.find("goro_scenario_throw_boom", stack), std::string::npos) << r.describe();
}

TEST(Panic, ReportedFromASmallStack) {
  outcome r = run_scenario("panic_small_stack");
  ASSERT_TRUE(r.exited_with(2)) << r.describe();
  EXPECT_TRUE(report_opens(r.err, "panic: boom\n")) << r.describe();
  EXPECT_FALSE(contains(r.err, "stack overflow")) << r.describe();
  EXPECT_NE(r.err.find("goro_scenario_throw_boom"), std::string::npos) << r.describe();
  EXPECT_TRUE(created_in_scenarios(r.err, "created by goroutine 1 at ")) << r.describe();
}

TEST(Panic, MisuseNegativeWaitGroupCounter) {
  outcome r = run_scenario("panic_misuse");
  ASSERT_TRUE(r.exited_with(2)) << r.describe();
  EXPECT_TRUE(report_opens(r.err, "panic: sync: negative WaitGroup counter\n")) << r.describe();
  std::string id = marker_id(r.out, "panicking goroutine");
  EXPECT_TRUE(has_line_starting(r.err, "goroutine " + id + " [running]:")) << r.describe();
  EXPECT_TRUE(created_in_scenarios(r.err, "created by goroutine 1 at ")) << r.describe();
}

// ---- sync misuse and mutex deadlock ------------------------------------------

// The goroutine that made the mistake is shown with its stack, from the
// unlock down (the dump runs on a report thread, which used to list it as
// running elsewhere, its stack unread).
void expect_callers_stack(const outcome& r, const std::string& id, const std::string& innermost) {
  std::string entry = dump_entry(r.err, "goroutine " + id + " [running]:");
  EXPECT_FALSE(entry.empty()) << r.describe();
  EXPECT_FALSE(contains(entry, "its stack cannot be read")) << r.describe();
  EXPECT_TRUE(contains(entry, innermost)) << r.describe();
}

// Go makes these fatal errors, not panics: the message, the goroutine
// dump, exit status 2.
TEST(SyncMisuse, UnlockOfUnlockedMutexIsFatal) {
  outcome r = run_scenario("unlock_unlocked_mutex");
  ASSERT_TRUE(r.exited_with(2)) << r.describe();
  EXPECT_TRUE(report_opens(r.err, "fatal error: sync: unlock of unlocked mutex\n")) << r.describe();
  std::string id = marker_id(r.out, "unlocking goroutine");
  EXPECT_TRUE(has_line_starting(r.err, "goroutine " + id + " [")) << r.describe();
  expect_callers_stack(r, id, "goro::mutex::unlock");
  EXPECT_FALSE(contains(r.out, "unreachable")) << r.describe();
}

// A mutex biased to its goroutine (src/sync/mutex_bias.cpp) holds and
// releases with plain stores: the extra unlock is still fatal, and a
// relock by the holder is still a deadlock, reported as one.
TEST(SyncMisuse, UnlockOfUnlockedBiasedMutexIsFatal) {
  outcome r = run_scenario("unlock_unlocked_biased_mutex");
  ASSERT_TRUE(r.exited_with(2)) << r.describe();
  EXPECT_TRUE(report_opens(r.err, "fatal error: sync: unlock of unlocked mutex\n")) << r.describe();
  std::string id = marker_id(r.out, "unlocking goroutine");
  EXPECT_TRUE(has_line_starting(r.err, "goroutine " + id + " [")) << r.describe();
  EXPECT_FALSE(contains(r.out, "unreachable")) << r.describe();
}

// In starvation mode the locked bit stays set while an unlock hands the
// mutex to a waiter: an unlock in that window is still an unlock of an
// unlocked mutex.
TEST(SyncMisuse, UnlockOfAMutexBeingHandedOverIsFatal) {
  // detachoff: the waiter must not run on another worker if this one is
  // descheduled for long on a busy machine (sysmon would hand its work on).
  outcome r = run_scenario("unlock_mutex_being_handed_over", {"GORO_DEBUG=detachoff=1"});
  ASSERT_TRUE(r.exited_with(2)) << r.describe();
  EXPECT_TRUE(report_opens(r.err, "fatal error: sync: unlock of unlocked mutex\n")) << r.describe();
  std::string id = marker_id(r.out, "unlocking goroutine");
  EXPECT_TRUE(has_line_starting(r.err, "goroutine " + id + " [")) << r.describe();
  EXPECT_FALSE(contains(r.out, "unreachable")) << r.describe();
}

TEST(Deadlock, GoroutineRelockingItsBiasedMutex) {
  outcome r = run_scenario("deadlock_biased_mutex_relock", {"GORO_DEBUG=lockorder=0"});
  ASSERT_TRUE(r.exited_with(2)) << r.describe();
  EXPECT_TRUE(report_opens(r.err, kDeadlock)) << r.describe();
  std::string id = marker_id(r.out, "relocking goroutine");
  EXPECT_TRUE(has_line_starting(r.err, "goroutine " + id + " [sync.Mutex.Lock]:")) << r.describe();
  EXPECT_FALSE(contains(r.out, "unreachable")) << r.describe();
}

TEST(SyncMisuse, UnlockOfUnlockedMutexFromAPlainThreadIsFatal) {
  outcome r = run_scenario("unlock_unlocked_mutex_thread");
  ASSERT_TRUE(r.exited_with(2)) << r.describe();
  EXPECT_TRUE(report_opens(r.err, "fatal error: sync: unlock of unlocked mutex\n")) << r.describe();
  EXPECT_FALSE(contains(r.out, "unreachable")) << r.describe();
}

TEST(SyncMisuse, UnlockOfUnlockedRWMutexIsFatal) {
  outcome r = run_scenario("unlock_unlocked_rwmutex");
  ASSERT_TRUE(r.exited_with(2)) << r.describe();
  EXPECT_TRUE(report_opens(r.err, "fatal error: sync: Unlock of unlocked RWMutex\n")) << r.describe();
  EXPECT_FALSE(contains(r.out, "unreachable")) << r.describe();
}

TEST(SyncMisuse, RUnlockOfUnlockedRWMutexIsFatal) {
  outcome r = run_scenario("runlock_unlocked_rwmutex");
  ASSERT_TRUE(r.exited_with(2)) << r.describe();
  EXPECT_TRUE(report_opens(r.err, "fatal error: sync: RUnlock of unlocked RWMutex\n")) << r.describe();
  expect_callers_stack(r, "1", "goro::rwmutex::unlock_shared");
  EXPECT_FALSE(contains(r.out, "unreachable")) << r.describe();
}

// Two goroutines lock two mutexes in opposite orders: the deadlock report
// lists both as [sync.Mutex.Lock], and main as waiting for them.
TEST(Deadlock, MutexesTakenInOppositeOrders) {
  // The lock-order check (on by default in debug builds) would report the
  // inversion first: LockOrder.ReportComesBeforeTheDeadlock has that.
  outcome r = run_scenario("deadlock_mutex_order", {"GORO_DEBUG=lockorder=0"});
  ASSERT_TRUE(r.exited_with(2)) << r.describe();
  EXPECT_TRUE(report_opens(r.err, kDeadlock)) << r.describe();
  std::string ab = marker_id(r.out, "ab");
  std::string ba = marker_id(r.out, "ba");
  EXPECT_TRUE(has_line_starting(r.err, "goroutine " + ab + " [sync.Mutex.Lock]:")) << r.describe();
  EXPECT_TRUE(has_line_starting(r.err, "goroutine " + ba + " [sync.Mutex.Lock]:")) << r.describe();
  EXPECT_EQ(count(r.err, "[sync.Mutex.Lock]"), 2) << r.describe();
  EXPECT_TRUE(has_line_starting(r.err, "goroutine 1 [sync.WaitGroup.Wait]:")) << r.describe();
  EXPECT_FALSE(contains(r.out, "unreachable")) << r.describe();
}

// ---- lock order ----------------------------------------------------------------

const char kInversionWarning[] = "WARNING: lock order inversion (potential deadlock)";
const char kInversionFatal[] = "fatal error: lock order inversion (potential deadlock)";

// The report names both inner acquisitions: the current one (goroutine
// "ba", taking a while holding b) and the earlier one that recorded the
// opposite order (goroutine "ab", taking b while holding a), each with its
// scenarios.cpp line when the build has line tables.
void expect_inversion_report(const outcome& r, const std::string& head) {
  EXPECT_TRUE(report_opens(r.err, head)) << r.describe();
  EXPECT_EQ(count(r.err, head), 1) << r.describe();
  size_t cur = r.err.find(" acquires mutex ");
  size_t earlier = r.err.find("earlier, goroutine ");
  ASSERT_NE(cur, std::string::npos) << r.describe();
  ASSERT_NE(earlier, std::string::npos) << r.describe();
  EXPECT_LT(cur, earlier) << r.describe();
  EXPECT_TRUE(contains(r.err, " acquired mutex ")) << r.describe();
  if (!scenarios_have_line_info()) return;
  std::string cur_stack = r.err.substr(cur, earlier - cur);
  std::string earlier_stack = r.err.substr(earlier);
  EXPECT_TRUE(contains(cur_stack, "scenarios.cpp:" + marker_id(r.out, "site ba") + " ")) << r.describe();
  EXPECT_TRUE(contains(earlier_stack, "scenarios.cpp:" + marker_id(r.out, "site ab") + " ")) << r.describe();
}

TEST(LockOrder, InversionIsReportedAndTheProgramGoesOn) {
  outcome r = run_scenario("lock_order_inversion", {"GORO_DEBUG=lockorder=1"});
  ASSERT_TRUE(r.exited_with(0)) << r.describe();
  expect_inversion_report(r, kInversionWarning);
  EXPECT_TRUE(contains(r.out, "ba inner returned")) << r.describe();
  EXPECT_TRUE(contains(r.out, "done")) << r.describe();
}

// lockorder=2: the report, then exit status 2, before the inverted lock
// returns.
TEST(LockOrder, FatalModeExitsBeforeTheLockReturns) {
  outcome r = run_scenario("lock_order_inversion", {"GORO_DEBUG=lockorder=2"});
  ASSERT_TRUE(r.exited_with(2)) << r.describe();
  expect_inversion_report(r, kInversionFatal);
  EXPECT_FALSE(contains(r.out, "ba inner returned")) << r.describe();
}

TEST(LockOrder, OffByEnvironment) {
  outcome r = run_scenario("lock_order_inversion", {"GORO_DEBUG=lockorder=0"});
  ASSERT_TRUE(r.exited_with(0)) << r.describe();
  EXPECT_FALSE(contains(r.err, "lock order")) << r.describe();
}

TEST(LockOrder, RwmutexInversionIsReported) {
  outcome r = run_scenario("lock_order_rwmutex", {"GORO_DEBUG=lockorder=1"});
  ASSERT_TRUE(r.exited_with(0)) << r.describe();
  EXPECT_TRUE(report_opens(r.err, kInversionWarning)) << r.describe();
  EXPECT_TRUE(contains(r.err, " acquires rwmutex ")) << r.describe();
  EXPECT_TRUE(contains(r.err, " acquired mutex ")) << r.describe();
}

// A goroutine parking while its thread holds a std::mutex: debug builds
// count pthread locks per thread (src/sched/thread_locks.cpp); other
// builds have no way to see the lock, and must stay quiet.
TEST(LockOrder, ThreadLockHeldAcrossParkIsReportedInDebugBuilds) {
  outcome r = run_scenario("thread_lock_across_park", {"GORO_DEBUG=lockorder=1"});
  ASSERT_TRUE(r.exited_with(0)) << r.describe();
  EXPECT_TRUE(contains(r.out, "fine so far")) << r.describe();
  EXPECT_TRUE(contains(r.out, "done")) << r.describe();
  if (!GORO_CRASH_EXPECT_THREAD_LOCK_CHECK) {
    EXPECT_FALSE(contains(r.err, "thread-owned lock")) << r.describe();
    GTEST_SKIP() << "pthread locks are counted only in debug builds without sanitizers";
  }
  const std::string head = "WARNING: goroutine 1 parks [sleep] while its thread holds 1 thread-owned lock\n";
  EXPECT_TRUE(report_opens(r.err, head)) << r.describe();
  EXPECT_EQ(count(r.err, "thread-owned lock"), 1) << r.describe();
  if (scenarios_have_line_info()) {
    EXPECT_TRUE(contains(r.err, "scenarios.cpp:" + marker_id(r.out, "site park") + " ")) << r.describe();
  }
}

// A yield made by the monitor's preemption is checked too: the report
// names the goroutine that holds the lock as it yields.
TEST(LockOrder, ThreadLockHeldAcrossAPreemptionIsReportedInDebugBuilds) {
  outcome r = run_scenario("thread_lock_across_preempt", {"GORO_DEBUG=lockorder=1"});
  ASSERT_TRUE(r.exited_with(0)) << r.describe();
  EXPECT_TRUE(contains(r.out, "done")) << r.describe();
  if (!GORO_CRASH_EXPECT_THREAD_LOCK_CHECK) {
    EXPECT_FALSE(contains(r.err, "thread-owned lock")) << r.describe();
    GTEST_SKIP() << "pthread locks are counted only in debug builds without sanitizers";
  }
  EXPECT_TRUE(report_opens(r.err, "WARNING: goroutine 1 yields while its thread holds 1 thread-owned lock\n"))
      << r.describe();
  EXPECT_EQ(count(r.err, "thread-owned lock"), 1) << r.describe();
}

// The same in fatal mode: exit status 2 at the park.
TEST(LockOrder, ThreadLockHeldAcrossParkIsFatalInFatalMode) {
  if (!GORO_CRASH_EXPECT_THREAD_LOCK_CHECK) GTEST_SKIP() << "debug builds without sanitizers only";
  outcome r = run_scenario("thread_lock_across_park", {"GORO_DEBUG=lockorder=2"});
  ASSERT_TRUE(r.exited_with(2)) << r.describe();
  EXPECT_TRUE(report_opens(r.err, "fatal error: goroutine 1 parks [sleep] while its thread holds 1 thread-owned lock"))
      << r.describe();
  EXPECT_FALSE(contains(r.out, "done")) << r.describe();
}

// Two goroutines really deadlock on opposite orders: the inversion is
// reported when the second one takes its inner lock, before it waits, so
// before the deadlock report.
TEST(LockOrder, ReportComesBeforeTheDeadlock) {
  outcome r = run_scenario("deadlock_mutex_order", {"GORO_DEBUG=lockorder=1"});
  ASSERT_TRUE(r.exited_with(2)) << r.describe();
  EXPECT_TRUE(report_opens(r.err, kInversionWarning)) << r.describe();
  size_t deadlock = r.err.find(kDeadlock);
  ASSERT_NE(deadlock, std::string::npos) << r.describe();
  EXPECT_LT(r.err.find(kInversionWarning), deadlock) << r.describe();
  EXPECT_EQ(count(r.err, "[sync.Mutex.Lock]"), 2) << r.describe();
}

// ---- GORO_TRACE ----------------------------------------------------------------

// Reads the file at `path` into *text and removes it; false if it cannot
// be opened.
bool read_and_remove(const std::string& path, std::string* text) {
  std::FILE* f = std::fopen(path.c_str(), "r");
  if (f == nullptr) return false;
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) text->append(buf, n);
  std::fclose(f);
  std::remove(path.c_str());
  return true;
}

// GORO_TRACE=path traces the whole run and writes the file at exit.
TEST(TraceEnv, WritesTheTraceAtExit) {
  std::string path = std::string(::testing::TempDir()) + "goro_trace_env." + std::to_string(::getpid()) + ".json";
  std::remove(path.c_str());
  outcome r = run_scenario("trace_at_exit", {"GORO_TRACE=" + path});
  ASSERT_TRUE(r.exited_with(0)) << r.describe();
  std::string text;
  ASSERT_TRUE(read_and_remove(path, &text)) << "no trace at " << path;
  EXPECT_TRUE(starts_with(text, "{\"displayTimeUnit\":\"ns\",\"traceEvents\":[")) << text.substr(0, 200);
  EXPECT_TRUE(text.size() >= 3 && text.compare(text.size() - 3, 3, "]}\n") == 0) << "not closed";
  EXPECT_GE(count(text, "\"ph\":\"B\""), 2) << "the main goroutine and the sender ran";
  EXPECT_EQ(count(text, "\"ph\":\"B\""), count(text, "\"ph\":\"E\""));
  EXPECT_TRUE(contains(text, "\"stop\":\"chan send\"") || contains(text, "\"stop\":\"chan receive\""));
}

// A forked child that calls exit() does not write the parent's
// GORO_TRACE file: the child shares the file's offset, so its copy of the
// trace came first and the parent's followed (two documents in one file).
// Under ASan a forked child's exit() runs LeakSanitizer, which finds the
// memory of the threads fork() left behind (their thread_local destructor
// lists) unreachable and fails the child: not these tests' concern, so
// leak checks are off in their scenarios.
std::string asan_options_without_leak_check() {
  const char* asan = std::getenv("ASAN_OPTIONS");
  return std::string("ASAN_OPTIONS=") + (asan != nullptr ? std::string(asan) + ":" : "") + "detect_leaks=0";
}

TEST(TraceEnv, ForkedChildCallingExitLeavesTheTraceToTheParent) {
  std::string path = std::string(::testing::TempDir()) + "goro_trace_fork." + std::to_string(::getpid()) + ".json";
  std::remove(path.c_str());
  outcome r = run_scenario("trace_fork_child_exit", {"GORO_TRACE=" + path, asan_options_without_leak_check()});
  ASSERT_TRUE(r.exited_with(0)) << r.describe();
  EXPECT_TRUE(contains(r.out, "child exited 0")) << r.describe();
  std::string text;
  ASSERT_TRUE(read_and_remove(path, &text)) << "no trace at " << path;
  EXPECT_EQ(count(text, "{\"displayTimeUnit\""), 1) << text.substr(0, 300);
  EXPECT_TRUE(text.size() >= 3 && text.compare(text.size() - 3, 3, "]}\n") == 0) << "not closed";
}

// A forked child's exit() does not wait for the trace's buffer registry,
// whose lock a thread that fork() left behind may have held: the child
// forks while a plain thread registers its buffer (stopped inside the lock
// by a seam). It hung (the scenario's watchdog killed it after 4 s).
TEST(TraceEnv, ForkedChildExitsWhileAnotherThreadRegistersATraceBuffer) {
  std::string path =
      std::string(::testing::TempDir()) + "goro_trace_fork_reg." + std::to_string(::getpid()) + ".json";
  std::remove(path.c_str());
  outcome r = run_scenario("fork_while_a_trace_buffer_registers",
                           {"GORO_TRACE=" + path, asan_options_without_leak_check()});
  EXPECT_TRUE(r.exited_with(0)) << r.describe();
  EXPECT_TRUE(contains(r.out, "child exited 0\n")) << r.describe();
  std::remove(path.c_str());
}

// goro::debug::goroutine_ids() before the runtime started: none, and the
// runtime stays unstarted (it started it, with the monitor and scavenger
// threads, before).
TEST(Observe, GoroutineIdsBeforeStartStartNothing) {
  outcome r = run_scenario("ids_before_start");
  EXPECT_TRUE(r.exited_with(0)) << r.describe();
  // The thread count must not change; its absolute value does (TSan runs
  // a background thread of its own: 2 -> 2 there).
  int before = -1, after = -2;
  EXPECT_EQ(std::sscanf(r.out.c_str(), "ids 0, threads %d -> %d", &before, &after), 2) << r.describe();
  EXPECT_EQ(before, after) << r.describe();
}

// The tracer's state outlives static destruction: the runtime's threads
// are never joined, so a trace may run (and a worker register its buffer)
// after every static destructor. Before the registry was made immortal,
// ASan saw a use after free here and TSan the destructor's race.
TEST(TraceEnv, TracingAfterStaticDestructorsIsSafe) {
  std::string path = std::string(::testing::TempDir()) + "goro_trace_late." + std::to_string(::getpid()) + ".json";
  std::remove(path.c_str());
  outcome r = run_scenario("trace_after_exit", {"GORO_TRACE_AFTER_EXIT=" + path});
  ASSERT_TRUE(r.exited_with(0)) << r.describe();
  EXPECT_TRUE(contains(r.out, "traced after static destructors")) << r.describe();
  EXPECT_EQ(r.err, "") << r.describe();
  std::string text;
  ASSERT_TRUE(read_and_remove(path, &text)) << "no trace at " << path;
  EXPECT_TRUE(text.size() >= 3 && text.compare(text.size() - 3, 3, "]}\n") == 0) << "not closed";
  EXPECT_GE(count(text, "\"ph\":\"B\""), 8) << "the eight goroutines ran";
}

TEST(Panic, InMainGoroutine) {
  outcome r = run_scenario("panic_main");
  ASSERT_TRUE(r.exited_with(2)) << r.describe();
  EXPECT_TRUE(report_opens(r.err, "panic: boom\n")) << r.describe();
  EXPECT_TRUE(has_line_starting(r.err, "goroutine 1 [running]:")) << r.describe();
  EXPECT_TRUE(created_in_scenarios(r.err, "created by goro::run at ")) << r.describe();
}

// ---- stack overflow ----------------------------------------------------------

// `creator` is how the report must name who started the goroutine; with
// `site_by_address` the report had no stack to symbolize on and gives the
// creation site as a bare pc.
void expect_overflow_report(const outcome& r, const std::string& creator = "created by goroutine 1 at ",
                            bool site_by_address = false) {
  ASSERT_TRUE(r.exited_with(2)) << r.describe();
  std::string id = marker_id(r.out, "overflowing goroutine");
  EXPECT_TRUE(has_line_starting(r.err, "goroutine " + id + ": stack overflow")) << r.describe();
  if (site_by_address)
    EXPECT_TRUE(has_line_starting(r.err, creator + "pc 0x")) << r.describe();
  else
    EXPECT_TRUE(created_in_scenarios(r.err, creator)) << r.describe();
  EXPECT_FALSE(contains(r.out, "unreachable")) << r.describe();
  // No other crash output: not a panic, not a deadlock, not the kernel's or
  // a sanitizer's SEGV report (a sanitizer may add lines, not replace ours).
  EXPECT_FALSE(contains(r.err, "panic:")) << r.describe();
  EXPECT_FALSE(contains(r.err, kDeadlock)) << r.describe();
  if (!kSanitized) {
    EXPECT_TRUE(report_opens(r.err, "fatal error: stack overflow\n")) << r.describe();
    // Every line is part of the report: the heading, the goroutine line,
    // where it was created, and the hint.
    std::vector<std::string> lines = lines_of(r.err);
    bool shape = (lines.size() == 4 || lines.size() == 5) && lines[0] == "fatal error: stack overflow" &&
                 lines[1].empty() && starts_with(lines[2], "goroutine " + id + ": stack overflow") &&
                 starts_with(lines[3], "created by ") &&
                 (lines.size() == 4 || starts_with(lines[4], "(raise the goroutine's stack"));
    EXPECT_TRUE(shape) << r.describe();
  }
}

// Not a crash: the control for SmallStack. go_with's own stack must work
// before its overflow can be reported.

TEST(StackOverflow, CustomStackGoroutineRuns) {
  outcome r = run_scenario("custom_stack_runs");
  EXPECT_TRUE(r.exited_with(0)) << r.describe();
  EXPECT_TRUE(contains(r.out, "ran on a custom stack in goroutine ")) << r.describe();
}

TEST(StackOverflow, SmallStack) {
  expect_overflow_report(run_scenario("stack_overflow_small"));
}

TEST(StackOverflow, DefaultStack) {
  expect_overflow_report(run_scenario("stack_overflow_default"));
}

// Goroutines that no goroutine started: the report names their creator as
// the dump does. (Without a stack for the report, the handler's fallback
// said "created by goroutine 0" for them.)
TEST(StackOverflow, InAGoroutineAPlainThreadStarted) {
  expect_overflow_report(run_scenario("stack_overflow_started_by_a_thread"), "created by a plain thread at ");
}

TEST(StackOverflow, ReportedAfterTheProgramsOwnHandlerTookAFault) {
  outcome r = run_scenario("stack_overflow_after_a_fault_the_programs_handler_took");
  EXPECT_TRUE(contains(r.out, "the program's handler took its fault")) << r.describe();
  expect_overflow_report(r);
}

// A fault goro does not own, with a program's SA_RESETHAND handler before
// goro's: the handler runs once and the process ends by SIGSEGV, as
// without goro (it looped, the handler called again and again).
TEST(FaultForwarding, AOneShotHandlerRunsOnceAndTheFaultEndsTheProcess) {
  outcome r = run_scenario("foreign_fault_with_a_one_shot_handler");
  EXPECT_TRUE(!r.timed_out && !r.exited && r.status == SIGSEGV) << r.describe();
  EXPECT_TRUE(contains(r.out, "the one-shot handler ran")) << r.describe();
  EXPECT_FALSE(contains(r.out, "unreachable")) << r.describe();
}

TEST(StackOverflow, InAnAfterFuncGoroutine) {
  expect_overflow_report(run_scenario("stack_overflow_started_by_after_func"), "created by goro::after_func at ");
}

TEST(StackOverflow, InAGoroutineAPlainThreadStartedWhenNoReportStackCanBeMapped) {
#if defined(GORO_TSAN)
  GTEST_SKIP() << "TSan's runtime maps memory of its own on the way to the handler and dies when it cannot";
#endif
  outcome r = run_scenario("stack_overflow_started_by_a_thread_no_report_stack");
  EXPECT_FALSE(contains(r.out, "setrlimit failed")) << r.describe();
  expect_overflow_report(r, "created by a plain thread at ", true);
}

// On a stack that free_os_memory gave back, released together with its
// neighbours (the guard page between them inside the range).
TEST(StackOverflow, ReleasedStack) {
  expect_overflow_report(run_scenario("stack_overflow_released"));
}

// Guards made with mprotect (a kernel without MADV_GUARD_INSTALL, made so
// by a seccomp filter): a stack of its own gives its guard's maps back
// when it goes, so after more such goroutines than the budget covers, a
// pooled stack's overflow is still caught.
// Both start some 17,000 goroutines: under TSan, where each is a TSan
// fiber costing milliseconds to make, that would take minutes; the guard
// code is the same in every build.
#if defined(GORO_TSAN)
constexpr bool kThousandsOfGoroutinesAreSlow = true;
#else
constexpr bool kThousandsOfGoroutinesAreSlow = false;
#endif

TEST(StackOverflow, CaughtAfterManyGoroutinesWithStacksOfTheirOwnOnMprotectGuards) {
  if (kThousandsOfGoroutinesAreSlow) GTEST_SKIP() << "17,000 goroutines take minutes under TSan";
  outcome r = run_scenario("stack_overflow_after_dedicated_churn");
  ASSERT_TRUE(contains(r.out, "goroutines with stacks of their own")) << r.describe();
  EXPECT_FALSE(contains(r.err, "stack guard pages unavailable")) << r.describe();
  expect_overflow_report(r);
}

// Each mprotect'ed guard costs two of the kernel's maps, and the guards
// together take no more than the quarter of them the budget allows.
TEST(StackGuards, MprotectGuardsKeepToAQuarterOfTheMaps) {
  if (kThousandsOfGoroutinesAreSlow) GTEST_SKIP() << "17,000 goroutines take minutes under TSan";
  outcome r = run_scenario("stack_guard_maps");
  ASSERT_TRUE(r.exited_with(0)) << r.describe();
  std::string maps = marker_id(r.out, "max_map_count");
  std::string added = marker_id(r.out, "parked goroutines:");
  ASSERT_TRUE(maps != "?" && added != "?") << r.describe();
  EXPECT_LE(std::stol(added), std::stol(maps) / 4 + 500) << r.describe();
  // The warning that the budget is spent (new stacks go unguarded).
  EXPECT_TRUE(contains(r.err, "stack guard pages unavailable")) << r.describe();
}

// ---- timers --------------------------------------------------------------------

// A timer's value that must wait for its receiver needs a sudog, made
// where the timer fires; when none can be had, the program ends with a
// fatal report naming it (time/gotimer.cpp, virtual_sender_locked).
TEST(Fatal, TimerValueWithoutMemoryForItsSudog) {
  outcome r = run_scenario("timer_sudog_out_of_memory");
  ASSERT_FALSE(r.timed_out) << r.describe();
  EXPECT_TRUE(contains(r.out, "timer armed")) << r.describe();
  EXPECT_TRUE(!r.exited && r.status == SIGABRT) << r.describe();
  EXPECT_TRUE(has_line_starting(r.err, "fatal error: time: out of memory queueing a timer's value")) << r.describe();
}

// ---- resources ----------------------------------------------------------------

// Free stacks in one P's cache, none mappable, goroutines starting on the
// other P: go() throws goro::resource_error when it cannot promise a stack
// the goroutine can reach; no goroutine dies at its first run.
TEST(Resources, GoroutineStartingWhereNoFreeStackIsWithinReach) {
  outcome r = run_scenario("stacks_in_another_ps_cache", {"GORO_STACK_SIZE=32m", "GORO_MAXPROCS=2"});
  ASSERT_FALSE(r.timed_out) << r.describe();
  EXPECT_TRUE(r.exited_with(0)) << r.describe();
  EXPECT_TRUE(contains(r.out, ", refused ")) << r.describe();
  EXPECT_FALSE(contains(r.out, ", refused 0")) << r.describe();  // the pool did run out
  EXPECT_TRUE(contains(r.out, "done")) << r.describe();
  EXPECT_FALSE(contains(r.err, "fatal error")) << r.describe();
}

// context_after_func on a done context, when go() cannot start f's
// goroutine: resource_error, and nothing kept (10,000 calls; the record
// alone is 48 bytes, so a leak grows the heap by 480,000 and more). The
// heap check reads 0 under the sanitizers (mallinfo2 does not see their
// heaps); there only the refusals are checked.
TEST(Resources, AfterFuncOnADoneContextWithoutAGoroutineKeepsNothing) {
  outcome r = run_scenario("after_func_without_a_goroutine", {"GORO_STACK_SIZE=32m", "GORO_MAXPROCS=2"});
  ASSERT_FALSE(r.timed_out) << r.describe();
  ASSERT_TRUE(r.exited_with(0)) << r.describe();
  EXPECT_TRUE(contains(r.out, "threw 10000 of 10000")) << r.describe();
  size_t at = r.out.find("heap grew ");
  ASSERT_NE(at, std::string::npos) << r.describe();
  long grew = std::stol(r.out.substr(at + 10));
  EXPECT_LT(grew, 100000) << r.describe();
}

// ---- exit ---------------------------------------------------------------------

// A namespace-scope pool is destroyed by exit() while goroutines still use
// it: it leaves its state to the OS then. Ten runs, since the crash it
// used to cause depended on timing (2 to 9 of 10 before the fix).
TEST(Exit, PoolAtNamespaceScopeInUseByGoroutinesAtExit) {
  for (int i = 0; i < 10; i++) {
    outcome r = run_scenario("pool_in_use_at_exit");
    ASSERT_TRUE(r.exited_with(0)) << "run " << i << "\n" << r.describe();
    EXPECT_TRUE(contains(r.out, "main returns")) << r.describe();
  }
}

// ---- data races --------------------------------------------------------------

#if defined(GORO_TSAN)

void expect_race_report(const outcome& r) {
  EXPECT_TRUE(r.exited_with(66)) << r.describe();
  EXPECT_TRUE(contains(r.err, "WARNING: ThreadSanitizer: data race")) << r.describe();
  // The race is on the counter, in the scenario's code.
  EXPECT_TRUE(contains(r.err, "scenarios.cpp:")) << r.describe();
  EXPECT_TRUE(contains(r.out, "counter=")) << r.describe();
}

// Go's -race reports this program every time, however the two goroutines
// happen to be scheduled; so must TSan here. TSan exits 66 when it
// reported anything. Three runs, because whether the goroutines overlap
// varies from run to run.
TEST(Race, PlantedRaceBetweenGoroutinesIsReported) {
  for (int i = 0; i < 3; i++) {
    SCOPED_TRACE("run " + std::to_string(i + 1) + " of 3");
    expect_race_report(run_scenario("race"));
  }
}

// The same race with the two goroutines run one after the other on one P:
// nothing in Go's memory model orders them, so it is still reported.
TEST(Race, NonOverlappingGoroutinesStillRace) { expect_race_report(run_scenario("race_sequential")); }

// A write before dropping a channel handle, a read after receiving that
// channel's close, nothing else between: reported (it was hidden when
// handle drops and closes were the same release to TSan).
TEST(Race, HandleDropDoesNotOrderAgainstCloseReceive) {
  expect_race_report(run_scenario("race_hidden_by_handle_drop"));
}

// A close wakes two receivers and does not order them with each other: a
// write by one before it parked and a read by the other after it woke are
// reported (they were not).
TEST(Race, ReceiversWokenByOneCloseAreNotOrderedWithEachOther) {
  expect_race_report(run_scenario("race_close_orders_no_waiter_after_another"));
}

// A sleeper woken by its timer is ordered after nothing: a write before
// one goroutine's sleep and a read after another's are reported in every
// one of the scenario's 40 rounds (65-82 of 100 were, when the timers
// readied sleepers with the scheduler stack's history).
TEST(Race, SleepersWokenByTimersAreNotOrderedWithEachOther) {
  outcome r = run_scenario("race_after_sleep", {"TSAN_OPTIONS=atexit_sleep_ms=0 halt_on_error=0 "
                                                "suppress_equal_stacks=0 suppress_equal_addresses=0"});
  expect_race_report(r);
  size_t reports = 0;
  for (size_t at = r.err.find("WARNING: ThreadSanitizer: data race"); at != std::string::npos;
       at = r.err.find("WARNING: ThreadSanitizer: data race", at + 1))
    reports++;
  EXPECT_EQ(reports, 40u) << r.describe();
}

// Two readers writing under the read lock race; the rwmutex's reader
// paths tell TSan nothing that orders readers with each other (as Go's
// race annotations).
TEST(Race, WritesUnderReadLockAreReported) { expect_race_report(run_scenario("race_rwmutex_readers")); }

// The edge from a worker's start (for its TLS: ErrnoReadOnAWorker...,
// below) must carry nothing of the goroutine that made the worker: a race
// between that goroutine and one that runs on the new worker is reported
// (it was not while the worker inherited its creator's history). Three
// runs, as above.
TEST(Race, RaceWithTheGoroutineThatStartedTheWorkerIsReported) {
  for (int i = 0; i < 3; i++) {
    SCOPED_TRACE("run " + std::to_string(i + 1) + " of 3");
    outcome r = run_scenario("race_across_a_new_worker");
    expect_race_report(r);
    EXPECT_TRUE(contains(r.out, "ran on a worker started after main's write\n")) << r.describe();
  }
}

#else

// Without TSan the race is a wrong count, not a crash.
TEST(Race, PlantedRaceRunsToCompletion) {
  for (const char* name :
       {"race", "race_sequential", "race_hidden_by_handle_drop", "race_rwmutex_readers", "race_across_a_new_worker",
        "race_close_orders_no_waiter_after_another"}) {
    outcome r = run_scenario(name);
    EXPECT_TRUE(r.exited_with(0)) << r.describe();
    EXPECT_TRUE(contains(r.out, "counter=")) << r.describe();
  }
}

#endif

// The controls: no report in any build, and the exact count.
TEST(Race, AtomicCounterIsClean) {
  outcome r = run_scenario("race_atomic");
  EXPECT_TRUE(r.exited_with(0)) << r.describe();
  EXPECT_FALSE(contains(r.err, "ThreadSanitizer")) << r.describe();
  EXPECT_TRUE(contains(r.out, "counter=200000\n")) << r.describe();
}

// Increments ordered by a contended goro::mutex (goroutines and a thread,
// lock, lock_guard, try_lock_for): no report, exact count. Three runs:
// with the slow path's TSan acquire removed, about one run in three
// reported a race (a spinner taking the mutex after a fast-path unlock).
TEST(Race, IncrementsUnderMutexAreClean) {
  for (int i = 0; i < 3; i++) {
    SCOPED_TRACE("run " + std::to_string(i + 1) + " of 3");
    outcome r = run_scenario("race_mutex_ordered");
    EXPECT_TRUE(r.exited_with(0)) << r.describe();
    EXPECT_FALSE(contains(r.err, "ThreadSanitizer")) << r.describe();
    EXPECT_TRUE(contains(r.out, "counter=80000\n")) << r.describe();
  }
}

// A goroutine's errno (a thread-local) read on a worker started after the
// goroutine's TSan fiber was made: no report (it was one, with the
// thread's creation; seen in a CI rehearsal in the HTTP client).
TEST(Race, ErrnoReadOnAWorkerStartedAfterTheGoroutineIsClean) {
  outcome r = run_scenario("errno_on_a_later_worker");
  EXPECT_TRUE(r.exited_with(0)) << r.describe();
  EXPECT_FALSE(contains(r.err, "ThreadSanitizer")) << r.describe();
  EXPECT_TRUE(contains(r.out, "read errno on a worker started after its first run\n")) << r.describe();
}

TEST(Race, IncrementsOrderedByWaitGroupAreClean) {
  outcome r = run_scenario("race_ordered");
  EXPECT_TRUE(r.exited_with(0)) << r.describe();
  EXPECT_FALSE(contains(r.err, "ThreadSanitizer")) << r.describe();
  EXPECT_TRUE(contains(r.out, "counter=200000\n")) << r.describe();
}

// ---- fork --------------------------------------------------------------------

const char kForkReport[] =
    "fatal error: goro: runtime used in a child process after fork(); only exec is supported after fork\n";

// A forked child that calls exit() runs its thread's thread_local
// destructors, which must not wait for a runtime lock that a thread fork()
// left behind held: the child's lock is held for good. Each scenario holds
// one in another thread (a seam) while a plain thread forks. Before those
// destructors learned to do nothing in a forked child, each child's exit()
// ended in the runtime's fatal fork report (its locks check for a forked
// child; exit status 2); the trace's std::mutex hung instead (TraceEnv).
TEST(Fork, ChildOfADeclaredThreadExitsWhileTheRegistryIsHeld) {
  outcome r = run_scenario("fork_while_the_thread_registry_is_held", {asan_options_without_leak_check()});
  EXPECT_TRUE(r.exited_with(0)) << r.describe();
  EXPECT_TRUE(contains(r.out, "child exited 0\n")) << r.describe();
}

// The pthread_atfork idiom with a goro::mutex: locked through its bias
// before fork() while another thread waits for it, unlocked in the child.
// The child's unlock found the parent's waiting revoker and woke it with
// the runtime (the fatal fork report, exit status 2).
TEST(Fork, ChildUnlocksABiasedMutexAnotherThreadWaitsFor) {
  outcome r = run_scenario("fork_child_unlocks_a_biased_mutex", {asan_options_without_leak_check()});
  EXPECT_TRUE(r.exited_with(0)) << r.describe();
  if (contains(r.out, "no bias")) GTEST_SKIP() << r.out;
  EXPECT_TRUE(contains(r.out, "child exited 0\n")) << r.describe();
}

// With the lock-order check on, a child's mutex lock and unlock (the
// pthread_atfork idiom) went through the parent's detector, whose
// spinlock another thread held at the fork: the child hung.
TEST(Fork, ChildLocksAMutexWhileTheLockOrderCheckIsHeld) {
  outcome r = run_scenario("fork_while_the_lock_order_check_is_held",
                           {"GORO_DEBUG=lockorder=1", asan_options_without_leak_check()});
  EXPECT_TRUE(r.exited_with(0)) << r.describe();
  EXPECT_TRUE(contains(r.out, "child exited 0\n")) << r.describe();
}

TEST(Fork, ChildOfAWaitingThreadExitsWhileTheWakerPoolIsHeld) {
  outcome r = run_scenario("fork_while_the_waker_pool_is_held", {asan_options_without_leak_check()});
  EXPECT_TRUE(r.exited_with(0)) << r.describe();
  EXPECT_TRUE(contains(r.out, "child exited 0\n")) << r.describe();
}

// Each scenario forks after the runtime started and calls into goro in the
// child; the parent waits for the child (killing it after 4 s: "child
// hung") and exits with its status. Without the fork check the child hangs
// (a blocked thread nobody will wake, a goroutine no worker will run) or
// carries on as if its goroutine had been started.
void expect_fork_report(const char* scenario) {
  outcome r = run_scenario(scenario);
  EXPECT_TRUE(r.exited_with(2)) << r.describe();
  EXPECT_TRUE(report_opens(r.err, kForkReport)) << r.describe();
  EXPECT_FALSE(contains(r.out, "child hung")) << r.describe();
  EXPECT_FALSE(contains(r.out, "child carried on")) << r.describe();
  // Not a goroutine dump: the goroutines are the parent's.
  EXPECT_FALSE(contains(r.err, "goroutine 1 [")) << r.describe();
}

TEST(Fork, GoInChildFails) { expect_fork_report("fork_child_go"); }
TEST(Fork, RunInChildFails) { expect_fork_report("fork_child_run"); }
TEST(Fork, BlockingReceiveInChildOfGoroutineFails) { expect_fork_report("fork_child_recv"); }
TEST(Fork, BlockingReceiveInChildOfThreadFails) { expect_fork_report("fork_child_thread_recv"); }
TEST(Fork, SelectInChildFails) { expect_fork_report("fork_child_select"); }
TEST(Fork, WaitGroupWaitInChildFails) { expect_fork_report("fork_child_wait_group"); }
TEST(Fork, AfterInChildFails) { expect_fork_report("fork_child_after"); }

// A send that would wake a goroutine of the parent, parked on the channel.
TEST(Fork, SendWakingAGoroutineInChildFails) {
  outcome r = run_scenario("fork_child_wakes");
  EXPECT_TRUE(contains(r.out, "child sending")) << r.describe();
  expect_fork_report("fork_child_wakes");
}

TEST(Fork, GoroutineReturningInChildFails) {
  outcome r = run_scenario("fork_child_goroutine_returns");
  EXPECT_TRUE(contains(r.out, "child returning from its goroutine")) << r.describe();
  expect_fork_report("fork_child_goroutine_returns");
}

// The supported use: fork then exec, from a goroutine and from a plain
// thread, and a child that exits without calling goro; the parent's
// runtime carries on.
TEST(Fork, ExecInChildWorks) {
  outcome r = run_scenario("fork_exec");
  EXPECT_TRUE(r.exited_with(0)) << r.describe();
  EXPECT_TRUE(contains(r.out, "exec from a goroutine: 0\n")) << r.describe();
  EXPECT_TRUE(contains(r.out, "plain exit from a goroutine's child: 0\n")) << r.describe();
  EXPECT_TRUE(contains(r.out, "system from a goroutine: 0\n")) << r.describe();
  EXPECT_TRUE(contains(r.out, "exec from a plain thread: 0\n")) << r.describe();
  EXPECT_TRUE(contains(r.out, "parent still runs goroutines: 7\n")) << r.describe();
  EXPECT_FALSE(contains(r.err, "fatal error")) << r.describe();
}

// A child forked before the runtime started starts its own.
TEST(Fork, ChildForkedBeforeStartHasItsOwnRuntime) {
  outcome r = run_scenario("fork_before_start");
  EXPECT_TRUE(r.exited_with(0)) << r.describe();
  EXPECT_TRUE(contains(r.out, "child's own runtime ran: 5\n")) << r.describe();
}

}  // namespace
