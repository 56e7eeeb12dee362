#include "action_command.h"

#include <spawn.h>
#include <sys/wait.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <iostream>

extern char** environ;

namespace siamese::samples {

bool ActionCommand::run(const DoorAction& a, const std::string& time) {
  if (command_.empty()) return true;
  // The environment of this process plus the decision (ours replace same-named variables).
  std::vector<std::string> vars = {
      "SIAMESE_DECISION=" + a.decision, "SIAMESE_IDENTITY=" + a.identity,
      "SIAMESE_TRACK_ID=" + std::to_string(a.track_id),
      "SIAMESE_DISTANCE=" + std::to_string(a.distance), "SIAMESE_TIME=" + time};
  std::vector<char*> envp;
  for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
    if (std::strncmp(*e, "SIAMESE_", 8) != 0) envp.push_back(*e);
  }
  for (auto& v : vars) envp.push_back(v.data());
  envp.push_back(nullptr);
  std::string sh = "/bin/sh", flag = "-c", cmd = command_;
  char* argv[] = {sh.data(), flag.data(), cmd.data(), nullptr};
  // The child gets stdin, stdout and stderr only: not the video file, the audit log, sockets or
  // pipes this process holds (a user's command must not read or keep them open).
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addclosefrom_np(&actions, 3);
  pid_t pid = 0;
  const int rc = posix_spawn(&pid, "/bin/sh", &actions, nullptr, argv, envp.data());
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) {
    std::cerr << "siamese-access-control: cannot run '" << command_ << "': " << std::strerror(rc)
              << "\n";
    return false;
  }
  children_.push_back(pid);
  return true;
}

void ActionCommand::report(pid_t pid, int status) {
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return;
  std::cerr << "siamese-access-control: '" << command_ << "' (pid " << pid << ") "
            << (WIFEXITED(status) ? "exited with status " + std::to_string(WEXITSTATUS(status))
                                  : std::string("was killed by a signal"))
            << "\n";
}

void ActionCommand::reap() {
  for (auto it = children_.begin(); it != children_.end();) {
    int status = 0;
    const pid_t done = waitpid(*it, &status, WNOHANG);
    if (done == *it || (done < 0 && errno == ECHILD)) {
      if (done == *it) report(done, status);
      it = children_.erase(it);
    } else {
      ++it;
    }
  }
}

void ActionCommand::wait_all() {
  for (const pid_t pid : children_) {
    int status = 0;
    pid_t done = 0;
    while ((done = waitpid(pid, &status, 0)) < 0 && errno == EINTR) {
    }
    if (done == pid) report(pid, status);
  }
  children_.clear();
}

}  // namespace siamese::samples
