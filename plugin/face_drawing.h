// Draws labelled boxes and landmark dots straight into a mapped video frame with OpenCV (no
// copy): packed RGB formats through a cv::Mat over the frame, GRAY8 and the luma (and chroma)
// planes of I420/NV12 with their own strides. Thread-safety: pure functions of their arguments.
#pragma once

#include <gst/video/video.h>

#include <string>
#include <vector>

#include "siamese/face_points.h"
#include "siamese/image_view.h"

namespace siamese::gst {

struct Rgb {
  int r = 0, g = 0, b = 0;
};
constexpr Rgb kVerifiedColor{0, 220, 0};
constexpr Rgb kUnverifiedColor{230, 0, 0};

/// Draws box and label (above the box, or inside when at the top) in color; thickness in
/// pixels. Returns false for a format it cannot draw on.
bool draw_labelled_box(GstVideoFrame& frame, const Box& box, const std::string& label, Rgb color,
                       int thickness);
/// Draws each point (frame pixels) as a filled dot of radius pixels in color. Returns false for a
/// format it cannot draw on.
bool draw_points(GstVideoFrame& frame, const std::vector<Point2f>& points, Rgb color, int radius);

}  // namespace siamese::gst
