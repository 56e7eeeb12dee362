// The one progress bar of the programs (training epochs, enrollment images): a line on stderr
// redrawn in place at most ten times a second, only when stderr is a terminal, so stdout, logs
// and CI get the programs' plain lines alone. Thread-safety: one ProgressBar per thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <string>

namespace siamese::cli {

class ProgressBar {
 public:
  /// Draws to out when it is a terminal, or always when force is true (tests).
  explicit ProgressBar(std::FILE* out = stderr, bool force = false);
  ~ProgressBar();
  ProgressBar(const ProgressBar&) = delete;
  ProgressBar& operator=(const ProgressBar&) = delete;

  /// Starts counting total steps of unit ("pairs", "images") under label ("epoch 3/60").
  void start(std::string label, int64_t total, std::string unit);
  /// Redraws (rate-limited) with done steps so far and a note such as "loss 0.1234".
  void update(int64_t done, const std::string& note = "");
  /// Counts n more steps and redraws (rate-limited).
  void advance(int64_t n = 1);
  /// Clears the bar, so that the caller's next line replaces it (idempotent).
  void finish();
  /// True when the bar is drawn at all.
  bool visible() const { return visible_; }

 private:
  void draw(const std::string& note);

  std::FILE* out_;
  bool visible_;
  std::string label_, unit_;
  int64_t total_ = 1, done_ = 0;
  bool drawn_ = false;
  std::chrono::steady_clock::time_point start_, last_draw_;
};

}  // namespace siamese::cli
