// The LFW View 2 protocol of siamese-eval --pairs: the strict pairs.txt reader, each fold's
// threshold chosen on the other folds only, the standard error's formula, and the program on a
// tiny synthetic pairs file over synthetic images.
#include <torch/torch.h>

#include <catch2/catch.hpp>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <opencv2/imgcodecs.hpp>
#include <set>
#include <sstream>

#include "lfw_pairs.h"
#include "lfw_protocol.h"
#include "siamese/errors.h"
#include "siamese/metrics.h"
#include "siamese/model_file.h"
#include "test_model_fixtures.h"
#include "test_support.h"

namespace {

namespace fs = std::filesystem;
namespace st = siamese::training;

std::string write_file(const std::string& dir, const std::string& name, const std::string& text) {
  const std::string path = (fs::path(dir) / name).string();
  std::ofstream(path, std::ios::binary) << text;
  return path;
}

// The error text of read_lfw_pairs on text ("" when it reads).
std::string pairs_error(const std::string& text, std::string* path_out = nullptr) {
  static int counter = 0;
  const std::string dir = siamese::testing::temp_dir("lfw-pairs");
  const std::string path = write_file(dir, "pairs" + std::to_string(++counter) + ".txt", text);
  if (path_out) *path_out = path;
  try {
    st::read_lfw_pairs(path);
  } catch (const siamese::FileError& e) {
    CHECK(e.path() == path);
    return e.what();
  }
  return "";
}

// Two folds of one matched and one mismatched pair.
const char* kTwoFolds =
    "2\t1\n"
    "Ann\t1\t2\n"
    "Ann\t1\tBob\t1\n"
    "Cy\t2\t3\n"
    "Cy\t1\tDee\t4\n";

// The last line of output that parses as a JSON object.
nlohmann::json last_json(const std::string& output) {
  std::istringstream in(output);
  std::string line;
  nlohmann::json j;
  while (std::getline(in, line)) {
    if (!line.empty() && line[0] == '{') j = nlohmann::json::parse(line);
  }
  return j;
}

}  // namespace

TEST_CASE("read_lfw_pairs reads folds, matched and mismatched pairs and their lines",
          "[training]") {
  const std::string dir = siamese::testing::temp_dir("lfw-pairs-ok");
  const st::LfwPairs p = st::read_lfw_pairs(write_file(dir, "pairs.txt", kTwoFolds));
  REQUIRE(p.folds == 2);
  REQUIRE(p.pairs_per_class == 1);
  REQUIRE(p.pairs.size() == 4);
  CHECK(p.pairs[0].matched);
  CHECK(p.pairs[0].name1 == "Ann");
  CHECK(p.pairs[0].name2 == "Ann");
  CHECK(p.pairs[0].number2 == 2);
  CHECK(p.pairs[0].fold == 0);
  CHECK(p.pairs[0].line == 2);
  CHECK_FALSE(p.pairs[1].matched);
  CHECK(p.pairs[1].name2 == "Bob");
  CHECK(p.pairs[2].fold == 1);
  CHECK(p.pairs[3].number2 == 4);
  CHECK(p.pairs[3].line == 5);
  CHECK(st::lfw_people(p) == std::vector<std::string>{"Ann", "Bob", "Cy", "Dee"});
  CHECK(st::lfw_people(p, {1}) == std::vector<std::string>{"Cy", "Dee"});
  CHECK(st::lfw_image_path("/d", "Ann", 7) == "/d/Ann/Ann_0007.jpg");
  // CRLF line ends and blank lines at the end are accepted.
  std::string crlf = kTwoFolds;
  for (size_t i = crlf.find('\n'); i != std::string::npos; i = crlf.find('\n', i + 2)) {
    crlf.insert(i, "\r");
  }
  CHECK(st::read_lfw_pairs(write_file(dir, "crlf.txt", crlf + "\r\n\n")).pairs.size() == 4);
}

TEST_CASE("read_lfw_pairs refuses a malformed file naming the file and the line", "[training]") {
  std::string path;
  std::string e = pairs_error("", &path);
  CHECK(e.find(path) == 0);
  CHECK(e.find("empty") != std::string::npos);

  e = pairs_error("ten\t300\n", &path);
  CHECK(e.find(path + ": line 1: expected the header") == 0);
  CHECK(pairs_error("2\t1\textra\n").find("line 1:") != std::string::npos);
  CHECK(pairs_error("0\t1\n").find("line 1:") != std::string::npos);
  CHECK(pairs_error("101\t1\n").find("line 1:") != std::string::npos);

  // A mismatched line where a matched pair belongs, and the reverse.
  e = pairs_error("2\t1\nAnn\t1\tBob\t1\n", &path);
  CHECK(e.find(path + ": line 2: expected a matched pair") == 0);
  e = pairs_error("2\t1\nAnn\t1\t2\nAnn\t1\t2\n", &path);
  CHECK(e.find(path + ": line 3: expected a mismatched pair") == 0);

  // Numbers, names and pairs that cannot be.
  CHECK(pairs_error("2\t1\nAnn\t1\tx2\n").find("line 2: 'x2' is not an image number") !=
        std::string::npos);
  CHECK(pairs_error("2\t1\nAnn\t0\t2\n").find("line 2: '0' is not an image number") !=
        std::string::npos);
  CHECK(pairs_error("2\t1\nAnn\t1\t10000\n").find("line 2:") != std::string::npos);
  CHECK(pairs_error("2\t1\nAnn\t3\t3\n").find("line 2: a matched pair of one image") !=
        std::string::npos);
  CHECK(pairs_error("2\t1\nAnn\t1\t2\nBob\t1\tBob\t2\n").find("line 3: a mismatched pair names") !=
        std::string::npos);
  CHECK(pairs_error("2\t1\n../x\t1\t2\n").find("line 2: '../x' is not a person's folder") !=
        std::string::npos);
  CHECK(pairs_error("2\t1\n..\t1\t2\n").find("line 2:") != std::string::npos);
  CHECK(pairs_error(std::string("2\t1\nA\x01n\t1\t2\n")).find("line 2:") != std::string::npos);

  // Blank lines inside, too few pairs, too many.
  CHECK(pairs_error("2\t1\nAnn\t1\t2\n\nAnn\t1\tBob\t1\n").find("line 3: expected a mismatched") !=
        std::string::npos);
  e = pairs_error("2\t1\nAnn\t1\t2\nAnn\t1\tBob\t1\n", &path);
  CHECK(e.find(path + ": ends after line 3 with 2 pairs") == 0);
  CHECK(pairs_error(std::string(kTwoFolds) + "Eve\t1\t2\n").find("line 6: more pairs") !=
        std::string::npos);
  CHECK(pairs_error("2\t1\n" + std::string(5000, 'A') + "\t1\t2\n").find("line 2: longer than") !=
        std::string::npos);

  const std::string missing = siamese::testing::temp_dir("lfw-none") + "/pairs.txt";
  try {
    st::read_lfw_pairs(missing);
    FAIL("a missing pairs file was read");
  } catch (const siamese::FileError& err) {
    CHECK(err.path() == missing);
  }
}

TEST_CASE("each LFW fold is decided at the threshold chosen on the other folds only",
          "[training]") {
  // Folds 1..9: genuine at 0.1-0.4, impostors at 0.6-0.9: any threshold in (0.4, 0.6) is best.
  // Fold 0: genuine at 0.55, impostors at 1.0. Its own best threshold (~0.78) would decide it
  // all right; the other folds' threshold (0.5) rejects its genuine pairs: accuracy 0.5.
  siamese::PairScores s;
  std::vector<int> fold;
  auto add = [&](double d, bool genuine, int f) {
    s.distance.push_back(d);
    s.genuine.push_back(genuine);
    fold.push_back(f);
  };
  for (int k = 0; k < 4; ++k) {
    add(0.55, true, 0);
    add(1.0, false, 0);
  }
  for (int f = 1; f < 10; ++f) {
    for (int k = 0; k < 4; ++k) {
      add(0.1 + 0.1 * k, true, f);
      add(0.6 + 0.1 * k, false, f);
    }
  }
  const st::LfwFoldFigures r = st::cross_fold_accuracy(s, fold, 10);
  REQUIRE(r.folds.size() == 10);
  CHECK(r.folds[0].accuracy == Approx(0.5));
  CHECK(r.folds[0].threshold < 0.55);
  CHECK(r.folds[0].pairs == 8);
  // Folds 1..9 choose their threshold with fold 0 among the rest: (0.4, 0.55) stays best.
  for (int f = 1; f < 10; ++f) CHECK(r.folds[f].accuracy == Approx(1.0));
  CHECK(r.accuracy.mean == Approx(0.95));

  CHECK_THROWS_AS(st::cross_fold_accuracy(s, std::vector<int>(fold.size(), 0), 10),
                  siamese::InputError);  // fold 2 has no pairs
  std::vector<int> bad = fold;
  bad[0] = 10;
  CHECK_THROWS_AS(st::cross_fold_accuracy(s, bad, 10), siamese::InputError);
}

TEST_CASE("the standard error is the sample standard deviation over sqrt(n)", "[training]") {
  // Values 0.9, 0.8, 1.0, 0.9: mean 0.9; squares 0, 0.01, 0.01, 0 -> s = sqrt(0.02 / 3);
  // standard error s / 2.
  const siamese::MeanAndError m = siamese::mean_and_standard_error({0.9, 0.8, 1.0, 0.9});
  CHECK(m.mean == Approx(0.9));
  CHECK(m.standard_error == Approx(std::sqrt(0.02 / 3.0) / 2.0));
  CHECK(siamese::mean_and_standard_error({0.7}).standard_error == 0.0);
  CHECK_THROWS_AS(siamese::mean_and_standard_error({}), siamese::InputError);
}

TEST_CASE("the LFW centre box sits at the image centre", "[training]") {
  const siamese::Box b = st::lfw_centre_box(250, 250);
  CHECK(b.width == 118);
  CHECK(b.height == 118);
  CHECK(b.x + b.width / 2 == 125);
  CHECK(b.y + b.height / 2 == 125);
}

TEST_CASE("siamese-eval --pairs runs the View 2 protocol on a synthetic pairs file", "[training]") {
  // Ten folds of one matched and one mismatched pair; 20 people, two colour images each.
  const std::string root = siamese::testing::temp_dir("lfw-eval");
  const std::string data = (fs::path(root) / "lfw").string();
  std::set<std::string> images;
  auto image = [&](const std::string& name, int number, int seed) {
    const std::string path = st::lfw_image_path(data, name, number);
    if (!images.insert(path).second) return;
    fs::create_directories(fs::path(path).parent_path());
    const cv::Mat gray = siamese::testing::synthetic_gray(250, 250, seed);
    cv::Mat colour;
    cv::merge(std::vector<cv::Mat>{gray, 255 - gray, gray / 2}, colour);
    REQUIRE(cv::imwrite(path, colour));
  };
  std::ostringstream text;
  text << "10\t1\n";
  for (int f = 0; f < 10; ++f) {
    const std::string a = "Person_" + std::to_string(2 * f),
                      b = "Person_" + std::to_string(2 * f + 1);
    text << a << "\t1\t2\n" << a << "\t1\t" << b << "\t1\n";
    image(a, 1, 4 * f);
    image(a, 2, 4 * f + 1);
    image(b, 1, 4 * f + 2);
  }
  const std::string pairs = write_file(root, "pairs.txt", text.str());

  const std::string model = siamese::testing::save_untrained_model(
      (fs::path(root) / "model.pt").string(), siamese::testing::untrained_model_info(), /*seed=*/3);

  const std::string eval = std::string(SIAMESE_EVAL_BIN) + " --threads 1 --model " + model +
                           " --data " + data + " --pairs " + pairs;
  std::string out;
  REQUIRE(siamese::testing::run_shell(eval + " --json", &out) == 0);
  nlohmann::json j = last_json(out);
  REQUIRE(j.is_object());
  CHECK(j["pairs"] == 20);
  CHECK(j["genuine_pairs"] == 10);
  CHECK(j["images"] == 30);  // each distinct image once (Person_2f_0001 is in two pairs)
  CHECK(j["detect"] == false);
  REQUIRE(j["fold_accuracies"].size() == 10);
  std::vector<double> accuracies;
  for (const auto& a : j["fold_accuracies"]) accuracies.push_back(a.get<double>());
  const siamese::MeanAndError m = siamese::mean_and_standard_error(accuracies);
  CHECK(j["mean_accuracy"].get<double>() == Approx(m.mean));
  CHECK(j["standard_error"].get<double>() == Approx(m.standard_error));
  for (const char* key : {"auc", "eer", "tar_at_far_1e-2", "tar_at_far_1e-3", "accuracy"}) {
    CHECK(j[key].get<double>() >= 0.0);
    CHECK(j[key].get<double>() <= 1.0);
  }

  // --detect: no face in synthetic images, so every image takes the centre box, and says so.
  REQUIRE(siamese::testing::run_shell(eval + " --detect", &out) == 0);
  CHECK(out.find("no face found in 30 of 30 images: centre box") != std::string::npos);
  CHECK(out.find("accuracy") != std::string::npos);

  // A missing image is an error naming it and the pairs file's line, before any embedding.
  fs::remove(st::lfw_image_path(data, "Person_5", 1));
  CHECK(siamese::testing::run_shell(eval, &out) == 1);
  CHECK(out.find(st::lfw_image_path(data, "Person_5", 1) + ": missing (named by " + pairs +
                 " line 7)") != std::string::npos);
  // A malformed pairs file: the file and the line.
  const std::string bad = write_file(root, "bad.txt", "10\t1\nPerson_0\t1\n");
  CHECK(siamese::testing::run_shell(std::string(SIAMESE_EVAL_BIN) + " --model " + model +
                                        " --data " + data + " --pairs " + bad,
                                    &out) == 1);
  CHECK(out.find(bad + ": line 2: expected a matched pair") != std::string::npos);
  CHECK(siamese::testing::run_shell(eval + " --identities Person_0", &out) == 2);
}
