// A progress bar for long enrollments, drawn on stderr only when stderr is a terminal (scripts
// and logs get the summary alone). Thread-safety: one ProgressBar per thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

namespace siamese::enroll {

class ProgressBar {
 public:
  /// total = number of steps (images); label = what is counted ("images").
  ProgressBar(int64_t total, std::string label);
  ~ProgressBar();
  ProgressBar(const ProgressBar&) = delete;
  ProgressBar& operator=(const ProgressBar&) = delete;

  /// Counts n more steps; redraws at most ten times a second.
  void advance(int64_t n = 1);
  /// Draws the final state and ends the line (idempotent).
  void finish();
  /// True when a bar is drawn (stderr is a TTY).
  bool visible() const { return visible_; }

 private:
  void draw();
  int64_t total_;
  int64_t done_ = 0;
  std::string label_;
  bool visible_;
  bool finished_ = false;
  std::chrono::steady_clock::time_point start_, last_draw_;
};

}  // namespace siamese::enroll
