#include "frame_view.h"

#include <string>

#include "siamese/errors.h"

namespace siamese::gst {

std::optional<PixelFormat> pixel_format_of(GstVideoFormat format) {
  switch (format) {
    case GST_VIDEO_FORMAT_GRAY8:
      return PixelFormat::kGray8;
    case GST_VIDEO_FORMAT_RGB:
      return PixelFormat::kRGB;
    case GST_VIDEO_FORMAT_BGR:
      return PixelFormat::kBGR;
    case GST_VIDEO_FORMAT_RGBx:
      return PixelFormat::kRGBx;
    case GST_VIDEO_FORMAT_BGRx:
      return PixelFormat::kBGRx;
    case GST_VIDEO_FORMAT_xRGB:
      return PixelFormat::kxRGB;
    case GST_VIDEO_FORMAT_xBGR:
      return PixelFormat::kxBGR;
    case GST_VIDEO_FORMAT_RGBA:
      return PixelFormat::kRGBA;
    case GST_VIDEO_FORMAT_BGRA:
      return PixelFormat::kBGRA;
    case GST_VIDEO_FORMAT_I420:
      return PixelFormat::kI420;
    case GST_VIDEO_FORMAT_NV12:
      return PixelFormat::kNV12;
    default:
      return std::nullopt;
  }
}

ImageView view_of_frame(const GstVideoFrame& frame) {
  const GstVideoFormat format = GST_VIDEO_FRAME_FORMAT(&frame);
  const auto pixel_format = pixel_format_of(format);
  if (!pixel_format) {
    throw InputError(std::string("unsupported video format ") + gst_video_format_to_string(format));
  }
  ImageView view;
  view.format = *pixel_format;
  view.width = GST_VIDEO_FRAME_WIDTH(&frame);
  view.height = GST_VIDEO_FRAME_HEIGHT(&frame);
  const guint planes = GST_VIDEO_FRAME_N_PLANES(&frame);
  for (guint p = 0; p < planes && p < view.planes.size(); ++p) {
    view.planes[p] = static_cast<const std::uint8_t*>(GST_VIDEO_FRAME_PLANE_DATA(&frame, p));
    view.strides[p] = GST_VIDEO_FRAME_PLANE_STRIDE(&frame, p);
  }
  view.validate();
  return view;
}

}  // namespace siamese::gst
