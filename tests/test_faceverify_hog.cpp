// faceverify with detector=hog (dlib's HOG detector, issue 13): the scene's faces are found and
// identified in gray, packed and planar frames, framed as the core frames them for enrollment;
// a build without dlib fails start with a RESOURCE error naming the package.
#include <gst/gst.h>
#include <gst/video/video.h>

#include <catch2/catch.hpp>
#include <string>
#include <vector>

#include "faceverify_harness.h"
#include "faceverify_scene.h"
#include "gst_test_support.h"
#include "siamese/hog_face_detector.h"
#include "test_support.h"

using siamese::testing::Harness;
using siamese::testing::kFrame;
using siamese::testing::Scene;

TEST_CASE("detector=hog finds and identifies the scene's faces in gray, packed and planar frames",
          "[gst][hog-detector]") {
  SIAMESE_REQUIRE_ATT(att);
  if (!siamese::HogFaceDetector::available()) {
    WARN("skipped: this build has no dlib (libdlib-dev), so no detector=hog");
    return;
  }
  const Scene s = siamese::testing::make_scene(att, 385, 289, "hog");
  for (GstVideoFormat format : {GST_VIDEO_FORMAT_GRAY8, GST_VIDEO_FORMAT_BGRx, GST_VIDEO_FORMAT_RGB,
                                GST_VIDEO_FORMAT_I420}) {
    CAPTURE(gst_video_format_to_string(format));
    Harness harness(siamese::testing::scene_props(s));
    harness.set_caps(format, s.width, s.height);
    for (int i = 0; i < 3; ++i) {
      REQUIRE(harness.push(siamese::testing::make_frame(s.bgr, format, i * kFrame, kFrame)) ==
              GST_FLOW_OK);
    }
    std::vector<GstBuffer*> out = harness.pull_all();
    REQUIRE(out.size() == 3);
    CHECK(harness.errors().empty());
    // confirm-frames 2/3 (scene_props): pending on the first frame, verified from the second.
    siamese::testing::check_faces(s, siamese::testing::meta_faces(out[0]), false);
    siamese::testing::check_faces(s, siamese::testing::meta_faces(out[2]), true);
    siamese::testing::unref_all(out);
  }
}

TEST_CASE("detector=hog is listed, and refused at start naming libdlib-dev where dlib is absent",
          "[gst][hog-detector]") {
  siamese::testing::gst_test_init();
  GstElement* element = gst_element_factory_make("faceverify", nullptr);
  REQUIRE(element != nullptr);
  GParamSpec* spec = g_object_class_find_property(G_OBJECT_GET_CLASS(element), "detector");
  REQUIRE(spec != nullptr);
  CHECK(g_enum_get_value_by_nick(G_PARAM_SPEC_ENUM(spec)->enum_class, "hog") != nullptr);
  if (siamese::HogFaceDetector::available()) {
    gst_object_unref(element);
    return;
  }
  const std::string dir = siamese::testing::temp_dir("faceverify-hog-missing");
  const std::string model = siamese::testing::save_untrained_model(dir, "model.pt", 1);
  gst_util_set_object_arg(G_OBJECT(element), "model", model.c_str());
  gst_util_set_object_arg(G_OBJECT(element), "detector", "hog");
  gst_util_set_object_arg(G_OBJECT(element), "device", "cpu");
  std::vector<siamese::testing::PostedError> errors;
  CHECK(siamese::testing::start_standalone(element, &errors) == GST_STATE_CHANGE_FAILURE);
  REQUIRE(errors.size() == 1);
  CHECK(errors[0].domain == GST_RESOURCE_ERROR);
  CHECK_THAT(errors[0].message, Catch::Contains("\"detector\""));
  CHECK_THAT(errors[0].debug, Catch::Contains("libdlib-dev"));
  gst_object_unref(element);
}
