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
#include "gst_test_support.h"
#include "siamese/detector.h"
#include "siamese/stream_verifier.h"
#include "siamese/image_io.h"
#include "test_support.h"

namespace fs = std::filesystem;
using siamese::Box;
using siamese::testing::MetaFace;

namespace {

using siamese::testing::Harness;
using siamese::testing::Props;

void free_structures(std::vector<GstStructure*>& v) {
  for (GstStructure* s : v) gst_structure_free(s);
  v.clear();
}

void unref_all(std::vector<GstBuffer*>& v) {
  for (GstBuffer* b : v) gst_buffer_unref(b);
  v.clear();
}

bool contains(const Box& outer, int x, int y) {
  return x >= outer.x && x < outer.x + outer.width && y >= outer.y && y < outer.y + outer.height;
}

Box center_in(const std::vector<Box>& rects, const Box& b, int* index) {
  for (size_t i = 0; i < rects.size(); ++i) {
    if (contains(rects[i], b.x + b.width / 2, b.y + b.height / 2)) {
      *index = static_cast<int>(i);
      return rects[i];
    }
  }
  *index = -1;
  return Box{};
}

std::string fmt(float v) {
  std::ostringstream s;
  s.precision(9);
  s << v;
  return s.str();
}

constexpr GstClockTime kFrame = GST_SECOND / 25;

const std::vector<GstVideoFormat> kAllFormats = {
    GST_VIDEO_FORMAT_GRAY8, GST_VIDEO_FORMAT_RGB,  GST_VIDEO_FORMAT_BGR,  GST_VIDEO_FORMAT_RGBx,
    GST_VIDEO_FORMAT_BGRx,  GST_VIDEO_FORMAT_xRGB, GST_VIDEO_FORMAT_xBGR, GST_VIDEO_FORMAT_RGBA,
    GST_VIDEO_FORMAT_BGRA,  GST_VIDEO_FORMAT_I420, GST_VIDEO_FORMAT_NV12};

/// Frames with known faces, a model and a gallery where the detector finds them.
struct Scene {
  std::string dir, model, gallery;
  int width = 0, height = 0;
  cv::Mat bgr;
  std::vector<Box> rects;             // where each face was pasted
  std::vector<std::string> expected;  // identity per rect, "" for the stranger
  float threshold = 0.0f;
};

constexpr int kMinFace = 40;

/// s1 and s2 enrolled from the core's own detection and embedding of this frame, s4 enrolled
/// from elsewhere, s3 a stranger; threshold below the nearest impostor distance.
Scene make_scene(const std::string& att, int width, int height) {
  Scene s;
  s.dir = siamese::testing::temp_dir("faceverify-scene");
  s.model = siamese::testing::save_untrained_model(s.dir, "model.pt", 7);
  s.gallery = s.dir + "/gallery.db";
  s.width = width;
  s.height = height;
  const std::vector<cv::Point> corners = {{5, 10}, {115, 130}, {225, 10}};
  const std::vector<cv::Mat> faces = {siamese::testing::att_face(att, 1, 1),
                                      siamese::testing::att_face(att, 2, 1),
                                      siamese::testing::att_face(att, 3, 1)};
  s.bgr = siamese::testing::compose(width, height, faces, corners);
  for (const auto& c : corners) s.rects.push_back(Box{c.x, c.y, 92, 112});
  s.expected = {"s1", "s2", ""};

  siamese::FaceDetector detector(siamese::DetectorOptions{}.set_min_face_size(kMinFace));
  const siamese::ImageView view = siamese::view_of(s.bgr);
  const std::vector<Box> boxes = detector.detect(view);
  REQUIRE(boxes.size() == 3);
  const torch::Tensor emb =
      siamese::testing::core_embeddings(s.model, view, boxes, siamese::Framing::kDetectorBox);
  std::vector<std::string> names;
  std::vector<torch::Tensor> rows;
  for (size_t i = 0; i < boxes.size(); ++i) {
    int index = -1;
    center_in(s.rects, boxes[i], &index);
    REQUIRE(index >= 0);
    if (s.expected[static_cast<size_t>(index)].empty()) continue;  // the stranger
    names.push_back(s.expected[static_cast<size_t>(index)]);
    rows.push_back(emb[static_cast<int64_t>(i)]);
  }
  // Another enrolled person, not in the picture, from the whole AT&T image.
  const cv::Mat other = siamese::testing::att_face(att, 4, 1);
  const siamese::ImageView other_view = siamese::view_of(other);
  rows.push_back(siamese::testing::core_embeddings(s.model, other_view, {other_view.full_box()},
                                                   siamese::Framing::kExact)[0]);
  names.push_back("s4");
  // The stranger's embedding only to bound the threshold below it.
  std::vector<std::string> all_names = names;
  std::vector<torch::Tensor> all_rows = rows;
  for (size_t i = 0; i < boxes.size(); ++i) {
    int index = -1;
    center_in(s.rects, boxes[i], &index);
    if (s.expected[static_cast<size_t>(index)].empty()) {
      all_names.push_back("stranger");
      all_rows.push_back(emb[static_cast<int64_t>(i)]);
    }
  }
  const torch::Tensor matrix = torch::stack(rows);
  siamese::testing::enroll(s.gallery, s.model, names, matrix);
  s.threshold = 0.5f * siamese::testing::min_impostor_distance(torch::stack(all_rows), all_names);
  REQUIRE(s.threshold > 0.0f);
  return s;
}

Props scene_props(const Scene& s) {
  return {{"model", s.model},
          {"gallery", s.gallery},
          {"threshold", fmt(s.threshold)},
          {"min-face-size", std::to_string(kMinFace)},
          {"detect-interval", "1"},  // every frame measured: embedded, so decided in two
          {"confirm-frames", "2/3"},
          {"device", "cpu"}};
}

/// Checks one output frame's faces against the scene: boxes inside the pasted faces, enrolled
/// people identified, the stranger unknown.
void check_faces(const Scene& s, const std::vector<MetaFace>& faces, bool expect_verified) {
  REQUIRE(faces.size() == 3);
  std::vector<bool> seen(3, false);
  for (const MetaFace& f : faces) {
    int index = -1;
    center_in(s.rects, f.box, &index);
    REQUIRE(index >= 0);
    CHECK_FALSE(seen[static_cast<size_t>(index)]);
    seen[static_cast<size_t>(index)] = true;
    CHECK(f.box.width >= kMinFace);
    CHECK(f.box.width <= 112);
    REQUIRE(f.has_param);
    const std::string& expected = s.expected[static_cast<size_t>(index)];
    CAPTURE(expected, f.identity, f.distance, f.state);
    if (expected.empty()) {
      CHECK(f.identity.empty());
      CHECK_FALSE(f.verified);
      CHECK(f.distance > s.threshold);
    } else if (expect_verified) {
      CHECK(f.identity == expected);
      CHECK(f.verified);
      CHECK(f.distance <= s.threshold);
      CHECK(f.state == "verified");
    } else {
      CHECK(f.identity.empty());  // nobody is verified before confirm-frames agree
      CHECK(f.state == "pending");
    }
  }
}

std::vector<uint8_t> bytes_of(GstBuffer* b) {
  std::vector<uint8_t> v(gst_buffer_get_size(b));
  gst_buffer_extract(b, 0, v.data(), v.size());
  return v;
}

}  // namespace

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

namespace {

/// Records the order of buffers and serialized events leaving the element.
struct Sequence {
  std::string text;
  static GstPadProbeReturn probe(GstPad*, GstPadProbeInfo* info, gpointer data) {
    auto* self = static_cast<Sequence*>(data);
    if (GST_PAD_PROBE_INFO_TYPE(info) & GST_PAD_PROBE_TYPE_BUFFER) {
      self->text += "B";
    } else if (GstEvent* e = GST_PAD_PROBE_INFO_EVENT(info)) {
      switch (GST_EVENT_TYPE(e)) {
        case GST_EVENT_CAPS:
          self->text += "C";
          break;
        case GST_EVENT_SEGMENT:
          self->text += "S";
          break;
        case GST_EVENT_GAP:
          self->text += "G";
          break;
        case GST_EVENT_EOS:
          self->text += "E";
          break;
        default:
          break;
      }
    }
    return GST_PAD_PROBE_OK;
  }
  void attach(GstElement* element) {
    GstPad* pad = gst_element_get_static_pad(element, "src");
    gst_pad_add_probe(pad,
                      static_cast<GstPadProbeType>(GST_PAD_PROBE_TYPE_BUFFER |
                                                   GST_PAD_PROBE_TYPE_EVENT_DOWNSTREAM),
                      probe, this, nullptr);
    gst_object_unref(pad);
  }
};

/// A small frame with one face announced upstream (no detector: fast).
GstBuffer* upstream_frame(const cv::Mat& bgr, int index) {
  GstBuffer* b = siamese::testing::make_frame(bgr, GST_VIDEO_FORMAT_BGRx, index * kFrame, kFrame);
  gst_buffer_add_video_region_of_interest_meta(b, "face", 8, 8, 92, 112);
  return b;
}

struct BatchScene {
  std::string model;
  cv::Mat bgr;
};

BatchScene batch_scene(const std::string& att) {
  BatchScene s;
  const std::string dir = siamese::testing::temp_dir("faceverify-batch");
  s.model = siamese::testing::save_untrained_model(dir, "model.pt", 11);
  s.bgr = siamese::testing::compose(121, 135, {siamese::testing::att_face(att, 9, 3)}, {{8, 8}});
  return s;
}

Props batch_props(const BatchScene& s, int batch_frames) {
  return {{"model", s.model},
          {"detector", "upstream"},
          {"device", "cpu"},
          {"batch-frames", std::to_string(batch_frames)}};
}

}  // namespace

TEST_CASE("batch-frames=4 holds frames, keeps their order and count, and EOS drains them",
          "[gst]") {
  SIAMESE_REQUIRE_ATT(att);
  const BatchScene s = batch_scene(att);
  Harness harness(batch_props(s, 4));
  Sequence seq;
  seq.attach(harness.element());
  harness.set_caps(GST_VIDEO_FORMAT_BGRx, s.bgr.cols, s.bgr.rows);
  for (int i = 0; i < 3; ++i) REQUIRE(harness.push(upstream_frame(s.bgr, i)) == GST_FLOW_OK);
  CHECK(gst_harness_buffers_received(harness.get()) == 0);  // held
  REQUIRE(harness.push(upstream_frame(s.bgr, 3)) == GST_FLOW_OK);
  CHECK(gst_harness_buffers_received(harness.get()) == 4);  // one batch of four
  for (int i = 4; i < 14; ++i) REQUIRE(harness.push(upstream_frame(s.bgr, i)) == GST_FLOW_OK);
  CHECK(gst_harness_buffers_received(harness.get()) == 12);  // two held
  REQUIRE(gst_harness_push_event(harness.get(), gst_event_new_eos()));
  CHECK(gst_harness_buffers_received(harness.get()) == 14);
  std::vector<GstBuffer*> out = harness.pull_all();
  REQUIRE(out.size() == 14);
  for (size_t i = 0; i < out.size(); ++i) {
    CHECK(GST_BUFFER_PTS(out[i]) == i * kFrame);
    const auto faces = siamese::testing::meta_faces(out[i]);
    REQUIRE(faces.size() == 1);
    CHECK(faces[0].has_param);
  }
  // Every frame had its message, in order; EOS came after the drained frames.
  auto frames = harness.messages("faceverify");
  REQUIRE(frames.size() == 14);
  for (size_t i = 0; i < frames.size(); ++i) {
    guint64 ts = 0;
    gst_structure_get_uint64(frames[i], "timestamp", &ts);
    CHECK(ts == i * kFrame);
  }
  CHECK(seq.text.find("BBBBBBBBBBBBBBE") != std::string::npos);
  free_structures(frames);
  unref_all(out);
}

TEST_CASE("serialized events never overtake held frames", "[gst]") {
  SIAMESE_REQUIRE_ATT(att);
  const BatchScene s = batch_scene(att);
  Harness harness(batch_props(s, 4));
  Sequence seq;
  seq.attach(harness.element());
  harness.set_caps(GST_VIDEO_FORMAT_BGRx, s.bgr.cols, s.bgr.rows);
  seq.text.clear();
  REQUIRE(harness.push(upstream_frame(s.bgr, 0)) == GST_FLOW_OK);
  REQUIRE(harness.push(upstream_frame(s.bgr, 1)) == GST_FLOW_OK);
  REQUIRE(gst_harness_push_event(harness.get(), gst_event_new_gap(2 * kFrame, kFrame)));
  CHECK(seq.text == "BBG");
  REQUIRE(harness.push(upstream_frame(s.bgr, 3)) == GST_FLOW_OK);
  GstSegment segment;
  gst_segment_init(&segment, GST_FORMAT_TIME);
  REQUIRE(gst_harness_push_event(harness.get(), gst_event_new_segment(&segment)));
  CHECK(seq.text == "BBGBS");
  REQUIRE(harness.push(upstream_frame(s.bgr, 4)) == GST_FLOW_OK);
  harness.set_caps(GST_VIDEO_FORMAT_BGRx, s.bgr.cols, s.bgr.rows);  // the same caps again
  REQUIRE(harness.push(upstream_frame(s.bgr, 5)) == GST_FLOW_OK);
  REQUIRE(gst_harness_push_event(harness.get(), gst_event_new_eos()));
  CHECK(seq.text.substr(0, 6) == "BBGBSB");
  CHECK(seq.text.back() == 'E');
  CHECK(gst_harness_buffers_received(harness.get()) == 5);
}

TEST_CASE("a flush drops held frames", "[gst]") {
  SIAMESE_REQUIRE_ATT(att);
  const BatchScene s = batch_scene(att);
  Harness harness(batch_props(s, 4));
  harness.set_caps(GST_VIDEO_FORMAT_BGRx, s.bgr.cols, s.bgr.rows);
  REQUIRE(harness.push(upstream_frame(s.bgr, 0)) == GST_FLOW_OK);
  REQUIRE(harness.push(upstream_frame(s.bgr, 1)) == GST_FLOW_OK);
  REQUIRE(gst_harness_push_event(harness.get(), gst_event_new_flush_start()));
  REQUIRE(gst_harness_push_event(harness.get(), gst_event_new_flush_stop(TRUE)));
  GstSegment segment;
  gst_segment_init(&segment, GST_FORMAT_TIME);
  REQUIRE(gst_harness_push_event(harness.get(), gst_event_new_segment(&segment)));
  for (int i = 10; i < 14; ++i) REQUIRE(harness.push(upstream_frame(s.bgr, i)) == GST_FLOW_OK);
  std::vector<GstBuffer*> out = harness.pull_all();
  REQUIRE(out.size() == 4);
  for (size_t i = 0; i < out.size(); ++i) CHECK(GST_BUFFER_PTS(out[i]) == (10 + i) * kFrame);
  unref_all(out);
}

TEST_CASE("the latency query adds the frames batch-frames holds", "[gst]") {
  SIAMESE_REQUIRE_ATT(att);
  const BatchScene s = batch_scene(att);
  for (int batch_frames : {1, 4}) {
    Harness harness(batch_props(s, batch_frames));
    harness.set_caps(GST_VIDEO_FORMAT_BGRx, s.bgr.cols, s.bgr.rows);  // 25 fps
    CHECK(gst_harness_query_latency(harness.get()) ==
          static_cast<GstClockTime>(batch_frames - 1) * kFrame);
  }
}

TEST_CASE("caps may change mid-stream, with a frame held", "[gst]") {
  SIAMESE_REQUIRE_ATT(att);
  const Scene big = make_scene(att, 385, 289);
  // The second format and size, enrolled into the same gallery's identities: the scene's
  // faces at the same corners, so the same identities come out.
  const cv::Mat small = siamese::testing::compose(
      337, 251,
      {siamese::testing::att_face(att, 1, 1), siamese::testing::att_face(att, 2, 1),
       siamese::testing::att_face(att, 3, 1)},
      {{5, 10}, {115, 130}, {225, 10}});
  Props props = scene_props(big);
  props.push_back({"batch-frames", "2"});
  props.push_back({"confirm-frames", "1/1"});
  Harness harness(props);
  harness.set_caps(GST_VIDEO_FORMAT_BGRx, 385, 289);
  REQUIRE(harness.push(siamese::testing::make_frame(big.bgr, GST_VIDEO_FORMAT_BGRx, 0)) ==
          GST_FLOW_OK);
  harness.set_caps(GST_VIDEO_FORMAT_I420, 337, 251);  // drains the held BGRx frame first
  for (int i = 1; i < 3; ++i) {
    REQUIRE(harness.push(siamese::testing::make_frame(small, GST_VIDEO_FORMAT_I420, i * kFrame)) ==
            GST_FLOW_OK);
  }
  std::vector<GstBuffer*> out = harness.pull_all();
  REQUIRE(out.size() == 3);
  CHECK(gst_buffer_get_size(out[0]) == 385 * 4 * 289);
  for (GstBuffer* b : out) {
    const auto faces = siamese::testing::meta_faces(b);
    REQUIRE(faces.size() == 3);
    for (const MetaFace& f : faces) {
      int index = -1;
      center_in(big.rects, f.box, &index);
      REQUIRE(index >= 0);
      if (index < 2) {
        // The 337x251 frame's detections may differ by a pixel from the enrolled ones; the
        // identity must still be the nearest, and only the stranger may be unknown.
        CHECK((f.identity == big.expected[static_cast<size_t>(index)] || f.identity.empty()));
      } else {
        CHECK(f.identity.empty());
      }
    }
  }
  const auto first = siamese::testing::meta_faces(out[0]);
  CHECK(first[0].identity == "s1");
  CHECK(first[1].identity == "s2");
  unref_all(out);
}

TEST_CASE("faceverify properties: defaults and ranges", "[gst]") {
  siamese::testing::gst_test_init();
  GstElement* e = gst_element_factory_make("faceverify", nullptr);
  REQUIRE(e != nullptr);
  GObjectClass* klass = G_OBJECT_GET_CLASS(e);
  auto spec = [klass](const char* name) {
    GParamSpec* p = g_object_class_find_property(klass, name);
    REQUIRE(p != nullptr);
    return p;
  };
  auto int_spec = [&](const char* name, int def, int min, int max) {
    CAPTURE(name);
    auto* p = G_PARAM_SPEC_INT(spec(name));
    CHECK(p->default_value == def);
    CHECK(p->minimum == min);
    CHECK(p->maximum == max);
    CHECK(g_param_spec_get_blurb(G_PARAM_SPEC(p)) != nullptr);
  };
  int_spec("batch-size", 32, 1, 4096);
  int_spec("batch-frames", 1, 1, 64);
  int_spec("min-face-size", siamese::kDefaultMinFaceSize, 8, 4096);
  int_spec("detect-interval", siamese::kDefaultDetectInterval, 1, 100000);
  int_spec("reverify-interval", 15, 0, 100000);
  int_spec("threads", 0, 0, 256);
  auto* threshold = G_PARAM_SPEC_FLOAT(spec("threshold"));
  CHECK(threshold->default_value == -1.0f);
  CHECK(threshold->minimum == -1.0f);
  auto* scale = G_PARAM_SPEC_DOUBLE(spec("scale-factor"));
  CHECK(scale->default_value == siamese::DetectorOptions{}.scale_factor);
  CHECK(scale->minimum > 1.0);
  auto* margin = G_PARAM_SPEC_FLOAT(spec("margin"));
  CHECK(margin->default_value == -1.0f);
  CHECK(std::string(G_PARAM_SPEC_STRING(spec("device"))->default_value) == "auto");
  CHECK(std::string(G_PARAM_SPEC_STRING(spec("confirm-frames"))->default_value) == "4/6");
  CHECK(G_PARAM_SPEC_STRING(spec("model"))->default_value == nullptr);
  CHECK(G_PARAM_SPEC_STRING(spec("gallery"))->default_value == nullptr);
  CHECK(G_PARAM_SPEC_STRING(spec("detector-file"))->default_value == nullptr);
  CHECK(G_PARAM_SPEC_STRING(spec("claimed-identity"))->default_value == nullptr);
  GEnumValue* detector = g_enum_get_value(G_PARAM_SPEC_ENUM(spec("detector"))->enum_class,
                                          G_PARAM_SPEC_ENUM(spec("detector"))->default_value);
  CHECK(std::string(detector->value_nick) == "haar");
  GEnumValue* message = g_enum_get_value(G_PARAM_SPEC_ENUM(spec("message"))->enum_class,
                                         G_PARAM_SPEC_ENUM(spec("message"))->default_value);
  CHECK(std::string(message->value_nick) == "every-frame");
  GEnumValue* precision = g_enum_get_value(G_PARAM_SPEC_ENUM(spec("precision"))->enum_class,
                                           G_PARAM_SPEC_ENUM(spec("precision"))->default_value);
  CHECK(std::string(precision->value_nick) == "fp32");
  CHECK(g_enum_get_value_by_nick(G_PARAM_SPEC_ENUM(spec("precision"))->enum_class, "fp16") !=
        nullptr);
  CHECK(G_PARAM_SPEC_STRING(spec("model-instance-id"))->default_value == nullptr);

  // Values round-trip; an invalid confirm-frames text is refused and the old value kept.
  g_object_set(e, "confirm-frames", "3/5", "detector", 2, "message", 2, "threshold", 0.75f,
               nullptr);
  gchar* confirm = nullptr;
  gint det = 0;
  gfloat th = 0;
  g_object_get(e, "confirm-frames", &confirm, "detector", &det, "threshold", &th, nullptr);
  CHECK(std::string(confirm) == "3/5");
  CHECK(det == 2);
  CHECK(th == 0.75f);
  g_free(confirm);
  g_object_set(e, "confirm-frames", "5/3", nullptr);
  g_object_get(e, "confirm-frames", &confirm, nullptr);
  CHECK(std::string(confirm) == "3/5");
  g_free(confirm);
  gst_object_unref(e);
}

namespace {

struct Failure {
  GstStateChangeReturn ret;
  std::vector<GError*> errors;
  std::vector<std::string> debug;
  ~Failure() {
    for (GError* e : errors) g_error_free(e);
  }
};

void start_with(const Props& props, Failure* f) {
  siamese::testing::gst_test_init();
  GstElement* e = gst_element_factory_make("faceverify", nullptr);
  REQUIRE(e != nullptr);
  for (const auto& [name, value] : props) {
    gst_util_set_object_arg(G_OBJECT(e), name.c_str(), value.c_str());
  }
  f->ret = siamese::testing::start_standalone(e, &f->errors, &f->debug);
  gst_object_unref(e);
}

void check_resource_error(const Failure& f, const std::string& must_name) {
  CHECK(f.ret == GST_STATE_CHANGE_FAILURE);
  REQUIRE(f.errors.size() == 1);
  CHECK(f.errors[0]->domain == GST_RESOURCE_ERROR);
  CAPTURE(f.errors[0]->message, f.debug[0]);
  CHECK(std::string(f.errors[0]->message).find(must_name) != std::string::npos);
}

}  // namespace

TEST_CASE("every start-up failure fails the state change with a RESOURCE error", "[gst]") {
  const std::string dir = siamese::testing::temp_dir("faceverify-fail");
  const std::string model = siamese::testing::save_untrained_model(dir, "model.pt", 1);
  const std::string other_model = siamese::testing::save_untrained_model(dir, "other.pt", 2);
  const std::string gallery = dir + "/gallery.db";
  siamese::testing::enroll(
      gallery, other_model, {"someone"},
      torch::nn::functional::normalize(torch::ones({1, 128}),
                                       torch::nn::functional::NormalizeFuncOptions().dim(1)));
  Failure f;
  SECTION("no model set") {
    start_with({}, &f);
    check_resource_error(f, "\"model\"");
  }
  SECTION("missing model file") {
    start_with({{"model", dir + "/missing.pt"}}, &f);
    check_resource_error(f, dir + "/missing.pt");
  }
  SECTION("corrupt model file") {
    std::ofstream(dir + "/corrupt.pt") << "this is not a model";
    start_with({{"model", dir + "/corrupt.pt"}}, &f);
    check_resource_error(f, dir + "/corrupt.pt");
  }
  SECTION("truncated model file") {
    const auto size = fs::file_size(model);
    fs::copy_file(model, dir + "/truncated.pt");
    fs::resize_file(dir + "/truncated.pt", size / 2);
    start_with({{"model", dir + "/truncated.pt"}}, &f);
    check_resource_error(f, dir + "/truncated.pt");
  }
  SECTION("missing detector file") {
    start_with({{"model", model}, {"detector-file", dir + "/missing.xml"}}, &f);
    check_resource_error(f, "detector-file");
  }
  SECTION("a detector file that is no cascade") {
    start_with({{"model", model}, {"detector-file", model}}, &f);
    check_resource_error(f, "detector-file");
  }
  SECTION("missing gallery") {
    start_with({{"model", model}, {"gallery", dir + "/missing.db"}}, &f);
    check_resource_error(f, dir + "/missing.db");
  }
  SECTION("corrupt gallery") {
    std::ofstream(dir + "/corrupt.db") << std::string(8192, 'x');
    start_with({{"model", model}, {"gallery", dir + "/corrupt.db"}}, &f);
    check_resource_error(f, dir + "/corrupt.db");
  }
  SECTION("gallery built with another model") {
    start_with({{"model", model}, {"gallery", gallery}}, &f);
    check_resource_error(f, "gallery");
    CHECK(f.debug[0].find(siamese::load_model(other_model).info.fingerprint) != std::string::npos);
  }
  SECTION("an unknown device") {
    start_with({{"model", model}, {"device", "tpu"}}, &f);
    check_resource_error(f, "\"device\"");
  }
  SECTION("device=cuda without a GPU") {
    if (torch::cuda::is_available()) {
      WARN("skipped: a CUDA GPU is present");
      return;
    }
    start_with({{"model", model}, {"device", "cuda"}}, &f);
    check_resource_error(f, "\"device\"");
  }
  SECTION("precision=fp16 on the CPU") {
    start_with({{"model", model}, {"device", "cpu"}, {"precision", "fp16"}}, &f);
    check_resource_error(f, "\"precision\"");
  }
  SECTION("a model-instance-id in use with another model") {
    siamese::testing::gst_test_init();
    GstElement* first = gst_element_factory_make("faceverify", nullptr);
    g_object_set(first, "model", model.c_str(), "device", "cpu", "model-instance-id", "cam-group",
                 nullptr);
    REQUIRE(gst_element_set_state(first, GST_STATE_PAUSED) != GST_STATE_CHANGE_FAILURE);
    start_with({{"model", other_model}, {"device", "cpu"}, {"model-instance-id", "cam-group"}}, &f);
    gst_element_set_state(first, GST_STATE_NULL);
    gst_object_unref(first);
    check_resource_error(f, "\"model-instance-id\"");
    CHECK(f.debug[0].find(model) != std::string::npos);
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

TEST_CASE("gst-inspect-1.0 documents the built plugin module", "[gst]") {
  const std::string plugins = std::string(SIAMESE_BINARY_DIR) + "/gst-plugins";
  REQUIRE(fs::exists(plugins + "/libgstsiamese.so"));
  const std::string env =
      "env -u GST_PLUGIN_PATH_1_0 -u GST_REGISTRY_1_0 -u "
      "GST_PLUGIN_SYSTEM_PATH_1_0 GST_PLUGIN_PATH=" +
      plugins + " GST_REGISTRY=" + std::string(SIAMESE_BINARY_DIR) +
      "/test-tmp/gst-registry-tools.bin ";
  std::string out;
  REQUIRE(siamese::testing::run_command(env + "gst-inspect-1.0 faceverify", &out) == 0);
  for (const char* text : {"libgstsiamese.so",  "gst-launch-1.0",   "faceverify-decision",
                           "reload-gallery",    "running-time",     "model",
                           "gallery",           "threshold",        "device",
                           "batch-size",        "batch-frames",     "detector-file",
                           "min-face-size",     "scale-factor",     "detect-interval",
                           "reverify-interval", "claimed-identity", "message",
                           "threads",           "confirm-frames",   "margin",
                           "template-size"}) {
    CAPTURE(text);
    CHECK(out.find(text) != std::string::npos);
  }
  out.clear();
  REQUIRE(siamese::testing::run_command(env + "gst-inspect-1.0 faceverifyoverlay", &out) == 0);
  CHECK(out.find("libgstsiamese.so") != std::string::npos);
}

namespace {

/// One appearance in the generated video: a face at a place during a range of frames.
struct Appearance {
  int person, image;
  cv::Point corner;
  int first, last;  // frame numbers, inclusive
  bool enrolled;
};

/// The video chunks ("00dc") of an AVI file: here the JPEG images of an MJPEG stream.
std::vector<std::vector<uchar>> avi_frames(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  const std::string data((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::vector<std::vector<uchar>> frames;
  size_t pos = data.find("movi");
  REQUIRE(pos != std::string::npos);
  for (pos += 4; pos + 8 <= data.size();) {
    const std::string fourcc = data.substr(pos, 4);
    uint32_t size = 0;
    std::memcpy(&size, data.data() + pos + 4, 4);  // little-endian, as is the host
    if (fourcc == "LIST") {
      pos += 12;  // descend into "rec " lists
      continue;
    }
    if (fourcc == "idx1" || pos + 8 + size > data.size()) break;
    if (fourcc == "00dc" || fourcc == "00db") {
      frames.emplace_back(data.begin() + static_cast<std::ptrdiff_t>(pos + 8),
                          data.begin() + static_cast<std::ptrdiff_t>(pos + 8 + size));
    }
    pos += 8 + size + (size & 1u);
  }
  return frames;
}

std::string after(const std::string& line, const std::string& marker) {
  const auto at = line.find(marker);
  return at == std::string::npos ? std::string() : line.substr(at + marker.size());
}

}  // namespace

TEST_CASE("gst-launch-1.0 pipeline over a generated video matches the ground truth", "[gst]") {
  SIAMESE_REQUIRE_ATT(att);
  std::string probe;
  if (siamese::testing::run_command("gst-launch-1.0 --version", &probe) != 0) {
    WARN("skipped: gst-launch-1.0 not installed");
    return;
  }
  siamese::testing::gst_test_init();  // to parse the printed structures
  const std::string dir = siamese::testing::temp_dir("faceverify-launch");
  const std::string model = siamese::testing::save_untrained_model(dir, "model.pt", 21);
  const std::string gallery = dir + "/gallery.db";
  const std::string video = dir + "/in.avi";
  constexpr int kWidth = 320, kHeight = 240, kFrames = 30, kFps = 10;
  // Held-out identities (s1..s10 are never used for training); s6 is a stranger.
  // Nobody steps into the place another person left in the same frame (a tracker would
  // continue that track): s3 appears where s1 was only after s1's track expired.
  const std::vector<Appearance> cast = {{1, 3, {20, 40}, 0, 9, true},
                                        {2, 5, {120, 100}, 10, 19, true},
                                        {6, 2, {215, 60}, 10, 19, false},
                                        {3, 7, {20, 40}, 20, 29, true}};

  // MJPEG through OpenCV's built-in AVI writer (no FFmpeg needed); gray content in colour
  // frames (the built-in encoder asserts on single-channel frames).
  {
    cv::VideoWriter writer(video, cv::CAP_OPENCV_MJPEG, cv::VideoWriter::fourcc('M', 'J', 'P', 'G'),
                           kFps, cv::Size(kWidth, kHeight), true);
    REQUIRE(writer.isOpened());
    writer.set(cv::VIDEOWRITER_PROP_QUALITY, 95);
    for (int t = 0; t < kFrames; ++t) {
      std::vector<cv::Mat> faces;
      std::vector<cv::Point> corners;
      for (const Appearance& a : cast) {
        if (t >= a.first && t <= a.last) {
          faces.push_back(siamese::testing::att_face(att, a.person, a.image));
          corners.push_back(a.corner);
        }
      }
      writer.write(siamese::testing::compose(kWidth, kHeight, faces, corners));
    }
  }

  // Enroll the enrolled people from the decoded video itself, through the core detector and
  // embedder: the exact pixels the pipeline will see, because libjpeg decoding a frame to gray
  // gives the same luma that jpegdec (idct-method=islow, OpenCV's IDCT) puts in its I420 Y
  // plane. The stranger only bounds the threshold.
  std::vector<cv::Mat> decoded;
  for (const std::vector<uchar>& jpeg : avi_frames(video)) {
    decoded.push_back(cv::imdecode(jpeg, cv::IMREAD_GRAYSCALE));
    REQUIRE_FALSE(decoded.back().empty());
  }
  REQUIRE(decoded.size() == static_cast<size_t>(kFrames));
  siamese::FaceDetector detector(siamese::DetectorOptions{}.set_min_face_size(kMinFace));
  std::vector<std::string> names, all_names;
  std::vector<torch::Tensor> rows, all_rows;
  for (const Appearance& a : cast) {
    const siamese::ImageView view = siamese::view_of(decoded[static_cast<size_t>(a.first)]);
    const Box rect{a.corner.x, a.corner.y, 92, 112};
    for (const Box& b : detector.detect(view)) {
      if (!contains(rect, b.x + b.width / 2, b.y + b.height / 2)) continue;
      const torch::Tensor e =
          siamese::testing::core_embeddings(model, view, {b}, siamese::Framing::kDetectorBox)[0];
      const std::string name = "s" + std::to_string(a.person);
      if (a.enrolled) {
        names.push_back(name);
        rows.push_back(e);
      }
      all_names.push_back(name);
      all_rows.push_back(e);
    }
  }
  REQUIRE(all_names.size() == cast.size());
  siamese::testing::enroll(gallery, model, names, torch::stack(rows));
  const float threshold =
      0.5f * siamese::testing::min_impostor_distance(torch::stack(all_rows), all_names);

  const std::string plugins = std::string(SIAMESE_BINARY_DIR) + "/gst-plugins";
  const std::string command =
      "env -u GST_PLUGIN_PATH_1_0 -u GST_REGISTRY_1_0 -u GST_PLUGIN_SYSTEM_PATH_1_0 "
      "GST_PLUGIN_PATH=" +
      plugins + " GST_REGISTRY=" + std::string(SIAMESE_BINARY_DIR) +
      "/test-tmp/gst-registry-tools.bin gst-launch-1.0 -m filesrc location=" + video +
      " ! avidemux ! jpegdec idct-method=islow ! videoconvert ! faceverify model=" + model +
      " gallery=" + gallery + " threshold=" + fmt(threshold) +
      " detect-interval=1 confirm-frames=2/3 min-face-size=" + std::to_string(kMinFace) +
      " device=cpu ! faceverifyoverlay ! videoconvert ! jpegenc ! avimux ! filesink location=" +
      dir + "/out.avi";
  std::string out;
  const int status = siamese::testing::run_command(command, &out);
  INFO(out.substr(0, 4000));
  REQUIRE(status == 0);
  CHECK(fs::file_size(dir + "/out.avi") > 10000);

  // Read the printed bus messages back into structures.
  std::istringstream lines(out);
  std::map<int, std::vector<MetaFace>> by_frame;
  std::map<std::string, int> verified_decisions;
  int stranger_verified = 0;
  for (std::string line; std::getline(lines, line);) {
    if (line.find("from element \"faceverify0\" (element): ") == std::string::npos) continue;
    const std::string text = after(line, "(element): ");
    GstStructure* s = gst_structure_from_string(text.c_str(), nullptr);
    REQUIRE(s != nullptr);
    if (gst_structure_has_name(s, "faceverify")) {
      guint64 ts = 0;
      REQUIRE(gst_structure_get_uint64(s, "timestamp", &ts));
      const int t = static_cast<int>((ts + GST_SECOND / kFps / 2) / (GST_SECOND / kFps));
      by_frame[t] = siamese::testing::message_faces(s);
    } else if (gst_structure_has_name(s, "faceverify-decision")) {
      gboolean v = FALSE;
      gst_structure_get_boolean(s, "verified", &v);
      const gchar* id = gst_structure_get_string(s, "identity");
      if (v) ++verified_decisions[id];
      if (v && std::string(id) == "s6") ++stranger_verified;
    }
    gst_structure_free(s);
  }
  REQUIRE(by_frame.size() == static_cast<size_t>(kFrames));
  int found = 0, expected_faces = 0;
  for (int t = 0; t < kFrames; ++t) {
    CAPTURE(t);
    std::vector<Box> rects;
    std::vector<const Appearance*> who;
    for (const Appearance& a : cast) {
      if (t >= a.first && t <= a.last) {
        rects.push_back(Box{a.corner.x, a.corner.y, 92, 112});
        who.push_back(&a);
      }
    }
    expected_faces += static_cast<int>(rects.size());
    for (const MetaFace& f : by_frame[t]) {
      int index = -1;
      center_in(rects, f.box, &index);
      REQUIRE(index >= 0);  // no face where there is none
      ++found;
      const Appearance& a = *who[static_cast<size_t>(index)];
      if (a.enrolled) {
        // Never someone else; verified once confirm-frames (2/3) agree.
        CHECK((f.identity.empty() || f.identity == "s" + std::to_string(a.person)));
        if (t >= a.first + 1) CHECK(f.identity == "s" + std::to_string(a.person));
      } else {
        CHECK(f.identity.empty());
        CHECK_FALSE(f.verified);
      }
    }
  }
  CHECK(found == expected_faces);
  CHECK(verified_decisions == std::map<std::string, int>{{"s1", 1}, {"s2", 1}, {"s3", 1}});
  CHECK(stranger_verified == 0);
}

namespace {

/// The faces of every output frame of one stream of the scene (flipped for odd streams so
/// that the streams differ), pushed and pulled without Catch macros (any thread).
struct StreamRun {
  std::vector<std::vector<MetaFace>> frames;
  GstFlowReturn flow = GST_FLOW_OK;
};

void run_stream(Harness& harness, const cv::Mat& bgr, int frames, StreamRun* run) {
  for (int i = 0; i < frames && run->flow == GST_FLOW_OK; ++i) {
    run->flow =
        harness.push(siamese::testing::make_frame(bgr, GST_VIDEO_FORMAT_BGRx, i * kFrame, kFrame));
    while (GstBuffer* b = gst_harness_try_pull(harness.get())) {
      run->frames.push_back(siamese::testing::meta_faces(b));
      gst_buffer_unref(b);
    }
  }
}

}  // namespace

TEST_CASE("four streams sharing one model-instance-id give the results of four separate runs",
          "[gst]") {
  SIAMESE_REQUIRE_ATT(att);
  const Scene s = make_scene(att, 385, 289);
  constexpr int kStreams = 4;
  std::vector<cv::Mat> images(kStreams);
  for (int k = 0; k < kStreams; ++k) {
    if (k % 2 == 0) {
      images[k] = s.bgr;
    } else {
      cv::flip(s.bgr, images[k], 1);
    }
  }
  auto frames_of = [](int k) { return 4 + 2 * k; };  // streams of different lengths

  std::vector<StreamRun> separate(kStreams);
  for (int k = 0; k < kStreams; ++k) {
    Harness harness(scene_props(s));
    harness.set_caps(GST_VIDEO_FORMAT_BGRx, s.width, s.height);
    run_stream(harness, images[k], frames_of(k), &separate[k]);
  }

  std::vector<StreamRun> shared(kStreams);
  {
    std::vector<std::unique_ptr<Harness>> harnesses;
    for (int k = 0; k < kStreams; ++k) {
      Props props = scene_props(s);
      props.push_back({"model-instance-id", "four-cameras"});
      harnesses.push_back(std::make_unique<Harness>(props));
      harnesses.back()->set_caps(GST_VIDEO_FORMAT_BGRx, s.width, s.height);
    }
    std::vector<std::thread> threads;
    for (int k = 0; k < kStreams; ++k) {
      threads.emplace_back(run_stream, std::ref(*harnesses[k]), std::cref(images[k]), frames_of(k),
                           &shared[k]);
    }
    for (std::thread& t : threads) t.join();
  }

  for (int k = 0; k < kStreams; ++k) {
    CAPTURE(k);
    CHECK(shared[k].flow == GST_FLOW_OK);
    REQUIRE(separate[k].frames.size() == static_cast<size_t>(frames_of(k)));
    REQUIRE(shared[k].frames.size() == separate[k].frames.size());
    for (size_t i = 0; i < separate[k].frames.size(); ++i) {
      CAPTURE(i);
      const auto& a = separate[k].frames[i];
      const auto& b = shared[k].frames[i];
      REQUIRE(a.size() == b.size());
      CHECK_FALSE(a.empty());
      for (size_t j = 0; j < a.size(); ++j) {
        CHECK(a[j].box == b[j].box);
        CHECK(a[j].identity == b[j].identity);
        CHECK(a[j].verified == b[j].verified);
        CHECK(a[j].state == b[j].state);
        CHECK(a[j].track_id == b[j].track_id);
        CHECK(a[j].distance == Approx(b[j].distance).margin(1e-4));
      }
    }
  }
  // The unflipped streams see the scene's people.
  check_faces(s, shared[0].frames.back(), true);
}
