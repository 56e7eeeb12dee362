// faceverify against hostile property values (issue 11): an invalid confirm-frames is refused
// with a GST_WARNING (not a debug line) and the previous value kept, and start() works with
// the kept value; an absurd CUDA device index fails start() naming the property and the index.
#include <gst/gst.h>

#include <catch2/catch.hpp>
#include <mutex>
#include <string>
#include <vector>

#include "gst_test_support.h"
#include "test_support.h"

namespace {

std::mutex g_lock;
std::vector<std::string> g_warnings;  // faceverify messages at GST_LEVEL_WARNING

void collect_warnings(GstDebugCategory* category, GstDebugLevel level, const gchar*, const gchar*,
                      gint, GObject*, GstDebugMessage* message, gpointer) {
  if (level != GST_LEVEL_WARNING ||
      std::string(gst_debug_category_get_name(category)) != "faceverify") {
    return;
  }
  std::lock_guard<std::mutex> hold(g_lock);
  g_warnings.emplace_back(gst_debug_message_get(message));
}

std::string confirm_frames_of(GstElement* e) {
  gchar* text = nullptr;
  g_object_get(e, "confirm-frames", &text, nullptr);
  std::string out = text ? text : "(null)";
  g_free(text);
  return out;
}

}  // namespace

TEST_CASE("an invalid confirm-frames is a GST_WARNING and keeps the previous value",
          "[gst][hostile]") {
  siamese::testing::gst_test_init();
  const GstDebugLevel old_level = gst_debug_get_default_threshold();
  gst_debug_set_threshold_for_name("faceverify", GST_LEVEL_WARNING);
  gst_debug_add_log_function(collect_warnings, nullptr, nullptr);
  GstElement* e = gst_element_factory_make("faceverify", nullptr);
  REQUIRE(e != nullptr);
  g_object_set(e, "confirm-frames", "3/5", nullptr);
  for (const char* bad : {"5/3", "0/0", "3", "99999999999999999999/3", "", "1/2/3"}) {
    INFO("confirm-frames \"" << bad << "\"");
    g_warnings.clear();
    g_object_set(e, "confirm-frames", bad, nullptr);
    CHECK(confirm_frames_of(e) == "3/5");
    REQUIRE(g_warnings.size() == 1);
    CHECK_THAT(g_warnings[0], Catch::Contains("confirm-frames"));
  }
  g_warnings.clear();
  g_object_set(e, "confirm-frames", nullptr, nullptr);  // NULL: refused too, never a crash
  CHECK(confirm_frames_of(e) == "3/5");
  CHECK(g_warnings.size() == 1);
  gst_debug_remove_log_function(collect_warnings);
  gst_debug_unset_threshold_for_name("faceverify");
  gst_debug_set_default_threshold(old_level);

  // start() runs with the kept value (an invalid one never gets stored).
  const std::string dir = siamese::testing::temp_dir("hostile-confirm");
  g_object_set(e, "model", siamese::testing::save_untrained_model(dir, "m.pt", 1).c_str(), "device",
               "cpu", nullptr);
  std::vector<GError*> errors;
  std::vector<std::string> debug;
  CHECK(siamese::testing::start_standalone(e, &errors, &debug) != GST_STATE_CHANGE_FAILURE);
  CHECK(errors.empty());
  for (GError* error : errors) g_error_free(error);
  gst_element_set_state(e, GST_STATE_NULL);
  gst_object_unref(e);
}

TEST_CASE("device=cuda:99999999999999 fails start() naming the property and the index",
          "[gst][hostile]") {
  siamese::testing::gst_test_init();
  const std::string dir = siamese::testing::temp_dir("hostile-device");
  GstElement* e = gst_element_factory_make("faceverify", nullptr);
  REQUIRE(e != nullptr);
  g_object_set(e, "model", siamese::testing::save_untrained_model(dir, "m.pt", 1).c_str(), "device",
               "cuda:99999999999999", nullptr);
  std::vector<siamese::testing::PostedError> errors;
  CHECK(siamese::testing::start_standalone(e, &errors) == GST_STATE_CHANGE_FAILURE);
  REQUIRE(errors.size() == 1);
  CHECK_THAT(errors[0].message, Catch::Contains("property \"device\""));
  CHECK_THAT(errors[0].debug, Catch::Contains("device \"cuda:99999999999999\": invalid CUDA "
                                              "device index"));
  gst_object_unref(e);
}
