// Runs a scenario of tests/signal in a child process: this test binary
// again, with GORO_SIGNAL_CHILD naming the scenario and a filter selecting
// SignalChild.Run (child_test.cpp), for what must end or must not end the
// process (a default action put back, the deadlock detector's view of the
// signal thread). The child's stdout and stderr are collected.
#pragma once

#include <gtest/gtest.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <string>
#include <vector>

extern char** environ;

namespace signal_test {

struct child_result {
  bool exited = false;
  int status = -1;  // exit code or signal
  std::string out;
};

inline child_result run_child(const char* scenario) {
  std::string filter = "--gtest_filter=SignalChild.Run";
  std::string env = std::string("GORO_SIGNAL_CHILD=") + scenario;
  std::vector<std::string> envs;
  for (char** e = environ; *e != nullptr; e++) envs.emplace_back(*e);
  envs.push_back(env);
  std::vector<char*> envp;
  for (auto& s : envs) envp.push_back(s.data());
  envp.push_back(nullptr);
  int fds[2];
  EXPECT_EQ(pipe(fds), 0);
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, fds[1], 1);
  posix_spawn_file_actions_adddup2(&fa, fds[1], 2);
  posix_spawn_file_actions_addclose(&fa, fds[0]);
  char self[] = "/proc/self/exe";
  char* argv[] = {self, filter.data(), nullptr};
  pid_t pid = -1;
  EXPECT_EQ(posix_spawn(&pid, "/proc/self/exe", &fa, nullptr, argv, envp.data()), 0);
  posix_spawn_file_actions_destroy(&fa);
  close(fds[1]);
  child_result r;
  char buf[4096];
  for (ssize_t n; (n = read(fds[0], buf, sizeof buf)) > 0;) r.out.append(buf, static_cast<size_t>(n));
  close(fds[0]);
  int st = 0;
  EXPECT_EQ(waitpid(pid, &st, 0), pid);
  if (WIFEXITED(st)) {
    r.exited = true;
    r.status = WEXITSTATUS(st);
  } else if (WIFSIGNALED(st)) {
    r.status = WTERMSIG(st);
  }
  return r;
}

}  // namespace signal_test
