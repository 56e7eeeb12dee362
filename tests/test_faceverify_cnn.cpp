// faceverify with detector=cnn (face-api's TinyFaceDetector, issue 13): the faces of a walk are
// found and verified, in batches of frames (batch-frames, one detector pass per batch) as frame by
// frame; detector-input-size refuses sizes the network cannot take; a missing detector model
// fails start with a RESOURCE error naming the properties and how to fetch the weights; elements
// sharing a model-instance-id share one detector network and still verify.
#include <gst/gst.h>
#include <gst/video/video.h>

#include <catch2/catch.hpp>
#include <cstdlib>
#include <filesystem>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "faceverify_harness.h"
#include "gst_test_support.h"
#include "shared_embedder.h"
#include "siamese/detector.h"
#include "siamese/image_io.h"
#include "siamese/pretrained.h"
#include "test_model_fixtures.h"
#include "test_support.h"

namespace {

using siamese::Box;
using siamese::testing::Harness;
using siamese::testing::MetaFace;
using siamese::testing::Props;

constexpr GstClockTime kFrame = GST_SECOND / 25;
constexpr int kWidth = 640, kHeight = 480, kFrames = 8, kMinFace = 40;

// s1 (enrolled) walks right, s3 (a stranger) stands: the frames and where each face was pasted.
struct Walk {
  std::vector<cv::Mat> frames;
  std::vector<std::vector<Box>> rects;  // per frame: s1's, then s3's
};

Walk make_walk(const std::string& att) {
  Walk w;
  const cv::Mat s1 = siamese::testing::att_face(att, 1, 1),
                s3 = siamese::testing::att_face(att, 3, 1);
  for (int i = 0; i < kFrames; ++i) {
    const cv::Point a(60 + 14 * i, 150), b(430, 200);
    w.frames.push_back(siamese::testing::compose(kWidth, kHeight, {s1, s3}, {a, b}));
    w.rects.push_back({Box{a.x, a.y, 92, 112}, Box{b.x, b.y, 92, 112}});
  }
  return w;
}

int pasted_index(const std::vector<Box>& rects, const Box& box) {
  const int cx = box.x + box.width / 2, cy = box.y + box.height / 2;
  for (size_t i = 0; i < rects.size(); ++i) {
    const Box& r = rects[i];
    if (cx >= r.x && cx < r.x + r.width && cy >= r.y && cy < r.y + r.height)
      return static_cast<int>(i);
  }
  return -1;
}

// Sets SIAMESE_WEIGHTS_DIR for a scope.
struct WeightsDirGuard {
  std::optional<std::string> old;
  explicit WeightsDirGuard(const std::string& dir) {
    if (const char* v = std::getenv("SIAMESE_WEIGHTS_DIR")) old = v;
    setenv("SIAMESE_WEIGHTS_DIR", dir.c_str(), 1);
  }
  ~WeightsDirGuard() {
    if (old) {
      setenv("SIAMESE_WEIGHTS_DIR", old->c_str(), 1);
    } else {
      unsetenv("SIAMESE_WEIGHTS_DIR");
    }
  }
};

}  // namespace

TEST_CASE("detector=cnn finds and verifies the faces of a walk, batched over frames as alone",
          "[gst][cnn-detector]") {
  SIAMESE_REQUIRE_ATT(att);
  SIAMESE_REQUIRE_FACE_API_FILES(weights, siamese::kTinyFaceDetectorWeights);
  const Walk walk = make_walk(att);
  const std::string dir = siamese::testing::temp_dir("faceverify-cnn");
  const std::string model = siamese::testing::save_untrained_model(dir, "model.pt", 7);
  const std::string gallery = dir + "/gallery.db";

  // s1 enrolled from the core's CNN detection of the first frame (the element's own path).
  siamese::FaceDetector detector(
      siamese::DetectorOptions().set_kind("cnn").set_min_face_size(kMinFace));
  const siamese::ImageView first = siamese::view_of(walk.frames[0]);
  const std::vector<Box> boxes = detector.detect(first);
  REQUIRE(boxes.size() == 2);
  const torch::Tensor emb =
      siamese::testing::core_embeddings(model, first, boxes, siamese::Framing::kDetectorBox);
  std::vector<std::string> names(2);
  for (size_t i = 0; i < 2; ++i) {
    names[i] = pasted_index(walk.rects[0], boxes[i]) == 0 ? "s1" : "stranger";
  }
  REQUIRE(names[0] != names[1]);
  const int64_t s1_row = names[0] == "s1" ? 0 : 1;
  siamese::testing::enroll(gallery, model, {"s1"}, emb.narrow(0, s1_row, 1));
  const float threshold = 0.5f * siamese::testing::min_impostor_distance(emb, names);
  REQUIRE(threshold > 0.0f);

  std::vector<std::vector<Box>> boxes_by_run[2];
  int run = 0;
  for (const char* batch_frames : {"1", "4"}) {
    CAPTURE(batch_frames);
    Harness harness({{"model", model},
                     {"gallery", gallery},
                     {"threshold", std::to_string(threshold)},
                     {"detector", "cnn"},
                     {"min-face-size", std::to_string(kMinFace)},
                     {"detect-interval", "1"},
                     {"confirm-frames", "2/3"},
                     {"batch-frames", batch_frames},
                     {"device", "cpu"}});
    harness.set_caps(GST_VIDEO_FORMAT_BGRx, kWidth, kHeight);
    for (int i = 0; i < kFrames; ++i) {
      REQUIRE(harness.push(siamese::testing::make_frame(walk.frames[i], GST_VIDEO_FORMAT_BGRx,
                                                        i * kFrame, kFrame)) == GST_FLOW_OK);
    }
    REQUIRE(gst_harness_push_event(harness.get(), gst_event_new_eos()));  // drains held frames
    std::vector<GstBuffer*> out = harness.pull_all();
    REQUIRE(out.size() == static_cast<size_t>(kFrames));
    CHECK(harness.errors().empty());
    for (int i = 0; i < kFrames; ++i) {
      CAPTURE(i);
      const std::vector<MetaFace> faces = siamese::testing::meta_faces(out[i]);
      REQUIRE(faces.size() == 2);
      std::vector<Box> frame_boxes;
      for (const MetaFace& f : faces) {
        const int who = pasted_index(walk.rects[i], f.box);
        REQUIRE(who >= 0);
        CHECK(f.box.width >= kMinFace);
        CAPTURE(who, f.identity, f.distance, f.state);
        if (who == 0 && i >= 1) {
          CHECK(f.verified);
          CHECK(f.identity == "s1");
        } else {
          CHECK_FALSE(f.verified);
        }
        frame_boxes.push_back(f.box);
      }
      boxes_by_run[run].push_back(frame_boxes);
      gst_buffer_unref(out[i]);
    }
    ++run;
  }
  // One detector pass over four frames finds the boxes it finds frame by frame.
  CHECK((boxes_by_run[0] == boxes_by_run[1]));
}

TEST_CASE("detector-input-size and detector-threshold: defaults, refusals, a missing model",
          "[gst][cnn-detector]") {
  siamese::testing::gst_test_init();
  GstElement* element = gst_element_factory_make("faceverify", nullptr);
  REQUIRE(element != nullptr);
  gint size = 0;
  gdouble threshold = 0.0;
  g_object_get(element, "detector-input-size", &size, "detector-threshold", &threshold, nullptr);
  CHECK(size == siamese::kDefaultDetectorInputSize);
  CHECK(threshold == siamese::kDefaultDetectorThreshold);
  // Not a multiple of 32: refused with a warning, the old value kept.
  g_object_set(element, "detector-input-size", 100, nullptr);
  g_object_get(element, "detector-input-size", &size, nullptr);
  CHECK(size == siamese::kDefaultDetectorInputSize);
  g_object_set(element, "detector-input-size", 224, "detector-threshold", 0.3, nullptr);
  g_object_get(element, "detector-input-size", &size, "detector-threshold", &threshold, nullptr);
  CHECK(size == 224);
  CHECK(threshold == Approx(0.3));
  GParamSpec* spec =
      g_object_class_find_property(G_OBJECT_GET_CLASS(element), "detector-threshold");
  REQUIRE(spec != nullptr);
  CHECK(G_PARAM_SPEC_DOUBLE(spec)->minimum > 0.0);
  CHECK(G_PARAM_SPEC_DOUBLE(spec)->maximum < 1.0);
  gst_object_unref(element);

  // Without the weights, start fails naming the properties and the fetch script.
  const std::string dir = siamese::testing::temp_dir("faceverify-cnn-missing");
  const std::string model = siamese::testing::save_untrained_model(dir, "model.pt", 1);
  const WeightsDirGuard guard(dir);
  element = gst_element_factory_make("faceverify", nullptr);
  gst_util_set_object_arg(G_OBJECT(element), "model", model.c_str());
  gst_util_set_object_arg(G_OBJECT(element), "detector", "cnn");
  gst_util_set_object_arg(G_OBJECT(element), "device", "cpu");
  std::vector<siamese::testing::PostedError> errors;
  CHECK(siamese::testing::start_standalone(element, &errors) == GST_STATE_CHANGE_FAILURE);
  REQUIRE(errors.size() == 1);
  CHECK(errors[0].domain == GST_RESOURCE_ERROR);
  CHECK_THAT(errors[0].message, Catch::Contains("\"detector-input-size\""));
  CHECK_THAT(errors[0].debug, Catch::Contains("tests/fetch_weights.sh"));
  CHECK_THAT(errors[0].debug, Catch::Contains(dir));
  gst_object_unref(element);
}

TEST_CASE("two elements with one model-instance-id and detector=cnn share one detector and verify",
          "[gst][cnn-detector]") {
  SIAMESE_REQUIRE_ATT(att);
  SIAMESE_REQUIRE_FACE_API_FILES(weights, siamese::kTinyFaceDetectorWeights);
  const Walk walk = make_walk(att);
  const std::string dir = siamese::testing::temp_dir("faceverify-cnn-shared");
  const std::string model = siamese::testing::save_untrained_model(dir, "model.pt", 7);
  const std::string gallery = dir + "/gallery.db";
  siamese::FaceDetector detector(
      siamese::DetectorOptions().set_kind("cnn").set_min_face_size(kMinFace));
  const siamese::ImageView first = siamese::view_of(walk.frames[0]);
  const std::vector<Box> boxes = detector.detect(first);
  REQUIRE(boxes.size() == 2);
  const torch::Tensor emb =
      siamese::testing::core_embeddings(model, first, boxes, siamese::Framing::kDetectorBox);
  std::vector<std::string> names(2);
  for (size_t i = 0; i < 2; ++i) {
    names[i] = pasted_index(walk.rects[0], boxes[i]) == 0 ? "s1" : "stranger";
  }
  REQUIRE(names[0] != names[1]);
  siamese::testing::enroll(gallery, model, {"s1"}, emb.narrow(0, names[0] == "s1" ? 0 : 1, 1));
  const float threshold = 0.5f * siamese::testing::min_impostor_distance(emb, names);
  REQUIRE(threshold > 0.0f);

  const Props props = {{"model", model},
                       {"gallery", gallery},
                       {"threshold", std::to_string(threshold)},
                       {"detector", "cnn"},
                       {"min-face-size", std::to_string(kMinFace)},
                       {"detect-interval", "1"},
                       {"confirm-frames", "2/3"},
                       {"device", "cpu"},
                       {"model-instance-id", "two-cnn-cameras"}};
  Harness a(props), b(props);
  Harness* harnesses[] = {&a, &b};
  for (Harness* h : harnesses) h->set_caps(GST_VIDEO_FORMAT_BGRx, kWidth, kHeight);
  // Both streams push their frames at once, as two cameras do.
  std::vector<std::thread> threads;
  GstFlowReturn flows[2] = {GST_FLOW_OK, GST_FLOW_OK};
  for (int k = 0; k < 2; ++k) {
    threads.emplace_back([&, k] {
      for (int i = 0; i < kFrames && flows[k] == GST_FLOW_OK; ++i) {
        flows[k] = harnesses[k]->push(siamese::testing::make_frame(
            walk.frames[i], GST_VIDEO_FORMAT_BGRx, i * kFrame, kFrame));
      }
    });
  }
  for (std::thread& t : threads) t.join();

  // One detector network for both, used by both.
  const std::shared_ptr<siamese::gst::SharedModels> shared =
      siamese::gst::find_shared_models("two-cnn-cameras");
  REQUIRE(shared != nullptr);
  siamese::gst::SharedForward* network = shared->detector_if_any();
  REQUIRE(network != nullptr);
  CHECK(network->users() == 2);
  CHECK(network->forward_count() >= 1);
  CHECK(network->forward_count() <= 2 * kFrames);

  for (int k = 0; k < 2; ++k) {
    CAPTURE(k);
    CHECK(flows[k] == GST_FLOW_OK);
    std::vector<GstBuffer*> out = harnesses[k]->pull_all();
    REQUIRE(out.size() == static_cast<size_t>(kFrames));
    CHECK(harnesses[k]->errors().empty());
    for (int i = 0; i < kFrames; ++i) {
      CAPTURE(i);
      const std::vector<MetaFace> faces = siamese::testing::meta_faces(out[i]);
      REQUIRE(faces.size() == 2);
      for (const MetaFace& f : faces) {
        const int who = pasted_index(walk.rects[i], f.box);
        REQUIRE(who >= 0);
        CAPTURE(who, f.identity, f.distance, f.state);
        if (who == 0 && i >= 1) {
          CHECK(f.verified);
          CHECK(f.identity == "s1");
        } else {
          CHECK_FALSE(f.verified);
        }
      }
      gst_buffer_unref(out[i]);
    }
  }

  // A third element of the id cannot run the shared detector at another input size.
  GstElement* third = gst_element_factory_make("faceverify", nullptr);
  REQUIRE(third != nullptr);
  for (const auto& [name, value] : props) {
    if (name != "gallery") gst_util_set_object_arg(G_OBJECT(third), name.c_str(), value.c_str());
  }
  gst_util_set_object_arg(G_OBJECT(third), "detector-input-size", "320");
  std::vector<siamese::testing::PostedError> errors;
  CHECK(siamese::testing::start_standalone(third, &errors) == GST_STATE_CHANGE_FAILURE);
  REQUIRE(errors.size() == 1);
  CHECK_THAT(errors[0].message, Catch::Contains("\"model-instance-id\""));
  CHECK_THAT(errors[0].debug, Catch::Contains("detector-input-size 416, not 320"));
  gst_object_unref(third);
  CHECK(network->users() == 2);  // the refused element took no share
}
