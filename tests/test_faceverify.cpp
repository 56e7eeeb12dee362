// The faceverify element through GstHarness (registered in-process), the built module through
// gst-inspect-1.0, and one real gst-launch-1.0 pipeline over a generated video file.
//
// Models here are untrained but saved: their embeddings are stable, so identical pixels give
// distance ~0 and the nearest enrolled face is the right one; the threshold is set below the
// smallest distance between different enrolled people.

#include <gst/check/gstharness.h>
#include <gst/gst.h>
#include <gst/video/video.h>
#include <torch/torch.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <opencv2/videoio.hpp>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "faceverify_harness.h"
#include "faceverify_scene.h"
#include "gst_test_support.h"
#include "siamese/detector.h"
#include "siamese/image_io.h"
#include "siamese/stream_verifier.h"
#include "test_support.h"

namespace fs = std::filesystem;
using siamese::testing::batch_props;
using siamese::testing::batch_scene;
using siamese::testing::BatchScene;
using siamese::testing::bytes_of;
using siamese::testing::check_faces;
using siamese::testing::fmt;
using siamese::testing::free_structures;
using siamese::testing::Harness;
using siamese::testing::kAllFormats;
using siamese::testing::kFrame;
using siamese::testing::kMinFace;
using siamese::testing::make_scene;
using siamese::testing::MetaFace;
using siamese::testing::Props;
using siamese::testing::Scene;
using siamese::testing::scene_props;
using siamese::testing::unref_all;
using siamese::testing::upstream_frame;

TEST_CASE("faceverify finds and identifies faces in every format at odd frame sizes", "[gst]") {
  SIAMESE_REQUIRE_ATT(att);
  for (const auto& [w, h] : std::vector<std::pair<int, int>>{{385, 289}, {322, 251}}) {
    const Scene s = make_scene(att, w, h);
    for (GstVideoFormat format : kAllFormats) {
      CAPTURE(w, h, gst_video_format_to_string(format));
      Harness harness(scene_props(s));
      harness.set_caps(format, w, h);
      std::vector<std::vector<uint8_t>> inputs;
      for (int i = 0; i < 3; ++i) {
        GstBuffer* frame = siamese::testing::make_frame(s.bgr, format, i * kFrame, kFrame);
        inputs.push_back(bytes_of(frame));
        REQUIRE(harness.push(frame) == GST_FLOW_OK);
      }
      std::vector<GstBuffer*> out = harness.pull_all();
      REQUIRE(out.size() == 3);
      // confirm-frames 2/3 (scene_props): pending on the first frame, verified from the second.
      check_faces(s, siamese::testing::meta_faces(out[0]), false);
      check_faces(s, siamese::testing::meta_faces(out[1]), true);
      check_faces(s, siamese::testing::meta_faces(out[2]), true);
      for (size_t i = 0; i < out.size(); ++i) {
        CHECK(GST_BUFFER_PTS(out[i]) == i * kFrame);
        CHECK(bytes_of(out[i]) == inputs[i]);  // pixels pass through untouched
      }
      // One frame message per frame, with the same faces as the metas.
      auto frames = harness.messages("faceverify");
      REQUIRE(frames.size() == 3);
      guint64 ts = 1;
      REQUIRE(gst_structure_get_uint64(frames[2], "timestamp", &ts));
      CHECK(ts == 2 * kFrame);
      guint64 running = 0;
      REQUIRE(gst_structure_get_uint64(frames[2], "running-time", &running));
      CHECK(running == 2 * kFrame);
      auto message_faces = siamese::testing::message_faces(frames[2]);
      std::sort(message_faces.begin(), message_faces.end(),
                [](const MetaFace& a, const MetaFace& b) { return a.box.x < b.box.x; });
      const auto metas = siamese::testing::meta_faces(out[2]);
      REQUIRE(message_faces.size() == metas.size());
      for (size_t i = 0; i < metas.size(); ++i) {
        CHECK(message_faces[i].box == metas[i].box);
        CHECK(message_faces[i].identity == metas[i].identity);
        CHECK(message_faces[i].track_id == metas[i].track_id);
      }
      // The decisions: s1 and s2 verified on the second frame, the stranger unknown.
      auto decisions = harness.messages("faceverify-decision");
      std::map<std::string, int> verified;
      int unknown = 0;
      for (GstStructure* d : decisions) {
        gboolean v = FALSE;
        gst_structure_get_boolean(d, "verified", &v);
        const gchar* id = gst_structure_get_string(d, "identity");
        if (v) {
          ++verified[id];
          guint64 decided = 0, first = 0;
          gst_structure_get_uint64(d, "running-time", &decided);
          gst_structure_get_uint64(d, "first-seen", &first);
          CHECK(first == 0);
          CHECK(decided == kFrame);
        } else {
          ++unknown;
        }
      }
      CHECK(verified == std::map<std::string, int>{{"s1", 1}, {"s2", 1}});
      CHECK(unknown == 1);
      free_structures(frames);
      free_structures(decisions);
      unref_all(out);
    }
  }
}

TEST_CASE("detect-interval follows faces between detections with stable track ids", "[gst]") {
  SIAMESE_REQUIRE_ATT(att);
  const Scene s = make_scene(att, 385, 289);
  Props props = scene_props(s);
  props.push_back({"detect-interval", "3"});
  Harness harness(props);
  harness.set_caps(GST_VIDEO_FORMAT_I420, s.width, s.height);
  for (int i = 0; i < 7; ++i) {
    REQUIRE(harness.push(siamese::testing::make_frame(s.bgr, GST_VIDEO_FORMAT_I420, i * kFrame)) ==
            GST_FLOW_OK);
  }
  std::vector<GstBuffer*> out = harness.pull_all();
  REQUIRE(out.size() == 7);
  const auto first = siamese::testing::meta_faces(out[0]);
  for (size_t i = 1; i < out.size(); ++i) {
    CAPTURE(i);
    const auto faces = siamese::testing::meta_faces(out[i]);
    // Faces are embedded where detected (frames 0, 3, 6): the second vote comes on frame 3.
    check_faces(s, faces, i >= 3);
    for (size_t k = 0; k < faces.size(); ++k) {
      CHECK(faces[k].track_id == first[k].track_id);
      CHECK(faces[k].box == first[k].box);  // nobody moves: predicted where detected
    }
  }
  unref_all(out);
}

TEST_CASE("claimed-identity verifies only the claimed person (1:1)", "[gst]") {
  SIAMESE_REQUIRE_ATT(att);
  const Scene s = make_scene(att, 385, 289);
  Props props = scene_props(s);
  props.push_back({"claimed-identity", "s2"});
  props.push_back({"confirm-frames", "1/1"});
  Harness harness(props);
  harness.set_caps(GST_VIDEO_FORMAT_BGRx, s.width, s.height);
  REQUIRE(harness.push(siamese::testing::make_frame(s.bgr, GST_VIDEO_FORMAT_BGRx)) == GST_FLOW_OK);
  std::vector<GstBuffer*> out = harness.pull_all();
  REQUIRE(out.size() == 1);
  const auto faces = siamese::testing::meta_faces(out[0]);  // sorted by x: s1, s2, stranger
  REQUIRE(faces.size() == 3);
  CHECK(faces[0].identity.empty());
  CHECK_FALSE(faces[0].verified);
  CHECK(faces[1].identity == "s2");
  CHECK(faces[1].verified);
  CHECK(faces[2].identity.empty());
  unref_all(out);
}

TEST_CASE("the same face gives the same embedding through the element as through the Embedder",
          "[gst]") {
  // detector=upstream with the box of the pasted image: the element crops exactly the pixels
  // of the enrolled AT&T image, through the shared preprocessing.
  SIAMESE_REQUIRE_ATT(att);
  constexpr double kTolerance = 1e-4;  // Euclidean distance between the two embeddings
  const std::string dir = siamese::testing::temp_dir("faceverify-same");
  const std::string model = siamese::testing::save_untrained_model(dir, "model.pt", 3);
  const std::string gallery = dir + "/gallery.db";
  std::vector<std::string> names;
  std::vector<torch::Tensor> rows;
  for (int person : {5, 6, 7}) {
    const cv::Mat face = siamese::testing::att_face(att, person, 2);
    const siamese::ImageView view = siamese::view_of(face);
    rows.push_back(siamese::testing::core_embeddings(model, view, {view.full_box()},
                                                     siamese::Framing::kExact)[0]);
    names.push_back("s" + std::to_string(person));
  }
  siamese::testing::enroll(gallery, model, names, torch::stack(rows));
  // Untrained embeddings of different people lie close together: a threshold below the
  // nearest impostor (margin 0.1 x threshold by default) so that the right one stands out.
  const float threshold = 0.5f * siamese::testing::min_impostor_distance(torch::stack(rows), names);

  const cv::Mat bgr = siamese::testing::compose(
      301, 233, {siamese::testing::att_face(att, 6, 2), siamese::testing::att_face(att, 7, 2)},
      {{13, 17}, {171, 99}});
  for (GstVideoFormat format : {GST_VIDEO_FORMAT_BGRx, GST_VIDEO_FORMAT_RGB, GST_VIDEO_FORMAT_I420,
                                GST_VIDEO_FORMAT_NV12, GST_VIDEO_FORMAT_GRAY8}) {
    CAPTURE(gst_video_format_to_string(format));
    Harness harness({{"model", model},
                     {"gallery", gallery},
                     {"detector", "upstream"},
                     {"confirm-frames", "1/1"},
                     {"device", "cpu"},
                     {"threshold", fmt(threshold)}});
    harness.set_caps(format, bgr.cols, bgr.rows);
    GstBuffer* frame = siamese::testing::make_frame(bgr, format);
    auto* first = gst_buffer_add_video_region_of_interest_meta(frame, "face", 13, 17, 92, 112);
    first->id = 1001;
    gst_buffer_add_video_region_of_interest_meta(frame, "face", 171, 99, 92, 112);
    REQUIRE(harness.push(frame) == GST_FLOW_OK);
    std::vector<GstBuffer*> out = harness.pull_all();
    REQUIRE(out.size() == 1);
    const auto faces = siamese::testing::meta_faces(out[0]);
    REQUIRE(faces.size() == 2);  // the upstream metas got the param; no new metas
    CHECK(faces[0].identity == "s6");
    CHECK(faces[0].distance < kTolerance);
    CHECK(faces[1].identity == "s7");
    CHECK(faces[1].distance < kTolerance);
    CHECK(gst_buffer_get_video_region_of_interest_meta_id(out[0], 1001) != nullptr);
    unref_all(out);
  }
}

TEST_CASE("device=auto without a GPU falls back to the CPU", "[gst]") {
  SIAMESE_REQUIRE_ATT(att);
  if (torch::cuda::is_available()) {
    WARN("skipped: a CUDA GPU is present");
    return;
  }
  const BatchScene s = batch_scene(att);
  Props props = batch_props(s, 1);
  props.push_back({"device", "auto"});
  Harness harness(props);  // asserts the state change succeeded
  harness.set_caps(GST_VIDEO_FORMAT_BGRx, s.bgr.cols, s.bgr.rows);
  REQUIRE(harness.push(upstream_frame(s.bgr, 0)) == GST_FLOW_OK);
  CHECK(gst_harness_buffers_received(harness.get()) == 1);
}

TEST_CASE("message modes: none, every-frame, on-change", "[gst]") {
  SIAMESE_REQUIRE_ATT(att);
  const BatchScene s = batch_scene(att);
  for (const char* mode : {"none", "every-frame", "on-change"}) {
    CAPTURE(mode);
    Props props = batch_props(s, 1);
    props.push_back({"message", mode});
    Harness harness(props);
    harness.set_caps(GST_VIDEO_FORMAT_BGRx, s.bgr.cols, s.bgr.rows);
    for (int i = 0; i < 6; ++i) REQUIRE(harness.push(upstream_frame(s.bgr, i)) == GST_FLOW_OK);
    auto frames = harness.messages("faceverify");
    auto decisions = harness.messages("faceverify-decision");
    if (std::string(mode) == "none") {
      CHECK(frames.empty());
      CHECK(decisions.empty());
    } else if (std::string(mode) == "every-frame") {
      CHECK(frames.size() == 6);
      CHECK(decisions.size() == 1);  // no gallery: the track is decided unknown once
    } else {
      // Frame 0 (pending), frame 2 (decided unknown after 3 embeddings): the other frames
      // repeat the same faces and decisions.
      CHECK(frames.size() == 2);
      CHECK(decisions.size() == 1);
    }
    free_structures(frames);
    free_structures(decisions);
  }
}

TEST_CASE("without the threshold property the gallery's stored threshold decides", "[gst]") {
  SIAMESE_REQUIRE_ATT(att);
  const Scene s = make_scene(att, 385, 289);
  Props props = {{"model", s.model},
                 {"gallery", s.gallery},
                 {"min-face-size", std::to_string(kMinFace)},
                 {"confirm-frames", "1/1"},
                 {"margin", "0"},
                 {"device", "cpu"}};
  for (const float stored : {s.threshold, 1000.0f}) {
    CAPTURE(stored);
    siamese::Gallery::open_unbound(s.gallery, true).set_threshold(stored);
    Harness harness(props);
    harness.set_caps(GST_VIDEO_FORMAT_BGRx, s.width, s.height);
    REQUIRE(harness.push(siamese::testing::make_frame(s.bgr, GST_VIDEO_FORMAT_BGRx)) ==
            GST_FLOW_OK);
    std::vector<GstBuffer*> out = harness.pull_all();
    REQUIRE(out.size() == 1);
    const auto faces = siamese::testing::meta_faces(out[0]);
    if (stored == s.threshold) {
      check_faces(s, faces, true);  // s1 and s2 verified, the stranger unknown
    } else {
      REQUIRE(faces.size() == 3);  // everyone is that close: the stranger passes too
      for (const MetaFace& f : faces) CHECK(f.verified);
    }
    unref_all(out);
  }
}
