// faceverify's batch-frames: held frames keep their order and count, serialized events and
// flushes, the latency query and caps changes with a frame held (GstHarness, in-process).

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
using siamese::testing::center_in;
using siamese::testing::free_structures;
using siamese::testing::Harness;
using siamese::testing::kFrame;
using siamese::testing::make_scene;
using siamese::testing::MetaFace;
using siamese::testing::Props;
using siamese::testing::Scene;
using siamese::testing::scene_props;
using siamese::testing::unref_all;
using siamese::testing::upstream_frame;

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
