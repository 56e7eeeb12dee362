#include "siamese/image_view.h"

#include <algorithm>
#include <cstring>

#include "siamese/errors.h"

namespace siamese {
namespace {

struct FormatName {
  PixelFormat format;
  const char* name;
};

constexpr FormatName kFormatNames[] = {
    {PixelFormat::kGray8, "GRAY8"}, {PixelFormat::kRGB, "RGB"},   {PixelFormat::kBGR, "BGR"},
    {PixelFormat::kRGBx, "RGBx"},   {PixelFormat::kBGRx, "BGRx"}, {PixelFormat::kxRGB, "xRGB"},
    {PixelFormat::kxBGR, "xBGR"},   {PixelFormat::kRGBA, "RGBA"}, {PixelFormat::kBGRA, "BGRA"},
    {PixelFormat::kI420, "I420"},   {PixelFormat::kNV12, "NV12"},
};

}  // namespace

PixelFormat parse_pixel_format(const std::string& name) {
  for (const auto& f : kFormatNames) {
    if (name == f.name) return f.format;
  }
  throw InputError("unsupported pixel format '" + name + "'");
}

const char* pixel_format_name(PixelFormat format) {
  for (const auto& f : kFormatNames) {
    if (format == f.format) return f.name;
  }
  return "?";
}

int bytes_per_pixel(PixelFormat format) {
  switch (format) {
    case PixelFormat::kGray8:
      return 1;
    case PixelFormat::kRGB:
    case PixelFormat::kBGR:
      return 3;
    case PixelFormat::kI420:
    case PixelFormat::kNV12:
      return 0;
    default:
      return 4;
  }
}

long box_intersection_area(const Box& a, const Box& b) {
  const int x0 = std::max(a.x, b.x), y0 = std::max(a.y, b.y);
  const int x1 = std::min(a.x + a.width, b.x + b.width);
  const int y1 = std::min(a.y + a.height, b.y + b.height);
  return static_cast<long>(std::max(0, x1 - x0)) * std::max(0, y1 - y0);
}

float box_iou(const Box& a, const Box& b) {
  const long inter = box_intersection_area(a, b);
  const long uni = static_cast<long>(a.area()) + b.area() - inter;
  return uni > 0 ? static_cast<float>(inter) / static_cast<float>(uni) : 0.0f;
}

ImageView ImageView::packed(const std::uint8_t* data, int width, int height, int stride,
                            PixelFormat format) {
  ImageView v;
  v.planes[0] = data;
  v.strides[0] = stride;
  v.width = width;
  v.height = height;
  v.format = format;
  return v;
}

bool ImageView::has_luma_plane() const {
  return format == PixelFormat::kGray8 || format == PixelFormat::kI420 ||
         format == PixelFormat::kNV12;
}

void ImageView::validate() const {
  const std::string what = std::string(pixel_format_name(format)) + " image " +
                           std::to_string(width) + "x" + std::to_string(height);
  if (width <= 0 || height <= 0) throw InputError(what + ": empty size");
  if (!planes[0]) throw InputError(what + ": no pixel data");
  const int bpp = bytes_per_pixel(format);
  if (bpp > 0 && strides[0] < width * bpp) {
    throw InputError(what + ": stride " + std::to_string(strides[0]) + " is less than " +
                     std::to_string(width * bpp) + " bytes per row");
  }
  if (format == PixelFormat::kI420 || format == PixelFormat::kNV12) {
    if (strides[0] < width) throw InputError(what + ": luma stride too small");
    const int chroma_planes = format == PixelFormat::kI420 ? 2 : 1;
    for (int p = 1; p <= chroma_planes; ++p) {
      if (!planes[p]) throw InputError(what + ": missing chroma plane " + std::to_string(p));
    }
  }
}

}  // namespace siamese
