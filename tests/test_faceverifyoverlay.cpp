// faceverifyoverlay (DESIGN.md's faceoverlay) through GstHarness: boxes drawn in the right
// colour, channel order and plane, with GStreamer's strides; nothing else touched.
#include <gst/check/gstharness.h>
#include <gst/gst.h>
#include <gst/video/video.h>

#include <array>
#include <catch2/catch.hpp>
#include <cmath>
#include <opencv2/core.hpp>
#include <string>
#include <vector>

#include "face_drawing.h"
#include "gst_test_support.h"

namespace {

constexpr int kWidth = 385, kHeight = 289, kGray = 100;
const siamese::Box kVerifiedBox{40, 50, 80, 90};
const siamese::Box kUnknownBox{200, 60, 70, 70};

GstHarness* overlay_harness(GstVideoFormat format) {
  siamese::testing::gst_test_init();
  GstHarness* h = gst_harness_new("faceverifyoverlay");
  gst_harness_set_src_caps(h, siamese::testing::video_caps(format, kWidth, kHeight));
  return h;
}

GstBuffer* gray_frame(GstVideoFormat format) {
  const cv::Mat bgr(kHeight, kWidth, CV_8UC3, cv::Scalar(kGray, kGray, kGray));
  return siamese::testing::make_frame(bgr, format);
}

void add_face(GstBuffer* b, const siamese::Box& box, bool with_param, bool verified,
              const char* identity) {
  auto* roi = gst_buffer_add_video_region_of_interest_meta(
      b, "face", static_cast<guint>(box.x), static_cast<guint>(box.y),
      static_cast<guint>(box.width), static_cast<guint>(box.height));
  if (with_param) {
    gst_video_region_of_interest_meta_add_param(
        roi, gst_structure_new("faceverify", "identity", G_TYPE_STRING, identity, "distance",
                               G_TYPE_DOUBLE, 0.25, "verified", G_TYPE_BOOLEAN, verified, "state",
                               G_TYPE_STRING, verified ? "verified" : "unknown", "track-id",
                               G_TYPE_INT64, G_GINT64_CONSTANT(1), nullptr));
  }
}

/// The bytes of pixel (x, y) of plane `plane` (all channels of a packed pixel).
std::vector<int> pixel(GstBuffer* b, GstVideoFormat format, int plane, int x, int y) {
  GstVideoInfo info;
  gst_video_info_set_format(&info, format, kWidth, kHeight);
  GstVideoFrame frame;
  REQUIRE(gst_video_frame_map(&frame, &info, b, GST_MAP_READ));
  const int stride = GST_VIDEO_FRAME_PLANE_STRIDE(&frame, plane);
  const int pstride = GST_VIDEO_FRAME_COMP_PSTRIDE(&frame, plane == 0 ? 0 : 1);
  const auto* row = static_cast<const uint8_t*>(GST_VIDEO_FRAME_PLANE_DATA(&frame, plane)) +
                    static_cast<ptrdiff_t>(y) * stride;
  const int n =
      GST_VIDEO_INFO_IS_YUV(&info) || format == GST_VIDEO_FORMAT_GRAY8 ? pstride : pstride;
  std::vector<int> out;
  for (int i = 0; i < n; ++i) out.push_back(row[x * pstride + i]);
  gst_video_frame_unmap(&frame);
  return out;
}

/// The expected bytes of a packed pixel of colour c in memory order (x = 255 pad).
std::vector<int> packed(GstVideoFormat format, siamese::gst::Rgb c) {
  switch (format) {
    case GST_VIDEO_FORMAT_RGB:
      return {c.r, c.g, c.b};
    case GST_VIDEO_FORMAT_BGR:
      return {c.b, c.g, c.r};
    case GST_VIDEO_FORMAT_RGBx:
    case GST_VIDEO_FORMAT_RGBA:
      return {c.r, c.g, c.b, 255};
    case GST_VIDEO_FORMAT_BGRx:
    case GST_VIDEO_FORMAT_BGRA:
      return {c.b, c.g, c.r, 255};
    case GST_VIDEO_FORMAT_xRGB:
      return {255, c.r, c.g, c.b};
    case GST_VIDEO_FORMAT_xBGR:
      return {255, c.b, c.g, c.r};
    default:
      return {};
  }
}

int luma(siamese::gst::Rgb c) {
  return static_cast<int>(std::lround(16.0 + 0.257 * c.r + 0.504 * c.g + 0.098 * c.b));
}
int cb(siamese::gst::Rgb c) {
  return static_cast<int>(std::lround(128.0 - 0.148 * c.r - 0.291 * c.g + 0.439 * c.b));
}
int cr(siamese::gst::Rgb c) {
  return static_cast<int>(std::lround(128.0 + 0.439 * c.r - 0.368 * c.g - 0.071 * c.b));
}

}  // namespace

TEST_CASE("faceverifyoverlay draws verified faces green and the others red", "[gst]") {
  using siamese::gst::kUnverifiedColor;
  using siamese::gst::kVerifiedColor;
  for (GstVideoFormat format :
       {GST_VIDEO_FORMAT_RGB, GST_VIDEO_FORMAT_BGR, GST_VIDEO_FORMAT_RGBx, GST_VIDEO_FORMAT_BGRx,
        GST_VIDEO_FORMAT_xRGB, GST_VIDEO_FORMAT_xBGR, GST_VIDEO_FORMAT_RGBA, GST_VIDEO_FORMAT_BGRA,
        GST_VIDEO_FORMAT_I420, GST_VIDEO_FORMAT_NV12, GST_VIDEO_FORMAT_GRAY8}) {
    CAPTURE(gst_video_format_to_string(format));
    GstHarness* h = overlay_harness(format);
    GstBuffer* in = gray_frame(format);
    add_face(in, kVerifiedBox, true, true, "alice");
    add_face(in, kUnknownBox, true, false, "");
    GstBuffer* out = gst_harness_push_and_pull(h, in);
    REQUIRE(out != nullptr);
    // Left edges at mid-height, and the boxes' centres (untouched).
    const int vx = kVerifiedBox.x, vy = kVerifiedBox.y + kVerifiedBox.height / 2;
    const int ux = kUnknownBox.x, uy = kUnknownBox.y + kUnknownBox.height / 2;
    const int cx = kVerifiedBox.x + kVerifiedBox.width / 2;
    if (format == GST_VIDEO_FORMAT_GRAY8) {
      CHECK(pixel(out, format, 0, vx, vy) == std::vector<int>{255});
      CHECK(pixel(out, format, 0, ux, uy) == std::vector<int>{0});
      CHECK(pixel(out, format, 0, cx, vy) == std::vector<int>{kGray});
    } else if (format == GST_VIDEO_FORMAT_I420 || format == GST_VIDEO_FORMAT_NV12) {
      CHECK(pixel(out, format, 0, vx, vy) == std::vector<int>{luma(kVerifiedColor)});
      CHECK(pixel(out, format, 0, ux, uy) == std::vector<int>{luma(kUnverifiedColor)});
      CHECK(pixel(out, format, 0, cx, vy) == std::vector<int>{kGray});
      if (format == GST_VIDEO_FORMAT_I420) {
        CHECK(pixel(out, format, 1, vx / 2, vy / 2) == std::vector<int>{cb(kVerifiedColor)});
        CHECK(pixel(out, format, 2, ux / 2, uy / 2) == std::vector<int>{cr(kUnverifiedColor)});
        CHECK(pixel(out, format, 1, cx / 2, vy / 2) == std::vector<int>{128});
      } else {
        CHECK(pixel(out, format, 1, vx / 2, vy / 2) ==
              std::vector<int>{cb(kVerifiedColor), cr(kVerifiedColor)});
        CHECK(pixel(out, format, 1, cx / 2, vy / 2) == std::vector<int>{128, 128});
      }
    } else {
      CHECK(pixel(out, format, 0, vx, vy) == packed(format, kVerifiedColor));
      CHECK(pixel(out, format, 0, ux, uy) == packed(format, kUnverifiedColor));
      const std::vector<int> background = packed(format, {kGray, kGray, kGray});
      CHECK(pixel(out, format, 0, cx, vy) == background);
      CHECK(pixel(out, format, 0, kWidth - 1, kHeight - 1) == background);
    }
    gst_buffer_unref(out);
    gst_harness_teardown(h);
  }
}

TEST_CASE("faceverifyoverlay leaves frames without face metas untouched", "[gst]") {
  GstHarness* h = overlay_harness(GST_VIDEO_FORMAT_I420);
  GstBuffer* in = gray_frame(GST_VIDEO_FORMAT_I420);
  gst_buffer_add_video_region_of_interest_meta(in, "car", 10, 10, 50, 50);  // not a face
  std::vector<uint8_t> before(gst_buffer_get_size(in));
  gst_buffer_extract(in, 0, before.data(), before.size());
  GstBuffer* out = gst_harness_push_and_pull(h, in);
  std::vector<uint8_t> after(gst_buffer_get_size(out));
  gst_buffer_extract(out, 0, after.data(), after.size());
  CHECK(before == after);
  gst_buffer_unref(out);
  gst_harness_teardown(h);
}

TEST_CASE("faceverifyoverlay draws faces from other detectors (no param) as unverified", "[gst]") {
  GstHarness* h = overlay_harness(GST_VIDEO_FORMAT_BGRx);
  GstBuffer* in = gray_frame(GST_VIDEO_FORMAT_BGRx);
  add_face(in, kVerifiedBox, false, false, "");
  // A box reaching past the frame edge is clipped, not a crash.
  add_face(in, siamese::Box{kWidth - 30, kHeight - 30, 100, 100}, true, true, "bob");
  GstBuffer* out = gst_harness_push_and_pull(h, in);
  CHECK(pixel(out, GST_VIDEO_FORMAT_BGRx, 0, kVerifiedBox.x,
              kVerifiedBox.y + kVerifiedBox.height / 2) ==
        packed(GST_VIDEO_FORMAT_BGRx, siamese::gst::kUnverifiedColor));
  CHECK(pixel(out, GST_VIDEO_FORMAT_BGRx, 0, kWidth - 30, kHeight - 10) ==
        packed(GST_VIDEO_FORMAT_BGRx, siamese::gst::kVerifiedColor));
  gst_buffer_unref(out);
  gst_harness_teardown(h);
}
