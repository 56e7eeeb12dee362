#include "progress.h"

#include <unistd.h>

#include <algorithm>

namespace siamese::training {
namespace {
constexpr int kBarWidth = 30;
constexpr auto kMinRedraw = std::chrono::milliseconds(100);
}  // namespace

ProgressBar::ProgressBar(std::FILE* out, bool force)
    : out_(out), active_(force || isatty(fileno(out))) {}

void ProgressBar::start(const std::string& label, long total) {
  label_ = label;
  total_ = std::max(1L, total);
  drawn_ = false;
  last_ = std::chrono::steady_clock::time_point{};
}

void ProgressBar::update(long done, double loss, double pairs_per_s) {
  if (!active_) return;
  const auto now = std::chrono::steady_clock::now();
  if (drawn_ && done < total_ && now - last_ < kMinRedraw) return;
  last_ = now;
  const int filled = static_cast<int>(kBarWidth * std::min(done, total_) / total_);
  std::string bar(static_cast<size_t>(filled), '#');
  bar.resize(kBarWidth, '.');
  std::fprintf(out_, "\r%s [%s] %ld/%ld pairs  loss %.4f  %.0f pairs/s\033[K", label_.c_str(),
               bar.c_str(), done, total_, loss, pairs_per_s);
  std::fflush(out_);
  drawn_ = true;
}

void ProgressBar::finish() {
  if (!active_ || !drawn_) return;
  std::fprintf(out_, "\r\033[K");
  std::fflush(out_);
  drawn_ = false;
}

}  // namespace siamese::training
