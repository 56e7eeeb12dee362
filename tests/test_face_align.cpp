// Alignment: the least-squares similarity, dlib's template and the point sets fitted onto it,
// the aligned crop of the one preprocessing function (a face rotated, scaled and shifted in a
// frame comes back onto the template within 1 px), and the crop policy's align facts in the
// model file.
#include <torch/torch.h>
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>
#include <opencv2/imgproc.hpp>

#include <cmath>
#include <functional>

#include "siamese/errors.h"
#include "siamese/face_align.h"
#include "siamese/model_file.h"
#include "siamese/preprocess.h"
#include "siamese/tracker.h"
#include "test_model_fixtures.h"
#include "test_support.h"

using siamese::Align;
using siamese::AlignPoints;
using siamese::Box;
using siamese::FivePoints;
using siamese::ImageView;
using siamese::Point2f;
using siamese::Similarity;

namespace {

ImageView rgb_view(const cv::Mat& rgb) {
  return ImageView::packed(rgb.data, rgb.cols, rgb.rows, static_cast<int>(rgb.step[0]),
                           siamese::PixelFormat::kRGB);
}

siamese::InputSpec dlib_like_spec() {
  siamese::InputSpec spec;
  spec.width = spec.height = 150;
  spec.channels = 3;
  spec.scale = 1.0f;  // raw pixel values: the test reads them back
  spec.mean = {0, 0, 0};
  spec.std = {1, 1, 1};
  spec.crop.align = Align::kLandmarks68;
  spec.crop.align_padding = 0.25f;
  return spec;
}

// A 150x150 "face": dark gray with a bright disc at each of the five points (distinct colours).
cv::Mat template_chip(const FivePoints& tmpl) {
  cv::Mat chip(150, 150, CV_8UC3, cv::Scalar(40, 40, 40));
  const cv::Scalar colours[5] = {
      {255, 0, 0}, {0, 255, 0}, {0, 0, 255}, {255, 255, 0}, {0, 255, 255}};
  for (int i = 0; i < 5; ++i) {
    cv::circle(chip, cv::Point2f(tmpl.points[i].x, tmpl.points[i].y), 5, colours[i], cv::FILLED,
               cv::LINE_AA);
  }
  return chip;
}

// The centroid of the pixels of channel c brighter than the others by 100 (a disc's colour).
Point2f centroid(const cv::Mat& rgb, int disc) {
  double sx = 0, sy = 0, sw = 0;
  const cv::Vec3b want[5] = {{255, 0, 0}, {0, 255, 0}, {0, 0, 255}, {255, 255, 0}, {0, 255, 255}};
  for (int y = 0; y < rgb.rows; ++y) {
    for (int x = 0; x < rgb.cols; ++x) {
      const cv::Vec3b p = rgb.at<cv::Vec3b>(y, x);
      double d = 0;
      for (int c = 0; c < 3; ++c) d += std::abs(p[c] - want[disc][c]);
      const double w = std::max(0.0, 200.0 - d);
      sx += w * x, sy += w * y, sw += w;
    }
  }
  REQUIRE(sw > 0);
  return Point2f{static_cast<float>(sx / sw), static_cast<float>(sy / sw)};
}

}  // namespace

TEST_CASE("fit_similarity recovers a rotation, scale and shift exactly", "[align]") {
  Similarity t;
  const double angle = 25.0 * M_PI / 180.0, scale = 1.7;
  t.a = scale * std::cos(angle);
  t.b = scale * std::sin(angle);
  t.tx = 31.5;
  t.ty = -12.25;
  std::vector<Point2f> from = {{10, 20}, {80, 22}, {45, 60}, {25, 90}, {70, 88}};
  std::vector<Point2f> to;
  for (const Point2f& p : from) to.push_back(t.apply(p));
  const Similarity fit = siamese::fit_similarity(from, to);
  CHECK(fit.a == Approx(t.a).margin(1e-6));
  CHECK(fit.b == Approx(t.b).margin(1e-6));
  CHECK(fit.tx == Approx(t.tx).margin(1e-4));
  CHECK(fit.ty == Approx(t.ty).margin(1e-4));
  CHECK(fit.scale() == Approx(1.7));
  CHECK(fit.angle_degrees() == Approx(25.0));
  const Point2f back = fit.inverse().apply(fit.apply({3, 4}));
  CHECK(back.x == Approx(3.0f).margin(1e-4));
  CHECK(back.y == Approx(4.0f).margin(1e-4));
  // Noisy points: the least-squares answer is the mean shift of a pure translation.
  const Similarity shift = siamese::fit_similarity({{0, 0}, {10, 0}}, {{1, 1}, {11, 3}});
  CHECK(shift.a == Approx(1.0));
  CHECK(shift.b == Approx(0.2));
  CHECK_THROWS_AS(siamese::fit_similarity({{1, 1}}, {{2, 2}}), siamese::InputError);
  CHECK_THROWS_AS(siamese::fit_similarity({{1, 1}, {1, 1}}, {{2, 2}, {3, 3}}), siamese::InputError);
}

TEST_CASE("the template is dlib's mean face framed as its 150x150 chips", "[align]") {
  siamese::InputSpec spec = dlib_like_spec();
  spec.crop.align_points = AlignPoints::kFive;
  const std::vector<Point2f> t = siamese::align_template(spec);
  REQUIRE(t.size() == 5);
  // Eyes level and left of right; the nose tip between them; mouth corners below, level.
  CHECK(t[0].x < t[1].x);
  CHECK(t[0].y == Approx(t[1].y).margin(0.5));
  CHECK(t[2].x == Approx(75.0).margin(1.5));
  CHECK(t[3].y == Approx(t[4].y).margin(0.5));
  CHECK(t[3].y > t[2].y);
  // Inner eye corner 39 of the mean face is at x 0.334606: padding 0.25 puts it at
  // (0.25 + 0.334606) / 1.5 * 150 = 58.46; the left eye centre lies left of it.
  CHECK(t[0].x < 58.46f);
  CHECK(t[0].x > (0.25f + 0.121737f) / 1.5f * 150.0f);  // right of outer corner 36
  // dlib33: nose 27-35, eyes 36-47, upper lip 48-54 and 60-64, in that order.
  spec.crop.align_points = AlignPoints::kDlib33;
  const std::vector<Point2f> d = siamese::align_template(spec);
  REQUIRE(d.size() == 33);
  const siamese::Landmarks68 face = siamese::template_face(spec);
  CHECK(d[0].x == face[27].x);
  CHECK(d[12].x == Approx(58.46f).margin(0.01));  // point 39
  CHECK(d[27].y == face[54].y);
  CHECK(d[28].x == face[60].x);
  CHECK(d[32].x == face[64].x);
}

TEST_CASE("dlib33 fits the points that stay with the skull: jaw, brows and lower lip move nothing",
          "[align]") {
  siamese::InputSpec spec = dlib_like_spec();
  spec.crop.align_points = AlignPoints::kDlib33;
  // A face in a frame: the template turned 10 degrees, scaled 1.5, shifted.
  Similarity t;
  t.a = 1.5 * std::cos(10 * M_PI / 180);
  t.b = 1.5 * std::sin(10 * M_PI / 180);
  t.tx = 40;
  t.ty = 25;
  siamese::Landmarks68 face = siamese::template_face(spec);
  for (Point2f& p : face) p = t.apply(p);
  const Similarity fit = siamese::input_to_frame(face, spec);
  CHECK(fit.a == Approx(t.a).margin(1e-4));
  CHECK(fit.b == Approx(t.b).margin(1e-4));
  CHECK(fit.tx == Approx(t.tx).margin(1e-2));
  CHECK(fit.ty == Approx(t.ty).margin(1e-2));
  // An open mouth, raised brows and a wide jaw: the same fit.
  siamese::Landmarks68 moved = face;
  for (int i = 0; i <= 26; ++i) moved[i].y -= 9.0f;
  for (int i : {55, 56, 57, 58, 59, 65, 66, 67}) moved[i].y += 12.0f;
  const Similarity same = siamese::input_to_frame(moved, spec);
  CHECK(same.a == Approx(fit.a).margin(1e-6));
  CHECK(same.ty == Approx(fit.ty).margin(1e-4));
  // Not a number where it is not fitted: still fine; where it is: refused.
  moved[0].x = NAN;
  CHECK_NOTHROW(siamese::input_to_frame(moved, spec));
  moved[30].x = NAN;
  CHECK_THROWS_AS(siamese::input_to_frame(moved, spec), siamese::InputError);
  // One landmark off by 6 px moves the crop much less with 33 points than with five.
  siamese::Landmarks68 noisy = face;
  noisy[30].x += 6.0f;  // the nose tip, a point of both sets
  const Point2f centre{75, 75};
  const auto shift = [&](AlignPoints which) {
    spec.crop.align_points = which;
    const Point2f a = siamese::input_to_frame(face, spec).apply(centre);
    const Point2f b = siamese::input_to_frame(noisy, spec).apply(centre);
    return std::hypot(a.x - b.x, a.y - b.y);
  };
  CHECK(shift(AlignPoints::kDlib33) < 0.5 * shift(AlignPoints::kFive));
  CHECK(siamese::parse_align_points("dlib33", "--align-points") == AlignPoints::kDlib33);
  CHECK(siamese::parse_align_points("five", "--align-points") == AlignPoints::kFive);
  CHECK_THROWS_WITH(siamese::parse_align_points("68", "--align-points"),
                    Catch::Contains("--align-points"));
}

TEST_CASE("a face rotated, scaled and shifted in a frame maps back onto the template within 1 px",
          "[align]") {
  siamese::InputSpec spec = dlib_like_spec();
  const siamese::Landmarks68 tmpl = siamese::template_face(spec);
  const cv::Mat chip = template_chip(siamese::five_points(tmpl));
  for (const AlignPoints which : {AlignPoints::kFive, AlignPoints::kDlib33}) {
    spec.crop.align_points = which;
    for (const double degrees : {-25.0, 0.0, 18.0}) {
      for (const double scale : {0.8, 1.6, 3.1}) {
        Similarity t;  // chip -> frame
        t.a = scale * std::cos(degrees * M_PI / 180.0);
        t.b = scale * std::sin(degrees * M_PI / 180.0);
        t.tx = 137.0;
        t.ty = 61.0;
        const cv::Matx23d m(t.a, -t.b, t.tx, t.b, t.a, t.ty);
        cv::Mat frame;
        cv::warpAffine(chip, frame, m, cv::Size(700, 600), cv::INTER_LINEAR, cv::BORDER_CONSTANT,
                       cv::Scalar(40, 40, 40));
        siamese::Landmarks68 in_frame;
        for (int i = 0; i < siamese::kLandmarkCount; ++i) in_frame[i] = t.apply(tmpl[i]);
        torch::Tensor out = siamese::make_batch_tensor(1, spec);
        siamese::preprocess_into(rgb_view(frame), {Box{100, 50, 200, 200}}, spec,
                                 siamese::Framing::kDetectorBox, out, 0, {in_frame});
        // Back to an 8-bit HWC image to find the discs.
        const torch::Tensor hwc =
            out[0].permute({1, 2, 0}).round().clamp(0, 255).to(torch::kUInt8).contiguous();
        const cv::Mat back(150, 150, CV_8UC3, hwc.data_ptr<uint8_t>());
        for (int i = 0; i < 5; ++i) {
          const Point2f c = centroid(back, i), want = centroid(chip, i);
          INFO(siamese::align_points_name(which)
               << " angle " << degrees << " scale " << scale << " point " << i);
          CHECK(std::hypot(c.x - want.x, c.y - want.y) < 1.0);
        }
      }
    }
  }
}

TEST_CASE("five points: eye centres, nose tip and mouth corners of the 68", "[align]") {
  siamese::Landmarks68 l;
  for (int i = 0; i < 68; ++i) l[i] = Point2f{static_cast<float>(i), static_cast<float>(2 * i)};
  const FivePoints f = siamese::five_points(l);
  CHECK(f.points[0].x == Approx(38.5f));  // mean of 36..41
  CHECK(f.points[1].x == Approx(44.5f));  // mean of 42..47
  CHECK(f.points[2].x == 30.0f);
  CHECK(f.points[3].y == 96.0f);
  CHECK(f.points[4].x == 54.0f);
}

TEST_CASE("a model that aligns needs landmarks, one that does not ignores the align path",
          "[align]") {
  siamese::InputSpec spec = dlib_like_spec();
  cv::Mat frame(200, 200, CV_8UC3, cv::Scalar(90, 90, 90));
  torch::Tensor out = siamese::make_batch_tensor(1, spec);
  CHECK_THROWS_WITH(siamese::preprocess_into(rgb_view(frame), {Box{50, 50, 100, 100}}, spec,
                                             siamese::Framing::kDetectorBox, out, 0),
                    Catch::Contains("landmarks"));
  // A pre-cropped image (exact framing) is used as it is.
  CHECK_NOTHROW(siamese::preprocess_into(rgb_view(frame), {Box{0, 0, 200, 200}}, spec,
                                         siamese::Framing::kExact, out, 0));
  siamese::Landmarks68 nan_points = siamese::template_face(spec);
  nan_points[36].x = NAN;
  CHECK_THROWS_AS(siamese::preprocess_into(rgb_view(frame), {Box{50, 50, 100, 100}}, spec,
                                           siamese::Framing::kDetectorBox, out, 0, {nan_points}),
                  siamese::InputError);
  CHECK_THROWS_AS(
      siamese::preprocess_into(rgb_view(frame), {Box{50, 50, 100, 100}}, spec,
                               siamese::Framing::kDetectorBox, out, 0, {nan_points, nan_points}),
      siamese::InputError);
  spec.crop.align_padding = -1.0f;
  CHECK_THROWS_WITH(siamese::check_input_spec(spec), Catch::Contains("align_padding"));
  CHECK(siamese::parse_align("landmarks68", "--align") == Align::kLandmarks68);
  CHECK_THROWS_WITH(siamese::parse_align("eyes", "--align"), Catch::Contains("--align"));
}

TEST_CASE("the model file keeps the crop policy's alignment, older files read as none",
          "[align][model-file]") {
  const std::string dir = siamese::testing::temp_dir("align-model");
  const siamese::ArchOptions arch;
  siamese::Network net = siamese::Network::create(arch);
  siamese::ModelInfo info = siamese::testing::untrained_model_info(arch);
  info.input.crop.align = Align::kLandmarks68;
  info.input.crop.align_padding = 0.4f;
  info.input.crop.align_shift_y = -0.05f;
  info.input.crop.align_mirror = false;
  info.input.crop.align_points = AlignPoints::kFive;
  const std::string path = dir + "/aligned.pt";
  siamese::save_model(path, net, info);
  const siamese::LoadedModel loaded = siamese::load_model(path);
  CHECK(loaded.info.input.crop.align == Align::kLandmarks68);
  CHECK(loaded.info.input.crop.align_padding == Approx(0.4f));
  CHECK(loaded.info.input.crop.align_shift_y == Approx(-0.05f));
  CHECK_FALSE(loaded.info.input.crop.align_mirror);
  CHECK(loaded.info.input.crop.align_points == AlignPoints::kFive);
  info.input.crop.align_mirror = true;
  info.input.crop.align_points = AlignPoints::kDlib33;
  siamese::save_model(path, net, info);
  CHECK(siamese::load_model(path).info.input.crop.align_mirror);
  CHECK(siamese::load_model(path).info.input.crop.align_points == AlignPoints::kDlib33);

  // Facts without the align keys (as every file before issue 13) and with a bad value.
  const auto save_with = [&](const std::string& name,
                             const std::function<void(nlohmann::json&)>& f) {
    info.fingerprint = siamese::fingerprint_of(net);
    nlohmann::json facts = nlohmann::json::parse(siamese::describe_model(info));
    f(facts);
    return siamese::testing::save_with_raw_facts(dir + "/" + name + ".pt", net, facts.dump());
  };
  const std::string old = save_with("old", [](nlohmann::json& j) {
    auto& crop = j["input"]["crop"];
    crop.erase("align");
    crop.erase("align_padding");
    crop.erase("align_shift_y");
    crop.erase("align_mirror");
    crop.erase("align_points");
  });
  CHECK(siamese::load_model(old).info.input.crop.align == Align::kNone);
  // An aligned file from before the mirrored landmark chain keeps its single chain.
  const std::string before_mirror = save_with(
      "before-mirror", [](nlohmann::json& j) { j["input"]["crop"].erase("align_mirror"); });
  CHECK(siamese::load_model(before_mirror).info.input.crop.align == Align::kLandmarks68);
  CHECK_FALSE(siamese::load_model(before_mirror).info.input.crop.align_mirror);
  // One from before the dlib33 fit keeps the five points it was measured with.
  const std::string before_dlib33 = save_with(
      "before-dlib33", [](nlohmann::json& j) { j["input"]["crop"].erase("align_points"); });
  CHECK(siamese::load_model(before_dlib33).info.input.crop.align_points == AlignPoints::kFive);
  const std::string bad_points =
      save_with("bad-points", [](nlohmann::json& j) { j["input"]["crop"]["align_points"] = 5; });
  CHECK_THROWS_WITH(siamese::load_model(bad_points), Catch::Contains("align_points"));
  const std::string bad =
      save_with("bad", [](nlohmann::json& j) { j["input"]["crop"]["align"] = "eyes"; });
  try {
    siamese::load_model(bad);
    FAIL("accepted");
  } catch (const siamese::FileError& e) {
    CHECK(e.path() == bad);
    CHECK(std::string(e.what()).find("input.crop.align") != std::string::npos);
  }
}

TEST_CASE("tracks keep their landmarks between detections as they keep boxes", "[align]") {
  siamese::FaceTracker tracker;
  auto faces = tracker.update({Box{100, 100, 50, 50}});
  REQUIRE(faces.size() == 1);
  CHECK_FALSE(faces[0].has_points);
  FivePoints p;
  p.points = {Point2f{115, 120}, Point2f{135, 120}, Point2f{125, 130}, Point2f{117, 140},
              Point2f{133, 140}};
  tracker.set_points(faces[0].track_id, p, faces[0].box);
  // Next detection 5 px right and 1.2 times the size: points follow the map between the boxes.
  faces = tracker.update({Box{105, 100, 60, 60}});
  REQUIRE(faces.size() == 1);
  REQUIRE(faces[0].has_points);
  CHECK(faces[0].points.points[0].x == Approx(105 + 15 * 1.2));
  CHECK(faces[0].points.points[0].y == Approx(100 + 20 * 1.2));
  // Between detections the box moves at its velocity (5 px per frame) and the points with it.
  faces = tracker.predict();
  REQUIRE(faces.size() == 1);
  CHECK(faces[0].box.x == 110);
  CHECK(faces[0].points.points[0].x == Approx(110 + 15 * 1.2));
  CHECK(faces[0].points.points[4].x == Approx(110 + 33 * 1.2));
  CHECK(faces[0].points.points[4].y == Approx(100 + 40 * 1.2));
}
