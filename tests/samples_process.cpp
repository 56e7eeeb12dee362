#include "samples_process.h"

#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

#include "test_support.h"

extern char** environ;

namespace siamese::testing {

std::string program_path(const std::string& name) {
  return std::string(SIAMESE_BINARY_DIR) + "/bin/" + name;
}

void use_build_plugins() {
  setenv("GST_PLUGIN_PATH", (std::string(SIAMESE_BINARY_DIR) + "/gst-plugins").c_str(), 1);
  setenv("GST_REGISTRY", (std::string(SIAMESE_BINARY_DIR) + "/test-gst-registry.bin").c_str(), 1);
  setenv("GST_REGISTRY_FORK", "no", 1);
}

Process::Process(const std::vector<std::string>& argv, const std::string& output_file)
    : output_file_(output_file) {
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, output_file.c_str(),
                                   O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_adddup2(&actions, STDOUT_FILENO, STDERR_FILENO);
  std::vector<std::string> args = argv;
  std::vector<char*> raw;
  for (auto& a : args) raw.push_back(a.data());
  raw.push_back(nullptr);
  const int rc = posix_spawn(&pid_, raw[0], &actions, nullptr, raw.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) {
    pid_ = -1;
    throw std::runtime_error("cannot start " + argv[0] + ": " + std::strerror(rc));
  }
}

Process::~Process() {
  if (pid_ > 0) {
    kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
  }
}

void Process::signal(int sig) {
  if (pid_ > 0) kill(pid_, sig);
}

int Process::wait(double timeout_s) {
  if (pid_ <= 0) return -1;
  const auto deadline = std::chrono::steady_clock::now() +
                        std::chrono::milliseconds(static_cast<int64_t>(timeout_s * 1000));
  while (true) {
    int status = 0;
    const pid_t done = waitpid(pid_, &status, WNOHANG);
    if (done == pid_) {
      pid_ = -1;
      return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    }
    if (done < 0 && errno != EINTR) return -1;
    if (std::chrono::steady_clock::now() > deadline) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
      pid_ = -1;
      return -1;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

std::string Process::output() const {
  std::ifstream in(output_file_);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

RunResult run_program(const std::vector<std::string>& argv, double timeout_s) {
  static int counter = 0;
  static const std::string dir = temp_dir("process");
  const std::string out = dir + "/output-" + std::to_string(++counter) + ".txt";
  Process p(argv, out);
  RunResult r;
  r.status = p.wait(timeout_s);
  r.output = p.output();
  return r;
}

}  // namespace siamese::testing
