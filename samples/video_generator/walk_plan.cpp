#include "walk_plan.h"

#include <algorithm>
#include <cmath>
#include <random>
#include <stdexcept>

namespace siamese::samples {

namespace {

constexpr int kEdgeMargin = 4;      // pixels kept free at the left and right edges
constexpr int kLaneSpacing = 10;    // pixels between the two lanes
constexpr double kBobPixels = 3.0;  // vertical bob of a walking head
constexpr double kBobSteps = 3.0;   // bobs per crossing
constexpr double kPi = 3.14159265358979323846;

// Uniform in [lo, hi] from the generator's raw output: identical on every standard library.
int uniform_int(std::mt19937_64& rng, int lo, int hi) {
  if (hi <= lo) return lo;
  return lo + static_cast<int>(rng() % static_cast<uint64_t>(hi - lo + 1));
}

double uniform01(std::mt19937_64& rng) {
  return static_cast<double>(rng() >> 11) / 9007199254740992.0;
}

}  // namespace

WalkPlan plan_walk(const std::vector<Cast>& cast, const WalkOptions& o) {
  const int lane_height = o.height / 2 - kLaneSpacing;
  if (o.min_face < 16 || o.max_face < o.min_face || o.max_face * 1.05 + 8 > o.height ||
      (o.max_face * o.face_aspect) * 1.05 + 2 * kEdgeMargin > o.width) {
    throw std::invalid_argument(
        "face heights " + std::to_string(o.min_face) + "-" + std::to_string(o.max_face) +
        " do not fit a " + std::to_string(o.width) + "x" + std::to_string(o.height) + " frame");
  }
  WalkPlan plan;
  plan.options = o;
  std::mt19937_64 rng(o.seed * 0x9E3779B97F4A7C15ULL + 12345);

  std::vector<Cast> order = cast;
  for (size_t i = order.size(); i > 1; --i) {  // Fisher-Yates with our own uniform draw
    std::swap(order[i - 1],
              order[static_cast<size_t>(uniform_int(rng, 0, static_cast<int>(i) - 1))]);
  }

  const int segment_frames = std::max(2, static_cast<int>(std::lround(o.segment_s * o.fps)));
  const int gap_frames = std::max(0, static_cast<int>(std::lround(o.gap_s * o.fps)));
  int frame = gap_frames;
  for (size_t i = 0; i < order.size();) {
    const bool pair = i + 1 < order.size() && uniform01(rng) < o.pair_fraction;
    const size_t n = pair ? 2 : 1;
    for (size_t k = 0; k < n; ++k) {
      const Cast& c = order[i + k];
      Walker w;
      w.label = c.label;
      w.stranger = c.stranger;
      w.images = c.images;
      w.first_frame = frame;
      w.last_frame = frame + segment_frames - 1;
      w.lane = pair ? static_cast<int>(k) + 1 : 0;
      w.direction = uniform01(rng) < 0.5 ? 1 : -1;
      w.growth = (uniform01(rng) - 0.5) * 0.1;  // within +-5%
      const int max_h =
          pair ? std::min(o.max_face, static_cast<int>((lane_height - 8) / 1.05)) : o.max_face;
      w.face_height = uniform_int(rng, std::min(o.min_face, max_h), max_h);
      const int grown = static_cast<int>(std::ceil(w.face_height * 1.05)) + 4;  // + bob
      int lo = 0, hi = 0;
      if (w.lane == 0) {
        lo = o.height / 12;
        hi = o.height - grown - o.height / 12;
      } else if (w.lane == 1) {
        lo = 4;
        hi = lane_height - grown;
      } else {
        lo = o.height - lane_height + 4;
        hi = o.height - grown;
      }
      w.base_y = uniform_int(rng, lo, std::max(lo, hi));
      w.bob_phase = uniform01(rng) * 2 * kPi;
      w.image_offset =
          w.images.empty() ? 0 : uniform_int(rng, 0, static_cast<int>(w.images.size()) - 1);
      plan.walkers.push_back(std::move(w));
    }
    i += n;
    frame += segment_frames + gap_frames;
  }
  plan.frame_count = frame;
  return plan;
}

Rect box_at(const Walker& w, const WalkOptions& o, int frame) {
  const int span = std::max(1, w.last_frame - w.first_frame);
  const double t = std::clamp(static_cast<double>(frame - w.first_frame) / span, 0.0, 1.0);
  const double scale = 1.0 + w.growth * (t - 0.5);
  Rect r;
  r.height = std::max(8, static_cast<int>(std::lround(w.face_height * scale)));
  r.width = std::max(8, static_cast<int>(std::lround(r.height * o.face_aspect)));
  const double travel = o.width - r.width - 2 * kEdgeMargin;
  const double along = w.direction > 0 ? t : 1.0 - t;
  r.x = kEdgeMargin + static_cast<int>(std::lround(along * travel));
  const double bob = kBobPixels * std::sin(w.bob_phase + 2 * kPi * kBobSteps * t);
  // Grow about the box centre so the head stays in its lane.
  r.y = w.base_y + static_cast<int>(std::lround(bob + (w.face_height - r.height) / 2.0));
  r.x = std::clamp(r.x, 0, o.width - r.width);
  r.y = std::clamp(r.y, 0, o.height - r.height);
  return r;
}

int image_at(const Walker& w, const WalkOptions& o, int frame) {
  if (w.images.empty()) return 0;
  const int period = std::max(1, static_cast<int>(std::lround(o.image_period_s * o.fps)));
  const int step = std::max(0, frame - w.first_frame) / period;
  return (w.image_offset + step) % static_cast<int>(w.images.size());
}

}  // namespace siamese::samples
