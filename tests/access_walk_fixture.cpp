#include "access_walk_fixture.h"

#include <torch/script.h>

#include <sqlite3.h>

#include <catch2/catch.hpp>
#include <cmath>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <opencv2/imgproc.hpp>
#include <opencv2/videoio.hpp>
#include <sstream>

#include "samples_process.h"
#include "siamese/detector.h"
#include "siamese/embedder.h"
#include "siamese/gallery.h"
#include "siamese/image_io.h"
#include "siamese/model_file.h"
#include "test_support.h"

namespace siamese::testing {

// An untrained embedding that cannot be wrong about identical pixels: the face crop pooled to
// 16x16, mean removed, unit length; a TorchScript module with its facts, as a model trained in
// Python would come. (An untrained native network maps all faces so close together that the
// few grey levels by which two JPEG decoders differ blur identities.)
void save_pixel_model(const std::string& path) {
  torch::jit::Module module("PixelEmbedding");
  module.define(R"(
def forward(self, x):
    y = torch.adaptive_avg_pool2d(x, [16, 16]).flatten(1)
    y = y - y.mean(1, keepdim=True)
    return y / (y * y).sum(1, keepdim=True).sqrt().clamp(1e-12)
)");
  const nlohmann::json facts = {{"input",
                                 {{"channels", 1},
                                  {"height", 64},
                                  {"width", 64},
                                  {"scale", 1.0 / 255},
                                  {"mean", {0.5}},
                                  {"std", {0.5}}}},
                                {"embedding_size", 256},
                                {"normalized", true},
                                {"metric", "euclidean"},
                                {"threshold", 1.0},
                                {"origin", "test_access_control: pooled pixels"}};
  module.save(path, {{"siamese.json", facts.dump()}});
}

std::vector<std::vector<std::string>> query_rows(const std::string& path, const std::string& sql) {
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK);
  sqlite3_stmt* st = nullptr;
  const int prepared = sqlite3_prepare_v2(db, sql.c_str(), -1, &st, nullptr);
  if (prepared != SQLITE_OK) sqlite3_close(db);
  REQUIRE(prepared == SQLITE_OK);
  std::vector<std::vector<std::string>> rows;
  while (sqlite3_step(st) == SQLITE_ROW) {
    std::vector<std::string> row;
    for (int c = 0; c < sqlite3_column_count(st); ++c) {
      const unsigned char* text = sqlite3_column_text(st, c);
      row.emplace_back(text != nullptr ? reinterpret_cast<const char*>(text) : "");
    }
    rows.push_back(std::move(row));
  }
  sqlite3_finalize(st);
  sqlite3_close(db);
  return rows;
}

const AccessWalk& cached_access_walk(const std::string& data, const std::string& tag) {
  static std::map<std::string, AccessWalk> walks;
  auto it = walks.find(tag);
  if (it == walks.end()) it = walks.emplace(tag, make_access_walk(data, tag)).first;
  return it->second;
}

std::vector<std::string> access_control_args(const AccessWalk& w, const std::string& audit,
                                             const std::string& gallery,
                                             const std::string& deny_after) {
  return {program_path("siamese-access-control"),
          "--model",
          w.model,
          "--gallery",
          gallery.empty() ? w.gallery : gallery,
          "--source-file",
          w.video,
          "--audit-log",
          audit,
          "--threshold",
          number_text(w.threshold),
          "--deny-after",
          deny_after,
          "--device",
          "cpu",
          "--detect-interval",
          "1"};
}

std::string number_text(double x) {
  std::ostringstream s;
  s << x;
  return s.str();
}

// Renders the video, creates the model, enrolls the people from the crops the element will see.
AccessWalk make_access_walk(const std::string& data, const std::string& tag) {
  AccessWalk f;
  f.dir = siamese::testing::temp_dir(tag);
  f.video = f.dir + "/walk.avi";
  const std::string truth_path = f.dir + "/walk.json";
  const auto r = run_program({program_path("siamese-render-walk"),
                              "--data",
                              data,
                              "--people",
                              "s1-s3",
                              "--images",
                              "6-10",
                              "--strangers",
                              "s21-s22",
                              "--fps",
                              "10",
                              "--segment",
                              "3",
                              "--gap",
                              "0.6",
                              "--pairs",
                              "0.3",
                              "--seed",
                              "3",
                              "--out",
                              f.video,
                              "--truth",
                              truth_path});
  INFO(r.output);
  REQUIRE(r.status == 0);
  std::ifstream in(truth_path);
  const nlohmann::json truth = nlohmann::json::parse(in);
  const double fps = truth.at("fps");
  f.duration_s = truth.at("frame_count").get<int>() / fps;
  for (const auto& w : truth.at("walkers")) {
    f.walkers.push_back({w.at("label"), w.at("stranger"), w.at("first_frame").get<int>() / fps,
                         (w.at("last_frame").get<int>() + 1) / fps});
  }

  f.model = f.dir + "/model.pt";
  save_pixel_model(f.model);
  siamese::LoadedModel loaded = siamese::load_model(f.model);
  const siamese::ModelInfo model_info = loaded.info;
  siamese::Embedder embedder(std::move(loaded), torch::kCPU);
  siamese::FaceDetector detector{siamese::DetectorOptions{}};  // the element's defaults

  std::map<int, std::vector<siamese::EnrollmentSample>> by_walker;
  cv::VideoCapture video(f.video, cv::CAP_OPENCV_MJPEG);
  REQUIRE(video.isOpened());
  cv::Mat frame, gray;
  for (const auto& fr : truth.at("frames")) {
    REQUIRE(video.read(frame));
    cv::cvtColor(frame, gray, cv::COLOR_BGR2GRAY);  // the element reads the luma plane
    const siamese::ImageView view = siamese::view_of(gray);
    const std::vector<siamese::Box> boxes = detector.detect(view);
    if (boxes.empty()) continue;
    const torch::Tensor e = embedder.embed_faces(view, boxes, siamese::Framing::kDetectorBox);
    for (size_t i = 0; i < boxes.size(); ++i) {
      const double cx = boxes[i].x + boxes[i].width / 2.0, cy = boxes[i].y + boxes[i].height / 2.0;
      for (const auto& t : fr.at("faces")) {
        const int x = t.at("x"), y = t.at("y"), w = t.at("width"), h = t.at("height");
        if (cx < x || cx > x + w || cy < y || cy > y + h) continue;
        const torch::Tensor row = e[static_cast<int64_t>(i)].contiguous();
        by_walker[t.at("walker").get<int>()].push_back(
            {f.video + "#" + std::to_string(fr.at("frame").get<int>()),
             std::vector<float>(row.data_ptr<float>(), row.data_ptr<float>() + row.numel()),
             boxes[i], siamese::Framing::kDetectorBox});
      }
    }
  }
  // The threshold: half the distance from any person's crop to the nearest crop of anyone else.
  double nearest_other = 1e9;
  std::vector<siamese::IdentitySamples> identities;
  for (const auto& [walker, samples] : by_walker) {
    const AccessWalker& w = f.walkers.at(static_cast<size_t>(walker));
    if (w.stranger) continue;
    identities.emplace_back(w.identity, samples);
    for (const auto& [other, other_samples] : by_walker) {
      if (other == walker) continue;
      for (const auto& a : samples) {
        for (const auto& b : other_samples) {
          double d2 = 0;
          for (size_t k = 0; k < a.embedding.size(); ++k) {
            d2 += (a.embedding[k] - b.embedding[k]) * (a.embedding[k] - b.embedding[k]);
          }
          nearest_other = std::min(nearest_other, std::sqrt(d2));
        }
      }
    }
  }
  REQUIRE(identities.size() == kAccessWalkPeople.size());
  f.threshold = static_cast<float>(nearest_other / 2);
  REQUIRE(f.threshold > 0);
  f.gallery = f.dir + "/gallery.db";
  siamese::Gallery::open(f.gallery, model_info, true).enroll_batch(identities, false);
  return f;
}

}  // namespace siamese::testing
