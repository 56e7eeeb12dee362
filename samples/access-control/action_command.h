// Runs the user's command for a grant or a denial (e.g. to pulse a door relay or send an alert)
// through /bin/sh -c, without waiting for it, with the decision in its environment:
// SIAMESE_DECISION, SIAMESE_IDENTITY, SIAMESE_TRACK_ID, SIAMESE_DISTANCE, SIAMESE_TIME.
// Thread-safety: one ActionCommand per thread (it reaps its own children).
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

#include "door_policy.h"

namespace siamese::samples {

class ActionCommand {
 public:
  /// command: shell text; empty = do nothing.
  explicit ActionCommand(std::string command) : command_(std::move(command)) {}
  ~ActionCommand() { wait_all(); }
  ActionCommand(const ActionCommand&) = delete;
  ActionCommand& operator=(const ActionCommand&) = delete;

  /// Starts the command for action; returns false (and says why on stderr) if it cannot start.
  bool run(const DoorAction& action, const std::string& time);
  /// Collects children that have finished; reports a non-zero exit on stderr.
  void reap();
  /// Waits for every child still running.
  void wait_all();

 private:
  void report(pid_t pid, int status);
  std::string command_;
  std::vector<pid_t> children_;
};

}  // namespace siamese::samples
