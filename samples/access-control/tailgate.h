// Tailgating at one door: while the door is open after a grant (the open window, extended by
// re-grants), every track whose face centre is seen inside the door zone on at least min_frames
// frames is counted; when the window closes, each counted track that was never granted is
// reported as a tailgate (more people passed than were let in). Times are the stream's running
// time (ns), so a run over a file is reproducible. Thread-safety: one detector per stream.
#pragma once

#include <cstdint>
#include <map>
#include <set>
#include <vector>

#include "door_policy.h"

namespace siamese::samples {

constexpr double kDefaultOpenTimeS = 5.0;
constexpr int kDefaultTailgateMinFrames = 3;

/// The part of the frame a person must cross to pass the door, in frame pixels; an empty zone
/// (width or height 0) is the whole frame.
struct DoorZone {
  int x = 0, y = 0, width = 0, height = 0;
  bool whole_frame() const { return width <= 0 || height <= 0; }
  /// Whether the point (frame pixels) lies inside the zone.
  bool contains(double px, double py) const {
    return whole_frame() || (px >= x && px < x + width && py >= y && py < y + height);
  }
};

struct TailgateSettings {
  DoorZone zone;
  double window_s = kDefaultOpenTimeS;         // how long the door stays open after a grant
  int min_frames = kDefaultTailgateMinFrames;  // frames in the zone for a track to count
};

class TailgateDetector {
 public:
  /// Throws siamese::InputError for window_s <= 0 or min_frames < 1.
  explicit TailgateDetector(const TailgateSettings& settings);

  /// New settings (a reloaded config); an open window keeps its end. Throws as the constructor.
  void set_settings(const TailgateSettings& settings);
  /// A grant of track_id at running_time (ns): opens the window or extends it.
  void on_grant(int64_t track_id, int64_t running_time);
  /// A frame: closes the window first if the frame is past its end (returning the tailgates),
  /// then counts the faces inside the zone while the window is open.
  std::vector<DoorAction> on_frame(const FrameEvent& event);
  /// Closes an open window (the end of the stream) and returns its tailgates.
  std::vector<DoorAction> finish();

  bool window_open() const { return open_; }
  int tailgates() const { return tailgates_; }

 private:
  std::vector<DoorAction> close_window();

  struct Seen {
    int frames = 0;
    FaceSeen last;
  };
  TailgateSettings settings_;
  bool open_ = false;
  int64_t window_end_ = 0;           // ns
  std::set<int64_t> granted_;        // every track granted at this door
  std::map<int64_t, Seen> counted_;  // tracks seen in the zone during the open window
  int tailgates_ = 0;
};

}  // namespace siamese::samples
