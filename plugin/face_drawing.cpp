#include "face_drawing.h"

#include <algorithm>
#include <cmath>
#include <opencv2/imgproc.hpp>

namespace siamese::gst {

namespace {

/// The colour as the channels of a packed format, in memory order.
bool packed_color(GstVideoFormat format, Rgb c, cv::Scalar& out, int& channels) {
  switch (format) {
    case GST_VIDEO_FORMAT_RGB:
      out = cv::Scalar(c.r, c.g, c.b);
      channels = 3;
      return true;
    case GST_VIDEO_FORMAT_BGR:
      out = cv::Scalar(c.b, c.g, c.r);
      channels = 3;
      return true;
    case GST_VIDEO_FORMAT_RGBx:
    case GST_VIDEO_FORMAT_RGBA:
      out = cv::Scalar(c.r, c.g, c.b, 255);
      channels = 4;
      return true;
    case GST_VIDEO_FORMAT_BGRx:
    case GST_VIDEO_FORMAT_BGRA:
      out = cv::Scalar(c.b, c.g, c.r, 255);
      channels = 4;
      return true;
    case GST_VIDEO_FORMAT_xRGB:
      out = cv::Scalar(255, c.r, c.g, c.b);
      channels = 4;
      return true;
    case GST_VIDEO_FORMAT_xBGR:
      out = cv::Scalar(255, c.b, c.g, c.r);
      channels = 4;
      return true;
    default:
      return false;
  }
}

struct Yuv {
  double y, u, v;
};
/// BT.601 limited range, as videoconvert produces for SD video.
Yuv yuv_of(Rgb c) {
  return Yuv{16.0 + 0.257 * c.r + 0.504 * c.g + 0.098 * c.b,
             128.0 - 0.148 * c.r - 0.291 * c.g + 0.439 * c.b,
             128.0 + 0.439 * c.r - 0.368 * c.g - 0.071 * c.b};
}

cv::Mat plane(GstVideoFrame& frame, int index, int type, int width, int height) {
  return cv::Mat(height, width, type, GST_VIDEO_FRAME_PLANE_DATA(&frame, index),
                 static_cast<size_t>(GST_VIDEO_FRAME_PLANE_STRIDE(&frame, index)));
}

/// Box and label on one plane, at scale (1 for full resolution, 0.5 for subsampled chroma).
void draw(cv::Mat& m, const Box& box, const std::string& label, const cv::Scalar& color,
          int thickness, double scale) {
  const int t = std::max(1, static_cast<int>(std::lround(thickness * scale)));
  const cv::Rect r(static_cast<int>(box.x * scale), static_cast<int>(box.y * scale),
                   std::max(1, static_cast<int>(box.width * scale)),
                   std::max(1, static_cast<int>(box.height * scale)));
  cv::rectangle(m, r, color, t);
  if (label.empty()) return;
  const double font = std::clamp(box.width / 160.0, 0.4, 1.5) * scale;
  int baseline = 0;
  const cv::Size size = cv::getTextSize(label, cv::FONT_HERSHEY_SIMPLEX, font, t, &baseline);
  // Above the box when there is room, else just inside its top edge.
  const int y = r.y - t - 2 >= size.height ? r.y - t - 2 : r.y + size.height + t + 2;
  cv::putText(m, label, cv::Point(r.x, y), cv::FONT_HERSHEY_SIMPLEX, font, color, t, cv::LINE_AA);
}

/// Runs draw_plane(plane, colour, scale) on every plane of the frame that shows the colour: the
/// packed plane, or luma at scale 1 and chroma at 0.5. False for a format it cannot draw on.
template <class DrawPlane>
bool draw_on_frame(GstVideoFrame& frame, Rgb color, const DrawPlane& draw_plane) {
  const GstVideoFormat format = GST_VIDEO_FRAME_FORMAT(&frame);
  const int w = GST_VIDEO_FRAME_WIDTH(&frame);
  const int h = GST_VIDEO_FRAME_HEIGHT(&frame);
  cv::Scalar packed;
  int channels = 0;
  if (packed_color(format, color, packed, channels)) {
    cv::Mat m = plane(frame, 0, CV_8UC(channels), w, h);
    draw_plane(m, packed, 1.0);
    return true;
  }
  const Yuv yuv = yuv_of(color);
  const int cw = (w + 1) / 2, ch = (h + 1) / 2;
  switch (format) {
    case GST_VIDEO_FORMAT_GRAY8: {
      // No colour: white for verified, black otherwise.
      cv::Mat y = plane(frame, 0, CV_8UC1, w, h);
      draw_plane(y, cv::Scalar(color.g > color.r ? 255 : 0), 1.0);
      return true;
    }
    case GST_VIDEO_FORMAT_I420: {
      cv::Mat y = plane(frame, 0, CV_8UC1, w, h);
      cv::Mat u = plane(frame, 1, CV_8UC1, cw, ch);
      cv::Mat v = plane(frame, 2, CV_8UC1, cw, ch);
      draw_plane(y, cv::Scalar(yuv.y), 1.0);
      draw_plane(u, cv::Scalar(yuv.u), 0.5);
      draw_plane(v, cv::Scalar(yuv.v), 0.5);
      return true;
    }
    case GST_VIDEO_FORMAT_NV12: {
      cv::Mat y = plane(frame, 0, CV_8UC1, w, h);
      cv::Mat uv = plane(frame, 1, CV_8UC2, cw, ch);
      draw_plane(y, cv::Scalar(yuv.y), 1.0);
      draw_plane(uv, cv::Scalar(yuv.u, yuv.v), 0.5);
      return true;
    }
    default:
      return false;
  }
}

}  // namespace

bool draw_labelled_box(GstVideoFrame& frame, const Box& box, const std::string& label, Rgb color,
                       int thickness) {
  return draw_on_frame(frame, color, [&](cv::Mat& m, const cv::Scalar& c, double scale) {
    draw(m, box, label, c, thickness, scale);
  });
}

bool draw_points(GstVideoFrame& frame, const std::vector<Point2f>& points, Rgb color, int radius) {
  return draw_on_frame(frame, color, [&](cv::Mat& m, const cv::Scalar& c, double scale) {
    const int r = std::max(1, static_cast<int>(std::lround(radius * scale)));
    for (const Point2f& p : points) {
      if (!std::isfinite(p.x) || !std::isfinite(p.y)) continue;
      const cv::Point at(static_cast<int>(std::lround(p.x * scale)),
                         static_cast<int>(std::lround(p.y * scale)));
      cv::circle(m, at, r, c, cv::FILLED);  // OpenCV clips what leaves the plane
    }
  });
}

}  // namespace siamese::gst
