// faceverify's landmarks (issue 13): a model whose crop policy aligns publishes each face's five
// points (and the 68 on frames where the landmark network ran) in its ROI param and its bus
// message, inside the face's box; a model that does not align publishes none; elements sharing a
// model-instance-id share the landmark network; faceverifyoverlay draws the five points with
// draw-landmarks.
#include <gst/check/gstharness.h>
#include <gst/gst.h>
#include <gst/video/video.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <string>
#include <vector>

#include "face_drawing.h"
#include "faceverify_harness.h"
#include "faceverify_messages.h"
#include "gst_test_support.h"
#include "shared_embedder.h"
#include "siamese/face_align.h"
#include "siamese/model.h"
#include "siamese/pretrained.h"
#include "test_model_fixtures.h"
#include "test_support.h"

namespace {

namespace sg = siamese::gst;
using siamese::Box;
using siamese::Point2f;
using siamese::testing::Harness;
using siamese::testing::Props;

constexpr GstClockTime kFrame = GST_SECOND / 25;
constexpr int kWidth = 640, kHeight = 480, kFrames = 6, kMinFace = 40;

/// The default architecture, untrained, with a crop policy that aligns on the 68 landmarks.
std::string save_aligned_model(const std::string& dir) {
  siamese::ModelInfo info = siamese::testing::untrained_model_info();
  info.input.crop.align = siamese::Align::kLandmarks68;
  info.input.crop.align_padding = siamese::kNativeAlignPadding;
  info.threshold = 1.0f;
  return siamese::testing::save_untrained_model(dir + "/aligned.pt", info, /*seed=*/3);
}

/// s1 walks right, s3 stands: BGR frames.
std::vector<cv::Mat> make_walk(const std::string& att) {
  std::vector<cv::Mat> frames;
  const cv::Mat s1 = siamese::testing::att_face(att, 1, 1);
  const cv::Mat s3 = siamese::testing::att_face(att, 3, 1);
  for (int i = 0; i < kFrames; ++i) {
    frames.push_back(siamese::testing::compose(kWidth, kHeight, {s1, s3},
                                               {cv::Point(60 + 14 * i, 150), cv::Point(430, 200)}));
  }
  return frames;
}

bool inside(const Point2f& p, const Box& b, float margin) {
  return p.x >= b.x - margin && p.x <= b.x + b.width + margin && p.y >= b.y - margin &&
         p.y <= b.y + b.height + margin;
}

/// What one face published: its box and the points of its ROI param and frame message.
struct PublishedFace {
  Box box;
  std::vector<Point2f> points, landmarks;
  bool has_points_field = false, has_landmarks_field = false;
};

std::vector<PublishedFace> meta_points(GstBuffer* buffer) {
  std::vector<PublishedFace> out;
  const sg::UpstreamFaces faces = sg::upstream_faces(buffer, kWidth, kHeight);
  for (size_t i = 0; i < faces.boxes.size(); ++i) {
    const GstStructure* param =
        gst_video_region_of_interest_meta_get_param(faces.metas[i], sg::kParamName);
    REQUIRE(param != nullptr);
    PublishedFace f;
    f.box = faces.boxes[i];
    f.points = sg::points_of(param, sg::kPointsField);
    f.landmarks = sg::points_of(param, sg::kLandmarksField);
    f.has_points_field = gst_structure_has_field(param, sg::kPointsField);
    f.has_landmarks_field = gst_structure_has_field(param, sg::kLandmarksField);
    out.push_back(f);
  }
  return out;
}

std::vector<PublishedFace> message_points(const GstStructure* message) {
  std::vector<PublishedFace> out;
  const GValue* list = gst_structure_get_value(message, "faces");
  REQUIRE(list != nullptr);
  for (guint i = 0; i < gst_value_list_get_size(list); ++i) {
    const GstStructure* face = gst_value_get_structure(gst_value_list_get_value(list, i));
    PublishedFace f;
    gst_structure_get(face, "x", G_TYPE_INT, &f.box.x, "y", G_TYPE_INT, &f.box.y, "width",
                      G_TYPE_INT, &f.box.width, "height", G_TYPE_INT, &f.box.height, nullptr);
    f.points = sg::points_of(face, sg::kPointsField);
    f.landmarks = sg::points_of(face, sg::kLandmarksField);
    f.has_points_field = gst_structure_has_field(face, sg::kPointsField);
    f.has_landmarks_field = gst_structure_has_field(face, sg::kLandmarksField);
    out.push_back(f);
  }
  return out;
}

struct WalkRun {
  std::vector<std::vector<PublishedFace>> metas, messages;  // per frame
};

/// Pushes the walk through the harness (BGRx) and reads what each frame published.
WalkRun run_walk(Harness& harness, const std::vector<cv::Mat>& frames) {
  harness.set_caps(GST_VIDEO_FORMAT_BGRx, kWidth, kHeight);
  for (size_t i = 0; i < frames.size(); ++i) {
    REQUIRE(harness.push(siamese::testing::make_frame(frames[i], GST_VIDEO_FORMAT_BGRx, i * kFrame,
                                                      kFrame)) == GST_FLOW_OK);
  }
  WalkRun run;
  for (GstBuffer* b : harness.pull_all()) {
    run.metas.push_back(meta_points(b));
    gst_buffer_unref(b);
  }
  for (GstStructure* s : harness.messages(sg::kFrameMessageName)) {
    run.messages.push_back(message_points(s));
    gst_structure_free(s);
  }
  CHECK(harness.errors().empty());
  return run;
}

Props walk_props(const std::string& model) {
  return {{"model", model},
          {"min-face-size", std::to_string(kMinFace)},
          {"detect-interval", "2"},
          {"device", "cpu"}};
}

/// The checks of an aligned model's frame: five points per face inside its box; the 68 where the
/// landmark network ran (frames with detection: every face is embedded there, none is verified),
/// their five points the ones published.
void check_aligned_frame(const std::vector<PublishedFace>& faces, bool detection_frame) {
  REQUIRE(faces.size() == 2);
  for (const PublishedFace& f : faces) {
    CAPTURE(f.box.x, f.box.y, f.box.width, f.box.height);
    REQUIRE(f.points.size() == 5);
    for (const Point2f& p : f.points) {
      CAPTURE(p.x, p.y);
      CHECK(inside(p, f.box, 0.0f));
    }
    // Eyes above the nose tip, the nose tip above the mouth corners.
    CHECK(f.points[0].y < f.points[2].y);
    CHECK(f.points[1].y < f.points[2].y);
    CHECK(f.points[2].y < f.points[3].y);
    CHECK(f.points[0].x < f.points[1].x);
    if (detection_frame) {
      REQUIRE(f.landmarks.size() == static_cast<size_t>(siamese::kLandmarkCount));
      siamese::Landmarks68 l;
      for (size_t k = 0; k < l.size(); ++k) {
        l[k] = f.landmarks[k];
        CHECK(inside(l[k], f.box, 0.25f * f.box.width));  // the jaw may reach past the box
      }
      const siamese::FivePoints five = siamese::five_points(l);
      for (size_t k = 0; k < 5; ++k) {
        CHECK(five.points[k].x == Approx(f.points[k].x).margin(1e-3));
        CHECK(five.points[k].y == Approx(f.points[k].y).margin(1e-3));
      }
    } else {
      CHECK_FALSE(f.has_landmarks_field);
    }
  }
}

}  // namespace

TEST_CASE("an aligned model publishes each face's landmarks inside its box, in meta and message",
          "[gst][landmarks]") {
  SIAMESE_REQUIRE_ATT(att);
  SIAMESE_REQUIRE_FACE_API_FILES(weights, siamese::kLandmarkManifest);
  const std::string dir = siamese::testing::temp_dir("faceverify-landmarks");
  const std::string model = save_aligned_model(dir);
  const std::vector<cv::Mat> frames = make_walk(att);
  Harness harness(walk_props(model));
  const WalkRun run = run_walk(harness, frames);
  REQUIRE(run.metas.size() == static_cast<size_t>(kFrames));
  REQUIRE(run.messages.size() == static_cast<size_t>(kFrames));
  for (int i = 0; i < kFrames; ++i) {
    CAPTURE(i);
    // detect-interval 2: even frames detect and measure; odd ones carry the points with the box.
    check_aligned_frame(run.metas[i], i % 2 == 0);
    check_aligned_frame(run.messages[i], i % 2 == 0);
  }
}

TEST_CASE("a model that does not align publishes no landmark fields", "[gst][landmarks]") {
  SIAMESE_REQUIRE_ATT(att);
  const std::string dir = siamese::testing::temp_dir("faceverify-no-landmarks");
  const std::string model = siamese::testing::save_untrained_model(dir, "model.pt", 3);
  Harness harness(walk_props(model));
  const WalkRun run = run_walk(harness, make_walk(att));
  REQUIRE(run.metas.size() == static_cast<size_t>(kFrames));
  REQUIRE(run.messages.size() == static_cast<size_t>(kFrames));
  for (int i = 0; i < kFrames; ++i) {
    CAPTURE(i);
    for (const auto* faces : {&run.metas[i], &run.messages[i]}) {
      CHECK(faces->size() == 2);
      for (const PublishedFace& f : *faces) {
        CHECK_FALSE(f.has_points_field);
        CHECK_FALSE(f.has_landmarks_field);
      }
    }
  }
}

TEST_CASE("elements sharing a model-instance-id share the landmark network of an aligned model",
          "[gst][landmarks]") {
  SIAMESE_REQUIRE_ATT(att);
  SIAMESE_REQUIRE_FACE_API_FILES(weights, siamese::kLandmarkManifest);
  const std::string dir = siamese::testing::temp_dir("faceverify-landmarks-shared");
  const std::string model = save_aligned_model(dir);
  const std::vector<cv::Mat> frames = make_walk(att);
  Props props = walk_props(model);
  props.push_back({"model-instance-id", "landmarks-shared"});
  Harness a(props), b(props);
  const WalkRun run_a = run_walk(a, frames);
  const WalkRun run_b = run_walk(b, frames);
  const std::shared_ptr<sg::SharedModels> shared = sg::find_shared_models("landmarks-shared");
  REQUIRE(shared != nullptr);
  REQUIRE(shared->landmarks() != nullptr);
  CHECK(shared->landmarks()->users() == 2);
  CHECK(shared->landmarks()->forward_count() > 0);
  CHECK(shared->detector_if_any() == nullptr);  // haar: nothing to share
  for (const WalkRun* run : {&run_a, &run_b}) {
    REQUIRE(run->metas.size() == static_cast<size_t>(kFrames));
    for (int i = 0; i < kFrames; ++i) {
      CAPTURE(i);
      check_aligned_frame(run->metas[i], i % 2 == 0);
    }
  }
  // The same frames, the same points, whoever ran the network.
  for (int i = 0; i < kFrames; ++i) {
    for (size_t f = 0; f < run_a.metas[i].size(); ++f) {
      for (size_t k = 0; k < 5; ++k) {
        CHECK(run_a.metas[i][f].points[k].x == Approx(run_b.metas[i][f].points[k].x).margin(1e-3));
        CHECK(run_a.metas[i][f].points[k].y == Approx(run_b.metas[i][f].points[k].y).margin(1e-3));
      }
    }
  }
}

TEST_CASE("faceverifyoverlay draws the five points with draw-landmarks, not without",
          "[gst][landmarks]") {
  siamese::testing::gst_test_init();
  const Box box{100, 80, 160, 180};
  siamese::FaceResult face;
  face.box = box;
  face.track_id = 1;
  face.has_points = true;
  face.points.points = {Point2f{150, 140}, Point2f{210, 140}, Point2f{180, 180}, Point2f{155, 215},
                        Point2f{205, 215}};
  for (const bool draw : {false, true}) {
    CAPTURE(draw);
    GstHarness* h = gst_harness_new("faceverifyoverlay");
    g_object_set(h->element, "draw-landmarks", draw ? TRUE : FALSE, nullptr);
    gst_harness_set_src_caps(h,
                             siamese::testing::video_caps(GST_VIDEO_FORMAT_BGRx, kWidth, kHeight));
    const cv::Mat gray(kHeight, kWidth, CV_8UC3, cv::Scalar(100, 100, 100));
    GstBuffer* in = siamese::testing::make_frame(gray, GST_VIDEO_FORMAT_BGRx);
    sg::attach_face_metas(in, {face}, nullptr);
    GstBuffer* out = gst_harness_push_and_pull(h, in);
    REQUIRE(out != nullptr);
    GstVideoInfo info;
    gst_video_info_set_format(&info, GST_VIDEO_FORMAT_BGRx, kWidth, kHeight);
    GstVideoFrame frame;
    REQUIRE(gst_video_frame_map(&frame, &info, out, GST_MAP_READ));
    const int stride = GST_VIDEO_FRAME_PLANE_STRIDE(&frame, 0);
    const auto* data = static_cast<const uint8_t*>(GST_VIDEO_FRAME_PLANE_DATA(&frame, 0));
    for (const Point2f& p : face.points.points) {
      const uint8_t* px = data + static_cast<ptrdiff_t>(p.y) * stride + static_cast<int>(p.x) * 4;
      CAPTURE(p.x, p.y);
      // A pending face is drawn in the unverified colour (BGRx: blue, green, red).
      if (draw) {
        CHECK(int(px[0]) == sg::kUnverifiedColor.b);
        CHECK(int(px[1]) == sg::kUnverifiedColor.g);
        CHECK(int(px[2]) == sg::kUnverifiedColor.r);
      } else {
        CHECK((int(px[0]) == 100 && int(px[1]) == 100 && int(px[2]) == 100));
      }
    }
    gst_video_frame_unmap(&frame);
    gst_buffer_unref(out);
    gst_harness_teardown(h);
  }
}
