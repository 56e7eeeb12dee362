// faceverify's properties (defaults, ranges, refusals) and every start-up failure as a RESOURCE
// error naming the property (GstHarness, in-process).

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
using siamese::testing::Props;

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
