// The CNN face detector (face-api's TinyFaceDetector rebuilt in LibTorch): its boxes and scores
// against face-api's own JavaScript on the same frames (tests/fixtures/face_api_detections.json,
// written by tests/reference/face_api_detections.js), batching, pixel formats, bad options and a
// missing weights file, and the same detector behind FaceDetector (DetectorOptions kind "cnn").
#include <catch2/catch.hpp>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <opencv2/imgproc.hpp>

#include "siamese/detector.h"
#include "siamese/errors.h"
#include "siamese/image_io.h"
#include "siamese/pretrained.h"
#include "siamese/tiny_face_detector.h"
#include "test_model_fixtures.h"
#include "test_support.h"

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

int clamp8(int v) { return v < 0 ? 0 : (v > 255 ? 255 : v); }

bool in_ellipse(int64_t x, int64_t y, int64_t cx, int64_t cy, int64_t ax, int64_t ay) {
  const int64_t dx = x - cx, dy = y - cy;
  return dx * dx * ay * ay + dy * dy * ax * ax <= ax * ax * ay * ay;
}

struct Head {
  int cx, cy, ax, ay;
};
struct SyntheticSpec {
  int w, h, seed;
  std::vector<Head> heads;
};

// tests/reference/face_api_detections.js's kSynthetic and syntheticFrame(), byte for byte.
const std::vector<SyntheticSpec>& synthetic_specs() {
  static const std::vector<SyntheticSpec> specs = {
      {640, 480, 0, {{200, 220, 70, 92}, {470, 260, 40, 52}}},
      {300, 500, 1, {{150, 210, 85, 110}}},
      {385, 289, 2, {{120, 140, 50, 64}, {290, 150, 36, 46}}},
  };
  return specs;
}

cv::Mat synthetic_frame(const SyntheticSpec& s) {
  cv::Mat px(s.h, s.w, CV_8UC3);
  for (int y = 0; y < s.h; ++y) {
    for (int x = 0; x < s.w; ++x) {
      int r = (30 + x * 5 / 8 + 17 * s.seed) % 256;
      int g = (60 + y * 3 / 4 + 31 * s.seed) % 256;
      int b = (120 + (x + y) / 4 + 5 * s.seed) % 256;
      for (const Head& hd : s.heads) {
        const int cx = hd.cx, cy = hd.cy, ax = hd.ax, ay = hd.ay;
        if (in_ellipse(x, y, cx, cy - ay / 6, ax * 9 / 8, ay * 9 / 8)) {
          r = 60;
          g = 42;
          b = 30;
        }
        if (y >= cy - ay / 3 && in_ellipse(x, y, cx, cy, ax, ay)) {
          const int shade = (y - cy) * 24 / ay;
          r = clamp8(214 - shade);
          g = clamp8(170 - shade);
          b = clamp8(140 - shade - std::abs(x - cx) * 20 / ax);
          const int eye_y = cy - ay / 6;
          for (int ex : {cx - ax * 2 / 5, cx + ax * 2 / 5}) {
            if (in_ellipse(x, y, ex, eye_y, ax / 5, ay / 14)) {
              r = 235;
              g = 235;
              b = 230;
            }
            if (in_ellipse(x, y, ex, eye_y, ax / 12, ay / 14)) {
              r = 45;
              g = 35;
              b = 30;
            }
            if (std::abs(x - ex) <= ax / 5 && y >= eye_y - ay / 6 && y <= eye_y - ay / 8) {
              r = 70;
              g = 50;
              b = 40;
            }
          }
          if (std::abs(x - cx) <= ax / 14 && y >= eye_y && y <= cy + ay / 5) {
            r = clamp8(r - 30);
            g = clamp8(g - 35);
            b = clamp8(b - 35);
          }
          if (in_ellipse(x, y, cx, cy + ay * 2 / 5, ax / 3, ay / 12)) {
            r = 160;
            g = 60;
            b = 65;
          }
        }
      }
      auto* p = px.ptr<unsigned char>(y) + 3 * x;
      p[0] = static_cast<unsigned char>(r);
      p[1] = static_cast<unsigned char>(g);
      p[2] = static_cast<unsigned char>(b);
    }
  }
  return px;
}

// An AT&T face placed as place_on_background places it, gray copied to R, G and B.
cv::Mat att_placed_rgb(const std::string& path) {
  const cv::Mat placed = siamese::place_on_background(siamese::read_image(path, 1));
  cv::Mat rgb;
  cv::cvtColor(placed, rgb, cv::COLOR_GRAY2RGB);
  return rgb;
}

std::uint32_t fnv1a32(const cv::Mat& m) {
  std::uint32_t h = 0x811c9dc5u;
  for (int y = 0; y < m.rows; ++y) {
    const unsigned char* p = m.ptr<unsigned char>(y);
    for (size_t i = 0; i < static_cast<size_t>(m.cols) * m.channels(); ++i) {
      h ^= p[i];
      h *= 0x01000193u;
    }
  }
  return h;
}

siamese::ImageView rgb_view(const cv::Mat& m) {
  return siamese::ImageView::packed(m.data, m.cols, m.rows, static_cast<int>(m.step),
                                    siamese::PixelFormat::kRGB);
}

struct RefBox {
  double x, y, width, height, score;
};

double iou(const RefBox& a, const siamese::FaceDetection& b) {
  const double w = std::max(0.0, std::min(a.x + a.width, b.x + b.width) - std::max(a.x, b.x));
  const double h = std::max(0.0, std::min(a.y + a.height, b.y + b.height) - std::max(a.y, b.y));
  return w * h / (a.width * a.height + b.width * b.height - w * h);
}

bool same_box(const RefBox& a, const siamese::FaceDetection& b) {
  const double edge =
      std::max({std::abs(a.x - b.x), std::abs(a.y - b.y), std::abs(a.x + a.width - b.x - b.width),
                std::abs(a.y + a.height - b.y - b.height)});
  return edge <= 1.5 || iou(a, b) >= 0.95;
}

struct Frame {
  std::string name;
  cv::Mat rgb;
  const json* entry;
};

// The fixture's frames this machine can rebuild (AT&T ones need SIAMESE_DATA).
std::vector<Frame> fixture_frames(const json& fixture) {
  const std::string att = siamese::testing::att_faces_dir();
  std::vector<Frame> frames;
  for (const json& f : fixture["frames"]) {
    cv::Mat rgb;
    if (f["kind"] == "synthetic") {
      rgb = synthetic_frame(synthetic_specs().at(f["index"].get<size_t>()));
    } else if (att.empty()) {
      WARN("AT&T faces not found: " << f["name"] << " not compared");
      continue;
    } else {
      rgb = att_placed_rgb(att + "/" + f["file"].get<std::string>());
    }
    frames.push_back({f["name"].get<std::string>(), rgb, &f});
  }
  return frames;
}

json read_fixture() {
  std::ifstream in(std::string(SIAMESE_SOURCE_DIR) + "/tests/fixtures/face_api_detections.json");
  REQUIRE(in);
  return json::parse(in);
}

}  // namespace

TEST_CASE("the tiny face detector gives face-api's JavaScript boxes and scores",
          "[core][pretrained][cnn-detector]") {
  SIAMESE_REQUIRE_FACE_API_FILES(dir, siamese::kTinyFaceDetectorWeights);
  const json fixture = read_fixture();
  const double threshold = fixture["score_threshold"].get<double>();
  const std::vector<Frame> frames = fixture_frames(fixture);
  REQUIRE(frames.size() >= 3);
  int compared = 0;
  for (int size : fixture["input_sizes"].get<std::vector<int>>()) {
    siamese::TinyFaceDetector detector(
        siamese::TinyFaceDetectorOptions().set_input_size(size).set_score_threshold(threshold));
    std::vector<siamese::ImageView> views;
    for (const Frame& f : frames) views.push_back(rgb_view(f.rgb));
    const auto found = detector.detect(views);  // all frames in one batch
    REQUIRE(found.size() == frames.size());
    for (size_t i = 0; i < frames.size(); ++i) {
      INFO(frames[i].name << " at input size " << size);
      REQUIRE(fnv1a32(frames[i].rgb) == (*frames[i].entry)["fnv1a32"].get<std::uint32_t>());
      std::vector<RefBox> want;
      for (const json& b : (*frames[i].entry)["detections"][std::to_string(size)]) {
        want.push_back({b["x"], b["y"], b["width"], b["height"], b["score"]});
      }
      // Scores within 0.01 of the threshold may fall either side of it.
      for (const RefBox& w : want) {
        if (w.score < threshold + 0.01) continue;
        bool matched = false;
        for (const auto& d : found[i]) {
          if (same_box(w, d) && std::abs(d.score - w.score) <= 0.01) matched = true;
        }
        INFO("face-api box " << w.x << "," << w.y << " " << w.width << "x" << w.height << " score "
                             << w.score);
        CHECK(matched);
        ++compared;
      }
      for (const auto& d : found[i]) {
        if (d.score < threshold + 0.01) continue;
        bool matched = false;
        for (const RefBox& w : want) matched = matched || same_box(w, d);
        INFO("our box " << d.x << "," << d.y << " " << d.width << "x" << d.height << " score "
                        << d.score);
        CHECK(matched);
      }
    }
  }
  CHECK(compared >= 6);

  // The network itself: the raw head output of one frame, within 1e-3.
  const json& raw = fixture["raw_output"];
  const Frame& first = frames.front();
  REQUIRE(raw["frame"] == first.name);
  siamese::TinyFaceDetector detector(
      siamese::TinyFaceDetectorOptions().set_input_size(raw["input_size"].get<int>()));
  const torch::Tensor ours = detector.raw_output({rgb_view(first.rgb)});
  const std::vector<int64_t> shape = raw["shape"].get<std::vector<int64_t>>();
  REQUIRE(ours.sizes().vec() == shape);
  const torch::Tensor want = torch::tensor(raw["values"].get<std::vector<float>>()).reshape(shape);
  const float diff = (ours - want).abs().max().item<float>();
  INFO("max |C++ - JavaScript| of the raw output = " << diff);
  CHECK(diff < 1e-3f);
}

TEST_CASE("the tiny face detector's batch gives each frame's own boxes, from every pixel format",
          "[core][pretrained][cnn-detector]") {
  SIAMESE_REQUIRE_FACE_API_FILES(dir, siamese::kTinyFaceDetectorWeights);
  siamese::TinyFaceDetector detector(siamese::TinyFaceDetectorOptions().set_score_threshold(0.2));
  std::vector<cv::Mat> rgb;
  for (const auto& s : synthetic_specs()) rgb.push_back(synthetic_frame(s));
  std::vector<siamese::ImageView> views;
  for (const auto& m : rgb) views.push_back(rgb_view(m));
  const auto batched = detector.detect(views);
  size_t total = 0;
  for (size_t i = 0; i < rgb.size(); ++i) {
    const auto alone = detector.detect(views[i]);
    REQUIRE(alone.size() == batched[i].size());
    for (size_t k = 0; k < alone.size(); ++k) {
      CHECK(std::abs(alone[k].x - batched[i][k].x) < 1e-3);
      CHECK(std::abs(alone[k].width - batched[i][k].width) < 1e-3);
      CHECK(std::abs(alone[k].score - batched[i][k].score) < 1e-5);
    }
    total += alone.size();
  }
  CHECK(total >= 2);

  // BGRx with a padded stride reads the same pixels; I420 (its colour conversion) nearly so.
  const cv::Mat& frame = rgb[0];
  const auto want = detector.detect(views[0]);
  REQUIRE(!want.empty());
  cv::Mat bgrx;
  cv::cvtColor(frame, bgrx, cv::COLOR_RGB2BGRA);
  cv::Mat padded(bgrx.rows, bgrx.cols + 5, CV_8UC4, cv::Scalar::all(7));
  bgrx.copyTo(padded(cv::Rect(0, 0, bgrx.cols, bgrx.rows)));
  const auto from_bgrx = detector.detect(
      siamese::ImageView::packed(padded.data, bgrx.cols, bgrx.rows, static_cast<int>(padded.step),
                                 siamese::PixelFormat::kBGRx));
  REQUIRE(from_bgrx.size() == want.size());
  for (size_t k = 0; k < want.size(); ++k) CHECK(from_bgrx[k].score == Approx(want[k].score));
  cv::Mat i420;
  cv::cvtColor(frame, i420, cv::COLOR_RGB2YUV_I420);
  siamese::ImageView yuv;
  yuv.format = siamese::PixelFormat::kI420;
  yuv.width = frame.cols;
  yuv.height = frame.rows;
  yuv.planes = {i420.data, i420.data + frame.cols * frame.rows,
                i420.data + frame.cols * frame.rows * 5 / 4};
  yuv.strides = {frame.cols, frame.cols / 2, frame.cols / 2};
  const auto from_yuv = detector.detect(yuv);
  REQUIRE(!from_yuv.empty());
  CHECK(iou(RefBox{want[0].x, want[0].y, want[0].width, want[0].height, 0}, from_yuv[0]) > 0.8);
}

TEST_CASE("the tiny face detector refuses bad options and names a missing weights file",
          "[core][pretrained][cnn-detector]") {
  using siamese::TinyFaceDetectorOptions;
  for (int size : {0, 100, 31, 2048}) {
    INFO(size);
    CHECK_THROWS_WITH(
        siamese::check_tiny_face_detector_options(TinyFaceDetectorOptions().set_input_size(size)),
        Catch::Contains("detector-input-size " + std::to_string(size)));
  }
  for (double t : {0.0, 1.0, -0.5, std::nan("")}) {
    INFO(t);
    CHECK_THROWS_AS(
        siamese::check_tiny_face_detector_options(TinyFaceDetectorOptions().set_score_threshold(t)),
        siamese::InputError);
    CHECK_THROWS_WITH(
        siamese::check_tiny_face_detector_options(TinyFaceDetectorOptions().set_score_threshold(t)),
        Catch::Contains("detector-threshold"));
  }
  CHECK_NOTHROW(siamese::check_tiny_face_detector_options(
      TinyFaceDetectorOptions().set_input_size(224).set_score_threshold(0.3)));

  const std::string empty = siamese::testing::temp_dir("no-weights");
  try {
    siamese::TinyFaceDetector detector(TinyFaceDetectorOptions().set_weights_dir(empty));
    FAIL("no error for a folder without weights");
  } catch (const siamese::FileError& e) {
    CHECK(e.path() == empty + "/" + siamese::kTinyFaceDetectorManifest);
    CHECK_THAT(e.what(), Catch::Contains("tests/fetch_weights.sh"));
  }
  // Behind FaceDetector, the same error.
  CHECK_THROWS_AS(
      siamese::FaceDetector(siamese::DetectorOptions().set_kind("cnn").set_weights_dir(empty)),
      siamese::FileError);
}

TEST_CASE("the tiny face detector runs on CUDA with the CPU's boxes", "[cuda][cnn-detector]") {
  SIAMESE_REQUIRE_FACE_API_FILES(dir, siamese::kTinyFaceDetectorWeights);
  SIAMESE_REQUIRE_CUDA();
  const cv::Mat frame = synthetic_frame(synthetic_specs()[0]);
  siamese::TinyFaceDetector cpu(siamese::TinyFaceDetectorOptions().set_score_threshold(0.2));
  siamese::TinyFaceDetector gpu(
      siamese::TinyFaceDetectorOptions().set_score_threshold(0.2).set_device(torch::kCUDA));
  const auto want = cpu.detect(rgb_view(frame));
  const auto got = gpu.detect({rgb_view(frame), rgb_view(frame)});
  REQUIRE(want.size() >= 1);
  for (const auto& frame_boxes : got) {
    REQUIRE(frame_boxes.size() == want.size());
    for (size_t k = 0; k < want.size(); ++k) {
      CHECK(std::abs(frame_boxes[k].x - want[k].x) < 0.5);
      CHECK(std::abs(frame_boxes[k].score - want[k].score) < 1e-3);
    }
  }
}
