#include "faceverify_scene.h"

#include <torch/torch.h>

#include <gst/video/gstvideometa.h>
#include <catch2/catch.hpp>

#include <sstream>

#include "siamese/image_io.h"
#include "test_support.h"

namespace siamese::testing {

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

const std::vector<GstVideoFormat> kAllFormats = {
    GST_VIDEO_FORMAT_GRAY8, GST_VIDEO_FORMAT_RGB,  GST_VIDEO_FORMAT_BGR,  GST_VIDEO_FORMAT_RGBx,
    GST_VIDEO_FORMAT_BGRx,  GST_VIDEO_FORMAT_xRGB, GST_VIDEO_FORMAT_xBGR, GST_VIDEO_FORMAT_RGBA,
    GST_VIDEO_FORMAT_BGRA,  GST_VIDEO_FORMAT_I420, GST_VIDEO_FORMAT_NV12};

Scene make_scene(const std::string& att, int width, int height, const std::string& detector_kind) {
  Scene s;
  s.detector = detector_kind;
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

  siamese::FaceDetector detector(
      siamese::DetectorOptions{}.set_kind(detector_kind).set_min_face_size(kMinFace));
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
          {"detector", s.detector},
          {"min-face-size", std::to_string(kMinFace)},
          {"detect-interval", "1"},  // every frame measured: embedded, so decided in two
          {"confirm-frames", "2/3"},
          {"device", "cpu"}};
}

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

GstBuffer* upstream_frame(const cv::Mat& bgr, int index) {
  GstBuffer* b = siamese::testing::make_frame(bgr, GST_VIDEO_FORMAT_BGRx, index * kFrame, kFrame);
  gst_buffer_add_video_region_of_interest_meta(b, "face", 8, 8, 92, 112);
  return b;
}

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

}  // namespace siamese::testing
