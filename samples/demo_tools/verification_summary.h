// Scores faceverify's per-frame output against a walk video's ground truth: which walker each
// reported face is (its centre inside the walker's box), and per walker what the element said:
// verified as whom, after how long, or unknown. Thread-safety: pure functions.
#pragma once

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "walk_truth.h"

namespace siamese::samples {

/// One face of a "faceverify" frame message.
struct SeenFace {
  int64_t track_id = 0;
  std::string state;     // "pending", "unknown", "verified"
  std::string identity;  // "" unless verified
  int x = 0, y = 0, width = 0, height = 0;
};

/// One "faceverify" frame message.
struct FrameObservation {
  int64_t timestamp_ns = 0;
  std::vector<SeenFace> faces;
};

struct WalkerOutcome {
  TruthWalker walker;
  int visible_frames = 0;                  // frames showing the walker
  int detected_frames = 0;                 // of those, frames where the element reported the face
  std::map<std::string, int> verified_as;  // identity -> frames shown as verified
  double first_verified_s =
      -1.0;  // seconds from the walker's first frame to its first verified frame
  std::set<int64_t> tracks;
  /// people: "verified", "unknown" or "confused" (verified as someone else at some point);
  /// strangers: "rejected" or "accepted".
  std::string verdict;
};

struct DemoSummary {
  std::vector<WalkerOutcome> walkers;
  int people = 0, people_verified = 0, people_unknown = 0, people_confused = 0;
  int strangers = 0, strangers_accepted = 0;
  int frames = 0;           // frame messages read
  int unmatched_faces = 0;  // reported faces that are no walker (false detections)
  double seconds = 0.0;     // wall time of the run, when known
};

/// Matches the observations to the truth and tallies the outcome of every walker.
DemoSummary summarize(const WalkTruth& truth, const std::vector<FrameObservation>& frames);

}  // namespace siamese::samples
