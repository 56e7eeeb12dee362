// Points of a face in frame pixels: the 68 the landmark networks return (alignment fits a
// subset of them onto a model's template) and the five (eye centres, nose tip, mouth corners)
// that tracks keep and messages publish.
// Thread-safety: plain value types.
#pragma once

#include <array>

namespace siamese {

/// A point in pixels of the full frame (x right, y down; pixel centres at integers).
struct Point2f {
  float x = 0.0f;
  float y = 0.0f;
};

/// Eye centres (the eye on the image's left first), nose tip, mouth corners (image left first).
struct FivePoints {
  std::array<Point2f, 5> points;
};

constexpr int kLandmarkCount = 68;

/// The 68 points of the iBUG 300-W mark-up (0-16 jaw, 17-26 brows, 27-35 nose, 36-41 and 42-47
/// the eyes on the image's left and right, 48-67 mouth), in frame pixels.
using Landmarks68 = std::array<Point2f, kLandmarkCount>;

}  // namespace siamese
