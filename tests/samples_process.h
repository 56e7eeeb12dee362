// Runs the sample programs from the tests: a child process with its output captured to a file,
// waited for with a time limit, and signalled (for Ctrl-C tests). Also the paths and the
// GStreamer environment the sample tests share. Thread-safety: one Process per thread.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

namespace siamese::testing {

/// build/bin/NAME.
std::string program_path(const std::string& name);

/// Points GStreamer at build/gst-plugins with a registry file in the build tree (inherited by
/// the processes started afterwards).
void use_build_plugins();

class Process {
 public:
  /// Starts argv[0] with argv; stdout and stderr go to output_file. Throws std::runtime_error.
  Process(const std::vector<std::string>& argv, const std::string& output_file);
  ~Process();
  Process(const Process&) = delete;
  Process& operator=(const Process&) = delete;

  /// Sends a signal (e.g. SIGINT) to the child.
  void signal(int sig);
  /// Waits up to timeout_s; returns the exit status, 128+signal when killed, or -1 on timeout
  /// (the child is then killed).
  int wait(double timeout_s);
  /// What the child wrote so far.
  std::string output() const;

 private:
  pid_t pid_ = -1;
  std::string output_file_;
};

struct RunResult {
  int status = -1;
  std::string output;
};

/// Runs argv to completion (at most timeout_s) and returns its status and output.
RunResult run_program(const std::vector<std::string>& argv, double timeout_s = 300.0);

}  // namespace siamese::testing
