// A one-line terminal progress bar for training epochs (bar, pairs done, loss, pairs/s),
// redrawn in place at most ten times a second, only when stdout is a terminal; elsewhere (logs,
// CI) it draws nothing and the caller prints one plain line per epoch.
// Thread-safety: one ProgressBar per thread.
#pragma once

#include <chrono>
#include <cstdio>
#include <string>

namespace siamese::training {

class ProgressBar {
 public:
  /// Draws to out when it is a terminal (or when force is true).
  explicit ProgressBar(std::FILE* out = stdout, bool force = false);

  /// Starts a new epoch of total pairs under a label such as "epoch 3/60".
  void start(const std::string& label, long total);
  /// Redraws (rate-limited): done pairs so far, running mean loss, pairs per second.
  void update(long done, double loss, double pairs_per_s);
  /// Clears the bar so the caller's epoch line replaces it.
  void finish();

  bool active() const { return active_; }

 private:
  std::FILE* out_;
  bool active_;
  std::string label_;
  long total_ = 0;
  bool drawn_ = false;
  std::chrono::steady_clock::time_point last_;
};

}  // namespace siamese::training
