// faceverify with what the gallery knows about who is not someone (issue 15): a negative anchor
// keeps a face from verifying as its nearest identity and the decision says "negative-anchor",
// while the identity itself still verifies; a person's own threshold replaces the gallery's, and
// the threshold property still overrides it.
#include <gst/check/gstharness.h>
#include <gst/gst.h>
#include <gst/video/video.h>
#include <torch/torch.h>

#include <catch2/catch.hpp>
#include <string>
#include <vector>

#include "faceverify_harness.h"
#include "gst_test_support.h"
#include "siamese/gallery.h"
#include "siamese/image_io.h"
#include "test_support.h"

using siamese::testing::Harness;

namespace {

constexpr GstClockTime kFrame = GST_SECOND / 25;

// One upstream-boxed face per frame through a playing faceverify.
class Camera {
 public:
  Camera(const std::string& model, const std::string& gallery, siamese::testing::Props extra) {
    siamese::testing::Props props = {{"model", model},           {"gallery", gallery},
                                     {"detector", "upstream"},   {"confirm-frames", "2/3"},
                                     {"reverify-interval", "1"}, {"device", "cpu"}};
    props.insert(props.end(), extra.begin(), extra.end());
    harness_ = std::make_unique<Harness>(props);
    harness_->set_caps(GST_VIDEO_FORMAT_BGRx, 120, 130);
  }
  /// Shows face for `frames` frames; the identity the element gave it on the last one.
  std::string show(const cv::Mat& face, int frames) {
    const cv::Mat bgr = siamese::testing::compose(120, 130, {face}, {{8, 8}});
    std::string identity;
    for (int i = 0; i < frames; ++i) {
      identity = harness_->identify_upstream_face(bgr, frame_++, kFrame, 8, 8, 92, 112);
    }
    return identity;
  }
  /// The "reason" fields of the decision messages posted so far.
  std::vector<std::string> reasons() {
    std::vector<std::string> out;
    for (GstStructure* s : harness_->messages("faceverify-decision")) {
      const gchar* r = gst_structure_get_string(s, "reason");
      out.push_back(r ? r : "");
      gst_structure_free(s);
    }
    return out;
  }

 private:
  std::unique_ptr<Harness> harness_;
  int frame_ = 0;
};

torch::Tensor embed(const std::string& model, const cv::Mat& face) {
  const siamese::ImageView v = siamese::view_of(face);
  return siamese::testing::core_embeddings(model, v, {v.full_box()}, siamese::Framing::kExact);
}

std::vector<float> row(const torch::Tensor& t) {
  const auto c = t.reshape({-1}).to(torch::kFloat32).contiguous();
  return std::vector<float>(c.data_ptr<float>(), c.data_ptr<float>() + c.numel());
}

}  // namespace

TEST_CASE("faceverify: a negative anchor stops a relative, NAME still verifies", "[gst][gallery]") {
  SIAMESE_REQUIRE_ATT(att);
  const std::string dir = siamese::testing::temp_dir("faceverify-negatives");
  const std::string model = siamese::testing::save_untrained_model(dir, "model.pt", 5);
  const std::string gallery = dir + "/gallery.db";
  const cv::Mat s8 = siamese::testing::att_face(att, 8, 4);
  const cv::Mat relative = siamese::testing::att_face(att, 9, 4);
  siamese::testing::enroll(gallery, model, {"s8"}, embed(model, s8));
  const float d = (embed(model, relative) - embed(model, s8)).norm().item<float>();
  REQUIRE(d > 1e-3f);
  const std::string loose = std::to_string(2.0f * d);
  {
    Camera camera(model, gallery, {{"threshold", loose}});
    CHECK(camera.show(relative, 4) == "s8");  // without the anchor the relative gets in
  }
  siamese::Gallery g = siamese::Gallery::open_unbound(gallery, true);
  siamese::EnrollmentSample anchor;
  anchor.source_file = "relative.pgm";
  anchor.embedding = row(embed(model, relative));
  g.add_negatives("s8", {anchor});
  Camera camera(model, gallery, {{"threshold", loose}});
  CHECK(camera.show(relative, 4).empty());
  const auto reasons = camera.reasons();
  REQUIRE(!reasons.empty());
  CHECK(reasons.back() == "negative-anchor");
  Camera other(model, gallery, {{"threshold", loose}});
  CHECK(other.show(s8, 4) == "s8");
}

TEST_CASE("faceverify: a person's own threshold is used, the threshold property overrides it",
          "[gst][gallery]") {
  SIAMESE_REQUIRE_ATT(att);
  const std::string dir = siamese::testing::temp_dir("faceverify-own-threshold");
  const std::string model = siamese::testing::save_untrained_model(dir, "model.pt", 5);
  const std::string gallery = dir + "/gallery.db";
  const cv::Mat shown = siamese::testing::att_face(att, 8, 4);
  const torch::Tensor enrolled = embed(model, siamese::testing::att_face(att, 8, 6));
  siamese::testing::enroll(gallery, model, {"s8"}, enrolled);
  const float d = (embed(model, shown) - enrolled).norm().item<float>();
  REQUIRE(d > 1e-3f);
  {
    siamese::Gallery g = siamese::Gallery::open_unbound(gallery, true);
    g.set_threshold(2.0f * d);                 // the gallery's lets s8 in...
    g.set_identity_threshold("s8", 0.5f * d);  // ...s8's own does not
  }
  {
    Camera camera(model, gallery, {});
    CHECK(camera.show(shown, 4).empty());
  }
  Camera explicit_threshold(model, gallery, {{"threshold", std::to_string(2.0f * d)}});
  CHECK(explicit_threshold.show(shown, 4) == "s8");
}
