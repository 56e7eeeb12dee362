// Internal: the pixels of a rectangle of an ImageView as an 8-bit gray or RGB cv::Mat, from every
// pixel format (the reading half of preprocess(), shared with the landmark and alignment crops).
// Thread-safety: pure function.
#pragma once

#include <opencv2/core.hpp>

#include "siamese/image_view.h"

namespace siamese::detail {

/// rect (inside the frame) as CV_8UC1 (channels 1) or CV_8UC3 RGB (channels 3). A gray request on
/// GRAY8/I420/NV12 is a header on the luma plane: no copy. The view must be valid.
cv::Mat read_region(const ImageView& view, const cv::Rect& rect, int channels);

}  // namespace siamese::detail
