// faceverify inside a GstHarness (registered in-process) with a bus that collects its element
// messages, warnings and errors: shared by the element test files. Thread-safety: test thread.
#pragma once

#include <gst/check/gstharness.h>
#include <gst/gst.h>

#include <catch2/catch.hpp>
#include <string>
#include <utility>
#include <vector>

#include "gst_test_support.h"

namespace siamese::testing {

using Props = std::vector<std::pair<std::string, std::string>>;

/// faceverify inside a GstHarness, with a bus to collect its messages.
class Harness {
 public:
  explicit Harness(const Props& props) {
    siamese::testing::gst_test_init();
    element_ = gst_element_factory_make("faceverify", nullptr);
    REQUIRE(element_ != nullptr);
    for (const auto& [name, value] : props) {
      gst_util_set_object_arg(G_OBJECT(element_), name.c_str(), value.c_str());
    }
    bus_ = gst_bus_new();
    gst_element_set_bus(element_, bus_);
    h_ = gst_harness_new_with_element(element_, "sink", "src");
  }
  ~Harness() {
    for (GstStructure* s : pending_) gst_structure_free(s);
    gst_harness_teardown(h_);
    gst_object_unref(element_);
    gst_object_unref(bus_);
  }
  GstHarness* operator->() const { return h_; }
  GstHarness* get() const { return h_; }
  GstElement* element() const { return element_; }

  void set_caps(GstVideoFormat format, int width, int height) {
    gst_harness_set_src_caps(h_, siamese::testing::video_caps(format, width, height));
  }
  GstFlowReturn push(GstBuffer* buffer) { return gst_harness_push(h_, buffer); }
  /// Pushes bgr (as BGRx) as frame `index` of duration `frame` with one upstream "face" region
  /// (x, y, w, h), pulls the result and returns the identity the element gave that face.
  std::string identify_upstream_face(const cv::Mat& bgr, int index, GstClockTime frame, int x,
                                     int y, int w, int h) {
    GstBuffer* b = make_frame(bgr, GST_VIDEO_FORMAT_BGRx, index * frame, frame);
    gst_buffer_add_video_region_of_interest_meta(b, "face", x, y, w, h);
    REQUIRE(push(b) == GST_FLOW_OK);
    GstBuffer* out = gst_harness_pull(h_);
    const auto faces = meta_faces(out);
    gst_buffer_unref(out);
    REQUIRE(faces.size() == 1);
    return faces[0].identity;
  }
  /// Every buffer that came out so far.
  std::vector<GstBuffer*> pull_all() {
    std::vector<GstBuffer*> out;
    while (GstBuffer* b = gst_harness_try_pull(h_)) out.push_back(b);
    return out;
  }
  /// The element messages posted so far with this structure name (copies).
  std::vector<GstStructure*> messages(const char* name) {
    drain();
    std::vector<GstStructure*> out;
    for (auto it = pending_.begin(); it != pending_.end();) {
      if (gst_structure_has_name(*it, name)) {
        out.push_back(*it);
        it = pending_.erase(it);
      } else {
        ++it;
      }
    }
    return out;
  }
  /// Error messages posted so far (each returned once).
  std::vector<std::string> errors() {
    drain();
    return std::exchange(errors_, {});
  }
  /// Warnings posted so far (each returned once).
  std::vector<std::string> warnings() {
    drain();
    return std::exchange(warnings_, {});
  }

 private:
  // Moves every message on the bus into the stores above (gst_bus_pop_filtered would drop
  // the messages of the other types).
  void drain() {
    while (GstMessage* m = gst_bus_pop(bus_)) {
      GError* e = nullptr;
      switch (GST_MESSAGE_TYPE(m)) {
        case GST_MESSAGE_ELEMENT:
          if (const GstStructure* s = gst_message_get_structure(m)) {
            pending_.push_back(gst_structure_copy(s));
          }
          break;
        case GST_MESSAGE_ERROR:
          gst_message_parse_error(m, &e, nullptr);
          errors_.push_back(e->message);
          break;
        case GST_MESSAGE_WARNING:
          gst_message_parse_warning(m, &e, nullptr);
          warnings_.push_back(e->message);
          break;
        default:
          break;
      }
      if (e != nullptr) g_error_free(e);
      gst_message_unref(m);
    }
  }

  GstElement* element_ = nullptr;
  GstBus* bus_ = nullptr;
  GstHarness* h_ = nullptr;
  std::vector<GstStructure*> pending_;
  std::vector<std::string> errors_, warnings_;
};

}  // namespace siamese::testing
