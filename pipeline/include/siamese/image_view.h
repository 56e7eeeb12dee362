// A non-owning view of one video frame or image: plane pointers, strides, size and pixel
// format, exactly as a GstVideoFrame or a cv::Mat holds them (no copy).
// Thread-safety: a plain value; the pixels must outlive the view.
#pragma once

#include <array>
#include <cstdint>
#include <string>

namespace siamese {

/// The formats cameras and decoders produce (names as in GStreamer's video formats).
enum class PixelFormat {
  kGray8,
  kRGB,
  kBGR,
  kRGBx,
  kBGRx,
  kxRGB,
  kxBGR,
  kRGBA,
  kBGRA,
  kI420,
  kNV12
};

/// Parses a GStreamer-style name ("GRAY8", "BGRx", "I420", ...); throws InputError otherwise.
PixelFormat parse_pixel_format(const std::string& name);
/// The GStreamer-style name of a format.
const char* pixel_format_name(PixelFormat format);

/// A rectangle in pixels of the full frame (x, y = top-left corner).
struct Box {
  int x = 0;
  int y = 0;
  int width = 0;
  int height = 0;
  int area() const { return width * height; }
  bool operator==(const Box& o) const {
    return x == o.x && y == o.y && width == o.width && height == o.height;
  }
};

/// Pixels two boxes share (0 when they do not overlap).
long box_intersection_area(const Box& a, const Box& b);
/// Intersection over union of two boxes, 0..1.
float box_iou(const Box& a, const Box& b);

struct ImageView {
  std::array<const std::uint8_t*, 3> planes{};  // one for packed formats; Y,U,V or Y,UV for YUV
  std::array<int, 3> strides{};                 // bytes per row of each plane
  int width = 0;
  int height = 0;
  PixelFormat format = PixelFormat::kGray8;

  /// A single-plane (packed or gray) view; stride in bytes.
  static ImageView packed(const std::uint8_t* data, int width, int height, int stride,
                          PixelFormat format);
  /// The whole image as a box.
  Box full_box() const { return Box{0, 0, width, height}; }
  /// True for GRAY8, I420 and NV12, whose first plane is the luma a gray model reads directly.
  bool has_luma_plane() const;
  /// Checks pointers, sizes and strides; throws InputError naming what is wrong.
  void validate() const;
};

/// Bytes per pixel of a packed format (1 for GRAY8; 0 for planar YUV).
int bytes_per_pixel(PixelFormat format);

}  // namespace siamese
