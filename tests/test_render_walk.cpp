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

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

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
  CHECK(slurp(dir + "/a/walk.avi") == slurp(dir + "/b/walk.avi"));
  CHECK(slurp(dir + "/a/walk.json") == slurp(dir + "/b/walk.json"));
  CHECK(slurp(dir + "/a/walk.json") != slurp(dir + "/c/walk.json"));
  CHECK(slurp(dir + "/a/walk.avi") != slurp(dir + "/c/walk.avi"));
}

TEST_CASE("siamese-render-walk's truth matches the pixels of its video", "[samples]") {
  SIAMESE_REQUIRE_ATT(data);
  const std::string dir = siamese::testing::temp_dir("render_truth");
  const auto r = run_program(render_args(data, dir, "walk", 11));
  INFO(r.output);
  REQUIRE(r.status == 0);
  const nlohmann::json truth = nlohmann::json::parse(slurp(dir + "/walk.json"));
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
  std::istringstream csv(slurp(dir + "/w.csv"));
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
  const nlohmann::json truth = nlohmann::json::parse(slurp(dir + "/walk.json"));
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
