#include "tailgate.h"

#include <cmath>

#include "siamese/errors.h"

namespace siamese::samples {

namespace {

void check(const TailgateSettings& s) {
  if (!(s.window_s > 0.0)) throw InputError("the tailgate window (open time) must be > 0 seconds");
  if (s.min_frames < 1) throw InputError("tailgate min-frames must be >= 1");
}

}  // namespace

TailgateDetector::TailgateDetector(const TailgateSettings& settings) : settings_(settings) {
  check(settings);
}

void TailgateDetector::set_settings(const TailgateSettings& settings) {
  check(settings);
  settings_ = settings;
}

void TailgateDetector::on_grant(int64_t track_id, int64_t running_time) {
  granted_.insert(track_id);
  const int64_t end = running_time + static_cast<int64_t>(std::llround(settings_.window_s * 1e9));
  if (!open_) {
    open_ = true;
    counted_.clear();
    window_end_ = end;
  } else if (end > window_end_) {
    window_end_ = end;
  }
}

std::vector<DoorAction> TailgateDetector::on_frame(const FrameEvent& e) {
  std::vector<DoorAction> actions;
  if (open_ && e.running_time > window_end_) actions = close_window();
  if (!open_) return actions;
  for (const FaceSeen& f : e.faces) {
    if (!settings_.zone.contains(f.x + f.width / 2.0, f.y + f.height / 2.0)) continue;
    Seen& s = counted_[f.track_id];
    ++s.frames;
    s.last = f;
  }
  return actions;
}

std::vector<DoorAction> TailgateDetector::finish() {
  return open_ ? close_window() : std::vector<DoorAction>{};
}

std::vector<DoorAction> TailgateDetector::close_window() {
  std::vector<DoorAction> actions;
  for (const auto& [track, seen] : counted_) {
    if (seen.frames < settings_.min_frames || granted_.count(track) != 0) continue;
    ++tailgates_;
    DoorAction a;
    a.kind = DoorAction::Kind::kTailgate;
    a.track_id = track;
    a.identity = seen.last.state == "verified" && !seen.last.identity.empty()
                     ? seen.last.identity
                     : std::string("unknown");
    a.distance = seen.last.distance;
    a.running_time = window_end_;  // when the door closed behind them
    a.decision = "tailgate";
    actions.push_back(a);
  }
  open_ = false;
  counted_.clear();
  return actions;
}

}  // namespace siamese::samples
