// The 68-point landmark networks imported from @vladmandic/face-api's tfjs weights against the
// package's own JavaScript (tests/fixtures/face_api_landmarks.json, made by
// tests/reference/face_api_landmarks.js): the same images and boxes, points within 0.5 px.
#include <torch/torch.h>
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>
#include <opencv2/imgproc.hpp>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "siamese/errors.h"
#include "siamese/face_align.h"
#include "siamese/face_landmarks.h"
#include "siamese/image_io.h"
#include "siamese/pretrained.h"
#include "test_model_fixtures.h"
#include "test_support.h"

namespace fs = std::filesystem;
using siamese::Box;
using siamese::ImageView;
using siamese::Landmarks68;

namespace {

std::string lfw_dir() {
  if (const char* env = std::getenv("SIAMESE_LFW"); env && *env) return env;
  const fs::path beside = fs::path(SIAMESE_SOURCE_DIR) / ".." / "shared" / "data" / "lfw";
  return fs::is_directory(beside) ? beside.string() : "";
}

uint32_t fnv1a32(const cv::Mat& rgb) {
  uint32_t h = 0x811c9dc5u;
  for (int y = 0; y < rgb.rows; ++y) {
    const unsigned char* p = rgb.ptr<unsigned char>(y);
    for (int i = 0; i < rgb.cols * 3; ++i) {
      h ^= p[i];
      h *= 0x01000193u;
    }
  }
  return h;
}

// The fixture's image as RGB bytes; empty when its data set is absent.
cv::Mat fixture_image(const std::string& name) {
  if (name.rfind("synthetic-", 0) == 0)
    return siamese::testing::drawn_reference_face(std::stoi(name.substr(10)));
  cv::Mat decoded;
  if (name.rfind("att:", 0) == 0) {
    const std::string dir = siamese::testing::att_faces_dir();
    if (dir.empty()) return {};
    decoded = siamese::read_image(dir + "/" + name.substr(4), 3);
  } else if (name.rfind("lfw:", 0) == 0) {
    const std::string dir = lfw_dir();
    if (dir.empty()) return {};
    decoded = siamese::read_image(dir + "/" + name.substr(4), 3);
  }
  cv::Mat rgb;
  cv::cvtColor(decoded, rgb, cv::COLOR_BGR2RGB);
  return rgb;
}

ImageView rgb_view(const cv::Mat& rgb) {
  return ImageView::packed(rgb.data, rgb.cols, rgb.rows, static_cast<int>(rgb.step[0]),
                           siamese::PixelFormat::kRGB);
}

nlohmann::json read_fixture() {
  std::ifstream in(std::string(SIAMESE_SOURCE_DIR) + "/tests/fixtures/face_api_landmarks.json");
  REQUIRE(in);
  return nlohmann::json::parse(in);
}

}  // namespace

TEST_CASE("landmark networks match face-api's JavaScript within half a pixel", "[landmarks]") {
  SIAMESE_REQUIRE_FACE_API_FILES(weights, siamese::kLandmarkManifest,
                                 siamese::kLandmarkTinyManifest);
  const nlohmann::json fixture = read_fixture();
  const std::string dir = siamese::face_api_cache_dir();
  for (const bool tiny : {false, true}) {
    siamese::LandmarkerOptions options;
    options.tiny = tiny;
    options.refine = false;  // face-api's single pass on the given box,
    options.mirror = false;  // of the face as it is
    siamese::FaceLandmarker landmarker(dir, torch::kCPU, options);
    int compared = 0, same_pixels = 0;
    double worst = 0.0;
    for (const auto& c : fixture["cases"]) {
      const std::string name = c["image"];
      const cv::Mat rgb = fixture_image(name);
      if (rgb.empty()) {
        WARN("skipped " << name << ": its data set is absent (SIAMESE_DATA / SIAMESE_LFW)");
        continue;
      }
      REQUIRE(rgb.cols == c["width"].get<int>());
      REQUIRE(rgb.rows == c["height"].get<int>());
      // Synthetic and PGM pixels are exact; a JPEG decoded by OpenCV may differ from jpeg-js by
      // a level or two, which moves points by far less than the tolerance.
      const bool same = fnv1a32(rgb) == c["fnv1a32"].get<uint32_t>();
      if (name.rfind("lfw:", 0) != 0) REQUIRE(same);
      same_pixels += same;
      const auto& b = c["box"];
      const Box box{b[0], b[1], b[2], b[3]};
      const Landmarks68 points = landmarker.detect(rgb_view(rgb), {box}).at(0);
      const auto& expected = c[tiny ? "tiny" : "full"];
      REQUIRE(expected.size() == 68);
      for (int i = 0; i < 68; ++i) {
        const double dx = points[i].x - expected[i][0].get<double>();
        const double dy = points[i].y - expected[i][1].get<double>();
        const double d = std::hypot(dx, dy);
        worst = std::max(worst, d);
        INFO(name << " point " << i << (tiny ? " (tiny)" : " (full)"));
        CHECK(d < 0.5);
      }
      ++compared;
    }
    WARN((tiny ? "tiny" : "full") << ": " << compared << " cases compared (" << same_pixels
                                  << " with identical pixels), worst point " << worst << " px");
    CHECK(compared >= 3);
  }
}

// The largest distance between a face's points and the mirrored points of its mirror image
// (frame and box flipped left-right): 0 for an estimate that treats both sides alike.
double mirror_asymmetry(siamese::FaceLandmarker& landmarker, const cv::Mat& rgb, const Box& box) {
  cv::Mat flipped;
  cv::flip(rgb, flipped, 1);
  const Box flipped_box{rgb.cols - box.x - box.width, box.y, box.width, box.height};
  const Landmarks68 direct = landmarker.detect(rgb_view(rgb), {box}).at(0);
  const Landmarks68 back = siamese::mirror_landmarks(
      landmarker.detect(rgb_view(flipped), {flipped_box}).at(0), rgb.cols);
  double worst = 0.0;
  for (int i = 0; i < 68; ++i) {
    worst = std::max<double>(worst, std::hypot(direct[i].x - back[i].x, direct[i].y - back[i].y));
  }
  return worst;
}

TEST_CASE("mirrored landmarks: a face and its mirror image get mirrored points", "[landmarks]") {
  SIAMESE_REQUIRE_FACE_API_FILES(weights, siamese::kLandmarkManifest);
  const nlohmann::json fixture = read_fixture();
  siamese::LandmarkerOptions one_view, both_views;
  one_view.refine = both_views.refine = false;  // the same box for both images
  one_view.mirror = false;
  siamese::FaceLandmarker plain(siamese::face_api_cache_dir(), torch::kCPU, one_view);
  siamese::FaceLandmarker mirrored(siamese::face_api_cache_dir(), torch::kCPU, both_views);
  double worst_plain = 0.0, worst_mirrored = 0.0;
  for (const auto& c : fixture["cases"]) {
    const cv::Mat rgb = fixture_image(c["image"]);
    if (rgb.empty()) continue;
    const auto& b = c["box"];
    const Box box{b[0], b[1], b[2], b[3]};
    if (box.width != box.height) continue;  // face-api pads a non-square box on one side only
    INFO(c["image"].get<std::string>());
    const double with_mirror = mirror_asymmetry(mirrored, rgb, box);
    // Left only by the resize, which samples a crop and its mirror a fraction of a pixel apart
    // (measured: at most 0.71 px, against up to 6 px with one view).
    CHECK(with_mirror < 1.0);
    worst_plain = std::max(worst_plain, mirror_asymmetry(plain, rgb, box));
    worst_mirrored = std::max(worst_mirrored, with_mirror);
  }
  WARN("worst point against the mirror image's: " << worst_plain << " px one view, "
                                                  << worst_mirrored << " px both");
  CHECK(worst_mirrored < worst_plain / 2);
  // Renumbering: the mirror of the mirror is the face again, its left eye's outer corner (36)
  // the right eye's (45) in between.
  Landmarks68 points;
  for (int i = 0; i < 68; ++i) points[i] = siamese::Point2f{float(i), float(2 * i)};
  const Landmarks68 once = siamese::mirror_landmarks(points, 100);
  CHECK(once[36].x == Approx(100 - 45));
  CHECK(once[36].y == Approx(90));
  const Landmarks68 twice = siamese::mirror_landmarks(once, 100);
  for (int i = 0; i < 68; ++i) CHECK(twice[i].x == Approx(points[i].x));
}

TEST_CASE("the model's crop policy decides the mirrored landmark chain", "[landmarks][align]") {
  SIAMESE_REQUIRE_FACE_API_FILES(weights, siamese::kLandmarkManifest);
  const cv::Mat face = siamese::testing::drawn_reference_face(1);
  const std::vector<Box> box{{20, 25, 110, 110}};
  for (const bool mirror : {false, true}) {
    siamese::CropPolicy crop;
    crop.align = siamese::Align::kLandmarks68;
    crop.align_mirror = mirror;
    siamese::LandmarkerOptions asked;
    asked.mirror = !mirror;  // the caller's options do not override the model's fact
    siamese::FaceAligner aligner(crop, torch::kCPU, siamese::face_api_cache_dir(), asked);
    REQUIRE(aligner.landmarker() != nullptr);
    CHECK(aligner.landmarker()->options().mirror == mirror);
    siamese::LandmarkerOptions expected_options;
    expected_options.mirror = mirror;
    siamese::FaceLandmarker expected(siamese::face_api_cache_dir(), torch::kCPU, expected_options);
    const Landmarks68 got = aligner.landmarks(rgb_view(face), box).at(0);
    const Landmarks68 want = expected.detect(rgb_view(face), box).at(0);
    for (int i = 0; i < 68; ++i) {
      CHECK(got[i].x == Approx(want[i].x).margin(1e-4));
      CHECK(got[i].y == Approx(want[i].y).margin(1e-4));
    }
  }
}

TEST_CASE("landmarks are batched: a batch gives each face's single result", "[landmarks]") {
  SIAMESE_REQUIRE_FACE_API_FILES(weights, siamese::kLandmarkManifest,
                                 siamese::kLandmarkTinyManifest);
  siamese::LandmarkerOptions options;
  options.batch_size = 2;  // three faces: two forward passes
  siamese::FaceLandmarker landmarker(siamese::face_api_cache_dir(), torch::kCPU, options);
  const cv::Mat a = siamese::testing::drawn_reference_face(0);
  const std::vector<Box> boxes = {{0, 0, 150, 150}, {20, 25, 110, 110}, {10, 5, 130, 140}};
  const auto together = landmarker.detect(rgb_view(a), boxes);
  REQUIRE(together.size() == 3);
  for (size_t i = 0; i < boxes.size(); ++i) {
    const auto alone = landmarker.detect(rgb_view(a), {boxes[i]}).at(0);
    for (int k = 0; k < 68; ++k) {
      CHECK(together[i][k].x == Approx(alone[k].x).margin(1e-3));
      CHECK(together[i][k].y == Approx(alone[k].y).margin(1e-3));
    }
  }
  CHECK(landmarker.detect(rgb_view(a), {}).empty());
}

TEST_CASE("landmark input: face-api's padding to a square and corner-anchored resize",
          "[landmarks]") {
  // A 4x2 crop of a frame: pads to 4x4 with one zero row above and one below, then the 112
  // output samples source row r * 4 / 112 (tfjs resizeBilinear without half-pixel centres).
  cv::Mat rgb(2, 4, CV_8UC3, cv::Scalar(100, 150, 200));
  std::vector<float> out(3 * 112 * 112);
  siamese::landmark_input_into(rgb_view(rgb), Box{0, 0, 4, 2}, out.data());
  const auto at = [&](int c, int y, int x) { return out[(c * 112 + y) * 112 + x]; };
  CHECK(at(0, 0, 0) == 0.0f);              // source row 0: padding
  CHECK(at(0, 28, 5) == Approx(100.0f));   // source row 1: the crop's first row
  CHECK(at(2, 56, 50) == Approx(200.0f));  // source row 2: its second row
  CHECK(at(1, 14, 0) == Approx(75.0f));    // source row 0.5: half padding, half crop
  CHECK(at(0, 70, 3) == Approx(50.0f));    // source row 2.5: half crop, half padding
  CHECK(at(0, 84, 0) == 0.0f);             // source row 3: padding
  CHECK_THROWS_AS(siamese::landmark_input_into(rgb_view(rgb), Box{10, 10, 4, 4}, out.data()),
                  siamese::InputError);
}

TEST_CASE("missing landmark weights name the file and how to fetch them", "[landmarks]") {
  const std::string empty = siamese::testing::temp_dir("landmarks-missing");
  try {
    siamese::FaceLandmarker landmarker(empty, torch::kCPU);
    FAIL("no error");
  } catch (const siamese::FileError& e) {
    const std::string what = e.what();
    CHECK(what.find("face_landmark_68_model-weights_manifest.json") != std::string::npos);
    CHECK(what.find("tests/fetch_weights.sh") != std::string::npos);
  }
}
