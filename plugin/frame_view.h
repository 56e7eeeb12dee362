// GstVideoFrame -> siamese::ImageView without copying: plane pointers and strides as mapped.
// Thread-safety: pure functions; the frame must stay mapped while the view is used.
#pragma once

#include <gst/video/video.h>

#include <optional>

#include "siamese/image_view.h"

namespace siamese::gst {

/// The core's pixel format for a GStreamer video format; nullopt when unsupported.
std::optional<PixelFormat> pixel_format_of(GstVideoFormat format);

/// A view of a mapped frame; throws InputError for a format the core does not read.
ImageView view_of_frame(const GstVideoFrame& frame);

/// The caps both elements accept, in GStreamer's format-list syntax.
#define SIAMESE_VIDEO_FORMATS "{ GRAY8, RGB, BGR, RGBx, BGRx, xRGB, xBGR, RGBA, BGRA, I420, NV12 }"

}  // namespace siamese::gst
