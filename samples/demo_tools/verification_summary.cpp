#include "verification_summary.h"

#include <cmath>
#include <limits>

namespace siamese::samples {

namespace {

// The walker whose box holds the face's centre (nearest centre if several); -1 if none.
int match_walker(const std::vector<TruthFace>& truth, const SeenFace& face) {
  const double cx = face.x + face.width / 2.0, cy = face.y + face.height / 2.0;
  int best = -1;
  double best_d = std::numeric_limits<double>::max();
  for (const TruthFace& t : truth) {
    if (cx < t.x || cx > t.x + t.width || cy < t.y || cy > t.y + t.height) continue;
    const double d = std::hypot(cx - (t.x + t.width / 2.0), cy - (t.y + t.height / 2.0));
    if (d < best_d) {
      best_d = d;
      best = t.walker;
    }
  }
  return best;
}

}  // namespace

DemoSummary summarize(const WalkTruth& truth, const std::vector<FrameObservation>& frames) {
  DemoSummary s;
  for (const TruthWalker& w : truth.walkers) {
    WalkerOutcome o;
    o.walker = w;
    s.walkers.push_back(o);
  }
  for (const auto& faces : truth.frames) {
    for (const TruthFace& f : faces) {
      if (f.walker >= 0 && static_cast<size_t>(f.walker) < s.walkers.size()) {
        ++s.walkers[static_cast<size_t>(f.walker)].visible_frames;
      }
    }
  }
  for (const FrameObservation& obs : frames) {
    ++s.frames;
    const long index = std::lround(static_cast<double>(obs.timestamp_ns) * truth.fps / 1e9);
    if (index < 0 || static_cast<size_t>(index) >= truth.frames.size()) {
      s.unmatched_faces += static_cast<int>(obs.faces.size());
      continue;
    }
    const auto& frame_truth = truth.frames[static_cast<size_t>(index)];
    std::set<int> counted;  // a walker counts once per frame even if two boxes land on it
    for (const SeenFace& face : obs.faces) {
      const int w = match_walker(frame_truth, face);
      if (w < 0) {
        ++s.unmatched_faces;
        continue;
      }
      WalkerOutcome& o = s.walkers[static_cast<size_t>(w)];
      o.tracks.insert(face.track_id);
      if (!counted.insert(w).second) continue;
      ++o.detected_frames;
      if (face.state == "verified" && !face.identity.empty()) {
        ++o.verified_as[face.identity];
        if (o.first_verified_s < 0 && (o.walker.stranger || face.identity == o.walker.label)) {
          o.first_verified_s = (index - o.walker.first_frame) / truth.fps;
        }
      }
    }
  }
  for (WalkerOutcome& o : s.walkers) {
    if (o.walker.stranger) {
      ++s.strangers;
      o.verdict = o.verified_as.empty() ? "rejected" : "accepted";
      if (!o.verified_as.empty()) ++s.strangers_accepted;
      continue;
    }
    ++s.people;
    bool someone_else = false;
    for (const auto& [identity, n] : o.verified_as) someone_else |= identity != o.walker.label;
    if (someone_else) {
      o.verdict = "confused";
      ++s.people_confused;
    } else if (o.verified_as.count(o.walker.label)) {
      o.verdict = "verified";
      ++s.people_verified;
    } else {
      o.verdict = "unknown";
      ++s.people_unknown;
    }
  }
  return s;
}

}  // namespace siamese::samples
