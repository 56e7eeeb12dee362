#include "progress.h"

#include <unistd.h>

#include <cstdio>

namespace siamese::enroll {

constexpr int kBarWidth = 30;

ProgressBar::ProgressBar(int64_t total, std::string label)
    : total_(total), label_(std::move(label)), visible_(::isatty(STDERR_FILENO) == 1 && total > 0),
      start_(std::chrono::steady_clock::now()), last_draw_(start_) {
  if (visible_) draw();
}

ProgressBar::~ProgressBar() { finish(); }

void ProgressBar::advance(int64_t n) {
  done_ += n;
  if (!visible_) return;
  const auto now = std::chrono::steady_clock::now();
  if (now - last_draw_ >= std::chrono::milliseconds(100) || done_ >= total_) {
    last_draw_ = now;
    draw();
  }
}

void ProgressBar::finish() {
  if (!visible_ || finished_) return;
  finished_ = true;
  draw();
  std::fputc('\n', stderr);
  std::fflush(stderr);
}

void ProgressBar::draw() {
  const double fraction = total_ > 0 ? static_cast<double>(done_) / total_ : 1.0;
  const int filled = static_cast<int>(fraction * kBarWidth);
  std::string bar(static_cast<size_t>(filled), '=');
  if (filled < kBarWidth) bar += '>';
  bar.resize(kBarWidth, ' ');
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  const double rate = seconds > 0 ? done_ / seconds : 0.0;
  std::fprintf(stderr, "\r[%s] %lld/%lld %s  %.1f/s ", bar.c_str(), static_cast<long long>(done_),
               static_cast<long long>(total_), label_.c_str(), rate);
  std::fflush(stderr);
}

}  // namespace siamese::enroll
