// Internal: antialiased bilinear resampling of 8-bit images, the same arithmetic as PIL's
// Image.resize(BILINEAR) (triangle filter widened by the reduction factor, 22-bit fixed point,
// horizontal pass then vertical, 8-bit in between), so a C++ port matches the Python
// reference's preprocessing. Thread-safety: pure function.
#pragma once

#include <opencv2/core.hpp>

#include <vector>

namespace siamese::detail {

constexpr int kResamplePrecisionBits = 32 - 8 - 2;

/// PIL's antialiased bilinear taps for in_size -> out_size: per output the first source index,
/// the tap count, and count_max fixed-point weights (kResamplePrecisionBits) starting at
/// weights[output * count_max]. The CUDA kernel's tables use the same taps.
struct ResampleTaps {
  std::vector<int> first;
  std::vector<int> count;
  std::vector<int> weights;
  int count_max = 0;
};
ResampleTaps compute_resample_taps(int in_size, int out_size);

/// src CV_8UC1 or CV_8UC3 (any stride) -> dst of width x height, same type.
void resize_antialiased(const cv::Mat& src, int width, int height, cv::Mat& dst);

}  // namespace siamese::detail
