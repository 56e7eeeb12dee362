// Points of a face in frame pixels: the type the landmark networks return and the five points
// (eye centres, nose tip, mouth corners) that alignment maps to a model's template.
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

}  // namespace siamese
