// Internal: antialiased bilinear resampling of 8-bit images, the same arithmetic as PIL's
// Image.resize(BILINEAR) (triangle filter widened by the reduction factor, 22-bit fixed point,
// horizontal pass then vertical, 8-bit in between), so a C++ port matches the Python
// reference's preprocessing. Thread-safety: pure function.
#pragma once

#include <opencv2/core.hpp>

namespace siamese::detail {

/// src CV_8UC1 or CV_8UC3 (any stride) -> dst of width x height, same type.
void resize_antialiased(const cv::Mat& src, int width, int height, cv::Mat& dst);

}  // namespace siamese::detail
