// siamese-render-walk: the same seed gives the same video and truth byte for byte, and the
// truth says where every face is: the pixels at each truth box are that image of that person
// (AT&T grey faces, or LFW colour photos cut to their middle).
#include <catch2/catch.hpp>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <opencv2/videoio.hpp>
#include <set>
#include <sstream>

#include "samples_process.h"
#include "test_support.h"

namespace fs = std::filesystem;
using siamese::testing::program_path;
using siamese::testing::run_program;

namespace {

std::vector<std::string> render_args(const std::string& data, const std::string& dir,
                                     const std::string& tag, int seed) {
  return {program_path("siamese-render-walk"),
          "--data",
          data,
          "--people",
          "s1-s3",
          "--images",
          "6-10",
          "--strangers",
          "s21-s23",
          "--fps",
          "10",
          "--segment",
          "2",
          "--pairs",
          "0.6",
          "--seed",
          std::to_string(seed),
          "--out",
          dir + "/" + tag + ".avi",
          "--truth",
          dir + "/" + tag + ".json"};
}

}  // namespace

TEST_CASE("siamese-render-walk is deterministic in its seed", "[samples]") {
  SIAMESE_REQUIRE_ATT(data);
  const std::string dir = siamese::testing::temp_dir("render_walk");
  for (const auto& [tag, seed] : {std::pair<std::string, int>{"a", 5}, {"b", 5}, {"c", 6}}) {
    fs::create_directories(dir + "/" + tag);  // same file names: the truth names the video
    const auto r = run_program(render_args(data, dir + "/" + tag, "walk", seed));
    INFO(r.output);
    REQUIRE(r.status == 0);
  }
  CHECK(siamese::testing::read_file(dir + "/a/walk.avi") ==
        siamese::testing::read_file(dir + "/b/walk.avi"));
  CHECK(siamese::testing::read_file(dir + "/a/walk.json") ==
        siamese::testing::read_file(dir + "/b/walk.json"));
  CHECK(siamese::testing::read_file(dir + "/a/walk.json") !=
        siamese::testing::read_file(dir + "/c/walk.json"));
  CHECK(siamese::testing::read_file(dir + "/a/walk.avi") !=
        siamese::testing::read_file(dir + "/c/walk.avi"));
}

TEST_CASE("siamese-render-walk's truth matches the pixels of its video", "[samples]") {
  SIAMESE_REQUIRE_ATT(data);
  const std::string dir = siamese::testing::temp_dir("render_truth");
  const auto r = run_program(render_args(data, dir, "walk", 11));
  INFO(r.output);
  REQUIRE(r.status == 0);
  const nlohmann::json truth =
      nlohmann::json::parse(siamese::testing::read_file(dir + "/walk.json"));
  const int width = truth.at("width"), height = truth.at("height");
  CHECK(width == 640);
  CHECK(height == 480);

  // Every walker: people under their name, strangers as "stranger:sNN"; each walks once.
  std::set<std::string> identities;
  for (const auto& w : truth.at("walkers")) identities.insert(w.at("identity").get<std::string>());
  CHECK(identities ==
        std::set<std::string>{"s1", "s2", "s3", "stranger:s21", "stranger:s22", "stranger:s23"});

  cv::VideoCapture video(dir + "/walk.avi", cv::CAP_OPENCV_MJPEG);
  REQUIRE(video.isOpened());
  int frames_read = 0, two_at_once = 0, faces_checked = 0;
  std::set<std::string> images_seen;
  cv::Mat frame, gray, expected;
  for (const auto& f : truth.at("frames")) {
    REQUIRE(video.read(frame));
    CHECK(f.at("frame").get<int>() == frames_read);
    ++frames_read;
    const auto& faces = f.at("faces");
    if (faces.size() == 2) ++two_at_once;
    std::vector<cv::Rect> boxes;
    for (const auto& face : faces) {
      const cv::Rect box(face.at("x"), face.at("y"), face.at("width"), face.at("height"));
      CHECK(box.x >= 0);
      CHECK(box.y >= 0);
      CHECK(box.x + box.width <= width);
      CHECK(box.y + box.height <= height);
      CHECK(box.height >= 120 * 0.95);
      CHECK(box.height <= 190 * 1.05);
      for (const auto& other : boxes) CHECK((box & other).area() == 0);  // faces never overlap
      boxes.push_back(box);
      const std::string image = face.at("image");
      images_seen.insert(image);
      const std::string identity = face.at("identity");
      CHECK(identity.size() >= 2);
      CHECK(image.rfind(identity.substr(identity.find(':') + 1) + "/", 0) == 0);
      // The pixels in the box are that image, scaled (JPEG-coded: a small mean difference).
      if (frames_read % 3 == 0) {
        cv::cvtColor(frame(box), gray, cv::COLOR_BGR2GRAY);
        const cv::Mat source = cv::imread(data + "/" + image, cv::IMREAD_GRAYSCALE);
        cv::resize(source, expected, box.size(), 0, 0, cv::INTER_LINEAR);
        cv::Mat diff;
        cv::absdiff(gray, expected, diff);
        CHECK(cv::mean(diff)[0] < 6.0);
        ++faces_checked;
      }
    }
  }
  CHECK(frames_read == truth.at("frame_count").get<int>());
  CHECK_FALSE(video.read(frame));  // no frame beyond the truth
  CHECK(two_at_once > 0);          // --pairs 0.6: some segments hold two walkers
  CHECK(faces_checked > 20);
  for (const auto& image : images_seen) {  // only the images asked for
    const std::string stem = fs::path(image).stem().string();
    CHECK(std::stoi(stem) >= 6);
  }
}

TEST_CASE("siamese-render-walk writes CSV truth and rejects bad input", "[samples]") {
  SIAMESE_REQUIRE_ATT(data);
  const std::string dir = siamese::testing::temp_dir("render_csv");
  const std::string bin = program_path("siamese-render-walk");
  auto r = run_program({bin, "--data", data, "--people", "s4", "--images", "1-2", "--fps", "5",
                        "--segment", "1", "--out", dir + "/w.avi", "--truth", dir + "/w.csv"});
  INFO(r.output);
  REQUIRE(r.status == 0);
  std::istringstream csv(siamese::testing::read_file(dir + "/w.csv"));
  std::string line;
  std::getline(csv, line);
  CHECK(line == "frame,time,walker,identity,x,y,width,height,image");
  int rows = 0;
  while (std::getline(csv, line)) {
    CHECK(line.find(",s4,") != std::string::npos);
    ++rows;
  }
  CHECK(rows == 5);  // one walker, 1 s at 5 fps

  r = run_program({bin, "--data", data, "--out", dir + "/x.avi", "--truth", dir + "/x.json"});
  CHECK(r.status == 2);
  CHECK(r.output.find("--people") != std::string::npos);
  r = run_program({bin, "--data", data, "--people", "s99", "--out", dir + "/x.avi", "--truth",
                   dir + "/x.json"});
  CHECK(r.status == 1);
  CHECK(r.output.find("s99") != std::string::npos);
  r = run_program({bin, "--data", dir + "/missing", "--people", "s1", "--out", dir + "/x.avi",
                   "--truth", dir + "/x.json"});
  CHECK(r.status == 1);
  CHECK(r.output.find("missing") != std::string::npos);
}

namespace {

// $SIAMESE_LFW, else ../shared/data/lfw beside the source tree; "" when absent.
std::string lfw_dir() {
  const char* env = std::getenv("SIAMESE_LFW");
  const std::string dir =
      env && *env ? env : std::string(SIAMESE_SOURCE_DIR) + "/../shared/data/lfw";
  return fs::exists(fs::path(dir) / "Colin_Powell" / "Colin_Powell_0006.jpg") ? dir : "";
}

}  // namespace

TEST_CASE("siamese-render-walk shows LFW's colour photos, cut to their middle", "[samples]") {
  const std::string lfw = lfw_dir();
  if (lfw.empty()) {
    WARN("skipped: LFW not found (set SIAMESE_LFW or provide ../shared/data/lfw)");
    return;
  }
  const std::string dir = siamese::testing::temp_dir("render_lfw");
  const std::string bin = program_path("siamese-render-walk");
  // People walk with photos 6-8 (LFW's Name_0006.jpg ..); 1-5 would be their enrolled ones.
  auto r = run_program({bin,
                        "--data",
                        lfw,
                        "--people",
                        "Colin_Powell,Tony_Blair",
                        "--images",
                        "6-8",
                        "--strangers",
                        "George_W_Bush",
                        "--stranger-images",
                        "1-3",
                        "--centre-crop",
                        "0.6",
                        "--fps",
                        "10",
                        "--segment",
                        "2",
                        "--seed",
                        "3",
                        "--out",
                        dir + "/walk.avi",
                        "--truth",
                        dir + "/walk.json"});
  INFO(r.output);
  REQUIRE(r.status == 0);
  const nlohmann::json truth =
      nlohmann::json::parse(siamese::testing::read_file(dir + "/walk.json"));
  std::set<std::string> identities;
  for (const auto& w : truth.at("walkers")) identities.insert(w.at("identity").get<std::string>());
  CHECK(identities ==
        std::set<std::string>{"Colin_Powell", "Tony_Blair", "stranger:George_W_Bush"});

  cv::VideoCapture video(dir + "/walk.avi", cv::CAP_OPENCV_MJPEG);
  REQUIRE(video.isOpened());
  cv::Mat frame, expected, diff;
  int faces_checked = 0;
  std::set<std::string> images_seen;
  for (const auto& f : truth.at("frames")) {
    REQUIRE(video.read(frame));
    for (const auto& face : f.at("faces")) {
      const cv::Rect box(face.at("x"), face.at("y"), face.at("width"), face.at("height"));
      const std::string image = face.at("image");
      const std::string identity = face.at("identity");
      const std::string person = identity.substr(identity.find(':') + 1);
      images_seen.insert(image);
      // LFW's naming, and only the photos asked for (never an enrolled one of a person).
      const std::string stem = fs::path(image).stem().string();
      REQUIRE(stem.rfind(person + "_000", 0) == 0);
      const int number = std::stoi(stem.substr(person.size() + 1));
      if (identity.rfind("stranger:", 0) == 0) {
        CHECK((number >= 1 && number <= 3));
      } else {
        CHECK((number >= 6 && number <= 8));
      }
      CHECK(std::abs(box.width - box.height) <= 1);  // a square photo's square middle
      // The pixels are the middle 0.6 of the colour photo (150x150 of 250x250), scaled.
      const cv::Mat photo = cv::imread(lfw + "/" + image, cv::IMREAD_COLOR);
      REQUIRE(photo.size() == cv::Size(250, 250));
      cv::resize(photo(cv::Rect(50, 50, 150, 150)), expected, box.size(), 0, 0, cv::INTER_LINEAR);
      cv::absdiff(frame(box), expected, diff);
      const cv::Scalar mean_diff = cv::mean(diff);
      CHECK(mean_diff[0] + mean_diff[1] + mean_diff[2] < 3 * 8.0);
      ++faces_checked;
    }
    // Colour survives: the blue and red channels of the faces differ (a grey face would not).
    if (!f.at("faces").empty() && faces_checked % 7 == 1) {
      const auto& face = f.at("faces")[0];
      const cv::Rect box(face.at("x"), face.at("y"), face.at("width"), face.at("height"));
      std::vector<cv::Mat> channels;
      cv::split(frame(box), channels);
      cv::absdiff(channels[0], channels[2], diff);
      CHECK(cv::mean(diff)[0] > 5.0);
    }
  }
  CHECK(faces_checked > 20);
  CHECK(images_seen.size() >= 6);

  // A photo number that LFW lacks is named; a crop outside (0, 1] is a usage error.
  r = run_program({bin, "--data", lfw, "--people", "Colin_Powell", "--images", "9999", "--out",
                   dir + "/x.avi", "--truth", dir + "/x.json"});
  CHECK(r.status == 1);
  CHECK(r.output.find("Colin_Powell/9999") != std::string::npos);
  r = run_program({bin, "--data", lfw, "--people", "Colin_Powell", "--centre-crop", "1.5", "--out",
                   dir + "/x.avi", "--truth", dir + "/x.json"});
  CHECK(r.status == 2);
  CHECK(r.output.find("--centre-crop") != std::string::npos);
}

namespace {

// A short AT&T walk (3 walkers, one at a time, 5 fps) under conditions ("" for none).
siamese::testing::RunResult render_conditions(const std::string& data, const std::string& dir,
                                              const std::string& conditions, int seed = 4) {
  fs::create_directories(dir);
  std::vector<std::string> args{program_path("siamese-render-walk"),
                                "--data",
                                data,
                                "--people",
                                "s1-s2",
                                "--images",
                                "6-7",
                                "--strangers",
                                "s21",
                                "--fps",
                                "5",
                                "--segment",
                                "1.6",
                                "--pairs",
                                "0",
                                "--seed",
                                std::to_string(seed),
                                "--out",
                                dir + "/walk.avi",
                                "--truth",
                                dir + "/walk.json"};
  if (!conditions.empty()) {
    args.push_back("--condition");
    args.push_back(conditions);
  }
  return run_program(args);
}

std::vector<cv::Mat> read_frames(const std::string& video_path) {
  cv::VideoCapture video(video_path, cv::CAP_OPENCV_MJPEG);
  std::vector<cv::Mat> frames;
  cv::Mat frame;
  while (video.read(frame)) frames.push_back(frame.clone());
  return frames;
}

struct ShownFace {
  int frame = 0;
  cv::Rect box;
  std::string image;
  nlohmann::json walker;  // the truth's walker entry
};

std::vector<ShownFace> shown_faces(const nlohmann::json& truth) {
  std::vector<ShownFace> out;
  for (const auto& f : truth.at("frames")) {
    for (const auto& face : f.at("faces")) {
      out.push_back({f.at("frame").get<int>(),
                     cv::Rect(face.at("x"), face.at("y"), face.at("width"), face.at("height")),
                     face.at("image").get<std::string>(),
                     truth.at("walkers").at(face.at("walker").get<size_t>())});
    }
  }
  return out;
}

double mean_gray(const cv::Mat& bgr) {
  cv::Mat gray;
  cv::cvtColor(bgr, gray, cv::COLOR_BGR2GRAY);
  return cv::mean(gray)[0];
}

}  // namespace

TEST_CASE("siamese-render-walk's conditions are deterministic and change the frames", "[samples]") {
  SIAMESE_REQUIRE_ATT(data);
  const std::string dir = siamese::testing::temp_dir("render_conditions");
  REQUIRE(render_conditions(data, dir + "/plain", "").status == 0);
  REQUIRE(render_conditions(data, dir + "/none", "none").status == 0);
  const nlohmann::json plain_truth =
      nlohmann::json::parse(siamese::testing::read_file(dir + "/plain/walk.json"));
  CHECK_FALSE(plain_truth.contains("conditions"));  // the plain walk's truth as it always was
  CHECK(siamese::testing::read_file(dir + "/none/walk.avi") ==
        siamese::testing::read_file(dir + "/plain/walk.avi"));
  CHECK(siamese::testing::read_file(dir + "/none/walk.json") ==
        siamese::testing::read_file(dir + "/plain/walk.json"));
  for (const std::string condition :
       {"rotate", "blur", "lowlight", "sidelight", "noise", "jpeg", "small", "occlusion"}) {
    INFO(condition);
    for (const char* run : {"a", "b"}) {
      const auto r = render_conditions(data, dir + "/" + condition + "-" + run, condition);
      INFO(r.output);
      REQUIRE(r.status == 0);
    }
    const std::string a = dir + "/" + condition + "-a/walk", b = dir + "/" + condition + "-b/walk";
    CHECK(siamese::testing::read_file(a + ".avi") == siamese::testing::read_file(b + ".avi"));
    CHECK(siamese::testing::read_file(a + ".json") == siamese::testing::read_file(b + ".json"));
    CHECK(siamese::testing::read_file(a + ".avi") !=
          siamese::testing::read_file(dir + "/plain/walk.avi"));
    const nlohmann::json truth = nlohmann::json::parse(siamese::testing::read_file(a + ".json"));
    CHECK(truth.at("conditions") == nlohmann::json::array({condition}));
    // The walk's script is the plain walk's (small alone changes the faces' sizes).
    CHECK(truth.at("frame_count") == plain_truth.at("frame_count"));
    if (condition != "small") CHECK(truth.at("frames") == plain_truth.at("frames"));
  }
  // Another seed: other angles, sides and occluders.
  REQUIRE(render_conditions(data, dir + "/all-5", "all", 5).status == 0);
  REQUIRE(render_conditions(data, dir + "/all-6", "all", 6).status == 0);
  const auto w5 =
      nlohmann::json::parse(siamese::testing::read_file(dir + "/all-5/walk.json")).at("walkers");
  const auto w6 =
      nlohmann::json::parse(siamese::testing::read_file(dir + "/all-6/walk.json")).at("walkers");
  CHECK(w5.at(0).at("angle") != w6.at(0).at("angle"));
}

TEST_CASE("siamese-render-walk's conditions do what its help says", "[samples]") {
  SIAMESE_REQUIRE_ATT(data);
  const std::string dir = siamese::testing::temp_dir("render_condition_effects");
  REQUIRE(render_conditions(data, dir + "/plain", "").status == 0);
  const nlohmann::json truth =
      nlohmann::json::parse(siamese::testing::read_file(dir + "/plain/walk.json"));
  const std::vector<cv::Mat> plain = read_frames(dir + "/plain/walk.avi");
  REQUIRE(plain.size() == truth.at("frame_count").get<size_t>());
  const std::vector<ShownFace> faces = shown_faces(truth);
  REQUIRE(faces.size() > 10);
  auto render = [&](const std::string& condition) {
    const auto r = render_conditions(data, dir + "/" + condition, condition);
    INFO(r.output);
    REQUIRE(r.status == 0);
    std::vector<cv::Mat> frames = read_frames(dir + "/" + condition + "/walk.avi");
    REQUIRE(frames.size() == plain.size());
    return frames;
  };

  SECTION("lowlight: a quarter of the light") {
    const auto frames = render("lowlight");
    for (size_t f = 0; f < frames.size(); f += 3) {
      const double ratio = mean_gray(frames[f]) / mean_gray(plain[f]);
      CHECK(ratio > 0.22);
      CHECK(ratio < 0.28);
    }
  }
  SECTION("blur: edges are softened") {
    const auto frames = render("blur");
    for (size_t f = 0; f < frames.size(); f += 3) {
      cv::Mat g0, g1, l0, l1;
      cv::cvtColor(plain[f], g0, cv::COLOR_BGR2GRAY);
      cv::cvtColor(frames[f], g1, cv::COLOR_BGR2GRAY);
      cv::Laplacian(g0, l0, CV_32F);
      cv::Laplacian(g1, l1, CV_32F);
      CHECK(cv::mean(cv::abs(l1))[0] < 0.4 * cv::mean(cv::abs(l0))[0]);
      CHECK(std::abs(cv::mean(g1)[0] - cv::mean(g0)[0]) < 2.0);  // light unchanged
    }
  }
  SECTION("noise: Gaussian, sigma 10, new on every frame") {
    const auto frames = render("noise");
    cv::Mat previous;
    for (size_t f = 0; f < frames.size(); f += 2) {
      cv::Mat d0, d1;
      frames[f].convertTo(d0, CV_32F);
      plain[f].convertTo(d1, CV_32F);
      const cv::Mat diff = d0 - d1;
      cv::Scalar mean, sd;
      cv::meanStdDev(diff.reshape(1), mean, sd);
      CHECK(std::abs(mean[0]) < 1.0);
      CHECK(sd[0] > 6.0);  // 10 before the encoder smooths some of it
      CHECK(sd[0] < 12.0);
      if (!previous.empty()) CHECK(cv::norm(previous, diff) > 0);
      previous = diff;
    }
  }
  SECTION("jpeg: coarse coding") {
    const auto frames = render("jpeg");
    CHECK(siamese::testing::read_file(dir + "/jpeg/walk.avi").size() <
          siamese::testing::read_file(dir + "/plain/walk.avi").size() / 3);
    for (size_t f = 0; f < frames.size(); f += 3) {
      cv::Mat diff;
      cv::absdiff(frames[f], plain[f], diff);
      CHECK(cv::mean(diff)[0] > 1.0);
      CHECK(cv::mean(diff)[0] < 12.0);
    }
  }
  SECTION("small: faces 40-60 px, still the photos") {
    const auto frames = render("small");
    const nlohmann::json small =
        nlohmann::json::parse(siamese::testing::read_file(dir + "/small/walk.json"));
    int checked = 0;
    for (const ShownFace& s : shown_faces(small)) {
      CHECK(s.box.height >= 40 * 0.95);
      CHECK(s.box.height <= 60 * 1.05);
      cv::Mat gray, expected, diff;
      cv::cvtColor(frames[static_cast<size_t>(s.frame)](s.box), gray, cv::COLOR_BGR2GRAY);
      cv::resize(cv::imread(data + "/" + s.image, cv::IMREAD_GRAYSCALE), expected, s.box.size(), 0,
                 0, cv::INTER_AREA);
      cv::absdiff(gray, expected, diff);
      CHECK(cv::mean(diff)[0] < 8.0);
      ++checked;
    }
    CHECK(checked > 10);
  }
  SECTION("rotate: each walker's photo turned by 5-25 degrees") {
    const auto frames = render("rotate");
    const nlohmann::json turned =
        nlohmann::json::parse(siamese::testing::read_file(dir + "/rotate/walk.json"));
    for (const auto& w : turned.at("walkers")) {
      const double angle = w.at("angle");
      CHECK(std::abs(angle) >= 5.0);
      CHECK(std::abs(angle) <= 25.0);
    }
    int checked = 0;
    for (const auto& f : turned.at("frames")) {
      for (const auto& face : f.at("faces")) {
        const cv::Rect box(face.at("x"), face.at("y"), face.at("width"), face.at("height"));
        const double angle = turned.at("walkers").at(face.at("walker").get<size_t>()).at("angle");
        const cv::Mat source =
            cv::imread(data + "/" + face.at("image").get<std::string>(), cv::IMREAD_GRAYSCALE);
        cv::Mat rotated, upright, as_turned, gray, d1, d2;
        const cv::Point2f centre((source.cols - 1) / 2.0F, (source.rows - 1) / 2.0F);
        cv::warpAffine(source, rotated, cv::getRotationMatrix2D(centre, angle, 1.0), source.size(),
                       cv::INTER_LINEAR, cv::BORDER_REFLECT_101);
        cv::resize(rotated, as_turned, box.size());
        cv::resize(source, upright, box.size());
        cv::cvtColor(frames[f.at("frame").get<size_t>()](box), gray, cv::COLOR_BGR2GRAY);
        cv::absdiff(gray, as_turned, d1);
        cv::absdiff(gray, upright, d2);
        CHECK(cv::mean(d1)[0] < 6.0);                  // the photo, turned by the truth's angle
        CHECK(cv::mean(d2)[0] > cv::mean(d1)[0] + 3);  // and not the upright photo
        ++checked;
      }
    }
    CHECK(checked > 10);
  }
  SECTION("sidelight: bright on the lit side, dark on the other") {
    const auto frames = render("sidelight");
    const nlohmann::json lit =
        nlohmann::json::parse(siamese::testing::read_file(dir + "/sidelight/walk.json"));
    std::set<std::string> sides;
    for (const ShownFace& s : shown_faces(lit)) {
      const std::string side = s.walker.at("light");
      sides.insert(side);
      const int third = s.box.width / 3;
      const cv::Rect left(s.box.x, s.box.y, third, s.box.height);
      const cv::Rect right(s.box.x + s.box.width - third, s.box.y, third, s.box.height);
      const cv::Mat& now = frames[static_cast<size_t>(s.frame)];
      const cv::Mat& before = plain[static_cast<size_t>(s.frame)];
      const double lit_gain = mean_gray(now(side == "left" ? left : right)) /
                              mean_gray(before(side == "left" ? left : right));
      const double dark_gain = mean_gray(now(side == "left" ? right : left)) /
                               mean_gray(before(side == "left" ? right : left));
      CHECK(lit_gain > 1.15);  // 1.6 at the edge, 1.38 at the third's middle, less where white
      CHECK(dark_gain < 0.6);  // 0.52 at the third's middle
      // Outside the face the light is as it was.
      const cv::Rect above(s.box.x, std::max(0, s.box.y - 12), s.box.width, 8);
      if (s.box.y >= 12) CHECK(std::abs(mean_gray(now(above)) - mean_gray(before(above))) < 3.0);
    }
    CHECK(sides.size() >= 1);
  }
  SECTION("occlusion: a dark bar across the eyes or a skin-toned hand") {
    const auto frames = render("occlusion");
    const nlohmann::json covered =
        nlohmann::json::parse(siamese::testing::read_file(dir + "/occlusion/walk.json"));
    int checked = 0;
    for (const ShownFace& s : shown_faces(covered)) {
      const auto& o = s.walker.at("occluder");
      const std::string kind = o.at("kind");
      REQUIRE((kind == "bar" || kind == "hand"));
      // The middle of the occluder (well inside its edges and the JPEG blocks around them).
      const double cx =
          s.box.x + (o.at("x").get<double>() + o.at("width").get<double>() / 2) * s.box.width;
      const double cy =
          s.box.y + (o.at("y").get<double>() + o.at("height").get<double>() / 2) * s.box.height;
      const int half_w =
          std::max(2, static_cast<int>(o.at("width").get<double>() * s.box.width / 5));
      const int half_h =
          std::max(2, static_cast<int>(o.at("height").get<double>() * s.box.height / 5));
      const cv::Rect middle(static_cast<int>(cx) - half_w, static_cast<int>(cy) - half_h,
                            2 * half_w, 2 * half_h);
      const cv::Scalar colour = cv::mean(frames[static_cast<size_t>(s.frame)](middle));
      const cv::Scalar expected =
          kind == "bar" ? cv::Scalar(35, 35, 38) : cv::Scalar(110, 145, 195);
      for (int k = 0; k < 3; ++k) CHECK(std::abs(colour[k] - expected[k]) < 8.0);
      ++checked;
    }
    CHECK(checked > 10);
  }
}

TEST_CASE("siamese-render-walk refuses unknown or conflicting conditions", "[samples]") {
  SIAMESE_REQUIRE_ATT(data);
  const std::string dir = siamese::testing::temp_dir("render_condition_errors");
  auto r = render_conditions(data, dir, "rotate,fog");
  CHECK(r.status == 2);
  CHECK(r.output.find("--condition") != std::string::npos);
  CHECK(r.output.find("fog") != std::string::npos);
  r = render_conditions(data, dir, "blur,blur");
  CHECK(r.status == 2);
  CHECK(r.output.find("twice") != std::string::npos);
  r = run_program({program_path("siamese-render-walk"), "--data", data, "--people", "s1",
                   "--condition", "small", "--min-face", "50", "--out", dir + "/x.avi", "--truth",
                   dir + "/x.json"});
  CHECK(r.status == 2);
  CHECK(r.output.find("--min-face") != std::string::npos);
}
