#include "siamese/progress_bar.h"

#include <unistd.h>

#include <algorithm>

namespace siamese::cli {
namespace {
constexpr int kBarWidth = 30;
constexpr auto kMinRedraw = std::chrono::milliseconds(100);
}  // namespace

ProgressBar::ProgressBar(std::FILE* out, bool force)
    : out_(out), visible_(force || ::isatty(fileno(out)) == 1) {}

ProgressBar::~ProgressBar() { finish(); }

void ProgressBar::start(std::string label, int64_t total, std::string unit) {
  finish();
  label_ = std::move(label);
  unit_ = std::move(unit);
  total_ = std::max<int64_t>(1, total);
  done_ = 0;
  start_ = std::chrono::steady_clock::now();
  last_draw_ = {};
}

void ProgressBar::update(int64_t done, const std::string& note) {
  done_ = done;
  if (!visible_) return;
  const auto now = std::chrono::steady_clock::now();
  if (drawn_ && done_ < total_ && now - last_draw_ < kMinRedraw) return;
  last_draw_ = now;
  draw(note);
}

void ProgressBar::advance(int64_t n) { update(done_ + n); }

void ProgressBar::finish() {
  if (!visible_ || !drawn_) return;
  std::fprintf(out_, "\r\033[K");
  std::fflush(out_);
  drawn_ = false;
}

void ProgressBar::draw(const std::string& note) {
  const int64_t shown = std::min(done_, total_);
  std::string bar(static_cast<size_t>(kBarWidth * shown / total_), '#');
  bar.resize(kBarWidth, '.');
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  const double rate = seconds > 0 ? done_ / seconds : 0.0;
  std::fprintf(out_, "\r%s%s[%s] %lld/%lld %s  %s%s%.0f %s/s\033[K", label_.c_str(),
               label_.empty() ? "" : " ", bar.c_str(), static_cast<long long>(done_),
               static_cast<long long>(total_), unit_.c_str(), note.c_str(),
               note.empty() ? "" : "  ", rate, unit_.c_str());
  std::fflush(out_);
  drawn_ = true;
}

}  // namespace siamese::cli
