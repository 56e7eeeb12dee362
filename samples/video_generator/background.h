// A textured backdrop for the walk video: a wall with posters and a door, a floor, and fine
// noise, so the detector and the codec face more than a flat colour. Deterministic in the seed.
// Thread-safety: a pure function.
#pragma once

#include <cstdint>
#include <opencv2/core.hpp>

namespace siamese::samples {

/// A width x height BGR image drawn from seed.
cv::Mat make_background(int width, int height, uint64_t seed);

}  // namespace siamese::samples
